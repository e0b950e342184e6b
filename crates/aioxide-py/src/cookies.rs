//! `CookieStore`: the engine's RFC 6265 cookie jar (`aioxide::cookie`) for
//! `aioxide.cookiejar.CookieJar`, which is a thin aiohttp-shaped class over it.
//! The jar sits behind `Arc<Mutex<_>>` so that requests can share it with
//! Python ([`CookieStore::core`]): the engine then takes and sends cookies
//! itself, redirect hops included, without entering Python.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::SystemTime;

use aioxide::cookie::{
    encode_value, unquote, CookieJar, CookieTarget, JarConfig, SetCookie, StoredCookie, Url,
};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedStr;
use pyo3::types::PyDict;

/// A cookie as Python rebuilds a `Morsel` from it: `(name, value,
/// coded_value, attributes, host_only)`. `value` is the unquoted value,
/// `coded_value` the one received; `attributes` holds the `Morsel` keys that
/// are set (`domain`, `path`, `expires`, `max-age`, `secure`, `httponly`,
/// `samesite`, `comment`, `version`, `partitioned`).
type CookieItem<'py> = (String, String, String, Bound<'py, PyDict>, bool);

/// The engine cookie jar (aiohttp's `CookieJar` storage).
#[pyclass(frozen, module = "aioxide._aioxide")]
pub struct CookieStore {
    jar: Arc<Mutex<CookieJar>>,
}

impl CookieStore {
    /// The shared jar, for handing to a request: the engine locks it to set
    /// cookies from each response and to build each request's `Cookie` header.
    pub fn core(&self) -> Arc<Mutex<CookieJar>> {
        Arc::clone(&self.jar)
    }

    fn lock(&self) -> MutexGuard<'_, CookieJar> {
        // The jar is consistent between calls; a panic elsewhere can't tear it.
        self.jar.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn item<'py>(py: Python<'py>, c: &StoredCookie) -> PyResult<CookieItem<'py>> {
    let attrs = PyDict::new(py);
    if !c.domain.is_empty() {
        attrs.set_item("domain", &c.domain)?;
    }
    attrs.set_item("path", &c.path)?;
    let strings = [
        ("expires", &c.expires_attr),
        ("max-age", &c.max_age),
        ("samesite", &c.same_site),
        ("comment", &c.comment),
        ("version", &c.version),
    ];
    for (k, v) in strings {
        if let Some(v) = v {
            attrs.set_item(k, v)?;
        }
    }
    for (k, v) in [
        ("secure", c.secure),
        ("httponly", c.http_only),
        ("partitioned", c.partitioned),
    ] {
        if v {
            attrs.set_item(k, true)?;
        }
    }
    Ok((
        c.name.clone(),
        unquote(&c.value).into_owned(),
        c.value.clone(),
        attrs,
        c.host_only,
    ))
}

/// A URL as the jar takes it; `None` when it does not parse (yarl's `URL()`).
fn parse(url: &str) -> Option<Url> {
    Url::parse(url).ok()
}

/// The target of a request to a URL that does not parse: no host, root path
/// (only shared cookies match, as with aiohttp's `filter_cookies(URL())`).
const NO_TARGET: CookieTarget<'static> = CookieTarget {
    scheme: "",
    host: "",
    port: 0,
    path: "/",
};

#[pymethods]
impl CookieStore {
    /// `treat_as_secure_origin`: `(scheme, host, port)` origins, the port the
    /// effective one; `limits=False` for a request's own cookies.
    #[new]
    #[pyo3(signature = (*, unsafe_=false, quote_cookie=true, treat_as_secure_origin=Vec::new(), limits=true))]
    fn new(
        unsafe_: bool,
        quote_cookie: bool,
        treat_as_secure_origin: Vec<(String, String, u16)>,
        limits: bool,
    ) -> Self {
        CookieStore {
            jar: Arc::new(Mutex::new(CookieJar::new(JarConfig {
                unsafe_,
                quote_cookie,
                treat_as_secure_origin,
                limits,
            }))),
        }
    }

    #[getter]
    fn unsafe_(&self) -> bool {
        self.lock().config().unsafe_
    }

    #[getter]
    fn quote_cookie(&self) -> bool {
        self.lock().config().quote_cookie
    }

    /// A store with the same configuration and no cookies.
    fn empty_copy(&self) -> Self {
        let config = self.lock().config().clone();
        CookieStore {
            jar: Arc::new(Mutex::new(CookieJar::new(config))),
        }
    }

    /// Take the `Set-Cookie` field values of a response to `url`; returns how
    /// many cookies were stored (or deleted). A URL that doesn't parse sets none.
    fn update_from_headers(&self, url: &str, set_cookie: Vec<PyBackedStr>) -> usize {
        let Some(url) = parse(url) else {
            return 0;
        };
        self.lock().update_from_response(
            &url,
            set_cookie.iter().map(|s| s.as_bytes()),
            SystemTime::now(),
        )
    }

