//! Unit tests of the jar: matching rules, storage model, header, limits, JSON.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use url::Url;

use super::*;

fn t(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000 + secs)
}

fn url(s: &str) -> Url {
    Url::parse(s).expect("test URL")
}

fn jar() -> CookieJar {
    CookieJar::new(JarConfig::default())
}

fn set(jar: &mut CookieJar, from: &str, fields: &[&str], now: SystemTime) -> usize {
    jar.update_from_response(&url(from), fields.iter().map(|f| f.as_bytes()), now)
}

fn header(jar: &CookieJar, to: &str, now: SystemTime) -> Option<String> {
    jar.cookie_header(&url(to), now)
}

#[test]
fn domain_matching() {
    assert!(domain_match("example.com", "example.com"));
    assert!(domain_match("a.b.example.com", "example.com"));
    assert!(!domain_match("aexample.com", "example.com"));
    assert!(!domain_match("example.com", "a.example.com"));
    assert!(!domain_match("1.2.3.4", "2.3.4"));
    assert!(domain_match("1.2.3.4", "1.2.3.4"));
}

#[test]
fn path_matching() {
    assert!(path_match("/", "/"));
    assert!(path_match("/a", "/"));
    assert!(path_match("/a/b", "/a"));
    assert!(path_match("/a/", "/a"));
    assert!(path_match("/a/b", "/a/"));
    assert!(!path_match("/ab", "/a"));
    assert!(!path_match("/a", "/a/"));
    assert!(!path_match("/A", "/a"));
}

#[test]
fn default_paths() {
    assert_eq!(default_path(""), "/");
    assert_eq!(default_path("x"), "/");
    assert_eq!(default_path("/"), "/");
    assert_eq!(default_path("/a"), "/");
    assert_eq!(default_path("/a/b"), "/a");
    assert_eq!(default_path("/a/b/"), "/a/b");
}

#[test]
fn public_suffixes() {
    for d in ["com", "co.uk", "github.io", "localhost", "org."] {
        assert!(is_public_suffix(d), "{d}");
    }
    for d in [
        "example.com",
        "foo.co.uk",
        "foo.localhost",
        "127.0.0.1",
        "::1",
        "",
    ] {
        assert!(!is_public_suffix(d), "{d}");
    }
}

#[test]
fn host_only_and_domain_cookies() {
    let mut j = jar();
    set(
        &mut j,
        "http://a.example.com/",
        &["h=1", "d=2; Domain=example.com"],
        t(0),
    );
    assert_eq!(
        header(&j, "http://a.example.com/", t(1)).as_deref(),
        Some("h=1; d=2")
    );
    assert_eq!(
        header(&j, "http://b.a.example.com/", t(1)).as_deref(),
        Some("d=2")
    );
    assert_eq!(
        header(&j, "http://example.com/", t(1)).as_deref(),
        Some("d=2")
    );
    assert_eq!(header(&j, "http://notexample.com/", t(1)), None);
    let hosts: Vec<(bool, &str)> = j.iter().map(|c| (c.host_only, c.domain.as_str())).collect();
    assert_eq!(hosts, [(true, "a.example.com"), (false, "example.com")]);
}

#[test]
fn refused_domains() {
    let mut j = jar();
    let from = url("http://a.example.com/");
    let r = |j: &mut CookieJar, d: &str| {
        let mut c = SetCookie::new("n", "v");
        c.domain = Some(d.to_owned());
        j.insert(Some(&from), c, t(0))
    };
    assert_eq!(r(&mut j, "com"), Err(CookieRejected::PublicSuffix));
    assert_eq!(r(&mut j, ".com"), Err(CookieRejected::PublicSuffix));
    assert_eq!(
        r(&mut j, "b.example.com"),
        Err(CookieRejected::DomainMismatch)
    );
    assert_eq!(
        r(&mut j, "a.example.com."),
        Err(CookieRejected::DomainMismatch)
    );
    assert_eq!(r(&mut j, "other.org"), Err(CookieRejected::DomainMismatch));
    assert_eq!(r(&mut j, "A.Example.COM"), Ok(Stored::Added));
    assert!(
        j.is_empty()
            || j.iter()
                .all(|c| c.domain == "a.example.com" && !c.host_only)
    );
}

