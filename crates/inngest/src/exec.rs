//! One call: the memoised state, the steps found, and the loop that polls the function until
//! the call settles.
//!
//! How a call settles (the JS SDK's rule in Rust terms): poll the function future; a memoised
//! step resolves, but only when it is next in `ctx.stack` order among the steps found so far,
//! waking whatever waits on it; keep polling while the poll woke itself. When a poll returns
//! `Pending` without waking itself and no memoised step is ready, the tick has settled: decide
//! with the steps found since the last decision:
//!
//! * targeted call (`stepId` is a hash): run that step if it was found; answer "step not
//!   found" if new steps were found instead (they can never resolve in this call);
//! * discovery call: run the single new run step at once when immediate execution is allowed;
//!   otherwise report every new step in one `206`;
//! * nothing new: the function awaits something that is not a step; wait for its waker.
//!
//! Memoised values stay raw JSON until a step decodes them, and each lookup is a hash map hit,
//! so a call costs little more than parsing its body.

use std::collections::{HashMap, VecDeque};
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context as TaskContext, Poll, Wake, Waker};

use serde_json::value::RawValue;
use serde_json::{Value, json};

use crate::client::Inngest;
use crate::error::{Error, WireError};
use crate::function::FnFuture;
use crate::hash::{ResolvedId, StepHash, StepIds};
use crate::op::{Op, Opcode, Timing, Userland};
use crate::request::Memo;

/// Immutable facts about the run being called.
#[derive(Debug, Clone)]
pub(crate) struct RunInfo {
    pub(crate) client: Inngest,
    pub(crate) function_id: String,
    pub(crate) run_id: String,
    pub(crate) attempt: u32,
    pub(crate) max_attempts: Option<u32>,
}

impl RunInfo {
    /// `ctx.attempt + 1 >= ctx.max_attempts`.
    pub(crate) fn last_attempt(&self) -> bool {
        self.max_attempts
            .is_some_and(|max| self.attempt.saturating_add(1) >= max)
    }
}

/// What kind of step a slot holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StepKind {
    /// `step.run` (executable in this process).
    Run,
    /// `step.send_event` (executable in this process).
    SendEvent,
    /// `step.sleep` / `sleep_until`.
    Sleep,
    /// `step.wait_for_event`.
    WaitForEvent,
    /// `step.invoke`.
    Invoke,
}

impl StepKind {
    fn runnable(self) -> bool {
        matches!(self, StepKind::Run | StepKind::SendEvent)
    }

    fn reported_opcode(self) -> Opcode {
        match self {
            StepKind::Run | StepKind::SendEvent => Opcode::StepPlanned,
            StepKind::Sleep => Opcode::Sleep,
            StepKind::WaitForEvent => Opcode::WaitForEvent,
            StepKind::Invoke => Opcode::InvokeFunction,
        }
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            StepKind::Run => "run",
            StepKind::SendEvent => "sendEvent",
            StepKind::Sleep => "sleep",
            StepKind::WaitForEvent => "waitForEvent",
            StepKind::Invoke => "invoke",
        }
    }
}

/// The `name` of a step's op.
#[derive(Debug)]
pub(crate) enum OpName {
    /// The step's user id (run steps).
    UserId,
    /// A fixed text (a sleep's duration, a wait's event, `sendEvent`).
    Text(String),
    /// No name (invokes).
    Absent,
}

/// A step tool call, as registered.
#[derive(Debug)]
pub(crate) struct Registration {
    pub(crate) user_id: String,
    pub(crate) kind: StepKind,
    /// The op's `name`.
    pub(crate) name: OpName,
    /// The op's `opts` (an object).
    pub(crate) opts: Value,
}

impl Registration {
    fn op_name(&self) -> Option<String> {
        match &self.name {
            OpName::UserId => Some(self.user_id.clone()),
            OpName::Text(t) => Some(t.clone()),
            OpName::Absent => None,
        }
    }
}

/// The step a targeted call asks for.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    /// The `stepId` as received.
    pub(crate) text: String,
    /// Its hash, if it is one.
    pub(crate) hash: Option<StepHash>,
}

/// A memoised value that a step may consume.
#[derive(Debug)]
pub(crate) enum Resolved {
    /// Output (or the raw value of a sleep / wait).
    Data(Box<RawValue>),
    /// A failure.
    Error(Value),
}

