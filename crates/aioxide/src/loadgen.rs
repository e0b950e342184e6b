//! A load generator (`aioxide bench`): `concurrency` workers send the same
//! request over one [`Client`] until a count or a duration is reached,
//! recording each request's latency (head and whole body) in a histogram,
//! the status codes and the errors by kind.  Progress is an atomic count the
//! caller polls; [`Progress::stop`] ends the run early (in-flight requests are
//! dropped and not counted).  The summaries ([`percentiles`], [`buckets`])
//! are pure functions of the histogram.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hdrhistogram::Histogram;
use tokio::sync::Notify;

use crate::client::{Client, Request};
use crate::connect::tls::TlsMode;
use crate::policy::timeout::Timeouts;

/// Latencies are recorded in microseconds, 3 significant figures.
pub type Latencies = Histogram<u64>;

/// What to send and for how long.
#[derive(Debug, Clone)]
pub struct LoadSpec {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Bytes>,
    /// Requests in flight at once (at least 1).
    pub concurrency: usize,
    /// Stop after this many requests...
    pub count: Option<u64>,
    /// ...or after this long (whichever comes first; neither: until stopped).
    pub duration: Option<Duration>,
    /// Per-request total timeout (default: none).
    pub timeout: Option<Duration>,
    pub verify_tls: bool,
}

/// Shared between the run and whoever watches it.
#[derive(Debug, Default)]
pub struct Progress {
    issued: AtomicU64,
    completed: AtomicU64,
    failed: AtomicU64,
    stopped: AtomicBool,
    notify: Notify,
}

impl Progress {
    /// Requests finished so far (answered or failed).
    pub fn completed(&self) -> u64 {
        self.completed.load(Ordering::Relaxed)
    }

    /// Requests failed so far.
    pub fn failed(&self) -> u64 {
        self.failed.load(Ordering::Relaxed)
    }

    /// End the run: no new request starts, in-flight ones are dropped.
    pub fn stop(&self) {
        self.stopped.store(true, Ordering::SeqCst);
        self.notify.notify_waiters();
    }

    pub fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::SeqCst)
    }

    async fn wait_stopped(&self) {
        let waiter = self.notify.notified();
        tokio::pin!(waiter);
        waiter.as_mut().enable();
        if self.is_stopped() {
            return;
        }
        waiter.await;
    }

    /// Take the next ticket within `count`; false when the run is over.
    fn claim(&self, count: Option<u64>, deadline: Option<Instant>) -> bool {
        if self.is_stopped() || deadline.is_some_and(|d| Instant::now() >= d) {
            return false;
        }
        match count {
            Some(n) => self.issued.fetch_add(1, Ordering::Relaxed) < n,
            None => true,
        }
    }
}

/// The outcome of a run.
#[derive(Debug)]
pub struct Report {
    /// From the first request to the last answer.
    pub elapsed: Duration,
    /// Latency of every answered request (any status), in microseconds.
    pub latencies: Latencies,
    /// Answers by status code.
    pub statuses: BTreeMap<u16, u64>,
    /// Failures by error kind (`ConnectTimeout`, `Connect`, ...).
    pub errors: BTreeMap<String, u64>,
    /// Body bytes received (decoded).
    pub body_bytes: u64,
}

impl Report {
    fn new() -> Self {
        Report {
            elapsed: Duration::ZERO,
            latencies: new_histogram(),
            statuses: BTreeMap::new(),
            errors: BTreeMap::new(),
            body_bytes: 0,
        }
    }

    fn merge(&mut self, other: Report) {
        // Both histograms auto-resize: adding cannot fail.
        let _ = self.latencies.add(&other.latencies);
        for (k, v) in other.statuses {
            *self.statuses.entry(k).or_default() += v;
        }
        for (k, v) in other.errors {
            *self.errors.entry(k).or_default() += v;
        }
        self.body_bytes += other.body_bytes;
    }

    /// Answered requests (any status).
    pub fn answered(&self) -> u64 {
        self.latencies.len()
    }

    pub fn failed(&self) -> u64 {
        self.errors.values().sum()
    }
}

pub fn new_histogram() -> Latencies {
    let mut h = Histogram::new(3).unwrap_or_else(|_| unreachable!("3 significant figures"));
    h.auto(true);
    h
}

