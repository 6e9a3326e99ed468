//! The push service (push.opinum.com): standard push `POST /api/data`, the 2019 format
//! `POST /api/standard`, and custom push `POST /api/generic/{guid}/`.
//!
//! Points whose structure does not exist in the caller's account are dropped and the push still
//! answers 200, as at Opinum (docs/providers/opinum.md#lost-data; Opinum,
//! <https://docs.opinum.com/restapi/integration/connection.html>: "Every data sent before the
//! creation of Opinum Data Hub
//! cannot be mapped and will be lost"). The mock says what was lost in a `push.unmapped` event.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Response, StatusCode};
use axum::Extension;

use super::auth::authorize;
use super::tokens::SCOPE_PUSH;
use super::errors::problem;
use super::fixtures::SourceKey;
use super::hub::{Source, State as HubState};
use super::push_format::{parse_legacy, parse_standard, FormatError, Series, Target};
use super::custom;
use super::provider::Opinum;
use crate::journal::EventKind;
use crate::contract::ServiceRoute;
use crate::wire::{read_body, BodyError};

/// Largest push body read.
pub const MAX_PUSH_BODY: usize = 8 * 1024 * 1024;

pub async fn standard(
    State(o): State<Arc<Opinum>>,
    Extension(route): Extension<ServiceRoute>,
    headers: HeaderMap,
    body: Body,
) -> Response<Body> {
    receive(&o, &route, &headers, body, "/api/data", parse_standard).await
}

pub async fn legacy(
    State(o): State<Arc<Opinum>>,
    Extension(route): Extension<ServiceRoute>,
    headers: HeaderMap,
    body: Body,
) -> Response<Body> {
    receive(&o, &route, &headers, body, "/api/standard", parse_legacy).await
}

async fn receive(
    o: &Opinum,
    route: &ServiceRoute,
    headers: &HeaderMap,
    body: Body,
    endpoint: &str,
    parse: fn(&[u8]) -> Result<Vec<Series>, FormatError>,
) -> Response<Body> {
    let caller = match authorize(o, route, headers, SCOPE_PUSH, endpoint) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let bytes = match read_push_body(body).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let series = match parse(&bytes) {
        Ok(s) => s,
        Err(e) => return problem(StatusCode::BAD_REQUEST, e.0),
    };
    store(o, route, caller.claims.account, &caller.claims.client_id, series, Vec::new());
    Response::new(Body::empty())
}

