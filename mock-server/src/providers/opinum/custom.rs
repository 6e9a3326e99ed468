//! Custom push mappers: a GUID's raw payload (JSON or CSV) turned into standard series, the way
//! Opinum's configured data mappers do. Records that cannot be read are not errors to the
//! client (Opinum maps asynchronously and answers 200): they are returned as losses with the
//! reason, for the journal.

use serde_json::Value;

use super::fixtures::{CustomFormat, CustomPush};
use super::push_format::{number, parse_date, text, Series, Target};

/// What a payload maps to: series, and `(record, reason)` for what could not be read.
pub struct Mapped {
    pub series: Vec<Series>,
    pub lost: Vec<(usize, String)>,
}

pub fn map(mapper: &CustomPush, body: &[u8]) -> Mapped {
    let records = match mapper.format {
        CustomFormat::Json => json_records(mapper, body),
        CustomFormat::Csv => csv_records(mapper, body),
    };
    let mut mapped = Mapped { series: Vec::new(), lost: Vec::new() };
    match records {
        Err(reason) => mapped.lost.push((0, reason)),
        Ok(records) => {
            for (i, record) in records.into_iter().enumerate() {
                match record {
                    Ok((source, date, value)) => mapped.series.push(Series {
                        target: Ok(Target::Source {
                            key: mapper.source_by,
                            value: source,
                            mapping_config: Some(mapper.mapping_config.clone()),
                        }),
                        points: vec![(date, value)],
                    }),
                    Err(reason) => mapped.lost.push((i, reason)),
                }
            }
        }
    }
    mapped
}

type Record = Result<(String, chrono::DateTime<chrono::Utc>, f64), String>;

fn json_records(m: &CustomPush, body: &[u8]) -> Result<Vec<Record>, String> {
    let root: Value = serde_json::from_slice(body).map_err(|e| format!("the payload is not JSON: {e}"))?;
    let list =
        path(&root, &m.records).and_then(Value::as_array).ok_or_else(|| format!("no array at '{}'", m.records))?;
    Ok(list
        .iter()
        .map(|r| {
            let get = |name: &str| path(r, name).ok_or_else(|| format!("no field '{name}'"));
            let source = text(get(&m.source)?).ok_or_else(|| format!("'{}' is not text", m.source))?;
            let date =
                get(&m.date)?.as_str().and_then(parse_date).ok_or_else(|| format!("'{}' is not a date", m.date))?;
            let value = number(get(&m.value)?).ok_or_else(|| format!("'{}' is not a number", m.value))?;
            Ok((source, date, value))
        })
        .collect())
}

/// A dotted path into JSON (`readings.items`); empty is the root.
fn path<'a>(root: &'a Value, dotted: &str) -> Option<&'a Value> {
    dotted.split('.').filter(|s| !s.is_empty()).try_fold(root, |v, key| v.get(key))
}

fn csv_records(m: &CustomPush, body: &[u8]) -> Result<Vec<Record>, String> {
    let text = std::str::from_utf8(body).map_err(|_| "the payload is not UTF-8 text".to_owned())?;
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header: Vec<&str> = lines.next().ok_or("the payload is empty")?.split(m.delimiter).map(str::trim).collect();
    let column = |name: &str| {
        header
            .iter()
            .position(|h| h.eq_ignore_ascii_case(name))
            .ok_or_else(|| format!("no column '{name}' in the header"))
    };
    let (source, date, value) = (column(&m.source)?, column(&m.date)?, column(&m.value)?);
    Ok(lines
        .map(|line| {
            let cells: Vec<&str> = line.split(m.delimiter).map(|c| c.trim().trim_matches('"')).collect();
            let cell = |i: usize| cells.get(i).copied().ok_or_else(|| format!("only {} columns", cells.len()));
            let date_text = cell(date)?;
            let date = parse_date(date_text).ok_or_else(|| format!("'{date_text}' is not a date"))?;
            let value_text = cell(value)?;
            let value = value_text
                .replace(',', ".")
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| format!("'{value_text}' is not a number"))?;
            Ok((cell(source)?.to_owned(), date, value))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::opinum::fixtures::SourceKey;
    use proptest::prelude::*;

    fn mapper(format: CustomFormat) -> CustomPush {
        CustomPush {
            guid: "g".into(),
            account: 1,
            format,
            records: "readings".into(),
            source_by: SourceKey::SourceSerialNumber,
            source: "meter".into(),
            mapping_config: "E".into(),
            date: "at".into(),
            value: "kwh".into(),
            delimiter: ';',
        }
    }

    #[test]
    fn json_and_csv_map_and_report_losses() {
        let m = map(
            &mapper(CustomFormat::Json),
            br#"{"readings": [{"meter": "SN-1", "at": "2024-01-01T00:00:00Z", "kwh": 2.5}, {"meter": "SN-1"}]}"#,
        );
        assert_eq!(m.series.len(), 1);
        assert_eq!(m.lost, vec![(1, "no field 'at'".to_owned())]);
        let m = map(&mapper(CustomFormat::Csv), b"meter;at;kwh\nSN-1;2024-01-01 00:00:00;1,5\nSN-2;yesterday;3\n");
        assert_eq!(m.series[0].points[0].1, 1.5);
        assert_eq!(m.lost.len(), 1);
    }

    proptest! {
        #[test]
        fn never_panics(body in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = map(&mapper(CustomFormat::Json), &body);
            let _ = map(&mapper(CustomFormat::Csv), &body);
        }
    }
}
