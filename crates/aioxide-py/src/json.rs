//! `resp.json()`'s fast path: the engine's parser ([`aioxide::json`])
//! building Python objects directly; `NotImplemented` when it bails, and
//! `json.loads` decides.

use aioxide::json::{parse, Bail, Sink};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyList, PyString};

struct PySink<'py> {
    py: Python<'py>,
    /// Keys met so far (json.loads' memo): a repeated key is the same str,
    /// its hash computed once.  A short list: documents repeat few keys.
    keys: Vec<(Box<str>, Bound<'py, PyAny>)>,
}

/// Keys longer than this, or past this many, are not remembered.
const KEY_CACHE_LEN: usize = 64;
const KEY_CACHE_SIZE: usize = 32;

type R<'py> = Result<Bound<'py, PyAny>, Bail>;

impl PySink<'_> {
    /// A C call failed (out of memory): its error is dropped, json.loads runs.
    fn failed(&self) -> Bail {
        drop(PyErr::take(self.py));
        Bail
    }
}

impl<'py> Sink for PySink<'py> {
    type Value = Bound<'py, PyAny>;
    type Map = Bound<'py, PyDict>;
    type List = Bound<'py, PyList>;

    fn null(&mut self) -> R<'py> {
        Ok(self.py.None().into_bound(self.py))
    }
    fn boolean(&mut self, b: bool) -> R<'py> {
        Ok(PyBool::new(self.py, b).to_owned().into_any())
    }
    fn int(&mut self, i: i64) -> R<'py> {
        Ok(i.into_pyobject(self.py).map_err(|_| Bail)?.into_any())
    }
    fn float(&mut self, f: f64) -> R<'py> {
        Ok(PyFloat::new(self.py, f).into_any())
    }
    fn string(&mut self, s: &str) -> R<'py> {
        Ok(PyString::new(self.py, s).into_any())
    }
    fn key(&mut self, s: &str) -> R<'py> {
        if let Some((_, k)) = self.keys.iter().find(|(c, _)| **c == *s) {
            return Ok(k.clone());
        }
        let k = self.string(s)?;
        if s.len() <= KEY_CACHE_LEN && self.keys.len() < KEY_CACHE_SIZE {
            self.keys.push((s.into(), k.clone()));
        }
        Ok(k)
    }
    fn map(&mut self) -> Result<Self::Map, Bail> {
        Ok(PyDict::new(self.py))
    }
    fn map_set(&mut self, m: &mut Self::Map, k: Self::Value, v: Self::Value) -> Result<(), Bail> {
        // SAFETY: three valid objects, the GIL held; PyDict_SetItem takes
        // its own references (k and v are released when dropped).
        match unsafe { pyo3::ffi::PyDict_SetItem(m.as_ptr(), k.as_ptr(), v.as_ptr()) } {
            0 => Ok(()),
            _ => Err(self.failed()),
        }
    }
    fn map_done(&mut self, m: Self::Map) -> R<'py> {
        Ok(m.into_any())
    }
    fn list(&mut self) -> Result<Self::List, Bail> {
        Ok(PyList::empty(self.py))
    }
    fn list_push(&mut self, l: &mut Self::List, v: Self::Value) -> Result<(), Bail> {
        // SAFETY: as in map_set; PyList_Append takes its own reference.
        match unsafe { pyo3::ffi::PyList_Append(l.as_ptr(), v.as_ptr()) } {
            0 => Ok(()),
            _ => Err(self.failed()),
        }
    }
    fn list_done(&mut self, l: Self::List) -> R<'py> {
        Ok(l.into_any())
    }
}

/// The JSON value of a UTF-8 body as `json.loads(body.strip().decode())`
/// gives it (None for an empty body), or `NotImplemented` when only
/// `json.loads` can say (an error, a lone surrogate, NaN, a big integer...).
#[pyfunction]
pub fn json_loads<'py>(py: Python<'py>, body: &[u8]) -> Bound<'py, PyAny> {
    let mut sink = PySink {
        py,
        keys: Vec::new(),
    };
    match parse(body, &mut sink) {
        Ok(Some(v)) => v,
        Ok(None) => py.None().into_bound(py),
        Err(Bail) => py.NotImplemented().into_bound(py),
    }
}
