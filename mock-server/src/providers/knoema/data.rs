//! The data endpoints the knoema Python package calls (docs/providers/knoema.md#data-api), over the
//! fixture datasets and those uploaded since the last reset:
//!
//! - `GET /api/1.0/meta/dataset/{id}`, `.../dimension/{dim}`, `.../daterange`: metadata;
//! - `POST /api/2.0/data?datasetId=ID` with a flat filter object: the default path of
//!   `knoema.get(dataset, dim=...)`. Regular datasets answer the raw form `{continuationToken,
//!   data: [series], dimensionFields?}`; flat ones the details form `{columns, data}`;
//! - `POST /api/1.2/data/raw/[?metadataOnly=true]` with a PivotRequest, then
//!   `GET /api/1.0/data/raw/?continuationToken=..` for the next pages (`series_per_page` series
//!   each, so clients exercise paging);
//! - `POST /api/1.0/data/pivot/` (PivotRequest → `{dataset, header, stub, filter, data: [tuples]}`);
//! - `GET /api/1.0/data/mnemonics?mnemonics=A;B`;
//! - `GET /api/1.0/frontend/tags` (the R client's first call).
//!
//! A series `{<dimId>: {key, name, id, ...fields}, frequency, startDate, endDate, values, unit,
//! scale, mnemonics, timeseriesAttributes}` has value i at `startDate + i·step(frequency)`.
//! An unknown dataset, or a private one for a caller who is not signed in, is 200 with the JSON
//! string "Requested dataset doesn't exist or you don't have access to it."; a bad filter is 400
//! with a text body.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{FromRequestParts, MatchedPath, Path, State};
use axum::http::request::Parts;
use axum::http::{Response, StatusCode};
use chrono::{Duration, NaiveDate};
use serde_json::{json, Map, Value};

use super::auth::{self, Caller};
use super::errors::{self, NO_DATASET};
use super::filter::{self, Selection};
use super::fixtures::{Dataset, DatasetKind, Dimension, Series};
use super::query::LenientQuery;
use super::store::{self, Continuation, MAX_CONTINUATIONS};
use super::timeline::{parse_day, wire_date, Frequency};
use super::provider::Knoema;
use crate::contract::ServiceRoute;
use crate::contract::ConnInfo;
use crate::tokens::opaque_token;
use crate::wire::{read_body, BodyError};

/// How long a continuation token stays valid.
const CONTINUATION_LIFETIME_SECONDS: i64 = 600;
/// Most tuples one pivot answer carries.
const MAX_TUPLES: usize = 200_000;

/// An authenticated data call: who, its query, and the service route it came by. Extracted
/// before the handler runs, so an unauthenticated request never reaches it; the journal names
/// the endpoint by the route pattern it matched (`/api/1.0/meta/dataset/{id}`).
pub struct Call {
    pub caller: Caller,
    pub query: LenientQuery,
    pub route: ServiceRoute,
}

impl FromRequestParts<Arc<Knoema>> for Call {
    type Rejection = Response<Body>;

    async fn from_request_parts(parts: &mut Parts, k: &Arc<Knoema>) -> Result<Self, Self::Rejection> {
        let route = parts.extensions.get::<ServiceRoute>().cloned().ok_or_else(|| {
            errors::text(StatusCode::INTERNAL_SERVER_ERROR, "request reached Knoema without a service route")
        })?;
        let endpoint = parts
            .extensions
            .get::<MatchedPath>()
            .map_or_else(|| parts.uri.path().to_owned(), |m| m.as_str().to_owned());
        let query = LenientQuery::parse(parts.uri.query());
        let remote = parts.extensions.get::<ConnInfo>().map(|c| c.remote.ip());
        let caller = auth::admit(
            k,
            &auth::Request { route: &route, headers: &parts.headers, query: &query, remote, endpoint: &endpoint },
        )?;
        Ok(Call { caller, query, route })
    }
}

