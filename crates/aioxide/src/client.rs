//! The public Rust API: a [`Client`] (aiohttp's session + connector) and the
//! [`Request`] it executes.

use std::sync::Arc;

use bytes::Bytes;

use crate::connect::tls::TlsMode;
use crate::error::Error;
use crate::policy::framing::HeadLimits;
use crate::policy::timeout::Timeouts;
use crate::pool::{Pool, PoolConfig};
use crate::response::Response;

/// Session-wide settings.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    pub pool: PoolConfig,
    /// The `User-Agent` sent unless the request has one.
    pub user_agent: Bytes,
    /// Bodies up to this size are read before the response is handed back...
    pub read_ahead: usize,
    /// ...when they arrive within this time after their head.
    pub read_ahead_grace: std::time::Duration,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            pool: PoolConfig::default(),
            user_agent: Bytes::from(format!("aioxide/{}", env!("CARGO_PKG_VERSION"))),
            read_ahead: 64 * 1024,
            read_ahead_grace: std::time::Duration::from_millis(2),
        }
    }
}

/// One request, as aiohttp's `ClientSession._request` takes it.
#[derive(Debug)]
pub struct Request {
    pub method: String,
    /// An absolute http(s) URL, already percent-encoded: its path and query
    /// are sent exactly as given.
    pub url: String,
    /// Headers in order, duplicates allowed.
    pub headers: Vec<(String, String)>,
    pub body: Option<Bytes>,
    /// A body streamed from elsewhere (instead of `body`): sent with its
    /// length when known, chunked otherwise; it cannot be sent twice.
    pub body_stream: Option<crate::body::request::BodyStream>,
    /// Send the body with `Transfer-Encoding: chunked` (aiohttp's `chunked=True`).
    pub chunked: bool,
    /// The `Content-Type` of `body`, sent unless `headers` has one.
    pub content_type: Option<String>,
    /// A ready `Authorization` value (aiohttp's per-request `auth=`).
    pub auth: Option<String>,
    /// The session's `auth=`: used when the request has none of its own, for
    /// URLs of `default_auth_origin` (the session's base_url) when given.
    pub default_auth: Option<String>,
    pub default_auth_origin: Option<String>,
    pub skip_auto_headers: Vec<String>,
    pub allow_redirects: bool,
    /// 0 means no limit.
    pub max_redirects: u32,
    pub timeouts: Timeouts,
    pub auto_decompress: bool,
    pub tls: TlsMode,
    /// Size limits on the response head.
    pub head_limits: HeadLimits,
    /// Compress the body with this Content-Encoding ("deflate" or "gzip";
    /// aiohttp's `compress=`).
    pub compress: Option<String>,
    /// Send `Expect: 100-continue` and hold the body until the server's
    /// `100 Continue` (or a second, for servers that ignore Expect).
    pub expect_continue: bool,
    /// Speak HTTP/1.0 instead of HTTP/1.1 (aiohttp's `version=`).
    pub http10: bool,
    /// A response without Content-Length or chunked framing is read until
    /// the server closes (`true`), or taken as empty (`false`).
    pub read_until_eof: bool,
    /// The TLS name to send (SNI) and check the certificate against,
    /// instead of the URL's host (aiohttp's `server_hostname=`).
    pub server_hostname: Option<String>,
    /// The session's cookie jar: its cookies go out with each request and
    /// redirect hop, and every response's Set-Cookie goes into it.
    pub cookie_jar: Option<Arc<std::sync::Mutex<crate::cookie::CookieJar>>>,
    /// The request's own cookies (name, encoded value), sent to every hop,
    /// over the jar's of the same name (aiohttp's `cookies=`).
    pub cookies: Vec<(String, String)>,
    /// Retry an idempotent request once on a fresh connection when a
    /// reused one turns out closed by the server (aiohttp 3.10+).
    pub retry_stale: bool,
    /// Remakes `body_stream` for a redirect that keeps the body.
    pub body_rewind: Option<crate::connect::dns::Hook<dyn crate::body::request::Rewind>>,
    /// Requote a redirect's target as yarl does (aiohttp's default).
    pub requote_redirect_url: bool,
    /// Told when a request goes on a connection (for tracing).
    pub on_send: Option<crate::connect::dns::Hook<dyn OnSend>>,
    /// Every hop goes through this proxy (`proxy=`).
    pub proxy: Option<crate::policy::proxy::Proxy>,
    /// A `101 Switching Protocols` answer keeps its connection for the
    /// caller (`ResponseBody::take_upgrade`; WebSockets).
    pub upgrade: bool,
    /// Counts each attempt's body bytes (aiohttp's `upload_tracker=`).
    pub upload: Option<Arc<crate::body::upload::Upload>>,
}

