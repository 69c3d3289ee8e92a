//! Money as HMRC accepts it: a decimal with at most two decimal places, within HMRC's range,
//! written to JSON as a number with exactly its digits (never through a float).

use std::{fmt, str::FromStr};

use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize, Serializer, de};
use serde_json::value::RawValue;

/// The largest amount any MTD Income Tax field accepts: 99,999,999,999.99.
pub const MAX_AMOUNT: Decimal = Decimal::from_parts(1_316_134_911, 2_328, 0, false, 2);

/// Why an amount is not valid money for HMRC.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    /// The text is not a decimal number.
    #[error("`{0}` is not a decimal number")]
    NotANumber(String),
    /// More than two decimal places (HMRC answers `FORMAT_VALUE`).
    #[error("{0} has more than 2 decimal places; HMRC accepts pounds and pence only")]
    TooManyDecimalPlaces(Decimal),
    /// Outside -99,999,999,999.99 ..= 99,999,999,999.99 (HMRC answers `FORMAT_VALUE`).
    #[error("{0} is outside HMRC's range of -99999999999.99 to 99999999999.99")]
    OutOfRange(Decimal),
    /// Negative where HMRC only accepts 0 ..= 99,999,999,999.99.
    #[error("{0} is negative; this field accepts 0 to 99999999999.99 only")]
    Negative(Decimal),
}

impl MoneyError {
    /// The HMRC error code a server would answer with for this value (`FORMAT_VALUE`).
    pub fn code(&self) -> &'static str {
        "FORMAT_VALUE"
    }
}

fn check(value: Decimal, allow_negative: bool) -> Result<Decimal, MoneyError> {
    // Trailing zeros beyond two places (e.g. `1.500`) are harmless: normalise them away first.
    let mut value = if value.scale() > 2 {
        value.normalize()
    } else {
        value
    };
    if value.scale() > 2 {
        return Err(MoneyError::TooManyDecimalPlaces(value));
    }
    if value.abs() > MAX_AMOUNT {
        return Err(MoneyError::OutOfRange(value));
    }
    if !allow_negative && value.is_sign_negative() && !value.is_zero() {
        return Err(MoneyError::Negative(value));
    }
    if value.is_zero() {
        value.set_sign_positive(true);
    }
    Ok(value)
}

fn parse_decimal(text: &str) -> Result<Decimal, MoneyError> {
    let trimmed = text.trim();
    let parsed = if trimmed.contains(['e', 'E']) {
        Decimal::from_scientific(trimmed)
    } else {
        Decimal::from_str_exact(trimmed)
    };
    parsed.map_err(|_| MoneyError::NotANumber(text.to_owned()))
}

fn serialize_exact<S: Serializer>(value: &Decimal, serializer: S) -> Result<S::Ok, S::Error> {
    // A JSON number with exactly these digits: through serde_json's raw value, never via f64.
    let raw = RawValue::from_string(value.to_string()).map_err(serde::ser::Error::custom)?;
    raw.serialize(serializer)
}

fn deserialize_exact<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Decimal, D::Error> {
    // The raw text of the JSON number, so `5000.99` arrives as exactly 5000.99.
    let raw: Box<RawValue> = Box::<RawValue>::deserialize(deserializer)?;
    let text = raw.get();
    if text.starts_with('"') {
        return Err(de::Error::custom(format!(
            "expected a JSON number for an amount, found the string {text}"
        )));
    }
    parse_decimal(text).map_err(de::Error::custom)
}

