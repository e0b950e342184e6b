//! `Set-Cookie` parsing: RFC 6265 §5.2, with the limits of RFC 6265bis.

use super::date::parse_cookie_date;

/// The longest name plus value kept (RFC 6265bis §5.6, step 5; aiohttp's limit too).
pub const MAX_NAME_VALUE_LEN: usize = 4096;
/// The longest attribute value kept; a longer attribute is ignored (RFC 6265bis §5.6).
pub const MAX_ATTRIBUTE_VALUE_LEN: usize = 1024;

/// One cookie as a `Set-Cookie` field gives it, before the storage model (§5.3)
/// decides about it. The parser fills it; the Python jar builds one from a
/// `Morsel` and hands it to [`super::CookieJar::insert`].
///
/// Attribute values are kept as given (trimmed); the jar interprets them:
/// `domain` loses a leading `.` and is lowercased, a `path` that does not start
/// with `/` means the default path, `expires` is parsed with the §5.1.1
/// algorithm and `max_age` with §5.2.2 (where either fails, it is ignored).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SetCookie {
    pub name: String,
    /// The value exactly as received (quotes included): RFC 6265 gives quotes
    /// no meaning, and it is what is sent back.
    pub value: String,
    /// The last non-empty `Domain` attribute.
    pub domain: Option<String>,
    /// The last `Path` attribute (possibly empty).
    pub path: Option<String>,
    /// The last `Expires` attribute that parses as a cookie date.
    pub expires: Option<String>,
    /// The last valid `Max-Age` attribute (`-`? DIGIT+).
    pub max_age: Option<String>,
    pub secure: bool,
    pub http_only: bool,
    pub partitioned: bool,
    /// The last `SameSite` attribute, as given (not enforced by a client).
    pub same_site: Option<String>,
    /// Obsolete RFC 2109 attributes that aiohttp's `Morsel` keeps.
    pub comment: Option<String>,
    pub version: Option<String>,
}

impl SetCookie {
    /// A cookie with no attributes.
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Self {
        SetCookie {
            name: name.into(),
            value: value.into(),
            ..SetCookie::default()
        }
    }
}

/// Why a `Set-Cookie` field (or a cookie handed to the jar) was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CookieRejected {
    /// A control character other than HTAB (RFC 6265bis §5.6 step 1).
    ControlCharacter,
    /// The name-value pair has no `=` (RFC 6265 §5.2 step 2).
    NoEquals,
    /// The name is empty.
    EmptyName,
    /// Name plus value longer than [`MAX_NAME_VALUE_LEN`].
    TooLong,
    /// The name or value is not UTF-8.
    NotUtf8,
    /// The response came from an IP address and the jar is not `unsafe_`.
    IpAddressHost,
    /// The `Domain` attribute does not domain-match the request host.
    DomainMismatch,
    /// The `Domain` attribute is a public suffix (other than the host itself).
    PublicSuffix,
    /// The cookie's domain is full of `Secure` cookies and this one is not.
    DomainFull,
    /// The response already had [`super::MAX_COOKIES_PER_RESPONSE`] cookies.
    TooManyInResponse,
}

impl std::fmt::Display for CookieRejected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = match self {
            CookieRejected::ControlCharacter => "control character in Set-Cookie",
            CookieRejected::NoEquals => "Set-Cookie name-value pair without '='",
            CookieRejected::EmptyName => "empty cookie name",
            CookieRejected::TooLong => "cookie name and value longer than 4096 bytes",
            CookieRejected::NotUtf8 => "cookie name or value is not UTF-8",
            CookieRejected::IpAddressHost => "cookie from an IP address host (jar not unsafe)",
            CookieRejected::DomainMismatch => "Domain attribute does not match the request host",
            CookieRejected::PublicSuffix => "Domain attribute is a public suffix",
            CookieRejected::DomainFull => "the cookie's domain is full of Secure cookies",
            CookieRejected::TooManyInResponse => "too many cookies in one response",
        };
        f.write_str(s)
    }
}

impl std::error::Error for CookieRejected {}

