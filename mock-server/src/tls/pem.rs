//! PEM, and certificates forwarded as text.
//!
//! PEM is base64 DER between `-----BEGIN <label>-----` and `-----END <label>-----` lines (RFC
//! 7468). The reader is lenient, because certificates reach it through proxy headers: nginx
//! puts tabs into `$ssl_client_cert` or URL-encodes it (`$ssl_client_escaped_cert`), gunicorn
//! sends bare base64 DER. Whatever the text, reading it never panics; it reports what was wrong.

use base64::Engine;
use rustls::pki_types::CertificateDer;

use super::limits::MAX_CSR_BYTES;

/// `der` as one PEM block labelled `label`, base64 in lines of 64 characters.
pub(crate) fn pem_encode(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// One PEM block found in a text.
#[derive(Debug, Clone, PartialEq)]
pub struct PemBlock {
    pub label: String,
    /// The decoded contents, or why they could not be decoded.
    pub der: Result<Vec<u8>, String>,
}

/// Every `-----BEGIN X----- ... -----END X-----` block of `text`, leniently: CR, tabs and
/// spaces inside the base64 are ignored (nginx puts tabs in forwarded certificates). Never
/// panics, whatever the text.
pub fn pem_blocks(text: &str) -> Vec<PemBlock> {
    const BEGIN: &str = "-----BEGIN ";
    let mut blocks = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(BEGIN) {
        let after = &rest[start + BEGIN.len()..];
        let Some(label_end) = after.find("-----") else { break };
        let label = after[..label_end].trim().to_owned();
        let body_start = &after[label_end + 5..];
        let end_marker = format!("-----END {label}-----");
        let Some(end) = body_start.find(&end_marker) else {
            blocks.push(PemBlock { label: label.clone(), der: Err(format!("no '{end_marker}' line")) });
            break;
        };
        let body: String = body_start[..end].chars().filter(|c| !c.is_whitespace()).collect();
        let der = base64::engine::general_purpose::STANDARD.decode(body.as_bytes()).map_err(|e| e.to_string());
        blocks.push(PemBlock { label, der });
        rest = &body_start[end + end_marker.len()..];
    }
    blocks
}

/// Why a certificate given as text could not be read.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub(crate) enum CertificateTextError {
    #[error("empty")]
    Empty,
    #[error("{0} bytes is too long for a certificate")]
    TooLarge(usize),
    #[error("neither a PEM certificate nor base64 DER: {0}")]
    Unreadable(String),
    #[error("not an X.509 certificate: {0}")]
    NotACertificate(String),
}

/// Reads one certificate given as text, in the forms TLS-terminating proxies forward it: PEM
/// (nginx `$ssl_client_cert`, with tabs; or URL-encoded, `$ssl_client_escaped_cert`) or base64
/// DER (gunicorn). The result parses as X.509; whether to trust it is the caller's business.
pub(crate) fn certificate_from_text(text: &str) -> Result<CertificateDer<'static>, CertificateTextError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(CertificateTextError::Empty);
    }
    if text.len() > MAX_CSR_BYTES {
        return Err(CertificateTextError::TooLarge(text.len()));
    }
    let decoded;
    let text = if text.starts_with("-----BEGIN") || !text.contains('%') {
        text
    } else {
        decoded = percent_encoding::percent_decode_str(text).decode_utf8_lossy().into_owned();
        decoded.as_str()
    };
    let der = if text.contains("-----BEGIN") {
        let blocks = pem_blocks(text);
        let block = blocks
            .into_iter()
            .find(|b| b.label == "CERTIFICATE")
            .ok_or_else(|| CertificateTextError::Unreadable("no PEM CERTIFICATE block".into()))?;
        block.der.map_err(CertificateTextError::Unreadable)?
    } else {
        let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        base64::engine::general_purpose::STANDARD
            .decode(compact.as_bytes())
            .map_err(|e| CertificateTextError::Unreadable(e.to_string()))?
    };
    match x509_parser::parse_x509_certificate(&der) {
        Ok(([], _)) => Ok(CertificateDer::from(der)),
        Ok(_) => Err(CertificateTextError::NotACertificate("trailing bytes".into())),
        Err(e) => Err(CertificateTextError::NotACertificate(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use rustls::pki_types::pem::PemObject;

    use super::*;
    use crate::tls::authority::CertAuthority;

    #[test]
    fn certificates_are_read_from_proxy_header_forms() {
        let ca = CertAuthority::ephemeral().unwrap();
        let cert = ca.issue_client_cert("x").unwrap();
        let der = CertificateDer::from_pem_slice(cert.cert_pem.as_bytes()).unwrap();
        let nginx = cert.cert_pem.replace('\n', "\n\t");
        assert_eq!(certificate_from_text(&nginx).unwrap(), der);
        let escaped: String =
            percent_encoding::utf8_percent_encode(&cert.cert_pem, percent_encoding::NON_ALPHANUMERIC).collect();
        assert_eq!(certificate_from_text(&escaped).unwrap(), der);
        let b64 = base64::engine::general_purpose::STANDARD.encode(&der);
        assert_eq!(certificate_from_text(&b64).unwrap(), der);
        assert_eq!(certificate_from_text("  "), Err(CertificateTextError::Empty));
        assert!(matches!(certificate_from_text("bm90IGEgY2VydA=="), Err(CertificateTextError::NotACertificate(_))));
        assert!(matches!(certificate_from_text("%%%"), Err(CertificateTextError::Unreadable(_))));
    }

    proptest::proptest! {
        #[test]
        fn pem_reader_never_panics(text in "(-----(BEGIN|END) [A-Z ]{0,20}-----|[A-Za-z0-9+/=\n\t ]{0,40}){0,6}") {
            let _ = pem_blocks(&text);
            let _ = certificate_from_text(&text);
        }

        #[test]
        fn pem_round_trips(der in proptest::collection::vec(proptest::prelude::any::<u8>(), 1..300), label in "[A-Z]{1,12}( [A-Z]{1,8})?") {
            let blocks = pem_blocks(&pem_encode(&label, &der));
            proptest::prop_assert_eq!(blocks, vec![PemBlock { label, der: Ok(der) }]);
        }
    }
}
