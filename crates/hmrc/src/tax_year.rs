//! UK tax years (`2024-25`): dates, regime, quarters, due dates, EOPS.

use std::{fmt, str::FromStr};

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Deserializer, Serialize, Serializer, de};

/// A UK tax year, 6 April to 5 April, written `2024-25` as HMRC writes it.
///
/// ```
/// use hmrc_mtd::{Regime, TaxYear};
/// let year: TaxYear = "2025-26".parse()?;
/// assert_eq!(year.regime(), Regime::Cumulative);
/// assert_eq!(year.start_date().to_string(), "2025-04-06");
/// assert_eq!(year.quarters()[0].due.to_string(), "2025-08-05");
/// assert!(!year.had_eops());
/// assert_eq!("2022-24".parse::<TaxYear>().unwrap_err().code(), "RULE_TAX_YEAR_RANGE_INVALID");
/// # Ok::<(), hmrc_mtd::TaxYearError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TaxYear {
    start_year: i32,
}

/// Why a tax year is not valid, with the code HMRC gives for it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TaxYearError {
    /// Not of the form `20YY-YY` (HMRC: `FORMAT_TAX_YEAR`).
    #[error("`{0}` is not a tax year of the form 2024-25")]
    Format(String),
    /// The two years are not consecutive, e.g. `2022-24` (HMRC: `RULE_TAX_YEAR_RANGE_INVALID`).
    #[error("`{0}` does not span one year; write consecutive years such as 2024-25")]
    RangeInvalid(String),
    /// A date or start year outside 2010-11 ..= 2098-99, the years HMRC's format can express.
    #[error("{0} is outside the tax years HMRC's format can express (2010-11 to 2098-99)")]
    OutOfRange(String),
}

impl TaxYearError {
    /// HMRC's error code for this problem.
    pub fn code(&self) -> &'static str {
        match self {
            TaxYearError::Format(_) | TaxYearError::OutOfRange(_) => "FORMAT_TAX_YEAR",
            TaxYearError::RangeInvalid(_) => "RULE_TAX_YEAR_RANGE_INVALID",
        }
    }
}

/// How quarterly updates are submitted in a tax year.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Regime {
    /// Up to and including 2024-25: one period summary per quarter, each with its own dates.
    NonCumulative,
    /// From 2025-26: year-to-date (cumulative) summaries, every period starting on 6 April.
    Cumulative,
}

/// One quarterly obligation period of a tax year, as HMRC's Obligations API reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Quarter {
    /// 1 to 4.
    pub number: u8,
    /// The period's first day: the quarter's own start in the non-cumulative regime, 6 April
    /// (the start of the tax year) in the cumulative regime.
    pub start: NaiveDate,
    /// The period's last day (5 July, 5 October, 5 January, 5 April).
    pub end: NaiveDate,
    /// When the update is due: the 5th of the following month up to 2025-26, the 7th from
    /// 2026-27.
    pub due: NaiveDate,
}

const MIN_START_YEAR: i32 = 2010;
const MAX_START_YEAR: i32 = 2098;

fn date(year: i32, month: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, month, day)
        .expect("tax-year dates are fixed calendar days that exist in every year")
}

impl TaxYear {
    /// The tax year starting on 6 April of `start_year` (2024 gives 2024-25).
    pub fn from_start_year(start_year: i32) -> Result<Self, TaxYearError> {
        if (MIN_START_YEAR..=MAX_START_YEAR).contains(&start_year) {
            Ok(Self { start_year })
        } else {
            Err(TaxYearError::OutOfRange(format!("start year {start_year}")))
        }
    }

    /// The tax year a date falls in.
    pub fn containing(day: NaiveDate) -> Result<Self, TaxYearError> {
        let start_year = if (day.month(), day.day()) >= (4, 6) {
            day.year()
        } else {
            day.year() - 1
        };
        Self::from_start_year(start_year).map_err(|_| TaxYearError::OutOfRange(day.to_string()))
    }

    /// The calendar year it starts in (2024 for 2024-25).
    pub fn start_year(self) -> i32 {
        self.start_year
    }

    /// The calendar year it ends in (2025 for 2024-25).
    pub fn end_year(self) -> i32 {
        self.start_year + 1
    }

    /// 6 April of the start year.
    pub fn start_date(self) -> NaiveDate {
        date(self.start_year, 4, 6)
    }

