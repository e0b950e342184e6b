//! TLS through rustls (TLS 1.2 and 1.3): the system's trust store
//! (`ssl=True`), no verification (`ssl=False`), or a configuration built once
//! from what an `ssl.SSLContext` / `Fingerprint` asks for
//! ([`TlsMode::Custom`]).

use std::fmt;
use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
    SupportedProtocolVersion,
};

use super::{Alpn, Io, Stream};
use crate::error::{Error, ErrorKind, Fingerprints};

/// How to check the server (aiohttp's `ssl=`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TlsMode {
    /// `ssl=True`: the system's trust store and the host name.
    Verify,
    /// `ssl=False`: no verification at all.
    NoVerify,
    /// An `SSLContext` or a `Fingerprint`: a configuration built once
    /// ([`TlsMode::custom`]); equal only to itself (its id).
    Custom(Arc<TlsSpec>),
}

impl TlsMode {
    /// Build a custom mode from `opts` (reads the client certificate files).
    pub fn custom(opts: &TlsOptions) -> Result<TlsMode, Error> {
        Ok(TlsMode::Custom(Arc::new(TlsSpec::build(opts)?)))
    }
}

/// TLS 1.2's wire number (`ssl.TLSVersion.TLSv1_2`).
pub const TLS12: u16 = 0x0303;
/// TLS 1.3's wire number (`ssl.TLSVersion.TLSv1_3`).
pub const TLS13: u16 = 0x0304;

/// A client certificate chain for mutual TLS, as `load_cert_chain` left it
/// in the context: PEM read when that call was made (the files may be gone
/// since); the key is in `cert_pem` when `key_pem` is `None`.
#[derive(Debug, Clone, Default)]
pub struct ClientCert {
    pub cert_pem: Vec<u8>,
    pub key_pem: Option<Vec<u8>>,
    /// Where they came from, for error messages (a file name).
    pub origin: String,
    /// A password was given: only unencrypted keys can be used, so an
    /// encrypted key is refused with [`ErrorKind::Unsupported`] either way.
    pub has_password: bool,
}

/// What a custom TLS configuration is made of.
#[derive(Debug, Clone)]
pub struct TlsOptions {
    /// Verify the certificate chain (`verify_mode != CERT_NONE`).
    pub verify: bool,
    /// Check the certificate against the server name (`check_hostname`);
    /// ignored without `verify`.
    pub check_hostname: bool,
    /// Trust the system's store (rustls-native-certs).
    pub system_roots: bool,
    /// Trust these DER certificates too.
    pub ca_ders: Vec<Vec<u8>>,
    pub client_cert: Option<ClientCert>,
    /// The SHA-256 digest the leaf certificate must have (aiohttp's
    /// `Fingerprint`), checked after the handshake; 32 bytes.
    pub fingerprint: Option<Vec<u8>>,
    /// Lowest and highest protocol version as wire numbers
    /// ([`TLS12`], [`TLS13`]); `None`: no bound.
    pub min_version: Option<u16>,
    pub max_version: Option<u16>,
    /// Only these cipher suites (IANA numbers) where the list was narrowed;
    /// `None`: rustls' defaults.
    pub cipher_suites: Option<Vec<u16>>,
    /// Append the session secrets here, in NSS key log format
    /// (`SSLContext.keylog_filename`).
    pub keylog_path: Option<PathBuf>,
    /// Offer session resumption (off for `OP_NO_TICKET`).
    pub resumption: bool,
}

impl Default for TlsOptions {
    fn default() -> Self {
        TlsOptions {
            verify: true,
            check_hostname: true,
            system_roots: true,
            ca_ders: Vec::new(),
            client_cert: None,
            fingerprint: None,
            min_version: None,
            max_version: None,
            cipher_suites: None,
            keylog_path: None,
            resumption: true,
        }
    }
}

/// A custom TLS configuration: the rustls config, built once, and the
/// checks made after the handshake.  Equal and hashed by its id, so that
/// connections made with it are pooled apart from every other one.
pub struct TlsSpec {
    id: u64,
    config: Arc<ClientConfig>,
    fingerprint: Option<Vec<u8>>,
    verify: bool,
    check_hostname: bool,
}

