//! The journal itself: a bounded, in-memory record of events. Bounded on purpose: when full,
//! the oldest events are dropped first, so a long soak never grows memory. Sequence numbers
//! keep increasing across drops, so `since=N` stays meaningful.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use super::event::{Event, EventKind, Origin};
use super::filter::EventFilter;
use crate::fixtures::Issue;

pub struct Journal {
    inner: Mutex<Inner>,
    /// What followers of the journal are told as it happens ([`Journal::follow`]).
    live: broadcast::Sender<Notice>,
    /// How many follow it now.
    followers: Arc<AtomicUsize>,
}

/// What a follower of the journal is told.
#[derive(Debug, Clone)]
pub enum Notice {
    Recorded(Arc<Event>),
    Cleared,
}

/// How many notices a follower may fall behind by before it misses some (it is told how many).
const FOLLOWER_BACKLOG: usize = 1024;

/// How many may follow one journal at once.
pub const MAX_FOLLOWERS: usize = 64;

/// A follower: the events already kept that it asked for, then the notices as they come. It
/// counts as one of the journal's followers until dropped.
pub struct Following {
    pub kept: Vec<Event>,
    pub notices: broadcast::Receiver<Notice>,
    followers: Arc<AtomicUsize>,
}

impl Drop for Following {
    fn drop(&mut self) {
        self.followers.fetch_sub(1, Ordering::Relaxed);
    }
}

struct Inner {
    capacity: usize,
    next_seq: u64,
    dropped: u64,
    events: VecDeque<Event>,
    /// When the last event was recorded (real time): how long a namespace has been idle.
    last_recorded: Option<std::time::Instant>,
}

impl Journal {
    pub fn new(capacity: usize) -> Self {
        Journal {
            inner: Mutex::new(Inner {
                capacity: capacity.max(1),
                next_seq: 1,
                dropped: 0,
                events: VecDeque::new(),
                last_recorded: None,
            }),
            live: broadcast::channel(FOLLOWER_BACKLOG).0,
            followers: Arc::default(),
        }
    }

    /// The kept events `filter` matches and, from the same instant (no event missed or told
    /// twice), every notice after them; `None` when [`MAX_FOLLOWERS`] already follow.
    pub fn follow(&self, filter: &EventFilter) -> Option<Following> {
        let taken = self.followers.fetch_add(1, Ordering::Relaxed);
        if taken >= MAX_FOLLOWERS {
            self.followers.fetch_sub(1, Ordering::Relaxed);
            return None;
        }
        let inner = self.inner.lock().unwrap();
        let mut kept: Vec<Event> = inner.events.iter().filter(|e| filter.matches(e)).cloned().collect();
        if let Some(limit) = filter.limit {
            kept.drain(..kept.len().saturating_sub(limit));
        }
        let notices = self.live.subscribe();
        Some(Following { kept, notices, followers: self.followers.clone() })
    }

    /// Keeps `kind`, recorded in HTTP exchange `exchange` if any; only `Namespace::record` calls
    /// this, so that every event is stamped with its namespace's clock and logged the same way.
    pub(crate) fn record(&self, at: DateTime<Utc>, origin: Origin<'_>, exchange: Option<u64>, kind: EventKind) -> u64 {
        let Origin { provider, service } = origin;
        tracing::debug!(target: "mock_server::journal", provider, service, kind = kind.name(), "event");
        let mut inner = self.inner.lock().unwrap();
        let seq = inner.next_seq;
        inner.next_seq += 1;
        inner.last_recorded = Some(std::time::Instant::now());
        if inner.events.len() >= inner.capacity {
            inner.events.pop_front();
            inner.dropped += 1;
        }
        let capacity = inner.capacity;
        crate::bounded::reserve_one(&mut inner.events, capacity);
        let event = Event { seq, at, provider: provider.to_owned(), service: service.to_owned(), exchange, kind };
        // Told under the lock, so that a new follower's kept events and notices meet exactly.
        if self.live.receiver_count() > 0 {
            let _ = self.live.send(Notice::Recorded(Arc::new(event.clone())));
        }
        inner.events.push_back(event);
        seq
    }

