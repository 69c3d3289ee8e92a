//! The platform layer: correlation IDs, Accept routing, bearer tokens and scopes, NINO checks,
//! body types, unknown routes and the rate limit.

use chrono::TimeDelta;
use reqwest::{Method, StatusCode};

use crate::common::*;

const OBLIGATIONS: &str =
    "/obligations/details/AA123456A/income-and-expenditure?fromDate=2025-04-06&toDate=2026-04-05";

#[tokio::test]
async fn every_answer_carries_a_uuid_correlation_id() {
    let env = env().await;
    let tokens = env.tokens().await;
    let ok = env.get(OBLIGATIONS, "3.0", &tokens.access).await;
    assert_eq!(ok.status, StatusCode::OK);
    let unauthorised = env.call(Call::new(Method::GET, OBLIGATIONS, "3.0")).await;
    let token_error = env.token(&[("grant_type", "password")]).await;
    let page = env
        .http
        .get(env.url("/oauth/authorize?client_id=nope"))
        .send()
        .await
        .unwrap();
    let unknown = env.get("/no/such/thing", "3.0", &tokens.access).await;
    let admin = env
        .http
        .get(env.url("/_admin/endpoints"))
        .send()
        .await
        .unwrap();
    let mut ids = vec![
        ok.correlation_id(),
        unauthorised.correlation_id(),
        token_error.correlation_id(),
        unknown.correlation_id(),
    ];
    for r in [&page, &admin] {
        ids.push(r.headers()["x-correlationid"].to_str().unwrap().to_owned());
    }
    for id in &ids {
        assert!(is_uuid(id), "{id:?} is not a UUID");
    }
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(
        unique.len(),
        ids.len(),
        "correlation IDs are fresh per answer"
    );
}

#[tokio::test]
async fn accept_header_routes_versions() {
    let env = env().await;
    let tokens = env.tokens().await;
    let missing = env
        .http
        .get(env.url(OBLIGATIONS))
        .bearer_auth(&tokens.access)
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_ACCEPTABLE);
    let body: serde_json::Value = missing.json().await.unwrap();
    assert_eq!(body["code"], "ACCEPT_HEADER_INVALID");
    assert_eq!(body["message"], "The accept header is missing or invalid");

    let old = env.get(OBLIGATIONS, "2.0", &tokens.access).await;
    assert_eq!(old.status, StatusCode::NOT_FOUND);
    assert_eq!(old.json["code"], "NOT_FOUND");
    assert_eq!(
        old.json["message"],
        "The requested resource could not be found"
    );
}

#[tokio::test]
async fn bearer_token_problems_are_401_and_403() {
    let env = env().await;
    let none = env.call(Call::new(Method::GET, OBLIGATIONS, "3.0")).await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);
    assert_eq!(none.code(), "MISSING_CREDENTIALS");

    let bogus = env
        .get(OBLIGATIONS, "3.0", "0123456789abcdef0123456789abcdef")
        .await;
    assert_eq!(bogus.status, StatusCode::UNAUTHORIZED);
    assert_eq!(bogus.code(), "INVALID_CREDENTIALS");

    let app = env.app_token().await;
    let wrong_type = env.get(OBLIGATIONS, "3.0", &app).await;
    assert_eq!(wrong_type.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong_type.code(), "INCORRECT_ACCESS_TOKEN_TYPE");

    // A token granted only read:self-assessment cannot write.
    let code = env
        .code_for(
            "alice",
            "alice-password",
            &[("scope", "read:self-assessment")],
        )
        .await;
    let read_only = env.exchange(&code, &[]).await;
    assert_eq!(read_only.json["scope"], "read:self-assessment");
    let token = read_only.json["access_token"].as_str().unwrap();
    let write = env
        .send_json(
            Method::PUT,
            "/individuals/business/self-employment/AA123456A/XAIS12345678910/annual/2025-26",
            "5.0",
            token,
            r#"{"allowances": {"tradingIncomeAllowance": 1000}}"#,
        )
        .await;
    assert_eq!(write.status, StatusCode::FORBIDDEN);
    assert_eq!(write.code(), "INVALID_SCOPE");
    let read = env.get(OBLIGATIONS, "3.0", token).await;
    assert_eq!(read.status, StatusCode::OK);
}

#[tokio::test]
async fn an_expired_access_token_is_invalid_credentials() {
    let env = env().await;
    let tokens = env.tokens().await;
    env.sandbox
        .admin()
        .advance_clock(TimeDelta::seconds(14_399))
        .unwrap();
    assert_eq!(
        env.get(OBLIGATIONS, "3.0", &tokens.access).await.status,
        StatusCode::OK
    );
    env.sandbox
        .admin()
        .advance_clock(TimeDelta::seconds(2))
        .unwrap();
    let expired = env.get(OBLIGATIONS, "3.0", &tokens.access).await;
    assert_eq!(expired.status, StatusCode::UNAUTHORIZED);
    assert_eq!(expired.code(), "INVALID_CREDENTIALS");
}

