//! The engine against raw loopback servers: pool reuse, framing, errors.
#![allow(clippy::unwrap_used)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use aioxide::{Client, ClientConfig, ErrorKind, Request, Timeouts};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Serve each connection with `answer(n)` for its n-th request (0-based);
/// returns the base URL and the count of accepted connections.
async fn serve<F>(answer: F) -> (String, Arc<AtomicUsize>)
where
    F: Fn(usize) -> Vec<u8> + Send + Sync + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let conns = Arc::new(AtomicUsize::new(0));
    let answer = Arc::new(answer);
    let c = conns.clone();
    tokio::spawn(async move {
        loop {
            let Ok((sock, _)) = listener.accept().await else {
                return;
            };
            c.fetch_add(1, Ordering::SeqCst);
            let answer = answer.clone();
            tokio::spawn(handle(sock, answer));
        }
    });
    (format!("http://{addr}"), conns)
}

async fn handle<F: Fn(usize) -> Vec<u8>>(mut sock: TcpStream, answer: Arc<F>) {
    let mut buf = Vec::new();
    let mut n = 0;
    loop {
        let mut tmp = [0u8; 4096];
        let Ok(k) = sock.read(&mut tmp).await else {
            return;
        };
        if k == 0 {
            return;
        }
        buf.extend_from_slice(&tmp[..k]);
        while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            buf.drain(..end + 4);
            let out = answer(n);
            n += 1;
            if out.is_empty() || sock.write_all(&out).await.is_err() {
                return;
            }
            if out.ends_with(b"\n\n\n") {
                // Marker: close after this answer.
                return;
            }
        }
    }
}

/// One GET of `{base}/` on a new client.
async fn get(base: &str) -> Result<aioxide::Response, aioxide::Error> {
    Client::default()
        .execute(Request::get(&format!("{base}/")))
        .await
}

fn ok(body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{}",
        body.len(),
        body
    )
    .into_bytes()
}

