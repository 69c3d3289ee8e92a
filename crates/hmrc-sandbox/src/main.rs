//! `hmrc-sandbox`: run the HMRC MTD sandbox simulator.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use hmrc_sandbox::{Sandbox, SeedFile};

/// A stateful stand-in for HMRC's MTD sandbox (OAuth, MTD Income Tax APIs, Gov-Test-Scenario,
/// fault switches). The admin API is under /_admin; see the crate README.
#[derive(Debug, Parser)]
#[command(name = "hmrc-sandbox", version, about)]
struct Args {
    /// Interface to listen on.
    #[arg(long, default_value = "127.0.0.1", env = "HMRC_SANDBOX_HOST")]
    host: IpAddr,
    /// Port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 9090, env = "HMRC_SANDBOX_PORT")]
    port: u16,
    /// JSON file of applications and test users to create at start.
    #[arg(long, env = "HMRC_SANDBOX_SEED")]
    seed: Option<PathBuf>,
    /// Milliseconds a triggered calculation stays in progress (retrieve answers 404).
    #[arg(long, default_value_t = 5000)]
    calculation_delay_ms: u64,
    /// Milliseconds a refresh holds its grant (the window for "refresh already in progress").
    #[arg(long, default_value_t = 0)]
    refresh_delay_ms: u64,
    /// Requests per second per client ID; 0 turns the limit off.
    #[arg(long, default_value_t = 3)]
    rate_limit: u32,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "hmrc_sandbox=info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let mut builder = Sandbox::builder()
        .host(args.host)
        .port(args.port)
        .calculation_delay(Duration::from_millis(args.calculation_delay_ms))
        .refresh_delay(Duration::from_millis(args.refresh_delay_ms))
        .rate_limit((args.rate_limit > 0).then_some(args.rate_limit));
    if let Some(path) = &args.seed {
        let seed = SeedFile::read(path).with_context(|| format!("loading {}", path.display()))?;
        builder = builder.seed(seed);
    }
    let sandbox = builder.start().await.context("starting the sandbox")?;
    println!("HMRC sandbox listening on {}", sandbox.url());
    println!("admin API: {}/_admin/endpoints", sandbox.url());
    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl-C")?;
    sandbox.shutdown().await.context("stopping the sandbox")?;
    Ok(())
}
