//! Opening connections as a chain of steps over a byte stream:
//!
//! 1. transport: TCP to a resolved address (or the user's socket_factory
//!    socket), or UnixConnector's socket;
//! 2. tunnel: through a proxy to the origin ([`Tunnel`]): an HTTPS
//!    proxy's own TLS, then CONNECT ([`proxy`]) or a SOCKS exchange
//!    ([`socks`]); or, for a forward proxy, just the connection to it;
//! 3. TLS with the ALPN protocols of the pool key ([`Alpn`]);
//!
//! TLS runs over whatever the earlier steps gave, so an HTTPS proxy's TLS
//! carrying the origin's TLS (TLS in TLS) is the same step twice.  Plain
//! TCP and TLS over TCP stay concrete variants (the fast path); layered
//! streams are boxed.

pub mod direct;
pub mod dns;
pub mod proxy;
pub mod socks;
pub mod tls;
pub mod tls_conn;
pub mod watch;

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpSocket, TcpStream};

use dns::{ConnectConfig, DnsCache};

use crate::error::{Error, ErrorKind};

/// Any byte stream a connection step can run over.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// A stream of several layers (TLS over a tunnel, TLS in TLS).
pub type BoxedIo = Box<dyn Io>;

/// A connected byte stream.
pub enum Stream {
    Tcp(TcpStream),
    /// UnixConnector's socket.
    Unix(tokio::net::UnixStream),
    /// TLS over TCP (rustls' session over the socket: `tls_conn`).
    Tls(Box<tls_conn::TlsConn<tls_conn::Reactor>>),
    /// Anything layered over something else than a plain TCP socket.
    Layered {
        io: BoxedIo,
        /// Its TLS layer chose `h2` by ALPN.
        h2: bool,
    },
    /// A plain socket out of the reactor while the loop's thread drives its
    /// request ([`direct::driving`]); back in at the engine's next poll.
    Direct(direct::Direct),
}

/// The same call on whichever stream a [`Stream`] holds.
macro_rules! each {
    ($self:expr, $s:ident => $e:expr) => {
        match $self {
            Stream::Tcp($s) => $e,
            Stream::Unix($s) => $e,
            Stream::Tls($s) => $e,
            Stream::Layered { io: $s, .. } => $e,
            Stream::Direct($s) => $e,
        }
    };
}

impl Stream {
    /// Out of the reactor while a loop drives it, back in when the engine
    /// polls it (see [`direct`]).  A check ([`direct::checking`]: an idle
    /// connection's) reads a detached socket as it is; only inside the
    /// runtime can a socket go back to its reactor.
    fn settle(&mut self) -> &mut Self {
        let driving = direct::is_driving();
        let moves = match self {
            Stream::Tcp(_) | Stream::Unix(_) | Stream::Tls(_) => driving,
            Stream::Direct(_) => {
                !driving && !direct::is_checking() && tokio::runtime::Handle::try_current().is_ok()
            }
            Stream::Layered { .. } => false,
        };
        if moves {
            let placeholder = Stream::Direct(direct::Direct::Failed(io::ErrorKind::NotConnected));
            *self = match std::mem::replace(self, placeholder) {
                Stream::Direct(d) => d.attach(),
                s => direct::Direct::detach(s).map_or_else(|s| s, Stream::Direct),
            };
        }
        self
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        each!(self.get_mut().settle(), s => Pin::new(s).poll_read(cx, buf))
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        each!(self.get_mut().settle(), s => Pin::new(s).poll_write(cx, buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        each!(self.get_mut().settle(), s => Pin::new(s).poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        each!(self, s => s.is_write_vectored())
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        each!(self.get_mut().settle(), s => Pin::new(s).poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        each!(self.get_mut().settle(), s => Pin::new(s).poll_shutdown(cx))
    }
}

impl Stream {
    /// The peer's address, when the stream is a socket or TLS over one.
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        match self {
            Stream::Tcp(s) => s.peer_addr().ok(),
            Stream::Tls(s) => s.sock.0.peer_addr().ok(),
            Stream::Direct(direct::Direct::Tcp(s)) => s.peer_addr().ok(),
            Stream::Direct(direct::Direct::Tls(s)) => s.sock.peer_addr().ok(),
            Stream::Unix(_) | Stream::Layered { .. } | Stream::Direct(_) => None,
        }
    }

    /// The local address, when the stream is a socket or TLS over one.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        match self {
            Stream::Tcp(s) => s.local_addr().ok(),
            Stream::Tls(s) => s.sock.0.local_addr().ok(),
            Stream::Direct(direct::Direct::Tcp(s)) => s.local_addr().ok(),
            Stream::Direct(direct::Direct::Tls(s)) => s.sock.local_addr().ok(),
            Stream::Unix(_) | Stream::Layered { .. } | Stream::Direct(_) => None,
        }
    }

    /// What Python's `transport.get_extra_info()` tells of this connection,
    /// read once when it is made (two syscalls; the TLS session's cipher
    /// and the server's certificates).  `verified`: the TLS mode verifies
    /// the server.  A layered stream (TLS through a tunnel) tells nothing.
    pub fn meta(&self, verified: bool) -> ConnMeta {
        let tls = match self {
            Stream::Tls(s) => tls::tls_info(&s.conn, verified),
            _ => None,
        };
        ConnMeta {
            peer: self.peer_addr(),
            local: self.local_addr(),
            tls,
        }
    }

    /// The (last) TLS handshake chose `h2` by ALPN.
    pub fn negotiated_h2(&self) -> bool {
        match self {
            Stream::Tls(s) => s.conn.alpn_protocol() == Some(b"h2"),
            Stream::Layered { h2, .. } => *h2,
            Stream::Tcp(_) | Stream::Unix(_) | Stream::Direct(_) => false,
        }
    }
}

/// A connection's addresses and TLS session, read when it is made and
/// shared (behind an `Arc`) by every response that comes on it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnMeta {
    pub peer: Option<SocketAddr>,
    pub local: Option<SocketAddr>,
    pub tls: Option<tls::TlsInfo>,
}

