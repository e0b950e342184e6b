//! The asyncio <-> tokio bridge.
//!
//! Tokio tasks push finished results onto a queue and write an eventfd only
//! when the queue turns non-empty; the event loop watches the eventfd
//! (`loop.add_reader(fd, bridge.drain)`) and completes the whole batch of
//! asyncio futures in one callback.  Tokio threads never take the GIL: what a
//! task leaves is plain Rust data plus a function that turns it into Python
//! objects, run by `drain` on the loop's thread.

use std::collections::HashMap;
use std::future::Future;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, RwLock, Weak};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use aioxide::connect::direct::{self, Want};
use aioxide::connect::watch::Watcher;

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use tokio::sync::Notify;
use tokio::task::AbortHandle;

use crate::future::{Callback, EngineFuture};
use crate::runtime::RuntimeRef;

/// Turns a task's result into a Python value (or exception) under the GIL.
pub type Deliver = Box<dyn FnOnce(Python<'_>) -> PyResult<Py<PyAny>> + Send>;

type Job = (Pin<Box<dyn Future<Output = ()> + Send>>, Arc<AbortSlot>);

struct Shared {
    queue: Mutex<Vec<(u64, Deliver)>>,
    /// The eventfd the loop watches; closed (None) with the bridge, so that
    /// a closed bridge someone still holds keeps no descriptor.
    efd: RwLock<Option<OwnedFd>>,
    closed: AtomicBool,
    /// Work submitted from the loop thread, handed to the engine in batches:
    /// one wake-up of the engine thread per batch, not one per request.
    submit: Mutex<Vec<Job>>,
    notify: Notify,
    /// When the engine last had work (ns since process start), for spinning.
    last_activity: AtomicU64,
    /// Futures submitted and not yet completed on the loop's side.
    outstanding: AtomicUsize,
    /// Times the loop's side woke the engine for submitted work.
    wakeups: AtomicU64,
    /// Driven requests woken by the engine (a timer, a new connection's
    /// socket, a streamed body): polled again in the loop's next `drain`.
    repoll: Mutex<Vec<u64>>,
}

/// A request driven on the loop's thread ([`Bridge::request`]).
struct Driven {
    task: Pin<Box<dyn Future<Output = Deliver> + Send>>,
    /// Wakes it through the bridge (`Repoll`).
    waker: Waker,
    /// What it waits for now (in the bridge's [`Watcher`]).
    watch: Want,
    /// The loop's timer that polls it again (`direct::wake_at`), and when.
    timer: Option<(std::time::Instant, Py<PyAny>)>,
}

impl Driven {
    fn new(
        shared: &Arc<Shared>,
        id: u64,
        task: Pin<Box<dyn Future<Output = Deliver> + Send>>,
    ) -> Self {
        Driven {
            task,
            waker: Waker::from(Arc::new(Repoll {
                shared: Arc::downgrade(shared),
                id,
            })),
            watch: Want::NONE,
            timer: None,
        }
    }

    /// Cancel its timer, if any.
    fn cancel_timer(&mut self, py: Python<'_>) {
        if let Some((_, h)) = self.timer.take() {
            drop(h.bind(py).call_method0(pyo3::intern!(py, "cancel")));
        }
    }
}

/// The waker of a driven request: queues it to be polled again by `drain`.
struct Repoll {
    shared: Weak<Shared>,
    id: u64,
}

impl std::task::Wake for Repoll {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let Some(s) = self.shared.upgrade() else {
            return;
        };
        let first = {
            let mut q = s.repoll.lock().unwrap_or_else(|p| p.into_inner());
            q.push(self.id);
            q.len() == 1
        };
        if first {
            s.signal_loop();
        }
    }
}

/// Whether a lone request may be driven on the loop's thread
/// (`AIOXIDE_DRIVE=0` turns it off, to compare).
fn drive_enabled() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| std::env::var("AIOXIDE_DRIVE").map_or(true, |v| v != "0"))
}

/// Where a submitted job's abort handle lands once the engine spawned it.
#[derive(Default)]
struct AbortSlot {
    state: Mutex<(bool, Option<AbortHandle>)>,
}

impl AbortSlot {
    fn abort(&self) {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        st.0 = true;
        if let Some(h) = st.1.take() {
            h.abort();
        }
    }
}

/// How long the engine keeps polling (instead of sleeping) after activity:
/// a sequential caller's next request, or the peer's answer, usually comes
/// sooner than a sleeping thread can be woken.  `AIOXIDE_SPIN_US` overrides.
fn spin_window() -> Duration {
    static SPIN: OnceLock<Duration> = OnceLock::new();
    *SPIN.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        // On one core a spinning engine would only delay the loop's thread.
        let default = if cores >= 2 { DEFAULT_SPIN_US } else { 0 };
        let us = std::env::var("AIOXIDE_SPIN_US")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default);
        Duration::from_micros(us)
    })
}

