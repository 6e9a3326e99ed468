//! Open Energy clients: FAPI over mTLS, a certificate-bound token by `client_credentials` with
//! `tls_client_auth`, then a data provider's data set.
//!
//! Environment (docs/conformance.md, "What the client command gets"): `OPENENERGY_ISSUER_URL` (discovery below it),
//! `OPENENERGY_DATA_URL`, `OPENENERGY_CLIENT_ID`, `OPENENERGY_SCOPES`, `OPENENERGY_DATASET`
//! (a data set path the statement's scopes reach), plus `CONFORMANCE_CLIENT_CERT` /
//! `CONFORMANCE_CLIENT_KEY`, whose subject `OU=<organisation id>, CN=<software statement id>`
//! registers the certificate to that statement as the directory does.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::contract::{service_url, EventView, Profile, SUBJECT_VAR};

pub const PROFILE: Profile =
    Profile { name: "openenergy", actions: &["read"], api_service: "data directory", is_token_request, client_env };

fn is_token_request(e: &EventView) -> bool {
    e.provider() == "openenergy" && e.service() == "auth" && e.path().trim_end_matches('/').ends_with("/token")
}

fn client_env(endpoints: &Value, fixtures: &Value) -> Result<BTreeMap<String, String>, String> {
    let service = |key: &str| service_url(endpoints, key);
    let f = &fixtures["openenergy"];
    let data_sets = f["data_sets"].as_array().cloned().unwrap_or_default();
    let active = |v: &Value| v["status"].as_str().is_none_or(|s| s.eq_ignore_ascii_case("active"));
    let found = f["organisations"].as_array().into_iter().flatten().filter(|o| active(o)).find_map(|org| {
        org["software_statements"].as_array().into_iter().flatten().filter(|s| active(s)).find_map(|ss| {
            let scopes: Vec<&str> = ss["scopes"].as_array()?.iter().filter_map(Value::as_str).collect();
            let set = data_sets.iter().find(|d| d["scope"].as_str().is_some_and(|s| scopes.contains(&s)))?;
            Some((org.clone(), ss.clone(), set.clone()))
        })
    });
    let (org, ss, set) = found.ok_or("the fixtures have no active software statement whose scopes reach a data set")?;
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    let scopes: Vec<String> = ss["scopes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .filter(|s| *s != "openid")
        .map(str::to_owned)
        .collect();
    Ok(BTreeMap::from([
        ("OPENENERGY_ISSUER_URL".into(), service("openenergy.auth")?),
        ("OPENENERGY_DATA_URL".into(), service("openenergy.data")?),
        ("OPENENERGY_CLIENT_ID".into(), text(&ss["client_id"])),
        ("OPENENERGY_SCOPES".into(), scopes.join(" ")),
        ("OPENENERGY_DATASET".into(), text(&set["path"])),
        (SUBJECT_VAR.into(), format!("OU={}, CN={}", text(&org["id"]), text(&ss["id"]))),
    ]))
}
