//! Request-body specs for each endpoint, written from HMRC's request schemas and validators
//! (`testdata/hmrc-api/*/schemas`, digest §4–§6). Ranges are the validators' ranges.

use std::sync::LazyLock;

use regex::Regex;

use crate::body::{Field, Money, NON_NEGATIVE, Node, PathMode, SIGNED, UP_TO_1000};

/// HMRC's pattern for building names, numbers and postcodes.
pub(crate) static BUILDING_TEXT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[0-9a-zA-Z{À-˿’}\- _&`():.'^]{1,90}$").expect("the building pattern is valid")
});

const fn m(name: &'static str, range: Money) -> Field {
    Field::opt(name, Node::Money(range))
}

// ---- Self-employment period summaries (SEB v5) -------------------------------------------

static SE_PERIOD_DATES: &[Field] = &[
    Field::req(
        "periodStartDate",
        Node::Date("FORMAT_START_DATE", PathMode::Without),
    ),
    Field::req(
        "periodEndDate",
        Node::Date("FORMAT_END_DATE", PathMode::Without),
    ),
];

static SE_INCOME: &[Field] = &[
    m("turnover", NON_NEGATIVE),
    m("other", NON_NEGATIVE),
    m("taxTakenOffTradingIncome", NON_NEGATIVE),
];

/// Itemised allowable expenses (the names also used, with `Disallowable`, for disallowables).
pub(crate) const SE_EXPENSE_ITEMS: [&str; 15] = [
    "costOfGoods",
    "paymentsToSubcontractors",
    "wagesAndStaffCosts",
    "carVanTravelExpenses",
    "premisesRunningCosts",
    "maintenanceCosts",
    "adminCosts",
    "businessEntertainmentCosts",
    "advertisingCosts",
    "interestOnBankOtherLoans",
    "financeCharges",
    "irrecoverableDebts",
    "professionalFees",
    "depreciation",
    "otherExpenses",
];

static SE_EXPENSES: &[Field] = &[
    m("consolidatedExpenses", SIGNED),
    m("costOfGoods", SIGNED),
    m("paymentsToSubcontractors", SIGNED),
    m("wagesAndStaffCosts", SIGNED),
    m("carVanTravelExpenses", SIGNED),
    m("premisesRunningCosts", SIGNED),
    m("maintenanceCosts", SIGNED),
    m("adminCosts", SIGNED),
    m("businessEntertainmentCosts", SIGNED),
    m("advertisingCosts", SIGNED),
    m("interestOnBankOtherLoans", SIGNED),
    m("financeCharges", SIGNED),
    m("irrecoverableDebts", SIGNED),
    m("professionalFees", SIGNED),
    m("depreciation", SIGNED),
    m("otherExpenses", SIGNED),
];

static SE_DISALLOWABLE: &[Field] = &[
    m("costOfGoodsDisallowable", SIGNED),
    m("paymentsToSubcontractorsDisallowable", SIGNED),
    m("wagesAndStaffCostsDisallowable", SIGNED),
    m("carVanTravelExpensesDisallowable", SIGNED),
    m("premisesRunningCostsDisallowable", SIGNED),
    m("maintenanceCostsDisallowable", SIGNED),
    m("adminCostsDisallowable", SIGNED),
    m("businessEntertainmentCostsDisallowable", SIGNED),
    m("advertisingCostsDisallowable", SIGNED),
    m("interestOnBankOtherLoansDisallowable", SIGNED),
    m("financeChargesDisallowable", SIGNED),
    m("irrecoverableDebtsDisallowable", SIGNED),
    m("professionalFeesDisallowable", SIGNED),
    m("depreciationDisallowable", SIGNED),
    m("otherExpensesDisallowable", SIGNED),
];

/// `POST .../period` (tax years up to 2024-25).
pub(crate) static SE_CREATE_PERIOD: &[Field] = &[
    Field::req("periodDates", Node::Obj(SE_PERIOD_DATES)),
    Field::opt("periodIncome", Node::Obj(SE_INCOME)),
    Field::opt("periodExpenses", Node::Obj(SE_EXPENSES)),
    Field::opt("periodDisallowableExpenses", Node::Obj(SE_DISALLOWABLE)),
];

/// `PUT .../period/{taxYear}/{periodId}`.
pub(crate) static SE_AMEND_PERIOD: &[Field] = &[
    Field::opt("periodIncome", Node::Obj(SE_INCOME)),
    Field::opt("periodExpenses", Node::Obj(SE_EXPENSES)),
    Field::opt("periodDisallowableExpenses", Node::Obj(SE_DISALLOWABLE)),
];

/// `PUT .../cumulative/{taxYear}` (2025-26 onwards).
pub(crate) static SE_CUMULATIVE: &[Field] = &[
    Field::opt("periodDates", Node::Obj(SE_PERIOD_DATES)),
    Field::opt("periodIncome", Node::Obj(SE_INCOME)),
    Field::opt("periodExpenses", Node::Obj(SE_EXPENSES)),
    Field::opt("periodDisallowableExpenses", Node::Obj(SE_DISALLOWABLE)),
];

// ---- Annual submissions ------------------------------------------------------------------

static BUILDING: &[Field] = &[
    Field::opt("name", Node::Pattern(&BUILDING_TEXT, "FORMAT_STRING")),
    Field::opt("number", Node::Pattern(&BUILDING_TEXT, "FORMAT_STRING")),
    Field::req("postcode", Node::Pattern(&BUILDING_TEXT, "FORMAT_STRING")),
];

static FIRST_YEAR: &[Field] = &[
    Field::req("qualifyingDate", Node::Date("FORMAT_DATE", PathMode::With)),
    Field::req("qualifyingAmountExpenditure", Node::Money(NON_NEGATIVE)),
];

static BUILDING_ALLOWANCE_ITEM: Node = Node::Obj(&[
    Field::req("amount", Node::Money(NON_NEGATIVE)),
    Field::opt("firstYear", Node::Obj(FIRST_YEAR)),
    Field::req("building", Node::Obj(BUILDING)),
]);

/// The SE class 4 exemption reasons.
pub(crate) const CLASS4_REASONS: [&str; 6] = [
    "non-resident",
    "trustee",
    "diver",
    "ITTOIA-2005",
    "over-state-pension-age",
    "under-16",
];

static SE_ADJUSTMENTS: &[Field] = &[
    m("includedNonTaxableProfits", NON_NEGATIVE),
    m("basisAdjustment", SIGNED),
    m("overlapReliefUsed", NON_NEGATIVE).years(0, 2025),
    m("accountingAdjustment", NON_NEGATIVE),
    m("averagingAdjustment", SIGNED),
    m("outstandingBusinessIncome", NON_NEGATIVE),
    m("balancingChargeBpra", NON_NEGATIVE),
    m("balancingChargeOther", NON_NEGATIVE),
    m("goodsAndServicesOwnUse", NON_NEGATIVE),
    m("transitionProfitAmount", NON_NEGATIVE).years(2024, 9999),
    m("transitionProfitAccelerationAmount", NON_NEGATIVE).years(2024, 9999),
    m("adjustmentToProfitsForClass4", NON_NEGATIVE).years(2026, 9999),
];

/// SE allowances other than the trading income allowance (used by the "both allowances" rule).
pub(crate) const SE_OTHER_ALLOWANCES: [&str; 13] = [
    "annualInvestmentAllowance",
    "capitalAllowanceMainPool",
    "capitalAllowanceSpecialRatePool",
    "zeroEmissionsGoodsVehicleAllowance",
    "businessPremisesRenovationAllowance",
    "enhancedCapitalAllowance",
    "allowanceOnSales",
    "capitalAllowanceSingleAssetPool",
    "electricChargePointAllowance",
    "zeroEmissionsCarAllowance",
    "firstYearAllowanceOnPlantAndMachinery",
    "structuredBuildingAllowance",
    "enhancedStructuredBuildingAllowance",
];

static SE_ALLOWANCES: &[Field] = &[
    m("annualInvestmentAllowance", NON_NEGATIVE),
    m("capitalAllowanceMainPool", NON_NEGATIVE),
    m("capitalAllowanceSpecialRatePool", NON_NEGATIVE),
    m("zeroEmissionsGoodsVehicleAllowance", NON_NEGATIVE).years(0, 2024),
    m("businessPremisesRenovationAllowance", NON_NEGATIVE),
    m("enhancedCapitalAllowance", NON_NEGATIVE),
    m("allowanceOnSales", NON_NEGATIVE),
    m("capitalAllowanceSingleAssetPool", NON_NEGATIVE),
    m("electricChargePointAllowance", NON_NEGATIVE).years(0, 2024),
    m("zeroEmissionsCarAllowance", NON_NEGATIVE),
    m("firstYearAllowanceOnPlantAndMachinery", NON_NEGATIVE).years(2026, 9999),
    m("tradingIncomeAllowance", UP_TO_1000),
    Field::opt(
        "structuredBuildingAllowance",
        Node::Arr(&BUILDING_ALLOWANCE_ITEM),
    ),
    Field::opt(
        "enhancedStructuredBuildingAllowance",
        Node::Arr(&BUILDING_ALLOWANCE_ITEM),
    ),
];

static SE_NON_FINANCIALS: &[Field] = &[
    Field::req("businessDetailsChangedRecently", Node::Bool),
    Field::opt(
        "class4NicsExemptionReason",
        Node::Enum(&CLASS4_REASONS, "FORMAT_CLASS_4_EXEMPTION_REASON"),
    ),
];

/// `PUT .../self-employment/{nino}/{businessId}/annual/{taxYear}`.
pub(crate) static SE_ANNUAL: &[Field] = &[
    Field::opt("adjustments", Node::Obj(SE_ADJUSTMENTS)),
    Field::opt("allowances", Node::Obj(SE_ALLOWANCES)),
    Field::opt("nonFinancials", Node::Obj(SE_NON_FINANCIALS)),
];

// ---- UK property (PBA v6) ----------------------------------------------------------------

static RENTS_RECEIVED: &[Field] = &[m("rentsReceived", NON_NEGATIVE)];
static AMOUNT_CLAIMED: &[Field] = &[m("amountClaimed", NON_NEGATIVE)];

static FHL_INCOME: &[Field] = &[
    m("periodAmount", NON_NEGATIVE),
    m("taxDeducted", NON_NEGATIVE),
    Field::opt("rentARoom", Node::Obj(RENTS_RECEIVED)),
];

static FHL_EXPENSES: &[Field] = &[
    m("premisesRunningCosts", SIGNED),
    m("repairsAndMaintenance", SIGNED),
    m("financialCosts", SIGNED),
    m("professionalFees", SIGNED),
    m("costOfServices", SIGNED),
    m("other", SIGNED),
    m("consolidatedExpenses", SIGNED),
    m("travelCosts", SIGNED),
    Field::opt("rentARoom", Node::Obj(AMOUNT_CLAIMED)),
];

static PROPERTY_INCOME: &[Field] = &[
    m("premiumsOfLeaseGrant", NON_NEGATIVE),
    m("reversePremiums", NON_NEGATIVE),
    m("periodAmount", NON_NEGATIVE),
    m("taxDeducted", NON_NEGATIVE),
    m("otherIncome", NON_NEGATIVE),
    Field::opt("rentARoom", Node::Obj(RENTS_RECEIVED)),
];

static PROPERTY_EXPENSES: &[Field] = &[
    m("premisesRunningCosts", SIGNED),
    m("repairsAndMaintenance", SIGNED),
    m("financialCosts", SIGNED),
    m("professionalFees", SIGNED),
    m("costOfServices", SIGNED),
    m("other", SIGNED),
    m("residentialFinancialCost", NON_NEGATIVE),
    m("travelCosts", SIGNED),
    m("residentialFinancialCostsCarriedForward", NON_NEGATIVE),
    Field::opt("rentARoom", Node::Obj(AMOUNT_CLAIMED)),
    m("consolidatedExpenses", SIGNED),
];

static FHL_PROPERTY: &[Field] = &[
    Field::opt("income", Node::Obj(FHL_INCOME)),
    Field::opt("expenses", Node::Obj(FHL_EXPENSES)),
];

static NON_FHL_PROPERTY: &[Field] = &[
    Field::opt("income", Node::Obj(PROPERTY_INCOME)),
    Field::opt("expenses", Node::Obj(PROPERTY_EXPENSES)),
];

/// `POST .../property/uk/{nino}/{businessId}/period/{taxYear}` (up to 2024-25).
pub(crate) static UK_CREATE_PERIOD: &[Field] = &[
    Field::req(
        "fromDate",
        Node::Date("FORMAT_FROM_DATE", PathMode::Without),
    ),
    Field::req("toDate", Node::Date("FORMAT_TO_DATE", PathMode::Without)),
    Field::opt("ukFhlProperty", Node::Obj(FHL_PROPERTY)),
    Field::opt("ukNonFhlProperty", Node::Obj(NON_FHL_PROPERTY)),
];

/// `PUT .../property/uk/{nino}/{businessId}/cumulative/{taxYear}` (2025-26 onwards).
pub(crate) static UK_CUMULATIVE: &[Field] = &[
    Field::opt(
        "fromDate",
        Node::Date("FORMAT_FROM_DATE", PathMode::Without),
    ),
    Field::opt("toDate", Node::Date("FORMAT_TO_DATE", PathMode::Without)),
    Field::req("ukProperty", Node::Obj(NON_FHL_PROPERTY)),
];

static JOINTLY_LET: &[Field] = &[Field::req("jointlyLet", Node::Bool)];

static FHL_ADJUSTMENTS: &[Field] = &[
    m("privateUseAdjustment", NON_NEGATIVE),
    m("balancingCharge", NON_NEGATIVE),
    Field::req("periodOfGraceAdjustment", Node::Bool),
    m(
        "businessPremisesRenovationAllowanceBalancingCharges",
        NON_NEGATIVE,
    ),
    Field::req("nonResidentLandlord", Node::Bool),
    Field::opt("rentARoom", Node::Obj(JOINTLY_LET)),
];

static FHL_ALLOWANCES: &[Field] = &[
    m("annualInvestmentAllowance", NON_NEGATIVE),
    m("businessPremisesRenovationAllowance", NON_NEGATIVE),
    m("otherCapitalAllowance", NON_NEGATIVE),
    m("electricChargePointAllowance", NON_NEGATIVE),
    m("zeroEmissionsCarAllowance", NON_NEGATIVE),
    m("propertyIncomeAllowance", UP_TO_1000),
];

static UK_ADJUSTMENTS: &[Field] = &[
    m("balancingCharge", NON_NEGATIVE),
    m("privateUseAdjustment", NON_NEGATIVE),
    m(
        "businessPremisesRenovationAllowanceBalancingCharges",
        NON_NEGATIVE,
    ),
    Field::req("nonResidentLandlord", Node::Bool),
    Field::opt("rentARoom", Node::Obj(JOINTLY_LET)),
];

static UK_ALLOWANCES_DEF1: &[Field] = &[
    m("annualInvestmentAllowance", NON_NEGATIVE),
    m("zeroEmissionsGoodsVehicleAllowance", NON_NEGATIVE),
    m("businessPremisesRenovationAllowance", NON_NEGATIVE),
    m("otherCapitalAllowance", NON_NEGATIVE),
    m("costOfReplacingDomesticItems", NON_NEGATIVE),
    m("electricChargePointAllowance", NON_NEGATIVE),
    m("zeroEmissionsCarAllowance", NON_NEGATIVE),
    m("propertyIncomeAllowance", UP_TO_1000),
    Field::opt(
        "structuredBuildingAllowance",
        Node::Arr(&BUILDING_ALLOWANCE_ITEM),
    ),
    Field::opt(
        "enhancedStructuredBuildingAllowance",
        Node::Arr(&BUILDING_ALLOWANCE_ITEM),
    ),
];

static UK_ALLOWANCES_DEF2: &[Field] = &[
    m("annualInvestmentAllowance", NON_NEGATIVE),
    m("businessPremisesRenovationAllowance", NON_NEGATIVE),
    m("otherCapitalAllowance", NON_NEGATIVE),
    m("costOfReplacingDomesticItems", NON_NEGATIVE),
    m("zeroEmissionsCarAllowance", NON_NEGATIVE),
    m("propertyIncomeAllowance", UP_TO_1000),
    Field::opt(
        "structuredBuildingAllowance",
        Node::Arr(&BUILDING_ALLOWANCE_ITEM),
    ),
    Field::opt(
        "enhancedStructuredBuildingAllowance",
        Node::Arr(&BUILDING_ALLOWANCE_ITEM),
    ),
];

/// `PUT .../property/uk/{nino}/{businessId}/annual/{taxYear}`, tax years up to 2024-25.
pub(crate) static UK_ANNUAL_DEF1: &[Field] = &[
    Field::opt(
        "ukFhlProperty",
        Node::Obj(&[
            Field::opt("adjustments", Node::Obj(FHL_ADJUSTMENTS)),
            Field::opt("allowances", Node::Obj(FHL_ALLOWANCES)),
        ]),
    ),
    Field::opt(
        "ukProperty",
        Node::Obj(&[
            Field::opt("adjustments", Node::Obj(UK_ADJUSTMENTS)),
            Field::opt("allowances", Node::Obj(UK_ALLOWANCES_DEF1)),
        ]),
    ),
];

/// `PUT .../property/uk/{nino}/{businessId}/annual/{taxYear}`, 2025-26 onwards.
pub(crate) static UK_ANNUAL_DEF2: &[Field] = &[Field::req(
    "ukProperty",
    Node::Obj(&[
        Field::opt("adjustments", Node::Obj(UK_ADJUSTMENTS)),
        Field::opt("allowances", Node::Obj(UK_ALLOWANCES_DEF2)),
    ]),
)];

// ---- End of Period Statement (EOPS v3) ---------------------------------------------------

/// `POST /individuals/business/end-of-period-statement/{nino}`.
pub(crate) static EOPS: &[Field] = &[
    Field::req("typeOfBusiness", Node::Text),
    Field::req("businessId", Node::Text),
    Field::req(
        "accountingPeriod",
        Node::Obj(&[
            Field::req(
                "startDate",
                Node::Date("FORMAT_START_DATE", PathMode::Without),
            ),
            Field::req("endDate", Node::Date("FORMAT_END_DATE", PathMode::Without)),
        ]),
    ),
    Field::req("finalised", Node::Bool),
];

// ---- Self Assessment Test Support: create a test business ---------------------------------

/// Business types the test-support API accepts.
pub(crate) const TEST_BUSINESS_TYPES: [&str; 4] = [
    "self-employment",
    "uk-property",
    "foreign-property",
    "property-unspecified",
];

/// `POST /individuals/self-assessment-test-support/business/{nino}`.
pub(crate) static TEST_BUSINESS: &[Field] = &[
    Field::req(
        "typeOfBusiness",
        Node::Enum(&TEST_BUSINESS_TYPES, "FORMAT_TYPE_OF_BUSINESS"),
    ),
    Field::opt("tradingName", Node::Text),
    Field::opt(
        "firstAccountingPeriodStartDate",
        Node::Date("FORMAT_DATE", PathMode::With),
    ),
    Field::opt(
        "firstAccountingPeriodEndDate",
        Node::Date("FORMAT_DATE", PathMode::With),
    ),
    Field::opt(
        "commencementDate",
        Node::Date("FORMAT_DATE", PathMode::With),
    ),
    Field::opt("cessationDate", Node::Date("FORMAT_DATE", PathMode::With)),
    Field::opt(
        "accountingType",
        Node::Enum(&["CASH", "ACCRUALS"], "FORMAT_ACCOUNTING_TYPE"),
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn building_pattern_accepts_hmrc_examples_and_refuses_others() {
        assert!(BUILDING_TEXT.is_match("Plaza 2"));
        assert!(BUILDING_TEXT.is_match("TF3 4NT"));
        assert!(!BUILDING_TEXT.is_match(""));
        assert!(!BUILDING_TEXT.is_match("a#b"));
        assert!(!BUILDING_TEXT.is_match(&"x".repeat(91)));
    }
}
