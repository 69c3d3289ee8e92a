//! What the server, the engine handle and the test engine ask of the executor.

use super::*;

impl Core {
    /// Registers (or re-registers) an app's functions.
    pub(crate) fn register(
        &self,
        app: AppInfo,
        functions: Vec<FunctionDef>,
        payload: Bytes,
    ) -> RegisterOutcome {
        self.with_state(|st, now| {
            let modified = st
                .apps
                .get(&app.url)
                .is_none_or(|old| old.checksum != app.checksum);
            if let Some(old) = st.apps.get(&app.url) {
                for id in &old.functions {
                    if !app.functions.contains(id) {
                        st.functions.remove(id);
                        st.cron_generation.remove(id);
                    }
                }
            }
            for f in functions {
                let id = f.id.clone();
                let ignored = f.ignored_settings();
                if modified && !ignored.is_empty() {
                    tracing::warn!(
                        function = %id,
                        settings = ?ignored,
                        "the local engine does not enforce these settings; runs here may differ from Inngest's"
                    );
                }
                let f = Arc::new(f);
                if modified || !st.cron_generation.contains_key(&id) {
                    let generation = st.cron_generation.get(&id).copied().unwrap_or(0) + 1;
                    st.cron_generation.insert(id.clone(), generation);
                    for (trigger, at) in f.next_cron_ticks(now) {
                        Self::enqueue(
                            st,
                            at,
                            QueueItem {
                                run_id: String::new(),
                                kind: ItemKind::Cron {
                                    function_id: id.clone(),
                                    trigger,
                                    generation,
                                    at,
                                },
                                attempt: 0,
                            },
                        );
                    }
                }
                st.functions.insert(id, f);
            }
            st.apps.insert(app.url.clone(), app.clone());
            if modified {
                st.app_payloads.insert(app.url.clone(), payload.clone());
                st.dirty_apps.push((app.url.clone(), payload));
            }
            RegisterOutcome { app, modified }
        })
    }

    /// Defines a function directly (no sync): used by the in-process test engine.
    pub(crate) fn define(&self, function: FunctionDef) {
        self.with_state(|st, _| {
            st.functions.insert(function.id.clone(), Arc::new(function));
        });
    }

    /// Takes events in. Returns their internal ids.
    pub(crate) fn send_events(&self, events: Vec<Value>, seed: Option<&str>) -> Vec<String> {
        self.with_state(|st, now| Self::ingest(st, events, seed, now))
    }

    /// Starts one run of `function_id` for `event` directly, with optional mocks.
    pub(crate) fn start_direct(
        &self,
        function_id: &str,
        event: Value,
        mocks: Option<Mocks>,
    ) -> Option<String> {
        self.with_state(|st, now| {
            let f = st.functions.get(function_id).cloned()?;
            let internal = new_ulid(now);
            let event = Self::normalise_event(event, &internal, now);
            let id = Self::start_run(st, &f, vec![event], vec![internal], None, None, now)?;
            if let Some(m) = mocks {
                st.mocks.insert(id.clone(), Arc::new(m));
                if let Some(run) = st.runs.get_mut(&id) {
                    run.force_step_plan = true;
                }
            }
            Some(id)
        })
    }

    /// Re-runs a run from the start or from a step (memo kept up to that step).
    pub(crate) fn rerun(
        &self,
        run_id: &str,
        from_step: Option<&str>,
    ) -> Result<String, RunActionError> {
        self.with_state(|st, now| {
            let original = st
                .runs
                .get(run_id)
                .cloned()
                .ok_or_else(|| RunActionError::NotFound(run_id.to_owned()))?;
            let f = st
                .functions
                .get(&original.function_id)
                .cloned()
                .ok_or_else(|| RunActionError::FunctionGone(original.function_id.clone()))?;
            let (keep, from) = match from_step {
                None => (Vec::new(), None),
                Some(step) => {
                    let hashed = original
                        .step(step)
                        .map(|s| s.id.clone())
                        .filter(|id| original.stack.contains(id))
                        .ok_or_else(|| RunActionError::UnknownStep {
                            run: run_id.to_owned(),
                            step: step.to_owned(),
                        })?;
                    let idx = original
                        .stack
                        .iter()
                        .position(|s| *s == hashed)
                        .unwrap_or(0);
                    (original.stack[..idx].to_vec(), Some(hashed))
                }
            };
            let replay = ReplayOf {
                run_id: run_id.to_owned(),
                from_step: from,
            };
            let id = Self::start_run(
                st,
                &f,
                original.events.clone(),
                original.event_ids.clone(),
                None,
                Some(replay),
                now,
            )
            .ok_or_else(|| RunActionError::FunctionGone(original.function_id.clone()))?;
            if let Some(run) = st.runs.get_mut(&id) {
                for step_id in &keep {
                    if let Some(v) = original.memo.get(step_id) {
                        run.memo.insert(step_id.clone(), v.clone());
                        run.stack.push(step_id.clone());
                    }
                    if let Some(s) = original.steps.iter().find(|s| &s.id == step_id) {
                        let mut s = s.clone();
                        s.memo_from_outside = true;
                        s.attempts.clear();
                        run.steps.push(s);
                    }
                }
            }
            Ok(id)
        })
    }

