//! Signing certificate signing requests into client certificates.
//!
//! A request is PKCS#10 (RFC 2986), as PEM (`CERTIFICATE REQUEST`, or the older `NEW
//! CERTIFICATE REQUEST`) or DER. Only two things are taken from it, the subject and the public
//! key, and only once its signature verifies with that key (proof the sender holds it);
//! everything else is ours, so a request cannot ask its way to a CA or a server certificate.
//! Validity comes from the caller, read from the virtual clock, so certificates expire there
//! like tokens do. Refusals say what was wrong in words for the person who sent the request.

use chrono::{DateTime, Utc};
use rcgen::{CertificateParams, DistinguishedName, DnType, DnValue, ExtendedKeyUsagePurpose, IsCa, KeyUsagePurpose};
use time::OffsetDateTime;
use x509_parser::certification_request::X509CertificationRequest;
use x509_parser::prelude::FromDer;

use super::authority::{random_serial, CertAuthority, IssuedCertificate};
use super::details::{certificate_details, short_name, thumbprint};
use super::limits::{MAX_CSR_BYTES, MAX_VALIDITY_SECONDS};
use super::pem::pem_blocks;

/// When a certificate is valid. Read from the virtual clock by the server, so certificates
/// expire there like tokens do.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Validity {
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
}

impl Validity {
    /// Valid from one minute before `now` (against small clock differences) for `seconds`.
    pub fn starting(now: DateTime<Utc>, seconds: i64) -> Validity {
        Validity {
            not_before: now - chrono::Duration::seconds(60),
            not_after: now + chrono::Duration::seconds(seconds),
        }
    }
}

/// Why a certificate signing request was refused. The messages are meant for the person who sent
/// it: they say what was wrong and what to send instead, and never echo key material.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum CsrError {
    #[error("the certificate signing request is empty: send the PEM file your key tool wrote (-----BEGIN CERTIFICATE REQUEST-----)")]
    Empty,
    #[error(
        "the input is {0} bytes; a certificate signing request is a few kilobytes at most (limit {MAX_CSR_BYTES})"
    )]
    TooLarge(usize),
    #[error("{0}")]
    NotPem(String),
    #[error("the PEM block is not valid base64: {0}")]
    BadPem(String),
    #[error("the input is not a PKCS#10 certificate signing request: {0}")]
    NotACsr(String),
    #[error("the request's signature does not verify with the public key it carries: it was altered after signing, or signed with another key")]
    BadSignature,
    #[error(
        "the request's public key cannot be certified: {0}; use RSA (2048 bits or more), ECDSA P-256/P-384 or Ed25519"
    )]
    UnsupportedKey(String),
    #[error("the request's subject {0}")]
    BadSubject(String),
    #[error("validity: {0}")]
    BadValidity(String),
    #[error("signing failed: {0}")]
    Signing(String),
}

impl CertAuthority {
    /// Signs a PKCS#10 request (PEM or DER) into an end-entity client certificate: the subject
    /// and public key come from the request, everything else from us. Whatever extensions the
    /// request asks for (CA, key usages, names) are ignored: the result is never a CA, has EKU
    /// clientAuth, key usage digitalSignature, AKI/SKI, a random serial and `validity`.
    /// The request's own signature must verify (proof that the sender holds the key).
    pub fn sign_csr(&self, input: &[u8], validity: Validity) -> Result<IssuedCertificate, CsrError> {
        let der = csr_der(input)?;
        let (rest, request) = X509CertificationRequest::from_der(&der).map_err(|e| CsrError::NotACsr(e.to_string()))?;
        if !rest.is_empty() {
            return Err(CsrError::NotACsr(format!("{} bytes follow the request", rest.len())));
        }
        let info = &request.certification_request_info;
        let key = info.subject_pki.parsed().map_err(|e| CsrError::UnsupportedKey(e.to_string()))?;
        if let x509_parser::public_key::PublicKey::RSA(rsa) = &key {
            if rsa.key_size() < 2048 {
                return Err(CsrError::UnsupportedKey(format!("an RSA key of {} bits is too short", rsa.key_size())));
            }
        }
        let public_key = rcgen::SubjectPublicKeyInfo::from_der(info.subject_pki.raw)
            .map_err(|e| CsrError::UnsupportedKey(format!("{e:?}")))?;
        request.verify_signature().map_err(|_| CsrError::BadSignature)?;
        let subject = subject_of(&info.subject)?;

        if validity.not_after <= validity.not_before {
            return Err(CsrError::BadValidity("the certificate would expire before it starts".into()));
        }
        if (validity.not_after - validity.not_before).num_seconds() > MAX_VALIDITY_SECONDS {
            return Err(CsrError::BadValidity("at most ten years".into()));
        }
        let at = |t: DateTime<Utc>| {
            OffsetDateTime::from_unix_timestamp(t.timestamp()).map_err(|e| CsrError::BadValidity(e.to_string()))
        };
        let mut params = CertificateParams::default();
        params.distinguished_name = subject;
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.use_authority_key_identifier_extension = true;
        params.serial_number = Some(random_serial());
        params.not_before = at(validity.not_before)?;
        params.not_after = at(validity.not_after)?;
        let cert = params.signed_by(&public_key, self.issuer()).map_err(|e| CsrError::Signing(e.to_string()))?;
        let details = certificate_details(cert.der()).map_err(CsrError::Signing)?;
        let issued = IssuedCertificate {
            certificate: cert.pem(),
            thumbprint: thumbprint(cert.der()),
            serial: details.serial,
            subject: details.subject,
            not_before: details.not_before,
            not_after: details.not_after,
            der: cert.der().clone(),
        };
        self.remember(issued.clone());
        Ok(issued)
    }
}

