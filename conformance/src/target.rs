//! The server under the runner: an embedded `mock-server` (started here on free ports) or one
//! already running (`--server http://127.0.0.1:8080/__admin`). Both are driven the same way,
//! through the admin API, so a scenario behaves identically against either.
//!
//! On a running server the runner works in a run of its own (`POST /__admin/runs`, deleted at
//! the end), so that runs in parallel on one server never see each other's events, faults,
//! clock or tokens. An admin URL that already names a run (`.../__run/{id}/__admin`) is used
//! as it is.

use anyhow::{bail, Context, Result};
use mock_server::{FaultRule, MockServer};
use serde_json::{json, Value};

use crate::contract::EventView;

pub struct Target {
    admin: String,
    http: reqwest::Client,
    /// The endpoints document (`http`, `https`, `ca`, `services`...).
    pub endpoints: Value,
    /// The endpoints document as a file, for clients (`CONFORMANCE_ENDPOINTS`); removed on drop.
    pub endpoints_file: std::path::PathBuf,
    /// The run this target created on a shared server, deleted by [`Target::close`].
    owned_run: Option<String>,
    /// The server's own admin URL, when `admin` is a run's.
    server_admin: String,
    _embedded: Option<MockServer>,
}

impl Drop for Target {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.endpoints_file);
    }
}

impl Target {
    pub async fn embedded() -> Result<Target> {
        let server = MockServer::builder().start().await.context("starting the embedded mock server")?;
        let admin = server.endpoints().admin.clone();
        Self::connect(admin, Some(server), None).await
    }