    /// Store one cookie built from a `Morsel` (`value` is its `coded_value`).
    /// `origin_url`: the response URL; `None` skips the host checks and, without
    /// a domain, makes a shared cookie. Returns whether the jar accepted it.
    #[pyo3(signature = (origin_url, name, value, *, domain=None, path=None, expires=None, max_age=None, secure=false, httponly=false, partitioned=false, samesite=None, comment=None, version=None))]
    #[allow(clippy::too_many_arguments)]
    fn insert(
        &self,
        origin_url: Option<&str>,
        name: String,
        value: String,
        domain: Option<String>,
        path: Option<String>,
        expires: Option<String>,
        max_age: Option<String>,
        secure: bool,
        httponly: bool,
        partitioned: bool,
        samesite: Option<String>,
        comment: Option<String>,
        version: Option<String>,
    ) -> bool {
        let origin = match origin_url {
            Some(u) => match parse(u) {
                Some(url) => Some(url),
                None => return false,
            },
            None => None,
        };
        let non_empty = |v: Option<String>| v.filter(|s| !s.is_empty());
        let cookie = SetCookie {
            name,
            value,
            domain: non_empty(domain),
            path: non_empty(path),
            expires: non_empty(expires),
            max_age: non_empty(max_age),
            secure,
            http_only: httponly,
            partitioned,
            same_site: non_empty(samesite),
            comment: non_empty(comment),
            version: non_empty(version),
        };
        self.lock()
            .insert(origin.as_ref(), cookie, SystemTime::now())
            .is_ok()
    }

    /// aiohttp's `filter_cookies`: `(name, value, coded_value)` of the cookies a
    /// request to `url` carries, one per name, in header order; `coded_value`
    /// is as the `Cookie` header writes it (`quote_cookie` applied).
    fn filter(&self, url: &str) -> Vec<(String, String, String)> {
        let jar = self.lock();
        let quote = jar.config().quote_cookie;
        let now = SystemTime::now();
        let parsed = parse(url);
        let found = match &parsed {
            Some(u) => jar.filter(u, now),
            None => jar.filter_target(&NO_TARGET, now),
        };
        found
            .into_iter()
            .map(|c| {
                (
                    c.name.clone(),
                    unquote(&c.value).into_owned(),
                    encode_value(&c.value, quote).into_owned(),
                )
            })
            .collect()
    }

    /// Every cookie a request to `url` carries, in header order (duplicate
    /// names kept), as `(name, value, coded_value, attributes, host_only)`.
    fn matching<'py>(&self, py: Python<'py>, url: &str) -> PyResult<Vec<CookieItem<'py>>> {
        let jar = self.lock();
        let now = SystemTime::now();
        let parsed = parse(url);
        let found = match &parsed {
            Some(u) => jar.matching(u, now),
            None => jar.matching_target(&NO_TARGET, now),
        };
        found.into_iter().map(|c| item(py, c)).collect()
    }

    /// The `Cookie` header for a request to `url`, or `None`.
    fn cookie_header(&self, url: &str) -> Option<String> {
        let jar = self.lock();
        let now = SystemTime::now();
        match parse(url) {
            Some(u) => jar.cookie_header(&u, now),
            None => jar.cookie_header_target(&NO_TARGET, now),
        }
    }

    /// All stored cookies in storage order, expired ones not yet cleared
    /// included, as `(name, value, coded_value, attributes, host_only)`.
    fn items<'py>(&self, py: Python<'py>) -> PyResult<Vec<CookieItem<'py>>> {
        self.lock().iter().map(|c| item(py, c)).collect()
    }

    fn __len__(&self) -> usize {
        self.lock().len()
    }

    /// Remove the cookies with these `(name, domain, path)` identities;
    /// returns how many.
    fn clear_where(&self, keys: Vec<(String, String, String)>) -> usize {
        if keys.is_empty() {
            return 0;
        }
        let keys: HashSet<(&str, &str, &str)> = keys
            .iter()
            .map(|(n, d, p)| (n.as_str(), d.as_str(), p.as_str()))
            .collect();
        self.lock()
            .clear(|c| keys.contains(&(c.name.as_str(), c.domain.as_str(), c.path.as_str())))
    }

    /// Remove every cookie.
    fn clear_all(&self) {
        self.lock().clear_all();
    }

    /// Remove the cookies of `domain` and its subdomains; returns how many.
    fn clear_domain(&self, domain: &str) -> usize {
        self.lock().clear_domain(domain)
    }

    /// Remove the expired cookies; returns how many.
    fn clear_expired(&self) -> usize {
        self.lock().clear_expired(SystemTime::now())
    }

    /// The jar in aiohttp 3.14's `CookieJar.save` JSON format.
    fn to_json(&self) -> String {
        self.lock().to_json()
    }

    /// Replace the cookies with those of a save file (this format or
    /// aiohttp's). Raises ValueError for JSON that is not a jar, leaving the
    /// cookies as they were.
    fn load_json(&self, json: &str) -> PyResult<()> {
        let config = self.lock().config().clone();
        let loaded = CookieJar::from_json(config, json, SystemTime::now())
            .map_err(|e| PyValueError::new_err(e.to_string()))?;
        *self.lock() = loaded;
        Ok(())
    }

    /// Replace the cookies with `other`'s, leaving `other` empty (the jar
    /// object itself stays, so requests holding it see the new cookies).
    fn take_from(&self, other: &CookieStore) {
        if Arc::ptr_eq(&self.jar, &other.jar) {
            return;
        }
        let config = self.lock().config().clone();
        let taken = std::mem::replace(&mut *other.lock(), CookieJar::new(config));
        *self.lock() = taken;
    }
}
