//! A hop's request as it goes on the wire: the automatic headers, the
//! framing rules (Content-Length / chunked / Expect) and the body across
//! redirects and retries.

use bytes::Bytes;

use crate::body::request::{BodyStream, RequestBody};
use crate::client::{ClientConfig, Request};
use crate::dest::Dest;
use crate::error::{Error, ErrorKind};
use crate::fields::Fields;
use crate::policy::decompress::ACCEPT_ENCODING;

/// Methods aiohttp sends without `Content-Length: 0` when there is no body.
fn is_get_like(method: &str) -> bool {
    matches!(method, "GET" | "HEAD" | "OPTIONS" | "TRACE")
}

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
    method: String,
    target: String,
    http10: bool,
    /// Every field sent, names as they go on the wire.
    pub(crate) headers: Fields,
    pub(crate) body: Payload,
    /// The body goes `chunked`.
    chunked: bool,
    /// The body waits for `100 Continue`.
    expect: bool,
    /// The body's Content-Encoding (`compress=`) and the caller's
    /// Content-Length: what a body rewound for another attempt gets again.
    coding: Option<String>,
    cap: Option<u64>,
}

/// Resolves once a streamed body has been written.
pub(crate) type Written = Option<tokio::sync::oneshot::Receiver<()>>;

impl Prepared {
    /// Whether the request can be sent again (its body is not a used stream).
    pub(crate) fn replayable(&self) -> bool {
        !matches!(self.body, Payload::Stream(None))
    }

    /// The used stream replaced by `s`, the same body from its start.
    pub(crate) fn rewound(&mut self, mut s: crate::body::request::BodyStream) {
        if let Some(c) = self.coding.as_deref() {
            s = s.compressed(c);
        }
        if let Some(n) = self.cap {
            s.limit_to(n);
        }
        self.body = Payload::Stream(Some(s));
    }

