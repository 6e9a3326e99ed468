//! The events of a namespace as a Rust test reads them, with assertions that print what did
//! happen when they fail: `server.events().assert_count("token.issued", 1)`.

use std::time::Duration;

use super::event::Event;
use super::filter::EventFilter;
use super::store::Journal;

/// The events of a namespace, with assertions that print what did happen when they fail.
pub struct Events<'a> {
    journal: &'a Journal,
}

impl<'a> Events<'a> {
    pub(crate) fn new(journal: &'a Journal) -> Events<'a> {
        Events { journal }
    }

    /// Every event, oldest first.
    pub fn all(&self) -> Vec<Event> {
        self.matching(&EventFilter::default())
    }

    pub fn matching(&self, filter: &EventFilter) -> Vec<Event> {
        self.journal.events(filter)
    }

    /// Events of `kind`: exact (`token.issued`) or a prefix ending in `.` or `*`.
    pub fn of_kind(&self, kind: &str) -> Vec<Event> {
        self.matching(&EventFilter::kind(kind))
    }

    pub fn count(&self, kind: &str) -> usize {
        self.of_kind(kind).len()
    }

    /// The sequence number of the newest event (0 when none): pass it to
    /// [`EventFilter::since`] to see only what happens next.
    pub fn last_seq(&self) -> u64 {
        self.journal.next_seq().saturating_sub(1)
    }

    pub fn clear(&self) {
        self.journal.clear()
    }

    /// Asserts that exactly `expected` events of `kind` happened, and returns them.
    ///
    /// # Panics
    /// Otherwise, listing every event of the namespace.
    #[track_caller]
    pub fn assert_count(&self, kind: &str, expected: usize) -> Vec<Event> {
        let found = self.of_kind(kind);
        if found.len() != expected {
            panic!("expected {expected} '{kind}' event(s), found {}; the journal:\n{}", found.len(), self.listing());
        }
        found
    }

    /// Asserts that at least one event matches `filter`, and returns the first.
    ///
    /// # Panics
    /// Otherwise, listing every event of the namespace.
    #[track_caller]
    pub fn assert_any(&self, filter: &EventFilter) -> Event {
        match self.matching(filter).into_iter().next() {
            Some(e) => e,
            None => panic!("no event matches {filter:?}; the journal:\n{}", self.listing()),
        }
    }

    /// Waits (polling every 10 ms) until an event matches `filter`, for at most `timeout`: for
    /// clients that run in the background (MQTT subscribers, retry loops).
    pub async fn wait_for(&self, filter: &EventFilter, timeout: Duration) -> Result<Event, String> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(e) = self.matching(filter).into_iter().next() {
                return Ok(e);
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(format!(
                    "no event matched {filter:?} within {timeout:?}; the journal:\n{}",
                    self.listing()
                ));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// One line per event: `#seq kind provider.service {fields}`, long fields cut.
    pub fn listing(&self) -> String {
        let lines: Vec<String> = self
            .all()
            .iter()
            .map(|e| {
                let mut fields = serde_json::to_value(&e.kind).unwrap_or_default();
                if let Some(map) = fields.as_object_mut() {
                    map.remove("kind");
                }
                let mut text = fields.to_string();
                if text.len() > 200 {
                    let cut = (0..=200).rev().find(|&i| text.is_char_boundary(i)).unwrap_or(0);
                    text.truncate(cut);
                    text.push('…');
                }
                format!("  #{} {} {}.{} {text}", e.seq, e.kind.name(), e.provider, e.service)
            })
            .collect();
        if lines.is_empty() {
            "  (no events)".to_owned()
        } else {
            lines.join("\n")
        }
    }
}
