//! A WebSocket connection over any byte stream: a reader half that decodes
//! messages and a writer half that encodes them, usable from two tasks at
//! once (split the stream; put the writer behind a `tokio::sync::Mutex` when
//! several tasks send).

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};

use super::deflate::Deflater;
use super::frame::{
    self, Decoder, Role, MAX_CONTROL_PAYLOAD, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG, OP_TEXT,
};
use super::handshake::DeflateParams;
use super::message::Assembler;
use super::{Message, WsError};

/// aiohttp's default `max_msg_size`: 4 MiB.
pub const DEFAULT_MAX_MSG_SIZE: usize = 4 * 1024 * 1024;

/// Read at least this much spare room before each read from the stream.
const READ_CHUNK: usize = 16 * 1024;

/// How one connection behaves, from the handshake's outcome.
#[derive(Clone, Debug)]
pub struct Config {
    /// Client (masks what it sends) or server.
    pub role: Role,
    /// Largest message accepted, on the wire and inflated (0: no limit).
    pub max_msg_size: usize,
    /// permessage-deflate, when negotiated.
    pub deflate: Option<DeflateParams>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            role: Role::Client,
            max_msg_size: DEFAULT_MAX_MSG_SIZE,
            deflate: None,
        }
    }
}

/// The receiving half: decodes frames from `io` into messages.
///
/// Errors are sticky: after a protocol error, an I/O error or EOF, every
/// later call returns the same error. Reads are cancel-safe (a cancelled
/// `recv` loses nothing: bytes read are kept in the buffer).
pub struct WsReader<R> {
    io: R,
    buf: BytesMut,
    decoder: Decoder,
    assembler: Assembler,
    failed: Option<WsError>,
    /// Bytes read from the stream so far, shared with whoever watches the
    /// connection's liveness (a heartbeat: data arriving, even a frame not
    /// yet complete, is an answer).
    received: Arc<AtomicU64>,
}

impl<R: AsyncRead + Unpin> WsReader<R> {
    /// A reader over `io`; `read_ahead` is what the HTTP layer already read
    /// past the `101` head (the first frames may be in it).
    pub fn new(io: R, config: &Config, read_ahead: &[u8]) -> WsReader<R> {
        let deflate = config.deflate.is_some();
        let mut buf = BytesMut::with_capacity(READ_CHUNK.max(read_ahead.len()));
        buf.extend_from_slice(read_ahead);
        WsReader {
            io,
            buf,
            decoder: Decoder::new(config.role, deflate),
            assembler: Assembler::new(config.max_msg_size, deflate),
            failed: None,
            received: Arc::default(),
        }
    }

    /// The count of bytes read from the stream, shared: it goes on growing
    /// while the reader is owned elsewhere.
    pub fn received(&self) -> Arc<AtomicU64> {
        self.received.clone()
    }

