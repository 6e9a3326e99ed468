//! The virtual clock. Every expiry, `iat`/`exp` claim and time window reads it, so tests can
//! move time instead of sleeping: `now = real time + offset`, or a frozen instant.
//!
//! The virtual time stays within [`MAX_SKEW`] of real time, so date arithmetic can never
//! overflow however the admin API is driven; a change that would leave that window is refused
//! whole.

use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// How far the virtual time may be from real time, either way: a century.
pub const MAX_SKEW: Duration = Duration::days(36_525);

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

/// One change, applied in field order (`set`, `offset_seconds`, `advance_seconds`, `freeze`)
/// and all or nothing.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClockChange {
    /// Jump to this instant (and keep running from it unless frozen).
    pub set: Option<DateTime<Utc>>,
    pub offset_seconds: Option<f64>,
    /// Move forward (negative: back).
    pub advance_seconds: Option<f64>,
    /// `true` stops the clock at its current reading, `false` lets it run again.
    pub freeze: Option<bool>,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ClockError {
    #[error("{0} must be a finite number of seconds")]
    NotFinite(&'static str),
    #[error("the virtual time would be more than 100 years from real time")]
    OutOfRange,
}

impl Clock {
    pub fn now(&self) -> DateTime<Utc> {
        self.state.lock().unwrap().now(Utc::now())
    }

    /// Seconds since the Unix epoch on the virtual clock.
    pub fn unix(&self) -> i64 {
        self.now().timestamp()
    }

    pub fn reading(&self) -> ClockReading {
        let s = *self.state.lock().unwrap();
        let real = Utc::now();
        let now = s.now(real);
        ClockReading {
            now,
            offset_seconds: (now - real).num_milliseconds() as f64 / 1000.0,
            frozen: s.frozen_at.is_some(),
        }
    }

    /// Moves the clock forward (or back, with a negative amount), frozen or not.
    pub fn advance(&self, by: Duration) -> Result<(), ClockError> {
        self.apply(&ClockChange { advance_seconds: Some(by.num_milliseconds() as f64 / 1000.0), ..Default::default() })
    }

    pub fn freeze(&self) {
        let _ = self.apply(&ClockChange { freeze: Some(true), ..Default::default() });
    }

    /// Applies every part of `change` or, if any part is invalid or out of range, none.
    pub fn apply(&self, change: &ClockChange) -> Result<(), ClockError> {
        let seconds = |value: Option<f64>, name: &'static str| -> Result<Option<Duration>, ClockError> {
            match value {
                None => Ok(None),
                Some(s) if !s.is_finite() => Err(ClockError::NotFinite(name)),
                Some(s) if s.abs() > MAX_SKEW.num_seconds() as f64 * 2.0 => Err(ClockError::OutOfRange),
                Some(s) => Ok(Some(Duration::milliseconds((s * 1000.0) as i64))),
            }
        };
        let offset = seconds(change.offset_seconds, "offset_seconds")?;
        let advance = seconds(change.advance_seconds, "advance_seconds")?;
        let real = Utc::now();
        let mut guard = self.state.lock().unwrap();
        let mut s = *guard;
        if let Some(at) = change.set {
            let skew = at.signed_duration_since(real);
            if skew.abs() > MAX_SKEW {
                return Err(ClockError::OutOfRange);
            }
            s = match s.frozen_at {
                Some(_) => ClockState { frozen_at: Some(at), offset: skew },
                None => ClockState { offset: skew, frozen_at: None },
            };
        }
        if let Some(offset) = offset {
            s.offset = offset;
            if s.frozen_at.is_some() {
                s.frozen_at = Some(real + offset.clamp(-MAX_SKEW, MAX_SKEW));
            }
        }
        if let Some(by) = advance {
            match s.frozen_at.as_mut() {
                Some(at) => *at = at.checked_add_signed(by).ok_or(ClockError::OutOfRange)?,
                None => s.offset = s.offset.checked_add(&by).ok_or(ClockError::OutOfRange)?,
            }
        }
        match change.freeze {
            Some(true) if s.frozen_at.is_none() => s.frozen_at = Some(s.now(real)),
            Some(false) => {
                if let Some(at) = s.frozen_at.take() {
                    s.offset = at - real;
                }
            }
            _ => {}
        }
        let skew = s.frozen_at.map_or(s.offset, |at| at.signed_duration_since(real));
        if s.offset.abs() > MAX_SKEW || skew.abs() > MAX_SKEW {
            return Err(ClockError::OutOfRange);
        }
        *guard = s;
        Ok(())
    }

    pub fn reset(&self) {
        *self.state.lock().unwrap() = ClockState::default();
    }
}

impl ClockState {
    fn now(&self, real: DateTime<Utc>) -> DateTime<Utc> {
        self.frozen_at.unwrap_or(real + self.offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change() -> ClockChange {
        ClockChange::default()
    }

    #[test]
    fn advance_moves_running_and_frozen_clocks() {
        let clock = Clock::default();
        let before = clock.now();
        clock.advance(Duration::seconds(3600)).unwrap();
        assert!(clock.now() - before >= Duration::seconds(3600));

        clock.freeze();
        let frozen = clock.now();
        std::thread::sleep(std::time::Duration::from_millis(5));
        assert_eq!(clock.now(), frozen);
        clock.advance(Duration::seconds(10)).unwrap();
        assert_eq!(clock.now(), frozen + Duration::seconds(10));

        clock.apply(&ClockChange { freeze: Some(false), ..change() }).unwrap();
        assert!(clock.now() >= frozen + Duration::seconds(10));
        clock.reset();
        assert!((clock.now() - Utc::now()).num_seconds().abs() < 2);
    }

    #[test]
    fn out_of_range_changes_are_refused_whole() {
        let clock = Clock::default();
        let far = "2200-01-01T00:00:00Z".parse().unwrap();
        let bad =
            ClockChange { set: Some("2030-01-01T00:00:00Z".parse().unwrap()), advance_seconds: Some(1e12), ..change() };
        assert_eq!(clock.apply(&bad), Err(ClockError::OutOfRange));
        assert_eq!(clock.apply(&ClockChange { set: Some(far), ..change() }), Err(ClockError::OutOfRange));
        assert_eq!(
            clock.apply(&ClockChange { advance_seconds: Some(f64::NAN), ..change() }),
            Err(ClockError::NotFinite("advance_seconds"))
        );
        assert!((clock.now() - Utc::now()).num_seconds().abs() < 2, "nothing applied");
        for _ in 0..40 {
            let _ = clock.advance(Duration::days(3650));
        }
        assert!(clock.now() - Utc::now() <= MAX_SKEW + Duration::seconds(1));
    }
}
