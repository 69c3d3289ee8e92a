//! End-to-end: the official JS SDK app over real HTTP on 127.0.0.1, engine time compressed
//! 1000x. Assertions are on order, attempts and recorded (engine-time) delays, never on wall time.

use chrono::Duration;
use inngest_local::testing::step_hash;
use inngest_local::{RunFilter, RunStatus};
use serde_json::json;

use crate::harness::{
    JsApp, Mode, RUN_TIMEOUT, SdkApp, engine, engine_with_js_app, event, run_of, run_to_end, send,
    wait_parked, wait_run,
};

#[tokio::test]
async fn serial_steps_run_in_order_and_memoise() {
    let (engine, app) = engine_with_js_app(engine(), &Mode::Dev).await;
    let run = run_to_end(
        &engine,
        &app.function_id("serial"),
        event("test/serial", json!({"start": 1})),
    )
    .await;
    assert_eq!(run.status, RunStatus::Completed);
    assert_eq!(run.output, Some(json!({"a": 2, "b": 4, "c": "4!"})));
    let names: Vec<&str> = run.steps.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["a", "b", "c"]);
    assert_eq!(
        run.stack,
        [step_hash("a", 0), step_hash("b", 0), step_hash("c", 0)]
    );
    // Discovery runs each step immediately: one call per step, then the final 200.
    assert_eq!(run.calls.len(), 4);
    assert!(
        run.calls
            .iter()
            .all(|c| c.step_id == "step" && !c.disable_immediate_execution)
    );
    assert_eq!(run.calls[3].outcome, "complete");
    assert_eq!(
        run.request_version, 2,
        "the JS SDK answers with request version 2"
    );
    engine.shutdown().await;
}

#[tokio::test]
async fn transient_step_errors_are_retried_with_inngest_backoff_then_succeed() {
    let (engine, app) = engine_with_js_app(engine(), &Mode::Dev).await;
    let run = run_to_end(
        &engine,
        &app.function_id("flaky"),
        event("test/flaky", json!({})),
    )
    .await;
    assert_eq!(run.status, RunStatus::Completed);
    assert_eq!(run.output, Some(json!({"succeededOnAttempt": 2})));

    let step = run.step("flaky-step").unwrap();
    let outcomes: Vec<(u32, &str)> = step
        .attempts
        .iter()
        .map(|a| (a.attempt, a.outcome.as_str()))
        .collect();
    assert_eq!(outcomes, [(0, "error"), (1, "error"), (2, "ok")]);
    assert_eq!(
        step.attempts[0].error.as_ref().unwrap()["message"],
        "transient failure on attempt 0"
    );
    // Inngest's table: 15 s then 30 s, each plus up to 30 s of jitter.
    let d0 = step.attempts[0].retry_in_ms.unwrap();
    let d1 = step.attempts[1].retry_in_ms.unwrap();
    assert!((15_000..=45_000).contains(&d0), "first backoff {d0} ms");
    assert!((30_000..=60_000).contains(&d1), "second backoff {d1} ms");
    // Each retry was sent no earlier than its recorded delay (engine time), with ctx.attempt + 1.
    let calls = &run.calls;
    assert_eq!(
        calls.iter().map(|c| c.attempt).collect::<Vec<_>>(),
        [0, 1, 2, 0]
    );
    assert!(calls[1].started_at - calls[0].ended_at >= Duration::milliseconds(d0));
    assert!(calls[2].started_at - calls[1].ended_at >= Duration::milliseconds(d1));
    engine.shutdown().await;
}

#[tokio::test]
async fn non_retriable_error_fails_after_one_attempt() {
    let (engine, app) = engine_with_js_app(engine(), &Mode::Dev).await;
    let run = run_to_end(
        &engine,
        &app.function_id("non-retriable"),
        event("test/non-retriable", json!({})),
    )
    .await;
    assert_eq!(run.status, RunStatus::Failed);
    assert_eq!(run.error.as_ref().unwrap()["name"], "NonRetriableError");
    assert_eq!(run.error.as_ref().unwrap()["message"], "card declined");
    let step = run.step("charge").unwrap();
    assert_eq!(step.attempts.len(), 1);
    assert_eq!(step.attempts[0].outcome, "failed");
    assert_eq!(step.status, "failed");
    // The step's failure is memoised as {error}, then the uncaught error fails the function.
    assert!(run.memo[&step.id].get("error").is_some());
    assert_eq!(run.calls.len(), 2);
    assert_eq!(run.calls[1].status, Some(400));
    assert!(run.calls.iter().all(|c| c.retry_in_ms.is_none()));
    engine.shutdown().await;
}

