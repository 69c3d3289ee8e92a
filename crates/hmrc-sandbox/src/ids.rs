//! HMRC identifiers and dates: validation exactly as HMRC's resolvers implement it (digest §1.4),
//! and generators for test users.

use std::fmt;
use std::sync::LazyLock;

use chrono::{Datelike, NaiveDate};
use rand::Rng;
use regex::Regex;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

static NINO: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        "^([ACEHJLMOPRSWXY][A-CEGHJ-NPR-TW-Z]|B[A-CEHJ-NPR-TW-Z]|G[ACEGHJ-NPR-TW-Z]|[KT][A-CEGHJ-MPR-TW-Z]|N[A-CEGHJL-NPR-SW-Z]|Z[A-CEGHJ-NPR-TW-Y])[0-9]{6}[A-D ]?$",
    )
    .expect("the NINO pattern is a valid regex")
});
static BUSINESS_ID: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new("^X[A-Z0-9]{1}IS[0-9]{11}$").expect("the business ID pattern is a valid regex")
});
static TAX_YEAR: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new("^20([1-9][0-9])-([1-9][0-9])$").expect("the tax year pattern is a valid regex")
});
static CALCULATION_ID: LazyLock<Regex> = LazyLock::new(|| {
    // HMRC's pattern, anchored as Scala's `matches` anchors it: the whole string must match one
    // of the two alternatives.
    Regex::new(
        "^(?:[0-9]{8}|[0-9a-f]{8}-[0-9a-f]{4}-[1-5][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12})$",
    )
    .expect("the calculation ID pattern is a valid regex")
});
static ISO_DATE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new("^[0-9]{4}-[0-9]{2}-[0-9]{2}$").expect("valid date regex"));
static MTD_IT_ID: LazyLock<Regex> =
    LazyLock::new(|| Regex::new("^X[A-Z]IT[0-9]{11}$").expect("valid MTD ID regex"));

/// Prefixes HMRC never issues.
const BAD_NINO_PREFIXES: [&str; 7] = ["BG", "GB", "NK", "KN", "TN", "NT", "ZZ"];

/// `true` when `nino` passes HMRC's NINO check.
pub fn is_valid_nino(nino: &str) -> bool {
    NINO.is_match(nino) && !BAD_NINO_PREFIXES.iter().any(|p| nino.starts_with(p))
}

/// `true` when `id` is a valid business ID (`XAIS12345678910`).
pub fn is_valid_business_id(id: &str) -> bool {
    BUSINESS_ID.is_match(id)
}

/// `true` when `id` is a valid MTD Income Tax ID (`XJIT00000000018`).
pub fn is_valid_mtd_it_id(id: &str) -> bool {
    MTD_IT_ID.is_match(id)
}

/// `true` when `id` is a valid calculation ID.
pub(crate) fn is_valid_calculation_id(id: &str) -> bool {
    CALCULATION_ID.is_match(id)
}

/// Parses a strict `YYYY-MM-DD` date.
pub(crate) fn parse_date(value: &str) -> Option<NaiveDate> {
    if !ISO_DATE.is_match(value) {
        return None;
    }
    NaiveDate::parse_from_str(value, "%Y-%m-%d").ok()
}

/// Builds a date from parts that are known to be valid (tax-year boundaries, quarter ends).
pub(crate) fn ymd(year: i32, month: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, month, day)
        .or_else(|| NaiveDate::from_ymd_opt(year, month, 1))
        .unwrap_or(NaiveDate::MIN)
}

/// A UK tax year, 6 April to 5 April, written `2025-26`.
///
/// ```
/// use hmrc_sandbox::TaxYear;
/// let ty: TaxYear = "2025-26".parse().unwrap();
/// assert_eq!(ty.start_year(), 2025);
/// assert_eq!(ty.to_string(), "2025-26");
/// assert_eq!(ty.first_day().to_string(), "2025-04-06");
/// assert_eq!(ty.last_day().to_string(), "2026-04-05");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TaxYear(i32);

/// Why a tax-year string was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TaxYearError {
    /// Not of the form `20YY-YY`.
    #[error("a tax year is written 20YY-YY, for example 2025-26")]
    Format,
    /// Well formed but not one year long (`2022-24`).
    #[error("a tax year must span exactly one year, for example 2025-26")]
    RangeInvalid,
}

impl TaxYear {
    /// The tax year starting on 6 April of `start_year`.
    pub const fn starting(start_year: i32) -> Self {
        Self(start_year)
    }

    /// The calendar year in which the tax year starts.
    pub const fn start_year(self) -> i32 {
        self.0
    }

    /// 6 April of the start year.
    pub fn first_day(self) -> NaiveDate {
        ymd(self.0, 4, 6)
    }

    /// 5 April of the following year.
    pub fn last_day(self) -> NaiveDate {
        ymd(self.0 + 1, 4, 5)
    }

    /// The tax year containing `date`.
    pub fn containing(date: NaiveDate) -> Self {
        if date >= ymd(date.year(), 4, 6) {
            Self(date.year())
        } else {
            Self(date.year() - 1)
        }
    }

    /// The following tax year.
    pub const fn next(self) -> Self {
        Self(self.0 + 1)
    }

    /// `true` when `date` falls inside this tax year.
    pub fn contains(self, date: NaiveDate) -> bool {
        date >= self.first_day() && date <= self.last_day()
    }