/// What a waiting step is told.
#[derive(Debug)]
pub(crate) enum Resolution {
    /// Its memoised value.
    Memo(Resolved),
    /// Run it now; the optional value is an overridden `{"input": [...]}`.
    Execute(Option<Box<RawValue>>),
    /// It was called inside another step's closure.
    Nested,
}

struct Slot {
    reg: Registration,
    resolved: ResolvedId,
    memo: Option<Resolved>,
    input: Option<Box<RawValue>>,
    fulfilled: bool,
    has_state: bool,
    released: bool,
    nested: bool,
    dropped: bool,
    started: bool,
    waker: Option<Waker>,
}

struct MemoEntry {
    raw: Box<RawValue>,
    /// Position in the completion order, if listed there.
    position: Option<usize>,
}

struct State {
    memo: HashMap<StepHash, MemoEntry>,
    ids: StepIds,
    steps: Vec<Slot>,
    /// Steps found since the last decision.
    batch: Vec<usize>,
    /// Found, memoised, listed in the stack and not yet released: (stack position, slot),
    /// sorted by position.
    releasable: VecDeque<(usize, usize)>,
    /// Found and memoised but absent from the stack (fallback: released in found order).
    unordered: VecDeque<usize>,
    warned_unordered: bool,
    /// Stack entries with a memo that have not been released yet.
    memo_remaining: usize,
    target: Option<Target>,
    disable_immediate: bool,
    execute: Option<usize>,
    outcome: Option<Box<StepOutcome>>,
    in_step_closure: bool,
    /// Wakes the loop in [`drive`] (a step may run on another task if the code spawned it).
    driver: Option<Waker>,
}

/// The result of the step executed in this call.
#[derive(Debug)]
pub(crate) struct StepOutcome {
    pub(crate) op: Op,
    /// `Some(no_retry)` for error ops.
    pub(crate) no_retry: Option<bool>,
    pub(crate) retry_after: Option<String>,
}