/// A proxy's host (a name or an IP literal) and port.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ProxyAddr {
    pub host: String,
    pub port: u16,
}

/// The SOCKS dialect, and who resolves the origin's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SocksVersion {
    /// SOCKS4: the client resolves the name to an IPv4 address.
    Socks4,
    /// SOCKS4a: the proxy resolves the name.
    Socks4a,
    /// SOCKS5 (RFC 1928): the client resolves the name (IPv4 or IPv6).
    Socks5,
    /// SOCKS5 with the name sent to the proxy, which resolves it.
    Socks5h,
}

/// How the origin is reached: directly, through a proxy's tunnel, or by
/// asking a forward proxy.  Part of the pool key (as aiohttp keys
/// connections by proxy, proxy auth and proxy headers): proxied
/// connections are pooled apart from direct ones and from each other.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub enum Tunnel {
    /// Straight to the origin.
    #[default]
    None,
    /// A plain `http://` origin through an HTTP(S) proxy: the connection
    /// goes to the proxy (TLS to it when `tls`), no tunnel; requests are
    /// written in absolute form with `headers` added ([`Tunnel::is_forward`]).
    Forward {
        proxy: ProxyAddr,
        /// TLS to the proxy itself (an `https://` proxy).
        tls: Option<tls::TlsMode>,
        /// `Proxy-Authorization` and `proxy_headers`, sent on each request.
        headers: Vec<(String, String)>,
    },
    /// A CONNECT tunnel through an HTTP(S) proxy (https/wss origins).
    Http {
        proxy: ProxyAddr,
        /// TLS to the proxy itself (an `https://` proxy): the origin's TLS
        /// then runs inside it.
        tls: Option<tls::TlsMode>,
        /// `Proxy-Authorization` and `proxy_headers`, sent on CONNECT.
        headers: Vec<(String, String)>,
    },
    /// A SOCKS proxy's tunnel.
    Socks {
        proxy: ProxyAddr,
        version: SocksVersion,
        /// SOCKS5: RFC 1929 username and password; SOCKS4(a): the user id
        /// (the password is not sent).
        auth: Option<(String, String)>,
    },
}

impl Tunnel {
    /// The connection goes to a forward proxy: requests on it must be
    /// written in absolute form (`GET http://host/path HTTP/1.1`) with
    /// [`Tunnel::request_headers`] added.
    pub fn is_forward(&self) -> bool {
        matches!(self, Tunnel::Forward { .. })
    }

    /// The headers a forward proxy wants on each request (empty otherwise).
    pub fn request_headers(&self) -> &[(String, String)] {
        match self {
            Tunnel::Forward { headers, .. } => headers,
            _ => &[],
        }
    }

    /// The proxy the connection goes to first, if any.
    pub fn proxy(&self) -> Option<&ProxyAddr> {
        match self {
            Tunnel::None => None,
            Tunnel::Forward { proxy, .. }
            | Tunnel::Http { proxy, .. }
            | Tunnel::Socks { proxy, .. } => Some(proxy),
        }
    }

