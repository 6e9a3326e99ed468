//! The Data Hub API (api.opinum.com): sites, sources, variables, variable types, data and
//! storage, each limited to the caller's account. Bearer token with `datahub-api`.
//! Bodies: JSON (UTF-8 or UTF-16), property names in any case; PATCH takes JSON Patch.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Multipart, Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, Response, StatusCode};
use axum::Extension;
use serde_json::{json, Value};

use super::auth::{authorize, Caller};
use super::tokens::SCOPE_API;
use super::data_query::{self, ids, normalized};
use super::errors::problem;
use super::hub::{Site, Source, Variable, MAX_OBJECTS};
use super::json_input::{bind, patch};
use super::provider::Opinum;
use crate::contract::{json_response, ServiceRoute};
use crate::wire::read_body;

const MAX_BODY: usize = 1024 * 1024;
const MAX_STORED_FILES: usize = 100;
const MAX_STORED_BYTES: usize = 10 * 1024 * 1024;

/// What every handler starts with: the checked caller, the query, the body.
pub struct Request {
    caller: Caller,
    query: Vec<(String, String)>,
    headers: HeaderMap,
    body: bytes::Bytes,
}

async fn admit(
    o: &Opinum,
    route: &ServiceRoute,
    headers: HeaderMap,
    query: Option<String>,
    body: Body,
    endpoint: &str,
) -> Result<Request, Response<Body>> {
    let caller = authorize(o, route, &headers, SCOPE_API, endpoint)?;
    let body = read_body(body, MAX_BODY).await.map_err(|e| problem(StatusCode::PAYLOAD_TOO_LARGE, e.to_string()))?;
    let query: Vec<(String, String)> =
        form_urlencoded::parse(query.unwrap_or_default().as_bytes()).into_owned().collect();
    Ok(Request { caller, query: normalized(&query), headers, body })
}

macro_rules! admitted {
    ($o:expr, $route:expr, $headers:expr, $query:expr, $body:expr, $endpoint:expr) => {
        match admit(&$o, &$route, $headers, $query, $body, $endpoint).await {
            Ok(r) => r,
            Err(response) => return response,
        }
    };
}

fn ok(value: Value) -> Response<Body> {
    json_response(StatusCode::OK, value)
}

fn not_found(what: &str, id: i64) -> Response<Body> {
    problem(StatusCode::NOT_FOUND, format!("{what} {id} does not exist in your account"))
}

fn bad(detail: impl Into<String>) -> Response<Body> {
    problem(StatusCode::BAD_REQUEST, detail)
}

// ---- sites -------------------------------------------------------------------------------

pub async fn list_sites(
    State(o): State<Arc<Opinum>>,
    Extension(route): Extension<ServiceRoute>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    body: Body,
) -> Response<Body> {
    let r = admitted!(o, route, headers, q, body, "GET sites");
    let wanted = match ids(&r.query, &["siteids", "siteid"]) {
        Ok(w) => w,
        Err(e) => return bad(e),
    };
    let account = r.caller.claims.account;
    ok(o.hub.with(|h| {
        json!(h
            .sites
            .values()
            .filter(|s| s.account == account && (wanted.is_empty() || wanted.contains(&s.id)))
            .collect::<Vec<_>>())
    }))
}

pub async fn create_site(
    State(o): State<Arc<Opinum>>,
    Extension(route): Extension<ServiceRoute>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    body: Body,
) -> Response<Body> {
    let r = admitted!(o, route, headers, q, body, "POST sites");
    let mut site: Site = match bind(&r.headers, &r.body) {
        Ok(s) => s,
        Err(e) => return bad(e),
    };
    if site.name.trim().is_empty() {
        return bad("The Name field is required.");
    }
    site.account = r.caller.claims.account;
    o.hub.with(|h| {
        if h.sites.len() >= MAX_OBJECTS {
            return bad(format!("at most {MAX_OBJECTS} sites"));
        }
        site.id = h.next_id();
        let id = site.id;
        h.sites.insert(id, site);
        // Opinum answers the new id as a bare JSON integer.
        ok(json!(id))
    })
}

