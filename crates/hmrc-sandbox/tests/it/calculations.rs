//! Individual Calculations v8.0: trigger → 202, retrieve 404 until the delay passes, then a body
//! that validates against the tax year's schema, final declaration rules and the crystallisation
//! obligation it fulfils.

use std::time::Duration;

use chrono::TimeDelta;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::common::*;

const API: &str = "individual-calculations-api/8.0";

fn calc(ty: &str, rest: &str) -> String {
    format!("/individuals/calculations/AA123456A/self-assessment/{ty}{rest}")
}

async fn post(env: &Env, token: &str, path: &str) -> Resp {
    env.call(Call::new(Method::POST, path, "8.0").token(token))
        .await
}

/// Sends something for 2025-26 so a calculation has income to work on.
async fn submit_2025_26(env: &Env, token: &str) {
    let body = r#"{"periodDates": {"periodStartDate": "2025-04-06", "periodEndDate": "2026-04-05"},
                   "periodIncome": {"turnover": 30000}, "periodExpenses": {"consolidatedExpenses": 5000}}"#;
    let r = env
        .send_json(
            Method::PUT,
            "/individuals/business/self-employment/AA123456A/XAIS12345678910/cumulative/2025-26",
            "5.0",
            token,
            body,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
}

#[tokio::test]
async fn trigger_retrieve_declare_and_the_obligation_is_met() {
    let env = env_with(builder().calculation_delay(Duration::from_secs(5))).await;
    let t = env.tokens().await;
    submit_2025_26(&env, &t.access).await;

    let trigger = post(
        &env,
        &t.access,
        &calc("2025-26", "/trigger/intent-to-finalise"),
    )
    .await;
    assert_eq!(trigger.status, StatusCode::ACCEPTED, "{}", trigger.text);
    assert_schema(
        &format!("{API}/schemas/trigger/trigger_response.json"),
        &trigger.json,
    );
    let id = trigger.json["calculationId"].as_str().unwrap().to_owned();
    assert!(is_uuid(&id));

    let early = env
        .get(&calc("2025-26", &format!("/{id}")), "8.0", &t.access)
        .await;
    assert_eq!(early.status, StatusCode::NOT_FOUND);
    assert_hmrc_error(API, &early.json, "MATCHING_RESOURCE_NOT_FOUND");
    let busy = post(
        &env,
        &t.access,
        &calc("2025-26", &format!("/{id}/final-declaration")),
    )
    .await;
    assert_hmrc_error(API, &busy.json, "RULE_FINAL_DECLARATION_IN_PROGRESS");

    env.sandbox
        .admin()
        .advance_clock(TimeDelta::seconds(5))
        .unwrap();
    let ready = env
        .get(&calc("2025-26", &format!("/{id}")), "8.0", &t.access)
        .await;
    assert_eq!(ready.status, StatusCode::OK);
    assert_schema(
        &format!("{API}/schemas/retrieve/def3/retrieve_response.json"),
        &ready.json,
    );
    assert_eq!(ready.json["metadata"]["calculationId"], id);
    assert_eq!(ready.json["metadata"]["taxYear"], "2025-26");
    assert_eq!(
        ready.json["metadata"]["calculationType"],
        "intent-to-finalise"
    );

    let declared = post(
        &env,
        &t.access,
        &calc("2025-26", &format!("/{id}/final-declaration")),
    )
    .await;
    assert_eq!(declared.status, StatusCode::NO_CONTENT, "{}", declared.text);
    let again = post(
        &env,
        &t.access,
        &calc("2025-26", &format!("/{id}/final-declaration")),
    )
    .await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
    assert_hmrc_error(API, &again.json, "RULE_FINAL_DECLARATION_RECEIVED");
    let retrigger = post(
        &env,
        &t.access,
        &calc("2025-26", "/trigger/intent-to-finalise"),
    )
    .await;
    assert_hmrc_error(API, &retrigger.json, "RULE_FINAL_DECLARATION_RECEIVED");

    let obligation = env
        .get(
            "/obligations/details/AA123456A/crystallisation?taxYear=2025-26",
            "3.0",
            &t.access,
        )
        .await;
    assert_eq!(obligation.json["obligations"][0]["status"], "fulfilled");
    assert_eq!(
        obligation.json["obligations"][0]["receivedDate"],
        "2026-11-28"
    );
    assert_schema(
        "obligations-api/3.0/schemas/retrieve_crystallisation_obligations_response.json",
        &obligation.json,
    );

    let after = env
        .get(&calc("2025-26", &format!("/{id}")), "8.0", &t.access)
        .await;
    assert_schema(
        &format!("{API}/schemas/retrieve/def3/retrieve_response.json"),
        &after.json,
    );
    assert!(after.json["metadata"]["finalisationTimestamp"].is_string());
}

