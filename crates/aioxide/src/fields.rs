//! Header fields as the wire has them: names in the case they were written
//! (by the user for a request, by the server for a response), duplicates in
//! order, values as bytes.  Lookups ignore case, as HTTP does.
//!
//! A response's fields are slices of the one buffer its head arrived in (no
//! copy per field); a request's are the caller's strings.

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue};

/// Ordered header fields, names as written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fields(Vec<(Bytes, Bytes)>);

impl Fields {
    pub fn with_capacity(n: usize) -> Self {
        Fields(Vec::with_capacity(n))
    }

    /// Add a field at the end.
    pub fn push(&mut self, name: impl Into<Bytes>, value: impl Into<Bytes>) {
        self.0.push((name.into(), value.into()));
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Every field in order, names as written.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.0.iter().map(|(k, v)| (&k[..], &v[..]))
    }

    /// Every field in order, as the shared buffers they are.
    pub fn pairs(&self) -> &[(Bytes, Bytes)] {
        &self.0
    }

    /// The first value of `name` (any case).
    pub fn get<'a>(&'a self, name: &str) -> Option<&'a [u8]> {
        self.0
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, v)| &v[..])
    }

    /// The first value of `name`, when it is valid UTF-8.
    pub fn get_str<'a>(&'a self, name: &str) -> Option<&'a str> {
        self.get(name).and_then(|v| std::str::from_utf8(v).ok())
    }

    /// Every value of `name` (any case), in order.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.0
            .iter()
            .filter(move |(k, _)| k.eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, v)| &v[..])
    }

    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Name and value pairs as text, names as written (values decoded
    /// leniently: bytes that are not UTF-8 become U+FFFD).
    pub fn text_pairs(&self) -> Vec<(String, String)> {
        self.iter()
            .map(|(k, v)| {
                (
                    String::from_utf8_lossy(k).into_owned(),
                    String::from_utf8_lossy(v).into_owned(),
                )
            })
            .collect()
    }

    /// The same fields in an `http::HeaderMap` (names lower-cased), for
    /// HTTP/2; a name or value it cannot hold is an error.
    pub fn to_header_map(&self) -> Result<HeaderMap, String> {
        let mut map = HeaderMap::with_capacity(self.len());
        for (k, v) in &self.0 {
            let name = HeaderName::from_bytes(k).map_err(|e| format!("{e}: {k:?}"))?;
            let value = HeaderValue::from_maybe_shared(v.clone()).map_err(|e| format!("{e}"))?;
            map.append(name, value);
        }
        Ok(map)
    }

    /// Fields from an `http::HeaderMap` (HTTP/2: names are lower case).
    pub fn from_header_map(map: &HeaderMap) -> Self {
        let mut f = Fields::with_capacity(map.len());
        for (k, v) in map {
            f.push(
                Bytes::copy_from_slice(k.as_str().as_bytes()),
                Bytes::copy_from_slice(v.as_bytes()),
            );
        }
        f
    }
}

impl<'a> IntoIterator for &'a Fields {
    type Item = (&'a [u8], &'a [u8]);
    type IntoIter = std::iter::Map<
        std::slice::Iter<'a, (Bytes, Bytes)>,
        fn(&'a (Bytes, Bytes)) -> (&'a [u8], &'a [u8]),
    >;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter().map(|(k, v)| (&k[..], &v[..]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups_ignore_case_and_keep_order() {
        let mut f = Fields::default();
        f.push("X-Rep", "1");
        f.push(Bytes::from_static(b"x-rep"), "2");
        f.push("Content-Type", "text/plain");
        assert_eq!(f.get("x-REP"), Some(&b"1"[..]));
        assert_eq!(f.get_all("X-REP").collect::<Vec<_>>(), [&b"1"[..], b"2"]);
        assert_eq!(f.get_str("content-type"), Some("text/plain"));
        assert!(!f.contains("missing"));
        let names: Vec<_> = f.iter().map(|(k, _)| k.to_vec()).collect();
        assert_eq!(
            names,
            [
                b"X-Rep".to_vec(),
                b"x-rep".to_vec(),
                b"Content-Type".to_vec()
            ]
        );
    }

    #[test]
    fn header_map_round_trip() {
        let mut f = Fields::default();
        f.push("X-A", "1");
        f.push("x-a", "2");
        let map = f.to_header_map().expect("valid");
        assert_eq!(map.get_all("x-a").iter().count(), 2);
        let back = Fields::from_header_map(&map);
        assert_eq!(back.get_all("X-A").collect::<Vec<_>>(), [&b"1"[..], b"2"]);
        let mut bad = Fields::default();
        bad.push("bad name", "v");
        assert!(bad.to_header_map().is_err());
    }
}