    /// 5 April of the end year.
    pub fn end_date(self) -> NaiveDate {
        date(self.start_year + 1, 4, 5)
    }

    /// Whether a date falls in this tax year.
    pub fn contains(self, day: NaiveDate) -> bool {
        self.start_date() <= day && day <= self.end_date()
    }

    /// The following tax year.
    pub fn next(self) -> Result<Self, TaxYearError> {
        Self::from_start_year(self.start_year + 1)
    }

    /// The preceding tax year.
    pub fn previous(self) -> Result<Self, TaxYearError> {
        Self::from_start_year(self.start_year - 1)
    }

    /// How quarterly updates are submitted: non-cumulative up to 2024-25, cumulative from
    /// 2025-26.
    pub fn regime(self) -> Regime {
        if self.start_year >= 2025 {
            Regime::Cumulative
        } else {
            Regime::NonCumulative
        }
    }

    /// Whether an End of Period Statement applied to this year. HMRC dropped EOPS from 2024-25
    /// (Autumn Statement 2023), so only years up to 2023-24 had one.
    pub fn had_eops(self) -> bool {
        self.start_year <= 2023
    }

    /// The day of the month quarterly updates are due: the 5th up to 2025-26, the 7th from
    /// 2026-27.
    pub fn quarterly_due_day(self) -> u32 {
        if self.start_year >= 2026 { 7 } else { 5 }
    }

    /// The four quarterly periods with their due dates, in order.
    pub fn quarters(self) -> [Quarter; 4] {
        let y = self.start_year;
        let due_day = self.quarterly_due_day();
        let cumulative = self.regime() == Regime::Cumulative;
        let starts = [
            date(y, 4, 6),
            date(y, 7, 6),
            date(y, 10, 6),
            date(y + 1, 1, 6),
        ];
        let ends = [
            date(y, 7, 5),
            date(y, 10, 5),
            date(y + 1, 1, 5),
            date(y + 1, 4, 5),
        ];
        let dues = [
            date(y, 8, due_day),
            date(y, 11, due_day),
            date(y + 1, 2, due_day),
            date(y + 1, 5, due_day),
        ];
        std::array::from_fn(|i| Quarter {
            number: u8::try_from(i + 1).expect("a tax year has four quarters"),
            start: if cumulative { starts[0] } else { starts[i] },
            end: ends[i],
            due: dues[i],
        })
    }

    /// The final declaration deadline: 31 January after the end of the tax year.
    pub fn final_declaration_due(self) -> NaiveDate {
        date(self.start_year + 2, 1, 31)
    }
}

impl fmt::Display for TaxYear {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{:02}", self.start_year, (self.start_year + 1) % 100)
    }
}

impl FromStr for TaxYear {
    type Err = TaxYearError;

    /// Parses `20YY-YY` exactly as HMRC validates it: the format `20([1-9][0-9])-([1-9][0-9])`
    /// first (`FORMAT_TAX_YEAR`), then consecutive years (`RULE_TAX_YEAR_RANGE_INVALID`).
    fn from_str(text: &str) -> Result<Self, TaxYearError> {
        let bytes = text.as_bytes();
        let two_digits = |hi: u8, lo: u8| -> Option<i32> {
            (hi.is_ascii_digit() && hi != b'0' && lo.is_ascii_digit())
                .then(|| i32::from(hi - b'0') * 10 + i32::from(lo - b'0'))
        };
        let parsed = match bytes {
            [b'2', b'0', a1, a2, b'-', b1, b2] => two_digits(*a1, *a2).zip(two_digits(*b1, *b2)),
            _ => None,
        };
        let (first, second) = parsed.ok_or_else(|| TaxYearError::Format(text.to_owned()))?;
        if second != first + 1 {
            return Err(TaxYearError::RangeInvalid(text.to_owned()));
        }
        Self::from_start_year(2000 + first)
    }
}

impl Serialize for TaxYear {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for TaxYear {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ty(text: &str) -> TaxYear {
        text.parse().unwrap()
    }

