//! Current values and history, per installation: what MQTT brings in and `/api/v2/status` and
//! `/api/v3beta/log` serve ("a very fast HTTP api for retrieving data series").
//!
//! History is a time-sorted column of 40-byte points (time, value, interned topic, message)
//! in a ring buffer: appends in time order are O(1). A late sample (older than the newest
//! stored) waits in a small unsorted side buffer; before a query, or when that buffer holds
//! [`LATE_BATCH`] samples, it is sorted and merged in at once, moving only the stored points
//! newer than the oldest late one. So many devices with slightly different clocks cost no more
//! than one. The oldest points go first when the installation's bound or the retention is passed. A query
//! finds its time range by binary search and walks only that range, testing each point's topic
//! against a per-topic mask computed once, so a million points are counted and paged in a few
//! milliseconds. Aggregation buckets by `floor(t / interval)` per topic.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, RwLock};

use crate::contract::topics;

/// Distinct topics remembered per installation; samples on more are not stored.
pub const MAX_TOPICS: usize = 10_000;
/// Late samples merged at once.
pub const LATE_BATCH: usize = 65_536;

/// The latest sample of a topic.
#[derive(Debug, Clone, PartialEq)]
pub struct Latest {
    pub timestamp: f64,
    pub value: f64,
    pub msg: Arc<str>,
}

#[derive(Debug, Clone)]
struct Point {
    timestamp: f64,
    value: f64,
    topic: u32,
    msg: Option<Arc<str>>,
}

#[derive(Default)]
struct Series {
    points: VecDeque<Point>,
    /// Samples older than the newest stored when they came, in arrival order.
    late: Vec<Point>,
    topics: Vec<Arc<str>>,
    topic_ids: HashMap<Arc<str>, u32>,
    latest: HashMap<u32, Latest>,
    last_msg: Option<Arc<str>>,
}

/// Bounds, from the fixtures.
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    pub max_points: usize,
    pub retention_seconds: f64,
}

#[derive(Default)]
pub struct Values {
    installations: RwLock<HashMap<i64, Arc<Mutex<Series>>>>,
}

/// How to aggregate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Method {
    Avg,
    Min,
    Max,
    Sum,
    Count,
    First,
    Last,
}

impl Method {
    pub fn parse(name: &str) -> Option<Method> {
        Some(match name.to_ascii_lowercase().as_str() {
            "avg" | "mean" | "average" => Method::Avg,
            "min" => Method::Min,
            "max" => Method::Max,
            "sum" => Method::Sum,
            "count" => Method::Count,
            "first" => Method::First,
            "last" => Method::Last,
            _ => return None,
        })
    }
}

/// A history query, times in unix seconds (both ends included).
#[derive(Debug, Clone)]
pub struct Query {
    pub from: f64,
    pub to: f64,
    /// Topics without the client id prefix; MQTT wildcards allowed. Empty: every topic.
    pub topics: Vec<String>,
    pub descending: bool,
    pub limit: usize,
    pub offset: usize,
    /// Method and bucket width in seconds (0: one bucket for the whole range).
    pub aggregate: Option<(Method, f64)>,
}

/// One entry of a page.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub timestamp: f64,
    pub topic: Arc<str>,
    pub value: f64,
    pub msg: Arc<str>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub total: usize,
    pub entries: Vec<Entry>,
}

impl Values {
    fn series(&self, installation: i64) -> Option<Arc<Mutex<Series>>> {
        self.installations.read().unwrap_or_else(|e| e.into_inner()).get(&installation).cloned()
    }

