//! Streaming decoders for gzip, deflate, brotli and zstd response bodies.
//!
//! Compressed bytes are pushed as they arrive and decoded on demand, a
//! bounded step at a time: whatever the compression ratio, one step makes
//! no more output than asked for (the zstd and brotli decoders one buffer
//! more at most), so a body read piece by piece stays bounded in memory.

use std::io::Write;

use bytes::{Buf, Bytes};

use crate::error::Error;
use crate::policy::decompress::{is_zlib_header, Coding};

/// The output buffer of the brotli and zstd decoders (flate2 has its own, 32 KiB).
const OUT_BUF: usize = 32 * 1024;

type BrotliState = brotli::BrotliState<
    brotli::enc::StandardAlloc,
    brotli::enc::StandardAlloc,
    brotli::enc::StandardAlloc,
>;

enum Inner {
    /// Deflate before its first two bytes arrive: zlib or raw is not known yet.
    PendingDeflate,
    Gzip(flate2::write::MultiGzDecoder<Bounded>),
    Zlib(flate2::write::ZlibDecoder<Bounded>),
    Raw(flate2::write::DeflateDecoder<Bounded>),
    /// The state, and whether the stream has ended.
    Brotli(Box<BrotliState>, bool),
    Zstd(Box<Zstd>),
}

/// Decodes one response body chunk by chunk.
pub struct Decoder {
    inner: Inner,
    seen_input: bool,
    /// Compressed bytes pushed and not yet decoded.
    input: Bytes,
    /// The decoder holds output it could not hand out yet (its buffer was full).
    more_out: bool,
}

fn corrupt<E: std::error::Error + Send + Sync + 'static>(coding: &str, e: E) -> Error {
    Error::payload(format!("Can not decode content-encoding: {coding}: {e}")).with_source(e)
}

fn truncated(coding: &str) -> Error {
    Error::payload(format!(
        "Can not decode content-encoding: {coding}: truncated stream"
    ))
}

fn invalid(coding: &str, what: &str) -> Error {
    Error::payload(format!("Can not decode content-encoding: {coding}: {what}"))
}

/// Where a flate2 decoder writes: it takes `room` more bytes, then says
/// `WouldBlock`, and flate2 keeps the rest in its own buffer until the
/// next step.  So a step makes at most what was asked for, whatever the
/// input: `flush` alone drains everything the input taken so far can make
/// (a fuzzed zlib body gave 66 KB for a pull of 512 when the output went
/// to a plain `Vec`).
#[derive(Default)]
struct Bounded {
    out: Vec<u8>,
    room: usize,
}

