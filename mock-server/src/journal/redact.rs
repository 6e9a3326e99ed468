//! Bodies as the journal keeps them, when it keeps them (`--journal-bodies`, `[journal] bodies`):
//! every secret replaced by [`MARKER`] before anything is stored, then cut to [`BODY_LIMIT`].
//!
//! A JSON document's or a form's values are redacted by their names, at any depth: anything
//! named like a secret, password, token, key, signature, assertion, code, credential or
//! verifier ([`secret_name`]). A JSON document that parses is redacted as a tree; one that does
//! not (broken, or only its start was captured) is redacted by a scan of its text that needs no
//! end. Anything else is scanned as a form (`name=value&...`), which changes nothing in text that
//! is not one. What is left is searched for JWT-shaped strings (three base64url segments), for
//! the word after `Bearer`, and for the fixtures' own secrets, wherever they stand. A body that
//! is not UTF-8 is described, not kept.

use serde_json::Value;

/// What stands where a secret was.
pub const MARKER: &str = "[redacted]";

/// The most bytes of a body the journal keeps; the rest is counted, not kept.
pub const BODY_LIMIT: usize = 16 * 1024;

/// The body as the journal keeps it: redacted, then cut to [`BODY_LIMIT`] bytes with a note of
/// how many were left out. `captured` is the body's start (or all of it), `total` its whole
/// length; `secrets` are the fixtures' own. `None` for an empty body.
pub fn journaled_body(captured: &[u8], total: usize, secrets: &[&str]) -> Option<String> {
    if total == 0 {
        return None;
    }
    let total = total.max(captured.len());
    let text = match std::str::from_utf8(captured) {
        Ok(text) => text,
        // A start cut in the middle of a character is still text.
        Err(e) if e.error_len().is_none() && total > captured.len() => {
            std::str::from_utf8(&captured[..e.valid_up_to()]).unwrap_or_default()
        }
        Err(_) => return Some(format!("[{total} bytes of binary]")),
    };
    let whole = total == captured.len();
    let mut kept = redact_text(text, whole, secrets);
    let uncaptured = total - text.len();
    if kept.len() > BODY_LIMIT || uncaptured > 0 {
        let mut cut = BODY_LIMIT.min(kept.len());
        while !kept.is_char_boundary(cut) {
            cut -= 1;
        }
        let left_out = uncaptured + (kept.len() - cut);
        kept.truncate(cut);
        kept.push_str(&format!(" [... {left_out} more bytes not kept]"));
    }
    Some(kept)
}

/// A whole body, redacted: as JSON, as a form, or as text.
#[cfg(test)]
fn redact(text: &str, secrets: &[&str]) -> String {
    redact_text(text, true, secrets)
}

fn redact_text(text: &str, whole: bool, secrets: &[&str]) -> String {
    let trimmed = text.trim_start();
    let by_name = if trimmed.starts_with('{') || trimmed.starts_with('[') {
        match serde_json::from_str::<Value>(text) {
            Ok(mut value) if whole => {
                redact_json(&mut value);
                value.to_string()
            }
            _ => redact_json_text(text),
        }
    } else {
        redact_form(text, secrets)
    };
    scrub(&by_name, secrets)
}

/// Whether a field of this name holds a secret.
pub fn secret_name(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    // What kind of thing, or where to send one: not the thing itself (`token_type`,
    // `token_endpoint`, `token_endpoint_auth_methods_supported`).
    const DESCRIBING: [&str; 4] = ["_type", "_types", "_endpoint", "_supported"];
    if DESCRIBING.iter().any(|s| name.ends_with(s)) {
        return false;
    }
    const PARTS: [&str; 9] =
        ["secret", "password", "passwd", "token", "key", "signature", "assertion", "credential", "verifier"];
    PARTS.iter().any(|p| name.contains(p)) || secret_code(&name) || name == "otp"
}

/// Whether a lower-case name ending in `code` (`code`, `device_code`, `userCode`, `sms-code`)
/// names a one-time secret rather than a classification (`country_code`, `error_code`,
/// `statusCode`, `fuel_type_code`). A code of a kind not listed here counts as a secret: a
/// classification redacted by mistake costs less than a secret kept.
fn secret_code(name: &str) -> bool {
    let joined: String = name.chars().filter(|c| !matches!(c, '_' | '-' | '.')).collect();
    let Some(kind) = joined.strip_suffix("code") else {
        return false;
    };
    const CLASSIFICATIONS: [&str; 36] = [
        "error", "status", "reason", "response", "result", "return", "exit", "http", "connack", "denied", "country",
        "currency", "postal", "post", "zip", "language", "lang", "locale", "region", "state", "city", "area", "dial",
        "phone", "site", "station", "product", "unit", "type", "kind", "category", "class", "grade", "bar", "qr",
        "iso",
    ];
    !CLASSIFICATIONS.iter().any(|c| kind.ends_with(c))
}

