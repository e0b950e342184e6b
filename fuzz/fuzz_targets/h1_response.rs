//! A whole response (head, body per its framing, EOF) read as conn.rs
//! reads it, cut into reads at fuzzer-chosen points: never a panic, and
//! the same heads, data, chunk ends and outcome as one read of it all.
#![no_main]

use aioxide_fuzz::{run_response, split_input, End, Limits};
use libfuzzer_sys::fuzz_target;

const FIELDS: [usize; 8] = [0, 1, 2, 3, 8, 16, 128, 300];

fuzz_target!(|data: &[u8]| {
    let Some(input) = split_input(data, 2) else {
        return;
    };
    let lim = Limits {
        max_fields: FIELDS[usize::from(input.ctl[0] & 7)],
        max_head: 32 + usize::from(input.ctl[1]) * 8,
        method_is_head: input.ctl[0] & 0x80 != 0,
    };
    let whole = run_response(&[input.payload], lim);
    let split = run_response(&input.reads, lim);
    assert_eq!(whole, split, "{lim:?} reads {:?}", input.reads);
    assert!(whole.data.len() <= input.payload.len());
    if let End::Done { consumed } = whole.end {
        assert!(consumed <= input.payload.len());
    }
});
