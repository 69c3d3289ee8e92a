//! What the app stores in a submission's `payload`, one type per kind, with the validation the
//! app runs before it creates a row.
//!
//! Each type implements [`SubmissionPayload`]: [`SubmissionPayload::validate`] makes the checks
//! HMRC makes that need no call (the tax year's regime, dates inside the tax year, expenses
//! rules, EOPS only for the years that had one) and names each field in error;
//! [`SubmissionPayload::new_submission`] validates and fills a [`NewSubmission`] (kind,
//! business, tax year, period, payload) for `store.submissions().create(...)`. The functions
//! read the row back with [`SubmissionPayload::from_submission`]. Money is
//! [`hmrc_mtd::Money`] / [`hmrc_mtd::UnsignedMoney`]: decimals with at most two places, never
//! floats.
//!
//! ```
//! use hmrc_mtd::{BusinessId, self_employment::{SelfEmploymentExpenses, SelfEmploymentIncome}};
//! use mtd_functions::payload::{PeriodFigures, PeriodSubmission, SelfEmploymentFigures, SubmissionPayload};
//!
//! let year: hmrc_mtd::TaxYear = "2025-26".parse()?;
//! let q1 = year.quarters()[0];
//! let period = PeriodSubmission {
//!     business_id: BusinessId::new("XAIS12345678910")?,
//!     tax_year: year,
//!     period_start: q1.start,
//!     period_end: q1.end,
//!     figures: PeriodFigures::SelfEmployment(SelfEmploymentFigures {
//!         income: Some(SelfEmploymentIncome { turnover: Some("12500.00".parse()?), ..Default::default() }),
//!         expenses: Some(SelfEmploymentExpenses::consolidated("3100.45".parse()?)),
//!         disallowable_expenses: None,
//!     }),
//! };
//! let new = period.new_submission("user-1", "AA123456A")?;
//! assert_eq!(new.kind, mtd_store::SubmissionKind::Period);
//! assert_eq!(new.tax_year.as_deref(), Some("2025-26"));
//!
//! // A period that ends outside its tax year is refused, naming the field.
//! let wrong = PeriodSubmission { period_end: "2026-04-06".parse()?, ..period };
//! let errors = wrong.validate().unwrap_err();
//! assert_eq!(errors.fields(), vec!["period_end"]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;

use chrono::NaiveDate;
use hmrc_mtd::{
    BusinessId, ObligationStatus, PeriodDates, Regime, TaxYear, TypeOfBusiness,
    eops::EndOfPeriodStatement,
    obligations::ObligationsQuery,
    property::{
        UkFhlPeriod, UkPropertyAnnualSubmission, UkPropertyCumulativeSummary, UkPropertyFigures,
        UkPropertyPeriodSummary,
    },
    self_employment::{
        SelfEmploymentAnnualSubmission, SelfEmploymentCumulativeSummary,
        SelfEmploymentDisallowableExpenses, SelfEmploymentExpenses, SelfEmploymentIncome,
        SelfEmploymentPeriodSummary,
    },
};
use mtd_store::{NewSubmission, Submission, SubmissionKind};
use serde::{Deserialize, Serialize, de::DeserializeOwned};

/// One problem with a payload, naming the field: a payload field (`period_end`) or a JSON
/// pointer into the body HMRC would receive (`/periodIncome/turnover`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    /// The field.
    pub field: String,
    /// HMRC's code for the problem where it has one (`RULE_…`, `FORMAT_…`), else ours.
    pub code: String,
    /// What is wrong and what to do.
    pub message: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            write!(f, "{}: {}", self.code, self.message)
        } else {
            write!(f, "{}: {} ({})", self.field, self.message, self.code)
        }
    }
}

/// Every problem found in a payload (never empty).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the submission cannot be sent to HMRC: {}; correct these fields and try again", join(.0))]
pub struct PayloadErrors(pub Vec<FieldError>);

