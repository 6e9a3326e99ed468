//! The providers. Each lives in its own folder, exposes its services (real hostnames, a router
//! at the real paths, the listeners it is served on) and owns its runtime state. This file is
//! the registry: the only shared place that knows which providers exist.

use std::sync::Arc;

use axum::Router;
use serde::{Deserialize, Serialize};

use crate::config::Issue;
use crate::journal::JournalSettings;
use crate::serve::ListenerKind;
use crate::state::Core;

pub mod kalibrate;
pub mod opinum;

/// Everything a fixtures file may contain.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fixtures {
    #[serde(default)]
    pub journal: JournalSettings,
    #[serde(default)]
    pub kalibrate: kalibrate::Fixtures,
    #[serde(default)]
    pub opinum: opinum::Fixtures,
}

impl Fixtures {
    pub fn validate(&self) -> Vec<Issue> {
        let mut issues = self.journal.validate();
        issues.extend(self.kalibrate.validate());
        issues.extend(self.opinum.validate());
        issues
    }

    /// What the fixtures hold, a phrase per provider, for `check-config`.
    pub fn summary(&self) -> Vec<String> {
        vec![self.kalibrate.summary(), self.opinum.summary()]
    }

    /// Every client secret, password and key in the fixtures: the journal notes when one of
    /// them travels where it should not (a URL, a header), without recording it.
    pub fn secrets(&self) -> Vec<&str> {
        let mut secrets = self.kalibrate.secrets();
        secrets.extend(self.opinum.secrets());
        secrets
    }
}

/// One service of a provider, e.g. Kalibrate's Azure AD login.
pub struct Service {
    /// Short name: the service key is `{provider}.{name}` (`kalibrate.login`).
    pub name: &'static str,
    /// Real hostnames: a request with one of these in its Host header reaches this service.
    pub hosts: &'static [&'static str],
    /// Listeners it is served on; the first one gives its URL in the endpoints file.
    pub listeners: &'static [ListenerKind],
    /// Routes at the real paths, with the provider's own fallback for unknown paths.
    pub router: Router,
}

pub trait Provider: Send + Sync {
    fn name(&self) -> &'static str;
    /// Its services; the routers share the provider as their state.
    fn services(self: Arc<Self>) -> Vec<Service>;
    /// Forgets runtime state (issued tokens, written data): part of `POST /__admin/reset`.
    fn reset(&self);
    /// Lines for the start-up banner: demo credentials and how to use them.
    fn banner(&self, fixtures: &Fixtures) -> Vec<String>;
}

/// Every real hostname of every provider, for the server certificate.
pub fn hostnames() -> Vec<&'static str> {
    let mut names = kalibrate::HOSTNAMES.to_vec();
    names.extend(opinum::HOSTNAMES);
    names
}

/// Builds every provider.
pub fn build(core: &Arc<Core>) -> anyhow::Result<Vec<Arc<dyn Provider>>> {
    Ok(vec![
        Arc::new(kalibrate::Kalibrate::new(core.clone())?),
        Arc::new(opinum::Opinum::new(core.clone())?),
    ])
}
