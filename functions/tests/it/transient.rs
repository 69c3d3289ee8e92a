//! Transient failures: retried with backoff (or HMRC's Retry-After), failed when they run out.

use hmrc_sandbox::FaultAction;
use inngest_local::RunStatus;
use mtd_store::{FailureReason, NotificationKind, SubmissionStatus};

use crate::flows::se_period;
use crate::support::{Options, Stack, attempts};

fn unavailable() -> FaultAction {
    FaultAction::Status {
        status: 503,
        code: None,
        message: None,
    }
}

#[tokio::test]
async fn two_503s_then_success_is_submitted_on_the_third_attempt() {
    let stack = Stack::start().await;
    stack.fault("se-period-create", unavailable(), Some(2));
    let (id, run) = stack.submit(&se_period(&stack, "2024-25", 0)).await;
    assert_eq!(run.status, RunStatus::Completed, "{:?}", run.error);
    let outcomes: Vec<_> = attempts(&run, "submit-to-hmrc")
        .iter()
        .map(|a| a.outcome.clone())
        .collect();
    assert_eq!(outcomes, ["error", "error", "ok"]);
    let submission = stack.submission(id).await;
    assert_eq!(submission.status, SubmissionStatus::Submitted);
    let history = stack.store.submissions().history(id).await.unwrap();
    assert!(history.last().unwrap().reason.contains("attempt 3"));
    assert_eq!(
        stack
            .requests_to("se-period-create")
            .iter()
            .map(|r| r.status)
            .collect::<Vec<_>>(),
        vec![503, 503, 200]
    );
    stack.stop().await;
}

#[tokio::test]
async fn a_429_is_retried_after_hmrcs_retry_after_not_the_backoff_table() {
    let stack = Stack::start().await;
    stack.fault(
        "se-period-create",
        FaultAction::RateLimited {
            retry_after_secs: 7,
        },
        Some(1),
    );
    let (id, run) = stack.submit(&se_period(&stack, "2024-25", 0)).await;
    assert_eq!(run.status, RunStatus::Completed, "{:?}", run.error);
    let tries = attempts(&run, "submit-to-hmrc");
    assert_eq!(tries.len(), 2);
    assert_eq!(tries[0].error.as_ref().unwrap()["name"], "RetryAfterError");
    assert_eq!(
        tries[0].retry_in_ms,
        Some(7000),
        "HMRC's Retry-After, in engine time"
    );
    assert_eq!(
        stack.submission(id).await.status,
        SubmissionStatus::Submitted
    );
    stack.stop().await;
}

#[tokio::test]
async fn when_retries_run_out_the_submission_fails_and_the_user_is_told() {
    let stack = Stack::with(Options {
        retries: 2,
        ..Options::default()
    })
    .await;
    stack.fault("se-period-create", unavailable(), None);
    let (id, run) = stack.submit(&se_period(&stack, "2024-25", 0)).await;
    assert_eq!(run.status, RunStatus::Failed);
    let outcomes: Vec<_> = attempts(&run, "submit-to-hmrc")
        .iter()
        .map(|a| a.outcome.clone())
        .collect();
    assert_eq!(
        outcomes,
        ["error", "error", "failed"],
        "retries: 2 means 3 attempts"
    );
    let submission = stack.submission(id).await;
    assert_eq!(submission.status, SubmissionStatus::Failed);
    let failure = submission.failure.unwrap();
    assert_eq!(failure.reason, FailureReason::TransientExhausted);
    assert_eq!(submission.hmrc_answer.unwrap().http_status, 503);
    assert!(stack.credential().await.is_active(), "credential untouched");
    let kinds: Vec<_> = stack.notifications().await.iter().map(|n| n.kind).collect();
    assert_eq!(kinds, vec![NotificationKind::SubmissionFailed]);
    stack.stop().await;
}