pub async fn patch_site(
    State(o): State<Arc<Opinum>>,
    Extension(route): Extension<ServiceRoute>,
    Path(id): Path<i64>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    body: Body,
) -> Response<Body> {
    let r = admitted!(o, route, headers, q, body, "PATCH sites/{id}");
    let account = r.caller.claims.account;
    o.hub.with(|h| {
        let Some(site) = h.sites.get(&id).filter(|s| s.account == account) else { return not_found("site", id) };
        match patch(site, &r.headers, &r.body) {
            Ok(mut patched) => {
                patched.id = id;
                patched.account = account;
                for s in h.sources.values_mut().filter(|s| s.site_id == id) {
                    s.site_name = patched.name.clone();
                }
                h.sites.insert(id, patched.clone());
                ok(json!(patched))
            }
            Err(e) => bad(e),
        }
    })
}

pub async fn delete_site(
    State(o): State<Arc<Opinum>>,
    Extension(route): Extension<ServiceRoute>,
    Path(id): Path<i64>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    body: Body,
) -> Response<Body> {
    let r = admitted!(o, route, headers, q, body, "DELETE sites/{id}");
    let account = r.caller.claims.account;
    o.hub.with(|h| {
        if h.sites.get(&id).is_none_or(|s| s.account != account) {
            return not_found("site", id);
        }
        if h.sources.values().any(|s| s.site_id == id) {
            return bad(format!("site {id} still has sources: delete them first"));
        }
        h.sites.remove(&id);
        no_content()
    })
}

fn no_content() -> Response<Body> {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = StatusCode::NO_CONTENT;
    r
}

// ---- sources ------------------------------------------------------------------------------

pub async fn list_sources(
    State(o): State<Arc<Opinum>>,
    Extension(route): Extension<ServiceRoute>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    body: Body,
) -> Response<Body> {
    let r = admitted!(o, route, headers, q, body, "GET sources");
    let (sites, wanted) = match (ids(&r.query, &["siteid", "siteids"]), ids(&r.query, &["ids", "id", "sourceids"])) {
        (Ok(s), Ok(w)) => (s, w),
        (Err(e), _) | (_, Err(e)) => return bad(e),
    };
    let account = r.caller.claims.account;
    ok(o.hub.with(|h| {
        json!(h
            .sources
            .values()
            .filter(|s| s.account == account
                && (sites.is_empty() || sites.contains(&s.site_id))
                && (wanted.is_empty() || wanted.contains(&s.id)))
            .collect::<Vec<_>>())
    }))
}

pub async fn create_source(
    State(o): State<Arc<Opinum>>,
    Extension(route): Extension<ServiceRoute>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    body: Body,
) -> Response<Body> {
    let r = admitted!(o, route, headers, q, body, "POST sources");
    let source: Source = match bind(&r.headers, &r.body) {
        Ok(s) => s,
        Err(e) => return bad(e),
    };
    let account = r.caller.claims.account;
    o.hub.with(|h| {
        if h.sources.len() >= MAX_OBJECTS {
            return bad(format!("at most {MAX_OBJECTS} sources"));
        }
        let id = h.next_id();
        match save_source(h, account, id, source) {
            Ok(saved) => ok(json!(saved)),
            Err(r) => r,
        }
    })
}

/// Checks a source against its site and stores it under `id`.
fn save_source(h: &mut super::hub::State, account: i64, id: i64, mut source: Source) -> Result<Source, Response<Body>> {
    if source.name.trim().is_empty() {
        return Err(bad("The Name field is required."));
    }
    let Some(site) = h.sites.get(&source.site_id).filter(|s| s.account == account) else {
        return Err(bad(format!("siteId {} is not a site of your account", source.site_id)));
    };
    source.id = id;
    source.account = account;
    source.site_name = site.name.clone();
    if source.time_zone_id.is_empty() {
        source.time_zone_id = site.time_zone_id.clone();
    }
    h.sources.insert(id, source.clone());
    Ok(source)
}

