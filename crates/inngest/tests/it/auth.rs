//! Signatures in cloud mode (digest §3, §2.2, §5): verification of calls and
//! introspection, the five-minute window, the fallback key, response signing and header
//! stripping on 401.

use axum::Router;
use axum::body::Body;
use http::Request;
use inngest::signature::{self, KeyUsed};
use inngest::{Context, Function, Trigger};
use serde_json::json;

use crate::support::{Answer, Call, KEY_A, KEY_B, cloud_client, hash, key, send, unix_now};

fn app() -> Router {
    let f = Function::builder("hello")
        .trigger(Trigger::event("t/hello"))
        .build(|ctx: Context| async move {
            let v: String = ctx
                .step
                .run("greet", || async { Ok("hi".to_owned()) })
                .await?;
            Ok(v)
        })
        .expect("valid");
    inngest::serve::router(cloud_client(), [f])
}

fn call_body() -> Vec<u8> {
    serde_json::to_vec(&Call::new("t/hello", json!({})).body()).expect("json")
}

fn post(body: &[u8], signature: Option<String>, extra: &[(&str, &str)]) -> Request<Body> {
    let mut b = Request::builder()
        .method("POST")
        .uri("/api/inngest?fnId=test-app-hello&stepId=step")
        .header("host", "app.test");
    if let Some(sig) = signature {
        b = b.header("x-inngest-signature", sig);
    }
    for (k, v) in extra {
        b = b.header(*k, *v);
    }
    b.body(Body::from(body.to_vec())).expect("request")
}

fn get(signature: Option<String>) -> Request<Body> {
    let mut b = Request::builder()
        .method("GET")
        .uri("/api/inngest")
        .header("host", "app.test");
    if let Some(sig) = signature {
        b = b.header("x-inngest-signature", sig);
    }
    b.body(Body::empty()).expect("request")
}

/// Asserts a 401 that does not identify the SDK.
fn assert_unauthorized(a: &Answer) {
    assert_eq!(a.status, 401);
    assert_eq!(a.body, json!({"message": "Unauthorized"}));
    assert_eq!(a.header("x-inngest-sdk-handled"), Some("true"));
    for stripped in [
        "x-inngest-sdk",
        "user-agent",
        "x-inngest-req-version",
        "x-inngest-framework",
        "x-inngest-signature",
    ] {
        assert_eq!(a.header(stripped), None, "{stripped} must be stripped");
    }
}

/// Asserts that the answer is signed with `k` over its exact bytes.
fn assert_signed_with(a: &Answer, k: &str) {
    let sig = a.header("x-inngest-signature").expect("signed answer");
    assert_eq!(
        signature::verify(Some(sig), &a.raw, &[&key(k)], unix_now()),
        Ok(KeyUsed::Primary),
        "answer must be signed with the validating key"
    );
}

#[tokio::test]
async fn a_valid_signature_runs_the_call_and_the_answer_is_signed() {
    let body = call_body();
    let sig = signature::sign_header(&body, &key(KEY_A), unix_now());
    let a = send(&app(), post(&body, Some(sig), &[])).await;
    assert_eq!(a.status, 206);
    assert_eq!(a.single_op()["id"], hash("greet"));
    assert_signed_with(&a, KEY_A);
    assert!(
        a.header("x-inngest-sdk")
            .is_some_and(|v| v.starts_with("inngest-rs:v"))
    );
}

#[tokio::test]
async fn the_fallback_key_is_accepted_and_signs_the_answer() {
    let body = call_body();
    let sig = signature::sign_header(&body, &key(KEY_B), unix_now());
    let a = send(&app(), post(&body, Some(sig), &[])).await;
    assert_eq!(a.status, 206);
    assert_signed_with(&a, KEY_B);
}

#[tokio::test]
async fn a_missing_signature_is_rejected_even_if_the_request_claims_dev() {
    let body = call_body();
    let a = send(
        &app(),
        post(&body, None, &[("x-inngest-server-kind", "dev")]),
    )
    .await;
    assert_unauthorized(&a);
}

#[tokio::test]
async fn a_signature_from_an_unknown_key_is_rejected() {
    let body = call_body();
    let other =
        key("signkey-test-0000000000000000000000000000000000000000000000000000000000000000");
    let sig = signature::sign_header(&body, &other, unix_now());
    assert_unauthorized(&send(&app(), post(&body, Some(sig), &[])).await);
}

