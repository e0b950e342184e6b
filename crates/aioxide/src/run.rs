//! The request main loop: pool -> send -> redirects -> response.

use std::sync::Arc;
use std::time::Instant;

use base64::Engine as _;
use bytes::Bytes;
use http::header::{HeaderName, HeaderValue};
use http::{HeaderMap, Method, Version};
use url::Url;

use crate::body::decode::Decoder;
use crate::body::encode;
use crate::body::request::{BodyStream, Gate, RequestBody};
use crate::client::{ClientConfig, Request};
use crate::error::{Error, ErrorKind};
use crate::policy::decompress::{coding_for, ACCEPT_ENCODING};
use crate::policy::framing;
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
    matches!(
        method,
        "GET" | "HEAD" | "OPTIONS" | "TRACE" | "PUT" | "DELETE"
    )
}

/// Where a request goes: what the engine needs of its URL.
#[derive(Debug, Clone)]
pub struct Dest {
    /// The URL as a string (as given, or as serialized after a redirect).
    pub url: String,
    pub tls: bool,
    /// Host name or IP literal, without IPv6 brackets.
    pub host: String,
    pub port: u16,
    /// The `Host` header value: host, with the port when not the default.
    pub host_header: String,
    /// The origin-form request target: path and query.
    pub target: String,
    /// `Basic` credentials from the URL's userinfo, already encoded.
    pub auth: Option<String>,
}

impl Dest {
    fn same_origin(&self, other: &Dest) -> bool {
        self.tls == other.tls
            && self.host.eq_ignore_ascii_case(&other.host)
            && self.port == other.port
    }
}

fn url_errors(redirected: bool) -> (ErrorKind, ErrorKind) {
    if redirected {
        (ErrorKind::InvalidRedirectUrl, ErrorKind::NonHttpRedirectUrl)
    } else {
        (ErrorKind::InvalidUrl, ErrorKind::NonHttpUrl)
    }
}

/// The common case, without a general URL parser: `http(s)://host[:port]/...`
/// with a plain lowercase ASCII host and no userinfo (what yarl hands over).
fn fast_dest(raw: &str) -> Option<Dest> {
    let (tls, rest) = if let Some(r) = raw.strip_prefix("http://") {
        (false, r)
    } else if let Some(r) = raw.strip_prefix("https://") {
        (true, r)
    } else {
        return None;
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => {
            if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            (h, Some(p.parse::<u16>().ok()?))
        }
        None => (authority, None),
    };
    let plain = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        && !host.starts_with(['.', '-'])
        && !host.ends_with('-');
    if !plain {
        return None;
    }
    let default = if tls { 443 } else { 80 };
    let port_n = port.unwrap_or(default);
    let host_header = if port_n == default {
        host.to_owned()
    } else {
        format!("{host}:{port_n}")
    };
    Some(Dest {
        url: raw.to_owned(),
        tls,
        host: host.to_owned(),
        port: port_n,
        host_header,
        target: request_target(raw),
        auth: None,
    })
}

fn dest_from_url(mut url: Url, raw: Option<&str>) -> Dest {
    let auth = take_url_auth(&mut url);
    let tls = url.scheme() == "https";
    let host = match url.host() {
        Some(url::Host::Ipv6(a)) => a.to_string(),
        Some(h) => h.to_string(),
        None => String::new(),
    };
    let port = url
        .port_or_known_default()
        .unwrap_or(if tls { 443 } else { 80 });
    let url_str = url.to_string();
    let target = request_target(raw.filter(|_| auth.is_none()).unwrap_or(&url_str));
    Dest {
        url: url_str.clone(),
        tls,
        host,
        port,
        host_header: host_header(&url),
        target,
        auth,
    }
}

/// Parse and check a request URL, as aiohttp does before any I/O.
pub fn parse_dest(raw: &str, redirected: bool) -> Result<Dest, Error> {
    if let Some(d) = fast_dest(raw) {
        return Ok(d);
    }
    let url = parse_url(raw, redirected)?;
    Ok(dest_from_url(url, Some(raw)))
}

