//! Where a request goes: URL checks, the request target, the `Host` header
//! and credentials from the URL's userinfo.

use base64::Engine as _;
use url::Url;

use crate::error::{Error, ErrorKind};

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
    pub(crate) fn same_origin(&self, other: &Dest) -> bool {
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
/// Its `url` is left empty for the caller to fill with the string itself.
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
    let mut host_header = String::with_capacity(host.len() + 6);
    host_header.push_str(host);
    if port_n != default {
        host_header.push(':');
        host_header.push_str(&port_n.to_string());
    }
    Some(Dest {
        url: String::new(),
        tls,
        host: host.to_owned(),
        port: port_n,
        host_header,
        target: request_target(raw),
        auth: None,
    })
}

pub(crate) fn dest_from_url(mut url: Url, raw: Option<&str>) -> Result<Dest, Error> {
    let auth = take_url_auth(&mut url)?;
    let tls = matches!(url.scheme(), "https" | "wss");
    let host = match url.host() {
        Some(url::Host::Ipv6(a)) => a.to_string(),
        Some(h) => h.to_string(),
        None => String::new(),
    };
    let port = url
        .port_or_known_default()
        .unwrap_or(if tls { 443 } else { 80 });
    let url_str = match raw {
        Some(raw) => without_added_slash(raw, url.to_string()),
        None => url.to_string(),
    };
    let target = request_target(raw.filter(|_| auth.is_none()).unwrap_or(&url_str));
    Ok(Dest {
        url: url_str,
        tls,
        host,
        port,
        host_header: host_header(&url),
        target,
        auth,
    })
}

/// `url`, the parser's serialization of `raw`, without the `/` it adds
/// after a scheme and authority with no path and no query
/// (`http://user@host:port`, maybe with a fragment): yarl shows none
/// there (it does before a query).  The request still asks for `/`.
pub(crate) fn without_added_slash(raw: &str, mut url: String) -> String {
    let Some(rest) = raw.find("://").map(|i| &raw[i + 3..]) else {
        return url;
    };
    if rest
        .find(['/', '?', '#'])
        .is_some_and(|j| rest.as_bytes()[j] != b'#')
    {
        return url;
    }
    let added = url
        .find("://")
        .and_then(|i| url[i + 3..].find('/').map(|j| i + 3 + j));
    if let Some(k) = added {
        if matches!(url.as_bytes().get(k + 1), None | Some(b'#')) {
            url.remove(k);
        }
    }
    url
}

/// Parse and check a request URL, as aiohttp does before any I/O.
pub fn parse_dest(raw: &str, redirected: bool) -> Result<Dest, Error> {
    parse_dest_owned(raw.to_owned(), redirected)
}

/// [`parse_dest`] of a URL the caller gives away: a plain URL becomes
/// the destination's own string, without a copy.
pub fn parse_dest_owned(raw: String, redirected: bool) -> Result<Dest, Error> {
    if let Some(mut d) = fast_dest(&raw) {
        d.url = raw;
        return Ok(d);
    }
    let url = parse_url(&raw, redirected)?;
    dest_from_url(url, Some(&raw))
}

/// http and https; ws and wss too for a request (aiohttp's connector
/// allows them: `ws_connect` and plain requests), never for a redirect.
fn allowed_scheme(scheme: &str, redirected: bool) -> bool {
    let s = scheme.to_ascii_lowercase();
    matches!(s.as_str(), "http" | "https") || (!redirected && matches!(s.as_str(), "ws" | "wss"))
}