macro_rules! money_type {
    ($(#[$meta:meta])* $name:ident, allow_negative = $neg:expr) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(Decimal);

        impl $name {
            /// Zero.
            pub const ZERO: Self = Self(Decimal::ZERO);

            /// Checks and wraps a decimal amount.
            pub fn new(value: Decimal) -> Result<Self, MoneyError> {
                check(value, $neg).map(Self)
            }

            /// An amount in whole pence (for example `123_45` is £123.45).
            pub fn from_pence(pence: i64) -> Result<Self, MoneyError> {
                Self::new(Decimal::new(pence, 2))
            }

            /// The amount as a decimal.
            pub fn amount(self) -> Decimal {
                self.0
            }
        }

        impl FromStr for $name {
            type Err = MoneyError;

            fn from_str(text: &str) -> Result<Self, MoneyError> {
                Self::new(parse_decimal(text)?)
            }
        }

        impl TryFrom<Decimal> for $name {
            type Error = MoneyError;

            fn try_from(value: Decimal) -> Result<Self, MoneyError> {
                Self::new(value)
            }
        }

        impl From<$name> for Decimal {
            fn from(value: $name) -> Decimal {
                value.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serialize_exact(&self.0, serializer)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let value = deserialize_exact(deserializer)?;
                Self::new(value).map_err(de::Error::custom)
            }
        }
    };
}

money_type! {
    /// A signed amount of money: -99,999,999,999.99 ..= 99,999,999,999.99, at most 2 decimal
    /// places (expenses, adjustments, and every amount HMRC returns).
    ///
    /// Serialised as a JSON number with exactly its digits:
    ///
    /// ```
    /// use hmrc_mtd::Money;
    /// let amount: Money = "-1234.50".parse()?;
    /// assert_eq!(serde_json::to_string(&amount)?, "-1234.50");
    /// let back: Money = serde_json::from_str("0.1")?;
    /// assert_eq!(back.to_string(), "0.1");
    /// assert!("1.005".parse::<Money>().is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    Money, allow_negative = true
}

money_type! {
    /// A non-negative amount of money: 0 ..= 99,999,999,999.99, at most 2 decimal places
    /// (income, allowances and the other fields HMRC bounds at zero).
    ///
    /// ```
    /// use hmrc_mtd::UnsignedMoney;
    /// assert!("-0.01".parse::<UnsignedMoney>().is_err());
    /// assert_eq!(UnsignedMoney::from_pence(150_00)?.to_string(), "150.00");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    UnsignedMoney, allow_negative = false
}

impl From<UnsignedMoney> for Money {
    fn from(value: UnsignedMoney) -> Money {
        Money(value.0)
    }
}

impl TryFrom<Money> for UnsignedMoney {
    type Error = MoneyError;

    fn try_from(value: Money) -> Result<Self, MoneyError> {
        Self::new(value.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_amount_is_hmrcs_bound() {
        assert_eq!(MAX_AMOUNT.to_string(), "99999999999.99");
    }

    #[test]
    fn parses_and_prints_exact_digits() {
        for text in [
            "0",
            "0.1",
            "0.10",
            "12",
            "5000.99",
            "-1000.09",
            "99999999999.99",
        ] {
            let money: Money = text.parse().unwrap();
            assert_eq!(money.to_string(), text);
            assert_eq!(serde_json::to_string(&money).unwrap(), text);
        }
    }

    #[test]
    fn rejects_more_than_two_places_and_out_of_range() {
        assert!(matches!(
            "1.001".parse::<Money>(),
            Err(MoneyError::TooManyDecimalPlaces(_))
        ));
        assert!(matches!(
            "100000000000.00".parse::<Money>(),
            Err(MoneyError::OutOfRange(_))
        ));
        assert!(matches!(
            "-99999999999.991".parse::<Money>(),
            Err(MoneyError::TooManyDecimalPlaces(_))
        ));
        assert!(matches!(
            "abc".parse::<Money>(),
            Err(MoneyError::NotANumber(_))
        ));
        assert_eq!(
            "-99999999999.99".parse::<Money>().unwrap().to_string(),
            "-99999999999.99"
        );
    }

    #[test]
    fn trailing_zeros_beyond_two_places_are_accepted() {
        assert_eq!("1.500".parse::<Money>().unwrap().to_string(), "1.5");
    }

    #[test]
    fn unsigned_money_rejects_negatives_but_accepts_negative_zero() {
        assert!(matches!(
            "-0.01".parse::<UnsignedMoney>(),
            Err(MoneyError::Negative(_))
        ));
        assert_eq!(
            "-0.00".parse::<UnsignedMoney>().unwrap().to_string(),
            "0.00"
        );
    }

    #[test]
    fn deserializes_from_json_numbers_exactly_and_refuses_strings() {
        let money: Money = serde_json::from_str("1000.09").unwrap();
        assert_eq!(money.amount(), Decimal::new(100_009, 2));
        let money: Money = serde_json::from_str("1e3").unwrap();
        assert_eq!(money.amount(), Decimal::new(1000, 0));
        assert!(serde_json::from_str::<Money>("\"1.00\"").is_err());
        assert!(serde_json::from_str::<Money>("1.001").is_err());
        // From a serde_json::Value too (the number is re-read from its shortest text).
        let value = serde_json::json!({"a": 5000.99});
        let money: Money = serde_json::from_value(value["a"].clone()).unwrap();
        assert_eq!(money.to_string(), "5000.99");
    }

    #[test]
    fn large_values_round_trip_without_float_loss() {
        let money: Money = serde_json::from_str("99999999999.99").unwrap();
        assert_eq!(serde_json::to_string(&money).unwrap(), "99999999999.99");
        let money: Money = serde_json::from_str("-12345678901.23").unwrap();
        assert_eq!(serde_json::to_string(&money).unwrap(), "-12345678901.23");
    }
}
