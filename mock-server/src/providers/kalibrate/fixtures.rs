//! `[kalibrate]` fixtures: Azure AD tenants with their APIs (resources) and confidential clients,
//! the data API's gateway rule, and the documents its collections start with.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::fixtures::{Issue, ProviderFixtures};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fixtures {
    #[serde(default)]
    pub tenants: Vec<Tenant>,
    /// The data API's gateway rejects requests whose User-Agent starts with one of these
    /// (case-insensitive). Kalibrate's gateway rejects python-requests' default (docs/providers/kalibrate.md#user-agent-rule).
    #[serde(default = "default_rejected_user_agents")]
    pub rejected_user_agents: Vec<String>,
    /// `expires_in` of issued tokens (Azure AD: 3599).
    #[serde(default = "default_token_lifetime")]
    pub token_lifetime_seconds: i64,
    /// Imported documents kept per collection before the oldest are dropped.
    #[serde(default = "default_max_imported")]
    pub max_imported_documents: usize,
    /// Documents each collection starts with: `[[kalibrate.documents.price]]`.
    #[serde(default)]
    pub documents: BTreeMap<String, Vec<Value>>,
}

impl Default for Fixtures {
    fn default() -> Self {
        Fixtures {
            tenants: Vec::new(),
            rejected_user_agents: default_rejected_user_agents(),
            token_lifetime_seconds: default_token_lifetime(),
            max_imported_documents: default_max_imported(),
            documents: BTreeMap::new(),
        }
    }
}

fn default_rejected_user_agents() -> Vec<String> {
    vec!["python-requests/".to_owned()]
}
fn default_token_lifetime() -> i64 {
    3599
}
fn default_max_imported() -> usize {
    100_000
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tenant {
    /// The tenant GUID (`tid`).
    pub id: String,
    /// Domain names that also identify the tenant in URLs (`contoso.onmicrosoft.com`).
    #[serde(default)]
    pub domains: Vec<String>,
    #[serde(default = "default_region")]
    pub region_scope: String,
    #[serde(default)]
    pub apis: Vec<Api>,
    #[serde(default)]
    pub clients: Vec<Client>,
}

fn default_region() -> String {
    "EU".to_owned()
}

/// A resource clients may request tokens for, with `scope = "<audience>/.default"`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Api {
    /// Application ID URI; becomes the token's `aud`.
    pub audience: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Client {
    pub client_id: String,
    pub secret: String,
    /// After this instant (virtual clock) the secret is expired: AADSTS7000222.
    pub secret_expires: Option<DateTime<Utc>>,
    /// App roles granted on the API: `Read`, `ReadWrite`.
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default)]
    pub name: String,
}

pub const COLLECTIONS: &[&str] =
    &["price", "site", "product", "productgroup", "reference", "volume", "pricerequest", "surveyhistory"];

pub fn is_guid(s: &str) -> bool {
    uuid::Uuid::try_parse(s).is_ok() && s.len() == 36
}

impl Fixtures {
    pub fn tenant(&self, id_or_domain: &str) -> Option<&Tenant> {
        self.tenants.iter().find(|t| {
            t.id.eq_ignore_ascii_case(id_or_domain) || t.domains.iter().any(|d| d.eq_ignore_ascii_case(id_or_domain))
        })
    }
}

impl ProviderFixtures for Fixtures {
    fn summary(&self) -> String {
        let clients: usize = self.tenants.iter().map(|t| t.clients.len()).sum();
        format!("kalibrate: {} tenants, {clients} clients", self.tenants.len())
    }

    fn secrets(&self) -> Vec<&str> {
        self.tenants.iter().flat_map(|t| t.clients.iter().map(|c| c.secret.as_str())).collect()
    }

    fn validate(&self) -> Vec<Issue> {
        let mut issues = Vec::new();
        if !(60..=86_400).contains(&self.token_lifetime_seconds) {
            issues.push(Issue::new(
                "kalibrate.token_lifetime_seconds",
                format!("{} is out of range", self.token_lifetime_seconds),
                "use 60 to 86400 seconds (Azure AD issues 3599); note MSAL treats tokens under 300 s as expired",
            ));
        }
        let mut seen_ids = std::collections::HashSet::new();
        for (i, t) in self.tenants.iter().enumerate() {
            let key = format!("kalibrate.tenants[{i}]");
            if !is_guid(&t.id) {
                issues.push(
                    Issue::new(
                        format!("{key}.id"),
                        format!("'{}' is not a tenant GUID", t.id),
                        "use a GUID such as efa98c7b-2114-46e8-be99-954a4f1a2d9c",
                    )
                    .near(t.id.clone()),
                );
            }
            if !seen_ids.insert(t.id.to_ascii_lowercase()) {
                issues.push(
                    Issue::new(
                        format!("{key}.id"),
                        format!("tenant '{}' is defined twice", t.id),
                        "give each tenant its own id",
                    )
                    .near(t.id.clone()),
                );
            }
            for (j, a) in t.apis.iter().enumerate() {
                if a.audience.is_empty() || a.audience.ends_with("/.default") {
                    issues.push(
                        Issue::new(
                            format!("{key}.apis[{j}].audience"),
                            format!("'{}' is not an application ID URI", a.audience),
                            "write the URI without '/.default', e.g. api://dev.data.example.com/<guid>",
                        )
                        .near(a.audience.clone()),
                    );
                }
            }
            for (j, c) in t.clients.iter().enumerate() {
                if c.client_id.trim().is_empty() {
                    issues.push(Issue::new(
                        format!("{key}.clients[{j}].client_id"),
                        "empty client id",
                        "use the application (client) GUID",
                    ));
                }
                if c.secret.is_empty() {
                    issues.push(Issue::new(
                        format!("{key}.clients[{j}].secret"),
                        "empty secret",
                        "give the client a secret",
                    ));
                }
            }
        }
        for (collection, docs) in &self.documents {
            if !COLLECTIONS.contains(&collection.as_str()) {
                issues.push(
                    Issue::new(
                        format!("kalibrate.documents.{collection}"),
                        format!("unknown collection '{collection}'"),
                        format!("use one of: {}", COLLECTIONS.join(", ")),
                    )
                    .near(format!("documents.{collection}")),
                );
            }
            for (i, d) in docs.iter().enumerate() {
                let key = format!("kalibrate.documents.{collection}[{i}]");
                if !d.is_object() {
                    issues.push(Issue::new(
                        key,
                        "a document must be a table",
                        "write it as [[kalibrate.documents.<collection>]]",
                    ));
                } else if d.to_string().contains("$__toml_private_datetime") {
                    issues.push(Issue::new(key, "contains a bare TOML date-time", "quote dates as strings, e.g. exportedTime = \"2020-06-15T10:00:00Z\", so they stay text in JSON"));
                }
            }
        }
        issues
    }
}
