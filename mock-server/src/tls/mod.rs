//! TLS material and configuration: the dev CA (rcgen, created once in the certs directory and
//! reused), a server certificate for loopback and every real provider hostname, and the rustls
//! configurations of the HTTPS and mTLS listeners.
//!
//! Certificates are built to pass strict X.509 checks (Python 3.13+, webpki): the CA has
//! basicConstraints CA and keyCertSign; the leaf has SANs, EKU serverAuth, AKI and SKI.
//!
//! The CA also signs certificate signing requests into end-entity client certificates
//! ([`CertAuthority::sign_csr`]: never a CA, whatever the request asks; validity given by the
//! caller, from the virtual clock). The mTLS listener checks a client certificate's chain and
//! leaves its validity period to handlers, which judge it on the virtual clock
//! ([`CertificateDetails::is_valid_at`]), so expiry answers in the provider's own format.
//! `certificate_from_text` reads certificates forwarded by TLS-terminating proxies.
//!
//! One subject per file: `provider` (the crypto provider), `authority` (the dev CA and the
//! certificates it issues), `csr` (signing requests), `pem` (PEM, and certificates forwarded as
//! text), `details` (thumbprints and what handlers read off a certificate), `limits`, and
//! `server_config` (the listeners' rustls configurations and client certificate check).

mod authority;
mod csr;
mod details;
mod limits;
mod pem;
mod provider;
mod server_config;

pub use authority::{CertAuthority, ClientCertificate, IssuedCertificate};
pub use csr::{CsrError, Validity};
pub use details::{certificate_details, thumbprint, CertificateDetails, PeerCertificate};
pub use limits::{DEFAULT_CLIENT_CERT_DAYS, MAX_CSR_BYTES, MAX_VALIDITY_SECONDS};
pub(crate) use pem::certificate_from_text;
pub use pem::{pem_blocks, PemBlock};
pub use provider::crypto_provider;
pub use server_config::TlsSetup;
