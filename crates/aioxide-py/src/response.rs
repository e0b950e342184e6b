//! What a request gives back to Python: the response head, the response
//! (history and body), and the two ends of a streamed request body.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use aioxide::body::request::BodySender;
use aioxide::{ResponseBody, ResponseHead};
use bytes::Bytes;
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::types::{PyBytes, PyList, PyString, PyTuple};

use crate::bridge::{Bridge, Deliver, Feed, FeedEnd, FeedState, Wait};

use crate::errors;
use crate::whole::{hand_on, uninit_bytes, Waiter, Whole, WHOLE_MAX};

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
    /// Headers as (name, value) pairs, names as the server sent them.
    fn headers<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let list = PyList::empty(py);
        for (k, v) in &self.head.headers {
            list.append(PyTuple::new(
                py,
                [
                    PyString::new(py, &String::from_utf8_lossy(k)),
                    PyString::new(py, &String::from_utf8_lossy(v)),
                ],
            )?)?;
        }
        Ok(list)
    }
    /// The first value of one header (any case), without building them all.
    fn header(&self, name: &str) -> Option<String> {
        self.head
            .headers
            .get(name)
            .map(|v| String::from_utf8_lossy(v).into_owned())
    }
    /// Headers as a tuple of (bytes, bytes) pairs.
    fn raw_headers<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        let items: Vec<Bound<'py, PyTuple>> = self
            .head
            .headers
            .iter()
            .map(|(k, v)| PyTuple::new(py, [PyBytes::new(py, k), PyBytes::new(py, v)]))
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
        self.head.request.headers.text_pairs()
    }

    /// The connection the response came on, for `transport.get_extra_info`:
    /// `(peername, sockname, tls)` with addresses as `socket.getpeername()`
    /// gives them (None when unknown) and `tls` None or `(cipher name,
    /// protocol version, secret bits, verified, (DER certificates, leaf
    /// first))`; None when the connection tells nothing.
    fn conn_info<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyTuple>>> {
        let Some(meta) = self.head.conn.as_deref() else {
            return Ok(None);
        };
        let addr = |a: Option<std::net::SocketAddr>| -> PyResult<Bound<'py, PyAny>> {
            Ok(match a {
                None => py.None().into_bound(py),
                Some(std::net::SocketAddr::V4(a)) => {
                    (a.ip().to_string(), a.port()).into_pyobject(py)?.into_any()
                }
                Some(std::net::SocketAddr::V6(a)) => {
                    (a.ip().to_string(), a.port(), a.flowinfo(), a.scope_id())
                        .into_pyobject(py)?
                        .into_any()
                }
            })
        };
        let tls = match &meta.tls {
            None => py.None().into_bound(py),
            Some(t) => {
                let certs = PyTuple::new(py, t.peer_certs.iter().map(|c| PyBytes::new(py, c)))?;
                (
                    t.cipher.as_str(),
                    t.version,
                    t.secret_bits,
                    t.verified,
                    certs,
                )
                    .into_pyobject(py)?
                    .into_any()
            }
        };
        Ok(Some(PyTuple::new(
            py,
            [addr(meta.peer)?, addr(meta.local)?, tls],
        )?))
    }
}

/// A body as the bridge carries it: decoded pieces, or the engine's error.
type BodyFeed = Feed<Bytes, aioxide::Error>;

/// The body of a response still to read: idle until the first read, then
/// read by an engine task that owns it (`pump`) into a feed.
struct BodyPipe {
    /// The body, until the first read hands it to its owner task.
    idle: Mutex<Option<Box<ResponseBody>>>,
    feed: Arc<BodyFeed>,
    /// What the owner reports of its reading.
    raw: Arc<Progress>,
    /// The body read whole into one bytes object (see [`Whole`]), once the
    /// owner has filled it and until a reader takes it.
    whole: WholeSlot,
    /// The request's total deadline (`check_deadline`).
    total: Option<aioxide::policy::timeout::Deadline>,
}

type WholeSlot = Arc<Mutex<Option<Py<PyBytes>>>>;

/// What the owner of a body reports as it reads: bytes received from the
/// wire (before decoding), and where HTTP chunks ended (decoded offsets).
#[derive(Default)]
struct Progress {
    bytes: AtomicU64,
    chunk_ends: Mutex<std::collections::VecDeque<u64>>,
}

