//! `GET data`: the points of variables over a period, raw or aggregated per minute, hour, day,
//! week, month or year. Parameters may carry a `filter.` prefix (the .NET client's binding) and
//! any case; `variableId` may repeat or be comma-separated.
//!
//! Each row: `{variableId, date, rawValue, minValue, maxValue, countValue, avgValue, stdevValue,
//! varianceValue, sumValue}`; `rawValue` is the chosen aggregation (SUM unless told).

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration, TimeZone, Timelike, Utc};
use serde_json::{json, Value};

use super::push_format::parse_date;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Granularity {
    Raw,
    Minute,
    Hour,
    Day,
    Week,
    Month,
    Year,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Aggregation {
    Sum,
    Avg,
    Min,
    Max,
    Count,
    First,
    Last,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DataQuery {
    pub variables: Vec<i64>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub granularity: Granularity,
    pub aggregation: Aggregation,
}

/// Query pairs with the `filter.` prefix removed and names lower-cased.
pub fn normalized(pairs: &[(String, String)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| {
            let k = k.to_ascii_lowercase();
            (k.strip_prefix("filter.").map(str::to_owned).unwrap_or(k), v.clone())
        })
        .collect()
}

/// Comma-separated or repeated integers under any of `names`.
pub fn ids(pairs: &[(String, String)], names: &[&str]) -> Result<Vec<i64>, String> {
    let mut out = Vec::new();
    for (k, v) in pairs.iter().filter(|(k, _)| names.contains(&k.as_str())) {
        for part in v.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            out.push(part.parse().map_err(|_| format!("{k}: '{part}' is not an integer id"))?);
        }
    }
    Ok(out)
}

pub fn date(pairs: &[(String, String)], names: &[&str]) -> Result<Option<DateTime<Utc>>, String> {
    match pairs.iter().find(|(k, _)| names.contains(&k.as_str())) {
        None => Ok(None),
        Some((k, v)) => parse_date(v).map(Some).ok_or_else(|| format!("{k}: '{v}' is not an ISO 8601 date")),
    }
}

pub fn parse(pairs: &[(String, String)]) -> Result<DataQuery, String> {
    let pairs = normalized(pairs);
    let variables = ids(&pairs, &["variableid", "variableids"])?;
    if variables.is_empty() {
        return Err("variableId is required".into());
    }
    let text = |name: &str| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.to_ascii_lowercase());
    let granularity = match text("granularity").as_deref() {
        None | Some("raw") | Some("") => Granularity::Raw,
        Some("minute") => Granularity::Minute,
        Some("hour") => Granularity::Hour,
        Some("day") => Granularity::Day,
        Some("week") => Granularity::Week,
        Some("month") => Granularity::Month,
        Some("year") => Granularity::Year,
        Some(other) => {
            return Err(format!("granularity '{other}' is not one of Raw, Minute, Hour, Day, Week, Month, Year"))
        }
    };
    let aggregation = match text("aggregation").as_deref() {
        None | Some("sum") | Some("") => Aggregation::Sum,
        Some("avg" | "average") => Aggregation::Avg,
        Some("min") => Aggregation::Min,
        Some("max") => Aggregation::Max,
        Some("count") => Aggregation::Count,
        Some("first") => Aggregation::First,
        Some("last") => Aggregation::Last,
        Some(other) => {
            return Err(format!("aggregation '{other}' is not one of SUM, AVG, MIN, MAX, COUNT, FIRST, LAST"))
        }
    };
    Ok(DataQuery {
        variables,
        from: date(&pairs, &["from", "fromdateutc", "datefrom"])?,
        to: date(&pairs, &["to", "todateutc", "dateto"])?,
        granularity,
        aggregation,
    })
}

fn bucket(at: DateTime<Utc>, g: Granularity) -> DateTime<Utc> {
    let day = |d: DateTime<Utc>| Utc.with_ymd_and_hms(d.year(), d.month(), d.day(), 0, 0, 0).single().unwrap_or(d);
    match g {
        Granularity::Raw => at,
        Granularity::Minute => at.with_second(0).and_then(|d| d.with_nanosecond(0)).unwrap_or(at),
        Granularity::Hour => {
            at.with_minute(0).and_then(|d| d.with_second(0)).and_then(|d| d.with_nanosecond(0)).unwrap_or(at)
        }
        Granularity::Day => day(at),
        Granularity::Week => day(at) - Duration::days(at.weekday().num_days_from_monday() as i64),
        Granularity::Month => Utc.with_ymd_and_hms(at.year(), at.month(), 1, 0, 0, 0).single().unwrap_or(at),
        Granularity::Year => Utc.with_ymd_and_hms(at.year(), 1, 1, 0, 0, 0).single().unwrap_or(at),
    }
}

/// Rows for one variable's points (time in ms → value), within [from, to).
pub fn rows(q: &DataQuery, variable: i64, points: &BTreeMap<i64, f64>) -> Vec<Value> {
    let lo = q.from.map_or(i64::MIN, |d| d.timestamp_millis());
    let hi = q.to.map_or(i64::MAX, |d| d.timestamp_millis());
    let mut buckets: BTreeMap<DateTime<Utc>, Vec<f64>> = BTreeMap::new();
    for (&ms, &value) in points.range(lo..hi) {
        let at = Utc.timestamp_millis_opt(ms).single().unwrap_or_default();
        buckets.entry(bucket(at, q.granularity)).or_default().push(value);
    }
    buckets
        .into_iter()
        .map(|(date, values)| {
            let n = values.len() as f64;
            let sum: f64 = values.iter().sum();
            let avg = sum / n;
            let variance = values.iter().map(|v| (v - avg).powi(2)).sum::<f64>() / n;
            let min = values.iter().copied().fold(f64::INFINITY, f64::min);
            let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let raw = match q.aggregation {
                Aggregation::Sum => sum,
                Aggregation::Avg => avg,
                Aggregation::Min => min,
                Aggregation::Max => max,
                Aggregation::Count => n,
                Aggregation::First => values[0],
                Aggregation::Last => values[values.len() - 1],
            };
            json!({
                "variableId": variable,
                "date": date.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                "rawValue": raw, "minValue": min, "maxValue": max, "countValue": n,
                "avgValue": avg, "stdevValue": variance.sqrt(), "varianceValue": variance, "sumValue": sum,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(q: &str) -> Vec<(String, String)> {
        form_urlencoded::parse(q.as_bytes()).into_owned().collect()
    }

    #[test]
    fn hourly_sums_and_prefixed_names() {
        let q = parse(&pairs("filter.variableId=7&filter.from=2024-01-01T00:00:00Z&Granularity=Hour&aggregation=SUM"))
            .unwrap();
        let points: BTreeMap<i64, f64> =
            [("2024-01-01T00:15:00Z", 1.0), ("2024-01-01T00:45:00Z", 2.0), ("2024-01-01T01:00:00Z", 4.0)]
                .iter()
                .map(|(d, v)| (parse_date(d).unwrap().timestamp_millis(), *v))
                .collect();
        let rows = rows(&q, 7, &points);
        assert_eq!(rows.len(), 2);
        assert_eq!(
            (rows[0]["date"].as_str(), rows[0]["rawValue"].as_f64(), rows[0]["countValue"].as_f64()),
            (Some("2024-01-01T00:00:00Z"), Some(3.0), Some(2.0))
        );
        assert!(parse(&pairs("variableId=x")).unwrap_err().contains("not an integer"));
        assert!(parse(&pairs("variableId=1&granularity=fortnight")).unwrap_err().contains("granularity"));
    }
}