/// Parse and check the request URL with a full parser.
pub fn parse_url(raw: &str, redirected: bool) -> Result<Url, Error> {
    let (invalid, non_http) = url_errors(redirected);
    // WHATWG parsing reads "http:///x" as host "x"; aiohttp (yarl) sees no host.
    if let Some(i) = raw.find("://") {
        let scheme = &raw[..i];
        if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
            return Err(Error::new(non_http, "not an http URL").with_url(raw));
        }
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
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
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

fn key_for(dest: &Dest, req: &Request) -> Key {
    Key {
        host: dest.host.clone(),
        port: dest.port,
        tls: dest.tls.then(|| req.tls.clone()),
        server_name: if dest.tls {
            req.server_hostname.clone()
        } else {
            None
        },
    }
}

/// The headers of one hop with its `Cookie` header: the user's own `Cookie`
/// header, overridden by the jar's cookies for this URL, overridden by the
/// request's `cookies=` (aiohttp's order).  Untouched when there are none.
fn with_cookies<'a>(
    req: &Request,
    req_cookies: &[(String, String)],
    dest: &Dest,
    headers: &'a [(String, String)],
) -> std::borrow::Cow<'a, [(String, String)]> {
    use std::borrow::Cow;
    let jar = req
        .cookie_jar
        .as_ref()
        .map(|j| j.lock().unwrap_or_else(|p| p.into_inner()));
    let jar = jar.filter(|j| !j.is_empty());
    if jar.is_none() && req_cookies.is_empty() {
        return Cow::Borrowed(headers);
    }
    let now = std::time::SystemTime::now();
    let path = dest.target.split('?').next().unwrap_or("/");
    let target = crate::cookie::CookieTarget {
        scheme: if dest.tls { "https" } else { "http" },
        host: &dest.host,
        port: dest.port,
        path,
    };
    let user = headers
        .iter()
        .position(|(k, _)| k.eq_ignore_ascii_case("cookie"));
    let value = if user.is_none() && req_cookies.is_empty() {
        match jar.and_then(|j| j.cookie_header_target(&target, now)) {
            Some(v) => v,
            None => return Cow::Borrowed(headers),
        }
    } else {
        let mut pairs: Vec<(String, String)> = Vec::new();
        let mut upsert = |name: &str, value: String| match pairs.iter_mut().find(|(n, _)| n == name)
        {
            Some(p) => p.1 = value,
            None => pairs.push((name.to_owned(), value)),
        };
        if let Some(i) = user {
            for part in headers[i].1.split(';') {
                if let Some((n, v)) = part.trim().split_once('=') {
                    upsert(n.trim(), v.trim().to_owned());
                }
            }
        }
        if let Some(j) = &jar {
            let quote = j.config().quote_cookie;
            for c in j.matching_target(&target, now) {
                upsert(
                    &c.name,
                    crate::cookie::encode_value(&c.value, quote).into_owned(),
                );
            }
        }
        for (n, v) in req_cookies {
            upsert(n, v.clone());
        }
        if pairs.is_empty() {
            return Cow::Borrowed(headers);
        }
        pairs
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    };
    let mut out: Vec<(String, String)> = headers
        .iter()
        .filter(|(k, _)| !k.eq_ignore_ascii_case("cookie"))
        .cloned()
        .collect();
    out.push(("Cookie".to_owned(), value));
    Cow::Owned(out)
}

/// Put a response's Set-Cookie headers into the session's jar.
fn store_cookies(req: &Request, url: &str, headers: &HeaderMap) {
    let Some(jar) = &req.cookie_jar else { return };
    if !headers.contains_key(http::header::SET_COOKIE) {
        return;
    }
    let Ok(url) = Url::parse(url) else { return };
    jar.lock()
        .unwrap_or_else(|p| p.into_inner())
        .update_from_response(
            &url,
            headers.get_all(http::header::SET_COOKIE),
            std::time::SystemTime::now(),
        );
}

/// How long a body waits for `100 Continue` before it is sent anyway.
const EXPECT_CONTINUE_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

fn has_header(headers: &[(String, String)], name: &str) -> bool {
    headers.iter().any(|(k, _)| k.eq_ignore_ascii_case(name))
}

/// The request body across redirects and retries.
#[derive(Debug)]
enum Payload {
    None,
    Bytes(Bytes),
    /// A stream, until it is handed to a connection.
    Stream(Option<BodyStream>),
}

impl Payload {
    fn is_some(&self) -> bool {
        !matches!(self, Payload::None)
    }

