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
use aws_lc_rs::signature::{KeyPair as _, RsaKeyPair};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::Serialize;
use serde_json::{json, Value};
use sha1::Sha1;
use sha2::{Digest, Sha256};

use crate::files::load_or_create;
use crate::spare_keys;

/// An RSA key that signs RS256 JWTs, with the JWK that verifies them; cheap to clone.
#[derive(Clone)]
pub struct JwtSigner {
    key: Arc<KeySlot>,
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

/// A signing key being read or made on a thread of its own. Making an RSA-2048 key takes tens of
/// milliseconds and checking a saved one a few, and every provider that signs needs one: done in
/// parallel off the start path, the listeners are ready about when the keys are, and only a
/// signature asked for earlier waits.
struct KeySlot {
    name: String,
    /// The saved file it is read from; `None` when the key is new.
    saved: Option<PathBuf>,
    key: OnceLock<Result<SigningKey, String>>,
}

impl KeySlot {
    /// The key named `name`, read from `dir` if it holds it, otherwise made (and saved), on a
    /// thread of its own while this returns at once.
    fn start(dir: Option<PathBuf>, name: &str) -> Arc<KeySlot> {
        let saved = dir.as_ref().map(|d| key_path(d, name)).filter(|p| p.exists());
        let slot = Arc::new(KeySlot { name: name.to_owned(), saved, key: OnceLock::new() });
        let filling = slot.clone();
        let made = std::thread::Builder::new().name(format!("{name}-signing-key")).spawn(move || {
            let key = read_or_make(dir.as_deref(), &filling.name).map_err(|e| match &filling.saved {
                Some(path) => format!("{} is unusable (delete it to make a new key): {e:#}", path.display()),
                None => format!("{e:#}"),
            });
            let _ = filling.key.set(key);
        });
        if let Err(e) = made {
            let _ = slot.key.set(Err(format!("cannot start a thread for the key: {e}")));
        }
        slot
    }

    /// The key, once it is there.
    fn wait(&self) -> Result<&SigningKey, &str> {
        self.key.wait().as_ref().map_err(String::as_str)
    }

    fn get(&self) -> &SigningKey {
        self.wait().unwrap_or_else(|e| panic!("the {} signing key is unusable: {e}", self.name))
    }
}

/// The key named `name`: read from (or created in) `dir/<name>-signing-key.pem`, or made.
fn read_or_make(dir: Option<&Path>, name: &str) -> Result<SigningKey> {
    let pem = match dir {
        Some(dir) => {
            let path = key_path(dir, name);
            load_or_create(&path, new_rsa_pem).with_context(|| format!("reading or creating {}", path.display()))?
        }
        None => new_rsa_pem()?,
    };
    SigningKey::from_pkcs8_pem(&pem, name)
}

fn key_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}-signing-key.pem"))
}

impl SigningKey {
    fn from_pkcs8_pem(pem: &str, name: &str) -> Result<Self> {
        // rcgen parses the PEM (and signs the x5c certificate below); aws-lc-rs gives the
        // public modulus and exponent.
        let key_pair = rcgen::KeyPair::from_pem(pem).context("signing key is not a PEM private key")?;
        let rsa = RsaKeyPair::from_pkcs8(&key_pair.serialize_der())
            .map_err(|e| anyhow::anyhow!("signing key is not a PKCS#8 RSA key: {e}"))?;
        let public = rsa.public_key();
        let (n, e) = (public.modulus(), public.exponent());
        let (n, e) = (n.big_endian_without_leading_zero(), e.big_endian_without_leading_zero());
        // A self-signed certificate for the key, published as `x5c` like real identity providers do.
        let mut params = rcgen::CertificateParams::default();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params.distinguished_name.push(rcgen::DnType::CommonName, format!("{name} token signing (mock-server)"));
        let cert = params.self_signed(&key_pair)?;
        Ok(SigningKey {
            kid: URL_SAFE_NO_PAD.encode(Sha1::digest(cert.der())),
            encoding: EncodingKey::from_rsa_pem(pem.as_bytes())?,
            decoding: DecodingKey::from_rsa_raw_components(n, e),
            n: URL_SAFE_NO_PAD.encode(n),
            e: URL_SAFE_NO_PAD.encode(e),
            x5c: STANDARD.encode(cert.der()),
        })
    }
}

impl JwtSigner {
    /// The same key, stamping and accepting only the tokens of `run`.
    pub fn in_run(&self, run: Option<&str>) -> JwtSigner {
        JwtSigner { key: self.key.clone(), run: run.map(Arc::from) }
    }

    #[cfg(test)]
    pub fn kid(&self) -> &str {
        &self.key.get().kid
    }

