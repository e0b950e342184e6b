//! Arbitrary bytes as `Set-Cookie` fields (one per line): never a panic;
//! a parse is deterministic and keeps RFC 6265bis's limits (name plus
//! value at most 4096 bytes, attribute values at most 1024, no control
//! character, a kept `Expires` is a cookie date, a kept `Max-Age` is
//! `-`? DIGIT+); name and value are trimmed slices of the field. Then the
//! fields go through a jar as one response: the `Cookie` header it makes
//! holds no CR, LF or NUL, stays within 8190 bytes and 150 cookies.
#![no_main]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aioxide::cookie::{
    parse_cookie_date, parse_set_cookie, CookieJar, JarConfig, SetCookie, Url,
    MAX_ATTRIBUTE_VALUE_LEN, MAX_COOKIES_PER_REQUEST, MAX_COOKIE_HEADER_LEN, MAX_NAME_VALUE_LEN,
};
use libfuzzer_sys::fuzz_target;

const URLS: [&str; 4] = [
    "http://home.example.org:8888/cookie-parser?x",
    "https://a.b.example.com/dir/page",
    "http://localhost/",
    "https://xn--bcher-kva.example/p/q/r",
];

fn is_ctl(b: u8) -> bool {
    matches!(b, 0x00..=0x08 | 0x0A..=0x1F | 0x7F)
}

fn check_attr(v: &Option<String>) {
    if let Some(v) = v {
        assert!(
            v.len() <= MAX_ATTRIBUTE_VALUE_LEN,
            "attribute of {}",
            v.len()
        );
        assert!(!v.bytes().any(is_ctl));
        assert_eq!(v.trim_matches([' ', '\t']), v, "trimmed");
    }
}

fn check_field(field: &[u8]) -> Option<SetCookie> {
    let got = parse_set_cookie(field);
    assert_eq!(got, parse_set_cookie(field), "deterministic");
    let c = got.ok()?;
    assert!(!c.name.is_empty());
    assert!(c.name.len() + c.value.len() <= MAX_NAME_VALUE_LEN);
    for s in [&c.name, &c.value] {
        assert!(!s.bytes().any(is_ctl));
        assert_eq!(s.trim_matches([' ', '\t']), s, "trimmed");
    }
    // Name and value come from before the first ';', around its first '='.
    let pair = field.split(|&b| b == b';').next().unwrap_or_default();
    let eq = pair
        .iter()
        .position(|&b| b == b'=')
        .expect("a name-value pair has '='");
    assert!(pair[..eq]
        .windows(c.name.len())
        .any(|w| w == c.name.as_bytes()));
    assert!(
        c.value.is_empty()
            || pair[eq + 1..]
                .windows(c.value.len())
                .any(|w| w == c.value.as_bytes())
    );
    for a in [
        &c.domain,
        &c.path,
        &c.expires,
        &c.max_age,
        &c.same_site,
        &c.comment,
        &c.version,
    ] {
        check_attr(a);
    }
    if let Some(e) = &c.expires {
        assert!(
            parse_cookie_date(e.as_bytes()).is_some(),
            "Expires kept: {e:?}"
        );
    }
    if let Some(m) = &c.max_age {
        let digits = m.strip_prefix('-').unwrap_or(m);
        assert!(
            !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()),
            "{m:?}"
        );
    }
    if let Some(d) = &c.domain {
        assert!(!d.is_empty());
    }
    Some(c)
}

fuzz_target!(|data: &[u8]| {
    let Some((&ctl, data)) = data.split_first() else {
        return;
    };
    let fields: Vec<&[u8]> = data.split(|&b| b == b'\n').collect();
    for f in &fields {
        check_field(f);
    }
    let url = Url::parse(URLS[usize::from(ctl & 3)]).unwrap();
    let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let mut jar = CookieJar::new(JarConfig {
        unsafe_: ctl & 4 != 0,
        quote_cookie: ctl & 8 != 0,
        treat_as_secure_origin: Vec::new(),
        limits: true,
    });
    jar.update_from_response(&url, &fields, now);
    for c in jar.iter() {
        assert!(c.name.len() + c.value.len() <= MAX_NAME_VALUE_LEN);
        assert!(c.domain.is_empty() || c.domain == c.domain.to_ascii_lowercase());
        assert!(!c.domain.starts_with('.'));
    }
    let later = now + Duration::from_secs(u64::from(ctl >> 4) * 86_400 * 400);
    for t in [now, later, SystemTime::UNIX_EPOCH] {
        if let Some(h) = jar.cookie_header(&url, t) {
            assert!(!h.is_empty());
            assert!(!h.bytes().any(|b| matches!(b, b'\r' | b'\n' | 0)), "{h:?}");
            assert!(
                b"Cookie: ".len() + h.len() <= MAX_COOKIE_HEADER_LEN,
                "{}",
                h.len()
            );
            assert!(jar.matching(&url, t).len() <= MAX_COOKIES_PER_REQUEST);
            assert!(h.split("; ").count() <= MAX_COOKIES_PER_REQUEST);
        }
    }
});
