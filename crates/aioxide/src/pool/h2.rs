//! HTTP/2 connections (hyper's client): one connection many requests send
//! on at once, the server's SETTINGS_MAX_CONCURRENT_STREAMS and GOAWAY read
//! off the bytes it sends (hyper does not expose them), requests and
//! answers converted.

use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use hyper::client::conn::http2;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{watch, OwnedSemaphorePermit};

use super::{Answer, Key, Outgoing, ReqBody, WireBody};
use crate::connect;
use crate::error::{Error, ErrorKind};

/// A request in flight on a shared connection.
pub type SharedSending = Pin<
    Box<
        dyn std::future::Future<Output = hyper::Result<http::Response<hyper::body::Incoming>>>
            + Send,
    >,
>;

/// The sending side of a connection many requests use at once (HTTP/2):
/// sending takes `&self` (hyper's `http2::SendRequest`: clone it, send on
/// the clone).
pub trait SharedSend: Send + Sync {
    fn send(&self, req: http::Request<ReqBody>) -> SharedSending;
    /// The connection is gone: no request can go on it any more.
    fn is_closed(&self) -> bool;
}

impl SharedSend for http2::SendRequest<ReqBody> {
    fn send(&self, req: http::Request<ReqBody>) -> SharedSending {
        let mut sender = self.clone();
        Box::pin(async move { sender.send_request(req).await })
    }

    fn is_closed(&self) -> bool {
        http2::SendRequest::is_closed(self)
    }
}

/// The task dispatching a connection's requests: stopped when its owner
/// goes (hyper's connection task then ends the connection with GOAWAY once
/// no stream is left).
struct Driver(tokio::task::AbortHandle);

impl Drop for Driver {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The executor hyper spawns a connection's tasks on (the connection
/// itself, request bodies being sent), keeping their handles so that
/// closing the pool can stop them at once.
#[derive(Clone, Default)]
struct Tasks(Arc<Mutex<Vec<tokio::task::AbortHandle>>>);

impl<F: std::future::Future<Output = ()> + Send + 'static> hyper::rt::Executor<F> for Tasks {
    fn execute(&self, fut: F) {
        let handle = tokio::spawn(fut).abort_handle();
        let mut list = self.0.lock().unwrap_or_else(|p| p.into_inner());
        list.retain(|t| !t.is_finished());
        list.push(handle);
    }
}

impl Tasks {
    fn abort_all(&self) {
        for t in self.0.lock().unwrap_or_else(|p| p.into_inner()).drain(..) {
            t.abort();
        }
    }
}

/// What the server said about the connection so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerState {
    /// Its first SETTINGS frame arrived.
    pub settings: bool,
    /// SETTINGS_MAX_CONCURRENT_STREAMS (unlimited until it says).
    pub max_streams: u32,
    /// It sent GOAWAY: no new stream goes on this connection.
    pub goaway: bool,
}

impl Default for PeerState {
    fn default() -> Self {
        PeerState {
            settings: false,
            max_streams: u32::MAX,
            goaway: false,
        }
    }
}

/// The `limit` and `limit_per_host` slots a connection holds.
pub(crate) type Slots = (Option<OwnedSemaphorePermit>, Option<OwnedSemaphorePermit>);

/// A shared connection (HTTP/2): the pool keeps it while it is open, its
/// leases hold it together; it holds its `limit` slots itself.
pub struct Shared {
    pub sender: Box<dyn SharedSend>,
    driver: Option<Driver>,
    tasks: Tasks,
    /// The connection's addresses and TLS session.
    pub(crate) meta: Option<Arc<connect::ConnMeta>>,
    /// Streams open on it (leases holding a [`StreamSlot`]).
    streams: AtomicUsize,
    /// When its last stream ended.
    idle_since: Mutex<Instant>,
    peer: Option<watch::Receiver<PeerState>>,
    _slots: Slots,
}

impl Shared {
    /// A shared connection from its sender and the task driving it.
    pub fn new(sender: Box<dyn SharedSend>, task: Option<tokio::task::AbortHandle>) -> Arc<Self> {
        Arc::new(Shared {
            sender,
            driver: task.map(Driver),
            tasks: Tasks::default(),
            meta: None,
            streams: AtomicUsize::new(0),
            idle_since: Mutex::new(Instant::now()),
            peer: None,
            _slots: (None, None),
        })
    }