    /// Whether there is something to send (aiohttp compresses only then).
    fn is_nonempty(&self) -> bool {
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
struct Prepared {
    method: Method,
    uri: http::Uri,
    version: Version,
    headers: HeaderMap,
    body: Payload,
    /// The body waits for `100 Continue`.
    expect: bool,
    /// Set when the server answered `100 Continue` (when `expect`).
    continued: Option<Arc<std::sync::atomic::AtomicBool>>,
}

impl Prepared {
    /// Whether the request can be sent again (its body is not a used stream).
    fn replayable(&self) -> bool {
        !matches!(self.body, Payload::Stream(None))
    }

    fn build(&mut self) -> http::Request<RequestBody> {
        let body = match &mut self.body {
            Payload::None => RequestBody::empty(),
            Payload::Bytes(b) => RequestBody::Full(Some(b.clone())),
            Payload::Stream(s) => match s.take() {
                Some(s) => RequestBody::Stream(s),
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
    fn missed_continue(&self) -> bool {
        self.continued
            .as_ref()
            .is_some_and(|c| !c.load(std::sync::atomic::Ordering::Relaxed))
    }
}

#[allow(clippy::too_many_arguments)]
fn prepare(
    cfg: &ClientConfig,
    req: &Request,
    method: &str,
    dest: &Dest,
    headers: &[(String, String)],
    body: Payload,
    auth: &Option<String>,
    coding: Option<&str>,
) -> Result<Prepared, Error> {
    use http::header;
    let invalid = |e: &dyn std::fmt::Display| Error::new(ErrorKind::InvalidArgument, e.to_string());
    let skip = |name: &str| {
        req.skip_auto_headers
            .iter()
            .any(|s| s.eq_ignore_ascii_case(name))
    };
    let auto = |name: &str| !has_header(headers, name) && !skip(name);
    let value = |v: &str, k: &str| {
        HeaderValue::from_str(v).map_err(|e| invalid(&format!("{e}: {k}: {v:?}")))
    };
    let mut map = HeaderMap::with_capacity(headers.len() + 8);
    if auto("host") {
        map.append(header::HOST, value(&dest.host_header, "Host")?);
    }
    for (k, v) in headers {
        let name =
            HeaderName::from_bytes(k.as_bytes()).map_err(|e| invalid(&format!("{e}: {k:?}")))?;
        map.append(name, value(v, k)?);
    }
    if auto("accept") {
        map.append(header::ACCEPT, HeaderValue::from_static("*/*"));
    }
    if auto("accept-encoding") {
        map.append(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static(ACCEPT_ENCODING),
        );
    }
    if auto("user-agent") {
        map.append(header::USER_AGENT, value(&cfg.user_agent, "User-Agent")?);
    }
    if let Some(a) = auth {
        map.append(header::AUTHORIZATION, value(a, "Authorization")?);
    }
    if auto("content-type") {
        // aiohttp labels bodies it knows, and any POST/PUT/PATCH body.
        match (body.is_some(), &req.content_type) {
            (true, Some(ct)) => {
                map.append(header::CONTENT_TYPE, value(ct, "Content-Type")?);
            }
            _ if matches!(method, "POST" | "PUT" | "PATCH") => {
                map.append(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/octet-stream"),
                );
            }
            _ => {}
        }
    }
    if !has_header(headers, "connection") {
        if cfg.pool.force_close {
            if !req.http10 {
                map.append(header::CONNECTION, HeaderValue::from_static("close"));
            }
        } else if req.http10 {
            map.append(header::CONNECTION, HeaderValue::from_static("keep-alive"));
        }
    }
    if let Some(c) = coding {
        map.append(header::CONTENT_ENCODING, value(c, "Content-Encoding")?);
    }
    // aiohttp's update_transfer_encoding rules (compress implies chunked).
    let user_te_chunked = headers.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("transfer-encoding") && v.to_ascii_lowercase().contains("chunked")
    });
    let chunked = req.chunked || (coding.is_some() && matches!(body, Payload::Stream(_)));
    if req.chunked && user_te_chunked {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            "chunked can not be set if \"Transfer-Encoding: chunked\" header is set",
        ));
    }
    if (req.chunked || coding.is_some())
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
            (false, _) if !is_get_like(method) && !chunked => {
                map.append(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
            }
            (false, _) => {}
        }
    }
    let m = Method::from_bytes(method.as_bytes()).map_err(|e| invalid(&e))?;
    let uri = http::Uri::try_from(dest.target.as_str()).map_err(|e| invalid(&e))?;
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
            // A TLS peer that hangs up without close_notify: a disconnect.
            Some(ioe) if ioe.kind() == std::io::ErrorKind::UnexpectedEof => Error::new(
                ErrorKind::ServerDisconnected,
                format!("Server disconnected: {ioe}"),
            ),
            Some(ioe) => Error::new(ErrorKind::Io, ioe.to_string()).with_io(ioe),
            None => Error::new(
                ErrorKind::ServerDisconnected,
                format!("Server disconnected: {e}"),
            ),
        }
    }
}

