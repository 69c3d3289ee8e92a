//! UK property flows (Property Business API v6.0):
//!
//! * quarterly update up to 2024-25:
//!   `POST /individuals/business/property/uk/{nino}/{businessId}/period/{taxYear}` → 201
//!   `{"submissionId"}`;
//! * quarterly update from 2025-26 (year-to-date figures):
//!   `PUT /individuals/business/property/uk/{nino}/{businessId}/cumulative/{taxYear}` → 204;
//! * annual submission: `PUT /individuals/business/property/uk/{nino}/{businessId}/annual/{taxYear}` → 204.

use chrono::NaiveDate;
use http::Method;
use serde::{Deserialize, Serialize};

use crate::{
    checks::{Checks, is_empty_object},
    client::{Api, ApiRequest, CallContext, MtdClient, Response, json_value},
    error::Error,
    ids::{BusinessId, Nino},
    money::{Money, UnsignedMoney},
    self_employment::{allowance_limit, cumulative_year},
    tax_year::{Regime, TaxYear},
    types::StructuredBuildingAllowance,
};

/// Rent-a-room income.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RentARoomIncome {
    /// Total rents received.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rents_received: Option<UnsignedMoney>,
}

/// Rent-a-room expenses.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RentARoomExpenses {
    /// The amount claimed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount_claimed: Option<UnsignedMoney>,
}

/// UK property income (non-FHL up to 2024-25; all UK property from 2025-26).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PropertyIncome {
    /// Premiums received for the grant of a lease and other lump sums to possess a property.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub premiums_of_lease_grant: Option<UnsignedMoney>,
    /// Amount paid by a landlord or outgoing tenant to induce a new tenant to enter into a leasehold agreement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reverse_premiums: Option<UnsignedMoney>,
    /// Total rents from property, ground rents and rent charges but not rent-a-room.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period_amount: Option<UnsignedMoney>,
    /// The tax deducted from the income.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tax_deducted: Option<UnsignedMoney>,
    /// Total amount of rent and any income for services provided to tenants.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub other_income: Option<UnsignedMoney>,
    /// Object holding the rents received for rooms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rent_a_room: Option<RentARoomIncome>,
}

/// UK property expenses (non-FHL up to 2024-25; all UK property from 2025-26): either
/// `consolidated_expenses` (which may be combined with the residential finance costs and
/// rent-a-room) or the itemised fields.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PropertyExpenses {
    /// Rent, rates, power and insurance costs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub premises_running_costs: Option<Money>,
    /// Property repairs and maintenance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repairs_and_maintenance: Option<Money>,
    /// Loan interest and other financial costs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub financial_costs: Option<Money>,
    /// Accountancy, legal and other professional fees.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub professional_fees: Option<Money>,
    /// Cost of services provided, including wages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_of_services: Option<Money>,
    /// Any other business income not included in turnover.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub other: Option<Money>,
    /// The residential financial cost deductible from rental income (tax relief).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub residential_financial_cost: Option<UnsignedMoney>,
    /// Car, van and travel costs incurred in running a property business.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub travel_costs: Option<Money>,
    /// Amount of residential financial costs carried forward.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub residential_financial_costs_carried_forward: Option<UnsignedMoney>,
    /// Object holding the rents received for rooms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rent_a_room: Option<RentARoomExpenses>,
    /// The sum of all allowable expenses for the specified period.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consolidated_expenses: Option<Money>,
}

impl PropertyExpenses {
    fn both_supplied(&self) -> bool {
        self.consolidated_expenses.is_some()
            && [
                self.premises_running_costs,
                self.repairs_and_maintenance,
                self.financial_costs,
                self.professional_fees,
                self.cost_of_services,
                self.other,
                self.travel_costs,
            ]
            .iter()
            .any(Option::is_some)
    }
}

