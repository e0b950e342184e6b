//! Cookies of one hop: the `Cookie` header sent, the `Set-Cookie` stored.

use std::borrow::Cow;
use std::time::SystemTime;

use crate::fields::Fields;
use url::Url;

use crate::client::Request;
use crate::cookie::{CookieJar, CookieTarget};
use crate::dest::Dest;

/// The headers of one hop with its `Cookie` header: the user's own `Cookie`
/// header, overridden by the jar's cookies for this URL, overridden by the
/// request's `cookies=` (aiohttp's order).  Untouched when there are none.
pub(crate) fn with_cookies<'a>(
    req: &Request,
    req_cookies: &[(String, String)],
    dest: &Dest,
    headers: &'a [(String, String)],
) -> Cow<'a, [(String, String)]> {
    let jar = req
        .cookie_jar
        .as_ref()
        .map(|j| j.lock().unwrap_or_else(|p| p.into_inner()));
    let jar = jar.filter(|j| !j.is_empty());
    if jar.is_none() && req_cookies.is_empty() {
        return Cow::Borrowed(headers);
    }
    let now = SystemTime::now();
    let target = CookieTarget {
        scheme: if dest.tls { "https" } else { "http" },
        host: &dest.host,
        port: dest.port,
        path: dest.target.split('?').next().unwrap_or("/"),
    };
    let user = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("cookie"))
        .map(|(_, v)| v.as_str());
    let value = if user.is_none() && req_cookies.is_empty() {
        jar.and_then(|j| j.cookie_header_target(&target, now))
    } else {
        merged(user, jar.as_deref(), &target, now, req_cookies)
    };
    let Some(value) = value else {
        return Cow::Borrowed(headers);
    };
    let mut out: Vec<(String, String)> = headers
        .iter()
        .filter(|(k, _)| !k.eq_ignore_ascii_case("cookie"))
        .cloned()
        .collect();
    out.push(("Cookie".to_owned(), value));
    Cow::Owned(out)
}

/// The `Cookie` value from the user's header, the jar and `cookies=`, later
/// ones overriding earlier ones of the same name.
fn merged(
    user: Option<&str>,
    jar: Option<&CookieJar>,
    target: &CookieTarget<'_>,
    now: SystemTime,
    req_cookies: &[(String, String)],
) -> Option<String> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    let mut upsert = |name: &str, value: String| match pairs.iter_mut().find(|(n, _)| n == name) {
        Some(p) => p.1 = value,
        None => pairs.push((name.to_owned(), value)),
    };
    for part in user.unwrap_or("").split(';') {
        if let Some((n, v)) = part.trim().split_once('=') {
            upsert(n.trim(), v.trim().to_owned());
        }
    }
    if let Some(j) = jar {
        let quote = j.config().quote_cookie;
        for c in j.matching_target(target, now) {
            upsert(
                &c.name,
                crate::cookie::encode_value(&c.value, quote).into_owned(),
            );
        }
    }
    for (n, v) in req_cookies {
        upsert(n, v.clone());
    }
    if pairs.is_empty() {
        return None;
    }
    let joined: Vec<String> = pairs.iter().map(|(n, v)| format!("{n}={v}")).collect();
    Some(joined.join("; "))
}

/// Put a response's Set-Cookie headers into the session's jar.
pub(crate) fn store_cookies(req: &Request, url: &str, headers: &Fields) {
    let Some(jar) = &req.cookie_jar else { return };
    if !headers.contains("set-cookie") {
        return;
    }
    let Ok(url) = Url::parse(url) else { return };
    jar.lock()
        .unwrap_or_else(|p| p.into_inner())
        .update_from_response(&url, headers.get_all("set-cookie"), SystemTime::now());
}
