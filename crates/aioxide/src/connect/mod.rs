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
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
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
    /// The name for SNI and the certificate check, when not `host`.
    pub server_name: Option<String>,
}

/// Resolve `host` (a name or an IP literal, IPv6 possibly in brackets)
/// with the system's getaddrinfo, in the blocking pool.  A failure keeps
/// getaddrinfo's EAI code, so that Python gets the socket.gaierror it knows.
pub async fn resolve(host: &str, port: u16) -> Result<Vec<SocketAddr>, Error> {
    let bare = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    if let Ok(ip) = bare.parse::<std::net::IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let looked_up = tokio::task::spawn_blocking(move || getaddrinfo(&bare, port)).await;
    let failed = |code: i32, msg: String| {
        let mut e = Error::new(
            ErrorKind::Dns,
            format!("Cannot connect to host {host}:{port}: {msg}"),
        )
        .with_addr(host, port, false);
        e.errno = Some(code);
        e
    };
    match looked_up {
        Ok(Ok(v)) if !v.is_empty() => Ok(v),
        Ok(Ok(_)) => Err(failed(libc::EAI_NONAME, "no address".into())),
        Ok(Err((code, msg))) => Err(failed(code, msg)),
        Err(_) => Err(failed(libc::EAI_FAIL, "resolver task failed".into())),
    }
}

/// getaddrinfo(3) for TCP: the addresses, or the EAI code and its message.
fn getaddrinfo(host: &str, port: u16) -> Result<Vec<SocketAddr>, (i32, String)> {
    use std::ffi::{CStr, CString};
    let c_host =
        CString::new(host).map_err(|_| (libc::EAI_NONAME, "invalid host name".to_owned()))?;
    // SAFETY: a zeroed addrinfo is a valid "no hints" value; we set three fields.
    let mut hints: libc::addrinfo = unsafe { std::mem::zeroed() };
    hints.ai_family = libc::AF_UNSPEC;
    hints.ai_socktype = libc::SOCK_STREAM;
    hints.ai_flags = libc::AI_ADDRCONFIG;
    let mut res: *mut libc::addrinfo = std::ptr::null_mut();
    // SAFETY: valid C string and hints; res is freed below with freeaddrinfo.
    let rc = unsafe { libc::getaddrinfo(c_host.as_ptr(), std::ptr::null(), &hints, &mut res) };
    if rc != 0 {
        let msg = if rc == libc::EAI_SYSTEM {
            io::Error::last_os_error().to_string()
        } else {
            // SAFETY: gai_strerror returns a static C string.
            unsafe { CStr::from_ptr(libc::gai_strerror(rc)) }
                .to_string_lossy()
                .into_owned()
        };
        return Err((rc, msg));
    }
    let mut out = Vec::new();
    let mut cur = res;
    while !cur.is_null() {
        // SAFETY: cur walks the list getaddrinfo returned; each ai_addr is
        // valid for ai_addrlen bytes and matches ai_family.
        unsafe {
            let ai = &*cur;
            match ai.ai_family {
                libc::AF_INET => {
                    let sa = &*(ai.ai_addr as *const libc::sockaddr_in);
                    let ip = std::net::Ipv4Addr::from(u32::from_be(sa.sin_addr.s_addr));
                    out.push(SocketAddr::new(ip.into(), port));
                }
                libc::AF_INET6 => {
                    let sa = &*(ai.ai_addr as *const libc::sockaddr_in6);
                    let ip = std::net::Ipv6Addr::from(sa.sin6_addr.s6_addr);
                    out.push(SocketAddr::V6(std::net::SocketAddrV6::new(
                        ip,
                        port,
                        0,
                        sa.sin6_scope_id,
                    )));
                }
                _ => {}
            }
            cur = ai.ai_next;
        }
    }
    // SAFETY: res came from a successful getaddrinfo.
    unsafe { libc::freeaddrinfo(res) };
    out.dedup();
    Ok(out)
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
                format!(
                    "Cannot connect to host {}:{} ssl:{} [{}]",
                    target.host, target.port, is_tls, e
                ),
            )
            .with_addr(&target.host, target.port, is_tls)
            .with_io(&e));
        }
    };
    let _ = tcp.set_nodelay(true);
    match &target.tls {
        None => Ok(Stream::Tcp(tcp)),
        Some(mode) => {
            let name = target.server_name.as_deref().unwrap_or(&target.host);
            tls::handshake(tcp, &target.host, target.port, name, mode).await
        }
    }
}
