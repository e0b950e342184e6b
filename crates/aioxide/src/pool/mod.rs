//! Our own keep-alive pool with aiohttp's connector semantics: reuse per
//! (host, port, TLS mode); `limit` and `limit_per_host` count connections in
//! use; a connection goes back to the idle list only when its response was
//! read to the end; `force_close` never reuses; idle ones expire after
//! `keepalive_timeout`.  HTTP/2 connections (`h2.rs`) are shared by many
//! leases at once, up to the server's stream limit (`Pool::acquire_h2`).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::connect::{self, Target};
use crate::error::{Error, ErrorKind};
use crate::events::{CloseReason, ConnEvent, EventKind, Events};
use crate::h1;
use crate::policy::timeout::Deadline;

mod h2;
pub(crate) use h2::refused;
use h2::StreamSlot;
pub use h2::{PeerState, Shared, SharedSend, SharedSending};

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
    /// HTTP/2: off, by ALPN, or also with prior knowledge (h2c).
    pub http2: crate::policy::h2::Http2,
    /// HTTP/2 connections check their peer with PING after this long
    /// without a frame from it (None, the default: never; on, hyper's
    /// keep-alive cost h2_dl 4-7% more CPU per MiB).
    pub h2_ping_interval: Option<Duration>,
    /// A PING unanswered this long closes its connection.
    pub h2_ping_timeout: Duration,
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
            http2: crate::policy::h2::Http2::Off,
            h2_ping_interval: None,
            h2_ping_timeout: Duration::from_secs(20),
        }
    }
}

/// A request as a connection sends it.
pub struct Outgoing<'a> {
    pub method: &'a str,
    /// The request target (origin-form, or absolute-form through a proxy).
    pub target: &'a str,
    pub http10: bool,
    /// Every header field, names as they go on the wire.
    pub fields: &'a crate::fields::Fields,
    pub body: ReqBody,
    /// The body goes `chunked`.
    pub chunked: bool,
    /// The body waits for `100 Continue`.
    pub expect: bool,
    /// Limits on the response head.
    pub limits: crate::policy::framing::HeadLimits,
}

/// A final response head as a connection returns it, its body still on
/// the connection.
pub struct Answer {
    pub status: u16,
    /// The reason phrase as sent (HTTP/1.1; empty for HTTP/2).
    pub reason: bytes::Bytes,
    pub version: (u8, u8),
    pub fields: crate::fields::Fields,
    pub body: WireBody,
    /// `101 Switching Protocols`: see [`Lease::upgrade`].
    pub upgrade: bool,
}

/// A response body as it comes off a connection.
pub enum WireBody {
    H1(h1::Reader),
    H2(hyper::body::Incoming),
}

impl WireBody {
    /// Whether the request body is still being written on this connection
    /// (HTTP/1.1; over HTTP/2 the connection's task writes it).
    pub fn is_uploading(&self) -> bool {
        matches!(self, WireBody::H1(r) if r.is_uploading())
    }

