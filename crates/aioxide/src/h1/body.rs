//! Response bodies off the read buffer: Content-Length, chunked (strict, as
//! hyper decodes it) and close-delimited, each piece handed on as a slice of
//! the buffer (no copy), with where each HTTP chunk ends (aiohttp's
//! `readchunk()` end-of-chunk flag).

use bytes::{Bytes, BytesMut};

use super::head::Framing;

/// A piece of a body; `chunk_end` when it ends an HTTP chunk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Piece {
    pub data: Bytes,
    pub chunk_end: bool,
}

/// Why a body cannot be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodyError(pub &'static str);

/// Longest chunk extensions accepted across a body (hyper's limit).
const MAX_EXTENSIONS: usize = 16 * 1024;
/// Longest trailer section accepted.
const MAX_TRAILERS: usize = 16 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    /// Hex digits of a chunk size (`digits` so far).
    Size {
        size: u64,
        digits: u8,
    },
    /// Whitespace after the size.
    SizeLws {
        size: u64,
    },
    /// A chunk extension, up to the CR.
    Ext {
        size: u64,
    },
    /// The LF ending the size line.
    SizeLf {
        size: u64,
    },
    /// Chunk data still to come.
    Data {
        left: u64,
    },
    /// The CR, then the LF, after chunk data.
    DataCr,
    DataLf,
    /// The trailer section: `line` bytes into the current line.
    Trailer {
        line: usize,
        cr: bool,
    },
    Done,
}

/// The decoding state of one body.
#[derive(Debug)]
pub struct Decode {
    kind: Kind,
    /// The Content-Length, for what an incomplete body says.
    announced: u64,
    ext_bytes: usize,
    trailer_bytes: usize,
}

#[derive(Debug)]
enum Kind {
    Length(u64),
    Chunked(Chunk),
    Close { eof: bool },
}

impl Decode {
    pub fn new(framing: Framing) -> Self {
        let kind = match framing {
            Framing::Empty => Kind::Length(0),
            Framing::Length(n) => Kind::Length(n),
            Framing::Chunked => Kind::Chunked(Chunk::Size { size: 0, digits: 0 }),
            Framing::Close => Kind::Close { eof: false },
        };
        let announced = match framing {
            Framing::Length(n) => n,
            _ => 0,
        };
        Decode {
            kind,
            announced,
            ext_bytes: 0,
            trailer_bytes: 0,
        }
    }

    /// The whole body has been decoded.
    pub fn is_done(&self) -> bool {
        match self.kind {
            Kind::Length(n) => n == 0,
            Kind::Chunked(c) => c == Chunk::Done,
            Kind::Close { eof } => eof,
        }
    }

    /// The body is delimited by the connection's end (never reusable).
    pub fn until_close(&self) -> bool {
        matches!(self.kind, Kind::Close { .. })
    }

    /// Bytes still announced (Content-Length only).
    pub fn remaining(&self) -> Option<u64> {
        match self.kind {
            Kind::Length(n) => Some(n),
            _ => None,
        }
    }

    /// What a body that ended early says, as aiohttp's parser does: the
    /// bytes received of a Content-Length, or the missing chunks.
    pub fn incomplete(&self) -> String {
        match self.kind {
            Kind::Length(left) => format!(
                "<ContentLengthError: 400, message='Not enough data to satisfy content length \
                 header (received {} of {} bytes).'>",
                self.announced - left.min(self.announced),
                self.announced
            ),
            Kind::Chunked(_) => "<TransferEncodingError: 400, message='Not enough data to \
                                 satisfy transfer length header.'>"
                .to_owned(),
            Kind::Close { .. } => "incomplete message".to_owned(),
        }
    }

    /// `n` bytes of a Content-Length body were read past the buffer
    /// (`Reader::poll_read_into`).
    pub fn consumed(&mut self, n: u64) {
        if let Kind::Length(left) = &mut self.kind {
            debug_assert!(n <= *left, "read past the announced length");
            *left -= n.min(*left);
        }
    }

    /// The connection has no more bytes: the end of a close-delimited body,
    /// else an error.
    pub fn on_eof(&mut self) -> Result<(), BodyError> {
        let done = self.is_done();
        match &mut self.kind {
            Kind::Close { eof } => {
                *eof = true;
                Ok(())
            }
            _ if done => Ok(()),
            _ => Err(BodyError("incomplete message")),
        }
    }

