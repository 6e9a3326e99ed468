use std::{
    collections::{BTreeMap, HashMap, VecDeque},
    sync::Arc,
};

use flume::{Receiver, Sender};
use parking_lot::Mutex;
use tracing::{debug, warn};

use crate::{
    protocol::{Packet, QoS},
    router::{FilterIdx, MAX_CHANNEL_CAPACITY},
    Cursor, Notification,
};

use super::{Forward, IncomingMeter, OutgoingMeter};

const MAX_INFLIGHT: usize = 100;
const MAX_PKID: u16 = MAX_INFLIGHT as u16;

#[derive(Debug)]
pub struct Incoming {
    /// Identifier associated with connected client
    pub(crate) client_id: String,
    /// Recv buffer
    pub(crate) buffer: Arc<Mutex<VecDeque<Packet>>>,
    /// incoming metrics
    pub(crate) meter: IncomingMeter,
}

impl Incoming {
    #[inline]
    pub(crate) fn new(client_id: String) -> Self {
        Self {
            // Grows with traffic: made at full size, an idle connection's queues cost
            // about 250 kB.
            buffer: Arc::new(Mutex::new(VecDeque::new())),
            meter: Default::default(),
            client_id,
        }
    }

    #[inline]
    pub(crate) fn buffer(&self) -> Arc<Mutex<VecDeque<Packet>>> {
        self.buffer.clone()
    }

    #[inline]
    pub(crate) fn exchange(&mut self, mut v: VecDeque<Packet>) -> VecDeque<Packet> {
        std::mem::swap(&mut v, &mut self.buffer.lock());
        v
    }
}

#[derive(Debug)]
pub struct Outgoing {
    /// Identifier associated with connected client
    pub(crate) client_id: String,
    /// Send buffer
    pub(crate) data_buffer: Arc<Mutex<VecDeque<Notification>>>,
    /// Handle which is given to router to allow router to communicate with this connection
    pub(crate) handle: Sender<()>,
    /// The buffer to keep track of inflight packets.
    inflight_buffer: VecDeque<(u16, FilterIdx, Option<Cursor>)>,
    /// PubRels waiting for PubComp
    pub(crate) unacked_pubrels: VecDeque<u16>,
    /// Last packet id
    last_pkid: u16,
    /// The packet ids of `inflight_buffer`, one bit each (ids are 1..=MAX_PKID).
    ids_in_flight: u128,
    /// A resumed session's publishes that were in flight when its last connection ended, not
    /// yet sent again: by (filter, cursor), the packet id they are sent again with (0 when that
    /// id was taken by a new publish meanwhile).
    resend: BTreeMap<(FilterIdx, Cursor), u16>,
    /// Metrics of outgoing messages of this connection
    pub(crate) meter: OutgoingMeter,
}

/// What a session keeps of its outgoing publishes when its connection ends: those in flight
/// (packet id, filter, cursor) and the last packet id given, so that a resumed session sends
/// them again with their own ids [MQTT-4.4.0-1] and goes on from there.
#[derive(Debug, Default)]
pub struct InFlight {
    publishes: Vec<(u16, FilterIdx, Cursor)>,
    last_pkid: u16,
}

/// What becomes of a publish read for a resumed session.
enum Resent {
    /// Sent before and still unacknowledged: send it again, DUP set, with this id (0: a new one).
    Again(u16),
    /// Sent and acknowledged (or delivered at QoS 0) before: not sent again.
    Done,
    /// Not sent before.
    New,
}

fn bit(pkid: u16) -> u128 {
    1u128 << pkid
}

impl Outgoing {
    #[inline]
    pub(crate) fn new(client_id: String) -> (Self, Receiver<()>) {
        let (handle, rx) = flume::bounded(MAX_CHANNEL_CAPACITY);
        // Empty until traffic comes: an idle connection costs nothing here.
        let data_buffer = VecDeque::new();
        let inflight_buffer = VecDeque::new();
        let unacked_pubrels = VecDeque::new();

        let outgoing = Self {
            client_id,
            data_buffer: Arc::new(Mutex::new(data_buffer)),
            inflight_buffer,
            unacked_pubrels,
            handle,
            last_pkid: 0,
            ids_in_flight: 0,
            resend: BTreeMap::new(),
            meter: Default::default(),
        };

        (outgoing, rx)
    }

    #[inline]
    pub(crate) fn buffer(&self) -> Arc<Mutex<VecDeque<Notification>>> {
        self.data_buffer.clone()
    }

    pub fn free_slots(&self) -> usize {
        MAX_INFLIGHT - self.inflight_buffer.len()
    }

