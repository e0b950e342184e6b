//! A WebSocket for Python: the engine's codec (`aioxide::ws`) over the
//! connection a `101` answer handed over.  An owner task reads messages
//! into a feed (the bridge for long-lived streams) while demand lasts; a
//! read takes every message there in one hop.  Writes go through one
//! writer, one frame at a time.  Policy (autoping, autoclose, heartbeat,
//! timeouts) is aiohttp's, in `python/aioxide/client_ws.py`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use aioxide::pool::Upgraded;
use aioxide::ws::{Config, DeflateParams, Message, WsError, WsReader, WsWriter};
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::types::{PyBytes, PyList, PyTuple};
use tokio::io::{ReadHalf, WriteHalf};

use crate::bridge::{Bridge, Deliver, Feed, FeedEnd, Wait};
use crate::errors;

type MsgFeed = Feed<Message, WsError>;
type Writer = Arc<tokio::sync::Mutex<Option<WsWriter<WriteHalf<Upgraded>>>>>;

/// Messages read ahead of the consumer at most.
const READ_AHEAD: usize = 256;

/// An open WebSocket (see the module's doc).
#[pyclass(frozen, module = "aioxide._aioxide")]
pub struct WebSocket {
    feed: Arc<MsgFeed>,
    /// The reader, until the first read hands it to its owner task.
    idle: Mutex<Option<WsReader<ReadHalf<Upgraded>>>>,
    writer: Writer,
    /// Bytes the reader has read so far (heartbeat: data came since a
    /// ping, a frame still arriving too).
    received: Arc<AtomicU64>,
    /// The socket, when it was detached from the engine: Python's loop
    /// then drives it (`read_now`, `send_now`, `write_pending`).
    fd: Option<i32>,
}

impl WebSocket {
    pub fn new(
        mut up: Upgraded,
        max_msg_size: usize,
        deflate: Option<DeflateParams>,
        direct: bool,
    ) -> Self {
        let fd = if direct { up.detach() } else { None };
        let config = Config {
            max_msg_size,
            deflate,
            ..Config::default()
        };
        // (The upgraded stream reads the bytes that came after the 101
        // first, and holds the pool slots until both halves are gone.)
        let (r, w) = tokio::io::split(up);
        let reader = WsReader::new(r, &config, &[]);
        WebSocket {
            feed: Arc::new(Feed::new(0)),
            received: reader.received(),
            idle: Mutex::new(Some(reader)),
            writer: Arc::new(tokio::sync::Mutex::new(Some(WsWriter::new(w, &config)))),
            fd,
        }
    }

    fn start_reading(&self, bridge: &Bridge) -> PyResult<()> {
        self.feed.set_want(READ_AHEAD);
        let idle = self.idle.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(reader) = idle {
            bridge.submit(pump(reader, self.feed.clone()))?;
        }
        Ok(())
    }
}

/// The owner of the reading half: reads while demand lasts, until the end,
/// an error, or the consumer closing the feed.
async fn pump(mut reader: WsReader<ReadHalf<Upgraded>>, feed: Arc<MsgFeed>) {
    loop {
        let Some(room) = feed.wait_demand().await else {
            return;
        };
        let got = tokio::select! {
            biased;
            () = feed.wait_closed() => return,
            r = reader.recv_many(room.max(1)) => r,
        };
        match got {
            Ok(msgs) => {
                for m in msgs {
                    feed.push(m, 1);
                }
            }
            Err(e) => {
                feed.finish(Err(e));
                return;
            }
        }
    }
}

/// Every message in the feed as a list of (type, data, extra); at the end
/// an empty list, or the read's error.
fn take_all<'py>(py: Python<'py>, feed: &MsgFeed) -> PyResult<Bound<'py, PyList>> {
    let mut st = feed.lock();
    if st.items.is_empty() {
        if st.closed {
            return Err(errors::connection_error(py, "Connection closed"));
        }
        return match &mut st.end {
            FeedEnd::Failed(e) => Err(match e.take() {
                Some(e) => read_error(py, e),
                None => errors::connection_error(py, "Connection closed"),
            }),
            FeedEnd::Done | FeedEnd::Open => Ok(PyList::empty(py)),
        };
    }
    let list = PyList::empty(py);
    while let Some(m) = st.items.pop_front() {
        list.append(to_py(py, m)?)?;
    }
    st.size = 0;
    drop(st);
    feed.taken();
    Ok(list)
}