    /// Cancels a running run.
    pub(crate) fn cancel(&self, run_id: &str) -> Result<(), RunActionError> {
        self.with_state(|st, now| {
            let run = st
                .runs
                .get(run_id)
                .ok_or_else(|| RunActionError::NotFound(run_id.to_owned()))?;
            if run.status.is_finished() {
                return Err(RunActionError::Finished(run_id.to_owned()));
            }
            Self::finish_run(st, run_id, RunStatus::Cancelled, None, None, now);
            Ok(())
        })
    }

    /// One run.
    pub(crate) fn run(&self, run_id: &str) -> Option<RunRecord> {
        self.lock().runs.get(run_id).cloned()
    }

    /// Runs matching a filter, newest first.
    pub(crate) fn runs(&self, filter: &RunFilter) -> Vec<RunRecord> {
        let st = self.lock();
        let limit = filter.limit.unwrap_or(usize::MAX);
        st.run_order
            .iter()
            .rev()
            .filter_map(|id| st.runs.get(id))
            .filter(|r| filter.matches(r))
            .take(limit)
            .cloned()
            .collect()
    }

    /// Events received, newest first.
    pub(crate) fn events(&self, name: Option<&str>, limit: usize) -> Vec<EventRecord> {
        let st = self.lock();
        st.events
            .iter()
            .rev()
            .filter(|e| name.is_none_or(|n| e.name == n))
            .take(limit)
            .cloned()
            .collect()
    }

    /// Synced apps.
    pub(crate) fn apps(&self) -> Vec<AppInfo> {
        self.lock().apps.values().cloned().collect()
    }

    /// Registered functions' configs.
    pub(crate) fn functions(&self) -> Vec<Value> {
        let st = self.lock();
        let mut out: Vec<Value> = st
            .functions
            .values()
            .map(|f| json!({"id": f.id, "name": f.name, "app": f.app, "url": f.url.as_str(), "retries": f.retries, "ignored_settings": f.ignored_settings(), "config": f.config}))
            .collect();
        out.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
        out
    }

    /// Whether a function is registered.
    pub(crate) fn has_function(&self, id: &str) -> bool {
        self.lock().functions.contains_key(id)
    }

    /// Events of a run (for `/v0/runs/{id}/batch`).
    pub(crate) fn run_events(&self, run_id: &str) -> Option<Vec<Value>> {
        self.lock().runs.get(run_id).map(|r| r.events.clone())
    }

    /// Memoised steps of a run (for `/v0/runs/{id}/actions`).
    pub(crate) fn run_actions(&self, run_id: &str) -> Option<BTreeMap<String, Value>> {
        self.lock().runs.get(run_id).map(|r| {
            r.memo
                .iter()
                .filter(|(k, v)| r.stack.contains(k) || v.get("input").is_some())
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
    }

    /// Waits until `run_id` has finished, or `timeout` (real time) passes.
    pub(crate) async fn wait_for(&self, run_id: &str, timeout: StdDuration) -> Option<RunRecord> {
        self.wait_until(timeout, || {
            self.run(run_id).filter(|r| r.status.is_finished())
        })
        .await
    }

    /// Waits until `check` returns something, re-checking whenever a run finishes.
    pub(crate) async fn wait_until<T>(
        &self,
        timeout: StdDuration,
        mut check: impl FnMut() -> Option<T>,
    ) -> Option<T> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut rx = self.finished.subscribe();
        loop {
            rx.mark_unchanged();
            if let Some(v) = check() {
                return Some(v);
            }
            // Also re-check periodically: some conditions (a step started) do not end a run.
            let tick = tokio::time::sleep(StdDuration::from_millis(25));
            tokio::select! {
                _ = rx.changed() => {}
                _ = tick => {}
                _ = tokio::time::sleep_until(deadline) => return check(),
            }
        }
    }

    /// Restores apps and runs loaded from the store and re-arms unfinished runs.
    pub(crate) fn restore(&self, apps: Vec<(String, Bytes)>, runs: Vec<RunRecord>) {
        for (url, payload) in apps {
            match crate::function::parse_register(&payload) {
                Ok((app, defs)) => {
                    let mut app = app;
                    app.url = url;
                    self.register(app, defs, payload);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "stored app could not be re-read; sync it again")
                }
            }
        }
        self.with_state(|st, now| {
            st.dirty_apps.clear();
            let mut runs = runs;
            runs.sort_by(|a, b| a.id.cmp(&b.id));
            for run in runs {
                let id = run.id.clone();
                let running = !run.status.is_finished();
                let waits = run.waiting.clone();
                let needs_discovery = waits.is_empty() || !run.pending.is_empty();
                for ev in &run.event_ids {
                    st.seen_internal_ids.insert(ev.clone());
                }
                st.runs.insert(id.clone(), run);
                st.run_order.push(id.clone());
                if running {
                    for w in waits {
                        Self::enqueue(
                            st,
                            w.until(),
                            QueueItem {
                                run_id: id.clone(),
                                kind: ItemKind::Wake {
                                    step_id: w.step_id().to_owned(),
                                },
                                attempt: 0,
                            },
                        );
                    }
                    if needs_discovery {
                        Self::enqueue_discovery(st, &id, now);
                    }
                }
            }
        });
    }
}
