//! One error type whose kinds cover aiohttp's whole client exception tree.
//!
//! The glue maps each [`ErrorKind`] to exactly one aiohttp exception class; no
//! code anywhere matches on the message text.

use std::fmt;

use crate::response::ResponseHead;

/// What went wrong, in aiohttp's terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The request URL cannot be parsed or has no host (`InvalidUrlClientError`).
    InvalidUrl,
    /// The request URL is not http/https (`NonHttpUrlClientError`).
    NonHttpUrl,
    /// A redirect `Location` cannot be parsed (`InvalidUrlRedirectClientError`).
    InvalidRedirectUrl,
    /// A redirect points at a non-http scheme (`NonHttpUrlRedirectClientError`).
    NonHttpRedirectUrl,
    /// Bad argument combination (`ValueError`).
    InvalidArgument,
    /// Name resolution failed (`ClientConnectorDNSError`).
    Dns,
    /// TCP connect failed: refused, unreachable... (`ClientConnectorError`).
    Connect,
    /// TLS handshake failed for a reason other than the certificate
    /// (`ClientConnectorSSLError`).
    Tls,
    /// The server's certificate was rejected (`ClientConnectorCertificateError`):
    /// `errno` is OpenSSL's verify code for it and `message` OpenSSL's verify
    /// message ([`crate::connect::tls::cert_verify`]).
    Certificate,
    /// The leaf certificate's SHA-256 is not the pinned one
    /// (`ServerFingerprintMismatch`); the digests are in [`Error::fingerprints`].
    FingerprintMismatch,
    /// A configuration the engine cannot honour, e.g. an SSLContext setting
    /// rustls has no equivalent for (`NotImplementedError`).
    Unsupported,
    /// `ClientTimeout.connect` / `sock_connect` elapsed (`ConnectionTimeoutError`).
    ConnectTimeout,
    /// `ClientTimeout.sock_read` elapsed (`SocketTimeoutError`).
    ReadTimeout,
    /// `ClientTimeout.total` elapsed (`asyncio.TimeoutError`).
    TotalTimeout,
    /// The peer closed before answering (`ServerDisconnectedError`).
    ServerDisconnected,
    /// The response head is not valid HTTP (`ClientResponseError`, status 400).
    BadResponse,
    /// The body is truncated or badly framed or encoded (`ClientPayloadError`).
    Payload,
    /// Too many redirects (`TooManyRedirects`).
    TooManyRedirects,
    /// Any other socket error (`ClientOSError`).
    Io,
    /// The session or connector is closed (`RuntimeError`).
    Closed,
}

/// The engine's error: a kind, a human message and the context aiohttp's
/// exceptions carry.
#[derive(Debug)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
    /// Host and port of the connection attempt, where there was one.
    pub host: Option<String>,
    pub port: Option<u16>,
    pub is_tls: bool,
    /// The OS error number, where the cause was an OS error (for
    /// [`ErrorKind::Certificate`], OpenSSL's verify code).
    pub errno: Option<i32>,
    /// The offending URL (invalid / non-http / redirect errors); boxed to
    /// keep `Error` within clippy's large-error bound.
    pub url: Option<Box<str>>,
    /// Responses seen before the error (TooManyRedirects).
    pub history: Vec<ResponseHead>,
    /// The request in flight when the error happened, for `request_info`.
    pub request: Option<std::sync::Arc<crate::response::RequestInfo>>,
    /// Expected and received certificate digests (FingerprintMismatch).
    pub fingerprints: Option<Box<Fingerprints>>,
}

/// The pinned and the presented SHA-256 digest of a server's certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprints {
    pub expected: Vec<u8>,
    pub got: Vec<u8>,
}

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            host: None,
            port: None,
            is_tls: false,
            errno: None,
            url: None,
            history: Vec::new(),
            request: None,
            fingerprints: None,
        }
    }

    pub fn with_url(mut self, url: impl Into<String>) -> Self {
        self.url = Some(url.into().into_boxed_str());
        self
    }

    pub fn with_addr(mut self, host: &str, port: u16, is_tls: bool) -> Self {
        self.host = Some(host.to_owned());
        self.port = Some(port);
        self.is_tls = is_tls;
        self
    }

    pub fn with_io(mut self, e: &std::io::Error) -> Self {
        self.errno = e.raw_os_error();
        self
    }

    pub fn with_request(mut self, req: &std::sync::Arc<crate::response::RequestInfo>) -> Self {
        if self.request.is_none() {
            self.request = Some(req.clone());
        }
        self
    }

    pub(crate) fn payload(msg: impl Into<String>) -> Self {
        Error::new(ErrorKind::Payload, msg)
    }

    pub(crate) fn read_timeout() -> Self {
        Error::new(
            ErrorKind::ReadTimeout,
            "Timeout on reading data from socket",
        )
    }

    pub(crate) fn total_timeout() -> Self {
        Error::new(ErrorKind::TotalTimeout, "")
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {}", self.kind, self.message)
    }
}

impl std::error::Error for Error {}
