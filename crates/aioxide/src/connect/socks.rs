//! SOCKS tunnels: SOCKS4 and SOCKS4a (with a user id), SOCKS5 (RFC 1928)
//! with RFC 1929 username/password, the origin's name resolved by the
//! client (SOCKS4, SOCKS5) or by the proxy (SOCKS4a, SOCKS5h).
//!
//! Every reply has a known length and is read with exact reads of at most
//! 262 bytes: nothing is read past it, a short or malformed reply is an
//! error, never a hang beyond the caller's connect deadline.  Every failure
//! is [`ErrorKind::ProxyConnect`] (aiohttp's `ClientProxyConnectionError`)
//! naming the reply code and its meaning; a refusal that stands for an OS
//! error (connection refused, host unreachable...) carries its errno.
//!
//! The encoders and decoders are small pure functions, tested below.

use std::io;
use std::net::{IpAddr, Ipv4Addr};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::dns::{ConnectConfig, DnsCache};
use super::proxy::Origin;
use super::{ProxyAddr, SocksVersion, Stream};
use crate::error::{Error, ErrorKind};

/// A SOCKS proxy and how to talk to it.
#[derive(Debug, Clone, Copy)]
pub struct Socks<'a> {
    pub proxy: &'a ProxyAddr,
    pub version: SocksVersion,
    /// Username and password (SOCKS4: the username is the user id).
    pub auth: Option<&'a (String, String)>,
}

/// Where the proxy is asked to connect: an address, or a name it resolves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dest {
    Ip(IpAddr),
    Name(String),
}

/// Why a SOCKS exchange failed: the message, and the OS error it stands
/// for, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub message: String,
    pub errno: Option<i32>,
}

impl Refusal {
    fn new(message: impl Into<String>) -> Self {
        Refusal {
            message: message.into(),
            errno: None,
        }
    }

    fn io(e: &io::Error) -> Self {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            return Refusal::new("SOCKS proxy closed the connection during the handshake");
        }
        Refusal {
            message: format!("SOCKS proxy connection failed: {e}"),
            errno: e.raw_os_error(),
        }
    }

    fn into_error(self, proxy: &ProxyAddr) -> Error {
        let mut e = Error::new(ErrorKind::ProxyConnect, self.message).with_addr(
            &proxy.host,
            proxy.port,
            false,
        );
        e.errno = self.errno;
        e
    }
}

/// Run the SOCKS exchange over `stream` (connected to the proxy): the
/// stream then leads to `to`.
pub async fn tunnel(
    mut stream: Stream,
    how: &Socks<'_>,
    to: Origin<'_>,
    cfg: &ConnectConfig,
    cache: &DnsCache,
) -> Result<Stream, Error> {
    let dest = destination(how, to, cfg, cache).await?;
    let done = match how.version {
        SocksVersion::Socks4 | SocksVersion::Socks4a => {
            let user = how.auth.map_or("", |(u, _)| u.as_str());
            socks4(&mut stream, &dest, to.port, user).await
        }
        SocksVersion::Socks5 | SocksVersion::Socks5h => {
            socks5(&mut stream, &dest, to.port, how.auth).await
        }
    };
    done.map_err(|r| r.into_error(how.proxy))?;
    Ok(stream)
}

/// What to ask the proxy for: an IP literal as it is; a name resolved here
/// for SOCKS4 (the first IPv4 address) and SOCKS5 (the first address, in
/// the connector's family), sent as is for SOCKS4a and SOCKS5h.
async fn destination(
    how: &Socks<'_>,
    to: Origin<'_>,
    cfg: &ConnectConfig,
    cache: &DnsCache,
) -> Result<Dest, Error> {
    let version = how.version;
    let bare = to.host.trim_start_matches('[').trim_end_matches(']');
    let remote = matches!(version, SocksVersion::Socks4a | SocksVersion::Socks5h);
    let dest = match bare.parse::<IpAddr>() {
        Ok(ip) => Dest::Ip(ip),
        Err(_) if remote => Dest::Name(bare.to_owned()),
        Err(_) => {
            let (addrs, _) = super::resolve_cached(to.host, to.port, cfg, cache).await?;
            let v4_only = version == SocksVersion::Socks4;
            let first = addrs.iter().find(|a| a.is_ipv4() || !v4_only);
            match first {
                Some(a) => Dest::Ip(a.ip()),
                None => {
                    let msg = format!("SOCKS4 needs an IPv4 address; {bare} has none");
                    return Err(Refusal::new(msg).into_error(how.proxy));
                }
            }
        }
    };
    Ok(dest)
}

