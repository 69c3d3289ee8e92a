//! The Rust SDK test app: the same functions as the JS app in `tests/js-app/app.mjs` (same ids,
//! triggers, configuration, step ids and results), written with this workspace's `inngest`
//! crate and served in process with `inngest::serve::router` on a real 127.0.0.1 port.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use inngest::function::{Cancel, Concurrency};
use inngest::{
    Context, Error, Event, Function, FunctionFailed, Inngest, Invoke, NonRetriableError,
    RetryAfterError, Trigger, WaitForEvent,
};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::harness::{Mode, SdkApp};

/// The app id, prefix of every composite function id.
pub(crate) const APP_ID: &str = "rust-app";

/// Counts executions per step, to prove what a replay re-runs (the JS app's `count`).
#[derive(Clone, Default)]
struct Executions(Arc<Mutex<HashMap<String, u32>>>);

impl Executions {
    fn count(&self, key: &str) -> u32 {
        let mut map = self.0.lock().unwrap();
        let n = map.entry(key.to_owned()).or_default();
        *n += 1;
        *n
    }
}

/// Ids of the concurrency test's runs whose step has started (the JS app's `started`).
#[derive(Clone, Default)]
struct Started(Arc<Mutex<HashSet<String>>>);

impl Started {
    fn mark(&self, id: &str) {
        self.0.lock().unwrap().insert(id.to_owned());
    }

    fn has(&self, id: &str) -> bool {
        self.0.lock().unwrap().contains(id)
    }
}

#[derive(Deserialize)]
struct Start {
    start: i64,
}

#[derive(Deserialize)]
struct WaitRequest {
    #[serde(default)]
    timeout: Option<String>,
}

#[derive(Deserialize)]
struct Numbers {
    n: i64,
}

#[derive(Deserialize)]
struct Work {
    id: String,
    #[serde(default)]
    wait_for: Option<String>,
}

/// `"10m"`-style durations from event data, read with the engine's own parser.
fn duration(text: &str) -> Result<Duration, Error> {
    inngest_local::backoff::parse_duration(text)
        .ok()
        .and_then(|d| d.to_std().ok())
        .ok_or_else(|| NonRetriableError::new(format!("bad duration {text:?}")).into())
}

fn serial() -> Function {
    Function::builder("serial")
        .trigger(Trigger::event("test/serial"))
        .build(|ctx: Context<Start>| async move {
            let start = ctx.event.data.start;
            let a: i64 = ctx
                .step
                .run("a", move || async move { Ok(start + 1) })
                .await?;
            let b: i64 = ctx.step.run("b", move || async move { Ok(a * 2) }).await?;
            let c: String = ctx
                .step
                .run("c", move || async move { Ok(format!("{b}!")) })
                .await?;
            Ok(json!({"a": a, "b": b, "c": c}))
        })
        .unwrap()
}

fn flaky() -> Function {
    Function::builder("flaky")
        .trigger(Trigger::event("test/flaky"))
        .build(|ctx: Context| async move {
            let attempt = ctx.attempt;
            let out: Value = ctx
                .step
                .run("flaky-step", move || async move {
                    if attempt < 2 {
                        return Err(Error::new(format!(
                            "transient failure on attempt {attempt}"
                        )));
                    }
                    Ok(json!({"succeededOnAttempt": attempt}))
                })
                .await?;
            Ok(out)
        })
        .unwrap()
}

fn non_retriable(executions: Executions) -> Function {
    Function::builder("non-retriable")
        .trigger(Trigger::event("test/non-retriable"))
        .build(move |ctx: Context| {
            let executions = executions.clone();
            async move {
                ctx.step
                    .run("charge", move || async move {
                        executions.count("charge");
                        Err::<(), Error>(NonRetriableError::new("card declined").into())
                    })
                    .await?;
                Ok("unreachable")
            }
        })
        .unwrap()
}

fn retry_after(executions: Executions) -> Function {
    Function::builder("retry-after")
        .trigger(Trigger::event("test/retry-after"))
        .build(move |ctx: Context| {
            let executions = executions.clone();
            async move {
                let out: String = ctx
                    .step
                    .run("throttled", move || async move {
                        if executions.count("throttled") == 1 {
                            return Err(
                                RetryAfterError::new("slow down", Duration::from_secs(90)).into()
                            );
                        }
                        Ok("ok".to_owned())
                    })
                    .await?;
                Ok(out)
            }
        })
        .unwrap()
}

