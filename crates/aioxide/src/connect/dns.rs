//! Name resolution settings and the DNS cache (TCPConnector's
//! use_dns_cache / ttl_dns_cache / family), and the order in which a host's
//! addresses are tried (RFC 8305's interleaving, aiohttp's `interleave`).

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::os::fd::OwnedFd;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::error::Error;

/// A boxed future, for the hooks below.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// A resolver supplied by the embedder (aiohttp's `resolver=`): the names
/// of hosts to addresses, in the order to try them.
pub trait Resolve: Send + Sync {
    fn resolve(
        &self,
        host: &str,
        port: u16,
        family: Family,
    ) -> BoxFuture<Result<Vec<SocketAddr>, Error>>;
}

/// A socket maker supplied by the embedder (aiohttp's `socket_factory=`):
/// an unconnected stream socket for `addr`, called for each new connection.
pub trait SocketFactory: Send + Sync {
    fn socket(&self, addr: SocketAddr) -> BoxFuture<std::io::Result<OwnedFd>>;
}

/// A shared hook with a Debug form, so that configs stay printable.
pub struct Hook<T: ?Sized>(pub Arc<T>);

impl<T: ?Sized> Clone for Hook<T> {
    fn clone(&self) -> Self {
        Hook(self.0.clone())
    }
}

impl<T: ?Sized> std::fmt::Debug for Hook<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Hook(..)")
    }
}

/// Which address families to use (aiohttp's `family=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Family {
    #[default]
    Any,
    V4,
    V6,
}

impl Family {
    /// From a socket address family number (AF_UNSPEC, AF_INET, AF_INET6).
    pub fn from_af(af: i32) -> Option<Family> {
        match af {
            libc::AF_UNSPEC => Some(Family::Any),
            libc::AF_INET => Some(Family::V4),
            libc::AF_INET6 => Some(Family::V6),
            _ => None,
        }
    }

    pub fn admits(self, a: &SocketAddr) -> bool {
        match self {
            Family::Any => true,
            Family::V4 => a.is_ipv4(),
            Family::V6 => a.is_ipv6(),
        }
    }
}

/// What name resolution did for a new connection (for tracing).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum DnsOutcome {
    /// No lookup: an IP address.
    #[default]
    None,
    /// The DNS cache had the answer.
    CacheHit,
    /// Looked up, then cached.
    CacheMiss,
    /// Looked up; the cache is off.
    Resolved,
}

/// How connections are opened (TCPConnector's parameters).
#[derive(Debug, Clone)]
pub struct ConnectConfig {
    pub family: Family,
    /// Bind the local end to this address before connecting.
    pub local_addr: Option<SocketAddr>,
    /// RFC 8305: start the next address's attempt after this delay, without
    /// waiting for the previous one to fail; `None`: one after another.
    pub happy_eyeballs_delay: Option<Duration>,
    /// How many addresses of the first family come before the other family
    /// (aiohttp's `interleave`; 1 when happy eyeballs is on and it is unset).
    pub interleave: Option<usize>,
    pub use_dns_cache: bool,
    /// How long a cached answer is used; `None`: until cleared.
    pub ttl_dns_cache: Option<Duration>,
    pub dns_cache_max_size: usize,
    /// Resolve names with this instead of getaddrinfo.
    pub resolver: Option<Hook<dyn Resolve>>,
    /// Make each connection's socket with this.
    pub socket_factory: Option<Hook<dyn SocketFactory>>,
    /// Connect every request to this Unix socket (UnixConnector).
    pub unix_path: Option<std::path::PathBuf>,
}

impl Default for ConnectConfig {
    fn default() -> Self {
        ConnectConfig {
            family: Family::Any,
            local_addr: None,
            happy_eyeballs_delay: Some(Duration::from_millis(250)),
            interleave: None,
            use_dns_cache: true,
            ttl_dns_cache: Some(Duration::from_secs(10)),
            dns_cache_max_size: 1000,
            resolver: None,
            socket_factory: None,
            unix_path: None,
        }
    }
}