pub async fn put_source(
    State(o): State<Arc<Opinum>>,
    Extension(route): Extension<ServiceRoute>,
    Path(id): Path<i64>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    body: Body,
) -> Response<Body> {
    let r = admitted!(o, route, headers, q, body, "PUT sources/{id}");
    let account = r.caller.claims.account;
    let source: Source = match bind(&r.headers, &r.body) {
        Ok(s) => s,
        Err(e) => return bad(e),
    };
    o.hub.with(|h| {
        if h.sources.get(&id).is_none_or(|s| s.account != account) {
            return not_found("source", id);
        }
        save_source(h, account, id, source).map_or_else(|r| r, |s| ok(json!(s)))
    })
}

pub async fn patch_source(
    State(o): State<Arc<Opinum>>,
    Extension(route): Extension<ServiceRoute>,
    Path(id): Path<i64>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    body: Body,
) -> Response<Body> {
    let r = admitted!(o, route, headers, q, body, "PATCH sources/{id}");
    let account = r.caller.claims.account;
    o.hub.with(|h| {
        let Some(source) = h.sources.get(&id).filter(|s| s.account == account) else { return not_found("source", id) };
        match patch(source, &r.headers, &r.body) {
            Ok(patched) => save_source(h, account, id, patched).map_or_else(|r| r, |s| ok(json!(s))),
            Err(e) => bad(e),
        }
    })
}

pub async fn delete_source(
    State(o): State<Arc<Opinum>>,
    Extension(route): Extension<ServiceRoute>,
    Path(id): Path<i64>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    body: Body,
) -> Response<Body> {
    let r = admitted!(o, route, headers, q, body, "DELETE sources/{id}");
    let account = r.caller.claims.account;
    o.hub.with(|h| {
        if h.sources.get(&id).is_none_or(|s| s.account != account) {
            return not_found("source", id);
        }
        h.sources.remove(&id);
        let gone: Vec<i64> = h.variables.values().filter(|v| v.source_id == id).map(|v| v.id).collect();
        for v in gone {
            h.variables.remove(&v);
            h.points.remove(&v);
        }
        no_content()
    })
}

// ---- variables ----------------------------------------------------------------------------

pub async fn variables_of_source(
    State(o): State<Arc<Opinum>>,
    Extension(route): Extension<ServiceRoute>,
    Path(source_id): Path<i64>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    body: Body,
) -> Response<Body> {
    let r = admitted!(o, route, headers, q, body, "GET variables/source/{sourceId}");
    let account = r.caller.claims.account;
    o.hub.with(|h| {
        if h.sources.get(&source_id).is_none_or(|s| s.account != account) {
            return not_found("source", source_id);
        }
        ok(json!(h.variables.values().filter(|v| v.source_id == source_id).collect::<Vec<_>>()))
    })
}

pub async fn list_variables(
    State(o): State<Arc<Opinum>>,
    Extension(route): Extension<ServiceRoute>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    body: Body,
) -> Response<Body> {
    let r = admitted!(o, route, headers, q, body, "GET variables");
    let (sources, wanted) =
        match (ids(&r.query, &["sourceid", "sourceids"]), ids(&r.query, &["id", "ids", "variableid", "variableids"])) {
            (Ok(s), Ok(w)) => (s, w),
            (Err(e), _) | (_, Err(e)) => return bad(e),
        };
    let account = r.caller.claims.account;
    ok(o.hub.with(|h| {
        json!(h
            .variables
            .values()
            .filter(|v| v.account == account
                && (sources.is_empty() || sources.contains(&v.source_id))
                && (wanted.is_empty() || wanted.contains(&v.id)))
            .collect::<Vec<_>>())
    }))
}

