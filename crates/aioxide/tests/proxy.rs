//! The tunnel step against tiny in-test proxies on loopback: CONNECT (with
//! Proxy-Authorization, 407, closed / malformed / stalled answers, bytes
//! after the answer head, an HTTPS proxy, TLS to the origin inside), SOCKS4,
//! SOCKS4a, SOCKS5 and SOCKS5h (auth, refusals, malformed replies), a
//! forward proxy, and requests through a `Pool` for each kind.
#![allow(clippy::unwrap_used)]

use std::hash::{DefaultHasher, Hash, Hasher};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aioxide::body::request::RequestBody;
use aioxide::connect::dns::{ConnectConfig, DnsCache};
use aioxide::connect::tls::TlsMode;
use aioxide::connect::{self, Alpn, ProxyAddr, SocksVersion, Stream, Target, Tunnel};
use aioxide::pool::{Key, Outgoing, Pool, PoolConfig};
use aioxide::{Error, ErrorKind};
use hyper_util::rt::TokioIo;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::ServerConfig;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const AUTH: &str = "Basic dXNlcjpwYXNz"; // user:pass

type Log = Arc<Mutex<Vec<String>>>;

fn acceptor() -> tokio_rustls::TlsAcceptor {
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(ck.signing_key.serialize_der()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![CertificateDer::from(ck.cert.der().to_vec())], key)
        .unwrap();
    tokio_rustls::TlsAcceptor::from(Arc::new(cfg))
}

async fn listen() -> (TcpListener, SocketAddr) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let a = l.local_addr().unwrap();
    (l, a)
}

/// An origin that answers "ping" with "pong" (TLS when `tls`), forever.
async fn origin(tls: bool) -> SocketAddr {
    let (l, addr) = listen().await;
    let acc = acceptor();
    tokio::spawn(async move {
        while let Ok((sock, _)) = l.accept().await {
            let acc = acc.clone();
            tokio::spawn(async move {
                if tls {
                    let Ok(s) = acc.accept(sock).await else {
                        return;
                    };
                    pong(s).await;
                } else {
                    pong(sock).await;
                }
            });
        }
    });
    addr
}

async fn pong<S: AsyncRead + AsyncWrite + Unpin>(mut s: S) {
    let mut b = [0u8; 4];
    while s.read_exact(&mut b).await.is_ok() && &b == b"ping" {
        if s.write_all(b"pong").await.is_err() || s.flush().await.is_err() {
            return;
        }
    }
}

/// An HTTP/1.1 origin (hyper) answering "hello" with the request target.
async fn http_origin() -> SocketAddr {
    let (l, addr) = listen().await;
    tokio::spawn(async move {
        while let Ok((sock, _)) = l.accept().await {
            tokio::spawn(async move {
                let service = hyper::service::service_fn(|req: http::Request<_>| async move {
                    let body = format!("hello {}", req.uri());
                    Ok::<_, std::convert::Infallible>(http::Response::new(
                        http_body_util::Full::new(bytes::Bytes::from(body)),
                    ))
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(sock), service)
                    .await;
            });
        }
    });
    addr
}

/// Read a head up to its blank line, byte by byte (`None` at EOF).
async fn read_head<S: AsyncRead + Unpin>(s: &mut S) -> Option<String> {
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        s.read_exact(&mut b).await.ok()?;
        head.push(b[0]);
    }
    Some(String::from_utf8_lossy(&head).into_owned())
}

