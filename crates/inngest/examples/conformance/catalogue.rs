//! The function catalogue of `crates/inngest/conformance/README.md`, written with this SDK,
//! with the same app id and configuration as the JS reference app.
//!
//! A test that replays the recorded fixtures in process can include this file:
//! `#[path = "../../examples/conformance/catalogue.rs"] mod catalogue;` and serve
//! `inngest::serve::router(catalogue::client(mode, "http://127.0.0.1:9")?, catalogue::functions()?)`.

use std::time::Duration;

use inngest::{
    Context, Error, Event, Function, FunctionConfigError, Inngest, Invoke, Mode, NonRetriableError,
    RetryAfterError, Trigger, WaitForEvent,
};
use serde_json::{Value, json};

/// The digest §3.6 Vector A key: the primary signing key in cloud mode.
pub(crate) const PRIMARY_SIGNING_KEY: &str =
    "signkey-test-f00f3005a3666b359a79c2bc3380ce2715e62727ac461ae1a2618f8766029c9f";
/// The digest §3.6 Vector B key: the fallback signing key in cloud mode.
pub(crate) const FALLBACK_SIGNING_KEY: &str =
    "signkey-test-8ee2262a15e8d3c42d6a840db7af3de2aab08ef632b32a37a687f24b34dba3ff";

/// The conformance client, built purely from code (the environment is ignored).
pub(crate) fn client(mode: Mode, base_url: &str) -> Result<Inngest, inngest::ConfigError> {
    let builder = Inngest::builder("conformance")
        .without_env()
        .mode(mode)
        .base_url(base_url);
    match mode {
        Mode::Dev => builder.build(),
        Mode::Cloud => builder
            .signing_key(PRIMARY_SIGNING_KEY)
            .signing_key_fallback(FALLBACK_SIGNING_KEY)
            .build(),
    }
}

fn on(id: &str) -> inngest::FunctionBuilder {
    Function::builder(id).trigger(Trigger::event(format!("conformance/{id}")))
}

/// The catalogue, in the order of the JS app.
pub(crate) fn functions() -> Result<Vec<Function>, FunctionConfigError> {
    Ok(vec![
        on("serial-steps").build(|ctx: Context| async move {
            let first: String = ctx
                .step
                .run("first-step", || async { Ok("A".to_owned()) })
                .await?;
            let second: Value = ctx
                .step
                .run("second-step", || async { Ok(json!({"n": 2})) })
                .await?;
            Ok(json!({ "first": first, "second": second }))
        })?,
        on("step-non-retriable").build(|ctx: Context| async move {
            ctx.step
                .run("explode", || async {
                    Err::<(), Error>(NonRetriableError::new("nope").into())
                })
                .await?;
            Ok("unreachable")
        })?,
        on("step-transient").build(|ctx: Context| async move {
            ctx.step
                .run("flaky", || async {
                    Err::<(), Error>(Error::new("HMRC 503"))
                })
                .await?;
            Ok("unreachable")
        })?,
        on("step-retry-after").build(|ctx: Context| async move {
            ctx.step
                .run("throttled", || async {
                    Err::<(), Error>(
                        RetryAfterError::new("throttled", Duration::from_secs(30)).into(),
                    )
                })
                .await?;
            Ok("unreachable")
        })?,
        on("parallel-steps").build(|ctx: Context| async move {
            let (a, b) = futures::try_join!(
                ctx.step.run("a", || async { Ok(1) }),
                ctx.step.run("b", || async { Ok(2) }),
            )?;
            Ok(a + b)
        })?,
        on("sleep").build(|ctx: Context| async move {
            ctx.step.sleep("nap", Duration::from_secs(3600)).await?;
            let awake: String = ctx
                .step
                .run("after-nap", || async { Ok("awake".to_owned()) })
                .await?;
            Ok(awake)
        })?,
        on("wait-for-event").build(|ctx: Context| async move {
            let event: Option<Event> = ctx
                .step
                .wait_for_event(
                    "wait-approval",
                    WaitForEvent::new("conformance/approved", Duration::from_secs(3600))
                        .if_expr("async.data.id == event.data.id"),
                )
                .await?;
            let by = event
                .as_ref()
                .and_then(|e| e.data.get("by").cloned())
                .unwrap_or(Value::Null);
            Ok(json!({ "approved": event.is_some(), "by": by }))
        })?,
        on("invoke").build(|ctx: Context| async move {
            let child: Value = ctx
                .step
                .invoke("call-child", Invoke::local("invoke-child", json!({"x": 1})))
                .await?;
            Ok(json!({ "child": child }))
        })?,
        on("invoke-child").build(|ctx: Context| async move {
            let x = ctx
                .event
                .data
                .get("x")
                .and_then(Value::as_i64)
                .unwrap_or_default();
            Ok(json!({ "doubled": x * 2 }))
        })?,
        on("catch-step-error").build(|ctx: Context| async move {
            match ctx
                .step
                .run("fails", || async { Err::<(), Error>(Error::new("boom")) })
                .await
            {
                Ok(()) => Ok(json!({ "caught": null, "name": null })),
                Err(err) => Ok(json!({ "caught": err.message(), "name": err.name() })),
            }
        })?,
        on("uncaught-step-error").build(|ctx: Context| async move {
            ctx.step
                .run("fails", || async { Err::<(), Error>(Error::new("boom")) })
                .await?;
            Ok("unreachable")
        })?,
        on("repeated-ids").build(|ctx: Context| async move {
            let mut out = Vec::new();
            for i in 0..3 {
                out.push(ctx.step.run("repeat", move || async move { Ok(i) }).await?);
            }
            Ok(out)
        })?,
        on("fn-non-retriable").build(|_ctx: Context| async move {
            Err::<(), Error>(NonRetriableError::new("fatal").into())
        })?,
        on("fn-error")
            .build(|_ctx: Context| async move { Err::<(), Error>(Error::new("plain failure")) })?,
        on("returns-nothing").build(|ctx: Context| async move {
            ctx.step
                .run("only-step", || async { Ok("done".to_owned()) })
                .await?;
            Ok(())
        })?,
    ])
}
