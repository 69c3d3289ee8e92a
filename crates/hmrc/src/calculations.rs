//! Flow: final declaration (crystallisation), Individual Calculations API v8.0, in three calls:
//!
//! 1. [`MtdClient::trigger_final_declaration_calculation`]:
//!    `POST /individuals/calculations/{nino}/self-assessment/{taxYear}/trigger/intent-to-finalise`
//!    → 202 `{"calculationId"}`;
//! 2. [`MtdClient::retrieve_calculation`]:
//!    `GET /individuals/calculations/{nino}/self-assessment/{taxYear}/{calculationId}` → 404
//!    until the calculation is ready ([`CalculationStatus::NotReady`]), then 200. HMRC advises
//!    waiting at least 5 seconds; the caller decides how to wait (for example a durable sleep);
//! 3. [`MtdClient::submit_final_declaration`]:
//!    `POST /individuals/calculations/{nino}/self-assessment/{taxYear}/{calculationId}/final-declaration`
//!    → 204.

use chrono::NaiveDate;
use http::Method;
use serde::{Deserialize, Serialize};

use crate::{
    client::{Api, ApiRequest, CallContext, MtdClient, Response},
    error::Error,
    ids::{CalculationId, Nino},
    money::Money,
    tax_year::TaxYear,
};

/// HMRC's answer to a trigger.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CalculationTriggered {
    /// The calculation to retrieve and then declare against.
    pub calculation_id: CalculationId,
}

/// Whether a triggered calculation can be read yet.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", content = "calculation", rename_all = "kebab-case")]
pub enum CalculationStatus {
    /// HMRC answered 404: the calculation is still running. Wait, then ask again.
    NotReady,
    /// The calculation.
    Ready(Box<Calculation>),
}

/// A retrieved tax calculation. The metadata and messages are typed; the calculation itself
/// (dozens of nested sections that vary by tax year) is kept as JSON.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Calculation {
    /// What was calculated and when.
    pub metadata: CalculationMetadata,
    /// The inputs HMRC used.
    pub inputs: serde_json::Value,
    /// The calculation, when HMRC produced one (absent when it has error messages).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calculation: Option<serde_json::Value>,
    /// Messages for the user; `errors` stop a final declaration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messages: Option<CalculationMessages>,
}

impl Calculation {
    /// `calculation.taxCalculation.totalIncomeTaxAndNicsDue`, the figure to show the user
    /// before they declare.
    pub fn total_income_tax_and_nics_due(&self) -> Option<Money> {
        let value = self
            .calculation
            .as_ref()?
            .pointer("/taxCalculation/totalIncomeTaxAndNicsDue")?;
        serde_json::from_value(value.clone()).ok()
    }

    /// The calculation's error messages (a final declaration needs none).
    pub fn errors(&self) -> &[CalculationMessage] {
        self.messages
            .as_ref()
            .and_then(|m| m.errors.as_deref())
            .unwrap_or_default()
    }
}

/// A calculation's metadata. Values that HMRC's schema lists as enums are kept as text (HMRC's
/// own examples use values outside them).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CalculationMetadata {
    /// The calculation's ID.
    pub calculation_id: String,
    /// The tax year.
    pub tax_year: String,
    /// `customer`, `hmrc` or `agent`.
    pub requested_by: String,
    /// When it was requested.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_timestamp: Option<String>,
    /// Why it was calculated.
    pub calculation_reason: String,
    /// When it was calculated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calculation_timestamp: Option<String>,
    /// `in-year`, `intent-to-finalise`, `declare-finalisation`, ...
    pub calculation_type: String,
    /// Whether the customer intends to declare (older tax years).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intent_to_submit_final_declaration: Option<bool>,
    /// Whether it has been declared (older tax years).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub final_declaration: Option<bool>,
    /// When it was declared (older tax years).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub final_declaration_timestamp: Option<String>,
    /// When it was finalised.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finalisation_timestamp: Option<String>,
    /// When an amendment was confirmed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirmation_timestamp: Option<String>,
    /// The earliest date covered.
    pub period_from: NaiveDate,
    /// The latest date covered.
    pub period_to: NaiveDate,
}

/// Messages attached to a calculation.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CalculationMessages {
    /// Information.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub info: Option<Vec<CalculationMessage>>,
    /// Warnings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warnings: Option<Vec<CalculationMessage>>,
    /// Errors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<CalculationMessage>>,
}

/// One calculation message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CalculationMessage {
    /// HMRC's message ID, e.g. `C22203`.
    pub id: String,
    /// The text to show.
    pub text: String,
}

