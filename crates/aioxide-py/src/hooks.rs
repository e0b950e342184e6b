//! User hooks the engine calls: a Python resolver (aiohttp's `resolver=`)
//! and a socket factory (`socket_factory=`).  The engine task posts a call
//! to the loop's thread and awaits a token that Python completes; nothing is
//! decided here.

use std::net::{IpAddr, SocketAddr};
use std::os::fd::{FromRawFd, OwnedFd};
use std::sync::{Arc, Mutex};

use aioxide::body::request::{BodyStream, Rewind};
use aioxide::connect::dns::{BoxFuture, Family, Resolve, SocketFactory};
use aioxide::error::{Error, ErrorKind};
use pyo3::prelude::*;
use tokio::sync::oneshot;

use crate::bridge::LoopHandle;

/// A hook's failure: its message, errno, and the exception it raised when
/// that was not an OSError (the request raises it as it is, as aiohttp
/// lets it through).
type Failure = (String, Option<i32>, Option<PyErr>);

type Answer<T> = Mutex<Option<oneshot::Sender<Result<T, Failure>>>>;

/// The exception a user's hook raised (`errors::to_py` raises it again).
#[derive(Debug)]
pub struct HookRaised(pub PyErr);

impl std::fmt::Display for HookRaised {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the hook raised {}", self.0)
    }
}

impl std::error::Error for HookRaised {}

/// A failure as Python reports it: `exc`, when given, is what the hook
/// raised.
fn failure(message: String, errno: Option<i32>, exc: Option<Bound<'_, PyAny>>) -> Failure {
    (message, errno, exc.map(PyErr::from_value))
}

/// Completes one resolution: Python calls `set` or `fail` exactly once.
#[pyclass(frozen, module = "aioxide._aioxide")]
pub struct ResolveToken {
    tx: Answer<Vec<(String, u16)>>,
}

#[pymethods]
impl ResolveToken {
    /// The addresses, as (ip, port) pairs in the order to try them.
    fn set(&self, addrs: Vec<(String, u16)>) {
        if let Some(tx) = self.tx.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = tx.send(Ok(addrs));
        }
    }

    /// The resolver failed: its message and errno (a gaierror's code), or
    /// the exception it raised (`exc`, not an OSError).
    #[pyo3(signature = (message, errno=None, exc=None))]
    fn fail(&self, message: String, errno: Option<i32>, exc: Option<Bound<'_, PyAny>>) {
        if let Some(tx) = self.tx.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = tx.send(Err(failure(message, errno, exc)));
        }
    }
}

/// Completes one socket_factory call with a socket's file descriptor.
#[pyclass(frozen, module = "aioxide._aioxide")]
pub struct SocketToken {
    tx: Answer<i32>,
}

#[pymethods]
impl SocketToken {
    /// A descriptor the engine now owns (Python detached it).
    fn set(&self, fd: i32) {
        if let Some(tx) = self.tx.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = tx.send(Ok(fd));
        }
    }

    #[pyo3(signature = (message, errno=None, exc=None))]
    fn fail(&self, message: String, errno: Option<i32>, exc: Option<Bound<'_, PyAny>>) {
        if let Some(tx) = self.tx.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = tx.send(Err(failure(message, errno, exc)));
        }
    }
}

/// Completes one rewind: Python hands over a fresh body reader, or None.
#[pyclass(frozen, module = "aioxide._aioxide")]
pub struct RewindToken {
    tx: Mutex<Option<oneshot::Sender<Option<BodyStream>>>>,
}

#[pymethods]
impl RewindToken {
    #[pyo3(signature = (reader=None))]
    fn set(&self, reader: Option<&crate::BodyReader>) {
        if let Some(tx) = self.tx.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = tx.send(reader.and_then(|r| r.take_stream()));
        }
    }
}

/// `hook(token)` on the loop: restarts a streamed body from its start.
pub struct PyRewind {
    pub loop_: LoopHandle,
    pub hook: Arc<Py<PyAny>>,
}

impl Rewind for PyRewind {
    fn rewind(&self) -> BoxFuture<Option<BodyStream>> {
        let (tx, rx) = oneshot::channel();
        let token = RewindToken {
            tx: Mutex::new(Some(tx)),
        };
        let hook = self.hook.clone();
        let posted = self.loop_.call_soon(Box::new(move |py: Python<'_>| {
            let token = Py::new(py, token)?;
            hook.call1(py, (token,))
        }));
        Box::pin(async move {
            if !posted {
                return None;
            }
            rx.await.ok().flatten()
        })
    }
}

/// `hook((reused, queued, dns), headers)` on the loop: a request is going
/// on a connection (tracing).
pub struct PyOnSend {
    pub loop_: LoopHandle,
    pub hook: Arc<Py<PyAny>>,
}

