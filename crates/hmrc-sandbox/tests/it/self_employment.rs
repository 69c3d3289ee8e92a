//! Self Employment Business API v5.0: period summaries (up to 2024-25) with their period rules,
//! cumulative summaries (2025-26 onwards) and annual submissions.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::*;

const API: &str = "self-employment-business-api/5.0";
const PERIOD: &str = "/individuals/business/self-employment/AA123456A/XAIS12345678910/period";
const CUMULATIVE_26: &str =
    "/individuals/business/self-employment/AA123456A/XAIS12345678910/cumulative/2025-26";

fn period(start: &str, end: &str) -> String {
    format!(
        r#"{{"periodDates": {{"periodStartDate": "{start}", "periodEndDate": "{end}"}},
            "periodIncome": {{"turnover": 1000.10, "other": 0}},
            "periodExpenses": {{"consolidatedExpenses": 250}}}}"#
    )
}

async fn create(env: &Env, token: &str, body: &str) -> Resp {
    env.send_json(Method::POST, PERIOD, "5.0", token, body)
        .await
}

#[tokio::test]
async fn hmrcs_example_requests_are_accepted_and_answered_with_a_period_id() {
    let env = env().await;
    let t = env.tokens().await;
    // HMRC's def1 example is the first quarter of 2019-20; the second follows it.
    let q1 = create(
        &env,
        &t.access,
        &example_text(&format!(
            "{API}/examples/createPeriodSummary/def1/consolidated_request.json"
        )),
    )
    .await;
    assert_eq!(q1.status, StatusCode::OK, "{}", q1.text);
    assert_eq!(q1.json, json!({"periodId": "2019-04-06_2019-07-05"}));
    assert_schema(
        &format!("{API}/schemas/createPeriodSummary/response.json"),
        &q1.json,
    );
    let q2 = create(&env, &t.access, &period("2019-07-06", "2019-10-05")).await;
    assert_eq!(q2.status, StatusCode::OK, "{}", q2.text);
    assert_eq!(q2.json["periodId"], "2019-07-06_2019-10-05");

    // The def2 itemised example, moved to 2024-25 (its own dates are in 2019-20).
    let itemised = example_text(&format!(
        "{API}/examples/createPeriodSummary/def2/non_consolidated_request.json"
    ))
    .replace("2019-07-06", "2024-04-06")
    .replace("2019-10-05", "2024-07-05")
    .replace("-000.99", "-0.99");
    let r = create(&env, &t.access, &itemised).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);

    let list = env
        .get(&format!("{PERIOD}/2019-20"), "5.0", &t.access)
        .await;
    assert_schema(
        &format!("{API}/schemas/listPeriodSummaries/response.json"),
        &list.json,
    );
    assert_eq!(list.json["periods"].as_array().unwrap().len(), 2);
    let one = env
        .get(
            &format!("{PERIOD}/2024-25/2024-04-06_2024-07-05"),
            "5.0",
            &t.access,
        )
        .await;
    assert_eq!(one.status, StatusCode::OK);
    assert_schema(
        &format!("{API}/schemas/retrievePeriodSummary/def2/response.json"),
        &one.json,
    );
    assert_eq!(
        one.json["periodExpenses"]["professionalFees"],
        json!(-99999999999.99)
    );
}

