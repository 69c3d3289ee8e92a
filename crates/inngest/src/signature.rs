//! Request and response signatures (`X-Inngest-Signature`) and the bearer token for calls to
//! Inngest's API. Pure functions over bytes, keys and times.
//!
//! * The HMAC-SHA256 key is the signing key **without** its `signkey-<env>-` prefix, used as
//!   text (its hex digits are not decoded).
//! * The MAC input is the exact body bytes followed by the decimal timestamp.
//! * The header is `t=<unix seconds>&s=<lowercase hex>`; requests older or newer than five
//!   minutes are rejected; the comparison is constant-time.
//! * The bearer token is `signkey-<env>-<hex(sha256(hex_decode(key without prefix)))>`.
//!
//! ```
//! use inngest::signature;
//! use inngest::SigningKey;
//!
//! let key = SigningKey::new("signkey-test-8ee2262a15e8d3c42d6a840db7af3de2aab08ef632b32a37a687f24b34dba3ff").unwrap();
//! let header = signature::sign_header(b"{}", &key, 1_700_000_000);
//! assert!(signature::verify(Some(&header), b"{}", &[&key], 1_700_000_100).is_ok());
//! assert!(signature::verify(Some(&header), b"{}", &[&key], 1_700_000_301).is_err());
//! ```

use hmac::{KeyInit, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::config::{EventKey, SigningKey};

type HmacSha256 = hmac::Hmac<Sha256>;

/// How far a signature's timestamp may be from now, in either direction (seconds).
pub const MAX_SKEW_SECONDS: i64 = 5 * 60;

/// Why a signature was rejected. The HTTP answer is the same for all of them
/// (`401 {"message":"Unauthorized"}`); the variants exist for logs and tests.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// No `X-Inngest-Signature` header.
    #[error("the request has no X-Inngest-Signature header")]
    Missing,
    /// The header is not `t=<seconds>&s=<hex>`.
    #[error("the X-Inngest-Signature header is malformed")]
    Malformed,
    /// The timestamp is more than five minutes away from now.
    #[error("the signature timestamp is more than five minutes away from now")]
    Expired,
    /// No configured key produced this signature.
    #[error("the signature does not match any configured signing key")]
    Mismatch,
    /// No signing key is configured.
    #[error("no signing key is configured")]
    NoKey,
}

/// Which configured key validated a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyUsed {
    /// The primary signing key.
    Primary,
    /// The fallback signing key.
    Fallback,
}

/// Lowercase hex HMAC-SHA256 of `body` followed by the decimal `timestamp`.
pub fn sign(body: &[u8], key: &SigningKey, timestamp: i64) -> String {
    hex::encode(mac(body, key, timestamp).finalize().into_bytes())
}

fn mac(body: &[u8], key: &SigningKey, timestamp: i64) -> HmacSha256 {
    let mut mac = <HmacSha256 as KeyInit>::new_from_slice(key.body().as_bytes())
        .expect("HMAC accepts keys of any length");
    mac.update(body);
    mac.update(timestamp.to_string().as_bytes());
    mac
}

/// The header value `t=<timestamp>&s=<signature>` for `body`.
pub fn sign_header(body: &[u8], key: &SigningKey, timestamp: i64) -> String {
    format!("t={timestamp}&s={}", sign(body, key, timestamp))
}

/// Parses `t=...&s=...` (as a query string: order and extra pairs do not matter).
fn parse_header(header: &str) -> Result<(i64, Vec<u8>), SignatureError> {
    let mut ts = None;
    let mut sig = None;
    for (k, v) in url::form_urlencoded::parse(header.trim().as_bytes()) {
        match k.as_ref() {
            "t" if ts.is_none() => ts = Some(v.into_owned()),
            "s" if sig.is_none() => sig = Some(v.into_owned()),
            _ => {}
        }
    }
    let ts: i64 = ts
        .filter(|t| !t.is_empty())
        .and_then(|t| t.parse().ok())
        .ok_or(SignatureError::Malformed)?;
    let sig = sig
        .filter(|s| !s.is_empty())
        .and_then(|s| hex::decode(s.to_ascii_lowercase()).ok())
        .ok_or(SignatureError::Malformed)?;
    Ok((ts, sig))
}

