//! End-to-end cases over real HTTP on 127.0.0.1, each written once and run against the app of
//! every SDK: the official JS SDK (`tests/js-app`, a Node.js process) and this workspace's Rust
//! SDK (`rust_app.rs`, served in process), with the same function ids, steps and results.
//! Engine time is compressed 1000x; assertions are on order, attempts and recorded (engine-time)
//! delays, never on wall time.
//!
//! `sdk_cases!` (in `main.rs`) turns each `async fn case(sdk: Sdk)` into a module `case` with
//! the tests `case::js` and `case::rust`.

use chrono::Duration;
use inngest_local::testing::step_hash;
use inngest_local::{RunFilter, RunRecord, RunStatus};
use serde_json::{Value, json};

use crate::harness::{
    Mode, RUN_TIMEOUT, Sdk, engine, engine_with_app, event, run_of, run_to_end, send, sync,
    wait_parked, wait_run,
};

sdk_cases!(
    serial_steps_run_in_order_and_memoise,
    transient_step_errors_are_retried_with_inngest_backoff_then_succeed,
    non_retriable_error_fails_after_one_attempt,
    retry_after_error_delays_the_retry_by_its_value,
    exhausted_retries_fail_the_run_and_fire_on_failure_with_the_error,
    parallel_steps_are_planned_run_concurrently_and_joined_by_one_discovery,
    sleep_parks_the_run_until_the_engine_clock_passes_it,
    wait_for_event_resumes_only_on_a_matching_event,
    wait_for_event_times_out_with_null,
    invoke_passes_data_to_the_child_and_returns_its_result,
    invoke_surfaces_the_child_error_to_the_parent,
    concurrency_key_serialises_runs_with_the_same_key_only,
    cancel_on_event_cancels_only_the_matching_run,
    replay_from_a_step_keeps_earlier_memo_and_reruns_the_rest,
    send_event_step_sends_once_and_starts_the_triggered_run,
    cloud_mode_app_runs_with_signed_requests,
    cloud_mode_app_with_another_signing_key_cannot_sync,
    large_state_is_fetched_by_the_sdk_through_use_api,
    cloud_mode_app_fetches_large_state_with_its_signing_key,
    cron_trigger_starts_runs_on_schedule,
);

async fn serial_steps_run_in_order_and_memoise(sdk: Sdk) {
    let (engine, app) = engine_with_app(sdk, engine(), &Mode::Dev).await;
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
        "the SDK answers with request version 2"
    );
    engine.shutdown().await;
}