fn join(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

impl PayloadErrors {
    fn one(field: &str, code: &str, message: impl Into<String>) -> Self {
        Self(vec![FieldError {
            field: field.to_owned(),
            code: code.to_owned(),
            message: message.into(),
        }])
    }

    /// The fields in error, in order.
    pub fn fields(&self) -> Vec<&str> {
        self.0.iter().map(|e| e.field.as_str()).collect()
    }

    /// Converts a refusal of the HMRC client's own pre-checks (`Error::Rejected`) into field
    /// errors, one per path; any other client error becomes one error without a field.
    pub(crate) fn from_hmrc(error: hmrc_mtd::Error) -> Self {
        match error {
            hmrc_mtd::Error::Rejected { errors, .. } => Self(
                errors
                    .into_iter()
                    .flat_map(|e| {
                        let paths = if e.paths.is_empty() {
                            vec![String::new()]
                        } else {
                            e.paths.clone()
                        };
                        paths.into_iter().map(move |field| FieldError {
                            field,
                            code: e.code.clone(),
                            message: e.message.clone(),
                        })
                    })
                    .collect(),
            ),
            other => Self::one("", "INVALID_PAYLOAD", other.to_string()),
        }
    }
}

/// A payload stored with a submission: what the app writes and the functions read back.
pub trait SubmissionPayload: Serialize + DeserializeOwned + Sized {
    /// The kind of submission this payload belongs to.
    const KIND: SubmissionKind;

    /// The checks HMRC would make that need no call, each failure naming its field.
    fn validate(&self) -> Result<(), PayloadErrors>;

    /// Validates, then fills a [`NewSubmission`] for `user_id`/`nino` (kind, business id, tax
    /// year, period and this payload). Add the captured fraud-prevention headers
    /// ([`crate::fraud::capture`]) and an idempotency key before creating it.
    fn new_submission(&self, user_id: &str, nino: &str) -> Result<NewSubmission, PayloadErrors>;

    /// Reads the payload of a stored submission of this kind.
    fn from_submission(submission: &Submission) -> Result<Self, PayloadErrors> {
        if submission.kind != Self::KIND {
            return Err(PayloadErrors::one(
                "kind",
                "WRONG_KIND",
                format!(
                    "submission {} is a {} submission, not a {}",
                    submission.id,
                    submission.kind,
                    Self::KIND
                ),
            ));
        }
        // Amounts are read from the JSON text (`Money` keeps exactly its digits); see
        // [`payload_json`] for why the stored value is exact.
        serde_json::from_str(&submission.payload.to_string()).map_err(|e| {
            PayloadErrors::one(
                "payload",
                "INVALID_PAYLOAD",
                format!(
                    "the stored payload does not read as a {}: {e}",
                    Self::KIND.describe()
                ),
            )
        })
    }
}

/// The payload as the store keeps it (`serde_json::Value`). Without serde_json's
/// `arbitrary_precision` a JSON number inside a `Value` is an `f64`; that is exact for every
/// amount `Money` accepts (at most two decimal places and 99,999,999,999.99: 13 significant
/// digits, below the 15 an `f64` always round-trips), and the shortest-representation printer
/// gives the same digits back (trailing zeros aside).
fn payload_json<T: Serialize>(payload: &T) -> Result<serde_json::Value, PayloadErrors> {
    serde_json::to_value(payload).map_err(|e| {
        PayloadErrors::one(
            "payload",
            "INVALID_PAYLOAD",
            format!("the payload cannot be stored as JSON: {e}"),
        )
    })
}

fn check_period(tax_year: TaxYear, start: NaiveDate, end: NaiveDate) -> Result<(), PayloadErrors> {
    let mut errors = Vec::new();
    if end < start {
        errors.push(FieldError {
            field: "period_end".into(),
            code: "RULE_END_DATE_BEFORE_START_DATE".into(),
            message: "the period must end on or after its start".into(),
        });
    }
    for (field, day) in [("period_start", start), ("period_end", end)] {
        if !tax_year.contains(day) {
            errors.push(FieldError {
                field: field.into(),
                code: "RULE_MISALIGNED_PERIOD".into(),
                message: format!(
                    "{day} is outside tax year {tax_year} ({} to {})",
                    tax_year.start_date(),
                    tax_year.end_date()
                ),
            });
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(PayloadErrors(errors))
    }
}

/// Self-employment figures of one quarterly update (period figures up to 2024-25, year to
/// date from 2025-26).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SelfEmploymentFigures {
    /// Income.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub income: Option<SelfEmploymentIncome>,
    /// Expenses (consolidated or itemised).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expenses: Option<SelfEmploymentExpenses>,
    /// Disallowable expenses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disallowable_expenses: Option<SelfEmploymentDisallowableExpenses>,
}

/// UK property figures of one quarterly update.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UkPropertyPeriodFigures {
    /// The property business's figures (non-FHL up to 2024-25).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uk_property: Option<UkPropertyFigures>,
    /// Furnished holiday lettings (tax years up to 2024-25 only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fhl: Option<UkFhlPeriod>,
}

