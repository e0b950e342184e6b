//! The one place an engine error becomes a Python exception, of the class
//! aiohttp raises for the same failure.

use aioxide::{Error, ErrorKind};
use pyo3::exceptions::{PyNotImplementedError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyList, PyTuple};

use crate::response::Head;

static EXC: PyOnceLock<Py<PyModule>> = PyOnceLock::new();
static REQREP: PyOnceLock<Py<PyModule>> = PyOnceLock::new();
static CONNECTOR: PyOnceLock<Py<PyModule>> = PyOnceLock::new();

fn module<'py>(
    py: Python<'py>,
    cell: &PyOnceLock<Py<PyModule>>,
    name: &str,
) -> PyResult<Bound<'py, PyModule>> {
    Ok(cell
        .get_or_try_init(py, || py.import(name).map(Bound::unbind))?
        .bind(py)
        .clone())
}

fn class<'py>(py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
    module(py, &EXC, "aioxide.client_exceptions")?.getattr(name)
}

fn connection_key<'py>(py: Python<'py>, e: &Error) -> PyResult<Bound<'py, PyAny>> {
    let key = module(py, &CONNECTOR, "aioxide.connector")?.getattr("ConnectionKey")?;
    key.call1((
        e.host.clone().unwrap_or_default(),
        e.port.unwrap_or(0),
        e.is_tls,
        // aiohttp's key holds the request's `ssl=`, True unless given, for
        // http too ("ssl:default" in the message).
        true,
        py.None(),
        py.None(),
        py.None(),
    ))
}

/// The socket.gaierror getaddrinfo's failure would have raised in Python.
fn gai_error<'py>(py: Python<'py>, e: &Error) -> PyResult<Bound<'py, PyAny>> {
    let code = e.errno.unwrap_or(libc::EAI_NONAME);
    // SAFETY: gai_strerror returns a static C string for any code.
    let text = unsafe { std::ffi::CStr::from_ptr(libc::gai_strerror(code)) }
        .to_string_lossy()
        .into_owned();
    py.import("socket")?
        .getattr("gaierror")?
        .call1((code, text))
}

/// The `ssl.SSLCertVerificationError` OpenSSL would have raised for the
/// certificate `e` reports: errno 1 (SSL_ERROR_SSL), OpenSSL's text, its
/// reason, library, verify code and message.
fn cert_verification_error<'py>(py: Python<'py>, e: &Error) -> PyResult<Bound<'py, PyAny>> {
    let (code, message) = match aioxide::connect::tls::cert_verify(e) {
        Some(v) => (v.code, v.message),
        None => (1, e.message.clone()),
    };
    let text = format!("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: {message}");
    let err = py
        .import("ssl")?
        .getattr("SSLCertVerificationError")?
        .call1((1, text))?;
    err.setattr("reason", "CERTIFICATE_VERIFY_FAILED")?;
    err.setattr("library", "SSL")?;
    err.setattr("verify_code", code)?;
    err.setattr("verify_message", message)?;
    Ok(err)
}

/// The URL of an URL error: a yarl.URL when yarl can read it, as aiohttp.
fn url_value<'py>(py: Python<'py>, e: &Error) -> PyResult<Bound<'py, PyAny>> {
    let raw = e.url.as_deref().unwrap_or_default().to_owned();
    match py
        .import("yarl")
        .and_then(|y| y.getattr("URL"))
        .and_then(|u| u.call1((raw.clone(),)))
    {
        Ok(u) => Ok(u),
        Err(_) => Ok(pyo3::types::PyString::new(py, &raw).into_any()),
    }
}

fn os_error<'py>(py: Python<'py>, e: &Error) -> PyResult<Bound<'py, PyAny>> {
    let oserror = py.get_type::<pyo3::exceptions::PyOSError>();
    match e.errno {
        Some(n) => {
            let text = std::io::Error::from_raw_os_error(n).to_string();
            let text = text.split(" (os error").next().unwrap_or(&text).to_owned();
            oserror.call1((n, text))
        }
        // (errno None, the message as strerror: what aiohttp's message shows.)
        None => oserror.call1((py.None(), e.message.clone())),
    }
}