    /// What the server said so far.
    pub fn peer(&self) -> PeerState {
        self.peer.as_ref().map(|p| *p.borrow()).unwrap_or_default()
    }

    /// Streams open on it now.
    pub fn streams(&self) -> usize {
        self.streams.load(Ordering::Relaxed)
    }

    /// New streams may go on it.
    pub fn usable(&self) -> bool {
        !self.sender.is_closed() && !self.peer().goaway
    }

    /// Another stream fits under the server's limit.
    pub fn has_room(&self) -> bool {
        self.usable() && self.streams() < self.peer().max_streams as usize
    }

    /// How long it has had no stream open (None: it has some).
    pub fn idle_for(&self) -> Option<Duration> {
        if self.streams() > 0 {
            return None;
        }
        Some(
            self.idle_since
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .elapsed(),
        )
    }

    /// Stop the connection now (the pool is closed): its socket is closed
    /// and the streams still open on it fail.
    pub fn close(&self) {
        if let Some(d) = &self.driver {
            d.0.abort();
        }
        self.tasks.abort_all();
    }
}

/// One stream's place on a shared connection, given back when dropped.
pub(crate) struct StreamSlot(Arc<Shared>);

impl StreamSlot {
    pub(crate) fn new(conn: Arc<Shared>) -> Self {
        conn.streams.fetch_add(1, Ordering::Relaxed);
        StreamSlot(conn)
    }

    pub(crate) fn conn(&self) -> &Arc<Shared> {
        &self.0
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        if self.0.streams.fetch_sub(1, Ordering::Relaxed) == 1 {
            *self.0.idle_since.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
        }
    }
}

/// The connection's flow-control window (Go's HTTP/2 client's, 1 GiB): what
/// bounds the memory of a response held unread is its stream's window (2 MiB,
/// hyper's default), as a socket's buffers bound it over HTTP/1.1.  With
/// hyper's 5 MB a few responses gathered and read one by one took the whole
/// connection window and the one being read starved.
const CONNECTION_WINDOW: u32 = 1 << 30;

/// The HTTP/2 handshake on `stream`, then the server's first SETTINGS
/// (its stream limit decides whether the next request shares this
/// connection); `slots` stay with the connection.  After
/// `cfg.h2_ping_interval` without a frame from the server, busy or idle,
/// the connection sends PING; unanswered within `cfg.h2_ping_timeout`, it
/// closes, failing its streams: requests multiplexed on a connection whose
/// peer vanished without a FIN do not all wait for their timeouts.
pub(crate) async fn handshake(
    key: &Key,
    stream: connect::Stream,
    meta: Option<Arc<connect::ConnMeta>>,
    slots: Slots,
    cfg: &super::PoolConfig,
) -> Result<Arc<Shared>, Error> {
    let failed = |e: String| {
        Error::new(ErrorKind::Io, format!("HTTP/2 handshake failed: {e}")).with_addr(
            &key.host,
            key.port,
            key.tls.is_some(),
        )
    };
    let (tx, mut rx) = watch::channel(PeerState::default());
    let heard = Arc::new(Heard::new());
    let io = Watched {
        io: stream,
        frames: FrameWatch::default(),
        tx,
        heard: heard.clone(),
    };
    let tasks = Tasks::default();
    let mut builder = http2::Builder::new(tasks.clone());
    builder.initial_connection_window_size(CONNECTION_WINDOW);
    if let Some(every) = cfg.h2_ping_interval {
        builder
            .timer(hyper_util::rt::TokioTimer::new())
            .keep_alive_interval(every)
            .keep_alive_timeout(cfg.h2_ping_timeout)
            .keep_alive_while_idle(true);
    }
    let (sender, conn) = builder
        .handshake(TokioIo::new(io))
        .await
        .map_err(|e| failed(e.to_string()).with_source(e))?;
    let silence = cfg.h2_ping_timeout;
    let task = tokio::spawn(drive(conn, rx.clone(), heard, silence)).abort_handle();
    let driver = Driver(task);
    if rx.wait_for(|p| p.settings).await.is_err() {
        return Err(failed("the server closed before its SETTINGS".into()));
    }
    Ok(Arc::new(Shared {
        sender: Box::new(sender),
        driver: Some(driver),
        tasks,
        meta,
        streams: AtomicUsize::new(0),
        idle_since: Mutex::new(Instant::now()),
        peer: Some(rx),
        _slots: slots,
    }))
}

