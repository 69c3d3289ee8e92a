//! The in-process test engine driving the Rust SDK's real serve handler (`inngest::serve::router`,
//! an `axum::Router`) with no sockets and a manual clock: how a user unit-tests a function (an
//! event in, mocked step outputs and errors, attempt control; the outcome and the step history
//! out).

use std::time::Duration;

use inngest::{Context, Error, Event, Function, Inngest, Invoke, Trigger, WaitForEvent};
use inngest_local::RunStatus;
use inngest_local::testing::{TestEngine, TestRun, step_hash};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

#[derive(Debug, Deserialize)]
struct SubmitPeriod {
    business_id: String,
    period: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct Credential {
    nino: String,
}

/// A client configured from code only, so the process environment cannot change the test.
fn client() -> Inngest {
    Inngest::builder("tax-app")
        .without_env()
        .dev()
        .build()
        .unwrap()
}

/// The function under test: load a credential, call HMRC (fails until `ctx.attempt` reaches
/// `succeed_on`), then send a notification whose failure is tolerated.
fn submit_period(succeed_on: u32) -> Function {
    Function::builder("submit-period")
        .trigger(Trigger::event("mtd/period.submit"))
        .build(move |ctx: Context<SubmitPeriod>| async move {
            let attempt = ctx.attempt;
            let business = ctx.event.data.business_id.clone();
            let period = ctx.event.data.period.clone();
            let credential: Credential = ctx
                .step
                .run("load-credential", || async {
                    Err::<Credential, Error>(Error::new("the credential store is not available"))
                })
                .await?;
            let receipt: String = ctx
                .step
                .run("call-hmrc", move || async move {
                    if attempt < succeed_on {
                        return Err(Error::new(format!(
                            "HMRC answered 503 on attempt {attempt}"
                        )));
                    }
                    Ok(format!("{}/{business}/{period}", credential.nino))
                })
                .await?;
            let notified = ctx
                .step
                .run("notify", || async { Ok(true) })
                .await
                .unwrap_or(false);
            Ok(json!({"receipt": receipt, "notified": notified}))
        })
        .unwrap()
}

fn submit_event() -> Value {
    json!({"name": "mtd/period.submit", "data": {"business_id": "XAIS123", "period": "2025-Q1"}})
}

#[tokio::test]
async fn rust_sdk_function_runs_in_process_with_mocked_steps_and_retries() {
    let app = inngest::serve::router(client(), [submit_period(2)]);
    let outcome = TestEngine::new(app)
        .execute(
            TestRun::new("tax-app-submit-period")
                .event(submit_event())
                .step_output("load-credential", json!({"nino": "AA123456A"}))
                .step_error(
                    "notify",
                    json!({"name": "Error", "message": "mail server down"}),
                )
                .retries(3),
        )
        .await
        .unwrap();

    assert_eq!(outcome.run.status, RunStatus::Completed);
    assert_eq!(
        outcome.output(),
        Some(&json!({"receipt": "AA123456A/XAIS123/2025-Q1", "notified": false}))
    );
    // Mocked steps were memoised, never executed.
    let credential = outcome.run.step("load-credential").unwrap();
    assert!(credential.memo_from_outside);
    assert!(credential.attempts.is_empty());
    let notify = outcome.run.step("notify").unwrap();
    assert!(notify.memo_from_outside);
    assert_eq!(
        outcome.run.memo[&notify.id]["error"]["message"],
        "mail server down"
    );
    // The real step failed twice, then succeeded, with Inngest's backoff on the manual clock.
    let hmrc = outcome.run.step("call-hmrc").unwrap();
    let attempts: Vec<(u32, &str)> = hmrc
        .attempts
        .iter()
        .map(|a| (a.attempt, a.outcome.as_str()))
        .collect();
    assert_eq!(attempts, [(0, "error"), (1, "error"), (2, "ok")]);
    assert_eq!(
        hmrc.attempts[1].error.as_ref().unwrap()["message"],
        "HMRC answered 503 on attempt 1"
    );
    assert!((15_000..=45_000).contains(&hmrc.attempts[0].retry_in_ms.unwrap()));
    assert!((30_000..=60_000).contains(&hmrc.attempts[1].retry_in_ms.unwrap()));
    // Steps in the order the function reached them.
    assert_eq!(
        outcome.run.stack,
        [
            step_hash("load-credential", 0),
            step_hash("call-hmrc", 0),
            step_hash("notify", 0)
        ]
    );
    // With mocks, every call plans instead of running at once, so only the real step was targeted.
    assert!(
        outcome
            .run
            .calls
            .iter()
            .all(|c| c.disable_immediate_execution)
    );
    assert!(
        outcome
            .run
            .calls
            .iter()
            .all(|c| c.step_id == "step" || c.step_id == hmrc.id)
    );
}

#[tokio::test]
async fn rust_sdk_step_fails_for_good_when_the_attempts_allowed_run_out() {
    let app = inngest::serve::router(client(), [submit_period(5)]);
    let outcome = TestEngine::new(app)
        .execute(
            TestRun::new("tax-app-submit-period")
                .event(submit_event())
                .step_output("load-credential", json!({"nino": "AA123456A"}))
                .retries(1),
        )
        .await
        .unwrap();

    assert_eq!(outcome.run.status, RunStatus::Failed);
    let hmrc = outcome.run.step("call-hmrc").unwrap();
    let attempts: Vec<&str> = hmrc.attempts.iter().map(|a| a.outcome.as_str()).collect();
    assert_eq!(attempts, ["error", "failed"], "retries(1): two attempts");
    assert!(hmrc.attempts[1].retry_in_ms.is_none());
    // The failure is memoised as {error}; the function let it escape with `?`.
    assert_eq!(
        outcome.run.memo[&hmrc.id]["error"]["message"],
        "HMRC answered 503 on attempt 1"
    );
    assert_eq!(
        outcome.error().unwrap()["message"],
        "HMRC answered 503 on attempt 1"
    );
    assert!(
        outcome.run.step("notify").is_none(),
        "nothing after the failure"
    );
}

#[tokio::test]
async fn rust_sdk_mocked_non_retriable_error_fails_the_run_without_running_later_steps() {
    let app = inngest::serve::router(client(), [submit_period(0)]);
    let outcome = TestEngine::new(app)
        .execute(
            TestRun::new("tax-app-submit-period")
                .event(submit_event())
                .step_error(
                    "load-credential",
                    json!({"name": "NonRetriableError", "message": "invalid_grant"}),
                ),
        )
        .await
        .unwrap();

    assert_eq!(outcome.run.status, RunStatus::Failed);
    assert_eq!(outcome.error().unwrap()["name"], "NonRetriableError");
    assert_eq!(outcome.error().unwrap()["message"], "invalid_grant");
    assert!(outcome.run.step("call-hmrc").is_none());
    // The SDK planned the step, the engine memoised the mock instead of running it, and the
    // next call replayed the failure and failed the run at once (400, no retry).
    let calls = &outcome.run.calls;
    assert_eq!(
        calls[0].ops,
        [format!("StepPlanned:{}", step_hash("load-credential", 0))]
    );
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[1].status, Some(400));
    assert!(calls.iter().all(|c| c.retry_in_ms.is_none()));
}

