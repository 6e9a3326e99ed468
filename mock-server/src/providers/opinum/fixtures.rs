//! `[opinum]` fixtures: the identity server's clients and users (with their accounts and Data
//! Pusher right), the Data Hub structure each account starts with (sites, sources, variables),
//! and the custom-push mappers by GUID.

use serde::{Deserialize, Serialize};

use crate::fixtures::{Issue, ProviderFixtures};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fixtures {
    #[serde(default)]
    pub clients: Vec<Client>,
    #[serde(default)]
    pub accounts: Vec<Account>,
    #[serde(default)]
    pub users: Vec<User>,
    #[serde(default)]
    pub sites: Vec<Site>,
    #[serde(default)]
    pub sources: Vec<Source>,
    #[serde(default)]
    pub variables: Vec<Variable>,
    #[serde(default)]
    pub custom_push: Vec<CustomPush>,
    /// `expires_in` of access tokens (Opinum: 3600).
    #[serde(default = "default_token_lifetime")]
    pub token_lifetime_seconds: i64,
    #[serde(default = "default_refresh_lifetime")]
    pub refresh_token_lifetime_seconds: i64,
    /// Points kept per variable; the oldest dates are dropped beyond it.
    #[serde(default = "default_max_points")]
    pub max_points_per_variable: usize,
}

impl Default for Fixtures {
    fn default() -> Self {
        Fixtures {
            clients: Vec::new(),
            accounts: Vec::new(),
            users: Vec::new(),
            sites: Vec::new(),
            sources: Vec::new(),
            variables: Vec::new(),
            custom_push: Vec::new(),
            token_lifetime_seconds: default_token_lifetime(),
            refresh_token_lifetime_seconds: default_refresh_lifetime(),
            max_points_per_variable: default_max_points(),
        }
    }
}

