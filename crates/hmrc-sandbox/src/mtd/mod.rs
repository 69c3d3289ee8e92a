//! The simulated MTD Income Tax endpoints and the test-support endpoints, one module per API.

use http::Method;

use crate::api_error::{Api, MtdError};
use crate::http::{Auth, Endpoint, Errs, Scenario};
use crate::ids::{TaxYear, TaxYearError, is_valid_business_id};
use crate::model::{Business, BusinessType, TestUser};

pub(crate) mod business_details;
pub(crate) mod calculations;
pub(crate) mod eops;
pub(crate) mod obligations;
pub(crate) mod property;
pub(crate) mod self_employment;
pub(crate) mod test_support;

use Scenario::{Custom, Error};

/// Every endpoint, in the order the README lists them.
pub(crate) static ENDPOINTS: &[Endpoint] = &[
    Endpoint {
        id: "obligations-income-and-expenditure",
        method: Method::GET,
        path: "/obligations/details/{nino}/income-and-expenditure",
        api: Api::Obligations,
        version: "3.0",
        auth: Auth::Read,
        body: false,
        scenarios: &[
            ("OPEN", Custom),
            ("FULFILLED", Custom),
            ("INSOLVENT_TRADER", Error("RULE_INSOLVENT_TRADER")),
            ("NOT_FOUND", Error("MATCHING_RESOURCE_NOT_FOUND")),
            ("NO_OBLIGATIONS_FOUND", Error("NO_OBLIGATIONS_FOUND")),
            ("DYNAMIC", Custom),
            ("CUMULATIVE", Custom),
        ],
        handler: obligations::income_and_expenditure,
    },
    Endpoint {
        id: "obligations-crystallisation",
        method: Method::GET,
        path: "/obligations/details/{nino}/crystallisation",
        api: Api::Obligations,
        version: "3.0",
        auth: Auth::Read,
        body: false,
        scenarios: &[
            ("MULTIPLE", Custom),
            ("INSOLVENT_TRADER", Error("RULE_INSOLVENT_TRADER")),
            ("NOT_FOUND", Error("MATCHING_RESOURCE_NOT_FOUND")),
            ("DYNAMIC", Custom),
        ],
        handler: obligations::crystallisation,
    },
    Endpoint {
        id: "se-period-create",
        method: Method::POST,
        path: "/individuals/business/self-employment/{nino}/{businessId}/period",
        api: Api::SelfEmployment,
        version: "5.0",
        auth: Auth::Write,
        body: true,
        scenarios: &[
            ("OVERLAPPING_PERIOD", Error("RULE_OVERLAPPING_PERIOD")),
            ("MISALIGNED_PERIOD", Error("RULE_MISALIGNED_PERIOD")),
            ("NOT_CONTIGUOUS_PERIOD", Error("RULE_NOT_CONTIGUOUS_PERIOD")),
            (
                "NOT_ALLOWED_CONSOLIDATED_EXPENSES",
                Error("RULE_NOT_ALLOWED_CONSOLIDATED_EXPENSES"),
            ),
            ("DUPLICATE_SUBMISSION", Error("RULE_DUPLICATE_SUBMISSION")),
            (
                "TAX_YEAR_NOT_SUPPORTED",
                Error("RULE_TAX_YEAR_NOT_SUPPORTED"),
            ),
            ("NOT_FOUND", Error("MATCHING_RESOURCE_NOT_FOUND")),
            (
                "BOTH_EXPENSES_SUPPLIED",
                Error("RULE_BOTH_EXPENSES_SUPPLIED"),
            ),
            (
                "BUSINESS_INCOME_PERIOD_RESTRICTION",
                Error("RULE_BUSINESS_INCOME_PERIOD_RESTRICTION"),
            ),
        ],
        handler: self_employment::create_period,
    },
    Endpoint {
        id: "se-period-list",
        method: Method::GET,
        path: "/individuals/business/self-employment/{nino}/{businessId}/period/{taxYear}",
        api: Api::SelfEmployment,
        version: "5.0",
        auth: Auth::Read,
        body: false,
        scenarios: &[
            ("NOT_FOUND", Error("MATCHING_RESOURCE_NOT_FOUND")),
            (
                "TAX_YEAR_NOT_SUPPORTED",
                Error("RULE_TAX_YEAR_NOT_SUPPORTED"),
            ),
        ],
        handler: self_employment::list_periods,
    },
    Endpoint {
        id: "se-period-retrieve",
        method: Method::GET,
        path: "/individuals/business/self-employment/{nino}/{businessId}/period/{taxYear}/{periodId}",
        api: Api::SelfEmployment,
        version: "5.0",
        auth: Auth::Read,
        body: false,
        scenarios: &[
            ("NOT_FOUND", Error("MATCHING_RESOURCE_NOT_FOUND")),
            (
                "TAX_YEAR_NOT_SUPPORTED",
                Error("RULE_TAX_YEAR_NOT_SUPPORTED"),
            ),
        ],
        handler: self_employment::retrieve_period,
    },
    Endpoint {
        id: "se-period-amend",
        method: Method::PUT,
        path: "/individuals/business/self-employment/{nino}/{businessId}/period/{taxYear}/{periodId}",
        api: Api::SelfEmployment,
        version: "5.0",
        auth: Auth::Write,
        body: true,
        scenarios: &[
            (
                "NOT_ALLOWED_CONSOLIDATED_EXPENSES",
                Error("RULE_NOT_ALLOWED_CONSOLIDATED_EXPENSES"),
            ),
            ("NOT_FOUND", Error("MATCHING_RESOURCE_NOT_FOUND")),
            (
                "TAX_YEAR_NOT_SUPPORTED",
                Error("RULE_TAX_YEAR_NOT_SUPPORTED"),
            ),
            (
                "BOTH_EXPENSES_SUPPLIED",
                Error("RULE_BOTH_EXPENSES_SUPPLIED"),
            ),
        ],
        handler: self_employment::amend_period,
    },
    Endpoint {
        id: "se-cumulative",
        method: Method::PUT,
        path: "/individuals/business/self-employment/{nino}/{businessId}/cumulative/{taxYear}",
        api: Api::SelfEmployment,
        version: "5.0",
        auth: Auth::Write,
        body: true,
        scenarios: CUMULATIVE_SCENARIOS,
        handler: self_employment::cumulative,
    },
    Endpoint {
        id: "se-cumulative-retrieve",
        method: Method::GET,
        path: "/individuals/business/self-employment/{nino}/{businessId}/cumulative/{taxYear}",
        api: Api::SelfEmployment,
        version: "5.0",
        auth: Auth::Read,
        body: false,
        scenarios: &[
            ("NOT_FOUND", Error("MATCHING_RESOURCE_NOT_FOUND")),
            (
                "TAX_YEAR_NOT_SUPPORTED",
                Error("RULE_TAX_YEAR_NOT_SUPPORTED"),
            ),
        ],
        handler: self_employment::retrieve_cumulative,
    },
    Endpoint {
        id: "se-annual",
        method: Method::PUT,
        path: "/individuals/business/self-employment/{nino}/{businessId}/annual/{taxYear}",
        api: Api::SelfEmployment,
        version: "5.0",
        auth: Auth::Write,
        body: true,
        scenarios: &[
            (
                "ALLOWANCE_NOT_SUPPORTED",
                Error("RULE_ALLOWANCE_NOT_SUPPORTED"),
            ),
            ("NOT_FOUND", Error("MATCHING_RESOURCE_NOT_FOUND")),
            (
                "WRONG_TPA_AMOUNT_SUBMITTED",
                Error("RULE_WRONG_TPA_AMOUNT_SUBMITTED"),
            ),
            (
                "OUTSIDE_AMENDMENT_WINDOW",
                Error("RULE_OUTSIDE_AMENDMENT_WINDOW"),
            ),
        ],
        handler: self_employment::annual,
    },
    Endpoint {
        id: "se-annual-retrieve",
        method: Method::GET,
        path: "/individuals/business/self-employment/{nino}/{businessId}/annual/{taxYear}",
        api: Api::SelfEmployment,
        version: "5.0",
        auth: Auth::Read,
        body: false,
        scenarios: &[("NOT_FOUND", Error("MATCHING_RESOURCE_NOT_FOUND"))],
        handler: self_employment::retrieve_annual,
    },
    Endpoint {
        id: "uk-property-period-create",
        method: Method::POST,
        path: "/individuals/business/property/uk/{nino}/{businessId}/period/{taxYear}",
        api: Api::Property,
        version: "6.0",
        auth: Auth::Write,
        body: true,
        scenarios: &[
            ("NOT_FOUND", Error("MATCHING_RESOURCE_NOT_FOUND")),
            ("OVERLAPPING", Error("RULE_OVERLAPPING_PERIOD")),
            ("MISALIGNED", Error("RULE_MISALIGNED_PERIOD")),
            ("NOT_CONTIGUOUS", Error("RULE_NOT_CONTIGUOUS_PERIOD")),
            ("DUPLICATE_SUBMISSION", Error("RULE_DUPLICATE_SUBMISSION")),
            (
                "TYPE_OF_BUSINESS_INCORRECT",
                Error("RULE_TYPE_OF_BUSINESS_INCORRECT"),
            ),
        ],
        handler: property::create_period,
    },
    Endpoint {
        id: "uk-property-cumulative",
        method: Method::PUT,
        path: "/individuals/business/property/uk/{nino}/{businessId}/cumulative/{taxYear}",
        api: Api::Property,
        version: "6.0",
        auth: Auth::Write,
        body: true,
        scenarios: CUMULATIVE_SCENARIOS,
        handler: property::cumulative,
    },
    Endpoint {
        id: "uk-property-annual",
        method: Method::PUT,
        path: "/individuals/business/property/uk/{nino}/{businessId}/annual/{taxYear}",
        api: Api::Property,
        version: "6.0",
        auth: Auth::Write,
        body: true,
        scenarios: &[
            ("NOT_FOUND", Error("MATCHING_RESOURCE_NOT_FOUND")),
            (
                "TYPE_OF_BUSINESS_INCORRECT",
                Error("RULE_TYPE_OF_BUSINESS_INCORRECT"),
            ),
            (
                "PROPERTY_INCOME_ALLOWANCE",
                Error("RULE_PROPERTY_INCOME_ALLOWANCE"),
            ),
            (
                "OUTSIDE_AMENDMENT_WINDOW",
                Error("RULE_OUTSIDE_AMENDMENT_WINDOW"),
            ),
        ],
        handler: property::annual,
    },
    Endpoint {
        id: "eops-submit",
        method: Method::POST,
        path: "/individuals/business/end-of-period-statement/{nino}",
        api: Api::Eops,
        version: "3.0",
        auth: Auth::Write,
        body: true,
        scenarios: &[
            ("NOT_FOUND", Error("MATCHING_RESOURCE_NOT_FOUND")),
            ("ALREADY_SUBMITTED", Error("RULE_ALREADY_SUBMITTED")),
            ("EARLY_SUBMISSION", Error("RULE_EARLY_SUBMISSION")),
            ("LATE_SUBMISSION", Error("RULE_LATE_SUBMISSION")),
            ("NON_MATCHING_PERIOD", Error("RULE_NON_MATCHING_PERIOD")),
            ("BVR_MISMATCHED_START_DATE", Custom),
            ("BVR_CLASS4_OVER_16", Custom),
            ("BVR_CLASS4_PENSION_AGE", Custom),
            ("BVR_CONSOLIDATED_EXPENSES", Custom),
            ("BVR_END_DATE_SHORT", Custom),
            ("BVR_END_DATE_EXCEEDS", Custom),
            ("BVR_FHL_PRIVATE_USE_ADJUSTMENT", Custom),
            ("BVR_NON_FHL_PRIVATE_USE_ADJUSTMENT", Custom),
            ("BVR_UK_PROPERTY_MULTIPLE_ERRORS", Custom),
            ("BUSINESS_VALIDATION_FAILURE", Custom),
            (
                "TAX_YEAR_NOT_SUPPORTED",
                Error("RULE_TAX_YEAR_NOT_SUPPORTED"),
            ),
            (
                "BUSINESS_INCOME_PERIOD_RESTRICTION",
                Error("RULE_BUSINESS_INCOME_PERIOD_RESTRICTION"),
            ),
        ],
        handler: eops::submit,
    },
    Endpoint {
        id: "calculation-trigger",
        method: Method::POST,
        path: "/individuals/calculations/{nino}/self-assessment/{taxYear}/trigger/{calculationType}",
        api: Api::Calculations,
        version: "8.0",
        auth: Auth::Write,
        body: false,
        scenarios: &[
            (
                "NO_INCOME_SUBMISSIONS_EXIST",
                Error("RULE_NO_INCOME_SUBMISSIONS_EXIST"),
            ),
            (
                "FINAL_DECLARATION_RECEIVED",
                Error("RULE_FINAL_DECLARATION_RECEIVED"),
            ),
            (
                "INCOME_SOURCES_CHANGED",
                Error("RULE_INCOME_SOURCES_CHANGED"),
            ),
            (
                "RECENT_SUBMISSIONS_EXIST",
                Error("RULE_RECENT_SUBMISSIONS_EXIST"),
            ),
            ("RESIDENCY_CHANGED", Error("RULE_RESIDENCY_CHANGED")),
            (
                "CALCULATION_IN_PROGRESS",
                Error("RULE_CALCULATION_IN_PROGRESS"),
            ),
            (
                "BUSINESS_VALIDATION_FAILURE",
                Error("RULE_BUSINESS_VALIDATION_FAILURE"),
            ),
            ("TAX_YEAR_NOT_ENDED", Error("RULE_TAX_YEAR_NOT_ENDED")),
        ],
        handler: calculations::trigger,
    },
    Endpoint {
        id: "calculation-retrieve",
        method: Method::GET,
        path: "/individuals/calculations/{nino}/self-assessment/{taxYear}/{calculationId}",
        api: Api::Calculations,
        version: "8.0",
        auth: Auth::Read,
        body: false,
        scenarios: &[
            ("NOT_FOUND", Error("MATCHING_RESOURCE_NOT_FOUND")),
            ("ERROR_MESSAGES_EXIST", Custom),
            ("UK_MULTIPLE_INCOMES_EXAMPLE", Custom),
            ("UK_PROP_DIVIDENDS_EXAMPLE", Custom),
            ("UK_PROP_GIFTAID_EXAMPLE", Custom),
            ("UK_PROP_SAVINGS_EXAMPLE", Custom),
            ("UK_SE_GIFTAID_EXAMPLE", Custom),
            ("UK_SE_SAVINGS_EXAMPLE", Custom),
            ("SCOT_SE_DIVIDENDS_EXAMPLE", Custom),
            ("DYNAMIC", Custom),
        ],
        handler: calculations::retrieve,
    },
    Endpoint {
        id: "calculation-final-declaration",
        method: Method::POST,
        path: "/individuals/calculations/{nino}/self-assessment/{taxYear}/{calculationId}/{calculationType}",
        api: Api::Calculations,
        version: "8.0",
        auth: Auth::Write,
        body: false,
        scenarios: &[
            (
                "OUTSIDE_AMENDMENT_WINDOW",
                Error("RULE_OUTSIDE_AMENDMENT_WINDOW"),
            ),
            (
                "FINAL_DECLARATION_IN_PROGRESS",
                Error("RULE_FINAL_DECLARATION_IN_PROGRESS"),
            ),
            (
                "FINAL_DECLARATION_RECEIVED",
                Error("RULE_FINAL_DECLARATION_RECEIVED"),
            ),
            (
                "FINAL_DECLARATION_TAX_YEAR",
                Error("RULE_FINAL_DECLARATION_TAX_YEAR"),
            ),
            (
                "INCOME_SOURCES_CHANGED",
                Error("RULE_INCOME_SOURCES_CHANGED"),
            ),
            (
                "INCOME_SOURCES_INVALID",
                Error("RULE_INCOME_SOURCES_INVALID"),
            ),
            (
                "NO_INCOME_SUBMISSIONS_EXIST",
                Error("RULE_NO_INCOME_SUBMISSIONS_EXIST"),
            ),
            (
                "RECENT_SUBMISSIONS_EXIST",
                Error("RULE_RECENT_SUBMISSIONS_EXIST"),
            ),
            ("RESIDENCY_CHANGED", Error("RULE_RESIDENCY_CHANGED")),
            ("SUBMISSION_FAILED", Error("RULE_SUBMISSION_FAILED")),
            (
                "TAX_YEAR_NOT_SUPPORTED",
                Error("RULE_TAX_YEAR_NOT_SUPPORTED"),
            ),
            ("NOT_FOUND", Error("MATCHING_RESOURCE_NOT_FOUND")),
        ],
        handler: calculations::final_declaration,
    },
    Endpoint {
        id: "business-details-list",
        method: Method::GET,
        path: "/individuals/business/details/{nino}/list",
        api: Api::BusinessDetails,
        version: "2.0",
        auth: Auth::Read,
        body: false,
        scenarios: &[
            ("PROPERTY", Custom),
            ("FOREIGN_PROPERTY", Custom),
            ("BUSINESS_AND_PROPERTY", Custom),
            ("UNSPECIFIED", Custom),
            ("NOT_FOUND", Error("MATCHING_RESOURCE_NOT_FOUND")),
        ],
        handler: business_details::list,
    },
    Endpoint {
        id: "test-fraud-headers-validate",
        method: Method::GET,
        path: "/test/fraud-prevention-headers/validate",
        api: Api::Platform,
        version: "1.0",
        auth: Auth::Application,
        body: false,
        scenarios: &[],
        handler: test_support::validate_fraud_headers,
    },
    Endpoint {
        id: "test-create-individual",
        method: Method::POST,
        path: "/create-test-user/individuals",
        api: Api::Platform,
        version: "1.0",
        auth: Auth::Application,
        body: true,
        scenarios: &[],
        handler: test_support::create_individual,
    },
    Endpoint {
        id: "test-create-business",
        method: Method::POST,
        path: "/individuals/self-assessment-test-support/business/{nino}",
        api: Api::Platform,
        version: "1.0",
        auth: Auth::Write,
        body: true,
        scenarios: &[],
        handler: test_support::create_business,
    },
];

