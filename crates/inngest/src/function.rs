//! Function definitions: id, triggers, flow control and retries, the handler, and the
//! configuration sent at sync.
//!
//! ```
//! use std::time::Duration;
//! use inngest::{Context, Function, Trigger};
//! use inngest::function::{Concurrency, ConcurrencyScope, Throttle};
//! use serde::Deserialize;
//!
//! #[derive(Deserialize)]
//! struct SignedUp { user_id: u64 }
//!
//! let welcome = Function::builder("send-welcome-email")
//!     .name("Send welcome email")
//!     .trigger(Trigger::event("app/user.signed_up"))
//!     .retries(3) // 3 retries: up to 4 attempts per step
//!     .concurrency(Concurrency::new(1).key("event.data.user_id").scope(ConcurrencyScope::Env))
//!     .throttle(Throttle::new(10, Duration::from_secs(60)))
//!     .build(|ctx: Context<SignedUp>| async move {
//!         let user_id = ctx.event.data.user_id;
//!         ctx.step.run("send", move || async move { Ok(format!("sent to {user_id}")) }).await?;
//!         Ok(())
//!     })
//!     .unwrap();
//! assert_eq!(welcome.id(), "send-welcome-email");
//! ```

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};

use crate::error::Error;
use crate::event::{Event, FUNCTION_FAILED, FUNCTION_INVOKED, SCHEDULED_TIMER};
use crate::step::Step;
use crate::time::{go_duration, time_str};

/// What a function receives: its event(s), the step tools and the run's context.
#[derive(Debug)]
#[non_exhaustive]
pub struct Context<T = Value> {
    /// The triggering event (the first one of a batch).
    pub event: Event<T>,
    /// All events of the run (more than one for batched functions).
    pub events: Vec<Event<T>>,
    /// Step tools: `ctx.step.run(...)`, `ctx.step.sleep(...)`, ...
    pub step: Step,
    /// The run id (a ULID).
    pub run_id: String,
    /// 0-based attempt of the current step or function body.
    pub attempt: u32,
    /// Maximum attempts (retries + 1), when the server sends it.
    pub max_attempts: Option<u32>,
    /// The composite function id (`<app id>-<function id>`).
    pub function_id: String,
}

/// Data of the `inngest/function.failed` event an `on_failure` handler receives.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FunctionFailed<T = Value> {
    /// Composite id of the function that failed.
    pub function_id: String,
    /// Id of the failed run.
    pub run_id: String,
    /// The error that failed the run.
    pub error: FailureError,
    /// The event that triggered the failed run.
    pub event: Event<T>,
}

/// The error of a failed run, as serialised by the SDK that ran it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct FailureError {
    /// Error name (`"Error"`, `"NonRetriableError"`, ...).
    #[serde(default)]
    pub name: String,
    /// Error message.
    #[serde(default)]
    pub message: String,
    /// Stack text, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack: Option<String>,
}

/// What starts a function: an event (optionally filtered by a CEL expression) or a cron
/// schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trigger {
    kind: TriggerKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum TriggerKind {
    Event {
        event: String,
        expression: Option<String>,
    },
    Cron {
        cron: String,
        jitter: Option<Duration>,
    },
}

impl Trigger {
    /// Runs on every event with this name (a trailing `*` matches a prefix: `app/user.*`).
    pub fn event(name: impl Into<String>) -> Self {
        Self {
            kind: TriggerKind::Event {
                event: name.into(),
                expression: None,
            },
        }
    }

    /// Runs on a cron schedule, e.g. `"0 9 * * MON"` or `"TZ=Europe/London 0 9 * * *"`.
    pub fn cron(expression: impl Into<String>) -> Self {
        Self {
            kind: TriggerKind::Cron {
                cron: expression.into(),
                jitter: None,
            },
        }
    }

    /// Only events for which this CEL expression is true start a run (event triggers only),
    /// e.g. `event.data.amount > 100`.
    #[must_use]
    pub fn expression(mut self, cel: impl Into<String>) -> Self {
        if let TriggerKind::Event { expression, .. } = &mut self.kind {
            *expression = Some(cel.into());
        }
        self
    }

    /// Random delay of up to `jitter` for cron triggers (1 second to 5 minutes).
    #[must_use]
    pub fn jitter(mut self, delay: Duration) -> Self {
        if let TriggerKind::Cron { jitter, .. } = &mut self.kind {
            *jitter = Some(delay);
        }
        self
    }

    fn to_json(&self) -> Value {
        match &self.kind {
            TriggerKind::Event { event, expression } => {
                let mut m = Map::new();
                m.insert("event".into(), json!(event));
                if let Some(e) = expression {
                    m.insert("expression".into(), json!(e));
                }
                Value::Object(m)
            }
            TriggerKind::Cron { cron, jitter } => {
                let mut m = Map::new();
                m.insert("cron".into(), json!(cron));
                if let Some(j) = jitter {
                    m.insert("jitter".into(), json!(time_str(*j)));
                }
                Value::Object(m)
            }
        }
    }

    /// The event name this trigger accepts at run time.
    fn event_name(&self) -> &str {
        match &self.kind {
            TriggerKind::Event { event, .. } => event,
            TriggerKind::Cron { .. } => SCHEDULED_TIMER,
        }
    }
}

/// Scope of a concurrency limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConcurrencyScope {
    /// Per function (default).
    Function,
    /// Across every function of the environment that uses the same key.
    Env,
    /// Across the whole account.
    Account,
}

impl ConcurrencyScope {
    fn as_str(self) -> &'static str {
        match self {
            ConcurrencyScope::Function => "fn",
            ConcurrencyScope::Env => "env",
            ConcurrencyScope::Account => "account",
        }
    }
}