    fn d(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    #[test]
    fn parses_and_prints() {
        assert_eq!(ty("2024-25").to_string(), "2024-25");
        assert_eq!(ty("2024-25").start_year(), 2024);
        assert_eq!(ty("2098-99").to_string(), "2098-99");
        assert_eq!(ty("2010-11").to_string(), "2010-11");
    }

    #[test]
    fn format_errors_match_hmrc() {
        for bad in [
            "2024/25",
            "24-25",
            "2024-2025",
            "1999-00",
            "2009-10",
            "2024-5",
            " 2024-25",
            "2099-00",
            "abcd-ef",
        ] {
            let err = bad.parse::<TaxYear>().unwrap_err();
            assert_eq!(err.code(), "FORMAT_TAX_YEAR", "{bad}");
        }
        for bad in ["2022-24", "2024-24", "2025-24", "2020-99"] {
            let err = bad.parse::<TaxYear>().unwrap_err();
            assert_eq!(err.code(), "RULE_TAX_YEAR_RANGE_INVALID", "{bad}");
        }
    }

    #[test]
    fn start_and_end_dates() {
        assert_eq!(ty("2024-25").start_date(), d("2024-04-06"));
        assert_eq!(ty("2024-25").end_date(), d("2025-04-05"));
        assert_eq!(TaxYear::containing(d("2025-04-05")).unwrap(), ty("2024-25"));
        assert_eq!(TaxYear::containing(d("2025-04-06")).unwrap(), ty("2025-26"));
        assert_eq!(TaxYear::containing(d("2025-01-01")).unwrap(), ty("2024-25"));
        assert!(ty("2024-25").contains(d("2024-04-06")));
        assert!(!ty("2024-25").contains(d("2024-04-05")));
        assert_eq!(ty("2024-25").final_declaration_due(), d("2026-01-31"));
        assert_eq!(ty("2024-25").next().unwrap(), ty("2025-26"));
        assert_eq!(ty("2024-25").previous().unwrap(), ty("2023-24"));
    }

    #[test]
    fn regime_switches_at_2025_26() {
        assert_eq!(ty("2017-18").regime(), Regime::NonCumulative);
        assert_eq!(ty("2024-25").regime(), Regime::NonCumulative);
        assert_eq!(ty("2025-26").regime(), Regime::Cumulative);
        assert_eq!(ty("2030-31").regime(), Regime::Cumulative);
    }

    #[test]
    fn eops_only_up_to_2023_24() {
        assert!(ty("2019-20").had_eops());
        assert!(ty("2023-24").had_eops());
        assert!(!ty("2024-25").had_eops());
        assert!(!ty("2025-26").had_eops());
    }

    #[test]
    fn non_cumulative_quarters_match_hmrc_example() {
        // OBL:3.0/examples/retrieve_non-cumulative_periodic_obligations.json
        let q = ty("2019-20").quarters();
        let got: Vec<_> = q.iter().map(|q| (q.start, q.end, q.due)).collect();
        assert_eq!(
            got,
            vec![
                (d("2019-04-06"), d("2019-07-05"), d("2019-08-05")),
                (d("2019-07-06"), d("2019-10-05"), d("2019-11-05")),
                (d("2019-10-06"), d("2020-01-05"), d("2020-02-05")),
                (d("2020-01-06"), d("2020-04-05"), d("2020-05-05")),
            ]
        );
    }

    #[test]
    fn cumulative_quarters_start_at_year_start_and_due_day_moves_to_7th() {
        let q = ty("2025-26").quarters();
        assert!(q.iter().all(|q| q.start == d("2025-04-06")));
        let dues: Vec<_> = q.iter().map(|q| q.due).collect();
        assert_eq!(
            dues,
            vec![
                d("2025-08-05"),
                d("2025-11-05"),
                d("2026-02-05"),
                d("2026-05-05")
            ]
        );
        let q = ty("2026-27").quarters();
        let dues: Vec<_> = q.iter().map(|q| q.due).collect();
        assert_eq!(
            dues,
            vec![
                d("2026-08-07"),
                d("2026-11-07"),
                d("2027-02-07"),
                d("2027-05-07")
            ]
        );
        assert_eq!(q[3].end, d("2027-04-05"));
        assert_eq!(q.map(|q| q.number), [1, 2, 3, 4]);
    }

    #[test]
    fn serde_as_string() {
        let year = ty("2023-24");
        assert_eq!(serde_json::to_string(&year).unwrap(), "\"2023-24\"");
        assert_eq!(
            serde_json::from_str::<TaxYear>("\"2023-24\"").unwrap(),
            year
        );
        assert!(serde_json::from_str::<TaxYear>("\"2023-25\"").is_err());
    }
}
