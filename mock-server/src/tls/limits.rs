//! The limits: how much text the dev CA reads, how long what it signs stays valid, and how many
//! issued certificates it remembers.
//!
//! Every input here comes from a test or a client under test, so each has a bound: a signing
//! request or a forwarded certificate is read only up to a size no real one reaches, and the
//! log of issued certificates forgets its oldest entries instead of growing.

/// Largest certificate signing request or certificate text accepted (PEM or DER): real ones are
/// a few kilobytes; anything much larger is not one.
pub const MAX_CSR_BYTES: usize = 16 * 1024;
/// Certificates a CA remembers having issued (oldest forgotten first).
pub(crate) const ISSUED_LOG_CAPACITY: usize = 10_000;
/// Validity of client certificates signed from requests, unless asked otherwise.
pub const DEFAULT_CLIENT_CERT_DAYS: i64 = 365;
/// The longest validity [`CertAuthority::sign_csr`](crate::tls::CertAuthority::sign_csr) grants.
pub const MAX_VALIDITY_SECONDS: i64 = 10 * 366 * 86_400;
