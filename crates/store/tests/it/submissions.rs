use std::collections::BTreeMap;

use chrono::NaiveDate;
use mtd_store::{
    Audit, FailureReason, HmrcAnswer, NewSubmission, Receipt, RejectionError, Resubmission, Store,
    StoreError, Submission, SubmissionKind, SubmissionStatus,
};
use serde_json::json;

use crate::support::both_backends;

pub(crate) fn audit(reason: &str) -> Audit {
    Audit::new("inngest:run-1", reason)
}

pub(crate) fn new_period(user: &str) -> NewSubmission {
    NewSubmission::new(
        SubmissionKind::Period,
        user,
        "AA123456A",
        json!({"periodDates": {"periodStartDate": "2024-04-06"}, "periodIncome": {"turnover": 1200.5, "other": 0}}),
    )
    .business_id("XAIS12345678901")
    .tax_year("2024-25")
    .period(
        NaiveDate::from_ymd_opt(2024, 4, 6).expect("date"),
        NaiveDate::from_ymd_opt(2024, 7, 5).expect("date"),
    )
    .fraud_headers(BTreeMap::from([
        ("Gov-Client-Connection-Method".to_owned(), "WEB_APP_VIA_SERVER".to_owned()),
        ("Gov-Client-Public-IP".to_owned(), "198.51.100.7".to_owned()),
    ]))
    .inngest_run_id("01J0RUN")
}

pub(crate) fn rule_error() -> RejectionError {
    RejectionError {
        code: "RULE_OVERLAPPING_PERIOD".into(),
        message: "Period summary overlaps with any of the existing period summaries".into(),
        paths: vec![
            "/periodDates/periodStartDate".into(),
            "/periodDates/periodEndDate".into(),
        ],
    }
}

/// The three outcomes a run can record.
#[derive(Debug, Clone, Copy)]
enum Record {
    Submitted,
    Rejected,
    Failed,
}

async fn record(store: &Store, s: &Submission, outcome: Record) -> Result<Submission, StoreError> {
    let subs = store.submissions();
    match outcome {
        Record::Submitted => {
            let receipt = Receipt {
                correlation_id: Some("c-1".into()),
                period_id: Some("2024-04-06_2024-07-05".into()),
                ..Receipt::default()
            };
            subs.mark_submitted(
                s.id,
                &receipt,
                &HmrcAnswer::new(201, None),
                &audit("accepted"),
            )
            .await
        }
        Record::Rejected => {
            subs.mark_rejected(
                s.id,
                &[rule_error()],
                &HmrcAnswer::new(400, Some("RULE_OVERLAPPING_PERIOD")),
                &audit("refused"),
            )
            .await
        }
        Record::Failed => {
            subs.mark_failed(
                s.id,
                FailureReason::TransientExhausted,
                "HMRC answered 503 until retries ran out",
                Some(&HmrcAnswer::new(503, Some("SERVER_ERROR"))),
                &audit("gave up"),
            )
            .await
        }
    }
}

fn status_of(outcome: Record) -> SubmissionStatus {
    match outcome {
        Record::Submitted => SubmissionStatus::Submitted,
        Record::Rejected => SubmissionStatus::Rejected,
        Record::Failed => SubmissionStatus::Failed,
    }
}

