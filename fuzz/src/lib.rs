//! Shared by the fuzz targets: how an input is cut into control bytes and
//! reads, and drivers that feed reads to the h1 codec the way
//! `crates/aioxide/src/h1/conn.rs` does, recording everything observable
//! so that two runs over different splits of the same bytes can be compared.

pub mod decode;
pub mod ws;

use aioxide::h1::body::{BodyError, Decode};
use aioxide::h1::head::{self, Framing, HeadError};
use bytes::BytesMut;

/// An input: `ctl` control bytes, then one byte `n` (taken mod 17), then
/// `n` read sizes (0..=255 bytes each), then the payload.  The payload is
/// cut into reads of those sizes (the rest in one last read).
pub struct Input<'a> {
    pub ctl: &'a [u8],
    pub payload: &'a [u8],
    pub reads: Vec<&'a [u8]>,
}

pub fn split_input(data: &[u8], ctl: usize) -> Option<Input<'_>> {
    let (ctl_bytes, rest) = data.split_at_checked(ctl)?;
    let (&n, rest) = rest.split_first()?;
    let n = usize::from(n % 17).min(rest.len());
    let (sizes, payload) = rest.split_at(n);
    let mut reads = Vec::with_capacity(n + 1);
    let mut left = payload;
    for &s in sizes {
        let (read, more) = left.split_at(usize::from(s).min(left.len()));
        reads.push(read);
        left = more;
    }
    reads.push(left);
    Some(Input {
        ctl: ctl_bytes,
        payload,
        reads,
    })
}

/// What a chunked decode showed: the data, where chunks ended, how it
/// stopped, and what the end of input then says.
#[derive(Debug, PartialEq, Eq)]
pub struct ChunkedRun {
    pub data: Vec<u8>,
    pub chunk_ends: Vec<usize>,
    /// The error that stopped decoding, if any.
    pub error: Option<BodyError>,
    /// Bytes consumed, when decoding did not fail.
    pub consumed: Option<usize>,
    pub done: bool,
    /// `on_eof()` after the last read (when decoding did not fail).
    pub eof: Option<Result<(), BodyError>>,
}

/// Feed `reads` to a chunked decoder, stepping after each read.
pub fn run_chunked(reads: &[&[u8]]) -> ChunkedRun {
    let mut d = Decode::new(Framing::Chunked);
    let mut buf = BytesMut::new();
    let mut run = ChunkedRun {
        data: Vec::new(),
        chunk_ends: Vec::new(),
        error: None,
        consumed: None,
        done: false,
        eof: None,
    };
    let mut fed = 0;
    for read in reads {
        buf.extend_from_slice(read);
        fed += read.len();
        loop {
            match d.step(&mut buf) {
                Ok(Some(p)) => {
                    assert!(!p.data.is_empty(), "an empty piece");
                    run.data.extend_from_slice(&p.data);
                    if p.chunk_end {
                        run.chunk_ends.push(run.data.len());
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    run.error = Some(e);
                    run.done = d.is_done();
                    return run;
                }
            }
        }
    }
    run.consumed = Some(fed - buf.len());
    run.done = d.is_done();
    run.eof = Some(d.on_eof());
    run
}

/// A head as seen by the caller.
#[derive(Debug, PartialEq, Eq)]
pub struct SeenHead {
    pub status: u16,
    pub reason: Vec<u8>,
    pub minor: u8,
    pub fields: Vec<(Vec<u8>, Vec<u8>)>,
}

/// How a response read ended.
#[derive(Debug, PartialEq, Eq)]
pub enum End {
    /// The body ended; `consumed` bytes of the input were the response.
    Done {
        consumed: usize,
    },
    Head(HeadError),
    Framing(HeadError),
    Body(BodyError),
    /// EOF before a final head.
    Disconnected,
}

#[derive(Debug, PartialEq, Eq)]
pub struct ResponseRun {
    /// 1xx heads skipped, then the final head.
    pub heads: Vec<SeenHead>,
    pub framing: Option<Framing>,
    pub data: Vec<u8>,
    pub chunk_ends: Vec<usize>,
    pub end: End,
}

/// Limits and request facts a response is read under.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_fields: usize,
    pub max_head: usize,
    pub method_is_head: bool,
}

/// Read a response off `reads` then EOF, as `Conn::exchange` /
/// `poll_final_head` and `Reader::poll_piece` do.
pub fn run_response(reads: &[&[u8]], lim: Limits) -> ResponseRun {
    let mut run = ResponseRun {
        heads: Vec::new(),
        framing: None,
        data: Vec::new(),
        chunk_ends: Vec::new(),
        end: End::Disconnected,
    };
    let mut buf = BytesMut::new();
    let mut decode: Option<Decode> = None;
    let mut fed = 0;
    let reads = reads.iter().map(|r| Some(*r)).chain(std::iter::once(None));
    for read in reads {
        match read {
            Some(r) => {
                buf.extend_from_slice(r);
                fed += r.len();
            }
            None => {
                // EOF: `poll_fill` returned 0.
                match decode.as_mut() {
                    None => {
                        run.end = End::Disconnected;
                        return run;
                    }
                    Some(d) => {
                        if let Err(e) = d.on_eof() {
                            run.end = End::Body(e);
                            return run;
                        }
                    }
                }
            }
        }
        if decode.is_none() {
            loop {
                match head::parse_response_within(&mut buf, lim.max_fields, lim.max_head) {
                    Ok(Some(h)) => {
                        let status = h.status;
                        run.heads.push(SeenHead {
                            status,
                            reason: h.reason.to_vec(),
                            minor: h.minor,
                            fields: h
                                .fields
                                .iter()
                                .map(|(k, v)| (k.to_vec(), v.to_vec()))
                                .collect(),
                        });
                        if status == 100 || (102..=199).contains(&status) {
                            continue;
                        }
                        let framing = match head::framing(&h, lim.method_is_head) {
                            Ok(f) => f,
                            Err(e) => {
                                run.end = End::Framing(e);
                                return run;
                            }
                        };
                        let framing = if status == 101 {
                            Framing::Empty
                        } else {
                            framing
                        };
                        run.framing = Some(framing);
                        decode = Some(Decode::new(framing));
                        break;
                    }
                    Ok(None) => break,
                    Err(e) => {
                        run.end = End::Head(e);
                        return run;
                    }
                }
            }
        }
        let Some(d) = decode.as_mut() else {
            continue;
        };
        loop {
            match d.step(&mut buf) {
                Ok(Some(p)) => {
                    assert!(!p.data.is_empty(), "an empty piece");
                    run.data.extend_from_slice(&p.data);
                    if p.chunk_end {
                        run.chunk_ends.push(run.data.len());
                    }
                }
                Ok(None) if d.is_done() => {
                    run.end = End::Done {
                        consumed: fed - buf.len(),
                    };
                    return run;
                }
                Ok(None) => break,
                Err(e) => {
                    run.end = End::Body(e);
                    return run;
                }
            }
        }
    }
    unreachable!("EOF ends every read")
}
