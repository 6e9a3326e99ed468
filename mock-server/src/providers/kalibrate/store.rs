//! Documents written through the import endpoints. Fixture documents are read from the fixtures
//! each time; imported ones are kept here, bounded per collection (oldest dropped first).

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;

use serde_json::Value;

#[derive(Default)]
pub struct Store {
    imported: Mutex<BTreeMap<String, VecDeque<Value>>>,
}

impl Store {
    /// Appends documents, dropping the oldest beyond `cap`.
    pub fn insert(&self, collection: &str, docs: Vec<Value>, cap: usize) {
        let mut imported = self.imported.lock().unwrap();
        let list = imported.entry(collection.to_owned()).or_default();
        list.extend(docs);
        while list.len() > cap.max(1) {
            list.pop_front();
        }
    }

    /// Fixture documents followed by imported ones.
    pub fn with_documents<R>(
        &self,
        fixture_docs: &[Value],
        collection: &str,
        f: impl FnOnce(&mut dyn Iterator<Item = &Value>) -> R,
    ) -> R {
        let imported = self.imported.lock().unwrap();
        let extra = imported.get(collection);
        let mut it = fixture_docs.iter().chain(extra.into_iter().flatten());
        f(&mut it)
    }

    pub fn clear(&self) {
        self.imported.lock().unwrap().clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keeps_at_most_cap_newest() {
        let store = Store::default();
        store.insert("price", (0..5).map(|i| json!({"i": i})).collect(), 3);
        let seen: Vec<i64> =
            store.with_documents(&[json!({"i": -1})], "price", |it| it.map(|d| d["i"].as_i64().unwrap()).collect());
        assert_eq!(seen, vec![-1, 2, 3, 4]);
    }
}
