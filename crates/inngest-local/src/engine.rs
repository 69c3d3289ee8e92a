//! Starting the engine as a server, from a binary, `mtd dev` or a test.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::backoff::RetryPolicy;
use crate::clock::{Clock, ScaledClock, SystemClock};
use crate::config::{EngineConfig, normalise_sdk_url};
use crate::executor::{Core, EventRecord, PersistMsg, RunActionError, Settings};
use crate::function::AppInfo;
use crate::run::{RunFilter, RunRecord};
use crate::server::{ApiState, router};
use crate::signature::{EventKey, SigningKey};
use crate::store::{SqliteStore, StoreError};
use crate::sync::{AppStatus, SyncError, Syncer};
use crate::transport::{HttpTransport, Transport};

/// Why the engine could not start.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The address is taken or not allowed.
    #[error("cannot listen on {addr}: {source}; pick another --port or stop what is using it")]
    Bind {
        /// Address.
        addr: SocketAddr,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The run database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why waiting for a run gave up.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum WaitError {
    /// Nothing matched before the timeout.
    #[error("no finished run matched within {timeout:?}; last seen: {last_seen}")]
    Timeout {
        /// The limit.
        timeout: Duration,
        /// What the matching runs looked like at the end.
        last_seen: String,
    },
}

/// The engine. Start one with [`Engine::builder`].
#[derive(Debug)]
pub struct Engine;

impl Engine {
    /// A builder with the dev server's defaults (127.0.0.1:8288, polling every 5 s, real time).
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    /// use inngest_local::Engine;
    /// let engine = Engine::builder()
    ///     .port(0)                       // any free port
    ///     .time_scale(1000.0)            // 15 s of backoff pass in 15 ms
    ///     .sdk_url("http://127.0.0.1:3000/api/inngest")
    ///     .start()
    ///     .await?;
    /// println!("engine at {}", engine.url());
    /// let ids = engine.send_event(serde_json::json!({"name": "app/hello", "data": {}}));
    /// let run = engine
    ///     .wait_for(&inngest_local::RunFilter::event(ids[0].clone()), std::time::Duration::from_secs(10))
    ///     .await?;
    /// println!("{:?} -> {:?}", run.status, run.output);
    /// engine.shutdown().await;
    /// # Ok(()) }
    /// ```
    pub fn builder() -> EngineBuilder {
        EngineBuilder {
            config: EngineConfig::default(),
            clock: None,
            transport: None,
        }
    }
}

/// Configures and starts an engine.
#[derive(Debug)]
pub struct EngineBuilder {
    config: EngineConfig,
    clock: Option<Arc<dyn Clock>>,
    transport: Option<Arc<dyn Transport>>,
}

impl EngineBuilder {
    /// Replaces the whole configuration.
    pub fn config(mut self, config: EngineConfig) -> Self {
        self.config = config;
        self
    }

    /// Binds to `addr`.
    pub fn bind(mut self, addr: SocketAddr) -> Self {
        self.config.host = addr.ip();
        self.config.port = addr.port();
        self
    }

    /// Port to listen on; 0 picks a free one.
    pub fn port(mut self, port: u16) -> Self {
        self.config.port = port;
        self
    }

    /// Adds an app URL to sync.
    pub fn sdk_url(mut self, url: impl AsRef<str>) -> Self {
        self.config.sdk_urls.push(normalise_sdk_url(url.as_ref()));
        self
    }

    /// Signs calls and requires the bearer token on `/fn/register`, `/v0` and `/local`.
    pub fn signing_key(mut self, key: SigningKey) -> Self {
        self.config.signing_key = Some(key);
        self
    }

    /// Accepts only this event key on `/e/{key}` (call again to allow several).
    pub fn event_key(mut self, key: EventKey) -> Self {
        self.config.event_keys.push(key);
        self
    }

    /// Runs engine time `scale` times faster than wall time.
    pub fn time_scale(mut self, scale: f64) -> Self {
        self.config.time_scale = scale;
        self
    }

    /// Uses a fixed retry delay instead of Inngest's backoff table.
    pub fn retry_interval(mut self, interval: Duration) -> Self {
        self.config.retry_interval = Some(interval);
        self
    }

    /// Re-sync interval.
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.config.poll_interval = interval;
        self
    }

    /// Sync apps once (retrying failures) instead of every poll interval.
    pub fn no_poll(mut self) -> Self {
        self.config.poll = false;
        self
    }

    /// Keeps runs and apps in a SQLite file.
    pub fn db(mut self, path: impl Into<PathBuf>) -> Self {
        self.config.db = Some(path.into());
        self
    }

    /// State size (bytes) above which calls ask the SDK to fetch state from `/v0/runs/...`.
    pub fn use_api_threshold(mut self, bytes: usize) -> Self {
        self.config.use_api_threshold = bytes;
        self
    }

    /// Uses this clock instead of real or scaled time.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Uses this transport to reach SDKs instead of HTTP.
    pub fn transport(mut self, transport: Arc<dyn Transport>) -> Self {
        self.transport = Some(transport);
        self
    }

    /// Binds, restores the database if any, and starts serving, scheduling and syncing.
    pub async fn start(self) -> Result<RunningEngine, EngineError> {
        let config = self.config;
        let clock: Arc<dyn Clock> = match self.clock {
            Some(c) => c,
            None if (config.time_scale - 1.0).abs() > f64::EPSILON => {
                Arc::new(ScaledClock::new(config.time_scale))
            }
            None => Arc::new(SystemClock),
        };
        let transport: Arc<dyn Transport> = self
            .transport
            .unwrap_or_else(|| Arc::new(HttpTransport::new()));
        let addr = SocketAddr::new(config.host, config.port);
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| EngineError::Bind { addr, source })?;
        let addr = listener
            .local_addr()
            .map_err(|source| EngineError::Bind { addr, source })?;

        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let mut tasks = Vec::new();

        let (persist_tx, store, persister) = match &config.db {
            Some(path) => {
                let store = SqliteStore::open(path).await?;
                let (tx, rx) = mpsc::unbounded_channel();
                let handle = tokio::spawn(persist_loop(store.clone(), rx));
                (Some(tx), Some(store), Some(handle))
            }
            None => (None, None, None),
        };

        let user_agent = format!("inngest-local/{}", env!("CARGO_PKG_VERSION"));
        let settings = Settings {
            retry: match config.retry_interval {
                Some(d) => RetryPolicy::Fixed(
                    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::seconds(1)),
                ),
                None => RetryPolicy::Table,
            },
            signing_key: config.signing_key.clone(),
            use_api_threshold: config.use_api_threshold,
            user_agent: user_agent.clone(),
        };
        let core = Core::new(
            Arc::clone(&clock),
            Arc::clone(&transport),
            settings,
            persist_tx,
        );
        if let Some(store) = &store {
            let apps = store.load_apps().await?;
            let runs = store.load_runs().await?;
            core.restore(apps, runs);
        }
        tasks.push(tokio::spawn(
            Arc::clone(&core).dispatch(shutdown_rx.clone()),
        ));

        let server_kind = if config.signing_key.is_some() {
            "cloud"
        } else {
            "dev"
        };
        let syncer = Arc::new(Syncer::new(
            transport,
            config.signing_key.clone(),
            server_kind,
            user_agent,
        ));
        for url in &config.sdk_urls {
            syncer.add(url);
        }
        let start_opts = serde_json::json!({
            "sdk-url": config.sdk_urls,
            "poll-interval": config.poll_interval.as_secs(),
            "no-poll": !config.poll,
            "retry-interval": config.retry_interval.map(|d| d.as_secs()),
            "port": addr.port(),
            "host": addr.ip().to_string(),
            "time-scale": config.time_scale,
            "persist": config.db.is_some(),
        });
        let state = ApiState {
            core: Arc::clone(&core),
            syncer: Arc::clone(&syncer),
            signing_key: config.signing_key.clone(),
            event_keys: config.event_keys.clone(),
            server_kind,
            start_opts,
        };
        let app = router(state);
        let mut server_shutdown = shutdown_rx.clone();
        tasks.push(tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
                let _ = server_shutdown.wait_for(|s| *s).await;
            });
            if let Err(e) = serve.await {
                tracing::error!(error = %e, "the engine's HTTP server stopped");
            }
        }));
        tasks.push(tokio::spawn(poll_loop(
            Arc::clone(&core),
            Arc::clone(&syncer),
            config.poll,
            config.poll_interval,
            shutdown_rx,
        )));
        tracing::info!(%addr, kind = server_kind, "inngest-local listening");
        Ok(RunningEngine {
            core,
            syncer,
            addr,
            event_key: config.event_keys.first().cloned(),
            shutdown: shutdown_tx,
            tasks,
            persister,
            store,
        })
    }
}

