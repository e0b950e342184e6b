//! The future a request's coroutine awaits (`Session.request` returns it).
//!
//! It speaks asyncio's future protocol, the part `asyncio.Task` uses of a
//! future that is not its own (`_asyncio_future_blocking`, `get_loop`,
//! `add_done_callback`, `result`, `cancel`), and the bridge completes it on
//! the loop's thread. When the bridge completes it from one of the loop's
//! own callbacks (`drain`, a driven request's socket or timer), the waiting
//! task is woken in that callback, in its context, once every result of
//! the batch is set (`Bridge::in_callback`): an asyncio future would pay
//! `loop.call_soon` (four Python calls and a `Handle` on the default loop)
//! and a turn of the loop's queue for the same wake-up. Everywhere else
//! (`cancel`, `set_result`, inside a task) its callbacks go through
//! `loop.call_soon`, as an asyncio future's do.

use pyo3::exceptions::{PyException, PyStopIteration};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyDict;
use pyo3::{PyTraverseError, PyVisit};

enum State {
    Pending,
    Done(Py<PyAny>),
    Failed(Py<PyAny>),
    Cancelled(Option<Py<PyAny>>),
}

pub(crate) type Callback = (Py<PyAny>, Option<Py<PyAny>>);

#[pyclass(module = "aioxide._aioxide")]
pub struct EngineFuture {
    loop_: Py<PyAny>,
    state: State,
    callbacks: Vec<Callback>,
    /// What asyncio's Task reads and clears when the future is yielded.
    #[pyo3(get, set, name = "_asyncio_future_blocking")]
    blocking: bool,
    /// The bridge's id of the request behind it (`Bridge.abort(rid)`).
    #[pyo3(get)]
    rid: u64,
    /// `__next__` yielded it once: resumed while still pending, it fails
    /// as asyncio's does ("await wasn't used with future").
    yielded: bool,
}

fn asyncio_attr<'py>(
    py: Python<'py>,
    cell: &'static PyOnceLock<Py<PyAny>>,
    name: &str,
) -> PyResult<Bound<'py, PyAny>> {
    cell.get_or_try_init(py, || {
        py.import("asyncio")?.getattr(name).map(Bound::unbind)
    })
    .map(|c| c.bind(py).clone())
}

fn cancelled_error(py: Python<'_>, msg: Option<&Py<PyAny>>) -> PyErr {
    static CANCELLED: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    let made = asyncio_attr(py, &CANCELLED, "CancelledError").and_then(|c| match msg {
        Some(m) => c.call1((m,)),
        None => c.call0(),
    });
    match made {
        Ok(e) => PyErr::from_value(e),
        Err(e) => e,
    }
}

fn invalid_state(py: Python<'_>, msg: &str) -> PyErr {
    static INVALID: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    match asyncio_attr(py, &INVALID, "InvalidStateError").and_then(|c| c.call1((msg,))) {
        Ok(e) => PyErr::from_value(e),
        Err(e) => e,
    }
}

impl EngineFuture {
    /// A pending future of `loop_`'s.
    pub(crate) fn new(loop_: Py<PyAny>) -> Self {
        EngineFuture {
            loop_,
            state: State::Pending,
            callbacks: Vec::new(),
            blocking: false,
            rid: 0,
            yielded: false,
        }
    }

    pub(crate) fn set_rid(&mut self, rid: u64) {
        self.rid = rid;
    }

    fn is_pending(&self) -> bool {
        matches!(self.state, State::Pending)
    }

    /// Settle it with `outcome` (nothing if it is already done, as when it
    /// was cancelled): the callbacks waiting for it, to run or schedule.
    pub(crate) fn settle(fut: &Bound<'_, Self>, outcome: PyResult<Py<PyAny>>) -> Vec<Callback> {
        let py = fut.py();
        let Ok(mut f) = fut.try_borrow_mut() else {
            return Vec::new();
        };
        if !f.is_pending() {
            return Vec::new();
        }
        f.state = match outcome {
            Ok(v) => State::Done(v),
            Err(e) => State::Failed(e.into_value(py).into_any()),
        };
        std::mem::take(&mut f.callbacks)
    }

