//! TLS over a TCP socket, driven by rustls' own state machine: one type for
//! a socket in tokio's reactor ([`Reactor`], `Stream::Tls`) and for one out
//! of it (`std::net::TcpStream`, `direct::Direct::Tls`), so that a TLS
//! connection can leave the reactor while the loop's thread drives a request
//! and go back when the engine polls it again (the connection and rustls'
//! session move, nothing is rebuilt).  The handshake is tokio-rustls'
//! (`tls::handshake`), whose stream is taken apart after it.

use std::io::{self, BufRead as _, Write as _};
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// A TCP socket in tokio's reactor, read and written as a non-blocking
/// `std::io` socket (`WouldBlock` clears its readiness, as tokio's `try_*`).
pub struct Reactor(pub tokio::net::TcpStream);

impl io::Read for Reactor {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.try_read(buf)
    }
}

impl io::Write for Reactor {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.try_write(buf)
    }

    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        self.0.try_write_vectored(bufs)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A client TLS session over the socket `S`.
pub struct TlsConn<S> {
    pub sock: S,
    pub conn: rustls::ClientConnection,
    /// Bytes read from the socket that rustls has not taken yet.
    ahead: Ahead,
}

/// What one `recv` brought beyond the room rustls gives a read (one
/// record's): rustls then takes it from here, without a system call.  The
/// buffer is held only while it holds something: a drained one goes back to
/// its thread's spares ([`SPARES`]), so an idle connection holds none.
#[derive(Default)]
struct Ahead {
    buf: Option<Box<[u8]>>,
    at: usize,
    end: usize,
}

/// How much one `recv` asks for.
const AHEAD: usize = 64 << 10;

/// Drained [`Ahead`] buffers kept per thread, for the next read.
const SPARES: usize = 2;

thread_local! {
    static SPARE: std::cell::RefCell<Vec<Box<[u8]>>> = const { std::cell::RefCell::new(Vec::new()) };
}

impl Ahead {
    fn take_buf() -> Box<[u8]> {
        SPARE
            .with_borrow_mut(Vec::pop)
            .unwrap_or_else(|| vec![0; AHEAD].into_boxed_slice())
    }

    /// Give the buffer back to the thread's spares when it is drained.
    fn release_if_drained(&mut self) {
        if self.at == self.end {
            if let Some(b) = self.buf.take() {
                SPARE.with_borrow_mut(|s| {
                    if s.len() < SPARES {
                        s.push(b);
                    }
                });
            }
        }
    }
}

/// The socket as rustls reads it: through [`Ahead`].
struct ReadAhead<'a, S> {
    sock: &'a mut S,
    ahead: &'a mut Ahead,
}

impl<S: io::Read> io::Read for ReadAhead<'_, S> {
    fn read(&mut self, dst: &mut [u8]) -> io::Result<usize> {
        let a = &mut *self.ahead;
        if a.at == a.end {
            let buf = a.buf.get_or_insert_with(Ahead::take_buf);
            match self.sock.read(buf) {
                Ok(got) => (a.at, a.end) = (0, got),
                Err(e) => {
                    a.release_if_drained();
                    return Err(e);
                }
            }
        }
        let n = dst.len().min(a.end - a.at);
        if let Some(buf) = &a.buf {
            dst[..n].copy_from_slice(&buf[a.at..a.at + n]);
        }
        a.at += n;
        a.release_if_drained();
        Ok(n)
    }
}

impl<S> TlsConn<S> {
    /// A session over `sock`, after its handshake.
    pub fn new(sock: S, conn: rustls::ClientConnection) -> Self {
        TlsConn {
            sock,
            conn,
            ahead: Ahead::default(),
        }
    }

    /// The same session (and what it read ahead) over `f(sock)`.
    pub fn map_sock<T, E>(self, f: impl FnOnce(S) -> Result<T, E>) -> Result<TlsConn<T>, E> {
        Ok(TlsConn {
            sock: f(self.sock)?,
            conn: self.conn,
            ahead: self.ahead,
        })
    }
}