impl TlsSpec {
    /// Build the rustls configuration for `opts`.  Errors are
    /// [`ErrorKind::InvalidArgument`] (bad input: a fingerprint that is not
    /// 32 bytes, unreadable or empty PEM files, an empty version range) or
    /// [`ErrorKind::Unsupported`] (what rustls cannot do: an encrypted key,
    /// only versions below TLS 1.2, no usable cipher suite).
    pub fn build(opts: &TlsOptions) -> Result<TlsSpec, Error> {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        if let Some(fp) = &opts.fingerprint {
            if fp.len() != 32 {
                return Err(invalid(format!(
                    "a fingerprint is a SHA-256 digest of 32 bytes, not {}",
                    fp.len()
                )));
            }
        }
        let config = build_config(opts)?;
        Ok(TlsSpec {
            id: NEXT.fetch_add(1, Ordering::Relaxed),
            config: Arc::new(config),
            fingerprint: opts.fingerprint.clone(),
            verify: opts.verify,
            check_hostname: opts.verify && opts.check_hostname,
        })
    }

    pub fn id(&self) -> u64 {
        self.id
    }

    /// The pinned SHA-256 digest of the leaf certificate, if any.
    pub fn fingerprint(&self) -> Option<&[u8]> {
        self.fingerprint.as_deref()
    }

    pub fn verify(&self) -> bool {
        self.verify
    }

    pub fn check_hostname(&self) -> bool {
        self.check_hostname
    }

    pub fn config(&self) -> &Arc<ClientConfig> {
        &self.config
    }
}

impl fmt::Debug for TlsSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsSpec")
            .field("id", &self.id)
            .field("verify", &self.verify)
            .field("check_hostname", &self.check_hostname)
            .field("fingerprint", &self.fingerprint.is_some())
            .finish()
    }
}

impl PartialEq for TlsSpec {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
    }
}

impl Eq for TlsSpec {}

impl Hash for TlsSpec {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.id.hash(state);
    }
}

fn invalid(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidArgument, msg)
}

fn unsupported(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::Unsupported, msg)
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    static P: OnceLock<Arc<rustls::crypto::CryptoProvider>> = OnceLock::new();
    P.get_or_init(|| Arc::new(rustls::crypto::ring::default_provider()))
        .clone()
}

/// The system's trust store, loaded once (the bundled Mozilla roots when
/// the system has none).
fn system_roots() -> Arc<RootCertStore> {
    static ROOTS: OnceLock<Arc<RootCertStore>> = OnceLock::new();
    ROOTS
        .get_or_init(|| {
            let mut roots = RootCertStore::empty();
            let found = rustls_native_certs::load_native_certs();
            for cert in found.certs {
                let _ = roots.add(cert);
            }
            if roots.is_empty() {
                roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            }
            Arc::new(roots)
        })
        .clone()
}

fn verify_config() -> Arc<ClientConfig> {
    static CFG: OnceLock<Arc<ClientConfig>> = OnceLock::new();
    CFG.get_or_init(|| {
        let mut cfg = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map(|b| {
                b.dangerous()
                    .with_custom_certificate_verifier(named_self_signed(
                        WebPkiServerVerifier::builder_with_provider(system_roots(), provider())
                            .build(),
                    ))
                    .with_no_client_auth()
            })
            .unwrap_or_else(|_| {
                ClientConfig::builder()
                    .with_root_certificates(system_roots())
                    .with_no_client_auth()
            });
        cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
        Arc::new(cfg)
    })
    .clone()
}