/// aiohttp's `RequestInfo` for the request an error happened on.
pub fn request_info<'py>(py: Python<'py>, e: &Error) -> PyResult<Bound<'py, PyAny>> {
    let reqrep = module(py, &REQREP, "aioxide.client_reqrep")?;
    match &e.request {
        Some(r) => reqrep.getattr("_request_info")?.call1((
            r.method.clone(),
            r.url.clone(),
            r.headers.text_pairs(),
        )),
        None => reqrep.getattr("_request_info")?.call1((
            "GET",
            e.url.as_deref().unwrap_or_default().to_owned(),
            Vec::<(String, String)>::new(),
        )),
    }
}

fn history<'py>(py: Python<'py>, e: &Error) -> PyResult<Bound<'py, PyTuple>> {
    let heads = PyList::empty(py);
    for h in e.history::<aioxide::ResponseHead>() {
        heads.append(Py::new(py, Head::from_engine(h.clone()))?)?;
    }
    let reqrep = module(py, &REQREP, "aioxide.client_reqrep")?;
    let t = reqrep.getattr("_history_from_heads")?.call1((heads,))?;
    Ok(t.cast_into::<PyTuple>()?)
}

/// `ClientConnectionError(msg)`: how aiohttp fails a wait whose connection
/// or connector closed under it.
pub fn connection_error(py: Python<'_>, msg: &str) -> PyErr {
    match class(py, "ClientConnectionError").and_then(|c| c.call1((msg,))) {
        Ok(e) => PyErr::from_value(e),
        Err(e) => e,
    }
}

/// `ClientConnectionResetError(msg)`: a write to a connection that is
/// closing or was reset.
pub fn connection_reset(py: Python<'_>, msg: &str) -> PyErr {
    match class(py, "ClientConnectionResetError").and_then(|c| c.call1((msg,))) {
        Ok(e) => PyErr::from_value(e),
        Err(e) => e,
    }
}

/// The total timeout: `asyncio.TimeoutError`, as aiohttp's timer raises it.
/// On Python 3.11+ that is the builtin TimeoutError; on 3.9 and 3.10 it is
/// a class of its own, which `except asyncio.TimeoutError` needs.
fn total_timeout(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    static ASYNCIO_TIMEOUT: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    ASYNCIO_TIMEOUT
        .get_or_try_init(py, || {
            py.import("asyncio")?
                .getattr("TimeoutError")
                .map(Bound::unbind)
        })?
        .bind(py)
        .call0()
}

/// aiohttp's ClientHttpProxyError for a proxy's answer to CONNECT.
fn proxy_status<'py>(py: Python<'py>, e: &Error) -> PyResult<Bound<'py, PyAny>> {
    let kwargs = pyo3::types::PyDict::new(py);
    if let Some(reply) = e.proxy_reply() {
        let pairs: Vec<(String, String)> = reply
            .headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let multidict = py.import("multidict")?;
        let headers = multidict
            .getattr("CIMultiDictProxy")?
            .call1((multidict.getattr("CIMultiDict")?.call1((pairs,))?,))?;
        kwargs.set_item("status", reply.status)?;
        kwargs.set_item("message", reply.reason.clone())?;
        kwargs.set_item("headers", headers)?;
    }
    class(py, "ClientHttpProxyError")?.call((request_info(py, e)?, history(py, e)?), Some(&kwargs))
}

/// aiohttp's `WebSocketError(code, message)` (a protocol error of the peer).
pub fn websocket_error(py: Python<'_>, code: u16, message: &str) -> PyErr {
    let made = py
        .import("aioxide.http")
        .and_then(|m| m.getattr("WebSocketError"))
        .and_then(|c| c.call1((code, message)));
    match made {
        Ok(e) => PyErr::from_value(e),
        Err(e) => e,
    }
}