impl Progress {
    fn new(body: &mut ResponseBody) -> Self {
        let p = Progress::default();
        p.note(body);
        p
    }

    /// Take the body's counts.
    fn note(&self, body: &mut ResponseBody) {
        self.bytes.store(body.raw_bytes(), Ordering::Relaxed);
        if body.has_chunk_ends() {
            let mut ends = self.chunk_ends.lock().unwrap_or_else(|p| p.into_inner());
            ends.extend(body.drain_chunk_ends());
        }
    }
}

impl Drop for BodyPipe {
    fn drop(&mut self) {
        // The response is gone: its owner task stops (closing an unfinished
        // connection; a finished one went back to the pool at its end).
        self.feed.close();
    }
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
    /// The body is chunked: `chunk_ends` tells where its chunks ended.
    #[pyo3(get)]
    chunked: bool,
    stream: BodyPipe,
    /// The connection of a `101` answer (WebSockets), until taken.
    upgrade: Mutex<Option<aioxide::pool::Upgraded>>,
}

/// How the owner of a body reads it.
enum Into {
    /// Into one bytes object sized in advance.
    Whole(Whole),
    /// In pieces; into a `Whole` when one is handed on to its waiter.
    Pieces(Option<Arc<Waiter>>),
}

/// What a step of the owner leaves.
enum Next {
    /// More to read, the same way.
    More,
    /// More to read, into this `Whole` (handed on) from now.
    Whole(Whole),
    /// More to read, in pieces from now.
    Pieces,
    /// The end of the body.
    End,
}

/// The owner of a body: reads it while the consumer's demand is not met,
/// until its end, an error, or the consumer closing the feed.
async fn pump(
    mut body: Box<ResponseBody>,
    feed: Arc<BodyFeed>,
    raw: Arc<Progress>,
    slot: WholeSlot,
    mut into: Into,
) {
    // (Bytes fed so far: a `Whole` handed on must hold all of them.)
    let mut pushed = 0;
    loop {
        let r = match into {
            Into::Whole(w) => {
                into = Into::Pieces(None);
                tokio::select! {
                    biased;
                    () = feed.wait_closed() => return,
                    r = pump_whole(&mut body, &feed, &raw, w, &slot) => r,
                }
            }
            Into::Pieces(ref waiter) => {
                // (The consumer's demand; None once it closed the feed.
                // Meanwhile the engine goes on with an upload answered early.)
                let Some(room) = body.meanwhile(feed.wait_demand()).await else {
                    return;
                };
                let waiter = waiter.as_deref();
                let r = tokio::select! {
                    biased;
                    () = feed.wait_closed() => return,
                    r = pump_step(&mut body, &feed, &raw, room, &mut pushed, waiter) => r,
                };
                if let (Ok(Next::End), Some(w)) = (&r, waiter) {
                    take_at_end(&feed, pushed, w, &slot);
                }
                r
            }
        };
        match r {
            Ok(Next::More) => {}
            Ok(Next::Whole(w)) => into = Into::Whole(w),
            Ok(Next::Pieces) => into = Into::Pieces(None),
            Ok(Next::End) => return feed.finish(Ok(())),
            Err(e) => return feed.finish(Err(e)),
        }
    }
}

/// The owner of a body read whole into `w`: fills it, then leaves it in
/// `slot` for the reader; Ok(false) then.  A body that does not come as
/// announced (more, or fewer before its end) goes to the feed as pieces
/// instead: `Next::Pieces` when there may be more of it.
async fn pump_whole(
    body: &mut ResponseBody,
    feed: &BodyFeed,
    raw: &Progress,
    mut w: Whole,
    slot: &Mutex<Option<Py<PyBytes>>>,
) -> Result<Next, aioxide::Error> {
    while w.filled < w.len {
        let mut dst = w.spare();
        let r = body.read_into(&mut dst).await;
        // (What Python may see: what the buffer says was written.)
        let n = dst.filled().len();
        raw.note(body);
        r?;
        if n == 0 {
            break;
        }
        w.filled += n;
    }
    loop {
        // (Full: the body must end here.)
        let r = body.next_piece().await;
        raw.note(body);
        match r? {
            Some(b) if w.fill(&b) => {}
            Some(b) => {
                push_bytes(feed, w.filled_part());
                push_bytes(feed, b);
                return Ok(Next::Pieces);
            }
            None if w.filled == w.len => {
                *slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(w.obj);
                return Ok(Next::End);
            }
            None => {
                push_bytes(feed, w.filled_part());
                return Ok(Next::End);
            }
        }
    }
}

