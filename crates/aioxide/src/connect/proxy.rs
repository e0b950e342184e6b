//! HTTP CONNECT tunnels (RFC 9110 §9.3.6): ask the proxy for a tunnel to
//! the origin, read its answer head (bounded, never past the head), hand
//! any bytes after the head to the next layer.
//!
//! The answer must be `200` (as aiohttp checks it); anything else is
//! [`ErrorKind::ProxyStatus`] with the status, reason and headers in
//! [`Error::proxy_reply`].  A proxy that closes before its head is complete
//! is [`ErrorKind::ServerDisconnected`], a head that is not HTTP or larger
//! than [`MAX_HEAD`] is [`ErrorKind::BadResponse`] (aiohttp's parser errors).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use http::{HeaderMap, HeaderName, HeaderValue};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};

use super::{Io, ProxyAddr, Stream};
use crate::error::{Error, ErrorKind, ProxyReply};

/// The largest answer head read from a proxy.
pub const MAX_HEAD: usize = 64 * 1024;

/// The most header lines an answer head may have.
const MAX_HEADERS: usize = 128;

/// The origin a tunnel leads to.
#[derive(Debug, Clone, Copy)]
pub struct Origin<'a> {
    /// A name or an IP literal (IPv6 with or without brackets).
    pub host: &'a str,
    pub port: u16,
}

impl Origin<'_> {
    /// `host:port`, an IPv6 literal in brackets (CONNECT's request target).
    pub fn authority(&self) -> String {
        let bare = self.host.trim_start_matches('[').trim_end_matches(']');
        if bare.contains(':') {
            format!("[{bare}]:{}", self.port)
        } else {
            format!("{bare}:{}", self.port)
        }
    }
}

/// The CONNECT request head: request line, `Host` (unless `headers` has
/// one), then `headers` in order.  A CR, LF or NUL in the target or a
/// header is refused ([`ErrorKind::InvalidArgument`]): no header injection.
pub fn connect_request(to: Origin<'_>, headers: &[(String, String)]) -> Result<Vec<u8>, Error> {
    let authority = to.authority();
    let bad = |s: &str| s.bytes().any(|b| matches!(b, b'\r' | b'\n' | 0));
    if bad(&authority)
        || headers
            .iter()
            .any(|(k, v)| bad(k) || bad(v) || k.is_empty())
    {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            "proxy headers and host must not contain CR, LF or NUL",
        ));
    }
    let mut out = Vec::with_capacity(64 + headers.len() * 32);
    out.extend_from_slice(format!("CONNECT {authority} HTTP/1.1\r\n").as_bytes());
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        out.extend_from_slice(format!("Host: {authority}\r\n").as_bytes());
    }
    for (k, v) in headers {
        out.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    Ok(out)
}

/// Parse a proxy's answer head: `Ok(None)` while incomplete, the answer
/// and the head's length when complete, the parser's complaint otherwise.
pub fn parse_reply(buf: &[u8]) -> Result<Option<(ProxyReply, usize)>, String> {
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut slots);
    let len = match resp.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(e.to_string()),
    };
    let status = resp.code.unwrap_or(0);
    let reason = match resp.reason {
        Some(r) if !r.is_empty() => r.to_owned(),
        _ => http::StatusCode::from_u16(status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("")
            .to_owned(),
    };
    let mut headers = HeaderMap::with_capacity(resp.headers.len());
    for h in resp.headers.iter() {
        let name = HeaderName::from_bytes(h.name.as_bytes());
        let value = HeaderValue::from_bytes(h.value);
        if let (Ok(n), Ok(v)) = (name, value) {
            headers.append(n, v);
        }
    }
    let reply = ProxyReply {
        status,
        reason,
        headers,
    };
    Ok(Some((reply, len)))
}

/// Read an answer head from `io` in chunks, at most [`MAX_HEAD`] bytes:
/// the answer and the bytes read after its head.
pub async fn read_reply<S: AsyncRead + Unpin>(
    io: &mut S,
    proxy: &ProxyAddr,
) -> Result<(ProxyReply, Bytes), Error> {
    let at = |e: Error| e.with_addr(&proxy.host, proxy.port, false);
    let mut buf: Vec<u8> = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    loop {
        let room = MAX_HEAD.saturating_sub(buf.len()).min(chunk.len());
        if room == 0 {
            let msg = format!("Proxy answer head is larger than {MAX_HEAD} bytes");
            return Err(at(Error::new(ErrorKind::BadResponse, msg)));
        }
        let n = match io.read(&mut chunk[..room]).await {
            Ok(0) => {
                let msg = "Proxy closed the connection before answering CONNECT";
                return Err(at(Error::new(ErrorKind::ServerDisconnected, msg)));
            }
            Ok(n) => n,
            Err(e) => return Err(at(io_error(e))),
        };
        buf.extend_from_slice(&chunk[..n]);
        match parse_reply(&buf) {
            Ok(Some((reply, len))) => return Ok((reply, Bytes::from(buf).slice(len..))),
            Ok(None) => {}
            Err(e) => {
                let msg = format!("Bad answer from proxy to CONNECT: {e}");
                return Err(at(Error::new(ErrorKind::BadResponse, msg)));
            }
        }
    }
}

