//! The failure table, through the app: each row from a real HMRC (simulator) answer to what
//! the user sees.

use hmrc_sandbox::{FaultAction, FaultSpec};
use http::StatusCode;
use inngest_local::RunStatus;
use mtd::browser::{form_with_action, forms};
use mtd::driver::{Decision, Driver, submit_attempts};
use serde_json::{Value, json};

use crate::support::{Stack, due_period};

async fn submit_quarter(
    stack: &Stack,
    driver: &Driver<'_>,
    turnover: &str,
) -> (Value, Vec<String>) {
    let (start, end) = due_period();
    let body = driver
        .period_body(&stack.business_id(), start, end, turnover, "10.00")
        .expect("the app answers");
    let created = driver.submit(&body).await.expect("the app answers");
    let done = driver
        .wait_submission(&created.id)
        .await
        .expect("the app answers");
    (done, created.event_ids)
}

async fn titles(driver: &Driver<'_>) -> Vec<String> {
    let list = driver
        .get_json("/api/v1/notifications")
        .await
        .expect("the app answers");
    list["notifications"]
        .as_array()
        .expect("the app answers")
        .iter()
        .map(|n| n["title"].as_str().expect("the app answers").to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transient_hmrc_fault_is_retried_with_backoff_until_submitted() {
    let stack = Stack::start().await;
    let driver = stack.connected().await;
    stack
        .embedded
        .sandbox
        .admin()
        .add_fault(
            FaultSpec::new(
                "se-cumulative",
                FaultAction::Status {
                    status: 503,
                    code: None,
                    message: None,
                },
            )
            .times(2),
        )
        .unwrap();
    let (done, events) = submit_quarter(&stack, &driver, "500.00").await;
    assert_eq!(done["status"], "submitted", "{done}");
    let run = driver.run_of(&events).await.unwrap();
    assert_eq!(run.status, RunStatus::Completed);
    let step = run.step("submit-to-hmrc").unwrap();
    let outcomes: Vec<&str> = step.attempts.iter().map(|a| a.outcome.as_str()).collect();
    assert_eq!(outcomes, ["error", "error", "ok"]);
    assert!(
        step.attempts[0].retry_in_ms.unwrap_or(0) > 0,
        "Inngest backed off"
    );
    let connection = driver.get_json("/api/v1/connection").await.unwrap();
    assert_eq!(connection["connections"][0]["status"], "active");
    assert!(
        !titles(&driver)
            .await
            .iter()
            .any(|t| t.contains("reconnect"))
    );
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_grant_fails_at_once_expires_the_credential_and_asks_the_user_to_reconnect() {
    let stack = Stack::start().await;
    let driver = stack.connected().await;
    stack
        .embedded
        .sandbox
        .admin()
        .revoke_grants(&stack.embedded.hmrc_user.gateway_user_id, None)
        .unwrap();
    let (failed, events) = submit_quarter(&stack, &driver, "500.00").await;
    assert_eq!(failed["status"], "failed", "{failed}");
    assert_eq!(failed["failure"]["reason"], "auth");
    let run = driver.run_of(&events).await.unwrap();
    assert_eq!(run.status, RunStatus::Failed);
    assert_eq!(submit_attempts(&run), 1, "no retries");

    let connection = driver.get_json("/api/v1/connection").await.unwrap();
    assert_eq!(connection["connections"][0]["status"], "expired");
    assert!(
        titles(&driver)
            .await
            .contains(&"Please reconnect your HMRC account".to_owned())
    );
    let dashboard = driver.browser.get(&driver.url("/")).await.unwrap();
    assert!(dashboard.body.contains("Reconnect HMRC Account"));
    assert!(
        dashboard
            .body
            .contains("Please reconnect your HMRC account")
    );
    assert!(stack.embedded.sandbox.admin().submissions().is_empty());

    // Until the user reconnects, nothing more is queued.
    let (start, end) = due_period();
    let body = driver
        .period_body(&stack.business_id(), start, end, "1.00", "1.00")
        .unwrap();
    let page = driver
        .send_json("POST", "/api/v1/submissions", Some(&body))
        .await
        .unwrap();
    assert_eq!(page.status, StatusCode::CONFLICT);
    assert_eq!(page.json()["error"]["code"], "hmrc_reconnect_required");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnecting_from_the_dashboard_then_resubmitting_gets_the_submission_to_hmrc() {
    let stack = Stack::start().await;
    let driver = stack.connected().await;
    let admin = stack.embedded.sandbox.admin();
    admin
        .revoke_grants(&stack.embedded.hmrc_user.gateway_user_id, None)
        .unwrap();
    let (failed, _) = submit_quarter(&stack, &driver, "700.00").await;
    assert_eq!(failed["status"], "failed");
    let failed_id = failed["id"].as_str().unwrap().to_owned();

    // Settings → HMRC Connection → Reconnect HMRC Account → Government Gateway → back.
    let dashboard = driver.browser.get(&driver.url("/")).await.unwrap();
    let reconnect = form_with_action(&dashboard, "/hmrc/connect").unwrap();
    let mut url = reconnect.action.clone();
    url.query_pairs_mut()
        .extend_pairs(reconnect.inputs.iter().cloned());
    let pages = driver.browser.visit(url.as_str()).await.unwrap();
    let sign_in = pages.last().unwrap().clone();
    let back = driver.sign_in(&sign_in, Decision::Grant).await.unwrap();
    let pages = driver.browser.follow(back).await.unwrap();
    let after = pages.last().unwrap();
    assert!(
        after.body.contains("Your HMRC account is reconnected"),
        "{}",
        after.body
    );
    let connection = driver.get_json("/api/v1/connection").await.unwrap();
    assert_eq!(connection["connections"][0]["status"], "active");
    assert_eq!(
        connection["connections"].as_array().unwrap().len(),
        1,
        "the same credential, reactivated"
    );

    // Resubmit from the dashboard's button.
    let resubmit = forms(after)
        .into_iter()
        .find(|f| f.action.path() == format!("/submissions/{failed_id}/resubmit"))
        .expect("a Resubmit button on the failed submission");
    let mut fields: Vec<(String, String)> = resubmit
        .inputs
        .into_iter()
        .filter(|(k, _)| !k.starts_with("fp_"))
        .collect();
    fields.extend(driver.browser.form_values());
    let sent = driver
        .browser
        .post_form(resubmit.action.as_str(), &fields)
        .await
        .unwrap();
    assert_eq!(sent.status, StatusCode::SEE_OTHER, "{}", sent.body);
    let next_id = sent
        .location
        .unwrap()
        .path()
        .trim_start_matches("/submissions/")
        .to_owned();
    let next = driver.wait_submission(&next_id).await.unwrap();
    assert_eq!(next["status"], "submitted", "{next}");
    assert_eq!(next["attempt"], 2);
    assert_eq!(next["previousAttemptId"], failed_id.as_str());
    assert_eq!(admin.submissions().len(), 1);
    // The failed attempt stays as it was, and cannot be resubmitted twice.
    let again = driver
        .send_json(
            "POST",
            &format!("/api/v1/submissions/{failed_id}/resubmit"),
            Some(&json!({"client": driver.browser.values()})),
        )
        .await
        .unwrap();
    assert_eq!(again.status, StatusCode::CONFLICT);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn figures_hmrc_refuses_are_rejected_and_the_dashboard_shows_the_flagged_fields() {
    let stack = Stack::start().await;
    let driver = stack.connected().await;
    let (_, end) = due_period();
    let year = hmrc_mtd::TaxYear::containing(end).unwrap();
    let body = json!({
        "kind": "annual_summary",
        "payload": {
            "business_id": stack.business_id(),
            "tax_year": year.to_string(),
            "figures": {"self-employment": {"allowances": {"structuredBuildingAllowance": [
                {"amount": 3000.30, "building": {"postcode": "GF49JH"}},
                {"amount": 1200.00, "building": {"name": "Green Oak's", "postcode": "GF4#9JH"}}
            ]}}}
        },
        "client": driver.browser.values(),
    });
    let created = driver.submit(&body).await.unwrap();
    let rejected = driver.wait_submission(&created.id).await.unwrap();
    assert_eq!(rejected["status"], "rejected", "{rejected}");
    let flagged: Vec<(String, Vec<String>)> = rejected["rejectionErrors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["code"].as_str().unwrap().to_owned(),
                e["paths"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|p| p.as_str().unwrap().to_owned())
                    .collect(),
            )
        })
        .collect();
    assert_eq!(
        flagged,
        [
            (
                "FORMAT_STRING".to_owned(),
                vec!["/allowances/structuredBuildingAllowance/1/building/postcode".to_owned()]
            ),
            (
                "RULE_BUILDING_NAME_NUMBER".to_owned(),
                vec!["/allowances/structuredBuildingAllowance/0/building".to_owned()]
            ),
        ]
    );
    let run = driver.run_of(&created.event_ids).await.unwrap();
    assert_eq!(
        run.status,
        RunStatus::Completed,
        "a rejection is not an error of the run"
    );

    let dashboard = driver.browser.get(&driver.url("/")).await.unwrap();
    assert!(dashboard.body.contains("HMRC refused these figures"));
    assert!(dashboard.body.contains("RULE_BUILDING_NAME_NUMBER"));
    assert!(
        dashboard
            .body
            .contains("/allowances/structuredBuildingAllowance/1/building/postcode")
    );
    assert!(
        dashboard
            .body
            .contains(&format!("/submissions/{}/resubmit", created.id)),
        "a Resubmit button"
    );
    assert!(
        titles(&driver)
            .await
            .contains(&"HMRC refused these figures".to_owned())
    );
    let connection = driver.get_json("/api/v1/connection").await.unwrap();
    assert_eq!(connection["connections"][0]["status"], "active");
    stack.stop().await;
}
