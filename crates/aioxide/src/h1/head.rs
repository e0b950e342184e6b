//! Heads: a request head written as the caller gave it, a response head
//! parsed by httparse (the parser hyper uses) with hyper's leniencies, and
//! the body framing a response head announces (RFC 9112 section 6.3).

use std::mem::MaybeUninit;

use bytes::{BufMut, Bytes, BytesMut};

use crate::fields::Fields;

/// A request head to write: every field as given (names keep their case).
pub struct RequestHead<'a> {
    pub method: &'a str,
    /// Origin-form (`/path?q`) or absolute-form (through a forward proxy).
    pub target: &'a str,
    /// HTTP/1.0 instead of 1.1.
    pub http10: bool,
    pub fields: &'a Fields,
}

/// Why a request head cannot be written.
#[derive(Debug, PartialEq, Eq)]
pub struct BadField(pub String);

/// A control character aiohttp 3.14 refuses in a header (all but HTAB).
fn forbidden(b: u8) -> bool {
    matches!(b, 0x00..=0x08 | 0x0a..=0x1f | 0x7f)
}

/// aiohttp refuses a control character other than HTAB in a header (header
/// injection); the engine also refuses names that are empty or hold a
/// colon or whitespace.
fn check_field(name: &[u8], value: &[u8]) -> Result<(), BadField> {
    let bad_name = name.is_empty()
        || name
            .iter()
            .any(|&b| forbidden(b) || matches!(b, b':' | b' ' | b'\t'));
    if bad_name {
        return Err(BadField(format!(
            "invalid HTTP header name: {:?}",
            String::from_utf8_lossy(name)
        )));
    }
    if value.iter().any(|&b| forbidden(b)) {
        return Err(BadField(format!(
            "Forbidden control character detected in headers. Potential header injection attack: {:?}",
            String::from_utf8_lossy(name)
        )));
    }
    Ok(())
}

/// Check the method and target: a token, and no whitespace or controls
/// (checked before a connection is sought, and again as the head is written).
pub fn check_request_line(method: &str, target: &str) -> Result<(), BadField> {
    let token = |b: u8| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?={}".contains(&b);
    if method.is_empty() || !method.bytes().all(token) {
        return Err(BadField(format!("invalid HTTP method: {method:?}")));
    }
    if target.is_empty() || target.bytes().any(|b| b <= b' ' || b == 0x7f) {
        return Err(BadField(format!("invalid request target: {target:?}")));
    }
    Ok(())
}

fn check_line(head: &RequestHead<'_>) -> Result<(), BadField> {
    check_request_line(head.method, head.target)
}

/// Append the request head to `out`.
pub fn write_request(head: &RequestHead<'_>, out: &mut BytesMut) -> Result<(), BadField> {
    check_line(head)?;
    let size: usize = head.fields.iter().map(|(k, v)| k.len() + v.len() + 4).sum();
    out.reserve(head.method.len() + head.target.len() + 14 + size);
    out.put_slice(head.method.as_bytes());
    out.put_u8(b' ');
    out.put_slice(head.target.as_bytes());
    out.put_slice(if head.http10 {
        b" HTTP/1.0\r\n"
    } else {
        b" HTTP/1.1\r\n"
    });
    for (k, v) in head.fields {
        check_field(k, v)?;
        out.put_slice(k);
        out.put_slice(b": ");
        out.put_slice(v);
        out.put_slice(b"\r\n");
    }
    out.put_slice(b"\r\n");
    Ok(())
}

/// A parsed response head.
#[derive(Debug, Clone)]
pub struct ResponseHead {
    pub status: u16,
    /// The reason phrase as sent (obs-text kept).
    pub reason: Bytes,
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub minor: u8,
    pub fields: Fields,
}

/// Why a response head is refused.
#[derive(Debug, PartialEq, Eq)]
pub enum HeadError {
    /// Not HTTP/1.x, or malformed.
    Invalid(String),
    /// More fields than the limit.
    TooManyHeaders,
    /// Longer than the limit on a whole head.
    TooLarge,
}

