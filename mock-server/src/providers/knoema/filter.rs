//! What a data request selects, from its two wire forms:
//! - API 2.0 (`POST /api/2.0/data?datasetId=`): a flat JSON object `{<dimension id or name>:
//!   "m1;m2", "frequency": "A;M", "timerange" | "timesince" | "timelast" | "timemembers",
//!   "transform", "metadata": "true", "separator": ";"}`. Members are what the user typed: ids,
//!   names, region ids, tickers or numeric keys, any case. Values are split on `separator`
//!   (`,` unless given; the package sends `;`), and may also be JSON arrays.
//! - the PivotRequest of raw and pivot data (`{"Dataset", "Header", "Stub", "Filter":
//!   [{"DimensionId", "Members": [keys], "UiMode"?}], "Frequencies"}`), with the `Time` item's
//!   `UiMode` `range` and one member `A-B`, or `AllData`.
//!
//! Both resolve against a dataset into a [`Selection`]; anything unknown is an error whose text
//! the service sends as a 400 body (the package raises it as `ValueError`).

use std::collections::BTreeSet;

use chrono::NaiveDate;
use serde_json::Value;

use super::fixtures::{Dataset, Dimension};
use super::timeline::{Frequency, Period};

/// Largest request body read for a data query.
pub const MAX_FILTER_BODY: usize = 256 * 1024;
/// Members one request may name.
const MAX_MEMBERS: usize = 10_000;

#[derive(Debug, Clone, PartialEq)]
pub enum TimeSelection {
    Range(Period, Period),
    Since(Period),
    Last(usize),
    Members(Vec<Period>),
}

impl TimeSelection {
    /// Which of `dates` (with their values, `None` missing) are selected.
    pub fn select(&self, dates: &[NaiveDate], values: &[Option<f64>]) -> Vec<bool> {
        match self {
            TimeSelection::Range(a, b) => dates.iter().map(|d| a.start <= *d && *d < b.end).collect(),
            TimeSelection::Since(a) => dates.iter().map(|d| a.start <= *d).collect(),
            TimeSelection::Members(periods) => dates.iter().map(|d| periods.iter().any(|p| p.contains(*d))).collect(),
            TimeSelection::Last(n) => {
                let mut keep = vec![false; dates.len()];
                let mut left = *n;
                for i in (0..dates.len()).rev() {
                    if left == 0 {
                        break;
                    }
                    if values.get(i).copied().flatten().is_some() {
                        keep[i] = true;
                        left -= 1;
                    }
                }
                keep
            }
        }
    }
}

/// An API 2.0 filter as sent, before it is matched with a dataset.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DataFilter {
    /// (dimension as sent, members as sent)
    pub dims: Vec<(String, Vec<String>)>,
    pub frequencies: Option<Vec<String>>,
    pub time: Option<TimeSelection>,
    pub metadata: bool,
    pub datecolumn: Option<String>,
}

/// What is selected in a dataset.
#[derive(Debug, Clone, PartialEq)]
pub struct Selection {
    /// Per dimension of the dataset: the member indexes, `None` for all.
    pub members: Vec<Option<BTreeSet<usize>>>,
    pub frequencies: Option<Vec<Frequency>>,
    pub time: Option<TimeSelection>,
    pub metadata: bool,
}

impl Selection {
    pub fn all(ds: &Dataset) -> Selection {
        Selection { members: vec![None; ds.dimensions.len()], frequencies: None, time: None, metadata: false }
    }

    pub fn takes(&self, member_indexes: &[usize]) -> bool {
        self.members.iter().zip(member_indexes).all(|(sel, i)| sel.as_ref().is_none_or(|s| s.contains(i)))
    }
}

const TIME_KEYS: &[&str] = &["timerange", "timesince", "timelast", "timemembers"];