fn always_fails() -> Function {
    Function::builder("always-fails")
        .trigger(Trigger::event("test/always-fails"))
        .retries(2)
        .on_failure(|ctx: Context<FunctionFailed>| async move {
            let failed = ctx.event.data;
            Ok(json!({
                "failedFunction": failed.function_id,
                "message": failed.error.message,
                "originalEvent": failed.event.name,
            }))
        })
        .build(|ctx: Context| async move {
            Err::<(), Error>(Error::new(format!(
                "still broken (attempt {})",
                ctx.attempt
            )))
        })
        .unwrap()
}

fn parallel() -> Function {
    Function::builder("parallel")
        .trigger(Trigger::event("test/parallel"))
        .build(|ctx: Context| async move {
            let (x, y, z): (i64, i64, i64) = futures::try_join!(
                ctx.step.run("p1", || async { Ok(1) }),
                ctx.step.run("p2", || async { Ok(2) }),
                ctx.step.run("p3", || async { Ok(3) }),
            )?;
            let sum: i64 = ctx
                .step
                .run("sum", move || async move { Ok(x + y + z) })
                .await?;
            Ok(sum)
        })
        .unwrap()
}

fn sleeper() -> Function {
    Function::builder("sleeper")
        .trigger(Trigger::event("test/sleep"))
        .build(|ctx: Context| async move {
            ctx.step.sleep("nap", Duration::from_secs(10 * 60)).await?;
            let out: String = ctx
                .step
                .run("after-nap", || async { Ok("awake".to_owned()) })
                .await?;
            Ok(out)
        })
        .unwrap()
}

fn waiter() -> Function {
    Function::builder("waiter")
        .trigger(Trigger::event("test/wait"))
        .build(|ctx: Context<WaitRequest>| async move {
            let timeout = duration(ctx.event.data.timeout.as_deref().unwrap_or("7d"))?;
            let got: Option<Event> = ctx
                .step
                .wait_for_event(
                    "wait-approval",
                    WaitForEvent::new("test/approved", timeout)
                        .if_expr("async.data.id == event.data.id"),
                )
                .await?;
            Ok(json!({"approved": got.map(|e| e.data)}))
        })
        .unwrap()
}

fn child() -> Function {
    Function::builder("child")
        .trigger(Trigger::event("test/child"))
        .retries(0)
        .build(|ctx: Context<Numbers>| async move {
            let n = ctx.event.data.n;
            if n < 0 {
                return Err(NonRetriableError::new(format!("negative input {n}")).into());
            }
            Ok(json!({"doubled": n * 2}))
        })
        .unwrap()
}

fn invoker(child: &Function) -> Function {
    let child = child.clone();
    Function::builder("invoker")
        .trigger(Trigger::event("test/invoke"))
        .build(move |ctx: Context<Numbers>| {
            let call = Invoke::function(&child, json!({"n": ctx.event.data.n}));
            async move {
                match ctx.step.invoke::<Value>("call-child", call).await {
                    Ok(result) => Ok(json!({"result": result})),
                    Err(err) => Ok(json!({"caught": err.message(), "name": err.name()})),
                }
            }
        })
        .unwrap()
}

fn serialised(started: Started) -> Function {
    Function::builder("serialised")
        .trigger(Trigger::event("test/concurrency"))
        .concurrency(Concurrency::new(1).key("event.data.key"))
        .build(move |ctx: Context<Work>| {
            let started = started.clone();
            async move {
                let Work { id, wait_for } = ctx.event.data;
                let out: String = ctx
                    .step
                    .run("work", move || async move {
                        started.mark(&id);
                        if let Some(other) = wait_for {
                            let end = Instant::now() + Duration::from_secs(20);
                            while !started.has(&other) {
                                if Instant::now() > end {
                                    return Err(Error::new(
                                        "gave up waiting for another run's step to start",
                                    ));
                                }
                                tokio::time::sleep(Duration::from_millis(10)).await;
                            }
                        }
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        Ok(id)
                    })
                    .await?;
                Ok(out)
            }
        })
        .unwrap()
}

