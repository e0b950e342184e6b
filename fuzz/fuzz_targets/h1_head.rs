//! Arbitrary bytes as a response head, under a few field limits: never a
//! panic; a parsed head's fields are slices of the input (a folded value
//! becomes one line); every prefix of the input returns `Ok(None)` or the
//! same error class, never a head; `framing()` and `keep_alive()` on any
//! head.
#![no_main]

use aioxide::h1::head::{self, Framing, HeadError, ResponseHead};
use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;

const LIMITS: [usize; 5] = [0, 1, 4, 128, 200];

#[derive(Debug, PartialEq, Eq)]
enum Class {
    Partial,
    Head,
    Invalid,
    TooManyHeaders,
    TooLarge,
}

fn class(r: &Result<Option<ResponseHead>, HeadError>) -> Class {
    match r {
        Ok(None) => Class::Partial,
        Ok(Some(_)) => Class::Head,
        Err(HeadError::Invalid(_)) => Class::Invalid,
        Err(HeadError::TooManyHeaders) => Class::TooManyHeaders,
        Err(HeadError::TooLarge) => Class::TooLarge,
    }
}

/// Where `part` lies in the `len` bytes at address `base`: a slice of the
/// input buffer, not a copy (addresses compared only).
fn within((base, len): (usize, usize), part: &[u8]) -> Option<usize> {
    let at = (part.as_ptr() as usize).checked_sub(base)?;
    (at + part.len() <= len).then_some(at)
}

/// httparse's own reading of the reason phrase (empty when it holds obs-text).
fn httparse_reason(data: &[u8]) -> Option<String> {
    let mut slots = vec![httparse::EMPTY_HEADER; 512];
    let mut resp = httparse::Response::new(&mut slots);
    let mut cfg = httparse::ParserConfig::default();
    cfg.allow_spaces_after_header_name_in_responses(true)
        .allow_obsolete_multiline_headers_in_responses(true);
    match cfg.parse_response(&mut resp, data) {
        Ok(httparse::Status::Complete(_)) => resp.reason.map(str::to_owned),
        _ => None,
    }
}

fn check(data: &[u8], max_fields: usize) {
    let mut buf = BytesMut::from(data);
    let before = buf.len();
    // The buffer's memory is what the head's fields must point into.
    let base = buf.as_ptr() as usize;
    let got = head::parse_response(&mut buf, max_fields);
    let consumed = before - buf.len();
    match &got {
        Ok(Some(h)) => {
            assert!(consumed > 0 && consumed <= data.len());
            assert_eq!(&buf[..], &data[consumed..], "bytes past the head stay");
            assert!((100..=999).contains(&h.status));
            assert!(h.minor <= 1);
            assert!(h.fields.len() <= max_fields.saturating_add(1));
            let head_mem = (base, consumed);
            for (name, value) in h.fields.pairs() {
                let at = within(head_mem, name).expect("a field name is a slice of the input");
                assert_eq!(&data[at..at + name.len()], &name[..]);
                assert!(!name.is_empty());
                match within(head_mem, value) {
                    Some(at) => assert_eq!(&data[at..at + value.len()], &value[..]),
                    None => assert!(
                        !value.contains(&b'\n') && !value.contains(&b'\r'),
                        "an unfolded value is one line"
                    ),
                }
            }
            if !h.reason.is_empty() {
                let at = within(head_mem, &h.reason).expect("the reason is a slice of the input");
                assert_eq!(&data[at..at + h.reason.len()], &h.reason[..]);
            }
            if let Some(r) = httparse_reason(&data[..consumed]) {
                if !r.is_empty() {
                    assert_eq!(r.as_bytes(), &h.reason[..], "the reason httparse read");
                }
            }
            let f = head::framing(h, false);
            assert_eq!(head::framing(h, true), Ok(Framing::Empty));
            if matches!(h.status, 100..=199 | 204 | 304) {
                assert_eq!(f, Ok(Framing::Empty));
            }
            let _ = head::keep_alive(h);
        }
        Ok(None) => assert_eq!(consumed, 0),
        Err(_) => assert_eq!(consumed, 0, "an error takes nothing off the buffer"),
    }
    // Prefixes: a few cut points across the bytes the full parse looked at.
    let end = match &got {
        Ok(Some(_)) => consumed,
        _ => data.len(),
    };
    let full = class(&got);
    let cuts = [
        0,
        1,
        end / 4,
        end / 2,
        end * 3 / 4,
        end.saturating_sub(2),
        end.saturating_sub(1),
    ];
    for cut in cuts {
        if cut >= end {
            continue;
        }
        let mut pbuf = BytesMut::from(&data[..cut]);
        let p = head::parse_response(&mut pbuf, max_fields);
        let pc = class(&p);
        let ok = match full {
            Class::Head | Class::Partial => pc == Class::Partial,
            ref c => pc == Class::Partial || pc == *c,
        };
        assert!(
            ok,
            "prefix {cut} of {end}: {p:?} where the whole gives {got:?}"
        );
    }
}

fuzz_target!(|data: &[u8]| {
    for limit in LIMITS {
        check(data, limit);
    }
});
