//! One request's flow, hop after hop (redirects).  Each hop is a sequence
//! of small steps: choose auth -> prepare -> send -> check head -> store
//! cookies -> decide redirect.
//!
//! - `crate::dest`: what the engine needs of a URL (checks, target, Host);
//! - `headers`: the request as it goes on the wire (automatic headers,
//!   framing rules, the body across redirects);
//! - `cookies`: the `Cookie` header of a hop and the `Set-Cookie` stored;
//! - `send`: a connection from the pool, the request on it, one retry.

mod cookies;
pub mod headers;
mod send;

use std::sync::Arc;
use std::time::Instant;

use crate::connect::Tunnel;
use crate::fields::Fields;
use bytes::Bytes;

pub use crate::dest::{basic_auth, parse_dest, parse_dest_owned, parse_url, request_target, Dest};

use crate::body::decode::Decoder;
use crate::body::encode;
use crate::client::{ClientConfig, Request};
use crate::error::{Error, ErrorKind};
use crate::policy::decompress::coding_for;
use crate::policy::framing;
use crate::policy::redirect;
use crate::policy::timeout::{self, Deadline};
use crate::pool::{with_deadline, Key, Pool};
use crate::request::RequestInfo;
use crate::response::{Response, ResponseBody, ResponseHead};
use headers::{has_header, Hop, Payload, Prepared};

/// Run one request to its final response (redirects followed).
pub async fn execute(
    pool: &Arc<Pool>,
    cfg: &ClientConfig,
    req: Request,
) -> Result<Response, Error> {
    let start = Instant::now();
    let total = timeout::total_deadline(start, &req.timeouts);
    // The total deadline bounds everything, even steps that check no deadline.
    match with_deadline(total, Box::pin(run(pool, cfg, req, total))).await {
        Ok(r) => r,
        Err(e) => Err(e),
    }
}

async fn run(
    pool: &Arc<Pool>,
    cfg: &ClientConfig,
    req: Request,
    total: Option<Deadline>,
) -> Result<Response, Error> {
    let mut flow = Flow::start(req)?;
    loop {
        flow.choose_auth()?;
        let key = key_for(&flow.dest, &flow.req, flow.route.as_ref(), cfg.pool.http2);
        let mut prepared = flow.prepare(cfg, &key.tunnel)?;
        let sent = Box::pin(send::send(
            pool,
            &flow.req,
            &key,
            &mut prepared,
            &flow.method,
            total,
        ))
        .await;
        let info = flow.request_info(prepared);
        let sent = sent.map_err(|e| e.with_request(&info))?;
        let mut answer = flow.check_answer(sent, info.clone(), total)?;
        // A redirect keeps its connection when its small body comes at once;
        // never wait on it (dropping an unfinished body closes the connection).
        if !answer.body.read_ahead_at_once(cfg.read_ahead) {
            Box::pin(answer.body.read_ahead(cfg.read_ahead, cfg.read_ahead_grace)).await;
        }
        let Some(location) = answer.location else {
            return Ok(Response {
                head: answer.head,
                history: flow.history,
                body: answer.body,
            });
        };
        drop(answer.body);
        flow.follow(answer.head, &location, &info).await?;
    }
}

/// What carries from one hop to the next.
struct Flow {
    req: Request,
    dest: Dest,
    /// The session's base_url: where its `auth=` applies, when given.
    default_origin: Option<Dest>,
    method: String,
    headers: Vec<(String, String)>,
    body: Payload,
    /// The body's Content-Encoding (`compress=`); compressed once, resent so.
    coding: Option<String>,
    auth: Option<String>,
    history: Vec<ResponseHead>,
    /// No hop left the first origin yet: the request's `cookies=` apply.
    same_origin_so_far: bool,
    /// The proxy every hop goes through.
    route: Option<crate::policy::proxy::Route>,
}

/// A hop's answer, checked: its head, its body, where it redirects.
struct Answer {
    head: ResponseHead,
    body: Box<ResponseBody>,
    location: Option<String>,
}

impl Flow {
    fn start(mut req: Request) -> Result<Flow, Error> {
        let dest = parse_dest_owned(std::mem::take(&mut req.url), false)?;
        let default_origin = match &req.default_auth_origin {
            Some(o) => Some(parse_dest(o, false)?),
            None => None,
        };
        let headers = std::mem::take(&mut req.headers);
        let mut body = match (req.body.take(), req.body_stream.take()) {
            (_, Some(stream)) => Payload::Stream(Some(stream)),
            (Some(b), None) => Payload::Bytes(b),
            (None, None) => Payload::None,
        };
        let coding = compress_body(&req, &headers, &mut body)?;
        let route = match &req.proxy {
            Some(p) => Some(crate::policy::proxy::Route::new(p)?),
            None => None,
        };
        Ok(Flow {
            route,
            method: {
                let mut m = std::mem::take(&mut req.method);
                m.make_ascii_uppercase();
                m
            },
            auth: req.auth.take(),
            req,
            dest,
            default_origin,
            headers,
            body,
            coding,
            history: Vec::new(),
            same_origin_so_far: true,
        })
    }