/// A concurrency limit: at most `limit` steps running at once (per key value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Concurrency {
    limit: u32,
    key: Option<String>,
    scope: Option<ConcurrencyScope>,
}

impl Concurrency {
    /// At most `limit` concurrently running steps.
    pub fn new(limit: u32) -> Self {
        Self {
            limit,
            key: None,
            scope: None,
        }
    }

    /// Applies the limit per value of this CEL expression (e.g. `event.data.user_id`).
    #[must_use]
    pub fn key(mut self, cel: impl Into<String>) -> Self {
        self.key = Some(cel.into());
        self
    }

    /// Sets the scope (`env` and `account` scopes require a key).
    #[must_use]
    pub fn scope(mut self, scope: ConcurrencyScope) -> Self {
        self.scope = Some(scope);
        self
    }
}

/// Throttling: at most `limit` runs start per `period` (queued, not dropped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Throttle {
    limit: u32,
    period: Duration,
    burst: Option<u32>,
    key: Option<String>,
}

impl Throttle {
    /// `limit` run starts per `period` (1 second to 7 days).
    pub fn new(limit: u32, period: Duration) -> Self {
        Self {
            limit,
            period,
            burst: None,
            key: None,
        }
    }

    /// Extra starts allowed in a burst.
    #[must_use]
    pub fn burst(mut self, burst: u32) -> Self {
        self.burst = Some(burst);
        self
    }

    /// Throttles per value of this CEL expression.
    #[must_use]
    pub fn key(mut self, cel: impl Into<String>) -> Self {
        self.key = Some(cel.into());
        self
    }
}

/// Rate limiting: at most `limit` runs per `period`; further events are **dropped**.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimit {
    limit: u32,
    period: Duration,
    key: Option<String>,
}

impl RateLimit {
    /// `limit` runs per `period` (1 second to 24 hours).
    pub fn new(limit: u32, period: Duration) -> Self {
        Self {
            limit,
            period,
            key: None,
        }
    }

    /// Limits per value of this CEL expression.
    #[must_use]
    pub fn key(mut self, cel: impl Into<String>) -> Self {
        self.key = Some(cel.into());
        self
    }
}

/// Debouncing: wait until no new event arrived for `period`, then run with the last one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Debounce {
    period: Duration,
    key: Option<String>,
    timeout: Option<Duration>,
}

impl Debounce {
    /// Debounce `period` (1 second to 7 days).
    pub fn new(period: Duration) -> Self {
        Self {
            period,
            key: None,
            timeout: None,
        }
    }

    /// Debounces per value of this CEL expression.
    #[must_use]
    pub fn key(mut self, cel: impl Into<String>) -> Self {
        self.key = Some(cel.into());
        self
    }

    /// Runs at the latest this long after the first event.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }
}

/// Batching: one run receives up to `max_size` events collected for at most `timeout`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchEvents {
    max_size: u32,
    timeout: Duration,
    key: Option<String>,
    if_expr: Option<String>,
}

impl BatchEvents {
    /// Up to `max_size` events per run, waiting at most `timeout` (1 to 60 seconds).
    pub fn new(max_size: u32, timeout: Duration) -> Self {
        Self {
            max_size,
            timeout,
            key: None,
            if_expr: None,
        }
    }

    /// Batches per value of this CEL expression.
    #[must_use]
    pub fn key(mut self, cel: impl Into<String>) -> Self {
        self.key = Some(cel.into());
        self
    }

    /// Only batches events for which this CEL expression is true.
    #[must_use]
    pub fn if_expr(mut self, cel: impl Into<String>) -> Self {
        self.if_expr = Some(cel.into());
        self
    }
}

/// Cancels running runs when a matching event arrives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cancel {
    event: String,
    if_expr: Option<String>,
    timeout: Option<Duration>,
}

impl Cancel {
    /// Cancels on this event.
    pub fn on(event: impl Into<String>) -> Self {
        Self {
            event: event.into(),
            if_expr: None,
            timeout: None,
        }
    }

    /// Only when this CEL expression is true (`event` is the triggering event, `async` the
    /// cancelling one), e.g. `event.data.id == async.data.id`.
    #[must_use]
    pub fn if_expr(mut self, cel: impl Into<String>) -> Self {
        self.if_expr = Some(cel.into());
        self
    }

    /// Only while the run is younger than this.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }
}

/// Singleton runs: at most one run at a time (per key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Singleton {
    mode: &'static str,
    key: Option<String>,
}

impl Singleton {
    /// New runs are skipped while one is running.
    pub fn skip() -> Self {
        Self {
            mode: "skip",
            key: None,
        }
    }

    /// A new run cancels the running one.
    pub fn cancel() -> Self {
        Self {
            mode: "cancel",
            key: None,
        }
    }

    /// Per value of this CEL expression.
    #[must_use]
    pub fn key(mut self, cel: impl Into<String>) -> Self {
        self.key = Some(cel.into());
        self
    }
}

/// Timeouts of a run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Timeouts {
    start: Option<Duration>,
    finish: Option<Duration>,
}

impl Timeouts {
    /// No timeouts.
    pub fn new() -> Self {
        Self::default()
    }

    /// Cancel a run that did not start within this time.
    #[must_use]
    pub fn start(mut self, timeout: Duration) -> Self {
        self.start = Some(timeout);
        self
    }

    /// Cancel a run that did not finish within this time after starting.
    #[must_use]
    pub fn finish(mut self, timeout: Duration) -> Self {
        self.finish = Some(timeout);
        self
    }
}

/// An invalid function configuration, naming the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("function \"{function}\": {field}: {reason}")]
pub struct FunctionConfigError {
    /// The function id.
    pub function: String,
    /// The configuration field (as in the sync payload, e.g. `throttle.period`).
    pub field: String,
    /// What is wrong and what is allowed.
    pub reason: String,
}

