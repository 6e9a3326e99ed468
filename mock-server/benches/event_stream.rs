//! What following the journal live costs (`GET /__admin/events/stream`, the web view's feed).
//!
//! `cargo bench -p mock-server --bench event_stream`
//!
//! 1. **Token endpoint with and without a reader.** 16 keep-alive connections post Kalibrate's
//!    client-credentials form in a closed loop for `BENCH_SECONDS` (default 5) each round; the
//!    rounds alternate without and with one stream reader open (reading every event, as the
//!    page does), `BENCH_ROUNDS` pairs (default 3). Each token is two events (the exchange and
//!    `token.issued`), all of them pushed to the reader. The figure is the ratio of the
//!    medians: with a reader over without.
//! 2. **1 000 events a second for a while.** One request a millisecond (a 404 on the HTTP
//!    listener: one `http.exchange` event each) for `BENCH_FEED_SECONDS` (default 30), a stream
//!    reader counting what reaches it, and this process's VmRSS every second. The journal
//!    keeps 10 000 events, so it is full after 10 s: from then on memory should stay flat.
//!
//! Everything talks to 127.0.0.1 only.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const TENANT: &str = "efa98c7b-2114-46e8-be99-954a4f1a2d9c";
const TOKEN_FORM: &str = "client_id=0525b217-cbb9-4d4a-b8a1-7551c30098cf\
    &client_secret=sandpit-read-secret\
    &grant_type=client_credentials\
    &scope=api%3A%2F%2Fdev.data.thekalibratecloud.com%2Fc770a337-3c7e-4bbe-a8cb-2fbc9601b94f%2F.default";
const CONNECTIONS: usize = 16;

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(CONNECTIONS)
        .timeout(Duration::from_secs(10))
        .build()
        .expect("reqwest client")
}

