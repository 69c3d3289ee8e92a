//! Runs starting and ending, events coming in (waits, cancellations, triggers), cron ticks.

use super::*;

impl Core {
    pub(super) fn normalise_event(event: Value, internal_id: &str, now: DateTime<Utc>) -> Value {
        let mut ev = event_for_function(&event);
        let has_id = ev
            .get("id")
            .and_then(Value::as_str)
            .is_some_and(|s| !s.is_empty());
        if !has_id {
            ev["id"] = Value::String(internal_id.to_owned());
        }
        let has_ts = ev.get("ts").and_then(Value::as_i64).is_some_and(|t| t > 0);
        if !has_ts {
            ev["ts"] = json!(now.timestamp_millis());
        }
        ev
    }

    /// Creates a run and queues its first call. `None` when idempotency skipped it.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn start_run(
        st: &mut State,
        function: &FunctionDef,
        events: Vec<Value>,
        event_ids: Vec<String>,
        invoked_by: Option<InvokedBy>,
        replay_of: Option<ReplayOf>,
        now: DateTime<Utc>,
    ) -> Option<String> {
        let event = events.first().cloned().unwrap_or(Value::Null);
        if replay_of.is_none()
            && let Some(expr) = &function.idempotency
        {
            match expr.key(&[("event", &event)]) {
                Ok(key) => {
                    let k = format!("{}:{key}", function.id);
                    if st
                        .idempotency
                        .get(&k)
                        .is_some_and(|at| now - *at < Duration::hours(24))
                    {
                        tracing::info!(function = %function.id, "idempotency key seen in the last 24h; run skipped");
                        return None;
                    }
                    st.idempotency.insert(k, now);
                }
                Err(e) => {
                    tracing::warn!(function = %function.id, error = %e, "idempotency key failed")
                }
            }
        }
        let mut concurrency_keys = Vec::new();
        for c in &function.concurrency {
            let key = match &c.key {
                Some(expr) => match expr.key(&[("event", &event)]) {
                    Ok(k) => k,
                    Err(e) => {
                        tracing::warn!(function = %function.id, error = %e, "concurrency key failed; using an empty key");
                        String::new()
                    }
                },
                None => String::new(),
            };
            let slot = match c.scope {
                ConcurrencyScope::Fn => format!("fn:{}:{key}", function.id),
                // As Inngest keys them: scope prefix, scope id, evaluated key. Env and account
                // keys are shared by every function using the same key value.
                ConcurrencyScope::Env => format!("env:{key}"),
                ConcurrencyScope::Account => format!("account:{key}"),
            };
            concurrency_keys.push((slot, c.limit));
        }
        let id = new_ulid(now);
        let run = RunRecord {
            id: id.clone(),
            function_id: function.id.clone(),
            status: RunStatus::Running,
            event_name: event
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            event_ids,
            events,
            created_at: now,
            ended_at: None,
            output: None,
            error: None,
            steps: Vec::new(),
            calls: Vec::new(),
            memo: BTreeMap::new(),
            stack: Vec::new(),
            waiting: Vec::new(),
            pending: Default::default(),
            force_step_plan: false,
            request_version: -1,
            concurrency_keys,
            replay_of,
            invoked_by,
        };
        st.runs.insert(id.clone(), run);
        st.run_order.push(id.clone());
        st.dirty.insert(id.clone());
        Self::enqueue_discovery(st, &id, now);
        Some(id)
    }

    pub(super) fn finish_run(
        st: &mut State,
        run_id: &str,
        status: RunStatus,
        output: Option<Value>,
        error: Option<Value>,
        now: DateTime<Utc>,
    ) {
        let Some(run) = st.runs.get_mut(run_id) else {
            return;
        };
        if run.status.is_finished() {
            return;
        }
        run.status = status;
        run.ended_at = Some(now);
        run.output = output.clone();
        run.error = error.clone();
        for w in std::mem::take(&mut run.waiting) {
            if let Some(s) = run.step_mut(w.step_id()) {
                s.status = "cancelled".into();
            }
        }
        run.pending.clear();
        let run = run.clone();
        st.queue
            .retain(|_, item| item.run_id != run_id || matches!(item.kind, ItemKind::Cron { .. }));
        st.active_ops.remove(run_id);
        st.discovery_queued.remove(run_id);
        st.mocks.remove(run_id);
        st.dirty.insert(run_id.to_owned());
        st.finished_changed = true;
        st.queue_changed = true;

        // Children of a cancelled or failed parent are left to finish on their own, as in Inngest.
        if let Some(parent) = &run.invoked_by {
            let value = match status {
                RunStatus::Completed => json!({"data": output.clone().unwrap_or(Value::Null)}),
                RunStatus::Failed => {
                    json!({"error": error.clone().unwrap_or_else(|| error_object("Error", "invoked function failed"))})
                }
                _ => {
                    json!({"error": error_object("Error", format!("the invoked run {run_id} was cancelled"))})
                }
            };
            let resumable = st.runs.get(&parent.run_id).is_some_and(|p| {
                p.waiting.iter().any(
                    |w| matches!(w, Waiting::Invoke { child_run_id, .. } if child_run_id == run_id),
                )
            });
            if resumable && Self::memoise(st, &parent.run_id, &parent.step_id, value, now) {
                Self::enqueue_discovery(st, &parent.run_id, now);
            }
        }

        if is_lifecycle_event(&run.event_name) {
            return;
        }
        let status_name = format!("{status:?}");
        let mut data = json!({
            "function_id": run.function_id,
            "run_id": run.id,
            "event": run.event(),
            "events": run.events,
            "_inngest": {"status": status_name},
        });
        match status {
            RunStatus::Completed => data["result"] = output.unwrap_or(Value::Null),
            _ => data["error"] = error.unwrap_or(Value::Null),
        }
        if let Some(parent) = &run.invoked_by {
            data["correlation_id"] = Value::String(parent.correlation_id.clone());
        }
        let mut lifecycle = Vec::new();
        match status {
            RunStatus::Failed => lifecycle.push(
                json!({"name": "inngest/function.failed", "id": run.id, "data": data.clone()}),
            ),
            RunStatus::Cancelled => {
                lifecycle.push(json!({"name": "inngest/function.cancelled", "data": data.clone()}))
            }
            _ => {}
        }
        lifecycle.push(json!({"name": "inngest/function.finished", "data": data}));
        Self::ingest(st, lifecycle, None, now);
    }

    /// Takes events in (API or internal) and acts on them: resumes waits, cancels runs, starts
    /// runs. Returns the internal ids.
    pub(super) fn ingest(
        st: &mut State,
        events: Vec<Value>,
        seed: Option<&str>,
        now: DateTime<Utc>,
    ) -> Vec<String> {
        let mut ids = Vec::with_capacity(events.len());
        for (index, raw) in events.into_iter().enumerate() {
            let internal = seed
                .and_then(|s| seeded_id(s, index))
                .unwrap_or_else(|| new_ulid(now));
            ids.push(internal.clone());
            if !st.seen_internal_ids.insert(internal.clone()) {
                continue; // a retried send with the same seed
            }
            let user_id = raw
                .get("id")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_owned);
            let event = Self::normalise_event(raw, &internal, now);
            let name = event
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            let mut record = EventRecord {
                internal_id: internal.clone(),
                name: name.clone(),
                event: event.clone(),
                received_at: now,
                run_ids: Vec::new(),
            };
            if let Some(uid) = &user_id {
                let key = format!("{name}:{uid}");
                if st
                    .seen_user_ids
                    .get(&key)
                    .is_some_and(|at| now - *at < Duration::hours(24))
                {
                    Self::log_event(st, record);
                    continue; // Inngest deduplicates events by id for 24h
                }
                st.seen_user_ids.insert(key, now);
            }

            // 1. Waits for this event.
            let mut resumes = Vec::new();
            for id in &st.run_order {
                let Some(run) = st.runs.get(id) else { continue };
                if run.status.is_finished() {
                    continue;
                }
                for w in &run.waiting {
                    if let Waiting::Event {
                        step_id,
                        event: wanted,
                        expression,
                        ..
                    } = w
                        && *wanted == name
                    {
                        let ok = match expression {
                            None => true,
                            Some(src) => Expr::compile(src)
                                .and_then(|e| e.matches(&[("event", run.event()), ("async", &event)]))
                                .unwrap_or_else(|e| {
                                    tracing::warn!(run = %run.id, error = %e, "wait condition failed");
                                    false
                                }),
                        };
                        if ok {
                            resumes.push((run.id.clone(), step_id.clone()));
                        }
                    }
                }
            }
            for (run_id, step_id) in resumes {
                if Self::memoise(st, &run_id, &step_id, event.clone(), now) {
                    Self::enqueue_discovery(st, &run_id, now);
                }
            }

            // 2. Cancellations.
            let mut cancels = Vec::new();
            for id in &st.run_order {
                let Some(run) = st.runs.get(id) else { continue };
                if run.status.is_finished() {
                    continue;
                }
                let Some(f) = st.functions.get(&run.function_id) else {
                    continue;
                };
                let hit = f.cancel.iter().any(|c| {
                    c.event == name
                        && c.timeout.is_none_or(|t| now - run.created_at <= t)
                        && c.expression.as_ref().is_none_or(|e| {
                            e.matches(&[("event", run.event()), ("async", &event)])
                                .unwrap_or(false)
                        })
                });
                if hit {
                    cancels.push(run.id.clone());
                }
            }
            for run_id in cancels {
                Self::finish_run(st, &run_id, RunStatus::Cancelled, None, None, now);
            }

            // 3. New runs.
            let targets: Vec<Arc<FunctionDef>> = if name == "inngest/function.invoked" {
                event
                    .pointer("/data/_inngest/fn_id")
                    .and_then(Value::as_str)
                    .and_then(|f| st.functions.get(f).cloned())
                    .into_iter()
                    .collect()
            } else {
                let mut fs: Vec<Arc<FunctionDef>> = st
                    .functions
                    .values()
                    .filter(|f| f.triggered_by(&event))
                    .cloned()
                    .collect();
                fs.sort_by(|a, b| a.id.cmp(&b.id));
                fs
            };
            for f in targets {
                if let Some(run_id) = Self::start_run(
                    st,
                    &f,
                    vec![event.clone()],
                    vec![internal.clone()],
                    None,
                    None,
                    now,
                ) {
                    record.run_ids.push(run_id);
                }
            }
            Self::log_event(st, record);
        }
        ids
    }

    pub(super) fn log_event(st: &mut State, record: EventRecord) {
        st.events.push_back(record);
        while st.events.len() > EVENT_LOG_LIMIT {
            st.events.pop_front();
        }
    }

    pub(super) fn fire_cron(
        st: &mut State,
        function_id: &str,
        trigger: usize,
        generation: u64,
        at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) {
        if st.cron_generation.get(function_id) != Some(&generation) {
            return; // re-synced or removed since
        }
        let Some(f) = st.functions.get(function_id).cloned() else {
            return;
        };
        let schedule = match f.triggers.get(trigger) {
            Some(crate::function::Trigger::Cron { schedule, .. }) => schedule.clone(),
            _ => return,
        };
        let internal = new_ulid(now);
        let event = Self::normalise_event(
            json!({"name": "inngest/scheduled.timer", "data": {"cron": schedule}, "ts": at.timestamp_millis()}),
            &internal,
            now,
        );
        let run = Self::start_run(
            st,
            &f,
            vec![event.clone()],
            vec![internal.clone()],
            None,
            None,
            now,
        );
        Self::log_event(
            st,
            EventRecord {
                internal_id: internal,
                name: "inngest/scheduled.timer".into(),
                event,
                received_at: now,
                run_ids: run.into_iter().collect(),
            },
        );
        for (idx, next) in f.next_cron_ticks(at.max(now)) {
            if idx == trigger {
                Self::enqueue(
                    st,
                    next,
                    QueueItem {
                        run_id: String::new(),
                        kind: ItemKind::Cron {
                            function_id: function_id.to_owned(),
                            trigger,
                            generation,
                            at: next,
                        },
                        attempt: 0,
                    },
                );
            }
        }
    }
}

