//! Opinum clients: the password grant at the identity server (both scopes), then the Data Hub
//! API and the standard push.
//!
//! Environment (docs/conformance.md, "What the client command gets"): `OPINUM_TOKEN_URL`, `OPINUM_API_URL`, `OPINUM_PUSH_URL`,
//! `OPINUM_CLIENT_ID`, `OPINUM_CLIENT_SECRET`, `OPINUM_USERNAME`, `OPINUM_PASSWORD` (the first
//! user with the Data Pusher right), `OPINUM_SOURCE_SERIAL` and `OPINUM_MAPPING_CONFIG` (a source
//! of that user's first account and one of its variables: the structure to push to).

use std::collections::BTreeMap;

use serde_json::Value;

use crate::contract::{service_url, EventView, Profile};

pub const PROFILE: Profile =
    Profile { name: "opinum", actions: &["push"], api_service: "api push", is_token_request, client_env };

fn is_token_request(e: &EventView) -> bool {
    let path = e.path().trim_end_matches('/');
    e.provider() == "opinum"
        && e.service() == "identity"
        && (path.ends_with("/connect/token") || path.ends_with("/openid-connect/token"))
}

fn client_env(endpoints: &Value, fixtures: &Value) -> Result<BTreeMap<String, String>, String> {
    let service = |key: &str| service_url(endpoints, key);
    let f = &fixtures["opinum"];
    let list = |k: &str| f[k].as_array().cloned().unwrap_or_default();
    let text = |v: &Value| v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string());
    let client = list("clients").into_iter().next().ok_or("the fixtures have no Opinum client")?;
    let user = list("users")
        .into_iter()
        .find(|u| u["data_pusher"].as_bool() == Some(true))
        .ok_or("the fixtures have no Opinum user with the Data Pusher right")?;
    let account = user["accounts"][0].clone();
    let sites: Vec<Value> = list("sites").into_iter().filter(|s| s["account"] == account).collect();
    let (source, variable) = list("sources")
        .into_iter()
        .filter(|s| {
            sites.iter().any(|site| site["id"] == s["site_id"])
                && s["serial_number"].as_str().is_some_and(|n| !n.is_empty())
        })
        .find_map(|s| {
            let v = list("variables")
                .into_iter()
                .find(|v| v["source_id"] == s["id"] && v["mapping_config"].as_str().is_some_and(|m| !m.is_empty()))?;
            Some((s, v))
        })
        .ok_or(
            "the fixtures have no source with a serial number and a mapped variable in the pusher's first account",
        )?;
    Ok(BTreeMap::from([
        ("OPINUM_TOKEN_URL".into(), format!("{}/connect/token", service("opinum.identity")?)),
        ("OPINUM_API_URL".into(), service("opinum.api")?),
        ("OPINUM_PUSH_URL".into(), service("opinum.push")?),
        ("OPINUM_CLIENT_ID".into(), text(&client["client_id"])),
        ("OPINUM_CLIENT_SECRET".into(), text(&client["secret"])),
        ("OPINUM_USERNAME".into(), text(&user["username"])),
        ("OPINUM_PASSWORD".into(), text(&user["password"])),
        ("OPINUM_SOURCE_SERIAL".into(), text(&source["serial_number"])),
        ("OPINUM_MAPPING_CONFIG".into(), text(&variable["mapping_config"])),
    ]))
}
