//! The connection layer against loopback servers: TLS over any stream (TLS
//! in TLS, as through an HTTPS proxy), ALPN per pool key, a lease upgraded
//! to a byte stream (101) that keeps its pool slot, HTTP/2 leases sharing
//! one connection.
#![allow(clippy::unwrap_used)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aioxide::body::request::RequestBody;
use aioxide::connect::tls::{self, TlsMode};
use aioxide::connect::{Alpn, Stream, Tunnel};
use aioxide::pool::{Answer, Conn, Key, Outgoing, Pool, PoolConfig};
use aioxide::ErrorKind;
use aioxide::Fields;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::ServerConfig;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

fn acceptor(alpn: &[&[u8]]) -> tokio_rustls::TlsAcceptor {
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(ck.signing_key.serialize_der()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![CertificateDer::from(ck.cert.der().to_vec())], key)
        .unwrap();
    cfg.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    tokio_rustls::TlsAcceptor::from(Arc::new(cfg))
}

fn peer(port: u16, alpn: Alpn) -> tls::Peer<'static> {
    tls::Peer {
        host: "127.0.0.1",
        port,
        server_name: "localhost",
        alpn,
    }
}

/// One TLS session inside another: the outer one is what an HTTPS proxy
/// speaks, the inner one the origin's.  Answers "ping" with "pong" and
/// records the inner session's ALPN protocol.
#[tokio::test]
async fn tls_runs_over_tls() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen: Arc<Mutex<Option<Vec<u8>>>> = Arc::default();
    let s = seen.clone();
    tokio::spawn(async move {
        let (sock, _) = listener.accept().await.unwrap();
        let outer = acceptor(&[b"http/1.1"]).accept(sock).await.unwrap();
        let mut inner = acceptor(&[b"h2", b"http/1.1"]).accept(outer).await.unwrap();
        *s.lock().unwrap() = inner.get_ref().1.alpn_protocol().map(<[u8]>::to_vec);
        let mut buf = [0u8; 4];
        inner.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"ping");
        inner.write_all(b"pong").await.unwrap();
        inner.flush().await.unwrap();
    });
    let tcp = Stream::Tcp(TcpStream::connect(("127.0.0.1", port)).await.unwrap());
    let outer = tls::handshake(tcp, &peer(port, Alpn::Http1), &TlsMode::NoVerify)
        .await
        .unwrap();
    assert!(
        matches!(outer, Stream::Tls(_)),
        "TLS over TCP stays concrete"
    );
    let mut inner = tls::handshake(outer, &peer(port, Alpn::H2), &TlsMode::NoVerify)
        .await
        .unwrap();
    assert!(
        matches!(inner, Stream::Layered { h2: true, .. }),
        "TLS in TLS is boxed, its ALPN choice kept"
    );
    inner.write_all(b"ping").await.unwrap();
    inner.flush().await.unwrap();
    let mut buf = [0u8; 4];
    inner.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"pong");
    assert_eq!(seen.lock().unwrap().as_deref(), Some(&b"h2"[..]));
}

/// The pool key's ALPN choice is what the handshake offers.
#[tokio::test]
async fn alpn_is_chosen_per_key() {
    for (alpn, want) in [(Alpn::Http1, &b"http/1.1"[..]), (Alpn::H2, &b"h2"[..])] {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            let (sock, _) = listener.accept().await.unwrap();
            let tls = acceptor(&[b"h2", b"http/1.1"]).accept(sock).await.unwrap();
            tls.get_ref().1.alpn_protocol().map(<[u8]>::to_vec)
        });
        let tcp = Stream::Tcp(TcpStream::connect(("127.0.0.1", port)).await.unwrap());
        let _s = tls::handshake(tcp, &peer(port, alpn), &TlsMode::NoVerify)
            .await
            .unwrap();
        assert_eq!(server.await.unwrap().as_deref(), Some(want));
    }
}

/// A raw server: answers the first request head with `101 Switching
/// Protocols`, then echoes every byte.
async fn serve_upgrade() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut b = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    if sock.read_exact(&mut b).await.is_err() {
                        return;
                    }
                    head.push(b[0]);
                }
                let answer = b"HTTP/1.1 101 Switching Protocols\r\n\
                               Connection: Upgrade\r\nUpgrade: echo\r\n\r\n";
                if sock.write_all(answer).await.is_err() {
                    return;
                }
                let (mut r, mut w) = sock.split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
            });
        }
    });
    port
}

fn key(port: u16) -> Key {
    Key {
        host: "127.0.0.1".into(),
        port,
        tls: None,
        server_name: None,
        tunnel: Tunnel::None,
        alpn: Alpn::Http1,
    }
}

fn soon() -> Option<(Instant, ErrorKind)> {
    Some((
        Instant::now() + Duration::from_millis(100),
        ErrorKind::ConnectTimeout,
    ))
}