/// Derives the internal id for the `index`-th event of a request carrying
/// `X-Inngest-Event-Id-Seed: <millis>,<base64 of 10 bytes>`, as Inngest does.
pub(crate) fn seeded_id(seed: &str, index: usize) -> Option<String> {
    use base64::Engine as _;
    let (millis, entropy) = seed.split_once(',')?;
    let millis: i64 = millis.trim().parse().ok()?;
    if millis <= 0 {
        return None;
    }
    let mut bytes = base64::engine::general_purpose::STANDARD
        .decode(entropy.trim())
        .ok()?;
    if bytes.len() != 10 {
        return None;
    }
    let tail =
        u32::from_be_bytes([bytes[6], bytes[7], bytes[8], bytes[9]]).wrapping_add(index as u32);
    bytes[6..10].copy_from_slice(&tail.to_be_bytes());
    let mut random: u128 = 0;
    for b in &bytes {
        random = (random << 8) | u128::from(*b);
    }
    Some(Ulid::from_parts(millis as u64, random).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_ids_are_deterministic_and_distinct_per_index() {
        let seed = "1743130137367,eii2YKXRVTJPuA==";
        let a0 = seeded_id(seed, 0).unwrap();
        assert_eq!(a0, seeded_id(seed, 0).unwrap());
        assert_ne!(a0, seeded_id(seed, 1).unwrap());
        let ulid = Ulid::from_string(&a0).unwrap();
        assert_eq!(ulid.timestamp_ms(), 1743130137367);
        assert!(seeded_id("0,eii2YKXRVTJPuA==", 0).is_none());
        assert!(seeded_id("1743130137367,AAAA", 0).is_none());
        assert!(seeded_id("garbage", 0).is_none());
    }
}
