//! The in-process test engine: drives one function through an SDK's real serve handler (any
//! [`tower::Service`], e.g. an `axum::Router`) with no sockets, using the same executor as the
//! server and a manual clock that jumps over sleeps, backoff and timeouts.
//!
//! Steps can be mocked by id: a mocked step is never executed; its result is memoised as if it
//! had run (`{data}` for run steps and invokes, the event or `null` for waits, `null` for
//! sleeps), so the function continues from it. While a run has mocks, every call is made with
//! `disable_immediate_execution`, so the SDK plans steps instead of running them at once and the
//! engine can substitute the mocked ones.
//!
//! A unit test of a function written with this workspace's Rust SDK (`inngest`): an event in,
//! one step's output mocked, another step's error mocked, a real step that fails once and is
//! retried on the manual clock, and the outcome and step history out.
//!
//! ```
//! use inngest::{Context, Error, Function, Inngest, Trigger};
//! use inngest_local::RunStatus;
//! use inngest_local::testing::{TestEngine, TestRun};
//! use serde_json::{Value, json};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! // The app as in production, with a client configured from code only (dev mode: unsigned).
//! let client = Inngest::builder("billing").without_env().dev().build().unwrap();
//! let charge = Function::builder("charge")
//!     .trigger(Trigger::event("billing/charge.requested"))
//!     .build(|ctx: Context| async move {
//!         let attempt = ctx.attempt;
//!         let amount = ctx.event.data["pence"].as_i64().unwrap_or(0);
//!         let customer: Value = ctx
//!             .step
//!             .run("load-customer", || async {
//!                 Err::<Value, Error>(Error::new("no database in a unit test"))
//!             })
//!             .await?;
//!         let receipt: String = ctx
//!             .step
//!             .run("charge-card", move || async move {
//!                 if attempt == 0 {
//!                     return Err(Error::new("payment provider timed out"));
//!                 }
//!                 Ok(format!("rcpt-{}-{amount}", customer["id"]))
//!             })
//!             .await?;
//!         // A failed email does not fail the charge.
//!         let emailed = ctx.step.run("email-receipt", || async { Ok(true) }).await.unwrap_or(false);
//!         Ok(json!({"receipt": receipt, "emailed": emailed}))
//!     })
//!     .unwrap();
//! let app = inngest::serve::router(client, [charge]);
//!
//! let outcome = TestEngine::new(app)
//!     .execute(
//!         TestRun::new("billing-charge")
//!             .event(json!({"name": "billing/charge.requested", "data": {"pence": 1250}}))
//!             .step_output("load-customer", json!({"id": 7}))       // never executed
//!             .step_error("email-receipt", json!({"name": "Error", "message": "SMTP down"}))
//!             .retries(2),                                         // up to 3 attempts per step
//!     )
//!     .await
//!     .unwrap();
//!
//! assert_eq!(outcome.run.status, RunStatus::Completed);
//! assert_eq!(outcome.output(), Some(&json!({"receipt": "rcpt-7-1250", "emailed": false})));
//! let card = outcome.run.step("charge-card").unwrap();
//! let attempts: Vec<&str> = card.attempts.iter().map(|a| a.outcome.as_str()).collect();
//! assert_eq!(attempts, ["error", "ok"]);
//! // Inngest's first backoff (15 s plus up to 30 s of jitter) passed on the manual clock.
//! assert!(card.attempts[0].retry_in_ms.unwrap() >= 15_000);
//! assert!(outcome.run.step("load-customer").unwrap().attempts.is_empty());
//! # }
//! ```
//!
//! Any other SDK's handler works the same way, as long as it is a `tower::Service` taking
//! `http::Request<axum::body::Body>`.

use std::collections::HashMap;
use std::error::Error as StdError;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use chrono::Utc;
use http::{Request, Response};
use serde_json::{Value, json};
use sha1::{Digest, Sha1};
use tokio::sync::watch;
use tower::Service;

use crate::backoff::RetryPolicy;
use crate::clock::{Clock, ManualClock};
use crate::executor::{Core, Mocks, Settings};
use crate::function::{DEFAULT_RETRIES, FunctionDef};
use crate::run::RunRecord;
use crate::transport::ServiceTransport;

/// Inngest's hashed step id: lowercase hex SHA-1 of the id, with `:<n>` for the n-th repeat.
///
/// ```
/// assert_eq!(inngest_local::testing::step_hash("hello", 0), "aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d");
/// assert_eq!(inngest_local::testing::step_hash("hello", 1), "20a9bb9477c4ac565cf084d1614c58bbf0a523ff");
/// ```
pub fn step_hash(id: &str, index: usize) -> String {
    let text = if index == 0 {
        id.to_owned()
    } else {
        format!("{id}:{index}")
    };
    hex::encode(Sha1::digest(text.as_bytes()))
}

/// One run to drive.
#[derive(Debug, Clone)]
pub struct TestRun {
    function_id: String,
    event: Value,
    retries: u32,
    mocks: HashMap<String, Value>,
    timeout: Duration,
}

impl TestRun {
    /// A run of the function with composite id `function_id` (`<app>-<fn>`), triggered by an
    /// empty `test/event` unless [`TestRun::event`] says otherwise.
    pub fn new(function_id: impl Into<String>) -> Self {
        Self {
            function_id: function_id.into(),
            event: json!({"name": "test/event", "data": {}}),
            retries: DEFAULT_RETRIES,
            mocks: HashMap::new(),
            timeout: Duration::from_secs(30),
        }
    }

    /// The trigger event.
    pub fn event(mut self, event: Value) -> Self {
        self.event = event;
        self
    }

