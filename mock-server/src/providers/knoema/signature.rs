//! Knoema's credentials in the `Authorization` header, and the HMAC signature check.
//!
//! The signed header (docs/providers/knoema.md#signed-header; the Python, C# and R clients all send it):
//! `Knoema {appId}:{base64(HMAC-SHA1(key = UTF-8 of the UTC time "dd-MM-yy-HH", message =
//! UTF-8 of the app secret))}:1.2` — standard base64 with padding. The key is the *hour*, the
//! message is the *secret*: the reverse of the usual HMAC habit, and the classic bug. The
//! current and the previous UTC hour of the virtual clock are accepted (a request signed at
//! 10:59:59 may arrive at 11:00:00); the comparison is constant-time.
//!
//! Knoema also allows the app id alone in the header (docs/providers/knoema.md#app-id; format not public; assumed
//! `Knoema {appId}`), and OAuth tokens come as `Bearer`.
//!
//! When a signature fails, the real service answers only 403. [`diagnose`] works out why, for
//! the journal: the hour it was made for (stale header, clock skew, local time instead of UTC),
//! key and message swapped, another date format, another hash or encoding, or the secret of
//! another app.

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine;
use chrono::{DateTime, Duration, Timelike, Utc};
use hmac::{Hmac, Mac};
use sha1::Sha1;

/// What a Knoema client put in its `Authorization` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials {
    /// `Knoema {appId}:{hash}:{version}`
    Signed { app_id: String, hash: String, version: String },
    /// `Knoema {appId}` (the app id alone in the header: docs/providers/knoema.md#app-id)
    AppId(String),
    /// `Bearer {token}`
    Bearer(String),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    #[error("the Authorization header is not printable ASCII")]
    NotText,
    #[error("the Authorization header is empty")]
    Empty,
    #[error("the Authorization scheme '{0}' is neither Knoema nor Bearer")]
    UnknownScheme(String),
    #[error("the Authorization header has a scheme but no credentials")]
    NoCredentials,
    #[error("the Knoema credentials are not 'appId:hash:1.2': {0}")]
    Malformed(&'static str),
}

/// The only signature version the service knows.
pub const VERSION: &str = "1.2";

/// Parses an `Authorization` header value. Strict: one space after the scheme, no
/// surrounding or inner whitespace in the credentials (the scheme itself is case-insensitive,
/// RFC 9110 §11.1).
pub fn parse_header(raw: &[u8]) -> Result<Credentials, HeaderError> {
    if raw.iter().any(|b| !(0x20..0x7f).contains(b)) {
        return Err(HeaderError::NotText);
    }
    let text = std::str::from_utf8(raw).map_err(|_| HeaderError::NotText)?;
    if text.trim().is_empty() {
        return Err(HeaderError::Empty);
    }
    let (scheme, rest) = text.split_once(' ').ok_or(HeaderError::NoCredentials)?;
    if rest.is_empty() {
        return Err(HeaderError::NoCredentials);
    }
    if rest.contains(' ') {
        return Err(HeaderError::Malformed("whitespace inside the credentials"));
    }
    if scheme.eq_ignore_ascii_case("bearer") {
        return Ok(Credentials::Bearer(rest.to_owned()));
    }
    if !scheme.eq_ignore_ascii_case("knoema") {
        return Err(HeaderError::UnknownScheme(scheme.chars().take(20).collect()));
    }
    let parts: Vec<&str> = rest.split(':').collect();
    match parts.as_slice() {
        [app_id] => Ok(Credentials::AppId((*app_id).to_owned())),
        [app_id, hash, version] => {
            if app_id.is_empty() {
                return Err(HeaderError::Malformed("the app id is empty"));
            }
            if hash.is_empty() {
                return Err(HeaderError::Malformed("the hash is empty"));
            }
            Ok(Credentials::Signed {
                app_id: (*app_id).to_owned(),
                hash: (*hash).to_owned(),
                version: (*version).to_owned(),
            })
        }
        [_, _] => Err(HeaderError::Malformed("two parts; the version ':1.2' is missing")),
        _ => Err(HeaderError::Malformed("more than three ':'-separated parts")),
    }
}

