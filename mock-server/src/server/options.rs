//! How to start a server: where to listen, which fixtures, where the certificates live.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
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
    /// More names for the server certificate (DNS names or IP addresses), besides loopback, the
    /// listeners' addresses and the providers' real hostnames: the name other containers reach
    /// the server by (`mock`). [`start`](super::start) checks each with [`parse_san`].
    pub san: Vec<String>,
    /// Record request and response bodies in every namespace's journal, redacted, whatever the
    /// fixtures say (`--journal-bodies`; fixtures can ask for it with `[journal] bodies`).
    pub journal_bodies: bool,
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

/// A name for the server certificate, as given to `--san`: an IP address, or a DNS name
/// (letters, digits, `-` and `_` in labels of 1 to 63 characters, 253 at most in all, optionally
/// after a wildcard label `*.`). Returns the name as the certificate will hold it: an address in
/// its canonical form, a DNS name in lower case.
pub fn parse_san(arg: &str) -> Result<String, String> {
    let name = arg.trim();
    let bad = |why: &str| Err(format!("'{name}' is not a certificate name: {why}"));
    if name.is_empty() {
        return Err("an empty certificate name: give a DNS name (mock) or an IP address (10.0.0.5)".into());
    }
    if let Ok(ip) = name.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>() {
        return Ok(ip.to_string());
    }
    if name.len() > 253 {
        return bad("a DNS name has at most 253 characters");
    }
    if name.ends_with('.') {
        return bad("leave out the trailing dot");
    }
    let labels: Vec<&str> = name.strip_prefix("*.").unwrap_or(name).split('.').collect();
    for label in &labels {
        if label.is_empty() {
            return bad("a DNS name has no empty label (two dots in a row, or a leading dot)");
        }
        if label.len() > 63 {
            return bad(&format!("the label '{label}' is longer than 63 characters"));
        }
        if let Some(c) = label.chars().find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_')) {
            let why = if c == '*' {
                "'*' may only be a whole first label (*.example)".to_owned()
            } else {
                format!("'{c}' is not allowed in a DNS name (letters, digits, '-', '_')")
            };
            return bad(&why);
        }
        if label.starts_with('-') || label.ends_with('-') {
            return bad(&format!("the label '{label}' starts or ends with '-'"));
        }
    }
    if labels.last().is_some_and(|l| l.chars().all(|c| c.is_ascii_digit())) {
        return bad("neither an IP address nor a DNS name (a DNS name does not end in a number)");
    }
    Ok(name.to_ascii_lowercase())
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
            san: Vec::new(),
            journal_bodies: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificate_names_are_dns_names_or_addresses() {
        assert_eq!(parse_san("mock").unwrap(), "mock");
        assert_eq!(parse_san(" Mock.Internal ").unwrap(), "mock.internal");
        assert_eq!(parse_san("mock_server-1.ci.example").unwrap(), "mock_server-1.ci.example");
        assert_eq!(parse_san("*.svc.cluster.local").unwrap(), "*.svc.cluster.local");
        assert_eq!(parse_san("10.0.0.5").unwrap(), "10.0.0.5");
        assert_eq!(parse_san("[fd00::0005]").unwrap(), "fd00::5");
        assert_eq!(parse_san(&format!("{}.example", "a".repeat(63))).unwrap().len(), 71);
    }

    #[test]
    fn a_bad_certificate_name_is_named_with_the_reason() {
        for (arg, why) in [
            ("", "empty certificate name"),
            ("mock..internal", "no empty label"),
            (".mock", "no empty label"),
            ("mock.", "trailing dot"),
            ("mock server", "' ' is not allowed"),
            ("https://mock", "':' is not allowed"),
            ("mock:8443", "':' is not allowed"),
            ("mo*ck.example", "'*' may only be a whole first label"),
            ("*.*.example", "'*' may only be a whole first label"),
            ("-mock", "starts or ends with '-'"),
            ("10.0.0.300", "does not end in a number"),
            ("ünicode.example", "'ü' is not allowed"),
        ] {
            let err = parse_san(arg).unwrap_err();
            assert!(err.contains(why), "{arg}: {err}");
            assert!(arg.trim().is_empty() || err.contains(&format!("'{}'", arg.trim())), "{arg}: {err}");
        }
        let long = format!("{}.example", "a".repeat(64));
        assert!(parse_san(&long).unwrap_err().contains("longer than 63"));
        let huge = vec!["abcdefghij"; 24].join(".");
        assert!(parse_san(&huge).unwrap_err().contains("at most 253"));
    }
}
