//! The exchange record: every request a namespace receives is journaled once as an
//! `http.exchange` event (and logged): built from the request as it arrives (method, host,
//! path, query with secrets redacted, header names, the client certificate's thumbprint, where a
//! fixture secret showed), finished with the answer's status and time, or with 499 when the
//! client went away first. When the namespace records bodies, the request's is copied as the
//! service reads it (its first 16 KiB) and the response's is read whole when its size is known
//! (at most 1 MiB; a stream is only noted), both redacted before they are kept
//! (`journal/redact.rs`).

use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::body::Body;
use axum::body::HttpBody as _;
use axum::http::{header, Request, Response};
use futures_util::StreamExt;

use super::fault::DropConnection;
use crate::contract::{ConnInfo, ListenerKind};
use crate::journal::redact::{journaled_body, BODY_LIMIT};
use crate::journal::{new_exchange, EventKind, Exchange, Origin};
use crate::namespace::Namespace;
use crate::wire::{header_text, redacted_query, request_host, Authorization};

/// Provider and service of exchanges no service answered (unknown path, wrong listener).
pub const UNROUTED: &str = "-";
/// Exchange status when a fault dropped the connection: no response was sent.
pub const STATUS_DROPPED: u16 = 0;
/// Exchange status when the client went away before the answer (nginx's convention).
pub const STATUS_CLIENT_CLOSED: u16 = 499;

/// An exchange being served. It is journaled and logged exactly once: when the answer is
/// ready, or, if the client disconnects first and the request's future is dropped, then.
pub struct PendingExchange<'a> {
    ns: &'a Namespace,
    /// The exchange's number, which the events its handler records carry too.
    pub id: u64,
    started: Instant,
    summary: Exchange,
    /// The service that took the request, once known.
    pub owner: Option<(&'static str, &'static str)>,
    done: bool,
    /// The request body's start, as the service read it, and its whole length so far.
    request_body: Option<Arc<Mutex<SeenBody>>>,
}

/// A request body as the service read it: its start, and its whole length so far.
#[derive(Default)]
struct SeenBody {
    start: Vec<u8>,
    total: usize,
}

/// The largest response body read whole to be journaled; a larger one is only noted.
const RESPONSE_READ_LIMIT: u64 = 1 << 20;

impl<'a> PendingExchange<'a> {
    /// The record of `req` as it arrived on `listener`, in namespace `ns`.
    pub fn begin(ns: &'a Namespace, req: &Request<Body>, listener: ListenerKind) -> PendingExchange<'a> {
        let mut summary = exchange_of(req, listener);
        summary.secret_in = secrets_in(req, &ns.document().secrets());
        PendingExchange {
            ns,
            id: new_exchange(),
            started: Instant::now(),
            summary,
            owner: None,
            done: false,
            request_body: None,
        }
    }

    /// The same request, its body copied (the first [`BODY_LIMIT`] bytes) as the service reads it.
    pub fn tee_request(&mut self, req: Request<Body>) -> Request<Body> {
        let seen = Arc::new(Mutex::new(SeenBody::default()));
        self.request_body = Some(seen.clone());
        let (parts, body) = req.into_parts();
        let body = body.into_data_stream().map(move |chunk| {
            if let Ok(bytes) = &chunk {
                let mut seen = seen.lock().unwrap_or_else(|e| e.into_inner());
                let room = BODY_LIMIT.saturating_sub(seen.start.len()).min(bytes.len());
                seen.start.extend_from_slice(&bytes[..room]);
                seen.total = seen.total.saturating_add(bytes.len());
            }
            chunk
        });
        Request::from_parts(parts, Body::from_stream(body))
    }

    /// The same response, its body journaled: read whole when its size is known and small
    /// enough, otherwise noted as not recorded.
    pub async fn capture_response(&mut self, response: Response<Body>) -> Response<Body> {
        let secrets = self.ns.document();
        let secrets = secrets.secrets();
        let size = response.body().size_hint();
        match size.exact() {
            Some(0) => response,
            Some(n) if n <= RESPONSE_READ_LIMIT => {
                let (parts, body) = response.into_parts();
                match axum::body::to_bytes(body, n as usize).await {
                    Ok(bytes) => {
                        let start = &bytes[..bytes.len().min(BODY_LIMIT)];
                        self.summary.response_body = journaled_body(start, bytes.len(), &secrets);
                        Response::from_parts(parts, Body::from(bytes))
                    }
                    Err(e) => {
                        self.summary.response_body = Some(format!("[the body could not be read: {e}]"));
                        Response::from_parts(parts, Body::empty())
                    }
                }
            }
            _ => {
                self.summary.response_body = Some("[a streamed or large body, not recorded]".to_owned());
                response
            }
        }
    }

    /// The request's method and Host header, as recorded.
    pub fn method_and_host(&self) -> (&str, &str) {
        (&self.summary.method, &self.summary.host)
    }
}

impl PendingExchange<'_> {
    pub fn finish(&mut self, response: &Response<Body>) {
        self.summary.status = if response.extensions().get::<DropConnection>().is_some() {
            STATUS_DROPPED
        } else {
            response.status().as_u16()
        };
        self.summary.retry_after = header_text(response.headers(), header::RETRY_AFTER);
        self.record();
    }

