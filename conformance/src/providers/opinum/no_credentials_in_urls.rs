//! `opinum.no-credentials-in-urls`: neither the client secret, the user's password nor a token
//! ever appears in a URL (path or query string), where proxies and server logs keep it.

use crate::contract::{Check, Params, Run, Verdict};

pub struct NoCredentialsInUrls;

/// Query keys that carry a credential whatever their value.
const CREDENTIAL_KEYS: &[&str] =
    &["access_token", "refresh_token", "token", "password", "client_secret", "apikey", "api_key"];

impl Check for NoCredentialsInUrls {
    fn name(&self) -> &'static str {
        "opinum.no-credentials-in-urls"
    }
    fn summary(&self) -> &'static str {
        "No client secret, password or token in any URL (path or query string)"
    }
    fn clause(&self) -> &'static str {
        "RFC 6749 §2.3.1 and §3.2 (credentials in the request body, never the URI); RFC 6750 §5.3 (no bearer tokens in page URLs)"
    }
    fn evaluate(&self, run: &Run, _: &Params) -> Verdict {
        let leaks: Vec<_> = run
            .exchanges()
            .filter(|e| e.provider() == "opinum" || e.provider().is_empty())
            .filter(|e| {
                e.secret_in().iter().any(|p| *p == "path" || p.starts_with("query:"))
                    || e.query_keys().iter().any(|k| CREDENTIAL_KEYS.iter().any(|c| k.eq_ignore_ascii_case(c)))
            })
            .collect();
        if let Some(first) = leaks.first() {
            let mut places: Vec<String> = first.secret_in().iter().map(|s| s.to_string()).collect();
            places.extend(
                first
                    .query_keys()
                    .iter()
                    .filter(|k| CREDENTIAL_KEYS.iter().any(|c| k.eq_ignore_ascii_case(c)))
                    .map(|k| format!("query:{k}")),
            );
            places.dedup();
            return Verdict::violated(format!(
                "credentials in the URL of {} {} ({}); {} request(s) in all",
                first.method(),
                first.path(),
                places.join(", "),
                leaks.len()
            ))
            .with(leaks);
        }
        Verdict::pass("no credential appeared in any URL")
    }
}
