//! Which decoder a `Content-Encoding` calls for.

/// A content coding the engine decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    Gzip,
    /// zlib-wrapped, or raw deflate as some servers send it (detected).
    Deflate,
    Brotli,
    Zstd,
}

/// The decoder for a `Content-Encoding` value, or `None` to pass the body
/// through untouched (identity, absent, or a coding we do not know).
pub fn coding_for(content_encoding: Option<&str>) -> Option<Coding> {
    let v = content_encoding?.trim();
    if v.eq_ignore_ascii_case("gzip") || v.eq_ignore_ascii_case("x-gzip") {
        Some(Coding::Gzip)
    } else if v.eq_ignore_ascii_case("deflate") {
        Some(Coding::Deflate)
    } else if v.eq_ignore_ascii_case("br") {
        Some(Coding::Brotli)
    } else if v.eq_ignore_ascii_case("zstd") {
        Some(Coding::Zstd)
    } else {
        None
    }
}

/// The `Accept-Encoding` the client sends by default: every coding it decodes.
pub const ACCEPT_ENCODING: &str = "gzip, deflate, br, zstd";

/// Whether the first bytes of a deflate body carry a zlib header (RFC 1950).
pub fn is_zlib_header(b0: u8, b1: u8) -> bool {
    b0 & 0x0f == 8 && (b0 >> 4) <= 7 && (u16::from(b0) << 8 | u16::from(b1)) % 31 == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codings() {
        assert_eq!(coding_for(Some("gzip")), Some(Coding::Gzip));
        assert_eq!(coding_for(Some("X-GZIP")), Some(Coding::Gzip));
        assert_eq!(coding_for(Some(" deflate ")), Some(Coding::Deflate));
        assert_eq!(coding_for(Some("br")), Some(Coding::Brotli));
        assert_eq!(coding_for(Some("zstd")), Some(Coding::Zstd));
        assert_eq!(coding_for(Some("identity")), None);
        assert_eq!(coding_for(Some("compress")), None);
        assert_eq!(coding_for(None), None);
    }

    #[test]
    fn zlib_header() {
        assert!(is_zlib_header(0x78, 0x9c));
        assert!(is_zlib_header(0x78, 0x01));
        assert!(is_zlib_header(0x78, 0xda));
        assert!(!is_zlib_header(0xcb, 0x48), "raw deflate of 'hello'");
        assert!(!is_zlib_header(0x1f, 0x8b), "gzip magic");
    }
}
