//! Tokens never reach step outputs, events or the run history.

use std::time::Duration;

use inngest_local::{RunFilter, RunStatus};
use mtd_store::BeginRefresh;

use crate::flows::se_period;
use crate::support::{Options, Stack};

#[tokio::test]
async fn no_token_appears_in_any_step_output_event_or_run_history() {
    let stack = Stack::with(Options {
        stored_token_expired: true,
        ..Options::default()
    })
    .await;
    let (_, run) = stack.submit(&se_period(&stack, "2024-25", 0)).await;
    assert_eq!(run.status, RunStatus::Completed, "{:?}", run.error);
    assert_eq!(
        stack.refreshes(),
        1,
        "the run refreshed, so new tokens exist"
    );

    // Every token the simulator issued: the first pair, and the pair the run stored.
    let mut tokens = vec![
        stack.tokens.access_token.expose_secret().to_owned(),
        stack.tokens.refresh_token.expose_secret().to_owned(),
    ];
    let credentials = stack.store.credentials();
    let stored = credentials
        .stored_access(stack.credential_id)
        .await
        .unwrap();
    tokens.push(stored.access_token.expose_secret().to_owned());
    match credentials
        .begin_refresh(
            stack.credential_id,
            stored.version(),
            Duration::from_secs(5),
            "test",
        )
        .await
        .unwrap()
    {
        BeginRefresh::Claimed(lease) => {
            tokens.push(lease.refresh_token.expose_secret().to_owned());
            credentials.release_refresh(&lease).await.unwrap();
        }
        other => panic!("the test could not read the stored refresh token: {other:?}"),
    }
    assert_ne!(tokens[0], tokens[2], "the access token was rotated");

    let history = serde_json::to_string(&stack.engine.runs(&RunFilter::default())).unwrap();
    let events = serde_json::to_string(&stack.engine.events(None, 1000)).unwrap();
    let submissions = format!(
        "{:?}",
        stack
            .store
            .submissions()
            .list_for_user(crate::support::APP_USER, 100)
            .await
            .unwrap()
    );
    let notifications = format!("{:?}", stack.notifications().await);
    assert!(
        history.contains("submit-to-hmrc"),
        "the history is there to scan"
    );
    for token in &tokens {
        for (what, text) in [
            ("run history", &history),
            ("events", &events),
            ("submissions", &submissions),
            ("notifications", &notifications),
        ] {
            assert!(
                !text.contains(token.as_str()),
                "a token leaked into the {what}"
            );
        }
    }
    stack.stop().await;
}