#[tokio::test]
async fn retry_after_error_delays_the_retry_by_its_value() {
    let (engine, app) = engine_with_js_app(engine(), &Mode::Dev).await;
    let run = run_to_end(
        &engine,
        &app.function_id("retry-after"),
        event("test/retry-after", json!({})),
    )
    .await;
    assert_eq!(run.status, RunStatus::Completed);
    assert_eq!(run.output, Some(json!("ok")));
    let step = run.step("throttled").unwrap();
    assert_eq!(
        step.attempts[0].error.as_ref().unwrap()["name"],
        "RetryAfterError"
    );
    // RetryAfterError("...", 90_000) -> Retry-After: 90, replacing the backoff table.
    assert_eq!(step.attempts[0].retry_in_ms, Some(90_000));
    assert!(run.calls[1].started_at - run.calls[0].ended_at >= Duration::seconds(90));
    engine.shutdown().await;
}

#[tokio::test]
async fn exhausted_retries_fail_the_run_and_fire_on_failure_with_the_error() {
    let (engine, app) = engine_with_js_app(engine(), &Mode::Dev).await;
    let ids = send(&engine, "k", event("test/always-fails", json!({}))).await;
    let run = wait_run(&engine, &app.function_id("always-fails"), &ids[0]).await;
    assert_eq!(run.status, RunStatus::Failed);
    // retries: 2 -> 3 attempts at function level, the last one final.
    assert_eq!(
        run.calls.iter().map(|c| c.attempt).collect::<Vec<_>>(),
        [0, 1, 2]
    );
    assert_eq!(
        run.calls.iter().map(|c| c.status).collect::<Vec<_>>(),
        [Some(500), Some(500), Some(400)]
    );
    assert!(run.calls[0].retry_in_ms.is_some() && run.calls[1].retry_in_ms.is_some());
    assert_eq!(
        run.error.as_ref().unwrap()["message"],
        "still broken (attempt 2)"
    );

    let failure = engine
        .wait_for(
            &RunFilter::function(app.function_id("always-fails-failure")),
            RUN_TIMEOUT,
        )
        .await
        .unwrap();
    assert_eq!(failure.status, RunStatus::Completed);
    assert_eq!(failure.event_name, "inngest/function.failed");
    assert_eq!(
        failure.output,
        Some(json!({
            "failedFunction": "js-app-always-fails",
            "message": "still broken (attempt 2)",
            "originalEvent": "test/always-fails",
        }))
    );
    // The failure handler's own finish does not emit another function.failed/finished chain.
    let finished = engine.events(Some("inngest/function.finished"), 10);
    assert!(
        finished
            .iter()
            .any(|e| e.event["data"]["run_id"] == run.id.as_str())
    );
    assert!(
        !finished
            .iter()
            .any(|e| e.event["data"]["run_id"] == failure.id.as_str())
    );
    engine.shutdown().await;
}

#[tokio::test]
async fn parallel_steps_are_planned_run_concurrently_and_joined_by_one_discovery() {
    let (engine, app) = engine_with_js_app(engine(), &Mode::Dev).await;
    let run = run_to_end(
        &engine,
        &app.function_id("parallel"),
        event("test/parallel", json!({})),
    )
    .await;
    assert_eq!(run.status, RunStatus::Completed);
    assert_eq!(run.output, Some(json!(6)));
    let first = &run.calls[0];
    assert_eq!(first.ops.len(), 3);
    assert!(first.ops.iter().all(|o| o.starts_with("StepPlanned:")));
    // Each planned step gets its own targeted call with disable_immediate_execution.
    let targeted: Vec<_> = run.calls[1..4].iter().collect();
    let mut targets: Vec<String> = targeted.iter().map(|c| c.step_id.clone()).collect();
    targets.sort();
    let mut expected = vec![step_hash("p1", 0), step_hash("p2", 0), step_hash("p3", 0)];
    expected.sort();
    assert_eq!(targets, expected);
    assert!(targeted.iter().all(|c| c.disable_immediate_execution));
    // Then exactly one discovery call after the group, with immediate execution back on (v2).
    let after: Vec<_> = run.calls[4..].iter().collect();
    assert_eq!(
        after.iter().filter(|c| c.step_id == "step").count(),
        after.len()
    );
    assert!(!after[0].disable_immediate_execution);
    assert_eq!(after[0].ops, [format!("StepRun:{}", step_hash("sum", 0))]);
    assert_eq!(run.calls.len(), 6);
    engine.shutdown().await;
}