#[tokio::test]
async fn duplicate_overlapping_misaligned_and_gapped_periods_are_refused() {
    let env = env().await;
    let t = env.tokens().await;
    assert_eq!(
        create(&env, &t.access, &period("2024-04-06", "2024-07-05"))
            .await
            .status,
        StatusCode::OK
    );
    let cases = [
        (
            period("2024-04-06", "2024-07-05"),
            "RULE_DUPLICATE_SUBMISSION",
        ),
        (
            period("2024-06-01", "2024-08-05"),
            "RULE_OVERLAPPING_PERIOD",
        ),
        (
            period("2024-08-06", "2024-10-05"),
            "RULE_NOT_CONTIGUOUS_PERIOD",
        ),
        (
            period("2023-01-06", "2023-04-05"),
            "RULE_NOT_CONTIGUOUS_PERIOD",
        ),
        (period("2023-03-06", "2023-04-10"), "RULE_MISALIGNED_PERIOD"),
    ];
    for (body, code) in cases {
        let r = create(&env, &t.access, &body).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{code}: {}", r.text);
        assert_hmrc_error(API, &r.json, code);
    }
    assert_eq!(
        create(&env, &t.access, &period("2024-07-06", "2024-10-05"))
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn period_summaries_end_with_2024_25() {
    let env = env().await;
    let t = env.tokens().await;
    let r = create(&env, &t.access, &period("2025-04-06", "2025-07-05")).await;
    assert_hmrc_error(API, &r.json, "RULE_TAX_YEAR_NOT_SUPPORTED");
}

#[tokio::test]
async fn money_is_checked_on_the_literal_number() {
    let env = env().await;
    let t = env.tokens().await;
    let one = r#"{"periodDates": {"periodStartDate": "2024-04-06", "periodEndDate": "2024-07-05"},
                  "periodIncome": {"turnover": 10.500}}"#;
    let r = create(&env, &t.access, one).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.json,
        json!({"code": "FORMAT_VALUE", "message": "The value must be between 0 and 99999999999.99",
               "paths": ["/periodIncome/turnover"]})
    );
    assert_schema(&format!("{API}/schemas/error-response.yaml"), &r.json);

    let many = r#"{"periodDates": {"periodStartDate": "2024-04-06", "periodEndDate": "2024-07-05"},
                   "periodIncome": {"turnover": -1, "other": 100000000000},
                   "periodExpenses": {"costOfGoods": 1.001, "consolidatedExpenses": 5}}"#;
    let r = create(&env, &t.access, many).await;
    assert_eq!(
        r.json,
        json!({"code": "INVALID_REQUEST", "message": "Invalid request", "errors": [
            {"code": "FORMAT_VALUE", "message": "The value must be between -99999999999.99 and 99999999999.99",
             "paths": ["/periodExpenses/costOfGoods"]},
            {"code": "FORMAT_VALUE", "message": "The value must be between 0 and 99999999999.99",
             "paths": ["/periodIncome/turnover", "/periodIncome/other"]},
            {"code": "RULE_BOTH_EXPENSES_SUPPLIED",
             "message": "Both expenses and consolidatedExpenses can not be present at the same time"}
        ]})
    );
    let ok = r#"{"periodDates": {"periodStartDate": "2024-04-06", "periodEndDate": "2024-07-05"},
                 "periodIncome": {"turnover": 1.5e1, "other": 99999999999.99}}"#;
    assert_eq!(create(&env, &t.access, ok).await.status, StatusCode::OK);
}

#[tokio::test]
async fn body_shape_errors_list_their_paths() {
    let env = env().await;
    let t = env.tokens().await;
    let empty = create(&env, &t.access, "{}").await;
    assert_eq!(
        empty.json,
        json!({"code": "RULE_INCORRECT_OR_EMPTY_BODY_SUBMITTED", "message": "An empty or non-matching body was submitted"})
    );
    let no_end = create(
        &env,
        &t.access,
        r#"{"periodDates": {"periodStartDate": "2024-04-06"}}"#,
    )
    .await;
    assert_eq!(no_end.json["code"], "FORMAT_END_DATE");
    assert_eq!(no_end.json["paths"], json!(["periodDates/periodEndDate"]));
    let typed = create(
        &env,
        &t.access,
        r#"{"periodDates": {"periodStartDate": 20240406, "periodEndDate": "2024-07-05"},
            "periodIncome": {"turnover": "100"}, "periodExpenses": {}}"#,
    )
    .await;
    assert_eq!(typed.json["code"], "RULE_INCORRECT_OR_EMPTY_BODY_SUBMITTED");
    assert_eq!(
        typed.json["paths"],
        json!(["/periodDates/periodStartDate", "/periodIncome/turnover"])
    );
    let empty_object = create(
        &env,
        &t.access,
        r#"{"periodDates": {"periodStartDate": "2024-04-06", "periodEndDate": "2024-07-05"}, "periodExpenses": {}}"#,
    )
    .await;
    assert_eq!(empty_object.json["paths"], json!(["/periodExpenses"]));
    let bad_start = create(&env, &t.access, &period("2024-4-6", "2024-07-05")).await;
    assert_hmrc_error(API, &bad_start.json, "FORMAT_START_DATE");
    let backwards = create(&env, &t.access, &period("2024-07-05", "2024-04-06")).await;
    assert_hmrc_error(API, &backwards.json, "RULE_END_DATE_BEFORE_START_DATE");
}