impl Write for Bounded {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.room == 0 {
            return Err(std::io::ErrorKind::WouldBlock.into());
        }
        let n = buf.len().min(self.room);
        self.out.extend_from_slice(&buf[..n]);
        self.room -= n;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Access to a flate2 writer's [`Bounded`] output.
trait FlateWriter: Write {
    fn sink(&mut self) -> &mut Bounded;
    fn try_finish(&mut self) -> std::io::Result<()>;
}

macro_rules! flate_writer {
    ($($t:ty),*) => {$(
        impl FlateWriter for $t {
            fn sink(&mut self) -> &mut Bounded {
                self.get_mut()
            }

            fn try_finish(&mut self) -> std::io::Result<()> {
                <$t>::try_finish(self)
            }
        }
    )*};
}
flate_writer!(
    flate2::write::MultiGzDecoder<Bounded>,
    flate2::write::ZlibDecoder<Bounded>,
    flate2::write::DeflateDecoder<Bounded>
);

/// One step of a flate2 decoder, at most `room` bytes into `out`: the
/// input it took, and whether it holds output it could not hand out yet.
///
/// A flate2 writer keeps what one `write` decoded in its own buffer until
/// the next call; once the input is used up, a flush hands it over, or a
/// streamed body (each part flushed by the server) would be held back until
/// more bytes, or the end, came.
fn flate_step<W: FlateWriter>(
    d: &mut W,
    input: &[u8],
    room: usize,
    out: &mut Vec<u8>,
    name: &str,
) -> Result<(usize, bool), Error> {
    let blocked = |e: &std::io::Error| e.kind() == std::io::ErrorKind::WouldBlock;
    d.sink().room = room;
    let step = match d.write(input) {
        Ok(0) if !input.is_empty() => Err(corrupt(
            name,
            std::io::Error::from(std::io::ErrorKind::WriteZero),
        )),
        Ok(n) if n == input.len() => match d.flush() {
            Ok(()) => Ok((n, false)),
            Err(e) if blocked(&e) => Ok((n, true)),
            Err(e) => Err(corrupt(name, e)),
        },
        Ok(n) => Ok((n, true)),
        Err(e) if blocked(&e) => Ok((0, true)),
        Err(e) => Err(corrupt(name, e)),
    };
    out.append(&mut d.sink().out);
    step
}

impl Decoder {
    pub fn new(coding: Coding) -> Result<Self, Error> {
        let inner = match coding {
            Coding::Gzip => Inner::Gzip(flate2::write::MultiGzDecoder::new(Bounded::default())),
            Coding::Deflate => Inner::PendingDeflate,
            Coding::Brotli => {
                let a = brotli::enc::StandardAlloc::default;
                Inner::Brotli(Box::new(BrotliState::new(a(), a(), a())), false)
            }
            Coding::Zstd => Inner::Zstd(Box::new(Zstd {
                d: zstd::stream::raw::Decoder::new().map_err(|e| corrupt("zstd", e))?,
                unfinished: false,
                head: Vec::new(),
                made: 0,
                walk: ZstdWalk::default(),
            })),
        };
        Ok(Decoder {
            inner,
            seen_input: false,
            input: Bytes::new(),
            more_out: false,
        })
    }

    fn name(&self) -> &'static str {
        match self.inner {
            Inner::Gzip(_) => "gzip",
            Inner::PendingDeflate | Inner::Zlib(_) | Inner::Raw(_) => "deflate",
            Inner::Brotli(..) => "br",
            Inner::Zstd(..) => "zstd",
        }
    }

    /// Take compressed bytes (decoded by the next [`Decoder::pull`]s).
    pub fn push(&mut self, data: Bytes) {
        if data.is_empty() {
            return;
        }
        self.seen_input = true;
        if self.input.is_empty() {
            self.input = data;
        } else {
            let mut joined = Vec::with_capacity(self.input.len() + data.len());
            joined.extend_from_slice(&self.input);
            joined.extend_from_slice(&data);
            self.input = Bytes::from(joined);
        }
    }

    /// Whether [`Decoder::pull`] has something to work on.
    pub fn has_pending(&self) -> bool {
        match self.inner {
            // Two bytes tell zlib from raw deflate.
            Inner::PendingDeflate => self.input.len() >= 2,
            _ => !self.input.is_empty() || self.more_out,
        }
    }

