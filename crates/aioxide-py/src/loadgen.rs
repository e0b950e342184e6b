//! `LoadGen`: the engine's load generator (`aioxide::loadgen`) on a thread
//! and runtime of its own, so that the load loop never enters Python and
//! never competes with a session's engine thread.  Python polls
//! `completed()` / `wait()` for its progress bar and reads `result()`.

use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use aioxide::loadgen::{buckets, percentiles, LoadSpec, Progress, Report};
use aioxide::{Client, ClientConfig};
use bytes::Bytes;
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;

const QUANTILES: [(&str, f64); 4] = [("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("p99.9", 0.999)];
const BUCKETS: usize = 10;

#[derive(Default)]
struct Outcome {
    done: bool,
    report: Option<Result<Report, String>>,
}

/// A running load: started by the constructor, stopped by `stop()` or its end.
#[pyclass(frozen, module = "aioxide._aioxide")]
pub struct LoadGen {
    progress: Arc<Progress>,
    outcome: Arc<(Mutex<Outcome>, Condvar)>,
}

fn secs(name: &str, v: Option<f64>) -> PyResult<Option<Duration>> {
    v.map(|s| aioxide::policy::timeout::setting(name, s, false).map_err(PyValueError::new_err))
        .transpose()
}

fn runtime(threads: usize) -> std::io::Result<tokio::runtime::Runtime> {
    if threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .thread_name("aioxide-loadgen")
            .enable_all()
            .build()
    }
}

fn drive(
    spec: LoadSpec,
    http2: aioxide::policy::h2::Http2,
    threads: usize,
    progress: Arc<Progress>,
) -> Result<Report, String> {
    let rt = runtime(threads).map_err(|e| e.to_string())?;
    let mut cfg = ClientConfig::default();
    cfg.pool.limit = spec.concurrency;
    cfg.pool.http2 = http2;
    // The body is read right away anyway: no read-ahead (it yields and arms
    // a 2 ms timer per request to answer a Python caller in one hop).
    cfg.read_ahead = 0;
    let client = Client::new(cfg);
    let report = rt.block_on(aioxide::loadgen::run(
        client.clone(),
        Arc::new(spec),
        progress,
    ));
    client.close();
    drop(client);
    rt.shutdown_timeout(Duration::from_secs(1));
    Ok(report)
}

impl Drop for LoadGen {
    /// A load nobody can watch any more is stopped, not left running.
    fn drop(&mut self) {
        self.progress.stop();
    }
}

#[pymethods]
impl LoadGen {
    #[new]
    #[pyo3(signature = (url, *, method="GET".to_owned(), headers=Vec::new(), body=None, concurrency=50, count=None, duration=None, timeout=None, http2="off", verify_ssl=true, threads=1))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        url: String,
        method: String,
        headers: Vec<(String, String)>,
        body: Option<Vec<u8>>,
        concurrency: usize,
        count: Option<u64>,
        duration: Option<f64>,
        timeout: Option<f64>,
        http2: &str,
        verify_ssl: bool,
        threads: usize,
    ) -> PyResult<Self> {
        if concurrency == 0 {
            return Err(PyValueError::new_err("concurrency must be >= 1"));
        }
        let http2 = aioxide::policy::h2::Http2::from_name(http2)
            .ok_or_else(|| PyValueError::new_err(format!("unknown http2 mode {http2:?}")))?;
        let spec = LoadSpec {
            method,
            url,
            headers,
            body: body.map(Bytes::from),
            concurrency,
            count,
            duration: secs("duration", duration)?,
            timeout: secs("timeout", timeout)?,
            verify_tls: verify_ssl,
        };
        let progress = Arc::new(Progress::default());
        let outcome = Arc::new((Mutex::new(Outcome::default()), Condvar::new()));
        let (p, o) = (progress.clone(), outcome.clone());
        std::thread::Builder::new()
            .name("aioxide-loadgen".into())
            .spawn(move || {
                let r = drive(spec, http2, threads, p);
                let (lock, cv) = &*o;
                let mut out = lock.lock().unwrap_or_else(|e| e.into_inner());
                *out = Outcome {
                    done: true,
                    report: Some(r),
                };
                cv.notify_all();
            })
            .map_err(|e| PyRuntimeError::new_err(format!("cannot start the load thread: {e}")))?;
        Ok(LoadGen { progress, outcome })
    }

    /// Requests finished so far (answered or failed).
    fn completed(&self) -> u64 {
        self.progress.completed()
    }

    /// Requests failed so far.
    fn failed(&self) -> u64 {
        self.progress.failed()
    }

    /// Stop early: no new request starts, in-flight ones are dropped.
    fn stop(&self) {
        self.progress.stop();
    }

    /// Wait up to `timeout` seconds for the end (without the GIL); true once over.
    fn wait(&self, py: Python<'_>, timeout: f64) -> bool {
        // (NaN and below zero: no wait.)
        let wait = aioxide::policy::timeout::duration(timeout).min(Duration::from_secs(3600));
        let outcome = self.outcome.clone();
        py.detach(move || {
            let (lock, cv) = &*outcome;
            let out = lock.lock().unwrap_or_else(|e| e.into_inner());
            let (out, _) = cv
                .wait_timeout_while(out, wait, |o| !o.done)
                .unwrap_or_else(|e| e.into_inner());
            out.done
        })
    }

    /// The final figures as a dict (seconds for times); RuntimeError before the end.
    fn result<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let out = self.outcome.0.lock().unwrap_or_else(|e| e.into_inner());
        match &out.report {
            None => Err(PyRuntimeError::new_err("the load is still running")),
            Some(Err(e)) => Err(PyRuntimeError::new_err(e.clone())),
            Some(Ok(r)) => report_dict(py, r),
        }
    }
}

fn report_dict<'py>(py: Python<'py>, r: &Report) -> PyResult<Bound<'py, PyDict>> {
    let us = |v: u64| v as f64 / 1e6;
    let h = &r.latencies;
    let elapsed = r.elapsed.as_secs_f64();
    let requests = r.answered() + r.failed();
    let d = PyDict::new(py);
    d.set_item("elapsed", elapsed)?;
    d.set_item("requests", requests)?;
    d.set_item("answered", r.answered())?;
    d.set_item("failed", r.failed())?;
    d.set_item(
        "rps",
        if elapsed > 0.0 {
            requests as f64 / elapsed
        } else {
            0.0
        },
    )?;
    d.set_item("body_bytes", r.body_bytes)?;
    let lat = PyDict::new(py);
    let empty = h.is_empty();
    lat.set_item("min", if empty { 0.0 } else { us(h.min()) })?;
    lat.set_item("mean", h.mean() / 1e6)?;
    lat.set_item("stdev", h.stdev() / 1e6)?;
    lat.set_item("max", if empty { 0.0 } else { us(h.max()) })?;
    for ((name, _), (_, v)) in QUANTILES
        .iter()
        .zip(percentiles(h, &QUANTILES.map(|(_, q)| q)))
    {
        lat.set_item(name, us(v))?;
    }
    d.set_item("latency", lat)?;
    let hist: Vec<(f64, u64)> = buckets(h, BUCKETS)
        .into_iter()
        .map(|(u, c)| (us(u), c))
        .collect();
    d.set_item("histogram", hist)?;
    d.set_item("status", r.statuses.clone())?;
    d.set_item("errors", r.errors.clone())?;
    Ok(d)
}
