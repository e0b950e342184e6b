//! What makes a response head unacceptable, beyond what the HTTP parser
//! itself refuses: aiohttp's limits and its refusal of ambiguous framing.

use crate::fields::Fields;

/// Size limits on a response head (aiohttp's max_line_size / max_field_size).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeadLimits {
    /// The status line, in bytes.
    pub max_line_size: usize,
    /// One header field (name and value), in bytes.
    pub max_field_size: usize,
    /// Header fields in the head.
    pub max_headers: usize,
}

impl Default for HeadLimits {
    fn default() -> Self {
        HeadLimits {
            max_line_size: 8190,
            max_field_size: 8190,
            max_headers: 128,
        }
    }
}

/// Why a head is refused (the message of aiohttp's 400 ClientResponseError).
pub fn check_head(reason_len: usize, headers: &Fields, limits: &HeadLimits) -> Result<(), String> {
    // As aiohttp's parser: the limit applies to the reason phrase.
    if reason_len > limits.max_line_size {
        return Err(format!(
            "Got more than {} bytes when reading status line",
            limits.max_line_size
        ));
    }
    if headers.len() > limits.max_headers {
        return Err("Too many headers received".into());
    }
    for (name, value) in headers {
        if name.len() + value.len() > limits.max_field_size {
            return Err(format!(
                "Got more than {} bytes when reading header {:?}",
                limits.max_field_size,
                String::from_utf8_lossy(name)
            ));
        }
    }
    let mut lengths = headers.get_all("content-length");
    if let Some(first) = lengths.next() {
        if lengths.next().is_some() || first.contains(&b',') {
            return Err("Duplicate Content-Length".into());
        }
        if headers.contains("transfer-encoding") {
            return Err("Transfer-Encoding can't be present with Content-Length".into());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&'static str, &str)]) -> Fields {
        let mut m = Fields::default();
        for (k, v) in pairs {
            m.push(*k, v.to_string());
        }
        m
    }

    #[test]
    fn plain_heads_pass() {
        let l = HeadLimits::default();
        assert!(check_head(2, &h(&[("content-length", "3")]), &l).is_ok());
        assert!(check_head(2, &h(&[("transfer-encoding", "chunked")]), &l).is_ok());
        assert!(check_head(2, &h(&[("x", &"v".repeat(8189))]), &l).is_ok());
    }

    #[test]
    fn ambiguous_framing_is_refused() {
        let l = HeadLimits::default();
        assert!(check_head(
            2,
            &h(&[("content-length", "3"), ("content-length", "3")]),
            &l
        )
        .is_err());
        assert!(check_head(
            2,
            &h(&[("content-length", "3"), ("content-length", "4")]),
            &l
        )
        .is_err());
        assert!(check_head(2, &h(&[("content-length", "3, 3")]), &l).is_err());
        assert!(check_head(
            2,
            &h(&[("content-length", "3"), ("transfer-encoding", "chunked")]),
            &l
        )
        .is_err());
    }

    #[test]
    fn limits() {
        let l = HeadLimits::default();
        assert!(check_head(2, &h(&[("x", &"v".repeat(8190))]), &l).is_err());
        assert!(check_head(8191, &Fields::default(), &l).is_err());
        assert!(check_head(8190, &Fields::default(), &l).is_ok());
        let small = HeadLimits {
            max_line_size: 100,
            max_field_size: 10,
            max_headers: 2,
        };
        assert!(check_head(2, &h(&[("abc", "12345678")]), &small).is_err());
        assert!(check_head(2, &h(&[("a", "1"), ("a", "2")]), &small).is_ok());
        assert_eq!(
            check_head(2, &h(&[("a", "1"), ("a", "2"), ("b", "3")]), &small).unwrap_err(),
            "Too many headers received"
        );
    }
}
