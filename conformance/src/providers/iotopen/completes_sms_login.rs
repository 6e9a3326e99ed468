//! `iotopen.completes-sms-login`: with SMS two-factor login, the first token is only good for
//! the code; the client sends the code and works with the token it gets back.

use super::journal::iotopen;
use crate::contract::{Check, Params, Run, Verdict};

pub struct CompletesSmsLogin;

impl Check for CompletesSmsLogin {
    fn name(&self) -> &'static str {
        "iotopen.completes-sms-login"
    }
    fn summary(&self) -> &'static str {
        "Answers 'nextstep: smslogin' with PUT /api/v2/auth {challenge} and calls the API with the token that returns"
    }
    fn clause(&self) -> &'static str {
        "docs/providers/iotopen.md#sms-two-factor-login: PUT /api/v2/auth {challenge} after 'nextstep': 'smslogin' (IoT Open REST API, https://lynx.iotopen.se/api-doc); IoT Open (https://iotopen.se/api-for-att-tillgangliggora-data/): users log in 'with a username and password and, if desired, two-factor authentication via SMS'"
    }
    fn evaluate(&self, run: &Run, _: &Params) -> Verdict {
        let Some(pending) =
            iotopen(run, "token.issued").find(|e| e.str("grant").is_some_and(|g| g.contains("SMS step pending")))
        else {
            return Verdict::not_applicable("no login waited for an SMS code");
        };
        let Some(full) =
            iotopen(run, "token.issued").find(|e| e.str("grant") == Some("sms") && e.seq() > pending.seq())
        else {
            let denied: Vec<_> = iotopen(run, "api.denied").chain(iotopen(run, "token.rejected")).collect();
            return Verdict::violated("the SMS code was never accepted: the login was left half done")
                .with(std::iter::once(pending).chain(denied));
        };
        let id = full.str("token_id").unwrap_or_default();
        match iotopen(run, "api.authorized").find(|e| e.str("token_id") == Some(id)) {
            Some(call) => Verdict::pass("SMS step completed and its token used").with([pending, full, call]),
            None => Verdict::violated("the SMS step gave a token the client never used").with([pending, full]),
        }
    }
}
