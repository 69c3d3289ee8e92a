//! Calls to the SDK and what their answers do to a run: memoised steps, retries with backoff,
//! planned steps, sleeps, waits and invokes.

use super::*;

impl Core {
    pub(super) async fn call(self: &Arc<Self>, item: &QueueItem, step_id: Option<String>) {
        let prepared =
            self.with_state(|st, now| self.prepare_call(st, item, step_id.as_deref(), now));
        let Some((request, meta)) = prepared else {
            return;
        };
        let started = self.clock.now();
        let result = self.transport.send(request, CALL_TIMEOUT).await;
        let ended = self.clock.now();
        let answer = match result {
            Ok(resp) => protocol::read_answer(resp.status().as_u16(), resp.headers(), resp.body()),
            Err(e) => transport_answer(&e),
        };
        self.with_state(|st, now| {
            self.apply_answer(
                st,
                item,
                step_id.as_deref(),
                meta,
                answer,
                started,
                ended,
                now,
            )
        });
    }

    pub(super) fn prepare_call(
        &self,
        st: &mut State,
        item: &QueueItem,
        step_id: Option<&str>,
        now: DateTime<Utc>,
    ) -> Option<(Request<Bytes>, CallMeta)> {
        let run = st.runs.get(&item.run_id)?;
        if run.status.is_finished() {
            return None;
        }
        let Some(function) = st.functions.get(&run.function_id).cloned() else {
            let fid = run.function_id.clone();
            let error = error_object(
                "Error",
                format!("function {fid} is not registered any more; sync the app that serves it"),
            );
            Self::finish_run(st, &item.run_id, RunStatus::Failed, None, Some(error), now);
            return None;
        };
        let step = step_id.unwrap_or("step");
        let steps: BTreeMap<String, Value> = run
            .memo
            .iter()
            .filter(|(k, v)| run.stack.contains(k) || v.get("input").is_some())
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let disable = run.force_step_plan;
        let mut body = CallBody {
            event: run.event().clone(),
            events: run.events.clone(),
            steps,
            ctx: CallCtx {
                run_id: run.id.clone(),
                env: String::new(),
                step_id: step.to_owned(),
                attempt: item.attempt,
                max_attempts: function.max_attempts(),
                stack: CallStack {
                    stack: run.stack.clone(),
                    current: run.stack.len(),
                },
                qi_id: format!("{}:{}", run.id, run.calls.len()),
                request_id: Ulid::new().to_string(),
                disable_immediate_execution: disable,
                use_api: false,
            },
            version: run.request_version,
            use_api: false,
        };
        body.apply_size_limit(self.settings.use_api_threshold);
        let use_api = body.use_api;
        let bytes = body.to_canonical_bytes();

        let mut url = function.url.clone();
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .filter(|(k, _)| k != "stepId")
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        url.query_pairs_mut()
            .clear()
            .extend_pairs(pairs)
            .append_pair("stepId", step);

        let mut builder = Request::builder()
            .method(Method::POST)
            .uri(url.as_str())
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(http::header::USER_AGENT, self.settings.user_agent.as_str())
            .header("x-run-id", run.id.as_str())
            .header("x-inngest-step-id", step);
        if run.request_version >= 0 {
            builder = builder.header(
                protocol::HEADER_REQ_VERSION,
                run.request_version.to_string(),
            );
        }
        if let Some(key) = &self.settings.signing_key {
            builder = builder.header(HEADER_SIGNATURE, key.sign(&bytes, Utc::now().timestamp()));
        }
        let request = match builder.body(Bytes::from(bytes)) {
            Ok(r) => r,
            Err(e) => {
                let error = error_object("Error", format!("cannot build the call to {url}: {e}"));
                Self::finish_run(st, &item.run_id, RunStatus::Failed, None, Some(error), now);
                return None;
            }
        };
        let meta = CallMeta {
            max_attempts: function.max_attempts(),
            disable_immediate_execution: disable,
            use_api,
        };
        Some((request, meta))
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn apply_answer(
        &self,
        st: &mut State,
        item: &QueueItem,
        step_id: Option<&str>,
        meta: CallMeta,
        answer: Answer,
        started: DateTime<Utc>,
        ended: DateTime<Utc>,
        now: DateTime<Utc>,
    ) {
        let run_id = item.run_id.as_str();
        if let Some(step) = step_id
            && let Some(set) = st.active_ops.get_mut(run_id)
        {
            set.remove(step);
        }
        let Some(run) = st.runs.get_mut(run_id) else {
            return;
        };
        let seq = run.calls.len() as u32;
        let mut call = CallRecord {
            seq,
            step_id: step_id.unwrap_or("step").to_owned(),
            attempt: item.attempt,
            started_at: started,
            ended_at: ended,
            status: (answer.status != 0).then_some(answer.status),
            outcome: String::new(),
            ops: Vec::new(),
            error: None,
            disable_immediate_execution: meta.disable_immediate_execution,
            use_api: meta.use_api,
            retry_in_ms: None,
        };
        if let Some(v) = answer.request_version {
            run.request_version = v;
        }
        st.dirty.insert(run_id.to_owned());
        if run.status.is_finished() {
            call.outcome = "ignored: run already finished".into();
            run.calls.push(call);
            return;
        }
        match answer.outcome {
            CallOutcome::Complete(data) => {
                call.outcome = "complete".into();
                run.calls.push(call);
                Self::finish_run(st, run_id, RunStatus::Completed, Some(data), None, now);
            }
            CallOutcome::Error(error) => {
                call.outcome = "error".into();
                call.error = Some(error.clone());
                let retry = !answer.no_retry && item.attempt + 1 < meta.max_attempts;
                if retry {
                    let delay = self.retry_delay(item.attempt, answer.retry_after.as_deref(), now);
                    call.retry_in_ms = Some(ms(delay));
                    run.calls.push(call);
                    Self::requeue(st, item, now + delay);
                } else {
                    run.calls.push(call);
                    Self::finish_run(st, run_id, RunStatus::Failed, None, Some(error), now);
                }
            }
            CallOutcome::Ops(ops) => {
                call.outcome = "ops".into();
                call.ops = ops
                    .iter()
                    .map(|o| format!("{}:{}", o.op.as_str(), o.id))
                    .collect();
                run.calls.push(call);
                self.handle_ops(
                    st,
                    item,
                    &meta,
                    &answer.retry_after,
                    answer.no_retry,
                    ops,
                    started,
                    ended,
                    now,
                );
            }
        }
    }

    pub(super) fn retry_delay(
        &self,
        attempt: u32,
        retry_after: Option<&str>,
        now: DateTime<Utc>,
    ) -> Duration {
        retry_after
            .and_then(|v| parse_retry_after(v, now))
            .unwrap_or_else(|| self.settings.retry.delay(attempt, &mut rand::rng()))
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn handle_ops(
        &self,
        st: &mut State,
        item: &QueueItem,
        meta: &CallMeta,
        retry_after: &Option<String>,
        no_retry: bool,
        ops: Vec<GeneratorOp>,
        started: DateTime<Utc>,
        ended: DateTime<Utc>,
        now: DateTime<Utc>,
    ) {
        let run_id = item.run_id.clone();
        let mocks = st.mocks.get(&run_id).cloned();
        let mut discover = false;
        {
            let Some(run) = st.runs.get_mut(&run_id) else {
                return;
            };
            if ops.len() > 1 {
                run.force_step_plan = true;
                if run.request_version >= 2 {
                    for op in &ops {
                        if !run.is_memoised(&op.id) && !op.id.is_empty() {
                            run.pending.insert(op.id.clone());
                        }
                    }
                }
            }
        }
        for op in ops {
            let memoised = st.runs.get(&run_id).is_some_and(|r| r.is_memoised(&op.id));
            if memoised
                && !matches!(
                    op.op,
                    Opcode::RunComplete | Opcode::SyncRunComplete | Opcode::None
                )
            {
                continue;
            }
            match op.op {
                Opcode::None | Opcode::DeferAdd | Opcode::DeferAbort => {}
                Opcode::RunComplete | Opcode::SyncRunComplete => {
                    let data = op.data.unwrap_or(Value::Null);
                    Self::finish_run(st, &run_id, RunStatus::Completed, Some(data), None, now);
                    return;
                }
                Opcode::DiscoveryRequest => discover = true,
                Opcode::StepRun | Opcode::Step => {
                    let data = op.data.clone().unwrap_or(Value::Null);
                    Self::note_step(st, &run_id, &op, now);
                    Self::push_attempt(
                        st,
                        &run_id,
                        &op.id,
                        StepAttempt {
                            attempt: item.attempt,
                            started_at: started,
                            ended_at: ended,
                            outcome: "ok".into(),
                            output: Some(data.clone()),
                            error: None,
                            retry_in_ms: None,
                        },
                    );
                    discover |= Self::memoise(st, &run_id, &op.id, json!({ "data": data }), now);
                }
                Opcode::StepError | Opcode::StepFailed => {
                    let error = op
                        .error
                        .clone()
                        .unwrap_or_else(|| error_object("Error", "step failed"));
                    Self::note_step(st, &run_id, &op, now);
                    let retry = op.op == Opcode::StepError
                        && !no_retry
                        && item.attempt + 1 < meta.max_attempts;
                    if retry {
                        let delay = self.retry_delay(item.attempt, retry_after.as_deref(), now);
                        Self::push_attempt(
                            st,
                            &run_id,
                            &op.id,
                            StepAttempt {
                                attempt: item.attempt,
                                started_at: started,
                                ended_at: ended,
                                outcome: "error".into(),
                                output: None,
                                error: Some(error),
                                retry_in_ms: Some(ms(delay)),
                            },
                        );
                        if let Some(run) = st.runs.get_mut(&run_id) {
                            if let Some(c) = run.calls.last_mut() {
                                c.retry_in_ms = Some(ms(delay));
                            }
                            if let Some(s) = run.step_mut(&op.id) {
                                s.status = "retrying".into();
                            }
                        }
                        Self::requeue(st, item, now + delay);
                    } else {
                        Self::push_attempt(
                            st,
                            &run_id,
                            &op.id,
                            StepAttempt {
                                attempt: item.attempt,
                                started_at: started,
                                ended_at: ended,
                                outcome: "failed".into(),
                                output: None,
                                error: Some(error.clone()),
                                retry_in_ms: None,
                            },
                        );
                        discover |=
                            Self::memoise(st, &run_id, &op.id, json!({ "error": error }), now);
                    }
                }
                Opcode::StepPlanned => {
                    let active = st
                        .active_ops
                        .get(&run_id)
                        .is_some_and(|s| s.contains(&op.id));
                    if active {
                        continue;
                    }
                    Self::note_step(st, &run_id, &op, now);
                    if let Some(mock) = mocks.as_ref().and_then(|m| m.steps.get(&op.id)) {
                        Self::mark_outside(st, &run_id, &op.id);
                        discover |= Self::memoise(st, &run_id, &op.id, mock.clone(), now);
                        continue;
                    }
                    st.active_ops
                        .entry(run_id.clone())
                        .or_default()
                        .insert(op.id.clone());
                    Self::enqueue(
                        st,
                        now,
                        QueueItem {
                            run_id: run_id.clone(),
                            kind: ItemKind::Call {
                                step_id: Some(op.id.clone()),
                            },
                            attempt: 0,
                        },
                    );
                }
                Opcode::Sleep | Opcode::WaitForEvent | Opcode::InvokeFunction => {
                    let waiting = st
                        .runs
                        .get(&run_id)
                        .is_some_and(|r| r.waiting.iter().any(|w| w.step_id() == op.id));
                    if waiting {
                        continue;
                    }
                    Self::note_step(st, &run_id, &op, now);
                    if let Some(mock) = mocks.as_ref().and_then(|m| m.steps.get(&op.id)) {
                        Self::mark_outside(st, &run_id, &op.id);
                        discover |= Self::memoise(st, &run_id, &op.id, mock.clone(), now);
                        continue;
                    }
                    match Self::park(st, &run_id, &op, now) {
                        Ok(more) => discover |= more,
                        Err(error) => {
                            discover |=
                                Self::memoise(st, &run_id, &op.id, json!({ "error": error }), now);
                        }
                    }
                }
                Opcode::WaitForSignal | Opcode::AIGateway | Opcode::Gateway => {
                    Self::note_step(st, &run_id, &op, now);
                    let error = error_object(
                        "Error",
                        format!(
                            "{} steps are not supported by inngest-local; run this function on the Inngest Dev Server or Inngest Cloud",
                            op.op.as_str()
                        ),
                    );
                    discover |= Self::memoise(st, &run_id, &op.id, json!({ "error": error }), now);
                }
            }
        }
        if discover
            && st
                .runs
                .get(&run_id)
                .is_some_and(|r| !r.status.is_finished())
        {
            Self::enqueue_discovery(st, &run_id, now);
        }
    }

    /// Parks a run on a sleep, a wait or an invoke. `Ok(true)` when it resolved at once.
    pub(super) fn park(
        st: &mut State,
        run_id: &str,
        op: &GeneratorOp,
        now: DateTime<Utc>,
    ) -> Result<bool, Value> {
        let bad = |what: &str, e: &dyn std::fmt::Display| {
            error_object(
                "Error",
                format!("{what} of step {} cannot be read: {e}", op.label()),
            )
        };
        let waiting = match op.op {
            Opcode::Sleep => {
                let spec = op
                    .opt_str("duration")
                    .or(op.name.as_deref())
                    .ok_or_else(|| error_object("Error", "sleep op without a duration"))?;
                let until =
                    parse_time_or_duration(spec, now).map_err(|e| bad("sleep duration", &e))?;
                Waiting::Sleep {
                    step_id: op.id.clone(),
                    until,
                }
            }
            Opcode::WaitForEvent => {
                let event = op
                    .opt_str("event")
                    .or(op.name.as_deref())
                    .ok_or_else(|| error_object("Error", "waitForEvent op without an event name"))?
                    .to_owned();
                let timeout = op.opt_str("timeout").unwrap_or("");
                let until = if timeout.trim().is_empty() {
                    now
                } else {
                    parse_time_or_duration(timeout, now).map_err(|e| bad("wait timeout", &e))?
                };
                let expression = op
                    .opt_str("if")
                    .filter(|s| !s.trim().is_empty())
                    .map(str::to_owned);
                if let Some(src) = &expression {
                    Expr::compile(src).map_err(|e| bad("wait condition", &e))?;
                }
                Waiting::Event {
                    step_id: op.id.clone(),
                    event,
                    expression,
                    until,
                }
            }
            Opcode::InvokeFunction => {
                let target = op
                    .opt_str("function_id")
                    .ok_or_else(|| error_object("Error", "invoke op without opts.function_id"))?
                    .to_owned();
                let until = match op.opt_str("timeout").filter(|t| !t.trim().is_empty()) {
                    Some(t) => {
                        parse_time_or_duration(t, now).map_err(|e| bad("invoke timeout", &e))?
                    }
                    None => now + Duration::days(DEFAULT_INVOKE_TIMEOUT_DAYS),
                };
                let Some(function) = st.functions.get(&target).cloned() else {
                    return Err(error_object(
                        "Error",
                        format!("could not find function {target:?} to invoke; is its app synced?"),
                    ));
                };
                let payload = op
                    .opts
                    .as_ref()
                    .and_then(|o| o.get("payload"))
                    .cloned()
                    .unwrap_or(json!({}));
                let correlation_id = format!("{run_id}.{}", op.id);
                let (parent_fn, _) = st
                    .runs
                    .get(run_id)
                    .map(|r| (r.function_id.clone(), ()))
                    .unwrap_or_default();
                let mut data = payload
                    .get("data")
                    .cloned()
                    .filter(Value::is_object)
                    .unwrap_or(json!({}));
                data["_inngest"] = json!({
                    "fn_id": target,
                    "source_fn_id": parent_fn,
                    "source_run_id": run_id,
                    "correlation_id": correlation_id,
                    "expire": until.timestamp_millis(),
                });
                let mut event = json!({"name": "inngest/function.invoked", "data": data});
                for k in ["v", "user", "meta"] {
                    if let Some(v) = payload.get(k) {
                        event[k] = v.clone();
                    }
                }
                let internal = new_ulid(now);
                let event = Self::normalise_event(event, &internal, now);
                let child = Self::start_run(
                    st,
                    &function,
                    vec![event],
                    vec![internal],
                    Some(InvokedBy {
                        run_id: run_id.to_owned(),
                        step_id: op.id.clone(),
                        correlation_id,
                    }),
                    None,
                    now,
                )
                .ok_or_else(|| {
                    error_object(
                        "Error",
                        "the invoked function skipped the run (idempotency)",
                    )
                })?;
                Waiting::Invoke {
                    step_id: op.id.clone(),
                    child_run_id: child,
                    until,
                }
            }
            _ => return Ok(false),
        };
        let until = waiting.until();
        if let Some(run) = st.runs.get_mut(run_id) {
            if let Some(s) = run.step_mut(&op.id) {
                s.status = match waiting {
                    Waiting::Sleep { .. } => "sleeping",
                    _ => "waiting",
                }
                .into();
                s.until = Some(until);
            }
            run.waiting.push(waiting);
        }
        st.dirty.insert(run_id.to_owned());
        Self::enqueue(
            st,
            until,
            QueueItem {
                run_id: run_id.to_owned(),
                kind: ItemKind::Wake {
                    step_id: op.id.clone(),
                },
                attempt: 0,
            },
        );
        Ok(false)
    }

    pub(super) fn note_step(st: &mut State, run_id: &str, op: &GeneratorOp, now: DateTime<Utc>) {
        let Some(run) = st.runs.get_mut(run_id) else {
            return;
        };
        if let Some(s) = run.step_mut(&op.id) {
            if s.user_id.is_none() {
                s.user_id.clone_from(&op.user_id);
            }
            return;
        }
        // Planned, failed and legacy run steps are all run steps.
        let op_name = match op.op {
            Opcode::StepPlanned | Opcode::StepError | Opcode::StepFailed | Opcode::Step => {
                "StepRun"
            }
            other => other.as_str(),
        };
        run.steps.push(StepRecord {
            id: op.id.clone(),
            user_id: op.user_id.clone(),
            name: op.label(),
            op: op_name.to_owned(),
            status: if op.op == Opcode::StepPlanned {
                "planned"
            } else {
                "running"
            }
            .into(),
            attempts: Vec::new(),
            output: None,
            error: None,
            opts: op.opts.clone(),
            first_seen_at: now,
            ended_at: None,
            until: None,
            memo_from_outside: false,
        });
    }

    pub(super) fn mark_outside(st: &mut State, run_id: &str, step_id: &str) {
        if let Some(s) = st.runs.get_mut(run_id).and_then(|r| r.step_mut(step_id)) {
            s.memo_from_outside = true;
        }
    }

    pub(super) fn push_attempt(st: &mut State, run_id: &str, step_id: &str, attempt: StepAttempt) {
        if let Some(s) = st.runs.get_mut(run_id).and_then(|r| r.step_mut(step_id)) {
            s.attempts.push(attempt);
        }
    }

    /// Memoises a step's result. Returns whether a discovery call should follow.
    pub(super) fn memoise(
        st: &mut State,
        run_id: &str,
        step_id: &str,
        value: Value,
        now: DateTime<Utc>,
    ) -> bool {
        if let Some(set) = st.active_ops.get_mut(run_id) {
            set.remove(step_id);
        }
        let mocked = st.mocks.contains_key(run_id);
        let Some(run) = st.runs.get_mut(run_id) else {
            return false;
        };
        if run.status.is_finished() {
            return false;
        }
        run.waiting.retain(|w| w.step_id() != step_id);
        let (output, error) = memo_output(&value);
        if let Some(s) = run.step_mut(step_id) {
            s.status = if error.is_some() {
                "failed"
            } else {
                "completed"
            }
            .into();
            s.output = output;
            s.error = error;
            s.ended_at = Some(now);
        }
        run.memo.insert(step_id.to_owned(), value);
        if !run.stack.iter().any(|s| s == step_id) {
            run.stack.push(step_id.to_owned());
        }
        st.dirty.insert(run_id.to_owned());
        let in_group = run.pending.remove(step_id);
        if in_group && !run.pending.is_empty() {
            return false;
        }
        if in_group && run.request_version >= 2 && !mocked {
            run.force_step_plan = false;
        }
        true
    }

    pub(super) fn wake_step(st: &mut State, run_id: &str, step_id: &str, now: DateTime<Utc>) {
        let Some(run) = st.runs.get(run_id) else {
            return;
        };
        if run.status.is_finished() {
            return;
        }
        let Some(waiting) = run.waiting.iter().find(|w| w.step_id() == step_id).cloned() else {
            return; // resolved earlier (event matched, child finished)
        };
        if waiting.until() > now {
            // A stale timer (e.g. restored); re-arm.
            Self::enqueue(
                st,
                waiting.until(),
                QueueItem {
                    run_id: run_id.to_owned(),
                    kind: ItemKind::Wake {
                        step_id: step_id.to_owned(),
                    },
                    attempt: 0,
                },
            );
            return;
        }
        let value = match &waiting {
            Waiting::Sleep { .. } | Waiting::Event { .. } => Value::Null,
            Waiting::Invoke { .. } => json!({"error": {
                "name": "InngestInvokeTimeoutError",
                "message": "Timed out waiting for invoked function to complete",
            }}),
        };
        if Self::memoise(st, run_id, step_id, value, now) {
            Self::enqueue_discovery(st, run_id, now);
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub(super) struct CallMeta {
    max_attempts: u32,
    disable_immediate_execution: bool,
    use_api: bool,
}

pub(super) fn transport_answer(e: &TransportError) -> Answer {
    Answer {
        status: 0,
        request_version: None,
        no_retry: false,
        retry_after: None,
        outcome: CallOutcome::Error(error_object("Error", e.to_string())),
    }
}