#[tokio::test]
async fn an_unknown_business_is_404_and_a_bad_id_is_400() {
    let env = env().await;
    let t = env.tokens().await;
    let missing = env
        .send_json(
            Method::POST,
            "/individuals/business/self-employment/AA123456A/XAIS99999999999/period",
            "5.0",
            &t.access,
            &period("2024-04-06", "2024-07-05"),
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_hmrc_error(API, &missing.json, "MATCHING_RESOURCE_NOT_FOUND");
    let bad = env
        .send_json(
            Method::POST,
            "/individuals/business/self-employment/AA123456A/XAIS123/period",
            "5.0",
            &t.access,
            &period("2024-04-06", "2024-07-05"),
        )
        .await;
    assert_hmrc_error(API, &bad.json, "FORMAT_BUSINESS_ID");
}

#[tokio::test]
async fn consolidated_expenses_stop_at_the_turnover_threshold() {
    let env = env().await;
    let t = env.tokens().await;
    let big = |start: &str, end: &str| {
        format!(
            r#"{{"periodDates": {{"periodStartDate": "{start}", "periodEndDate": "{end}"}},
                "periodIncome": {{"turnover": 50000}}, "periodExpenses": {{"consolidatedExpenses": 1}}}}"#
        )
    };
    assert_eq!(
        create(&env, &t.access, &big("2024-04-06", "2024-07-05"))
            .await
            .status,
        StatusCode::OK
    );
    let over = create(&env, &t.access, &big("2024-07-06", "2024-10-05")).await;
    assert_hmrc_error(API, &over.json, "RULE_NOT_ALLOWED_CONSOLIDATED_EXPENSES");
}

#[tokio::test]
async fn amending_a_period_keeps_its_dates() {
    let env = env().await;
    let t = env.tokens().await;
    create(&env, &t.access, &period("2024-04-06", "2024-07-05")).await;
    let path = format!("{PERIOD}/2024-25/2024-04-06_2024-07-05");
    let amended = env
        .send_json(
            Method::PUT,
            &path,
            "5.0",
            &t.access,
            &example_text(&format!(
                "{API}/examples/amendPeriodSummary/def2/consolidated_request.json"
            )),
        )
        .await;
    assert_eq!(amended.status, StatusCode::NO_CONTENT, "{}", amended.text);
    let got = env.get(&path, "5.0", &t.access).await;
    assert_schema(
        &format!("{API}/schemas/retrievePeriodSummary/def2/response.json"),
        &got.json,
    );
    assert_eq!(got.json["periodDates"]["periodStartDate"], "2024-04-06");
    let missing = env
        .send_json(
            Method::PUT,
            &format!("{PERIOD}/2024-25/2024-07-06_2024-10-05"),
            "5.0",
            &t.access,
            r#"{"periodIncome": {"turnover": 1}}"#,
        )
        .await;
    assert_hmrc_error(API, &missing.json, "MATCHING_RESOURCE_NOT_FOUND");
    let bad_id = env
        .send_json(
            Method::PUT,
            &format!("{PERIOD}/2024-25/nonsense"),
            "5.0",
            &t.access,
            r#"{"periodIncome": {"turnover": 1}}"#,
        )
        .await;
    assert_hmrc_error(API, &bad_id.json, "FORMAT_PERIOD_ID");
}

