//! Certificate facts: what handlers read off a client certificate.
//!
//! The thumbprint is RFC 8705's `x5t#S256`, `base64url(SHA-256(DER))`, the value certificate-bound
//! tokens carry in `cnf`. Subject, serial and validity are parsed from the DER (x509-parser) into
//! plain strings and times, so handlers compare subject attributes by their short names (`OU`,
//! `CN`) and judge validity on the virtual clock rather than the wall clock.

use std::sync::Arc;

use base64::Engine;
use chrono::{DateTime, Utc};
use rustls::pki_types::CertificateDer;
use serde::Serialize;
use sha2::{Digest, Sha256};

/// `base64url(SHA-256(DER))`: the RFC 8705 `x5t#S256` thumbprint of a certificate.
pub fn thumbprint(der: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(der))
}

/// The verified client certificate of an mTLS connection, put into each request's extensions.
#[derive(Clone, Debug)]
pub struct PeerCertificate {
    pub der: Arc<CertificateDer<'static>>,
    pub thumbprint: Arc<str>,
}

impl PeerCertificate {
    pub(crate) fn new(der: CertificateDer<'static>) -> Self {
        let thumbprint = thumbprint(&der).into();
        PeerCertificate { der: Arc::new(der), thumbprint }
    }

    /// Subject, serial and validity (validity is the handler's to check, on the virtual clock:
    /// the listener only verifies the chain).
    pub(crate) fn details(&self) -> Result<CertificateDetails, String> {
        certificate_details(&self.der)
    }
}

/// What handlers need to know about a certificate.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CertificateDetails {
    /// e.g. `C=UK, O=Org, OU=<org id>, CN=<software statement id>`.
    pub subject: String,
    /// The subject's attributes in order, by short name (`C`, `O`, `OU`, `CN`...).
    pub attributes: Vec<(String, String)>,
    /// Serial number, lower-case hex without leading zeros.
    pub serial: String,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
}

impl CertificateDetails {
    /// The first subject attribute with this short name.
    pub(crate) fn attribute(&self, short_name: &str) -> Option<&str> {
        self.attributes.iter().find(|(k, _)| k == short_name).map(|(_, v)| v.as_str())
    }

    /// Valid at `now` (the virtual clock, for the server).
    pub fn is_valid_at(&self, now: DateTime<Utc>) -> bool {
        self.not_before <= now && now < self.not_after
    }
}

/// Parses a certificate's subject, serial and validity.
pub fn certificate_details(der: &[u8]) -> Result<CertificateDetails, String> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).map_err(|e| e.to_string())?;
    let attributes = cert
        .subject()
        .iter_attributes()
        .map(|a| (short_name(&a.attr_type().to_id_string()), a.as_str().map(str::to_owned).unwrap_or_default()))
        .collect();
    let serial_bytes = cert.raw_serial();
    let serial: String = serial_bytes.iter().skip_while(|b| **b == 0).map(|b| format!("{b:02x}")).collect();
    let time = |t: x509_parser::time::ASN1Time| DateTime::<Utc>::from_timestamp(t.timestamp(), 0).unwrap_or_default();
    Ok(CertificateDetails {
        subject: cert.subject().to_string(),
        attributes,
        serial: if serial.is_empty() { "00".into() } else { serial },
        not_before: time(cert.validity().not_before),
        not_after: time(cert.validity().not_after),
    })
}

/// The short name of common subject attributes (`CN`, `OU`...), the dotted OID otherwise.
pub(super) fn short_name(oid: &str) -> String {
    match oid {
        "2.5.4.3" => "CN",
        "2.5.4.6" => "C",
        "2.5.4.7" => "L",
        "2.5.4.8" => "ST",
        "2.5.4.10" => "O",
        "2.5.4.11" => "OU",
        "2.5.4.5" => "serialNumber",
        "0.9.2342.19200300.100.1.25" => "DC",
        "1.2.840.113549.1.9.1" => "emailAddress",
        other => other,
    }
    .to_owned()
}
