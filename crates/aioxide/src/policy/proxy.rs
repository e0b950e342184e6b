//! Which way a hop goes through a proxy (aiohttp's rules, and SOCKS):
//!
//! - an `http://` target through an HTTP(S) proxy: the request goes to the
//!   proxy in absolute-form, with `Proxy-Authorization` and the
//!   `proxy_headers` (aiohttp drops the latter, aio-libs/aiohttp#4422; we
//!   send them, as its own deprecation warning suggests);
//! - an `https://` target through an HTTP(S) proxy: a `CONNECT` tunnel
//!   carrying those headers, the origin's TLS inside it;
//! - any target through `socks4://`, `socks4a://`, `socks5://` (the client
//!   resolves the name) or `socks5h://` (the proxy does), with the URL's
//!   credentials.
//!
//! An `https://` proxy is reached over TLS, checked as the request's
//! `ssl=` says (as aiohttp does).

use base64::Engine as _;

use crate::connect::tls::TlsMode;
use crate::connect::{ProxyAddr, SocksVersion, Tunnel};
use crate::dest::Dest;
use crate::error::{Error, ErrorKind};

/// A request's proxy, as given: its URL (credentials included) and the
/// headers for it (`proxy_headers`, with `Proxy-Authorization`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Proxy {
    pub url: String,
    pub headers: Vec<(String, String)>,
}

/// A proxy, checked once per request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    kind: Kind,
    addr: ProxyAddr,
    /// Headers for the proxy (HTTP proxies), `Proxy-Authorization` included.
    headers: Vec<(String, String)>,
    /// SOCKS credentials.
    auth: Option<(String, String)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Http { tls: bool },
    Socks(SocksVersion),
}

fn bad(msg: String) -> Error {
    Error::new(ErrorKind::InvalidArgument, msg)
}

impl Route {
    /// Check a proxy URL and gather what the hops need.
    pub fn new(proxy: &Proxy) -> Result<Route, Error> {
        let url = url::Url::parse(&proxy.url)
            .map_err(|e| Error::new(ErrorKind::InvalidUrl, format!("{e}")).with_url(&proxy.url))?;
        let kind = match url.scheme() {
            "http" => Kind::Http { tls: false },
            "https" => Kind::Http { tls: true },
            "socks4" => Kind::Socks(SocksVersion::Socks4),
            "socks4a" => Kind::Socks(SocksVersion::Socks4a),
            "socks5" => Kind::Socks(SocksVersion::Socks5),
            "socks5h" => Kind::Socks(SocksVersion::Socks5h),
            s => {
                return Err(bad(format!(
                    "Unsupported proxy scheme {s:?}: {}",
                    proxy.url
                )))
            }
        };
        let host = match url.host() {
            Some(url::Host::Ipv6(a)) => a.to_string(),
            Some(h) => h.to_string(),
            None => {
                return Err(
                    Error::new(ErrorKind::InvalidUrl, "proxy URL has no host").with_url(&proxy.url)
                )
            }
        };
        let port = url.port().unwrap_or(match kind {
            Kind::Http { tls: true } => 443,
            Kind::Http { tls: false } => 80,
            Kind::Socks(_) => 1080,
        });
        let creds = credentials(&url);
        let mut headers = proxy.headers.clone();
        let has_auth = headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("proxy-authorization"));
        if let (Kind::Http { .. }, Some((user, pass)), false) = (kind, &creds, has_auth) {
            let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
            headers.push(("Proxy-Authorization".into(), format!("Basic {token}")));
        }
        Ok(Route {
            kind,
            addr: ProxyAddr { host, port },
            headers,
            auth: creds,
        })
    }

    /// The tunnel a hop to `dest` goes through (part of its pool key).
    pub fn tunnel(&self, dest: &Dest, tls: &TlsMode) -> Tunnel {
        let proxy = self.addr.clone();
        match self.kind {
            Kind::Socks(version) => Tunnel::Socks {
                proxy,
                version,
                auth: self.auth.clone(),
            },
            Kind::Http { tls: proxy_tls } => {
                let tls = proxy_tls.then(|| tls.clone());
                let headers = self.headers.clone();
                match dest.tls {
                    true => Tunnel::Http {
                        proxy,
                        tls,
                        headers,
                    },
                    false => Tunnel::Forward {
                        proxy,
                        tls,
                        headers,
                    },
                }
            }
        }
    }
}

