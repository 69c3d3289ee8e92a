//! Self-employment flows (Self Employment Business API v5.0):
//!
//! * quarterly update up to 2024-25: `POST /individuals/business/self-employment/{nino}/{businessId}/period`
//!   → 200 `{"periodId"}`;
//! * quarterly update from 2025-26 (year-to-date figures):
//!   `PUT /individuals/business/self-employment/{nino}/{businessId}/cumulative/{taxYear}` → 204;
//! * annual submission: `PUT /individuals/business/self-employment/{nino}/{businessId}/annual/{taxYear}` → 204.

use http::Method;
use serde::{Deserialize, Serialize};

use crate::{
    checks::{Checks, is_empty_object},
    client::{Api, ApiRequest, CallContext, MtdClient, Response, json_value},
    error::{ApiError, Error},
    ids::{BusinessId, Nino},
    money::{Money, UnsignedMoney},
    tax_year::{Regime, TaxYear},
    types::{PeriodDates, StructuredBuildingAllowance},
};

/// Self-employment income for a period.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SelfEmploymentIncome {
    /// Takings, fees, sales.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub turnover: Option<UnsignedMoney>,
    /// Other business income.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub other: Option<UnsignedMoney>,
    /// Tax taken off trading income other than CIS (from 2023-24).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tax_taken_off_trading_income: Option<UnsignedMoney>,
}

/// Self-employment expenses for a period: either `consolidated_expenses` alone or the
/// itemised fields.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SelfEmploymentExpenses {
    /// All expenses as one figure (cannot be combined with itemised or disallowable ones).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consolidated_expenses: Option<Money>,
    /// Cost of goods bought for resale or goods used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_of_goods: Option<Money>,
    /// Payments to construction Industry subcontractors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payments_to_subcontractors: Option<Money>,
    /// Wages, salaries and other staff costs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wages_and_staff_costs: Option<Money>,
    /// Car, van and travel expenses associated with the running of the business.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub car_van_travel_expenses: Option<Money>,
    /// Rent, rates, power and insurance costs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub premises_running_costs: Option<Money>,
    /// Repairs and renewals of property and equipment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maintenance_costs: Option<Money>,
    /// Phone, fax, stationery and other office costs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin_costs: Option<Money>,
    /// Business entertainment costs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub business_entertainment_costs: Option<Money>,
    /// Advertising costs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advertising_costs: Option<Money>,
    /// Interest on bank and other loans.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interest_on_bank_other_loans: Option<Money>,
    /// Bank, credit card and other financial charges.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finance_charges: Option<Money>,
    /// Irrecoverable debts written off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub irrecoverable_debts: Option<Money>,
    /// Accountancy, legal and other professional fees.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub professional_fees: Option<Money>,
    /// Depreciation and loss/profit on sales of assets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub depreciation: Option<Money>,
    /// Other business expenses associated with the running of the business.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub other_expenses: Option<Money>,
}

impl SelfEmploymentExpenses {
    /// All expenses as one figure.
    pub fn consolidated(amount: Money) -> Self {
        Self {
            consolidated_expenses: Some(amount),
            ..Self::default()
        }
    }

    fn has_itemised(&self) -> bool {
        let Self {
            consolidated_expenses: _,
            cost_of_goods,
            payments_to_subcontractors,
            wages_and_staff_costs,
            car_van_travel_expenses,
            premises_running_costs,
            maintenance_costs,
            admin_costs,
            business_entertainment_costs,
            advertising_costs,
            interest_on_bank_other_loans,
            finance_charges,
            irrecoverable_debts,
            professional_fees,
            depreciation,
            other_expenses,
        } = self;
        [
            cost_of_goods,
            payments_to_subcontractors,
            wages_and_staff_costs,
            car_van_travel_expenses,
            premises_running_costs,
            maintenance_costs,
            admin_costs,
            business_entertainment_costs,
            advertising_costs,
            interest_on_bank_other_loans,
            finance_charges,
            irrecoverable_debts,
            professional_fees,
            depreciation,
            other_expenses,
        ]
        .iter()
        .any(|v| v.is_some())
    }
}

