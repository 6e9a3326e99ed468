//! Reading events back: by provider, service, kind (exact, or a prefix such as `token.`) and
//! sequence number, as the admin API's query string and the Rust API give them.

use serde::Deserialize;

use super::event::Event;

/// Filter for reading events back.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct EventFilter {
    pub provider: Option<String>,
    pub service: Option<String>,
    /// Exact kind, or a prefix ending in `.` / `*` (`token.` matches every token event).
    pub kind: Option<String>,
    /// Only events with `seq` greater than this.
    pub since: Option<u64>,
    /// At most this many: the newest of the matching events (still returned oldest first).
    pub limit: Option<usize>,
}

impl EventFilter {
    /// Events of `kind`: exact (`token.issued`), or a prefix ending in `.` or `*`.
    pub fn kind(kind: &str) -> EventFilter {
        EventFilter { kind: Some(kind.to_owned()), ..EventFilter::default() }
    }

    pub fn provider(mut self, provider: &str) -> Self {
        self.provider = Some(provider.to_owned());
        self
    }

    pub fn service(mut self, service: &str) -> Self {
        self.service = Some(service.to_owned());
        self
    }

    /// At most `n` events, the newest that match.
    pub fn limit(mut self, n: usize) -> Self {
        self.limit = Some(n);
        self
    }

    /// Only events after sequence number `seq`.
    pub fn since(mut self, seq: u64) -> Self {
        self.since = Some(seq);
        self
    }

    pub(crate) fn matches(&self, e: &Event) -> bool {
        self.since.is_none_or(|s| e.seq > s)
            && self.provider.as_deref().is_none_or(|p| p == e.provider)
            && self.service.as_deref().is_none_or(|s| s == e.service)
            && self.kind.as_deref().is_none_or(|k| {
                let name = e.kind.name();
                match k.strip_suffix('*') {
                    Some(prefix) => name.starts_with(prefix),
                    None if k.ends_with('.') => name.starts_with(k),
                    None => name == k,
                }
            })
    }
}