/// What a test proxy does once it has read the CONNECT head.
#[derive(Clone, Copy)]
enum Then {
    /// Check Proxy-Authorization (407 without it), answer 200 with
    /// `extra` after the head, then splice to the origin.
    Tunnel { extra: &'static [u8] },
    /// Write these bytes and close.
    Reply(&'static [u8]),
}

/// A CONNECT proxy (TLS itself when `tls`) leading to `origin`; logs
/// every head it reads.
async fn connect_proxy(origin: SocketAddr, tls: bool, then: Then) -> (SocketAddr, Log) {
    let (l, addr) = listen().await;
    let log = Log::default();
    let seen = log.clone();
    let acc = acceptor();
    tokio::spawn(async move {
        while let Ok((sock, _)) = l.accept().await {
            let (acc, seen) = (acc.clone(), seen.clone());
            tokio::spawn(async move {
                if tls {
                    let Ok(s) = acc.accept(sock).await else {
                        return;
                    };
                    serve_connect(s, origin, then, seen).await;
                } else {
                    serve_connect(sock, origin, then, seen).await;
                }
            });
        }
    });
    (addr, log)
}

async fn serve_connect<S>(mut s: S, origin: SocketAddr, then: Then, seen: Log)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let Some(head) = read_head(&mut s).await else {
        return;
    };
    seen.lock().unwrap().push(head.clone());
    let extra = match then {
        Then::Reply(bytes) => {
            let _ = s.write_all(bytes).await;
            let _ = s.shutdown().await;
            return;
        }
        Then::Tunnel { extra } => extra,
    };
    if !head.contains(&format!("Proxy-Authorization: {AUTH}\r\n")) {
        let no = b"HTTP/1.1 407 Proxy Authentication Required\r\n\
                   Proxy-Authenticate: Basic realm=\"t\"\r\nContent-Length: 0\r\n\r\n";
        let _ = s.write_all(no).await;
        return;
    }
    let ok = [b"HTTP/1.1 200 Connection established\r\n\r\n", extra].concat();
    if s.write_all(&ok).await.is_err() {
        return;
    }
    let Ok(mut up) = TcpStream::connect(origin).await else {
        return;
    };
    let _ = tokio::io::copy_bidirectional(&mut s, &mut up).await;
}

fn proxy_addr(a: SocketAddr) -> ProxyAddr {
    ProxyAddr {
        host: "127.0.0.1".into(),
        port: a.port(),
    }
}

fn http_tunnel(proxy: SocketAddr, tls: Option<TlsMode>, auth: bool) -> Tunnel {
    let headers = if auth {
        vec![("Proxy-Authorization".to_owned(), AUTH.to_owned())]
    } else {
        Vec::new()
    };
    Tunnel::Http {
        proxy: proxy_addr(proxy),
        tls,
        headers,
    }
}

fn target(host: &str, port: u16, tls: bool, tunnel: Tunnel) -> Target {
    Target {
        host: host.into(),
        port,
        tls: tls.then_some(TlsMode::NoVerify),
        server_name: tls.then(|| "localhost".to_owned()),
        tunnel,
        alpn: Alpn::Http1,
    }
}

/// Open a connection to `t`, bounded (a hang fails the test).
async fn open(t: &Target) -> Result<Stream, Error> {
    let cfg = ConnectConfig::default();
    let cache = DnsCache::default();
    let done = tokio::time::timeout(Duration::from_secs(10), connect::connect(t, &cfg, &cache));
    done.await.expect("connect is bounded").map(|(s, _)| s)
}

async fn ping(s: &mut Stream) {
    s.write_all(b"ping").await.unwrap();
    s.flush().await.unwrap();
    let mut b = [0u8; 4];
    s.read_exact(&mut b).await.unwrap();
    assert_eq!(&b, b"pong");
}

// -- CONNECT ------------------------------------------------------------------

#[tokio::test]
async fn connect_tunnel_with_auth_reaches_the_origin() {
    let o = origin(false).await;
    let (p, log) = connect_proxy(o, false, Then::Tunnel { extra: b"" }).await;
    let t = target("127.0.0.1", o.port(), false, http_tunnel(p, None, true));
    let mut s = open(&t).await.unwrap();
    assert!(
        matches!(s, Stream::Tcp(_)),
        "no surplus: the socket as it is"
    );
    ping(&mut s).await;
    let want = format!(
        "CONNECT 127.0.0.1:{0} HTTP/1.1\r\nHost: 127.0.0.1:{0}\r\n\
         Proxy-Authorization: {AUTH}\r\n\r\n",
        o.port()
    );
    assert_eq!(log.lock().unwrap().as_slice(), [want]);
}

#[tokio::test]
async fn bytes_after_the_answer_head_are_read_first() {
    let o = origin(false).await;
    let (p, _) = connect_proxy(o, false, Then::Tunnel { extra: b"early" }).await;
    let t = target("127.0.0.1", o.port(), false, http_tunnel(p, None, true));
    let mut s = open(&t).await.unwrap();
    let mut b = [0u8; 5];
    s.read_exact(&mut b).await.unwrap();
    assert_eq!(&b, b"early");
    ping(&mut s).await;
}

#[tokio::test]
async fn proxy_407_is_proxy_status_with_headers() {
    let o = origin(false).await;
    let (p, _) = connect_proxy(o, false, Then::Tunnel { extra: b"" }).await;
    let t = target("127.0.0.1", o.port(), false, http_tunnel(p, None, false));
    let e = open(&t).await.err().unwrap();
    assert_eq!(e.kind, ErrorKind::ProxyStatus);
    assert_eq!(e.message, "Proxy Authentication Required");
    assert_eq!(
        (e.host.as_deref(), e.port),
        (Some("127.0.0.1"), Some(p.port()))
    );
    let reply = e.proxy_reply().unwrap();
    assert_eq!(reply.status, 407);
    assert_eq!(reply.headers["proxy-authenticate"], "Basic realm=\"t\"");
}

#[tokio::test]
async fn proxy_closing_mid_answer_is_server_disconnected() {
    let o = origin(false).await;
    let (p, _) = connect_proxy(o, false, Then::Reply(b"HTTP/1.1 200 Conn")).await;
    let t = target("127.0.0.1", o.port(), false, http_tunnel(p, None, false));
    let e = open(&t).await.err().unwrap();
    assert_eq!(e.kind, ErrorKind::ServerDisconnected);
}

#[tokio::test]
async fn malformed_answer_is_bad_response() {
    let o = origin(false).await;
    let (p, _) = connect_proxy(o, false, Then::Reply(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")).await;
    let t = target("127.0.0.1", o.port(), false, http_tunnel(p, None, false));
    let e = open(&t).await.err().unwrap();
    assert_eq!(e.kind, ErrorKind::BadResponse);
}

#[tokio::test]
async fn non_200_success_is_refused_as_aiohttp_does() {
    let o = origin(false).await;
    let (p, _) = connect_proxy(o, false, Then::Reply(b"HTTP/1.1 204 \r\n\r\n")).await;
    let t = target("127.0.0.1", o.port(), false, http_tunnel(p, None, false));
    let e = open(&t).await.err().unwrap();
    assert_eq!(e.kind, ErrorKind::ProxyStatus);
    assert_eq!(e.message, "No Content", "the canonical reason when none");
}

#[tokio::test]
async fn unreachable_proxy_is_proxy_connect() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let t = target(
        "example.invalid",
        443,
        true,
        http_tunnel(closed, None, true),
    );
    let e = open(&t).await.err().unwrap();
    assert_eq!(e.kind, ErrorKind::ProxyConnect);
    assert_eq!(
        e.port,
        Some(closed.port()),
        "the proxy's address, not the origin's"
    );
    assert_eq!(e.errno, Some(libc_econnrefused()));
}

fn libc_econnrefused() -> i32 {
    std::io::Error::from(std::io::ErrorKind::ConnectionRefused)
        .raw_os_error()
        .unwrap_or(111)
}

/// A proxy that accepts and then never answers: only the caller's connect
/// deadline (here the pool's `sock_connect`) ends the attempt.
#[tokio::test]
async fn stalling_proxy_is_bounded_by_the_connect_deadline() {
    let (l, p) = listen().await;
    let held = Arc::new(Mutex::new(Vec::new()));
    let h = held.clone();
    tokio::spawn(async move {
        while let Ok((sock, _)) = l.accept().await {
            h.lock().unwrap().push(sock);
        }
    });
    let pool = Pool::new(PoolConfig::default());
    let key = key("127.0.0.1", 9, false, http_tunnel(p, None, true));
    let started = Instant::now();
    let deadline =
        |now: Instant| Some((now + Duration::from_millis(200), ErrorKind::ConnectTimeout));
    let got = tokio::time::timeout(
        Duration::from_secs(5),
        pool.acquire(&key, None, deadline, false),
    )
    .await
    .expect("bounded by sock_connect");
    assert_eq!(got.err().unwrap().kind, ErrorKind::ConnectTimeout);
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(held.lock().unwrap().len(), 1, "the proxy did accept");
}

#[tokio::test]
async fn tls_origin_through_connect() {
    let o = origin(true).await;
    let (p, log) = connect_proxy(o, false, Then::Tunnel { extra: b"" }).await;
    let t = target("localhost", o.port(), true, http_tunnel(p, None, true));
    let mut s = open(&t).await.unwrap();
    assert!(matches!(s, Stream::Tls(_)), "TLS over the tunnelled socket");
    ping(&mut s).await;
    assert!(log.lock().unwrap()[0].starts_with(&format!("CONNECT localhost:{} ", o.port())));
}

#[tokio::test]
async fn https_proxy_carries_tls_in_tls() {
    let o = origin(true).await;
    let (p, _) = connect_proxy(o, true, Then::Tunnel { extra: b"" }).await;
    let via = Tunnel::Http {
        proxy: ProxyAddr {
            host: "localhost".into(),
            port: p.port(),
        },
        tls: Some(TlsMode::NoVerify),
        headers: vec![("Proxy-Authorization".to_owned(), AUTH.to_owned())],
    };
    let t = target("localhost", o.port(), true, via);
    let mut s = open(&t).await.unwrap();
    assert!(matches!(s, Stream::Layered { h2: false, .. }));
    ping(&mut s).await;
}

#[tokio::test]
async fn https_proxy_certificate_is_checked_against_the_proxy() {
    let o = origin(true).await;
    let (p, _) = connect_proxy(o, true, Then::Tunnel { extra: b"" }).await;
    let via = Tunnel::Http {
        proxy: proxy_addr(p),
        tls: Some(TlsMode::Verify),
        headers: Vec::new(),
    };
    let t = target("localhost", o.port(), true, via);
    let e = open(&t).await.err().unwrap();
    assert_eq!(e.kind, ErrorKind::Certificate);
    assert_eq!(e.port, Some(p.port()));
}

// -- SOCKS --------------------------------------------------------------------

/// What a test SOCKS server answers.
#[derive(Clone)]
struct Script {
    /// SOCKS5 username/password it requires.
    auth: Option<(&'static str, &'static str)>,
    /// The reply code (SOCKS4: 0x5a granted; SOCKS5: 0 succeeded).
    code: u8,
    /// Reply with these bytes instead of a well-formed reply, then close.
    garbage: Option<&'static [u8]>,
}

fn granted() -> Script {
    Script {
        auth: None,
        code: 0,
        garbage: None,
    }
}

/// A SOCKS4/5 server (by the first byte) leading to `origin`; logs what it
/// was asked: "v4 user=<id> ip=<ip> name=<name>" or "v5 atyp=<n> addr=<..>".
async fn socks_server(origin: SocketAddr, script: Script) -> (SocketAddr, Log) {
    let (l, addr) = listen().await;
    let log = Log::default();
    let seen = log.clone();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = l.accept().await {
            let (script, seen) = (script.clone(), seen.clone());
            tokio::spawn(async move {
                let granted = match sock.read_u8().await {
                    Ok(4) => socks4_server(&mut sock, &script, &seen).await,
                    Ok(5) => socks5_server(&mut sock, &script, &seen).await,
                    _ => None,
                };
                if granted == Some(true) {
                    let mut up = TcpStream::connect(origin).await.unwrap();
                    let _ = tokio::io::copy_bidirectional(&mut sock, &mut up).await;
                }
            });
        }
    });
    (addr, log)
}

