//! `iotopen.history-paged`: the client reads a long history page by page (`limit` and
//! `offset`) until it has every point, instead of trusting one page or the default limit.

use super::journal::iotopen;
use crate::contract::{Check, EventView, ParamSpec, Params, Run, Verdict};

pub struct HistoryPaged;

impl Check for HistoryPaged {
    fn name(&self) -> &'static str {
        "iotopen.history-paged"
    }
    fn summary(&self) -> &'static str {
        "Pages the history API with limit ≤ `max_limit` and consecutive offsets until every point stored in the run (at most the action's `points`) is read"
    }
    fn clause(&self) -> &'static str {
        "docs/providers/iotopen.md#history: GET /api/v3beta/log/{installation_id} with 'limit' (default 500), 'offset', and 'total' in the answer; IoT Open (https://iotopen.se/api-for-att-tillgangliggora-data/): 'a very fast HTTP api for retrieving data series'"
    }
    fn params(&self) -> &'static [ParamSpec] {
        &[ParamSpec { name: "max_limit", default: 100, help: "largest page the client may ask for" }]
    }
    fn evaluate(&self, run: &Run, params: &Params) -> Verdict {
        let pages: Vec<_> = run
            .exchanges()
            .filter(|e| e.provider() == "iotopen" && e.path().contains("/api/v3beta/log/") && e.status() == 200)
            .collect();
        // What there was to read: the action's points, or fewer when fewer were stored.
        let stored = iotopen(run, "mqtt.published").filter(|e| e.0["stored"].as_bool() == Some(true)).count() as u64;
        let asked: u64 = run.action_params.get("points").and_then(|p| p.parse().ok()).unwrap_or(stored);
        let points = asked.min(stored);
        if pages.is_empty() {
            if points == 0 {
                return Verdict::not_applicable("nothing was stored to read back");
            }
            return Verdict::violated(format!("the history API was not read ({points} point(s) stored)"));
        }
        let max = params.get("max_limit") as u64;
        let number = |e: &EventView, key: &str| e.0["query"][key].as_str().and_then(|v| v.parse::<u64>().ok());
        let mut covered = Vec::new();
        for p in &pages {
            let Some(limit) = number(p, "limit") else {
                return Verdict::violated(
                    "a history request without limit: the server's default (500) decides the page",
                )
                .with([*p]);
            };
            if limit > max {
                return Verdict::violated(format!(
                    "a history page of limit {limit}; pages of at most {max} were asked for"
                ))
                .with([*p]);
            }
            covered.push((number(p, "offset").unwrap_or(0), limit));
        }
        covered.sort();
        let mut next = 0;
        for (offset, limit) in &covered {
            if *offset > next {
                break;
            }
            next = next.max(offset + limit);
        }
        if next < points {
            return Verdict::violated(format!(
                "the pages read cover points 0..{next} of {points}: {} point(s) never fetched",
                points - next
            ))
            .with(pages.iter().take(4).copied());
        }
        Verdict::pass(format!("{} page(s) cover all {points} point(s)", pages.len()))
    }
}
