//! `conformance`: certifies a client implementation of a provider's API. It runs scenario
//! suites against `mock-server`: for each scenario it resets the server, arms faults and clock
//! steps, runs the client command with a documented environment and a time limit, then judges
//! the client by named checks over the server's journal. Reports: console, JSON, JUnit XML
//! and an HTML certification report.
//!
//! The files stand on floors, top to bottom; a file imports only from its own floor (without a
//! circle) or from floors below (`scripts/layers.py` checks both):
//!
//! 1. `main.rs`, `lib.rs`: the command line and the library's entry points.
//! 2. `report.rs`, `checks.rs`: what a user reads: a run's reports, the list of checks.
//! 3. `runner.rs`, `judge.rs`, `results.rs`, `target.rs`, `client.rs`, `expected.rs`: running
//!    a suite against the server and judging the client.
//! 4. `scenario/`, `certificate.rs`: the scenario files and the client certificate they set up.
//! 5. `registry.rs`: every provider and every check, read off the table of providers.
//! 6. `providers/`, `common_checks/`: the table of providers (`providers/mod.rs`, one line
//!    each), each provider's profile and checks in its folder, and the checks every provider
//!    shares.
//! 7. `contract/`: what a check is and reads, knowing no provider and no scenario file.

pub mod checks;
pub mod html_report;
pub mod report;

pub(crate) mod client;
pub mod expected;
pub(crate) mod judge;
pub(crate) mod results;
pub mod runner;
pub mod target;

pub(crate) mod certificate;
pub mod scenario;

pub mod registry;

pub(crate) mod common_checks;
pub(crate) mod providers;

pub(crate) mod contract;

pub use results::SuiteResult;
pub use runner::{run_suite, RunOptions};
pub use scenario::{load_scenarios, Scenario};