fn redact_json(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                if secret_name(key) && !v.is_null() {
                    *v = Value::String(MARKER.to_owned());
                } else {
                    redact_json(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact_json),
        _ => {}
    }
}

/// JSON that does not parse (broken, or cut short), redacted by a scan of its text: the value
/// after a key named like a secret (a string, a number, an object or array, however far it
/// runs, to the end if it never closes) becomes `"[redacted]"`. Everything else is kept as is.
fn redact_json_text(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let mut copied = 0;
    while i < bytes.len() {
        if bytes[i] != b'"' {
            i += 1;
            continue;
        }
        let end = string_end(bytes, i);
        let literal = &text[i..end];
        let mut after = skip_space(bytes, end);
        if after >= bytes.len() || bytes[after] != b':' || !secret_name(&unquote(literal)) {
            i = end;
            continue;
        }
        after = skip_space(bytes, after + 1);
        let value_end = match bytes.get(after) {
            None => {
                i = after;
                continue;
            }
            Some(b'"') => string_end(bytes, after),
            Some(b'{' | b'[') => bracket_end(bytes, after),
            Some(_) => {
                let end = bytes[after..]
                    .iter()
                    .position(|b| matches!(b, b',' | b'}' | b']') || b.is_ascii_whitespace())
                    .map_or(bytes.len(), |n| after + n);
                if &text[after..end] == "null" {
                    i = end;
                    continue;
                }
                end
            }
        };
        out.push_str(&text[copied..after]);
        out.push('"');
        out.push_str(MARKER);
        out.push('"');
        copied = value_end;
        i = value_end;
    }
    out.push_str(&text[copied..]);
    out
}

/// Where the string literal opening at `start` ends (past its closing quote), or the text's end.
fn string_end(bytes: &[u8], start: usize) -> usize {
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    bytes.len()
}

/// Where the object or array opening at `start` closes (past its bracket), or the text's end.
fn bracket_end(bytes: &[u8], start: usize) -> usize {
    let mut depth = 0usize;
    let mut i = start;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                i = string_end(bytes, i);
                continue;
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return i + 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    bytes.len()
}

fn skip_space(bytes: &[u8], mut i: usize) -> usize {
    while i < bytes.len() && bytes[i].is_ascii_whitespace() {
        i += 1;
    }
    i
}

/// A key literal's text: unescaped when it is a whole literal, its raw inside otherwise.
fn unquote(literal: &str) -> String {
    serde_json::from_str::<String>(literal).unwrap_or_else(|_| literal.trim_matches('"').to_owned())
}

/// `name=value&...`: the value of each pair whose (decoded) name looks secret, or whose
/// (decoded) value holds one of `secrets`, becomes the marker; every other byte is kept as it
/// was sent. Text that is not a form has no such pair (or loses a little more than it had to).
fn redact_form(text: &str, secrets: &[&str]) -> String {
    let mut out = String::with_capacity(text.len());
    for (n, pair) in text.split('&').enumerate() {
        if n > 0 {
            out.push('&');
        }
        match pair.split_once('=') {
            Some((name, value)) if secret_name(&form_decoded(name)) || holds_secret(value, secrets) => {
                out.push_str(name);
                out.push('=');
                out.push_str("%5Bredacted%5D");
            }
            _ => out.push_str(pair),
        }
    }
    out
}

fn form_decoded(name: &str) -> String {
    form_urlencoded::parse(format!("{name}=").as_bytes()).next().map(|(k, _)| k.into_owned()).unwrap_or_default()
}

/// Whether a form value, decoded however it was encoded, holds one of `secrets`.
fn holds_secret(value: &str, secrets: &[&str]) -> bool {
    let decoded = form_decoded(value);
    secrets.iter().any(|s| s.len() >= 4 && decoded.contains(s))
}

