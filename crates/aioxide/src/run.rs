//! The request main loop: pool -> send -> redirects -> response.

use std::sync::Arc;
use std::time::Instant;

use base64::Engine as _;
use bytes::Bytes;
use http::header::{HeaderName, HeaderValue};
use http::{HeaderMap, Method, Version};
use http_body_util::Full;
use url::Url;

use crate::body::decode::Decoder;
use crate::client::{ClientConfig, Request};
use crate::connect::tls::TlsMode;
use crate::error::{Error, ErrorKind};
use crate::policy::decompress::{coding_for, ACCEPT_ENCODING};
use crate::policy::redirect;
use crate::policy::timeout;
use crate::pool::{with_deadline, Key, Lease, Pool};
use crate::response::{RequestInfo, Response, ResponseBody, ResponseHead};

/// Methods aiohttp sends without `Content-Length: 0` when there is no body.
fn is_get_like(method: &str) -> bool {
    matches!(method, "GET" | "HEAD" | "OPTIONS" | "TRACE")
}

/// Methods safe to retry once when a reused connection turns out closed.
fn is_idempotent(method: &str) -> bool {
    matches!(method, "GET" | "HEAD" | "OPTIONS" | "TRACE" | "PUT" | "DELETE")
}

/// Parse and check the request URL, as aiohttp does before any I/O.
pub fn parse_url(raw: &str, redirected: bool) -> Result<Url, Error> {
    let (invalid, non_http) = if redirected {
        (ErrorKind::InvalidRedirectUrl, ErrorKind::NonHttpRedirectUrl)
    } else {
        (ErrorKind::InvalidUrl, ErrorKind::NonHttpUrl)
    };
    // WHATWG parsing reads "http:///x" as host "x"; aiohttp (yarl) sees no host.
    if let Some(i) = raw.find("://") {
        if matches!(raw.as_bytes().get(i + 3), None | Some(b'/' | b'?' | b'#')) {
            return Err(Error::new(invalid, "URL has no host").with_url(raw));
        }
    }
    let url = Url::parse(raw).map_err(|e| Error::new(invalid, e.to_string()).with_url(raw))?;
    match url.scheme() {
        "http" | "https" => {}
        _ => return Err(Error::new(non_http, "not an http URL").with_url(raw)),
    }
    match url.host_str() {
        Some(h) if !h.is_empty() => Ok(url),
        _ => Err(Error::new(invalid, "URL has no host").with_url(raw)),
    }
}

/// The origin-form request target of a URL string: everything after the
/// authority up to the fragment, sent exactly as the caller encoded it.
pub fn request_target(raw: &str) -> String {
    let rest = match raw.find("://") {
        Some(i) => &raw[i + 3..],
        None => raw,
    };
    let rest = match rest.find(['/', '?', '#']) {
        Some(i) => &rest[i..],
        None => "",
    };
    let rest = rest.split('#').next().unwrap_or("");
    if rest.is_empty() {
        "/".to_owned()
    } else if rest.starts_with('?') {
        format!("/{rest}")
    } else {
        rest.to_owned()
    }
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// `Basic` credentials from a URL's userinfo (removed from the URL).
fn take_url_auth(url: &mut Url) -> Option<String> {
    if url.username().is_empty() && url.password().is_none() {
        return None;
    }
    let user = percent_decode(url.username());
    let pass = percent_decode(url.password().unwrap_or(""));
    let _ = url.set_username("");
    let _ = url.set_password(None);
    Some(basic_auth(&user, &pass))
}

/// The `Authorization` value for HTTP Basic (latin-1, as aiohttp's default).
pub fn basic_auth(user: &str, pass: &str) -> String {
    let joined = format!("{user}:{pass}");
    let bytes: Vec<u8> = if joined.chars().all(|c| (c as u32) < 256) {
        joined.chars().map(|c| c as u32 as u8).collect()
    } else {
        joined.into_bytes()
    };
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(bytes))
}

fn host_header(url: &Url) -> String {
    let host = match url.host() {
        Some(url::Host::Ipv6(a)) => format!("[{a}]"),
        Some(h) => h.to_string(),
        None => String::new(),
    };
    match url.port() {
        Some(p) => format!("{host}:{p}"),
        None => host,
    }
}

fn key_for(url: &Url, tls: &TlsMode) -> Key {
    let host = match url.host() {
        Some(url::Host::Ipv6(a)) => a.to_string(),
        Some(h) => h.to_string(),
        None => String::new(),
    };
    let is_tls = url.scheme() == "https";
    Key {
        host,
        port: url.port_or_known_default().unwrap_or(if is_tls { 443 } else { 80 }),
        tls: is_tls.then(|| tls.clone()),
    }
}