    /// How the proxy itself is checked, for an HTTPS proxy.
    fn proxy_tls(&self) -> Option<&tls::TlsMode> {
        match self {
            Tunnel::Forward { tls, .. } | Tunnel::Http { tls, .. } => tls.as_ref(),
            Tunnel::None | Tunnel::Socks { .. } => None,
        }
    }
}

/// Credentials stay out of logs: passwords and header values are elided.
impl std::fmt::Debug for Tunnel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names = |h: &[(String, String)]| h.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>();
        match self {
            Tunnel::None => f.write_str("None"),
            Tunnel::Forward {
                proxy,
                tls,
                headers,
            } => f
                .debug_struct("Forward")
                .field("proxy", proxy)
                .field("tls", tls)
                .field("header_names", &names(headers))
                .finish(),
            Tunnel::Http {
                proxy,
                tls,
                headers,
            } => f
                .debug_struct("Http")
                .field("proxy", proxy)
                .field("tls", tls)
                .field("header_names", &names(headers))
                .finish(),
            Tunnel::Socks {
                proxy,
                version,
                auth,
            } => f
                .debug_struct("Socks")
                .field("proxy", proxy)
                .field("version", version)
                .field("user", &auth.as_ref().map(|(u, _)| u))
                .finish(),
        }
    }
}

/// The protocols offered by ALPN in the TLS handshake, per pool key.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Alpn {
    /// `http/1.1` only (aiohttp's only protocol).
    #[default]
    Http1,
    /// HTTP/2 when the server agrees: by ALPN over TLS (`h2` preferred,
    /// `http/1.1` accepted), with prior knowledge over plain TCP.  Not used
    /// by default.
    H2,
}

impl Alpn {
    /// The ALPN protocol names, in order of preference.
    pub fn protocols(self) -> Vec<Vec<u8>> {
        match self {
            Alpn::Http1 => vec![b"http/1.1".to_vec()],
            Alpn::H2 => vec![b"h2".to_vec(), b"http/1.1".to_vec()],
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
    pub tunnel: Tunnel,
    pub alpn: Alpn,
}

impl Target {
    /// Whether making this connection is the engine's work, never the
    /// loop's (TLS, tunnels; see [`direct::to_engine`]).
    pub fn needs_engine(&self) -> bool {
        self.tls.is_some()
            || match &self.tunnel {
                Tunnel::None => false,
                Tunnel::Forward { tls, .. } => tls.is_some(),
                _ => true,
            }
    }
}

/// Resolve `host` (a name or an IP literal, IPv6 possibly in brackets)
/// with the system's getaddrinfo, in the blocking pool.  A failure keeps
/// getaddrinfo's EAI code, so that Python gets the socket.gaierror it knows.
pub async fn resolve(host: &str, port: u16) -> Result<Vec<SocketAddr>, Error> {
    resolve_family(host, port, libc::AF_UNSPEC).await
}

/// Resolve through the DNS cache when it is on (TCPConnector's semantics:
/// cached per (host, port) for `ttl_dns_cache`), keeping `family` only.
pub async fn resolve_cached(
    host: &str,
    port: u16,
    cfg: &ConnectConfig,
    cache: &DnsCache,
) -> Result<(Vec<SocketAddr>, dns::DnsOutcome), Error> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<std::net::IpAddr>() {
        return Ok((vec![SocketAddr::new(ip, port)], dns::DnsOutcome::None));
    }
    let now = std::time::Instant::now();
    if !cfg.use_dns_cache {
        return Ok((lookup(host, port, cfg).await?, dns::DnsOutcome::Resolved));
    }
    if let Some(v) = cache.get(bare, port, cfg.ttl_dns_cache, now) {
        return Ok((v, dns::DnsOutcome::CacheHit));
    }
    // One lookup per host at a time: the others wait for its answer (for
    // them a cache hit, as aiohttp's trace says).  A cancelled lookup is
    // taken over by one of its waiters.
    let waiting = dns::Waiting {
        cache,
        host: bare,
        port,
        lookup: cache.lookup(bare, port),
    };
    let mut made = false;
    let answer = waiting
        .lookup
        .get_or_init(|| {
            made = true;
            async {
                let r = lookup(host, port, cfg).await;
                if let Ok(addrs) = &r {
                    cache.put(bare, port, addrs.clone(), cfg.dns_cache_max_size, now);
                }
                r.map_err(std::sync::Arc::new)
            }
        })
        .await;
    match answer {
        Ok(addrs) if made => Ok((addrs.clone(), dns::DnsOutcome::CacheMiss)),
        Ok(addrs) => Ok((addrs.clone(), dns::DnsOutcome::CacheHit)),
        Err(e) => Err(Error::shared(e)),
    }
}

/// One lookup of `host`: the user's resolver or getaddrinfo, the
/// addresses of `cfg.family` kept.
async fn lookup(host: &str, port: u16, cfg: &ConnectConfig) -> Result<Vec<SocketAddr>, Error> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let af = match cfg.family {
        dns::Family::Any => libc::AF_UNSPEC,
        dns::Family::V4 => libc::AF_INET,
        dns::Family::V6 => libc::AF_INET6,
    };
    let mut addrs = match &cfg.resolver {
        Some(r) => {
            let v = r.0.resolve(bare, port, cfg.family).await.map_err(|mut e| {
                e.kind = ErrorKind::Dns;
                e.with_addr(host, port, false)
            })?;
            if v.is_empty() {
                return Err(Error::new(
                    ErrorKind::Dns,
                    format!("Cannot connect to host {host}:{port}: no address"),
                )
                .with_addr(host, port, false));
            }
            v
        }
        None => resolve_family(host, port, af).await?,
    };
    addrs.retain(|a| cfg.family.admits(a));
    Ok(addrs)
}

