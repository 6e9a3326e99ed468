//! The `mock-server` binary as a user runs it: where check-config says a problem is, and the
//! options of `serve` given before the command, and where its signing keys come from.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_mock-server");
const DEFAULT_FIXTURES: &str = include_str!("../fixtures/default.toml");

/// A fresh directory of this test's own.
fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mock-server-cli-{name}-{}", rand::random::<u64>()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The binary with `args`, none of the environment's `MOCK_SERVER_*` settings.
fn command(args: &[&str]) -> Command {
    let mut command = Command::new(BIN);
    command.args(args).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("MOCK_SERVER_") {
            command.env_remove(name);
        }
    }
    command
}

/// Runs a command that should end by itself; one still running after a few seconds (a server
/// started where a refusal was expected) is killed, and its output returned all the same.
fn run(args: &[&str]) -> Output {
    let mut child = command(args).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while child.try_wait().unwrap().is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    child.wait_with_output().unwrap()
}

#[test]
fn check_config_reports_a_problem_on_the_line_of_its_own_provider_key() {
    // Kalibrate's token_lifetime_seconds is written first; Open Energy's is the one wrong here.
    let (before, _) = DEFAULT_FIXTURES.split_once("token_lifetime_seconds = 600").unwrap();
    assert!(before.contains("token_lifetime_seconds"), "the case this test is about");
    let line = before.lines().count() + 1;
    let dir = temp_dir("check-config");
    let file = dir.join("fixtures.toml");
    std::fs::write(&file, DEFAULT_FIXTURES.replace("token_lifetime_seconds = 600", "token_lifetime_seconds = 0"))
        .unwrap();

    let out = run(&["check-config", file.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    let expected = format!("{}:{line}: openenergy.token_lifetime_seconds: 0 is out of range", file.display());
    assert!(stderr.starts_with(&expected), "expected '{expected}', got:\n{stderr}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn serve_options_before_serve_are_merged_with_those_after_it() {
    let dir = temp_dir("serve");
    let endpoints = dir.join("endpoints.json");
    let certs = dir.join("certs");
    let mut child = command(&[
        "--http",
        "127.0.0.1:0",
        "--endpoints-file",
        endpoints.to_str().unwrap(),
        "--certs-dir",
        certs.to_str().unwrap(),
        "--log",
        "warn",
        "serve",
        "--log",
        "warn", // the same value both places is fine
        "--https",
        "127.0.0.1:0",
        "--mtls",
        "127.0.0.1:0",
        "--listen",
        "knoema.api=127.0.0.1:0",
        "--mqtt",
        "127.0.0.1:0",
        "--mqtts",
        "127.0.0.1:0",
        "--mqtt-ws",
        "127.0.0.1:0",
    ])
    .spawn()
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !endpoints.exists() && Instant::now() < deadline && child.try_wait().unwrap().is_none() {
        std::thread::sleep(Duration::from_millis(20));
    }
    let ready = endpoints.exists();
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    assert!(
        ready,
        "no endpoints file: --endpoints-file before 'serve' was ignored\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let written: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&endpoints).unwrap()).unwrap();
    let http = written["http"].as_str().unwrap();
    assert!(http.starts_with("http://127.0.0.1:") && !http.ends_with(":8080"), "{written}");
    assert!(certs.join("ca.pem").exists(), "--certs-dir before 'serve' was ignored");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_option_given_before_and_after_serve_with_different_values_is_refused() {
    let dir = temp_dir("conflict");
    let certs = dir.join("certs");
    let out = run(&["--http", "127.0.0.1:0", "serve", "--http", "127.0.0.1:1", "--certs-dir", certs.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.starts_with("error: '--http' is given before and after 'serve' with different values"), "{stderr}");
    assert!(stderr.contains("Usage:"), "{stderr}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn serve_options_before_another_command_are_refused() {
    let dir = temp_dir("other-command");
    let file = dir.join("fixtures.toml");
    std::fs::write(&file, DEFAULT_FIXTURES).unwrap();
    let out = run(&["--config", "elsewhere.toml", "check-config", file.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.starts_with("error: '--config' is an option of 'serve' and means nothing to 'check-config'"),
        "{stderr}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `serve`'s listener options, each on a port of its own choosing: tests run side by side.
const EVERY_LISTENER_ON_A_FREE_PORT: [&str; 14] = [
    "--http",
    "127.0.0.1:0",
    "--https",
    "127.0.0.1:0",
    "--mtls",
    "127.0.0.1:0",
    "--listen",
    "knoema.api=127.0.0.1:0",
    "--mqtt",
    "127.0.0.1:0",
    "--mqtts",
    "127.0.0.1:0",
    "--mqtt-ws",
    "127.0.0.1:0",
];

/// `serve` on `certs` with the spare-key cache at `spares`, until its endpoints file is written.
fn serve_until_ready(dir: &std::path::Path, spares: &std::path::Path) -> std::process::Child {
    let endpoints = dir.join("endpoints.json");
    let (endpoints_arg, certs_arg) = (endpoints.to_str().unwrap(), dir.join("certs"));
    let files = ["--endpoints-file", endpoints_arg, "--certs-dir", certs_arg.to_str().unwrap(), "--log", "warn"];
    let mut child = command(&[&["serve"][..], &EVERY_LISTENER_ON_A_FREE_PORT, &files].concat())
        .env("MOCK_SERVER_SPARE_KEYS", spares)
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !endpoints.exists() && Instant::now() < deadline && child.try_wait().unwrap().is_none() {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(endpoints.exists(), "the server did not start");
    child
}

/// The PEM files in `dir` whose names end with `suffix`, once there are `count` of them.
fn key_files(dir: &std::path::Path, suffix: &str, count: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mut found: Vec<String> = std::fs::read_dir(dir)
            .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect::<Vec<_>>())
            .unwrap_or_default()
            .into_iter()
            .filter(|p| p.to_string_lossy().ends_with(suffix))
            .filter_map(|p| std::fs::read_to_string(p).ok())
            .collect();
        if found.len() >= count || Instant::now() > deadline {
            found.sort();
            return found;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_new_certificates_directory_takes_spare_keys_that_no_other_server_gets() {
    let dir = temp_dir("spares");
    let spares = dir.join("spare-keys");
    let mut first = serve_until_ready(&dir.join("a"), &spares);
    let first_keys = key_files(&dir.join("a/certs"), "-signing-key.pem", 3);
    // Its own keys made, the server fills the cache in the background.
    let cached = key_files(&spares, "-key.pem", 3);
    first.kill().unwrap();
    first.wait().unwrap();
    assert_eq!((first_keys.len(), cached.len()), (3, 3), "three keys, three spares");

    let mut second = serve_until_ready(&dir.join("b"), &spares);
    let second_keys = key_files(&dir.join("b/certs"), "-signing-key.pem", 3);
    second.kill().unwrap();
    second.wait().unwrap();
    assert_eq!(second_keys, cached, "the second server signs with the spares");
    assert!(second_keys.iter().all(|k| !first_keys.contains(k)), "and with no key of the first");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_damaged_saved_signing_key_fails_the_start_and_names_the_file() {
    let dir = temp_dir("damaged-key");
    let certs = dir.join("certs");
    std::fs::create_dir_all(&certs).unwrap();
    std::fs::write(
        certs.join("opinum-signing-key.pem"),
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    let out =
        run(&[&["serve"][..], &EVERY_LISTENER_ON_A_FREE_PORT, &["--certs-dir", certs.to_str().unwrap()]].concat());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "started with a damaged key: {stderr}");
    assert!(stderr.contains("opinum-signing-key.pem is unusable (delete it to make a new key)"), "{stderr}");
    std::fs::remove_dir_all(&dir).unwrap();
}
