//! Obligations: a user-started fetch, and the scheduled refresh with batch headers.

use std::time::Duration;

use hmrc_sandbox::BusinessType;
use inngest_local::{RunFilter, RunStatus};
use mtd_functions::payload::ObligationsFetch;
use mtd_store::{SubmissionKind, SubmissionStatus};

use crate::support::{APP_USER, Options, Stack};

#[tokio::test]
async fn a_user_started_fetch_caches_the_obligations_of_each_business_and_is_audited() {
    let stack = Stack::start().await;
    let (id, run) = stack
        .submit(&ObligationsFetch {
            tax_year: Some("2025-26".parse().unwrap()),
            ..ObligationsFetch::default()
        })
        .await;
    assert_eq!(run.status, RunStatus::Completed, "{:?}", run.error);
    assert_eq!(run.output.as_ref().unwrap()["businesses_cached"], 2);
    let cached = stack
        .store
        .obligations()
        .list_for_user(APP_USER)
        .await
        .unwrap();
    let mut businesses: Vec<_> = cached.iter().map(|c| c.business_id.clone()).collect();
    businesses.sort();
    let mut expected = vec![
        stack
            .business(BusinessType::SelfEmployment)
            .as_str()
            .to_owned(),
        stack.business(BusinessType::UkProperty).as_str().to_owned(),
    ];
    expected.sort();
    assert_eq!(businesses, expected);
    let se = cached
        .iter()
        .find(|c| c.business_id == stack.business(BusinessType::SelfEmployment).as_str())
        .unwrap();
    assert_eq!(
        se.obligations["obligationDetails"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
    let audit = stack.submission(id).await;
    assert_eq!(audit.kind, SubmissionKind::ObligationsFetch);
    assert_eq!(audit.status, SubmissionStatus::Submitted);
    let sent = stack.requests_to("obligations-income-and-expenditure");
    assert_eq!(
        sent[0].headers["gov-client-connection-method"],
        "WEB_APP_VIA_SERVER"
    );
    assert_eq!(
        audit.receipt.unwrap().correlation_id.as_deref(),
        Some(sent[0].correlation_id.as_str())
    );
    assert!(
        stack.notifications().await.is_empty(),
        "fetches do not notify"
    );
    stack.stop().await;
}

#[tokio::test]
async fn the_scheduled_refresh_fans_out_fetches_with_valid_batch_process_direct_headers() {
    let stack = Stack::with(Options {
        // inngest-local does not accept the `TZ=` prefix Inngest supports; plain UTC here.
        scheduled: Some("0 6 * * *".to_owned()),
        ..Options::default()
    })
    .await;
    // Start the cron function now rather than at 06:00.
    let response = reqwest::Client::new()
        .post(format!(
            "{}/local/functions/mtd-scheduled-obligations-refresh/invoke",
            stack.engine.url()
        ))
        .json(&serde_json::json!({"data": {}}))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());
    let fan_out = stack
        .engine
        .wait_for(
            &RunFilter::function("mtd-scheduled-obligations-refresh"),
            Duration::from_secs(30),
        )
        .await
        .unwrap();
    assert_eq!(fan_out.status, RunStatus::Completed, "{:?}", fan_out.error);
    assert_eq!(fan_out.output.as_ref().unwrap()["fetches_sent"], 1);
    let fetch = stack
        .engine
        .wait_for(
            &RunFilter::function("mtd-fetch-obligations"),
            Duration::from_secs(30),
        )
        .await
        .unwrap();
    assert_eq!(fetch.status, RunStatus::Completed, "{:?}", fetch.error);

    // HMRC saw BATCH_PROCESS_DIRECT headers and found them valid.
    let sent = stack.requests_to("obligations-income-and-expenditure");
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0].headers["gov-client-connection-method"],
        "BATCH_PROCESS_DIRECT"
    );
    let finding = stack
        .admin()
        .fraud_findings()
        .into_iter()
        .find(|f| f.correlation_id == sent[0].correlation_id)
        .unwrap();
    assert_eq!(finding.report.code, "VALID_HEADERS", "{:?}", finding.report);
    // The fetch was recorded for audit with the batch headers, and cached.
    let rows = stack
        .store
        .submissions()
        .list_for_user(APP_USER, 10)
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].kind, SubmissionKind::ObligationsFetch);
    assert_eq!(rows[0].status, SubmissionStatus::Submitted);
    assert_eq!(
        rows[0].fraud_headers["Gov-Client-Connection-Method"],
        "BATCH_PROCESS_DIRECT"
    );
    assert_eq!(rows[0].inngest_run_id.as_deref(), Some(fetch.id.as_str()));
    assert_eq!(
        stack
            .store
            .obligations()
            .list_for_user(APP_USER)
            .await
            .unwrap()
            .len(),
        2
    );
    stack.stop().await;
}
