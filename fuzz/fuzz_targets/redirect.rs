//! A `Location` answered on a request URL: `redirect::step` never panics;
//! its answer is a URL the next hop accepts (`parse_dest` as a redirect:
//! http or https with a host) or a typed error (InvalidRedirectUrl,
//! NonHttpRedirectUrl); resolving the result again, against any base, is
//! the result itself (an absolute URL resolves to itself); requoting is
//! idempotent and keeps the URL valid, with the same origin.
#![no_main]

use aioxide::dest::parse_dest;
use aioxide::policy::redirect::{requote_target, resolve_location, step};
use aioxide::ErrorKind;
use libfuzzer_sys::fuzz_target;
use url::Url;

const BASES: [&str; 6] = [
    "http://example.com/a/b?c=d",
    "https://user:pw@example.com:8443/dir/",
    "http://127.0.0.1:8080/",
    "http://[::1]/x%20y",
    "https://xn--bcher-kva.example/%7Efoo/bar?q=%41",
    "http://h.example/p;x?y#z",
];
const STATUSES: [u16; 8] = [301, 302, 303, 307, 308, 300, 200, 304];
const METHODS: [&str; 4] = ["GET", "POST", "HEAD", "PUT"];

fuzz_target!(|data: &[u8]| {
    let Some((&ctl, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    // With bit 7, the text is "current\nlocation"; else a fixed base.
    let (current, location) = match (ctl & 0x80 != 0, text.split_once('\n')) {
        (true, Some((c, l))) => (c, l),
        _ => (BASES[usize::from(ctl & 7) % BASES.len()], text),
    };
    let status = STATUSES[usize::from(ctl >> 3 & 7)];
    let method = METHODS[usize::from(ctl >> 5 & 3)];
    for requote in [false, true] {
        match step(status, method, current, location, requote) {
            Ok(s) => {
                let u = Url::parse(&s.url).expect("a redirect result parses");
                let next = match parse_dest(&s.url, true) {
                    Ok(next) => next,
                    // A user name with `:` has no Basic form: aiohttp's
                    // ValueError when the hop is made, and only then.
                    Err(e) if e.kind == ErrorKind::InvalidArgument => {
                        let user = u.username().to_ascii_lowercase();
                        assert!(user.contains("%3a"), "{:?}: {e}", s.url);
                        continue;
                    }
                    Err(e) => panic!("{current:?} + {location:?} -> {:?}: {e}", s.url),
                };
                assert!(!next.host.is_empty());
                assert!(matches!(u.scheme(), "http" | "https"));
                for base in [BASES[0], BASES[3], current] {
                    if let Ok(b) = Url::parse(base) {
                        let again = resolve_location(&b, &s.url).expect("resolves again");
                        assert_eq!(again, u, "resolving {:?} again", s.url);
                    }
                }
                if requote {
                    assert_eq!(requote_target(&s.url), s.url, "requoting is idempotent");
                }
            }
            Err(e) => assert!(
                matches!(
                    e.kind,
                    ErrorKind::InvalidRedirectUrl | ErrorKind::NonHttpRedirectUrl
                ),
                "{:?}",
                e.kind
            ),
        }
    }
    // Requoting any valid URL keeps it valid, same origin; and is idempotent.
    if let Ok(cur) = Url::parse(current) {
        if let Ok(next) = resolve_location(&cur, location) {
            let once = requote_target(next.as_str());
            let twice = requote_target(&once);
            assert_eq!(once, twice, "requote of {:?}", next.as_str());
            let u = Url::parse(&once).unwrap_or_else(|e| panic!("{once:?}: {e}"));
            assert_eq!(u.origin(), next.origin());
        }
    }
});