fn cancellable() -> Function {
    Function::builder("cancellable")
        .trigger(Trigger::event("test/cancellable"))
        .cancel_on(Cancel::on("test/cancel").if_expr("async.data.id == event.data.id"))
        .build(|ctx: Context| async move {
            ctx.step
                .sleep("long-nap", Duration::from_secs(86_400))
                .await?;
            let out: String = ctx
                .step
                .run("after-cancel", || async { Ok("should not run".to_owned()) })
                .await?;
            Ok(out)
        })
        .unwrap()
}

fn replayable(executions: Executions) -> Function {
    Function::builder("replayable")
        .trigger(Trigger::event("test/replay"))
        .build(move |ctx: Context| {
            let executions = executions.clone();
            async move {
                let mut out = Vec::new();
                for id in ["s1", "s2", "s3"] {
                    let executions = executions.clone();
                    let value: String = ctx
                        .step
                        .run(id, move || async move {
                            Ok(format!("{id}-run{}", executions.count(id)))
                        })
                        .await?;
                    out.push(value);
                }
                Ok(out)
            }
        })
        .unwrap()
}

fn emitter() -> Function {
    Function::builder("emitter")
        .trigger(Trigger::event("test/emit"))
        .build(|ctx: Context<Start>| async move {
            let event = Event::new("test/serial", json!({"start": ctx.event.data.start}));
            let sent = ctx.step.send_event("emit", event).await?;
            Ok(sent)
        })
        .unwrap()
}

fn ticker() -> Function {
    Function::builder("ticker")
        .trigger(Trigger::cron("* * * * *"))
        .build(|ctx: Context| async move {
            let cron = ctx.event.data["cron"].clone();
            let out: Value = ctx
                .step
                .run("tick", move || async move { Ok(cron) })
                .await?;
            Ok(out)
        })
        .unwrap()
}

/// Every function of the app (plus the cron-triggered `ticker` when asked).
pub(crate) fn functions(with_cron: bool) -> Vec<Function> {
    let executions = Executions::default();
    let child = child();
    let mut functions = vec![
        serial(),
        flaky(),
        non_retriable(executions.clone()),
        retry_after(executions.clone()),
        always_fails(),
        parallel(),
        sleeper(),
        waiter(),
        invoker(&child),
        child,
        serialised(Started::default()),
        cancellable(),
        replayable(executions),
        emitter(),
    ];
    if with_cron {
        functions.push(ticker());
    }
    functions
}

/// A client for the engine at `engine_url`, configured from code only (the process
/// environment does not matter).
pub(crate) fn client(engine_url: &str, mode: &Mode) -> Inngest {
    let builder = Inngest::builder(APP_ID).without_env().base_url(engine_url);
    let builder = match mode {
        Mode::Dev => builder.dev(),
        Mode::Cloud {
            signing_key,
            event_key,
        } => builder
            .mode(inngest::Mode::Cloud)
            .signing_key(signing_key)
            .event_key(event_key),
    };
    builder
        .build()
        .expect("the test client's configuration is valid")
}

/// The app served by `axum::serve` on 127.0.0.1 in this process.
pub(crate) struct RustApp {
    url: String,
    stop: Option<oneshot::Sender<()>>,
    server: JoinHandle<()>,
}

impl RustApp {
    /// Serves the app at `http://127.0.0.1:<free port>/api/inngest` against `engine_url`.
    pub(crate) async fn start(engine_url: &str, mode: &Mode, with_cron: bool) -> Self {
        let router = Router::new().nest(
            "/api/inngest",
            inngest::serve::router(client(engine_url, mode), functions(with_cron)),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
        });
        Self {
            url: format!("http://127.0.0.1:{port}/api/inngest"),
            stop: Some(stop),
            server,
        }
    }
}

impl SdkApp for RustApp {
    fn serve_url(&self) -> String {
        self.url.clone()
    }

    fn app_id(&self) -> &str {
        APP_ID
    }
}

impl Drop for RustApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.server.abort();
    }
}
