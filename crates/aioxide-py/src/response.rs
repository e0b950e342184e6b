//! What a request gives back to Python: the response head, the response
//! (history and body), and the two ends of a streamed request body.

use std::sync::{Arc, Mutex};

use aioxide::body::request::{BodyAborted, BodyItem, BodyStream};
use aioxide::{ResponseBody, ResponseHead};
use bytes::Bytes;
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::types::{PyBytes, PyList, PyString, PyTuple};

use crate::bridge::{Bridge, Deliver};
use crate::{errors, header_pairs, title_case};

/// A response's status line, headers and the request that produced it.
#[pyclass(frozen, module = "aioxide._aioxide")]
pub struct Head {
    head: ResponseHead,
}

impl Head {
    pub fn from_engine(head: ResponseHead) -> Self {
        Head { head }
    }
}

#[pymethods]
impl Head {
    #[getter]
    fn status(&self) -> u16 {
        self.head.status
    }
    #[getter]
    fn reason(&self) -> &str {
        &self.head.reason
    }
    #[getter]
    fn version(&self) -> (u8, u8) {
        self.head.version
    }
    #[getter]
    fn url(&self) -> &str {
        &self.head.url
    }
    /// Headers as (name, value) pairs, names in Title-Case.
    fn headers<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let list = PyList::empty(py);
        for (k, v) in &self.head.headers {
            let value = String::from_utf8_lossy(v.as_bytes());
            list.append(PyTuple::new(
                py,
                [
                    PyString::new(py, &title_case(k.as_str())),
                    PyString::new(py, &value),
                ],
            )?)?;
        }
        Ok(list)
    }
    /// Headers as a tuple of (bytes, bytes) pairs.
    fn raw_headers<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        let items: Vec<Bound<'py, PyTuple>> = self
            .head
            .headers
            .iter()
            .map(|(k, v)| {
                PyTuple::new(
                    py,
                    [
                        PyBytes::new(py, title_case(k.as_str()).as_bytes()),
                        PyBytes::new(py, v.as_bytes()),
                    ],
                )
            })
            .collect::<PyResult<_>>()?;
        PyTuple::new(py, items)
    }
    #[getter]
    fn request_method(&self) -> &str {
        &self.head.request.method
    }
    #[getter]
    fn request_url(&self) -> &str {
        &self.head.request.url
    }
    fn request_headers(&self) -> Vec<(String, String)> {
        header_pairs(&self.head.request.headers)
    }
}

#[derive(Default)]
struct BodyState {
    body: Option<ResponseBody>,
    /// Everything was handed out.
    eof: bool,
    /// Bytes received from the wire by a body that is gone (read to its end).
    raw_done: u64,
}

/// The engine's response: head, history and the body still to read.
#[pyclass(frozen, module = "aioxide._aioxide")]
pub struct Response {
    #[pyo3(get)]
    head: Py<Head>,
    history: Vec<ResponseHead>,
    /// The whole body, when it was read before the response was handed back.
    #[pyo3(get)]
    body: Option<Py<PyBytes>>,
    state: Arc<Mutex<BodyState>>,
}

fn lock(s: &Mutex<BodyState>) -> std::sync::MutexGuard<'_, BodyState> {
    s.lock().unwrap_or_else(|p| p.into_inner())
}

fn closed_error(py: Python<'_>) -> PyErr {
    match py
        .import("aioxide.client_exceptions")
        .and_then(|m| m.getattr("ClientConnectionError"))
        .and_then(|c| c.call1(("Connection closed",)))
    {
        Ok(e) => PyErr::from_value(e),
        Err(e) => e,
    }
}

impl Response {
    /// Take the body for an operation; `Ok(None)` means already at EOF.
    fn take_body(&self, py: Python<'_>) -> PyResult<Option<ResponseBody>> {
        let mut st = lock(&self.state);
        if st.eof {
            return Ok(None);
        }
        match st.body.take() {
            Some(b) => Ok(Some(b)),
            None => Err(closed_error(py)),
        }
    }
}