    /// Run each callback in its context now. One that raises is reported
    /// as the loop reports a failed callback; KeyboardInterrupt and
    /// SystemExit (a task re-raises them) are raised again from the loop's
    /// next turn, so the callbacks after it still run.
    pub(crate) fn run_callbacks(fut: &Bound<'_, Self>, callbacks: Vec<Callback>) {
        let py = fut.py();
        for (cb, ctx) in callbacks {
            let r = match &ctx {
                Some(c) => c
                    .bind(py)
                    .call_method1(pyo3::intern!(py, "run"), (&cb, fut)),
                None => cb.bind(py).call1((fut,)),
            };
            if let Err(e) = r {
                Self::report(fut, &cb, e);
            }
        }
    }

    fn report(fut: &Bound<'_, Self>, cb: &Py<PyAny>, e: PyErr) {
        let py = fut.py();
        let loop_ = fut.borrow().loop_.clone_ref(py);
        let lp = loop_.bind(py);
        if e.is_instance_of::<PyException>(py) {
            let ctx = PyDict::new(py);
            let reported = ctx
                .set_item("message", format!("Exception in callback {}", cb.bind(py)))
                .and_then(|()| ctx.set_item("exception", e.value(py)))
                .and_then(|()| ctx.set_item("future", fut))
                .and_then(|()| {
                    lp.call_method1(pyo3::intern!(py, "call_exception_handler"), (ctx,))
                });
            if let Err(e) = reported {
                e.write_unraisable(py, Some(fut.as_any()));
            }
            return;
        }
        let raised = wrap_pyfunction!(reraise, py)
            .and_then(|f| lp.call_method1(pyo3::intern!(py, "call_soon"), (f, e.value(py))));
        if let Err(e) = raised {
            e.write_unraisable(py, Some(fut.as_any()));
        }
    }

    /// Hand each callback to `loop.call_soon`, in its context (which fails
    /// when the loop is closed, as an asyncio future's scheduling does).
    pub(crate) fn schedule(fut: &Bound<'_, Self>, callbacks: Vec<Callback>) -> PyResult<()> {
        if callbacks.is_empty() {
            return Ok(());
        }
        let py = fut.py();
        let loop_ = fut.borrow().loop_.clone_ref(py);
        let call_soon = loop_.bind(py).getattr(pyo3::intern!(py, "call_soon"))?;
        for (cb, ctx) in callbacks {
            let kw = PyDict::new(py);
            kw.set_item(pyo3::intern!(py, "context"), ctx)?;
            call_soon.call((cb, fut), Some(&kw))?;
        }
        Ok(())
    }

    fn outcome(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        match &self.state {
            State::Pending => Err(invalid_state(py, "Result is not set.")),
            State::Done(v) => Ok(v.clone_ref(py)),
            State::Failed(e) => Err(PyErr::from_value(e.bind(py).clone())),
            State::Cancelled(msg) => Err(cancelled_error(py, msg.as_ref())),
        }
    }
}

/// Raise `e` (a KeyboardInterrupt or SystemExit a woken task raised),
/// from a callback of the loop, which lets it through.
#[pyfunction]
fn reraise(e: Bound<'_, PyAny>) -> PyResult<()> {
    Err(PyErr::from_value(e))
}

#[pymethods]
impl EngineFuture {
    /// As an asyncio future's, with the bridge's id of its request (what a
    /// task waiting on it shows as `wait_for=`).
    fn __repr__(&self) -> String {
        let state = match self.state {
            State::Pending => "pending",
            State::Cancelled(_) => "cancelled",
            State::Done(_) | State::Failed(_) => "finished",
        };
        format!("<EngineFuture {state} request={}>", self.rid)
    }

    fn get_loop(&self, py: Python<'_>) -> Py<PyAny> {
        self.loop_.clone_ref(py)
    }

    fn done(&self) -> bool {
        !self.is_pending()
    }

    fn cancelled(&self) -> bool {
        matches!(self.state, State::Cancelled(_))
    }

