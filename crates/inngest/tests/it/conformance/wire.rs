//! The recorder's half of `conformance/record.mjs`, ported: the fixture format, signing a
//! request at send time, sending it over HTTP, and reducing the answer to the fixture's
//! form (selected headers, `present`/`valid`/`invalid`, `body_kind`).

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{KeyInit, Mac};
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// README "App configuration": the primary signing key of cloud mode (digest §3.6 Vector A).
pub(crate) const PRIMARY_SIGNING_KEY: &str =
    "signkey-test-f00f3005a3666b359a79c2bc3380ce2715e62727ac461ae1a2618f8766029c9f";
/// README "App configuration": the fallback signing key of cloud mode (digest §3.6 Vector B).
pub(crate) const FALLBACK_SIGNING_KEY: &str =
    "signkey-test-8ee2262a15e8d3c42d6a840db7af3de2aab08ef632b32a37a687f24b34dba3ff";
/// A well-formed key that neither app knows: used by `sign: "bad"`.
const UNKNOWN_SIGNING_KEY: &str =
    "signkey-test-0000000000000000000000000000000000000000000000000000000000000000";

/// Seconds a signature timestamp is moved by `sign: "expired"` / `"future"`.
const SKEW_SECONDS: i64 = 600;
/// Freshness window used when checking response signatures (digest §3.3).
const WINDOW_SECONDS: i64 = 300;
/// The recorder's per-request timeout (`AbortSignal.timeout(30_000)`).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Response headers kept with their value.
const VALUE_HEADERS: [&str; 7] = [
    "content-type",
    "retry-after",
    "x-inngest-expected-server-kind",
    "x-inngest-no-retry",
    "x-inngest-req-version",
    "x-inngest-sdk-handled",
    "x-inngest-sync-kind",
];
/// Response headers kept as `"present"` only (their value names the SDK).
const PRESENCE_HEADERS: [&str; 3] = ["user-agent", "x-inngest-framework", "x-inngest-sdk"];
/// The request and response signature header.
const SIGNATURE_HEADER: &str = "x-inngest-signature";

/// Which configuration of the conformance app a scenario talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Mode {
    Dev,
    Cloud,
}

/// How a request is signed at send time (README "Sign modes").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Sign {
    /// No signature header.
    #[serde(rename = "none")]
    Unsigned,
    Primary,
    Fallback,
    /// Signed now with a key neither app knows.
    Bad,
    /// Primary key, timestamp 600 s in the past.
    Expired,
    /// Primary key, timestamp 600 s in the future.
    Future,
}

impl Sign {
    /// The fixture's spelling.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Sign::Unsigned => "none",
            Sign::Primary => "primary",
            Sign::Fallback => "fallback",
            Sign::Bad => "bad",
            Sign::Expired => "expired",
            Sign::Future => "future",
        }
    }
}

/// What of a response is compared (README N8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Compare {
    #[default]
    Full,
    /// The body is SDK-generated diagnostic text: status, headers and `body_kind` only.
    StatusHeaders,
}

/// One fixture file, `tests/fixtures/conformance/<scenario>.json`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Fixture {
    pub(crate) scenario: String,
    #[allow(dead_code, reason = "informational, like in record.mjs")]
    pub(crate) description: String,
    pub(crate) mode: Mode,
    /// Informational only: never compared.
    #[allow(dead_code, reason = "informational, like in record.mjs")]
    pub(crate) recorded_with: Option<String>,
    pub(crate) exchanges: Vec<Exchange>,
}

/// One request of a fixture and the answer the JS SDK gave.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Exchange {
    pub(crate) label: String,
    /// The request exactly as stored (compared with the scenario file to spot stale fixtures).
    pub(crate) request: Value,
    pub(crate) response: Recorded,
}

/// A scenario request: unsigned, with its sign mode.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Request {
    pub(crate) label: String,
    #[allow(dead_code, reason = "free text, never compared")]
    pub(crate) note: Option<String>,
    #[serde(default)]
    pub(crate) compare: Compare,
    pub(crate) method: String,
    #[serde(default)]
    pub(crate) query: BTreeMap<String, String>,
    #[serde(default)]
    pub(crate) headers: BTreeMap<String, String>,
    pub(crate) sign: Sign,
    /// `Some(Value::Null)` is a JSON `null` body, `None` no body at all.
    #[serde(default, deserialize_with = "present")]
    pub(crate) body: Option<Value>,
}

