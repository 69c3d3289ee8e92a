//! Gov-Test-Scenario: every error scenario of every endpoint answers HMRC's error for it, after
//! validation; an unknown value is RULE_INCORRECT_GOV_TEST_SCENARIO.

use reqwest::{Method, StatusCode};

use crate::common::*;

struct Case {
    method: Method,
    path: &'static str,
    version: &'static str,
    api: &'static str,
    body: Option<&'static str>,
    scenarios: &'static [(&'static str, &'static str)],
}

const SE_PERIOD: &str = r#"{"periodDates": {"periodStartDate": "2024-04-06", "periodEndDate": "2024-07-05"}, "periodIncome": {"turnover": 1}}"#;
const SE_CUMULATIVE: &str = r#"{"periodDates": {"periodStartDate": "2025-04-06", "periodEndDate": "2025-07-05"}, "periodIncome": {"turnover": 1}}"#;
const UK_PERIOD: &str = r#"{"fromDate": "2024-04-06", "toDate": "2024-07-05", "ukNonFhlProperty": {"income": {"periodAmount": 1}}}"#;
const UK_CUMULATIVE: &str = r#"{"fromDate": "2025-04-06", "toDate": "2025-07-05", "ukProperty": {"income": {"periodAmount": 1}}}"#;
const EOPS: &str = r#"{"typeOfBusiness": "self-employment", "businessId": "XAIS12345678910", "accountingPeriod": {"startDate": "2021-04-06", "endDate": "2022-04-05"}, "finalised": true}"#;

const CUMULATIVE_SCENARIOS: &[(&str, &str)] = &[
    ("NOT_FOUND", "MATCHING_RESOURCE_NOT_FOUND"),
    ("TAX_YEAR_NOT_SUPPORTED", "RULE_TAX_YEAR_NOT_SUPPORTED"),
    (
        "START_DATE_NOT_ALIGNED_TO_COMMENCEMENT_DATE",
        "RULE_START_DATE_NOT_ALIGNED_TO_COMMENCEMENT_DATE",
    ),
    (
        "END_DATE_NOT_ALIGNED_WITH_REPORTING_TYPE",
        "RULE_END_DATE_NOT_ALIGNED_WITH_REPORTING_TYPE",
    ),
    ("MISSING_SUBMISSION_DATES", "RULE_MISSING_SUBMISSION_DATES"),
    (
        "START_AND_END_DATE_NOT_ALLOWED",
        "RULE_START_AND_END_DATE_NOT_ALLOWED",
    ),
    (
        "EARLY_DATA_SUBMISSION_NOT_ACCEPTED",
        "RULE_EARLY_DATA_SUBMISSION_NOT_ACCEPTED",
    ),
    ("OUTSIDE_AMENDMENT_WINDOW", "RULE_OUTSIDE_AMENDMENT_WINDOW"),
    (
        "ADVANCE_SUBMISSION_REQUIRES_PERIOD_END_DATE",
        "RULE_ADVANCE_SUBMISSION_REQUIRES_PERIOD_END_DATE",
    ),
    (
        "SUBMISSION_END_DATE_CANNOT_MOVE_BACKWARDS",
        "RULE_SUBMISSION_END_DATE_CANNOT_MOVE_BACKWARDS",
    ),
    (
        "START_DATE_NOT_ALIGNED_WITH_REPORTING_TYPE",
        "RULE_START_DATE_NOT_ALIGNED_WITH_REPORTING_TYPE",
    ),
];

