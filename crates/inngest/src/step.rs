//! Step tools: durable units of work, sleeps, waits and invocations.
//!
//! Each tool returns a future. A step that already completed in an earlier call resolves at
//! once with its memoised result (decoded into the type the code asks for). A step that still
//! has to happen makes its future wait **forever**: the SDK stops polling the function and
//! tells Inngest what to do next, and a later call replays the function up to that point.
//! So the function's `?` only ever sees real errors:
//!
//! ```
//! use std::time::Duration;
//! use inngest::{Context, Error, Function, Trigger};
//!
//! let f = Function::builder("onboarding")
//!     .trigger(Trigger::event("app/user.signed_up"))
//!     .build(|ctx: Context| async move {
//!         let account: u64 = ctx.step.run("create-account", || async { Ok(42) }).await?;
//!         ctx.step.sleep("wait-a-day", Duration::from_secs(86_400)).await?;
//!         let (a, b) = futures::try_join!(
//!             ctx.step.run("email", move || async move { Ok(format!("mailed {account}")) }),
//!             ctx.step.run("sms", || async { Ok::<_, Error>("texted".to_owned()) }),
//!         )?;
//!         Ok(vec![a, b])
//!     })
//!     .unwrap();
//! # let _ = f;
//! ```
//!
//! Step ids must be stable across calls; a repeated id is numbered (`id`, `id:1`, `id:2`, ...)
//! in the order the calls happen, like the official SDKs do.

use std::any::type_name;
use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};
use tracing::Instrument;

use crate::error::{Error, StepError};
use crate::event::{Event, SendError, SendEventResponse};
use crate::exec::{OpName, Registration, Resolution, Resolved, Shared, StepKind};
use crate::function::{Function, composite_id};
use crate::op::Timing;
use crate::time::{iso, time_str};

/// The step tools of one call (`ctx.step`). Cheap to clone.
#[derive(Clone)]
pub struct Step {
    shared: Arc<Shared>,
}

impl fmt::Debug for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Step")
            .field("function_id", &self.shared.info.function_id)
            .field("run_id", &self.shared.info.run_id)
            .finish()
    }
}

/// Options of [`Step::wait_for_event`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitForEvent {
    event: String,
    timeout: Duration,
    if_expr: Option<String>,
}

impl WaitForEvent {
    /// Waits up to `timeout` for an event named `event`.
    pub fn new(event: impl Into<String>, timeout: Duration) -> Self {
        Self {
            event: event.into(),
            timeout,
            if_expr: None,
        }
    }

    /// Only an event for which this CEL expression is true matches (`event` is the run's
    /// triggering event, `async` the awaited one), e.g. `async.data.id == event.data.id`.
    #[must_use]
    pub fn if_expr(mut self, cel: impl Into<String>) -> Self {
        self.if_expr = Some(cel.into());
        self
    }

    /// Only an event whose field at `path` equals the triggering event's matches:
    /// `matching("data.id")` is `event.data.id == async.data.id`.
    #[must_use]
    pub fn matching(mut self, path: &str) -> Self {
        self.if_expr = Some(format!("event.{path} == async.{path}"));
        self
    }
}

/// Options of [`Step::invoke`]: which function to call and with what data.
#[derive(Debug, Clone, PartialEq)]
pub struct Invoke {
    target: Target,
    data: Value,
    v: Option<String>,
    timeout: Option<Duration>,
}

#[derive(Debug, Clone, PartialEq)]
enum Target {
    /// A function of this app, by its own id.
    Local(String),
    /// A composite id (`<app id>-<function id>`).
    Composite(String),
}

impl Invoke {
    /// Invokes a function served by this same app.
    pub fn function(function: &Function, data: impl Serialize) -> Self {
        Self::local(function.id(), data)
    }

    /// Invokes a function of this same app by its id (without the app prefix).
    pub fn local(function_id: impl Into<String>, data: impl Serialize) -> Self {
        Self::with_target(Target::Local(function_id.into()), data)
    }

    /// Invokes a function of another app.
    pub fn app(app_id: &str, function_id: &str, data: impl Serialize) -> Self {
        Self::with_target(Target::Composite(composite_id(app_id, function_id)), data)
    }

    fn with_target(target: Target, data: impl Serialize) -> Self {
        Self {
            target,
            data: serde_json::to_value(data).unwrap_or(Value::Null),
            v: None,
            timeout: None,
        }
    }

