//! From frames to messages: fragments, compression, UTF-8, size limit and
//! close payloads, with aiohttp's `WebSocketReader` messages.

use bytes::Bytes;

use super::close_code::{INVALID_TEXT, PROTOCOL_ERROR};
use super::deflate::Inflater;
use super::frame::{Frame, OP_BINARY, OP_CLOSE, OP_CONTINUATION, OP_PING, OP_PONG, OP_TEXT};
use super::{Message, ProtocolError};

/// A data message whose final fragment has not arrived yet.
struct Partial {
    /// `OP_TEXT` or `OP_BINARY`.
    opcode: u8,
    /// RSV1 was set on its first frame.
    compressed: bool,
    /// Payload so far (inflated when compressed).
    data: Vec<u8>,
    /// Payload bytes received on the wire so far (before inflating).
    wire: u64,
    /// Prefix of `data` known to be valid UTF-8 (text only).
    valid: usize,
}

/// Assembles messages from frames, one frame at a time.
pub struct Assembler {
    max_msg_size: usize,
    inflater: Option<Inflater>,
    partial: Option<Partial>,
    /// UTF-8 state over the frame still arriving, and how far it got.
    peek: Option<(Utf8State, usize)>,
}

impl Assembler {
    /// `max_msg_size`: largest message, on the wire and inflated (0: no
    /// limit). `deflate`: permessage-deflate was negotiated.
    pub fn new(max_msg_size: usize, deflate: bool) -> Assembler {
        Assembler {
            max_msg_size,
            inflater: deflate.then(Inflater::new),
            partial: None,
            peek: None,
        }
    }

    /// Payload bytes of the message in progress, for the decoder's size
    /// check of the next frame.
    pub fn used(&self) -> u64 {
        self.partial.as_ref().map_or(0, |p| p.wire)
    }

    /// The message limit (0: none).
    pub fn max_msg_size(&self) -> usize {
        self.max_msg_size
    }

    /// Take one frame; a message when it completes one.
    pub fn push(&mut self, frame: Frame) -> Result<Option<Message>, ProtocolError> {
        self.peek = None;
        match frame.opcode {
            OP_CLOSE => parse_close(&frame).map(Some),
            OP_PING => Ok(Some(Message::Ping(frame.payload))),
            OP_PONG => Ok(Some(Message::Pong(frame.payload))),
            OP_CONTINUATION | OP_TEXT | OP_BINARY => self.push_data(frame),
            op => Err(ProtocolError::new(
                PROTOCOL_ERROR,
                format!("Unexpected opcode={op}"),
            )),
        }
    }

    /// Check the payload received so far of a frame still arriving
    /// (`opcode`, `rsv1`): when it continues uncompressed text, fail as soon
    /// as it cannot be UTF-8. Resumes where the previous call stopped.
    pub fn check_incomplete(
        &mut self,
        opcode: u8,
        rsv1: bool,
        payload: &[u8],
    ) -> Result<(), ProtocolError> {
        if self.peek.is_none() {
            let mut state = Utf8State::default();
            match (&self.partial, opcode) {
                (None, OP_TEXT) if !rsv1 => {}
                // Not with RSV1: the whole frame is refused (1002) before
                // its payload is looked at, so its bytes are not judged here.
                (Some(p), OP_CONTINUATION) if p.opcode == OP_TEXT && !p.compressed && !rsv1 => {
                    for &b in p.data.get(p.valid..).unwrap_or_default() {
                        state.step(b);
                    }
                }
                _ => return Ok(()),
            }
            self.peek = Some((state, 0));
        }
        let Some((state, done)) = &mut self.peek else {
            return Ok(());
        };
        let mut rest = payload.get(*done..).unwrap_or_default();
        *done = payload.len();
        while let Some((&b, tail)) = rest.split_first() {
            if state.need == 0 {
                // Between characters: let std validate the bulk.
                let valid = match std::str::from_utf8(rest) {
                    Ok(_) => return Ok(()),
                    Err(e) if e.error_len().is_some() => return Err(invalid_utf8()),
                    Err(e) => e.valid_up_to(),
                };
                rest.get(valid..).unwrap_or_default().iter().for_each(|&b| {
                    state.step(b);
                });
                return Ok(());
            }
            if !state.step(b) {
                return Err(invalid_utf8());
            }
            rest = tail;
        }
        Ok(())
    }