impl MtdClient {
    /// Triggers the calculation a final declaration is made against, Individual Calculations
    /// API v8.0: `POST /individuals/calculations/{nino}/self-assessment/{taxYear}/trigger/intent-to-finalise`.
    ///
    /// A trigger after the year was already declared fails with
    /// [`Error::DuplicateSubmission`] (`RULE_FINAL_DECLARATION_RECEIVED`).
    ///
    /// ```no_run
    /// # use hmrc_mtd::*;
    /// # use hmrc_mtd::calculations::CalculationStatus;
    /// # async fn example(client: MtdClient, call: CallContext<'_>, nino: Nino) -> Result<(), Error> {
    /// let year: TaxYear = "2024-25".parse().expect("valid");
    /// let triggered = client.trigger_final_declaration_calculation(&call, &nino, year).await?;
    /// let id = triggered.body.calculation_id;
    /// // ... wait (HMRC: at least 5 seconds), e.g. with a durable sleep ...
    /// match client.retrieve_calculation(&call, &nino, year, &id).await?.body {
    ///     CalculationStatus::NotReady => println!("not ready yet; wait and ask again"),
    ///     CalculationStatus::Ready(calculation) => {
    ///         println!("tax due: {:?}", calculation.total_income_tax_and_nics_due());
    ///         // ... the user confirms the figures ...
    ///         client.submit_final_declaration(&call, &nino, year, &id).await?;
    ///     }
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub async fn trigger_final_declaration_calculation(
        &self,
        call: &CallContext<'_>,
        nino: &Nino,
        tax_year: TaxYear,
    ) -> Result<Response<CalculationTriggered>, Error> {
        let year = tax_year.to_string();
        let request = ApiRequest::new(
            Api::IndividualCalculations,
            Method::POST,
            "trigger intent-to-finalise calculation",
            vec![
                "individuals",
                "calculations",
                nino.as_str(),
                "self-assessment",
                &year,
                "trigger",
                "intent-to-finalise",
            ],
        );
        self.send(call, request).await?.json()
    }

    /// Retrieves a calculation, Individual Calculations API v8.0:
    /// `GET /individuals/calculations/{nino}/self-assessment/{taxYear}/{calculationId}`.
    /// HMRC's 404 `MATCHING_RESOURCE_NOT_FOUND` while it is still calculating becomes
    /// [`CalculationStatus::NotReady`].
    pub async fn retrieve_calculation(
        &self,
        call: &CallContext<'_>,
        nino: &Nino,
        tax_year: TaxYear,
        calculation_id: &CalculationId,
    ) -> Result<Response<CalculationStatus>, Error> {
        let year = tax_year.to_string();
        let request = ApiRequest::new(
            Api::IndividualCalculations,
            Method::GET,
            "retrieve calculation",
            vec![
                "individuals",
                "calculations",
                nino.as_str(),
                "self-assessment",
                &year,
                calculation_id.as_str(),
            ],
        );
        let raw = self.send(call, request).await?;
        let not_ready = raw.status == 404
            && crate::classify::parse_error_body(&raw.body)
                .is_some_and(|body| body.code == "MATCHING_RESOURCE_NOT_FOUND");
        if not_ready {
            return Ok(raw.respond(CalculationStatus::NotReady));
        }
        Ok(raw
            .json::<Calculation>()?
            .map(|c| CalculationStatus::Ready(Box::new(c))))
    }

    /// Submits the final declaration against a calculation, Individual Calculations API v8.0:
    /// `POST /individuals/calculations/{nino}/self-assessment/{taxYear}/{calculationId}/final-declaration`.
    ///
    /// A retry after HMRC already received the declaration fails with
    /// [`Error::DuplicateSubmission`] (`RULE_FINAL_DECLARATION_RECEIVED`): record it as
    /// declared.
    pub async fn submit_final_declaration(
        &self,
        call: &CallContext<'_>,
        nino: &Nino,
        tax_year: TaxYear,
        calculation_id: &CalculationId,
    ) -> Result<Response<()>, Error> {
        let year = tax_year.to_string();
        let request = ApiRequest::new(
            Api::IndividualCalculations,
            Method::POST,
            "submit final declaration",
            vec![
                "individuals",
                "calculations",
                nino.as_str(),
                "self-assessment",
                &year,
                calculation_id.as_str(),
                "final-declaration",
            ],
        );
        self.send(call, request).await?.no_content()
    }
}
