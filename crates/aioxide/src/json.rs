//! JSON read exactly as Python's `json.loads` reads it, for `resp.json()`:
//! a parser that drives a [`Sink`] (the glue builds Python objects from it,
//! with no tree in between).
//!
//! The rule: the values are `json.loads`' own, or the parser gives up
//! ([`Bail`]) and the caller runs `json.loads`, which then returns the
//! same value or raises its exact error.  So anything invalid, and the few
//! valid inputs whose value a sink could not make equal (a lone surrogate
//! `\ud800`, `NaN` / `Infinity`, integers past `i64`, nesting deeper than
//! [`MAX_DEPTH`]) bail; what is parsed equals `json.loads`:
//! - whitespace around the document is what `bytes.strip()` removes (as
//!   `resp.json()` strips the body first), inside it JSON's four;
//! - an empty (or all-whitespace) body is `Ok(None)` (`resp.json()` gives None);
//! - numbers: `-?(0|[1-9][0-9]*)` is an integer (`-0` is 0), with a fraction
//!   or an exponent a float, correctly rounded as Python's `float()`
//!   (`1e400` is infinity there and here);
//! - strings: UTF-8 checked first (an invalid body bails: Python's decode
//!   raises), control characters bail (json's strict mode), escapes decoded,
//!   `\uD83D\uDE00` pairs joined;
//! - objects: keys in order of first appearance, a repeated key's last value
//!   (json.loads' `dict[key] = value`).

/// The parser cannot promise `json.loads`' result: the caller runs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bail;

/// Nesting deeper than this bails (json.loads goes to the recursion limit).
pub const MAX_DEPTH: usize = 200;

/// What the parsed values become.
pub trait Sink {
    type Value;
    type Map;
    type List;
    fn null(&mut self) -> Result<Self::Value, Bail>;
    fn boolean(&mut self, b: bool) -> Result<Self::Value, Bail>;
    fn int(&mut self, i: i64) -> Result<Self::Value, Bail>;
    fn float(&mut self, f: f64) -> Result<Self::Value, Bail>;
    fn string(&mut self, s: &str) -> Result<Self::Value, Bail>;
    /// An object's key (a sink may reuse equal keys, as json.loads' memo).
    fn key(&mut self, s: &str) -> Result<Self::Value, Bail>;
    fn map(&mut self) -> Result<Self::Map, Bail>;
    fn map_set(&mut self, m: &mut Self::Map, k: Self::Value, v: Self::Value) -> Result<(), Bail>;
    fn map_done(&mut self, m: Self::Map) -> Result<Self::Value, Bail>;
    fn list(&mut self) -> Result<Self::List, Bail>;
    fn list_push(&mut self, l: &mut Self::List, v: Self::Value) -> Result<(), Bail>;
    fn list_done(&mut self, l: Self::List) -> Result<Self::Value, Bail>;
}

/// Parse a whole body; `Ok(None)` when there is nothing but whitespace.
pub fn parse<S: Sink>(body: &[u8], sink: &mut S) -> Result<Option<S::Value>, Bail> {
    let body = strip(body);
    if body.is_empty() {
        return Ok(None);
    }
    let text = std::str::from_utf8(body).map_err(|_| Bail)?;
    let mut p = Parser {
        s: text.as_bytes(),
        text,
        i: 0,
        scratch: String::new(),
    };
    let v = p.value(sink, 0)?;
    p.ws();
    if p.i != p.s.len() {
        return Err(Bail);
    }
    Ok(Some(v))
}

/// `bytes.strip()`'s whitespace at both ends.
fn strip(mut b: &[u8]) -> &[u8] {
    let ws = |c: &u8| matches!(c, b' ' | b'\t' | b'\n' | b'\r' | b'\x0b' | b'\x0c');
    while b.first().is_some_and(ws) {
        b = &b[1..];
    }
    while b.last().is_some_and(ws) {
        b = &b[..b.len() - 1];
    }
    b
}

