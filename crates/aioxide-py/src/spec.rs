//! A request's options as one object: `Options` is built once per session
//! (its defaults) and derived per request only when a request overrides
//! something (`Options.replace(**kw)`).  The engine call then takes the
//! options, the method, URL, headers and body: never a long argument list.

use std::sync::Arc;

use aioxide::connect::dns::Hook;
use aioxide::{HeadLimits, Request, Timeouts, TlsMode};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::cookies::CookieStore;
use crate::tls::TlsConfig;

/// Everything of `aioxide::Request` but the method, URL, headers and body.
#[derive(Clone)]
struct Opts {
    auth: Option<String>,
    default_auth: Option<String>,
    default_auth_origin: Option<String>,
    skip_auto_headers: Vec<String>,
    allow_redirects: bool,
    max_redirects: u32,
    total: Option<f64>,
    connect: Option<f64>,
    sock_read: Option<f64>,
    sock_connect: Option<f64>,
    auto_decompress: bool,
    tls: TlsMode,
    head_limits: HeadLimits,
    chunked: bool,
    compress: Option<String>,
    expect100: bool,
    http10: bool,
    read_until_eof: bool,
    server_hostname: Option<String>,
    cookies: Vec<(String, String)>,
    retry: bool,
    cookie_jar: Option<Arc<std::sync::Mutex<aioxide::cookie::CookieJar>>>,
    requote: bool,
    proxy: Option<aioxide::policy::proxy::Proxy>,
    upgrade: bool,
}

impl Default for Opts {
    fn default() -> Self {
        let r = Request::new("GET", "");
        Opts {
            auth: None,
            default_auth: None,
            default_auth_origin: None,
            skip_auto_headers: Vec::new(),
            allow_redirects: r.allow_redirects,
            max_redirects: r.max_redirects,
            total: Some(300.0),
            connect: None,
            sock_read: None,
            sock_connect: Some(30.0),
            auto_decompress: r.auto_decompress,
            tls: TlsMode::Verify,
            head_limits: HeadLimits::default(),
            chunked: false,
            compress: None,
            expect100: false,
            http10: false,
            read_until_eof: true,
            server_hostname: None,
            cookies: Vec::new(),
            retry: true,
            cookie_jar: None,
            requote: true,
            proxy: None,
            upgrade: false,
        }
    }
}

impl Opts {
    /// Set one option by its keyword; unknown keywords are a TypeError.
    fn set(&mut self, key: &str, v: &Bound<'_, PyAny>) -> PyResult<()> {
        match key {
            "auth" => self.auth = v.extract()?,
            "default_auth" => self.default_auth = v.extract()?,
            "default_auth_origin" => self.default_auth_origin = v.extract()?,
            "skip_auto_headers" => self.skip_auto_headers = v.extract()?,
            "allow_redirects" => self.allow_redirects = v.extract()?,
            "max_redirects" => self.max_redirects = redirect_limit(v)?,
            "total" => self.total = v.extract()?,
            "connect" => self.connect = v.extract()?,
            "sock_read" => self.sock_read = v.extract()?,
            "sock_connect" => self.sock_connect = v.extract()?,
            "auto_decompress" => self.auto_decompress = v.extract()?,
            "tls" => {
                self.tls = if let Ok(b) = v.extract::<bool>() {
                    if b {
                        TlsMode::Verify
                    } else {
                        TlsMode::NoVerify
                    }
                } else {
                    v.cast::<TlsConfig>()?.get().mode()
                }
            }
            "max_line_size" => self.head_limits.max_line_size = v.extract()?,
            "max_field_size" => self.head_limits.max_field_size = v.extract()?,
            "max_headers" => self.head_limits.max_headers = v.extract()?,
            "chunked" => self.chunked = v.extract()?,
            "compress" => self.compress = v.extract()?,
            "expect100" => self.expect100 = v.extract()?,
            "http10" => self.http10 = v.extract()?,
            "read_until_eof" => self.read_until_eof = v.extract()?,
            "server_hostname" => self.server_hostname = v.extract()?,
            "cookies" => self.cookies = v.extract()?,
            "retry" => self.retry = v.extract()?,
            "cookie_jar" => {
                self.cookie_jar = if v.is_none() {
                    None
                } else {
                    Some(v.cast::<CookieStore>()?.get().core())
                }
            }
            "requote" => self.requote = v.extract()?,
            "upgrade" => self.upgrade = v.extract()?,
            "proxy" => {
                self.proxy = v
                    .extract::<Option<(String, Vec<(String, String)>)>>()?
                    .map(|(url, headers)| aioxide::policy::proxy::Proxy { url, headers })
            }
            _ => {
                return Err(PyTypeError::new_err(format!(
                    "Options got an unexpected keyword argument {key:?}"
                )))
            }
        }
        Ok(())
    }