#[tokio::test]
async fn sleep_parks_the_run_until_the_engine_clock_passes_it() {
    let (engine, app) = engine_with_js_app(engine(), &Mode::Dev).await;
    let run = run_to_end(
        &engine,
        &app.function_id("sleeper"),
        event("test/sleep", json!({})),
    )
    .await;
    assert_eq!(run.status, RunStatus::Completed);
    assert_eq!(run.output, Some(json!("awake")));
    let nap = run.step("nap").unwrap();
    assert_eq!(nap.op, "Sleep");
    let until = nap.until.unwrap();
    assert_eq!((until - nap.first_seen_at).num_minutes(), 10);
    assert_eq!(
        run.memo[&nap.id],
        serde_json::Value::Null,
        "sleeps memoise raw null"
    );
    let after = run
        .calls
        .iter()
        .find(|c| c.ops.iter().any(|o| o.contains(&step_hash("after-nap", 0))))
        .unwrap();
    assert!(after.started_at >= until);
    engine.shutdown().await;
}

#[tokio::test]
async fn wait_for_event_resumes_only_on_a_matching_event() {
    let (engine, app) = engine_with_js_app(engine(), &Mode::Dev).await;
    let fid = app.function_id("waiter");
    let ids = send(&engine, "k", event("test/wait", json!({"id": 7}))).await;
    let run = run_of(&engine, &fid, &ids[0]).await;
    wait_parked(&engine, &run.id, "wait-approval").await;
    // Different id: the `if` expression (async.data.id == event.data.id) does not match.
    send(&engine, "k", event("test/approved", json!({"id": 8}))).await;
    send(
        &engine,
        "k",
        event("test/approved", json!({"id": 7, "by": "ops"})),
    )
    .await;
    let done = engine.wait_for_run(&run.id, RUN_TIMEOUT).await.unwrap();
    assert_eq!(done.status, RunStatus::Completed);
    assert_eq!(
        done.output,
        Some(json!({"approved": {"id": 7, "by": "ops"}}))
    );
    let wait = done.step("wait-approval").unwrap();
    assert_eq!(wait.op, "WaitForEvent");
    assert_eq!(
        done.memo[&wait.id]["name"], "test/approved",
        "waits memoise the raw event"
    );
    engine.shutdown().await;
}

#[tokio::test]
async fn wait_for_event_times_out_with_null() {
    let (engine, app) = engine_with_js_app(engine(), &Mode::Dev).await;
    let run = run_to_end(
        &engine,
        &app.function_id("waiter"),
        event("test/wait", json!({"id": 1, "timeout": "10m"})),
    )
    .await;
    assert_eq!(run.status, RunStatus::Completed);
    assert_eq!(run.output, Some(json!({"approved": null})));
    let wait = run.step("wait-approval").unwrap();
    assert_eq!((wait.until.unwrap() - wait.first_seen_at).num_minutes(), 10);
    assert!(
        wait.ended_at >= wait.until,
        "resolved by the timeout, not before it"
    );
    engine.shutdown().await;
}

#[tokio::test]
async fn invoke_passes_data_to_the_child_and_returns_its_result() {
    let (engine, app) = engine_with_js_app(engine(), &Mode::Dev).await;
    let run = run_to_end(
        &engine,
        &app.function_id("invoker"),
        event("test/invoke", json!({"n": 4})),
    )
    .await;
    assert_eq!(run.status, RunStatus::Completed);
    assert_eq!(run.output, Some(json!({"result": {"doubled": 8}})));
    let child = engine
        .runs(&RunFilter::function(app.function_id("child")))
        .pop()
        .unwrap();
    assert_eq!(child.event_name, "inngest/function.invoked");
    assert_eq!(child.event()["data"]["n"], 4);
    assert_eq!(child.invoked_by.as_ref().unwrap().run_id, run.id);
    let step = run.step("call-child").unwrap();
    assert_eq!(step.op, "InvokeFunction");
    assert_eq!(run.memo[&step.id], json!({"data": {"doubled": 8}}));
    engine.shutdown().await;
}

#[tokio::test]
async fn invoke_surfaces_the_child_error_to_the_parent() {
    let (engine, app) = engine_with_js_app(engine(), &Mode::Dev).await;
    let run = run_to_end(
        &engine,
        &app.function_id("invoker"),
        event("test/invoke", json!({"n": -1})),
    )
    .await;
    assert_eq!(
        run.status,
        RunStatus::Completed,
        "the parent catches the invoke error"
    );
    assert_eq!(
        run.output,
        Some(json!({"caught": "negative input -1", "name": "NonRetriableError"}))
    );
    let step = run.step("call-child").unwrap();
    assert_eq!(run.memo[&step.id]["error"]["message"], "negative input -1");
    let child = engine
        .runs(&RunFilter::function(app.function_id("child")))
        .pop()
        .unwrap();
    assert_eq!(child.status, RunStatus::Failed);
    engine.shutdown().await;
}