fn cases() -> Vec<Case> {
    vec![
        Case {
            method: Method::GET,
            path: "/obligations/details/AA123456A/income-and-expenditure",
            version: "3.0",
            api: "obligations-api/3.0",
            body: None,
            scenarios: &[
                ("INSOLVENT_TRADER", "RULE_INSOLVENT_TRADER"),
                ("NOT_FOUND", "MATCHING_RESOURCE_NOT_FOUND"),
                ("NO_OBLIGATIONS_FOUND", "NO_OBLIGATIONS_FOUND"),
            ],
        },
        Case {
            method: Method::GET,
            path: "/obligations/details/AA123456A/crystallisation",
            version: "3.0",
            api: "obligations-api/3.0",
            body: None,
            scenarios: &[
                ("INSOLVENT_TRADER", "RULE_INSOLVENT_TRADER"),
                ("NOT_FOUND", "MATCHING_RESOURCE_NOT_FOUND"),
            ],
        },
        Case {
            method: Method::POST,
            path: "/individuals/business/self-employment/AA123456A/XAIS12345678910/period",
            version: "5.0",
            api: "self-employment-business-api/5.0",
            body: Some(SE_PERIOD),
            scenarios: &[
                ("OVERLAPPING_PERIOD", "RULE_OVERLAPPING_PERIOD"),
                ("MISALIGNED_PERIOD", "RULE_MISALIGNED_PERIOD"),
                ("NOT_CONTIGUOUS_PERIOD", "RULE_NOT_CONTIGUOUS_PERIOD"),
                (
                    "NOT_ALLOWED_CONSOLIDATED_EXPENSES",
                    "RULE_NOT_ALLOWED_CONSOLIDATED_EXPENSES",
                ),
                ("DUPLICATE_SUBMISSION", "RULE_DUPLICATE_SUBMISSION"),
                ("TAX_YEAR_NOT_SUPPORTED", "RULE_TAX_YEAR_NOT_SUPPORTED"),
                ("NOT_FOUND", "MATCHING_RESOURCE_NOT_FOUND"),
                ("BOTH_EXPENSES_SUPPLIED", "RULE_BOTH_EXPENSES_SUPPLIED"),
                (
                    "BUSINESS_INCOME_PERIOD_RESTRICTION",
                    "RULE_BUSINESS_INCOME_PERIOD_RESTRICTION",
                ),
            ],
        },
        Case {
            method: Method::PUT,
            path: "/individuals/business/self-employment/AA123456A/XAIS12345678910/cumulative/2025-26",
            version: "5.0",
            api: "self-employment-business-api/5.0",
            body: Some(SE_CUMULATIVE),
            scenarios: CUMULATIVE_SCENARIOS,
        },
        Case {
            method: Method::PUT,
            path: "/individuals/business/self-employment/AA123456A/XAIS12345678910/annual/2025-26",
            version: "5.0",
            api: "self-employment-business-api/5.0",
            body: Some(r#"{"allowances": {"tradingIncomeAllowance": 1000}}"#),
            scenarios: &[
                ("ALLOWANCE_NOT_SUPPORTED", "RULE_ALLOWANCE_NOT_SUPPORTED"),
                ("NOT_FOUND", "MATCHING_RESOURCE_NOT_FOUND"),
                (
                    "WRONG_TPA_AMOUNT_SUBMITTED",
                    "RULE_WRONG_TPA_AMOUNT_SUBMITTED",
                ),
                ("OUTSIDE_AMENDMENT_WINDOW", "RULE_OUTSIDE_AMENDMENT_WINDOW"),
            ],
        },
        Case {
            method: Method::POST,
            path: "/individuals/business/property/uk/AA123456A/XPIS12345678901/period/2024-25",
            version: "6.0",
            api: "property-business-api/6.0",
            body: Some(UK_PERIOD),
            scenarios: &[
                ("NOT_FOUND", "MATCHING_RESOURCE_NOT_FOUND"),
                ("OVERLAPPING", "RULE_OVERLAPPING_PERIOD"),
                ("MISALIGNED", "RULE_MISALIGNED_PERIOD"),
                ("NOT_CONTIGUOUS", "RULE_NOT_CONTIGUOUS_PERIOD"),
                ("DUPLICATE_SUBMISSION", "RULE_DUPLICATE_SUBMISSION"),
                (
                    "TYPE_OF_BUSINESS_INCORRECT",
                    "RULE_TYPE_OF_BUSINESS_INCORRECT",
                ),
            ],
        },
        Case {
            method: Method::PUT,
            path: "/individuals/business/property/uk/AA123456A/XPIS12345678901/cumulative/2025-26",
            version: "6.0",
            api: "property-business-api/6.0",
            body: Some(UK_CUMULATIVE),
            scenarios: CUMULATIVE_SCENARIOS,
        },
        Case {
            method: Method::POST,
            path: "/individuals/business/end-of-period-statement/AA123456A",
            version: "3.0",
            api: "individuals-business-eops-api/3.0",
            body: Some(EOPS),
            scenarios: &[
                ("NOT_FOUND", "MATCHING_RESOURCE_NOT_FOUND"),
                ("ALREADY_SUBMITTED", "RULE_ALREADY_SUBMITTED"),
                ("EARLY_SUBMISSION", "RULE_EARLY_SUBMISSION"),
                ("LATE_SUBMISSION", "RULE_LATE_SUBMISSION"),
                ("NON_MATCHING_PERIOD", "RULE_NON_MATCHING_PERIOD"),
                ("TAX_YEAR_NOT_SUPPORTED", "RULE_TAX_YEAR_NOT_SUPPORTED"),
                (
                    "BUSINESS_INCOME_PERIOD_RESTRICTION",
                    "RULE_BUSINESS_INCOME_PERIOD_RESTRICTION",
                ),
            ],
        },
        Case {
            method: Method::POST,
            path: "/individuals/calculations/AA123456A/self-assessment/2025-26/trigger/intent-to-finalise",
            version: "8.0",
            api: "individual-calculations-api/8.0",
            body: None,
            scenarios: &[
                (
                    "NO_INCOME_SUBMISSIONS_EXIST",
                    "RULE_NO_INCOME_SUBMISSIONS_EXIST",
                ),
                (
                    "FINAL_DECLARATION_RECEIVED",
                    "RULE_FINAL_DECLARATION_RECEIVED",
                ),
                ("INCOME_SOURCES_CHANGED", "RULE_INCOME_SOURCES_CHANGED"),
                ("RECENT_SUBMISSIONS_EXIST", "RULE_RECENT_SUBMISSIONS_EXIST"),
                ("RESIDENCY_CHANGED", "RULE_RESIDENCY_CHANGED"),
                ("CALCULATION_IN_PROGRESS", "RULE_CALCULATION_IN_PROGRESS"),
                (
                    "BUSINESS_VALIDATION_FAILURE",
                    "RULE_BUSINESS_VALIDATION_FAILURE",
                ),
                ("TAX_YEAR_NOT_ENDED", "RULE_TAX_YEAR_NOT_ENDED"),
            ],
        },
        Case {
            method: Method::GET,
            path: "/individuals/calculations/AA123456A/self-assessment/2025-26/f2fb30e5-4ab6-4a29-b3c1-c7264259ff1c",
            version: "8.0",
            api: "individual-calculations-api/8.0",
            body: None,
            scenarios: &[("NOT_FOUND", "MATCHING_RESOURCE_NOT_FOUND")],
        },
        Case {
            method: Method::POST,
            path: "/individuals/calculations/AA123456A/self-assessment/2025-26/f2fb30e5-4ab6-4a29-b3c1-c7264259ff1c/final-declaration",
            version: "8.0",
            api: "individual-calculations-api/8.0",
            body: None,
            scenarios: &[
                ("OUTSIDE_AMENDMENT_WINDOW", "RULE_OUTSIDE_AMENDMENT_WINDOW"),
                (
                    "FINAL_DECLARATION_IN_PROGRESS",
                    "RULE_FINAL_DECLARATION_IN_PROGRESS",
                ),
                (
                    "FINAL_DECLARATION_RECEIVED",
                    "RULE_FINAL_DECLARATION_RECEIVED",
                ),
                (
                    "FINAL_DECLARATION_TAX_YEAR",
                    "RULE_FINAL_DECLARATION_TAX_YEAR",
                ),
                ("INCOME_SOURCES_CHANGED", "RULE_INCOME_SOURCES_CHANGED"),
                ("INCOME_SOURCES_INVALID", "RULE_INCOME_SOURCES_INVALID"),
                (
                    "NO_INCOME_SUBMISSIONS_EXIST",
                    "RULE_NO_INCOME_SUBMISSIONS_EXIST",
                ),
                ("RECENT_SUBMISSIONS_EXIST", "RULE_RECENT_SUBMISSIONS_EXIST"),
                ("RESIDENCY_CHANGED", "RULE_RESIDENCY_CHANGED"),
                ("SUBMISSION_FAILED", "RULE_SUBMISSION_FAILED"),
                ("TAX_YEAR_NOT_SUPPORTED", "RULE_TAX_YEAR_NOT_SUPPORTED"),
                ("NOT_FOUND", "MATCHING_RESOURCE_NOT_FOUND"),
            ],
        },
        Case {
            method: Method::GET,
            path: "/individuals/business/details/AA123456A/list",
            version: "2.0",
            api: "business-details-api/2.0",
            body: None,
            scenarios: &[("NOT_FOUND", "MATCHING_RESOURCE_NOT_FOUND")],
        },
    ]
}

#[tokio::test]
async fn error_scenarios_answer_hmrcs_errors_and_unknown_values_are_refused() {
    let env = env().await;
    let t = env.tokens().await;
    for case in cases() {
        let call = |scenario: &'static str| {
            let mut c = Call::new(case.method.clone(), case.path, case.version)
                .token(&t.access)
                .scenario(scenario);
            if let Some(b) = case.body {
                c = c.body(b);
            }
            c
        };
        for (scenario, code) in case.scenarios {
            let r = env.call(call(scenario)).await;
            assert_eq!(r.code(), *code, "{} {scenario}: {}", case.path, r.text);
            assert!(r.status.is_client_error(), "{} {scenario}", case.path);
            assert_hmrc_error(case.api, &r.json, code);
        }
        let unknown = env.call(call("NO_SUCH_SCENARIO")).await;
        assert_eq!(unknown.status, StatusCode::BAD_REQUEST, "{}", case.path);
        if case.api.starts_with("individuals-business-eops-api") {
            // The EOPS definitions carry no example for this code.
            assert_eq!(
                unknown.json["message"],
                "The supplied Gov-Test-Scenario is not valid"
            );
        } else {
            assert_hmrc_error(case.api, &unknown.json, "RULE_INCORRECT_GOV_TEST_SCENARIO");
        }
    }
}

