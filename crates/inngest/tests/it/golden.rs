//! Golden fixtures of this SDK's wire format: the sync payload, in-band sync and
//! introspection bodies, the 206 op arrays, and error bodies with their headers.
//!
//! The fixtures live in `tests/fixtures/golden/`. Volatile values are normalised first:
//! `timing` values, signatures and the crate version. After an intended change of the wire
//! format, regenerate them with `INNGEST_UPDATE_GOLDEN=1 cargo test -p inngest-sdk --test it
//! golden` and review the diff.

use std::path::PathBuf;
use std::time::Duration;

use axum::body::Body;
use http::Request;
use inngest::{
    Context, Error, Event, Function, Inngest, Invoke, NonRetriableError, RetryAfterError, Trigger,
    WaitForEvent,
};
use serde_json::{Map, Value, json};

use crate::support::{Answer, Call, FakeInngest, KEY_A, KEY_B, call, key, send, unix_now};

fn fixture_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/golden")
        .join(format!("{name}.json"))
}

/// Replaces volatile values: timings, signatures, the crate version.
fn normalise(value: Value) -> Value {
    let version = inngest::client::SDK_VERSION;
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    let v = match k.as_str() {
                        "timing" => json!({"a": "<ns>", "b": "<ns>"}),
                        "x-inngest-signature" => json!("<signature>"),
                        "sdk_version" => json!("<version>"),
                        _ => normalise(v),
                    };
                    (k, v)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(normalise).collect()),
        Value::String(s) => Value::String(s.replace(&format!("v{version}"), "v<version>")),
        other => other,
    }
}

fn answer_json(a: &Answer) -> Value {
    let mut headers = Map::new();
    let mut names: Vec<&str> = a.headers.keys().map(|k| k.as_str()).collect();
    names.sort_unstable();
    for name in names {
        if name == "content-length" || name == "date" {
            continue;
        }
        headers.insert(name.to_owned(), json!(a.header(name).unwrap_or_default()));
    }
    json!({ "status": a.status, "headers": headers, "body": a.body })
}

/// Compares `actual` with the fixture `name` (or rewrites it with `INNGEST_UPDATE_GOLDEN=1`).
fn check(name: &str, actual: Value) {
    let actual = normalise(actual);
    let path = fixture_path(name);
    if std::env::var_os("INNGEST_UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(path.parent().expect("has a parent")).expect("mkdir");
        let text = serde_json::to_string_pretty(&actual).expect("json") + "\n";
        std::fs::write(&path, text).expect("write fixture");
        return;
    }
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "missing golden fixture {}: {e}; generate it with INNGEST_UPDATE_GOLDEN=1",
            path.display()
        )
    });
    let expected: Value = serde_json::from_str(&text).expect("fixture is JSON");
    assert_eq!(
        actual,
        expected,
        "{name} differs from {}; if the change is intended, regenerate with INNGEST_UPDATE_GOLDEN=1",
        path.display()
    );
}