/// The cumulative-summary scenarios shared by self-employment and UK property.
static CUMULATIVE_SCENARIOS: &[(&str, Scenario)] = &[
    ("NOT_FOUND", Error("MATCHING_RESOURCE_NOT_FOUND")),
    (
        "TAX_YEAR_NOT_SUPPORTED",
        Error("RULE_TAX_YEAR_NOT_SUPPORTED"),
    ),
    (
        "BOTH_EXPENSES_SUPPLIED",
        Error("RULE_BOTH_EXPENSES_SUPPLIED"),
    ),
    (
        "START_DATE_NOT_ALIGNED_TO_COMMENCEMENT_DATE",
        Error("RULE_START_DATE_NOT_ALIGNED_TO_COMMENCEMENT_DATE"),
    ),
    (
        "END_DATE_NOT_ALIGNED_WITH_REPORTING_TYPE",
        Error("RULE_END_DATE_NOT_ALIGNED_WITH_REPORTING_TYPE"),
    ),
    (
        "MISSING_SUBMISSION_DATES",
        Error("RULE_MISSING_SUBMISSION_DATES"),
    ),
    (
        "START_AND_END_DATE_NOT_ALLOWED",
        Error("RULE_START_AND_END_DATE_NOT_ALLOWED"),
    ),
    (
        "EARLY_DATA_SUBMISSION_NOT_ACCEPTED",
        Error("RULE_EARLY_DATA_SUBMISSION_NOT_ACCEPTED"),
    ),
    (
        "OUTSIDE_AMENDMENT_WINDOW",
        Error("RULE_OUTSIDE_AMENDMENT_WINDOW"),
    ),
    (
        "ADVANCE_SUBMISSION_REQUIRES_PERIOD_END_DATE",
        Error("RULE_ADVANCE_SUBMISSION_REQUIRES_PERIOD_END_DATE"),
    ),
    (
        "SUBMISSION_END_DATE_CANNOT_MOVE_BACKWARDS",
        Error("RULE_SUBMISSION_END_DATE_CANNOT_MOVE_BACKWARDS"),
    ),
    (
        "START_DATE_NOT_ALIGNED_WITH_REPORTING_TYPE",
        Error("RULE_START_DATE_NOT_ALIGNED_WITH_REPORTING_TYPE"),
    ),
];