/// Measured on 2 cores against nginx: sequential GETs went from about 6,300
/// to about 9,800 req/s (client CPU per request 110 -> 135 µs); no change with
/// 64 in flight, where the engine never runs out of work.
const DEFAULT_SPIN_US: u64 = 200;

/// How long the engine spins for the caller's next request once the last one
/// is answered (`AIOXIDE_IDLE_SPIN_US` overrides): long enough for a tight
/// loop of requests, short enough not to burn a core while Python works.
fn idle_spin_window() -> Duration {
    static SPIN: OnceLock<Duration> = OnceLock::new();
    *SPIN.get_or_init(|| {
        let default = if spin_window().is_zero() {
            0
        } else {
            DEFAULT_IDLE_SPIN_US
        };
        let us = std::env::var("AIOXIDE_IDLE_SPIN_US")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default);
        Duration::from_micros(us)
    })
}

const DEFAULT_IDLE_SPIN_US: u64 = 60;

fn now_ns() -> u64 {
    static BASE: OnceLock<Instant> = OnceLock::new();
    BASE.get_or_init(Instant::now).elapsed().as_nanos() as u64
}

/// The engine side of submission: spawn every job of each batch.
async fn dispatch(shared: Arc<Shared>) {
    let spin = spin_window().as_nanos() as u64;
    let idle_spin = idle_spin_window().as_nanos() as u64;
    loop {
        let mut ready = false;
        // Spinning pays off for a caller that waits on one request at a
        // time; with many outstanding the engine is woken once per batch.
        let outstanding = shared.outstanding.load(Ordering::Relaxed);
        // While the request is in flight, spin for its answer; once it is
        // answered, only briefly for the caller's next request (a caller
        // that spends longer in Python between requests pays a wake-up
        // instead of a spinning core).
        let window = if outstanding == 0 { idle_spin } else { spin };
        if window > 0 && outstanding <= 1 {
            // Yielding lets the scheduler poll the I/O driver without parking.
            while now_ns().saturating_sub(shared.last_activity.load(Ordering::Relaxed)) < window {
                if !shared
                    .submit
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .is_empty()
                {
                    ready = true;
                    break;
                }
                tokio::task::yield_now().await;
            }
        }
        if !ready {
            shared.notify.notified().await;
        }
        let jobs = std::mem::take(&mut *shared.submit.lock().unwrap_or_else(|p| p.into_inner()));
        if jobs.len() == 1 {
            shared.last_activity.store(now_ns(), Ordering::Relaxed);
        }
        for (job, slot) in jobs {
            let mut st = slot.state.lock().unwrap_or_else(|p| p.into_inner());
            if !st.0 {
                st.1 = Some(tokio::spawn(job).abort_handle());
            }
        }
        if shared.closed.load(Ordering::Acquire) {
            return;
        }
    }
}

impl Shared {
    /// Wake the engine's dispatcher for the submitted work.
    fn wake_engine(&self) {
        self.wakeups.fetch_add(1, Ordering::Relaxed);
        self.notify.notify_one();
    }

    fn push(&self, id: u64, d: Deliver) {
        if self.closed.load(Ordering::Acquire) {
            return;
        }
        if self.outstanding.load(Ordering::Relaxed) <= 2 {
            // Only the spin (one request at a time) needs to know.
            self.last_activity.store(now_ns(), Ordering::Relaxed);
        }
        let was_empty = {
            let mut q = self.queue.lock().unwrap_or_else(|p| p.into_inner());
            let e = q.is_empty();
            q.push((id, d));
            e
        };
        if was_empty {
            self.signal_loop();
        }
    }

    /// Make the loop's reader (`drain`) run.
    fn signal_loop(&self) {
        let one: u64 = 1;
        if let Some(efd) = &*self.efd() {
            // SAFETY: writing 8 bytes from a valid u64 to an eventfd we own
            // (open while the read lock is held).
            unsafe {
                libc::write(efd.as_raw_fd(), (&one as *const u64).cast(), 8);
            }
        }
    }

    fn efd(&self) -> std::sync::RwLockReadGuard<'_, Option<OwnedFd>> {
        self.efd.read().unwrap_or_else(|p| p.into_inner())
    }
}

/// Runs Python callables on the loop's thread, from engine tasks: the way
/// the engine calls user hooks (resolvers, socket factories).
#[derive(Clone)]
pub struct LoopHandle(Arc<Shared>);

/// Queue entries with this id are calls, not completions.
const CALL_ID: u64 = 0;

impl LoopHandle {
    /// Run `f` on the loop's thread with the GIL, soon; false when the
    /// loop's bridge is closed (then `f` is dropped, never run).
    pub fn call_soon(&self, f: Deliver) -> bool {
        if self.0.closed.load(Ordering::Acquire) {
            return false;
        }
        self.0.push(CALL_ID, f);
        true
    }
}

/// What a pending future waits for: it decides how the future fails when
/// the bridge closes under it (as aiohttp fails the same wait).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// A request or another engine call: ClientConnectionError("Connector is closed.").
    Call,
    /// A read from a stream the user holds: ClientConnectionError("Connection
    /// closed").  Its result is taken only if the future still waits: a
    /// cancelled reader leaves the data in the stream for the next read.
    Read,
}

