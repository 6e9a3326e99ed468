//! The start-up banner: where everything is, and the demo credentials to try.

use crate::endpoints::Endpoints;
use crate::providers::Built;

/// The banner for a server with these endpoints, run limit and default-namespace providers.
pub fn banner(e: &Endpoints, max_runs: usize, providers: &[Built]) -> String {
    let mut out = format!(
        "mock-server {} ready\n  http   {}\n  https  {}\n  mtls   {}\n  admin  {}\n  ca     {}\n",
        env!("CARGO_PKG_VERSION"),
        e.http,
        e.https,
        e.mtls,
        e.admin,
        e.ca
    );
    if let Some(m) = &e.mqtt {
        out.push_str(&format!("  mqtt   {}  {}  {}\n", m.tcp, m.tls, m.ws));
    }
    out.push_str(&format!("  proxy  {} (HTTPS_PROXY/HTTP_PROXY for clients that keep the real URLs)\n", e.proxy));
    out.push_str(&format!(
        "  runs   POST {}/runs (isolated namespaces for parallel jobs, at most {max_runs})\n",
        e.admin
    ));
    out.push_str("services (the base URL to configure instead of the real one):\n");
    for (key, url) in &e.services {
        out.push_str(&format!("  {key:<22} {url}\n"));
    }
    out.push_str("demo credentials (from the fixtures):\n");
    for built in providers {
        for line in built.provider.banner() {
            out.push_str(&format!("  {:<10} {line}\n", built.name));
        }
    }
    out
}
