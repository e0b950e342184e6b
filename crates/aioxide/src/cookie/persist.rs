//! Saving and loading a jar as JSON, in aiohttp 3.14's `CookieJar.save` format.
//!
//! ```json
//! {"example.com|/": {"sid": {"key": "sid", "value": "1", "coded_value": "1",
//!   "path": "/", "domain": "example.com", "secure": true, "host_only": true,
//!   "expires_timestamp": 1767225600.0, "creation_timestamp": 1735689600.0}}}
//! ```
//!
//! The outer key is `domain|path`, the inner one the name. `value` is the
//! unquoted value, `coded_value` the one received (the one kept). Flags appear
//! only when set; `expires_timestamp` (seconds since the epoch) only for a
//! cookie that expires. `creation_timestamp` is ours; aiohttp ignores it, and
//! files saved by aiohttp load here. A loaded cookie passes the same storage
//! rules as a received one (its host is the key's domain), so a file can't
//! smuggle in a cookie the jar would have refused.

use std::time::SystemTime;

use serde_json::{Map, Value};

use super::date::{from_unix_f64, to_unix_f64};
use super::parse::SetCookie;
use super::quote::unquote;
use super::store::{CookieJar, JarConfig, Origin, StoredCookie};

/// A save file that is not a jar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CookieJsonError {
    pub message: String,
}

impl std::fmt::Display for CookieJsonError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "invalid cookie jar JSON: {}", self.message)
    }
}

impl std::error::Error for CookieJsonError {}

fn err(message: impl Into<String>) -> CookieJsonError {
    CookieJsonError {
        message: message.into(),
    }
}

fn record(c: &StoredCookie) -> Value {
    let mut m = Map::new();
    m.insert("key".into(), c.name.clone().into());
    m.insert("value".into(), unquote(&c.value).into_owned().into());
    m.insert("coded_value".into(), c.value.clone().into());
    m.insert("path".into(), c.path.clone().into());
    if !c.domain.is_empty() {
        m.insert("domain".into(), c.domain.clone().into());
    }
    let strings = [
        ("samesite", &c.same_site),
        ("comment", &c.comment),
        ("version", &c.version),
    ];
    for (k, v) in strings {
        if let Some(v) = v.as_ref().filter(|v| !v.is_empty()) {
            m.insert(k.into(), v.clone().into());
        }
    }
    for (k, v) in [
        ("secure", c.secure),
        ("httponly", c.http_only),
        ("partitioned", c.partitioned),
        ("host_only", c.host_only),
    ] {
        if v {
            m.insert(k.into(), true.into());
        }
    }
    if let Some(e) = c.expires {
        m.insert("expires_timestamp".into(), to_unix_f64(e).into());
    }
    m.insert("creation_timestamp".into(), to_unix_f64(c.creation).into());
    Value::Object(m)
}

/// aiohttp stores flags as `True` (JSON `true`); accept a non-empty string too.
fn truthy(v: Option<&Value>) -> bool {
    match v {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Number(n)) => n.as_f64().is_some_and(|f| f != 0.0),
        _ => false,
    }
}

fn string(rec: &Map<String, Value>, key: &str) -> Result<Option<String>, CookieJsonError> {
    match rec.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(err(format!("{key:?} must be a string"))),
    }
}

fn timestamp(rec: &Map<String, Value>, key: &str) -> Result<Option<SystemTime>, CookieJsonError> {
    match rec.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_f64()
            .and_then(from_unix_f64)
            .map(Some)
            .ok_or_else(|| err(format!("{key:?} must be a finite number"))),
    }
}

/// One cookie read from a save file, before the jar's rules apply.
struct Record {
    index: usize,
    /// The key's domain: the host the cookie is taken as coming from.
    host: String,
    cookie: SetCookie,
    expires: Option<SystemTime>,
    creation: Option<SystemTime>,
}

impl CookieJar {
    /// The jar as JSON in aiohttp's save format (see the module docs).
    pub fn to_json(&self) -> String {
        let mut top = Map::new();
        for c in self.iter() {
            let key = format!("{}|{}", c.domain, c.path);
            let group = top.entry(key).or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(g) = group {
                g.insert(c.name.clone(), record(c));
            }
        }
        Value::Object(top).to_string()
    }

    /// A jar with `config` holding the cookies of a save file (this crate's or
    /// aiohttp's). Cookies expired at `now` are dropped, and so are the ones
    /// the jar would refuse from their host. A file that is not such JSON is an
    /// error; the caller's jar is left as it is.
    pub fn from_json(
        config: JarConfig,
        json: &str,
        now: SystemTime,
    ) -> Result<CookieJar, CookieJsonError> {
        let top: Value = serde_json::from_str(json).map_err(|e| err(e.to_string()))?;
        let Value::Object(top) = top else {
            return Err(err("the top level must be an object"));
        };
        let mut records: Vec<Record> = Vec::new();
        for (key, group) in &top {
            let (key_domain, _) = key
                .split_once('|')
                .ok_or_else(|| err(format!("key {key:?} is not \"domain|path\"")))?;
            let Value::Object(group) = group else {
                return Err(err(format!("{key:?} must map names to cookies")));
            };
            for (name, rec) in group {
                let Value::Object(rec) = rec else {
                    return Err(err(format!("cookie {name:?} in {key:?} must be an object")));
                };
                let name = string(rec, "key")?.unwrap_or_else(|| name.clone());
                let value = match string(rec, "coded_value")? {
                    Some(v) => v,
                    None => string(rec, "value")?.unwrap_or_default(),
                };
                let host_only = truthy(rec.get("host_only"));
                let domain = string(rec, "domain")?.filter(|d| !d.is_empty());
                let cookie = SetCookie {
                    name,
                    value,
                    domain: if host_only { None } else { domain },
                    path: string(rec, "path")?,
                    expires: None,
                    max_age: None,
                    secure: truthy(rec.get("secure")),
                    http_only: truthy(rec.get("httponly")),
                    partitioned: truthy(rec.get("partitioned")),
                    same_site: string(rec, "samesite")?.filter(|s| !s.is_empty()),
                    comment: string(rec, "comment")?.filter(|s| !s.is_empty()),
                    version: string(rec, "version")?.filter(|s| !s.is_empty()),
                };
                let expires = timestamp(rec, "expires_timestamp")?;
                let creation = timestamp(rec, "creation_timestamp")?;
                let host = key_domain.strip_prefix('.').unwrap_or(key_domain);
                let host = host
                    .strip_prefix('[')
                    .and_then(|h| h.strip_suffix(']'))
                    .unwrap_or(host)
                    .to_ascii_lowercase();
                records.push(Record {
                    index: records.len(),
                    host,
                    cookie,
                    expires,
                    creation,
                });
            }
        }
        // Restore in creation order, so ties in the Cookie header keep it.
        records.sort_by(|a, b| a.creation.cmp(&b.creation).then(a.index.cmp(&b.index)));
        let mut jar = CookieJar::new(config);
        for r in records {
            let host = (!r.host.is_empty()).then_some(r.host.as_str());
            let origin = Origin { host, path: "/" };
            // A cookie the rules refuse is skipped, as aiohttp's load does.
            let _ = jar.store(&origin, r.cookie, Some(r.expires), r.creation, now);
        }
        Ok(jar)
    }
}