struct Parser<'a> {
    s: &'a [u8],
    text: &'a str,
    i: usize,
    scratch: String,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.s.get(self.i) {
            self.i += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn literal(&mut self, word: &[u8]) -> Result<(), Bail> {
        if self.s[self.i..].starts_with(word) {
            self.i += word.len();
            Ok(())
        } else {
            Err(Bail)
        }
    }

    fn value<S: Sink>(&mut self, sink: &mut S, depth: usize) -> Result<S::Value, Bail> {
        match self.peek().ok_or(Bail)? {
            b'{' => self.object(sink, depth + 1),
            b'[' => self.array(sink, depth + 1),
            b'"' => {
                let s = self.string()?;
                sink.string(s)
            }
            b'n' => self.literal(b"null").and_then(|_| sink.null()),
            b't' => self.literal(b"true").and_then(|_| sink.boolean(true)),
            b'f' => self.literal(b"false").and_then(|_| sink.boolean(false)),
            b'-' | b'0'..=b'9' => self.number(sink),
            _ => Err(Bail),
        }
    }

    fn object<S: Sink>(&mut self, sink: &mut S, depth: usize) -> Result<S::Value, Bail> {
        if depth > MAX_DEPTH {
            return Err(Bail);
        }
        self.i += 1;
        let mut m = sink.map()?;
        self.ws();
        if self.peek() == Some(b'}') {
            self.i += 1;
            return sink.map_done(m);
        }
        loop {
            if self.peek() != Some(b'"') {
                return Err(Bail);
            }
            let k = self.string()?;
            let k = sink.key(k)?;
            self.ws();
            if self.peek() != Some(b':') {
                return Err(Bail);
            }
            self.i += 1;
            self.ws();
            let v = self.value(sink, depth)?;
            sink.map_set(&mut m, k, v)?;
            self.ws();
            match self.peek() {
                Some(b',') => {
                    self.i += 1;
                    self.ws();
                }
                Some(b'}') => {
                    self.i += 1;
                    return sink.map_done(m);
                }
                _ => return Err(Bail),
            }
        }
    }

    fn array<S: Sink>(&mut self, sink: &mut S, depth: usize) -> Result<S::Value, Bail> {
        if depth > MAX_DEPTH {
            return Err(Bail);
        }
        self.i += 1;
        let mut l = sink.list()?;
        self.ws();
        if self.peek() == Some(b']') {
            self.i += 1;
            return sink.list_done(l);
        }
        loop {
            let v = self.value(sink, depth)?;
            sink.list_push(&mut l, v)?;
            self.ws();
            match self.peek() {
                Some(b',') => {
                    self.i += 1;
                    self.ws();
                }
                Some(b']') => {
                    self.i += 1;
                    return sink.list_done(l);
                }
                _ => return Err(Bail),
            }
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.i;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.i += 1;
        }
        self.i - start
    }

    fn number<S: Sink>(&mut self, sink: &mut S) -> Result<S::Value, Bail> {
        let start = self.i;
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        match self.peek() {
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(Bail), // "-Infinity", a lone "-"
        }
        let mut float = false;
        if self.peek() == Some(b'.') {
            let dot = self.i;
            self.i += 1;
            if self.digits() == 0 {
                // json.loads reads "1." as 1 followed by an error.
                self.i = dot;
                return Err(Bail);
            }
            float = true;
        }
        if let Some(b'e' | b'E') = self.peek() {
            let e = self.i;
            self.i += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.i += 1;
            }
            if self.digits() == 0 {
                self.i = e;
                return Err(Bail);
            }
            float = true;
        }
        let lexeme = &self.text[start..self.i];
        if float {
            sink.float(lexeme.parse::<f64>().map_err(|_| Bail)?)
        } else {
            sink.int(lexeme.parse::<i64>().map_err(|_| Bail)?)
        }
    }

    /// A string at `self.i` (its opening quote); a slice of the input when
    /// it has no escape, else decoded into the scratch buffer.
    fn string(&mut self) -> Result<&str, Bail> {
        self.i += 1;
        let start = self.i;
        loop {
            match *self.s.get(self.i).ok_or(Bail)? {
                b'"' => {
                    self.i += 1;
                    return Ok(&self.text[start..self.i - 1]);
                }
                b'\\' => break,
                c if c < 0x20 => return Err(Bail),
                _ => self.i += 1,
            }
        }
        self.scratch.clear();
        self.scratch.push_str(&self.text[start..self.i]);
        loop {
            let run = self.i;
            while let Some(&c) = self.s.get(self.i) {
                if c == b'"' || c == b'\\' || c < 0x20 {
                    break;
                }
                self.i += 1;
            }
            self.scratch.push_str(&self.text[run..self.i]);
            match *self.s.get(self.i).ok_or(Bail)? {
                b'"' => {
                    self.i += 1;
                    return Ok(&self.scratch);
                }
                b'\\' => {
                    self.i += 1;
                    let c = self.escape()?;
                    self.scratch.push(c);
                }
                _ => return Err(Bail),
            }
        }
    }

    /// The character of an escape (after its backslash).
    fn escape(&mut self) -> Result<char, Bail> {
        let c = *self.s.get(self.i).ok_or(Bail)?;
        self.i += 1;
        Ok(match c {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let hi = self.hex4()?;
                match hi {
                    0xD800..=0xDBFF => {
                        // Only a pair makes a character; json.loads keeps a
                        // lone surrogate, which a Rust string cannot hold.
                        if !self.s[self.i..].starts_with(b"\\u") {
                            return Err(Bail);
                        }
                        self.i += 2;
                        let lo = self.hex4()?;
                        if !(0xDC00..=0xDFFF).contains(&lo) {
                            return Err(Bail);
                        }
                        let c = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
                        char::from_u32(c).ok_or(Bail)?
                    }
                    0xDC00..=0xDFFF => return Err(Bail),
                    _ => char::from_u32(hi).ok_or(Bail)?,
                }
            }
            _ => return Err(Bail),
        })
    }

    fn hex4(&mut self) -> Result<u32, Bail> {
        let h = self.s.get(self.i..self.i + 4).ok_or(Bail)?;
        let mut v = 0u32;
        for &c in h {
            v = v * 16 + (c as char).to_digit(16).ok_or(Bail)?;
        }
        self.i += 4;
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sink that prints Python's repr of what json.loads returns.
    struct Repr;

    impl Sink for Repr {
        type Value = String;
        type Map = Vec<(String, String)>;
        type List = Vec<String>;
        fn null(&mut self) -> Result<String, Bail> {
            Ok("None".into())
        }
        fn boolean(&mut self, b: bool) -> Result<String, Bail> {
            Ok(if b { "True" } else { "False" }.into())
        }
        fn int(&mut self, i: i64) -> Result<String, Bail> {
            Ok(i.to_string())
        }
        fn float(&mut self, f: f64) -> Result<String, Bail> {
            Ok(format!("{f:?}"))
        }
        fn string(&mut self, s: &str) -> Result<String, Bail> {
            Ok(format!("{s:?}"))
        }
        fn key(&mut self, s: &str) -> Result<String, Bail> {
            self.string(s)
        }
        fn map(&mut self) -> Result<Self::Map, Bail> {
            Ok(Vec::new())
        }
        fn map_set(&mut self, m: &mut Self::Map, k: String, v: String) -> Result<(), Bail> {
            match m.iter_mut().find(|(key, _)| *key == k) {
                Some(slot) => slot.1 = v,
                None => m.push((k, v)),
            }
            Ok(())
        }
        fn map_done(&mut self, m: Self::Map) -> Result<String, Bail> {
            let items: Vec<String> = m.into_iter().map(|(k, v)| format!("{k}: {v}")).collect();
            Ok(format!("{{{}}}", items.join(", ")))
        }
        fn list(&mut self) -> Result<Self::List, Bail> {
            Ok(Vec::new())
        }
        fn list_push(&mut self, l: &mut Self::List, v: String) -> Result<(), Bail> {
            l.push(v);
            Ok(())
        }
        fn list_done(&mut self, l: Self::List) -> Result<String, Bail> {
            Ok(format!("[{}]", l.join(", ")))
        }
    }

    fn repr(s: &str) -> Result<Option<String>, Bail> {
        parse(s.as_bytes(), &mut Repr)
    }

    #[test]
    fn values_are_json_loads() {
        assert_eq!(
            repr(" \x0c{\"a\": [1, -0, 2.5, 1e2, -1E-2, true, false, null]}\n\x0b").unwrap(),
            Some("{\"a\": [1, 0, 2.5, 100.0, -0.01, True, False, None]}".into())
        );
        assert_eq!(
            repr("\"\\u00e9\\ud83d\\ude00\\n\\/é\"").unwrap(),
            Some("\"é😀\\n/é\"".into())
        );
        assert_eq!(
            repr("{\"k\": 1, \"j\": 2, \"k\": 3}").unwrap(),
            Some("{\"k\": 3, \"j\": 2}".into())
        );
        assert_eq!(repr("1e400").unwrap(), Some("inf".into()));
        assert_eq!(
            repr("9223372036854775807").unwrap(),
            Some("9223372036854775807".into())
        );
        assert_eq!(repr("[]").unwrap(), Some("[]".into()));
        assert_eq!(repr("{}").unwrap(), Some("{}".into()));
        assert_eq!(repr(" \r\n\t").unwrap(), None);
        assert_eq!(repr("").unwrap(), None);
    }

    #[test]
    fn what_json_loads_rejects_or_a_sink_cannot_hold_bails() {
        for bad in [
            "NaN",
            "Infinity",
            "-Infinity",
            "01",
            "1.",
            ".5",
            "-",
            "1e",
            "+1",
            "[1,]",
            "{\"a\":1,}",
            "{a:1}",
            "[1 2]",
            "\"\\ud800\"",
            "\"\\udc00\"",
            "\"\\ud800\\u0041\"",
            "\"\\x\"",
            "\"a\u{1}\"",
            "\"open",
            "tru",
            "nul",
            "[",
            "{\"a\"}",
            "1 2",
            "\u{feff}1",
            "9223372036854775808",
            "{\"a\" 1}",
            "\"\\u12\"",
        ] {
            assert_eq!(repr(bad), Err(Bail), "{bad:?}");
        }
        assert_eq!(parse(b"\"\xff\"", &mut Repr), Err(Bail));
        let deep = "[".repeat(MAX_DEPTH + 1) + &"]".repeat(MAX_DEPTH + 1);
        assert_eq!(repr(&deep), Err(Bail));
        let ok = "[".repeat(MAX_DEPTH) + &"]".repeat(MAX_DEPTH);
        assert!(repr(&ok).is_ok());
    }
}