/// Run the load on the current tokio runtime; workers are spawned tasks, so
/// a multi-thread runtime spreads them over its threads.
pub async fn run(client: Client, spec: Arc<LoadSpec>, progress: Arc<Progress>) -> Report {
    let start = Instant::now();
    let deadline = spec.duration.map(|d| start + d);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..spec.concurrency.max(1) {
        let (client, spec, progress) = (client.clone(), spec.clone(), progress.clone());
        tasks.spawn(async move {
            // The stop is watched once per worker, not per request; the
            // report lives outside the dropped future, so a stopped run keeps
            // what it measured.
            let mut report = Report::new();
            tokio::select! {
                biased;
                () = worker(&client, &spec, &progress, deadline, &mut report) => {}
                () = progress.wait_stopped() => {}
            }
            report
        });
    }
    // At the deadline the run ends: requests still in flight are dropped, as
    // wrk counts only what completed within the duration.
    let timer = deadline.map(|deadline| {
        let p = progress.clone();
        tokio::spawn(async move {
            tokio::time::sleep_until(deadline.into()).await;
            p.stop();
        })
    });
    let mut report = Report::new();
    while let Some(r) = tasks.join_next().await {
        if let Ok(r) = r {
            report.merge(r);
        }
    }
    if let Some(timer) = timer {
        timer.abort();
    }
    report.elapsed = start.elapsed();
    report
}

fn request(spec: &LoadSpec) -> Request {
    let mut req = Request::new(&spec.method, &spec.url);
    req.headers.clone_from(&spec.headers);
    req.body.clone_from(&spec.body);
    // No deadline unless asked for (oha's default); a duration run ends at
    // its deadline whatever is in flight.
    req.timeouts = Timeouts {
        total: spec.timeout,
        ..Timeouts::default()
    };
    if !spec.verify_tls {
        req.tls = TlsMode::NoVerify;
    }
    req
}

async fn worker(
    client: &Client,
    spec: &LoadSpec,
    progress: &Progress,
    deadline: Option<Instant>,
    report: &mut Report,
) {
    while progress.claim(spec.count, deadline) {
        let t0 = Instant::now();
        let outcome = one(client, spec).await;
        let us = u64::try_from(t0.elapsed().as_micros()).unwrap_or(u64::MAX);
        match outcome {
            Ok((status, n)) => {
                // Auto-resizing: recording cannot fail (saturating_record
                // would clamp to the current range instead of growing it).
                let _ = report.latencies.record(us.max(1));
                *report.statuses.entry(status).or_default() += 1;
                report.body_bytes += n;
            }
            Err(kind) => {
                *report.errors.entry(kind).or_default() += 1;
                progress.failed.fetch_add(1, Ordering::Relaxed);
            }
        }
        progress.completed.fetch_add(1, Ordering::Relaxed);
    }
}

/// One request, its body read to the end: (status, body bytes) or the
/// error's kind.
async fn one(client: &Client, spec: &LoadSpec) -> Result<(u16, u64), String> {
    let kind = |e: crate::Error| format!("{:?}", e.kind);
    let mut resp = client.execute(request(spec)).await.map_err(kind)?;
    let mut n = 0u64;
    while let Some(piece) = resp.body.next_piece().await.map_err(kind)? {
        n += piece.len() as u64;
    }
    Ok((resp.head.status, n))
}

/// The latency at each quantile (0.0-1.0), in microseconds.
pub fn percentiles(h: &Latencies, quantiles: &[f64]) -> Vec<(f64, u64)> {
    quantiles
        .iter()
        .map(|&q| {
            (
                q,
                if h.is_empty() {
                    0
                } else {
                    h.value_at_quantile(q)
                },
            )
        })
        .collect()
}