fn has_header(headers: &[(String, String)], name: &str) -> bool {
    headers.iter().any(|(k, _)| k.eq_ignore_ascii_case(name))
}

struct Prepared {
    req: http::Request<Full<Bytes>>,
    info: RequestInfo,
}

#[allow(clippy::too_many_arguments)]
fn prepare(
    cfg: &ClientConfig,
    req: &Request,
    method: &str,
    url: &Url,
    target: &str,
    headers: &[(String, String)],
    body: &Option<Bytes>,
    auth: &Option<String>,
) -> Result<Prepared, Error> {
    let invalid = |e: &dyn std::fmt::Display| Error::new(ErrorKind::InvalidArgument, e.to_string());
    let skip = |name: &str| req.skip_auto_headers.iter().any(|s| s.eq_ignore_ascii_case(name));
    let mut sent: Vec<(String, String)> = Vec::with_capacity(headers.len() + 6);
    if !has_header(headers, "host") && !skip("host") {
        sent.push(("Host".into(), host_header(url)));
    }
    sent.extend(headers.iter().cloned());
    if !has_header(headers, "accept") && !skip("accept") {
        sent.push(("Accept".into(), "*/*".into()));
    }
    if !has_header(headers, "accept-encoding") && !skip("accept-encoding") {
        sent.push(("Accept-Encoding".into(), ACCEPT_ENCODING.into()));
    }
    if !has_header(headers, "user-agent") && !skip("user-agent") {
        sent.push(("User-Agent".into(), cfg.user_agent.clone()));
    }
    if let Some(a) = auth {
        sent.push(("Authorization".into(), a.clone()));
    }
    if !has_header(headers, "content-type") && !skip("content-type") {
        // aiohttp labels bodies it knows, and any POST/PUT/PATCH body.
        let ct = match (body, &req.content_type) {
            (Some(_), Some(ct)) => Some(ct.as_str()),
            _ if matches!(method, "POST" | "PUT" | "PATCH") => Some("application/octet-stream"),
            _ => None,
        };
        if let Some(ct) = ct {
            sent.push(("Content-Type".into(), ct.to_owned()));
        }
    }
    if cfg.pool.force_close && !has_header(headers, "connection") {
        sent.push(("Connection".into(), "close".into()));
    }
    match body {
        Some(b) => {
            if !has_header(headers, "content-length") && !has_header(headers, "transfer-encoding") {
                sent.push(("Content-Length".into(), b.len().to_string()));
            }
        }
        None => {
            if !is_get_like(method) && !has_header(headers, "content-length") {
                sent.push(("Content-Length".into(), "0".into()));
            }
        }
    }
    let m = Method::from_bytes(method.as_bytes()).map_err(|e| invalid(&e))?;
    let mut builder = http::Request::builder().method(m).uri(target).version(Version::HTTP_11);
    let hmap = builder.headers_mut().ok_or_else(|| invalid(&"invalid request target"))?;
    for (k, v) in &sent {
        let name = HeaderName::from_bytes(k.as_bytes()).map_err(|e| invalid(&format!("{e}: {k:?}")))?;
        let value = HeaderValue::from_str(v).map_err(|e| invalid(&format!("{e}: {k}: {v:?}")))?;
        hmap.append(name, value);
    }
    let req_body = Full::new(body.clone().unwrap_or_default());
    let built = builder.body(req_body).map_err(|e| invalid(&e))?;
    Ok(Prepared {
        req: built,
        info: RequestInfo { method: method.to_owned(), url: url.to_string(), headers: sent },
    })
}

fn send_error(e: hyper::Error) -> Error {
    if e.is_parse() || e.is_parse_status() {
        Error::new(ErrorKind::BadResponse, format!("Invalid response: {e}"))
    } else if e.is_canceled() || e.is_incomplete_message() || e.is_closed() {
        Error::new(ErrorKind::ServerDisconnected, "Server disconnected")
    } else if e.is_user() {
        Error::new(ErrorKind::InvalidArgument, e.to_string())
    } else {
        let io = std::error::Error::source(&e).and_then(|s| s.downcast_ref::<std::io::Error>());
        match io {
            Some(ioe) => Error::new(ErrorKind::Io, ioe.to_string()).with_io(ioe),
            None => Error::new(ErrorKind::ServerDisconnected, format!("Server disconnected: {e}")),
        }
    }
}

