//! One HTTP/1.1 connection, driven by whoever holds it (no task of its
//! own): `exchange` writes a request and reads its final head, the
//! returned [`Reader`] reads the body off the same buffer and gives the
//! connection back once it ended cleanly.  A body still being written when
//! the head arrives goes on being written while the response body is read
//! (a server may stream its answer while it reads the upload).

use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::body::{BodyError, Decode, Piece};
use super::head::{self, Framing, HeadError, RequestHead, ResponseHead};
use crate::body::request::RequestBody;
use crate::connect::Stream;
use crate::error::{Error, ErrorKind};

/// How long a body waits for `100 Continue` before it is sent anyway.
pub const EXPECT_CONTINUE_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

/// Smallest and largest read into the buffer.
const READ_MIN: usize = 8 * 1024;
const READ_MAX: usize = 512 * 1024;
/// Bodies up to this size go out in the same write as their head.
const INLINE_BODY: usize = 16 * 1024;

/// An idle or leased HTTP/1.1 connection.
pub struct Conn {
    io: Stream,
    /// Bytes read and not yet consumed.
    buf: BytesMut,
    /// The next read's size (grows while reads fill it).
    read_size: usize,
}

/// What one request needs besides its head.
pub struct Exchange<'a> {
    pub head: RequestHead<'a>,
    pub body: RequestBody,
    /// `chunked` transfer coding for the body.
    pub chunked: bool,
    /// Hold the body until `100 Continue` (or [`EXPECT_CONTINUE_WAIT`]).
    pub expect: bool,
    pub max_fields: usize,
    /// The largest head accepted, in bytes.
    pub max_head: usize,
    pub method_is_head: bool,
}

/// A final response head and its body, still on the connection.
pub struct Answer {
    pub head: ResponseHead,
    pub reader: Reader,
    /// `101 Switching Protocols`: the connection now speaks another protocol.
    pub upgrade: bool,
}

impl Conn {
    pub fn new(io: Stream) -> Self {
        Conn {
            io,
            buf: BytesMut::new(),
            read_size: READ_MIN,
        }
    }

    /// Whether an idle connection can still be used: the peer neither
    /// closed it nor sent anything unasked (checked without waiting).
    pub fn is_open(&mut self) -> bool {
        if !self.buf.is_empty() {
            return false;
        }
        let _check = crate::connect::direct::checking();
        let mut cx = Context::from_waker(std::task::Waker::noop());
        !matches!(self.poll_fill(&mut cx), Poll::Ready(_))
    }

    /// The byte stream and what was read past the last head (an upgrade).
    pub fn into_parts(self) -> (Stream, BytesMut) {
        (self.io, self.buf)
    }

    /// Read more into the buffer: the byte count, 0 at the end.
    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        if self.buf.capacity() - self.buf.len() < READ_MIN / 2 {
            self.buf.reserve(self.read_size);
        }
        let spare = self.buf.capacity() - self.buf.len();
        let n = std::task::ready!(poll_read_buf(&mut self.io, cx, &mut self.buf))?;
        if n == spare && self.read_size < READ_MAX {
            self.read_size *= 2;
        }
        Poll::Ready(Ok(n))
    }

    /// Write a request and read its final head (1xx heads are skipped;
    /// `100` opens an `Expect` body).
    pub async fn exchange(mut self, ex: Exchange<'_>) -> Result<Answer, (Error, Option<Conn>)> {
        let mut first = BytesMut::new();
        if let Err(e) = head::write_request(&ex.head, &mut first) {
            let err = Error::new(ErrorKind::InvalidArgument, e.0);
            return Err((err, Some(self)));
        }
        let mut writer = Writer::new(first, ex.body, ex.chunked, ex.expect);
        let mut continued = false;
        let got = std::future::poll_fn(|cx| {
            self.poll_final_head(cx, &mut writer, &mut continued, ex.max_fields, ex.max_head)
        })
        .await;
        let head = got.map_err(|e| (e, None))?;
        let framing = head::framing(&head, ex.method_is_head).map_err(|e| (head_error(e), None))?;
        let upgrade = head.status == 101;
        let missed_continue = ex.expect && !continued;
        let reusable = head::keep_alive(&head) && !missed_continue && !upgrade;
        // A final answer to an `Expect` request that got no `100`: its body
        // is not sent at all.
        let sending = !writer.is_done() && writer.gate_open;
        // (Boxed: kept only while an upload goes on past the head.)
        let writer = sending.then(|| Box::new(writer));
        let framing = if upgrade { Framing::Empty } else { framing };
        Ok(Answer {
            head,
            reader: Reader {
                decode: Decode::new(framing),
                conn: Some(self),
                writer,
                reusable,
            },
            upgrade,
        })
    }

    fn poll_final_head(
        &mut self,
        cx: &mut Context<'_>,
        w: &mut Writer,
        continued: &mut bool,
        max_fields: usize,
        max_head: usize,
    ) -> Poll<Result<ResponseHead, Error>> {
        loop {
            match head::parse_response_within(&mut self.buf, max_fields, max_head) {
                Ok(Some(h)) if h.status == 100 => {
                    *continued = true;
                    w.gate_open = true;
                    continue;
                }
                Ok(Some(h)) if (102..=199).contains(&h.status) => continue,
                Ok(Some(h)) => return Poll::Ready(Ok(h)),
                Ok(None) => {}
                Err(e) => return Poll::Ready(Err(head_error(e))),
            }
            let _ = w.poll(cx, &mut self.io);
            if w.aborted {
                return Poll::Ready(Err(Error::new(
                    ErrorKind::InvalidArgument,
                    "request body aborted",
                )));
            }
            match std::task::ready!(self.poll_fill(cx)) {
                Ok(0) => {
                    let err = match w.failed.take() {
                        Some(e) => io_error(e),
                        None => disconnected(),
                    };
                    return Poll::Ready(Err(err));
                }
                Ok(_) => {}
                Err(e) => return Poll::Ready(Err(w.failed.take().map_or(io_error(e), io_error))),
            }
        }
    }
}

