//! Starting a server: fixtures, TLS material, providers, listeners, and the endpoints document
//! that tells clients (and CI) where everything ended up when ports were picked by the system.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, OnceLock};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::FixturesSource;
use crate::providers::{self, Provider};
use crate::proxy::{OwnListener, Proxy};
use crate::routing::{Dedicated, Dispatcher};
use crate::runs::{Runs, World};
use crate::serve::{self, ListenerKind};
use crate::state::Core;
use crate::tls::{CertAuthority, TlsSetup};

/// How to start.
#[derive(Debug, Clone)]
pub struct Options {
    pub fixtures: FixturesSource,
    pub http: SocketAddr,
    pub https: SocketAddr,
    pub mtls: SocketAddr,
    /// Where the CA and keys are kept; `None` keeps them in memory (and writes `ca.pem` to a
    /// temporary directory so clients can still read it).
    pub certs_dir: Option<PathBuf>,
    /// Dedicated listeners by service key (`knoema.api`): moves, adds or turns off the listener
    /// where a service is served at the root (DESIGN.md routing rule 4). Services not named
    /// here keep the dedicated listener their provider declares, if any.
    pub listen: BTreeMap<String, Listen>,
    /// Bind the declared dedicated listeners on free ports (port 0) instead of their declared
    /// ports: what tests want, so parallel runs never collide.
    pub dedicated_on_free_ports: bool,
    /// The MQTT gate's public listeners (TCP, TLS, WebSocket) and bounds; port 0 picks a free port.
    pub mqtt: crate::mqtt::MqttOptions,
    /// How many runs (namespaces, `runs.rs`) may live at once; more evict the longest unused.
    pub max_runs: usize,
}

/// Where a service's dedicated listener is: `off`, `ADDR` or `http://ADDR` (plain HTTP),
/// `https://ADDR` (TLS with the dev CA's server certificate). Port 0 picks a free port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listen {
    Off,
    At { addr: SocketAddr, tls: bool },
}

impl FromStr for Listen {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("off") || s.eq_ignore_ascii_case("none") {
            return Ok(Listen::Off);
        }
        let (tls, addr) = match (s.strip_prefix("https://"), s.strip_prefix("http://")) {
            (Some(rest), _) => (true, rest),
            (None, Some(rest)) => (false, rest),
            (None, None) => (false, s),
        };
        let addr = addr.trim_end_matches('/').parse::<SocketAddr>().map_err(|e| {
            format!("'{s}' is not a listener address ({e}): write IP:PORT, http://IP:PORT, https://IP:PORT or off")
        })?;
        Ok(Listen::At { addr, tls })
    }
}

/// `SERVICE=ADDR`, as given to `--listen`.
pub fn parse_listen_arg(arg: &str) -> Result<(String, Listen), String> {
    let (service, addr) =
        arg.split_once('=').ok_or_else(|| format!("'{arg}' is not SERVICE=ADDR (e.g. knoema.api=127.0.0.1:8090)"))?;
    let service = service.trim();
    if service.split('.').count() != 2 || service.split('.').any(str::is_empty) {
        return Err(format!("'{service}' is not a service key such as knoema.api"));
    }
    Ok((service.to_owned(), addr.parse()?))
}

impl Options {
    /// Loopback, system-chosen ports, embedded fixtures, in-memory certificates.
    pub fn ephemeral() -> Self {
        let any = SocketAddr::from(([127, 0, 0, 1], 0));
        Options {
            fixtures: FixturesSource::Embedded,
            http: any,
            https: any,
            mtls: any,
            certs_dir: None,
            listen: BTreeMap::new(),
            dedicated_on_free_ports: true,
            mqtt: crate::mqtt::MqttOptions::ephemeral(),
            max_runs: crate::runs::DEFAULT_LIMIT,
        }
    }
}

/// Where everything is. Its keys are a contract (shared/DESIGN.md): tools and users read them.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Endpoints {
    pub http: String,
    pub https: String,
    pub mtls: String,
    pub admin: String,
    /// Absolute path of the dev CA certificate (PEM).
    pub ca: String,
    /// Service key (`kalibrate.login`) → the base URL a client configures instead of the real one.
    pub services: BTreeMap<String, String>,
    /// The MQTT listeners: `{"tcp": "mqtt://..", "tls": "mqtts://..", "ws": "ws://../mqtt"}`.
    #[serde(default)]
    pub mqtt: Option<crate::mqtt::MqttEndpoints>,
    /// The proxy URL for unchanged clients (`HTTPS_PROXY`, `HTTP_PROXY`): the HTTP listener;
    /// in a run, with credentials that name the run.
    #[serde(default)]
    pub proxy: String,
    /// The run these endpoints belong to; absent for the server's default namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<String>,
}

