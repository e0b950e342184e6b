//! The sockets of requests driven on a foreign thread ([`super::direct`]),
//! watched through an epoll of their owner's: the owner's event loop
//! watches that one descriptor (the Python glue: one `add_reader` for a
//! bridge's life), so waiting on a request's socket costs one `epoll_ctl`
//! and no call into the loop (asyncio's `add_reader` + `remove_reader`
//! cost 8.9 µs per request, uvloop's 3.6).
//!
//! Registrations are one-shot: each fires once and is armed again by the
//! next wait, so an entry nobody waits on any more (its socket back in the
//! pool, or closed with the number given to another) fires at most once and
//! is then deleted.  An entry stays registered (disarmed) after its request
//! ends, so the next request on the same connection only re-arms it.  The
//! epoll is private: the loop's own selector never sees these sockets, and
//! a socket the engine closes leaves it by itself.

use std::collections::HashMap;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use super::direct::Want;

/// One socket in the epoll.
struct Reg {
    /// Its inode when registered: the same number naming another socket
    /// later (the first closed, its registration gone) is registered anew.
    ino: u64,
    /// The events it is registered for.
    events: u32,
    /// Armed: it has not fired since it was last armed.
    armed: bool,
    /// The driven request waiting on it, if any.
    id: Option<u64>,
}

/// The epoll and what is registered in it, by descriptor number.
pub struct Watcher {
    ep: OwnedFd,
    regs: HashMap<RawFd, Reg>,
}

/// The inode of what `fd` refers to (0 when it refers to nothing).
fn inode(fd: RawFd) -> u64 {
    let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: fstat writes a stat into the buffer given; checked below.
    if unsafe { libc::fstat(fd, st.as_mut_ptr()) } != 0 {
        return 0;
    }
    // SAFETY: fstat succeeded, so it filled the struct.
    unsafe { st.assume_init() }.st_ino
}

fn events_of(want: Want) -> u32 {
    let mut e = 0;
    if want.read {
        e |= libc::EPOLLIN as u32;
    }
    if want.write {
        e |= libc::EPOLLOUT as u32;
    }
    e
}

