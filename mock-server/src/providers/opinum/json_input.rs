//! Reading request bodies the way Opinum's ASP.NET API does: JSON in UTF-8 or UTF-16 (the .NET
//! sample sends its JSON Patch documents UTF-16 encoded), property names bound without regard to
//! case, unknown properties ignored; JSON Patch (RFC 6902) paths matched the same way.

use axum::http::{header, HeaderMap};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Value};

/// The body as text: a BOM or `charset=utf-16` in Content-Type selects UTF-16 (little-endian
/// unless a BOM says otherwise).
pub fn decode_text(headers: &HeaderMap, bytes: &[u8]) -> Result<String, String> {
    let charset =
        headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(|v| v.to_ascii_lowercase()).and_then(|v| {
            v.split(';').find_map(|p| p.trim().strip_prefix("charset=").map(|c| c.trim_matches('"').to_owned()))
        });
    let utf16 = |bytes: &[u8], big_endian: bool| -> Result<String, String> {
        if !bytes.len().is_multiple_of(2) {
            return Err("the UTF-16 body has an odd number of bytes".into());
        }
        let units = bytes.chunks_exact(2).map(|c| {
            if big_endian {
                u16::from_be_bytes([c[0], c[1]])
            } else {
                u16::from_le_bytes([c[0], c[1]])
            }
        });
        char::decode_utf16(units).collect::<Result<String, _>>().map_err(|_| "the body is not valid UTF-16".to_owned())
    };
    match bytes {
        [0xEF, 0xBB, 0xBF, rest @ ..] => {
            std::str::from_utf8(rest).map(str::to_owned).map_err(|_| "the body is not valid UTF-8".into())
        }
        [0xFF, 0xFE, rest @ ..] => utf16(rest, false),
        [0xFE, 0xFF, rest @ ..] => utf16(rest, true),
        _ => match charset.as_deref() {
            Some("utf-16" | "utf-16le") => utf16(bytes, false),
            Some("utf-16be") => utf16(bytes, true),
            _ => std::str::from_utf8(bytes)
                .map(str::to_owned)
                .map_err(|_| "the body is not valid UTF-8 (send charset=utf-16 for UTF-16)".into()),
        },
    }
}

/// Parses a body into `T`, matching property names without regard to case.
pub fn bind<T: DeserializeOwned + Serialize + Default>(headers: &HeaderMap, bytes: &[u8]) -> Result<T, String> {
    let text = decode_text(headers, bytes)?;
    let value: Value = serde_json::from_str(&text).map_err(|e| format!("the body is not JSON: {e}"))?;
    let Value::Object(object) = value else {
        return Err("the body must be a JSON object".into());
    };
    from_object::<T>(object)
}

fn known_names<T: Serialize + Default>() -> Vec<String> {
    match serde_json::to_value(T::default()) {
        Ok(Value::Object(o)) => o.keys().cloned().collect(),
        _ => Vec::new(),
    }
}

fn from_object<T: DeserializeOwned + Serialize + Default>(object: Map<String, Value>) -> Result<T, String> {
    let known = known_names::<T>();
    let canonical: Map<String, Value> = object
        .into_iter()
        .filter_map(|(k, v)| known.iter().find(|n| n.eq_ignore_ascii_case(&k)).map(|n| (n.clone(), v)))
        .filter(|(_, v)| !v.is_null())
        .collect();
    serde_json::from_value(Value::Object(canonical)).map_err(|e| format!("invalid property value: {e}"))
}

/// Applies a JSON Patch document to `target`; paths match property names without regard to case.
pub fn patch<T: DeserializeOwned + Serialize + Default>(
    target: &T,
    headers: &HeaderMap,
    bytes: &[u8],
) -> Result<T, String> {
    let text = decode_text(headers, bytes)?;
    let mut ops: Value = serde_json::from_str(&text).map_err(|e| format!("the body is not JSON: {e}"))?;
    let known = known_names::<T>();
    let ops_list = ops.as_array_mut().ok_or("a JSON Patch document is an array of operations")?;
    for op in ops_list.iter_mut() {
        let Some(Value::String(path)) = op.get_mut("path") else { continue };
        let mut segments: Vec<String> = path.split('/').map(str::to_owned).collect();
        if let Some(first) = segments.get_mut(1) {
            if let Some(name) = known.iter().find(|n| n.eq_ignore_ascii_case(first)) {
                *first = name.clone();
            }
        }
        *path = segments.join("/");
    }
    let document: json_patch::Patch =
        serde_json::from_value(ops).map_err(|e| format!("not a JSON Patch document: {e}"))?;
    let mut value = serde_json::to_value(target).map_err(|e| e.to_string())?;
    json_patch::patch(&mut value, &document).map_err(|e| format!("the patch does not apply: {e}"))?;
    let Value::Object(object) = value else { return Err("the patch must leave an object".into()) };
    from_object::<T>(object)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Default, Serialize, serde::Deserialize, PartialEq)]
    #[serde(rename_all = "camelCase", default)]
    struct Thing {
        name: String,
        time_zone_id: String,
    }

    #[test]
    fn utf16_bodies_and_any_case_names() {
        let json = r#"[{"op": "replace", "path": "/NAME", "value": "Röntgen"}]"#;
        let mut bytes = vec![0xFF, 0xFE];
        bytes.extend(json.encode_utf16().flat_map(u16::to_le_bytes));
        let patched = patch(&Thing::default(), &HeaderMap::new(), &bytes).unwrap();
        assert_eq!(patched.name, "Röntgen");
        let bound: Thing = bind(&HeaderMap::new(), br#"{"TIMEZONEID": "UTC", "unknown": 1}"#).unwrap();
        assert_eq!(bound.time_zone_id, "UTC");
    }

    proptest! {
        #[test]
        fn never_panic(body in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = bind::<Thing>(&HeaderMap::new(), &body);
            let _ = patch(&Thing::default(), &HeaderMap::new(), &body);
        }
    }
}
