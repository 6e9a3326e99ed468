//! The standard push format (docs.opinum.com, "standard format"): a JSON array of time series,
//!
//! ```json
//! [{"sourceSerialNumber": "SN-1", "mappingConfig": "ActiveEnergy",
//!   "data": [{"date": "2024-01-01T00:00:00", "value": 1.5}]}]
//! ```
//!
//! with one identifier per series: `variableId`, or a source identifier (`sourceId`,
//! `sourceSerialNumber`, `sourceEan`, `sourceName`, `meterNumber`) plus `mappingConfig`.
//! Property names are case-insensitive. The identifier kind of the first series that has one is
//! used for all (Opinum does not support mixing); a series without it cannot be mapped. Also the 2019
//! format of `/api/standard`: `{"Data": [{"VariableId", "Date", "Value"}]}`.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde_json::{Map, Value};

use super::fixtures::SourceKey;

/// Where a series goes.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    Variable(i64),
    Source { key: SourceKey, value: String, mapping_config: Option<String> },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Where it goes, or why it cannot go anywhere (no identifier, or another identifier kind
    /// than the first series that had one).
    pub target: Result<Target, String>,
    pub points: Vec<(DateTime<Utc>, f64)>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct FormatError(pub String);

const KINDS: &[(&str, Option<SourceKey>)] = &[
    ("variableId", None),
    ("sourceId", Some(SourceKey::SourceId)),
    ("sourceSerialNumber", Some(SourceKey::SourceSerialNumber)),
    ("sourceEan", Some(SourceKey::SourceEan)),
    ("sourceName", Some(SourceKey::SourceName)),
    ("meterNumber", Some(SourceKey::MeterNumber)),
];

/// A property by name, ignoring case (ASP.NET binds that way).
pub fn field<'a>(object: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    object.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v).filter(|v| !v.is_null())
}

pub fn parse_standard(body: &[u8]) -> Result<Vec<Series>, FormatError> {
    let value: Value = serde_json::from_slice(body).map_err(|e| FormatError(format!("the body is not JSON: {e}")))?;
    let Value::Array(items) = value else {
        return Err(FormatError(
            "the body must be a JSON array of time series: [{\"variableId\": 1, \"data\": [...]}]".into(),
        ));
    };
    let mut kind: Option<(&str, Option<SourceKey>)> = None;
    let mut series = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let Value::Object(object) = item else {
            return Err(FormatError(format!("item {i}: a time series must be a JSON object")));
        };
        let own = KINDS.iter().copied().find(|(name, _)| field(object, name).is_some());
        let Some((name, source_key)) = kind.or(own) else {
            let reason = "it names no variable or source: variableId, sourceId, sourceSerialNumber, sourceEan, \
                          sourceName and meterNumber are all missing or null";
            series.push(Series { target: Err(reason.to_owned()), points: points_of(i, object)? });
            continue;
        };
        kind = Some((name, source_key));
        let target = match field(object, name) {
            None => Err(format!(
                "its identifier kind differs from the first series' (mixing kinds is not supported): that one used {name}"
            )),
            Some(v) => Ok(match source_key {
                None => Target::Variable(
                    integer(v)
                        .ok_or_else(|| FormatError(format!("item {i}: variableId must be an integer, not {v}")))?,
                ),
                Some(key) => Target::Source {
                    key,
                    value: text(v)
                        .ok_or_else(|| FormatError(format!("item {i}: {name} must be a string or number, not {v}")))?,
                    mapping_config: field(object, "mappingConfig").and_then(text),
                },
            }),
        };
        series.push(Series { target, points: points_of(i, object)? });
    }
    Ok(series)
}

/// The points of series `i`.
fn points_of(i: usize, object: &Map<String, Value>) -> Result<Vec<(DateTime<Utc>, f64)>, FormatError> {
    match field(object, "data") {
        None => Ok(Vec::new()),
        Some(Value::Array(points)) => points
            .iter()
            .enumerate()
            .map(|(j, p)| point(p).map_err(|e| FormatError(format!("item {i}, point {j}: {e}"))))
            .collect(),
        Some(other) => {
            Err(FormatError(format!("item {i}: data must be an array of {{\"date\", \"value\"}}, not {other}")))
        }
    }
}

