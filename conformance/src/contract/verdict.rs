//! What a check answers: an outcome, a message, and the journal events that decided it
//! (secrets already redacted there).

use serde::Serialize;
use serde_json::Value;

use super::events::EventView;

/// What one check concluded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Pass,
    Violated,
    /// The situation the check is about did not arise (e.g. no 429 was served).
    NotApplicable,
}

#[derive(Debug, Clone)]
pub struct Verdict {
    pub outcome: Outcome,
    pub message: String,
    /// The events that decided it (at most a handful).
    pub evidence: Vec<Value>,
}

impl Verdict {
    pub fn pass(message: impl Into<String>) -> Self {
        Verdict { outcome: Outcome::Pass, message: message.into(), evidence: Vec::new() }
    }
    pub fn violated(message: impl Into<String>) -> Self {
        Verdict { outcome: Outcome::Violated, message: message.into(), evidence: Vec::new() }
    }
    pub fn not_applicable(message: impl Into<String>) -> Self {
        Verdict { outcome: Outcome::NotApplicable, message: message.into(), evidence: Vec::new() }
    }
    pub fn with<'a>(mut self, events: impl IntoIterator<Item = &'a EventView>) -> Self {
        self.evidence.extend(events.into_iter().take(MAX_EVIDENCE).map(|e| e.0.clone()));
        self
    }
}

const MAX_EVIDENCE: usize = 6;