async fn send<S: AsyncWrite + Unpin>(io: &mut S, bytes: &[u8]) -> Result<(), Refusal> {
    io.write_all(bytes).await.map_err(|e| Refusal::io(&e))?;
    io.flush().await.map_err(|e| Refusal::io(&e))
}

async fn recv<S: AsyncRead + Unpin, const N: usize>(io: &mut S) -> Result<[u8; N], Refusal> {
    let mut buf = [0u8; N];
    io.read_exact(&mut buf).await.map_err(|e| Refusal::io(&e))?;
    Ok(buf)
}

// -- SOCKS4 / SOCKS4a ---------------------------------------------------------

/// The SOCKS4 CONNECT request; a name makes it SOCKS4a (address 0.0.0.1,
/// the name after the user id).
pub fn socks4_request(dest: &Dest, port: u16, user: &str) -> Result<Vec<u8>, Refusal> {
    let (ip, name) = match dest {
        Dest::Ip(IpAddr::V4(ip)) => (*ip, None),
        Dest::Ip(IpAddr::V6(_)) => return Err(Refusal::new("SOCKS4 cannot reach an IPv6 address")),
        Dest::Name(n) => (Ipv4Addr::new(0, 0, 0, 1), Some(n.as_str())),
    };
    if user.contains('\0') || name.is_some_and(|n| n.contains('\0') || n.is_empty()) {
        return Err(Refusal::new("SOCKS4 user id and host must not contain NUL"));
    }
    let mut out = vec![4, 1];
    out.extend_from_slice(&port.to_be_bytes());
    out.extend_from_slice(&ip.octets());
    out.extend_from_slice(user.as_bytes());
    out.push(0);
    if let Some(n) = name {
        out.extend_from_slice(n.as_bytes());
        out.push(0);
    }
    Ok(out)
}

/// The meaning of a SOCKS4 reply code.
pub fn socks4_meaning(code: u8) -> &'static str {
    match code {
        0x5a => "request granted",
        0x5b => "request rejected or failed",
        0x5c => "request rejected: the proxy cannot reach the client's identd",
        0x5d => "request rejected: identd reports a different user id",
        _ => "unknown reply code",
    }
}

/// Check the 8-byte SOCKS4 reply (version 0; 4 accepted too, as some
/// proxies send it).
pub fn socks4_reply(reply: &[u8; 8]) -> Result<(), Refusal> {
    if reply[0] != 0 && reply[0] != 4 {
        let msg = format!(
            "SOCKS4 proxy sent a malformed reply: version 0x{:02x}",
            reply[0]
        );
        return Err(Refusal::new(msg));
    }
    match reply[1] {
        0x5a => Ok(()),
        code => Err(Refusal {
            message: format!(
                "SOCKS4 proxy refused: 0x{code:02x} {}",
                socks4_meaning(code)
            ),
            errno: (code == 0x5b).then_some(libc::ECONNREFUSED),
        }),
    }
}

async fn socks4<S: AsyncRead + AsyncWrite + Unpin>(
    io: &mut S,
    dest: &Dest,
    port: u16,
    user: &str,
) -> Result<(), Refusal> {
    send(io, &socks4_request(dest, port, user)?).await?;
    socks4_reply(&recv::<_, 8>(io).await?)
}

