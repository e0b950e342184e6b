//! aiohttp's rules for the `Authorization` of one hop: the request's `auth=`,
//! credentials in the URL, the session's `auth=` within its base_url origin,
//! and the conflicts that are refused.

use crate::error::{Error, ErrorKind};

/// The credentials of one hop.
///
/// - `auth`: what the previous hop used (the request's `auth=` at first);
/// - `url_auth`: credentials from this hop's URL;
/// - `redirected`: this hop follows a redirect;
/// - `default` / `default_in_scope`: the session's `auth=` and whether this
///   URL is within the session's base_url origin (or there is none);
/// - `has_header`: the request carries its own `Authorization` header.
pub fn hop_auth(
    auth: Option<String>,
    url_auth: Option<String>,
    redirected: bool,
    default: Option<&str>,
    default_in_scope: bool,
    has_header: bool,
) -> Result<Option<String>, Error> {
    if !redirected && auth.is_some() && url_auth.is_some() {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            "Cannot combine AUTH argument with credentials encoded in URL",
        ));
    }
    let mut auth = auth;
    if url_auth.is_some() && (auth.is_none() || redirected) {
        auth = url_auth;
    }
    if auth.is_none() && default_in_scope {
        auth = default.map(str::to_owned);
    }
    if auth.is_some() && has_header {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            "Cannot combine AUTHORIZATION header with AUTH argument or credentials encoded in URL",
        ));
    }
    Ok(auth)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Option<String> {
        Some(v.to_owned())
    }

    #[test]
    fn rules() {
        // The request's auth and URL credentials together: refused at first...
        assert!(hop_auth(s("a"), s("u"), false, None, true, false).is_err());
        // ...but a redirect's URL credentials replace the previous ones.
        assert_eq!(
            hop_auth(s("a"), s("u"), true, None, true, false).unwrap(),
            s("u")
        );
        assert_eq!(
            hop_auth(None, s("u"), false, None, true, false).unwrap(),
            s("u")
        );
        // The session's auth only in scope and when nothing else applies.
        assert_eq!(
            hop_auth(None, None, false, Some("d"), true, false).unwrap(),
            s("d")
        );
        assert_eq!(
            hop_auth(None, None, false, Some("d"), false, false).unwrap(),
            None
        );
        assert_eq!(
            hop_auth(s("a"), None, false, Some("d"), true, false).unwrap(),
            s("a")
        );
        // An Authorization header with any credentials is refused.
        assert!(hop_auth(None, None, false, Some("d"), true, true).is_err());
        assert_eq!(hop_auth(None, None, false, None, true, true).unwrap(), None);
    }
}
