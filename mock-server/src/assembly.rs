//! A namespace assembled: its providers built in it, its admin API, the door its requests go
//! through, and (for a run) MQTT listeners of its own in front of the server's one broker. The
//! server assembles its default namespace this way at start, and `runs.rs` every run.

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use tokio::sync::watch;

use crate::admin::{self, AdminState};
use crate::condition::Condition;
use crate::contract::Authority;
use crate::endpoints::Endpoints;
use crate::front::door::Door;
use crate::front::proxy::Proxy;
use crate::front::route::Services;
use crate::mqtt::{stopped, MqttHub, Space};
use crate::namespace::Namespace;
use crate::providers::{self, Built};

/// What every namespace of a server shares.
pub struct Shared {
    pub proxy: Arc<Proxy>,
    /// When the server started (for `GET /__admin/health`).
    pub started: Instant,
    /// Where runs get their MQTT listeners, once the server's broker is up.
    pub mqtt: OnceLock<MqttHub>,
    /// The server's shutdown signal: runs' MQTT listeners stop with it.
    pub shutdown: watch::Receiver<bool>,
    /// What has stopped (for `GET /__admin/health`, in every namespace).
    pub condition: Arc<Condition>,
}

/// A namespace's door, and the providers behind it.
pub struct Assembled {
    pub door: Arc<Door>,
    pub providers: Vec<Built>,
}

/// Builds the providers of `ns`, its admin API and its door.
pub fn assemble(ns: Arc<Namespace>, shared: &Shared) -> anyhow::Result<Assembled> {
    let providers = providers::build_all(&ns)?;
    let admin =
        admin::router(AdminState { ns: ns.clone(), started: shared.started, condition: shared.condition.clone() });
    let services = Services::new(
        providers.iter().flat_map(|built| built.provider.clone().services().into_iter().map(|s| (built.name, s))),
    );
    let door = Arc::new(Door::new(ns, services, admin, shared.proxy.clone()));
    Ok(Assembled { door, providers })
}

/// The provider that answers on the MQTT listeners, if one does.
pub fn mqtt_authority(providers: &[Built]) -> Option<Arc<dyn Authority>> {
    providers.iter().find_map(|built| built.provider.clone().mqtt_authority())
}

/// Why a run could not be assembled.
pub enum RunFailure {
    Build(anyhow::Error),
    Listeners(anyhow::Error),
}

/// Run `id` in `ns`: assembled, with MQTT listeners of its own (stopped by `stop`, or with the
/// server) and its endpoints, those of the server (`server`) as the run sees them.
pub async fn run(
    ns: Arc<Namespace>,
    id: &str,
    server: Option<&Endpoints>,
    shared: &Shared,
    stop: &Arc<watch::Sender<bool>>,
) -> Result<Arc<Door>, RunFailure> {
    let assembled = assemble(ns.clone(), shared).map_err(RunFailure::Build)?;
    let mut endpoints = server.map(|server| server.for_run(id));
    if let (Some(hub), Some(authority)) = (shared.mqtt.get(), mqtt_authority(&assembled.providers)) {
        let (mqtt, _tasks) =
            hub.open(ns.clone(), authority, Space::run(id), stop.subscribe()).await.map_err(RunFailure::Listeners)?;
        if let Some(endpoints) = endpoints.as_mut() {
            endpoints.mqtt = Some(mqtt);
        }
        tokio::spawn(stop_with_server(stop.clone(), shared.shutdown.clone()));
    }
    if let Some(endpoints) = endpoints {
        ns.set_endpoints(endpoints);
    }
    Ok(assembled.door)
}

/// Tells a run's listeners to stop when the server stops; ends by itself once they are gone.
async fn stop_with_server(stop: Arc<watch::Sender<bool>>, mut server: watch::Receiver<bool>) {
    tokio::select! {
        _ = stopped(&mut server) => {
            let _ = stop.send(true);
        }
        _ = stop.closed() => {}
    }
}
