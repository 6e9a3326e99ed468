//! Kalibrate in one namespace: the namespace it serves, its Azure AD signing key (bound to the
//! namespace's run) and the documents written through the import endpoints.

use std::sync::Arc;

use super::fixtures::Fixtures;
use super::store::Store;
use crate::fixtures::Section;
use crate::namespace::Namespace;
use crate::tokens::JwtSigner;

pub struct Kalibrate {
    pub(super) ns: Arc<Namespace>,
    pub(super) signer: JwtSigner,
    pub(super) store: Store,
}

impl Kalibrate {
    pub fn new(ns: Arc<Namespace>) -> anyhow::Result<Self> {
        let signer = ns.signer("kalibrate")?;
        Ok(Kalibrate { ns, signer, store: Store::default() })
    }

    /// Kalibrate's table of the fixtures served now.
    pub(super) fn fixtures(&self) -> Section<Fixtures> {
        self.ns.fixtures_of()
    }
}
