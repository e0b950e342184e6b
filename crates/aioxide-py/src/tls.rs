//! `TlsConfig`: an engine TLS configuration (aiohttp's `ssl=` given an
//! `SSLContext` or a `Fingerprint`), built once from the pieces
//! `aioxide._tls` extracted and reused by every request that passes it.

use std::path::PathBuf;

use aioxide::connect::tls::{ClientCert, TlsMode, TlsOptions};
use aioxide::ErrorKind;
use pyo3::exceptions::{PyNotImplementedError, PyValueError};
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::types::PyBytes;

/// A TLS configuration the engine built (rustls), for `Session.request(tls=...)`.
#[pyclass(frozen, module = "aioxide._aioxide")]
pub struct TlsConfig {
    mode: TlsMode,
}

impl TlsConfig {
    /// The engine mode for a request.
    pub fn mode(&self) -> TlsMode {
        self.mode.clone()
    }
}

#[pymethods]
impl TlsConfig {
    /// `ca_ders`: DER certificates to trust (added to the system store when
    /// `system_roots`); `client_cert` / `client_key`: PEM as
    /// `load_cert_chain` read it (the key in `client_cert` when
    /// `client_key` is None), `client_origin`: where from, for messages,
    /// `client_key_password`: a password was given;
    /// `fingerprint`: the SHA-256 the leaf must have; `min_version` /
    /// `max_version`: wire numbers (0x0303 TLS 1.2, 0x0304 TLS 1.3);
    /// `cipher_suites`: IANA numbers allowed, when narrowed.  Raises
    /// ValueError for bad input, NotImplementedError for what rustls cannot do.
    #[new]
    #[pyo3(signature = (*, verify=true, check_hostname=true, system_roots=true, ca_ders=None, client_cert=None, client_key=None, client_origin=None, client_key_password=false, fingerprint=None, min_version=None, max_version=None, cipher_suites=None, keylog_filename=None, resumption=true))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        verify: bool,
        check_hostname: bool,
        system_roots: bool,
        ca_ders: Option<Vec<PyBackedBytes>>,
        client_cert: Option<PyBackedBytes>,
        client_key: Option<PyBackedBytes>,
        client_origin: Option<String>,
        client_key_password: bool,
        fingerprint: Option<PyBackedBytes>,
        min_version: Option<u16>,
        max_version: Option<u16>,
        cipher_suites: Option<Vec<u16>>,
        keylog_filename: Option<PathBuf>,
        resumption: bool,
    ) -> PyResult<Self> {
        let opts = TlsOptions {
            verify,
            check_hostname,
            system_roots,
            ca_ders: ca_ders
                .unwrap_or_default()
                .iter()
                .map(|b| b.to_vec())
                .collect(),
            client_cert: client_cert.map(|cert| ClientCert {
                cert_pem: cert.to_vec(),
                key_pem: client_key.map(|k| k.to_vec()),
                origin: client_origin.unwrap_or_else(|| "loaded in the SSLContext".into()),
                has_password: client_key_password,
            }),
            fingerprint: fingerprint.map(|b| b.to_vec()),
            min_version,
            max_version,
            cipher_suites,
            keylog_path: keylog_filename,
            resumption,
        };
        // Parses keys and maybe reads the system trust store: without the GIL.
        let mode = py.detach(move || TlsMode::custom(&opts));
        match mode {
            Ok(mode) => Ok(TlsConfig { mode }),
            Err(e) if e.kind == ErrorKind::Unsupported => {
                Err(PyNotImplementedError::new_err(e.message))
            }
            Err(e) => Err(PyValueError::new_err(e.message)),
        }
    }

    /// The engine's id for this configuration (connections are pooled per id).
    #[getter]
    fn id(&self) -> u64 {
        match &self.mode {
            TlsMode::Custom(spec) => spec.id(),
            _ => 0,
        }
    }

    /// The pinned SHA-256 digest, or None.
    #[getter]
    fn fingerprint<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyBytes>> {
        match &self.mode {
            TlsMode::Custom(spec) => spec.fingerprint().map(|f| PyBytes::new(py, f)),
            _ => None,
        }
    }

    /// Whether the certificate chain is verified.
    #[getter]
    fn verify(&self) -> bool {
        match &self.mode {
            TlsMode::Custom(spec) => spec.verify(),
            TlsMode::Verify => true,
            TlsMode::NoVerify => false,
        }
    }

    /// Whether the certificate is checked against the server name.
    #[getter]
    fn check_hostname(&self) -> bool {
        match &self.mode {
            TlsMode::Custom(spec) => spec.check_hostname(),
            TlsMode::Verify => true,
            TlsMode::NoVerify => false,
        }
    }

    fn __repr__(&self) -> String {
        format!(
            "<TlsConfig id={} verify={} check_hostname={} fingerprint={}>",
            self.id(),
            self.verify(),
            self.check_hostname(),
            matches!(&self.mode, TlsMode::Custom(s) if s.fingerprint().is_some()),
        )
    }
}
