//! A hop's request as it goes on the wire: the automatic headers, the
//! framing rules (Content-Length / chunked / Expect) and the body across
//! redirects and retries.

use std::sync::Arc;

use bytes::Bytes;
use http::header::{self, HeaderName, HeaderValue};
use http::{HeaderMap, Method, Version};

use crate::body::request::{BodyStream, Gate, RequestBody};
use crate::client::{ClientConfig, Request};
use crate::dest::Dest;
use crate::error::{Error, ErrorKind};
use crate::policy::decompress::ACCEPT_ENCODING;

/// Methods aiohttp sends without `Content-Length: 0` when there is no body.
fn is_get_like(method: &str) -> bool {
    matches!(method, "GET" | "HEAD" | "OPTIONS" | "TRACE")
}

/// How long a body waits for `100 Continue` before it is sent anyway.
const EXPECT_CONTINUE_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

pub(crate) fn has_header(headers: &[(String, String)], name: &str) -> bool {
    headers.iter().any(|(k, _)| k.eq_ignore_ascii_case(name))
}

/// The request body across redirects and retries.
#[derive(Debug)]
pub(crate) enum Payload {
    None,
    Bytes(Bytes),
    /// A stream, until it is handed to a connection.
    Stream(Option<BodyStream>),
}

impl Payload {
    pub(crate) fn is_some(&self) -> bool {
        !matches!(self, Payload::None)
    }

    /// Whether there is something to send (aiohttp compresses only then).
    pub(crate) fn is_nonempty(&self) -> bool {
        match self {
            Payload::None => false,
            Payload::Bytes(b) => !b.is_empty(),
            Payload::Stream(_) => true,
        }
    }

    /// The body length when known.
    fn length(&self) -> Option<u64> {
        match self {
            Payload::None => Some(0),
            Payload::Bytes(b) => Some(b.len() as u64),
            Payload::Stream(s) => s.as_ref().and_then(|s| s.length),
        }
    }
}

/// A request ready to go on the wire (and to go again, for a retry).
pub(crate) struct Prepared {
    method: Method,
    uri: http::Uri,
    version: Version,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Payload,
    /// The body waits for `100 Continue`.
    expect: bool,
    /// Set when the server answered `100 Continue` (when `expect`).
    continued: Option<Arc<std::sync::atomic::AtomicBool>>,
    /// Resolves once a streamed body has been written (set by `build`).
    pub(crate) written: Option<tokio::sync::oneshot::Receiver<()>>,
}

impl Prepared {
    /// Whether the request can be sent again (its body is not a used stream).
    pub(crate) fn replayable(&self) -> bool {
        !matches!(self.body, Payload::Stream(None))
    }

    pub(crate) fn build(&mut self) -> http::Request<RequestBody> {
        let body = match &mut self.body {
            Payload::None => RequestBody::empty(),
            Payload::Bytes(b) => RequestBody::Full(Some(b.clone())),
            Payload::Stream(s) => match s.take() {
                Some(mut s) => {
                    let (tx, rx) = tokio::sync::oneshot::channel();
                    s.written = Some(tx);
                    self.written = Some(rx);
                    RequestBody::Stream(s)
                }
                None => RequestBody::empty(),
            },
        };
        let gated = self.expect && !http_body::Body::is_end_stream(&body);
        let body = if gated {
            let (tx, open) = tokio::sync::oneshot::channel();
            let tx = std::sync::Mutex::new(Some(tx));
            let continued = Arc::new(std::sync::atomic::AtomicBool::new(false));
            self.continued = Some(continued.clone());
            let gate = RequestBody::Gated(Box::new(Gate {
                open,
                timer: Box::pin(tokio::time::sleep(EXPECT_CONTINUE_WAIT)),
                inner: body,
                opened: false,
            }));
            let mut req = http::Request::new(gate);
            hyper::ext::on_informational(&mut req, move |res| {
                if res.status() == http::StatusCode::CONTINUE {
                    continued.store(true, std::sync::atomic::Ordering::Relaxed);
                    if let Some(tx) = tx.lock().unwrap_or_else(|p| p.into_inner()).take() {
                        let _ = tx.send(());
                    }
                }
            });
            req
        } else {
            self.continued = None;
            http::Request::new(body)
        };
        let mut req = body;
        *req.method_mut() = self.method.clone();
        *req.uri_mut() = self.uri.clone();
        *req.version_mut() = self.version;
        *req.headers_mut() = self.headers.clone();
        req
    }

