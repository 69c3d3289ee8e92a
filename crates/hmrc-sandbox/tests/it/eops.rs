//! End of Period Statement v3.0: only for the years that had it, once per accounting period.

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use hmrc_sandbox::ManualClock;
use reqwest::{Method, StatusCode};

use crate::common::*;

const API: &str = "individuals-business-eops-api/3.0";
const PATH: &str = "/individuals/business/end-of-period-statement/AA123456A";

fn statement(start: &str, end: &str) -> String {
    format!(
        r#"{{"typeOfBusiness": "self-employment", "businessId": "{SE_ID}",
            "accountingPeriod": {{"startDate": "{start}", "endDate": "{end}"}}, "finalised": true}}"#
    )
}

async fn eops_env() -> Env {
    // Autumn 2022: the 2021-22 statement is due by 31 January 2023.
    env_with_clock(Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2022, 10, 1, 9, 0, 0).unwrap(),
    )))
    .await
}

#[tokio::test]
async fn a_statement_is_accepted_once() {
    let env = eops_env().await;
    let t = env.tokens().await;
    let r = env
        .send_json(
            Method::POST,
            PATH,
            "3.0",
            &t.access,
            &statement("2021-04-06", "2022-04-05"),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let again = env
        .send_json(
            Method::POST,
            PATH,
            "3.0",
            &t.access,
            &statement("2021-04-06", "2022-04-05"),
        )
        .await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
    assert_hmrc_error(API, &again.json, "RULE_ALREADY_SUBMITTED");
}

#[tokio::test]
async fn hmrcs_example_request_is_accepted() {
    let env = eops_env().await;
    let t = env.tokens().await;
    let r = env
        .send_json(
            Method::POST,
            PATH,
            "3.0",
            &t.access,
            &example_text(&format!("{API}/examples/submitBusEOPS_req.json")),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
}

#[tokio::test]
async fn period_and_timing_rules() {
    let env = eops_env().await;
    let t = env.tokens().await;
    let cases = [
        (
            statement("2021-05-01", "2022-04-05"),
            "RULE_NON_MATCHING_PERIOD",
        ),
        (
            statement("2022-04-06", "2023-04-05"),
            "RULE_EARLY_SUBMISSION",
        ),
        (
            statement("2020-04-06", "2021-04-05"),
            "RULE_LATE_SUBMISSION",
        ),
        (
            statement("2024-04-06", "2025-04-05"),
            "RULE_TAX_YEAR_NOT_SUPPORTED",
        ),
    ];
    for (body, code) in cases {
        let r = env
            .send_json(Method::POST, PATH, "3.0", &t.access, &body)
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{code}: {}", r.text);
        assert_hmrc_error(API, &r.json, code);
    }
    let other = statement("2021-04-06", "2022-04-05").replace(SE_ID, "XAIS00000000001");
    let r = env
        .send_json(Method::POST, PATH, "3.0", &t.access, &other)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_hmrc_error(API, &r.json, "MATCHING_RESOURCE_NOT_FOUND");
}

#[tokio::test]
async fn body_validation() {
    let env = eops_env().await;
    let t = env.tokens().await;
    let r = env
        .send_json(
            Method::POST,
            PATH,
            "3.0",
            &t.access,
            &statement("2021-04-06", "2022-04-05").replace("true", "false"),
        )
        .await;
    assert_hmrc_error(API, &r.json, "FORMAT_FINALISED");
    let r = env
        .send_json(
            Method::POST,
            PATH,
            "3.0",
            &t.access,
            &statement("2021-04-06", "2022-04-05").replace("self-employment", "shop"),
        )
        .await;
    assert_hmrc_error(API, &r.json, "FORMAT_TYPE_OF_BUSINESS");
    let r = env
        .send_json(
            Method::POST,
            PATH,
            "3.0",
            &t.access,
            r#"{"typeOfBusiness": "self-employment"}"#,
        )
        .await;
    assert_eq!(r.json["code"], "RULE_INCORRECT_OR_EMPTY_BODY_SUBMITTED");
    assert_eq!(
        r.json["paths"],
        serde_json::json!(["/accountingPeriod", "/businessId", "/finalised"])
    );
    let r = env
        .send_json(
            Method::POST,
            PATH,
            "3.0",
            &t.access,
            &statement("2021-4-6", "2022-04-05").replace(SE_ID, "XA1"),
        )
        .await;
    let codes: Vec<&str> = r.json["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["FORMAT_BUSINESS_ID", "FORMAT_START_DATE"]);
    let r = env
        .send_json(
            Method::POST,
            PATH,
            "3.0",
            &t.access,
            &statement("2022-04-05", "2021-04-06"),
        )
        .await;
    assert_eq!(r.json["code"], "RULE_END_DATE_BEFORE_START_DATE");
    assert_eq!(
        r.json["message"],
        "The End date must be after the Start date"
    );
}