pub(crate) struct HandlerInput {
    pub(crate) event: Box<RawValue>,
    pub(crate) events: Vec<Box<RawValue>>,
    pub(crate) step: Step,
    pub(crate) run_id: String,
    pub(crate) attempt: u32,
    pub(crate) max_attempts: Option<u32>,
    pub(crate) function_id: String,
}

pub(crate) type FnFuture = Pin<Box<dyn Future<Output = Result<Box<RawValue>, Error>> + Send>>;
type ErasedHandler = Arc<dyn Fn(HandlerInput) -> FnFuture + Send + Sync>;

/// A function ready to be served. Build it with [`Function::builder`]; cheap to clone.
#[derive(Clone)]
pub struct Function {
    inner: Arc<Definition>,
}

struct Definition {
    id: String,
    name: Option<String>,
    triggers: Vec<Trigger>,
    config: Map<String, Value>,
    retries: Option<u32>,
    handler: ErasedHandler,
    on_failure: Option<ErasedHandler>,
}

impl fmt::Debug for Function {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Function")
            .field("id", &self.inner.id)
            .field("name", &self.inner.name)
            .field("triggers", &self.inner.triggers)
            .field("on_failure", &self.inner.on_failure.is_some())
            .finish_non_exhaustive()
    }
}

/// Suffix of the id of a function's failure handler.
pub const FAILURE_SUFFIX: &str = "-failure";

/// Which handler of a function a call addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HandlerKind {
    Main,
    Failure,
}

impl Function {
    /// Starts a function definition with its id (stable: renaming it creates a new function).
    pub fn builder(id: impl Into<String>) -> FunctionBuilder {
        FunctionBuilder {
            id: id.into(),
            name: None,
            triggers: Vec::new(),
            retries: None,
            concurrency: Vec::new(),
            throttle: None,
            rate_limit: None,
            debounce: None,
            idempotency: None,
            batch_events: None,
            cancel: Vec::new(),
            priority: None,
            timeouts: None,
            singleton: None,
            on_failure: None,
        }
    }

    /// The function id as written in the code.
    pub fn id(&self) -> &str {
        &self.inner.id
    }

    /// The composite id Inngest knows the function by: `<app id>-<function id>` (the same
    /// rule as the JS SDK: no slugification).
    ///
    /// ```
    /// let f = inngest::Function::builder("send-email")
    ///     .trigger(inngest::Trigger::event("billing/invoice.paid"))
    ///     .build(|_ctx: inngest::Context| async move { Ok(()) })
    ///     .unwrap();
    /// assert_eq!(f.composite_id("billing"), "billing-send-email");
    /// ```
    pub fn composite_id(&self, app_id: &str) -> String {
        composite_id(app_id, &self.inner.id)
    }

    /// Whether the function has an `on_failure` handler.
    pub fn has_failure_handler(&self) -> bool {
        self.inner.on_failure.is_some()
    }

    /// The handler for `kind`.
    pub(crate) fn start(&self, kind: HandlerKind, input: HandlerInput) -> Option<FnFuture> {
        match kind {
            HandlerKind::Main => Some((self.inner.handler)(input)),
            HandlerKind::Failure => self.inner.on_failure.as_ref().map(|h| h(input)),
        }
    }

    /// The function's entries in a sync payload (the function, and its failure handler if it
    /// has one), with step URLs built from `base` (the serve URL).
    pub(crate) fn sync_configs(&self, app_id: &str, base: &url::Url) -> Vec<Value> {
        let def = &self.inner;
        let id = self.composite_id(app_id);
        let mut main = Map::new();
        main.insert("id".into(), json!(id));
        main.insert(
            "name".into(),
            json!(def.name.clone().unwrap_or_else(|| def.id.clone())),
        );
        main.insert(
            "triggers".into(),
            Value::Array(def.triggers.iter().map(Trigger::to_json).collect()),
        );
        main.insert("steps".into(), steps_json(base, &id, def.retries));
        for (k, v) in &def.config {
            main.insert(k.clone(), v.clone());
        }
        let mut out = vec![Value::Object(main)];
        if def.on_failure.is_some() {
            let failure_id = format!("{id}{FAILURE_SUFFIX}");
            let name = format!("{} (failure)", def.name.as_deref().unwrap_or(&def.id));
            out.push(json!({
                "id": failure_id,
                "name": name,
                "triggers": [{
                    "event": FUNCTION_FAILED,
                    "expression": format!("event.data.function_id == '{id}'"),
                }],
                "steps": steps_json(base, &failure_id, Some(1)),
            }));
        }
        out
    }
}

/// `<app id>-<function id>`.
pub(crate) fn composite_id(app_id: &str, fn_id: &str) -> String {
    if app_id.is_empty() {
        fn_id.to_owned()
    } else {
        format!("{app_id}-{fn_id}")
    }
}

fn steps_json(base: &url::Url, fn_id: &str, retries: Option<u32>) -> Value {
    let mut url = base.clone();
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| k != "fnId" && k != "stepId")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    url.query_pairs_mut()
        .clear()
        .extend_pairs(kept)
        .append_pair("fnId", fn_id)
        .append_pair("stepId", "step");
    let mut step = Map::new();
    step.insert("id".into(), json!("step"));
    step.insert("name".into(), json!("step"));
    step.insert(
        "runtime".into(),
        json!({"type": "http", "url": url.as_str()}),
    );
    if let Some(attempts) = retries {
        step.insert("retries".into(), json!({ "attempts": attempts }));
    }
    json!({ "step": Value::Object(step) })
}

