//! HTTP/2 decisions: which protocols a connection offers, and what a
//! request's fields become on an HTTP/2 stream (RFC 9113 8.2.2, 8.3.1).

use bytes::Bytes;

use crate::connect::{Alpn, Tunnel};
use crate::fields::Fields;

/// `TCPConnector(http2=...)`: off (aiohttp's behaviour), offered by ALPN
/// to https:// origins, or also spoken to http:// origins with prior
/// knowledge (h2c).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Http2 {
    #[default]
    Off,
    Alpn,
    PriorKnowledge,
}

impl Http2 {
    /// The mode by name: "off", "alpn", "prior_knowledge".
    pub fn from_name(name: &str) -> Option<Http2> {
        match name {
            "off" => Some(Http2::Off),
            "alpn" => Some(Http2::Alpn),
            "prior_knowledge" => Some(Http2::PriorKnowledge),
            _ => None,
        }
    }
}

/// What a connection to an origin offers.  A forward proxy gets HTTP/1.1
/// requests in absolute-form, and `needs_h1` (an upgrade such as a
/// WebSocket's, which needs HTTP/1.1's `101`, or a request made with
/// `version=HttpVersion10`) never goes on HTTP/2; a tunnel (CONNECT, SOCKS)
/// carries whatever the origin speaks.
pub fn alpn_for(tls: bool, tunnel: &Tunnel, needs_h1: bool, mode: Http2) -> Alpn {
    if tunnel.is_forward() || needs_h1 {
        return Alpn::Http1;
    }
    match (mode, tls) {
        (Http2::Off, _) | (Http2::Alpn, false) => Alpn::Http1,
        (Http2::Alpn | Http2::PriorKnowledge, true) | (Http2::PriorKnowledge, false) => Alpn::H2,
    }
}

/// Fields HTTP/2 forbids: they describe an HTTP/1.1 connection.
const CONNECTION_SPECIFIC: [&str; 5] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "upgrade",
];

/// A request's fields as an HTTP/2 stream carries them: connection-specific
/// fields dropped (and those the `Connection` field names), `TE` kept only
/// as `trailers`, names lower-case; `Host` taken out: its value is the
/// `:authority` (returned).
pub fn stream_fields(fields: &Fields) -> (Fields, Option<Bytes>) {
    let named: Vec<Vec<u8>> = fields
        .get_all("connection")
        .flat_map(|v| v.split(|b| *b == b','))
        .map(|n| n.trim_ascii().to_ascii_lowercase())
        .filter(|n| !n.is_empty())
        .collect();
    let mut out = Fields::with_capacity(fields.len());
    let mut authority = None;
    for (k, v) in fields.pairs() {
        let name = k.to_ascii_lowercase();
        let drop = CONNECTION_SPECIFIC.iter().any(|c| c.as_bytes() == name)
            || named.contains(&name)
            || (name == b"te" && !v.trim_ascii().eq_ignore_ascii_case(b"trailers"));
        if drop {
            continue;
        }
        if name == b"host" {
            authority.get_or_insert_with(|| v.clone());
            continue;
        }
        out.push(name, v.clone());
    }
    (out, authority)
}

/// The `:authority` of a request without `Host`: host, and the port when
/// it is not the scheme's default.
pub fn default_authority(host: &str, port: u16, tls: bool) -> String {
    let host = match host.contains(':') && !host.starts_with('[') {
        true => format!("[{host}]"),
        false => host.to_owned(),
    };
    match (tls, port) {
        (true, 443) | (false, 80) => host,
        _ => format!("{host}:{port}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forward() -> Tunnel {
        Tunnel::Forward {
            proxy: crate::connect::ProxyAddr {
                host: "proxy".into(),
                port: 8080,
            },
            tls: None,
            headers: Vec::new(),
        }
    }

    #[test]
    fn alpn_choice() {
        let none = Tunnel::None;
        let alpn = |tls, mode| alpn_for(tls, &none, false, mode);
        assert_eq!(alpn(true, Http2::Off), Alpn::Http1);
        assert_eq!(alpn(false, Http2::Off), Alpn::Http1);
        assert_eq!(alpn(true, Http2::Alpn), Alpn::H2);
        assert_eq!(alpn(false, Http2::Alpn), Alpn::Http1);
        assert_eq!(alpn(true, Http2::PriorKnowledge), Alpn::H2);
        assert_eq!(alpn(false, Http2::PriorKnowledge), Alpn::H2);
        let pk = Http2::PriorKnowledge;
        assert_eq!(alpn_for(false, &forward(), false, pk), Alpn::Http1);
        assert_eq!(alpn_for(true, &none, true, pk), Alpn::Http1, "WebSocket");
        assert_eq!(Http2::from_name("prior_knowledge"), Some(pk));
        assert_eq!(Http2::from_name("h3"), None);
    }

    #[test]
    fn connection_specific_fields_are_dropped() {
        let mut f = Fields::default();
        for (k, v) in [
            ("Host", "example.com:8443"),
            ("Connection", "keep-alive, X-Hop"),
            ("Keep-Alive", "timeout=5"),
            ("Transfer-Encoding", "chunked"),
            ("Upgrade", "websocket"),
            ("Proxy-Connection", "close"),
            ("X-Hop", "1"),
            ("TE", "gzip"),
            ("Accept", "*/*"),
            ("X-Two", "a"),
            ("x-two", "b"),
        ] {
            f.push(k, v);
        }
        let (out, authority) = stream_fields(&f);
        assert_eq!(authority.as_deref(), Some(&b"example.com:8443"[..]));
        let names: Vec<&[u8]> = out.iter().map(|(k, _)| k).collect();
        assert_eq!(names, [&b"accept"[..], b"x-two", b"x-two"]);
        let mut te = Fields::default();
        te.push("TE", "Trailers");
        assert_eq!(stream_fields(&te).0.get("te"), Some(&b"Trailers"[..]));
    }

    #[test]
    fn authority_without_host() {
        assert_eq!(default_authority("a.example", 443, true), "a.example");
        assert_eq!(default_authority("a.example", 80, true), "a.example:80");
        assert_eq!(default_authority("a.example", 80, false), "a.example");
        assert_eq!(default_authority("::1", 8443, true), "[::1]:8443");
        assert_eq!(default_authority("[::1]", 443, true), "[::1]");
    }
}