fn head_of(parts: http::response::Parts, url: &str, info: Arc<RequestInfo>) -> ResponseHead {
    let reason = match parts.extensions.get::<hyper::ext::ReasonPhrase>() {
        Some(r) => String::from_utf8_lossy(r.as_bytes()).into_owned(),
        None => parts.status.canonical_reason().unwrap_or("").to_owned(),
    };
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
        url: url.to_owned(),
        headers: parts.headers,
        request: info,
    }
}

/// A response framed two ways must not leave its connection reusable.
fn ambiguous_framing(h: &HeaderMap) -> bool {
    h.contains_key(http::header::TRANSFER_ENCODING) && h.contains_key(http::header::CONTENT_LENGTH)
}

/// Run one request to its final response (redirects followed).
pub async fn execute(
    pool: &Arc<Pool>,
    cfg: &ClientConfig,
    req: Request,
) -> Result<Response, Error> {
    let start = Instant::now();
    let total = timeout::total_deadline(start, &req.timeouts);
    // The total deadline bounds everything, even steps that check no deadline.
    match with_deadline(total, Box::pin(run(pool, cfg, req, total))).await {
        Ok(r) => r,
        Err(e) => Err(e),
    }
}

async fn run(
    pool: &Arc<Pool>,
    cfg: &ClientConfig,
    mut req: Request,
    total: Option<timeout::Deadline>,
) -> Result<Response, Error> {
    let mut dest = parse_dest(&req.url, false)?;
    let default_origin = match &req.default_auth_origin {
        Some(o) => Some(parse_dest(o, false)?),
        None => None,
    };
    let mut method = req.method.to_ascii_uppercase();
    let mut headers = req.headers.clone();
    let mut body = match (req.body.take(), req.body_stream.take()) {
        (_, Some(stream)) => Payload::Stream(Some(stream)),
        (Some(b), None) => Payload::Bytes(b),
        (None, None) => Payload::None,
    };
    // compress=: the body is compressed once, here; redirects resend it so.
    let coding = match req.compress.as_deref() {
        Some(c) if !encode::is_supported(c) => {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!("compress must be 'deflate' or 'gzip', not {c:?}"),
            ));
        }
        Some(c) if body.is_nonempty() => {
            if has_header(&headers, "content-encoding") {
                return Err(Error::new(
                    ErrorKind::InvalidArgument,
                    "compress can not be set if Content-Encoding header is set",
                ));
            }
            body = match body {
                Payload::Bytes(b) => Payload::Bytes(encode::compress(c, &b).unwrap_or_default()),
                Payload::Stream(Some(s)) => Payload::Stream(Some(s.compressed(c))),
                other => other,
            };
            Some(c.to_ascii_lowercase())
        }
        _ => None,
    };
    let mut auth = req.auth.clone();
    let mut history: Vec<ResponseHead> = Vec::new();
    let mut same_origin_so_far = true;

    loop {
        let url_auth = dest.auth.take();
        let in_scope = match &default_origin {
            None => true,
            Some(o) => o.same_origin(&dest),
        };
        auth = crate::policy::auth::hop_auth(
            auth,
            url_auth,
            !history.is_empty(),
            req.default_auth.as_deref(),
            in_scope,
            has_header(&headers, "authorization"),
        )?;
        let key = key_for(&dest, &req);
        let payload = std::mem::replace(&mut body, Payload::None);
        let coding_now = if payload.is_nonempty() {
            coding.as_deref()
        } else {
            None
        };
        let req_cookies: &[(String, String)] = if same_origin_so_far {
            &req.cookies
        } else {
            &[]
        };
        let hop_headers = with_cookies(&req, req_cookies, &dest, &headers);
        let mut prepared = prepare(
            cfg,
            &req,
            &method,
            &dest,
            &hop_headers,
            payload,
            &auth,
            coding_now,
        )?;
        drop(hop_headers);
        let sent = Box::pin(send(pool, &req, &key, &mut prepared, &method, total)).await;
        let missed_continue = prepared.missed_continue();
        body = prepared.body;
        let info = Arc::new(RequestInfo {
            method: method.clone(),
            url: dest.url.clone(),
            headers: prepared.headers,
        });
        let (lease, resp) = sent.map_err(|e| e.with_request(&info))?;
        let (parts, incoming) = resp.into_parts();
        let status = parts.status.as_u16();
        store_cookies(&req, &dest.url, &parts.headers);

        let location = if req.allow_redirects && redirect::is_redirect(status) {
            parts
                .headers
                .get(http::header::LOCATION)
                .or_else(|| parts.headers.get("uri"))
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        } else {
            None
        };
        let decoder = match coding_for(
            parts
                .headers
                .get(http::header::CONTENT_ENCODING)
                .and_then(|v| v.to_str().ok()),
        ) {
            Some(c) if req.auto_decompress => Some(Box::new(Decoder::new(c)?)),
            _ => None,
        };
        let reason_len = parts
            .extensions
            .get::<hyper::ext::ReasonPhrase>()
            .map_or(0, |r| r.as_bytes().len());
        if let Err(msg) = framing::check_head(reason_len, &parts.headers, &req.head_limits) {
            // The connection is dropped with the lease: never reused.
            return Err(Error::new(ErrorKind::BadResponse, msg).with_request(&info));
        }
        let ambiguous = ambiguous_framing(&parts.headers) || missed_continue;
        let until_close = !req.read_until_eof
            && method != "HEAD"
            && !matches!(status, 100..=199 | 204 | 304)
            && !parts.headers.contains_key(http::header::CONTENT_LENGTH)
            && !parts.headers.contains_key(http::header::TRANSFER_ENCODING);
        let head = head_of(parts, &dest.url, info.clone());
        let mut rbody = if until_close {
            // read_until_eof=False: a body framed by the connection's end is
            // taken as empty, and the connection is closed.
            drop((incoming, lease));
            ResponseBody::complete(Bytes::new())
        } else {
            ResponseBody::new(incoming, decoder, lease, total, req.timeouts)
        };
        if ambiguous {
            rbody.forbid_reuse();
        }

        let Some(location) = location else {
            Box::pin(rbody.read_ahead(cfg.read_ahead, cfg.read_ahead_grace)).await;
            return Ok(Response {
                head,
                history,
                body: rbody,
            });
        };

        // A redirect: keep the connection when its small body comes at once;
        // never wait on it (dropping an unfinished body closes the connection).
        Box::pin(rbody.read_ahead(cfg.read_ahead, cfg.read_ahead_grace)).await;
        drop(rbody);
        history.push(head);
        if req.max_redirects > 0 && history.len() as u32 >= req.max_redirects {
            let mut e = Error::new(ErrorKind::TooManyRedirects, "Exceeded redirect limit")
                .with_request(&info);
            e.history = history;
            return Err(e);
        }
        let (m, keep_body) = redirect::next_method(status, &method);
        method = m;
        if keep_body && matches!(body, Payload::Stream(None)) {
            if let Some(r) = &req.body_rewind {
                if let Some(mut s) = r.0.rewind().await {
                    if let Some(c) = coding.as_deref() {
                        s = s.compressed(c);
                    }
                    body = Payload::Stream(Some(s));
                }
            }
        }
        if keep_body && matches!(body, Payload::Stream(None)) {
            return Err(Error::payload(
                "Cannot follow redirect with a consumed request body. \
                 Use bytes, a seekable file-like object, or set allow_redirects=False.",
            )
            .with_request(&info));
        }
        if !keep_body {
            body = Payload::None;
        }
        let current = parse_url(&dest.url, true)?;
        let next = redirect::resolve_location(&current, &location).map_err(|kind| {
            Error::new(kind, "Server attempted redirecting to an invalid URL")
                .with_url(location.clone())
        })?;
        let mut next = dest_from_url(next, None);
        if req.requote_redirect_url {
            next.target = redirect::requote_target(&next.target);
        }
        let same_origin = dest.same_origin(&next);
        if !same_origin {
            // aiohttp drops the request's cookies= with its auth here.
            same_origin_so_far = false;
            auth = None;
        }
        let dropped = redirect::dropped_headers(keep_body, same_origin);
        headers.retain(|(k, _)| !dropped.iter().any(|d| k.eq_ignore_ascii_case(d)));
        dest = next;
    }
}

