//! RFC 6455 section 5 framing: encoding (with masking) and an incremental,
//! total decoder that enforces every frame-level rule.
//!
//! Rules that need the message state (continuation order, RSV1 on a
//! continuation, close payloads, sizes across fragments) are in
//! [`super::message`].

use bytes::{Buf, BufMut, Bytes, BytesMut};

use super::close_code::{MESSAGE_TOO_BIG, PROTOCOL_ERROR};
use super::ProtocolError;

/// Continuation of a fragmented message.
pub const OP_CONTINUATION: u8 = 0x0;
/// Text message (first frame).
pub const OP_TEXT: u8 = 0x1;
/// Binary message (first frame).
pub const OP_BINARY: u8 = 0x2;
/// Close.
pub const OP_CLOSE: u8 = 0x8;
/// Ping.
pub const OP_PING: u8 = 0x9;
/// Pong.
pub const OP_PONG: u8 = 0xA;

/// Largest control frame payload (RFC 6455 5.5).
pub const MAX_CONTROL_PAYLOAD: usize = 125;

/// Largest declared payload length accepted (the MSB of a 64-bit length
/// must be 0; aiohttp's `sys.maxsize`).
const MAX_PAYLOAD_LEN: u64 = i64::MAX as u64;

/// Which end of the connection we are: a client masks what it sends and
/// rejects masked frames; a server the reverse.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// The connecting side (aiohttp's `ws_connect`).
    Client,
    /// The accepting side (tests, and a future server).
    Server,
}

/// One decoded frame (payload unmasked).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    /// Final fragment of its message.
    pub fin: bool,
    /// RSV1: "compressed" under permessage-deflate.
    pub rsv1: bool,
    /// Opcode (one of the `OP_*` constants).
    pub opcode: u8,
    /// Payload, unmasked.
    pub payload: Bytes,
}

/// True for close, ping and pong.
pub fn is_control(opcode: u8) -> bool {
    opcode & 0x8 != 0
}

/// XOR `data` with the repeating 4-byte `mask` (RFC 6455 5.3), eight bytes
/// at a time (the loop over `u64` words vectorizes).
pub fn apply_mask(data: &mut [u8], mask: [u8; 4]) {
    let m = u64::from_ne_bytes([
        mask[0], mask[1], mask[2], mask[3], mask[0], mask[1], mask[2], mask[3],
    ]);
    let mut words = data.chunks_exact_mut(8);
    for w in &mut words {
        let mut b = [0u8; 8];
        b.copy_from_slice(w);
        w.copy_from_slice(&(u64::from_ne_bytes(b) ^ m).to_ne_bytes());
    }
    for (i, b) in words.into_remainder().iter_mut().enumerate() {
        *b ^= mask[i & 3];
    }
}

/// Append one frame to `dst`: header, then the payload, masked with `mask`
/// when given (a client always gives one).
pub fn encode_frame(
    dst: &mut BytesMut,
    fin: bool,
    rsv1: bool,
    opcode: u8,
    payload: &[u8],
    mask: Option<[u8; 4]>,
) {
    let len = payload.len();
    dst.reserve(14 + len);
    dst.put_u8(u8::from(fin) << 7 | u8::from(rsv1) << 6 | (opcode & 0xF));
    let mask_bit = if mask.is_some() { 0x80 } else { 0 };
    if len < 126 {
        dst.put_u8(mask_bit | len as u8);
    } else if len < 65536 {
        dst.put_u8(mask_bit | 126);
        dst.put_u16(len as u16);
    } else {
        dst.put_u8(mask_bit | 127);
        dst.put_u64(len as u64);
    }
    let start = dst.len() + if mask.is_some() { 4 } else { 0 };
    if let Some(m) = mask {
        dst.put_slice(&m);
    }
    dst.put_slice(payload);
    if let Some(m) = mask {
        apply_mask(&mut dst[start..], m);
    }
}

/// A parsed frame head: everything before the payload.
struct Head {
    fin: bool,
    rsv1: bool,
    opcode: u8,
    mask: Option<[u8; 4]>,
    len: u64,
    size: usize,
}

