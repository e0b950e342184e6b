//! Request bodies: bytes at hand, or a stream fed from elsewhere (a file or
//! an async generator on the Python side) through a bounded channel.

use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Frame, SizeHint};
use tokio::sync::mpsc;

use crate::body::encode::Encoder;

/// Why a streamed body stopped before its end.
#[derive(Debug)]
pub struct BodyAborted(pub String);

impl std::fmt::Display for BodyAborted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "request body aborted: {}", self.0)
    }
}

impl std::error::Error for BodyAborted {}

/// One piece of a streamed body, or the reason it stopped.
pub type BodyItem = Result<Bytes, BodyAborted>;

/// The feeding end of a streamed body.  Its abort is never lost: it ends
/// the stream with an error after what was queued, even when the queue is
/// full (an error sent as an item would need room).
#[derive(Debug, Clone)]
pub struct BodySender {
    tx: mpsc::Sender<BodyItem>,
    aborted: Arc<OnceLock<String>>,
}

impl BodySender {
    /// Queue a piece, waiting for room; false when the stream is gone.
    pub async fn send(&self, b: Bytes) -> bool {
        self.tx.send(Ok(b)).await.is_ok()
    }

    /// Queue a piece if there is room now.
    pub fn try_send(&self, b: Bytes) -> Result<(), mpsc::error::TrySendError<BodyItem>> {
        self.tx.try_send(Ok(b))
    }

    /// The body failed: once the pieces queued so far are taken, the stream
    /// ends with `BodyAborted(reason)`, never as a complete body.  (Clones
    /// still sending finish first: the stream ends when the last is dropped.)
    pub fn abort(self, reason: String) {
        let _ = self.aborted.set(reason);
    }
}

/// The receiving end of a streamed body; `length` when it is known.
#[derive(Debug)]
pub struct BodyStream {
    pub rx: mpsc::Receiver<BodyItem>,
    /// Set by [`BodySender::abort`]: the end of `rx` is then this error.
    pub aborted: Arc<OnceLock<String>>,
    pub length: Option<u64>,
    /// Compresses the chunks on their way (the length is then unknown).
    pub encoder: Option<Box<Encoder>>,
    /// Told when the last chunk has been handed to the connection.
    pub written: Option<tokio::sync::oneshot::Sender<()>>,
    /// Bytes still to send when the caller's `Content-Length` bounds the
    /// body (aiohttp's `write_with_length`): what goes past it is dropped.
    pub limit: Option<u64>,
}

impl BodyStream {
    /// Compress this stream with `coding` (deflate or gzip).
    pub fn compressed(mut self, coding: &str) -> Self {
        if let Some(e) = Encoder::new(coding) {
            self.encoder = Some(Box::new(e));
            self.length = None;
        }
        self
    }

    /// Cap the body at `n` bytes (the caller's `Content-Length`).
    pub fn limit_to(&mut self, n: u64) {
        self.limit = Some(n);
        self.length = Some(self.length.map_or(n, |l| l.min(n)));
    }

    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<BodyItem>> {
        let Some(left) = self.limit else {
            return self.poll_chunk(cx);
        };
        if left == 0 {
            return Poll::Ready(None);
        }
        match self.poll_chunk(cx) {
            Poll::Ready(Some(Ok(mut b))) => {
                if b.len() as u64 > left {
                    b.truncate(left as usize);
                }
                self.limit = Some(left - b.len() as u64);
                Poll::Ready(Some(Ok(b)))
            }
            other => other,
        }
    }

    fn poll_chunk(&mut self, cx: &mut Context<'_>) -> Poll<Option<BodyItem>> {
        loop {
            let item = match self.rx.poll_recv(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => self
                    .aborted
                    .get()
                    .map(|reason| Err(BodyAborted(reason.clone()))),
                Poll::Ready(item) => item,
            };
            let Some(enc) = self.encoder.as_mut() else {
                return Poll::Ready(item);
            };
            match item {
                Some(Ok(b)) => {
                    let out = enc.feed(&b);
                    if !out.is_empty() {
                        return Poll::Ready(Some(Ok(out)));
                    }
                }
                Some(Err(e)) => return Poll::Ready(Some(Err(e))),
                None => {
                    let out = enc.finish();
                    self.encoder = None;
                    if !out.is_empty() {
                        return Poll::Ready(Some(Ok(out)));
                    }
                    return Poll::Ready(None);
                }
            }
        }
    }
}

/// Makes a streamed body again from its start (a seekable file), so that a
/// 307/308 redirect can send it once more; `None` when it cannot.
pub trait Rewind: Send + Sync {
    fn rewind(&self) -> crate::connect::dns::BoxFuture<Option<BodyStream>>;
}

/// A streamed body and the sender that feeds it (capacity in chunks).
pub fn body_channel(capacity: usize, length: Option<u64>) -> (BodySender, BodyStream) {
    let (tx, rx) = mpsc::channel(capacity.max(1));
    let aborted = Arc::new(OnceLock::new());
    (
        BodySender {
            tx,
            aborted: aborted.clone(),
        },
        BodyStream {
            rx,
            aborted,
            length,
            encoder: None,
            written: None,
            limit: None,
        },
    )
}

