//! Call requests (`POST`): every row of digest §7.1 and every opcode the SDK emits (§7.3),
//! memo kinds (§6.3), discovery and immediate execution (§8), retries (§7.4, §9).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use chrono::TimeZone;
use inngest::{
    Context, Error, Event, Function, Invoke, NonRetriableError, RetryAfterError, Trigger,
    WaitForEvent,
};
use serde_json::{Value, json};

use crate::support::{Call, call, dev_router, hash};

fn on(id: &str) -> inngest::FunctionBuilder {
    Function::builder(id).trigger(Trigger::event(format!("t/{id}")))
}

fn ev(id: &str) -> Call {
    Call::new(&format!("t/{id}"), json!({}))
}

fn catalogue() -> Vec<Function> {
    vec![
        on("serial")
            .build(|ctx: Context| async move {
                let first: String = ctx
                    .step
                    .run("first", || async { Ok("A".to_owned()) })
                    .await?;
                let second: Value = ctx
                    .step
                    .run("second", || async { Ok(json!({"n": 2})) })
                    .await?;
                Ok(json!({ "first": first, "second": second }))
            })
            .expect("valid"),
        on("step-non-retriable")
            .build(|ctx: Context| async move {
                ctx.step
                    .run("explode", || async {
                        Err::<(), _>(
                            NonRetriableError::new("nope")
                                .with_source(std::io::Error::other("root"))
                                .into(),
                        )
                    })
                    .await?;
                Ok("unreachable")
            })
            .expect("valid"),
        on("step-transient")
            .build(|ctx: Context| async move {
                ctx.step
                    .run("flaky", || async { Err::<(), Error>("HMRC 503".into()) })
                    .await?;
                Ok("unreachable")
            })
            .expect("valid"),
        on("step-retry-after")
            .build(|ctx: Context| async move {
                ctx.step
                    .run("throttled", || async {
                        Err::<(), Error>(
                            RetryAfterError::new("throttled", Duration::from_secs(30)).into(),
                        )
                    })
                    .await?;
                Ok("unreachable")
            })
            .expect("valid"),
        on("parallel")
            .build(|ctx: Context| async move {
                let (a, b) = futures::try_join!(
                    ctx.step.run("a", || async { Ok(1) }),
                    ctx.step.run("b", || async { Ok(2) }),
                )?;
                Ok(a + b)
            })
            .expect("valid"),
        on("sleep")
            .build(|ctx: Context| async move {
                ctx.step.sleep("nap", Duration::from_secs(3600)).await?;
                let s: String = ctx
                    .step
                    .run("after-nap", || async { Ok("awake".to_owned()) })
                    .await?;
                Ok(s)
            })
            .expect("valid"),
        on("sleep-until")
            .build(|ctx: Context| async move {
                let at = chrono::Utc
                    .with_ymd_and_hms(2030, 1, 1, 0, 0, 0)
                    .single()
                    .expect("valid date");
                ctx.step.sleep_until("until", at).await?;
                Ok(())
            })
            .expect("valid"),
        on("wait")
            .build(|ctx: Context| async move {
                let got: Option<Event> = ctx
                    .step
                    .wait_for_event(
                        "wait-approval",
                        WaitForEvent::new("t/approved", Duration::from_secs(3600))
                            .if_expr("async.data.id == event.data.id"),
                    )
                    .await?;
                Ok(json!({ "approved": got.is_some(), "by": got.map(|e| e.data["by"].clone()) }))
            })
            .expect("valid"),
        on("invoke")
            .build(|ctx: Context| async move {
                let child: Value = ctx
                    .step
                    .invoke(
                        "call-child",
                        Invoke::local("child", json!({"x": 1})).timeout(Duration::from_secs(600)),
                    )
                    .await?;
                Ok(json!({ "child": child }))
            })
            .expect("valid"),
        on("catch")
            .build(|ctx: Context| async move {
                match ctx
                    .step
                    .run("fails", || async { Err::<(), Error>("boom".into()) })
                    .await
                {
                    Ok(()) => Ok(json!({"caught": null})),
                    Err(e) => Ok(json!({"caught": e.message(), "name": e.name()})),
                }
            })
            .expect("valid"),
        on("repeat")
            .build(|ctx: Context| async move {
                let mut out = Vec::new();
                for i in 0..3 {
                    out.push(ctx.step.run("repeat", move || async move { Ok(i) }).await?);
                }
                Ok(out)
            })
            .expect("valid"),
        on("fn-non-retriable")
            .build(
                |_ctx: Context| async move { Err::<(), _>(NonRetriableError::new("fatal").into()) },
            )
            .expect("valid"),
        on("fn-error")
            .build(|_ctx: Context| async move { Err::<(), Error>("plain failure".into()) })
            .expect("valid"),
        on("fn-retry-after")
            .build(|_ctx: Context| async move {
                let at = chrono::Utc
                    .with_ymd_and_hms(2030, 1, 1, 0, 0, 0)
                    .single()
                    .expect("valid date");
                Err::<(), Error>(RetryAfterError::at("later", at).into())
            })
            .expect("valid"),
        on("returns-nothing")
            .build(|ctx: Context| async move {
                ctx.step
                    .run("only", || async { Ok("done".to_owned()) })
                    .await?;
                Ok(())
            })
            .expect("valid"),
        on("step-panics")
            .build(|ctx: Context| async move {
                ctx.step
                    .run("kaboom", || async {
                        if true {
                            panic!("step exploded");
                        }
                        Ok(())
                    })
                    .await?;
                Ok(())
            })
            .expect("valid"),
        on("fn-panics")
            .build(|_ctx: Context| async move {
                if true {
                    panic!("function exploded");
                }
                Ok(())
            })
            .expect("valid"),
        on("send")
            .build(|ctx: Context| async move {
                let sent = ctx
                    .step
                    .send_event("notify", Event::new("t/notified", json!({"k": 1})))
                    .await?;
                Ok(sent.ids)
            })
            .expect("valid"),
        on("nested")
            .build(|ctx: Context| async move {
                let inner_step = ctx.step.clone();
                let r: String = ctx
                    .step
                    .run("outer", move || async move {
                        let v: String = inner_step
                            .run("inner", || async { Ok("x".to_owned()) })
                            .await?;
                        Ok(v)
                    })
                    .await?;
                Ok(r)
            })
            .expect("valid"),
        on("race")
            .build(|ctx: Context| async move {
                let a = ctx.step.run("a", || async { Ok("a".to_owned()) });
                let b = ctx.step.run("b", || async { Ok("b".to_owned()) });
                futures::pin_mut!(a, b);
                let winner = match futures::future::select(a, b).await {
                    futures::future::Either::Left((r, _)) => r?,
                    futures::future::Either::Right((r, _)) => r?,
                };
                let after: String = ctx
                    .step
                    .run("after", || async { Ok("after".to_owned()) })
                    .await?;
                Ok(json!([winner, after]))
            })
            .expect("valid"),
        on("input")
            .build(|ctx: Context| async move {
                let doubled: i64 = ctx
                    .step
                    .run_with_input("double", 21_i64, |n| async move { Ok(n * 2) })
                    .await?;
                Ok(doubled)
            })
            .expect("valid"),
        on("typed")
            .build(|ctx: Context<Order>| async move { Ok(ctx.event.data.amount * 2) })
            .expect("valid"),
    ]
}