#[derive(Debug)]
struct NoVerifier(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for NoVerifier {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `check_hostname=False` with verification on: the chain is verified (its
/// errors come first in webpki), a name mismatch is not an error.
#[derive(Debug)]
struct AnyNameVerifier(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for AnyNameVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// `SSLContext.keylog_filename`: session secrets appended in NSS format.
struct FileKeyLog {
    path: PathBuf,
    file: Mutex<Option<std::fs::File>>,
}

impl fmt::Debug for FileKeyLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileKeyLog")
            .field("path", &self.path)
            .finish()
    }
}

impl rustls::KeyLog for FileKeyLog {
    fn log(&self, label: &str, client_random: &[u8], secret: &[u8]) {
        let mut line = String::with_capacity(label.len() + 2 + 2 * (32 + secret.len()));
        line.push_str(label);
        line.push(' ');
        for b in client_random {
            line.push_str(&format!("{b:02x}"));
        }
        line.push(' ');
        for b in secret {
            line.push_str(&format!("{b:02x}"));
        }
        line.push('\n');
        let mut guard = self.file.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(f) = guard.as_mut() {
            let _ = f.write_all(line.as_bytes());
        }
    }
}

fn protocol_versions(opts: &TlsOptions) -> Result<Vec<&'static SupportedProtocolVersion>, Error> {
    let lo = opts.min_version.unwrap_or(TLS12);
    let hi = opts.max_version.unwrap_or(TLS13);
    let mut out = Vec::new();
    if lo <= TLS12 && TLS12 <= hi {
        out.push(&rustls::version::TLS12);
    }
    if lo <= TLS13 && TLS13 <= hi {
        out.push(&rustls::version::TLS13);
    }
    if out.is_empty() {
        let msg = format!(
            "the TLS version range {} to {} admits neither TLS 1.2 nor TLS 1.3",
            version_name(lo),
            version_name(hi)
        );
        return Err(if lo > hi {
            invalid(msg)
        } else {
            unsupported(msg)
        });
    }
    Ok(out)
}

fn version_name(v: u16) -> String {
    match v {
        0x0300 => "SSLv3".into(),
        0x0301 => "TLSv1".into(),
        0x0302 => "TLSv1.1".into(),
        0x0303 => "TLSv1.2".into(),
        0x0304 => "TLSv1.3".into(),
        v => format!("0x{v:04x}"),
    }
}

fn crypto_provider(opts: &TlsOptions) -> Result<Arc<rustls::crypto::CryptoProvider>, Error> {
    let Some(allowed) = &opts.cipher_suites else {
        return Ok(provider());
    };
    let mut p = rustls::crypto::ring::default_provider();
    p.cipher_suites
        .retain(|s| allowed.contains(&u16::from(s.suite())));
    if p.cipher_suites.is_empty() {
        return Err(unsupported(
            "none of the cipher suites in the SSLContext's cipher list is one rustls \
             supports (ECDHE with AES-GCM or ChaCha20-Poly1305)",
        ));
    }
    Ok(Arc::new(p))
}

fn roots(opts: &TlsOptions) -> Result<Arc<RootCertStore>, Error> {
    if opts.ca_ders.is_empty() {
        return Ok(if opts.system_roots {
            system_roots()
        } else {
            Arc::new(RootCertStore::empty())
        });
    }
    let mut store = if opts.system_roots {
        (*system_roots()).clone()
    } else {
        RootCertStore::empty()
    };
    let (added, _ignored) = store.add_parsable_certificates(
        opts.ca_ders
            .iter()
            .map(|d| CertificateDer::from(d.as_slice()).into_owned()),
    );
    if added == 0 && !opts.system_roots {
        return Err(unsupported(
            "none of the SSLContext's CA certificates can be used as a trust anchor",
        ));
    }
    Ok(Arc::new(store))
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn client_identity(
    cert: &ClientCert,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), Error> {
    let origin = &cert.origin;
    let chain = CertificateDer::pem_slice_iter(&cert.cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(format!("bad PEM in the client certificate {origin}: {e}")))?;
    if chain.is_empty() {
        return Err(invalid(format!(
            "no certificate in the client certificate {origin}"
        )));
    }
    let key_pem = cert.key_pem.as_deref().unwrap_or(&cert.cert_pem);
    let encrypted = contains(key_pem, b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
        || contains(key_pem, b"Proc-Type: 4,ENCRYPTED");
    if encrypted {
        return Err(unsupported(format!(
            "the private key of the client certificate {origin} is encrypted{}; aioxide \
             (rustls) reads only unencrypted PEM keys: decrypt it (openssl pkey -in KEY -out PLAIN)",
            if cert.has_password {
                " (load_cert_chain(password=...))"
            } else {
                ""
            }
        )));
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| {
        invalid(format!(
            "no usable private key for the client certificate {origin}: {e}"
        ))
    })?;
    Ok((chain, key))
}

fn build_config(opts: &TlsOptions) -> Result<ClientConfig, Error> {
    let p = crypto_provider(opts)?;
    let versions = protocol_versions(opts)?;
    let builder = ClientConfig::builder_with_provider(p.clone())
        .with_protocol_versions(&versions)
        .map_err(|e| unsupported(format!("no usable protocol version and cipher suite: {e}")))?;
    let verifier: Arc<dyn ServerCertVerifier> = if opts.verify {
        let webpki = WebPkiServerVerifier::builder_with_provider(roots(opts)?, p.clone())
            .build()
            .map_err(|e| unsupported(format!("cannot verify with these CA certificates: {e}")))?;
        if opts.check_hostname {
            Arc::new(SelfSignedNamed(webpki))
        } else {
            Arc::new(SelfSignedNamed(Arc::new(AnyNameVerifier(webpki))))
        }
    } else {
        Arc::new(NoVerifier(p.clone()))
    };
    let builder = builder
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let mut cfg = match &opts.client_cert {
        None => builder.with_no_client_auth(),
        Some(c) => {
            let (chain, key) = client_identity(c)?;
            builder.with_client_auth_cert(chain, key).map_err(|e| {
                unsupported(format!(
                    "the client certificate or key {} cannot be used: {e}",
                    c.origin
                ))
            })?
        }
    };
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    if !opts.resumption {
        cfg.resumption = rustls::client::Resumption::disabled();
    }
    if let Some(path) = &opts.keylog_path {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| invalid(format!("cannot open the key log {}: {e}", path.display())))?;
        cfg.key_log = Arc::new(FileKeyLog {
            path: path.clone(),
            file: Mutex::new(Some(file)),
        });
    }
    Ok(cfg)
}

/// SHA-256 of `data`, through rustls' ring provider.
fn sha256(data: &[u8]) -> Option<Vec<u8>> {
    let suite = rustls::crypto::ring::cipher_suite::TLS13_AES_128_GCM_SHA256.tls13()?;
    Some(suite.common.hash_provider.hash(data).as_ref().to_vec())
}

/// Who the TLS step talks to.
#[derive(Debug, Clone, Copy)]
pub struct Peer<'a> {
    /// The origin's host and port (for error messages).
    pub host: &'a str,
    pub port: u16,
    /// The name sent by SNI and checked in the certificate.
    pub server_name: &'a str,
    /// The protocols offered by ALPN.
    pub alpn: Alpn,
}

/// A connecting step: the TLS handshake over whatever the earlier steps
/// gave.  Over plain TCP the result stays concrete (the fast path): rustls'
/// session over the socket (`tls_conn`), which can leave the reactor and
/// come back; over anything else (a tunnel, TLS: TLS in TLS) it is boxed.
pub async fn handshake(stream: Stream, to: &Peer<'_>, mode: &TlsMode) -> Result<Stream, Error> {
    let peer = stream.peer_addr();
    match stream {
        Stream::Tcp(tcp) => {
            let (tcp, conn) = Box::pin(handshake_over(tcp, to, mode, peer))
                .await?
                .into_inner();
            Ok(Stream::Tls(Box::new(super::tls_conn::TlsConn::new(
                super::tls_conn::Reactor(tcp),
                conn,
            ))))
        }
        other => {
            let tls = Box::pin(handshake_over(other, to, mode, peer)).await?;
            let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2");
            Ok(Stream::Layered {
                io: Box::new(tls),
                h2,
            })
        }
    }
}

/// The client config of `mode` offering `alpn` (shared when it already does).
fn config_for(mode: &TlsMode, alpn: Alpn) -> (Arc<ClientConfig>, Option<&TlsSpec>) {
    let (cfg, spec) = match mode {
        TlsMode::Verify => (verify_config(), None),
        TlsMode::NoVerify => (no_verify_config(), None),
        TlsMode::Custom(spec) => (spec.config.clone(), Some(spec.as_ref())),
    };
    let protocols = alpn.protocols();
    if cfg.alpn_protocols == protocols {
        return (cfg, spec);
    }
    let mut with = (*cfg).clone();
    with.alpn_protocols = protocols;
    (Arc::new(with), spec)
}

async fn handshake_over<S: Io>(
    io: S,
    to: &Peer<'_>,
    mode: &TlsMode,
    peer: Option<std::net::SocketAddr>,
) -> Result<tokio_rustls::client::TlsStream<S>, Error> {
    let (host, port, server_name) = (to.host, to.port, to.server_name);
    let (cfg, spec) = config_for(mode, to.alpn);
    let bare = server_name
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let name = ServerName::try_from(bare).map_err(|e| {
        Error::new(
            ErrorKind::Tls,
            format!("Cannot connect to host {host}:{port} ssl:True [{e}]"),
        )
        .with_addr(host, port, true)
    })?;
    let connector = tokio_rustls::TlsConnector::from(cfg);
    let stream = match connector.connect(name, io).await {
        Ok(s) => s,
        Err(e) => {
            return Err(handshake_error(&e, host, port, server_name));
        }
    };
    if let Some(expected) = spec.and_then(|s| s.fingerprint.as_deref()) {
        let leaf = stream
            .get_ref()
            .1
            .peer_certificates()
            .and_then(|c| c.first());
        let got = leaf.and_then(|c| sha256(c.as_ref())).unwrap_or_default();
        if got != expected {
            // As aiohttp: the peer's address, from the socket.
            let (ip, p) = match peer {
                Some(a) => (a.ip().to_string(), a.port()),
                None => (host.to_owned(), port),
            };
            let mut err = Error::new(
                ErrorKind::FingerprintMismatch,
                format!("Server fingerprint mismatch for {host}:{port}"),
            )
            .with_addr(&ip, p, true);
            err.fingerprints = Some(Box::new(Fingerprints {
                expected: expected.to_vec(),
                got,
            }));
            return Err(err);
        }
    }
    Ok(stream)
}

fn no_verify_config() -> Arc<ClientConfig> {
    static CFG: OnceLock<Arc<ClientConfig>> = OnceLock::new();
    CFG.get_or_init(|| {
        let p = provider();
        let mut cfg = ClientConfig::builder_with_provider(p.clone())
            .with_safe_default_protocol_versions()
            .map(|b| {
                b.dangerous()
                    .with_custom_certificate_verifier(Arc::new(NoVerifier(p.clone())))
                    .with_no_client_auth()
            })
            .unwrap_or_else(|_| {
                ClientConfig::builder()
                    .dangerous()
                    .with_custom_certificate_verifier(Arc::new(NoVerifier(p)))
                    .with_no_client_auth()
            });
        cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
        Arc::new(cfg)
    })
    .clone()
}

// -- what a made connection tells (transport.get_extra_info) -----------------

impl TlsMode {
    /// Whether the server's certificate chain is verified in this mode
    /// (`ssl.SSLSocket.getpeercert()` is empty when it is not).
    pub fn verifies(&self) -> bool {
        match self {
            TlsMode::Verify => true,
            TlsMode::NoVerify => false,
            TlsMode::Custom(spec) => spec.verify,
        }
    }
}

/// The negotiated TLS session as Python's `ssl` module describes it, read
/// once after the handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsInfo {
    /// The cipher suite in OpenSSL's naming (`TLS_AES_256_GCM_SHA384`,
    /// `ECDHE-RSA-AES128-GCM-SHA256`), as `SSLSocket.cipher()[0]`.
    pub cipher: String,
    /// `TLSv1.2` or `TLSv1.3`, as `SSLSocket.version()`.
    pub version: &'static str,
    /// The cipher's secret bits, as `SSLSocket.cipher()[2]`.
    pub secret_bits: u32,
    /// The server's certificate chain as it sent it, DER, leaf first.
    pub peer_certs: Vec<Vec<u8>>,
    /// The chain was verified (the mode verifies and the handshake succeeded).
    pub verified: bool,
}