/// State shared between the loop and the step futures of one call.
pub(crate) struct Shared {
    pub(crate) info: RunInfo,
    state: Mutex<State>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

impl Shared {
    /// Builds the call's state from the memoised steps and their completion order.
    pub(crate) fn new(
        info: RunInfo,
        steps: Vec<(StepHash, Box<RawValue>)>,
        order: &[StepHash],
        target: Option<Target>,
        disable_immediate: bool,
    ) -> Arc<Self> {
        let mut memo: HashMap<StepHash, MemoEntry> = steps
            .into_iter()
            .map(|(k, raw)| {
                (
                    k,
                    MemoEntry {
                        raw,
                        position: None,
                    },
                )
            })
            .collect();
        let mut memo_remaining = 0;
        for (pos, id) in order.iter().enumerate() {
            if let Some(entry) = memo.get_mut(id)
                && entry.position.is_none()
            {
                entry.position = Some(pos);
                memo_remaining += 1;
            }
        }
        Arc::new(Self {
            info,
            state: Mutex::new(State {
                memo,
                ids: StepIds::new(),
                steps: Vec::new(),
                batch: Vec::new(),
                releasable: VecDeque::new(),
                unordered: VecDeque::new(),
                warned_unordered: false,
                memo_remaining,
                target,
                disable_immediate,
                execute: None,
                outcome: None,
                in_step_closure: false,
                driver: None,
            }),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The lock is never held while user code runs, so poisoning cannot leave the state
        // half-updated; recover rather than fail the call.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers a step tool call: resolves its id and looks up its memoised state.
    pub(crate) fn register(&self, mut reg: Registration) -> usize {
        let mut st = self.lock();
        let resolved = st.ids.resolve(&reg.user_id);
        let idx = st.steps.len();
        if st.in_step_closure {
            tracing::warn!(
                step.id = %reg.user_id,
                "step tool called inside another step's closure; nesting steps is not supported"
            );
            st.steps.push(Slot::new(reg, resolved, true));
            return idx;
        }
        let mut slot_memo = None;
        let mut input = None;
        let mut position = None;
        if let Some(entry) = st.memo.remove(&resolved.hash) {
            position = entry.position;
            match Memo::classify(&entry.raw) {
                Memo::Data(d) => slot_memo = Some(Resolved::Data(d)),
                Memo::Error(e) => slot_memo = Some(Resolved::Error(e)),
                Memo::Input(i) => {
                    if reg.kind.runnable()
                        && let Value::Object(opts) = &mut reg.opts
                    {
                        let value = serde_json::from_str(i.get()).unwrap_or(Value::Null);
                        opts.insert("input".into(), value);
                    }
                    input = Some(i);
                }
            }
        }
        let mut slot = Slot::new(reg, resolved, false);
        slot.has_state = slot_memo.is_some() || input.is_some();
        slot.fulfilled = slot_memo.is_some();
        slot.memo = slot_memo;
        slot.input = input;
        let fulfilled = slot.fulfilled;
        st.steps.push(slot);
        st.batch.push(idx);
        if fulfilled {
            match position {
                // Steps are usually found in completion order: append; otherwise insert sorted.
                Some(pos) => match st.releasable.back() {
                    Some(&(last, _)) if last > pos => {
                        let at = st.releasable.partition_point(|&(p, _)| p < pos);
                        st.releasable.insert(at, (pos, idx));
                    }
                    _ => st.releasable.push_back((pos, idx)),
                },
                None => st.unordered.push_back(idx),
            }
        }
        idx
    }

    /// Polled by a step's future: its memo once released, or the order to execute.
    pub(crate) fn poll_step(&self, idx: usize, cx: &mut TaskContext<'_>) -> Poll<Resolution> {
        let mut st = self.lock();
        let execute = st.execute == Some(idx);
        let Some(slot) = st.steps.get_mut(idx) else {
            return Poll::Pending;
        };
        if slot.nested {
            return Poll::Ready(Resolution::Nested);
        }
        if slot.released
            && let Some(memo) = slot.memo.take()
        {
            return Poll::Ready(Resolution::Memo(memo));
        }
        if execute && !slot.started {
            slot.started = true;
            return Poll::Ready(Resolution::Execute(slot.input.take()));
        }
        match &slot.waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => slot.waker = Some(cx.waker().clone()),
        }
        Poll::Pending
    }

    /// Marks a step future as dropped before it resolved.
    pub(crate) fn drop_step(&self, idx: usize) {
        if let Some(slot) = self.lock().steps.get_mut(idx) {
            slot.dropped = true;
        }
    }

    /// Marks whether a step's closure is being polled (to detect nested steps).
    pub(crate) fn set_in_step_closure(&self, inside: bool) {
        self.lock().in_step_closure = inside;
    }

    /// The user id, hashed id and kind of a step.
    pub(crate) fn describe(&self, idx: usize) -> Option<(String, String, StepKind)> {
        let st = self.lock();
        st.steps
            .get(idx)
            .map(|s| (s.reg.user_id.clone(), s.resolved.hash.to_hex(), s.reg.kind))
    }

    /// The user id of a step (for error messages).
    pub(crate) fn user_id(&self, idx: usize) -> String {
        self.lock()
            .steps
            .get(idx)
            .map(|s| s.reg.user_id.clone())
            .unwrap_or_default()
    }

    /// Records the result of the executed step.
    pub(crate) fn finish(&self, idx: usize, result: Result<Box<RawValue>, Error>, timing: Timing) {
        let mut st = self.lock();
        let Some(slot) = st.steps.get(idx) else {
            return;
        };
        let mut op = slot.report_op();
        op.op = Opcode::StepRun;
        op.timing = Some(timing);
        let outcome = match result {
            Ok(data) => {
                op.data = Some(data);
                StepOutcome {
                    op,
                    no_retry: None,
                    retry_after: None,
                }
            }
            Err(err) => {
                let final_ = self.info.last_attempt() || !err.is_retriable();
                let wire = err.to_wire();
                if final_ {
                    op.op = Opcode::StepFailed;
                    op.data = serde_json::value::to_raw_value(&json!({
                        "__serialized": true,
                        "name": wire.name,
                        "message": wire.message,
                        "stack": "",
                    }))
                    .ok();
                } else {
                    op.op = Opcode::StepError;
                }
                op.error = Some(wire);
                StepOutcome {
                    op,
                    no_retry: Some(final_),
                    retry_after: if final_ {
                        None
                    } else {
                        err.retry_after().map(|r| r.header_value())
                    },
                }
            }
        };
        st.outcome = Some(Box::new(outcome));
        let driver = st.driver.clone();
        drop(st);
        if let Some(w) = driver {
            w.wake();
        }
    }

    /// Whether the function is replaying memoised history (logs are then marked replay).
    fn replaying(&self) -> bool {
        let st = self.lock();
        st.memo_remaining > 0 && st.execute.is_none()
    }
}

impl Slot {
    fn new(reg: Registration, resolved: ResolvedId, nested: bool) -> Self {
        Self {
            reg,
            resolved,
            memo: None,
            input: None,
            fulfilled: false,
            has_state: false,
            released: false,
            nested,
            dropped: false,
            started: false,
            waker: None,
        }
    }

    /// The op reporting this step as found.
    fn report_op(&self) -> Op {
        Op {
            id: self.resolved.hash.to_hex(),
            op: self.reg.kind.reported_opcode(),
            name: self.reg.op_name(),
            opts: self.reg.opts.clone(),
            display_name: self.reg.user_id.clone(),
            userland: Userland {
                id: self.reg.user_id.clone(),
                index: self.resolved.index,
            },
            error: None,
            timing: None,
            data: None,
        }
    }
}

/// A step the function found, listed in a "step not found" answer.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct FoundStep {
    pub(crate) id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) name: Option<String>,
    #[serde(rename = "displayName")]
    pub(crate) display_name: String,
}

/// How a call ended.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// The function returned.
    Returned(Result<Box<RawValue>, Error>),
    /// A step ran in this call.
    StepRan(Box<StepOutcome>),
    /// New steps to report.
    Found(Vec<Op>),
    /// The targeted step was not found.
    StepNotFound {
        requested: String,
        found: Vec<FoundStep>,
        total: usize,
    },
}

