//! Parsers for what arrives on the wire and is shared by every provider: request bodies read
//! under a size limit, `application/x-www-form-urlencoded` forms, `Authorization` and `Host`
//! headers.
//! They never panic, whatever the bytes (proptests below); each failure names what was wrong so
//! a provider can answer in its own error format.

use std::collections::BTreeMap;

use axum::body::Body;
use axum::http::HeaderMap;
use base64::Engine;
use bytes::Bytes;
use futures_util::StreamExt;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum BodyError {
    #[error("request body larger than {0} bytes")]
    TooLarge(usize),
    #[error("request body could not be read: {0}")]
    Unreadable(String),
}

/// After a body passes its limit, up to this much more is read and thrown away (for at most
/// [`DRAIN_TIME`]) so the client, still sending, can read our error instead of a reset
/// connection. Beyond that the connection is closed.
pub const DRAIN_LIMIT: usize = 16 * 1024 * 1024;
pub const DRAIN_TIME: std::time::Duration = std::time::Duration::from_secs(5);

/// Reads the whole body, refusing more than `limit` bytes.
pub async fn read_body(body: Body, limit: usize) -> Result<Bytes, BodyError> {
    let mut body = body.into_data_stream();
    let mut kept = bytes::BytesMut::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| BodyError::Unreadable(e.to_string()))?;
        if kept.len() + chunk.len() > limit {
            let _ = tokio::time::timeout(DRAIN_TIME, drain(body, DRAIN_LIMIT)).await;
            return Err(BodyError::TooLarge(limit));
        }
        kept.extend_from_slice(&chunk);
    }
    Ok(kept.freeze())
}

async fn drain(mut body: axum::body::BodyDataStream, mut budget: usize) {
    while let Some(Ok(chunk)) = body.next().await {
        match budget.checked_sub(chunk.len()) {
            Some(left) => budget = left,
            None => return,
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum FormError {
    #[error("the request body is not a form: Content-Type must be application/x-www-form-urlencoded")]
    NotAForm,
    #[error("the request body is not valid UTF-8")]
    NotUtf8,
    #[error("parameter '{0}' is included more than once")]
    Duplicate(String),
}

/// A decoded form: one value per name (OAuth 2.0 forbids repeating a parameter, RFC 6749 §3.1).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Form {
    fields: BTreeMap<String, String>,
}

impl Form {
    /// Parses `body` as a form if `headers` say it is one.
    pub fn from_request(headers: &HeaderMap, body: &[u8]) -> Result<Form, FormError> {
        let is_form = headers
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"));
        if !is_form {
            return Err(FormError::NotAForm);
        }
        Form::parse(body)
    }

    /// Parses urlencoded pairs. Empty names are skipped; `+` is a space.
    pub fn parse(body: &[u8]) -> Result<Form, FormError> {
        std::str::from_utf8(body).map_err(|_| FormError::NotUtf8)?;
        let mut fields = BTreeMap::new();
        for (name, value) in form_urlencoded::parse(body) {
            if name.is_empty() {
                continue;
            }
            if fields.insert(name.clone().into_owned(), value.into_owned()).is_some() {
                return Err(FormError::Duplicate(name.into_owned()));
            }
        }
        Ok(Form { fields })
    }

    /// The value of `name`, `None` when absent or empty (OAuth treats empty as omitted).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str).filter(|v| !v.is_empty())
    }
}

/// A parsed `Authorization` header.
#[derive(Debug, Clone, PartialEq)]
pub enum Authorization {
    Bearer(String),
    /// RFC 6749 §2.3.1: both halves are form-urlencoded before base64; decoded here.
    Basic {
        user: String,
        password: String,
    },
    /// Any other scheme, with its raw parameters.
    Other {
        scheme: String,
        params: String,
    },
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum AuthorizationError {
    #[error("the Authorization header is not valid ASCII text")]
    NotText,
    #[error("the Authorization header is empty")]
    Empty,
    #[error("the Authorization header has a scheme but no credentials")]
    NoCredentials,
    #[error("the Bearer token contains characters a token cannot have (RFC 6750 §2.1)")]
    BadBearer,
    #[error("the Basic credentials are not base64 of 'user:password'")]
    BadBasic,
}

impl Authorization {
    /// Reads the `Authorization` header: `Ok(None)` when there is none.
    pub fn from_headers(headers: &HeaderMap) -> Result<Option<Authorization>, AuthorizationError> {
        match headers.get(axum::http::header::AUTHORIZATION) {
            None => Ok(None),
            Some(v) => Authorization::parse(v.as_bytes()).map(Some),
        }
    }

    pub fn parse(raw: &[u8]) -> Result<Authorization, AuthorizationError> {
        let text = std::str::from_utf8(raw).map_err(|_| AuthorizationError::NotText)?;
        if !text.is_ascii() {
            return Err(AuthorizationError::NotText);
        }
        let text = text.trim();
        if text.is_empty() {
            return Err(AuthorizationError::Empty);
        }
        let (scheme, rest) = match text.split_once(char::is_whitespace) {
            Some((s, r)) => (s, r.trim()),
            None => return Err(AuthorizationError::NoCredentials),
        };
        if rest.is_empty() {
            return Err(AuthorizationError::NoCredentials);
        }
        if scheme.eq_ignore_ascii_case("bearer") {
            let valid = rest.trim_end_matches('=').bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b))
                && !rest.trim_end_matches('=').is_empty();
            return if valid { Ok(Authorization::Bearer(rest.to_owned())) } else { Err(AuthorizationError::BadBearer) };
        }
        if scheme.eq_ignore_ascii_case("basic") {
            let decoded =
                base64::engine::general_purpose::STANDARD.decode(rest).map_err(|_| AuthorizationError::BadBasic)?;
            let decoded = String::from_utf8(decoded).map_err(|_| AuthorizationError::BadBasic)?;
            let (user, password) = decoded.split_once(':').ok_or(AuthorizationError::BadBasic)?;
            let unescape = |s: &str| -> String {
                form_urlencoded::parse(format!("x={s}").as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_default()
            };
            return Ok(Authorization::Basic { user: unescape(user), password: unescape(password) });
        }
        Ok(Authorization::Other { scheme: scheme.to_owned(), params: rest.to_owned() })
    }
}

/// The Host header, or the authority of an absolute-form or HTTP/2 request.
pub fn request_host<B>(req: &axum::http::Request<B>) -> String {
    req.headers()
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        .or_else(|| req.uri().authority().map(|a| a.to_string()))
        .unwrap_or_else(|| "localhost".to_owned())
}

/// `host:port` (IPv6 in brackets) without the port.
pub fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host.split_once(']').map_or(host, |(h, _)| &h[1..]);
    }
    host.rsplit_once(':').map_or(host, |(h, _)| h)
}