#[test]
fn public_suffix_host_gets_a_host_only_cookie() {
    // §5.3 step 5: Domain equal to the request host, which is a public suffix.
    let mut j = jar();
    set(
        &mut j,
        "https://github.io/",
        &["a=1; Domain=github.io"],
        t(0),
    );
    assert_eq!(
        header(&j, "https://github.io/", t(1)).as_deref(),
        Some("a=1")
    );
    assert_eq!(header(&j, "https://x.github.io/", t(1)), None);
    assert!(j.iter().all(|c| c.host_only));
}

#[test]
fn idna_domain_attribute() {
    let mut j = jar();
    let from = url("http://www.bücher.example/");
    assert_eq!(from.host_str(), Some("www.xn--bcher-kva.example"));
    let mut c = SetCookie::new("n", "v");
    c.domain = Some("Bücher.example".to_owned());
    assert_eq!(j.insert(Some(&from), c, t(0)), Ok(Stored::Added));
    assert_eq!(
        header(&j, "http://xn--bcher-kva.example/", t(1)).as_deref(),
        Some("n=v")
    );
}

#[test]
fn replacing_keeps_creation_time() {
    let mut j = jar();
    set(&mut j, "http://example.com/", &["a=1"], t(0));
    set(&mut j, "http://example.com/", &["b=2"], t(10));
    set(&mut j, "http://example.com/", &["a=3; HttpOnly"], t(20));
    assert_eq!(
        header(&j, "http://example.com/", t(30)).as_deref(),
        Some("a=3; b=2")
    );
    let a = j.iter().find(|c| c.name == "a").expect("a");
    assert_eq!(a.creation, t(0));
    assert!(a.http_only);
    assert_eq!(j.len(), 2);
}

#[test]
fn ordering_longer_paths_then_creation() {
    let mut j = jar();
    set(
        &mut j,
        "http://example.com/x/y",
        &[
            "root=1; Path=/",
            "deep=2; Path=/x/y",
            "mid=3",
            "root2=4; Path=/",
        ],
        t(0),
    );
    assert_eq!(
        header(&j, "http://example.com/x/y/z", t(1)).as_deref(),
        Some("deep=2; mid=3; root=1; root2=4")
    );
    // Same name, different paths: both are sent, the longer path first.
    set(
        &mut j,
        "http://example.com/",
        &["d=a; Path=/x", "d=b; Path=/x/"],
        t(1),
    );
    let got: Vec<(String, String)> = j
        .matching(&url("http://example.com/x/q"), t(2))
        .into_iter()
        .filter(|c| c.name == "d")
        .map(|c| (c.path.clone(), c.value.clone()))
        .collect();
    assert_eq!(
        got,
        [
            ("/x/".to_owned(), "b".to_owned()),
            ("/x".to_owned(), "a".to_owned())
        ]
    );
}

#[test]
fn expiry_and_deletion() {
    let mut j = jar();
    set(
        &mut j,
        "http://example.com/",
        &["a=1; Max-Age=10", "b=2"],
        t(0),
    );
    assert_eq!(
        header(&j, "http://example.com/", t(9)).as_deref(),
        Some("a=1; b=2")
    );
    assert_eq!(
        header(&j, "http://example.com/", t(10)).as_deref(),
        Some("b=2")
    );
    assert_eq!(j.len(), 2);
    assert_eq!(j.clear_expired(t(10)), 1);
    // An expiry in the past deletes.
    set(
        &mut j,
        "http://example.com/",
        &["b=x; Expires=Thu, 01 Jan 1970 00:00:00 GMT"],
        t(11),
    );
    assert!(j.is_empty());
    set(&mut j, "http://example.com/", &["c=1"], t(12));
    assert_eq!(
        j.insert(
            Some(&url("http://example.com/")),
            {
                let mut c = SetCookie::new("c", "");
                c.max_age = Some("0".into());
                c
            },
            t(13)
        ),
        Ok(Stored::Expired)
    );
    assert!(j.is_empty());
}

#[test]
fn max_age_wins_over_expires() {
    let mut j = jar();
    set(
        &mut j,
        "http://example.com/",
        &["a=1; Max-Age=100; Expires=Thu, 01 Jan 1970 00:00:00 GMT"],
        t(0),
    );
    let c = j.iter().next().expect("stored");
    assert_eq!(c.expires, Some(t(100)));
    assert_eq!(c.max_age.as_deref(), Some("100"));
    assert_eq!(
        c.expires_attr.as_deref(),
        Some("Thu, 01 Jan 1970 00:00:00 GMT")
    );
    // A huge Max-Age is clamped, not an overflow.
    set(
        &mut j,
        "http://example.com/",
        &["b=1; Max-Age=99999999999999999999"],
        t(0),
    );
    assert!(j.iter().any(|c| c.name == "b" && c.expires.is_some()));
}

