//! PyO3 glue: builds `aioxide._aioxide`.  No decisions live here: it moves
//! arguments into the engine and results back out through the bridge.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod bridge;
mod cookies;
mod errors;
mod hooks;
mod runtime;
mod tls;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aioxide::body::request::{BodyAborted, BodyItem, BodyStream};
use aioxide::connect::dns::{Family, Hook};
use aioxide::{
    Client, ClientConfig, HeadLimits, Request, ResponseBody, ResponseHead, Timeouts, TlsMode,
};
use bytes::Bytes;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::types::{PyBytes, PyList, PyString, PyTuple};

use bridge::{Bridge, Deliver};

/// `Content-Type` -> `Content-Type`, `x-foo-bar` -> `X-Foo-Bar`.
pub(crate) fn title_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut up = true;
    for c in name.chars() {
        if up {
            out.push(c.to_ascii_uppercase());
        } else {
            out.push(c);
        }
        up = c == '-';
    }
    out
}

/// Header pairs with Title-Case names, values decoded leniently.
pub fn header_pairs(h: &http::HeaderMap) -> Vec<(String, String)> {
    h.iter()
        .map(|(k, v)| {
            (
                title_case(k.as_str()),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect()
}

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

fn to_response(py: Python<'_>, mut r: aioxide::Response) -> PyResult<Py<PyAny>> {
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
    stream: Mutex<Option<BodyStream>>,
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
fn body_channel(capacity: usize, length: Option<u64>) -> (BodyWriter, BodyReader) {
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

/// A session's engine: the connection pool and its settings.
#[pyclass(frozen, module = "aioxide._aioxide")]
pub struct Session {
    client: Client,
}

#[pymethods]
impl Session {
    #[new]
    #[pyo3(signature = (*, limit=100, limit_per_host=0, force_close=false, keepalive_timeout=Some(15.0), user_agent=None, max_headers=128, family=0, local_addr=None, happy_eyeballs_delay=Some(0.25), interleave=None, use_dns_cache=true, ttl_dns_cache=Some(10.0), dns_cache_max_size=1000, bridge=None, resolver=None, socket_factory=None, unix_path=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        limit: usize,
        limit_per_host: usize,
        force_close: bool,
        keepalive_timeout: Option<f64>,
        user_agent: Option<String>,
        max_headers: usize,
        family: i32,
        local_addr: Option<(String, u16)>,
        happy_eyeballs_delay: Option<f64>,
        interleave: Option<usize>,
        use_dns_cache: bool,
        ttl_dns_cache: Option<f64>,
        dns_cache_max_size: usize,
        bridge: Option<&Bridge>,
        resolver: Option<Py<PyAny>>,
        socket_factory: Option<Py<PyAny>>,
        unix_path: Option<std::path::PathBuf>,
    ) -> PyResult<Self> {
        let mut cfg = ClientConfig::default();
        cfg.pool.limit = limit;
        cfg.pool.limit_per_host = limit_per_host;
        cfg.pool.force_close = force_close;
        cfg.pool.keepalive = match keepalive_timeout {
            Some(s) if s.is_finite() && s >= 0.0 => Some(Duration::from_secs_f64(s)),
            Some(_) => return Err(PyValueError::new_err("keepalive_timeout must be >= 0")),
            None => None,
        };
        cfg.pool.max_headers = max_headers;
        let secs = |name: &str, v: Option<f64>| -> PyResult<Option<Duration>> {
            match v {
                Some(s) if s.is_finite() && s >= 0.0 => Ok(Some(Duration::from_secs_f64(s))),
                Some(_) => Err(PyValueError::new_err(format!("{name} must be >= 0"))),
                None => Ok(None),
            }
        };
        let c = &mut cfg.pool.connect;
        c.family = Family::from_af(family)
            .ok_or_else(|| PyValueError::new_err(format!("unsupported address family {family}")))?;
        c.local_addr = match local_addr {
            None => None,
            Some((host, port)) => {
                use std::net::ToSocketAddrs;
                let mut it = (host.as_str(), port).to_socket_addrs().map_err(|e| {
                    pyo3::exceptions::PyOSError::new_err(format!("local_addr {host}:{port}: {e}"))
                })?;
                Some(it.next().ok_or_else(|| {
                    pyo3::exceptions::PyOSError::new_err(format!(
                        "local_addr {host}:{port}: no address"
                    ))
                })?)
            }
        };
        c.happy_eyeballs_delay = secs("happy_eyeballs_delay", happy_eyeballs_delay)?;
        c.interleave = interleave;
        c.use_dns_cache = use_dns_cache;
        c.ttl_dns_cache = secs("ttl_dns_cache", ttl_dns_cache)?;
        c.dns_cache_max_size = dns_cache_max_size;
        c.unix_path = unix_path;
        if resolver.is_some() || socket_factory.is_some() {
            let handle = bridge
                .ok_or_else(|| PyValueError::new_err("hooks need the loop's bridge"))?
                .handle();
            c.resolver = resolver.map(|hook| {
                Hook(Arc::new(hooks::PyResolver {
                    loop_: handle.clone(),
                    hook: Arc::new(hook),
                })
                    as Arc<dyn aioxide::connect::dns::Resolve>)
            });
            c.socket_factory = socket_factory.map(|hook| {
                Hook(Arc::new(hooks::PySocketFactory {
                    loop_: handle.clone(),
                    hook: Arc::new(hook),
                })
                    as Arc<dyn aioxide::connect::dns::SocketFactory>)
            });
        }
        if let Some(ua) = user_agent {
            cfg.user_agent = ua;
        }
        Ok(Session {
            client: Client::new(cfg),
        })
    }

    /// Start a request; `fut` completes with a `Response` or an exception.
    #[pyo3(signature = (bridge, fut, method, url, headers, body, content_type, auth, skip_auto_headers, allow_redirects, max_redirects, total, connect, sock_read, sock_connect, auto_decompress, verify_ssl, max_line_size=8190, max_field_size=8190, default_auth=None, default_auth_origin=None, body_stream=None, chunked=false, compress=None, expect100=false, http10=false, read_until_eof=true, server_hostname=None, max_headers=128, cookies=Vec::new(), retry=true, cookie_jar=None, tls=None, body_rewind=None, requote=true, on_send=None))]
    #[allow(clippy::too_many_arguments)]
    fn request(
        &self,
        bridge: &Bridge,
        fut: Py<PyAny>,
        method: String,
        url: String,
        headers: Vec<(String, String)>,
        body: Option<PyBackedBytes>,
        content_type: Option<String>,
        auth: Option<String>,
        skip_auto_headers: Vec<String>,
        allow_redirects: bool,
        max_redirects: u32,
        total: Option<f64>,
        connect: Option<f64>,
        sock_read: Option<f64>,
        sock_connect: Option<f64>,
        auto_decompress: bool,
        verify_ssl: bool,
        max_line_size: usize,
        max_field_size: usize,
        default_auth: Option<String>,
        default_auth_origin: Option<String>,
        body_stream: Option<&BodyReader>,
        chunked: bool,
        compress: Option<String>,
        expect100: bool,
        http10: bool,
        read_until_eof: bool,
        server_hostname: Option<String>,
        max_headers: usize,
        cookies: Vec<(String, String)>,
        retry: bool,
        cookie_jar: Option<&cookies::CookieStore>,
        tls: Option<&tls::TlsConfig>,
        body_rewind: Option<Py<PyAny>>,
        requote: bool,
        on_send: Option<Py<PyAny>>,
    ) -> PyResult<u64> {
        let body_stream = match body_stream {
            Some(r) => Some(
                r.stream
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .take()
                    .ok_or_else(|| PyValueError::new_err("this request body was already used"))?,
            ),
            None => None,
        };
        let req = Request {
            method,
            url,
            headers,
            body: body.map(Bytes::from_owner),
            body_stream,
            chunked,
            content_type,
            auth,
            default_auth,
            default_auth_origin,
            skip_auto_headers,
            allow_redirects,
            max_redirects,
            timeouts: Timeouts::from_secs(total, connect, sock_read, sock_connect),
            auto_decompress,
            tls: match tls {
                Some(t) => t.mode(),
                None if verify_ssl => TlsMode::Verify,
                None => TlsMode::NoVerify,
            },
            head_limits: HeadLimits {
                max_line_size,
                max_field_size,
                max_headers,
            },
            compress,
            expect_continue: expect100,
            http10,
            read_until_eof,
            server_hostname,
            cookie_jar: cookie_jar.map(|s| s.core()),
            cookies,
            retry_stale: retry,
            requote_redirect_url: requote,
            on_send: on_send.map(|hook| {
                Hook(Arc::new(hooks::PyOnSend {
                    loop_: bridge.handle(),
                    hook: Arc::new(hook),
                }) as Arc<dyn aioxide::client::OnSend>)
            }),
            body_rewind: body_rewind.map(|hook| {
                Hook(Arc::new(hooks::PyRewind {
                    loop_: bridge.handle(),
                    hook: Arc::new(hook),
                })
                    as Arc<dyn aioxide::body::request::Rewind>)
            }),
        };
        let client = self.client.clone();
        bridge.spawn(fut, async move {
            let r = client.execute(req).await;
            Box::new(move |py: Python<'_>| match r {
                Ok(resp) => to_response(py, resp),
                Err(e) => Err(errors::to_py(py, e)),
            }) as Deliver
        })
    }

    /// Close idle connections; later requests fail.
    fn close(&self) {
        self.client.close();
    }

    #[getter]
    fn closed(&self) -> bool {
        self.client.is_closed()
    }

    /// Let responses carry up to `n` header fields (a session's or a
    /// request's max_headers above the connector's).
    fn raise_max_headers(&self, n: usize) {
        self.client.pool().raise_max_headers(n);
    }

    /// Forget cached DNS answers: one (host, port), or all.
    #[pyo3(signature = (host=None, port=None))]
    fn clear_dns_cache(&self, host: Option<String>, port: Option<u16>) {
        match (host, port) {
            (Some(h), Some(p)) => self.client.pool().dns.clear(Some((&h, p))),
            _ => self.client.pool().dns.clear(None),
        }
    }

    /// The DNS cache: [((host, port), [ip, ...]), ...].
    fn cached_hosts(&self) -> Vec<((String, u16), Vec<String>)> {
        self.client
            .pool()
            .dns
            .entries()
            .into_iter()
            .map(|(k, v)| (k, v.iter().map(|a| a.ip().to_string()).collect()))
            .collect()
    }

    /// Idle connections in the pool right now.
    fn idle_count(&self) -> usize {
        self.client.pool().idle_count()
    }
}

/// Whether the engine follows this status (aiohttp's redirect statuses).
#[pyfunction]
fn is_redirect(status: u16) -> bool {
    aioxide::policy::redirect::is_redirect(status)
}

/// One redirect decision, as the engine makes it: the next method, whether
/// the body goes along, the next URL (requoted as yarl when `requote`),
/// whether it keeps the origin, and the request headers to remove.
/// Raises InvalidUrlRedirectClientError / NonHttpUrlRedirectClientError.
#[pyfunction]
#[pyo3(signature = (status, method, url, location, requote=true))]
fn redirect_step(
    py: Python<'_>,
    status: u16,
    method: &str,
    url: &str,
    location: &str,
    requote: bool,
) -> PyResult<(String, bool, String, bool, Vec<&'static str>)> {
    let s = aioxide::policy::redirect::step(status, method, url, location, requote)
        .map_err(|e| errors::to_py(py, e))?;
    Ok((s.method, s.keep_body, s.url, s.same_origin, s.dropped))
}

/// One hop's Authorization value by the engine's rule (policy/auth.rs);
/// raises ValueError for the combinations aiohttp refuses.
#[pyfunction]
fn hop_auth(
    py: Python<'_>,
    auth: Option<String>,
    url_auth: Option<String>,
    redirected: bool,
    default: Option<String>,
    default_in_scope: bool,
    has_header: bool,
) -> PyResult<Option<String>> {
    aioxide::policy::auth::hop_auth(
        auth,
        url_auth,
        redirected,
        default.as_deref(),
        default_in_scope,
        has_header,
    )
    .map_err(|e| errors::to_py(py, e))
}

#[pymodule]
fn _aioxide(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Bridge>()?;
    m.add_class::<Session>()?;
    m.add_class::<Response>()?;
    m.add_class::<Head>()?;
    m.add_class::<BodyWriter>()?;
    m.add_class::<BodyReader>()?;
    m.add_class::<hooks::ResolveToken>()?;
    m.add_class::<hooks::SocketToken>()?;
    m.add_class::<hooks::RewindToken>()?;
    m.add_class::<tls::TlsConfig>()?;
    m.add_class::<cookies::CookieStore>()?;
    m.add_function(wrap_pyfunction!(body_channel, m)?)?;
    m.add_function(wrap_pyfunction!(redirect_step, m)?)?;
    m.add_function(wrap_pyfunction!(is_redirect, m)?)?;
    m.add(
        "ACCEPT_ENCODING",
        aioxide::policy::decompress::ACCEPT_ENCODING,
    )?;
    m.add_function(wrap_pyfunction!(hop_auth, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
