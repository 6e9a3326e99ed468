//! The client certificate every run gets (`CONFORMANCE_CLIENT_CERT` / `CONFORMANCE_CLIENT_KEY`):
//! a fresh ECDSA P-256 key and a CSR made here, signed by the server's dev CA through the admin
//! API (`POST /__admin/certificates`), as a directory member uploads its CSR. The subject comes
//! from the provider profile (`CONFORMANCE_CERT_SUBJECT` in its environment, e.g. Open Energy's
//! `OU=<organisation id>, CN=<software statement id>`, which registers the certificate to that
//! statement); a scenario may ask for a self-signed ("foreign") certificate instead.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use rcgen::{CertificateParams, DnType, KeyPair};
use serde::Deserialize;

/// `CN=conformance-client` when the profile names no subject.
pub const DEFAULT_SUBJECT: &str = "CN=conformance-client";

/// What a scenario asks of the run's client certificate (`[setup.client_certificate]`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertificateSetup {
    /// `dev-ca` (default: signed by the server's CA) or `self-signed` (a foreign certificate).
    #[serde(default)]
    pub issuer: Issuer,
    /// Validity from now on the virtual clock (default: 365 days).
    pub validity_seconds: Option<i64>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Issuer {
    #[default]
    DevCa,
    SelfSigned,
}

/// The files handed to the client, and what the server knows the certificate by.
#[derive(Debug, Clone)]
pub struct ClientCertificate {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
    /// `x5t#S256`, as the journal's `client_cert` (empty for a self-signed one).
    pub thumbprint: String,
    pub serial: String,
}

/// `OU=a, CN=b` (or `OU=a,CN=b`) into rcgen's distinguished name.
fn params_for(subject: &str) -> Result<CertificateParams> {
    let mut params = CertificateParams::new(Vec::<String>::new()).context("certificate parameters")?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    for part in subject.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (key, value) = part.split_once('=').with_context(|| format!("subject part '{part}' is not KEY=value"))?;
        let kind = match key.trim().to_ascii_uppercase().as_str() {
            "CN" => DnType::CommonName,
            "OU" => DnType::OrganizationalUnitName,
            "O" => DnType::OrganizationName,
            "C" => DnType::CountryName,
            "L" => DnType::LocalityName,
            "ST" => DnType::StateOrProvinceName,
            other => anyhow::bail!("subject attribute '{other}' is not supported (CN, OU, O, C, L, ST)"),
        };
        params.distinguished_name.push(kind, value.trim());
    }
    Ok(params)
}

/// A new key and CSR (PEM) for `subject`.
pub fn key_and_csr(subject: &str) -> Result<(KeyPair, String)> {
    let key = KeyPair::generate().context("generating the client key")?;
    let csr = params_for(subject)?.serialize_request(&key).context("making the CSR")?.pem().context("CSR to PEM")?;
    Ok((key, csr))
}

/// A self-signed certificate for `subject`: a certificate no directory issued.
pub fn self_signed(subject: &str) -> Result<(KeyPair, String)> {
    let key = KeyPair::generate().context("generating the client key")?;
    let cert = params_for(subject)?.self_signed(&key).context("self-signing")?;
    Ok((key, cert.pem()))
}

/// Writes the pair into `dir` as `client.pem` and `client.key` (the key readable by the owner only).
pub fn write(
    dir: &Path,
    cert_pem: &str,
    key: &KeyPair,
    thumbprint: String,
    serial: String,
) -> Result<ClientCertificate> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let cert_file = dir.join("client.pem");
    let key_file = dir.join("client.key");
    std::fs::write(&cert_file, cert_pem).with_context(|| format!("writing {}", cert_file.display()))?;
    std::fs::write(&key_file, key.serialize_pem()).with_context(|| format!("writing {}", key_file.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600));
    }
    Ok(ClientCertificate { cert_file, key_file, thumbprint, serial })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_parse_and_bad_ones_are_named() {
        let (_, csr) = key_and_csr("OU=org-1, CN=statement-1").unwrap();
        assert!(csr.starts_with("-----BEGIN CERTIFICATE REQUEST-----"));
        assert!(params_for("XX=1").unwrap_err().to_string().contains("'XX'"));
        assert!(self_signed(DEFAULT_SUBJECT).unwrap().1.starts_with("-----BEGIN CERTIFICATE-----"));
    }
}