    /// Decode what was pushed until about `max` bytes came out or the input
    /// is used up (maybe nothing: the decoder may need more input).
    pub fn pull(&mut self, max: usize) -> Result<Bytes, Error> {
        let name = self.name();
        if let Inner::PendingDeflate = self.inner {
            if self.input.len() < 2 {
                return Ok(Bytes::new());
            }
            self.inner = if is_zlib_header(self.input[0], self.input[1]) {
                Inner::Zlib(flate2::write::ZlibDecoder::new(Bounded::default()))
            } else {
                Inner::Raw(flate2::write::DeflateDecoder::new(Bounded::default()))
            };
        }
        let mut out = Vec::new();
        while out.len() < max && (!self.input.is_empty() || self.more_out) {
            let taken = match &mut self.inner {
                Inner::PendingDeflate => 0,
                Inner::Gzip(d) => {
                    let room = max - out.len();
                    let (n, more) = flate_step(d, &self.input, room, &mut out, name)?;
                    self.more_out = more;
                    n
                }
                Inner::Zlib(d) => {
                    let room = max - out.len();
                    let (n, more) = flate_step(d, &self.input, room, &mut out, name)?;
                    self.more_out = more;
                    n
                }
                Inner::Raw(d) => {
                    let room = max - out.len();
                    let (n, more) = flate_step(d, &self.input, room, &mut out, name)?;
                    self.more_out = more;
                    n
                }
                Inner::Brotli(state, ended) => {
                    if *ended {
                        return Err(invalid(name, "data after the end of the stream"));
                    }
                    let (n, more) = brotli_step(state, &self.input, &mut out, ended)?;
                    self.more_out = more;
                    n
                }
                Inner::Zstd(z) => {
                    let (n, more) =
                        zstd_step(z, &self.input, &mut out).map_err(|e| corrupt(name, e))?;
                    self.more_out = more;
                    n
                }
            };
            self.input.advance(taken);
        }
        Ok(Bytes::from(out))
    }

    /// The body ended (everything pushed was pulled): flush what is left
    /// and check the stream was complete.
    pub fn finish(&mut self) -> Result<Bytes, Error> {
        let name = self.name();
        if !self.seen_input {
            // An empty body with a Content-Encoding is an empty body.
            return Ok(Bytes::new());
        }
        let out = match &mut self.inner {
            Inner::PendingDeflate => return Err(truncated(name)),
            Inner::Gzip(d) => flate_finish(d, name)?,
            Inner::Zlib(d) => flate_finish(d, name)?,
            Inner::Raw(d) => flate_finish(d, name)?,
            Inner::Brotli(_, ended) => {
                if !*ended {
                    return Err(truncated(name));
                }
                Vec::new()
            }
            Inner::Zstd(z) => {
                if z.unfinished {
                    return Err(truncated(name));
                }
                Vec::new()
            }
        };
        Ok(Bytes::from(out))
    }
}

/// The end of a flate2 stream: what it still held (everything was pulled,
/// so little), and the check that the stream was complete.
fn flate_finish<W: FlateWriter>(d: &mut W, name: &str) -> Result<Vec<u8>, Error> {
    d.sink().room = usize::MAX;
    FlateWriter::try_finish(d).map_err(|e| corrupt(name, e))?;
    Ok(std::mem::take(&mut d.sink().out))
}

/// One brotli step into `out` (one output buffer at most): the input taken,
/// and whether the decoder holds more output.
fn brotli_step(
    state: &mut BrotliState,
    input: &[u8],
    out: &mut Vec<u8>,
    ended: &mut bool,
) -> Result<(usize, bool), Error> {
    let mut buf = [0u8; OUT_BUF];
    let (mut avail_in, mut in_off) = (input.len(), 0);
    let (mut avail_out, mut out_off, mut total) = (buf.len(), 0, 0);
    let r = brotli::BrotliDecompressStream(
        &mut avail_in,
        &mut in_off,
        input,
        &mut avail_out,
        &mut out_off,
        &mut buf,
        &mut total,
        state,
    );
    out.extend_from_slice(&buf[..out_off]);
    match r {
        brotli::BrotliResult::ResultFailure => Err(invalid("br", "Invalid Data")),
        brotli::BrotliResult::ResultSuccess => {
            *ended = true;
            if in_off < input.len() {
                return Err(invalid("br", "data after the end of the stream"));
            }
            Ok((in_off, false))
        }
        brotli::BrotliResult::NeedsMoreOutput => Ok((in_off, true)),
        brotli::BrotliResult::NeedsMoreInput => Ok((in_off, false)),
    }
}

/// A zstd frame header is at most this long (`ZSTD_FRAMEHEADERSIZE_MAX`).
const ZSTD_HEAD_MAX: usize = 18;

