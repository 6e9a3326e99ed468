//! Checks of Open Energy clients (shared/providers/openenergy.md: FAPI 1.0, RFC 8705 mTLS
//! certificate-bound tokens, the Open Energy security profile, `ib1-openenergy-support`).

mod certificate_on_every_call;
mod new_token_after_expiry;
mod no_calls_after_refusal;
mod reads_data_set;
mod sends_interaction_id;
mod token_only_over_mtls;
mod token_reused_until_expiry;

use crate::contract::Check;
use crate::contract::EventView;
use crate::contract::Run;

pub fn all() -> Vec<&'static dyn Check> {
    vec![
        &certificate_on_every_call::CertificateOnEveryCall,
        &reads_data_set::ReadsDataSet,
        &token_reused_until_expiry::TokenReusedUntilExpiry,
        &new_token_after_expiry::NewTokenAfterExpiry,
        &sends_interaction_id::SendsInteractionId,
        &token_only_over_mtls::TokenOnlyOverMtls,
        &no_calls_after_refusal::NoCallsAfterRefusal,
    ]
}

/// Open Energy events of one kind.
fn oe<'r>(run: &'r Run, kind: &'r str) -> impl Iterator<Item = &'r EventView> {
    run.of_kind(kind).filter(|e| e.provider() == "openenergy")
}

/// Exchanges with the resource servers (data provider, directory API).
fn resource_calls<'r>(run: &'r Run) -> impl Iterator<Item = &'r EventView> {
    run.exchanges().filter(|e| e.provider() == "openenergy" && run.profile.is_api(e.service()))
}
