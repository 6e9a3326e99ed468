//! How fast mock-server starts, and how many requests it answers, next to baselines measured in
//! the same run on the same machine, so the figures mean something on any hardware:
//!
//! 1. start-to-ready of the real release binary, cold (a new certificates directory) and warm,
//!    vs. spawning `mock-server --version`; the first token after a cold start vs. later ones and
//!    vs. one RS256 signature;
//! 2. the Kalibrate (Azure AD) token endpoint vs. a bare axum handler returning the same body;
//! 3. the Kalibrate data API `GET /api/status` with a bearer token;
//! 4. Opinum's password-grant token endpoint vs. the same bare handler;
//! 5. Opinum's standard push (points/s) vs. a bare handler that reads and parses the same JSON.
//! 6. Open Energy's mTLS token endpoint, a new connection per request, with full handshakes and
//!    with resumed TLS sessions, vs. a bare handler behind the same mTLS accept loop.
//! 7. IoT Open: MQTT QoS 0 and QoS 1 messages/s through the gate vs. mosquitto (when the Debian
//!    package is installed), and history queries over one million points; the connect rate
//!    (CONNECT → CONNACK per second) and the memory of idle connections (VmRSS per connection),
//!    gate vs. mosquitto.
//! 8. Proxy mode and runs: `GET /api/status` over HTTPS through a CONNECT tunnel (the real host
//!    name) and under a run's path prefix, vs. the same request sent straight to the HTTPS
//!    listener; creating and deleting a run vs. `POST /__admin/reset`.
//!
//! Run: `cargo bench -p mock-server --bench throughput`. Tune with the environment variables
//! `BENCH_SECONDS` (measured seconds per target, default 5), `BENCH_WARMUP` (default 1),
//! `BENCH_CONNECTIONS` (default 16), `BENCH_STARTS` (binary starts, default 15) and `BENCH_ONLY`
//! (comma-separated sections: startup, http, mtls, mqtt, mqtt-connections, proxy; all by
//! default; `mqtt` includes `mqtt-connections`). The MQTT runs have their own:
//! `BENCH_MQTT_MESSAGES` (QoS 0, default 1000000), `BENCH_MQTT_QOS1_MESSAGES` (default 100000),
//! `BENCH_MQTT_CONNECTS` (connect rate, default 2000 clients, 0 skips it),
//! `BENCH_MQTT_CONNECT_CONCURRENCY` (default 16 at once) and `BENCH_MQTT_IDLE` (idle
//! connections whose memory is measured, default 10000, 0 skips it).
//! Everything talks to 127.0.0.1 only.

use std::collections::HashMap;
use std::future::IntoFuture;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::{header, StatusCode};
use axum::routing::post;
use axum::{Form, Router};
use bytes::Bytes;

const TENANT: &str = "efa98c7b-2114-46e8-be99-954a4f1a2d9c";
const TOKEN_FORM: &str = "client_id=0525b217-cbb9-4d4a-b8a1-7551c30098cf\
    &client_secret=sandpit-read-secret\
    &grant_type=client_credentials\
    &scope=api%3A%2F%2Fdev.data.thekalibratecloud.com%2Fc770a337-3c7e-4bbe-a8cb-2fbc9601b94f%2F.default";
const OPINUM_PASSWORD_FORM: &str = "grant_type=password&client_id=opinum-demo-client&client_secret=opinum-demo-secret\
    &username=pusher%40demo-energy.example&password=pusher-password&scope=datahub-api%20push-data";
/// Points per standard push in the push benchmark.
const POINTS_PER_PUSH: usize = 100;