/// The zstd decoder and the frame it is in.
struct Zstd {
    d: zstd::stream::raw::Decoder<'static>,
    /// A frame is open (begun, not ended).
    unfinished: bool,
    /// The open frame's first bytes, as many as a header can take: what
    /// content size it declares.
    head: Vec<u8>,
    /// The open frame's output so far.
    made: u64,
    /// Where the bytes taken so far leave off in the stream's layout.
    walk: ZstdWalk,
}

/// One zstd step into `out` (one output buffer at most): the input taken,
/// and whether the decoder may hold more output.  Tracks whether a frame is
/// open, and checks each frame's output against the content size its header
/// declares: libzstd's streaming decoder does not when the frame's last
/// block is empty (`ZSTD_decompressContinue` skips its check for an empty
/// last block; the one-shot path, taken when the whole frame is in one
/// input, checks), so such a frame made less (or more) than it declared
/// and still ended in success.
fn zstd_step(z: &mut Zstd, data: &[u8], out: &mut Vec<u8>) -> std::io::Result<(usize, bool)> {
    use zstd::stream::raw::{InBuffer, Operation, OutBuffer};
    let mut input = InBuffer::around(data);
    let mut buf = [0u8; OUT_BUF];
    let mut output = OutBuffer::around(&mut buf[..]);
    let hint = z.d.run(&mut input, &mut output)?;
    let (taken, produced) = (input.pos(), output.pos());
    z.walk.feed(&data[..taken])?;
    out.extend_from_slice(&buf[..produced]);
    // hint == 0: a frame just ended; anything else means more to come.
    // But a call that neither read nor wrote says nothing of the frame:
    // after a frame's end (its output having filled the buffer exactly)
    // zstd answers with the next frame header's size.
    if produced > 0 || taken > 0 {
        // One call never reads past the end of the frame it is in, so what
        // it took belongs to the open frame (or starts the next one).
        let keep = taken.min(ZSTD_HEAD_MAX - z.head.len());
        z.head.extend_from_slice(&data[..keep]);
        z.made += produced as u64;
        z.unfinished = hint != 0;
        if hint == 0 {
            let head = std::mem::take(&mut z.head);
            let made = std::mem::replace(&mut z.made, 0);
            check_zstd_frame_size(&head, made)?;
        }
    }
    // A full buffer: there may be more output without more input.
    Ok((taken, produced == buf.len()))
}

/// A part of a zstd stream's layout (RFC 8878), read whole before it is
/// understood.
#[derive(Clone, Copy, Default)]
enum ZstdPart {
    #[default]
    Magic,
    /// A frame's header descriptor (its first byte after the magic).
    Descriptor,
    /// A skippable frame's size.
    SkippableSize,
    BlockHeader,
}

impl ZstdPart {
    fn len(self) -> usize {
        match self {
            ZstdPart::Magic | ZstdPart::SkippableSize => 4,
            ZstdPart::Descriptor => 1,
            ZstdPart::BlockHeader => 3,
        }
    }
}

/// Follows the frames and blocks of a zstd stream in the bytes the decoder
/// takes, to reject what libzstd's streaming decoder lets through: a
/// compressed block of size 0 (it skips every empty block; its one-shot
/// path, taken when the whole frame is in one input, says "Data corruption
/// detected").  Everything else it leaves to libzstd.
#[derive(Default)]
struct ZstdWalk {
    part: ZstdPart,
    bytes: [u8; 4],
    have: usize,
    /// Bytes to pass over before `part`: the rest of a frame header, a
    /// block's content, a checksum, a skippable frame.
    skip: u64,
    /// The current frame ends with a checksum.
    checksum: bool,
    /// Not a zstd frame (libzstd reports it): nothing more is followed.
    lost: bool,
}