#[tokio::test]
async fn sequential_requests_share_one_connection() {
    let (base, conns) = serve(|_| ok("hello")).await;
    let client = Client::default();
    for _ in 0..5 {
        let mut r = client
            .execute(Request::get(&format!("{base}/")))
            .await
            .unwrap();
        assert_eq!(r.head.status, 200);
        assert_eq!(&r.body.read_to_end().await.unwrap()[..], b"hello");
    }
    assert_eq!(conns.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn unread_body_closes_the_connection() {
    let big = "x".repeat(200_000);
    let (base, conns) = serve(move |_| ok(&big)).await;
    let client = Client::default();
    let mut r = client
        .execute(Request::get(&format!("{base}/")))
        .await
        .unwrap();
    let first = r.body.chunk(10).await.unwrap().unwrap();
    assert_eq!(first.len(), 10);
    drop(r);
    let mut r = client
        .execute(Request::get(&format!("{base}/")))
        .await
        .unwrap();
    assert_eq!(r.body.read_to_end().await.unwrap().len(), 200_000);
    assert_eq!(
        conns.load(Ordering::SeqCst),
        2,
        "a half-read connection is never reused"
    );
}

#[tokio::test]
async fn force_close_opens_one_connection_per_request() {
    let (base, conns) = serve(|_| ok("x")).await;
    let mut cfg = ClientConfig::default();
    cfg.pool.force_close = true;
    let client = Client::new(cfg);
    for _ in 0..3 {
        let mut r = client
            .execute(Request::get(&format!("{base}/")))
            .await
            .unwrap();
        r.body.read_to_end().await.unwrap();
    }
    assert_eq!(conns.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn truncated_body_is_a_payload_error() {
    let (base, _) =
        serve(|_| b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc\n\n\n".to_vec()).await;
    let client = Client::default();
    let err = match client.execute(Request::get(&format!("{base}/"))).await {
        Ok(mut r) => r.body.read_to_end().await.unwrap_err(),
        Err(e) => e,
    };
    assert_eq!(err.kind, ErrorKind::Payload);
}

#[tokio::test]
async fn bad_chunk_size_is_a_payload_error() {
    let (base, _) = serve(|_| {
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n".to_vec()
    })
    .await;
    let client = Client::default();
    let err = match client.execute(Request::get(&format!("{base}/"))).await {
        Ok(mut r) => r.body.read_to_end().await.unwrap_err(),
        Err(e) => e,
    };
    assert_eq!(err.kind, ErrorKind::Payload);
}

#[tokio::test]
async fn content_length_with_chunked_is_not_reused() {
    let (base, conns) = serve(|_| {
        b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n".to_vec()
    })
    .await;
    let client = Client::default();
    for _ in 0..2 {
        if let Ok(mut r) = client.execute(Request::get(&format!("{base}/"))).await {
            let _ = r.body.read_to_end().await;
        }
    }
    assert_eq!(conns.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn closed_without_answer_is_server_disconnected() {
    let (base, _) = serve(|_| Vec::new()).await;
    let err = Client::default()
        .execute(Request::get(&format!("{base}/")))
        .await
        .err()
        .unwrap();
    assert_eq!(err.kind, ErrorKind::ServerDisconnected);
}

#[tokio::test]
async fn refused_is_a_connect_error() {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    let err = Client::default()
        .execute(Request::get(&format!("http://127.0.0.1:{port}/")))
        .await
        .err()
        .unwrap();
    assert_eq!(err.kind, ErrorKind::Connect);
    assert_eq!(err.port, Some(port));
    assert!(err.errno.is_some());
}

#[tokio::test]
async fn sock_read_timeout() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (_sock, _) = listener.accept().await.unwrap();
        tokio::time::sleep(Duration::from_secs(30)).await;
    });
    let mut req = Request::get(&format!("http://{addr}/"));
    req.timeouts = Timeouts::from_secs(Some(20.0), None, Some(0.2), None);
    let err = Client::default().execute(req).await.err().unwrap();
    assert_eq!(err.kind, ErrorKind::ReadTimeout);
    let mut req = Request::get(&format!("http://{addr}/"));
    req.timeouts = Timeouts::from_secs(Some(0.2), None, None, None);
    let err = Client::default().execute(req).await.err().unwrap();
    assert_eq!(err.kind, ErrorKind::TotalTimeout);
}

#[tokio::test]
async fn follows_redirects_and_records_history() {
    let (base, _) = serve(|n| match n {
        0 => b"HTTP/1.1 302 Found\r\nLocation: /next\r\nContent-Length: 0\r\n\r\n".to_vec(),
        _ => ok("done"),
    })
    .await;
    let mut r = Client::default()
        .execute(Request::get(&format!("{base}/start")))
        .await
        .unwrap();
    assert_eq!(r.head.status, 200);
    assert_eq!(r.history.len(), 1);
    assert_eq!(r.history[0].status, 302);
    assert!(r.head.url.ends_with("/next"));
    assert_eq!(&r.body.read_to_end().await.unwrap()[..], b"done");
}

#[tokio::test]
async fn too_many_redirects() {
    let (base, _) =
        serve(|_| b"HTTP/1.1 302 Found\r\nLocation: /again\r\nContent-Length: 0\r\n\r\n".to_vec())
            .await;
    let mut req = Request::get(&format!("{base}/"));
    req.max_redirects = 3;
    let err = Client::default().execute(req).await.err().unwrap();
    assert_eq!(err.kind, ErrorKind::TooManyRedirects);
    assert_eq!(err.history::<aioxide::ResponseHead>().len(), 3);
}

#[tokio::test]
async fn gzip_body_is_decoded() {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(b"compressed hello").unwrap();
    let z = e.finish().unwrap();
    let (base, _) = serve(move |_| {
        let mut out = format!(
            "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\n\r\n",
            z.len()
        )
        .into_bytes();
        out.extend_from_slice(&z);
        out
    })
    .await;
    let mut r = get(&base).await.unwrap();
    assert_eq!(
        &r.body.read_to_end().await.unwrap()[..],
        b"compressed hello"
    );
    let mut req = Request::get(&format!("{base}/"));
    req.auto_decompress = false;
    let mut r = Client::default().execute(req).await.unwrap();
    assert_ne!(
        &r.body.read_to_end().await.unwrap()[..],
        b"compressed hello"
    );
}

/// Read the whole body with `read_into`, into a buffer of `len` bytes.
async fn read_into_all(
    body: &mut aioxide::ResponseBody,
    len: usize,
) -> Result<Vec<u8>, aioxide::Error> {
    let mut out = vec![std::mem::MaybeUninit::<u8>::uninit(); len];
    let mut dst = tokio::io::ReadBuf::uninit(&mut out);
    while body.read_into(&mut dst).await? > 0 {}
    Ok(dst.filled().to_vec())
}

#[tokio::test]
async fn a_body_read_into_a_buffer_comes_whole_and_in_order() {
    // The head with the body's start (kept by the read-ahead), the rest once
    // the client has the response (read straight into the buffer); the
    // connection serves again after it.
    let body: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (go, mut going) = tokio::sync::mpsc::channel::<()>(2);
    let sent = body.clone();
    tokio::spawn(async move {
        let (mut sock, _) = listener.accept().await.unwrap();
        let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", sent.len());
        for _ in 0..2 {
            let mut buf = [0u8; 4096];
            let _ = sock.read(&mut buf).await.unwrap();
            let first = [head.as_bytes(), &sent[..1000]].concat();
            sock.write_all(&first).await.unwrap();
            going.recv().await.unwrap();
            sock.write_all(&sent[1000..]).await.unwrap();
        }
        let mut rest = Vec::new();
        let _ = sock.read_to_end(&mut rest).await;
    });
    let client = Client::default();
    for _ in 0..2 {
        // (A second connection would never be answered: bounded.)
        let mut req = Request::get(&format!("http://{addr}/"));
        req.timeouts = Timeouts::from_secs(Some(10.0), None, None, None);
        let mut r = client.execute(req).await.unwrap();
        go.send(()).await.unwrap();
        assert_eq!(read_into_all(&mut r.body, body.len()).await.unwrap(), body);
        assert!(r.body.is_eof());
        // (What came after the response: from the socket into the buffer.)
        assert_eq!(r.body.direct_bytes(), body.len() as u64 - 1000);
    }
}

#[tokio::test]
async fn a_body_read_into_a_buffer_that_ends_early_is_a_payload_error() {
    let (base, _) = serve(|_| {
        let mut out = b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n".to_vec();
        out.extend_from_slice(&[b'x'; 50_000]);
        out.extend_from_slice(b"\n\n\n");
        out
    })
    .await;
    let mut r = get(&base).await.unwrap();
    let err = read_into_all(&mut r.body, 100_000).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Payload);
}

#[tokio::test]
async fn a_body_read_into_a_buffer_keeps_the_read_timeout() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut sock, _) = listener.accept().await.unwrap();
        let mut buf = [0u8; 4096];
        let _ = sock.read(&mut buf).await.unwrap();
        let head = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc";
        sock.write_all(head).await.unwrap();
        tokio::time::sleep(Duration::from_secs(30)).await;
    });
    let mut req = Request::get(&format!("http://{addr}/"));
    req.timeouts = Timeouts::from_secs(Some(20.0), None, Some(0.2), None);
    let mut r = Client::default().execute(req).await.unwrap();
    let err = read_into_all(&mut r.body, 10).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::ReadTimeout);
}

