//! `[iotopen]` fixtures: roles (permission sets), organisations, users (password, phone, SMS
//! 2FA, assigned installations), installations (`id` and `client_id` differ, as on Lynx),
//! functions and devices, the API keys and OAuth clients that exist from the start, and the
//! bounds (history retention, key counts, URL length).

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::fixtures::{Issue, ProviderFixtures};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fixtures {
    #[serde(default)]
    pub roles: Vec<Role>,
    #[serde(default)]
    pub organizations: Vec<Organization>,
    #[serde(default)]
    pub users: Vec<User>,
    #[serde(default)]
    pub installations: Vec<Installation>,
    #[serde(default)]
    pub functions: Vec<Thing>,
    #[serde(default)]
    pub devices: Vec<Thing>,
    #[serde(default)]
    pub api_keys: Vec<ApiKey>,
    #[serde(default)]
    pub oauth_clients: Vec<OAuthClient>,
    /// Lifetime of login tokens (and of keys made by the auth endpoint): a year on Lynx.
    #[serde(default = "default_login_lifetime")]
    pub login_token_lifetime_seconds: i64,
    /// How long an SMS login code stays valid.
    #[serde(default = "default_sms_lifetime")]
    pub sms_code_lifetime_seconds: i64,
    /// Wrong SMS codes before the half-logged-in token is revoked.
    #[serde(default = "default_sms_attempts")]
    pub sms_code_attempts: u32,
    /// Lifetime of OAuth access tokens; refresh tokens last `login_token_lifetime_seconds`.
    #[serde(default = "default_oauth_lifetime")]
    pub oauth_token_lifetime_seconds: i64,
    /// Tokens and keys kept at once (all users); the oldest are forgotten first.
    #[serde(default = "default_max_tokens")]
    pub max_tokens: usize,
    /// History points kept per installation; the oldest go first.
    #[serde(default = "default_max_points")]
    pub history_max_points_per_installation: usize,
    /// History older than this (virtual clock) is dropped.
    #[serde(default = "default_retention")]
    pub history_retention_days: i64,
    /// Request lines (path and query) longer than this are answered 414, as Lynx's proxy does.
    #[serde(default = "default_max_url")]
    pub max_url_bytes: usize,
}

impl Default for Fixtures {
    fn default() -> Self {
        toml::from_str("").expect("an empty [iotopen] table is valid")
    }
}