/// A response body on its connection.
pub struct Reader {
    conn: Option<Conn>,
    decode: Decode,
    /// The request body, when it is still being written.
    writer: Option<Box<Writer>>,
    reusable: bool,
}

impl Reader {
    /// Its connection is out of the engine's reactor (`Stream::Direct`).
    pub fn is_detached(&self) -> bool {
        matches!(&self.conn, Some(c) if matches!(c.io, Stream::Direct(_)))
    }

    /// The body length announced, when known.
    pub fn size_hint(&self) -> Option<u64> {
        self.decode.remaining()
    }

    pub fn is_done(&self) -> bool {
        self.decode.is_done()
    }

    /// Whether the request body is still being written (the server
    /// answered before it had all of it).
    pub fn is_uploading(&self) -> bool {
        self.conn.is_some() && self.writer.is_some()
    }

    /// Write the rest of the request body without reading the answer:
    /// Ready once it is all written, or its writing failed (the connection
    /// then serves no other request; a read meets the error).
    pub fn poll_upload(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let (Some(conn), Some(w)) = (self.conn.as_mut(), self.writer.as_mut()) else {
            return Poll::Ready(());
        };
        let done = std::task::ready!(w.poll(cx, &mut conn.io));
        self.reusable &= done;
        self.writer = None;
        Poll::Ready(())
    }