/// Incremental frame decoder. Feed it the read buffer; it takes whole frames
/// off its front and leaves partial ones. Never panics, whatever the bytes.
#[derive(Clone, Debug)]
pub struct Decoder {
    role: Role,
    rsv1_allowed: bool,
}

impl Decoder {
    /// A decoder for `role`; RSV1 is accepted only when `deflate` was
    /// negotiated.
    pub fn new(role: Role, deflate: bool) -> Decoder {
        Decoder {
            role,
            rsv1_allowed: deflate,
        }
    }

    /// Take the next complete frame off `buf`. A data frame that would bring
    /// its message from `used` bytes past `max` (0: no limit) fails with 1009
    /// as soon as its head is read, before any payload is buffered.
    /// `Ok(None)`: more bytes are needed (capacity for the rest of the frame
    /// is reserved, a bounded amount at a time).
    pub fn decode(
        &self,
        buf: &mut BytesMut,
        used: u64,
        max: u64,
    ) -> Result<Option<Frame>, ProtocolError> {
        let Some(head) = self.parse_head(buf)? else {
            return Ok(None);
        };
        let size = head.len.saturating_add(used);
        if max != 0 && !is_control(head.opcode) && size > max {
            return Err(ProtocolError::new(
                MESSAGE_TOO_BIG,
                format!("Message size {size} exceeds limit {max}"),
            ));
        }
        let total = head.size as u64 + head.len;
        let have = buf.len() as u64;
        if have < total {
            // Reserve for the rest of this frame, at most 1 MiB at a time:
            // memory follows the bytes that actually arrive.
            buf.reserve((total - have).min(1 << 20) as usize);
            return Ok(None);
        }
        buf.advance(head.size);
        let mut payload = buf.split_to(head.len as usize);
        if let Some(m) = head.mask {
            apply_mask(&mut payload, m);
        }
        Ok(Some(Frame {
            fin: head.fin,
            rsv1: head.rsv1,
            opcode: head.opcode,
            payload: payload.freeze(),
        }))
    }

    /// The frame at the front of `buf` when its head is complete but its
    /// payload is not, and it is unmasked: its opcode, RSV1 and the payload
    /// bytes received so far (to fail fast on invalid text, Autobahn 6.4.*).
    pub fn peek_incomplete<'a>(&self, buf: &'a [u8]) -> Option<(u8, bool, &'a [u8])> {
        let head = self.parse_head(buf).ok()??;
        let incomplete = (buf.len() as u64) < head.size as u64 + head.len;
        (incomplete && head.mask.is_none()).then(|| {
            (
                head.opcode,
                head.rsv1,
                buf.get(head.size..).unwrap_or_default(),
            )
        })
    }

    /// Parse and check the head at the front of `buf` (without consuming).
    fn parse_head(&self, buf: &[u8]) -> Result<Option<Head>, ProtocolError> {
        let (Some(&b0), Some(&b1)) = (buf.first(), buf.get(1)) else {
            return Ok(None);
        };
        let (fin, rsv1, opcode) = (b0 & 0x80 != 0, b0 & 0x40 != 0, b0 & 0x0F);
        if b0 & 0x30 != 0 || (rsv1 && !self.rsv1_allowed) {
            return Err(proto("Received frame with non-zero reserved bits"));
        }
        if !matches!(opcode, 0..=2 | 8..=10) {
            return Err(proto(format!("Unexpected opcode={opcode}")));
        }
        if is_control(opcode) && !fin {
            return Err(proto("Received fragmented control frame"));
        }
        let len7 = b1 & 0x7F;
        if is_control(opcode) && len7 > 125 {
            return Err(proto(
                "Control frame payload cannot be larger than 125 bytes",
            ));
        }
        let masked = b1 & 0x80 != 0;
        match (self.role, masked) {
            (Role::Client, true) => return Err(proto("Received masked frame from server")),
            (Role::Server, false) => return Err(proto("Received unmasked frame from client")),
            _ => {}
        }
        let Some((len, mut size)) = read_len(buf, len7)? else {
            return Ok(None);
        };
        let mut mask = None;
        if masked {
            let Some(m) = buf.get(size..size + 4) else {
                return Ok(None);
            };
            mask = Some([m[0], m[1], m[2], m[3]]);
            size += 4;
        }
        Ok(Some(Head {
            fin,
            rsv1,
            opcode,
            mask,
            len,
            size,
        }))
    }
}

