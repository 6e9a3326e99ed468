//! `[openenergy]` fixtures: the directory's organisations and their software statements (the
//! OAuth clients), how long tokens live, the scopes the authorization server knows, revoked
//! certificates, trusted proxies, and the data sets the resource server serves.
//!
//! A client certificate is registered to a software statement by its subject, as the directory
//! issues them (`OU=<organisation id>, CN=<software statement id>`, docs/providers/openenergy.md#registration-by-subject),
//! or by its `x5t#S256` thumbprint listed under the statement.

use std::collections::{BTreeMap, HashSet};
use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::fixtures::{Issue, ProviderFixtures};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fixtures {
    /// `iss` of tokens and discovery when the authorization server is reached at its real
    /// host; reached through a mock URL, the issuer is that URL (so clients that compare the
    /// two are satisfied).
    #[serde(default = "default_issuer")]
    pub issuer: String,
    /// `expires_in` of access tokens (the Open Energy docs: 600 s).
    #[serde(default = "default_token_lifetime")]
    pub token_lifetime_seconds: i64,
    /// Live tokens kept; beyond this the oldest are forgotten (and so become inactive).
    #[serde(default = "default_max_tokens")]
    pub max_tokens: usize,
    /// `scopes_supported` of discovery; a statement may only be granted scopes from this list.
    #[serde(default = "default_scopes")]
    pub scopes_supported: Vec<String>,
    /// Addresses of TLS-terminating proxies whose `X-OE-CLIENT-CERT` header the resource server
    /// believes. Empty (the default): the header is ignored and only the TLS peer counts.
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
    /// Certificates the directory has revoked: refused at the token endpoint, and their tokens
    /// become inactive.
    #[serde(default)]
    pub revoked_certificates: Vec<RevokedCertificate>,
    #[serde(default)]
    pub organisations: Vec<Organisation>,
    /// What the resource server (`openenergy.data`) serves.
    #[serde(default)]
    pub data_sets: Vec<DataSet>,
}

impl Default for Fixtures {
    fn default() -> Self {
        Fixtures {
            issuer: default_issuer(),
            token_lifetime_seconds: default_token_lifetime(),
            max_tokens: default_max_tokens(),
            scopes_supported: default_scopes(),
            trusted_proxies: Vec::new(),
            revoked_certificates: Vec::new(),
            organisations: Vec::new(),
            data_sets: Vec::new(),
        }
    }
}