#[derive(serde::Deserialize, Debug)]
struct Order {
    amount: i64,
}

fn router() -> axum::Router {
    dev_router(catalogue())
}

fn no_retry(a: &crate::support::Answer) -> Option<&str> {
    a.header("x-inngest-no-retry")
}

#[tokio::test]
async fn a_discovery_call_runs_the_single_new_step_and_answers_step_run() {
    let r = router();
    let a = call(&r, "test-app-serial", "step", &ev("serial")).await;
    let op = a.single_op();
    assert_eq!(op["op"], "StepRun");
    assert_eq!(op["id"], hash("first"));
    assert_eq!(op["name"], "first");
    assert_eq!(op["displayName"], "first");
    assert_eq!(op["opts"], json!({}));
    assert_eq!(op["userland"], json!({"id": "first"}));
    assert_eq!(op["data"], "A");
    assert!(op["timing"]["a"].as_u64().is_some() && op["timing"]["b"].is_number());
    assert_eq!(
        no_retry(&a),
        None,
        "a successful step sends no no-retry header"
    );
    assert_eq!(a.header("x-inngest-req-version"), Some("2"));
}

#[tokio::test]
async fn memoised_steps_replay_and_the_function_returns_200_with_its_value() {
    let r = router();
    let a = call(
        &r,
        "test-app-serial",
        "step",
        &ev("serial").done("first", json!("A")),
    )
    .await;
    assert_eq!(a.single_op()["id"], hash("second"));
    assert_eq!(a.single_op()["data"], json!({"n": 2}));
    let a = call(
        &r,
        "test-app-serial",
        "step",
        &ev("serial")
            .done("first", json!("A"))
            .done("second", json!({"n": 2})),
    )
    .await;
    assert_eq!(a.status, 200);
    assert_eq!(a.body, json!({"first": "A", "second": {"n": 2}}));
}

