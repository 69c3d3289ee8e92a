//! Authorisation: revoked grants, refresh races, platform misconfiguration.

use std::time::Duration;

use hmrc_sandbox::FaultAction;
use inngest_local::{RunFilter, RunStatus};
use mtd_functions::events;
use mtd_store::{
    FailureReason, NotificationKind, RefreshFailure, RefreshOptions, SubmissionKind,
    SubmissionStatus, TokenPair,
};

use crate::flows::{se_annual, se_period};
use crate::support::{Options, Stack, USER, attempts};

#[tokio::test]
async fn a_revoked_grant_fails_once_without_retry_expires_the_credential_and_asks_to_reconnect() {
    let stack = Stack::start().await;
    stack.admin().revoke_grants(USER, None).unwrap();
    let (id, run) = stack.submit(&se_period(&stack, "2024-25", 0)).await;

    assert_eq!(run.status, RunStatus::Failed);
    assert_eq!(run.error.as_ref().unwrap()["name"], "NonRetriableError");
    let tries = attempts(&run, "submit-to-hmrc");
    assert_eq!(tries.len(), 1, "exactly one attempt");
    assert_eq!(tries[0].outcome, "failed");
    assert_eq!(
        tries[0].error.as_ref().unwrap()["name"],
        "NonRetriableError"
    );
    // The SDK answered 206 StepFailed (no retry) for that step.
    let call = run
        .calls
        .iter()
        .find(|c| c.ops.iter().any(|op| op.contains("StepFailed")))
        .expect("a call answered StepFailed");
    assert_eq!(call.status, Some(206));
    assert_eq!(stack.requests_to("se-period-create").len(), 1);

    assert!(!stack.credential().await.is_active());
    let submission = stack.submission(id).await;
    assert_eq!(
        submission.status,
        SubmissionStatus::Failed,
        "failed, not rejected"
    );
    assert_eq!(submission.failure.unwrap().reason, FailureReason::Auth);
    let answer = submission.hmrc_answer.unwrap();
    assert_eq!(
        (answer.http_status, answer.code.as_deref()),
        (401, Some("INVALID_CREDENTIALS"))
    );
    let notes = stack.notifications().await;
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0].kind, NotificationKind::ReconnectHmrc);
    assert_eq!(notes[0].title, "Please reconnect your HMRC account");
    for step in ["expire-credential", "record-failed", "notify-reconnect"] {
        assert_eq!(
            attempts(&run, step).len(),
            1,
            "{step} ran once, in its own step"
        );
    }
    stack.stop().await;
}

#[tokio::test]
async fn a_refresh_answered_invalid_grant_is_permanent_auth() {
    let stack = Stack::with(Options {
        stored_token_expired: true,
        ..Options::default()
    })
    .await;
    stack.admin().revoke_grants(USER, None).unwrap();
    let (id, run) = stack.submit(&se_period(&stack, "2024-25", 0)).await;
    assert_eq!(run.status, RunStatus::Failed);
    assert_eq!(attempts(&run, "submit-to-hmrc").len(), 1);
    assert!(
        stack.requests_to("se-period-create").is_empty(),
        "no API call without a token"
    );
    let submission = stack.submission(id).await;
    assert_eq!(submission.failure.unwrap().reason, FailureReason::Auth);
    assert_eq!(
        submission.hmrc_answer.unwrap().code.as_deref(),
        Some("invalid_grant")
    );
    assert!(!stack.credential().await.is_active());
    assert_eq!(
        stack.notifications().await[0].kind,
        NotificationKind::ReconnectHmrc
    );
    stack.stop().await;
}