#[test]
fn secure_cookies_go_to_secure_origins_only() {
    let mut j = CookieJar::new(JarConfig {
        treat_as_secure_origin: vec![("HTTP".into(), "LocalHost".into(), 8080)],
        ..JarConfig::default()
    });
    // Accepted from http (aiohttp and RFC 6265 do).
    set(
        &mut j,
        "http://localhost:8080/",
        &["s=1; Secure", "p=2"],
        t(0),
    );
    set(&mut j, "http://example.com/", &["s=1; Secure", "p=2"], t(0));
    assert_eq!(
        header(&j, "http://example.com/", t(1)).as_deref(),
        Some("p=2")
    );
    assert_eq!(
        header(&j, "https://example.com/", t(1)).as_deref(),
        Some("s=1; p=2")
    );
    assert_eq!(
        header(&j, "wss://example.com/", t(1)).as_deref(),
        Some("s=1; p=2")
    );
    assert_eq!(
        header(&j, "http://localhost:8080/", t(1)).as_deref(),
        Some("s=1; p=2")
    );
    assert_eq!(
        header(&j, "http://localhost:8081/", t(1)).as_deref(),
        Some("p=2")
    );
}

#[test]
fn ip_hosts() {
    let mut j = jar();
    assert_eq!(set(&mut j, "http://127.0.0.1/", &["a=1"], t(0)), 0);
    assert_eq!(
        j.insert(Some(&url("http://[::1]/")), SetCookie::new("a", "1"), t(0)),
        Err(CookieRejected::IpAddressHost)
    );
    assert!(j.is_empty());

    let mut j = CookieJar::new(JarConfig {
        unsafe_: true,
        ..JarConfig::default()
    });
    set(
        &mut j,
        "http://127.0.0.1/",
        &["a=1", "b=2; Domain=127.0.0.1", "c=3; Domain=0.0.1"],
        t(0),
    );
    set(&mut j, "http://[::1]:8080/", &["v6=1"], t(0));
    assert_eq!(
        header(&j, "http://127.0.0.1:9/", t(1)).as_deref(),
        Some("a=1; b=2")
    );
    assert_eq!(header(&j, "http://10.0.0.1/", t(1)), None);
    assert_eq!(header(&j, "http://[::1]/", t(1)).as_deref(), Some("v6=1"));
    assert!(j.iter().any(|c| c.domain == "::1"));
}

#[test]
fn shared_cookies_without_url() {
    let mut j = jar();
    j.insert(None, SetCookie::new("s", "1"), t(0))
        .expect("shared");
    let mut c = SetCookie::new("d", "2");
    c.domain = Some(".Example.com".into());
    j.insert(None, c, t(0)).expect("domain without URL");
    let mut c = SetCookie::new("tld", "3");
    c.domain = Some("com".into());
    assert_eq!(j.insert(None, c, t(0)), Err(CookieRejected::PublicSuffix));
    assert_eq!(
        header(&j, "http://anything.org/x", t(1)).as_deref(),
        Some("s=1")
    );
    assert_eq!(
        header(&j, "http://127.0.0.1/", t(1)).as_deref(),
        Some("s=1")
    );
    assert_eq!(
        header(&j, "http://a.example.com/", t(1)).as_deref(),
        Some("s=1; d=2")
    );
    let shared = j.iter().find(|c| c.name == "s").expect("s");
    assert_eq!((shared.domain.as_str(), shared.host_only), ("", false));
}

#[test]
fn quoting() {
    let mut j = jar();
    set(
        &mut j,
        "http://example.com/",
        &["a=x y", "b=\"q q\"", "c=", "d=plain", "e=a,b"],
        t(0),
    );
    assert_eq!(
        header(&j, "http://example.com/", t(1)).as_deref(),
        Some("a=\"x y\"; b=\"q q\"; c=; d=plain; e=\"a\\054b\"")
    );
    let mut j = CookieJar::new(JarConfig {
        quote_cookie: false,
        ..JarConfig::default()
    });
    set(&mut j, "http://example.com/", &["a=x y", "b=\"q q\""], t(0));
    assert_eq!(
        header(&j, "http://example.com/", t(1)).as_deref(),
        Some("a=x y; b=\"q q\"")
    );
}

