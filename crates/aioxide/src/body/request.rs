//! Request bodies: bytes at hand, or a stream fed from elsewhere (a file or
//! an async generator on the Python side) through a bounded channel.

use std::pin::Pin;
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

/// The receiving end of a streamed body; `length` when it is known.
#[derive(Debug)]
pub struct BodyStream {
    pub rx: mpsc::Receiver<BodyItem>,
    pub length: Option<u64>,
    /// Compresses the chunks on their way (the length is then unknown).
    pub encoder: Option<Box<Encoder>>,
    /// Told when the last chunk has been handed to the connection.
    pub written: Option<tokio::sync::oneshot::Sender<()>>,
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

    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<BodyItem>> {
        loop {
            let item = match self.rx.poll_recv(cx) {
                Poll::Pending => return Poll::Pending,
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
pub fn body_channel(capacity: usize, length: Option<u64>) -> (mpsc::Sender<BodyItem>, BodyStream) {
    let (tx, rx) = mpsc::channel(capacity.max(1));
    (
        tx,
        BodyStream {
            rx,
            length,
            encoder: None,
            written: None,
        },
    )
}

/// A request body: bytes at hand or a stream.
#[derive(Debug)]
pub enum RequestBody {
    Full(Option<Bytes>),
    Stream(BodyStream),
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
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            RequestBody::Full(None) => true,
            RequestBody::Full(Some(b)) => b.is_empty(),
            RequestBody::Stream(_) => false,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            RequestBody::Full(b) => SizeHint::with_exact(b.as_ref().map_or(0, |b| b.len() as u64)),
            RequestBody::Stream(s) => match s.length {
                Some(n) => SizeHint::with_exact(n),
                None => SizeHint::default(),
            },
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
                tx.send(Ok(Bytes::from(part))).await.unwrap();
            }
        });
        let b = RequestBody::Stream(s);
        assert_eq!(b.size_hint().exact(), None);
        assert_eq!(&b.collect().await.unwrap().to_bytes()[..], b"abcdef");
    }

    #[tokio::test]
    async fn aborted_stream_is_an_error() {
        let (tx, s) = body_channel(2, Some(10));
        tx.send(Ok(Bytes::from_static(b"ab"))).await.unwrap();
        tx.send(Err(BodyAborted("boom".into()))).await.unwrap();
        assert!(RequestBody::Stream(s).collect().await.is_err());
    }

    #[tokio::test]
    async fn compressed_stream() {
        use std::io::Read;
        let (tx, s) = body_channel(2, Some(6));
        let s = s.compressed("deflate");
        assert_eq!(s.length, None);
        tokio::spawn(async move {
            for part in ["abc", "def"] {
                tx.send(Ok(Bytes::from(part))).await.unwrap();
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
