//! The run history: one [`RunRecord`] per run with every call the engine made, each step's
//! attempts, and the final result. The same records are what the JSON API returns, what the
//! SQLite store keeps, and what the in-process test engine hands back.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Status of a run (Inngest's names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Hash)]
pub enum RunStatus {
    /// Still executing, sleeping or waiting.
    Running,
    /// The function returned.
    Completed,
    /// The function failed for good.
    Failed,
    /// Cancelled by an event or the API.
    Cancelled,
}

impl RunStatus {
    /// Whether the run has ended.
    pub fn is_finished(self) -> bool {
        !matches!(self, RunStatus::Running)
    }

    /// Parses `Running` / `Completed` / `Failed` / `Cancelled` (any case).
    pub fn parse(s: &str) -> Option<Self> {
        [
            RunStatus::Running,
            RunStatus::Completed,
            RunStatus::Failed,
            RunStatus::Cancelled,
        ]
        .into_iter()
        .find(|st| format!("{st:?}").eq_ignore_ascii_case(s))
    }
}

/// One attempt at a step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepAttempt {
    /// 0-based attempt of the queue item.
    pub attempt: u32,
    /// Engine time the call started.
    pub started_at: DateTime<Utc>,
    /// Engine time the answer arrived.
    pub ended_at: DateTime<Utc>,
    /// `ok`, `error` (will be retried) or `failed` (final).
    pub outcome: String,
    /// Output on success.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<Value>,
    /// Error on failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<Value>,
    /// Delay chosen before the next attempt, in engine milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_in_ms: Option<i64>,
}

/// One step of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    /// Hashed step id.
    pub id: String,
    /// User-facing id, when the SDK gave it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// Display name.
    pub name: String,
    /// Opcode that introduced it (`StepRun`, `Sleep`, `WaitForEvent`, `InvokeFunction`, ...).
    pub op: String,
    /// `planned`, `running`, `sleeping`, `waiting`, `completed`, `failed`, `cancelled`.
    pub status: String,
    /// Every attempt made (run steps).
    pub attempts: Vec<StepAttempt>,
    /// Memoised output (`data` part), when completed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<Value>,
    /// Memoised error, when failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<Value>,
    /// Op options as the SDK sent them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub opts: Option<Value>,
    /// Engine time the step was first reported.
    pub first_seen_at: DateTime<Utc>,
    /// Engine time the step's result was memoised.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<DateTime<Utc>>,
    /// For sleeps and waits: when it wakes or times out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub until: Option<DateTime<Utc>>,
    /// `true` when the result came from a replay's kept memo or a test mock.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub memo_from_outside: bool,
}

/// One HTTP call to the SDK.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallRecord {
    /// 0-based sequence number within the run.
    pub seq: u32,
    /// `step` (discovery) or the hashed id of the planned step targeted.
    pub step_id: String,
    /// Queue item attempt.
    pub attempt: u32,
    /// Engine time the request was sent.
    pub started_at: DateTime<Utc>,
    /// Engine time the answer arrived.
    pub ended_at: DateTime<Utc>,
    /// HTTP status (absent when the request failed to complete).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// `complete`, `ops`, `error`.
    pub outcome: String,
    /// Ops answered, as `Opcode:hashed-id`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ops: Vec<String>,
    /// Error for `error` outcomes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<Value>,
    /// Whether `ctx.disable_immediate_execution` was set.
    pub disable_immediate_execution: bool,
    /// Whether the call asked the SDK to fetch its state from the API.
    pub use_api: bool,
    /// Delay chosen before retrying this call, in engine milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_in_ms: Option<i64>,
}

/// Something a run is waiting on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Waiting {
    /// `step.sleep`: resumes at `until`.
    Sleep {
        /// Hashed step id.
        step_id: String,
        /// Wake time.
        until: DateTime<Utc>,
    },
    /// `step.waitForEvent`.
    Event {
        /// Hashed step id.
        step_id: String,
        /// Event name to wait for.
        event: String,
        /// CEL filter over `event` and `async`.
        #[serde(skip_serializing_if = "Option::is_none")]
        expression: Option<String>,
        /// Timeout.
        until: DateTime<Utc>,
    },
    /// `step.invoke`: waits for the child run.
    Invoke {
        /// Hashed step id.
        step_id: String,
        /// Child run.
        child_run_id: String,
        /// Timeout.
        until: DateTime<Utc>,
    },
}

impl Waiting {
    /// The step this wait belongs to.
    pub fn step_id(&self) -> &str {
        match self {
            Waiting::Sleep { step_id, .. }
            | Waiting::Event { step_id, .. }
            | Waiting::Invoke { step_id, .. } => step_id,
        }
    }

    /// When it times out or wakes.
    pub fn until(&self) -> DateTime<Utc> {
        match self {
            Waiting::Sleep { until, .. }
            | Waiting::Event { until, .. }
            | Waiting::Invoke { until, .. } => *until,
        }
    }
}

