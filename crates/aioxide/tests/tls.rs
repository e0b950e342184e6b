//! Every `ssl=` mode against loopback rustls servers with rcgen certificates:
//! custom CA, no verification, check_hostname off, expired / not-yet-valid /
//! wrong-name certificates, mutual TLS, fingerprint pinning, version bounds,
//! cipher suites, the key log, pooling per configuration.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use aioxide::connect::tls::{cert_verify, ClientCert, TlsMode, TlsOptions, TlsSpec, TLS12, TLS13};
use aioxide::{Client, ErrorKind, Request};
use rcgen::{
    date_time_ymd, BasicConstraints, CertificateParams, CertifiedIssuer, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyPair,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

struct Ca {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

/// A leaf certificate and its key.
struct Leaf {
    der: CertificateDer<'static>,
    pem: String,
    key_der: Vec<u8>,
    key_pem: String,
}

impl Ca {
    fn new() -> Ca {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "aioxide test CA");
        let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        Ca { issuer }
    }

    fn der(&self) -> Vec<u8> {
        self.issuer.der().to_vec()
    }

    fn issue(&self, names: &[&str], edit: impl FnOnce(&mut CertificateParams)) -> Leaf {
        let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        let mut params = CertificateParams::new(names).unwrap();
        params.is_ca = IsCa::NoCa;
        edit(&mut params);
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Leaf {
            der: cert.der().clone(),
            pem: cert.pem(),
            key_der: key.serialize_der(),
            key_pem: key.serialize_pem(),
        }
    }

    fn server(&self, names: &[&str]) -> Leaf {
        self.issue(names, |p| {
            p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        })
    }
}

/// What a server saw of each handshake: (protocol version, cipher suite).
type Seen = Arc<Mutex<Vec<(u16, u16)>>>;

struct Server {
    base: String,
    port: u16,
    conns: Arc<AtomicUsize>,
    seen: Seen,
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A TLS server answering every request with 200 "ok" over keep-alive.
async fn serve(
    leaf: &Leaf,
    versions: &[&'static rustls::SupportedProtocolVersion],
    client_ca: Option<Vec<u8>>,
) -> Server {
    let b = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(versions)
        .unwrap();
    let b = match client_ca {
        None => b.with_no_client_auth(),
        Some(ca) => {
            let mut roots = RootCertStore::empty();
            roots.add(CertificateDer::from(ca)).unwrap();
            let v = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
                .build()
                .unwrap();
            b.with_client_cert_verifier(v)
        }
    };
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf.key_der.clone()));
    let cfg = b.with_single_cert(vec![leaf.der.clone()], key).unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(cfg));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let conns = Arc::new(AtomicUsize::new(0));
    let seen: Seen = Arc::default();
    let (c, s) = (conns.clone(), seen.clone());
    tokio::spawn(async move {
        loop {
            let Ok((sock, _)) = listener.accept().await else {
                return;
            };
            c.fetch_add(1, Ordering::SeqCst);
            let acceptor = acceptor.clone();
            let s = s.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(sock).await else {
                    return;
                };
                {
                    let conn = tls.get_ref().1;
                    let v = conn.protocol_version().map(u16::from).unwrap_or(0);
                    let cs = conn
                        .negotiated_cipher_suite()
                        .map(|c| u16::from(c.suite()))
                        .unwrap_or(0);
                    s.lock().unwrap().push((v, cs));
                }
                let mut buf = Vec::new();
                loop {
                    let mut tmp = [0u8; 4096];
                    let Ok(k) = tls.read(&mut tmp).await else {
                        return;
                    };
                    if k == 0 {
                        return;
                    }
                    buf.extend_from_slice(&tmp[..k]);
                    while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        buf.drain(..end + 4);
                        let out = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
                        if tls.write_all(out).await.is_err() || tls.flush().await.is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    Server {
        base: format!("https://127.0.0.1:{port}"),
        port,
        conns,
        seen,
    }
}

async fn serve_all(leaf: &Leaf) -> Server {
    serve(leaf, rustls::DEFAULT_VERSIONS, None).await
}

fn trusting(ca: &Ca) -> TlsOptions {
    TlsOptions {
        system_roots: false,
        ca_ders: vec![ca.der()],
        ..TlsOptions::default()
    }
}

async fn get(client: &Client, url: &str, mode: &TlsMode) -> Result<u16, aioxide::Error> {
    let mut req = Request::get(url);
    req.tls = mode.clone();
    let mut r = client.execute(req).await?;
    let body = r.body.read_to_end().await?;
    assert_eq!(&body[..], b"ok");
    Ok(r.head.status)
}

fn mode(opts: &TlsOptions) -> TlsMode {
    TlsMode::custom(opts).unwrap()
}

fn tmpdir(tag: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let d = std::env::temp_dir().join(format!(
        "aioxide-tls-{}-{}-{}",
        std::process::id(),
        tag,
        N.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[tokio::test]
async fn custom_ca_is_trusted() {
    let ca = Ca::new();
    let srv = serve_all(&ca.server(&["127.0.0.1", "localhost"])).await;
    let client = Client::default();
    let m = mode(&trusting(&ca));
    assert_eq!(
        get(&client, &format!("{}/", srv.base), &m).await.unwrap(),
        200
    );
    // By name too (SNI + a DNS name in the certificate).
    let url = format!("https://localhost:{}/", srv.port);
    assert_eq!(get(&client, &url, &m).await.unwrap(), 200);
}

#[tokio::test]
async fn untrusted_ca_is_a_certificate_error() {
    let ca = Ca::new();
    let srv = serve_all(&ca.server(&["127.0.0.1"])).await;
    let client = Client::default();
    // The system store does not know this CA.
    let m = mode(&TlsOptions::default());
    let e = get(&client, &format!("{}/", srv.base), &m)
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Certificate);
    assert_eq!(e.host.as_deref(), Some("127.0.0.1"));
    assert_eq!(e.port, Some(srv.port));
    assert!(e.is_tls);
    // Another CA than the server's.
    let other = Ca::new();
    let e = get(&client, &format!("{}/", srv.base), &mode(&trusting(&other)))
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Certificate);
}

#[tokio::test]
async fn no_verification_accepts_anything() {
    let ca = Ca::new();
    let expired = ca.issue(&["other.example"], |p| {
        p.not_before = date_time_ymd(2000, 1, 1);
        p.not_after = date_time_ymd(2001, 1, 1);
    });
    let srv = serve_all(&expired).await;
    let m = mode(&TlsOptions {
        verify: false,
        check_hostname: false,
        ..TlsOptions::default()
    });
    let client = Client::default();
    assert_eq!(
        get(&client, &format!("{}/", srv.base), &m).await.unwrap(),
        200
    );
}

#[tokio::test]
async fn check_hostname_off_verifies_the_chain_only() {
    let ca = Ca::new();
    let srv = serve_all(&ca.server(&["other.example"])).await;
    let client = Client::default();
    let url = format!("{}/", srv.base);
    let e = get(&client, &url, &mode(&trusting(&ca))).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Certificate, "{e}");
    let any_name = TlsOptions {
        check_hostname: false,
        ..trusting(&ca)
    };
    assert_eq!(get(&client, &url, &mode(&any_name)).await.unwrap(), 200);
    // The chain still counts.
    let other = Ca::new();
    let untrusted = TlsOptions {
        check_hostname: false,
        ..trusting(&other)
    };
    let e = get(&client, &url, &mode(&untrusted)).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Certificate);
}

#[tokio::test]
async fn server_hostname_overrides_the_checked_name() {
    let ca = Ca::new();
    let srv = serve_all(&ca.server(&["svc.internal"])).await;
    let client = Client::default();
    let mut req = Request::get(&format!("{}/", srv.base));
    req.tls = mode(&trusting(&ca));
    req.server_hostname = Some("svc.internal".into());
    let r = client.execute(req).await.unwrap();
    assert_eq!(r.head.status, 200);
}

#[tokio::test]
async fn expired_and_not_yet_valid_are_certificate_errors() {
    let ca = Ca::new();
    let expired = ca.issue(&["127.0.0.1"], |p| {
        p.not_before = date_time_ymd(2000, 1, 1);
        p.not_after = date_time_ymd(2001, 1, 1);
    });
    let future = ca.issue(&["127.0.0.1"], |p| {
        p.not_before = date_time_ymd(2090, 1, 1);
        p.not_after = date_time_ymd(2091, 1, 1);
    });
    let client = Client::default();
    for (leaf, code) in [(expired, 10), (future, 9)] {
        let srv = serve_all(&leaf).await;
        for check_hostname in [true, false] {
            let opts = TlsOptions {
                check_hostname,
                ..trusting(&ca)
            };
            let e = get(&client, &format!("{}/", srv.base), &mode(&opts))
                .await
                .unwrap_err();
            assert_eq!(e.kind, ErrorKind::Certificate);
            assert_eq!(e.errno, Some(code), "{e}");
        }
    }
}

#[tokio::test]
async fn mutual_tls() {
    let ca = Ca::new();
    let client_leaf = ca.issue(&["client.example"], |p| {
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    });
    let both = format!("{}{}", client_leaf.key_pem, client_leaf.pem);

    let client = Client::default();
    for versions in [
        &[&rustls::version::TLS12][..],
        &[&rustls::version::TLS13][..],
    ] {
        let srv = serve(&ca.server(&["127.0.0.1"]), versions, Some(ca.der())).await;
        let url = format!("{}/", srv.base);
        // The key on its own, and key and certificate in one PEM.
        for (cert, key) in [
            (client_leaf.pem.clone(), Some(client_leaf.key_pem.clone())),
            (both.clone(), None),
        ] {
            let opts = TlsOptions {
                client_cert: Some(ClientCert {
                    cert_pem: cert.into_bytes(),
                    key_pem: key.map(String::into_bytes),
                    origin: "test".into(),
                    has_password: false,
                }),
                ..trusting(&ca)
            };
            assert_eq!(get(&client, &url, &mode(&opts)).await.unwrap(), 200);
        }
        // Without a certificate the server refuses: during the handshake in
        // TLS 1.2, with an alert after it in TLS 1.3.
        let e = get(&client, &url, &mode(&trusting(&ca))).await.unwrap_err();
        if versions[0] == &rustls::version::TLS12 {
            assert_eq!(e.kind, ErrorKind::Tls, "{e}");
        } else {
            assert!(
                matches!(
                    e.kind,
                    ErrorKind::Tls | ErrorKind::Io | ErrorKind::ServerDisconnected
                ),
                "{e}"
            );
        }
    }
}

#[test]
fn client_certificates_are_checked() {
    let ca = Ca::new();
    let leaf = ca.issue(&["client.example"], |_| {});
    let with = |cert: &str, key: Option<&str>, has_password: bool| TlsOptions {
        client_cert: Some(ClientCert {
            cert_pem: cert.as_bytes().to_vec(),
            key_pem: key.map(|k| k.as_bytes().to_vec()),
            origin: "/somewhere/c.pem".into(),
            has_password,
        }),
        ..TlsOptions::default()
    };
    // No certificate, no key, encrypted key (PKCS#8 and traditional).
    let e = TlsSpec::build(&with("nothing", None, false)).unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidArgument);
    assert!(e.message.contains("/somewhere/c.pem"), "{}", e.message);
    let e = TlsSpec::build(&with(&leaf.pem, None, false)).unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidArgument);
    let enc = "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIBvTBXBgkqhkiG9w0BBQ0wSjApBgkqhkiG9w0BBQwwHAQI\n-----END ENCRYPTED PRIVATE KEY-----\n";
    let e = TlsSpec::build(&with(&leaf.pem, Some(enc), true)).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unsupported);
    assert!(e.message.contains("encrypted"), "{}", e.message);
    let trad = "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\nAAAA\n-----END RSA PRIVATE KEY-----\n";
    let e = TlsSpec::build(&with(&leaf.pem, Some(trad), false)).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unsupported);
    // A plain key with a password: fine (the password is not needed).
    assert!(TlsSpec::build(&with(&leaf.pem, Some(&leaf.key_pem), true)).is_ok());
}