fn catalogue() -> Vec<Function> {
    let on = |id: &str| Function::builder(id).trigger(Trigger::event(format!("g/{id}")));
    vec![
        on("run")
            .build(|ctx: Context| async move {
                let v: Value = ctx
                    .step
                    .run("first-step", || async { Ok(json!({"ok": true})) })
                    .await?;
                Ok(v)
            })
            .expect("valid"),
        on("parallel")
            .build(|ctx: Context| async move {
                let (a, b, ()) = futures::try_join!(
                    ctx.step.run("a", || async { Ok(1) }),
                    ctx.step.run("a", || async { Ok(2) }),
                    ctx.step.sleep("nap", Duration::from_secs(90)),
                )?;
                Ok(a + b)
            })
            .expect("valid"),
        on("waits")
            .build(|ctx: Context| async move {
                let e: Option<Event> = ctx
                    .step
                    .wait_for_event(
                        "approval",
                        WaitForEvent::new("g/approved", Duration::from_secs(86_400))
                            .matching("data.id"),
                    )
                    .await?;
                let child: Value = ctx
                    .step
                    .invoke(
                        "child",
                        Invoke::app("other-app", "child", json!({"e": e.is_some()})),
                    )
                    .await?;
                let sent = ctx
                    .step
                    .send_event("announce", Event::new("g/done", json!({})))
                    .await?;
                Ok(json!({"child": child, "sent": sent.ids}))
            })
            .expect("valid"),
        on("step-errors")
            .build(|ctx: Context| async move {
                let kind = ctx.event.data["kind"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                ctx.step
                    .run("work", move || async move {
                        match kind.as_str() {
                            "non-retriable" => {
                                Err::<(), Error>(NonRetriableError::new("bad input").into())
                            }
                            "retry-after" => Err(RetryAfterError::new(
                                "slow down",
                                Duration::from_millis(1500),
                            )
                            .into()),
                            _ => Err(Error::new("upstream 503")
                                .with_source(std::io::Error::other("connection reset"))),
                        }
                    })
                    .await?;
                Ok(())
            })
            .expect("valid"),
        on("fn-errors")
            .build(|ctx: Context| async move {
                match ctx.event.data["kind"].as_str() {
                    Some("non-retriable") => Err(NonRetriableError::new("fatal").into()),
                    Some("retry-after") => {
                        Err(RetryAfterError::new("later", Duration::from_secs(60)).into())
                    }
                    _ => Err::<(), Error>("plain failure".into()),
                }
            })
            .expect("valid"),
    ]
}

fn router() -> axum::Router {
    inngest::serve::router(crate::support::dev_client(), catalogue())
}

fn g(id: &str, data: Value) -> Call {
    Call::new(&format!("g/{id}"), data)
}

#[tokio::test]
async fn golden_op_arrays() {
    let r = router();
    check(
        "op_step_run",
        answer_json(&call(&r, "test-app-run", "step", &g("run", json!({}))).await),
    );
    check(
        "op_parallel_planned_with_sleep",
        answer_json(&call(&r, "test-app-parallel", "step", &g("parallel", json!({}))).await),
    );
    let c = g("waits", json!({}));
    check(
        "op_wait_for_event",
        answer_json(&call(&r, "test-app-waits", "step", &c).await),
    );
    let c = c.memo("approval", Value::Null);
    check(
        "op_invoke",
        answer_json(&call(&r, "test-app-waits", "step", &c).await),
    );
    let c = c.done("child", json!(1));
    check(
        "op_send_event_planned",
        answer_json(&call(&r, "test-app-waits", "step", &c.clone().disable_immediate()).await),
    );
    check(
        "op_step_error",
        answer_json(
            &call(
                &r,
                "test-app-step-errors",
                "step",
                &g("step-errors", json!({"kind": "plain"})),
            )
            .await,
        ),
    );
    check(
        "op_step_failed_last_attempt",
        answer_json(
            &call(
                &r,
                "test-app-step-errors",
                "step",
                &g("step-errors", json!({"kind": "plain"})).attempt(3, 4),
            )
            .await,
        ),
    );
    check(
        "op_step_failed_non_retriable",
        answer_json(
            &call(
                &r,
                "test-app-step-errors",
                "step",
                &g("step-errors", json!({"kind": "non-retriable"})),
            )
            .await,
        ),
    );
    check(
        "op_step_error_retry_after",
        answer_json(
            &call(
                &r,
                "test-app-step-errors",
                "step",
                &g("step-errors", json!({"kind": "retry-after"})),
            )
            .await,
        ),
    );
}

#[tokio::test]
async fn golden_error_answers() {
    let r = router();
    check(
        "error_function_retriable",
        answer_json(&call(&r, "test-app-fn-errors", "step", &g("fn-errors", json!({}))).await),
    );
    check(
        "error_function_last_attempt",
        answer_json(
            &call(
                &r,
                "test-app-fn-errors",
                "step",
                &g("fn-errors", json!({})).attempt(4, 5),
            )
            .await,
        ),
    );
    check(
        "error_function_non_retriable",
        answer_json(
            &call(
                &r,
                "test-app-fn-errors",
                "step",
                &g("fn-errors", json!({"kind": "non-retriable"})),
            )
            .await,
        ),
    );
    check(
        "error_function_retry_after",
        answer_json(
            &call(
                &r,
                "test-app-fn-errors",
                "step",
                &g("fn-errors", json!({"kind": "retry-after"})),
            )
            .await,
        ),
    );
    let uncaught = g("step-errors", json!({})).failed("work", "Error", "upstream 503");
    check(
        "error_uncaught_step_error",
        answer_json(&call(&r, "test-app-step-errors", "step", &uncaught).await),
    );
    check(
        "error_step_not_found",
        answer_json(&call(&r, "test-app-run", &"f".repeat(40), &g("run", json!({}))).await),
    );
    check(
        "error_unknown_function",
        answer_json(&call(&r, "test-app-nope", "step", &g("run", json!({}))).await),
    );
    let cloud = inngest::serve::router(crate::support::cloud_client(), catalogue());
    let req = Request::builder()
        .method("GET")
        .uri("/")
        .body(Body::empty())
        .expect("request");
    check("error_unauthorized", answer_json(&send(&cloud, req).await));
}

#[tokio::test]
async fn golden_introspection_and_in_band_sync() {
    let dev = router();
    let req = Request::builder()
        .method("GET")
        .uri("/")
        .body(Body::empty())
        .expect("request");
    check("introspection_dev", answer_json(&send(&dev, req).await));

    let client = Inngest::builder("test-app")
        .without_env()
        .signing_key(KEY_A)
        .signing_key_fallback(KEY_B)
        .event_key("event-key")
        .base_url("http://127.0.0.1:9")
        .build()
        .expect("valid");
    let cloud = inngest::serve::router(client, catalogue());
    let sig = inngest::signature::sign_header(b"", &key(KEY_A), unix_now());
    let req = Request::builder()
        .method("GET")
        .uri("/")
        .header("x-inngest-signature", sig)
        .body(Body::empty())
        .expect("request");
    check(
        "introspection_cloud_authenticated",
        answer_json(&send(&cloud, req).await),
    );

    let body = br#"{"url":"https://app.example.com/api/inngest"}"#;
    let sig = inngest::signature::sign_header(body, &key(KEY_A), unix_now());
    let req = Request::builder()
        .method("PUT")
        .uri("/api/inngest")
        .header("x-inngest-signature", sig)
        .header("x-inngest-sync-kind", "in_band")
        .header("x-inngest-server-kind", "cloud")
        .body(Body::from(&body[..]))
        .expect("request");
    check("in_band_sync", answer_json(&send(&cloud, req).await));
}

#[tokio::test]
async fn golden_register_payload() {
    let fake = FakeInngest::start(|_, _| (200, json!({"ok": true, "modified": true}))).await;
    let client = Inngest::builder("test-app")
        .without_env()
        .signing_key(KEY_A)
        .base_url(&fake.url)
        .app_version("2026.11.1")
        .build()
        .expect("valid");
    let mut functions = catalogue();
    functions.push(
        Function::builder("configured")
            .name("Fully configured")
            .trigger(Trigger::event("g/configured").expression("event.data.amount > 0"))
            .trigger(Trigger::cron("TZ=Europe/London 0 9 * * MON"))
            .retries(3)
            .concurrency(inngest::function::Concurrency::new(2).key("event.data.user_id"))
            .throttle(inngest::function::Throttle::new(
                10,
                Duration::from_secs(60),
            ))
            .idempotency("event.data.submission_id")
            .cancel_on(
                inngest::function::Cancel::on("g/cancelled")
                    .if_expr("event.data.id == async.data.id"),
            )
            .on_failure(|_ctx: Context<inngest::FunctionFailed>| async move { Ok(()) })
            .build(|_ctx: Context| async move { Ok(()) })
            .expect("valid"),
    );
    let router = inngest::serve::router(client, functions);
    let req = Request::builder()
        .method("PUT")
        .uri("/api/inngest?deployId=dep-42")
        .header("host", "app.example.com")
        .header("x-forwarded-proto", "https")
        .header("x-inngest-server-kind", "cloud")
        .body(Body::empty())
        .expect("request");
    let a = send(&router, req).await;
    assert_eq!(a.status, 200);
    let reqs = fake.requests();
    assert_eq!(reqs.len(), 1);
    let r = &reqs[0];
    let mut headers = Map::new();
    for name in [
        "authorization",
        "content-type",
        "user-agent",
        "x-inngest-env",
        "x-inngest-expected-server-kind",
        "x-inngest-framework",
        "x-inngest-sdk",
        "x-inngest-sync-kind",
    ] {
        if let Some(v) = r.header(name) {
            headers.insert(name.to_owned(), json!(v));
        }
    }
    check(
        "register_request",
        json!({
            "method": r.method,
            "path": r.path_and_query,
            "headers": headers,
            "body": r.body,
        }),
    );
}