/// Reorder addresses as RFC 8305 section 4 does: alternate families,
/// starting with the family of the first address, `first_count` of it first.
pub fn interleave(addrs: &[SocketAddr], first_count: usize) -> Vec<SocketAddr> {
    let Some(first) = addrs.first() else {
        return Vec::new();
    };
    let first_v6 = first.is_ipv6();
    let (mut a, mut b): (Vec<_>, Vec<_>) = (Vec::new(), Vec::new());
    for addr in addrs {
        if addr.is_ipv6() == first_v6 {
            a.push(*addr);
        } else {
            b.push(*addr);
        }
    }
    let mut out = Vec::with_capacity(addrs.len());
    let mut a = a.into_iter();
    let mut b = b.into_iter();
    out.extend(a.by_ref().take(first_count.max(1) - 1));
    loop {
        let x = a.next();
        let y = b.next();
        if x.is_none() && y.is_none() {
            return out;
        }
        out.extend(x);
        out.extend(y);
    }
}

struct Entry {
    addrs: Vec<SocketAddr>,
    at: Instant,
    /// Rotation: successive lookups start at successive addresses, spreading
    /// connections over a host's addresses as aiohttp's cache does.
    next: usize,
}

/// One lookup in flight, shared by the connections that wait for it.
pub(crate) type Lookup = Arc<tokio::sync::OnceCell<Result<Vec<SocketAddr>, Arc<Error>>>>;

/// The DNS cache: (host, port) -> addresses, with a TTL; and the lookups
/// in flight, so that connections to a host not cached yet wait for one
/// lookup instead of making one each (as aiohttp's connector).
#[derive(Default)]
pub struct DnsCache {
    inner: Mutex<HashMap<(String, u16), Entry>>,
    inflight: Mutex<HashMap<(String, u16), Lookup>>,
}

/// A connection waiting on a lookup in flight; dropped, it tells the cache
/// ([`DnsCache::lookup_done`]), whether answered or cancelled.
pub(crate) struct Waiting<'a> {
    pub cache: &'a DnsCache,
    pub host: &'a str,
    pub port: u16,
    pub lookup: Lookup,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.cache.lookup_done(self.host, self.port, &self.lookup);
    }
}

