//! Flow: fetch obligations (Obligations API v3.0).
//!
//! * `GET /obligations/details/{nino}/income-and-expenditure` — quarterly obligations per
//!   business, with optional filters.
//! * `GET /obligations/details/{nino}/crystallisation` — final-declaration obligations.
//!
//! HMRC answers 404 `NO_OBLIGATIONS_FOUND` when the filter matches nothing; this client returns
//! an empty list for it.

use chrono::NaiveDate;
use http::Method;
use serde::{Deserialize, Serialize};

use crate::{
    client::{Api, ApiRequest, CallContext, MtdClient, Response},
    error::{ApiError, Error},
    ids::{BusinessId, Nino},
    tax_year::TaxYear,
    types::{ObligationStatus, TypeOfBusiness},
};

/// One obligation period.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Obligation {
    /// First day of the period.
    pub period_start_date: NaiveDate,
    /// Last day of the period.
    pub period_end_date: NaiveDate,
    /// When the submission is due.
    pub due_date: NaiveDate,
    /// `open` or `fulfilled`.
    pub status: ObligationStatus,
    /// When HMRC received the submission (fulfilled obligations only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub received_date: Option<NaiveDate>,
}

/// The quarterly obligations of one business.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BusinessObligations {
    /// The business's type.
    pub type_of_business: TypeOfBusiness,
    /// The business's ID.
    pub business_id: BusinessId,
    /// Its obligations.
    pub obligation_details: Vec<Obligation>,
}

/// The answer to [`MtdClient::income_and_expenditure_obligations`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IncomeAndExpenditureObligations {
    /// One entry per business.
    pub obligations: Vec<BusinessObligations>,
}

/// The answer to [`MtdClient::final_declaration_obligations`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FinalDeclarationObligations {
    /// One entry per tax year.
    pub obligations: Vec<Obligation>,
}

/// Filters for income and expenditure obligations. All optional; with no dates and a status
/// other than `open`, HMRC uses today → today + 366 days.
///
/// ```
/// use hmrc_mtd::{BusinessId, ObligationStatus, TypeOfBusiness};
/// use hmrc_mtd::obligations::ObligationsQuery;
/// let query = ObligationsQuery::all()
///     .business(TypeOfBusiness::SelfEmployment, BusinessId::new("XAIS12345678910")?)
///     .between("2025-04-06".parse()?, "2026-04-05".parse()?)
///     .status(ObligationStatus::Open);
/// assert!(query.validate().is_ok());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObligationsQuery {
    /// Only this type of business (required with `business_id`).
    pub type_of_business: Option<TypeOfBusiness>,
    /// Only this business.
    pub business_id: Option<BusinessId>,
    /// From and to dates, sent together, spanning at most 366 days counting both ends (so at
    /// most 365 days apart).
    pub date_range: Option<(NaiveDate, NaiveDate)>,
    /// Only this status.
    pub status: Option<ObligationStatus>,
}

/// The earliest `fromDate` HMRC accepts.
const EARLIEST_FROM_DATE: (i32, u32, u32) = (2018, 4, 6);

impl ObligationsQuery {
    /// No filter.
    pub fn all() -> Self {
        Self::default()
    }

    /// Only the given business.
    pub fn business(mut self, type_of_business: TypeOfBusiness, business_id: BusinessId) -> Self {
        self.type_of_business = Some(type_of_business);
        self.business_id = Some(business_id);
        self
    }

    /// Only this type of business.
    pub fn type_of_business(mut self, type_of_business: TypeOfBusiness) -> Self {
        self.type_of_business = Some(type_of_business);
        self
    }

    /// Only obligations within these dates.
    pub fn between(mut self, from: NaiveDate, to: NaiveDate) -> Self {
        self.date_range = Some((from, to));
        self
    }

    /// The four quarters of a tax year.
    pub fn tax_year(self, tax_year: TaxYear) -> Self {
        self.between(tax_year.start_date(), tax_year.end_date())
    }

    /// Only this status.
    pub fn status(mut self, status: ObligationStatus) -> Self {
        self.status = Some(status);
        self
    }