/// Parse and check the request URL with a full parser.
pub fn parse_url(raw: &str, redirected: bool) -> Result<Url, Error> {
    let (invalid, non_http) = url_errors(redirected);
    // WHATWG parsing reads "http:///x" as host "x"; aiohttp (yarl) sees no host.
    if let Some(i) = raw.find("://") {
        if !allowed_scheme(&raw[..i], redirected) {
            return Err(Error::new(non_http, "not an http URL").with_url(raw));
        }
        if matches!(raw.as_bytes().get(i + 3), None | Some(b'/' | b'?' | b'#')) {
            return Err(Error::new(invalid, "URL has no host").with_url(raw));
        }
    }
    let url = Url::parse(raw).map_err(|e| Error::new(invalid, e.to_string()).with_url(raw))?;
    if !allowed_scheme(url.scheme(), redirected) {
        return Err(Error::new(non_http, "not an http URL").with_url(raw));
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

/// `Basic` credentials from a URL's userinfo (removed from the URL).  A
/// user name with a `:` (`%3A` in the URL) has no Basic form: aiohttp's
/// ValueError, for a request's URL and a redirect's.
fn take_url_auth(url: &mut Url) -> Result<Option<String>, Error> {
    if url.username().is_empty() && url.password().is_none() {
        return Ok(None);
    }
    let user = percent_decode(url.username());
    if user.contains(':') {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            "A \":\" is not allowed in login (RFC 7617#section-2)",
        ));
    }
    let pass = percent_decode(url.password().unwrap_or(""));
    let _ = url.set_username("");
    let _ = url.set_password(None);
    Ok(Some(basic_auth(&user, &pass)))
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
        // ws:// and wss:// for a request (as aiohttp's connector), not a redirect.
        let d = parse_dest("wss://example.com/chat", false).expect("ws URL");
        assert!(d.tls && d.port == 443 && d.target == "/chat");
        assert!(!parse_dest("ws://example.com/", false).expect("ws URL").tls);
        assert_eq!(
            parse_url("ws://x/", true).unwrap_err().kind,
            ErrorKind::NonHttpRedirectUrl
        );
    }

    #[test]
    fn basic() {
        assert_eq!(basic_auth("user", "pass"), "Basic dXNlcjpwYXNz");
        let mut u = Url::parse("http://us%40er:p%3Ass@h/").unwrap();
        let auth = take_url_auth(&mut u).unwrap();
        assert_eq!(auth.unwrap(), basic_auth("us@er", "p:ss"));
        assert_eq!(u.as_str(), "http://h/");
        let mut u = Url::parse("http://h/").unwrap();
        assert!(take_url_auth(&mut u).unwrap().is_none());
        // A `:` in the user name has no Basic form (the password may have one).
        let mut u = Url::parse("http://a%3Ab:c@h/").unwrap();
        let err = take_url_auth(&mut u).unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidArgument);
    }

    #[test]
    fn the_slash_after_a_bare_authority_is_not_shown() {
        let cases = [
            ("http://u@h:81", "http://u@h:81/", "http://u@h:81"),
            ("http://h#f", "http://h/#f", "http://h#f"),
            (" http://h", "http://h/", "http://h"),
            ("http://h?q=1", "http://h/?q=1", "http://h/?q=1"),
            ("http://h/", "http://h/", "http://h/"),
            ("http://h/#f", "http://h/#f", "http://h/#f"),
            ("//h", "http://h/", "http://h/"),
        ];
        for (raw, url, shown) in cases {
            assert_eq!(without_added_slash(raw, url.to_owned()), shown, "{raw}");
        }
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
            let full = dest_from_url(parse_url(raw, false).unwrap(), Some(raw)).unwrap();
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
        // Credentials out, the rest as yarl shows it: no `/` added to a bare
        // authority (a fragment after it too), one before a query.
        for (raw, url, target) in [
            ("http://u@h:81", "http://h:81", "/"),
            ("http://u@H", "http://h", "/"),
            ("http://u@h?q=1", "http://h/?q=1", "/?q=1"),
            ("http://u@h#f", "http://h#f", "/"),
            ("http://u@h/", "http://h/", "/"),
        ] {
            let d = parse_dest(raw, true).unwrap();
            assert_eq!((d.url.as_str(), d.target.as_str()), (url, target), "{raw}");
        }
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
}