#[test]
fn clearing() {
    let mut j = jar();
    set(
        &mut j,
        "http://example.com/",
        &["a=1", "w=1; Domain=example.com"],
        t(0),
    );
    set(&mut j, "http://sub.example.com/", &["b=1"], t(0));
    set(&mut j, "http://notexample.com/", &["c=1"], t(0));
    assert_eq!(j.clear_domain(".EXAMPLE.com"), 3);
    assert_eq!(j.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), ["c"]);
    assert_eq!(j.clear(|c| c.name == "c"), 1);
    assert!(j.is_empty());
    assert_eq!(header(&j, "http://notexample.com/", t(1)), None);
    set(&mut j, "http://example.com/", &["a=1"], t(0));
    j.clear_all();
    assert_eq!(j.len(), 0);
}

#[test]
fn response_limit() {
    let mut j = jar();
    let fields: Vec<String> = (0..60).map(|i| format!("c{i}=v")).collect();
    let n = j.update_from_response(
        &url("http://example.com/"),
        fields.iter().map(String::as_bytes),
        t(0),
    );
    assert_eq!(n, MAX_COOKIES_PER_RESPONSE);
    assert_eq!(j.len(), MAX_COOKIES_PER_RESPONSE);
}

fn fill(j: &mut CookieJar, host: &str, prefix: &str, n: usize, extra: &str, now: SystemTime) {
    let from = url(&format!("https://{host}/"));
    for i in 0..n {
        let field = format!("{prefix}{i}=v{extra}");
        j.update_from_response(&from, [field.as_bytes()], now);
    }
}

#[test]
fn per_domain_eviction_least_recently_used_first() {
    let mut j = jar();
    fill(&mut j, "example.com", "c", MAX_COOKIES_PER_DOMAIN, "", t(0));
    assert_eq!(j.len(), MAX_COOKIES_PER_DOMAIN);
    // Use c0 so it is the most recently used.
    j.update_from_response(&url("https://example.com/"), [&b"c0=again"[..]], t(1));
    set(&mut j, "https://example.com/", &["new=1"], t(2));
    assert_eq!(j.len(), 150);
    let names: Vec<&str> = j.iter().map(|c| c.name.as_str()).collect();
    assert!(names.contains(&"c0") && names.contains(&"new") && !names.contains(&"c1"));
}

#[test]
fn a_domain_full_of_secure_cookies_refuses_plain_ones() {
    let mut j = jar();
    fill(
        &mut j,
        "example.com",
        "s",
        MAX_COOKIES_PER_DOMAIN,
        "; Secure",
        t(0),
    );
    assert_eq!(
        j.insert(
            Some(&url("https://example.com/")),
            SetCookie::new("plain", "1"),
            t(1)
        ),
        Err(CookieRejected::DomainFull)
    );
    let mut c = SetCookie::new("sec", "1");
    c.secure = true;
    assert_eq!(
        j.insert(Some(&url("https://example.com/")), c, t(1)),
        Ok(Stored::Added)
    );
    assert_eq!(j.len(), 150);
}

#[test]
fn total_eviction() {
    let mut j = jar();
    for d in 0..(MAX_COOKIES_TOTAL / 150) {
        fill(&mut j, &format!("d{d}.example.com"), "c", 150, "", t(0));
    }
    assert_eq!(j.len(), MAX_COOKIES_TOTAL);
    set(&mut j, "https://last.example.com/", &["x=1"], t(1));
    assert_eq!(j.len(), 3001);
    assert!(j.iter().any(|c| c.name == "x"));
}

#[test]
fn a_jar_without_limits_keeps_and_sends_all() {
    // A request's own cookies= (aiohttp's jar for them has no limits).
    let mut j = CookieJar::new(JarConfig {
        limits: false,
        ..JarConfig::default()
    });
    fill(
        &mut j,
        "example.com",
        "c",
        MAX_COOKIES_PER_DOMAIN + 10,
        "",
        t(0),
    );
    assert_eq!(j.len(), MAX_COOKIES_PER_DOMAIN + 10);
    let sent = j.matching(&url("https://example.com/"), t(1));
    assert_eq!(sent.len(), MAX_COOKIES_PER_DOMAIN + 10);
    let long = "x".repeat(MAX_NAME_VALUE_LEN + 1);
    assert!(j
        .insert(
            Some(&url("https://example.com/")),
            SetCookie::new("long", &long),
            t(1)
        )
        .is_ok());
}