enum Decision {
    Execute(usize),
    Report(Vec<Op>),
    NotFound,
    Wait,
}

impl State {
    fn next_release(&mut self) -> Option<usize> {
        if let Some((_, idx)) = self.releasable.pop_front() {
            self.memo_remaining = self.memo_remaining.saturating_sub(1);
            return Some(idx);
        }
        let idx = self.unordered.pop_front()?;
        if !self.warned_unordered {
            self.warned_unordered = true;
            tracing::warn!(
                "a memoised step is missing from ctx.stack; resolving memoised steps in the \
                 order they are found (did the code change during the run?)"
            );
        }
        Some(idx)
    }

    fn release(&mut self, idx: usize) -> Option<Waker> {
        let slot = self.steps.get_mut(idx)?;
        slot.released = true;
        slot.waker.take()
    }

    fn decide(&mut self) -> Decision {
        let batch = std::mem::take(&mut self.batch);
        if let Some(target) = &self.target {
            let hit = batch.iter().copied().find(|&i| {
                let s = &self.steps[i];
                Some(s.resolved.hash) == target.hash
                    && s.reg.kind.runnable()
                    && !s.released
                    && !s.dropped
            });
            if let Some(idx) = hit {
                return Decision::Execute(idx);
            }
            if batch.iter().any(|&i| !self.steps[i].has_state) {
                return Decision::NotFound;
            }
            return Decision::Wait;
        }
        let unfulfilled: Vec<usize> = batch
            .iter()
            .copied()
            .filter(|&i| !self.steps[i].fulfilled)
            .collect();
        if !self.disable_immediate && unfulfilled.len() == 1 {
            let s = &self.steps[unfulfilled[0]];
            if s.reg.kind.runnable() && !s.dropped {
                return Decision::Execute(unfulfilled[0]);
            }
        }
        let new: Vec<Op> = batch
            .iter()
            .filter(|&&i| !self.steps[i].has_state)
            .map(|&i| self.steps[i].report_op())
            .collect();
        if new.is_empty() {
            Decision::Wait
        } else {
            Decision::Report(new)
        }
    }

    /// Steps found without state that were never reported.
    fn unreported_new(&self) -> Vec<Op> {
        self.steps
            .iter()
            .filter(|s| !s.has_state && !s.nested)
            .map(Slot::report_op)
            .collect()
    }