async fn read_cstr(s: &mut TcpStream) -> Option<String> {
    let mut out = Vec::new();
    loop {
        match s.read_u8().await.ok()? {
            0 => return Some(String::from_utf8_lossy(&out).into_owned()),
            b => out.push(b),
        }
    }
}

async fn socks4_server(s: &mut TcpStream, sc: &Script, seen: &Log) -> Option<bool> {
    let mut head = [0u8; 7];
    s.read_exact(&mut head).await.ok()?;
    let ip = std::net::Ipv4Addr::new(head[3], head[4], head[5], head[6]);
    let user = read_cstr(s).await?;
    let name = if head[3..6] == [0, 0, 0] && head[6] != 0 {
        read_cstr(s).await?
    } else {
        String::new()
    };
    seen.lock()
        .unwrap()
        .push(format!("v4 user={user} ip={ip} name={name}"));
    if let Some(g) = sc.garbage {
        s.write_all(g).await.ok()?;
        return Some(false);
    }
    let code = if sc.code == 0 { 0x5a } else { sc.code };
    s.write_all(&[0, code, 0, 0, 0, 0, 0, 0]).await.ok()?;
    Some(code == 0x5a)
}

async fn socks5_server(s: &mut TcpStream, sc: &Script, seen: &Log) -> Option<bool> {
    let n = s.read_u8().await.ok()?;
    let mut methods = vec![0u8; usize::from(n)];
    s.read_exact(&mut methods).await.ok()?;
    if let Some(g) = sc.garbage {
        s.write_all(g).await.ok()?;
        return Some(false);
    }
    let want = if sc.auth.is_some() { 2 } else { 0 };
    if !methods.contains(&want) {
        s.write_all(&[5, 0xff]).await.ok()?;
        return Some(false);
    }
    s.write_all(&[5, want]).await.ok()?;
    if let Some((user, pass)) = sc.auth {
        let mut vl = [0u8; 2];
        s.read_exact(&mut vl).await.ok()?;
        let mut u = vec![0u8; usize::from(vl[1])];
        s.read_exact(&mut u).await.ok()?;
        let mut p = vec![0u8; usize::from(s.read_u8().await.ok()?)];
        s.read_exact(&mut p).await.ok()?;
        let ok = u == user.as_bytes() && p == pass.as_bytes();
        s.write_all(&[1, if ok { 0 } else { 1 }]).await.ok()?;
        if !ok {
            return Some(false);
        }
    }
    let mut req = [0u8; 4];
    s.read_exact(&mut req).await.ok()?;
    let addr = match req[3] {
        1 => {
            let mut a = [0u8; 4];
            s.read_exact(&mut a).await.ok()?;
            std::net::Ipv4Addr::from(a).to_string()
        }
        4 => {
            let mut a = [0u8; 16];
            s.read_exact(&mut a).await.ok()?;
            std::net::Ipv6Addr::from(a).to_string()
        }
        _ => {
            let mut a = vec![0u8; usize::from(s.read_u8().await.ok()?)];
            s.read_exact(&mut a).await.ok()?;
            String::from_utf8_lossy(&a).into_owned()
        }
    };
    let port = s.read_u16().await.ok()?;
    seen.lock()
        .unwrap()
        .push(format!("v5 atyp={} addr={addr} port={port}", req[3]));
    // A name as bound address, to exercise the variable-length reply.
    let mut reply = vec![5, sc.code, 0, 3, 4];
    reply.extend_from_slice(b"bndx\x00\x00");
    s.write_all(&reply).await.ok()?;
    Some(sc.code == 0)
}