/// Builds a [`Function`]; invalid values are reported by [`FunctionBuilder::build`].
pub struct FunctionBuilder {
    id: String,
    name: Option<String>,
    triggers: Vec<Trigger>,
    retries: Option<u32>,
    concurrency: Vec<Concurrency>,
    throttle: Option<Throttle>,
    rate_limit: Option<RateLimit>,
    debounce: Option<Debounce>,
    idempotency: Option<String>,
    batch_events: Option<BatchEvents>,
    cancel: Vec<Cancel>,
    priority: Option<String>,
    timeouts: Option<Timeouts>,
    singleton: Option<Singleton>,
    on_failure: Option<ErasedHandler>,
}

impl fmt::Debug for FunctionBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FunctionBuilder")
            .field("id", &self.id)
            .field("triggers", &self.triggers)
            .finish_non_exhaustive()
    }
}

/// Maximum retries the server accepts.
pub const MAX_RETRIES: u32 = 20;
const MAX_TRIGGERS: usize = 10;
const MAX_CONCURRENCY: usize = 2;
const MAX_CANCEL: usize = 5;
const MAX_NAME_LEN: usize = 255;
const SECOND: Duration = Duration::from_secs(1);
const DAY: Duration = Duration::from_secs(86_400);

impl FunctionBuilder {
    /// The name shown in the Inngest dashboard (defaults to the id).
    #[must_use]
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Adds a trigger (at least 1, up to 10). A function that should only ever be invoked still
    /// needs one: Inngest refuses to sync a function without triggers ("At least one trigger is
    /// required"), and one such function would make the whole app's sync fail.
    #[must_use]
    pub fn trigger(mut self, trigger: Trigger) -> Self {
        self.triggers.push(trigger);
        self
    }

    /// Number of **retries** per step and for the function body: `4` means up to 5 attempts.
    /// Left unset, the server's default applies (4 retries). At most 20.
    #[must_use]
    pub fn retries(mut self, retries: u32) -> Self {
        self.retries = Some(retries);
        self
    }

    /// Adds a concurrency limit (at most 2).
    #[must_use]
    pub fn concurrency(mut self, limit: Concurrency) -> Self {
        self.concurrency.push(limit);
        self
    }

    /// Sets throttling.
    #[must_use]
    pub fn throttle(mut self, throttle: Throttle) -> Self {
        self.throttle = Some(throttle);
        self
    }

    /// Sets rate limiting.
    #[must_use]
    pub fn rate_limit(mut self, limit: RateLimit) -> Self {
        self.rate_limit = Some(limit);
        self
    }

    /// Sets debouncing.
    #[must_use]
    pub fn debounce(mut self, debounce: Debounce) -> Self {
        self.debounce = Some(debounce);
        self
    }

    /// At most one run per value of this CEL expression per 24 hours.
    #[must_use]
    pub fn idempotency(mut self, cel: impl Into<String>) -> Self {
        self.idempotency = Some(cel.into());
        self
    }

    /// Sets event batching.
    #[must_use]
    pub fn batch_events(mut self, batch: BatchEvents) -> Self {
        self.batch_events = Some(batch);
        self
    }

    /// Adds a cancellation event (at most 5).
    #[must_use]
    pub fn cancel_on(mut self, cancel: Cancel) -> Self {
        self.cancel.push(cancel);
        self
    }

    /// Run priority: a CEL expression giving seconds (-600 to 600) to move the run forward.
    #[must_use]
    pub fn priority(mut self, run: impl Into<String>) -> Self {
        self.priority = Some(run.into());
        self
    }

    /// Sets start/finish timeouts.
    #[must_use]
    pub fn timeouts(mut self, timeouts: Timeouts) -> Self {
        self.timeouts = Some(timeouts);
        self
    }

    /// Makes runs singletons.
    #[must_use]
    pub fn singleton(mut self, singleton: Singleton) -> Self {
        self.singleton = Some(singleton);
        self
    }

