//! The events client (digest §10) against a local fake of `/e/{key}`, and `use_api`
//! hydration (§11) against a local fake of `/v0/runs/...`.

use inngest::{Context, Event, Function, Inngest, SendError, Trigger};
use serde_json::{Value, json};

use crate::support::{Call, FakeInngest, KEY_A, KEY_B, call, hash, key};

fn client(url: &str, event_key: Option<&str>) -> Inngest {
    let mut b = Inngest::builder("test-app")
        .without_env()
        .dev()
        .base_url(url)
        .env("branch-9");
    if let Some(k) = event_key {
        b = b.event_key(k);
    }
    b.build().expect("valid")
}

#[tokio::test]
async fn send_posts_to_the_event_key_path_with_env_and_seed_and_returns_server_ids() {
    let fake =
        FakeInngest::start(|_, _| (200, json!({"ids": ["01A", "01B"], "status": 200}))).await;
    let c = client(&fake.url, Some("my-key"));
    let sent = c
        .send_many(&[
            Event::new("a/one", json!({"x": 1})).id("idem-1"),
            Event::new("a/two", Value::Null),
        ])
        .await
        .expect("sent");
    assert_eq!(sent.ids, ["01A", "01B"]);
    let reqs = fake.requests();
    assert_eq!(reqs.len(), 1);
    let r = &reqs[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.path_and_query, "/e/my-key");
    assert_eq!(r.header("x-inngest-env"), Some("branch-9"));
    assert!(r.header("x-inngest-sdk").is_some());
    let seed = r.header("x-inngest-event-id-seed").expect("seed");
    assert!(
        seed.split_once(',')
            .is_some_and(|(ms, _)| ms.parse::<i64>().is_ok())
    );
    assert_eq!(
        r.header("authorization"),
        None,
        "the event key in the path authenticates"
    );
    let events = r.body.as_array().expect("array");
    assert_eq!(events[0]["name"], "a/one");
    assert_eq!(events[0]["id"], "idem-1");
    assert!(events[0]["ts"].as_i64().is_some_and(|ts| ts > 0));
    assert_eq!(events[1]["data"], json!({}), "null data is sent as {{}}");
}

#[tokio::test]
async fn server_errors_are_retried_with_the_same_seed() {
    let fake = FakeInngest::start(|_, i| {
        if i < 2 {
            (500, json!({"error": "busy", "status": 500}))
        } else {
            (200, json!({"ids": ["01C"], "status": 200}))
        }
    })
    .await;
    let c = client(&fake.url, Some("k"));
    let sent = c
        .send(&Event::new("a/b", json!({})))
        .await
        .expect("sent after retries");
    assert_eq!(sent.ids, ["01C"]);
    let reqs = fake.requests();
    assert_eq!(reqs.len(), 3);
    let seeds: Vec<_> = reqs
        .iter()
        .map(|r| r.header("x-inngest-event-id-seed"))
        .collect();
    assert!(seeds.iter().all(|s| *s == seeds[0]), "{seeds:?}");
}

#[tokio::test]
async fn retries_are_bounded() {
    let fake = FakeInngest::start(|_, _| (503, json!({"error": "down"}))).await;
    let c = client(&fake.url, Some("k"));
    let err = c.send(&Event::new("a/b", json!({}))).await.unwrap_err();
    assert!(
        matches!(err, SendError::Rejected { status: 503, .. }),
        "{err}"
    );
    assert_eq!(fake.requests().len(), 5);
}

#[tokio::test]
async fn client_errors_are_not_retried_and_keep_the_server_message() {
    let fake = FakeInngest::start(|_, _| {
        (
            401,
            json!({"status": 401, "message": "", "error": "Event key not found"}),
        )
    })
    .await;
    let c = client(&fake.url, Some("wrong"));
    let err = c.send(&Event::new("a/b", json!({}))).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "the Inngest event API answered 401: Event key not found"
    );
    assert_eq!(fake.requests().len(), 1);
}

#[tokio::test]
async fn dev_mode_without_a_key_uses_the_placeholder_and_cloud_mode_refuses() {
    let fake = FakeInngest::start(|_, _| (200, json!({"ids": ["01D"], "status": 200}))).await;
    let c = client(&fake.url, None);
    c.send(&Event::new("a/b", json!({}))).await.expect("sent");
    assert_eq!(fake.requests()[0].path_and_query, "/e/NO_EVENT_KEY_SET");
    let cloud = Inngest::builder("test-app")
        .without_env()
        .signing_key(KEY_A)
        .base_url(&fake.url)
        .build()
        .expect("valid");
    let err = cloud.send(&Event::new("a/b", json!({}))).await.unwrap_err();
    assert!(matches!(err, SendError::MissingEventKey));
    assert_eq!(fake.requests().len(), 1, "nothing was sent");
}

