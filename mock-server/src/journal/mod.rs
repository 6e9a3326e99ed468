//! The journal: a bounded, in-memory record of every HTTP exchange and of the domain events
//! handlers report (token issued, request rejected with its reason, data written...). The admin
//! API, the conformance checks, the Rust API and the logs all read these same events; every
//! writer goes through `Namespace::record`.

mod event;
mod events;
mod exchange_scope;
mod filter;
pub(crate) mod redact;
mod store;

pub use event::{Event, EventKind, Exchange, Origin};
pub use events::Events;
pub use exchange_scope::{current_exchange, new_exchange, within_exchange};
pub use filter::EventFilter;
pub use store::{Following, Journal, JournalSettings, Notice, MAX_FOLLOWERS};