/// Field slots parsed without a heap allocation: aiohttp's default limit
/// (128 fields, so 129 slots to tell "too many") fits.  The slots are left
/// uninitialised (httparse writes the ones it fills): with 128 slots the
/// default limit took the heap path, allocating and zeroing 4 KiB of slots
/// for every head, which cost more than parsing a small one.
const STACK_FIELDS: usize = 256;

/// Where the parts of a head are in the buffer: (offset, length).
struct Spans {
    len: usize,
    status: u16,
    minor: u8,
    reason: Option<(usize, usize)>,
    fields: Vec<((usize, usize), (usize, usize))>,
}

/// Parse a response head at the start of `buf`: `Ok(None)` when more bytes
/// are needed; else the head, taken off `buf` (its fields are slices of
/// one shared buffer).
pub fn parse_response(
    buf: &mut BytesMut,
    max_fields: usize,
) -> Result<Option<ResponseHead>, HeadError> {
    parse_response_within(buf, max_fields, usize::MAX)
}

/// [`parse_response`] for a head of at most `max_head` bytes: only the
/// first `max_head + 1` bytes are looked at, so a longer head is
/// `TooLarge` whether its bytes came in one read or in many (checking the
/// buffer's length only while the head was incomplete let a long head
/// through when it arrived whole).
pub fn parse_response_within(
    buf: &mut BytesMut,
    max_fields: usize,
    max_head: usize,
) -> Result<Option<ResponseHead>, HeadError> {
    let window = &buf[..buf.len().min(max_head.saturating_add(1))];
    let want = max_fields.saturating_add(1);
    let spans = if want <= STACK_FIELDS {
        let mut slots = [const { MaybeUninit::uninit() }; STACK_FIELDS];
        locate(window, &mut slots[..want])?
    } else {
        let mut slots = Vec::with_capacity(want.min(1 << 16));
        slots.resize_with(want.min(1 << 16), MaybeUninit::uninit);
        locate(window, &mut slots)?
    };
    let Some(spans) = spans else {
        return match window.len() > max_head {
            true => Err(HeadError::TooLarge),
            false => Ok(None),
        };
    };
    if spans.len > max_head {
        return Err(HeadError::TooLarge);
    }
    let head = buf.split_to(spans.len).freeze();
    let cut = |(at, n): (usize, usize)| head.slice(at..at + n);
    let mut fields = Fields::with_capacity(spans.fields.len());
    for (name, value) in spans.fields {
        fields.push(cut(name), unfold(cut(value)));
    }
    Ok(Some(ResponseHead {
        status: spans.status,
        reason: spans.reason.map(cut).unwrap_or_default(),
        minor: spans.minor,
        fields,
    }))
}

fn locate<'b>(
    buf: &'b [u8],
    slots: &mut [MaybeUninit<httparse::Header<'b>>],
) -> Result<Option<Spans>, HeadError> {
    let mut cfg = httparse::ParserConfig::default();
    cfg.allow_spaces_after_header_name_in_responses(true)
        .allow_obsolete_multiline_headers_in_responses(true);
    let mut resp = httparse::Response::new(&mut []);
    let len = match cfg.parse_response_with_uninit_headers(&mut resp, buf, slots) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err(HeadError::TooManyHeaders),
        Err(e) => return Err(HeadError::Invalid(e.to_string())),
    };
    let status = resp.code.unwrap_or(0);
    if !(100..=999).contains(&status) {
        return Err(HeadError::Invalid("invalid HTTP status-code parsed".into()));
    }
    let base = buf.as_ptr() as usize;
    let span = |p: &[u8]| (p.as_ptr() as usize - base, p.len());
    Ok(Some(Spans {
        len,
        status,
        minor: resp.version.unwrap_or(1),
        reason: reason_span(buf),
        fields: resp
            .headers
            .iter()
            .map(|h| (span(h.name.as_bytes()), span(h.value)))
            .collect(),
    }))
}

/// The reason phrase's bytes in a parsed status line (`HTTP/1.x NNN
/// reason`): httparse hands back an empty reason when it holds obs-text,
/// aiohttp keeps it.  The status line starts after the empty lines that
/// httparse (and llhttp) skip.
fn reason_span(buf: &[u8]) -> Option<(usize, usize)> {
    let start = leading_empty_lines(buf);
    let rest = &buf[start..];
    let line = &rest[..rest.iter().position(|&b| b == b'\n')?];
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    (line.len() > 13).then(|| (start + 13, line.len() - 13))
}

