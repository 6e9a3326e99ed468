//! History: `GET|POST /api/v3beta/log/{installation_id}`, Lynx's "very fast HTTP api for
//! retrieving data series".
//!
//! Parameters (query; on POST the topics may also be a JSON array body, py-lynx's way):
//! `from`, `to` (unix seconds, fractions allowed; default the last 24 hours, as go-lynx),
//! `limit` (default 500, at most 100000), `offset`, `order` (`desc` default, or `asc`), `topics`
//! (repeated or comma-joined, with or without the `{client_id}/` prefix, MQTT filters allowed),
//! `aggr_method` (`avg`/`mean`, `min`, `max`, `sum`, `count`, `first`, `last`) with
//! `aggr_interval` (a Go duration such as `1h0m0s`; `0s` or none: one bucket over the range),
//! `include_total` (accepted; *assumed*: the mock always counts). Anything malformed is 400.
//!
//! Answer: exactly `{"total", "last", "count", "data"}` (py-lynx's `LogPage`): `total` entries
//! match, `count` are in `data`, `last` is the timestamp of the last entry of `data` (0 when
//! empty); entries are `{client_id, installation_id, msg, timestamp, topic, value}` with
//! `topic` prefixed by `{client_id}/`.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{Response, StatusCode};
use serde_json::{json, Value};

use super::access::LOG_READ;
use super::status::without_prefix;
use super::values::{Method, Query};
use super::errors;
use super::query;
use super::provider::IotOpen;
use super::caller::{id, Ctx};
use crate::contract::json_response;

pub const DEFAULT_LIMIT: usize = 500;
pub const MAX_LIMIT: usize = 100_000;

/// Reads the query parameters into a [`Query`] (topics still to be added).
pub fn parse(raw: Option<&str>, now: f64) -> Result<Query, String> {
    let pairs = query::pairs(raw);
    let get = |name: &str| query::last(&pairs, name).filter(|v| !v.trim().is_empty());
    let to = get("to").map(|v| query::seconds("to", v)).transpose()?.unwrap_or(now);
    let from = get("from").map(|v| query::seconds("from", v)).transpose()?.unwrap_or(to - 86_400.0);
    if from > to {
        return Err(format!("from ({from}) is after to ({to})"));
    }
    let limit = get("limit").map(|v| query::whole("limit", v)).transpose()?.map_or(DEFAULT_LIMIT, |l| l as usize);
    if limit == 0 || limit > MAX_LIMIT {
        return Err(format!("limit must be from 1 to {MAX_LIMIT}"));
    }
    let offset = get("offset").map(|v| query::whole("offset", v)).transpose()?.unwrap_or(0) as usize;
    let descending = match get("order").map(str::to_ascii_lowercase).as_deref() {
        None | Some("desc") => true,
        Some("asc") => false,
        Some(other) => return Err(format!("order must be asc or desc, not '{other}'")),
    };
    if let Some(v) = get("include_total") {
        query::boolean("include_total", v)?;
    }
    let aggregate = match get("aggr_method") {
        None => {
            if get("aggr_interval").is_some_and(|i| query::go_duration(i).is_ok_and(|s| s > 0.0)) {
                return Err("aggr_interval needs aggr_method".into());
            }
            None
        }
        Some(m) => {
            let method = Method::parse(m).ok_or_else(|| {
                format!("aggr_method '{m}' is not one of avg, mean, min, max, sum, count, first, last")
            })?;
            let interval = get("aggr_interval").map(query::go_duration).transpose()?.unwrap_or(0.0);
            if interval < 0.0 {
                return Err("aggr_interval must not be negative".into());
            }
            Some((method, interval))
        }
    };
    Ok(Query { from, to, topics: query::list(&pairs, "topics"), descending, limit, offset, aggregate })
}

async fn log(io: Arc<IotOpen>, ctx: Ctx, raw: String, body: Option<Body>) -> Response<Body> {
    let caller = match io.authenticate(&ctx, "log") {
        Ok(c) => c,
        Err(r) => return r,
    };
    let installation = match id("installation id", &raw) {
        Ok(v) => v,
        Err(r) => return r,
    };
    if let Err(r) = io.allow(&ctx, &caller, LOG_READ, installation, "log") {
        return r;
    }
    let now = io.now_f64();
    let mut q = match parse(ctx.query.as_deref(), now) {
        Ok(q) => q,
        Err(m) => return errors::bad_request(m),
    };
    if let Some(body) = body {
        match query::json_body(body).await.map(|b| query::topics_body(b.as_ref())) {
            Ok(Ok(more)) => q.topics.extend(more),
            Ok(Err(m)) => return errors::bad_request(m),
            Err(r) => return r,
        }
    }
    let Some(client_id) = io.directory().installation(installation).map(|i| i.client_id) else {
        return errors::not_found();
    };
    q.topics = without_prefix(client_id, std::mem::take(&mut q.topics));
    let page = io.values.query(installation, &q, now, io.bounds().retention_seconds);
    let last = page.entries.last().map_or(0.0, |e| e.timestamp);
    let data: Vec<Value> = page
        .entries
        .iter()
        .map(|e| {
            json!({
                "client_id": client_id,
                "installation_id": installation,
                "msg": &*e.msg,
                "timestamp": e.timestamp,
                "topic": format!("{client_id}/{}", e.topic),
                "value": e.value,
            })
        })
        .collect();
    json_response(StatusCode::OK, json!({"total": page.total, "last": last, "count": data.len(), "data": data}))
}

pub async fn get_log(State(io): State<Arc<IotOpen>>, ctx: Ctx, Path(raw): Path<String>) -> Response<Body> {
    log(io, ctx, raw, None).await
}

pub async fn post_log(State(io): State<Arc<IotOpen>>, ctx: Ctx, Path(raw): Path<String>, body: Body) -> Response<Body> {
    log(io, ctx, raw, Some(body)).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn every_parameter() {
        let q = parse(Some("from=100.5&to=200&limit=10&offset=3&order=asc&topics=a,b&topics=c&aggr_method=avg&aggr_interval=1h0m0s&include_total=true"), 1e9).unwrap();
        assert_eq!((q.from, q.to, q.limit, q.offset, q.descending), (100.5, 200.0, 10, 3, false));
        assert_eq!(q.topics, vec!["a", "b", "c"]);
        assert_eq!(q.aggregate, Some((Method::Avg, 3600.0)));
        let d = parse(None, 1000.0).unwrap();
        assert_eq!((d.from, d.to, d.limit, d.descending, d.aggregate), (1000.0 - 86_400.0, 1000.0, 500, true, None));
        assert!(parse(Some("aggr_method=avg&aggr_interval=0s"), 0.0).unwrap().aggregate.is_some());
        for bad in [
            "from=x",
            "from=10&to=5",
            "limit=0",
            "limit=-1",
            "order=up",
            "aggr_method=median",
            "aggr_method=avg&aggr_interval=1y",
            "include_total=maybe",
            "aggr_interval=1h",
        ] {
            assert!(parse(Some(bad), 1000.0).is_err(), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn never_panics(q in "\\PC{0,80}") {
            let _ = parse(Some(&q), 1e9);
        }
    }
}
