//! The in-process test engine driving a minimal hand-written serve handler (an `axum::Router`
//! that speaks the call protocol) with no sockets and a manual clock.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use inngest_local::RunStatus;
use inngest_local::testing::{TestEngine, TestRun, step_hash};
use serde_json::{Value, json};

#[derive(Clone)]
enum Step {
    /// A run step that throws on attempts below `fail_below`, then returns `output`.
    Run {
        id: &'static str,
        fail_below: u32,
        output: Value,
    },
    /// `step.sleep(id, duration)`.
    Sleep {
        id: &'static str,
        duration: &'static str,
    },
}

/// A scripted SDK: runs its steps in order with the protocol's rules and logs every request.
#[derive(Clone)]
struct ScriptSdk {
    steps: Arc<Vec<Step>>,
    log: Arc<Mutex<Vec<Value>>>,
}

impl ScriptSdk {
    fn new(steps: Vec<Step>) -> Self {
        Self {
            steps: Arc::new(steps),
            log: Arc::default(),
        }
    }

    fn router(&self) -> Router {
        Router::new()
            .route("/api/inngest", post(handle))
            .with_state(self.clone())
    }

    fn requests(&self) -> Vec<Value> {
        self.log.lock().unwrap().clone()
    }
}

fn answer(status: StatusCode, no_retry: Option<bool>, body: Value) -> Response {
    let mut resp = (status, body.to_string()).into_response();
    let h = resp.headers_mut();
    h.insert("x-inngest-sdk", "script:v0.0.0".parse().unwrap());
    h.insert("x-inngest-req-version", "2".parse().unwrap());
    h.insert("content-type", "application/json".parse().unwrap());
    if let Some(n) = no_retry {
        h.insert("x-inngest-no-retry", n.to_string().parse().unwrap());
    }
    resp
}

async fn handle(State(sdk): State<ScriptSdk>, body: Bytes) -> Response {
    let req: Value = serde_json::from_slice(&body).unwrap();
    sdk.log.lock().unwrap().push(req.clone());
    let ctx = &req["ctx"];
    let target = ctx["step_id"].as_str().unwrap();
    let attempt = ctx["attempt"].as_u64().unwrap() as u32;
    let max = ctx["max_attempts"].as_u64().unwrap() as u32;
    let plan_only = ctx["disable_immediate_execution"].as_bool().unwrap();
    let mut outputs = Vec::new();
    for step in sdk.steps.iter() {
        let id = match step {
            Step::Run { id, .. } | Step::Sleep { id, .. } => *id,
        };
        let hashed = step_hash(id, 0);
        if let Some(memo) = req["steps"].get(&hashed) {
            if let Some(error) = memo.get("error") {
                return answer(StatusCode::BAD_REQUEST, Some(true), error.clone());
            }
            outputs.push(memo.get("data").cloned().unwrap_or(memo.clone()));
            continue;
        }
        return match step {
            Step::Sleep { duration, .. } => answer(
                StatusCode::PARTIAL_CONTENT,
                None,
                json!([{"op": "Sleep", "id": hashed, "name": duration, "displayName": id}]),
            ),
            Step::Run {
                fail_below, output, ..
            } => {
                let run_now = target == hashed || (target == "step" && !plan_only);
                if !run_now {
                    return answer(
                        StatusCode::PARTIAL_CONTENT,
                        None,
                        json!([{"op": "StepPlanned", "id": hashed, "name": id, "displayName": id}]),
                    );
                }
                if attempt < *fail_below {
                    let error = json!({"name": "Error", "message": format!("{id} failed on attempt {attempt}")});
                    let last = attempt + 1 >= max;
                    let op = if last { "StepFailed" } else { "StepError" };
                    answer(
                        StatusCode::PARTIAL_CONTENT,
                        Some(last),
                        json!([{"op": op, "id": hashed, "name": id, "displayName": id, "error": error}]),
                    )
                } else {
                    answer(
                        StatusCode::PARTIAL_CONTENT,
                        None,
                        json!([{"op": "StepRun", "id": hashed, "name": id, "displayName": id, "data": output}]),
                    )
                }
            }
        };
    }
    answer(StatusCode::OK, None, Value::Array(outputs))
}

fn run_step(id: &'static str, output: Value) -> Step {
    Step::Run {
        id,
        fail_below: 0,
        output,
    }
}

#[tokio::test]
async fn test_engine_drives_a_handler_through_its_steps_without_sockets() {
    let sdk = ScriptSdk::new(vec![
        run_step("fetch", json!({"n": 1})),
        run_step("store", json!("saved")),
    ]);
    let outcome = TestEngine::new(sdk.router())
        .execute(
            TestRun::new("app-import")
                .event(json!({"name": "app/import", "data": {"file": "x.csv"}})),
        )
        .await
        .unwrap();
    assert_eq!(outcome.run.status, RunStatus::Completed);
    assert_eq!(outcome.output(), Some(&json!([{"n": 1}, "saved"])));
    let requests = sdk.requests();
    assert_eq!(requests.len(), 3);
    assert_eq!(requests[0]["event"]["data"]["file"], "x.csv");
    assert_eq!(requests[0]["version"], -1);
    assert_eq!(
        requests[1]["version"], 2,
        "the engine echoes the SDK's request version"
    );
    assert_eq!(
        requests[2]["ctx"]["stack"]["stack"],
        json!([step_hash("fetch", 0), step_hash("store", 0)])
    );
    assert!(
        requests.iter().all(|r| r["ctx"].get("fn_id").is_none()),
        "no ctx.fn_id: classic execution"
    );
}

