//! What a request gives back: the head, the history, and the body stream.

use std::task::{Context, Poll, Waker};

use bytes::{Bytes, BytesMut};
use tokio::io::ReadBuf;

use crate::body::decode::Decoder;
use crate::error::Error;
use crate::fields::Fields;
use crate::h1::Piece;
use crate::policy::timeout::{self, Deadline, Timeouts};
use crate::pool::{with_deadline, Lease, WireBody};

pub use crate::request::RequestInfo;

/// How a response's connection was obtained: aiohttp's tracing signals
/// (connection queued / create / reuse, DNS cache hit / miss) from it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConnInfo {
    pub reused: bool,
    pub queued: bool,
    pub dns: crate::connect::dns::DnsOutcome,
}

/// Status line and headers of one response.
#[derive(Debug, Clone)]
pub struct ResponseHead {
    pub status: u16,
    pub reason: String,
    pub version: (u8, u8),
    /// The URL that answered (after redirects, for the final one).
    pub url: String,
    /// The fields as the server sent them (names in its case, in order).
    pub headers: Fields,
    pub request: std::sync::Arc<RequestInfo>,
    /// The connection it came on: addresses and TLS session (None for a
    /// connection that tells nothing, e.g. TLS through a proxy's tunnel).
    pub conn: Option<std::sync::Arc<crate::connect::ConnMeta>>,
}

/// A response: its head, the redirects before it, and its body.
pub struct Response {
    pub head: ResponseHead,
    pub history: Vec<ResponseHead>,
    /// Boxed: a response is moved several times on its way out, and its
    /// body is most of its size.
    pub body: Box<ResponseBody>,
}

/// The body of a response, read chunk by chunk or whole.
///
/// Reading it to the end hands the connection back to the pool; dropping it
/// earlier closes the connection.
pub struct ResponseBody {
    incoming: Option<WireBody>,
    decoder: Option<Box<Decoder>>,
    lease: Option<Lease>,
    total: Option<Deadline>,
    timeouts: Timeouts,
    /// Decoded bytes read ahead and not yet handed out (after `front`).
    ready: BytesMut,
    /// A frame of an undecoded body kept as it arrived (no copy) while
    /// nothing else is buffered; more data merges it into `ready`.
    front: Option<Bytes>,
    done: bool,
    /// Raw (undecoded) bytes received so far.
    raw_bytes: u64,
    /// Of those, the bytes read from the socket straight into a caller's
    /// buffer (`read_into`).
    direct_bytes: u64,
    size_hint: Option<u64>,
    /// The connection must be closed at the end, not reused.
    no_reuse: bool,
    /// An error met while reading ahead, raised by the next read.
    pending: Option<Error>,
    /// Decoded byte offsets where HTTP chunks ended, not yet handed out
    /// (counted from the start of the body; aiohttp's `readchunk()` flag).
    chunk_ends: std::collections::VecDeque<u64>,
    /// Decoded bytes received so far.
    decoded: u64,
    /// The connection after a `101` answer, for the caller (boxed: rare,
    /// and a response is moved several times on its way out).
    upgrade: Option<Box<crate::pool::Upgraded>>,
    /// The wire body ended while the decoder still held input.
    wire_done: bool,
    /// An HTTP chunk ended with the input the decoder holds.
    chunk_end_pending: bool,
}

/// The decoded bytes one step of the decoder makes at most (about): a
/// compressed body is inflated step by step as it is read, never a whole
/// network read at once, whatever its compression ratio.
const DECODE_STEP: usize = 64 * 1024;

/// The bytes of a body a driven request reads on the loop's thread
/// (`leave_loop_if_long`): the read-ahead's (`ClientConfig::read_ahead`).
const DRIVEN_BODY_MAX: u64 = 64 * 1024;

impl ResponseBody {
    pub(crate) fn new(
        incoming: WireBody,
        decoder: Option<Box<Decoder>>,
        lease: Lease,
        total: Option<Deadline>,
        timeouts: Timeouts,
    ) -> Self {
        let size_hint = incoming.size_hint();
        let done = incoming.is_end() && decoder.is_none();
        let mut b = ResponseBody {
            incoming: Some(incoming),
            decoder,
            lease: Some(lease),
            total,
            timeouts,
            ready: BytesMut::new(),
            front: None,
            done: false,
            raw_bytes: 0,
            direct_bytes: 0,
            size_hint,
            no_reuse: false,
            pending: None,
            chunk_ends: Default::default(),
            decoded: 0,
            upgrade: None,
            wire_done: false,
            chunk_end_pending: false,
        };
        if done {
            b.finish_ok();
        }
        b
    }