struct Pending {
    fut: Py<PyAny>,
    abort: Arc<AbortSlot>,
    wait: Wait,
}

#[pyclass(frozen, module = "aioxide._aioxide")]
pub struct Bridge {
    shared: Arc<Shared>,
    pending: Mutex<HashMap<u64, Pending>>,
    next_id: AtomicU64,
    runtime: Mutex<Option<RuntimeRef>>,
    /// The process's fork count when this bridge was made: a bridge
    /// inherited through os.fork() has no engine thread behind it.
    forks: u64,
    /// A wake-up of the engine is put off to the loop's next `drain` (the
    /// loop's thread wrote the eventfd it watches).
    wake_due: AtomicBool,
    /// Calls (requests and other engine calls, not reads) submitted and not
    /// settled: a submission beside one of them is put off to the loop's next
    /// turn; a read left waiting (a stream's) does not count.
    calls: AtomicUsize,
    /// Requests driven on the loop's thread, by id.
    driven: Mutex<HashMap<u64, Driven>>,
    /// The sockets the driven requests wait on (its epoll the loop
    /// watches); closed with the bridge.
    watcher: Mutex<Option<Watcher>>,
    /// `weakref.ref(loop)`, once the loop's bridge gave it (`drive_on`):
    /// from then on a lone request may be driven on the loop's thread.
    loop_ref: OnceLock<Py<PyAny>>,
    /// The engine's runtime, entered while a driven request is polled;
    /// dropped when the bridge closes (a handle keeps the runtime's driver,
    /// its epoll and eventfd, open).
    handle: Mutex<Option<tokio::runtime::Handle>>,
    /// Lone requests are driven on the loop's thread (`Bridge.driving`).
    drive: AtomicBool,
    /// Set while one of the loop's own callbacks (`drain`, `poll_ready`,
    /// `ready`) completes futures: a request's future completed then is
    /// kept in `woken`, and its task woken when the callback is done with
    /// the batch ([`Bridge::in_callback`]).
    inline: AtomicBool,
    /// Request futures completed in this callback, with their waiters.
    woken: Mutex<Vec<(Py<EngineFuture>, Vec<Callback>)>>,
}