/// Replaces JWT-shaped runs, the word after `Bearer`, and the given secrets (as they are, form
/// encoded or JSON escaped) wherever they stand.
fn scrub(text: &str, secrets: &[&str]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut run = String::new();
    // The previous word was `Bearer` and only spaces have come since: the next word is a token.
    let mut after_bearer = false;
    for c in text.chars() {
        let in_run = c.is_ascii_alphanumeric()
            || matches!(c, '-' | '_' | '.')
            || (after_bearer && matches!(c, '~' | '+' | '/' | '='));
        if in_run {
            run.push(c);
            continue;
        }
        let was_bearer = run.eq_ignore_ascii_case("bearer");
        if run.is_empty() {
            after_bearer = after_bearer && c == ' ';
        } else {
            out.push_str(if after_bearer || jwt_shaped(&run) { MARKER } else { &run });
            run.clear();
            after_bearer = was_bearer && c == ' ';
        }
        out.push(c);
    }
    if !run.is_empty() {
        out.push_str(if after_bearer || jwt_shaped(&run) { MARKER } else { &run });
    }
    for secret in secrets.iter().filter(|s| s.len() >= 4) {
        let json = serde_json::to_string(secret).unwrap_or_default();
        let forms = [
            secret.to_string(),
            form_urlencoded::byte_serialize(secret.as_bytes()).collect::<String>(),
            json.trim_matches('"').to_owned(),
        ];
        for form in forms {
            if out.contains(&form) {
                out = out.replace(&form, MARKER);
            }
        }
    }
    out
}