/// A 101 answer turns the lease into a byte stream that holds the pool's
/// only slot (limit=1) until it is dropped.
#[tokio::test]
async fn upgraded_stream_keeps_its_slot() {
    let port = serve_upgrade().await;
    let pool = Pool::new(PoolConfig {
        limit: 1,
        ..PoolConfig::default()
    });
    let key = key(port);
    let mut lease = pool.acquire(&key, None, |_| None, false).await.unwrap();
    let mut fields = Fields::default();
    fields.push("Host", format!("127.0.0.1:{port}"));
    fields.push("Connection", "Upgrade");
    fields.push("Upgrade", "echo");
    let resp = lease.send(outgoing("/chat", &fields)).await.unwrap();
    assert_eq!(resp.status, 101);
    assert!(resp.upgrade);
    let mut up = lease.upgrade(resp).unwrap();
    up.write_all(b"hello").await.unwrap();
    up.flush().await.unwrap();
    let mut buf = [0u8; 5];
    up.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"hello");

    let held = pool.acquire(&key, soon(), |_| None, false).await;
    assert_eq!(held.err().unwrap().kind, ErrorKind::ConnectTimeout);
    drop(up);
    let next = pool.acquire(&key, soon(), |_| None, false).await.unwrap();
    assert!(!next.reused, "an upgraded connection never goes back");
    assert_eq!(pool.idle_count(), 0);
}

/// A hyper HTTP/2 server (prior knowledge) answering "h2 ok"; counts the
/// connections it accepted.
async fn serve_h2() -> (u16, Arc<AtomicUsize>) {
    serve_h2_with(None).await
}

/// [`serve_h2`] announcing `max_streams` as SETTINGS_MAX_CONCURRENT_STREAMS.
async fn serve_h2_with(max_streams: Option<u32>) -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let conns = Arc::new(AtomicUsize::new(0));
    let c = conns.clone();
    tokio::spawn(async move {
        loop {
            let Ok((sock, _)) = listener.accept().await else {
                return;
            };
            c.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let service = hyper::service::service_fn(|_req| async {
                    Ok::<_, std::convert::Infallible>(http::Response::new(
                        http_body_util::Full::new(bytes::Bytes::from_static(b"h2 ok")),
                    ))
                });
                let mut server = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
                server.max_concurrent_streams(max_streams);
                let _ = server.serve_connection(TokioIo::new(sock), service).await;
            });
        }
    });
    (port, conns)
}

fn outgoing<'a>(target: &'a str, fields: &'a Fields) -> Outgoing<'a> {
    Outgoing {
        method: "GET",
        target,
        http10: false,
        fields,
        body: RequestBody::empty(),
        chunked: false,
        expect: false,
        limits: aioxide::HeadLimits::default(),
    }
}

/// The piece bodies of an answer, concatenated.
async fn body_of(mut resp: Answer) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(p) = std::future::poll_fn(|cx| resp.body.poll_piece(cx)).await {
        out.extend_from_slice(&p.unwrap().data);
    }
    out
}

/// An HTTP/2 key: leases share one connection, with requests in flight on
/// it at once.
#[tokio::test]
async fn h2_leases_share_one_connection() {
    let (port, conns) = serve_h2().await;
    let pool = Pool::new(PoolConfig::default());
    let key = Key {
        alpn: Alpn::H2,
        ..key(port)
    };
    let mut a = pool.acquire(&key, None, |_| None, false).await.unwrap();
    let mut b = pool.acquire(&key, None, |_| None, false).await.unwrap();
    assert!(
        !a.reused && b.reused,
        "the second lease goes on the first's connection"
    );
    let none = Fields::default();
    let (ra, rb) = tokio::join!(a.send(outgoing("/a", &none)), b.send(outgoing("/b", &none)));
    for resp in [ra.unwrap(), rb.unwrap()] {
        assert_eq!(resp.version, (2, 0));
        assert_eq!(&body_of(resp).await[..], b"h2 ok");
    }
    assert_eq!(conns.load(Ordering::SeqCst), 1);
    assert!(matches!(a.conn(), Some(Conn::Shared(_))));
}

/// Many acquisitions at once for a new HTTP/2 origin open one connection
/// and share it, up to the server's stream limit; past it, another.
#[tokio::test]
async fn h2_first_acquisitions_share_and_respect_the_stream_limit() {
    for (max_streams, leases, want) in [(None, 64, 1), (Some(4), 10, 3)] {
        let (port, conns) = serve_h2_with(max_streams).await;
        let pool = Pool::new(PoolConfig::default());
        let key = Key {
            alpn: Alpn::H2,
            ..key(port)
        };
        let all = (0..leases).map(|_| pool.acquire(&key, None, |_| None, false));
        let held: Vec<_> = futures_join_all(all).await;
        assert!(held.iter().all(Result::is_ok));
        assert_eq!(conns.load(Ordering::SeqCst), want, "{max_streams:?}");
        // A lease given back makes room: the next goes on an open connection.
        drop(held);
        let again = pool.acquire(&key, None, |_| None, false).await.unwrap();
        assert!(again.reused);
        assert_eq!(conns.load(Ordering::SeqCst), want);
    }
}

/// Every future of `all`, polled together (no futures crate here).
async fn futures_join_all<F: std::future::Future>(all: impl Iterator<Item = F>) -> Vec<F::Output> {
    let futs: Vec<_> = all.map(Box::pin).collect();
    let mut outs: Vec<Option<F::Output>> = futs.iter().map(|_| None).collect();
    let mut futs: Vec<_> = futs.into_iter().map(Some).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, slot) in futs.iter_mut().enumerate() {
            if let Some(f) = slot {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => {
                        outs[i] = Some(v);
                        *slot = None;
                    }
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        match pending {
            true => std::task::Poll::Pending,
            false => std::task::Poll::Ready(()),
        }
    })
    .await;
    outs.into_iter().flatten().collect()
}