/// The figures of a quarterly update, by type of business (JSON: `{"self-employment": {...}}`
/// or `{"uk-property": {...}}`; externally tagged, so amounts are read straight from the JSON
/// text, never buffered).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PeriodFigures {
    /// A self-employment business.
    SelfEmployment(SelfEmploymentFigures),
    /// A UK property business.
    UkProperty(UkPropertyPeriodFigures),
}

/// A quarterly update. The functions send it the way HMRC wants it for its tax year: a period
/// summary up to 2024-25 (`POST …/period`), a cumulative summary from 2025-26 (`PUT
/// …/cumulative/{taxYear}`, where `period_start` is the first day of the tax year).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeriodSubmission {
    /// HMRC's business id (`XAIS…`).
    pub business_id: BusinessId,
    /// The tax year.
    pub tax_year: TaxYear,
    /// First day covered.
    pub period_start: NaiveDate,
    /// Last day covered.
    pub period_end: NaiveDate,
    /// The figures.
    pub figures: PeriodFigures,
}

/// The HMRC body of a quarterly update, as chosen by business type and regime.
#[derive(Debug, Clone, PartialEq)]
pub enum PeriodBody {
    /// Self-employment period summary (up to 2024-25).
    SelfEmploymentPeriod(SelfEmploymentPeriodSummary),
    /// Self-employment cumulative summary (from 2025-26).
    SelfEmploymentCumulative(SelfEmploymentCumulativeSummary),
    /// UK property period summary (up to 2024-25).
    UkPropertyPeriod(UkPropertyPeriodSummary),
    /// UK property cumulative summary (from 2025-26).
    UkPropertyCumulative(UkPropertyCumulativeSummary),
}

impl PeriodSubmission {
    /// The body HMRC receives for this update, checked with the client's own rules.
    pub fn body(&self) -> Result<PeriodBody, PayloadErrors> {
        check_period(self.tax_year, self.period_start, self.period_end)?;
        let dates = PeriodDates::new(self.period_start, self.period_end);
        let body = match (&self.figures, self.tax_year.regime()) {
            (PeriodFigures::SelfEmployment(f), Regime::NonCumulative) => {
                let summary = SelfEmploymentPeriodSummary {
                    period_dates: dates,
                    period_income: f.income.clone(),
                    period_expenses: f.expenses.clone(),
                    period_disallowable_expenses: f.disallowable_expenses.clone(),
                };
                summary.validate().map_err(PayloadErrors::from_hmrc)?;
                PeriodBody::SelfEmploymentPeriod(summary)
            }
            (PeriodFigures::SelfEmployment(f), Regime::Cumulative) => {
                let summary = SelfEmploymentCumulativeSummary {
                    period_dates: Some(dates),
                    period_income: f.income.clone(),
                    period_expenses: f.expenses.clone(),
                    period_disallowable_expenses: f.disallowable_expenses.clone(),
                };
                summary
                    .validate(self.tax_year)
                    .map_err(PayloadErrors::from_hmrc)?;
                PeriodBody::SelfEmploymentCumulative(summary)
            }
            (PeriodFigures::UkProperty(f), Regime::NonCumulative) => {
                let summary = UkPropertyPeriodSummary {
                    from_date: self.period_start,
                    to_date: self.period_end,
                    uk_fhl_property: f.fhl.clone(),
                    uk_non_fhl_property: f.uk_property.clone(),
                };
                summary
                    .validate(self.tax_year)
                    .map_err(PayloadErrors::from_hmrc)?;
                PeriodBody::UkPropertyPeriod(summary)
            }
            (PeriodFigures::UkProperty(f), Regime::Cumulative) => {
                if f.fhl.is_some() {
                    return Err(PayloadErrors::one(
                        "figures.fhl",
                        "RULE_FHL_NOT_SUPPORTED",
                        format!(
                            "furnished holiday lettings are not reported separately from 2025-26 \
                             (tax year {})",
                            self.tax_year
                        ),
                    ));
                }
                let summary = UkPropertyCumulativeSummary {
                    from_date: Some(self.period_start),
                    to_date: Some(self.period_end),
                    uk_property: f.uk_property.clone().unwrap_or_default(),
                };
                summary
                    .validate(self.tax_year)
                    .map_err(PayloadErrors::from_hmrc)?;
                PeriodBody::UkPropertyCumulative(summary)
            }
        };
        Ok(body)
    }
}

