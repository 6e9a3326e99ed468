//! The expected-failures file: checks a project knows its client fails, with the reason, so CI
//! stays green on known gaps and turns red on new ones.
//!
//! ```toml
//! [[expected]]
//! scenario = "kalibrate/robustness-token-429"
//! check = "common.honours-retry-after"
//! reason = "retry policy lands in v2 (ticket 123)"
//! ```

use std::path::Path;

use mock_server::fixtures::{toml_problem, ConfigError};
use serde::Deserialize;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectedFailures {
    #[serde(default)]
    pub expected: Vec<Expected>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expected {
    pub scenario: String,
    pub check: String,
    #[serde(default)]
    pub reason: String,
}

impl ExpectedFailures {
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: name.clone(),
            problems: vec![mock_server::fixtures::Problem {
                line: None,
                key: String::new(),
                message: format!("cannot read: {e}"),
                hint: "check the path given to --expected-failures".into(),
            }],
        })?;
        toml::from_str(&text).map_err(|e| ConfigError { file: name, problems: vec![toml_problem(&text, &e)] })
    }

    pub fn find(&self, scenario: &str, check: &str) -> Option<&Expected> {
        self.expected.iter().find(|e| e.scenario == scenario && e.check == check)
    }
}