    /// A running server, in a run created for this target (unless `admin_url` names a run
    /// already).
    pub async fn attach(admin_url: &str) -> Result<Target> {
        let admin = admin_url.trim_end_matches('/').to_owned();
        if admin.contains("/__run/") {
            return Self::connect(admin, None, None).await;
        }
        let http = admin_client()?;
        let id = format!("conformance-{}-{:08x}", std::process::id(), rand::random::<u32>());
        let url = format!("{admin}/runs");
        let response = http
            .post(&url)
            .json(&json!({"id": id}))
            .send()
            .await
            .with_context(|| format!("POST {url}: is a mock-server running there?"))?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            bail!(
                "POST {url} answered {status}: {}",
                body.get("message").and_then(Value::as_str).unwrap_or(&body.to_string())
            );
        }
        let run_admin = body["endpoints"]["admin"].as_str().context("the new run has no admin URL")?.to_owned();
        let mut target = Self::connect(run_admin, None, Some(admin)).await?;
        target.owned_run = Some(id);
        Ok(target)
    }

    async fn connect(admin: String, embedded: Option<MockServer>, server_admin: Option<String>) -> Result<Target> {
        let http = admin_client()?;
        let endpoints_file = std::env::temp_dir().join(format!(
            "conformance-endpoints-{}-{:08x}.json",
            std::process::id(),
            rand::random::<u32>()
        ));
        let server_admin = server_admin.unwrap_or_else(|| admin.clone());
        let mut target = Target {
            admin,
            http,
            endpoints: Value::Null,
            endpoints_file,
            owned_run: None,
            server_admin,
            _embedded: embedded,
        };
        target.endpoints = target
            .call(reqwest::Method::GET, "endpoints", None)
            .await
            .with_context(|| format!("reading {}/endpoints: is a mock-server running there?", target.admin))?;
        std::fs::write(&target.endpoints_file, target.endpoints.to_string())
            .with_context(|| format!("writing {}", target.endpoints_file.display()))?;
        Ok(target)
    }

    /// The server's version, as its health endpoint says it.
    pub async fn server_version(&self) -> Option<String> {
        let health = self.call(reqwest::Method::GET, "health", None).await.ok()?;
        health.get("version").and_then(Value::as_str).map(str::to_owned)
    }

    pub fn admin_url(&self) -> &str {
        &self.admin
    }

    /// The run this target works in, when it created one.
    pub fn run(&self) -> Option<&str> {
        self.owned_run.as_deref()
    }

    /// Deletes the run this target created, if any.
    pub async fn close(self) -> Result<()> {
        if let Some(id) = &self.owned_run {
            let url = format!("{}/runs/{id}", self.server_admin);
            let status = self.http.delete(&url).send().await.with_context(|| format!("DELETE {url}"))?.status();
            if !status.is_success() {
                bail!("DELETE {url} answered {status}");
            }
        }
        Ok(())
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<RequestBody>) -> Result<Value> {
        let url = format!("{}/{path}", self.admin);
        let mut request = self.http.request(method.clone(), &url);
        request = match body {
            Some(RequestBody::Json(v)) => request.json(&v),
            Some(RequestBody::Text(t)) => request.header("content-type", "application/toml").body(t),
            None => request,
        };
        let response = request.send().await.with_context(|| format!("{method} {url}"))?;
        let status = response.status();
        let value: Value = response.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            bail!(
                "{method} {url} answered {status}: {}",
                value.get("message").and_then(Value::as_str).unwrap_or(&value.to_string())
            );
        }
        Ok(value)
    }

    pub async fn reset(&self) -> Result<()> {
        self.call(reqwest::Method::POST, "reset", None).await.map(drop)
    }

    pub async fn replace_fixtures(&self, toml_text: &str) -> Result<()> {
        self.call(reqwest::Method::PUT, "fixtures", Some(RequestBody::Text(toml_text.to_owned()))).await.map(drop)
    }

    pub async fn fixtures(&self) -> Result<Value> {
        Ok(self.call(reqwest::Method::GET, "fixtures", None).await?["fixtures"].take())
    }

    pub async fn add_faults(&self, rules: &[FaultRule]) -> Result<()> {
        if rules.is_empty() {
            return Ok(());
        }
        self.call(reqwest::Method::POST, "faults", Some(RequestBody::Json(serde_json::to_value(rules)?)))
            .await
            .map(drop)
    }

    pub async fn advance_clock(&self, seconds: i64) -> Result<()> {
        self.call(reqwest::Method::POST, "clock", Some(RequestBody::Json(json!({"advance_seconds": seconds}))))
            .await
            .map(drop)
    }

    /// Signs a CSR with the server's dev CA (`POST /certificates`): `(certificate PEM, thumbprint, serial)`.
    pub async fn sign_csr(&self, csr_pem: &str, validity_seconds: Option<i64>) -> Result<(String, String, String)> {
        let mut body = json!({"csr": csr_pem});
        if let Some(s) = validity_seconds {
            body["validity_seconds"] = json!(s);
        }
        let issued = self.call(reqwest::Method::POST, "certificates", Some(RequestBody::Json(body))).await?;
        let text = |k: &str| issued[k].as_str().unwrap_or_default().to_owned();
        Ok((text("certificate"), text("thumbprint"), text("serial")))
    }

    /// Merges `patch` (TOML: tables merge key by key, anything else replaces) into the fixtures
    /// the server serves now, and serves the result until the next reset.
    pub async fn patch_fixtures(&self, patch: &toml::Table) -> Result<()> {
        let current = self.fixtures().await?;
        let mut merged = match toml::Value::try_from(without_nulls(current)).context("the served fixtures as TOML")? {
            toml::Value::Table(t) => t,
            _ => bail!("the served fixtures are not a table"),
        };
        merge(&mut merged, patch);
        let text = toml::to_string(&merged).context("serialising the patched fixtures")?;
        self.replace_fixtures(&text).await
    }

    pub async fn events(&self) -> Result<Vec<EventView>> {
        let mut body = self.call(reqwest::Method::GET, "events", None).await?;
        let events = body["events"].take();
        Ok(events.as_array().cloned().unwrap_or_default().into_iter().map(EventView).collect())
    }
}

fn admin_client() -> Result<reqwest::Client> {
    Ok(reqwest::Client::builder().no_proxy().timeout(std::time::Duration::from_secs(30)).build()?)
}

/// JSON `null` has no TOML form: an absent key means the same to the fixtures' `Option`s.
fn without_nulls(v: Value) -> Value {
    match v {
        Value::Object(map) => {
            Value::Object(map.into_iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k, without_nulls(v))).collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().filter(|v| !v.is_null()).map(without_nulls).collect()),
        other => other,
    }
}

fn merge(into: &mut toml::Table, patch: &toml::Table) {
    for (key, value) in patch {
        match (into.get_mut(key), value) {
            (Some(toml::Value::Table(existing)), toml::Value::Table(more)) => merge(existing, more),
            _ => {
                into.insert(key.clone(), value.clone());
            }
        }
    }
}

enum RequestBody {
    Json(Value),
    Text(String),
}