impl ZstdWalk {
    fn feed(&mut self, mut data: &[u8]) -> std::io::Result<()> {
        while !data.is_empty() && !self.lost {
            if self.skip > 0 {
                let n = data
                    .len()
                    .min(usize::try_from(self.skip).unwrap_or(usize::MAX));
                self.skip -= n as u64;
                data = &data[n..];
                continue;
            }
            let need = self.part.len();
            let n = (need - self.have).min(data.len());
            self.bytes[self.have..self.have + n].copy_from_slice(&data[..n]);
            self.have += n;
            data = &data[n..];
            if self.have == need {
                self.have = 0;
                self.part_read()?;
            }
        }
        Ok(())
    }

    fn part_read(&mut self) -> std::io::Result<()> {
        let b = self.bytes;
        match self.part {
            ZstdPart::Magic => match u32::from_le_bytes(b) {
                0xFD2F_B528 => self.part = ZstdPart::Descriptor,
                m if m & 0xFFFF_FFF0 == 0x184D_2A50 => self.part = ZstdPart::SkippableSize,
                _ => self.lost = true,
            },
            ZstdPart::SkippableSize => {
                self.skip = u64::from(u32::from_le_bytes(b));
                self.part = ZstdPart::Magic;
            }
            ZstdPart::Descriptor => {
                let d = b[0];
                let single = d & 0x20 != 0;
                let window = u64::from(!single);
                let dict = [0, 1, 2, 4][usize::from(d & 3)];
                let size = match d >> 6 {
                    0 => u64::from(single),
                    1 => 2,
                    2 => 4,
                    _ => 8,
                };
                self.skip = window + dict + size;
                self.checksum = d & 4 != 0;
                self.part = ZstdPart::BlockHeader;
            }
            ZstdPart::BlockHeader => {
                let h = u32::from_le_bytes([b[0], b[1], b[2], 0]);
                let (last, kind, size) = (h & 1 != 0, h >> 1 & 3, u64::from(h >> 3));
                if kind == 2 && size == 0 {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        "Data corruption detected: a compressed block of size 0",
                    ));
                }
                // An RLE block's content is its one byte.
                self.skip = if kind == 1 { 1 } else { size };
                if last {
                    self.skip += if self.checksum { 4 } else { 0 };
                    self.part = ZstdPart::Magic;
                }
            }
        }
        Ok(())
    }
}

