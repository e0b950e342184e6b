//! Request bodies: bytes at hand, or a stream fed from elsewhere (a file or
//! an async generator on the Python side) through a bounded channel.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Frame, SizeHint};
use tokio::sync::mpsc;

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
}

/// A streamed body and the sender that feeds it (capacity in chunks).
pub fn body_channel(capacity: usize, length: Option<u64>) -> (mpsc::Sender<BodyItem>, BodyStream) {
    let (tx, rx) = mpsc::channel(capacity.max(1));
    (tx, BodyStream { rx, length })
}

/// What hyper sends.
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
            RequestBody::Stream(s) => match s.rx.poll_recv(cx) {
                Poll::Pending => Poll::Pending,
                Poll::Ready(None) => Poll::Ready(None),
                Poll::Ready(Some(Ok(b))) => Poll::Ready(Some(Ok(Frame::data(b)))),
                Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e))),
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self, RequestBody::Full(None))
            || matches!(self, RequestBody::Full(Some(b)) if b.is_empty())
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
}