    /// Whether quarterly updates for this year are cumulative (2025-26 onwards).
    pub const fn is_cumulative(self) -> bool {
        self.0 >= 2025
    }
}

impl std::str::FromStr for TaxYear {
    type Err = TaxYearError;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let caps = TAX_YEAR.captures(value).ok_or(TaxYearError::Format)?;
        let start: i32 = caps[1].parse().map_err(|_| TaxYearError::Format)?;
        let end: i32 = caps[2].parse().map_err(|_| TaxYearError::Format)?;
        if end - start != 1 {
            return Err(TaxYearError::RangeInvalid);
        }
        Ok(Self(2000 + start))
    }
}

impl fmt::Display for TaxYear {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{:02}", self.0, (self.0 + 1) % 100)
    }
}

impl Serialize for TaxYear {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for TaxYear {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A fresh NINO that passes HMRC's check.
pub(crate) fn generate_nino() -> String {
    const FIRST: &[u8] = b"ACEHJLMOPRSWXY";
    const SECOND: &[u8] = b"ABCEGHJKLMNPRSTWXYZ";
    let mut rng = rand::rng();
    loop {
        let a = FIRST[rng.random_range(0..FIRST.len())] as char;
        let b = SECOND[rng.random_range(0..SECOND.len())] as char;
        let digits: u32 = rng.random_range(0..1_000_000);
        let suffix = (b'A' + rng.random_range(0..4u8)) as char;
        let candidate = format!("{a}{b}{digits:06}{suffix}");
        if is_valid_nino(&candidate) {
            return candidate;
        }
    }
}

/// A fresh MTD Income Tax ID (`X?IT` + 11 digits).
pub(crate) fn generate_mtd_it_id() -> String {
    let mut rng = rand::rng();
    let letter = (b'A' + rng.random_range(0..26u8)) as char;
    format!("X{letter}IT{:011}", rng.random_range(0..100_000_000_000u64))
}

/// A fresh business ID whose second letter hints at the business type, as HMRC's test data does
/// (`XA`/`XB` self-employment, `XP` UK property, `XF` foreign property).
pub(crate) fn generate_business_id(letter: char) -> String {
    let mut rng = rand::rng();
    format!("X{letter}IS{:011}", rng.random_range(0..100_000_000_000u64))
}

/// A fresh 12-digit Government Gateway user ID.
pub(crate) fn generate_user_id() -> String {
    let mut rng = rand::rng();
    format!(
        "{:012}",
        rng.random_range(100_000_000_000u64..1_000_000_000_000)
    )
}

/// A fresh 10-digit Self Assessment UTR.
pub(crate) fn generate_sa_utr() -> String {
    let mut rng = rand::rng();
    format!("{:010}", rng.random_range(1_000_000_000u64..10_000_000_000))
}

/// A fresh password for a test user.
pub(crate) fn generate_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rng();
    (0..12)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nino_rules_follow_hmrc() {
        assert!(is_valid_nino("TC663795B"));
        assert!(is_valid_nino("AA123456A"));
        assert!(is_valid_nino("AA123456"));
        assert!(!is_valid_nino("BG123456A"));
        assert!(!is_valid_nino("AA123456E"));
        assert!(!is_valid_nino("aa123456A"));
        assert!(!is_valid_nino("DA123456A"));
    }

    #[test]
    fn generated_identifiers_are_valid() {
        for _ in 0..200 {
            assert!(is_valid_nino(&generate_nino()));
            assert!(is_valid_business_id(&generate_business_id('A')));
            assert!(is_valid_mtd_it_id(&generate_mtd_it_id()));
        }
        assert_eq!(generate_user_id().len(), 12);
        assert_eq!(generate_sa_utr().len(), 10);
    }

    #[test]
    fn tax_year_parsing_matches_hmrc() {
        assert_eq!("2024-25".parse::<TaxYear>(), Ok(TaxYear::starting(2024)));
        assert_eq!(
            "2022-24".parse::<TaxYear>(),
            Err(TaxYearError::RangeInvalid)
        );
        assert_eq!("2022-2023".parse::<TaxYear>(), Err(TaxYearError::Format));
        assert_eq!("2009-10".parse::<TaxYear>(), Err(TaxYearError::Format));
        assert_eq!(
            TaxYear::containing(ymd(2026, 4, 5)),
            TaxYear::starting(2025)
        );
        assert_eq!(
            TaxYear::containing(ymd(2026, 4, 6)),
            TaxYear::starting(2026)
        );
        assert_eq!(TaxYear::starting(2099).to_string(), "2099-00");
    }

    #[test]
    fn calculation_ids_follow_the_published_pattern() {
        assert!(is_valid_calculation_id(
            "f2fb30e5-4ab6-4a29-b3c1-c7264259ff1c"
        ));
        assert!(is_valid_calculation_id("12345678"));
        assert!(!is_valid_calculation_id("f2fb30e5"));
        assert!(!is_valid_calculation_id(
            "F2FB30E5-4AB6-4A29-B3C1-C7264259FF1C"
        ));
    }

    #[test]
    fn dates_must_be_strict_iso() {
        assert!(parse_date("2024-02-29").is_some());
        assert!(parse_date("2023-02-29").is_none());
        assert!(parse_date("2024-2-1").is_none());
        assert!(parse_date("2024-02-01T00:00").is_none());
    }
}
