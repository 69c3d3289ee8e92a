//! Wiring the app yourself, with a function of your own served next to the MTD functions:
//! a store, an HMRC simulator, a local Inngest engine, the app's router with one more
//! function (`audit-submission`, triggered by the same event as `submit-period`), and an event
//! sent to start both.
//!
//! ```sh
//! cargo run --example custom_function
//! ```

use std::net::SocketAddr;
use std::time::Duration;

use hmrc_mtd::{ApiConfig, ClientSecret, Endpoints, MtdClient, OAuthClient, OAuthConfig};
use hmrc_sandbox::Sandbox;
use inngest::{Context, Function, Inngest, Trigger};
use inngest_local::{Engine, RunFilter};
use mtd::app::{App, AppSettings};
use mtd::capture::{CaptureSettings, ClientAddress, MfaSource};
use mtd::identity::Identity;
use mtd_functions::events::{PERIOD_SUBMIT, SubmissionRequested};
use mtd_functions::{Deps, VendorInfo};
use mtd_store::{Store, StoreConfig};

/// Your own function: runs for every quarterly update the app queues.
fn audit_submission() -> Result<Function, inngest::FunctionConfigError> {
    Function::builder("audit-submission")
        .trigger(Trigger::event(PERIOD_SUBMIT))
        .build(|ctx: Context<SubmissionRequested>| async move {
            let id = ctx.event.data.submission_id;
            let line: String = ctx
                .step
                .run("write-audit-line", move || async move {
                    Ok(format!("quarterly update {id} queued"))
                })
                .await?;
            Ok(line)
        })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let store = Store::open(StoreConfig::new(
        dir.path().join("mtd.db").to_string_lossy(),
    ))
    .await?;
    let sandbox = Sandbox::builder().start().await?;
    let engine = Engine::builder()
        .port(0)
        .time_scale(100.0)
        .no_poll()
        .start()
        .await?;

    let endpoints = Endpoints::local(sandbox.url().parse()?);
    let oauth = OAuthClient::new(OAuthConfig::new(
        endpoints.clone(),
        "example-client",
        ClientSecret::new("example-secret"),
        "http://127.0.0.1/hmrc/callback".parse()?,
    ))?;
    let hmrc = MtdClient::new(ApiConfig::new(endpoints))?;
    let vendor = VendorInfo::new("my-tax-app", "1.0.0");
    let mut functions = mtd_functions::functions(Deps::new(
        store.clone(),
        hmrc,
        oauth.clone(),
        vendor.clone(),
    ))?;
    functions.push(audit_submission()?);

    let inngest = Inngest::builder("my-tax-app")
        .without_env()
        .dev_server(engine.url())
        .build()?;
    let app = App::new(
        store.clone(),
        inngest.clone(),
        oauth,
        AppSettings {
            identity: Identity::Fixed("example-user".into()),
            capture: CaptureSettings {
                vendor,
                user_id_key: "my-tax-app".into(),
                client_address: ClientAddress::Peer,
                mfa: MfaSource::Fixed(Vec::new()),
            },
            secure_cookies: false,
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let router = app.router(functions);
    let server = tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
    });
    engine.sync_app(&format!("{url}/api/inngest")).await?;
    println!("functions registered: {}", engine.functions().len());

    // What the app sends after storing a submission starts both functions.
    let sent = inngest
        .send(&mtd_functions::events::submission_requested(
            mtd_store::SubmissionKind::Period,
            uuid::Uuid::new_v4(),
            uuid::Uuid::new_v4(),
        ))
        .await?;
    let audit = engine
        .wait_for(
            &RunFilter {
                function_id: Some("my-tax-app-audit-submission".into()),
                event_id: sent.ids.first().cloned(),
                ..RunFilter::default()
            },
            Duration::from_secs(10),
        )
        .await?;
    println!("audit-submission: {:?} -> {:?}", audit.status, audit.output);

    server.abort();
    engine.shutdown().await;
    sandbox.shutdown().await?;
    store.close().await;
    Ok(())
}