    pub fn push_notification(&mut self, notification: Notification) -> usize {
        let mut buffer = self.data_buffer.lock();
        buffer.push_back(notification);
        buffer.len()
    }

    /// Push packets to the outgoing buffer.
    pub fn push_forwards(
        &mut self,
        publishes: impl Iterator<Item = Forward>,
        qos: u8,
        filter_idx: usize,
    ) -> (usize, usize) {
        let data_buffer = self.data_buffer.clone();
        let mut buffer = data_buffer.lock();

        for mut p in publishes {
            let resent = match p.cursor {
                Some(cursor) if !self.resend.is_empty() => self.resent(filter_idx, cursor),
                _ => Resent::New,
            };
            let again = match resent {
                Resent::Done => continue,
                Resent::Again(pkid) => Some(pkid),
                Resent::New => None,
            };
            self.meter.publish_count += 1;
            // A publish delivered at QoS 0 (a QoS 0 publish on any subscription, or any
            // publish on a QoS 0 subscription) takes no packet id and is never acknowledged.
            if qos == 0 || p.publish.qos == QoS::AtMostOnce {
                p.publish.dup = false;
                buffer.push_back(Notification::Forward(p));
                continue;
            }

            // A publish sent again keeps its packet id [MQTT-4.4.0-1] and has DUP set
            // [MQTT-3.3.1-1]; any other has DUP clear, whatever its publisher sent
            // [MQTT-3.3.1-3].
            let pkid = match again {
                Some(pkid) if pkid != 0 && self.ids_in_flight & bit(pkid) == 0 => pkid,
                _ => self.next_pkid(),
            };
            p.publish.pkid = pkid;
            p.publish.dup = again.is_some();
            self.ids_in_flight |= bit(pkid);
            self.inflight_buffer.push_back((pkid, filter_idx, p.cursor));

            self.meter.total_size += p.publish.topic.len() + p.publish.payload.len();
            buffer.push_back(Notification::Forward(p));
        }

        let buffer_count = buffer.len();
        let inflight_count = self.inflight_buffer.len();

        if inflight_count > MAX_INFLIGHT {
            warn!(
                "More inflight publishes than max allowed, inflight count = {}, max allowed = {}",
                inflight_count, MAX_INFLIGHT
            );
        }

        (buffer_count, inflight_count)
    }

    /// The next packet id after the last one given that no publish in flight holds (one
    /// acknowledged out of order frees its id while earlier ones still hold theirs), and that
    /// no publish waiting to be sent again holds, if there is one. There is always one free of
    /// the first kind: a publish takes an id only when an in-flight slot is free.
    fn next_pkid(&mut self) -> u16 {
        let after = |from: u16, taken: u128| {
            (1..=MAX_PKID)
                .map(|n| (from + n - 1) % MAX_PKID + 1)
                .find(|id| taken & bit(*id) == 0)
        };
        let to_resend = self.ids_to_resend();
        let pkid = after(self.last_pkid, self.ids_in_flight | to_resend)
            .or_else(|| after(self.last_pkid, self.ids_in_flight))
            .unwrap_or(self.last_pkid % MAX_PKID + 1);
        if to_resend & bit(pkid) != 0 {
            // Taken from a publish still to be sent again: it gets a new id then.
            for id in self.resend.values_mut().filter(|id| **id == pkid) {
                *id = 0;
            }
        }
        self.last_pkid = pkid;
        pkid
    }

    /// Whether a publish read at `cursor` of `filter` for a resumed session was sent before.
    /// The read starts at the earliest publish still to be sent again: one below the last such
    /// publish of its filter that is not to be sent again was acknowledged. One to be sent again
    /// below `cursor` is no longer in the log (the read jumped past it), so it is forgotten.
    fn resent(&mut self, filter: FilterIdx, cursor: Cursor) -> Resent {
        let lost: Vec<_> = self
            .resend
            .range((filter, (0, 0))..(filter, cursor))
            .map(|(key, _)| *key)
            .collect();
        for key in lost {
            self.resend.remove(&key);
        }
        if let Some(pkid) = self.resend.remove(&(filter, cursor)) {
            return Resent::Again(pkid);
        }
        match self.resend.range((filter, cursor)..=(filter, (u64::MAX, u64::MAX))).next() {
            Some(_) => Resent::Done,
            None => Resent::New,
        }
    }