async fn persist_loop(store: SqliteStore, mut rx: mpsc::UnboundedReceiver<PersistMsg>) {
    while let Some(msg) = rx.recv().await {
        let result = match msg {
            PersistMsg::Run(run) => store.save_run(&run).await,
            PersistMsg::App { url, payload } => store.save_app(&url, &payload).await,
        };
        if let Err(e) = result {
            tracing::error!(error = %e, "writing to the run database failed");
        }
    }
    store.close().await;
}

async fn poll_loop(
    core: Arc<Core>,
    syncer: Arc<Syncer>,
    poll: bool,
    interval: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let mut urls: Vec<String> = syncer
            .statuses()
            .into_iter()
            .filter(|s| poll || s.last_synced.is_none())
            .map(|s| s.url)
            .collect();
        if poll {
            for app in core.apps() {
                if !urls.contains(&app.url) {
                    urls.push(app.url);
                }
            }
        }
        for url in urls {
            if let Err(e) = syncer.sync(&url, core.clock.now()).await {
                tracing::warn!(error = %e, "sync failed; retrying next poll");
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(interval.max(Duration::from_millis(100))) => {}
            _ = shutdown.wait_for(|s| *s) => return,
        }
    }
}

/// A running engine. Dropping it without [`RunningEngine::shutdown`] leaves its tasks running
/// until the runtime stops.
#[derive(Debug)]
pub struct RunningEngine {
    core: Arc<Core>,
    syncer: Arc<Syncer>,
    addr: SocketAddr,
    event_key: Option<EventKey>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    persister: Option<JoinHandle<()>>,
    store: Option<SqliteStore>,
}

