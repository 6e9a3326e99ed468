//! Scenarios: TOML files under `conformance/scenarios/<provider>/`, one scenario per file.
//!
//! ```toml
//! title = "The token endpoint answers 503 with Retry-After once"
//! provider = "kalibrate"
//! suite = "robustness"                    # basic | robustness | security
//! action = { name = "status", calls = 2 } # CONFORMANCE_ACTION=status, CONFORMANCE_CALLS=2
//! timeout_seconds = 10
//! expect = { exit = "success" }            # or "failure"
//!
//! [setup]
//! fixtures = """..."""                     # optional TOML replacing the server's fixtures
//! fixtures_patch = """[opinum]\ntoken_lifetime_seconds = 2"""  # merged into them instead;
//!                                          # {client_cert_thumbprint} / {client_cert_serial} are
//!                                          # replaced by the run's client certificate's
//! client_certificate = { issuer = "self-signed" }  # default: signed by the dev CA
//! clock = { advance_seconds = 0 }          # a step before the client starts
//! env = { KALIBRATE_CLIENT_SECRET = "wrong" }
//! [[setup.faults]]                         # mock-server fault rules; advance_clock_seconds
//! service = "login"                        # steps the clock while the client runs
//! action = { status = 503, headers = { Retry-After = "1" } }
//!
//! [[checks]]
//! name = "common.honours-retry-after"      # plus the check's parameters
//! ```
//! A file that does not parse or names an unknown check, parameter or action is reported with
//! its file, line, key and a fix, before anything runs.

mod load;
mod model;
mod parse;
mod select;

pub use load::load_scenarios;
pub use model::{CheckUse, ClockStep, Expect, Scenario, Setup, Suite};
pub use parse::{parse, patch_table};
pub use select::select;
