//! The admin API over HTTP: test users, applications, settings, the clock, journals and reset.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::*;

async fn post(env: &Env, path: &str, body: Value) -> (StatusCode, Value) {
    let r = env
        .http
        .post(env.url(path))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status();
    let text = r.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn get(env: &Env, path: &str) -> Value {
    env.http
        .get(env.url(path))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn creating_a_user_generates_valid_identifiers_that_sign_in() {
    let env = env().await;
    let (status, user) = post(&env, "/_admin/users", json!({})).await;
    assert_eq!(status, StatusCode::CREATED);
    let nino = user["nino"].as_str().unwrap();
    assert!(hmrc_sandbox::is_valid_nino(nino), "{nino}");
    assert!(hmrc_sandbox::is_valid_mtd_it_id(
        user["mtdItId"].as_str().unwrap()
    ));
    let business = &user["businesses"][0];
    assert_eq!(business["typeOfBusiness"], "self-employment");
    assert!(hmrc_sandbox::is_valid_business_id(
        business["businessId"].as_str().unwrap()
    ));
    let t = env
        .tokens_for(
            user["userId"].as_str().unwrap(),
            user["password"].as_str().unwrap(),
        )
        .await;
    let list = env
        .get(
            &format!("/individuals/business/details/{nino}/list"),
            "2.0",
            &t.access,
        )
        .await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(
        list.json["listOfBusinesses"][0]["businessId"],
        business["businessId"]
    );
    // Alice cannot read the new user's data.
    let alice = env.tokens().await;
    let denied = env
        .get(
            &format!("/individuals/business/details/{nino}/list"),
            "2.0",
            &alice.access,
        )
        .await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn bad_admin_input_is_a_clear_400() {
    let env = env().await;
    for (path, body) in [
        ("/_admin/users", json!({"nino": "BG123456A"})),
        ("/_admin/users", json!({"userId": "alice"})),
        (
            "/_admin/users",
            json!({"businesses": [{"businessId": "XAIS1"}]}),
        ),
        ("/_admin/users", json!({"colour": "blue"})),
        (
            "/_admin/applications",
            json!({"redirectUris": ["http://example.com/cb"]}),
        ),
        ("/_admin/applications", json!({"clientId": CLIENT_ID})),
    ] {
        let (status, reply) = post(&env, path, body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(reply["error"].is_string(), "{reply}");
    }
    let (status, _) = post(&env, "/_admin/users/nobody/revoke", json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn registering_an_application_lets_it_use_oauth() {
    let env = env().await;
    let (status, app) = post(
        &env,
        "/_admin/applications",
        json!({"redirectUris": ["https://app.example/cb"], "name": "Demo"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let r = env
        .token(&[
            ("grant_type", "client_credentials"),
            ("client_id", app["clientId"].as_str().unwrap()),
            ("client_secret", app["clientSecret"].as_str().unwrap()),
        ])
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let (status, code) = post(
        &env,
        "/_admin/authorize",
        json!({"userId": "alice", "clientId": app["clientId"], "redirectUri": "https://app.example/cb"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let exchanged = env
        .token(&[
            ("grant_type", "authorization_code"),
            ("client_id", app["clientId"].as_str().unwrap()),
            ("client_secret", app["clientSecret"].as_str().unwrap()),
            ("redirect_uri", "https://app.example/cb"),
            ("code", code["code"].as_str().unwrap()),
        ])
        .await;
    assert_eq!(exchanged.status, StatusCode::OK, "{}", exchanged.text);
}

#[tokio::test]
async fn the_clock_and_settings_can_be_read_and_changed() {
    let env = env().await;
    let before = get(&env, "/_admin/clock").await;
    assert_eq!(before["now"], "2026-11-28T12:00:00Z");
    let (_, after) = post(&env, "/_admin/clock/advance", json!({"seconds": 3600})).await;
    assert_eq!(after["now"], "2026-11-28T13:00:00Z");
    let set = env
        .http
        .put(env.url("/_admin/clock"))
        .json(&json!({"now": "2027-05-01T00:00:00Z"}))
        .send()
        .await
        .unwrap();
    assert_eq!(set.status(), StatusCode::OK);
    let settings = env
        .http
        .put(env.url("/_admin/settings"))
        .json(&json!({"calculationDelayMillis": 2500, "refreshDelayMillis": 10}))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(
        settings,
        json!({"calculationDelayMillis": 2500, "refreshDelayMillis": 10, "rateLimitPerSecond": null})
    );
    let bad = env
        .http
        .put(env.url("/_admin/settings"))
        .json(&json!({"speed": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn submissions_are_read_back_with_bodies_and_redacted_headers() {
    let env = env().await;
    let t = env.tokens().await;
    let body = r#"{"allowances": {"tradingIncomeAllowance": 1000}}"#;
    let r = env
        .send_json(
            reqwest::Method::PUT,
            "/individuals/business/self-employment/AA123456A/XAIS12345678910/annual/2025-26",
            "5.0",
            &t.access,
            body,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    env.get(
        "/obligations/details/AA123456A/crystallisation",
        "3.0",
        &t.access,
    )
    .await;
    let subs = get(&env, "/_admin/submissions").await;
    let subs = subs.as_array().unwrap();
    assert_eq!(subs.len(), 1);
    let s = &subs[0];
    assert_eq!(s["endpoint"], "se-annual");
    assert_eq!(s["status"], 204);
    assert_eq!(s["nino"], NINO);
    assert_eq!(s["clientId"], CLIENT_ID);
    assert_eq!(
        s["body"],
        json!({"allowances": {"tradingIncomeAllowance": 1000}})
    );
    assert_eq!(s["headers"]["authorization"], "Bearer [redacted]");
    assert_eq!(s["correlationId"], r.correlation_id());
    assert!(!serde_json::to_string(&subs).unwrap().contains(&t.access));
    let all = get(
        &env,
        "/_admin/requests?endpoint=obligations-crystallisation",
    )
    .await;
    assert_eq!(all.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn reset_restores_the_seed() {
    let env = env().await;
    let t = env.tokens().await;
    post(&env, "/_admin/users", json!({"userId": "temp"})).await;
    env.get(
        "/obligations/details/AA123456A/crystallisation",
        "3.0",
        &t.access,
    )
    .await;
    let r = env
        .http
        .post(env.url("/_admin/reset"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let users = get(&env, "/_admin/users").await;
    let ids: Vec<&str> = users
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["userId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["alice"]);
    assert_eq!(get(&env, "/_admin/requests").await, json!([]));
    // Tokens issued before the reset are gone; the seeded user can sign in again.
    assert_eq!(
        env.get(
            "/obligations/details/AA123456A/crystallisation",
            "3.0",
            &t.access
        )
        .await
        .code(),
        "INVALID_CREDENTIALS"
    );
    let fresh = env.tokens().await;
    assert_eq!(
        env.get(
            "/obligations/details/AA123456A/crystallisation",
            "3.0",
            &fresh.access
        )
        .await
        .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn the_endpoint_list_names_every_fault_target() {
    let env = env().await;
    let ids = get(&env, "/_admin/endpoints").await;
    let ids: Vec<&str> = ids
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    for id in [
        "se-period-create",
        "se-cumulative",
        "uk-property-period-create",
        "calculation-trigger",
        "eops-submit",
        "oauth-token",
    ] {
        assert!(ids.contains(&id), "{id}");
    }
}

#[tokio::test]
async fn test_support_apis_create_users_and_businesses() {
    let env = env().await;
    let app = env.app_token().await;
    let r = env
        .send_json(
            reqwest::Method::POST,
            "/create-test-user/individuals",
            "1.0",
            &app,
            r#"{"serviceNames": ["national-insurance", "self-assessment", "mtd-income-tax"]}"#,
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    for key in [
        "userId",
        "password",
        "userFullName",
        "emailAddress",
        "saUtr",
        "nino",
        "mtdItId",
    ] {
        assert!(r.json[key].is_string(), "{key}");
    }
    let t = env
        .tokens_for(
            r.json["userId"].as_str().unwrap(),
            r.json["password"].as_str().unwrap(),
        )
        .await;
    let nino = r.json["nino"].as_str().unwrap();
    let created = env
        .send_json(
            reqwest::Method::POST,
            &format!("/individuals/self-assessment-test-support/business/{nino}"),
            "1.0",
            &t.access,
            r#"{"typeOfBusiness": "uk-property", "tradingName": "Flats"}"#,
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let id = created.json["businessId"].as_str().unwrap();
    let list = env
        .get(
            &format!("/individuals/business/details/{nino}/list"),
            "2.0",
            &t.access,
        )
        .await;
    assert!(
        list.json["listOfBusinesses"]
            .as_array()
            .unwrap()
            .iter()
            .any(|b| b["businessId"] == id)
    );
    let bad = env
        .send_json(
            reqwest::Method::POST,
            "/create-test-user/individuals",
            "1.0",
            &app,
            r#"{"serviceNames": ["space-travel"]}"#,
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn recorded_requests_keep_the_body_text_exactly_as_sent() {
    let env = env().await;
    let t = env.tokens().await;
    let body = r#"{"allowances": {"tradingIncomeAllowance": 999.50}}"#;
    let r = env
        .send_json(
            reqwest::Method::PUT,
            "/individuals/business/self-employment/AA123456A/XAIS12345678910/annual/2025-26",
            "5.0",
            &t.access,
            body,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let subs = get(&env, "/_admin/submissions").await;
    assert_eq!(subs[0]["bodyText"], body);
    assert_eq!(
        subs[0]["body"],
        json!({"allowances": {"tradingIncomeAllowance": 999.5}})
    );
}