/// Verifies a request signature over the raw `body` against `keys` (primary first), at time
/// `now` (unix seconds). Returns which key matched; it must sign the response.
///
/// If the raw bytes do not match, the body is re-canonicalised (RFC 8785 for the JSON the
/// server sends: sorted keys, no whitespace) and checked again, because the server signs the
/// canonical form.
pub fn verify(
    header: Option<&str>,
    body: &[u8],
    keys: &[&SigningKey],
    now: i64,
) -> Result<KeyUsed, SignatureError> {
    if keys.is_empty() {
        return Err(SignatureError::NoKey);
    }
    let header = header.ok_or(SignatureError::Missing)?;
    let (ts, expected) = parse_header(header)?;
    if now.abs_diff(ts) > MAX_SKEW_SECONDS.unsigned_abs() {
        return Err(SignatureError::Expired);
    }
    let matches = |bytes: &[u8]| {
        keys.iter().position(|key| {
            let actual = mac(bytes, key, ts).finalize().into_bytes();
            bool::from(actual.as_slice().ct_eq(&expected))
        })
    };
    let mut found = matches(body);
    if found.is_none()
        && !body.is_empty()
        && let Some(canonical) = canonical_json(body)
        && canonical.as_bytes() != body
    {
        found = matches(canonical.as_bytes());
    }
    match found {
        Some(0) => Ok(KeyUsed::Primary),
        Some(_) => Ok(KeyUsed::Fallback),
        None => Err(SignatureError::Mismatch),
    }
}

/// `Authorization: Bearer` token for calls to Inngest's API: the prefix is kept and the rest
/// is `hex(sha256(hex_decode(key body)))`.
pub fn hashed_signing_key(key: &SigningKey) -> String {
    // `SigningKey::new` guarantees even-length hex.
    let decoded = hex::decode(key.body()).unwrap_or_default();
    format!("{}{}", key.prefix(), hex::encode(Sha256::digest(&decoded)))
}

/// Hex SHA-256 of the event key text (introspection's `event_key_hash`).
pub fn hashed_event_key(key: &EventKey) -> String {
    hex::encode(Sha256::digest(key.secret().as_bytes()))
}

/// Canonical JSON (RFC 8785 for the values Inngest sends): object keys sorted by UTF-16 code
/// units, no whitespace, strings escaped like `JSON.stringify`. `None` if `body` is not JSON.
pub(crate) fn canonical_json(body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let mut out = String::with_capacity(body.len());
    write_canonical(&value, &mut out);
    Some(out)
}

fn write_canonical(value: &serde_json::Value, out: &mut String) {
    use serde_json::Value;
    match value {
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|(a, _), (b, _)| a.encode_utf16().cmp(b.encode_utf16()));
            out.push('{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(k, out);
                out.push(':');
                write_canonical(v, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(v, out);
            }
            out.push(']');
        }
        Value::String(s) => write_string(s, out),
        other => out.push_str(&other.to_string()),
    }
}

