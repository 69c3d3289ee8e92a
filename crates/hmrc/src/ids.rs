//! Identifiers in the formats HMRC validates: NINO, business ID, calculation ID.

use std::{fmt, str::FromStr, sync::LazyLock};

use regex::Regex;
use serde::{Deserialize, Deserializer, Serialize, Serializer, de};

/// An identifier that does not have HMRC's format.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{value}` is not a valid {what} ({code})")]
pub struct InvalidId {
    /// What was being parsed, e.g. "National Insurance number".
    pub what: &'static str,
    /// HMRC's error code for it, e.g. `FORMAT_NINO`.
    pub code: &'static str,
    /// The rejected text.
    pub value: String,
}

macro_rules! id_type {
    ($(#[$meta:meta])* $name:ident, $what:expr, $code:expr, $regex:expr, normalise = $norm:expr) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(String);

        impl $name {
            /// Parses and validates the identifier.
            pub fn new(value: &str) -> Result<Self, InvalidId> {
                static PATTERN: LazyLock<Regex> =
                    LazyLock::new(|| Regex::new($regex).expect("identifier pattern is a valid regex"));
                let normalised: String = ($norm)(value);
                if PATTERN.is_match(&normalised) {
                    Ok(Self(normalised))
                } else {
                    Err(InvalidId { what: $what, code: $code, value: value.to_owned() })
                }
            }

            /// The identifier as sent to HMRC.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $name {
            type Err = InvalidId;

            fn from_str(value: &str) -> Result<Self, InvalidId> {
                Self::new(value)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                Self::new(&text).map_err(de::Error::custom)
            }
        }
    };
}

fn as_is(value: &str) -> String {
    value.to_owned()
}

fn nino_normalise(value: &str) -> String {
    // "qq 12 34 56 c" is how people write it; HMRC wants "QQ123456C".
    value
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

id_type! {
    /// A National Insurance number, validated with HMRC's own rule (prefixes BG, GB, NK, KN,
    /// TN, NT and ZZ are refused). Spaces are removed and letters upper-cased.
    ///
    /// ```
    /// use hmrc_mtd::Nino;
    /// assert_eq!(Nino::new("aa 12 34 56 a")?.as_str(), "AA123456A");
    /// assert_eq!(Nino::new("GB123456A").unwrap_err().code, "FORMAT_NINO");
    /// # Ok::<(), hmrc_mtd::InvalidId>(())
    /// ```
    Nino,
    "National Insurance number",
    "FORMAT_NINO",
    r"^([ACEHJLMOPRSWXY][A-CEGHJ-NPR-TW-Z]|B[A-CEHJ-NPR-TW-Z]|G[ACEGHJ-NPR-TW-Z]|[KT][A-CEGHJ-MPR-TW-Z]|N[A-CEGHJL-NPR-SW-Z]|Z[A-CEGHJ-NPR-TW-Y])[0-9]{6}[A-D]?$",
    normalise = nino_normalise
}

id_type! {
    /// A business income source ID such as `XAIS12345678910` (from List All Businesses).
    ///
    /// Accepts the pattern HMRC's response schemas use (`^X[a-zA-Z0-9]IS[0-9]{11}$`), so
    /// every ID HMRC returns can be held and sent back.
    ///
    /// ```
    /// use hmrc_mtd::BusinessId;
    /// assert!(BusinessId::new("XAIS12345678910").is_ok());
    /// assert_eq!(BusinessId::new("XAIS1234").unwrap_err().code, "FORMAT_BUSINESS_ID");
    /// ```
    BusinessId,
    "business ID",
    "FORMAT_BUSINESS_ID",
    r"^X[A-Za-z0-9]IS[0-9]{11}$",
    normalise = as_is
}

id_type! {
    /// A tax calculation ID: a UUID (versions 1 to 5, lower-case) or, for old calculations, 8
    /// digits.
    ///
    /// ```
    /// use hmrc_mtd::CalculationId;
    /// assert!(CalculationId::new("f2fb30e5-4ab6-4a29-b3c1-c7264259ff1c").is_ok());
    /// assert!(CalculationId::new("12345678").is_ok());
    /// assert_eq!(CalculationId::new("../x").unwrap_err().code, "FORMAT_CALCULATION_ID");
    /// ```
    CalculationId,
    "calculation ID",
    "FORMAT_CALCULATION_ID",
    r"^([0-9]{8}|[0-9a-f]{8}-[0-9a-f]{4}-[1-5][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12})$",
    normalise = as_is
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nino_follows_hmrc_rules() {
        for good in ["AA123456A", "AA123456", "JK123456D", "ZY123456B"] {
            assert!(Nino::new(good).is_ok(), "{good}");
        }
        for bad in [
            "BG123456A",
            "GB123456A",
            "NK123456A",
            "KN123456A",
            "TN123456A",
            "NT123456A",
            "ZZ123456A",
            "DA123456A",
            "AA12345A",
            "AA123456E",
            "",
            "AA1234567",
        ] {
            let err = Nino::new(bad).unwrap_err();
            assert_eq!(err.code, "FORMAT_NINO", "{bad}");
        }
    }

    #[test]
    fn business_id_and_calculation_id() {
        assert!(BusinessId::new("XBIS12345678903").is_ok());
        assert!(BusinessId::new("XaIS12345678903").is_ok());
        assert!(BusinessId::new("YAIS12345678903").is_err());
        assert!(BusinessId::new("XAIS12345678903/../x").is_err());
        assert!(CalculationId::new("717f3a7a-db8e-11e9-8a34-2a2ae2dbcce4").is_ok());
        assert!(CalculationId::new("717f3a7a-db8e-61e9-8a34-2a2ae2dbcce4").is_err());
        assert!(CalculationId::new("F2FB30E5-4AB6-4A29-B3C1-C7264259FF1C").is_err());
    }

    #[test]
    fn ids_serde_validates() {
        let id: BusinessId = serde_json::from_str("\"XAIS12345678910\"").unwrap();
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"XAIS12345678910\"");
        assert!(serde_json::from_str::<Nino>("\"nope\"").is_err());
    }
}