    /// The request announced `Expect: 100-continue` and the server never
    /// answered `100`: its connection is in an unknown state.
    pub(crate) fn missed_continue(&self) -> bool {
        self.continued
            .as_ref()
            .is_some_and(|c| !c.load(std::sync::atomic::Ordering::Relaxed))
    }
}

/// What one hop sends, besides the request's own settings.
pub(crate) struct Hop<'a> {
    pub method: &'a str,
    pub dest: &'a Dest,
    /// The caller's headers, with this hop's `Cookie`.
    pub headers: &'a [(String, String)],
    pub auth: &'a Option<String>,
    /// The body's Content-Encoding (`compress=`), when it has one.
    pub coding: Option<&'a str>,
}

fn invalid(e: &dyn std::fmt::Display) -> Error {
    Error::new(ErrorKind::InvalidArgument, e.to_string())
}

fn header_value(v: &str, k: &str) -> Result<HeaderValue, Error> {
    HeaderValue::from_str(v).map_err(|e| invalid(&format!("{e}: {k}: {v:?}")))
}

/// Build a hop's request: `Host`, the caller's headers in their order, the
/// automatic headers they lack, then the framing headers.
pub(crate) fn prepare(
    cfg: &ClientConfig,
    req: &Request,
    hop: &Hop<'_>,
    body: Payload,
) -> Result<Prepared, Error> {
    let mut map = HeaderMap::with_capacity(hop.headers.len() + 8);
    caller_headers(req, hop, &mut map)?;
    automatic_headers(cfg, req, hop, &body, &mut map)?;
    let expect = framing_headers(req, hop, &body, &mut map)?;
    let m = Method::from_bytes(hop.method.as_bytes()).map_err(|e| invalid(&e))?;
    let uri = http::Uri::try_from(hop.dest.target.as_str()).map_err(|e| invalid(&e))?;
    Ok(Prepared {
        method: m,
        uri,
        version: if req.http10 {
            Version::HTTP_10
        } else {
            Version::HTTP_11
        },
        headers: map,
        body,
        expect,
        continued: None,
        written: None,
    })
}

/// Whether the engine adds `name`: the caller neither set nor skipped it.
fn is_auto(req: &Request, headers: &[(String, String)], name: &str) -> bool {
    !has_header(headers, name)
        && !req
            .skip_auto_headers
            .iter()
            .any(|s| s.eq_ignore_ascii_case(name))
}

fn caller_headers(req: &Request, hop: &Hop<'_>, map: &mut HeaderMap) -> Result<(), Error> {
    if is_auto(req, hop.headers, "host") {
        map.append(header::HOST, header_value(&hop.dest.host_header, "Host")?);
    }
    for (k, v) in hop.headers {
        let name =
            HeaderName::from_bytes(k.as_bytes()).map_err(|e| invalid(&format!("{e}: {k:?}")))?;
        map.append(name, header_value(v, k)?);
    }
    Ok(())
}

/// The `Accept` sent unless the request has one (aiohttp's).
pub const DEFAULT_ACCEPT: &str = "*/*";