impl Bridge {
    fn pending(&self) -> MutexGuard<'_, HashMap<u64, Pending>> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn driven(&self) -> MutexGuard<'_, HashMap<u64, Driven>> {
        self.driven.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn runtime_handle(&self) -> Option<tokio::runtime::Handle> {
        self.handle
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn watcher(&self) -> MutexGuard<'_, Option<Watcher>> {
        self.watcher.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A handle for engine tasks to call back into Python on this loop.
    pub fn handle(&self) -> LoopHandle {
        LoopHandle(self.shared.clone())
    }

    /// Run `task` on the engine; its result completes `fut` through `drain`.
    pub fn spawn<F>(&self, fut: Py<PyAny>, task: F) -> PyResult<u64>
    where
        F: Future<Output = Deliver> + Send + 'static,
    {
        self.spawn_as(Wait::Call, fut, task)
    }

    /// Whether this bridge was inherited through os.fork().
    fn forked(&self) -> bool {
        self.forks != crate::runtime::fork_count()
    }

    /// Refuse work on a closed bridge or one inherited through os.fork().
    pub fn check(&self) -> PyResult<()> {
        if self.forked() {
            return Err(PyRuntimeError::new_err(
                "this session was created before os.fork(): create a new ClientSession in the child process",
            ));
        }
        if self.shared.closed.load(Ordering::Acquire) {
            return Err(PyRuntimeError::new_err("the event loop's bridge is closed"));
        }
        Ok(())
    }

    /// Run `task` on the engine for a future that waits as `wait` says.
    pub fn spawn_as<F>(&self, wait: Wait, fut: Py<PyAny>, task: F) -> PyResult<u64>
    where
        F: Future<Output = Deliver> + Send + 'static,
    {
        self.check()?;
        let (id, slot) = self.register(wait, fut);
        self.submit_task(id, slot, usize::from(wait == Wait::Call), task);
        Ok(id)
    }

    /// A new pending future: its id and abort slot.
    fn register(&self, wait: Wait, fut: Py<PyAny>) -> (u64, Arc<AbortSlot>) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let slot = Arc::new(AbortSlot::default());
        self.shared.outstanding.fetch_add(1, Ordering::Relaxed);
        self.calls
            .fetch_add(usize::from(wait == Wait::Call), Ordering::Relaxed);
        // The loop thread holds the GIL here, so drain cannot run before this.
        self.pending().insert(
            id,
            Pending {
                fut,
                abort: slot.clone(),
                wait,
            },
        );
        (id, slot)
    }

    /// Hand the task of pending future `id` to the engine.
    fn submit_task<F>(&self, id: u64, slot: Arc<AbortSlot>, own: usize, task: F)
    where
        F: Future<Output = Deliver> + Send + 'static,
    {
        let shared = self.shared.clone();
        let job = Box::pin(async move {
            let d = task.await;
            shared.push(id, d);
        });
        self.submit_job(job, slot, own);
    }

    /// Run a request.  With nothing else in flight it is driven on the
    /// loop's thread (when `drivable`: plain http, where its socket can
    /// leave the engine's reactor): written at once, and polled again when
    /// the loop sees its socket ready, so a sequential caller pays one
    /// wake-up per request (the loop's, for the answer), not three.  What it
    /// waits for elsewhere (a timer, a new connection, a streamed body)
    /// wakes it through `drain`.  Otherwise it runs on the engine.
    /// (`task` comes boxed: a request's future is a few KiB, moved once.)
    pub fn request(
        slf: &Bound<'_, Self>,
        fut: Py<PyAny>,
        drivable: bool,
        task: Pin<Box<dyn Future<Output = Deliver> + Send>>,
    ) -> PyResult<u64> {
        let this = slf.get();
        if !drivable || this.calls.load(Ordering::Relaxed) > 0 || !this.drives() {
            return this.spawn(fut, task);
        }
        this.check()?;
        let (id, _slot) = this.register(Wait::Call, fut);
        Self::start_driven(slf, id, task);
        Ok(id)
    }

    /// Whether this bridge drives work on the loop's thread.
    fn drives(&self) -> bool {
        self.drive.load(Ordering::Relaxed) && self.loop_ref.get().is_some()
    }

    /// Drive `task` as `id` from now on (its first poll is now).
    fn start_driven(
        slf: &Bound<'_, Self>,
        id: u64,
        task: Pin<Box<dyn Future<Output = Deliver> + Send>>,
    ) {
        let this = slf.get();
        let d = Driven::new(&this.shared, id, task);
        this.driven().insert(id, d);
        Self::drive(slf, id);
    }

    /// Drive `task` (a stream's owner task, no future waiting for it) on the
    /// loop's thread while driving is on, else hand it to the engine.
    pub fn drive_task<F>(slf: &Bound<'_, Self>, task: F) -> PyResult<()>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let this = slf.get();
        if !this.drives() {
            return this.submit(task);
        }
        this.check()?;
        let id = this.next_id.fetch_add(1, Ordering::Relaxed);
        let task = async move {
            task.await;
            Box::new(|py: Python<'_>| Ok(py.None())) as Deliver
        };
        Self::start_driven(slf, id, Box::pin(task));
        Ok(())
    }

    /// Poll driven request `id` once, on the loop's thread: complete its
    /// future when it is done, else watch what it waits for.
    fn drive(slf: &Bound<'_, Self>, id: u64) {
        let this = slf.get();
        if this.forked() {
            // The loop's selector and the sockets are shared with the parent.
            return;
        }
        let Some(mut d) = this.driven().remove(&id) else {
            return;
        };
        let (polled, handoff) = {
            let rt = this.runtime_handle();
            let _rt = rt.as_ref().map(|h| h.enter());
            let _driving = direct::driving();
            let mut cx = Context::from_waker(&d.waker);
            let p = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                d.task.as_mut().poll(&mut cx)
            }));
            let wake_at = direct::take_wake_at();
            ((p, direct::take_want()), (direct::take_handoff(), wake_at))
        };
        let (handoff, wake_at) = handoff;
        let py = slf.py();
        if d.timer.as_ref().map(|t| t.0) != wake_at {
            d.cancel_timer(py);
            if let Some(t) = wake_at {
                d.timer = Self::call_at(slf, id, t).map(|h| (t, h));
            }
        }
        match polled {
            (Ok(Poll::Pending), _) if handoff => Self::hand_off(slf, id, d),
            (Ok(Poll::Pending), want) => {
                if Self::watch(slf, id, &mut d.watch, want) {
                    this.driven().insert(id, d);
                } else {
                    // The loop cannot watch it: the engine takes it over.
                    Self::hand_off(slf, id, d);
                }
            }
            (Ok(Poll::Ready(deliver)), _) => {
                Self::watch(slf, id, &mut d.watch, Want::NONE);
                d.cancel_timer(py);
                this.finish(py, id, deliver);
            }
            (Err(_), _) => {
                Self::watch(slf, id, &mut d.watch, Want::NONE);
                d.cancel_timer(py);
                let e: Deliver = Box::new(|_py: Python<'_>| {
                    Err(PyRuntimeError::new_err(
                        "aioxide: the engine failed this request",
                    ))
                });
                this.finish(py, id, e);
            }
        }
    }

    /// A timer of the loop that polls driven request `id` at `t`.
    fn call_at(slf: &Bound<'_, Self>, id: u64, t: std::time::Instant) -> Option<Py<PyAny>> {
        let py = slf.py();
        let lp = slf.get().loop_ref.get()?.bind(py).call0().ok()?;
        let ready = slf.getattr(pyo3::intern!(py, "ready")).ok()?;
        let delay = t
            .saturating_duration_since(std::time::Instant::now())
            .as_secs_f64();
        lp.call_method1(pyo3::intern!(py, "call_later"), (delay, ready, id))
            .ok()
            .map(Bound::unbind)
    }

    /// Give driven request `id` to the engine, which polls it from where it
    /// stopped (its sockets go back to the reactor at their next poll).
    fn hand_off(slf: &Bound<'_, Self>, id: u64, mut d: Driven) {
        let this = slf.get();
        Self::watch(slf, id, &mut d.watch, Want::NONE);
        d.cancel_timer(slf.py());
        let slot = this.pending().get(&id).map(|p| p.abort.clone());
        match slot {
            Some(slot) => this.submit_task(id, slot, 1, d.task),
            // (A stream's owner task: no future waits for it.)
            None => this.submit_task(id, Arc::default(), 0, d.task),
        }
    }

    /// Make driven request `id` wait for `want` instead of `cur` (in the
    /// bridge's epoll, which the loop watches; armed again at every poll:
    /// its registrations fire once); false when it cannot be watched.
    fn watch(slf: &Bound<'_, Self>, id: u64, cur: &mut Want, want: Want) -> bool {
        let mut guard = slf.get().watcher();
        let Some(w) = guard.as_mut() else {
            // (The bridge is closed.)
            *cur = Want::NONE;
            return want.is_none();
        };
        if !cur.is_none() && cur.fd != want.fd {
            w.stop(id, cur.fd);
        }
        let ok = want.is_none() || w.wait(id, want);
        if !ok && !want.is_none() {
            w.stop(id, want.fd);
        }
        *cur = if ok { want } else { Want::NONE };
        ok
    }

    /// Stop driving request `id` (cancelled, or the bridge closes): the loop
    /// stops watching it and it is dropped (its connection closes).
    fn drop_driven(slf: &Bound<'_, Self>, id: u64) {
        let this = slf.get();
        let Some(mut d) = this.driven().remove(&id) else {
            return;
        };
        Self::watch(slf, id, &mut d.watch, Want::NONE);
        d.cancel_timer(slf.py());
        let rt = this.runtime_handle();
        let _rt = rt.as_ref().map(|h| h.enter());
        drop(d);
    }

    /// Start `task` on the engine with no future waiting for it (a stream's
    /// owner task); it goes with the next batch of submissions.
    pub fn submit<F>(&self, task: F) -> PyResult<()>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.check()?;
        self.submit_job(Box::pin(task), Arc::new(AbortSlot::default()), 0);
        Ok(())
    }

    /// Queue `job` for the engine.  The engine is woken when the queue turns
    /// non-empty: at once when no other call is outstanding (`own` is this
    /// job's share of `calls`), else in the loop's next iteration (`drain`),
    /// so that the tasks resumed together submit their next requests with
    /// one wake-up of the engine thread, not one each.
    fn submit_job(
        &self,
        job: Pin<Box<dyn Future<Output = ()> + Send>>,
        slot: Arc<AbortSlot>,
        own: usize,
    ) {
        let was_empty = {
            let mut q = self.shared.submit.lock().unwrap_or_else(|p| p.into_inner());
            let e = q.is_empty();
            q.push((job, slot));
            e
        };
        if !was_empty || self.wake_due.load(Ordering::Relaxed) {
            return;
        }
        if self.calls.load(Ordering::Relaxed) > own {
            self.wake_due.store(true, Ordering::Relaxed);
            self.shared.signal_loop();
        } else {
            self.shared.wake_engine();
        }
    }

    /// Wake the engine for what was submitted since a wake-up was put off.
    fn flush(&self) {
        if self.wake_due.swap(false, Ordering::Relaxed) {
            self.shared.wake_engine();
        }
    }

    /// Complete every finished future: the batch on the completion queue.
    fn complete_batch(&self, py: Python<'_>) {
        let batch =
            std::mem::take(&mut *self.shared.queue.lock().unwrap_or_else(|p| p.into_inner()));
        for (id, deliver) in batch {
            if id == CALL_ID {
                if let Err(e) = deliver(py) {
                    e.write_unraisable(py, None);
                }
                continue;
            }
            self.finish(py, id, deliver);
        }
    }

    /// Complete pending future `id` with what `deliver` makes.
    fn finish(&self, py: Python<'_>, id: u64, deliver: Deliver) {
        let Some(p) = self.pending().remove(&id) else {
            return;
        };
        self.settled(&p);
        let fut = p.fut.bind(py);
        if let Ok(ef) = fut.cast::<EngineFuture>() {
            let callbacks = EngineFuture::settle(ef, deliver(py));
            if self.inline.load(Ordering::Relaxed) {
                self.woken().push((ef.clone().unbind(), callbacks));
            } else {
                // A closed loop refuses: nothing else to do.
                drop(EngineFuture::schedule(ef, callbacks));
            }
            return;
        }
        if p.wait == Wait::Read && is_done(fut) {
            // Cancelled, not yet aborted: the data stays in the stream.
            return;
        }
        let r = match deliver(py) {
            Ok(v) => fut.call_method1(pyo3::intern!(py, "set_result"), (v,)),
            Err(e) => fut.call_method1(pyo3::intern!(py, "set_exception"), (e.into_value(py),)),
        };
        // A cancelled future refuses a result: nothing else to do.
        drop(r);
    }

    fn woken(&self) -> MutexGuard<'_, Vec<(Py<EngineFuture>, Vec<Callback>)>> {
        self.woken.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Run `f`, one of the loop's own callbacks completing futures, then
    /// wake the tasks of the request futures it completed, each in its
    /// context: every result of the batch is set before any task runs, as
    /// with `loop.call_soon`, without its cost (a `Handle` and four Python
    /// calls per future on the default loop) or the wait for the loop's
    /// next turn.  A future completed anywhere else (inside a task, by
    /// `close`) schedules its callbacks with `loop.call_soon`.
    fn in_callback<R>(&self, py: Python<'_>, f: impl FnOnce() -> R) -> R {
        self.inline.store(true, Ordering::Relaxed);
        let r = f();
        self.inline.store(false, Ordering::Relaxed);
        let woken = std::mem::take(&mut *self.woken());
        for (fut, callbacks) in woken {
            EngineFuture::run_callbacks(fut.bind(py), callbacks);
        }
        r
    }

    /// A pending future left the table (completed, aborted or failed).
    fn settled(&self, p: &Pending) {
        self.shared.outstanding.fetch_sub(1, Ordering::Relaxed);
        if p.wait == Wait::Call {
            self.calls.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Fail every pending future as aiohttp fails the same wait when its
    /// connector closes (the engine tasks behind them are aborted).
    fn fail_pending(&self, py: Python<'_>, abort: bool) {
        let drained: Vec<Pending> = self.pending().drain().map(|(_, p)| p).collect();
        for p in drained {
            self.settled(&p);
            if abort {
                p.abort.abort();
            }
            let fut = p.fut.bind(py);
            if is_done(fut) {
                continue;
            }
            let msg = match p.wait {
                Wait::Call => "Connector is closed.",
                Wait::Read => "Connection closed",
            };
            let exc = crate::errors::connection_error(py, msg).into_value(py);
            // A future of a closed loop refuses: nothing else to do.
            drop(fut.call_method1(pyo3::intern!(py, "set_exception"), (exc,)));
        }
    }
}

fn is_done(fut: &Bound<'_, PyAny>) -> bool {
    fut.call_method0(pyo3::intern!(fut.py(), "done"))
        .and_then(|d| d.is_truthy())
        .unwrap_or(true)
}

#[pymethods]
impl Bridge {
    #[new]
    fn new() -> PyResult<Self> {
        // SAFETY: plain syscall; the result is checked.
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error().into());
        }
        // SAFETY: fd is a fresh descriptor we own.
        let efd = unsafe { OwnedFd::from_raw_fd(fd) };
        let runtime = RuntimeRef::acquire()?;
        let forks = crate::runtime::fork_count();
        let shared = Arc::new(Shared {
            queue: Mutex::new(Vec::new()),
            efd: RwLock::new(Some(efd)),
            closed: AtomicBool::new(false),
            submit: Mutex::new(Vec::new()),
            notify: Notify::new(),
            last_activity: AtomicU64::new(0),
            outstanding: AtomicUsize::new(0),
            wakeups: AtomicU64::new(0),
            repoll: Mutex::new(Vec::new()),
        });
        runtime
            .spawn(dispatch(shared.clone()))
            .ok_or_else(|| PyRuntimeError::new_err("engine runtime unavailable"))?;
        Ok(Bridge {
            shared,
            pending: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            forks,
            wake_due: AtomicBool::new(false),
            calls: AtomicUsize::new(0),
            driven: Mutex::new(HashMap::new()),
            watcher: Mutex::new(Some(Watcher::new()?)),
            loop_ref: OnceLock::new(),
            handle: Mutex::new(runtime.handle()),
            drive: AtomicBool::new(drive_enabled()),
            inline: AtomicBool::new(false),
            woken: Mutex::new(Vec::new()),
            runtime: Mutex::new(Some(runtime)),
        })
    }

    /// From now on a lone request may be driven on the loop's thread;
    /// `loop_ref` is `weakref.ref(loop)` (the bridge must not keep its loop
    /// alive).
    fn drive_on(&self, loop_ref: Py<PyAny>) {
        drop(self.loop_ref.set(loop_ref));
    }

    /// Whether a lone request is driven on the loop's thread (on unless
    /// `AIOXIDE_DRIVE=0`; tests of the engine's path turn it off).
    #[getter]
    fn driving(&self) -> bool {
        self.drive.load(Ordering::Relaxed)
    }

    #[setter]
    fn set_driving(&self, on: bool) {
        self.drive.store(on, Ordering::Relaxed);
    }

    /// A driven request's timer is due (`call_at`): poll it.
    fn ready(slf: &Bound<'_, Self>, id: u64) {
        slf.get().in_callback(slf.py(), || Self::drive(slf, id));
    }

    /// The descriptor the loop watches for the driven requests' sockets
    /// (`add_reader(watch_fd, poll_ready)`).
    #[getter]
    fn watch_fd(&self) -> i32 {
        self.watcher().as_ref().map_or(-1, Watcher::fd)
    }

    /// A driven request's socket is ready (the loop's reader callback on
    /// `watch_fd`): poll those requests.
    fn poll_ready(slf: &Bound<'_, Self>) {
        let this = slf.get();
        if this.forked() {
            // The epoll is the parent's.
            return;
        }
        let ids = this.watcher().as_mut().map(Watcher::ready);
        this.in_callback(slf.py(), || {
            for id in ids.into_iter().flatten() {
                Self::drive(slf, id);
            }
        });
    }

    /// Requests being driven on the loop's thread.
    fn driven_count(&self) -> usize {
        self.driven().len()
    }

    /// The eventfd the event loop watches.
    #[getter]
    fn fd(&self) -> i32 {
        self.shared.efd().as_ref().map_or(-1, |fd| fd.as_raw_fd())
    }

    /// Complete every finished future (the loop's reader callback), and
    /// poll the driven requests the engine woke.
    fn drain(slf: &Bound<'_, Self>) -> PyResult<()> {
        let this = slf.get();
        let py = slf.py();
        if this.forked() {
            // The eventfd and the queue are the parent's.
            return Ok(());
        }
        let mut buf: u64 = 0;
        if let Some(efd) = &*this.shared.efd() {
            // SAFETY: reading 8 bytes into a valid u64 from our eventfd.
            unsafe {
                libc::read(efd.as_raw_fd(), (&mut buf as *mut u64).cast(), 8);
            }
        }
        this.flush();
        this.in_callback(py, || {
            this.complete_batch(py);
            let woken =
                std::mem::take(&mut *this.shared.repoll.lock().unwrap_or_else(|p| p.into_inner()));
            for id in woken {
                Self::drive(slf, id);
            }
        });
        Ok(())
    }

    /// Abort the engine task behind `id` (its asyncio future was cancelled).
    fn abort(slf: &Bound<'_, Self>, id: u64) {
        let this = slf.get();
        if let Some(p) = this.pending().remove(&id) {
            this.settled(&p);
            if !this.forked() {
                p.abort.abort();
                Self::drop_driven(slf, id);
            }
        }
    }

    /// A round trip through the engine that does nothing (measures the bridge).
    fn ping(&self, fut: Py<PyAny>) -> PyResult<u64> {
        self.spawn(fut, async {
            Box::new(|py: Python<'_>| Ok(py.None())) as Deliver
        })
    }

    /// Number of futures still waiting on the engine.
    fn pending_count(&self) -> usize {
        self.pending().len()
    }

    /// The count the engine's spin decision reads (futures not completed).
    fn outstanding(&self) -> usize {
        self.shared.outstanding.load(Ordering::Relaxed)
    }

    /// Jobs submitted and not yet taken by the engine.
    fn queued(&self) -> usize {
        self.shared
            .submit
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .len()
    }

    /// Times the engine was woken for submitted work (one per batch).
    fn wakeups(&self) -> u64 {
        self.shared.wakeups.load(Ordering::Relaxed)
    }

    /// Complete what the engine finished, fail every other pending future
    /// (as aiohttp fails it when the connector closes), abort the engine
    /// tasks and release the runtime (without waiting for its thread).
    fn close(slf: &Bound<'_, Self>) {
        let this = slf.get();
        let py = slf.py();
        let forked = this.forked();
        if !forked {
            // (After a fork these locks may have been held by the parent's
            // engine thread: the child touches only its own state.)
            this.complete_batch(py);
        }
        this.shared.closed.store(true, Ordering::Release);
        if !forked {
            this.shared.notify.notify_one();
            let ids: Vec<u64> = this.driven().keys().copied().collect();
            for id in ids {
                Self::drop_driven(slf, id);
            }
            drop(this.watcher().take());
            drop(this.handle.lock().unwrap_or_else(|p| p.into_inner()).take());
            drop(
                this.shared
                    .efd
                    .write()
                    .unwrap_or_else(|p| p.into_inner())
                    .take(),
            );
            crate::recycle::release();
        } else {
            // Dropping them would take the parent's sockets out of the
            // epoll it shares with this child.
            std::mem::forget(std::mem::take(&mut *this.driven()));
        }
        this.fail_pending(py, !forked);
        let rt = this
            .runtime
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(mut rt) = rt {
            py.detach(move || rt.release());
        }
    }

    #[getter]
    fn closed(&self) -> bool {
        self.shared.closed.load(Ordering::Acquire)
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        self.shared.closed.store(true, Ordering::Release);
        if self.forked() {
            // (Dropping them would touch the parent's sockets: see close.)
            std::mem::forget(std::mem::take(&mut *self.driven()));
            return;
        }
        self.shared.notify.notify_one();
        for (_, p) in self.pending().drain() {
            p.abort.abort();
        }
    }
}