    /// An already complete body (tests, and bodies read ahead).
    pub fn complete(data: Bytes) -> Self {
        ResponseBody {
            incoming: None,
            decoder: None,
            lease: None,
            total: None,
            timeouts: Timeouts::default(),
            ready: BytesMut::new(),
            front: (!data.is_empty()).then(|| data.clone()),
            done: true,
            raw_bytes: data.len() as u64,
            direct_bytes: 0,
            size_hint: Some(data.len() as u64),
            no_reuse: true,
            pending: None,
            chunk_ends: Default::default(),
            decoded: data.len() as u64,
            upgrade: None,
            wire_done: false,
            chunk_end_pending: false,
        }
    }

    /// The empty body of a `101` answer, holding its connection.
    pub fn upgraded(up: crate::pool::Upgraded) -> Self {
        let mut b = ResponseBody::complete(Bytes::new());
        b.upgrade = Some(Box::new(up));
        b
    }

    /// The connection of a `101` answer (once).
    pub fn take_upgrade(&mut self) -> Option<crate::pool::Upgraded> {
        self.upgrade.take().map(|u| *u)
    }

    /// The body length announced by the server (before decoding), if known.
    pub fn size_hint(&self) -> Option<u64> {
        self.size_hint
    }

    /// Whether the rest comes over a socket out of the engine's reactor (a
    /// request driven on the loop's thread): best read there too, up to
    /// `DRIVEN_BODY_MAX` (`leave_loop_if_long`).
    pub fn is_detached(&self) -> bool {
        matches!(&self.incoming, Some(WireBody::H1(r)) if r.is_detached())
    }

    /// Whether the request's body is still being written on this body's
    /// connection: the server answered before it had all of it.  Such a
    /// body is to be driven from the moment it is handed over, read or not
    /// ([`ResponseBody::meanwhile`]): the server may want the rest of the
    /// upload before it sends the rest of its answer.
    pub fn is_uploading(&self) -> bool {
        self.incoming.as_ref().is_some_and(WireBody::is_uploading)
    }

    /// Wait for `until` (the reader's next demand), writing meanwhile the
    /// rest of a request body the server answered early, as aiohttp's
    /// writer goes on on its own.
    pub async fn meanwhile<F: std::future::Future>(&mut self, until: F) -> F::Output {
        if !self.is_uploading() {
            return until.await;
        }
        tokio::pin!(until);
        tokio::select! {
            biased;
            out = &mut until => return out,
            () = self.finish_upload() => {}
        }
        until.await
    }

    /// Write the rest of the request's body without reading this one (its
    /// reader comes later): returns once it is written or failed, or at the
    /// request's total deadline.
    async fn finish_upload(&mut self) {
        let Some(wire) = self.incoming.as_mut() else {
            return;
        };
        let upload = std::future::poll_fn(|cx| wire.poll_upload(cx));
        let _ = with_deadline(self.total, upload).await;
    }

    /// Whether the rest comes over a connection shared with other bodies
    /// at once (an HTTP/2 stream): its pieces then arrive spread over its
    /// whole life, interleaved with theirs.
    pub fn is_multiplexed(&self) -> bool {
        matches!(&self.incoming, Some(WireBody::H2(_)))
    }

    /// Driven on the loop's thread, a body past `DRIVEN_BODY_MAX` bytes goes
    /// on on the engine (`direct::to_engine`): driven, each segment costs a
    /// turn of the loop and its callback.  1 MiB bodies, CPU µs per MiB
    /// (uvloop / asyncio), interleaved runs: handed over at once 340-382 /
    /// 371-418; after 256 KiB 441-494 / 548-609; never 581-646 / 638-671.
    fn leave_loop_if_long(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let long = self.raw_bytes > DRIVEN_BODY_MAX && crate::connect::direct::is_driving();
        async move {
            if long {
                crate::connect::direct::to_engine().await;
            }
        }
    }