#[tokio::test]
async fn validation_errors_come_before_the_scenario() {
    let env = env().await;
    let t = env.tokens().await;
    let r = env
        .call(
            Call::new(
                Method::POST,
                "/individuals/business/self-employment/AA123456A/XAIS12345678910/period",
                "5.0",
            )
            .token(&t.access)
            .scenario("OVERLAPPING_PERIOD")
            .body("{}"),
        )
        .await;
    assert_eq!(r.code(), "RULE_INCORRECT_OR_EMPTY_BODY_SUBMITTED");
    let r = env
        .call(
            Call::new(
                Method::GET,
                "/obligations/details/AA123456A/crystallisation?taxYear=2017",
                "3.0",
            )
            .token(&t.access)
            .scenario("NONSENSE"),
        )
        .await;
    assert_eq!(r.code(), "FORMAT_TAX_YEAR");
}

#[tokio::test]
async fn eops_business_validation_scenarios_carry_error_ids() {
    let env = env().await;
    let t = env.tokens().await;
    let call = |scenario: &'static str| {
        Call::new(
            Method::POST,
            "/individuals/business/end-of-period-statement/AA123456A",
            "3.0",
        )
        .token(&t.access)
        .scenario(scenario)
        .body(EOPS)
    };
    let one = env.call(call("BVR_CONSOLIDATED_EXPENSES")).await;
    assert_eq!(one.status, StatusCode::BAD_REQUEST);
    assert_eq!(one.code(), "RULE_BUSINESS_VALIDATION_FAILURE");
    assert!(one.json["errorId"].is_string());
    let generic = env.call(call("BUSINESS_VALIDATION_FAILURE")).await;
    assert_hmrc_error(
        "individuals-business-eops-api/3.0",
        &generic.json,
        "RULE_BUSINESS_VALIDATION_FAILURE",
    );
    let many = env.call(call("BVR_UK_PROPERTY_MULTIPLE_ERRORS")).await;
    assert_eq!(many.code(), "INVALID_REQUEST");
    let errors = many.json["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 2);
    assert!(
        errors
            .iter()
            .all(|e| e["code"] == "RULE_BUSINESS_VALIDATION_FAILURE" && e["errorId"].is_string())
    );
}
