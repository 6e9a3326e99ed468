//! What a provider is to the server. Each provider is a folder under `providers/` whose type
//! implements [`ProviderKind`] (what is known before anything runs: its name, its services, its
//! fixtures table, how to build it in a namespace) and [`Provider`] (what it does once built:
//! its routers, its banner lines, its MQTT authority, its reset). The registry
//! (`providers/mod.rs`) names each provider once and derives everything else from these.

use std::sync::Arc;

use super::http::{Service, ServiceSpec};
use super::mqtt::Authority;
use crate::fixtures::ProviderFixtures;
use crate::namespace::{Namespace, Reset};

/// A provider built in one namespace. `reset` (from [`Reset`]) forgets its runtime state
/// (issued tokens, written data) and reloads what it keeps from the namespace's fixtures.
pub trait Provider: Reset {
    /// Its services, one per entry of [`ProviderKind::SERVICES`], each with its router (whose
    /// state is the provider).
    fn services(self: Arc<Self>) -> Vec<Service>;
    /// Lines for the start-up banner: demo credentials and how to use them.
    fn banner(&self) -> Vec<String>;
    /// The provider that answers on the MQTT listeners (at most one does): the gate asks it
    /// about every CONNECT, SUBSCRIBE and PUBLISH.
    fn mqtt_authority(self: Arc<Self>) -> Option<Arc<dyn Authority>> {
        None
    }
}

/// What the registry knows of a provider before any namespace exists.
pub trait ProviderKind: Provider + Sized + 'static {
    /// Its name: the first part of its service keys, its fixtures table, its journal events.
    const NAME: &'static str;
    /// Its services, in the order [`Provider::services`] returns them.
    const SERVICES: &'static [ServiceSpec];
    /// Its table of the fixtures (`[kalibrate]`).
    type Fixtures: ProviderFixtures;
    /// The provider in `namespace`, its state loaded from the namespace's fixtures.
    fn build(namespace: Arc<Namespace>) -> anyhow::Result<Self>;
}
