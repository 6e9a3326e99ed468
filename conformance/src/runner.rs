//! Runs scenarios one after another against a [`Target`]: reset, arm, run the client, judge.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;

use crate::certificate;
use crate::client;
use crate::contract::{ClientExit, EventView, Run, SUBJECT_VAR};
use crate::expected::ExpectedFailures;
use crate::judge::{judge, overall};
use crate::registry;
use crate::results::{ScenarioResult, Status, SuiteResult};
use crate::scenario::Scenario;
use crate::target::Target;

pub struct RunOptions {
    /// The client command, run with `sh -c`.
    pub client: String,
    pub expected: ExpectedFailures,
}

/// Runs `scenarios` in order, calling `progress` before and after each.
pub async fn run_suite(
    target: &Target,
    scenarios: &[&Scenario],
    options: &RunOptions,
    mut progress: impl FnMut(Progress),
) -> SuiteResult {
    let started = Instant::now();
    let mut results = Vec::new();
    for (i, scenario) in scenarios.iter().enumerate() {
        progress(Progress::Starting { index: i + 1, total: scenarios.len(), scenario });
        let result = run_one(target, scenario, options).await;
        progress(Progress::Finished { result: &result });
        results.push(result);
    }
    SuiteResult {
        client: options.client.clone(),
        server: target.admin_url().to_owned(),
        duration_ms: started.elapsed().as_millis() as u64,
        scenarios: results,
    }
}

pub enum Progress<'a> {
    Starting { index: usize, total: usize, scenario: &'a Scenario },
    Finished { result: &'a ScenarioResult },
}

async fn run_one(target: &Target, scenario: &Scenario, options: &RunOptions) -> ScenarioResult {
    let started = Instant::now();
    let mut result = ScenarioResult {
        id: scenario.id.clone(),
        title: scenario.title.clone(),
        provider: scenario.provider.clone(),
        suite: scenario.suite.name().to_owned(),
        status: Status::Failed,
        duration_ms: 0,
        error: None,
        client: ClientExit::default(),
        checks: Vec::new(),
    };
    match execute(target, scenario, options).await {
        Ok((client, events)) => {
            // A command that never started did nothing to judge: a setup error, not a failure.
            result.error = client::could_not_start(&client);
            if result.error.is_none() {
                let profile = registry::profile(&scenario.provider).expect("validated at load");
                let run = Run {
                    profile,
                    client: &client,
                    events: &events,
                    timeout_seconds: scenario.timeout_seconds,
                    expected_exit: scenario.expect.exit,
                    action_params: &scenario.action_params,
                };
                result.checks =
                    scenario.checks.iter().map(|u| judge(&run, &scenario.id, u, &options.expected)).collect();
                result.status = overall(&result.checks);
            }
            result.client = client;
        }
        Err(e) => result.error = Some(format!("{e:#}")),
    }
    result.duration_ms = started.elapsed().as_millis() as u64;
    result
}

/// Arms the server, runs the client, returns its exit and the journal.
async fn execute(
    target: &Target,
    scenario: &Scenario,
    options: &RunOptions,
) -> anyhow::Result<(ClientExit, Vec<EventView>)> {
    let dir = std::env::temp_dir().join(format!(
        "conformance-{}-{}",
        std::process::id(),
        RUN.fetch_add(1, Ordering::Relaxed)
    ));
    let result = execute_in(target, scenario, options, &dir).await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

static RUN: AtomicU64 = AtomicU64::new(0);

async fn execute_in(
    target: &Target,
    scenario: &Scenario,
    options: &RunOptions,
    dir: &std::path::Path,
) -> anyhow::Result<(ClientExit, Vec<EventView>)> {
    let profile = registry::profile(&scenario.provider).expect("validated at load");
    target.reset().await?;
    if let Some(fixtures) = &scenario.setup.fixtures {
        target.replace_fixtures(fixtures).await?;
    }
    target.add_faults(&scenario.setup.faults).await?;
    let mut env = (profile.client_env)(&target.endpoints, &target.fixtures().await?).map_err(anyhow::Error::msg)?;
    let cert = client_certificate(target, scenario, &env, dir).await?;
    if let Some(patch) = &scenario.setup.fixtures_patch {
        let table = crate::scenario::patch_table(patch, &cert.thumbprint, &cert.serial)?;
        target.patch_fixtures(&table).await.context("applying setup.fixtures_patch")?;
        env = (profile.client_env)(&target.endpoints, &target.fixtures().await?).map_err(anyhow::Error::msg)?;
    }
    if let Some(step) = &scenario.setup.clock {
        target.advance_clock(step.advance_seconds).await?;
    }
    let ca = target.endpoints["ca"].as_str().unwrap_or_default().to_owned();
    env.extend(BTreeMap::from([
        ("CONFORMANCE_PROVIDER".to_owned(), scenario.provider.clone()),
        ("CONFORMANCE_ACTION".to_owned(), scenario.action.clone()),
        ("CONFORMANCE_SCENARIO".to_owned(), scenario.id.clone()),
        ("CONFORMANCE_ENDPOINTS".to_owned(), target.endpoints_file.display().to_string()),
        ("CONFORMANCE_CLIENT_CERT".to_owned(), cert.cert_file.display().to_string()),
        ("CONFORMANCE_CLIENT_KEY".to_owned(), cert.key_file.display().to_string()),
        ("CONFORMANCE_CA".to_owned(), ca.clone()),
        ("REQUESTS_CA_BUNDLE".to_owned(), ca.clone()),
        ("SSL_CERT_FILE".to_owned(), ca),
    ]));
    for (k, v) in &scenario.action_params {
        env.insert(format!("CONFORMANCE_{}", k.to_ascii_uppercase()), v.clone());
    }
    env.extend(scenario.setup.env.clone());
    let secrets: Vec<String> =
        env.iter().filter(|(k, _)| k.contains("SECRET") || k.contains("PASSWORD")).map(|(_, v)| v.clone()).collect();
    let limit = Duration::from_secs_f64(scenario.timeout_seconds);
    let exit = client::run(&options.client, &env, limit, &secrets)
        .await
        .map_err(|e| anyhow::anyhow!("cannot start the client command: {e}"))?;
    let events = target.events().await?;
    Ok((exit, events))
}

/// The run's client certificate: a new key, its CSR signed by the dev CA (or self-signed when
/// the scenario wants a foreign one), subject `CONFORMANCE_CERT_SUBJECT` from the profile.
async fn client_certificate(
    target: &Target,
    scenario: &Scenario,
    env: &BTreeMap<String, String>,
    dir: &std::path::Path,
) -> anyhow::Result<certificate::ClientCertificate> {
    let subject = env.get(SUBJECT_VAR).map_or(certificate::DEFAULT_SUBJECT, String::as_str);
    let setup = &scenario.setup.client_certificate;
    match setup.issuer {
        certificate::Issuer::DevCa => {
            let (key, csr) = certificate::key_and_csr(subject)?;
            let (pem, thumbprint, serial) =
                target.sign_csr(&csr, setup.validity_seconds).await.context("signing the client certificate")?;
            certificate::write(dir, &pem, &key, thumbprint, serial)
        }
        certificate::Issuer::SelfSigned => {
            let (key, pem) = certificate::self_signed(subject)?;
            certificate::write(dir, &pem, &key, String::new(), String::new())
        }
    }
}