/// What a client TLS connection negotiated; `None` before its handshake.
pub fn tls_info(conn: &rustls::ClientConnection, verified: bool) -> Option<TlsInfo> {
    let suite = conn.negotiated_cipher_suite()?;
    let version = match conn.protocol_version()? {
        rustls::ProtocolVersion::TLSv1_3 => "TLSv1.3",
        rustls::ProtocolVersion::TLSv1_2 => "TLSv1.2",
        _ => "unknown",
    };
    let (cipher, secret_bits) = openssl_cipher(suite.suite());
    let peer_certs = conn
        .peer_certificates()
        .map(|c| c.iter().map(|d| d.as_ref().to_vec()).collect())
        .unwrap_or_default();
    Some(TlsInfo {
        cipher,
        version,
        secret_bits,
        peer_certs,
        verified,
    })
}

/// A cipher suite's OpenSSL name and secret bits (IANA's name for a suite
/// OpenSSL does not name here).
fn openssl_cipher(suite: rustls::CipherSuite) -> (String, u32) {
    let (name, bits) = match u16::from(suite) {
        0x1301 => ("TLS_AES_128_GCM_SHA256", 128),
        0x1302 => ("TLS_AES_256_GCM_SHA384", 256),
        0x1303 => ("TLS_CHACHA20_POLY1305_SHA256", 256),
        0xc02b => ("ECDHE-ECDSA-AES128-GCM-SHA256", 128),
        0xc02c => ("ECDHE-ECDSA-AES256-GCM-SHA384", 256),
        0xc02f => ("ECDHE-RSA-AES128-GCM-SHA256", 128),
        0xc030 => ("ECDHE-RSA-AES256-GCM-SHA384", 256),
        0xcca8 => ("ECDHE-RSA-CHACHA20-POLY1305", 256),
        0xcca9 => ("ECDHE-ECDSA-CHACHA20-POLY1305", 256),
        _ => {
            let name = suite.as_str().unwrap_or("unknown").to_owned();
            let bits = if name.contains("128") { 128 } else { 256 };
            return (name, bits);
        }
    };
    (name.to_owned(), bits)
}