    /// Fails the step with `InngestInvokeTimeoutError` if the invoked run takes longer.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Sets the event version of the invocation payload.
    #[must_use]
    pub fn v(mut self, v: impl Into<String>) -> Self {
        self.v = Some(v.into());
        self
    }
}

impl Step {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }

    fn register(&self, user_id: &str, kind: StepKind, name: OpName, opts: Value) -> Guard {
        let idx = self.shared.register(Registration {
            user_id: user_id.to_owned(),
            kind,
            name,
            opts,
        });
        Guard {
            shared: self.shared.clone(),
            idx,
            done: false,
        }
    }

    /// Runs `f` once, durably: its output is stored by Inngest and returned by every later
    /// call. An error is retried per the function's retries; a [`crate::NonRetriableError`]
    /// fails the step at once. When the step has failed for good, the future resolves to a
    /// [`StepError`].
    ///
    /// `T` must round-trip through JSON (it is stored and decoded on later calls).
    pub fn run<T, F, Fut>(
        &self,
        id: &str,
        f: F,
    ) -> impl Future<Output = Result<T, StepError>> + Send + 'static
    where
        T: Serialize + DeserializeOwned + Send + 'static,
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, Error>> + Send + 'static,
    {
        let mut guard = self.register(id, StepKind::Run, OpName::UserId, json!({}));
        async move {
            match guard.resolve().await {
                Resolution::Nested => Err(guard.nested()),
                Resolution::Memo(memo) => guard.decode(memo),
                Resolution::Execute(_) => {
                    let never = guard
                        .execute(Box::pin(async move { to_raw(f().await?) }))
                        .await;
                    match never {}
                }
            }
        }
    }

    /// Like [`Step::run`], with an input that is recorded with the step (`opts.input`) and
    /// passed to `f`. If the run is re-run from the Inngest dashboard with an edited input,
    /// `f` receives the edited value.
    pub fn run_with_input<I, T, F, Fut>(
        &self,
        id: &str,
        input: I,
        f: F,
    ) -> impl Future<Output = Result<T, StepError>> + Send + 'static
    where
        I: Serialize + DeserializeOwned + Send + 'static,
        T: Serialize + DeserializeOwned + Send + 'static,
        F: FnOnce(I) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, Error>> + Send + 'static,
    {
        let input_json = serde_json::to_value(&input).unwrap_or(Value::Null);
        let mut guard = self.register(
            id,
            StepKind::Run,
            OpName::UserId,
            json!({ "input": [input_json] }),
        );
        async move {
            match guard.resolve().await {
                Resolution::Nested => Err(guard.nested()),
                Resolution::Memo(memo) => guard.decode(memo),
                Resolution::Execute(overridden) => {
                    let step_id = guard.shared.user_id(guard.idx);
                    let never = guard
                        .execute(Box::pin(async move {
                            let input = match overridden {
                                None => input,
                                Some(raw) => decode_input::<I>(&step_id, &raw)?,
                            };
                            to_raw(f(input).await?)
                        }))
                        .await;
                    match never {}
                }
            }
        }
    }

    /// Pauses the run for `duration` (Inngest resolution: 1 second; at most a year).
    pub fn sleep(
        &self,
        id: &str,
        duration: Duration,
    ) -> impl Future<Output = Result<(), StepError>> + Send + 'static {
        self.sleep_named(id, time_str(duration))
    }

    /// Pauses the run until `at`.
    pub fn sleep_until(
        &self,
        id: &str,
        at: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), StepError>> + Send + 'static {
        self.sleep_named(id, iso(at))
    }

    fn sleep_named(
        &self,
        id: &str,
        name: String,
    ) -> impl Future<Output = Result<(), StepError>> + Send + 'static {
        let mut guard = self.register(id, StepKind::Sleep, OpName::Text(name), json!({}));
        async move {
            match guard.resolve_memo().await? {
                Resolved::Error(e) => {
                    Err(StepError::from_wire(&guard.shared.user_id(guard.idx), &e))
                }
                Resolved::Data(_) => {
                    guard.trace_memo();
                    Ok(())
                }
            }
        }
    }

    /// Waits for an event; resolves to `None` if none matched before the timeout.
    pub fn wait_for_event<T>(
        &self,
        id: &str,
        opts: WaitForEvent,
    ) -> impl Future<Output = Result<Option<Event<T>>, StepError>> + Send + 'static
    where
        T: DeserializeOwned + Send + 'static,
    {
        let mut o = Map::new();
        o.insert("timeout".into(), json!(time_str(opts.timeout)));
        if let Some(cel) = opts.if_expr {
            o.insert("if".into(), json!(cel));
        }
        let mut guard = self.register(
            id,
            StepKind::WaitForEvent,
            OpName::Text(opts.event),
            Value::Object(o),
        );
        async move {
            let memo = guard.resolve_memo().await?;
            guard.decode::<Option<Event<T>>>(memo)
        }
    }

    /// Invokes another Inngest function and waits for its return value (decoded as `T`).
    /// If the invoked run fails (or times out), resolves to a [`StepError`].
    pub fn invoke<T>(
        &self,
        id: &str,
        opts: Invoke,
    ) -> impl Future<Output = Result<T, StepError>> + Send + 'static
    where
        T: DeserializeOwned + Send + 'static,
    {
        let function_id = match opts.target {
            Target::Local(fn_id) => composite_id(self.shared.info.client.app_id(), &fn_id),
            Target::Composite(id) => id,
        };
        let mut payload = Map::new();
        payload.insert("data".into(), opts.data);
        if let Some(v) = opts.v {
            payload.insert("v".into(), json!(v));
        }
        let mut o = Map::new();
        o.insert("payload".into(), Value::Object(payload));
        o.insert("function_id".into(), json!(function_id));
        if let Some(t) = opts.timeout {
            o.insert("timeout".into(), json!(time_str(t)));
        }
        let mut guard = self.register(id, StepKind::Invoke, OpName::Absent, Value::Object(o));
        async move {
            let memo = guard.resolve_memo().await?;
            guard.decode(memo)
        }
    }

    /// Sends an event as a durable step (sent once, even if the function is retried);
    /// resolves to the server's event ids.
    pub fn send_event<T: Serialize>(
        &self,
        id: &str,
        event: Event<T>,
    ) -> impl Future<Output = Result<SendEventResponse, StepError>> + Send + 'static {
        self.send_events(id, vec![event])
    }

    /// Sends several events as one durable step.
    pub fn send_events<T: Serialize>(
        &self,
        id: &str,
        events: Vec<Event<T>>,
    ) -> impl Future<Output = Result<SendEventResponse, StepError>> + Send + 'static {
        let values = events
            .iter()
            .map(serde_json::to_value)
            .collect::<Result<Vec<_>, _>>();
        let client = self.shared.info.client.clone();
        let mut guard = self.register(
            id,
            StepKind::SendEvent,
            OpName::Text("sendEvent".to_owned()),
            json!({ "type": "step.sendEvent" }),
        );
        async move {
            match guard.resolve().await {
                Resolution::Nested => Err(guard.nested()),
                Resolution::Memo(memo) => guard.decode(memo),
                Resolution::Execute(_) => {
                    let never = guard
                        .execute(Box::pin(async move {
                            let values = values.map_err(|e| {
                                Error::from(crate::NonRetriableError::new(format!(
                                    "an event does not serialise as JSON: {e}"
                                )))
                            })?;
                            let sent = crate::event::send_values(&client, values)
                                .await
                                .map_err(send_error)?;
                            to_raw(sent)
                        }))
                        .await;
                    match never {}
                }
            }
        }
    }
}