impl DnsCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(String, u16), Entry>> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Cached addresses, rotated, when present and not expired.
    pub fn get(
        &self,
        host: &str,
        port: u16,
        ttl: Option<Duration>,
        now: Instant,
    ) -> Option<Vec<SocketAddr>> {
        let mut map = self.lock();
        let key = (host.to_owned(), port);
        let e = map.get_mut(&key)?;
        if ttl.is_some_and(|t| now.duration_since(e.at) >= t) {
            map.remove(&key);
            return None;
        }
        let n = e.addrs.len();
        let start = e.next % n.max(1);
        e.next = e.next.wrapping_add(1);
        let mut v = e.addrs[start..].to_vec();
        v.extend_from_slice(&e.addrs[..start]);
        Some(v)
    }

    pub fn put(&self, host: &str, port: u16, addrs: Vec<SocketAddr>, max: usize, now: Instant) {
        if addrs.is_empty() {
            return;
        }
        let mut map = self.lock();
        if max > 0 && map.len() >= max && !map.contains_key(&(host.to_owned(), port)) {
            // Drop the oldest answer to make room.
            if let Some(oldest) = map.iter().min_by_key(|(_, e)| e.at).map(|(k, _)| k.clone()) {
                map.remove(&oldest);
            }
        }
        map.insert(
            (host.to_owned(), port),
            Entry {
                addrs,
                at: now,
                next: 1,
            },
        );
    }

    /// The lookup in flight for (host, port), made when there is none.
    pub(crate) fn lookup(&self, host: &str, port: u16) -> Lookup {
        let mut map = self.inflight.lock().unwrap_or_else(|p| p.into_inner());
        map.entry((host.to_owned(), port)).or_default().clone()
    }

    /// A waiter on `lookup` is gone (answered, or cancelled): the lookup
    /// leaves the map once it is over, or when no one else waits on it (a
    /// cancelled one would otherwise stay, one per host never asked again).
    pub(crate) fn lookup_done(&self, host: &str, port: u16, lookup: &Lookup) {
        let mut map = self.inflight.lock().unwrap_or_else(|p| p.into_inner());
        let key = (host.to_owned(), port);
        let ours = map.get(&key).is_some_and(|l| Arc::ptr_eq(l, lookup));
        // (Held by the map and the caller only: no other waiter.)
        if ours && (lookup.initialized() || Arc::strong_count(lookup) <= 2) {
            map.remove(&key);
        }
    }

    /// Lookups in the map now.
    #[cfg(test)]
    pub(crate) fn lookups_in_flight(&self) -> usize {
        self.inflight
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .len()
    }

    /// Forget one (host, port), or everything.
    pub fn clear(&self, which: Option<(&str, u16)>) {
        let mut map = self.lock();
        match which {
            Some((h, p)) => {
                map.remove(&(h.to_owned(), p));
            }
            None => map.clear(),
        }
    }

    /// The cached (host, port) pairs and their addresses.
    pub fn entries(&self) -> Vec<((String, u16), Vec<SocketAddr>)> {
        self.lock()
            .iter()
            .map(|(k, e)| (k.clone(), e.addrs.clone()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn interleaving() {
        let v = [
            a("[::1]:1"),
            a("[::2]:1"),
            a("[::3]:1"),
            a("1.1.1.1:1"),
            a("2.2.2.2:1"),
        ];
        assert_eq!(
            interleave(&v, 1),
            vec![v[0], v[3], v[1], v[4], v[2]],
            "one of each family in turn"
        );
        assert_eq!(interleave(&v, 2), vec![v[0], v[1], v[3], v[2], v[4]]);
        assert_eq!(interleave(&v[3..], 1), v[3..].to_vec());
        assert!(interleave(&[], 1).is_empty());
    }

    #[test]
    fn families() {
        assert!(Family::V4.admits(&a("1.2.3.4:1")) && !Family::V4.admits(&a("[::1]:1")));
        assert!(Family::V6.admits(&a("[::1]:1")) && Family::Any.admits(&a("1.2.3.4:1")));
        assert_eq!(Family::from_af(libc::AF_INET6), Some(Family::V6));
        assert_eq!(Family::from_af(12345), None);
    }

    #[test]
    fn cache_ttl_rotation_and_clear() {
        let c = DnsCache::default();
        let t0 = Instant::now();
        let ttl = Some(Duration::from_secs(10));
        assert!(c.get("h", 80, ttl, t0).is_none());
        c.put("h", 80, vec![a("1.1.1.1:80"), a("2.2.2.2:80")], 10, t0);
        let first = c.get("h", 80, ttl, t0).unwrap();
        let second = c.get("h", 80, ttl, t0).unwrap();
        assert_ne!(first[0], second[0], "rotates");
        assert!(c.get("h", 81, ttl, t0).is_none(), "per port");
        assert!(c
            .get("h", 80, None, t0 + Duration::from_secs(3600))
            .is_some());
        assert!(
            c.get("h", 80, ttl, t0 + Duration::from_secs(10)).is_none(),
            "expired"
        );
        c.put("h", 80, vec![a("1.1.1.1:80")], 10, t0);
        c.put("g", 80, vec![a("1.1.1.1:80")], 10, t0);
        c.clear(Some(("h", 80)));
        assert_eq!(c.entries().len(), 1);
        c.clear(None);
        assert!(c.entries().is_empty());
    }

    #[test]
    fn cache_size_is_bounded() {
        let c = DnsCache::default();
        let t0 = Instant::now();
        for i in 0..5u16 {
            c.put(
                "h",
                i,
                vec![a("1.1.1.1:80")],
                3,
                t0 + Duration::from_secs(i.into()),
            );
        }
        let keys: Vec<u16> = c.entries().into_iter().map(|((_, p), _)| p).collect();
        assert_eq!(keys.len(), 3);
        assert!(!keys.contains(&0) && !keys.contains(&1));
    }
}