/// Furnished holiday lettings income (tax years up to 2024-25).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FhlIncome {
    /// Total rents from property, ground rents and rent charges but not rent-a-room.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period_amount: Option<UnsignedMoney>,
    /// The tax deducted from the income.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tax_deducted: Option<UnsignedMoney>,
    /// Object holding the rents received for rooms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rent_a_room: Option<RentARoomIncome>,
}

/// Furnished holiday lettings expenses (tax years up to 2024-25).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FhlExpenses {
    /// Rent, rates, power and insurance costs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub premises_running_costs: Option<Money>,
    /// Property repairs and maintenance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repairs_and_maintenance: Option<Money>,
    /// Loan interest and other financial costs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub financial_costs: Option<Money>,
    /// Accountancy, legal and other professional fees.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub professional_fees: Option<Money>,
    /// Cost of services provided, including wages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_of_services: Option<Money>,
    /// Car, van and travel costs incurred in running a property business.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub travel_costs: Option<Money>,
    /// Any other business income not included in turnover.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub other: Option<Money>,
    /// Object holding the rents received for rooms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rent_a_room: Option<RentARoomExpenses>,
    /// The sum of all allowable expenses for the specified period.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consolidated_expenses: Option<Money>,
}

impl FhlExpenses {
    fn both_supplied(&self) -> bool {
        self.consolidated_expenses.is_some()
            && [
                self.premises_running_costs,
                self.repairs_and_maintenance,
                self.financial_costs,
                self.professional_fees,
                self.cost_of_services,
                self.travel_costs,
                self.other,
            ]
            .iter()
            .any(Option::is_some)
    }
}

/// The FHL part of a period summary.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UkFhlPeriod {
    /// Income.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub income: Option<FhlIncome>,
    /// Expenses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expenses: Option<FhlExpenses>,
}

/// The non-FHL part of a period summary, or the whole UK property business from 2025-26.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UkPropertyFigures {
    /// Income.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub income: Option<PropertyIncome>,
    /// Expenses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expenses: Option<PropertyExpenses>,
}

/// A UK property income and expenses period summary (tax years up to 2024-25).
///
/// ```
/// use hmrc_mtd::property::{PropertyIncome, UkPropertyFigures, UkPropertyPeriodSummary};
/// let summary = UkPropertyPeriodSummary::new("2024-04-06".parse()?, "2024-07-05".parse()?)
///     .non_fhl(UkPropertyFigures {
///         income: Some(PropertyIncome { period_amount: Some("3000.00".parse()?), ..Default::default() }),
///         expenses: None,
///     });
/// assert!(summary.validate("2024-25".parse()?).is_ok());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UkPropertyPeriodSummary {
    /// First day covered.
    pub from_date: NaiveDate,
    /// Last day covered.
    pub to_date: NaiveDate,
    /// Furnished holiday lettings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uk_fhl_property: Option<UkFhlPeriod>,
    /// Everything else.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uk_non_fhl_property: Option<UkPropertyFigures>,
}

impl UkPropertyPeriodSummary {
    /// A summary for `from ..= to` with no figures yet.
    pub fn new(from_date: NaiveDate, to_date: NaiveDate) -> Self {
        Self {
            from_date,
            to_date,
            uk_fhl_property: None,
            uk_non_fhl_property: None,
        }
    }

    /// Sets the FHL figures.
    pub fn fhl(mut self, fhl: UkFhlPeriod) -> Self {
        self.uk_fhl_property = Some(fhl);
        self
    }

    /// Sets the non-FHL figures.
    pub fn non_fhl(mut self, figures: UkPropertyFigures) -> Self {
        self.uk_non_fhl_property = Some(figures);
        self
    }