#[derive(Debug, Deserialize)]
struct Amount {
    pence: i64,
}

/// Sleeps a month, waits for an approval, then invokes `vat-for` for the amount.
fn monthly_return() -> [Function; 2] {
    let vat = Function::builder("vat-for")
        .trigger(Trigger::event("mtd/vat.requested"))
        .build(|ctx: Context<Amount>| async move { Ok(ctx.event.data.pence / 5) })
        .unwrap();
    let call = vat.clone();
    let monthly = Function::builder("monthly-return")
        .trigger(Trigger::event("mtd/month.closed"))
        .build(move |ctx: Context| {
            let call = call.clone();
            async move {
                ctx.step
                    .sleep("wait-for-month-end", Duration::from_secs(30 * 86_400))
                    .await?;
                let approval: Option<Event> = ctx
                    .step
                    .wait_for_event(
                        "approval",
                        WaitForEvent::new("mtd/return.approved", Duration::from_secs(7 * 86_400))
                            .matching("data.business_id"),
                    )
                    .await?;
                let Some(approval) = approval else {
                    return Ok(json!({"status": "not approved"}));
                };
                let vat: i64 = ctx
                    .step
                    .invoke(
                        "compute-vat",
                        Invoke::function(&call, json!({"pence": approval.data["pence"]})),
                    )
                    .await?;
                Ok(json!({"status": "filed", "vat": vat}))
            }
        })
        .unwrap();
    [monthly, vat]
}

#[tokio::test]
async fn rust_sdk_sleeps_pass_on_the_manual_clock_and_invokes_run_the_other_function() {
    let app = inngest::serve::router(client(), monthly_return());
    let approved =
        json!({"name": "mtd/return.approved", "data": {"business_id": "XAIS123", "pence": 1000}});
    let outcome = TestEngine::new(app)
        .with_function("tax-app-vat-for", 0)
        .execute(
            TestRun::new("tax-app-monthly-return")
                .event(json!({"name": "mtd/month.closed", "data": {"business_id": "XAIS123"}}))
                .step_event("approval", Some(approved)),
        )
        .await
        .unwrap();

    assert_eq!(outcome.run.status, RunStatus::Completed);
    assert_eq!(
        outcome.output(),
        Some(&json!({"status": "filed", "vat": 200}))
    );
    let sleep = outcome.run.step("wait-for-month-end").unwrap();
    assert_eq!(sleep.op, "Sleep");
    assert_eq!((sleep.until.unwrap() - sleep.first_seen_at).num_days(), 30);
    assert!(outcome.run.step("approval").unwrap().memo_from_outside);
    let invoke = outcome.run.step("compute-vat").unwrap();
    assert_eq!(invoke.op, "InvokeFunction");
    assert_eq!(outcome.run.memo[&invoke.id], json!({"data": 200}));
}

#[tokio::test]
async fn rust_sdk_unmocked_wait_times_out_on_the_manual_clock() {
    let app = inngest::serve::router(client(), monthly_return());
    let outcome = TestEngine::new(app)
        .execute(
            TestRun::new("tax-app-monthly-return")
                .event(json!({"name": "mtd/month.closed", "data": {"business_id": "XAIS123"}})),
        )
        .await
        .unwrap();

    assert_eq!(outcome.run.status, RunStatus::Completed);
    assert_eq!(outcome.output(), Some(&json!({"status": "not approved"})));
    let wait = outcome.run.step("approval").unwrap();
    assert_eq!(wait.op, "WaitForEvent");
    assert_eq!((wait.until.unwrap() - wait.first_seen_at).num_days(), 7);
    assert_eq!(
        outcome.run.memo[&wait.id],
        Value::Null,
        "a timed-out wait memoises null"
    );
}