/// Run the connection.  After the server's GOAWAY, h2 keeps the streams it
/// covers open for their answers (RFC 9113 §6.8) and ends the connection
/// when none is left; a server that goes silent instead, its socket open
/// (hypercorn at keep_alive_max_requests: the stream that brought its
/// GOAWAY is run but never answered), would hold them, their requests and
/// the socket for good.  After `silence` without a byte from it the
/// connection's reading is cut: its streams fail as disconnected (an
/// idempotent request is sent again on a new connection) and it ends.
async fn drive<C: std::future::Future>(
    conn: C,
    mut peer: watch::Receiver<PeerState>,
    heard: Arc<Heard>,
    silence: Duration,
) {
    // (`conn` is hyper's dispatch, which may end before the connection: h2's
    // own task goes on while streams are open.  The connection is gone when
    // its reader is, and with it the watch's sender.)
    let mut conn = std::pin::pin!(conn);
    let mut dispatching = true;
    loop {
        tokio::select! {
            _ = conn.as_mut(), if dispatching => dispatching = false,
            seen = async { peer.wait_for(|p| p.goaway).await.is_ok() } => match seen {
                true => break,
                false => return,
            },
        }
    }
    let mut cut = false;
    loop {
        // (Once cut, only the connection's end is waited for.)
        let due = heard.last() + silence;
        tokio::select! {
            _ = conn.as_mut(), if dispatching => dispatching = false,
            gone = async { peer.changed().await.is_err() } => if gone {
                return;
            },
            () = tokio::time::sleep_until(due.into()), if !cut => {
                if heard.last() + silence <= Instant::now() {
                    heard.cut();
                    cut = true;
                }
            }
        }
    }
}

/// The request as hyper's HTTP/2 client takes it: an absolute URI (the
/// key's scheme, `Host` or the key's authority, the target), the fields
/// an HTTP/2 stream may carry.
pub(crate) fn request(req: Outgoing<'_>, key: &Key) -> Result<http::Request<ReqBody>, Error> {
    use crate::policy::h2::{default_authority, stream_fields};
    let bad = |m: String| Error::new(ErrorKind::InvalidArgument, m);
    let (fields, host) = stream_fields(req.fields);
    let tls = key.tls.is_some();
    let authority = match host {
        Some(h) => http::uri::Authority::from_maybe_shared(h).map_err(|e| bad(e.to_string()))?,
        None => default_authority(&key.host, key.port, tls)
            .parse()
            .map_err(|e: http::uri::InvalidUri| bad(e.to_string()))?,
    };
    let uri = http::Uri::builder()
        .scheme(if tls { "https" } else { "http" })
        .authority(authority)
        .path_and_query(req.target)
        .build()
        .map_err(|e| bad(e.to_string()))?;
    let mut r = http::Request::new(req.body);
    *r.method_mut() =
        http::Method::from_bytes(req.method.as_bytes()).map_err(|e| bad(e.to_string()))?;
    *r.uri_mut() = uri;
    *r.version_mut() = http::Version::HTTP_2;
    *r.headers_mut() = fields.to_header_map().map_err(bad)?;
    Ok(r)
}

pub(crate) fn answer(resp: http::Response<hyper::body::Incoming>) -> Answer {
    let (parts, body) = resp.into_parts();
    // HTTP/2 carries no reason phrase: the status' canonical one stands in
    // (as httpx shows it; aiohttp does the same for a proxy's answer without one).
    let reason = parts.status.canonical_reason().unwrap_or("");
    Answer {
        status: parts.status.as_u16(),
        reason: bytes::Bytes::from_static(reason.as_bytes()),
        version: (2, 0),
        fields: crate::fields::Fields::from_header_map(&parts.headers),
        body: WireBody::H2(body),
        upgrade: false,
    }
}