fn sha256(data: &[u8]) -> Vec<u8> {
    // The engine's digest is checked against an independent one: rcgen's
    // ring through rustls' provider would be the same code, so compute it
    // by hand from the SHA-256 definition (FIPS 180-4).
    const K: [u32; 64] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
        0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
        0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
        0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
        0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
        0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
        0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
        0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2,
    ];
    let mut h: [u32; 8] = [
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
        0x5be0cd19,
    ];
    let mut msg = data.to_vec();
    let bits = (data.len() as u64) * 8;
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&bits.to_be_bytes());
    for block in msg.chunks(64) {
        let mut w = [0u32; 64];
        for i in 0..16 {
            w[i] = u32::from_be_bytes([
                block[4 * i],
                block[4 * i + 1],
                block[4 * i + 2],
                block[4 * i + 3],
            ]);
        }
        for i in 16..64 {
            let s0 = w[i - 15].rotate_right(7) ^ w[i - 15].rotate_right(18) ^ (w[i - 15] >> 3);
            let s1 = w[i - 2].rotate_right(17) ^ w[i - 2].rotate_right(19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16]
                .wrapping_add(s0)
                .wrapping_add(w[i - 7])
                .wrapping_add(s1);
        }
        let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut hh] = h;
        for i in 0..64 {
            let s1 = e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25);
            let ch = (e & f) ^ (!e & g);
            let t1 = hh
                .wrapping_add(s1)
                .wrapping_add(ch)
                .wrapping_add(K[i])
                .wrapping_add(w[i]);
            let s0 = a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22);
            let maj = (a & b) ^ (a & c) ^ (b & c);
            let t2 = s0.wrapping_add(maj);
            hh = g;
            g = f;
            f = e;
            e = d.wrapping_add(t1);
            d = c;
            c = b;
            b = a;
            a = t1.wrapping_add(t2);
        }
        for (x, y) in h.iter_mut().zip([a, b, c, d, e, f, g, hh]) {
            *x = x.wrapping_add(y);
        }
    }
    h.iter().flat_map(|x| x.to_be_bytes()).collect()
}