impl aioxide::client::OnSend for PyOnSend {
    fn sending(&self, conn: aioxide::response::ConnInfo, headers: &aioxide::Fields) {
        use aioxide::connect::dns::DnsOutcome;
        let dns: u8 = match conn.dns {
            DnsOutcome::None => 0,
            DnsOutcome::CacheHit => 1,
            DnsOutcome::CacheMiss => 2,
            DnsOutcome::Resolved => 3,
        };
        let pairs = headers.text_pairs();
        let hook = self.hook.clone();
        self.loop_.call_soon(Box::new(move |py: Python<'_>| {
            hook.call1(py, ((conn.reused, conn.queued, dns), pairs))
        }));
    }
}

/// `hook(host, port, family, token)` on the loop: starts the resolution.
pub struct PyResolver {
    pub loop_: LoopHandle,
    pub hook: Arc<Py<PyAny>>,
}

impl Resolve for PyResolver {
    fn resolve(
        &self,
        host: &str,
        port: u16,
        family: Family,
    ) -> BoxFuture<Result<Vec<SocketAddr>, Error>> {
        let (tx, rx) = oneshot::channel();
        let token = ResolveToken {
            tx: Mutex::new(Some(tx)),
        };
        let hook = self.hook.clone();
        let host_s = host.to_owned();
        let af = match family {
            Family::Any => 0,
            Family::V4 => libc::AF_INET,
            Family::V6 => libc::AF_INET6,
        };
        let posted = self.loop_.call_soon(Box::new(move |py: Python<'_>| {
            let token = Py::new(py, token)?;
            hook.call1(py, (host_s, port, af, token))
        }));
        let host = host.to_owned();
        Box::pin(async move {
            let failed = |msg: String, errno: Option<i32>| {
                let mut e = Error::new(
                    ErrorKind::Dns,
                    format!("Cannot connect to host {host}:{port}: {msg}"),
                );
                e.errno = errno;
                e
            };
            if !posted {
                return Err(failed("the event loop is closed".into(), None));
            }
            match rx.await {
                Ok(Ok(pairs)) => {
                    let mut out = Vec::with_capacity(pairs.len());
                    for (ip, p) in pairs {
                        let ip = ip.split('%').next().unwrap_or(&ip).to_owned();
                        match ip.parse::<IpAddr>() {
                            Ok(a) => out.push(SocketAddr::new(a, p)),
                            Err(_) => {
                                return Err(failed(
                                    format!("resolver returned a non-IP host {ip:?}"),
                                    None,
                                ));
                            }
                        }
                    }
                    Ok(out)
                }
                Ok(Err((msg, errno, None))) => Err(failed(msg, errno)),
                Ok(Err((msg, errno, Some(raised)))) => {
                    Err(failed(msg, errno).with_source(HookRaised(raised)))
                }
                Err(_) => Err(failed("the resolver gave no answer".into(), None)),
            }
        })
    }
}

/// `hook(family, ip, port, token)` on the loop: makes one socket.
pub struct PySocketFactory {
    pub loop_: LoopHandle,
    pub hook: Arc<Py<PyAny>>,
}

impl SocketFactory for PySocketFactory {
    fn socket(&self, addr: SocketAddr) -> BoxFuture<std::io::Result<OwnedFd>> {
        let (tx, rx) = oneshot::channel();
        let token = SocketToken {
            tx: Mutex::new(Some(tx)),
        };
        let hook = self.hook.clone();
        let af = if addr.is_ipv4() {
            libc::AF_INET
        } else {
            libc::AF_INET6
        };
        let ip = addr.ip().to_string();
        let port = addr.port();
        let posted = self.loop_.call_soon(Box::new(move |py: Python<'_>| {
            let token = Py::new(py, token)?;
            hook.call1(py, (af, ip, port, token))
        }));
        Box::pin(async move {
            if !posted {
                return Err(std::io::Error::other("the event loop is closed"));
            }
            match rx.await {
                // SAFETY: Python detached this descriptor and handed it over.
                Ok(Ok(fd)) if fd >= 0 => Ok(unsafe { OwnedFd::from_raw_fd(fd) }),
                Ok(Ok(_)) => Err(std::io::Error::other("socket_factory gave no socket")),
                Ok(Err((msg, errno, raised))) => Err(match (errno, raised) {
                    (_, Some(raised)) => std::io::Error::other(HookRaised(raised)),
                    (Some(n), None) => std::io::Error::from_raw_os_error(n),
                    (None, None) => std::io::Error::other(msg),
                }),
                Err(_) => Err(std::io::Error::other("socket_factory gave no answer")),
            }
        })
    }
}

/// Connection events queued for the loop's thread since the process
/// started: none while no session logs them (a test's evidence).
pub static EVENTS_POSTED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// `hook(kind, message)` on the loop: a connection event for the debug
/// log (`aioxide.client`).  Formatted here, on the engine's thread; the
/// engine never waits for Python.
pub struct PyEvents {
    pub loop_: LoopHandle,
    pub hook: Arc<Py<PyAny>>,
}

impl aioxide::events::EventSink for PyEvents {
    fn event(&self, ev: &aioxide::events::ConnEvent<'_>) {
        let (kind, message) = (ev.name(), ev.to_string());
        let hook = self.hook.clone();
        let posted = self.loop_.call_soon(Box::new(move |py: Python<'_>| {
            hook.call1(py, (kind, message))
        }));
        if posted {
            EVENTS_POSTED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }
}