impl<S: io::Read + io::Write> TlsConn<S> {
    /// Plaintext into `buf`: what rustls holds, else records read from the
    /// socket (`WouldBlock` when none are there).  Nothing put in `buf` is
    /// the peer's close_notify; an EOF without it is `UnexpectedEof`, as
    /// tokio-rustls.  (The plaintext is copied once, from rustls' buffer:
    /// `buf`'s unfilled part is never zeroed first.)
    pub fn read_buf(&mut self, buf: &mut ReadBuf<'_>) -> io::Result<()> {
        loop {
            match self.conn.reader().into_first_chunk() {
                Ok(chunk) => {
                    let n = chunk.len().min(buf.remaining());
                    buf.put_slice(&chunk[..n]);
                    self.conn.reader().consume(n);
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
            self.conn.read_tls(&mut ReadAhead {
                sock: &mut self.sock,
                ahead: &mut self.ahead,
            })?;
            let processed = self.conn.process_new_packets();
            // Alerts and key-update answers go out as soon as they exist, as
            // far as the socket takes them.  A write error is the next
            // write's to report, never this read's: a server that answers an
            // upload early and resets the connection has its answer read.
            let _ = self.flush_tls();
            processed.map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        }
    }

    /// Plaintext in (as much as rustls buffers), records out as far as the
    /// socket takes them; `WouldBlock` when rustls' buffer is full and the
    /// socket takes nothing.
    pub fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.write_vectored(&[io::IoSlice::new(data)])
    }

    /// [`TlsConn::write`] of several buffers, as one.
    pub fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        not_blocked(self.flush_tls())?;
        let n = self.conn.writer().write_vectored(bufs)?;
        if n == 0 && bufs.iter().any(|b| !b.is_empty()) {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        not_blocked(self.flush_tls())?;
        Ok(n)
    }

    /// Every pending record onto the socket, or `WouldBlock`.
    pub fn flush_tls(&mut self) -> io::Result<()> {
        while self.conn.wants_write() {
            if self.conn.write_tls(&mut self.sock)? == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
        }
        Ok(())
    }

    /// close_notify, flushed (the socket's own shutdown is the caller's).
    pub fn close_notify(&mut self) -> io::Result<()> {
        self.conn.send_close_notify();
        self.flush_tls()
    }
}

/// `WouldBlock` as success (what is left waits for the next call).
pub(crate) fn not_blocked(r: io::Result<()>) -> io::Result<()> {
    match r {
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(()),
        r => r,
    }
}

impl TlsConn<Reactor> {
    /// Run `op` until it does not block, waiting for the socket's readiness
    /// (`read` or write) between tries.
    fn poll_io<T>(
        &mut self,
        cx: &mut Context<'_>,
        read: bool,
        mut op: impl FnMut(&mut Self) -> io::Result<T>,
    ) -> Poll<io::Result<T>> {
        loop {
            match op(self) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if read {
                        ready!(self.sock.0.poll_read_ready(cx))?;
                    } else {
                        ready!(self.sock.0.poll_write_ready(cx))?;
                    }
                }
                r => return Poll::Ready(r),
            }
        }
    }
}

impl AsyncRead for TlsConn<Reactor> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.get_mut().poll_io(cx, true, |t| t.read_buf(buf))
    }
}

impl AsyncWrite for TlsConn<Reactor> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().poll_io(cx, false, |t| t.write(buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.get_mut()
            .poll_io(cx, false, |t| t.write_vectored(bufs))
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_io(cx, false, TlsConn::flush_tls)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_io(cx, false, TlsConn::close_notify))?;
        match shutdown_write(&this.sock.0) {
            Err(e) if e.kind() == io::ErrorKind::NotConnected => Poll::Ready(Ok(())),
            r => Poll::Ready(r),
        }
    }
}

