//! The jar: RFC 6265 §5.3 storage and the §5.4 `Cookie` header.

use std::borrow::Cow;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use url::Url;

use super::date::{from_unix_secs, parse_cookie_date};
use super::parse::{
    parse_max_age, parse_set_cookie, CookieRejected, SetCookie, MAX_NAME_VALUE_LEN,
};
use super::quote::encode_value;

/// Cookies taken from one response; the rest are ignored (aiohttp).
pub const MAX_COOKIES_PER_RESPONSE: usize = 50;
/// Cookies per domain before eviction down to [`COOKIE_QUOTA_PER_DOMAIN`].
pub const MAX_COOKIES_PER_DOMAIN: usize = 180;
const COOKIE_QUOTA_PER_DOMAIN: usize = 150;
/// Cookies in the jar before eviction down to [`COOKIE_QUOTA_TOTAL`].
pub const MAX_COOKIES_TOTAL: usize = 3300;
const COOKIE_QUOTA_TOTAL: usize = 3000;
/// Cookies one request carries at most.
pub const MAX_COOKIES_PER_REQUEST: usize = 150;
/// The longest `Cookie` header line (`Cookie: ` included) a request carries.
pub const MAX_COOKIE_HEADER_LEN: usize = 8190;
const COOKIE_HEADER_PREFIX_LEN: usize = b"Cookie: ".len();

/// How a jar behaves; aiohttp's `CookieJar(unsafe=, quote_cookie=, treat_as_secure_origin=)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JarConfig {
    /// Accept (and send) cookies for IP-address hosts.
    pub unsafe_: bool,
    /// Quote values as aiohttp does (see [`super::encode_value`]).
    pub quote_cookie: bool,
    /// Origins `(scheme, host, port)` that get `Secure` cookies over cleartext.
    /// The port is the effective one (80 for `http` without a port).
    pub treat_as_secure_origin: Vec<(String, String, u16)>,
    /// The limits apply (name and value length, cookies per domain and in
    /// all, per request and the header's length). Off for a request's own
    /// `cookies=`, which aiohttp puts in a jar without them.
    pub limits: bool,
}

impl Default for JarConfig {
    fn default() -> Self {
        JarConfig {
            unsafe_: false,
            quote_cookie: true,
            treat_as_secure_origin: Vec::new(),
            limits: true,
        }
    }
}

/// A cookie in the jar (RFC 6265 §5.3's record, plus the attributes aiohttp's
/// `Morsel` shows).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCookie {
    pub name: String,
    /// As received, quotes included.
    pub value: String,
    /// Lowercase, no leading dot; a bare IPv6 address without brackets. Empty
    /// for a shared cookie (inserted with neither a URL nor a Domain), which
    /// goes to every host.
    pub domain: String,
    pub path: String,
    /// Sent to `domain` only, not to its subdomains.
    pub host_only: bool,
    pub secure: bool,
    pub http_only: bool,
    pub partitioned: bool,
    /// `None`: a session cookie.
    pub expires: Option<SystemTime>,
    /// When the first cookie of this identity was stored; kept on replacement.
    pub creation: SystemTime,
    pub same_site: Option<String>,
    /// The `Max-Age` attribute as given (when it was valid).
    pub max_age: Option<String>,
    /// The `Expires` attribute as given (when it parsed).
    pub expires_attr: Option<String>,
    pub comment: Option<String>,
    pub version: Option<String>,
}

impl StoredCookie {
    /// Whether the cookie's expiry is at or before `now`.
    pub fn is_expired(&self, now: SystemTime) -> bool {
        self.expires.is_some_and(|e| e <= now)
    }
}

/// What [`CookieJar::insert`] did with an accepted cookie.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    /// A new cookie.
    Added,
    /// It replaced one of the same name, domain and path (keeping its creation time).
    Replaced,
    /// Its expiry had passed: it removed the cookie of the same identity, if any.
    Expired,
}

/// What the `Cookie` header depends on in a request: its scheme, host, port
/// and path. Build it from a [`Url`] or, on a fast path that has no `Url`,
/// from the parts (host as in the URL: an IPv6 address may keep its brackets,
/// uppercase is lowered).
#[derive(Debug, Clone, Copy)]
pub struct CookieTarget<'a> {
    pub scheme: &'a str,
    pub host: &'a str,
    pub port: u16,
    /// The path, percent-encoded as sent, without the query.
    pub path: &'a str,
}