#[tokio::test]
async fn cumulative_summaries_upsert_and_read_back() {
    let env = env().await;
    let t = env.tokens().await;
    let example = example_text(&format!(
        "{API}/examples/createAmendCumulativePeriodSummary/consolidated_request.json"
    ));
    let first = env
        .send_json(Method::PUT, CUMULATIVE_26, "5.0", &t.access, &example)
        .await;
    assert_eq!(first.status, StatusCode::NO_CONTENT, "{}", first.text);
    assert!(first.text.is_empty());
    let replaced = r#"{"periodDates": {"periodStartDate": "2025-04-06", "periodEndDate": "2025-10-05"},
                       "periodIncome": {"turnover": 2000, "other": 0}, "periodExpenses": {"consolidatedExpenses": 100}}"#;
    let second = env
        .send_json(Method::PUT, CUMULATIVE_26, "5.0", &t.access, replaced)
        .await;
    assert_eq!(second.status, StatusCode::NO_CONTENT, "{}", second.text);
    let got = env.get(CUMULATIVE_26, "5.0", &t.access).await;
    assert_schema(
        &format!("{API}/schemas/retrieveCumulativePeriodSummary/def1/response.json"),
        &got.json,
    );
    assert_eq!(got.json["periodIncome"]["turnover"], json!(2000));
    assert_eq!(got.json["periodDates"]["periodEndDate"], "2025-10-05");
}