#[tokio::test]
async fn unit_returns_json_null_not_an_empty_body() {
    let r = router();
    let a = call(
        &r,
        "test-app-returns-nothing",
        "step",
        &ev("returns-nothing").done("only", json!("done")),
    )
    .await;
    assert_eq!(a.status, 200);
    assert_eq!(a.raw, b"null");
}

#[tokio::test]
async fn a_non_retriable_step_error_answers_step_failed_with_no_retry_true() {
    let r = router();
    let a = call(
        &r,
        "test-app-step-non-retriable",
        "step",
        &ev("step-non-retriable"),
    )
    .await;
    let op = a.single_op();
    assert_eq!(op["op"], "StepFailed");
    assert_eq!(op["error"]["name"], "NonRetriableError");
    assert_eq!(op["error"]["message"], "nope");
    assert_eq!(op["error"]["cause"]["message"], "root");
    assert_eq!(op["error"]["__serialized"], true);
    assert_eq!(
        op["data"],
        json!({"__serialized": true, "name": "NonRetriableError", "message": "nope", "stack": ""})
    );
    assert_eq!(no_retry(&a), Some("true"));
}

#[tokio::test]
async fn a_transient_step_error_answers_step_error_while_attempts_remain() {
    let r = router();
    let a = call(
        &r,
        "test-app-step-transient",
        "step",
        &ev("step-transient").attempt(0, 5),
    )
    .await;
    let op = a.single_op();
    assert_eq!(op["op"], "StepError");
    assert_eq!(op["error"]["name"], "Error");
    assert_eq!(op["error"]["message"], "HMRC 503");
    assert_eq!(op["data"], Value::Null);
    assert_eq!(no_retry(&a), Some("false"));
    assert_eq!(a.header("retry-after"), None);
}

#[tokio::test]
async fn a_transient_step_error_on_the_last_attempt_answers_step_failed() {
    let r = router();
    let a = call(
        &r,
        "test-app-step-transient",
        "step",
        &ev("step-transient").attempt(4, 5),
    )
    .await;
    assert_eq!(a.single_op()["op"], "StepFailed");
    assert_eq!(no_retry(&a), Some("true"));
}

#[tokio::test]
async fn a_retry_after_step_error_sends_retry_after_seconds() {
    let r = router();
    let a = call(
        &r,
        "test-app-step-retry-after",
        "step",
        &ev("step-retry-after"),
    )
    .await;
    let op = a.single_op();
    assert_eq!(op["op"], "StepError");
    assert_eq!(op["error"]["name"], "RetryAfterError");
    assert_eq!(no_retry(&a), Some("false"));
    assert_eq!(a.header("retry-after"), Some("30"));
    let a = call(
        &r,
        "test-app-step-retry-after",
        "step",
        &ev("step-retry-after").attempt(4, 5),
    )
    .await;
    assert_eq!(a.single_op()["op"], "StepFailed");
    assert_eq!(
        a.header("retry-after"),
        None,
        "no retry-after on the last attempt"
    );
}

#[tokio::test]
async fn parallel_steps_are_planned_then_targeted_then_completed() {
    let r = router();
    let a = call(&r, "test-app-parallel", "step", &ev("parallel")).await;
    let ops = a.ops();
    assert_eq!(ops.len(), 2);
    for (op, id) in ops.iter().zip(["a", "b"]) {
        assert_eq!(op["op"], "StepPlanned");
        assert_eq!(op["id"], hash(id));
        assert_eq!(op["name"], id);
        assert_eq!(op["opts"], json!({}));
        assert_eq!(op["data"], Value::Null);
        assert!(op.get("timing").is_none());
    }
    // Each planned step gets its own targeted call.
    let a = call(
        &r,
        "test-app-parallel",
        &hash("b"),
        &ev("parallel").disable_immediate(),
    )
    .await;
    let op = a.single_op();
    assert_eq!(
        (op["op"].as_str(), op["id"].as_str()),
        (Some("StepRun"), Some(hash("b").as_str()))
    );
    assert_eq!(op["data"], 2);
    // One finished, the other still planned: report nothing new, nothing runs in discovery.
    let a = call(
        &r,
        "test-app-parallel",
        "step",
        &ev("parallel").done("b", json!(2)).disable_immediate(),
    )
    .await;
    assert_eq!(a.status, 206);
    let ops = a.ops();
    assert_eq!(ops.len(), 1);
    assert_eq!(ops[0]["op"], "StepPlanned");
    assert_eq!(ops[0]["id"], hash("a"));
    let a = call(
        &r,
        "test-app-parallel",
        "step",
        &ev("parallel").done("b", json!(2)).done("a", json!(1)),
    )
    .await;
    assert_eq!((a.status, a.body.clone()), (200, json!(3)));
}

