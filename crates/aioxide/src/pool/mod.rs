//! Our own keep-alive pool with aiohttp's connector semantics: reuse per
//! (host, port, TLS mode); `limit` and `limit_per_host` count connections in
//! use; a connection goes back to the idle list only when its response was
//! read to the end; `force_close` never reuses; idle ones expire after
//! `keepalive_timeout`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::connect::{self, Target};
use crate::error::{Error, ErrorKind};
use crate::policy::timeout::Deadline;

/// The request body type the connections carry.
pub type ReqBody = crate::body::request::RequestBody;

/// The pool key: aiohttp's (host, port, is_ssl) plus how TLS is checked.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key {
    pub host: String,
    pub port: u16,
    pub tls: Option<connect::tls::TlsMode>,
    /// The TLS name when it is not `host` (aiohttp's `server_hostname=`).
    pub server_name: Option<String>,
    /// Direct, or through a proxy's tunnel.
    pub tunnel: connect::Tunnel,
    /// The protocols offered by ALPN (TLS only).
    pub alpn: connect::Alpn,
}

/// Pool limits and reuse policy (TCPConnector's parameters).
#[derive(Debug, Clone)]
pub struct PoolConfig {
    /// Total connections in use at once; 0 means no limit.
    pub limit: usize,
    /// Connections in use per key at once; 0 means no limit.
    pub limit_per_host: usize,
    /// How long an idle connection may be reused; `None`: no expiry.
    pub keepalive: Option<Duration>,
    /// Never reuse a connection.
    pub force_close: bool,
    /// Largest response head accepted, in bytes.
    pub max_head_size: usize,
    /// Most header fields accepted in a response head (aiohttp's max_headers).
    pub max_headers: usize,
    /// Resolution and connection settings.
    pub connect: connect::dns::ConnectConfig,
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig {
            limit: 100,
            limit_per_host: 0,
            keepalive: Some(Duration::from_secs(15)),
            force_close: false,
            // aiohttp accepts 128 fields of up to 8190 bytes each.
            max_head_size: 128 * 8192 + 16 * 1024,
            max_headers: 128,
            connect: connect::dns::ConnectConfig::default(),
        }
    }
}

/// One HTTP/1.1 connection: the hyper sender and the task driving the socket.
pub struct Conn {
    pub sender: http1::SendRequest<ReqBody>,
    task: tokio::task::AbortHandle,
}

impl Drop for Conn {
    fn drop(&mut self) {
        // Closing = stopping the task that owns the socket.
        self.task.abort();
    }
}

struct Idle {
    conn: Conn,
    since: Instant,
}

#[derive(Default)]
struct Inner {
    idle: HashMap<Key, Vec<Idle>>,
    hosts: HashMap<Key, Arc<Semaphore>>,
    closed: bool,
    /// A reaper task is running (closes idle connections as they expire).
    reaper: bool,
}

pub struct Pool {
    cfg: PoolConfig,
    /// The parser's header count limit for new connections: the largest
    /// max_headers any session or request asked for (each response is then
    /// checked against its own request's limit).
    max_headers: std::sync::atomic::AtomicUsize,
    /// TCPConnector's DNS cache.
    pub dns: connect::dns::DnsCache,
    total: Option<Arc<Semaphore>>,
    inner: Mutex<Inner>,
}

/// A connection checked out of the pool, with the slots it holds.
pub struct Lease {
    pool: Arc<Pool>,
    key: Key,
    conn: Option<Conn>,
    _total: Option<OwnedSemaphorePermit>,
    _host: Option<OwnedSemaphorePermit>,
    /// Whether this connection served an earlier request.
    pub reused: bool,
    /// Whether the request waited for a free slot (limit / limit_per_host).
    pub queued: bool,
    /// What name resolution did for a new connection.
    pub dns: connect::dns::DnsOutcome,
}

impl Lease {
    pub fn sender(&mut self) -> Option<&mut http1::SendRequest<ReqBody>> {
        self.conn.as_mut().map(|c| &mut c.sender)
    }

    /// The response was read to its end: the connection may serve again.
    pub fn release(mut self) {
        if let Some(conn) = self.conn.take() {
            self.pool.put_back(&self.key, conn);
        }
    }
}

pub(crate) async fn until<F: std::future::Future>(
    deadline: Option<Deadline>,
    f: F,
) -> Result<F::Output, Error> {
    match deadline {
        None => Ok(f.await),
        Some((at, kind)) => match tokio::time::timeout_at(at.into(), f).await {
            Ok(v) => Ok(v),
            Err(_) => Err(timeout_error(kind)),
        },
    }
}

