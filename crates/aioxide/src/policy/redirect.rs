//! aiohttp's redirect rules: which statuses redirect, what becomes of the
//! method and body, how `Location` resolves, and when credentials are dropped.

use url::Url;

use crate::error::{Error, ErrorKind};

/// What following one redirect means: aiohttp's rules in one decision,
/// used by the engine's loop and by the glue's middleware path alike.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedirectStep {
    /// The method of the next request.
    pub method: String,
    /// Whether the request body goes with it.
    pub keep_body: bool,
    /// The next URL, absolute, requoted when asked, userinfo kept.
    pub url: String,
    /// Whether the next URL shares scheme, host and port with the current.
    pub same_origin: bool,
    /// The request headers that must not follow (lowercase names).
    pub dropped: Vec<&'static str>,
}

/// Decide one redirect: `status` answered `method` on `current`, pointing
/// at `location`; `requote` is aiohttp's `requote_redirect_url`.
pub fn step(
    status: u16,
    method: &str,
    current: &str,
    location: &str,
    requote: bool,
) -> Result<RedirectStep, Error> {
    let current = crate::dest::parse_url(current, true)?;
    if let Some(message) = refused_origin(current.scheme(), location) {
        return Err(Error::new(ErrorKind::InvalidRedirectUrl, message).with_url(location));
    }
    let next = resolve_location(&current, location)
        .map_err(|kind| Error::new(kind, NOT_A_URL).with_url(location))?;
    let (method, keep_body) = next_method(status, method);
    let same_origin = same_origin(&current, &next);
    let url = if requote {
        requote_target(next.as_str())
    } else {
        next.into()
    };
    let url = crate::dest::without_added_slash(location.trim(), url);
    Ok(RedirectStep {
        method,
        keep_body,
        url,
        same_origin,
        dropped: dropped_headers(keep_body, same_origin),
    })
}

/// aiohttp's message for a `Location` yarl cannot parse.
const NOT_A_URL: &str = "Server attempted redirecting to a location that does not look like a URL";

/// aiohttp's "Invalid redirect URL origin": an http(s) `Location` with an
/// empty host (`http:///x`, `http://`), or of the other scheme without
/// `//` (`https:/x` answered on an http URL).  `http:/x` answered on an
/// http URL is a reference to the current origin, as browsers read it.
/// An empty host with a port (`http://:80/`) is one yarl does not parse
/// at all: [`NOT_A_URL`]. The message of the refusal; None when the
/// `Location` has its origin.
fn refused_origin(current_scheme: &str, location: &str) -> Option<&'static str> {
    let loc: String = location
        .trim_matches(|c: char| c <= ' ')
        .chars()
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
        .collect();
    const ORIGIN: &str = "Invalid redirect URL origin";
    let (scheme, rest) = loc.split_once(':')?;
    let http = scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https");
    if !http {
        // Relative references, and other schemes (refused as non-http).
        return None;
    }
    let slash = |b: Option<&u8>| matches!(b, Some(b'/' | b'\\'));
    let bytes = rest.as_bytes();
    if !(slash(bytes.first()) && slash(bytes.get(1))) {
        return (!scheme.eq_ignore_ascii_case(current_scheme)).then_some(ORIGIN);
    }
    let authority = rest[2..].split(['/', '\\', '?', '#']).next().unwrap_or("");
    let host_port = authority.rsplit('@').next().unwrap_or("");
    if host_port.starts_with(':') {
        Some(NOT_A_URL)
    } else {
        host_port.is_empty().then_some(ORIGIN)
    }
}

/// aiohttp's `max_redirects` (any int) as the engine's limit: 0 is none;
/// below zero the first redirect is one too many (aiohttp compares
/// `redirects >= max_redirects`); past `u32` none in practice.
pub fn limit(max_redirects: i128) -> u32 {
    match max_redirects {
        n if n < 0 => 1,
        n => u32::try_from(n).unwrap_or(u32::MAX),
    }
}

/// Whether the redirect just met (`followed` of them so far, this one
/// counted) is one too many for a [`limit`]: aiohttp's
/// `redirects >= max_redirects`, where 0 is no limit.
pub fn too_many(followed: usize, limit: u32) -> bool {
    limit > 0 && followed >= limit as usize
}

