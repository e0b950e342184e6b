//! Arbitrary bytes as a `resp.json()` body (aioxide::json): never a panic,
//! never deeper than MAX_DEPTH; a parse is deterministic; a parsed value
//! written back as JSON (floats in Rust's shortest round-trip form,
//! strings with every character escaped as \uXXXX) parses to the same
//! value again.
#![no_main]

use aioxide::json::{parse, Bail, Sink};
use libfuzzer_sys::fuzz_target;

/// Writes the value back as JSON text.
struct Writer;

type R = Result<String, Bail>;

fn quote(s: &str) -> String {
    let mut out = String::from("\"");
    for unit in s.encode_utf16() {
        out.push_str(&format!("\\u{unit:04x}"));
    }
    out.push('"');
    out
}

impl Sink for Writer {
    type Value = String;
    type Map = Vec<String>;
    type List = Vec<String>;
    fn null(&mut self) -> R {
        Ok("null".into())
    }
    fn boolean(&mut self, b: bool) -> R {
        Ok(b.to_string())
    }
    fn int(&mut self, i: i64) -> R {
        Ok(i.to_string())
    }
    fn float(&mut self, f: f64) -> R {
        // Infinity has no JSON form: keep it as a huge exponent.
        Ok(if f.is_infinite() {
            if f > 0.0 {
                "1e999".into()
            } else {
                "-1e999".into()
            }
        } else {
            format!("{f:e}")
        })
    }
    fn string(&mut self, s: &str) -> R {
        Ok(quote(s))
    }
    fn key(&mut self, s: &str) -> R {
        Ok(quote(s))
    }
    fn map(&mut self) -> Result<Vec<String>, Bail> {
        Ok(Vec::new())
    }
    fn map_set(&mut self, m: &mut Vec<String>, k: String, v: String) -> Result<(), Bail> {
        m.push(format!("{k}:{v}"));
        Ok(())
    }
    fn map_done(&mut self, m: Vec<String>) -> R {
        Ok(format!("{{{}}}", m.join(",")))
    }
    fn list(&mut self) -> Result<Vec<String>, Bail> {
        Ok(Vec::new())
    }
    fn list_push(&mut self, l: &mut Vec<String>, v: String) -> Result<(), Bail> {
        l.push(v);
        Ok(())
    }
    fn list_done(&mut self, l: Vec<String>) -> R {
        Ok(format!("[{}]", l.join(",")))
    }
}

fuzz_target!(|data: &[u8]| {
    let got = parse(data, &mut Writer);
    assert_eq!(got, parse(data, &mut Writer), "deterministic");
    if let Ok(Some(text)) = got {
        let again = parse(text.as_bytes(), &mut Writer);
        assert_eq!(again, Ok(Some(text.clone())), "round trip of {text:?}");
    }
});
