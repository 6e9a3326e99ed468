//! The dev certificate authority: one CA key and self-signed certificate, created once in the
//! certs directory (`ca.pem`, `ca-key.pem`) and reused, or ephemeral, in memory only.
//!
//! It issues the server certificate (one leaf naming every host name and address the listeners
//! answer for: loopback and the providers' real hostnames) and client certificates for tests, and
//! remembers, bounded, what it signed from requests (the signing itself is in `csr.rs`).
//! Certificates are built for strict verifiers (Python 3.13+, webpki): the CA has
//! basicConstraints CA and keyCertSign; the leaves issued here have SANs (the server's), EKU
//! serverAuth or clientAuth, AKI and SKI, a random positive serial, and start a day early
//! against clock skew.

use std::collections::VecDeque;
use std::path::Path;
use std::sync::Mutex;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SerialNumber,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use serde::Serialize;
use time::{Duration, OffsetDateTime};

use super::details::thumbprint;
use super::limits::ISSUED_LOG_CAPACITY;
use crate::files::load_or_create;

/// The dev certificate authority.
pub struct CertAuthority {
    pub cert_pem: String,
    pub cert_der: CertificateDer<'static>,
    issuer: Issuer<'static, KeyPair>,
    /// What [`CertAuthority::sign_csr`] issued, bounded.
    issued: Mutex<VecDeque<IssuedCertificate>>,
}

impl CertAuthority {
    /// Loads `ca.pem` + `ca-key.pem` from `dir`, creating them on first use.
    pub fn load_or_create(dir: &Path) -> Result<Self> {
        let key_pem = load_or_create(&dir.join("ca-key.pem"), || {
            KeyPair::generate().map(|k| k.serialize_pem()).map_err(std::io::Error::other)
        })
        .with_context(|| format!("reading or creating {}", dir.join("ca-key.pem").display()))?;
        let key = KeyPair::from_pem(&key_pem).context("ca-key.pem is not a usable private key")?;
        let cert_pem = load_or_create(&dir.join("ca.pem"), || {
            ca_params().self_signed(&key).map(|c| c.pem()).map_err(std::io::Error::other)
        })
        .with_context(|| format!("reading or creating {}", dir.join("ca.pem").display()))?;
        Self::from_pem(&cert_pem, key).with_context(|| {
            format!("{} does not match ca-key.pem: delete both to start over", dir.join("ca.pem").display())
        })
    }

    /// A new CA that lives only in memory.
    pub fn ephemeral() -> Result<Self> {
        let key = KeyPair::generate()?;
        let cert_pem = ca_params().self_signed(&key)?.pem();
        Self::from_pem(&cert_pem, key)
    }

    fn from_pem(cert_pem: &str, key: KeyPair) -> Result<Self> {
        let cert_der = CertificateDer::from_pem_slice(cert_pem.as_bytes())
            .map_err(|e| anyhow::anyhow!("CA certificate PEM: {e}"))?;
        let spki_matches = {
            let (_, parsed) =
                x509_parser::parse_x509_certificate(&cert_der).map_err(|e| anyhow::anyhow!("CA certificate: {e}"))?;
            parsed.public_key().subject_public_key.data.as_ref() == key.public_key_raw()
        };
        anyhow::ensure!(spki_matches, "CA certificate and key do not belong together");
        let issuer = Issuer::from_ca_cert_der(&cert_der, key)?;
        Ok(CertAuthority { cert_pem: cert_pem.to_owned(), cert_der, issuer, issued: Mutex::new(VecDeque::new()) })
    }

    /// A server certificate for `names` (DNS names or IP addresses), signed by this CA.
    pub(crate) fn issue_server_cert(
        &self,
        names: &[String],
    ) -> Result<(CertificateDer<'static>, PrivateKeyDer<'static>)> {
        let key = KeyPair::generate()?;
        let mut params = leaf_params(names, names.first().map(String::as_str).unwrap_or("localhost"))?;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let cert = params.signed_by(&key, &self.issuer)?;
        let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        Ok((cert.der().clone(), key_der))
    }

    /// A client certificate (EKU clientAuth) for `common_name`, signed by this CA: what a test
    /// client presents on the mTLS listener. Returns the certificate and its key as PEM.
    pub fn issue_client_cert(&self, common_name: &str) -> Result<ClientCertificate> {
        let key = KeyPair::generate()?;
        let mut params = leaf_params(&[], common_name)?;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok(ClientCertificate { thumbprint: thumbprint(cert.der()), cert_pem: cert.pem(), key_pem: key.serialize_pem() })
    }