fn socks(p: SocketAddr, version: SocksVersion, auth: Option<(&str, &str)>) -> Tunnel {
    Tunnel::Socks {
        proxy: proxy_addr(p),
        version,
        auth: auth.map(|(u, p)| (u.to_owned(), p.to_owned())),
    }
}

#[tokio::test]
async fn socks4_sends_an_ipv4_address_and_the_user_id() {
    let o = origin(false).await;
    let (p, log) = socks_server(o, granted()).await;
    let via = socks(p, SocksVersion::Socks4, Some(("alice", "unused")));
    let t = target("127.0.0.1", o.port(), false, via);
    ping(&mut open(&t).await.unwrap()).await;
    assert_eq!(
        log.lock().unwrap().as_slice(),
        ["v4 user=alice ip=127.0.0.1 name="]
    );
}

#[tokio::test]
async fn socks4a_lets_the_proxy_resolve() {
    let o = origin(false).await;
    let (p, log) = socks_server(o, granted()).await;
    let t = target(
        "origin.test",
        o.port(),
        false,
        socks(p, SocksVersion::Socks4a, None),
    );
    ping(&mut open(&t).await.unwrap()).await;
    assert_eq!(
        log.lock().unwrap().as_slice(),
        ["v4 user= ip=0.0.0.1 name=origin.test"]
    );
}

