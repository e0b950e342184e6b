//! Sending one hop: check a connection out of the pool, send the request,
//! retry once on a stale reused connection.

use std::sync::Arc;
use std::time::Instant;

use crate::client::Request;
use crate::error::{Error, ErrorKind};
use crate::policy::timeout;
use crate::pool::{with_deadline, Key, Lease, Pool};

use super::headers::Prepared;

/// Methods safe to retry once when a reused connection turns out closed.
fn is_idempotent(method: &str) -> bool {
    matches!(
        method,
        "GET" | "HEAD" | "OPTIONS" | "TRACE" | "PUT" | "DELETE"
    )
}

/// A hop's response head, and the lease of the connection it came on.
pub(crate) type Sent = (Lease, http::Response<hyper::body::Incoming>);

/// Send `prepared` on a connection for `key`; a request that fails on a
/// reused connection before any answer goes once more on a new one.
pub(crate) async fn send(
    pool: &Arc<Pool>,
    req: &Request,
    key: &Key,
    prepared: &mut Prepared,
    method: &str,
    total: Option<timeout::Deadline>,
) -> Result<Sent, Error> {
    let mut fresh = false;
    loop {
        let mut lease = checkout(pool, req, key, prepared, total, fresh).await?;
        let err = match send_once(&mut lease, req, prepared).await? {
            Ok(resp) => return Ok((lease, resp)),
            Err(e) => send_error(e),
        };
        let retry = req.retry_stale
            && lease.reused
            && !fresh
            && prepared.replayable()
            && is_idempotent(method)
            && matches!(err.kind, ErrorKind::ServerDisconnected | ErrorKind::Io);
        drop(lease);
        if !retry {
            return Err(err.with_addr(&key.host, key.port, key.tls.is_some()));
        }
        fresh = true;
    }
}

/// A connection for `key` (bounded by the connect timeouts), announced to
/// the `on_send` hook.
async fn checkout(
    pool: &Arc<Pool>,
    req: &Request,
    key: &Key,
    prepared: &Prepared,
    total: Option<timeout::Deadline>,
    fresh: bool,
) -> Result<Lease, Error> {
    let acquire = match req.timeouts.connect {
        Some(_) => timeout::acquire_deadline(Instant::now(), total, &req.timeouts),
        None => total,
    };
    let timeouts = req.timeouts;
    let lease = pool
        .acquire(
            key,
            acquire,
            |t| timeout::sock_connect_deadline(t, acquire, &timeouts),
            fresh,
        )
        .await?;
    if let Some(hook) = &req.on_send {
        let info = crate::response::ConnInfo {
            reused: lease.reused,
            queued: lease.queued,
            dns: lease.dns,
        };
        hook.0.sending(info, &prepared.headers);
    }
    Ok(lease)
}

/// One attempt, bounded by `sock_read` (the total deadline is enforced
/// around the whole request already).
async fn send_once(
    lease: &mut Lease,
    req: &Request,
    prepared: &mut Prepared,
) -> Result<hyper::Result<http::Response<hyper::body::Incoming>>, Error> {
    let Some(sender) = lease.sender() else {
        return Err(Error::new(
            ErrorKind::ServerDisconnected,
            "Server disconnected",
        ));
    };
    let deadline = req
        .timeouts
        .sock_read
        .map(|d| (Instant::now() + d, ErrorKind::ReadTimeout));
    with_deadline(deadline, sender.send_request(prepared.build())).await
}

/// The engine's error for a failed exchange, keeping hyper's as its source.
pub(crate) fn send_error(e: hyper::Error) -> Error {
    let err = if e.is_parse() || e.is_parse_status() {
        Error::new(ErrorKind::BadResponse, format!("Invalid response: {e}"))
    } else if e.is_canceled() || e.is_incomplete_message() || e.is_closed() {
        Error::new(ErrorKind::ServerDisconnected, "Server disconnected")
    } else if e.is_user() {
        Error::new(ErrorKind::InvalidArgument, e.to_string())
    } else {
        let io = std::error::Error::source(&e).and_then(|s| s.downcast_ref::<std::io::Error>());
        match io {
            // A TLS peer that hangs up without close_notify: a disconnect.
            Some(ioe) if ioe.kind() == std::io::ErrorKind::UnexpectedEof => Error::new(
                ErrorKind::ServerDisconnected,
                format!("Server disconnected: {ioe}"),
            ),
            Some(ioe) => Error::new(ErrorKind::Io, ioe.to_string()).with_io(ioe),
            None => Error::new(
                ErrorKind::ServerDisconnected,
                format!("Server disconnected: {e}"),
            ),
        }
    };
    err.with_source(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods() {
        assert!(is_idempotent("PUT") && !is_idempotent("POST") && !is_idempotent("PATCH"));
    }
}
