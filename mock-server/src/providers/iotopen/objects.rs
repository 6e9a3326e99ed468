//! FunctionX and DeviceX routes (one set of handlers, the kind comes from the route):
//!
//! - `GET /api/v2/{functionx|devicex}/{installation_id}[?<meta key>=<value>...]` → list, every
//!   query parameter a meta filter (go-lynx's `Filter`);
//! - `POST .../{installation_id}` → create from `{type, installation_id, meta,
//!   protected_meta?}` (ids and times in the body are ignored);
//! - `GET|PUT|DELETE .../{installation_id}/{id}` (PUT replaces type and meta);
//! - `GET|POST|PUT|DELETE .../{id}/meta/{key}` with `{"value", "protected"}` (any case: Go
//!   sends `Value`, `Protected`); `PUT` on a missing key needs `create_missing=true`.
//!
//! Every write answers 200 (go-lynx takes anything else as an error) with the object, the meta
//! object, or `{"message": "OK"}` for deletes. Each change is announced on MQTT as
//! `{client_id}/evt/{functionx|devicex}/{created|updated|deleted}` with the object as payload,
//! unless `silent=true`.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{Response, StatusCode};
use axum::Extension;
use serde_json::{json, Value};

use super::things::{check_meta, Object, Which};
use super::errors;
use super::query;
use super::provider::IotOpen;
use super::caller::{id, Caller, Ctx};
use crate::contract::json_response;

fn object_json(o: &Object) -> Value {
    serde_json::to_value(o).unwrap_or(Value::Null)
}

/// Authenticates and checks `action` on the installation of the path.
fn enter(
    io: &IotOpen,
    ctx: &Ctx,
    which: Which,
    raw_installation: &str,
    action: &str,
) -> Result<(Caller, i64), Response<Body>> {
    let caller = io.authenticate(ctx, which.name())?;
    let installation = id("installation id", raw_installation)?;
    io.allow(ctx, &caller, action, installation, which.name())?;
    Ok((caller, installation))
}

fn silent(ctx: &Ctx) -> Result<bool, Response<Body>> {
    let pairs = query::pairs(ctx.query.as_deref());
    query::last(&pairs, "silent").map_or(Ok(false), |v| query::boolean("silent", v).map_err(errors::bad_request))
}

fn meta_map(v: Option<&Value>, field: &str) -> Result<Option<BTreeMap<String, String>>, Response<Body>> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(map)) => {
            let mut out = BTreeMap::new();
            for (k, v) in map {
                let text = match v {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    Value::Bool(b) => b.to_string(),
                    _ => return Err(errors::bad_request(format!("{field}.{k} must be a string"))),
                };
                out.insert(k.clone(), text);
            }
            check_meta(&out).map_err(errors::bad_request)?;
            Ok(Some(out))
        }
        Some(_) => Err(errors::bad_request(format!("{field} must be an object of strings"))),
    }
}

pub async fn list(
    State(io): State<Arc<IotOpen>>,
    Extension(which): Extension<Which>,
    ctx: Ctx,
    Path(installation): Path<String>,
) -> Response<Body> {
    let (_, installation) = match enter(&io, &ctx, which, &installation, which.list()) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let filter = query::pairs(ctx.query.as_deref());
    let list: Vec<Value> = io.things.with(which, |s| s.list(installation, &filter)).iter().map(object_json).collect();
    json_response(StatusCode::OK, Value::Array(list))
}

pub async fn get_one(
    State(io): State<Arc<IotOpen>>,
    Extension(which): Extension<Which>,
    ctx: Ctx,
    Path((installation, object)): Path<(String, String)>,
) -> Response<Body> {
    let (_, installation) = match enter(&io, &ctx, which, &installation, which.list()) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let Ok(object) = id("id", &object) else { return errors::bad_request("id must be a number") };
    match io.things.with(which, |s| s.get(installation, object).cloned()) {
        Some(o) => json_response(StatusCode::OK, object_json(&o)),
        None => errors::not_found(),
    }
}