fn head_of(parts: &http::response::Parts, url: &Url, info: RequestInfo) -> ResponseHead {
    let reason = parts
        .extensions
        .get::<hyper::ext::ReasonPhrase>()
        .map(|r| String::from_utf8_lossy(r.as_bytes()).into_owned())
        .or_else(|| parts.status.canonical_reason().map(str::to_owned))
        .unwrap_or_default();
    let version = match parts.version {
        Version::HTTP_10 => (1, 0),
        Version::HTTP_09 => (0, 9),
        Version::HTTP_2 => (2, 0),
        _ => (1, 1),
    };
    ResponseHead {
        status: parts.status.as_u16(),
        reason,
        version,
        url: url.to_string(),
        headers: parts.headers.clone(),
        request: info,
    }
}

/// A response framed two ways must not leave its connection reusable.
fn ambiguous_framing(h: &HeaderMap) -> bool {
    h.contains_key(http::header::TRANSFER_ENCODING) && h.contains_key(http::header::CONTENT_LENGTH)
}

/// Run one request to its final response (redirects followed).
pub async fn execute(pool: &Arc<Pool>, cfg: &ClientConfig, req: Request) -> Result<Response, Error> {
    let start = Instant::now();
    let total = timeout::total_deadline(start, &req.timeouts);
    // The total deadline bounds everything, even steps that check no deadline.
    match with_deadline(total, run(pool, cfg, req, start)).await {
        Ok(r) => r,
        Err(e) => Err(e),
    }
}

async fn run(pool: &Arc<Pool>, cfg: &ClientConfig, req: Request, start: Instant) -> Result<Response, Error> {
    let total = timeout::total_deadline(start, &req.timeouts);
    let mut url = parse_url(&req.url, false)?;
    let mut target = request_target(&req.url);
    let mut method = req.method.to_ascii_uppercase();
    let mut headers = req.headers.clone();
    let mut body = req.body.clone();
    let mut auth = req.auth.clone();
    let mut history: Vec<ResponseHead> = Vec::new();

    loop {
        let url_auth = take_url_auth(&mut url);
        if history.is_empty() && auth.is_some() && url_auth.is_some() {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "Cannot combine AUTH argument with credentials encoded in URL",
            ));
        }
        if url_auth.is_some() && (auth.is_none() || !history.is_empty()) {
            auth = url_auth;
        }
        if auth.is_some() && has_header(&headers, "authorization") {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "Cannot combine AUTHORIZATION header with AUTH argument or credentials encoded in URL",
            ));
        }
        let key = key_for(&url, &req.tls);
        let prepared = prepare(cfg, &req, &method, &url, &target, &headers, &body, &auth)?;
        let info = prepared.info.clone();
        let (lease, resp) = send(pool, &req, &key, prepared, &method, total)
            .await
            .map_err(|e| e.with_request(&info))?;
        let (parts, incoming) = resp.into_parts();
        let head = head_of(&parts, &url, info.clone());

        let location = if req.allow_redirects && redirect::is_redirect(head.status) {
            head.headers
                .get(http::header::LOCATION)
                .or_else(|| head.headers.get("uri"))
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        } else {
            None
        };
        let decoder = match coding_for(parts.headers.get(http::header::CONTENT_ENCODING).and_then(|v| v.to_str().ok())) {
            Some(c) if req.auto_decompress => Some(Decoder::new(c)?),
            _ => None,
        };
        let mut rbody = ResponseBody::new(incoming, decoder, lease, total, req.timeouts);
        if ambiguous_framing(&head.headers) {
            rbody.forbid_reuse();
        }

        let Some(location) = location else {
            rbody.read_ahead(cfg.read_ahead).await.map_err(|e| e.with_request(&info))?;
            return Ok(Response { head, history, body: rbody });
        };

        // A redirect: keep the connection when its (small) body is at hand.
        if rbody.size_hint().is_some_and(|n| n as usize <= cfg.read_ahead) {
            let _ = rbody.read_to_end().await;
        }
        drop(rbody);
        let status = head.status;
        history.push(head);
        if req.max_redirects > 0 && history.len() as u32 >= req.max_redirects {
            let mut e = Error::new(ErrorKind::TooManyRedirects, "Exceeded redirect limit").with_request(&info);
            e.history = history;
            return Err(e);
        }
        let (m, keep_body) = redirect::next_method(status, &method);
        method = m;
        if !keep_body {
            body = None;
            headers.retain(|(k, _)| !k.eq_ignore_ascii_case("content-length"));
        }
        let next = redirect::resolve_location(&url, &location)
            .map_err(|kind| Error::new(kind, "Server attempted redirecting to an invalid URL").with_url(location.clone()))?;
        if !redirect::same_origin(&url, &next) {
            auth = None;
            headers.retain(|(k, _)| !redirect::is_origin_bound_header(k));
        }
        target = request_target(next.as_str());
        url = next;
    }
}

