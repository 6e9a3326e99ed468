//! Soak: does the release binary's memory stay bounded under mixed load for a long time?
//!
//! Starts `target/release/mock-server` as a child process on 127.0.0.1 (ports 0) and drives it
//! for `SOAK_SECONDS` (default 600) with:
//!
//! - HTTP at `SOAK_HTTP_RATE` requests/s (default 54) cycling through every provider: Kalibrate
//!   tokens and data, Opinum tokens and pushes, Knoema signed reads, Open Energy tokens over mTLS
//!   and data, IoT Open logins and logouts, API keys made and revoked, status reads, the journal;
//! - MQTT at `SOAK_MQTT_RATE` messages/s (default 100) from connections that each use a new
//!   client id, publish, and disconnect;
//! - a run created, used and deleted every `SOAK_RUN_EVERY` seconds (default 5);
//! - every `SOAK_BIG_EVERY` seconds (default 10) a 1-5 MB body to an endpoint that refuses it.
//!
//! Every `SOAK_SAMPLE_SECONDS` (default 10) it prints the server's resident set size (VmRSS)
//! and its anonymous part (RssAnon: heap and stacks; the rest is the binary's own pages)
//! with the work done so far; at the end, the RSS after `POST /__admin/reset`, and the verdict:
//! the peak, and the growth over the last half of the run (flat means no growth there).
//!
//! `SOAK_ONLY=http,mqtt` runs only the loads named (http, mqtt, runs, big), to see which one
//! grows; `SOAK_WRAPPER="heaptrack -o /tmp/soak"` starts the server under a tool (the RSS is then
//! the tool's process); `SOAK_BIN=path/to/mock-server` soaks another binary (an older build, as
//! a baseline).
//!
//! Run: `cargo bench -p mock-server --bench soak` (Linux: it reads `/proc/<pid>/status`).

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};

#[path = "../tests/common/mqtt.rs"]
mod mqtt_client;

const TENANT: &str = "efa98c7b-2114-46e8-be99-954a4f1a2d9c";
const KALIBRATE_FORM: &str = "client_id=0525b217-cbb9-4d4a-b8a1-7551c30098cf&client_secret=sandpit-read-secret\
    &grant_type=client_credentials\
    &scope=api%3A%2F%2Fdev.data.thekalibratecloud.com%2Fc770a337-3c7e-4bbe-a8cb-2fbc9601b94f%2F.default";
const OPINUM_FORM: &str = "grant_type=password&client_id=opinum-demo-client&client_secret=opinum-demo-secret\
    &username=pusher%40demo-energy.example&password=pusher-password&scope=datahub-api%20push-data";
const OPENENERGY_FORM: &str = "grant_type=client_credentials&client_id=kZuAsn7UYZ98WWh29hDPf";
const ANNA_KEY: &str = "f7650807dffc43c98710bdd942d78b68";
const ANNA_LOGIN: (&str, &str) = ("anna@demo-housing.example", "anna-password");
const KNOEMA_APP: (&str, &str) = ("demo-app", "demo-app-secret");
/// Topics the MQTT load spreads over (the server keeps current values per topic).
const MQTT_TOPICS: usize = 20;
/// Requests in one pass through the nine steps of [`Load::cycle`].
const REQUESTS_PER_CYCLE: f64 = 19.0;
/// Messages per MQTT connection: each connection publishes this many, then disconnects.
const MQTT_PER_CONNECTION: usize = 25;

struct Config {
    seconds: u64,
    http_rate: f64,
    mqtt_rate: f64,
    run_every: u64,
    big_every: u64,
    sample: u64,
    only: Vec<String>,
}

impl Config {
    fn from_env() -> Config {
        let number = |name: &str, default: f64| -> f64 {
            std::env::var(name).ok().and_then(|v| v.parse().ok()).filter(|v: &f64| *v > 0.0).unwrap_or(default)
        };
        Config {
            seconds: number("SOAK_SECONDS", 600.0) as u64,
            http_rate: number("SOAK_HTTP_RATE", 54.0),
            mqtt_rate: number("SOAK_MQTT_RATE", 100.0),
            run_every: number("SOAK_RUN_EVERY", 5.0) as u64,
            big_every: number("SOAK_BIG_EVERY", 10.0) as u64,
            sample: number("SOAK_SAMPLE_SECONDS", 10.0) as u64,
            only: std::env::var("SOAK_ONLY")
                .unwrap_or_default()
                .split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect(),
        }
    }