    pub fn events(&self, filter: &EventFilter) -> Vec<Event> {
        let inner = self.inner.lock().unwrap();
        let limit = filter.limit.unwrap_or(usize::MAX);
        // Newest first, so that a limit copies only the events it keeps.
        let mut events: Vec<Event> =
            inner.events.iter().rev().filter(|e| filter.matches(e)).take(limit).cloned().collect();
        events.reverse();
        events
    }

    /// When the last event was recorded, if ever (clearing the journal does not change it).
    pub fn last_recorded(&self) -> Option<std::time::Instant> {
        self.inner.lock().unwrap().last_recorded
    }

    /// The sequence number the next event will get.
    pub fn next_seq(&self) -> u64 {
        self.inner.lock().unwrap().next_seq
    }

    /// How many events were dropped to stay within capacity since the last clear.
    pub fn dropped(&self) -> u64 {
        self.inner.lock().unwrap().dropped
    }

    pub fn len(&self) -> usize {
        self.inner.lock().unwrap().events.len()
    }

    pub fn capacity(&self) -> usize {
        self.inner.lock().unwrap().capacity
    }

    pub fn set_capacity(&self, capacity: usize) {
        let mut inner = self.inner.lock().unwrap();
        inner.capacity = capacity.max(1);
        while inner.events.len() > inner.capacity {
            inner.events.pop_front();
            inner.dropped += 1;
        }
        let capacity = inner.capacity;
        inner.events.shrink_to(capacity);
    }

    /// Forgets every event; sequence numbers keep counting up.
    pub fn clear(&self) {
        let mut inner = self.inner.lock().unwrap();
        // A new buffer: clearing would keep the old one's size.
        inner.events = VecDeque::new();
        inner.dropped = 0;
        if self.live.receiver_count() > 0 {
            let _ = self.live.send(Notice::Cleared);
        }
    }
}

/// `[journal]` in fixtures.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct JournalSettings {
    /// Events kept before the oldest are dropped.
    #[serde(default = "default_capacity")]
    pub capacity: usize,
    /// Record request and response bodies of HTTP exchanges, redacted (`journal/redact.rs`).
    #[serde(default)]
    pub bodies: bool,
}

fn default_capacity() -> usize {
    10_000
}

impl Default for JournalSettings {
    fn default() -> Self {
        JournalSettings { capacity: default_capacity(), bodies: false }
    }
}

