//! The check contract: what a check is, what it reads of a run and what it answers, and what a
//! provider registers. It knows no provider and no scenario file, so a provider's folder needs
//! nothing else of the crate, and the scenario loader and the runner build on it.

mod check;
mod client_exit;
mod endpoints;
mod events;
mod params;
mod profile;
mod provider;
mod run;
mod verdict;

pub use check::{Check, Severity};
pub use client_exit::{ClientExit, ExitExpectation};
pub use endpoints::{listener_root, service_url};
pub use events::EventView;
pub use params::{ParamSpec, Params};
pub use profile::{Profile, SUBJECT_VAR};
pub use provider::Provider;
pub use run::Run;
pub use verdict::{Outcome, Verdict};
