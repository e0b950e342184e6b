//! Connection events for a debug log: a connection opened (its peer, TLS
//! version, cipher and protocol), reused, closed (and why), a request
//! retried on a new connection.
//!
//! A pool has one [`Events`]: off by default, where raising an event costs
//! one relaxed atomic load and a branch ([`Events::enabled`]); on, the
//! event is built and handed to the [`EventSink`] (the glue queues it for
//! Python's logging, without waiting).

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crate::connect::ConnMeta;
use crate::error::Error;

/// Why a connection was closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// Idle longer than `keepalive_timeout`.
    IdleTimeout,
    /// Found closed by the server (or it sent something unasked) while idle.
    PeerClosed,
    /// The connector (pool) was closed.
    ConnectorClosed,
    /// `force_close`: never reused.
    ForceClose,
    /// Its response did not allow keep-alive (`Connection: close`,
    /// HTTP/1.0, framing that cannot be trusted).
    NotReusable,
    /// Left before its response's end (released early, cancelled, or a
    /// body error).
    Unfinished,
    /// The request on it failed.
    Failed,
    /// An upgraded connection (a WebSocket) was let go.
    UpgradeEnded,
    /// The server sent GOAWAY, or the HTTP/2 connection ended.
    Ended,
}

impl CloseReason {
    pub fn as_str(self) -> &'static str {
        match self {
            CloseReason::IdleTimeout => "idle timeout",
            CloseReason::PeerClosed => "closed by the server",
            CloseReason::ConnectorClosed => "connector closed",
            CloseReason::ForceClose => "force_close",
            CloseReason::NotReusable => "not reusable",
            CloseReason::Unfinished => "response not read to its end",
            CloseReason::Failed => "request failed",
            CloseReason::UpgradeEnded => "upgraded connection released",
            CloseReason::Ended => "connection ended by the server",
        }
    }
}

/// What happened.
#[derive(Debug, Clone, Copy)]
pub enum EventKind<'a> {
    /// A new connection; `proto` is the protocol when TLS (`h2`,
    /// `http/1.1`) or HTTP/2 without TLS (`h2c`).
    Opened {
        meta: Option<&'a ConnMeta>,
        proto: Option<&'static str>,
    },
    /// An idle connection taken again (or a stream on a shared HTTP/2 one).
    Reused {
        h2: bool,
    },
    Closed(CloseReason),
    /// A request going again on a new connection after this error.
    Retry(&'a Error),
}

/// One connection event, for `host:port` (the pool key's origin).
#[derive(Debug, Clone, Copy)]
pub struct ConnEvent<'a> {
    pub host: &'a str,
    pub port: u16,
    pub kind: EventKind<'a>,
}

impl ConnEvent<'_> {
    /// A short name for the kind: `open`, `reuse`, `close`, `retry`.
    pub fn name(&self) -> &'static str {
        match self.kind {
            EventKind::Opened { .. } => "open",
            EventKind::Reused { .. } => "reuse",
            EventKind::Closed(_) => "close",
            EventKind::Retry(_) => "retry",
        }
    }
}

impl fmt::Display for ConnEvent<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (host, port) = (self.host, self.port);
        match self.kind {
            EventKind::Opened { meta, proto } => {
                write!(f, "connection opened to {host}:{port}")?;
                if let Some(peer) = meta.and_then(|m| m.peer) {
                    if peer.ip().to_string() != host.trim_matches(['[', ']']) {
                        write!(f, " at {peer}")?;
                    }
                }
                match (meta.and_then(|m| m.tls.as_ref()), proto) {
                    (Some(tls), Some(p)) => write!(f, " ({} {} {p})", tls.version, tls.cipher),
                    (Some(tls), None) => write!(f, " ({} {})", tls.version, tls.cipher),
                    (None, Some(p)) => write!(f, " ({p})"),
                    (None, None) => Ok(()),
                }
            }
            EventKind::Reused { h2: false } => write!(f, "connection reused to {host}:{port}"),
            EventKind::Reused { h2: true } => {
                write!(f, "connection reused to {host}:{port} (h2 stream)")
            }
            EventKind::Closed(why) => {
                write!(f, "connection closed to {host}:{port}: {}", why.as_str())
            }
            EventKind::Retry(e) => write!(
                f,
                "retrying on a new connection to {host}:{port}: {}",
                e.message
            ),
        }
    }
}

