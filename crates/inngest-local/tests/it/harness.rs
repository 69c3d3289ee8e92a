//! Test harness: SDK apps under test (pluggable) and engines wired to them.
//!
//! An [`SdkApp`] is any app that serves the Inngest call protocol on a 127.0.0.1 URL and syncs
//! itself against the engine URL it was started with: [`JsApp`] (the official JS SDK, a Node.js
//! process) and [`RustApp`] (this workspace's Rust SDK, served in process). [`Sdk`] names one of
//! them, so an end-to-end case is written once and run against each.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use inngest_local::{Engine, EngineBuilder, RunFilter, RunRecord, RunningEngine};
use serde_json::{Value, json};

pub(crate) use crate::rust_app::RustApp;

/// Wall-clock limit for any single run in these tests.
pub(crate) const RUN_TIMEOUT: Duration = Duration::from_secs(30);

/// Engine time runs this much faster than wall time in e2e tests: Inngest's real backoff
/// (15 s, 30 s, ...) passes in tens of milliseconds.
pub(crate) const TIME_SCALE: f64 = 1000.0;

/// How an app authenticates.
#[derive(Debug, Clone)]
pub(crate) enum Mode {
    /// Dev mode: no signatures.
    Dev,
    /// Cloud mode with these keys.
    Cloud {
        signing_key: String,
        event_key: String,
    },
}

/// An SDK app under test.
pub(crate) trait SdkApp: Send {
    /// The serve URL to sync.
    fn serve_url(&self) -> String;
    /// The app id (prefix of composite function ids).
    fn app_id(&self) -> &str;
    /// Composite id of one of its functions.
    fn function_id(&self, name: &str) -> String {
        format!("{}-{name}", self.app_id())
    }
}

/// The SDKs whose apps the end-to-end cases run against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sdk {
    /// The official JS SDK (`tests/js-app`).
    Js,
    /// This workspace's Rust SDK (`tests/it/rust_app.rs`).
    Rust,
}

impl Sdk {
    /// Starts this SDK's test app against `engine_url` (with the cron-triggered `ticker`
    /// function when `with_cron`) and waits until it serves.
    pub(crate) async fn start(
        self,
        engine_url: &str,
        mode: &Mode,
        with_cron: bool,
    ) -> Box<dyn SdkApp> {
        match self {
            Sdk::Js => {
                let env: &[(&str, &str)] = if with_cron {
                    &[("WITH_CRON", "1")]
                } else {
                    &[]
                };
                Box::new(JsApp::start(engine_url, mode, env).await)
            }
            Sdk::Rust => Box::new(RustApp::start(engine_url, mode, with_cron).await),
        }
    }
}

/// A free 127.0.0.1 port (bound then released).
pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The JS app in `tests/js-app`, run with the machine's Node.js.
pub(crate) struct JsApp {
    child: Child,
    url: String,
}