    /// Retries per step (attempts = retries + 1); Inngest's default is 4.
    pub fn retries(mut self, retries: u32) -> Self {
        self.retries = retries;
        self
    }

    /// Mocks run step (or invoke) `step_id` to return `output`.
    pub fn step_output(mut self, step_id: &str, output: Value) -> Self {
        self.mocks
            .insert(step_hash(step_id, 0), json!({ "data": output }));
        self
    }

    /// Mocks run step (or invoke) `step_id` to fail for good with `error` (`{name, message}`).
    pub fn step_error(mut self, step_id: &str, error: Value) -> Self {
        self.mocks
            .insert(step_hash(step_id, 0), json!({ "error": error }));
        self
    }

    /// Mocks wait `step_id` to receive `event` (or time out with `None`), or sleep `step_id` to
    /// end at once (`None`).
    pub fn step_event(mut self, step_id: &str, event: Option<Value>) -> Self {
        self.mocks
            .insert(step_hash(step_id, 0), event.unwrap_or(Value::Null));
        self
    }

    /// Mocks the step whose hashed id is `hashed_id` with a raw memo value.
    pub fn raw_memo(mut self, hashed_id: impl Into<String>, memo: Value) -> Self {
        self.mocks.insert(hashed_id.into(), memo);
        self
    }

    /// Real-time limit for the whole run (default 30 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

/// Why a test run could not be completed.
#[derive(Debug, thiserror::Error)]
pub enum TestError {
    /// The run did not finish in time (a step blocked, or the handler never answered).
    #[error("the run did not finish within {timeout:?}; its last state: {run}")]
    Timeout {
        /// The limit.
        timeout: Duration,
        /// The run as it was.
        run: String,
    },
    /// The run could not be started.
    #[error("function {0} could not be started")]
    NotStarted(String),
}

/// How the run ended, with its whole history.
#[derive(Debug, Clone)]
pub struct TestOutcome {
    /// The run: status, output/error, steps with their attempts, every call.
    pub run: RunRecord,
}

impl TestOutcome {
    /// The function's return value, when it completed.
    pub fn output(&self) -> Option<&Value> {
        self.run.output.as_ref()
    }

    /// The function's error, when it failed.
    pub fn error(&self) -> Option<&Value> {
        self.run.error.as_ref()
    }
}

/// Drives functions of an in-process serve handler.
pub struct TestEngine<S> {
    service: S,
    base_url: String,
    path: String,
    others: Vec<(String, u32)>,
}

impl<S> std::fmt::Debug for TestEngine<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestEngine")
            .field("base_url", &self.base_url)
            .field("path", &self.path)
            .finish()
    }
}

impl<S> TestEngine<S>
where
    S: Service<Request<Body>, Response = Response<Body>> + Clone + Send + Sync + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn StdError + Send + Sync>>,
{
    /// Wraps a serve handler mounted at `/api/inngest`.
    pub fn new(service: S) -> Self {
        Self {
            service,
            base_url: "http://inngest-local.test".into(),
            path: "/api/inngest".into(),
            others: Vec::new(),
        }
    }

    /// Makes another function of the same handler available to `step.invoke` (unmocked invokes
    /// run it for real through the same handler).
    pub fn with_function(mut self, function_id: impl Into<String>, retries: u32) -> Self {
        self.others.push((function_id.into(), retries));
        self
    }

    /// Path the handler serves (default `/api/inngest`).
    pub fn serve_path(mut self, path: impl Into<String>) -> Self {
        self.path = path.into();
        self
    }

    /// Runs one function to its end and returns the outcome.
    pub async fn execute(&self, run: TestRun) -> Result<TestOutcome, TestError> {
        let clock = Arc::new(ManualClock::auto_advancing(Utc::now()));
        let transport = Arc::new(ServiceTransport::new(self.service.clone()));
        let settings = Settings {
            retry: RetryPolicy::Table,
            signing_key: None,
            // No HTTP API in process: the SDK could not fetch state, so never ask it to.
            use_api_threshold: usize::MAX,
            user_agent: format!("inngest-local-test/{}", env!("CARGO_PKG_VERSION")),
        };
        let core = Core::new(clock.clone() as Arc<dyn Clock>, transport, settings, None);
        let url_for = |id: &str| {
            let mut url =
                url::Url::parse(&self.base_url).expect("the base URL is a constant, valid URL");
            url.set_path(&self.path);
            url.query_pairs_mut()
                .append_pair("fnId", id)
                .append_pair("stepId", "step");
            url
        };
        for (id, retries) in &self.others {
            core.define(FunctionDef::direct(id, url_for(id), *retries));
        }
        core.define(FunctionDef::direct(
            &run.function_id,
            url_for(&run.function_id),
            run.retries,
        ));
        let (stop_tx, stop_rx) = watch::channel(false);
        let dispatcher = tokio::spawn(Arc::clone(&core).dispatch(stop_rx));
        let mocks = Mocks { steps: run.mocks };
        let run_id = core
            .start_direct(
                &run.function_id,
                run.event,
                (!mocks.steps.is_empty()).then_some(mocks),
            )
            .ok_or_else(|| TestError::NotStarted(run.function_id.clone()))?;
        let result = core.wait_for(&run_id, run.timeout).await;
        let _ = stop_tx.send(true);
        let _ = dispatcher.await;
        match result {
            Some(run) => Ok(TestOutcome { run }),
            None => Err(TestError::Timeout {
                timeout: run.timeout,
                run: core
                    .run(&run_id)
                    .map(|r| format!("{:?} after {} calls", r.status, r.calls.len()))
                    .unwrap_or_default(),
            }),
        }
    }
}
