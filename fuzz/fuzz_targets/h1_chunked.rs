//! A chunked body cut into reads at fuzzer-chosen points: never a panic,
//! and the same data, chunk ends and outcome as one read of it all.
#![no_main]

use aioxide_fuzz::{run_chunked, split_input};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(input) = split_input(data, 0) else {
        return;
    };
    let whole = run_chunked(&[input.payload]);
    let split = run_chunked(&input.reads);
    assert_eq!(whole, split, "reads {:?}", input.reads);
    assert!(whole.data.len() <= input.payload.len());
    if let Some(c) = whole.consumed {
        assert!(c <= input.payload.len());
        assert!(whole.data.len() <= c);
    }
    if whole.done {
        assert_eq!(whole.eof, Some(Ok(())));
    }
});
