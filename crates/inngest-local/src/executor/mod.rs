//! The executor: one implementation of Inngest's run semantics (digest §6–§9), shared by the
//! HTTP server and the in-process test engine. It owns the queue, the runs and the registry;
//! it reaches SDKs through a [`Transport`] and reads time from a [`Clock`].
//!
//! Mechanics, as in Inngest's executor:
//! - a run starts with a discovery call (`stepId=step`); each answer is acted on:
//!   `200` completes the run, `206` ops are memoised or scheduled, errors are retried per queue
//!   item with the backoff table (`Retry-After` wins, `x-inngest-no-retry: true` stops);
//! - `StepPlanned` ops become targeted calls; more than one op in an answer turns on
//!   `disable_immediate_execution`, and (request version 2) the group's steps are tracked so that
//!   one discovery call follows when all of them have finished;
//! - `Sleep`, `WaitForEvent` and `InvokeFunction` park the run until a timer, a matching event
//!   or the child's completion; `StepFailed` (or a final `StepError`) memoises `{error}`;
//! - finished runs publish `inngest/function.finished` (and `.failed` / `.cancelled`), which is
//!   how onFailure handlers and invoking parents hear about them.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration as StdDuration;

use bytes::Bytes;
use chrono::{DateTime, Duration, Utc};
use http::{Method, Request};
use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::{Notify, mpsc, watch};
use ulid::Ulid;

use crate::backoff::{RetryPolicy, parse_retry_after, parse_time_or_duration};
use crate::clock::Clock;
use crate::expr::Expr;
use crate::function::{AppInfo, ConcurrencyScope, FunctionDef};
use crate::protocol::{
    self, Answer, CallBody, CallCtx, CallOutcome, CallStack, GeneratorOp, HEADER_SIGNATURE, Opcode,
    error_object, event_for_function,
};
use crate::run::{
    CallRecord, InvokedBy, ReplayOf, RunFilter, RunRecord, RunStatus, StepAttempt, StepRecord,
    Waiting, memo_output,
};
use crate::signature::SigningKey;
use crate::transport::{Transport, TransportError};

/// Per-request limit Inngest applies to SDK calls.
pub(crate) const CALL_TIMEOUT: StdDuration = StdDuration::from_secs(2 * 60 * 60);
/// Default `use_api` threshold: Inngest switches at ~4 MiB of state.
pub(crate) const DEFAULT_USE_API_THRESHOLD: usize = 4 * 1024 * 1024;
/// Default invoke timeout when the SDK gives none.
const DEFAULT_INVOKE_TIMEOUT_DAYS: i64 = 365;
/// Events kept in the event log.
const EVENT_LOG_LIMIT: usize = 2000;

/// Executor settings.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub retry: RetryPolicy,
    pub signing_key: Option<SigningKey>,
    pub use_api_threshold: usize,
    pub user_agent: String,
}

/// Results forced onto steps by the in-process test engine, by hashed id.
#[derive(Debug, Clone, Default)]
pub(crate) struct Mocks {
    pub steps: HashMap<String, Value>,
}

/// A received event and the runs it started.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct EventRecord {
    /// Internal id (ULID).
    pub internal_id: String,
    /// Event name.
    pub name: String,
    /// The event as stored (normalised).
    pub event: Value,
    /// Engine time it was received.
    pub received_at: DateTime<Utc>,
    /// Runs it started.
    pub run_ids: Vec<String>,
}

#[derive(Debug, Clone)]
enum ItemKind {
    /// A call to the SDK; `None` = discovery (`stepId=step`).
    Call { step_id: Option<String> },
    /// A sleep ends, or a wait/invoke times out.
    Wake { step_id: String },
    /// A cron trigger fires.
    Cron {
        function_id: String,
        trigger: usize,
        generation: u64,
        at: DateTime<Utc>,
    },
}

#[derive(Debug, Clone)]
struct QueueItem {
    run_id: String,
    kind: ItemKind,
    attempt: u32,
}

