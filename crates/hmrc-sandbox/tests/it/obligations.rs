//! Obligations API v3.0: derived obligations of both regimes, fulfilment by submissions,
//! validation and HMRC's examples.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::*;

const SCHEMA: &str = "obligations-api/3.0/schemas/retrieve_periodic_obligations_response.json";
const API: &str = "obligations-api/3.0";

fn ie(query: &str) -> String {
    format!("/obligations/details/AA123456A/income-and-expenditure?{query}")
}

fn details(body: &Value, business_id: &str) -> Vec<Value> {
    body["obligations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["businessId"] == business_id)
        .map(|o| o["obligationDetails"].as_array().unwrap().clone())
        .unwrap_or_default()
}

#[tokio::test]
async fn quarterly_obligations_of_both_regimes_match_hmrc_shapes() {
    let env = env().await;
    let t = env.tokens().await;
    let old = env
        .get(&ie("typeOfBusiness=self-employment&businessId=XAIS12345678910&fromDate=2024-04-06&toDate=2025-04-05"), "3.0", &t.access)
        .await;
    assert_eq!(old.status, StatusCode::OK);
    assert_schema(SCHEMA, &old.json);
    let spans: Vec<(String, String, String)> = details(&old.json, SE_ID)
        .iter()
        .map(|d| {
            (
                d["periodStartDate"].as_str().unwrap().into(),
                d["periodEndDate"].as_str().unwrap().into(),
                d["dueDate"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        spans,
        vec![
            (
                "2024-04-06".into(),
                "2024-07-05".into(),
                "2024-08-05".into()
            ),
            (
                "2024-07-06".into(),
                "2024-10-05".into(),
                "2024-11-05".into()
            ),
            (
                "2024-10-06".into(),
                "2025-01-05".into(),
                "2025-02-05".into()
            ),
            (
                "2025-01-06".into(),
                "2025-04-05".into(),
                "2025-05-05".into()
            ),
        ]
    );

    let y25 = env
        .get(
            &ie("fromDate=2025-04-06&toDate=2026-04-05"),
            "3.0",
            &t.access,
        )
        .await;
    assert_schema(SCHEMA, &y25.json);
    let se = details(&y25.json, SE_ID);
    assert!(
        se.iter()
            .all(|d| d["periodStartDate"] == "2025-04-06" && d["status"] == "open")
    );
    let dues: Vec<&str> = se.iter().map(|d| d["dueDate"].as_str().unwrap()).collect();
    assert_eq!(
        dues,
        ["2025-08-05", "2025-11-05", "2026-02-05", "2026-05-05"]
    );
    assert_eq!(
        details(&y25.json, UK_ID).len(),
        4,
        "the UK property business has obligations too"
    );

    let y26 = env.get(&ie("typeOfBusiness=self-employment&businessId=XAIS12345678910&fromDate=2026-04-06&toDate=2027-04-05"), "3.0", &t.access).await;
    let dues: Vec<String> = details(&y26.json, SE_ID)
        .iter()
        .map(|d| d["dueDate"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        dues,
        ["2026-08-07", "2026-11-07", "2027-02-07", "2027-05-07"]
    );
}

#[tokio::test]
async fn a_period_summary_fulfils_its_quarter() {
    let env = env().await;
    let t = env.tokens().await;
    let body = r#"{"periodDates": {"periodStartDate": "2024-04-06", "periodEndDate": "2024-07-05"},
                   "periodIncome": {"turnover": 1000, "other": 0},
                   "periodExpenses": {"consolidatedExpenses": 100}}"#;
    let created = env
        .send_json(
            Method::POST,
            "/individuals/business/self-employment/AA123456A/XAIS12345678910/period",
            "5.0",
            &t.access,
            body,
        )
        .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.text);
    let r = env
        .get(&ie("typeOfBusiness=self-employment&businessId=XAIS12345678910&fromDate=2024-04-06&toDate=2025-04-05"), "3.0", &t.access)
        .await;
    assert_schema(SCHEMA, &r.json);
    let d = details(&r.json, SE_ID);
    let today = env.sandbox.admin().now().date_naive().to_string();
    assert_eq!(d[0]["status"], "fulfilled");
    assert_eq!(d[0]["receivedDate"], today);
    assert!(
        d[1..]
            .iter()
            .all(|x| x["status"] == "open" && x.get("receivedDate").is_none())
    );

    let open_only = env
        .get(&ie("typeOfBusiness=self-employment&businessId=XAIS12345678910&fromDate=2024-04-06&toDate=2025-04-05&status=open"), "3.0", &t.access)
        .await;
    assert_eq!(details(&open_only.json, SE_ID).len(), 3);
}

#[tokio::test]
async fn a_cumulative_update_fulfils_every_quarter_up_to_its_end_date() {
    let env = env().await;
    let t = env.tokens().await;
    let body = r#"{"periodDates": {"periodStartDate": "2025-04-06", "periodEndDate": "2025-10-05"},
                   "periodIncome": {"turnover": 5000.50}, "periodExpenses": {"consolidatedExpenses": 10}}"#;
    let r = env
        .send_json(
            Method::PUT,
            "/individuals/business/self-employment/AA123456A/XAIS12345678910/cumulative/2025-26",
            "5.0",
            &t.access,
            body,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let y = env.get(&ie("typeOfBusiness=self-employment&businessId=XAIS12345678910&fromDate=2025-04-06&toDate=2026-04-05"), "3.0", &t.access).await;
    let statuses: Vec<String> = details(&y.json, SE_ID)
        .iter()
        .map(|d| d["status"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(statuses, ["fulfilled", "fulfilled", "open", "open"]);
}

#[tokio::test]
async fn query_validation_errors_are_hmrcs() {
    let env = env().await;
    let t = env.tokens().await;
    let cases = [
        ("typeOfBusiness=shop", "FORMAT_TYPE_OF_BUSINESS"),
        (
            "typeOfBusiness=self-employment&businessId=BAD",
            "FORMAT_BUSINESS_ID",
        ),
        ("fromDate=2024-13-01&toDate=2025-01-01", "FORMAT_FROM_DATE"),
        ("fromDate=2024-04-06&toDate=20250101", "FORMAT_TO_DATE"),
        ("status=Open", "FORMAT_STATUS"),
        ("toDate=2025-01-01", "MISSING_FROM_DATE"),
        ("fromDate=2025-01-01", "MISSING_TO_DATE"),
        ("businessId=XAIS12345678910", "MISSING_TYPE_OF_BUSINESS"),
        (
            "fromDate=2025-01-02&toDate=2025-01-01",
            "RANGE_TO_DATE_BEFORE_FROM_DATE",
        ),
        (
            "fromDate=2024-01-01&toDate=2025-01-02",
            "RULE_DATE_RANGE_INVALID",
        ),
        (
            "fromDate=2017-04-06&toDate=2018-01-01",
            "RULE_FROM_DATE_NOT_SUPPORTED",
        ),
    ];
    for (query, code) in cases {
        let r = env.get(&ie(query), "3.0", &t.access).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{query}: {}", r.text);
        assert_hmrc_error(API, &r.json, code);
    }
    let several = env
        .get(&ie("typeOfBusiness=shop&status=x"), "3.0", &t.access)
        .await;
    assert_eq!(several.status, StatusCode::BAD_REQUEST);
    assert_eq!(several.json["code"], "INVALID_REQUEST");
    let codes: Vec<&str> = several.json["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["FORMAT_STATUS", "FORMAT_TYPE_OF_BUSINESS"]);
}

#[tokio::test]
async fn no_matching_obligations_is_404() {
    let env = env().await;
    let t = env.tokens().await;
    let r = env
        .get(
            &ie("fromDate=2019-04-06&toDate=2020-04-05"),
            "3.0",
            &t.access,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_hmrc_error(API, &r.json, "NO_OBLIGATIONS_FOUND");
}

#[tokio::test]
async fn crystallisation_obligations_follow_the_years() {
    let env = env().await;
    let t = env.tokens().await;
    let r = env
        .get(
            "/obligations/details/AA123456A/crystallisation?taxYear=2024-25",
            "3.0",
            &t.access,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_schema(
        "obligations-api/3.0/schemas/retrieve_crystallisation_obligations_response.json",
        &r.json,
    );
    assert_eq!(
        r.json,
        json!({"obligations": [{"periodStartDate": "2024-04-06", "periodEndDate": "2025-04-05",
                                "dueDate": "2026-01-31", "status": "open"}]})
    );
    let bad = env
        .get(
            "/obligations/details/AA123456A/crystallisation?taxYear=2016-17",
            "3.0",
            &t.access,
        )
        .await;
    assert_hmrc_error(API, &bad.json, "RULE_TAX_YEAR_NOT_SUPPORTED");
    let range = env
        .get(
            "/obligations/details/AA123456A/crystallisation?taxYear=2022-24",
            "3.0",
            &t.access,
        )
        .await;
    assert_hmrc_error(API, &range.json, "RULE_TAX_YEAR_RANGE_INVALID");
    let format = env
        .get(
            "/obligations/details/AA123456A/crystallisation?taxYear=22-23",
            "3.0",
            &t.access,
        )
        .await;
    assert_hmrc_error(API, &format.json, "FORMAT_TAX_YEAR");
}

#[tokio::test]
async fn the_cumulative_scenario_returns_hmrcs_example() {
    let env = env().await;
    let t = env.tokens().await;
    let r = env
        .call(
            Call::new(Method::GET, &ie(""), "3.0")
                .token(&t.access)
                .scenario("CUMULATIVE"),
        )
        .await;
    let example: Value = serde_json::from_str(&example_text(
        "obligations-api/3.0/examples/retrieve_cumulative_periodic_obligations_ty_25_26.json",
    ))
    .unwrap();
    assert_eq!(r.json, example);
}

#[tokio::test]
async fn open_fulfilled_and_dynamic_scenarios_validate() {
    let env = env().await;
    let t = env.tokens().await;
    for scenario in ["OPEN", "FULFILLED", "DYNAMIC"] {
        let r = env
            .call(Call::new(Method::GET, &ie("typeOfBusiness=uk-property&fromDate=2025-04-06&toDate=2025-07-05&status=fulfilled"), "3.0").token(&t.access).scenario(scenario))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{scenario}");
        assert_schema(SCHEMA, &r.json);
        assert_eq!(r.json["obligations"][0]["typeOfBusiness"], "uk-property");
    }
    let dynamic = env
        .call(Call::new(Method::GET, &ie("typeOfBusiness=self-employment&fromDate=2025-04-06&toDate=2025-07-05&status=fulfilled"), "3.0").token(&t.access).scenario("DYNAMIC"))
        .await;
    let d = &dynamic.json["obligations"][0]["obligationDetails"][0];
    assert_eq!(d["periodStartDate"], "2025-04-06");
    assert_eq!(d["periodEndDate"], "2025-07-05");
    assert_eq!(d["status"], "fulfilled");
}
