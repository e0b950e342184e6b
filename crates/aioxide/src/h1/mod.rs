//! The engine's own HTTP/1.1 client codec: httparse for heads, our own
//! request writer (header names as written) and a strict chunked decoder
//! that reports where each chunk ends.  hyper stays for HTTP/2.
//!
//! - `head.rs`: write a request head; parse a response head; the framing
//!   and keep-alive decisions of RFC 9112 (as hyper made them);
//! - `body.rs`: Content-Length, chunked and close-delimited bodies;
//! - `conn.rs`: a connection driven by its holder (no task of its own):
//!   `Conn::exchange` sends and reads the final head, `Reader` the body.

pub mod body;
pub mod conn;
pub mod head;

pub use body::Piece;
pub use conn::{Answer, Conn, Exchange, Reader};
pub use head::{Framing, RequestHead, ResponseHead};