fn main() -> ExitCode {
    if let Ok(max_connections) = std::env::var(MQTT_SERVER_CHILD) {
        return mqtt_server_child(&max_connections);
    }
    let cfg = Config::from_env();
    eprintln!("{}", cfg.describe());
    let startup = match (cfg.runs("startup"), server_binary()) {
        (false, _) => None,
        (true, Ok(bin)) => Some(startup_bench(&bin, cfg.starts)),
        (true, Err(message)) => {
            eprintln!("{message}");
            None
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    let loads = match cfg.runs("http").then(|| runtime.block_on(load_bench(&cfg))).transpose() {
        Ok(loads) => loads.unwrap_or_default(),
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::FAILURE;
        }
    };
    print_report(&cfg, startup.as_ref(), &loads);
    type Section<'a> = &'a dyn Fn() -> Result<(), String>;
    let sections: [(&str, Section); 4] = [
        ("mtls", &|| runtime.block_on(openenergy_mtls_bench(&cfg))),
        ("mqtt", &|| runtime.block_on(iotopen_mqtt_bench())),
        ("mqtt-connections", &|| runtime.block_on(mqtt_connections_bench())),
        ("proxy", &|| runtime.block_on(proxy_and_runs_bench(&cfg))),
    ];
    for (name, section) in sections {
        if !cfg.runs(name) {
            continue;
        }
        if let Err(message) = section() {
            eprintln!("error: {message}");
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}

// ---------------------------------------------------------------------------------------------
// Configuration

/// Knobs from the environment, so a quick or a thorough run needs no code change.
struct Config {
    warmup: Duration,
    measure: Duration,
    connections: usize,
    starts: usize,
    /// `BENCH_ONLY=proxy,mtls`: the sections to run (startup, http, mtls, mqtt, mqtt-connections,
    /// proxy); all by default.
    only: Option<Vec<String>>,
}

impl Config {
    /// Whether `section` runs; `mqtt` selects `mqtt-connections` too.
    fn runs(&self, section: &str) -> bool {
        let parent = section.split('-').next().unwrap_or(section);
        self.only.as_ref().is_none_or(|only| only.iter().any(|s| s == section || s == parent))
    }

    fn from_env() -> Self {
        let secs = |name: &str, default: f64| Duration::from_secs_f64(env_number(name, default).max(0.0));
        Config {
            warmup: secs("BENCH_WARMUP", 1.0),
            measure: secs("BENCH_SECONDS", 5.0).max(Duration::from_millis(100)),
            connections: (env_number("BENCH_CONNECTIONS", 16.0) as usize).max(1),
            starts: (env_number("BENCH_STARTS", 15.0) as usize).max(2),
            only: std::env::var("BENCH_ONLY")
                .ok()
                .map(|v| v.split(',').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect()),
        }
    }

    fn describe(&self) -> String {
        format!(
            "{} CPUs, {} connections, warm-up {} s, measure {} s, {} starts",
            std::thread::available_parallelism().map_or(0, |n| n.get()),
            self.connections,
            self.warmup.as_secs_f64(),
            self.measure.as_secs_f64(),
            self.starts
        )
    }

    /// The command line that reproduces this run.
    fn command(&self) -> String {
        format!(
            "BENCH_SECONDS={} BENCH_WARMUP={} BENCH_CONNECTIONS={} BENCH_STARTS={} cargo bench -p mock-server --bench throughput",
            self.measure.as_secs_f64(),
            self.warmup.as_secs_f64(),
            self.connections,
            self.starts
        )
    }
}

fn env_number(name: &str, default: f64) -> f64 {
    match std::env::var(name) {
        Ok(v) => v.trim().parse().unwrap_or_else(|_| panic!("{name}={v:?} is not a number")),
        Err(_) => default,
    }
}

// ---------------------------------------------------------------------------------------------
// 1. Start-to-ready of the real binary

struct Startup {
    /// Start to every listener ready on an empty certificates directory, spare keys in the cache.
    cold: Duration,
    /// The same on the directory the cold start filled.
    warm: Duration,
    /// Cold starts with the spare-key cache off: every signing key is made after start.
    cold_no_spares: Duration,
    /// The very first start, on an empty cache too: what a fresh machine pays once.
    first_ever: Duration,
    /// After a cold start: the first Opinum token, and the five after it.
    first_token: Duration,
    later_tokens: Duration,
    /// The first token after a cold start with no spare keys (it waits for its key).
    first_token_no_spares: Duration,
    /// One RS256 signature with a 2048-bit key, in process.
    signature: Duration,
    /// Median of `mock-server --version`: what spawning the process costs at all.
    spawn: Duration,
    runs: usize,
}

/// The binary cargo built for this bench (`cargo bench` builds it), or failing that a
/// release build in the workspace target directory.
fn server_binary() -> Result<PathBuf, String> {
    let candidates = [
        option_env!("CARGO_BIN_EXE_mock-server").map(PathBuf::from),
        Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/release/mock-server")),
    ];
    candidates.into_iter().flatten().find(|p| p.is_file()).ok_or_else(|| {
        "start-up benchmark skipped: no release binary at target/release/mock-server.\n\
         Build it first with: cargo build --release -p mock-server"
            .to_owned()
    })
}

/// Starts the server `runs` times cold (a new certificates directory each time) and warm (the
/// same directory again), interleaved with `--version` spawns so all see the same machine load.
/// The spare-key cache is a scratch directory of the bench's own, empty at first.
fn startup_bench(bin: &Path, runs: usize) -> Startup {
    let scratch = scratch_dir();
    let spares = scratch.join("spare-keys");
    let (mut cold, mut warm, mut spawns, mut firsts, mut laters) = (vec![], vec![], vec![], vec![], vec![]);
    let mut first_ever = None;
    version_once(bin); // the binary's pages in memory, as for every start after the first
    for i in 0..runs {
        let dir = scratch.join(format!("cold-{i}"));
        let started = StartedServer::start(bin, &dir, Some(&spares)).unwrap_or_else(|e| panic!("start {}: {e}", i + 1));
        let first = started.token();
        let later: Vec<Duration> = (0..5).map(|_| started.token()).collect();
        // A server that lives a moment leaves spares for the next one (a test session does).
        started.wait_for_spares(&spares);
        let ready = started.ready;
        drop(started);
        match first_ever {
            None => first_ever = Some(ready),
            Some(_) => {
                cold.push(ready);
                firsts.push(first);
                laters.extend(later);
            }
        }
        let again = StartedServer::start(bin, &dir, Some(&spares)).unwrap_or_else(|e| panic!("restart {}: {e}", i + 1));
        warm.push(again.ready);
        drop(again);
        spawns.push(version_once(bin));
    }
    let (mut no_spares, mut no_spare_firsts) = (vec![], vec![]);
    for i in 0..runs.min(5) {
        let dir = scratch.join(format!("no-spares-{i}"));
        let started = StartedServer::start(bin, &dir, None).unwrap_or_else(|e| panic!("start without spares: {e}"));
        no_spare_firsts.push(started.token());
        no_spares.push(started.ready);
    }
    let _ = std::fs::remove_dir_all(&scratch);
    let first_ever = first_ever.expect("at least one start");
    eprintln!("start-up: cold {:?} ms", cold.iter().map(|d| ms(*d).round()).collect::<Vec<_>>());
    Startup {
        cold: median(&cold),
        warm: median(&warm),
        cold_no_spares: median(&no_spares),
        first_ever,
        first_token: median(&firsts),
        later_tokens: median(&laters),
        first_token_no_spares: median(&no_spare_firsts),
        signature: rs256_signature(),
        spawn: median(&spawns),
        runs,
    }
}

/// An empty private directory for the runs' certificates, endpoints files and stderr.
fn scratch_dir() -> PathBuf {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
    let dir = std::env::temp_dir().join(format!("mock-server-bench-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("creating the scratch directory");
    dir
}

/// The release binary running on `dir`; killed when dropped.
struct StartedServer {
    child: std::process::Child,
    ready: Duration,
    http: String,
}

impl StartedServer {
    /// Spawn → endpoints file written → `GET {admin}/health` is 200, with the spare-key cache at
    /// `spares` (`None`: off).
    fn start(bin: &Path, dir: &Path, spares: Option<&Path>) -> Result<StartedServer, String> {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        let endpoints = dir.join("endpoints.json");
        let _ = std::fs::remove_file(&endpoints);
        let stderr = std::fs::File::create(dir.join("stderr.log")).map_err(|e| e.to_string())?;
        let started = Instant::now();
        let mut child = Command::new(bin)
            .args(["serve", "--http", "127.0.0.1:0", "--https", "127.0.0.1:0", "--mtls", "127.0.0.1:0"])
            .args(["--listen", "knoema.api=127.0.0.1:0", "--mqtt", "127.0.0.1:0", "--mqtts", "127.0.0.1:0"])
            .args(["--mqtt-ws", "127.0.0.1:0", "--log", "warn"])
            .arg("--certs-dir")
            .arg(dir.join("certs"))
            .arg("--endpoints-file")
            .arg(&endpoints)
            .env_remove("MOCK_SERVER_CONFIG")
            .env("MOCK_SERVER_SPARE_KEYS", spares.map(|p| p.as_os_str().to_owned()).unwrap_or_else(|| "off".into()))
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .map_err(|e| e.to_string())?;
        match wait_ready(&mut child, &endpoints, started) {
            Ok((ready, http)) => Ok(StartedServer { child, ready, http }),
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                Err(format!(
                    "{e}; server stderr: {}",
                    std::fs::read_to_string(dir.join("stderr.log")).unwrap_or_default()
                ))
            }
        }
    }

    /// One Opinum password-grant token (an RS256 JWT) on a new connection: its round trip.
    fn token(&self) -> Duration {
        let started = Instant::now();
        let url = format!("{}/opinum/identity/connect/token", self.http);
        let status = http_status(&url, Some(OPINUM_PASSWORD_FORM));
        assert_eq!(status, Some(200), "the Opinum token request");
        started.elapsed()
    }

    /// Waits (up to 10 s) until the cache holds its spares again.
    fn wait_for_spares(&self, spares: &Path) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            let count = std::fs::read_dir(spares)
                .map(|d| {
                    d.filter_map(|e| e.ok()).filter(|e| e.file_name().to_string_lossy().starts_with("spare-")).count()
                })
                .unwrap_or(0);
            if count >= 3 {
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        panic!("the spare-key cache was not topped up within 10 s");
    }
}

impl Drop for StartedServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls every 0.5 ms, which is well below the resolution the report shows. Returns the time to
/// ready and the plain-HTTP listener's URL.
fn wait_ready(
    child: &mut std::process::Child,
    endpoints: &Path,
    started: Instant,
) -> Result<(Duration, String), String> {
    let deadline = started + Duration::from_secs(60);
    let mut found: Option<mock_server::Endpoints> = None;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("the server exited early ({status})"));
        }
        if Instant::now() > deadline {
            return Err("not ready after 60 s".into());
        }
        if found.is_none() {
            found = std::fs::read_to_string(endpoints)
                .ok()
                .and_then(|text| serde_json::from_str::<mock_server::Endpoints>(&text).ok());
        }
        if let Some(e) = &found {
            if http_status(&format!("{}/health", e.admin), None) == Some(200) {
                return Ok((started.elapsed(), e.http.clone()));
            }
        }
        std::thread::sleep(Duration::from_micros(500));
    }
}

/// A one-shot blocking HTTP/1.1 request to an `http://127.0.0.1:port/...` URL (GET, or POST of a
/// form when `form` is given); the status code.
fn http_status(url: &str, form: Option<&str>) -> Option<u16> {
    let rest = url.strip_prefix("http://")?;
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let addr: SocketAddr = authority.parse().ok()?;
    assert!(addr.ip().is_loopback(), "the bench only talks to loopback, not {addr}");
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    match form {
        None => write!(stream, "GET {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n").ok()?,
        Some(form) => write!(
            stream,
            "POST {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{form}",
            form.len()
        )
        .ok()?,
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).ok()?;
    let status = std::str::from_utf8(head.strip_prefix(b"HTTP/1.1 ")?).ok()?.parse().ok();
    // Read the answer to its end, so the time includes the whole token.
    let mut rest = Vec::new();
    let _ = stream.read_to_end(&mut rest);
    status
}

/// The median time of one RS256 signature with a 2048-bit key, made in process.
fn rs256_signature() -> Duration {
    let key = rcgen::KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048).expect("an RSA key");
    let encoding = jsonwebtoken::EncodingKey::from_rsa_pem(key.serialize_pem().as_bytes()).expect("the key");
    let header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    let claims = serde_json::json!({"sub": "bench", "exp": 4_102_444_800u64});
    let samples: Vec<Duration> = (0..200)
        .map(|_| {
            let started = Instant::now();
            jsonwebtoken::encode(&header, &claims, &encoding).expect("a signature");
            started.elapsed()
        })
        .collect();
    median(&samples)
}

/// Process spawn and exit with no server work: the floor under any start-up time.
fn version_once(bin: &Path) -> Duration {
    let started = Instant::now();
    let status = Command::new(bin).arg("--version").stdout(Stdio::null()).status().expect("spawning --version");
    assert!(status.success(), "mock-server --version failed: {status}");
    started.elapsed()
}

// ---------------------------------------------------------------------------------------------
// 2. Request throughput

/// What one closed-loop run measured.
struct Load {
    name: &'static str,
    requests: usize,
    seconds: f64,
    p50: Duration,
    p99: Duration,
}

impl Load {
    fn rate(&self) -> f64 {
        self.requests as f64 / self.seconds
    }
}

/// One kind of request: how to build it, and what a correct answer contains.
#[derive(Clone)]
struct Target {
    name: &'static str,
    build: Arc<dyn Fn(&reqwest::Client) -> reqwest::RequestBuilder + Send + Sync>,
    must_contain: &'static str,
}

impl Target {
    fn token(name: &'static str, url: String) -> Target {
        Target::token_form(name, url, TOKEN_FORM)
    }

    fn token_form(name: &'static str, url: String, form: &'static str) -> Target {
        Target {
            name,
            build: Arc::new(move |c| {
                c.post(&url).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded").body(form)
            }),
            must_contain: "\"access_token\"",
        }
    }

    /// A standard push of [`POINTS_PER_PUSH`] points; success is an empty 200.
    fn push(name: &'static str, url: String, token: String) -> Target {
        let bearer = format!("Bearer {token}");
        let points: Vec<serde_json::Value> = (0..POINTS_PER_PUSH)
            .map(|i| serde_json::json!({"date": format!("2024-01-01T{:02}:{:02}:00Z", i / 60, i % 60), "value": i as f64 * 0.5}))
            .collect();
        let body = Bytes::from(serde_json::to_vec(&serde_json::json!([{"variableId": 100, "data": points}])).unwrap());
        Target {
            name,
            build: Arc::new(move |c| {
                c.post(&url)
                    .header(header::AUTHORIZATION, &bearer)
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(body.clone())
            }),
            must_contain: "",
        }
    }

    fn status(name: &'static str, url: String, token: String) -> Target {
        let bearer = format!("Bearer {token}");
        Target {
            name,
            build: Arc::new(move |c| {
                c.get(&url).header(header::AUTHORIZATION, &bearer).header(header::USER_AGENT, "bench")
            }),
            must_contain: "\"clientId\"",
        }
    }

