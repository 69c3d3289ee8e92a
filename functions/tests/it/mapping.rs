//! The failure mapping in process (`TestEngine`, no sockets, no HMRC): the HMRC step is
//! mocked with each row's memoised result, everything after it runs for real on a store.

use chrono::Utc;
use inngest_local::RunStatus;
use inngest_local::testing::{TestEngine, TestRun};
use mtd_functions::failure::{Failure, FailureKind};
use mtd_functions::payload::{
    PeriodFigures, PeriodSubmission, SelfEmploymentFigures, SubmissionPayload,
};
use mtd_functions::{Deps, HmrcOutcome, VendorInfo, events, fraud};
use mtd_store::{
    AccessToken, Audit, Credential, EncryptionKey, FailureReason, Keyring, Notification,
    NotificationFilter, NotificationKind, Receipt, RefreshToken, RejectionError, Store,
    StoreConfig, Submission, SubmissionStatus, TokenPair,
};
use serde_json::{Value, json};

use crate::support::captured;

struct Outcome {
    status: RunStatus,
    error: Option<Value>,
    submission: Submission,
    credential: Credential,
    notifications: Vec<Notification>,
}

enum Mock {
    Error(Value),
    Output(HmrcOutcome),
}

/// Runs `submit-period` with its HMRC step mocked; `replace_credential` reconnects the user
/// before the run (so the refused token's version is stale).
async fn run(mock: Mock, version_offset: i64) -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    let keyring = Keyring::new("k", EncryptionKey::generate().unwrap()).unwrap();
    let store =
        Store::open(StoreConfig::new(dir.path().join("m.db").to_string_lossy()).keyring(keyring))
            .await
            .unwrap();
    let pair = TokenPair::from_expires_in(
        AccessToken::new("a1"),
        RefreshToken::new("r1"),
        14_400,
        Utc::now(),
    );
    let credential = store
        .credentials()
        .connect("u1", "AA123456A", &pair)
        .await
        .unwrap()
        .credential;
    let year: hmrc_mtd::TaxYear = "2024-25".parse().unwrap();
    let q = year.quarters()[0];
    let payload = PeriodSubmission {
        business_id: hmrc_mtd::BusinessId::new("XAIS12345678910").unwrap(),
        tax_year: year,
        period_start: q.start,
        period_end: q.end,
        figures: PeriodFigures::SelfEmployment(SelfEmploymentFigures::default()),
    };
    let new = mtd_store::NewSubmission::new(
        mtd_store::SubmissionKind::Period,
        "u1",
        "AA123456A",
        serde_json::to_value(&payload).unwrap(),
    )
    .fraud_headers(fraud::capture(&captured()));
    let _ = PeriodSubmission::KIND;
    let submission = store
        .submissions()
        .create(&new, &Audit::new("user:u1", "asked"))
        .await
        .unwrap();
    let endpoints = hmrc_mtd::Endpoints::local("http://127.0.0.1:9".parse().unwrap());
    let hmrc = hmrc_mtd::MtdClient::new(hmrc_mtd::ApiConfig::new(endpoints.clone())).unwrap();
    let oauth = hmrc_mtd::OAuthClient::new(hmrc_mtd::OAuthConfig::new(
        endpoints,
        "id",
        hmrc_mtd::ClientSecret::new("secret"),
        "http://localhost/cb".parse().unwrap(),
    ))
    .unwrap();
    let deps = Deps::new(
        store.clone(),
        hmrc,
        oauth,
        VendorInfo::new("My Tax App", "1.0"),
    );
    let client = inngest::Inngest::builder("mtd")
        .without_env()
        .dev()
        .build()
        .unwrap();
    let router = inngest::serve::router(client, mtd_functions::functions(deps).unwrap());
    let app = axum::Router::new().nest("/api/inngest", router);
    let mut test = TestRun::new("mtd-submit-period")
        .event(json!({"name": events::PERIOD_SUBMIT, "data": {
            "submission_id": submission.id, "credential_id": credential.id}}))
        .retries(4);
    test = match mock {
        Mock::Error(error) => test.step_error("submit-to-hmrc", error),
        Mock::Output(outcome) => {
            test.step_output("submit-to-hmrc", serde_json::to_value(outcome).unwrap())
        }
    };
    if version_offset != 0 {
        // The user reconnects: the refused token is no longer the stored one.
        store
            .credentials()
            .connect("u1", "AA123456A", &pair)
            .await
            .unwrap();
    }
    let outcome = TestEngine::new(app).execute(test).await.unwrap();
    Outcome {
        status: outcome.run.status,
        error: outcome.run.error.clone(),
        submission: store
            .submissions()
            .get(submission.id)
            .await
            .unwrap()
            .unwrap(),
        credential: store
            .credentials()
            .get(credential.id)
            .await
            .unwrap()
            .unwrap(),
        notifications: store
            .notifications()
            .list("u1", NotificationFilter::All, 10)
            .await
            .unwrap(),
    }
}

