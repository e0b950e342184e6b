//! Cookie value quoting as aiohttp does it (`http.cookies._quote` / `_unquote`).

use std::borrow::Cow;

/// `http.cookies._LegalChars`: a value made only of these is sent as it is.
fn is_legal(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~:".contains(c)
}

/// `_UnescapedChars` minus the legal ones: kept as they are inside quotes.
fn is_unescaped(c: char) -> bool {
    is_legal(c) || " ()/<=>?@[]{}".contains(c)
}

/// The value as the `Cookie` header carries it.
///
/// With `quote_cookie` (aiohttp's default) a value that arrived quoted is sent
/// exactly as received, and any other value with a character outside
/// `http.cookies`' legal set is sent as a quoted string, with `"` and `\`
/// backslash-escaped and other characters below U+0100 outside the unescaped
/// set written as `\ooo` — what aiohttp's `SimpleCookie.value_encode` writes.
/// One deliberate difference: an empty value is sent empty, where aiohttp
/// sends `""` (a different value than the server set).
///
/// Without `quote_cookie` the value is sent as it was received (RFC 6265
/// §5.4); aiohttp sends the unquoted value there, which drops quotes the
/// server put in the value.
pub fn encode_value(value: &str, quote_cookie: bool) -> Cow<'_, str> {
    if !quote_cookie || value.is_empty() || value.starts_with('"') || value.chars().all(is_legal) {
        return Cow::Borrowed(value);
    }
    let mut out = String::with_capacity(value.len() + 8);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if is_unescaped(c) || u32::from(c) > 0xFF => out.push(c),
            c => {
                let n = u32::from(c);
                out.push('\\');
                for shift in [6, 3, 0] {
                    // Each octal digit is 0..=7.
                    out.push(char::from(b'0' + ((n >> shift) & 7) as u8));
                }
            }
        }
    }
    out.push('"');
    Cow::Owned(out)
}

/// The unquoted form of a received value (`http.cookies._unquote`): a value in
/// double quotes loses them, and `\ooo` octal and `\x` escapes inside are
/// decoded. aiohttp's `Morsel.value`; the received form is its `coded_value`.
pub fn unquote(value: &str) -> Cow<'_, str> {
    let inner = match value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
        Some(inner) if value.len() >= 2 => inner,
        _ => return Cow::Borrowed(value),
    };
    if !inner.contains('\\') {
        return Cow::Borrowed(inner);
    }
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let mut lookahead = chars.clone();
        let octal: Option<u32> = match (lookahead.next(), lookahead.next(), lookahead.next()) {
            (Some(a @ '0'..='3'), Some(b @ '0'..='7'), Some(c @ '0'..='7')) => {
                Some((u32::from(a) - 48) * 64 + (u32::from(b) - 48) * 8 + (u32::from(c) - 48))
            }
            _ => None,
        };
        if let Some(n) = octal.and_then(char::from_u32) {
            out.push(n);
            chars = lookahead.clone();
        } else if let Some(next) = chars.next() {
            out.push(next);
        } else {
            out.push('\\');
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_like_simplecookie() {
        assert_eq!(encode_value("abc", true), "abc");
        assert_eq!(encode_value("", true), "");
        assert_eq!(encode_value("\"as is\"", true), "\"as is\"");
        assert_eq!(encode_value("a b", true), "\"a b\"");
        assert_eq!(encode_value("a,b;c", true), "\"a\\054b\\073c\"");
        assert_eq!(encode_value("a\"b\\c", true), "\"a\\\"b\\\\c\"");
        assert_eq!(encode_value("é", true), "\"\\351\"");
        assert_eq!(encode_value("春", true), "\"春\"");
        assert_eq!(encode_value("a b", false), "a b");
    }

    #[test]
    fn unquoting() {
        assert_eq!(unquote("abc"), "abc");
        assert_eq!(unquote("\"abc\""), "abc");
        assert_eq!(unquote("\""), "\"");
        assert_eq!(unquote("\"\""), "");
        assert_eq!(unquote("\"a\\054b\\\"c\\\\\""), "a,b\"c\\");
        for v in ["a b", "a,b;c", "a\"b\\c", "é", "春x"] {
            assert_eq!(unquote(&encode_value(v, true)), v);
        }
    }
}
