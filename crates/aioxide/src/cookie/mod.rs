//! The cookie store: RFC 6265 parsing (§5.2), storage (§5.3) and the `Cookie`
//! header (§5.4), with aiohttp 3.14's `CookieJar` choices where the RFC leaves
//! room. Pure: no I/O, and the clock is an argument (`now`).
//!
//! # Use from the request path
//!
//! ```
//! use std::time::SystemTime;
//! use aioxide::cookie::{CookieJar, JarConfig};
//!
//! let mut jar = CookieJar::new(JarConfig::default());
//! let url = url::Url::parse("https://example.com/a/b").unwrap();
//! let now = SystemTime::now();
//! // For each response (each redirect hop too), with that response's URL:
//! jar.update_from_response(&url, [&b"sid=1; Path=/; Secure"[..]], now);
//! // Before each request (each redirect hop too):
//! assert_eq!(jar.cookie_header(&url, now).as_deref(), Some("sid=1"));
//! ```
//!
//! `cookie_header` on an empty jar is one length check: no allocation.
//!
//! # Decisions
//!
//! * Parsing is RFC 6265 §5.2 (which the IETF http-state suite tests), not
//!   aiohttp's `SimpleCookie`-based parser: a quoted value ends at the first
//!   `;`, names are not restricted to a token, and a field without `=` is
//!   ignored. From RFC 6265bis: a field with a control character other than
//!   HTAB is ignored whole, name plus value may not exceed 4096 bytes, and an
//!   attribute value over 1024 bytes is ignored (aiohttp has the same limits).
//! * Values are stored as received, quotes included ([`unquote`] gives
//!   aiohttp's `Morsel.value`); see [`encode_value`] for `quote_cookie`.
//! * A `Domain` that is a public suffix (the compiled-in list of the `psl`
//!   crate, private section included; an unknown TLD counts as a suffix, as
//!   the PSL's `*` rule says) is refused unless it is the request host itself,
//!   which then gets a host-only cookie (§5.3 step 5). aiohttp has no such
//!   check.
//! * A `Domain` with a trailing dot is refused (it does not domain-match);
//!   aiohttp stores it as a host-only cookie.
//! * Cookies are identified by (name, domain, path) exactly (§5.3 step 11):
//!   `/a` and `/a/` are two cookies, where aiohttp merges them.
//! * Responses from an IP-address host set no cookie unless `unsafe_`, and
//!   requests to one get only shared cookies then (as aiohttp).
//! * `Secure` cookies are accepted from any origin (RFC 6265 and aiohttp; RFC
//!   6265bis would refuse them from `http:`) and sent only to `https`, `wss`
//!   and the `treat_as_secure_origin` origins.
//! * No 400-day cap on expiry (RFC 6265bis; aiohttp has none either); dates
//!   past 9999-12-31 are clamped to it.
//! * Limits as aiohttp (Firefox's): 50 cookies per response; 180 per domain
//!   (evicting to 150: expired first, then least recently used non-Secure, and
//!   Secure ones only for a new Secure cookie); 3300 in all (evicting to
//!   3000); a request carries at most 150 cookies and a `Cookie` header of at
//!   most 8190 bytes, the most specific cookies first.
//! * Shared cookies (no Domain, inserted with no URL: aiohttp's
//!   `update_cookies(cookies)` without `response_url`) go to every host,
//!   path-matched; aiohttp sends only those with the root path.

mod date;
mod parse;
mod persist;
mod quote;
mod store;
#[cfg(test)]
mod tests;

pub use date::{format_http_date, parse_cookie_date};
pub use parse::{
    parse_set_cookie, CookieRejected, SetCookie, MAX_ATTRIBUTE_VALUE_LEN, MAX_NAME_VALUE_LEN,
};
pub use persist::CookieJsonError;
pub use quote::{encode_value, unquote};
pub use store::{
    default_path, domain_match, is_public_suffix, path_match, CookieJar, CookieTarget, JarConfig,
    Stored, StoredCookie, MAX_COOKIES_PER_DOMAIN, MAX_COOKIES_PER_REQUEST,
    MAX_COOKIES_PER_RESPONSE, MAX_COOKIES_TOTAL, MAX_COOKIE_HEADER_LEN,
};
/// The URL type the jar takes, for callers without their own `url` dependency.
pub use url::Url;
