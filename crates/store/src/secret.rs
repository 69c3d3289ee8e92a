//! OAuth tokens as redacted newtypes.
//!
//! A token never prints: `Debug` and `Display` show `[redacted]`, so a token inside a struct that
//! is logged or put in an error stays secret. Equality is constant-time. The plaintext lives in a
//! buffer that is wiped when the value is dropped. Call `expose_secret` only at the point where the
//! token goes onto the wire.

use std::fmt;

use chrono::{DateTime, Utc};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

macro_rules! secret_string {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone)]
        pub struct $name(Zeroizing<String>);

        impl $name {
            /// Wraps a token received from HMRC.
            pub fn new(token: impl Into<String>) -> Self {
                Self(Zeroizing::new(token.into()))
            }

            /// The token itself, for the one place that sends it to HMRC.
            pub fn expose_secret(&self) -> &str {
                self.0.as_str()
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
                self.0.as_bytes().ct_eq(other.0.as_bytes()).into()
            }
        }

        impl Eq for $name {}
    };
}

secret_string! {
    /// An HMRC OAuth access token (valid for four hours; killed by the next refresh).
    ///
    /// ```
    /// use mtd_store::AccessToken;
    /// let token = AccessToken::new("a1b2c3");
    /// assert_eq!(format!("{token:?} {token}"), "AccessToken([redacted]) [redacted]");
    /// assert_eq!(token.expose_secret(), "a1b2c3");
    /// ```
    AccessToken
}

secret_string! {
    /// An HMRC OAuth refresh token: single use, replaced by every refresh.
    RefreshToken
}

/// A token pair as HMRC's token endpoint returns it, ready to be stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenPair {
    /// The access token.
    pub access_token: AccessToken,
    /// The refresh token that goes with it.
    pub refresh_token: RefreshToken,
    /// When the access token stops working.
    pub expires_at: DateTime<Utc>,
    /// The granted scope, when HMRC returned one (`read:self-assessment write:self-assessment`).
    pub scope: Option<String>,
}

impl TokenPair {
    /// A pair whose access token expires at `expires_at`, without a scope.
    pub fn new(
        access_token: AccessToken,
        refresh_token: RefreshToken,
        expires_at: DateTime<Utc>,
    ) -> Self {
        Self {
            access_token,
            refresh_token,
            expires_at,
            scope: None,
        }
    }

    /// A pair from a token-endpoint answer: `expires_in` seconds after `now`.
    ///
    /// ```
    /// use chrono::{TimeZone, Utc};
    /// use mtd_store::{AccessToken, RefreshToken, TokenPair};
    /// let now = Utc.with_ymd_and_hms(2025, 1, 31, 9, 0, 0).unwrap();
    /// let pair = TokenPair::from_expires_in(AccessToken::new("a"), RefreshToken::new("r"), 14_400, now);
    /// assert_eq!(pair.expires_at, Utc.with_ymd_and_hms(2025, 1, 31, 13, 0, 0).unwrap());
    /// ```
    pub fn from_expires_in(
        access_token: AccessToken,
        refresh_token: RefreshToken,
        expires_in_seconds: i64,
        now: DateTime<Utc>,
    ) -> Self {
        Self::new(
            access_token,
            refresh_token,
            now + chrono::TimeDelta::seconds(expires_in_seconds),
        )
    }

    /// The same pair with the granted scope recorded.
    pub fn with_scope(mut self, scope: impl Into<String>) -> Self {
        self.scope = Some(scope.into());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_never_print_their_value() {
        let pair = TokenPair::new(
            AccessToken::new("access-secret"),
            RefreshToken::new("refresh-secret"),
            Utc::now(),
        );
        let printed = format!("{pair:?} {} {}", pair.access_token, pair.refresh_token);
        assert!(!printed.contains("secret"), "{printed}");
        assert!(printed.contains("[redacted]"));
    }

    #[test]
    fn equal_tokens_compare_equal_and_different_ones_do_not() {
        assert_eq!(AccessToken::new("abc"), AccessToken::new("abc"));
        assert_ne!(AccessToken::new("abc"), AccessToken::new("abd"));
        assert_ne!(RefreshToken::new("abc"), RefreshToken::new("abcd"));
    }
}