pub(crate) fn timeout_error(kind: ErrorKind) -> Error {
    match kind {
        ErrorKind::ReadTimeout => Error::read_timeout(),
        ErrorKind::ConnectTimeout => Error::new(kind, "Connection timeout"),
        _ => Error::total_timeout(),
    }
}

pub(crate) use until as with_deadline;

impl Pool {
    pub fn new(cfg: PoolConfig) -> Arc<Self> {
        let total = (cfg.limit > 0).then(|| Arc::new(Semaphore::new(cfg.limit)));
        Arc::new(Pool {
            max_headers: std::sync::atomic::AtomicUsize::new(cfg.max_headers),
            dns: connect::dns::DnsCache::default(),
            cfg,
            total,
            inner: Mutex::new(Inner::default()),
        })
    }

    pub fn config(&self) -> &PoolConfig {
        &self.cfg
    }

    /// Let new connections parse heads of up to `n` header fields.
    pub fn raise_max_headers(&self, n: usize) {
        self.max_headers
            .fetch_max(n, std::sync::atomic::Ordering::Relaxed);
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Close every idle connection; later acquisitions fail.
    pub fn close(&self) {
        let mut inner = self.lock();
        inner.closed = true;
        inner.idle.clear();
    }

    pub fn is_closed(&self) -> bool {
        self.lock().closed
    }

    /// Idle connections right now (all keys).
    pub fn idle_count(&self) -> usize {
        self.lock().idle.values().map(Vec::len).sum()
    }

    fn put_back(self: &Arc<Self>, key: &Key, conn: Conn) {
        if self.cfg.force_close || conn.sender.is_closed() {
            return;
        }
        let mut inner = self.lock();
        if inner.closed {
            return;
        }
        inner.idle.entry(key.clone()).or_default().push(Idle {
            conn,
            since: Instant::now(),
        });
        if let Some(ka) = self.cfg.keepalive {
            if !inner.reaper {
                if let Ok(rt) = tokio::runtime::Handle::try_current() {
                    inner.reaper = true;
                    rt.spawn(reap(Arc::downgrade(self), ka));
                }
            }
        }
    }

    /// Close the idle connections older than `ka`; when the next expires.
    fn sweep(&self, ka: Duration) -> Option<Instant> {
        let mut inner = self.lock();
        let now = Instant::now();
        let mut next: Option<Instant> = None;
        inner.idle.retain(|_, list| {
            list.retain(|idle| {
                let alive = now.duration_since(idle.since) < ka && !idle.conn.sender.is_closed();
                if alive {
                    let at = idle.since + ka;
                    next = Some(next.map_or(at, |n| n.min(at)));
                }
                alive
            });
            !list.is_empty()
        });
        if next.is_none() {
            inner.reaper = false;
        }
        next
    }

    fn take_idle(&self, key: &Key) -> Option<Conn> {
        let mut inner = self.lock();
        let list = inner.idle.get_mut(key)?;
        while let Some(idle) = list.pop() {
            let expired = self
                .cfg
                .keepalive
                .is_some_and(|ka| idle.since.elapsed() >= ka);
            if !expired && !idle.conn.sender.is_closed() {
                return Some(idle.conn);
            }
        }
        None
    }

    /// Check out a connection for `key`: wait for a slot (bounded by
    /// `acquire`), reuse an idle connection or open one (bounded by
    /// `sock_connect`, computed when the slot is had).
    pub async fn acquire(
        self: &Arc<Self>,
        key: &Key,
        acquire: Option<Deadline>,
        sock_connect: impl Fn(Instant) -> Option<Deadline>,
        fresh: bool,
    ) -> Result<Lease, Error> {
        if self.is_closed() {
            return Err(Error::new(ErrorKind::Closed, "Connector is closed."));
        }
        let mut queued = false;
        let total = match &self.total {
            None => None,
            Some(s) => Some(match s.clone().try_acquire_owned() {
                Ok(p) => p,
                Err(_) => until(acquire, {
                    queued = true;
                    s.clone().acquire_owned()
                })
                .await?
                .map_err(|_| Error::new(ErrorKind::Closed, "Connector is closed."))?,
            }),
        };
        let host = if self.cfg.limit_per_host > 0 {
            let sem = self
                .lock()
                .hosts
                .entry(key.clone())
                .or_insert_with(|| Arc::new(Semaphore::new(self.cfg.limit_per_host)))
                .clone();
            Some(match sem.clone().try_acquire_owned() {
                Ok(p) => p,
                Err(_) => until(acquire, {
                    queued = true;
                    sem.acquire_owned()
                })
                .await?
                .map_err(|_| Error::new(ErrorKind::Closed, "Connector is closed."))?,
            })
        } else {
            None
        };
        let mut lease = Lease {
            pool: self.clone(),
            key: key.clone(),
            conn: None,
            _total: total,
            _host: host,
            reused: false,
            queued,
            dns: connect::dns::DnsOutcome::None,
        };
        if !fresh && !self.cfg.force_close {
            while let Some(mut conn) = self.take_idle(key) {
                // Usually ready at once; an error means the peer closed it.
                if conn.sender.is_ready()
                    || matches!(until(acquire, conn.sender.ready()).await, Ok(Ok(())))
                {
                    lease.conn = Some(conn);
                    lease.reused = true;
                    return Ok(lease);
                }
            }
        }
        let deadline = sock_connect(Instant::now());
        let (conn, dns) = until(deadline, Box::pin(self.open(key))).await??;
        lease.conn = Some(conn);
        lease.dns = dns;
        Ok(lease)
    }

    async fn open(&self, key: &Key) -> Result<(Conn, connect::dns::DnsOutcome), Error> {
        let target = Target {
            host: key.host.clone(),
            port: key.port,
            tls: key.tls.clone(),
            server_name: key.server_name.clone(),
            tunnel: key.tunnel.clone(),
            alpn: key.alpn,
        };
        let (stream, dns) = connect::connect(&target, &self.cfg.connect, &self.dns).await?;
        let mut b = http1::Builder::new();
        b.title_case_headers(true)
            .max_buf_size(self.cfg.max_head_size.max(8192))
            .max_headers(
                self.max_headers
                    .load(std::sync::atomic::Ordering::Relaxed)
                    .saturating_add(64),
            )
            .allow_obsolete_multiline_headers_in_responses(true)
            .allow_spaces_after_header_name_in_responses(true);
        let (sender, conn) = b.handshake(TokioIo::new(stream)).await.map_err(|e| {
            Error::new(ErrorKind::Io, format!("HTTP handshake failed: {e}"))
                .with_addr(&key.host, key.port, key.tls.is_some())
                .with_source(e)
        })?;
        let task = tokio::spawn(async move {
            let _ = conn.await;
        })
        .abort_handle();
        Ok((Conn { sender, task }, dns))
    }
}

/// Closes idle connections when their keepalive_timeout runs out, so that
/// servers see them closed (aiohttp's connector does the same); it ends
/// when no idle connection is left, or with the pool.
async fn reap(pool: std::sync::Weak<Pool>, ka: Duration) {
    let mut wait = ka;
    loop {
        tokio::time::sleep(wait).await;
        let Some(pool) = pool.upgrade() else { return };
        match pool.sweep(ka) {
            Some(next) => wait = next.saturating_duration_since(Instant::now()),
            None => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_aiohttp() {
        let c = PoolConfig::default();
        assert_eq!(c.limit, 100);
        assert_eq!(c.limit_per_host, 0);
        assert_eq!(c.keepalive, Some(Duration::from_secs(15)));
        assert!(!c.force_close);
    }

    #[tokio::test]
    async fn limit_bounds_acquisition() {
        let pool = Pool::new(PoolConfig {
            limit: 1,
            ..PoolConfig::default()
        });
        let key = Key {
            host: "127.0.0.1".into(),
            port: 9,
            tls: None,
            server_name: None,
            tunnel: connect::Tunnel::None,
            alpn: connect::Alpn::Http1,
        };
        // Hold the only slot by hand, then a bounded acquisition must time out
        // with the connect-timeout kind, without touching the network.
        let permit = pool.total.clone().unwrap().acquire_owned().await.unwrap();
        let dl = Some((
            Instant::now() + Duration::from_millis(50),
            ErrorKind::ConnectTimeout,
        ));
        let err = pool.acquire(&key, dl, |_| None, false).await.err().unwrap();
        assert_eq!(err.kind, ErrorKind::ConnectTimeout);
        drop(permit);
    }

    #[tokio::test]
    async fn closed_pool_refuses() {
        let pool = Pool::new(PoolConfig::default());
        pool.close();
        let key = Key {
            host: "127.0.0.1".into(),
            port: 9,
            tls: None,
            server_name: None,
            tunnel: connect::Tunnel::None,
            alpn: connect::Alpn::Http1,
        };
        let err = pool
            .acquire(&key, None, |_| None, false)
            .await
            .err()
            .unwrap();
        assert_eq!(err.kind, ErrorKind::Closed);
    }
}