/// Build the Python exception for `e`.
/// The exception a user's hook (resolver, socket factory) raised, when
/// that is what failed the request: raised again as it is.
fn hook_raised(py: Python<'_>, e: &Error) -> Option<PyErr> {
    use crate::hooks::HookRaised;
    let mut cur = std::error::Error::source(e);
    while let Some(c) = cur {
        let inner = c
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .map(|i| i as &(dyn std::error::Error + 'static));
        for candidate in [Some(c), inner].into_iter().flatten() {
            if let Some(h) = candidate.downcast_ref::<HookRaised>() {
                return Some(h.0.clone_ref(py));
            }
        }
        cur = c.source();
    }
    None
}

pub fn to_py(py: Python<'_>, e: Error) -> PyErr {
    match build(py, &e) {
        Ok(err) => err,
        Err(inner) => inner,
    }
}

fn build(py: Python<'_>, e: &Error) -> PyResult<PyErr> {
    if let Some(raised) = hook_raised(py, e) {
        return Ok(raised);
    }
    let msg = e.message.clone();
    let exc = match e.kind {
        ErrorKind::InvalidArgument => return Ok(PyValueError::new_err(msg)),
        ErrorKind::Closed => return Ok(PyRuntimeError::new_err(msg)),
        ErrorKind::ConnectorClosed => return Ok(connection_error(py, &msg)),
        ErrorKind::Unsupported => return Ok(PyNotImplementedError::new_err(msg)),
        ErrorKind::TotalTimeout => total_timeout(py)?,
        ErrorKind::InvalidUrl => class(py, "InvalidUrlClientError")?.call1((url_value(py, e)?,))?,
        ErrorKind::NonHttpUrl => class(py, "NonHttpUrlClientError")?.call1((url_value(py, e)?,))?,
        ErrorKind::InvalidRedirectUrl => {
            class(py, "InvalidUrlRedirectClientError")?.call1((url_value(py, e)?, msg))?
        }
        ErrorKind::NonHttpRedirectUrl => {
            class(py, "NonHttpUrlRedirectClientError")?.call1((url_value(py, e)?,))?
        }
        ErrorKind::Dns => class(py, "ClientConnectorDNSError")?
            .call1((connection_key(py, e)?, gai_error(py, e)?))?,
        ErrorKind::Connect => {
            class(py, "ClientConnectorError")?.call1((connection_key(py, e)?, os_error(py, e)?))?
        }
        ErrorKind::Tls => {
            let ssl_err = py.import("ssl")?.getattr("SSLError")?.call1((1, msg))?;
            class(py, "ClientConnectorSSLError")?.call1((connection_key(py, e)?, ssl_err))?
        }
        ErrorKind::Certificate => class(py, "ClientConnectorCertificateError")?
            .call1((connection_key(py, e)?, cert_verification_error(py, e)?))?,
        ErrorKind::FingerprintMismatch => {
            let (expected, got) = match &e.fingerprints {
                Some(f) => (f.expected.as_slice(), f.got.as_slice()),
                None => (&[][..], &[][..]),
            };
            class(py, "ServerFingerprintMismatch")?.call1((
                pyo3::types::PyBytes::new(py, expected),
                pyo3::types::PyBytes::new(py, got),
                e.host.clone().unwrap_or_default(),
                e.port.unwrap_or(0),
            ))?
        }
        ErrorKind::ConnectTimeout => class(py, "ConnectionTimeoutError")?.call1((msg,))?,
        ErrorKind::ReadTimeout => class(py, "SocketTimeoutError")?.call1((msg,))?,
        ErrorKind::ServerDisconnected => class(py, "ServerDisconnectedError")?.call0()?,
        ErrorKind::Payload => class(py, "ClientPayloadError")?.call1((msg,))?,
        ErrorKind::Io => match e.errno {
            Some(n) => class(py, "ClientOSError")?.call1((n, msg))?,
            None => class(py, "ClientOSError")?.call1((msg,))?,
        },
        ErrorKind::BadResponse => {
            let kwargs = pyo3::types::PyDict::new(py);
            kwargs.set_item("status", 400)?;
            kwargs.set_item("message", msg)?;
            class(py, "ClientResponseError")?
                .call((request_info(py, e)?, history(py, e)?), Some(&kwargs))?
        }
        ErrorKind::ProxyConnect => class(py, "ClientProxyConnectionError")?
            .call1((connection_key(py, e)?, os_error(py, e)?))?,
        ErrorKind::ProxyStatus => proxy_status(py, e)?,
        ErrorKind::TooManyRedirects => {
            // As aiohttp: the first request's info, the whole history, no status.
            let hist = history(py, e)?;
            let info = match hist.get_item(0) {
                Ok(first) => first.getattr("request_info")?,
                Err(_) => request_info(py, e)?,
            };
            class(py, "TooManyRedirects")?.call1((info, hist))?
        }
    };
    Ok(PyErr::from_value(exc))
}