    /// What is in flight, for a session kept when its connection ends: the publishes sent and
    /// not yet acknowledged, and those still to be sent again from an earlier connection.
    pub fn in_flight(&self) -> InFlight {
        let sent = self
            .inflight_buffer
            .iter()
            .filter_map(|(pkid, filter, cursor)| cursor.map(|c| (*pkid, *filter, c)));
        let waiting = self.resend.iter().map(|((filter, cursor), pkid)| (*pkid, *filter, *cursor));
        InFlight {
            publishes: sent.chain(waiting).collect(),
            last_pkid: self.last_pkid,
        }
    }

    /// Resumes a kept session's publishes in flight: each is sent again with its own id when
    /// the read (from [`Outgoing::retransmission_map`]'s cursors) comes to it.
    pub fn resume(&mut self, in_flight: InFlight) {
        self.last_pkid = in_flight.last_pkid;
        for (pkid, filter, cursor) in in_flight.publishes {
            let taken = pkid == 0 || self.ids_to_resend() & bit(pkid) != 0;
            self.resend.insert((filter, cursor), if taken { 0 } else { pkid });
        }
    }

    /// The ids publishes still to be sent again hold, one bit each (a new publish takes
    /// another when it can). Usually none: `resend` is empty but after a session resumed.
    fn ids_to_resend(&self) -> u128 {
        self.resend.values().filter(|id| **id != 0).fold(0, |bits, id| bits | bit(*id))
    }

    // Returns (unsolicited, outoforder) flags
    // Return: Out of order or unsolicited acks
    /// Acknowledges the in-flight publish `pkid` (PUBACK, or PUBREC for QoS 2). MQTT asks a
    /// client to acknowledge in the order it received, but a broker need not end a client that
    /// does not, and a proxy in front of this router may answer some publishes itself: an ack
    /// out of order takes its own place. `None` for a packet id not in flight.
    pub fn register_ack(&mut self, pkid: u16) -> Option<()> {
        let at = self.inflight_buffer.iter().position(|(id, _, _)| *id == pkid)?;
        if at > 0 {
            debug!(pkid, "out of order ack.");
        }
        self.inflight_buffer.remove(at);
        self.ids_in_flight &= !bit(pkid);
        Some(())
    }

    pub fn register_pubrec(&mut self, pkid: u16) {
        // NOTE: we can return true of false
        // to indicate whether this is duplicate or not
        self.unacked_pubrels.push_back(pkid);
    }

    // OASIS standards don't specify anything about ordering of PubComp
    // https://docs.oasis-open.org/mqtt/mqtt/v5.0/os/mqtt-v5.0-os.html#_Toc3901240
    // As with the other acks, one out of order takes its own place; an unsolicited one is
    // refused.
    pub fn register_pubcomp(&mut self, pkid: u16) -> Option<()> {
        let at = self.unacked_pubrels.iter().position(|id| *id == pkid)?;
        if at > 0 {
            debug!(pkid, "out of order ack.");
        }
        self.unacked_pubrels.remove(at);
        Some(())
    }