/// A body read whole (after a cancelled `read()`) handed out in pieces
/// instead: it goes to the feed as one item (no copy).
fn unwhole(
    py: Python<'_>,
    st: &mut FeedState<Bytes, aioxide::Error>,
    whole: &Mutex<Option<Py<PyBytes>>>,
) {
    if let Some(obj) = whole.lock().unwrap_or_else(|p| p.into_inner()).take() {
        let b = Bytes::from_owner(PyBackedBytes::from(obj.into_bound(py)));
        st.size += b.len();
        st.items.push_front(b);
    }
}

/// Feed a piece of the body; whether the consumer still wants more.
fn push_bytes(feed: &BodyFeed, b: Bytes) -> bool {
    let n = b.len();
    feed.push(b, n)
}

/// One step of the owner.  A read of the whole rest takes the pieces as
/// they arrive, never merged (the one copy is into the bytes object),
/// until the end, until the consumer asks for less, or until a `Whole` is
/// handed on to its `waiter`; otherwise one piece of at most `room` bytes.
/// `pushed` counts the bytes fed.
async fn pump_step(
    body: &mut ResponseBody,
    feed: &BodyFeed,
    raw: &Progress,
    room: usize,
    pushed: &mut usize,
    waiter: Option<&Waiter>,
) -> Result<Next, aioxide::Error> {
    let all = feed.wants_all();
    if let Some(w) = waiter {
        w.set_open(all);
    }
    if !all {
        let r = body.chunk(room).await;
        raw.note(body);
        return Ok(match r? {
            Some(b) => {
                *pushed += b.len();
                push_bytes(feed, b);
                Next::More
            }
            None => Next::End,
        });
    }
    loop {
        let r = body.next_piece().await;
        raw.note(body);
        let Some(b) = r? else {
            return Ok(Next::End);
        };
        *pushed += b.len();
        if !push_bytes(feed, b) {
            return Ok(Next::More);
        }
        if let Some(w) = waiter.and_then(Waiter::take) {
            if let Some(w) = adopt(feed, *pushed, w, false) {
                return Ok(Next::Whole(w));
            }
        }
    }
}

/// A body read in pieces takes the `Whole` handed on to it: what the feed
/// holds goes into it (all of the body, `at_end`).  Only while every byte
/// fed is still there and the whole rest is asked for; None (and the
/// `Whole` dropped) otherwise.
fn adopt(feed: &BodyFeed, pushed: usize, mut w: Whole, at_end: bool) -> Option<Whole> {
    let mut st = feed.lock();
    let room = w.len - w.filled;
    let fits = if at_end {
        st.size == room
    } else {
        st.size <= room
    };
    let open = st.want == usize::MAX && !st.closed && matches!(st.end, FeedEnd::Open);
    if !open || !fits || st.size != pushed {
        return None;
    }
    for b in st.items.drain(..) {
        w.fill(&b);
    }
    st.size = 0;
    crate::whole::note_adopted();
    Some(w)
}

/// A body that ended in pieces, its `Whole` handed on meanwhile: all of
/// it goes into it, left in `slot` (one copy fewer on the loop's thread).
fn take_at_end(feed: &BodyFeed, pushed: usize, waiter: &Waiter, slot: &WholeSlot) {
    if let Some(w) = waiter.take().and_then(|w| adopt(feed, pushed, w, true)) {
        *slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(w.obj);
    }
}

/// The end state a read meets when nothing is buffered: Ok(true) at the
/// end of the body, or the error (the engine's once, then "closed").
fn end_of(py: Python<'_>, st: &mut FeedState<Bytes, aioxide::Error>) -> PyResult<bool> {
    if st.closed {
        return Err(errors::connection_error(py, "Connection closed"));
    }
    match &mut st.end {
        FeedEnd::Failed(e) => Err(match e.take() {
            Some(e) => errors::to_py(py, e),
            None => errors::connection_error(py, "Connection closed"),
        }),
        FeedEnd::Done => Ok(true),
        FeedEnd::Open => Ok(false),
    }
}

