//! Starting a server: fixtures, TLS material, the default namespace assembled, listeners bound
//! (the plain HTTP, HTTPS and mTLS listeners, each service's dedicated listener, the MQTT
//! broker's), and the endpoints document that says where everything ended up when ports were
//! picked by the system.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use anyhow::{Context, Result};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::banner::banner;
use super::options::{parse_san, Listen, Options};
use crate::assembly::{self, Assembled, Shared};
use crate::contract::ListenerKind;
use crate::endpoints::{display_addr, Endpoints};
use crate::front::handler::handler;
use crate::front::listener::serve;
use crate::front::proxy::{OwnListener, Proxy};
use crate::front::route::Dedicated;
use crate::front::run_selection;
use crate::namespace::Namespace;
use crate::providers::{self, Built};
use crate::runs::Runs;
use crate::tls::{CertAuthority, TlsSetup};
use crate::tokens::KeyRing;

/// A running server. Dropping it tells it to stop; [`Running::shutdown`] also waits.
pub struct Running {
    pub endpoints: Endpoints,
    pub runs: Arc<Runs>,
    /// The default namespace's providers, for the banner.
    providers: Vec<Built>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    temp_dir: Option<PathBuf>,
}

pub async fn start(options: Options) -> Result<Running> {
    crate::tls::crypto_provider();
    let fixtures = providers::parse_fixtures(&options.fixtures.name(), &options.fixtures.text()?)?;

    let (ca, ca_path, temp_dir) = match &options.certs_dir {
        Some(dir) => {
            std::fs::create_dir_all(dir).with_context(|| format!("creating certs directory {}", dir.display()))?;
            let dir = dir.canonicalize()?;
            (CertAuthority::load_or_create(&dir)?, dir.join("ca.pem"), None)
        }
        None => {
            let ca = CertAuthority::ephemeral()?;
            let dir =
                std::env::temp_dir().join(format!("mock-server-{}-{:08x}", std::process::id(), rand::random::<u32>()));
            std::fs::create_dir_all(&dir)?;
            std::fs::write(dir.join("ca.pem"), &ca.cert_pem)?;
            (ca, dir.join("ca.pem"), Some(dir))
        }
    };
    let certs_dir = options.certs_dir.as_ref().map(|d| d.canonicalize()).transpose()?;
    let tls = TlsSetup::new(ca, ca_path.clone(), &certificate_names(&options)?, certs_dir.as_deref())?;
    let keys = Arc::new(KeyRing::new(certs_dir));
    let ns = Arc::new(
        Namespace::new(
            None,
            fixtures,
            options.fixtures.clone(),
            providers::parse_fixtures,
            Arc::new(tls),
            keys.clone(),
        )
        .recording_bodies(options.journal_bodies),
    );

    let (shutdown, signal) = watch::channel(false);
    let proxy = Arc::new(Proxy::new(&ns.tls, signal.clone()));
    let shared = Arc::new(Shared {
        proxy: proxy.clone(),
        started: std::time::Instant::now(),
        mqtt: OnceLock::new(),
        shutdown: signal.clone(),
        condition: Arc::default(),
    });
    let Assembled { door, providers: built } = assembly::assemble(ns.clone(), &shared)?;
    let runs = Arc::new(Runs::new(door, shared.clone(), options.max_runs));
    let dedicated = dedicated_listeners(&options)?;
    let http = bind(options.http, "HTTP").await?;
    let https = bind(options.https, "HTTPS").await?;
    let mtls = bind(options.mtls, "mTLS").await?;
    let mqtt = match assembly::mqtt_authority(&built) {
        Some(authority) => Some(
            crate::mqtt::start(ns.clone(), authority, &options.mqtt, shared.condition.clone(), signal.clone()).await?,
        ),
        None => None,
    };

    let base = |l: &TcpListener, scheme: &str| -> Result<String> {
        Ok(format!("{scheme}://{}", display_addr(l.local_addr()?)))
    };
    let (http_url, https_url, mtls_url) = (base(&http, "http")?, base(&https, "https")?, base(&mtls, "https")?);
    let mut own = Vec::new();
    for (target, addr, tls) in dedicated {
        let key = format!("{}.{}", target.0 .0, target.0 .1);
        let listener = bind(addr, &format!("{key} dedicated")).await?;
        let url = base(&listener, if tls { "https" } else { "http" })?;
        own.push((key, target, listener, tls, url));
    }
    let services = providers::service_keys()
        .map(|(provider, spec)| {
            let key = format!("{provider}.{}", spec.name);
            if let Some((.., url)) = own.iter().find(|(k, ..)| *k == key) {
                return (key, url.clone());
            }
            let root = match spec.listeners[0] {
                ListenerKind::Http => &http_url,
                ListenerKind::Https => &https_url,
                ListenerKind::Mtls => &mtls_url,
            };
            (key, format!("{root}/{provider}/{}", spec.name))
        })
        .collect();
    let endpoints = Endpoints {
        admin: format!("{http_url}/__admin"),
        http: http_url.clone(),
        https: https_url,
        mtls: mtls_url,
        ca: ca_path.display().to_string(),
        services,
        mqtt: mqtt.as_ref().map(|m| m.endpoints.clone()),
        proxy: http_url.clone(),
        run: None,
    };
    keys.check_saved()?;
    ns.set_endpoints(endpoints.clone());
    let mut own_listeners = vec![
        OwnListener { addr: http.local_addr()?, kind: ListenerKind::Http, dedicated: None },
        OwnListener { addr: https.local_addr()?, kind: ListenerKind::Https, dedicated: None },
        OwnListener { addr: mtls.local_addr()?, kind: ListenerKind::Mtls, dedicated: None },
    ];
    for (_, target, listener, tls, _) in &own {
        let kind = if *tls { ListenerKind::Https } else { ListenerKind::Http };
        own_listeners.push(OwnListener { addr: listener.local_addr()?, kind, dedicated: Some(*target) });
    }
    let real_hosts = providers::service_keys().flat_map(|(_, spec)| spec.hosts.iter().map(|h| (*h, spec.listeners)));
    proxy.set_routes(real_hosts, own_listeners);

    let front_door = {
        let runs = runs.clone();
        handler(move |req| run_selection::handle(runs.clone(), req))
    };
    let mut tasks = Vec::new();
    for (_, target, listener, tls, _) in own {
        let runs = runs.clone();
        let at_root = handler(move |mut req| {
            req.extensions_mut().insert(target);
            run_selection::handle(runs.clone(), req)
        });
        let (kind, config) =
            if tls { (ListenerKind::Https, Some(ns.tls.server_config.clone())) } else { (ListenerKind::Http, None) };
        tasks.push(tokio::spawn(serve(listener, kind, config, at_root, options.connections, signal.clone())));
    }
    tasks.extend([
        tokio::spawn(serve(http, ListenerKind::Http, None, front_door.clone(), options.connections, signal.clone())),
        tokio::spawn(serve(
            https,
            ListenerKind::Https,
            Some(ns.tls.server_config.clone()),
            front_door.clone(),
            options.connections,
            signal.clone(),
        )),
        tokio::spawn(serve(
            mtls,
            ListenerKind::Mtls,
            Some(ns.tls.mtls_config.clone()),
            front_door,
            options.connections,
            signal,
        )),
    ]);
    if let Some(mqtt) = mqtt {
        let _ = shared.mqtt.set(mqtt.hub);
        tasks.extend(mqtt.tasks);
    }
    Ok(Running { endpoints, runs, providers: built, shutdown, tasks, temp_dir })
}

