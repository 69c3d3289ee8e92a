use mtd_store::{NewNotification, NotificationFilter, NotificationKind};
use serde_json::json;

use crate::submissions::audit;
use crate::support::both_backends;

both_backends! {
    async fn notifications_are_listed_per_user_and_marked_read(db) {
        let store = db.store().await;
        let submission = store.submissions().create(&mtd_store::NewSubmission::new(mtd_store::SubmissionKind::Period, "user-1", "AA123456A", json!({})), &audit("started")).await.expect("create");
        let notes = store.notifications();
        let reconnect = notes.notify(&NewNotification::new("user-1", NotificationKind::ReconnectHmrc, "Reconnect, then resubmit.").submission(submission.id)).await.expect("notify");
        assert_eq!(reconnect.title, "Please reconnect your HMRC account");
        assert_eq!(reconnect.submission_id, Some(submission.id));
        assert!(!reconnect.is_read());
        let refused = notes.notify(&NewNotification::new("user-1", NotificationKind::FiguresRejected, "Turnover: RULE_X")).await.expect("notify");
        assert_eq!(refused.title, "HMRC refused these figures");
        notes.notify(&NewNotification::new("user-2", NotificationKind::SubmissionAccepted, "Done.")).await.expect("notify");

        assert_eq!(notes.unread_count("user-1").await.expect("count"), 2);
        assert!(!notes.mark_read("user-2", reconnect.id).await.expect("other user"), "a user cannot mark another's notification");
        assert!(notes.mark_read("user-1", reconnect.id).await.expect("mark"));
        assert!(!notes.mark_read("user-1", reconnect.id).await.expect("again"), "already read");
        let unread = notes.list("user-1", NotificationFilter::Unread, 10).await.expect("list");
        assert_eq!(unread.iter().map(|n| n.id).collect::<Vec<_>>(), vec![refused.id]);
        let all = notes.list("user-1", NotificationFilter::All, 10).await.expect("list");
        assert_eq!(all.len(), 2);
        assert!(all.iter().find(|n| n.id == reconnect.id).expect("listed").read_at.is_some());
        assert_eq!(notes.mark_all_read("user-1").await.expect("all"), 1);
        assert_eq!(notes.unread_count("user-1").await.expect("count"), 0);
        assert_eq!(notes.unread_count("user-2").await.expect("count"), 1);
    }

    async fn a_repeated_dedupe_key_creates_one_notification(db) {
        let store = db.store().await;
        let note = NewNotification::new("user-1", NotificationKind::SubmissionFailed, "We will not retry.").dedupe_key("run-1:notify-failed");
        let first = store.notifications().notify(&note).await.expect("notify");
        let second = store.notifications().notify(&note).await.expect("replayed step");
        assert_eq!(first, second);
        assert_eq!(store.notifications().list("user-1", NotificationFilter::All, 10).await.expect("list").len(), 1);
    }
}