#[tokio::test]
async fn a_submission_after_the_trigger_makes_the_calculation_stale() {
    let env = env().await;
    let t = env.tokens().await;
    submit_2025_26(&env, &t.access).await;
    let id = post(
        &env,
        &t.access,
        &calc("2025-26", "/trigger/intent-to-finalise"),
    )
    .await
    .json["calculationId"]
        .as_str()
        .unwrap()
        .to_owned();
    let annual = r#"{"allowances": {"tradingIncomeAllowance": 1000}}"#;
    env.send_json(
        Method::PUT,
        "/individuals/business/self-employment/AA123456A/XAIS12345678910/annual/2025-26",
        "5.0",
        &t.access,
        annual,
    )
    .await;
    let r = post(
        &env,
        &t.access,
        &calc("2025-26", &format!("/{id}/final-declaration")),
    )
    .await;
    assert_hmrc_error(API, &r.json, "RULE_RECENT_SUBMISSIONS_EXIST");
    // A new business after the trigger changes the income sources.
    let id2 = post(
        &env,
        &t.access,
        &calc("2025-26", "/trigger/intent-to-finalise"),
    )
    .await
    .json["calculationId"]
        .as_str()
        .unwrap()
        .to_owned();
    env.sandbox
        .admin()
        .add_business("alice", hmrc_sandbox::NewBusiness::self_employment())
        .unwrap();
    let r = post(
        &env,
        &t.access,
        &calc("2025-26", &format!("/{id2}/final-declaration")),
    )
    .await;
    assert_hmrc_error(API, &r.json, "RULE_INCOME_SOURCES_CHANGED");
}

#[tokio::test]
async fn declaring_before_the_year_ends_is_refused() {
    let env = env().await;
    let t = env.tokens().await;
    let body = r#"{"periodDates": {"periodStartDate": "2026-04-06", "periodEndDate": "2026-07-05"},
                   "periodIncome": {"turnover": 3000}, "periodExpenses": {"consolidatedExpenses": 500}}"#;
    env.send_json(
        Method::PUT,
        "/individuals/business/self-employment/AA123456A/XAIS12345678910/cumulative/2026-27",
        "5.0",
        &t.access,
        body,
    )
    .await;
    let in_year = post(&env, &t.access, &calc("2026-27", "/trigger/in-year")).await;
    assert_eq!(in_year.status, StatusCode::ACCEPTED);
    let id = in_year.json["calculationId"].as_str().unwrap();
    let got = env
        .get(&calc("2026-27", &format!("/{id}")), "8.0", &t.access)
        .await;
    assert_schema(
        &format!("{API}/schemas/retrieve/def4/retrieve_response.json"),
        &got.json,
    );
    assert_eq!(got.json["metadata"]["periodTo"], "2026-07-05");
    let finalise = post(
        &env,
        &t.access,
        &calc("2026-27", "/trigger/intent-to-finalise"),
    )
    .await;
    assert_hmrc_error(API, &finalise.json, "RULE_PREMATURE_FINALISATION");
    let declare = post(
        &env,
        &t.access,
        &calc("2026-27", &format!("/{id}/final-declaration")),
    )
    .await;
    assert_hmrc_error(API, &declare.json, "MATCHING_RESOURCE_NOT_FOUND");

    // Declaring against an intent-to-finalise calculation of the current year, with the clock
    // set back into the year, is RULE_FINAL_DECLARATION_TAX_YEAR.
    env.sandbox
        .admin()
        .set_clock("2027-04-10T09:00:00Z".parse().unwrap())
        .unwrap();
    let t = env.renew(&t).await;
    let ok = post(
        &env,
        &t.access,
        &calc("2026-27", "/trigger/intent-to-finalise"),
    )
    .await;
    assert_eq!(ok.status, StatusCode::ACCEPTED, "{}", ok.text);
    let id = ok.json["calculationId"].as_str().unwrap();
    env.sandbox
        .admin()
        .set_clock("2027-04-01T09:00:00Z".parse().unwrap())
        .unwrap();
    let t = env.renew(&t).await;
    let early = post(
        &env,
        &t.access,
        &calc("2026-27", &format!("/{id}/final-declaration")),
    )
    .await;
    assert_hmrc_error(API, &early.json, "RULE_FINAL_DECLARATION_TAX_YEAR");
}