    /// The next piece of the body; `None` at its end.
    pub fn poll_piece(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Piece, Error>>> {
        let Some(conn) = self.conn.as_mut() else {
            return Poll::Ready(None);
        };
        if let Some(w) = self.writer.as_mut() {
            if let Poll::Ready(done) = w.poll(cx, &mut conn.io) {
                self.reusable &= done;
                self.writer = None;
            }
        }
        loop {
            match self.decode.step(&mut conn.buf) {
                Ok(Some(p)) => return Poll::Ready(Some(Ok(p))),
                Ok(None) if self.decode.is_done() => return Poll::Ready(None),
                Ok(None) => {}
                Err(e) => return Poll::Ready(Some(Err(body_error(e)))),
            }
            match std::task::ready!(conn.poll_fill(cx)) {
                Ok(0) => {
                    if self.decode.on_eof().is_err() {
                        return Poll::Ready(Some(Err(incomplete(&self.decode))));
                    }
                }
                Ok(_) => {}
                Err(e) => return Poll::Ready(Some(Err(payload_io_error(e)))),
            }
        }
    }

    /// Whether the body can be read straight into a caller's buffer
    /// (`poll_read_into`): framed by Content-Length, with bytes still to
    /// come, nothing read ahead into the connection's buffer and no request
    /// body still being written.
    pub fn reads_into(&self) -> bool {
        matches!(&self.conn, Some(c) if c.buf.is_empty())
            && self.writer.is_none()
            && self.decode.remaining().is_some_and(|n| n > 0)
    }

    /// Read the body straight from the socket into `dst` (when
    /// `reads_into`), at most what is still announced: the byte count.  A
    /// connection that ends first is an incomplete payload.  (Bytes a server
    /// sends past its Content-Length stay in the socket: the liveness check
    /// of the connection's next checkout, `Conn::is_open`, sees them and
    /// drops it.)
    pub fn poll_read_into(
        &mut self,
        cx: &mut Context<'_>,
        dst: &mut ReadBuf<'_>,
    ) -> Poll<Result<usize, Error>> {
        let (Some(conn), Some(left)) = (self.conn.as_mut(), self.decode.remaining()) else {
            return Poll::Ready(Ok(0));
        };
        let room = usize::try_from(left)
            .unwrap_or(usize::MAX)
            .min(dst.remaining());
        let mut part = dst.take(room);
        let start = part.filled().as_ptr();
        std::task::ready!(Pin::new(&mut conn.io).poll_read(cx, &mut part))
            .map_err(payload_io_error)?;
        // (A reader must fill the buffer it was given, not swap it.)
        debug_assert_eq!(part.filled().as_ptr(), start);
        let n = part.filled().len();
        if n == 0 && room > 0 {
            return Poll::Ready(Err(incomplete(&self.decode)));
        }
        // SAFETY: `part` is the front of `dst`'s unfilled part, and its
        // reader initialised its first `n` bytes.
        unsafe { dst.assume_init(n) };
        dst.advance(n);
        self.decode.consumed(n as u64);
        Poll::Ready(Ok(n))
    }

    /// The connection, when the body ended cleanly and it may serve again.
    pub fn into_conn(mut self) -> Option<Conn> {
        let reusable = self.reusable
            && self.writer.is_none()
            && self.decode.is_done()
            && !self.decode.until_close();
        let conn = self.conn.take()?;
        (reusable && conn.buf.is_empty()).then_some(conn)
    }

    /// The connection whatever its state (for an upgrade).
    pub fn take_conn(mut self) -> Option<Conn> {
        self.conn.take()
    }

    /// A reader of nothing, on no connection.
    pub fn none() -> Self {
        Reader {
            conn: None,
            decode: Decode::new(Framing::Empty),
            writer: None,
            reusable: false,
        }
    }
}

/// Writes a request: the head, then its body framed, as the socket and the
/// body's source allow.
struct Writer {
    queue: VecDeque<Bytes>,
    body: Option<RequestBody>,
    chunked: bool,
    /// The body may go (no `Expect`, or `100` came, or the wait ran out).
    gate_open: bool,
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
    flushed: bool,
    /// The write error that stopped writing (reported if no answer comes).
    failed: Option<io::Error>,
    /// The body's source failed: the request cannot be completed.
    aborted: bool,
}

impl Writer {
    fn new(mut first: BytesMut, body: RequestBody, chunked: bool, expect: bool) -> Self {
        let mut body = Some(body).filter(|b| !http_body::Body::is_end_stream(b));
        // A whole body goes with the head: a small one copied into the
        // head's buffer, a larger one queued after it (no copy; one vectored
        // write, instead of a system call and a segment for the head alone).
        let mut after = None;
        if let (false, false, Some(RequestBody::Full(Some(_)))) = (expect, chunked, &body) {
            if let Some(RequestBody::Full(Some(b))) = body.take() {
                match b.len() <= INLINE_BODY {
                    true => first.extend_from_slice(&b),
                    false => after = Some(b),
                }
            }
        }
        let mut queue = VecDeque::with_capacity(4);
        queue.push_back(first.freeze());
        queue.extend(after);
        if body.is_none() && chunked {
            queue.push_back(Bytes::from_static(b"0\r\n\r\n"));
        }
        let waits = expect && body.is_some();
        Writer {
            queue,
            body,
            chunked,
            gate_open: !waits,
            timer: waits.then(|| Box::pin(tokio::time::sleep(EXPECT_CONTINUE_WAIT))),
            flushed: false,
            failed: None,
            aborted: false,
        }
    }

    fn is_done(&self) -> bool {
        self.queue.is_empty() && self.body.is_none() && self.flushed
    }