/// aiohttp's automatic headers, in its order.
fn automatic_headers(
    cfg: &ClientConfig,
    req: &Request,
    hop: &Hop<'_>,
    body: &Payload,
    map: &mut HeaderMap,
) -> Result<(), Error> {
    let auto = |name: &str| is_auto(req, hop.headers, name);
    if auto("accept") {
        map.append(header::ACCEPT, HeaderValue::from_static(DEFAULT_ACCEPT));
    }
    if auto("accept-encoding") {
        map.append(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static(ACCEPT_ENCODING),
        );
    }
    if auto("user-agent") {
        map.append(
            header::USER_AGENT,
            header_value(&cfg.user_agent, "User-Agent")?,
        );
    }
    if let Some(a) = hop.auth {
        map.append(header::AUTHORIZATION, header_value(a, "Authorization")?);
    }
    if auto("content-type") {
        // aiohttp labels bodies it knows, and any POST/PUT/PATCH body.
        match (body.is_some(), &req.content_type) {
            (true, Some(ct)) => {
                map.append(header::CONTENT_TYPE, header_value(ct, "Content-Type")?);
            }
            _ if matches!(hop.method, "POST" | "PUT" | "PATCH") => {
                map.append(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/octet-stream"),
                );
            }
            _ => {}
        }
    }
    if !has_header(hop.headers, "connection") {
        if cfg.pool.force_close {
            if !req.http10 {
                map.append(header::CONNECTION, HeaderValue::from_static("close"));
            }
        } else if req.http10 {
            map.append(header::CONNECTION, HeaderValue::from_static("keep-alive"));
        }
    }
    if let Some(c) = hop.coding {
        map.append(
            header::CONTENT_ENCODING,
            header_value(c, "Content-Encoding")?,
        );
    }
    Ok(())
}

/// aiohttp's update_transfer_encoding rules (compress implies chunked), and
/// `Expect`; whether the body waits for `100 Continue`.
fn framing_headers(
    req: &Request,
    hop: &Hop<'_>,
    body: &Payload,
    map: &mut HeaderMap,
) -> Result<bool, Error> {
    let headers = hop.headers;
    let user_te_chunked = headers.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("transfer-encoding") && v.to_ascii_lowercase().contains("chunked")
    });
    let chunked = req.chunked || (hop.coding.is_some() && matches!(body, Payload::Stream(_)));
    check_framing(req, hop, body, chunked, user_te_chunked)?;
    let expect = req.expect_continue
        || headers.iter().any(|(k, v)| {
            k.eq_ignore_ascii_case("expect") && v.eq_ignore_ascii_case("100-continue")
        });
    if req.expect_continue && !has_header(headers, "expect") {
        map.append(header::EXPECT, HeaderValue::from_static("100-continue"));
    }
    if !has_header(headers, "content-length") && !has_header(headers, "transfer-encoding") {
        match (body.is_some(), body.length()) {
            (true, Some(n)) if !chunked => {
                map.append(header::CONTENT_LENGTH, HeaderValue::from(n));
            }
            (true, _) => {
                map.append(
                    header::TRANSFER_ENCODING,
                    HeaderValue::from_static("chunked"),
                );
            }
            (false, _) if !is_get_like(hop.method) && !chunked => {
                map.append(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
            }
            (false, _) => {}
        }
    }
    Ok(expect)
}

/// The framing combinations aiohttp refuses.
fn check_framing(
    req: &Request,
    hop: &Hop<'_>,
    body: &Payload,
    chunked: bool,
    user_te_chunked: bool,
) -> Result<(), Error> {
    let headers = hop.headers;
    if req.chunked && user_te_chunked {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            "chunked can not be set if \"Transfer-Encoding: chunked\" header is set",
        ));
    }
    if (req.chunked || hop.coding.is_some())
        && !user_te_chunked
        && has_header(headers, "content-length")
    {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            "chunked can not be set if Content-Length header is set",
        ));
    }
    if req.http10
        && body.is_some()
        && (chunked
            || user_te_chunked
            || (body.length().is_none() && !has_header(headers, "content-length")))
    {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            "HTTP/1.0 cannot send a chunked body: give it a known length",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods() {
        assert!(is_get_like("GET") && is_get_like("HEAD") && !is_get_like("DELETE"));
    }
}
