//! Knoema clients: the data API with the HMAC-signed `Knoema` header, and OAuth 2 (code and
//! implicit flows) through the consent page.
//!
//! Environment (docs/conformance.md, "What the client command gets"): `KNOEMA_HOST` (the service's own listener, what the
//! `knoema` package takes; in a run `127.0.0.1:PORT/__run/{id}`, without a scheme), `KNOEMA_BASE_URL` (the HTTPS base for OAuth: oauthlib insists on
//! https), `KNOEMA_APP_ID`, `KNOEMA_APP_SECRET` and `KNOEMA_REDIRECT_URI` (the first app that
//! registers a redirect URI, and that URI), `KNOEMA_DATASET` (a private dataset: only a signed
//! app or a token holder sees it), `KNOEMA_CONSENT` (`auto-approve` or `auto-deny`: the
//! user's answer on the consent page, to add as `consent=` to the authorization URL).

use std::collections::BTreeMap;

use serde_json::Value;

use crate::contract::{listener_root, service_url, EventView, Profile};

pub const PROFILE: Profile = Profile {
    name: "knoema",
    actions: &["signed", "oauth-code", "oauth-implicit"],
    api_service: "api",
    is_token_request,
    client_env,
};

fn is_token_request(e: &EventView) -> bool {
    e.provider() == "knoema" && e.path().trim_end_matches('/').ends_with("/oauth/token")
}

fn client_env(endpoints: &Value, fixtures: &Value) -> Result<BTreeMap<String, String>, String> {
    let host = service_url(endpoints, "knoema.api")?;
    // The package keeps only the host of a URL with a scheme: a run's path prefix needs the
    // bare `127.0.0.1:PORT/__run/{id}` form (plain http, its default).
    let host = match endpoints["run"].is_string() {
        true => host.strip_prefix("http://").unwrap_or(&host),
        false => &host,
    };
    let https = listener_root(endpoints, "https")?;
    let apps = fixtures["knoema"]["apps"].as_array().cloned().unwrap_or_default();
    let app = apps
        .iter()
        .find(|a| a["redirect_uris"].as_array().is_some_and(|r| !r.is_empty()))
        .ok_or("the fixtures have no Knoema app with a registered redirect URI")?;
    let datasets = fixtures["knoema"]["datasets"].as_array().cloned().unwrap_or_default();
    let dataset = datasets
        .iter()
        .find(|d| d["private"].as_bool() == Some(true))
        .or_else(|| datasets.first())
        .and_then(|d| d["id"].as_str())
        .ok_or("the fixtures have no Knoema dataset")?;
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    Ok(BTreeMap::from([
        ("KNOEMA_HOST".into(), host.to_owned()),
        ("KNOEMA_BASE_URL".into(), format!("{https}/knoema/api")),
        ("KNOEMA_APP_ID".into(), text(&app["app_id"])),
        ("KNOEMA_APP_SECRET".into(), text(&app["app_secret"])),
        ("KNOEMA_REDIRECT_URI".into(), text(&app["redirect_uris"][0])),
        ("KNOEMA_DATASET".into(), dataset.to_owned()),
        ("KNOEMA_CONSENT".into(), "auto-approve".into()),
    ]))
}