#[tokio::test]
async fn cumulative_rules() {
    let env = env().await;
    let t = env.tokens().await;
    let send = |ty: &'static str, body: String| {
        let path = format!(
            "/individuals/business/self-employment/AA123456A/XAIS12345678910/cumulative/{ty}"
        );
        let token = t.access.clone();
        let env = &env;
        async move {
            env.send_json(Method::PUT, &path, "5.0", &token, &body)
                .await
        }
    };
    let dated = |start: &str, end: &str| {
        format!(
            r#"{{"periodDates": {{"periodStartDate": "{start}", "periodEndDate": "{end}"}}, "periodIncome": {{"turnover": 1}}}}"#
        )
    };
    let r = send("2024-25", dated("2024-04-06", "2024-07-05")).await;
    assert_hmrc_error(API, &r.json, "RULE_TAX_YEAR_NOT_SUPPORTED");
    let r = send("2025-27", dated("2025-04-06", "2025-07-05")).await;
    assert_hmrc_error(API, &r.json, "RULE_TAX_YEAR_RANGE_INVALID");
    let r = send("2025-26", r#"{"periodIncome": {"turnover": 1}}"#.to_owned()).await;
    assert_eq!(r.json["code"], "RULE_INCORRECT_OR_EMPTY_BODY_SUBMITTED");
    assert!(
        r.json["message"]
            .as_str()
            .unwrap()
            .starts_with("You must provide information for at least 2 of")
    );
    let r = send(
        "2025-26",
        r#"{"periodIncome": {"turnover": 1}, "periodExpenses": {"consolidatedExpenses": 1}}"#
            .to_owned(),
    )
    .await;
    assert_hmrc_error(API, &r.json, "RULE_MISSING_SUBMISSION_DATES");
    let r = send("2025-26", dated("2025-05-01", "2025-07-05")).await;
    assert_hmrc_error(
        API,
        &r.json,
        "RULE_START_DATE_NOT_ALIGNED_WITH_REPORTING_TYPE",
    );
    let r = send("2025-26", dated("2025-04-06", "2025-08-05")).await;
    assert_hmrc_error(
        API,
        &r.json,
        "RULE_END_DATE_NOT_ALIGNED_WITH_REPORTING_TYPE",
    );
    // 2026-27 Q3 ends 2027-01-05: more than 10 days after "today" (28 Nov 2026).
    let r = send("2026-27", dated("2026-04-06", "2027-01-05")).await;
    assert_hmrc_error(API, &r.json, "RULE_EARLY_DATA_SUBMISSION_NOT_ACCEPTED");
    assert_eq!(
        send("2025-26", dated("2025-04-06", "2026-01-05"))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let r = send("2025-26", dated("2025-04-06", "2025-10-05")).await;
    assert_hmrc_error(
        API,
        &r.json,
        "RULE_SUBMISSION_END_DATE_CANNOT_MOVE_BACKWARDS",
    );
    env.sandbox
        .admin()
        .set_clock("2028-02-01T00:00:00Z".parse().unwrap())
        .unwrap();
    let fresh = env.renew(&t).await;
    let r = env
        .send_json(
            Method::PUT,
            CUMULATIVE_26,
            "5.0",
            &fresh.access,
            &dated("2025-04-06", "2026-04-05"),
        )
        .await;
    assert_hmrc_error(API, &r.json, "RULE_OUTSIDE_AMENDMENT_WINDOW");
}

#[tokio::test]
async fn annual_submission_round_trips_hmrcs_example() {
    let env = env().await;
    let t = env.tokens().await;
    let path = "/individuals/business/self-employment/AA123456A/XAIS12345678910/annual/2025-26";
    let example = example_text(&format!(
        "{API}/examples/createAmendAnnualSubmission/def3/without_trading_income_allowance.json"
    ));
    let r = env
        .send_json(Method::PUT, path, "5.0", &t.access, &example)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let got = env.get(path, "5.0", &t.access).await;
    assert_schema(
        &format!("{API}/schemas/retrieveAnnualSubmission/def3/response.json"),
        &got.json,
    );
    let sent: Value = serde_json::from_str(&example).unwrap();
    assert_eq!(got.json, sent);
    let tia = example_text(&format!(
        "{API}/examples/createAmendAnnualSubmission/def3/with_trading_income_allowance.json"
    ));
    assert_eq!(
        env.send_json(Method::PUT, path, "5.0", &t.access, &tia)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
}

#[tokio::test]
async fn annual_submission_rules() {
    let env = env().await;
    let t = env.tokens().await;
    let put = |ty: &'static str, body: &'static str| {
        let path =
            format!("/individuals/business/self-employment/AA123456A/XAIS12345678910/annual/{ty}");
        let token = t.access.clone();
        let env = &env;
        async move { env.send_json(Method::PUT, &path, "5.0", &token, body).await }
    };
    let r = put(
        "2025-26",
        r#"{"allowances": {"tradingIncomeAllowance": 1000, "annualInvestmentAllowance": 5}}"#,
    )
    .await;
    assert_hmrc_error(API, &r.json, "RULE_BOTH_ALLOWANCES_SUPPLIED");
    let r = put(
        "2025-26",
        r#"{"allowances": {"tradingIncomeAllowance": 1000.01}}"#,
    )
    .await;
    assert_eq!(r.json["message"], "The value must be between 0 and 1000");
    let r = put("2025-26", r#"{"allowances": {"structuredBuildingAllowance": [{"amount": 1, "building": {"postcode": "TF3 4NT"}}]}}"#).await;
    assert_hmrc_error(API, &r.json, "RULE_BUILDING_NAME_NUMBER");
    assert_eq!(
        r.json["paths"],
        json!(["/allowances/structuredBuildingAllowance/0/building"])
    );
    let r = put("2025-26", r##"{"allowances": {"structuredBuildingAllowance": [{"amount": 1, "firstYear": {"qualifyingDate": "2025-13-01", "qualifyingAmountExpenditure": 1}, "building": {"name": "bad#name", "postcode": "TF3 4NT"}}]}}"##).await;
    assert_eq!(r.json["code"], "INVALID_REQUEST");
    let codes: Vec<&str> = r.json["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["FORMAT_DATE", "FORMAT_STRING"]);
    let r = put("2024-25", r#"{"adjustments": {"overlapReliefUsed": 10}}"#).await;
    assert_hmrc_error(API, &r.json, "RULE_OVERLAP_RELIEF_USED_NOT_ALLOWED");
    let r = put(
        "2025-26",
        r#"{"adjustments": {"transitionProfitAccelerationAmount": 10}}"#,
    )
    .await;
    assert_hmrc_error(API, &r.json, "RULE_WRONG_TPA_AMOUNT_SUBMITTED");
    let r = put("2025-26", r#"{"nonFinancials": {"businessDetailsChangedRecently": true, "class4NicsExemptionReason": "astronaut"}}"#).await;
    assert_hmrc_error(API, &r.json, "FORMAT_CLASS_4_EXEMPTION_REASON");
    let r = put("2025-26", r#"{"nonFinancials": {}}"#).await;
    assert_eq!(r.json["code"], "RULE_INCORRECT_OR_EMPTY_BODY_SUBMITTED");
}
