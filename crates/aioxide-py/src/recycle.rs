//! The bytes objects of large bodies, kept after they are handed out so that
//! once Python drops them (this holds the one reference left) the next body
//! of the same length is read into one of them: no `malloc` of its size and
//! no page faults.  glibc gives the heap top back to the system whenever two
//! freed large blocks meet it, so many bodies at once (HTTP/2 streams on
//! one connection) each faulted in their pages anew.
//!
//! One not read into again within [`UNUSED_FOR`] (5 s) is let go (a timer
//! on the loop that kept it), so that a program that stops downloading gives
//! the memory back, as it would with aiohttp.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use pyo3::prelude::*;
use pyo3::types::PyBytes;

/// Bodies from this size on are kept.
const MIN: usize = 64 * 1024;
/// At most this many bytes are kept in all (the oldest go first).
const TOTAL: usize = 32 << 20;
/// How long one is kept unused ([`set_unused_for`] changes it, for tests).
const UNUSED_FOR: Duration = Duration::from_secs(5);

struct Kept {
    /// Oldest first, with when each was kept.
    objs: VecDeque<(Py<PyBytes>, Instant)>,
    bytes: usize,
    unused_for: Duration,
    /// The timer that lets the old ones go, and when it is due.
    timer: Option<(Py<PyAny>, Instant)>,
    /// Added to the time read (tests move the clock with it).
    ahead: Duration,
}

/// Only touched with the GIL held, and never held past it (so a fork
/// cannot find it locked).
static KEPT: Mutex<Kept> = Mutex::new(Kept {
    objs: VecDeque::new(),
    bytes: 0,
    unused_for: UNUSED_FOR,
    timer: None,
    ahead: Duration::ZERO,
});

fn kept() -> std::sync::MutexGuard<'static, Kept> {
    KEPT.lock().unwrap_or_else(|p| p.into_inner())
}

/// Keep `obj`, a body's bytes just handed out, for a later body.
pub(crate) fn keep(obj: &Bound<'_, PyBytes>) {
    let n = obj.as_bytes().len();
    if !(MIN..=TOTAL / 4).contains(&n) {
        return;
    }
    let py = obj.py();
    let mut k = kept();
    let now = Instant::now() + k.ahead;
    k.objs.push_back((obj.clone().unbind(), now));
    k.bytes += n;
    let mut gone = Vec::new();
    while k.bytes > TOTAL {
        let Some((old, _)) = k.objs.pop_front() else {
            break;
        };
        k.bytes -= old.bind(py).as_bytes().len();
        gone.push(old);
    }
    // A timer that should have run by now did not (its loop stopped): one
    // on this loop takes over.
    let stale = k
        .timer
        .as_ref()
        .is_some_and(|(_, due)| now > *due + Duration::from_secs(1));
    if k.timer.is_none() || stale {
        let due = now + k.unused_for;
        drop(k);
        arm(py, due);
    }
    drop(gone);
}

/// Let go of the ones kept unused for long enough (the timer's call), and
/// set the timer again for the next one to go.
#[pyfunction]
pub(crate) fn let_go_unused(py: Python<'_>) {
    let mut k = kept();
    let now = Instant::now() + k.ahead;
    let unused_for = k.unused_for;
    let mut gone = Vec::new();
    while let Some((_, at)) = k.objs.front() {
        if now.duration_since(*at) < unused_for {
            break;
        }
        let (old, _) = k.objs.pop_front().expect("a front");
        k.bytes -= old.bind(py).as_bytes().len();
        gone.push(old);
    }
    let next = k.objs.front().map(|(_, at)| *at + unused_for);
    k.timer = None;
    drop(k);
    drop(gone);
    if let Some(due) = next {
        arm(py, due);
    }
}

/// A call of [`let_go_unused`] at `due`, on the running loop (none without
/// one: a session's close lets go of them all the same).
fn arm(py: Python<'_>, due: Instant) {
    let armed = (|| -> PyResult<Py<PyAny>> {
        let call = wrap_pyfunction!(let_go_unused, py)?;
        let now = Instant::now() + kept().ahead;
        let delay = due.saturating_duration_since(now).as_secs_f64();
        let running = py.import("asyncio")?.call_method0("get_running_loop")?;
        Ok(running.call_method1("call_later", (delay, call))?.unbind())
    })();
    if let Ok(handle) = armed {
        kept().timer = Some((handle, due));
    }
}

/// Move the clock the kept ones are aged by `seconds` ahead (tests).
#[pyfunction]
pub(crate) fn move_kept_clock(seconds: f64) -> PyResult<()> {
    let d = Duration::try_from_secs_f64(seconds)
        .map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))?;
    kept().ahead += d;
    Ok(())
}

/// How many bytes are kept now (tests).
#[pyfunction]
pub(crate) fn kept_bytes() -> usize {
    kept().bytes
}

/// Keep unused ones for `seconds` from now on (tests); the previous value.
#[pyfunction]
pub(crate) fn set_unused_for(seconds: f64) -> PyResult<f64> {
    let d = Duration::try_from_secs_f64(seconds)
        .map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))?;
    Ok(std::mem::replace(&mut kept().unused_for, d).as_secs_f64())
}

/// A kept bytes object of `n` bytes that Python no longer holds, to be
/// written anew: its cached hash is reset.
pub(crate) fn reuse(py: Python<'_>, n: usize) -> Option<Bound<'_, PyBytes>> {
    if n < MIN {
        return None;
    }
    let mut k = kept();
    let i = k
        .objs
        .iter()
        // SAFETY: a live object (held here), read with the GIL.
        .position(|(o, _)| unsafe { pyo3::ffi::Py_REFCNT(o.as_ptr()) } == 1 && o.bind(py).as_bytes().len() == n)?;
    let obj = k.objs.remove(i)?.0.into_bound(py);
    k.bytes -= n;
    drop(k);
    // SAFETY: a bytes object no one else holds (one reference, this one);
    // its cached hash (`ob_shash`, -1: not computed) is the field just
    // before its data in every CPython this builds for.
    unsafe {
        let data = pyo3::ffi::PyBytes_AsString(obj.as_ptr());
        *data.cast::<pyo3::ffi::Py_hash_t>().sub(1) = -1;
    }
    Some(obj)
}

/// Drop what is kept (a loop's bridge closing).  The timer is forgotten,
/// not cancelled: it may be another thread's loop's, and a timer's `cancel`
/// is its loop's thread's to call (it finds nothing to let go, if it runs).
pub(crate) fn release() {
    let mut k = kept();
    let objs = std::mem::take(&mut k.objs);
    k.bytes = 0;
    let timer = k.timer.take();
    drop(k);
    drop((objs, timer));
}
