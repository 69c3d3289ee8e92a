use std::sync::Arc;

use chrono::{TimeDelta, Utc};
use mtd_store::{
    Audit, FailureReason, HmrcAnswer, ManualClock, NewSubmission, Notification, NotificationFilter,
    NotificationKind, RepairOptions, Resubmission, StatusChange, Store, Submission, SubmissionKind,
    SubmissionStatus,
};
use serde_json::json;
use uuid::Uuid;

use crate::credentials::pair;
use crate::submissions::rule_error;
use crate::support::{both_backends, test_keyring};

const USERS: [&str; 6] = ["user-a", "user-b", "user-c", "user-d", "user-e", "user-f"];

struct Fixture {
    /// 401 INVALID_CREDENTIALS stored as rejected; the user never reconnected.
    auth_401: Uuid,
    /// invalid_grant (code only in the body); the user reconnected since.
    invalid_grant: Uuid,
    /// 403 CLIENT_OR_AGENT_NOT_AUTHORISED, already resubmitted by the user.
    auth_403_resubmitted: Uuid,
    /// A genuine rejection with RULE_ errors.
    genuine: Uuid,
    /// A 400 INVALID_REQUEST wrapping FORMAT_ errors in the body only.
    genuine_wrapped: Uuid,
    /// 403 INVALID_SCOPE: the platform's fault; left for review.
    misconfigured: Uuid,
    /// 503 stored as rejected; left for review.
    transient: Uuid,
    /// An auth failure correctly recorded failed: not examined.
    already_failed: Uuid,
    /// Still processing: not examined.
    processing: Uuid,
}

async fn rejected(
    store: &Store,
    user: &str,
    answer: HmrcAnswer,
    errors: &[mtd_store::RejectionError],
) -> Uuid {
    let legacy = Audit::new("inngest:legacy", "old release");
    let s = store
        .submissions()
        .create(
            &NewSubmission::new(
                SubmissionKind::Period,
                user,
                "AA123456A",
                json!({"n": user}),
            )
            .tax_year("2023-24"),
            &legacy,
        )
        .await
        .expect("create");
    store
        .submissions()
        .mark_rejected(s.id, errors, &answer, &legacy)
        .await
        .expect("reject");
    s.id
}

async fn fixture(store: &Store, clock: &ManualClock) -> Fixture {
    let legacy = Audit::new("inngest:legacy", "old release");
    let auth_401 = rejected(
        store,
        "user-a",
        HmrcAnswer::new(401, Some("INVALID_CREDENTIALS")),
        &[],
    )
    .await;
    let invalid_grant = rejected(
        store,
        "user-b",
        HmrcAnswer {
            body: Some(
                json!({"error": "invalid_grant", "error_description": "refresh_token is invalid"}),
            ),
            ..HmrcAnswer::new(400, None)
        },
        &[],
    )
    .await;
    let auth_403_resubmitted = rejected(
        store,
        "user-c",
        HmrcAnswer::new(403, Some("CLIENT_OR_AGENT_NOT_AUTHORISED")),
        &[],
    )
    .await;
    store
        .submissions()
        .resubmit(
            auth_403_resubmitted,
            &Resubmission::default(),
            &Audit::new("user:user-c", "resubmit"),
        )
        .await
        .expect("resubmit");
    let genuine = rejected(
        store,
        "user-d",
        HmrcAnswer::new(400, Some("RULE_OVERLAPPING_PERIOD")),
        &[rule_error()],
    )
    .await;
    let genuine_wrapped = rejected(
        store,
        "user-d",
        HmrcAnswer { body: Some(json!({"code": "INVALID_REQUEST", "message": "Invalid request", "errors": [{"code": "FORMAT_VALUE", "message": "m", "paths": ["/x"]}]})), ..HmrcAnswer::new(400, Some("INVALID_REQUEST")) },
        &[],
    )
    .await;
    let misconfigured = rejected(
        store,
        "user-e",
        HmrcAnswer::new(403, Some("INVALID_SCOPE")),
        &[],
    )
    .await;
    let transient = rejected(
        store,
        "user-e",
        HmrcAnswer::new(503, Some("SERVER_ERROR")),
        &[],
    )
    .await;
    let already_failed = {
        let s = store
            .submissions()
            .create(
                &NewSubmission::new(SubmissionKind::Eops, "user-f", "AA123456A", json!({})),
                &legacy,
            )
            .await
            .expect("create");
        store
            .submissions()
            .mark_failed(
                s.id,
                FailureReason::Auth,
                "HMRC 401",
                Some(&HmrcAnswer::new(401, Some("INVALID_CREDENTIALS"))),
                &legacy,
            )
            .await
            .expect("fail");
        s.id
    };
    let processing = store
        .submissions()
        .create(
            &NewSubmission::new(
                SubmissionKind::Crystallisation,
                "user-f",
                "AA123456A",
                json!({}),
            ),
            &legacy,
        )
        .await
        .expect("create")
        .id;
    // user-b reconnected after the failure; user-a never did (their credential is expired).
    clock.advance(TimeDelta::minutes(10));
    let b = store
        .credentials()
        .connect("user-b", "AA123456A", &pair("b1", "rb1"))
        .await
        .expect("connect");
    clock.advance(TimeDelta::minutes(10));
    store
        .credentials()
        .connect("user-b", "AA123456A", &pair("b2", "rb2"))
        .await
        .expect("reconnect");
    let a = store
        .credentials()
        .connect("user-a", "AA123456A", &pair("a1", "ra1"))
        .await
        .expect("connect")
        .credential;
    store
        .credentials()
        .expire_unless_replaced(a.id, a.version, "HMRC 401")
        .await
        .expect("expire");
    assert!(b.credential.is_active());
    Fixture {
        auth_401,
        invalid_grant,
        auth_403_resubmitted,
        genuine,
        genuine_wrapped,
        misconfigured,
        transient,
        already_failed,
        processing,
    }
}