/// A header's value as text (invalid UTF-8 replaced), if present.
pub fn header_text(headers: &HeaderMap, name: axum::http::HeaderName) -> Option<String> {
    headers.get(name).map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
}

/// Query-string and form keys whose values are secrets: redacted in the journal and logs.
pub const SECRET_KEYS: &[&str] = &[
    "client_secret",
    "password",
    "access_token",
    "refresh_token",
    "id_token",
    "code",
    "token",
    "client_assertion",
    "assertion",
    "api_key",
    "apikey",
    "key",
    "secret",
    "signature",
    "challenge",
];

/// Decodes a query string into sorted pairs with secret values replaced by `***`.
pub fn redacted_query(query: Option<&str>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (k, v) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        let secret = SECRET_KEYS.iter().any(|s| k.eq_ignore_ascii_case(s));
        out.insert(k.into_owned(), if secret { "***".to_owned() } else { v.into_owned() });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_stripped() {
        assert_eq!(strip_port("login.microsoftonline.com:443"), "login.microsoftonline.com");
        assert_eq!(strip_port("127.0.0.1"), "127.0.0.1");
        assert_eq!(strip_port("[::1]:8443"), "::1");
    }
    use proptest::prelude::*;

    #[test]
    fn form_parses_and_refuses_duplicates() {
        let f = Form::parse(b"grant_type=client_credentials&scope=api%3A%2F%2Fx%2F.default&empty=").unwrap();
        assert_eq!(f.get("scope"), Some("api://x/.default"));
        assert_eq!(f.get("empty"), None);
        assert_eq!(Form::parse(b"a=1&a=2"), Err(FormError::Duplicate("a".into())));
        assert_eq!(Form::parse(&[0xff, 0xfe]), Err(FormError::NotUtf8));
    }

    #[test]
    fn form_needs_the_form_content_type() {
        let mut h = HeaderMap::new();
        assert_eq!(Form::from_request(&h, b"a=1"), Err(FormError::NotAForm));
        h.insert("content-type", "application/json".parse().unwrap());
        assert_eq!(Form::from_request(&h, b"{}"), Err(FormError::NotAForm));
        h.insert("content-type", "application/x-www-form-urlencoded; charset=utf-8".parse().unwrap());
        assert!(Form::from_request(&h, b"a=1").is_ok());
    }

    #[test]
    fn authorization_schemes() {
        assert_eq!(Authorization::parse(b"bearer abc.def-_~+/=="), Ok(Authorization::Bearer("abc.def-_~+/==".into())));
        assert_eq!(Authorization::parse(b"Bearer a b"), Err(AuthorizationError::BadBearer));
        assert_eq!(Authorization::parse(b"Bearer"), Err(AuthorizationError::NoCredentials));
        // "my%3Aid:p%40ss" -> user "my:id", password "p@ss"
        let basic = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode("my%3Aid:p%40ss"));
        assert_eq!(
            Authorization::parse(basic.as_bytes()),
            Ok(Authorization::Basic { user: "my:id".into(), password: "p@ss".into() })
        );
        assert_eq!(Authorization::parse(b"Basic !!!"), Err(AuthorizationError::BadBasic));
        assert!(matches!(Authorization::parse(b"Knoema a:b:1.2"), Ok(Authorization::Other { .. })));
    }

    #[test]
    fn query_secrets_are_redacted() {
        let q = redacted_query(Some("client_secret=s3cr3t&scope=x&Access_Token=t"));
        assert_eq!(q["client_secret"], "***");
        assert_eq!(q["Access_Token"], "***");
        assert_eq!(q["scope"], "x");
    }

    proptest! {
        #[test]
        fn form_parser_never_panics(body in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = Form::parse(&body);
        }

        #[test]
        fn form_round_trips_distinct_pairs(pairs in proptest::collection::btree_map("[a-z_]{1,12}", ".{0,40}", 0..8)) {
            let body: String = form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs.iter()).finish();
            let form = Form::parse(body.as_bytes()).unwrap();
            for (k, v) in &pairs {
                prop_assert_eq!(form.get(k), if v.is_empty() { None } else { Some(v.as_str()) });
            }
        }

        #[test]
        fn authorization_parser_never_panics(raw in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = Authorization::parse(&raw);
        }

        #[test]
        fn basic_round_trips(user in "[^:]{0,20}", password in ".{0,20}") {
            let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
            let header = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", enc(&user), enc(&password))));
            prop_assert_eq!(Authorization::parse(header.as_bytes()), Ok(Authorization::Basic { user, password }));
        }
    }
}
