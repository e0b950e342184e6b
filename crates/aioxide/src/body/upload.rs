//! The upload progress of one request (aiohttp 3.14's `UploadTracker`):
//! every attempt at sending it (each redirect hop, a retry on a new
//! connection) counts from zero the body bytes handed to the connection,
//! and ends finished, failed or cut short.

use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Frame, SizeHint};

use super::request::{BodyAborted, RequestBody};
use crate::error::ErrorKind;

/// The most of a body handed on at once while it is tracked: a large body
/// given whole goes in pieces, so that the count follows the connection.
const STEP: usize = 64 * 1024;

/// How the current attempt's body went.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Outcome {
    /// No attempt yet.
    #[default]
    NotSent,
    /// Its body is being written.
    Writing,
    /// Its body was handed on whole (none: at once).
    Finished,
    /// Its body's source failed.
    Failed(ErrorKind, String),
    /// It stopped before its end without an error of its own: cancelled,
    /// its connection failed or given up (aiohttp too reports these as
    /// cut short), the answer came first and ended it.
    Aborted,
}

#[derive(Default)]
struct State {
    attempts: u32,
    written: u64,
    outcome: Outcome,
}

/// One request's upload progress, shared by the engine and its caller.
#[derive(Default)]
pub struct Upload {
    state: Mutex<State>,
    ended: tokio::sync::Notify,
}

impl std::fmt::Debug for Upload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = self.lock();
        f.debug_struct("Upload")
            .field("attempts", &s.attempts)
            .field("written", &s.written)
            .field("outcome", &s.outcome)
            .finish()
    }
}

impl Upload {
    pub fn new() -> Arc<Self> {
        Arc::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Attempts started so far.
    pub fn attempts(&self) -> u32 {
        self.lock().attempts
    }

    /// Body bytes of the current attempt handed to the connection.
    pub fn written(&self) -> u64 {
        self.lock().written
    }

    pub fn outcome(&self) -> Outcome {
        self.lock().outcome.clone()
    }

    /// Resolves once the current attempt is not writing any more.
    pub async fn settled(&self) {
        loop {
            let ended = self.ended.notified();
            if self.lock().outcome != Outcome::Writing {
                return;
            }
            ended.await;
        }
    }

    /// A new attempt: the count starts from zero.
    pub(crate) fn start(self: &Arc<Self>) -> Attempt {
        let mut s = self.lock();
        s.attempts += 1;
        s.written = 0;
        s.outcome = Outcome::Writing;
        Attempt {
            upload: self.clone(),
            gen: s.attempts,
            open: true,
        }
    }

    fn end(&self, gen: u32, next: impl FnOnce(&Outcome) -> Option<Outcome>) {
        let mut s = self.lock();
        if s.attempts != gen {
            return; // a superseded attempt
        }
        if let Some(o) = next(&s.outcome) {
            s.outcome = o;
            drop(s);
            self.ended.notify_waiters();
        }
    }
}

/// One attempt's hold on the progress; dropped before its end, the attempt
/// is cut short.
#[derive(Debug)]
pub(crate) struct Attempt {
    upload: Arc<Upload>,
    gen: u32,
    open: bool,
}

impl Attempt {
    fn add(&self, n: usize) {
        let mut s = self.upload.lock();
        if s.attempts == self.gen {
            s.written += n as u64;
        }
    }

    fn close(&mut self, outcome: Outcome) {
        if std::mem::replace(&mut self.open, false) {
            self.upload
                .end(self.gen, |o| (*o == Outcome::Writing).then_some(outcome));
        }
    }
}

impl Drop for Attempt {
    fn drop(&mut self) {
        self.close(Outcome::Aborted);
    }
}

/// A body whose bytes are counted as the connection takes them.
#[derive(Debug)]
pub struct Tracked {
    body: RequestBody,
    /// The rest of a frame larger than [`STEP`].
    rest: Option<Bytes>,
    attempt: Attempt,
}

impl RequestBody {
    /// `self`, counted in `attempt`; a body with nothing to send finishes
    /// the attempt at once.
    pub(crate) fn tracked(self, mut attempt: Attempt) -> RequestBody {
        if http_body::Body::is_end_stream(&self) {
            attempt.close(Outcome::Finished);
            return self;
        }
        RequestBody::Tracked(Box::new(Tracked {
            body: self,
            rest: None,
            attempt,
        }))
    }
}

impl Tracked {
    fn step(&mut self, mut data: Bytes) -> Frame<Bytes> {
        if data.len() > STEP {
            self.rest = Some(data.split_off(STEP));
        }
        self.attempt.add(data.len());
        // (A connection that sees the end coming asks no further: hyper's
        // HTTP/2 sends the last frame with END_STREAM and drops the body.)
        if self.is_end_stream() {
            self.attempt.close(Outcome::Finished);
        }
        Frame::data(data)
    }