    pub(crate) fn issuer(&self) -> &Issuer<'static, KeyPair> {
        &self.issuer
    }

    /// The certificates [`sign_csr`](Self::sign_csr) issued in this process, oldest first (at
    /// most [`ISSUED_LOG_CAPACITY`]).
    pub(crate) fn issued(&self) -> Vec<IssuedCertificate> {
        self.issued.lock().unwrap_or_else(|e| e.into_inner()).iter().cloned().collect()
    }

    /// Remembers a certificate [`sign_csr`](Self::sign_csr) issued, forgetting the oldest beyond
    /// [`ISSUED_LOG_CAPACITY`].
    pub(super) fn remember(&self, issued: IssuedCertificate) {
        let mut log = self.issued.lock().unwrap_or_else(|e| e.into_inner());
        if log.len() >= ISSUED_LOG_CAPACITY {
            log.pop_front();
        }
        log.push_back(issued);
    }
}

/// An end-entity certificate valid for a year (from yesterday, against clock skew), naming its
/// issuer's key (AKI) as strict verifiers such as Python's require.
fn leaf_params(names: &[String], common_name: &str) -> Result<CertificateParams> {
    let mut params = CertificateParams::new(names.to_vec())?;
    params.distinguished_name = dn(common_name);
    params.is_ca = IsCa::ExplicitNoCa;
    params.use_authority_key_identifier_extension = true;
    params.serial_number = Some(random_serial());
    let now = OffsetDateTime::now_utc();
    params.not_before = now - Duration::days(1);
    params.not_after = now + Duration::days(365);
    Ok(params)
}

fn ca_params() -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = dn("mock-server dev CA (for tests only)");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    params.serial_number = Some(random_serial());
    let now = OffsetDateTime::now_utc();
    params.not_before = now - Duration::days(1);
    params.not_after = now + Duration::days(3650);
    params
}

fn dn(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "mock-server");
    dn.push(DnType::CommonName, common_name);
    dn
}

pub(super) fn random_serial() -> SerialNumber {
    let mut bytes: [u8; 16] = rand::random();
    bytes[0] &= 0x7f; // positive
    bytes[0] |= 0x01; // and never zero-led
    SerialNumber::from_slice(&bytes)
}

/// A client certificate and its private key, PEM-encoded.
#[derive(Clone, Debug)]
pub struct ClientCertificate {
    pub cert_pem: String,
    pub key_pem: String,
    /// `x5t#S256` of the certificate.
    pub thumbprint: String,
}

/// A certificate this CA issued from a request.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IssuedCertificate {
    /// The certificate, PEM.
    pub certificate: String,
    /// `x5t#S256` of the certificate.
    pub thumbprint: String,
    /// Serial number, lower-case hex.
    pub serial: String,
    /// The subject as the certificate names it, e.g. `C=UK, O=Org, OU=<org id>, CN=<id>`.
    pub subject: String,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
    #[serde(skip)]
    pub der: CertificateDer<'static>,
}

#[cfg(test)]
mod tests {
    use x509_parser::prelude::*;

    use super::*;

    #[test]
    fn ca_and_leaf_have_what_strict_verifiers_require() {
        let ca = CertAuthority::ephemeral().unwrap();
        let (_, ca_cert) = parse_x509_certificate(&ca.cert_der).unwrap();
        assert!(ca_cert.basic_constraints().unwrap().unwrap().value.ca);
        assert!(ca_cert.key_usage().unwrap().unwrap().value.key_cert_sign());
        assert!(ca_cert.extensions().iter().any(|e| e.oid.to_id_string() == "2.5.29.14"), "CA SKI missing");

        let (leaf_der, _) = ca.issue_server_cert(&["localhost".into(), "127.0.0.1".into()]).unwrap();
        let (_, leaf) = parse_x509_certificate(&leaf_der).unwrap();
        let ids: Vec<String> = leaf.extensions().iter().map(|e| e.oid.to_id_string()).collect();
        assert!(ids.contains(&"2.5.29.35".to_string()), "AKI missing: {ids:?}");
        assert!(ids.contains(&"2.5.29.14".to_string()), "SKI missing: {ids:?}");
        assert!(leaf.extended_key_usage().unwrap().unwrap().value.server_auth);
        assert!(!leaf.basic_constraints().unwrap().unwrap().value.ca);
        let san = leaf.subject_alternative_name().unwrap().unwrap();
        assert_eq!(san.value.general_names.len(), 2);
    }

    #[test]
    fn persisted_ca_is_reused() {
        let dir = std::env::temp_dir().join(format!("ms-ca-{}", rand::random::<u64>()));
        let a = CertAuthority::load_or_create(&dir).unwrap();
        let b = CertAuthority::load_or_create(&dir).unwrap();
        assert_eq!(a.cert_pem, b.cert_pem);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
