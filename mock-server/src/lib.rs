//! `mock_server`: one process that emulates Opinum, IoT Open, Knoema, Open Energy and Kalibrate
//! faithfully enough that their real client libraries work against it.
//!
//! In Rust tests, start one on free ports with the embedded fixtures:
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use mock_server::MockServer;
//!
//! let server = MockServer::start().await;
//! let token_url = format!("{}/{}/oauth2/v2.0/token",
//!     server.url("kalibrate.login"), "efa98c7b-2114-46e8-be99-954a4f1a2d9c");
//! // ... point the client under test at `token_url`, trusting `server.ca_pem()` ...
//! let issued = server.events().into_iter().filter(|e| e.kind.name() == "token.issued").count();
//! # Ok(()) }
//! ```
//!
//! The server stops when the `MockServer` is dropped.

pub mod admin;
pub mod bounded;
pub mod clock;
pub mod config;
pub mod faults;
mod files;
pub mod journal;
pub mod mqtt;
pub mod outbox;
pub mod providers;
pub mod proxy;
pub mod routing;
pub mod runs;
pub mod serve;
pub mod server;
pub mod state;
pub mod tls;
pub mod tokens;
pub mod wire;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

pub use clock::Clock;
pub use config::{ConfigError, Fixtures, FixturesSource};
pub use faults::{FaultAction, FaultRule, Faults};
pub use journal::{Event, EventFilter, EventKind};
pub use server::{Endpoints, Options};

/// A running mock server, for tests. Dropping it shuts it down.
pub struct MockServer {
    running: server::Running,
}

impl MockServer {
    /// Starts on free loopback ports with the embedded default fixtures.
    ///
    /// # Panics
    /// If the server cannot start (it binds only port 0 on loopback, so this is rare); use
    /// [`MockServer::builder`] to handle the error.
    pub async fn start() -> MockServer {
        MockServer::builder().start().await.expect("mock server failed to start")
    }

    pub fn builder() -> Builder {
        Builder { options: Options::ephemeral() }
    }

    pub fn endpoints(&self) -> &Endpoints {
        &self.running.endpoints
    }

    /// The base URL of a service, e.g. `url("kalibrate.login")`.
    ///
    /// # Panics
    /// If no such service exists; the message lists those that do.
    pub fn url(&self, service: &str) -> String {
        self.running.endpoints.services.get(service).cloned().unwrap_or_else(|| {
            let known: Vec<&String> = self.running.endpoints.services.keys().collect();
            panic!("no service '{service}'; services are {known:?}")
        })
    }

    /// The dev CA certificate (PEM) that signs the server certificates.
    pub fn ca_pem(&self) -> &str {
        &self.running.core.tls.ca.cert_pem
    }

    /// Path of the dev CA certificate file, for `REQUESTS_CA_BUNDLE` and the like.
    pub fn ca_path(&self) -> PathBuf {
        PathBuf::from(&self.running.endpoints.ca)
    }

    /// Every event in the journal.
    pub fn events(&self) -> Vec<Event> {
        self.running.core.journal.events(&EventFilter::default())
    }

    pub fn events_matching(&self, filter: &EventFilter) -> Vec<Event> {
        self.running.core.journal.events(filter)
    }

    /// A client certificate signed by this server's CA, to present on the mTLS listener.
    pub fn issue_client_certificate(&self, common_name: &str) -> tls::ClientCertificate {
        self.running.core.tls.ca.issue_client_cert(common_name).expect("client certificate")
    }

    /// Signs a certificate signing request (PEM or DER) into an end-entity client certificate,
    /// valid for `validity_seconds` from now on the virtual clock: what `POST
    /// /__admin/certificates` does.
    pub fn sign_csr(&self, csr: &[u8], validity_seconds: i64) -> Result<tls::IssuedCertificate, tls::CsrError> {
        let validity = tls::Validity::starting(self.running.core.clock.now(), validity_seconds);
        self.running.core.tls.ca.sign_csr(csr, validity)
    }

    pub fn clock(&self) -> &Clock {
        &self.running.core.clock
    }

    pub fn faults(&self) -> &Faults {
        &self.running.core.faults
    }

    pub fn fixtures(&self) -> Arc<Fixtures> {
        self.running.core.fixtures()
    }

    /// Stops the server and waits until its listeners are closed.
    pub async fn shutdown(self) {
        self.running.shutdown().await
    }
}

/// Options for [`MockServer`].
pub struct Builder {
    options: Options,
}

impl Builder {
    /// Fixtures as TOML text (replacing the defaults).
    pub fn fixtures_toml(mut self, toml: impl Into<String>) -> Self {
        self.options.fixtures = FixturesSource::Inline(toml.into());
        self
    }

    pub fn fixtures_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.options.fixtures = FixturesSource::File(path.into());
        self
    }

    /// Keep the CA and keys in this directory (created if needed, reused afterwards).
    pub fn certs_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.options.certs_dir = Some(dir.into());
        self
    }

    pub fn http(mut self, addr: SocketAddr) -> Self {
        self.options.http = addr;
        self
    }

    pub fn https(mut self, addr: SocketAddr) -> Self {
        self.options.https = addr;
        self
    }

    pub fn mtls(mut self, addr: SocketAddr) -> Self {
        self.options.mtls = addr;
        self
    }

    /// Serves `service` (`knoema.api`) at the root of a listener of its own at `listen`
    /// (`"127.0.0.1:0"`, `"https://127.0.0.1:0"`, `"off"`). Without this, services that declare
    /// a dedicated listener get one on a free port.
    ///
    /// # Panics
    /// If `listen` is not a listener address.
    pub fn listen(mut self, service: &str, listen: &str) -> Self {
        let listen = listen.parse().unwrap_or_else(|e| panic!("listen {service}: {e}"));
        self.options.listen.insert(service.to_owned(), listen);
        self
    }

    /// The MQTT listeners (TCP, TLS, WebSocket); by default all on free loopback ports.
    pub fn mqtt(mut self, tcp: SocketAddr, tls: SocketAddr, ws: SocketAddr) -> Self {
        let keep = self.options.mqtt.clone();
        self.options.mqtt = mqtt::MqttOptions { tcp, tls, ws, ..keep };
        self
    }

    /// How long a client may take over its TLS or WebSocket handshake and CONNECT (default 10 s).
    pub fn mqtt_handshake_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.options.mqtt.handshake_timeout = timeout;
        self
    }

    /// The largest MQTT packet accepted (default 1 MiB); larger ones close the connection.
    pub fn mqtt_max_packet_bytes(mut self, bytes: usize) -> Self {
        self.options.mqtt.max_packet_bytes = bytes;
        self
    }

    pub async fn start(self) -> anyhow::Result<MockServer> {
        Ok(MockServer { running: server::start(self.options).await? })
    }
}