// -- why a certificate was rejected, in OpenSSL's words ----------------------

/// The engine error for a failed handshake: [`ErrorKind::Certificate`] with
/// OpenSSL's verify code (`errno`) and message when the server's certificate
/// was rejected ([`cert_verify`] reads them back), [`ErrorKind::Tls`] otherwise.
fn handshake_error(e: &std::io::Error, host: &str, port: u16, server_name: &str) -> Error {
    let cert = match e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
        Some(rustls::Error::InvalidCertificate(c)) => c,
        _ => {
            return Error::new(ErrorKind::Tls, e.to_string())
                .with_addr(host, port, true)
                .with_io(e)
        }
    };
    let name = server_name.trim_start_matches('[').trim_end_matches(']');
    let verify = openssl_verify(cert, name);
    let mut err = Error::new(ErrorKind::Certificate, verify.message).with_addr(host, port, true);
    err.errno = Some(verify.code);
    err
}

/// A rejected certificate's OpenSSL verify code and message (10 "certificate
/// has expired", 20 "unable to get local issuer certificate"...), what
/// `ssl.SSLCertVerificationError` carries as `verify_code` / `verify_message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertVerify {
    pub code: i32,
    pub message: String,
}

/// The verify code and message of an [`ErrorKind::Certificate`] error.
pub fn cert_verify(e: &Error) -> Option<CertVerify> {
    match (e.kind, e.errno) {
        (ErrorKind::Certificate, Some(code)) => Some(CertVerify {
            code,
            message: e.message.clone(),
        }),
        _ => None,
    }
}