pub async fn create(
    State(io): State<Arc<IotOpen>>,
    Extension(which): Extension<Which>,
    ctx: Ctx,
    Path(installation): Path<String>,
    body: Body,
) -> Response<Body> {
    let (_, installation) = match enter(&io, &ctx, which, &installation, which.create_delete()) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let silent = match silent(&ctx) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let body = match query::json_body(body).await {
        Ok(Some(b)) if b.is_object() => b,
        Ok(_) => return errors::bad_request("send a JSON object {type, installation_id, meta}"),
        Err(r) => return r,
    };
    let kind = match query::field(&body, "type") {
        Some(Value::String(t)) if !t.is_empty() && t.len() <= 256 => t.clone(),
        _ => return errors::bad_request("type is required (a string)"),
    };
    match query::field(&body, "installation_id") {
        None | Some(Value::Null) => {}
        Some(v) if v.as_i64() == Some(installation) || v.as_i64() == Some(0) => {}
        Some(_) => return errors::bad_request("installation_id in the body differs from the one in the path"),
    }
    let (meta, protected_meta) = match (
        meta_map(query::field(&body, "meta"), "meta"),
        meta_map(query::field(&body, "protected_meta"), "protected_meta"),
    ) {
        (Ok(m), Ok(p)) => (m.unwrap_or_default(), p.unwrap_or_default()),
        (Err(r), _) | (_, Err(r)) => return r,
    };
    let now = io.now();
    let object =
        Object { id: 0, kind, installation_id: installation, meta, protected_meta, created: now, updated: now };
    match io.things.with(which, |s| s.create(object)) {
        Ok(created) => {
            let body = object_json(&created);
            if !silent {
                io.announce(installation, which.name(), "created", &body);
            }
            json_response(StatusCode::OK, body)
        }
        Err(m) => errors::bad_request(m),
    }
}

pub async fn update(
    State(io): State<Arc<IotOpen>>,
    Extension(which): Extension<Which>,
    ctx: Ctx,
    Path((installation, object)): Path<(String, String)>,
    body: Body,
) -> Response<Body> {
    let (_, installation) = match enter(&io, &ctx, which, &installation, which.update()) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let Ok(object) = id("id", &object) else { return errors::bad_request("id must be a number") };
    let silent = match silent(&ctx) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let body = match query::json_body(body).await {
        Ok(Some(b)) if b.is_object() => b,
        Ok(_) => return errors::bad_request("send the object as JSON"),
        Err(r) => return r,
    };
    let kind = match query::field(&body, "type") {
        None | Some(Value::Null) => None,
        Some(Value::String(t)) if !t.is_empty() && t.len() <= 256 => Some(t.clone()),
        Some(_) => return errors::bad_request("type must be a non-empty string"),
    };
    let (meta, protected_meta) = match (
        meta_map(query::field(&body, "meta"), "meta"),
        meta_map(query::field(&body, "protected_meta"), "protected_meta"),
    ) {
        (Ok(m), Ok(p)) => (m, p),
        (Err(r), _) | (_, Err(r)) => return r,
    };
    let now = io.now();
    let updated = io.things.with(which, |s| {
        let o = s.get_mut(installation, object)?;
        if let Some(k) = kind {
            o.kind = k;
        }
        if let Some(m) = meta {
            o.meta = m;
        }
        if let Some(p) = protected_meta {
            o.protected_meta = p;
        }
        o.updated = now;
        Some(o.clone())
    });
    match updated {
        Some(o) => {
            let body = object_json(&o);
            if !silent {
                io.announce(installation, which.name(), "updated", &body);
            }
            json_response(StatusCode::OK, body)
        }
        None => errors::not_found(),
    }
}

pub async fn remove(
    State(io): State<Arc<IotOpen>>,
    Extension(which): Extension<Which>,
    ctx: Ctx,
    Path((installation, object)): Path<(String, String)>,
) -> Response<Body> {
    let (_, installation) = match enter(&io, &ctx, which, &installation, which.create_delete()) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let Ok(object) = id("id", &object) else { return errors::bad_request("id must be a number") };
    let silent = match silent(&ctx) {
        Ok(s) => s,
        Err(r) => return r,
    };
    match io.things.with(which, |s| s.remove(installation, object)) {
        Some(o) => {
            if !silent {
                io.announce(installation, which.name(), "deleted", &object_json(&o));
            }
            errors::ok()
        }
        None => errors::not_found(),
    }
}

pub async fn get_meta(
    State(io): State<Arc<IotOpen>>,
    Extension(which): Extension<Which>,
    ctx: Ctx,
    Path((installation, object, key)): Path<(String, String, String)>,
) -> Response<Body> {
    let (_, installation) = match enter(&io, &ctx, which, &installation, which.list()) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let Ok(object) = id("id", &object) else { return errors::bad_request("id must be a number") };
    let found = io.things.with(which, |s| {
        let o = s.get(installation, object)?;
        o.meta.get(&key).map(|v| (v.clone(), false)).or_else(|| o.protected_meta.get(&key).map(|v| (v.clone(), true)))
    });
    match found {
        Some((value, protected)) => json_response(StatusCode::OK, json!({"value": value, "protected": protected})),
        None => errors::not_found(),
    }
}

