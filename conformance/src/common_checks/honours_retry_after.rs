//! `common.honours-retry-after`: after a 429 or 503 carrying `Retry-After: N`, the client sends
//! nothing to the same endpoint for N seconds.

use crate::contract::{Check, ParamSpec, Params, Run, Verdict};

pub struct HonoursRetryAfter;

/// Timer granularity the client is allowed.
const TOLERANCE_MS: i64 = 50;

impl Check for HonoursRetryAfter {
    fn name(&self) -> &'static str {
        "common.honours-retry-after"
    }
    fn summary(&self) -> &'static str {
        "After 429/503 with Retry-After, waits at least that long before calling the same endpoint again"
    }
    fn clause(&self) -> &'static str {
        "RFC 9110 §10.2.3 (Retry-After) and RFC 6585 §4 (429 Too Many Requests)"
    }
    fn params(&self) -> &'static [ParamSpec] {
        &[]
    }
    fn evaluate(&self, run: &Run, _: &Params) -> Verdict {
        let exchanges: Vec<_> = run.exchanges().collect();
        let mut asked = 0;
        for (i, refused) in exchanges.iter().enumerate() {
            let Some(wait) = refused.retry_after_seconds().filter(|_| matches!(refused.status(), 429 | 503)) else {
                continue;
            };
            asked += 1;
            let Some(next) =
                exchanges[i + 1..].iter().find(|e| e.path() == refused.path() && e.method() == refused.method())
            else {
                continue;
            };
            let waited = next.started() - refused.at();
            if waited.num_milliseconds() + TOLERANCE_MS < (wait * 1000.0) as i64 {
                return Verdict::violated(format!(
                    "retried {} {} after {:.3} s; the {} asked for {wait} s",
                    next.method(),
                    next.path(),
                    waited.num_milliseconds() as f64 / 1000.0,
                    refused.status()
                ))
                .with([*refused, *next]);
            }
        }
        if asked == 0 {
            return Verdict::not_applicable("no 429 or 503 with Retry-After was served");
        }
        Verdict::pass(format!("waited as asked after {asked} Retry-After response(s)"))
    }
}