#[tokio::test]
async fn disable_immediate_execution_plans_even_a_single_step() {
    let r = router();
    let a = call(
        &r,
        "test-app-serial",
        "step",
        &ev("serial").disable_immediate(),
    )
    .await;
    let op = a.single_op();
    assert_eq!(op["op"], "StepPlanned");
    assert_eq!(op["id"], hash("first"));
}

#[tokio::test]
async fn sleep_ops_carry_the_duration_in_name_and_resume_on_raw_null() {
    let r = router();
    let a = call(&r, "test-app-sleep", "step", &ev("sleep")).await;
    let op = a.single_op();
    assert_eq!(op["op"], "Sleep");
    assert_eq!(op["name"], "1h");
    assert_eq!(op["displayName"], "nap");
    assert_eq!(op["opts"], json!({}));
    let a = call(
        &r,
        "test-app-sleep",
        "step",
        &ev("sleep").memo("nap", Value::Null),
    )
    .await;
    assert_eq!(a.single_op()["op"], "StepRun");
    assert_eq!(a.single_op()["data"], "awake");
}

#[tokio::test]
async fn sleep_until_sends_an_iso_timestamp() {
    let r = router();
    let a = call(&r, "test-app-sleep-until", "step", &ev("sleep-until")).await;
    assert_eq!(a.single_op()["op"], "Sleep");
    assert_eq!(a.single_op()["name"], "2030-01-01T00:00:00.000Z");
}

#[tokio::test]
async fn wait_for_event_reports_its_options_and_resolves_matched_or_timed_out() {
    let r = router();
    let a = call(&r, "test-app-wait", "step", &ev("wait")).await;
    let op = a.single_op();
    assert_eq!(op["op"], "WaitForEvent");
    assert_eq!(op["name"], "t/approved");
    assert_eq!(
        op["opts"],
        json!({"timeout": "1h", "if": "async.data.id == event.data.id"})
    );
    let matched = json!({"name": "t/approved", "data": {"by": "alice"}, "id": "e2", "ts": 5});
    let a = call(
        &r,
        "test-app-wait",
        "step",
        &ev("wait").memo("wait-approval", matched),
    )
    .await;
    assert_eq!(
        (a.status, a.body.clone()),
        (200, json!({"approved": true, "by": "alice"}))
    );
    let a = call(
        &r,
        "test-app-wait",
        "step",
        &ev("wait").memo("wait-approval", Value::Null),
    )
    .await;
    assert_eq!(
        (a.status, a.body.clone()),
        (200, json!({"approved": false, "by": null}))
    );
}

#[tokio::test]
async fn invoke_reports_the_composite_function_id_and_unwraps_data_or_error() {
    let r = router();
    let a = call(&r, "test-app-invoke", "step", &ev("invoke")).await;
    let op = a.single_op();
    assert_eq!(op["op"], "InvokeFunction");
    assert!(op.get("name").is_none());
    assert_eq!(
        op["opts"],
        json!({"payload": {"data": {"x": 1}}, "function_id": "test-app-child", "timeout": "10m"})
    );
    let a = call(
        &r,
        "test-app-invoke",
        "step",
        &ev("invoke").done("call-child", json!({"doubled": 2})),
    )
    .await;
    assert_eq!(
        (a.status, a.body.clone()),
        (200, json!({"child": {"doubled": 2}}))
    );
    let a = call(
        &r,
        "test-app-invoke",
        "step",
        &ev("invoke").failed("call-child", "InngestInvokeTimeoutError", "timed out"),
    )
    .await;
    assert_eq!(a.status, 400);
    assert_eq!(no_retry(&a), Some("true"));
    assert_eq!(a.body["name"], "InngestInvokeTimeoutError");
    assert_eq!(a.body["message"], "timed out");
}

#[tokio::test]
async fn a_caught_memoised_step_error_lets_the_function_complete() {
    let r = router();
    let a = call(
        &r,
        "test-app-catch",
        "step",
        &ev("catch").failed("fails", "Error", "boom"),
    )
    .await;
    assert_eq!(
        (a.status, a.body.clone()),
        (200, json!({"caught": "boom", "name": "Error"}))
    );
}

#[tokio::test]
async fn an_uncaught_memoised_step_error_fails_the_run_without_retries() {
    let r = router();
    let a = call(
        &r,
        "test-app-step-transient",
        "step",
        &ev("step-transient").failed("flaky", "Error", "HMRC 503"),
    )
    .await;
    assert_eq!(a.status, 400);
    assert_eq!(no_retry(&a), Some("true"));
    assert_eq!(
        a.body,
        json!({"name": "Error", "message": "HMRC 503", "stack": "orig stack", "__serialized": true})
    );
}

