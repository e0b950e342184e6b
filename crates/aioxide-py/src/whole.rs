//! A body read whole into one bytes object sized in advance ([`Whole`]),
//! one body at a time in the process, and the queue of bodies that wait for
//! the next one ([`Waiter`]).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};

use bytes::Bytes;
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use tokio::io::ReadBuf;

/// The largest body read into one bytes object sized in advance.
pub(crate) const WHOLE_MAX: u64 = 1 << 30;

/// A bytes object of `n` bytes that nothing else holds (new, or one Python
/// dropped, kept by `recycle`), its content undefined, and its buffer: the
/// caller writes every byte before Python sees the object.
pub(crate) fn uninit_bytes(py: Python<'_>, n: usize) -> PyResult<(Bound<'_, PyBytes>, *mut u8)> {
    let len = pyo3::ffi::Py_ssize_t::try_from(n)
        .map_err(|_| pyo3::exceptions::PyMemoryError::new_err("body too large"))?;
    if let Some(out) = crate::recycle::reuse(py, n) {
        // SAFETY: its buffer, `n` bytes long.
        let dst = unsafe { pyo3::ffi::PyBytes_AsString(out.as_ptr()).cast::<u8>() };
        return Ok((out, dst));
    }
    // SAFETY: a new bytes object of `len` bytes, uninitialised (NULL
    // source), owned by `out` and held by nothing else.
    let out = unsafe {
        let p = pyo3::ffi::PyBytes_FromStringAndSize(std::ptr::null(), len);
        Bound::from_owned_ptr_or_err(py, p)?.cast_into_unchecked::<PyBytes>()
    };
    // SAFETY: the buffer of the bytes object made above, `n` bytes long.
    let dst = unsafe { pyo3::ffi::PyBytes_AsString(out.as_ptr()).cast::<u8>() };
    Ok((out, dst))
}

/// A bytes object sized from the body's known length, which the owner task
/// fills as the pieces arrive (on the engine's thread, without the GIL):
/// `read()` of a whole body then makes no copy of its own and holds no
/// second buffer (the pieces are dropped as they are copied in).
pub(crate) struct Whole {
    pub(crate) obj: Py<PyBytes>,
    ptr: *mut u8,
    pub(crate) len: usize,
    pub(crate) filled: usize,
    _one: OneAtATime,
}

/// Bodies being read into a [`Whole`] now, in the process: one at a time.
/// Several at once (16 reads of 1 MiB over TLS) cost 40-60% more CPU per
/// MiB: their pages, freed together, went back to the system and were
/// faulted in again on the engine's thread; the others take pieces, whose
/// buffers the engine's allocator keeps.  With `recycle` (no faults left)
/// no limit is still no better: the copies move onto the engine's thread,
/// the busiest.
static WHOLE_ACTIVE: AtomicUsize = AtomicUsize::new(0);

/// A claim on [`WHOLE_ACTIVE`], released when dropped.
struct OneAtATime;

impl OneAtATime {
    fn claim() -> Option<Self> {
        WHOLE_ACTIVE
            .compare_exchange(0, 1, Ordering::AcqRel, Ordering::Relaxed)
            .ok()
            .map(|_| OneAtATime)
    }
}

impl Drop for OneAtATime {
    fn drop(&mut self) {
        WHOLE_ACTIVE.store(0, Ordering::Release);
    }
}

// SAFETY: `ptr` is the buffer of `obj`, a bytes object made for this and
// held only here until it is filled: nothing else reads or writes it
// meanwhile, whichever thread writes.
unsafe impl Send for Whole {}

impl Whole {
    /// An unfilled bytes object of `len` bytes (`uninit_bytes`); None when
    /// another body is being read so, or it cannot be made.
    pub(crate) fn new(py: Python<'_>, len: usize) -> Option<Self> {
        let one = OneAtATime::claim()?;
        // Python sees it only once every byte is written (`fill`), or never.
        let (obj, ptr) = uninit_bytes(py, len).ok()?;
        Some(Whole {
            obj: obj.unbind(),
            ptr,
            len,
            filled: 0,
            _one: one,
        })
    }

    /// Copy `b` in after what is there; false (nothing copied) when it
    /// does not fit.
    pub(crate) fn fill(&mut self, b: &[u8]) -> bool {
        if b.len() > self.len - self.filled {
            return false;
        }
        // SAFETY: `filled + b.len() <= len`: inside the buffer; `b` is
        // another object's memory.
        unsafe { std::ptr::copy_nonoverlapping(b.as_ptr(), self.ptr.add(self.filled), b.len()) };
        self.filled += b.len();
        true
    }