/// Where a replayed run came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplayOf {
    /// Original run.
    pub run_id: String,
    /// Step the replay restarted at (hashed id), or none for a full re-run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_step: Option<String>,
}

/// Parent link of an invoked run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InvokedBy {
    /// Parent run.
    pub run_id: String,
    /// Parent's invoke step (hashed id).
    pub step_id: String,
    /// Correlation id (`<parent run>.<step>`).
    pub correlation_id: String,
}

/// A run and its history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// Run id (ULID).
    pub id: String,
    /// Composite function id.
    pub function_id: String,
    /// Status.
    pub status: RunStatus,
    /// Name of the trigger event.
    pub event_name: String,
    /// Internal ids of the trigger events.
    pub event_ids: Vec<String>,
    /// Trigger events as sent to the function.
    pub events: Vec<Value>,
    /// Engine time the run was created.
    pub created_at: DateTime<Utc>,
    /// Engine time the run ended.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<DateTime<Utc>>,
    /// Return value, when completed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<Value>,
    /// Error, when failed or cancelled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<Value>,
    /// Steps in the order they were first reported.
    pub steps: Vec<StepRecord>,
    /// Every call made to the SDK.
    pub calls: Vec<CallRecord>,
    /// Memoised values by hashed step id, exactly as sent in `steps`.
    pub memo: BTreeMap<String, Value>,
    /// Completion order of memoised steps.
    pub stack: Vec<String>,
    /// What the run is waiting on.
    pub waiting: Vec<Waiting>,
    /// Steps of the current parallel group not finished yet (discovery waits for all).
    pub pending: BTreeSet<String>,
    /// Whether new calls set `disable_immediate_execution`.
    pub force_step_plan: bool,
    /// Request version the SDK chose (-1 before the first answer).
    pub request_version: i64,
    /// Concurrency slots this run's calls occupy.
    pub concurrency_keys: Vec<(String, u32)>,
    /// Replay origin.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replay_of: Option<ReplayOf>,
    /// Parent, when started by `step.invoke`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invoked_by: Option<InvokedBy>,
}

impl RunRecord {
    /// The trigger event.
    pub fn event(&self) -> &Value {
        self.events.first().unwrap_or(&Value::Null)
    }

    /// A step by hashed id, user id or display name.
    pub fn step(&self, id: &str) -> Option<&StepRecord> {
        self.steps
            .iter()
            .find(|s| s.id == id)
            .or_else(|| self.steps.iter().find(|s| s.user_id.as_deref() == Some(id)))
            .or_else(|| self.steps.iter().find(|s| s.name == id))
    }

    pub(crate) fn step_mut(&mut self, id: &str) -> Option<&mut StepRecord> {
        self.steps.iter_mut().find(|s| s.id == id)
    }

    /// Whether a step has a memoised result.
    pub fn is_memoised(&self, id: &str) -> bool {
        self.memo.contains_key(id) && self.stack.iter().any(|s| s == id)
    }
}

/// Filter for listing runs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunFilter {
    /// Composite function id.
    #[serde(default)]
    pub function_id: Option<String>,
    /// Status.
    #[serde(default)]
    pub status: Option<RunStatus>,
    /// Trigger event name.
    #[serde(default)]
    pub event_name: Option<String>,
    /// Internal id of a trigger event.
    #[serde(default)]
    pub event_id: Option<String>,
    /// Most recent N runs.
    #[serde(default)]
    pub limit: Option<usize>,
}

impl RunFilter {
    /// Runs of one function.
    pub fn function(id: impl Into<String>) -> Self {
        Self {
            function_id: Some(id.into()),
            ..Self::default()
        }
    }

    /// Runs triggered by one event (internal id).
    pub fn event(id: impl Into<String>) -> Self {
        Self {
            event_id: Some(id.into()),
            ..Self::default()
        }
    }

    /// Whether a run matches.
    pub fn matches(&self, run: &RunRecord) -> bool {
        self.function_id
            .as_ref()
            .is_none_or(|f| &run.function_id == f)
            && self.status.is_none_or(|s| run.status == s)
            && self
                .event_name
                .as_ref()
                .is_none_or(|n| &run.event_name == n)
            && self
                .event_id
                .as_ref()
                .is_none_or(|e| run.event_ids.iter().any(|x| x == e))
    }
}

/// The `data` part of a memoised value, or the raw value (sleep/wait).
pub fn memo_output(memo: &Value) -> (Option<Value>, Option<Value>) {
    match memo.as_object() {
        Some(o) if o.len() == 1 && o.contains_key("data") => (o.get("data").cloned(), None),
        Some(o) if o.len() == 1 && o.contains_key("error") => (None, o.get("error").cloned()),
        _ => (Some(memo.clone()), None),
    }
}