impl SubmissionPayload for PeriodSubmission {
    const KIND: SubmissionKind = SubmissionKind::Period;

    fn validate(&self) -> Result<(), PayloadErrors> {
        self.body().map(|_| ())
    }

    fn new_submission(&self, user_id: &str, nino: &str) -> Result<NewSubmission, PayloadErrors> {
        self.validate()?;
        Ok(
            NewSubmission::new(Self::KIND, user_id, nino, payload_json(self)?)
                .business_id(self.business_id.as_str())
                .tax_year(self.tax_year.to_string())
                .period(self.period_start, self.period_end),
        )
    }
}

/// The annual figures, by type of business (JSON: `{"self-employment": <HMRC's annual
/// submission body>}` or `{"uk-property": ...}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AnnualFigures {
    /// Self-employment adjustments, allowances and non-financials.
    SelfEmployment(SelfEmploymentAnnualSubmission),
    /// UK property adjustments and allowances.
    UkProperty(UkPropertyAnnualSubmission),
}

/// An annual summary (annual submission) for one business and tax year.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnnualSubmission {
    /// HMRC's business id.
    pub business_id: BusinessId,
    /// The tax year.
    pub tax_year: TaxYear,
    /// The figures.
    pub figures: AnnualFigures,
}

impl SubmissionPayload for AnnualSubmission {
    const KIND: SubmissionKind = SubmissionKind::AnnualSummary;

    fn validate(&self) -> Result<(), PayloadErrors> {
        match &self.figures {
            AnnualFigures::SelfEmployment(s) => s.validate(),
            AnnualFigures::UkProperty(s) => s.validate(self.tax_year),
        }
        .map_err(PayloadErrors::from_hmrc)
    }

    fn new_submission(&self, user_id: &str, nino: &str) -> Result<NewSubmission, PayloadErrors> {
        self.validate()?;
        Ok(
            NewSubmission::new(Self::KIND, user_id, nino, payload_json(self)?)
                .business_id(self.business_id.as_str())
                .tax_year(self.tax_year.to_string()),
        )
    }
}

/// An End of Period Statement: only for accounting periods ending in 2023-24 or earlier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EopsSubmission {
    /// `self-employment`, `uk-property` or `foreign-property`.
    pub type_of_business: TypeOfBusiness,
    /// HMRC's business id.
    pub business_id: BusinessId,
    /// First day of the accounting period.
    pub period_start: NaiveDate,
    /// Last day of the accounting period (decides the tax year).
    pub period_end: NaiveDate,
}

impl EopsSubmission {
    /// The tax year the statement belongs to: the one its period ends in.
    pub fn tax_year(&self) -> Result<TaxYear, PayloadErrors> {
        TaxYear::containing(self.period_end)
            .map_err(|e| PayloadErrors::one("period_end", e.code(), e.to_string()))
    }

    /// The statement HMRC receives.
    pub fn statement(&self) -> EndOfPeriodStatement {
        EndOfPeriodStatement::new(
            self.type_of_business.clone(),
            self.business_id.clone(),
            self.period_start,
            self.period_end,
        )
    }
}

/// The code recorded when an End of Period Statement is asked for a tax year that has none.
pub const EOPS_NOT_REQUIRED_CODE: &str = "RULE_TAX_YEAR_NOT_SUPPORTED";