fn write_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY_A: &str =
        "signkey-test-f00f3005a3666b359a79c2bc3380ce2715e62727ac461ae1a2618f8766029c9f";
    const BODY_A: &str = r#"{"ctx":{"fn_id":"local-testing-local-cron","run_id":"01GQ3HTEZ01M7R8Z9PR1DMHDN1","step_id":"step"},"event":{"data":{},"id":"","name":"demo/event.sent","ts":1674082830001,"v":"1"},"events":[{"data":{},"id":"","name":"demo/event.sent","ts":1674082830001,"v":"1"}],"steps":{},"use_api":false}"#;
    const TS_A: i64 = 1_687_306_735;
    const SIG_A: &str = "a060f245a5d0c3c779ef65fd15b2ac06e4ab98dd8cc9860aa0722c8481ae02ab";

    const KEY_B: &str =
        "signkey-test-8ee2262a15e8d3c42d6a840db7af3de2aab08ef632b32a37a687f24b34dba3ff";
    const BODY_B: &str = r#"{"ctx":{"fn_id":"local-testing-local-cron","run_id":"01GQ3HTEZ01M7R8Z9PR1DMHDN1","step_id":"step"},"event":{"data":{},"id":"","name":"inngest/scheduled.timer","ts":1674082830001,"user":{},"v":"1"},"events":[{"data":{},"id":"","name":"inngest/scheduled.timer","ts":1674082830001,"user":{},"v":"1"}],"steps":{},"use_api":false}"#;
    const TS_B: i64 = 1_689_920_619;
    const SIG_B: &str = "31df77f5b1b029de4bfce3a77e0517aa4ce0f5e2195a6467fc126a489ca2330b";

    fn key(k: &str) -> SigningKey {
        SigningKey::new(k).expect("valid test key")
    }

    #[test]
    fn vector_a_signs_with_the_prefix_stripped_hex_text() {
        assert_eq!(sign(BODY_A.as_bytes(), &key(KEY_A), TS_A), SIG_A);
        let header = format!("t={TS_A}&s={SIG_A}");
        assert_eq!(
            verify(Some(&header), BODY_A.as_bytes(), &[&key(KEY_A)], TS_A),
            Ok(KeyUsed::Primary)
        );
    }

    #[test]
    fn vector_a_negative_checks_hex_decoded_or_prefixed_keys_do_not_match() {
        let k = key(KEY_A);
        let decoded = hex::decode(k.body()).expect("hex");
        let mut m = <HmacSha256 as KeyInit>::new_from_slice(&decoded).expect("any length");
        m.update(BODY_A.as_bytes());
        m.update(TS_A.to_string().as_bytes());
        let wrong = hex::encode(m.finalize().into_bytes());
        assert!(wrong.starts_with("9b3e8d2b"), "{wrong}");
        let mut m = <HmacSha256 as KeyInit>::new_from_slice(KEY_A.as_bytes()).expect("any");
        m.update(BODY_A.as_bytes());
        m.update(TS_A.to_string().as_bytes());
        let wrong = hex::encode(m.finalize().into_bytes());
        assert!(wrong.starts_with("aed7f01b"), "{wrong}");
    }

    #[test]
    fn vector_b_from_the_official_rust_crate() {
        assert_eq!(sign(BODY_B.as_bytes(), &key(KEY_B), TS_B), SIG_B);
    }

    #[test]
    fn bearer_vectors_a_b_and_c() {
        assert_eq!(
            hashed_signing_key(&key(KEY_A)),
            "signkey-test-1492131fd84363f17ec5fa7d96ca1b2d6558cb77c648920b96c99966f6ecffd9"
        );
        assert_eq!(
            hashed_signing_key(&key(KEY_B)),
            "signkey-test-e4bf4a2e7f55c7eb954b6e72f8f69628fbc409fe7da6d0f6958770987dcf0e02"
        );
        assert_eq!(
            hashed_signing_key(&key("signkey-prod-12345678")),
            "signkey-prod-b2ed992186a5cb19f6668aade821f502c1d00970dfd0e35128d51bac4649916c"
        );
    }

    #[test]
    fn the_five_minute_window_holds_in_both_directions() {
        let k = key(KEY_A);
        let header = format!("t={TS_A}&s={SIG_A}");
        let body = BODY_A.as_bytes();
        assert!(verify(Some(&header), body, &[&k], TS_A + 300).is_ok());
        assert!(verify(Some(&header), body, &[&k], TS_A - 300).is_ok());
        assert_eq!(
            verify(Some(&header), body, &[&k], TS_A + 301),
            Err(SignatureError::Expired)
        );
        assert_eq!(
            verify(Some(&header), body, &[&k], TS_A - 301),
            Err(SignatureError::Expired)
        );
    }

    #[test]
    fn the_fallback_key_is_tried_second_and_reported() {
        let header = format!("t={TS_A}&s={SIG_A}");
        let (a, b) = (key(KEY_A), key(KEY_B));
        assert_eq!(
            verify(Some(&header), BODY_A.as_bytes(), &[&b, &a], TS_A),
            Ok(KeyUsed::Fallback)
        );
        assert_eq!(
            verify(Some(&header), BODY_A.as_bytes(), &[&b], TS_A),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn malformed_and_missing_headers_are_rejected() {
        let k = key(KEY_A);
        assert_eq!(verify(None, b"{}", &[&k], 0), Err(SignatureError::Missing));
        for h in ["", "t=1", "s=ab", "t=x&s=ab", "t=1&s=zz", "garbage"] {
            assert_eq!(
                verify(Some(h), b"{}", &[&k], 1),
                Err(SignatureError::Malformed),
                "{h}"
            );
        }
        assert_eq!(
            verify(Some("t=1&s=ab"), b"", &[], 1),
            Err(SignatureError::NoKey)
        );
    }

    #[test]
    fn header_order_does_not_matter() {
        let header = format!("s={SIG_A}&t={TS_A}");
        assert!(verify(Some(&header), BODY_A.as_bytes(), &[&key(KEY_A)], TS_A).is_ok());
    }

    #[test]
    fn a_non_canonical_body_is_verified_against_its_canonical_form() {
        let pretty = serde_json::to_string_pretty(
            &serde_json::from_str::<serde_json::Value>(BODY_A).expect("json"),
        )
        .expect("serialise");
        let header = format!("t={TS_A}&s={SIG_A}");
        assert_eq!(
            verify(Some(&header), pretty.as_bytes(), &[&key(KEY_A)], TS_A),
            Ok(KeyUsed::Primary)
        );
        let escaped = r#"{"url":"http://a/?x=1\u0026y=2"}"#;
        assert_eq!(
            canonical_json(escaped.as_bytes()).as_deref(),
            Some(r#"{"url":"http://a/?x=1&y=2"}"#)
        );
    }

    #[test]
    fn signing_then_verifying_round_trips() {
        let k = key(KEY_B);
        let header = sign_header(b"", &k, 42);
        assert_eq!(verify(Some(&header), b"", &[&k], 42), Ok(KeyUsed::Primary));
        assert_eq!(
            verify(Some(&header), b"x", &[&k], 42),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn event_key_hash_is_sha256_of_the_text() {
        assert_eq!(
            hashed_event_key(&EventKey::new("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
