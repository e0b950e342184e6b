//! Sending one hop: check a connection out of the pool, send the request,
//! retry once when a connection fails before answering.

use std::sync::Arc;
use std::time::Instant;

use crate::client::Request;
use crate::error::{Error, ErrorKind};
use crate::policy::timeout;
use crate::pool::{with_deadline, Answer, Key, Lease, Pool};

use super::headers::Prepared;

/// Methods safe to retry once when a connection turns out closed.
fn is_idempotent(method: &str) -> bool {
    matches!(
        method,
        "GET" | "HEAD" | "OPTIONS" | "TRACE" | "PUT" | "DELETE"
    )
}

/// A hop's response head, and the lease of the connection it came on.
pub(crate) type Sent = (Lease, Answer);

/// Send `prepared` on a connection for `key`; an idempotent request whose
/// connection fails before any answer goes once more on a new one.
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
        // (An attempt counts from before its connection, as aiohttp's.)
        let attempt = req.upload.as_ref().map(|u| u.start());
        let mut lease = checkout(pool, req, key, prepared, total, fresh).await?;
        let err = match send_once(&mut lease, req, prepared, attempt).await {
            Ok(resp) => return Ok((lease, resp)),
            Err(e) => e,
        };
        // As aiohttp 3.10+: once, on a fresh connection too; any method
        // when an HTTP/2 server refused the stream unprocessed.
        let retry = req.retry_stale
            && !fresh
            && (is_idempotent(method) || crate::pool::refused(&err))
            && matches!(err.kind, ErrorKind::ServerDisconnected | ErrorKind::Io);
        lease.close = crate::events::CloseReason::Failed;
        drop(lease);
        // (A streamed body goes again only when it can start over: a file.)
        if !retry || !(prepared.replayable() || rewind(req, prepared).await) {
            return Err(err.with_addr(&key.host, key.port, key.tls.is_some()));
        }
        if pool.events.enabled() {
            pool.events.emit(&crate::events::ConnEvent {
                host: &key.host,
                port: key.port,
                kind: crate::events::EventKind::Retry(&err),
            });
        }
        fresh = true;
    }
}

/// The used streamed body made again from its start (a seekable file, as
/// for a 307), for another attempt; false when it cannot be.
async fn rewind(req: &Request, prepared: &mut Prepared) -> bool {
    let Some(r) = &req.body_rewind else {
        return false;
    };
    match r.0.rewind().await {
        Some(s) => {
            prepared.rewound(s);
            true
        }
        None => false,
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
/// around the whole request already); its body counted in `attempt`.
async fn send_once(
    lease: &mut Lease,
    req: &Request,
    prepared: &mut Prepared,
    attempt: Option<crate::body::upload::Attempt>,
) -> Result<Answer, Error> {
    let (request, written) = prepared.outgoing(req.head_limits, attempt);
    // One send future for both ways (two would each take room in this one).
    let mut send = std::pin::pin!(lease.send(request));
    let Some(sock_read) = req.timeouts.sock_read else {
        return send.await;
    };
    // sock_read counts from when the request has been sent, as aiohttp's
    // read timeout: a streamed upload is not timed while it is written.
    if let Some(written) = written {
        tokio::select! {
            biased;
            r = &mut send => return r,
            _ = written => {}
        }
    }
    let deadline = Some((Instant::now() + sock_read, ErrorKind::ReadTimeout));
    with_deadline(deadline, send).await?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods() {
        assert!(is_idempotent("PUT") && !is_idempotent("POST") && !is_idempotent("PATCH"));
    }
}
