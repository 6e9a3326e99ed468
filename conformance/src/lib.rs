//! `conformance`: certifies a client implementation of a provider's API. It runs scenario
//! suites against `mock-server`: for each scenario it resets the server, arms faults and clock
//! steps, runs the client command with a documented environment and a time limit, then judges
//! the client by named checks over the server's journal. Reports: console, JSON, JUnit XML.

pub mod certificate;
pub mod checks;
pub mod client;
pub mod common_checks;
pub mod contract;
pub mod expected;
pub mod judge;
pub mod providers;
pub mod registry;
pub mod report;
pub mod results;
pub mod runner;
pub mod scenario;
pub mod target;

pub use results::SuiteResult;
pub use runner::{run_suite, RunOptions};
pub use scenario::{load_scenarios, Scenario};
