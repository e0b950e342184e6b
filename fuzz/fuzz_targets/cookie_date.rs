//! Arbitrary bytes as a cookie date (RFC 6265 §5.1.1): never a panic; a
//! parse is deterministic; a date is within 1601-01-01 and 9999-12-31
//! 23:59:59 (later ones are clamped to it); formatting it as an
//! IMF-fixdate and parsing that gives the same time back, and the same
//! text again.
#![no_main]

use std::time::{Duration, UNIX_EPOCH};

use aioxide::cookie::{format_http_date, parse_cookie_date};
use libfuzzer_sys::fuzz_target;

/// 1601-01-01T00:00:00Z and 9999-12-31T23:59:59Z in Unix seconds.
const MIN_SECS: u64 = 11_644_473_600;
const MAX_SECS: u64 = 253_402_300_799;

fuzz_target!(|data: &[u8]| {
    let got = parse_cookie_date(data);
    assert_eq!(got, parse_cookie_date(data), "deterministic");
    let Some(t) = got else {
        return;
    };
    assert!(t >= UNIX_EPOCH - Duration::from_secs(MIN_SECS), "{t:?}");
    assert!(t <= UNIX_EPOCH + Duration::from_secs(MAX_SECS), "{t:?}");
    let text = format_http_date(t);
    assert_eq!(text.len(), 29, "{text:?}");
    let back = parse_cookie_date(text.as_bytes());
    assert_eq!(
        back,
        Some(t),
        "{text:?} from {:?}",
        String::from_utf8_lossy(data)
    );
    assert_eq!(format_http_date(t), text);
});
