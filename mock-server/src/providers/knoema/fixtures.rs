//! `[knoema]` fixtures: the apps (app id, secret, registered redirect URIs), the datasets the
//! data API serves (dimensions with their members in hierarchy order, time series or flat
//! rows), and the knobs of the service (token and code lifetimes, consent mode, page size,
//! the optional anonymous request limit).

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::timeline::{parse_day, Frequency};
use crate::fixtures::{Issue, ProviderFixtures};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fixtures {
    #[serde(default)]
    pub apps: Vec<App>,
    #[serde(default)]
    pub datasets: Vec<Dataset>,
    /// What `GET /oauth/authorize` does: show the consent page (`prompt`), or answer for the
    /// user at once (`auto-approve`, `auto-deny`). Tests switch it with `PUT /__admin/fixtures`.
    #[serde(default)]
    pub consent: Consent,
    /// `expires_in` of access tokens (Knoema's example: 86400; docs/providers/knoema.md#tokens).
    #[serde(default = "default_token_lifetime")]
    pub token_lifetime_seconds: i64,
    /// How long an authorization code may wait for its exchange (RFC 6749 §4.1.2: at most 10 minutes).
    #[serde(default = "default_code_lifetime")]
    pub code_lifetime_seconds: i64,
    /// How long a refresh token may be redeemed after it was issued (Knoema publishes no
    /// lifetime: 30 days by default, ASP.NET's usual choice).
    #[serde(default = "default_refresh_token_lifetime")]
    pub refresh_token_lifetime_seconds: i64,
    /// Anonymous requests allowed per client address and UTC day before 429 (the R client's
    /// documentation mentions 50); 0 turns the limit off.
    #[serde(default)]
    pub anonymous_request_limit: u32,
    /// Series per page of raw data; more come through continuation tokens.
    #[serde(default = "default_series_per_page")]
    pub series_per_page: usize,
    /// Largest file `POST /api/1.0/upload/post` accepts.
    #[serde(default = "default_max_upload_bytes")]
    pub max_upload_bytes: usize,
    /// Tags `GET /api/1.0/frontend/tags` lists (the R client probes it first).
    #[serde(default)]
    pub tags: Vec<String>,
}

impl Default for Fixtures {
    fn default() -> Self {
        Fixtures {
            apps: Vec::new(),
            datasets: Vec::new(),
            consent: Consent::default(),
            token_lifetime_seconds: default_token_lifetime(),
            code_lifetime_seconds: default_code_lifetime(),
            refresh_token_lifetime_seconds: default_refresh_token_lifetime(),
            anonymous_request_limit: 0,
            series_per_page: default_series_per_page(),
            max_upload_bytes: default_max_upload_bytes(),
            tags: Vec::new(),
        }
    }
}

fn default_token_lifetime() -> i64 {
    86_400
}
fn default_code_lifetime() -> i64 {
    600
}
fn default_refresh_token_lifetime() -> i64 {
    30 * 86_400
}
fn default_series_per_page() -> usize {
    5
}
fn default_max_upload_bytes() -> usize {
    4 * 1024 * 1024
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Consent {
    #[default]
    Prompt,
    AutoApprove,
    AutoDeny,
}

/// An app created at `{host}/user/apps`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct App {
    pub app_id: String,
    pub app_secret: String,
    #[serde(default)]
    pub name: String,
    /// Redirect URIs registered in the app settings; when any are, `redirect_uri` must be one
    /// of them exactly (docs/providers/knoema.md#redirect-uri). Empty: any absolute URI is accepted.
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    /// The user who consents on the OAuth page (the owner of issued tokens).
    #[serde(default = "default_user")]
    pub user: String,
}