    /// Whether the load `name` (http, mqtt, runs, big) runs: all of them unless `SOAK_ONLY`
    /// names some.
    fn runs(&self, name: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|o| o == name)
    }
}

/// What the load has done so far; unexpected answers are counted, and the first few printed.
#[derive(Default)]
struct Counters {
    http: AtomicU64,
    mqtt: AtomicU64,
    runs: AtomicU64,
    big: AtomicU64,
    unexpected: AtomicU64,
}

impl Counters {
    fn unexpected(&self, what: &str) {
        if self.unexpected.fetch_add(1, Ordering::Relaxed) < 10 {
            eprintln!("unexpected: {what}");
        }
    }
}

/// An error and its causes, `: `-separated (reqwest's own message hides why a request failed).
fn with_causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(&format!(": {c}"));
        cause = c.source();
    }
    text
}

/// One sample of the server's memory, in kB.
#[derive(Clone, Copy)]
struct Memory {
    rss: u64,
    anon: u64,
}

struct Server {
    child: Child,
    dir: PathBuf,
    endpoints: mock_server::Endpoints,
}

impl Drop for Server {
    /// Terminates the server's whole process group: under `SOAK_WRAPPER` the child is the
    /// wrapper, and the server its own child, which killing the wrapper alone would orphan.
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let kill = |signal: &str| Command::new("kill").args([signal, "--", &group]).stderr(Stdio::null()).status();
        let _ = kill("-TERM");
        let deadline = Instant::now() + Duration::from_secs(10);
        while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = kill("-KILL");
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Server {
    fn start() -> Result<Server, String> {
        let bin = [
            std::env::var_os("SOAK_BIN").map(PathBuf::from),
            option_env!("CARGO_BIN_EXE_mock-server").map(PathBuf::from),
            Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/release/mock-server")),
        ]
        .into_iter()
        .flatten()
        .find(|p| p.is_file())
        .ok_or("no release binary: cargo build --release -p mock-server")?;
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
        let dir = std::env::temp_dir().join(format!("mock-server-soak-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let endpoints = dir.join("endpoints.json");
        // SOAK_WRAPPER runs the server under a tool (`heaptrack -o /tmp/soak`); the RSS is then the
        // wrapper's child's only if the wrapper execs it.
        let wrapper: Vec<String> =
            std::env::var("SOAK_WRAPPER").unwrap_or_default().split_whitespace().map(str::to_owned).collect();
        let mut command = match wrapper.split_first() {
            Some((program, args)) => {
                let mut c = Command::new(program);
                c.args(args).arg(&bin);
                c
            }
            None => Command::new(&bin),
        };
        let child = command
            .args(["serve", "--http", "127.0.0.1:0", "--https", "127.0.0.1:0", "--mtls", "127.0.0.1:0"])
            .args(["--listen", "knoema.api=127.0.0.1:0"])
            .args(["--mqtt", "127.0.0.1:0", "--mqtts", "127.0.0.1:0", "--mqtt-ws", "127.0.0.1:0", "--log", "warn"])
            .arg("--certs-dir")
            .arg(dir.join("certs"))
            .arg("--endpoints-file")
            .arg(&endpoints)
            .env_remove("MOCK_SERVER_CONFIG")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .process_group(0)
            .spawn()
            .map_err(|e| format!("{bin:?}: {e}"))?;
        let mut child = child;
        let deadline = Instant::now() + Duration::from_secs(60);
        let found = loop {
            if let Ok(Some(status)) = child.try_wait() {
                break Err(format!("the server exited early ({status})"));
            }
            if let Some(e) = std::fs::read_to_string(&endpoints).ok().and_then(|t| serde_json::from_str(&t).ok()) {
                break Ok(e);
            }
            if Instant::now() > deadline {
                break Err("no endpoints file after 60 s".to_owned());
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        match found {
            Ok(endpoints) => Ok(Server { child, dir, endpoints }),
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                Err(e)
            }
        }
    }

    /// The resident set size and its anonymous part (heap, stacks: what the process itself
    /// holds, not the binary's pages mapped from its file), in kB, from `/proc/<pid>/status`.
    fn memory_kb(&self) -> Memory {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
                .unwrap_or(0)
        };
        Memory { rss: field("VmRSS:"), anon: field("RssAnon:") }
    }

    fn url(&self, service: &str) -> String {
        self.endpoints.services.get(service).cloned().unwrap_or_else(|| panic!("no service {service}"))
    }

    /// A client certificate for the demo Open Energy consumer, signed with the server's CA (in
    /// its certs directory), as a PEM identity for reqwest.
    fn consumer_identity(&self) -> Result<reqwest::Identity, String> {
        let ca = mock_server::tls::CertAuthority::load_or_create(&self.dir.join("certs")).map_err(|e| e.to_string())?;
        let key = rcgen::KeyPair::generate().map_err(|e| e.to_string())?;
        let mut params = rcgen::CertificateParams::default();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params.distinguished_name.push(rcgen::DnType::CountryName, "UK");
        params.distinguished_name.push(rcgen::DnType::OrganizationName, "Demo Energy Consumer Ltd");
        params.distinguished_name.push(rcgen::DnType::OrganizationalUnitName, "4b1c8f52-2d8a-4b7e-9c31-6f0e2a7d5c10");
        params.distinguished_name.push(rcgen::DnType::CommonName, "9f3e6a21-7c4b-4d8e-a512-3b6c9d0e1f27");
        let csr = params.serialize_request(&key).map_err(|e| e.to_string())?.pem().map_err(|e| e.to_string())?;
        let validity = mock_server::tls::Validity::starting(chrono::Utc::now(), 86_400);
        let issued = ca.sign_csr(csr.as_bytes(), validity).map_err(|e| e.to_string())?;
        reqwest::Identity::from_pem(format!("{}{}", issued.certificate, key.serialize_pem()).as_bytes())
            .map_err(|e| e.to_string())
    }
}

fn main() -> ExitCode {
    let cfg = Config::from_env();
    eprintln!(
        "soak: {} s, {} HTTP requests/s, {} MQTT messages/s, a run every {} s, a 1-5 MB body every {} s; RSS every {} s{}",
        cfg.seconds,
        cfg.http_rate,
        cfg.mqtt_rate,
        cfg.run_every,
        cfg.big_every,
        cfg.sample,
        if cfg.only.is_empty() { String::new() } else { format!("; only {}", cfg.only.join(", ")) }
    );
    let server = match Server::start() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("soak: {e}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("tokio");
    match runtime.block_on(soak(&server, &cfg)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("soak: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn soak(server: &Server, cfg: &Config) -> Result<(), String> {
    let http = client(None, server)?;
    let mtls = client(Some(server.consumer_identity()?), server)?;
    // Warm up once so the first sample is the server at work, not the server idle.
    let counters = Arc::new(Counters::default());
    let stop = Arc::new(AtomicBool::new(false));
    let load = Load { http, mtls, server: server_urls(server), counters: counters.clone() };
    load.cycle(0).await;
    let start = server.memory_kb();

    let mut tasks = Vec::new();
    let steps_per_second = cfg.http_rate * 9.0 / REQUESTS_PER_CYCLE;
    let loads: [(&str, f64, Step); 4] = [
        ("http", steps_per_second, |load, i| Box::pin(async move { load.cycle(i).await })),
        ("mqtt", cfg.mqtt_rate / MQTT_PER_CONNECTION as f64, |load, i| {
            Box::pin(async move { load.mqtt_connection(i).await })
        }),
        ("runs", 1.0 / cfg.run_every as f64, |load, i| Box::pin(async move { load.run(i).await })),
        ("big", 1.0 / cfg.big_every as f64, |load, i| Box::pin(async move { load.big_body(i).await })),
    ];
    for (name, rate, step) in loads {
        if cfg.runs(name) {
            let load = load.clone();
            tasks.push(tokio::spawn(paced(rate, stop.clone(), move |i| step(load.clone(), i))));
        }
    }

    println!(
        "{:>6} {:>9} {:>9} {:>9} {:>9} {:>6} {:>5} {:>10}",
        "s", "RSS MB", "anon MB", "HTTP", "MQTT", "runs", "big", "unexpected"
    );
    let started = Instant::now();
    let mut samples = vec![(0u64, start)];
    print_sample(0, start, &counters);
    let mut next = cfg.sample;
    while next <= cfg.seconds {
        tokio::time::sleep_until(tokio::time::Instant::from_std(started + Duration::from_secs(next))).await;
        let memory = server.memory_kb();
        samples.push((next, memory));
        print_sample(next, memory, &counters);
        next += cfg.sample;
    }
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        let _ = t.await;
    }
    let reset = load.http.post(format!("{}/reset", load.server.admin)).send().await.map_err(|e| e.to_string())?;
    if !reset.status().is_success() {
        return Err(format!("reset: {}", reset.status()));
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after_reset = server.memory_kb();
    println!();
    let rss: Vec<(u64, u64)> = samples.iter().map(|(t, m)| (*t, m.rss)).collect();
    report("RSS", &rss, after_reset.rss);
    let anon: Vec<(u64, u64)> = samples.iter().map(|(t, m)| (*t, m.anon)).collect();
    report("anonymous RSS", &anon, after_reset.anon);
    println!(
        "work: {} HTTP requests, {} MQTT messages, {} runs, {} big bodies; {} unexpected answers",
        counters.http.load(Ordering::Relaxed),
        counters.mqtt.load(Ordering::Relaxed),
        counters.runs.load(Ordering::Relaxed),
        counters.big.load(Ordering::Relaxed),
        counters.unexpected.load(Ordering::Relaxed)
    );
    Ok(())
}

fn print_sample(at: u64, memory: Memory, c: &Counters) {
    println!(
        "{:>6} {:>9.1} {:>9.1} {:>9} {:>9} {:>6} {:>5} {:>10}",
        at,
        memory.rss as f64 / 1024.0,
        memory.anon as f64 / 1024.0,
        c.http.load(Ordering::Relaxed),
        c.mqtt.load(Ordering::Relaxed),
        c.runs.load(Ordering::Relaxed),
        c.big.load(Ordering::Relaxed),
        c.unexpected.load(Ordering::Relaxed)
    );
}

/// The peak, the growth over the second half (end minus the sample at half time, and the slope of
/// a least-squares line through the second half's samples) and what a reset gave back.
fn report(what: &str, samples: &[(u64, u64)], after_reset: u64) {
    let mb = |kb: u64| kb as f64 / 1024.0;
    let peak = samples.iter().map(|s| s.1).max().unwrap_or(0);
    let end = samples.last().copied().unwrap_or((0, 0));
    let half_time = end.0 / 2;
    let second_half: Vec<(u64, u64)> = samples.iter().copied().filter(|s| s.0 >= half_time).collect();
    let at_half = second_half.first().copied().unwrap_or(end);
    let n = second_half.len() as f64;
    let (mean_t, mean_r) = (
        second_half.iter().map(|s| s.0 as f64).sum::<f64>() / n,
        second_half.iter().map(|s| s.1 as f64).sum::<f64>() / n,
    );
    let covariance: f64 = second_half.iter().map(|s| (s.0 as f64 - mean_t) * (s.1 as f64 - mean_r)).sum();
    let variance: f64 = second_half.iter().map(|s| (s.0 as f64 - mean_t).powi(2)).sum();
    let slope_kb_per_min = if variance > 0.0 { covariance / variance * 60.0 } else { 0.0 };
    println!("{what}");
    println!("  start (after one cycle)   {:>8.1} MB", mb(samples[0].1));
    println!("  peak                      {:>8.1} MB", mb(peak));
    println!("  end                       {:>8.1} MB", mb(end.1));
    println!(
        "  last {:>4} s: {:+.1} MB (from {:.1} at {} s), slope {:+.0} kB/min",
        end.0 - at_half.0,
        mb(end.1) - mb(at_half.1),
        mb(at_half.1),
        at_half.0,
        slope_kb_per_min
    );
    println!("  after POST /__admin/reset {:>8.1} MB", mb(after_reset));
}

type BoxedStep = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;
/// One step of a load: its `i`-th unit of work.
type Step = fn(Load, u64) -> BoxedStep;

/// Calls `step(i)` for i = 0, 1, 2 ... at `rate` per second, each in a task of its own so a slow
/// answer does not slow the pace, until `stop`.
async fn paced<F, Fut>(rate: f64, stop: Arc<AtomicBool>, step: F)
where
    F: Fn(u64) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let mut ticks = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut running = tokio::task::JoinSet::new();
    let mut i = 0;
    while !stop.load(Ordering::Relaxed) {
        ticks.tick().await;
        running.spawn(step(i));
        i += 1;
        while running.try_join_next().is_some() {}
    }
    while running.join_next().await.is_some() {}
}

fn client(identity: Option<reqwest::Identity>, server: &Server) -> Result<reqwest::Client, String> {
    let ca = std::fs::read(&server.endpoints.ca).map_err(|e| format!("{}: {e}", server.endpoints.ca))?;
    let mut builder = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(&ca).map_err(|e| e.to_string())?])
        .user_agent("mock-server-soak/1.0")
        .no_proxy()
        .timeout(Duration::from_secs(30))
        // Below the server's idle timeout (60 s), so the pool never reuses a connection it closed.
        .pool_idle_timeout(Duration::from_secs(30));
    if let Some(identity) = identity {
        builder = builder.identity(identity);
    }
    builder.build().map_err(|e| e.to_string())
}

#[derive(Clone)]
struct Urls {
    admin: String,
    kalibrate_login: String,
    kalibrate_data: String,
    opinum_identity: String,
    opinum_push: String,
    opinum_api: String,
    knoema: String,
    openenergy_auth: String,
    openenergy_data: String,
    iotopen: String,
    mqtt: String,
}

fn server_urls(s: &Server) -> Urls {
    Urls {
        admin: s.endpoints.admin.clone(),
        kalibrate_login: s.url("kalibrate.login"),
        kalibrate_data: s.url("kalibrate.data"),
        opinum_identity: s.url("opinum.identity"),
        opinum_push: s.url("opinum.push"),
        opinum_api: s.url("opinum.api"),
        knoema: s.url("knoema.api"),
        openenergy_auth: s.url("openenergy.auth"),
        openenergy_data: s.url("openenergy.data"),
        iotopen: s.url("iotopen.api"),
        mqtt: s.endpoints.mqtt.as_ref().map(|m| m.tcp.clone()).unwrap_or_default(),
    }
}

#[derive(Clone)]
struct Load {
    http: reqwest::Client,
    mtls: reqwest::Client,
    server: Urls,
    counters: Arc<Counters>,
}

impl Load {
    /// Sends `request`, counts it, and returns the JSON body when the status is `expected`.
    async fn send(&self, what: &str, request: reqwest::RequestBuilder, expected: u16) -> Option<Value> {
        self.counters.http.fetch_add(1, Ordering::Relaxed);
        match request.send().await {
            Ok(r) if r.status().as_u16() == expected => Some(r.json().await.unwrap_or(Value::Null)),
            Ok(r) => {
                let status = r.status();
                let body = r.text().await.unwrap_or_default();
                self.counters.unexpected(&format!("{what}: {status} {}", &body[..body.len().min(200)]));
                None
            }
            Err(e) => {
                self.counters.unexpected(&format!("{what}: {}", with_causes(&e)));
                None
            }
        }
    }

    /// One step of the HTTP mix; step `i` picks the next of the providers' exchanges. Exchanges
    /// that need a token get a fresh one first, so each step is one to three requests.
    async fn cycle(&self, i: u64) {
        let s = &self.server;
        let form = |url: String, body: &'static str| {
            self.http.post(url).header("content-type", "application/x-www-form-urlencoded").body(body)
        };
        match i % 9 {
            0 => {
                let token = self
                    .send(
                        "kalibrate token",
                        form(format!("{}/{TENANT}/oauth2/v2.0/token", s.kalibrate_login), KALIBRATE_FORM),
                        200,
                    )
                    .await;
                if let Some(token) = token.as_ref().and_then(|t| t["access_token"].as_str()) {
                    for path in ["/api/status", "/api/price"] {
                        let url = format!("{}{path}", s.kalibrate_data);
                        self.send("kalibrate data", self.http.get(url).bearer_auth(token), 200).await;
                    }
                }
            }
            1 => {
                let token = self
                    .send("opinum token", form(format!("{}/connect/token", s.opinum_identity), OPINUM_FORM), 200)
                    .await;
                if let Some(token) = token.as_ref().and_then(|t| t["access_token"].as_str()) {
                    let at = chrono::Utc::now().to_rfc3339();
                    let push = json!([{"variableId": 100, "data": [{"date": at, "value": i as f64}]}]);
                    let url = format!("{}/api/data", s.opinum_push);
                    self.send("opinum push", self.http.post(url).bearer_auth(token).json(&push), 200).await;
                    let url = format!("{}/sites", s.opinum_api);
                    self.send("opinum sites", self.http.get(url).bearer_auth(token), 200).await;
                }
            }
            2 | 3 => {
                let url = format!("{}/api/1.0/meta/dataset/IMFWEO2024Oct", s.knoema);
                self.send("knoema meta", self.http.get(url).header("authorization", knoema_signature()), 200).await;
                let url = format!("{}/api/1.0/meta/dataset/DEMOSALES/daterange", s.knoema);
                self.send("knoema daterange", self.http.get(url).header("authorization", knoema_signature()), 200)
                    .await;
            }
            4 => {
                let url = format!("{}/token", s.openenergy_auth);
                let request = self
                    .mtls
                    .post(url)
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(OPENENERGY_FORM);
                let token = self.send("openenergy token", request, 200).await;
                if let Some(token) = token.as_ref().and_then(|t| t["access_token"].as_str()) {
                    let url = format!("{}/datasets/grid-intensity", s.openenergy_data);
                    let request = self
                        .mtls
                        .get(url)
                        .bearer_auth(token)
                        .header("x-fapi-interaction-id", "3fa85f64-5717-4562-b3fc-2c963f66afa6");
                    self.send("openenergy data", request, 200).await;
                }
            }
            5 => {
                let url = format!("{}/api/v2/auth", s.iotopen);
                let request = self.http.post(url.clone()).basic_auth(ANNA_LOGIN.0, Some(ANNA_LOGIN.1));
                let login = self.send("iotopen login", request, 200).await;
                if let Some(token) = login.as_ref().and_then(|t| t["token"].as_str()) {
                    self.send("iotopen logout", self.http.delete(url).header("x-api-key", token), 200).await;
                }
            }
            6 => {
                let url = format!("{}/api/v2/user/me/security/token", s.iotopen);
                let request = self.http.post(url.clone()).header("x-api-key", ANNA_KEY).json(&json!({"name": "soak"}));
                let key = self.send("iotopen key", request, 200).await;
                if let Some(id) = key.as_ref().and_then(|k| k["id"].as_i64()) {
                    let request = self.http.delete(format!("{url}/{id}")).header("x-api-key", ANNA_KEY);
                    self.send("iotopen key revoke", request, 200).await;
                }
            }
            7 => {
                let url = format!("{}/api/v2/status/2001", s.iotopen);
                self.send("iotopen status", self.http.get(url).header("x-api-key", ANNA_KEY), 200).await;
                let url = format!("{}/api/v3beta/log/2001?limit=10", s.iotopen);
                self.send("iotopen log", self.http.get(url).header("x-api-key", ANNA_KEY), 200).await;
            }
            _ => {
                let url = format!("{}/events?limit=50", s.admin);
                self.send("journal", self.http.get(url), 200).await;
            }
        }
    }

    /// A connection with a client id never used before: CONNECT, `MQTT_PER_CONNECTION` QoS 0
    /// values to the demo installation, DISCONNECT.
    async fn mqtt_connection(&self, i: u64) {
        use mock_server::mqtt::codec::Version;
        let url = &self.server.mqtt;
        let mut c = match mqtt_client::Client::tcp(url, Version::V311).await {
            Ok(c) => c,
            Err(e) => return self.counters.unexpected(&format!("mqtt connect: {e}")),
        };
        match c.connect(&format!("soak-{i}"), Some(ANNA_KEY)).await {
            Ok(0) => {}
            other => return self.counters.unexpected(&format!("mqtt CONNECT: {other:?}")),
        }
        let now = chrono::Utc::now().timestamp_millis() as f64 / 1000.0;
        let mut batch = bytes::BytesMut::new();
        for m in 0..MQTT_PER_CONNECTION {
            let payload = format!(r#"{{"timestamp": {:.3}, "value": {m}}}"#, now + m as f64 / 1000.0);
            batch.extend_from_slice(&c.publish_bytes(
                &format!("1001/obj/soak/{}", m % MQTT_TOPICS),
                payload.as_bytes(),
                0,
            ));
        }
        if let Err(e) = c.write(&batch).await {
            return self.counters.unexpected(&format!("mqtt publish: {e}"));
        }
        self.counters.mqtt.fetch_add(MQTT_PER_CONNECTION as u64, Ordering::Relaxed);
        c.disconnect().await;
    }

    /// A run: created, one token and one data read inside it, deleted.
    async fn run(&self, i: u64) {
        let admin = &self.server.admin;
        let id = format!("soak-{i}");
        let created =
            self.send("run create", self.http.post(format!("{admin}/runs")).json(&json!({"id": id})), 201).await;
        let Some(login) = created.as_ref().and_then(|r| r["endpoints"]["services"]["kalibrate.login"].as_str()) else {
            return;
        };
        let data =
            created.as_ref().and_then(|r| r["endpoints"]["services"]["kalibrate.data"].as_str()).unwrap_or_default();
        let request = self
            .http
            .post(format!("{login}/{TENANT}/oauth2/v2.0/token"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(KALIBRATE_FORM);
        if let Some(token) = self.send("run token", request, 200).await {
            let token = token["access_token"].as_str().unwrap_or_default();
            self.send("run data", self.http.get(format!("{data}/api/status")).bearer_auth(token), 200).await;
        }
        self.send("run delete", self.http.delete(format!("{admin}/runs/{id}")), 204).await;
        self.counters.runs.fetch_add(1, Ordering::Relaxed);
    }

    /// A 1-5 MB body no endpoint takes: an oversized form, a malformed push, a huge JSON filter.
    async fn big_body(&self, i: u64) {
        let s = &self.server;
        let size = (1 + (i % 5) as usize) << 20;
        let junk: Vec<u8> = (0..size).map(|n| b'a' + (n % 26) as u8).collect();
        let (what, request, expected) = match i % 3 {
            0 => (
                "big token form",
                self.http
                    .post(format!("{}/{TENANT}/oauth2/v2.0/token", s.kalibrate_login))
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(junk),
                413,
            ),
            1 => ("big push", self.http.post(format!("{}/api/data", s.opinum_push)).body(junk), 401),
            _ => (
                "big knoema filter",
                self.http
                    .post(format!("{}/api/2.0/data?datasetId=IMFWEO2024Oct", s.knoema))
                    .header("content-type", "application/json")
                    .body(junk),
                413,
            ),
        };
        self.counters.big.fetch_add(1, Ordering::Relaxed);
        self.counters.http.fetch_add(1, Ordering::Relaxed);
        match request.send().await {
            Ok(r) if r.status().as_u16() == expected => {}
            Ok(r) => self.counters.unexpected(&format!("{what}: {}", r.status())),
            // The server may answer and close before it has read the whole body.
            Err(e) if e.is_request() || e.is_body() => {}
            Err(e) => self.counters.unexpected(&format!("{what}: {e}")),
        }
    }
}

/// Knoema's `Authorization: Knoema <app>:<base64(HMAC-SHA1(key = the UTC hour, message = the
/// secret))>:1.2`, the hour as `dd-MM-yy-HH`.
fn knoema_signature() -> String {
    let hour = chrono::Utc::now().format("%d-%m-%y-%H").to_string();
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(hour.as_bytes()).expect("any key length");
    mac.update(KNOEMA_APP.1.as_bytes());
    let digest = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    format!("Knoema {}:{digest}:1.2", KNOEMA_APP.0)
}