/// shutdown(2) of the write side of a socket in the reactor.
fn shutdown_write(s: &tokio::net::TcpStream) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: shutdown(2) on the socket's own descriptor, which `s` keeps
    // open for the call.
    if unsafe { libc::shutdown(s.as_raw_fd(), libc::SHUT_WR) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read as _, Write as _};
    use std::os::fd::AsRawFd;
    use std::sync::{mpsc, Arc};
    use std::task::Waker;

    use super::*;
    use crate::connect::direct::{self, Direct};
    use crate::connect::tls::{self, TlsMode};
    use crate::connect::{Alpn, Stream};

    type Server = rustls::StreamOwned<rustls::ServerConnection, std::net::TcpStream>;

    /// A TLS server on loopback (a thread, blocking rustls) running `serve`
    /// on its one connection; the client's end, handshaken by `tls::handshake`.
    fn tls_pair(
        serve: impl FnOnce(&mut Server) + Send + 'static,
    ) -> (tokio::runtime::Runtime, Stream, std::thread::JoinHandle<()>) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("cert");
        let key = rustls::pki_types::PrivateKeyDer::Pkcs8(
            rustls::pki_types::PrivatePkcs8KeyDer::from(ck.signing_key.serialize_der()),
        );
        let cert = rustls::pki_types::CertificateDer::from(ck.cert.der().to_vec());
        let cfg = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .expect("server config");
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        // A small receive buffer (the accepted socket inherits it): a
        // client's writes the server does not read soon wait for room.
        let small: libc::c_int = 64 << 10;
        // SAFETY: setsockopt(2) on the listener's own descriptor, with a
        // pointer to a c_int and its size.
        let set = unsafe {
            libc::setsockopt(
                listener.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVBUF,
                std::ptr::from_ref(&small).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        assert_eq!(set, 0, "SO_RCVBUF");
        let port = listener.local_addr().expect("addr").port();
        let server = std::thread::spawn(move || {
            let (tcp, _) = listener.accept().expect("accept");
            let conn = rustls::ServerConnection::new(Arc::new(cfg)).expect("session");
            let mut s = rustls::StreamOwned::new(conn, tcp);
            while s.conn.is_handshaking() {
                s.conn.complete_io(&mut s.sock).expect("server handshake");
            }
            serve(&mut s);
        });
        let peer = tls::Peer {
            host: "127.0.0.1",
            port,
            server_name: "localhost",
            alpn: Alpn::Http1,
        };
        let client = rt.block_on(async {
            let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .expect("connect");
            tls::handshake(Stream::Tcp(tcp), &peer, &TlsMode::NoVerify)
                .await
                .expect("handshake")
        });
        (rt, client, server)
    }

    /// One poll for up to `max` bytes.
    fn read_with(s: &mut Stream, waker: &Waker, max: usize) -> Poll<io::Result<Vec<u8>>> {
        let mut cx = Context::from_waker(waker);
        let mut space = vec![0u8; max];
        let mut buf = ReadBuf::new(&mut space);
        Pin::new(s)
            .poll_read(&mut cx, &mut buf)
            .map_ok(|()| buf.filled().to_vec())
    }

    /// Poll (driven) until the socket has something: bounded.
    fn read_driven(s: &mut Stream) -> io::Result<Vec<u8>> {
        for _ in 0..500 {
            let _d = direct::driving();
            if let Poll::Ready(r) = read_with(s, Waker::noop(), 64) {
                return r;
            }
            drop(_d);
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        panic!("nothing came in 5 s");
    }

    #[test]
    fn a_tls_stream_leaves_the_reactor_and_comes_back_with_its_session() {
        let (go_tx, go_rx) = mpsc::channel::<()>();
        let (rt, mut s, server) = tls_pair(move |s| {
            let mut ping = [0u8; 4];
            s.read_exact(&mut ping).expect("ping");
            assert_eq!(&ping, b"ping");
            // One record: the client takes "pong" and rustls keeps "more".
            s.write_all(b"pongmore").expect("write");
            go_rx.recv().expect("go");
            s.write_all(b"last").expect("write");
            let mut bye = [0u8; 3];
            s.read_exact(&mut bye).expect("bye");
            assert_eq!(&bye, b"bye");
            s.conn.send_close_notify();
            s.flush().expect("close_notify");
        });
        assert!(matches!(s, Stream::Tls(_)));
        let fd = match &s {
            Stream::Tls(t) => t.sock.0.as_raw_fd(),
            _ => unreachable!(),
        };
        rt.block_on(async {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            s.write_all(b"ping").await.expect("ping");
            let mut pong = [0u8; 4];
            s.read_exact(&mut pong).await.expect("pong");
            assert_eq!(&pong, b"pong");
        });
        let _rt = rt.enter();
        {
            let _d = direct::driving();
            // What rustls holds comes first, out of the reactor...
            match read_with(&mut s, Waker::noop(), 64) {
                Poll::Ready(Ok(got)) => assert_eq!(got, b"more"),
                other => panic!("expected what rustls kept, got {other:?}"),
            }
            assert!(matches!(s, Stream::Direct(Direct::Tls(_))));
            // ...then a read that would block is the driver's to watch.
            assert!(read_with(&mut s, Waker::noop(), 64).is_pending());
            let want = direct::take_want();
            assert_eq!((want.fd, want.read, want.write), (fd, true, false));
        }
        go_tx.send(()).expect("go");
        assert_eq!(read_driven(&mut s).expect("read"), b"last");
        // The engine's poll puts it back in the reactor, session and all.
        assert!(read_with(&mut s, Waker::noop(), 64).is_pending());
        assert!(matches!(s, Stream::Tls(_)));
        drop(_rt);
        rt.block_on(async {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            s.write_all(b"bye").await.expect("bye");
            s.flush().await.expect("flush");
            let mut rest = Vec::new();
            // close_notify: an empty read, not an error.
            s.read_to_end(&mut rest)
                .await
                .expect("close_notify ends it");
            assert!(rest.is_empty());
        });
        server.join().expect("server");
    }

    /// Bytes queued in the socket `fd` (FIONREAD).
    fn queued(fd: std::os::fd::RawFd) -> usize {
        let mut n: libc::c_int = 0;
        // SAFETY: ioctl(2) FIONREAD on a socket the caller keeps open,
        // writing one int.
        let r = unsafe { libc::ioctl(fd, libc::FIONREAD, &mut n) };
        assert_eq!(r, 0, "FIONREAD");
        usize::try_from(n).expect("a count")
    }

    #[test]
    fn one_recv_takes_many_records_and_they_go_with_the_session() {
        const RECORDS: usize = 24;
        let record = |i: usize| vec![b'a' + u8::try_from(i).expect("small"); 1000];
        let (sent_tx, sent_rx) = mpsc::channel::<()>();
        let (go_tx, go_rx) = mpsc::channel::<()>();
        let (rt, mut s, server) = tls_pair(move |s| {
            for i in 0..RECORDS {
                s.write_all(&record(i)).expect("write");
            }
            s.flush().expect("flush");
            sent_tx.send(()).expect("sent");
            go_rx.recv().expect("go");
            s.conn.send_close_notify();
            s.flush().expect("close_notify");
        });
        sent_rx.recv().expect("sent");
        let fd = match &s {
            Stream::Tls(t) => t.sock.0.as_raw_fd(),
            _ => unreachable!(),
        };
        // Every record is in the client's socket before it reads (bounded).
        for _ in 0..5000 {
            if queued(fd) >= RECORDS * 1000 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        assert!(queued(fd) >= RECORDS * 1000, "the records did not come");
        let first = rt.block_on(async {
            use tokio::io::AsyncReadExt;
            let mut first = vec![0u8; 1000];
            s.read_exact(&mut first).await.expect("first record");
            first
        });
        assert_eq!(first, record(0));
        // One recv took them all (rustls alone reads 4 KiB at a time).
        assert_eq!(queued(fd), 0, "records left in the socket");
        // The socket leaves the reactor empty: the records read ahead go
        // with the session and are read out of it.
        let _rt = rt.enter();
        let mut rest = Vec::new();
        {
            let _d = direct::driving();
            while rest.len() < (RECORDS - 1) * 1000 {
                match read_with(&mut s, Waker::noop(), 4096) {
                    Poll::Ready(Ok(got)) => rest.extend_from_slice(&got),
                    other => panic!("after {} bytes: {other:?}", rest.len()),
                }
            }
            assert!(matches!(s, Stream::Direct(Direct::Tls(_))));
        }
        let want: Vec<u8> = (1..RECORDS).flat_map(record).collect();
        assert!(rest == want, "the records read ahead differ");
        // Drained, the connection holds no read-ahead buffer.
        match &s {
            Stream::Direct(Direct::Tls(t)) => assert!(t.ahead.buf.is_none(), "a buffer kept"),
            _ => unreachable!(),
        }
        go_tx.send(()).expect("go");
        assert!(read_driven(&mut s).expect("close_notify").is_empty());
        server.join().expect("server");
    }

    #[test]
    fn an_eof_without_close_notify_is_an_error_in_and_out_of_the_reactor() {
        for detached in [false, true] {
            let (rt, mut s, server) = tls_pair(|s| {
                s.write_all(b"x").expect("write");
                // (Dropped: the TCP connection ends without close_notify.)
            });
            server.join().expect("server");
            let _rt = rt.enter();
            let got = if detached {
                assert_eq!(read_driven(&mut s).expect("x"), b"x");
                read_driven(&mut s)
            } else {
                drop(_rt);
                rt.block_on(async {
                    use tokio::io::AsyncReadExt;
                    let mut all = Vec::new();
                    s.read_to_end(&mut all).await.map(|_| all)
                })
            };
            let e = got.expect_err("a truncated TLS stream");
            assert_eq!(
                e.kind(),
                io::ErrorKind::UnexpectedEof,
                "detached: {detached}"
            );
        }
    }

    #[test]
    fn an_answer_read_past_writes_a_reset_connection_refuses() {
        // The server answers while the client's upload waits for room, then
        // resets the connection: the answer is read (rustls still holds
        // records that can no longer be written; their error is a write's).
        let (go_tx, go_rx) = mpsc::channel::<()>();
        let (rt, mut s, server) = tls_pair(move |s| {
            go_rx.recv().expect("go");
            s.write_all(b"too large").expect("answer");
            // The answer must be on the client's side before the reset: a
            // close with a reset drops what is still queued to send (on a
            // loaded machine the kernel may not have sent it yet).
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            loop {
                let mut queued: libc::c_int = 0;
                // SAFETY: ioctl(2) TIOCOUTQ (SIOCOUTQ) on the server socket's
                // own descriptor, writing one int.
                let r = unsafe { libc::ioctl(s.sock.as_raw_fd(), libc::TIOCOUTQ, &mut queued) };
                assert_eq!(r, 0, "TIOCOUTQ");
                if queued == 0 {
                    break;
                }
                assert!(
                    std::time::Instant::now() < deadline,
                    "the answer is not acked"
                );
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            let linger = libc::linger {
                l_onoff: 1,
                l_linger: 0,
            };
            // SAFETY: setsockopt(2) on the server socket's own descriptor,
            // with a pointer to a linger and its size.
            let set = unsafe {
                libc::setsockopt(
                    s.sock.as_raw_fd(),
                    libc::SOL_SOCKET,
                    libc::SO_LINGER,
                    std::ptr::from_ref(&linger).cast(),
                    std::mem::size_of::<libc::linger>() as libc::socklen_t,
                )
            };
            assert_eq!(set, 0, "SO_LINGER");
            // (Dropped: closed with a reset, the upload unread.)
        });
        let upload = vec![7u8; 8 << 20];
        let _rt = rt.enter();
        let mut sent = 0;
        loop {
            let _d = direct::driving();
            let mut cx = Context::from_waker(Waker::noop());
            match Pin::new(&mut s).poll_write(&mut cx, &upload[sent..]) {
                Poll::Ready(Ok(n)) => sent += n,
                Poll::Ready(Err(e)) => panic!("write: {e}"),
                Poll::Pending => break,
            }
            assert!(sent < upload.len(), "8 MiB unread fill the socket");
        }
        go_tx.send(()).expect("go");
        server.join().expect("server");
        assert_eq!(read_driven(&mut s).expect("the answer"), b"too large");
    }

    #[test]
    fn writes_wait_for_room_and_arrive_whole_across_a_detach() {
        const SIZE: usize = 8 << 20;
        let (go_tx, go_rx) = mpsc::channel::<()>();
        let (rt, mut s, server) = tls_pair(move |s| {
            go_rx.recv().expect("go");
            let mut all = vec![0u8; 2 * SIZE];
            s.read_exact(&mut all).expect("read");
            assert!(all[..SIZE].iter().all(|&b| b == 1));
            assert!(all[SIZE..].iter().all(|&b| b == 2));
            s.write_all(b"done").expect("write");
        });
        let first = vec![1u8; SIZE];
        let second = vec![2u8; SIZE];
        let _rt = rt.enter();
        // Driven: the server does not read yet, so the socket fills.
        let mut sent = 0;
        let mut blocked = false;
        while sent < SIZE {
            let _d = direct::driving();
            let mut cx = Context::from_waker(Waker::noop());
            match Pin::new(&mut s).poll_write(&mut cx, &first[sent..]) {
                Poll::Ready(Ok(n)) => sent += n,
                Poll::Ready(Err(e)) => panic!("write: {e}"),
                Poll::Pending => {
                    assert!(direct::take_want().write);
                    blocked = true;
                    break;
                }
            }
        }
        assert!(blocked, "8 MiB unread fill the socket");
        go_tx.send(()).expect("go");
        drop(_rt);
        // The engine writes the rest from where the driver stopped.
        rt.block_on(async {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            s.write_all(&first[sent..]).await.expect("rest");
            s.write_all(&second).await.expect("second");
            s.flush().await.expect("flush");
            let mut done = [0u8; 4];
            s.read_exact(&mut done).await.expect("done");
            assert_eq!(&done, b"done");
        });
        server.join().expect("server");
    }
}
