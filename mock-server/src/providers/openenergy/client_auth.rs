//! Who is calling: the client certificate of a request, and `tls_client_auth` (RFC 8705 §2).
//!
//! The certificate comes from the mTLS handshake, where the listener has checked that it chains
//! to the directory CA (the dev CA). Behind a TLS-terminating proxy that the fixtures trust
//! (`trusted_proxies`), the resource server reads it from `X-OE-CLIENT-CERT` instead, as the
//! package's `nginx_cert_parser` (PEM with tabs) and `gunicorn_cert_parser` (base64 DER) do, and
//! checks its chain the same way. A header from anyone else is ignored.
//!
//! Validity is judged here, on the virtual clock, so an expired certificate is refused as
//! `invalid_client` and moving the clock expires certificates like it expires tokens.

use axum::http::HeaderMap;
use chrono::{DateTime, Utc};

use super::errors::OAuthError;
use super::fixtures::{Fixtures, Registered};
use crate::contract::ConnInfo;
use crate::namespace::Namespace;
use crate::tls::{certificate_details, certificate_from_text, thumbprint, CertificateDetails};

/// The header a trusted proxy forwards the client certificate in.
pub const CERT_HEADER: &str = "x-oe-client-cert";

/// A client certificate the request came with.
#[derive(Debug, Clone)]
pub struct Presented {
    /// `x5t#S256`.
    pub thumbprint: String,
    pub details: CertificateDetails,
    /// `tls`, or the header it was forwarded in.
    pub via: &'static str,
}

/// The client certificate of a request, or why there is none (for the journal).
pub fn presented(
    ns: &Namespace,
    fixtures: &Fixtures,
    conn: Option<&ConnInfo>,
    headers: &HeaderMap,
    allow_proxy: bool,
) -> Result<Presented, String> {
    let header = headers.get(CERT_HEADER);
    let from = conn.map(|c| c.remote.ip());
    if let (true, Some(header), Some(ip)) = (allow_proxy, header, from) {
        if fixtures.trusts_proxy(ip) {
            let text = std::str::from_utf8(header.as_bytes()).map_err(|_| format!("{CERT_HEADER} is not text"))?;
            let der = certificate_from_text(text).map_err(|e| format!("{CERT_HEADER} from trusted proxy {ip}: {e}"))?;
            ns.tls.verify_client_chain(&der).map_err(|e| {
                format!("{CERT_HEADER} from trusted proxy {ip}: the certificate is not from the directory CA ({e})")
            })?;
            let details = certificate_details(&der).map_err(|e| format!("{CERT_HEADER}: {e}"))?;
            return Ok(Presented { thumbprint: thumbprint(&der), details, via: "X-OE-CLIENT-CERT" });
        }
    }
    match conn.and_then(|c| c.peer_certificate.as_ref()) {
        Some(peer) => {
            let details = peer.details().map_err(|e| format!("the client certificate cannot be read: {e}"))?;
            Ok(Presented { thumbprint: peer.thumbprint.to_string(), details, via: "tls" })
        }
        None => {
            let mut reason = "no client certificate was presented".to_owned();
            if let (Some(_), Some(ip)) = (header, from) {
                reason.push_str(&format!(" ({CERT_HEADER} from {ip} ignored: not a trusted proxy)"));
            }
            Err(reason)
        }
    }
}

/// `tls_client_auth`: the certificate must be current on the virtual clock, not revoked, and
/// registered to `client_id` (by subject `OU=<organisation id>, CN=<software statement id>` or
/// by thumbprint), whose statement and organisation are active.
pub fn authenticate<'f>(
    fixtures: &'f Fixtures,
    certificate: Result<&Presented, &str>,
    client_id: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Registered<'f>, OAuthError> {
    let cert = certificate.map_err(|why| {
        OAuthError::invalid_client(format!(
            "{why}: tls_client_auth needs the client's certificate, issued by the directory, in the TLS handshake (RFC 8705 §2)"
        ))
    })?;
    let client_id = client_id.ok_or_else(|| {
        OAuthError::invalid_client(
            "client_id is required: with tls_client_auth the client names itself in the request body (RFC 8705 §2)",
        )
    })?;
    let registered = fixtures.client(client_id).ok_or_else(|| {
        OAuthError::invalid_client(format!("client '{client_id}' is not registered in the directory"))
    })?;
    let d = &cert.details;
    if now < d.not_before {
        return Err(OAuthError::invalid_client(format!(
            "the client certificate is not valid before {} (it is {})",
            d.not_before.to_rfc3339(),
            now.to_rfc3339()
        )));
    }
    if now >= d.not_after {
        return Err(OAuthError::invalid_client(format!(
            "the client certificate expired at {} (it is {}): have a new one signed",
            d.not_after.to_rfc3339(),
            now.to_rfc3339()
        )));
    }
    if let Some(revoked) = fixtures.revocation(&cert.thumbprint, &d.serial) {
        let reason = if revoked.reason.is_empty() { String::new() } else { format!(": {}", revoked.reason) };
        return Err(OAuthError::invalid_client(format!(
            "the client certificate (serial {}) has been revoked{reason}",
            d.serial
        )));
    }
    let (org, statement) = (registered.organisation, registered.statement);
    let by_subject = d.attribute("OU") == Some(org.id.as_str()) && d.attribute("CN") == Some(statement.id.as_str());
    let by_thumbprint = statement.certificate_thumbprints.contains(&cert.thumbprint);
    if !by_subject && !by_thumbprint {
        return Err(OAuthError::invalid_client(format!(
            "the client certificate '{}' is not registered to client '{client_id}': the directory issues its certificates \
             with OU={} (organisation id) and CN={} (software statement id)",
            d.subject, org.id, statement.id
        )));
    }
    if !statement.status.eq_ignore_ascii_case("active") {
        return Err(OAuthError::invalid_client(format!(
            "software statement '{}' is {}",
            statement.id, statement.status
        )));
    }
    if !org.status.eq_ignore_ascii_case("active") {
        return Err(OAuthError::invalid_client(format!("organisation '{}' is {}", org.id, org.status)));
    }
    Ok(registered)
}
