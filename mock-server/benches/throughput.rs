//! How fast mock-server starts, and how many requests it answers, next to baselines measured in
//! the same run on the same machine, so the figures mean something on any hardware:
//!
//! 1. start-to-ready of the real release binary vs. spawning `mock-server --version`;
//! 2. the Kalibrate (Azure AD) token endpoint vs. a bare axum handler returning the same body;
//! 3. the Kalibrate data API `GET /api/status` with a bearer token;
//! 4. Opinum's password-grant token endpoint vs. the same bare handler;
//! 5. Opinum's standard push (points/s) vs. a bare handler that reads and parses the same JSON.
//!
//! Run: `cargo bench -p mock-server --bench throughput`. Tune with the environment variables
//! `BENCH_SECONDS` (measured seconds per target, default 5), `BENCH_WARMUP` (default 1),
//! `BENCH_CONNECTIONS` (default 16) and `BENCH_STARTS` (binary starts, default 15).
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
    let cfg = Config::from_env();
    eprintln!("{}", cfg.describe());
    let startup = match server_binary() {
        Ok(bin) => Some(startup_bench(&bin, cfg.starts)),
        Err(message) => {
            eprintln!("{message}");
            None
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    let loads = match runtime.block_on(load_bench(&cfg)) {
        Ok(loads) => loads,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::FAILURE;
        }
    };
    print_report(&cfg, startup.as_ref(), &loads);
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
}

impl Config {
    fn from_env() -> Self {
        let secs = |name: &str, default: f64| Duration::from_secs_f64(env_number(name, default).max(0.0));
        Config {
            warmup: secs("BENCH_WARMUP", 1.0),
            measure: secs("BENCH_SECONDS", 5.0).max(Duration::from_millis(100)),
            connections: (env_number("BENCH_CONNECTIONS", 16.0) as usize).max(1),
            starts: (env_number("BENCH_STARTS", 15.0) as usize).max(2),
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
    /// The first start creates the dev CA and keys in an empty certs directory.
    first: Duration,
    /// Median of the later starts, which reuse them.
    reuse: Duration,
    /// Median of `mock-server --version`: what spawning the process costs at all.
    spawn: Duration,
    reuse_runs: usize,
}

/// The binary cargo built for this bench (benches get `CARGO_BIN_EXE_*`); failing that, the
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

/// Starts the server `runs` times on one certs directory, interleaved with `--version` spawns
/// so both see the same machine load.
fn startup_bench(bin: &Path, runs: usize) -> Startup {
    let dir = scratch_dir();
    let mut starts = Vec::new();
    let mut spawns = Vec::new();
    for i in 0..runs {
        starts.push(start_once(bin, &dir).unwrap_or_else(|e| panic!("start {} of {bin:?}: {e}", i + 1)));
        spawns.push(version_once(bin));
    }
    let _ = std::fs::remove_dir_all(&dir);
    eprintln!("start-up: first {:.1} ms, then {:?} ms", ms(starts[0]), starts[1..].iter().map(|d| ms(*d).round()).collect::<Vec<_>>());
    Startup { first: starts[0], reuse: median(&starts[1..]), spawn: median(&spawns), reuse_runs: runs - 1 }
}

/// An empty private directory for certificates, the endpoints file and the child's stderr.
fn scratch_dir() -> PathBuf {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
    let dir = std::env::temp_dir().join(format!("mock-server-bench-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("creating the scratch directory");
    dir
}

/// Spawn → endpoints file written → `GET {admin}/health` is 200. Then kills the server.
fn start_once(bin: &Path, dir: &Path) -> Result<Duration, String> {
    let endpoints = dir.join("endpoints.json");
    let _ = std::fs::remove_file(&endpoints);
    let stderr = std::fs::File::create(dir.join("stderr.log")).map_err(|e| e.to_string())?;
    let started = Instant::now();
    let mut child = Command::new(bin)
        .args(["serve", "--http", "127.0.0.1:0", "--https", "127.0.0.1:0", "--mtls", "127.0.0.1:0", "--log", "warn"])
        .arg("--certs-dir")
        .arg(dir.join("certs"))
        .arg("--endpoints-file")
        .arg(&endpoints)
        .env_remove("MOCK_SERVER_CONFIG")
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .map_err(|e| e.to_string())?;
    let ready = wait_ready(&mut child, &endpoints, started);
    let _ = child.kill();
    let _ = child.wait();
    ready.map_err(|e| format!("{e}; server stderr: {}", std::fs::read_to_string(dir.join("stderr.log")).unwrap_or_default()))
}

/// Polls every 0.5 ms, which is well below the resolution the report shows.
fn wait_ready(child: &mut std::process::Child, endpoints: &Path, started: Instant) -> Result<Duration, String> {
    let deadline = started + Duration::from_secs(60);
    let mut admin: Option<String> = None;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("the server exited early ({status})"));
        }
        if Instant::now() > deadline {
            return Err("not ready after 60 s".into());
        }
        if admin.is_none() {
            admin = std::fs::read_to_string(endpoints)
                .ok()
                .and_then(|text| serde_json::from_str::<mock_server::Endpoints>(&text).ok())
                .map(|e| e.admin);
        }
        if let Some(admin) = &admin {
            if http_get_status(&format!("{admin}/health")) == Some(200) {
                return Ok(started.elapsed());
            }
        }
        std::thread::sleep(Duration::from_micros(500));
    }
}

/// A one-shot blocking HTTP/1.1 GET to an `http://127.0.0.1:port/...` URL; the status code.
fn http_get_status(url: &str) -> Option<u16> {
    let rest = url.strip_prefix("http://")?;
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let addr: SocketAddr = authority.parse().ok()?;
    assert!(addr.ip().is_loopback(), "the bench only talks to loopback, not {addr}");
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n").ok()?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).ok()?;
    std::str::from_utf8(head.strip_prefix(b"HTTP/1.1 ")?).ok()?.parse().ok()
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
            build: Arc::new(move |c| c.post(&url).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded").body(form)),
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
            build: Arc::new(move |c| c.post(&url).header(header::AUTHORIZATION, &bearer).header(header::CONTENT_TYPE, "application/json").body(body.clone())),
            must_contain: "",
        }
    }

