//! `inngest-local`: a local Inngest-compatible engine, with flags modelled on `inngest dev`.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use inngest_local::config::{FileConfig, check_scale, normalise_sdk_url, parse_host};
use inngest_local::{Engine, EngineConfig, EventKey, SigningKey};

/// Run Inngest apps locally with Inngest's execution and retry semantics.
///
/// Apps are synced from --sdk-url flags and from the dev server's config file (inngest.json,
/// inngest.yaml or inngest.yml in this directory or a parent; keys named like the flags).
/// Environment variables INNGEST_<FLAG> override the file; flags override both.
#[derive(Debug, Parser)]
#[command(name = "inngest-local", version, about, long_about)]
struct Cli {
    /// App serve URL to sync (repeatable), e.g. http://127.0.0.1:3000/api/inngest
    #[arg(
        short = 'u',
        long = "sdk-url",
        env = "INNGEST_SDK_URL",
        value_delimiter = ','
    )]
    sdk_url: Vec<String>,

    /// Port to listen on [default: 8288]
    #[arg(short = 'p', long, env = "INNGEST_PORT")]
    port: Option<u16>,

    /// Address to listen on [default: 127.0.0.1]
    #[arg(long, env = "INNGEST_HOST")]
    host: Option<String>,

    /// Config file (default: inngest.json / inngest.yaml / inngest.yml found from the cwd up)
    #[arg(long, env = "INNGEST_CONFIG")]
    config: Option<PathBuf>,

    /// Sync each app once (retrying failures) instead of every poll interval
    #[arg(long, env = "INNGEST_NO_POLL")]
    no_poll: bool,

    /// Seconds between app syncs [default: 5]
    #[arg(long, env = "INNGEST_POLL_INTERVAL")]
    poll_interval: Option<u64>,

    /// Retry failed steps after this many seconds instead of Inngest's backoff table
    #[arg(long, env = "INNGEST_RETRY_INTERVAL")]
    retry_interval: Option<u64>,

    /// Signing key: sign calls like Inngest Cloud and require it from SDKs (cloud mode)
    #[arg(long, env = "INNGEST_SIGNING_KEY", hide_env_values = true)]
    signing_key: Option<String>,

    /// Event key accepted on /e/{key} (repeatable; default: any key)
    #[arg(
        long,
        env = "INNGEST_EVENT_KEY",
        hide_env_values = true,
        value_delimiter = ','
    )]
    event_key: Vec<String>,

    /// Run engine time this many times faster than real time (sleeps, backoff, timeouts)
    #[arg(long, env = "INNGEST_TIME_SCALE")]
    time_scale: Option<f64>,

    /// Keep runs and apps in this SQLite file across restarts
    #[arg(long, env = "INNGEST_DB")]
    db: Option<PathBuf>,
}

fn build_config(cli: Cli) -> anyhow::Result<EngineConfig> {
    let mut config = EngineConfig::default();
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let file = match &cli.config {
        Some(p) => Some(p.clone()),
        None => FileConfig::discover(&cwd, home.as_deref()),
    };
    if let Some(path) = file {
        FileConfig::read(&path)?.apply(&mut config)?;
        tracing::info!(path = %path.display(), "read config file");
    }
    config
        .sdk_urls
        .extend(cli.sdk_url.iter().filter(|u| !u.trim().is_empty()).cloned());
    config.sdk_urls = config
        .sdk_urls
        .iter()
        .map(|u| normalise_sdk_url(u))
        .collect();
    config.sdk_urls.dedup();
    if let Some(p) = cli.port {
        config.port = p;
    }
    if let Some(h) = &cli.host {
        config.host = parse_host(h)?;
    }
    if cli.no_poll {
        config.poll = false;
    }
    if let Some(p) = cli.poll_interval {
        config.poll_interval = Duration::from_secs(p);
    }
    if let Some(r) = cli.retry_interval {
        config.retry_interval = (r > 0).then(|| Duration::from_secs(r));
    }
    if let Some(k) = cli.signing_key {
        config.signing_key = Some(SigningKey::new(k).context("--signing-key")?);
    }
    if !cli.event_key.is_empty() {
        config.event_keys = cli.event_key.into_iter().map(EventKey::new).collect();
    }
    if let Some(s) = cli.time_scale {
        config.time_scale = check_scale(s)?;
    }
    if let Some(db) = cli.db {
        config.db = Some(db);
    }
    Ok(config)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let config = build_config(Cli::parse())?;
    let engine = Engine::builder().config(config).start().await?;
    {
        // A closed stdout (e.g. piped into `head`) must not stop the engine.
        use std::io::Write as _;
        let url = engine.url();
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "inngest-local listening on {url}");
        let _ = writeln!(out, "  send events:  POST {url}/e/<key>");
        let _ = writeln!(out, "  run history:  GET  {url}/local/runs");
        let _ = out.flush();
    }
    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl-C")?;
    engine.shutdown().await;
    Ok(())
}
