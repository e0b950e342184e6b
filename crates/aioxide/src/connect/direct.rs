//! A connection taken out of the engine's reactor, to be driven by someone
//! else's readiness loop (Python's asyncio `add_reader` / `add_writer`).
//!
//! Reads and writes are non-blocking system calls on the caller's thread;
//! `Pending` means "would block" and the waker is never woken: the owner
//! polls again when its loop reports the file descriptor ready.  This
//! saves the engine thread's wake-up and a hop between threads for each
//! message of a long-lived connection (a WebSocket).  Plain TCP, Unix
//! sockets and TLS directly over TCP can be detached; anything layered
//! (tunnels) stays with the engine.
//!
//! A whole request can be driven the same way ([`driving`]): while the
//! loop's thread polls it, a plain TCP, Unix or TLS-over-TCP [`Stream`]
//! detaches itself on its first poll and records what it waits for
//! ([`take_want`]), and it attaches itself to the reactor again when the
//! engine polls it next (TLS with its session: `tls_conn`).

use std::cell::Cell;
use std::io::{self, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::tls_conn::{Reactor, TlsConn};
use super::Stream;

thread_local! {
    /// This thread is driving a request (between [`driving`] and its drop).
    static DRIVING: Cell<bool> = const { Cell::new(false) };
    /// What the last poll that would block waited for.
    static WANT: Cell<Want> = const { Cell::new(Want::NONE) };
    /// A check that waits for nothing is running ([`checking`]).
    static CHECKING: Cell<bool> = const { Cell::new(false) };
    /// The driven task asked to go to the engine ([`to_engine`]).
    static HANDOFF: Cell<bool> = const { Cell::new(false) };
    /// The driven task wants to be polled again by then ([`wake_at`]).
    static WAKE_AT: Cell<Option<std::time::Instant>> = const { Cell::new(None) };
}

/// The readiness a driven request waits for on one file descriptor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Want {
    pub fd: RawFd,
    pub read: bool,
    pub write: bool,
}

impl Want {
    pub const NONE: Want = Want {
        fd: -1,
        read: false,
        write: false,
    };

    pub fn is_none(&self) -> bool {
        self.fd < 0
    }
}

/// While alive, streams polled on this thread are driven by its owner's
/// readiness loop (see the module's doc).  Nested drivers restore the
/// outer one's state.
pub struct Driving(bool, Want, bool, Option<std::time::Instant>);

/// Start driving on this thread (what was wanted before is forgotten).
pub fn driving() -> Driving {
    Driving(
        DRIVING.replace(true),
        WANT.replace(Want::NONE),
        HANDOFF.replace(false),
        WAKE_AT.replace(None),
    )
}

impl Drop for Driving {
    fn drop(&mut self) {
        DRIVING.set(self.0);
        WANT.set(self.1);
        HANDOFF.set(self.2);
        WAKE_AT.set(self.3);
    }
}

