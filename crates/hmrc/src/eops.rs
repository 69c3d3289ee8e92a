//! Flow: End of Period Statement (Individuals Business EOPS API v3.0), only for the tax years
//! that had one (up to 2023-24):
//! `POST /individuals/business/end-of-period-statement/{nino}` → 204.
//!
//! HMRC dropped EOPS from 2024-25. For later years [`MtdClient::submit_end_of_period_statement`]
//! returns [`Error::NotRequired`] at once, without any HTTP call.

use chrono::NaiveDate;
use http::Method;
use serde::{Deserialize, Serialize, Serializer};

use crate::{
    checks::Checks,
    client::{Api, ApiRequest, CallContext, MtdClient, Response},
    error::{ApiError, Error},
    ids::{BusinessId, Nino},
    tax_year::TaxYear,
    types::TypeOfBusiness,
};

/// The accounting period a statement covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AccountingPeriod {
    /// First day.
    pub start_date: NaiveDate,
    /// Last day.
    pub end_date: NaiveDate,
}

/// An End of Period Statement: the declaration that a business's figures for an accounting
/// period are complete. `finalised` is always `true`.
///
/// ```
/// use hmrc_mtd::{BusinessId, TypeOfBusiness};
/// use hmrc_mtd::eops::EndOfPeriodStatement;
/// let statement = EndOfPeriodStatement::new(
///     TypeOfBusiness::SelfEmployment,
///     BusinessId::new("XAIS12345678910")?,
///     "2021-04-06".parse()?,
///     "2022-04-05".parse()?,
/// );
/// assert_eq!(statement.tax_year()?.to_string(), "2021-22");
/// assert_eq!(
///     serde_json::to_string(&statement)?,
///     r#"{"typeOfBusiness":"self-employment","businessId":"XAIS12345678910","accountingPeriod":{"startDate":"2021-04-06","endDate":"2022-04-05"},"finalised":true}"#
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EndOfPeriodStatement {
    /// `self-employment`, `uk-property` or `foreign-property`.
    pub type_of_business: TypeOfBusiness,
    /// The business.
    pub business_id: BusinessId,
    /// The accounting period declared complete.
    pub accounting_period: AccountingPeriod,
    #[serde(serialize_with = "always_true", deserialize_with = "only_true")]
    finalised: bool,
}

fn always_true<S: Serializer>(_: &bool, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_bool(true)
}

fn only_true<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    if bool::deserialize(deserializer)? {
        Ok(true)
    } else {
        Err(serde::de::Error::custom(
            "finalised must be true (HMRC: FORMAT_FINALISED)",
        ))
    }
}

impl EndOfPeriodStatement {
    /// A finalised statement for the accounting period `start ..= end`.
    pub fn new(
        type_of_business: TypeOfBusiness,
        business_id: BusinessId,
        start_date: NaiveDate,
        end_date: NaiveDate,
    ) -> Self {
        Self {
            type_of_business,
            business_id,
            accounting_period: AccountingPeriod {
                start_date,
                end_date,
            },
            finalised: true,
        }
    }

    /// The tax year the statement belongs to: the one the accounting period ends in.
    pub fn tax_year(&self) -> Result<TaxYear, Error> {
        TaxYear::containing(self.accounting_period.end_date).map_err(|e| {
            Error::rejected_locally(vec![
                ApiError::new("FORMAT_END_DATE", e.to_string())
                    .with_path("/accountingPeriod/endDate"),
            ])
        })
    }

    /// The checks HMRC makes that need no call.
    pub fn validate(&self) -> Result<(), Error> {
        let mut checks = Checks::default();
        if !matches!(
            self.type_of_business,
            TypeOfBusiness::SelfEmployment
                | TypeOfBusiness::UkProperty
                | TypeOfBusiness::ForeignProperty
        ) {
            checks.push(
                "FORMAT_TYPE_OF_BUSINESS",
                "The provided type of business is invalid",
                Some("/typeOfBusiness"),
            );
        }
        if self.accounting_period.end_date < self.accounting_period.start_date {
            checks.push(
                "RULE_END_DATE_BEFORE_START_DATE",
                "The End date must be after the Start date",
                Some("/accountingPeriod"),
            );
        }
        checks.finish()
    }
}

impl MtdClient {
    /// Submits an End of Period Statement, Individuals Business EOPS API v3.0:
    /// `POST /individuals/business/end-of-period-statement/{nino}`.
    ///
    /// For accounting periods ending in 2024-25 or later, returns [`Error::NotRequired`]
    /// without calling HMRC. A retry of a statement HMRC already holds fails with
    /// [`Error::DuplicateSubmission`] (`RULE_ALREADY_SUBMITTED`).
    ///
    /// ```no_run
    /// # use hmrc_mtd::*;
    /// # use hmrc_mtd::eops::EndOfPeriodStatement;
    /// # async fn example(client: MtdClient, call: CallContext<'_>, nino: Nino, business: BusinessId) -> Result<(), Error> {
    /// let year: TaxYear = "2023-24".parse().expect("valid");
    /// let statement = EndOfPeriodStatement::new(TypeOfBusiness::SelfEmployment, business, year.start_date(), year.end_date());
    /// match client.submit_end_of_period_statement(&call, &nino, &statement).await {
    ///     Ok(_) => println!("declared"),
    ///     Err(e) if e.is_not_required() => println!("no EOPS for {year}"),
    ///     Err(e) => return Err(e),
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub async fn submit_end_of_period_statement(
        &self,
        call: &CallContext<'_>,
        nino: &Nino,
        statement: &EndOfPeriodStatement,
    ) -> Result<Response<()>, Error> {
        let tax_year = statement.tax_year()?;
        if !tax_year.had_eops() {
            return Err(Error::NotRequired {
                what: "an End of Period Statement".into(),
                tax_year,
            });
        }
        statement.validate()?;
        let request = ApiRequest::new(
            Api::EndOfPeriodStatement,
            Method::POST,
            "submit end of period statement",
            vec![
                "individuals",
                "business",
                "end-of-period-statement",
                nino.as_str(),
            ],
        )
        .json(statement)?;
        self.send(call, request).await?.no_content()
    }
}
