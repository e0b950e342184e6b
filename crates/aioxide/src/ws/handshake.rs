//! The client side of the opening handshake (RFC 6455 4.1, RFC 7692 5),
//! exactly as aiohttp 3.14's `ClientSession._ws_connect` does it: the request
//! headers it adds, and the checks of the `101` answer with its messages.

use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

/// The GUID concatenated to the key to compute `Sec-WebSocket-Accept`.
pub const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// A `Sec-WebSocket-Key`: 16 random bytes, base64-encoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Key(String);

impl Key {
    /// A fresh key from the system CSPRNG.
    pub fn generate() -> Key {
        let mut raw = [0u8; 16];
        super::fill_random(&mut raw);
        Key(STANDARD.encode(raw))
    }

    /// A key given as its base64 text (tests, RFC vectors).
    pub fn from_base64(text: &str) -> Key {
        Key(text.to_owned())
    }

    /// The key as sent in `Sec-WebSocket-Key`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The `Sec-WebSocket-Accept` value a server must answer with:
    /// base64(SHA-1(key + GUID)).
    pub fn accept(&self) -> String {
        let mut ctx = ring::digest::Context::new(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY);
        ctx.update(self.0.as_bytes());
        ctx.update(GUID.as_bytes());
        STANDARD.encode(ctx.finish().as_ref())
    }
}

/// A failed handshake, with aiohttp's `WSServerHandshakeError` message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HandshakeError {
    /// "Invalid response status", "Invalid upgrade header", ...
    pub message: String,
}

impl HandshakeError {
    fn new(message: impl Into<String>) -> HandshakeError {
        HandshakeError {
            message: message.into(),
        }
    }
}

impl fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for HandshakeError {}

/// The permessage-deflate parameters the server agreed to (RFC 7692 7.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeflateParams {
    /// Window bits the client compresses with (9..=15; 15 when not given).
    pub client_max_window_bits: u8,
    /// The client must reset its compression context after each message.
    pub client_no_context_takeover: bool,
    /// Window bits the server compresses with, as announced (15 when not
    /// given; informative: the client always inflates with a 32 KiB window).
    pub server_max_window_bits: u8,
    /// The server resets its context after each message (informative).
    pub server_no_context_takeover: bool,
}

impl Default for DeflateParams {
    fn default() -> DeflateParams {
        DeflateParams {
            client_max_window_bits: 15,
            client_no_context_takeover: false,
            server_max_window_bits: 15,
            server_no_context_takeover: false,
        }
    }
}

/// What the handshake settled: the subprotocol and the compression.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Negotiated {
    /// The subprotocol picked (`ClientWebSocketResponse.protocol`).
    pub protocol: Option<String>,
    /// permessage-deflate, when offered and accepted.
    pub deflate: Option<DeflateParams>,
}

/// The `Sec-WebSocket-Extensions` offer for `compress` window bits
/// (aiohttp's `ws_ext_gen` for a client): `permessage-deflate;
/// client_max_window_bits`, plus `; server_max_window_bits=N` below 15, plus
/// `; client_no_context_takeover` when asked (aiohttp never asks).
pub fn extension_offer(
    compress: u8,
    client_no_context_takeover: bool,
) -> Result<String, HandshakeError> {
    if !(9..=15).contains(&compress) {
        return Err(HandshakeError::new(
            "Compress wbits must between 9 and 15, zlib does not support wbits=8",
        ));
    }
    let mut ext = String::from("permessage-deflate; client_max_window_bits");
    if compress < 15 {
        ext.push_str(&format!("; server_max_window_bits={compress}"));
    }
    if client_no_context_takeover {
        ext.push_str("; client_no_context_takeover");
    }
    Ok(ext)
}