#[test]
fn per_request_limits() {
    let mut j = jar();
    fill(&mut j, "example.com", "c", 160, "", t(0));
    let sent = j.matching(&url("https://example.com/"), t(1));
    assert_eq!(sent.len(), MAX_COOKIES_PER_REQUEST);

    let mut j = jar();
    let big = "x".repeat(3000);
    set(
        &mut j,
        "https://a.example.com/",
        &[&format!("p={big}; Domain=example.com")],
        t(0),
    );
    set(
        &mut j,
        "https://a.example.com/",
        &[&format!("q={big}"), &format!("r={big}")],
        t(1),
    );
    let h = header(&j, "https://a.example.com/", t(2)).expect("header");
    // The host's own cookies are admitted before the parent domain's.
    assert!(h.starts_with("q=") && h.contains("; r=") && !h.contains("p="));
    assert!(h.len() + "Cookie: ".len() <= MAX_COOKIE_HEADER_LEN);
}

#[test]
fn empty_jar_and_odd_targets() {
    let j = jar();
    assert_eq!(header(&j, "http://example.com/", t(0)), None);
    let mut j = jar();
    set(&mut j, "http://example.com/", &["a=1"], t(0));
    let target = CookieTarget {
        scheme: "HTTP",
        host: "EXAMPLE.com",
        port: 80,
        path: "",
    };
    assert_eq!(
        j.cookie_header_target(&target, t(1)).as_deref(),
        Some("a=1")
    );
    assert_eq!(header(&j, "file:///etc/passwd", t(1)), None);
}

#[test]
fn unsendable_api_cookies_are_refused() {
    let raw = JarConfig {
        quote_cookie: false,
        ..JarConfig::default()
    };
    let from = url("http://example.com/");
    for (config, pairs) in [
        (
            JarConfig::default(),
            &[("a;b", "1"), ("a=b", "1"), ("", "1")][..],
        ),
        (raw, &[("a", "x;y"), ("a", "x\ny"), ("a;b", "1")][..]),
    ] {
        let mut j = CookieJar::new(config);
        for (n, v) in pairs {
            assert!(
                j.insert(Some(&from), SetCookie::new(*n, *v), t(0)).is_err(),
                "{n:?}={v:?}"
            );
        }
        assert!(j.is_empty());
    }
}

#[test]
fn api_values_are_quoted_when_they_must_be_at_any_length() {
    // aiohttp's update_cookies: SimpleCookie codes the value; no 4096 limit
    // (a control character is refused: see the test below).
    let mut j = jar();
    let from = url("http://example.com/");
    let big = "x".repeat(5000);
    for (n, v) in [("semi", "a;b"), ("sp", "x y"), ("big", big.as_str())] {
        assert!(j.insert(Some(&from), SetCookie::new(n, v), t(0)).is_ok());
    }
    let sent = header(&j, "http://example.com/", t(1)).unwrap();
    assert!(sent.contains("semi=\"a\\073b\""), "{sent}");
    assert!(sent.contains("sp=\"x y\""), "{sent}");
    assert!(sent.contains(&format!("big={big}")));
}

#[test]
fn json_roundtrip() {
    let mut j = CookieJar::new(JarConfig {
        unsafe_: true,
        ..JarConfig::default()
    });
    set(
        &mut j,
        "https://a.example.com/p/q",
        &[
            "h=\"quoted\\054v\"; Secure; HttpOnly; SameSite=Lax; Max-Age=1000",
            "d=2; Domain=example.com; Path=/; Partitioned",
            "gone=1; Max-Age=5",
        ],
        t(0),
    );
    set(&mut j, "http://127.0.0.1/", &["ip=1"], t(1));
    j.insert(None, SetCookie::new("shared", "s"), t(2))
        .expect("shared");
    let json = j.to_json();
    let v: serde_json::Value = serde_json::from_str(&json).expect("valid JSON");
    let rec = &v["a.example.com|/p"]["h"];
    assert_eq!(rec["value"], "quoted,v");
    assert_eq!(rec["coded_value"], "\"quoted\\054v\"");
    assert_eq!(rec["host_only"], true);
    assert_eq!(rec["samesite"], "Lax");

    let back = CookieJar::from_json(j.config().clone(), &json, t(10)).expect("load");
    let strip = |c: &StoredCookie| {
        let mut c = c.clone();
        // Relative attributes are not saved (aiohttp neither); the deadline is.
        c.max_age = None;
        c.expires_attr = None;
        c
    };
    let want: Vec<StoredCookie> = j.iter().filter(|c| c.name != "gone").map(strip).collect();
    let got: Vec<StoredCookie> = back.iter().cloned().collect();
    assert_eq!(got, want);
    assert_eq!(
        back.cookie_header(&url("https://a.example.com/p/x"), t(11)),
        j.cookie_header(&url("https://a.example.com/p/x"), t(11))
    );

    // The same file into a jar that refuses IP hosts.
    let safe = CookieJar::from_json(JarConfig::default(), &json, t(10)).expect("load");
    assert!(safe.iter().all(|c| c.name != "ip"));
}