/// The body of a data request, or the answer to send.
pub async fn body(body: Body, limit: usize) -> Result<bytes::Bytes, Response<Body>> {
    read_body(body, limit).await.map_err(|e| match e {
        BodyError::TooLarge(_) => errors::text(StatusCode::PAYLOAD_TOO_LARGE, e.to_string()),
        BodyError::Unreadable(_) => errors::text(StatusCode::BAD_REQUEST, e.to_string()),
    })
}

/// Stable integer key of a dataset's dimension.
fn dimension_key(i: usize) -> u64 {
    5_000_000 + i as u64
}

fn field_json(key: u64, name: &str, system: bool) -> Value {
    let display = {
        let mut c = name.chars();
        c.next().map(|f| f.to_uppercase().chain(c).collect::<String>()).unwrap_or_default()
    };
    json!({"key": key, "name": name, "displayName": display, "type": "String", "locale": null, "baseKey": key, "isSystemField": system})
}

/// The fields of a dimension: `id` (system), then the fixture's own.
fn dimension_fields(i: usize, d: &Dimension) -> Value {
    let base = dimension_key(i) * 100;
    let mut fields = vec![field_json(base, "id", true)];
    fields.extend(d.fields.iter().enumerate().map(|(j, f)| field_json(base + 1 + j as u64, f, false)));
    Value::Array(fields)
}

fn all_dimension_fields(ds: &Dataset) -> Value {
    Value::Object(ds.dimensions.iter().enumerate().map(|(i, d)| (d.id.clone(), dimension_fields(i, d))).collect())
}

/// Which members have data.
fn members_with_data(ds: &Dataset, dim: usize) -> Vec<bool> {
    let mut has = vec![false; ds.dimensions[dim].members.len()];
    let records = ds.series.iter().map(|s| &s.dims).chain(ds.rows.iter().map(|r| &r.dims));
    for dims in records {
        if let Some(idx) = ds.member_indexes(dims) {
            has[idx[dim]] = true;
        }
    }
    has
}

/// `GET /api/1.0/meta/dataset/{id}`
pub async fn meta(State(k): State<Arc<Knoema>>, call: Call, Path(id): Path<String>) -> Response<Body> {
    let Some(ds) = k.dataset(&id, &call.caller) else {
        return errors::refusal(NO_DATASET);
    };
    errors::ok(meta_json(&ds, &call.route))
}

pub fn meta_json(ds: &Dataset, route: &ServiceRoute) -> Value {
    let dims: Vec<Value> = ds
        .dimensions
        .iter()
        .enumerate()
        .map(|(i, d)| json!({"key": dimension_key(i), "id": d.id, "name": d.name, "isGeo": d.is_geo, "datasetId": ds.id}))
        .collect();
    let columns: Vec<Value> = match ds.kind {
        DatasetKind::Regular => Vec::new(),
        DatasetKind::Flat => ds
            .dimensions
            .iter()
            .enumerate()
            .map(|(i, d)| json!({"key": dimension_key(i), "id": d.id, "name": d.name, "type": "Dimension", "dimensionId": d.id}))
            .chain(ds.columns.iter().enumerate().map(|(j, c)| json!({"key": 6_000_000 + j as u64, "id": c.id, "name": c.name, "type": c.kind, "dimensionId": null})))
            .collect(),
    };
    let updated = ds.last_updated_on.clone().or_else(|| ds.publication_date.clone());
    let settings = json!({
        "LastUpdate": {"End": updated},
        "LastSuccessfulUpdate": {"End": updated},
        "Health": "Green",
    });
    json!({
        "id": ds.id,
        "type": ds.kind.as_str(),
        "name": ds.name,
        "description": ds.description,
        "source": {"name": ds.source},
        "publicationDate": ds.publication_date,
        "lastUpdatedOn": updated,
        "accessedOn": updated,
        "isRemote": false,
        "isPublic": !ds.private,
        "ref": format!("{}/{}", route.base_url, ds.id),
        "dimensions": dims,
        "columns": columns,
        "timeseriesAttributes": ds.timeseries_attributes.iter().map(|a| json!({"name": a, "type": "String", "allowedValues": null})).collect::<Vec<_>>(),
        "settings": settings.to_string(),
        "hasShortCut": false,
        "isShortcut": false,
        "updatePriority": "Normal",
        "shareToCommunitiesAllowed": false,
        "metadataAccess": "Public",
    })
}

