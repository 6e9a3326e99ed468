//! The exchange record: every request a namespace receives is journaled once as an
//! `http.exchange` event (and logged): built from the request as it arrives (method, host,
//! path, query with secrets redacted, header names, the client certificate's thumbprint, where a
//! fixture secret showed), finished with the answer's status and time, or with 499 when the
//! client went away first.

use std::time::Instant;

use axum::body::Body;
use axum::http::{header, Request, Response};

use super::fault::DropConnection;
use crate::contract::{ConnInfo, ListenerKind};
use crate::journal::{EventKind, Exchange, Origin};
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
    started: Instant,
    summary: Exchange,
    /// The service that took the request, once known.
    pub owner: Option<(&'static str, &'static str)>,
    done: bool,
}

impl<'a> PendingExchange<'a> {
    /// The record of `req` as it arrived on `listener`, in namespace `ns`.
    pub fn begin(ns: &'a Namespace, req: &Request<Body>, listener: ListenerKind) -> PendingExchange<'a> {
        let mut summary = exchange_of(req, listener);
        summary.secret_in = secrets_in(req, &ns.document().secrets());
        PendingExchange { ns, started: Instant::now(), summary, owner: None, done: false }
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
        self.ns.record(Origin::new(provider, service), EventKind::Exchange(summary));
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