#[test]
fn json_from_aiohttp() {
    // As aiohttp 3.14's CookieJar.save writes it.
    let json = r#"{
      "example.com|": {"a": {"key": "a", "value": "1", "coded_value": "1",
                              "path": "/", "domain": "example.com", "host_only": true}},
      "example.org|/x": {"b": {"key": "b", "value": "2", "coded_value": "2",
                              "path": "/x", "domain": "example.org", "secure": true,
                              "expires_timestamp": 1700000100.0}},
      "evil.com|": {"c": {"key": "c", "value": "3", "coded_value": "3",
                              "path": "/", "domain": "bank.com"}}
    }"#;
    let j = CookieJar::from_json(JarConfig::default(), json, t(0)).expect("load");
    assert_eq!(
        header(&j, "http://example.com/", t(1)).as_deref(),
        Some("a=1")
    );
    assert_eq!(header(&j, "http://sub.example.com/", t(1)), None);
    assert_eq!(header(&j, "http://www.example.org/x", t(1)), None);
    assert_eq!(
        header(&j, "https://www.example.org/x", t(1)).as_deref(),
        Some("b=2")
    );
    assert_eq!(header(&j, "https://www.example.org/x", t(100)), None);
    assert_eq!(j.len(), 2);
    // The key's domain is the host the cookie came from: evil.com can't plant
    // a cookie for bank.com.
    assert_eq!(header(&j, "http://bank.com/", t(1)), None);

    for bad in [
        "[]",
        "{\"x\": 1}",
        "{\"nopipe\": {}}",
        "not json",
        "{\"a|/\": {\"n\": {\"expires_timestamp\": \"x\"}}}",
    ] {
        assert!(
            CookieJar::from_json(JarConfig::default(), bad, t(0)).is_err(),
            "{bad}"
        );
    }
}

#[test]
fn jar_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<CookieJar>();
}

#[test]
fn filter_keeps_the_most_specific_of_each_name() {
    let mut j = jar();
    set(
        &mut j,
        "http://www.example.com/a/b",
        &[
            "n=parent-deep; Domain=example.com; Path=/a",
            "n=host-root; Path=/",
            "m=1; Path=/a",
            "m=2; Path=/a/",
        ],
        t(0),
    );
    let got: Vec<(String, String)> = j
        .filter(&url("http://www.example.com/a/b"), t(1))
        .into_iter()
        .map(|c| (c.name.clone(), c.value.clone()))
        .collect();
    // The host's own cookie beats a longer path on the parent domain; of two
    // paths on one domain the longer wins. Header order is kept.
    assert_eq!(
        got,
        [
            ("m".to_owned(), "2".to_owned()),
            ("n".to_owned(), "host-root".to_owned())
        ]
    );
}

#[test]
fn a_cookie_given_from_code_with_a_control_character_is_refused() {
    // aiohttp 3.14.5 drops it (quoted, it would go as an octal escape);
    // HTAB too. The others are kept.
    let mut j = jar();
    let from = url("http://example.com/");
    for (name, value) in [
        ("a", "x\0y"),
        ("t", "t\tt"),
        ("n", "l\nf"),
        ("d", "\x7f"),
        ("b\x01", "1"),
    ] {
        assert_eq!(
            j.insert(Some(&from), SetCookie::new(name, value), t(0)),
            Err(CookieRejected::ControlCharacter),
            "{name:?}={value:?}"
        );
    }
    assert_eq!(
        j.insert(Some(&from), SetCookie::new("ok", "a;b c"), t(0)),
        Ok(Stored::Added)
    );
    assert_eq!(j.len(), 1);
    // A request's own cookies (no limits) go quoted, as aiohttp sends them.
    let mut own = CookieJar::new(JarConfig {
        limits: false,
        ..JarConfig::default()
    });
    let added = own.insert(Some(&from), SetCookie::new("a", "x\0y"), t(0));
    assert_eq!(added, Ok(Stored::Added));
    let sent = header(&own, "http://example.com/", t(1));
    assert_eq!(sent.as_deref(), Some("a=\"x\\000y\""));
}
