//! The bytes objects of large bodies, kept after they are handed out so that
//! once Python drops them (this holds the one reference left) the next body
//! of the same length is read into one of them: no `malloc` of its size and
//! no page faults.  glibc gives the heap top back to the system whenever two
//! freed large blocks meet it, so many bodies at once (HTTP/2 streams on
//! one connection) each faulted in their pages anew.

use std::collections::VecDeque;
use std::sync::Mutex;

use pyo3::prelude::*;
use pyo3::types::PyBytes;

/// Bodies from this size on are kept.
const MIN: usize = 64 * 1024;
/// At most this many bytes are kept in all (the oldest go first).
const TOTAL: usize = 32 << 20;

struct Kept {
    objs: VecDeque<Py<PyBytes>>,
    bytes: usize,
}

/// Only touched with the GIL held, and never held past it (so a fork
/// cannot find it locked).
static KEPT: Mutex<Kept> = Mutex::new(Kept {
    objs: VecDeque::new(),
    bytes: 0,
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
    let mut k = kept();
    k.objs.push_back(obj.clone().unbind());
    k.bytes += n;
    while k.bytes > TOTAL {
        let Some(old) = k.objs.pop_front() else { break };
        k.bytes -= old.bind(obj.py()).as_bytes().len();
    }
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
        .position(|o| unsafe { pyo3::ffi::Py_REFCNT(o.as_ptr()) } == 1 && o.bind(py).as_bytes().len() == n)?;
    let obj = k.objs.remove(i)?.into_bound(py);
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

/// Drop what is kept (a loop's bridge closing).
pub(crate) fn release() {
    let mut k = kept();
    let objs = std::mem::take(&mut k.objs);
    k.bytes = 0;
    drop(k);
    drop(objs);
}