/// A stream's body failed (RST_STREAM, the connection lost).
pub(crate) fn body_error(e: hyper::Error) -> Error {
    if e.is_incomplete_message() {
        return Error::payload("Response payload is not completed");
    }
    Error::payload(format!("Response payload is not completed: {e}")).with_source(e)
}

/// The engine's error for a failed HTTP/2 exchange, keeping hyper's as its
/// source.  A stream reset or refused before its answer, or left out by
/// GOAWAY, is a disconnect (retried once when idempotent, as on HTTP/1.1).
pub(crate) fn exchange_error(e: hyper::Error) -> Error {
    let err = if let Some(h2e) = h2_cause(&e) {
        Error::new(ErrorKind::ServerDisconnected, h2_message(h2e))
    } else if e.is_parse() || e.is_parse_status() {
        Error::new(ErrorKind::BadResponse, format!("Invalid response: {e}"))
    } else if e.is_timeout() {
        // hyper's only timer on a client connection: keep-alive PING.  (A
        // body being read when it fires gets the connection's end instead.)
        Error::new(
            ErrorKind::ServerDisconnected,
            "Server disconnected: the connection's PING went unanswered",
        )
    } else if e.is_canceled() || e.is_incomplete_message() || e.is_closed() {
        Error::new(ErrorKind::ServerDisconnected, "Server disconnected")
    } else if e.is_user() {
        Error::new(ErrorKind::InvalidArgument, e.to_string())
    } else {
        let io = std::error::Error::source(&e).and_then(|s| s.downcast_ref::<std::io::Error>());
        match io {
            // A TLS peer that hangs up without close_notify: a disconnect.
            // (h2 ends the streams of a connection that closed with a
            // broken pipe.)
            Some(ioe)
                if matches!(
                    ioe.kind(),
                    std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::BrokenPipe
                ) =>
            {
                Error::new(
                    ErrorKind::ServerDisconnected,
                    format!("Server disconnected: {ioe}"),
                )
            }
            Some(ioe) => Error::new(ErrorKind::Io, ioe.to_string()).with_io(ioe),
            None => Error::new(
                ErrorKind::ServerDisconnected,
                format!("Server disconnected: {e}"),
            ),
        }
    };
    err.with_source(e)
}

/// The server refused the stream before doing anything with it
/// (RST_STREAM with REFUSED_STREAM): RFC 9113 §8.7 says any request, POST
/// too, can then be sent again.  (A GOAWAY's unprocessed streams cannot be
/// told apart from processed ones here: hyper does not give the stream's
/// id, so those are retried only when idempotent.)
pub(crate) fn refused(e: &Error) -> bool {
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        if let Some(h2e) = c.downcast_ref::<::h2::Error>() {
            return h2e.is_reset()
                && h2e.is_remote()
                && h2e.reason() == Some(::h2::Reason::REFUSED_STREAM);
        }
        cause = c.source();
    }
    false
}

/// The HTTP/2 error behind a hyper error, if any.
fn h2_cause(e: &hyper::Error) -> Option<&::h2::Error> {
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        if let Some(h2e) = c.downcast_ref::<::h2::Error>() {
            return Some(h2e);
        }
        cause = c.source();
    }
    None
}

/// What went wrong on an HTTP/2 connection, in words: who ended what, and
/// the error code.
fn h2_message(e: &::h2::Error) -> String {
    let code = e
        .reason()
        .map_or_else(|| "no code".to_owned(), |r| format!("{r:?}"));
    let who = if e.is_remote() {
        "the server"
    } else {
        "the client"
    };
    if e.is_go_away() {
        format!("Server disconnected: GOAWAY ({code}) sent by {who}")
    } else if e.is_reset() {
        format!("Server disconnected: stream reset ({code}) by {who}")
    } else if e.is_io() {
        format!("Server disconnected: {e}")
    } else {
        format!("Server disconnected: HTTP/2 error: {e}")
    }
}

