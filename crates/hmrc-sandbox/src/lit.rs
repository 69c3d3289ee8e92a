//! JSON that keeps the literal text of every number, so money can be checked the way HMRC's
//! services check it (Play JSON reads numbers as `BigDecimal`, keeping their scale: `1.50` has two
//! decimal places, `1.500` has three and is refused).

use std::fmt;

use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

/// A JSON value whose numbers keep their source text.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Lit {
    Null,
    Bool(bool),
    /// The number exactly as written.
    Number(String),
    String(String),
    Array(Vec<Lit>),
    /// Members in source order (duplicates kept; lookups see the last one, as Play does).
    Object(Vec<(String, Lit)>),
}

impl Lit {
    /// Parses JSON text.
    pub(crate) fn parse(bytes: &[u8]) -> Result<Lit, serde_json::Error> {
        serde_json::from_slice(bytes)
    }

    /// The member `key` of an object.
    pub(crate) fn get(&self, key: &str) -> Option<&Lit> {
        match self {
            Lit::Object(members) => members.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// Follows a path of member names.
    pub(crate) fn at(&self, path: &[&str]) -> Option<&Lit> {
        path.iter().try_fold(self, |node, key| node.get(key))
    }

    /// The string value, if this is a string.
    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            Lit::String(s) => Some(s),
            _ => None,
        }
    }

    /// `true` for an object with no members.
    pub(crate) fn is_empty_object(&self) -> bool {
        matches!(self, Lit::Object(m) if m.is_empty())
    }

    /// Converts to a `serde_json::Value` for storage and echo (numbers become `f64`/integers;
    /// the validated ones have at most two decimal places and fit).
    pub(crate) fn to_value(&self) -> serde_json::Value {
        use serde_json::Value;
        match self {
            Lit::Null => Value::Null,
            Lit::Bool(b) => Value::Bool(*b),
            Lit::Number(n) => serde_json::from_str(n).unwrap_or(Value::Null),
            Lit::String(s) => Value::String(s.clone()),
            Lit::Array(items) => Value::Array(items.iter().map(Lit::to_value).collect()),
            Lit::Object(members) => {
                let mut map = serde_json::Map::new();
                for (k, v) in members {
                    map.insert(k.clone(), v.to_value());
                }
                Value::Object(map)
            }
        }
    }

    /// Builds a `Lit` from raw JSON text that serde_json has already accepted.
    fn from_raw(raw: &RawValue) -> Result<Lit, serde_json::Error> {
        let text = raw.get().trim();
        match text.as_bytes().first() {
            Some(b'{') => Ok(Lit::Object(serde_json::from_str::<Members>(text)?.0)),
            Some(b'[') => Ok(Lit::Array(serde_json::from_str::<Vec<Lit>>(text)?)),
            Some(b'"') => Ok(Lit::String(serde_json::from_str::<String>(text)?)),
            Some(b't') => Ok(Lit::Bool(true)),
            Some(b'f') => Ok(Lit::Bool(false)),
            Some(b'n') => Ok(Lit::Null),
            _ => Ok(Lit::Number(text.to_owned())),
        }
    }
}

impl<'de> Deserialize<'de> for Lit {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw: Box<RawValue> = Deserialize::deserialize(deserializer)?;
        Lit::from_raw(&raw).map_err(de::Error::custom)
    }
}

/// Object members in order, for `Lit::Object`.
struct Members(Vec<(String, Lit)>);

impl<'de> Deserialize<'de> for Members {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MembersVisitor;
        impl<'de> Visitor<'de> for MembersVisitor {
            type Value = Members;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Members, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, Lit>()? {
                    out.push((k, v));
                }
                Ok(Members(out))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, _seq: A) -> Result<Members, A::Error> {
                Err(de::Error::custom("expected an object"))
            }
        }
        deserializer.deserialize_map(MembersVisitor)
    }
}

/// An amount of money in pence, parsed from a JSON number literal with at most two decimal
/// places. Returns `None` when the literal has more than two decimal places (after accounting
/// for an exponent) or is too large to be money at all.
///
/// ```text
/// "12.50" -> Some(1250)   "1e2" -> Some(10000)   "0.001" -> None   "1.500" -> None
/// ```
pub(crate) fn pence(literal: &str) -> Option<i128> {
    let (negative, rest) = match literal.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, literal),
    };
    let (mantissa, exponent) = match rest.find(['e', 'E']) {
        Some(i) => (&rest[..i], rest[i + 1..].parse::<i64>().ok()?),
        None => (rest, 0),
    };
    let (int_part, frac_part) = match mantissa.find('.') {
        Some(i) => (&mantissa[..i], &mantissa[i + 1..]),
        None => (mantissa, ""),
    };
    if int_part.is_empty() || !int_part.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if !frac_part.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // BigDecimal scale: digits after the point, minus the exponent.
    let scale = i64::try_from(frac_part.len()).ok()? - exponent;
    if scale > 2 {
        return None;
    }
    let digits: String = format!("{int_part}{frac_part}");
    let digits = digits.trim_start_matches('0');
    if digits.is_empty() {
        return Some(0);
    }
    let shift = usize::try_from(2 - scale).ok()?;
    if digits.len() + shift > 30 {
        // Far beyond any HMRC range; report as out of range rather than overflow.
        return Some(if negative { i128::MIN } else { i128::MAX });
    }
    let mut value: i128 = digits.parse().ok()?;
    for _ in 0..shift {
        value *= 10;
    }
    Some(if negative { -value } else { value })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_keep_their_text() {
        let lit = Lit::parse(br#"{"a": 1.50, "b": [1e2, -0.001], "c": {"d": "x"}}"#).unwrap();
        assert_eq!(lit.get("a"), Some(&Lit::Number("1.50".into())));
        assert_eq!(
            lit.get("b"),
            Some(&Lit::Array(vec![
                Lit::Number("1e2".into()),
                Lit::Number("-0.001".into())
            ]))
        );
        assert_eq!(lit.at(&["c", "d"]).and_then(Lit::as_str), Some("x"));
    }

    #[test]
    fn invalid_json_is_an_error() {
        assert!(Lit::parse(b"{\"a\": }").is_err());
        assert!(Lit::parse(b"").is_err());
    }

    #[test]
    fn pence_respects_scale_like_bigdecimal() {
        assert_eq!(pence("12.50"), Some(1250));
        assert_eq!(pence("12.5"), Some(1250));
        assert_eq!(pence("0"), Some(0));
        assert_eq!(pence("-99999999999.99"), Some(-9_999_999_999_999));
        assert_eq!(pence("1e2"), Some(10_000));
        assert_eq!(pence("1.234e1"), Some(1234));
        assert_eq!(pence("1.500"), None);
        assert_eq!(pence("0.001"), None);
        assert_eq!(pence("1e-3"), None);
        assert_eq!(pence("0e500"), Some(0));
        assert_eq!(pence("1e40"), Some(i128::MAX));
    }
}