    /// The next message among the bytes already received, without reading:
    /// `Ok(None)` when no complete message is buffered.
    pub fn next_buffered(&mut self) -> Result<Option<Message>, WsError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let max = self.assembler.max_msg_size() as u64;
        loop {
            let step = self
                .decoder
                .decode(&mut self.buf, self.assembler.used(), max)
                .and_then(|f| f.map(|f| self.assembler.push(f)).transpose());
            match step {
                Ok(None) => return self.check_incomplete().map(|()| None),
                Ok(Some(Some(msg))) => return Ok(Some(msg)),
                Ok(Some(None)) => {}
                Err(e) => return Err(self.fail(e.into())),
            }
        }
    }

    /// The next message, reading from the stream as needed. A peer's close
    /// frame is a message (`Message::Close`); EOF is `WsError::Eof`.
    pub async fn recv(&mut self) -> Result<Message, WsError> {
        let mut one = self.recv_many(1).await?;
        one.pop().ok_or(WsError::Eof)
    }

    /// Wait for one message, then take every other complete message that
    /// the stream has ready, up to `max` in all: messages that arrived
    /// together are delivered in one hop. An error met after the first
    /// message is kept for the next call.
    pub async fn recv_many(&mut self, max: usize) -> Result<Vec<Message>, WsError> {
        std::future::poll_fn(|cx| self.poll_recv_many(cx, max)).await
    }

    /// [`WsReader::recv_many`] as a poll: the complete messages buffered or
    /// readable now (up to `max`), `Pending` when there is none yet.  With
    /// a stream detached from the reactor ([`crate::connect::direct`]) the
    /// owner calls this when its loop reports the socket readable.
    pub fn poll_recv_many(
        &mut self,
        cx: &mut std::task::Context<'_>,
        max: usize,
    ) -> std::task::Poll<Result<Vec<Message>, WsError>> {
        use std::task::Poll;
        let mut out = Vec::new();
        let mut drained = false;
        loop {
            match self.next_buffered() {
                Ok(Some(msg)) => {
                    out.push(msg);
                    if out.len() >= max.max(1) {
                        return Poll::Ready(Ok(out));
                    }
                    continue;
                }
                Ok(None) => {}
                Err(e) if out.is_empty() => return Poll::Ready(Err(e)),
                Err(_) => return Poll::Ready(Ok(out)),
            }
            if drained && !out.is_empty() {
                // A short read emptied the stream: deliver what is complete
                // rather than read again for a "would block".
                return Poll::Ready(Ok(out));
            }
            match self.poll_fill(cx) {
                Poll::Ready(Ok(short)) => drained = short,
                Poll::Ready(Err(e)) if out.is_empty() => return Poll::Ready(Err(e)),
                Poll::Pending if out.is_empty() => return Poll::Pending,
                _ => return Poll::Ready(Ok(out)),
            }
        }
    }

    /// The read has ended (an error, EOF) and the next call returns it:
    /// for an owner that polls on readiness, which this state never gives.
    pub fn has_ended(&self) -> bool {
        self.failed.is_some()
    }

    /// Fail fast on invalid text in a frame that is still arriving.
    fn check_incomplete(&mut self) -> Result<(), WsError> {
        let Some((opcode, rsv1, payload)) = self.decoder.peek_incomplete(&self.buf) else {
            return Ok(());
        };
        let checked = self.assembler.check_incomplete(opcode, rsv1, payload);
        checked.map_err(|e| self.fail(e.into()))
    }

    /// Read more bytes into the buffer: `Ready(Ok(short))`, `short` when
    /// the read did not fill the room offered.  EOF and I/O errors are
    /// sticky.
    fn poll_fill(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<bool, WsError>> {
        use std::task::Poll;
        if self.buf.capacity() - self.buf.len() < READ_CHUNK / 4 {
            self.buf.reserve(READ_CHUNK);
        }
        let mut room = tokio::io::ReadBuf::uninit(self.buf.spare_capacity_mut());
        match std::pin::Pin::new(&mut self.io).poll_read(cx, &mut room) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Err(e)) => Poll::Ready(Err(self.fail(e.into()))),
            Poll::Ready(Ok(())) => {
                let (n, short) = (room.filled().len(), room.remaining() > 0);
                if n == 0 {
                    return Poll::Ready(Err(self.fail(WsError::Eof)));
                }
                // SAFETY: the reader initialised the first `n` bytes of the
                // spare capacity it was given.
                unsafe { self.buf.set_len(self.buf.len() + n) };
                self.received.fetch_add(n as u64, Ordering::Relaxed);
                Poll::Ready(Ok(short))
            }
        }
    }

    /// Remember `e` as the reader's final state and return it.
    fn fail(&mut self, e: WsError) -> WsError {
        self.failed = Some(e.clone());
        e
    }

    /// The underlying stream.
    pub fn get_mut(&mut self) -> &mut R {
        &mut self.io
    }
}

/// Random masks drawn from the CSPRNG 64 at a time (one syscall per 64
/// frames rather than per frame).
struct Masks {
    pool: [u8; 256],
    next: usize,
}

impl Masks {
    fn new() -> Masks {
        Masks {
            pool: [0; 256],
            next: 256,
        }
    }

    fn take(&mut self) -> [u8; 4] {
        if self.next + 4 > self.pool.len() {
            super::fill_random(&mut self.pool);
            self.next = 0;
        }
        let m = &self.pool[self.next..self.next + 4];
        self.next += 4;
        [m[0], m[1], m[2], m[3]]
    }
}