/// A stream an engine task produces and the loop's thread consumes: the
/// bridge for long-lived streams (a response body; later a WebSocket).
///
/// The producer owns the stream (the connection) and pushes items while the
/// consumer's demand (`want`, in the items' own measure) is not met.  A read
/// is a bridge future whose engine task waits until something is ready and
/// whose delivery (on the loop's thread) takes it: a cancelled read takes
/// nothing, so cancelling a wait drops only the waiter, never the stream or
/// an item.  The stream ends when the producer finishes or the consumer
/// closes the feed (the producer then drops the stream).
pub struct Feed<T, E> {
    state: Mutex<FeedState<T, E>>,
    /// Wakes readers: an item, the end, or the close.
    ready: Notify,
    /// Wakes readers of the whole rest: the end, or the close.
    ended: Notify,
    /// Wakes the producer: room under `want`, or the close.
    demand: Notify,
}

pub struct FeedState<T, E> {
    pub items: std::collections::VecDeque<T>,
    /// The items' total measure (bytes of a body, messages of a socket).
    pub size: usize,
    /// The producer produces while `size < want`.
    pub want: usize,
    pub end: FeedEnd<E>,
    /// The consumer is gone: the producer stops and drops the stream.
    pub closed: bool,
}

/// How a feed ended.
pub enum FeedEnd<E> {
    Open,
    Done,
    /// The error, until a reader takes it.
    Failed(Option<E>),
}

