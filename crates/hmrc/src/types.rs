//! Small types shared by several APIs: business types, obligation status, period dates and
//! structured building allowances.

use std::{fmt, str::FromStr};

use chrono::NaiveDate;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::money::UnsignedMoney;

/// An enum of HMRC string values that keeps values this crate does not know yet instead of
/// failing to read the whole response.
macro_rules! open_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
            /// A value this version of the crate does not know, kept as HMRC sent it.
            Other(String),
        }

        impl $name {
            /// The value as HMRC writes it.
            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => $text,)+
                    $name::Other(text) => text,
                }
            }
        }

        impl From<&str> for $name {
            fn from(text: &str) -> Self {
                match text {
                    $($text => $name::$variant,)+
                    other => $name::Other(other.to_owned()),
                }
            }
        }

        impl FromStr for $name {
            type Err = std::convert::Infallible;

            fn from_str(text: &str) -> Result<Self, Self::Err> {
                Ok(Self::from(text))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                Ok(Self::from(text.as_str()))
            }
        }
    };
}

open_enum! {
    /// The type of a business income source.
    TypeOfBusiness {
        /// `self-employment`
        SelfEmployment = "self-employment",
        /// `uk-property`
        UkProperty = "uk-property",
        /// `foreign-property`
        ForeignProperty = "foreign-property",
        /// `property-unspecified` (Business Details only)
        PropertyUnspecified = "property-unspecified",
    }
}

open_enum! {
    /// The status of an obligation (lower-case in Obligations API v3).
    ObligationStatus {
        /// Not yet met.
        Open = "open",
        /// Met; the obligation then carries a `receivedDate`.
        Fulfilled = "fulfilled",
    }
}

/// The first and last day a self-employment period summary covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PeriodDates {
    /// First day covered.
    pub period_start_date: NaiveDate,
    /// Last day covered.
    pub period_end_date: NaiveDate,
}

impl PeriodDates {
    /// The period from `start` to `end` inclusive.
    pub fn new(start: NaiveDate, end: NaiveDate) -> Self {
        Self {
            period_start_date: start,
            period_end_date: end,
        }
    }
}

/// A structured (or enhanced structured) buildings allowance claim.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StructuredBuildingAllowance {
    /// The amount claimed.
    pub amount: UnsignedMoney,
    /// First-year details, when this is the first year of the claim.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_year: Option<FirstYear>,
    /// The building the claim is for.
    pub building: Building,
}

/// First-year details of a structured buildings allowance claim.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FirstYear {
    /// When the building first qualified.
    pub qualifying_date: NaiveDate,
    /// The qualifying expenditure.
    pub qualifying_amount_expenditure: UnsignedMoney,
}

/// The building a structured buildings allowance is claimed for (`name` or `number`, plus
/// `postcode`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Building {
    /// The building's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The building's number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<String>,
    /// The building's postcode.
    pub postcode: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_enums_keep_unknown_values() {
        let known: TypeOfBusiness = serde_json::from_str("\"uk-property\"").unwrap();
        assert_eq!(known, TypeOfBusiness::UkProperty);
        let unknown: TypeOfBusiness = serde_json::from_str("\"moon-property\"").unwrap();
        assert_eq!(unknown, TypeOfBusiness::Other("moon-property".into()));
        assert_eq!(
            serde_json::to_string(&unknown).unwrap(),
            "\"moon-property\""
        );
        assert_eq!(ObligationStatus::Fulfilled.to_string(), "fulfilled");
    }
}