#[tokio::test]
async fn repeated_ids_are_hashed_with_colon_suffixes_and_userland_indexes() {
    let r = router();
    let a = call(
        &r,
        "test-app-repeat",
        "step",
        &ev("repeat").done("repeat", json!(0)),
    )
    .await;
    let op = a.single_op();
    assert_eq!(op["id"], hash("repeat:1"));
    assert_eq!(op["name"], "repeat");
    assert_eq!(op["displayName"], "repeat");
    assert_eq!(op["userland"], json!({"id": "repeat", "index": 1}));
    let mut c = ev("repeat").done("repeat", json!(0));
    c = c.memo("repeat:1", json!({"data": 1}));
    let a = call(&r, "test-app-repeat", "step", &c).await;
    assert_eq!(a.single_op()["id"], hash("repeat:2"));
    let c = c.memo("repeat:2", json!({"data": 2}));
    let a = call(&r, "test-app-repeat", "step", &c).await;
    assert_eq!((a.status, a.body.clone()), (200, json!([0, 1, 2])));
}

#[tokio::test]
async fn function_errors_answer_500_retriable_then_400_on_the_last_attempt() {
    let r = router();
    let a = call(
        &r,
        "test-app-fn-error",
        "step",
        &ev("fn-error").attempt(0, 3),
    )
    .await;
    assert_eq!(a.status, 500);
    assert_eq!(no_retry(&a), Some("false"));
    assert_eq!(a.body["name"], "Error");
    assert_eq!(a.body["message"], "plain failure");
    assert_eq!(a.body["__serialized"], true);
    let a = call(
        &r,
        "test-app-fn-error",
        "step",
        &ev("fn-error").attempt(2, 3),
    )
    .await;
    assert_eq!(a.status, 400);
    assert_eq!(no_retry(&a), Some("true"));
}

#[tokio::test]
async fn a_function_level_non_retriable_error_answers_400_no_retry() {
    let r = router();
    let a = call(
        &r,
        "test-app-fn-non-retriable",
        "step",
        &ev("fn-non-retriable"),
    )
    .await;
    assert_eq!(a.status, 400);
    assert_eq!(no_retry(&a), Some("true"));
    assert_eq!(a.body["name"], "NonRetriableError");
    assert_eq!(a.body["message"], "fatal");
}

#[tokio::test]
async fn a_function_level_retry_after_answers_500_with_an_rfc3339_retry_after() {
    let r = router();
    let a = call(&r, "test-app-fn-retry-after", "step", &ev("fn-retry-after")).await;
    assert_eq!(a.status, 500);
    assert_eq!(no_retry(&a), Some("false"));
    assert_eq!(a.header("retry-after"), Some("2030-01-01T00:00:00.000Z"));
    assert_eq!(a.body["name"], "RetryAfterError");
}

#[tokio::test]
async fn a_targeted_step_that_is_not_found_answers_500_with_the_found_steps() {
    let r = router();
    let target = "0000000000000000000000000000000000000000";
    let a = call(&r, "test-app-serial", target, &ev("serial")).await;
    assert_eq!(a.status, 500);
    assert_eq!(no_retry(&a), Some("false"));
    assert_eq!(a.body["requestedStep"], target);
    assert_eq!(a.body["totalFoundSteps"], 1);
    assert_eq!(
        a.body["foundSteps"],
        json!([{"id": hash("first"), "name": "first", "displayName": "first"}])
    );
    assert_eq!(
        a.body["error"],
        format!(
            "Could not find step \"{target}\" to run; timed out. Found new steps: \nfirst ({}).",
            hash("first")
        )
    );
}

#[tokio::test]
async fn a_targeted_call_runs_exactly_that_step_and_nothing_else() {
    let r = router();
    let a = call(
        &r,
        "test-app-serial",
        &hash("second"),
        &ev("serial").done("first", json!("A")),
    )
    .await;
    let op = a.single_op();
    assert_eq!(op["op"], "StepRun");
    assert_eq!(op["id"], hash("second"));
}

#[tokio::test]
async fn the_step_id_header_targets_a_step_when_the_query_lacks_it() {
    let r = router();
    let body = serde_json::to_vec(&ev("parallel").body()).expect("json");
    let req = http::Request::builder()
        .method("POST")
        .uri("/?fnId=test-app-parallel")
        .header("host", "app.test")
        .header("x-inngest-step-id", hash("b"))
        .body(axum::body::Body::from(body))
        .expect("request");
    let a = crate::support::send(&r, req).await;
    assert_eq!(a.single_op()["id"], hash("b"));
    assert_eq!(a.single_op()["op"], "StepRun");
}