/// The disallowable part of each itemised expense.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SelfEmploymentDisallowableExpenses {
    /// Cost of goods bought for resale or goods used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_of_goods_disallowable: Option<Money>,
    /// Payments to subcontractors - Construction Industry Scheme (CIS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payments_to_subcontractors_disallowable: Option<Money>,
    /// Wages, salaries and other staff costs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wages_and_staff_costs_disallowable: Option<Money>,
    /// Car, van and travel expenses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub car_van_travel_expenses_disallowable: Option<Money>,
    /// Rent, rates, power and insurance costs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub premises_running_costs_disallowable: Option<Money>,
    /// Repairs and renewals of property and equipment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maintenance_costs_disallowable: Option<Money>,
    /// Phone, fax, stationery and other office costs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin_costs_disallowable: Option<Money>,
    /// Business entertainment costs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub business_entertainment_costs_disallowable: Option<Money>,
    /// Advertising costs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advertising_costs_disallowable: Option<Money>,
    /// Interest on bank and other loans.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interest_on_bank_other_loans_disallowable: Option<Money>,
    /// Bank, credit card and other financial charges.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finance_charges_disallowable: Option<Money>,
    /// Irrecoverable debts written off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub irrecoverable_debts_disallowable: Option<Money>,
    /// Legal and other professional fees.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub professional_fees_disallowable: Option<Money>,
    /// Depreciation and loss/profit on sales of assets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub depreciation_disallowable: Option<Money>,
    /// Other business expenses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub other_expenses_disallowable: Option<Money>,
}

/// A self-employment quarterly period summary, tax years up to 2024-25. HMRC works out the
/// tax year from `period_end_date`.
///
/// ```
/// use hmrc_mtd::{Money, PeriodDates, UnsignedMoney};
/// use hmrc_mtd::self_employment::{SelfEmploymentExpenses, SelfEmploymentIncome, SelfEmploymentPeriodSummary};
/// let summary = SelfEmploymentPeriodSummary::new(PeriodDates::new(
///     "2024-04-06".parse()?, "2024-07-05".parse()?,
/// ))
/// .income(SelfEmploymentIncome { turnover: Some("1250.00".parse()?), other: Some(UnsignedMoney::ZERO), ..Default::default() })
/// .expenses(SelfEmploymentExpenses::consolidated("310.55".parse()?));
/// assert_eq!(
///     serde_json::to_string(&summary)?,
///     r#"{"periodDates":{"periodStartDate":"2024-04-06","periodEndDate":"2024-07-05"},"periodIncome":{"turnover":1250.00,"other":0},"periodExpenses":{"consolidatedExpenses":310.55}}"#
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SelfEmploymentPeriodSummary {
    /// The period covered.
    pub period_dates: PeriodDates,
    /// Income (send zeros rather than leaving it out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period_income: Option<SelfEmploymentIncome>,
    /// Expenses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period_expenses: Option<SelfEmploymentExpenses>,
    /// Disallowable expenses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period_disallowable_expenses: Option<SelfEmploymentDisallowableExpenses>,
}

impl SelfEmploymentPeriodSummary {
    /// A summary for the period, with no figures yet.
    pub fn new(period_dates: PeriodDates) -> Self {
        Self {
            period_dates,
            period_income: None,
            period_expenses: None,
            period_disallowable_expenses: None,
        }
    }

    /// Sets the income.
    pub fn income(mut self, income: SelfEmploymentIncome) -> Self {
        self.period_income = Some(income);
        self
    }

    /// Sets the expenses.
    pub fn expenses(mut self, expenses: SelfEmploymentExpenses) -> Self {
        self.period_expenses = Some(expenses);
        self
    }

    /// Sets the disallowable expenses.
    pub fn disallowable_expenses(mut self, expenses: SelfEmploymentDisallowableExpenses) -> Self {
        self.period_disallowable_expenses = Some(expenses);
        self
    }

    /// The tax year HMRC will file this under (from the period's end date).
    pub fn tax_year(&self) -> Result<TaxYear, Error> {
        TaxYear::containing(self.period_dates.period_end_date).map_err(|e| {
            Error::rejected_locally(vec![
                ApiError::new(e.code(), e.to_string()).with_path("/periodDates/periodEndDate"),
            ])
        })
    }