impl<'a> CookieTarget<'a> {
    pub fn from_url(url: &'a Url) -> Self {
        CookieTarget {
            scheme: url.scheme(),
            host: url.host_str().unwrap_or(""),
            port: url.port_or_known_default().unwrap_or(0),
            path: url.path(),
        }
    }
}

/// Lowercase, without IPv6 brackets: the form domains are stored in.
fn canonical_host(host: &str) -> Cow<'_, str> {
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if host.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(host.to_ascii_lowercase())
    } else {
        Cow::Borrowed(host)
    }
}

fn is_ip(host: &str) -> bool {
    host.parse::<IpAddr>().is_ok()
}

/// RFC 6265 §5.1.3 domain-match: `host` (canonical) domain-matches `domain`.
pub fn domain_match(host: &str, domain: &str) -> bool {
    host == domain
        || (host.len() > domain.len()
            && host.ends_with(domain)
            && host.as_bytes()[host.len() - domain.len() - 1] == b'.'
            && !is_ip(host))
}

/// RFC 6265 §5.1.4 path-match: `request_path` path-matches `cookie_path`.
pub fn path_match(request_path: &str, cookie_path: &str) -> bool {
    request_path == cookie_path
        || (request_path.starts_with(cookie_path)
            && (cookie_path.ends_with('/')
                || request_path.as_bytes().get(cookie_path.len()) == Some(&b'/')))
}

/// RFC 6265 §5.1.4 default-path of a request path.
pub fn default_path(request_path: &str) -> &str {
    if !request_path.starts_with('/') {
        return "/";
    }
    match request_path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &request_path[..i],
    }
}

/// Whether `domain` (canonical) is a public suffix: on the compiled-in Public
/// Suffix List (ICANN and private sections), or an unknown top-level label
/// (the list's implicit `*` rule).
pub fn is_public_suffix(domain: &str) -> bool {
    let domain = domain.strip_suffix('.').unwrap_or(domain);
    if domain.is_empty() || is_ip(domain) {
        return false;
    }
    psl::suffix(domain.as_bytes()).is_some_and(|s| s.as_bytes() == domain.as_bytes())
}

/// A value or name that can't be written into a `Cookie` header.
fn unsendable(name: &str, value: &str) -> bool {
    let ctl = |s: &str| {
        s.bytes()
            .any(|b| matches!(b, 0x00..=0x08 | 0x0A..=0x1F | 0x7F))
    };
    ctl(name) || ctl(value) || name.contains([';', '=']) || value.contains(';')
}

#[derive(Debug)]
struct Entry {
    cookie: StoredCookie,
    /// Insertion order of the identity: the tie-break after creation time.
    seq: u64,
    /// Access generation, for least-recently-used eviction.
    last_access: AtomicU64,
}

/// Where a cookie comes from, for [`CookieJar::store`].
pub(crate) struct Origin<'a> {
    /// The canonical request host; `None` for aiohttp's `update_cookies`
    /// without a URL.
    pub host: Option<&'a str>,
    pub path: &'a str,
}

/// An RFC 6265 cookie store. `Send + Sync`; reads (`cookie_header`) take
/// `&self`, writes `&mut self`.
#[derive(Debug)]
pub struct CookieJar {
    config: JarConfig,
    /// Cookies by their domain ("" for shared cookies).
    domains: HashMap<String, Vec<Entry>>,
    count: usize,
    next_seq: u64,
    access_clock: AtomicU64,
}

impl CookieJar {
    pub fn new(mut config: JarConfig) -> Self {
        for (scheme, host, _) in &mut config.treat_as_secure_origin {
            scheme.make_ascii_lowercase();
            *host = canonical_host(host).into_owned();
        }
        CookieJar {
            config,
            domains: HashMap::new(),
            count: 0,
            next_seq: 0,
            access_clock: AtomicU64::new(0),
        }
    }

    pub fn config(&self) -> &JarConfig {
        &self.config
    }