/// Receives the events of a pool, on the engine's thread: must not block.
pub trait EventSink: Send + Sync {
    fn event(&self, ev: &ConnEvent<'_>);
}

/// A pool's event switch and sink.
#[derive(Default)]
pub struct Events {
    on: AtomicBool,
    sink: Mutex<Option<Arc<dyn EventSink>>>,
}

impl Events {
    /// Whether events are wanted: the one check made when they are not.
    #[inline]
    pub fn enabled(&self) -> bool {
        self.on.load(Ordering::Relaxed)
    }

    /// Send events to `sink` from now on; `None` turns them off.
    pub fn set(&self, sink: Option<Arc<dyn EventSink>>) {
        let mut s = self.sink.lock().unwrap_or_else(|p| p.into_inner());
        self.on.store(sink.is_some(), Ordering::Relaxed);
        *s = sink;
    }

    /// Hand `ev` to the sink (callers check [`Events::enabled`] first).
    #[cold]
    #[inline(never)]
    pub fn emit(&self, ev: &ConnEvent<'_>) {
        let sink = self.sink.lock().unwrap_or_else(|p| p.into_inner()).clone();
        if let Some(sink) = sink {
            sink.event(ev);
        }
    }

    /// A close of a connection to `host:port`, when enabled.
    #[inline]
    pub fn closed(&self, host: &str, port: u16, why: CloseReason) {
        if self.enabled() {
            self.emit(&ConnEvent {
                host,
                port,
                kind: EventKind::Closed(why),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connect::tls::TlsInfo;
    use crate::error::ErrorKind;

    fn tls_meta() -> ConnMeta {
        ConnMeta {
            peer: Some("127.0.0.1:8443".parse().unwrap()),
            local: None,
            tls: Some(TlsInfo {
                cipher: "TLS_AES_128_GCM_SHA256".into(),
                version: "TLSv1.3",
                secret_bits: 128,
                peer_certs: Vec::new(),
                verified: true,
            }),
        }
    }

    fn text(host: &str, port: u16, kind: EventKind<'_>) -> String {
        ConnEvent { host, port, kind }.to_string()
    }

    #[test]
    fn opened() {
        let plain = ConnMeta {
            peer: Some("127.0.0.1:8080".parse().unwrap()),
            ..ConnMeta::default()
        };
        let open = |meta, proto| EventKind::Opened { meta, proto };
        assert_eq!(
            text("127.0.0.1", 8080, open(Some(&plain), None)),
            "connection opened to 127.0.0.1:8080"
        );
        assert_eq!(
            text("localhost", 8080, open(Some(&plain), None)),
            "connection opened to localhost:8080 at 127.0.0.1:8080"
        );
        let tls = tls_meta();
        assert_eq!(
            text("127.0.0.1", 8443, open(Some(&tls), Some("h2"))),
            "connection opened to 127.0.0.1:8443 (TLSv1.3 TLS_AES_128_GCM_SHA256 h2)"
        );
        assert_eq!(
            text("127.0.0.1", 80, open(None, Some("h2c"))),
            "connection opened to 127.0.0.1:80 (h2c)"
        );
        let v6 = ConnMeta {
            peer: Some("[::1]:80".parse().unwrap()),
            ..ConnMeta::default()
        };
        assert_eq!(
            text("[::1]", 80, open(Some(&v6), None)),
            "connection opened to [::1]:80"
        );
    }

    #[test]
    fn reused_closed_retry() {
        assert_eq!(
            text("h", 1, EventKind::Reused { h2: false }),
            "connection reused to h:1"
        );
        assert_eq!(
            text("h", 1, EventKind::Reused { h2: true }),
            "connection reused to h:1 (h2 stream)"
        );
        assert_eq!(
            text("h", 1, EventKind::Closed(CloseReason::IdleTimeout)),
            "connection closed to h:1: idle timeout"
        );
        let e = Error::new(ErrorKind::ServerDisconnected, "Server disconnected");
        let ev = ConnEvent {
            host: "h",
            port: 1,
            kind: EventKind::Retry(&e),
        };
        assert_eq!(ev.name(), "retry");
        assert_eq!(
            ev.to_string(),
            "retrying on a new connection to h:1: Server disconnected"
        );
    }

    struct Count(std::sync::atomic::AtomicUsize);

    impl EventSink for Count {
        fn event(&self, _ev: &ConnEvent<'_>) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    #[test]
    fn switch() {
        let events = Events::default();
        assert!(!events.enabled());
        let sink = Arc::new(Count(Default::default()));
        events.closed("h", 1, CloseReason::ForceClose);
        events.set(Some(sink.clone()));
        assert!(events.enabled());
        events.closed("h", 1, CloseReason::ForceClose);
        events.set(None);
        events.closed("h", 1, CloseReason::ForceClose);
        assert_eq!(sink.0.load(Ordering::Relaxed), 1);
    }
}
