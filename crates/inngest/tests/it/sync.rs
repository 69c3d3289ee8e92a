//! Syncs (`PUT`, digest §4) against a local fake of `/fn/register`: success, an error
//! answer, 401 then the fallback key; and in-band syncs.

use axum::body::Body;
use http::Request;
use inngest::signature::{self, KeyUsed};
use inngest::{Context, Function, Inngest, Trigger};
use serde_json::{Value, json};

use crate::support::{FakeInngest, KEY_A, KEY_B, key, send, unix_now};

fn functions() -> Vec<Function> {
    vec![
        Function::builder("hello")
            .trigger(Trigger::event("t/hello"))
            .retries(2)
            .build(|_ctx: Context| async move { Ok(()) })
            .expect("valid"),
        Function::builder("pay")
            .name("Pay")
            .trigger(Trigger::cron("0 * * * *"))
            .on_failure(|_ctx: Context<inngest::FunctionFailed>| async move { Ok(()) })
            .build(|_ctx: Context| async move { Ok(()) })
            .expect("valid"),
    ]
}

fn put(uri: &str, headers: &[(&str, &str)], body: &[u8]) -> Request<Body> {
    let mut b = Request::builder()
        .method("PUT")
        .uri(uri)
        .header("host", "app.test:3000");
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(Body::from(body.to_vec())).expect("request")
}

fn register_ok(_: &crate::support::Recorded, _: usize) -> (u16, Value) {
    (
        200,
        json!({"ok": true, "modified": true, "sync_id": "s", "app_id": "a"}),
    )
}

#[tokio::test]
async fn out_of_band_sync_posts_the_register_payload_and_answers_message_modified() {
    let fake = FakeInngest::start(register_ok).await;
    let client = Inngest::builder("test-app")
        .without_env()
        .dev()
        .base_url(&fake.url)
        .env("branch-1")
        .build()
        .expect("valid");
    let router =
        axum::Router::new().nest("/api/inngest", inngest::serve::router(client, functions()));
    let a = send(
        &router,
        put(
            "/api/inngest?deployId=dep-1",
            &[("x-inngest-server-kind", "dev")],
            br#"{"url":"x"}"#,
        ),
    )
    .await;
    assert_eq!(a.status, 200);
    assert_eq!(
        a.body,
        json!({"message": "Successfully registered", "modified": true})
    );
    assert_eq!(a.header("x-inngest-sync-kind"), Some("out_of_band"));
    assert_eq!(a.header("x-inngest-expected-server-kind"), Some("dev"));

    let reqs = fake.requests();
    assert_eq!(reqs.len(), 1);
    let r = &reqs[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.path_and_query, "/fn/register?deployId=dep-1");
    assert_eq!(r.header("x-inngest-expected-server-kind"), Some("dev"));
    assert_eq!(r.header("x-inngest-sync-kind"), Some("out_of_band"));
    assert_eq!(r.header("x-inngest-env"), Some("branch-1"));
    assert_eq!(r.header("x-inngest-framework"), Some("axum"));
    assert!(
        r.header("x-inngest-sdk")
            .is_some_and(|v| v.starts_with("inngest-rs:v"))
    );
    assert_eq!(
        r.header("authorization"),
        None,
        "dev mode without a key sends no bearer"
    );
    let b = &r.body;
    assert_eq!(
        b["url"], "http://app.test:3000/api/inngest",
        "deployId never goes into the url"
    );
    assert_eq!(b["deployId"], "dep-1");
    assert_eq!(b["appName"], "test-app");
    assert_eq!(b["deployType"], "ping");
    assert_eq!(b["framework"], "axum");
    assert!(b["sdk"].as_str().is_some_and(|s| s.starts_with("rust:v")));
    let fns = b["functions"].as_array().expect("functions");
    let ids: Vec<&str> = fns.iter().filter_map(|f| f["id"].as_str()).collect();
    assert_eq!(
        ids,
        ["test-app-hello", "test-app-pay", "test-app-pay-failure"]
    );
    assert_eq!(
        fns[0]["steps"]["step"]["runtime"]["url"],
        "http://app.test:3000/api/inngest?fnId=test-app-hello&stepId=step"
    );
    assert_eq!(fns[0]["steps"]["step"]["retries"], json!({"attempts": 2}));
    assert_eq!(fns[1]["triggers"], json!([{"cron": "0 * * * *"}]));
    assert_eq!(
        fns[2]["triggers"][0]["expression"],
        "event.data.function_id == 'test-app-pay'"
    );
}

#[tokio::test]
async fn a_register_error_answers_500_with_the_server_text() {
    let fake =
        FakeInngest::start(|_, _| (400, json!({"error": "Expected server kind cloud, got dev"})))
            .await;
    let client = Inngest::builder("test-app")
        .without_env()
        .dev()
        .base_url(&fake.url)
        .build()
        .expect("valid");
    let router = inngest::serve::router(client, functions());
    let a = send(&router, put("/api/inngest", &[], b"")).await;
    assert_eq!(a.status, 500);
    assert_eq!(
        a.body,
        json!({"message": "Expected server kind cloud, got dev", "modified": false})
    );
    assert_eq!(a.header("x-inngest-sync-kind"), Some("out_of_band"));
}