pub struct Running {
    /// The default namespace's state.
    pub core: Arc<Core>,
    pub endpoints: Endpoints,
    pub providers: Vec<Arc<dyn Provider>>,
    pub runs: Arc<Runs>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    temp_dir: Option<PathBuf>,
}

pub async fn start(options: Options) -> Result<Running> {
    crate::tls::crypto_provider();
    let fixtures = options.fixtures.load()?;

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
    let mut names: Vec<String> = vec!["localhost".into(), "127.0.0.1".into(), "::1".into()];
    let dedicated_ips = options.listen.values().filter_map(|l| match l {
        Listen::At { addr, .. } => Some(*addr),
        Listen::Off => None,
    });
    for addr in [options.http, options.https, options.mtls].into_iter().chain(dedicated_ips) {
        let ip = addr.ip();
        if !ip.is_unspecified() && !names.contains(&ip.to_string()) {
            names.push(ip.to_string());
        }
    }
    names.extend(providers::hostnames().into_iter().map(str::to_owned));
    let certs_dir = options.certs_dir.as_ref().map(|d| d.canonicalize()).transpose()?;
    let tls = TlsSetup::new(ca, ca_path.clone(), &names, certs_dir.as_deref())?;

    let core = Arc::new(Core::new(fixtures, options.fixtures.clone(), tls, certs_dir));
    let started = std::time::Instant::now();
    let (shutdown, signal) = watch::channel(false);
    let proxy = Arc::new(Proxy::new(&core.tls, signal.clone()));
    let endpoints_cell = Arc::new(OnceLock::new());
    let default = Arc::new(World::build(core.clone(), proxy.clone(), endpoints_cell.clone(), started)?);
    let providers = default.providers.clone();
    let dispatcher = default.dispatcher.clone();
    let runs = Arc::new(Runs::new(default, proxy.clone(), options.max_runs, started, signal.clone()));
    let dedicated = dedicated_listeners(&options, &providers, &dispatcher)?;
    let http = bind(options.http, "HTTP").await?;
    let https = bind(options.https, "HTTPS").await?;
    let mtls = bind(options.mtls, "mTLS").await?;
    let mqtt = match providers::mqtt_authority(&providers) {
        Some(authority) => Some(crate::mqtt::start(core.clone(), authority, &options.mqtt, signal.clone()).await?),
        None => None,
    };

    let base = |l: &TcpListener, scheme: &str| -> Result<String> {
        Ok(format!("{scheme}://{}", display_addr(l.local_addr()?)))
    };
    let (http_url, https_url, mtls_url) = (base(&http, "http")?, base(&https, "https")?, base(&mtls, "https")?);
    let mut own = Vec::new();
    for (key, addr, tls) in dedicated {
        let listener = bind(addr, &format!("{key} dedicated")).await?;
        let url = base(&listener, if tls { "https" } else { "http" })?;
        own.push((key, listener, tls, url));
    }
    let services = dispatcher
        .services()
        .into_iter()
        .map(|(key, listener, prefix)| {
            if let Some((_, _, _, url)) = own.iter().find(|(k, ..)| *k == key) {
                return (key, url.clone());
            }
            let root = match listener {
                ListenerKind::Http => &http_url,
                ListenerKind::Https => &https_url,
                ListenerKind::Mtls => &mtls_url,
            };
            (key, format!("{root}{prefix}"))
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
    let _ = endpoints_cell.set(endpoints.clone());
    let mut own_listeners = vec![
        OwnListener { addr: http.local_addr()?, kind: ListenerKind::Http, dedicated: None },
        OwnListener { addr: https.local_addr()?, kind: ListenerKind::Https, dedicated: None },
        OwnListener { addr: mtls.local_addr()?, kind: ListenerKind::Mtls, dedicated: None },
    ];
    for (key, listener, tls, _) in &own {
        let target = Dedicated(dispatcher.service_key(key).expect("checked when the listeners were planned"));
        let kind = if *tls { ListenerKind::Https } else { ListenerKind::Http };
        own_listeners.push(OwnListener { addr: listener.local_addr()?, kind, dedicated: Some(target) });
    }
    proxy.set_routes(dispatcher.real_hosts(), own_listeners);

    let handler = {
        let runs = runs.clone();
        serve::handler(move |req| runs.clone().handle(req))
    };
    let mut tasks = Vec::new();
    for (key, listener, tls, _) in own {
        let runs = runs.clone();
        let target = Dedicated(dispatcher.service_key(&key).expect("checked when the listeners were planned"));
        let handler = serve::handler(move |mut req| {
            req.extensions_mut().insert(target);
            runs.clone().handle(req)
        });
        let (kind, config) =
            if tls { (ListenerKind::Https, Some(core.tls.server_config.clone())) } else { (ListenerKind::Http, None) };
        tasks.push(tokio::spawn(serve::serve(listener, kind, config, handler, signal.clone())));
    }
    tasks.extend([
        tokio::spawn(serve::serve(http, ListenerKind::Http, None, handler.clone(), signal.clone())),
        tokio::spawn(serve::serve(
            https,
            ListenerKind::Https,
            Some(core.tls.server_config.clone()),
            handler.clone(),
            signal.clone(),
        )),
        tokio::spawn(serve::serve(mtls, ListenerKind::Mtls, Some(core.tls.mtls_config.clone()), handler, signal)),
    ]);
    if let Some(mqtt) = mqtt {
        runs.set_mqtt(mqtt.hub);
        tasks.extend(mqtt.tasks);
    }
    Ok(Running { core, endpoints, providers, runs, shutdown, tasks, temp_dir })
}

/// The dedicated listeners to bind: each provider's declared ones, moved, turned off or added
/// by `options.listen`. A key that names no service is an error that lists the services.
fn dedicated_listeners(
    options: &Options,
    providers: &[Arc<dyn Provider>],
    dispatcher: &Dispatcher,
) -> Result<Vec<(String, SocketAddr, bool)>> {
    let mut planned: BTreeMap<String, Listen> = BTreeMap::new();
    for p in providers {
        for (service, mut addr) in p.dedicated_listeners() {
            if options.dedicated_on_free_ports {
                addr.set_port(0);
            }
            planned.insert(format!("{}.{service}", p.name()), Listen::At { addr, tls: false });
        }
    }
    for (key, listen) in &options.listen {
        if dispatcher.service_key(key).is_none() {
            let known: Vec<String> = dispatcher.services().into_iter().map(|(k, ..)| k).collect();
            anyhow::bail!("--listen {key}=...: there is no service '{key}'; services are {}", known.join(", "));
        }
        planned.insert(key.clone(), *listen);
    }
    Ok(planned
        .into_iter()
        .filter_map(|(key, listen)| match listen {
            Listen::Off => None,
            Listen::At { addr, tls } => Some((key, addr, tls)),
        })
        .collect())
}

async fn bind(addr: SocketAddr, what: &str) -> Result<TcpListener> {
    TcpListener::bind(addr).await.with_context(|| {
        format!("cannot bind the {what} listener to {addr}: is another server running there? Pick another address, or port 0 for any free one")
    })
}

/// Unspecified addresses are shown as loopback: that is where a local client can reach them.
pub(crate) fn display_addr(addr: SocketAddr) -> SocketAddr {
    match addr {
        SocketAddr::V4(a) if a.ip().is_unspecified() => SocketAddr::from(([127, 0, 0, 1], a.port())),
        SocketAddr::V6(a) if a.ip().is_unspecified() => SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, a.port())),
        other => other,
    }
}