/// The names the server certificate holds: loopback, every TLS listener's address, every real
/// hostname a service answers for, and the names asked for (`options.san`), each once. A name
/// asked for that is neither a DNS name nor an address is an error that names it.
fn certificate_names(options: &Options) -> Result<Vec<String>> {
    let mut names: Vec<String> = vec!["localhost".into(), "127.0.0.1".into(), "::1".into()];
    let mut add = |name: String| {
        if !names.contains(&name) {
            names.push(name);
        }
    };
    let dedicated_ips = options.listen.values().filter_map(|l| match l {
        Listen::At { addr, .. } => Some(*addr),
        Listen::Off => None,
    });
    for addr in [options.http, options.https, options.mtls, options.mqtt.tls].into_iter().chain(dedicated_ips) {
        if !addr.ip().is_unspecified() {
            add(addr.ip().to_string());
        }
    }
    providers::hostnames().into_iter().for_each(|host| add(host.to_owned()));
    for name in &options.san {
        add(parse_san(name).map_err(|e| anyhow::anyhow!("server certificate name (--san): {e}"))?);
    }
    Ok(names)
}

/// The dedicated listeners to bind: those the services declare, moved, turned off or added by
/// `options.listen`. A key that names no service is an error that lists the services.
fn dedicated_listeners(options: &Options) -> Result<Vec<(Dedicated, SocketAddr, bool)>> {
    let mut planned: BTreeMap<String, (Dedicated, Listen)> = BTreeMap::new();
    for (provider, spec) in providers::service_keys() {
        if let Some(mut addr) = spec.dedicated {
            if options.dedicated_on_free_ports {
                addr.set_port(0);
            }
            let key = format!("{provider}.{}", spec.name);
            planned.insert(key, (Dedicated((provider, spec.name)), Listen::At { addr, tls: false }));
        }
    }
    for (key, listen) in &options.listen {
        let Some((provider, spec)) = providers::service_key(key) else {
            let known: Vec<String> = providers::service_keys().map(|(p, s)| format!("{p}.{}", s.name)).collect();
            anyhow::bail!("--listen {key}=...: there is no service '{key}'; services are {}", known.join(", "));
        };
        planned.insert(key.clone(), (Dedicated((provider, spec.name)), *listen));
    }
    Ok(planned
        .into_values()
        .filter_map(|(target, listen)| match listen {
            Listen::Off => None,
            Listen::At { addr, tls } => Some((target, addr, tls)),
        })
        .collect())
}

async fn bind(addr: SocketAddr, what: &str) -> Result<TcpListener> {
    TcpListener::bind(addr).await.with_context(|| {
        format!(
            "cannot bind the {what} listener to {addr}: is another server running there? Pick another address, or port 0 for any free one"
        )
    })
}

impl Running {
    /// The server's default namespace.
    pub fn namespace(&self) -> &Arc<Namespace> {
        self.runs.default.namespace()
    }

    /// Stops accepting, lets open requests finish, and waits for the listeners to close.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        for task in self.tasks.drain(..) {
            let _ = task.await;
        }
    }

    /// Writes the endpoints document atomically, so a reader never sees half of it.
    pub fn write_endpoints_file(&self, path: &Path) -> Result<()> {
        self.endpoints.write_file(path)
    }

    /// The start-up banner: listeners, service URLs, demo credentials.
    pub fn banner(&self) -> String {
        banner(&self.endpoints, self.runs.limit(), &self.providers)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        if let Some(dir) = &self.temp_dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}