impl<T, E> Feed<T, E> {
    pub fn new(want: usize) -> Self {
        Feed {
            state: Mutex::new(FeedState {
                items: std::collections::VecDeque::new(),
                size: 0,
                want,
                end: FeedEnd::Open,
                closed: false,
            }),
            ready: Notify::new(),
            ended: Notify::new(),
            demand: Notify::new(),
        }
    }

    pub fn lock(&self) -> MutexGuard<'_, FeedState<T, E>> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// An already finished feed holding `items`.
    pub fn finished(items: impl IntoIterator<Item = (T, usize)>) -> Self {
        let f = Feed::new(0);
        {
            let mut st = f.lock();
            for (item, n) in items {
                st.items.push_back(item);
                st.size += n;
            }
            st.end = FeedEnd::Done;
        }
        f
    }

    async fn wait_until(&self, notify: &Notify, cond: impl Fn(&FeedState<T, E>) -> bool) {
        loop {
            let notified = notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if cond(&self.lock()) {
                return;
            }
            notified.await;
        }
    }

    // -- the producer's side

    /// Wait for demand; the room left under `want`, or None once closed.
    pub async fn wait_demand(&self) -> Option<usize> {
        self.wait_until(&self.demand, |s| s.closed || s.size < s.want)
            .await;
        let st = self.lock();
        (!st.closed).then(|| st.want - st.size)
    }