    /// Write the rest of the request body, reading nothing.
    pub fn poll_upload(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<()> {
        match self {
            WireBody::H1(r) => r.poll_upload(cx),
            WireBody::H2(_) => std::task::Poll::Ready(()),
        }
    }

    /// The next piece; `None` at the end.
    pub fn poll_piece(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<h1::Piece, Error>>> {
        use http_body::Body as _;
        match self {
            WireBody::H1(r) => r.poll_piece(cx),
            WireBody::H2(b) => loop {
                let frame = match std::task::ready!(std::pin::Pin::new(&mut *b).poll_frame(cx)) {
                    None => return std::task::Poll::Ready(None),
                    Some(Err(e)) => return std::task::Poll::Ready(Some(Err(h2::body_error(e)))),
                    Some(Ok(f)) => f,
                };
                if let Ok(data) = frame.into_data() {
                    let piece = h1::Piece {
                        data,
                        chunk_end: false,
                    };
                    return std::task::Poll::Ready(Some(Ok(piece)));
                }
            },
        }
    }

    /// The announced body length, when known.
    pub fn size_hint(&self) -> Option<u64> {
        use http_body::Body as _;
        match self {
            WireBody::H1(r) => r.size_hint(),
            WireBody::H2(b) => b.size_hint().exact(),
        }
    }

    /// Nothing more will come.
    pub fn is_end(&self) -> bool {
        use http_body::Body as _;
        match self {
            WireBody::H1(r) => r.is_done(),
            WireBody::H2(b) => b.is_end_stream(),
        }
    }

    /// The HTTP/1.1 connection, when the body ended cleanly and it may
    /// serve again.
    pub fn into_conn(self) -> Option<h1::Conn> {
        match self {
            WireBody::H1(r) => r.into_conn(),
            WireBody::H2(_) => None,
        }
    }
}

/// A connection: exclusive (HTTP/1.1) or shared (HTTP/2).
pub enum Conn {
    H1(h1::Conn),
    Shared(Arc<Shared>),
}

struct Idle {
    conn: h1::Conn,
    since: Instant,
    meta: Option<Arc<connect::ConnMeta>>,
}

/// The pool's maps by key, hashed with foldhash (seeded per process): a
/// request looks its key up two or three times, and SipHash cost more than
/// the lookups' other work.  The maps stay small (bounded by the
/// connections, or swept), so a weaker hash cannot be made to degrade them.
type KeyMap<V> = HashMap<Key, V, foldhash::fast::RandomState>;
type KeySet = HashSet<Key, foldhash::fast::RandomState>;

#[derive(Default)]
struct Inner {
    idle: KeyMap<Vec<Idle>>,
    /// Open shared connections: every lease for their key goes on them.
    shared: KeyMap<Vec<Arc<Shared>>>,
    /// HTTP/2 keys: one acquisition at a time opens a connection (the
    /// others wait, then share it).
    gates: Gates,
    /// HTTP/2 keys whose server chose HTTP/1.1 by ALPN.
    h1_only: H1Only,
    /// `limit_per_host` slots.
    hosts: Gates,
    closed: bool,
    /// A reaper task is running (closes idle connections as they expire).
    reaper: bool,
}

/// Semaphores by key, swept of the unused ones as the map grows: a session
/// that meets many origins keeps only those in use (a permit or a waiter
/// holds a clone; the map's alone means neither).
#[derive(Default)]
struct Gates {
    map: KeyMap<Arc<Semaphore>>,
    sweep: Sweep,
}

/// When a per-key map that only grows is swept: once it reaches 64
/// entries, then each time it doubles what the last sweep left, so the
/// sweeps cost O(1) per insertion.
#[derive(Default)]
struct Sweep {
    at: usize,
}

impl Sweep {
    /// Run `sweep` (which returns what it left) when a map of `len`
    /// entries is due.
    fn run(&mut self, len: usize, sweep: impl FnOnce() -> usize) {
        if len >= self.at.max(64) {
            self.at = 2 * sweep();
        }
    }
}

impl Gates {
    /// The semaphore of `key`, made with `permits` when it has none.
    fn get(&mut self, key: &Key, permits: usize) -> Arc<Semaphore> {
        if let Some(s) = self.map.get(key) {
            return s.clone();
        }
        let len = self.map.len();
        self.sweep.run(len, || {
            self.map.retain(|_, s| Arc::strong_count(s) > 1);
            self.map.len()
        });
        let s = Arc::new(slots(permits));
        self.map.insert(key.clone(), s.clone());
        s
    }
}

/// HTTP/2 keys whose server chose HTTP/1.1 by ALPN (their requests go the
/// HTTP/1.1 way, onto their idle connections), swept as the set grows of
/// the keys with no idle connection: a session that meets many such
/// origins keeps only those it can reuse.  A key swept is learnt again by
/// its next connection's ALPN.
#[derive(Default)]
struct H1Only {
    set: KeySet,
    sweep: Sweep,
}

impl H1Only {
    fn contains(&self, key: &Key) -> bool {
        self.set.contains(key)
    }

    /// Add `key`; a sweep first keeps only the keys `keep` says.
    fn insert(&mut self, key: &Key, keep: impl Fn(&Key) -> bool) {
        if self.set.contains(key) {
            return;
        }
        let len = self.set.len();
        self.sweep.run(len, || {
            self.set.retain(|k| keep(k));
            self.set.len()
        });
        self.set.insert(key.clone());
    }
}

/// Pools alive in this process (a test's evidence that a closed client
/// frees its pool).
static LIVE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// How many pools are alive in this process.
pub fn live_pools() -> usize {
    LIVE.load(std::sync::atomic::Ordering::Relaxed)
}

pub struct Pool {
    cfg: PoolConfig,
    /// TCPConnector's DNS cache.
    pub dns: connect::dns::DnsCache,
    total: Option<Arc<Semaphore>>,
    inner: Mutex<Inner>,
    /// Turns true when the pool is closed: requests in flight end then.
    closed_tx: tokio::sync::watch::Sender<bool>,
    /// Leases alive: requests holding (or making) a connection, and
    /// upgraded connections (for tests: 0 once nothing is in flight).
    leases: std::sync::atomic::AtomicUsize,
    /// Connection events for a debug log (off by default).
    pub events: Events,
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
    /// The connection's addresses and TLS session (read when it was made).
    pub meta: Option<Arc<connect::ConnMeta>>,
    /// Its stream on a shared connection, counted there while it lives.
    stream: Option<StreamSlot>,
    /// It holds an HTTP/1.1 connection (or its body does) that is closed
    /// when the lease goes without [`Lease::release`] giving it back.
    h1: bool,
    /// Why, for the connection event.
    pub(crate) close: CloseReason,
}

impl Drop for Pool {
    fn drop(&mut self) {
        LIVE.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.pool
            .leases
            .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        if self.h1 {
            self.pool
                .events
                .closed(&self.key.host, self.key.port, self.close);
        }
    }
}

impl Lease {
    /// The connection, unless it was given up.
    pub fn conn(&mut self) -> Option<&mut Conn> {
        self.conn.as_mut()
    }

    /// Send one request on the leased connection.  An HTTP/1.1
    /// connection travels with the answer's body ([`WireBody`]) and comes
    /// back through [`Lease::release`].
    pub async fn send(&mut self, req: Outgoing<'_>) -> Result<Answer, Error> {
        match self.conn.take() {
            Some(Conn::H1(c)) => send_h1(c, req).await,
            Some(Conn::Shared(c)) => {
                let sent = c.sender.send(h2::request(req, &self.key)?);
                self.conn = Some(Conn::Shared(c));
                let resp = sent.await.map_err(h2::exchange_error)?;
                Ok(h2::answer(resp))
            }
            None => Err(Error::new(
                ErrorKind::ServerDisconnected,
                "Server disconnected",
            )),
        }
    }

    /// The response was read to its end: its connection (HTTP/1.1, when it
    /// may serve again) goes back to the pool.
    pub fn release(mut self, conn: Option<h1::Conn>) {
        match conn {
            Some(conn) => {
                self.h1 = false;
                self.pool.put_back(&self.key, conn, self.meta.take());
            }
            None if self.pool.cfg.force_close => self.close = CloseReason::ForceClose,
            None => self.close = CloseReason::NotReusable,
        }
        self.conn = None;
    }

    /// A `101 Switching Protocols` answer to a request sent on this lease:
    /// the connection becomes a byte stream that keeps this lease's slots
    /// (limit / limit_per_host) until it is dropped; it never goes back
    /// to the pool.
    pub fn upgrade(self, answer: Answer) -> Result<Upgraded, Error> {
        match answer.upgrade {
            true => self.upgrade_body(answer.body),
            false => self.upgrade_body(WireBody::H1(h1::Reader::none())),
        }
    }

    /// [`Lease::upgrade`] from the body of a `101` answer.
    pub fn upgrade_body(mut self, body: WireBody) -> Result<Upgraded, Error> {
        self.close = CloseReason::UpgradeEnded;
        let conn = match body {
            WireBody::H1(r) => r.take_conn(),
            WireBody::H2(_) => None,
        };
        let Some(conn) = conn else {
            return Err(Error::new(
                ErrorKind::Io,
                "Cannot upgrade the connection: no 101 answer on HTTP/1.1",
            ));
        };
        let (io, read) = conn.into_parts();
        Ok(Upgraded {
            io: UpgradedIo::Engine(io),
            read: read.freeze(),
            _lease: self,
        })
    }
}

/// Send on an HTTP/1.1 connection.
async fn send_h1(conn: h1::Conn, req: Outgoing<'_>) -> Result<Answer, Error> {
    let l = req.limits;
    let ex = h1::Exchange {
        head: h1::RequestHead {
            method: req.method,
            target: req.target,
            http10: req.http10,
            fields: req.fields,
        },
        body: req.body,
        chunked: req.chunked,
        expect: req.expect,
        max_fields: l.max_headers,
        max_head: l.max_line_size + l.max_headers.saturating_mul(l.max_field_size + 4) + 1024,
        method_is_head: req.method == "HEAD",
    };
    let a = conn.exchange(ex).await.map_err(|(e, _)| e)?;
    Ok(Answer {
        status: a.head.status,
        reason: a.head.reason,
        version: (1, a.head.minor),
        fields: a.head.fields,
        body: WireBody::H1(a.reader),
        upgrade: a.upgrade,
    })
}

/// A connection switched to another protocol (HTTP 101, e.g. WebSocket):
/// an owned byte stream holding its pool slots until dropped.
pub struct Upgraded {
    io: UpgradedIo,
    /// Bytes that arrived past the 101 head, read first.
    read: bytes::Bytes,
    _lease: Lease,
}

/// The stream of an [`Upgraded`]: the engine's, or detached from it.
enum UpgradedIo {
    Engine(connect::Stream),
    Direct(connect::direct::Direct),
}

impl Upgraded {
    /// Take the stream out of the engine's reactor, to be driven by the
    /// caller's readiness loop ([`connect::direct`]): the file descriptor
    /// to watch, or None when the stream cannot be detached (a tunnel).
    pub fn detach(&mut self) -> Option<std::os::fd::RawFd> {
        let placeholder = UpgradedIo::Direct(connect::direct::Direct::Failed(
            std::io::ErrorKind::NotConnected,
        ));
        let io = match std::mem::replace(&mut self.io, placeholder) {
            UpgradedIo::Engine(s) => match connect::direct::Direct::detach(s) {
                Ok(d) => d,
                Err(s) => {
                    self.io = UpgradedIo::Engine(s);
                    return None;
                }
            },
            UpgradedIo::Direct(d) => d,
        };
        let fd = io.fd();
        self.io = UpgradedIo::Direct(io);
        Some(fd)
    }
}

/// The same call on whichever stream an [`UpgradedIo`] holds.
macro_rules! up_io {
    ($self:expr, $m:ident($($arg:expr),*)) => {
        match &mut $self.get_mut().io {
            UpgradedIo::Engine(s) => std::pin::Pin::new(s).$m($($arg),*),
            UpgradedIo::Direct(s) => std::pin::Pin::new(s).$m($($arg),*),
        }
    };
}

impl tokio::io::AsyncRead for Upgraded {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        if !self.read.is_empty() {
            let me = self.get_mut();
            let n = me.read.len().min(buf.remaining());
            buf.put_slice(&me.read.split_to(n));
            return std::task::Poll::Ready(Ok(()));
        }
        up_io!(self, poll_read(cx, buf))
    }
}

impl tokio::io::AsyncWrite for Upgraded {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        up_io!(self, poll_write(cx, buf))
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        up_io!(self, poll_flush(cx))
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        up_io!(self, poll_shutdown(cx))
    }
}

