//! What Lynx stores from MQTT ("IoT Open MQTT API Specification 2.0"): messages on
//! `{client_id}/obj/...` (values) and `{client_id}/set/obj/...` (commands) whose payload is a
//! JSON object `{"timestamp": number, "value": number, "msg": string}` with no other property;
//! `timestamp` (unix seconds, fractions allowed) and `msg` may be left out. Anything else on
//! those topics is still routed to subscribers but not stored, and the reason is journaled.

use serde_json::Value;

/// A stored sample.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub timestamp: Option<f64>,
    pub value: f64,
    pub msg: String,
}

/// `({client_id}, the rest)` of a topic whose first level is a number.
pub fn split(topic: &str) -> Option<(i64, &str)> {
    let (first, rest) = topic.split_once('/')?;
    Some((first.parse().ok()?, rest))
}

/// Whether the part after the client id is a value or command topic.
pub fn is_value_topic(rest: &str) -> bool {
    rest.starts_with("obj/") || rest.starts_with("set/obj/")
}

pub fn parse(payload: &[u8]) -> Result<Sample, String> {
    let value: Value = serde_json::from_slice(payload).map_err(|_| "the payload is not JSON".to_owned())?;
    let Value::Object(object) = value else {
        return Err("the payload is not a JSON object".into());
    };
    if let Some(other) = object.keys().find(|k| !matches!(k.as_str(), "timestamp" | "value" | "msg")) {
        return Err(format!("property '{other}' is not allowed (only timestamp, value, msg)"));
    }
    let number = |name: &str| -> Result<Option<f64>, String> {
        match object.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => {
                n.as_f64().filter(|v| v.is_finite()).map(Some).ok_or_else(|| format!("{name} is out of range"))
            }
            Some(_) => Err(format!("{name} must be a number")),
        }
    };
    let value = number("value")?.ok_or_else(|| "value is missing".to_owned())?;
    let timestamp = number("timestamp")?;
    let msg = match object.get("msg") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(_) => return Err("msg must be a string".into()),
    };
    Ok(Sample { timestamp, value, msg })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_specified_shape_only() {
        assert_eq!(
            parse(br#"{"timestamp": 1700000000.5, "value": 21.5, "msg": "ok"}"#),
            Ok(Sample { timestamp: Some(1_700_000_000.5), value: 21.5, msg: "ok".into() })
        );
        assert_eq!(parse(br#"{"value": 1}"#).unwrap().timestamp, None);
        assert!(parse(br#"{"value": 1, "unit": "C"}"#).unwrap_err().contains("unit"));
        assert!(parse(br#"{"timestamp": 1}"#).is_err());
        assert!(parse(br#"{"value": "1"}"#).is_err());
        assert!(parse(b"21.5").is_err());
        assert!(parse(b"\xff").is_err());
    }

    #[test]
    fn topics() {
        assert_eq!(split("1001/obj/zwave/12/temperature"), Some((1001, "obj/zwave/12/temperature")));
        assert_eq!(split("x/obj"), None);
        assert!(is_value_topic("obj/a"));
        assert!(is_value_topic("set/obj/a"));
        assert!(!is_value_topic("evt/functionx/updated"));
    }

    proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200), topic in "\\PC{0,40}") {
            let _ = parse(&bytes);
            let _ = split(&topic);
        }
    }
}
