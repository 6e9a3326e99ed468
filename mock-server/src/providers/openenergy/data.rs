//! The data provider (`openenergy.data`): the fixtures' data sets behind the resource server
//! checks of `resource.rs`, as a data provider built on the package would serve them.
//!
//! `GET /` lists the data sets (any active, bound token); `GET <path>` returns one, JSON
//! (UTF-8, an array of the records) or CSV (a header line, then one line per record, RFC 4180
//! quoting), or the exact `body` of the fixture. A trusted proxy may forward the client
//! certificate in `X-OE-CLIENT-CERT` (see `client_auth.rs`); that is why this service also
//! answers on the plain HTTP listener.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, Method, Response, StatusCode, Uri};
use axum::Extension;
use serde_json::{json, Value};

use super::fixtures::{DataFormat, DataSet};
use super::resource::{admit, Protected};
use super::provider::OpenEnergy;
use crate::contract::ServiceRoute;
use crate::contract::ConnInfo;

fn with_type(body: impl Into<Body>, content_type: &'static str) -> Response<Body> {
    let mut r = Response::new(body.into());
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

fn json_error(status: StatusCode, error: &str, description: String) -> Response<Body> {
    let mut r = with_type(json!({"error": error, "error_description": description}).to_string(), "application/json");
    *r.status_mut() = status;
    r
}

/// `GET /`: the data sets, for a caller that passes the checks.
pub async fn index(
    State(oe): State<Arc<OpenEnergy>>,
    Extension(route): Extension<ServiceRoute>,
    conn: Option<Extension<ConnInfo>>,
    uri: Uri,
    headers: HeaderMap,
) -> Response<Body> {
    let what = Protected { endpoint: "/", scope: None, proxy_header: true };
    if let Err(refused) = admit(&oe, &route, conn.as_ref().map(|c| &c.0), &uri, &headers, &what) {
        return refused;
    }
    let fixtures = oe.fixtures();
    let sets: Vec<Value> = fixtures
        .data_sets
        .iter()
        .map(|d| json!({"path": d.path, "title": d.title, "format": d.format, "scope": d.scope}))
        .collect();
    with_type(json!({"data_sets": sets}).to_string(), "application/json")
}

/// Any other path: a data set, or 404.
pub async fn data_set(
    State(oe): State<Arc<OpenEnergy>>,
    Extension(route): Extension<ServiceRoute>,
    conn: Option<Extension<ConnInfo>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response<Body> {
    let fixtures = oe.fixtures();
    let path = uri.path();
    let Some(set) = fixtures.data_sets.iter().find(|d| d.path == path) else {
        return json_error(StatusCode::NOT_FOUND, "not_found", format!("no data set at {path}; GET / lists them"));
    };
    if method != Method::GET && method != Method::HEAD {
        let mut r = json_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            format!("{method} is not allowed: data sets are read with GET"),
        );
        r.headers_mut().insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    let what = Protected { endpoint: &set.path, scope: set.scope.as_deref(), proxy_header: true };
    if let Err(refused) = admit(&oe, &route, conn.as_ref().map(|c| &c.0), &uri, &headers, &what) {
        return refused;
    }
    render(set)
}

fn render(set: &DataSet) -> Response<Body> {
    match (set.format, &set.body) {
        (DataFormat::Json, Some(body)) => with_type(body.clone(), "application/json; charset=utf-8"),
        (DataFormat::Csv, Some(body)) => with_type(body.clone(), "text/csv; charset=utf-8"),
        (DataFormat::Json, None) => {
            with_type(Value::Array(set.records.clone()).to_string(), "application/json; charset=utf-8")
        }
        (DataFormat::Csv, None) => with_type(csv(set), "text/csv; charset=utf-8"),
    }
}

/// RFC 4180: CRLF line ends; fields with `,`, `"`, CR or LF quoted, quotes doubled.
pub fn csv(set: &DataSet) -> String {
    let columns = set.csv_columns();
    let field = |v: &str| -> String {
        if v.contains([',', '"', '\r', '\n']) {
            format!("\"{}\"", v.replace('"', "\"\""))
        } else {
            v.to_owned()
        }
    };
    let mut out = columns.iter().map(|c| field(c)).collect::<Vec<_>>().join(",");
    out.push_str("\r\n");
    for record in &set.records {
        let cells: Vec<String> = columns
            .iter()
            .map(|c| match record.get(c) {
                None | Some(Value::Null) => String::new(),
                Some(Value::String(s)) => field(s),
                Some(other) => field(&other.to_string()),
            })
            .collect();
        out.push_str(&cells.join(","));
        out.push_str("\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_what_needs_quoting() {
        let set: DataSet = toml::from_str(
            r#"
            path = "/x"
            format = "csv"
            columns = ["a", "b"]
            records = [{ a = "1", b = 2.5 }, { a = "x,\"y\"" }]
            "#,
        )
        .unwrap();
        assert_eq!(csv(&set), "a,b\r\n1,2.5\r\n\"x,\"\"y\"\"\",\r\n");
    }
}
