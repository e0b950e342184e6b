//! TLS through rustls, verifying against the system's trust store.

use std::sync::{Arc, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::net::TcpStream;

use super::Stream;
use crate::error::{Error, ErrorKind};

/// How to check the server (aiohttp's `ssl=`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TlsMode {
    /// `ssl=True`: the system's trust store and the host name.
    Verify,
    /// `ssl=False`: no verification at all.
    NoVerify,
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn system_roots() -> RootCertStore {
    let mut roots = RootCertStore::empty();
    let found = rustls_native_certs::load_native_certs();
    for cert in found.certs {
        let _ = roots.add(cert);
    }
    if roots.is_empty() {
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    }
    roots
}

fn verify_config() -> Arc<ClientConfig> {
    static CFG: OnceLock<Arc<ClientConfig>> = OnceLock::new();
    CFG.get_or_init(|| {
        let mut cfg = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map(|b| {
                b.with_root_certificates(system_roots())
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

/// Run the TLS handshake over a connected socket.
pub async fn handshake(
    tcp: TcpStream,
    host: &str,
    port: u16,
    server_name: &str,
    mode: &TlsMode,
) -> Result<Stream, Error> {
    let cfg = match mode {
        TlsMode::Verify => verify_config(),
        TlsMode::NoVerify => no_verify_config(),
    };
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
    match connector.connect(name, tcp).await {
        Ok(s) => Ok(Stream::Tls(Box::new(s))),
        Err(e) => {
            let kind = match e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
                Some(rustls::Error::InvalidCertificate(_)) => ErrorKind::Certificate,
                _ => ErrorKind::Tls,
            };
            Err(Error::new(
                kind,
                format!("Cannot connect to host {host}:{port} ssl:True [{e}]"),
            )
            .with_addr(host, port, true)
            .with_io(&e))
        }
    }
}