/// The DER of a request given as PEM (`CERTIFICATE REQUEST` or `NEW CERTIFICATE REQUEST`) or DER.
fn csr_der(input: &[u8]) -> Result<Vec<u8>, CsrError> {
    if input.len() > MAX_CSR_BYTES {
        return Err(CsrError::TooLarge(input.len()));
    }
    if input.iter().all(u8::is_ascii_whitespace) {
        return Err(CsrError::Empty);
    }
    if input.first() == Some(&0x30) {
        return Ok(input.to_vec());
    }
    let text = std::str::from_utf8(input).map_err(|_| {
        CsrError::NotPem(
            "the input is neither PEM text nor DER: send the file that starts with -----BEGIN CERTIFICATE REQUEST-----"
                .into(),
        )
    })?;
    let blocks = pem_blocks(text);
    match blocks.iter().find(|b| b.label == "CERTIFICATE REQUEST" || b.label == "NEW CERTIFICATE REQUEST") {
        Some(block) => block.der.clone().map_err(CsrError::BadPem),
        None if blocks.is_empty() => Err(CsrError::NotPem(
            "no PEM block found: send the request as PEM (-----BEGIN CERTIFICATE REQUEST----- ... -----END CERTIFICATE REQUEST-----) or DER".into(),
        )),
        None => {
            let labels: Vec<&str> = blocks.iter().map(|b| b.label.as_str()).collect();
            let warning = if labels.iter().any(|l| l.contains("PRIVATE KEY")) {
                " A private key was sent: keep it to yourself, only the request is needed."
            } else {
                ""
            };
            Err(CsrError::NotPem(format!(
                "found PEM {} but no CERTIFICATE REQUEST: send the certificate signing request.{warning}",
                labels.join(", ")
            )))
        }
    }
}

/// The subject of a request as an rcgen name, attribute types and string kinds kept.
fn subject_of(name: &x509_parser::x509::X509Name<'_>) -> Result<DistinguishedName, CsrError> {
    use x509_parser::asn1_rs::Tag;
    let mut dn = DistinguishedName::new();
    for attr in name.iter_attributes() {
        let oid: Vec<u64> = attr.attr_type().iter().map(|arcs| arcs.collect()).ok_or_else(|| {
            CsrError::BadSubject(format!(
                "has an attribute type that is not an object identifier ({})",
                attr.attr_type()
            ))
        })?;
        let value = attr.as_str().map_err(|_| {
            CsrError::BadSubject(format!(
                "attribute {} is not a text string",
                short_name(&attr.attr_type().to_id_string())
            ))
        })?;
        let value = match attr.attr_value().tag() {
            Tag::PrintableString => rcgen::string::PrintableString::try_from(value)
                .map(DnValue::PrintableString)
                .unwrap_or_else(|_| DnValue::Utf8String(value.to_owned())),
            _ => DnValue::Utf8String(value.to_owned()),
        };
        dn.push(DnType::from_oid(&oid), value);
    }
    if dn.iter().next().is_none() {
        return Err(CsrError::BadSubject("is empty: name at least a CN".into()));
    }
    Ok(dn)
}

#[cfg(test)]
pub(super) mod tests {
    use rcgen::{BasicConstraints, KeyPair};
    use x509_parser::prelude::*;

    use super::Validity; // x509_parser's prelude has a Validity too
    use super::*;
    use crate::tls::pem::pem_encode;

    /// A request for `params` as PEM, and its key (shared with the mTLS test).
    pub(crate) fn request(params: CertificateParams) -> (String, KeyPair) {
        let key = KeyPair::generate().unwrap();
        (params.serialize_request(&key).unwrap().pem().unwrap(), key)
    }

    /// A subject shaped like an Open Energy software statement's (`OU` org, `CN` statement).
    pub(crate) fn oe_subject() -> CertificateParams {
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        params.distinguished_name.push(DnType::CountryName, DnValue::PrintableString("UK".try_into().unwrap()));
        params.distinguished_name.push(DnType::OrganizationName, "Demo Org");
        params.distinguished_name.push(DnType::OrganizationalUnitName, "org-1");
        params.distinguished_name.push(DnType::CommonName, "statement-1");
        params
    }