/// The statuses aiohttp follows.
pub fn is_redirect(status: u16) -> bool {
    matches!(status, 301 | 302 | 303 | 307 | 308)
}

/// The method of the next request and whether the body goes with it.
///
/// As aiohttp (mimicking browsers): 303 turns anything but HEAD into GET; 301
/// and 302 turn POST into GET; otherwise the method and body are kept.
pub fn next_method(status: u16, method: &str) -> (String, bool) {
    if (status == 303 && method != "HEAD") || (matches!(status, 301 | 302) && method == "POST") {
        ("GET".to_owned(), false)
    } else {
        (method.to_owned(), true)
    }
}

/// Resolve a `Location` against the URL that answered it.
pub fn resolve_location(current: &Url, location: &str) -> Result<Url, ErrorKind> {
    let next = current
        .join(location.trim())
        .map_err(|_| ErrorKind::InvalidRedirectUrl)?;
    match next.scheme() {
        "http" | "https" => {}
        _ => return Err(ErrorKind::NonHttpRedirectUrl),
    }
    match next.host_str() {
        Some(h) if !h.is_empty() => Ok(next),
        _ => Err(ErrorKind::InvalidRedirectUrl),
    }
}

/// aiohttp's `requote_redirect_url=True` (yarl's requoting) on a request
/// target: percent-escapes of characters that need none are decoded
/// (unreserved ones; in the query also `/ : @ ?`), the others upper-cased,
/// and a `%` that starts no escape becomes `%25`. Idempotent: without that
/// last rule, `%%34` would decode to `%4` and make an escape that was not
/// there (a first requote changing `/%%3441` into `/%441`, a second into
/// `/D1`).
pub fn requote_target(target: &str) -> String {
    fn hex(b: Option<&u8>) -> Option<u8> {
        b.and_then(|&b| (b as char).to_digit(16)).map(|d| d as u8)
    }
    let mut out = String::with_capacity(target.len());
    let mut in_query = false;
    let mut rest = target;
    while let Some(at) = rest.find(['%', '?']) {
        out.push_str(&rest[..at]);
        let tail = &rest.as_bytes()[at..];
        if tail[0] == b'?' {
            in_query = true;
            out.push('?');
            rest = &rest[at + 1..];
            continue;
        }
        let (Some(h), Some(l)) = (hex(tail.get(1)), hex(tail.get(2))) else {
            out.push_str("%25");
            rest = &rest[at + 1..];
            continue;
        };
        let c = h * 16 + l;
        let plain = c.is_ascii_alphanumeric()
            || matches!(c, b'-' | b'.' | b'_' | b'~')
            || (in_query && matches!(c, b'/' | b':' | b'@' | b'?'));
        if plain {
            out.push(c as char);
        } else {
            out.push('%');
            out.push(tail[1].to_ascii_uppercase() as char);
            out.push(tail[2].to_ascii_uppercase() as char);
        }
        // Two hex digits: ASCII, so a character boundary follows them.
        rest = &rest[at + 3..];
    }
    out.push_str(rest);
    out
}

/// Whether two URLs share scheme, host and port (credentials are dropped when
/// a redirect leaves the origin).
pub fn same_origin(a: &Url, b: &Url) -> bool {
    a.origin() == b.origin()
}

/// Headers that must not follow a redirect to another origin.
pub fn is_origin_bound_header(name: &str) -> bool {
    ORIGIN_BOUND_HEADERS
        .iter()
        .any(|h| name.eq_ignore_ascii_case(h))
}

const ORIGIN_BOUND_HEADERS: [&str; 3] = ["authorization", "cookie", "proxy-authorization"];