    /// Adds a failure handler: a function `<id>-failure` triggered by
    /// `inngest/function.failed` for this function, receiving the error and the original
    /// event. It runs with one retry.
    #[must_use]
    pub fn on_failure<T, R, F, Fut>(mut self, handler: F) -> Self
    where
        T: DeserializeOwned + Send + 'static,
        R: Serialize + Send + 'static,
        F: Fn(Context<FunctionFailed<T>>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<R, Error>> + Send + 'static,
    {
        self.on_failure = Some(erase(handler, None));
        self
    }

    /// Validates the configuration and attaches the handler.
    ///
    /// The handler receives a [`Context<T>`] whose events are decoded into `T`; an event that
    /// does not decode (or whose name matches no trigger) fails the run without retries with
    /// an `EventValidationError`.
    pub fn build<T, R, F, Fut>(self, handler: F) -> Result<Function, FunctionConfigError>
    where
        T: DeserializeOwned + Send + 'static,
        R: Serialize + Send + 'static,
        F: Fn(Context<T>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<R, Error>> + Send + 'static,
    {
        let config = self.validate()?;
        let accepted: Vec<String> = self
            .triggers
            .iter()
            .map(|t| t.event_name().to_owned())
            .collect();
        Ok(Function {
            inner: Arc::new(Definition {
                handler: erase(handler, Some(accepted)),
                id: self.id,
                name: self.name,
                triggers: self.triggers,
                config,
                retries: self.retries,
                on_failure: self.on_failure,
            }),
        })
    }

    fn err(&self, field: &str, reason: impl Into<String>) -> FunctionConfigError {
        FunctionConfigError {
            function: self.id.clone(),
            field: field.to_owned(),
            reason: reason.into(),
        }
    }

    fn check_period(
        &self,
        field: &str,
        d: Duration,
        min: Duration,
        max: Duration,
    ) -> Result<(), FunctionConfigError> {
        if d < min || d > max {
            return Err(self.err(
                field,
                format!(
                    "must be between {} and {}, got {:?}",
                    time_str(min),
                    time_str(max),
                    d
                ),
            ));
        }
        Ok(())
    }

    fn check_text(&self, field: &str, text: &str) -> Result<(), FunctionConfigError> {
        if text.trim().is_empty() {
            return Err(self.err(field, "must not be empty"));
        }
        Ok(())
    }

    /// Checks every value and returns the optional sync fields.
    fn validate(&self) -> Result<Map<String, Value>, FunctionConfigError> {
        if self.id.trim().is_empty() {
            return Err(self.err("id", "must not be empty"));
        }
        if let Some(name) = &self.name {
            self.check_text("name", name)?;
        }
        if self.triggers.is_empty() {
            return Err(self.err(
                "triggers",
                "at least one trigger is required (an event or a cron); Inngest refuses to sync \
                 a function without one",
            ));
        }
        if self.triggers.len() > MAX_TRIGGERS {
            return Err(self.err(
                "triggers",
                format!(
                    "at most {MAX_TRIGGERS} triggers, got {}",
                    self.triggers.len()
                ),
            ));
        }
        for (i, t) in self.triggers.iter().enumerate() {
            match &t.kind {
                TriggerKind::Event { event, expression } => {
                    let field = format!("triggers[{i}].event");
                    self.check_text(&field, event)?;
                    if event.len() > MAX_NAME_LEN {
                        return Err(self.err(&field, "at most 255 characters"));
                    }
                    if let Some(e) = expression {
                        self.check_text(&format!("triggers[{i}].expression"), e)?;
                    }
                }
                TriggerKind::Cron { cron, jitter } => {
                    let field = format!("triggers[{i}].cron");
                    if let Err(reason) = check_cron(cron) {
                        return Err(self.err(&field, reason));
                    }
                    if let Some(j) = jitter {
                        self.check_period(
                            &format!("triggers[{i}].jitter"),
                            *j,
                            SECOND,
                            Duration::from_secs(300),
                        )?;
                    }
                }
            }
        }
        if let Some(r) = self.retries
            && r > MAX_RETRIES
        {
            return Err(self.err("retries", format!("at most {MAX_RETRIES} retries, got {r}")));
        }
        let mut out = Map::new();
        if !self.concurrency.is_empty() {
            if self.concurrency.len() > MAX_CONCURRENCY {
                return Err(self.err(
                    "concurrency",
                    format!(
                        "at most {MAX_CONCURRENCY} limits, got {}",
                        self.concurrency.len()
                    ),
                ));
            }
            let mut list = Vec::new();
            for (i, c) in self.concurrency.iter().enumerate() {
                let mut m = Map::new();
                m.insert("limit".into(), json!(c.limit));
                if let Some(k) = &c.key {
                    self.check_text(&format!("concurrency[{i}].key"), k)?;
                    m.insert("key".into(), json!(k));
                }
                if let Some(scope) = c.scope {
                    if scope != ConcurrencyScope::Function && c.key.is_none() {
                        return Err(self.err(
                            &format!("concurrency[{i}].scope"),
                            "the env and account scopes need a key",
                        ));
                    }
                    m.insert("scope".into(), json!(scope.as_str()));
                }
                list.push(Value::Object(m));
            }
            out.insert("concurrency".into(), Value::Array(list));
        }
        if let Some(t) = &self.throttle {
            if t.limit == 0 {
                return Err(self.err("throttle.limit", "must be at least 1"));
            }
            self.check_period("throttle.period", t.period, SECOND, 7 * DAY)?;
            let mut m = Map::new();
            m.insert("limit".into(), json!(t.limit));
            m.insert("period".into(), json!(time_str(t.period)));
            if let Some(b) = t.burst {
                if b == 0 {
                    return Err(self.err("throttle.burst", "must be at least 1"));
                }
                m.insert("burst".into(), json!(b));
            }
            if let Some(k) = &t.key {
                self.check_text("throttle.key", k)?;
                m.insert("key".into(), json!(k));
            }
            out.insert("throttle".into(), Value::Object(m));
        }
        if let Some(r) = &self.rate_limit {
            if r.limit == 0 {
                return Err(self.err("rateLimit.limit", "must be at least 1"));
            }
            self.check_period("rateLimit.period", r.period, SECOND, DAY)?;
            let mut m = Map::new();
            m.insert("limit".into(), json!(r.limit));
            m.insert("period".into(), json!(time_str(r.period)));
            if let Some(k) = &r.key {
                self.check_text("rateLimit.key", k)?;
                m.insert("key".into(), json!(k));
            }
            out.insert("rateLimit".into(), Value::Object(m));
        }
        if let Some(d) = &self.debounce {
            self.check_period("debounce.period", d.period, SECOND, 7 * DAY)?;
            let mut m = Map::new();
            m.insert("period".into(), json!(time_str(d.period)));
            if let Some(k) = &d.key {
                self.check_text("debounce.key", k)?;
                m.insert("key".into(), json!(k));
            }
            if let Some(t) = d.timeout {
                self.check_period("debounce.timeout", t, SECOND, 7 * DAY)?;
                m.insert("timeout".into(), json!(time_str(t)));
            }
            out.insert("debounce".into(), Value::Object(m));
        }
        if let Some(i) = &self.idempotency {
            self.check_text("idempotency", i)?;
            out.insert("idempotency".into(), json!(i));
        }
        if let Some(b) = &self.batch_events {
            if b.max_size == 0 {
                return Err(self.err("batchEvents.maxSize", "must be at least 1"));
            }
            self.check_period(
                "batchEvents.timeout",
                b.timeout,
                SECOND,
                Duration::from_secs(60),
            )?;
            let mut m = Map::new();
            m.insert("maxSize".into(), json!(b.max_size));
            m.insert("timeout".into(), json!(go_duration(b.timeout)));
            if let Some(k) = &b.key {
                self.check_text("batchEvents.key", k)?;
                m.insert("key".into(), json!(k));
            }
            if let Some(e) = &b.if_expr {
                self.check_text("batchEvents.if", e)?;
                m.insert("if".into(), json!(e));
            }
            out.insert("batchEvents".into(), Value::Object(m));
        }
        if !self.cancel.is_empty() {
            if self.cancel.len() > MAX_CANCEL {
                return Err(self.err(
                    "cancel",
                    format!(
                        "at most {MAX_CANCEL} cancellation events, got {}",
                        self.cancel.len()
                    ),
                ));
            }
            let mut list = Vec::new();
            for (i, c) in self.cancel.iter().enumerate() {
                self.check_text(&format!("cancel[{i}].event"), &c.event)?;
                let mut m = Map::new();
                m.insert("event".into(), json!(c.event));
                if let Some(t) = c.timeout {
                    self.check_period(&format!("cancel[{i}].timeout"), t, SECOND, 365 * DAY)?;
                    m.insert("timeout".into(), json!(time_str(t)));
                }
                if let Some(e) = &c.if_expr {
                    self.check_text(&format!("cancel[{i}].if"), e)?;
                    m.insert("if".into(), json!(e));
                }
                list.push(Value::Object(m));
            }
            out.insert("cancel".into(), Value::Array(list));
        }
        if let Some(p) = &self.priority {
            self.check_text("priority.run", p)?;
            out.insert("priority".into(), json!({ "run": p }));
        }
        if let Some(t) = &self.timeouts {
            let mut m = Map::new();
            if let Some(s) = t.start {
                self.check_period("timeouts.start", s, SECOND, 365 * DAY)?;
                m.insert("start".into(), json!(time_str(s)));
            }
            if let Some(f) = t.finish {
                self.check_period("timeouts.finish", f, SECOND, 365 * DAY)?;
                m.insert("finish".into(), json!(time_str(f)));
            }
            if !m.is_empty() {
                out.insert("timeouts".into(), Value::Object(m));
            }
        }
        if let Some(s) = &self.singleton {
            let mut m = Map::new();
            m.insert("mode".into(), json!(s.mode));
            if let Some(k) = &s.key {
                self.check_text("singleton.key", k)?;
                m.insert("key".into(), json!(k));
            }
            out.insert("singleton".into(), Value::Object(m));
        }
        Ok(out)
    }
}

/// Light syntax check of a cron trigger: an optional `TZ=<zone> ` prefix, then five or six
/// fields or a macro such as `@daily`.
fn check_cron(cron: &str) -> Result<(), String> {
    let mut rest = cron.trim();
    if rest.is_empty() {
        return Err("must not be empty".into());
    }
    if rest.len() > MAX_NAME_LEN {
        return Err("at most 255 characters".into());
    }
    if let Some(after) = rest
        .strip_prefix("TZ=")
        .or_else(|| rest.strip_prefix("CRON_TZ="))
    {
        let Some((_zone, schedule)) = after.split_once(char::is_whitespace) else {
            return Err("a time zone prefix must be followed by a schedule".into());
        };
        rest = schedule.trim();
    }
    if rest.starts_with('@') {
        return match rest {
            "@yearly" | "@annually" | "@monthly" | "@weekly" | "@daily" | "@midnight"
            | "@hourly" => Ok(()),
            _ if rest.starts_with("@every ") => Ok(()),
            _ => Err(format!("unknown cron macro {rest:?}")),
        };
    }
    let fields = rest.split_whitespace().count();
    if fields == 5 || fields == 6 {
        Ok(())
    } else {
        Err(format!(
            "expected 5 or 6 cron fields (minute hour day month weekday), got {fields}"
        ))
    }
}

/// Wire `name` of event validation failures (as in the JS SDK).
const EVENT_VALIDATION_ERROR: &str = "EventValidationError";

#[derive(Deserialize)]
struct EventName {
    #[serde(default)]
    name: String,
}

/// Checks event names against the triggers (the JS SDK's rule): an exact name, a `prefix*`
/// wildcard, `inngest/function.invoked`, and `inngest/scheduled.timer` for cron triggers.
fn check_event_names(accepted: &[String], events: &[&RawValue]) -> Result<(), Error> {
    for raw in events {
        let name = serde_json::from_str::<EventName>(raw.get())
            .map(|e| e.name)
            .unwrap_or_default();
        let ok = name == FUNCTION_INVOKED
            || accepted.iter().any(|a| match a.strip_suffix('*') {
                Some(prefix) => name.starts_with(prefix),
                None => *a == name,
            });
        if !ok {
            return Err(Error::non_retriable_named(
                EVENT_VALIDATION_ERROR,
                format!("Event not found in triggers: {name}"),
            ));
        }
    }
    Ok(())
}

fn decode_event<T: DeserializeOwned>(raw: &RawValue) -> Result<Event<T>, Error> {
    serde_json::from_str(raw.get()).map_err(|e| {
        Error::non_retriable_named(
            EVENT_VALIDATION_ERROR,
            format!(
                "the event does not decode as {}: {e}",
                std::any::type_name::<T>()
            ),
        )
    })
}

/// Type-erases a handler. `accepted` lists the trigger event names to check (`None` for
/// failure handlers, which the JS SDK does not check either).
fn erase<T, R, F, Fut>(handler: F, accepted: Option<Vec<String>>) -> ErasedHandler
where
    T: DeserializeOwned + Send + 'static,
    R: Serialize + Send + 'static,
    F: Fn(Context<T>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<R, Error>> + Send + 'static,
{
    let handler = Arc::new(handler);
    Arc::new(move |input: HandlerInput| -> FnFuture {
        let handler = handler.clone();
        let accepted = accepted.clone();
        Box::pin(async move {
            if let Some(accepted) = &accepted {
                let all: Vec<&RawValue> = input.events.iter().map(AsRef::as_ref).collect();
                check_event_names(accepted, &all)?;
            }
            let event = decode_event::<T>(&input.event)?;
            let events = input
                .events
                .iter()
                .map(|raw| decode_event::<T>(raw))
                .collect::<Result<Vec<_>, _>>()?;
            let ctx = Context {
                event,
                events,
                step: input.step,
                run_id: input.run_id,
                attempt: input.attempt,
                max_attempts: input.max_attempts,
                function_id: input.function_id,
            };
            let output = handler(ctx).await?;
            serde_json::value::to_raw_value(&output).map_err(|e| {
                Error::non_retriable_named(
                    "SerializationError",
                    format!("the function's return value does not serialise as JSON: {e}"),
                )
            })
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noop(b: FunctionBuilder) -> Result<Function, FunctionConfigError> {
        b.build(|_ctx: Context| async move { Ok(()) })
    }

    fn base() -> url::Url {
        url::Url::parse("http://127.0.0.1:3000/api/inngest").expect("valid url")
    }

    #[test]
    fn the_sync_config_has_the_composite_id_and_step_url() {
        let f = noop(Function::builder("hello").trigger(Trigger::event("a/b"))).expect("valid");
        let cfg = f.sync_configs("app", &base());
        assert_eq!(
            cfg,
            vec![json!({
                "id": "app-hello",
                "name": "hello",
                "triggers": [{"event": "a/b"}],
                "steps": {"step": {"id": "step", "name": "step", "runtime": {"type": "http",
                    "url": "http://127.0.0.1:3000/api/inngest?fnId=app-hello&stepId=step"}}}
            })]
        );
    }

    #[test]
    fn retries_are_sent_as_retries_and_omitted_by_default() {
        let f = noop(
            Function::builder("f")
                .trigger(Trigger::event("test/e"))
                .retries(4),
        )
        .expect("valid");
        let cfg = f.sync_configs("app", &base());
        assert_eq!(cfg[0]["steps"]["step"]["retries"], json!({"attempts": 4}));
        let f = noop(Function::builder("f").trigger(Trigger::event("test/e"))).expect("valid");
        assert!(
            f.sync_configs("app", &base())[0]["steps"]["step"]
                .get("retries")
                .is_none()
        );
        let err = noop(
            Function::builder("f")
                .trigger(Trigger::event("test/e"))
                .retries(21),
        )
        .unwrap_err();
        assert_eq!(err.field, "retries");
    }

    #[test]
    fn on_failure_registers_a_failure_function() {
        let f = Function::builder("pay")
            .name("Pay")
            .trigger(Trigger::event("a/b"))
            .on_failure(|_ctx: Context<FunctionFailed>| async move { Ok(()) })
            .build(|_ctx: Context| async move { Ok(()) })
            .expect("valid");
        let cfg = f.sync_configs("app", &base());
        assert_eq!(cfg.len(), 2);
        assert_eq!(
            cfg[1],
            json!({
                "id": "app-pay-failure",
                "name": "Pay (failure)",
                "triggers": [{"event": "inngest/function.failed",
                    "expression": "event.data.function_id == 'app-pay'"}],
                "steps": {"step": {"id": "step", "name": "step", "runtime": {"type": "http",
                    "url": "http://127.0.0.1:3000/api/inngest?fnId=app-pay-failure&stepId=step"},
                    "retries": {"attempts": 1}}}
            })
        );
    }

    #[test]
    fn every_flow_control_field_is_serialised() {
        let f = noop(
            Function::builder("f")
                .trigger(Trigger::event("a/b").expression("event.data.x > 1"))
                .trigger(Trigger::cron("0 * * * *").jitter(Duration::from_secs(30)))
                .concurrency(
                    Concurrency::new(1)
                        .key("event.data.a")
                        .scope(ConcurrencyScope::Env),
                )
                .concurrency(Concurrency::new(5))
                .throttle(Throttle::new(1, Duration::from_secs(60)).burst(2).key("k"))
                .rate_limit(RateLimit::new(1, Duration::from_secs(3600)).key("k"))
                .debounce(Debounce::new(Duration::from_secs(5)).timeout(Duration::from_secs(60)))
                .idempotency("event.data.a")
                .batch_events(
                    BatchEvents::new(10, Duration::from_secs(5))
                        .key("k")
                        .if_expr("true"),
                )
                .cancel_on(
                    Cancel::on("a/c")
                        .if_expr("event.data.a == async.data.a")
                        .timeout(Duration::from_secs(3600)),
                )
                .priority("event.data.p")
                .timeouts(
                    Timeouts::new()
                        .start(Duration::from_secs(60))
                        .finish(Duration::from_secs(86400 * 2)),
                )
                .singleton(Singleton::skip().key("k")),
        )
        .expect("valid");
        let cfg = &f.sync_configs("app", &base())[0];
        assert_eq!(
            cfg["triggers"],
            json!([{"event": "a/b", "expression": "event.data.x > 1"}, {"cron": "0 * * * *", "jitter": "30s"}])
        );
        assert_eq!(
            cfg["concurrency"],
            json!([{"limit": 1, "key": "event.data.a", "scope": "env"}, {"limit": 5}])
        );
        assert_eq!(
            cfg["throttle"],
            json!({"limit": 1, "period": "1m", "burst": 2, "key": "k"})
        );
        assert_eq!(
            cfg["rateLimit"],
            json!({"limit": 1, "period": "1h", "key": "k"})
        );
        assert_eq!(cfg["debounce"], json!({"period": "5s", "timeout": "1m"}));
        assert_eq!(cfg["idempotency"], json!("event.data.a"));
        assert_eq!(
            cfg["batchEvents"],
            json!({"maxSize": 10, "timeout": "5s", "key": "k", "if": "true"})
        );
        assert_eq!(
            cfg["cancel"],
            json!([{"event": "a/c", "if": "event.data.a == async.data.a", "timeout": "1h"}])
        );
        assert_eq!(cfg["priority"], json!({"run": "event.data.p"}));
        assert_eq!(cfg["timeouts"], json!({"start": "1m", "finish": "2d"}));
        assert_eq!(cfg["singleton"], json!({"mode": "skip", "key": "k"}));
    }

    #[test]
    fn invalid_configuration_names_the_field() {
        let cases: Vec<(FunctionBuilder, &str)> = vec![
            (Function::builder(""), "id"),
            (
                Function::builder("f").trigger(Trigger::event("")),
                "triggers[0].event",
            ),
            (
                Function::builder("f").trigger(Trigger::cron("* *")),
                "triggers[0].cron",
            ),
            (
                Function::builder("f").trigger(Trigger::cron("@sometimes")),
                "triggers[0].cron",
            ),
            (
                Function::builder("f")
                    .trigger(Trigger::event("test/e"))
                    .concurrency(Concurrency::new(1))
                    .concurrency(Concurrency::new(1))
                    .concurrency(Concurrency::new(1)),
                "concurrency",
            ),
            (
                Function::builder("f")
                    .trigger(Trigger::event("test/e"))
                    .concurrency(Concurrency::new(1).scope(ConcurrencyScope::Account)),
                "concurrency[0].scope",
            ),
            (
                Function::builder("f")
                    .trigger(Trigger::event("test/e"))
                    .throttle(Throttle::new(1, Duration::from_millis(10))),
                "throttle.period",
            ),
            (
                Function::builder("f")
                    .trigger(Trigger::event("test/e"))
                    .throttle(Throttle::new(0, Duration::from_secs(1))),
                "throttle.limit",
            ),
            (
                Function::builder("f")
                    .trigger(Trigger::event("test/e"))
                    .rate_limit(RateLimit::new(1, Duration::from_secs(2 * 86400))),
                "rateLimit.period",
            ),
            (
                Function::builder("f")
                    .trigger(Trigger::event("test/e"))
                    .debounce(Debounce::new(Duration::from_secs(8 * 86400))),
                "debounce.period",
            ),
            (
                Function::builder("f")
                    .trigger(Trigger::event("test/e"))
                    .batch_events(BatchEvents::new(10, Duration::from_secs(61))),
                "batchEvents.timeout",
            ),
            (
                Function::builder("f")
                    .trigger(Trigger::event("test/e"))
                    .batch_events(BatchEvents::new(0, Duration::from_secs(1))),
                "batchEvents.maxSize",
            ),
            (
                Function::builder("f")
                    .trigger(Trigger::event("test/e"))
                    .idempotency(" "),
                "idempotency",
            ),
            (
                Function::builder("f")
                    .trigger(Trigger::event("test/e"))
                    .priority(""),
                "priority.run",
            ),
            (
                Function::builder("f")
                    .trigger(Trigger::event("test/e"))
                    .cancel_on(Cancel::on("")),
                "cancel[0].event",
            ),
            (
                Function::builder("f")
                    .trigger(Trigger::event("test/e"))
                    .timeouts(Timeouts::new().start(Duration::ZERO)),
                "timeouts.start",
            ),
        ];
        for (builder, field) in cases {
            let err = noop(builder).unwrap_err();
            assert_eq!(err.field, field, "{err}");
            assert!(err.to_string().contains(field));
        }
        let mut b = Function::builder("f").trigger(Trigger::event("test/e"));
        for i in 0..11 {
            b = b.trigger(Trigger::event(format!("e{i}")));
        }
        assert_eq!(noop(b).unwrap_err().field, "triggers");
        let err = noop(Function::builder("no-triggers")).unwrap_err();
        assert_eq!(err.field, "triggers");
        assert!(err.reason.contains("at least one trigger"), "{err}");
    }

    #[test]
    fn cron_syntax_checks_accept_time_zones_and_macros() {
        assert!(check_cron("TZ=Europe/London 0 9 * * *").is_ok());
        assert!(check_cron("0 0 9 * * MON").is_ok());
        assert!(check_cron("@daily").is_ok());
        assert!(check_cron("TZ=Europe/London").is_err());
    }

    #[test]
    fn event_names_are_checked_against_triggers() {
        let accepted = vec![
            "a/b".to_owned(),
            "user.*".to_owned(),
            SCHEDULED_TIMER.to_owned(),
        ];
        let raw = |s: &str| RawValue::from_string(s.to_owned()).expect("json");
        let ok = [
            raw(r#"{"name":"a/b"}"#),
            raw(r#"{"name":"user.created"}"#),
            raw(r#"{"name":"inngest/function.invoked"}"#),
            raw(r#"{"name":"inngest/scheduled.timer"}"#),
        ];
        let refs: Vec<&RawValue> = ok.iter().map(AsRef::as_ref).collect();
        assert!(check_event_names(&accepted, &refs).is_ok());
        let bad = raw(r#"{"name":"t/nope"}"#);
        let err = check_event_names(&accepted, &[&bad]).unwrap_err();
        assert_eq!(err.name(), "EventValidationError");
        assert_eq!(err.message(), "Event not found in triggers: t/nope");
        assert!(!err.is_retriable());
    }
}
