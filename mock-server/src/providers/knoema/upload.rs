//! Writing datasets, as `knoema.upload`, `knoema.delete` and `knoema.verify` do it:
//!
//! 1. `POST /api/1.0/upload/post`: the file as `multipart/form-data` (the package quotes the
//!    boundary: `boundary="..."`) → `{Successful, Error, Properties: {Size, Name, Location, Type}}`;
//! 2. `GET /api/1.0/upload/verify?doNotGenerateAdvanceReport=true&filePath=LOCATION[&datasetId=]`
//!    (the location pasted unencoded) → `{Successful, UploadFormatType, ErrorList, Columns,
//!    FlatDSUpdateOptions, MetadataDetails}`;
//! 3. `POST /api/1.0/upload/save` with the DatasetUpload → `{Id, DatasetId, Status, Errors}`;
//! 4. `GET /api/1.0/upload/status?id=` → `{id, datasetId, status, errors}` (the package polls
//!    every 5 s while `pending`; the mock is done at once).
//!
//! The mock reads CSV files (a header row, then records): numeric columns become Number
//! columns, dates Date columns, the rest dimensions, and the result is a Flat dataset that the
//! data API serves until the next reset. `POST /api/1.0/meta/dataset/{id}/delete` answers
//! exactly the JSON string `"successful"` (unknown id: 400); `POST /api/1.0/meta/verifydataset`
//! answers `{status, errors}`. Writes need a signed request or an OAuth token (403 otherwise).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{FromRequestParts, MatchedPath};
use axum::extract::{Path, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, Response, StatusCode};
use serde_json::{json, Value};

use super::auth::Caller;
use super::data::{body, Call};
use super::errors::{self, NO_DATASET};
use super::fixtures::{Column, Dataset, DatasetKind, Dimension, Member, Row};
use super::store::{self, Submission, Upload, MAX_SUBMISSIONS, MAX_UPLOADED_DATASETS, MAX_UPLOADS};
use super::timeline::{parse_day, wire_date};
use super::provider::Knoema;
use crate::journal::EventKind;
use crate::tokens::opaque_token;

const MAX_ROWS: usize = 100_000;
const MAX_COLUMNS: usize = 100;
const MAX_SAVE_BODY: usize = 256 * 1024;

/// A write call: only signed apps and token holders may upload, delete or verify.
pub struct WriteCall(pub Call);

impl FromRequestParts<Arc<Knoema>> for WriteCall {
    type Rejection = Response<Body>;

    async fn from_request_parts(parts: &mut Parts, k: &Arc<Knoema>) -> Result<Self, Self::Rejection> {
        let call = Call::from_request_parts(parts, k).await?;
        if !call.caller.is_authenticated() {
            k.ns.record(
                &call.route,
                EventKind::ApiDenied {
                    endpoint: parts.extensions.get::<MatchedPath>().map_or_else(|| parts.uri.path().to_owned(), |m| m.as_str().to_owned()),
                    status: 403,
                    reason: format!("{} may not write: uploads, deletes and verifications need a signed request (app id and secret) or an OAuth token", call.caller.label()),
                    client_id: call.caller.app_id().map(str::to_owned),
                },
            );
            return Err(errors::denied(StatusCode::FORBIDDEN));
        }
        Ok(WriteCall(call))
    }
}

/// The boundary of a `multipart/form-data` Content-Type, quoted or not.
pub fn boundary(content_type: &str) -> Option<String> {
    let mut parts = content_type.split(';');
    if !parts.next()?.trim().eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    parts.find_map(|p| {
        let (name, value) = p.split_once('=')?;
        if !name.trim().eq_ignore_ascii_case("boundary") {
            return None;
        }
        let v = value.trim();
        let v = v.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(v);
        (!v.is_empty() && v.len() <= 200).then(|| v.to_owned())
    })
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() || from > haystack.len() {
        return None;
    }
    haystack[from..].windows(needle.len()).position(|w| w == needle).map(|i| i + from)
}

