//! The final declaration: trigger, durable waits for the calculation, declare.

use std::time::Duration;

use inngest_local::RunStatus;
use mtd_functions::payload::CrystallisationSubmission;
use mtd_store::{FailureReason, SubmissionStatus};

use crate::flows::se_period;
use crate::support::{Options, Stack, today};

#[tokio::test]
async fn the_final_declaration_waits_for_the_calculation_then_declares() {
    // Real time runs on the simulator (its calculation takes 1.2 s); the engine runs 10x faster,
    // so each 5 s durable sleep lasts 0.5 s.
    let stack = Stack::with(Options {
        running_clock: true,
        day: today(),
        time_scale: 10.0,
        calculation_delay: Duration::from_millis(1200),
        ..Options::default()
    })
    .await;
    let (_, income) = stack.submit(&se_period(&stack, "2024-25", 0)).await;
    assert_eq!(income.status, RunStatus::Completed, "{:?}", income.error);
    let (id, run) = stack
        .submit(&CrystallisationSubmission {
            tax_year: "2024-25".parse().unwrap(),
        })
        .await;
    assert_eq!(run.status, RunStatus::Completed, "{:?}", run.error);
    let names: Vec<_> = run.steps.iter().map(|s| s.name.as_str()).collect();
    let checks = names
        .iter()
        .filter(|n| n.starts_with("retrieve-calculation"))
        .count();
    let sleeps = names
        .iter()
        .filter(|n| n.starts_with("wait-for-calculation"))
        .count();
    assert!(
        checks >= 2,
        "the calculation was checked until ready: {names:?}"
    );
    assert_eq!(
        sleeps, checks,
        "a durable sleep before every check: {names:?}"
    );
    let not_ready = stack
        .requests_to("calculation-retrieve")
        .iter()
        .filter(|r| r.status == 404)
        .count();
    assert_eq!(not_ready, checks - 1);
    assert_eq!(stack.requests_to("calculation-final-declaration").len(), 1);
    let submission = stack.submission(id).await;
    assert_eq!(submission.status, SubmissionStatus::Submitted);
    let receipt = submission.receipt.unwrap();
    let triggered = &stack.requests_to("calculation-trigger")[0];
    assert_eq!(
        receipt.calculation_id.as_deref(),
        triggered.response.as_ref().unwrap()["calculationId"].as_str()
    );
    stack.stop().await;
}

#[tokio::test]
async fn a_calculation_that_never_finishes_fails_clearly_after_the_bounded_checks() {
    let stack = Stack::with(Options {
        calculation_delay: Duration::from_secs(3600),
        settings: |s| s.calculation_max_polls = 3,
        ..Options::default()
    })
    .await;
    let (_, income) = stack.submit(&se_period(&stack, "2024-25", 0)).await;
    assert_eq!(income.status, RunStatus::Completed);
    // The simulator's clock is frozen: the calculation never finishes.
    let (id, run) = stack
        .submit(&CrystallisationSubmission {
            tax_year: "2024-25".parse().unwrap(),
        })
        .await;
    assert_eq!(run.status, RunStatus::Failed);
    assert_eq!(stack.requests_to("calculation-retrieve").len(), 3);
    assert!(
        stack
            .requests_to("calculation-final-declaration")
            .is_empty()
    );
    let submission = stack.submission(id).await;
    let failure = submission.failure.unwrap();
    assert_eq!(failure.reason, FailureReason::TransientExhausted);
    assert!(
        failure.detail.contains("still not ready after 3 checks"),
        "{}",
        failure.detail
    );
    stack.stop().await;
}
