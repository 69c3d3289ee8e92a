//! Step ids: lowercase hex SHA-1 of the id written in the code, with `:1`, `:2`, ... appended
//! to repeats (the first occurrence has no suffix), exactly like the official SDKs.
//!
//! ```
//! use inngest::hash::{StepHash, step_hash};
//!
//! assert_eq!(step_hash("my-step-id"), "e7d8a2f140845095749d60246ff1110c9d01d76a");
//! let h = StepHash::of("my-step-id");
//! assert_eq!(StepHash::parse("e7d8a2f140845095749d60246ff1110c9d01d76a"), Some(h));
//! ```

use std::collections::{HashMap, HashSet};
use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use sha1::{Digest, Sha1};

/// A hashed step id: the 20 bytes of a SHA-1 digest. `Display` prints lowercase hex.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct StepHash([u8; 20]);

impl StepHash {
    /// SHA-1 of `id`.
    pub fn of(id: &str) -> Self {
        Self(Sha1::digest(id.as_bytes()).into())
    }

    /// Parses 40 hex digits (either case); `None` for anything else.
    pub fn parse(hex_text: &str) -> Option<Self> {
        let bytes = hex_text.as_bytes();
        if bytes.len() != 40 {
            return None;
        }
        let mut out = [0u8; 20];
        for (i, pair) in bytes.chunks_exact(2).enumerate() {
            let hi = HEX_VALUE[usize::from(pair[0])];
            let lo = HEX_VALUE[usize::from(pair[1])];
            if (hi | lo) & 0xf0 != 0 {
                return None;
            }
            out[i] = (hi << 4) | lo;
        }
        Some(Self(out))
    }

    /// Lowercase hex.
    pub fn to_hex(&self) -> String {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut out = String::with_capacity(40);
        for b in self.0 {
            out.push(char::from(DIGITS[usize::from(b >> 4)]));
            out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
        }
        out
    }
}

/// Value of each byte as a hex digit, `0xff` for non-digits (a lookup is far cheaper than
/// matching per character, and every call parses two hashes per memoised step).
static HEX_VALUE: [u8; 256] = {
    let mut table = [0xffu8; 256];
    let mut i = 0;
    while i < 10 {
        table[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        table[b'a' as usize + i] = 10 + i as u8;
        table[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    table
};

impl std::hash::Hash for StepHash {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        // A digest is uniformly distributed: eight of its bytes identify it well enough for a
        // (randomly keyed) hash map, and hashing fewer bytes is measurably cheaper per call.
        let mut first = [0u8; 8];
        first.copy_from_slice(&self.0[..8]);
        state.write_u64(u64::from_le_bytes(first));
    }
}

impl fmt::Display for StepHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for StepHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StepHash({})", self.to_hex())
    }
}

/// Deserialises a JSON string as `Some(hash)`, or `None` if it is not 40 hex digits.
pub(crate) fn deserialize_lenient<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<StepHash>, D::Error> {
    struct HashVisitor;
    impl Visitor<'_> for HashVisitor {
        type Value = Option<StepHash>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a hashed step id")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(StepHash::parse(v))
        }
    }
    deserializer.deserialize_str(HashVisitor)
}

/// Lowercase hex SHA-1 of `id`.
pub fn step_hash(id: &str) -> String {
    StepHash::of(id).to_hex()
}

/// The id a step gets after repeats are resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResolvedId {
    /// The repeat index (`None` for the first occurrence), reported as `userland.index`;
    /// the hashed text is `"<id>:<index>"`.
    pub index: Option<u32>,
    /// The hashed id.
    pub hash: StepHash,
}

/// Resolves repeated step ids within one call, the way the JS SDK does: the first use of an
/// id keeps it; a repeat gets the lowest free `:<n>` suffix at or above the next expected
/// index, skipping ids already taken (also ids the code wrote with a suffix itself).
#[derive(Debug, Default)]
pub struct StepIds {
    taken: HashSet<StepHash>,
    next_index: HashMap<String, u32>,
}

impl StepIds {
    /// An empty resolver.
    pub fn new() -> Self {
        Self::default()
    }

    /// Resolves `id` and records the result as taken.
    pub fn resolve(&mut self, id: &str) -> ResolvedId {
        let hash = StepHash::of(id);
        if self.taken.insert(hash) {
            return ResolvedId { index: None, hash };
        }
        let mut n = self.next_index.get(id).copied().unwrap_or(1);
        loop {
            let hash = StepHash::of(&format!("{id}:{n}"));
            if self.taken.insert(hash) {
                self.next_index.insert(id.to_owned(), n + 1);
                return ResolvedId {
                    index: Some(n),
                    hash,
                };
            }
            n += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_and_digest_vectors() {
        assert_eq!(
            step_hash("my-step-id"),
            "e7d8a2f140845095749d60246ff1110c9d01d76a"
        );
        assert_eq!(
            step_hash("hello"),
            "aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d"
        );
        assert_eq!(
            step_hash("hello:1"),
            "20a9bb9477c4ac565cf084d1614c58bbf0a523ff"
        );
        assert_eq!(
            step_hash("complete"),
            "0737c22d3bfae812339732d14d8c7dbd6dc4e09c"
        );
    }

    #[test]
    fn repeats_get_colon_suffixes_and_the_first_has_none() {
        let mut ids = StepIds::new();
        let a0 = ids.resolve("hello");
        let a1 = ids.resolve("hello");
        let a2 = ids.resolve("hello");
        assert_eq!(
            a0,
            ResolvedId {
                index: None,
                hash: StepHash::of("hello")
            }
        );
        assert_eq!(
            a1,
            ResolvedId {
                index: Some(1),
                hash: StepHash::of("hello:1")
            }
        );
        assert_eq!(
            a2,
            ResolvedId {
                index: Some(2),
                hash: StepHash::of("hello:2")
            }
        );
        assert_eq!(a1.hash.to_hex(), "20a9bb9477c4ac565cf084d1614c58bbf0a523ff");
    }

    #[test]
    fn ids_written_with_a_suffix_are_skipped_by_repeats() {
        let mut ids = StepIds::new();
        ids.resolve("a");
        assert_eq!(ids.resolve("a:1").index, None);
        assert_eq!(ids.resolve("a").hash, StepHash::of("a:2"));
        assert_eq!(ids.resolve("a").hash, StepHash::of("a:3"));
    }

    #[test]
    fn hashes_are_lowercase_hex_and_parse_back() {
        let h = step_hash("X");
        assert_eq!(h.len(), 40);
        assert!(
            h.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        );
        assert_eq!(StepHash::parse(&h).map(|p| p.to_hex()), Some(h.clone()));
        assert_eq!(
            StepHash::parse(&h.to_uppercase()).map(|p| p.to_hex()),
            Some(h)
        );
        assert_eq!(StepHash::parse("step"), None);
        assert_eq!(StepHash::parse(&"g".repeat(40)), None);
    }
}
