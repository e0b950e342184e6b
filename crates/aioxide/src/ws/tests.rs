//! Stream-level tests: a client over `tokio::io::duplex` or over a reader
//! that hands bytes out in arbitrary pieces, against a test-side server
//! encoder.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, ReadBuf};

use super::deflate::Deflater;
use super::frame::{self, Decoder, Role, OP_BINARY, OP_CONTINUATION, OP_PING, OP_TEXT};
use super::{Config, DeflateParams, Message, WsError, WsReader, WsStream};

/// xorshift64: deterministic randomness for property tests.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// An `AsyncRead` that returns its bytes in random-sized pieces.
struct Chunked {
    data: Vec<u8>,
    pos: usize,
    rng: Rng,
}

impl AsyncRead for Chunked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let left = self.data.len() - self.pos;
        let n = (1 + self.rng.below(3000) as usize)
            .min(left)
            .min(buf.remaining());
        let pos = self.pos;
        buf.put_slice(&self.data[pos..pos + n]);
        self.pos += n;
        Poll::Ready(Ok(()))
    }
}

fn client(deflate: Option<DeflateParams>, max: usize) -> Config {
    Config {
        role: Role::Client,
        max_msg_size: max,
        deflate,
    }
}

fn server(deflate: Option<DeflateParams>) -> Config {
    Config {
        role: Role::Server,
        max_msg_size: 0,
        deflate,
    }
}

/// A random text (with multi-byte characters) or binary message.
fn random_message(rng: &mut Rng) -> Message {
    let len = match rng.below(10) {
        0 => 0,
        1..=6 => rng.below(200),
        7 | 8 => rng.below(70_000),
        _ => rng.below(300_000),
    } as usize;
    if rng.below(2) == 0 {
        let alphabet = ['a', 'b', ' ', 'é', '€', '𝄞', 'z'];
        let text: String = (0..len / 2)
            .map(|_| alphabet[rng.below(7) as usize])
            .collect();
        Message::Text(text)
    } else {
        let word = rng.next().to_le_bytes();
        Message::Binary(
            (0..len)
                .map(|i| word[i % 8] ^ (i / 97) as u8)
                .collect::<Vec<u8>>()
                .into(),
        )
    }
}

/// The server side's encoding of `msg`: maybe compressed, maybe split in
/// fragments, with pings between them.
fn server_encode(
    msg: &Message,
    deflater: Option<&mut Deflater>,
    rng: &mut Rng,
    out: &mut BytesMut,
) {
    let (opcode, raw): (u8, &[u8]) = match msg {
        Message::Text(t) => (OP_TEXT, t.as_bytes()),
        Message::Binary(b) => (OP_BINARY, b),
        _ => unreachable!(),
    };
    let mut compressed = Vec::new();
    let (payload, rsv1) = match deflater {
        Some(d) if rng.below(4) != 0 => {
            d.compress(raw, &mut compressed).unwrap();
            (&compressed[..], true)
        }
        _ => (raw, false),
    };
    let pieces = 1 + rng.below(4) as usize;
    let step = payload.len().div_ceil(pieces).max(1);
    let chunks: Vec<&[u8]> = if payload.is_empty() {
        vec![&[][..]]
    } else {
        payload.chunks(step).collect()
    };
    for (i, chunk) in chunks.iter().enumerate() {
        let (first, last) = (i == 0, i + 1 == chunks.len());
        let op = if first { opcode } else { OP_CONTINUATION };
        frame::encode_frame(out, last, rsv1 && first, op, chunk, None);
        if !last && rng.below(3) == 0 {
            frame::encode_frame(out, true, false, OP_PING, b"between", None);
        }
    }
}

/// Property: whatever the messages, fragmentation, compression and read
/// sizes, the client gets the messages back in order.
#[tokio::test]
async fn random_messages_in_arbitrary_splits() {
    for (seed, deflate) in [
        (1u64, None),
        (2, Some(DeflateParams::default())),
        (3, Some(DeflateParams::default())),
    ] {
        let mut rng = Rng(0x2545_F491_4F6C_DD1D ^ seed);
        let mut deflater = deflate.map(|_| Deflater::new(15, seed == 3));
        let mut wire = BytesMut::new();
        let msgs: Vec<Message> = (0..150).map(|_| random_message(&mut rng)).collect();
        for m in &msgs {
            server_encode(m, deflater.as_mut(), &mut rng, &mut wire);
        }
        let io = Chunked {
            data: wire.to_vec(),
            pos: 0,
            rng: Rng(seed.wrapping_mul(7919) + 1),
        };
        let mut reader = WsReader::new(io, &client(deflate, 0), &[]);
        for want in &msgs {
            let got = loop {
                match reader.recv().await.unwrap() {
                    Message::Ping(p) => assert_eq!(&p[..], b"between"),
                    m => break m,
                }
            };
            assert_eq!(&got, want);
        }
        assert!(matches!(reader.recv().await, Err(WsError::Eof)));
        assert!(matches!(reader.recv().await, Err(WsError::Eof)), "sticky");
    }
}

