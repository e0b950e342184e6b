//! Drives a WebSocket reader (`aioxide::ws::WsReader`: frame decoder and
//! message assembler) over reads given in advance, then EOF, recording the
//! messages and how it ended, so that two splits of the same bytes can be
//! compared.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use aioxide::ws::frame::{encode_frame, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG, OP_TEXT};
use aioxide::ws::{Config, DeflateParams, Message, ProtocolError, Role, WsError, WsReader};
use bytes::BytesMut;
use tokio::io::{AsyncRead, ReadBuf};

/// A stream that answers each read with the next given piece (as much of it
/// as fits), then EOF. Empty pieces are skipped (a 0-byte read is EOF).
pub struct Reads(VecDeque<Vec<u8>>);

impl Reads {
    pub fn new(reads: &[&[u8]]) -> Reads {
        Reads(
            reads
                .iter()
                .filter(|r| !r.is_empty())
                .map(|r| r.to_vec())
                .collect(),
        )
    }
}

impl AsyncRead for Reads {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if let Some(front) = self.0.front_mut() {
            let n = front.len().min(buf.remaining());
            buf.put_slice(&front[..n]);
            front.drain(..n);
            if front.is_empty() {
                self.0.pop_front();
            }
        }
        Poll::Ready(Ok(()))
    }
}

/// How a read of WebSocket messages ended.
#[derive(Debug, PartialEq, Eq)]
pub enum WsEnd {
    Protocol(ProtocolError),
    Eof,
}

#[derive(Debug, PartialEq, Eq)]
pub struct WsRun {
    pub messages: Vec<Message>,
    pub end: WsEnd,
}

/// The reader's configuration from two control bytes.
pub fn ws_config(c0: u8, c1: u8) -> Config {
    const MAX: [usize; 8] = [0, 1, 2, 16, 125, 1000, 65_536, 4 << 20];
    Config {
        role: if c0 & 0x30 == 0x30 {
            Role::Server
        } else {
            Role::Client
        },
        max_msg_size: MAX[usize::from(c1 & 7)],
        deflate: (c0 & 0x40 != 0).then(DeflateParams::default),
    }
}

/// Read every message from `reads` then EOF, as `ws_connect`'s receive
/// loop does (`poll_recv_many`, up to `batch` messages a call).
pub fn run_ws(reads: &[&[u8]], config: &Config, batch: usize) -> WsRun {
    let mut r = WsReader::new(Reads::new(reads), config, &[]);
    let mut cx = Context::from_waker(Waker::noop());
    let mut messages = Vec::new();
    loop {
        match r.poll_recv_many(&mut cx, batch) {
            Poll::Ready(Ok(m)) => {
                assert!(!m.is_empty(), "an empty batch");
                assert!(m.len() <= batch.max(1));
                messages.extend(m);
            }
            Poll::Ready(Err(WsError::Protocol(e))) => {
                return WsRun {
                    messages,
                    end: WsEnd::Protocol(e),
                }
            }
            Poll::Ready(Err(WsError::Eof)) => {
                return WsRun {
                    messages,
                    end: WsEnd::Eof,
                }
            }
            Poll::Ready(Err(WsError::Io(e))) => panic!("an I/O error from memory: {e}"),
            Poll::Pending => panic!("pending on a stream that is always ready"),
        }
    }
}

/// Each message as one unfragmented, uncompressed frame, as a peer of
/// `role` receives it (masked when it is the server).
pub fn encode_messages(messages: &[Message], role: Role) -> Vec<u8> {
    let mut out = BytesMut::new();
    let mask = (role == Role::Server).then_some([0x37, 0xfa, 0x21, 0x3d]);
    for m in messages {
        let (op, payload): (u8, Vec<u8>) = match m {
            Message::Text(t) => (OP_TEXT, t.as_bytes().to_vec()),
            Message::Binary(b) => (OP_BINARY, b.to_vec()),
            Message::Ping(b) => (OP_PING, b.to_vec()),
            Message::Pong(b) => (OP_PONG, b.to_vec()),
            Message::Close(None, _) => (OP_CLOSE, Vec::new()),
            Message::Close(Some(code), reason) => {
                let mut p = code.to_be_bytes().to_vec();
                p.extend_from_slice(reason.as_bytes());
                (OP_CLOSE, p)
            }
        };
        encode_frame(&mut out, true, false, op, &payload, mask);
    }
    out.to_vec()
}