/// Three base64url segments of some length, separated by dots: a JWT (or a JWS).
fn jwt_shaped(run: &str) -> bool {
    let segments: Vec<&str> = run.split('.').collect();
    segments.len() == 3
        && segments[..2].iter().all(|s| s.len() >= 8)
        && segments.iter().all(|s| s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const JWT: &str = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhYmMifQ.c2lnbmF0dXJlLXZhbHVl";

    #[test]
    fn a_token_request_keeps_its_shape_and_loses_its_secrets() {
        let form = "grant_type=password&client_id=app&client_secret=s3cret&username=anna&password=pw%21&scope=a+b";
        assert_eq!(
            redact(form, &[]),
            "grant_type=password&client_id=app&client_secret=%5Bredacted%5D&username=anna&password=%5Bredacted%5D&scope=a+b"
        );
        let json = format!(
            r#"{{"access_token":"{JWT}","token_type":"Bearer","nested":[{{"apiKey":"k"}}],"expires_in":3599}}"#
        );
        let kept = redact(&json, &[]);
        assert!(!kept.contains(JWT) && !kept.contains("\"k\""), "{kept}");
        assert!(kept.contains("\"token_type\":\"Bearer\"") && kept.contains("3599"), "{kept}");
    }

    #[test]
    fn every_named_secret_goes_and_descriptions_stay() {
        for name in [
            "client_secret",
            "password",
            "refresh_token",
            "code",
            "client_assertion",
            "assertion",
            "access_token",
            "id_token",
            "code_verifier",
            "api_key",
            "x-api-key",
            "ApiKey",
            "Signature",
            "device_code",
            "deviceCode",
            "user_code",
            "sms-code",
            "verificationCode",
            "one_time_code",
            "passcode",
            "pin_code",
        ] {
            assert!(secret_name(name), "{name}");
        }
        for name in [
            "grant_type",
            "token_type",
            "token_endpoint",
            "scope",
            "client_id",
            "username",
            "expires_in",
            "country_code",
            "countryCode",
            "error_code",
            "statusCode",
            "postal_code",
            "fuel_type_code",
            "currency-code",
            "code_challenge",
            "encoding",
        ] {
            assert!(!secret_name(name), "{name}");
        }
    }

    #[test]
    fn json_that_does_not_parse_is_redacted_by_its_text() {
        let cut = r#"{"user": "anna", "password" : "pw-123", "apiKey": 12345, "token": {"a": ["x"#;
        let kept = redact_json_text(cut);
        assert_eq!(
            kept,
            r#"{"user": "anna", "password" : "[redacted]", "apiKey": "[redacted]", "token": "[redacted]""#
        );
        assert_eq!(redact_json_text(r#"{"client_secret": "abc"#), r#"{"client_secret": "[redacted]""#);
        assert_eq!(redact_json_text(r#"{"key": null, "a": 1}"#), r#"{"key": null, "a": 1}"#);
    }

    #[test]
    fn text_loses_jwts_bearer_tokens_and_the_fixtures_secrets() {
        let kept = redact(&format!("Bearer {JWT} and sandpit-read-secret"), &["sandpit-read-secret"]);
        assert_eq!(kept, "Bearer [redacted] and [redacted]");
        assert_eq!(redact("Authorization: bearer abc/def+g== rest", &[]), "Authorization: bearer [redacted] rest");
        assert_eq!(redact("note=x&msg=a%20p%C3%A9!+b", &["a p\u{e9}!"]), "note=x&msg=%5Bredacted%5D");
        assert_eq!(redact("{\"a\":\"x\\\"quoted\"}", &["x\"quoted"]), "{\"a\":\"[redacted]\"}");
    }

    #[test]
    fn long_and_binary_bodies_are_cut_or_described() {
        let long = "a".repeat(BODY_LIMIT + 10);
        let kept = journaled_body(long.as_bytes(), long.len(), &[]).unwrap();
        assert!(kept.starts_with(&"a".repeat(BODY_LIMIT)) && kept.ends_with(" [... 10 more bytes not kept]"));
        let kept = journaled_body(&long.as_bytes()[..BODY_LIMIT], long.len() + 100, &[]).unwrap();
        assert!(kept.ends_with(" [... 110 more bytes not kept]"), "{}", &kept[BODY_LIMIT - 5..]);
        assert_eq!(journaled_body(&[0xff, 0xfe], 2, &[]).unwrap(), "[2 bytes of binary]");
        assert_eq!(journaled_body(b"", 0, &[]), None);
        // A start cut inside a character is text, not binary.
        let kept = journaled_body("x\u{e9}".as_bytes().split_last().unwrap().1, 3, &[]).unwrap();
        assert_eq!(kept, "x [... 2 more bytes not kept]");
    }

    #[test]
    fn a_long_form_keeps_no_secret_in_its_start() {
        let form = format!("password=hunter2-secret&pad={}", "p".repeat(BODY_LIMIT));
        let kept = journaled_body(&form.as_bytes()[..BODY_LIMIT], form.len(), &[]).unwrap();
        assert!(!kept.contains("hunter2") && kept.starts_with("password=%5Bredacted%5D&pad=ppp"), "{kept:.40}");
    }

    const SECRET_NAMES: &str = "(client_secret|password|refresh_token|access_token|id_token|code|client_assertion|\
                                assertion|code_verifier|api_key|apiKey|x-api-key|Signature|my_private_key|otp)";

    /// A JSON value of arbitrary shape with `secret` under `name` somewhere inside.
    fn json_holding(secret: String, name: String) -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            ".{0,12}".prop_map(Value::String),
        ];
        let noise = leaf.prop_recursive(4, 32, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map("[a-z_]{1,8}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        });
        (noise, prop::collection::vec(("[a-z]{1,6}", any::<bool>()), 0..4)).prop_map(move |(noise, path)| {
            let mut value = serde_json::json!({ name.clone(): secret.clone(), "noise": noise });
            for (key, in_array) in path {
                value =
                    if in_array { Value::Array(vec![Value::Null, value]) } else { serde_json::json!({ key: value }) };
            }
            value
        })
    }

    proptest! {
        /// Whatever a form or a JSON document holds, however deep, and wherever it is cut, a
        /// value named like a secret never survives, and nothing panics.
        #[test]
        fn a_secret_named_value_never_survives(
            (name, value, json) in (SECRET_NAMES, "[A-Za-z0-9]{12,40}")
                .prop_flat_map(|(n, v)| (Just(n.clone()), Just(v.clone()), json_holding(v, n))),
            before in prop::collection::vec((".{0,10}", ".{0,10}"), 0..4),
            after in prop::collection::vec((".{0,10}", ".{0,10}"), 0..4),
            pretty in any::<bool>(),
            cut in 0usize..400,
        ) {
            let mut form = form_urlencoded::Serializer::new(String::new());
            form.extend_pairs(before.iter().filter(|(k, _)| !k.contains(&value)));
            form.append_pair(&name, &value);
            form.extend_pairs(after.iter().filter(|(k, _)| !k.contains(&value)));
            let form = form.finish();
            let json = if pretty { serde_json::to_string_pretty(&json) } else { serde_json::to_string(&json) }
                .unwrap();
            for body in [form, json] {
                prop_assert!(!redact(&body, &[]).contains(&value), "{}", body);
                let start = &body.as_bytes()[..cut.min(body.len())];
                let kept = journaled_body(start, body.len(), &[]).unwrap_or_default();
                prop_assert!(!kept.contains(&value), "{:?} kept {}", String::from_utf8_lossy(start), kept);
            }
        }

        /// Any bytes at all, whole or cut anywhere: no panic, and never more than the limit
        /// plus its note.
        #[test]
        fn any_body_is_journaled_without_panic(body in prop::collection::vec(any::<u8>(), 0..600),
                                               text in "\\PC{0,300}", cut in 0usize..700) {
            for bytes in [&body[..], text.as_bytes()] {
                let start = &bytes[..cut.min(bytes.len())];
                if let Some(kept) = journaled_body(start, bytes.len(), &["abcd"]) {
                    prop_assert!(kept.len() <= BODY_LIMIT + 64);
                }
            }
        }
    }
}