/// The message for an EOPS asked for a tax year that has none.
pub fn eops_not_required_message(tax_year: TaxYear) -> String {
    format!(
        "an End of Period Statement is not required for tax year {tax_year}: HMRC dropped them \
         from 2024-25, so nothing was sent to HMRC"
    )
}

impl SubmissionPayload for EopsSubmission {
    const KIND: SubmissionKind = SubmissionKind::Eops;

    fn validate(&self) -> Result<(), PayloadErrors> {
        let tax_year = self.tax_year()?;
        if !tax_year.had_eops() {
            return Err(PayloadErrors::one(
                "period_end",
                EOPS_NOT_REQUIRED_CODE,
                eops_not_required_message(tax_year),
            ));
        }
        self.statement()
            .validate()
            .map_err(PayloadErrors::from_hmrc)
    }

    fn new_submission(&self, user_id: &str, nino: &str) -> Result<NewSubmission, PayloadErrors> {
        self.validate()?;
        Ok(
            NewSubmission::new(Self::KIND, user_id, nino, payload_json(self)?)
                .business_id(self.business_id.as_str())
                .tax_year(self.tax_year()?.to_string())
                .period(self.period_start, self.period_end),
        )
    }
}

/// A final declaration (crystallisation) for a tax year.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrystallisationSubmission {
    /// The tax year to declare.
    pub tax_year: TaxYear,
}

impl CrystallisationSubmission {
    /// As [`SubmissionPayload::validate`], plus HMRC's rule that a year can only be declared
    /// after it ends (`RULE_TAX_YEAR_NOT_ENDED`), checked against `today`.
    pub fn validate_on(&self, today: NaiveDate) -> Result<(), PayloadErrors> {
        if today <= self.tax_year.end_date() {
            return Err(PayloadErrors::one(
                "tax_year",
                "RULE_TAX_YEAR_NOT_ENDED",
                format!(
                    "tax year {} ends on {}; it can be declared from the day after",
                    self.tax_year,
                    self.tax_year.end_date()
                ),
            ));
        }
        Ok(())
    }
}

impl SubmissionPayload for CrystallisationSubmission {
    const KIND: SubmissionKind = SubmissionKind::Crystallisation;

    fn validate(&self) -> Result<(), PayloadErrors> {
        Ok(())
    }

    fn new_submission(&self, user_id: &str, nino: &str) -> Result<NewSubmission, PayloadErrors> {
        Ok(
            NewSubmission::new(Self::KIND, user_id, nino, payload_json(self)?)
                .tax_year(self.tax_year.to_string()),
        )
    }
}

/// An obligations fetch: which quarterly obligations to fetch and cache.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObligationsFetch {
    /// Only this tax year (otherwise HMRC's default window: today to a year ahead).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tax_year: Option<TaxYear>,
    /// Only this type of business (required with `business_id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub type_of_business: Option<TypeOfBusiness>,
    /// Only this business.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub business_id: Option<BusinessId>,
    /// Only this status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ObligationStatus>,
}

impl ObligationsFetch {
    /// The HMRC query.
    pub fn query(&self) -> ObligationsQuery {
        let mut query = ObligationsQuery::all();
        if let Some(year) = self.tax_year {
            query = query.tax_year(year);
        }
        query.type_of_business = self.type_of_business.clone();
        query.business_id = self.business_id.clone();
        query.status = self.status.clone();
        query
    }
}

impl SubmissionPayload for ObligationsFetch {
    const KIND: SubmissionKind = SubmissionKind::ObligationsFetch;

    fn validate(&self) -> Result<(), PayloadErrors> {
        self.query().validate().map_err(PayloadErrors::from_hmrc)
    }