    /// The checks HMRC makes that need no call.
    pub fn validate(&self, tax_year: TaxYear) -> Result<(), Error> {
        let mut checks = Checks::default();
        if tax_year.regime() == Regime::Cumulative {
            checks.push(
                "RULE_TAX_YEAR_NOT_SUPPORTED",
                "Period summaries only cover tax years up to 2024-25; use the cumulative summary from 2025-26",
                None,
            );
        }
        if self.to_date < self.from_date {
            checks.push(
                "RULE_TO_DATE_BEFORE_FROM_DATE",
                "The To date cannot be earlier than the From date",
                None,
            );
        }
        if self.uk_fhl_property.is_none() && self.uk_non_fhl_property.is_none() {
            checks.push(
                "RULE_INCORRECT_OR_EMPTY_BODY_SUBMITTED",
                "An empty or non-matching body was submitted",
                None,
            );
        }
        if self
            .uk_fhl_property
            .as_ref()
            .and_then(|p| p.expenses.as_ref())
            .is_some_and(FhlExpenses::both_supplied)
        {
            checks.push(
                "RULE_BOTH_EXPENSES_SUPPLIED",
                "Both expenses and consolidatedExpenses can not be present at the same time",
                Some("/ukFhlProperty/expenses"),
            );
        }
        if self
            .uk_non_fhl_property
            .as_ref()
            .and_then(|p| p.expenses.as_ref())
            .is_some_and(PropertyExpenses::both_supplied)
        {
            checks.push(
                "RULE_BOTH_EXPENSES_SUPPLIED",
                "Both expenses and consolidatedExpenses can not be present at the same time",
                Some("/ukNonFhlProperty/expenses"),
            );
        }
        checks.finish()
    }
}

/// A UK property cumulative (year-to-date) summary (tax years from 2025-26).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UkPropertyCumulativeSummary {
    /// From the start of the tax year (not needed for `Annual` ITSA status or latent income).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_date: Option<NaiveDate>,
    /// To the end of the latest quarter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_date: Option<NaiveDate>,
    /// The figures.
    pub uk_property: UkPropertyFigures,
}

impl UkPropertyCumulativeSummary {
    /// The checks HMRC makes that need no call.
    pub fn validate(&self, tax_year: TaxYear) -> Result<(), Error> {
        let mut checks = Checks::default();
        cumulative_year(&mut checks, tax_year);
        if self.from_date.is_some() != self.to_date.is_some() {
            checks.push(
                "RULE_MISSING_SUBMISSION_DATES",
                "Submission start/end date not provided",
                None,
            );
        }
        if let (Some(from), Some(to)) = (self.from_date, self.to_date)
            && to < from
        {
            checks.push(
                "RULE_TO_DATE_BEFORE_FROM_DATE",
                "The To date cannot be earlier than the From date",
                None,
            );
        }
        if self.uk_property.income.is_none() && self.uk_property.expenses.is_none() {
            checks.push(
                "RULE_INCORRECT_OR_EMPTY_BODY_SUBMITTED",
                "An empty or non-matching body was submitted",
                Some("/ukProperty"),
            );
        }
        if self
            .uk_property
            .expenses
            .as_ref()
            .is_some_and(PropertyExpenses::both_supplied)
        {
            checks.push(
                "RULE_BOTH_EXPENSES_SUPPLIED",
                "Both expenses and consolidatedExpenses can not be present at the same time",
                Some("/ukProperty/expenses"),
            );
        }
        checks.finish()
    }
}

/// Rent-a-room annual details.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RentARoomAnnual {
    /// Whether the room is jointly let.
    pub jointly_let: bool,
}

/// FHL annual adjustments (tax years up to 2024-25).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FhlAdjustments {
    /// Any adjustments that are not solely for the property business.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_use_adjustment: Option<UnsignedMoney>,
    /// If an item for which capital allowance was claimed has been sold, given away or is no longer in use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub balancing_charge: Option<UnsignedMoney>,
    /// A boolean to identify a property which didn't qualify for FHL this year, but qualified the previous year.
    pub period_of_grace_adjustment: bool,
    /// Income from the sale or grant of a long lease for a premium of renovated business premises within 7 years of first use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub business_premises_renovation_allowance_balancing_charges: Option<UnsignedMoney>,
    /// A boolean to identify that the user is a Non-Resident Landlord.
    pub non_resident_landlord: bool,
    /// Object holding the rents received for rooms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rent_a_room: Option<RentARoomAnnual>,
}