pub async fn create_variable(
    State(o): State<Arc<Opinum>>,
    Extension(route): Extension<ServiceRoute>,
    Path(source_id): Path<i64>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    body: Body,
) -> Response<Body> {
    let r = admitted!(o, route, headers, q, body, "POST variables/source/{sourceId}");
    let variable: Variable = match bind(&r.headers, &r.body) {
        Ok(v) => v,
        Err(e) => return bad(e),
    };
    let account = r.caller.claims.account;
    o.hub.with(|h| {
        if h.sources.get(&source_id).is_none_or(|s| s.account != account) {
            return not_found("source", source_id);
        }
        if h.variables.len() >= MAX_OBJECTS {
            return bad(format!("at most {MAX_OBJECTS} variables"));
        }
        let id = h.next_id();
        save_variable(h, account, source_id, id, variable)
    })
}

fn save_variable(
    h: &mut super::hub::State,
    account: i64,
    source_id: i64,
    id: i64,
    mut variable: Variable,
) -> Response<Body> {
    if variable.name.trim().is_empty() {
        return bad("The Name field is required.");
    }
    if !(0..=7).contains(&variable.granularity_time_base) {
        return bad("granularityTimeBase is 0 (ms) to 7 (year)");
    }
    if variable.divider == 0.0 {
        variable.divider = 1.0;
    }
    variable.id = id;
    variable.source_id = source_id;
    variable.account = account;
    h.variables.insert(id, variable.clone());
    ok(json!(variable))
}

pub async fn update_variable(
    State(o): State<Arc<Opinum>>,
    Extension(route): Extension<ServiceRoute>,
    Path((source_id, variable_id)): Path<(i64, i64)>,
    method: axum::http::Method,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    body: Body,
) -> Response<Body> {
    let r = admitted!(o, route, headers, q, body, "PUT/PATCH sources/{sourceId}/variables/{variableId}");
    let account = r.caller.claims.account;
    o.hub.with(|h| {
        let Some(current) = h.variables.get(&variable_id).filter(|v| v.account == account && v.source_id == source_id)
        else {
            return not_found("variable", variable_id);
        };
        let updated = if method == axum::http::Method::PATCH {
            patch(current, &r.headers, &r.body)
        } else {
            bind(&r.headers, &r.body)
        };
        match updated {
            Ok(v) => save_variable(h, account, source_id, variable_id, v),
            Err(e) => bad(e),
        }
    })
}

/// The variable types every account sees.
pub async fn variable_types(
    State(o): State<Arc<Opinum>>,
    Extension(route): Extension<ServiceRoute>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    body: Body,
) -> Response<Body> {
    let _r = admitted!(o, route, headers, q, body, "GET variableTypes");
    ok(json!([
        {"id": 0, "name": "Index", "aggregate": "LAST"},
        {"id": 1, "name": "Consumption", "aggregate": "SUM"},
        {"id": 2, "name": "Instantaneous", "aggregate": "AVG"},
        {"id": 3, "name": "Cumulative", "aggregate": "MAX"},
    ]))
}

// ---- data ---------------------------------------------------------------------------------

pub async fn get_data(
    State(o): State<Arc<Opinum>>,
    Extension(route): Extension<ServiceRoute>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    body: Body,
) -> Response<Body> {
    let r = admitted!(o, route, headers, q, body, "GET data");
    let query = match data_query::parse(&r.query) {
        Ok(q) => q,
        Err(e) => return bad(e),
    };
    let account = r.caller.claims.account;
    o.hub.with(|h| {
        let mut out = Vec::new();
        for id in &query.variables {
            if h.variables.get(id).is_none_or(|v| v.account != account) {
                return not_found("variable", *id);
            }
            if let Some(points) = h.points.get(id) {
                out.extend(data_query::rows(&query, *id, points));
            }
        }
        ok(json!(out))
    })
}