fn default_login_lifetime() -> i64 {
    365 * 86_400
}
fn default_sms_lifetime() -> i64 {
    300
}
fn default_sms_attempts() -> u32 {
    5
}
fn default_oauth_lifetime() -> i64 {
    3600
}
fn default_max_tokens() -> usize {
    10_000
}
fn default_max_points() -> usize {
    20_000
}
fn default_retention() -> i64 {
    3650
}
fn default_max_url() -> usize {
    8192
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Role {
    pub id: i64,
    pub name: String,
    /// Lynx permission names: `{object}/{action}/all` reaches every installation of the user's
    /// organisations, `.../assigned` those assigned to the user (e.g. `status/read/assigned`).
    pub permissions: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Organization {
    pub id: i64,
    pub name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct User {
    pub id: i64,
    pub email: String,
    pub password: String,
    #[serde(default)]
    pub first_name: String,
    #[serde(default)]
    pub last_name: String,
    pub role: i64,
    /// Where SMS login codes go (E.164).
    #[serde(default)]
    pub mobile: String,
    /// SMS two-factor login.
    #[serde(default)]
    pub sms_login: bool,
    pub organizations: Vec<i64>,
    /// Installations assigned to the user (ids, not client ids).
    #[serde(default)]
    pub installations: Vec<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Installation {
    pub id: i64,
    /// The MQTT topic prefix: `{client_id}/obj/...`. Not the installation id.
    pub client_id: i64,
    pub name: String,
    pub organization_id: i64,
    #[serde(default)]
    pub capabilities: Vec<String>,
    #[serde(default)]
    pub notes: String,
    #[serde(default)]
    pub meta: BTreeMap<String, String>,
    #[serde(default)]
    pub protected_meta: BTreeMap<String, String>,
    /// Unix seconds.
    #[serde(default = "default_created")]
    pub created: i64,
}

fn default_created() -> i64 {
    1_700_000_000
}

/// A function or a device.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Thing {
    pub id: i64,
    pub installation_id: i64,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub meta: BTreeMap<String, String>,
    #[serde(default)]
    pub protected_meta: BTreeMap<String, String>,
    #[serde(default = "default_created")]
    pub created: i64,
}

/// An API key that exists from the start, with a known value (demo credentials).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKey {
    pub id: i64,
    pub user_id: i64,
    pub name: String,
    /// The key itself: 32 hexadecimal characters, like Lynx's.
    pub token: String,
    /// What the key may do; absent: everything its user's role may.
    #[serde(default)]
    pub permissions: Option<Vec<String>>,
    /// Unix seconds; 0 never expires.
    #[serde(default)]
    pub expire: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuthClient {
    pub client_id: String,
    pub secret: String,
    pub name: String,
    pub redirect_uris: Vec<String>,
    /// Scopes the client may ask for (see `oauth::SCOPES`).
    pub allowed_scopes: Vec<String>,
}

impl ProviderFixtures for Fixtures {
    fn summary(&self) -> String {
        format!(
            "iotopen: {} users, {} installations, {} functions, {} devices, {} API keys, {} OAuth clients",
            self.users.len(),
            self.installations.len(),
            self.functions.len(),
            self.devices.len(),
            self.api_keys.len(),
            self.oauth_clients.len()
        )
    }

    fn secrets(&self) -> Vec<&str> {
        self.users
            .iter()
            .map(|u| u.password.as_str())
            .chain(self.api_keys.iter().map(|k| k.token.as_str()))
            .chain(self.oauth_clients.iter().map(|c| c.secret.as_str()))
            .collect()
    }

    fn validate(&self) -> Vec<Issue> {
        let mut issues = Vec::new();
        let ids = |v: Vec<i64>| -> HashSet<i64> { v.into_iter().collect() };
        let roles = ids(self.roles.iter().map(|r| r.id).collect());
        let orgs = ids(self.organizations.iter().map(|o| o.id).collect());
        let users = ids(self.users.iter().map(|u| u.id).collect());
        let installations = ids(self.installations.iter().map(|i| i.id).collect());
        let client_ids: Vec<i64> = self.installations.iter().map(|i| i.client_id).collect();
        for (kind, list) in [
            ("roles", self.roles.iter().map(|r| r.id).collect::<Vec<_>>()),
            ("organizations", self.organizations.iter().map(|o| o.id).collect()),
            ("users", self.users.iter().map(|u| u.id).collect()),
            ("installations", self.installations.iter().map(|i| i.id).collect()),
            ("functions", self.functions.iter().map(|f| f.id).collect()),
            ("devices", self.devices.iter().map(|d| d.id).collect()),
            ("api_keys", self.api_keys.iter().map(|k| k.id).collect()),
            ("installations.client_id", client_ids.clone()),
        ] {
            let mut sorted = list.clone();
            sorted.sort_unstable();
            if let Some(w) = sorted.windows(2).find(|w| w[0] == w[1]) {
                issues.push(Issue::new(
                    format!("iotopen.{kind}"),
                    format!("{} is used twice", w[0]),
                    "give each one its own id",
                ));
            }
        }
        for (i, inst) in self.installations.iter().enumerate() {
            if !orgs.contains(&inst.organization_id) {
                issues.push(
                    Issue::new(
                        format!("iotopen.installations[{i}].organization_id"),
                        format!("organization {} is not defined", inst.organization_id),
                        "add it under [[iotopen.organizations]]",
                    )
                    .near(inst.name.clone()),
                );
            }
            if inst.client_id <= 0 || inst.id <= 0 {
                issues.push(
                    Issue::new(
                        format!("iotopen.installations[{i}]"),
                        "ids must be positive",
                        "use positive numbers for id and client_id",
                    )
                    .near(inst.name.clone()),
                );
            }
        }
        for (i, u) in self.users.iter().enumerate() {
            if !roles.contains(&u.role) {
                issues.push(
                    Issue::new(
                        format!("iotopen.users[{i}].role"),
                        format!("role {} is not defined", u.role),
                        "add it under [[iotopen.roles]]",
                    )
                    .near(u.email.clone()),
                );
            }
            for o in u.organizations.iter().filter(|o| !orgs.contains(o)) {
                issues.push(
                    Issue::new(
                        format!("iotopen.users[{i}].organizations"),
                        format!("organization {o} is not defined"),
                        "add it under [[iotopen.organizations]]",
                    )
                    .near(u.email.clone()),
                );
            }
            for inst in u.installations.iter().filter(|x| !installations.contains(x)) {
                issues.push(
                    Issue::new(
                        format!("iotopen.users[{i}].installations"),
                        format!("installation {inst} is not defined"),
                        "list installation ids (not client ids) of [[iotopen.installations]]",
                    )
                    .near(u.email.clone()),
                );
            }
            if u.sms_login && u.mobile.is_empty() {
                issues.push(
                    Issue::new(
                        format!("iotopen.users[{i}].mobile"),
                        "SMS login needs a mobile number",
                        "add mobile = \"+46...\" or set sms_login = false",
                    )
                    .near(u.email.clone()),
                );
            }
        }
        for (kind, things) in [("functions", &self.functions), ("devices", &self.devices)] {
            for (i, t) in things.iter().enumerate().filter(|(_, t)| !installations.contains(&t.installation_id)) {
                issues.push(
                    Issue::new(
                        format!("iotopen.{kind}[{i}].installation_id"),
                        format!("installation {} is not defined", t.installation_id),
                        "use an id of [[iotopen.installations]]",
                    )
                    .near(t.kind.clone()),
                );
            }
        }
        for (i, k) in self.api_keys.iter().enumerate() {
            if !users.contains(&k.user_id) {
                issues.push(
                    Issue::new(
                        format!("iotopen.api_keys[{i}].user_id"),
                        format!("user {} is not defined", k.user_id),
                        "use an id of [[iotopen.users]]",
                    )
                    .near(k.name.clone()),
                );
            }
            if k.token.len() != 32 || !k.token.bytes().all(|b| b.is_ascii_hexdigit()) {
                issues.push(
                    Issue::new(
                        format!("iotopen.api_keys[{i}].token"),
                        "a Lynx key is 32 hexadecimal characters",
                        "use 32 characters from 0-9 and a-f",
                    )
                    .near(k.name.clone()),
                );
            }
        }
        for (i, c) in self.oauth_clients.iter().enumerate() {
            if c.redirect_uris.is_empty() {
                issues.push(
                    Issue::new(
                        format!("iotopen.oauth_clients[{i}].redirect_uris"),
                        "a client needs at least one redirect URI",
                        "add the URI the client's callback listens on",
                    )
                    .near(c.client_id.clone()),
                );
            }
            for s in c.allowed_scopes.iter().filter(|s| !super::scopes::SCOPES.iter().any(|(name, ..)| name == s)) {
                let known: Vec<&str> = super::scopes::SCOPES.iter().map(|(n, ..)| *n).collect();
                issues.push(
                    Issue::new(
                        format!("iotopen.oauth_clients[{i}].allowed_scopes"),
                        format!("unknown scope '{s}'"),
                        format!("use scopes from: {}", known.join(", ")),
                    )
                    .near(c.client_id.clone()),
                );
            }
        }
        let bounds = [
            ("login_token_lifetime_seconds", self.login_token_lifetime_seconds, 60, 10 * 366 * 86_400),
            ("sms_code_lifetime_seconds", self.sms_code_lifetime_seconds, 10, 86_400),
            ("oauth_token_lifetime_seconds", self.oauth_token_lifetime_seconds, 60, 366 * 86_400),
            ("history_retention_days", self.history_retention_days, 1, 36_500),
            ("max_tokens", self.max_tokens as i64, 10, 10_000_000),
            ("history_max_points_per_installation", self.history_max_points_per_installation as i64, 1, 100_000_000),
            ("max_url_bytes", self.max_url_bytes as i64, 256, 1 << 20),
        ];
        for (name, value, low, high) in bounds {
            if !(low..=high).contains(&value) {
                issues.push(Issue::new(
                    format!("iotopen.{name}"),
                    format!("{value} is out of range"),
                    format!("use {low} to {high}"),
                ));
            }
        }
        issues
    }
}

#[cfg(test)]
mod tests {
    use crate::fixtures::DEFAULT_FIXTURES;
    use crate::providers::Fixtures;

    fn parse(file: &str, text: &str) -> Result<Fixtures, crate::fixtures::ConfigError> {
        Fixtures::parse(file, text)
    }

    #[test]
    fn the_default_fixtures_are_valid_and_mistakes_are_named() {
        let f = parse("default.toml", DEFAULT_FIXTURES).unwrap();
        assert!(f.iotopen.installations.iter().all(|i| i.id != i.client_id), "ids and client ids differ, as on Lynx");
        let broken = DEFAULT_FIXTURES
            .replacen("token = \"f7650807dffc43c98710bdd942d78b68\"", "token = \"not-hex\"", 1)
            .replacen("installations = [2001]", "installations = [9999]", 1)
            .replacen(
                "allowed_scopes = [\"installation:read\"",
                "allowed_scopes = [\"everything\", \"installation:read\"",
                1,
            );
        let err = parse("f.toml", &broken).unwrap_err().to_string();
        assert!(err.contains("iotopen.api_keys[0].token: a Lynx key is 32 hexadecimal characters"), "{err}");
        assert!(err.contains("iotopen.users[0].installations: installation 9999 is not defined"), "{err}");
        assert!(err.contains("unknown scope 'everything'"), "{err}");
    }
}