#[tokio::test]
async fn an_unreachable_event_api_error_does_not_leak_the_event_key() {
    let c = client("http://127.0.0.1:9", Some("secret-event-key-123"));
    let err = c.send(&Event::new("a/b", json!({}))).await.unwrap_err();
    assert!(
        matches!(err, SendError::Request { attempts: 5, .. }),
        "{err}"
    );
    let text = format!("{err} {err:?}");
    assert!(!text.contains("secret-event-key-123"), "{text}");
}

#[tokio::test]
async fn a_send_event_step_sends_once_and_stores_the_ids() {
    let fake = FakeInngest::start(|_, _| (200, json!({"ids": ["01E"], "status": 200}))).await;
    let f = Function::builder("notify")
        .trigger(Trigger::event("t/notify"))
        .build(|ctx: Context| async move {
            let sent = ctx
                .step
                .send_event("notify-user", Event::new("t/notified", json!({"u": 1})))
                .await?;
            Ok(sent)
        })
        .expect("valid");
    let router = inngest::serve::router(client(&fake.url, Some("k")), [f]);
    let a = call(
        &router,
        "test-app-notify",
        "step",
        &Call::new("t/notify", json!({})),
    )
    .await;
    let op = a.single_op();
    assert_eq!(op["op"], "StepRun");
    assert_eq!(op["name"], "sendEvent");
    assert_eq!(op["opts"], json!({"type": "step.sendEvent"}));
    assert_eq!(op["data"], json!({"ids": ["01E"]}));
    assert_eq!(fake.requests()[0].body[0]["name"], "t/notified");
}

fn use_api_function() -> Function {
    Function::builder("big")
        .trigger(Trigger::event("t/big"))
        .build(|ctx: Context| async move {
            let a: u32 = ctx.step.run("a", || async { Ok(1) }).await?;
            let b: u32 = ctx.step.run("b", || async { Ok(2) }).await?;
            Ok(json!({"a": a, "b": b, "events": ctx.events.len(), "first": ctx.event.data}))
        })
        .expect("valid")
}

#[tokio::test]
async fn use_api_fetches_events_and_steps_with_the_bearer_and_fallback() {
    let fallback = format!(
        "Bearer {}",
        inngest::signature::hashed_signing_key(&key(KEY_B))
    );
    let expected = fallback.clone();
    let fake = FakeInngest::start(move |r, _| {
        if r.header("authorization") != Some(expected.as_str()) {
            return (401, json!({"error": "unauthorized", "status": 401}));
        }
        if r.path_and_query.ends_with("/batch") {
            (
                200,
                json!([{"name": "t/big", "data": {"n": 1}}, {"name": "t/big", "data": {"n": 2}}]),
            )
        } else {
            (
                200,
                json!({ hash("a"): {"data": 1}, hash("b"): {"data": 2} }),
            )
        }
    })
    .await;
    let client = Inngest::builder("test-app")
        .without_env()
        .dev()
        .signing_key(KEY_A)
        .signing_key_fallback(KEY_B)
        .base_url(&fake.url)
        .build()
        .expect("valid");
    let router = inngest::serve::router(client, [use_api_function()]);
    let mut c = Call::new("t/big", json!({})).use_api();
    c.events = Some(Vec::new());
    c.event = json!({});
    let a = call(&router, "test-app-big", "step", &c).await;
    assert_eq!(a.status, 200, "{:?}", a.body);
    assert_eq!(
        a.body,
        json!({"a": 1, "b": 2, "events": 2, "first": {"n": 1}})
    );
    let paths: Vec<String> = fake
        .requests()
        .iter()
        .map(|r| r.path_and_query.clone())
        .collect();
    assert!(
        paths.contains(&"/v0/runs/01RUNID/batch".to_owned()),
        "{paths:?}"
    );
    assert!(
        paths.contains(&"/v0/runs/01RUNID/actions".to_owned()),
        "{paths:?}"
    );
}

#[tokio::test]
async fn use_api_failures_answer_500() {
    let fake = FakeInngest::start(|_, _| {
        (
            410,
            json!({"error": "runtime state is no longer available for runID", "status": 410}),
        )
    })
    .await;
    let router = inngest::serve::router(client(&fake.url, None), [use_api_function()]);
    let a = call(
        &router,
        "test-app-big",
        "step",
        &Call::new("t/big", json!({})).use_api(),
    )
    .await;
    assert_eq!(a.status, 500);
    assert!(
        a.body["message"]
            .as_str()
            .is_some_and(|m| m.contains("runtime state is no longer available")),
        "{:?}",
        a.body
    );
}