/// The sending half: encodes messages (compressing data frames when
/// permessage-deflate was negotiated, masking as a client) and writes them.
///
/// Encoding is synchronous and goes to an output buffer that `flush` writes
/// out; a cancelled `send` leaves the rest of its frame in the buffer, to be
/// written first by the next call, so frames never interleave or tear.
pub struct WsWriter<W> {
    io: W,
    role: Role,
    deflater: Option<Deflater>,
    deflate: Option<DeflateParams>,
    out: BytesMut,
    scratch: Vec<u8>,
    masks: Masks,
    closing: bool,
}

impl<W: AsyncWrite + Unpin> WsWriter<W> {
    /// A writer over `io`.
    pub fn new(io: W, config: &Config) -> WsWriter<W> {
        let deflater = config.deflate.map(|d| match config.role {
            Role::Client => Deflater::new(d.client_max_window_bits, d.client_no_context_takeover),
            Role::Server => Deflater::new(d.server_max_window_bits, d.server_no_context_takeover),
        });
        WsWriter {
            io,
            role: config.role,
            deflater,
            deflate: config.deflate,
            out: BytesMut::new(),
            scratch: Vec::new(),
            masks: Masks::new(),
            closing: false,
        }
    }

    /// A close frame was sent: only control frames may follow.
    pub fn is_closing(&self) -> bool {
        self.closing
    }

    /// Encode `msg` into the output buffer (see [`WsWriter::encode_frame`]).
    pub fn encode(&mut self, msg: &Message) -> Result<(), WsError> {
        match msg {
            Message::Text(t) => self.encode_frame(OP_TEXT, t.as_bytes(), None),
            Message::Binary(b) => self.encode_frame(OP_BINARY, b, None),
            Message::Ping(b) => self.encode_frame(OP_PING, b, None),
            Message::Pong(b) => self.encode_frame(OP_PONG, b, None),
            Message::Close(code, reason) => {
                let mut payload = Vec::with_capacity(2 + reason.len());
                if let Some(code) = code {
                    payload.extend_from_slice(&code.to_be_bytes());
                    payload.extend_from_slice(reason.as_bytes());
                }
                self.encode_frame(OP_CLOSE, &payload, None)
            }
        }
    }