pub async fn generic(
    State(o): State<Arc<Opinum>>,
    Extension(route): Extension<ServiceRoute>,
    Path(guid): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response<Body> {
    let caller = match authorize(&o, &route, &headers, SCOPE_PUSH, "/api/generic/{guid}") {
        Ok(c) => c,
        Err(r) => return r,
    };
    let fixtures = o.fixtures();
    // Like every Opinum call, a push works in the token's account: another account's mapper is
    // not found there, as an unknown GUID is not (no hint that it exists elsewhere).
    let Some(mapper) = fixtures
        .custom_push
        .iter()
        .find(|m| m.guid.eq_ignore_ascii_case(guid.trim_end_matches('/')) && m.account == caller.claims.account)
    else {
        return problem(StatusCode::NOT_FOUND, format!("no custom data mapper is configured for {guid}"));
    };
    let bytes = match read_push_body(body).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let mapped = custom::map(mapper, &bytes);
    let lost =
        mapped.lost.into_iter().map(|(i, reason)| (format!("custom {} record {i}", mapper.guid), 1, reason)).collect();
    store(&o, &route, mapper.account, &caller.claims.client_id, mapped.series, lost);
    Response::new(Body::empty())
}

async fn read_push_body(body: Body) -> Result<bytes::Bytes, Response<Body>> {
    read_body(body, MAX_PUSH_BODY).await.map_err(|e| match e {
        BodyError::TooLarge(limit) => {
            problem(StatusCode::PAYLOAD_TOO_LARGE, format!("a push is at most {limit} bytes: split it"))
        }
        BodyError::Unreadable(m) => problem(StatusCode::BAD_REQUEST, m),
    })
}

/// Stores what maps in `account`, and journals both what was written and what was lost
/// (`lost` arrives with what the caller already could not read: target, points, reason).
fn store(
    o: &Opinum,
    route: &ServiceRoute,
    account: i64,
    client_id: &str,
    series: Vec<Series>,
    mut lost: Vec<(String, usize, String)>,
) {
    let written: usize = o.hub.with(|hub| {
        let mut written = 0;
        for s in series {
            match s.target.clone().and_then(|t| resolve(hub, account, &t)) {
                Ok(variable) => written += hub.store_points(variable, &s.points),
                Err(reason) => lost.push((describe(s.target.as_ref().ok()), s.points.len(), reason)),
            }
        }
        written
    });
    if written > 0 {
        o.ns.record(
            route,
            EventKind::DataWritten {
                collection: "data".into(),
                count: written,
                operation_id: uuid::Uuid::new_v4().to_string(),
                client_id: client_id.to_owned(),
            },
        );
    }
    for (target, points, reason) in lost {
        o.ns.record(route, EventKind::PushUnmapped { target, points, reason, client_id: client_id.to_owned() });
    }
}

fn describe(target: Option<&Target>) -> String {
    match target {
        None => "a series without a usable identifier".into(),
        Some(Target::Variable(id)) => format!("variableId {id}"),
        Some(Target::Source { key, value, mapping_config }) => {
            format!("{} '{value}' mappingConfig '{}'", key_name(*key), mapping_config.as_deref().unwrap_or(""))
        }
    }
}

fn key_name(key: SourceKey) -> &'static str {
    match key {
        SourceKey::SourceId => "sourceId",
        SourceKey::SourceSerialNumber => "sourceSerialNumber",
        SourceKey::SourceEan => "sourceEan",
        SourceKey::SourceName => "sourceName",
        SourceKey::MeterNumber => "meterNumber",
    }
}

/// The variable a series goes to in `account`, or why there is none.
pub fn resolve(hub: &HubState, account: i64, target: &Target) -> Result<i64, String> {
    match target {
        Target::Variable(id) => match hub.variables.get(id) {
            None => Err(format!("unknown variable {id}")),
            Some(v) if v.account != account => Err(format!("variable {id} belongs to another account")),
            Some(_) => Ok(*id),
        },
        Target::Source { key, value, mapping_config } => {
            let Some(mapping_config) = mapping_config else {
                return Err(format!("{} needs a mappingConfig to find the variable", key_name(*key)));
            };
            let matches = |s: &&Source| match key {
                SourceKey::SourceId => value.trim().parse::<i64>().is_ok_and(|id| id == s.id),
                SourceKey::SourceSerialNumber => !s.serial_number.is_empty() && s.serial_number == *value,
                SourceKey::SourceEan => !s.ean_number.is_empty() && s.ean_number == *value,
                SourceKey::SourceName => s.name == *value,
                SourceKey::MeterNumber => !s.meter_number.is_empty() && s.meter_number == *value,
            };
            let sources: Vec<&Source> = hub.sources.values().filter(matches).collect();
            let mine: Vec<&Source> = sources.iter().copied().filter(|s| s.account == account).collect();
            if mine.is_empty() {
                return Err(if sources.is_empty() {
                    format!("unknown source: no source has {} '{value}'", key_name(*key))
                } else {
                    format!("the source with {} '{value}' belongs to another account", key_name(*key))
                });
            }
            mine.iter()
                .find_map(|s| hub.variables.values().find(|v| v.source_id == s.id && v.mapping_config == *mapping_config).map(|v| v.id))
                .ok_or_else(|| format!("unknown variable: no variable with mappingConfig '{mapping_config}' on the source with {} '{value}'", key_name(*key)))
        }
    }
}