/// The URL's user and password, percent-decoded.
fn credentials(url: &url::Url) -> Option<(String, String)> {
    if url.username().is_empty() && url.password().is_none() {
        return None;
    }
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(s)
            .decode_utf8_lossy()
            .into_owned()
    };
    Some((decode(url.username()), decode(url.password().unwrap_or(""))))
}

/// The absolute-form request target for a forward proxy (`http://host:port/path`).
pub fn absolute_target(dest: &Dest) -> String {
    let scheme = if dest.tls { "https" } else { "http" };
    format!("{scheme}://{}{}", dest.host_header, dest.target)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dest(url: &str) -> Dest {
        crate::dest::parse_dest(url, false).expect("valid")
    }

    fn route(url: &str) -> Route {
        Route::new(&Proxy {
            url: url.into(),
            headers: vec![],
        })
        .expect("valid")
    }

    #[test]
    fn http_targets_go_forward_https_targets_tunnel() {
        let r = route("http://user:p%40ss@proxy:3128");
        let auth = (
            "Proxy-Authorization".to_owned(),
            "Basic dXNlcjpwQHNz".to_owned(),
        );
        match r.tunnel(&dest("http://example.com/x"), &TlsMode::Verify) {
            Tunnel::Forward {
                proxy,
                tls,
                headers,
            } => {
                assert_eq!((proxy.host.as_str(), proxy.port), ("proxy", 3128));
                assert_eq!(tls, None);
                assert_eq!(headers, [auth]);
            }
            t => panic!("{t:?}"),
        }
        assert!(matches!(
            r.tunnel(&dest("https://example.com/x"), &TlsMode::Verify),
            Tunnel::Http { tls: None, .. }
        ));
        let r = route("https://proxy");
        assert!(matches!(
            r.tunnel(&dest("https://example.com/"), &TlsMode::NoVerify),
            Tunnel::Http {
                tls: Some(TlsMode::NoVerify),
                proxy: ProxyAddr { port: 443, .. },
                ..
            }
        ));
    }

    #[test]
    fn explicit_proxy_authorization_wins() {
        let r = Route::new(&Proxy {
            url: "http://u:p@proxy".into(),
            headers: vec![("proxy-authorization".into(), "Basic given".into())],
        })
        .expect("valid");
        assert_eq!(r.headers.len(), 1);
        assert_eq!(r.headers[0].1, "Basic given");
    }

    #[test]
    fn socks_schemes() {
        for (url, v) in [
            ("socks4://p:1", SocksVersion::Socks4),
            ("socks4a://p:1", SocksVersion::Socks4a),
            ("socks5://u:pw@p:1", SocksVersion::Socks5),
            ("socks5h://p", SocksVersion::Socks5h),
        ] {
            match route(url).tunnel(&dest("http://e/"), &TlsMode::Verify) {
                Tunnel::Socks { version, .. } => assert_eq!(version, v),
                t => panic!("{t:?}"),
            }
        }
        let r = route("socks5://u:pw@p");
        assert_eq!(r.auth, Some(("u".into(), "pw".into())));
        assert_eq!(r.addr.port, 1080);
        let bad = Route::new(&Proxy {
            url: "ftp://p".into(),
            headers: vec![],
        });
        assert_eq!(bad.err().map(|e| e.kind), Some(ErrorKind::InvalidArgument));
    }

    #[test]
    fn absolute_form() {
        assert_eq!(
            absolute_target(&dest("http://e:8080/a?b")),
            "http://e:8080/a?b"
        );
        assert_eq!(absolute_target(&dest("http://e/")), "http://e/");
    }
}