#[tokio::test]
async fn an_unknown_function_answers_500_naming_it() {
    let r = router();
    let a = call(&r, "test-app-missing", "step", &ev("serial")).await;
    assert_eq!(a.status, 500);
    assert_eq!(
        a.body["message"],
        "Function \"test-app-missing\" was not found in this app; is the app synced correctly?"
    );
    assert_eq!(a.body["type"], "internal");
    assert_eq!(no_retry(&a), Some("false"));
}

#[tokio::test]
async fn a_panicking_step_becomes_a_retriable_step_error() {
    let r = router();
    let a = call(&r, "test-app-step-panics", "step", &ev("step-panics")).await;
    let op = a.single_op();
    assert_eq!(op["op"], "StepError");
    assert_eq!(
        op["error"]["message"],
        "step \"kaboom\" panicked: step exploded"
    );
    assert_eq!(no_retry(&a), Some("false"));
    // The server still answers the next call.
    let a = call(&r, "test-app-serial", "step", &ev("serial")).await;
    assert_eq!(a.status, 206);
}

#[tokio::test]
async fn a_panicking_function_becomes_a_retriable_500() {
    let r = router();
    let a = call(&r, "test-app-fn-panics", "step", &ev("fn-panics")).await;
    assert_eq!(a.status, 500);
    assert_eq!(no_retry(&a), Some("false"));
    assert_eq!(
        a.body["message"],
        "the function panicked: function exploded"
    );
}

#[tokio::test]
async fn an_event_matching_no_trigger_fails_with_event_validation_error() {
    let r = router();
    let a = call(
        &r,
        "test-app-serial",
        "step",
        &Call::new("t/other", json!({})),
    )
    .await;
    assert_eq!(a.status, 400);
    assert_eq!(no_retry(&a), Some("true"));
    assert_eq!(a.body["name"], "EventValidationError");
    assert_eq!(a.body["message"], "Event not found in triggers: t/other");
}

#[tokio::test]
async fn typed_event_payloads_decode_or_fail_without_retries() {
    let r = router();
    let a = call(
        &r,
        "test-app-typed",
        "step",
        &Call::new("t/typed", json!({"amount": 21})),
    )
    .await;
    assert_eq!((a.status, a.body.clone()), (200, json!(42)));
    let a = call(
        &r,
        "test-app-typed",
        "step",
        &Call::new("t/typed", json!({"amount": "x"})),
    )
    .await;
    assert_eq!(a.status, 400);
    assert_eq!(a.body["name"], "EventValidationError");
}

#[tokio::test]
async fn send_event_is_a_planned_step_with_the_send_event_type() {
    let r = router();
    let a = call(&r, "test-app-send", "step", &ev("send").disable_immediate()).await;
    let op = a.single_op();
    assert_eq!(op["op"], "StepPlanned");
    assert_eq!(op["name"], "sendEvent");
    assert_eq!(op["opts"], json!({"type": "step.sendEvent"}));
    let a = call(
        &r,
        "test-app-send",
        "step",
        &ev("send").done("notify", json!({"ids": ["01X"]})),
    )
    .await;
    assert_eq!((a.status, a.body.clone()), (200, json!(["01X"])));
}