#[tokio::test]
async fn socks4_refusal_names_the_code() {
    let o = origin(false).await;
    let sc = Script {
        code: 0x5b,
        ..granted()
    };
    let (p, _) = socks_server(o, sc).await;
    let t = target(
        "127.0.0.1",
        o.port(),
        false,
        socks(p, SocksVersion::Socks4, None),
    );
    let e = open(&t).await.err().unwrap();
    assert_eq!(e.kind, ErrorKind::ProxyConnect);
    assert_eq!(
        e.message,
        "SOCKS4 proxy refused: 0x5b request rejected or failed"
    );
    assert_eq!(e.port, Some(p.port()));
}

#[tokio::test]
async fn socks5_resolves_here_and_sends_an_address() {
    let o = origin(false).await;
    let (p, log) = socks_server(o, granted()).await;
    let t = target(
        "localhost",
        o.port(),
        false,
        socks(p, SocksVersion::Socks5, None),
    );
    ping(&mut open(&t).await.unwrap()).await;
    let line = log.lock().unwrap()[0].clone();
    let ip =
        line.starts_with("v5 atyp=1 addr=127.0.0.1 ") || line.starts_with("v5 atyp=4 addr=::1 ");
    assert!(ip, "an IPv4 or IPv6 address, not the name: {line}");
}

