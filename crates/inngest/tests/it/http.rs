//! The router over real HTTP on 127.0.0.1, mounted at different paths, and driven in
//! process with `tower::ServiceExt::oneshot` (how the local engine drives it).

use axum::Router;
use axum::body::Body;
use http::Request;
use inngest::{Context, Function, Trigger};
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::support::{Call, dev_client, hash, spawn};

fn hello() -> Function {
    Function::builder("hello")
        .trigger(Trigger::event("t/hello"))
        .build(|ctx: Context| async move {
            let v: String = ctx
                .step
                .run("greet", || async { Ok("hi".to_owned()) })
                .await?;
            Ok(json!({ "greeting": v }))
        })
        .expect("valid")
}

async fn post_json(url: &str, body: &Value) -> (u16, Value) {
    let res = reqwest::Client::new()
        .post(url)
        .json(body)
        .send()
        .await
        .expect("reachable");
    let status = res.status().as_u16();
    (status, res.json().await.expect("json"))
}

#[tokio::test]
async fn a_run_completes_over_real_http_when_nested_under_a_path() {
    let app = Router::new()
        .route("/health", axum::routing::get(|| async { "ok" }))
        .nest(
            "/api/inngest",
            inngest::serve::router(dev_client(), [hello()]),
        );
    let (addr, task) = spawn(app).await;
    let url = format!("http://{addr}/api/inngest?fnId=test-app-hello&stepId=step");
    let call = Call::new("t/hello", json!({}));
    let (status, body) = post_json(&url, &call.body()).await;
    assert_eq!(status, 206);
    assert_eq!(body[0]["id"], hash("greet"));
    let (status, body) = post_json(&url, &call.done("greet", json!("hi")).body()).await;
    assert_eq!((status, body), (200, json!({"greeting": "hi"})));
    let health = reqwest::get(format!("http://{addr}/health"))
        .await
        .expect("up");
    assert_eq!(health.text().await.expect("text"), "ok");
    let intro = reqwest::get(format!("http://{addr}/api/inngest"))
        .await
        .expect("up");
    assert!(intro.headers().contains_key("x-inngest-sdk"));
    task.abort();
}

#[tokio::test]
async fn the_endpoint_can_be_mounted_as_a_route_or_route_service_or_served_at_the_root() {
    let app = Router::new()
        .route(
            "/x/inngest",
            inngest::serve::method_router(dev_client(), [hello()]),
        )
        .route_service(
            "/y/inngest",
            inngest::serve::method_router(dev_client(), [hello()]),
        );
    let (addr, task) = spawn(app).await;
    for path in ["/x/inngest", "/y/inngest"] {
        let res = reqwest::get(format!("http://{addr}{path}"))
            .await
            .expect("up");
        assert_eq!(res.status(), 200);
        let body: Value = res.json().await.expect("json");
        assert_eq!(body["function_count"], 1);
    }
    task.abort();

    let (addr, task) = spawn(inngest::serve::router(dev_client(), [hello()])).await;
    let res = reqwest::get(format!("http://{addr}/")).await.expect("up");
    assert_eq!(res.status(), 200);
    task.abort();
}

#[tokio::test]
async fn oneshot_with_an_http_request_drives_a_call_in_process() {
    let router = inngest::serve::router(dev_client(), [hello()]);
    let body = serde_json::to_vec(&Call::new("t/hello", json!({})).body()).expect("json");
    let request = Request::builder()
        .method("POST")
        .uri("http://localhost/api/inngest?fnId=test-app-hello&stepId=step")
        .header("content-type", "application/json")
        .body(Body::from(body))
        .expect("request");
    let response = router.oneshot(request).await.expect("infallible");
    assert_eq!(response.status(), 206);
    assert!(response.headers().contains_key("x-inngest-sdk"));
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    let ops: Value = serde_json::from_slice(&bytes).expect("json");
    assert_eq!(ops[0]["op"], "StepRun");
}

#[tokio::test]
async fn concurrent_calls_do_not_interfere() {
    let router = inngest::serve::router(dev_client(), [hello()]);
    let (addr, task) = spawn(router).await;
    let url = format!("http://{addr}/?fnId=test-app-hello&stepId=step");
    let mut handles = Vec::new();
    for i in 0..16 {
        let url = url.clone();
        handles.push(tokio::spawn(async move {
            let call = if i % 2 == 0 {
                Call::new("t/hello", json!({}))
            } else {
                Call::new("t/hello", json!({})).done("greet", json!("hi"))
            };
            (i, post_json(&url, &call.body()).await)
        }));
    }
    for h in handles {
        let (i, (status, _)) = h.await.expect("task");
        assert_eq!(status, if i % 2 == 0 { 206 } else { 200 });
    }
    task.abort();
}
