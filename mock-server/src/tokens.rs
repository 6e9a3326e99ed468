//! Token machinery shared by every provider: RS256 JWT signing and verification with a JWKS to
//! publish, opaque random tokens, and non-secret token identifiers for the journal and logs.
//!
//! Each provider signs with its own key, so a token issued by one is worthless at another. The
//! namespaces of one server (a run each, see `runs.rs`) share the keys, and a signer bound to a
//! run stamps its tokens with the run's id and refuses those of any other run.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use anyhow::{Context, Result};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use rsa::traits::PublicKeyParts;
use serde::Serialize;
use serde_json::{json, Value};
use sha1::Sha1;
use sha2::{Digest, Sha256};

use crate::files::load_or_create;

/// An RSA key that signs RS256 JWTs, with the JWK that verifies them; cheap to clone.
#[derive(Clone)]
pub struct JwtSigner {
    key: Arc<SigningKey>,
    /// The run whose tokens these are; `None` for the default namespace.
    run: Option<Arc<str>>,
}

/// The private claim that names the run a token was issued in (absent in the default namespace).
pub const RUN_CLAIM: &str = "mock_run";

struct SigningKey {
    kid: String,
    encoding: EncodingKey,
    decoding: DecodingKey,
    n: String,
    e: String,
    x5c: String,
}

impl JwtSigner {
    /// The key named `name`: read from (or created in) `dir/<name>-signing-key.pem`, or, without a
    /// directory, made once per process and shared by every server in it (RSA generation is slow).
    pub fn load_or_create(dir: Option<&Path>, name: &str) -> Result<Self> {
        let pem = match dir {
            Some(dir) => {
                let path = dir.join(format!("{name}-signing-key.pem"));
                load_or_create(&path, generate_rsa_pem)
                    .with_context(|| format!("reading or creating {}", path.display()))?
            }
            None => {
                static EPHEMERAL: OnceLock<Mutex<HashMap<String, String>>> = OnceLock::new();
                let mut keys = EPHEMERAL.get_or_init(Default::default).lock().unwrap();
                match keys.get(name) {
                    Some(pem) => pem.clone(),
                    None => {
                        let pem = generate_rsa_pem()?;
                        keys.insert(name.to_owned(), pem.clone());
                        pem
                    }
                }
            }
        };
        Self::from_pkcs8_pem(&pem, name)
    }

    /// The same key, stamping and accepting only the tokens of `run`.
    pub fn in_run(&self, run: Option<&str>) -> JwtSigner {
        JwtSigner { key: self.key.clone(), run: run.map(Arc::from) }
    }

    fn from_pkcs8_pem(pem: &str, name: &str) -> Result<Self> {
        let private = rsa::RsaPrivateKey::from_pkcs8_pem(pem).context("signing key is not a PKCS#8 RSA key")?;
        let n = URL_SAFE_NO_PAD.encode(private.n().to_bytes_be());
        let e = URL_SAFE_NO_PAD.encode(private.e().to_bytes_be());
        // A self-signed certificate for the key, published as `x5c` like real identity providers do.
        let key_pair = rcgen::KeyPair::from_pem(pem).context("signing key for the x5c certificate")?;
        let mut params = rcgen::CertificateParams::default();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params.distinguished_name.push(rcgen::DnType::CommonName, format!("{name} token signing (mock-server)"));
        let cert = params.self_signed(&key_pair)?;
        let kid = URL_SAFE_NO_PAD.encode(Sha1::digest(cert.der()));
        let key = SigningKey {
            kid,
            encoding: EncodingKey::from_rsa_pem(pem.as_bytes())?,
            decoding: DecodingKey::from_rsa_components(&n, &e)?,
            n,
            e,
            x5c: STANDARD.encode(cert.der()),
        };
        Ok(JwtSigner { key: Arc::new(key), run: None })
    }

    #[cfg(test)]
    pub fn kid(&self) -> &str {
        &self.key.kid
    }

