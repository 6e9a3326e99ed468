//! A scenario as the runner uses it, once its file is validated: its action, its setup (taken
//! as the file writes it) and its checks with their parameters.

use std::collections::BTreeMap;
use std::path::PathBuf;

use mock_server::FaultRule;
use serde::Deserialize;

use crate::certificate::CertificateSetup;
use crate::contract::{ExitExpectation, Params};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Suite {
    Basic,
    Robustness,
    Security,
}

impl Suite {
    pub fn name(self) -> &'static str {
        match self {
            Suite::Basic => "basic",
            Suite::Robustness => "robustness",
            Suite::Security => "security",
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    pub exit: ExitExpectation,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Setup {
    /// Fixtures (TOML) served for this scenario instead of the server's own.
    pub fixtures: Option<String>,
    /// TOML merged into the fixtures (after `fixtures`), placeholders
    /// `{client_cert_thumbprint}` and `{client_cert_serial}` replaced first.
    pub fixtures_patch: Option<String>,
    /// How the run's client certificate is made (default: signed by the dev CA, 365 days).
    #[serde(default)]
    pub client_certificate: CertificateSetup,
    #[serde(default)]
    pub faults: Vec<FaultRule>,
    pub clock: Option<ClockStep>,
    /// Overrides of the client's environment.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClockStep {
    pub advance_seconds: i64,
}

#[derive(Debug, Clone)]
pub struct CheckUse {
    pub name: String,
    pub params: Params,
}

#[derive(Debug, Clone)]
pub struct Scenario {
    /// `<provider>/<file stem>`, e.g. `kalibrate/robustness-token-503`.
    pub id: String,
    pub file: PathBuf,
    pub title: String,
    pub description: String,
    pub provider: String,
    pub suite: Suite,
    pub action: String,
    /// The action's parameters, exported as `CONFORMANCE_<NAME>`.
    pub action_params: BTreeMap<String, String>,
    pub timeout_seconds: f64,
    pub expect: Expect,
    pub setup: Setup,
    pub checks: Vec<CheckUse>,
}
