//! The broker: the engine started once, the default namespace's listeners on the configured
//! addresses, and the hub through which every run gets listeners of its own (on free ports)
//! in front of the same engine.

use std::sync::Arc;

use anyhow::Result;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::engine::{Engine, EngineLinks, Failed, Publisher};
use super::listeners::{Bound, Limits};
use super::options::MqttOptions;
use super::relay::Gate;
use super::relay::SERVICE;
use super::space::Space;
use crate::condition::Condition;
use crate::contract::Authority;
use crate::endpoints::MqttEndpoints;
use crate::journal::{EventKind, Origin};
use crate::namespace::Namespace;

/// A running gate and engine.
pub struct MqttRunning {
    pub endpoints: MqttEndpoints,
    pub tasks: Vec<JoinHandle<()>>,
    /// For more namespaces in front of the same engine.
    pub hub: MqttHub,
}

/// What a namespace needs to get MQTT listeners of its own in front of the server's engine.
#[derive(Clone)]
pub struct MqttHub {
    engine: EngineLinks,
    publisher: Publisher,
    tls: Arc<rustls::ServerConfig>,
    limits: Limits,
    /// The server's options, with every port 0.
    options: MqttOptions,
}

impl MqttHub {
    /// Binds TCP, TLS and WebSocket listeners on free ports (on the server's MQTT addresses)
    /// for a namespace whose `authority` judges its clients, under `space` in the engine. They
    /// stop when `shutdown` turns true or its sender is gone.
    pub async fn open(
        &self,
        ns: Arc<Namespace>,
        authority: Arc<dyn Authority>,
        space: Space,
        shutdown: watch::Receiver<bool>,
    ) -> Result<(MqttEndpoints, Vec<JoinHandle<()>>)> {
        let bound = Bound::bind(&self.options).await?;
        let endpoints = bound.endpoints()?;
        authority.attach(Arc::new(self.publisher.within(space.clone())));
        let gate = Arc::new(Gate::new(ns, authority, space, &self.engine, &self.options));
        Ok((endpoints, bound.spawn(gate, self.tls.clone(), self.limits.for_namespace(), shutdown)))
    }
}

/// Binds the public listeners, starts the engine and the accept loops. A part of the engine
/// that stops is recorded in `condition` and journaled in `ns`.
pub async fn start(
    ns: Arc<Namespace>,
    authority: Arc<dyn Authority>,
    options: &MqttOptions,
    condition: Arc<Condition>,
    shutdown: watch::Receiver<bool>,
) -> Result<MqttRunning> {
    let bound = Bound::bind(options).await?;
    let failed = reporter(ns.clone(), authority.provider(), condition);
    let engine = Engine::start(options.max_packet_bytes, options.max_connections, failed, shutdown.clone());
    authority.attach(Arc::new(engine.publisher.clone()));
    let endpoints = bound.endpoints()?;
    let mut tls = (*ns.tls.server_config).clone();
    // Our HTTPS listener offers h2/http1.1; MQTT clients offer "mqtt" or nothing.
    tls.alpn_protocols = Vec::new();
    let tls = Arc::new(tls);
    let limits = Limits::new(options);
    let gate = Arc::new(Gate::new(ns, authority, Space::default_namespace(), &engine.links, options));
    let mut tasks = bound.spawn(gate, tls.clone(), limits.clone(), shutdown);
    let mut free = options.clone();
    for addr in [&mut free.tcp, &mut free.tls, &mut free.ws] {
        addr.set_port(0);
    }
    let hub = MqttHub { engine: engine.links.clone(), publisher: engine.publisher.clone(), tls, limits, options: free };
    tasks.extend(engine.tasks);
    Ok(MqttRunning { endpoints, tasks, hub })
}

/// Where the engine's failures go: the server's condition (health turns red), the log and the
/// journal of `ns`, once each.
fn reporter(ns: Arc<Namespace>, provider: &'static str, condition: Arc<Condition>) -> Failed {
    Arc::new(move |component: &str, reason: String| {
        if condition.failed(component, &reason) {
            tracing::error!(component, "the MQTT engine failed: {reason}");
            ns.record(
                Origin::new(provider, SERVICE),
                EventKind::ServerFailed { component: component.to_owned(), reason },
            );
        }
    })
}
