//! How to start a server: where to listen, which fixtures, where the certificates live.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;

use crate::fixtures::FixturesSource;
use crate::front::connection::ConnectionLimits;
use crate::mqtt::MqttOptions;
use crate::runs::DEFAULT_LIMIT;

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
    /// where a service is served at the root (docs/services.md). Services not named
    /// here keep the dedicated listener their provider declares, if any.
    pub listen: BTreeMap<String, Listen>,
    /// Bind the declared dedicated listeners on free ports (port 0) instead of their declared
    /// ports: what tests want, so parallel runs never collide.
    pub dedicated_on_free_ports: bool,
    /// The MQTT gate's public listeners (TCP, TLS, WebSocket) and bounds; port 0 picks a free port.
    pub mqtt: MqttOptions,
    /// The HTTP listeners' bounds: idle and body deadlines, connections open at once.
    pub connections: ConnectionLimits,
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
            mqtt: MqttOptions::ephemeral(),
            connections: ConnectionLimits::default(),
            max_runs: DEFAULT_LIMIT,
        }
    }
}