    fn result(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.outcome(py)
    }

    fn exception(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        match &self.state {
            State::Pending => Err(invalid_state(py, "Exception is not set.")),
            State::Done(_) => Ok(None),
            State::Failed(e) => Ok(Some(e.clone_ref(py))),
            State::Cancelled(msg) => Err(cancelled_error(py, msg.as_ref())),
        }
    }

    #[pyo3(signature = (fn_, *, context = None))]
    fn add_done_callback(
        slf: &Bound<'_, Self>,
        fn_: Py<PyAny>,
        context: Option<Py<PyAny>>,
    ) -> PyResult<()> {
        let mut f = slf.try_borrow_mut()?;
        if f.is_pending() {
            f.callbacks.push((fn_, context));
            return Ok(());
        }
        drop(f);
        Self::schedule(slf, vec![(fn_, context)])
    }

    fn remove_done_callback(&mut self, py: Python<'_>, fn_: Py<PyAny>) -> PyResult<usize> {
        let before = self.callbacks.len();
        let mut keep = Vec::with_capacity(before);
        for (cb, ctx) in std::mem::take(&mut self.callbacks) {
            if !cb.bind(py).eq(&fn_)? {
                keep.push((cb, ctx));
            }
        }
        self.callbacks = keep;
        Ok(before - self.callbacks.len())
    }

    #[pyo3(signature = (msg = None))]
    fn cancel(slf: &Bound<'_, Self>, msg: Option<Py<PyAny>>) -> PyResult<bool> {
        let callbacks = {
            let mut f = slf.try_borrow_mut()?;
            if !f.is_pending() {
                return Ok(false);
            }
            f.state = State::Cancelled(msg);
            std::mem::take(&mut f.callbacks)
        };
        Self::schedule(slf, callbacks)?;
        Ok(true)
    }

    fn set_result(slf: &Bound<'_, Self>, result: Py<PyAny>) -> PyResult<()> {
        if !slf.try_borrow()?.is_pending() {
            return Err(invalid_state(slf.py(), "invalid state"));
        }
        let callbacks = Self::settle(slf, Ok(result));
        Self::schedule(slf, callbacks)
    }

    fn set_exception(slf: &Bound<'_, Self>, exception: Bound<'_, PyAny>) -> PyResult<()> {
        if !slf.try_borrow()?.is_pending() {
            return Err(invalid_state(slf.py(), "invalid state"));
        }
        let e = if exception.is_instance_of::<pyo3::types::PyType>() {
            exception.call0()?
        } else {
            exception
        };
        let callbacks = Self::settle(slf, Err(PyErr::from_value(e)));
        Self::schedule(slf, callbacks)
    }

    fn __await__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __iter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    /// Pending: yield itself to the task (which waits for it); done: stop
    /// with its result, or raise its exception.
    fn __next__(slf: &Bound<'_, Self>) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        let mut f = slf.try_borrow_mut()?;
        if f.is_pending() {
            if f.yielded {
                return Err(pyo3::exceptions::PyRuntimeError::new_err(
                    "await wasn't used with future",
                ));
            }
            f.yielded = true;
            f.blocking = true;
            return Ok(slf.clone().into_any().unbind());
        }
        let v = f.outcome(py)?;
        Err(PyStopIteration::new_err((v,)))
    }

    /// What `coroutine.send(value)` calls on the future it awaits: as
    /// `__next__` (the value is not used, as asyncio's future ignores it).
    fn send(slf: &Bound<'_, Self>, value: Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        drop(value);
        Self::__next__(slf)
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(&self.loop_)?;
        match &self.state {
            State::Done(v) | State::Failed(v) | State::Cancelled(Some(v)) => visit.call(v)?,
            State::Pending | State::Cancelled(None) => {}
        }
        for (cb, ctx) in &self.callbacks {
            visit.call(cb)?;
            if let Some(c) = ctx {
                visit.call(c)?;
            }
        }
        Ok(())
    }

    fn __clear__(&mut self) {
        self.callbacks.clear();
        if !self.is_pending() {
            self.state = State::Cancelled(None);
        }
    }
}