both_backends! {
    async fn a_submission_round_trips_every_field(db) {
        let store = db.store().await;
        let new = new_period("user-1").idempotency_key("submit-period:01J0RUN");
        let created = store.submissions().create(&new, &audit("started")).await.expect("create");
        assert_eq!(created.status, SubmissionStatus::Processing);
        assert_eq!((created.attempt, created.previous_attempt_id), (1, None));
        assert_eq!(created.payload, new.payload);
        assert_eq!(created.fraud_headers, new.fraud_headers);
        assert_eq!(created.period_start, new.period_start);
        assert_eq!(created.period_end, new.period_end);
        assert_eq!(created.business_id.as_deref(), Some("XAIS12345678901"));
        assert_eq!(created.inngest_run_id.as_deref(), Some("01J0RUN"));
        assert_eq!(created.completed_at, None);
        assert_eq!(store.submissions().get(created.id).await.expect("get"), Some(created.clone()));

        let answer = HmrcAnswer {
            correlation_id: Some("corr-9".into()),
            body: Some(json!({"code": "RULE_OVERLAPPING_PERIOD", "message": "m", "paths": ["/periodDates/periodStartDate"]})),
            ..HmrcAnswer::new(400, Some("RULE_OVERLAPPING_PERIOD"))
        };
        let rejected = store.submissions().mark_rejected(created.id, &[rule_error()], &answer, &audit("refused")).await.expect("reject");
        assert_eq!(rejected.rejection_errors, vec![rule_error()]);
        assert_eq!(rejected.hmrc_answer, Some(answer));
        assert!(rejected.completed_at.is_some());
        assert_eq!(store.submissions().get(created.id).await.expect("get"), Some(rejected));
    }

    async fn a_refusal_found_before_sending_is_rejected_with_no_hmrc_answer(db) {
        let store = db.store().await;
        let created = store.submissions().create(&new_period("user-1"), &audit("started")).await.expect("create");
        let rejected = store.submissions().mark_rejected_locally(created.id, &[rule_error()], &audit("refused before sending")).await.expect("reject");
        assert_eq!(rejected.status, SubmissionStatus::Rejected);
        assert_eq!(rejected.rejection_errors, vec![rule_error()]);
        assert_eq!(rejected.hmrc_answer, None);
        let report = store.repair_history(&mtd_store::RepairOptions::default()).await.expect("dry run");
        assert!(report.relabelled.is_empty(), "a local refusal is never relabelled as an auth failure");
    }

    async fn creating_twice_with_one_idempotency_key_returns_the_first_record(db) {
        let store = db.store().await;
        let new = new_period("user-1").idempotency_key("step:create:01J0RUN");
        let first = store.submissions().create(&new, &audit("started")).await.expect("create");
        let second = store.submissions().create(&new, &audit("retried step")).await.expect("replay");
        assert_eq!(first, second);
        assert_eq!(store.submissions().history(first.id).await.expect("history").len(), 1);
        assert_eq!(store.submissions().list_for_user("user-1", 10).await.expect("list").len(), 1);
        assert_eq!(store.submissions().by_idempotency_key("step:create:01J0RUN").await.expect("by key"), Some(first));
    }

    async fn processing_moves_to_each_outcome_and_records_it(db) {
        let store = db.store().await;
        for outcome in [Record::Submitted, Record::Rejected, Record::Failed] {
            let s = store.submissions().create(&new_period("user-1"), &audit("started")).await.expect("create");
            let done = record(&store, &s, outcome).await.expect("allowed");
            assert_eq!(done.status, status_of(outcome));
            match outcome {
                Record::Submitted => assert_eq!(done.receipt.as_ref().and_then(|r| r.period_id.as_deref()), Some("2024-04-06_2024-07-05")),
                Record::Rejected => assert_eq!(done.rejection_errors[0].paths.len(), 2),
                Record::Failed => assert_eq!(done.failure.as_ref().map(|f| f.reason), Some(FailureReason::TransientExhausted)),
            }
            let history = store.submissions().history(s.id).await.expect("history");
            let steps: Vec<_> = history.iter().map(|h| (h.from, h.to)).collect();
            assert_eq!(steps, vec![(None, SubmissionStatus::Processing), (Some(SubmissionStatus::Processing), status_of(outcome))]);
        }
    }

    async fn every_transition_out_of_a_final_status_is_refused_and_repeats_are_no_ops(db) {
        let store = db.store().await;
        for first in [Record::Submitted, Record::Rejected, Record::Failed] {
            for second in [Record::Submitted, Record::Rejected, Record::Failed] {
                let s = store.submissions().create(&new_period("user-1"), &audit("started")).await.expect("create");
                let recorded = record(&store, &s, first).await.expect("first outcome");
                let again = record(&store, &s, second).await;
                if status_of(first) == status_of(second) {
                    assert_eq!(again.expect("same outcome again is a no-op"), recorded, "{first:?} twice");
                } else {
                    let err = again.expect_err("refused");
                    let StoreError::Transition(t) = &err else { panic!("{first:?} -> {second:?}: {err}") };
                    assert_eq!((t.from, t.to), (status_of(first), status_of(second)));
                }
                assert_eq!(store.submissions().get(s.id).await.expect("get"), Some(recorded), "{first:?} -> {second:?} left it unchanged");
                assert_eq!(store.submissions().history(s.id).await.expect("history").len(), 2);
            }
        }
    }

    async fn history_keeps_who_and_why_in_order(db) {
        let store = db.store().await;
        let s = store.submissions().create(&new_period("user-1"), &Audit::new("user:user-1", "pressed Submit")).await.expect("create");
        store.submissions().mark_failed(s.id, FailureReason::Auth, "HMRC 401 INVALID_CREDENTIALS", None, &Audit::new("inngest:run-1", "authorisation lost")).await.expect("fail");
        let history = store.submissions().history(s.id).await.expect("history");
        assert_eq!(history.len(), 2);
        assert_eq!((history[0].actor.as_str(), history[0].reason.as_str()), ("user:user-1", "pressed Submit"));
        assert_eq!((history[1].actor.as_str(), history[1].reason.as_str()), ("inngest:run-1", "authorisation lost"));
        assert!(history[0].seq < history[1].seq && history[0].at <= history[1].at);
        assert!(history.iter().all(|h| h.submission_id == s.id));
    }

    async fn the_database_refuses_rewriting_history_or_figures(db) {
        let store = db.store().await;
        let s = store.submissions().create(&new_period("user-trigger"), &audit("started")).await.expect("create");
        record(&store, &s, Record::Submitted).await.expect("submitted");
        for sql in [
            "UPDATE submissions SET status = 'failed', failure_reason = 'auth' WHERE user_id = 'user-trigger'",
            "UPDATE submissions SET status = 'processing', completed_at = NULL WHERE user_id = 'user-trigger'",
            "UPDATE submissions SET tax_year = '2099-00' WHERE user_id = 'user-trigger'",
            "UPDATE submissions SET receipt_period_id = 'forged' WHERE user_id = 'user-trigger'",
            "UPDATE submissions SET inngest_run_id = 'another-run' WHERE user_id = 'user-trigger'",
            "UPDATE submission_history SET reason = 'rewritten'",
            "DELETE FROM submission_history",
        ] {
            assert!(db.raw_execute(sql).await.is_err(), "refused: {sql}");
        }
        assert_eq!(store.submissions().history(s.id).await.expect("history").len(), 2);
        assert_eq!(store.submissions().get(s.id).await.expect("get").map(|s| s.status), Some(SubmissionStatus::Submitted));
    }

    async fn resubmitting_creates_a_linked_attempt_and_keeps_the_old_one(db) {
        let store = db.store().await;
        let subs = store.submissions();
        let first = subs.create(&new_period("user-1"), &audit("started")).await.expect("create");
        let rejected = record(&store, &first, Record::Rejected).await.expect("rejected");
        let corrected = json!({"periodIncome": {"turnover": 999}});
        let headers = BTreeMap::from([("Gov-Client-Public-IP".to_owned(), "203.0.113.9".to_owned())]);
        let second = subs
            .resubmit(first.id, &Resubmission::new(headers.clone()).payload(corrected.clone()).inngest_run_id("01J0RUN2"), &Audit::new("user:user-1", "corrected turnover"))
            .await
            .expect("resubmit");
        assert_eq!((second.attempt, second.previous_attempt_id), (2, Some(first.id)));
        assert_eq!(second.status, SubmissionStatus::Processing);
        assert_eq!((second.payload.clone(), second.fraud_headers.clone()), (corrected, headers));
        assert_eq!((second.kind, second.business_id.clone(), second.tax_year.clone()), (first.kind, first.business_id.clone(), first.tax_year.clone()));
        assert_eq!(subs.get(first.id).await.expect("get"), Some(rejected), "the old attempt is untouched");

        let again = subs.resubmit(first.id, &Resubmission::default(), &audit("twice")).await;
        assert!(matches!(again, Err(StoreError::AlreadyResubmitted { newer, .. }) if newer == second.id), "{again:?}");
        let in_flight = subs.resubmit(second.id, &Resubmission::default(), &audit("too early")).await;
        assert!(matches!(in_flight, Err(StoreError::NotResubmittable { status: SubmissionStatus::Processing, .. })), "{in_flight:?}");

        record(&store, &second, Record::Failed).await.expect("failed");
        let third = subs.resubmit(second.id, &Resubmission::default().idempotency_key("resubmit:3"), &audit("retry")).await.expect("third");
        assert_eq!(third.payload, second.payload, "without new figures the previous payload is sent again");
        let replay = subs.resubmit(second.id, &Resubmission::default().idempotency_key("resubmit:3"), &audit("retried step")).await.expect("idempotent");
        assert_eq!(replay.id, third.id);
        record(&store, &third, Record::Submitted).await.expect("submitted");
        let done = subs.resubmit(third.id, &Resubmission::default(), &audit("after success")).await;
        assert!(matches!(done, Err(StoreError::NotResubmittable { status: SubmissionStatus::Submitted, .. })));

        let chain: Vec<_> = subs.attempts(second.id).await.expect("attempts").iter().map(|s| (s.attempt, s.id)).collect();
        assert_eq!(chain, vec![(1, first.id), (2, second.id), (3, third.id)]);
    }

    async fn concurrent_resubmissions_create_one_attempt(db) {
        let store = db.store().await;
        let first = store.submissions().create(&new_period("user-1"), &audit("started")).await.expect("create");
        record(&store, &first, Record::Failed).await.expect("failed");
        let tasks: Vec<_> = (0..8).map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.submissions().resubmit(first.id, &Resubmission::default(), &audit("retry")).await })
        }).collect();
        let mut created = 0;
        for task in tasks {
            match task.await.expect("task") {
                Ok(_) => created += 1,
                Err(StoreError::AlreadyResubmitted { .. }) => {}
                Err(other) => panic!("unexpected: {other}"),
            }
        }
        assert_eq!(created, 1);
        assert_eq!(store.submissions().attempts(first.id).await.expect("attempts").len(), 2);
    }

    async fn a_run_id_is_attached_once(db) {
        let store = db.store().await;
        let mut new = new_period("user-1");
        new.inngest_run_id = None;
        let s = store.submissions().create(&new, &audit("created by the app")).await.expect("create");
        assert_eq!(store.submissions().attach_run_id(s.id, "run-a").await.expect("attach").inngest_run_id.as_deref(), Some("run-a"));
        assert!(store.submissions().attach_run_id(s.id, "run-a").await.is_ok(), "the same run again is fine");
        let other = store.submissions().attach_run_id(s.id, "run-b").await;
        assert!(matches!(other, Err(StoreError::RunAlreadyAttached { ref run_id, .. }) if run_id == "run-a"), "{other:?}");
    }

    async fn a_users_submissions_list_newest_first(db) {
        let store = db.store().await;
        let mut ids = Vec::new();
        for kind in SubmissionKind::ALL {
            let new = NewSubmission::new(kind, "user-list", "AA123456A", json!({}));
            ids.push(store.submissions().create(&new, &audit("started")).await.expect("create").id);
        }
        store.submissions().create(&new_period("someone-else"), &audit("started")).await.expect("create");
        let listed = store.submissions().list_for_user("user-list", 3).await.expect("list");
        assert_eq!(listed.len(), 3);
        let all = store.submissions().list_for_user("user-list", 100).await.expect("list");
        assert_eq!(all.len(), 5);
        assert!(all.windows(2).all(|w| w[0].created_at >= w[1].created_at));
        let kinds: std::collections::BTreeSet<_> = all.iter().map(|s| s.kind.as_str()).collect();
        assert_eq!(kinds.len(), 5);
    }

    async fn unknown_submissions_are_reported_not_invented(db) {
        let store = db.store().await;
        let id = uuid::Uuid::new_v4();
        assert_eq!(store.submissions().get(id).await.expect("get"), None);
        let err = store.submissions().mark_submitted(id, &Receipt::default(), &HmrcAnswer::new(201, None), &audit("x")).await;
        assert!(matches!(err, Err(StoreError::SubmissionNotFound(missing)) if missing == id));
        assert!(matches!(store.submissions().resubmit(id, &Resubmission::default(), &audit("x")).await, Err(StoreError::SubmissionNotFound(_))));
    }
}