fn default_user() -> String {
    "demo.user@example.com".to_owned()
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum DatasetKind {
    #[default]
    Regular,
    Flat,
}

impl DatasetKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DatasetKind::Regular => "Regular",
            DatasetKind::Flat => "Flat",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dataset {
    pub id: String,
    pub name: String,
    /// `Regular` (time series) or `Flat` (records with columns).
    #[serde(rename = "type", default)]
    pub kind: DatasetKind,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub source: String,
    /// `YYYY-MM-DDTHH:MM:SSZ`
    #[serde(default)]
    pub publication_date: Option<String>,
    #[serde(default)]
    pub last_updated_on: Option<String>,
    /// Private datasets are seen only by a signed app or an OAuth token; others are told it
    /// does not exist.
    #[serde(default)]
    pub private: bool,
    /// Names of time-series attributes; values come from each series' `attributes`.
    #[serde(default)]
    pub timeseries_attributes: Vec<String>,
    pub dimensions: Vec<Dimension>,
    /// Regular datasets: one entry per time series.
    #[serde(default)]
    pub series: Vec<Series>,
    /// Flat datasets: the measure columns beside the dimensions.
    #[serde(default)]
    pub columns: Vec<Column>,
    /// Flat datasets: the records.
    #[serde(default)]
    pub rows: Vec<Row>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dimension {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub is_geo: bool,
    /// Member fields beside `id` (e.g. `regionid`, `ticker`), in column order.
    #[serde(default)]
    pub fields: Vec<String>,
    /// In hierarchy order: a member at `level` n belongs to the nearest member above it at n-1.
    pub members: Vec<Member>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Member {
    pub key: u64,
    pub name: String,
    pub id: String,
    #[serde(default)]
    pub level: u32,
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Series {
    /// Dimension id → member id.
    pub dims: BTreeMap<String, String>,
    /// A, H, Q, M, W or D.
    pub frequency: String,
    /// Date of the first value, `YYYY-MM-DD`; value i is at start + i steps of the frequency.
    pub start: String,
    /// `nan` for a missing value.
    pub values: Vec<f64>,
    #[serde(default)]
    pub unit: Option<String>,
    #[serde(default)]
    pub scale: Option<f64>,
    #[serde(default)]
    pub mnemonics: Option<String>,
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Column {
    pub id: String,
    pub name: String,
    /// `Number`, `Date` or `String`.
    #[serde(rename = "type")]
    pub kind: String,
}

pub const COLUMN_TYPES: &[&str] = &["Number", "Date", "String"];

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Row {
    /// Dimension id → member id.
    pub dims: BTreeMap<String, String>,
    /// Column id → value (dates as `YYYY-MM-DD`).
    #[serde(default)]
    pub values: BTreeMap<String, Value>,
}

impl Fixtures {
    pub fn app(&self, app_id: &str) -> Option<&App> {
        self.apps.iter().find(|a| a.app_id == app_id)
    }
}

impl ProviderFixtures for Fixtures {
    /// For `check-config`.
    fn summary(&self) -> String {
        format!("knoema: {} apps, {} datasets", self.apps.len(), self.datasets.len())
    }

    fn secrets(&self) -> Vec<&str> {
        self.apps.iter().map(|a| a.app_secret.as_str()).collect()
    }

    fn validate(&self) -> Vec<Issue> {
        let mut issues = Vec::new();
        if !(60..=31_536_000).contains(&self.token_lifetime_seconds) {
            issues.push(Issue::new(
                "knoema.token_lifetime_seconds",
                format!("{} is out of range", self.token_lifetime_seconds),
                "use 60 to 31536000 seconds (Knoema's example answers 86400)",
            ));
        }
        if !(60..=10 * 366 * 86_400).contains(&self.refresh_token_lifetime_seconds) {
            issues.push(Issue::new(
                "knoema.refresh_token_lifetime_seconds",
                format!("{} is out of range", self.refresh_token_lifetime_seconds),
                "use 60 seconds to 10 years (the default is 2592000, 30 days)",
            ));
        }
        if !(1..=600).contains(&self.code_lifetime_seconds) {
            issues.push(Issue::new(
                "knoema.code_lifetime_seconds",
                format!("{} is out of range", self.code_lifetime_seconds),
                "use 1 to 600 seconds (RFC 6749 §4.1.2 recommends at most 10 minutes)",
            ));
        }
        if !(1..=10_000).contains(&self.series_per_page) {
            issues.push(Issue::new(
                "knoema.series_per_page",
                format!("{} is out of range", self.series_per_page),
                "use 1 to 10000",
            ));
        }
        if !(1..=64 * 1024 * 1024).contains(&self.max_upload_bytes) {
            issues.push(Issue::new(
                "knoema.max_upload_bytes",
                format!("{} is out of range", self.max_upload_bytes),
                "use 1 to 67108864 bytes",
            ));
        }
        let mut app_ids = HashSet::new();
        for (i, a) in self.apps.iter().enumerate() {
            let key = format!("knoema.apps[{i}]");
            if a.app_id.is_empty() || !a.app_id.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)) {
                issues.push(
                    Issue::new(
                        format!("{key}.app_id"),
                        format!("'{}' is not an app id", a.app_id),
                        "use letters, digits, '-', '_' or '.'",
                    )
                    .near(a.app_id.clone()),
                );
            }
            if !app_ids.insert(a.app_id.as_str()) {
                issues.push(
                    Issue::new(
                        format!("{key}.app_id"),
                        format!("app '{}' is defined twice", a.app_id),
                        "give each app its own id",
                    )
                    .near(a.app_id.clone()),
                );
            }
            if a.app_secret.is_empty() {
                issues.push(Issue::new(format!("{key}.app_secret"), "empty secret", "give the app a secret"));
            }
            for (j, uri) in a.redirect_uris.iter().enumerate() {
                if !(uri.starts_with("https://") || uri.starts_with("http://")) || uri.contains('#') {
                    issues.push(
                        Issue::new(
                            format!("{key}.redirect_uris[{j}]"),
                            format!("'{uri}' is not an absolute URI without fragment"),
                            "write it as https://host/path",
                        )
                        .near(uri.clone()),
                    );
                }
            }
        }
        let mut dataset_ids = HashSet::new();
        for (i, d) in self.datasets.iter().enumerate() {
            let key = format!("knoema.datasets[{i}]");
            if !dataset_ids.insert(d.id.to_ascii_lowercase()) {
                issues.push(
                    Issue::new(
                        format!("{key}.id"),
                        format!("dataset '{}' is defined twice", d.id),
                        "give each dataset its own id",
                    )
                    .near(d.id.clone()),
                );
            }
            issues.extend(d.validate(&key));
        }
        issues
    }
}

impl Dataset {
    pub fn dimension(&self, id: &str) -> Option<(usize, &Dimension)> {
        self.dimensions.iter().enumerate().find(|(_, d)| d.id.eq_ignore_ascii_case(id))
    }

    /// A dimension by id or name (the package's `find_dimension_by_name/id`, `region` for the geo one).
    pub fn find_dimension(&self, id_or_name: &str) -> Option<(usize, &Dimension)> {
        self.dimensions
            .iter()
            .enumerate()
            .find(|(_, d)| d.id.eq_ignore_ascii_case(id_or_name) || d.name.eq_ignore_ascii_case(id_or_name))
            .or_else(|| {
                if id_or_name.eq_ignore_ascii_case("region") {
                    self.dimensions.iter().enumerate().find(|(_, d)| d.is_geo)
                } else {
                    None
                }
            })
    }

    /// Index of the member a series or row names, per dimension (validated at load).
    pub fn member_indexes(&self, dims: &BTreeMap<String, String>) -> Option<Vec<usize>> {
        self.dimensions
            .iter()
            .map(|d| {
                let wanted = dims.iter().find(|(k, _)| k.eq_ignore_ascii_case(&d.id)).map(|(_, v)| v)?;
                d.members.iter().position(|m| m.id.eq_ignore_ascii_case(wanted))
            })
            .collect()
    }

    fn validate(&self, key: &str) -> Vec<Issue> {
        let mut issues = Vec::new();
        if self.id.is_empty() || !self.id.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)) {
            issues.push(
                Issue::new(
                    format!("{key}.id"),
                    format!("'{}' is not a dataset id", self.id),
                    "use letters, digits, '-', '_' or '.'",
                )
                .near(self.id.clone()),
            );
        }
        for date in [&self.publication_date, &self.last_updated_on].into_iter().flatten() {
            if chrono::DateTime::parse_from_rfc3339(date).is_err() {
                issues.push(
                    Issue::new(key.to_string(), format!("'{date}' is not a date-time"), "write 2024-10-22T00:00:00Z")
                        .near(date.clone()),
                );
            }
        }
        if self.dimensions.is_empty() {
            issues.push(Issue::new(
                format!("{key}.dimensions"),
                "a dataset needs at least one dimension",
                "add [[knoema.datasets.dimensions]]",
            ));
        }
        for (j, dim) in self.dimensions.iter().enumerate() {
            let dkey = format!("{key}.dimensions[{j}]");
            let mut ids = HashSet::new();
            let mut keys = HashSet::new();
            let mut previous_level = None;
            for m in &dim.members {
                if !ids.insert(m.id.to_ascii_lowercase()) {
                    issues.push(
                        Issue::new(
                            format!("{dkey}.members"),
                            format!("member id '{}' is used twice", m.id),
                            "give each member its own id",
                        )
                        .near(m.id.clone()),
                    );
                }
                if !keys.insert(m.key) {
                    issues.push(Issue::new(
                        format!("{dkey}.members"),
                        format!("member key {} is used twice", m.key),
                        "give each member its own key",
                    ));
                }
                let fits = match previous_level {
                    None => m.level == 0,
                    Some(p) => m.level <= p + 1,
                };
                if !fits {
                    issues.push(
                        Issue::new(
                            format!("{dkey}.members"),
                            format!("member '{}' is at level {} without a parent above it", m.id, m.level),
                            "list members in hierarchy order, children right after their parent",
                        )
                        .near(m.id.clone()),
                    );
                }
                previous_level = Some(m.level);
            }
        }
        for (j, s) in self.series.iter().enumerate() {
            let skey = format!("{key}.series[{j}]");
            if self.kind == DatasetKind::Flat {
                issues.push(Issue::new(
                    skey.clone(),
                    "a Flat dataset has rows, not series",
                    "use [[knoema.datasets.rows]] or type = \"Regular\"",
                ));
            }
            if self.member_indexes(&s.dims).is_none() || s.dims.len() != self.dimensions.len() {
                issues.push(Issue::new(
                    format!("{skey}.dims"),
                    "does not name one existing member of every dimension",
                    "give a member id for each dimension id",
                ));
            }
            if Frequency::parse(&s.frequency).is_none() {
                issues.push(
                    Issue::new(
                        format!("{skey}.frequency"),
                        format!("'{}' is not a frequency", s.frequency),
                        "use A, H, Q, M, W or D",
                    )
                    .near(s.frequency.clone()),
                );
            }
            if parse_day(&s.start).is_none() {
                issues.push(
                    Issue::new(format!("{skey}.start"), format!("'{}' is not a date", s.start), "write YYYY-MM-DD")
                        .near(s.start.clone()),
                );
            }
            if s.values.is_empty() || s.values.len() > 100_000 {
                issues.push(Issue::new(
                    format!("{skey}.values"),
                    "a series needs 1 to 100000 values",
                    "use nan for a missing value",
                ));
            }
            for name in s.attributes.keys() {
                if !self.timeseries_attributes.contains(name) {
                    issues.push(
                        Issue::new(
                            format!("{skey}.attributes"),
                            format!("'{name}' is not one of timeseries_attributes"),
                            "declare it in the dataset's timeseries_attributes",
                        )
                        .near(name.clone()),
                    );
                }
            }
        }
        for (j, c) in self.columns.iter().enumerate() {
            if !COLUMN_TYPES.contains(&c.kind.as_str()) {
                issues.push(
                    Issue::new(
                        format!("{key}.columns[{j}].type"),
                        format!("'{}' is not a column type", c.kind),
                        "use Number, Date or String",
                    )
                    .near(c.kind.clone()),
                );
            }
        }
        for (j, r) in self.rows.iter().enumerate() {
            let rkey = format!("{key}.rows[{j}]");
            if self.kind == DatasetKind::Regular {
                issues.push(Issue::new(
                    rkey.clone(),
                    "a Regular dataset has series, not rows",
                    "use [[knoema.datasets.series]] or type = \"Flat\"",
                ));
            }
            if self.member_indexes(&r.dims).is_none() || r.dims.len() != self.dimensions.len() {
                issues.push(Issue::new(
                    format!("{rkey}.dims"),
                    "does not name one existing member of every dimension",
                    "give a member id for each dimension id",
                ));
            }
            for name in r.values.keys() {
                if !self.columns.iter().any(|c| &c.id == name) {
                    issues.push(
                        Issue::new(
                            format!("{rkey}.values"),
                            format!("'{name}' is not a column"),
                            "declare it in [[knoema.datasets.columns]]",
                        )
                        .near(name.clone()),
                    );
                }
            }
        }
        issues
    }
}