    /// Stores a sample of `topic` (without the client id). `Err` when the installation has
    /// reached its topic bound.
    #[allow(clippy::too_many_arguments)]
    pub fn record(
        &self,
        installation: i64,
        topic: &str,
        timestamp: f64,
        value: f64,
        msg: &str,
        now: f64,
        bounds: Bounds,
    ) -> Result<(), String> {
        let series = match self.series(installation) {
            Some(s) => s,
            None => {
                self.installations.write().unwrap_or_else(|e| e.into_inner()).entry(installation).or_default().clone()
            }
        };
        let oldest = now - bounds.retention_seconds;
        if timestamp < oldest {
            return Err(format!("timestamp {timestamp} is older than the history retention"));
        }
        let mut s = series.lock().unwrap_or_else(|e| e.into_inner());
        let topic_id = match s.topic_ids.get(topic) {
            Some(id) => *id,
            None if s.topics.len() >= MAX_TOPICS => {
                return Err(format!("the installation already has {MAX_TOPICS} topics"))
            }
            None => {
                let name: Arc<str> = Arc::from(topic);
                let id = s.topics.len() as u32;
                s.topics.push(name.clone());
                s.topic_ids.insert(name, id);
                id
            }
        };
        let msg: Option<Arc<str>> = if msg.is_empty() {
            None
        } else if s.last_msg.as_deref() == Some(msg) {
            s.last_msg.clone()
        } else {
            let m: Arc<str> = Arc::from(msg);
            s.last_msg = Some(m.clone());
            Some(m)
        };
        let newer = s.latest.get(&topic_id).is_none_or(|l| timestamp >= l.timestamp);
        if newer {
            s.latest.insert(topic_id, Latest { timestamp, value, msg: msg.clone().unwrap_or_else(|| Arc::from("")) });
        }
        let point = Point { timestamp, value, topic: topic_id, msg };
        match s.points.back() {
            Some(last) if last.timestamp > timestamp => s.late.push(point),
            _ => {
                crate::bounded::reserve_one(&mut s.points, bounds.max_points.max(1));
                s.points.push_back(point)
            }
        }
        if s.late.len() >= LATE_BATCH || s.points.len() + s.late.len() > bounds.max_points.max(1) {
            s.settle();
        }
        while s.points.len() > bounds.max_points.max(1) || s.points.front().is_some_and(|p| p.timestamp < oldest) {
            s.points.pop_front();
        }
        Ok(())
    }