impl Request {
    /// `POST ?fnId=…&stepId=… (sign primary)`, for failure reports.
    pub(crate) fn summary(&self) -> String {
        let query: Vec<String> = self.query.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let sign = self.sign.as_str();
        if query.is_empty() {
            format!("{} (sign {sign})", self.method)
        } else {
            format!("{} ?{} (sign {sign})", self.method, query.join("&"))
        }
    }
}

/// How a response body was stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum BodyKind {
    Json,
    Empty,
    Text,
}

impl BodyKind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            BodyKind::Json => "json",
            BodyKind::Empty => "empty",
            BodyKind::Text => "text",
        }
    }
}

/// A response reduced to the fixture form (`recordResponse` in record.mjs).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Recorded {
    pub(crate) status: u16,
    pub(crate) headers: BTreeMap<String, String>,
    pub(crate) body_kind: BodyKind,
    /// Present (possibly `null`) exactly when `body_kind` is `json`.
    #[serde(default, deserialize_with = "present")]
    pub(crate) body: Option<Value>,
    pub(crate) body_text: Option<String>,
}

impl Recorded {
    /// Checks the invariants of the fixture format, so a hand-edited fixture fails loudly.
    pub(crate) fn check(&self) -> Result<(), String> {
        match (self.body_kind, &self.body, &self.body_text) {
            (BodyKind::Json, Some(_), None)
            | (BodyKind::Empty, None, None)
            | (BodyKind::Text, None, Some(_)) => Ok(()),
            (kind, body, text) => Err(format!(
                "body_kind {:?} with body {} and body_text {}: a json body needs `body`, a text body \
                 `body_text`, an empty body neither",
                kind.as_str(),
                if body.is_some() { "present" } else { "absent" },
                if text.is_some() { "present" } else { "absent" },
            )),
        }
    }
}

/// Deserialises a field that may hold JSON `null`, keeping `null` apart from "absent"
/// (used with `#[serde(default)]`).
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

/// Recursively sorts object keys (`sortKeys`); arrays keep their order.
fn sort_keys(value: &Value) -> Value {
    match value {
        Value::Array(items) => Value::Array(items.iter().map(sort_keys).collect()),
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k.clone(), sort_keys(v)))
                    .collect::<Map<String, Value>>(),
            )
        }
        other => other.clone(),
    }
}

/// Compact JSON with sorted keys (`canonicalJson`): RFC 8785 for the values of the
/// scenarios (strings, integers, booleans, null), the form the server sends (digest §3.1).
pub(crate) fn canonical_json(value: &Value) -> String {
    serde_json::to_string(&sort_keys(value)).expect("a serde_json::Value always serialises")
}

fn now_seconds() -> i64 {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_secs();
    i64::try_from(secs).expect("seconds since 1970 fit in an i64")
}

/// The HMAC key of a signing key: the `signkey-<env>-` prefix removed (`/^signkey-\w+-/`),
/// the rest used as UTF-8 text, not hex-decoded (digest §3.2).
fn hmac_key(key: &str) -> &str {
    let Some(rest) = key.strip_prefix("signkey-") else {
        return key;
    };
    let env_len = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(rest.len());
    match rest[env_len..].strip_prefix('-') {
        Some(hex) if env_len > 0 => hex,
        _ => key,
    }
}