/// A zstd frame that ended (`head`: its first bytes) made `made` bytes:
/// an error unless that is the content size its header declares (if any).
fn check_zstd_frame_size(head: &[u8], made: u64) -> std::io::Result<()> {
    let bad = |what: String| std::io::Error::new(std::io::ErrorKind::InvalidData, what);
    match zstd::zstd_safe::get_frame_content_size(head) {
        Ok(Some(declared)) if declared != made => Err(bad(format!(
            "Data corruption detected: a frame of {declared} bytes made {made}"
        ))),
        Ok(_) => Ok(()),
        // zstd decoded the frame, so it read the same header.
        Err(_) => Err(bad("Data corruption detected: frame header".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(coding: Coding, data: &[u8], split: usize) -> Result<Vec<u8>, Error> {
        let mut d = Decoder::new(coding)?;
        let mut out = Vec::new();
        for c in data.chunks(split.max(1)) {
            d.push(Bytes::copy_from_slice(c));
            while d.has_pending() {
                out.extend_from_slice(&d.pull(64 * 1024)?);
            }
        }
        out.extend_from_slice(&d.finish()?);
        Ok(out)
    }

    /// A bomb: 64 MiB of zeros, whole in one push; every pull stays near
    /// what it asked for.
    #[test]
    fn output_per_pull_is_bounded_whatever_the_ratio() {
        let plain = vec![0u8; 64 * 1024 * 1024];
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(&plain).unwrap();
        let mut br = Vec::new();
        {
            let mut w = brotli::CompressorWriter::new(&mut br, 4096, 9, 22);
            w.write_all(&plain).unwrap();
        }
        let bombs = [
            (Coding::Gzip, gz.finish().unwrap()),
            (Coding::Brotli, br),
            (Coding::Zstd, zstd::encode_all(&plain[..], 19).unwrap()),
        ];
        for (coding, bomb) in bombs {
            let mut d = Decoder::new(coding).unwrap();
            d.push(Bytes::from(bomb));
            let mut total = 0;
            while d.has_pending() {
                let piece = d.pull(64 * 1024).unwrap();
                assert!(
                    piece.len() <= 64 * 1024 + 2 * OUT_BUF,
                    "{coding:?}: {}",
                    piece.len()
                );
                total += piece.len();
            }
            total += d.finish().unwrap().len();
            assert_eq!(total, plain.len(), "{coding:?}");
        }
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

    /// Found by the `body_decode` fuzz target: a zstd frame whose last
    /// block is empty made other than the content size its header declares,
    /// and libzstd's streaming decoder let it end in success (its one-shot
    /// path, taken when the whole frame came in one push, says "Data
    /// corruption detected"): a corrupt body read in pieces was a success.
    #[test]
    fn a_zstd_frame_not_its_declared_size_is_corrupt_however_it_arrives() {
        // Single segment, checksum, content size 5; one block, raw, last
        // and empty; the checksum of nothing.
        let short: &[u8] = &[
            0x28, 0xb5, 0x2f, 0xfd, 0x24, 0x05, 0x01, 0x00, 0x00, 0x99, 0xe9, 0xd8, 0x51,
        ];
        // Window 1 KiB, content size 256; a raw block of 300 bytes, then an
        // empty raw last block.
        let mut long = vec![
            0x28, 0xb5, 0x2f, 0xfd, 0x40, 0x00, 0x00, 0x00, 0x60, 0x09, 0x00,
        ];
        long.extend_from_slice(&[b'x'; 300]);
        long.extend_from_slice(&[0x01, 0x00, 0x00]);
        for body in [short, &long[..]] {
            for split in [1, 2, 5, 7, body.len()] {
                assert!(run(Coding::Zstd, body, split).is_err(), "split {split}");
            }
            // The fuzzer's reads.
            let mut d = Decoder::new(Coding::Zstd).unwrap();
            let mut failed = false;
            for piece in [&body[..1], &body[1..3], &body[3..8], &body[8..]] {
                d.push(Bytes::copy_from_slice(piece));
                while d.has_pending() && !failed {
                    failed = d.pull(64 * 1024).is_err();
                }
            }
            assert!(failed || d.finish().is_err(), "{body:x?}");
        }
        // Well-formed frames, with a skippable one between, still decode
        // at every split: each frame's size is checked on its own.
        let mut good = zstd::encode_all(&b"one two three"[..], 3).unwrap();
        good.extend_from_slice(&[0x50, 0x2a, 0x4d, 0x18, 0x03, 0x00, 0x00, 0x00, 1, 2, 3]);
        good.extend_from_slice(&zstd::encode_all(&text()[..], 3).unwrap());
        good.extend_from_slice(&zstd::encode_all(&b""[..], 3).unwrap());
        let want = [&b"one two three"[..], &text()].concat();
        for split in [1, 2, 3, 5, 13, 100, good.len()] {
            assert_eq!(
                run(Coding::Zstd, &good, split).unwrap(),
                want,
                "split {split}"
            );
        }
    }

    /// Found by the `body_decode` fuzz target: a compressed block of size 0
    /// (content size 0 declared, so the size check passes) was a success
    /// when the body came in pieces; libzstd's one-shot path, taken when it
    /// comes whole, says "Data corruption detected".
    #[test]
    fn a_compressed_block_of_size_0_is_corrupt_however_it_arrives() {
        // Single segment, checksum, content size 0; one block, compressed,
        // last, of size 0; the checksum of nothing.
        let body: &[u8] = &[
            0x28, 0xb5, 0x2f, 0xfd, 0x24, 0x00, 0x05, 0x00, 0x00, 0x99, 0xe9, 0xd8, 0x51,
        ];
        for split in 1..=body.len() {
            assert!(run(Coding::Zstd, body, split).is_err(), "split {split}");
        }
        // As a raw block of size 0 it is the empty frame zstd makes.
        let empty = [&body[..6], &[0x01, 0x00, 0x00], &body[9..]].concat();
        for split in 1..=empty.len() {
            assert_eq!(run(Coding::Zstd, &empty, split).unwrap(), b"");
        }
    }

    /// The walk keeps in step with streams zstd makes: frames with and
    /// without checksums and content sizes, of many blocks (RLE ones too),
    /// skippable frames between, and a header with a dictionary ID; it is
    /// at a frame's end when the stream ends, however it is cut.
    #[test]
    fn the_zstd_walk_keeps_in_step_with_every_layout() {
        use std::io::Write as _;
        let frame = |data: &[u8], checksum: bool, size: bool| {
            let mut e = zstd::stream::Encoder::new(Vec::new(), 3).unwrap();
            e.include_checksum(checksum).unwrap();
            e.include_contentsize(size).unwrap();
            e.set_pledged_src_size(size.then_some(data.len() as u64))
                .unwrap();
            e.write_all(data).unwrap();
            e.finish().unwrap()
        };
        let big = text();
        let zeros = vec![0u8; 300_000];
        let mut stream = Vec::new();
        for (data, checksum, size) in [
            (&b""[..], false, true),
            (&b"one"[..], true, true),
            (&big[..], true, false),
            (&zeros[..], false, true),
            (&big[..], false, true),
        ] {
            stream.extend(frame(data, checksum, size));
            stream.extend_from_slice(&[0x5f, 0x2a, 0x4d, 0x18, 0x02, 0x00, 0x00, 0x00, 7, 7]);
        }
        // A hand-made frame (the walk reads only the layout): a window
        // descriptor, a 4-byte dictionary ID, an 8-byte content size (3),
        // one raw last block of 3 bytes, no checksum.
        let hand: &[u8] = &[
            0x28, 0xb5, 0x2f, 0xfd, 0xc3, 0x00, 1, 2, 3, 4, 3, 0, 0, 0, 0, 0, 0, 0, 0x19, 0x00,
            0x00, b'a', b'b', b'c',
        ];
        for whole in [&stream[..], hand] {
            for split in [1, 2, 3, 7, 100, whole.len()] {
                let mut w = ZstdWalk::default();
                for c in whole.chunks(split) {
                    w.feed(c).unwrap();
                }
                assert!(
                    matches!(w.part, ZstdPart::Magic) && w.have == 0 && w.skip == 0 && !w.lost,
                    "split {split}: out of step"
                );
            }
        }
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

    /// A zlib body the fuzzer found (fuzz/artifacts, body_decode): its
    /// few bytes make 66 KB at the first flush; a pull of 512 must still
    /// give 512 at most (it gave 66,565 when flate2 wrote into a `Vec`).
    #[test]
    fn a_flate_pull_never_passes_its_max() {
        let body: &[u8] = &[
            0x78, 0xda, 0xed, 0xc1, 0x31, 0x01, 0x00, 0x00, 0x00, 0xc2, 0xa0, 0xf5, 0x4f, 0x6d,
            0x0d, 0x0f, 0xa0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x20, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x43, 0x00, 0x00, 0x00, 0x00, 0x00, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        ];
        for coding in [Coding::Deflate] {
            for max in [1, 7, 512, 4096] {
                let mut d = Decoder::new(coding).unwrap();
                d.push(Bytes::copy_from_slice(body));
                let mut total = 0;
                while d.has_pending() {
                    let piece = d.pull(max).unwrap_or_default();
                    assert!(piece.len() <= max, "max {max}: a pull gave {}", piece.len());
                    total += piece.len();
                    if piece.is_empty() {
                        break;
                    }
                }
                assert!(total > 64 * 1024, "max {max}: {total} bytes out");
            }
        }
        // A 64 MiB bomb in gzip: every pull within its max too.
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        e.write_all(&vec![0u8; 64 << 20]).unwrap();
        let bomb = e.finish().unwrap();
        let mut d = Decoder::new(Coding::Gzip).unwrap();
        d.push(Bytes::from(bomb));
        let mut total = 0;
        while d.has_pending() {
            let piece = d.pull(1000).unwrap();
            assert!(piece.len() <= 1000);
            total += piece.len();
        }
        total += d.finish().unwrap().len();
        assert_eq!(total, 64 << 20);
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

    /// Found by fuzzing (body_decode): brotli-decompressor 5 decoded this
    /// corrupt stream when it came whole (577 bytes out) and failed on it
    /// when it came in pieces; the reference decoder (C brotli) rejects it.
    /// Version 6 rejects it however it arrives.
    #[test]
    fn a_corrupt_brotli_stream_fails_however_it_arrives() {
        let data: [u8; 86] = [
            15, 0, 0, 0, 164, 176, 74, 74, 74, 74, 74, 255, 255, 255, 255, 255, 255, 90, 90, 90,
            90, 90, 90, 90, 0, 0, 0, 0, 0, 84, 84, 84, 84, 84, 84, 84, 84, 84, 84, 84, 84, 84, 84,
            84, 84, 84, 84, 84, 84, 84, 84, 86, 84, 84, 84, 84, 84, 32, 84, 84, 90, 107, 65, 0, 0,
            0, 222, 101, 96, 52, 50, 10, 0, 0, 0, 32, 48, 108, 105, 110, 101, 32, 49, 10, 108, 105,
        ];
        for split in [data.len(), 14, 1] {
            assert!(run(Coding::Brotli, &data, split).is_err(), "split {split}");
        }
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

    /// Found by the `body_decode` fuzz target: the gzip and deflate
    /// decoders held the output of the last bytes pushed until more came
    /// (or the body ended), so a streamed body whose server flushes each
    /// part reached the reader one part late.
    #[test]
    fn a_flushed_part_is_out_once_its_bytes_are_in() {
        fn parts<W: Write>(mut w: W, take: impl Fn(&mut W) -> Vec<u8>) -> Vec<Vec<u8>> {
            ["data: one\n\n", "data: two\n\n"]
                .iter()
                .map(|p| {
                    w.write_all(p.as_bytes()).unwrap();
                    w.flush().unwrap();
                    take(&mut w)
                })
                .collect()
        }
        let level = flate2::Compression::fast();
        let streams = [
            (
                Coding::Gzip,
                parts(flate2::write::GzEncoder::new(Vec::new(), level), |w| {
                    std::mem::take(w.get_mut())
                }),
            ),
            (
                Coding::Deflate,
                parts(flate2::write::ZlibEncoder::new(Vec::new(), level), |w| {
                    std::mem::take(w.get_mut())
                }),
            ),
            (
                Coding::Deflate,
                parts(flate2::write::DeflateEncoder::new(Vec::new(), level), |w| {
                    std::mem::take(w.get_mut())
                }),
            ),
        ];
        for (coding, z) in streams {
            let mut d = Decoder::new(coding).unwrap();
            let mut out = Vec::new();
            for (part, want) in z.into_iter().zip(["data: one\n\n", "data: two\n\n"]) {
                d.push(Bytes::from(part));
                let before = out.len();
                while d.has_pending() {
                    out.extend_from_slice(&d.pull(64 * 1024).unwrap());
                }
                assert_eq!(&out[before..], want.as_bytes(), "{coding:?}");
            }
        }
    }

    #[test]
    fn empty_body() {
        assert_eq!(run(Coding::Gzip, b"", 1).unwrap(), b"");
    }
}
