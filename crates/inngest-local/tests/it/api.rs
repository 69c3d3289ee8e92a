//! The HTTP API over real HTTP: dev-server routes, auth, event ids, and the run-history API.

use inngest_local::testing::step_hash;
use inngest_local::{RunFilter, RunStatus, SigningKey};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::{
    Mode, RUN_TIMEOUT, Sdk, engine, engine_with_app, event, run_to_end, wait_run,
};

fn register_payload(url: &str) -> Value {
    json!({
        "url": url,
        "deployType": "ping",
        "appName": "hand",
        "sdk": "hand:v0.0.0",
        "v": "0.1",
        "functions": [{
            "id": "hand-noop",
            "triggers": [{"event": "hand/never-sent"}],
            "steps": {"step": {"id": "step", "name": "step", "runtime": {"type": "http", "url": format!("{url}?fnId=hand-noop&stepId=step")}}},
        }],
    })
}

#[tokio::test]
async fn settings_the_engine_does_not_enforce_are_reported_per_function() {
    let engine = engine().start().await.unwrap();
    let mut payload = register_payload("http://127.0.0.1:9/api");
    payload["functions"][0]["debounce"] = json!({"period": "5s"});
    payload["functions"][0]["throttle"] = json!({"limit": 1, "period": "1m"});
    payload["functions"][0]["concurrency"] = json!([{"limit": 1}]);
    let resp = reqwest::Client::new()
        .post(format!("{}/fn/register", engine.url()))
        .json(&payload)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK, "the function still syncs");
    let functions = engine.functions();
    assert_eq!(functions.len(), 1);
    assert_eq!(
        functions[0]["ignored_settings"],
        json!(["debounce", "throttle"]),
        "concurrency is enforced, so it is not listed"
    );
}

