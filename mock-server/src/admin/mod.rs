//! The admin API under `/__admin` on the plain HTTP listener: read and clear the journal, arm
//! and disarm faults, move the virtual clock, read and replace the fixtures, reset, read the
//! SMS outbox, sign CSRs, health, and the runs (`/__admin/runs`, the server's, in front of the
//! namespaces). Every answer is JSON, errors included; `openapi.json` describes it and a test
//! keeps the two in step. A run has the same API under its prefix (`/__run/{id}/__admin`).

mod certificates;
mod clock;
mod events;
mod faults;
mod fixtures;
mod health;
mod reply;
mod router;
pub mod runs;
mod sms;
mod state;
mod ui;

pub use router::router;
pub use state::AdminState;
