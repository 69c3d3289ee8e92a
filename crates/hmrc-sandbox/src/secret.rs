//! Secret values (tokens, client secrets, passwords, authorisation codes): never printed, compared
//! in constant time, and looked up by their SHA-256 digest rather than by value.

use std::fmt;

use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// A secret string whose `Debug` and `Display` print `[redacted]`.
///
/// ```
/// use hmrc_sandbox::Secret;
/// let s = Secret::new("hunter2");
/// assert_eq!(format!("{s:?} {s}"), "[redacted] [redacted]");
/// assert!(s.matches("hunter2"));
/// assert_eq!(s.expose(), "hunter2");
/// ```
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// A fresh random secret of `bytes` random bytes, hex-encoded (HMRC's tokens are 32 hex
    /// characters, i.e. 16 bytes).
    pub fn random_hex(bytes: usize) -> Self {
        let mut buf = vec![0u8; bytes];
        rand::rng().fill_bytes(&mut buf);
        let mut out = String::with_capacity(bytes * 2);
        for b in buf {
            out.push_str(&format!("{b:02x}"));
        }
        Self(out)
    }

    /// The secret value itself. Call sites that use it are the only places a secret leaves
    /// this type.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Constant-time comparison with a candidate value.
    pub fn matches(&self, candidate: &str) -> bool {
        self.0.as_bytes().ct_eq(candidate.as_bytes()).into()
    }

    /// The SHA-256 digest used to index this secret.
    pub(crate) fn digest(&self) -> Digest32 {
        digest(&self.0)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// A SHA-256 digest of a secret, used as a map key so lookups never compare secrets directly.
pub(crate) type Digest32 = [u8; 32];

/// SHA-256 of a candidate secret.
pub(crate) fn digest(value: &str) -> Digest32 {
    let mut hasher = Sha256::new();
    hasher.update(value.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(&hasher.finalize());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_secrets_are_hex_of_the_requested_size_and_differ() {
        let a = Secret::random_hex(16);
        let b = Secret::random_hex(16);
        assert_eq!(a.expose().len(), 32);
        assert!(a.expose().chars().all(|c| c.is_ascii_hexdigit()));
        assert!(!a.matches(b.expose()));
    }

    #[test]
    fn digest_is_stable() {
        assert_eq!(Secret::new("x").digest(), digest("x"));
        assert_ne!(digest("x"), digest("y"));
    }
}