/// OpenSSL's `X509_V_ERR_*` code and message (OpenSSL 3's wording; CPython's
/// for a name mismatch) for a certificate rustls rejected.
#[allow(deprecated)] // UnsupportedSignatureAlgorithm: older verifiers still give it
pub fn openssl_verify(e: &CertificateError, server_name: &str) -> CertVerify {
    use CertificateError as C;
    let (code, message) = match e {
        C::Expired | C::ExpiredContext { .. } => (10, "certificate has expired".to_owned()),
        C::NotValidYet | C::NotValidYetContext { .. } => {
            (9, "certificate is not yet valid".to_owned())
        }
        C::NotValidForName | C::NotValidForNameContext { .. } => {
            if server_name.parse::<std::net::IpAddr>().is_ok() {
                let m =
                    format!("IP address mismatch, certificate is not valid for '{server_name}'.");
                (64, m)
            } else {
                let m = format!("Hostname mismatch, certificate is not valid for '{server_name}'.");
                (62, m)
            }
        }
        C::UnknownIssuer => (20, "unable to get local issuer certificate".to_owned()),
        C::Other(o) => match o.0.downcast_ref::<SelfSigned>() {
            Some(SelfSigned::Leaf) => (18, "self-signed certificate".to_owned()),
            Some(SelfSigned::InChain) => (
                19,
                "self-signed certificate in certificate chain".to_owned(),
            ),
            None => (1, "unspecified certificate verification error".to_owned()),
        },
        C::Revoked => (23, "certificate revoked".to_owned()),
        C::BadSignature
        | C::UnsupportedSignatureAlgorithm
        | C::UnsupportedSignatureAlgorithmContext { .. }
        | C::UnsupportedSignatureAlgorithmForPublicKeyContext { .. } => {
            (7, "certificate signature failure".to_owned())
        }
        C::InvalidPurpose | C::InvalidPurposeContext { .. } => {
            (26, "unsupported certificate purpose".to_owned())
        }
        C::UnhandledCriticalExtension => (34, "unhandled critical extension".to_owned()),
        C::UnknownRevocationStatus => (3, "unable to get certificate CRL".to_owned()),
        C::ExpiredRevocationList | C::ExpiredRevocationListContext { .. } => {
            (12, "CRL has expired".to_owned())
        }
        C::ApplicationVerificationFailure => (50, "application verification failure".to_owned()),
        _ => (1, "unspecified certificate verification error".to_owned()),
    };
    CertVerify { code, message }
}