    /// Wait until the consumer closes the feed.
    pub async fn wait_closed(&self) {
        self.wait_until(&self.demand, |s| s.closed).await;
    }

    /// Add an item; whether the consumer's demand is still not met.
    pub fn push(&self, item: T, size: usize) -> bool {
        let mut st = self.lock();
        st.items.push_back(item);
        st.size += size;
        let more = !st.closed && st.size < st.want;
        drop(st);
        self.ready.notify_waiters();
        more
    }

    /// Whether the consumer asks for everything (a read of the whole rest).
    pub fn wants_all(&self) -> bool {
        self.lock().want == usize::MAX
    }

    pub fn finish(&self, r: Result<(), E>) {
        self.lock().end = match r {
            Ok(()) => FeedEnd::Done,
            Err(e) => FeedEnd::Failed(Some(e)),
        };
        self.ready.notify_waiters();
        self.ended.notify_waiters();
    }

    // -- the consumer's side

    /// Ask for items up to `want` buffered.
    pub fn set_want(&self, want: usize) {
        let mut st = self.lock();
        let more = want > st.want;
        st.want = want;
        drop(st);
        if more {
            self.demand.notify_waiters();
        }
    }

    /// Wait until an item is there, or the end, or the close.
    pub async fn wait_ready(&self) {
        self.wait_until(&self.ready, |s| {
            !s.items.is_empty() || s.closed || !matches!(s.end, FeedEnd::Open)
        })
        .await;
    }

    /// Wait until the end (or the close).
    pub async fn wait_end(&self) {
        self.wait_until(&self.ended, |s| s.closed || !matches!(s.end, FeedEnd::Open))
            .await;
    }

    /// Items were taken: the producer may have room again.
    pub fn taken(&self) {
        self.demand.notify_waiters();
    }

    /// The consumer is gone: the producer stops, readers wake.
    pub fn close(&self) {
        let mut st = self.lock();
        st.closed = true;
        st.items.clear();
        st.size = 0;
        drop(st);
        self.demand.notify_waiters();
        self.ready.notify_waiters();
        self.ended.notify_waiters();
    }
}