    /// Sends once; `Err` describes a wrong answer.
    async fn send(&self, client: &reqwest::Client) -> Result<(), String> {
        let response = (self.build)(client).send().await.map_err(|e| format!("{}: {e}", self.name))?;
        let status = response.status();
        let body = response.bytes().await.map_err(|e| format!("{}: reading the body: {e}", self.name))?;
        if status == StatusCode::OK && contains(&body, self.must_contain.as_bytes()) {
            Ok(())
        } else {
            Err(format!("{}: {status}: {}", self.name, String::from_utf8_lossy(&body[..body.len().min(300)])))
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

/// The bare baseline first, then the mock's token endpoint, then its data API.
async fn load_bench(cfg: &Config) -> Result<Vec<Load>, String> {
    let server = mock_server::MockServer::start().await;
    let http = server.endpoints().http.clone();
    assert!(http.starts_with("http://127.0.0.1:"), "unexpected HTTP listener {http}");
    let token =
        Target::token("mock  POST kalibrate token", format!("{http}/kalibrate/login/{TENANT}/oauth2/v2.0/token"));

    // The bare server returns a real token response, so both move the same bytes.
    let sample = fetch_body(&token).await?;
    let access_token = serde_json::from_slice::<serde_json::Value>(&sample)
        .ok()
        .and_then(|v| v["access_token"].as_str().map(str::to_owned))
        .ok_or("the token response has no access_token")?;
    let bare_addr = start_bare_server(Bytes::from(sample.clone())).await;
    let bare = Target::token("bare  POST axum form->json", format!("http://{bare_addr}/token"));
    let status =
        Target::status("mock  GET  kalibrate data status", format!("{http}/kalibrate/data/api/status"), access_token);
    eprintln!("token response: {} bytes (the bare server returns the same body)", sample.len());

    let opinum_token = Target::token_form(
        "mock  POST opinum password grant",
        format!("{http}/opinum/identity/connect/token"),
        OPINUM_PASSWORD_FORM,
    );
    let opinum_access = serde_json::from_slice::<serde_json::Value>(&fetch_body(&opinum_token).await?)
        .ok()
        .and_then(|v| v["access_token"].as_str().map(str::to_owned))
        .ok_or("the Opinum token response has no access_token")?;
    let bare_push =
        Target::push("bare  POST axum push (parse JSON)", format!("http://{bare_addr}/push"), opinum_access.clone());
    let push = Target::push("mock  POST opinum push (100 pts)", format!("{http}/opinum/push/api/data"), opinum_access);

    let mut loads = Vec::new();
    for target in [bare, token, status, opinum_token, bare_push, push] {
        let load = closed_loop(&target, cfg).await?;
        eprintln!("{}: {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms", load.name, load.rate(), ms(load.p50), ms(load.p99));
        loads.push(load);
    }
    server.shutdown().await;
    Ok(loads)
}

/// A client that keeps connections alive and never goes through a proxy.
fn client(connections: usize) -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(connections)
        .timeout(Duration::from_secs(10))
        .build()
        .expect("reqwest client")
}

async fn fetch_body(target: &Target) -> Result<Vec<u8>, String> {
    fetch_body_with(target, &client(1)).await
}

/// The floor: axum parses the same form and answers a fixed body, with no mock logic at all.
async fn start_bare_server(body: Bytes) -> SocketAddr {
    let handler = move |Form(form): Form<HashMap<String, String>>| {
        let body = body.clone();
        async move {
            match form.get("grant_type").map(String::as_str) {
                Some("client_credentials") => {
                    (StatusCode::OK, [(header::CONTENT_TYPE, "application/json; charset=utf-8")], body)
                }
                _ => {
                    (StatusCode::BAD_REQUEST, [(header::CONTENT_TYPE, "application/json; charset=utf-8")], Bytes::new())
                }
            }
        }
    };
    // The push baseline does the least a push needs: read the body and parse it as JSON.
    let push = |body: Bytes| async move {
        match serde_json::from_slice::<serde_json::Value>(&body) {
            Ok(v) if v.is_array() => StatusCode::OK,
            _ => StatusCode::BAD_REQUEST,
        }
    };
    let app = Router::new().route("/token", post(handler)).route("/push", post(push));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binding the bare server");
    let addr = listener.local_addr().expect("bare server address");
    tokio::spawn(axum::serve(listener, app).into_future());
    addr
}

/// `connections` tasks each send, wait for the answer, and send again. Requests that start
/// after the warm-up and finish before the end are timed; any wrong answer fails the run.
async fn closed_loop(target: &Target, cfg: &Config) -> Result<Load, String> {
    closed_loop_with(target, cfg, client(cfg.connections)).await
}

/// What one connection saw: timings inside the measured window, and every wrong answer.
#[derive(Default)]
struct Worker {
    latencies: Vec<Duration>,
    failures: usize,
    first_error: Option<String>,
}

impl Worker {
    fn record(&mut self, answer: Result<(), String>, timed: Option<Duration>) {
        match answer {
            Ok(()) => self.latencies.extend(timed),
            Err(e) => {
                self.failures += 1;
                self.first_error.get_or_insert(e);
            }
        }
    }

    fn merge(&mut self, other: Worker) {
        self.latencies.extend(other.latencies);
        self.failures += other.failures;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 3. Open Energy: mTLS token requests with full TLS handshakes and with resumed sessions
//
// Each request opens a connection, does the mutual-TLS handshake (presenting a client
// certificate signed from a CSR), sends `POST /token` with `Connection: close` and reads the
// answer. "Full" disables the client's session cache, so every request pays for the whole
// handshake with client authentication; "resumed" keeps it, so after the first connection the
// session is resumed (counted and checked: the client certificate still reaches the handler).
// The bare baseline is the same accept loop and mTLS configuration (`serve::serve`, `TlsSetup`)
// with a handler that reads the form and returns a fixed token body: the ratio is the cost of
// the authorization server itself. A keep-alive row (one handshake, many requests) is the floor.

const OE_TOKEN_FORM: &str = "grant_type=client_credentials&client_id=kZuAsn7UYZ98WWh29hDPf&scope=directory%3Asoftware";

/// One mTLS target: where to connect, the TLS client (with or without session resumption).
#[derive(Clone)]
struct MtlsTarget {
    name: &'static str,
    addr: SocketAddr,
    path: String,
    tls: tokio_rustls::TlsConnector,
}

struct MtlsLoad {
    load: Load,
    /// Handshakes that resumed a session, of all connections made.
    resumed: usize,
    connections: usize,
}

/// The bare baseline of the mTLS section: a tokio accept loop, the mock's own mTLS server
/// configuration (rustls, client certificate required), hyper's HTTP/1.1 and HTTP/2, and a
/// fixed answer to a form that asks for `client_credentials` from a caller with a certificate.
async fn bare_mtls_server(
    listener: tokio::net::TcpListener,
    config: std::sync::Arc<rustls::ServerConfig>,
    answer: Bytes,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted { Ok((stream, _)) => stream, Err(_) => continue },
            _ = stop.changed() => return,
        };
        let _ = stream.set_nodelay(true);
        let (acceptor, answer) = (acceptor.clone(), answer.clone());
        tokio::spawn(async move {
            let Ok(tls) = acceptor.accept(stream).await else { return };
            let has_cert = tls.get_ref().1.peer_certificates().is_some_and(|c| !c.is_empty());
            let service = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                let answer = answer.clone();
                async move {
                    let form = http_body_util::BodyExt::collect(req.into_body())
                        .await
                        .map(|b| b.to_bytes())
                        .unwrap_or_default();
                    let ok = has_cert && contains(&form, b"grant_type=client_credentials");
                    let mut r =
                        axum::http::Response::new(axum::body::Body::from(if ok { answer } else { Bytes::new() }));
                    *r.status_mut() = if ok { StatusCode::OK } else { StatusCode::UNAUTHORIZED };
                    r.headers_mut()
                        .insert(header::CONTENT_TYPE, axum::http::HeaderValue::from_static("application/json"));
                    Ok::<_, std::convert::Infallible>(r)
                }
            });
            let builder = hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new());
            let _ = builder.serve_connection(hyper_util::rt::TokioIo::new(tls), service).await;
        });
    }
}

async fn openenergy_mtls_bench(cfg: &Config) -> Result<(), String> {
    use mock_server::tls::{pem_blocks, CertAuthority, TlsSetup};
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

    let server = mock_server::MockServer::start().await;
    let mtls: SocketAddr =
        server.endpoints().mtls.trim_start_matches("https://").parse().map_err(|e| format!("mtls address: {e}"))?;
    // A certificate for the demo consumer, from a CSR as oe_keygen shapes it.
    let key = rcgen::KeyPair::generate().map_err(|e| e.to_string())?;
    let mut params = rcgen::CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(rcgen::DnType::CountryName, "UK");
    params.distinguished_name.push(rcgen::DnType::OrganizationName, "Demo Energy Consumer Ltd");
    params.distinguished_name.push(rcgen::DnType::OrganizationalUnitName, "4b1c8f52-2d8a-4b7e-9c31-6f0e2a7d5c10");
    params.distinguished_name.push(rcgen::DnType::CommonName, "9f3e6a21-7c4b-4d8e-a512-3b6c9d0e1f27");
    let csr = params.serialize_request(&key).map_err(|e| e.to_string())?.pem().map_err(|e| e.to_string())?;
    let issued = server.sign_csr(csr.as_bytes(), 86_400).map_err(|e| e.to_string())?;
    let der = |pem: &str| pem_blocks(pem).into_iter().next().and_then(|b| b.der.ok()).ok_or("PEM");
    let mock_ca = CertificateDer::from(der(server.ca_pem())?);
    let mock_identity = (
        CertificateDer::from(issued.der.to_vec()),
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
    );

    // The bare baseline: the same mTLS configuration behind a bare hyper server, fixed answer.
    let sample = {
        let target = mtls_target("sample", mtls, "/openenergy/auth/token", &mock_ca, &mock_identity, true)?;
        mtls_once(&target).await.map(|(body, _)| body)?
    };
    let bare_ca = CertAuthority::ephemeral().map_err(|e| e.to_string())?;
    let bare_client = bare_ca.issue_client_cert("bench").map_err(|e| e.to_string())?;
    let bare_ca_der = bare_ca.cert_der.clone();
    let bare_tls = TlsSetup::new(bare_ca, PathBuf::from("unused-ca.pem"), &["127.0.0.1".to_owned()], None)
        .map_err(|e| e.to_string())?;
    let bare_key = der(&bare_client.key_pem)?;
    let bare_identity =
        (CertificateDer::from(der(&bare_client.cert_pem)?), PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(bare_key)));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(|e| e.to_string())?;
    let bare_addr = listener.local_addr().map_err(|e| e.to_string())?;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let bare_task =
        tokio::spawn(bare_mtls_server(listener, bare_tls.mtls_config.clone(), Bytes::from(sample), stopped));

    let path = "/openenergy/auth/token";
    let targets = [
        mtls_target(
            "bare  mTLS full handshake",
            bare_addr,
            "/token",
            &CertificateDer::from(bare_ca_der.to_vec()),
            &bare_identity,
            false,
        )?,
        mtls_target("mock  mTLS full handshake", mtls, path, &mock_ca, &mock_identity, false)?,
        mtls_target(
            "bare  mTLS resumed session",
            bare_addr,
            "/token",
            &CertificateDer::from(bare_ca_der.to_vec()),
            &bare_identity,
            true,
        )?,
        mtls_target("mock  mTLS resumed session", mtls, path, &mock_ca, &mock_identity, true)?,
    ];
    let mut loads = Vec::new();
    for target in &targets {
        let load = mtls_closed_loop(target, cfg).await?;
        eprintln!(
            "{}: {:.0} req/s, p50 {:.2} ms, resumed {}/{}",
            load.load.name,
            load.load.rate(),
            ms(load.load.p50),
            load.resumed,
            load.connections
        );
        loads.push(load);
    }
    // Keep-alive over one handshake per connection, for scale.
    let identity = reqwest::Identity::from_pem(format!("{}{}", issued.certificate, key.serialize_pem()).as_bytes())
        .map_err(|e| e.to_string())?;
    let keep_alive_client = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(server.ca_pem().as_bytes()).map_err(|e| e.to_string())?])
        .identity(identity)
        .no_proxy()
        .pool_max_idle_per_host(cfg.connections)
        .build()
        .map_err(|e| e.to_string())?;
    let keep_alive =
        Target::token_form("mock  mTLS keep-alive", format!("{}{path}", server.endpoints().mtls), OE_TOKEN_FORM);
    let keep = closed_loop_with(&keep_alive, cfg, keep_alive_client).await?;
    let _ = stop.send(true);
    let _ = bare_task.await;
    server.shutdown().await;
    print_mtls_report(&loads, &keep);
    Ok(())
}