#[tokio::test]
async fn concurrency_key_serialises_runs_with_the_same_key_only() {
    let (engine, app) = engine_with_js_app(engine(), &Mode::Dev).await;
    let fid = app.function_id("serialised");
    // a1 blocks until b1 has started: if runs with different keys were serialised behind it,
    // a1 would give up and fail.
    let ids = send(
        &engine,
        "k",
        json!([
            {"name": "test/concurrency", "data": {"key": "A", "id": "a1", "wait_for": "b1"}},
            {"name": "test/concurrency", "data": {"key": "A", "id": "a2"}},
            {"name": "test/concurrency", "data": {"key": "B", "id": "b1"}},
        ]),
    )
    .await;
    let a1 = wait_run(&engine, &fid, &ids[0]).await;
    let a2 = wait_run(&engine, &fid, &ids[1]).await;
    let b1 = wait_run(&engine, &fid, &ids[2]).await;
    for r in [&a1, &a2, &b1] {
        assert_eq!(r.status, RunStatus::Completed, "{:?}", r.error);
    }
    assert_eq!(a1.output, Some(json!("a1")));
    // The two key-A runs never had a call in flight at the same time.
    for c1 in &a1.calls {
        for c2 in &a2.calls {
            assert!(
                c1.ended_at <= c2.started_at || c2.ended_at <= c1.started_at,
                "key A calls overlapped: {c1:?} {c2:?}"
            );
        }
    }
    engine.shutdown().await;
}

#[tokio::test]
async fn cancel_on_event_cancels_only_the_matching_run() {
    let (engine, app) = engine_with_js_app(engine(), &Mode::Dev).await;
    let fid = app.function_id("cancellable");
    let ids = send(
        &engine,
        "k",
        json!([
            {"name": "test/cancellable", "data": {"id": 1}},
            {"name": "test/cancellable", "data": {"id": 2}},
        ]),
    )
    .await;
    let one = run_of(&engine, &fid, &ids[0]).await;
    let two = run_of(&engine, &fid, &ids[1]).await;
    wait_parked(&engine, &one.id, "long-nap").await;
    wait_parked(&engine, &two.id, "long-nap").await;
    send(&engine, "k", event("test/cancel", json!({"id": 1}))).await;
    let one = engine.wait_for_run(&one.id, RUN_TIMEOUT).await.unwrap();
    assert_eq!(one.status, RunStatus::Cancelled);
    assert_eq!(one.step("long-nap").unwrap().status, "cancelled");
    assert!(one.step("after-cancel").is_none());
    assert_eq!(engine.run(&two.id).unwrap().status, RunStatus::Running);
    let cancelled = engine.events(Some("inngest/function.cancelled"), 10);
    assert_eq!(cancelled.len(), 1);
    assert_eq!(cancelled[0].event["data"]["run_id"], one.id.as_str());
    engine.cancel(&two.id).unwrap();
    assert_eq!(
        engine
            .wait_for_run(&two.id, RUN_TIMEOUT)
            .await
            .unwrap()
            .status,
        RunStatus::Cancelled
    );
    engine.shutdown().await;
}

#[tokio::test]
async fn replay_from_a_step_keeps_earlier_memo_and_reruns_the_rest() {
    let (engine, app) = engine_with_js_app(engine(), &Mode::Dev).await;
    let original = run_to_end(
        &engine,
        &app.function_id("replayable"),
        event("test/replay", json!({})),
    )
    .await;
    assert_eq!(
        original.output,
        Some(json!(["s1-run1", "s2-run1", "s3-run1"]))
    );

    let from_s2 = engine.rerun(&original.id, Some("s2")).unwrap();
    let replay = engine.wait_for_run(&from_s2, RUN_TIMEOUT).await.unwrap();
    assert_eq!(replay.status, RunStatus::Completed);
    // s1 came from the original's memo (not executed again); s2 and s3 ran again.
    assert_eq!(
        replay.output,
        Some(json!(["s1-run1", "s2-run2", "s3-run2"]))
    );
    assert!(replay.step("s1").unwrap().memo_from_outside);
    assert!(replay.step("s1").unwrap().attempts.is_empty());
    let replay_of = replay.replay_of.as_ref().unwrap();
    assert_eq!(replay_of.run_id, original.id);
    assert_eq!(
        replay_of.from_step.as_deref(),
        Some(step_hash("s2", 0).as_str())
    );
    assert_eq!(replay.events, original.events);

    let from_start = engine.rerun(&original.id, None).unwrap();
    let full = engine.wait_for_run(&from_start, RUN_TIMEOUT).await.unwrap();
    assert_eq!(full.output, Some(json!(["s1-run2", "s2-run3", "s3-run3"])));
    assert!(engine.rerun(&original.id, Some("no-such-step")).is_err());
    engine.shutdown().await;
}