/// Observes each request as it goes on a connection: how the connection
/// was had and the headers sent (aiohttp's tracing signals come from this).
pub trait OnSend: Send + Sync {
    fn sending(&self, conn: crate::response::ConnInfo, headers: &crate::fields::Fields);
}

impl Request {
    pub fn new(method: &str, url: &str) -> Self {
        Request {
            method: method.to_owned(),
            url: url.to_owned(),
            headers: Vec::new(),
            body: None,
            body_stream: None,
            chunked: false,
            content_type: None,
            auth: None,
            default_auth: None,
            default_auth_origin: None,
            skip_auto_headers: Vec::new(),
            allow_redirects: true,
            max_redirects: 10,
            timeouts: Timeouts::from_secs(Some(300.0), None, None, Some(30.0)),
            auto_decompress: true,
            tls: TlsMode::Verify,
            head_limits: HeadLimits::default(),
            compress: None,
            expect_continue: false,
            http10: false,
            read_until_eof: true,
            server_hostname: None,
            cookie_jar: None,
            cookies: Vec::new(),
            retry_stale: true,
            body_rewind: None,
            requote_redirect_url: true,
            on_send: None,
            proxy: None,
            upgrade: false,
            upload: None,
        }
    }

    pub fn get(url: &str) -> Self {
        Request::new("GET", url)
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = Some(body.into());
        self
    }
}

/// A client: a connection pool and settings, cheap to clone and share.
#[derive(Clone)]
pub struct Client {
    pool: Arc<Pool>,
    cfg: Arc<ClientConfig>,
}

impl Default for Client {
    fn default() -> Self {
        Client::new(ClientConfig::default())
    }
}

impl Client {
    pub fn new(cfg: ClientConfig) -> Self {
        Client {
            pool: Pool::new(cfg.pool.clone()),
            cfg: Arc::new(cfg),
        }
    }

    pub fn config(&self) -> &ClientConfig {
        &self.cfg
    }

    pub fn pool(&self) -> &Arc<Pool> {
        &self.pool
    }

    /// Send `req` and follow redirects; the body is left to read.
    /// Must run inside a tokio runtime.
    pub async fn execute(&self, req: Request) -> Result<Response, Error> {
        // A request may allow more header fields than the connector does.
        // A request still waiting for its response when the client is closed
        // ends at once, as aiohttp's do when their connector closes.
        let closed = self.pool.closed();
        tokio::select! {
            biased;
            r = crate::run::execute(&self.pool, &self.cfg, req) => r,
            () = closed => Err(Error::new(
                crate::error::ErrorKind::ConnectorClosed,
                "Connector is closed.",
            )),
        }
    }

    /// Whether `req` may be polled on the caller's thread, its socket out of
    /// the reactor (`connect::direct`): a plain-http origin, not h2c; an
    /// https one when its connection is TLS over TCP (no proxy) and HTTP/1.1
    /// (HTTP/2 off).  (Making a connection that needs TLS or a tunnel is
    /// handed back to the engine: `Target::needs_engine`.)
    pub fn drivable(&self, req: &Request) -> bool {
        use crate::policy::h2::Http2;
        let scheme = |s: &str| {
            req.url
                .get(..s.len())
                .is_some_and(|p| p.eq_ignore_ascii_case(s))
        };
        if scheme("http://") {
            return self.cfg.pool.http2 != Http2::PriorKnowledge;
        }
        scheme("https://") && self.cfg.pool.http2 == Http2::Off && req.proxy.is_none()
    }

    /// Close idle connections and refuse new requests.
    pub fn close(&self) {
        self.pool.close();
    }

    pub fn is_closed(&self) -> bool {
        self.pool.is_closed()
    }
}
