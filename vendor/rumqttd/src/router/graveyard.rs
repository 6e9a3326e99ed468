use std::collections::{HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

use super::{
    iobufs::InFlight,
    scheduler::{PauseReason, Tracker},
    ConnectionEvents,
};

pub struct Graveyard {
    connections: HashMap<String, SavedState>,
    /// When sessions that expire were last looked for.
    swept: Instant,
    /// At most this many client ids are remembered, the oldest saved forgotten first.
    capacity: Option<usize>,
    /// Saves in order, `(seq, id)`; an id saved again has a newer place (older ones are stale).
    order: VecDeque<(u64, String)>,
    seq: u64,
}

/// How often saved sessions are swept for expired ones (on a save).
const SWEEP_EVERY: Duration = Duration::from_secs(1);

impl Graveyard {
    pub fn new() -> Graveyard {
        Graveyard::with_capacity(None)
    }

    /// A graveyard that remembers at most `capacity` client ids (`None`: no bound).
    pub fn with_capacity(capacity: Option<usize>) -> Graveyard {
        Graveyard {
            connections: HashMap::new(),
            swept: Instant::now(),
            capacity,
            order: VecDeque::new(),
            seq: 0,
        }
    }

    /// Keeps `saved` under `id`; beyond the capacity, the oldest saved are forgotten.
    fn keep(&mut self, id: String, mut saved: SavedState) {
        self.seq += 1;
        saved.seq = self.seq;
        let Some(capacity) = self.capacity else {
            self.connections.insert(id, saved);
            return;
        };
        self.order.push_back((self.seq, id.clone()));
        self.connections.insert(id, saved);
        while self.connections.len() > capacity {
            let Some((seq, oldest)) = self.order.pop_front() else { break };
            if self.connections.get(&oldest).is_some_and(|s| s.seq == seq) {
                self.connections.remove(&oldest);
            }
        }
        if self.order.len() > 2 * self.connections.len() + 32 {
            let connections = &self.connections;
            self.order
                .retain(|(seq, id)| connections.get(id).is_some_and(|s| s.seq == *seq));
        }
    }

    /// Add a new connection.
    /// Return tracker of previous connection if connection id already exists.
    /// A session whose expiry interval has passed is not returned (its metrics are).
    pub fn retrieve(&mut self, id: &str) -> Option<SavedState> {
        let mut saved = self.connections.remove(id)?;
        if saved.expired(Instant::now()) {
            saved.session_state = None;
        }
        Some(saved)
    }

    /// Drops the sessions whose expiry interval has passed, at most once a second.
    fn sweep(&mut self) {
        let now = Instant::now();
        if now.duration_since(self.swept) < SWEEP_EVERY {
            return;
        }
        self.swept = now;
        self.connections.retain(|_, saved| !saved.expired(now));
    }

    /// Save connection tracker
    pub fn save_state(
        &mut self,
        mut tracker: Tracker,
        subscriptions: HashSet<String>,
        metrics: ConnectionEvents,
        unacked_pubrels: VecDeque<u16>,
        in_flight: InFlight,
        expiry: Option<Duration>,
    ) {
        self.sweep();
        tracker.pause(PauseReason::Busy);
        let id = tracker.id.clone();

        let session_state = SessionState {
            tracker,
            subscriptions,
            unacked_pubrels,
            in_flight,
        };

        self.keep(
            id,
            SavedState {
                session_state: Some(session_state),
                metrics,
                expires_at: expiry.and_then(|expiry| Instant::now().checked_add(expiry)),
                seq: 0,
            },
        );
    }

    /// Save only metrics for connection
    pub fn save_metrics(&mut self, id: String, metrics: ConnectionEvents) {
        self.sweep();
        self.keep(
            id,
            SavedState {
                session_state: None,
                metrics,
                expires_at: None,
                seq: 0,
            },
        );
    }
}

#[derive(Debug)]
pub struct SavedState {
    pub session_state: Option<SessionState>,
    pub metrics: ConnectionEvents,
    /// When the session expires (MQTT 5 Session Expiry Interval); `None` never.
    pub expires_at: Option<Instant>,
    /// Its place in the graveyard's order.
    seq: u64,
}

impl SavedState {
    /// Whether it holds a session whose expiry has passed (metrics alone never expire).
    fn expired(&self, now: Instant) -> bool {
        self.session_state.is_some() && self.expires_at.is_some_and(|at| at <= now)
    }
}

#[derive(Debug)]
pub struct SessionState {
    pub tracker: Tracker,
    pub subscriptions: HashSet<String>,
    // used for pubrel in qos2
    pub unacked_pubrels: VecDeque<u16>,
    /// Publishes sent and not acknowledged, sent again with their ids when the session resumes.
    pub in_flight: InFlight,
}

#[cfg(test)]
mod test {
    use super::*;

    fn save(graveyard: &mut Graveyard, id: &str, expiry: Option<Duration>) {
        let tracker = Tracker::new(id.to_owned());
        let subscriptions = HashSet::from(["a/b".to_owned()]);
        graveyard.save_state(tracker, subscriptions, ConnectionEvents::default(), VecDeque::new(), InFlight::default(), expiry);
    }

    #[test]
    fn a_session_past_its_expiry_is_not_resumed() {
        let mut graveyard = Graveyard::new();
        save(&mut graveyard, "forever", None);
        save(&mut graveyard, "an-hour", Some(Duration::from_secs(3600)));
        save(&mut graveyard, "expired", Some(Duration::ZERO));
        let forever = graveyard.retrieve("forever").unwrap();
        assert_eq!(forever.session_state.unwrap().subscriptions.len(), 1);
        assert!(graveyard.retrieve("an-hour").unwrap().session_state.is_some());
        assert!(graveyard.retrieve("expired").unwrap().session_state.is_none());
        assert!(graveyard.retrieve("expired").is_none(), "retrieved once");
    }

    #[test]
    fn beyond_its_capacity_the_oldest_saved_are_forgotten() {
        let mut graveyard = Graveyard::with_capacity(Some(3));
        for i in 0..10 {
            save(&mut graveyard, &format!("c{i}"), None);
            graveyard.save_metrics(format!("m{i}"), ConnectionEvents::default());
        }
        assert_eq!(graveyard.connections.len(), 3);
        assert!(graveyard.retrieve("m9").is_some() && graveyard.retrieve("c9").is_some());
        assert!(graveyard.retrieve("c0").is_none());
        // An id saved again takes a new place: its older one does not evict it.
        for _ in 0..100 {
            save(&mut graveyard, "again", None);
            let _ = graveyard.retrieve("again");
        }
        save(&mut graveyard, "again", None);
        save(&mut graveyard, "other", None);
        assert!(graveyard.connections.contains_key("again"));
        assert!(graveyard.order.len() <= 2 * graveyard.connections.len() + 32);
    }

    #[test]
    fn expired_sessions_are_swept_on_a_later_save() {
        let mut graveyard = Graveyard::new();
        save(&mut graveyard, "expired", Some(Duration::ZERO));
        graveyard.swept = Instant::now() - SWEEP_EVERY;
        save(&mut graveyard, "kept", None);
        assert!(!graveyard.connections.contains_key("expired"));
        assert!(graveyard.connections.contains_key("kept"));
    }
}
