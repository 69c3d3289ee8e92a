//! The client's types held to HMRC's own definitions (`testdata/hmrc-api`): every example
//! response parses; every example request round-trips through the request types and
//! validates against its schema.

use hmrc_mtd::{
    business_details::BusinessList,
    calculations::{Calculation, CalculationTriggered},
    eops::EndOfPeriodStatement,
    obligations::{FinalDeclarationObligations, IncomeAndExpenditureObligations},
    property::{
        PropertySubmissionCreated, UkPropertyAnnualSubmission, UkPropertyCumulativeSummary,
        UkPropertyPeriodSummary,
    },
    self_employment::{
        PeriodSummaryCreated, SelfEmploymentAnnualSubmission, SelfEmploymentCumulativeSummary,
        SelfEmploymentPeriodSummary,
    },
};
use serde::{Serialize, de::DeserializeOwned};
use serde_json::Value;

use crate::support::{assert_valid, hmrc_api, read_json, render_template};

fn parses<T: DeserializeOwned>(example: &str) -> T {
    let value = read_json(example);
    serde_json::from_value(value).unwrap_or_else(|e| panic!("{example}: {e}"))
}

#[test]
fn obligations_types_parse_every_hmrc_example_and_keep_its_dates() {
    let all: IncomeAndExpenditureObligations =
        parses("obligations-api/3.0/examples/retrieve_non-cumulative_periodic_obligations.json");
    let details = &all.obligations[0].obligation_details;
    assert_eq!(details.len(), 4);
    assert_eq!(
        details[0].received_date.map(|d| d.to_string()).as_deref(),
        Some("2019-08-01")
    );
    assert_eq!(details[3].received_date, None);
    for example in [
        "retrieve_cumulative_periodic_obligations_ty_25_26.json",
        "retrieve_cumulative_periodic_obligations_ty_26_27_and_after.json",
    ] {
        let parsed: IncomeAndExpenditureObligations =
            parses(&format!("obligations-api/3.0/examples/{example}"));
        assert!(!parsed.obligations.is_empty(), "{example}");
    }
    let declarations: FinalDeclarationObligations =
        parses("obligations-api/3.0/examples/retrieve_crystallisation_obligations.json");
    assert_eq!(
        declarations.obligations[0].due_date.to_string(),
        "2020-01-31"
    );
}

#[test]
fn hmrc_cumulative_obligation_examples_match_tax_year_quarters() {
    for (example, year) in [
        (
            "retrieve_cumulative_periodic_obligations_ty_25_26.json",
            "2025-26",
        ),
        (
            "retrieve_cumulative_periodic_obligations_ty_26_27_and_after.json",
            "2026-27",
        ),
    ] {
        let parsed: IncomeAndExpenditureObligations =
            parses(&format!("obligations-api/3.0/examples/{example}"));
        let year: hmrc_mtd::TaxYear = year.parse().unwrap();
        for business in &parsed.obligations {
            for (detail, quarter) in business.obligation_details.iter().zip(year.quarters()) {
                assert_eq!(detail.period_start_date, quarter.start, "{example}");
                assert_eq!(detail.period_end_date, quarter.end, "{example}");
                assert_eq!(detail.due_date, quarter.due, "{example}");
            }
        }
    }
}

#[test]
fn submission_receipts_parse_hmrcs_example_responses() {
    let se: PeriodSummaryCreated =
        parses("self-employment-business-api/5.0/examples/createPeriodSummary/response.json");
    assert!(!se.period_id.is_empty());
    let property: PropertySubmissionCreated = parses(
        "property-business-api/6.0/examples/uk_property_period_summary_create/response.json",
    );
    assert_eq!(property.submission_id.len(), 36);
    let trigger: CalculationTriggered =
        parses("individual-calculations-api/8.0/examples/trigger/trigger_response.json");
    assert_eq!(
        trigger.calculation_id.as_str(),
        "f2fb30e5-4ab6-4a29-b3c1-c7264259ff1c"
    );
    let businesses: BusinessList =
        parses("business-details-api/2.0/examples/listAllBusinesses/response.json");
    assert_eq!(businesses.list_of_businesses.len(), 2);
    assert_eq!(
        businesses.list_of_businesses[0].trading_name.as_deref(),
        Some("RCDTS")
    );
}

#[test]
fn calculation_type_parses_every_retrieve_example_with_its_total() {
    for def in ["def1", "def2", "def3", "def4"] {
        let calc: Calculation = parses(&format!(
            "individual-calculations-api/8.0/examples/retrieve/{def}/retrieve_response.json"
        ));
        assert_eq!(
            calc.metadata.calculation_id, "f2fb30e5-4ab6-4a29-b3c1-c7264259ff1c",
            "{def}"
        );
        assert!(calc.calculation.is_some(), "{def}");
        assert!(calc.total_income_tax_and_nics_due().is_some(), "{def}");
        assert!(calc.messages.is_some(), "{def}");
    }
}