    /// A text, binary or continuation frame.
    fn push_data(&mut self, frame: Frame) -> Result<Option<Message>, ProtocolError> {
        let mut partial = match (self.partial.take(), frame.opcode) {
            (None, OP_CONTINUATION) => {
                return Err(proto("Continuation frame for non started message"));
            }
            (Some(_), op @ (OP_TEXT | OP_BINARY)) => {
                return Err(proto(format!(
                    "The opcode in non-fin frame is expected to be zero, got {op}"
                )));
            }
            (Some(_), _) if frame.rsv1 => {
                return Err(proto("Received frame with non-zero reserved bits"));
            }
            (Some(p), _) => p,
            (None, op) if frame.fin && !frame.rsv1 => {
                return single_frame(op, frame.payload).map(Some)
            }
            (None, op) => Partial {
                opcode: op,
                compressed: frame.rsv1,
                data: Vec::new(),
                wire: 0,
                valid: 0,
            },
        };
        partial.wire += frame.payload.len() as u64;
        self.append(&mut partial, &frame.payload)?;
        if frame.fin {
            return self.complete(partial).map(Some);
        }
        if partial.opcode == OP_TEXT {
            partial.valid = check_utf8_prefix(&partial.data, partial.valid)?;
        }
        self.partial = Some(partial);
        Ok(None)
    }

    /// Add a frame's payload to the message, inflating it when compressed.
    fn append(&mut self, partial: &mut Partial, payload: &[u8]) -> Result<(), ProtocolError> {
        match (&mut self.inflater, partial.compressed) {
            (Some(inf), true) => inf.inflate(payload, &mut partial.data, self.max_msg_size),
            _ => {
                partial.data.extend_from_slice(payload);
                Ok(())
            }
        }
    }

    /// The final fragment is in: finish inflating, check and build.
    fn complete(&mut self, mut partial: Partial) -> Result<Message, ProtocolError> {
        if let (Some(inf), true) = (&mut self.inflater, partial.compressed) {
            inf.finish(&mut partial.data, self.max_msg_size)?;
        }
        if partial.opcode == OP_TEXT {
            String::from_utf8(partial.data)
                .map(Message::Text)
                .map_err(|_| invalid_utf8())
        } else {
            Ok(Message::Binary(Bytes::from(partial.data)))
        }
    }
}

/// An unfragmented, uncompressed message: no copy for binary.
fn single_frame(opcode: u8, payload: Bytes) -> Result<Message, ProtocolError> {
    if opcode == OP_BINARY {
        return Ok(Message::Binary(payload));
    }
    String::from_utf8(Vec::from(payload))
        .map(Message::Text)
        .map_err(|_| invalid_utf8())
}

/// Validate `data[from..]` as UTF-8 that may end inside a character; the new
/// valid prefix length. Fails as soon as a byte makes it invalid (fail fast:
/// Autobahn 6.*), not at the end of the message.
pub fn check_utf8_prefix(data: &[u8], from: usize) -> Result<usize, ProtocolError> {
    let rest = data.get(from..).unwrap_or_default();
    match std::str::from_utf8(rest) {
        Ok(_) => Ok(data.len()),
        Err(e) if e.error_len().is_none() => Ok(from + e.valid_up_to()),
        Err(_) => Err(invalid_utf8()),
    }
}

/// A resumable UTF-8 validator, one byte at a time (RFC 3629 table 3-7):
/// how many continuation bytes are still needed and the range of the next.
#[derive(Clone, Copy, Debug)]
struct Utf8State {
    need: u8,
    lo: u8,
    hi: u8,
}

impl Default for Utf8State {
    fn default() -> Utf8State {
        Utf8State {
            need: 0,
            lo: 0x80,
            hi: 0xBF,
        }
    }
}

