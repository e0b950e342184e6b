//! `UploadProgress`: the engine's count of a request's upload, for
//! `aioxide.UploadTracker`.

use std::sync::Arc;

use aioxide::body::upload::{Outcome, Upload};
use pyo3::prelude::*;

use crate::bridge::{Bridge, Deliver, Wait};
use crate::errors;

#[pyclass(module = "aioxide._aioxide", frozen)]
pub struct UploadProgress(pub Arc<Upload>);

#[pymethods]
impl UploadProgress {
    #[new]
    fn new() -> Self {
        UploadProgress(Upload::new())
    }

    #[getter]
    fn attempts(&self) -> u32 {
        self.0.attempts()
    }

    #[getter]
    fn written(&self) -> u64 {
        self.0.written()
    }

    /// How the current attempt went: True while its body is being
    /// written, then None (it went whole), the exception of its failure,
    /// or False (cut short, or never sent).
    #[getter]
    fn outcome(&self, py: Python<'_>) -> Py<PyAny> {
        outcome(py, self.0.outcome())
    }

    /// Completes `fut` with `outcome` once the attempt is not writing.
    fn settled(&self, bridge: &Bound<'_, Bridge>, fut: Py<PyAny>) -> PyResult<u64> {
        let up = self.0.clone();
        bridge.get().spawn_as(Wait::Read, fut, async move {
            up.settled().await;
            Box::new(move |py: Python<'_>| Ok(outcome(py, up.outcome()))) as Deliver
        })
    }
}

fn outcome(py: Python<'_>, o: Outcome) -> Py<PyAny> {
    let flag = |b: bool| {
        pyo3::types::PyBool::new(py, b)
            .to_owned()
            .into_any()
            .unbind()
    };
    match o {
        Outcome::Finished => py.None(),
        Outcome::Writing => flag(true),
        Outcome::Failed(kind, msg) => errors::to_py(py, aioxide::Error::new(kind, msg))
            .into_value(py)
            .into_any(),
        Outcome::NotSent | Outcome::Aborted => flag(false),
    }
}