// -- SOCKS5 -------------------------------------------------------------------

/// No authentication (RFC 1928 method 0x00).
const NO_AUTH: u8 = 0x00;
/// Username/password (RFC 1929, method 0x02).
const USER_PASS: u8 = 0x02;

/// The greeting: the methods offered (username/password too when given).
pub fn socks5_greeting(with_auth: bool) -> Vec<u8> {
    if with_auth {
        vec![5, 2, NO_AUTH, USER_PASS]
    } else {
        vec![5, 1, NO_AUTH]
    }
}

/// The method the proxy chose: `true` when it wants username/password.
pub fn socks5_method(reply: &[u8; 2], offered_auth: bool) -> Result<bool, Refusal> {
    match *reply {
        [5, NO_AUTH] => Ok(false),
        [5, USER_PASS] if offered_auth => Ok(true),
        [5, 0xff] => Err(Refusal::new(
            "SOCKS5 proxy refused: 0xff no acceptable authentication method",
        )),
        [5, m] => Err(Refusal::new(format!(
            "SOCKS5 proxy chose an authentication method not offered: 0x{m:02x}"
        ))),
        [v, _] => Err(Refusal::new(format!(
            "SOCKS5 proxy sent a malformed reply: version 0x{v:02x}"
        ))),
    }
}

/// The RFC 1929 request: each of username and password 1 to 255 bytes.
pub fn socks5_auth_request(user: &str, password: &str) -> Result<Vec<u8>, Refusal> {
    let (u, p) = (user.as_bytes(), password.as_bytes());
    let fits = |b: &[u8]| (1..=255).contains(&b.len());
    if !fits(u) || !fits(p) {
        return Err(Refusal::new(
            "SOCKS5 username and password must be 1 to 255 bytes each",
        ));
    }
    let mut out = Vec::with_capacity(3 + u.len() + p.len());
    out.extend_from_slice(&[1, u.len() as u8]);
    out.extend_from_slice(u);
    out.push(p.len() as u8);
    out.extend_from_slice(p);
    Ok(out)
}

/// Check the RFC 1929 reply: status 0 is success.
pub fn socks5_auth_reply(reply: &[u8; 2]) -> Result<(), Refusal> {
    match *reply {
        [1, 0] => Ok(()),
        [1, s] => Err(Refusal::new(format!(
            "SOCKS5 proxy refused the username and password: status 0x{s:02x}"
        ))),
        [v, _] => Err(Refusal::new(format!(
            "SOCKS5 proxy sent a malformed authentication reply: version 0x{v:02x}"
        ))),
    }
}

/// The CONNECT request for `dest`: IPv4, IPv6 or a name (1 to 255 bytes).
pub fn socks5_request(dest: &Dest, port: u16) -> Result<Vec<u8>, Refusal> {
    let mut out = vec![5, 1, 0];
    match dest {
        Dest::Ip(IpAddr::V4(ip)) => {
            out.push(1);
            out.extend_from_slice(&ip.octets());
        }
        Dest::Ip(IpAddr::V6(ip)) => {
            out.push(4);
            out.extend_from_slice(&ip.octets());
        }
        Dest::Name(n) => {
            let len = u8::try_from(n.len())
                .ok()
                .filter(|l| *l > 0)
                .ok_or_else(|| Refusal::new("SOCKS5 host name must be 1 to 255 bytes"))?;
            out.push(3);
            out.push(len);
            out.extend_from_slice(n.as_bytes());
        }
    }
    out.extend_from_slice(&port.to_be_bytes());
    Ok(out)
}