    /// The part still to fill, for a reader that writes into it.
    pub(crate) fn spare(&mut self) -> ReadBuf<'_> {
        // SAFETY: the bytes past `filled` are inside the buffer and written
        // by nothing else; a `ReadBuf` never reads them before they are
        // written.
        let spare = unsafe {
            std::slice::from_raw_parts_mut(
                self.ptr
                    .add(self.filled)
                    .cast::<std::mem::MaybeUninit<u8>>(),
                self.len - self.filled,
            )
        };
        ReadBuf::uninit(spare)
    }

    /// What was filled, as a piece of its own (a copy): for a body that
    /// did not come as announced.
    pub(crate) fn filled_part(&self) -> Bytes {
        // SAFETY: the first `filled` bytes were written by `fill`.
        Bytes::copy_from_slice(unsafe { std::slice::from_raw_parts(self.ptr, self.filled) })
    }
}

/// A body read in pieces that would have been read whole but for another
/// body being read so: it waits for the next [`Whole`], handed on
/// ([`hand_on`]) when a body read whole is delivered, while it still
/// arrives.  Its owner then moves what it holds into it and reads the rest
/// into it too, on the engine's thread: the copy of a body that arrives
/// interleaved with others (HTTP/2 streams) is then not made on the loop's
/// thread at its end (`h2_dl`: the loop's thread 224 -> 121 µs per MiB).
pub(crate) struct Waiter {
    /// The body's length left when it began (the size of its `Whole`).
    len: usize,
    /// Whether its owner would still take one.
    open: AtomicBool,
    handed: Mutex<Option<Whole>>,
}

/// The bodies waiting for a [`Whole`], oldest first (the nearest to done).
static WAITERS: Mutex<Queue> = Mutex::new(Queue {
    q: VecDeque::new(),
    prune_at: WAITERS_PRUNE,
});

struct Queue {
    q: VecDeque<Weak<Waiter>>,
    /// At this length, those whose owner is gone are dropped (then twice
    /// the length left, at least `WAITERS_PRUNE`: linear time in all).
    prune_at: usize,
}

const WAITERS_PRUNE: usize = 64;

impl Waiter {
    /// Queue a body of `len` bytes; its owner holds the waiter (dropping it
    /// leaves the queue).
    pub(crate) fn enqueue(len: usize) -> Arc<Waiter> {
        let w = Arc::new(Waiter {
            len,
            open: AtomicBool::new(true),
            handed: Mutex::new(None),
        });
        let mut ws = WAITERS.lock().unwrap_or_else(|p| p.into_inner());
        if ws.q.len() >= ws.prune_at {
            ws.q.retain(|w| w.strong_count() > 0);
            ws.prune_at = (2 * ws.q.len()).max(WAITERS_PRUNE);
        }
        ws.q.push_back(Arc::downgrade(&w));
        w
    }

    /// Whether the owner would still take a `Whole` (it reads the whole
    /// rest, and nothing was taken yet).
    pub(crate) fn set_open(&self, open: bool) {
        self.open.store(open, Ordering::Relaxed);
    }

    /// The `Whole` handed on to this body, once.
    pub(crate) fn take(&self) -> Option<Whole> {
        self.handed.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

/// Hand the next `Whole`, when none is being filled, to the oldest waiting
/// body that would still take it.  Called on a loop's thread (the GIL makes
/// the bytes object) when a body is delivered.
pub(crate) fn hand_on(py: Python<'_>) {
    while WHOLE_ACTIVE.load(Ordering::Acquire) == 0 {
        let next = {
            let mut ws = WAITERS.lock().unwrap_or_else(|p| p.into_inner());
            match ws.q.pop_front() {
                Some(w) => w.upgrade(),
                None => return,
            }
        };
        let Some(next) = next.filter(|w| w.open.load(Ordering::Relaxed)) else {
            continue;
        };
        // (Never waits: after a fork, a parent's engine thread may have
        // held it; the `Whole` is dropped then.)
        if let (Some(w), Ok(mut h)) = (Whole::new(py, next.len), next.handed.try_lock()) {
            *h = Some(w);
            HANDED.fetch_add(1, Ordering::Relaxed);
        }
        return;
    }
}

/// `Whole`s handed on, and taken by their body: for tests.
static HANDED: AtomicU64 = AtomicU64::new(0);
static ADOPTED: AtomicU64 = AtomicU64::new(0);

/// A body took the `Whole` handed on to it.
pub(crate) fn note_adopted() {
    ADOPTED.fetch_add(1, Ordering::Relaxed);
}

/// (handed on, taken) since the process started.
pub(crate) fn counts() -> (u64, u64) {
    (
        HANDED.load(Ordering::Relaxed),
        ADOPTED.load(Ordering::Relaxed),
    )
}