/// A message as Python builds its WSMessage: (type, data, extra).
fn to_py<'py>(py: Python<'py>, m: Message) -> PyResult<Bound<'py, PyTuple>> {
    // (aiohttp's reader gives "" as the extra of every message but CLOSE.)
    let none = pyo3::types::PyString::intern(py, "").into_any();
    let (t, data, extra): (u8, Bound<'py, PyAny>, Bound<'py, PyAny>) = match m {
        Message::Text(s) => (1, s.into_pyobject(py)?.into_any(), none),
        Message::Binary(b) => (2, PyBytes::new(py, &b).into_any(), none),
        Message::Ping(b) => (9, PyBytes::new(py, &b).into_any(), none),
        Message::Pong(b) => (10, PyBytes::new(py, &b).into_any(), none),
        Message::Close(code, reason) => (
            8,
            code.unwrap_or(0).into_pyobject(py)?.into_any(),
            reason.into_pyobject(py)?.into_any(),
        ),
    };
    PyTuple::new(py, [t.into_pyobject(py)?.into_any(), data, extra])
}

/// The Python exception for a failed read.
fn read_error(py: Python<'_>, e: WsError) -> PyErr {
    match e {
        WsError::Protocol(p) => errors::websocket_error(py, p.code, &p.message),
        WsError::Io(io) => errors::to_py(
            py,
            aioxide::Error::new(aioxide::ErrorKind::Io, io.to_string()).with_io(&io),
        ),
        WsError::Eof => errors::to_py(
            py,
            aioxide::Error::new(
                aioxide::ErrorKind::ServerDisconnected,
                "Server disconnected",
            ),
        ),
    }
}

/// A failed write: aiohttp's `ClientConnectionResetError` (an OSError
/// too) for the stream's errors.
fn write_error(py: Python<'_>, e: WsError) -> PyErr {
    match e {
        WsError::Io(io) => errors::connection_reset(py, &io.to_string()),
        other => read_error(py, other),
    }
}

