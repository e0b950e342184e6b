//! Drives a body decoder (`aioxide::body::decode::Decoder`) as
//! `crates/aioxide/src/response.rs` does: push each read, pull bounded
//! steps while it has work, `finish` at the end; with helpers to make
//! compressed bodies for round trips.

use std::io::Write;

use aioxide::body::decode::Decoder;
use aioxide::policy::decompress::Coding;
use bytes::Bytes;

/// The output of one `pull` may pass what was asked by this much at most:
/// nothing for gzip and deflate, one 32 KiB buffer for brotli and zstd
/// (`crates/aioxide/src/body/decode.rs`).
pub fn pull_slack(coding: Coding) -> usize {
    match coding {
        Coding::Gzip | Coding::Deflate => 0,
        Coding::Brotli | Coding::Zstd => 32 * 1024,
    }
}

/// What `finish` may still hand out once everything was pulled.
pub const FINISH_SLACK: usize = 32 * 1024;
/// A run stops once this much came out, or after this many pulls (checks
/// on time, not limits: with a `max` of 1 a bomb takes a pull per byte).
pub const OUTPUT_CAP: usize = 4 << 20;
pub const PULL_CAP: usize = 10_000;

pub const CODINGS: [Coding; 4] = [Coding::Gzip, Coding::Deflate, Coding::Brotli, Coding::Zstd];

#[derive(Debug, PartialEq, Eq)]
pub enum DecodeEnd {
    Ok,
    /// The error's text.
    Err(String),
    /// Stopped at [`OUTPUT_CAP`].
    Capped,
}

#[derive(Debug)]
pub struct DecodeRun {
    pub data: Vec<u8>,
    /// After each read (pulled until the decoder had nothing pending):
    /// how much output there was.
    pub after_read: Vec<usize>,
    pub end: DecodeEnd,
}

/// Push `reads` one by one, pulling at most `max` a step; then finish.
/// Checks every pull's bound on the way.
pub fn run_decode(coding: Coding, reads: &[&[u8]], max: usize) -> DecodeRun {
    let mut d = Decoder::new(coding).expect("a decoder");
    let mut run = DecodeRun {
        data: Vec::new(),
        after_read: Vec::new(),
        end: DecodeEnd::Ok,
    };
    let mut pulls = 0;
    for read in reads {
        d.push(Bytes::copy_from_slice(read));
        let mut idle = 0;
        while d.has_pending() {
            match d.pull(max) {
                Ok(out) => {
                    assert!(
                        out.len() <= max + pull_slack(coding),
                        "{coding:?}: a pull of {max} gave {}",
                        out.len()
                    );
                    // Progress: a decoder with work cannot idle for ever.
                    idle = if out.is_empty() { idle + 1 } else { 0 };
                    assert!(idle < 1000, "{coding:?}: pulls that make nothing");
                    run.data.extend_from_slice(&out);
                    pulls += 1;
                    if run.data.len() > OUTPUT_CAP || pulls > PULL_CAP {
                        run.end = DecodeEnd::Capped;
                        return run;
                    }
                }
                Err(e) => {
                    run.end = DecodeEnd::Err(e.to_string());
                    return run;
                }
            }
        }
        run.after_read.push(run.data.len());
    }
    match d.finish() {
        Ok(tail) => {
            assert!(
                tail.len() <= FINISH_SLACK,
                "{coding:?}: finish gave {}",
                tail.len()
            );
            run.data.extend_from_slice(&tail);
        }
        Err(e) => run.end = DecodeEnd::Err(e.to_string()),
    }
    run
}

/// Compress `pieces` as one body in `coding`, flushed after each piece so
/// that a decoder can hand out each piece as soon as its bytes arrive.
/// `raw` picks raw deflate over zlib for `Coding::Deflate`. Returns the
/// compressed bytes of each piece (the stream's end in the last one).
pub fn compress_flushed(coding: Coding, raw: bool, pieces: &[&[u8]]) -> Vec<Vec<u8>> {
    fn run<W: Write>(
        mut w: W,
        pieces: &[&[u8]],
        taken: impl Fn(&mut W) -> Vec<u8>,
        end: impl FnOnce(W) -> Vec<u8>,
    ) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        for p in pieces {
            w.write_all(p).unwrap();
            w.flush().unwrap();
            out.push(taken(&mut w));
        }
        let last = end(w);
        out.last_mut().unwrap().extend_from_slice(&last);
        out
    }
    let level = flate2::Compression::fast();
    match (coding, raw) {
        (Coding::Gzip, _) => run(
            flate2::write::GzEncoder::new(Vec::new(), level),
            pieces,
            |w| std::mem::take(w.get_mut()),
            |w| w.finish().unwrap(),
        ),
        (Coding::Deflate, false) => run(
            flate2::write::ZlibEncoder::new(Vec::new(), level),
            pieces,
            |w| std::mem::take(w.get_mut()),
            |w| w.finish().unwrap(),
        ),
        (Coding::Deflate, true) => run(
            flate2::write::DeflateEncoder::new(Vec::new(), level),
            pieces,
            |w| std::mem::take(w.get_mut()),
            |w| w.finish().unwrap(),
        ),
        (Coding::Brotli, _) => run(
            brotli::CompressorWriter::new(Vec::new(), 4096, 1, 16),
            pieces,
            |w| std::mem::take(w.get_mut()),
            |w| w.into_inner(),
        ),
        (Coding::Zstd, _) => run(
            zstd::stream::write::Encoder::new(Vec::new(), 1).unwrap(),
            pieces,
            |w| std::mem::take(w.get_mut()),
            |w| w.finish().unwrap(),
        ),
    }
}