/// The payload length after the 2 first bytes and the head size so far;
/// `None` when the extended length has not all arrived.
fn read_len(buf: &[u8], len7: u8) -> Result<Option<(u64, usize)>, ProtocolError> {
    match len7 {
        126 => Ok(buf
            .get(2..4)
            .map(|b| (u64::from(u16::from_be_bytes([b[0], b[1]])), 4))),
        127 => {
            let Some(b) = buf.get(2..10) else {
                return Ok(None);
            };
            let mut w = [0u8; 8];
            w.copy_from_slice(b);
            let len = u64::from_be_bytes(w);
            if len > MAX_PAYLOAD_LEN {
                return Err(ProtocolError::new(
                    MESSAGE_TOO_BIG,
                    format!("Message size {len} exceeds limit {MAX_PAYLOAD_LEN}"),
                ));
            }
            Ok(Some((len, 10)))
        }
        n => Ok(Some((u64::from(n), 2))),
    }
}

/// A 1002 protocol error.
fn proto(message: impl Into<String>) -> ProtocolError {
    ProtocolError::new(PROTOCOL_ERROR, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(dec: &Decoder, bytes: &[u8]) -> Result<Vec<Frame>, ProtocolError> {
        let mut buf = BytesMut::from(bytes);
        let mut out = Vec::new();
        while let Some(f) = dec.decode(&mut buf, 0, 0)? {
            out.push(f);
        }
        Ok(out)
    }

    fn err(bytes: &[u8]) -> ProtocolError {
        decode_all(&Decoder::new(Role::Client, false), bytes).unwrap_err()
    }

    /// RFC 6455 5.7 examples, as a client receives them.
    #[test]
    fn rfc6455_examples() {
        let dec = Decoder::new(Role::Client, false);
        let f = decode_all(&dec, &[0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]).unwrap();
        assert_eq!(
            (f[0].fin, f[0].opcode, &f[0].payload[..]),
            (true, OP_TEXT, &b"Hello"[..])
        );
        let f = decode_all(
            &dec,
            &[0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f],
        )
        .unwrap();
        assert_eq!(
            (f[0].fin, f[0].opcode, &f[0].payload[..]),
            (false, OP_TEXT, &b"Hel"[..])
        );
        assert_eq!(
            (f[1].fin, f[1].opcode, &f[1].payload[..]),
            (true, OP_CONTINUATION, &b"lo"[..])
        );
        let f = decode_all(&dec, &[0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]).unwrap();
        assert_eq!((f[0].opcode, &f[0].payload[..]), (OP_PING, &b"Hello"[..]));
        // The masked example, as a server receives it.
        let srv = Decoder::new(Role::Server, false);
        let f = decode_all(
            &srv,
            &[
                0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
            ],
        )
        .unwrap();
        assert_eq!(&f[0].payload[..], b"Hello");
    }

    #[test]
    fn encodes_rfc6455_examples() {
        let mut b = BytesMut::new();
        encode_frame(
            &mut b,
            true,
            false,
            OP_TEXT,
            b"Hello",
            Some([0x37, 0xfa, 0x21, 0x3d]),
        );
        assert_eq!(
            &b[..],
            &[0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]
        );
        let mut b = BytesMut::new();
        encode_frame(&mut b, true, false, OP_BINARY, &[7u8; 256], None);
        assert_eq!(&b[..4], &[0x82, 0x7E, 0x01, 0x00]);
        let mut b = BytesMut::new();
        encode_frame(&mut b, true, false, OP_BINARY, &[7u8; 65536], None);
        assert_eq!(&b[..10], &[0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0]);
        assert_eq!(b.len(), 10 + 65536);
    }

    #[test]
    fn lengths_round_trip_at_every_boundary() {
        let srv = Decoder::new(Role::Server, false);
        for len in [0, 1, 125, 126, 127, 65535, 65536, 70000] {
            let payload: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
            let mut b = BytesMut::new();
            encode_frame(&mut b, true, false, OP_BINARY, &payload, Some([1, 2, 3, 4]));
            let f = decode_all(&srv, &b).unwrap();
            assert_eq!(f.len(), 1);
            assert_eq!(&f[0].payload[..], &payload[..], "len {len}");
        }
    }

    #[test]
    fn fast_mask_matches_bytewise_mask() {
        let mask = [0xde, 0xad, 0xbe, 0xef];
        for len in 0..40 {
            let data: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let mut fast = data.clone();
            apply_mask(&mut fast, mask);
            let slow: Vec<u8> = data
                .iter()
                .enumerate()
                .map(|(i, b)| b ^ mask[i % 4])
                .collect();
            assert_eq!(fast, slow);
        }
    }

    #[test]
    fn incomplete_input_waits() {
        let dec = Decoder::new(Role::Client, false);
        let mut full = BytesMut::new();
        encode_frame(&mut full, true, false, OP_BINARY, &[9u8; 300], None);
        for cut in 0..full.len() {
            let mut b = BytesMut::from(&full[..cut]);
            assert_eq!(dec.decode(&mut b, 0, 0).unwrap(), None, "cut {cut}");
            assert_eq!(b.len(), cut);
        }
    }

    #[test]
    fn frame_rule_violations() {
        let rsv = "Received frame with non-zero reserved bits";
        assert_eq!(err(&[0xC1, 0x00]).message, rsv); // RSV1, no deflate
        assert_eq!(err(&[0xA1, 0x00]).message, rsv);
        assert_eq!(err(&[0x91, 0x00]).message, rsv);
        assert!(decode_all(&Decoder::new(Role::Client, true), &[0xC1, 0x00]).is_ok());
        for op in [3u8, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF] {
            let e = err(&[0x80 | op, 0x00]);
            assert_eq!(
                (e.code, e.message),
                (1002, format!("Unexpected opcode={op}"))
            );
        }
        assert_eq!(
            err(&[0x09, 0x00]).message,
            "Received fragmented control frame"
        );
        assert_eq!(
            err(&[0x89, 0x7E, 0x00, 0x7E]).message,
            "Control frame payload cannot be larger than 125 bytes"
        );
        assert_eq!(
            err(&[0x81, 0x81, 1, 2, 3, 4, 5]).message,
            "Received masked frame from server"
        );
        let e = decode_all(&Decoder::new(Role::Server, false), &[0x81, 0x00]).unwrap_err();
        assert_eq!(e.message, "Received unmasked frame from client");
        let e = err(&[0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(e.code, 1009);
    }

    #[test]
    fn size_limit_rejects_before_payload_arrives() {
        let dec = Decoder::new(Role::Client, false);
        let mut b = BytesMut::from(&[0x82u8, 0x7E, 0x01, 0x00][..]);
        let e = dec.decode(&mut b, 10, 100).unwrap_err();
        assert_eq!(
            (e.code, e.message.as_str()),
            (1009, "Message size 266 exceeds limit 100")
        );
        let mut b = BytesMut::from(&[0x82u8, 0x7E, 0x01, 0x00][..]);
        assert_eq!(dec.decode(&mut b, 0, 256).unwrap(), None);
        // Control frames are not data: no budget.
        let mut b = BytesMut::from(&[0x89u8, 0x03, 1, 2, 3][..]);
        assert!(dec.decode(&mut b, 0, 1).unwrap().is_some());
    }

    /// Totality: no input makes the decoder panic.
    #[test]
    fn arbitrary_bytes_never_panic() {
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        for role in [Role::Client, Role::Server] {
            for deflate in [false, true] {
                let dec = Decoder::new(role, deflate);
                for _ in 0..2000 {
                    let len = (next(&mut seed) % 40) as usize;
                    let bytes: Vec<u8> = (0..len).map(|_| next(&mut seed) as u8).collect();
                    let _ = decode_all(&dec, &bytes);
                }
            }
        }
    }

    fn next(s: &mut u64) -> u64 {
        *s ^= *s << 13;
        *s ^= *s >> 7;
        *s ^= *s << 17;
        *s
    }
}