impl RunningEngine {
    /// Base URL, e.g. `http://127.0.0.1:8288` (what SDKs use as `INNGEST_BASE_URL`).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// URL to post events to with the first configured event key (or `local`).
    pub fn event_url(&self) -> String {
        let key = self
            .event_key
            .as_ref()
            .map(EventKey::expose)
            .unwrap_or("local");
        format!("{}/e/{key}", self.url())
    }

    /// Takes events in directly (same path as `POST /e/{key}`). Returns their internal ids.
    pub fn send_events(&self, events: Vec<Value>) -> Vec<String> {
        self.core.send_events(events, None)
    }

    /// Takes one event in. Returns its internal id (a one-element list, like the events API).
    pub fn send_event(&self, event: Value) -> Vec<String> {
        self.send_events(vec![event])
    }

    /// Syncs an app now (PUT to its URL; the app registers back). Returns `modified`.
    pub async fn sync_app(&self, url: &str) -> Result<bool, SyncError> {
        self.syncer
            .sync(&normalise_sdk_url(url), self.core.clock.now())
            .await
    }

    /// Synced apps.
    pub fn apps(&self) -> Vec<AppInfo> {
        self.core.apps()
    }

    /// Sync results per app URL.
    pub fn app_statuses(&self) -> Vec<AppStatus> {
        self.syncer.statuses()
    }

    /// Registered functions (id, name, app, url, retries, config).
    pub fn functions(&self) -> Vec<Value> {
        self.core.functions()
    }

    /// One run.
    pub fn run(&self, run_id: &str) -> Option<RunRecord> {
        self.core.run(run_id)
    }

    /// Runs matching `filter`, newest first.
    pub fn runs(&self, filter: &RunFilter) -> Vec<RunRecord> {
        self.core.runs(filter)
    }

    /// Events received, newest first.
    pub fn events(&self, name: Option<&str>, limit: usize) -> Vec<EventRecord> {
        self.core.events(name, limit)
    }

    /// Waits (real time) until run `run_id` has finished.
    pub async fn wait_for_run(
        &self,
        run_id: &str,
        timeout: Duration,
    ) -> Result<RunRecord, WaitError> {
        let core = &self.core;
        core.wait_for(run_id, timeout)
            .await
            .ok_or_else(|| WaitError::Timeout {
                timeout,
                last_seen: describe(core.run(run_id).as_slice()),
            })
    }

    /// Waits (real time) until the oldest run matching `filter` has finished, and returns it.
    pub async fn wait_for(
        &self,
        filter: &RunFilter,
        timeout: Duration,
    ) -> Result<RunRecord, WaitError> {
        let core = &self.core;
        core.wait_until(timeout, || {
            core.runs(filter)
                .into_iter()
                .next_back()
                .filter(|r| r.status.is_finished())
        })
        .await
        .ok_or_else(|| WaitError::Timeout {
            timeout,
            last_seen: describe(&core.runs(filter)),
        })
    }

    /// Waits (real time) until `check` returns `Some` for the engine's runs.
    pub async fn wait_until<T>(
        &self,
        timeout: Duration,
        mut check: impl FnMut(&RunningEngine) -> Option<T>,
    ) -> Option<T> {
        self.core.wait_until(timeout, || check(self)).await
    }

    /// Re-runs a run from the start, or from `from_step` (hashed id, step id or name) with the
    /// memo of the steps before it kept. Returns the new run's id.
    pub fn rerun(&self, run_id: &str, from_step: Option<&str>) -> Result<String, RunActionError> {
        self.core.rerun(run_id, from_step)
    }

    /// Cancels a running run.
    pub fn cancel(&self, run_id: &str) -> Result<(), RunActionError> {
        self.core.cancel(run_id)
    }

    /// Stops serving, scheduling and syncing, and flushes the database.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
        // The core (and its sender) may still be referenced by in-flight calls; dropping ours
        // and waiting briefly lets the persister drain.
        drop(self.core);
        if let Some(p) = self.persister {
            let _ = tokio::time::timeout(Duration::from_secs(5), p).await;
        }
        if let Some(store) = self.store {
            store.close().await;
        }
    }
}

fn describe(runs: &[RunRecord]) -> String {
    if runs.is_empty() {
        return "no matching run".into();
    }
    runs.iter()
        .map(|r| {
            let last = r
                .calls
                .last()
                .map(|c| format!("{} {}", c.outcome, c.ops.join(",")))
                .unwrap_or_default();
            format!(
                "{} {} {:?} ({} calls, last: {last})",
                r.id,
                r.function_id,
                r.status,
                r.calls.len()
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}
