//! Request payloads and response decoding.

pub mod decode;
pub mod request;
