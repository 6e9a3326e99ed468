//! The client's receive window (MQTT 5 Receive Maximum): how many QoS 1 and 2 messages the
//! server may have sent it and not yet seen completed [MQTT-3.3.4-9]. The engine keeps a
//! window of its own for every client, the same size whatever the client asked; when a client
//! asks for fewer, the gate holds what the engine sends beyond the client's window and lets
//! one out each time the client completes one (PUBACK, PUBCOMP, or a PUBREC that fails).
//! What it holds is bounded by the engine's own window. QoS 0 messages are not counted.
//!
//! Ordering holds: a message goes out at once only while nothing is held, and a held one is let
//! out by the client direction right after the completion that made room, one at a time.
//!
//! The other way, the gate tells each MQTT 5 client a Receive Maximum of its own
//! ([`SERVER_RECEIVE_MAXIMUM`]) and counts the client's QoS 1 and 2 publishes not yet answered
//! ([`ServerWindow`]); one beyond it ends the connection with DISCONNECT 0x93, as MQTT 5
//! §3.3.4 says a server does.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use bytes::Bytes;

use crate::mqtt::codec;

/// A client's window, when it declared one.
pub(super) struct Flow {
    max: usize,
    state: Mutex<Window>,
}

#[derive(Default)]
struct Window {
    in_flight: usize,
    held: VecDeque<Bytes>,
}

impl Flow {
    /// `None` when the client set no Receive Maximum (65 535, more than the engine ever sends).
    pub(super) fn new(receive_maximum: Option<u16>) -> Option<Flow> {
        receive_maximum.map(|max| Flow { max: usize::from(max.max(1)), state: Mutex::default() })
    }

    /// An engine PUBLISH at QoS 1 or 2 for the client: `Some` to send now, `None` when held.
    pub(super) fn admit(&self, publish: Bytes) -> Option<Bytes> {
        let mut window = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if window.held.is_empty() && window.in_flight < self.max {
            window.in_flight += 1;
            Some(publish)
        } else {
            window.held.push_back(publish);
            None
        }
    }

    /// A packet from the client; when it completes a message, the held one to send next.
    pub(super) fn completed(&self, frame: &[u8], header_len: usize) -> Option<Bytes> {
        if !completes(frame, header_len) {
            return None;
        }
        let mut window = self.state.lock().unwrap_or_else(|e| e.into_inner());
        window.in_flight = window.in_flight.saturating_sub(1);
        let next = window.held.pop_front()?;
        window.in_flight += 1;
        Some(next)
    }
}

/// The Receive Maximum the gate announces to MQTT 5 clients: the engine's own window.
pub(super) const SERVER_RECEIVE_MAXIMUM: u16 = 100;

/// A client's QoS 1 and 2 publishes the server has not answered yet (PUBACK, PUBCOMP, or a
/// PUBREC that fails).
#[derive(Default)]
pub(super) struct ServerWindow {
    in_flight: AtomicUsize,
}

impl ServerWindow {
    /// A QoS 1 or 2 PUBLISH from the client; `false` when it is one more than the window.
    pub(super) fn received(&self) -> bool {
        self.in_flight.fetch_add(1, Ordering::AcqRel) < usize::from(SERVER_RECEIVE_MAXIMUM)
    }

    /// A packet to the client (from the engine or the gate) that may answer one.
    pub(super) fn answered(&self, frame: &[u8], header_len: usize) {
        if completes(frame, header_len) {
            let _ = self.in_flight.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1));
        }
    }
}

/// Whether `frame` completes a QoS 1 or 2 exchange: PUBACK, PUBCOMP, or a PUBREC that fails.
fn completes(frame: &[u8], header_len: usize) -> bool {
    match codec::packet_type(frame) {
        codec::PUBACK | codec::PUBCOMP => true,
        // A PUBREC with a failure code (0x80 and above) ends a QoS 2 exchange.
        codec::PUBREC => frame.get(header_len + 2).is_some_and(|code| *code >= 0x80),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn publish(n: u8) -> Bytes {
        Bytes::from(vec![0x32, n])
    }

    #[test]
    fn beyond_the_window_messages_wait_in_order() {
        let flow = Flow::new(Some(2)).unwrap();
        assert!(flow.admit(publish(1)).is_some());
        assert!(flow.admit(publish(2)).is_some());
        assert!(flow.admit(publish(3)).is_none(), "window full");
        assert!(flow.admit(publish(4)).is_none());
        assert_eq!(flow.completed(&codec::success_ack(codec::PUBREC, 1), 2), None, "QoS 2 goes on");
        assert_eq!(flow.completed(&codec::success_ack(codec::PUBACK, 1), 2), Some(publish(3)));
        assert_eq!(flow.completed(&codec::success_ack(codec::PUBCOMP, 2), 2), Some(publish(4)));
        assert!(flow.admit(publish(5)).is_none(), "two in flight again");
        assert_eq!(flow.completed(&[0x50, 0x03, 0x00, 0x03, 0x87], 2), Some(publish(5)), "a failed PUBREC ends it");
        assert_eq!(flow.completed(&codec::success_ack(codec::PUBACK, 4), 2), None);
        assert!(flow.admit(publish(6)).is_some());
    }

    #[test]
    fn the_server_window_counts_what_it_has_not_answered() {
        let window = ServerWindow::default();
        for _ in 0..SERVER_RECEIVE_MAXIMUM {
            assert!(window.received());
        }
        assert!(!window.received(), "one beyond");
        let window = ServerWindow::default();
        for _ in 0..SERVER_RECEIVE_MAXIMUM {
            assert!(window.received());
        }
        window.answered(&codec::success_ack(codec::PUBREC, 1), 2);
        assert!(!window.received(), "a PUBREC that succeeds answers nothing yet");
        let window = ServerWindow::default();
        for _ in 0..SERVER_RECEIVE_MAXIMUM {
            assert!(window.received());
        }
        window.answered(&codec::success_ack(codec::PUBCOMP, 1), 2);
        assert!(window.received());
        window.answered(&codec::success_ack(codec::PUBACK, 1), 2);
        window.answered(&codec::success_ack(codec::PUBACK, 1), 2);
        assert!(window.received());
    }

    #[test]
    fn no_receive_maximum_no_window() {
        assert!(Flow::new(None).is_none());
        assert_eq!(Flow::new(Some(0)).unwrap().max, 1, "0 is a protocol error; never a stall");
    }
}