/// Follows the frames a server sends (9-byte headers and the lengths they
/// announce) to read its SETTINGS and notice its GOAWAY.
#[derive(Default)]
pub(crate) struct FrameWatch {
    head: [u8; 9],
    have: usize,
    /// Payload bytes of the current frame still to come.
    need: usize,
    /// The payload of a SETTINGS frame being read.
    settings: Option<Vec<u8>>,
    pub(crate) state: PeerState,
}

impl FrameWatch {
    /// Read `buf`, the next bytes from the server; whether the state changed.
    pub(crate) fn feed(&mut self, mut buf: &[u8]) -> bool {
        let before = self.state;
        while !buf.is_empty() {
            if self.need > 0 {
                let n = self.need.min(buf.len());
                if let Some(s) = &mut self.settings {
                    s.extend_from_slice(&buf[..n]);
                }
                self.need -= n;
                buf = &buf[n..];
                if self.need == 0 {
                    if let Some(s) = self.settings.take() {
                        self.apply_settings(&s);
                    }
                }
                continue;
            }
            let n = (9 - self.have).min(buf.len());
            self.head[self.have..self.have + n].copy_from_slice(&buf[..n]);
            self.have += n;
            buf = &buf[n..];
            if self.have == 9 {
                self.have = 0;
                self.frame_head();
            }
        }
        self.state != before
    }

    fn frame_head(&mut self) {
        let h = self.head;
        let len = u32::from_be_bytes([0, h[0], h[1], h[2]]) as usize;
        match (h[3], h[4] & 1) {
            // SETTINGS, not an ACK.
            (0x4, 0) if len == 0 => self.apply_settings(&[]),
            (0x4, 0) => self.settings = Some(Vec::with_capacity(len)),
            (0x7, _) => self.state.goaway = true,
            _ => {}
        }
        self.need = len;
    }

    fn apply_settings(&mut self, payload: &[u8]) {
        self.state.settings = true;
        for s in payload.chunks_exact(6) {
            if u16::from_be_bytes([s[0], s[1]]) == 0x3 {
                self.state.max_streams = u32::from_be_bytes([s[2], s[3], s[4], s[5]]);
            }
        }
    }
}

/// The connection's stream, read through a [`FrameWatch`].
struct Watched {
    io: connect::Stream,
    frames: FrameWatch,
    tx: watch::Sender<PeerState>,
    heard: Arc<Heard>,
}

/// When the server last sent bytes on a connection; and the switch that
/// ends its reading ([`Heard::cut`]).
struct Heard {
    base: Instant,
    /// Milliseconds since `base`.
    ms: std::sync::atomic::AtomicU64,
    cut: std::sync::atomic::AtomicBool,
    /// The reader's task, waiting for bytes.
    reader: Mutex<Option<std::task::Waker>>,
}

impl Heard {
    fn new() -> Self {
        Heard {
            base: Instant::now(),
            ms: Default::default(),
            cut: Default::default(),
            reader: Mutex::new(None),
        }
    }

    /// End the connection's reading: its next read fails, so h2 fails its
    /// streams (their requests get the error) and the connection ends.
    fn cut(&self) {
        self.cut.store(true, std::sync::atomic::Ordering::Release);
        if let Some(w) = self.reader.lock().unwrap_or_else(|p| p.into_inner()).take() {
            w.wake();
        }
    }

