//! Secrets as newtypes: OAuth tokens, the client secret, authorisation codes, PKCE verifiers and
//! the OAuth `state`.
//!
//! Each prints `[redacted]` through `Debug` and `Display`, compares in constant time, and only
//! gives its value up through an explicit `expose_secret()` call (for the store that persists it
//! and for the HTTP request that carries it). None of them implements `Serialize`, so a secret
//! cannot slip into a step output, an event or a log by accident.

use std::fmt;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

macro_rules! secret_newtype {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone)]
        pub struct $name(String);

        impl $name {
            /// Wraps a secret value.
            pub fn new(value: impl Into<String>) -> Self {
                Self(value.into())
            }

            /// The secret value itself. Only call this to persist the value or to put it on
            /// the wire; never log or display what it returns.
            pub fn expose_secret(&self) -> &str {
                &self.0
            }

            /// A short, non-reversible fingerprint of the value (see [`TokenFingerprint`]).
            pub fn fingerprint(&self) -> TokenFingerprint {
                TokenFingerprint::of(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), "([redacted])"))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("[redacted]")
            }
        }

        impl PartialEq for $name {
            fn eq(&self, other: &Self) -> bool {
                constant_time_eq(&self.0, &other.0)
            }
        }

        impl Eq for $name {}
    };
}

secret_newtype! {
    /// A user-restricted or application-restricted OAuth access token (HMRC: valid 4 hours).
    AccessToken
}

secret_newtype! {
    /// An OAuth refresh token. HMRC refresh tokens are single-use: every refresh returns a new
    /// one that replaces this one, and the grant behind them lasts 18 months.
    RefreshToken
}

secret_newtype! {
    /// The application's OAuth client secret (from the HMRC Developer Hub).
    ClientSecret
}

secret_newtype! {
    /// The one-time authorisation `code` HMRC appends to the redirect URI (valid 10 minutes).
    AuthorizationCode
}

secret_newtype! {
    /// The PKCE code verifier that belongs to one authorisation request. Keep it server-side
    /// (for example in the session) until the callback, then pass it to the code exchange.
    PkceVerifier
}

secret_newtype! {
    /// The OAuth `state` value of one authorisation request. Keep it server-side until the
    /// callback and compare it with [`OAuthState::matches`] before exchanging the code.
    OAuthState
}

impl OAuthState {
    /// Whether the `state` query parameter returned on the callback is this value
    /// (constant-time comparison).
    pub fn matches(&self, returned: &str) -> bool {
        constant_time_eq(&self.0, returned)
    }
}

/// Constant-time string comparison (the length is not secret).
pub(crate) fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// A short, non-reversible fingerprint of a token: the first 8 bytes of a domain-separated
/// SHA-256, as 16 lower-case hex digits.
///
/// Errors carry the fingerprint of the token a failed call used, so the caller can ask its
/// store whether that token is still the current one. A 401 on an access token that someone
/// else has meanwhile replaced (HMRC kills the old access token on every refresh) is a lost
/// race, not a revoked grant.
///
/// ```
/// use hmrc_mtd::AccessToken;
/// let used = AccessToken::new("e3b0c44298fc1c149afbf4c8996fb924");
/// let stored = AccessToken::new("e3b0c44298fc1c149afbf4c8996fb924");
/// assert_eq!(used.fingerprint(), stored.fingerprint());
/// assert_eq!(used.fingerprint().as_str().len(), 16);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct TokenFingerprint(String);

impl TokenFingerprint {
    const DOMAIN: &'static [u8] = b"hmrc-mtd token fingerprint v1\0";

    /// The fingerprint of a token value.
    pub fn of(token: &str) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(Self::DOMAIN);
        hasher.update(token.as_bytes());
        let digest = hasher.finalize();
        let mut hex = String::with_capacity(16);
        for byte in digest.iter().take(8) {
            hex.push_str(&format!("{byte:02x}"));
        }
        Self(hex)
    }

    /// The 16 hex digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TokenFingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_never_show_the_secret() {
        let token = AccessToken::new("abc123secretvalue");
        assert_eq!(format!("{token:?}"), "AccessToken([redacted])");
        assert_eq!(format!("{token}"), "[redacted]");
        let secret = ClientSecret::new("s3cr3t");
        assert!(!format!("{secret:?} {secret}").contains("s3cr3t"));
        let code = AuthorizationCode::new("the-code");
        assert!(!format!("{code:?}").contains("the-code"));
    }

    #[test]
    fn secrets_compare_by_value() {
        assert_eq!(RefreshToken::new("a"), RefreshToken::new("a"));
        assert_ne!(RefreshToken::new("a"), RefreshToken::new("b"));
        assert_ne!(RefreshToken::new("a"), RefreshToken::new("ab"));
    }

    #[test]
    fn state_matches_only_the_same_value() {
        let state = OAuthState::new("xyz");
        assert!(state.matches("xyz"));
        assert!(!state.matches("xy"));
        assert!(!state.matches("xyZ"));
    }

    #[test]
    fn fingerprints_differ_per_token_and_do_not_contain_it() {
        let a = TokenFingerprint::of("token-a");
        let b = TokenFingerprint::of("token-b");
        assert_ne!(a, b);
        assert_eq!(a, AccessToken::new("token-a").fingerprint());
        assert!(a.as_str().chars().all(|c| c.is_ascii_hexdigit()));
    }
}
