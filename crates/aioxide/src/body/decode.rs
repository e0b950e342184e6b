//! Streaming decoders for gzip, deflate, brotli and zstd response bodies.

use std::io::Write;

use bytes::Bytes;

use crate::error::Error;
use crate::policy::decompress::{is_zlib_header, Coding};

enum Inner {
    /// Deflate before its first two bytes arrive: zlib or raw is not known yet.
    PendingDeflate(Vec<u8>),
    Gzip(flate2::write::MultiGzDecoder<Vec<u8>>),
    Zlib(flate2::write::ZlibDecoder<Vec<u8>>),
    Raw(flate2::write::DeflateDecoder<Vec<u8>>),
    Brotli(Box<brotli::DecompressorWriter<Vec<u8>>>),
    /// The raw decoder, and whether the last frame is unfinished.
    Zstd(Box<zstd::stream::raw::Decoder<'static>>, bool),
}

/// Decodes one response body chunk by chunk.
pub struct Decoder {
    inner: Inner,
    seen_input: bool,
}

fn corrupt<E: std::error::Error + Send + Sync + 'static>(coding: &str, e: E) -> Error {
    Error::payload(format!("Can not decode content-encoding: {coding}: {e}")).with_source(e)
}

fn truncated(coding: &str) -> Error {
    Error::payload(format!(
        "Can not decode content-encoding: {coding}: truncated stream"
    ))
}

impl Decoder {
    pub fn new(coding: Coding) -> Result<Self, Error> {
        let inner = match coding {
            Coding::Gzip => Inner::Gzip(flate2::write::MultiGzDecoder::new(Vec::new())),
            Coding::Deflate => Inner::PendingDeflate(Vec::new()),
            Coding::Brotli => {
                Inner::Brotli(Box::new(brotli::DecompressorWriter::new(Vec::new(), 8192)))
            }
            Coding::Zstd => Inner::Zstd(
                Box::new(zstd::stream::raw::Decoder::new().map_err(|e| corrupt("zstd", e))?),
                false,
            ),
        };
        Ok(Decoder {
            inner,
            seen_input: false,
        })
    }

    fn name(&self) -> &'static str {
        match self.inner {
            Inner::Gzip(_) => "gzip",
            Inner::PendingDeflate(_) | Inner::Zlib(_) | Inner::Raw(_) => "deflate",
            Inner::Brotli(_) => "br",
            Inner::Zstd(..) => "zstd",
        }
    }

    /// Feed compressed bytes; returns what they decode to (maybe empty).
    pub fn feed(&mut self, data: &[u8]) -> Result<Bytes, Error> {
        if data.is_empty() {
            return Ok(Bytes::new());
        }
        self.seen_input = true;
        let name = self.name();
        if let Inner::PendingDeflate(buf) = &mut self.inner {
            buf.extend_from_slice(data);
            if buf.len() < 2 {
                return Ok(Bytes::new());
            }
            let head = std::mem::take(buf);
            self.inner = if is_zlib_header(head[0], head[1]) {
                Inner::Zlib(flate2::write::ZlibDecoder::new(Vec::new()))
            } else {
                Inner::Raw(flate2::write::DeflateDecoder::new(Vec::new()))
            };
            return self.feed(&head);
        }
        let out = match &mut self.inner {
            Inner::PendingDeflate(_) => unreachable_pending(),
            Inner::Gzip(d) => {
                d.write_all(data).map_err(|e| corrupt(name, e))?;
                std::mem::take(d.get_mut())
            }
            Inner::Zlib(d) => {
                d.write_all(data).map_err(|e| corrupt(name, e))?;
                std::mem::take(d.get_mut())
            }
            Inner::Raw(d) => {
                d.write_all(data).map_err(|e| corrupt(name, e))?;
                std::mem::take(d.get_mut())
            }
            Inner::Brotli(d) => {
                d.write_all(data).map_err(|e| corrupt(name, e))?;
                std::mem::take(d.get_mut())
            }
            Inner::Zstd(d, unfinished) => {
                zstd_run(d, data, unfinished).map_err(|e| corrupt(name, e))?
            }
        };
        Ok(Bytes::from(out))
    }

    /// The body ended: flush what is left and check the stream was complete.
    pub fn finish(&mut self) -> Result<Bytes, Error> {
        let name = self.name();
        if !self.seen_input {
            // An empty body with a Content-Encoding is an empty body.
            return Ok(Bytes::new());
        }
        let out = match &mut self.inner {
            Inner::PendingDeflate(_) => return Err(truncated(name)),
            Inner::Gzip(d) => {
                d.try_finish().map_err(|e| corrupt(name, e))?;
                std::mem::take(d.get_mut())
            }
            Inner::Zlib(d) => {
                d.try_finish().map_err(|e| corrupt(name, e))?;
                std::mem::take(d.get_mut())
            }
            Inner::Raw(d) => {
                d.try_finish().map_err(|e| corrupt(name, e))?;
                std::mem::take(d.get_mut())
            }
            Inner::Brotli(d) => {
                d.flush().map_err(|e| corrupt(name, e))?;
                let out = std::mem::take(d.get_mut());
                // close() reports a stream that stopped before its end.
                d.close().map_err(|e| corrupt(name, e))?;
                let mut out = out;
                out.extend_from_slice(&std::mem::take(d.get_mut()));
                out
            }
            Inner::Zstd(_, unfinished) => {
                if *unfinished {
                    return Err(truncated(name));
                }
                Vec::new()
            }
        };
        Ok(Bytes::from(out))
    }
}