/// The length of the empty lines (CRLF or LF) before a status line.
fn leading_empty_lines(buf: &[u8]) -> usize {
    let mut at = 0;
    loop {
        match &buf[at..] {
            [b'\r', b'\n', ..] => at += 2,
            [b'\n', ..] => at += 1,
            _ => return at,
        }
    }
}

/// An obsolete line folding (CRLF then whitespace) becomes one space, as
/// RFC 9112 section 5.2 says a recipient may do.
fn unfold(value: Bytes) -> Bytes {
    if !value.contains(&b'\n') {
        return value;
    }
    let mut out = Vec::with_capacity(value.len());
    let mut i = 0;
    while i < value.len() {
        match value[i] {
            b'\r' | b'\n' => {
                while i < value.len() && matches!(value[i], b'\r' | b'\n' | b' ' | b'\t') {
                    i += 1;
                }
                out.push(b' ');
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    Bytes::from(out)
}

/// How a response's body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body (HEAD, 1xx, 204, 304).
    Empty,
    /// `Content-Length` bytes.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Until the server closes the connection.
    Close,
}

/// The framing a final (non-1xx) response announces, as hyper decides it.
pub fn framing(head: &ResponseHead, method_is_head: bool) -> Result<Framing, HeadError> {
    if method_is_head || matches!(head.status, 100..=199 | 204 | 304) {
        return Ok(Framing::Empty);
    }
    let f = &head.fields;
    if f.contains("transfer-encoding") {
        if head.minor == 0 {
            return Err(HeadError::Invalid(
                "HTTP/1.0 cannot have Transfer-Encoding header".into(),
            ));
        }
        return Ok(match is_chunked(f) {
            true => Framing::Chunked,
            false => Framing::Close,
        });
    }
    if !f.contains("content-length") {
        return Ok(Framing::Close);
    }
    content_length(f)
        .map(Framing::Length)
        .ok_or_else(|| HeadError::Invalid("invalid content-length parsed".into()))
}

/// The last transfer coding is `chunked`.
fn is_chunked(f: &Fields) -> bool {
    let Some(last) = f.get_all("transfer-encoding").last() else {
        return false;
    };
    let last = last.rsplit(|&b| b == b',').next().unwrap_or_default();
    last.trim_ascii().eq_ignore_ascii_case(b"chunked")
}

/// Every Content-Length value (comma lists too) is the same number.
fn content_length(f: &Fields) -> Option<u64> {
    let mut found = None;
    for v in f.get_all("content-length") {
        for part in v.split(|&b| b == b',') {
            let part = part.trim_ascii();
            if part.is_empty() || part.len() > 19 || !part.iter().all(u8::is_ascii_digit) {
                return None;
            }
            let n: u64 = std::str::from_utf8(part).ok()?.parse().ok()?;
            if found.is_some_and(|m| m != n) {
                return None;
            }
            found = Some(n);
        }
    }
    found
}

/// Whether the connection may serve another request after this response.
pub fn keep_alive(head: &ResponseHead) -> bool {
    let mut close = head.minor == 0;
    for v in head.fields.get_all("connection") {
        for token in v.split(|&b| b == b',') {
            let t = token.trim_ascii();
            if t.eq_ignore_ascii_case(b"close") {
                return false;
            }
            if t.eq_ignore_ascii_case(b"keep-alive") {
                close = false;
            }
        }
    }
    !close
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &[u8]) -> Result<Option<ResponseHead>, HeadError> {
        parse_response(&mut BytesMut::from(raw), 128)
    }

    #[test]
    fn request_head_keeps_names_as_written() {
        let mut f = Fields::default();
        f.push("Host", "a");
        f.push("X-Real-IP", "1.2.3.4");
        f.push("CUSTOM-AUTH", "t");
        let mut out = BytesMut::new();
        let head = RequestHead {
            method: "GET",
            target: "/p?q",
            http10: false,
            fields: &f,
        };
        write_request(&head, &mut out).expect("valid");
        assert_eq!(
            &out[..],
            b"GET /p?q HTTP/1.1\r\nHost: a\r\nX-Real-IP: 1.2.3.4\r\nCUSTOM-AUTH: t\r\n\r\n"
        );
    }

    #[test]
    fn request_head_refuses_injection() {
        let mut f = Fields::default();
        f.push("X", "a\r\nEvil: 1");
        let head = RequestHead {
            method: "GET",
            target: "/",
            http10: false,
            fields: &f,
        };
        assert!(write_request(&head, &mut BytesMut::new()).is_err());
        let ok = Fields::default();
        for (method, target) in [("G T", "/"), ("GET", "/a b"), ("", "/")] {
            let head = RequestHead {
                method,
                target,
                http10: false,
                fields: &ok,
            };
            assert!(write_request(&head, &mut BytesMut::new()).is_err());
        }
    }

    #[test]
    fn response_head_as_sent() {
        let raw = "HTTP/1.1 200 Très bien\r\nX-Rep: 1\r\nx-rep: 2\r\nContent-Length: 0\r\n\r\nrest";
        let mut buf = BytesMut::from(raw.as_bytes());
        let head = parse_response(&mut buf, 128)
            .expect("valid")
            .expect("complete");
        assert_eq!(head.status, 200);
        assert_eq!(&head.reason[..], "Très bien".as_bytes());
        let names: Vec<_> = head.fields.iter().map(|(k, _)| k.to_vec()).collect();
        assert_eq!(names[..2], [b"X-Rep".to_vec(), b"x-rep".to_vec()]);
        assert_eq!(&buf[..], b"rest");
        assert_eq!(framing(&head, false), Ok(Framing::Length(0)));
    }

    #[test]
    fn partial_and_limits() {
        assert!(parse(b"HTTP/1.1 200 OK\r\nA: b\r\n").expect("ok").is_none());
        let many: String = (0..5).map(|i| format!("H{i}: v\r\n")).collect();
        let raw = format!("HTTP/1.1 200 OK\r\n{many}\r\n");
        let mut buf = BytesMut::from(raw.as_bytes());
        // Room for one field over the limit: the caller's check names it.
        assert_eq!(
            parse_response(&mut buf, 3).err(),
            Some(HeadError::TooManyHeaders)
        );
        let mut buf = BytesMut::from(raw.as_bytes());
        assert!(parse_response(&mut buf, 4).is_ok());
        let mut buf = BytesMut::from(raw.as_bytes());
        assert!(parse_response(&mut buf, 5).is_ok());
        let big: String = (0..300).map(|i| format!("H{i}: v\r\n")).collect();
        let raw = format!("HTTP/1.1 200 OK\r\n{big}\r\n");
        let mut buf = BytesMut::from(raw.as_bytes());
        assert_eq!(
            parse_response(&mut buf, 300)
                .expect("ok")
                .expect("done")
                .fields
                .len(),
            300
        );
        assert!(matches!(
            parse(b"HTTP/1.1 099 X\r\n\r\n"),
            Err(HeadError::Invalid(_))
        ));
        assert!(matches!(
            parse(b"ICE/1.0 200 OK\r\n\r\n"),
            Err(HeadError::Invalid(_))
        ));
    }

    #[test]
    fn reason_after_leading_empty_lines() {
        // Found by fuzz/h1_head: httparse skips empty lines before the
        // status line, the reason was read from the first (empty) line.
        for raw in [
            &b"\r\nHTTP/1.1 200 OK\r\n\r\n"[..],
            b"\n\r\n\nHTTP/1.1 200 OK\r\n\r\n",
        ] {
            let head = parse(raw).expect("ok").expect("done");
            assert_eq!(&head.reason[..], b"OK");
        }
        let head = parse(b"\r\nHTTP/1.1 200\r\n\r\n")
            .expect("ok")
            .expect("done");
        assert!(head.reason.is_empty());
    }

    #[test]
    fn fields_at_the_edges_of_the_stack_slots() {
        // The last stack-held slot count (STACK_FIELDS) and one past it (the
        // heap path): every field read whole, the one over the limit named.
        let head = |n: usize| {
            let fields: String = (0..n).map(|i| format!("H{i}: v{i}\r\n")).collect();
            BytesMut::from(format!("HTTP/1.1 200 OK\r\n{fields}\r\n").as_bytes())
        };
        for max in [STACK_FIELDS - 1, STACK_FIELDS] {
            let h = parse_response(&mut head(max + 1), max)
                .expect("room for one over the limit")
                .expect("done");
            assert_eq!(h.fields.len(), max + 1);
            let last = format!("H{max}");
            assert_eq!(h.fields.get(&last), Some(format!("v{max}").as_bytes()));
            assert_eq!(
                parse_response(&mut head(max + 2), max).err(),
                Some(HeadError::TooManyHeaders)
            );
        }
    }

    #[test]
    fn head_size_limit_same_in_one_read_or_many() {
        // Found by fuzz/h1_response: the limit on a head's size was checked
        // only on an incomplete head, so a long head arriving in one read
        // passed (or failed another way) where the same bytes in small
        // reads were TooLarge.
        let raw = b"HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\nbody";
        let head_len = raw.len() - 4;
        for (max_head, max_fields, want) in [
            (head_len - 1, 128, Err(HeadError::TooLarge)),
            (head_len, 128, Ok(3)),
            (20, 2, Err(HeadError::TooLarge)),
            (40, 1, Err(HeadError::TooManyHeaders)),
        ] {
            let whole = parse_response_within(&mut BytesMut::from(&raw[..]), max_fields, max_head)
                .map(|h| h.expect("a head or an error").fields.len());
            assert_eq!(whole, want, "one read, limit {max_head}");
            // The same bytes one at a time, as reads would bring them.
            let mut buf = BytesMut::new();
            let mut fed = Ok(None);
            for &b in &raw[..] {
                buf.extend_from_slice(&[b]);
                fed = parse_response_within(&mut buf, max_fields, max_head);
                if !matches!(fed, Ok(None)) {
                    break;
                }
            }
            let fed = fed.map(|h| h.expect("a head or an error").fields.len());
            assert_eq!(fed, want, "byte by byte, limit {max_head}");
        }
    }

    #[test]
    fn obs_fold_becomes_a_space() {
        let head = parse(b"HTTP/1.1 200 OK\r\nX: a\r\n  b\r\n\r\n")
            .expect("ok")
            .expect("done");
        assert_eq!(head.fields.get("x"), Some(&b"a b"[..]));
    }

    #[test]
    fn framing_rules() {
        let head = |raw: &str| parse(raw.as_bytes()).expect("ok").expect("done");
        let h = head("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n");
        assert_eq!(framing(&h, false), Ok(Framing::Chunked));
        let h = head("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n");
        assert_eq!(framing(&h, false), Ok(Framing::Close));
        let h = head("HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
        assert!(framing(&h, false).is_err());
        let h = head("HTTP/1.1 200 OK\r\nContent-Length: 3, 3\r\n\r\n");
        assert_eq!(framing(&h, false), Ok(Framing::Length(3)));
        let h = head("HTTP/1.1 200 OK\r\nContent-Length: +3\r\n\r\n");
        assert!(framing(&h, false).is_err());
        let h = head("HTTP/1.1 204 No Content\r\nContent-Length: 3\r\n\r\n");
        assert_eq!(framing(&h, false), Ok(Framing::Empty));
        assert_eq!(
            framing(&head("HTTP/1.1 200 OK\r\n\r\n"), true),
            Ok(Framing::Empty)
        );
        assert_eq!(
            framing(&head("HTTP/1.1 200 OK\r\n\r\n"), false),
            Ok(Framing::Close)
        );
    }

    #[test]
    fn keep_alive_rules() {
        let head = |raw: &str| parse(raw.as_bytes()).expect("ok").expect("done");
        assert!(keep_alive(&head("HTTP/1.1 200 OK\r\n\r\n")));
        assert!(!keep_alive(&head(
            "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n"
        )));
        assert!(!keep_alive(&head("HTTP/1.0 200 OK\r\n\r\n")));
        assert!(keep_alive(&head(
            "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\n\r\n"
        )));
    }
}