#[tokio::test]
async fn cloud_mode_app_runs_with_signed_requests() {
    let signing_key =
        "signkey-test-f00f3005a3666b359a79c2bc3380ce2715e62727ac461ae1a2618f8766029c9f";
    let event_key = "cloud-event-key";
    let builder = engine()
        .signing_key(inngest_local::SigningKey::new(signing_key).unwrap())
        .event_key(inngest_local::EventKey::new(event_key));
    let mode = Mode::Cloud {
        signing_key: signing_key.into(),
        event_key: event_key.into(),
    };
    let (engine, app) = engine_with_js_app(builder, &mode).await;
    // The JS SDK in cloud mode rejects unsigned or badly signed calls with 401, so a completed
    // run proves every call was signed the way Inngest signs.
    let ids = send(
        &engine,
        event_key,
        event("test/serial", json!({"start": 10})),
    )
    .await;
    let run = wait_run(&engine, &app.function_id("serial"), &ids[0]).await;
    assert_eq!(run.status, RunStatus::Completed);
    assert_eq!(run.output, Some(json!({"a": 11, "b": 22, "c": "22!"})));
    assert!(run.calls.iter().all(|c| c.status != Some(401)));
    // The wrong event key is refused.
    let resp = reqwest::Client::new()
        .post(format!("{}/e/wrong-key", engine.url()))
        .json(&event("test/serial", json!({"start": 1})))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    engine.shutdown().await;
}

#[tokio::test]
async fn cloud_mode_app_with_another_signing_key_cannot_sync() {
    let engine = engine()
        .signing_key(inngest_local::SigningKey::new("signkey-test-aaaa1111").unwrap())
        .start()
        .await
        .unwrap();
    let mode = Mode::Cloud {
        signing_key: "signkey-test-bbbb2222".into(),
        event_key: "k".into(),
    };
    let app = JsApp::start(&engine.url(), &mode, &[]).await;
    let err = engine.sync_app(&app.serve_url()).await.unwrap_err();
    assert!(
        matches!(err, inngest_local::SyncError::Refused { .. }),
        "{err}"
    );
    assert!(engine.apps().is_empty());
    engine.shutdown().await;
}

#[tokio::test]
async fn large_state_is_fetched_by_the_sdk_through_use_api() {
    let (engine, app) = engine_with_js_app(engine().use_api_threshold(1), &Mode::Dev).await;
    let run = run_to_end(
        &engine,
        &app.function_id("serial"),
        event("test/serial", json!({"start": 5})),
    )
    .await;
    assert_eq!(run.status, RunStatus::Completed);
    assert_eq!(run.output, Some(json!({"a": 6, "b": 12, "c": "12!"})));
    assert!(
        run.calls.iter().all(|c| c.use_api),
        "every call asked the SDK to use the API"
    );
    engine.shutdown().await;
}

#[tokio::test]
async fn cron_trigger_starts_runs_on_schedule() {
    let engine = engine().start().await.unwrap();
    let app = JsApp::start(&engine.url(), &Mode::Dev, &[("WITH_CRON", "1")]).await;
    crate::harness::sync(&engine, &app).await;
    let filter = RunFilter {
        function_id: Some(app.function_id("ticker")),
        status: Some(RunStatus::Completed),
        ..RunFilter::default()
    };
    let runs = engine
        .wait_until(RUN_TIMEOUT, |e| {
            Some(e.runs(&filter)).filter(|r| r.len() >= 2)
        })
        .await
        .unwrap();
    for r in &runs {
        assert_eq!(r.event_name, "inngest/scheduled.timer");
        assert_eq!(r.output, Some(json!("* * * * *")));
    }
    // Consecutive ticks are one minute apart in engine time.
    let ts: Vec<i64> = runs
        .iter()
        .map(|r| r.event()["ts"].as_i64().unwrap())
        .collect();
    assert_eq!((ts[0] - ts[1]).abs() % 60_000, 0);
    engine.shutdown().await;
}