impl Running {
    /// Stops accepting, lets open requests finish, and waits for the listeners to close.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        for task in self.tasks.drain(..) {
            let _ = task.await;
        }
    }

    /// Writes the endpoints document atomically, so a reader never sees half of it.
    pub fn write_endpoints_file(&self, path: &Path) -> Result<()> {
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, serde_json::to_string_pretty(&self.endpoints)? + "\n")
            .with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
        Ok(())
    }

    /// The start-up banner: listeners, service URLs, demo credentials.
    pub fn banner(&self) -> String {
        let e = &self.endpoints;
        let mut out = format!(
            "mock-server {} ready\n  http   {}\n  https  {}\n  mtls   {}\n  admin  {}\n  ca     {}\n",
            env!("CARGO_PKG_VERSION"),
            e.http,
            e.https,
            e.mtls,
            e.admin,
            e.ca
        );
        if let Some(m) = &e.mqtt {
            out.push_str(&format!("  mqtt   {}  {}  {}\n", m.tcp, m.tls, m.ws));
        }
        out.push_str(&format!("  proxy  {} (HTTPS_PROXY/HTTP_PROXY for clients that keep the real URLs)\n", e.proxy));
        out.push_str(&format!(
            "  runs   POST {}/runs (isolated namespaces for parallel jobs, at most {})\n",
            e.admin,
            self.runs.limit()
        ));
        out.push_str("services (the base URL to configure instead of the real one):\n");
        for (key, url) in &e.services {
            out.push_str(&format!("  {key:<22} {url}\n"));
        }
        out.push_str("demo credentials (from the fixtures):\n");
        let fixtures = self.core.fixtures();
        for p in &self.providers {
            for line in p.banner(&fixtures) {
                out.push_str(&format!("  {:<10} {line}\n", p.name()));
            }
        }
        out
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
