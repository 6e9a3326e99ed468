//! Reading Lynx requests the way its clients write them: repeated query parameters
//! (`topics=a&topics=b`, go-lynx and node-lynx) and comma-joined ones (`topics=a,b`), booleans
//! as Go, JavaScript and Python spell them (`true`, `false`, `True`, `False`, `1`, `0`), unix
//! times with fractions (`1700000000.123`), Go durations (`1h0m0s`, `15m`, `0s`), and JSON
//! bodies with or without a Content-Type (go-lynx sends none on creates). Every parser returns
//! a message for a 400 instead of failing, whatever the input (proptests below).

use axum::body::Body;
use axum::http::{Response, StatusCode};
use serde_json::Value;

use super::errors;
use crate::wire::{read_body, BodyError};

/// Largest request body the API reads.
pub const MAX_BODY: usize = 1 << 20;

/// Query pairs in order, decoded.
pub fn pairs(raw: Option<&str>) -> Vec<(String, String)> {
    form_urlencoded::parse(raw.unwrap_or_default().as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}

/// The last value of `name`, if any.
pub fn last<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// Every value of `name`, repeated or comma-joined, empty pieces dropped.
pub fn list(pairs: &[(String, String)], name: &str) -> Vec<String> {
    pairs
        .iter()
        .filter(|(k, _)| k == name || k == &format!("{name}[]"))
        .flat_map(|(_, v)| v.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

pub fn boolean(name: &str, value: &str) -> Result<bool, String> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "t" | "yes" | "y" => Ok(true),
        "false" | "0" | "f" | "no" | "n" | "" => Ok(false),
        _ => Err(format!("{name} must be true or false, not '{value}'")),
    }
}

/// A finite number of seconds.
pub fn seconds(name: &str, value: &str) -> Result<f64, String> {
    match value.trim().parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        _ => Err(format!("{name} must be a unix time in seconds, not '{value}'")),
    }
}

pub fn whole(name: &str, value: &str) -> Result<u64, String> {
    value.trim().parse::<u64>().map_err(|_| format!("{name} must be a whole number of at least 0, not '{value}'"))
}

/// A Go `time.Duration` string (`1h0m0s`, `1.5h`, `300ms`, `0s`, `0`) in seconds.
pub fn go_duration(value: &str) -> Result<f64, String> {
    let bad = || format!("aggr_interval must be a duration such as 1h0m0s, 15m or 30s, not '{value}'");
    let s = value.trim();
    if s == "0" {
        return Ok(0.0);
    }
    if s.is_empty() {
        return Err(bad());
    }
    let mut total = 0.0f64;
    let mut rest = s;
    while !rest.is_empty() {
        let number_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        if number_len == 0 {
            return Err(bad());
        }
        let number: f64 = rest[..number_len].parse().map_err(|_| bad())?;
        rest = &rest[number_len..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let factor = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(bad()),
        };
        rest = &rest[unit_len..];
        total += number * factor;
    }
    if total.is_finite() {
        Ok(total)
    } else {
        Err(bad())
    }
}

/// The body as JSON: `Ok(None)` when empty. Content-Type is not required (go-lynx sends none).
pub async fn json_body(body: Body) -> Result<Option<Value>, Response<Body>> {
    let bytes = read_body(body, MAX_BODY).await.map_err(|e| match e {
        BodyError::TooLarge(_) => errors::message(StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large"),
        BodyError::Unreadable(m) => errors::bad_request(m),
    })?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| errors::bad_request(format!("the body is not valid JSON: {e}")))
}

/// A JSON object's field, with the name matched without regard to case (Go encodes struct
/// fields without tags as `Value`, `Protected`).
pub fn field<'a>(object: &'a Value, name: &str) -> Option<&'a Value> {
    object.as_object()?.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v)
}

/// Topics in a JSON body: an array of strings (py-lynx, go-lynx's 414 fallback).
pub fn topics_body(body: Option<&Value>) -> Result<Vec<String>, String> {
    match body {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|t| {
                t.as_str().map(str::to_owned).ok_or_else(|| "the body must be a JSON array of topic strings".to_owned())
            })
            .collect(),
        Some(_) => Err("the body must be a JSON array of topic strings".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn go_durations() {
        assert_eq!(go_duration("1h0m0s"), Ok(3600.0));
        assert_eq!(go_duration("15m"), Ok(900.0));
        assert_eq!(go_duration("1.5h"), Ok(5400.0));
        assert_eq!(go_duration("300ms"), Ok(0.3));
        assert_eq!(go_duration("0s"), Ok(0.0));
        assert_eq!(go_duration("0"), Ok(0.0));
        assert!(go_duration("1x").is_err());
        assert!(go_duration("h").is_err());
        assert!(go_duration("").is_err());
    }

    #[test]
    fn repeated_and_comma_joined_lists() {
        let p = pairs(Some("topics=a&topics=b,c&topics=&x=1"));
        assert_eq!(list(&p, "topics"), vec!["a", "b", "c"]);
        assert_eq!(last(&p, "x"), Some("1"));
        assert_eq!(boolean("b", "False"), Ok(false));
        assert_eq!(boolean("b", "TRUE"), Ok(true));
        assert!(boolean("b", "maybe").is_err());
        assert_eq!(seconds("from", "1700000000.25"), Ok(1_700_000_000.25));
        assert!(seconds("from", "NaN").is_err());
    }

    #[test]
    fn fields_match_any_case() {
        let v: Value = serde_json::from_str(r#"{"Value": "x", "Protected": true}"#).unwrap();
        assert_eq!(field(&v, "value"), Some(&Value::from("x")));
        assert_eq!(topics_body(Some(&serde_json::json!(["a"]))), Ok(vec!["a".to_owned()]));
        assert!(topics_body(Some(&serde_json::json!({"a": 1}))).is_err());
    }

    proptest! {
        #[test]
        fn parsers_never_panic(s in "\\PC{0,30}") {
            let _ = go_duration(&s);
            let _ = boolean("x", &s);
            let _ = seconds("x", &s);
            let _ = whole("x", &s);
            let p = pairs(Some(&s));
            let _ = list(&p, "topics");
        }
    }
}