/// The headers aiohttp's `ws_connect` adds to the upgrade request, in its
/// order: `Upgrade`, `Connection`, `Sec-WebSocket-Version`,
/// `Sec-WebSocket-Key`, `Sec-WebSocket-Protocol` (joined by ","), `Origin`,
/// `Sec-WebSocket-Extensions` (when `compress` is not 0). aiohttp lets the
/// user's own `Upgrade` / `Connection` / `Sec-WebSocket-Version` win: that
/// merge is the caller's. Fails when `compress` is neither 0 nor 9..=15.
pub fn request_headers(
    key: &Key,
    protocols: &[String],
    compress: u8,
    client_no_context_takeover: bool,
    origin: Option<&str>,
) -> Result<Vec<(String, String)>, HandshakeError> {
    let mut headers = vec![
        ("Upgrade".to_owned(), "websocket".to_owned()),
        ("Connection".to_owned(), "Upgrade".to_owned()),
        ("Sec-WebSocket-Version".to_owned(), "13".to_owned()),
        ("Sec-WebSocket-Key".to_owned(), key.as_str().to_owned()),
    ];
    if !protocols.is_empty() {
        headers.push(("Sec-WebSocket-Protocol".to_owned(), protocols.join(",")));
    }
    if let Some(origin) = origin {
        headers.push(("Origin".to_owned(), origin.to_owned()));
    }
    if compress != 0 {
        let ext = extension_offer(compress, client_no_context_takeover)?;
        headers.push(("Sec-WebSocket-Extensions".to_owned(), ext));
    }
    Ok(headers)
}

/// First value of header `name` (case-insensitive), trimmed like aiohttp's
/// parser trims values.
fn header<'a>(headers: &[(&str, &'a str)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim())
}

/// Judge the server's answer to the upgrade request, in aiohttp's order:
/// status 101, `Upgrade: websocket`, `Connection: upgrade` (whole value,
/// case-insensitive), the accept challenge, then the subprotocol (the first
/// of the server's comma-separated list that we offered) and, when
/// `compress` was offered, the extension answer (`ws_ext_parse`).
pub fn check_response(
    status: u16,
    headers: &[(&str, &str)],
    key: &Key,
    protocols: &[String],
    compress: u8,
) -> Result<Negotiated, HandshakeError> {
    if status != 101 {
        return Err(HandshakeError::new("Invalid response status"));
    }
    let is = |name: &str, want: &str| {
        header(headers, name).is_some_and(|v| v.eq_ignore_ascii_case(want))
    };
    if !is("Upgrade", "websocket") {
        return Err(HandshakeError::new("Invalid upgrade header"));
    }
    if !is("Connection", "upgrade") {
        return Err(HandshakeError::new("Invalid connection header"));
    }
    if header(headers, "Sec-WebSocket-Accept") != Some(key.accept().as_str()) {
        return Err(HandshakeError::new("Invalid challenge response"));
    }
    let mut protocol = None;
    if !protocols.is_empty() {
        if let Some(offer) = header(headers, "Sec-WebSocket-Protocol") {
            protocol = offer
                .split(',')
                .map(str::trim)
                .find(|p| protocols.iter().any(|o| o == p))
                .map(str::to_owned);
        }
    }
    let mut deflate = None;
    if compress != 0 {
        if let Some(ext) = header(headers, "Sec-WebSocket-Extensions").filter(|v| !v.is_empty()) {
            deflate = parse_extensions(ext)?;
        }
    }
    Ok(Negotiated { protocol, deflate })
}

/// [`check_response`] over an `http::HeaderMap` (values that are not visible
/// ASCII / UTF-8 count as absent).
pub fn check_response_map(
    status: u16,
    headers: &http::HeaderMap,
    key: &Key,
    protocols: &[String],
    compress: u8,
) -> Result<Negotiated, HandshakeError> {
    let pairs: Vec<(&str, &str)> = headers
        .iter()
        .filter_map(|(n, v)| Some((n.as_str(), v.to_str().ok()?)))
        .collect();
    check_response(status, &pairs, key, protocols, compress)
}

const PMD: &str = "permessage-deflate";

/// aiohttp's client-side `ws_ext_parse`: the first `permessage-deflate`
/// entry decides. Its parameters (up to the next comma) must match
/// `(; *(server_no_context_takeover|client_no_context_takeover|
/// server_max_window_bits[=N]|client_max_window_bits[=N]))*` exactly, else
/// "Extension for deflate not supported<params>"; a client window outside
/// 9..=15 is "Invalid window size". No entry: no compression.
pub fn parse_extensions(ext: &str) -> Result<Option<DeflateParams>, HandshakeError> {
    let mut rest = ext;
    if let Some(at) = rest.find(PMD) {
        rest = &rest[at + PMD.len()..];
        let params = &rest[..rest.find(',').unwrap_or(rest.len())];
        if params.is_empty() {
            return Ok(Some(DeflateParams::default()));
        }
        let Some(p) = parse_params(params) else {
            return Err(HandshakeError::new(format!(
                "Extension for deflate not supported{params}"
            )));
        };
        let client_bits = match p.client_bits {
            None => 15,
            Some(b @ 9..=15) => b as u8,
            Some(_) => return Err(HandshakeError::new("Invalid window size")),
        };
        return Ok(Some(DeflateParams {
            client_max_window_bits: client_bits,
            client_no_context_takeover: p.client_no_context_takeover,
            server_max_window_bits: p.server_bits.map_or(15, |b| b.min(255) as u8),
            server_no_context_takeover: p.server_no_context_takeover,
        }));
    }
    Ok(None)
}