    /// Step 1: the hop's `Authorization` (policy/auth.rs).
    fn choose_auth(&mut self) -> Result<(), Error> {
        let url_auth = self.dest.auth.take();
        let in_scope = match &self.default_origin {
            None => true,
            Some(o) => o.same_origin(&self.dest),
        };
        self.auth = crate::policy::auth::hop_auth(
            self.auth.take(),
            url_auth,
            !self.history.is_empty(),
            self.req.default_auth.as_deref(),
            in_scope,
            has_header(&self.headers, "authorization"),
        )?;
        Ok(())
    }

    /// Step 2: the request as it goes on the wire, with this hop's cookies.
    fn prepare(&mut self, cfg: &ClientConfig, tunnel: &Tunnel) -> Result<Prepared, Error> {
        let payload = std::mem::replace(&mut self.body, Payload::None);
        let coding = match payload.is_nonempty() {
            true => self.coding.as_deref(),
            false => None,
        };
        let req_cookies: &[(String, String)] = match self.same_origin_so_far {
            true => &self.req.cookies,
            false => &[],
        };
        let headers = cookies::with_cookies(&self.req, req_cookies, &self.dest, &self.headers);
        let hop = Hop {
            method: &self.method,
            dest: &self.dest,
            headers: &headers,
            auth: &self.auth,
            coding,
            forward: tunnel.is_forward().then(|| tunnel.request_headers()),
        };
        headers::prepare(cfg, &self.req, &hop, payload)
    }

    /// After sending: the body back (for a redirect), what was sent.
    fn request_info(&mut self, prepared: Prepared) -> Arc<RequestInfo> {
        self.body = prepared.body;
        Arc::new(RequestInfo {
            method: self.method.clone(),
            url: self.dest.url.clone(),
            headers: prepared.headers,
        })
    }

    /// Step 4: check the head, store its cookies, frame its body.
    fn check_answer(
        &self,
        (lease, resp): send::Sent,
        info: Arc<RequestInfo>,
        total: Option<Deadline>,
    ) -> Result<Answer, Error> {
        let status = resp.status;
        let fields = &resp.fields;
        cookies::store_cookies(&self.req, &self.dest.url, fields);
        let location = self.redirect_location(status, fields);
        let decoder = self.decoder(fields)?;
        if let Err(msg) = framing::check_head(resp.reason.len(), fields, &self.req.head_limits) {
            // The connection is dropped with the lease: never reused.
            return Err(Error::new(ErrorKind::BadResponse, msg).with_request(&info));
        }
        let reusable = !ambiguous_framing(fields);
        // HTTP/2 frames every body (END_STREAM): none runs until the close.
        let until_close = resp.version.0 < 2 && self.until_close(status, fields);
        let head = ResponseHead {
            status,
            reason: String::from_utf8_lossy(&resp.reason).into_owned(),
            version: resp.version,
            url: self.dest.url.clone(),
            headers: resp.fields,
            request: info,
            conn: lease.meta.clone(),
        };
        let mut body = Box::new(if resp.upgrade && self.req.upgrade {
            // 101: the connection is the caller's now (a WebSocket).
            let up = lease
                .upgrade_body(resp.body)
                .map_err(|e| e.with_request(&head.request))?;
            ResponseBody::upgraded(up)
        } else if until_close {
            // read_until_eof=False: a body framed by the connection's end is
            // taken as empty, and the connection is closed.
            let mut lease = lease;
            lease.close = crate::events::CloseReason::NotReusable;
            drop((resp.body, lease));
            ResponseBody::complete(Bytes::new())
        } else {
            ResponseBody::new(resp.body, decoder, lease, total, self.req.timeouts)
        });
        if !reusable {
            body.forbid_reuse();
        }
        Ok(Answer {
            head,
            body,
            location,
        })
    }

    /// Where a response redirects to, when it does and redirects are followed.
    fn redirect_location(&self, status: u16, headers: &Fields) -> Option<String> {
        if !self.req.allow_redirects || !redirect::is_redirect(status) {
            return None;
        }
        headers
            .get("location")
            .or_else(|| headers.get("uri"))
            .map(|v| String::from_utf8_lossy(v).into_owned())
    }