#[tokio::test]
async fn an_unreachable_api_answers_500_failed_to_register() {
    let client = Inngest::builder("test-app")
        .without_env()
        .dev()
        .base_url("http://127.0.0.1:9")
        .build()
        .expect("valid");
    let router = inngest::serve::router(client, functions());
    let a = send(&router, put("/api/inngest", &[], b"")).await;
    assert_eq!(a.status, 500);
    assert!(
        a.body["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("Failed to register"))
    );
    assert_eq!(a.body["modified"], false);
}

#[tokio::test]
async fn a_401_is_retried_with_the_fallback_key_bearer() {
    let fallback_bearer = format!("Bearer {}", signature::hashed_signing_key(&key(KEY_B)));
    let expected = fallback_bearer.clone();
    let fake = FakeInngest::start(move |r, _| {
        if r.header("authorization") == Some(expected.as_str()) {
            (200, json!({"ok": true, "modified": false}))
        } else {
            (401, json!({"error": "unauthorized"}))
        }
    })
    .await;
    let client = Inngest::builder("test-app")
        .without_env()
        .signing_key(KEY_A)
        .signing_key_fallback(KEY_B)
        .base_url(&fake.url)
        .build()
        .expect("valid");
    let router = inngest::serve::router(client, functions());
    // An unsigned PUT still triggers an out-of-band sync (anyone may ask for a sync), but the
    // answer does not identify the SDK.
    let a = send(&router, put("/api/inngest", &[], b"")).await;
    assert_eq!(a.status, 200);
    assert_eq!(
        a.body,
        json!({"message": "Successfully registered", "modified": false})
    );
    assert_eq!(a.header("x-inngest-sdk"), None);
    let reqs = fake.requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(
        reqs[0].header("authorization"),
        Some(format!("Bearer {}", signature::hashed_signing_key(&key(KEY_A))).as_str())
    );
    assert_eq!(
        reqs[1].header("authorization"),
        Some(fallback_bearer.as_str())
    );
}

fn cloud(in_band: bool) -> Inngest {
    Inngest::builder("test-app")
        .without_env()
        .signing_key(KEY_A)
        .base_url("http://127.0.0.1:9")
        .allow_in_band_sync(in_band)
        .build()
        .expect("valid")
}

#[tokio::test]
async fn in_band_sync_answers_the_signed_configuration() {
    let router = inngest::serve::router(cloud(true), functions());
    let body = br#"{"url":"https://public.example.com/api/inngest"}"#;
    let sig = signature::sign_header(body, &key(KEY_A), unix_now());
    let a = send(
        &router,
        put(
            "/api/inngest",
            &[
                ("x-inngest-sync-kind", "in_band"),
                ("x-inngest-signature", &sig),
                ("x-inngest-server-kind", "cloud"),
            ],
            body,
        ),
    )
    .await;
    assert_eq!(a.status, 200);
    assert_eq!(a.header("x-inngest-sync-kind"), Some("in_band"));
    let s = a.header("x-inngest-signature").expect("signed");
    assert_eq!(
        signature::verify(Some(s), &a.raw, &[&key(KEY_A)], unix_now()),
        Ok(KeyUsed::Primary)
    );
    let b = &a.body;
    assert_eq!(b["app_id"], "test-app");
    assert_eq!(b["url"], "https://public.example.com/api/inngest");
    assert_eq!(b["sdk_language"], "rust");
    assert_eq!(b["framework"], "axum");
    assert_eq!(b["env"], Value::Null);
    assert_eq!(b["inspection"]["authentication_succeeded"], true);
    assert_eq!(b["functions"].as_array().map(Vec::len), Some(3));
    assert_eq!(
        b["functions"][0]["steps"]["step"]["runtime"]["url"],
        "https://public.example.com/api/inngest?fnId=test-app-hello&stepId=step"
    );
}

#[tokio::test]
async fn in_band_sync_needs_a_valid_signature_and_an_exact_body() {
    let router = inngest::serve::router(cloud(true), functions());
    let body = br#"{"url":"https://x/api/inngest"}"#;
    let a = send(
        &router,
        put("/api/inngest", &[("x-inngest-sync-kind", "in_band")], body),
    )
    .await;
    assert_eq!(
        (a.status, a.body.clone()),
        (401, json!({"message": "Unauthorized"}))
    );
    let bad = br#"{"url":"https://x/api/inngest","extra":1}"#;
    let sig = signature::sign_header(bad, &key(KEY_A), unix_now());
    let a = send(
        &router,
        put(
            "/api/inngest",
            &[
                ("x-inngest-sync-kind", "in_band"),
                ("x-inngest-signature", &sig),
            ],
            bad,
        ),
    )
    .await;
    assert_eq!(a.status, 400);
    assert_eq!(a.body["code"], "invalid_request");
}

#[tokio::test]
async fn a_disallowed_in_band_request_falls_back_to_out_of_band() {
    let router = inngest::serve::router(cloud(false), functions());
    let body = br#"{"url":"https://x/api/inngest"}"#;
    let sig = signature::sign_header(body, &key(KEY_A), unix_now());
    let a = send(
        &router,
        put(
            "/api/inngest",
            &[
                ("x-inngest-sync-kind", "in_band"),
                ("x-inngest-signature", &sig),
            ],
            body,
        ),
    )
    .await;
    // Nothing listens on the configured API origin: the out-of-band attempt fails.
    assert_eq!(a.header("x-inngest-sync-kind"), Some("out_of_band"));
    assert_eq!(a.status, 500);
}

#[tokio::test]
async fn duplicate_function_ids_are_reported() {
    let f = || {
        Function::builder("same")
            .trigger(Trigger::event("test/same"))
            .build(|_ctx: Context| async move { Ok(()) })
            .expect("valid")
    };
    let client = crate::support::dev_client();
    let err = inngest::serve::try_router(client, [f(), f()]).unwrap_err();
    assert!(err.to_string().contains("test-app-same"));
}