    fn record(&mut self) {
        self.done = true;
        let mut summary = std::mem::replace(&mut self.summary, empty_exchange());
        summary.duration_ms = self.started.elapsed().as_secs_f64() * 1000.0;
        if let Some(seen) = self.request_body.take() {
            let seen = seen.lock().unwrap_or_else(|e| e.into_inner());
            summary.request_body = journaled_body(&seen.start, seen.total, &self.ns.document().secrets());
        }
        let (provider, service) = self.owner.unwrap_or((UNROUTED, UNROUTED));
        tracing::info!(
            listener = summary.listener.as_str(),
            service = format!("{provider}.{service}"),
            "{} {} -> {} ({:.1} ms)",
            summary.method,
            summary.path,
            summary.status,
            summary.duration_ms
        );
        self.ns.record_in(Origin::new(provider, service), Some(self.id), EventKind::Exchange(summary));
    }
}

impl Drop for PendingExchange<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.summary.status = STATUS_CLIENT_CLOSED;
            self.record();
        }
    }
}

fn empty_exchange() -> Exchange {
    Exchange {
        listener: String::new(),
        method: String::new(),
        host: String::new(),
        path: String::new(),
        query: Default::default(),
        status: 0,
        duration_ms: 0.0,
        user_agent: None,
        auth_scheme: None,
        client_cert: None,
        secret_in: Vec::new(),
        retry_after: None,
        headers: Vec::new(),
        request_body: None,
        response_body: None,
    }
}

/// The summary of a request as it arrived; status and duration are filled in after.
fn exchange_of(req: &Request<Body>, listener: ListenerKind) -> Exchange {
    Exchange {
        listener: listener.name().to_owned(),
        method: req.method().as_str().to_owned(),
        host: request_host(req),
        // A CONNECT names no path: its target is the authority.
        path: match req.method() == axum::http::Method::CONNECT {
            true => req.uri().authority().map(|a| a.to_string()).unwrap_or_default(),
            false => req.uri().path().to_owned(),
        },
        query: redacted_query(req.uri().query()),
        status: 0,
        duration_ms: 0.0,
        user_agent: header_text(req.headers(), header::USER_AGENT),
        auth_scheme: header_text(req.headers(), header::AUTHORIZATION)
            .map(|v| v.split_whitespace().next().unwrap_or_default().to_owned()),
        client_cert: req
            .extensions()
            .get::<ConnInfo>()
            .and_then(|c| c.peer_certificate.as_ref())
            .map(|c| c.thumbprint.to_string()),
        secret_in: Vec::new(),
        retry_after: None,
        headers: header_names(req.headers()),
        request_body: None,
        response_body: None,
    }
}

/// The request's header names, lower case, sorted, without repeats; at most 64.
fn header_names(headers: &axum::http::HeaderMap) -> Vec<String> {
    let mut names: Vec<String> = headers.keys().map(|k| k.as_str().to_owned()).collect();
    names.sort();
    names.dedup();
    names.truncate(64);
    names
}

/// Where any of `secrets` shows in the request line or headers, decoded as a server would.
/// Secrets shorter than 4 characters are ignored: too likely to match by chance.
fn secrets_in(req: &Request<Body>, secrets: &[&str]) -> Vec<String> {
    let secrets: Vec<&str> = secrets.iter().copied().filter(|s| s.len() >= 4).collect();
    if secrets.is_empty() {
        return Vec::new();
    }
    let holds = |text: &str| secrets.iter().any(|s| text.contains(s));
    let mut found = Vec::new();
    if holds(&percent_encoding::percent_decode_str(req.uri().path()).decode_utf8_lossy()) {
        found.push("path".to_owned());
    }
    for (name, value) in form_urlencoded::parse(req.uri().query().unwrap_or_default().as_bytes()) {
        if holds(&name) || holds(&value) {
            found.push(format!("query:{name}"));
        }
    }
    for (name, value) in req.headers() {
        let basic_password = match Authorization::parse(value.as_bytes()) {
            Ok(Authorization::Basic { password, .. }) if name == header::AUTHORIZATION => Some(password),
            _ => None,
        };
        if holds(&String::from_utf8_lossy(value.as_bytes())) || basic_password.is_some_and(|p| holds(&p)) {
            found.push(format!("header:{name}"));
        }
    }
    found
}
