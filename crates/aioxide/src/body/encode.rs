//! Request body compression (aiohttp's `compress=`): "deflate" is the zlib
//! format, as aiohttp's ZLibCompressor sends it; "gzip" the gzip format.

use std::io::Write;

use bytes::Bytes;
use flate2::write::{GzEncoder, ZlibEncoder};
use flate2::Compression;

/// The content codings a request body can be compressed with.
pub fn is_supported(coding: &str) -> bool {
    coding.eq_ignore_ascii_case("deflate") || coding.eq_ignore_ascii_case("gzip")
}

/// A streaming compressor: chunks in, compressed chunks out.
pub enum Encoder {
    Zlib(ZlibEncoder<Vec<u8>>),
    Gzip(GzEncoder<Vec<u8>>),
}

impl std::fmt::Debug for Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Encoder::Zlib(_) => "Encoder::Zlib",
            Encoder::Gzip(_) => "Encoder::Gzip",
        })
    }
}

impl Encoder {
    /// `None` for a coding other than deflate or gzip.
    pub fn new(coding: &str) -> Option<Self> {
        if coding.eq_ignore_ascii_case("gzip") {
            Some(Encoder::Gzip(GzEncoder::new(
                Vec::new(),
                Compression::default(),
            )))
        } else if coding.eq_ignore_ascii_case("deflate") {
            Some(Encoder::Zlib(ZlibEncoder::new(
                Vec::new(),
                Compression::default(),
            )))
        } else {
            None
        }
    }

    fn out(&mut self) -> &mut Vec<u8> {
        match self {
            Encoder::Zlib(e) => e.get_mut(),
            Encoder::Gzip(e) => e.get_mut(),
        }
    }

    /// Compress `data`; returns what is ready to send (possibly empty).
    pub fn feed(&mut self, data: &[u8]) -> Bytes {
        // Writing into a Vec cannot fail.
        let _ = match self {
            Encoder::Zlib(e) => e.write_all(data),
            Encoder::Gzip(e) => e.write_all(data),
        };
        Bytes::from(std::mem::take(self.out()))
    }

    /// The end of the stream: the rest of the compressed data.
    pub fn finish(&mut self) -> Bytes {
        let _ = match self {
            Encoder::Zlib(e) => e.try_finish(),
            Encoder::Gzip(e) => e.try_finish(),
        };
        Bytes::from(std::mem::take(self.out()))
    }
}

/// Compress a whole body at once.
pub fn compress(coding: &str, data: &[u8]) -> Option<Bytes> {
    let mut e = Encoder::new(coding)?;
    let mut out = e.feed(data).to_vec();
    out.extend_from_slice(&e.finish());
    Some(Bytes::from(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn round_trips() {
        let data = b"hello hello hello hello".repeat(100);
        let z = compress("deflate", &data).unwrap();
        let mut back = Vec::new();
        flate2::read::ZlibDecoder::new(&z[..])
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back, data);
        let g = compress("GZIP", &data).unwrap();
        assert_eq!(&g[..2], b"\x1f\x8b");
        let mut back = Vec::new();
        flate2::read::GzDecoder::new(&g[..])
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back, data);
        assert!(compress("br", &data).is_none());
        assert!(is_supported("Deflate") && !is_supported("zstd"));
    }

    #[test]
    fn streaming_equals_whole() {
        let mut e = Encoder::new("gzip").unwrap();
        let mut out = Vec::new();
        for part in [&b"abc"[..], b"", b"defdefdef", b"g"] {
            out.extend_from_slice(&e.feed(part));
        }
        out.extend_from_slice(&e.finish());
        let mut back = Vec::new();
        flate2::read::GzDecoder::new(&out[..])
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back, b"abcdefdefdefg");
    }
}