/// Resolves a tax-year path parameter with optional bounds.
pub(crate) fn resolve_tax_year(
    api: Api,
    value: &str,
    min: Option<i32>,
    max: Option<i32>,
) -> Result<TaxYear, MtdError> {
    let ty: TaxYear = value.parse().map_err(|e| match e {
        TaxYearError::Format => api.error("FORMAT_TAX_YEAR"),
        TaxYearError::RangeInvalid => api.error("RULE_TAX_YEAR_RANGE_INVALID"),
    })?;
    let too_early = min.is_some_and(|m| ty.start_year() < m);
    let too_late = max.is_some_and(|m| ty.start_year() > m);
    if too_early || too_late {
        return Err(api.error("RULE_TAX_YEAR_NOT_SUPPORTED"));
    }
    Ok(ty)
}

/// Checks a business-ID path parameter.
pub(crate) fn resolve_business_id(api: Api, value: &str) -> Result<(), MtdError> {
    if is_valid_business_id(value) {
        Ok(())
    } else {
        Err(api.error("FORMAT_BUSINESS_ID"))
    }
}

/// Turns a list of independent checks into one outcome (errors accumulate, as cats' `mapN`).
pub(crate) fn all_of(results: Vec<Result<(), MtdError>>) -> Result<(), Errs> {
    let errors: Vec<MtdError> = results.into_iter().filter_map(Result::err).collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Errs(errors))
    }
}

/// Fails with the errors collected so far, if any.
pub(crate) fn none_or(errors: Vec<MtdError>) -> Result<(), Errs> {
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Errs(errors))
    }
}

/// The user's business with this ID and type. A missing business is
/// `MATCHING_RESOURCE_NOT_FOUND`; a business of another type is `wrong_type`.
pub(crate) fn business_of<'a>(
    api: Api,
    user: &'a TestUser,
    business_id: &str,
    kind: BusinessType,
    wrong_type: &str,
) -> Result<&'a Business, Errs> {
    let business = user
        .business(business_id)
        .ok_or_else(|| Errs::from(api.error("MATCHING_RESOURCE_NOT_FOUND")))?;
    if business.type_of_business != kind {
        return Err(api.error(wrong_type).into());
    }
    Ok(business)
}

/// The last day an amendment for `ty` is accepted: 12 months after the 31 January filing
/// deadline.
pub(crate) fn amendment_window_end(ty: TaxYear) -> chrono::NaiveDate {
    crate::ids::ymd(ty.start_year() + 3, 1, 31)
}