pub async fn delete_data(
    State(o): State<Arc<Opinum>>,
    Extension(route): Extension<ServiceRoute>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    body: Body,
) -> Response<Body> {
    let r = admitted!(o, route, headers, q, body, "DELETE data");
    let (variables, from, to) = match (
        ids(&r.query, &["variableids", "variableid"]),
        data_query::date(&r.query, &["fromdateutc", "from"]),
        data_query::date(&r.query, &["todateutc", "to"]),
    ) {
        (Ok(v), Ok(f), Ok(t)) => (v, f, t),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return bad(e),
    };
    let what_if = r.query.iter().any(|(k, v)| k == "whatif" && v.eq_ignore_ascii_case("true"));
    let account = r.caller.claims.account;
    let (lo, hi) = (from.map_or(i64::MIN, |d| d.timestamp_millis()), to.map_or(i64::MAX, |d| d.timestamp_millis()));
    o.hub.with(|h| {
        let mut results = Vec::new();
        for id in &variables {
            if h.variables.get(id).is_none_or(|v| v.account != account) {
                return not_found("variable", *id);
            }
            let series = h.points.entry(*id).or_default();
            let doomed: Vec<i64> = series.range(lo..hi).map(|(t, _)| *t).collect();
            if !what_if {
                for t in &doomed {
                    series.remove(t);
                }
            }
            results.push(json!({"variableId": id, "datapointCount": doomed.len()}));
        }
        ok(json!({"results": results}))
    })
}

// ---- storage ------------------------------------------------------------------------------

pub async fn upload(
    State(o): State<Arc<Opinum>>,
    Extension(route): Extension<ServiceRoute>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Response<Body> {
    if let Err(r) = authorize(&o, &route, &headers, SCOPE_API, "POST storage") {
        return r;
    }
    let query: Vec<(String, String)> =
        normalized(&form_urlencoded::parse(q.unwrap_or_default().as_bytes()).into_owned().collect::<Vec<_>>());
    let filename =
        query.iter().find(|(k, _)| k == "filename").map(|(_, v)| v.clone()).unwrap_or_else(|| "upload".into());
    let mut multipart = match multipart {
        Ok(m) => m,
        Err(e) => return bad(format!("expected multipart/form-data with a 'data' field: {e}")),
    };
    let mut content = None;
    loop {
        match multipart.next_field().await {
            Ok(Some(field)) if field.name() == Some("data") => match field.bytes().await {
                Ok(b) if b.len() <= MAX_STORED_BYTES => content = Some(b),
                Ok(_) => {
                    return problem(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        format!("a stored file is at most {MAX_STORED_BYTES} bytes"),
                    )
                }
                Err(e) => return bad(format!("unreadable 'data' field: {e}")),
            },
            Ok(Some(_)) => continue,
            Ok(None) => break,
            Err(e) => return bad(format!("malformed multipart body: {e}")),
        }
    }
    let Some(content) = content else { return bad("no 'data' field in the multipart body") };
    let id = uuid::Uuid::new_v4().to_string();
    o.hub.with(|h| {
        while h.storage.len() >= MAX_STORED_FILES {
            h.storage.pop_first();
        }
        h.storage.insert(id.clone(), (filename, content.to_vec()));
    });
    ok(json!(id))
}

pub async fn download(
    State(o): State<Arc<Opinum>>,
    Extension(route): Extension<ServiceRoute>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response<Body> {
    if let Err(r) = authorize(&o, &route, &headers, SCOPE_API, "GET storage/{id}") {
        return r;
    }
    match o.hub.with(|h| h.storage.get(&id).cloned()) {
        None => problem(StatusCode::NOT_FOUND, format!("no stored file {id}")),
        Some((name, content)) => {
            let mut r = Response::new(Body::from(content));
            r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
            if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{}\"", name.replace('"', ""))) {
                r.headers_mut().insert(header::CONTENT_DISPOSITION, v);
            }
            r
        }
    }
}