/// FHL annual allowances (tax years up to 2024-25).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FhlAllowances {
    /// Annual investment allowance on items that qualify up to the AIA amount.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annual_investment_allowance: Option<UnsignedMoney>,
    /// Business Premises Renovation Allowance if converting or renovating unused qualifying business premises.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub business_premises_renovation_allowance: Option<UnsignedMoney>,
    /// All other capital allowances.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub other_capital_allowance: Option<UnsignedMoney>,
    /// The expenditure incurred on electric charge-point equipment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub electric_charge_point_allowance: Option<UnsignedMoney>,
    /// The amount of zero emissions car allowance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zero_emissions_car_allowance: Option<UnsignedMoney>,
    /// The amount of tax exemption for individuals with income from land or property.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub property_income_allowance: Option<UnsignedMoney>,
}

/// The FHL part of an annual submission (tax years up to 2024-25).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UkFhlAnnual {
    /// Adjustments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adjustments: Option<FhlAdjustments>,
    /// Allowances.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowances: Option<FhlAllowances>,
}

/// UK property annual adjustments.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UkPropertyAdjustments {
    /// If an item for which capital allowance was claimed has been sold, given away or is no longer in use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub balancing_charge: Option<UnsignedMoney>,
    /// Any adjustments that are not solely for the property business.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_use_adjustment: Option<UnsignedMoney>,
    /// Income from the sale or grant of a long lease for a premium of renovated business premises within 7 years of first use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub business_premises_renovation_allowance_balancing_charges: Option<UnsignedMoney>,
    /// A boolean to identify that the user is a Non-Resident Landlord.
    pub non_resident_landlord: bool,
    /// Object holding the rents received for rooms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rent_a_room: Option<RentARoomAnnual>,
}

/// UK property annual allowances. `zero_emissions_goods_vehicle_allowance` and
/// `electric_charge_point_allowance` exist up to 2024-25; `property_income_allowance` (at most
/// 1000) cannot be combined with the others.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UkPropertyAllowances {
    /// Annual investment allowance on items that qualify up to the AIA amount.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annual_investment_allowance: Option<UnsignedMoney>,
    /// Zero emissions goods vehicle allowance for goods vehicles purchased for business use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zero_emissions_goods_vehicle_allowance: Option<UnsignedMoney>,
    /// Business Premises Renovation Allowance if converting or renovating unused qualifying business premises.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub business_premises_renovation_allowance: Option<UnsignedMoney>,
    /// All other capital allowances.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub other_capital_allowance: Option<UnsignedMoney>,
    /// Cost of Replacing Domestic Items - formerly Wear and Tear allowance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_of_replacing_domestic_items: Option<UnsignedMoney>,
    /// The expenditure incurred on electric charge-point equipment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub electric_charge_point_allowance: Option<UnsignedMoney>,
    /// The amount of zero emissions car allowance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zero_emissions_car_allowance: Option<UnsignedMoney>,
    /// The amount of tax exemption for individuals with income from land or property.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub property_income_allowance: Option<UnsignedMoney>,
    /// Details about structured building allowance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub structured_building_allowance: Option<Vec<StructuredBuildingAllowance>>,
    /// Details about enhanced structured building allowance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enhanced_structured_building_allowance: Option<Vec<StructuredBuildingAllowance>>,
}

/// The UK property (non-FHL) part of an annual submission.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UkPropertyAnnual {
    /// Adjustments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adjustments: Option<UkPropertyAdjustments>,
    /// Allowances.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowances: Option<UkPropertyAllowances>,
}

/// A UK property annual submission. `uk_fhl_property` exists up to 2024-25 only.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UkPropertyAnnualSubmission {
    /// Furnished holiday lettings (up to 2024-25).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uk_fhl_property: Option<UkFhlAnnual>,
    /// Everything else.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uk_property: Option<UkPropertyAnnual>,
}