/// Take up to `max` bytes from the feed into one bytes object: the one copy
/// of the body's bytes, straight into the new object (not zeroed first).
fn take_bytes<'py>(
    py: Python<'py>,
    st: &mut FeedState<Bytes, aioxide::Error>,
    max: usize,
) -> PyResult<Bound<'py, PyBytes>> {
    let n = max.min(st.size);
    // Every one of its `n` bytes is written below before Python sees it.
    let (out, dst) = uninit_bytes(py, n)?;
    let mut at = 0;
    while at < n {
        let Some(front) = st.items.front_mut() else {
            break;
        };
        let k = front.len().min(n - at);
        // SAFETY: `at + k <= n`, inside the buffer; `front` is another object.
        unsafe { std::ptr::copy_nonoverlapping(front.as_ptr(), dst.add(at), k) };
        at += k;
        if k == front.len() {
            st.items.pop_front();
        } else {
            let _ = front.split_to(k);
        }
    }
    // SAFETY: the rest of the buffer (none unless `size` overcounted).
    unsafe { std::ptr::write_bytes(dst.add(at), 0, n - at) };
    st.size -= n;
    Ok(out)
}

impl Response {
    /// Start reading (the owner task, on the first read) and ask for up to
    /// `want` bytes buffered.
    fn start(&self, py: Python<'_>, bridge: &Bound<'_, Bridge>, want: usize) -> PyResult<()> {
        if bridge.get().check().is_err() {
            // The loop's bridge is gone: so is the connection, for Python.
            return Err(errors::connection_error(py, "Connection closed"));
        }
        let s = &self.stream;
        s.feed.set_want(want);
        let idle = s.idle.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(body) = idle {
            // A first read of the whole body, of a known length: one bytes
            // object, filled as it comes (pieces otherwise, and past
            // WHOLE_MAX: the length is the server's word until it is sent).
            // While another body is read so, an HTTP/2 body waits for the
            // next one (`Waiter`: over HTTP/1.1 bodies come in bursts, and
            // waiting measured more page faults there, not fewer).
            let into = match (want, body.exact_rest()) {
                (usize::MAX, Some(n)) if n > 0 && n <= WHOLE_MAX => {
                    match Whole::new(py, n as usize) {
                        Some(w) => Into::Whole(w),
                        None if body.is_multiplexed() => {
                            Into::Pieces(Some(Waiter::enqueue(n as usize)))
                        }
                        None => Into::Pieces(None),
                    }
                }
                _ => Into::Pieces(None),
            };
            let detached = body.is_detached();
            let task = pump(body, s.feed.clone(), s.raw.clone(), s.whole.clone(), into);
            // A body whose request was driven on the loop's thread is read
            // there too (its socket is out of the engine's reactor), unless
            // it is long (then it goes on on the engine).
            match detached {
                true => Bridge::drive_task(bridge, task)?,
                false => bridge.get().submit(task)?,
            }
        }
        Ok(())
    }
}