fn failed_with(kind: FailureKind, version: Option<i64>) -> Mock {
    let mut failure =
        Failure::new(kind, "HMRC said so").hmrc(Some(401), Some("INVALID_CREDENTIALS"), Some("c1"));
    if let Some(v) = version {
        failure = failure.credential_version(v);
    }
    let error = failure.into_error();
    Mock::Error(json!({"name": error.name(), "message": error.message()}))
}

fn kinds(notes: &[Notification]) -> Vec<NotificationKind> {
    notes.iter().map(|n| n.kind).collect()
}

#[tokio::test]
async fn an_auth_row_expires_the_credential_records_failed_and_asks_to_reconnect() {
    let out = run(failed_with(FailureKind::Auth, Some(1)), 0).await;
    assert_eq!(out.status, RunStatus::Failed);
    assert_eq!(out.error.unwrap()["name"], "NonRetriableError");
    assert!(!out.credential.is_active());
    assert_eq!(out.submission.status, SubmissionStatus::Failed);
    assert_eq!(out.submission.failure.unwrap().reason, FailureReason::Auth);
    assert_eq!(
        out.submission
            .hmrc_answer
            .unwrap()
            .correlation_id
            .as_deref(),
        Some("c1")
    );
    assert_eq!(kinds(&out.notifications), [NotificationKind::ReconnectHmrc]);
}

#[tokio::test]
async fn an_auth_row_on_a_credential_replaced_since_does_not_expire_it_and_asks_to_resubmit() {
    let out = run(failed_with(FailureKind::Auth, Some(1)), 1).await;
    assert_eq!(out.status, RunStatus::Failed);
    assert!(out.credential.is_active());
    assert_eq!(out.submission.failure.unwrap().reason, FailureReason::Auth);
    assert_eq!(
        kinds(&out.notifications),
        [NotificationKind::ResubmitNeeded]
    );
}

#[tokio::test]
async fn exhausted_transient_failures_are_failed_transient_exhausted() {
    let out = run(failed_with(FailureKind::Transient, None), 0).await;
    assert_eq!(out.status, RunStatus::Failed);
    assert!(out.credential.is_active());
    assert_eq!(
        out.submission.failure.unwrap().reason,
        FailureReason::TransientExhausted
    );
    assert_eq!(
        kinds(&out.notifications),
        [NotificationKind::SubmissionFailed]
    );
}

#[tokio::test]
async fn misconfiguration_is_failed_without_touching_the_credential() {
    let out = run(failed_with(FailureKind::Misconfiguration, None), 0).await;
    assert_eq!(out.status, RunStatus::Failed);
    assert!(out.credential.is_active());
    assert_eq!(out.credential.version, 1);
    assert_eq!(
        out.submission.failure.unwrap().reason,
        FailureReason::Misconfiguration
    );
    assert_eq!(
        kinds(&out.notifications),
        [NotificationKind::SubmissionFailed]
    );
}

#[tokio::test]
async fn an_untagged_step_failure_such_as_a_panic_is_an_operator_matter() {
    let out = run(
        Mock::Error(json!({"name": "Error", "message": "step \"submit-to-hmrc\" panicked: boom"})),
        0,
    )
    .await;
    assert_eq!(out.status, RunStatus::Failed);
    let failure = out.submission.failure.unwrap();
    assert_eq!(failure.reason, FailureReason::Misconfiguration);
    assert!(failure.detail.contains("panicked: boom"));
    assert!(out.credential.is_active());
}

#[tokio::test]
async fn a_rejection_is_recorded_and_the_run_completes() {
    let out = run(
        Mock::Output(HmrcOutcome::Rejected {
            http_status: Some(422),
            code: Some("RULE_OVERLAPPING_PERIOD".into()),
            correlation_id: Some("c2".into()),
            errors: vec![RejectionError {
                code: "RULE_OVERLAPPING_PERIOD".into(),
                message: "overlaps".into(),
                paths: vec!["/periodDates".into()],
            }],
        }),
        0,
    )
    .await;
    assert_eq!(out.status, RunStatus::Completed);
    assert_eq!(out.submission.status, SubmissionStatus::Rejected);
    assert_eq!(out.submission.rejection_errors[0].paths, ["/periodDates"]);
    assert_eq!(
        kinds(&out.notifications),
        [NotificationKind::FiguresRejected]
    );
}

#[tokio::test]
async fn a_duplicate_is_recorded_as_submitted() {
    let out = run(
        Mock::Output(HmrcOutcome::Duplicate {
            receipt: Receipt {
                correlation_id: Some("c3".into()),
                ..Receipt::default()
            },
            http_status: 400,
            code: "RULE_DUPLICATE_SUBMISSION".into(),
            message: "duplicate".into(),
            attempt: 2,
        }),
        0,
    )
    .await;
    assert_eq!(out.status, RunStatus::Completed);
    assert_eq!(out.submission.status, SubmissionStatus::Submitted);
    assert_eq!(
        kinds(&out.notifications),
        [NotificationKind::SubmissionAccepted]
    );
}