/// Leave the loop's thread: work the loop should not do (a TLS handshake
/// and its record crypto, a tunnel) asks the driver to hand the task to
/// the engine, where it resumes from here.  Off a driver, ready at once.
pub async fn to_engine() {
    std::future::poll_fn(|_| {
        if DRIVING.get() {
            HANDOFF.set(true);
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
}

/// While driving: ask the driver to poll again at `t` (a short wait that a
/// tokio timer would pay for with the engine thread's wake-ups).
pub fn wake_at(t: std::time::Instant) {
    let earlier = WAKE_AT.get().map_or(t, |w| w.min(t));
    WAKE_AT.set(Some(earlier));
}

/// When the driven poll that just returned wants to be polled again (taken).
pub fn take_wake_at() -> Option<std::time::Instant> {
    WAKE_AT.take()
}

/// Whether the driven poll that just returned asked for the engine (taken).
pub fn take_handoff() -> bool {
    HANDOFF.replace(false)
}

/// Whether this thread is driving a request.
pub fn is_driving() -> bool {
    DRIVING.get()
}

/// While alive, polls on this thread only check (an idle connection's
/// liveness, with the no-op waker): a detached socket is read as it is,
/// and nothing is watched for them.
pub struct Checking(bool);

pub fn checking() -> Checking {
    Checking(CHECKING.replace(true))
}

impl Drop for Checking {
    fn drop(&mut self) {
        CHECKING.set(self.0);
    }
}

/// Whether a check ([`checking`]) is running on this thread.
pub fn is_checking() -> bool {
    CHECKING.get()
}

/// What the driven poll that just returned waits for (taken).
pub fn take_want() -> Want {
    WANT.replace(Want::NONE)
}

/// Note that a driven poll waits for `fd` (a check waits for nothing).
fn want(fd: RawFd, read: bool) {
    if !DRIVING.get() || CHECKING.get() {
        return;
    }
    let mut w = WANT.get();
    if w.fd != fd {
        w = Want {
            fd,
            read: false,
            write: false,
        };
    }
    if read {
        w.read = true;
    } else {
        w.write = true;
    }
    WANT.set(w);
}

/// A detached stream (see the module's doc).
pub enum Direct {
    Tcp(std::net::TcpStream),
    Unix(std::os::unix::net::UnixStream),
    Tls(Box<TlsDirect>),
    /// Taking it out of the reactor failed: every call fails with this.
    Failed(io::ErrorKind),
}

/// TLS over a detached TCP socket (rustls' own state machine, driven by
/// the non-blocking socket).
pub type TlsDirect = TlsConn<std::net::TcpStream>;

impl Direct {
    /// Take `s` out of the reactor; `Err(s)` when it cannot be detached.
    pub fn detach(s: Stream) -> Result<Direct, Stream> {
        let failed = |e: io::Error| Direct::Failed(e.kind());
        Ok(match s {
            Stream::Tcp(t) => t.into_std().map_or_else(failed, Direct::Tcp),
            Stream::Unix(u) => u.into_std().map_or_else(failed, Direct::Unix),
            Stream::Tls(t) => match t.map_sock(|s| s.0.into_std()) {
                Ok(t) => Direct::Tls(Box::new(t)),
                Err(e) => failed(e),
            },
            Stream::Direct(d) => d,
            other @ Stream::Layered { .. } => return Err(other),
        })
    }

    /// Give a detached socket back to the engine's reactor (must run
    /// inside the runtime); TLS takes its session along.
    pub fn attach(self) -> Stream {
        let failed = |e: io::Error| Stream::Direct(Direct::Failed(e.kind()));
        match self {
            Direct::Tcp(s) => tokio::net::TcpStream::from_std(s).map_or_else(failed, Stream::Tcp),
            Direct::Unix(s) => {
                tokio::net::UnixStream::from_std(s).map_or_else(failed, Stream::Unix)
            }
            Direct::Tls(t) => match t.map_sock(|s| tokio::net::TcpStream::from_std(s).map(Reactor))
            {
                Ok(t) => Stream::Tls(Box::new(t)),
                Err(e) => failed(e),
            },
            d @ Direct::Failed(_) => Stream::Direct(d),
        }
    }

    /// The file descriptor to watch for readiness (-1 when failed).
    pub fn fd(&self) -> RawFd {
        match self {
            Direct::Tcp(s) => s.as_raw_fd(),
            Direct::Unix(s) => s.as_raw_fd(),
            Direct::Tls(t) => t.sock.as_raw_fd(),
            Direct::Failed(_) => -1,
        }
    }

    fn read_into(&mut self, buf: &mut ReadBuf<'_>) -> io::Result<()> {
        match self {
            Direct::Tcp(s) => read_fd(s.as_raw_fd(), buf),
            Direct::Unix(s) => read_fd(s.as_raw_fd(), buf),
            Direct::Tls(t) => t.read_buf(buf),
            Direct::Failed(k) => Err((*k).into()),
        }
    }

    fn write_from(&mut self, data: &[u8]) -> io::Result<usize> {
        match self {
            Direct::Tcp(s) => s.write(data),
            Direct::Unix(s) => s.write(data),
            Direct::Tls(t) => t.write(data),
            Direct::Failed(k) => Err((*k).into()),
        }
    }

    fn flush_out(&mut self) -> io::Result<()> {
        match self {
            Direct::Tls(t) => t.flush_tls(),
            Direct::Failed(k) => Err((*k).into()),
            Direct::Tcp(_) | Direct::Unix(_) => Ok(()),
        }
    }

    fn shutdown_write(&mut self) -> io::Result<()> {
        match self {
            Direct::Tcp(s) => s.shutdown(std::net::Shutdown::Write),
            Direct::Unix(s) => s.shutdown(std::net::Shutdown::Write),
            Direct::Tls(t) => {
                t.close_notify()?;
                t.sock.shutdown(std::net::Shutdown::Write)
            }
            Direct::Failed(k) => Err((*k).into()),
        }
    }
}

/// One `read(2)` into the unfilled part of `buf`.
fn read_fd(fd: RawFd, buf: &mut ReadBuf<'_>) -> io::Result<()> {
    loop {
        // SAFETY: the pointer and length are those of `buf`'s unfilled
        // part, which read(2) only writes to.
        let n = unsafe {
            let dst = buf.unfilled_mut();
            libc::read(fd, dst.as_mut_ptr().cast(), dst.len())
        };
        if let Ok(n) = usize::try_from(n) {
            // SAFETY: read(2) initialised the first `n` unfilled bytes.
            unsafe { buf.assume_init(n) };
            buf.advance(n);
            return Ok(());
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// `WouldBlock` as `Pending` (the owner polls again when ready).
fn ready<T>(r: io::Result<T>) -> Poll<io::Result<T>> {
    match r {
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Poll::Pending,
        r => Poll::Ready(r),
    }
}

impl Direct {
    /// `ready`, noting what a driven poll waits for.
    fn ready<T>(&self, read: bool, r: io::Result<T>) -> Poll<io::Result<T>> {
        let p = ready(r);
        if p.is_pending() {
            want(self.fd(), read);
        }
        p
    }
}

impl AsyncRead for Direct {
    fn poll_read(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let d = self.get_mut();
        let r = d.read_into(buf);
        d.ready(true, r)
    }
}

impl AsyncWrite for Direct {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let d = self.get_mut();
        let r = d.write_from(buf);
        d.ready(false, r)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let d = self.get_mut();
        let r = match d {
            Direct::Tcp(s) => s.write_vectored(bufs),
            Direct::Unix(s) => s.write_vectored(bufs),
            Direct::Tls(t) => t.write_vectored(bufs),
            Direct::Failed(k) => Err((*k).into()),
        };
        d.ready(false, r)
    }

    fn is_write_vectored(&self) -> bool {
        !matches!(self, Direct::Failed(_))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let d = self.get_mut();
        let r = d.flush_out();
        d.ready(false, r)
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let d = self.get_mut();
        let r = d.shutdown_write();
        d.ready(false, r)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;
    use std::task::Waker;

    use super::*;
    use crate::ws::{frame, Config, Message, WsReader, WsWriter};

    /// A runtime, a client socket in its reactor and the server's end.
    fn connected() -> (
        tokio::runtime::Runtime,
        tokio::net::TcpStream,
        std::net::TcpStream,
    ) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let client = rt
            .block_on(tokio::net::TcpStream::connect(addr))
            .expect("connect");
        let (server, _) = listener.accept().expect("accept");
        (rt, client, server)
    }

    /// A detached client socket and the server's end of it.
    fn pair() -> (Direct, std::net::TcpStream) {
        let (rt, client, server) = connected();
        let direct = rt.block_on(async { Direct::detach(Stream::Tcp(client)) });
        (direct.ok().expect("plain TCP detaches"), server)
    }

    /// One poll for up to 64 bytes.
    fn read_with<R: AsyncRead + Unpin>(r: &mut R, waker: &Waker) -> Poll<io::Result<Vec<u8>>> {
        let mut cx = Context::from_waker(waker);
        let mut space = [0u8; 64];
        let mut buf = ReadBuf::new(&mut space);
        Pin::new(r)
            .poll_read(&mut cx, &mut buf)
            .map_ok(|()| buf.filled().to_vec())
    }

    fn read_some(d: &mut Direct) -> Poll<io::Result<Vec<u8>>> {
        read_with(d, Waker::noop())
    }

    /// A waker that notes being woken.
    struct Flag(std::sync::atomic::AtomicBool);

    impl std::task::Wake for Flag {
        fn wake(self: std::sync::Arc<Self>) {
            self.0.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    }

    #[test]
    fn a_driven_stream_leaves_the_reactor_and_the_engine_takes_it_back() {
        let (rt, client, mut server) = connected();
        let fd = client.as_raw_fd();
        let mut s = Stream::Tcp(client);
        let flag = std::sync::Arc::new(Flag(false.into()));
        let waker = Waker::from(flag.clone());
        let _rt = rt.enter();
        {
            let _d = driving();
            // A liveness check waits for nothing...
            {
                let _c = checking();
                assert!(read_with(&mut s, Waker::noop()).is_pending());
            }
            assert!(take_want().is_none());
            // ...a read that would block is watched by the driver.
            assert!(read_with(&mut s, &waker).is_pending());
            assert!(matches!(s, Stream::Direct(Direct::Tcp(_))));
            let want = take_want();
            assert_eq!((want.fd, want.read, want.write), (fd, true, false));
        }
        assert!(!is_driving());
        // Outside a driver, a check reads the socket as it is.
        {
            let _c = checking();
            assert!(read_with(&mut s, Waker::noop()).is_pending());
        }
        assert!(matches!(s, Stream::Direct(_)));
        // The engine's poll puts it back in the reactor, which wakes it.
        assert!(read_with(&mut s, &waker).is_pending());
        assert!(matches!(s, Stream::Tcp(_)));
        server.write_all(b"hi").expect("write");
        // (The reactor runs while the runtime waits.)
        rt.block_on(tokio::time::sleep(std::time::Duration::from_millis(50)));
        assert!(
            flag.0.load(std::sync::atomic::Ordering::SeqCst),
            "the reactor woke the engine's waker"
        );
        match read_with(&mut s, &waker) {
            Poll::Ready(Ok(got)) => assert_eq!(got, b"hi"),
            other => panic!("expected the bytes, got {other:?}"),
        }
    }

    #[test]
    fn would_block_is_pending_and_eof_is_an_empty_read() {
        let (mut d, mut server) = pair();
        assert!(d.fd() >= 0);
        assert!(read_some(&mut d).is_pending());
        server.write_all(b"hello").expect("write");
        match read_some(&mut d) {
            Poll::Ready(Ok(got)) => assert_eq!(got, b"hello"),
            other => panic!("expected the bytes, got {other:?}"),
        }
        drop(server);
        match read_some(&mut d) {
            Poll::Ready(Ok(got)) => assert!(got.is_empty()),
            other => panic!("expected EOF, got {other:?}"),
        }
    }

    #[test]
    fn a_full_socket_is_pending_and_keeps_the_rest_in_order() {
        let (d, mut server) = pair();
        let mut w = WsWriter::new(d, &Config::default());
        let mut cx = Context::from_waker(Waker::noop());
        let big = vec![7u8; 8 << 20];
        w.encode_frame(frame::OP_BINARY, &big, None)
            .expect("encode");
        // Nobody reads: the socket fills and the writer waits, not errs.
        assert!(w.poll_write_out(&mut cx).is_pending());
        let reader = std::thread::spawn(move || {
            let mut all = Vec::new();
            std::io::Read::read_to_end(&mut server, &mut all).map(|_| all.len())
        });
        let mut rounds = 0;
        while w.poll_write_out(&mut cx).is_pending() {
            rounds += 1;
            assert!(rounds < 1_000_000, "the writer never finished");
            std::thread::yield_now();
        }
        drop(w);
        let n = reader.join().expect("join").expect("read");
        assert_eq!(n, (8 << 20) + 14, "every byte of the frame arrived");
    }

    #[test]
    fn frames_that_came_together_are_taken_in_one_poll() {
        let (d, mut server) = pair();
        let mut r = WsReader::new(d, &Config::default(), &[]);
        let mut cx = Context::from_waker(Waker::noop());
        assert!(r.poll_recv_many(&mut cx, 256).is_pending());
        let mut wire = bytes::BytesMut::new();
        for text in ["a", "b", "c"] {
            frame::encode_frame(
                &mut wire,
                true,
                false,
                frame::OP_TEXT,
                text.as_bytes(),
                None,
            );
        }
        server.write_all(&wire).expect("write");
        match r.poll_recv_many(&mut cx, 256) {
            Poll::Ready(Ok(msgs)) => assert_eq!(
                msgs,
                vec![
                    Message::Text("a".into()),
                    Message::Text("b".into()),
                    Message::Text("c".into())
                ]
            ),
            other => panic!("expected three messages, got {other:?}"),
        }
        assert!(r.poll_recv_many(&mut cx, 256).is_pending());
        drop(server);
        assert!(matches!(
            r.poll_recv_many(&mut cx, 256),
            Poll::Ready(Err(crate::ws::WsError::Eof))
        ));
    }
}
