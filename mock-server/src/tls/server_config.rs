//! The rustls configurations of the HTTPS and mTLS listeners, and the mTLS listener's client
//! certificate check.
//!
//! Both listeners present one chain, the server certificate then the dev CA, and offer ALPN `h2`
//! and `http/1.1`. The mTLS listener asks for a client certificate without requiring one, and
//! checks one that is presented against the dev CA with the time left out: handlers decide what
//! a missing or expired certificate means, on the virtual clock, and answer in the provider's
//! own error format rather than with a TLS alert.
//! With a certs directory, the server certificate is also written there (`server.pem`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use rustls::client::danger::HandshakeSignatureValid;
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};

use super::authority::CertAuthority;
use super::pem::pem_encode;
use super::provider::crypto_provider;

/// Everything the listeners need for TLS.
pub struct TlsSetup {
    pub ca: CertAuthority,
    /// Where `ca.pem` can be read by clients (`REQUESTS_CA_BUNDLE`).
    pub ca_path: PathBuf,
    pub server_config: Arc<ServerConfig>,
    pub mtls_config: Arc<ServerConfig>,
    client_verifier: Arc<VirtualTimeClientVerifier>,
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
        let webpki = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
            .allow_unauthenticated()
            .build()?;
        let client_verifier = Arc::new(VirtualTimeClientVerifier { inner: webpki });
        let mut mtls_config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_client_cert_verifier(client_verifier.clone())
            .with_single_cert(chain, key)?;
        mtls_config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];

        Ok(TlsSetup {
            ca,
            ca_path,
            server_config: Arc::new(server_config),
            mtls_config: Arc::new(mtls_config),
            client_verifier,
        })
    }

    /// Checks a client certificate that did not come through our own handshake (e.g. forwarded
    /// by a TLS-terminating proxy) exactly as the mTLS listener would: it must chain to the dev
    /// CA with EKU clientAuth; validity is the caller's to judge on the virtual clock.
    pub(crate) fn verify_client_chain(&self, der: &CertificateDer<'_>) -> Result<(), String> {
        self.client_verifier.verify_client_cert(der, &[], UnixTime::now()).map(|_| ()).map_err(|e| e.to_string())
    }
}

/// The mTLS listener's client-certificate check: the chain must lead to the dev CA with EKU
/// clientAuth, as webpki checks it; but time is left out (checked at an instant inside the
/// certificate's validity). Handlers judge validity on the virtual clock
/// ([`CertificateDetails::is_valid_at`]), so a certificate that expired there is refused in the
/// provider's own error format rather than by a TLS alert, and certificates issued while the
/// clock is moved work at all.
/// (The dev CA is the trust anchor itself, whose validity webpki does not check, so any instant
/// inside the client certificate's own validity will do.)
#[derive(Debug)]
struct VirtualTimeClientVerifier {
    inner: Arc<dyn ClientCertVerifier>,
}

impl VirtualTimeClientVerifier {
    /// The middle of the certificate's validity; `now` if it has none to speak of.
    fn instant_for(&self, end_entity: &CertificateDer<'_>, now: UnixTime) -> UnixTime {
        let Ok((_, cert)) = x509_parser::parse_x509_certificate(end_entity) else { return now };
        let from = cert.validity().not_before.timestamp();
        let to = cert.validity().not_after.timestamp();
        if from > to || from < 0 {
            return now;
        }
        UnixTime::since_unix_epoch(std::time::Duration::from_secs((from + (to - from) / 2) as u64))
    }
}

impl ClientCertVerifier for VirtualTimeClientVerifier {
    fn offer_client_auth(&self) -> bool {
        self.inner.offer_client_auth()
    }

    fn client_auth_mandatory(&self) -> bool {
        self.inner.client_auth_mandatory()
    }

    fn root_hint_subjects(&self) -> &[rustls::DistinguishedName] {
        self.inner.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        self.inner.verify_client_cert(end_entity, intermediates, self.instant_for(end_entity, now))
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::tls::csr::tests::{oe_subject, request};
    use crate::tls::csr::Validity;

    #[test]
    fn the_mtls_check_leaves_time_to_handlers_but_not_the_chain() {
        let ca = CertAuthority::ephemeral().unwrap();
        let setup = TlsSetup::new(ca, PathBuf::from("ca.pem"), &["localhost".into()], None).unwrap();
        let (pem, _) = request(oe_subject());
        let long_ago = Utc::now() - chrono::Duration::days(400);
        let expired = setup.ca.sign_csr(pem.as_bytes(), Validity::starting(long_ago, 86_400)).unwrap();
        assert_eq!(setup.verify_client_chain(&expired.der), Ok(()));
        let other = CertAuthority::ephemeral().unwrap();
        let foreign = other.sign_csr(pem.as_bytes(), Validity::starting(Utc::now(), 86_400)).unwrap();
        assert!(setup.verify_client_chain(&foreign.der).is_err());
    }
}