async fn transient_step_errors_are_retried_with_inngest_backoff_then_succeed(sdk: Sdk) {
    let (engine, app) = engine_with_app(sdk, engine(), &Mode::Dev).await;
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

async fn non_retriable_error_fails_after_one_attempt(sdk: Sdk) {
    let (engine, app) = engine_with_app(sdk, engine(), &Mode::Dev).await;
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

async fn retry_after_error_delays_the_retry_by_its_value(sdk: Sdk) {
    let (engine, app) = engine_with_app(sdk, engine(), &Mode::Dev).await;
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

async fn exhausted_retries_fail_the_run_and_fire_on_failure_with_the_error(sdk: Sdk) {
    let (engine, app) = engine_with_app(sdk, engine(), &Mode::Dev).await;
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
            "failedFunction": app.function_id("always-fails"),
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

async fn parallel_steps_are_planned_run_concurrently_and_joined_by_one_discovery(sdk: Sdk) {
    let (engine, app) = engine_with_app(sdk, engine(), &Mode::Dev).await;
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

async fn sleep_parks_the_run_until_the_engine_clock_passes_it(sdk: Sdk) {
    let (engine, app) = engine_with_app(sdk, engine(), &Mode::Dev).await;
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

async fn wait_for_event_resumes_only_on_a_matching_event(sdk: Sdk) {
    let (engine, app) = engine_with_app(sdk, engine(), &Mode::Dev).await;
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

async fn wait_for_event_times_out_with_null(sdk: Sdk) {
    let (engine, app) = engine_with_app(sdk, engine(), &Mode::Dev).await;
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

async fn invoke_passes_data_to_the_child_and_returns_its_result(sdk: Sdk) {
    let (engine, app) = engine_with_app(sdk, engine(), &Mode::Dev).await;
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

async fn invoke_surfaces_the_child_error_to_the_parent(sdk: Sdk) {
    let (engine, app) = engine_with_app(sdk, engine(), &Mode::Dev).await;
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

async fn concurrency_key_serialises_runs_with_the_same_key_only(sdk: Sdk) {
    let (engine, app) = engine_with_app(sdk, engine(), &Mode::Dev).await;
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

async fn cancel_on_event_cancels_only_the_matching_run(sdk: Sdk) {
    let (engine, app) = engine_with_app(sdk, engine(), &Mode::Dev).await;
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

async fn replay_from_a_step_keeps_earlier_memo_and_reruns_the_rest(sdk: Sdk) {
    let (engine, app) = engine_with_app(sdk, engine(), &Mode::Dev).await;
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

async fn send_event_step_sends_once_and_starts_the_triggered_run(sdk: Sdk) {
    let (engine, app) = engine_with_app(sdk, engine(), &Mode::Dev).await;
    let run = run_to_end(
        &engine,
        &app.function_id("emitter"),
        event("test/emit", json!({"start": 3})),
    )
    .await;
    assert_eq!(run.status, RunStatus::Completed);
    let ids = run.output.as_ref().unwrap()["ids"].as_array().unwrap();
    assert_eq!(ids.len(), 1);
    let emit = run.step("emit").unwrap();
    assert_eq!(emit.attempts.len(), 1);
    assert_eq!(run.memo[&emit.id], json!({"data": {"ids": ids}}));
    // The id the events API answered is the event that started the serial run.
    let serial = wait_run(
        &engine,
        &app.function_id("serial"),
        ids[0].as_str().unwrap(),
    )
    .await;
    assert_eq!(serial.status, RunStatus::Completed);
    assert_eq!(serial.output, Some(json!({"a": 4, "b": 8, "c": "8!"})));
    assert_eq!(
        engine.events(Some("test/serial"), 10).len(),
        1,
        "sent exactly once"
    );
    engine.shutdown().await;
}

async fn cloud_mode_app_runs_with_signed_requests(sdk: Sdk) {
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
    let (engine, app) = engine_with_app(sdk, builder, &mode).await;
    // The SDK in cloud mode rejects unsigned or badly signed calls with 401, so a completed
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

async fn cloud_mode_app_with_another_signing_key_cannot_sync(sdk: Sdk) {
    let engine = engine()
        .signing_key(inngest_local::SigningKey::new("signkey-test-aaaa1111").unwrap())
        .start()
        .await
        .unwrap();
    let mode = Mode::Cloud {
        signing_key: "signkey-test-bbbb2222".into(),
        event_key: "k".into(),
    };
    let app = sdk.start(&engine.url(), &mode, false).await;
    let err = engine.sync_app(&app.serve_url()).await.unwrap_err();
    assert!(
        matches!(err, inngest_local::SyncError::Refused { .. }),
        "{err}"
    );
    assert!(engine.apps().is_empty());
    engine.shutdown().await;
}

async fn large_state_is_fetched_by_the_sdk_through_use_api(sdk: Sdk) {
    let (engine, app) = engine_with_app(sdk, engine().use_api_threshold(1), &Mode::Dev).await;
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

async fn cloud_mode_app_fetches_large_state_with_its_signing_key(sdk: Sdk) {
    let signing_key = "signkey-test-0123456789abcdef";
    let builder = engine()
        .use_api_threshold(1)
        .signing_key(inngest_local::SigningKey::new(signing_key).unwrap());
    let mode = Mode::Cloud {
        signing_key: signing_key.into(),
        event_key: "k".into(),
    };
    let (engine, app) = engine_with_app(sdk, builder, &mode).await;
    // `/v0/runs/...` needs the bearer of the hashed signing key in cloud mode: every call asks
    // the SDK to fetch its state there, so a completed run proves the SDK authenticated.
    let run = run_to_end(
        &engine,
        &app.function_id("serial"),
        event("test/serial", json!({"start": 2})),
    )
    .await;
    assert_eq!(run.status, RunStatus::Completed);
    assert_eq!(run.output, Some(json!({"a": 3, "b": 6, "c": "6!"})));
    assert!(run.calls.iter().all(|c| c.use_api));
    engine.shutdown().await;
}

async fn cron_trigger_starts_runs_on_schedule(sdk: Sdk) {
    let engine = engine().start().await.unwrap();
    let app = sdk.start(&engine.url(), &Mode::Dev, true).await;
    sync(&engine, app.as_ref()).await;
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

/// A run as the engine recorded it, without what legitimately differs between SDKs or runs:
/// timestamps, jittered delays (only whether a retry was scheduled), run and event ids, and
/// error stacks (Node.js traces versus Rust's `name: message`).
fn run_shape(run: &RunRecord) -> Value {
    fn strip_stacks(v: &mut Value) {
        match v {
            Value::Object(map) => {
                map.remove("stack");
                map.values_mut().for_each(strip_stacks);
            }
            Value::Array(items) => items.iter_mut().for_each(strip_stacks),
            _ => {}
        }
    }
    let calls: Vec<Value> = run
        .calls
        .iter()
        .map(|c| {
            json!({
                "step_id": c.step_id, "attempt": c.attempt, "status": c.status,
                "outcome": c.outcome, "ops": c.ops, "error": c.error,
                "disable_immediate_execution": c.disable_immediate_execution,
                "retry_scheduled": c.retry_in_ms.is_some(),
            })
        })
        .collect();
    let steps: Vec<Value> = run
        .steps
        .iter()
        .map(|s| {
            let attempts: Vec<Value> = s
                .attempts
                .iter()
                .map(|a| json!([a.attempt, a.outcome, a.output, a.error]))
                .collect();
            json!({
                "id": s.id, "name": s.name, "op": s.op, "status": s.status, "opts": s.opts,
                "output": s.output, "error": s.error, "attempts": attempts,
            })
        })
        .collect();
    let mut shape = json!({
        "status": format!("{:?}", run.status), "output": run.output, "error": run.error,
        "calls": calls, "steps": steps, "memo": run.memo, "stack": run.stack,
        "request_version": run.request_version,
    });
    strip_stacks(&mut shape);
    shape
}

/// The same functions given the same events leave the same history on the engine with either
/// SDK: every call (target, attempt, status, ops, error), every step (op, opts, attempts,
/// output or error), the memo, the stack and the result.
#[tokio::test]
async fn js_and_rust_apps_leave_identical_run_histories() {
    let cases = [
        ("serial", event("test/serial", json!({"start": 1}))),
        ("flaky", event("test/flaky", json!({}))),
        ("non-retriable", event("test/non-retriable", json!({}))),
        ("retry-after", event("test/retry-after", json!({}))),
        ("always-fails", event("test/always-fails", json!({}))),
        ("parallel", event("test/parallel", json!({}))),
        ("sleeper", event("test/sleep", json!({}))),
        (
            "waiter",
            event("test/wait", json!({"id": 1, "timeout": "10m"})),
        ),
        ("invoker", event("test/invoke", json!({"n": 4}))),
        ("invoker", event("test/invoke", json!({"n": -1}))),
        ("replayable", event("test/replay", json!({}))),
    ];
    let mut histories = Vec::new();
    for sdk in [Sdk::Js, Sdk::Rust] {
        let (engine, app) = engine_with_app(sdk, engine(), &Mode::Dev).await;
        let mut shapes = Vec::new();
        for (function, event) in cases.clone() {
            let run = run_to_end(&engine, &app.function_id(function), event).await;
            shapes.push((function, run_shape(&run)));
        }
        let failure = engine
            .wait_for(
                &RunFilter::function(app.function_id("always-fails-failure")),
                RUN_TIMEOUT,
            )
            .await
            .unwrap();
        shapes.push(("always-fails-failure", run_shape(&failure)));
        // Composite ids (in outputs, errors and the failure handler's data) name the app.
        let text = serde_json::to_string(&shapes)
            .unwrap()
            .replace(app.app_id(), "<app>");
        histories.push(serde_json::from_str::<Vec<(String, Value)>>(&text).unwrap());
        engine.shutdown().await;
    }
    for ((function, js), (_, rust)) in histories[0].iter().zip(&histories[1]) {
        assert_eq!(
            js,
            rust,
            "{function}: JS run {}\nRust run {}",
            serde_json::to_string_pretty(js).unwrap(),
            serde_json::to_string_pretty(rust).unwrap()
        );
    }
}

/// Both apps register the same functions with the same configuration (triggers, retries,
/// concurrency, cancel-on, failure handlers), so the cases above compare like with like.
#[tokio::test]
async fn js_and_rust_apps_register_equivalent_functions() {
    let engine = engine().start().await.unwrap();
    let mut configs = Vec::new();
    for (sdk, expected_sdk, framework) in
        [(Sdk::Js, "js:v", "nodejs"), (Sdk::Rust, "rust:v", "axum")]
    {
        let app = sdk.start(&engine.url(), &Mode::Dev, true).await;
        sync(&engine, app.as_ref()).await;
        let info = engine
            .apps()
            .into_iter()
            .find(|a| a.id == app.app_id())
            .unwrap();
        assert!(info.sdk.starts_with(expected_sdk), "{}", info.sdk);
        assert_eq!(info.framework.as_deref(), Some(framework));
        // Each function's config with the app id and serve URL replaced by placeholders.
        let normalised: Vec<(String, Value)> = engine
            .functions()
            .into_iter()
            .filter(|f| f["app"] == app.app_id())
            .map(|f| {
                let text = f["config"]
                    .to_string()
                    .replace(&app.serve_url(), "<url>")
                    .replace(app.app_id(), "<app>");
                let id = f["id"].as_str().unwrap().replacen(app.app_id(), "<app>", 1);
                (id, serde_json::from_str(&text).unwrap())
            })
            .collect();
        configs.push(normalised);
        drop(app);
    }
    assert_eq!(
        configs[0].len(),
        16,
        "14 functions, a failure handler and a cron"
    );
    for ((js_id, js), (rust_id, rust)) in configs[0].iter().zip(&configs[1]) {
        assert_eq!(js_id, rust_id);
        assert_eq!(js, rust, "{js_id} is registered differently");
    }
    assert_eq!(configs[0].len(), configs[1].len());
    engine.shutdown().await;
}
