//! The endpoints document: where everything ended up once the listeners are bound (ports may
//! have been picked by the system), as `--endpoints-file` writes it, the banner prints it and
//! `GET /__admin/endpoints` serves it. Its keys are a contract that tools and users read
//! (docs/services.md): `http`, `https`, `mtls`, `admin`, `ca`, `services`, `mqtt`, `proxy`, and
//! `run` in a run's copy, whose URLs all carry the run's path prefix.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

/// The path prefix that names a run: `/__run/{id}/...`.
pub const RUN_PATH: &str = "/__run/";

/// Where everything is.
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
    pub mqtt: Option<MqttEndpoints>,
    /// The proxy URL for unchanged clients (`HTTPS_PROXY`, `HTTP_PROXY`): the HTTP listener;
    /// in a run, with credentials that name the run.
    #[serde(default)]
    pub proxy: String,
    /// The run these endpoints belong to; absent for the server's default namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<String>,
}

/// The `mqtt` object of the endpoints document.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MqttEndpoints {
    /// `mqtt://127.0.0.1:PORT`
    pub tcp: String,
    /// `mqtts://127.0.0.1:PORT` (the dev CA signs its certificate)
    pub tls: String,
    /// `ws://127.0.0.1:PORT/mqtt`
    pub ws: String,
}

impl Endpoints {
    /// The same endpoints as run `id` sees them: every URL with the run's path prefix, and
    /// proxy credentials that name the run. Its MQTT listeners are its own (set by the caller).
    pub fn for_run(&self, id: &str) -> Endpoints {
        let prefixed = |url: &str| match url.split_once("://") {
            Some((scheme, rest)) => {
                let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
                format!("{scheme}://{authority}{RUN_PATH}{id}{path}")
            }
            None => url.to_owned(),
        };
        let mut endpoints = self.clone();
        endpoints.admin = format!("{}{RUN_PATH}{id}/__admin", self.http);
        endpoints.services = self.services.iter().map(|(k, url)| (k.clone(), prefixed(url))).collect();
        endpoints.proxy = self.http.replacen("://", &format!("://{id}:run@"), 1);
        endpoints.run = Some(id.to_owned());
        endpoints
    }

    /// Writes the document atomically, so a reader never sees half of it.
    pub fn write_file(&self, path: &Path) -> Result<()> {
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, serde_json::to_string_pretty(self)? + "\n")
            .with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
        Ok(())
    }
}

/// A bound address as a local client reaches it: unspecified addresses are shown as loopback.
pub fn display_addr(addr: SocketAddr) -> SocketAddr {
    match addr {
        SocketAddr::V4(a) if a.ip().is_unspecified() => SocketAddr::from(([127, 0, 0, 1], a.port())),
        SocketAddr::V6(a) if a.ip().is_unspecified() => SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, a.port())),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_endpoints_carry_the_prefix() {
        let server = Endpoints {
            http: "http://127.0.0.1:1".into(),
            https: "https://127.0.0.1:2".into(),
            mtls: "https://127.0.0.1:3".into(),
            admin: "http://127.0.0.1:1/__admin".into(),
            ca: "/ca.pem".into(),
            services: [
                ("a.b".to_owned(), "https://127.0.0.1:2/a/b".to_owned()),
                ("k.api".to_owned(), "http://127.0.0.1:4".to_owned()),
            ]
            .into(),
            mqtt: None,
            proxy: "http://127.0.0.1:1".into(),
            run: None,
        };
        let run = server.for_run("r1");
        assert_eq!(run.services["a.b"], "https://127.0.0.1:2/__run/r1/a/b");
        assert_eq!(run.services["k.api"], "http://127.0.0.1:4/__run/r1");
        assert_eq!(run.admin, "http://127.0.0.1:1/__run/r1/__admin");
        assert_eq!(run.proxy, "http://r1:run@127.0.0.1:1");
        assert_eq!(run.run.as_deref(), Some("r1"));
    }
}
