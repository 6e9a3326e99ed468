//! Knoema's registration: its profile (`profile.rs`) and its checks, one rule per file
//! (docs/providers/knoema.md, after Knoema's authentication page).

mod code_exchanged;
mod exact_redirect_uri;
mod implicit_token_used;
mod journal;
mod oauth_state;
mod profile;
mod signature_across_rollover;
mod signature_construction;
mod signature_utc_hour;
mod signed_access;

use crate::contract::Provider;

pub const PROVIDER: Provider = Provider {
    profile: profile::PROFILE,
    checks: &[
        &signed_access::SignedAccess,
        &signature_construction::SignatureConstruction,
        &signature_utc_hour::SignatureUtcHour,
        &signature_across_rollover::SignatureAcrossRollover,
        &oauth_state::OauthState,
        &exact_redirect_uri::ExactRedirectUri,
        &code_exchanged::CodeExchanged,
        &implicit_token_used::ImplicitTokenUsed,
    ],
};