#[test]
fn sha256_reference_is_right() {
    let hex: String = sha256(b"abc").iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(
        hex,
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
}

#[tokio::test]
async fn fingerprint_pins_the_leaf_without_verifying_the_chain() {
    let ca = Ca::new();
    // Untrusted CA, wrong name: only the digest counts.
    let leaf = ca.server(&["other.example"]);
    let digest = sha256(leaf.der.as_ref());
    let srv = serve_all(&leaf).await;
    let client = Client::default();
    let url = format!("{}/", srv.base);
    let right = mode(&TlsOptions {
        verify: false,
        check_hostname: false,
        fingerprint: Some(digest.clone()),
        ..TlsOptions::default()
    });
    assert_eq!(get(&client, &url, &right).await.unwrap(), 200);

    let wrong_digest = vec![7u8; 32];
    let wrong = mode(&TlsOptions {
        verify: false,
        check_hostname: false,
        fingerprint: Some(wrong_digest.clone()),
        ..TlsOptions::default()
    });
    let e = get(&client, &url, &wrong).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::FingerprintMismatch);
    let f = e.fingerprints.as_ref().unwrap();
    assert_eq!(f.expected, wrong_digest);
    assert_eq!(f.got, digest);
    assert_eq!(e.host.as_deref(), Some("127.0.0.1"));
    assert_eq!(e.port, Some(srv.port));
    // The mismatching connection was not pooled.
    assert_eq!(client.pool().idle_count(), 1);

    // A fingerprint together with verification: both must pass.
    let both = mode(&TlsOptions {
        fingerprint: Some(digest),
        ..trusting(&ca)
    });
    let e = get(&client, &url, &both).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Certificate);
}