/// The meaning of a SOCKS5 reply code (RFC 1928 §6), and the OS error it
/// stands for.
pub fn socks5_meaning(code: u8) -> (&'static str, Option<i32>) {
    match code {
        0x00 => ("succeeded", None),
        0x01 => ("general SOCKS server failure", None),
        0x02 => ("connection not allowed by ruleset", None),
        0x03 => ("network unreachable", Some(libc::ENETUNREACH)),
        0x04 => ("host unreachable", Some(libc::EHOSTUNREACH)),
        0x05 => ("connection refused", Some(libc::ECONNREFUSED)),
        0x06 => ("TTL expired", Some(libc::ETIMEDOUT)),
        0x07 => ("command not supported", None),
        0x08 => ("address type not supported", None),
        _ => ("unknown reply code", None),
    }
}

/// Check the first 4 bytes of the CONNECT reply: how many bytes of bound
/// address and port follow (`None`: a name, whose length byte comes next).
pub fn socks5_reply_head(head: &[u8; 4]) -> Result<Option<usize>, Refusal> {
    let [ver, rep, _rsv, atyp] = *head;
    if ver != 5 {
        return Err(Refusal::new(format!(
            "SOCKS5 proxy sent a malformed reply: version 0x{ver:02x}"
        )));
    }
    if rep != 0 {
        let (meaning, errno) = socks5_meaning(rep);
        return Err(Refusal {
            message: format!("SOCKS5 proxy refused: 0x{rep:02x} {meaning}"),
            errno,
        });
    }
    match atyp {
        1 => Ok(Some(4 + 2)),
        4 => Ok(Some(16 + 2)),
        3 => Ok(None),
        t => Err(Refusal::new(format!(
            "SOCKS5 proxy sent a malformed reply: address type 0x{t:02x}"
        ))),
    }
}