/// `GET /api/1.0/meta/dataset/{id}/dimension/{dim}`
pub async fn dimension(
    State(k): State<Arc<Knoema>>,
    call: Call,
    Path((id, dim)): Path<(String, String)>,
) -> Response<Body> {
    let Some(ds) = k.dataset(&id, &call.caller) else {
        return errors::refusal(NO_DATASET);
    };
    let Some((i, d)) = ds.dimension(&dim).or_else(|| ds.find_dimension(&dim)) else {
        return errors::refusal(format!("Dimension '{dim}' doesn't exist in dataset '{}'.", ds.id));
    };
    let has = members_with_data(&ds, i);
    let items: Vec<Value> = d
        .members
        .iter()
        .zip(has)
        .map(|(m, has_data)| {
            let mut fields = Map::new();
            fields.insert("id".into(), json!(m.id));
            for f in &d.fields {
                fields.insert(f.clone(), m.fields.get(f).map_or(Value::Null, |v| json!(v)));
            }
            json!({"key": m.key, "name": m.name, "level": m.level, "hasData": has_data, "fields": fields})
        })
        .collect();
    errors::ok(json!({
        "key": dimension_key(i), "id": d.id, "name": d.name, "isGeo": d.is_geo, "datasetId": ds.id,
        "fields": dimension_fields(i, d), "items": items,
    }))
}

/// Dates of a series' values.
fn series_dates(s: &Series) -> Option<(Frequency, Vec<NaiveDate>)> {
    let freq = Frequency::parse(&s.frequency)?;
    let start = parse_day(&s.start)?;
    let dates: Option<Vec<NaiveDate>> = (0..s.values.len()).map(|i| freq.step(start, u32::try_from(i).ok()?)).collect();
    Some((freq, dates?))
}

/// `GET /api/1.0/meta/dataset/{id}/daterange`
pub async fn daterange(State(k): State<Arc<Knoema>>, call: Call, Path(id): Path<String>) -> Response<Body> {
    let Some(ds) = k.dataset(&id, &call.caller) else {
        return errors::refusal(NO_DATASET);
    };
    let mut dates: Vec<NaiveDate> = Vec::new();
    let mut frequencies: Vec<Frequency> = Vec::new();
    for s in &ds.series {
        if let Some((f, d)) = series_dates(s) {
            dates.extend(d.first().into_iter().chain(d.last()));
            if !frequencies.contains(&f) {
                frequencies.push(f);
            }
        }
    }
    for c in ds.columns.iter().filter(|c| c.kind == "Date") {
        dates.extend(ds.rows.iter().filter_map(|r| r.values.get(&c.id).and_then(Value::as_str).and_then(parse_day)));
    }
    frequencies.sort();
    errors::ok(json!({
        "startDate": dates.iter().min().map(|d| wire_date(*d)),
        "endDate": dates.iter().max().map(|d| wire_date(*d)),
        "frequencies": frequencies.iter().map(|f| f.code()).collect::<Vec<_>>(),
    }))
}

/// A selected series, with the selected window of values.
struct Picked<'d> {
    series: &'d Series,
    members: Vec<usize>,
    freq: Frequency,
    start: NaiveDate,
    end: NaiveDate,
    values: Vec<Option<f64>>,
    dates: Vec<NaiveDate>,
}