    fn found_for_not_found(&self) -> (Vec<FoundStep>, usize) {
        let mut found: Vec<FoundStep> = self
            .steps
            .iter()
            .filter(|s| !s.has_state && !s.nested)
            .map(|s| FoundStep {
                id: s.resolved.hash.to_hex(),
                name: s.reg.op_name(),
                display_name: s.reg.user_id.clone(),
            })
            .collect();
        found.sort_by(|a, b| a.id.cmp(&b.id));
        let total = found.len();
        found.truncate(25);
        (found, total)
    }
}

/// Wakes the call's task, and records whether a poll woke itself.
struct TickWaker {
    woken: AtomicBool,
    polling: AtomicBool,
    outer: Mutex<Option<Waker>>,
}

impl Wake for TickWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::SeqCst);
        if !self.polling.load(Ordering::SeqCst) {
            let outer = self.outer.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(w) = outer.as_ref() {
                w.wake_by_ref();
            }
        }
    }
}

/// Polls the function until the call settles.
pub(crate) async fn drive(shared: Arc<Shared>, mut fut: FnFuture) -> Outcome {
    let info = &shared.info;
    let live = tracing::info_span!(
        "inngest.function",
        inngest.fn_id = %info.function_id,
        inngest.run_id = %info.run_id,
        inngest.attempt = info.attempt,
        inngest.replay = false,
    );
    let replay = tracing::info_span!(
        "inngest.function",
        inngest.fn_id = %info.function_id,
        inngest.run_id = %info.run_id,
        inngest.attempt = info.attempt,
        inngest.replay = true,
    );
    let tick = Arc::new(TickWaker {
        woken: AtomicBool::new(false),
        polling: AtomicBool::new(false),
        outer: Mutex::new(None),
    });
    let inner_waker = Waker::from(tick.clone());
    shared.lock().driver = Some(inner_waker.clone());
    std::future::poll_fn(move |cx| {
        {
            let mut outer = tick.outer.lock().unwrap_or_else(|p| p.into_inner());
            match outer.as_ref() {
                Some(w) if w.will_wake(cx.waker()) => {}
                _ => *outer = Some(cx.waker().clone()),
            }
        }
        let mut icx = TaskContext::from_waker(&inner_waker);
        loop {
            tick.polling.store(true, Ordering::SeqCst);
            tick.woken.store(false, Ordering::SeqCst);
            let span = if shared.replaying() { &replay } else { &live };
            let polled = {
                let _entered = span.enter();
                std::panic::catch_unwind(AssertUnwindSafe(|| fut.as_mut().poll(&mut icx)))
            };
            match polled {
                Err(payload) => {
                    tick.polling.store(false, Ordering::SeqCst);
                    let err = Error::from_panic("the function", payload.as_ref());
                    tracing::error!(parent: &live, error = %err, "user code panicked");
                    return Poll::Ready(Outcome::Returned(Err(err)));
                }
                Ok(Poll::Ready(result)) => {
                    tick.polling.store(false, Ordering::SeqCst);
                    let mut st = shared.lock();
                    // A step that ran must be reported even if the function finished in the
                    // same poll, or its side effects would be repeated.
                    if let Some(outcome) = st.outcome.take() {
                        return Poll::Ready(Outcome::StepRan(outcome));
                    }
                    if result.is_ok() && st.target.is_none() {
                        let new = st.unreported_new();
                        if !new.is_empty() {
                            return Poll::Ready(Outcome::Found(new));
                        }
                    }
                    return Poll::Ready(Outcome::Returned(result));
                }
                Ok(Poll::Pending) => {}
            }
            let mut st = shared.lock();
            if let Some(outcome) = st.outcome.take() {
                tick.polling.store(false, Ordering::SeqCst);
                return Poll::Ready(Outcome::StepRan(outcome));
            }
            if tick.woken.load(Ordering::SeqCst) {
                continue;
            }
            if let Some(idx) = st.execute {
                // A step is executing; if the code dropped its future before it finished
                // (a `select!` that took another branch), report it as planned instead of
                // waiting for a result that cannot come.
                if st.steps.get(idx).is_some_and(|s| s.dropped) {
                    let op = st.steps[idx].report_op();
                    tick.polling.store(false, Ordering::SeqCst);
                    return Poll::Ready(Outcome::Found(vec![op]));
                }
            } else if let Some(idx) = st.next_release() {
                let waker = st.release(idx);
                drop(st);
                if let Some(w) = waker {
                    w.wake();
                }
                continue;
            } else {
                match st.decide() {
                    Decision::Execute(idx) => {
                        st.execute = Some(idx);
                        let waker = st.steps.get_mut(idx).and_then(|s| s.waker.take());
                        drop(st);
                        if let Some(w) = waker {
                            w.wake();
                        }
                        continue;
                    }
                    Decision::Report(ops) => {
                        tick.polling.store(false, Ordering::SeqCst);
                        return Poll::Ready(Outcome::Found(ops));
                    }
                    Decision::NotFound => {
                        let (found, total) = st.found_for_not_found();
                        let requested = st
                            .target
                            .as_ref()
                            .map(|t| t.text.clone())
                            .unwrap_or_default();
                        tick.polling.store(false, Ordering::SeqCst);
                        return Poll::Ready(Outcome::StepNotFound {
                            requested,
                            found,
                            total,
                        });
                    }
                    Decision::Wait => {}
                }
            }
            drop(st);
            // Settled with nothing to do: wait for a wake-up from outside this poll.
            tick.polling.store(false, Ordering::SeqCst);
            if tick.woken.load(Ordering::SeqCst) {
                continue;
            }
            return Poll::Pending;
        }
    })
    .await
}