#[tokio::test]
async fn socks5h_sends_the_name() {
    let o = origin(false).await;
    let (p, log) = socks_server(o, granted()).await;
    let t = target(
        "origin.test",
        443,
        false,
        socks(p, SocksVersion::Socks5h, None),
    );
    ping(&mut open(&t).await.unwrap()).await;
    assert_eq!(
        log.lock().unwrap().as_slice(),
        ["v5 atyp=3 addr=origin.test port=443"]
    );
}

#[tokio::test]
async fn socks5_username_and_password() {
    let o = origin(false).await;
    let sc = Script {
        auth: Some(("user", "secret")),
        ..granted()
    };
    let (p, _) = socks_server(o, sc).await;
    let good = socks(p, SocksVersion::Socks5h, Some(("user", "secret")));
    ping(&mut open(&target("o.test", 1, false, good)).await.unwrap()).await;

    let bad = socks(p, SocksVersion::Socks5h, Some(("user", "wrong")));
    let e = open(&target("o.test", 1, false, bad)).await.err().unwrap();
    assert_eq!(e.kind, ErrorKind::ProxyConnect);
    assert!(e.message.contains("username and password"), "{}", e.message);

    let none = socks(p, SocksVersion::Socks5h, None);
    let e = open(&target("o.test", 1, false, none)).await.err().unwrap();
    assert_eq!(e.kind, ErrorKind::ProxyConnect);
    assert!(e.message.contains("0xff"), "{}", e.message);
}