/// `{"Data": [{"VariableId": 1, "Date": "...", "Value": 1.0}]}`: one series per point.
pub fn parse_legacy(body: &[u8]) -> Result<Vec<Series>, FormatError> {
    let value: Value = serde_json::from_slice(body).map_err(|e| FormatError(format!("the body is not JSON: {e}")))?;
    let data = value
        .as_object()
        .and_then(|o| field(o, "data"))
        .and_then(Value::as_array)
        .ok_or_else(|| FormatError("expected {\"Data\": [{\"VariableId\", \"Date\", \"Value\"}]}".into()))?;
    data.iter()
        .enumerate()
        .map(|(i, p)| {
            let object = p.as_object().ok_or_else(|| FormatError(format!("Data[{i}] must be an object")))?;
            let variable = field(object, "variableId")
                .and_then(integer)
                .ok_or_else(|| FormatError(format!("Data[{i}]: VariableId must be an integer")))?;
            let point = point(p).map_err(|e| FormatError(format!("Data[{i}]: {e}")))?;
            Ok(Series { target: Ok(Target::Variable(variable)), points: vec![point] })
        })
        .collect()
}

fn point(p: &Value) -> Result<(DateTime<Utc>, f64), String> {
    let object = p.as_object().ok_or("a point must be an object {\"date\", \"value\"}")?;
    let date = field(object, "date").ok_or("no date")?;
    let date = date.as_str().and_then(parse_date).ok_or_else(|| format!("date {date} is not an ISO 8601 date-time"))?;
    let value = field(object, "value").ok_or("no value")?;
    let value = number(value).ok_or_else(|| format!("value {value} is not a number"))?;
    Ok((date, value))
}

/// ISO 8601 with or without an offset (none means UTC), or a bare date.
pub fn parse_date(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        return Some(d.with_timezone(&Utc));
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M"] {
        if let Ok(d) = NaiveDateTime::parse_from_str(s, format) {
            return Some(d.and_utc());
        }
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d").ok().and_then(|d| d.and_hms_opt(0, 0, 0)).map(|d| d.and_utc())
}

pub fn integer(v: &Value) -> Option<i64> {
    v.as_i64().or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
}

pub fn number(v: &Value) -> Option<f64> {
    v.as_f64().or_else(|| v.as_str().and_then(|s| s.trim().parse::<f64>().ok())).filter(|f| f.is_finite())
}

pub fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn names_are_case_insensitive_and_the_first_kind_wins() {
        let body = br#"[
            {"SOURCESERIALNUMBER": "SN-1", "mappingconfig": "E", "Data": [{"Date": "2024-01-01T00:00:00", "VALUE": 1.5}]},
            {"variableId": 7, "data": [{"date": "2024-01-01T00:15:00Z", "value": "2"}]}
        ]"#;
        let series = parse_standard(body).unwrap();
        assert_eq!(
            series[0].target,
            Ok(Target::Source {
                key: SourceKey::SourceSerialNumber,
                value: "SN-1".into(),
                mapping_config: Some("E".into())
            })
        );
        assert_eq!(series[0].points[0].1, 1.5);
        assert!(
            series[1].target.as_ref().is_err_and(|why| why.ends_with("that one used sourceSerialNumber")),
            "a different kind than the first item's is not mapped"
        );
        assert_eq!(series[1].points.len(), 1);
    }

    #[test]
    fn errors_say_where() {
        assert!(parse_standard(b"{}").unwrap_err().0.contains("must be a JSON array"));
        let e = parse_standard(br#"[{"variableId": 1, "data": [{"date": "2024-13-45", "value": 1}]}]"#).unwrap_err().0;
        assert!(e.starts_with("item 0, point 0: date"), "{e}");
        let e =
            parse_standard(br#"[{"variableId": 1, "data": [{"date": "2024-01-01", "value": "x"}]}]"#).unwrap_err().0;
        assert!(e.contains("is not a number"), "{e}");
        assert_eq!(
            parse_legacy(br#"{"data": [{"variableid": 3, "date": "2024-01-01", "value": 2}]}"#).unwrap().len(),
            1
        );
    }

    proptest! {
        #[test]
        fn never_panics(body in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = parse_standard(&body);
            let _ = parse_legacy(&body);
        }

        #[test]
        fn well_formed_series_parse(id in 1i64..1_000_000, values in proptest::collection::vec(-1e9f64..1e9, 0..20), minute in 0u32..60) {
            let data: Vec<Value> = values.iter().map(|v| serde_json::json!({"date": format!("2024-05-01T10:{minute:02}:00"), "value": v})).collect();
            let body = serde_json::to_vec(&serde_json::json!([{"variableId": id, "data": data}])).unwrap();
            let series = parse_standard(&body).unwrap();
            prop_assert_eq!(&series[0].target, &Ok(Target::Variable(id)));
            prop_assert_eq!(series[0].points.len(), values.len());
        }
    }
}