#[tokio::test]
async fn a_step_called_inside_another_step_fails_that_step_clearly() {
    let r = router();
    let a = call(&r, "test-app-nested", "step", &ev("nested")).await;
    let op = a.single_op();
    assert_eq!(op["id"], hash("outer"));
    assert_eq!(op["op"], "StepFailed");
    assert!(
        op["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("nesting step tools is not supported")),
        "{op}"
    );
}

#[tokio::test]
async fn memoised_steps_resolve_in_stack_order_so_races_replay_the_same_way() {
    let r = router();
    // b completed before a: the race's winner must be b.
    let c = ev("race").done("b", json!("b")).done("a", json!("a"));
    let a = call(&r, "test-app-race", "step", &c).await;
    assert_eq!(a.single_op()["id"], hash("after"));
    let c = c.done("after", json!("after"));
    let a = call(&r, "test-app-race", "step", &c).await;
    assert_eq!((a.status, a.body.clone()), (200, json!(["b", "after"])));
    // And the other way round.
    let c = ev("race")
        .done("a", json!("a"))
        .done("b", json!("b"))
        .done("after", json!("after"));
    let a = call(&r, "test-app-race", "step", &c).await;
    assert_eq!(a.body, json!(["a", "after"]));
}

#[tokio::test]
async fn input_memos_are_not_completions_and_override_the_step_input() {
    let r = router();
    let a = call(&r, "test-app-input", "step", &ev("input")).await;
    let op = a.single_op();
    assert_eq!(op["op"], "StepRun");
    assert_eq!(op["opts"], json!({"input": [21]}));
    assert_eq!(op["data"], 42);
    let c = ev("input").unstacked("double", json!({"input": [50]}));
    let a = call(&r, "test-app-input", "step", &c).await;
    let op = a.single_op();
    assert_eq!(op["op"], "StepRun", "an input memo is not a completed step");
    assert_eq!(op["opts"], json!({"input": [50]}));
    assert_eq!(op["data"], 100);
}

#[tokio::test]
async fn data_null_is_a_completed_step_and_absent_is_not() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let f = on("nullable")
        .build(move |ctx: Context| {
            let counter = counter.clone();
            async move {
                let v: Option<u32> = ctx
                    .step
                    .run("maybe", move || async move {
                        counter.fetch_add(1, Ordering::SeqCst);
                        Ok(Some(7))
                    })
                    .await?;
                Ok(v)
            }
        })
        .expect("valid");
    let r = dev_router([f]);
    let a = call(
        &r,
        "test-app-nullable",
        "step",
        &ev("nullable").done("maybe", Value::Null),
    )
    .await;
    assert_eq!((a.status, a.raw.clone()), (200, b"null".to_vec()));
    assert_eq!(
        calls.load(Ordering::SeqCst),
        0,
        "a {{data: null}} memo must not re-run"
    );
    let a = call(&r, "test-app-nullable", "step", &ev("nullable")).await;
    assert_eq!(a.single_op()["data"], 7);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_step_output_that_does_not_decode_fails_without_retries() {
    let f = on("decode")
        .build(|ctx: Context| async move {
            let n: u32 = ctx.step.run("n", || async { Ok(1) }).await?;
            Ok(n)
        })
        .expect("valid");
    let r = dev_router([f]);
    let a = call(
        &r,
        "test-app-decode",
        "step",
        &ev("decode").done("n", json!("not a number")),
    )
    .await;
    assert_eq!(a.status, 400);
    assert_eq!(no_retry(&a), Some("true"));
    assert!(
        a.body["message"]
            .as_str()
            .is_some_and(|m| m.contains("does not decode"))
    );
}

#[tokio::test]
async fn a_function_awaiting_a_non_step_future_is_polled_again_when_it_wakes() {
    let f = on("timer")
        .build(|ctx: Context| async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            let v: u8 = ctx.step.run("after-timer", || async { Ok(1) }).await?;
            Ok(v)
        })
        .expect("valid");
    let r = dev_router([f]);
    let a = call(&r, "test-app-timer", "step", &ev("timer")).await;
    assert_eq!(a.single_op()["op"], "StepRun");
    assert_eq!(a.single_op()["data"], 1);
}

#[tokio::test]
async fn a_step_that_awaits_io_finishes_before_the_call_answers() {
    let f = on("slow-step")
        .build(|ctx: Context| async move {
            let v: String = ctx
                .step
                .run("slow", || async {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    Ok("done".to_owned())
                })
                .await?;
            Ok(v)
        })
        .expect("valid");
    let r = dev_router([f]);
    let a = call(&r, "test-app-slow-step", "step", &ev("slow-step")).await;
    assert_eq!(a.single_op()["data"], "done");
    assert!(
        a.single_op()["timing"]["b"]
            .as_u64()
            .is_some_and(|b| b >= 20_000_000)
    );
}

#[tokio::test]
async fn a_run_step_and_a_sleep_in_parallel_are_reported_together() {
    let f = on("mixed")
        .build(|ctx: Context| async move {
            let (x, ()) = futures::try_join!(
                ctx.step.run("x", || async { Ok(1) }),
                ctx.step.sleep("s", Duration::from_secs(60)),
            )?;
            Ok(x)
        })
        .expect("valid");
    let r = dev_router([f]);
    let a = call(&r, "test-app-mixed", "step", &ev("mixed")).await;
    let ops = a.ops();
    assert_eq!(ops.len(), 2);
    assert_eq!(ops[0]["op"], "StepPlanned");
    assert_eq!(ops[1]["op"], "Sleep");
    assert_eq!(ops[1]["name"], "1m");
}

