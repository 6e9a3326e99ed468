//! The Data Hub's state: sites, sources and variables per account, and the points stored per
//! variable. Starts from the fixtures; the API and the pushes change it; reset forgets changes.
//! Bounded: at most [`MAX_OBJECTS`] of each kind and `max_points_per_variable` points each.

use std::collections::BTreeMap;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::fixtures::Fixtures;

pub const MAX_OBJECTS: usize = 10_000;

/// Site as the API shows it (camelCase); `account` is ours, never serialised.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct Site {
    pub id: i64,
    pub name: String,
    pub type_id: i64,
    pub street: String,
    pub postal_code: String,
    pub city: String,
    pub country: String,
    pub time_zone_id: String,
    pub client_data: Value,
    #[serde(skip)]
    pub account: i64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct Source {
    pub id: i64,
    pub name: String,
    pub site_id: i64,
    pub site_name: String,
    pub description: String,
    pub source_type_id: i64,
    pub time_zone_id: String,
    pub energy_type_id: i64,
    pub serial_number: String,
    pub meter_number: String,
    pub ean_number: String,
    pub client_data: Value,
    #[serde(skip)]
    pub account: i64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct Variable {
    pub id: i64,
    pub name: String,
    pub source_id: i64,
    pub variable_type_id: i64,
    pub unit_id: i64,
    pub granularity: i64,
    pub granularity_time_base: i64,
    pub mapping_config: String,
    pub quantity_type: i64,
    pub divider: f64,
    #[serde(skip)]
    pub account: i64,
}

#[derive(Default)]
pub struct Hub {
    inner: Mutex<State>,
}

#[derive(Default)]
pub struct State {
    pub sites: BTreeMap<i64, Site>,
    pub sources: BTreeMap<i64, Source>,
    pub variables: BTreeMap<i64, Variable>,
    /// Per variable: time (ms since the epoch) → value.
    pub points: BTreeMap<i64, BTreeMap<i64, f64>>,
    pub storage: BTreeMap<String, (String, Vec<u8>)>,
    next_id: i64,
    pub max_points: usize,
}

impl Hub {
    /// Replaces everything with the fixtures' structure and no points.
    pub fn load(&self, f: &Fixtures) {
        let mut s = State { max_points: f.max_points_per_variable.max(1), ..State::default() };
        for site in &f.sites {
            s.sites.insert(
                site.id,
                Site {
                    id: site.id,
                    name: site.name.clone(),
                    type_id: site.type_id,
                    street: site.street.clone(),
                    postal_code: site.postal_code.clone(),
                    city: site.city.clone(),
                    country: site.country.clone(),
                    time_zone_id: site.time_zone_id.clone(),
                    client_data: Value::Null,
                    account: site.account,
                },
            );
        }
        for src in &f.sources {
            let site = s.sites.get(&src.site_id).cloned().unwrap_or_default();
            s.sources.insert(
                src.id,
                Source {
                    id: src.id,
                    name: src.name.clone(),
                    site_id: src.site_id,
                    site_name: site.name.clone(),
                    description: src.description.clone(),
                    source_type_id: src.source_type_id,
                    time_zone_id: site.time_zone_id.clone(),
                    energy_type_id: src.energy_type_id,
                    serial_number: src.serial_number.clone(),
                    meter_number: src.meter_number.clone(),
                    ean_number: src.ean_number.clone(),
                    client_data: Value::Null,
                    account: site.account,
                },
            );
        }
        for v in &f.variables {
            let account = s.sources.get(&v.source_id).map_or(0, |src| src.account);
            s.variables.insert(
                v.id,
                Variable {
                    id: v.id,
                    name: v.name.clone(),
                    source_id: v.source_id,
                    variable_type_id: v.variable_type_id,
                    unit_id: v.unit_id,
                    granularity: v.granularity,
                    granularity_time_base: v.granularity_time_base,
                    mapping_config: v.mapping_config.clone(),
                    quantity_type: v.quantity_type,
                    divider: v.divider,
                    account,
                },
            );
        }
        let max_id = s.sites.keys().chain(s.sources.keys()).chain(s.variables.keys()).max().copied().unwrap_or(0);
        s.next_id = max_id.max(1000);
        *self.inner.lock().unwrap() = s;
    }

    pub fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        f(&mut self.inner.lock().unwrap())
    }
}

impl State {
    pub fn next_id(&mut self) -> i64 {
        self.next_id += 1;
        self.next_id
    }

    /// Stores points for a variable; returns how many were written. Beyond the bound, the
    /// oldest dates go first.
    pub fn store_points(&mut self, variable: i64, points: &[(DateTime<Utc>, f64)]) -> usize {
        let max = self.max_points;
        let series = self.points.entry(variable).or_default();
        for (date, value) in points {
            series.insert(date.timestamp_millis(), *value);
        }
        while series.len() > max {
            series.pop_first();
        }
        points.len()
    }
}
