//! `mtd`: durable HMRC Making Tax Digital submissions on Inngest. See `mtd --help` and
//! `docs/app.md`.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser as _;
use mtd::cli::{Cli, Command, DemoArgs, DevArgs, RepairArgs};
use mtd::demo::{self, DemoOptions};
use mtd::embedded::{DEMO_USER, Embedded, EmbeddedOptions};
use mtd::{repair, serve};
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let default_filter = match cli.command {
        // The demo reports every outcome itself (retries, failures, HMRC's fraud-header
        // findings); the components' warnings about them would only repeat the report.
        Command::Demo(_) => "error",
        Command::RepairHistory(_) => "warn",
        _ => "info,sqlx=warn",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter)),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Demo(args) => run_demo(args).await,
        Command::Dev(args) => run_dev(args).await,
        Command::Serve(args) => {
            let config = serve::config(&args)?;
            serve::run(config).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::RepairHistory(args) => run_repair(args).await,
    }
}

async fn run_demo(args: DemoArgs) -> anyhow::Result<ExitCode> {
    let options = DemoOptions {
        data_dir: args.data_dir,
        time_scale: args.time_scale,
        run_timeout: Duration::from_secs(args.run_timeout),
    };
    let mut stdout = std::io::stdout();
    let report = demo::run(&options, &mut stdout)
        .await
        .context("the demo stopped")?;
    if report.all_ok() {
        println!("\nEvery outcome was as expected.");
        Ok(ExitCode::SUCCESS)
    } else {
        println!("\nSome outcomes were not as expected (marked !!).");
        Ok(ExitCode::FAILURE)
    }
}

async fn run_dev(args: DevArgs) -> anyhow::Result<ExitCode> {
    let mut options =
        EmbeddedOptions::dev(&args.data_dir, args.port, args.engine_port, args.hmrc_port);
    options.time_scale = args.time_scale;
    let stack = Embedded::start(options)
        .await
        .context("mtd dev could not start")?;
    let user = &stack.hmrc_user;
    println!("mtd dev: the app on embedded defaults (Ctrl-C to stop)");
    println!("  app (open this)   {}/", stack.app_url);
    println!(
        "  Inngest engine    {} (local engine; runs at {}/local/runs)",
        stack.engine.url(),
        stack.engine.url()
    );
    println!(
        "  HMRC simulator    {} (admin API at {}/_admin)",
        stack.sandbox.url(),
        stack.sandbox.url()
    );
    println!(
        "  database          {}",
        args.data_dir.join("mtd.db").display()
    );
    println!("  you are           {DEMO_USER} (a fixed demo user: no platform sign-in in dev)");
    println!(
        "  HMRC sign-in      user ID {} / password {} (NINO {}; self-employment {}, UK property {})",
        user.gateway_user_id,
        user.password,
        user.nino,
        user.self_employment_id,
        user.uk_property_id
    );
    serve::shutdown_signal().await;
    println!("stopping…");
    stack.shutdown().await;
    Ok(ExitCode::SUCCESS)
}

async fn run_repair(args: RepairArgs) -> anyhow::Result<ExitCode> {
    let report = repair::repair(&args.database_url, args.apply).await?;
    println!("{}", repair::render(&report, args.json)?);
    Ok(ExitCode::SUCCESS)
}
