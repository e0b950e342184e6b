//! WebSocket protocol engine: RFC 6455 framing and RFC 7692 permessage-deflate,
//! over any byte stream.
//!
//! The engine knows nothing of HTTP requests: the opening handshake is a pair
//! of pure functions ([`handshake::request_headers`] to build the upgrade
//! request's headers, [`handshake::check_response`] to judge the `101`
//! answer, with aiohttp's messages), and the connection ([`WsStream`], or its
//! halves [`WsReader`] / [`WsWriter`]) runs over whatever upgraded stream the
//! request flow hands over, plus the bytes already read past the `101` head.
//!
//! Layers, bottom up:
//! - [`frame`]: frame encoding (masking) and a total, incremental decoder that
//!   checks every frame-level rule (reserved bits and opcodes, control frame
//!   size and fragmentation, masking direction, 64-bit lengths).
//! - [`deflate`]: permessage-deflate compression / bounded decompression.
//! - [`message`]: frames to messages (fragments, close payloads, incremental
//!   UTF-8 validation, `max_msg_size`).
//! - [`conn`]: the async reader and writer over a stream.
//!
//! Policies (autoping, autoclose, heartbeat, timeouts) belong to the caller.

pub mod conn;
pub mod deflate;
pub mod frame;
pub mod handshake;
pub mod message;

#[cfg(test)]
mod tests;

use std::fmt;
use std::io;
use std::sync::Arc;

use bytes::Bytes;

pub use conn::{Config, WsReader, WsStream, WsWriter};
pub use frame::Role;
pub use handshake::{DeflateParams, HandshakeError, Key, Negotiated};

/// Close codes used by the engine (RFC 6455 7.4.1, aiohttp's `WSCloseCode`).
pub mod close_code {
    /// Normal closure.
    pub const OK: u16 = 1000;
    /// A protocol rule was broken.
    pub const PROTOCOL_ERROR: u16 = 1002;
    /// Text that is not UTF-8 (or data inconsistent with its type).
    pub const INVALID_TEXT: u16 = 1007;
    /// A message bigger than the configured limit.
    pub const MESSAGE_TOO_BIG: u16 = 1009;
    /// The endpoint met an unexpected condition.
    pub const INTERNAL_ERROR: u16 = 1011;
}

/// One WebSocket message, as delivered to (or sent by) the user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    /// A text message, validated UTF-8.
    Text(String),
    /// A binary message.
    Binary(Bytes),
    /// A ping (payload of at most 125 bytes).
    Ping(Bytes),
    /// A pong (payload of at most 125 bytes).
    Pong(Bytes),
    /// A close frame: its code (`None` for an empty close payload) and reason.
    Close(Option<u16>, String),
}

/// A protocol violation by the peer: the close code to answer with and
/// aiohttp's `WebSocketError` message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProtocolError {
    /// Close code to send (1002, 1007, 1009...).
    pub code: u16,
    /// Human-readable message (aiohttp's wording where aiohttp has one).
    pub message: String,
}

impl ProtocolError {
    /// A protocol error with `code` and `message`.
    pub fn new(code: u16, message: impl Into<String>) -> ProtocolError {
        ProtocolError {
            code,
            message: message.into(),
        }
    }
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ProtocolError {}

/// Why a WebSocket read or write failed.
#[derive(Clone, Debug)]
pub enum WsError {
    /// The peer broke the protocol; close with `code`.
    Protocol(ProtocolError),
    /// The stream failed (shared so the error can be reported again).
    Io(Arc<io::Error>),
    /// The stream ended (EOF) before a message was complete, or with no more
    /// messages.
    Eof,
}

impl WsError {
    /// The close code this error calls for, if it is a protocol error.
    pub fn close_code(&self) -> Option<u16> {
        match self {
            WsError::Protocol(e) => Some(e.code),
            _ => None,
        }
    }
}

impl fmt::Display for WsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WsError::Protocol(e) => e.fmt(f),
            WsError::Io(e) => e.fmt(f),
            WsError::Eof => f.write_str("Connection closed"),
        }
    }
}

impl std::error::Error for WsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            WsError::Protocol(e) => Some(e),
            WsError::Io(e) => Some(&**e),
            WsError::Eof => None,
        }
    }
}

impl From<ProtocolError> for WsError {
    fn from(e: ProtocolError) -> WsError {
        WsError::Protocol(e)
    }
}

impl From<io::Error> for WsError {
    fn from(e: io::Error) -> WsError {
        WsError::Io(Arc::new(e))
    }
}

/// Fill `buf` with random bytes from the system CSPRNG (ring's
/// `SystemRandom`, i.e. `getrandom(2)`). Should the system source ever fail,
/// falls back to std's randomly keyed SipHash over time and a counter, so the
/// caller never has to handle an error for a mask or a key.
pub(crate) fn fill_random(buf: &mut [u8]) {
    use ring::rand::SecureRandom;
    if ring::rand::SystemRandom::new().fill(buf).is_ok() {
        return;
    }
    fallback_random(buf);
}

/// Weak fallback for [`fill_random`]: SipHash with std's random keys.
fn fallback_random(buf: &mut [u8]) {
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    for chunk in buf.chunks_mut(8) {
        let mut h = RandomState::new().build_hasher();
        h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
        if let Ok(t) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
            h.write_u128(t.as_nanos());
        }
        let v = h.finish().to_le_bytes();
        chunk.copy_from_slice(&v[..chunk.len()]);
    }
}