    /// The request as a connection sends it (a streamed body is handed
    /// over), and when a streamed body has been written.
    pub(crate) fn outgoing(
        &mut self,
        limits: crate::HeadLimits,
        attempt: Option<crate::body::upload::Attempt>,
    ) -> (crate::pool::Outgoing<'_>, Written) {
        let mut written = None;
        let body = match &mut self.body {
            Payload::None => RequestBody::empty(),
            Payload::Bytes(b) => RequestBody::Full(Some(b.clone())),
            Payload::Stream(s) => match s.take() {
                Some(mut s) => {
                    let (tx, rx) = tokio::sync::oneshot::channel();
                    s.written = Some(tx);
                    written = Some(rx);
                    RequestBody::Stream(s)
                }
                None => RequestBody::empty(),
            },
        };
        let body = match attempt {
            Some(a) => body.tracked(a),
            None => body,
        };
        let out = crate::pool::Outgoing {
            method: &self.method,
            target: &self.target,
            http10: self.http10,
            fields: &self.headers,
            body,
            chunked: self.chunked,
            expect: self.expect,
            limits,
        };
        (out, written)
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
    /// Through a forward proxy: the request goes in absolute-form, with
    /// these headers for the proxy.
    pub forward: Option<&'a [(String, String)]>,
}

fn invalid(e: &dyn std::fmt::Display) -> Error {
    Error::new(ErrorKind::InvalidArgument, e.to_string())
}

/// A header field as the caller gave it: refused when it could split the
/// head (CR, LF or NUL; aiohttp refuses CR and LF) or its name is no token.
fn checked_field(k: &str, v: &str) -> Result<(Bytes, Bytes), Error> {
    let token = |b: u8| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?={}".contains(&b);
    if k.is_empty() || !k.bytes().all(token) {
        return Err(invalid(&format!("invalid HTTP header name: {k:?}")));
    }
    if v.bytes().any(|b| matches!(b, b'\r' | b'\n' | 0)) {
        return Err(invalid(&format!(
            "invalid HTTP header value: newline or carriage return detected: {k}: {v:?}"
        )));
    }
    Ok((
        Bytes::copy_from_slice(k.as_bytes()),
        Bytes::copy_from_slice(v.as_bytes()),
    ))
}

/// An automatic field (the engine's own value or the user's setting).
fn auto_field(map: &mut Fields, name: &'static str, v: &str) -> Result<(), Error> {
    auto_bytes(map, name, Bytes::copy_from_slice(v.as_bytes()))
}

/// [`auto_field`] for a value already held as bytes (no copy).
fn auto_bytes(map: &mut Fields, name: &'static str, v: Bytes) -> Result<(), Error> {
    if v.iter().any(|b| matches!(b, b'\r' | b'\n' | 0)) {
        let v = String::from_utf8_lossy(&v);
        return Err(invalid(&format!(
            "invalid HTTP header value: newline or carriage return detected: {name}: {v:?}"
        )));
    }
    map.push(Bytes::from_static(name.as_bytes()), v);
    Ok(())
}

/// An automatic field whose value is one of the engine's constants.
fn fixed_field(map: &mut Fields, name: &'static str, v: &'static str) {
    map.push(
        Bytes::from_static(name.as_bytes()),
        Bytes::from_static(v.as_bytes()),
    );
}

/// Build a hop's request: `Host`, the caller's headers in their order, the
/// automatic headers they lack, then the framing headers.
pub(crate) fn prepare(
    cfg: &ClientConfig,
    req: &Request,
    hop: &Hop<'_>,
    body: Payload,
) -> Result<Prepared, Error> {
    let mut map = Fields::with_capacity(hop.headers.len() + 8);
    caller_headers(hop, &mut map)?;
    let target = match hop.forward {
        // (aiohttp's: CONNECT asks for the authority, `host:port`.)
        None if hop.method.eq_ignore_ascii_case("CONNECT") => connect_target(hop.dest),
        None => hop.dest.target.clone(),
        Some(extra) => {
            for (k, v) in extra.iter().filter(|(k, _)| !has_header(hop.headers, k)) {
                let (name, value) = checked_field(k, v)?;
                map.push(name, value);
            }
            crate::policy::proxy::absolute_target(hop.dest)
        }
    };
    // A bad method or target is refused before any connection is made.
    crate::h1::head::check_request_line(hop.method, &target)
        .map_err(|e| Error::new(ErrorKind::InvalidArgument, e.0))?;
    automatic_headers(cfg, req, hop, &body, &mut map)?;
    let expect = framing_headers(req, hop, &body, &mut map)?;
    let chunked = body.is_some() && is_chunked(&map);
    // (With a body only: aiohttp sends a body's length, and refuses a
    // caller's one that is no number.)
    let cap = match body.is_some() && !chunked {
        true => caller_length(hop.headers)?,
        false => None,
    };
    let body = match cap {
        Some(n) => within_length(body, n),
        None => body,
    };
    Ok(Prepared {
        method: hop.method.to_owned(),
        target,
        http10: req.http10,
        headers: map,
        body,
        chunked,
        expect,
        coding: hop.coding.map(str::to_owned),
        cap,
    })
}

/// The authority-form target of a CONNECT request (RFC 9110 §9.3.6):
/// `host:port`, an IPv6 host in brackets, the port always given.
fn connect_target(dest: &crate::dest::Dest) -> String {
    if dest.host.contains(':') {
        format!("[{}]:{}", dest.host, dest.port)
    } else {
        format!("{}:{}", dest.host, dest.port)
    }
}

/// Whether the engine adds `name`: the caller neither set nor skipped it.
fn is_auto(req: &Request, headers: &[(String, String)], name: &str) -> bool {
    !has_header(headers, name)
        && !req
            .skip_auto_headers
            .iter()
            .any(|s| s.eq_ignore_ascii_case(name))
}

/// The body goes chunked: the last transfer coding sent is `chunked`.
fn is_chunked(map: &Fields) -> bool {
    map.get_all("transfer-encoding").last().is_some_and(|v| {
        let last = v.rsplit(|&b| b == b',').next().unwrap_or_default();
        last.trim_ascii().eq_ignore_ascii_case(b"chunked")
    })
}

/// `Host` first, then the caller's other fields in order, names as
/// written.  As aiohttp's `update_headers`: `Host` is always sent (not
/// one of the automatic headers `skip_auto_headers` can skip), and the
/// caller's last `Host` field, if any, replaces the URL's.
fn caller_headers(hop: &Hop<'_>, map: &mut Fields) -> Result<(), Error> {
    let is_host = |k: &str| k.eq_ignore_ascii_case("host");
    match hop.headers.iter().rev().find(|(k, _)| is_host(k)) {
        Some((k, v)) => {
            let (name, value) = checked_field(k, v)?;
            map.push(name, value);
        }
        None => auto_field(map, "Host", &hop.dest.host_header)?,
    }
    for (k, v) in hop.headers.iter().filter(|(k, _)| !is_host(k)) {
        let (name, value) = checked_field(k, v)?;
        map.push(name, value);
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
    map: &mut Fields,
) -> Result<(), Error> {
    let auto = |name: &str| is_auto(req, hop.headers, name);
    if auto("accept") {
        fixed_field(map, "Accept", DEFAULT_ACCEPT);
    }
    if auto("accept-encoding") {
        fixed_field(map, "Accept-Encoding", ACCEPT_ENCODING);
    }
    if auto("user-agent") {
        auto_bytes(map, "User-Agent", cfg.user_agent.clone())?;
    }
    if let Some(a) = hop.auth {
        auto_field(map, "Authorization", a)?;
    }
    if auto("content-type") {
        // aiohttp labels bodies it knows, and any POST/PUT/PATCH body.
        match (body.is_some(), &req.content_type) {
            (true, Some(ct)) => {
                auto_field(map, "Content-Type", ct)?;
            }
            _ if matches!(hop.method, "POST" | "PUT" | "PATCH") => {
                fixed_field(map, "Content-Type", "application/octet-stream");
            }
            _ => {}
        }
    }
    if !has_header(hop.headers, "connection") {
        if cfg.pool.force_close {
            if !req.http10 {
                fixed_field(map, "Connection", "close");
            }
        } else if req.http10 {
            fixed_field(map, "Connection", "keep-alive");
        }
    }
    if let Some(c) = hop.coding {
        auto_field(map, "Content-Encoding", c)?;
    }
    Ok(())
}

/// The caller's own `Content-Length`, when it is a number.
fn caller_length(headers: &[(String, String)]) -> Result<Option<u64>, Error> {
    let Some((_, v)) = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
    else {
        return Ok(None);
    };
    // Digits only, as aiohttp's `_content_length` (no sign, no spaces).
    match v.bytes().all(|b| b.is_ascii_digit()) {
        true => v.parse().map(Some).ok(),
        false => None,
    }
    .ok_or_else(|| invalid(&format!("Invalid Content-Length header: {v:?}")))
}

/// A body cut to the caller's `Content-Length` (aiohttp's
/// `write_with_length`): bytes past it would be read as the next request.
fn within_length(body: Payload, n: u64) -> Payload {
    match body {
        Payload::Bytes(b) if b.len() as u64 > n => Payload::Bytes(b.slice(..n as usize)),
        Payload::Stream(Some(mut s)) => {
            s.limit_to(n);
            Payload::Stream(Some(s))
        }
        other => other,
    }
}

/// aiohttp's update_transfer_encoding rules (compress implies chunked), and
/// `Expect`; whether the body waits for `100 Continue`.
fn framing_headers(
    req: &Request,
    hop: &Hop<'_>,
    body: &Payload,
    map: &mut Fields,
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
        fixed_field(map, "Expect", "100-continue");
    }
    if !has_header(headers, "content-length") && !has_header(headers, "transfer-encoding") {
        match (body.is_some(), body.length()) {
            (true, Some(n)) if !chunked => {
                auto_field(map, "Content-Length", &n.to_string())?;
            }
            (true, _) => {
                fixed_field(map, "Transfer-Encoding", "chunked");
            }
            (false, _) if !is_get_like(hop.method) && !chunked => {
                fixed_field(map, "Content-Length", "0");
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
    fn a_callers_content_length_is_a_number_or_an_error() {
        let h = |v: &str| vec![("Content-Length".to_owned(), v.to_owned())];
        assert_eq!(caller_length(&[]).unwrap(), None);
        assert_eq!(caller_length(&h("500")).unwrap(), Some(500));
        for bad in ["abc", "-1", " 5 ", "", "+5", "99999999999999999999999"] {
            let e = caller_length(&h(bad)).unwrap_err();
            assert_eq!(e.kind, ErrorKind::InvalidArgument, "{bad:?}");
        }
    }

    /// A hop of `method` to `dest` with the caller's `headers`, no more.
    fn plain_hop<'a>(
        method: &'a str,
        dest: &'a crate::dest::Dest,
        headers: &'a [(String, String)],
    ) -> Hop<'a> {
        Hop {
            method,
            dest,
            headers,
            auth: &None,
            coding: None,
            forward: None,
        }
    }

    #[test]
    fn methods() {
        assert!(is_get_like("GET") && is_get_like("HEAD") && !is_get_like("DELETE"));
    }

    #[test]
    fn the_automatic_fields_as_sent_and_a_bad_user_agent_refused() {
        let mut cfg = ClientConfig::default();
        let req = Request::new("POST", "http://a.test:81/x");
        let dest = crate::dest::parse_dest(&req.url, false).expect("a URL");
        let hop = plain_hop("POST", &dest, &[]);
        let p = prepare(&cfg, &req, &hop, Payload::None).expect("prepared");
        let names: Vec<&[u8]> = p.headers.iter().map(|(k, _)| k).collect();
        assert_eq!(
            names,
            [
                &b"Host"[..],
                b"Accept",
                b"Accept-Encoding",
                b"User-Agent",
                b"Content-Type",
                b"Content-Length"
            ]
        );
        assert_eq!(p.headers.get("host"), Some(&b"a.test:81"[..]));
        assert_eq!(p.headers.get("user-agent"), Some(&cfg.user_agent[..]));
        assert_eq!(p.headers.get("content-length"), Some(&b"0"[..]));
        cfg.user_agent = Bytes::from_static(b"x\r\nEvil: 1");
        let err = prepare(&cfg, &req, &hop, Payload::None)
            .err()
            .expect("refused");
        assert_eq!(err.kind, ErrorKind::InvalidArgument);
    }

    #[test]
    fn connect_asks_for_the_authority() {
        let cfg = ClientConfig::default();
        for (url, want) in [
            ("http://a.test/p?q", "a.test:80"),
            ("https://[::1]:8443/p", "[::1]:8443"),
        ] {
            let req = Request::new("CONNECT", url);
            let dest = crate::dest::parse_dest(&req.url, false).expect("a URL");
            let hop = plain_hop("CONNECT", &dest, &[]);
            let p = prepare(&cfg, &req, &hop, Payload::None).expect("prepared");
            assert_eq!(p.target, want);
        }
    }

    #[test]
    fn host_is_always_sent_once_the_callers_last_first() {
        // As aiohttp's update_headers: skip_auto_headers does not skip it,
        // and a caller's last Host replaces the URL's, in first place.
        let cfg = ClientConfig::default();
        let mut req = Request::new("GET", "http://a.test/x");
        req.skip_auto_headers = vec!["Host".to_owned()];
        let dest = crate::dest::parse_dest(&req.url, false).expect("a URL");
        let given = [
            ("X-A".to_owned(), "1".to_owned()),
            ("Host".to_owned(), "first".to_owned()),
            ("host".to_owned(), "last".to_owned()),
        ];
        for (headers, want) in [(&given[..0], "a.test"), (&given[..], "last")] {
            let hop = plain_hop("GET", &dest, headers);
            let p = prepare(&cfg, &req, &hop, Payload::None).expect("prepared");
            assert_eq!(p.headers.get_all("host").count(), 1);
            let first = p.headers.iter().next().expect("a field");
            assert!(first.0.eq_ignore_ascii_case(b"host"));
            assert_eq!(first.1, want.as_bytes());
        }
    }
}