    /// The checks HMRC makes that need no call: regime, date order, consolidated versus
    /// itemised expenses, and the stricter 2022-23-and-earlier value ranges.
    pub fn validate(&self) -> Result<(), Error> {
        let tax_year = self.tax_year()?;
        let body = json_value(self)?;
        let mut checks = Checks::default();
        if tax_year.regime() == Regime::Cumulative {
            checks.push(
                "RULE_TAX_YEAR_NOT_SUPPORTED",
                "Period summaries only cover tax years up to 2024-25; use the cumulative summary from 2025-26",
                Some("/periodDates/periodEndDate"),
            );
        }
        if self.period_dates.period_end_date < self.period_dates.period_start_date {
            checks.push(
                "RULE_END_DATE_BEFORE_START_DATE",
                "The supplied end date is before the supplied start date",
                None,
            );
        }
        both_expenses(
            &mut checks,
            self.period_expenses.as_ref(),
            self.period_disallowable_expenses.as_ref(),
        );
        if tax_year.start_year() <= 2022 {
            checks.non_negative(&body, DEF1_NON_NEGATIVE);
            checks.absent(
                &body,
                &["/periodIncome/taxTakenOffTradingIncome"],
                "taxTakenOffTradingIncome can only be sent from 2023-24",
            );
        }
        checks.finish()
    }
}

/// Fields that 2022-23 and earlier bound at zero (SEB v5 def1 schema).
const DEF1_NON_NEGATIVE: &[&str] = &[
    "/periodExpenses/consolidatedExpenses",
    "/periodExpenses/paymentsToSubcontractors",
    "/periodExpenses/wagesAndStaffCosts",
    "/periodExpenses/carVanTravelExpenses",
    "/periodExpenses/adminCosts",
    "/periodExpenses/businessEntertainmentCosts",
    "/periodExpenses/advertisingCosts",
    "/periodExpenses/otherExpenses",
    "/periodDisallowableExpenses/paymentsToSubcontractorsDisallowable",
    "/periodDisallowableExpenses/wagesAndStaffCostsDisallowable",
    "/periodDisallowableExpenses/carVanTravelExpensesDisallowable",
    "/periodDisallowableExpenses/adminCostsDisallowable",
    "/periodDisallowableExpenses/businessEntertainmentCostsDisallowable",
    "/periodDisallowableExpenses/advertisingCostsDisallowable",
    "/periodDisallowableExpenses/professionalFeesDisallowable",
    "/periodDisallowableExpenses/otherExpensesDisallowable",
];

fn both_expenses(
    checks: &mut Checks,
    expenses: Option<&SelfEmploymentExpenses>,
    disallowable: Option<&SelfEmploymentDisallowableExpenses>,
) {
    if let Some(expenses) = expenses
        && expenses.consolidated_expenses.is_some()
        && (expenses.has_itemised() || disallowable.is_some())
    {
        checks.push(
            "RULE_BOTH_EXPENSES_SUPPLIED",
            "Both expenses and consolidatedExpenses can not be present at the same time",
            Some("/periodExpenses"),
        );
    }
}

/// A self-employment cumulative (year-to-date) summary, tax years from 2025-26. Dates run from
/// the start of the tax year to the end of the latest quarter.
///
/// ```
/// use hmrc_mtd::{PeriodDates, TaxYear};
/// use hmrc_mtd::self_employment::{SelfEmploymentCumulativeSummary, SelfEmploymentExpenses, SelfEmploymentIncome};
/// let year: TaxYear = "2025-26".parse()?;
/// let q2 = year.quarters()[1];
/// let summary = SelfEmploymentCumulativeSummary::new()
///     .period_dates(PeriodDates::new(q2.start, q2.end))
///     .income(SelfEmploymentIncome { turnover: Some("5100.00".parse()?), ..Default::default() })
///     .expenses(SelfEmploymentExpenses::consolidated("1200.10".parse()?));
/// assert!(summary.validate(year).is_ok());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SelfEmploymentCumulativeSummary {
    /// From the start of the tax year to the end of the quarter (not needed for customers
    /// with an `Annual` ITSA status or a latent income source).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period_dates: Option<PeriodDates>,
    /// Year-to-date income.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period_income: Option<SelfEmploymentIncome>,
    /// Year-to-date expenses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period_expenses: Option<SelfEmploymentExpenses>,
    /// Year-to-date disallowable expenses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period_disallowable_expenses: Option<SelfEmploymentDisallowableExpenses>,
}

