//! Decisions as pure functions, unit-tested without sockets.

pub mod decompress;
pub mod framing;
pub mod redirect;
pub mod timeout;
