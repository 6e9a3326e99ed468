//! The contract between the server and its providers: what a provider declares and offers
//! (`Provider`, `ProviderKind`, its `ServiceSpec`s and routers; an MQTT `Authority`), and what
//! the front door and the MQTT gate hand it in return (a request's `ServiceRoute` and
//! `ConnInfo`, an authenticated `Session`, a `Publisher`). Providers import this floor and the
//! machinery below it, never the front door, the gate or each other.

mod http;
mod mqtt;
mod provider;
pub mod topics;

pub use http::{json_response, ConnInfo, ListenerKind, Service, ServiceRoute, ServiceSpec};
pub use mqtt::{Authority, Credentials, Publisher, Received, Refusal, Session};
pub use provider::{Provider, ProviderKind};
