//! Request signing and key checks, exactly as Inngest does them.
//!
//! - Calls and sync `PUT`s to an SDK carry `X-Inngest-Signature: t=<unix seconds>&s=<hex>`, the
//!   HMAC-SHA256 of the body bytes followed by the decimal timestamp. The HMAC key is the signing
//!   key with its `signkey-<env>-` prefix removed, used as UTF-8 **text** (not hex-decoded).
//! - SDKs call `/fn/register` and `/v0/...` with `Authorization: Bearer <key>`, where the key is
//!   either the plain signing key or its hashed form `signkey-<env>-<hex(sha256(hex_decode(body)))>`.
//!   Both are accepted, compared in constant time.

use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// An Inngest signing key (`signkey-<env>-<hex>` or bare hex). Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningKey(String);

/// An event key accepted on `POST /e/{key}`. Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct EventKey(String);

/// Why a signing key was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    /// The key is empty.
    #[error(
        "the signing key is empty: pass the key from your Inngest environment (signkey-<env>-<hex>)"
    )]
    Empty,
    /// The part after the prefix is not an even-length hex string.
    #[error(
        "the signing key is not hex after its signkey-<env>- prefix: Inngest signing keys are an even number of hex digits"
    )]
    NotHex,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKey([redacted])")
    }
}

impl fmt::Display for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Debug for EventKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EventKey([redacted])")
    }
}

impl fmt::Display for EventKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Splits `signkey-<env>-<body>` into (`signkey-<env>-`, `<body>`); a bare key has no prefix.
fn split_prefix(key: &str) -> (&str, &str) {
    if let Some(rest) = key.strip_prefix("signkey-") {
        // `\w+` = letters, digits, underscore; the prefix ends at the next '-'.
        if let Some(dash) = rest.find('-') {
            let env = &rest[..dash];
            if !env.is_empty() && env.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                let cut = "signkey-".len() + dash + 1;
                return (&key[..cut], &key[cut..]);
            }
        }
    }
    ("", key)
}

