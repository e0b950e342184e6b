//! PyO3 glue: builds `aioxide._aioxide`.  No decisions live here: it moves
//! arguments into the engine and results back out through the bridge.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod bridge;
mod cookies;
mod errors;
mod future;
mod hooks;
mod json;
mod loadgen;
mod recycle;
mod response;
mod runtime;
mod spec;
mod tls;
mod upload;
mod whole;
mod ws;

use std::sync::Arc;
use std::time::Duration;

use aioxide::connect::dns::{Family, Hook};
use aioxide::{Client, ClientConfig};
use bytes::Bytes;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;

use bridge::{Bridge, Deliver};
use response::{body_channel, to_response, BodyReader, BodyWriter, Head, Response};

/// A session's engine: the connection pool and its settings.
#[pyclass(frozen, module = "aioxide._aioxide")]
pub struct Session {
    client: std::mem::ManuallyDrop<Client>,
    /// The process's fork count when the session was made.
    forks: u64,
}

impl Session {
    /// Inherited through os.fork(): its sockets are registered with the
    /// parent's event poller (one kernel object shared with the child), so
    /// the child must never close them: that would unregister them for the
    /// parent too.
    fn forked(&self) -> bool {
        self.forks != crate::runtime::fork_count()
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if !self.forked() {
            // SAFETY: dropped once, here; never used again.
            unsafe { std::mem::ManuallyDrop::drop(&mut self.client) };
        }
    }
}

#[pymethods]
impl Session {
    #[new]
    #[pyo3(signature = (*, limit=None, limit_per_host=None, force_close=false, keepalive_timeout=Some(15.0), user_agent=None, max_headers=128, family=0, local_addr=None, happy_eyeballs_delay=Some(0.25), interleave=None, use_dns_cache=true, ttl_dns_cache=Some(10.0), dns_cache_max_size=1000, bridge=None, resolver=None, socket_factory=None, unix_path=None, http2="off", http2_ping_interval=None, http2_ping_timeout=20.0))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        limit: Option<&Bound<'_, PyAny>>,
        limit_per_host: Option<&Bound<'_, PyAny>>,
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
        http2: &str,
        http2_ping_interval: Option<f64>,
        http2_ping_timeout: f64,
    ) -> PyResult<Self> {
        let mut cfg = ClientConfig::default();
        cfg.pool.http2 = aioxide::policy::h2::Http2::from_name(http2)
            .ok_or_else(|| PyValueError::new_err(format!("unknown http2 mode {http2:?}")))?;
        use aioxide::policy::timeout::setting;
        let positive = |name: &str, s: f64| setting(name, s, false).map_err(PyValueError::new_err);
        let secs = |name: &str, v: Option<f64>| -> PyResult<Option<Duration>> {
            v.map(|s| setting(name, s, true).map_err(PyValueError::new_err))
                .transpose()
        };
        cfg.pool.h2_ping_interval = http2_ping_interval
            .map(|s| positive("http2_ping_interval", s))
            .transpose()?;
        cfg.pool.h2_ping_timeout = positive("http2_ping_timeout", http2_ping_timeout)?;
        let count = |name: &str, v: Option<&Bound<'_, PyAny>>, default: usize| match v {
            None => Ok(default),
            Some(v) => aioxide::pool::limit(name, spec::any_int(v)?).map_err(PyValueError::new_err),
        };
        cfg.pool.limit = count("limit", limit, 100)?;
        cfg.pool.limit_per_host = count("limit_per_host", limit_per_host, 0)?;
        cfg.pool.force_close = force_close;
        cfg.pool.keepalive = secs("keepalive_timeout", keepalive_timeout)?;
        cfg.pool.max_headers = max_headers;
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
            cfg.user_agent = ua.into();
        }
        Ok(Session {
            client: std::mem::ManuallyDrop::new(Client::new(cfg)),
            forks: crate::runtime::fork_count(),
        })
    }

    /// Start a request: the future (of `loop_`) it returns completes with a
    /// `Response` or an exception.
    #[pyo3(signature = (bridge, loop_, options, method, url, headers, body=None, content_type=None, body_stream=None, body_rewind=None, on_send=None, total=None, upload=None))]
    #[allow(clippy::too_many_arguments)]
    fn request(
        &self,
        bridge: &Bound<'_, Bridge>,
        loop_: Py<PyAny>,
        options: &spec::Options,
        method: String,
        url: String,
        headers: Vec<(String, String)>,
        body: Option<PyBackedBytes>,
        content_type: Option<String>,
        body_stream: Option<&BodyReader>,
        body_rewind: Option<Py<PyAny>>,
        on_send: Option<Py<PyAny>>,
        total: Option<f64>,
        upload: Option<&upload::UploadProgress>,
    ) -> PyResult<Py<future::EngineFuture>> {
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
        let req = options.request(spec::Call {
            total,
            method,
            url,
            headers,
            body: body.map(Bytes::from_owner),
            content_type,
            body_stream,
            body_rewind: body_rewind.map(|hook| {
                Hook(Arc::new(hooks::PyRewind {
                    loop_: bridge.get().handle(),
                    hook: Arc::new(hook),
                })
                    as Arc<dyn aioxide::body::request::Rewind>)
            }),
            on_send: on_send.map(|hook| {
                Hook(Arc::new(hooks::PyOnSend {
                    loop_: bridge.get().handle(),
                    hook: Arc::new(hook),
                }) as Arc<dyn aioxide::client::OnSend>)
            }),
            upload: upload.map(|u| u.0.clone()),
        });
        let drivable = self.client.drivable(&req);
        // (`Client::clone`, not the ManuallyDrop's: that clone would never
        // be dropped, and the pool with it.)
        let client = Client::clone(&self.client);
        let owner = bridge.clone().unbind();
        let task = Box::pin(async move {
            let r = client.execute(req).await;
            Box::new(move |py: Python<'_>| match r {
                Ok(resp) => to_response(py, resp, owner.bind(py)),
                Err(e) => Err(errors::to_py(py, e)),
            }) as Deliver
        });
        let py = bridge.py();
        let fut = Py::new(py, future::EngineFuture::new(loop_))?;
        let rid = Bridge::request(bridge, fut.clone_ref(py).into_any(), drivable, task)?;
        fut.borrow_mut(py).set_rid(rid);
        Ok(fut)
    }

    /// Close idle connections; later requests fail.
    fn close(&self) {
        match self.forked() {
            true => self.client.pool().close_leaking(),
            false => self.client.close(),
        }
    }

    /// Engine pools alive in this process (tests: a closed session's
    /// pool is freed with it).
    #[staticmethod]
    fn live_pools() -> usize {
        aioxide::pool::live_pools()
    }

    #[getter]
    fn closed(&self) -> bool {
        self.client.is_closed()
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

    /// Leases alive: requests holding or making a connection, WebSockets
    /// (tests check it is back to 0 when nothing is in flight).
    fn lease_count(&self) -> usize {
        self.client.pool().lease_count()
    }

    /// Shared (HTTP/2) connections in the pool right now.
    fn shared_count(&self) -> usize {
        self.client.pool().shared_count()
    }

    /// Send the pool's connection events to `hook(kind, message)` on the
    /// loop of `bridge`; without a hook, stop (the engine's check is then
    /// one atomic load).
    #[pyo3(signature = (bridge=None, hook=None))]
    fn log_events(&self, bridge: Option<&Bridge>, hook: Option<Py<PyAny>>) -> PyResult<()> {
        let sink = match (bridge, hook) {
            (Some(bridge), Some(hook)) => Some(Arc::new(hooks::PyEvents {
                loop_: bridge.handle(),
                hook: Arc::new(hook),
            })
                as Arc<dyn aioxide::events::EventSink>),
            (None, None) => None,
            _ => {
                return Err(PyValueError::new_err(
                    "log_events needs a bridge and a hook",
                ))
            }
        };
        self.client.pool().events.set(sink);
        Ok(())
    }

    /// Whether connection events are on.
    #[getter]
    fn logs_events(&self) -> bool {
        self.client.pool().events.enabled()
    }
}