pub(crate) async fn until<F: std::future::Future>(
    deadline: Option<Deadline>,
    f: F,
) -> Result<F::Output, Error> {
    match deadline {
        None => Ok(f.await),
        // Driven on the loop's thread, the timer's expiry reaches the task
        // a hop later than the socket's data: the clock is read first, so
        // a deadline is kept as the engine's prompt timer keeps it.
        Some((at, kind)) if crate::connect::direct::is_driving() => {
            let mut f = std::pin::pin!(f);
            let mut timer = std::pin::pin!(tokio::time::sleep_until(at.into()));
            std::future::poll_fn(|cx| {
                if std::time::Instant::now() >= at {
                    return std::task::Poll::Ready(Err(timeout_error(kind)));
                }
                if let std::task::Poll::Ready(v) = f.as_mut().poll(cx) {
                    return std::task::Poll::Ready(Ok(v));
                }
                match std::future::Future::poll(timer.as_mut(), cx) {
                    std::task::Poll::Ready(()) => std::task::Poll::Ready(Err(timeout_error(kind))),
                    std::task::Poll::Pending => std::task::Poll::Pending,
                }
            })
            .await
        }
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

/// aiohttp's `limit` or `limit_per_host` (any int) as the pool's: 0 is no
/// limit, and so is one past any count (the semaphore caps it).  Below
/// zero aiohttp would wait for a free connection forever: refused here.
pub fn limit(name: &str, n: i128) -> Result<usize, String> {
    if n < 0 {
        return Err(format!("{name} must be 0 (no limit) or more"));
    }
    Ok(usize::try_from(n).unwrap_or(usize::MAX))
}

/// The semaphore of a `limit` or `limit_per_host`: one past tokio's most
/// permits (2^61 - 1, which `Semaphore::new` panics over) is no limit in
/// practice, and gets that many.
fn slots(limit: usize) -> Semaphore {
    Semaphore::new(limit.min(Semaphore::MAX_PERMITS))
}

impl Pool {
    pub fn new(cfg: PoolConfig) -> Arc<Self> {
        let total = (cfg.limit > 0).then(|| Arc::new(slots(cfg.limit)));
        LIVE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Arc::new(Pool {
            dns: connect::dns::DnsCache::default(),
            cfg,
            total,
            inner: Mutex::new(Inner::default()),
            closed_tx: tokio::sync::watch::Sender::new(false),
            leases: std::sync::atomic::AtomicUsize::new(0),
            events: Events::default(),
        })
    }

    /// Resolves when the pool is closed (at once if it is already).
    pub fn closed(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut rx = self.closed_tx.subscribe();
        async move {
            // An error means the pool is gone: closed too.
            let _ = rx.wait_for(|closed| *closed).await;
        }
    }

    pub fn config(&self) -> &PoolConfig {
        &self.cfg
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Close every idle connection; later acquisitions fail.
    pub fn close(&self) {
        let mut inner = self.lock();
        inner.closed = true;
        for (key, list) in inner.idle.drain() {
            for _ in list {
                self.events
                    .closed(&key.host, key.port, CloseReason::ConnectorClosed);
            }
        }
        for (key, list) in inner.shared.drain() {
            for conn in list {
                conn.close();
                self.events
                    .closed(&key.host, key.port, CloseReason::ConnectorClosed);
            }
        }
        drop(inner);
        self.closed_tx.send_replace(true);
    }

    /// Close without closing the idle connections' sockets: leaked, for a
    /// process forked from the one that opened them (dropping them would
    /// unregister them from the event poller the parent still uses).
    pub fn close_leaking(&self) {
        let mut inner = self.lock();
        inner.closed = true;
        std::mem::forget(std::mem::take(&mut inner.idle));
        std::mem::forget(std::mem::take(&mut inner.shared));
        drop(inner);
        self.closed_tx.send_replace(true);
    }

    pub fn is_closed(&self) -> bool {
        self.lock().closed
    }

    /// Idle connections right now (all keys).
    pub fn idle_count(&self) -> usize {
        self.lock().idle.values().map(Vec::len).sum()
    }

    /// Leases alive right now: requests that hold or are making a
    /// connection, and upgraded connections (WebSockets).
    pub fn lease_count(&self) -> usize {
        self.leases.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Shared (HTTP/2) connections in the pool right now.
    pub fn shared_count(&self) -> usize {
        self.lock().shared.values().map(Vec::len).sum()
    }

    fn put_back(self: &Arc<Self>, key: &Key, conn: h1::Conn, meta: Option<Arc<connect::ConnMeta>>) {
        if self.cfg.force_close {
            self.events
                .closed(&key.host, key.port, CloseReason::ForceClose);
            return;
        }
        let mut inner = self.lock();
        if inner.closed {
            self.events
                .closed(&key.host, key.port, CloseReason::ConnectorClosed);
            return;
        }
        let idle = Idle {
            conn,
            since: Instant::now(),
            meta,
        };
        // The key is cloned only for an origin with no idle list yet.
        match inner.idle.get_mut(key) {
            Some(list) => list.push(idle),
            None => {
                inner.idle.insert(key.clone(), vec![idle]);
            }
        }
        self.start_reaper(&mut inner);
    }

    /// Start the task closing connections idle past keepalive_timeout.
    fn start_reaper(self: &Arc<Self>, inner: &mut Inner) {
        let Some(ka) = self.cfg.keepalive else { return };
        if !inner.reaper {
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                inner.reaper = true;
                rt.spawn(reap(Arc::downgrade(self), self.closed_tx.subscribe(), ka));
            }
        }
    }

    /// Close the idle connections older than `ka`; when the next expires.
    fn sweep(&self, ka: Duration) -> Option<Instant> {
        let mut inner = self.lock();
        let now = Instant::now();
        let mut next: Option<Instant> = None;
        let mut later = |at: Instant| next = Some(next.map_or(at, |n| n.min(at)));
        let events = &self.events;
        inner.idle.retain(|key, list| {
            list.retain_mut(|idle| {
                let why = idle_state(idle, now, ka);
                match why {
                    None => later(idle.since + ka),
                    Some(why) => events.closed(&key.host, key.port, why),
                }
                why.is_none()
            });
            !list.is_empty()
        });
        inner.shared.retain(|key, list| {
            list.retain(|c| {
                let why = match c.idle_for() {
                    _ if !c.usable() => Some(CloseReason::Ended),
                    None => {
                        later(now + ka);
                        None
                    }
                    Some(idle) if idle < ka => {
                        later(now + (ka - idle));
                        None
                    }
                    Some(_) => Some(CloseReason::IdleTimeout),
                };
                if let Some(why) = why {
                    events.closed(&key.host, key.port, why);
                }
                why.is_none()
            });
            !list.is_empty()
        });
        if next.is_none() {
            inner.reaper = false;
        }
        next
    }

    fn take_idle(&self, key: &Key) -> Option<(h1::Conn, Option<Arc<connect::ConnMeta>>)> {
        let mut inner = self.lock();
        let list = inner.idle.get_mut(key)?;
        while let Some(mut idle) = list.pop() {
            let expired = self
                .cfg
                .keepalive
                .is_some_and(|ka| idle.since.elapsed() >= ka);
            if !expired && idle.conn.is_open() {
                return Some((idle.conn, idle.meta));
            }
            let why = match expired {
                true => CloseReason::IdleTimeout,
                false => CloseReason::PeerClosed,
            };
            self.events.closed(&key.host, key.port, why);
        }
        None
    }

    /// A connection event for `key`, when events are on.
    #[inline]
    fn event(&self, key: &Key, kind: impl FnOnce() -> EventKind<'static>) {
        if self.events.enabled() {
            self.events.emit(&ConnEvent {
                host: &key.host,
                port: key.port,
                kind: kind(),
            });
        }
    }

    /// A new connection for `key`, when events are on.
    fn opened(&self, key: &Key, stream: &connect::Stream, meta: Option<&connect::ConnMeta>) {
        if !self.events.enabled() {
            return;
        }
        let proto = match (&key.tls, stream.negotiated_h2()) {
            (Some(_), true) => Some("h2"),
            (Some(_), false) => Some("http/1.1"),
            (None, _) if key.alpn == connect::Alpn::H2 => Some("h2c"),
            (None, _) => None,
        };
        let kind = EventKind::Opened { meta, proto };
        self.events.emit(&ConnEvent {
            host: &key.host,
            port: key.port,
            kind,
        });
    }

    /// Check out a connection for `key`: wait for a slot (bounded by
    /// `acquire`), go on an open shared connection, reuse an idle one or
    /// open one (bounded by `sock_connect`, computed when the slot is had).
    pub async fn acquire(
        self: &Arc<Self>,
        key: &Key,
        acquire: Option<Deadline>,
        sock_connect: impl Fn(Instant) -> Option<Deadline>,
        fresh: bool,
    ) -> Result<Lease, Error> {
        if self.is_closed() {
            return Err(closed());
        }
        // (HTTP/1.1 keys, the default, never take the lock here.)
        let h2 = key.alpn == connect::Alpn::H2;
        if h2 && !self.cfg.force_close && !self.lock().h1_only.contains(key) {
            return Box::pin(self.acquire_h2(key, acquire, &sock_connect, fresh)).await;
        }
        self.acquire_h1(key, acquire, &sock_connect, fresh).await
    }

    /// [`Pool::acquire`] for HTTP/1.1: slots first, then an idle
    /// connection or a new one.
    async fn acquire_h1(
        self: &Arc<Self>,
        key: &Key,
        acquire: Option<Deadline>,
        sock_connect: &impl Fn(Instant) -> Option<Deadline>,
        fresh: bool,
    ) -> Result<Lease, Error> {
        let mut lease = self.slots(key, acquire).await?;
        if !fresh {
            if let Some((conn, meta)) = self.reuse(key) {
                let h1 = matches!(conn, Conn::H1(_));
                lease.h1 = h1;
                lease.conn = Some(conn);
                lease.meta = meta;
                lease.reused = true;
                self.event(key, || EventKind::Reused { h2: !h1 });
                return Ok(lease);
            }
        }
        // Boxed: opening is the rare path, and its future (3.5 KB) would
        // otherwise size, and be copied with, every request's future.
        Box::pin(self.connect_into(&mut lease, key, acquire, sock_connect)).await?;
        Ok(lease)
    }

    /// [`Pool::acquire`] for a key that offers HTTP/2: a stream on an open
    /// connection with room for it; else one acquisition at a time opens a
    /// connection (holding `limit` slots) while the others wait to share
    /// it; with no slot free, the least busy connection queues the stream.
    async fn acquire_h2(
        self: &Arc<Self>,
        key: &Key,
        acquire: Option<Deadline>,
        sock_connect: &impl Fn(Instant) -> Option<Deadline>,
        fresh: bool,
    ) -> Result<Lease, Error> {
        if let Some(lease) = self.on_shared(key, fresh, true) {
            return Ok(lease);
        }
        let gate = self.lock().gates.get(key, 1);
        let turn = slot(&gate, acquire, &mut false).await?;
        if let Some(lease) = self.on_shared(key, fresh, true) {
            return Ok(lease);
        }
        if self.lock().h1_only.contains(key) {
            drop(turn);
            return self.acquire_h1(key, acquire, sock_connect, fresh).await;
        }
        let mut lease = match self.try_slots(key) {
            Some(lease) => lease,
            None => match self.on_shared(key, false, false) {
                Some(lease) => return Ok(lease),
                None => self.slots(key, acquire).await?,
            },
        };
        self.connect_into(&mut lease, key, acquire, sock_connect)
            .await?;
        Ok(lease)
    }

    /// A lease for a stream on an open shared connection of `key`: one
    /// with room under its server's stream limit, or (`room` false) the
    /// least busy one.  None when `fresh` (a retry wants a new connection)
    /// or with `force_close` (each request its own connection).
    fn on_shared(self: &Arc<Self>, key: &Key, fresh: bool, room: bool) -> Option<Lease> {
        if fresh || self.cfg.force_close {
            return None;
        }
        let mut inner = self.lock();
        let list = inner.shared.get_mut(key)?;
        list.retain(|c| c.usable());
        let found = match room {
            true => list.iter().find(|c| c.has_room()),
            false => list.iter().min_by_key(|c| c.streams()),
        };
        // Counted under the pool's lock: two acquisitions never both take
        // the last stream.
        let stream = found.map(|c| StreamSlot::new(c.clone()));
        if list.is_empty() {
            inner.shared.remove(key);
        }
        drop(inner);
        let stream = stream?;
        let mut lease = self.lease(key, None, None, false);
        lease.conn = Some(Conn::Shared(stream.conn().clone()));
        lease.meta = stream.conn().meta.clone();
        lease.reused = true;
        lease.stream = Some(stream);
        self.event(key, || EventKind::Reused { h2: true });
        Some(lease)
    }

    /// Open a connection for `lease` (bounded by `deadline`): HTTP/2 when
    /// the key offers it and the server agrees (shared then: the lease's
    /// slots go with the connection), HTTP/1.1 otherwise.
    async fn connect_into(
        self: &Arc<Self>,
        lease: &mut Lease,
        key: &Key,
        acquire: Option<Deadline>,
        sock_connect: &impl Fn(Instant) -> Option<Deadline>,
    ) -> Result<(), Error> {
        let (stream, dns, deadline) = Box::pin(self.open(key, acquire, sock_connect)).await?;
        let verified = key
            .tls
            .as_ref()
            .is_some_and(connect::tls::TlsMode::verifies);
        let meta = Some(Arc::new(stream.meta(verified)));
        self.opened(key, &stream, meta.as_deref());
        lease.dns = dns;
        lease.meta = meta.clone();
        let h2 = match key.tls {
            Some(_) => stream.negotiated_h2(),
            None => key.alpn == connect::Alpn::H2,
        };
        if !h2 {
            if key.alpn == connect::Alpn::H2 {
                let mut inner = self.lock();
                let Inner { h1_only, idle, .. } = &mut *inner;
                h1_only.insert(key, |k| idle.get(k).is_some_and(|v| !v.is_empty()));
            }
            lease.conn = Some(Conn::H1(h1::Conn::new(stream)));
            lease.h1 = true;
            return Ok(());
        }
        let slots = (lease._total.take(), lease._host.take());
        let shared = until(
            deadline,
            Box::pin(h2::handshake(key, stream, meta, slots, &self.cfg)),
        )
        .await??;
        lease.stream = Some(StreamSlot::new(shared.clone()));
        if !self.cfg.force_close {
            self.adopt_shared(key, shared.clone());
        }
        lease.conn = Some(Conn::Shared(shared));
        Ok(())
    }

    /// A lease without a connection yet: the `limit` and `limit_per_host`
    /// slots, waited for until `acquire`.
    async fn slots(self: &Arc<Self>, key: &Key, acquire: Option<Deadline>) -> Result<Lease, Error> {
        let mut queued = false;
        let total = match &self.total {
            None => None,
            Some(s) => Some(slot(s, acquire, &mut queued).await?),
        };
        let host = if self.cfg.limit_per_host > 0 {
            let sem = self.lock().hosts.get(key, self.cfg.limit_per_host);
            Some(slot(&sem, acquire, &mut queued).await?)
        } else {
            None
        };
        Ok(self.lease(key, total, host, queued))
    }

    /// The slots for a new connection, when they are free now.
    fn try_slots(self: &Arc<Self>, key: &Key) -> Option<Lease> {
        let total = match &self.total {
            None => None,
            Some(s) => Some(s.clone().try_acquire_owned().ok()?),
        };
        let host = if self.cfg.limit_per_host > 0 {
            let sem = self.lock().hosts.get(key, self.cfg.limit_per_host);
            Some(sem.try_acquire_owned().ok()?)
        } else {
            None
        };
        Some(self.lease(key, total, host, false))
    }

    fn lease(
        self: &Arc<Self>,
        key: &Key,
        total: Option<OwnedSemaphorePermit>,
        host: Option<OwnedSemaphorePermit>,
        queued: bool,
    ) -> Lease {
        self.leases
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Lease {
            pool: self.clone(),
            key: key.clone(),
            conn: None,
            _total: total,
            _host: host,
            reused: false,
            queued,
            dns: connect::dns::DnsOutcome::None,
            meta: None,
            stream: None,
            h1: false,
            close: CloseReason::Unfinished,
        }
    }

    /// An open shared connection for `key`, or an idle one that is ready.
    fn reuse(&self, key: &Key) -> Option<(Conn, Option<Arc<connect::ConnMeta>>)> {
        if let Some(shared) = self.shared_for(key) {
            let meta = shared.meta.clone();
            return Some((Conn::Shared(shared), meta));
        }
        if self.cfg.force_close {
            return None;
        }
        self.take_idle(key).map(|(c, meta)| (Conn::H1(c), meta))
    }

    /// The first open shared connection for `key` (closed ones are dropped).
    fn shared_for(&self, key: &Key) -> Option<Arc<Shared>> {
        let mut inner = self.lock();
        let list = inner.shared.get_mut(key)?;
        list.retain(|c| c.usable());
        let found = list.first().cloned();
        if list.is_empty() {
            inner.shared.remove(key);
        }
        found
    }

    /// Keep a shared connection for `key`: later leases go on it while it
    /// is open (HTTP/2 calls this once its handshake is done).
    pub fn adopt_shared(self: &Arc<Self>, key: &Key, conn: Arc<Shared>) {
        let mut inner = self.lock();
        if !inner.closed {
            inner.shared.entry(key.clone()).or_default().push(conn);
            self.start_reaper(&mut inner);
        }
    }

    /// A new stream to `key` (transport, tunnel, TLS) and what it is.
    /// A new connection for `key`: its first hop's name resolved within
    /// `acquire` (the `connect` timeout), then the connection made within
    /// `sock_connect` counted from there (aiohttp's covers the connection,
    /// not the lookup); the deadline that bound it.
    async fn open(
        &self,
        key: &Key,
        acquire: Option<Deadline>,
        sock_connect: &impl Fn(Instant) -> Option<Deadline>,
    ) -> Result<(connect::Stream, connect::dns::DnsOutcome, Option<Deadline>), Error> {
        let target = Target {
            host: key.host.clone(),
            port: key.port,
            tls: key.tls.clone(),
            server_name: key.server_name.clone(),
            tunnel: key.tunnel.clone(),
            alpn: key.alpn,
        };
        if target.needs_engine() {
            connect::direct::to_engine().await;
        }
        let cfg = &self.cfg.connect;
        let mut hop = until(acquire, connect::resolve_first_hop(&target, cfg, &self.dns)).await??;
        let per_family = cfg.interleave.unwrap_or(1).max(1);
        loop {
            let deadline = sock_connect(Instant::now());
            let rest = hop.after_timeout(per_family);
            let made = connect::connect_resolved(&target, hop, cfg, &self.dns);
            match until(deadline, made).await {
                Ok(made) => {
                    let (stream, dns) = made?;
                    return Ok((stream, dns, deadline));
                }
                // `sock_connect` ran out (not `connect` or `total`): as
                // aiohttp's connector, the addresses after the first get a
                // deadline of their own.
                Err(e) => match rest {
                    Some(next) if acquire.is_none_or(|(at, _)| Instant::now() < at) => {
                        hop = next;
                    }
                    _ => return Err(e),
                },
            }
        }
    }
}

/// Why an idle connection cannot serve any more, if it cannot.
fn idle_state(idle: &mut Idle, now: Instant, ka: Duration) -> Option<CloseReason> {
    if now.duration_since(idle.since) >= ka {
        Some(CloseReason::IdleTimeout)
    } else if !idle.conn.is_open() {
        Some(CloseReason::PeerClosed)
    } else {
        None
    }
}

fn closed() -> Error {
    Error::new(ErrorKind::Closed, "Connector is closed.")
}

/// One slot of `sem`, waited for until `acquire` (then `queued` is set).
async fn slot(
    sem: &Arc<Semaphore>,
    acquire: Option<Deadline>,
    queued: &mut bool,
) -> Result<OwnedSemaphorePermit, Error> {
    if let Ok(p) = sem.clone().try_acquire_owned() {
        return Ok(p);
    }
    *queued = true;
    until(acquire, sem.clone().acquire_owned())
        .await?
        .map_err(|_| closed())
}

/// Closes idle connections when their keepalive_timeout runs out, so that
/// servers see them closed (aiohttp's connector does the same); it ends
/// when no idle connection is left, or as the pool closes or goes (not at
/// its next turn: a closed session's task stayed for keepalive_timeout).
async fn reap(
    pool: std::sync::Weak<Pool>,
    mut closed: tokio::sync::watch::Receiver<bool>,
    ka: Duration,
) {
    let mut wait = ka;
    loop {
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            // (An error: the pool is gone.)
            _ = closed.wait_for(|c| *c) => return,
        }
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

    #[test]
    fn any_int_is_a_limit_but_a_negative_one() {
        assert_eq!(limit("limit", 0), Ok(0));
        assert_eq!(limit("limit", 100), Ok(100));
        assert_eq!(limit("limit", i128::MAX), Ok(usize::MAX));
        assert!(limit("limit_per_host", -1)
            .unwrap_err()
            .contains("limit_per_host"));
        // The most a semaphore takes, without tokio's panic.
        assert_eq!(
            slots(usize::MAX).available_permits(),
            Semaphore::MAX_PERMITS
        );
    }

    #[tokio::test]
    async fn per_host_slots_of_origins_met_once_are_swept() {
        let pool = Pool::new(PoolConfig {
            limit: 0,
            limit_per_host: 1,
            ..PoolConfig::default()
        });
        let key = |port| local_key(port, connect::Alpn::Http1);
        // One origin's slot stays taken throughout.
        let held = pool.try_slots(&key(1)).expect("a free slot");
        for port in 2..5000 {
            drop(pool.try_slots(&key(port)).expect("a free slot"));
        }
        let kept = pool.lock().hosts.map.len();
        assert!(
            kept < 200,
            "{kept} semaphores kept for 5000 origins met once"
        );
        // The one in use was kept, and still counts: its origin has no slot.
        assert!(pool.try_slots(&key(1)).is_none());
        drop(held);
        assert!(pool.try_slots(&key(1)).is_some());
    }

    /// A plain key for 127.0.0.1:`port`.
    fn local_key(port: u16, alpn: connect::Alpn) -> Key {
        Key {
            host: "127.0.0.1".into(),
            port,
            tls: None,
            server_name: None,
            tunnel: connect::Tunnel::None,
            alpn,
        }
    }

    #[test]
    fn alpn_h1_answers_of_origins_met_once_are_swept() {
        let key = |port| local_key(port, connect::Alpn::H2);
        let mut h1 = H1Only::default();
        // Origin 1 keeps an idle connection throughout; the others none.
        for port in 1..5000 {
            h1.insert(&key(port), |k| k.port == 1);
        }
        assert!(h1.set.len() < 200, "{} kept for 5000 origins", h1.set.len());
        assert!(h1.contains(&key(1)), "the origin with an idle connection");
        assert!(h1.contains(&key(4999)), "the latest");
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

    struct FakeShared(Arc<std::sync::atomic::AtomicBool>);

    impl SharedSend for FakeShared {
        fn send(&self, _req: http::Request<ReqBody>) -> SharedSending {
            Box::pin(std::future::pending())
        }
        fn is_closed(&self) -> bool {
            self.0.load(std::sync::atomic::Ordering::Relaxed)
        }
    }

    #[tokio::test]
    async fn shared_connections_serve_many_leases() {
        let pool = Pool::new(PoolConfig {
            limit: 2,
            ..PoolConfig::default()
        });
        let refused = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let key = Key {
            host: "127.0.0.1".into(),
            port: refused,
            tls: None,
            server_name: None,
            tunnel: connect::Tunnel::None,
            alpn: connect::Alpn::Http1,
        };
        let closed = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let conn = Shared::new(Box::new(FakeShared(closed.clone())), None);
        pool.adopt_shared(&key, conn.clone());
        let mut a = pool.acquire(&key, None, |_| None, false).await.unwrap();
        let mut b = pool.acquire(&key, None, |_| None, false).await.unwrap();
        for lease in [&mut a, &mut b] {
            assert!(lease.reused);
            let same = matches!(lease.conn(), Some(Conn::Shared(c)) if Arc::ptr_eq(c, &conn));
            assert!(same, "both leases on the one shared connection");
        }
        // `limit` counts leases: a third waits for a slot.
        let soon = Some((
            Instant::now() + Duration::from_millis(50),
            ErrorKind::ConnectTimeout,
        ));
        let err = pool
            .acquire(&key, soon, |_| None, false)
            .await
            .err()
            .unwrap();
        assert_eq!(err.kind, ErrorKind::ConnectTimeout);
        a.release(None);
        drop(b);
        assert_eq!(pool.idle_count(), 0, "shared connections are never idle");
        // A closed shared connection is forgotten: the next lease opens one.
        closed.store(true, std::sync::atomic::Ordering::Relaxed);
        let err = pool
            .acquire(&key, None, |_| None, false)
            .await
            .err()
            .unwrap();
        assert_eq!(err.kind, ErrorKind::Connect);
        assert!(pool.lock().shared.is_empty());
    }
}
