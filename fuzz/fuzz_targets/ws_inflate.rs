//! permessage-deflate inflating (`ws::deflate::Inflater`), three ways:
//!
//! 1. Arbitrary bytes as the payloads of one compressed message, cut into
//!    frames at fuzzer-chosen points, under a size bound: never a panic;
//!    the message holds at most `max` bytes, and when it fails (1007 bad
//!    data, 1009 too big) at most `max + 1` were made; the same outcome as
//!    the message in one frame.
//! 2. The same bytes twice as two messages: the context carried over does
//!    not break the bound.
//! 3. Round trip: the payload deflated by `Deflater` (the window bits and
//!    context takeover chosen by the fuzzer), each reads's bytes a message,
//!    inflates back to itself.
#![no_main]

use aioxide::ws::deflate::{Deflater, Inflater};
use aioxide::ws::ProtocolError;
use aioxide_fuzz::split_input;
use libfuzzer_sys::fuzz_target;

const MAX: [usize; 8] = [0, 1, 7, 100, 1024, 65_535, 65_536, 1 << 20];
/// With no bound (max 0), stop at this much: a check, not a limit.
const NO_BOUND_CAP: usize = 64 << 20;

fn inflate_message(
    inf: &mut Inflater,
    frames: &[&[u8]],
    max: usize,
) -> Result<Vec<u8>, (ProtocolError, usize)> {
    let mut out = Vec::new();
    for f in frames {
        if let Err(e) = inf.inflate(f, &mut out, max) {
            return Err((e, out.len()));
        }
        assert!(max == 0 || out.len() <= max, "{} over {max}", out.len());
        assert!(out.len() <= NO_BOUND_CAP.max(max));
    }
    inf.finish(&mut out, max).map_err(|e| (e, out.len()))?;
    Ok(out)
}

fn check(r: &Result<Vec<u8>, (ProtocolError, usize)>, max: usize) {
    match r {
        Ok(out) => assert!(max == 0 || out.len() <= max, "{} over {max}", out.len()),
        Err((e, made)) => {
            assert!(matches!(e.code, 1007 | 1009), "{e:?}");
            assert!(max == 0 || *made <= max + 1, "{made} made under {max}");
        }
    }
}

/// Outcomes compared: the data, or the close code and message.
fn outcome(r: Result<Vec<u8>, (ProtocolError, usize)>) -> Result<Vec<u8>, ProtocolError> {
    r.map_err(|(e, _)| e)
}

fuzz_target!(|data: &[u8]| {
    let Some(input) = split_input(data, 1) else {
        return;
    };
    let c = input.ctl[0];
    // With no bound, keep to small inputs (a 1 KiB bomb is 1 MiB).
    let max = MAX[usize::from(c & 7)];
    if max == 0 && input.payload.len() > 4096 {
        return;
    }

    let mut a = Inflater::new();
    let whole = inflate_message(&mut a, &[input.payload], max);
    check(&whole, max);
    let mut b = Inflater::new();
    let split = inflate_message(&mut b, &input.reads, max);
    check(&split, max);
    let ok = whole.is_ok();
    assert_eq!(
        outcome(whole),
        outcome(split),
        "max {max} reads {:?}",
        input.reads
    );

    if ok {
        // A second message on the same context.
        let second = inflate_message(&mut a, &input.reads, max);
        check(&second, max);
    }

    // Round trip through the compressor.
    let bits = 9 + (c >> 3) % 7;
    let no_takeover = c & 0x80 != 0;
    let mut d = Deflater::new(bits, no_takeover);
    let mut inf = Inflater::new();
    for msg in &input.reads {
        let mut z = Vec::new();
        d.compress(msg, &mut z).expect("compress");
        // Cut the compressed message in two frames where the fuzzer says.
        let cut = usize::from(c).min(z.len());
        let got = inflate_message(&mut inf, &[&z[..cut], &z[cut..]], 0)
            .unwrap_or_else(|(e, _)| panic!("{e:?} inflating {msg:?} ({bits} bits)"));
        assert_eq!(&got[..], *msg, "{bits} bits, no takeover {no_takeover}");
    }
});
