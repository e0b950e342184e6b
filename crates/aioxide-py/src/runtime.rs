//! The one tokio runtime: a current-thread scheduler driven by one dedicated
//! thread, shared by every event loop's bridge, stopped when the last bridge
//! closes (without waiting for the thread: it exits on its own), rebuilt
//! after a fork.

use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

use tokio::runtime::Handle;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

struct State {
    handle: Handle,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    users: usize,
    pid: u32,
    generation: u64,
}

static STATE: Mutex<Option<State>> = Mutex::new(None);
static GENERATION: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
static FORKS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

extern "C" fn after_fork_in_child() {
    FORKS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
}

/// How many times this process is a fork's child (counted from the first
/// runtime): what a bridge compares to know it was inherited.
pub fn fork_count() -> u64 {
    static REGISTER: std::sync::Once = std::sync::Once::new();
    REGISTER.call_once(|| {
        // SAFETY: registers a handler that only touches an atomic.
        unsafe {
            libc::pthread_atfork(None, None, Some(after_fork_in_child));
        }
    });
    FORKS.load(std::sync::atomic::Ordering::Relaxed)
}

fn lock() -> std::sync::MutexGuard<'static, Option<State>> {
    STATE.lock().unwrap_or_else(|p| p.into_inner())
}

fn start(pid: u32) -> std::io::Result<State> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .max_blocking_threads(8)
        .thread_keep_alive(Duration::from_secs(5))
        .thread_name("aioxide-blocking")
        .enable_all()
        .build()?;
    let handle = rt.handle().clone();
    let (tx, rx) = oneshot::channel::<()>();
    let thread = std::thread::Builder::new()
        .name("aioxide-engine".into())
        .spawn(move || {
            rt.block_on(async move {
                let _ = rx.await;
            });
            rt.shutdown_timeout(Duration::from_secs(2));
        })?;
    let generation = GENERATION.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    Ok(State {
        handle,
        stop: Some(tx),
        thread: Some(thread),
        users: 0,
        pid,
        generation,
    })
}

/// The runtime's tasks alive right now; None when it is not running.
pub fn live_tasks() -> Option<usize> {
    let st = lock();
    let s = st.as_ref().filter(|s| s.pid == std::process::id())?;
    Some(s.handle.metrics().num_alive_tasks())
}

/// A counted reference to the runtime; the last one released stops it.
pub struct RuntimeRef {
    handle: Option<Handle>,
    pid: u32,
    generation: u64,
}

impl RuntimeRef {
    pub fn acquire() -> std::io::Result<Self> {
        fork_count();
        let pid = std::process::id();
        let mut st = lock();
        if st.as_ref().is_some_and(|s| s.pid != pid) {
            // A forked child: the parent's engine thread does not exist here.
            if let Some(old) = st.take() {
                std::mem::forget(old);
            }
        }
        if st.is_none() {
            *st = Some(start(pid)?);
        }
        let s = st
            .as_mut()
            .ok_or_else(|| std::io::Error::other("runtime"))?;
        s.users += 1;
        Ok(RuntimeRef {
            handle: Some(s.handle.clone()),
            pid,
            generation: s.generation,
        })
    }

    /// The runtime's handle (entered to poll engine futures elsewhere).
    pub fn handle(&self) -> Option<Handle> {
        self.handle.clone()
    }

    pub fn spawn<F>(&self, fut: F) -> Option<JoinHandle<F::Output>>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.handle.as_ref().map(|h| h.spawn(fut))
    }

    /// Give up this reference; the last one tells the engine thread to stop
    /// and returns at once (the thread drops the runtime's tasks, closing
    /// their connections, and exits; nothing joins it, so closing never
    /// blocks the loop).  Call without holding the GIL.
    pub fn release(&mut self) {
        if self.handle.take().is_none() {
            return;
        }
        let mut st = lock();
        let last = match st.as_mut() {
            Some(s) if s.pid == self.pid && s.generation == self.generation => {
                s.users = s.users.saturating_sub(1);
                s.users == 0
            }
            _ => false,
        };
        if last {
            if let Some(mut s) = st.take() {
                drop(st);
                if let Some(tx) = s.stop.take() {
                    let _ = tx.send(());
                }
                // Detached: the thread exits once the runtime is shut down.
                drop(s.thread.take());
            }
        }
    }
}

impl Drop for RuntimeRef {
    fn drop(&mut self) {
        self.release();
    }
}