/// The first file part of a multipart body: (file name, content).
pub fn first_file(body: &[u8], boundary: &str) -> Result<(String, Vec<u8>), String> {
    let delimiter = format!("--{boundary}");
    let start =
        find(body, delimiter.as_bytes(), 0).ok_or("the body has no part with the boundary of the Content-Type")?;
    let mut at = start + delimiter.len();
    loop {
        if body.get(at..at + 2) == Some(b"--") {
            return Err("the multipart body has no file part".into());
        }
        if body.get(at..at + 2) != Some(b"\r\n") {
            return Err("a multipart delimiter is not followed by CRLF".into());
        }
        let headers_start = at + 2;
        let headers_end =
            find(body, b"\r\n\r\n", headers_start).ok_or("a part's headers do not end with an empty line")?;
        let headers = String::from_utf8_lossy(&body[headers_start..headers_end]);
        let content_start = headers_end + 4;
        let next = find(body, format!("\r\n{delimiter}").as_bytes(), content_start)
            .ok_or("the multipart body is not closed by its boundary")?;
        let file_name = headers.lines().find_map(|line| {
            let (name, value) = line.split_once(':')?;
            if !name.trim().eq_ignore_ascii_case("content-disposition") {
                return None;
            }
            value.split(';').find_map(|p| {
                let (k, v) = p.split_once('=')?;
                (k.trim().eq_ignore_ascii_case("filename")).then(|| v.trim().trim_matches('"').to_owned())
            })
        });
        if let Some(name) = file_name {
            return Ok((name, body[content_start..next].to_vec()));
        }
        at = next + 2 + delimiter.len();
    }
}

/// Records of a CSV text: fields split on commas, `"..."` quoting with `""` for a quote.
pub fn parse_csv(text: &str) -> Result<Vec<Vec<String>>, String> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    let mut started = false;
    while let Some(c) = chars.next() {
        started = true;
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => quoted = false,
                _ => field.push(c),
            }
            continue;
        }
        match c {
            '"' if field.is_empty() => quoted = true,
            ',' => row.push(std::mem::take(&mut field)),
            '\r' => {}
            '\n' => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
                started = false;
                if rows.len() > MAX_ROWS + 1 {
                    return Err(format!("the file has more than {MAX_ROWS} records"));
                }
            }
            _ => field.push(c),
        }
    }
    if quoted {
        return Err("a quoted field is not closed".into());
    }
    if started {
        row.push(field);
        rows.push(row);
    }
    rows.retain(|r| !(r.len() == 1 && r[0].trim().is_empty()));
    Ok(rows)
}

/// A Flat dataset from CSV records: numbers, dates, the rest dimensions.
pub fn flat_dataset(id: &str, name: &str, rows: &[Vec<String>]) -> Result<Dataset, String> {
    let (header, records) = rows.split_first().ok_or("the file is empty")?;
    if header.is_empty() || header.len() > MAX_COLUMNS {
        return Err(format!("the header must name 1 to {MAX_COLUMNS} columns"));
    }
    if let Some((i, r)) = records.iter().enumerate().find(|(_, r)| r.len() != header.len()) {
        return Err(format!("record {} has {} fields; the header has {}", i + 1, r.len(), header.len()));
    }
    let mut seen = std::collections::HashSet::new();
    for h in header {
        if h.trim().is_empty() || !seen.insert(h.trim().to_ascii_lowercase()) {
            return Err(format!("column name '{h}' is empty or used twice"));
        }
    }
    let column = |i: usize| records.iter().map(move |r| r[i].trim()).filter(|v| !v.is_empty());
    let mut dimensions = Vec::new();
    let mut columns = Vec::new();
    let mut kinds = Vec::new();
    for (i, h) in header.iter().enumerate() {
        let id = h.trim().to_owned();
        let numeric = column(i).all(|v| v.parse::<f64>().is_ok_and(f64::is_finite)) && column(i).next().is_some();
        let dates = column(i).all(|v| parse_day(v).is_some()) && column(i).next().is_some();
        if numeric {
            columns.push(Column { id: id.clone(), name: id, kind: "Number".into() });
            kinds.push(1);
        } else if dates {
            columns.push(Column { id: id.clone(), name: id, kind: "Date".into() });
            kinds.push(2);
        } else {
            let mut members: Vec<Member> = Vec::new();
            for v in column(i) {
                if !members.iter().any(|m| m.id == v) {
                    members.push(Member {
                        key: members.len() as u64 + 1,
                        name: v.to_owned(),
                        id: v.to_owned(),
                        level: 0,
                        fields: BTreeMap::new(),
                    });
                }
            }
            dimensions.push(Dimension { id: id.clone(), name: id, is_geo: false, fields: Vec::new(), members });
            kinds.push(0);
        }
    }
    let rows = records
        .iter()
        .map(|r| {
            let mut dims = BTreeMap::new();
            let mut values = BTreeMap::new();
            for ((h, v), kind) in header.iter().zip(r).zip(&kinds) {
                let (h, v) = (h.trim().to_owned(), v.trim());
                match kind {
                    0 => {
                        dims.insert(h, v.to_owned());
                    }
                    1 => {
                        values.insert(h, v.parse::<f64>().map_or(Value::Null, |n| json!(n)));
                    }
                    _ => {
                        values.insert(h, parse_day(v).map_or(Value::Null, |d| json!(d.format("%Y-%m-%d").to_string())));
                    }
                }
            }
            Row { dims, values }
        })
        // A record with an empty dimension cell cannot be addressed: dropped.
        .filter(|r| r.dims.values().all(|v| !v.is_empty()))
        .collect();
    Ok(Dataset {
        id: id.to_owned(),
        name: name.to_owned(),
        kind: DatasetKind::Flat,
        description: String::new(),
        source: String::new(),
        publication_date: None,
        last_updated_on: None,
        private: false,
        timeseries_attributes: Vec::new(),
        dimensions,
        series: Vec::new(),
        columns,
        rows,
    })
}