    // Here we are assuming that the first unique filter_idx we find while iterating will have the
    // least corresponding cursor because of the way we insert into the inflight_buffer
    pub fn retransmission_map(&self) -> HashMap<FilterIdx, Cursor> {
        let mut o = HashMap::new();
        for (_, filter_idx, cursor) in self.inflight_buffer.iter() {
            // if cursor in None, it means it was a retained publish
            if !o.contains_key(filter_idx) && cursor.is_some() {
                o.insert(*filter_idx, cursor.unwrap());
            }
        }
        // Publishes of an earlier connection still to be sent again come before any sent since.
        for (filter_idx, cursor) in self.resend.keys() {
            let least = o.entry(*filter_idx).or_insert(*cursor);
            *least = (*least).min(*cursor);
        }

        o
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn acks_out_of_order_take_their_own_place() {
        let (mut outgoing, _) = Outgoing::new("ack-order-test".to_string());
        outgoing
            .inflight_buffer
            .extend([(1, 0, Some((0, 1))), (2, 0, Some((0, 2))), (3, 0, Some((0, 3)))]);
        assert_eq!(outgoing.register_ack(2), Some(()));
        assert_eq!(outgoing.register_ack(9), None, "unsolicited");
        assert_eq!(outgoing.register_ack(2), None, "acknowledged already");
        assert_eq!(outgoing.register_ack(1), Some(()));
        assert_eq!(outgoing.register_ack(3), Some(()));
        assert_eq!(outgoing.free_slots(), MAX_INFLIGHT);

        outgoing.register_pubrec(4);
        outgoing.register_pubrec(5);
        assert_eq!(outgoing.register_pubcomp(5), Some(()));
        assert_eq!(outgoing.register_pubcomp(5), None, "completed already");
        assert_eq!(outgoing.register_pubcomp(4), Some(()));
        assert!(outgoing.unacked_pubrels.is_empty());
    }

    #[test]
    fn retransmission_map_is_calculated_accurately() {
        let (mut outgoing, _) = Outgoing::new("retransmission-test".to_string());
        let mut result = HashMap::new();

        result.insert(0, (0, 8));
        result.insert(1, (0, 1));
        result.insert(2, (1, 1));
        result.insert(3, (1, 0));

        let buf = vec![
            (1, 0, Some((0, 8))),
            (1, 0, Some((0, 10))),
            (1, 1, Some((0, 1))),
            (3, 1, Some((0, 4))),
            (2, 2, Some((1, 1))),
            (1, 2, Some((2, 6))),
            (1, 2, Some((2, 1))),
            (1, 3, Some((1, 0))),
            (1, 3, Some((1, 1))),
            (1, 3, Some((1, 3))),
            (1, 3, Some((1, 3))),
        ];

        outgoing.inflight_buffer.extend(buf);
        assert_eq!(outgoing.retransmission_map(), result);
    }

    #[test]
    fn only_publishes_delivered_at_qos_1_or_2_take_packet_ids() {
        let (mut outgoing, _) = Outgoing::new("mixed".to_string());
        let forwards = [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::AtMostOnce, QoS::ExactlyOnce]
            .into_iter()
            .enumerate()
            .map(|(i, qos)| {
                let mut publish = crate::protocol::Publish::new("a/b", "x", false);
                publish.qos = qos;
                Forward {
                    cursor: Some((0, i as u64)),
                    size: 0,
                    publish,
                    properties: None,
                }
            });
        let (buffered, inflight) = outgoing.push_forwards(forwards, 2, 0);
        assert_eq!((buffered, inflight), (4, 2));
        let pkids: Vec<u16> = outgoing
            .data_buffer
            .lock()
            .iter()
            .map(|n| match n {
                Notification::Forward(f) => f.publish.pkid,
                _ => panic!("not a forward"),
            })
            .collect();
        assert_eq!(pkids, [0, 1, 0, 2]);
        assert!(outgoing.register_ack(1).is_some() && outgoing.register_ack(2).is_some());
    }

    fn qos1(cursors: &[u64], dup: bool) -> impl Iterator<Item = Forward> + '_ {
        cursors.iter().map(move |&c| {
            let mut publish = crate::protocol::Publish::new("a/b", "x", false);
            publish.qos = QoS::AtLeastOnce;
            publish.dup = dup;
            Forward {
                cursor: Some((0, c)),
                size: 0,
                publish,
                properties: None,
            }
        })
    }

    /// `(pkid, dup, cursor)` of what was pushed, emptying the buffer.
    fn sent(outgoing: &Outgoing) -> Vec<(u16, bool, u64)> {
        outgoing
            .data_buffer
            .lock()
            .drain(..)
            .map(|n| match n {
                Notification::Forward(f) => (f.publish.pkid, f.publish.dup, f.cursor.unwrap().1),
                _ => panic!("not a forward"),
            })
            .collect()
    }

    #[test]
    fn a_resumed_session_sends_its_unacknowledged_publishes_again_with_their_ids() {
        let (mut before, _) = Outgoing::new("resumed".to_string());
        // A publisher's DUP does not reach the subscriber [MQTT-3.3.1-3].
        before.push_forwards(qos1(&[3, 4, 5], true), 1, 0);
        assert_eq!(sent(&before), [(1, false, 3), (2, false, 4), (3, false, 5)]);
        assert!(before.register_ack(2).is_some());
        let in_flight = before.in_flight();
        assert_eq!(before.retransmission_map().get(&0), Some(&(0, 3)));

        let (mut after, _) = Outgoing::new("resumed".to_string());
        after.resume(in_flight);
        assert_eq!(after.retransmission_map().get(&0), Some(&(0, 3)));
        // Read again from the earliest: 4 was acknowledged, 6 is new.
        after.push_forwards(qos1(&[3, 4, 5, 6], false), 1, 0);
        assert_eq!(sent(&after), [(1, true, 3), (3, true, 5), (4, false, 6)]);
        assert!(after.resend.is_empty() && after.ids_to_resend() == 0);
    }

    #[test]
    fn publishes_still_to_be_sent_again_survive_another_disconnect() {
        let (mut first, _) = Outgoing::new("twice".to_string());
        first.push_forwards(qos1(&[10, 11], false), 1, 0);
        sent(&first);
        let (mut second, _) = Outgoing::new("twice".to_string());
        second.resume(first.in_flight());
        // The new connection ends before anything is read.
        let (mut third, _) = Outgoing::new("twice".to_string());
        third.resume(second.in_flight());
        assert_eq!(third.retransmission_map().get(&0), Some(&(0, 10)));
        third.push_forwards(qos1(&[10, 11], false), 1, 0);
        assert_eq!(sent(&third), [(1, true, 10), (2, true, 11)]);
    }