    /// Signs `claims` with header `{"typ":"JWT","alg":"RS256","x5t":kid,"kid":kid}`; in a run,
    /// the claims also carry [`RUN_CLAIM`].
    pub fn sign(&self, claims: &impl Serialize) -> String {
        let key = self.key.get();
        let mut header = Header::new(Algorithm::RS256);
        header.typ = Some("JWT".into());
        header.kid = Some(key.kid.clone());
        header.x5t = Some(key.kid.clone());
        let encoded = match &self.run {
            None => jsonwebtoken::encode(&header, claims, &key.encoding),
            Some(run) => {
                let mut claims = serde_json::to_value(claims).expect("claims serialise to JSON");
                if let Some(map) = claims.as_object_mut() {
                    map.insert(RUN_CLAIM.to_owned(), json!(run.as_ref()));
                }
                jsonwebtoken::encode(&header, &claims, &key.encoding)
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
        let claims = jsonwebtoken::decode::<Value>(token, &self.key.get().decoding, &validation)?.claims;
        if claims.get(RUN_CLAIM).and_then(Value::as_str) != self.run.as_deref() {
            return Err(jsonwebtoken::errors::ErrorKind::InvalidToken.into());
        }
        Ok(claims)
    }

    /// The public key as a JWK; `extra` fields are added (e.g. `issuer`).
    pub fn jwk(&self, extra: Value) -> Value {
        let k = self.key.get();
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

/// The signing keys of one server, started once and shared by its namespaces.
#[derive(Default)]
pub struct KeyRing {
    dir: Option<PathBuf>,
    keys: Mutex<HashMap<String, Arc<KeySlot>>>,
}

impl KeyRing {
    /// Keys kept in `dir`, or, without one, made once per process (shared by every server in
    /// it, as tests start many).
    pub fn new(dir: Option<PathBuf>) -> Self {
        KeyRing { dir, keys: Mutex::default() }
    }

    /// The key named `name`, bound to `run`. The first call for a name reads the key, or starts
    /// making it and returns at once (the first signature waits for it).
    pub fn signer(&self, name: &str, run: Option<&str>) -> Result<JwtSigner> {
        static IN_MEMORY: OnceLock<Mutex<HashMap<String, Arc<KeySlot>>>> = OnceLock::new();
        let keys = match self.dir {
            Some(_) => &self.keys,
            None => IN_MEMORY.get_or_init(Default::default),
        };
        let mut keys = keys.lock().unwrap_or_else(|e| e.into_inner());
        let slot = match keys.get(name) {
            Some(slot) => slot.clone(),
            None => {
                let slot = KeySlot::start(self.dir.clone(), name);
                keys.insert(name.to_owned(), slot.clone());
                slot
            }
        };
        Ok(JwtSigner { key: slot, run: None }.in_run(run))
    }

    /// Waits for the keys read from saved files: a damaged one fails the start, not a request.
    pub fn check_saved(&self) -> Result<()> {
        let keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        for slot in keys.values().filter(|slot| slot.saved.is_some()) {
            if let Err(e) = slot.wait() {
                anyhow::bail!("the {} signing key: {e}", slot.name);
            }
        }
        Ok(())
    }
}

/// A new signing key: a spare from the user's cache when there is one (made ahead of time, see
/// `spare_keys`), otherwise made now. Either way the cache is topped up afterwards, off this path.
fn new_rsa_pem() -> std::io::Result<String> {
    let spare = spare_keys::cache_dir().and_then(|dir| spare_keys::claim(&dir, is_rsa_pkcs8_pem));
    let pem = match spare {
        Some(pem) => pem,
        None => generate_rsa_pem()?,
    };
    spare_keys::top_up_later(generate_rsa_pem);
    Ok(pem)
}

fn is_rsa_pkcs8_pem(pem: &str) -> bool {
    rcgen::KeyPair::from_pem(pem).is_ok_and(|k| RsaKeyPair::from_pkcs8(&k.serialize_der()).is_ok())
}

fn generate_rsa_pem() -> std::io::Result<String> {
    let key = rcgen::KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048)
        .map_err(std::io::Error::other)?;
    Ok(key.serialize_pem())
}

/// A random token of `bytes` bytes of entropy, base64url without padding.
pub fn opaque_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::fill(&mut buf[..]);
    URL_SAFE_NO_PAD.encode(buf)
}

/// A short, non-secret handle for a token, for the journal and logs: never log the token itself.
pub fn token_id(token: &str) -> String {
    token_id_of_digest(&Sha256::digest(token.as_bytes()).into())
}

/// [`token_id`] from the token's SHA-256, for a store that keeps that digest anyway.
pub fn token_id_of_digest(digest: &[u8; 32]) -> String {
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
        let ring = KeyRing::new(None);
        let (a, b) = (ring.signer("test-a", None).unwrap(), ring.signer("test-b", None).unwrap());
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