#[tokio::test]
async fn signatures_older_or_newer_than_five_minutes_are_rejected() {
    let body = call_body();
    for skew in [-301, 301] {
        let sig = signature::sign_header(&body, &key(KEY_A), unix_now() + skew);
        assert_unauthorized(&send(&app(), post(&body, Some(sig), &[])).await);
    }
    let sig = signature::sign_header(&body, &key(KEY_A), unix_now() - 250);
    assert_eq!(send(&app(), post(&body, Some(sig), &[])).await.status, 206);
}

#[tokio::test]
async fn a_tampered_body_is_rejected() {
    let body = call_body();
    let sig = signature::sign_header(&body, &key(KEY_A), unix_now());
    let mut tampered = body.clone();
    tampered.extend_from_slice(b" ");
    let tampered = String::from_utf8(tampered)
        .expect("utf8")
        .replace("t/hello", "t/hellp");
    assert_unauthorized(&send(&app(), post(tampered.as_bytes(), Some(sig), &[])).await);
}

#[tokio::test]
async fn cloud_introspection_is_authenticated_when_signed_and_401_otherwise() {
    let sig = signature::sign_header(b"", &key(KEY_A), unix_now());
    let a = send(&app(), get(Some(sig))).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.body["authentication_succeeded"], true);
    assert_eq!(a.body["mode"], "cloud");
    assert_eq!(a.body["schema_version"], "2024-05-24");
    assert_eq!(a.body["function_count"], 1);
    assert_eq!(a.body["app_id"], "test-app");
    assert_eq!(a.body["has_signing_key"], true);
    assert_eq!(a.body["signing_key_hash"], "1492131fd843");
    assert_eq!(a.body["signing_key_fallback_hash"], "e4bf4a2e7f55");
    assert_signed_with(&a, KEY_A);
    assert_unauthorized(&send(&app(), get(None)).await);
    let bad = signature::sign_header(b"x", &key(KEY_A), unix_now());
    assert_unauthorized(&send(&app(), get(Some(bad))).await);
}

#[tokio::test]
async fn the_trust_probe_needs_a_signature_and_is_signed() {
    let body = b"{}";
    let sig = signature::sign_header(body, &key(KEY_A), unix_now());
    let req = Request::builder()
        .method("POST")
        .uri("/?probe=trust")
        .header("x-inngest-signature", sig)
        .body(Body::from(&body[..]))
        .expect("request");
    let a = send(&app(), req).await;
    assert_eq!((a.status, a.raw.len()), (200, 0));
    assert_signed_with(&a, KEY_A);
    let req = Request::builder()
        .method("POST")
        .uri("/?probe=trust")
        .body(Body::from(&body[..]))
        .expect("request");
    assert_unauthorized(&send(&app(), req).await);
}

#[tokio::test]
async fn dev_mode_does_not_require_signatures() {
    let r = crate::support::dev_router([Function::builder("x")
        .trigger(Trigger::event("test/x"))
        .build(|_ctx: Context| async move { Ok(()) })
        .expect("valid")]);
    let a = send(&r, get(None)).await;
    assert_eq!(a.status, 200);
    assert_eq!(
        a.body,
        json!({"authentication_succeeded": null, "function_count": 1,
            "has_event_key": false, "has_signing_key": false,
            "has_signing_key_fallback": false, "mode": "dev",
            "schema_version": "2024-05-24"})
    );
    assert_eq!(a.header("x-inngest-signature"), None);
}

#[tokio::test]
async fn every_answer_carries_the_sdk_headers_and_echoes_the_server_kind() {
    let body = call_body();
    let sig = signature::sign_header(&body, &key(KEY_A), unix_now());
    let a = send(
        &app(),
        post(&body, Some(sig), &[("x-inngest-server-kind", "cloud")]),
    )
    .await;
    let sdk = format!("inngest-rs:v{}", inngest::client::SDK_VERSION);
    assert_eq!(a.header("x-inngest-sdk"), Some(sdk.as_str()));
    assert_eq!(a.header("user-agent"), Some(sdk.as_str()));
    assert_eq!(a.header("x-inngest-req-version"), Some("2"));
    assert_eq!(a.header("x-inngest-sdk-handled"), Some("true"));
    assert_eq!(a.header("x-inngest-framework"), Some("axum"));
    assert_eq!(a.header("content-type"), Some("application/json"));
    assert_eq!(a.header("x-inngest-expected-server-kind"), Some("cloud"));
}

#[tokio::test]
async fn unsupported_methods_answer_405() {
    let req = Request::builder()
        .method("DELETE")
        .uri("/")
        .body(Body::empty())
        .expect("request");
    let a = send(&app(), req).await;
    assert_eq!(a.status, 405);
    assert_eq!(a.body, json!({"message": "Method not allowed"}));
}