    #[test]
    fn publishes_the_log_no_longer_holds_are_forgotten() {
        let (mut before, _) = Outgoing::new("lost".to_string());
        before.push_forwards(qos1(&[1, 2], false), 1, 0);
        sent(&before);
        let (mut after, _) = Outgoing::new("lost".to_string());
        after.resume(before.in_flight());
        // The read jumped to 7: 1 and 2 were dropped from the log.
        after.push_forwards(qos1(&[7], false), 1, 0);
        assert_eq!(sent(&after), [(3, false, 7)]);
        assert!(after.resend.is_empty() && after.ids_to_resend() == 0);
    }

    #[test]
    fn no_two_publishes_in_flight_share_a_packet_id() {
        let (mut outgoing, _) = Outgoing::new("ids".to_string());
        let cursors: Vec<u64> = (0..MAX_INFLIGHT as u64).collect();
        outgoing.push_forwards(qos1(&cursors, false), 1, 0);
        sent(&outgoing);
        // Acknowledged out of order: 50 is free, 1 to 49 are still in flight.
        assert!(outgoing.register_ack(50).is_some());
        outgoing.push_forwards(qos1(&[100], false), 1, 0);
        assert_eq!(sent(&outgoing), [(50, false, 100)]);
    }

    #[test]
    fn a_new_publish_leaves_the_ids_to_be_sent_again_alone_while_it_can() {
        let (mut before, _) = Outgoing::new("spare".to_string());
        before.push_forwards(qos1(&[1, 2], false), 1, 0);
        sent(&before);
        let (mut after, _) = Outgoing::new("spare".to_string());
        after.resume(before.in_flight());
        // Another filter's new publishes come first: ids 3 and 4, not 1 and 2.
        after.push_forwards(qos1(&[50, 51], false), 1, 1);
        after.push_forwards(qos1(&[1, 2], false), 1, 0);
        assert_eq!(sent(&after), [(3, false, 50), (4, false, 51), (1, true, 1), (2, true, 2)]);
    }

    // use super::{Outgoing, MAX_INFLIGHT};
    // use crate::protocol::{Publish, QoS};
    // use crate::router::Forward;
    // use crate::Notification;
    //
    // fn publishes(count: usize) -> impl Iterator<Item = Forward> {
    //     (1..=count).map(|v| {
    //         let publish = Publish {
    //             dup: false,
    //             retain: false,
    //             pkid: 0,
    //             qos: QoS::AtLeastOnce,
    //             topic: "hello/world".into(),
    //             payload: vec![1, 2, 3].into(),
    //         };
    //
    //         Forward {
    //             cursor: (0, v as u64),
    //             publish,
    //             size: 0,
    //         }
    //     })
    // }
    //
    // #[test]
    // fn inflight_ring_buffer_pushes_correctly() {
    //     let count = MAX_INFLIGHT as usize;
    //     let (mut outgoing, _rx) = Outgoing::new("hello".to_owned());
    //     outgoing.push_forwards(publishes(count), 1, 3);
    //
    //     // Index 1 = (0, 1), Index 99 = (0, 99), Index 0 = (0, 100)
    //     assert_eq!(outgoing.inflight_buffer[0].unwrap().1, (0, count as u64));
    //     for i in 1..count {
    //         assert_eq!(outgoing.inflight_buffer[i].unwrap().1, (0, i as u64));
    //     }
    //
    //     // Outgoing publish pkids are as expected
    //     for (i, o) in outgoing.data_buffer.lock().iter().enumerate() {
    //         let pkid = match &o {
    //             Notification::Forward(f) => f.publish.pkid,
    //             _ => unreachable!(),
    //         };
    //
    //         assert_eq!(pkid, i as u16 + 1);
    //     }
    // }
    //
    // #[test]
    // fn inflight_ring_buffer_pops_correctly() {
    //     let (mut outgoing, _rx) = Outgoing::new("hello".to_owned());
    //     outgoing.push_forwards(publishes(MAX_INFLIGHT as usize), 1, 3);
    //
    //     for pkid in 1..=MAX_INFLIGHT {
    //         let (unsolicited, outoforder) = outgoing.register_ack(pkid);
    //         assert_eq!(unsolicited, false);
    //         assert_eq!(outoforder, false);
    //     }
    // }
}