fn send_error(err: SendError) -> Error {
    Error::new(err.to_string()).with_source(err)
}

fn to_raw<T: Serialize>(value: T) -> Result<Box<RawValue>, Error> {
    serde_json::value::to_raw_value(&value).map_err(|e| {
        Error::from(crate::NonRetriableError::new(format!(
            "the step's output does not serialise as JSON: {e}"
        )))
    })
}

/// Decodes an overridden `{"input": [x]}` into the input type.
fn decode_input<I: DeserializeOwned>(step_id: &str, raw: &RawValue) -> Result<I, Error> {
    let mut args: Vec<Value> = serde_json::from_str(raw.get()).unwrap_or_default();
    let first = if args.is_empty() {
        Value::Null
    } else {
        args.swap_remove(0)
    };
    serde_json::from_value(first).map_err(|e| {
        Error::from(crate::NonRetriableError::new(format!(
            "the overridden input of step \"{step_id}\" does not decode as {}: {e}",
            type_name::<I>()
        )))
    })
}

/// Ties a step future to its slot; marks the slot dropped if the future is dropped early.
struct Guard {
    shared: Arc<Shared>,
    idx: usize,
    done: bool,
}

impl Guard {
    async fn resolve(&mut self) -> Resolution {
        let shared = self.shared.clone();
        let idx = self.idx;
        let resolution = std::future::poll_fn(|cx| shared.poll_step(idx, cx)).await;
        if !matches!(resolution, Resolution::Execute(_)) {
            self.done = true;
        }
        resolution
    }