impl UkPropertyAnnualSubmission {
    /// The checks HMRC makes that need no call: a non-empty body, fields the tax year's schema
    /// does not have, the property income allowance's limit and exclusivity.
    pub fn validate(&self, tax_year: TaxYear) -> Result<(), Error> {
        let body = json_value(self)?;
        let mut checks = Checks::default();
        if is_empty_object(&body) {
            checks.push(
                "RULE_INCORRECT_OR_EMPTY_BODY_SUBMITTED",
                "An empty or non-matching body was submitted",
                None,
            );
        }
        if tax_year.start_year() >= 2025 {
            checks.absent(
                &body,
                &[
                    "/ukFhlProperty",
                    "/ukProperty/allowances/zeroEmissionsGoodsVehicleAllowance",
                    "/ukProperty/allowances/electricChargePointAllowance",
                ],
                "Furnished holiday lettings, zero-emission goods vehicle and electric charge point allowances end with 2024-25",
            );
        }
        for (base, pia) in [
            (
                "/ukFhlProperty/allowances",
                self.uk_fhl_property
                    .as_ref()
                    .and_then(|p| p.allowances.as_ref())
                    .and_then(|a| a.property_income_allowance),
            ),
            (
                "/ukProperty/allowances",
                self.uk_property
                    .as_ref()
                    .and_then(|p| p.allowances.as_ref())
                    .and_then(|a| a.property_income_allowance),
            ),
        ] {
            let Some(pia) = pia else { continue };
            let adjustments = base.replace("/allowances", "/adjustments/privateUseAdjustment");
            if body.pointer(&adjustments).is_some() {
                checks.push(
                    "RULE_PROPERTY_INCOME_ALLOWANCE",
                    "The propertyIncomeAllowance cannot be submitted if privateUseAdjustment is supplied",
                    Some(&format!("{base}/propertyIncomeAllowance")),
                );
            }
            allowance_limit(&mut checks, pia, &format!("{base}/propertyIncomeAllowance"));
            let others = body
                .pointer(base)
                .and_then(serde_json::Value::as_object)
                .is_some_and(|o| o.keys().any(|k| k != "propertyIncomeAllowance"));
            if others {
                checks.push(
                    "RULE_BOTH_ALLOWANCES_SUPPLIED",
                    "Both allowances and property allowances must not be present at the same time",
                    Some(base),
                );
            }
        }
        checks.finish()
    }
}

/// HMRC's answer to a UK property period summary.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PropertySubmissionCreated {
    /// The submission's ID (a UUID).
    pub submission_id: String,
}

impl MtdClient {
    /// Submits a UK property period summary (tax years up to 2024-25), Property Business API
    /// v6.0: `POST /individuals/business/property/uk/{nino}/{businessId}/period/{taxYear}`.
    ///
    /// ```no_run
    /// # use hmrc_mtd::*;
    /// # use hmrc_mtd::property::*;
    /// # async fn example(client: MtdClient, call: CallContext<'_>, nino: Nino, business: BusinessId) -> Result<(), Error> {
    /// let year: TaxYear = "2024-25".parse().expect("valid");
    /// let q1 = year.quarters()[0];
    /// let summary = UkPropertyPeriodSummary::new(q1.start, q1.end).non_fhl(UkPropertyFigures {
    ///     income: Some(PropertyIncome { period_amount: Some("3000.00".parse().expect("valid")), ..Default::default() }),
    ///     expenses: Some(PropertyExpenses { consolidated_expenses: Some("500.00".parse().expect("valid")), ..Default::default() }),
    /// });
    /// let receipt = client.submit_uk_property_period(&call, &nino, &business, year, &summary).await?;
    /// println!("submission {:?}", receipt.body.map(|b| b.submission_id));
    /// # Ok(())
    /// # }
    /// ```
    pub async fn submit_uk_property_period(
        &self,
        call: &CallContext<'_>,
        nino: &Nino,
        business_id: &BusinessId,
        tax_year: TaxYear,
        summary: &UkPropertyPeriodSummary,
    ) -> Result<Response<Option<PropertySubmissionCreated>>, Error> {
        summary.validate(tax_year)?;
        let year = tax_year.to_string();
        let request = ApiRequest::new(
            Api::PropertyBusiness,
            Method::POST,
            "create UK property period summary",
            vec![
                "individuals",
                "business",
                "property",
                "uk",
                nino.as_str(),
                business_id.as_str(),
                "period",
                &year,
            ],
        )
        .json(summary)?;
        self.send(call, request).await?.accepted()
    }

