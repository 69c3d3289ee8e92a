//! Property Business API v6.0, UK property: period summaries (201 submissionId), cumulative
//! summaries (204) and annual submissions of both schema versions.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::common::*;

const API: &str = "property-business-api/6.0";
const BASE: &str = "/individuals/business/property/uk/AA123456A";

fn example(rel: &str) -> String {
    example_text(&format!("{API}/examples/{rel}"))
}

#[tokio::test]
async fn period_summary_answers_201_with_a_uuid_submission_id() {
    let env = env().await;
    let t = env.tokens().await;
    let path = format!("{BASE}/{UK_ID}/period/2024-25");
    let r = env
        .send_json(
            Method::POST,
            &path,
            "6.0",
            &t.access,
            &example("uk_property_period_summary_create/def2/consolidated_request.json"),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_schema(
        &format!("{API}/schemas/uk_property_period_summary_create/response.json"),
        &r.json,
    );
    let id = r.json["submissionId"].as_str().unwrap();
    let v4 =
        regex::Regex::new("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
            .unwrap();
    assert!(v4.is_match(id), "{id}");

    let again = env
        .send_json(
            Method::POST,
            &path,
            "6.0",
            &t.access,
            &example("uk_property_period_summary_create/def2/request.json"),
        )
        .await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
    assert_hmrc_error(API, &again.json, "RULE_DUPLICATE_SUBMISSION");

    let next = r#"{"fromDate": "2024-07-06", "toDate": "2024-10-05", "ukNonFhlProperty": {"income": {"periodAmount": 10}}}"#;
    assert_eq!(
        env.send_json(Method::POST, &path, "6.0", &t.access, next)
            .await
            .status,
        StatusCode::CREATED
    );
    let overlapping = r#"{"fromDate": "2024-09-06", "toDate": "2025-01-05", "ukNonFhlProperty": {"income": {"periodAmount": 10}}}"#;
    let r = env
        .send_json(Method::POST, &path, "6.0", &t.access, overlapping)
        .await;
    assert_hmrc_error(API, &r.json, "RULE_OVERLAPPING_PERIOD");
    let gap = r#"{"fromDate": "2024-11-06", "toDate": "2025-01-05", "ukNonFhlProperty": {"income": {"periodAmount": 10}}}"#;
    let r = env
        .send_json(Method::POST, &path, "6.0", &t.access, gap)
        .await;
    assert_hmrc_error(API, &r.json, "RULE_NOT_CONTIGUOUS_PERIOD");
    let elsewhere = r#"{"fromDate": "2023-04-06", "toDate": "2023-07-05", "ukNonFhlProperty": {"income": {"periodAmount": 10}}}"#;
    let r = env
        .send_json(Method::POST, &path, "6.0", &t.access, elsewhere)
        .await;
    assert_hmrc_error(API, &r.json, "RULE_MISALIGNED_PERIOD");
}

#[tokio::test]
async fn period_summary_validation() {
    let env = env().await;
    let t = env.tokens().await;
    let path = format!("{BASE}/{UK_ID}/period/2024-25");
    let both = r#"{"fromDate": "2024-04-06", "toDate": "2024-07-05",
                   "ukFhlProperty": {"expenses": {"consolidatedExpenses": 1, "travelCosts": 2}}}"#;
    let r = env
        .send_json(Method::POST, &path, "6.0", &t.access, both)
        .await;
    assert_hmrc_error(API, &r.json, "RULE_BOTH_EXPENSES_SUPPLIED");
    assert_eq!(r.json["paths"], json!(["/ukFhlProperty/expenses"]));
    let backwards = r#"{"fromDate": "2024-07-05", "toDate": "2024-04-06", "ukNonFhlProperty": {"income": {"periodAmount": 1}}}"#;
    let r = env
        .send_json(Method::POST, &path, "6.0", &t.access, backwards)
        .await;
    assert_hmrc_error(API, &r.json, "RULE_TO_DATE_BEFORE_FROM_DATE");
    let dates = r#"{"fromDate": "06/04/2024", "toDate": "2024-07-05", "ukNonFhlProperty": {"income": {"periodAmount": 1.123}}}"#;
    let r = env
        .send_json(Method::POST, &path, "6.0", &t.access, dates)
        .await;
    let codes: Vec<&str> = r.json["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["FORMAT_FROM_DATE", "FORMAT_VALUE"]);
    let late = env
        .send_json(
            Method::POST,
            &format!("{BASE}/{UK_ID}/period/2025-26"),
            "6.0",
            &t.access,
            r#"{"fromDate": "2025-04-06", "toDate": "2025-07-05"}"#,
        )
        .await;
    assert_hmrc_error(API, &late.json, "RULE_TAX_YEAR_NOT_SUPPORTED");
    let wrong_kind = env
        .send_json(
            Method::POST,
            &format!("{BASE}/{SE_ID}/period/2024-25"),
            "6.0",
            &t.access,
            &example("uk_property_period_summary_create/def2/consolidated_request.json"),
        )
        .await;
    assert_hmrc_error(API, &wrong_kind.json, "RULE_TYPE_OF_BUSINESS_INCORRECT");
}

#[tokio::test]
async fn cumulative_summary_accepts_hmrcs_example_and_fulfils_obligations() {
    let env = env().await;
    let t = env.tokens().await;
    let path = format!("{BASE}/{UK_ID}/cumulative/2025-26");
    let r = env
        .send_json(
            Method::PUT,
            &path,
            "6.0",
            &t.access,
            &example("uk_property_cumulative_summary_create_and_amend/def1/request.json"),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let obligations = env
        .get("/obligations/details/AA123456A/income-and-expenditure?typeOfBusiness=uk-property&businessId=XPIS12345678901&fromDate=2025-04-06&toDate=2026-04-05", "3.0", &t.access)
        .await;
    let first = &obligations.json["obligations"][0]["obligationDetails"][0];
    assert_eq!(first["status"], "fulfilled");
    let both = r#"{"fromDate": "2025-04-06", "toDate": "2025-10-05",
                   "ukProperty": {"expenses": {"consolidatedExpenses": 1, "premisesRunningCosts": 2}}}"#;
    let r = env
        .send_json(Method::PUT, &path, "6.0", &t.access, both)
        .await;
    assert_hmrc_error(API, &r.json, "RULE_BOTH_EXPENSES_SUPPLIED");
    let no_property = env
        .send_json(
            Method::PUT,
            &path,
            "6.0",
            &t.access,
            r#"{"fromDate": "2025-04-06", "toDate": "2025-10-05"}"#,
        )
        .await;
    assert_eq!(
        no_property.json["code"],
        "RULE_INCORRECT_OR_EMPTY_BODY_SUBMITTED"
    );
    assert_eq!(no_property.json["paths"], json!(["/ukProperty"]));
}

#[tokio::test]
async fn annual_submissions_of_both_schema_versions() {
    let env = env().await;
    let t = env.tokens().await;
    for (ty, file) in [
        (
            "2025-26",
            "uk_property_annual_submission_create_and_amend/def2/property_allowance_request.json",
        ),
        (
            "2024-25",
            "uk_property_annual_submission_create_and_amend/def1/all_other_allowances_request.json",
        ),
    ] {
        let r = env
            .send_json(
                Method::PUT,
                &format!("{BASE}/{UK_ID}/annual/{ty}"),
                "6.0",
                &t.access,
                &example(file),
            )
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{ty}: {}", r.text);
    }
    let both = r#"{"ukProperty": {"allowances": {"propertyIncomeAllowance": 100, "annualInvestmentAllowance": 5}, "adjustments": {"nonResidentLandlord": false}}}"#;
    let r = env
        .send_json(
            Method::PUT,
            &format!("{BASE}/{UK_ID}/annual/2025-26"),
            "6.0",
            &t.access,
            both,
        )
        .await;
    assert_hmrc_error(API, &r.json, "RULE_BOTH_ALLOWANCES_SUPPLIED");
    let pua = r#"{"ukProperty": {"allowances": {"propertyIncomeAllowance": 100}, "adjustments": {"privateUseAdjustment": 1, "nonResidentLandlord": false}}}"#;
    let r = env
        .send_json(
            Method::PUT,
            &format!("{BASE}/{UK_ID}/annual/2025-26"),
            "6.0",
            &t.access,
            pua,
        )
        .await;
    assert_hmrc_error(API, &r.json, "RULE_PROPERTY_INCOME_ALLOWANCE");
    let missing_flag = r#"{"ukProperty": {"adjustments": {"balancingCharge": 1}}}"#;
    let r = env
        .send_json(
            Method::PUT,
            &format!("{BASE}/{UK_ID}/annual/2025-26"),
            "6.0",
            &t.access,
            missing_flag,
        )
        .await;
    assert_eq!(
        r.json["paths"],
        json!(["/ukProperty/adjustments/nonResidentLandlord"])
    );
}