/// Everything the repair could touch, for before/after comparisons.
async fn snapshot(store: &Store) -> (Vec<Submission>, Vec<Vec<StatusChange>>, Vec<Notification>) {
    let mut submissions = Vec::new();
    let mut histories = Vec::new();
    let mut notifications = Vec::new();
    for user in USERS {
        for s in store
            .submissions()
            .list_for_user(user, 100)
            .await
            .expect("list")
        {
            histories.push(store.submissions().history(s.id).await.expect("history"));
            submissions.push(s);
        }
        notifications.extend(
            store
                .notifications()
                .list(user, NotificationFilter::All, 100)
                .await
                .expect("list"),
        );
    }
    (submissions, histories, notifications)
}

both_backends! {
    async fn the_repair_relabels_only_auth_failures_notifies_and_is_idempotent(db) {
        let clock = Arc::new(ManualClock::new(Utc::now()));
        let store = db.store_with(|c| c.keyring(test_keyring()).clock(clock.clone())).await;
        let f = fixture(&store, &clock).await;
        clock.advance(TimeDelta::minutes(1));

        // Dry run (the default): the report, and no change at all.
        let before = snapshot(&store).await;
        let dry = store.repair_history(&RepairOptions::default()).await.expect("dry run");
        assert!(!dry.applied);
        assert_eq!(dry.examined, 7);
        let mut planned: Vec<_> = dry.relabelled.iter().map(|i| (i.submission_id, i.code.as_str(), i.notification)).collect();
        planned.sort();
        let mut expected = vec![
            (f.auth_401, "INVALID_CREDENTIALS", Some(NotificationKind::ReconnectHmrc)),
            (f.invalid_grant, "invalid_grant", Some(NotificationKind::ResubmitNeeded)),
            (f.auth_403_resubmitted, "CLIENT_OR_AGENT_NOT_AUTHORISED", None),
        ];
        expected.sort();
        assert_eq!(planned, expected);
        assert_eq!(dry.genuine_rejections, 2);
        let mut review: Vec<_> = dry.needs_review.iter().map(|r| r.submission_id).collect();
        review.sort();
        let mut expected_review = vec![f.misconfigured, f.transient];
        expected_review.sort();
        assert_eq!(review, expected_review);
        assert!(dry.to_string().contains("would relabel 3"), "{dry}");
        assert_eq!(snapshot(&store).await, before, "a dry run changes nothing");

        // The real run.
        let done = store.repair_history(&RepairOptions::apply()).await.expect("repair");
        assert!(done.applied);
        assert_eq!(done.relabelled, dry.relabelled);
        for id in [f.auth_401, f.invalid_grant, f.auth_403_resubmitted] {
            let s = store.submissions().get(id).await.expect("get").expect("exists");
            assert_eq!(s.status, SubmissionStatus::Failed);
            assert_eq!(s.failure.as_ref().map(|f| f.reason), Some(FailureReason::Auth));
            let old = before.0.iter().find(|o| o.id == id).expect("was there");
            assert_eq!((&s.hmrc_answer, &s.rejection_errors, &s.payload, s.completed_at), (&old.hmrc_answer, &old.rejection_errors, &old.payload, old.completed_at), "the record of what happened is kept");
            let history = store.submissions().history(id).await.expect("history");
            let last = history.last().expect("entries");
            assert_eq!(history.len(), 3);
            assert_eq!((last.from, last.to, last.actor.as_str()), (Some(SubmissionStatus::Rejected), SubmissionStatus::Failed, "repair-history"));
            assert!(last.reason.contains("authorisation failure"), "{}", last.reason);
        }
        for id in [f.genuine, f.genuine_wrapped, f.misconfigured, f.transient] {
            assert_eq!(store.submissions().get(id).await.expect("get").map(|s| s.status), Some(SubmissionStatus::Rejected));
        }
        assert_eq!(store.submissions().get(f.already_failed).await.expect("get").map(|s| s.status), Some(SubmissionStatus::Failed));
        assert_eq!(store.submissions().get(f.processing).await.expect("get").map(|s| s.status), Some(SubmissionStatus::Processing));

        let notes_a = store.notifications().list("user-a", NotificationFilter::Unread, 10).await.expect("list");
        assert_eq!(notes_a.len(), 1);
        assert_eq!((notes_a[0].kind, notes_a[0].submission_id), (NotificationKind::ReconnectHmrc, Some(f.auth_401)));
        assert_eq!(notes_a[0].title, "Please reconnect your HMRC account");
        assert!(notes_a[0].body.contains("your figures were not rejected"), "{}", notes_a[0].body);
        let notes_b = store.notifications().list("user-b", NotificationFilter::Unread, 10).await.expect("list");
        assert_eq!(notes_b.iter().map(|n| (n.kind, n.submission_id)).collect::<Vec<_>>(), vec![(NotificationKind::ResubmitNeeded, Some(f.invalid_grant))]);
        for user in ["user-c", "user-d", "user-e", "user-f"] {
            assert_eq!(store.notifications().unread_count(user).await.expect("count"), 0, "{user}");
        }

        // A second run finds nothing to do and changes nothing.
        let after = snapshot(&store).await;
        let again = store.repair_history(&RepairOptions::apply()).await.expect("again");
        assert!(again.relabelled.is_empty());
        assert_eq!(again.examined, 4);
        assert_eq!(snapshot(&store).await, after);
    }
}