    /// The checks HMRC makes on the query, made locally so a bad query costs no call.
    pub fn validate(&self) -> Result<(), Error> {
        let mut errors = Vec::new();
        if self.business_id.is_some() && self.type_of_business.is_none() {
            errors.push(ApiError::new(
                "MISSING_TYPE_OF_BUSINESS",
                "The type of business query parameter must be provided when a businessId is supplied",
            ));
        }
        if let Some((from, to)) = self.date_range {
            let earliest = NaiveDate::from_ymd_opt(
                EARLIEST_FROM_DATE.0,
                EARLIEST_FROM_DATE.1,
                EARLIEST_FROM_DATE.2,
            )
            .expect("6 April 2018 is a valid date");
            if to < from {
                errors.push(ApiError::new(
                    "RANGE_TO_DATE_BEFORE_FROM_DATE",
                    "The To date must be after the From date",
                ));
            } else if to == from || (to - from).num_days() >= 366 {
                // HMRC counts both ends: `to` must be before `from` + 366 days.
                errors.push(ApiError::new(
                    "RULE_DATE_RANGE_INVALID",
                    "The date range is invalid: at most 366 days counting both ends, and the dates must differ",
                ));
            }
            if from < earliest {
                errors.push(ApiError::new(
                    "RULE_FROM_DATE_NOT_SUPPORTED",
                    "The specified from date is not supported as it is too early",
                ));
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(Error::rejected_locally(errors))
        }
    }
}

impl MtdClient {
    /// Income and expenditure (quarterly) obligations, Obligations API v3.0:
    /// `GET /obligations/details/{nino}/income-and-expenditure`.
    ///
    /// ```no_run
    /// # use hmrc_mtd::*;
    /// # use hmrc_mtd::obligations::ObligationsQuery;
    /// # async fn example(client: MtdClient, call: CallContext<'_>) -> Result<(), Error> {
    /// let nino = Nino::new("AA123456A").expect("valid NINO");
    /// let year: TaxYear = "2025-26".parse().expect("valid tax year");
    /// let found = client
    ///     .income_and_expenditure_obligations(&call, &nino, &ObligationsQuery::all().tax_year(year))
    ///     .await?;
    /// for business in &found.body.obligations {
    ///     for due in business.obligation_details.iter().filter(|o| o.status == ObligationStatus::Open) {
    ///         println!("{} due {}", business.business_id, due.due_date);
    ///     }
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub async fn income_and_expenditure_obligations(
        &self,
        call: &CallContext<'_>,
        nino: &Nino,
        query: &ObligationsQuery,
    ) -> Result<Response<IncomeAndExpenditureObligations>, Error> {
        query.validate()?;
        let mut request = ApiRequest::new(
            Api::Obligations,
            Method::GET,
            "retrieve income and expenditure obligations",
            vec![
                "obligations",
                "details",
                nino.as_str(),
                "income-and-expenditure",
            ],
        );
        if let Some(kind) = &query.type_of_business {
            request = request.query("typeOfBusiness", kind);
        }
        if let Some(id) = &query.business_id {
            request = request.query("businessId", id);
        }
        if let Some((from, to)) = query.date_range {
            request = request.query("fromDate", from).query("toDate", to);
        }
        if let Some(status) = &query.status {
            request = request.query("status", status);
        }
        let raw = self.send(call, request).await?;
        if is_no_obligations(&raw) {
            return Ok(raw.respond(IncomeAndExpenditureObligations::default()));
        }
        raw.json()
    }

    /// Final-declaration (crystallisation) obligations, Obligations API v3.0:
    /// `GET /obligations/details/{nino}/crystallisation`. Without a tax year HMRC returns the
    /// four years before the current one up to the current one.
    ///
    /// ```no_run
    /// # use hmrc_mtd::*;
    /// # async fn example(client: MtdClient, call: CallContext<'_>, nino: Nino) -> Result<(), Error> {
    /// let year: TaxYear = "2024-25".parse().expect("valid tax year");
    /// let found = client.final_declaration_obligations(&call, &nino, Some(year), None).await?;
    /// println!("{} obligation(s), correlation id {:?}", found.body.obligations.len(), found.correlation_id);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn final_declaration_obligations(
        &self,
        call: &CallContext<'_>,
        nino: &Nino,
        tax_year: Option<TaxYear>,
        status: Option<ObligationStatus>,
    ) -> Result<Response<FinalDeclarationObligations>, Error> {
        let mut request = ApiRequest::new(
            Api::Obligations,
            Method::GET,
            "retrieve final declaration obligations",
            vec!["obligations", "details", nino.as_str(), "crystallisation"],
        );
        if let Some(year) = tax_year {
            request = request.query("taxYear", year);
        }
        if let Some(status) = &status {
            request = request.query("status", status);
        }
        let raw = self.send(call, request).await?;
        if is_no_obligations(&raw) {
            return Ok(raw.respond(FinalDeclarationObligations::default()));
        }
        raw.json()
    }
}

fn is_no_obligations(raw: &crate::client::RawResponse) -> bool {
    raw.status == 404
        && crate::classify::parse_error_body(&raw.body)
            .is_some_and(|body| body.code == "NO_OBLIGATIONS_FOUND")
}