impl JournalSettings {
    pub fn validate(&self) -> Vec<Issue> {
        if (1..=10_000_000).contains(&self.capacity) {
            return vec![];
        }
        vec![Issue::new(
            "journal.capacity",
            format!("{} events is out of range", self.capacity),
            "use a number from 1 to 10000000 (the default is 10000)",
        )]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(n: usize) -> EventKind {
        EventKind::DataWritten { collection: "c".into(), count: n, operation_id: "op".into(), client_id: "x".into() }
    }

    #[test]
    fn drops_oldest_when_full_and_keeps_counting() {
        let j = Journal::new(3);
        for n in 0..5 {
            j.record(Utc::now(), Origin::new("p", "s"), None, written(n));
        }
        let all = j.events(&EventFilter::default());
        assert_eq!(all.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![3, 4, 5]);
        assert_eq!(j.dropped(), 2);
        let since = j.events(&EventFilter { since: Some(4), ..Default::default() });
        assert_eq!(since.len(), 1);
    }

    #[test]
    fn a_limit_keeps_the_newest_matching_events_oldest_first() {
        let j = Journal::new(10);
        for n in 0..6 {
            j.record(Utc::now(), Origin::new(if n % 2 == 0 { "a" } else { "b" }, "s"), None, written(n));
        }
        let seqs = |f: EventFilter| j.events(&f).iter().map(|e| e.seq).collect::<Vec<_>>();
        assert_eq!(seqs(EventFilter::default().limit(2)), vec![5, 6]);
        assert_eq!(seqs(EventFilter::default().provider("a").limit(2)), vec![3, 5]);
        assert_eq!(seqs(EventFilter::default().since(1).limit(10)), vec![2, 3, 4, 5, 6]);
        assert_eq!(seqs(EventFilter::default().limit(0)), Vec::<u64>::new());
    }

    #[test]
    fn filters_by_kind_prefix_and_provider() {
        let j = Journal::new(10);
        j.record(Utc::now(), Origin::new("a", "s"), None, written(1));
        j.record(
            Utc::now(),
            Origin::new("b", "s"),
            None,
            EventKind::TokenRejected {
                grant: None,
                client_id: None,
                error: "invalid_client".into(),
                reason: "r".into(),
                code: None,
            },
        );
        let f = |kind: &str| EventFilter { kind: Some(kind.into()), ..Default::default() };
        assert_eq!(j.events(&f("token.")).len(), 1);
        assert_eq!(j.events(&f("token.*")).len(), 1);
        assert_eq!(j.events(&f("token.rejected")).len(), 1);
        assert_eq!(j.events(&f("token")).len(), 0);
        let by_provider = EventFilter { provider: Some("a".into()), ..Default::default() };
        assert_eq!(j.events(&by_provider).len(), 1);
    }

    fn seq_of(notice: Notice) -> u64 {
        match notice {
            Notice::Recorded(event) => event.seq,
            Notice::Cleared => panic!("cleared, not recorded"),
        }
    }

    #[test]
    fn a_follower_gets_the_kept_events_then_each_new_one_with_no_gap() {
        let j = Journal::new(10);
        for n in 0..3 {
            j.record(Utc::now(), Origin::new("p", "s"), None, written(n));
        }
        let mut following = j.follow(&EventFilter::default().since(1)).unwrap();
        assert_eq!(following.kept.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![2, 3]);
        assert!(following.notices.try_recv().is_err(), "nothing new yet");
        j.record(Utc::now(), Origin::new("p", "s"), None, written(4));
        assert_eq!(seq_of(following.notices.try_recv().unwrap()), 4);
        j.clear();
        assert!(matches!(following.notices.try_recv().unwrap(), Notice::Cleared));
    }

    #[test]
    fn a_slow_follower_is_told_how_many_it_missed_and_goes_on_with_the_newest() {
        let j = Journal::new(10);
        let mut following = j.follow(&EventFilter::default()).unwrap();
        let recorded = FOLLOWER_BACKLOG as u64 + 10;
        for n in 0..recorded {
            j.record(Utc::now(), Origin::new("p", "s"), None, written(n as usize));
        }
        match following.notices.try_recv() {
            Err(broadcast::error::TryRecvError::Lagged(missed)) => assert_eq!(missed, 10),
            other => panic!("expected a lag, got {other:?}"),
        }
        assert_eq!(seq_of(following.notices.try_recv().unwrap()), 11);
        assert_eq!(j.len(), 10, "the journal itself stays within its capacity");
    }

    #[test]
    fn followers_are_bounded_and_a_dropped_one_gives_its_place_back() {
        let j = Journal::new(10);
        let all: Vec<Following> = (0..MAX_FOLLOWERS).map(|_| j.follow(&EventFilter::default()).unwrap()).collect();
        assert!(j.follow(&EventFilter::default()).is_none());
        drop(all);
        assert!(j.follow(&EventFilter::default()).is_some());
    }

    #[test]
    fn with_no_follower_nothing_is_told() {
        let j = Journal::new(10);
        j.record(Utc::now(), Origin::new("p", "s"), None, written(1));
        assert_eq!(j.live.len(), 0, "no notice is kept for nobody");
        let mut following = j.follow(&EventFilter::default()).unwrap();
        assert_eq!(following.kept.len(), 1);
        assert!(following.notices.try_recv().is_err());
    }

    #[test]
    fn serialises_kind_tag_beside_fields() {
        let j = Journal::new(10);
        j.record(Utc::now(), Origin::new("a", "s"), None, written(2));
        let v = serde_json::to_value(&j.events(&EventFilter::default())[0]).unwrap();
        assert_eq!(v["kind"], "data.written");
        assert_eq!(v["count"], 2);
        assert_eq!(v["provider"], "a");
    }
}
