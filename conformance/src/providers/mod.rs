//! One folder per provider: its profile (`profile.rs`), the journal events its checks read
//! (`journal.rs`), one file per check, and its registration (`mod.rs`). A provider's folder
//! imports only the check contract.
//!
//! The table of providers is the `providers!` list below: a provider is its folder and its one
//! line there, which declares the folder's module and puts its registration in [`ALL`]. The
//! registry (`registry.rs`) reads everything else off that table.

use crate::contract::Provider;

macro_rules! providers {
    ($($name:ident),* $(,)?) => {
        $(pub(crate) mod $name;)*

        /// Every provider, in the order `conformance checks` and docs/conformance.md list them.
        pub(crate) static ALL: &[Provider] = &[$($name::PROVIDER),*];
    };
}

providers! {
    kalibrate,
    opinum,
    openenergy,
    knoema,
    iotopen,
}
