//! The case of header names as the wire has them.
//!
//! hyper keeps names lower-cased (its map of the received case is private)
//! and writes a request's names Title-Cased (`title_case_headers`), so the
//! engine shows names that way on both sides: `content-type` ->
//! `Content-Type`, `x-foo-bar` -> `X-Foo-Bar`.  The glue takes names from
//! here and never re-cases them itself; an HTTP/1.1 codec of the engine's own
//! will keep the peer's case instead (issue 9).

use http::HeaderMap;

/// A header name as it goes on (or came off) the wire.
pub fn wire_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut up = true;
    for c in name.chars() {
        out.push(if up { c.to_ascii_uppercase() } else { c });
        up = c == '-';
    }
    out
}

/// Name and value pairs in order, names as on the wire, values decoded
/// leniently (latin-1 bytes beyond ASCII become U+FFFD).
pub fn wire_pairs(h: &HeaderMap) -> Vec<(String, String)> {
    h.iter()
        .map(|(k, v)| {
            (
                wire_name(k.as_str()),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_title_cased() {
        assert_eq!(wire_name("content-type"), "Content-Type");
        assert_eq!(wire_name("x-foo-bar"), "X-Foo-Bar");
        assert_eq!(wire_name("etag"), "Etag");
        assert_eq!(wire_name("www-authenticate"), "Www-Authenticate");
    }

    #[test]
    fn pairs_keep_order_and_duplicates() {
        let mut h = HeaderMap::new();
        h.append("set-cookie", "a=1".parse().unwrap());
        h.append("x-a", "b".parse().unwrap());
        h.append("set-cookie", "b=2".parse().unwrap());
        let pairs = wire_pairs(&h);
        let names: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
        assert!(names.iter().all(|n| *n == "Set-Cookie" || *n == "X-A"));
        assert_eq!(pairs.len(), 3);
    }
}
