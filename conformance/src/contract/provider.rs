//! What a provider registers: its profile and its own checks, declared once in its folder's
//! `mod.rs` and listed in the table of providers (`providers/mod.rs`).

use super::check::Check;
use super::profile::Profile;

pub struct Provider {
    pub profile: Profile,
    /// Its own checks (named `<provider>.<rule>`), in the order `conformance checks` lists them.
    pub checks: &'static [&'static dyn Check],
}
