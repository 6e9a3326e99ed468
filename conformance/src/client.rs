//! Runs the client under test: a shell command with the scenario's environment, a time limit
//! and its output kept (bounded) for the report. On time-out the whole process group is killed,
//! so a client that forks cannot outlive its scenario.

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::AsyncReadExt;
use tokio::process::Command;

use crate::contract::ClientExit;

/// Output kept per stream: the end of it, where errors are.
const KEEP_BYTES: usize = 16 * 1024;

/// Environment variables removed so the client talks only to the mock.
const PROXY_VARS: &[&str] = &["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"];

pub async fn run(
    command: &str,
    env: &BTreeMap<String, String>,
    limit: Duration,
    redact: &[String],
) -> std::io::Result<ClientExit> {
    let started = Instant::now();
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg(command).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true);
    for var in PROXY_VARS {
        cmd.env_remove(var);
    }
    cmd.env("NO_PROXY", "127.0.0.1,localhost").envs(env);
    #[cfg(unix)]
    cmd.process_group(0);
    let mut child = cmd.spawn()?;
    let stdout = tokio::spawn(read_tail(child.stdout.take()));
    let stderr = tokio::spawn(read_tail(child.stderr.take()));
    let (code, timed_out) = match tokio::time::timeout(limit, child.wait()).await {
        Ok(status) => (status?.code(), false),
        Err(_) => {
            kill_group(&child);
            let _ = child.kill().await;
            (None, true)
        }
    };
    // A grandchild may still hold the pipes open: do not wait for it forever.
    let grace = Duration::from_secs(2);
    let stdout = tokio::time::timeout(grace, stdout).await.ok().and_then(Result::ok).unwrap_or_default();
    let stderr = tokio::time::timeout(grace, stderr).await.ok().and_then(Result::ok).unwrap_or_default();
    Ok(ClientExit {
        code,
        timed_out,
        duration_ms: started.elapsed().as_millis() as u64,
        stdout_tail: redact_text(&stdout, redact),
        stderr_tail: redact_text(&stderr, redact),
    })
}

#[cfg(unix)]
fn kill_group(child: &tokio::process::Child) {
    if let Some(pid) = child.id() {
        // SAFETY: kill(2) with a negative pid signals the process group we created.
        unsafe {
            libc::kill(-(pid as i32), libc::SIGKILL);
        }
    }
}

#[cfg(not(unix))]
fn kill_group(_: &tokio::process::Child) {}

async fn read_tail(stream: Option<impl tokio::io::AsyncRead + Unpin>) -> String {
    let Some(mut stream) = stream else { return String::new() };
    let mut kept: Vec<u8> = Vec::new();
    let mut buf = [0u8; 8192];
    while let Ok(n) = stream.read(&mut buf).await {
        if n == 0 {
            break;
        }
        kept.extend_from_slice(&buf[..n]);
        if kept.len() > 2 * KEEP_BYTES {
            kept.drain(..kept.len() - KEEP_BYTES);
        }
    }
    let start = kept.len().saturating_sub(KEEP_BYTES);
    String::from_utf8_lossy(&kept[start..]).into_owned()
}

/// Why the client never started, when `sh` says so: POSIX reserves exit 127 for a command not
/// found and 126 for one that cannot be executed. Nothing the client did can be judged then, so
/// the scenario is a setup error rather than a failed check.
pub fn could_not_start(exit: &ClientExit) -> Option<String> {
    let reason = match exit.code? {
        127 => "command not found (sh exit 127)",
        126 => "command not executable (sh exit 126)",
        _ => return None,
    };
    let said = exit.stderr_tail.lines().rev().map(str::trim).find(|line| !line.is_empty());
    Some(match said {
        Some(line) => format!("the client command could not start: {reason}\n{line}"),
        None => format!("the client command could not start: {reason}"),
    })
}

/// Replaces the given secrets and anything shaped like a JWT with `***`.
pub fn redact_text(text: &str, secrets: &[String]) -> String {
    let mut out = text.to_owned();
    for s in secrets.iter().filter(|s| s.len() >= 4) {
        out = out.replace(s.as_str(), "***");
    }
    out.split_inclusive(|c: char| c.is_whitespace() || c == '"' || c == '\'')
        .map(|word| {
            let core = word.trim_end_matches(|c: char| c.is_whitespace() || c == '"' || c == '\'');
            if core.starts_with("eyJ") && core.matches('.').count() == 2 {
                word.replacen(core, "***", 1)
            } else {
                word.to_owned()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_secrets_and_jwts() {
        let text = "secret=hunter22 token \"eyJhbGc.eyJzdWIi.c2ln\" ok";
        assert_eq!(redact_text(text, &["hunter22".into()]), "secret=*** token \"***\" ok");
    }

    #[tokio::test]
    async fn a_command_sh_cannot_find_or_execute_could_not_start() {
        let missing = run("/nonexistent/client --flag", &BTreeMap::new(), Duration::from_secs(5), &[]).await.unwrap();
        let why = could_not_start(&missing).expect("a missing command did not start");
        assert!(why.starts_with("the client command could not start: command not found (sh exit 127)\n"), "{why}");
        assert!(why.contains("/nonexistent/client"), "sh's own words follow: {why}");
        let not_executable = run("/dev/null", &BTreeMap::new(), Duration::from_secs(5), &[]).await.unwrap();
        assert!(could_not_start(&not_executable).is_some_and(|why| why.contains("sh exit 126")));
        let failing = run("exit 1", &BTreeMap::new(), Duration::from_secs(5), &[]).await.unwrap();
        assert_eq!(could_not_start(&failing), None, "a client that ran and failed is judged");
    }

    #[tokio::test]
    async fn a_hanging_client_is_killed_at_the_limit() {
        let exit = run("sleep 30", &BTreeMap::new(), Duration::from_millis(200), &[]).await.unwrap();
        assert!(exit.timed_out && exit.code.is_none());
        assert!(exit.duration_ms < 5000, "{}", exit.duration_ms);
    }

    #[tokio::test]
    async fn exit_status_output_and_environment_reach_the_report() {
        let env = BTreeMap::from([("GREETING".to_owned(), "hello".to_owned())]);
        let exit = run("echo $GREETING; echo oops >&2; exit 3", &env, Duration::from_secs(5), &[]).await.unwrap();
        assert_eq!((exit.code, exit.timed_out), (Some(3), false));
        assert_eq!((exit.stdout_tail.as_str(), exit.stderr_tail.as_str()), ("hello\n", "oops\n"));
    }
}
