//! Installations: `GET /api/v2/installationinfo[?assigned=|assigned_only=]` and
//! `.../installationinfo/{client_id}` (exactly `{id, client_id, name, organization_id, assigned,
//! capabilities}`: py-lynx's `InstallationInfo` takes no other key), and `GET
//! /api/v2/installation[/{id}]` rows (exactly `{id, name, client_id, created, organization_id,
//! notes, users, meta, protected_meta}`, py-lynx's `Installation`; query parameters filter on
//! meta). Only installations the caller reaches are listed; asking for another is 403.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{Response, StatusCode};
use serde::Serialize;
use serde_json::Value;

use super::access::INSTALLATION_LIST;
use super::fixtures::Installation;
use super::errors;
use super::query;
use super::provider::IotOpen;
use super::caller::{id, Caller, Ctx};
use crate::contract::json_response;

#[derive(Serialize)]
struct Info<'a> {
    id: i64,
    client_id: i64,
    name: &'a str,
    organization_id: i64,
    assigned: bool,
    capabilities: &'a [String],
}

#[derive(Serialize)]
struct Row<'a> {
    id: i64,
    name: &'a str,
    client_id: i64,
    created: i64,
    organization_id: i64,
    notes: &'a str,
    users: Vec<i64>,
    meta: &'a std::collections::BTreeMap<String, String>,
    protected_meta: &'a std::collections::BTreeMap<String, String>,
}

fn info<'a>(i: &'a Installation, caller: &Caller) -> Info<'a> {
    Info {
        id: i.id,
        client_id: i.client_id,
        name: &i.name,
        organization_id: i.organization_id,
        assigned: caller.access.assigned.contains(&i.id),
        capabilities: &i.capabilities,
    }
}

fn to_json<T: Serialize>(value: &T) -> Response<Body> {
    json_response(StatusCode::OK, serde_json::to_value(value).unwrap_or(Value::Null))
}

/// `assigned=true` (go-lynx, node-lynx) or `assigned_only=True` (py-lynx): only assigned ones.
fn assigned_only(ctx: &Ctx) -> Result<bool, Response<Body>> {
    let pairs = query::pairs(ctx.query.as_deref());
    match query::last(&pairs, "assigned_only").or_else(|| query::last(&pairs, "assigned")) {
        None => Ok(false),
        Some(v) => query::boolean("assigned", v).map_err(errors::bad_request),
    }
}

pub async fn info_list(State(io): State<Arc<IotOpen>>, ctx: Ctx) -> Response<Body> {
    let caller = match io.authenticate(&ctx, "installationinfo") {
        Ok(c) => c,
        Err(r) => return r,
    };
    let only_assigned = match assigned_only(&ctx) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let directory = io.directory();
    let list: Vec<Info> = caller
        .access
        .reachable(INSTALLATION_LIST)
        .into_iter()
        .filter(|i| !only_assigned || caller.access.assigned.contains(i))
        .filter_map(|i| directory.installation(i))
        .map(|i| info(i, &caller))
        .collect();
    to_json(&list)
}

pub async fn info_one(State(io): State<Arc<IotOpen>>, ctx: Ctx, Path(client_id): Path<String>) -> Response<Body> {
    let caller = match io.authenticate(&ctx, "installationinfo") {
        Ok(c) => c,
        Err(r) => return r,
    };
    let client_id = match id("client_id", &client_id) {
        Ok(v) => v,
        Err(r) => return r,
    };
    if let Err(r) = assigned_only(&ctx) {
        return r;
    }
    let directory = io.directory();
    let installation = directory.by_client_id(client_id);
    // An installation out of reach is 403 whether or not it exists: nothing leaks.
    let target = installation.map_or(-1, |i| i.id);
    if let Err(r) = io.allow(&ctx, &caller, INSTALLATION_LIST, target, "installationinfo") {
        return r;
    }
    match installation {
        Some(i) => to_json(&info(i, &caller)),
        None => errors::not_found(),
    }
}

fn row_of<'a>(io: &IotOpen, i: &'a Installation) -> Row<'a> {
    Row {
        id: i.id,
        name: &i.name,
        client_id: i.client_id,
        created: i.created,
        organization_id: i.organization_id,
        notes: &i.notes,
        users: io.directory().users_of(i.id),
        meta: &i.meta,
        protected_meta: &i.protected_meta,
    }
}

pub async fn rows(State(io): State<Arc<IotOpen>>, ctx: Ctx) -> Response<Body> {
    let caller = match io.authenticate(&ctx, "installation") {
        Ok(c) => c,
        Err(r) => return r,
    };
    let filter = query::pairs(ctx.query.as_deref());
    let directory = io.directory();
    let list: Vec<Row> = caller
        .access
        .reachable(INSTALLATION_LIST)
        .into_iter()
        .filter_map(|i| directory.installation(i))
        .filter(|i| filter.iter().all(|(k, v)| i.meta.get(k) == Some(v)))
        .map(|i| row_of(&io, i))
        .collect();
    to_json(&list)
}

pub async fn row_one(io: &IotOpen, ctx: &Ctx, raw: &str) -> Response<Body> {
    let caller = match io.authenticate(ctx, "installation") {
        Ok(c) => c,
        Err(r) => return r,
    };
    let installation = match id("installation id", raw) {
        Ok(v) => v,
        Err(r) => return r,
    };
    if let Err(r) = io.allow(ctx, &caller, INSTALLATION_LIST, installation, "installation") {
        return r;
    }
    let directory = io.directory();
    match directory.installation(installation) {
        Some(i) => to_json(&row_of(io, i)),
        None => errors::not_found(),
    }
}

pub async fn row(State(io): State<Arc<IotOpen>>, ctx: Ctx, Path(raw): Path<String>) -> Response<Body> {
    row_one(&io, &ctx, &raw).await
}