    fn decoder(&self, headers: &Fields) -> Result<Option<Box<Decoder>>, Error> {
        let coding = headers.get_str("content-encoding");
        match coding_for(coding) {
            Some(c) if self.req.auto_decompress => Ok(Some(Box::new(Decoder::new(c)?))),
            _ => Ok(None),
        }
    }

    /// `read_until_eof=False` and a body framed by the connection's end.
    fn until_close(&self, status: u16, headers: &Fields) -> bool {
        !self.req.read_until_eof
            && self.method != "HEAD"
            && !matches!(status, 100..=199 | 204 | 304)
            && !headers.contains("content-length")
            && !headers.contains("transfer-encoding")
    }

    /// Step 5: decide the redirect (policy/redirect.rs) and set up the next
    /// hop: its URL, method, body, credentials and headers.
    async fn follow(
        &mut self,
        head: ResponseHead,
        location: &str,
        info: &Arc<RequestInfo>,
    ) -> Result<(), Error> {
        let status = head.status;
        self.history.push(head);
        if redirect::too_many(self.history.len(), self.req.max_redirects) {
            let history = std::mem::take(&mut self.history);
            return Err(
                Error::new(ErrorKind::TooManyRedirects, "Exceeded redirect limit")
                    .with_request(info)
                    .with_history(history),
            );
        }
        let step = redirect::step(
            status,
            &self.method,
            &self.dest.url,
            location,
            self.req.requote_redirect_url,
        )?;
        self.method = step.method;
        self.carry_body(step.keep_body, info).await?;
        let next = parse_dest(&step.url, true)?;
        if !step.same_origin {
            // aiohttp drops the request's cookies= with its auth here.
            self.same_origin_so_far = false;
            self.auth = None;
        }
        let dropped = step.dropped;
        self.headers
            .retain(|(k, _)| !dropped.iter().any(|d| k.eq_ignore_ascii_case(d)));
        self.dest = next;
        Ok(())
    }

    /// The body of the next hop: none, the same, or a stream rewound.
    async fn carry_body(&mut self, keep_body: bool, info: &Arc<RequestInfo>) -> Result<(), Error> {
        if !keep_body {
            self.body = Payload::None;
            return Ok(());
        }
        if !matches!(self.body, Payload::Stream(None)) {
            return Ok(());
        }
        if let Some(r) = &self.req.body_rewind {
            if let Some(mut s) = r.0.rewind().await {
                if let Some(c) = self.coding.as_deref() {
                    s = s.compressed(c);
                }
                self.body = Payload::Stream(Some(s));
                return Ok(());
            }
        }
        Err(Error::payload(
            "Cannot follow redirect with a consumed request body. \
             Use bytes, a seekable file-like object, or set allow_redirects=False.",
        )
        .with_request(info))
    }
}

/// `compress=`: the body compressed once, here; its Content-Encoding.
fn compress_body(
    req: &Request,
    headers: &[(String, String)],
    body: &mut Payload,
) -> Result<Option<String>, Error> {
    let c = match req.compress.as_deref() {
        None => return Ok(None),
        Some(c) if !encode::is_supported(c) => {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!("compress must be 'deflate' or 'gzip', not {c:?}"),
            ));
        }
        Some(_) if !body.is_nonempty() => return Ok(None),
        Some(c) => c,
    };
    if has_header(headers, "content-encoding") {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            "compress can not be set if Content-Encoding header is set",
        ));
    }
    *body = match std::mem::replace(body, Payload::None) {
        Payload::Bytes(b) => Payload::Bytes(encode::compress(c, &b).unwrap_or_default()),
        Payload::Stream(Some(s)) => Payload::Stream(Some(s.compressed(c))),
        other => other,
    };
    Ok(Some(c.to_ascii_lowercase()))
}

fn key_for(
    dest: &Dest,
    req: &Request,
    route: Option<&crate::policy::proxy::Route>,
    http2: crate::policy::h2::Http2,
) -> Key {
    let tunnel = route.map_or(Tunnel::None, |r| r.tunnel(dest, &req.tls));
    Key {
        alpn: crate::policy::h2::alpn_for(dest.tls, &tunnel, req.upgrade || req.http10, http2),
        host: dest.host.clone(),
        port: dest.port,
        tls: dest.tls.then(|| req.tls.clone()),
        server_name: if dest.tls {
            req.server_hostname.clone()
        } else {
            None
        },
        tunnel,
    }
}

/// A response framed two ways must not leave its connection reusable.
fn ambiguous_framing(h: &Fields) -> bool {
    h.contains("transfer-encoding") && h.contains("content-length")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framing() {
        let mut h = Fields::default();
        h.push("Content-Length", "3");
        assert!(!ambiguous_framing(&h));
        h.push("transfer-encoding", "chunked");
        assert!(ambiguous_framing(&h));
    }
}
