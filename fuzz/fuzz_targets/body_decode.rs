//! Response body decoding (gzip, deflate, br, zstd), two ways.
//!
//! Garbage: arbitrary bytes as a compressed body, cut into reads at
//! fuzzer-chosen points and pulled a fuzzer-chosen `max` at a time: never
//! a panic; no pull over `max` (gzip, deflate) or `max` plus one 32 KiB
//! buffer (br, zstd); no end of stream hands out more than one buffer; the same data and outcome as one read
//! of it all (a failure may come at another pull, but it comes).
//!
//! Round trip: the payload's reads compressed as one body, flushed after
//! each read: it decodes to the payload, and each read's data is out once
//! that read's bytes are in and pulled (a streamed body is not held back
//! until the next bytes or the end).
#![no_main]

use aioxide_fuzz::decode::{compress_flushed, run_decode, DecodeEnd, CODINGS};
use aioxide_fuzz::split_input;
use libfuzzer_sys::fuzz_target;

const MAX: [usize; 8] = [1, 2, 7, 512, 4096, 32 * 1024, 64 * 1024, 1 << 20];

fuzz_target!(|data: &[u8]| {
    let Some(input) = split_input(data, 1) else {
        return;
    };
    let c = input.ctl[0];
    let coding = CODINGS[usize::from(c & 3)];
    let max = MAX[usize::from(c >> 2 & 7)];
    if c & 0x20 == 0 {
        let whole = run_decode(coding, &[input.payload], max);
        let split = run_decode(coding, &input.reads, max);
        match (&whole.end, &split.end) {
            (DecodeEnd::Ok, DecodeEnd::Ok) => assert!(
                whole.data == split.data,
                "{coding:?}: data differs, reads {:?}",
                input.reads
            ),
            (DecodeEnd::Err(_), DecodeEnd::Err(_))
            | (DecodeEnd::Capped, _)
            | (_, DecodeEnd::Capped) => {}
            (w, s) => panic!(
                "{coding:?} max {max}: whole {w:?}, split {s:?}, reads {:?}",
                input.reads
            ),
        }
    } else {
        let raw = c & 0x40 != 0;
        let z = compress_flushed(coding, raw, &input.reads);
        let zr: Vec<&[u8]> = z.iter().map(Vec::as_slice).collect();
        let run = run_decode(coding, &zr, max);
        assert_eq!(run.end, DecodeEnd::Ok, "{coding:?} raw {raw}");
        assert!(
            run.data == input.payload,
            "{coding:?} raw {raw}: not the payload"
        );
        let mut sofar = 0;
        for (i, r) in input.reads.iter().enumerate() {
            sofar += r.len();
            assert_eq!(
                run.after_read[i],
                sofar,
                "{coding:?} raw {raw} max {max}: after read {i} of {}, {} of {sofar} bytes out",
                input.reads.len(),
                run.after_read[i]
            );
        }
    }
});
