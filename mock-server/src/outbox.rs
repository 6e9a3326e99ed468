//! The SMS outbox: text messages the mock "sends" (one-time login codes), kept so tests can read
//! them through `GET /__admin/sms` instead of a phone. Bounded like the journal: the oldest are
//! dropped first. Cleared by `POST /__admin/reset`.

use std::collections::VecDeque;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Messages kept before the oldest are dropped.
pub const SMS_OUTBOX_CAPACITY: usize = 1_000;

/// One text message as sent.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Sms {
    /// Increases by one per message, never reused.
    pub id: u64,
    /// Virtual-clock time.
    pub sent_at: DateTime<Utc>,
    pub provider: String,
    /// The phone number (E.164) the fixtures give the user.
    pub to: String,
    /// The text as the user would read it.
    pub text: String,
    /// The one-time code in the text, when there is one, so tests need not parse the text.
    pub code: Option<String>,
}

/// Filter for reading messages back.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct SmsFilter {
    pub provider: Option<String>,
    pub to: Option<String>,
    /// Only messages with `id` greater than this.
    pub since: Option<u64>,
}

#[derive(Default)]
pub struct Outbox {
    inner: Mutex<(u64, VecDeque<Sms>)>,
}

impl Outbox {
    /// Sends (keeps) a message; returns its id.
    pub fn send(&self, sent_at: DateTime<Utc>, provider: &str, to: &str, text: String, code: Option<String>) -> u64 {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.0 += 1;
        let id = inner.0;
        if inner.1.len() >= SMS_OUTBOX_CAPACITY {
            inner.1.pop_front();
        }
        inner.1.push_back(Sms { id, sent_at, provider: provider.to_owned(), to: to.to_owned(), text, code });
        id
    }

    pub fn messages(&self, filter: &SmsFilter) -> Vec<Sms> {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner
            .1
            .iter()
            .filter(|m| filter.since.is_none_or(|s| m.id > s))
            .filter(|m| filter.provider.as_deref().is_none_or(|p| p == m.provider))
            .filter(|m| filter.to.as_deref().is_none_or(|t| t == m.to))
            .cloned()
            .collect()
    }

    /// Forgets every message; ids keep counting up.
    pub fn clear(&self) {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).1.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_and_filtered() {
        let outbox = Outbox::default();
        for i in 0..SMS_OUTBOX_CAPACITY + 5 {
            outbox.send(
                Utc::now(),
                "p",
                if i % 2 == 0 { "+1" } else { "+2" },
                format!("code {i}"),
                Some(i.to_string()),
            );
        }
        let all = outbox.messages(&SmsFilter::default());
        assert_eq!(all.len(), SMS_OUTBOX_CAPACITY);
        assert_eq!(all[0].id, 6);
        let to = outbox.messages(&SmsFilter { to: Some("+2".into()), since: Some(1000), ..Default::default() });
        assert!(to.iter().all(|m| m.to == "+2" && m.id > 1000));
        outbox.clear();
        assert!(outbox.messages(&SmsFilter::default()).is_empty());
        assert_eq!(outbox.send(Utc::now(), "p", "+1", "x".into(), None), SMS_OUTBOX_CAPACITY as u64 + 6);
    }
}
