//! The virtual clock. Every expiry, `iat`/`exp` claim and time window reads it, so tests can
//! move time instead of sleeping: `now = real time + offset`, or a frozen instant.

use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

#[derive(Debug, Default)]
pub struct Clock {
    state: Mutex<ClockState>,
}

#[derive(Debug, Default, Clone, Copy)]
struct ClockState {
    offset: Duration,
    frozen_at: Option<DateTime<Utc>>,
}

/// What the admin API shows of the clock.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ClockReading {
    pub now: DateTime<Utc>,
    pub offset_seconds: f64,
    pub frozen: bool,
}

impl Clock {
    pub fn now(&self) -> DateTime<Utc> {
        let s = *self.state.lock().unwrap();
        s.frozen_at
            .unwrap_or_else(|| Utc::now() + s.offset)
    }

    /// Seconds since the Unix epoch on the virtual clock.
    pub fn unix(&self) -> i64 {
        self.now().timestamp()
    }

    pub fn reading(&self) -> ClockReading {
        let s = *self.state.lock().unwrap();
        let now = self.now();
        ClockReading {
            now,
            offset_seconds: match s.frozen_at {
                Some(at) => (at - Utc::now()).num_milliseconds() as f64 / 1000.0,
                None => s.offset.num_milliseconds() as f64 / 1000.0,
            },
            frozen: s.frozen_at.is_some(),
        }
    }

    /// Moves the clock forward (or back, with a negative amount), frozen or not.
    pub fn advance(&self, by: Duration) {
        let mut s = self.state.lock().unwrap();
        match s.frozen_at.as_mut() {
            Some(at) => *at += by,
            None => s.offset += by,
        }
    }

    pub fn set_offset(&self, offset: Duration) {
        let mut s = self.state.lock().unwrap();
        s.offset = offset;
        if s.frozen_at.is_some() {
            s.frozen_at = Some(Utc::now() + offset);
        }
    }

    /// Sets the virtual time to `at`; keeps running from there unless frozen.
    pub fn set(&self, at: DateTime<Utc>) {
        let mut s = self.state.lock().unwrap();
        match s.frozen_at.as_mut() {
            Some(frozen) => *frozen = at,
            None => s.offset = at - Utc::now(),
        }
    }

    pub fn freeze(&self) {
        let now = self.now();
        self.state.lock().unwrap().frozen_at = Some(now);
    }

    /// Lets the clock run again from the frozen instant.
    pub fn unfreeze(&self) {
        let mut s = self.state.lock().unwrap();
        if let Some(at) = s.frozen_at.take() {
            s.offset = at - Utc::now();
        }
    }

    pub fn reset(&self) {
        *self.state.lock().unwrap() = ClockState::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advance_moves_running_and_frozen_clocks() {
        let clock = Clock::default();
        let before = clock.now();
        clock.advance(Duration::seconds(3600));
        assert!(clock.now() - before >= Duration::seconds(3600));

        clock.freeze();
        let frozen = clock.now();
        std::thread::sleep(std::time::Duration::from_millis(5));
        assert_eq!(clock.now(), frozen);
        clock.advance(Duration::seconds(10));
        assert_eq!(clock.now(), frozen + Duration::seconds(10));

        clock.unfreeze();
        assert!(clock.now() >= frozen + Duration::seconds(10));
        clock.reset();
        assert!((clock.now() - Utc::now()).num_seconds().abs() < 2);
    }
}
