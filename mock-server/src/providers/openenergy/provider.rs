//! Open Energy in one namespace: the namespace it serves, the key that signs software
//! statement assertions (bound to the namespace's run) and the certificate-bound tokens issued.

use std::sync::Arc;

use super::fixtures::Fixtures;
use super::store::TokenStore;
use crate::fixtures::Section;
use crate::namespace::Namespace;
use crate::tokens::JwtSigner;

pub struct OpenEnergy {
    pub(super) ns: Arc<Namespace>,
    /// Signs software statement assertions; published at the authorization server's `jwks_uri`.
    pub(super) signer: JwtSigner,
    pub(super) tokens: TokenStore,
}

impl OpenEnergy {
    pub fn new(ns: Arc<Namespace>) -> anyhow::Result<Self> {
        let signer = ns.signer("openenergy")?;
        Ok(OpenEnergy { ns, signer, tokens: TokenStore::default() })
    }

    /// Open Energy's table of the fixtures served now.
    pub(super) fn fixtures(&self) -> Section<Fixtures> {
        self.ns.fixtures_of()
    }
}