/// Text of a filter value: strings as they are, numbers and booleans written out, arrays
/// joined with `sep`.
fn value_text(name: &str, v: &Value, sep: &str) -> Result<String, String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Array(items) => items
            .iter()
            .map(|i| match i {
                Value::String(s) => Ok(s.clone()),
                Value::Number(n) => Ok(n.to_string()),
                _ => Err(format!("Filter value for '{name}' must be a string or a list of strings")),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(|v| v.join(sep)),
        _ => Err(format!("Filter value for '{name}' must be a string or a list of strings")),
    }
}

fn split(text: &str, sep: &str) -> Vec<String> {
    text.split(sep).map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect()
}

/// Parses an API 2.0 filter body.
pub fn parse_filter(body: &[u8]) -> Result<DataFilter, String> {
    let value: Value = if body.iter().all(u8::is_ascii_whitespace) {
        Value::Object(Default::default())
    } else {
        serde_json::from_slice(body).map_err(|e| format!("The request body is not a JSON object: {e}"))?
    };
    let Value::Object(map) = value else {
        return Err("The request body must be a JSON object of filters".to_owned());
    };
    let separator = match map.iter().find(|(k, _)| k.eq_ignore_ascii_case("separator")).map(|(_, v)| v) {
        None => ",".to_owned(),
        Some(Value::String(s)) if !s.is_empty() && s.chars().count() <= 5 => s.clone(),
        Some(_) => return Err("separator must be a non-empty string of at most 5 characters".to_owned()),
    };
    let mut filter = DataFilter::default();
    let mut members = 0;
    for (name, v) in &map {
        let key = name.to_ascii_lowercase();
        if key == "separator" {
            continue;
        }
        let text = value_text(name, v, &separator)?;
        match key.as_str() {
            "frequency" | "frequencies" => filter.frequencies = Some(split(&text, &separator)),
            "metadata" => filter.metadata = text.eq_ignore_ascii_case("true"),
            "datecolumn" => filter.datecolumn = Some(text),
            "transform" => {
                if !text.trim().is_empty() {
                    return Err(format!(
                        "Transformation '{text}' is not supported by this service (mock-server serves data as stored)"
                    ));
                }
            }
            k if TIME_KEYS.contains(&k) => {
                if filter.time.is_some() {
                    return Err(
                        "Only one parameter should be passed: timerange, timesince, timelast, timemembers".to_owned()
                    );
                }
                filter.time = Some(parse_time(k, &text, &separator)?);
            }
            _ => {
                let values = split(&text, &separator);
                members += values.len();
                if members > MAX_MEMBERS {
                    return Err(format!("Too many members in the filter: at most {MAX_MEMBERS}"));
                }
                filter.dims.push((name.clone(), values));
            }
        }
    }
    Ok(filter)
}

fn parse_time(key: &str, text: &str, sep: &str) -> Result<TimeSelection, String> {
    let bad = || {
        format!("{key} '{text}' is not valid: use a year (2020), 2020M3, 2020Q1, 2020H2, 2020W12 or 2020-03-31, a range A-B for timerange, a count for timelast")
    };
    match key {
        "timerange" => Period::parse_range(text).map(|(a, b)| TimeSelection::Range(a, b)).ok_or_else(bad),
        "timesince" => Period::parse(text).map(TimeSelection::Since).ok_or_else(bad),
        "timelast" => text
            .trim()
            .parse::<usize>()
            .ok()
            .filter(|n| *n > 0 && *n <= 100_000)
            .map(TimeSelection::Last)
            .ok_or_else(bad),
        _ => {
            let periods: Option<Vec<Period>> = split(text, sep).iter().map(|t| Period::parse(t)).collect();
            periods.filter(|p| !p.is_empty() && p.len() <= 10_000).map(TimeSelection::Members).ok_or_else(bad)
        }
    }
}