impl SelfEmploymentCumulativeSummary {
    /// An empty summary.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the dates.
    pub fn period_dates(mut self, dates: PeriodDates) -> Self {
        self.period_dates = Some(dates);
        self
    }

    /// Sets the income.
    pub fn income(mut self, income: SelfEmploymentIncome) -> Self {
        self.period_income = Some(income);
        self
    }

    /// Sets the expenses.
    pub fn expenses(mut self, expenses: SelfEmploymentExpenses) -> Self {
        self.period_expenses = Some(expenses);
        self
    }

    /// Sets the disallowable expenses.
    pub fn disallowable_expenses(mut self, expenses: SelfEmploymentDisallowableExpenses) -> Self {
        self.period_disallowable_expenses = Some(expenses);
        self
    }

    /// The checks HMRC makes that need no call: regime, at least two of dates, income and
    /// expenses, date order, consolidated versus itemised expenses.
    pub fn validate(&self, tax_year: TaxYear) -> Result<(), Error> {
        let mut checks = Checks::default();
        cumulative_year(&mut checks, tax_year);
        let present = [
            self.period_dates.is_some(),
            self.period_income.is_some(),
            self.period_expenses.is_some() || self.period_disallowable_expenses.is_some(),
        ]
        .iter()
        .filter(|p| **p)
        .count();
        if present < 2 {
            checks.push(
                "RULE_INCORRECT_OR_EMPTY_BODY_SUBMITTED",
                "At least two of periodDates, periodIncome and expenses must be submitted",
                None,
            );
        }
        if let Some(dates) = self.period_dates
            && dates.period_end_date < dates.period_start_date
        {
            checks.push(
                "RULE_END_DATE_BEFORE_START_DATE",
                "The supplied end date is before the supplied start date",
                None,
            );
        }
        both_expenses(
            &mut checks,
            self.period_expenses.as_ref(),
            self.period_disallowable_expenses.as_ref(),
        );
        checks.finish()
    }
}

pub(crate) fn cumulative_year(checks: &mut Checks, tax_year: TaxYear) {
    if tax_year.regime() != Regime::Cumulative {
        checks.push(
            "RULE_TAX_YEAR_NOT_SUPPORTED",
            "Cumulative summaries start in 2025-26; use the period summary for earlier years",
            None,
        );
    }
}

/// Annual adjustments. Which fields a year accepts: `overlap_relief_used` up to 2025-26
/// (refused from 2024-25 by a rule), `transition_profit_*` from 2024-25,
/// `adjustment_to_profits_for_class4` from 2026-27.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SelfEmploymentAdjustments {
    /// Income, receipts and other profits included in business income or expenses but not taxable as business profits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub included_non_taxable_profits: Option<UnsignedMoney>,
    /// If your basis period is not the same as your accounting period, enter the adjustment needed to arrive at the profit or loss for the basis period.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basis_adjustment: Option<Money>,
    /// Overlap relief used this year.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overlap_relief_used: Option<UnsignedMoney>,
    /// Adjustment for change of accounting practice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accounting_adjustment: Option<UnsignedMoney>,
    /// Averaging adjustment (only for farmers, market gardeners and creators of literary or artistic works) – if the adjustment needs to be taken off the profit figure, this should be negative.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub averaging_adjustment: Option<Money>,
    /// Any other business income not included in other fields.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outstanding_business_income: Option<UnsignedMoney>,
    /// Balancing charge on sale or cessation of business use (only where Business Premises Renovation Allowance has been claimed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub balancing_charge_bpra: Option<UnsignedMoney>,
    /// Balancing charge on sale or cessation of business use (where you have disposed of assets for more than their tax value).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub balancing_charge_other: Option<UnsignedMoney>,
    /// Value of the normal sale price of goods or stock have been taken out of the business.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub goods_and_services_own_use: Option<UnsignedMoney>,
    /// Amount of transition profit arising in this tax year for this income source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transition_profit_amount: Option<UnsignedMoney>,
    /// Additional amount of transition profit elected to be treated as arising in this tax year for this income source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transition_profit_acceleration_amount: Option<UnsignedMoney>,
    #[serde(
        rename = "adjustmentToProfitsForClass4",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    /// This field represents the total of all applicable adjustments to profit, including income disregarded for Class 4 NICs, accounting practice changes, excluded interest, and employment earnings already accounted for elsewhere.
    pub adjustment_to_profits_for_class4: Option<UnsignedMoney>,
}