fn ready_none(bridge: &Bridge, fut: Py<PyAny>) -> PyResult<u64> {
    bridge.spawn(fut, async {
        Box::new(|py: Python<'_>| Ok(py.None())) as Deliver
    })
}

#[pymethods]
impl Response {
    fn history<'py>(&self, py: Python<'py>) -> PyResult<Vec<Py<Head>>> {
        self.history
            .iter()
            .map(|h| Py::new(py, Head::from_engine(h.clone())))
            .collect()
    }

    /// Read the rest of the body; completes `fut` with bytes.
    fn read_all(&self, py: Python<'_>, bridge: &Bridge, fut: Py<PyAny>) -> PyResult<u64> {
        let Some(mut body) = self.take_body(py)? else {
            return bridge.spawn(fut, async {
                Box::new(|py: Python<'_>| Ok(PyBytes::new(py, b"").into_any().unbind())) as Deliver
            });
        };
        let state = self.state.clone();
        bridge.spawn(fut, async move {
            let r = body.read_to_end().await;
            let mut st = lock(&state);
            st.eof = r.is_ok();
            st.raw_done = body.raw_bytes();
            drop(body);
            drop(st);
            Box::new(move |py: Python<'_>| match r {
                Ok(b) => Ok(PyBytes::new(py, &b).into_any().unbind()),
                Err(e) => Err(errors::to_py(py, e)),
            }) as Deliver
        })
    }

    /// The next piece of the body, at most `max` bytes; None at EOF.
    fn chunk(&self, py: Python<'_>, bridge: &Bridge, fut: Py<PyAny>, max: usize) -> PyResult<u64> {
        let Some(mut body) = self.take_body(py)? else {
            return ready_none(bridge, fut);
        };
        let state = self.state.clone();
        bridge.spawn(fut, async move {
            let r = body.chunk(max).await;
            let mut st = lock(&state);
            match &r {
                Ok(Some(_)) => st.body = Some(body),
                Ok(None) => {
                    st.eof = true;
                    st.raw_done = body.raw_bytes();
                }
                Err(_) => {}
            }
            drop(st);
            Box::new(move |py: Python<'_>| match r {
                Ok(Some(b)) => Ok(PyBytes::new(py, &b).into_any().unbind()),
                Ok(None) => Ok(py.None()),
                Err(e) => Err(errors::to_py(py, e)),
            }) as Deliver
        })
    }

    /// Whether every byte of the body has been handed out.
    fn at_eof(&self) -> bool {
        lock(&self.state).eof
    }

    /// Bytes received from the wire so far.
    fn raw_bytes(&self) -> u64 {
        let st = lock(&self.state);
        st.body.as_ref().map_or(st.raw_done, |b| b.raw_bytes())
    }

    /// Stop reading: an unfinished connection is closed, not reused.
    fn close(&self) {
        let mut st = lock(&self.state);
        if let Some(mut b) = st.body.take() {
            b.close();
        }
        if !st.eof {
            st.eof = false;
        }
    }
}

pub(crate) fn to_response(py: Python<'_>, mut r: aioxide::Response) -> PyResult<Py<PyAny>> {
    let (body, state) = if r.body.is_complete() {
        let data = r.body.take_buffered();
        (
            Some(PyBytes::new(py, &data).unbind()),
            BodyState {
                body: None,
                eof: true,
                raw_done: r.body.raw_bytes(),
            },
        )
    } else {
        (
            None,
            BodyState {
                body: Some(r.body),
                eof: false,
                raw_done: 0,
            },
        )
    };
    let head = Py::new(py, Head::from_engine(r.head))?;
    Ok(Py::new(
        py,
        Response {
            head,
            history: r.history,
            body,
            state: Arc::new(Mutex::new(state)),
        },
    )?
    .into_any())
}

/// The feeding end of a streamed request body.
#[pyclass(frozen, module = "aioxide._aioxide")]
pub struct BodyWriter {
    tx: Mutex<Option<tokio::sync::mpsc::Sender<BodyItem>>>,
}

/// The end of a streamed request body that a request takes.
#[pyclass(frozen, module = "aioxide._aioxide")]
pub struct BodyReader {
    pub(crate) stream: Mutex<Option<BodyStream>>,
}

impl BodyReader {
    /// The stream, once (a request takes it).
    pub(crate) fn take_stream(&self) -> Option<BodyStream> {
        self.stream.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

/// A streamed request body: (writer, reader).  `capacity` chunks may wait
/// in between; `length` is sent as Content-Length when known.
#[pyfunction]
#[pyo3(signature = (capacity, length=None))]
pub(crate) fn body_channel(capacity: usize, length: Option<u64>) -> (BodyWriter, BodyReader) {
    let (tx, stream) = aioxide::body::request::body_channel(capacity, length);
    (
        BodyWriter {
            tx: Mutex::new(Some(tx)),
        },
        BodyReader {
            stream: Mutex::new(Some(stream)),
        },
    )
}

#[pymethods]
impl BodyWriter {
    /// Queue a chunk if there is room now; False when the caller must wait
    /// with `send`.  Raises ConnectionError once the request stopped reading.
    fn try_send(&self, data: PyBackedBytes) -> PyResult<bool> {
        let guard = self.tx.lock().unwrap_or_else(|p| p.into_inner());
        let Some(tx) = guard.as_ref() else {
            return Err(pyo3::exceptions::PyConnectionError::new_err(
                "request body closed",
            ));
        };
        match tx.try_send(Ok(Bytes::from_owner(data))) {
            Ok(()) => Ok(true),
            Err(tokio::sync::mpsc::error::TrySendError::Full(_)) => Ok(false),
            Err(tokio::sync::mpsc::error::TrySendError::Closed(_)) => {
                Err(pyo3::exceptions::PyConnectionError::new_err(
                    "the request no longer reads its body",
                ))
            }
        }
    }

    /// Queue a chunk, waiting for room; `fut` completes with True, or False
    /// when the request no longer reads its body.
    fn send(&self, bridge: &Bridge, fut: Py<PyAny>, data: PyBackedBytes) -> PyResult<u64> {
        let tx = self.tx.lock().unwrap_or_else(|p| p.into_inner()).clone();
        bridge.spawn(fut, async move {
            let ok = match tx {
                Some(tx) => tx.send(Ok(Bytes::from_owner(data))).await.is_ok(),
                None => false,
            };
            Box::new(move |py: Python<'_>| {
                Ok(pyo3::types::PyBool::new(py, ok)
                    .to_owned()
                    .into_any()
                    .unbind())
            }) as Deliver
        })
    }

    /// The body is complete.
    fn close(&self) {
        self.tx.lock().unwrap_or_else(|p| p.into_inner()).take();
    }

    /// The body failed: the request stops with an error.
    fn abort(&self, reason: String) {
        if let Some(tx) = self.tx.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = tx.try_send(Err(BodyAborted(reason)));
        }
    }
}