    pub(crate) fn poll_frame(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyAborted>>> {
        if let Some(rest) = self.rest.take() {
            return Poll::Ready(Some(Ok(self.step(rest))));
        }
        match std::task::ready!(http_body::Body::poll_frame(Pin::new(&mut self.body), cx)) {
            None => {
                self.attempt.close(Outcome::Finished);
                Poll::Ready(None)
            }
            Some(Err(e)) => {
                let msg = e.to_string();
                self.attempt.close(Outcome::Failed(ErrorKind::Io, msg));
                Poll::Ready(Some(Err(e)))
            }
            Some(Ok(frame)) => match frame.into_data() {
                Ok(data) => Poll::Ready(Some(Ok(self.step(data)))),
                Err(frame) => Poll::Ready(Some(Ok(frame))),
            },
        }
    }

    pub(crate) fn is_end_stream(&self) -> bool {
        self.rest.is_none() && http_body::Body::is_end_stream(&self.body)
    }

    pub(crate) fn size_hint(&self) -> SizeHint {
        let rest = self.rest.as_ref().map_or(0, |b| b.len() as u64);
        let inner = http_body::Body::size_hint(&self.body);
        let mut hint = SizeHint::new();
        hint.set_lower(inner.lower() + rest);
        if let Some(upper) = inner.upper() {
            hint.set_upper(upper + rest);
        }
        hint
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn a_whole_body_is_counted_in_steps_and_finishes() {
        let up = Upload::new();
        let body = RequestBody::Full(Some(Bytes::from(vec![7u8; STEP * 2 + 5])));
        let mut b = body.tracked(up.start());
        assert_eq!(
            http_body::Body::size_hint(&b).exact(),
            Some(STEP as u64 * 2 + 5)
        );
        let mut sizes = Vec::new();
        while let Some(f) = b.frame().await {
            sizes.push(f.unwrap().into_data().unwrap().len());
            assert_eq!(up.written(), sizes.iter().sum::<usize>() as u64);
        }
        assert_eq!(sizes, [STEP, STEP, 5]);
        assert_eq!(up.outcome(), Outcome::Finished);
        assert_eq!(up.attempts(), 1);
    }

    #[tokio::test]
    async fn an_empty_body_finishes_at_once_and_a_new_attempt_counts_from_zero() {
        let up = Upload::new();
        let b = RequestBody::Full(Some(Bytes::from_static(b"abc"))).tracked(up.start());
        assert_eq!(&b.collect().await.unwrap().to_bytes()[..], b"abc");
        assert_eq!(up.written(), 3);
        let _ = RequestBody::empty().tracked(up.start());
        assert_eq!((up.attempts(), up.written()), (2, 0));
        assert_eq!(up.outcome(), Outcome::Finished);
    }

    #[tokio::test]
    async fn dropped_before_its_end_is_aborted_and_a_stale_attempt_counts_nothing() {
        let up = Upload::new();
        let mut b = RequestBody::Full(Some(Bytes::from(vec![0u8; STEP + 1]))).tracked(up.start());
        let _ = b.frame().await;
        let waiting = tokio::spawn({
            let up = up.clone();
            async move { up.settled().await }
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished(), "still writing");
        drop(b);
        waiting.await.unwrap();
        assert_eq!(up.outcome(), Outcome::Aborted);
        assert_eq!(up.written(), STEP as u64);
        // A superseded attempt's body (still owned by a connection) neither
        // counts nor ends the new one.
        let mut old = RequestBody::Full(Some(Bytes::from(vec![0u8; STEP + 1]))).tracked(up.start());
        let new = RequestBody::Full(Some(Bytes::from(vec![0u8; 3]))).tracked(up.start());
        assert!(old.frame().await.is_some());
        drop(old);
        assert_eq!(
            (up.attempts(), up.written(), up.outcome()),
            (3, 0, Outcome::Writing)
        );
        new.collect().await.unwrap();
        assert_eq!((up.written(), up.outcome()), (3, Outcome::Finished));
    }

    #[tokio::test]
    async fn a_failing_source_fails_the_attempt() {
        let up = Upload::new();
        let (tx, s) = crate::body::request::body_channel(2, None);
        assert!(tx.send(Bytes::from_static(b"ab")).await);
        tx.abort("boom".into());
        let b = RequestBody::Stream(s).tracked(up.start());
        assert!(b.collect().await.is_err());
        assert!(matches!(up.outcome(), Outcome::Failed(ErrorKind::Io, m) if m.contains("boom")));
        assert_eq!(up.written(), 2);
    }
}
