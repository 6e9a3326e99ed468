//! `mock_server`: one process that emulates Opinum, IoT Open, Knoema, Open Energy and Kalibrate
//! faithfully enough that their real client libraries work against it.
//!
//! In a client project's `cargo test`, start one on free loopback ports with the embedded
//! fixtures, point the client under test at it, and assert on what it did:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use mock_server::{EventFilter, FaultRule, MockServer};
//!
//! let server = MockServer::start().await;
//! // The client under test, trusting the dev CA; here, Kalibrate's own token request.
//! let http = reqwest::Client::builder()
//!     .tls_certs_only([reqwest::Certificate::from_pem(server.ca_pem().as_bytes()).unwrap()])
//!     .build()
//!     .unwrap();
//! let token_url = format!("{}/efa98c7b-2114-46e8-be99-954a4f1a2d9c/oauth2/v2.0/token", server.url("kalibrate.login"));
//! let form = [
//!     ("client_id", "0525b217-cbb9-4d4a-b8a1-7551c30098cf"),
//!     ("client_secret", "sandpit-read-secret"),
//!     ("scope", "api://dev.data.thekalibratecloud.com/c770a337-3c7e-4bbe-a8cb-2fbc9601b94f/.default"),
//!     ("grant_type", "client_credentials"),
//! ];
//!
//! // One 503 with Retry-After, then the real answer: does the client retry?
//! server.faults().add(FaultRule::on("kalibrate", "login").route("/*/oauth2/v2.0/token").times(1).status(503).header("Retry-After", "0")).unwrap();
//! assert_eq!(http.post(&token_url).form(&form).send().await.unwrap().status(), 503);
//! assert_eq!(http.post(&token_url).form(&form).send().await.unwrap().status(), 200);
//!
//! let issued = server.events().assert_count("token.issued", 1);
//! assert_eq!(issued[0].provider, "kalibrate");
//! server.events().assert_any(&EventFilter::kind("fault.applied"));
//! # }
//! ```
//!
//! [`MockServer`] derefs to its default [`Namespace`]: URLs, [`Events`], faults, clock and
//! fixtures. [`MockServer::run`] gives a test a namespace of its own on a shared server, and
//! [`Namespace::proxy_url`] is the `HTTPS_PROXY` for clients that keep the providers' real URLs.
//! The server stops when the `MockServer` is dropped.

// Handlers return `Result<_, Response>`: the refusal is the answer, built once and sent; boxing
// it would only add an allocation to every refusal.
#![allow(clippy::result_large_err)]

mod admin;
mod assembly;
mod bounded;
mod clock;
mod condition;
mod contract;
mod endpoints;
mod faults;
mod files;
pub mod fixtures;
mod front;
mod journal;
pub mod memory;
pub mod mqtt;
mod namespace;
mod outbox;
mod providers;
mod runs;
pub mod server;
mod spare_keys;
pub mod tls;
mod tokens;
mod wire;

use std::net::SocketAddr;
use std::path::PathBuf;

pub use clock::{Clock, ClockChange, ClockError, ClockReading};
pub use endpoints::{Endpoints, MqttEndpoints};
pub use faults::{FaultAction, FaultError, FaultRule, Faults};
pub use fixtures::{ConfigError, FixturesSource};
pub use front::connection::ConnectionLimits;
pub use journal::{Event, EventFilter, EventKind, Events, Exchange};
pub use mqtt::MqttOptions;
pub use namespace::Namespace;
pub use outbox::{Outbox, Sms, SmsFilter};
pub use providers::Fixtures;
pub use runs::{Run, RunError};
pub use server::{Listen, Options};

/// A running mock server, for tests. It derefs to its default [`Namespace`] (URLs, events,
/// faults, clock, fixtures); [`MockServer::run`] makes more. Dropping it shuts it down.
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

    /// A run of its own on this server: isolated events, faults, clock, fixtures and tokens,
    /// reached through URLs with its path prefix (`/__run/{id}`), its proxy URL, and MQTT
    /// listeners of its own (`run.endpoints().mqtt`). Deleted when the returned handle is
    /// dropped.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let server = mock_server::MockServer::start().await;
    /// let run = server.run("job-1").await.unwrap();
    /// assert!(run.url("kalibrate.login").ends_with("/__run/job-1/kalibrate/login"));
    /// assert!(run.proxy_url().starts_with("http://job-1:run@127.0.0.1:"));
    /// run.clock().advance(chrono::Duration::hours(2)).unwrap();
    /// assert!(server.clock().reading().offset_seconds.abs() < 1.0, "the default namespace has its own clock");
    /// # }
    /// ```
    pub async fn run(&self, id: &str) -> Result<Run, RunError> {
        let door = self.running.runs.create(id).await?;
        Ok(Run::new(door.namespace().clone(), self.running.runs.clone(), id.to_owned()))
    }

    /// Stops the server and waits until its listeners are closed.
    pub async fn shutdown(self) {
        self.running.shutdown().await
    }
}

impl std::ops::Deref for MockServer {
    type Target = Namespace;

    fn deref(&self) -> &Namespace {
        self.running.namespace()
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
        self.options.mqtt = MqttOptions { tcp, tls, ws, ..keep };
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

    /// How long an HTTP connection may stay quiet with no request being served (default 60 s).
    pub fn idle_timeout(mut self, idle: std::time::Duration) -> Self {
        self.options.connections.idle = idle;
        self
    }

    /// How long a request body may take to arrive after its headers (default 60 s).
    pub fn body_timeout(mut self, body: std::time::Duration) -> Self {
        self.options.connections.body = body;
        self
    }

    /// How many connections each HTTP listener holds open at once (default 512); more are closed
    /// as they come.
    pub fn max_connections(mut self, limit: usize) -> Self {
        self.options.connections.max_connections = limit.max(1);
        self
    }

    /// One more name for the server certificate, a DNS name or an IP address (repeatable): the
    /// name a client in another container reaches the server by (`"mock"`), checked against the
    /// certificate over HTTPS and MQTT over TLS. Loopback and the providers' real hostnames are
    /// always there. A name that is neither makes [`Builder::start`] fail with an error naming it.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let server = mock_server::MockServer::builder().san("mock").san("10.0.0.5").start().await.unwrap();
    /// let bad = mock_server::MockServer::builder().san("mock server").start().await;
    /// assert!(bad.err().unwrap().to_string().contains("'mock server'"));
    /// # }
    /// ```
    pub fn san(mut self, name: impl Into<String>) -> Self {
        self.options.san.push(name.into());
        self
    }

    /// How many runs may live at once (default 64); one more evicts the longest unused.
    pub fn max_runs(mut self, limit: usize) -> Self {
        self.options.max_runs = limit;
        self
    }

    pub async fn start(self) -> anyhow::Result<MockServer> {
        Ok(MockServer { running: server::start(self.options).await? })
    }
}