fn io_error(e: io::Error) -> Error {
    Error::new(ErrorKind::Io, format!("Proxy connection failed: {e}"))
        .with_io(&e)
        .with_source(e)
}

/// Ask the proxy at the other end of `stream` for a tunnel to `to`: the
/// stream then leads to the origin (with the bytes the proxy sent after
/// its answer head, if any, read first).
pub async fn connect_tunnel(
    mut stream: Stream,
    proxy: &ProxyAddr,
    to: Origin<'_>,
    headers: &[(String, String)],
) -> Result<Stream, Error> {
    let head = connect_request(to, headers)?;
    let sent = async {
        stream.write_all(&head).await?;
        stream.flush().await
    };
    sent.await
        .map_err(|e| io_error(e).with_addr(&proxy.host, proxy.port, false))?;
    let (reply, surplus) = read_reply(&mut stream, proxy).await?;
    if reply.status != 200 {
        return Err(Error::proxy_status(reply).with_addr(&proxy.host, proxy.port, false));
    }
    if surplus.is_empty() {
        return Ok(stream);
    }
    Ok(Stream::Layered {
        io: Box::new(Prefixed::new(surplus, stream)),
        h2: false,
    })
}

/// A stream whose first bytes were already read: `prefix` is read first,
/// then `io`.  Writes go straight to `io`.
pub struct Prefixed<S> {
    prefix: Bytes,
    io: S,
}

impl<S> Prefixed<S> {
    pub fn new(prefix: Bytes, io: S) -> Self {
        Prefixed { prefix, io }
    }
}

impl<S: Io> AsyncRead for Prefixed<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.prefix.is_empty() {
            return Pin::new(&mut this.io).poll_read(cx, buf);
        }
        let n = this.prefix.len().min(buf.remaining());
        buf.put_slice(&this.prefix[..n]);
        this.prefix.advance(n);
        Poll::Ready(Ok(()))
    }
}

impl<S: Io> AsyncWrite for Prefixed<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin(host: &str) -> Origin<'_> {
        Origin { host, port: 443 }
    }

    #[test]
    fn request_head() {
        let h = vec![("Proxy-Authorization".to_owned(), "Basic dTpw".to_owned())];
        let got = connect_request(origin("example.com"), &h).unwrap();
        assert_eq!(
            got,
            b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\
              Proxy-Authorization: Basic dTpw\r\n\r\n"
        );
        let v6 = connect_request(origin("::1"), &[]).unwrap();
        assert!(v6.starts_with(b"CONNECT [::1]:443 HTTP/1.1\r\nHost: [::1]:443\r\n"));
        let own = vec![("host".to_owned(), "other:1".to_owned())];
        let got = connect_request(origin("[::1]"), &own).unwrap();
        assert_eq!(got, b"CONNECT [::1]:443 HTTP/1.1\r\nhost: other:1\r\n\r\n");
    }

    #[test]
    fn request_refuses_injection() {
        let evil = vec![("X".to_owned(), "a\r\nEvil: 1".to_owned())];
        let e = connect_request(origin("example.com"), &evil).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidArgument);
        assert!(connect_request(origin("a\nb"), &[]).is_err());
    }

    #[test]
    fn reply_parsing() {
        assert!(parse_reply(b"HTTP/1.1 200 Connection est")
            .unwrap()
            .is_none());
        let (r, n) = parse_reply(b"HTTP/1.1 200 OK\r\n\r\nrest")
            .unwrap()
            .unwrap();
        assert_eq!((r.status, r.reason.as_str(), n), (200, "OK", 19));
        let head = b"HTTP/1.0 407 \r\nProxy-Authenticate: Basic realm=\"x\"\r\n\r\n";
        let (r, _) = parse_reply(head).unwrap().unwrap();
        assert_eq!(r.status, 407);
        assert_eq!(r.reason, "Proxy Authentication Required");
        assert_eq!(r.headers["proxy-authenticate"], "Basic realm=\"x\"");
        assert!(parse_reply(b"SSH-2.0-OpenSSH\r\n\r\n").is_err());
    }

    #[tokio::test]
    async fn reply_keeps_the_surplus_and_is_bounded() {
        let proxy = ProxyAddr {
            host: "p".into(),
            port: 1,
        };
        let mut io: &[u8] = b"HTTP/1.1 200 OK\r\n\r\nhello";
        let (r, rest) = read_reply(&mut io, &proxy).await.unwrap();
        assert_eq!((r.status, &rest[..]), (200, &b"hello"[..]));

        let big = [b"HTTP/1.1 200 OK\r\nX: ".as_slice(), &[b'a'; MAX_HEAD]].concat();
        let e = read_reply(&mut big.as_slice(), &proxy).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::BadResponse);
        let e = read_reply(&mut &b"HTTP/1.1 20"[..], &proxy)
            .await
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::ServerDisconnected);
        assert_eq!(e.host.as_deref(), Some("p"));
    }

    #[tokio::test]
    async fn prefixed_reads_its_prefix_first() {
        let (a, mut b) = tokio::io::duplex(64);
        let mut p = Prefixed::new(Bytes::from_static(b"abc"), a);
        b.write_all(b"def").await.unwrap();
        drop(b);
        let mut all = Vec::new();
        p.read_to_end(&mut all).await.unwrap();
        assert_eq!(all, b"abcdef");
    }
}
