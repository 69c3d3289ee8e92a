//! Fault switches: error statuses with HMRC's bodies, delays, dropped connections and 429 with
//! Retry-After, for the next N calls or a fraction of calls, on API and token endpoints.

use std::time::Duration;

use hmrc_sandbox::{FaultAction, FaultSpec};
use reqwest::StatusCode;
use serde_json::json;

use crate::common::*;

const PATH: &str = "/obligations/details/AA123456A/crystallisation";
const ENDPOINT: &str = "obligations-crystallisation";

async fn add(env: &Env, spec: serde_json::Value) -> u64 {
    let r = env
        .http
        .post(env.url("/_admin/faults"))
        .json(&spec)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    r.json::<serde_json::Value>().await.unwrap()["id"]
        .as_u64()
        .unwrap()
}

#[tokio::test]
async fn a_status_fault_answers_hmrcs_body_for_the_next_n_calls() {
    let env = env().await;
    let t = env.tokens().await;
    add(
        &env,
        json!({"endpoint": ENDPOINT, "action": {"kind": "status", "status": 503}, "times": 2}),
    )
    .await;
    for _ in 0..2 {
        let r = env.get(PATH, "3.0", &t.access).await;
        assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            r.json,
            json!({"code": "SERVER_ERROR", "message": "Service unavailable"})
        );
        assert!(is_uuid(&r.correlation_id()));
    }
    assert_eq!(env.get(PATH, "3.0", &t.access).await.status, StatusCode::OK);
    add(
        &env,
        json!({"endpoint": ENDPOINT, "action": {"kind": "status", "status": 500}, "times": 1}),
    )
    .await;
    let r = env.get(PATH, "3.0", &t.access).await;
    assert_eq!(
        r.json,
        json!({"code": "INTERNAL_SERVER_ERROR", "message": "An internal server error occurred"})
    );
    add(
        &env,
        json!({"endpoint": ENDPOINT, "action": {"kind": "status", "status": 504}, "times": 1}),
    )
    .await;
    assert_eq!(
        env.get(PATH, "3.0", &t.access).await.code(),
        "GATEWAY_TIMEOUT"
    );
    add(&env, json!({"endpoint": ENDPOINT, "action": {"kind": "status", "status": 503, "code": "SCHEDULED_MAINTENANCE"}, "times": 1})).await;
    assert_eq!(
        env.get(PATH, "3.0", &t.access).await.code(),
        "SCHEDULED_MAINTENANCE"
    );
}

#[tokio::test]
async fn a_rate_limited_fault_sends_retry_after() {
    let env = env().await;
    let t = env.tokens().await;
    add(&env, json!({"endpoint": "*", "action": {"kind": "rateLimited", "retryAfterSecs": 7}, "times": 1})).await;
    let r = env.get(PATH, "3.0", &t.access).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.headers["retry-after"], "7");
    assert_eq!(r.code(), "MESSAGE_THROTTLED_OUT");
}