fn default_issuer() -> String {
    "https://auth.directory.energydata.org.uk".to_owned()
}
fn default_token_lifetime() -> i64 {
    600
}
fn default_max_tokens() -> usize {
    10_000
}
fn default_scopes() -> Vec<String> {
    vec!["directory:software".to_owned()]
}
fn active() -> String {
    "Active".to_owned()
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevokedCertificate {
    /// `x5t#S256` of the certificate.
    pub thumbprint: Option<String>,
    /// Or its serial number, hex (colons and case ignored).
    pub serial: Option<String>,
    #[serde(default)]
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Organisation {
    /// `OrganisationId`; the `OU` of its client certificates.
    pub id: String,
    pub name: String,
    /// `Active`; anything else and its clients are refused.
    #[serde(default = "active")]
    pub status: String,
    /// Company number: `RegistrationNumber` in the directory, `organisation_number` in introspection.
    #[serde(default)]
    pub registration_number: String,
    #[serde(default)]
    pub legal_entity_name: Option<String>,
    #[serde(default = "default_country")]
    pub country_of_registration: String,
    #[serde(default = "default_register")]
    pub company_register: String,
    #[serde(default)]
    pub address_line1: String,
    #[serde(default)]
    pub city: String,
    #[serde(default)]
    pub postcode: String,
    #[serde(default = "default_country")]
    pub country: String,
    /// `CreatedOn`, as the directory writes it (`2021-03-01T10:00:00.000Z`).
    #[serde(default = "default_created")]
    pub created_on: String,
    #[serde(default)]
    pub software_statements: Vec<SoftwareStatement>,
}

fn default_country() -> String {
    "GB".to_owned()
}
fn default_register() -> String {
    "Companies House".to_owned()
}
fn default_created() -> String {
    "2021-03-01T10:00:00.000Z".to_owned()
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SoftwareStatement {
    /// `SoftwareStatementId`; the `CN` of its client certificates.
    pub id: String,
    /// The OAuth `client_id`.
    pub client_id: String,
    pub client_name: String,
    #[serde(default)]
    pub description: String,
    /// `Active`; anything else and the client is refused.
    #[serde(default = "active")]
    pub status: String,
    #[serde(default = "default_environment")]
    pub environment: String,
    #[serde(default = "default_mode")]
    pub mode: String,
    /// `software_roles` of introspection (`data-consumer`, `data-provider`...).
    #[serde(default)]
    pub roles: Vec<String>,
    /// Scopes it may be granted; a token request without `scope` gets all of them.
    #[serde(default = "default_scopes")]
    pub scopes: Vec<String>,
    /// `additional_software_metadata.metadata` of introspection.
    #[serde(default)]
    pub metadata: BTreeMap<String, Value>,
    /// Certificates registered by `x5t#S256` besides those named by subject.
    #[serde(default)]
    pub certificate_thumbprints: Vec<String>,
}

fn default_environment() -> String {
    "production".to_owned()
}
fn default_mode() -> String {
    "Live".to_owned()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DataFormat {
    Json,
    Csv,
}

fn default_format() -> DataFormat {
    DataFormat::Json
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataSet {
    /// Path below the data service, e.g. `/datasets/postcode-consumption`.
    pub path: String,
    #[serde(default)]
    pub title: String,
    /// Scope a token must carry (403 `insufficient_scope` otherwise); any active, bound token
    /// when absent.
    pub scope: Option<String>,
    #[serde(default = "default_format")]
    pub format: DataFormat,
    /// CSV column order (default: the keys of the records, sorted).
    #[serde(default)]
    pub columns: Vec<String>,
    /// The rows, as tables: a JSON array of objects, or CSV lines.
    #[serde(default)]
    pub records: Vec<Value>,
    /// Or the exact body to send instead of `records`.
    pub body: Option<String>,
}

impl DataSet {
    /// The CSV header: `columns`, or every key of the records, sorted.
    pub fn csv_columns(&self) -> Vec<String> {
        if !self.columns.is_empty() {
            return self.columns.clone();
        }
        let mut keys: Vec<String> =
            self.records.iter().filter_map(Value::as_object).flat_map(|o| o.keys().cloned()).collect();
        keys.sort();
        keys.dedup();
        keys
    }
}

/// A software statement with its organisation.
#[derive(Debug, Clone, Copy)]
pub struct Registered<'f> {
    pub organisation: &'f Organisation,
    pub statement: &'f SoftwareStatement,
}

impl Fixtures {
    pub fn statements(&self) -> impl Iterator<Item = Registered<'_>> {
        self.organisations
            .iter()
            .flat_map(|o| o.software_statements.iter().map(move |s| Registered { organisation: o, statement: s }))
    }

    pub fn client(&self, client_id: &str) -> Option<Registered<'_>> {
        self.statements().find(|r| r.statement.client_id == client_id)
    }

    pub fn statement(&self, statement_id: &str) -> Option<Registered<'_>> {
        self.statements().find(|r| r.statement.id == statement_id)
    }

    pub fn organisation(&self, id: &str) -> Option<&Organisation> {
        self.organisations.iter().find(|o| o.id == id)
    }

    /// The revocation entry naming this certificate, if any.
    pub fn revocation(&self, thumbprint: &str, serial: &str) -> Option<&RevokedCertificate> {
        let norm =
            |s: &str| s.chars().filter(|c| *c != ':').collect::<String>().trim_start_matches('0').to_ascii_lowercase();
        self.revoked_certificates.iter().find(|r| {
            r.thumbprint.as_deref() == Some(thumbprint) || r.serial.as_deref().is_some_and(|s| norm(s) == norm(serial))
        })
    }

    pub fn trusts_proxy(&self, addr: IpAddr) -> bool {
        self.trusted_proxies.iter().any(|p| p.parse::<IpAddr>().is_ok_and(|p| p == addr))
    }
}

impl ProviderFixtures for Fixtures {
    fn summary(&self) -> String {
        let statements = self.statements().count();
        format!(
            "openenergy: {} organisations, {statements} software statements, {} data sets",
            self.organisations.len(),
            self.data_sets.len()
        )
    }

    fn validate(&self) -> Vec<Issue> {
        let mut issues = Vec::new();
        let key = |rest: &str| format!("openenergy.{rest}");
        if !(1..=86_400).contains(&self.token_lifetime_seconds) {
            issues.push(Issue::new(
                key("token_lifetime_seconds"),
                format!("{} is out of range", self.token_lifetime_seconds),
                "use 1 to 86400 seconds (Open Energy issues 600)",
            ));
        }
        if !(1..=10_000_000).contains(&self.max_tokens) {
            issues.push(Issue::new(
                key("max_tokens"),
                format!("{} is out of range", self.max_tokens),
                "use 1 to 10000000",
            ));
        }
        if !self.issuer.starts_with("https://") {
            issues.push(
                Issue::new(
                    key("issuer"),
                    format!("'{}' is not an https URL", self.issuer),
                    "e.g. https://auth.directory.energydata.org.uk",
                )
                .near(self.issuer.clone()),
            );
        }
        for (i, s) in self.scopes_supported.iter().enumerate() {
            if s.is_empty() || s.contains(char::is_whitespace) {
                issues.push(Issue::new(
                    key(&format!("scopes_supported[{i}]")),
                    format!("'{s}' is not a scope"),
                    "a scope is one word without spaces, e.g. directory:software",
                ));
            }
        }
        for (i, p) in self.trusted_proxies.iter().enumerate() {
            if p.parse::<IpAddr>().is_err() {
                issues.push(
                    Issue::new(
                        key(&format!("trusted_proxies[{i}]")),
                        format!("'{p}' is not an IP address"),
                        "give the proxy's address as the server sees it, e.g. 127.0.0.1",
                    )
                    .near(p.clone()),
                );
            }
        }
        for (i, r) in self.revoked_certificates.iter().enumerate() {
            if r.thumbprint.is_none() && r.serial.is_none() {
                issues.push(Issue::new(
                    key(&format!("revoked_certificates[{i}]")),
                    "names no certificate",
                    "give thumbprint (x5t#S256) or serial (hex)",
                ));
            }
            if let Some(t) = &r.thumbprint {
                if !is_thumbprint(t) {
                    issues.push(
                        Issue::new(
                            key(&format!("revoked_certificates[{i}].thumbprint")),
                            format!("'{t}' is not an x5t#S256 thumbprint"),
                            "43 base64url characters: base64url(SHA-256(DER)) without padding",
                        )
                        .near(t.clone()),
                    );
                }
            }
        }
        let (mut orgs, mut statements, mut clients) = (HashSet::new(), HashSet::new(), HashSet::new());
        for (i, o) in self.organisations.iter().enumerate() {
            let okey = key(&format!("organisations[{i}]"));
            if o.id.trim().is_empty() || !orgs.insert(o.id.as_str()) {
                issues.push(
                    Issue::new(
                        format!("{okey}.id"),
                        format!("'{}' is empty or used twice", o.id),
                        "give each organisation its own id (a GUID, as the directory does)",
                    )
                    .near(o.id.clone()),
                );
            }
            for (j, s) in o.software_statements.iter().enumerate() {
                let skey = format!("{okey}.software_statements[{j}]");
                if s.id.trim().is_empty() || !statements.insert(s.id.as_str()) {
                    issues.push(
                        Issue::new(
                            format!("{skey}.id"),
                            format!("'{}' is empty or used twice", s.id),
                            "give each software statement its own id",
                        )
                        .near(s.id.clone()),
                    );
                }
                if s.client_id.trim().is_empty() || !clients.insert(s.client_id.as_str()) {
                    issues.push(
                        Issue::new(
                            format!("{skey}.client_id"),
                            format!("'{}' is empty or used twice", s.client_id),
                            "give each software statement its own client_id",
                        )
                        .near(s.client_id.clone()),
                    );
                }
                for scope in &s.scopes {
                    if !self.scopes_supported.contains(scope) {
                        issues.push(
                            Issue::new(
                                format!("{skey}.scopes"),
                                format!("'{scope}' is not in openenergy.scopes_supported"),
                                "add it to scopes_supported or remove it here",
                            )
                            .near(scope.clone()),
                        );
                    }
                }
                for t in &s.certificate_thumbprints {
                    if !is_thumbprint(t) {
                        issues.push(
                            Issue::new(
                                format!("{skey}.certificate_thumbprints"),
                                format!("'{t}' is not an x5t#S256 thumbprint"),
                                "43 base64url characters: base64url(SHA-256(DER)) without padding",
                            )
                            .near(t.clone()),
                        );
                    }
                }
                if s.metadata.values().any(has_toml_datetime) {
                    issues.push(Issue::new(
                        format!("{skey}.metadata"),
                        "contains a bare TOML date-time",
                        "quote dates so they stay text in JSON",
                    ));
                }
            }
        }
        let mut paths = HashSet::new();
        for (i, d) in self.data_sets.iter().enumerate() {
            let dkey = key(&format!("data_sets[{i}]"));
            if !d.path.starts_with('/')
                || d.path == "/"
                || d.path.contains(['?', '#', ' '])
                || !paths.insert(d.path.as_str())
            {
                issues.push(
                    Issue::new(
                        format!("{dkey}.path"),
                        format!("'{}' is not a usable path, or is used twice", d.path),
                        "start with '/', e.g. /datasets/postcode-consumption; '/' itself lists the data sets",
                    )
                    .near(d.path.clone()),
                );
            }
            if let Some(scope) = &d.scope {
                if !self.scopes_supported.contains(scope) {
                    issues.push(
                        Issue::new(
                            format!("{dkey}.scope"),
                            format!("'{scope}' is not in openenergy.scopes_supported"),
                            "no token could ever carry it: add it to scopes_supported",
                        )
                        .near(scope.clone()),
                    );
                }
            }
            if d.body.is_some() && !d.records.is_empty() {
                issues.push(Issue::new(dkey.clone(), "has both body and records", "give one of them"));
            }
            for (j, r) in d.records.iter().enumerate() {
                if !r.is_object() {
                    issues.push(Issue::new(
                        format!("{dkey}.records[{j}]"),
                        "a record must be a table",
                        "write it as { column = value, ... }",
                    ));
                } else if has_toml_datetime(r) {
                    issues.push(Issue::new(
                        format!("{dkey}.records[{j}]"),
                        "contains a bare TOML date-time",
                        "quote dates as strings, e.g. date = \"2021-06-01\"",
                    ));
                }
            }
        }
        issues
    }
}

fn is_thumbprint(t: &str) -> bool {
    t.len() == 43 && t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn has_toml_datetime(v: &Value) -> bool {
    v.to_string().contains("$__toml_private_datetime")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_validation() {
        let f = Fixtures::default();
        assert_eq!(f.token_lifetime_seconds, 600);
        assert!(f.validate().is_empty());
        let bad: Fixtures = toml::from_str(
            r#"
            token_lifetime_seconds = 0
            trusted_proxies = ["proxy.local"]
            [[revoked_certificates]]
            reason = "nothing named"
            [[organisations]]
            id = "o"
            name = "O"
            [[organisations.software_statements]]
            id = "s"
            client_id = "c"
            client_name = "C"
            scopes = ["nope"]
            [[data_sets]]
            path = "no-slash"
            "#,
        )
        .unwrap();
        let keys: Vec<String> = bad.validate().into_iter().map(|i| i.key).collect();
        for k in
            ["token_lifetime_seconds", "trusted_proxies[0]", "revoked_certificates[0]", "scopes", "data_sets[0].path"]
        {
            assert!(keys.iter().any(|key| key.ends_with(k)), "{k} not in {keys:?}");
        }
    }

    #[test]
    fn revocation_matches_thumbprint_or_serial() {
        let f: Fixtures = toml::from_str(
            r#"
            [[revoked_certificates]]
            serial = "00:AB:01"
            [[revoked_certificates]]
            thumbprint = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
            "#,
        )
        .unwrap();
        assert!(f.revocation("x", "ab01").is_some());
        assert!(f.revocation("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "ff").is_some());
        assert!(f.revocation("x", "ff").is_none());
    }
}