/// A request body: bytes at hand or a stream.
#[derive(Debug)]
pub enum RequestBody {
    Full(Option<Bytes>),
    Stream(BodyStream),
    /// Either, its bytes counted for an upload tracker.
    Tracked(Box<crate::body::upload::Tracked>),
}

impl RequestBody {
    pub fn empty() -> Self {
        RequestBody::Full(None)
    }
}

impl http_body::Body for RequestBody {
    type Data = Bytes;
    type Error = BodyAborted;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyAborted>>> {
        match self.get_mut() {
            RequestBody::Full(b) => Poll::Ready(
                b.take()
                    .filter(|b| !b.is_empty())
                    .map(|b| Ok(Frame::data(b))),
            ),
            RequestBody::Stream(s) => match s.poll_next(cx) {
                Poll::Pending => Poll::Pending,
                Poll::Ready(None) => {
                    if let Some(tx) = s.written.take() {
                        let _ = tx.send(());
                    }
                    Poll::Ready(None)
                }
                Poll::Ready(Some(Ok(b))) => Poll::Ready(Some(Ok(Frame::data(b)))),
                Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e))),
            },
            RequestBody::Tracked(t) => t.poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            RequestBody::Full(None) => true,
            RequestBody::Full(Some(b)) => b.is_empty(),
            RequestBody::Stream(_) => false,
            RequestBody::Tracked(t) => t.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            RequestBody::Full(b) => SizeHint::with_exact(b.as_ref().map_or(0, |b| b.len() as u64)),
            RequestBody::Stream(s) => match s.length {
                Some(n) => SizeHint::with_exact(n),
                None => SizeHint::default(),
            },
            RequestBody::Tracked(t) => t.size_hint(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body::Body as _;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn full_and_stream_bodies() {
        let b = RequestBody::Full(Some(Bytes::from_static(b"abc")));
        assert_eq!(b.size_hint().exact(), Some(3));
        assert_eq!(&b.collect().await.unwrap().to_bytes()[..], b"abc");
        assert!(RequestBody::empty().is_end_stream());

        let (tx, s) = body_channel(2, None);
        tokio::spawn(async move {
            for part in ["a", "bc", "def"] {
                assert!(tx.send(Bytes::from(part)).await);
            }
        });
        let b = RequestBody::Stream(s);
        assert_eq!(b.size_hint().exact(), None);
        assert_eq!(&b.collect().await.unwrap().to_bytes()[..], b"abcdef");
    }

    #[tokio::test]
    async fn a_limited_stream_stops_at_its_limit() {
        let (tx, mut s) = body_channel(4, Some(9));
        s.limit_to(4);
        assert_eq!(s.length, Some(4));
        for part in ["abc", "def", "ghi"] {
            assert!(tx.send(Bytes::from(part)).await);
        }
        let b = RequestBody::Stream(s);
        assert_eq!(b.size_hint().exact(), Some(4));
        assert_eq!(&b.collect().await.unwrap().to_bytes()[..], b"abcd");
    }

    #[tokio::test]
    async fn aborted_stream_is_an_error() {
        let (tx, s) = body_channel(2, Some(10));
        assert!(tx.send(Bytes::from_static(b"ab")).await);
        tx.abort("boom".into());
        assert!(RequestBody::Stream(s).collect().await.is_err());
    }

    #[tokio::test]
    async fn an_abort_with_the_queue_full_still_ends_the_stream_with_an_error() {
        let (tx, s) = body_channel(2, None);
        assert!(tx.try_send(Bytes::from_static(b"ab")).is_ok());
        assert!(tx.try_send(Bytes::from_static(b"cd")).is_ok());
        assert!(tx.try_send(Bytes::from_static(b"ef")).is_err(), "full");
        tx.abort("boom".into());
        let mut s = RequestBody::Stream(s);
        let mut got = Vec::new();
        let end = loop {
            match std::future::poll_fn(|cx| Pin::new(&mut s).poll_frame(cx)).await {
                Some(Ok(f)) => got.extend_from_slice(&f.into_data().unwrap()),
                Some(Err(e)) => break Some(e.0),
                None => break None,
            }
        };
        assert_eq!(got, b"abcd", "what was queued goes first");
        assert_eq!(end.as_deref(), Some("boom"), "then the abort, not the end");
        // And so with a compressing stream.
        let (tx, s) = body_channel(1, None);
        assert!(tx.try_send(Bytes::from_static(b"ab")).is_ok());
        tx.abort("boom".into());
        assert!(RequestBody::Stream(s.compressed("gzip"))
            .collect()
            .await
            .is_err());
    }

    #[tokio::test]
    async fn compressed_stream() {
        use std::io::Read;
        let (tx, s) = body_channel(2, Some(6));
        let s = s.compressed("deflate");
        assert_eq!(s.length, None);
        tokio::spawn(async move {
            for part in ["abc", "def"] {
                assert!(tx.send(Bytes::from(part)).await);
            }
        });
        let z = RequestBody::Stream(s).collect().await.unwrap().to_bytes();
        let mut back = Vec::new();
        flate2::read::ZlibDecoder::new(&z[..])
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back, b"abcdef");
    }
}
