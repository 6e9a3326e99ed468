//! TLS material and configuration: the dev CA (rcgen, created once in the certs directory and
//! reused), a server certificate for loopback and every real provider hostname, and the rustls
//! configurations of the HTTPS and mTLS listeners.
//!
//! Certificates are built to pass strict X.509 checks (Python 3.13+, webpki): the CA has
//! basicConstraints CA and keyCertSign; the leaf has SANs, EKU serverAuth, AKI and SKI.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use base64::Engine;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SerialNumber,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};

use crate::files::load_or_create;

/// The one crypto provider of this process. Installed at start (idempotent), and passed
/// explicitly to every rustls builder so nothing depends on crate-feature guesswork.
pub fn crypto_provider() -> Arc<rustls::crypto::CryptoProvider> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    rustls::crypto::CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(rustls::crypto::ring::default_provider()))
}

/// The dev certificate authority.
pub struct CertAuthority {
    pub cert_pem: String,
    pub cert_der: CertificateDer<'static>,
    issuer: Issuer<'static, KeyPair>,
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
        Self::from_pem(&cert_pem, key)
            .with_context(|| format!("{} does not match ca-key.pem: delete both to start over", dir.join("ca.pem").display()))
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
            let (_, parsed) = x509_parser::parse_x509_certificate(&cert_der)
                .map_err(|e| anyhow::anyhow!("CA certificate: {e}"))?;
            parsed.public_key().subject_public_key.data.as_ref() == key.public_key_raw()
        };
        anyhow::ensure!(spki_matches, "CA certificate and key do not belong together");
        let issuer = Issuer::from_ca_cert_der(&cert_der, key)?;
        Ok(CertAuthority { cert_pem: cert_pem.to_owned(), cert_der, issuer })
    }

    /// A server certificate for `names` (DNS names or IP addresses), signed by this CA.
    pub fn issue_server_cert(&self, names: &[String]) -> Result<(CertificateDer<'static>, PrivateKeyDer<'static>)> {
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

    pub fn issuer(&self) -> &Issuer<'static, KeyPair> {
        &self.issuer
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

fn random_serial() -> SerialNumber {
    let mut bytes: [u8; 16] = rand::random();
    bytes[0] &= 0x7f; // positive
    bytes[0] |= 0x01; // and never zero-led
    SerialNumber::from_slice(&bytes)
}

/// `base64url(SHA-256(DER))`: the RFC 8705 `x5t#S256` thumbprint of a certificate.
pub fn thumbprint(der: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(der))
}

/// A client certificate and its private key, PEM-encoded.
#[derive(Clone, Debug)]
pub struct ClientCertificate {
    pub cert_pem: String,
    pub key_pem: String,
    /// `x5t#S256` of the certificate.
    pub thumbprint: String,
}

/// The verified client certificate of an mTLS connection, put into each request's extensions.
#[derive(Clone, Debug)]
pub struct PeerCertificate {
    pub der: Arc<CertificateDer<'static>>,
    pub thumbprint: Arc<str>,
}

impl PeerCertificate {
    pub fn new(der: CertificateDer<'static>) -> Self {
        let thumbprint = thumbprint(&der).into();
        PeerCertificate { der: Arc::new(der), thumbprint }
    }
}

/// Everything the listeners need for TLS.
pub struct TlsSetup {
    pub ca: CertAuthority,
    /// Where `ca.pem` can be read by clients (`REQUESTS_CA_BUNDLE`).
    pub ca_path: PathBuf,
    pub server_config: Arc<ServerConfig>,
    pub mtls_config: Arc<ServerConfig>,
}

impl TlsSetup {
    /// `names`: every host name and address the server certificate must cover.
    pub fn new(ca: CertAuthority, ca_path: PathBuf, names: &[String], certs_dir: Option<&Path>) -> Result<Self> {
        let provider = crypto_provider();
        let (cert, key) = ca.issue_server_cert(names)?;
        if let Some(dir) = certs_dir {
            // For users who want to inspect it or configure another server with it.
            let pem = pem_encode("CERTIFICATE", &cert);
            std::fs::write(dir.join("server.pem"), pem).context("writing server.pem")?;
        }
        let chain = vec![cert, ca.cert_der.clone()];

        let mut server_config = ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(chain.clone(), key.clone_key())?;
        server_config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];

        let mut roots = RootCertStore::empty();
        roots.add(ca.cert_der.clone())?;
        // Requested, verified against the dev CA when presented; handlers decide what a missing
        // certificate means (a 401 in the provider's own format beats a TLS alert).
        let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
            .allow_unauthenticated()
            .build()?;
        let mut mtls_config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_client_cert_verifier(verifier)
            .with_single_cert(chain, key)?;
        mtls_config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];

        Ok(TlsSetup { ca, ca_path, server_config: Arc::new(server_config), mtls_config: Arc::new(mtls_config) })
    }
}

pub fn pem_encode(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use x509_parser::prelude::*;

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
