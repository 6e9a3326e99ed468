//! The front door's first question: which namespace does a request belong to? A request
//! names a run in the first of these that it has, and the default namespace otherwise:
//! - the path prefix `/__run/{id}`, stripped before routing (service URLs and the admin API
//!   alike: `/__run/{id}/__admin/events`); what a client configured with a base URL uses;
//! - the `X-Mock-Run: {id}` header;
//! - the proxy credentials' user name (`HTTPS_PROXY=http://{id}:any@127.0.0.1:8080`), for
//!   unchanged clients in proxy mode: a tunnel stays in the run its `CONNECT` named.
//!
//! MQTT clients name a run by where they connect: every run has MQTT listeners of its own.
//! `/__admin/runs` itself, sent to the mock, is the server's: it goes to the runs API.

use std::sync::Arc;

use axum::body::Body;
#[cfg(test)]
use axum::http::HeaderValue;
use axum::http::{header, HeaderMap, Request, Response, StatusCode, Uri};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::json;
use tower::ServiceExt;

use super::proxy::ProxyRequest;
use super::route::{Dedicated, RunPrefix};
use crate::admin::runs::{router as runs_api, unknown_run};
use crate::contract::{json_response, ConnInfo, ListenerKind};
use crate::endpoints::RUN_PATH;
use crate::runs::{check_id, Runs};

/// The header that names a run.
pub const RUN_HEADER: &str = "x-mock-run";

/// Serves a request of any HTTP listener: finds its namespace, then that namespace's door.
pub async fn handle(runs: Arc<Runs>, mut req: Request<Body>) -> Response<Body> {
    let run = match take_run(&mut req) {
        Ok(run) => run,
        Err(reason) => return json_response(StatusCode::BAD_REQUEST, json!({"error": "bad_run", "message": reason})),
    };
    match run {
        None if is_runs_admin(&req) => runs_api(runs).oneshot(req).await.unwrap_or_else(|e| match e {}),
        None => runs.default.clone().handle(req).await,
        Some(id) => match runs.get(&id) {
            Some(door) => door.handle(req).await,
            None => {
                tracing::warn!(run = %id, "{} {}: no such run", req.method(), req.uri().path());
                unknown_run(&id)
            }
        },
    }
}

/// The run a request names, taken out of its path if it was there. `Err` when it names one
/// that cannot be a run id.
fn take_run(req: &mut Request<Body>) -> Result<Option<String>, String> {
    if let Some(rest) = req.uri().path().strip_prefix(RUN_PATH) {
        let (id, inner) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let id = id.to_owned();
        check_id(&id).map_err(|e| e.to_string())?;
        let inner = match (inner, req.uri().query()) {
            ("", Some(q)) => format!("/?{q}"),
            ("", None) => "/".to_owned(),
            (path, Some(q)) => format!("{path}?{q}"),
            (path, None) => path.to_owned(),
        };
        // Scheme and authority stay: an HTTP/2 request has no Host header but its authority.
        let mut parts = req.uri().clone().into_parts();
        parts.path_and_query = Some(inner.parse().map_err(|e| format!("path after {RUN_PATH}{id}: {e}"))?);
        *req.uri_mut() = Uri::from_parts(parts).map_err(|e| format!("path after {RUN_PATH}{id}: {e}"))?;
        req.extensions_mut().insert(RunPrefix(format!("{RUN_PATH}{id}")));
        return Ok(Some(id));
    }
    let named = header_run(req.headers()).or_else(|| proxy_user(req.headers()));
    match named {
        Some(id) => check_id(&id).map(|()| Some(id)).map_err(|e| e.to_string()),
        None => Ok(None),
    }
}

fn header_run(headers: &HeaderMap) -> Option<String> {
    headers.get(RUN_HEADER).map(|v| String::from_utf8_lossy(v.as_bytes()).trim().to_owned())
}