#[tokio::test]
async fn admin_can_expire_access_tokens() {
    let env = env().await;
    let tokens = env.tokens().await;
    let expired = env
        .http
        .post(env.url("/_admin/tokens/expire"))
        .json(&serde_json::json!({"userId": "alice"}))
        .send()
        .await
        .unwrap();
    assert_eq!(expired.status(), StatusCode::OK);
    let body: serde_json::Value = expired.json().await.unwrap();
    assert_eq!(body["expired"], 1);
    let r = env.get(OBLIGATIONS, "3.0", &tokens.access).await;
    assert_eq!(r.code(), "INVALID_CREDENTIALS");
    // The refresh token still works and gives a working access token.
    let refreshed = env.refresh(&tokens.refresh).await;
    let access = refreshed.json["access_token"].as_str().unwrap();
    assert_eq!(
        env.get(OBLIGATIONS, "3.0", access).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn nino_checks_come_from_the_service_with_its_own_messages() {
    let env = env().await;
    let tokens = env.tokens().await;
    let bad = env
        .get(
            "/individuals/business/self-employment/AA12345/XAIS12345678910/period/2024-25",
            "5.0",
            &tokens.access,
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_hmrc_error("self-employment-business-api/5.0", &bad.json, "FORMAT_NINO");

    let other = env
        .get(
            "/obligations/details/TC663795B/income-and-expenditure",
            "3.0",
            &tokens.access,
        )
        .await;
    assert_eq!(other.status, StatusCode::FORBIDDEN);
    assert_hmrc_error(
        "obligations-api/3.0",
        &other.json,
        "CLIENT_OR_AGENT_NOT_AUTHORISED",
    );
}

#[tokio::test]
async fn body_type_and_malformed_json() {
    let env = env().await;
    let tokens = env.tokens().await;
    let path = "/individuals/business/self-employment/AA123456A/XAIS12345678910/annual/2025-26";
    let text = env
        .http
        .put(env.url(path))
        .header("Accept", "application/vnd.hmrc.5.0+json")
        .header("Content-Type", "text/plain")
        .bearer_auth(&tokens.access)
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_eq!(text.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let body: serde_json::Value = text.json().await.unwrap();
    assert_eq!(body["code"], "INVALID_BODY_TYPE");

    let broken = env
        .send_json(Method::PUT, path, "5.0", &tokens.access, "{\"a\":")
        .await;
    assert_eq!(broken.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        broken.json,
        serde_json::json!({"code": "INVALID_REQUEST", "message": "Invalid request"})
    );
}

#[tokio::test]
async fn unknown_routes_and_methods() {
    let env = env().await;
    let tokens = env.tokens().await;
    let unknown = env
        .get("/individuals/nothing/here", "5.0", &tokens.access)
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown.code(), "MATCHING_RESOURCE_NOT_FOUND");
    let wrong_method = env
        .call(
            Call::new(
                Method::DELETE,
                "/obligations/details/AA123456A/crystallisation",
                "3.0",
            )
            .token(&tokens.access),
        )
        .await;
    assert_eq!(wrong_method.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(wrong_method.code(), "METHOD_NOT_ALLOWED");
}

#[tokio::test]
async fn three_requests_per_second_per_client_then_429() {
    let env = env_with(builder().rate_limit(Some(3))).await;
    let tokens = env.tokens().await;
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(env.get(OBLIGATIONS, "3.0", &tokens.access).await);
    }
    let codes: Vec<u16> = statuses.iter().map(|r| r.status.as_u16()).collect();
    assert_eq!(codes, vec![200, 200, 200, 429]);
    let throttled = &statuses[3];
    assert_eq!(throttled.code(), "MESSAGE_THROTTLED_OUT");
    assert_eq!(
        throttled.json["message"],
        "The request for the API is throttled as you have exceeded your quota."
    );
    // Another application has its own budget.
    env.sandbox
        .admin()
        .register_application(hmrc_sandbox::NewApplication::new(
            "other",
            "other-secret",
            REDIRECT_URI,
        ))
        .unwrap();
    let other = env
        .token(&[
            ("grant_type", "client_credentials"),
            ("client_id", "other"),
            ("client_secret", "other-secret"),
        ])
        .await;
    let fraud = env
        .get(
            "/test/fraud-prevention-headers/validate",
            "1.0",
            other.json["access_token"].as_str().unwrap(),
        )
        .await;
    assert_eq!(fraud.status, StatusCode::OK);
    // The window slides: a second later (on the sandbox clock) the first client may call again.
    env.sandbox
        .admin()
        .advance_clock(TimeDelta::seconds(1))
        .unwrap();
    assert_eq!(
        env.get(OBLIGATIONS, "3.0", &tokens.access).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn the_rate_limit_can_be_switched_off_at_runtime() {
    let env = env_with(builder().rate_limit(Some(3))).await;
    let tokens = env.tokens().await;
    let r = env
        .http
        .put(env.url("/_admin/settings"))
        .json(&serde_json::json!({"rateLimitPerSecond": null}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    for _ in 0..8 {
        assert_eq!(
            env.get(OBLIGATIONS, "3.0", &tokens.access).await.status,
            StatusCode::OK
        );
    }
}
