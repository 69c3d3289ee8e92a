//! The app as a library: start it on embedded defaults (HMRC simulator, local Inngest engine,
//! SQLite in a temporary directory), connect the test user's HMRC account through the app's
//! pages, send a quarterly update through the JSON API and print the outcome.
//!
//! ```sh
//! cargo run --example quarterly_update
//! ```

use std::time::Duration;

use anyhow::Context as _;
use hmrc_mtd::TaxYear;
use mtd::driver::{Decision, Driver};
use mtd::embedded::{Embedded, EmbeddedOptions};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let stack = Embedded::start(EmbeddedOptions::demo(dir.path().join(".mtd"))).await?;
    let result = run(&stack).await;
    stack.shutdown().await;
    result
}

async fn run(stack: &Embedded) -> anyhow::Result<()> {
    println!("app at {}", stack.app_url);
    let user = Driver::new(stack, Duration::from_secs(30));
    user.connect(Decision::Grant).await?;
    println!("HMRC account connected for NINO {}", stack.hmrc_user.nino);

    // The latest quarter HMRC accepts today (cumulative: from 6 April to the quarter's end).
    let today = chrono::Utc::now().date_naive();
    let year = TaxYear::containing(today)?;
    let quarter = [year, year.previous()?]
        .into_iter()
        .flat_map(|y| y.quarters().into_iter().rev().map(move |q| (y, q)))
        .find(|(_, q)| q.end <= today + chrono::TimeDelta::days(10))
        .context("no quarter has ended in the last two tax years")?;
    let (year, q) = quarter;
    let body = user.period_body(
        &stack.hmrc_user.self_employment_id,
        year.start_date(),
        q.end,
        "18250.00",
        "4100.20",
    )?;
    let created = user.submit(&body).await?;
    println!(
        "queued submission {} (event {:?})",
        created.id, created.event_ids
    );
    let done = user.wait_submission(&created.id).await?;
    println!(
        "{}: HMRC correlation id {}",
        done["status"].as_str().unwrap_or("?"),
        done["receipt"]["correlationId"].as_str().unwrap_or("-")
    );
    Ok(())
}