    /// Cookies stored, expired ones not yet cleared included.
    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The stored cookies in the order they were first stored (expired ones
    /// not yet cleared included: call [`Self::clear_expired`] first to skip them).
    pub fn iter(&self) -> impl Iterator<Item = &StoredCookie> {
        let mut all: Vec<&Entry> = self.domains.values().flatten().collect();
        all.sort_unstable_by_key(|e| e.seq);
        all.into_iter().map(|e| &e.cookie)
    }

    /// Take the `Set-Cookie` fields of a response to a request for `request_url`
    /// (RFC 6265 §5.2 and §5.3). Call it for every response, redirects
    /// included, with that response's URL. Refused fields are skipped; the
    /// number of cookies stored (or deleted by an expiry) is returned.
    pub fn update_from_response<I, B>(
        &mut self,
        request_url: &Url,
        set_cookie: I,
        now: SystemTime,
    ) -> usize
    where
        I: IntoIterator<Item = B>,
        B: AsRef<[u8]>,
    {
        let host = canonical_host(request_url.host_str().unwrap_or(""));
        // A response without a host sets nothing (it would make shared cookies).
        if host.is_empty() || (!self.config.unsafe_ && is_ip(&host)) {
            return 0;
        }
        let origin = Origin {
            host: Some(&host),
            path: request_url.path(),
        };
        let mut taken = 0;
        let mut stored = 0;
        for field in set_cookie {
            if taken >= MAX_COOKIES_PER_RESPONSE {
                break;
            }
            let Ok(cookie) = parse_set_cookie(field.as_ref()) else {
                continue;
            };
            taken += 1;
            if self.store(&origin, cookie, None, None, now).is_ok() {
                stored += 1;
            }
        }
        stored
    }

    /// Store one cookie that was not read from a `Set-Cookie` field: aiohttp's
    /// `update_cookies(cookies, response_url)`, the Python jar building the
    /// [`SetCookie`] from a `Morsel` (its `coded_value` as `value`, its
    /// attributes as given). `origin` is the response URL; `None` (aiohttp's
    /// empty URL) skips the host checks and, without a Domain, stores a shared
    /// cookie that goes to every host.
    pub fn insert(
        &mut self,
        origin: Option<&Url>,
        cookie: SetCookie,
        now: SystemTime,
    ) -> Result<Stored, CookieRejected> {
        // A value given from code is sent quoted when it must be (aiohttp's
        // `SimpleCookie` coding: `a;b` goes as `"a\073b"`), at any length
        // (the Cookie header's own limit applies): only without quoting
        // must it be sendable as it is.  With the limits on (a session's
        // jar, not a request's own cookies), a control character (HTAB too)
        // is refused either way, as aiohttp 3.14.5 does (CVE-2026-3644: the
        // quoted form would carry it as an octal escape).
        if cookie.name.is_empty() {
            return Err(CookieRejected::EmptyName);
        }
        let ctl = |s: &str| s.bytes().any(|b| matches!(b, 0x00..=0x1F | 0x7F));
        if self.config.limits && (ctl(&cookie.name) || ctl(&cookie.value)) {
            return Err(CookieRejected::ControlCharacter);
        }
        let raw = !self.config.quote_cookie || cookie.value.starts_with('"');
        if unsendable(&cookie.name, if raw { &cookie.value } else { "" }) {
            return Err(CookieRejected::ControlCharacter);
        }
        let host;
        let origin = match origin {
            Some(url) => {
                host = canonical_host(url.host_str().unwrap_or(""));
                Origin {
                    host: Some(&host),
                    path: url.path(),
                }
            }
            None => Origin {
                host: None,
                path: "/",
            },
        };
        self.keep(&origin, cookie, None, None, now)
    }

    /// RFC 6265 §5.3. `expiry` overrides the attributes (a saved deadline),
    /// `creation` the creation time (a saved one).
    pub(crate) fn store(
        &mut self,
        origin: &Origin<'_>,
        c: SetCookie,
        expiry: Option<Option<SystemTime>>,
        creation: Option<SystemTime>,
        now: SystemTime,
    ) -> Result<Stored, CookieRejected> {
        if c.name.is_empty() {
            return Err(CookieRejected::EmptyName);
        }
        if self.config.limits {
            if c.name.len() + c.value.len() > MAX_NAME_VALUE_LEN {
                return Err(CookieRejected::TooLong);
            }
            if unsendable(&c.name, &c.value) {
                return Err(CookieRejected::ControlCharacter);
            }
        }
        self.keep(origin, c, expiry, creation, now)
    }

    /// [`CookieJar::store`] once the name and value passed their checks.
    fn keep(
        &mut self,
        origin: &Origin<'_>,
        mut c: SetCookie,
        expiry: Option<Option<SystemTime>>,
        creation: Option<SystemTime>,
        now: SystemTime,
    ) -> Result<Stored, CookieRejected> {
        let host = origin.host.filter(|h| !h.is_empty());
        if let Some(h) = host {
            if !self.config.unsafe_ && is_ip(h) {
                return Err(CookieRejected::IpAddressHost);
            }
        }
        let life = Lifetime::of(c.max_age.take(), c.expires.take(), expiry, now);
        let (domain, host_only) = cookie_domain(c.domain.as_deref(), host)?;
        // §5.2.4: the path.
        let path = match c.path {
            Some(p) if p.starts_with('/') => p,
            _ => default_path(origin.path).to_owned(),
        };
        let existing = self.domains.get(&domain).and_then(|v| {
            v.iter()
                .position(|e| e.cookie.name == c.name && e.cookie.path == path)
        });
        if life.expires.is_some_and(|e| e <= now) {
            if let Some(i) = existing {
                self.remove_at(&domain, i);
            }
            return Ok(Stored::Expired);
        }
        let (creation, seq, outcome) = match existing.and_then(|i| self.remove_at(&domain, i)) {
            Some(old) => (old.cookie.creation, old.seq, Stored::Replaced),
            None => {
                if self.config.limits && !self.make_room(&domain, c.secure, now) {
                    return Err(CookieRejected::DomainFull);
                }
                let seq = self.next_seq;
                self.next_seq += 1;
                (creation.unwrap_or(now), seq, Stored::Added)
            }
        };
        let cookie = StoredCookie {
            name: c.name,
            value: c.value,
            domain: domain.clone(),
            path,
            host_only,
            secure: c.secure,
            http_only: c.http_only,
            partitioned: c.partitioned,
            expires: life.expires,
            creation,
            same_site: c.same_site,
            max_age: life.max_age,
            expires_attr: life.expires_attr,
            comment: c.comment,
            version: c.version,
        };
        self.push(domain, cookie, seq);
        Ok(outcome)
    }

    /// Add a cookie, its place already made.
    fn push(&mut self, domain: String, cookie: StoredCookie, seq: u64) {
        let generation = self.access_clock.fetch_add(1, Ordering::Relaxed) + 1;
        let entry = Entry {
            cookie,
            seq,
            last_access: AtomicU64::new(generation),
        };
        self.domains.entry(domain).or_default().push(entry);
        self.count += 1;
    }

    fn remove_at(&mut self, domain: &str, i: usize) -> Option<Entry> {
        let bucket = self.domains.get_mut(domain)?;
        if i >= bucket.len() {
            return None;
        }
        let entry = bucket.swap_remove(i);
        if bucket.is_empty() {
            self.domains.remove(domain);
        }
        self.count -= 1;
        Some(entry)
    }

    /// Remove the cookies for which `pred` is true; returns how many.
    pub fn clear(&mut self, mut pred: impl FnMut(&StoredCookie) -> bool) -> usize {
        let before = self.count;
        self.domains.retain(|_, bucket| {
            bucket.retain(|e| !pred(&e.cookie));
            !bucket.is_empty()
        });
        self.count = self.domains.values().map(Vec::len).sum();
        before - self.count
    }

    /// Remove every cookie.
    pub fn clear_all(&mut self) {
        self.domains.clear();
        self.count = 0;
    }

    /// Remove the cookies of `domain` and its subdomains (aiohttp's
    /// `clear_domain`); a leading dot and case are ignored.
    pub fn clear_domain(&mut self, domain: &str) -> usize {
        let domain = domain
            .strip_prefix('.')
            .unwrap_or(domain)
            .to_ascii_lowercase();
        self.clear(|c| domain_match(&c.domain, &domain))
    }

    /// Remove the cookies whose expiry is at or before `now`.
    pub fn clear_expired(&mut self, now: SystemTime) -> usize {
        self.clear(|c| c.is_expired(now))
    }

    /// Firefox's eviction before adding a cookie to `domain`, as aiohttp does.
    /// `false`: the domain is full of Secure cookies and the new one isn't.
    fn make_room(&mut self, domain: &str, secure: bool, now: SystemTime) -> bool {
        let domain_count = self.domains.get(domain).map_or(0, Vec::len);
        if domain_count >= MAX_COOKIES_PER_DOMAIN {
            let Some(bucket) = self.domains.get_mut(domain) else {
                return true;
            };
            bucket.retain(|e| !e.cookie.is_expired(now));
            let count = bucket.len();
            let excess = (count + 1).saturating_sub(COOKIE_QUOTA_PER_DOMAIN);
            if excess > 0 {
                let mut candidates: Vec<(u64, u64)> = bucket
                    .iter()
                    .filter(|e| !e.cookie.secure)
                    .map(|e| (e.last_access.load(Ordering::Relaxed), e.seq))
                    .collect();
                if candidates.is_empty() {
                    if count < MAX_COOKIES_PER_DOMAIN {
                        // Expiry freed a slot.
                        self.recount();
                        return true;
                    }
                    if !secure {
                        self.recount();
                        return false;
                    }
                    candidates = bucket
                        .iter()
                        .map(|e| (e.last_access.load(Ordering::Relaxed), e.seq))
                        .collect();
                }
                candidates.sort_unstable();
                let evict: Vec<u64> = candidates.iter().take(excess).map(|&(_, s)| s).collect();
                bucket.retain(|e| !evict.contains(&e.seq));
            }
            if bucket.is_empty() {
                self.domains.remove(domain);
            }
            self.recount();
        }
        if self.count >= MAX_COOKIES_TOTAL {
            self.clear_expired(now);
            let excess = self.count.saturating_sub(COOKIE_QUOTA_TOTAL);
            if excess > 0 {
                let mut all: Vec<(u64, u64)> = self
                    .domains
                    .values()
                    .flatten()
                    .map(|e| (e.last_access.load(Ordering::Relaxed), e.seq))
                    .collect();
                all.sort_unstable();
                let mut evict: Vec<u64> = all.iter().take(excess).map(|&(_, s)| s).collect();
                evict.sort_unstable();
                self.clear_seqs(&evict);
            }
        }
        true
    }

    fn clear_seqs(&mut self, sorted_seqs: &[u64]) {
        self.domains.retain(|_, bucket| {
            bucket.retain(|e| sorted_seqs.binary_search(&e.seq).is_err());
            !bucket.is_empty()
        });
        self.recount();
    }

    fn recount(&mut self) {
        self.count = self.domains.values().map(Vec::len).sum();
    }

    fn is_secure_target(&self, t: &CookieTarget<'_>, host: &str) -> bool {
        t.scheme.eq_ignore_ascii_case("https")
            || t.scheme.eq_ignore_ascii_case("wss")
            || self
                .config
                .treat_as_secure_origin
                .iter()
                .any(|(s, h, p)| s.eq_ignore_ascii_case(t.scheme) && h == host && *p == t.port)
    }

    /// The cookies a request to `t` carries, in §5.4 order (longer paths
    /// first, then earlier creation), within the per-request limits.
    fn select(&self, t: &CookieTarget<'_>, now: SystemTime) -> Vec<&Entry> {
        let mut out: Vec<&Entry> = Vec::new();
        if self.count == 0 {
            return out;
        }
        let host = canonical_host(t.host);
        let secure = self.is_secure_target(t, &host);
        let path = if t.path.is_empty() { "/" } else { t.path };
        let wanted = |e: &&Entry| {
            (secure || !e.cookie.secure)
                && !e.cookie.is_expired(now)
                && path_match(path, &e.cookie.path)
        };
        if let Some(shared) = self.domains.get("") {
            out.extend(shared.iter().filter(wanted));
        }
        if !host.is_empty() {
            let ip = is_ip(&host);
            if !ip || self.config.unsafe_ {
                let mut d: &str = &host;
                loop {
                    if let Some(bucket) = self.domains.get(d) {
                        let exact = d.len() == host.len();
                        out.extend(
                            bucket
                                .iter()
                                .filter(|e| exact || !e.cookie.host_only)
                                .filter(wanted),
                        );
                    }
                    match d.find('.') {
                        Some(i) if !ip => d = &d[i + 1..],
                        _ => break,
                    }
                    if d.is_empty() {
                        break;
                    }
                }
            }
        }
        if out.is_empty() {
            return out;
        }
        out.sort_by(|a, b| {
            b.cookie
                .path
                .len()
                .cmp(&a.cookie.path.len())
                .then(a.cookie.creation.cmp(&b.cookie.creation))
                .then(a.seq.cmp(&b.seq))
        });
        let out = match self.config.limits {
            true => self.within_limits(out),
            false => out,
        };
        let generation = self.access_clock.fetch_add(1, Ordering::Relaxed) + 1;
        for e in &out {
            e.last_access.store(generation, Ordering::Relaxed);
        }
        out
    }

    fn pair_len(&self, e: &Entry) -> usize {
        e.cookie.name.len() + 1 + encode_value(&e.cookie.value, self.config.quote_cookie).len()
    }

    /// Keep at most [`MAX_COOKIES_PER_REQUEST`] cookies in a header of at most
    /// [`MAX_COOKIE_HEADER_LEN`] bytes, admitting the most specific (longest
    /// domain, then longest path) first, as aiohttp does; the order stays.
    fn within_limits<'s>(&self, sorted: Vec<&'s Entry>) -> Vec<&'s Entry> {
        let total: usize = sorted.iter().map(|e| self.pair_len(e) + 2).sum();
        if sorted.len() <= MAX_COOKIES_PER_REQUEST
            && COOKIE_HEADER_PREFIX_LEN - 2 + total <= MAX_COOKIE_HEADER_LEN
        {
            return sorted;
        }
        let mut priority: Vec<usize> = (0..sorted.len()).collect();
        priority.sort_by(|&a, &b| {
            let (x, y) = (&sorted[a].cookie, &sorted[b].cookie);
            y.domain
                .len()
                .cmp(&x.domain.len())
                .then(y.path.len().cmp(&x.path.len()))
                .then(a.cmp(&b))
        });
        let mut admitted = vec![false; sorted.len()];
        let mut len = COOKIE_HEADER_PREFIX_LEN - 2;
        let mut n = 0;
        for i in priority {
            if n >= MAX_COOKIES_PER_REQUEST {
                break;
            }
            let add = self.pair_len(sorted[i]) + 2;
            if len + add > MAX_COOKIE_HEADER_LEN {
                continue;
            }
            len += add;
            n += 1;
            admitted[i] = true;
        }
        sorted
            .into_iter()
            .zip(admitted)
            .filter_map(|(e, keep)| keep.then_some(e))
            .collect()
    }

    /// The cookies a request to `url` carries, in header order (RFC 6265 §5.4).
    /// Duplicated names are kept (a header carries them all); aiohttp's
    /// `filter_cookies` keeps the last (most specific) of each name.
    pub fn matching(&self, url: &Url, now: SystemTime) -> Vec<&StoredCookie> {
        self.matching_target(&CookieTarget::from_url(url), now)
    }

    pub fn matching_target(&self, t: &CookieTarget<'_>, now: SystemTime) -> Vec<&StoredCookie> {
        self.select(t, now).into_iter().map(|e| &e.cookie).collect()
    }

    /// aiohttp's `filter_cookies`: [`Self::matching`] with one cookie per name,
    /// the most specific one (longest domain, then longest path, as aiohttp
    /// picks it), in header order.
    pub fn filter(&self, url: &Url, now: SystemTime) -> Vec<&StoredCookie> {
        self.filter_target(&CookieTarget::from_url(url), now)
    }

    /// [`Self::filter`] for a request given by its parts.
    pub fn filter_target(&self, t: &CookieTarget<'_>, now: SystemTime) -> Vec<&StoredCookie> {
        let all = self.matching_target(t, now);
        let specificity = |c: &StoredCookie| (c.domain.len(), c.path.len());
        let mut best: HashMap<&str, usize> = HashMap::with_capacity(all.len());
        for (i, c) in all.iter().enumerate() {
            let slot = best.entry(c.name.as_str()).or_insert(i);
            if specificity(c) > specificity(all[*slot]) {
                *slot = i;
            }
        }
        all.iter()
            .enumerate()
            .filter(|(i, c)| best.get(c.name.as_str()) == Some(i))
            .map(|(_, c)| *c)
            .collect()
    }

    /// The `Cookie` header for a request to `url`, or `None` when no cookie
    /// applies. O(1) and allocation-free on an empty jar.
    pub fn cookie_header(&self, url: &Url, now: SystemTime) -> Option<String> {
        if self.count == 0 {
            return None;
        }
        self.cookie_header_target(&CookieTarget::from_url(url), now)
    }

    /// [`Self::cookie_header`] for a request given by its parts.
    pub fn cookie_header_target(&self, t: &CookieTarget<'_>, now: SystemTime) -> Option<String> {
        if self.count == 0 {
            return None;
        }
        let selected = self.select(t, now);
        if selected.is_empty() {
            return None;
        }
        let mut out = String::with_capacity(selected.iter().map(|e| self.pair_len(e) + 2).sum());
        for (i, e) in selected.iter().enumerate() {
            if i > 0 {
                out.push_str("; ");
            }
            out.push_str(&e.cookie.name);
            out.push('=');
            out.push_str(&encode_value(&e.cookie.value, self.config.quote_cookie));
        }
        Some(out)
    }
}

