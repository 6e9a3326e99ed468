//! IoT Open (Lynx) clients: MQTT with an API key as password, installation-scoped REST and its
//! history API, and the password login with an SMS code.
//!
//! Environment (docs/conformance.md, "What the client command gets"): `IOTOPEN_API_URL` (REST base), `IOTOPEN_API_KEY` (the
//! first fixture API key: MQTT password and `X-API-Key`), `IOTOPEN_MQTT_URL` (`mqtt://`, plain
//! TCP), `IOTOPEN_MQTT_TLS_URL` (`mqtts://`, the dev CA), `IOTOPEN_MQTT_WS_URL` (`ws://.../mqtt`),
//! `IOTOPEN_USERNAME` and `IOTOPEN_PASSWORD` (the first user with SMS two-factor login), and
//! `IOTOPEN_SMS_OUTBOX` (a URL answering `{"messages": [{"to", "text", "code", ...}]}`: the
//! user's phone, to read the login code from).

use std::collections::BTreeMap;

use serde_json::Value;

use crate::contract::{service_url, EventView, Profile};

pub const PROFILE: Profile = Profile {
    name: "iotopen",
    actions: &["mqtt", "history", "login-2fa"],
    api_service: "api",
    is_token_request,
    client_env,
};

/// The login endpoint: `POST /api/v2/auth` (password) and `PUT` (the SMS code).
fn is_token_request(e: &EventView) -> bool {
    e.provider() == "iotopen" && e.service() == "api" && e.path().trim_end_matches('/').ends_with("/api/v2/auth")
}

fn client_env(endpoints: &Value, fixtures: &Value) -> Result<BTreeMap<String, String>, String> {
    let api = service_url(endpoints, "iotopen.api")?;
    let mqtt = |t: &str| {
        endpoints["mqtt"][t].as_str().map(str::to_owned).ok_or(format!("the server has no MQTT {t} listener"))
    };
    let admin = endpoints["admin"].as_str().ok_or("the endpoints have no admin URL")?;
    let f = &fixtures["iotopen"];
    let key = f["api_keys"][0]["token"].as_str().ok_or("the fixtures have no IoT Open API key")?;
    let users = f["users"].as_array().cloned().unwrap_or_default();
    let sms_user = users
        .iter()
        .find(|u| u["sms_login"].as_bool() == Some(true))
        .ok_or("the fixtures have no IoT Open user with sms_login")?;
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    let mobile = text(&sms_user["mobile"]);
    let outbox = format!("{}/sms?provider=iotopen&to={}", admin.trim_end_matches('/'), mobile.replace('+', "%2B"));
    Ok(BTreeMap::from([
        ("IOTOPEN_API_URL".into(), api.to_owned()),
        ("IOTOPEN_API_KEY".into(), key.to_owned()),
        ("IOTOPEN_MQTT_URL".into(), mqtt("tcp")?),
        ("IOTOPEN_MQTT_TLS_URL".into(), mqtt("tls")?),
        ("IOTOPEN_MQTT_WS_URL".into(), mqtt("ws")?),
        ("IOTOPEN_USERNAME".into(), text(&sms_user["email"])),
        ("IOTOPEN_PASSWORD".into(), text(&sms_user["password"])),
        ("IOTOPEN_SMS_OUTBOX".into(), outbox),
    ]))
}