/// Decode `data` with zstd; `unfinished` tracks whether a frame is open.
fn zstd_run(
    d: &mut zstd::stream::raw::Decoder<'static>,
    data: &[u8],
    unfinished: &mut bool,
) -> std::io::Result<Vec<u8>> {
    use zstd::stream::raw::{InBuffer, Operation, OutBuffer};
    let mut out = Vec::new();
    let mut input = InBuffer::around(data);
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let before = input.pos();
        let mut output = OutBuffer::around(&mut buf[..]);
        let hint = d.run(&mut input, &mut output)?;
        let produced = output.pos();
        out.extend_from_slice(&buf[..produced]);
        // hint == 0: a frame just ended; anything else means more to come.
        // But a call that neither read nor wrote says nothing of the frame:
        // after a frame's end (its output having filled the buffer exactly)
        // zstd answers with the next frame header's size.
        if produced > 0 || input.pos() > before {
            *unfinished = hint != 0;
        }
        if input.pos() == data.len() && produced < buf.len() {
            return Ok(out);
        }
    }
}

fn unreachable_pending() -> Vec<u8> {
    // PendingDeflate is replaced before this match; keep the engine panic-free.
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(coding: Coding, data: &[u8], split: usize) -> Result<Vec<u8>, Error> {
        let mut d = Decoder::new(coding)?;
        let mut out = Vec::new();
        for c in data.chunks(split.max(1)) {
            out.extend_from_slice(&d.feed(c)?);
        }
        out.extend_from_slice(&d.finish()?);
        Ok(out)
    }

    #[test]
    fn zstd_output_filling_the_buffer_exactly_is_not_truncation() {
        // 2 MiB of one byte: a tiny input whose output fills the 64 KiB
        // buffer exactly 32 times.
        let plain = vec![b'a'; 2 * 1024 * 1024];
        let z = zstd::stream::encode_all(&plain[..], 3).unwrap();
        for split in [1, 64, z.len()] {
            assert_eq!(run(Coding::Zstd, &z, split).unwrap(), plain);
        }
        assert!(
            run(Coding::Zstd, &z[..z.len() - 3], 64).is_err(),
            "truncated"
        );
    }

    fn text() -> Vec<u8> {
        (0..20_000u32)
            .flat_map(|i| format!("line {i}\n").into_bytes())
            .collect()
    }

    #[test]
    fn gzip_roundtrip_any_split() {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(&text()).unwrap();
        let z = e.finish().unwrap();
        for split in [1, 7, 4096, z.len()] {
            assert_eq!(run(Coding::Gzip, &z, split).unwrap(), text());
        }
        assert!(
            run(Coding::Gzip, &z[..z.len() - 10], 4096).is_err(),
            "truncated"
        );
    }

    #[test]
    fn deflate_zlib_and_raw() {
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(&text()).unwrap();
        let z = e.finish().unwrap();
        assert_eq!(run(Coding::Deflate, &z, 1).unwrap(), text());
        let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(&text()).unwrap();
        let r = e.finish().unwrap();
        assert_eq!(run(Coding::Deflate, &r, 1000).unwrap(), text());
    }

    #[test]
    fn brotli_roundtrip() {
        let mut out = Vec::new();
        {
            let mut w = brotli::CompressorWriter::new(&mut out, 4096, 5, 22);
            w.write_all(&text()).unwrap();
        }
        assert_eq!(run(Coding::Brotli, &out, 333).unwrap(), text());
        assert!(
            run(Coding::Brotli, &out[..out.len() / 2], 333).is_err(),
            "truncated"
        );
    }

    #[test]
    fn zstd_roundtrip() {
        let z = zstd::encode_all(&text()[..], 3).unwrap();
        assert_eq!(run(Coding::Zstd, &z, 500).unwrap(), text());
    }

    #[test]
    fn truncated_streams_are_errors() {
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(&text()).unwrap();
        let z = e.finish().unwrap();
        assert!(
            run(Coding::Deflate, &z[..z.len() / 2], 100).is_err(),
            "zlib"
        );
        let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(&text()).unwrap();
        let r = e.finish().unwrap();
        assert!(
            run(Coding::Deflate, &r[..r.len() / 2], 100).is_err(),
            "raw deflate"
        );
        let zs = zstd::encode_all(&text()[..], 3).unwrap();
        assert!(run(Coding::Zstd, &zs[..zs.len() / 2], 100).is_err(), "zstd");
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(run(Coding::Gzip, b"this is not gzip at all", 4).is_err());
        assert!(run(Coding::Deflate, b"\x78\x9cnot really", 4).is_err());
    }

    #[test]
    fn empty_body() {
        assert_eq!(run(Coding::Gzip, b"", 1).unwrap(), b"");
    }
}