    /// Creates or amends the UK property cumulative summary (tax years from 2025-26), Property
    /// Business API v6.0:
    /// `PUT /individuals/business/property/uk/{nino}/{businessId}/cumulative/{taxYear}`.
    ///
    /// ```no_run
    /// # use hmrc_mtd::*;
    /// # use hmrc_mtd::property::*;
    /// # async fn example(client: MtdClient, call: CallContext<'_>, nino: Nino, business: BusinessId) -> Result<(), Error> {
    /// let year: TaxYear = "2025-26".parse().expect("valid");
    /// let q1 = year.quarters()[0];
    /// let summary = UkPropertyCumulativeSummary {
    ///     from_date: Some(q1.start),
    ///     to_date: Some(q1.end),
    ///     uk_property: UkPropertyFigures {
    ///         income: Some(PropertyIncome { period_amount: Some("3000.00".parse().expect("valid")), ..Default::default() }),
    ///         expenses: None,
    ///     },
    /// };
    /// client.submit_uk_property_cumulative(&call, &nino, &business, year, &summary).await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn submit_uk_property_cumulative(
        &self,
        call: &CallContext<'_>,
        nino: &Nino,
        business_id: &BusinessId,
        tax_year: TaxYear,
        summary: &UkPropertyCumulativeSummary,
    ) -> Result<Response<()>, Error> {
        summary.validate(tax_year)?;
        let year = tax_year.to_string();
        let request = ApiRequest::new(
            Api::PropertyBusiness,
            Method::PUT,
            "create or amend UK property cumulative summary",
            vec![
                "individuals",
                "business",
                "property",
                "uk",
                nino.as_str(),
                business_id.as_str(),
                "cumulative",
                &year,
            ],
        )
        .json(summary)?;
        self.send(call, request).await?.no_content()
    }

    /// Creates or amends the UK property annual submission, Property Business API v6.0:
    /// `PUT /individuals/business/property/uk/{nino}/{businessId}/annual/{taxYear}`.
    ///
    /// ```no_run
    /// # use hmrc_mtd::*;
    /// # use hmrc_mtd::property::*;
    /// # async fn example(client: MtdClient, call: CallContext<'_>, nino: Nino, business: BusinessId) -> Result<(), Error> {
    /// let annual = UkPropertyAnnualSubmission {
    ///     uk_property: Some(UkPropertyAnnual {
    ///         allowances: Some(UkPropertyAllowances { property_income_allowance: Some("1000.00".parse().expect("valid")), ..Default::default() }),
    ///         adjustments: None,
    ///     }),
    ///     uk_fhl_property: None,
    /// };
    /// client.submit_uk_property_annual(&call, &nino, &business, "2025-26".parse().expect("valid"), &annual).await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn submit_uk_property_annual(
        &self,
        call: &CallContext<'_>,
        nino: &Nino,
        business_id: &BusinessId,
        tax_year: TaxYear,
        submission: &UkPropertyAnnualSubmission,
    ) -> Result<Response<()>, Error> {
        submission.validate(tax_year)?;
        let year = tax_year.to_string();
        let request = ApiRequest::new(
            Api::PropertyBusiness,
            Method::PUT,
            "create or amend UK property annual submission",
            vec![
                "individuals",
                "business",
                "property",
                "uk",
                nino.as_str(),
                business_id.as_str(),
                "annual",
                &year,
            ],
        )
        .json(submission)?;
        self.send(call, request).await?.no_content()
    }
}
