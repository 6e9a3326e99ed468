//! Open Energy's registration: its profile (`profile.rs`) and its checks, one rule per file
//! (docs/providers/openenergy.md: FAPI 1.0, RFC 8705 mTLS certificate-bound tokens, the Open
//! Energy security profile, `ib1-openenergy-support`).

mod certificate_on_every_call;
mod journal;
mod new_token_after_expiry;
mod no_calls_after_refusal;
mod profile;
mod reads_data_set;
mod sends_interaction_id;
mod token_only_over_mtls;
mod token_reused_until_expiry;

use crate::contract::Provider;

pub const PROVIDER: Provider = Provider {
    profile: profile::PROFILE,
    checks: &[
        &certificate_on_every_call::CertificateOnEveryCall,
        &reads_data_set::ReadsDataSet,
        &token_reused_until_expiry::TokenReusedUntilExpiry,
        &new_token_after_expiry::NewTokenAfterExpiry,
        &sends_interaction_id::SendsInteractionId,
        &token_only_over_mtls::TokenOnlyOverMtls,
        &no_calls_after_refusal::NoCallsAfterRefusal,
    ],
};
