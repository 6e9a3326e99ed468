//! Knoema in one namespace: the namespace it serves and what clients wrote or were issued since
//! the last reset (uploaded datasets, OAuth codes and tokens, anonymous clients).

use std::sync::Arc;

use super::fixtures::Fixtures;
use super::store::Store;
use crate::fixtures::Section;
use crate::namespace::Namespace;

pub struct Knoema {
    pub(super) ns: Arc<Namespace>,
    pub(super) store: Store,
}

impl Knoema {
    pub fn new(ns: Arc<Namespace>) -> Self {
        Knoema { ns, store: Store::default() }
    }

    /// Knoema's table of the fixtures served now.
    pub(super) fn fixtures(&self) -> Section<Fixtures> {
        self.ns.fixtures_of()
    }
}