async fn send(
    pool: &Arc<Pool>,
    req: &Request,
    key: &Key,
    prepared: &mut Prepared,
    method: &str,
    total: Option<timeout::Deadline>,
) -> Result<(Lease, http::Response<hyper::body::Incoming>), Error> {
    let mut fresh = false;
    loop {
        let acquire = match req.timeouts.connect {
            Some(_) => timeout::acquire_deadline(Instant::now(), total, &req.timeouts),
            None => total,
        };
        let timeouts = req.timeouts;
        let mut lease = pool
            .acquire(
                key,
                acquire,
                |t| timeout::sock_connect_deadline(t, acquire, &timeouts),
                fresh,
            )
            .await?;
        if let Some(hook) = &req.on_send {
            let info = crate::response::ConnInfo {
                reused: lease.reused,
                queued: lease.queued,
                dns: lease.dns,
            };
            hook.0.sending(info, &prepared.headers);
        }
        let Some(sender) = lease.sender() else {
            return Err(Error::new(
                ErrorKind::ServerDisconnected,
                "Server disconnected",
            ));
        };
        // The total deadline is enforced around the whole request already.
        let deadline = req
            .timeouts
            .sock_read
            .map(|d| (Instant::now() + d, ErrorKind::ReadTimeout));
        let result = with_deadline(deadline, sender.send_request(prepared.build())).await?;
        match result {
            Ok(resp) => return Ok((lease, resp)),
            Err(e) => {
                let err = send_error(e);
                let retry = req.retry_stale
                    && lease.reused
                    && !fresh
                    && prepared.replayable()
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
        assert_eq!(
            parse_url("not a url", false).unwrap_err().kind,
            ErrorKind::InvalidUrl
        );
        assert_eq!(
            parse_url("http://", false).unwrap_err().kind,
            ErrorKind::InvalidUrl
        );
        assert_eq!(
            parse_url("http:///path", false).unwrap_err().kind,
            ErrorKind::InvalidUrl
        );
        assert_eq!(
            parse_url("ftp://x/", false).unwrap_err().kind,
            ErrorKind::NonHttpUrl
        );
        assert_eq!(
            parse_url("ftp://x/", true).unwrap_err().kind,
            ErrorKind::NonHttpRedirectUrl
        );
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
    fn fast_and_full_parsing_agree() {
        for raw in [
            "http://h/x?y=1",
            "http://h:8080/",
            "https://example.com",
            "https://example.com:443/a",
            "http://127.0.0.1:18080/small",
            "http://a-b.c/?q",
        ] {
            let fast = fast_dest(raw).expect(raw);
            let full = dest_from_url(parse_url(raw, false).unwrap(), Some(raw));
            assert_eq!(
                (fast.tls, &fast.host, fast.port),
                (full.tls, &full.host, full.port),
                "{raw}"
            );
            assert_eq!(fast.host_header, full.host_header, "{raw}");
            assert_eq!(fast.target, full.target, "{raw}");
        }
        // Everything else goes through the full parser.
        for raw in [
            "http://User@h/",
            "http://H/",
            "http://[::1]/",
            "http://xn--d-0fa.example/",
            "http://h:99999/",
        ] {
            assert!(fast_dest(raw).is_none() || raw.contains("xn--"), "{raw}");
        }
        let d = parse_dest("http://u:p@h:81/x", false).unwrap();
        assert_eq!(d.auth.as_deref(), Some(basic_auth("u", "p").as_str()));
        assert_eq!(
            (d.host.as_str(), d.port, d.target.as_str()),
            ("h", 81, "/x")
        );
        assert_eq!(parse_dest("http://[::1]:81/", false).unwrap().host, "::1");
        assert_eq!(
            parse_dest("ftp://x/", false).unwrap_err().kind,
            ErrorKind::NonHttpUrl
        );
    }

    #[test]
    fn host_headers() {
        assert_eq!(host_header(&Url::parse("http://h/").unwrap()), "h");
        assert_eq!(host_header(&Url::parse("http://h:80/").unwrap()), "h");
        assert_eq!(
            host_header(&Url::parse("http://h:8080/").unwrap()),
            "h:8080"
        );
        assert_eq!(
            host_header(&Url::parse("http://[::1]:81/").unwrap()),
            "[::1]:81"
        );
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