    /// Bytes received from the wire so far (before decoding).
    pub fn raw_bytes(&self) -> u64 {
        self.raw_bytes
    }

    /// Of those, the bytes read from the socket straight into a caller's
    /// buffer, with no buffer between (`read_into`).
    pub fn direct_bytes(&self) -> u64 {
        self.direct_bytes
    }

    /// Whether the whole body has been received (some may still be buffered).
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Whether everything has been received and handed out.
    pub fn is_eof(&self) -> bool {
        self.done && self.buffered() == 0 && self.pending.is_none()
    }

    /// The request's total deadline, which its body's reads keep.
    pub fn total_deadline(&self) -> Option<Deadline> {
        self.total
    }

    /// Whether the whole body arrived intact and is buffered.
    pub fn is_complete(&self) -> bool {
        self.done && self.pending.is_none()
    }

    fn finish_ok(&mut self) {
        self.done = true;
        let wire = self.incoming.take();
        if let Some(mut lease) = self.lease.take() {
            match self.no_reuse {
                false => lease.release(wire.and_then(WireBody::into_conn)),
                true => lease.close = crate::events::CloseReason::NotReusable,
            }
        }
    }

    /// Close the connection at the end of this body instead of reusing it.
    pub fn forbid_reuse(&mut self) {
        self.no_reuse = true;
        if self.done {
            if let Some(lease) = &mut self.lease {
                lease.close = crate::events::CloseReason::NotReusable;
            }
            self.lease = None;
        }
    }

    fn fail(&mut self, e: Error) -> Error {
        self.done = true;
        self.incoming = None;
        // Dropping the lease closes the connection: never reused half-read.
        if let Some(lease) = &mut self.lease {
            lease.close = crate::events::CloseReason::Failed;
        }
        self.lease = None;
        // (What is buffered stays: it came before the error, see `defer`.)
        e
    }

    /// An error met with bytes of the body buffered: they are handed out
    /// first, and the error on the read after them (nothing received is
    /// lost).  Err(e) at once when nothing is buffered.
    fn defer(&mut self, e: Error) -> Result<(), Error> {
        if self.buffered() == 0 {
            return Err(e);
        }
        self.pending = Some(e);
        Ok(())
    }

    /// The error kept by `defer` or `read_ahead`, once nothing that came
    /// before it is left.
    fn take_pending(&mut self) -> Result<(), Error> {
        match self.pending.take() {
            Some(e) if self.buffered() == 0 => Err(e),
            kept => {
                self.pending = kept;
                Ok(())
            }
        }
    }

    /// Wait until something is buffered or the body is done; an error met
    /// meanwhile is deferred behind what is buffered.
    async fn fill(&mut self) -> Result<(), Error> {
        while self.buffered() == 0 && !self.done {
            if let Err(e) = self.next_frame().await {
                return self.defer(e);
            }
        }
        Ok(())
    }

    /// Close the body now; an unfinished connection is closed, not reused.
    pub fn close(&mut self) {
        if !self.done {
            self.done = true;
            self.incoming = None;
            self.lease = None;
        }
        self.ready.clear();
        self.front = None;
    }

    /// Whether the decoder has work before the wire is read again.
    fn decoding(&self) -> bool {
        !self.done && (self.wire_done || self.decoder.as_ref().is_some_and(|d| d.has_pending()))
    }

    /// One bounded step of the decoder; at the end of the wire body, the
    /// end of the body once the decoder holds nothing.  False at the end.
    fn decode_step(&mut self) -> Result<bool, Error> {
        let Some(d) = self.decoder.as_mut() else {
            return self.end_of_body();
        };
        if !d.has_pending() {
            // (Maybe too little input to decode yet.)
            return if self.wire_done {
                self.end_of_body()
            } else {
                Ok(true)
            };
        }
        match d.pull(DECODE_STEP) {
            Ok(out) => {
                let drained = !d.has_pending();
                self.decoded += out.len() as u64;
                self.ready.extend_from_slice(&out);
                if drained && std::mem::take(&mut self.chunk_end_pending) {
                    self.mark_chunk_end();
                }
                Ok(true)
            }
            Err(e) => Err(self.fail(e)),
        }
    }

