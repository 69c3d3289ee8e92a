//! An Inngest app served with axum: serial steps, a non-retriable failure, a retry after a
//! delay, parallel steps, a sleep, waiting for an event and invoking another function.
//!
//! Run it against the Inngest Dev Server:
//!
//! ```sh
//! npx inngest-cli@latest dev -u http://127.0.0.1:3000/api/inngest   # terminal 1
//! INNGEST_DEV=1 cargo run -p inngest-sdk --example app                 # terminal 2
//! ```
//!
//! Then send `example/user.signed_up` (or any event below) from the Dev Server UI at
//! <http://localhost:8288>, or with `cargo run -p inngest-sdk --example send_events`.
//! The port comes from `--port <n>` or `PORT` (default 3000).

use std::time::Duration;

use anyhow::Context as _;
use axum::Router;
use inngest::function::{Concurrency, ConcurrencyScope};
use inngest::{
    Context, Error, Event, Function, FunctionFailed, Inngest, Invoke, NonRetriableError,
    RetryAfterError, Trigger, WaitForEvent,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tracing_subscriber::prelude::*;

#[derive(Debug, Deserialize)]
struct SignedUp {
    user_id: String,
    email: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct Profile {
    user_id: String,
    plan: String,
}

/// Serial steps, a sleep and a wait for an event.
fn onboarding() -> Result<Function, inngest::FunctionConfigError> {
    Function::builder("onboarding")
        .name("Onboard a new user")
        .trigger(Trigger::event("example/user.signed_up"))
        .retries(3)
        .build(|ctx: Context<SignedUp>| async move {
            let user = ctx.event.data;
            let user_id = user.user_id.clone();
            let profile: Profile = ctx
                .step
                .run("create-profile", move || async move {
                    Ok(Profile {
                        user_id,
                        plan: "free".into(),
                    })
                })
                .await?;
            let email = user.email.clone();
            ctx.step
                .run("send-welcome-email", move || async move {
                    tracing::info!(%email, "welcome email sent");
                    Ok(())
                })
                .await?;
            ctx.step
                .sleep("give-them-a-minute", Duration::from_secs(60))
                .await?;
            let activated: Option<Event> = ctx
                .step
                .wait_for_event(
                    "wait-for-activation",
                    WaitForEvent::new("example/user.activated", Duration::from_secs(86_400))
                        .matching("data.user_id"),
                )
                .await?;
            let outcome = if activated.is_some() {
                "activated"
            } else {
                "nudge"
            };
            Ok(json!({ "profile": profile, "outcome": outcome }))
        })
}

#[derive(Debug, Deserialize)]
struct PaymentRequested {
    amount_pence: i64,
    #[serde(default)]
    simulate_rate_limit: bool,
}

/// A non-retriable failure for bad input, and a retry after a delay when the payment
/// provider rate-limits us. A failure handler runs when the run fails for good.
fn charge() -> Result<Function, inngest::FunctionConfigError> {
    Function::builder("charge-card")
        .trigger(Trigger::event("example/payment.requested"))
        .concurrency(Concurrency::new(1).key("event.data.account_id").scope(ConcurrencyScope::Env))
        .on_failure(|ctx: Context<FunctionFailed>| async move {
            let failed = ctx.event.data;
            tracing::error!(run = %failed.run_id, error = %failed.error.message, "charge failed for good");
            Ok(())
        })
        .build(|ctx: Context<PaymentRequested>| async move {
            let amount = ctx.event.data.amount_pence;
            let rate_limited = ctx.event.data.simulate_rate_limit && ctx.attempt == 0;
            ctx.step
                .run("validate", move || async move {
                    if amount <= 0 {
                        return Err(NonRetriableError::new(format!("invalid amount {amount}")).into());
                    }
                    Ok(())
                })
                .await?;
            let receipt: String = ctx
                .step
                .run("charge", move || async move {
                    if rate_limited {
                        return Err(RetryAfterError::new("provider rate limit", Duration::from_secs(10)).into());
                    }
                    Ok(format!("rcpt-{amount}"))
                })
                .await?;
            Ok(receipt)
        })
}

/// Parallel steps.
fn report() -> Result<Function, inngest::FunctionConfigError> {
    Function::builder("regional-report")
        .trigger(Trigger::event("example/report.requested"))
        .build(|ctx: Context| async move {
            let (uk, eu, us) = futures::try_join!(
                ctx.step.run("count-uk", || async { Ok(120_u32) }),
                ctx.step.run("count-eu", || async { Ok(340_u32) }),
                ctx.step.run("count-us", || async { Ok(560_u32) }),
            )?;
            Ok(json!({ "total": uk + eu + us }))
        })
}

#[derive(Debug, Deserialize)]
struct Numbers {
    n: i64,
}

/// Invoked by `invoke-double`.
fn double() -> Result<Function, inngest::FunctionConfigError> {
    Function::builder("double")
        .trigger(Trigger::event("example/double"))
        .build(|ctx: Context<Numbers>| async move { Ok(ctx.event.data.n * 2) })
}

/// Invokes `double` and waits for its result.
fn invoke_double() -> Result<Function, inngest::FunctionConfigError> {
    Function::builder("invoke-double")
        .trigger(Trigger::event("example/invoke.requested"))
        .build(|ctx: Context<Numbers>| async move {
            let n = ctx.event.data.n;
            let doubled: i64 = ctx
                .step
                .invoke("call-double", Invoke::local("double", json!({ "n": n })))
                .await?;
            let check: Value = ctx
                .step
                .run("check", move || async move {
                    if doubled != n * 2 {
                        return Err(Error::new("double is broken"));
                    }
                    Ok(json!({ "n": n, "doubled": doubled }))
                })
                .await?;
            Ok(check)
        })
}

fn port() -> anyhow::Result<u16> {
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--port" {
            let value = args.next().context("--port needs a value")?;
            return value
                .parse()
                .with_context(|| format!("--port {value:?} is not a port"));
        }
    }
    match std::env::var("PORT") {
        Ok(p) => p
            .parse()
            .with_context(|| format!("PORT={p:?} is not a port")),
        Err(_) => Ok(3000),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_filter(inngest::trace::ReplayFilter)
                .with_filter(
                    tracing_subscriber::EnvFilter::try_from_default_env()
                        .unwrap_or_else(|_| "info".into()),
                ),
        )
        .init();

    let client = Inngest::new("inngest-rs-example").context(
        "configure Inngest (set INNGEST_DEV=1 for the Dev Server, or INNGEST_SIGNING_KEY)",
    )?;
    let functions = vec![
        onboarding()?,
        charge()?,
        report()?,
        double()?,
        invoke_double()?,
    ];
    let app = Router::new()
        .route(
            "/",
            axum::routing::get(|| async { "inngest-rs example app: see /api/inngest" }),
        )
        .nest("/api/inngest", inngest::serve::router(client, functions));

    let port = port()?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .with_context(|| format!("bind 127.0.0.1:{port}"))?;
    tracing::info!("serving Inngest functions on http://127.0.0.1:{port}/api/inngest");
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