/// The engine's tasks alive right now (requests in flight, HTTP/2
/// connections' drivers...), None when the engine is not running: for tests
/// that check nothing is left behind.
#[pyfunction]
fn live_tasks() -> Option<usize> {
    runtime::live_tasks()
}

/// Connection events queued for Python since the process started.
#[pyfunction]
fn events_posted() -> u64 {
    hooks::EVENTS_POSTED.load(std::sync::atomic::Ordering::Relaxed)
}

/// Bodies handed on a bytes object to read into, and those that took it
/// (see `whole::Waiter`), since the process started: for tests.
#[pyfunction]
fn whole_handed_on() -> (u64, u64) {
    whole::counts()
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

/// Whether `followed` redirects are too many for `max_redirects` (any
/// int), by the engine's rule (policy/redirect.rs).
#[pyfunction]
fn too_many_redirects(followed: usize, max_redirects: &Bound<'_, PyAny>) -> PyResult<bool> {
    use aioxide::policy::redirect::{limit, too_many};
    Ok(too_many(followed, limit(spec::any_int(max_redirects)?)))
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
    m.add_class::<future::EngineFuture>()?;
    m.add_class::<Session>()?;
    m.add_class::<spec::Options>()?;
    m.add_class::<Response>()?;
    m.add_class::<Head>()?;
    m.add_class::<BodyWriter>()?;
    m.add_class::<BodyReader>()?;
    m.add_class::<hooks::ResolveToken>()?;
    m.add_class::<hooks::SocketToken>()?;
    m.add_class::<hooks::RewindToken>()?;
    m.add_class::<tls::TlsConfig>()?;
    m.add_class::<cookies::CookieStore>()?;
    m.add_class::<ws::WebSocket>()?;
    m.add_class::<upload::UploadProgress>()?;
    m.add_class::<loadgen::LoadGen>()?;
    m.add_function(wrap_pyfunction!(ws::ws_request, m)?)?;
    m.add_function(wrap_pyfunction!(ws::ws_check, m)?)?;
    m.add_function(wrap_pyfunction!(body_channel, m)?)?;
    m.add_function(wrap_pyfunction!(redirect_step, m)?)?;
    m.add_function(wrap_pyfunction!(is_redirect, m)?)?;
    m.add_function(wrap_pyfunction!(too_many_redirects, m)?)?;
    m.add_function(wrap_pyfunction!(live_tasks, m)?)?;
    m.add_function(wrap_pyfunction!(json::json_loads, m)?)?;
    m.add(
        "ACCEPT_ENCODING",
        aioxide::policy::decompress::ACCEPT_ENCODING,
    )?;
    m.add("DEFAULT_ACCEPT", aioxide::run::headers::DEFAULT_ACCEPT)?;
    m.add_function(wrap_pyfunction!(hop_auth, m)?)?;
    m.add_function(wrap_pyfunction!(events_posted, m)?)?;
    m.add_function(wrap_pyfunction!(whole_handed_on, m)?)?;
    m.add_function(wrap_pyfunction!(recycle::set_unused_for, m)?)?;
    m.add_function(wrap_pyfunction!(recycle::kept_bytes, m)?)?;
    m.add_function(wrap_pyfunction!(recycle::move_kept_clock, m)?)?;
    m.add_function(wrap_pyfunction!(recycle::let_go_unused, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
