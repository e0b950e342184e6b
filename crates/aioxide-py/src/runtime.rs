//! The one tokio runtime: one worker thread, shared by every event loop's
//! bridge, shut down when the last bridge closes, rebuilt after a fork.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::runtime::Runtime;
use tokio::task::JoinHandle;

struct State {
    rt: Arc<Runtime>,
    users: usize,
    pid: u32,
}

static STATE: Mutex<Option<State>> = Mutex::new(None);

fn lock() -> std::sync::MutexGuard<'static, Option<State>> {
    STATE.lock().unwrap_or_else(|p| p.into_inner())
}

/// A counted reference to the runtime; the last one dropped shuts it down.
pub struct RuntimeRef {
    rt: Option<Arc<Runtime>>,
    pid: u32,
}

impl RuntimeRef {
    pub fn acquire() -> std::io::Result<Self> {
        let pid = std::process::id();
        let mut st = lock();
        if let Some(s) = st.as_ref() {
            if s.pid != pid {
                // A forked child: the parent's worker threads do not exist
                // here; leak the runtime rather than join ghosts.
                if let Some(old) = st.take() {
                    std::mem::forget(old.rt);
                }
            }
        }
        if st.is_none() {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .max_blocking_threads(8)
                .thread_keep_alive(Duration::from_secs(5))
                .thread_name("aioxide-engine")
                .enable_all()
                .build()?;
            *st = Some(State { rt: Arc::new(rt), users: 0, pid });
        }
        let s = st.as_mut().ok_or_else(|| std::io::Error::other("runtime"))?;
        s.users += 1;
        Ok(RuntimeRef { rt: Some(s.rt.clone()), pid })
    }

    pub fn spawn<F>(&self, fut: F) -> Option<JoinHandle<F::Output>>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.rt.as_ref().map(|rt| rt.spawn(fut))
    }

    /// Give up this reference; the last one shuts the runtime down and
    /// waits (briefly) for its threads.  Call without holding the GIL.
    pub fn release(&mut self) {
        let Some(rt) = self.rt.take() else { return };
        let mut st = lock();
        let last = match st.as_mut() {
            Some(s) if s.pid == self.pid && Arc::ptr_eq(&s.rt, &rt) => {
                s.users = s.users.saturating_sub(1);
                s.users == 0
            }
            _ => false,
        };
        if last {
            if let Some(s) = st.take() {
                drop(st);
                drop(s.rt);
                if let Ok(owned) = Arc::try_unwrap(rt) {
                    owned.shutdown_timeout(Duration::from_secs(2));
                }
            }
        } else if self.pid != std::process::id() {
            std::mem::forget(rt);
        }
    }
}

impl Drop for RuntimeRef {
    fn drop(&mut self) {
        self.release();
    }
}