/// The user name of `Proxy-Authorization: Basic base64(user:password)`.
fn proxy_user(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::PROXY_AUTHORIZATION)?.to_str().ok()?;
    let (scheme, credentials) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = STANDARD.decode(credentials.trim()).ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let user = decoded.split_once(':').map_or(decoded.as_str(), |(u, _)| u);
    let user = percent_encoding::percent_decode_str(user).decode_utf8_lossy().into_owned();
    (!user.is_empty()).then_some(user)
}

/// `/__admin/runs` on the plain HTTP listener, sent to the mock itself: not through it as a
/// proxy (a `CONNECT` or an absolute-form request line), not on a service's dedicated listener.
fn is_runs_admin(req: &Request<Body>) -> bool {
    let path = req.uri().path();
    let on_http = req.extensions().get::<ConnInfo>().is_none_or(|c| c.listener == ListenerKind::Http);
    // A service's own listener serves that service only; a proxy request is for another host.
    let elsewhere = req.extensions().get::<Dedicated>().is_some() || ProxyRequest::of(req).is_some();
    let to_us = req.uri().host().is_none_or(|h| {
        h == "localhost" || h.trim_matches(['[', ']']).parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
    });
    on_http && !elsewhere && to_us && (path == "/__admin/runs" || path.starts_with("/__admin/runs/"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn request(path: &str, headers: &[(&str, &str)]) -> Request<Body> {
        let mut b = Request::builder().uri(path);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(Body::empty()).unwrap()
    }

    #[test]
    fn the_path_prefix_names_the_run_and_is_stripped() {
        let mut req = request("/__run/job-42/kalibrate/login/t/oauth2/v2.0/token?x=1", &[]);
        assert_eq!(take_run(&mut req).unwrap().as_deref(), Some("job-42"));
        assert_eq!(req.uri().to_string(), "/kalibrate/login/t/oauth2/v2.0/token?x=1");
        assert_eq!(req.extensions().get::<RunPrefix>().unwrap().0, "/__run/job-42");
        let mut bare = request("/__run/job-42", &[]);
        assert_eq!(take_run(&mut bare).unwrap().as_deref(), Some("job-42"));
        assert_eq!(bare.uri().path(), "/");
        let mut http2 = request("https://127.0.0.1:8443/__run/job-42/kalibrate/login", &[]);
        take_run(&mut http2).unwrap();
        assert_eq!(http2.uri().to_string(), "https://127.0.0.1:8443/kalibrate/login", "the authority stays");
    }

    #[test]
    fn header_and_proxy_user_name_the_run() {
        assert_eq!(take_run(&mut request("/x", &[(RUN_HEADER, "a1")])).unwrap().as_deref(), Some("a1"));
        let basic = format!("Basic {}", STANDARD.encode("job-7:run"));
        assert_eq!(take_run(&mut request("/x", &[("proxy-authorization", &basic)])).unwrap().as_deref(), Some("job-7"));
        assert_eq!(take_run(&mut request("/x", &[])).unwrap(), None);
        assert_eq!(take_run(&mut request("/x", &[("proxy-authorization", "Bearer abc")])).unwrap(), None);
    }

    #[test]
    fn bad_ids_are_refused() {
        assert!(take_run(&mut request("/__run//x", &[])).is_err());
        assert!(take_run(&mut request("/__run/a%20b/x", &[])).is_err());
        assert!(take_run(&mut request("/x", &[(RUN_HEADER, &"a".repeat(65))])).is_err());
        assert!(check_id("ok.id_1-2").is_ok());
    }

    proptest! {
        #[test]
        fn any_path_or_header_is_taken_or_refused(path in "/[ -~]{0,60}", header in "[ -~]{0,80}") {
            if let Ok(req) = Request::builder().uri(path.as_str()).header(RUN_HEADER, header.as_str()).body(Body::empty()) {
                let mut req = req;
                let _ = take_run(&mut req);
            }
            let mut h = HeaderMap::new();
            if let Ok(v) = HeaderValue::try_from(format!("Basic {header}")) {
                h.insert(header::PROXY_AUTHORIZATION, v);
                let _ = proxy_user(&h);
            }
        }
    }
}