#[pymethods]
impl Response {
    fn history<'py>(&self, py: Python<'py>) -> PyResult<Vec<Py<Head>>> {
        self.history
            .iter()
            .map(|h| Py::new(py, Head::from_engine(h.clone())))
            .collect()
    }

    /// Read the rest of the body; completes `fut` with bytes.  A cancelled
    /// wait loses nothing: the next read gets the data.
    fn read_all(
        &self,
        py: Python<'_>,
        bridge: &Bound<'_, Bridge>,
        fut: Py<PyAny>,
    ) -> PyResult<u64> {
        self.start(py, bridge, usize::MAX)?;
        let bridge = bridge.get();
        let feed = self.stream.feed.clone();
        let whole = self.stream.whole.clone();
        bridge.spawn_as(Wait::Read, fut, async move {
            feed.wait_end().await;
            Box::new(move |py: Python<'_>| {
                let mut st = feed.lock();
                end_of(py, &mut st)?;
                let obj = whole.lock().unwrap_or_else(|p| p.into_inner()).take();
                // (With a whole, nothing went to the feed.)
                let out = match obj {
                    Some(obj) => obj.into_bound(py),
                    None => take_bytes(py, &mut st, usize::MAX)?,
                };
                drop(st);
                crate::recycle::keep(&out);
                let out = out.into_any().unbind();
                // (Made while this one is alive: see `Waiter`.)
                hand_on(py);
                Ok(out)
            }) as Deliver
        })
    }

    /// The next piece of the body, at most `max` bytes; None at EOF.  The
    /// engine reads ahead up to `max` bytes; a cancelled wait loses nothing,
    /// nor does a body error: what arrived before it is handed out first.
    fn chunk(
        &self,
        py: Python<'_>,
        bridge: &Bound<'_, Bridge>,
        fut: Py<PyAny>,
        max: usize,
    ) -> PyResult<u64> {
        let max = max.max(1);
        self.start(py, bridge, max)?;
        let bridge = bridge.get();
        let feed = self.stream.feed.clone();
        let whole = self.stream.whole.clone();
        bridge.spawn_as(Wait::Read, fut, async move {
            feed.wait_ready().await;
            Box::new(move |py: Python<'_>| {
                let mut st = feed.lock();
                unwhole(py, &mut st, &whole);
                if st.items.is_empty() {
                    let at_end = end_of(py, &mut st)?;
                    // (Nothing yet, not the end: another reader took it.)
                    return Ok(if at_end {
                        py.None()
                    } else {
                        PyBytes::new(py, b"").into_any().unbind()
                    });
                }
                let out = take_bytes(py, &mut st, max)?;
                drop(st);
                feed.taken();
                Ok(out.into_any().unbind())
            }) as Deliver
        })
    }

    /// The WebSocket over this `101` answer's connection (once).
    #[pyo3(signature = (max_msg_size, deflate=None, direct=false))]
    fn websocket(
        &self,
        max_msg_size: usize,
        deflate: Option<(u8, bool, u8, bool)>,
        direct: bool,
    ) -> PyResult<crate::ws::WebSocket> {
        let up = self
            .upgrade
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        match up {
            Some(up) => Ok(crate::ws::WebSocket::new(
                up,
                max_msg_size,
                crate::ws::deflate_params(deflate),
                direct,
            )),
            None => Err(pyo3::exceptions::PyRuntimeError::new_err(
                "the response has no upgraded connection",
            )),
        }
    }

    /// What has arrived and is not handed out yet, taken now without the
    /// engine: `(data, at_end)`; the engine's error, or
    /// ClientConnectionError("Connection closed") once closed, when
    /// nothing is left.  For a body whose session is closed (aiohttp still
    /// hands out what its connection received before).
    fn take_ready<'py>(&self, py: Python<'py>) -> PyResult<(Bound<'py, PyBytes>, bool)> {
        let s = &self.stream;
        if let Some(body) = s.idle.lock().unwrap_or_else(|p| p.into_inner()).as_mut() {
            s.raw.note(body);
            let done = body.is_done() && body.is_complete();
            let data = body.take_buffered();
            return Ok((PyBytes::new(py, &data), done));
        }
        let mut st = s.feed.lock();
        unwhole(py, &mut st, &s.whole);
        if st.items.is_empty() {
            let at_end = end_of(py, &mut st)?;
            return Ok((PyBytes::new(py, b""), at_end));
        }
        let n = st.size;
        let out = take_bytes(py, &mut st, n)?;
        let at_end = matches!(st.end, FeedEnd::Done);
        drop(st);
        s.feed.taken();
        Ok((out, at_end))
    }

    /// Whether every byte of the body has been handed out.
    fn at_eof(&self) -> bool {
        let st = self.stream.feed.lock();
        let whole = self.stream.whole.lock().unwrap_or_else(|p| p.into_inner());
        st.items.is_empty() && whole.is_none() && matches!(st.end, FeedEnd::Done)
    }

    /// Bytes received from the wire so far.
    fn raw_bytes(&self) -> u64 {
        let s = &self.stream;
        match s.idle.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            Some(b) => b.raw_bytes(),
            None => s.raw.bytes.load(Ordering::Relaxed),
        }
    }

    /// Where HTTP chunks ended, up to decoded offset `upto` (taken once).
    fn chunk_ends(&self, upto: u64) -> Vec<u64> {
        let s = &self.stream;
        if let Some(b) = s.idle.lock().unwrap_or_else(|p| p.into_inner()).as_mut() {
            s.raw.note(b);
        }
        let mut ends = s.raw.chunk_ends.lock().unwrap_or_else(|p| p.into_inner());
        let n = ends.iter().take_while(|&&e| e <= upto).count();
        ends.drain(..n).collect()
    }

    /// Raise the total timeout's error when its deadline has passed: the
    /// reader calls it as it takes buffered data without waiting.
    fn check_deadline(&self, py: Python<'_>) -> PyResult<()> {
        match aioxide::policy::timeout::passed(self.stream.total, std::time::Instant::now()) {
            Some(e) => Err(errors::to_py(py, e)),
            None => Ok(()),
        }
    }

    /// Stop reading: an unfinished connection is closed, not reused; a
    /// `101` answer's connection no WebSocket took is closed too (a
    /// refused handshake's, at once: not when the response is collected).
    fn close(&self) {
        let s = &self.stream;
        if let Some(mut b) = s.idle.lock().unwrap_or_else(|p| p.into_inner()).take() {
            b.close();
        }
        s.feed.close();
        drop(
            self.upgrade
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .take(),
        );
    }
}