/// The index of the member `value` names: id, name, another field (region id, ticker) or key.
pub fn find_member(dim: &Dimension, value: &str) -> Option<usize> {
    let v = value.trim();
    let m = &dim.members;
    m.iter()
        .position(|m| m.id.eq_ignore_ascii_case(v))
        .or_else(|| m.iter().position(|m| m.name.eq_ignore_ascii_case(v)))
        .or_else(|| m.iter().position(|m| m.fields.values().any(|f| f.eq_ignore_ascii_case(v))))
        .or_else(|| v.parse::<u64>().ok().and_then(|k| m.iter().position(|m| m.key == k)))
}

fn frequencies(list: &[String]) -> Result<Vec<Frequency>, String> {
    list.iter()
        .map(|f| Frequency::parse(f).ok_or_else(|| format!("Frequency '{f}' is not valid: use A, H, Q, M, W or D")))
        .collect()
}

/// Matches an API 2.0 filter with `ds`.
pub fn resolve(filter: &DataFilter, ds: &Dataset) -> Result<Selection, String> {
    let mut sel = Selection::all(ds);
    for (name, values) in &filter.dims {
        let (i, dim) =
            ds.find_dimension(name).ok_or_else(|| format!("Dimension with id or name {name} is not found"))?;
        if values.is_empty() {
            return Err(format!("Selection for dimension {} is empty", dim.name));
        }
        let mut chosen = BTreeSet::new();
        for v in values {
            let m = find_member(dim, v)
                .ok_or_else(|| format!("Selection for dimension {} contains invalid elements: '{v}'", dim.name))?;
            chosen.insert(m);
        }
        sel.members[i] = Some(chosen);
    }
    if let Some(list) = &filter.frequencies {
        if !list.is_empty() {
            sel.frequencies = Some(frequencies(list)?);
        }
    }
    sel.time = filter.time.clone();
    sel.metadata = filter.metadata;
    Ok(sel)
}

/// A PivotRequest as sent to raw and pivot data.
#[derive(Debug, Clone, PartialEq)]
pub struct PivotRequest {
    pub dataset: String,
    /// (DimensionId, Members as text, UiMode)
    pub items: Vec<(String, Vec<String>, Option<String>)>,
    pub frequencies: Vec<String>,
}

fn field<'v>(obj: &'v serde_json::Map<String, Value>, name: &str) -> Option<&'v Value> {
    obj.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v)
}

pub fn parse_pivot(body: &[u8]) -> Result<PivotRequest, String> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| format!("The request body is not a JSON PivotRequest: {e}"))?;
    let Value::Object(obj) = value else {
        return Err("The request body must be a JSON PivotRequest object".to_owned());
    };
    let dataset = match field(&obj, "Dataset") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        _ => return Err("PivotRequest.Dataset is missing".to_owned()),
    };
    let mut items = Vec::new();
    let mut count = 0;
    for part in ["Header", "Stub", "Filter"] {
        let list = match field(&obj, part) {
            None | Some(Value::Null) => continue,
            Some(Value::Array(list)) => list,
            Some(_) => return Err(format!("PivotRequest.{part} must be a list")),
        };
        for item in list {
            let Value::Object(item) = item else {
                return Err(format!("PivotRequest.{part} items must be objects"));
            };
            let id = match field(item, "DimensionId") {
                Some(Value::String(s)) if !s.is_empty() => s.clone(),
                _ => return Err(format!("a PivotRequest.{part} item has no DimensionId")),
            };
            let members = match field(item, "Members") {
                None | Some(Value::Null) => Vec::new(),
                Some(v @ Value::Array(_)) => split(&value_text("Members", v, "\u{1}")?, "\u{1}"),
                Some(_) => return Err(format!("Members of {id} must be a list")),
            };
            count += members.len();
            if count > MAX_MEMBERS {
                return Err(format!("Too many members in the request: at most {MAX_MEMBERS}"));
            }
            let mode = match field(item, "UiMode") {
                Some(Value::String(s)) => Some(s.clone()),
                _ => None,
            };
            items.push((id, members, mode));
        }
    }
    let frequencies = match field(&obj, "Frequencies") {
        None | Some(Value::Null) => Vec::new(),
        Some(v @ Value::Array(_)) => split(&value_text("Frequencies", v, "\u{1}")?, "\u{1}"),
        Some(_) => return Err("PivotRequest.Frequencies must be a list".to_owned()),
    };
    if let Some(t) = field(&obj, "Transform") {
        if !matches!(t, Value::Null) && !matches!(t, Value::String(s) if s.is_empty()) {
            return Err(
                "Transformations are not supported by this service (mock-server serves data as stored)".to_owned()
            );
        }
    }
    Ok(PivotRequest { dataset, items, frequencies })
}