fn pick<'d>(ds: &'d Dataset, sel: &Selection) -> Vec<Picked<'d>> {
    let mut out = Vec::new();
    for s in &ds.series {
        let (Some(members), Some((freq, dates))) = (ds.member_indexes(&s.dims), series_dates(s)) else { continue };
        if !sel.takes(&members) || sel.frequencies.as_ref().is_some_and(|f| !f.contains(&freq)) {
            continue;
        }
        let values: Vec<Option<f64>> = s.values.iter().map(|v| v.is_finite().then_some(*v)).collect();
        let keep = match &sel.time {
            Some(t) => t.select(&dates, &values),
            None => vec![true; values.len()],
        };
        let (Some(first), Some(last)) = (keep.iter().position(|b| *b), keep.iter().rposition(|b| *b)) else { continue };
        let window: Vec<Option<f64>> = (first..=last).map(|i| if keep[i] { values[i] } else { None }).collect();
        out.push(Picked {
            series: s,
            members,
            freq,
            start: dates[first],
            end: dates[last],
            values: window,
            dates: dates[first..=last].to_vec(),
        });
    }
    out
}

fn member_json(d: &Dimension, i: usize) -> Value {
    let m = &d.members[i];
    let mut obj = Map::new();
    obj.insert("key".into(), json!(m.key));
    obj.insert("name".into(), json!(m.name));
    obj.insert("id".into(), json!(m.id));
    for f in &d.fields {
        obj.insert(f.clone(), m.fields.get(f).map_or(Value::Null, |v| json!(v)));
    }
    Value::Object(obj)
}

fn raw_series(ds: &Dataset, p: &Picked<'_>, with_values: bool) -> Value {
    let mut obj = Map::new();
    for (d, i) in ds.dimensions.iter().zip(&p.members) {
        obj.insert(d.id.clone(), member_json(d, *i));
    }
    obj.insert("frequency".into(), json!(p.freq.code()));
    obj.insert("startDate".into(), json!(wire_date(p.start)));
    obj.insert("endDate".into(), json!(wire_date(p.end)));
    if with_values {
        obj.insert("values".into(), json!(p.values));
    }
    obj.insert("unit".into(), json!(p.series.unit));
    obj.insert("scale".into(), json!(p.series.scale));
    obj.insert("mnemonics".into(), json!(p.series.mnemonics));
    let attributes: Map<String, Value> = ds
        .timeseries_attributes
        .iter()
        .map(|a| (a.clone(), p.series.attributes.get(a).map_or(Value::Null, |v| json!(v))))
        .collect();
    obj.insert("timeseriesAttributes".into(), Value::Object(attributes));
    Value::Object(obj)
}

/// The first page of `series`; the rest waits behind a continuation token.
fn paged(k: &Knoema, ds: &Dataset, mut series: Vec<Value>, dimension_fields: Option<Value>) -> Value {
    let per_page = k.fixtures().series_per_page.max(1);
    let rest = if series.len() > per_page { series.split_off(per_page) } else { Vec::new() };
    let token = (!rest.is_empty()).then(|| {
        let token = opaque_token(24);
        let now = k.ns.clock.now();
        let c = Continuation {
            dataset_id: ds.id.clone(),
            remaining: rest,
            dimension_fields: dimension_fields.clone(),
            expires_at: now + Duration::seconds(CONTINUATION_LIFETIME_SECONDS),
        };
        store::with(&k.store.continuations, MAX_CONTINUATIONS, |m| {
            m.retain(|_, c| c.expires_at > now);
            m.insert(token.clone(), c)
        });
        token
    });
    let mut body = json!({"continuationToken": token, "data": series, "descriptor": null});
    if let Some(fields) = dimension_fields {
        body["dimensionFields"] = fields;
    }
    body
}

