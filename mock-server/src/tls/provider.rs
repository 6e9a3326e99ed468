//! The crypto provider: aws-lc-rs, the one crypto backend of this process (rustls, rcgen and
//! jsonwebtoken all use it).
//!
//! rustls picks a default provider from crate features, and two dependencies enabling different
//! ones make that guess fail at run time. So the provider is installed once, at start, and every
//! rustls builder here (server, mTLS, test clients) is handed it explicitly.

use std::sync::Arc;

/// The one crypto provider of this process. Installed at start (idempotent), and passed
/// explicitly to every rustls builder so nothing depends on crate-feature guesswork.
pub fn crypto_provider() -> Arc<rustls::crypto::CryptoProvider> {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    rustls::crypto::CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
}