/// The request headers a redirect removes: Content-Length when the body is
/// dropped, and the origin-bound ones when the redirect leaves the origin.
pub fn dropped_headers(keep_body: bool, same_origin: bool) -> Vec<&'static str> {
    let mut out = Vec::new();
    if !keep_body {
        out.push("content-length");
    }
    if !same_origin {
        out.extend(ORIGIN_BOUND_HEADERS);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_max_redirects_is_a_limit() {
        assert_eq!(limit(0), 0);
        assert_eq!(limit(10), 10);
        assert_eq!(limit(-1), 1);
        assert_eq!(limit(i128::MIN), 1);
        assert_eq!(limit(1 << 40), u32::MAX);
        assert!(!too_many(1, limit(0)) && !too_many(usize::MAX, limit(0)));
        assert!(!too_many(1, limit(2)) && too_many(2, limit(2)));
        assert!(too_many(1, limit(-5)));
    }

    #[test]
    fn an_absolute_location_without_a_path_keeps_none() {
        let cur = "http://a.test/x";
        for (loc, want) in [
            ("http://b.test:8080", "http://b.test:8080"),
            ("http://b.test?q=1", "http://b.test/?q=1"),
            ("http://b.test#f", "http://b.test#f"),
            ("http://b.test/", "http://b.test/"),
            ("http://b.test/p", "http://b.test/p"),
            ("/p", "http://a.test/p"),
            ("//b.test", "http://b.test/"),
        ] {
            let step = step(302, "GET", cur, loc, false).unwrap();
            assert_eq!(step.url, want, "{loc}");
            let dest = crate::dest::parse_dest(&step.url, true).unwrap();
            assert_eq!(
                dest.target.split('?').next(),
                Some(if loc.ends_with("/p") { "/p" } else { "/" })
            );
        }
    }

    fn u(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn statuses() {
        for s in [301, 302, 303, 307, 308] {
            assert!(is_redirect(s));
        }
        for s in [200, 300, 304, 305, 306, 309, 404] {
            assert!(!is_redirect(s));
        }
    }

    #[test]
    fn methods() {
        assert_eq!(next_method(303, "POST"), ("GET".into(), false));
        assert_eq!(next_method(303, "PUT"), ("GET".into(), false));
        assert_eq!(next_method(303, "HEAD"), ("HEAD".into(), true));
        assert_eq!(next_method(301, "POST"), ("GET".into(), false));
        assert_eq!(next_method(302, "POST"), ("GET".into(), false));
        assert_eq!(next_method(302, "PUT"), ("PUT".into(), true));
        assert_eq!(next_method(307, "POST"), ("POST".into(), true));
        assert_eq!(next_method(308, "PATCH"), ("PATCH".into(), true));
        assert_eq!(next_method(301, "GET"), ("GET".into(), true));
    }

    #[test]
    fn locations() {
        let base = u("http://a.example/x/y?q=1");
        assert_eq!(
            resolve_location(&base, "/z").unwrap().as_str(),
            "http://a.example/z"
        );
        assert_eq!(
            resolve_location(&base, "z").unwrap().as_str(),
            "http://a.example/x/z"
        );
        assert_eq!(
            resolve_location(&base, "https://b.example:8443/")
                .unwrap()
                .as_str(),
            "https://b.example:8443/"
        );
        assert_eq!(
            resolve_location(&base, "//c.example/p").unwrap().as_str(),
            "http://c.example/p"
        );
        assert_eq!(
            resolve_location(&base, "http:/p").unwrap().as_str(),
            "http://a.example/p"
        );
        assert_eq!(
            resolve_location(&base, "ftp://x/"),
            Err(ErrorKind::NonHttpRedirectUrl)
        );
        assert_eq!(
            resolve_location(&base, "mailto:a@b"),
            Err(ErrorKind::NonHttpRedirectUrl)
        );
        assert_eq!(
            resolve_location(&base, "http://"),
            Err(ErrorKind::InvalidRedirectUrl)
        );
        assert_eq!(
            resolve_location(&base, "http://[::1"),
            Err(ErrorKind::InvalidRedirectUrl)
        );
    }

    #[test]
    fn origins() {
        assert!(same_origin(&u("http://a/x"), &u("http://a:80/y")));
        assert!(!same_origin(&u("http://a/x"), &u("https://a/x")));
        assert!(!same_origin(&u("http://a/x"), &u("http://b/x")));
        assert!(!same_origin(&u("http://a:81/x"), &u("http://a/x")));
        assert!(is_origin_bound_header("Authorization"));
        assert!(is_origin_bound_header("COOKIE"));
        assert!(!is_origin_bound_header("Accept"));
    }

    #[test]
    fn requoting_as_yarl() {
        assert_eq!(requote_target("/a%7Eb?x=%7e&y=%2F"), "/a~b?x=~&y=/");
        assert_eq!(
            requote_target("/p%2fq/%41%5a%e2%82%ac"),
            "/p%2Fq/AZ%E2%82%AC"
        );
        assert_eq!(requote_target("/plain?q=1"), "/plain?q=1");
        // A `%` that starts no escape is quoted, as yarl does.
        assert_eq!(requote_target("/bad%zz%4"), "/bad%25zz%254");
        assert_eq!(requote_target("/%"), "/%25");
    }

    /// Found by the `redirect` fuzz target: decoding `%34` after a stray
    /// `%` made a new escape (`/%%3441` became `/%441`, then `/D1`).
    #[test]
    fn requoting_is_idempotent_after_a_stray_percent() {
        assert_eq!(requote_target("/%%3441"), "/%25441");
        assert_eq!(requote_target("/%25441"), "/%25441");
        for t in ["/%%3441", "/a%%41?%%3f", "/%%%", "/é%", "/x?%2%41"] {
            let once = requote_target(t);
            assert_eq!(requote_target(&once), once, "{t:?}");
        }
        let s = step(302, "GET", "http://h.example/", "/%%3441", true).unwrap();
        assert_eq!(s.url, "http://h.example/%25441");
    }

    fn step_err(current: &str, location: &str) -> (ErrorKind, String) {
        let e = step(302, "GET", current, location, false).unwrap_err();
        (e.kind, e.message)
    }

    #[test]
    fn origin_less_locations_are_refused() {
        let origin = (
            ErrorKind::InvalidRedirectUrl,
            "Invalid redirect URL origin".to_owned(),
        );
        for loc in [
            "http:///host/x",
            "http://",
            "https:/",
            "https:/x",
            " http:///x",
        ] {
            assert_eq!(step_err("http://a.example/p", loc), origin, "{loc}");
        }
        // What yarl does not parse at all: aiohttp's other message.
        let not_a_url = (ErrorKind::InvalidRedirectUrl, NOT_A_URL.to_owned());
        for loc in [
            "http://:80/x",
            "http://:/",
            "http://u@:80/",
            "http://example.com:999999/path",
            "http://example.com:non_int_port/",
        ] {
            assert_eq!(step_err("http://a.example/p", loc), not_a_url, "{loc}");
        }
        // Also after a first hop that went elsewhere.
        assert_eq!(step_err("http://b.example:81/q", "http://"), origin);
        assert_eq!(step_err("https://b.example/q", "http:/x"), origin);
        assert_eq!(
            step_err("http://a.example/", "ftp://x/").0,
            ErrorKind::NonHttpRedirectUrl
        );
    }

    #[test]
    fn scheme_relative_references_are_followed() {
        let s = step(302, "GET", "http://a.example/d/p", "http:/x", false).unwrap();
        assert_eq!(s.url, "http://a.example/x");
        assert!(s.same_origin);
        let s = step(
            302,
            "GET",
            "http://a.example/d/p",
            "http:/example.com",
            false,
        )
        .unwrap();
        assert_eq!(s.url, "http://a.example/example.com");
        let s = step(302, "GET", "https://a.example/d/p", "HTTPS:/y", false).unwrap();
        assert_eq!(s.url, "https://a.example/y");
    }

    #[test]
    fn one_step_decides_everything() {
        let s = step(
            303,
            "POST",
            "http://a.example/x",
            "https://b.example/%7e?q=%2f",
            true,
        )
        .unwrap();
        assert_eq!(
            s,
            RedirectStep {
                method: "GET".into(),
                keep_body: false,
                url: "https://b.example/~?q=/".into(),
                same_origin: false,
                dropped: dropped_headers(false, false),
            }
        );
        let s = step(307, "PUT", "http://a.example/x", "/%7e", false).unwrap();
        assert_eq!((s.method.as_str(), s.keep_body), ("PUT", true));
        assert_eq!(s.url, "http://a.example/%7e");
        assert!(s.same_origin && s.dropped.is_empty());
    }

    #[test]
    fn dropped_on_redirect() {
        assert!(dropped_headers(true, true).is_empty());
        assert_eq!(dropped_headers(false, true), vec!["content-length"]);
        let d = dropped_headers(true, false);
        assert!(d.contains(&"cookie") && d.contains(&"authorization") && d.len() == 3);
        assert!(is_origin_bound_header("Proxy-Authorization") && !is_origin_bound_header("x"));
    }
}