/// The HMAC key of the hour that contains `at`: `dd-MM-yy-HH` in UTC.
pub fn hour_key(at: DateTime<Utc>) -> String {
    at.format("%d-%m-%y-%H").to_string()
}

fn hmac_sha1(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha1>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

/// The hash a client sends for `secret` at `at`.
pub fn sign(secret: &str, at: DateTime<Utc>) -> String {
    STANDARD.encode(hmac_sha1(hour_key(at).as_bytes(), secret.as_bytes()))
}

/// The whole header value a client sends.
#[cfg(test)]
pub fn header(app_id: &str, secret: &str, at: DateTime<Utc>) -> String {
    format!("Knoema {app_id}:{}:{VERSION}", sign(secret, at))
}

/// Checks `hash` against the current and the previous UTC hour, in constant time (both hours
/// are always compared).
pub fn verify(secret: &str, hash: &str, now: DateTime<Utc>) -> bool {
    let current = crate::tokens::secrets_equal(hash, &sign(secret, now));
    let previous = crate::tokens::secrets_equal(hash, &sign(secret, now - Duration::hours(1)));
    current | previous
}

/// Why a signature failed, for the journal: a short cause and the details.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnosis {
    /// `stale hour`, `local time instead of UTC`, `clock skew`, `key and message swapped`, `wrong date format`,
    /// `wrong hash algorithm`, `wrong encoding`, `another app's secret`, `wrong secret`.
    pub cause: &'static str,
    pub detail: String,
}

impl std::fmt::Display for Diagnosis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.cause, self.detail)
    }
}

/// How far back and forward other hours are tried: a day and the widest time-zone offsets.
/// Only failed signatures are diagnosed; the worst case is about a thousand HMACs.
const HOURS_TRIED: i64 = 26;