#[tokio::test]
async fn socks5_refusal_names_the_code_and_errno() {
    let o = origin(false).await;
    let sc = Script {
        code: 5,
        ..granted()
    };
    let (p, _) = socks_server(o, sc).await;
    let t = target("o.test", 1, false, socks(p, SocksVersion::Socks5h, None));
    let e = open(&t).await.err().unwrap();
    assert_eq!(e.kind, ErrorKind::ProxyConnect);
    assert_eq!(e.message, "SOCKS5 proxy refused: 0x05 connection refused");
    assert_eq!(e.errno, Some(libc_econnrefused()));
}

#[tokio::test]
async fn malformed_socks_replies_are_errors_not_hangs() {
    let o = origin(false).await;
    for version in [SocksVersion::Socks4a, SocksVersion::Socks5h] {
        let sc = Script {
            garbage: Some(b"HTTP/1.1 400 Bad Request\r\n\r\n"),
            ..granted()
        };
        let (p, _) = socks_server(o, sc).await;
        let t = target("o.test", 1, false, socks(p, version, None));
        let e = open(&t).await.err().unwrap();
        assert_eq!(e.kind, ErrorKind::ProxyConnect);
        assert!(e.message.contains("malformed"), "{}", e.message);
    }
    // A reply cut short: the proxy closes after one byte.
    let sc = Script {
        garbage: Some(b"\x05"),
        ..granted()
    };
    let (p, _) = socks_server(o, sc).await;
    let t = target("o.test", 1, false, socks(p, SocksVersion::Socks5h, None));
    let e = open(&t).await.err().unwrap();
    assert!(e.message.contains("closed"), "{}", e.message);
}

#[tokio::test]
async fn tls_origin_through_socks5() {
    let o = origin(true).await;
    let (p, _) = socks_server(o, granted()).await;
    let t = target(
        "localhost",
        o.port(),
        true,
        socks(p, SocksVersion::Socks5h, None),
    );
    let mut s = open(&t).await.unwrap();
    ping(&mut s).await;
}

// -- through a pool -----------------------------------------------------------

fn key(host: &str, port: u16, tls: bool, tunnel: Tunnel) -> Key {
    Key {
        host: host.into(),
        port,
        tls: tls.then_some(TlsMode::NoVerify),
        server_name: tls.then(|| "localhost".to_owned()),
        tunnel,
        alpn: Alpn::Http1,
    }
}

async fn fetch(pool: &Arc<Pool>, key: &Key, uri: &str, headers: &[(String, String)]) -> String {
    let mut lease = pool.acquire(key, None, |_| None, false).await.unwrap();
    let mut fields = aioxide::Fields::default();
    fields.push("Host", "origin.test");
    for (k, v) in headers {
        fields.push(k.clone(), v.clone());
    }
    let out = Outgoing {
        method: "GET",
        target: uri,
        http10: false,
        fields: &fields,
        body: RequestBody::empty(),
        chunked: false,
        expect: false,
        limits: aioxide::HeadLimits::default(),
    };
    let mut resp = lease.send(out).await.unwrap();
    assert_eq!(resp.status, 200);
    let mut body = Vec::new();
    while let Some(p) = std::future::poll_fn(|cx| resp.body.poll_piece(cx)).await {
        body.extend_from_slice(&p.unwrap().data);
    }
    String::from_utf8(body).unwrap()
}

