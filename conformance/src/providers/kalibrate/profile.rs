//! Kalibrate clients: Azure AD client credentials, then the data API.
//!
//! Environment (docs/conformance.md, "What the client command gets"): `KALIBRATE_TOKEN_URL`, `KALIBRATE_AUTHORITY` (for
//! MSAL), `KALIBRATE_LOGIN_URL` (azure-identity's `authority`), `KALIBRATE_TENANT_ID`,
//! `KALIBRATE_API_URL`, `KALIBRATE_CLIENT_ID`, `KALIBRATE_CLIENT_SECRET`, `KALIBRATE_SCOPE`: the
//! first tenant's first client with the Read role, and that tenant's first API.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::contract::{service_url, EventView, Profile};

pub const PROFILE: Profile =
    Profile { name: "kalibrate", actions: &["status"], api_service: "data", is_token_request, client_env };

fn is_token_request(e: &EventView) -> bool {
    e.provider() == "kalibrate" && e.service() == "login" && e.path().ends_with("/oauth2/v2.0/token")
}

fn client_env(endpoints: &Value, fixtures: &Value) -> Result<BTreeMap<String, String>, String> {
    let service = |key: &str| service_url(endpoints, key);
    let login = service("kalibrate.login")?;
    let api = service("kalibrate.data")?;
    let tenants = fixtures["kalibrate"]["tenants"].as_array().cloned().unwrap_or_default();
    let (tenant, client) = tenants
        .iter()
        .find_map(|t| {
            let clients = t["clients"].as_array()?;
            let reader =
                clients.iter().find(|c| c["roles"].as_array().is_some_and(|r| r.iter().any(|r| r == "Read")))?;
            Some((t, reader))
        })
        .ok_or("the fixtures have no Kalibrate tenant with a Read client")?;
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    let tid = text(&tenant["id"]);
    let audience = tenant["apis"][0]["audience"].as_str().ok_or("the tenant has no API (apis[0].audience)")?;
    Ok(BTreeMap::from([
        ("KALIBRATE_TOKEN_URL".into(), format!("{login}/{tid}/oauth2/v2.0/token")),
        ("KALIBRATE_AUTHORITY".into(), format!("{login}/{tid}")),
        ("KALIBRATE_LOGIN_URL".into(), login),
        ("KALIBRATE_TENANT_ID".into(), tid),
        ("KALIBRATE_API_URL".into(), api),
        ("KALIBRATE_CLIENT_ID".into(), text(&client["client_id"])),
        ("KALIBRATE_CLIENT_SECRET".into(), text(&client["secret"])),
        ("KALIBRATE_SCOPE".into(), format!("{audience}/.default")),
    ]))
}
