//! Opinum in one namespace: the namespace it serves, its identity server's signing key (bound
//! to the namespace's run), the refresh tokens issued and the Data Hub's sites, sources,
//! variables and points.

use std::sync::Arc;

use super::fixtures::Fixtures;
use super::hub::Hub;
use super::tokens::RefreshTokens;
use crate::fixtures::Section;
use crate::namespace::Namespace;
use crate::tokens::JwtSigner;

pub struct Opinum {
    pub(super) ns: Arc<Namespace>,
    pub(super) signer: JwtSigner,
    pub(super) refresh: RefreshTokens,
    pub(super) hub: Hub,
}

impl Opinum {
    pub fn new(ns: Arc<Namespace>) -> anyhow::Result<Self> {
        let signer = ns.signer("opinum")?;
        let opinum = Opinum { ns, signer, refresh: RefreshTokens::default(), hub: Hub::default() };
        opinum.hub.load(&opinum.fixtures());
        Ok(opinum)
    }

    /// Opinum's table of the fixtures served now.
    pub(super) fn fixtures(&self) -> Section<Fixtures> {
        self.ns.fixtures_of()
    }
}
