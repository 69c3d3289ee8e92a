//! Connecting the HMRC account through the pages: `/hmrc/connect` → HMRC's sign-in page →
//! `/hmrc/callback`, with the state bound to the browser session.

use http::StatusCode;
use mtd::browser::{Browser, form_with_action};
use mtd::driver::Decision;

use crate::support::Stack;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connecting_through_the_pages_and_hmrcs_sign_in_page_stores_an_active_credential() {
    let stack = Stack::start().await;
    let driver = stack.driver();
    let dashboard = driver.browser.get(&driver.url("/")).await.unwrap();
    assert_eq!(dashboard.status, StatusCode::OK);
    assert!(dashboard.body.contains("Connect HMRC account"));

    let sign_in = driver.start_connect().await.unwrap();
    let authorize = sign_in.url.clone();
    let query: std::collections::HashMap<_, _> = authorize.query_pairs().into_owned().collect();
    assert_eq!(query["response_type"], "code");
    assert_eq!(query["code_challenge_method"], "S256");
    assert_eq!(query["scope"], "read:self-assessment write:self-assessment");
    assert_eq!(query["redirect_uri"], driver.url("/hmrc/callback"));
    let back = driver.sign_in(&sign_in, Decision::Grant).await.unwrap();
    let callback = back.location.clone().unwrap();
    assert_eq!(callback.path(), "/hmrc/callback");
    let pages = driver.browser.follow(back).await.unwrap();
    let last = pages.last().unwrap();
    assert_eq!(last.status, StatusCode::OK);
    assert!(last.body.contains("Your HMRC account is connected"));
    assert!(last.body.contains("Connected"));

    let connection = driver.get_json("/api/v1/connection").await.unwrap();
    let connections = connection["connections"].as_array().unwrap();
    assert_eq!(connections.len(), 1);
    assert_eq!(connections[0]["status"], "active");
    assert_eq!(connections[0]["nino"], stack.embedded.hmrc_user.nino);
    let events: Vec<String> = stack
        .embedded
        .sandbox
        .admin()
        .token_events()
        .into_iter()
        .map(|e| e.event)
        .collect();
    assert_eq!(events, ["code_issued", "code_exchanged"]);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callback_whose_state_does_not_match_is_refused_and_the_sign_in_cannot_be_replayed() {
    let stack = Stack::start().await;
    let driver = stack.driver();
    let sign_in = driver.start_connect().await.unwrap();
    let back = driver.sign_in(&sign_in, Decision::Grant).await.unwrap();
    let genuine = back.location.clone().unwrap();
    let mut forged = genuine.clone();
    let pairs: Vec<(String, String)> = genuine
        .query_pairs()
        .into_owned()
        .map(|(k, v)| {
            if k == "state" {
                (k, "forged-state".to_owned())
            } else {
                (k, v)
            }
        })
        .collect();
    forged.query_pairs_mut().clear().extend_pairs(pairs);

    let refused = driver.browser.get(forged.as_str()).await.unwrap();
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(refused.body.contains("state mismatch"), "{}", refused.body);
    // The pending sign-in was single use: the genuine answer no longer connects anything.
    let replay = driver.browser.get(genuine.as_str()).await.unwrap();
    assert_eq!(replay.status, StatusCode::BAD_REQUEST);
    assert!(replay.body.contains("not started from this browser"));
    let connection = driver.get_json("/api/v1/connection").await.unwrap();
    assert_eq!(connection["connections"].as_array().unwrap().len(), 0);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callback_in_another_browser_session_is_refused() {
    let stack = Stack::start().await;
    let victim = stack.driver();
    let sign_in = victim.start_connect().await.unwrap();
    let back = victim.sign_in(&sign_in, Decision::Grant).await.unwrap();
    let callback = back.location.clone().unwrap();

    let other = Browser::new();
    let refused = other.get(callback.as_str()).await.unwrap();
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(refused.body.contains("not started from this browser"));
    let connection = victim.get_json("/api/v1/connection").await.unwrap();
    assert_eq!(connection["connections"].as_array().unwrap().len(), 0);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_who_does_not_grant_authority_gets_a_clear_page_and_nothing_is_connected() {
    let stack = Stack::start().await;
    let driver = stack.driver();
    let page = driver.connect(Decision::Deny).await.unwrap();
    assert_eq!(page.url.path(), "/hmrc/callback");
    assert!(
        page.url
            .query()
            .unwrap_or("")
            .contains("error=access_denied")
    );
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body
            .contains("You chose not to grant this app authority"),
        "{}",
        page.body
    );
    let connection = driver.get_json("/api/v1/connection").await.unwrap();
    assert_eq!(connection["connections"].as_array().unwrap().len(), 0);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_nino_is_refused_before_anything_goes_to_hmrc() {
    let stack = Stack::start().await;
    let driver = stack.driver();
    let dashboard = driver.browser.get(&driver.url("/")).await.unwrap();
    let form = form_with_action(&dashboard, "/hmrc/connect").unwrap();
    let mut url = form.action.clone();
    url.query_pairs_mut()
        .extend_pairs(form.inputs.iter().filter(|(k, _)| k != "nino"))
        .append_pair("nino", "12345");
    let page = driver.browser.get(url.as_str()).await.unwrap();
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.body.contains("nino:"));
    assert!(page.location.is_none());
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_started_from_another_site_without_the_sessions_token_is_refused() {
    let stack = Stack::start().await;
    let driver = stack.driver();
    driver.browser.get(&driver.url("/")).await.unwrap();
    for query in ["nino=AA123456A", "nino=AA123456A&csrf=forged"] {
        let page = driver
            .browser
            .get(&driver.url(&format!("/hmrc/connect?{query}")))
            .await
            .unwrap();
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{query}");
        assert!(page.location.is_none(), "nothing goes to HMRC");
    }
    assert!(stack.embedded.sandbox.admin().token_events().is_empty());
    stack.stop().await;
}