#[tokio::test]
async fn a_delay_fault_outlasts_a_client_timeout() {
    let env = env().await;
    let t = env.tokens().await;
    add(
        &env,
        json!({"endpoint": ENDPOINT, "action": {"kind": "delay", "millis": 1500}, "times": 1}),
    )
    .await;
    let err = env
        .http
        .get(env.url(PATH))
        .header("Accept", "application/vnd.hmrc.3.0+json")
        .bearer_auth(&t.access)
        .timeout(Duration::from_millis(300))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    // Spent: the next call is served at once.
    assert_eq!(env.get(PATH, "3.0", &t.access).await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_dropped_connection_is_a_connection_error_for_a_real_client() {
    let env = env().await;
    let t = env.tokens().await;
    env.sandbox
        .admin()
        .add_fault(FaultSpec::new(ENDPOINT, FaultAction::Drop).times(1))
        .unwrap();
    let err = env
        .http
        .get(env.url(PATH))
        .header("Accept", "application/vnd.hmrc.3.0+json")
        .bearer_auth(&t.access)
        .send()
        .await
        .unwrap_err();
    assert!(!err.is_timeout());
    assert!(
        err.status().is_none(),
        "no HTTP status was received: {err:?}"
    );
    assert!(err.is_request() || err.is_connect(), "{err:?}");
    assert_eq!(env.get(PATH, "3.0", &t.access).await.status, StatusCode::OK);
    let journal = env.sandbox.admin().requests();
    assert_eq!(
        journal[0].status, 0,
        "the dropped call is recorded with no status"
    );
}

#[tokio::test]
async fn a_fraction_hits_every_other_call() {
    let env = env().await;
    let t = env.tokens().await;
    add(
        &env,
        json!({"endpoint": ENDPOINT, "action": {"kind": "status", "status": 502}, "fraction": 0.5}),
    )
    .await;
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(env.get(PATH, "3.0", &t.access).await.status.as_u16());
    }
    assert_eq!(statuses, vec![200, 502, 200, 502, 200, 502]);
    let faults: serde_json::Value = env
        .http
        .get(env.url("/_admin/faults"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(faults[0]["seen"], 6);
    assert_eq!(faults[0]["fired"], 3);
    let cleared = env
        .http
        .delete(env.url("/_admin/faults"))
        .send()
        .await
        .unwrap();
    assert_eq!(cleared.status(), StatusCode::NO_CONTENT);
    assert_eq!(env.get(PATH, "3.0", &t.access).await.status, StatusCode::OK);
}

#[tokio::test]
async fn faults_on_the_token_endpoint() {
    let env = env().await;
    let t = env.tokens().await;
    let id = add(
        &env,
        json!({"endpoint": "oauth-token", "action": {"kind": "status", "status": 500}}),
    )
    .await;
    let r = env.refresh(&t.refresh).await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(r.json["error"], "server_error");
    let removed = env
        .http
        .delete(env.url(&format!("/_admin/faults/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(removed.status(), StatusCode::NO_CONTENT);
    // The failed attempt did not burn the refresh token.
    assert_eq!(env.refresh(&t.refresh).await.status, StatusCode::OK);

    env.sandbox
        .admin()
        .add_fault(FaultSpec::new("oauth-token", FaultAction::Drop).times(1))
        .unwrap();
    let err = env
        .http
        .post(env.url("/oauth/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
        ])
        .send()
        .await
        .unwrap_err();
    assert!(err.status().is_none(), "{err:?}");
}

#[tokio::test]
async fn unknown_endpoints_and_bad_specs_are_refused() {
    let env = env().await;
    for spec in [
        json!({"endpoint": "nope", "action": {"kind": "drop"}}),
        json!({"endpoint": "*", "action": {"kind": "status", "status": 200}}),
        json!({"endpoint": "*", "action": {"kind": "drop"}, "fraction": 2.0}),
        json!({"endpoint": "*", "action": {"kind": "explode"}}),
    ] {
        let r = env
            .http
            .post(env.url("/_admin/faults"))
            .json(&spec)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{spec}");
        let body: serde_json::Value = r.json().await.unwrap();
        assert!(body["error"].as_str().unwrap().len() > 10);
    }
}

#[tokio::test]
async fn an_invalid_request_fault_answers_hmrcs_multi_error_body_sorted_by_code() {
    let env = env().await;
    let t = env.tokens().await;
    add(
        &env,
        json!({"endpoint": ENDPOINT, "times": 1, "action": {"kind": "invalidRequest", "errors": [
            {"code": "RULE_TAX_YEAR_NOT_SUPPORTED", "message": "The tax year is not supported"},
            {"code": "FORMAT_STATUS", "message": "The status is invalid", "paths": ["/status"]}
        ]}}),
    )
    .await;
    let r = env.get(PATH, "3.0", &t.access).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.json,
        json!({"code": "INVALID_REQUEST", "message": "Invalid request", "errors": [
            {"code": "FORMAT_STATUS", "message": "The status is invalid", "paths": ["/status"]},
            {"code": "RULE_TAX_YEAR_NOT_SUPPORTED", "message": "The tax year is not supported"}
        ]})
    );
    assert_schema("obligations-api/3.0/schemas/error-response.yaml", &r.json);
    assert!(is_uuid(&r.correlation_id()));
    assert_eq!(env.get(PATH, "3.0", &t.access).await.status, StatusCode::OK);
}

#[tokio::test]
async fn an_invalid_request_fault_without_errors_is_refused() {
    let env = env().await;
    let r = env
        .http
        .post(env.url("/_admin/faults"))
        .json(&json!({"endpoint": ENDPOINT, "action": {"kind": "invalidRequest", "errors": []}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}
