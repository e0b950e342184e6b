//! What the engine knows of a request once sent, shared by responses and
//! errors (aiohttp's `request_info`).

use crate::fields::Fields;

/// The request as sent, for aiohttp's `request_info`.
#[derive(Debug, Clone)]
pub struct RequestInfo {
    pub method: String,
    pub url: String,
    /// Every header sent, the automatic ones included.
    pub headers: Fields,
}