/// Client and server engines over a duplex pipe, both directions, with and
/// without deflate (client window 10, no context takeover on both sides).
#[tokio::test]
async fn client_server_echo_over_duplex() {
    let params = DeflateParams {
        client_max_window_bits: 10,
        client_no_context_takeover: true,
        server_max_window_bits: 15,
        server_no_context_takeover: false,
    };
    for deflate in [None, Some(params)] {
        let (a, b) = tokio::io::duplex(1024);
        let mut c = WsStream::new(a, &client(deflate, 0), &[]);
        let mut s = WsStream::new(b, &server(deflate), &[]);
        let echo = tokio::spawn(async move {
            loop {
                match s.recv().await.unwrap() {
                    Message::Close(code, reason) => {
                        s.send(&Message::Close(code, reason)).await.unwrap();
                        return;
                    }
                    Message::Ping(p) => s.send(&Message::Pong(p)).await.unwrap(),
                    m => s.send(&m).await.unwrap(),
                }
            }
        });
        let big = Message::Binary(Bytes::from(vec![42u8; 200_000]));
        for m in [
            Message::Text("héllo".into()),
            big,
            Message::Ping(Bytes::from_static(b"p")),
        ] {
            c.send(&m).await.unwrap();
            let back = c.recv().await.unwrap();
            match m {
                Message::Ping(p) => assert_eq!(back, Message::Pong(p)),
                m => assert_eq!(back, m),
            }
        }
        c.writer.close(1000, "bye").await.unwrap();
        assert_eq!(
            c.recv().await.unwrap(),
            Message::Close(Some(1000), "bye".into())
        );
        let e = c.send(&Message::Text("late".into())).await.unwrap_err();
        assert_eq!(e.to_string(), "Cannot write to closing transport");
        echo.await.unwrap();
    }
}

/// What a client writes is masked, with a fresh mask per frame.
#[tokio::test]
async fn client_frames_are_masked() {
    let (a, mut b) = tokio::io::duplex(4096);
    let mut c = WsStream::new(a, &client(None, 0), &[]);
    c.send(&Message::Text("Hello".into())).await.unwrap();
    c.send(&Message::Text("Hello".into())).await.unwrap();
    let mut raw = BytesMut::new();
    while raw.len() < 22 {
        tokio::io::AsyncReadExt::read_buf(&mut b, &mut raw)
            .await
            .unwrap();
    }
    assert_eq!(raw[1], 0x85);
    assert_ne!(raw[2..6], raw[13..17], "masks differ");
    let dec = Decoder::new(Role::Server, false);
    let f = dec.decode(&mut raw, 0, 0).unwrap().unwrap();
    assert_eq!(&f.payload[..], b"Hello");
}

/// Control frames over 125 bytes are refused on send.
#[tokio::test]
async fn oversized_control_frame_refused() {
    let (a, _b) = tokio::io::duplex(4096);
    let mut c = WsStream::new(a, &client(None, 0), &[]);
    let e = c
        .send(&Message::Ping(Bytes::from(vec![0u8; 126])))
        .await
        .unwrap_err();
    assert!(matches!(e, WsError::Io(_)));
    c.send(&Message::Ping(Bytes::from(vec![0u8; 125])))
        .await
        .unwrap();
}

/// `recv_many` hands over all buffered messages at once, and keeps an error
/// that follows them for the next call. The first frames come from the
/// bytes read past the 101 head.
#[tokio::test]
async fn recv_many_and_read_ahead() {
    let mut wire = BytesMut::new();
    for t in ["a", "b", "c"] {
        frame::encode_frame(&mut wire, true, false, OP_TEXT, t.as_bytes(), None);
    }
    frame::encode_frame(&mut wire, true, false, 0x3, b"", None);
    let (a, _b) = tokio::io::duplex(64);
    let mut r = WsReader::new(a, &client(None, 0), &wire);
    let got = r.recv_many(2).await.unwrap();
    assert_eq!(
        got,
        vec![Message::Text("a".into()), Message::Text("b".into())]
    );
    let got = r.recv_many(100).await.unwrap();
    assert_eq!(got, vec![Message::Text("c".into())]);
    let e = r.recv_many(100).await.unwrap_err();
    assert_eq!(
        (e.close_code(), e.to_string().as_str()),
        (Some(1002), "Unexpected opcode=3")
    );
    assert!(r.next_buffered().is_err(), "sticky");
}