/// An HTTP answer to a call, before headers common to every response are added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CallResponse {
    pub(crate) status: u16,
    pub(crate) no_retry: Option<bool>,
    pub(crate) retry_after: Option<String>,
    pub(crate) body: Vec<u8>,
}

impl CallResponse {
    pub(crate) fn json(status: u16, body: &impl serde::Serialize) -> Self {
        Self {
            status,
            no_retry: None,
            retry_after: None,
            body: serde_json::to_vec(body).unwrap_or_default(),
        }
    }
}

/// Turns an outcome into the answer the official SDKs give.
pub(crate) fn respond(outcome: Outcome, info: &RunInfo) -> CallResponse {
    match outcome {
        Outcome::Returned(Ok(data)) => CallResponse {
            status: 200,
            no_retry: None,
            retry_after: None,
            body: data.get().as_bytes().to_vec(),
        },
        Outcome::Returned(Err(err)) => function_error(&err, info),
        Outcome::StepRan(step) => CallResponse {
            status: 206,
            no_retry: step.no_retry,
            retry_after: step.retry_after,
            body: crate::op::to_body(std::slice::from_ref(&step.op)),
        },
        Outcome::Found(ops) => CallResponse {
            status: 206,
            no_retry: None,
            retry_after: None,
            body: crate::op::to_body(&ops),
        },
        Outcome::StepNotFound {
            requested,
            found,
            total,
        } => {
            let mut error = format!("Could not find step \"{requested}\" to run; timed out.");
            if !found.is_empty() {
                let list: Vec<String> = found
                    .iter()
                    .map(|s| format!("{} ({})", s.display_name, s.id))
                    .collect();
                error = format!("{error} Found new steps: \n{}.", list.join("\n"));
            }
            if total > found.len() {
                error = format!("{error} (showing {} of {total})", found.len());
            }
            let mut res = CallResponse::json(
                500,
                &json!({
                    "error": error,
                    "requestedStep": requested,
                    "foundSteps": found,
                    "totalFoundSteps": total,
                }),
            );
            res.no_retry = Some(false);
            res
        }
    }
}

/// A function-level error: `500` + `no-retry: false` while retriable, `400` + `no-retry:
/// true` when final (last attempt, non-retriable, or an uncaught memoised step error).
pub(crate) fn function_error(err: &Error, info: &RunInfo) -> CallResponse {
    let final_ = info.last_attempt() || !err.is_retriable();
    let wire: WireError = err.to_wire();
    CallResponse {
        status: if final_ { 400 } else { 500 },
        no_retry: Some(final_),
        retry_after: if final_ {
            None
        } else {
            err.retry_after().map(|r| r.header_value())
        },
        body: serde_json::to_vec(&wire).unwrap_or_default(),
    }
}