    fn new_submission(&self, user_id: &str, nino: &str) -> Result<NewSubmission, PayloadErrors> {
        self.validate()?;
        let mut new = NewSubmission::new(Self::KIND, user_id, nino, payload_json(self)?);
        if let Some(year) = self.tax_year {
            new = new.tax_year(year.to_string());
        }
        if let Some(business) = &self.business_id {
            new = new.business_id(business.as_str());
        }
        Ok(new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn se_period(year: &str, quarter: usize) -> PeriodSubmission {
        let tax_year: TaxYear = year.parse().unwrap();
        let q = tax_year.quarters()[quarter];
        PeriodSubmission {
            business_id: BusinessId::new("XAIS12345678910").unwrap(),
            tax_year,
            period_start: q.start,
            period_end: q.end,
            figures: PeriodFigures::SelfEmployment(SelfEmploymentFigures {
                income: Some(SelfEmploymentIncome {
                    turnover: Some("1000.00".parse().unwrap()),
                    ..Default::default()
                }),
                expenses: Some(SelfEmploymentExpenses::consolidated(
                    "10.00".parse().unwrap(),
                )),
                disallowable_expenses: None,
            }),
        }
    }

    #[test]
    fn the_regime_of_the_tax_year_picks_the_hmrc_body() {
        assert!(matches!(
            se_period("2024-25", 0).body().unwrap(),
            PeriodBody::SelfEmploymentPeriod(_)
        ));
        assert!(matches!(
            se_period("2025-26", 1).body().unwrap(),
            PeriodBody::SelfEmploymentCumulative(_)
        ));
    }

    #[test]
    fn payloads_round_trip_through_the_stored_json_and_refuse_unknown_fields() {
        let period = se_period("2024-25", 0);
        let json = serde_json::to_value(&period).unwrap();
        assert!(json["figures"]["self-employment"]["income"].is_object());
        let back: PeriodSubmission = serde_json::from_str(&json.to_string()).unwrap();
        assert_eq!(back, period);
        let mut typo = json;
        typo["figures"]["self-employment"]["incme"] = serde_json::json!({});
        assert!(serde_json::from_str::<PeriodSubmission>(&typo.to_string()).is_err());
    }

    #[test]
    fn amounts_survive_the_stores_json_value_exactly() {
        for text in [
            "99999999999.99",
            "0.01",
            "0.1",
            "1234567.89",
            "-99999999999.99",
            "12500.00",
            "7.05",
        ] {
            let amount: hmrc_mtd::Money = text.parse().unwrap();
            let stored = serde_json::to_value(amount).unwrap();
            let back: hmrc_mtd::Money = serde_json::from_str(&stored.to_string()).unwrap();
            assert_eq!(back, amount, "{text} came back as {stored}");
        }
    }

    #[test]
    fn eops_is_refused_up_front_from_2024_25_naming_the_period_end() {
        let eops = EopsSubmission {
            type_of_business: TypeOfBusiness::SelfEmployment,
            business_id: BusinessId::new("XAIS12345678910").unwrap(),
            period_start: "2025-04-06".parse().unwrap(),
            period_end: "2026-04-05".parse().unwrap(),
        };
        let errors = eops.validate().unwrap_err();
        assert_eq!(errors.fields(), vec!["period_end"]);
        assert_eq!(errors.0[0].code, EOPS_NOT_REQUIRED_CODE);
        assert!(
            errors
                .to_string()
                .contains("not required for tax year 2025-26")
        );
        let old = EopsSubmission {
            period_start: "2023-04-06".parse().unwrap(),
            period_end: "2024-04-05".parse().unwrap(),
            ..eops
        };
        assert!(old.validate().is_ok());
    }

    #[test]
    fn hmrc_client_refusals_become_field_errors_with_their_paths() {
        let mut period = se_period("2024-25", 0);
        if let PeriodFigures::SelfEmployment(f) = &mut period.figures {
            f.expenses = Some(SelfEmploymentExpenses {
                consolidated_expenses: Some("1.00".parse().unwrap()),
                cost_of_goods: Some("2.00".parse().unwrap()),
                ..Default::default()
            });
        }
        let errors = period.validate().unwrap_err();
        assert!(!errors.0.is_empty());
        assert!(errors.0.iter().all(|e| e.code.starts_with("RULE_")));
    }

    #[test]
    fn a_final_declaration_waits_for_the_end_of_the_year() {
        let c = CrystallisationSubmission {
            tax_year: "2024-25".parse().unwrap(),
        };
        assert!(c.validate_on("2025-04-05".parse().unwrap()).is_err());
        assert!(c.validate_on("2025-04-06".parse().unwrap()).is_ok());
    }
}