    /// As aiohttp: a chunk end is marked once, where decoded data ends (not
    /// again when a chunk decoded to nothing).
    fn mark_chunk_end(&mut self) {
        if self.chunk_ends.back() != Some(&self.decoded) && self.decoded > 0 {
            self.chunk_ends.push_back(self.decoded);
        }
    }

    fn end_of_body(&mut self) -> Result<bool, Error> {
        if let Some(d) = self.decoder.as_mut() {
            match d.finish() {
                Ok(tail) => {
                    self.decoded += tail.len() as u64;
                    self.ready.extend_from_slice(&tail);
                }
                Err(e) => return Err(self.fail(e)),
            }
        }
        self.finish_ok();
        Ok(false)
    }

    /// Handle one piece; returns false at the end of the body.
    fn on_frame(&mut self, frame: Option<Result<Piece, Error>>) -> Result<bool, Error> {
        match frame {
            None => {
                if self.decoder.as_ref().is_some_and(|d| d.has_pending()) {
                    // Decoded by the next steps, then the end.
                    self.wire_done = true;
                    return Ok(true);
                }
                self.end_of_body()
            }
            Some(Err(e)) => Err(self.fail(e)),
            Some(Ok(Piece { data, chunk_end })) => {
                self.raw_bytes += data.len() as u64;
                match self.decoder.as_mut() {
                    None => {
                        self.decoded += data.len() as u64;
                        self.keep(data);
                        if chunk_end {
                            self.mark_chunk_end();
                        }
                    }
                    Some(d) => {
                        d.push(data);
                        // Marked once this input is decoded.
                        self.chunk_end_pending |= chunk_end;
                        self.decode_step()?;
                    }
                }
                Ok(true)
            }
        }
    }

    /// Poll for a frame without waiting; `None` when none is ready.
    fn try_frame(&mut self) -> Option<Option<Result<Piece, Error>>> {
        let incoming = self.incoming.as_mut()?;
        let mut cx = Context::from_waker(Waker::noop());
        match incoming.poll_piece(&mut cx) {
            Poll::Ready(f) => Some(f),
            Poll::Pending => None,
        }
    }

    async fn next_frame(&mut self) -> Result<bool, Error> {
        if self.decoding() {
            return self.decode_step();
        }
        self.leave_loop_if_long().await;
        let deadline = self.read_deadline();
        let Some(incoming) = self.incoming.as_mut() else {
            return Ok(false);
        };
        let frame = std::future::poll_fn(|cx| incoming.poll_piece(cx));
        match with_deadline(deadline, frame).await {
            Ok(f) => self.on_frame(f),
            Err(e) => Err(self.fail(e)),
        }
    }

    /// The deadline of the next read from the wire.
    fn read_deadline(&self) -> Option<Deadline> {
        match self.timeouts.sock_read {
            // Only a per-read limit needs the time now.
            Some(_) => {
                timeout::read_deadline(std::time::Instant::now(), self.total, &self.timeouts)
            }
            None => self.total,
        }
    }

    /// The next bytes of the body written into `dst`, for a reader that
    /// puts the whole rest in its final place: straight from the socket
    /// (no buffer between) when the body is not decoded and nothing is
    /// buffered, else from what is.  Ok(0) at the end of the body (or when
    /// `dst` is full).
    pub async fn read_into(&mut self, dst: &mut ReadBuf<'_>) -> Result<usize, Error> {
        self.take_pending()?;
        loop {
            if self.buffered() > 0 || self.done || dst.remaining() == 0 {
                return Ok(self.copy_buffered(dst));
            }
            let direct = self.decoder.is_none()
                && matches!(&self.incoming, Some(WireBody::H1(r)) if r.reads_into());
            if !direct {
                self.fill().await?;
                continue;
            }
            self.leave_loop_if_long().await;
            let deadline = self.read_deadline();
            let Some(WireBody::H1(r)) = self.incoming.as_mut() else {
                return Ok(0);
            };
            let read = std::future::poll_fn(|cx| r.poll_read_into(cx, dst));
            let n = match with_deadline(deadline, read).await {
                Ok(Ok(n)) => n,
                Ok(Err(e)) | Err(e) => return Err(self.fail(e)),
            };
            self.raw_bytes += n as u64;
            self.direct_bytes += n as u64;
            self.decoded += n as u64;
            if r.is_done() {
                self.end_of_body()?;
            }
            return Ok(n);
        }
    }