#[tokio::test]
async fn trigger_validation_and_rules() {
    let env = env().await;
    let t = env.tokens().await;
    let none = post(&env, &t.access, &calc("2024-25", "/trigger/in-year")).await;
    assert_hmrc_error(API, &none.json, "RULE_NO_INCOME_SUBMISSIONS_EXIST");
    let kind = post(&env, &t.access, &calc("2024-25", "/trigger/whenever")).await;
    assert_hmrc_error(API, &kind.json, "FORMAT_CALCULATION_TYPE");
    let amend = post(
        &env,
        &t.access,
        &calc("2024-25", "/trigger/intent-to-amend"),
    )
    .await;
    assert_hmrc_error(API, &amend.json, "RULE_CALCULATION_TYPE_NOT_ALLOWED");
    let old = post(&env, &t.access, &calc("2016-17", "/trigger/in-year")).await;
    assert_hmrc_error(API, &old.json, "RULE_TAX_YEAR_NOT_SUPPORTED");
    let both = post(&env, &t.access, &calc("2024", "/trigger/whenever")).await;
    assert_eq!(both.json["code"], "INVALID_REQUEST");
    let codes: Vec<&str> = both.json["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["FORMAT_CALCULATION_TYPE", "FORMAT_TAX_YEAR"]);
    let not_declared = post(
        &env,
        &t.access,
        &calc("2025-26", "/trigger/intent-to-amend"),
    )
    .await;
    assert_hmrc_error(API, &not_declared.json, "RULE_DECLARATION_NOT_RECEIVED");
    let bad_id = env
        .get(&calc("2025-26", "/not-an-id"), "8.0", &t.access)
        .await;
    assert_hmrc_error(API, &bad_id.json, "FORMAT_CALCULATION_ID");
}

#[tokio::test]
async fn a_second_trigger_while_one_runs_is_in_progress() {
    let env = env_with(builder().calculation_delay(Duration::from_secs(60))).await;
    let t = env.tokens().await;
    submit_2025_26(&env, &t.access).await;
    assert_eq!(
        post(&env, &t.access, &calc("2025-26", "/trigger/in-year"))
            .await
            .status,
        StatusCode::ACCEPTED
    );
    let r = post(&env, &t.access, &calc("2025-26", "/trigger/in-year")).await;
    assert_hmrc_error(API, &r.json, "RULE_CALCULATION_IN_PROGRESS");
}

#[tokio::test]
async fn amendment_after_a_declaration() {
    let env = env().await;
    let t = env.tokens().await;
    submit_2025_26(&env, &t.access).await;
    let id = post(
        &env,
        &t.access,
        &calc("2025-26", "/trigger/intent-to-finalise"),
    )
    .await
    .json["calculationId"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        post(
            &env,
            &t.access,
            &calc("2025-26", &format!("/{id}/final-declaration"))
        )
        .await
        .status,
        StatusCode::NO_CONTENT
    );
    let amend = post(
        &env,
        &t.access,
        &calc("2025-26", "/trigger/intent-to-amend"),
    )
    .await;
    assert_eq!(amend.status, StatusCode::ACCEPTED);
    let amend_id = amend.json["calculationId"].as_str().unwrap();
    let confirm = post(
        &env,
        &t.access,
        &calc("2025-26", &format!("/{amend_id}/confirm-amendment")),
    )
    .await;
    assert_eq!(confirm.status, StatusCode::NO_CONTENT, "{}", confirm.text);
    let body = env
        .get(&calc("2025-26", &format!("/{amend_id}")), "8.0", &t.access)
        .await;
    assert!(body.json["metadata"]["confirmationTimestamp"].is_string());
    assert_schema(
        &format!("{API}/schemas/retrieve/def3/retrieve_response.json"),
        &body.json,
    );
}

#[tokio::test]
async fn every_schema_version_is_served_valid() {
    let env = env().await;
    let t = env.tokens().await;
    let id = "f2fb30e5-4ab6-4a29-b3c1-c7264259ff1c";
    for (ty, def) in [
        ("2021-22", "def1"),
        ("2023-24", "def1"),
        ("2024-25", "def2"),
        ("2025-26", "def3"),
        ("2026-27", "def4"),
    ] {
        for scenario in ["UK_SE_GIFTAID_EXAMPLE", "ERROR_MESSAGES_EXIST"] {
            let r = env
                .call(
                    Call::new(Method::GET, &calc(ty, &format!("/{id}")), "8.0")
                        .token(&t.access)
                        .scenario(scenario),
                )
                .await;
            assert_eq!(r.status, StatusCode::OK, "{ty} {scenario}");
            assert_schema(
                &format!("{API}/schemas/retrieve/{def}/retrieve_response.json"),
                &r.json,
            );
            assert_eq!(r.json["metadata"]["taxYear"], ty);
        }
    }
    let errors = env
        .call(
            Call::new(Method::GET, &calc("2025-26", &format!("/{id}")), "8.0")
                .token(&t.access)
                .scenario("ERROR_MESSAGES_EXIST"),
        )
        .await;
    assert!(errors.json.get("calculation").is_none());
    assert_eq!(errors.json["messages"]["errors"][0]["id"], json!("C55317"));
    let dynamic_old = env
        .call(
            Call::new(Method::GET, &calc("2022-23", &format!("/{id}")), "8.0")
                .token(&t.access)
                .scenario("DYNAMIC"),
        )
        .await;
    assert_hmrc_error(API, &dynamic_old.json, "RULE_INCORRECT_GOV_TEST_SCENARIO");
}