/// Matches a PivotRequest with `ds`.
pub fn resolve_pivot(req: &PivotRequest, ds: &Dataset) -> Result<Selection, String> {
    let mut sel = Selection::all(ds);
    for (id, members, mode) in &req.items {
        if id.eq_ignore_ascii_case("Time") {
            match (mode.as_deref().map(str::to_ascii_lowercase).as_deref(), members.as_slice()) {
                (Some("range"), [range]) => {
                    sel.time = Some(parse_time("timerange", range, ";")?);
                }
                (Some("range"), _) => return Err("the Time range needs one member 'A-B'".to_owned()),
                (_, []) => {}
                (_, list) => {
                    let periods: Option<Vec<Period>> = list.iter().map(|t| Period::parse(t)).collect();
                    sel.time = Some(TimeSelection::Members(
                        periods.ok_or_else(|| format!("Time members {list:?} are not periods"))?,
                    ));
                }
            }
            continue;
        }
        let (i, dim) =
            ds.dimension(id).ok_or_else(|| format!("Dimension with id {id} is not found in dataset {}", ds.id))?;
        if members.is_empty() {
            continue;
        }
        let mut chosen = BTreeSet::new();
        for v in members {
            chosen.insert(
                find_member(dim, v).ok_or_else(|| format!("Member '{v}' is not found in dimension {}", dim.name))?,
            );
        }
        sel.members[i] = Some(chosen);
    }
    if !req.frequencies.is_empty() {
        sel.frequencies = Some(frequencies(&req.frequencies)?);
    }
    Ok(sel)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn dataset() -> Dataset {
        let text = r#"
            id = "D"
            name = "d"
            [[dimensions]]
            id = "country"
            name = "Country"
            is_geo = true
            members = [ { key = 1000, name = "Albania", id = "ALB", fields = { regionid = "AL" } },
                        { key = 1001, name = "United States", id = "USA", fields = { regionid = "US" } } ]
            [[dimensions]]
            id = "subject"
            name = "Subject"
            members = [ { key = 2000, name = "Gross domestic product", id = "NGDPD" } ]
        "#;
        toml::from_str(text).unwrap()
    }

    #[test]
    fn reads_what_the_package_sends() {
        let f = parse_filter(br#"{"Country": "Albania;us", "subject": "ngdpd", "frequency": "A", "timerange": "2019-2020", "separator": ";"}"#).unwrap();
        let s = resolve(&f, &dataset()).unwrap();
        assert_eq!(s.members[0], Some([0, 1].into_iter().collect()));
        assert_eq!(s.members[1], Some([0].into_iter().collect()));
        assert_eq!(s.frequencies, Some(vec![Frequency::A]));
        assert!(matches!(s.time, Some(TimeSelection::Range(_, _))));
        // Default separator ',', keys, region alias, arrays.
        let f = parse_filter(br#"{"region": ["1000", "AL"], "metadata": "true"}"#).unwrap();
        let s = resolve(&f, &dataset()).unwrap();
        assert_eq!(s.members[0], Some([0].into_iter().collect()));
        assert!(s.metadata);
    }

    #[test]
    fn bad_filters_are_explained() {
        let d = dataset();
        let err = |body: &[u8]| parse_filter(body).and_then(|f| resolve(&f, &d)).unwrap_err();
        assert!(err(br#"{"country": "Atlantis"}"#)
            .contains("Selection for dimension Country contains invalid elements: 'Atlantis'"));
        assert!(err(br#"{"colour": "red"}"#).contains("Dimension with id or name colour is not found"));
        assert!(err(br#"{"frequency": "Y"}"#).contains("Frequency 'Y'"));
        assert!(err(br#"{"timelast": "3", "timesince": "2019"}"#).contains("Only one parameter"));
        assert!(err(br#"{"timerange": "soon"}"#).contains("timerange 'soon'"));
        assert!(err(br#"{"country": {"a": 1}}"#).contains("must be a string"));
        assert!(err(b"[1]").contains("JSON object"));
        assert!(err(b"{nope").contains("not a JSON object"));
        assert!(err(br#"{"transform": "PCH"}"#).contains("not supported"));
        assert!(err(br#"{"country": ";;", "separator": ";"}"#).contains("is empty"));
    }

    #[test]
    fn pivot_requests() {
        let body = br#"{"Dataset": "D", "Header": [{"DimensionId": "Time", "Members": ["2019-2020"], "UiMode": "range"}],
            "Stub": [{"DimensionId": "country", "Members": [1001]}, {"DimensionId": "subject", "Members": []}], "Filter": [], "Frequencies": ["A"]}"#;
        let req = parse_pivot(body).unwrap();
        let s = resolve_pivot(&req, &dataset()).unwrap();
        assert_eq!(s.members, vec![Some([1].into_iter().collect()), None]);
        assert!(resolve_pivot(
            &parse_pivot(br#"{"Dataset": "D", "Stub": [{"DimensionId": "x", "Members": [1]}]}"#).unwrap(),
            &dataset()
        )
        .is_err());
        assert!(parse_pivot(br#"{"Stub": []}"#).is_err());
    }

    #[test]
    fn time_selections() {
        let dates: Vec<NaiveDate> = (2018..2024).map(|y| NaiveDate::from_ymd_opt(y, 1, 1).unwrap()).collect();
        let values = vec![Some(1.0), Some(2.0), None, Some(4.0), Some(5.0), None];
        let pick = |t: TimeSelection| t.select(&dates, &values).iter().map(|b| *b as u8).collect::<Vec<_>>();
        assert_eq!(pick(TimeSelection::Last(2)), vec![0, 0, 0, 1, 1, 0]);
        let (a, b) = Period::parse_range("2019-2020").unwrap();
        assert_eq!(pick(TimeSelection::Range(a, b)), vec![0, 1, 1, 0, 0, 0]);
        assert_eq!(pick(TimeSelection::Since(Period::parse("2022").unwrap())), vec![0, 0, 0, 0, 1, 1]);
    }

    proptest! {
        #[test]
        fn filter_parser_never_panics(body in proptest::collection::vec(any::<u8>(), 0..300)) {
            if let Ok(f) = parse_filter(&body) {
                let _ = resolve(&f, &dataset());
            }
        }

        #[test]
        fn filter_parser_never_panics_on_json_like_input(
            keys in proptest::collection::vec("(country|Country|region|subject|frequency|timerange|timesince|timelast|timemembers|separator|metadata|transform|[a-z]{1,6})", 0..5),
            values in proptest::collection::vec("[ -~]{0,20}", 0..5),
        ) {
            let obj: serde_json::Map<String, Value> = keys.into_iter().zip(values).map(|(k, v)| (k, Value::String(v))).collect();
            let body = serde_json::to_vec(&Value::Object(obj)).unwrap();
            if let Ok(f) = parse_filter(&body) {
                let _ = resolve(&f, &dataset());
            }
        }

        #[test]
        fn pivot_parser_never_panics(body in proptest::collection::vec(any::<u8>(), 0..300)) {
            if let Ok(r) = parse_pivot(&body) {
                let _ = resolve_pivot(&r, &dataset());
            }
        }
    }
}