/// A cookie's lifetime (RFC 6265 §5.3 step 3): the valid Max-Age and
/// Expires attributes as sent, and when it expires (None: at the session's
/// end).
struct Lifetime {
    max_age: Option<String>,
    expires_attr: Option<String>,
    expires: Option<SystemTime>,
}

impl Lifetime {
    /// Of the Max-Age and Expires attributes as sent: Max-Age wins over
    /// Expires; an invalid one is ignored.  `saved` overrides both (a saved
    /// deadline).
    fn of(
        max_age: Option<String>,
        expires: Option<String>,
        saved: Option<Option<SystemTime>>,
        now: SystemTime,
    ) -> Lifetime {
        let max_age = max_age.filter(|v| parse_max_age(v.as_bytes()).is_some());
        let expires_attr = expires.filter(|v| parse_cookie_date(v.as_bytes()).is_some());
        let expires = match saved {
            Some(e) => e,
            None => match (&max_age, &expires_attr) {
                (Some(m), _) => Some(max_age_deadline(m, now)),
                (None, Some(e)) => parse_cookie_date(e.as_bytes()),
                (None, None) => None,
            },
        };
        Lifetime {
            max_age,
            expires_attr,
            expires,
        }
    }
}

/// When a (valid) Max-Age ends: past the end of time, the end of time; at
/// most zero, "the earliest representable date and time".
fn max_age_deadline(max_age: &str, now: SystemTime) -> SystemTime {
    match parse_max_age(max_age.as_bytes()) {
        Some(delta) if delta > 0 => now
            .checked_add(Duration::from_secs(delta.unsigned_abs()))
            .map_or(from_unix_secs(i64::MAX), |t| {
                t.min(from_unix_secs(i64::MAX))
            }),
        _ => UNIX_EPOCH,
    }
}

/// RFC 6265 §5.2.3 and §5.3 steps 4-6: the domain a cookie is kept under,
/// and whether it is host-only.  A Domain attribute that is a public
/// suffix counts only when it is the host itself (then host-only).
fn cookie_domain(attr: Option<&str>, host: Option<&str>) -> Result<(String, bool), CookieRejected> {
    let mut domain = match attr {
        Some(d) => {
            let d = d.strip_prefix('.').unwrap_or(d);
            if d.is_ascii() {
                d.to_ascii_lowercase()
            } else {
                // §5.1.2: IDNA to A-labels.
                match url::Host::parse(d) {
                    Ok(url::Host::Domain(a)) => a,
                    _ => return Err(CookieRejected::DomainMismatch),
                }
            }
        }
        None => String::new(),
    };
    if !domain.is_empty() && is_public_suffix(&domain) {
        if host != Some(domain.as_str()) {
            return Err(CookieRejected::PublicSuffix);
        }
        domain.clear();
    }
    if domain.is_empty() {
        return Ok(host.map_or((String::new(), false), |h| (h.to_owned(), true)));
    }
    if host.is_some_and(|h| !domain_match(h, &domain)) {
        return Err(CookieRejected::DomainMismatch);
    }
    Ok((domain, false))
}