impl Utf8State {
    /// Take byte `b`; false when no valid UTF-8 can continue this way.
    fn step(&mut self, b: u8) -> bool {
        if self.need > 0 {
            if b < self.lo || b > self.hi {
                return false;
            }
            *self = Utf8State {
                need: self.need - 1,
                ..Utf8State::default()
            };
            return true;
        }
        let (need, lo, hi) = match b {
            0x00..=0x7F => return true,
            0xC2..=0xDF => (1, 0x80, 0xBF),
            0xE0 => (2, 0xA0, 0xBF),
            0xE1..=0xEC | 0xEE..=0xEF => (2, 0x80, 0xBF),
            0xED => (2, 0x80, 0x9F),
            0xF0 => (3, 0x90, 0xBF),
            0xF1..=0xF3 => (3, 0x80, 0xBF),
            0xF4 => (3, 0x80, 0x8F),
            _ => return false,
        };
        *self = Utf8State { need, lo, hi };
        true
    }
}

/// Close codes a peer may send (RFC 6455 7.4.1, 7.4.2 and the IANA
/// registry): 1000-1003, 1007-1014, 3000-4999. 1004-1006 and 1015 are
/// reserved, never on the wire (Autobahn 7.9.*); aiohttp accepts 1006 and
/// codes from 5000, the engine does not.
pub fn valid_close_code(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

/// Parse a close frame's payload: empty, or a valid code then a UTF-8 reason.
fn parse_close(frame: &Frame) -> Result<Message, ProtocolError> {
    let p = &frame.payload;
    match p.len() {
        0 => Ok(Message::Close(None, String::new())),
        1 => Err(proto(format!(
            "Invalid close frame: {} {} {}",
            if frame.fin { "True" } else { "False" },
            frame.opcode,
            py_bytes_repr(p)
        ))),
        _ => {
            let code = u16::from_be_bytes([p[0], p[1]]);
            if !valid_close_code(code) {
                return Err(proto(format!("Invalid close code: {code}")));
            }
            let reason = std::str::from_utf8(&p[2..]).map_err(|_| invalid_utf8())?;
            Ok(Message::Close(Some(code), reason.to_owned()))
        }
    }
}

/// Python's `repr()` of a `bytes` value, as in aiohttp's close frame message.
fn py_bytes_repr(b: &[u8]) -> String {
    let quote = if b.contains(&b'\'') && !b.contains(&b'"') {
        '"'
    } else {
        '\''
    };
    let mut s = format!("b{quote}");
    for &c in b {
        match c {
            b'\\' => s.push_str("\\\\"),
            c if c == quote as u8 => s.push_str(&format!("\\{quote}")),
            b'\t' => s.push_str("\\t"),
            b'\n' => s.push_str("\\n"),
            b'\r' => s.push_str("\\r"),
            0x20..=0x7e => s.push(c as char),
            _ => s.push_str(&format!("\\x{c:02x}")),
        }
    }
    s.push(quote);
    s
}

/// 1007 "Invalid UTF-8 text message".
fn invalid_utf8() -> ProtocolError {
    ProtocolError::new(INVALID_TEXT, "Invalid UTF-8 text message")
}

/// A 1002 protocol error.
fn proto(message: impl Into<String>) -> ProtocolError {
    ProtocolError::new(PROTOCOL_ERROR, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(fin: bool, opcode: u8, payload: &[u8]) -> Frame {
        Frame {
            fin,
            rsv1: false,
            opcode,
            payload: Bytes::copy_from_slice(payload),
        }
    }

    fn err(a: &mut Assembler, f: Frame) -> (u16, String) {
        let e = a.push(f).unwrap_err();
        (e.code, e.message)
    }

    #[test]
    fn fragments_with_interleaved_control_frames() {
        let mut a = Assembler::new(0, false);
        assert_eq!(a.push(frame(false, OP_TEXT, b"Hel")).unwrap(), None);
        assert_eq!(
            a.push(frame(true, OP_PING, b"p")).unwrap(),
            Some(Message::Ping(Bytes::from_static(b"p")))
        );
        assert_eq!(a.push(frame(false, OP_CONTINUATION, b"l")).unwrap(), None);
        assert_eq!(a.used(), 4);
        assert_eq!(
            a.push(frame(true, OP_CONTINUATION, b"o")).unwrap(),
            Some(Message::Text("Hello".into()))
        );
        assert_eq!(a.used(), 0);
        // RSV1 on a control frame is ignored (aiohttp, for interop).
        let mut pong = frame(true, OP_PONG, b"q");
        pong.rsv1 = true;
        assert_eq!(
            a.push(pong).unwrap(),
            Some(Message::Pong(Bytes::from_static(b"q")))
        );
        let bin = a.push(frame(true, OP_BINARY, b"\xff")).unwrap();
        assert_eq!(bin, Some(Message::Binary(Bytes::from_static(b"\xff"))));
    }

    #[test]
    fn fragment_order_violations() {
        let mut a = Assembler::new(0, false);
        assert_eq!(
            err(&mut a, frame(true, OP_CONTINUATION, b"x")),
            (1002, "Continuation frame for non started message".into())
        );
        a.push(frame(false, OP_BINARY, b"x")).unwrap();
        assert_eq!(
            err(&mut a, frame(true, OP_TEXT, b"x")),
            (
                1002,
                "The opcode in non-fin frame is expected to be zero, got 1".into()
            )
        );
        let mut a = Assembler::new(0, true);
        a.push(frame(false, OP_BINARY, b"x")).unwrap();
        let mut f = frame(true, OP_CONTINUATION, b"x");
        f.rsv1 = true;
        assert_eq!(
            err(&mut a, f),
            (1002, "Received frame with non-zero reserved bits".into())
        );
    }

    #[test]
    fn utf8_fails_fast_but_accepts_split_characters() {
        let mut a = Assembler::new(0, false);
        // "€" = e2 82 ac, split across fragments.
        a.push(frame(false, OP_TEXT, b"a\xe2")).unwrap();
        a.push(frame(false, OP_CONTINUATION, b"\x82")).unwrap();
        assert_eq!(
            a.push(frame(true, OP_CONTINUATION, b"\xac")).unwrap(),
            Some(Message::Text("a€".into()))
        );
        // Invalid in the first fragment: fails before the message ends.
        a.push(frame(false, OP_TEXT, b"ok")).unwrap();
        assert_eq!(
            err(
                &mut a,
                frame(
                    false,
                    OP_CONTINUATION,
                    b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80"
                )
            )
            .0,
            1007
        );
        let mut a = Assembler::new(0, false);
        // Incomplete at the end of the message.
        a.push(frame(false, OP_TEXT, b"\xe2\x82")).unwrap();
        assert_eq!(
            err(&mut a, frame(true, OP_CONTINUATION, b"")).1,
            "Invalid UTF-8 text message"
        );
        assert_eq!(err(&mut a, frame(true, OP_TEXT, b"\xff")).0, 1007);
    }

    #[test]
    fn incomplete_frames_fail_fast() {
        let mut a = Assembler::new(0, false);
        // A text frame still arriving: valid so far, then invalid.
        a.check_incomplete(OP_TEXT, false, b"ok \xe2\x82").unwrap();
        assert_eq!(
            a.check_incomplete(OP_TEXT, false, b"ok \xe2\x82\x41")
                .unwrap_err()
                .code,
            1007
        );
        // A continuation whose previous fragment ended inside a character.
        let mut a = Assembler::new(0, false);
        a.push(frame(false, OP_TEXT, b"a\xf0\x9d")).unwrap();
        a.check_incomplete(OP_CONTINUATION, false, b"\x84\x9e b")
            .unwrap();
        let mut a = Assembler::new(0, false);
        a.push(frame(false, OP_TEXT, b"a\xf0\x9d")).unwrap();
        assert!(a.check_incomplete(OP_CONTINUATION, false, b"\x41").is_err());
        // Binary and compressed data are not checked.
        let mut a = Assembler::new(0, true);
        a.check_incomplete(OP_BINARY, false, b"\xff").unwrap();
        a.check_incomplete(OP_TEXT, true, b"\xff").unwrap();
    }

    /// Found by the `ws_frames` fuzz target: a continuation of uncompressed
    /// text with RSV1 (deflate negotiated) is a protocol error (1002) once
    /// complete, but while it was arriving its payload was checked as text
    /// and failed with 1007: the close code depended on how bytes arrived.
    #[test]
    fn an_rsv1_continuation_still_arriving_is_not_judged_as_text() {
        let mut a = Assembler::new(0, true);
        a.push(frame(false, OP_TEXT, b"B")).unwrap();
        a.check_incomplete(OP_CONTINUATION, true, b"\x80\x05")
            .unwrap();
        let mut f = frame(true, OP_CONTINUATION, b"\x80\x05");
        f.rsv1 = true;
        assert_eq!(err(&mut a, f).0, 1002);
    }

    /// The byte validator agrees with std on every 1-4 byte sequence of
    /// interesting bytes.
    #[test]
    fn utf8_state_agrees_with_std() {
        let bytes = [
            0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC2, 0xDF, 0xE0, 0xE1,
            0xED, 0xEE, 0xF0, 0xF1, 0xF4, 0xF5, 0xFF,
        ];
        let mut seqs: Vec<Vec<u8>> = vec![vec![]];
        for _ in 0..4 {
            seqs = seqs
                .iter()
                .flat_map(|s| bytes.iter().map(move |&b| [&s[..], &[b]].concat()))
                .collect();
            for s in &seqs {
                let mut st = Utf8State::default();
                let ok = s.iter().all(|&b| st.step(b));
                let std_ok = match std::str::from_utf8(s) {
                    Ok(_) => true,
                    Err(e) => e.error_len().is_none(),
                };
                assert_eq!(ok, std_ok, "{s:x?}");
            }
        }
    }

    #[test]
    fn close_payloads() {
        let mut a = Assembler::new(0, false);
        assert_eq!(
            a.push(frame(true, OP_CLOSE, b"")).unwrap(),
            Some(Message::Close(None, String::new()))
        );
        assert_eq!(
            a.push(frame(true, OP_CLOSE, b"\x03\xe8bye")).unwrap(),
            Some(Message::Close(Some(1000), "bye".into()))
        );
        assert_eq!(
            err(&mut a, frame(true, OP_CLOSE, b"\x03")),
            (1002, "Invalid close frame: True 8 b'\\x03'".into())
        );
        assert_eq!(
            err(&mut a, frame(true, OP_CLOSE, b"\x03\xe8\xff")),
            (1007, "Invalid UTF-8 text message".into())
        );
        for code in [
            0u16, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535,
        ] {
            let p = code.to_be_bytes();
            assert_eq!(
                err(&mut a, frame(true, OP_CLOSE, &p)),
                (1002, format!("Invalid close code: {code}"))
            );
        }
        for code in [
            1000u16, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999,
            4000, 4999,
        ] {
            let p = code.to_be_bytes();
            assert_eq!(
                a.push(frame(true, OP_CLOSE, &p)).unwrap(),
                Some(Message::Close(Some(code), String::new()))
            );
        }
    }

    #[test]
    fn compressed_fragments_inflate_across_frames() {
        let mut a = Assembler::new(0, true);
        let compressed = [0xf2u8, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
        let mut first = frame(false, OP_TEXT, &compressed[..3]);
        first.rsv1 = true;
        assert_eq!(a.push(first).unwrap(), None);
        let last = frame(true, OP_CONTINUATION, &compressed[3..]);
        assert_eq!(a.push(last).unwrap(), Some(Message::Text("Hello".into())));
    }

    #[test]
    fn inflated_size_is_bounded() {
        let mut a = Assembler::new(4, true);
        let mut f = frame(true, OP_BINARY, &[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]);
        f.rsv1 = true;
        assert_eq!(
            err(&mut a, f),
            (1009, "Decompressed message exceeds size limit 4".into())
        );
    }

    #[test]
    fn bytes_repr_like_python() {
        assert_eq!(
            py_bytes_repr(b"a'\"\\\n\x00\x7f"),
            "b'a\\'\"\\\\\\n\\x00\\x7f'"
        );
        assert_eq!(py_bytes_repr(b"'"), "b\"'\"");
    }
}