async fn resolve_family(host: &str, port: u16, af: i32) -> Result<Vec<SocketAddr>, Error> {
    let bare = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    if let Ok(ip) = bare.parse::<std::net::IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let looked_up = tokio::task::spawn_blocking(move || getaddrinfo(&bare, port, af)).await;
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
fn getaddrinfo(host: &str, port: u16, af: i32) -> Result<Vec<SocketAddr>, (i32, String)> {
    use std::ffi::{CStr, CString};
    let c_host =
        CString::new(host).map_err(|_| (libc::EAI_NONAME, "invalid host name".to_owned()))?;
    // SAFETY: a zeroed addrinfo is a valid "no hints" value; we set three fields.
    let mut hints: libc::addrinfo = unsafe { std::mem::zeroed() };
    hints.ai_family = af;
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

/// Open a connection to `target`, step by step: the first hop's name
/// resolved, then transport, tunnel, TLS.  Nothing here has its own
/// timeout: the caller's deadlines wrap [`resolve_first_hop`] (the pool's `connect`)
/// and [`connect_resolved`] (`sock_connect` too, as aiohttp's covers the
/// connection, not the name's lookup).
pub async fn connect(
    target: &Target,
    cfg: &ConnectConfig,
    cache: &DnsCache,
) -> Result<(Stream, dns::DnsOutcome), Error> {
    let hop = resolve_first_hop(target, cfg, cache).await?;
    connect_resolved(target, hop, cfg, cache).await
}

/// The first hop of a connection, resolved ([`resolve_first_hop`]).
pub struct FirstHop {
    /// Its addresses, in the order to try them (none for a Unix socket).
    addrs: Vec<SocketAddr>,
    /// What name resolution did.
    pub outcome: dns::DnsOutcome,
}

impl FirstHop {
    /// What is left to try after an attempt on these addresses timed out:
    /// the first `per_family` of each address family dropped, as aiohttp's
    /// connector does before it tries again (aiohappyeyeballs'
    /// `pop_addr_infos_interleave`); None when nothing is left.
    pub fn after_timeout(&self, per_family: usize) -> Option<FirstHop> {
        let (mut v4, mut v6) = (0, 0);
        let rest: Vec<SocketAddr> = self
            .addrs
            .iter()
            .filter(|a| {
                let seen = if a.is_ipv4() { &mut v4 } else { &mut v6 };
                *seen += 1;
                *seen > per_family
            })
            .copied()
            .collect();
        (!rest.is_empty()).then_some(FirstHop {
            addrs: rest,
            outcome: self.outcome,
        })
    }
}

/// Step 0: the first hop's addresses: the proxy's when there is one (its
/// name is resolved, not the origin's); nothing for UnixConnector's socket.
pub async fn resolve_first_hop(
    target: &Target,
    cfg: &ConnectConfig,
    cache: &DnsCache,
) -> Result<FirstHop, Error> {
    if target.tunnel.is_forward() && target.tls.is_some() {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            "a TLS origin through an HTTP proxy needs a CONNECT tunnel",
        ));
    }
    if cfg.unix_path.is_some() {
        return Ok(FirstHop {
            addrs: Vec::new(),
            outcome: dns::DnsOutcome::None,
        });
    }
    let (host, port, is_tls) = first_hop(target);
    let (addrs, outcome) = resolve_cached(host, port, cfg, cache)
        .await
        .map_err(|mut e| {
            e.is_tls = is_tls;
            e
        })?;
    Ok(FirstHop { addrs, outcome })
}