#[derive(Default)]
pub(crate) struct State {
    functions: HashMap<String, Arc<FunctionDef>>,
    apps: BTreeMap<String, AppInfo>,
    app_payloads: HashMap<String, Bytes>,
    runs: HashMap<String, RunRecord>,
    run_order: Vec<String>,
    queue: BTreeMap<(DateTime<Utc>, u64), QueueItem>,
    seq: u64,
    in_flight: usize,
    active_slots: HashMap<String, u32>,
    /// Planned steps with a queued or running call, per run.
    active_ops: HashMap<String, HashSet<String>>,
    /// Runs with a discovery call queued.
    discovery_queued: HashSet<String>,
    events: VecDeque<EventRecord>,
    seen_internal_ids: HashSet<String>,
    seen_user_ids: HashMap<String, DateTime<Utc>>,
    idempotency: HashMap<String, DateTime<Utc>>,
    cron_generation: HashMap<String, u64>,
    mocks: HashMap<String, Arc<Mocks>>,
    dirty: HashSet<String>,
    dirty_apps: Vec<(String, Bytes)>,
    queue_changed: bool,
    finished_changed: bool,
}

/// A write for the persistent store.
#[derive(Debug)]
pub(crate) enum PersistMsg {
    Run(Box<RunRecord>),
    App { url: String, payload: Bytes },
}

/// Outcome of a register call.
#[derive(Debug, Clone, Serialize)]
pub struct RegisterOutcome {
    /// The app.
    pub app: AppInfo,
    /// Whether the functions changed since the last sync.
    pub modified: bool,
}

/// Why a replay or cancellation was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RunActionError {
    /// No such run.
    #[error("run {0} not found")]
    NotFound(String),
    /// The function is no longer registered.
    #[error("function {0} is not registered any more: sync the app again before re-running")]
    FunctionGone(String),
    /// The step to replay from is not a memoised step of the run.
    #[error("step {step:?} is not a completed step of run {run}: pick one from the run's stack")]
    UnknownStep {
        /// Run.
        run: String,
        /// Requested step.
        step: String,
    },
    /// The run has already finished.
    #[error("run {0} has already finished")]
    Finished(String),
}

/// The shared executor.
pub(crate) struct Core {
    pub clock: Arc<dyn Clock>,
    transport: Arc<dyn Transport>,
    pub settings: Settings,
    state: Mutex<State>,
    wake: Notify,
    finished: watch::Sender<u64>,
    persist: Option<mpsc::UnboundedSender<PersistMsg>>,
}

impl std::fmt::Debug for Core {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Core")
            .field("clock", &self.clock)
            .field("settings", &self.settings)
            .finish()
    }
}

fn new_ulid(at: DateTime<Utc>) -> String {
    let ms = at.timestamp_millis().max(0) as u64;
    Ulid::from_parts(ms, rand::random::<u128>()).to_string()
}

fn ms(d: Duration) -> i64 {
    d.num_milliseconds()
}

fn is_lifecycle_event(name: &str) -> bool {
    matches!(
        name,
        "inngest/function.failed" | "inngest/function.finished"
    )
}