/// Annual allowances. `trading_income_allowance` (at most 1000) cannot be combined with the
/// others. `zero_emissions_goods_vehicle_allowance` and `electric_charge_point_allowance`
/// exist up to 2024-25; `first_year_allowance_on_plant_and_machinery` from 2026-27.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SelfEmploymentAllowances {
    /// Annual investment allowance on items that qualify up to the AIA amount.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annual_investment_allowance: Option<UnsignedMoney>,
    /// Capital allowances on equipment, including cars with lower CO2 emissions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capital_allowance_main_pool: Option<UnsignedMoney>,
    /// Capital allowances on equipment at the special rate, including cars with higher CO2 emissions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capital_allowance_special_rate_pool: Option<UnsignedMoney>,
    /// Zero emissions goods vehicle allowance for goods vehicles purchased for business use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zero_emissions_goods_vehicle_allowance: Option<UnsignedMoney>,
    /// Business Premises Renovation Allowance if converting or renovating unused qualifying business premises.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub business_premises_renovation_allowance: Option<UnsignedMoney>,
    /// Other enhanced capital allowances.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enhanced_capital_allowance: Option<UnsignedMoney>,
    /// Allowances on sale or cessation of business use (where you have disposed of assets for less than their tax value).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowance_on_sales: Option<UnsignedMoney>,
    /// Claim to capital allowances in respect of all single asset pools.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capital_allowance_single_asset_pool: Option<UnsignedMoney>,
    /// The expenditure incurred on electric charge-point equipment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub electric_charge_point_allowance: Option<UnsignedMoney>,
    /// The amount of zero emissions car allowance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zero_emissions_car_allowance: Option<UnsignedMoney>,
    /// First-Year Allowance for qualifying expenditure incurred on plant and machinery.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_year_allowance_on_plant_and_machinery: Option<UnsignedMoney>,
    /// The amount of trading allowance (can not be supplied with any other allowances).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trading_income_allowance: Option<UnsignedMoney>,
    /// Details about structured building allowance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub structured_building_allowance: Option<Vec<StructuredBuildingAllowance>>,
    /// Details about enhanced structured building allowance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enhanced_structured_building_allowance: Option<Vec<StructuredBuildingAllowance>>,
}

/// Why a self-employed person is exempt from Class 4 NICs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Class4NicsExemptionReason {
    /// `non-resident`
    #[serde(rename = "non-resident")]
    NonResident,
    /// `trustee`
    #[serde(rename = "trustee")]
    Trustee,
    /// `diver`
    #[serde(rename = "diver")]
    Diver,
    /// `ITTOIA-2005`
    #[serde(rename = "ITTOIA-2005")]
    Ittoia2005,
    /// `over-state-pension-age`
    #[serde(rename = "over-state-pension-age")]
    OverStatePensionAge,
    /// `under-16`
    #[serde(rename = "under-16")]
    Under16,
}

/// Non-financial information.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SelfEmploymentNonFinancials {
    /// Whether the business details changed in the last year.
    pub business_details_changed_recently: bool,
    /// Why the person is exempt from Class 4 NICs, if they are.
    #[serde(
        rename = "class4NicsExemptionReason",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    /// If exempt from paying Class 4 National Insurance, the reason for exemption.
    pub class4_nics_exemption_reason: Option<Class4NicsExemptionReason>,
}

