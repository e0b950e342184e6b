//! Request payloads and response decoding.

pub mod decode;
pub mod encode;
pub mod request;
pub mod upload;