/// Hex HMAC-SHA256 over `body` bytes followed by the decimal `timestamp` text.
fn signature(body: &[u8], key: &str, timestamp: &str) -> String {
    let mut mac = <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(hmac_key(key).as_bytes())
        .expect("HMAC accepts keys of any length");
    mac.update(body);
    mac.update(timestamp.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// The `X-Inngest-Signature` value of a request signed per `sign`, or `None` for unsigned.
fn signature_header(body: &str, sign: Sign) -> Option<String> {
    let now = now_seconds();
    let (key, t) = match sign {
        Sign::Unsigned => return None,
        Sign::Primary => (PRIMARY_SIGNING_KEY, now),
        Sign::Fallback => (FALLBACK_SIGNING_KEY, now),
        Sign::Bad => (UNKNOWN_SIGNING_KEY, now),
        Sign::Expired => (PRIMARY_SIGNING_KEY, now - SKEW_SECONDS),
        Sign::Future => (PRIMARY_SIGNING_KEY, now + SKEW_SECONDS),
    };
    let t = t.to_string();
    Some(format!("t={t}&s={}", signature(body.as_bytes(), key, &t)))
}

/// `"valid"` when the response header is `t=<fresh>&s=<HMAC of the exact response bytes>`
/// made with the key that validated the request (either known key when the request was not
/// validated by one); else `"invalid"`.
fn check_response_signature(header: &str, body: &[u8], sign: Sign) -> &'static str {
    let header = header.strip_prefix('?').unwrap_or(header);
    let param = |name: &str| {
        url::form_urlencoded::parse(header.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    let (Some(t), Some(s)) = (param("t"), param("s")) else {
        return "invalid";
    };
    if t.is_empty() || s.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
        return "invalid";
    }
    match t.parse::<i64>() {
        Ok(ts) if (now_seconds() - ts).abs() <= WINDOW_SECONDS => {}
        _ => return "invalid",
    }
    let candidates: &[&str] = match sign {
        Sign::Primary => &[PRIMARY_SIGNING_KEY],
        Sign::Fallback => &[FALLBACK_SIGNING_KEY],
        _ => &[PRIMARY_SIGNING_KEY, FALLBACK_SIGNING_KEY],
    };
    let valid = candidates.iter().any(|key| {
        let mac = signature(body, key, &t);
        mac.len() == s.len() && bool::from(mac.as_bytes().ct_eq(s.as_bytes()))
    });
    if valid { "valid" } else { "invalid" }
}

/// Sends scenario requests to one serve endpoint, like record.mjs's `send`.
#[derive(Debug)]
pub(crate) struct Sender {
    http: reqwest::Client,
    serve_url: url::Url,
}

impl Sender {
    pub(crate) fn new(serve_url: &str) -> Self {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(REQUEST_TIMEOUT)
            .build()
            .expect("a plain HTTP client builds");
        let serve_url = url::Url::parse(serve_url).expect("the serve URL is well formed");
        Self { http, serve_url }
    }

    /// Signs `req` now, sends it, and records the answer in the fixture form.
    pub(crate) async fn send(&self, req: &Request) -> Result<Recorded, String> {
        let body_text = req.body.as_ref().map(canonical_json).unwrap_or_default();
        let mut url = self.serve_url.clone();
        if !req.query.is_empty() {
            let mut pairs = url.query_pairs_mut();
            for (k, v) in &req.query {
                pairs.append_pair(k, v);
            }
        }
        let method = reqwest::Method::from_bytes(req.method.as_bytes())
            .map_err(|e| format!("bad method {:?}: {e}", req.method))?;
        let mut builder = self.http.request(method.clone(), url.clone());
        for (name, value) in &req.headers {
            builder = builder.header(name, value);
        }
        if req.body.is_some() && !req.headers.contains_key("content-type") {
            builder = builder.header("content-type", "application/json");
        }
        if let Some(sig) = signature_header(&body_text, req.sign) {
            builder = builder.header(SIGNATURE_HEADER, sig);
        }
        if method != reqwest::Method::GET {
            builder = builder.body(body_text);
        }
        let response = builder
            .send()
            .await
            .map_err(|e| format!("{method} {url} failed: {e}"))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| format!("{method} {url}: reading the body failed: {e}"))?;
        Ok(record(status, &headers, &bytes, req.sign))
    }
}

/// `Headers.get`: every value of `name` joined with `", "`, or `None`.
fn header(headers: &reqwest::header::HeaderMap, name: &str) -> Option<String> {
    let values: Vec<String> = headers
        .get_all(name)
        .iter()
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .collect();
    (!values.is_empty()).then(|| values.join(", "))
}

/// `recordResponse`: the selected headers, the signature verdict and the body kind.
fn record(status: u16, headers: &reqwest::header::HeaderMap, body: &[u8], sign: Sign) -> Recorded {
    let mut kept = BTreeMap::new();
    for name in VALUE_HEADERS {
        if let Some(v) = header(headers, name) {
            kept.insert(name.to_owned(), v);
        }
    }
    for name in PRESENCE_HEADERS {
        if header(headers, name).is_some() {
            kept.insert(name.to_owned(), "present".to_owned());
        }
    }
    if let Some(sig) = header(headers, SIGNATURE_HEADER) {
        kept.insert(
            SIGNATURE_HEADER.to_owned(),
            check_response_signature(&sig, body, sign).to_owned(),
        );
    }
    // `Response.text()`: UTF-8 with replacement characters, a leading BOM removed.
    let text = String::from_utf8_lossy(body);
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let (body_kind, body, body_text) = if text.is_empty() {
        (BodyKind::Empty, None, None)
    } else {
        match serde_json::from_str::<Value>(text) {
            Ok(json) => (BodyKind::Json, Some(json), None),
            Err(_) => (BodyKind::Text, None, Some(text.to_owned())),
        }
    };
    Recorded {
        status,
        headers: kept,
        body_kind,
        body,
        body_text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_key_strips_only_the_signkey_env_prefix() {
        assert_eq!(hmac_key(PRIMARY_SIGNING_KEY), &PRIMARY_SIGNING_KEY[13..]);
        assert_eq!(hmac_key("signkey-prod-abc"), "abc");
        assert_eq!(hmac_key("abc"), "abc");
        assert_eq!(hmac_key("signkey--abc"), "signkey--abc");
    }

    #[test]
    fn request_signer_reproduces_digest_vector_a() {
        let body = r#"{"ctx":{"fn_id":"local-testing-local-cron","run_id":"01GQ3HTEZ01M7R8Z9PR1DMHDN1","step_id":"step"},"event":{"data":{},"id":"","name":"demo/event.sent","ts":1674082830001,"v":"1"},"events":[{"data":{},"id":"","name":"demo/event.sent","ts":1674082830001,"v":"1"}],"steps":{},"use_api":false}"#;
        assert_eq!(
            signature(body.as_bytes(), PRIMARY_SIGNING_KEY, "1687306735"),
            "a060f245a5d0c3c779ef65fd15b2ac06e4ab98dd8cc9860aa0722c8481ae02ab"
        );
    }

    #[test]
    fn response_signature_check_needs_the_key_that_validated_the_request() {
        let body = br#"{"ok":true}"#;
        let t = now_seconds().to_string();
        let by_fallback = format!("t={t}&s={}", signature(body, FALLBACK_SIGNING_KEY, &t));
        assert_eq!(
            check_response_signature(&by_fallback, body, Sign::Fallback),
            "valid"
        );
        assert_eq!(
            check_response_signature(&by_fallback, body, Sign::Primary),
            "invalid"
        );
        assert_eq!(
            check_response_signature(&by_fallback, body, Sign::Unsigned),
            "valid"
        );
        assert_eq!(
            check_response_signature(&by_fallback, b"{}", Sign::Fallback),
            "invalid"
        );
        let stale = (now_seconds() - WINDOW_SECONDS - 5).to_string();
        let old = format!(
            "t={stale}&s={}",
            signature(body, FALLBACK_SIGNING_KEY, &stale)
        );
        assert_eq!(
            check_response_signature(&old, body, Sign::Fallback),
            "invalid"
        );
        assert_eq!(
            check_response_signature("s=abc", body, Sign::Fallback),
            "invalid"
        );
    }

    #[test]
    fn canonical_json_sorts_keys_at_every_depth_and_is_compact() {
        let v = serde_json::json!({"b": 1, "a": {"d": [{"z": null, "y": "é"}], "c": true}});
        assert_eq!(
            canonical_json(&v),
            r#"{"a":{"c":true,"d":[{"y":"é","z":null}]},"b":1}"#
        );
    }
}