/// A self-employment annual submission (`adjustments`, `allowances`, `nonFinancials`).
///
/// ```
/// use hmrc_mtd::self_employment::{SelfEmploymentAllowances, SelfEmploymentAnnualSubmission, SelfEmploymentNonFinancials};
/// let annual = SelfEmploymentAnnualSubmission {
///     allowances: Some(SelfEmploymentAllowances { trading_income_allowance: Some("1000.00".parse()?), ..Default::default() }),
///     non_financials: Some(SelfEmploymentNonFinancials { business_details_changed_recently: true, class4_nics_exemption_reason: None }),
///     ..Default::default()
/// };
/// assert!(annual.validate().is_ok());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SelfEmploymentAnnualSubmission {
    /// Adjustments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adjustments: Option<SelfEmploymentAdjustments>,
    /// Allowances.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowances: Option<SelfEmploymentAllowances>,
    /// Non-financial information.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub non_financials: Option<SelfEmploymentNonFinancials>,
}

impl SelfEmploymentAnnualSubmission {
    /// The checks HMRC makes that need no call: a non-empty body, the trading income
    /// allowance's limit and exclusivity.
    pub fn validate(&self) -> Result<(), Error> {
        let body = json_value(self)?;
        let mut checks = Checks::default();
        if is_empty_object(&body) {
            checks.push(
                "RULE_INCORRECT_OR_EMPTY_BODY_SUBMITTED",
                "An empty or non-matching body was submitted",
                None,
            );
        }
        if let Some(allowances) = &self.allowances
            && let Some(tia) = allowances.trading_income_allowance
        {
            allowance_limit(&mut checks, tia, "/allowances/tradingIncomeAllowance");
            let others = body
                .pointer("/allowances")
                .and_then(serde_json::Value::as_object)
                .is_some_and(|o| o.keys().any(|k| k != "tradingIncomeAllowance"));
            if others {
                checks.push(
                    "RULE_BOTH_ALLOWANCES_SUPPLIED",
                    "Both allowances and trading allowances must not be present at the same time",
                    Some("/allowances"),
                );
            }
        }
        checks.finish()
    }
}

/// `tradingIncomeAllowance` / `propertyIncomeAllowance` are at most 1000.
pub(crate) fn allowance_limit(checks: &mut Checks, value: UnsignedMoney, path: &str) {
    if value.amount() > rust_decimal::Decimal::from(1000) {
        checks.push(
            "FORMAT_VALUE",
            "The value must be between 0 and 1000",
            Some(path),
        );
    }
}

/// HMRC's answer to a period summary: the period's ID (`<start>_<end>`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PeriodSummaryCreated {
    /// The period ID, e.g. `2024-04-06_2024-07-05`.
    pub period_id: String,
}

impl MtdClient {
    /// Submits a self-employment quarterly period summary (tax years up to 2024-25), Self
    /// Employment Business API v5.0:
    /// `POST /individuals/business/self-employment/{nino}/{businessId}/period`.
    ///
    /// The body is `None` only if HMRC accepted the summary but its answer could not be read
    /// (a [`crate::Warning::UnreadableBody`] says so). A retry of a summary HMRC already holds
    /// fails with [`Error::DuplicateSubmission`].
    ///
    /// ```no_run
    /// # use hmrc_mtd::*;
    /// # use hmrc_mtd::self_employment::*;
    /// # async fn example(client: MtdClient, call: CallContext<'_>, nino: Nino, business: BusinessId) -> Result<(), Error> {
    /// let quarter = "2024-25".parse::<TaxYear>().expect("valid").quarters()[0];
    /// let summary = SelfEmploymentPeriodSummary::new(PeriodDates::new(quarter.start, quarter.end))
    ///     .income(SelfEmploymentIncome { turnover: Some("2500.00".parse().expect("valid")), ..Default::default() })
    ///     .expenses(SelfEmploymentExpenses::consolidated("400.00".parse().expect("valid")));
    /// match client.submit_self_employment_period(&call, &nino, &business, &summary).await {
    ///     Ok(receipt) => println!("period {:?}", receipt.body.map(|b| b.period_id)),
    ///     Err(e) if e.is_duplicate_submission() => println!("already submitted"),
    ///     Err(e) => return Err(e),
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub async fn submit_self_employment_period(
        &self,
        call: &CallContext<'_>,
        nino: &Nino,
        business_id: &BusinessId,
        summary: &SelfEmploymentPeriodSummary,
    ) -> Result<Response<Option<PeriodSummaryCreated>>, Error> {
        summary.validate()?;
        let request = ApiRequest::new(
            Api::SelfEmploymentBusiness,
            Method::POST,
            "create self-employment period summary",
            vec![
                "individuals",
                "business",
                "self-employment",
                nino.as_str(),
                business_id.as_str(),
                "period",
            ],
        )
        .json(summary)?;
        self.send(call, request).await?.accepted()
    }

