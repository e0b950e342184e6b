//! Opening connections: name resolution, TCP, TLS.

pub mod tls;

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use crate::error::{Error, ErrorKind};

/// A connected byte stream: plain TCP or TLS over TCP.
pub enum Stream {
    Tcp(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Stream::Tcp(s) => s.is_write_vectored(),
            Stream::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// Where to connect and how.
#[derive(Debug, Clone)]
pub struct Target {
    pub host: String,
    pub port: u16,
    pub tls: Option<tls::TlsMode>,
}

/// Resolve `host` (a name or an IP literal, IPv6 possibly in brackets).
pub async fn resolve(host: &str, port: u16) -> Result<Vec<SocketAddr>, Error> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<std::net::IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let dns_err = |msg: String, e: Option<&io::Error>| {
        let mut err = Error::new(ErrorKind::Dns, msg).with_addr(host, port, false);
        if let Some(e) = e {
            err = err.with_io(e);
        }
        err
    };
    match tokio::net::lookup_host((bare, port)).await {
        Ok(addrs) => {
            let v: Vec<SocketAddr> = addrs.collect();
            if v.is_empty() {
                Err(dns_err(format!("Cannot connect to host {host}:{port}: no address"), None))
            } else {
                Ok(v)
            }
        }
        Err(e) => Err(dns_err(format!("Cannot connect to host {host}:{port}: {e}"), Some(&e))),
    }
}

/// Open a connection to `target`: resolve, connect to each address in turn,
/// then the TLS handshake when asked.
pub async fn connect(target: &Target) -> Result<Stream, Error> {
    let is_tls = target.tls.is_some();
    let addrs = resolve(&target.host, target.port).await.map_err(|mut e| {
        e.is_tls = is_tls;
        e
    })?;
    let mut last: Option<io::Error> = None;
    let mut tcp = None;
    for addr in addrs {
        match TcpStream::connect(addr).await {
            Ok(s) => {
                tcp = Some(s);
                break;
            }
            Err(e) => last = Some(e),
        }
    }
    let tcp = match tcp {
        Some(t) => t,
        None => {
            let e = last.unwrap_or_else(|| io::Error::other("no address"));
            return Err(Error::new(
                ErrorKind::Connect,
                format!("Cannot connect to host {}:{} ssl:{} [{}]", target.host, target.port, is_tls, e),
            )
            .with_addr(&target.host, target.port, is_tls)
            .with_io(&e));
        }
    };
    let _ = tcp.set_nodelay(true);
    match &target.tls {
        None => Ok(Stream::Tcp(tcp)),
        Some(mode) => tls::handshake(tcp, &target.host, target.port, mode).await,
    }
}