fn sanitize(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let clean: String = base.chars().filter(|c| c.is_ascii_alphanumeric() || "._-".contains(*c)).take(80).collect();
    if clean.is_empty() {
        "upload".to_owned()
    } else {
        clean
    }
}

/// `POST /api/1.0/upload/post`
pub async fn post(
    State(k): State<Arc<Knoema>>,
    WriteCall(call): WriteCall,
    headers: HeaderMap,
    request: Body,
) -> Response<Body> {
    let failed = |e: String| errors::ok(json!({"Successful": false, "Error": e, "Properties": {}}));
    let limit = k.fixtures().max_upload_bytes;
    let Some(boundary) = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).and_then(boundary) else {
        return failed("The request must be multipart/form-data with a boundary".into());
    };
    // Room for the multipart framing around a file of `limit` bytes.
    let bytes = match body(request, limit + 64 * 1024).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let (name, content) = match first_file(&bytes, &boundary) {
        Ok(f) => f,
        Err(e) => return failed(format!("The upload could not be read: {e}")),
    };
    if content.len() > limit {
        return failed(format!("The file is larger than {limit} bytes"));
    }
    let file_name = sanitize(&name);
    let location = format!("{}/{file_name}", opaque_token(12));
    let size = content.len();
    let upload = Upload { app_id: call.caller.label(), file_name: file_name.clone(), bytes: content.into() };
    store::with(&k.store.uploads, MAX_UPLOADS, |m| m.insert(location.clone(), upload));
    let kind = if file_name.to_ascii_lowercase().ends_with(".csv") { "text/csv" } else { "application/octet-stream" };
    errors::ok(
        json!({"Successful": true, "Error": null, "Properties": {"Size": size, "Name": file_name, "Location": location, "Type": kind}}),
    )
}

/// The upload at `location`, parsed; only the app that uploaded it may use it.
fn parse_upload(k: &Knoema, location: &str, caller: &Caller) -> Result<(Upload, Vec<Vec<String>>), String> {
    let upload = store::with(&k.store.uploads, MAX_UPLOADS, |m| m.get(&location.to_owned()).cloned())
        .filter(|u| u.app_id == caller.label())
        .ok_or_else(|| {
            format!("The file '{location}' was not uploaded by this app (or was dropped): upload it again")
        })?;
    let text = std::str::from_utf8(&upload.bytes)
        .map_err(|_| "The mock reads CSV files (UTF-8 text): this file is not text".to_owned())?;
    let rows = parse_csv(text.trim_start_matches('\u{feff}'))?;
    flat_dataset("check", "check", &rows)?;
    Ok((upload, rows))
}

/// `GET /api/1.0/upload/verify?doNotGenerateAdvanceReport=true&filePath=..[&datasetId=..]`
pub async fn verify_upload(State(k): State<Arc<Knoema>>, WriteCall(call): WriteCall) -> Response<Body> {
    let failed = |errors: Vec<String>| errors::ok(json!({"Successful": false, "ErrorList": errors}));
    let Some(location) = call.query.get("filePath") else {
        return failed(vec!["The filePath parameter is required".into()]);
    };
    if let Some(id) = call.query.get("datasetId") {
        if k.dataset(id, &call.caller).is_none() {
            return failed(vec![NO_DATASET.into()]);
        }
    }
    match parse_upload(&k, location, &call.caller) {
        Ok((_, rows)) => {
            let ds = flat_dataset("check", "check", &rows).unwrap_or_else(|_| unreachable_dataset());
            let columns: Vec<Value> = ds
                .dimensions
                .iter()
                .map(|d| json!({"Name": d.name, "Type": "Dimension"}))
                .chain(ds.columns.iter().map(|c| json!({"Name": c.name, "Type": c.kind})))
                .collect();
            errors::ok(json!({
                "Successful": true, "UploadFormatType": "Flat", "ErrorList": [], "Columns": columns,
                "FlatDSUpdateOptions": null, "MetadataDetails": null,
            }))
        }
        Err(e) => failed(vec![e]),
    }
}