    /// For steps Inngest performs (sleeps, waits, invokes): the memoised value, waiting
    /// forever until there is one.
    async fn resolve_memo(&mut self) -> Result<Resolved, StepError> {
        loop {
            match self.resolve().await {
                Resolution::Memo(memo) => return Ok(memo),
                Resolution::Nested => return Err(self.nested()),
                // Only run and send-event steps are ever chosen for execution.
                Resolution::Execute(_) => std::future::pending::<()>().await,
            }
        }
    }

    fn nested(&self) -> StepError {
        StepError::nested(&self.shared.user_id(self.idx))
    }

    fn trace_memo(&self) {
        let info = &self.shared.info;
        let span = tracing::debug_span!(
            "inngest.step",
            inngest.fn_id = %info.function_id,
            inngest.run_id = %info.run_id,
            inngest.step.id = %self.shared.user_id(self.idx),
            inngest.attempt = info.attempt,
            inngest.replay = true,
        );
        span.in_scope(|| tracing::debug!("memoised step replayed"));
    }

    fn decode<T: DeserializeOwned>(&self, memo: Resolved) -> Result<T, StepError> {
        self.trace_memo();
        match memo {
            Resolved::Data(raw) => serde_json::from_str(raw.get()).map_err(|e| {
                StepError::decode(&self.shared.user_id(self.idx), type_name::<T>(), &e)
            }),
            Resolved::Error(e) => Err(StepError::from_wire(&self.shared.user_id(self.idx), &e)),
        }
    }

    /// Runs the step's work, records the result, then waits forever: the call reports it.
    async fn execute(
        mut self,
        work: Pin<Box<dyn Future<Output = Result<Box<RawValue>, Error>> + Send>>,
    ) -> Infallible {
        let info = &self.shared.info;
        let (user_id, hashed, kind) = match self.shared.describe(self.idx) {
            Some((user_id, hashed, kind)) => (user_id, hashed, kind.as_str()),
            None => (String::new(), String::new(), "run"),
        };
        let span = tracing::info_span!(
            "inngest.step",
            inngest.fn_id = %info.function_id,
            inngest.run_id = %info.run_id,
            inngest.step.id = %user_id,
            inngest.step.hash = %hashed,
            inngest.step.kind = kind,
            inngest.attempt = info.attempt,
            inngest.replay = false,
        );
        let started_at = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let clock = Instant::now();
        let runner = ClosureRunner {
            shared: self.shared.clone(),
            step_id: user_id,
            work,
        };
        let result = runner.instrument(span.clone()).await;
        let timing = Timing {
            a: started_at,
            b: clock.elapsed().as_nanos(),
        };
        span.in_scope(|| match &result {
            Ok(_) => tracing::info!("step completed"),
            Err(e) => tracing::warn!(error = %e, "step failed"),
        });
        self.shared.finish(self.idx, result, timing);
        self.done = true;
        std::future::pending::<Infallible>().await
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if !self.done {
            self.shared.drop_step(self.idx);
        }
    }
}

/// Polls a step's work with panics caught and nesting detection on.
struct ClosureRunner {
    shared: Arc<Shared>,
    step_id: String,
    work: Pin<Box<dyn Future<Output = Result<Box<RawValue>, Error>> + Send>>,
}

impl Future for ClosureRunner {
    type Output = Result<Box<RawValue>, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        this.shared.set_in_step_closure(true);
        let polled = std::panic::catch_unwind(AssertUnwindSafe(|| this.work.as_mut().poll(cx)));
        this.shared.set_in_step_closure(false);
        match polled {
            Ok(poll) => poll,
            Err(payload) => {
                let context = format!("step \"{}\"", this.step_id);
                Poll::Ready(Err(Error::from_panic(&context, payload.as_ref())))
            }
        }
    }
}