    /// Decode from the front of `buf`: the next piece of data, if any is
    /// there (`None`: more bytes are needed, or the body is done).
    pub fn step(&mut self, buf: &mut BytesMut) -> Result<Option<Piece>, BodyError> {
        match &mut self.kind {
            Kind::Length(left) => Ok(take(buf, left).map(|data| Piece {
                data,
                chunk_end: false,
            })),
            Kind::Close { .. } => Ok((!buf.is_empty()).then(|| Piece {
                data: buf.split().freeze(),
                chunk_end: false,
            })),
            Kind::Chunked(_) => self.step_chunked(buf),
        }
    }

    fn step_chunked(&mut self, buf: &mut BytesMut) -> Result<Option<Piece>, BodyError> {
        loop {
            let Kind::Chunked(state) = &mut self.kind else {
                return Ok(None);
            };
            if let Chunk::Data { left } = state {
                let Some(data) = take(buf, left) else {
                    return Ok(None);
                };
                let chunk_end = *left == 0;
                if chunk_end {
                    *state = Chunk::DataCr;
                }
                return Ok(Some(Piece { data, chunk_end }));
            }
            if *state == Chunk::Done || buf.is_empty() {
                return Ok(None);
            }
            let byte = buf[0];
            let _ = bytes::Buf::get_u8(buf);
            let next = self.on_byte(byte)?;
            if let Kind::Chunked(state) = &mut self.kind {
                *state = next;
            }
        }
    }

    /// The chunked decoder's transition on one byte outside chunk data.
    fn on_byte(&mut self, b: u8) -> Result<Chunk, BodyError> {
        let Kind::Chunked(state) = self.kind else {
            return Err(BodyError("not chunked"));
        };
        Ok(match state {
            Chunk::Size { size, digits } => match b {
                b'0'..=b'9' | b'a'..=b'f' | b'A'..=b'F' => {
                    if digits >= 15 {
                        return Err(BodyError("invalid chunk size: overflow"));
                    }
                    let d = (b as char).to_digit(16).unwrap_or(0) as u64;
                    Chunk::Size {
                        size: size * 16 + d,
                        digits: digits + 1,
                    }
                }
                _ if digits == 0 => return Err(BodyError("invalid chunk size line")),
                b' ' | b'\t' => Chunk::SizeLws { size },
                b';' => Chunk::Ext { size },
                b'\r' => Chunk::SizeLf { size },
                _ => return Err(BodyError("invalid chunk size line")),
            },
            Chunk::SizeLws { size } => match b {
                b' ' | b'\t' => Chunk::SizeLws { size },
                b';' => Chunk::Ext { size },
                b'\r' => Chunk::SizeLf { size },
                _ => return Err(BodyError("invalid chunk size linear white space")),
            },
            Chunk::Ext { size } => {
                self.ext_bytes += 1;
                if self.ext_bytes > MAX_EXTENSIONS {
                    return Err(BodyError("chunk extensions over limit"));
                }
                match b {
                    b'\r' => Chunk::SizeLf { size },
                    b'\n' => return Err(BodyError("invalid chunk extension contains newline")),
                    _ => Chunk::Ext { size },
                }
            }
            Chunk::SizeLf { size } => match (b, size) {
                (b'\n', 0) => Chunk::Trailer { line: 0, cr: false },
                (b'\n', left) => Chunk::Data { left },
                _ => return Err(BodyError("invalid chunk size LF")),
            },
            Chunk::DataCr => match b {
                b'\r' => Chunk::DataLf,
                _ => return Err(BodyError("invalid chunk body CR")),
            },
            Chunk::DataLf => match b {
                b'\n' => Chunk::Size { size: 0, digits: 0 },
                _ => return Err(BodyError("invalid chunk body LF")),
            },
            Chunk::Trailer { line, cr } => self.on_trailer_byte(b, line, cr)?,
            Chunk::Data { .. } | Chunk::Done => state,
        })
    }