fn ctl(ep: &OwnedFd, op: i32, fd: RawFd, events: u32) -> std::io::Result<()> {
    let mut ev = libc::epoll_event {
        events: events | libc::EPOLLONESHOT as u32,
        u64: fd as u64,
    };
    // SAFETY: a valid epoll descriptor and event; the result is checked.
    if unsafe { libc::epoll_ctl(ep.as_raw_fd(), op, fd, &mut ev) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

impl Watcher {
    pub fn new() -> std::io::Result<Self> {
        // SAFETY: plain syscall; the result is checked.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(Watcher {
            // SAFETY: a fresh descriptor we own.
            ep: unsafe { OwnedFd::from_raw_fd(fd) },
            regs: HashMap::new(),
        })
    }

    /// The descriptor the loop watches: readable when a socket fired.
    pub fn fd(&self) -> RawFd {
        self.ep.as_raw_fd()
    }

    /// Driven request `id` waits for `want` (not none); false when the
    /// kernel refuses to watch that descriptor.
    pub fn wait(&mut self, id: u64, want: Want) -> bool {
        let events = events_of(want);
        let ino = inode(want.fd);
        if ino == 0 {
            return false;
        }
        if let Some(r) = self.regs.get_mut(&want.fd).filter(|r| r.ino == ino) {
            if r.armed && r.events == events {
                r.id = Some(id);
                return true;
            }
            if ctl(&self.ep, libc::EPOLL_CTL_MOD, want.fd, events).is_ok() {
                (r.id, r.events, r.armed) = (Some(id), events, true);
                return true;
            }
            // (Gone from the epoll: the socket was closed in between.)
        }
        let added = match ctl(&self.ep, libc::EPOLL_CTL_ADD, want.fd, events) {
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {
                ctl(&self.ep, libc::EPOLL_CTL_MOD, want.fd, events)
            }
            r => r,
        };
        if added.is_err() {
            self.regs.remove(&want.fd);
            return false;
        }
        self.regs.insert(
            want.fd,
            Reg {
                ino,
                events,
                armed: true,
                id: Some(id),
            },
        );
        true
    }

    /// Driven request `id` no longer waits on `fd`; its registration stays
    /// (disarmed once it fires) for the next request on that socket.
    pub fn stop(&mut self, id: u64, fd: RawFd) {
        if let Some(r) = self.regs.get_mut(&fd) {
            if r.id == Some(id) {
                r.id = None;
                if r.armed && r.events & libc::EPOLLOUT as u32 != 0 {
                    // (A writable socket nobody waits on would fire at once.)
                    drop(ctl(&self.ep, libc::EPOLL_CTL_DEL, fd, 0));
                    self.regs.remove(&fd);
                }
            }
        }
    }

    /// The driven requests whose sockets fired; a socket nobody waits on
    /// leaves the epoll.
    pub fn ready(&mut self) -> Vec<u64> {
        let mut evs = [libc::epoll_event { events: 0, u64: 0 }; 16];
        let mut ids = Vec::new();
        loop {
            // SAFETY: a valid epoll descriptor and buffer; the result is checked.
            let n = unsafe {
                libc::epoll_wait(self.ep.as_raw_fd(), evs.as_mut_ptr(), evs.len() as i32, 0)
            };
            if n <= 0 {
                break;
            }
            for ev in &evs[..n as usize] {
                let fd = ev.u64 as RawFd;
                let waiting = self.regs.get_mut(&fd).and_then(|r| {
                    r.armed = false;
                    r.id
                });
                match waiting {
                    Some(id) => ids.push(id),
                    None => {
                        self.regs.remove(&fd);
                        drop(ctl(&self.ep, libc::EPOLL_CTL_DEL, fd, 0));
                    }
                }
            }
            if (n as usize) < evs.len() {
                break;
            }
        }
        ids
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::unix::net::UnixStream;

    fn read(fd: RawFd) -> Want {
        Want {
            fd,
            read: true,
            write: false,
        }
    }

    #[test]
    fn fires_once_for_its_request_then_needs_arming() {
        let mut w = Watcher::new().unwrap();
        let (a, mut b) = UnixStream::pair().unwrap();
        assert!(w.wait(7, read(a.as_raw_fd())));
        assert!(w.ready().is_empty());
        b.write_all(b"x").unwrap();
        assert_eq!(w.ready(), vec![7]);
        // One-shot: still readable, but not armed.
        assert!(w.ready().is_empty());
        assert!(w.wait(8, read(a.as_raw_fd())));
        assert_eq!(w.ready(), vec![8]);
    }

    #[test]
    fn a_socket_nobody_waits_on_fires_once_and_leaves() {
        let mut w = Watcher::new().unwrap();
        let (a, mut b) = UnixStream::pair().unwrap();
        assert!(w.wait(1, read(a.as_raw_fd())));
        w.stop(1, a.as_raw_fd());
        b.write_all(b"x").unwrap();
        assert!(w.ready().is_empty());
        assert!(w.regs.is_empty());
        // Waiting again registers it again.
        assert!(w.wait(2, read(a.as_raw_fd())));
        assert_eq!(w.ready(), vec![2]);
    }

    #[test]
    fn a_number_reused_by_another_socket_is_registered_anew() {
        let mut w = Watcher::new().unwrap();
        let (a, _b) = UnixStream::pair().unwrap();
        let fd = a.as_raw_fd();
        assert!(w.wait(1, read(fd)));
        w.stop(1, fd);
        drop(a);
        // The lowest free number: very likely `fd` again; forced with dup2.
        let (c, mut d) = UnixStream::pair().unwrap();
        let dup = c.as_raw_fd() != fd;
        if dup {
            // SAFETY: `fd` is free (closed above); `c` stays open meanwhile.
            assert_eq!(unsafe { libc::dup2(c.as_raw_fd(), fd) }, fd);
        }
        assert!(w.wait(2, read(fd)));
        d.write_all(b"x").unwrap();
        assert_eq!(w.ready(), vec![2]);
        if dup {
            // SAFETY: closing the duplicate made above.
            unsafe { libc::close(fd) };
        }
    }

    #[test]
    fn a_writer_nobody_waits_on_leaves_at_once() {
        let mut w = Watcher::new().unwrap();
        let (a, _b) = UnixStream::pair().unwrap();
        let want = Want {
            fd: a.as_raw_fd(),
            read: false,
            write: true,
        };
        assert!(w.wait(3, want));
        w.stop(3, a.as_raw_fd());
        assert!(w.ready().is_empty());
        assert!(w.regs.is_empty());
    }

    #[test]
    fn what_cannot_be_polled_is_refused() {
        let mut w = Watcher::new().unwrap();
        let f = std::fs::File::open("/dev/null").unwrap();
        // (epoll refuses regular files and /dev/null: EPERM.)
        assert!(!w.wait(1, read(f.as_raw_fd())));
        assert!(!w.wait(1, read(-1)));
    }
}