/// The Python object of an engine response.  A body whose request's body
/// is still being written gets its owner at once (the engine's
/// `ResponseBody::meanwhile` writes it).
pub(crate) fn to_response(
    py: Python<'_>,
    mut r: aioxide::Response,
    bridge: &Bound<'_, Bridge>,
) -> PyResult<Py<PyAny>> {
    let uploading = r.body.is_uploading();
    let raw = Arc::new(Progress::new(&mut r.body));
    let upgrade = Mutex::new(r.body.take_upgrade());
    let total = r.body.total_deadline();
    let (body, stream) = if r.body.is_complete() {
        let data = r.body.take_buffered();
        let stream = BodyPipe {
            idle: Mutex::new(None),
            feed: Arc::new(Feed::finished([])),
            raw,
            whole: Default::default(),
            total,
        };
        (Some(PyBytes::new(py, &data).unbind()), stream)
    } else {
        let stream = BodyPipe {
            idle: Mutex::new(Some(r.body)),
            feed: Arc::new(Feed::new(0)),
            raw,
            whole: Default::default(),
            total,
        };
        (None, stream)
    };
    let chunked = r
        .head
        .headers
        .get_all("transfer-encoding")
        .any(|v| v.to_ascii_lowercase().windows(7).any(|w| w == b"chunked"));
    let head = Py::new(py, Head::from_engine(r.head))?;
    let resp = Py::new(
        py,
        Response {
            head,
            history: r.history,
            body,
            chunked,
            stream,
            upgrade,
        },
    )?;
    if uploading {
        resp.get().start(py, bridge, 0)?;
    }
    Ok(resp.into_any())
}

/// The feeding end of a streamed request body.
#[pyclass(frozen, module = "aioxide._aioxide")]
pub struct BodyWriter {
    tx: Mutex<Option<BodySender>>,
}

/// The end of a streamed request body that a request takes.
#[pyclass(frozen, module = "aioxide._aioxide")]
pub struct BodyReader {
    pub(crate) stream: Mutex<Option<aioxide::body::request::BodyStream>>,
}

impl BodyReader {
    /// The stream, once (a request takes it).
    pub(crate) fn take_stream(&self) -> Option<aioxide::body::request::BodyStream> {
        self.stream.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

/// A streamed request body: (writer, reader).  `capacity` chunks may wait
/// in between; `length` is sent as Content-Length when known.
#[pyfunction]
#[pyo3(signature = (capacity, length=None))]
pub(crate) fn body_channel(capacity: usize, length: Option<u64>) -> (BodyWriter, BodyReader) {
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
        match tx.try_send(Bytes::from_owner(data)) {
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
                Some(tx) => tx.send(Bytes::from_owner(data)).await,
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
            tx.abort(reason);
        }
    }
}