impl SigningKey {
    /// Wraps a signing key after checking its shape (non-empty, hex after the prefix).
    ///
    /// ```
    /// use inngest_local::signature::SigningKey;
    /// let key = SigningKey::new("signkey-test-12345678").unwrap();
    /// assert_eq!(format!("{key:?}"), "SigningKey([redacted])");
    /// ```
    pub fn new(key: impl Into<String>) -> Result<Self, KeyError> {
        let key = key.into().trim().to_owned();
        if key.is_empty() {
            return Err(KeyError::Empty);
        }
        let (_, body) = split_prefix(&key);
        if body.is_empty() || body.len() % 2 != 0 || !body.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(KeyError::NotHex);
        }
        Ok(Self(key))
    }

    /// The key text, for handing to a child process (an SDK app under test).
    pub fn expose(&self) -> &str {
        &self.0
    }

    fn hmac_key(&self) -> &[u8] {
        split_prefix(&self.0).1.as_bytes()
    }

    /// `X-Inngest-Signature` value for `body` at unix time `ts` (seconds).
    ///
    /// ```
    /// use inngest_local::signature::SigningKey;
    /// let key = SigningKey::new("signkey-test-f00f3005a3666b359a79c2bc3380ce2715e62727ac461ae1a2618f8766029c9f").unwrap();
    /// let header = key.sign(b"{}", 1687306735);
    /// assert!(header.starts_with("t=1687306735&s="));
    /// ```
    pub fn sign(&self, body: &[u8], ts: i64) -> String {
        format!("t={ts}&s={}", self.mac_hex(body, ts))
    }

    fn mac_hex(&self, body: &[u8], ts: i64) -> String {
        let mut mac = <HmacSha256 as KeyInit>::new_from_slice(self.hmac_key())
            .expect("HMAC-SHA256 accepts keys of any length");
        mac.update(body);
        mac.update(ts.to_string().as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// Checks an `X-Inngest-Signature` header over `body` (used on signed SDK responses).
    pub fn verify(&self, header: &str, body: &[u8]) -> bool {
        let mut ts = None;
        let mut sig = None;
        for pair in header.split('&') {
            if let Some(v) = pair.strip_prefix("t=") {
                ts = v.parse::<i64>().ok();
            } else if let Some(v) = pair.strip_prefix("s=") {
                sig = Some(v);
            }
        }
        match (ts, sig) {
            (Some(ts), Some(sig)) => {
                let expected = self.mac_hex(body, ts);
                expected.as_bytes().ct_eq(sig.as_bytes()).into()
            }
            _ => false,
        }
    }

    /// The hashed form SDKs send as a bearer token: prefix kept, body hex-decoded then SHA-256.
    ///
    /// ```
    /// use inngest_local::signature::SigningKey;
    /// let key = SigningKey::new("signkey-prod-12345678").unwrap();
    /// assert_eq!(
    ///     key.hashed(),
    ///     "signkey-prod-b2ed992186a5cb19f6668aade821f502c1d00970dfd0e35128d51bac4649916c"
    /// );
    /// ```
    pub fn hashed(&self) -> String {
        let (prefix, body) = split_prefix(&self.0);
        // `new` guarantees even-length hex, so decoding cannot fail.
        let bytes = hex::decode(body).expect("SigningKey::new checked the key is hex");
        format!("{prefix}{}", hex::encode(Sha256::digest(&bytes)))
    }

    /// Whether a bearer token (plain key or hashed key) belongs to this key; constant time.
    pub fn accepts_bearer(&self, token: &str) -> bool {
        let plain: bool = token.as_bytes().ct_eq(self.0.as_bytes()).into();
        let hashed: bool = token.as_bytes().ct_eq(self.hashed().as_bytes()).into();
        plain | hashed
    }
}

impl EventKey {
    /// Wraps an event key.
    pub fn new(key: impl Into<String>) -> Self {
        Self(key.into())
    }

    /// The key text, for handing to a child process or building an event URL.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Constant-time comparison with a key taken from a request path.
    pub fn matches(&self, candidate: &str) -> bool {
        self.0.as_bytes().ct_eq(candidate.as_bytes()).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY_A: &str = r#"{"ctx":{"fn_id":"local-testing-local-cron","run_id":"01GQ3HTEZ01M7R8Z9PR1DMHDN1","step_id":"step"},"event":{"data":{},"id":"","name":"demo/event.sent","ts":1674082830001,"v":"1"},"events":[{"data":{},"id":"","name":"demo/event.sent","ts":1674082830001,"v":"1"}],"steps":{},"use_api":false}"#;

    #[test]
    fn signs_vector_a_like_inngest() {
        let key = SigningKey::new(
            "signkey-test-f00f3005a3666b359a79c2bc3380ce2715e62727ac461ae1a2618f8766029c9f",
        )
        .unwrap();
        assert_eq!(
            key.sign(BODY_A.as_bytes(), 1687306735),
            "t=1687306735&s=a060f245a5d0c3c779ef65fd15b2ac06e4ab98dd8cc9860aa0722c8481ae02ab"
        );
        assert!(key.verify(
            "t=1687306735&s=a060f245a5d0c3c779ef65fd15b2ac06e4ab98dd8cc9860aa0722c8481ae02ab",
            BODY_A.as_bytes()
        ));
        assert!(!key.verify("t=1687306736&s=a060f245", BODY_A.as_bytes()));
    }

    #[test]
    fn hashes_bearer_tokens_for_vectors_a_b_c() {
        let a = SigningKey::new(
            "signkey-test-f00f3005a3666b359a79c2bc3380ce2715e62727ac461ae1a2618f8766029c9f",
        )
        .unwrap();
        assert_eq!(
            a.hashed(),
            "signkey-test-1492131fd84363f17ec5fa7d96ca1b2d6558cb77c648920b96c99966f6ecffd9"
        );
        let b = SigningKey::new(
            "signkey-test-8ee2262a15e8d3c42d6a840db7af3de2aab08ef632b32a37a687f24b34dba3ff",
        )
        .unwrap();
        assert_eq!(
            b.hashed(),
            "signkey-test-e4bf4a2e7f55c7eb954b6e72f8f69628fbc409fe7da6d0f6958770987dcf0e02"
        );
        let c = SigningKey::new("signkey-prod-12345678").unwrap();
        assert!(c.accepts_bearer(
            "signkey-prod-b2ed992186a5cb19f6668aade821f502c1d00970dfd0e35128d51bac4649916c"
        ));
        assert!(c.accepts_bearer("signkey-prod-12345678"));
        assert!(!c.accepts_bearer("signkey-prod-12345679"));
    }

    #[test]
    fn bare_hex_key_signs_like_prefixed_key() {
        let bare = SigningKey::new("12345678").unwrap();
        let prefixed = SigningKey::new("signkey-branch-12345678").unwrap();
        assert_eq!(bare.sign(b"{}", 1), prefixed.sign(b"{}", 1));
    }

    #[test]
    fn rejects_keys_that_are_not_hex() {
        assert_eq!(SigningKey::new(""), Err(KeyError::Empty));
        assert_eq!(SigningKey::new("signkey-test-xyz1"), Err(KeyError::NotHex));
        assert_eq!(SigningKey::new("signkey-test-123"), Err(KeyError::NotHex));
    }

    #[test]
    fn keys_never_print() {
        let key = SigningKey::new("signkey-test-12345678").unwrap();
        assert_eq!(
            format!("{key} {key:?}"),
            "[redacted] SigningKey([redacted])"
        );
        let ev = EventKey::new("secret");
        assert_eq!(format!("{ev} {ev:?}"), "[redacted] EventKey([redacted])");
        assert!(ev.matches("secret"));
        assert!(!ev.matches("secreT"));
    }
}