#[test]
fn fingerprint_length_is_checked() {
    for n in [0usize, 16, 20, 31, 33, 64] {
        let e = TlsSpec::build(&TlsOptions {
            fingerprint: Some(vec![0; n]),
            ..TlsOptions::default()
        })
        .unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidArgument);
    }
}

#[tokio::test]
async fn version_bounds() {
    let ca = Ca::new();
    let leaf = ca.server(&["127.0.0.1"]);
    let srv = serve_all(&leaf).await;
    let client = Client::default();
    let url = format!("{}/", srv.base);
    for (lo, hi, want) in [
        (None, None, TLS13),
        (None, Some(TLS12), TLS12),
        (Some(TLS13), None, TLS13),
        (Some(0x0301), Some(TLS12), TLS12),
    ] {
        let opts = TlsOptions {
            min_version: lo,
            max_version: hi,
            ..trusting(&ca)
        };
        assert_eq!(get(&client, &url, &mode(&opts)).await.unwrap(), 200);
        assert_eq!(srv.seen.lock().unwrap().last().unwrap().0, want);
    }
    // A TLS 1.2 server and a client that wants 1.3 only.
    let old = serve(&leaf, &[&rustls::version::TLS12], None).await;
    let opts = TlsOptions {
        min_version: Some(TLS13),
        ..trusting(&ca)
    };
    let e = get(&client, &format!("{}/", old.base), &mode(&opts))
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Tls, "{e}");
    // Ranges without 1.2 or 1.3.
    let e = TlsSpec::build(&TlsOptions {
        min_version: Some(0x0301),
        max_version: Some(0x0302),
        ..TlsOptions::default()
    })
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unsupported);
    assert!(e.message.contains("TLSv1.1"), "{}", e.message);
    let e = TlsSpec::build(&TlsOptions {
        min_version: Some(TLS13),
        max_version: Some(TLS12),
        ..TlsOptions::default()
    })
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidArgument);
}