    fn is_cut(&self) -> bool {
        self.cut.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Wake `w` when the reading is cut.
    fn wait(&self, w: &std::task::Waker) {
        let mut slot = self.reader.lock().unwrap_or_else(|p| p.into_inner());
        match &*slot {
            Some(old) if old.will_wake(w) => {}
            _ => *slot = Some(w.clone()),
        }
    }

    fn touch(&self) {
        let ms = self.base.elapsed().as_millis() as u64;
        self.ms.store(ms, std::sync::atomic::Ordering::Relaxed);
    }

    fn last(&self) -> Instant {
        let ms = self.ms.load(std::sync::atomic::Ordering::Relaxed);
        self.base + Duration::from_millis(ms)
    }
}

impl AsyncRead for Watched {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let me = self.get_mut();
        let before = buf.filled().len();
        // (What happens after GOAWAY only: no clock read per read before.)
        let goaway = me.frames.state.goaway;
        if goaway && me.heard.is_cut() {
            return Poll::Ready(Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the server sent GOAWAY, then nothing more",
            )));
        }
        if Pin::new(&mut me.io).poll_read(cx, buf)?.is_pending() {
            if goaway {
                me.heard.wait(cx.waker());
                // (Cut between the check and the registration: read again.)
                if me.heard.is_cut() {
                    cx.waker().wake_by_ref();
                }
            }
            return Poll::Pending;
        }
        let changed = me.frames.feed(&buf.filled()[before..]);
        if me.frames.state.goaway && buf.filled().len() > before {
            me.heard.touch();
        }
        if changed {
            me.tx.send_replace(me.frames.state);
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(kind: u8, flags: u8, payload: &[u8]) -> Vec<u8> {
        let len = (payload.len() as u32).to_be_bytes();
        let mut f = vec![len[1], len[2], len[3], kind, flags, 0, 0, 0, 0];
        f.extend_from_slice(payload);
        f
    }

    #[test]
    fn settings_and_goaway_in_any_cut() {
        // SETTINGS (header table size 4096, max streams 7), its ACK, a
        // DATA frame, GOAWAY.
        let settings = [0, 1, 0, 0, 16, 0, 0, 3, 0, 0, 0, 7];
        let mut wire = frame(0x4, 0, &settings);
        wire.extend(frame(0x4, 1, &[]));
        wire.extend(frame(0x0, 0, &[0x4; 40]));
        let goaway_at = wire.len();
        wire.extend(frame(0x7, 0, &[0; 8]));
        for cut in 1..wire.len() {
            let mut w = FrameWatch::default();
            for piece in wire[..goaway_at].chunks(cut) {
                w.feed(piece);
            }
            assert_eq!((w.state.settings, w.state.max_streams), (true, 7));
            assert!(!w.state.goaway);
            w.feed(&wire[goaway_at..]);
            assert!(w.state.goaway, "cut {cut}");
        }
    }

    #[test]
    fn empty_settings_mean_no_stream_limit() {
        let mut w = FrameWatch::default();
        assert!(w.feed(&frame(0x4, 0, &[])));
        assert_eq!(w.state.max_streams, u32::MAX);
        assert!(w.state.settings);
        // A DATA frame whose payload looks like SETTINGS changes nothing.
        assert!(!w.feed(&frame(0x0, 0, &frame(0x7, 0, &[0; 8]))));
    }

    fn key(tls: bool) -> Key {
        Key {
            host: "a.example".into(),
            port: if tls { 443 } else { 8080 },
            tls: tls.then_some(connect::tls::TlsMode::Verify),
            server_name: None,
            tunnel: connect::Tunnel::None,
            alpn: connect::Alpn::H2,
        }
    }

    #[test]
    fn requests_are_absolute_and_lower_case() {
        let mut fields = crate::fields::Fields::default();
        fields.push("Host", "b.example");
        fields.push("X-Test", "1");
        fields.push("Connection", "keep-alive");
        let out = |fields| Outgoing {
            method: "GET",
            target: "/p?q=1",
            http10: false,
            fields,
            body: ReqBody::empty(),
            chunked: false,
            expect: false,
            limits: Default::default(),
        };
        let r = request(out(&fields), &key(true)).unwrap();
        assert_eq!(r.uri(), "https://b.example/p?q=1");
        let names: Vec<&str> = r.headers().keys().map(|k| k.as_str()).collect();
        assert_eq!(names, ["x-test"]);
        let none = crate::fields::Fields::default();
        let r = request(out(&none), &key(false)).unwrap();
        assert_eq!(r.uri(), "http://a.example:8080/p?q=1");
    }

    #[test]
    fn h2_errors_in_words() {
        let e = ::h2::Error::from(::h2::Reason::FLOW_CONTROL_ERROR);
        assert_eq!(
            h2_message(&e),
            "Server disconnected: HTTP/2 error: protocol error: flow-control protocol violated"
        );
    }
}
