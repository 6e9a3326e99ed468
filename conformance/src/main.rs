//! `conformance`: certify a client against the mock server's scenario suites.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use conformance::expected::ExpectedFailures;
use conformance::html_report::{self, ReportInfo};
use conformance::runner::{run_suite, RunOptions};
use conformance::scenario::{load_scenarios, select};
use conformance::target::Target;
use conformance::{checks, report};

#[derive(Parser)]
#[command(
    name = "conformance",
    version,
    about = "Certify a client implementation against mock-server's scenario suites."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a suite against a client command; exit 0 when every scenario passes.
    Run {
        /// `kalibrate` (all its suites), `kalibrate/basic`, one scenario id, or `all` (every provider).
        #[arg(long)]
        suite: String,
        /// The client under test, run with `sh -c` once per scenario (environment: see docs/conformance.md).
        #[arg(long)]
        client: String,
        /// Attach to a running mock-server's admin API instead of starting one.
        #[arg(long, value_name = "ADMIN_URL")]
        server: Option<String>,
        /// Scenario folder (default: the scenarios built into this binary).
        #[arg(long)]
        scenarios: Option<PathBuf>,
        #[arg(long, value_name = "FILE")]
        junit: Option<PathBuf>,
        #[arg(long, value_name = "FILE")]
        json: Option<PathBuf>,
        /// A self-contained HTML certification report, readable offline and printable.
        #[arg(long, value_name = "FILE")]
        html: Option<PathBuf>,
        /// TOML list of known failures (`[[expected]] scenario, check, reason`).
        #[arg(long, value_name = "FILE")]
        expected_failures: Option<PathBuf>,
    },
    /// List scenarios.
    List {
        #[arg(long, default_value = "all")]
        suite: String,
        #[arg(long)]
        scenarios: Option<PathBuf>,
    },
    /// List the named checks with the clause each enforces.
    Checks {
        /// Only the checks this provider's scenarios use (and its own).
        #[arg(long)]
        provider: Option<String>,
        /// The Markdown tables of docs/conformance.md, one per provider.
        #[arg(long)]
        markdown: bool,
        #[arg(long)]
        scenarios: Option<PathBuf>,
    },
    /// Validate scenario files without running anything.
    CheckScenarios { dir: Option<PathBuf> },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Checks { provider, markdown, scenarios } => {
            let all = match load(scenarios.as_deref()) {
                Ok(all) => all,
                Err(code) => return code,
            };
            if markdown {
                print!("{}", checks::markdown(&all));
                return ExitCode::SUCCESS;
            }
            let listed = match &provider {
                Some(p) if conformance::registry::profile(p).is_none() => {
                    eprintln!("error: unknown provider '{p}'");
                    return ExitCode::from(2);
                }
                Some(p) => checks::of_provider(p, &all),
                None => checks::all(),
            };
            for c in listed {
                println!("{:<40} {:?}\n    {}\n    clause: {}", c.name(), c.severity(), c.summary(), c.clause());
            }
            ExitCode::SUCCESS
        }
        Command::List { suite, scenarios } => match load(scenarios.as_deref()) {
            Ok(all) => {
                for s in select(&all, &suite) {
                    println!("{:<48} {:<11} {}", s.id, s.suite.name(), s.title);
                }
                ExitCode::SUCCESS
            }
            Err(code) => code,
        },
        Command::CheckScenarios { dir } => match load(dir.as_deref()) {
            Ok(all) => {
                println!("{} scenario(s), all valid", all.len());
                ExitCode::SUCCESS
            }
            Err(code) => code,
        },
        Command::Run { suite, client, server, scenarios, junit, json, html, expected_failures } => {
            let all = match load(scenarios.as_deref()) {
                Ok(all) => all,
                Err(code) => return code,
            };
            let chosen = select(&all, &suite);
            if chosen.is_empty() {
                eprintln!("error: no scenario matches --suite {suite}; `conformance list` shows them");
                return ExitCode::from(2);
            }
            let expected = match expected_failures.as_deref().map(ExpectedFailures::load).transpose() {
                Ok(e) => e.unwrap_or_default(),
                Err(e) => {
                    eprintln!("{e}");
                    return ExitCode::from(2);
                }
            };
            let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
            runtime.block_on(async move {
                let target = match &server {
                    Some(url) => Target::attach(url).await,
                    None => Target::embedded().await,
                };
                let target = match target {
                    Ok(t) => t,
                    Err(e) => {
                        eprintln!("error: {e:#}");
                        return ExitCode::from(2);
                    }
                };
                let namespace = target.run().map_or(String::new(), |id| format!(", run {id}"));
                eprintln!(
                    "conformance: {} scenario(s) of '{suite}' against `{client}` (server {}{namespace})",
                    chosen.len(),
                    target.admin_url()
                );
                let options = RunOptions { client: client.clone(), expected };
                let result = run_suite(&target, &chosen, &options, report::console_progress).await;
                let info = ReportInfo {
                    suite: &suite,
                    client: &client,
                    date: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    mock_version: target.server_version().await,
                };
                let html = html.map(|path| (path, html_report::html(&result, &info)));
                let reports = [(junit, report::junit(&result)), (json, report::json(&result))];
                for (path, text) in reports.into_iter().filter_map(|(p, t)| p.map(|p| (p, t))).chain(html) {
                    if let Err(e) = std::fs::write(&path, text) {
                        eprintln!("error: cannot write {}: {e}", path.display());
                        return ExitCode::from(2);
                    }
                }
                if let Err(e) = target.close().await {
                    eprintln!("conformance: warning: {e:#}");
                }
                println!("{}", report::console_summary(&result));
                if result.passed() {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::FAILURE
                }
            })
        }
    }
}

fn load(dir: Option<&std::path::Path>) -> Result<Vec<conformance::Scenario>, ExitCode> {
    load_scenarios(dir).map_err(|errors| {
        for e in errors {
            eprintln!("{e}");
        }
        ExitCode::from(2)
    })
}