    /// Encode one unfragmented message with `opcode` into the output buffer.
    /// Data frames are compressed when deflate was negotiated: with the
    /// connection's compressor, or with `compress` window bits given, a
    /// one-off compressor (aiohttp's per-call `compress=`; ignored when
    /// deflate was not negotiated). Control payloads over 125 bytes and data
    /// after a close are refused.
    pub fn encode_frame(
        &mut self,
        opcode: u8,
        payload: &[u8],
        compress: Option<u8>,
    ) -> Result<(), WsError> {
        let control = frame::is_control(opcode);
        if self.closing && !control {
            return Err(io::Error::new(
                io::ErrorKind::ConnectionReset,
                "Cannot write to closing transport",
            )
            .into());
        }
        if control && payload.len() > MAX_CONTROL_PAYLOAD {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "control frame payload over 125 bytes",
            )
            .into());
        }
        if control || self.deflate.is_none() {
            self.encode_raw(true, false, opcode, payload);
        } else {
            let mut scratch = std::mem::take(&mut self.scratch);
            scratch.clear();
            let result = match (compress, &mut self.deflater) {
                (Some(bits), _) => Deflater::new(bits, true).compress(payload, &mut scratch),
                (None, Some(d)) => d.compress(payload, &mut scratch),
                (None, None) => Ok(()),
            };
            if let Err(e) = result {
                self.scratch = scratch;
                return Err(e.into());
            }
            self.encode_raw(true, true, opcode, &scratch);
            self.scratch = scratch;
        }
        self.closing |= opcode == OP_CLOSE;
        Ok(())
    }

    /// Encode one frame exactly as given (no compression, no checks): for
    /// callers that fragment, or tests.
    pub fn encode_raw(&mut self, fin: bool, rsv1: bool, opcode: u8, payload: &[u8]) {
        let mask = (self.role == Role::Client).then(|| self.masks.take());
        frame::encode_frame(&mut self.out, fin, rsv1, opcode, payload, mask);
    }

    /// Write what is encoded without waiting: `Ready(Ok)` once all of it is
    /// written and flushed, `Pending` when the stream cannot take more now
    /// (the rest stays buffered, in order, for [`WsWriter::flush`]).
    pub fn poll_write_out(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), WsError>> {
        use std::task::Poll;
        while !self.out.is_empty() {
            match std::pin::Pin::new(&mut self.io).poll_write(cx, &self.out) {
                Poll::Ready(Ok(0)) => {
                    return Poll::Ready(Err(io::Error::from(io::ErrorKind::WriteZero).into()))
                }
                Poll::Ready(Ok(n)) => self.out.advance(n),
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e.into())),
                Poll::Pending => return Poll::Pending,
            }
        }
        match std::pin::Pin::new(&mut self.io).poll_flush(cx) {
            Poll::Ready(r) => Poll::Ready(r.map_err(WsError::from)),
            Poll::Pending => Poll::Pending,
        }
    }

    /// Write out everything encoded so far, then flush the stream.
    pub async fn flush(&mut self) -> Result<(), WsError> {
        while !self.out.is_empty() {
            let n = self.io.write(&self.out).await?;
            if n == 0 {
                return Err(io::Error::from(io::ErrorKind::WriteZero).into());
            }
            self.out.advance(n);
        }
        self.io.flush().await?;
        Ok(())
    }

    /// Encode and write one message.
    pub async fn send(&mut self, msg: &Message) -> Result<(), WsError> {
        self.encode(msg)?;
        self.flush().await
    }

    /// Encode and write one frame (see [`WsWriter::encode_frame`]).
    pub async fn send_frame(
        &mut self,
        opcode: u8,
        payload: &[u8],
        compress: Option<u8>,
    ) -> Result<(), WsError> {
        self.encode_frame(opcode, payload, compress)?;
        self.flush().await
    }

    /// Send a close frame with `code` and `reason` (aiohttp's
    /// `WebSocketWriter.close`); afterwards only control frames go out.
    pub async fn close(&mut self, code: u16, reason: &str) -> Result<(), WsError> {
        self.send(&Message::Close(Some(code), reason.to_owned()))
            .await
    }

    /// Flush, then shut the stream's write side down.
    pub async fn shutdown(&mut self) -> Result<(), WsError> {
        self.flush().await?;
        self.io.shutdown().await?;
        Ok(())
    }

    /// The underlying stream.
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.io
    }
}

/// Both halves over one stream (split with `tokio::io::split`). Use
/// [`WsStream::split`] to give the halves to different tasks; a stream that
/// splits natively (e.g. `TcpStream::into_split`) can also build
/// [`WsReader`] and [`WsWriter`] directly.
pub struct WsStream<S> {
    /// The receiving half.
    pub reader: WsReader<ReadHalf<S>>,
    /// The sending half.
    pub writer: WsWriter<WriteHalf<S>>,
}

impl<S: AsyncRead + AsyncWrite> WsStream<S> {
    /// A connection over `io` with `config`; `read_ahead` as in
    /// [`WsReader::new`].
    pub fn new(io: S, config: &Config, read_ahead: &[u8]) -> WsStream<S> {
        let (r, w) = tokio::io::split(io);
        WsStream {
            reader: WsReader::new(r, config, read_ahead),
            writer: WsWriter::new(w, config),
        }
    }

    /// See [`WsReader::recv`].
    pub async fn recv(&mut self) -> Result<Message, WsError> {
        self.reader.recv().await
    }

    /// See [`WsReader::recv_many`].
    pub async fn recv_many(&mut self, max: usize) -> Result<Vec<Message>, WsError> {
        self.reader.recv_many(max).await
    }

    /// See [`WsWriter::send`].
    pub async fn send(&mut self, msg: &Message) -> Result<(), WsError> {
        self.writer.send(msg).await
    }

    /// The two halves, for a reader task and writers.
    pub fn split(self) -> (WsReader<ReadHalf<S>>, WsWriter<WriteHalf<S>>) {
        (self.reader, self.writer)
    }
}