#[pymethods]
impl WebSocket {
    /// Wait for messages; completes `fut` with a list of (type, data, extra)
    /// (every message there, in order), or the read's error.  A cancelled
    /// wait takes nothing.
    fn recv(&self, bridge: &Bridge, fut: Py<PyAny>) -> PyResult<u64> {
        self.start_reading(bridge)?;
        let feed = self.feed.clone();
        bridge.spawn_as(Wait::Read, fut, async move {
            feed.wait_ready().await;
            Box::new(move |py: Python<'_>| Ok(take_all(py, &feed)?.into_any().unbind())) as Deliver
        })
    }

    /// The messages already there, at once (no engine hop): a list, or
    /// None when there is none yet (then `recv` waits for them).
    fn take_now<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyList>>> {
        let st = self.feed.lock();
        let ready = !st.items.is_empty() || st.closed || !matches!(st.end, FeedEnd::Open);
        drop(st);
        match ready {
            true => take_all(py, &self.feed).map(Some),
            false => Ok(None),
        }
    }

    /// The socket's file descriptor when Python's loop drives it (the
    /// connection was detached), else None (the engine drives it).
    fn fileno(&self) -> Option<i32> {
        self.fd
    }

    /// Detached: the messages readable now, as `recv` gives them (reading
    /// the socket until it has nothing more), or None when none is
    /// complete yet; the read's error once the messages before it are
    /// taken.  A list that ends with None: the read ended right after these
    /// messages (the socket will not tell; call again for its end).
    fn read_now<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyList>>> {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        let Some(reader) = idle.as_mut() else {
            return Err(errors::connection_error(py, "Connection closed"));
        };
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        match reader.poll_recv_many(&mut cx, READ_AHEAD) {
            std::task::Poll::Pending => Ok(None),
            std::task::Poll::Ready(Err(e)) => Err(read_error(py, e)),
            std::task::Poll::Ready(Ok(msgs)) => {
                let ended = reader.has_ended();
                drop(idle);
                let list = PyList::empty(py);
                for m in msgs {
                    list.append(to_py(py, m)?)?;
                }
                if ended {
                    list.append(py.None())?;
                }
                Ok(Some(list))
            }
        }
    }

    /// Detached: write what `send_now` or `close_now` left queued; True
    /// once all of it is out.
    fn write_pending(&self, py: Python<'_>) -> PyResult<bool> {
        let Ok(mut guard) = self.writer.try_lock() else {
            return Ok(false);
        };
        let Some(w) = guard.as_mut() else {
            return Ok(true);
        };
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        match w.poll_write_out(&mut cx) {
            std::task::Poll::Ready(Ok(())) => Ok(true),
            std::task::Poll::Ready(Err(e)) => Err(write_error(py, e)),
            std::task::Poll::Pending => Ok(false),
        }
    }

    /// Detached: queue a close frame with `code` and `message` and write
    /// what the socket takes; True when it all went out.
    fn close_now(&self, py: Python<'_>, code: u16, message: String) -> PyResult<bool> {
        let Ok(mut guard) = self.writer.try_lock() else {
            return Ok(false);
        };
        let Some(w) = guard.as_mut() else {
            return Ok(true);
        };
        w.encode(&Message::Close(Some(code), message))
            .map_err(|e| write_error(py, e))?;
        drop(guard);
        self.write_pending(py)
    }

    /// Send one frame (`opcode`, payload, per-message `compress` bits).
    #[pyo3(signature = (bridge, fut, opcode, data, compress=None))]
    fn send(
        &self,
        bridge: &Bridge,
        fut: Py<PyAny>,
        opcode: u8,
        data: PyBackedBytes,
        compress: Option<u8>,
    ) -> PyResult<u64> {
        let writer = self.writer.clone();
        bridge.spawn(fut, async move {
            let r = match writer.lock().await.as_mut() {
                Some(w) => w.send_frame(opcode, &data, compress).await,
                None => Err(WsError::Io(Arc::new(std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "Cannot write to closing transport",
                )))),
            };
            Box::new(move |py: Python<'_>| match r {
                Ok(()) => Ok(py.None()),
                Err(e) => Err(write_error(py, e)),
            }) as Deliver
        })
    }

    /// Send one frame now, from the caller's thread, when the socket can
    /// take it: True when it went out whole (no engine round trip); False
    /// when it is queued (encoded, in order) and `flush` must finish it, or
    /// when another send holds the writer (then nothing was queued: use
    /// `send`).  Returns None in that last case.
    #[pyo3(signature = (opcode, data, compress=None))]
    fn send_now(
        &self,
        py: Python<'_>,
        opcode: u8,
        data: &[u8],
        compress: Option<u8>,
    ) -> PyResult<Option<bool>> {
        let Ok(mut guard) = self.writer.try_lock() else {
            return Ok(None);
        };
        let Some(w) = guard.as_mut() else {
            return Err(errors::connection_reset(
                py,
                "Cannot write to closing transport",
            ));
        };
        w.encode_frame(opcode, data, compress)
            .map_err(|e| write_error(py, e))?;
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        match w.poll_write_out(&mut cx) {
            std::task::Poll::Ready(Ok(())) => Ok(Some(true)),
            std::task::Poll::Ready(Err(e)) => Err(write_error(py, e)),
            std::task::Poll::Pending => Ok(Some(false)),
        }
    }

    /// Finish writing what `send_now` queued.
    fn flush(&self, bridge: &Bridge, fut: Py<PyAny>) -> PyResult<u64> {
        let writer = self.writer.clone();
        bridge.spawn(fut, async move {
            let r = match writer.lock().await.as_mut() {
                Some(w) => w.flush().await,
                None => Ok(()),
            };
            Box::new(move |py: Python<'_>| match r {
                Ok(()) => Ok(py.None()),
                Err(e) => Err(write_error(py, e)),
            }) as Deliver
        })
    }

    /// Send a close frame with `code` and `message`.
    fn close(&self, bridge: &Bridge, fut: Py<PyAny>, code: u16, message: String) -> PyResult<u64> {
        let writer = self.writer.clone();
        bridge.spawn(fut, async move {
            let r = match writer.lock().await.as_mut() {
                Some(w) => w.close(code, &message).await,
                None => Ok(()),
            };
            Box::new(move |py: Python<'_>| match r {
                Ok(()) => Ok(py.None()),
                Err(e) => Err(write_error(py, e)),
            }) as Deliver
        })
    }

    /// Start reading ahead now (pongs and closes are noticed without a
    /// receive() waiting: the heartbeat needs them).
    fn start(&self, bridge: &Bridge) -> PyResult<()> {
        self.start_reading(bridge)
    }

    /// Bytes read so far from the connection (frames still arriving too).
    fn received(&self) -> u64 {
        self.received.load(Ordering::Relaxed)
    }

    /// Drop the connection now (the response is closed).
    fn abort(&self, bridge: &Bridge) {
        self.feed.close();
        self.idle.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Ok(mut w) = self.writer.try_lock() {
            w.take();
        } else {
            // A send in flight holds the writer: it is dropped after it.
            let writer = self.writer.clone();
            let _ = bridge.submit(async move {
                writer.lock().await.take();
            });
        }
    }
}

