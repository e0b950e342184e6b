//! Decisions as pure functions, unit-tested without sockets.

pub mod auth;
pub mod decompress;
pub mod framing;
pub mod h2;
pub mod proxy;
pub mod redirect;
pub mod timeout;