/// `(example request, schema)` pairs from HMRC's definitions, and the type that holds them.
fn round_trip<T: DeserializeOwned + Serialize>(example: &str, schema: &str) {
    let path = hmrc_api().join(example);
    let mut text = render_template(&std::fs::read_to_string(&path).unwrap());
    // HMRC's def2 non-consolidated example writes `-000.99`, which is not JSON.
    text = text.replace("-000.99", "-0.99");
    let original: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{example}: {e}"));
    let typed: T = serde_json::from_value(original.clone())
        .unwrap_or_else(|e| panic!("{example} does not fit the request type: {e}"));
    let written = serde_json::to_value(&typed).unwrap();
    assert_eq!(written, original, "{example} changed in the round trip");
    let exact = serde_json::to_string(&typed).unwrap();
    assert!(!exact.contains("e+") && !exact.contains("E+"), "{exact}");
    assert_valid(schema, &written);
}

#[test]
fn self_employment_request_types_round_trip_hmrcs_examples_and_validate() {
    let base = "self-employment-business-api/5.0";
    for def in ["def1", "def2"] {
        for kind in ["consolidated_request", "non_consolidated_request"] {
            round_trip::<SelfEmploymentPeriodSummary>(
                &format!("{base}/examples/createPeriodSummary/{def}/{kind}.json"),
                &format!("{base}/schemas/createPeriodSummary/{def}/request.json"),
            );
        }
    }
    for kind in ["consolidated_request", "non_consolidated_request"] {
        round_trip::<SelfEmploymentCumulativeSummary>(
            &format!("{base}/examples/createAmendCumulativePeriodSummary/{kind}.json"),
            &format!("{base}/schemas/createAmendCumulativePeriodSummary/request.json"),
        );
    }
    for def in ["def1", "def2", "def3", "def4"] {
        for kind in [
            "with_trading_income_allowance",
            "without_trading_income_allowance",
        ] {
            round_trip::<SelfEmploymentAnnualSubmission>(
                &format!("{base}/examples/createAmendAnnualSubmission/{def}/{kind}.json"),
                &format!("{base}/schemas/createAmendAnnualSubmission/{def}/request.json"),
            );
        }
    }
}

#[test]
fn property_request_types_round_trip_hmrcs_examples_and_validate() {
    let base = "property-business-api/6.0";
    for def in ["def1", "def2"] {
        for kind in ["request", "consolidated_request"] {
            round_trip::<UkPropertyPeriodSummary>(
                &format!("{base}/examples/uk_property_period_summary_create/{def}/{kind}.json"),
                &format!("{base}/schemas/uk_property_period_summary_create/{def}/request.json"),
            );
        }
    }
    for kind in ["request", "consolidated_request"] {
        round_trip::<UkPropertyCumulativeSummary>(
            &format!(
                "{base}/examples/uk_property_cumulative_summary_create_and_amend/def1/{kind}.json"
            ),
            &format!(
                "{base}/schemas/uk_property_cumulative_summary_create_and_amend/def1/request.json"
            ),
        );
    }
    for def in ["def1", "def2"] {
        for kind in ["property_allowance_request", "all_other_allowances_request"] {
            round_trip::<UkPropertyAnnualSubmission>(
                &format!(
                    "{base}/examples/uk_property_annual_submission_create_and_amend/{def}/{kind}.json"
                ),
                &format!(
                    "{base}/schemas/uk_property_annual_submission_create_and_amend/{def}/request.json"
                ),
            );
        }
    }
}

#[test]
fn eops_request_type_round_trips_hmrcs_example_and_validates() {
    round_trip::<EndOfPeriodStatement>(
        "individuals-business-eops-api/3.0/examples/submitBusEOPS_req.json",
        "individuals-business-eops-api/3.0/schemas/submitBusEOPS_req.json",
    );
}

#[test]
fn response_examples_validate_against_hmrcs_response_schemas() {
    // The schemas the simulator is held to also accept what this client parses.
    for (example, schema) in [
        (
            "obligations-api/3.0/examples/retrieve_non-cumulative_periodic_obligations.json",
            "obligations-api/3.0/schemas/retrieve_periodic_obligations_response.json",
        ),
        (
            "obligations-api/3.0/examples/retrieve_crystallisation_obligations.json",
            "obligations-api/3.0/schemas/retrieve_crystallisation_obligations_response.json",
        ),
        (
            "business-details-api/2.0/examples/listAllBusinesses/response.json",
            "business-details-api/2.0/schemas/listAllbusinesses/response.json",
        ),
        (
            "individual-calculations-api/8.0/examples/trigger/trigger_response.json",
            "individual-calculations-api/8.0/schemas/trigger/trigger_response.json",
        ),
    ] {
        assert_valid(schema, &read_json(example));
    }
}

#[test]
fn schema_validation_rejects_what_hmrc_would_reject() {
    // The harness itself: $refs resolve and constraints bite, so passing tests mean something.
    let schema = "self-employment-business-api/5.0/schemas/createPeriodSummary/def2/request.json";
    let crate::support::Validation { errors } = crate::support::validate(
        schema,
        &serde_json::json!({
            "periodDates": {"periodStartDate": "2024-04-06", "periodEndDate": "2024-07-05"},
            "periodIncome": {"turnover": -1},
            "periodExpenses": {"consolidatedExpenses": 1.001},
            "unknown": true
        }),
    );
    assert!(
        errors.iter().any(|e| e.contains("/periodIncome/turnover")),
        "{errors:?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.contains("/periodExpenses/consolidatedExpenses")),
        "{errors:?}"
    );
    assert!(errors.iter().any(|e| e.contains("unknown")), "{errors:?}");
}