    /// Signs `claims` with header `{"typ":"JWT","alg":"RS256","x5t":kid,"kid":kid}`; in a run,
    /// the claims also carry [`RUN_CLAIM`].
    pub fn sign(&self, claims: &impl Serialize) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.typ = Some("JWT".into());
        header.kid = Some(self.key.kid.clone());
        header.x5t = Some(self.key.kid.clone());
        let encoded = match &self.run {
            None => jsonwebtoken::encode(&header, claims, &self.key.encoding),
            Some(run) => {
                let mut claims = serde_json::to_value(claims).expect("claims serialise to JSON");
                if let Some(map) = claims.as_object_mut() {
                    map.insert(RUN_CLAIM.to_owned(), json!(run.as_ref()));
                }
                jsonwebtoken::encode(&header, &claims, &self.key.encoding)
            }
        };
        encoded.expect("RS256 signing with a valid key cannot fail")
    }

    /// Checks the signature (and that the token is of this signer's run) and returns the
    /// claims. Time claims are the caller's to check, against the virtual clock.
    pub fn verify(&self, token: &str) -> Result<Value, jsonwebtoken::errors::Error> {
        let mut validation = Validation::new(Algorithm::RS256);
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        let claims = jsonwebtoken::decode::<Value>(token, &self.key.decoding, &validation)?.claims;
        if claims.get(RUN_CLAIM).and_then(Value::as_str) != self.run.as_deref() {
            return Err(jsonwebtoken::errors::ErrorKind::InvalidToken.into());
        }
        Ok(claims)
    }

    /// The public key as a JWK; `extra` fields are added (e.g. `issuer`).
    pub fn jwk(&self, extra: Value) -> Value {
        let k = &self.key;
        let mut jwk = json!({
            "kty": "RSA", "use": "sig", "kid": k.kid, "x5t": k.kid,
            "n": k.n, "e": k.e, "x5c": [k.x5c],
        });
        if let (Some(jwk), Value::Object(extra)) = (jwk.as_object_mut(), extra) {
            jwk.extend(extra);
        }
        jwk
    }
}

/// The signing keys of one server, loaded once and shared by its namespaces.
#[derive(Default)]
pub struct KeyRing {
    dir: Option<PathBuf>,
    keys: Mutex<HashMap<String, JwtSigner>>,
}

impl KeyRing {
    /// Keys kept in `dir` (see [`JwtSigner::load_or_create`]), or in memory without one.
    pub fn new(dir: Option<PathBuf>) -> Self {
        KeyRing { dir, keys: Mutex::default() }
    }

    /// The key named `name`, bound to `run`.
    pub fn signer(&self, name: &str, run: Option<&str>) -> Result<JwtSigner> {
        let mut keys = self.keys.lock().unwrap();
        if let Some(signer) = keys.get(name) {
            return Ok(signer.in_run(run));
        }
        let signer = JwtSigner::load_or_create(self.dir.as_deref(), name)?;
        keys.insert(name.to_owned(), signer.clone());
        Ok(signer.in_run(run))
    }
}

fn generate_rsa_pem() -> std::io::Result<String> {
    let key = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048).map_err(std::io::Error::other)?;
    Ok(key.to_pkcs8_pem(LineEnding::LF).map_err(std::io::Error::other)?.to_string())
}

/// A random token of `bytes` bytes of entropy, base64url without padding.
pub fn opaque_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::thread_rng().fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

/// A short, non-secret handle for a token, for the journal and logs: never log the token itself.
pub fn token_id(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// Constant-time comparison of two secrets.
pub fn secrets_equal(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_and_verifies_and_rejects_other_keys() {
        let a = JwtSigner::load_or_create(None, "test-a").unwrap();
        let b = JwtSigner::load_or_create(None, "test-b").unwrap();
        let token = a.sign(&json!({"sub": "x", "exp": 1}));
        assert_eq!(a.verify(&token).unwrap()["sub"], "x");
        assert!(b.verify(&token).is_err(), "a token from one key is worthless with another");
        let mut tampered = token.clone();
        tampered.insert(token.find('.').unwrap() + 2, 'A');
        assert!(a.verify(&tampered).is_err());
        let jwk = a.jwk(json!({"issuer": "i"}));
        assert_eq!(jwk["kid"], a.kid());
        assert_eq!(jwk["e"], "AQAB");
        assert_eq!(jwk["issuer"], "i");
    }

    #[test]
    fn a_run_accepts_only_its_own_tokens() {
        let ring = KeyRing::new(None);
        let (default, a, b) = (
            ring.signer("test-run", None).unwrap(),
            ring.signer("test-run", Some("a")).unwrap(),
            ring.signer("test-run", Some("b")).unwrap(),
        );
        assert_eq!(a.kid(), b.kid(), "runs share the key");
        let token = a.sign(&json!({"sub": "x"}));
        assert_eq!(a.verify(&token).unwrap()[RUN_CLAIM], "a");
        assert!(b.verify(&token).is_err(), "run b refuses run a's token");
        assert!(default.verify(&token).is_err(), "the default namespace refuses it too");
        assert!(a.verify(&default.sign(&json!({"sub": "x"}))).is_err(), "and run a refuses the default's");
    }

    #[test]
    fn secrets_compare_exactly() {
        assert!(secrets_equal("abc", "abc"));
        assert!(!secrets_equal("abc", "abd"));
        assert!(!secrets_equal("abc", "abcd"));
    }
}