    fn now() -> DateTime<Utc> {
        Utc::now()
    }

    #[test]
    fn a_request_to_be_a_ca_still_yields_an_end_entity_client_certificate() {
        let ca = CertAuthority::ephemeral().unwrap();
        let mut params = oe_subject();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth, ExtendedKeyUsagePurpose::CodeSigning];
        params.subject_alt_names = vec![rcgen::SanType::DnsName("evil.example".try_into().unwrap())];
        let (pem, _) = request(params);
        let at = "2031-02-03T04:05:06Z".parse::<DateTime<Utc>>().unwrap();
        let issued = ca.sign_csr(pem.as_bytes(), Validity::starting(at, 3600)).unwrap();
        let (_, cert) = parse_x509_certificate(&issued.der).unwrap();
        assert!(!cert.basic_constraints().unwrap().unwrap().value.ca);
        let ku = cert.key_usage().unwrap().unwrap().value;
        assert!(ku.digital_signature() && !ku.key_cert_sign() && !ku.crl_sign());
        let eku = cert.extended_key_usage().unwrap().unwrap().value;
        assert!(eku.client_auth && !eku.server_auth && !eku.code_signing);
        assert!(cert.subject_alternative_name().unwrap().is_none(), "names asked for are not copied");
        assert_eq!(issued.subject, "C=UK, O=Demo Org, OU=org-1, CN=statement-1");
        assert_eq!(issued.not_before, at - chrono::Duration::seconds(60));
        assert_eq!(issued.not_after, at + chrono::Duration::seconds(3600));
        assert_eq!(issued.thumbprint, thumbprint(&issued.der));
        let details = certificate_details(&issued.der).unwrap();
        assert_eq!(details.attribute("OU"), Some("org-1"));
        assert_eq!(details.attribute("CN"), Some("statement-1"));
        assert_eq!(details.serial, issued.serial);
        assert!(details.is_valid_at(at) && !details.is_valid_at(at + chrono::Duration::seconds(3600)));
        assert_eq!(ca.issued().len(), 1);
    }

    #[test]
    fn bad_requests_are_explained() {
        let ca = CertAuthority::ephemeral().unwrap();
        let v = Validity::starting(now(), 60);
        assert_eq!(ca.sign_csr(b"", v), Err(CsrError::Empty));
        assert_eq!(ca.sign_csr(&vec![b'A'; MAX_CSR_BYTES + 1], v), Err(CsrError::TooLarge(MAX_CSR_BYTES + 1)));
        assert!(matches!(ca.sign_csr(b"hello", v), Err(CsrError::NotPem(_))));
        let key = KeyPair::generate().unwrap().serialize_pem();
        match ca.sign_csr(key.as_bytes(), v) {
            Err(CsrError::NotPem(m)) => assert!(m.contains("PRIVATE KEY") && !m.contains(&key[40..80]), "{m}"),
            other => panic!("{other:?}"),
        }
        let garbage = "-----BEGIN CERTIFICATE REQUEST-----\n!!!!\n-----END CERTIFICATE REQUEST-----\n";
        assert!(matches!(ca.sign_csr(garbage.as_bytes(), v), Err(CsrError::BadPem(_))));
        let not_csr = pem_encode("CERTIFICATE REQUEST", b"\x30\x03\x02\x01\x01");
        assert!(matches!(ca.sign_csr(not_csr.as_bytes(), v), Err(CsrError::NotACsr(_))));
        // Flip a byte of the signed part: the signature no longer verifies.
        let (pem, _) = request(oe_subject());
        let mut der = pem_blocks(&pem).remove(0).der.unwrap();
        let at = der.windows(11).position(|w| w == b"statement-1").unwrap();
        der[at] ^= 0x01;
        assert_eq!(ca.sign_csr(&der, v), Err(CsrError::BadSignature));
        let (pem, _) = request(oe_subject());
        let t = now();
        assert!(matches!(
            ca.sign_csr(pem.as_bytes(), Validity { not_before: t, not_after: t }),
            Err(CsrError::BadValidity(_))
        ));
        let mut empty = CertificateParams::default();
        empty.distinguished_name = DistinguishedName::new();
        let (pem, _) = request(empty);
        assert!(matches!(ca.sign_csr(pem.as_bytes(), v), Err(CsrError::BadSubject(_))));
    }

    proptest::proptest! {
        #[test]
        fn csr_reader_never_panics(input in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600)) {
            let ca = CertAuthority::ephemeral().unwrap();
            let _ = ca.sign_csr(&input, Validity::starting(Utc::now(), 60));
        }

        #[test]
        fn csr_pem_reader_never_panics(text in "(-----(BEGIN|END) [A-Z ]{0,20}-----|[A-Za-z0-9+/=\n\t ]{0,40}){0,6}") {
            let _ = csr_der(text.as_bytes());
        }
    }
}