/// The first hop's host, port and whether it speaks TLS.
fn first_hop(target: &Target) -> (&str, u16, bool) {
    match target.tunnel.proxy() {
        Some(p) => (p.host.as_str(), p.port, target.tunnel.proxy_tls().is_some()),
        None => (target.host.as_str(), target.port, target.tls.is_some()),
    }
}

/// Steps 1 to 3 to `target` from its resolved first hop.
pub async fn connect_resolved(
    target: &Target,
    hop: FirstHop,
    cfg: &ConnectConfig,
    cache: &DnsCache,
) -> Result<(Stream, dns::DnsOutcome), Error> {
    let outcome = hop.outcome;
    let stream = transport(target, hop.addrs, cfg).await?;
    let stream = Box::pin(tunnel(stream, target, cfg, cache)).await?;
    let stream = match &target.tls {
        None => stream,
        Some(mode) => {
            let name = target.server_name.as_deref().unwrap_or(&target.host);
            let to = tls::Peer {
                host: &target.host,
                port: target.port,
                server_name: name,
                alpn: target.alpn,
            };
            tls::handshake(stream, &to, mode).await?
        }
    };
    Ok((stream, outcome))
}

/// Step 1: a socket to the first hop (the proxy when there is one): each
/// of its addresses in turn (or UnixConnector's socket).  A proxy that
/// cannot be reached is [`ErrorKind::ProxyConnect`].
async fn transport(
    target: &Target,
    addrs: Vec<SocketAddr>,
    cfg: &ConnectConfig,
) -> Result<Stream, Error> {
    if let Some(path) = &cfg.unix_path {
        return connect_unix(path, target).await;
    }
    let (host, port, is_tls) = first_hop(target);
    let kind = match target.tunnel.proxy() {
        Some(_) => ErrorKind::ProxyConnect,
        None => ErrorKind::Connect,
    };
    match connect_any(addrs, cfg).await {
        Ok(t) => Ok(Stream::Tcp(t)),
        Err(e) => Err(Error::new(
            kind,
            format!("Cannot connect to host {host}:{port} ssl:{is_tls} [{e}]"),
        )
        .with_addr(host, port, is_tls)
        .with_io(&e)
        .with_source(e)),
    }
}

/// Step 2: through a proxy to the origin: an HTTPS proxy's own TLS over
/// the socket, then CONNECT or the SOCKS exchange, so that step 3 runs the
/// origin's TLS inside (TLS in TLS for an HTTPS proxy).  A forward proxy
/// gets only its TLS: the requests themselves go to it.
async fn tunnel(
    stream: Stream,
    target: &Target,
    cfg: &ConnectConfig,
    cache: &DnsCache,
) -> Result<Stream, Error> {
    match &target.tunnel {
        Tunnel::None => Ok(stream),
        Tunnel::Forward { proxy, tls, .. } => proxy_tls(stream, proxy, tls.as_ref()).await,
        Tunnel::Http {
            proxy: p,
            tls,
            headers,
        } => {
            let stream = proxy_tls(stream, p, tls.as_ref()).await?;
            let to = proxy::Origin {
                host: &target.host,
                port: target.port,
            };
            proxy::connect_tunnel(stream, p, to, headers).await
        }
        Tunnel::Socks {
            proxy: p,
            version,
            auth,
        } => {
            let to = proxy::Origin {
                host: &target.host,
                port: target.port,
            };
            let how = socks::Socks {
                proxy: p,
                version: *version,
                auth: auth.as_ref(),
            };
            socks::tunnel(stream, &how, to, cfg, cache).await
        }
    }
}

/// TLS to an HTTPS proxy (checked against the proxy's name; HTTP/1.1 by
/// ALPN), or the stream as it is for an HTTP proxy.
async fn proxy_tls(
    stream: Stream,
    proxy: &ProxyAddr,
    mode: Option<&tls::TlsMode>,
) -> Result<Stream, Error> {
    let Some(mode) = mode else {
        return Ok(stream);
    };
    let to = tls::Peer {
        host: &proxy.host,
        port: proxy.port,
        server_name: &proxy.host,
        alpn: Alpn::Http1,
    };
    tls::handshake(stream, &to, mode).await
}