fn unreachable_dataset() -> Dataset {
    flat_dataset("x", "x", &[vec!["x".into()]]).expect("a one-column header is a dataset")
}

/// A new dataset id, like Knoema's (7 lower-case letters).
fn new_dataset_id() -> String {
    (0..7).map(|_| char::from(b'a' + rand::random_range(0..26u8))).collect()
}

/// `POST /api/1.0/upload/save`
pub async fn save(State(k): State<Arc<Knoema>>, WriteCall(call): WriteCall, request: Body) -> Response<Body> {
    let bytes = match body(request, MAX_SAVE_BODY).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let failed = |e: String| errors::ok(json!({"Id": null, "DatasetId": null, "Status": "failed", "Errors": [e]}));
    let Ok(Value::Object(req)) = serde_json::from_slice::<Value>(&bytes) else {
        return failed("The request body must be a JSON DatasetUpload object".into());
    };
    let text = |name: &str| req.get(name).and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_owned);
    // The package sends the FileProperties object's own attributes: `location`, lower case.
    let location = req
        .get("FileProperty")
        .and_then(Value::as_object)
        .and_then(|f| f.iter().find(|(k, _)| k.eq_ignore_ascii_case("location")))
        .and_then(|(_, v)| v.as_str());
    let Some(location) = location else {
        return failed("FileProperty.Location is missing".into());
    };
    let (upload, rows) = match parse_upload(&k, location, &call.caller) {
        Ok(u) => u,
        Err(e) => return failed(e),
    };
    let existing = text("DatasetId");
    if let Some(id) = &existing {
        let uploaded =
            store::with(&k.store.datasets, MAX_UPLOADED_DATASETS, |m| m.get(&id.to_ascii_lowercase()).is_some());
        if !uploaded {
            return failed(format!(
                "Dataset '{id}' cannot be replaced: only datasets uploaded since the last reset can"
            ));
        }
    }
    let id = existing.unwrap_or_else(new_dataset_id);
    let name = text("Name").unwrap_or_else(|| upload.file_name.clone());
    let mut ds = match flat_dataset(&id, &name, &rows) {
        Ok(ds) => ds,
        Err(e) => return failed(e),
    };
    ds.private = !req.get("Public").and_then(Value::as_bool).unwrap_or(false);
    ds.description = text("Description").unwrap_or_default();
    ds.source = text("Source").unwrap_or_default();
    let now = k.ns.clock.now();
    let stamp = now.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    ds.publication_date = Some(stamp.clone());
    ds.last_updated_on = Some(stamp);
    let count = ds.rows.len();
    store::with(&k.store.datasets, MAX_UPLOADED_DATASETS, |m| m.insert(id.to_ascii_lowercase(), ds));
    k.store.deleted.lock().unwrap().remove(&id.to_ascii_lowercase());
    let submission = k.store.next_submission_id();
    store::with(&k.store.submissions, MAX_SUBMISSIONS, |m| {
        m.insert(submission, Submission { dataset_id: Some(id.clone()), status: "successful", errors: Vec::new() })
    });
    k.ns.record(
        &call.route,
        EventKind::DataWritten {
            collection: id.clone(),
            count,
            operation_id: format!("upload-{submission}"),
            client_id: call.caller.label(),
        },
    );
    errors::ok(json!({"Id": submission, "DatasetId": id, "Status": "pending", "Errors": []}))
}

/// `GET /api/1.0/upload/status?id=`
pub async fn status(State(k): State<Arc<Knoema>>, WriteCall(call): WriteCall) -> Response<Body> {
    let id = call.query.get("id").unwrap_or_default();
    let found =
        id.parse::<u64>().ok().and_then(|n| store::with(&k.store.submissions, MAX_SUBMISSIONS, |m| m.get(&n).cloned()));
    match found {
        Some(s) => errors::ok(
            json!({"id": id.parse::<u64>().unwrap_or_default(), "datasetId": s.dataset_id, "status": s.status, "errors": s.errors}),
        ),
        None => errors::ok(
            json!({"id": id, "datasetId": null, "status": "failed", "errors": [format!("There is no upload with id '{id}'")]}),
        ),
    }
}