    /// Creates or amends the self-employment cumulative summary (tax years from 2025-26), Self
    /// Employment Business API v5.0:
    /// `PUT /individuals/business/self-employment/{nino}/{businessId}/cumulative/{taxYear}`.
    /// The call is an upsert, so a retry is harmless.
    ///
    /// ```no_run
    /// # use hmrc_mtd::*;
    /// # use hmrc_mtd::self_employment::*;
    /// # async fn example(client: MtdClient, call: CallContext<'_>, nino: Nino, business: BusinessId) -> Result<(), Error> {
    /// let year: TaxYear = "2025-26".parse().expect("valid");
    /// let q1 = year.quarters()[0];
    /// let summary = SelfEmploymentCumulativeSummary::new()
    ///     .period_dates(PeriodDates::new(q1.start, q1.end))
    ///     .income(SelfEmploymentIncome { turnover: Some("2500.00".parse().expect("valid")), ..Default::default() })
    ///     .expenses(SelfEmploymentExpenses::consolidated("400.00".parse().expect("valid")));
    /// let done = client.submit_self_employment_cumulative(&call, &nino, &business, year, &summary).await?;
    /// println!("HMRC correlation id {:?}", done.correlation_id);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn submit_self_employment_cumulative(
        &self,
        call: &CallContext<'_>,
        nino: &Nino,
        business_id: &BusinessId,
        tax_year: TaxYear,
        summary: &SelfEmploymentCumulativeSummary,
    ) -> Result<Response<()>, Error> {
        summary.validate(tax_year)?;
        let year = tax_year.to_string();
        let request = ApiRequest::new(
            Api::SelfEmploymentBusiness,
            Method::PUT,
            "create or amend self-employment cumulative summary",
            vec![
                "individuals",
                "business",
                "self-employment",
                nino.as_str(),
                business_id.as_str(),
                "cumulative",
                &year,
            ],
        )
        .json(summary)?;
        self.send(call, request).await?.no_content()
    }

    /// Creates or amends the self-employment annual submission, Self Employment Business API
    /// v5.0: `PUT /individuals/business/self-employment/{nino}/{businessId}/annual/{taxYear}`.
    ///
    /// ```no_run
    /// # use hmrc_mtd::*;
    /// # use hmrc_mtd::self_employment::*;
    /// # async fn example(client: MtdClient, call: CallContext<'_>, nino: Nino, business: BusinessId) -> Result<(), Error> {
    /// let annual = SelfEmploymentAnnualSubmission {
    ///     allowances: Some(SelfEmploymentAllowances { annual_investment_allowance: Some("800.00".parse().expect("valid")), ..Default::default() }),
    ///     ..Default::default()
    /// };
    /// client.submit_self_employment_annual(&call, &nino, &business, "2024-25".parse().expect("valid"), &annual).await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn submit_self_employment_annual(
        &self,
        call: &CallContext<'_>,
        nino: &Nino,
        business_id: &BusinessId,
        tax_year: TaxYear,
        submission: &SelfEmploymentAnnualSubmission,
    ) -> Result<Response<()>, Error> {
        submission.validate()?;
        let year = tax_year.to_string();
        let request = ApiRequest::new(
            Api::SelfEmploymentBusiness,
            Method::PUT,
            "create or amend self-employment annual submission",
            vec![
                "individuals",
                "business",
                "self-employment",
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
