//! Current values: `GET /api/v2/status/{installation_id}?topics=a&topics=b` and `POST` with a
//! JSON array of topics (py-lynx always posts; go-lynx posts after a 414). No topics: every
//! topic. Topics may be given with or without the `{client_id}/` prefix, and may be MQTT
//! filters. Each entry is exactly `{client_id, installation_id, msg, timestamp, topic, value}`
//! with `topic` without the prefix (py-lynx's `LogEntry`).

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{Response, StatusCode};
use serde_json::{json, Value};

use super::access::STATUS_READ;
use super::errors;
use super::query;
use super::provider::IotOpen;
use super::caller::{id, Ctx};
use crate::contract::json_response;

/// Drops a `{client_id}/` prefix from requested topics.
pub fn without_prefix(client_id: i64, topics: Vec<String>) -> Vec<String> {
    let prefix = format!("{client_id}/");
    topics.into_iter().map(|t| t.strip_prefix(&prefix).map(str::to_owned).unwrap_or(t)).collect()
}

async fn status(io: Arc<IotOpen>, ctx: Ctx, raw: String, body: Option<Body>) -> Response<Body> {
    let caller = match io.authenticate(&ctx, "status") {
        Ok(c) => c,
        Err(r) => return r,
    };
    let installation = match id("installation id", &raw) {
        Ok(v) => v,
        Err(r) => return r,
    };
    if let Err(r) = io.allow(&ctx, &caller, STATUS_READ, installation, "status") {
        return r;
    }
    let mut topics = query::list(&query::pairs(ctx.query.as_deref()), "topics");
    if let Some(body) = body {
        match query::json_body(body).await.map(|b| query::topics_body(b.as_ref())) {
            Ok(Ok(more)) => topics.extend(more),
            Ok(Err(m)) => return errors::bad_request(m),
            Err(r) => return r,
        }
    }
    let Some(client_id) = io.directory().installation(installation).map(|i| i.client_id) else {
        return errors::not_found();
    };
    let topics = without_prefix(client_id, topics);
    let entries: Vec<Value> = io
        .values
        .latest(installation, &topics)
        .into_iter()
        .map(|(topic, l)| {
            json!({"client_id": client_id, "installation_id": installation, "msg": &*l.msg, "timestamp": l.timestamp, "topic": &*topic, "value": l.value})
        })
        .collect();
    json_response(StatusCode::OK, Value::Array(entries))
}

pub async fn get_status(State(io): State<Arc<IotOpen>>, ctx: Ctx, Path(raw): Path<String>) -> Response<Body> {
    status(io, ctx, raw, None).await
}

pub async fn post_status(
    State(io): State<Arc<IotOpen>>,
    ctx: Ctx,
    Path(raw): Path<String>,
    body: Body,
) -> Response<Body> {
    status(io, ctx, raw, Some(body)).await
}
