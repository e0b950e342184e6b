//! WebSocket frames from the server (or, with a control bit, from a
//! client), cut into reads at fuzzer-chosen points, under a message size
//! limit and with or without permessage-deflate: never a panic; the same
//! messages and the same error (close code and text) as one read of it
//! all, whatever the reads and however many messages a call takes; no data
//! message over `max_msg_size`, no control payload over 125 bytes, close
//! codes valid; without compression no more message bytes than input.
//! Then the messages, each re-encoded as one frame, read back the same.
#![no_main]

use aioxide::ws::message::valid_close_code;
use aioxide::ws::Message;
use aioxide_fuzz::split_input;
use aioxide_fuzz::ws::{encode_messages, run_ws, ws_config, WsEnd};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(input) = split_input(data, 2) else {
        return;
    };
    let config = ws_config(input.ctl[0], input.ctl[1]);
    let batch = usize::from(input.ctl[0] & 0x0F);
    let whole = run_ws(&[input.payload], &config, 64);
    let split = run_ws(&input.reads, &config, batch);
    assert_eq!(
        whole, split,
        "{config:?} batch {batch} reads {:?}",
        input.reads
    );

    let mut data_bytes = 0;
    for m in &whole.messages {
        let len = match m {
            Message::Text(t) => t.len(),
            Message::Binary(b) => b.len(),
            Message::Ping(b) | Message::Pong(b) => {
                assert!(b.len() <= 125);
                0
            }
            Message::Close(code, reason) => {
                assert!(reason.len() <= 123);
                if let Some(c) = code {
                    assert!(valid_close_code(*c), "close code {c}");
                } else {
                    assert!(reason.is_empty());
                }
                0
            }
        };
        if config.max_msg_size != 0 {
            assert!(
                len <= config.max_msg_size,
                "{len} over {}",
                config.max_msg_size
            );
        }
        data_bytes += len;
    }
    if config.deflate.is_none() {
        assert!(data_bytes <= input.payload.len());
    }
    if let WsEnd::Protocol(e) = &whole.end {
        assert!(matches!(e.code, 1002 | 1007 | 1009), "{e:?}");
    }

    // Round trip: the messages as frames of their own read back the same.
    let again = encode_messages(&whole.messages, config.role);
    let back = run_ws(&[&again], &config, 64);
    assert_eq!(back.messages, whole.messages);
    assert_eq!(back.end, WsEnd::Eof);
});