#[tokio::test]
async fn pool_sends_through_a_connect_tunnel() {
    let o = http_origin().await;
    let (p, log) = connect_proxy(o, false, Then::Tunnel { extra: b"" }).await;
    let pool = Pool::new(PoolConfig::default());
    let k = key("origin.test", 80, false, http_tunnel(p, None, true));
    assert_eq!(fetch(&pool, &k, "/a", &[]).await, "hello /a");
    assert_eq!(log.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn pool_sends_through_socks5() {
    let o = http_origin().await;
    let (p, log) = socks_server(o, granted()).await;
    let pool = Pool::new(PoolConfig::default());
    let k = key(
        "origin.test",
        80,
        false,
        socks(p, SocksVersion::Socks5h, None),
    );
    assert_eq!(fetch(&pool, &k, "/s", &[]).await, "hello /s");
    assert_eq!(log.lock().unwrap().len(), 1);
}

/// A forward proxy: the connection goes to it and the request is written
/// in absolute form with the tunnel's headers, as the request writer must.
#[tokio::test]
async fn pool_sends_absolute_form_to_a_forward_proxy() {
    let (l, p) = listen().await;
    let seen = Log::default();
    let log = seen.clone();
    tokio::spawn(async move {
        let (mut sock, _) = l.accept().await.unwrap();
        let head = read_head(&mut sock).await.unwrap();
        log.lock().unwrap().push(head);
        let answer = b"HTTP/1.1 200 OK\r\nContent-Length: 17\r\n\r\nhello /via-proxy!";
        sock.write_all(answer).await.unwrap();
        let _ = read_head(&mut sock).await;
    });
    let via = Tunnel::Forward {
        proxy: proxy_addr(p),
        tls: None,
        headers: vec![("Proxy-Authorization".to_owned(), AUTH.to_owned())],
    };
    assert!(via.is_forward());
    let pool = Pool::new(PoolConfig::default());
    let k = key("origin.test", 80, false, via.clone());
    let uri = "http://origin.test/via-proxy";
    let got = fetch(&pool, &k, uri, via.request_headers()).await;
    assert_eq!(got, "hello /via-proxy!");
    let head = seen.lock().unwrap()[0].to_ascii_lowercase();
    assert!(
        head.starts_with("get http://origin.test/via-proxy http/1.1\r\n"),
        "{head}"
    );
    assert!(head.contains(&format!(
        "proxy-authorization: {}",
        AUTH.to_ascii_lowercase()
    )));
}

#[tokio::test]
async fn forward_proxy_refuses_a_tls_origin() {
    let via = Tunnel::Forward {
        proxy: ProxyAddr {
            host: "127.0.0.1".into(),
            port: listen().await.1.port(),
        },
        tls: None,
        headers: Vec::new(),
    };
    let e = open(&target("localhost", 443, true, via))
        .await
        .err()
        .unwrap();
    assert_eq!(e.kind, ErrorKind::InvalidArgument);
}

/// The tunnel is part of the pool key: proxy, its auth and its headers.
#[test]
fn tunnels_key_connections_apart() {
    let p: SocketAddr = "127.0.0.1:3128".parse().unwrap();
    let all = [
        Tunnel::None,
        http_tunnel(p, None, false),
        http_tunnel(p, None, true),
        http_tunnel(p, Some(TlsMode::NoVerify), true),
        socks(p, SocksVersion::Socks5, None),
        socks(p, SocksVersion::Socks5h, None),
        socks(p, SocksVersion::Socks5h, Some(("u", "p"))),
        http_tunnel(p, None, true),
    ];
    let distinct = all
        .iter()
        .enumerate()
        .filter(|(i, t)| !all[..*i].contains(t))
        .count();
    assert_eq!(distinct, 7);
    let hash = |t: &Tunnel| {
        let mut h = DefaultHasher::new();
        t.hash(&mut h);
        h.finish()
    };
    assert_eq!(hash(&all[2]), hash(&all[7]));
    assert_ne!(hash(&all[1]), hash(&all[2]));
    let shown = format!(
        "{:?}",
        socks(p, SocksVersion::Socks5, Some(("u", "hunter2")))
    );
    assert!(!shown.contains("hunter2"), "no password in Debug: {shown}");
    assert!(!format!("{:?}", http_tunnel(p, None, true)).contains(AUTH));
}