/// `POST /api/2.0/data?datasetId=ID`
pub async fn data_v2(State(k): State<Arc<Knoema>>, call: Call, request: Body) -> Response<Body> {
    let bytes = match body(request, filter::MAX_FILTER_BODY).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let Some(id) = call.query.get("datasetId") else {
        return errors::text(StatusCode::BAD_REQUEST, "The datasetId parameter is required");
    };
    let Some(ds) = k.dataset(id, &call.caller) else {
        return errors::refusal(NO_DATASET);
    };
    let sel = match filter::parse_filter(&bytes).and_then(|f| filter::resolve(&f, &ds)) {
        Ok(s) => s,
        Err(message) => return errors::text(StatusCode::BAD_REQUEST, message),
    };
    if ds.kind == DatasetKind::Flat {
        return errors::ok(details(&ds, &sel));
    }
    let series: Vec<Value> = pick(&ds, &sel).iter().map(|p| raw_series(&ds, p, true)).collect();
    let fields = sel.metadata.then(|| all_dimension_fields(&ds));
    errors::ok(paged(&k, &ds, series, fields))
}

/// The details form of a flat dataset's records.
fn details(ds: &Dataset, sel: &Selection) -> Value {
    let n = ds.dimensions.len();
    let mut columns: Vec<Value> = ds
        .dimensions
        .iter()
        .enumerate()
        .map(|(i, d)| json!({"id": d.id, "name": d.name, "dimensionId": d.id, "index": i, "type": "Dimension"}))
        .collect();
    columns.extend(
        ds.columns
            .iter()
            .enumerate()
            .map(|(j, c)| json!({"id": c.id, "name": c.name, "dimensionId": null, "index": n + j, "type": c.kind})),
    );
    let rows: Vec<Value> = ds
        .rows
        .iter()
        .filter_map(|r| {
            let idx = ds.member_indexes(&r.dims)?;
            if !sel.takes(&idx) {
                return None;
            }
            let mut obj = Map::new();
            for (d, i) in ds.dimensions.iter().zip(&idx) {
                obj.insert(d.id.clone(), json!(d.members[*i].name));
            }
            for c in &ds.columns {
                let v = r.values.get(&c.id).cloned().unwrap_or(Value::Null);
                let v = match (c.kind.as_str(), &v) {
                    ("Date", Value::String(s)) => json!({"value": parse_day(s).map_or_else(|| s.clone(), wire_date)}),
                    ("Date", Value::Null) => Value::Null,
                    _ => v,
                };
                obj.insert(c.id.clone(), v);
            }
            Some(Value::Object(obj))
        })
        .collect();
    json!({"columns": columns, "data": rows})
}

/// The body of a raw or pivot request: parsed, its dataset visible to the caller, its
/// selection resolved against that dataset.
async fn pivot_request(
    k: &Knoema,
    caller: &super::auth::Caller,
    request: Body,
) -> Result<(filter::PivotRequest, Dataset, filter::Selection), Response<Body>> {
    let bytes = body(request, filter::MAX_FILTER_BODY).await?;
    let req = filter::parse_pivot(&bytes).map_err(|message| errors::text(StatusCode::BAD_REQUEST, message))?;
    let ds = k.dataset(&req.dataset, caller).ok_or_else(|| errors::refusal(NO_DATASET))?;
    let sel = filter::resolve_pivot(&req, &ds).map_err(|message| errors::text(StatusCode::BAD_REQUEST, message))?;
    Ok((req, ds, sel))
}

/// `POST /api/1.2/data/raw/[?metadataOnly=true]`
pub async fn raw(State(k): State<Arc<Knoema>>, call: Call, request: Body) -> Response<Body> {
    let (_, ds, sel) = match pivot_request(&k, &call.caller, request).await {
        Ok(parts) => parts,
        Err(r) => return r,
    };
    let with_values = !call.query.is_true("metadataOnly");
    let series: Vec<Value> = pick(&ds, &sel).iter().map(|p| raw_series(&ds, p, with_values)).collect();
    errors::ok(paged(&k, &ds, series, Some(all_dimension_fields(&ds))))
}

