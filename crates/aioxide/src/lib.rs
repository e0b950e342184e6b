//! aioxide: the engine of an aiohttp-compatible HTTP client.
//!
//! ```no_run
//! # async fn demo() -> Result<(), aioxide::Error> {
//! let client = aioxide::Client::default();
//! let mut resp = client.execute(aioxide::Request::get("http://127.0.0.1:8080/")).await?;
//! let body = resp.body.read_to_end().await?;
//! println!("{} {} bytes", resp.head.status, body.len());
//! # Ok(()) }
//! ```

pub mod body;
pub mod client;
pub mod connect;
pub mod cookie;
pub mod dest;
pub mod error;
pub mod events;
pub mod fields;
pub mod h1;
pub mod json;
pub mod loadgen;
pub mod policy;
pub mod pool;
pub mod request;
pub mod response;
pub mod run;
pub mod ws;

pub use client::{Client, ClientConfig, Request};
pub use connect::tls::TlsMode;
pub use error::{Error, ErrorKind};
pub use fields::Fields;
pub use policy::framing::HeadLimits;
pub use policy::timeout::Timeouts;
pub use response::{RequestInfo, Response, ResponseBody, ResponseHead};