impl Core {
    pub(crate) fn new(
        clock: Arc<dyn Clock>,
        transport: Arc<dyn Transport>,
        settings: Settings,
        persist: Option<mpsc::UnboundedSender<PersistMsg>>,
    ) -> Arc<Self> {
        let (finished, _) = watch::channel(0);
        Arc::new(Self {
            clock,
            transport,
            settings,
            state: Mutex::new(State::default()),
            wake: Notify::new(),
            finished,
            persist,
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain data behind; keep serving.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `f` on the state, then persists what changed and wakes whoever must know.
    fn with_state<R>(&self, f: impl FnOnce(&mut State, DateTime<Utc>) -> R) -> R {
        let now = self.clock.now();
        let mut st = self.lock();
        let out = f(&mut st, now);
        self.after(&mut st);
        out
    }

    fn after(&self, st: &mut State) {
        let dirty: Vec<String> = st.dirty.drain().collect();
        let apps: Vec<(String, Bytes)> = st.dirty_apps.drain(..).collect();
        if let Some(tx) = &self.persist {
            for id in dirty {
                if let Some(run) = st.runs.get(&id) {
                    let _ = tx.send(PersistMsg::Run(Box::new(run.clone())));
                }
            }
            for (url, payload) in apps {
                let _ = tx.send(PersistMsg::App { url, payload });
            }
        }
        if std::mem::take(&mut st.queue_changed) {
            self.wake.notify_one();
        }
        if std::mem::take(&mut st.finished_changed) {
            self.finished.send_modify(|n| *n += 1);
        }
    }

    // ------------------------------------------------------------------ scheduling

    fn enqueue(st: &mut State, at: DateTime<Utc>, item: QueueItem) {
        st.seq += 1;
        let seq = st.seq;
        st.queue.insert((at, seq), item);
        st.queue_changed = true;
    }

    fn enqueue_discovery(st: &mut State, run_id: &str, at: DateTime<Utc>) {
        if st.discovery_queued.insert(run_id.to_owned()) {
            Self::enqueue(
                st,
                at,
                QueueItem {
                    run_id: run_id.to_owned(),
                    kind: ItemKind::Call { step_id: None },
                    attempt: 0,
                },
            );
        }
    }

    /// Queues the next attempt of a call item, keeping the dedupe markers in place.
    fn requeue(st: &mut State, item: &QueueItem, at: DateTime<Utc>) {
        match &item.kind {
            ItemKind::Call { step_id: Some(s) } => {
                st.active_ops
                    .entry(item.run_id.clone())
                    .or_default()
                    .insert(s.clone());
            }
            ItemKind::Call { step_id: None } => {
                st.discovery_queued.insert(item.run_id.clone());
            }
            _ => {}
        }
        Self::enqueue(
            st,
            at,
            QueueItem {
                attempt: item.attempt + 1,
                ..item.clone()
            },
        );
    }

    fn can_start(st: &State, item: &QueueItem) -> bool {
        if !matches!(item.kind, ItemKind::Call { .. }) {
            return true;
        }
        let Some(run) = st.runs.get(&item.run_id) else {
            return true;
        };
        run.concurrency_keys
            .iter()
            .all(|(slot, limit)| st.active_slots.get(slot).copied().unwrap_or(0) < *limit)
    }

    fn occupy(st: &mut State, item: &QueueItem, delta: i64) {
        if !matches!(item.kind, ItemKind::Call { .. }) {
            return;
        }
        let keys = st
            .runs
            .get(&item.run_id)
            .map(|r| r.concurrency_keys.clone())
            .unwrap_or_default();
        for (slot, _) in keys {
            let n = st.active_slots.entry(slot.clone()).or_insert(0);
            *n = (*n as i64 + delta).max(0) as u32;
            if *n == 0 {
                st.active_slots.remove(&slot);
            }
        }
    }

    /// The scheduler loop: starts due items (respecting concurrency limits) until shutdown.
    pub(crate) async fn dispatch(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        loop {
            if *shutdown.borrow() {
                return;
            }
            let (started, next, idle) = {
                let now = self.clock.now();
                let mut st = self.lock();
                let mut chosen = None;
                let mut next = None;
                for (key, item) in st.queue.iter() {
                    if key.0 > now {
                        next = Some(key.0);
                        break;
                    }
                    if Self::can_start(&st, item) {
                        chosen = Some(*key);
                        break;
                    }
                }
                let started = chosen.and_then(|key| st.queue.remove(&key));
                if let Some(item) = &started {
                    Self::occupy(&mut st, item, 1);
                    st.in_flight += 1;
                    if let ItemKind::Call { step_id: None } = item.kind {
                        st.discovery_queued.remove(&item.run_id);
                    }
                }
                (started, next, st.in_flight == 0)
            };
            if let Some(item) = started {
                let core = Arc::clone(&self);
                tokio::spawn(async move {
                    core.process(item.clone()).await;
                    let mut st = core.lock();
                    Self::occupy(&mut st, &item, -1);
                    st.in_flight -= 1;
                    st.queue_changed = true;
                    core.after(&mut st);
                });
                continue;
            }
            if let Some(at) = next
                && idle
                && self.clock.advance_when_idle(at)
            {
                continue;
            }
            let sleep = match next {
                Some(at) => self.clock.sleep_until(at),
                None => Box::pin(futures::future::pending()),
            };
            tokio::select! {
                _ = sleep => {}
                _ = self.wake.notified() => {}
                _ = shutdown.changed() => {}
            }
        }
    }

    async fn process(self: &Arc<Self>, item: QueueItem) {
        match &item.kind {
            ItemKind::Call { step_id } => self.call(&item, step_id.clone()).await,
            ItemKind::Wake { step_id } => {
                let step_id = step_id.clone();
                self.with_state(|st, now| Self::wake_step(st, &item.run_id, &step_id, now));
            }
            ItemKind::Cron {
                function_id,
                trigger,
                generation,
                at,
            } => {
                let (f, t, g, a) = (function_id.clone(), *trigger, *generation, *at);
                self.with_state(|st, now| Self::fire_cron(st, &f, t, g, a, now));
            }
        }
    }
}

mod api;
mod call;
mod lifecycle;