/// An unknown issuer that OpenSSL names more precisely: the certificate
/// signed itself (18), or the chain the server sent ends in a self-signed
/// certificate nobody trusts (19).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SelfSigned {
    Leaf,
    InChain,
}

impl fmt::Display for SelfSigned {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SelfSigned::Leaf => "self-signed certificate",
            SelfSigned::InChain => "self-signed certificate in certificate chain",
        })
    }
}

impl std::error::Error for SelfSigned {}

fn named_self_signed(
    inner: Result<Arc<WebPkiServerVerifier>, rustls::client::VerifierBuilderError>,
) -> Arc<dyn ServerCertVerifier> {
    match inner {
        Ok(v) => Arc::new(SelfSignedNamed(v)),
        // No usable root at all: every certificate is of an unknown issuer.
        Err(_) => Arc::new(SelfSignedNamed(Arc::new(NoRoots))),
    }
}

/// A verifier whose "unknown issuer" says when the chain is self-signed.
#[derive(Debug)]
struct SelfSignedNamed(Arc<dyn ServerCertVerifier>);

impl ServerCertVerifier for SelfSignedNamed {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let result = self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now);
        let Err(rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer)) = result else {
            return result;
        };
        let kind = if intermediates.is_empty() && self_issued(end_entity) {
            SelfSigned::Leaf
        } else if intermediates.last().is_some_and(|c| self_issued(c)) {
            SelfSigned::InChain
        } else {
            return result;
        };
        Err(rustls::Error::InvalidCertificate(CertificateError::Other(
            rustls::OtherError(Arc::new(kind)),
        )))
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// The system store could not be used: nothing is trusted.
#[derive(Debug)]
struct NoRoots;