/// A frame announcing more than max_msg_size fails at its head, across
/// fragments too.
#[tokio::test]
async fn max_msg_size_on_the_stream() {
    let mut wire = BytesMut::new();
    frame::encode_frame(&mut wire, false, false, OP_BINARY, &[1u8; 60], None);
    wire.extend_from_slice(&[0x80, 0x7E, 0x00, 0x50]); // continuation of 80 bytes, none sent
    let (a, _b) = tokio::io::duplex(64);
    let mut r = WsReader::new(a, &client(None, 100), &wire);
    let e = r.recv().await.unwrap_err();
    assert_eq!(
        (e.close_code(), e.to_string().as_str()),
        (Some(1009), "Message size 140 exceeds limit 100")
    );
}

/// EOF in the middle of a frame is `Eof`.
#[tokio::test]
async fn eof_mid_frame() {
    let (a, b) = tokio::io::duplex(64);
    drop(b);
    let mut r = WsReader::new(a, &client(None, 0), &[0x81, 0x05, b'H']);
    assert!(matches!(r.recv().await, Err(WsError::Eof)));
}

/// A cancelled send leaves the rest of its frame buffered; the next send
/// writes it first, so the peer sees whole frames in order.
#[tokio::test]
async fn cancelled_send_does_not_tear_frames() {
    let (a, b) = tokio::io::duplex(64);
    let mut c = WsStream::new(a, &client(None, 0), &[]);
    let big = Message::Binary(Bytes::from(vec![5u8; 100_000]));
    let sent = tokio::time::timeout(std::time::Duration::from_millis(20), c.send(&big)).await;
    assert!(
        sent.is_err(),
        "the peer does not read yet: the send is cancelled"
    );
    let mut s = WsStream::new(b, &server(None), &[]);
    let peer = tokio::spawn(async move { (s.recv().await.unwrap(), s.recv().await.unwrap()) });
    c.send(&Message::Text("after".into())).await.unwrap();
    assert_eq!(peer.await.unwrap(), (big, Message::Text("after".into())));
}

/// `compress` window bits on one send: a one-off compressor, decoded by a
/// peer that keeps its context.
#[tokio::test]
async fn per_message_compression_override() {
    let (a, b) = tokio::io::duplex(1 << 16);
    let d = Some(DeflateParams::default());
    let mut c = WsStream::new(a, &client(d, 0), &[]);
    let mut s = WsStream::new(b, &server(d), &[]);
    let text = "abc".repeat(1000);
    c.writer
        .send_frame(OP_TEXT, text.as_bytes(), Some(9))
        .await
        .unwrap();
    c.writer
        .send_frame(OP_TEXT, text.as_bytes(), None)
        .await
        .unwrap();
    c.writer
        .send_frame(OP_TEXT, text.as_bytes(), None)
        .await
        .unwrap();
    for _ in 0..3 {
        assert_eq!(s.recv().await.unwrap(), Message::Text(text.clone()));
    }
}

/// Invalid text fails while its frame is still arriving (Autobahn 6.4.*):
/// the rest of the frame never comes, the error does.
#[tokio::test]
async fn invalid_text_fails_before_the_frame_ends() {
    let (a, mut b) = tokio::io::duplex(1024);
    let mut r = WsReader::new(a, &client(None, 0), &[]);
    let head = [0x81u8, 0x7E, 0x01, 0x00]; // text, 256 bytes announced
    tokio::io::AsyncWriteExt::write_all(&mut b, &head)
        .await
        .unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut b, "κόσμε".as_bytes())
        .await
        .unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut b, b"\xed\xa0\x80")
        .await
        .unwrap();
    let e = tokio::time::timeout(std::time::Duration::from_secs(5), r.recv())
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(e.close_code(), Some(1007));
}

/// An `AsyncRead` that hands out its bytes in one read, then would block;
/// it counts the reads.
struct Once {
    data: Vec<u8>,
    reads: std::rc::Rc<std::cell::Cell<usize>>,
}

impl AsyncRead for Once {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        self.reads.set(self.reads.get() + 1);
        if self.data.is_empty() {
            return Poll::Pending;
        }
        let data = std::mem::take(&mut self.data);
        buf.put_slice(&data);
        Poll::Ready(Ok(()))
    }
}

#[test]
fn messages_from_a_short_read_come_without_another_read() {
    let mut wire = BytesMut::new();
    for text in ["a", "b"] {
        frame::encode_frame(&mut wire, true, false, OP_TEXT, text.as_bytes(), None);
    }
    let reads = std::rc::Rc::new(std::cell::Cell::new(0));
    let io = Once {
        data: wire.to_vec(),
        reads: reads.clone(),
    };
    let mut r = WsReader::new(io, &client(None, 1 << 20), &[]);
    let mut cx = Context::from_waker(std::task::Waker::noop());
    match r.poll_recv_many(&mut cx, 256) {
        Poll::Ready(Ok(msgs)) => assert_eq!(msgs.len(), 2),
        other => panic!("expected two messages, got {other:?}"),
    }
    // One read gave both: no second read only to hear "would block".
    assert_eq!(reads.get(), 1);
    assert!(r.poll_recv_many(&mut cx, 256).is_pending());
    assert_eq!(reads.get(), 2);
}