impl Drop for WebSocket {
    fn drop(&mut self) {
        self.feed.close();
    }
}

/// Deflate parameters as Python holds them: (client bits, client no
/// takeover, server bits, server no takeover).
pub(crate) type DeflateTuple = (u8, bool, u8, bool);

/// A new `Sec-WebSocket-Key` and the headers aiohttp's `ws_connect` adds
/// to the upgrade request (the engine's `handshake::request_headers`);
/// ValueError for a `compress` outside 0 and 9..=15, as aiohttp's
/// `ws_ext_gen`.
#[pyfunction]
#[pyo3(signature = (protocols, compress, origin=None))]
pub(crate) fn ws_request(
    protocols: Vec<String>,
    compress: i64,
    origin: Option<String>,
) -> PyResult<(String, Vec<(String, String)>)> {
    let bad = |m: String| pyo3::exceptions::PyValueError::new_err(m);
    let compress = u8::try_from(compress).map_err(|_| {
        bad("Compress wbits must between 9 and 15, zlib does not support wbits=8".into())
    })?;
    let key = aioxide::ws::Key::generate();
    let headers = aioxide::ws::handshake::request_headers(
        &key,
        &protocols,
        compress,
        false,
        origin.as_deref(),
    )
    .map_err(|e| bad(e.to_string()))?;
    Ok((key.as_str().to_owned(), headers))
}

/// Judge a handshake answer as aiohttp does: (error message or None, the
/// subprotocol, the deflate parameters (client bits, client no takeover,
/// server bits, server no takeover) or None).
#[pyfunction]
pub(crate) fn ws_check(
    status: u16,
    headers: Vec<(String, String)>,
    key: &str,
    protocols: Vec<String>,
    compress: u8,
) -> (Option<String>, Option<String>, Option<DeflateTuple>) {
    let pairs: Vec<(&str, &str)> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let key = aioxide::ws::Key::from_base64(key);
    match aioxide::ws::handshake::check_response(status, &pairs, &key, &protocols, compress) {
        Err(e) => (Some(e.to_string()), None, None),
        Ok(n) => (
            None,
            n.protocol,
            n.deflate.map(|d| {
                (
                    d.client_max_window_bits,
                    d.client_no_context_takeover,
                    d.server_max_window_bits,
                    d.server_no_context_takeover,
                )
            }),
        ),
    }
}

/// The deflate parameters from their tuple.
pub(crate) fn deflate_params(t: Option<DeflateTuple>) -> Option<DeflateParams> {
    t.map(|(cb, cn, sb, sn)| DeflateParams {
        client_max_window_bits: cb,
        client_no_context_takeover: cn,
        server_max_window_bits: sb,
        server_no_context_takeover: sn,
    })
}
