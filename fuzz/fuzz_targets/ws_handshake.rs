//! The server's answer to a WebSocket upgrade: `Sec-WebSocket-Extensions`
//! (`parse_extensions`) and the whole check (`check_response`) on
//! fuzzer-made headers. Never a panic; deterministic; a negotiated client
//! window is within 9..=15; a negotiation written back in canonical form
//! reads back the same; a subprotocol picked is one that was offered.
#![no_main]

use aioxide::ws::handshake::{check_response, parse_extensions, DeflateParams, Key};
use libfuzzer_sys::fuzz_target;

fn canonical(p: &DeflateParams) -> String {
    let mut s = format!(
        "permessage-deflate; client_max_window_bits={}; server_max_window_bits={}",
        p.client_max_window_bits, p.server_max_window_bits
    );
    if p.client_no_context_takeover {
        s.push_str("; client_no_context_takeover");
    }
    if p.server_no_context_takeover {
        s.push_str("; server_no_context_takeover");
    }
    s
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let got = parse_extensions(text);
    assert_eq!(
        format!("{got:?}"),
        format!("{:?}", parse_extensions(text)),
        "deterministic"
    );
    if let Ok(Some(p)) = &got {
        assert!((9..=15).contains(&p.client_max_window_bits), "{p:?}");
        let again = parse_extensions(&canonical(p));
        assert_eq!(again.ok().flatten().as_ref(), Some(p), "{:?}", canonical(p));
    }

    // Lines "name: value" as the response's headers.
    let key = Key::from_base64("dGhlIHNhbXBsZSBub25jZQ==");
    let accept = key.accept();
    let mut headers: Vec<(&str, &str)> = vec![
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Accept", &accept),
    ];
    let mut fuzzed: Vec<(&str, &str)> = text.lines().filter_map(|l| l.split_once(':')).collect();
    fuzzed.append(&mut headers);
    let protocols = vec!["chat".to_owned(), "v2.x".to_owned()];
    for compress in [0, 15] {
        if let Ok(n) = check_response(101, &fuzzed, &key, &protocols, compress) {
            if let Some(p) = &n.protocol {
                assert!(protocols.contains(p), "{p:?}");
            }
            if let Some(d) = &n.deflate {
                assert!(compress != 0);
                assert!((9..=15).contains(&d.client_max_window_bits));
            }
        }
    }
});