impl ServerCertVerifier for NoRoots {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Err(rustls::Error::InvalidCertificate(
            CertificateError::UnknownIssuer,
        ))
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        NoVerifier(provider()).verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        NoVerifier(provider()).verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        NoVerifier(provider()).supported_verify_schemes()
    }
}

/// Whether a DER certificate names itself as its issuer.
fn self_issued(cert: &[u8]) -> bool {
    issuer_and_subject(cert).is_some_and(|(issuer, subject)| issuer == subject)
}

/// The issuer and subject Names of a DER certificate, as encoded.
fn issuer_and_subject(cert: &[u8]) -> Option<(&[u8], &[u8])> {
    let (_, cert_body, _) = der_tlv(cert)?;
    let (_, tbs, _) = der_tlv(cert_body)?;
    let mut rest = tbs;
    let (tag, _, after) = der_tlv(rest)?;
    if tag == 0xA0 {
        rest = after; // [0] version
    }
    let (_, _, rest) = der_tlv(rest)?; // serialNumber
    let (_, _, rest) = der_tlv(rest)?; // signature
    let issuer_len = rest.len() - der_tlv(rest)?.2.len();
    let issuer = &rest[..issuer_len];
    let (_, _, rest) = der_tlv(rest)?; // issuer
    let (_, _, rest) = der_tlv(rest)?; // validity
    let subject_len = rest.len() - der_tlv(rest)?.2.len();
    Some((issuer, &rest[..subject_len]))
}

/// One DER element: (tag, contents, what follows).
fn der_tlv(d: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let tag = *d.first()?;
    let first = *d.get(1)? as usize;
    let (head, len) = if first < 0x80 {
        (2, first)
    } else {
        let n = first & 0x7F;
        if n == 0 || n > 4 {
            return None;
        }
        let bytes = d.get(2..2 + n)?;
        (
            2 + n,
            bytes.iter().fold(0usize, |a, b| (a << 8) | *b as usize),
        )
    };
    let end = head.checked_add(len)?;
    Some((tag, d.get(head..end)?, d.get(end..)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cipher_names_are_openssls() {
        use rustls::CipherSuite as C;
        let cases = [
            (C::TLS13_AES_256_GCM_SHA384, "TLS_AES_256_GCM_SHA384", 256),
            (C::TLS13_AES_128_GCM_SHA256, "TLS_AES_128_GCM_SHA256", 128),
            (
                C::TLS13_CHACHA20_POLY1305_SHA256,
                "TLS_CHACHA20_POLY1305_SHA256",
                256,
            ),
            (
                C::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
                "ECDHE-RSA-AES128-GCM-SHA256",
                128,
            ),
            (
                C::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
                "ECDHE-ECDSA-AES256-GCM-SHA384",
                256,
            ),
            (
                C::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
                "ECDHE-RSA-CHACHA20-POLY1305",
                256,
            ),
        ];
        for (suite, name, bits) in cases {
            assert_eq!(openssl_cipher(suite), (name.to_owned(), bits));
        }
        // Every suite the engine can negotiate has an OpenSSL name.
        for s in rustls::crypto::ring::default_provider().cipher_suites {
            assert!(!openssl_cipher(s.suite()).0.starts_with("TLS_ECDHE"));
        }
    }

    #[test]
    fn verifying_modes() {
        assert!(TlsMode::Verify.verifies());
        assert!(!TlsMode::NoVerify.verifies());
        let fp = TlsOptions {
            verify: false,
            fingerprint: Some(vec![0; 32]),
            ..TlsOptions::default()
        };
        assert!(!TlsMode::custom(&fp).unwrap().verifies());
    }
}