#[test]
fn drivable_requests_are_http_without_h2c_and_https_over_tcp_without_h2() {
    use aioxide::policy::h2::Http2;
    let client = Client::default();
    assert!(client.drivable(&Request::get("http://127.0.0.1/")));
    assert!(client.drivable(&Request::get("HTTP://127.0.0.1/")));
    assert!(client.drivable(&Request::get("https://127.0.0.1/")));
    assert!(client.drivable(&Request::get("HTTPS://127.0.0.1/")));
    let mut proxied = Request::get("https://127.0.0.1/");
    proxied.proxy = Some(aioxide::policy::proxy::Proxy {
        url: "http://127.0.0.1:3128".into(),
        headers: Vec::new(),
    });
    assert!(!client.drivable(&proxied), "a tunnel stays with the engine");
    let with = |mode| {
        let mut cfg = ClientConfig::default();
        cfg.pool.http2 = mode;
        Client::new(cfg)
    };
    let h2c = with(Http2::PriorKnowledge);
    assert!(!h2c.drivable(&Request::get("http://127.0.0.1/")));
    assert!(!h2c.drivable(&Request::get("https://127.0.0.1/")));
    let alpn = with(Http2::Alpn);
    assert!(alpn.drivable(&Request::get("http://127.0.0.1/")));
    assert!(!alpn.drivable(&Request::get("https://127.0.0.1/")));
}

/// A chunked answer whose second chunk (9 bytes announced) ends after 5,
/// sent once the client has the response, in one segment with the close.
async fn cut_in_a_chunk() -> (String, tokio::sync::mpsc::Sender<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (go, mut going) = tokio::sync::mpsc::channel::<()>(1);
    tokio::spawn(async move {
        let (mut sock, _) = listener.accept().await.unwrap();
        let mut buf = [0u8; 4096];
        let _ = sock.read(&mut buf).await.unwrap();
        let head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n";
        sock.write_all(head).await.unwrap();
        let _ = going.recv().await;
        let _ = sock.write_all(b"9\r\ndefgh").await;
    });
    (format!("http://{addr}/"), go)
}

#[tokio::test]
async fn the_bytes_before_a_body_error_come_out_before_it() {
    // Each way of reading in pieces: nothing received is lost (the cut
    // chunk's bytes were dropped when the close came in the same read).
    for how in 0..3 {
        let (url, go) = cut_in_a_chunk().await;
        let mut r = Client::default().execute(Request::get(&url)).await.unwrap();
        go.send(()).await.unwrap();
        let mut got = Vec::new();
        let err = loop {
            let piece = match how {
                0 => r.body.chunk(2).await,
                1 => r.body.next_piece().await,
                _ => {
                    let mut out = [std::mem::MaybeUninit::<u8>::uninit(); 3];
                    let mut dst = tokio::io::ReadBuf::uninit(&mut out);
                    r.body
                        .read_into(&mut dst)
                        .await
                        .map(|_| Some(bytes::Bytes::copy_from_slice(dst.filled())))
                }
            };
            match piece {
                Ok(Some(b)) => got.extend_from_slice(&b),
                Ok(None) => panic!("a clean end after {got:?}"),
                Err(e) => break e,
            }
        };
        assert_eq!(got, b"abcdefgh", "way {how}");
        assert_eq!(err.kind, ErrorKind::Payload);
    }
    // Read whole, the same body is the error alone.
    let (url, go) = cut_in_a_chunk().await;
    let mut r = Client::default().execute(Request::get(&url)).await.unwrap();
    go.send(()).await.unwrap();
    assert_eq!(
        r.body.read_to_end().await.unwrap_err().kind,
        ErrorKind::Payload
    );
}