/// `GET /api/1.0/data/raw/?continuationToken=..`
pub async fn raw_next(State(k): State<Arc<Knoema>>, call: Call) -> Response<Body> {
    let Some(token) = call.query.get("continuationToken") else {
        return errors::text(StatusCode::BAD_REQUEST, "The continuationToken parameter is required");
    };
    let now = k.ns.clock.now();
    let found = store::with(&k.store.continuations, MAX_CONTINUATIONS, |m| m.remove(&token.to_owned()));
    let Some(c) = found.filter(|c| c.expires_at > now) else {
        return errors::text(
            StatusCode::BAD_REQUEST,
            "The continuation token is unknown or expired; send the data request again",
        );
    };
    let Some(ds) = k.dataset(&c.dataset_id, &call.caller) else {
        return errors::refusal(NO_DATASET);
    };
    errors::ok(paged(&k, &ds, c.remaining, c.dimension_fields))
}

/// Pivot tuples of the picked series.
fn tuples(ds: &Dataset, picked: &[Picked<'_>]) -> Result<Vec<Value>, String> {
    let mut out = Vec::new();
    for p in picked {
        for (date, value) in p.dates.iter().zip(&p.values) {
            let Some(v) = value else { continue };
            if out.len() >= MAX_TUPLES {
                return Err(format!("The request selects more than {MAX_TUPLES} values; narrow it down"));
            }
            let mut obj = Map::new();
            for (d, i) in ds.dimensions.iter().zip(&p.members) {
                obj.insert(d.id.clone(), json!(d.members[*i].name));
            }
            obj.insert("Frequency".into(), json!(p.freq.code()));
            obj.insert("Time".into(), json!(wire_date(*date)));
            obj.insert("Value".into(), json!(v));
            obj.insert("Unit".into(), json!(p.series.unit));
            obj.insert("Scale".into(), json!(p.series.scale));
            obj.insert("Mnemonics".into(), json!(p.series.mnemonics));
            out.push(Value::Object(obj));
        }
    }
    Ok(out)
}

/// The PivotResponse for `picked` of `ds`.
fn pivot_json(
    ds: &Dataset,
    sel: &Selection,
    picked: &[Picked<'_>],
    time_members: Vec<String>,
) -> Result<Value, String> {
    let stub: Vec<Value> = ds
        .dimensions
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let chosen: Vec<usize> = match &sel.members[i] {
                Some(set) => set.iter().copied().collect(),
                None => (0..d.members.len()).collect(),
            };
            let metadata: Vec<Value> = chosen
                .iter()
                .map(|m| {
                    let member = &d.members[*m];
                    let mut fields = member_json(d, *m);
                    if let Some(obj) = fields.as_object_mut() {
                        obj.remove("key");
                        obj.remove("name");
                    }
                    json!({"key": member.key, "name": member.name, "parent": null, "fields": fields})
                })
                .collect();
            json!({
                "dimensionId": d.id,
                "members": chosen.iter().map(|m| d.members[*m].key).collect::<Vec<_>>(),
                "metadataFields": metadata,
                "dimensionFields": dimension_fields(i, d),
            })
        })
        .collect();
    let header =
        vec![json!({"dimensionId": "Time", "members": time_members, "metadataFields": null, "dimensionFields": null})];
    Ok(
        json!({"dataset": ds.id, "header": header, "stub": stub, "filter": [], "data": tuples(ds, picked)?, "descriptor": null}),
    )
}

/// `POST /api/1.0/data/pivot/`
pub async fn pivot(State(k): State<Arc<Knoema>>, call: Call, request: Body) -> Response<Body> {
    let (req, ds, sel) = match pivot_request(&k, &call.caller, request).await {
        Ok(parts) => parts,
        Err(r) => return r,
    };
    let time_members = req
        .items
        .iter()
        .find(|(id, ..)| id.eq_ignore_ascii_case("Time"))
        .map(|(_, m, _)| m.clone())
        .unwrap_or_default();
    match pivot_json(&ds, &sel, &pick(&ds, &sel), time_members) {
        Ok(v) => errors::ok(v),
        Err(message) => errors::text(StatusCode::BAD_REQUEST, message),
    }
}