fn default_token_lifetime() -> i64 {
    3600
}
fn default_refresh_lifetime() -> i64 {
    30 * 86_400
}
fn default_max_points() -> usize {
    100_000
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Client {
    pub client_id: String,
    pub secret: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Account {
    pub id: i64,
    pub name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct User {
    pub username: String,
    pub password: String,
    /// Accounts the user belongs to; the first is used unless the request selects another.
    pub accounts: Vec<i64>,
    /// The Data Pusher right: needed for the `push-data` scope (docs/providers/opinum.md#scopes).
    #[serde(default)]
    pub data_pusher: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Site {
    pub id: i64,
    pub account: i64,
    pub name: String,
    #[serde(default)]
    pub type_id: i64,
    #[serde(default)]
    pub street: String,
    #[serde(default)]
    pub postal_code: String,
    #[serde(default)]
    pub city: String,
    #[serde(default)]
    pub country: String,
    #[serde(default = "default_time_zone")]
    pub time_zone_id: String,
}

fn default_time_zone() -> String {
    "Romance Standard Time".to_owned()
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    pub id: i64,
    pub site_id: i64,
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub source_type_id: i64,
    #[serde(default)]
    pub energy_type_id: i64,
    #[serde(default)]
    pub serial_number: String,
    #[serde(default)]
    pub meter_number: String,
    #[serde(default)]
    pub ean_number: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Variable {
    pub id: i64,
    pub source_id: i64,
    pub name: String,
    /// What standard pushes name it by, with a source identifier.
    #[serde(default)]
    pub mapping_config: String,
    #[serde(default)]
    pub variable_type_id: i64,
    #[serde(default)]
    pub unit_id: i64,
    #[serde(default)]
    pub granularity: i64,
    /// 0 ms, 1 s, 2 min, 3 h, 4 day, 5 week, 6 month, 7 year.
    #[serde(default)]
    pub granularity_time_base: i64,
    #[serde(default)]
    pub quantity_type: i64,
    #[serde(default = "default_divider")]
    pub divider: f64,
}

fn default_divider() -> f64 {
    1.0
}

/// A custom-push endpoint: `POST push/api/generic/{guid}/` and how its payload maps to points.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomPush {
    pub guid: String,
    pub account: i64,
    pub format: CustomFormat,
    /// JSON: dotted path to the array of records (empty: the body is the array).
    #[serde(default)]
    pub records: String,
    /// How `source` identifies the source.
    pub source_by: SourceKey,
    /// Field (JSON, dotted) or column header (CSV) holding the source identifier.
    pub source: String,
    /// The mappingConfig of the target variable on that source.
    pub mapping_config: String,
    /// Field or column of the timestamp (ISO 8601).
    pub date: String,
    /// Field or column of the value.
    pub value: String,
    /// CSV delimiter.
    #[serde(default = "default_delimiter")]
    pub delimiter: char,
}

fn default_delimiter() -> char {
    ','
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CustomFormat {
    Json,
    Csv,
}

/// The source identifier kinds of the standard push (besides `variableId`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum SourceKey {
    SourceId,
    SourceSerialNumber,
    SourceEan,
    SourceName,
    MeterNumber,
}

impl ProviderFixtures for Fixtures {
    fn summary(&self) -> String {
        format!(
            "opinum: {} users, {} clients, {} variables, {} custom pushes",
            self.users.len(),
            self.clients.len(),
            self.variables.len(),
            self.custom_push.len()
        )
    }

    fn secrets(&self) -> Vec<&str> {
        self.clients.iter().map(|c| c.secret.as_str()).chain(self.users.iter().map(|u| u.password.as_str())).collect()
    }

    fn validate(&self) -> Vec<Issue> {
        let mut issues = Vec::new();
        let account_ids: Vec<i64> = self.accounts.iter().map(|a| a.id).collect();
        if !(1..=86_400).contains(&self.token_lifetime_seconds) {
            issues.push(Issue::new(
                "opinum.token_lifetime_seconds",
                format!("{} is out of range", self.token_lifetime_seconds),
                "use 1 to 86400 seconds (Opinum issues 3600; a few seconds make renewal testable in real time)",
            ));
        }
        for (i, u) in self.users.iter().enumerate() {
            if u.accounts.is_empty() {
                issues.push(
                    Issue::new(
                        format!("opinum.users[{i}].accounts"),
                        "a user needs at least one account",
                        "list the ids of [[opinum.accounts]] the user belongs to",
                    )
                    .near(u.username.clone()),
                );
            }
            for a in u.accounts.iter().filter(|a| !account_ids.contains(a)) {
                issues.push(
                    Issue::new(
                        format!("opinum.users[{i}].accounts"),
                        format!("account {a} is not defined"),
                        "add it under [[opinum.accounts]]",
                    )
                    .near(u.username.clone()),
                );
            }
        }
        let site_ids: Vec<i64> = self.sites.iter().map(|s| s.id).collect();
        for (i, s) in self.sites.iter().enumerate().filter(|(_, s)| !account_ids.contains(&s.account)) {
            issues.push(
                Issue::new(
                    format!("opinum.sites[{i}].account"),
                    format!("account {} is not defined", s.account),
                    "add it under [[opinum.accounts]]",
                )
                .near(s.name.clone()),
            );
        }
        let source_ids: Vec<i64> = self.sources.iter().map(|s| s.id).collect();
        for (i, s) in self.sources.iter().enumerate().filter(|(_, s)| !site_ids.contains(&s.site_id)) {
            issues.push(
                Issue::new(
                    format!("opinum.sources[{i}].site_id"),
                    format!("site {} is not defined", s.site_id),
                    "add it under [[opinum.sites]]",
                )
                .near(s.name.clone()),
            );
        }
        for (i, v) in self.variables.iter().enumerate().filter(|(_, v)| !source_ids.contains(&v.source_id)) {
            issues.push(
                Issue::new(
                    format!("opinum.variables[{i}].source_id"),
                    format!("source {} is not defined", v.source_id),
                    "add it under [[opinum.sources]]",
                )
                .near(v.name.clone()),
            );
        }
        for (kind, ids) in [
            ("sites", &site_ids),
            ("sources", &source_ids),
            ("variables", &self.variables.iter().map(|v| v.id).collect()),
        ] {
            let mut sorted = ids.clone();
            sorted.sort_unstable();
            if let Some(w) = sorted.windows(2).find(|w| w[0] == w[1]) {
                issues.push(Issue::new(
                    format!("opinum.{kind}"),
                    format!("id {} is used twice", w[0]),
                    "give each one its own id",
                ));
            }
        }
        for (i, c) in self.custom_push.iter().enumerate() {
            if uuid::Uuid::try_parse(&c.guid).is_err() {
                issues.push(
                    Issue::new(
                        format!("opinum.custom_push[{i}].guid"),
                        format!("'{}' is not a GUID", c.guid),
                        "use a GUID such as 6f1c2a4e-7d3b-4c1a-9e8f-2b6d4a0c9e11",
                    )
                    .near(c.guid.clone()),
                );
            }
            if !account_ids.contains(&c.account) {
                issues.push(
                    Issue::new(
                        format!("opinum.custom_push[{i}].account"),
                        format!("account {} is not defined", c.account),
                        "add it under [[opinum.accounts]]",
                    )
                    .near(c.guid.clone()),
                );
            }
        }
        issues
    }
}