fn mtls_target(
    name: &'static str,
    addr: SocketAddr,
    path: &str,
    ca: &rustls::pki_types::CertificateDer<'static>,
    identity: &(rustls::pki_types::CertificateDer<'static>, rustls::pki_types::PrivateKeyDer<'static>),
    resume: bool,
) -> Result<MtlsTarget, String> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.clone()).map_err(|e| e.to_string())?;
    let mut config = rustls::ClientConfig::builder_with_provider(mock_server::tls::crypto_provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_client_auth_cert(vec![identity.0.clone()], identity.1.clone_key())
        .map_err(|e| e.to_string())?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    if !resume {
        config.resumption = rustls::client::Resumption::disabled();
    }
    Ok(MtlsTarget { name, addr, path: path.to_owned(), tls: tokio_rustls::TlsConnector::from(Arc::new(config)) })
}

/// One connection, one request: the body of a 200 with an access token, and whether the
/// session was resumed.
async fn mtls_once(target: &MtlsTarget) -> Result<(Vec<u8>, bool), String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let tcp =
        tokio::net::TcpStream::connect(target.addr).await.map_err(|e| format!("{}: connect: {e}", target.name))?;
    let _ = tcp.set_nodelay(true);
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").map_err(|e| e.to_string())?;
    let mut tls = target.tls.connect(name, tcp).await.map_err(|e| format!("{}: handshake: {e}", target.name))?;
    let resumed = tls.get_ref().1.handshake_kind() == Some(rustls::HandshakeKind::Resumed);
    let request = format!(
        "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{OE_TOKEN_FORM}",
        target.path,
        target.addr,
        OE_TOKEN_FORM.len()
    );
    tls.write_all(request.as_bytes()).await.map_err(|e| format!("{}: write: {e}", target.name))?;
    // Read the head, then exactly Content-Length bytes (no reliance on close_notify).
    let mut buf = Vec::with_capacity(2048);
    let mut chunk = [0u8; 4096];
    let (head_end, length) = loop {
        let n = tls.read(&mut chunk).await.map_err(|e| format!("{}: read: {e}", target.name))?;
        if n == 0 {
            return Err(format!("{}: connection closed before the answer", target.name));
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:").map(|v| v.trim().parse::<usize>().unwrap_or(0)))
                .ok_or_else(|| format!("{}: no content-length", target.name))?;
            if !head.starts_with("http/1.1 200") {
                return Err(format!("{}: {}", target.name, String::from_utf8_lossy(&buf)));
            }
            break (end + 4, length);
        }
    };
    while buf.len() < head_end + length {
        let n = tls.read(&mut chunk).await.map_err(|e| format!("{}: read: {e}", target.name))?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = buf[head_end..].to_vec();
    if !contains(&body, b"\"access_token\"") {
        return Err(format!("{}: no access_token in {}", target.name, String::from_utf8_lossy(&body)));
    }
    Ok((body, resumed))
}

async fn mtls_closed_loop(target: &MtlsTarget, cfg: &Config) -> Result<MtlsLoad, String> {
    let measure_from = Instant::now() + cfg.warmup;
    let end = measure_from + cfg.measure;
    let tasks: Vec<_> = (0..cfg.connections)
        .map(|_| {
            let target = target.clone();
            tokio::spawn(async move {
                let (mut worker, mut resumed, mut connections) = (Worker::default(), 0usize, 0usize);
                while Instant::now() < end {
                    let sent = Instant::now();
                    let answer = mtls_once(&target).await;
                    let done = Instant::now();
                    connections += 1;
                    if let Ok((_, true)) = &answer {
                        resumed += 1;
                    }
                    worker.record(answer.map(|_| ()), (sent >= measure_from && done <= end).then(|| done - sent));
                }
                (worker, resumed, connections)
            })
        })
        .collect();
    let (mut all, mut resumed, mut connections) = (Worker::default(), 0, 0);
    for task in tasks {
        let (w, r, c) = task.await.map_err(|e| e.to_string())?;
        all.merge(w);
        resumed += r;
        connections += c;
    }
    if all.failures > 0 {
        return Err(format!(
            "{}: {} wrong answers; the first: {}",
            target.name,
            all.failures,
            all.first_error.unwrap_or_default()
        ));
    }
    if all.latencies.is_empty() {
        return Err(format!("{}: no request completed in the measured window", target.name));
    }
    all.latencies.sort_unstable();
    let load = Load {
        name: target.name,
        requests: all.latencies.len(),
        seconds: cfg.measure.as_secs_f64(),
        p50: percentile(&all.latencies, 0.50),
        p99: percentile(&all.latencies, 0.99),
    };
    Ok(MtlsLoad { load, resumed, connections })
}

/// [`closed_loop`] with a given client (e.g. one presenting a client certificate).
async fn closed_loop_with(target: &Target, cfg: &Config, client: reqwest::Client) -> Result<Load, String> {
    let measure_from = Instant::now() + cfg.warmup;
    let end = measure_from + cfg.measure;
    let tasks: Vec<_> = (0..cfg.connections)
        .map(|_| {
            let (client, target) = (client.clone(), target.clone());
            tokio::spawn(async move {
                let mut worker = Worker::default();
                while Instant::now() < end {
                    let sent = Instant::now();
                    let answer = target.send(&client).await;
                    let done = Instant::now();
                    worker.record(answer, (sent >= measure_from && done <= end).then(|| done - sent));
                }
                worker
            })
        })
        .collect();
    let mut all = Worker::default();
    for task in tasks {
        all.merge(task.await.map_err(|e| e.to_string())?);
    }
    if all.failures > 0 {
        let first = all.first_error.unwrap_or_default();
        return Err(format!("{}: {} wrong answers; the first: {first}", target.name, all.failures));
    }
    if all.latencies.is_empty() {
        return Err(format!("{}: no request completed in the measured window", target.name));
    }
    all.latencies.sort_unstable();
    Ok(Load {
        name: target.name,
        requests: all.latencies.len(),
        seconds: cfg.measure.as_secs_f64(),
        p50: percentile(&all.latencies, 0.50),
        p99: percentile(&all.latencies, 0.99),
    })
}

fn print_mtls_report(loads: &[MtlsLoad], keep_alive: &Load) {
    println!();
    println!(
        "{:<36} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "Open Energy POST /token over mTLS", "req/s", "p50 ms", "p99 ms", "requests", "resumed"
    );
    for l in loads {
        let resumed = format!("{:.0}%", 100.0 * l.resumed as f64 / l.connections.max(1) as f64);
        println!(
            "  {:<34} {:>9.0} {:>9.2} {:>9.2} {:>9} {:>9}",
            l.load.name,
            l.load.rate(),
            ms(l.load.p50),
            ms(l.load.p99),
            l.load.requests,
            resumed
        );
    }
    println!(
        "  {:<34} {:>9.0} {:>9.2} {:>9.2} {:>9}",
        keep_alive.name,
        keep_alive.rate(),
        ms(keep_alive.p50),
        ms(keep_alive.p99),
        keep_alive.requests
    );
    let rate = |prefix: &str| loads.iter().find(|l| l.load.name.starts_with(prefix)).map(|l| l.load.rate());
    for (label, mock, bare) in [
        ("ratio mock / bare, full handshakes", "mock  mTLS full", "bare  mTLS full"),
        ("ratio mock / bare, resumed sessions", "mock  mTLS resumed", "bare  mTLS resumed"),
        ("ratio mock resumed / mock full", "mock  mTLS resumed", "mock  mTLS full"),
    ] {
        if let (Some(m), Some(b)) = (rate(mock), rate(bare)) {
            println!("  {label:<34} {:>8.2}x", m / b);
        }
    }
    println!("  (a new connection per request, Connection: close; every answer checked: 200 with an access token)");
}

// ---------------------------------------------------------------------------------------------
// Report