/// Tokens a second over `seconds`, `CONNECTIONS` at once.
async fn token_rate(url: &str, seconds: u64) -> f64 {
    let client = client();
    let done = Arc::new(AtomicU64::new(0));
    let until = Instant::now() + Duration::from_secs(seconds);
    let workers: Vec<_> = (0..CONNECTIONS)
        .map(|_| {
            let (client, url, done) = (client.clone(), url.to_owned(), done.clone());
            tokio::spawn(async move {
                while Instant::now() < until {
                    let answer = client
                        .post(&url)
                        .header("content-type", "application/x-www-form-urlencoded")
                        .body(TOKEN_FORM)
                        .send()
                        .await;
                    if let Ok(answer) = answer {
                        if answer.status().is_success() && answer.bytes().await.is_ok() {
                            done.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            })
        })
        .collect();
    let started = Instant::now();
    for w in workers {
        let _ = w.await;
    }
    done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

/// A stream reader: counts the journal messages that reach it until `stop`.
fn follow(url: String, stop: Arc<AtomicBool>) -> (tokio::task::JoinHandle<u64>, Arc<AtomicU64>) {
    let seen = Arc::new(AtomicU64::new(0));
    let counter = seen.clone();
    let task = tokio::spawn(async move {
        let mut answer = client().get(&url).timeout(Duration::from_secs(3600)).send().await.expect("the stream");
        assert!(answer.status().is_success(), "stream: {}", answer.status());
        let mut carry = Vec::new();
        while !stop.load(Ordering::Relaxed) {
            let Ok(Ok(Some(chunk))) = tokio::time::timeout(Duration::from_millis(200), answer.chunk()).await else {
                continue;
            };
            carry.extend_from_slice(&chunk);
            let text = String::from_utf8_lossy(&carry);
            let complete = text.rfind("\n\n").map_or(0, |i| i + 2);
            let messages = text[..complete].matches("event: journal\n").count() as u64;
            counter.fetch_add(messages, Ordering::Relaxed);
            carry.drain(..complete);
        }
        counter.load(Ordering::Relaxed)
    });
    (task, seen)
}

/// The sequence number of the journal's newest event: a reader from there gets only new ones.
async fn last_seq(admin: &str) -> u64 {
    let page: serde_json::Value =
        client().get(format!("{admin}/events?limit=0")).send().await.unwrap().json().await.unwrap();
    page["next_seq"].as_u64().unwrap_or(1).saturating_sub(1)
}

fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[tokio::main]
async fn main() {
    let seconds = env_number("BENCH_SECONDS", 5);
    let rounds = env_number("BENCH_ROUNDS", 3);
    let feed_seconds = env_number("BENCH_FEED_SECONDS", 30);
    let server = mock_server::MockServer::start().await;
    let http = server.endpoints().http.clone();
    let admin = server.admin_url().to_owned();
    let token_url = format!("{http}/kalibrate/login/{TENANT}/oauth2/v2.0/token");
    let _warm = token_rate(&token_url, 1).await;

    println!("\njournal stream: token endpoint, {CONNECTIONS} connections, {seconds} s a round");
    let (mut without, mut with) = (Vec::new(), Vec::new());
    for round in 1..=rounds {
        let alone = token_rate(&token_url, seconds).await;
        let stop = Arc::new(AtomicBool::new(false));
        let (reader, seen) = follow(format!("{admin}/events/stream?since={}", last_seq(&admin).await), stop.clone());
        tokio::time::sleep(Duration::from_millis(200)).await;
        let followed = token_rate(&token_url, seconds).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        stop.store(true, Ordering::Relaxed);
        let _ = reader.await;
        println!(
            "  round {round}: {alone:>8.0} tokens/s alone, {followed:>8.0} with a reader ({} events reached it)",
            seen.load(Ordering::Relaxed)
        );
        without.push(alone);
        with.push(followed);
    }
    let (alone, followed) = (median(without), median(with));
    println!("  median: {alone:.0} alone, {followed:.0} with a reader: ratio {:.3}x", followed / alone);

    println!("\njournal stream: one event a millisecond for {feed_seconds} s, journal capacity 10 000");
    let stop = Arc::new(AtomicBool::new(false));
    let (reader, seen) = follow(format!("{admin}/events/stream?since={}", last_seq(&admin).await), stop.clone());
    tokio::time::sleep(Duration::from_millis(200)).await;
    let sender = client();
    let missing = format!("{http}/no/such/path");
    let started = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_millis(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let sent = Arc::new(AtomicU64::new(0));
    let mut second = 0;
    let mut samples = Vec::new();
    while started.elapsed() < Duration::from_secs(feed_seconds) {
        tick.tick().await;
        let (sender, missing, counted) = (sender.clone(), missing.clone(), sent.clone());
        tokio::spawn(async move {
            if sender.get(&missing).send().await.is_ok() {
                counted.fetch_add(1, Ordering::Relaxed);
            }
        });
        let now = started.elapsed().as_secs();
        if now > second {
            second = now;
            samples.push((now, rss_bytes(), sent.load(Ordering::Relaxed), seen.load(Ordering::Relaxed)));
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    let delivered = reader.await.unwrap_or(0);
    for (at, rss, sent, seen) in &samples {
        if at % 5 == 0 {
            println!("  {at:>3} s: VmRSS {:>6.1} MB, {sent:>6} requests, {seen:>6} events read", *rss as f64 / 1e6);
        }
    }
    let sent = sent.load(Ordering::Relaxed);
    println!("  {sent} events recorded, {delivered} reached the reader");
    let at = |s: u64| samples.iter().find(|x| x.0 == s).map(|x| x.1 as f64 / 1e6);
    if let (Some(full), Some(end)) = (at(12), samples.last().map(|x| x.1 as f64 / 1e6)) {
        println!("  VmRSS once the journal was full (12 s): {full:.1} MB; at the end: {end:.1} MB");
    }
    server.shutdown().await;
}