/// `n` equal-width buckets from the fastest to the slowest latency, as
/// (upper bound in microseconds, count); the last one ends at the maximum.
/// Empty for an empty histogram.
pub fn buckets(h: &Latencies, n: usize) -> Vec<(u64, u64)> {
    if h.is_empty() || n == 0 {
        return Vec::new();
    }
    let (lo, hi) = (h.min(), h.max());
    let n64 = n as u64;
    let mut out: Vec<(u64, u64)> = (1..=n64).map(|i| (lo + (hi - lo) * i / n64, 0)).collect();
    out.dedup_by_key(|b| b.0);
    for v in h.iter_recorded() {
        let value = v.value_iterated_to();
        let i = out
            .iter()
            .position(|&(upper, _)| value <= upper)
            .unwrap_or(out.len() - 1);
        out[i].1 += v.count_at_value();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hist(values: &[u64]) -> Latencies {
        let mut h = new_histogram();
        for &v in values {
            h.record(v).expect("record");
        }
        h
    }

    #[test]
    fn percentiles_of_uniform_latencies() {
        let h = hist(&(1..=1000).collect::<Vec<_>>());
        let p = percentiles(&h, &[0.5, 0.9, 0.99, 0.999]);
        let got: Vec<u64> = p.iter().map(|&(_, v)| v).collect();
        assert_eq!(got, vec![500, 900, 990, 999]);
    }

    #[test]
    fn percentiles_of_empty_histogram_are_zero() {
        let p = percentiles(&new_histogram(), &[0.5, 0.99]);
        assert_eq!(p, vec![(0.5, 0), (0.99, 0)]);
    }

    #[test]
    fn buckets_cover_every_value_once() {
        let h = hist(&[100, 150, 200, 250, 300, 1000, 1000]);
        let b = buckets(&h, 9);
        assert_eq!(b.iter().map(|&(_, c)| c).sum::<u64>(), 7);
        assert_eq!(b.last().map(|&(u, _)| u), Some(1000));
        assert_eq!(b[0], (200, 3));
        assert!(b.windows(2).all(|w| w[0].0 < w[1].0));
    }

    #[test]
    fn buckets_of_one_value() {
        let h = hist(&[42, 42, 42]);
        assert_eq!(buckets(&h, 10), vec![(42, 3)]);
        assert!(buckets(&new_histogram(), 10).is_empty());
    }

    #[test]
    fn claim_honours_count_stop_and_deadline() {
        let p = Progress::default();
        assert!(p.claim(Some(2), None));
        assert!(p.claim(Some(2), None));
        assert!(!p.claim(Some(2), None));
        let p = Progress::default();
        assert!(!p.claim(None, Some(Instant::now())));
        p.stop();
        assert!(!p.claim(None, None));
    }

    /// A server that answers every request on a connection after `delay`.
    async fn slow_server(delay: Duration) -> std::net::SocketAddr {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    loop {
                        while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            buf.drain(..end + 4);
                            tokio::time::sleep(delay).await;
                            let answer = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
                            if sock.write_all(answer).await.is_err() {
                                return;
                            }
                        }
                        match sock.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                });
            }
        });
        addr
    }

    fn spec(url: String, count: u64) -> LoadSpec {
        LoadSpec {
            method: "GET".into(),
            url,
            headers: vec![("X-Bench".into(), "1".into())],
            body: None,
            concurrency: 2,
            count: Some(count),
            duration: None,
            timeout: Some(Duration::from_secs(5)),
            verify_tls: true,
        }
    }

    #[tokio::test]
    async fn run_counts_every_request_and_its_latency() {
        let addr = slow_server(Duration::from_millis(5)).await;
        let progress = Arc::new(Progress::default());
        let spec = Arc::new(spec(format!("http://{addr}/"), 20));
        let r = run(Client::default(), spec, progress.clone()).await;
        assert_eq!(r.statuses.get(&200), Some(&20));
        assert_eq!(
            (r.failed(), progress.completed(), r.body_bytes),
            (0, 20, 40)
        );
        assert!(r.latencies.min() >= 5000, "min {} us", r.latencies.min());
        // 20 requests two at a time, each at least 5 ms: at least 50 ms.
        assert!(r.elapsed >= Duration::from_millis(50));
    }

    #[tokio::test]
    async fn run_counts_connection_errors_by_kind() {
        let addr = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            l.local_addr().expect("addr")
        };
        let r = run(
            Client::default(),
            Arc::new(spec(format!("http://{addr}/"), 6)),
            Arc::default(),
        )
        .await;
        assert_eq!(r.errors.get("Connect"), Some(&6));
        assert_eq!(r.answered(), 0);
    }

    #[tokio::test]
    async fn stop_ends_a_run_without_a_limit() {
        let addr = slow_server(Duration::from_millis(1)).await;
        let mut s = spec(format!("http://{addr}/"), 0);
        s.count = None;
        let progress = Arc::new(Progress::default());
        let p = progress.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            p.stop();
        });
        let r = tokio::time::timeout(
            Duration::from_secs(5),
            run(Client::default(), Arc::new(s), progress),
        )
        .await
        .expect("stopped");
        assert!(r.answered() > 0);
        assert_eq!(r.failed(), 0);
    }

    #[tokio::test]
    async fn a_duration_ends_at_its_deadline_even_without_answers() {
        let addr = slow_server(Duration::from_secs(60)).await;
        let mut s = spec(format!("http://{addr}/"), 0);
        (s.count, s.duration, s.timeout) = (None, Some(Duration::from_millis(100)), None);
        let run = run(Client::default(), Arc::new(s), Arc::default());
        let r = tokio::time::timeout(Duration::from_secs(5), run)
            .await
            .expect("ended");
        assert_eq!((r.answered(), r.failed()), (0, 0));
        assert!(r.elapsed >= Duration::from_millis(100) && r.elapsed < Duration::from_secs(5));
    }
}