    /// Make progress; `Ready(true)` when all is written, `Ready(false)`
    /// when writing stopped on an error or an aborted body source.
    fn poll(&mut self, cx: &mut Context<'_>, io: &mut Stream) -> Poll<bool> {
        if self.failed.is_some() {
            return Poll::Ready(false);
        }
        loop {
            while !self.queue.is_empty() {
                match poll_write_queue(io, cx, &mut self.queue) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Ok(())) => {}
                    Poll::Ready(Err(e)) => {
                        self.failed = Some(e);
                        return Poll::Ready(false);
                    }
                }
            }
            if self.body.is_none() {
                return self.poll_flush(cx, io);
            }
            if !self.gate_open {
                match self.timer.as_mut().map(|t| t.as_mut().poll(cx)) {
                    Some(Poll::Pending) => return Poll::Pending,
                    _ => self.gate_open = true,
                }
            }
            match std::task::ready!(self.poll_body(cx)) {
                Ok(()) => {}
                Err(()) => return Poll::Ready(false),
            }
        }
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>, io: &mut Stream) -> Poll<bool> {
        if !self.flushed {
            if let Err(e) = std::task::ready!(Pin::new(io).poll_flush(cx)) {
                self.failed = Some(e);
                return Poll::Ready(false);
            }
            self.flushed = true;
        }
        Poll::Ready(true)
    }

    /// Queue the body's next frame (framed); `Err` when its source failed.
    fn poll_body(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), ()>> {
        let Some(body) = self.body.as_mut() else {
            return Poll::Ready(Ok(()));
        };
        match std::task::ready!(http_body::Body::poll_frame(Pin::new(body), cx)) {
            None => {
                self.body = None;
                if self.chunked {
                    self.queue.push_back(Bytes::from_static(b"0\r\n\r\n"));
                }
            }
            Some(Err(_)) => {
                // The source failed: the request cannot be completed; the
                // caller reports the source's error.
                self.body = None;
                self.aborted = true;
                self.failed = Some(io::Error::other("request body aborted"));
                return Poll::Ready(Err(()));
            }
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    if !data.is_empty() {
                        if self.chunked {
                            self.queue
                                .push_back(Bytes::from(format!("{:x}\r\n", data.len())));
                            self.queue.push_back(data);
                            self.queue.push_back(Bytes::from_static(b"\r\n"));
                        } else {
                            self.queue.push_back(data);
                        }
                    }
                }
            }
        }
        Poll::Ready(Ok(()))
    }
}

/// Write from the queue (vectored when the stream can); drops what went.
fn poll_write_queue(
    io: &mut Stream,
    cx: &mut Context<'_>,
    queue: &mut VecDeque<Bytes>,
) -> Poll<io::Result<()>> {
    let n = if io.is_write_vectored() && queue.len() > 1 {
        let slices: Vec<io::IoSlice<'_>> = queue.iter().map(|b| io::IoSlice::new(b)).collect();
        std::task::ready!(Pin::new(&mut *io).poll_write_vectored(cx, &slices))?
    } else {
        let front = queue.front().map_or(&[][..], |b| &b[..]);
        std::task::ready!(Pin::new(&mut *io).poll_write(cx, front))?
    };
    if n == 0 {
        return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
    }
    let mut left = n;
    while left > 0 {
        let Some(front) = queue.front_mut() else {
            break;
        };
        if front.len() <= left {
            left -= front.len();
            queue.pop_front();
        } else {
            let _ = front.split_to(left);
            left = 0;
        }
    }
    Poll::Ready(Ok(()))
}

fn poll_read_buf(
    io: &mut Stream,
    cx: &mut Context<'_>,
    buf: &mut BytesMut,
) -> Poll<io::Result<usize>> {
    let spare = buf.spare_capacity_mut();
    let mut rb = ReadBuf::uninit(spare);
    std::task::ready!(Pin::new(io).poll_read(cx, &mut rb))?;
    let n = rb.filled().len();
    // SAFETY: `poll_read` initialised the first `n` spare bytes.
    unsafe { buf.set_len(buf.len() + n) };
    Poll::Ready(Ok(n))
}

fn head_error(e: HeadError) -> Error {
    let msg = match e {
        HeadError::TooManyHeaders => "Too many headers received".to_owned(),
        HeadError::TooLarge => "Invalid response: message head is too large".to_owned(),
        HeadError::Invalid(m) => format!("Invalid response: {m}"),
    };
    Error::new(ErrorKind::BadResponse, msg)
}

fn disconnected() -> Error {
    Error::new(ErrorKind::ServerDisconnected, "Server disconnected")
}

/// A failed read or write before the answer: a TLS peer that hangs up
/// without close_notify is a disconnect.
fn io_error(e: io::Error) -> Error {
    if e.kind() == io::ErrorKind::UnexpectedEof {
        return Error::new(
            ErrorKind::ServerDisconnected,
            format!("Server disconnected: {e}"),
        )
        .with_io(&e)
        .with_source(e);
    }
    Error::new(ErrorKind::Io, e.to_string())
        .with_io(&e)
        .with_source(e)
}

fn body_error(e: BodyError) -> Error {
    Error::payload(format!("Response payload is not completed: {}", e.0))
}

/// A body that ended before its framing said it would.
fn incomplete(decode: &Decode) -> Error {
    Error::payload(format!(
        "Response payload is not completed: {}",
        decode.incomplete()
    ))
}

fn payload_io_error(e: io::Error) -> Error {
    Error::payload(format!("Response payload is not completed: {e}")).with_source(e)
}