#[tokio::test]
async fn the_probe_parameter_answers_trust_and_rejects_unknown_probes() {
    let r = router();
    let req = http::Request::builder()
        .method("POST")
        .uri("/?probe=trust")
        .header("host", "app.test")
        .body(axum::body::Body::from("{}"))
        .expect("request");
    let a = crate::support::send(&r, req).await;
    assert_eq!((a.status, a.raw.len()), (200, 0));
    let req = http::Request::builder()
        .method("POST")
        .uri("/?probe=other")
        .header("host", "app.test")
        .body(axum::body::Body::from("{}"))
        .expect("request");
    let a = crate::support::send(&r, req).await;
    assert_eq!(a.status, 400);
    assert_eq!(a.body["message"], "Unknown probe \"other\"");
}

#[tokio::test]
async fn malformed_bodies_answer_500_with_a_clear_message() {
    let r = router();
    let req = http::Request::builder()
        .method("POST")
        .uri("/?fnId=test-app-serial&stepId=step")
        .header("host", "app.test")
        .body(axum::body::Body::from("{not json"))
        .expect("request");
    let a = crate::support::send(&r, req).await;
    assert_eq!(a.status, 500);
    assert!(
        a.body["message"]
            .as_str()
            .is_some_and(|m| m.contains("Failed to parse data from executor"))
    );
}

#[tokio::test]
async fn an_on_failure_handler_is_served_under_the_failure_id() {
    let f = Function::builder("pay")
        .trigger(Trigger::event("t/pay"))
        .on_failure(|ctx: Context<inngest::FunctionFailed>| async move {
            Ok(json!({
                "failed": ctx.event.data.function_id,
                "error": ctx.event.data.error.message,
                "original": ctx.event.data.event.name,
            }))
        })
        .build(|_ctx: Context| async move { Ok(()) })
        .expect("valid");
    let r = dev_router([f]);
    let failed = Call::new(
        "inngest/function.failed",
        json!({
            "function_id": "test-app-pay",
            "run_id": "01R",
            "error": {"name": "Error", "message": "card declined"},
            "event": {"name": "t/pay", "data": {}},
        }),
    );
    let a = call(&r, "test-app-pay-failure", "step", &failed).await;
    assert_eq!(a.status, 200);
    assert_eq!(
        a.body,
        json!({"failed": "test-app-pay", "error": "card declined", "original": "t/pay"})
    );
}

#[tokio::test]
async fn batches_deliver_every_event() {
    let f = on("batch")
        .build(|ctx: Context| async move { Ok(ctx.events.len()) })
        .expect("valid");
    let r = dev_router([f]);
    let mut c = ev("batch");
    c.events = Some(vec![c.event.clone(), c.event.clone(), c.event.clone()]);
    let a = call(&r, "test-app-batch", "step", &c).await;
    assert_eq!((a.status, a.body.clone()), (200, json!(3)));
}

#[tokio::test]
async fn a_step_future_spawned_on_another_task_still_completes_the_call() {
    let f = on("spawned")
        .build(|ctx: Context| async move {
            let handle = tokio::spawn(ctx.step.run("elsewhere", || async { Ok(5_u8) }));
            let v = handle.await.map_err(|e| Error::new(e.to_string()))??;
            Ok(v)
        })
        .expect("valid");
    let r = dev_router([f]);
    let a = tokio::time::timeout(
        Duration::from_secs(5),
        call(&r, "test-app-spawned", "step", &ev("spawned")),
    )
    .await
    .expect("the call must not hang");
    assert_eq!(a.single_op()["data"], 5);
    let a = call(
        &r,
        "test-app-spawned",
        "step",
        &ev("spawned").done("elsewhere", json!(5)),
    )
    .await;
    assert_eq!((a.status, a.body.clone()), (200, json!(5)));
}

#[tokio::test]
async fn a_running_step_abandoned_by_select_is_reported_instead_of_hanging() {
    let f = on("abandon")
        .build(|ctx: Context| async move {
            let slow = ctx.step.run("slow", || async {
                std::future::pending::<()>().await;
                Ok(1_u8)
            });
            // The step starts running, then the timer wins and the step future is dropped.
            tokio::select! {
                r = slow => Ok(r?),
                () = tokio::time::sleep(Duration::from_millis(20)) => Ok(0),
            }
        })
        .expect("valid");
    let r = dev_router([f]);
    let a = tokio::time::timeout(
        Duration::from_secs(5),
        call(&r, "test-app-abandon", "step", &ev("abandon")),
    )
    .await
    .expect("the call must not hang");
    // Like the JS SDK, a step the function found but did not see through is reported.
    let op = a.single_op();
    assert_eq!(op["op"], "StepPlanned");
    assert_eq!(op["id"], hash("slow"));
}