    fn apply(&mut self, kw: Option<&Bound<'_, PyDict>>) -> PyResult<()> {
        if let Some(kw) = kw {
            for (k, v) in kw.iter() {
                // (abi3 for 3.9 has no borrowed str: one small copy per key)
                self.set(&k.extract::<String>()?, &v)?;
            }
        }
        Ok(())
    }
}

/// A request's options (see the module's doc).
#[pyclass(frozen, module = "aioxide._aioxide")]
pub struct Options {
    opts: Opts,
}

#[pymethods]
impl Options {
    #[new]
    #[pyo3(signature = (**kw))]
    fn new(kw: Option<&Bound<'_, PyDict>>) -> PyResult<Self> {
        let mut opts = Opts::default();
        opts.apply(kw)?;
        Ok(Options { opts })
    }

    /// These options with some of them changed.
    #[pyo3(signature = (**kw))]
    fn replace(&self, kw: Option<&Bound<'_, PyDict>>) -> PyResult<Self> {
        let mut opts = self.opts.clone();
        opts.apply(kw)?;
        Ok(Options { opts })
    }

    #[getter]
    fn total(&self) -> Option<f64> {
        self.opts.total
    }
}

/// The parts of a request that are not options.
pub struct Call {
    /// The total timeout left, over the options' (a hop of the hooked path).
    pub total: Option<f64>,
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<bytes::Bytes>,
    pub content_type: Option<String>,
    pub body_stream: Option<aioxide::body::request::BodyStream>,
    pub body_rewind: Option<Hook<dyn aioxide::body::request::Rewind>>,
    pub on_send: Option<Hook<dyn aioxide::client::OnSend>>,
    pub upload: Option<std::sync::Arc<aioxide::body::upload::Upload>>,
}

impl Options {
    /// The engine's request: `call` with these options.
    pub fn request(&self, call: Call) -> Request {
        let o = &self.opts;
        Request {
            method: call.method,
            url: call.url,
            headers: call.headers,
            body: call.body,
            body_stream: call.body_stream,
            chunked: o.chunked,
            content_type: call.content_type,
            auth: o.auth.clone(),
            default_auth: o.default_auth.clone(),
            default_auth_origin: o.default_auth_origin.clone(),
            skip_auto_headers: o.skip_auto_headers.clone(),
            allow_redirects: o.allow_redirects,
            max_redirects: o.max_redirects,
            timeouts: Timeouts::from_secs(
                call.total.or(o.total),
                o.connect,
                o.sock_read,
                o.sock_connect,
            ),
            auto_decompress: o.auto_decompress,
            tls: o.tls.clone(),
            head_limits: o.head_limits,
            compress: o.compress.clone(),
            expect_continue: o.expect100,
            http10: o.http10,
            read_until_eof: o.read_until_eof,
            server_hostname: o.server_hostname.clone(),
            cookie_jar: o.cookie_jar.clone(),
            cookies: o.cookies.clone(),
            retry_stale: o.retry,
            body_rewind: call.body_rewind,
            requote_redirect_url: o.requote,
            on_send: call.on_send,
            proxy: o.proxy.clone(),
            upgrade: o.upgrade,
            upload: call.upload,
        }
    }
}

/// `max_redirects=` as the engine's limit: any int, as aiohttp takes.
fn redirect_limit(v: &Bound<'_, PyAny>) -> PyResult<u32> {
    Ok(aioxide::policy::redirect::limit(any_int(v)?))
}

/// A Python int of any size: one past 128 bits counts by its sign.
pub(crate) fn any_int(v: &Bound<'_, PyAny>) -> PyResult<i128> {
    match v.extract::<i128>() {
        Ok(n) => Ok(n),
        Err(e) if v.is_instance_of::<pyo3::types::PyInt>() => match v.lt(0) {
            Ok(true) => Ok(i128::MIN),
            Ok(false) => Ok(i128::MAX),
            Err(_) => Err(e),
        },
        Err(e) => Err(e),
    }
}