    /// Copy what is buffered into `dst`, as much as fits: the byte count.
    fn copy_buffered(&mut self, dst: &mut ReadBuf<'_>) -> usize {
        let mut n = 0;
        if let Some(f) = self.front.as_mut() {
            let k = f.len().min(dst.remaining());
            dst.put_slice(&f.split_to(k));
            n += k;
            if f.is_empty() {
                self.front = None;
            }
        }
        let k = self.ready.len().min(dst.remaining());
        dst.put_slice(&self.ready.split_to(k));
        n + k
    }

    /// Buffer a frame of an undecoded body: kept as it is (no copy) when
    /// nothing else is buffered, else appended.
    fn keep(&mut self, data: Bytes) {
        if data.is_empty() {
            return;
        }
        if self.ready.is_empty() && self.front.is_none() {
            self.front = Some(data);
            return;
        }
        if let Some(f) = self.front.take() {
            // (`ready` is empty while a frame is kept.)
            self.ready.reserve(f.len() + data.len());
            self.ready.extend_from_slice(&f);
        }
        self.ready.extend_from_slice(&data);
    }

    /// Everything buffered as one piece (no copy), if anything is.
    fn take_piece(&mut self) -> Option<Bytes> {
        if let Some(f) = self.front.take() {
            return Some(f);
        }
        (!self.ready.is_empty()).then(|| self.ready.split().freeze())
    }

    /// The next piece of the body as it arrives, pieces never merged: a
    /// frame of a body that is not decoded is handed on as it is (no copy).
    /// `None` at the end.  For a reader that keeps every piece (the whole
    /// rest) and copies them once, into their final place.
    pub async fn next_piece(&mut self) -> Result<Option<Bytes>, Error> {
        self.take_pending()?;
        self.fill().await?;
        Ok(self.take_piece())
    }

    /// Take what arrived without waiting, up to `max` decoded bytes buffered.
    pub fn read_available(&mut self, max: usize) -> Result<(), Error> {
        while !self.done && self.buffered() < max {
            if self.decoding() {
                if !self.decode_step()? {
                    break;
                }
                continue;
            }
            match self.try_frame() {
                Some(f) => {
                    if !self.on_frame(f)? {
                        break;
                    }
                }
                None => break,
            }
        }
        Ok(())
    }

    /// The next piece of the body, at most `max` bytes (more may be
    /// buffered for later); `None` at the end.  Waits for at least one byte.
    /// An error is returned once the bytes that came before it are taken.
    pub async fn chunk(&mut self, max: usize) -> Result<Option<Bytes>, Error> {
        self.take_pending()?;
        let max = max.max(1);
        self.fill().await?;
        if self.pending.is_none() {
            if let Err(e) = self.read_available(max) {
                self.defer(e)?;
            }
        }
        if let Some(f) = self.front.as_mut() {
            let out = f.split_to(f.len().min(max));
            if f.is_empty() {
                self.front = None;
            }
            return Ok(Some(out));
        }
        if self.ready.is_empty() {
            return Ok(None);
        }
        let n = self.ready.len().min(max);
        Ok(Some(self.ready.split_to(n).freeze()))
    }

    /// Everything left in the body.
    pub async fn read_to_end(&mut self) -> Result<Bytes, Error> {
        if let Some(e) = self.pending.take() {
            return Err(self.dropping_buffered(e));
        }
        if let (None, Some(n)) = (&self.decoder, self.size_hint) {
            // The announced length at once: no regrowth copies (bounded, in
            // case a server announces more than it sends).
            let want = (n as usize).min(64 << 20);
            self.ready.reserve(want.saturating_sub(self.buffered()));
        }
        while !self.done {
            if let Err(e) = self.next_frame().await {
                return Err(self.dropping_buffered(e));
            }
        }
        Ok(self.take_buffered())
    }