    /// The latest value of each topic matching `topics` (every topic when empty), by topic.
    pub fn latest(&self, installation: i64, patterns: &[String]) -> Vec<(Arc<str>, Latest)> {
        let Some(series) = self.series(installation) else { return Vec::new() };
        let s = series.lock().unwrap_or_else(|e| e.into_inner());
        let mut out: Vec<(Arc<str>, Latest)> = s
            .latest
            .iter()
            .map(|(id, l)| (s.topics[*id as usize].clone(), l.clone()))
            .filter(|(t, _)| wanted(t, patterns))
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    pub fn query(&self, installation: i64, q: &Query, now: f64, retention_seconds: f64) -> Page {
        let Some(series) = self.series(installation) else { return Page { total: 0, entries: Vec::new() } };
        let mut guard = series.lock().unwrap_or_else(|e| e.into_inner());
        guard.settle();
        let s = &*guard;
        let from = q.from.max(now - retention_seconds);
        if from > q.to {
            return Page { total: 0, entries: Vec::new() };
        }
        let lo = s.points.partition_point(|p| p.timestamp < from);
        let hi = s.points.partition_point(|p| p.timestamp <= q.to);
        let mask: Vec<bool> = s.topics.iter().map(|t| wanted(t, &q.topics)).collect();
        let every = mask.iter().all(|m| *m);
        let entry = |p: &Point| Entry {
            timestamp: p.timestamp,
            topic: s.topics[p.topic as usize].clone(),
            value: p.value,
            msg: p.msg.clone().unwrap_or_else(|| Arc::from("")),
        };
        if let Some((method, interval)) = q.aggregate {
            let mut buckets: BTreeMap<(i64, u32), Acc> = BTreeMap::new();
            for p in s.points.range(lo..hi).filter(|p| mask[p.topic as usize]) {
                let bucket = if interval > 0.0 { (p.timestamp / interval).floor() as i64 } else { 0 };
                buckets.entry((bucket, p.topic)).or_insert_with(|| Acc::new(p)).add(p);
            }
            let mut rows: Vec<Entry> = buckets
                .into_iter()
                .map(|((bucket, topic), acc)| Entry {
                    timestamp: if interval > 0.0 { bucket as f64 * interval } else { acc.first_ts },
                    topic: s.topics[topic as usize].clone(),
                    value: acc.result(method),
                    msg: Arc::from(""),
                })
                .collect();
            if q.descending {
                rows.reverse();
            }
            let total = rows.len();
            let entries = rows.into_iter().skip(q.offset).take(q.limit).collect();
            return Page { total, entries };
        }
        let range = s.points.range(lo..hi);
        if every {
            let total = hi - lo;
            let entries: Vec<Entry> = if q.descending {
                range.rev().skip(q.offset).take(q.limit).map(entry).collect()
            } else {
                range.skip(q.offset).take(q.limit).map(entry).collect()
            };
            return Page { total, entries };
        }
        let total = s.points.range(lo..hi).filter(|p| mask[p.topic as usize]).count();
        let entries: Vec<Entry> = if q.descending {
            range.rev().filter(|p| mask[p.topic as usize]).skip(q.offset).take(q.limit).map(entry).collect()
        } else {
            range.filter(|p| mask[p.topic as usize]).skip(q.offset).take(q.limit).map(entry).collect()
        };
        Page { total, entries }
    }

    /// Points stored for an installation.
    #[cfg(test)]
    pub fn len(&self, installation: i64) -> usize {
        self.series(installation).map_or(0, |s| {
            let s = s.lock().unwrap_or_else(|e| e.into_inner());
            s.points.len() + s.late.len()
        })
    }

    pub fn clear(&self) {
        self.installations.write().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

impl Series {
    /// Merges the late samples into place: sorts them (stable, so equal times keep their
    /// arrival order), takes the stored points newer than the oldest of them, and merges both.
    fn settle(&mut self) {
        if self.late.is_empty() {
            return;
        }
        let mut late = std::mem::take(&mut self.late);
        late.sort_by(|a, b| a.timestamp.total_cmp(&b.timestamp));
        let at = self.points.partition_point(|p| p.timestamp <= late[0].timestamp);
        let newer: Vec<Point> = self.points.drain(at..).collect();
        let (mut a, mut b) = (newer.into_iter().peekable(), late.into_iter().peekable());
        loop {
            let take_a = match (a.peek(), b.peek()) {
                (Some(x), Some(y)) => x.timestamp <= y.timestamp,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (None, None) => break,
            };
            let next = if take_a { a.next() } else { b.next() };
            self.points.extend(next);
        }
    }
}

/// Whether a topic (without client id) is asked for: exact, or by an MQTT filter.
fn wanted(topic: &str, patterns: &[String]) -> bool {
    patterns.is_empty()
        || patterns.iter().any(|p| p == topic || ((p.contains('+') || p.contains('#')) && topics::matches(topic, p)))
}

struct Acc {
    count: u64,
    sum: f64,
    min: f64,
    max: f64,
    first: f64,
    first_ts: f64,
    last: f64,
}

impl Acc {
    fn new(p: &Point) -> Acc {
        Acc {
            count: 0,
            sum: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            first: p.value,
            first_ts: p.timestamp,
            last: p.value,
        }
    }

    fn add(&mut self, p: &Point) {
        self.count += 1;
        self.sum += p.value;
        self.min = self.min.min(p.value);
        self.max = self.max.max(p.value);
        self.last = p.value;
    }

    fn result(&self, method: Method) -> f64 {
        match method {
            Method::Avg => self.sum / self.count.max(1) as f64,
            Method::Min => self.min,
            Method::Max => self.max,
            Method::Sum => self.sum,
            Method::Count => self.count as f64,
            Method::First => self.first,
            Method::Last => self.last,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOUNDS: Bounds = Bounds { max_points: 1_000_000, retention_seconds: 1e12 };

    fn query(from: f64, to: f64) -> Query {
        Query { from, to, topics: vec![], descending: false, limit: 500, offset: 0, aggregate: None }
    }

    #[test]
    fn late_samples_are_inserted_in_time_order_and_latest_wins_by_time() {
        let v = Values::default();
        for (t, x) in [(10.0, 1.0), (30.0, 3.0), (20.0, 2.0)] {
            v.record(1, "obj/a", t, x, "", 100.0, BOUNDS).unwrap();
        }
        let page = v.query(1, &query(0.0, 100.0), 100.0, 1e12);
        assert_eq!(page.entries.iter().map(|e| e.value).collect::<Vec<_>>(), vec![1.0, 2.0, 3.0]);
        assert_eq!(v.latest(1, &[])[0].1.value, 3.0);
    }

    #[test]
    fn ranges_topics_paging_order_and_aggregation() {
        let v = Values::default();
        for i in 0..100 {
            let topic = if i % 2 == 0 { "obj/even" } else { "obj/odd" };
            v.record(1, topic, i as f64, i as f64, "m", 1000.0, BOUNDS).unwrap();
        }
        let mut q = query(10.0, 19.0);
        assert_eq!(v.query(1, &q, 1000.0, 1e12).total, 10);
        q.topics = vec!["obj/even".into()];
        let page = v.query(1, &q, 1000.0, 1e12);
        assert_eq!(page.total, 5);
        assert!(page.entries.iter().all(|e| &*e.topic == "obj/even" && &*e.msg == "m"));
        q.topics = vec!["obj/+".into()];
        q.descending = true;
        q.limit = 3;
        q.offset = 1;
        let page = v.query(1, &q, 1000.0, 1e12);
        assert_eq!(page.total, 10);
        assert_eq!(page.entries.iter().map(|e| e.timestamp).collect::<Vec<_>>(), vec![18.0, 17.0, 16.0]);
        let mut q = query(0.0, 99.0);
        q.topics = vec!["obj/even".into()];
        q.aggregate = Some((Method::Avg, 10.0));
        let page = v.query(1, &q, 1000.0, 1e12);
        assert_eq!(page.total, 10);
        assert_eq!((page.entries[0].timestamp, page.entries[0].value), (0.0, 4.0));
        q.aggregate = Some((Method::Count, 0.0));
        assert_eq!(v.query(1, &q, 1000.0, 1e12).entries[0].value, 50.0);
    }

    #[test]
    fn many_late_samples_end_up_sorted() {
        let v = Values::default();
        let mut expected = Vec::new();
        for i in 0..(LATE_BATCH * 2 + 10) {
            // Four interleaved "devices", one running far ahead of the others.
            let t = if i % 4 == 0 { 1e6 + i as f64 } else { i as f64 };
            expected.push(t);
            v.record(1, "obj/a", t, 0.0, "", 2e6, BOUNDS).unwrap();
        }
        expected.sort_by(f64::total_cmp);
        let page = v.query(1, &Query { limit: usize::MAX, ..query(0.0, 3e6) }, 2e6, 1e12);
        assert_eq!(page.total, expected.len());
        assert_eq!(page.entries.iter().map(|e| e.timestamp).collect::<Vec<_>>(), expected);
    }

    #[test]
    fn bounded_by_points_and_retention() {
        let v = Values::default();
        let bounds = Bounds { max_points: 10, retention_seconds: 50.0 };
        for i in 0..30 {
            v.record(1, "obj/a", i as f64, 0.0, "", 30.0, bounds).unwrap();
        }
        assert_eq!(v.len(1), 10);
        v.record(1, "obj/a", 100.0, 0.0, "", 100.0, bounds).unwrap();
        assert_eq!(v.len(1), 1, "everything older than 50 s went");
        assert_eq!(v.query(1, &query(0.0, 1000.0), 100.0, 50.0).total, 1);
    }
}