async fn send(
    pool: &Arc<Pool>,
    req: &Request,
    key: &Key,
    prepared: Prepared,
    method: &str,
    total: Option<timeout::Deadline>,
) -> Result<(Lease, http::Response<hyper::body::Incoming>), Error> {
    let Prepared { req: hreq, .. } = prepared;
    // Keep what it takes to send again if a reused connection was dead.
    let (parts, body) = hreq.into_parts();
    let mut fresh = false;
    loop {
        let now = Instant::now();
        let acquire = timeout::acquire_deadline(now, total, &req.timeouts);
        let timeouts = req.timeouts;
        let mut lease = pool
            .acquire(key, acquire, |t| timeout::sock_connect_deadline(t, acquire, &timeouts), fresh)
            .await?;
        let Some(sender) = lease.sender() else {
            return Err(Error::new(ErrorKind::ServerDisconnected, "Server disconnected"));
        };
        let mut again = http::Request::from_parts(parts.clone(), body.clone());
        *again.headers_mut() = parts.headers.clone();
        let deadline = timeout::read_deadline(Instant::now(), total, &req.timeouts);
        let result = with_deadline(deadline, sender.send_request(again)).await?;
        match result {
            Ok(resp) => return Ok((lease, resp)),
            Err(e) => {
                let err = send_error(e);
                let retry = lease.reused
                    && !fresh
                    && is_idempotent(method)
                    && matches!(err.kind, ErrorKind::ServerDisconnected | ErrorKind::Io);
                drop(lease);
                if !retry {
                    return Err(err.with_addr(&key.host, key.port, key.tls.is_some()));
                }
                fresh = true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        assert_eq!(request_target("http://h"), "/");
        assert_eq!(request_target("http://h:8080"), "/");
        assert_eq!(request_target("http://h/a/b?c=d#frag"), "/a/b?c=d");
        assert_eq!(request_target("http://h?x=1"), "/?x=1");
        assert_eq!(request_target("http://u:p@h/p%20q?a='b'"), "/p%20q?a='b'");
        assert_eq!(request_target("http://[::1]:80/x"), "/x");
    }

    #[test]
    fn url_checks() {
        assert_eq!(parse_url("not a url", false).unwrap_err().kind, ErrorKind::InvalidUrl);
        assert_eq!(parse_url("http://", false).unwrap_err().kind, ErrorKind::InvalidUrl);
        assert_eq!(parse_url("http:///path", false).unwrap_err().kind, ErrorKind::InvalidUrl);
        assert_eq!(parse_url("ftp://x/", false).unwrap_err().kind, ErrorKind::NonHttpUrl);
        assert_eq!(parse_url("ftp://x/", true).unwrap_err().kind, ErrorKind::NonHttpRedirectUrl);
        assert!(parse_url("https://example.com/x", false).is_ok());
    }

    #[test]
    fn basic() {
        assert_eq!(basic_auth("user", "pass"), "Basic dXNlcjpwYXNz");
        let mut u = Url::parse("http://us%40er:p%3Ass@h/").unwrap();
        assert_eq!(take_url_auth(&mut u).unwrap(), basic_auth("us@er", "p:ss"));
        assert_eq!(u.as_str(), "http://h/");
        let mut u = Url::parse("http://h/").unwrap();
        assert!(take_url_auth(&mut u).is_none());
    }

    #[test]
    fn host_headers() {
        assert_eq!(host_header(&Url::parse("http://h/").unwrap()), "h");
        assert_eq!(host_header(&Url::parse("http://h:80/").unwrap()), "h");
        assert_eq!(host_header(&Url::parse("http://h:8080/").unwrap()), "h:8080");
        assert_eq!(host_header(&Url::parse("http://[::1]:81/").unwrap()), "[::1]:81");
    }

    #[test]
    fn framing() {
        let mut h = HeaderMap::new();
        h.insert("content-length", HeaderValue::from_static("3"));
        assert!(!ambiguous_framing(&h));
        h.insert("transfer-encoding", HeaderValue::from_static("chunked"));
        assert!(ambiguous_framing(&h));
    }

    #[test]
    fn methods() {
        assert!(is_get_like("GET") && is_get_like("HEAD") && !is_get_like("DELETE"));
        assert!(is_idempotent("PUT") && !is_idempotent("POST") && !is_idempotent("PATCH"));
    }
}