/// UnixConnector: every request goes to one socket path, whatever its host.
async fn connect_unix(path: &std::path::Path, target: &Target) -> Result<Stream, Error> {
    let is_tls = target.tls.is_some();
    if is_tls {
        return Err(Error::new(
            ErrorKind::Connect,
            format!(
                "Cannot connect to unix socket {} ssl:true [TLS over a Unix socket is not supported]",
                path.display()
            ),
        )
        .with_addr(&target.host, target.port, true));
    }
    match tokio::net::UnixStream::connect(path).await {
        Ok(s) => Ok(Stream::Unix(s)),
        Err(e) => Err(Error::new(
            ErrorKind::Connect,
            format!(
                "Cannot connect to unix socket {} ssl:default [{}]",
                path.display(),
                e
            ),
        )
        .with_addr(&target.host, target.port, false)
        .with_io(&e)
        .with_source(e)),
    }
}

/// One TCP connection attempt, bound to `local` first when given.
async fn connect_one(
    addr: SocketAddr,
    local: Option<SocketAddr>,
    factory: Option<dns::Hook<dyn dns::SocketFactory>>,
) -> io::Result<TcpStream> {
    let sock = match factory {
        Some(f) => {
            let std_sock = std::net::TcpStream::from(f.0.socket(addr).await?);
            std_sock.set_nonblocking(true)?;
            TcpSocket::from_std_stream(std_sock)
        }
        None if addr.is_ipv4() => TcpSocket::new_v4()?,
        None => TcpSocket::new_v6()?,
    };
    if let Some(l) = local {
        sock.bind(l)?;
    }
    let s = sock.connect(addr).await?;
    let _ = s.set_nodelay(true);
    Ok(s)
}