fn print_report(cfg: &Config, startup: Option<&Startup>, loads: &[Load]) {
    println!();
    println!("mock-server benchmark ({})", cfg.describe());
    println!();
    match startup {
        Some(s) => {
            let row = |label: &str, d: Duration| println!("{label:<58} {:>10.1}", ms(d));
            println!("{:<58} {:>10}", format!("start to ready, real release binary ({} runs)", s.runs), "median ms");
            row("  cold: empty certificates directory, spare keys cached", s.cold);
            row("  cold, spare-key cache off", s.cold_no_spares);
            row("  the first start on an empty cache (1 run)", s.first_ever);
            row("  warm: the certificates directory reused", s.warm);
            row("  --version (process spawn baseline)", s.spawn);
            println!("{:<58} {:>9.1}x", "  ratio cold / --version", s.cold.as_secs_f64() / s.spawn.as_secs_f64());
            println!("{:<58} {:>9.1}x", "  ratio warm / --version", s.warm.as_secs_f64() / s.spawn.as_secs_f64());
            row("  first token after a cold start (Opinum, RS256)", s.first_token);
            row("  later tokens (5 per start)", s.later_tokens);
            row("  first token, spare-key cache off", s.first_token_no_spares);
            row("  one RS256 signature (2048-bit key, in process)", s.signature);
            println!(
                "{:<58} {:>9.1}x",
                "  (first - later token) / one signature",
                (s.first_token.as_secs_f64() - s.later_tokens.as_secs_f64()) / s.signature.as_secs_f64()
            );
        }
        None => println!("start-up: skipped (build it first: cargo build --release -p mock-server)"),
    }
    if loads.is_empty() {
        return;
    }
    println!();
    println!(
        "{:<36} {:>9} {:>9} {:>9} {:>9}",
        "HTTP/1.1 keep-alive, in-process", "req/s", "p50 ms", "p99 ms", "requests"
    );
    for l in loads {
        println!("  {:<34} {:>9.0} {:>9.2} {:>9.2} {:>9}", l.name, l.rate(), ms(l.p50), ms(l.p99), l.requests);
    }
    let rate = |prefix: &str| loads.iter().find(|l| l.name.starts_with(prefix)).map(Load::rate);
    let ratio = |label: &str, mock: &str, bare: &str| {
        if let (Some(m), Some(b)) = (rate(mock), rate(bare)) {
            println!("  {label:<34} {:>8.2}x", m / b);
        }
    };
    ratio("ratio kalibrate token / bare", "mock  POST kalibrate token", "bare  POST axum form");
    ratio("ratio opinum token / bare", "mock  POST opinum password", "bare  POST axum form");
    ratio("ratio opinum push / bare push", "mock  POST opinum push", "bare  POST axum push");
    if let (Some(m), Some(b)) = (rate("mock  POST opinum push"), rate("bare  POST axum push")) {
        println!(
            "  {:<34} {:>9.0} vs {:.0} bare",
            "push points/s",
            m * POINTS_PER_PUSH as f64,
            b * POINTS_PER_PUSH as f64
        );
    }
    println!("  (every response checked: 200 and the expected JSON key; 0 failures)");
    println!();
    println!("reproduce: {}", cfg.command());
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn median(samples: &[Duration]) -> Duration {
    let mut sorted = samples.to_vec();
    sorted.sort_unstable();
    percentile(&sorted, 0.5)
}

/// Nearest-rank percentile of sorted samples.
fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

// ---------------------------------------------------------------------------------------------
// 4. IoT Open: MQTT messages/s through the gate (vs. mosquitto on the same harness) and a
//    history query over one million points
//
// Four publishers and one subscriber on one machine, the same client code (a raw MQTT 3.1.1
// client over TCP) against the mock's gate and against a mosquitto started on a free loopback
// port (when the Debian package is installed). QoS 0: the publishers pipeline bursts of 5000
// messages each and send the next burst once the subscriber has all of the last (so no broker
// is measured dropping what a subscriber cannot take); the rate is messages delivered per
// second, end to end.
// QoS 1: the same bursts, every publisher keeping 64 messages in flight and sending the next as
// PUBACKs come (a sliding window); the subscriber acknowledges what has arrived, in one write.
// Nothing in the clients waits on a timer: tokio rounds any sleep or timeout up to its next
// millisecond tick, and a publisher that waited for "more PUBACKs within 0 s" after each batch
// topped up its window about once a millisecond, which was what an earlier version of this
// harness measured. Without the bursts, publishers that are PUBACKed on arrival outrun the
// subscriber, and rumqttd drops what a subscriber lags behind by more than its commit log holds
// (10 segments of 1 MiB per filter in the gate's engine: a cursor jump, messages lost) where
// this mosquitto queues up to a million. The gate's messages are IoT Open values (`1001/obj/bench/N`, JSON
// `{"timestamp", "value"}`), so each one is also authorized, stored into current values and
// history and journaled: the QoS 0 run leaves the million points the history query then reads
// (`GET /api/v3beta/log/2001`: the newest page with the total count, one topic of four, and an
// hourly average), each timed five times through the HTTP API.
//
// Knobs: `BENCH_MQTT_MESSAGES` (QoS 0 total, default 1000000), `BENCH_MQTT_QOS1_MESSAGES`
// (default 100000).

#[path = "../tests/common/mqtt.rs"]
mod mqtt_client;

const MQTT_PUBLISHERS: usize = 4;
const MQTT_QOS1_WINDOW: usize = 64;
const ANNA_KEY: &str = "f7650807dffc43c98710bdd942d78b68";

struct MqttRun {
    label: String,
    sent: usize,
    delivered: usize,
    seconds: f64,
}

impl MqttRun {
    fn rate(&self) -> f64 {
        self.delivered as f64 / self.seconds
    }
}

async fn iotopen_mqtt_bench() -> Result<(), String> {
    let qos0_total = env_number("BENCH_MQTT_MESSAGES", 1_000_000.0) as usize;
    let qos1_total = env_number("BENCH_MQTT_QOS1_MESSAGES", 100_000.0) as usize;
    // The default history keeps 20,000 points per installation; this one keeps them all.
    let fixtures = mock_server::fixtures::DEFAULT_FIXTURES.replacen(
        "history_max_points_per_installation = 20000",
        &format!("history_max_points_per_installation = {}", qos0_total + qos1_total + 1000),
        1,
    );
    let server = mock_server::MockServer::builder()
        .fixtures_toml(fixtures)
        .start()
        .await
        .map_err(|e| format!("the server did not start: {e:#}"))?;
    let gate = server.endpoints().mqtt.clone().ok_or("the server reports no MQTT listeners")?.tcp;
    let mut runs = Vec::new();
    let t0 = chrono::Utc::now().timestamp() as f64 - qos0_total as f64 - 10.0;
    runs.push(mqtt_run("gate      QoS 0", &gate, Some(ANNA_KEY), 0, qos0_total, t0).await?);
    let history = history_queries(&server, qos0_total).await?;
    runs.push(mqtt_run("gate      QoS 1", &gate, Some(ANNA_KEY), 1, qos1_total, t0).await?);
    let mosquitto = match Mosquitto::start() {
        Ok(m) => {
            let url = format!("mqtt://127.0.0.1:{}", m.port);
            runs.push(mqtt_run("mosquitto QoS 0", &url, None, 0, qos0_total, t0).await?);
            runs.push(mqtt_run("mosquitto QoS 1", &url, None, 1, qos1_total, t0).await?);
            Some(m.version.clone())
        }
        Err(why) => {
            eprintln!("mosquitto: {why}; its lines are skipped");
            None
        }
    };
    server.shutdown().await;

    println!();
    println!(
        "{:<40} {:>12} {:>10} {:>10}",
        "MQTT 3.1.1 over TCP, 4 publishers -> 1 subscriber", "msg/s", "delivered", "sent"
    );
    for r in &runs {
        println!("  {:<38} {:>12.0} {:>10} {:>10}", r.label, r.rate(), r.delivered, r.sent);
    }
    let rate = |label: &str| runs.iter().find(|r| r.label == label).map(MqttRun::rate);
    match (
        &mosquitto,
        rate("gate      QoS 0"),
        rate("mosquitto QoS 0"),
        rate("gate      QoS 1"),
        rate("mosquitto QoS 1"),
    ) {
        (Some(version), Some(g0), Some(m0), Some(g1), Some(m1)) => {
            println!("  {:<38} {:>11.2}x", "ratio gate / mosquitto QoS 0", g0 / m0);
            println!("  {:<38} {:>11.2}x", "ratio gate / mosquitto QoS 1", g1 / m1);
            println!("  ({version}, same client, same machine)");
        }
        _ => println!("  mosquitto: not installed (apt-get install mosquitto), comparison skipped"),
    }
    for r in runs.iter().filter(|r| r.delivered < r.sent) {
        println!("  {}: {} messages not delivered: its rate is not comparable", r.label.trim(), r.sent - r.delivered);
    }
    println!();
    println!(
        "{:<52} {:>9} {:>9}",
        format!("history query over {} points (HTTP, 5 runs)", history.points),
        "median ms",
        "max ms"
    );
    for (label, times) in &history.queries {
        let mut sorted = times.clone();
        sorted.sort_unstable();
        let verdict = if *sorted.last().unwrap() < Duration::from_secs(1) { "" } else { "  (over a second!)" };
        println!("  {:<50} {:>9.1} {:>9.1}{verdict}", label, ms(median(&sorted)), ms(*sorted.last().unwrap()));
    }
    Ok(())
}

/// Publishes `total` messages from [`MQTT_PUBLISHERS`] connections to one subscriber.
async fn mqtt_run(
    label: &str,
    url: &str,
    key: Option<&str>,
    qos: u8,
    total: usize,
    t0: f64,
) -> Result<MqttRun, String> {
    use mock_server::mqtt::codec::Version;
    use mqtt_client::Client;
    let connect = |id: String| {
        let url = url.to_owned();
        let key = key.map(str::to_owned);
        async move {
            let mut c = Client::tcp(&url, Version::V311).await.map_err(|e| format!("{url}: {e}"))?;
            match c.connect(&id, key.as_deref()).await {
                Ok(0) => Ok(c),
                other => Err(format!("{url}: CONNECT {other:?}")),
            }
        }
    };
    let mut sub = connect(format!("bench-sub-{qos}")).await?;
    if sub.subscribe(&["1001/obj/bench/#"], qos).await.map_err(|e| e.to_string())? != vec![qos] {
        return Err(format!("{label}: subscription refused"));
    }
    let per = total / MQTT_PUBLISHERS;
    let mut publishers = Vec::new();
    for p in 0..MQTT_PUBLISHERS {
        publishers.push(connect(format!("bench-pub-{qos}-{p}")).await?);
    }
    bursts(label, sub, publishers, per, qos, t0).await
}

/// The frame of message `i` of publisher `p`: timestamps interleave the publishers in time
/// order, as live devices do.
fn bench_frame(c: &mut mqtt_client::Client, p: usize, i: usize, qos: u8, t0: f64) -> Bytes {
    let ts = t0 + (i * MQTT_PUBLISHERS + p) as f64 / MQTT_PUBLISHERS as f64;
    let payload = format!(r#"{{"timestamp": {ts:.3}, "value": {i}}}"#);
    c.publish_bytes(&format!("1001/obj/bench/{p}"), payload.as_bytes(), qos)
}

/// Messages each publisher sends before it waits for the subscriber to have them all.
const MQTT_BURST: usize = 5_000;

/// Sends `per` messages from each publisher in bursts of [`MQTT_BURST`]: at QoS 0 each burst in
/// one write, at QoS 1 with [`MQTT_QOS1_WINDOW`] in flight per publisher. The next burst
/// starts once the subscriber has received the whole burst, so no broker is measured dropping
/// what a subscriber cannot take. The subscriber acknowledges QoS 1 messages in batches of
/// what has arrived. No step waits on a timer (tokio's round up to the next millisecond).
async fn bursts(
    label: &str,
    mut sub: mqtt_client::Client,
    mut publishers: Vec<mqtt_client::Client>,
    per: usize,
    qos: u8,
    t0: f64,
) -> Result<MqttRun, String> {
    use futures_util::FutureExt;
    use mock_server::mqtt::codec;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let expected = per * publishers.len();
    let received = Arc::new(AtomicUsize::new(0));
    let counter = received.clone();
    let started = Instant::now();
    let receiver = tokio::spawn(async move {
        let (mut n, mut last, mut acks) = (0, Instant::now(), bytes::BytesMut::new());
        'read: while n < expected {
            let mut next = sub.read_frame(Duration::from_secs(10)).await;
            // Whatever has arrived, then one write of its acknowledgements.
            loop {
                let Ok(Some(f)) = next else { break 'read };
                if codec::packet_type(&f) == codec::PUBLISH {
                    n += 1;
                    last = Instant::now();
                    counter.store(n, Ordering::Release);
                    let header = codec::frame(&f, usize::MAX >> 1).ok().flatten().map_or(2, |h| h.header_len);
                    if let Some((1, pkid)) = codec::publish_qos_pkid(&f, header) {
                        acks.extend_from_slice(&codec::success_ack(codec::PUBACK, pkid));
                    }
                }
                if acks.len() >= 4096 {
                    break;
                }
                match sub.read_frame(Duration::from_secs(10)).now_or_never() {
                    Some(more) => next = more,
                    None => break,
                }
            }
            if !acks.is_empty() && sub.write(&acks.split()).await.is_err() {
                break;
            }
        }
        (n, last)
    });
    let mut sent = 0;
    while sent < per {
        let burst = MQTT_BURST.min(per - sent);
        let tasks: Vec<_> = publishers
            .drain(..)
            .enumerate()
            .map(|(p, c)| tokio::spawn(publish_burst(c, p, sent..sent + burst, qos, t0)))
            .collect();
        for t in tasks {
            publishers.push(t.await.map_err(|e| e.to_string())??);
        }
        sent += burst;
        let target = sent * publishers.len();
        let waited = Instant::now();
        while received.load(Ordering::Acquire) < target
            && waited.elapsed() < Duration::from_secs(10)
            && !receiver.is_finished()
        {
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
        if received.load(Ordering::Acquire) < target {
            break;
        }
    }
    let (delivered, last) = receiver.await.map_err(|e| e.to_string())?;
    let seconds = last.duration_since(started).as_secs_f64();
    eprintln!("{label}: {delivered} of {expected} delivered in {seconds:.2} s");
    Ok(MqttRun { label: label.to_owned(), sent: expected, delivered, seconds })
}

/// Messages `range` of publisher `p`: at QoS 0 in one write; at QoS 1 with
/// [`MQTT_QOS1_WINDOW`] in flight, topped up with every PUBACK that has arrived.
async fn publish_burst(
    mut c: mqtt_client::Client,
    p: usize,
    range: std::ops::Range<usize>,
    qos: u8,
    t0: f64,
) -> Result<mqtt_client::Client, String> {
    use futures_util::FutureExt;
    if qos == 0 {
        let mut batch = bytes::BytesMut::new();
        for i in range {
            batch.extend_from_slice(&bench_frame(&mut c, p, i, 0, t0));
        }
        return c.write(&batch).await.map(|_| c).map_err(|e| e.to_string());
    }
    let (mut sent, mut acked) = (range.start, range.start);
    let acknowledged = |ack: &[u8]| match mqtt_client::ack_reason(ack) {
        0 => Ok(()),
        _ => Err("a publish was refused".to_owned()),
    };
    while acked < range.end {
        let mut batch = bytes::BytesMut::new();
        while sent < range.end && sent - acked < MQTT_QOS1_WINDOW {
            batch.extend_from_slice(&bench_frame(&mut c, p, sent, qos, t0));
            sent += 1;
        }
        if !batch.is_empty() {
            c.write(&batch).await.map_err(|e| e.to_string())?;
        }
        let ack = c.expect(4, Duration::from_secs(10)).await.map_err(|e| format!("PUBACK: {e}"))?;
        acknowledged(&ack)?;
        acked += 1;
        // The PUBACKs already here, without waiting for more.
        while let Some(Ok(Some(more))) = c.read_frame(Duration::from_secs(10)).now_or_never() {
            if mock_server::mqtt::codec::packet_type(&more) == mock_server::mqtt::codec::PUBACK {
                acknowledged(&more)?;
                acked += 1;
            }
        }
    }
    Ok(c)
}

struct History {
    points: usize,
    queries: Vec<(String, Vec<Duration>)>,
}

/// Times log queries over what the QoS 0 run stored in installation 2001.
async fn history_queries(server: &mock_server::MockServer, expected: usize) -> Result<History, String> {
    let http = client(4);
    let base = format!("{}/iotopen/api/api/v3beta/log/2001", server.endpoints().http);
    let get = |query: String| {
        let (http, url) = (http.clone(), format!("{base}?{query}"));
        async move {
            let started = Instant::now();
            let r = http.get(&url).header("X-API-Key", ANNA_KEY).send().await.map_err(|e| e.to_string())?;
            let status = r.status();
            let body: serde_json::Value = r.json().await.map_err(|e| e.to_string())?;
            if status != StatusCode::OK {
                return Err(format!("{url}: {status} {body}"));
            }
            Ok::<_, String>((started.elapsed(), body))
        }
    };
    let range = "from=0&to=99999999999";
    let (_, all) = get(format!("{range}&limit=1")).await?;
    let points = all["total"].as_u64().unwrap_or(0) as usize;
    if points < expected {
        eprintln!("history: {points} of {expected} points stored");
    }
    let mut queries = Vec::new();
    for (label, query) in [
        ("newest 500 of all, with the total", format!("{range}&limit=500")),
        ("newest 500 of one topic of 4, with its total", format!("{range}&limit=500&topics=obj/bench/2")),
        ("hourly average, every topic", format!("{range}&limit=100000&aggr_method=avg&aggr_interval=1h0m0s")),
    ] {
        let mut times = Vec::new();
        for _ in 0..5 {
            times.push(get(query.clone()).await?.0);
        }
        queries.push((label.to_owned(), times));
    }
    Ok(History { points, queries })
}

/// A mosquitto broker on a free loopback port, stopped when dropped.
struct Mosquitto {
    child: std::process::Child,
    port: u16,
    version: String,
    _dir: PathBuf,
}

impl Mosquitto {
    fn start() -> Result<Mosquitto, String> {
        let bin = ["/usr/sbin/mosquitto", "/usr/bin/mosquitto", "/usr/local/sbin/mosquitto"]
            .into_iter()
            .map(PathBuf::from)
            .find(|p| p.is_file())
            .ok_or("not installed (apt-get install mosquitto)")?;
        let port =
            std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map_err(|e| e.to_string())?.port();
        let dir = scratch_dir();
        let conf = dir.join("mosquitto.conf");
        std::fs::write(&conf, format!("listener {port} 127.0.0.1\nallow_anonymous true\nmax_inflight_messages 100\nmax_queued_messages 1000000\npersistence false\n"))
            .map_err(|e| e.to_string())?;
        let version = Command::new(&bin).arg("-h").output().ok().and_then(|o| {
            let text = String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr);
            text.lines().next().map(|l| l.trim().to_owned())
        });
        let child = Command::new(&bin)
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| e.to_string())?;
        let m = Mosquitto { child, port, version: version.unwrap_or_else(|| "?".into()), _dir: dir };
        for _ in 0..200 {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Ok(m);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Err("did not start listening".into())
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self._dir);
    }
}

// ---------------------------------------------------------------------------------------------
// 4b. IoT Open: MQTT connections, gate vs. mosquitto
//
// Two measurements of what a connection costs, each against the gate and against a mosquitto
// (a new one, anonymous as above) with the same raw MQTT 3.1.1 client over TCP. The gate runs
// here in a process of its own, as mosquitto does: this bench binary started again as a child
// (`MQTT_SERVER_CHILD`) that serves the library's server on free loopback ports with the embedded
// fixtures, with room for the idle connections below (the binary's limit is 2000; its
// command line has no option for it). So the client's memory is not in the server's.
//
// - Connect rate: `BENCH_MQTT_CONNECTS` clients (default 2000), `BENCH_MQTT_CONNECT_CONCURRENCY`
//   at once (default 16), each a new TCP connection, CONNECT (clean session, a client id of its
//   own; the API key as password for the gate), CONNACK, DISCONNECT and close: CONNACKs per
//   second over the whole run, and the median CONNECT → CONNACK time.
// - Memory of idle connections: `BENCH_MQTT_IDLE` connections (default 10000; 0 skips it)
//   opened 64 at a time, each CONNECTed (keep-alive 600 s) and then quiet. The broker's VmRSS
//   (`/proc/PID/status`) before and 1 s after the last CONNACK, over the number of connections.
//   Before each reading the gate's process hands freed memory back (`malloc_trim`, what the
//   binary does every 10 s). A connection holds one descriptor in the broker and one here
//   (the gate reaches its engine through an in-process pipe), so the bench raises its
//   open-files limit, which the servers inherit.

/// Set in the environment of this binary started again as the gate's process: the most MQTT
/// connections it lets in.
const MQTT_SERVER_CHILD: &str = "BENCH_MQTT_SERVER_CHILD";
/// The idle connections' keep-alive in seconds (longer than any run), and how many open at once.
const IDLE_KEEP_ALIVE: u16 = 600;
const IDLE_OPEN_AT_ONCE: usize = 64;

/// This binary as the gate's process: serves, prints the MQTT TCP URL, then answers `trim` on
/// stdin (gives freed memory back, says `trimmed`) until stdin closes.
fn mqtt_server_child(max_connections: &str) -> ExitCode {
    use std::io::BufRead;
    let Ok(max_connections) = max_connections.parse::<usize>() else { return ExitCode::FAILURE };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    let mut options = mock_server::Options::ephemeral();
    options.mqtt.max_connections = max_connections;
    let running = match runtime.block_on(mock_server::server::start(options)) {
        Ok(running) => running,
        Err(e) => {
            eprintln!("the server did not start: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    let Some(mqtt) = running.endpoints.mqtt.clone() else { return ExitCode::FAILURE };
    println!("{}", mqtt.tcp);
    let _ = std::io::stdout().flush();
    for line in std::io::stdin().lock().lines() {
        match line.as_deref().map(str::trim) {
            Ok("trim") => {
                mock_server::memory::give_back();
                println!("trimmed");
                let _ = std::io::stdout().flush();
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
    runtime.block_on(running.shutdown());
    ExitCode::SUCCESS
}

/// The gate in a process of its own (this binary, [`mqtt_server_child`]); killed when dropped.
struct GateProcess {
    child: std::process::Child,
    stdin: Option<std::process::ChildStdin>,
    stdout: std::io::BufReader<std::process::ChildStdout>,
    url: String,
}

impl GateProcess {
    fn start(max_connections: usize) -> Result<GateProcess, String> {
        use std::io::BufRead;
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let mut child = Command::new(exe)
            .env(MQTT_SERVER_CHILD, max_connections.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("starting the gate's process: {e}"))?;
        let stdin = child.stdin.take();
        let mut stdout = std::io::BufReader::new(child.stdout.take().ok_or("no stdout")?);
        let mut url = String::new();
        stdout.read_line(&mut url).map_err(|e| e.to_string())?;
        let url = url.trim().to_owned();
        let mut gate = GateProcess { child, stdin, stdout, url };
        if !gate.url.starts_with("mqtt://") {
            let _ = gate.child.kill();
            return Err(format!("the gate's process did not start (it said {:?})", gate.url));
        }
        gate.trim()?;
        Ok(gate)
    }

    /// Has the process give freed memory back to the system, and waits until it has.
    fn trim(&mut self) -> Result<(), String> {
        use std::io::BufRead;
        let stdin = self.stdin.as_mut().ok_or("stdin closed")?;
        stdin.write_all(b"trim\n").and_then(|_| stdin.flush()).map_err(|e| e.to_string())?;
        let mut answer = String::new();
        self.stdout.read_line(&mut answer).map_err(|e| e.to_string())?;
        (answer.trim() == "trimmed").then_some(()).ok_or_else(|| format!("the gate's process said {answer:?}"))
    }
}

impl Drop for GateProcess {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The resident set size of process `pid` in bytes (`VmRSS`), on Linux.
fn rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Raises this process's open-files limit to `want` (the soft limit up to the hard one, and
/// the hard one too where allowed); children started afterwards inherit it. The limit now.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn raise_open_files(want: u64) -> u64 {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit and setrlimit only read and write the struct passed.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return 1024;
        }
        if limit.rlim_cur >= want {
            return limit.rlim_cur;
        }
        let raised = libc::rlimit { rlim_cur: want, rlim_max: limit.rlim_max.max(want) };
        if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
            return want;
        }
        let soft = libc::rlimit { rlim_cur: limit.rlim_max.min(want), rlim_max: limit.rlim_max };
        if libc::setrlimit(libc::RLIMIT_NOFILE, &soft) == 0 {
            return soft.rlim_cur;
        }
        limit.rlim_cur
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn raise_open_files(_want: u64) -> u64 {
    1024
}

/// One broker's connection figures.
struct ConnectionRun {
    /// Connects accepted (CONNACK 0) in the connect-rate run, and those that failed.
    connects: usize,
    failed: usize,
    first_failure: Option<String>,
    seconds: f64,
    connack_p50: Duration,
    /// Idle connections held open, and the broker's VmRSS before and with them.
    idle: usize,
    rss_before: u64,
    rss_after: u64,
}

impl ConnectionRun {
    fn rate(&self) -> f64 {
        self.connects as f64 / self.seconds
    }

    fn bytes_per_idle(&self) -> Option<f64> {
        (self.idle > 0).then(|| (self.rss_after as f64 - self.rss_before as f64) / self.idle as f64)
    }
}

/// TCP connect, CONNECT (3.1.1, clean session), CONNACK accepted: the stream, and the time from
/// CONNECT sent to CONNACK read.
async fn mqtt_handshake(
    addr: &str,
    client_id: &str,
    key: Option<&str>,
    keep_alive: u16,
) -> Result<(tokio::net::TcpStream, Duration), String> {
    use mock_server::mqtt::codec::{self, Version};
    use rumqttd::protocol::{Connect, Login, Packet};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.map_err(|e| format!("{addr}: {e}"))?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    let connect = Connect { keep_alive, client_id: client_id.to_owned(), clean_session: true };
    let login = key.map(|k| Login { username: "apikey".into(), password: k.into() });
    let bytes =
        codec::encode(Version::V311, Packet::Connect(connect, None, None, None, login)).map_err(|e| e.to_string())?;
    let sent = Instant::now();
    stream.write_all(&bytes).await.map_err(|e| format!("{addr}: CONNECT: {e}"))?;
    let mut connack = [0u8; 4];
    tokio::time::timeout(Duration::from_secs(10), stream.read_exact(&mut connack))
        .await
        .map_err(|_| format!("{addr}: no CONNACK within 10 s"))?
        .map_err(|e| format!("{addr}: CONNACK: {e}"))?;
    if connack[0] != 0x20 || connack[3] != 0 {
        return Err(format!("{addr}: CONNACK {connack:02x?}"));
    }
    Ok((stream, sent.elapsed()))
}

/// A broker under test: its MQTT URL, the password it wants (the gate's API key), and the
/// process whose memory is read.
struct BrokerProcess<'a> {
    label: &'a str,
    url: &'a str,
    key: Option<&'a str>,
    pid: u32,
}

/// How many connections each run makes.
struct ConnectionPlan {
    connects: usize,
    at_once: usize,
    idle: usize,
}

/// The connect rate, then the idle connections' memory, against `broker`; `trim` runs before
/// each memory reading.
async fn connection_run(
    broker: BrokerProcess<'_>,
    trim: &mut dyn FnMut() -> Result<(), String>,
    plan: &ConnectionPlan,
) -> Result<ConnectionRun, String> {
    use futures_util::StreamExt;
    use tokio::io::AsyncWriteExt;
    let BrokerProcess { label, url, key, pid } = broker;
    let ConnectionPlan { connects, at_once, idle } = *plan;
    let addr = mqtt_client::authority(url);
    let started = Instant::now();
    let results: Vec<Result<Duration, String>> = futures_util::stream::iter(0..connects)
        .map(|i| {
            let addr = addr.clone();
            async move {
                let (mut stream, connack) = mqtt_handshake(&addr, &format!("bench-conn-{i}"), key, 60).await?;
                // DISCONNECT, then close.
                stream.write_all(&[0xe0, 0x00]).await.map_err(|e| format!("DISCONNECT: {e}"))?;
                Ok::<_, String>(connack)
            }
        })
        .buffer_unordered(at_once.max(1))
        .collect()
        .await;
    let seconds = started.elapsed().as_secs_f64();
    let (mut times, mut failed, mut first_failure) = (Vec::with_capacity(connects), 0, None);
    for r in results {
        match r {
            Ok(t) => times.push(t),
            Err(e) => {
                failed += 1;
                first_failure = first_failure.or(Some(e));
            }
        }
    }
    times.sort_unstable();
    let connack_p50 = if times.is_empty() { Duration::ZERO } else { median(&times) };
    eprintln!("{label}: {} connects in {seconds:.2} s, {failed} failed", times.len());

    let (mut rss_before, mut rss_after, mut opened) = (0, 0, 0);
    if idle > 0 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        trim()?;
        rss_before = rss_bytes(pid).ok_or("no VmRSS in /proc (Linux only)")?;
        let results: Vec<Result<tokio::net::TcpStream, String>> =
            futures_util::stream::iter(0..idle)
                .map(|i| {
                    let addr = addr.clone();
                    async move {
                        mqtt_handshake(&addr, &format!("bench-idle-{i}"), key, IDLE_KEEP_ALIVE).await.map(|(s, _)| s)
                    }
                })
                .buffer_unordered(IDLE_OPEN_AT_ONCE)
                .collect()
                .await;
        let mut held = Vec::with_capacity(idle);
        let mut failed = None;
        for r in results {
            match r {
                Ok(s) => held.push(s),
                Err(e) => failed = failed.or(Some(e)),
            }
        }
        opened = held.len();
        if let Some(e) = failed {
            eprintln!("{label}: {} of {idle} idle connections failed to open, first: {e}", idle - opened);
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        trim()?;
        rss_after = rss_bytes(pid).ok_or("no VmRSS in /proc (Linux only)")?;
        eprintln!(
            "{label}: {opened} idle connections, VmRSS {:.1} -> {:.1} MB",
            rss_before as f64 / 1e6,
            rss_after as f64 / 1e6
        );
        drop(held);
    }
    Ok(ConnectionRun {
        connects: times.len(),
        failed,
        first_failure,
        seconds,
        connack_p50,
        idle: opened,
        rss_before,
        rss_after,
    })
}

/// Connect rate and idle memory, gate vs. mosquitto; prints its table.
async fn mqtt_connections_bench() -> Result<(), String> {
    let connects = env_number("BENCH_MQTT_CONNECTS", 2000.0) as usize;
    let at_once = (env_number("BENCH_MQTT_CONNECT_CONCURRENCY", 16.0) as usize).max(1);
    let mut idle = env_number("BENCH_MQTT_IDLE", 10_000.0) as usize;
    if connects == 0 && idle == 0 {
        return Ok(());
    }
    // One descriptor a connection in the broker, one here; and room besides.
    let want = idle as u64 + 2048;
    let limit = raise_open_files(want);
    if limit < want {
        let fits = limit.saturating_sub(2048) as usize;
        eprintln!("open files limited to {limit}: {fits} idle connections instead of {idle}");
        idle = fits;
    }
    let plan = ConnectionPlan { connects, at_once, idle };
    let mut runs: Vec<(&str, ConnectionRun)> = Vec::new();
    {
        let mut gate = GateProcess::start(idle + at_once + 100)?;
        let (url, pid) = (gate.url.clone(), gate.child.id());
        let mut trim = || gate.trim();
        let gate_process = BrokerProcess { label: "gate", url: &url, key: Some(ANNA_KEY), pid };
        let run = connection_run(gate_process, &mut trim, &plan).await?;
        runs.push(("gate", run));
    }
    let mosquitto = match Mosquitto::start() {
        Ok(m) => {
            let url = format!("mqtt://127.0.0.1:{}", m.port);
            let mosquitto_process = BrokerProcess { label: "mosquitto", url: &url, key: None, pid: m.child.id() };
            let run = connection_run(mosquitto_process, &mut || Ok(()), &plan).await?;
            runs.push(("mosquitto", run));
            Some(m.version.clone())
        }
        Err(why) => {
            eprintln!("mosquitto: {why}; its lines are skipped");
            None
        }
    };

    println!();
    println!("{:<52} {:>12} {:>12} {:>8}", "MQTT 3.1.1 connections over TCP", "gate", "mosquitto", "ratio");
    let find = |name: &str| runs.iter().find(|(n, _)| *n == name).map(|(_, r)| r);
    let (gate, mosq) = (find("gate"), find("mosquitto"));
    let row = |label: String, g: Option<f64>, m: Option<f64>, unit: &str| {
        let cell = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |v| format!("{v:.0}{unit}"));
        let ratio = match (g, m) {
            (Some(g), Some(m)) if m != 0.0 => format!("{:.2}x", g / m),
            _ => "-".to_owned(),
        };
        println!("  {label:<50} {:>12} {:>12} {ratio:>8}", cell(g), cell(m));
    };
    if connects > 0 {
        row(
            format!("connect rate, {connects} clients, {at_once} at once (CONNACK/s)"),
            gate.map(ConnectionRun::rate),
            mosq.map(ConnectionRun::rate),
            "",
        );
        row(
            "  CONNECT -> CONNACK, median (us)".to_owned(),
            gate.map(|r| r.connack_p50.as_secs_f64() * 1e6),
            mosq.map(|r| r.connack_p50.as_secs_f64() * 1e6),
            "",
        );
        for (name, r) in runs.iter().filter(|(_, r)| r.failed > 0) {
            let first = r.first_failure.as_deref().unwrap_or("");
            println!("    {name}: {} of {connects} connects failed (not counted), first: {first}", r.failed);
        }
    }
    if idle > 0 {
        row(
            format!("memory of {idle} idle connections (VmRSS bytes each)"),
            gate.and_then(ConnectionRun::bytes_per_idle),
            mosq.and_then(ConnectionRun::bytes_per_idle),
            "",
        );
        for (name, r) in &runs {
            println!(
                "    {name}: {} open, VmRSS {:.1} MB before, {:.1} MB with them",
                r.idle,
                r.rss_before as f64 / 1e6,
                r.rss_after as f64 / 1e6
            );
        }
    }
    match mosquitto {
        Some(version) => println!("  ({version}, same client, same machine; the gate in a process of its own)"),
        None => println!("  mosquitto: not installed (apt-get install mosquitto), comparison skipped"),
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// 8. Proxy mode and runs
//
// The same `GET /api/status` with the same token, three ways, each over HTTPS with keep-alive
// connections: straight to the HTTPS listener (the baseline), through the HTTP listener as a
// proxy to `https://dev.data.thekalibratecloud.com` (one CONNECT per connection, then TLS and
// HTTP inside the tunnel), and to a run's prefixed URL (one more lookup per request). Then the
// cost of a namespace: creating and deleting a run, next to resetting the default namespace.

async fn proxy_and_runs_bench(cfg: &Config) -> Result<(), String> {
    let server = mock_server::MockServer::start().await;
    let run = server.run("bench").await.map_err(|e| e.to_string())?;
    let ca = reqwest::Certificate::from_pem(server.ca_pem().as_bytes()).map_err(|e| e.to_string())?;
    let tls_client = |proxy: Option<&str>| -> Result<reqwest::Client, String> {
        let mut b = reqwest::Client::builder()
            .tls_certs_only([ca.clone()])
            .no_proxy()
            .pool_max_idle_per_host(cfg.connections)
            .timeout(Duration::from_secs(10));
        if let Some(url) = proxy {
            b = b.proxy(reqwest::Proxy::all(url).map_err(|e| e.to_string())?);
        }
        b.build().map_err(|e| e.to_string())
    };
    let token_in = |login: String| async move {
        let target = Target::token("token", format!("{login}/{TENANT}/oauth2/v2.0/token"));
        let body = fetch_body_with(&target, &tls_client(None)?).await?;
        serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v["access_token"].as_str().map(str::to_owned))
            .ok_or_else(|| "no access_token".to_owned())
    };
    let token = token_in(server.url("kalibrate.login")).await?;
    let run_token = token_in(run.url("kalibrate.login")).await?;
    let direct = Target::status(
        "direct  https GET status",
        format!("{}/api/status", server.url("kalibrate.data")),
        token.clone(),
    );
    let proxied = Target::status(
        "proxied https GET status (real host)",
        "https://dev.data.thekalibratecloud.com/api/status".to_owned(),
        token,
    );
    let in_run = Target::status(
        "run     https GET status (/__run/ prefix)",
        format!("{}/api/status", run.url("kalibrate.data")),
        run_token,
    );
    let mut loads = Vec::new();
    for (target, proxy) in [(&direct, None), (&proxied, Some(server.proxy_url())), (&in_run, None)] {
        let load = closed_loop_with(target, cfg, tls_client(proxy)?).await?;
        eprintln!("{}: {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms", load.name, load.rate(), ms(load.p50), ms(load.p99));
        loads.push(load);
    }
    drop(run);

    let admin = client(1);
    let (mut creates, mut resets) = (Vec::new(), Vec::new());
    for i in 0..50 {
        let started = Instant::now();
        let created = admin
            .post(format!("{}/runs", server.admin_url()))
            .json(&serde_json::json!({"id": format!("r{i}")}))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if created.status() != StatusCode::CREATED {
            return Err(format!("POST runs: {}", created.status()));
        }
        admin.delete(format!("{}/runs/r{i}", server.admin_url())).send().await.map_err(|e| e.to_string())?;
        creates.push(started.elapsed());
        let started = Instant::now();
        let reset = admin.post(format!("{}/reset", server.admin_url())).send().await.map_err(|e| e.to_string())?;
        if reset.status() != StatusCode::OK {
            return Err(format!("POST reset: {}", reset.status()));
        }
        resets.push(started.elapsed());
    }
    server.shutdown().await;

    println!();
    println!(
        "{:<44} {:>9} {:>9} {:>9} {:>9}",
        "proxy mode and runs (HTTPS keep-alive)", "req/s", "p50 ms", "p99 ms", "requests"
    );
    for l in &loads {
        println!("  {:<42} {:>9.0} {:>9.2} {:>9.2} {:>9}", l.name, l.rate(), ms(l.p50), ms(l.p99), l.requests);
    }
    println!("  {:<42} {:>8.2}x", "ratio proxied / direct", loads[1].rate() / loads[0].rate());
    println!("  {:<42} {:>8.2}x", "ratio run prefix / direct", loads[2].rate() / loads[0].rate());
    let (create, reset) = (median(&creates), median(&resets));
    println!("  {:<42} {:>8.2} ms median of {}", "create + delete a run (admin API)", ms(create), creates.len());
    println!("  {:<42} {:>8.2} ms median of {}", "POST /__admin/reset (baseline)", ms(reset), resets.len());
    println!("  {:<42} {:>8.2}x", "ratio run create+delete / reset", create.as_secs_f64() / reset.as_secs_f64());
    Ok(())
}

async fn fetch_body_with(target: &Target, client: &reqwest::Client) -> Result<Vec<u8>, String> {
    let response = (target.build)(client).send().await.map_err(|e| e.to_string())?;
    let status = response.status();
    let body = response.bytes().await.map_err(|e| e.to_string())?;
    if status != StatusCode::OK {
        return Err(format!("{}: {status}: {}", target.name, String::from_utf8_lossy(&body)));
    }
    Ok(body.to_vec())
}
