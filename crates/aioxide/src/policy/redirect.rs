//! aiohttp's redirect rules: which statuses redirect, what becomes of the
//! method and body, how `Location` resolves, and when credentials are dropped.

use url::Url;

use crate::error::ErrorKind;

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
/// (unreserved ones; in the query also `/ : @ ?`), the others upper-cased.
pub fn requote_target(target: &str) -> String {
    fn hex(b: u8) -> Option<u8> {
        (b as char).to_digit(16).map(|d| d as u8)
    }
    let bytes = target.as_bytes();
    let mut out = String::with_capacity(target.len());
    let mut in_query = false;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'?' {
            in_query = true;
        }
        if b == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                let c = h * 16 + l;
                let plain = c.is_ascii_alphanumeric()
                    || matches!(c, b'-' | b'.' | b'_' | b'~')
                    || (in_query && matches!(c, b'/' | b':' | b'@' | b'?'));
                if plain {
                    out.push(c as char);
                } else {
                    out.push('%');
                    out.push(bytes[i + 1].to_ascii_uppercase() as char);
                    out.push(bytes[i + 2].to_ascii_uppercase() as char);
                }
                i += 3;
                continue;
            }
        }
        out.push(b as char);
        i += 1;
    }
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
        assert_eq!(requote_target("/bad%zz%4"), "/bad%zz%4");
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