/// Connect to the first address that answers.  With a happy-eyeballs delay
/// (RFC 8305), the next attempt starts when the delay has passed or the
/// previous attempt failed, whichever is first; the first to connect wins
/// and the others are dropped.  Without one, addresses are tried in turn.
pub async fn connect_any(addrs: Vec<SocketAddr>, cfg: &ConnectConfig) -> io::Result<TcpStream> {
    let order = match (cfg.happy_eyeballs_delay, cfg.interleave) {
        (_, Some(n)) => dns::interleave(&addrs, n),
        (Some(_), None) => dns::interleave(&addrs, 1),
        (None, None) => addrs,
    };
    let local = cfg.local_addr;
    let mut last: Option<io::Error> = None;
    let Some(delay) = cfg.happy_eyeballs_delay.filter(|_| order.len() > 1) else {
        for addr in order {
            match connect_one(addr, local, cfg.socket_factory.clone()).await {
                Ok(s) => return Ok(s),
                Err(e) => last = Some(e),
            }
        }
        return Err(last.unwrap_or_else(|| io::Error::other("no address")));
    };
    let mut pending = order.into_iter();
    let mut set = tokio::task::JoinSet::new();
    if let Some(addr) = pending.next() {
        set.spawn(connect_one(addr, local, cfg.socket_factory.clone()));
    }
    loop {
        let more = pending.len() > 0;
        if set.is_empty() && !more {
            return Err(last.unwrap_or_else(|| io::Error::other("no address")));
        }
        tokio::select! {
            done = set.join_next(), if !set.is_empty() => {
                match done {
                    Some(Ok(Ok(s))) => return Ok(s),
                    Some(Ok(Err(e))) => last = Some(e),
                    Some(Err(_)) => last = Some(io::Error::other("connection attempt failed")),
                    None => {}
                }
                // A failure starts the next attempt at once.
                if let Some(addr) = pending.next() {
                    set.spawn(connect_one(addr, local, cfg.socket_factory.clone()));
                }
            }
            _ = tokio::time::sleep(delay), if more => {
                if let Some(addr) = pending.next() {
                    set.spawn(connect_one(addr, local, cfg.socket_factory.clone()));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    /// A resolver that counts its calls, answers after 20 ms, and fails
    /// when asked to.
    struct Counting {
        calls: std::sync::atomic::AtomicUsize,
        fail: bool,
    }

    impl dns::Resolve for Counting {
        fn resolve(
            &self,
            _host: &str,
            port: u16,
            _family: dns::Family,
        ) -> dns::BoxFuture<Result<Vec<SocketAddr>, Error>> {
            self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let fail = self.fail;
            Box::pin(async move {
                tokio::time::sleep(Duration::from_millis(20)).await;
                match fail {
                    true => Err(Error::new(ErrorKind::Dns, "no such host")
                        .with_source(io::Error::other("the resolver's own error"))),
                    false => Ok(vec![SocketAddr::from(([127, 0, 0, 1], port))]),
                }
            })
        }
    }

    fn counting(fail: bool, cache: bool) -> (Arc<Counting>, ConnectConfig) {
        let r = Arc::new(Counting {
            calls: Default::default(),
            fail,
        });
        let cfg = ConnectConfig {
            resolver: Some(dns::Hook(r.clone() as Arc<dyn dns::Resolve>)),
            use_dns_cache: cache,
            ..ConnectConfig::default()
        };
        (r, cfg)
    }

    fn calls(r: &Counting) -> usize {
        r.calls.load(std::sync::atomic::Ordering::SeqCst)
    }

    #[test]
    fn a_timed_out_attempt_drops_the_first_address_of_each_family() {
        let hop = |v: &[&str]| FirstHop {
            addrs: v.iter().map(|a| a.parse().unwrap()).collect(),
            outcome: dns::DnsOutcome::CacheMiss,
        };
        let addrs = |h: Option<FirstHop>| {
            h.map(|h| h.addrs.iter().map(|a| a.to_string()).collect::<Vec<_>>())
        };
        let all = hop(&[
            "[::1]:1",
            "10.0.0.1:1",
            "[::2]:1",
            "10.0.0.2:1",
            "10.0.0.3:1",
        ]);
        assert_eq!(
            addrs(all.after_timeout(1)),
            Some(vec![
                "[::2]:1".into(),
                "10.0.0.2:1".into(),
                "10.0.0.3:1".into()
            ])
        );
        assert_eq!(addrs(all.after_timeout(2)), Some(vec!["10.0.0.3:1".into()]));
        assert_eq!(addrs(hop(&["10.0.0.1:1"]).after_timeout(1)), None);
        assert_eq!(addrs(hop(&[]).after_timeout(1)), None);
    }

    #[tokio::test]
    async fn concurrent_lookups_of_one_host_share_one() {
        let (r, cfg) = counting(false, true);
        let cache = DnsCache::default();
        let all = futures_join(8, || resolve_cached("one.test", 80, &cfg, &cache)).await;
        assert_eq!(calls(&r), 1);
        let outcomes: Vec<_> = all.into_iter().map(|a| a.unwrap().1).collect();
        let misses = outcomes
            .iter()
            .filter(|o| **o == dns::DnsOutcome::CacheMiss)
            .count();
        assert_eq!(misses, 1, "{outcomes:?}");
        assert_eq!(cache.lookups_in_flight(), 0);
        // Another host is looked up on its own; without the cache, each
        // connection looks up.
        resolve_cached("two.test", 80, &cfg, &cache).await.unwrap();
        assert_eq!(calls(&r), 2);
        let (r, cfg) = counting(false, false);
        futures_join(3, || resolve_cached("one.test", 80, &cfg, &cache)).await;
        assert_eq!(calls(&r), 3);
    }

    #[tokio::test]
    async fn a_failed_shared_lookup_fails_every_waiter_with_its_cause() {
        let (r, cfg) = counting(true, true);
        let cache = DnsCache::default();
        let all = futures_join(4, || resolve_cached("bad.test", 80, &cfg, &cache)).await;
        assert_eq!(calls(&r), 1);
        for e in all.into_iter().map(|a| a.unwrap_err()) {
            assert_eq!(e.kind, ErrorKind::Dns);
            let mut cause = std::error::Error::source(&e);
            let mut found = false;
            while let Some(c) = cause {
                found |= c.to_string() == "the resolver's own error";
                cause = c.source();
            }
            assert!(found, "{e:?}");
        }
        // The failure is not cached: the next connection looks up again.
        assert!(resolve_cached("bad.test", 80, &cfg, &cache).await.is_err());
        assert_eq!(calls(&r), 2);
    }

    #[tokio::test]
    async fn a_waiter_takes_over_a_cancelled_lookup() {
        let (r, cfg) = counting(false, true);
        let cache = DnsCache::default();
        let first = resolve_cached("one.test", 80, &cfg, &cache);
        let second = resolve_cached("one.test", 80, &cfg, &cache);
        let mut first = Box::pin(first);
        let mut second = Box::pin(second);
        // Both start; the first (making the lookup) is then dropped.
        assert!(futures_poll_once(&mut first).await.is_none());
        assert!(futures_poll_once(&mut second).await.is_none());
        drop(first);
        let (addrs, outcome) = tokio::time::timeout(Duration::from_secs(5), second)
            .await
            .expect("bounded")
            .unwrap();
        assert_eq!(addrs.len(), 1);
        assert_eq!(outcome, dns::DnsOutcome::CacheMiss);
        assert_eq!(calls(&r), 2);
        assert_eq!(cache.lookups_in_flight(), 0);
        // A lookup cancelled with no one else waiting leaves nothing behind.
        let mut lone = Box::pin(resolve_cached("lone.test", 80, &cfg, &cache));
        assert!(futures_poll_once(&mut lone).await.is_none());
        assert_eq!(cache.lookups_in_flight(), 1);
        drop(lone);
        assert_eq!(cache.lookups_in_flight(), 0);
    }

    /// `n` futures made by `make`, run together to their ends.
    async fn futures_join<F: std::future::Future>(
        n: usize,
        make: impl Fn() -> F,
    ) -> Vec<F::Output> {
        let mut pending: Vec<Pin<Box<F>>> = (0..n).map(|_| Box::pin(make())).collect();
        let mut out: Vec<Option<F::Output>> = (0..n).map(|_| None).collect();
        std::future::poll_fn(|cx| {
            let mut done = true;
            for (i, f) in pending.iter_mut().enumerate() {
                if out[i].is_none() {
                    match f.as_mut().poll(cx) {
                        Poll::Ready(v) => out[i] = Some(v),
                        Poll::Pending => done = false,
                    }
                }
            }
            if done {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await;
        out.into_iter().map(Option::unwrap).collect()
    }

    /// Poll `f` once: its output if it is ready.
    async fn futures_poll_once<F: std::future::Future + Unpin>(f: &mut F) -> Option<F::Output> {
        let polled = std::future::poll_fn(|cx| Poll::Ready(Pin::new(&mut *f).poll(cx))).await;
        match polled {
            Poll::Ready(v) => Some(v),
            Poll::Pending => None,
        }
    }

    #[tokio::test]
    async fn happy_eyeballs_does_not_wait_for_a_black_hole() {
        // A listener whose accept queue is full drops new SYNs: a connection
        // attempt to it hangs.  The second address (a live listener) must
        // win after the delay.
        let full = TcpSocket::new_v4().unwrap();
        full.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let full = full.listen(0).unwrap();
        let dead = full.local_addr().unwrap();
        let mut held = Vec::new();
        for _ in 0..16 {
            match tokio::time::timeout(Duration::from_millis(200), TcpStream::connect(dead)).await {
                Ok(Ok(s)) => held.push(s),
                _ => break,
            }
        }
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let live = l.local_addr().unwrap();
        let cfg = ConnectConfig {
            happy_eyeballs_delay: Some(Duration::from_millis(50)),
            ..ConnectConfig::default()
        };
        let t = Instant::now();
        let s = tokio::time::timeout(Duration::from_secs(5), connect_any(vec![dead, live], &cfg))
            .await
            .expect("bounded")
            .unwrap();
        assert_eq!(s.peer_addr().unwrap(), live);
        assert!(t.elapsed() < Duration::from_secs(2));
    }

    #[tokio::test]
    async fn sequential_without_delay_and_errors() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let live = l.local_addr().unwrap();
        let closed = {
            let x = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            x.local_addr().unwrap()
        };
        let cfg = ConnectConfig {
            happy_eyeballs_delay: None,
            ..ConnectConfig::default()
        };
        let s = connect_any(vec![closed, live], &cfg).await.unwrap();
        assert_eq!(s.peer_addr().unwrap(), live);
        let e = connect_any(vec![closed], &cfg).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused);
        let he = ConnectConfig::default();
        let e = connect_any(vec![closed, closed], &he).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused);
    }

    #[tokio::test]
    async fn local_addr_is_bound() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let live = l.local_addr().unwrap();
        let cfg = ConnectConfig {
            local_addr: Some("127.0.0.1:0".parse().unwrap()),
            ..ConnectConfig::default()
        };
        let s = connect_any(vec![live], &cfg).await.unwrap();
        assert_eq!(s.local_addr().unwrap().ip(), live.ip());
        let v6 = ConnectConfig {
            local_addr: Some("[::1]:0".parse().unwrap()),
            ..ConnectConfig::default()
        };
        assert!(connect_any(vec![live], &v6).await.is_err());
    }
}