/// Works out why `hash` is not the signature of `secret` now. `others` are the secrets of the
/// other apps, to recognise a mix-up.
pub fn diagnose(secret: &str, hash: &str, now: DateTime<Utc>, others: &[&str]) -> Diagnosis {
    let now_hour = now.with_minute(0).and_then(|t| t.with_second(0)).and_then(|t| t.with_nanosecond(0)).unwrap_or(now);
    let accepted = format!(
        "accepted are the hashes for '{}' (current UTC hour) and '{}' (previous)",
        hour_key(now_hour),
        hour_key(now_hour - Duration::hours(1))
    );
    let hours = || (-HOURS_TRIED..=HOURS_TRIED).map(move |h| (h, now_hour + Duration::hours(h)));
    let decoded = decode_any(hash);

    // The bytes HMAC-SHA1 gives for `key`, `message`, compared with what was sent.
    let matches = |key: &str, message: &str| -> bool {
        let mac = hmac_sha1(key.as_bytes(), message.as_bytes());
        decoded.as_ref().is_some_and(|(bytes, _)| *bytes == mac)
    };
    let encoding_note = |detail: String| -> String {
        match &decoded {
            Some((_, enc)) if *enc != "standard base64 with padding" => {
                format!("{detail}; it is also encoded as {enc}, where Knoema wants standard base64 with padding")
            }
            _ => detail,
        }
    };

    // 1. Right key and message, another hour.
    for (h, at) in hours() {
        if matches(&hour_key(at), secret) {
            if h == 0 || h == -1 {
                return Diagnosis {
                    cause: "wrong encoding",
                    detail: format!(
                        "the HMAC is right for '{}' but is {} where Knoema wants standard base64 with padding",
                        hour_key(at),
                        decoded.as_ref().map_or("not base64", |(_, e)| e)
                    ),
                };
            }
            // A future hour cannot be a reused header: most likely a local time east of UTC.
            // A past hour most likely is a header signed once and reused (or a slow clock, or
            // a local time west of UTC).
            let (cause, why) = if h > 0 && h <= 14 {
                (
                    "local time instead of UTC",
                    format!("the client probably formatted its local time (UTC+{h}) instead of UTC, or its clock is {h} h fast"),
                )
            } else if h > 0 {
                ("clock skew", format!("the client's clock is about {h} h fast"))
            } else {
                (
                    "stale hour",
                    format!(
                        "the header was probably signed once and reused after the hour turned (or the client's clock is {} h slow, or it formatted a UTC-{} local time)",
                        -h, -h
                    ),
                )
            };
            let when = if h < 0 { format!("{} hours ago", -h) } else { format!("{h} hours ahead") };
            return Diagnosis {
                cause,
                detail: encoding_note(format!(
                    "the hash is the one for UTC hour '{}' ({when}); {accepted}; {why}",
                    hour_key(at)
                )),
            };
        }
    }
    // 2. Key and message swapped: HMAC(key = secret, message = hour).
    for (h, at) in hours() {
        if matches(secret, &hour_key(at)) {
            return Diagnosis {
                cause: "key and message swapped",
                detail: encoding_note(format!(
                    "the hash is HMAC-SHA1 with the app secret as key and '{}' as message ({}); Knoema keys the HMAC with the hour and hashes the secret: HMAC-SHA1(key = \"dd-MM-yy-HH\" in UTC, message = app secret)",
                    hour_key(at),
                    relative(h)
                )),
            };
        }
    }
    // 3. Another date format for the key.
    let formats: &[(&str, &str)] = &[
        ("%m-%d-%y-%H", "month and day swapped (MM-dd-yy-HH)"),
        ("%d-%m-%Y-%H", "a four-digit year (dd-MM-yyyy-HH)"),
        ("%d-%m-%y-%I", "a 12-hour clock (dd-MM-yy-hh)"),
        ("%d-%m-%y-%-H", "an hour without leading zero"),
        ("%d-%m-%y %H", "a space before the hour"),
        ("%d.%m.%y-%H", "dots in the date"),
        ("%y-%m-%d-%H", "year first (yy-MM-dd-HH)"),
        ("%d-%m-%y-%H-%M", "minutes in the key"),
        ("%d-%m-%y", "no hour in the key"),
    ];
    for (h, at) in hours() {
        for (format, what) in formats {
            let key = at.format(format).to_string();
            if key != hour_key(at) && (matches(&key, secret) || matches(secret, &key)) {
                return Diagnosis {
                    cause: "wrong date format",
                    detail: encoding_note(format!(
                        "the key was the time written with {what}: '{key}' ({}); Knoema's key is \"dd-MM-yy-HH\" in UTC; {accepted}",
                        relative(h)
                    )),
                };
            }
        }
    }
    // 4. Another hash function.
    if let Some((bytes, enc)) = &decoded {
        if bytes.len() != 20 {
            let algorithm = match bytes.len() {
                16 => "MD5",
                32 => "SHA-256",
                48 => "SHA-384",
                64 => "SHA-512",
                _ => "not HMAC-SHA1",
            };
            return Diagnosis {
                cause: "wrong hash algorithm",
                detail: format!("the hash decodes ({enc}) to {} bytes ({algorithm}); HMAC-SHA1 gives 20 bytes (28 base64 characters)", bytes.len()),
            };
        }
    } else {
        return Diagnosis {
            cause: "wrong encoding",
            detail: format!(
                "the hash '{}' is neither base64 nor hex; send standard base64 of the 20-byte HMAC-SHA1",
                shown(hash)
            ),
        };
    }
    // 5. Another app's secret.
    for other in others.iter().filter(|o| **o != secret) {
        if hours().any(|(_, at)| matches(&hour_key(at), other) || matches(other, &hour_key(at))) {
            return Diagnosis {
                cause: "another app's secret",
                detail: format!("the hash was made with the secret of another app of these fixtures; use the secret of the app whose id the header names; {accepted}"),
            };
        }
    }
    Diagnosis {
        cause: "wrong secret",
        detail: format!(
            "the hash matches no hour within {HOURS_TRIED} h either way, with key and message either way: the app secret is probably wrong; {accepted}"
        ),
    }
}

