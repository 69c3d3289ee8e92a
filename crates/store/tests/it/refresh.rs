//! The race-free refresh protocol, against a fake HMRC token endpoint that, like HMRC, accepts
//! each refresh token once.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use mtd_store::{
    AccessToken, BeginRefresh, CompleteRefresh, CredentialStatus, ExpireOutcome, ManualClock,
    RefreshError, RefreshFailure, RefreshOptions, RefreshToken, Store, TokenPair, TokenSource,
};
use uuid::Uuid;

use crate::credentials::pair;
use crate::support::{both_backends, test_keyring};

#[derive(Debug, thiserror::Error)]
#[error("fake HMRC token endpoint: {0}")]
struct FakeError(&'static str);

/// HMRC's token endpoint in miniature: one live refresh token, spent on use.
struct FakeTokenEndpoint {
    state: Mutex<FakeState>,
    latency: Duration,
}

struct FakeState {
    live: String,
    generation: u32,
    calls: u32,
    spent_reused: u32,
}

impl FakeTokenEndpoint {
    fn new(live: &str, latency: Duration) -> Arc<Self> {
        Arc::new(Self {
            state: Mutex::new(FakeState {
                live: live.into(),
                generation: 1,
                calls: 0,
                spent_reused: 0,
            }),
            latency,
        })
    }

    async fn refresh(&self, token: RefreshToken) -> Result<TokenPair, RefreshFailure<FakeError>> {
        tokio::time::sleep(self.latency).await;
        let mut state = self.state.lock().expect("not poisoned");
        state.calls += 1;
        if token.expose_secret() != state.live {
            state.spent_reused += 1;
            return Err(RefreshFailure::invalid_grant(
                "refresh answered 400 invalid_grant",
                FakeError("invalid_grant"),
            ));
        }
        state.generation += 1;
        let generation = state.generation;
        state.live = format!("refresh-{generation}");
        Ok(TokenPair::from_expires_in(
            AccessToken::new(format!("access-{generation}")),
            RefreshToken::new(format!("refresh-{generation}")),
            14_400,
            Utc::now(),
        ))
    }

    fn calls(&self) -> u32 {
        self.state.lock().expect("not poisoned").calls
    }

    fn reused(&self) -> u32 {
        self.state.lock().expect("not poisoned").spent_reused
    }
}

fn options(holder: &str) -> RefreshOptions {
    RefreshOptions::new(holder)
        .poll_interval(Duration::from_millis(10))
        .max_wait(Duration::from_secs(30))
}

/// A credential whose access token expires within the refresh margin.
async fn expiring_credential(store: &Store) -> Uuid {
    let soon = TokenPair::from_expires_in(
        AccessToken::new("access-1"),
        RefreshToken::new("refresh-1"),
        60,
        Utc::now(),
    );
    store
        .credentials()
        .connect("user-1", "AA123456A", &soon)
        .await
        .expect("connect")
        .credential
        .id
}

async fn stored_refresh_token(store: &Store, id: Uuid) -> String {
    let version = store
        .credentials()
        .get(id)
        .await
        .expect("get")
        .expect("exists")
        .version;
    match store
        .credentials()
        .begin_refresh(id, version, Duration::from_secs(1), "inspect")
        .await
        .expect("claim")
    {
        BeginRefresh::Claimed(lease) => {
            let token = lease.refresh_token.expose_secret().to_owned();
            store
                .credentials()
                .release_refresh(&lease)
                .await
                .expect("release");
            token
        }
        other => panic!("expected a free lease, got {other:?}"),
    }
}

both_backends! {
    async fn twenty_concurrent_callers_spend_the_refresh_token_exactly_once(db) {
        // Two store handles: two processes sharing one database.
        let stores = [db.store().await, db.store().await];
        let id = expiring_credential(&stores[0]).await;
        // Open the pools' connections first, so the callers really start together.
        let warm: Vec<_> = (0..20).map(|n| {
            let store = stores[n % 2].clone();
            tokio::spawn(async move { store.credentials().get(id).await })
        }).collect();
        for task in warm {
            task.await.expect("task").expect("read");
        }
        let hmrc = FakeTokenEndpoint::new("refresh-1", Duration::from_millis(200));
        let closure_calls = Arc::new(AtomicUsize::new(0));
        let barrier = Arc::new(tokio::sync::Barrier::new(20));
        let tasks: Vec<_> = (0..20)
            .map(|n| {
                let store = stores[n % 2].clone();
                let hmrc = hmrc.clone();
                let closure_calls = closure_calls.clone();
                let barrier = barrier.clone();
                tokio::spawn(async move {
                    barrier.wait().await;
                    store
                        .credentials()
                        .access_token(id, &options(&format!("run-{n}")), |refresh_token| async move {
                            closure_calls.fetch_add(1, Ordering::SeqCst);
                            hmrc.refresh(refresh_token).await
                        })
                        .await
                })
            })
            .collect();
        let mut sources = Vec::new();
        for task in tasks {
            let access = task.await.expect("task").expect("every caller gets a token");
            assert_eq!(access.access_token.expose_secret(), "access-2");
            assert_eq!(access.version(), 2);
            sources.push(access.source);
        }
        assert_eq!(closure_calls.load(Ordering::SeqCst), 1, "exactly one caller refreshed");
        assert_eq!((hmrc.calls(), hmrc.reused()), (1, 0), "HMRC saw one refresh and no reuse");
        assert_eq!(sources.iter().filter(|s| **s == TokenSource::RefreshedHere).count(), 1);
        // The others waited for the winner, or (arriving after it finished) found its token
        // stored and valid.
        let waited = sources.iter().filter(|s| **s == TokenSource::RefreshedElsewhere).count();
        let arrived_late = sources.iter().filter(|s| **s == TokenSource::Stored).count();
        assert_eq!(waited + arrived_late, 19);
        let stored = stores[1].credentials().get(id).await.expect("get").expect("exists");
        assert_eq!(stored.version, 2);
        assert!(stored.refresh_lease.is_none(), "the lease is cleared");
        assert_eq!(stored_refresh_token(&stores[1], id).await, "refresh-2", "the rotated refresh token is stored");
    }

    async fn twenty_callers_refreshing_after_the_same_401_refresh_once(db) {
        let store = db.store().await;
        let id = store.credentials().connect("user-1", "AA123456A", &pair("access-1", "refresh-1")).await.expect("connect").credential.id;
        let used = store.credentials().stored_access(id).await.expect("read").version();
        let hmrc = FakeTokenEndpoint::new("refresh-1", Duration::from_millis(50));
        let barrier = Arc::new(tokio::sync::Barrier::new(20));
        let tasks: Vec<_> = (0..20)
            .map(|n| {
                let store = store.clone();
                let hmrc = hmrc.clone();
                let barrier = barrier.clone();
                tokio::spawn(async move {
                    barrier.wait().await;
                    store
                        .credentials()
                        .refresh_access_token(id, used, &options(&format!("run-{n}")), |t| async move { hmrc.refresh(t).await })
                        .await
                })
            })
            .collect();
        let mut sources = Vec::new();
        for task in tasks {
            let access = task.await.expect("task").expect("token");
            assert_eq!(access.access_token.expose_secret(), "access-2");
            sources.push(access.source);
        }
        assert_eq!((hmrc.calls(), hmrc.reused()), (1, 0));
        assert_eq!(sources.iter().filter(|s| **s == TokenSource::RefreshedHere).count(), 1);
        assert_eq!(sources.iter().filter(|s| **s == TokenSource::RefreshedElsewhere).count(), 19);
        // A late caller that used the old version gets the new token without refreshing.
        let late = store.credentials().refresh_access_token(id, used, &options("late"), |_| async {
            Err::<TokenPair, _>(RefreshFailure::other(FakeError("must not be called")))
        }).await.expect("token");
        assert_eq!((late.access_token.expose_secret(), late.source), ("access-2", TokenSource::RefreshedElsewhere));
    }

    async fn a_valid_stored_token_is_used_without_refreshing(db) {
        let store = db.store().await;
        let id = store.credentials().connect("user-1", "AA123456A", &pair("access-1", "refresh-1")).await.expect("connect").credential.id;
        let access = store.credentials().access_token(id, &options("run"), |_| async {
            Err::<TokenPair, _>(RefreshFailure::other(FakeError("must not be called")))
        }).await.expect("stored token");
        assert_eq!((access.access_token.expose_secret(), access.source), ("access-1", TokenSource::Stored));
        assert_eq!(access.version(), 1);
    }

    async fn a_waiting_caller_reads_the_winners_token_instead_of_refreshing(db) {
        let store = db.store().await;
        let id = store.credentials().connect("user-1", "AA123456A", &pair("access-1", "refresh-1")).await.expect("connect").credential.id;
        let BeginRefresh::Claimed(lease) = store.credentials().begin_refresh(id, 1, Duration::from_secs(60), "winner").await.expect("claim") else {
            panic!("free");
        };
        // The stored token is valid for hours, but a refresh is in progress: it is about to die.
        let waiter = {
            let store = store.clone();
            tokio::spawn(async move {
                store.credentials().access_token(id, &options("waiter"), |_| async {
                    Err::<TokenPair, _>(RefreshFailure::other(FakeError("must not be called")))
                }).await
            })
        };
        tokio::time::sleep(Duration::from_millis(100)).await;
        let done = store.credentials().complete_refresh(&lease, &pair("access-2", "refresh-2")).await.expect("complete");
        assert!(matches!(done, CompleteRefresh::Completed(_)));
        let access = waiter.await.expect("task").expect("token");
        assert_eq!((access.access_token.expose_secret(), access.source), ("access-2", TokenSource::RefreshedElsewhere));
    }

    async fn begin_refresh_says_why_it_did_not_claim(db) {
        let store = db.store().await;
        let creds = store.credentials();
        let id = creds.connect("user-1", "AA123456A", &pair("a1", "r1")).await.expect("connect").credential.id;
        let BeginRefresh::Claimed(lease) = creds.begin_refresh(id, 1, Duration::from_secs(60), "first").await.expect("claim") else {
            panic!("free");
        };
        match creds.begin_refresh(id, 1, Duration::from_secs(60), "second").await.expect("answer") {
            BeginRefresh::Busy { holder, until, .. } => {
                assert_eq!(holder, "first");
                assert_eq!(until, lease.expires_at);
            }
            other => panic!("busy expected, got {other:?}"),
        }
        creds.complete_refresh(&lease, &pair("a2", "r2")).await.expect("complete");
        assert!(matches!(creds.begin_refresh(id, 1, Duration::from_secs(60), "stale").await.expect("answer"), BeginRefresh::Superseded(c) if c.version == 2));
        creds.expire_unless_replaced(id, 2, "revoked").await.expect("expire");
        assert!(matches!(creds.begin_refresh(id, 3, Duration::from_secs(60), "late").await.expect("answer"), BeginRefresh::Expired(_)));
        let missing = creds.begin_refresh(Uuid::new_v4(), 1, Duration::from_secs(60), "x").await;
        assert!(matches!(missing, Err(mtd_store::StoreError::CredentialNotFound(_))));
    }

    async fn an_expired_lease_of_a_crashed_run_is_taken_over(db) {
        let clock = Arc::new(ManualClock::new(Utc::now()));
        let store = db.store_with(|c| c.keyring(test_keyring()).clock(clock.clone())).await;
        let id = expiring_credential(&store).await;
        let BeginRefresh::Claimed(crashed) = store.credentials().begin_refresh(id, 1, Duration::from_secs(60), "crashed-run").await.expect("claim") else {
            panic!("free");
        };
        // The run crashes before calling HMRC. Until its lease expires nobody else may refresh.
        let blocked = store.credentials().access_token(id, &options("early").max_wait(Duration::from_millis(200)), |_| async {
            Err::<TokenPair, _>(RefreshFailure::other(FakeError("must not be called")))
        }).await;
        assert!(matches!(blocked, Err(RefreshError::Busy { .. })), "{blocked:?}");
        assert!(!blocked.as_ref().expect_err("busy").is_permanent());

        clock.advance(TimeDelta::seconds(61));
        let hmrc = FakeTokenEndpoint::new("refresh-1", Duration::ZERO);
        let access = store.credentials().access_token(id, &options("taker"), |t| async move { hmrc.refresh(t).await }).await.expect("taken over");
        assert_eq!((access.access_token.expose_secret(), access.source), ("access-2", TokenSource::RefreshedHere));
        // The crashed run's lease is gone; if it came back with a pair, it would not be stored.
        let late = store.credentials().complete_refresh(&crashed, &pair("zombie", "zombie")).await.expect("answer");
        assert!(matches!(late, CompleteRefresh::Superseded(c) if c.version == 2));
        assert_eq!(store.credentials().stored_access(id).await.expect("read").access_token.expose_secret(), "access-2");
    }

    async fn a_slow_winner_still_stores_the_pair_hmrc_gave_it_after_a_takeover(db) {
        let clock = Arc::new(ManualClock::new(Utc::now()));
        let store = db.store_with(|c| c.keyring(test_keyring()).clock(clock.clone())).await;
        let creds = store.credentials();
        let id = expiring_credential(&store).await;
        let hmrc = FakeTokenEndpoint::new("refresh-1", Duration::ZERO);
        let BeginRefresh::Claimed(slow) = creds.begin_refresh(id, 1, Duration::from_secs(60), "slow").await.expect("claim") else { panic!("free") };
        clock.advance(TimeDelta::seconds(61));
        let BeginRefresh::Claimed(taker) = creds.begin_refresh(id, 1, Duration::from_secs(60), "taker").await.expect("claim") else { panic!("expired lease") };
        // The slow run reaches HMRC first and gets the new pair; the taker's spend fails.
        let slow_pair = hmrc.refresh(slow.refresh_token.clone()).await.expect("live token");
        let Err(RefreshFailure::InvalidGrant { reason, .. }) = hmrc.refresh(taker.refresh_token.clone()).await else { panic!("spent") };
        let stored = creds.complete_refresh(&slow, &slow_pair).await.expect("complete");
        assert!(matches!(stored, CompleteRefresh::Completed(_)), "HMRC's only valid pair is kept");
        let outcome = creds.fail_refresh(&taker, &reason).await.expect("outcome");
        assert!(matches!(outcome, ExpireOutcome::Replaced(_)), "{outcome:?}");
        let credential = creds.get(id).await.expect("get").expect("exists");
        assert!(credential.is_active());
        assert_eq!(creds.stored_access(id).await.expect("read").access_token.expose_secret(), "access-2");
    }

    async fn a_run_whose_lease_was_taken_over_cannot_expire_the_credential(db) {
        let clock = Arc::new(ManualClock::new(Utc::now()));
        let store = db.store_with(|c| c.keyring(test_keyring()).clock(clock.clone())).await;
        let creds = store.credentials();
        let id = expiring_credential(&store).await;
        let BeginRefresh::Claimed(slow) = creds.begin_refresh(id, 1, Duration::from_secs(60), "slow").await.expect("claim") else { panic!("free") };
        clock.advance(TimeDelta::seconds(61));
        let BeginRefresh::Claimed(taker) = creds.begin_refresh(id, 1, Duration::from_secs(60), "taker").await.expect("claim") else { panic!("expired lease") };
        // The taker spent the token first; the slow run's late invalid_grant says nothing.
        let outcome = creds.fail_refresh(&slow, "refresh answered 400 invalid_grant").await.expect("outcome");
        assert!(matches!(outcome, ExpireOutcome::RefreshInProgress(_)), "{outcome:?}");
        assert!(creds.get(id).await.expect("get").expect("exists").is_active());
        assert!(matches!(creds.complete_refresh(&taker, &pair("access-2", "refresh-2")).await.expect("complete"), CompleteRefresh::Completed(_)));
    }

    async fn a_transient_refresh_failure_releases_the_lease_and_changes_nothing(db) {
        let store = db.store().await;
        let id = expiring_credential(&store).await;
        let failed = store.credentials().access_token(id, &options("run-1"), |_| async {
            Err::<TokenPair, _>(RefreshFailure::other(FakeError("HMRC answered 503")))
        }).await;
        let Err(RefreshError::Refresh { source, .. }) = &failed else { panic!("{failed:?}") };
        assert_eq!(source.0, "HMRC answered 503");
        assert!(!failed.as_ref().expect_err("failed").is_permanent());
        let credential = store.credentials().get(id).await.expect("get").expect("exists");
        assert_eq!((credential.version, credential.is_active()), (1, true));
        assert!(credential.refresh_lease.is_none(), "the lease was released");
        let hmrc = FakeTokenEndpoint::new("refresh-1", Duration::ZERO);
        let access = store.credentials().access_token(id, &options("run-2"), |t| async move { hmrc.refresh(t).await }).await.expect("retry works");
        assert_eq!(access.access_token.expose_secret(), "access-2");
    }

    async fn invalid_grant_expires_the_credential_and_stops_further_refreshes(db) {
        let store = db.store().await;
        let id = expiring_credential(&store).await;
        let hmrc = FakeTokenEndpoint::new("revoked-by-the-user", Duration::ZERO);
        let first = store.credentials().access_token(id, &options("run-1"), |t| async move { hmrc.refresh(t).await }).await;
        let Err(RefreshError::Expired { reason, source, .. }) = &first else { panic!("{first:?}") };
        assert_eq!(reason, "refresh answered 400 invalid_grant");
        assert!(source.is_some());
        assert!(first.as_ref().expect_err("expired").is_permanent());
        let credential = store.credentials().get(id).await.expect("get").expect("exists");
        assert!(matches!(&credential.status, CredentialStatus::Expired { reason, .. } if reason == "refresh answered 400 invalid_grant"));

        let calls = Arc::new(AtomicUsize::new(0));
        let counted = calls.clone();
        let second = store.credentials().access_token(id, &options("run-2"), |_| async move {
            counted.fetch_add(1, Ordering::SeqCst);
            Err::<TokenPair, _>(RefreshFailure::other(FakeError("must not be called")))
        }).await;
        assert!(matches!(second, Err(RefreshError::Expired { source: None, .. })), "{second:?}");
        assert_eq!(calls.load(Ordering::SeqCst), 0, "no further attempt on an expired credential");

        // Reconnecting replaces the tokens and reactivates the credential.
        store.credentials().connect("user-1", "AA123456A", &pair("access-new", "refresh-new")).await.expect("reconnect");
        let access = store.credentials().access_token(id, &options("run-3"), |_| async {
            Err::<TokenPair, _>(RefreshFailure::other(FakeError("must not be called")))
        }).await.expect("usable again");
        assert_eq!(access.access_token.expose_secret(), "access-new");
    }

    async fn a_reconnection_during_a_refresh_wins_over_the_refreshed_pair(db) {
        let store = db.store().await;
        let creds = store.credentials();
        let id = expiring_credential(&store).await;
        let BeginRefresh::Claimed(lease) = creds.begin_refresh(id, 1, Duration::from_secs(60), "run").await.expect("claim") else { panic!("free") };
        creds.connect("user-1", "AA123456A", &pair("access-reconnected", "refresh-reconnected")).await.expect("reconnect");
        let outcome = creds.complete_refresh(&lease, &pair("access-refreshed", "refresh-refreshed")).await.expect("answer");
        assert!(matches!(outcome, CompleteRefresh::Superseded(_)));
        assert_eq!(creds.stored_access(id).await.expect("read").access_token.expose_secret(), "access-reconnected");
    }
}