impl JsApp {
    fn dir() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/js-app")
    }

    /// Starts the app against `engine_url` and waits until it answers.
    pub(crate) async fn start(engine_url: &str, mode: &Mode, extra_env: &[(&str, &str)]) -> Self {
        let dir = Self::dir();
        assert!(
            dir.join("node_modules/inngest/package.json").is_file(),
            "the JS test app is not installed: run `npm ci` in {}",
            dir.display()
        );
        let port = free_port();
        let mut cmd = Command::new("node");
        cmd.arg("app.mjs")
            .current_dir(&dir)
            .env("PORT", port.to_string())
            .env("INNGEST_BASE_URL", engine_url)
            .env_remove("INNGEST_SIGNING_KEY")
            .env_remove("INNGEST_SIGNING_KEY_FALLBACK")
            .env_remove("INNGEST_EVENT_KEY")
            .env_remove("INNGEST_DEV")
            .env("INNGEST_LOG_LEVEL", "error")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        match mode {
            Mode::Dev => {
                cmd.env("INNGEST_DEV", "1");
            }
            Mode::Cloud {
                signing_key,
                event_key,
            } => {
                cmd.env("INNGEST_DEV", "0")
                    .env("INNGEST_SIGNING_KEY", signing_key)
                    .env("INNGEST_EVENT_KEY", event_key);
            }
        }
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("node is installed and runs app.mjs");
        let app = Self {
            child,
            url: format!("http://127.0.0.1:{port}/api/inngest"),
        };
        app.wait_ready().await;
        app
    }

    async fn wait_ready(&self) {
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            // Any answer means the server is up (in cloud mode an unsigned GET gets a bare 401).
            if client.get(&self.url).send().await.is_ok() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the JS app did not start at {}",
                self.url
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl SdkApp for JsApp {
    fn serve_url(&self) -> String {
        self.url.clone()
    }

    fn app_id(&self) -> &str {
        "js-app"
    }
}

impl Drop for JsApp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An engine on an ephemeral port with compressed time.
pub(crate) fn engine() -> EngineBuilder {
    Engine::builder().port(0).time_scale(TIME_SCALE).no_poll()
}

/// Starts an engine, then the `sdk`'s app against it, and syncs the app.
pub(crate) async fn engine_with_app(
    sdk: Sdk,
    builder: EngineBuilder,
    mode: &Mode,
) -> (RunningEngine, Box<dyn SdkApp>) {
    let engine = builder.start().await.expect("engine starts");
    let app = sdk.start(&engine.url(), mode, false).await;
    sync(&engine, app.as_ref()).await;
    (engine, app)
}

/// Syncs an app and checks its functions registered.
pub(crate) async fn sync(engine: &RunningEngine, app: &dyn SdkApp) {
    engine
        .sync_app(&app.serve_url())
        .await
        .expect("the app syncs");
    assert!(
        engine.apps().iter().any(|a| a.id == app.app_id()),
        "app {} registered after sync",
        app.app_id()
    );
}

/// Sends events over HTTP to `/e/{key}` and returns the ids from the answer.
pub(crate) async fn send(engine: &RunningEngine, key: &str, events: Value) -> Vec<String> {
    let resp = reqwest::Client::new()
        .post(format!("{}/e/{key}", engine.url()))
        .json(&events)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["status"], 200);
    body["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

/// Sends one event and waits for the run of `function_id` it started to finish.
pub(crate) async fn run_to_end(
    engine: &RunningEngine,
    function_id: &str,
    event: Value,
) -> RunRecord {
    let ids = send(engine, "test-key", event).await;
    wait_run(engine, function_id, &ids[0]).await
}

/// Waits for the run of `function_id` started by event `event_id` to finish.
pub(crate) async fn wait_run(
    engine: &RunningEngine,
    function_id: &str,
    event_id: &str,
) -> RunRecord {
    let filter = RunFilter {
        function_id: Some(function_id.into()),
        event_id: Some(event_id.into()),
        ..RunFilter::default()
    };
    engine.wait_for(&filter, RUN_TIMEOUT).await.unwrap()
}

/// Waits until run `run_id` is parked on step `step` (sleeping or waiting).
pub(crate) async fn wait_parked(engine: &RunningEngine, run_id: &str, step: &str) {
    let parked = engine
        .wait_until(RUN_TIMEOUT, |e| {
            e.run(run_id).filter(|r| {
                r.waiting
                    .iter()
                    .any(|w| r.step(step).is_some_and(|s| s.id == w.step_id()))
            })
        })
        .await;
    assert!(
        parked.is_some(),
        "run {run_id} never parked on {step}: {:?}",
        engine.run(run_id)
    );
}

/// The run of `function_id` triggered by `event_id`, once it exists.
pub(crate) async fn run_of(engine: &RunningEngine, function_id: &str, event_id: &str) -> RunRecord {
    let filter = RunFilter {
        function_id: Some(function_id.into()),
        event_id: Some(event_id.into()),
        ..RunFilter::default()
    };
    engine
        .wait_until(RUN_TIMEOUT, |e| e.runs(&filter).into_iter().next())
        .await
        .unwrap_or_else(|| panic!("no run of {function_id} for event {event_id}"))
}

/// A test event.
pub(crate) fn event(name: &str, data: Value) -> Value {
    json!({"name": name, "data": data})
}
