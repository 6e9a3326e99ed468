//! A map that keeps at most `capacity` entries, dropping the oldest inserted first: for token
//! stores, codes and anything else that must not grow without bound in a long soak. And
//! [`reserve_one`], so that a bounded queue's buffer stops at its bound.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;

/// Makes room for one more item in `queue`, whose length stays within `limit` (or one past it
/// until the caller pops): a full `VecDeque` doubles its buffer, so a queue bounded at 10,000
/// would keep a buffer of 16,384; this one grows by doubling up to `limit` exactly.
pub fn reserve_one<T>(queue: &mut VecDeque<T>, limit: usize) {
    if queue.len() == queue.capacity() {
        let target = (queue.capacity() * 2).max(16).min(limit.max(queue.len() + 1));
        queue.reserve_exact(target - queue.len());
    }
}

/// Stale places in a [`BoundedMap`]'s order allowed beyond as many as it has live entries.
const STALE_SLACK: usize = 32;

pub struct BoundedMap<K, V> {
    entries: HashMap<K, (u64, V)>,
    /// Insertion order; entries removed since are skipped, and compacted away once they
    /// outnumber the live ones (plus a slack): a store where most entries are removed soon
    /// (a login and its logout) keeps an order as short as what it holds, not as its capacity.
    order: VecDeque<(u64, K)>,
    next: u64,
    capacity: usize,
}

impl<K: Hash + Eq + Clone, V> BoundedMap<K, V> {
    pub fn new(capacity: usize) -> Self {
        BoundedMap { entries: HashMap::new(), order: VecDeque::new(), next: 0, capacity: capacity.max(1) }
    }

    /// Inserts (or replaces) `key`; evicts the oldest entries beyond capacity.
    pub fn insert(&mut self, key: K, value: V) {
        self.next += 1;
        self.entries.insert(key.clone(), (self.next, value));
        reserve_one(&mut self.order, 2 * self.capacity + 1);
        self.order.push_back((self.next, key));
        while self.entries.len() > self.capacity {
            self.pop_oldest();
        }
        if self.order.len() > (2 * self.entries.len() + STALE_SLACK).min(2 * self.capacity) {
            let entries = &self.entries;
            self.order.retain(|(seq, k)| entries.get(k).is_some_and(|(s, _)| s == seq));
        }
    }

    fn pop_oldest(&mut self) {
        while let Some((seq, key)) = self.order.pop_front() {
            if self.entries.get(&key).is_some_and(|(s, _)| *s == seq) {
                self.entries.remove(&key);
                return;
            }
        }
    }

    pub fn get(&self, key: &K) -> Option<&V> {
        self.entries.get(key).map(|(_, v)| v)
    }

    pub fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        self.entries.get_mut(key).map(|(_, v)| v)
    }

    /// Every entry, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.entries.iter().map(|(k, (_, v))| (k, v))
    }

    /// Keeps only the entries `keep` says yes to.
    pub fn retain(&mut self, mut keep: impl FnMut(&K, &V) -> bool) {
        self.entries.retain(|k, (_, v)| keep(k, v));
    }

    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.entries.values().map(|(_, v)| v)
    }

    pub fn remove(&mut self, key: &K) -> Option<V> {
        self.entries.remove(key).map(|(_, v)| v)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn clear(&mut self) {
        self.entries.clear();
        self.order.clear();
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_bounded_queue_buffer_stops_at_its_bound() {
        let mut queue = std::collections::VecDeque::new();
        for i in 0..25_000 {
            if queue.len() == 10_000 {
                queue.pop_front();
            }
            super::reserve_one(&mut queue, 10_000);
            queue.push_back(i);
        }
        assert_eq!((queue.len(), queue.capacity()), (10_000, 10_000));
    }
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn oldest_goes_first() {
        let mut m = BoundedMap::new(2);
        m.insert("a", 1);
        m.insert("b", 2);
        m.insert("c", 3);
        assert_eq!((m.get(&"a"), m.get(&"b"), m.get(&"c")), (None, Some(&2), Some(&3)));
        m.insert("b", 20); // re-inserting makes it the newest
        m.insert("d", 4);
        assert_eq!((m.get(&"c"), m.get(&"b"), m.get(&"d")), (None, Some(&20), Some(&4)));
    }

    #[test]
    fn removed_entries_leave_no_trail_in_the_order() {
        let mut m = BoundedMap::new(10_000);
        m.insert("kept".to_owned(), 0);
        for i in 0..15_000 {
            let key = format!("k{i}");
            m.insert(key.clone(), i);
            m.remove(&key);
        }
        assert_eq!(m.len(), 1);
        assert!(m.order.len() <= 2 * m.len() + STALE_SLACK + 1, "order kept {} places", m.order.len());
        assert_eq!(m.get(&"kept".to_owned()), Some(&0));
    }

    proptest! {
        #[test]
        fn never_exceeds_capacity(ops in prop::collection::vec((0u8..20, any::<bool>()), 0..400), cap in 1usize..8) {
            let mut m = BoundedMap::new(cap);
            for (k, insert) in ops {
                if insert { m.insert(k, ()); } else { m.remove(&k); }
                prop_assert!(m.len() <= cap);
                prop_assert!(m.order.len() <= 2 * cap + 1);
            }
        }
    }
}
