//! One error type whose kinds cover aiohttp's whole client exception tree.
//!
//! The glue maps each [`ErrorKind`] to exactly one aiohttp exception class; no
//! code anywhere matches on the message text.

use std::any::Any;
use std::fmt;
use std::sync::Arc;

use crate::request::RequestInfo;

/// The error an [`Error`] was made from (an I/O, TLS or HTTP error).
pub type Source = Box<dyn std::error::Error + Send + Sync>;

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
    /// The connector was closed while the request was waiting for its
    /// response (`ClientConnectionError`, "Connector is closed.").
    ConnectorClosed,
    /// The proxy cannot be reached, or a SOCKS proxy refused or garbled the
    /// exchange (`ClientProxyConnectionError`); `host` / `port` are the
    /// proxy's, `errno` the OS error (or the one a SOCKS refusal stands for).
    ProxyConnect,
    /// An HTTP proxy answered CONNECT with something else than 200
    /// (`ClientHttpProxyError`); status, reason and headers in
    /// [`Error::proxy_reply`].
    ProxyStatus,
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
    /// Responses seen before the error (TooManyRedirects), of a type this
    /// module need not know: read them with [`Error::history`].
    history: Option<Box<dyn Any + Send + Sync>>,
    /// The request in flight when the error happened, for `request_info`.
    pub request: Option<Arc<RequestInfo>>,
    /// Expected and received certificate digests (FingerprintMismatch).
    pub fingerprints: Option<Box<Fingerprints>>,
    /// The error this one was made from, for [`std::error::Error::source`]
    /// (boxed twice: a thin pointer keeps `Error` within clippy's bound).
    source: Option<Box<Source>>,
}

/// The pinned and the presented SHA-256 digest of a server's certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprints {
    pub expected: Vec<u8>,
    pub got: Vec<u8>,
}

/// What an HTTP proxy answered to CONNECT when it refused the tunnel:
/// what `ClientHttpProxyError` carries as `status`, `message`, `headers`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyReply {
    pub status: u16,
    /// The reason phrase, or the status' canonical one when the proxy sent
    /// none (as aiohttp: `HTTPStatus(status).phrase`).
    pub reason: String,
    pub headers: http::HeaderMap,
}

impl fmt::Display for ProxyReply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "proxy answered {} {}", self.status, self.reason)
    }
}

impl std::error::Error for ProxyReply {}

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
            history: None,
            request: None,
            fingerprints: None,
            source: None,
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

    pub fn with_request(mut self, req: &Arc<RequestInfo>) -> Self {
        if self.request.is_none() {
            self.request = Some(req.clone());
        }
        self
    }

    /// Attach the responses seen before the error (TooManyRedirects).
    pub fn with_history<T: Send + Sync + 'static>(mut self, history: Vec<T>) -> Self {
        self.history = Some(Box::new(history));
        self
    }

    /// The responses attached by [`Error::with_history`], when of type `T`
    /// (the engine's are [`crate::ResponseHead`]); empty otherwise.
    pub fn history<T: 'static>(&self) -> &[T] {
        self.history
            .as_ref()
            .and_then(|h| h.downcast_ref::<Vec<T>>())
            .map_or(&[], Vec::as_slice)
    }

    /// Keep the error this one was made from.
    pub fn with_source(mut self, source: impl Into<Source>) -> Self {
        self.source = Some(Box::new(source.into()));
        self
    }

    /// A ProxyStatus error made from the proxy's answer: its reason is the
    /// message, the answer itself the source ([`Error::proxy_reply`]).
    pub fn proxy_status(reply: ProxyReply) -> Self {
        Error::new(ErrorKind::ProxyStatus, reply.reason.clone()).with_source(reply)
    }

    /// The proxy's answer to CONNECT, for a ProxyStatus error (kept as its
    /// source, so that `Error` stays small).
    pub fn proxy_reply(&self) -> Option<&ProxyReply> {
        self.source.as_deref()?.downcast_ref::<ProxyReply>()
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

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|s| s.as_ref() as &(dyn std::error::Error + 'static))
    }
}

impl Error {
    /// One of the errors of many waiters on one failure (a shared DNS
    /// lookup's): its fields copied, the original its source, so that what
    /// caused it (a hook's exception too) is still found through `source()`.
    pub fn shared(e: &Arc<Error>) -> Error {
        Error {
            kind: e.kind,
            message: e.message.clone(),
            host: e.host.clone(),
            port: e.port,
            is_tls: e.is_tls,
            errno: e.errno,
            url: e.url.clone(),
            history: None,
            request: e.request.clone(),
            fingerprints: e.fingerprints.clone(),
            source: Some(Box::new(Box::new(Shared(e.clone())))),
        }
    }
}

/// The error a [`Error::shared`] copy was made from.
#[derive(Debug)]
struct Shared(Arc<Error>);

impl fmt::Display for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for Shared {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_its_cause_and_history() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset");
        let e = Error::new(ErrorKind::Io, "boom").with_source(io);
        let cause = std::error::Error::source(&e).expect("a source");
        let io = cause
            .downcast_ref::<std::io::Error>()
            .expect("the io error");
        assert_eq!(io.kind(), std::io::ErrorKind::ConnectionReset);
        assert!(std::error::Error::source(&Error::new(ErrorKind::Io, "x")).is_none());

        let e = Error::new(ErrorKind::TooManyRedirects, "").with_history(vec![1u8, 2]);
        assert_eq!(e.history::<u8>(), &[1, 2]);
        assert!(e.history::<String>().is_empty());
    }

    #[test]
    fn proxy_status_keeps_the_answer() {
        let mut headers = http::HeaderMap::new();
        headers.insert("proxy-authenticate", "Basic".parse().unwrap());
        let reply = ProxyReply {
            status: 407,
            reason: "Proxy Authentication Required".into(),
            headers,
        };
        let e = Error::proxy_status(reply.clone());
        assert_eq!(e.kind, ErrorKind::ProxyStatus);
        assert_eq!(e.message, "Proxy Authentication Required");
        assert_eq!(e.proxy_reply(), Some(&reply));
        assert!(Error::new(ErrorKind::Io, "x").proxy_reply().is_none());
    }
}