/// Whitespace as §5.2 trims it: SP and HTAB.
fn trim_wsp(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

fn utf8(s: &[u8]) -> Option<&str> {
    std::str::from_utf8(s).ok()
}

/// `Max-Age` per §5.2.2: an optional `-` then digits only. Returns the seconds
/// (saturating), or `None` where the attribute is to be ignored.
pub(crate) fn parse_max_age(v: &[u8]) -> Option<i64> {
    let (neg, digits) = match v {
        [b'-', rest @ ..] => (true, rest),
        _ => (false, v),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n = digits.iter().fold(0i64, |acc, b| {
        acc.saturating_mul(10).saturating_add(i64::from(b - b'0'))
    });
    Some(if neg { -n } else { n })
}

/// Parse one `Set-Cookie` field value (RFC 6265 §5.2).
pub fn parse_set_cookie(field: &[u8]) -> Result<SetCookie, CookieRejected> {
    // RFC 6265bis: a control character other than HTAB voids the whole field
    // (aiohttp does the same), where older parsers truncated at it.
    if field
        .iter()
        .any(|&b| matches!(b, 0x00..=0x08 | 0x0A..=0x1F | 0x7F))
    {
        return Err(CookieRejected::ControlCharacter);
    }
    let (pair, mut attrs) = match field.iter().position(|&b| b == b';') {
        Some(i) => (&field[..i], &field[i..]),
        None => (field, &b""[..]),
    };
    let eq = pair
        .iter()
        .position(|&b| b == b'=')
        .ok_or(CookieRejected::NoEquals)?;
    let name = trim_wsp(&pair[..eq]);
    let value = trim_wsp(&pair[eq + 1..]);
    if name.is_empty() {
        return Err(CookieRejected::EmptyName);
    }
    if name.len() + value.len() > MAX_NAME_VALUE_LEN {
        return Err(CookieRejected::TooLong);
    }
    let (Some(name), Some(value)) = (utf8(name), utf8(value)) else {
        return Err(CookieRejected::NotUtf8);
    };
    let mut cookie = SetCookie::new(name, value);

    // §5.2 attribute loop: each `;`-separated cookie-av in turn.
    while let [b';', rest @ ..] = attrs {
        let (av, next) = match rest.iter().position(|&b| b == b';') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, &b""[..]),
        };
        attrs = next;
        let (attr_name, attr_value) = match av.iter().position(|&b| b == b'=') {
            Some(i) => (trim_wsp(&av[..i]), trim_wsp(&av[i + 1..])),
            None => (trim_wsp(av), &b""[..]),
        };
        // The flags' values mean nothing: an over-long one still sets the
        // flag (a `Secure` dropped for it would let the cookie go over
        // plain http; aiohttp keeps it Secure too).
        let flag = [&b"secure"[..], b"httponly", b"partitioned"]
            .iter()
            .any(|f| attr_name.eq_ignore_ascii_case(f));
        if attr_value.len() > MAX_ATTRIBUTE_VALUE_LEN && !flag {
            continue;
        }
        let owned = || utf8(attr_value).map(str::to_owned);
        if attr_name.eq_ignore_ascii_case(b"expires") {
            // §5.2.1: an unparsable date is ignored, an earlier one stays.
            if parse_cookie_date(attr_value).is_some() {
                if let Some(v) = owned() {
                    cookie.expires = Some(v);
                }
            }
        } else if attr_name.eq_ignore_ascii_case(b"max-age") {
            if parse_max_age(attr_value).is_some() {
                cookie.max_age = owned();
            }
        } else if attr_name.eq_ignore_ascii_case(b"domain") {
            // §5.2.3: an empty Domain is ignored ("SHOULD ignore the cookie-av").
            if !attr_value.is_empty() {
                if let Some(v) = owned() {
                    cookie.domain = Some(v);
                }
            }
        } else if attr_name.eq_ignore_ascii_case(b"path") {
            // §5.2.4: an empty or relative path means the default path; the
            // jar computes that, so keep what was given (last one wins).
            cookie.path = Some(owned().unwrap_or_default());
        } else if attr_name.eq_ignore_ascii_case(b"secure") {
            cookie.secure = true;
        } else if attr_name.eq_ignore_ascii_case(b"httponly") {
            cookie.http_only = true;
        } else if attr_name.eq_ignore_ascii_case(b"partitioned") {
            cookie.partitioned = true;
        } else if attr_name.eq_ignore_ascii_case(b"samesite") {
            if let Some(v) = owned() {
                cookie.same_site = Some(v);
            }
        } else if attr_name.eq_ignore_ascii_case(b"comment") {
            if let Some(v) = owned() {
                cookie.comment = Some(v);
            }
        } else if attr_name.eq_ignore_ascii_case(b"version") {
            if let Some(v) = owned() {
                cookie.version = Some(v);
            }
        }
        // Anything else: §5.2 "ignore the cookie-av".
    }
    Ok(cookie)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> SetCookie {
        parse_set_cookie(s.as_bytes()).expect(s)
    }

    #[test]
    fn name_value() {
        let c = p("  A  = BC  ;foo;;;   bar");
        assert_eq!((c.name.as_str(), c.value.as_str()), ("A", "BC"));
        let c = p("  A=== BC  ;foo");
        assert_eq!((c.name.as_str(), c.value.as_str()), ("A", "== BC"));
        let c = p("foo=\"bar;baz\"");
        assert_eq!(c.value, "\"bar");
        let c = p("z=y, a=b");
        assert_eq!(c.value, "y, a=b");
        let c = p("\tfoo\t=\tbar\t \t;\tttt");
        assert_eq!((c.name.as_str(), c.value.as_str()), ("foo", "bar"));
        let c = p("x=");
        assert_eq!(c.value, "");
        let c = p("foo bar=baz");
        assert_eq!(c.name, "foo bar");
    }

    #[test]
    fn rejected() {
        let r = |s: &str| parse_set_cookie(s.as_bytes()).err();
        assert_eq!(r("foo"), Some(CookieRejected::NoEquals));
        assert_eq!(r(""), Some(CookieRejected::NoEquals));
        assert_eq!(r("foo;bar=baz"), Some(CookieRejected::NoEquals));
        assert_eq!(r("=bar"), Some(CookieRejected::EmptyName));
        assert_eq!(r("  =bar"), Some(CookieRejected::EmptyName));
        assert_eq!(r("a=b\0c"), Some(CookieRejected::ControlCharacter));
        assert_eq!(r("a=b\rc"), Some(CookieRejected::ControlCharacter));
        assert_eq!(r("a=b\x7f"), Some(CookieRejected::ControlCharacter));
        assert_eq!(
            parse_set_cookie(b"a=\xff\xfe").err(),
            Some(CookieRejected::NotUtf8)
        );
        let long = format!("a={}", "x".repeat(4096));
        assert_eq!(r(&long), Some(CookieRejected::TooLong));
        let ok = format!("a={}", "x".repeat(4095));
        assert!(r(&ok).is_none());
    }

    #[test]
    fn attributes() {
        let c = p(
            "a=b; Secure qux; HTTPONLY=1; samesite=Lax; Path=/x; Domain=.Example.COM; partitioned",
        );
        assert!(!c.secure);
        assert!(c.http_only && c.partitioned);
        assert_eq!(c.same_site.as_deref(), Some("Lax"));
        assert_eq!(c.path.as_deref(), Some("/x"));
        assert_eq!(c.domain.as_deref(), Some(".Example.COM"));
        let c = p("a=b; Secure =aaaaa");
        assert!(c.secure);
        let c = p("a=b; domain=example.org; domain=");
        assert_eq!(c.domain.as_deref(), Some("example.org"));
        let c = p("a=b; path=/dog; path=");
        assert_eq!(c.path.as_deref(), Some(""));
        let c = p("a=b; \tpath\t=\t/c\t");
        assert_eq!(c.path.as_deref(), Some("/c"));
    }

    #[test]
    fn expiry_attributes() {
        let c = p("a=b; expires=Fri, 07 Aug 2019 08:04:19 GMT; expires=junk");
        assert_eq!(c.expires.as_deref(), Some("Fri, 07 Aug 2019 08:04:19 GMT"));
        let c = p("a=b; max-age=10; max-age=2.63,");
        assert_eq!(c.max_age.as_deref(), Some("10"));
        let c = p("a=b; Max-Age=50,399");
        assert_eq!(c.max_age, None);
        assert_eq!(parse_max_age(b"-20"), Some(-20));
        assert_eq!(parse_max_age(b"-"), None);
        assert_eq!(parse_max_age(b"+5"), None);
        assert_eq!(parse_max_age(b" 5"), None);
        assert_eq!(parse_max_age(b"99999999999999999999999"), Some(i64::MAX));
    }

    #[test]
    fn long_attribute_value_ignored() {
        let s = format!("a=b; path=/{}", "p".repeat(1024));
        assert_eq!(p(&s).path, None);
        let s = format!("a=b; path=/{}", "p".repeat(1023));
        assert!(p(&s).path.is_some());
        // A flag keeps its meaning whatever its value.
        let s = format!(
            "a=b; Secure={}; HttpOnly={}",
            "x".repeat(1025),
            "y".repeat(1025)
        );
        let c = p(&s);
        assert!(c.secure && c.http_only);
    }
}