/// Parameters as written (window values as parsed, unchecked).
#[derive(Default)]
struct RawParams {
    client_bits: Option<u64>,
    server_bits: Option<u64>,
    client_no_context_takeover: bool,
    server_no_context_takeover: bool,
}

/// Match aiohttp's `_WS_EXT_RE` against `params`; `None` when it does not
/// match. A value given twice keeps the last one (Python's group semantics).
fn parse_params(mut s: &str) -> Option<RawParams> {
    let mut p = RawParams::default();
    while !s.is_empty() {
        s = s.strip_prefix(';')?.trim_start();
        if let Some(r) = s.strip_prefix("server_no_context_takeover") {
            p.server_no_context_takeover = true;
            s = r;
        } else if let Some(r) = s.strip_prefix("client_no_context_takeover") {
            p.client_no_context_takeover = true;
            s = r;
        } else if let Some(r) = s.strip_prefix("server_max_window_bits") {
            s = window_value(r, &mut p.server_bits)?;
        } else if let Some(r) = s.strip_prefix("client_max_window_bits") {
            s = window_value(r, &mut p.client_bits)?;
        } else {
            return None;
        }
    }
    Some(p)
}

/// An optional `=digits` after a window-bits parameter; stores the value
/// (saturating) and returns the rest. `=` without digits does not match.
fn window_value<'a>(s: &'a str, slot: &mut Option<u64>) -> Option<&'a str> {
    let Some(r) = s.strip_prefix('=') else {
        return Some(s);
    };
    let end = r.find(|c: char| !c.is_ascii_digit()).unwrap_or(r.len());
    if end == 0 {
        return None;
    }
    let value = r[..end].bytes().fold(0u64, |acc, d| {
        acc.saturating_mul(10).saturating_add(u64::from(d - b'0'))
    });
    *slot = Some(value);
    Some(&r[end..])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6455 1.3's example.
    #[test]
    fn accept_matches_rfc_example() {
        let key = Key::from_base64("dGhlIHNhbXBsZSBub25jZQ==");
        assert_eq!(key.accept(), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    }

    #[test]
    fn generated_keys_are_16_bytes_and_differ() {
        let (a, b) = (Key::generate(), Key::generate());
        assert_ne!(a, b);
        assert_eq!(STANDARD.decode(a.as_str()).unwrap().len(), 16);
    }

    #[test]
    fn request_headers_as_aiohttp_sends_them() {
        let key = Key::from_base64("dGhlIHNhbXBsZSBub25jZQ==");
        let protos = vec!["chat".to_owned(), "v2".to_owned()];
        let h = request_headers(&key, &protos, 15, false, Some("http://x")).unwrap();
        let want = [
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Sec-WebSocket-Version", "13"),
            ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
            ("Sec-WebSocket-Protocol", "chat,v2"),
            ("Origin", "http://x"),
            (
                "Sec-WebSocket-Extensions",
                "permessage-deflate; client_max_window_bits",
            ),
        ];
        let got: Vec<(&str, &str)> = h.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        assert_eq!(got, want);
        let h = request_headers(&key, &[], 0, false, None).unwrap();
        assert_eq!(h.len(), 4);
    }

    #[test]
    fn extension_offer_for_each_window() {
        assert_eq!(
            extension_offer(10, false).unwrap(),
            "permessage-deflate; client_max_window_bits; server_max_window_bits=10"
        );
        assert_eq!(
            extension_offer(15, true).unwrap(),
            "permessage-deflate; client_max_window_bits; client_no_context_takeover"
        );
        assert!(extension_offer(8, false).is_err());
        assert!(request_headers(&Key::generate(), &[], 16, false, None).is_err());
    }

    fn answer(key: &Key) -> Vec<(&'static str, String)> {
        vec![
            ("upgrade", "WebSocket".to_owned()),
            ("Connection", "Upgrade".to_owned()),
            ("Sec-WebSocket-Accept", key.accept()),
        ]
    }

    fn check(
        h: &[(&str, String)],
        key: &Key,
        protos: &[String],
        compress: u8,
    ) -> Result<Negotiated, HandshakeError> {
        let pairs: Vec<(&str, &str)> = h.iter().map(|(a, b)| (*a, b.as_str())).collect();
        check_response(101, &pairs, key, protos, compress)
    }

    #[test]
    fn check_response_errors_in_aiohttp_order() {
        let key = Key::generate();
        let ok = answer(&key);
        let pairs: Vec<(&str, &str)> = ok.iter().map(|(a, b)| (*a, b.as_str())).collect();
        let err = |r: Result<Negotiated, HandshakeError>| r.unwrap_err().message;
        assert_eq!(
            err(check_response(200, &pairs, &key, &[], 0)),
            "Invalid response status"
        );
        assert_eq!(err(check(&ok[1..], &key, &[], 0)), "Invalid upgrade header");
        let mut h = ok.clone();
        h[1].1 = "keep-alive, Upgrade".to_owned();
        assert_eq!(err(check(&h, &key, &[], 0)), "Invalid connection header");
        let mut h = ok.clone();
        h[2].1 = "nope".to_owned();
        assert_eq!(err(check(&h, &key, &[], 0)), "Invalid challenge response");
        assert_eq!(check(&ok, &key, &[], 0).unwrap(), Negotiated::default());
    }

    #[test]
    fn protocol_is_the_first_offered_one_the_server_lists() {
        let key = Key::generate();
        let mut h = answer(&key);
        h.push(("Sec-WebSocket-Protocol", "x, v2 ,chat".to_owned()));
        let protos = vec!["chat".to_owned(), "v2".to_owned()];
        assert_eq!(
            check(&h, &key, &protos, 0).unwrap().protocol.as_deref(),
            Some("v2")
        );
        assert_eq!(check(&h, &key, &[], 0).unwrap().protocol, None);
    }

    #[test]
    fn extension_answer_parsing() {
        let p = |s: &str| parse_extensions(s).map_err(|e| e.message);
        assert_eq!(p("permessage-deflate"), Ok(Some(DeflateParams::default())));
        assert_eq!(
            p("x-webkit, permessage-deflate, foo"),
            Ok(Some(DeflateParams::default()))
        );
        assert_eq!(p("x-webkit"), Ok(None));
        let all = p(
            "permessage-deflate; client_max_window_bits=10;server_max_window_bits=9; \
                     client_no_context_takeover; server_no_context_takeover",
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            all,
            DeflateParams {
                client_max_window_bits: 10,
                client_no_context_takeover: true,
                server_max_window_bits: 9,
                server_no_context_takeover: true,
            }
        );
        assert_eq!(
            p("permessage-deflate; client_max_window_bits")
                .unwrap()
                .unwrap()
                .client_max_window_bits,
            15
        );
        assert_eq!(
            p("permessage-deflate; client_max_window_bits=8"),
            Err("Invalid window size".to_owned())
        );
        assert_eq!(
            p("permessage-deflate; client_max_window_bits=99999999999999999999999"),
            Err("Invalid window size".to_owned())
        );
        assert_eq!(
            p("permessage-deflate; foo"),
            Err("Extension for deflate not supported; foo".to_owned())
        );
        assert_eq!(
            p("permessage-deflate; client_max_window_bits=; x"),
            Err("Extension for deflate not supported; client_max_window_bits=; x".to_owned())
        );
        assert_eq!(
            p("permessage-deflate ;x"),
            Err("Extension for deflate not supported ;x".to_owned())
        );
        // server_max_window_bits outside 9..=15 is ignored by aiohttp's client.
        assert_eq!(
            p("permessage-deflate; server_max_window_bits=8")
                .unwrap()
                .unwrap()
                .server_max_window_bits,
            8
        );
    }

    #[test]
    fn extension_answer_only_when_offered() {
        let key = Key::generate();
        let mut h = answer(&key);
        h.push((
            "Sec-WebSocket-Extensions",
            "permessage-deflate; client_max_window_bits=12".to_owned(),
        ));
        assert_eq!(check(&h, &key, &[], 0).unwrap().deflate, None);
        let d = check(&h, &key, &[], 15).unwrap().deflate.unwrap();
        assert_eq!(d.client_max_window_bits, 12);
        h[3].1 = "permessage-deflate; bogus".to_owned();
        assert_eq!(
            check(&h, &key, &[], 15).unwrap_err().message,
            "Extension for deflate not supported; bogus"
        );
        assert_eq!(check(&answer(&key), &key, &[], 15).unwrap().deflate, None);
    }
}