    /// Trailer lines up to an empty line (CRLF-terminated, bounded).
    fn on_trailer_byte(&mut self, b: u8, line: usize, cr: bool) -> Result<Chunk, BodyError> {
        self.trailer_bytes += 1;
        if self.trailer_bytes > MAX_TRAILERS {
            return Err(BodyError("chunk trailers over limit"));
        }
        Ok(match (b, cr) {
            (b'\r', false) => Chunk::Trailer { line, cr: true },
            (b'\n', true) if line == 0 => Chunk::Done,
            (b'\n', true) => Chunk::Trailer { line: 0, cr: false },
            (_, true) => return Err(BodyError("invalid trailer line ending")),
            (b'\n', false) => return Err(BodyError("invalid trailer line ending")),
            (_, false) => Chunk::Trailer {
                line: line + 1,
                cr: false,
            },
        })
    }
}

/// Up to `left` bytes off the front of `buf` (counted down).
fn take(buf: &mut BytesMut, left: &mut u64) -> Option<Bytes> {
    if *left == 0 || buf.is_empty() {
        return None;
    }
    let n = (*left).min(buf.len() as u64) as usize;
    *left -= n as u64;
    Some(buf.split_to(n).freeze())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feed `raw` in pieces of `step` bytes; the data and chunk ends seen.
    fn run(raw: &[u8], step: usize) -> Result<(Vec<u8>, Vec<usize>, bool), BodyError> {
        let mut d = Decode::new(Framing::Chunked);
        let mut buf = BytesMut::new();
        let (mut out, mut ends) = (Vec::new(), Vec::new());
        for part in raw.chunks(step.max(1)) {
            buf.extend_from_slice(part);
            while let Some(p) = d.step(&mut buf)? {
                out.extend_from_slice(&p.data);
                if p.chunk_end {
                    ends.push(out.len());
                }
            }
        }
        Ok((out, ends, d.is_done()))
    }

    #[test]
    fn chunked_in_any_split() {
        let raw = b"3\r\nabc\r\n2;ext=1\r\nde\r\n1  \r\nf\r\n0\r\nTrailer: x\r\n\r\n";
        for step in 1..raw.len() {
            let (data, ends, done) = run(raw, step).expect("valid");
            assert_eq!(data, b"abcdef");
            assert_eq!(ends, [3, 5, 6], "chunk ends at split {step}");
            assert!(done);
        }
    }

    #[test]
    fn chunked_errors() {
        for raw in [
            &b"2 erfrferf\r\naa\r\n0\r\n\r\n"[..],
            b"zz\r\n",
            b"2\r\naaX\r\n",
            b"2\naa\r\n0\r\n\r\n",
            b"2;a\nb\r\naa\r\n",
            b"ffffffffffffffffff\r\n",
            b"0\r\nbad\n\r\n",
        ] {
            assert!(run(raw, 1).is_err(), "{:?}", String::from_utf8_lossy(raw));
        }
        // An empty extension is accepted, as hyper does.
        assert_eq!(run(b"2;\r\naa\r\n0\r\n\r\n", 3).expect("ok").0, b"aa");
    }

    #[test]
    fn truncated_chunked_is_incomplete() {
        let mut d = Decode::new(Framing::Chunked);
        let mut buf = BytesMut::from(&b"5\r\nab"[..]);
        assert!(d.step(&mut buf).expect("ok").is_some());
        assert!(d.on_eof().is_err());
    }

    #[test]
    fn length_and_close() {
        let mut d = Decode::new(Framing::Length(3));
        let mut buf = BytesMut::from(&b"abcdNEXT"[..]);
        assert_eq!(
            &d.step(&mut buf).expect("ok").expect("data").data[..],
            b"abc"
        );
        assert!(d.is_done());
        assert_eq!(&buf[..], b"dNEXT", "bytes past the body stay");
        let mut d = Decode::new(Framing::Close);
        let mut buf = BytesMut::from(&b"xy"[..]);
        assert_eq!(
            &d.step(&mut buf).expect("ok").expect("data").data[..],
            b"xy"
        );
        assert!(!d.is_done());
        d.on_eof().expect("close-delimited ends at EOF");
        assert!(d.is_done());
        let mut d = Decode::new(Framing::Length(3));
        assert!(d.on_eof().is_err());
    }
}
