//! The user comes from the platform: with a trusted header, requests without it are refused
//! with 401, and users only ever see their own records.

use http::{HeaderName, StatusCode};
use mtd::driver::Decision;
use mtd::identity::Identity;

use crate::support::{Stack, due_period};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_trusted_user_header_pages_and_api_answer_401() {
    let stack = Stack::start_with(|o| {
        o.identity = Identity::TrustedHeader(HeaderName::from_static("x-mtd-user"));
    })
    .await;
    let driver = stack.driver();
    let api = driver
        .browser
        .json("GET", &driver.url("/api/v1/submissions"), None, None)
        .await
        .unwrap();
    assert_eq!(api.status, StatusCode::UNAUTHORIZED);
    assert_eq!(api.json()["error"]["code"], "unauthenticated");
    assert!(
        api.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("x-mtd-user")
    );
    let page = driver.browser.get(&driver.url("/")).await.unwrap();
    assert_eq!(page.status, StatusCode::UNAUTHORIZED);
    assert!(page.body.contains("not signed in"));
    let connect = driver
        .browser
        .get(&driver.url("/hmrc/connect?nino=AA123456A"))
        .await
        .unwrap();
    assert_eq!(connect.status, StatusCode::UNAUTHORIZED);
    // The serve endpoint is Inngest's, not the user's: it answers without the header.
    let inngest = driver
        .browser
        .get(&driver.url("/api/inngest"))
        .await
        .unwrap();
    assert_eq!(inngest.status, StatusCode::OK);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_user_sees_only_their_own_submissions() {
    let stack = Stack::start_with(|o| {
        o.identity = Identity::TrustedHeader(HeaderName::from_static("x-mtd-user"));
    })
    .await;
    let alice = stack.driver();
    alice.browser.set_header("x-mtd-user", "alice");
    let page = alice.connect(Decision::Grant).await.unwrap();
    assert!(page.body.contains("Your HMRC account is connected"));
    let (start, end) = due_period();
    let body = alice
        .period_body(&stack.business_id(), start, end, "100.00", "10.00")
        .unwrap();
    let created = alice.submit(&body).await.unwrap();
    alice.wait_submission(&created.id).await.unwrap();

    let bob = stack.driver();
    bob.browser.set_header("x-mtd-user", "bob");
    let list = bob.get_json("/api/v1/submissions").await.unwrap();
    assert_eq!(list["submissions"].as_array().unwrap().len(), 0);
    let one = bob
        .browser
        .json(
            "GET",
            &bob.url(&format!("/api/v1/submissions/{}", created.id)),
            None,
            None,
        )
        .await
        .unwrap();
    assert_eq!(one.status, StatusCode::NOT_FOUND);
    let resubmit = bob
        .send_json(
            "POST",
            &format!("/api/v1/submissions/{}/resubmit", created.id),
            Some(&serde_json::json!({"client": bob.browser.values()})),
        )
        .await
        .unwrap();
    assert_eq!(resubmit.status, StatusCode::NOT_FOUND);
    let connection = bob.get_json("/api/v1/connection").await.unwrap();
    assert_eq!(connection["connections"].as_array().unwrap().len(), 0);
    stack.stop().await;
}
