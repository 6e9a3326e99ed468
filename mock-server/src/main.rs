//! The `mock-server` command: serve (the default), check a fixtures file, manage certificates.

use std::ffi::{OsStr, OsString};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::error::ErrorKind;
use clap::parser::ValueSource;
use clap::{ArgMatches, Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use mock_server::server::{self, Options};
use mock_server::{ConnectionLimits, Fixtures, FixturesSource};
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(
    name = "mock-server",
    version,
    about = "Emulates Opinum, IoT Open, Knoema, Open Energy and Kalibrate for tests.\n\nWith no command, serves on the defaults with the embedded fixtures. The options below are those of `serve`, and may come before it too."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Serve every provider (the default).
    Serve(Box<ServeArgs>),
    /// Validate a fixtures file and explain what is wrong (file, line, key, fix).
    CheckConfig { file: PathBuf },
    /// Manage the dev CA and certificates.
    #[command(subcommand)]
    Certs(CertsCommand),
}

#[derive(Subcommand)]
enum CertsCommand {
    /// Create the dev CA in the certs directory if it does not exist, and print where it is.
    Init {
        #[arg(long, default_value = "certs", env = "MOCK_SERVER_CERTS_DIR")]
        certs_dir: PathBuf,
    },
    /// Sign a certificate signing request (PEM or DER) into an end-entity client certificate
    /// from the dev CA (never a CA, whatever the request asks), valid from now (real time).
    /// Prints the certificate (PEM) to stdout or --out; a summary to stderr.
    SignCsr {
        /// The CSR file; `-` reads standard input.
        csr: PathBuf,
        /// Write the certificate here instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Validity in days.
        #[arg(long, default_value_t = mock_server::tls::DEFAULT_CLIENT_CERT_DAYS)]
        days: i64,
        #[arg(long, default_value = "certs", env = "MOCK_SERVER_CERTS_DIR")]
        certs_dir: PathBuf,
    },
}

#[derive(Args, Clone)]
struct ServeArgs {
    /// Fixtures file (TOML); the embedded mock-server/fixtures/default.toml when absent.
    #[arg(long, env = "MOCK_SERVER_CONFIG")]
    config: Option<PathBuf>,
    /// HTTP listener: the admin API, the proxy, and the services served on plain HTTP (the
    /// banner lists them). Port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:8080", env = "MOCK_SERVER_HTTP")]
    http: SocketAddr,
    /// HTTPS listener: the services served over TLS without a client certificate.
    #[arg(long, default_value = "127.0.0.1:8443", env = "MOCK_SERVER_HTTPS")]
    https: SocketAddr,
    /// Mutual-TLS listener (client certificate requested and checked against the dev CA).
    #[arg(long, default_value = "127.0.0.1:8444", env = "MOCK_SERVER_MTLS")]
    mtls: SocketAddr,
    /// A listener of its own for a service, serving it at the root: `SERVICE=ADDR`, repeatable
    /// (comma-separated in the variable). ADDR is `IP:PORT` or `http://IP:PORT`, `https://IP:PORT`
    /// for TLS, or `off`. Port 0 picks a free port. Default: knoema.api=127.0.0.1:8090.
    #[arg(long = "listen", value_name = "SERVICE=ADDR", env = "MOCK_SERVER_LISTEN", value_delimiter = ',', value_parser = server::parse_listen_arg)]
    listen: Vec<(String, server::Listen)>,
    /// MQTT listener (plain TCP; IoT Open's real-time API). Port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:1883", env = "MOCK_SERVER_MQTT")]
    mqtt: SocketAddr,
    /// MQTT over TLS listener (the dev CA's server certificate).
    #[arg(long, default_value = "127.0.0.1:8883", env = "MOCK_SERVER_MQTTS")]
    mqtts: SocketAddr,
    /// MQTT over WebSocket listener, served at /mqtt.
    #[arg(long, default_value = "127.0.0.1:8083", env = "MOCK_SERVER_MQTT_WS")]
    mqtt_ws: SocketAddr,
    /// Where the dev CA and keys are created once and reused.
    #[arg(long, default_value = "certs", env = "MOCK_SERVER_CERTS_DIR")]
    certs_dir: PathBuf,
    /// One more name for the server certificate, a DNS name or an IP address: the name other
    /// containers reach this server by (`mock`). Repeatable (comma-separated in the variable).
    #[arg(long = "san", value_name = "NAME", env = "MOCK_SERVER_SAN", value_delimiter = ',', value_parser = server::parse_san)]
    san: Vec<String>,
    /// Write the bound addresses and service URLs here (JSON) once ready.
    #[arg(long, env = "MOCK_SERVER_ENDPOINTS_FILE")]
    endpoints_file: Option<PathBuf>,
    /// How many runs (isolated namespaces, created with POST /__admin/runs) may live at once;
    /// creating one more evicts the run idle longest.
    #[arg(long, default_value_t = mock_server::server::DEFAULT_MAX_RUNS, env = "MOCK_SERVER_MAX_RUNS", value_parser = clap::builder::TypedValueParser::map(clap::value_parser!(u16).range(1..=1024), usize::from))]
    max_runs: usize,
    /// Seconds an HTTP connection may stay quiet with no request being served before it is closed.
    #[arg(long, default_value_t = 60, env = "MOCK_SERVER_IDLE_TIMEOUT", value_parser = clap::value_parser!(u64).range(1..=86_400))]
    idle_timeout: u64,
    /// Seconds a request body may take to arrive after its headers.
    #[arg(long, default_value_t = 60, env = "MOCK_SERVER_BODY_TIMEOUT", value_parser = clap::value_parser!(u64).range(1..=86_400))]
    body_timeout: u64,
    /// Connections each HTTP listener holds open at once; more are closed as they come.
    #[arg(long, default_value_t = 512, env = "MOCK_SERVER_MAX_CONNECTIONS", value_parser = clap::value_parser!(u32).range(1..=65_536))]
    max_connections: u32,
    /// Log filter (tracing syntax), e.g. `info`, `warn`, `mock_server=debug`.
    #[arg(long, default_value = "info", env = "MOCK_SERVER_LOG")]
    log: String,
    /// Record request and response bodies in the journal (each up to 16 KiB, every secret
    /// redacted). Off by default. The variable takes `true`/`false`, `1`/`0`, `yes`/`no`, `on`/`off`.
    #[arg(long, env = "MOCK_SERVER_JOURNAL_BODIES", value_parser = clap::builder::BoolishValueParser::new())]
    journal_bodies: bool,
    /// How log lines are written: `text` for people, `json` (one object a line) for log shippers.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, env = "MOCK_SERVER_LOG_FORMAT")]
    log_format: LogFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

fn main() -> ExitCode {
    let cli = parse_cli();
    match cli.command {
        Some(Command::CheckConfig { file }) => check_config(file),
        Some(Command::Certs(CertsCommand::Init { certs_dir })) => certs_init(certs_dir),
        Some(Command::Certs(CertsCommand::SignCsr { csr, out, days, certs_dir })) => {
            certs_sign_csr(&csr, out.as_deref(), days, &certs_dir)
        }
        Some(Command::Serve(args)) => serve(*args),
        None => serve(cli.serve),
    }
}

/// The command line. `serve`'s options are taken before the command too, as they are with no
/// command (`mock-server --http ADDR serve`): merged with those after it, and refused when one is
/// given both places with different values. Before another command they would be ignored, so
/// they are refused.
fn parse_cli() -> Cli {
    let mut command = Cli::command();
    let matches = command.get_matches_mut();
    let serve_args: Vec<clap::Arg> =
        ServeArgs::augment_args(clap::Command::new("serve")).get_arguments().cloned().collect();
    let given =
        |m: &ArgMatches, arg: &clap::Arg| m.value_source(arg.get_id().as_str()) == Some(ValueSource::CommandLine);
    let raw = |m: &ArgMatches, arg: &clap::Arg| -> Vec<OsString> {
        m.get_raw(arg.get_id().as_str()).into_iter().flatten().map(OsStr::to_owned).collect()
    };
    let long = |arg: &clap::Arg| arg.get_long().unwrap_or_else(|| arg.get_id().as_str()).to_owned();
    let Some(first) = serve_args.iter().find(|a| given(&matches, a)) else {
        return Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    };
    let after = match matches.subcommand() {
        None => return Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit()),
        Some(("serve", after)) => after,
        Some((name, _)) => command
            .error(
                ErrorKind::ArgumentConflict,
                format!("'--{}' is an option of 'serve' and means nothing to '{name}'", long(first)),
            )
            .exit(),
    };
    // The merged options, all after `serve`, parsed again.
    let mut argv: Vec<OsString> = vec![command.get_name().into(), "serve".into()];
    for arg in &serve_args {
        let values = match (given(&matches, arg), given(after, arg)) {
            (true, true) if raw(&matches, arg) != raw(after, arg) => command
                .error(
                    ErrorKind::ArgumentConflict,
                    format!("'--{}' is given before and after 'serve' with different values; give it once", long(arg)),
                )
                .exit(),
            (true, _) => raw(&matches, arg),
            (false, true) => raw(after, arg),
            (false, false) => continue,
        };
        for value in values {
            let mut option = OsString::from(format!("--{}=", long(arg)));
            option.push(value);
            argv.push(option);
        }
    }
    let merged = command.try_get_matches_from_mut(argv).unwrap_or_else(|e| e.exit());
    Cli::from_arg_matches(&merged).unwrap_or_else(|e| e.exit())
}

fn check_config(file: PathBuf) -> ExitCode {
    match Fixtures::load(&FixturesSource::File(file.clone())) {
        Ok(f) => {
            println!("{}: valid ({})", file.display(), f.summary().join("; "));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(2)
        }
    }
}

fn certs_init(dir: PathBuf) -> ExitCode {
    mock_server::tls::crypto_provider();
    match mock_server::tls::CertAuthority::load_or_create(&dir) {
        Ok(_) => {
            let path = dir.join("ca.pem");
            println!("{}", path.canonicalize().unwrap_or(path).display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Exit status 2 for a request that cannot be signed, 1 for anything else.
fn certs_sign_csr(
    csr: &std::path::Path,
    out: Option<&std::path::Path>,
    days: i64,
    certs_dir: &std::path::Path,
) -> ExitCode {
    use mock_server::tls::{CertAuthority, Validity, MAX_CSR_BYTES, MAX_VALIDITY_SECONDS};
    use std::io::Read;
    if !(1..=MAX_VALIDITY_SECONDS / 86_400).contains(&days) {
        eprintln!("error: --days must be from 1 to {}", MAX_VALIDITY_SECONDS / 86_400);
        return ExitCode::from(2);
    }
    let mut input = Vec::new();
    let read = if csr.as_os_str() == "-" {
        std::io::stdin().take(MAX_CSR_BYTES as u64 + 1).read_to_end(&mut input)
    } else {
        std::fs::File::open(csr).and_then(|f| f.take(MAX_CSR_BYTES as u64 + 1).read_to_end(&mut input))
    };
    if let Err(e) = read {
        eprintln!("error: cannot read {}: {e}", csr.display());
        return ExitCode::FAILURE;
    }
    mock_server::tls::crypto_provider();
    let ca = match CertAuthority::load_or_create(certs_dir) {
        Ok(ca) => ca,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    let issued = match ca.sign_csr(&input, Validity::starting(chrono::Utc::now(), days * 86_400)) {
        Ok(issued) => issued,
        Err(e) => {
            eprintln!("error: {}: {e}", csr.display());
            return ExitCode::from(2);
        }
    };
    match out {
        Some(path) => {
            if let Err(e) = std::fs::write(path, &issued.certificate) {
                eprintln!("error: writing {}: {e}", path.display());
                return ExitCode::FAILURE;
            }
        }
        None => print!("{}", issued.certificate),
    }
    eprintln!(
        "signed {}\n  x5t#S256 {}\n  serial   {}\n  valid    {} to {}\n  CA       {}",
        issued.subject,
        issued.thumbprint,
        issued.serial,
        issued.not_before.to_rfc3339(),
        issued.not_after.to_rfc3339(),
        certs_dir.join("ca.pem").display()
    );
    ExitCode::SUCCESS
}

fn serve(args: ServeArgs) -> ExitCode {
    // The embedded broker engine logs every connection at info and every disconnect as an
    // error; the gate journals and logs those itself, so rumqttd is quiet unless named.
    let log = if args.log.contains("rumqttd") { args.log.clone() } else { format!("{},rumqttd=off", args.log) };
    let filter = EnvFilter::try_new(&log).unwrap_or_else(|e| {
        eprintln!("warning: --log '{}' is not a valid filter ({e}); using 'info'", args.log);
        EnvFilter::new("info")
    });
    let logs = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match args.log_format {
        LogFormat::Text => logs.with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())).init(),
        // Fields flattened beside `message`, as log shippers expect; no colour codes.
        LogFormat::Json => logs.json().flatten_event(true).with_current_span(false).init(),
    }
    // Freed memory back to the system now and then (mock_server::memory).
    let _ = std::thread::Builder::new().name("memory".into()).spawn(|| loop {
        std::thread::sleep(mock_server::memory::INTERVAL);
        mock_server::memory::give_back();
    });
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let options = Options {
            fixtures: FixturesSource::from_path(args.config.as_deref()),
            http: args.http,
            https: args.https,
            mtls: args.mtls,
            certs_dir: Some(args.certs_dir.clone()),
            listen: args.listen.iter().cloned().collect(),
            dedicated_on_free_ports: false,
            mqtt: mock_server::mqtt::MqttOptions::on(args.mqtt, args.mqtts, args.mqtt_ws),
            max_runs: args.max_runs,
            connections: ConnectionLimits {
                idle: std::time::Duration::from_secs(args.idle_timeout),
                body: std::time::Duration::from_secs(args.body_timeout),
                max_connections: args.max_connections as usize,
            },
            san: args.san.clone(),
            journal_bodies: args.journal_bodies,
        };
        let running = match server::start(options).await {
            Ok(r) => r,
            Err(e) => {
                eprintln!("error: {e:#}");
                return ExitCode::FAILURE;
            }
        };
        if let Some(path) = &args.endpoints_file {
            if let Err(e) = running.write_endpoints_file(path) {
                eprintln!("error: {e:#}");
                return ExitCode::FAILURE;
            }
        }
        print!("{}", running.banner());
        println!("{}", serde_json::to_string(&running.endpoints).unwrap_or_default());
        use std::io::Write;
        let _ = std::io::stdout().flush();
        wait_for_signal().await;
        tracing::info!("shutting down");
        running.shutdown().await;
        ExitCode::SUCCESS
    })
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => return std::future::pending().await,
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