/// `POST /api/1.0/meta/dataset/{id}/delete`
pub async fn delete(
    State(k): State<Arc<Knoema>>,
    WriteCall(call): WriteCall,
    Path(id): Path<String>,
) -> Response<Body> {
    let Some(ds) = k.dataset(&id, &call.caller) else {
        return errors::json_response(StatusCode::BAD_REQUEST, &json!(NO_DATASET));
    };
    let key = ds.id.to_ascii_lowercase();
    let uploaded = store::with(&k.store.datasets, MAX_UPLOADED_DATASETS, |m| m.remove(&key).is_some());
    if !uploaded {
        k.store.deleted.lock().unwrap().insert(key);
    }
    k.ns.record(
        &call.route,
        EventKind::DataWritten {
            collection: ds.id.clone(),
            count: 0,
            operation_id: "delete".into(),
            client_id: call.caller.label(),
        },
    );
    errors::ok(json!("successful"))
}

/// `POST /api/1.0/meta/verifydataset` with `{id, publicationDate, source, refUrl}`.
pub async fn verify_dataset(State(k): State<Arc<Knoema>>, WriteCall(call): WriteCall, request: Body) -> Response<Body> {
    let bytes = match body(request, MAX_SAVE_BODY).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let failed = |e: String| errors::ok(json!({"status": "failed", "errors": [e]}));
    let Ok(Value::Object(req)) = serde_json::from_slice::<Value>(&bytes) else {
        return failed("The request body must be a JSON object {id, publicationDate, source, refUrl}".into());
    };
    let Some(id) = req.get("id").and_then(Value::as_str) else {
        return failed("id is missing".into());
    };
    let Some(ds) = k.dataset(id, &call.caller) else {
        return failed(NO_DATASET.into());
    };
    let date = req.get("publicationDate").and_then(Value::as_str).unwrap_or_default();
    if parse_day(date).is_none() {
        return failed(format!("publicationDate '{date}' is not a date (YYYY-MM-DD)"));
    }
    k.ns.record(
        &call.route,
        EventKind::DataWritten {
            collection: ds.id.clone(),
            count: 0,
            operation_id: format!("verify:{}", parse_day(date).map(wire_date).unwrap_or_default()),
            client_id: call.caller.label(),
        },
    );
    errors::ok(json!({"status": "successful", "errors": []}))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn reads_the_package_multipart() {
        assert_eq!(boundary("multipart/form-data; boundary=\"abcXYZ\""), Some("abcXYZ".into()));
        assert_eq!(boundary("multipart/form-data; charset=x; boundary=q1"), Some("q1".into()));
        assert_eq!(boundary("text/plain; boundary=q1"), None);
        let body = b"--abc\r\nContent-Disposition: form-data; name=\"file\"; filename=\"data.csv\"\r\n\r\na,b\r\n1,2\r\n--abc--\r\n";
        assert_eq!(first_file(body, "abc").unwrap(), ("data.csv".into(), b"a,b\r\n1,2".to_vec()));
        assert!(first_file(b"--abc\r\nX: y\r\n\r\nz\r\n--abc--\r\n", "abc").unwrap_err().contains("no file part"));
        assert!(first_file(b"garbage", "abc").is_err());
    }

    #[test]
    fn csv_becomes_a_flat_dataset() {
        let rows = parse_csv(
            "Country,Plant,\"Capacity, MW\",Opened\r\nDE,\"Alpha \"\"A\"\"\",400,2015-06-01\nFR,Beta,12.5,\n",
        )
        .unwrap();
        let ds = flat_dataset("x", "X", &rows).unwrap();
        assert_eq!(ds.dimensions.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(), ["Country", "Plant"]);
        assert_eq!(ds.dimensions[1].members[0].name, "Alpha \"A\"");
        assert_eq!(ds.columns.iter().map(|c| c.kind.as_str()).collect::<Vec<_>>(), ["Number", "Date"]);
        assert_eq!(ds.rows.len(), 2);
        assert!(flat_dataset("x", "X", &parse_csv("a,b\n1\n").unwrap()).unwrap_err().contains("record 1"));
        assert!(parse_csv("\"open").is_err());
    }

    proptest! {
        #[test]
        fn multipart_parser_never_panics(body in proptest::collection::vec(any::<u8>(), 0..300), b in "[a-z]{0,5}") {
            let _ = first_file(&body, &b);
            let _ = boundary(&String::from_utf8_lossy(&body));
        }

        #[test]
        fn csv_parser_never_panics(text in "[a-z0-9,\"\r\n -]{0,200}") {
            if let Ok(rows) = parse_csv(&text) {
                let _ = flat_dataset("x", "x", &rows);
            }
        }
    }
}