    fn status(name: &'static str, url: String, token: String) -> Target {
        let bearer = format!("Bearer {token}");
        Target {
            name,
            build: Arc::new(move |c| c.get(&url).header(header::AUTHORIZATION, &bearer).header(header::USER_AGENT, "bench")),
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
    let token = Target::token("mock  POST kalibrate token", format!("{http}/kalibrate/login/{TENANT}/oauth2/v2.0/token"));

    // The bare server returns a real token response, so both move the same bytes.
    let sample = fetch_body(&token).await?;
    let access_token = serde_json::from_slice::<serde_json::Value>(&sample)
        .ok()
        .and_then(|v| v["access_token"].as_str().map(str::to_owned))
        .ok_or("the token response has no access_token")?;
    let bare_addr = start_bare_server(Bytes::from(sample.clone())).await;
    let bare = Target::token("bare  POST axum form->json", format!("http://{bare_addr}/token"));
    let status = Target::status("mock  GET  kalibrate data status", format!("{http}/kalibrate/data/api/status"), access_token);
    eprintln!("token response: {} bytes (the bare server returns the same body)", sample.len());

    let opinum_token = Target::token_form("mock  POST opinum password grant", format!("{http}/opinum/identity/connect/token"), OPINUM_PASSWORD_FORM);
    let opinum_access = serde_json::from_slice::<serde_json::Value>(&fetch_body(&opinum_token).await?)
        .ok()
        .and_then(|v| v["access_token"].as_str().map(str::to_owned))
        .ok_or("the Opinum token response has no access_token")?;
    let bare_push = Target::push("bare  POST axum push (parse JSON)", format!("http://{bare_addr}/push"), opinum_access.clone());
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
    let response = (target.build)(&client(1)).send().await.map_err(|e| e.to_string())?;
    let status = response.status();
    let body = response.bytes().await.map_err(|e| e.to_string())?;
    if status != StatusCode::OK {
        return Err(format!("{}: {status}: {}", target.name, String::from_utf8_lossy(&body)));
    }
    Ok(body.to_vec())
}

/// The floor: axum parses the same form and answers a fixed body, with no mock logic at all.
async fn start_bare_server(body: Bytes) -> SocketAddr {
    let handler = move |Form(form): Form<HashMap<String, String>>| {
        let body = body.clone();
        async move {
            match form.get("grant_type").map(String::as_str) {
                Some("client_credentials") => (StatusCode::OK, [(header::CONTENT_TYPE, "application/json; charset=utf-8")], body),
                _ => (StatusCode::BAD_REQUEST, [(header::CONTENT_TYPE, "application/json; charset=utf-8")], Bytes::new()),
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
    let client = client(cfg.connections);
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
// Report

fn print_report(cfg: &Config, startup: Option<&Startup>, loads: &[Load]) {
    println!();
    println!("mock-server benchmark ({})", cfg.describe());
    println!();
    match startup {
        Some(s) => {
            println!("{:<46} {:>10}", "start-up, real release binary", "median ms");
            println!("{:<46} {:>10.1}", "  serve, first start (creates the CA, 1 run)", ms(s.first));
            println!("{:<46} {:>10.1}", format!("  serve, CA reused ({} runs)", s.reuse_runs), ms(s.reuse));
            println!("{:<46} {:>10.1}", "  --version (process spawn baseline)", ms(s.spawn));
            println!("{:<46} {:>9.1}x", "  ratio serve (reused) / --version", s.reuse.as_secs_f64() / s.spawn.as_secs_f64());
        }
        None => println!("start-up: skipped (build it first: cargo build --release -p mock-server)"),
    }
    println!();
    println!("{:<36} {:>9} {:>9} {:>9} {:>9}", "HTTP/1.1 keep-alive, in-process", "req/s", "p50 ms", "p99 ms", "requests");
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
        println!("  {:<34} {:>9.0} vs {:.0} bare", "push points/s", m * POINTS_PER_PUSH as f64, b * POINTS_PER_PUSH as f64);
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