#[tokio::test]
async fn cipher_suites_can_be_narrowed() {
    let ca = Ca::new();
    let srv = serve_all(&ca.server(&["127.0.0.1"])).await;
    let client = Client::default();
    // TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 only (and so TLS 1.2).
    let opts = TlsOptions {
        cipher_suites: Some(vec![0xc02c]),
        ..trusting(&ca)
    };
    assert_eq!(
        get(&client, &format!("{}/", srv.base), &mode(&opts))
            .await
            .unwrap(),
        200
    );
    assert_eq!(*srv.seen.lock().unwrap().last().unwrap(), (TLS12, 0xc02c));
    // Nothing rustls has (TLS_RSA_WITH_AES_128_CBC_SHA).
    let e = TlsSpec::build(&TlsOptions {
        cipher_suites: Some(vec![0x002f]),
        ..TlsOptions::default()
    })
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unsupported);
}

#[tokio::test]
async fn connections_are_pooled_per_configuration() {
    let ca = Ca::new();
    let srv = serve_all(&ca.server(&["127.0.0.1"])).await;
    let client = Client::default();
    let url = format!("{}/", srv.base);
    let a = mode(&trusting(&ca));
    let b = mode(&trusting(&ca));
    assert_ne!(a, b, "two configurations are two pool keys");
    assert_eq!(a, a.clone());
    for _ in 0..3 {
        get(&client, &url, &a).await.unwrap();
    }
    assert_eq!(srv.conns.load(Ordering::SeqCst), 1);
    get(&client, &url, &b).await.unwrap();
    assert_eq!(srv.conns.load(Ordering::SeqCst), 2);
    get(&client, &url, &TlsMode::NoVerify).await.unwrap();
    assert_eq!(srv.conns.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn key_log_file_is_written() {
    let ca = Ca::new();
    let srv = serve_all(&ca.server(&["127.0.0.1"])).await;
    let dir = tmpdir("keylog");
    let path = dir.join("keys.log");
    let opts = TlsOptions {
        keylog_path: Some(path.clone()),
        ..trusting(&ca)
    };
    let client = Client::default();
    get(&client, &format!("{}/", srv.base), &mode(&opts))
        .await
        .unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("CLIENT_TRAFFIC_SECRET_0 "), "{text}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn unusable_ca_certificates_are_refused() {
    let e = TlsSpec::build(&TlsOptions {
        system_roots: false,
        ca_ders: vec![b"not a certificate".to_vec()],
        ..TlsOptions::default()
    })
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unsupported);
}

#[tokio::test]
async fn a_self_signed_certificate_can_be_its_own_trust_anchor() {
    // Without CA:TRUE webpki takes it as its own anchor (as OpenSSL does).
    // With CA:TRUE (`openssl req -x509`'s default) webpki refuses a CA as
    // the server's certificate (CaUsedAsEndEntity) where OpenSSL accepts
    // it: a documented difference, failing closed.
    for (flag, ok) in [
        (IsCa::NoCa, true),
        (IsCa::ExplicitNoCa, true),
        (IsCa::Ca(BasicConstraints::Unconstrained), false),
    ] {
        let mut params = CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap();
        params.is_ca = flag;
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        let leaf = Leaf {
            der: cert.der().clone(),
            pem: cert.pem(),
            key_der: key.serialize_der(),
            key_pem: key.serialize_pem(),
        };
        let srv = serve_all(&leaf).await;
        let opts = TlsOptions {
            system_roots: false,
            ca_ders: vec![leaf.der.to_vec()],
            ..TlsOptions::default()
        };
        let r = get(&Client::default(), &format!("{}/", srv.base), &mode(&opts)).await;
        match r {
            Ok(status) => assert!(ok && status == 200),
            Err(e) => assert!(!ok && e.kind == ErrorKind::Certificate, "{e}"),
        }
    }
}

/// The code and message OpenSSL gives for each rejection, as Python's
/// `ssl.SSLCertVerificationError.verify_code` / `verify_message`.
#[tokio::test]
async fn certificate_errors_carry_openssl_verify_codes() {
    let ca = Ca::new();
    let client = Client::default();
    let verify = |e: aioxide::Error| {
        assert_eq!(e.kind, ErrorKind::Certificate, "{e}");
        let v = cert_verify(&e).expect("a verify code");
        assert_eq!((e.errno, &e.message), (Some(v.code), &v.message));
        (v.code, v.message)
    };
    // Unknown issuer (the system store does not know this CA).
    let srv = serve_all(&ca.server(&["127.0.0.1"])).await;
    let e = get(
        &client,
        &format!("{}/", srv.base),
        &mode(&TlsOptions::default()),
    )
    .await
    .unwrap_err();
    let want = (20, "unable to get local issuer certificate".to_string());
    assert_eq!(verify(e), want);
    // The same through ssl=True's shared configuration.
    let e = get(&client, &format!("{}/", srv.base), &TlsMode::Verify)
        .await
        .unwrap_err();
    assert_eq!(verify(e), want);
    // A name or an IP address the certificate is not for.
    let srv = serve_all(&ca.server(&["other.example"])).await;
    let e = get(&client, &format!("{}/", srv.base), &mode(&trusting(&ca)))
        .await
        .unwrap_err();
    let msg = "IP address mismatch, certificate is not valid for '127.0.0.1'.";
    assert_eq!(verify(e), (64, msg.to_string()));
    let mut req = Request::get(&format!("{}/", srv.base));
    req.tls = mode(&trusting(&ca));
    req.server_hostname = Some("svc.example".into());
    let Err(e) = client.execute(req).await else {
        panic!("a certificate for another name was accepted");
    };
    let msg = "Hostname mismatch, certificate is not valid for 'svc.example'.";
    assert_eq!(verify(e), (62, msg.to_string()));
    // A self-signed certificate nobody trusts.
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["127.0.0.1".to_string()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let leaf = Leaf {
        der: cert.der().clone(),
        pem: cert.pem(),
        key_der: key.serialize_der(),
        key_pem: key.serialize_pem(),
    };
    let srv = serve_all(&leaf).await;
    for m in [mode(&TlsOptions::default()), TlsMode::Verify] {
        let e = get(&client, &format!("{}/", srv.base), &m)
            .await
            .unwrap_err();
        assert_eq!(verify(e), (18, "self-signed certificate".to_string()));
    }
}