fn relative(h: i64) -> String {
    match h {
        0 => "the current hour".to_owned(),
        -1 => "the previous hour".to_owned(),
        h if h < 0 => format!("{} hours ago", -h),
        h => format!("{h} hours ahead"),
    }
}

fn shown(s: &str) -> String {
    let cut: String = s.chars().take(12).collect();
    if cut.len() < s.len() {
        format!("{cut}...")
    } else {
        cut
    }
}

/// Decodes the hash the way a confused client may have encoded it.
fn decode_any(hash: &str) -> Option<(Vec<u8>, &'static str)> {
    // Hex first: 40 hex digits are also valid base64, but a base64 hash of only hex digits is
    // next to impossible.
    if !hash.is_empty() && hash.len().is_multiple_of(2) && hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        let bytes =
            (0..hash.len()).step_by(2).map(|i| u8::from_str_radix(&hash[i..i + 2], 16)).collect::<Result<Vec<u8>, _>>();
        if let Ok(bytes) = bytes {
            return Some((bytes, "hex"));
        }
    }
    if let Ok(b) = STANDARD.decode(hash) {
        return Some((b, "standard base64 with padding"));
    }
    if let Ok(b) = STANDARD_NO_PAD.decode(hash) {
        return Some((b, "base64 without padding"));
    }
    if let Ok(b) = URL_SAFE.decode(hash) {
        return Some((b, "base64url"));
    }
    URL_SAFE_NO_PAD.decode(hash).ok().map(|b| (b, "base64url without padding"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn contract_test_vector() {
        // docs/providers/knoema.md#test-vector: secret s3cr3t at UTC 2024-01-02 03:xx.
        assert_eq!(hour_key(at("2024-01-02T03:41:00Z")), "02-01-24-03");
        assert_eq!(sign("s3cr3t", at("2024-01-02T03:41:00Z")), "b/6yWnLv5KieYNXaGNCYAjGxxhI=");
    }

    #[test]
    fn current_and_previous_hour_verify_others_do_not() {
        let now = at("2024-01-02T03:00:10Z");
        assert!(verify("s3cr3t", &sign("s3cr3t", now), now));
        assert!(verify("s3cr3t", &sign("s3cr3t", now - Duration::hours(1)), now));
        assert!(!verify("s3cr3t", &sign("s3cr3t", now - Duration::hours(2)), now));
        assert!(!verify("s3cr3t", &sign("s3cr3t", now + Duration::hours(1)), now));
        assert!(!verify("other", &sign("s3cr3t", now), now));
    }

    #[test]
    fn parses_the_header_forms() {
        assert_eq!(
            parse_header(b"Knoema app:b/6yWnLv5KieYNXaGNCYAjGxxhI=:1.2"),
            Ok(Credentials::Signed {
                app_id: "app".into(),
                hash: "b/6yWnLv5KieYNXaGNCYAjGxxhI=".into(),
                version: "1.2".into()
            })
        );
        assert_eq!(parse_header(b"Knoema app"), Ok(Credentials::AppId("app".into())));
        assert_eq!(parse_header(b"Bearer t0k"), Ok(Credentials::Bearer("t0k".into())));
        assert!(matches!(parse_header(b"Basic abc"), Err(HeaderError::UnknownScheme(_))));
        assert!(matches!(parse_header(b"Knoema a:b"), Err(HeaderError::Malformed(_))));
        assert!(matches!(parse_header(b"Knoema :b:1.2"), Err(HeaderError::Malformed(_))));
        assert_eq!(parse_header(b"Knoema"), Err(HeaderError::NoCredentials));
        assert_eq!(parse_header(b"Knoema a:\xff:1.2"), Err(HeaderError::NotText));
    }

    #[test]
    fn diagnoses_the_classic_mistakes() {
        let now = at("2024-01-02T03:20:00Z");
        let stale = diagnose("s3cr3t", &sign("s3cr3t", now - Duration::hours(2)), now, &[]);
        assert_eq!(stale.cause, "stale hour", "{stale}");
        assert!(
            stale.detail.contains("'02-01-24-01' (2 hours ago)") && stale.detail.contains("'02-01-24-03'"),
            "{stale}"
        );
        let local = diagnose("s3cr3t", &sign("s3cr3t", now + Duration::hours(5)), now, &[]);
        assert_eq!(local.cause, "local time instead of UTC", "{local}");
        assert!(local.detail.contains("UTC+5"), "{local}");
        let swapped = STANDARD.encode(hmac_sha1(b"s3cr3t", hour_key(now).as_bytes()));
        assert_eq!(diagnose("s3cr3t", &swapped, now, &[]).cause, "key and message swapped");
        let us = STANDARD.encode(hmac_sha1(now.format("%m-%d-%y-%H").to_string().as_bytes(), b"s3cr3t"));
        let d = diagnose("s3cr3t", &us, now, &[]);
        assert_eq!(d.cause, "wrong date format", "{d}");
        assert!(d.detail.contains("month and day swapped"), "{d}");
        assert_eq!(diagnose("s3cr3t", &sign("nope", now), now, &[]).cause, "wrong secret");
        assert_eq!(diagnose("s3cr3t", &sign("nope", now), now, &["nope"]).cause, "another app's secret");
        let hex: String = hmac_sha1(hour_key(now).as_bytes(), b"s3cr3t").iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(diagnose("s3cr3t", &hex, now, &[]).cause, "wrong encoding");
        let sha256 = STANDARD.encode([7u8; 32]);
        assert_eq!(diagnose("s3cr3t", &sha256, now, &[]).cause, "wrong hash algorithm");
        assert_eq!(diagnose("s3cr3t", "!!!", now, &[]).cause, "wrong encoding");
    }

    fn instant() -> impl Strategy<Value = DateTime<Utc>> {
        // 2000-01-01 .. 2090-01-01
        (946_684_800i64..3_786_912_000).prop_map(|s| DateTime::from_timestamp(s, 0).unwrap())
    }

    proptest! {
        #[test]
        fn header_parser_never_panics(raw in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = parse_header(&raw);
        }

        #[test]
        fn header_parser_never_panics_on_near_misses(raw in "(Knoema|knoema|Bearer|KNOEMA)?[ :a-zA-Z0-9+/=.]{0,60}") {
            let _ = parse_header(raw.as_bytes());
        }

        #[test]
        fn diagnose_never_panics(hash in ".{0,60}", now in instant()) {
            let _ = diagnose("s3cr3t", &hash, now, &["x"]);
        }

        /// A header signed for the current hour always verifies.
        #[test]
        fn signed_now_always_verifies(secret in "[ -~]{1,40}", app in "[a-zA-Z0-9]{1,16}", now in instant()) {
            let h = header(&app, &secret, now);
            match parse_header(h.as_bytes()) {
                Ok(Credentials::Signed { app_id, hash, version }) => {
                    prop_assert_eq!(app_id, app);
                    prop_assert_eq!(version, VERSION);
                    prop_assert!(verify(&secret, &hash, now));
                }
                other => prop_assert!(false, "{:?}", other),
            }
        }

        /// Any single-byte change to the header never verifies (except changing the case of the
        /// scheme name, which HTTP makes case-insensitive).
        #[test]
        fn any_single_byte_change_never_verifies(
            secret in "[ -~]{1,40}", app in "[a-zA-Z0-9]{1,16}", now in instant(),
            position in any::<prop::sample::Index>(), byte in any::<u8>(),
        ) {
            let original = header(&app, &secret, now).into_bytes();
            let i = position.index(original.len());
            prop_assume!(original[i] != byte);
            prop_assume!(!(i < "Knoema".len() && original[i].eq_ignore_ascii_case(&byte)));
            let mut changed = original.clone();
            changed[i] = byte;
            let verified = match parse_header(&changed) {
                Ok(Credentials::Signed { app_id, hash, version }) => app_id == app && version == VERSION && verify(&secret, &hash, now),
                _ => false,
            };
            prop_assert!(!verified, "{:?} verified", String::from_utf8_lossy(&changed));
        }
    }
}