#[tokio::test]
async fn register_validates_payloads_and_reports_modified() {
    let engine = engine().start().await.unwrap();
    let client = reqwest::Client::new();
    let url = format!("{}/fn/register", engine.url());

    let resp = client.post(&url).body("not json").send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(resp.headers()["x-inngest-server-kind"], "dev");
    assert!(
        resp.json::<Value>().await.unwrap()["error"]
            .as_str()
            .unwrap()
            .contains("not JSON")
    );

    let mut bad = register_payload("http://127.0.0.1:9/api");
    bad["functions"][0]["triggers"] = json!([{"cron": "whenever"}]);
    let resp = client.post(&url).json(&bad).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let body: Value = resp.json().await.unwrap();
    assert!(
        body["error"].as_str().unwrap().contains("hand-noop"),
        "{body}"
    );

    let resp = client
        .post(&url)
        .header("x-inngest-expected-server-kind", "cloud")
        .json(&register_payload("http://127.0.0.1:9/api"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        StatusCode::BAD_REQUEST,
        "server kind mismatch is refused"
    );

    let first: Value = client
        .post(&url)
        .json(&register_payload("http://127.0.0.1:9/api"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(first["ok"], true);
    assert_eq!(first["modified"], true);
    assert!(first["sync_id"].is_string() && first["app_id"].is_string());
    let again: Value = client
        .post(&url)
        .json(&register_payload("http://127.0.0.1:9/api"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        again["modified"], false,
        "an identical resync is not modified"
    );
    assert_eq!(again["app_id"], first["app_id"]);
    let functions: Value = client
        .get(format!("{}/local/functions", engine.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(functions["functions"][0]["id"], "hand-noop");
    engine.shutdown().await;
}

#[tokio::test]
async fn register_and_v0_require_the_signing_key_bearer_in_cloud_mode() {
    let key = SigningKey::new("signkey-test-12345678").unwrap();
    let engine = engine().signing_key(key.clone()).start().await.unwrap();
    let client = reqwest::Client::new();
    let url = format!("{}/fn/register", engine.url());
    let payload = register_payload("http://127.0.0.1:9/api");

    let resp = client.post(&url).json(&payload).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(resp.headers()["x-inngest-server-kind"], "cloud");
    let resp = client
        .post(&url)
        .bearer_auth("signkey-test-87654321")
        .json(&payload)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let resp = client
        .post(&url)
        .bearer_auth(key.hashed())
        .json(&payload)
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        StatusCode::OK,
        "the hashed key (what SDKs send) is accepted"
    );
    let resp = client
        .post(&url)
        .bearer_auth(key.expose())
        .json(&payload)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK, "the plain key is accepted");

    let run_id = ulid::Ulid::new().to_string();
    let v0 = format!("{}/v0/runs/{run_id}/actions", engine.url());
    assert_eq!(
        client.get(&v0).send().await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        client
            .get(&v0)
            .bearer_auth(key.hashed())
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::GONE
    );
    let bad = format!("{}/v0/runs/not-a-ulid/batch", engine.url());
    assert_eq!(
        client
            .get(&bad)
            .bearer_auth(key.hashed())
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        client
            .get(format!("{}/local/runs", engine.url()))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED,
        "the history API is protected too"
    );
    engine.shutdown().await;
}

#[tokio::test]
async fn events_api_validates_bodies_and_dedupes_seeded_retries() {
    let (engine, app) = engine_with_app(Sdk::Js, engine(), &Mode::Dev).await;
    let client = reqwest::Client::new();
    let url = format!("{}/e/any-key", engine.url());

    let resp = client.post(&url).body("{").send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["status"], 400);
    assert_eq!(body["ids"], json!([]));
    let resp = client
        .post(&url)
        .json(&json!({"data": {}}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);

    // A retried send with the same seed gets the same ids and starts no second run.
    let seed = "1743130137367,eii2YKXRVTJPuA==";
    let batch = json!([
        event("test/serial", json!({"start": 1})),
        event("test/serial", json!({"start": 2}))
    ]);
    let send = || {
        client
            .post(&url)
            .header("x-inngest-event-id-seed", seed)
            .json(&batch)
            .send()
    };
    let first: Value = send().await.unwrap().json().await.unwrap();
    let second: Value = send().await.unwrap().json().await.unwrap();
    assert_eq!(first["ids"], second["ids"]);
    let ids: Vec<String> = first["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 2);
    assert_ne!(ids[0], ids[1]);
    assert_eq!(
        ulid::Ulid::from_string(&ids[0]).unwrap().timestamp_ms(),
        1743130137367
    );
    for id in &ids {
        wait_run(&engine, &app.function_id("serial"), id).await;
    }
    assert_eq!(
        engine
            .runs(&RunFilter::function(app.function_id("serial")))
            .len(),
        2
    );

    // Events with the same user id are deduplicated (Inngest's 24 h event idempotency).
    let dup = json!({"name": "test/serial", "id": "order-1", "data": {"start": 3}});
    let a: Value = client
        .post(&url)
        .json(&dup)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let b: Value = client
        .post(&url)
        .json(&dup)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let run = wait_run(
        &engine,
        &app.function_id("serial"),
        a["ids"][0].as_str().unwrap(),
    )
    .await;
    assert_eq!(run.event()["id"], "order-1");
    assert!(
        engine
            .runs(&RunFilter::event(b["ids"][0].as_str().unwrap()))
            .is_empty()
    );
    engine.shutdown().await;
}

#[tokio::test]
async fn history_api_lists_shows_reruns_and_cancels_runs() {
    let (engine, app) = engine_with_app(Sdk::Js, engine(), &Mode::Dev).await;
    let client = reqwest::Client::new();
    let base = engine.url();
    let run = run_to_end(
        &engine,
        &app.function_id("replayable"),
        event("test/replay", json!({})),
    )
    .await;

    let list: Value = client
        .get(format!(
            "{base}/local/runs?function_id={}&status=completed",
            app.function_id("replayable")
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["runs"].as_array().unwrap().len(), 1);
    assert_eq!(list["runs"][0]["id"], run.id.as_str());
    let bad = client
        .get(format!("{base}/local/runs?status=bogus"))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);

    let shown: Value = client
        .get(format!("{base}/local/runs/{}", run.id))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(shown["status"], "Completed");
    assert_eq!(shown["calls"].as_array().unwrap().len(), run.calls.len());
    assert_eq!(shown["steps"][0]["attempts"][0]["outcome"], "ok");
    assert_eq!(shown["output"], json!(["s1-run1", "s2-run1", "s3-run1"]));

    // The SDK-facing state routes serve the same run.
    let batch: Value = client
        .get(format!("{base}/v0/runs/{}/batch", run.id))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(batch[0]["name"], "test/replay");
    let actions: Value = client
        .get(format!("{base}/v0/runs/{}/actions", run.id))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(actions[step_hash("s1", 0)], json!({"data": "s1-run1"}));

    let rerun: Value = client
        .post(format!("{base}/local/runs/{}/rerun", run.id))
        .json(&json!({"from_step": "s3"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let new_id = rerun["run_id"].as_str().unwrap();
    let replay = engine.wait_for_run(new_id, RUN_TIMEOUT).await.unwrap();
    assert_eq!(
        replay.output,
        Some(json!(["s1-run1", "s2-run1", "s3-run2"]))
    );

    let resp = client
        .post(format!("{base}/local/runs/{}/cancel", run.id))
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        StatusCode::CONFLICT,
        "a finished run cannot be cancelled"
    );
    let resp = client
        .post(format!(
            "{base}/local/runs/01J00000000000000000000000/cancel"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);

    let invoked: Value = client
        .post(format!(
            "{base}/local/functions/{}/invoke",
            app.function_id("cancellable")
        ))
        .json(&json!({"data": {"id": 99}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let sleeping = invoked["run_ids"][0].as_str().unwrap().to_owned();
    crate::harness::wait_parked(&engine, &sleeping, "long-nap").await;
    let resp = client
        .post(format!("{base}/local/runs/{sleeping}/cancel"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(engine.run(&sleeping).unwrap().status, RunStatus::Cancelled);

    let events: Value = client
        .get(format!("{base}/local/events?name=test/replay"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(events["events"][0]["run_ids"][0], run.id.as_str());
    let dev: Value = client
        .get(format!("{base}/dev"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        dev["functions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["id"] == "js-app-serial")
    );
    engine.shutdown().await;
}