#[tokio::test]
async fn test_engine_retries_with_inngest_backoff_on_a_manual_clock() {
    let sdk = ScriptSdk::new(vec![
        Step::Run {
            id: "call-hmrc",
            fail_below: 2,
            output: json!("receipt"),
        },
        Step::Sleep {
            id: "cool-down",
            duration: "7d",
        },
        run_step("notify", json!(true)),
    ]);
    let outcome = TestEngine::new(sdk.router())
        .execute(TestRun::new("app-submit"))
        .await
        .unwrap();
    assert_eq!(outcome.run.status, RunStatus::Completed);
    let step = outcome.run.step("call-hmrc").unwrap();
    let attempts: Vec<(u32, &str)> = step
        .attempts
        .iter()
        .map(|a| (a.attempt, a.outcome.as_str()))
        .collect();
    assert_eq!(attempts, [(0, "error"), (1, "error"), (2, "ok")]);
    assert!((15_000..=45_000).contains(&step.attempts[0].retry_in_ms.unwrap()));
    assert!((30_000..=60_000).contains(&step.attempts[1].retry_in_ms.unwrap()));
    // The week-long sleep passed on the manual clock: the next call is 7 days later in engine time.
    let sleep = outcome.run.step("cool-down").unwrap();
    assert_eq!((sleep.until.unwrap() - sleep.first_seen_at).num_days(), 7);
    let attempts_seen: Vec<u64> = sdk
        .requests()
        .iter()
        .map(|r| r["ctx"]["attempt"].as_u64().unwrap())
        .collect();
    assert_eq!(attempts_seen, [0, 1, 2, 0, 0, 0]);
}

#[tokio::test]
async fn test_engine_uses_mocked_step_results_without_executing_them() {
    let sdk = ScriptSdk::new(vec![
        Step::Run {
            id: "charge-card",
            fail_below: 99,
            output: json!("real charge"),
        },
        run_step("email", json!("sent")),
    ]);
    let outcome = TestEngine::new(sdk.router())
        .execute(TestRun::new("app-checkout").step_output("charge-card", json!({"charged": 42})))
        .await
        .unwrap();
    assert_eq!(outcome.run.status, RunStatus::Completed);
    assert_eq!(outcome.output(), Some(&json!([{"charged": 42}, "sent"])));
    let charge = outcome.run.step("charge-card").unwrap();
    assert!(charge.memo_from_outside);
    assert!(charge.attempts.is_empty());
    let hashed = step_hash("charge-card", 0);
    assert!(
        sdk.requests()
            .iter()
            .all(|r| r["ctx"]["step_id"] != hashed.as_str()),
        "the mocked step was never targeted"
    );
    assert!(
        sdk.requests()
            .iter()
            .all(|r| r["ctx"]["disable_immediate_execution"] == true)
    );
}

#[tokio::test]
async fn test_engine_mocked_step_error_reaches_the_function() {
    let sdk = ScriptSdk::new(vec![run_step("refresh-token", json!("token"))]);
    let outcome = TestEngine::new(sdk.router())
        .execute(TestRun::new("app-refresh").step_error(
            "refresh-token",
            json!({"name": "NonRetriableError", "message": "invalid_grant"}),
        ))
        .await
        .unwrap();
    assert_eq!(outcome.run.status, RunStatus::Failed);
    assert_eq!(outcome.error().unwrap()["message"], "invalid_grant");
}

#[tokio::test]
async fn test_engine_fails_the_step_when_attempts_run_out() {
    let sdk = ScriptSdk::new(vec![Step::Run {
        id: "flaky",
        fail_below: 10,
        output: json!(null),
    }]);
    let outcome = TestEngine::new(sdk.router())
        .execute(TestRun::new("app-flaky").retries(1))
        .await
        .unwrap();
    assert_eq!(outcome.run.status, RunStatus::Failed);
    let step = outcome.run.step("flaky").unwrap();
    let attempts: Vec<&str> = step.attempts.iter().map(|a| a.outcome.as_str()).collect();
    assert_eq!(attempts, ["error", "failed"]);
    assert_eq!(
        outcome.run.memo[&step.id]["error"]["message"],
        "flaky failed on attempt 1"
    );
}

#[tokio::test]
async fn test_engine_mocks_sleeps_and_waits_by_id() {
    let sdk = ScriptSdk::new(vec![
        Step::Sleep {
            id: "nap",
            duration: "30d",
        },
        run_step("after", json!(1)),
    ]);
    let outcome = TestEngine::new(sdk.router())
        .execute(TestRun::new("app-nap").step_event("nap", None))
        .await
        .unwrap();
    assert_eq!(outcome.run.status, RunStatus::Completed);
    let nap = outcome.run.step("nap").unwrap();
    assert!(nap.memo_from_outside);
    assert!(nap.until.is_none(), "a mocked sleep never parks the run");
}