/// `GET /api/1.0/data/mnemonics?mnemonics=A;B[&frequency=A]`
pub async fn mnemonics(State(k): State<Arc<Knoema>>, call: Call) -> Response<Body> {
    let Some(list) = call.query.get("mnemonics") else {
        return errors::text(StatusCode::BAD_REQUEST, "The mnemonics parameter is required");
    };
    if call.query.get("transform").is_some() {
        return errors::text(
            StatusCode::BAD_REQUEST,
            "Transformations are not supported by this service (mock-server serves data as stored)",
        );
    }
    let frequencies = match call.query.get("frequency") {
        None => None,
        Some(f) => match f
            .split([';', ','])
            .filter(|s| !s.is_empty())
            .map(|s| Frequency::parse(s).ok_or(s))
            .collect::<Result<Vec<_>, _>>()
        {
            Ok(f) => Some(f),
            Err(bad) => {
                return errors::text(
                    StatusCode::BAD_REQUEST,
                    format!("Frequency '{bad}' is not valid: use A, H, Q, M, W or D"),
                )
            }
        },
    };
    let names: Vec<&str> = list.split([';', ',']).map(str::trim).filter(|s| !s.is_empty()).take(1000).collect();
    let datasets = k.datasets(&call.caller);
    let mut items = Vec::new();
    for name in names {
        let mut item = json!({"mnemonics": name});
        let found = datasets.iter().find_map(|ds| {
            let i =
                ds.series.iter().position(|s| s.mnemonics.as_deref().is_some_and(|m| m.eq_ignore_ascii_case(name)))?;
            Some((ds, i))
        });
        if let Some((ds, i)) = found {
            let mut sel = Selection::all(ds);
            sel.frequencies = frequencies.clone();
            let members = ds.member_indexes(&ds.series[i].dims).unwrap_or_default();
            sel.members = members.iter().map(|m| Some([*m].into_iter().collect())).collect();
            let picked: Vec<Picked<'_>> =
                pick(ds, &sel).into_iter().filter(|p| std::ptr::eq(p.series, &ds.series[i])).collect();
            if let Ok(pivot) = pivot_json(ds, &sel, &picked, Vec::new()) {
                item["pivot"] = pivot;
            }
        }
        items.push(item);
    }
    errors::ok(Value::Array(items))
}

/// `GET /api/1.0/frontend/tags`
pub async fn tags(State(k): State<Arc<Knoema>>, _call: Call) -> Response<Body> {
    errors::ok(json!(k.fixtures().tags))
}

impl Knoema {
    /// The dataset `id` (any case) as `caller` may see it: fixture datasets not deleted since
    /// the last reset and uploaded ones; private ones only for signed apps and token holders.
    pub(super) fn dataset(&self, id: &str, caller: &auth::Caller) -> Option<Dataset> {
        let key = id.to_ascii_lowercase();
        let uploaded = store::with(&self.store.datasets, store::MAX_UPLOADED_DATASETS, |m| m.get(&key).cloned());
        let ds = uploaded.or_else(|| {
            if self.store.deleted.lock().unwrap().contains(&key) {
                return None;
            }
            self.fixtures().datasets.iter().find(|d| d.id.eq_ignore_ascii_case(id)).cloned()
        })?;
        (!ds.private || caller.is_authenticated()).then_some(ds)
    }

    /// Every dataset `caller` may see.
    pub(super) fn datasets(&self, caller: &auth::Caller) -> Vec<Dataset> {
        let fixtures = self.fixtures();
        let mut ids: Vec<String> = fixtures.datasets.iter().map(|d| d.id.clone()).collect();
        store::with(&self.store.datasets, store::MAX_UPLOADED_DATASETS, |m| {
            ids.extend(m.values().map(|d| d.id.clone()))
        });
        ids.iter().filter_map(|id| self.dataset(id, caller)).collect()
    }
}