async fn socks5<S: AsyncRead + AsyncWrite + Unpin>(
    io: &mut S,
    dest: &Dest,
    port: u16,
    auth: Option<&(String, String)>,
) -> Result<(), Refusal> {
    send(io, &socks5_greeting(auth.is_some())).await?;
    if socks5_method(&recv::<_, 2>(io).await?, auth.is_some())? {
        let (user, password) = auth.map_or(("", ""), |(u, p)| (u.as_str(), p.as_str()));
        send(io, &socks5_auth_request(user, password)?).await?;
        socks5_auth_reply(&recv::<_, 2>(io).await?)?;
    }
    send(io, &socks5_request(dest, port)?).await?;
    let rest = match socks5_reply_head(&recv::<_, 4>(io).await?)? {
        Some(n) => n,
        None => usize::from(recv::<_, 1>(io).await?[0]) + 2,
    };
    // The bound address and port: read (at most 257 bytes) and ignored.
    let mut bound = [0u8; 257];
    io.read_exact(&mut bound[..rest])
        .await
        .map_err(|e| Refusal::io(&e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socks4_requests() {
        let ip = Dest::Ip("10.1.2.3".parse().unwrap());
        assert_eq!(
            socks4_request(&ip, 80, "bob").unwrap(),
            [4, 1, 0, 80, 10, 1, 2, 3, b'b', b'o', b'b', 0]
        );
        let name = Dest::Name("ex.org".into());
        let mut want = vec![4, 1, 1, 187, 0, 0, 0, 1, 0];
        want.extend_from_slice(b"ex.org\0");
        assert_eq!(socks4_request(&name, 443, "").unwrap(), want);
        assert!(socks4_request(&Dest::Ip("::1".parse().unwrap()), 1, "").is_err());
        assert!(socks4_request(&ip, 1, "a\0b").is_err());
    }

    #[test]
    fn socks4_replies() {
        assert!(socks4_reply(&[0, 0x5a, 0, 0, 0, 0, 0, 0]).is_ok());
        let r = socks4_reply(&[0, 0x5b, 0, 0, 0, 0, 0, 0]).unwrap_err();
        assert_eq!(
            r.message,
            "SOCKS4 proxy refused: 0x5b request rejected or failed"
        );
        assert_eq!(r.errno, Some(libc::ECONNREFUSED));
        assert!(socks4_reply(&[0, 0x5d, 0, 0, 0, 0, 0, 0])
            .unwrap_err()
            .message
            .contains("different user id"));
        assert!(socks4_reply(&[b'H', b'T', b'T', b'P', 0, 0, 0, 0])
            .unwrap_err()
            .message
            .contains("malformed"));
    }

    #[test]
    fn socks5_greeting_and_auth() {
        assert_eq!(socks5_greeting(false), [5, 1, 0]);
        assert_eq!(socks5_greeting(true), [5, 2, 0, 2]);
        assert_eq!(socks5_method(&[5, 0], true), Ok(false));
        assert_eq!(socks5_method(&[5, 2], true), Ok(true));
        assert!(socks5_method(&[5, 2], false).is_err());
        assert!(socks5_method(&[5, 0xff], false)
            .unwrap_err()
            .message
            .contains("no acceptable"));
        assert!(socks5_method(&[4, 0], false).is_err());
        assert_eq!(
            socks5_auth_request("u", "pw").unwrap(),
            [1, 1, b'u', 2, b'p', b'w']
        );
        assert!(socks5_auth_request("", "pw").is_err());
        assert!(socks5_auth_request("u", &"x".repeat(256)).is_err());
        assert!(socks5_auth_reply(&[1, 0]).is_ok());
        assert!(socks5_auth_reply(&[1, 1]).is_err());
        assert!(socks5_auth_reply(&[5, 0]).is_err());
    }

    #[test]
    fn socks5_requests() {
        let v4 = Dest::Ip("1.2.3.4".parse().unwrap());
        assert_eq!(
            socks5_request(&v4, 80).unwrap(),
            [5, 1, 0, 1, 1, 2, 3, 4, 0, 80]
        );
        let v6 = socks5_request(&Dest::Ip("::1".parse().unwrap()), 443).unwrap();
        assert_eq!((v6[3], v6.len(), v6[19]), (4, 22, 1));
        let name = socks5_request(&Dest::Name("ab".into()), 1).unwrap();
        assert_eq!(name, [5, 1, 0, 3, 2, b'a', b'b', 0, 1]);
        assert!(socks5_request(&Dest::Name("x".repeat(256)), 1).is_err());
        assert!(socks5_request(&Dest::Name(String::new()), 1).is_err());
    }

    #[test]
    fn socks5_replies() {
        assert_eq!(socks5_reply_head(&[5, 0, 0, 1]), Ok(Some(6)));
        assert_eq!(socks5_reply_head(&[5, 0, 0, 4]), Ok(Some(18)));
        assert_eq!(socks5_reply_head(&[5, 0, 0, 3]), Ok(None));
        let r = socks5_reply_head(&[5, 5, 0, 1]).unwrap_err();
        assert_eq!(r.message, "SOCKS5 proxy refused: 0x05 connection refused");
        assert_eq!(r.errno, Some(libc::ECONNREFUSED));
        assert!(socks5_reply_head(&[5, 0x2a, 0, 1])
            .unwrap_err()
            .message
            .contains("0x2a unknown"));
        assert!(socks5_reply_head(&[5, 0, 0, 9]).is_err());
        assert!(socks5_reply_head(&[0, 0x5a, 0, 0]).is_err());
    }

    #[tokio::test]
    async fn short_reply_is_an_error_not_a_hang() {
        let mut io = tokio_test_io(b"\x05");
        let e = socks5(&mut io, &Dest::Name("a".into()), 1, None)
            .await
            .unwrap_err();
        assert!(e.message.contains("closed"), "{}", e.message);
    }

    /// A duplex stream whose far end has sent `bytes` and then closed.
    fn tokio_test_io(bytes: &'static [u8]) -> tokio::io::DuplexStream {
        let (a, mut b) = tokio::io::duplex(1024);
        tokio::spawn(async move {
            let _ = b.write_all(bytes).await;
            let _ = b.shutdown().await;
            let mut sink = Vec::new();
            let _ = b.read_to_end(&mut sink).await;
        });
        a
    }
}