#[tokio::test]
async fn a_401_caused_by_someone_elses_refresh_is_retried_not_expired() {
    let stack = Stack::start().await;
    // HMRC holds the submission for a moment before checking its token...
    stack.fault(
        "se-period-create",
        FaultAction::Delay { millis: 1500 },
        Some(1),
    );
    let id = stack.create(&se_period(&stack, "2024-25", 0)).await;
    let event = events::submission_requested(SubmissionKind::Period, id, stack.credential_id);
    let sent = stack.client.send(&event).await.unwrap();
    let arrived = stack
        .engine
        .wait_until(Duration::from_secs(20), |_| {
            stack
                .admin()
                .faults()
                .iter()
                .any(|f| f.seen > 0)
                .then_some(())
        })
        .await;
    assert!(arrived.is_some(), "the submission reached HMRC");
    // ...while another process refreshes the credential (HMRC kills the old access token).
    let used = stack.credential().await.version;
    let oauth = stack.oauth.clone();
    stack
        .store
        .credentials()
        .refresh_access_token(
            stack.credential_id,
            used,
            &RefreshOptions::new("another-process"),
            |refresh_token| async move {
                let tokens = oauth
                    .refresh(&hmrc_mtd::RefreshToken::new(refresh_token.expose_secret()))
                    .await
                    .map_err(RefreshFailure::other)?;
                Ok::<_, RefreshFailure<hmrc_mtd::Error>>(TokenPair::new(
                    mtd_store::AccessToken::new(tokens.access_token.expose_secret()),
                    mtd_store::RefreshToken::new(tokens.refresh_token.expose_secret()),
                    tokens.expires_at,
                ))
            },
        )
        .await
        .unwrap();
    let run = stack.wait(&sent.ids[0]).await;

    assert_eq!(run.status, RunStatus::Completed, "{:?}", run.error);
    let tries = attempts(&run, "submit-to-hmrc");
    assert_eq!(tries.len(), 2);
    assert_eq!(tries[0].outcome, "error", "retriable");
    let first = tries[0].error.as_ref().unwrap()["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(first.contains("replaced"), "{first}");
    let statuses: Vec<u16> = stack
        .requests_to("se-period-create")
        .iter()
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses, vec![401, 200]);
    assert!(stack.credential().await.is_active(), "never marked expired");
    assert_eq!(
        stack.submission(id).await.status,
        SubmissionStatus::Submitted
    );
    assert!(
        stack
            .notifications()
            .await
            .iter()
            .all(|n| n.kind != NotificationKind::ReconnectHmrc)
    );
    stack.stop().await;
}

#[tokio::test]
async fn invalid_client_is_platform_misconfiguration_and_leaves_the_credential_alone() {
    let stack = Stack::with(Options {
        client_secret: "not-the-client-secret",
        stored_token_expired: true,
        ..Options::default()
    })
    .await;
    let before = stack.credential().await;
    let (id, run) = stack.submit(&se_period(&stack, "2024-25", 0)).await;
    assert_eq!(run.status, RunStatus::Failed);
    assert_eq!(attempts(&run, "submit-to-hmrc").len(), 1, "not retried");
    let submission = stack.submission(id).await;
    assert_eq!(submission.status, SubmissionStatus::Failed);
    assert_eq!(
        submission.failure.unwrap().reason,
        FailureReason::Misconfiguration
    );
    assert_eq!(
        submission.hmrc_answer.unwrap().code.as_deref(),
        Some("invalid_client")
    );
    let after = stack.credential().await;
    assert!(after.is_active());
    assert_eq!(after.version, before.version, "credential untouched");
    let kinds: Vec<_> = stack.notifications().await.iter().map(|n| n.kind).collect();
    assert_eq!(
        kinds,
        vec![NotificationKind::SubmissionFailed],
        "an operator matter, not reconnect"
    );
    stack.stop().await;
}

#[tokio::test]
async fn two_concurrent_submissions_with_an_expired_token_refresh_once_and_both_succeed() {
    let stack = Stack::with(Options {
        stored_token_expired: true,
        refresh_delay: Duration::from_millis(300),
        ..Options::default()
    })
    .await;
    stack.admin().expire_access_tokens(Some(USER));
    let period = stack.create(&se_period(&stack, "2024-25", 0)).await;
    let annual = stack.create(&se_annual(&stack)).await;
    let events = vec![
        events::submission_requested(SubmissionKind::Period, period, stack.credential_id),
        events::submission_requested(SubmissionKind::AnnualSummary, annual, stack.credential_id),
    ];
    let sent = stack.client.send_many(&events).await.unwrap();
    for id in &sent.ids {
        let run = stack.wait(id).await;
        assert_eq!(run.status, RunStatus::Completed, "{:?}", run.error);
    }
    assert_eq!(stack.refreshes(), 1, "exactly one refresh at HMRC");
    assert_eq!(
        stack.submission(period).await.status,
        SubmissionStatus::Submitted
    );
    assert_eq!(
        stack.submission(annual).await.status,
        SubmissionStatus::Submitted
    );
    assert_eq!(
        stack
            .engine
            .runs(&RunFilter::default())
            .iter()
            .filter(|r| r.function_id.ends_with("-failure"))
            .count(),
        0
    );
    stack.stop().await;
}