    /// Read ahead what is at hand so that a small response is answered in
    /// one hop: what has already arrived, and a small announced body that
    /// follows its head within `grace` (servers often write the body in a
    /// second segment).  Never longer: a stalled body leaves the response to
    /// be answered at its head, as aiohttp does.  An error met here is kept
    /// for the next read, as aiohttp raises body errors from `read()`.
    pub async fn read_ahead(&mut self, limit: usize, grace: std::time::Duration) {
        // (Driven on the loop's thread there is no connection task.)
        let yields = if crate::connect::direct::is_driving() {
            1
        } else {
            3
        };
        for i in 0..yields {
            if self.read_ahead_at_once(limit) {
                return;
            }
            if i + 1 < yields {
                // Let the connection task hand over what it has buffered.
                tokio::task::yield_now().await;
            }
        }
        if self.size_hint.is_none_or(|n| n as usize > limit) {
            return;
        }
        let until = tokio::time::Instant::now() + grace;
        while !self.done && !self.decoding() {
            let Some(incoming) = self.incoming.as_mut() else {
                return;
            };
            let frame = std::future::poll_fn(|cx| incoming.poll_piece(cx));
            match grace_timeout(until, frame).await {
                Ok(f) => {
                    if let Err(e) = self.on_frame(f) {
                        self.pending = Some(e);
                        return;
                    }
                }
                Err(_) => return,
            }
        }
    }

    /// The first step of [`Self::read_ahead`], without waiting: true when
    /// there is nothing more to read ahead (the body is whole, `limit` is
    /// buffered, or an error was met and kept).
    pub fn read_ahead_at_once(&mut self, limit: usize) -> bool {
        if let Err(e) = self.read_available(limit) {
            self.pending = Some(e);
            return true;
        }
        self.done || self.buffered() >= limit
    }

    /// Whether chunk ends wait to be taken.
    pub fn has_chunk_ends(&self) -> bool {
        !self.chunk_ends.is_empty()
    }

    /// Where HTTP chunks of a chunked body ended so far, as offsets into
    /// the decoded body (each taken once): aiohttp's `readchunk()` flag.
    pub fn drain_chunk_ends(&mut self) -> impl Iterator<Item = u64> + '_ {
        self.chunk_ends.drain(..)
    }

    /// The exact length of the rest of the body (buffered and still on the
    /// wire), when it is known: the body is not decoded and its length was
    /// announced.  Lets a reader of the whole rest size its buffer once.
    pub fn exact_rest(&self) -> Option<u64> {
        if self.decoder.is_some() || self.pending.is_some() {
            return None;
        }
        let wire = match (&self.incoming, self.done) {
            (_, true) => 0,
            (Some(w), false) => w.size_hint()?,
            (None, false) => return None,
        };
        Some(wire + self.buffered() as u64)
    }

    /// Decoded bytes buffered and not handed out.
    pub fn buffered(&self) -> usize {
        self.ready.len() + self.front.as_ref().map_or(0, Bytes::len)
    }

    /// `e`, for a read of the whole rest: what is buffered goes with it.
    fn dropping_buffered(&mut self, e: Error) -> Error {
        self.ready.clear();
        self.front = None;
        e
    }

    /// Take the whole buffer (only meaningful once `is_done`).
    pub fn take_buffered(&mut self) -> Bytes {
        self.take_piece().unwrap_or_default()
    }
}

impl Drop for ResponseBody {
    fn drop(&mut self) {
        self.close();
    }
}

/// `timeout_at` for the read-ahead's short grace: driven on the loop's
/// thread, the driver's own timer polls again at the deadline
/// (`direct::wake_at`) instead of a tokio timer, whose registration would
/// wake the engine thread (twice: to set it, then when it expires).
async fn grace_timeout<F: std::future::Future>(
    until: tokio::time::Instant,
    fut: F,
) -> Result<F::Output, ()> {
    if !crate::connect::direct::is_driving() {
        return tokio::time::timeout_at(until, fut).await.map_err(|_| ());
    }
    let mut fut = std::pin::pin!(fut);
    std::future::poll_fn(|cx| {
        if let std::task::Poll::Ready(v) = fut.as_mut().poll(cx) {
            return std::task::Poll::Ready(Ok(v));
        }
        if tokio::time::Instant::now() >= until {
            return std::task::Poll::Ready(Err(()));
        }
        crate::connect::direct::wake_at(until.into_std());
        std::task::Poll::Pending
    })
    .await
}