#[derive(Clone, Copy, PartialEq)]
enum MetaWrite {
    Create,
    Update,
    Delete,
}

async fn write_meta(
    io: Arc<IotOpen>,
    which: Which,
    ctx: Ctx,
    (installation, object, key): (String, String, String),
    body: Option<Body>,
    mode: MetaWrite,
) -> Response<Body> {
    let (_, installation) = match enter(&io, &ctx, which, &installation, which.update()) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let Ok(object) = id("id", &object) else { return errors::bad_request("id must be a number") };
    let pairs = query::pairs(ctx.query.as_deref());
    let (silent, create_missing) = match (
        query::last(&pairs, "silent").map_or(Ok(false), |v| query::boolean("silent", v)),
        query::last(&pairs, "create_missing").map_or(Ok(false), |v| query::boolean("create_missing", v)),
    ) {
        (Ok(s), Ok(c)) => (s, c),
        (Err(m), _) | (_, Err(m)) => return errors::bad_request(m),
    };
    let mut value = (String::new(), false);
    if let Some(body) = body {
        let body = match query::json_body(body).await {
            Ok(Some(b)) if b.is_object() => b,
            Ok(_) => return errors::bad_request("send {\"value\": \"...\", \"protected\": false}"),
            Err(r) => return r,
        };
        value.0 = match query::field(&body, "value") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            Some(Value::Bool(b)) => b.to_string(),
            _ => return errors::bad_request("value is required (a string)"),
        };
        value.1 = query::field(&body, "protected").and_then(Value::as_bool).unwrap_or(false);
        if key.is_empty() || key.len() > super::things::MAX_META_LEN || value.0.len() > super::things::MAX_META_LEN {
            return errors::bad_request("meta key or value too long");
        }
    }
    let now = io.now();
    let outcome = io.things.with(which, |s| {
        let Some(o) = s.get_mut(installation, object) else { return Err(errors::not_found()) };
        let exists = o.meta.contains_key(&key) || o.protected_meta.contains_key(&key);
        match mode {
            MetaWrite::Create if exists => {
                return Err(errors::message(StatusCode::CONFLICT, format!("meta key '{key}' already exists")))
            }
            MetaWrite::Update if !exists && !create_missing => return Err(errors::not_found()),
            MetaWrite::Delete if !exists => return Err(errors::not_found()),
            _ => {}
        }
        o.meta.remove(&key);
        o.protected_meta.remove(&key);
        if mode != MetaWrite::Delete {
            if o.meta.len() + o.protected_meta.len() >= super::things::MAX_META_KEYS {
                return Err(errors::bad_request(format!("at most {} meta keys", super::things::MAX_META_KEYS)));
            }
            let target = if value.1 { &mut o.protected_meta } else { &mut o.meta };
            target.insert(key.clone(), value.0.clone());
        }
        o.updated = now;
        Ok(o.clone())
    });
    match outcome {
        Ok(o) => {
            if !silent {
                io.announce(installation, which.name(), "updated", &object_json(&o));
            }
            match mode {
                MetaWrite::Delete => errors::ok(),
                _ => json_response(StatusCode::OK, json!({"value": value.0, "protected": value.1})),
            }
        }
        Err(r) => r,
    }
}

pub async fn create_meta(
    State(io): State<Arc<IotOpen>>,
    Extension(which): Extension<Which>,
    ctx: Ctx,
    Path(path): Path<(String, String, String)>,
    body: Body,
) -> Response<Body> {
    write_meta(io, which, ctx, path, Some(body), MetaWrite::Create).await
}

pub async fn update_meta(
    State(io): State<Arc<IotOpen>>,
    Extension(which): Extension<Which>,
    ctx: Ctx,
    Path(path): Path<(String, String, String)>,
    body: Body,
) -> Response<Body> {
    write_meta(io, which, ctx, path, Some(body), MetaWrite::Update).await
}

pub async fn delete_meta(
    State(io): State<Arc<IotOpen>>,
    Extension(which): Extension<Which>,
    ctx: Ctx,
    Path(path): Path<(String, String, String)>,
) -> Response<Body> {
    write_meta(io, which, ctx, path, None, MetaWrite::Delete).await
}
