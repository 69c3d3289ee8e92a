//! Repair of mislabelled history.
//!
//! Before the failure table in `docs/architecture.md` became the rule, authorisation failures
//! were stored as `rejected`, so users read "HMRC refused these figures" when HMRC had in fact
//! refused the platform's access. [`Store::repair_history`] finds `rejected` submissions whose
//! recorded HMRC answer was an authorisation failure and carries no HMRC validation errors,
//! relabels them `failed` (reason `auth`) with a history entry, and notifies their users. It is
//! a dry run unless [`RepairOptions::apply`] is set, and idempotent: relabelled records are no
//! longer `rejected`, and each notification has a dedupe key.
//!
//! [`classify_rejected`] is the pure rule, so it can be read and tested on its own.

use std::fmt;

use serde::Serialize;
use uuid::Uuid;

use crate::db::{with_db, with_tx};
use crate::error::StoreError;
use crate::notifications::{NotificationKind, NotificationRow};
use crate::status::{SubmissionStatus, TransitionOrigin};
use crate::store::Store;
use crate::submissions::{
    FailureReason, HmrcAnswer, INSERT_HISTORY, RELABEL_REJECTED_AS_FAILED, RejectionError,
    Submission, SubmissionKind, SubmissionRow, submission_columns,
};

/// HMRC codes that mean the user's authorisation is gone, by HTTP status.
const AUTH_CODES_401: &[&str] = &[
    "INVALID_CREDENTIALS",
    "UNAUTHORIZED",
    "CLIENT_OR_AGENT_NOT_AUTHORISED",
];
const AUTH_CODES_403: &[&str] = &["CLIENT_OR_AGENT_NOT_AUTHORISED", "FORBIDDEN"];
/// Codes that mean the platform is misconfigured: not the user's doing, so not relabelled
/// `auth`; reported for review.
const PLATFORM_CODES: &[&str] = &[
    "invalid_client",
    "INVALID_SCOPE",
    "RESOURCE_FORBIDDEN",
    "INCORRECT_ACCESS_TOKEN_TYPE",
    "MISSING_CREDENTIALS",
    "HTTPS_REQUIRED",
];

/// What a stored `rejected` record really was.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum RepairVerdict {
    /// An authorisation failure: relabel `failed` (reason `auth`).
    AuthFailure {
        /// The code that shows it (`INVALID_CREDENTIALS`, `invalid_grant`, ...).
        code: String,
    },
    /// HMRC really refused the figures: leave it.
    GenuineRejection,
    /// Not a rejection of the figures, but not a user authorisation failure either (platform
    /// misconfiguration, a transient fault, nothing recorded): left as it is for an operator.
    NeedsReview {
        /// Why.
        why: String,
    },
}

/// Classifies a `rejected` record from its recorded HMRC answer and rejection errors.
///
/// ```
/// use mtd_store::{classify_rejected, HmrcAnswer, RejectionError, RepairVerdict};
/// let expired = HmrcAnswer::new(401, Some("INVALID_CREDENTIALS"));
/// assert_eq!(classify_rejected(Some(&expired), &[]),
///            RepairVerdict::AuthFailure { code: "INVALID_CREDENTIALS".into() });
///
/// let refused = HmrcAnswer::new(422, Some("RULE_OVERLAPPING_PERIOD"));
/// let errors = [RejectionError { code: "RULE_OVERLAPPING_PERIOD".into(), message: "..".into(), paths: vec![] }];
/// assert_eq!(classify_rejected(Some(&refused), &errors), RepairVerdict::GenuineRejection);
/// ```
pub fn classify_rejected(answer: Option<&HmrcAnswer>, errors: &[RejectionError]) -> RepairVerdict {
    let is_auth_code = |code: &str| {
        code == "invalid_grant" || AUTH_CODES_401.contains(&code) || AUTH_CODES_403.contains(&code)
    };
    // Any HMRC validation error means HMRC looked at the figures: a genuine rejection.
    if errors.iter().any(|e| !is_auth_code(&e.code)) {
        return RepairVerdict::GenuineRejection;
    }
    let Some(answer) = answer else {
        return RepairVerdict::NeedsReview {
            why: "no HMRC answer was recorded".into(),
        };
    };
    let body_errors = answer
        .body
        .as_ref()
        .and_then(|body| body.get("errors"))
        .and_then(|errors| errors.as_array());
    let body_has_validation_errors = body_errors.is_some_and(|errors| {
        errors.iter().any(|e| {
            e.get("code")
                .and_then(|code| code.as_str())
                .is_some_and(|code| !is_auth_code(code))
        })
    });
    if body_has_validation_errors {
        return RepairVerdict::GenuineRejection;
    }
    let code = answer.code.clone().or_else(|| {
        let body = answer.body.as_ref()?;
        ["code", "error"]
            .iter()
            .find_map(|field| body.get(*field).and_then(|v| v.as_str()).map(str::to_owned))
    });
    let status = answer.http_status;
    match code.as_deref() {
        Some("invalid_grant") => RepairVerdict::AuthFailure {
            code: "invalid_grant".into(),
        },
        Some(code) if status == 401 && AUTH_CODES_401.contains(&code) => {
            RepairVerdict::AuthFailure { code: code.into() }
        }
        Some(code) if status == 403 && AUTH_CODES_403.contains(&code) => {
            RepairVerdict::AuthFailure { code: code.into() }
        }
        Some(code) if PLATFORM_CODES.contains(&code) => RepairVerdict::NeedsReview {
            why: format!(
                "HMRC answered {status} {code}: a platform misconfiguration, not the user's authorisation"
            ),
        },
        Some("invalid_request") => RepairVerdict::NeedsReview {
            why: format!(
                "the token endpoint answered {status} invalid_request: a transient refresh conflict"
            ),
        },
        Some(code) if code.starts_with("FORMAT_") || code.starts_with("RULE_") => {
            RepairVerdict::GenuineRejection
        }
        _ if status == 401 || status == 403 => RepairVerdict::NeedsReview {
            why: format!(
                "HMRC answered {status} with {}, which is not a recognised authorisation code",
                code.as_deref().unwrap_or("no code")
            ),
        },
        _ if status == 429 || status >= 500 => RepairVerdict::NeedsReview {
            why: format!("HMRC answered {status}: a transient fault, not a rejection"),
        },
        _ => RepairVerdict::GenuineRejection,
    }
}

/// How to run the repair.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RepairOptions {
    /// `false` (the default): report what would change and change nothing.
    pub apply: bool,
    /// Recorded as the actor of each history entry.
    pub actor: String,
    /// Rows read per batch.
    pub batch_size: u32,
}

impl RepairOptions {
    /// A dry run.
    pub fn dry_run() -> Self {
        Self {
            apply: false,
            actor: "repair-history".into(),
            batch_size: 500,
        }
    }

    /// A real run.
    pub fn apply() -> Self {
        Self {
            apply: true,
            ..Self::dry_run()
        }
    }

    /// Sets the actor recorded in history entries.
    pub fn actor(mut self, actor: impl Into<String>) -> Self {
        self.actor = actor.into();
        self
    }
}

impl Default for RepairOptions {
    fn default() -> Self {
        Self::dry_run()
    }
}

/// A record the repair relabels (or would relabel, in a dry run).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RepairItem {
    /// The submission.
    pub submission_id: Uuid,
    /// Its user.
    pub user_id: String,
    /// Its HMRC identity.
    pub nino: String,
    /// What it was.
    pub kind: SubmissionKind,
    /// Its tax year.
    pub tax_year: Option<String>,
    /// The recorded HTTP status.
    pub http_status: Option<u16>,
    /// The authorisation code found.
    pub code: String,
    /// The notification sent (or to be sent); `None` when a newer attempt already exists.
    pub notification: Option<NotificationKind>,
}

/// A `rejected` record that is not a genuine rejection but is not relabelled either.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReviewItem {
    /// The submission.
    pub submission_id: Uuid,
    /// Its user.
    pub user_id: String,
    /// Why it needs a human.
    pub why: String,
}

/// What the repair found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RepairReport {
    /// `false` for a dry run: nothing was changed.
    pub applied: bool,
    /// `rejected` records examined.
    pub examined: u64,
    /// Records relabelled `failed` (or that would be, in a dry run).
    pub relabelled: Vec<RepairItem>,
    /// Records left `rejected` because HMRC really refused the figures.
    pub genuine_rejections: u64,
    /// Records left alone that an operator should look at.
    pub needs_review: Vec<ReviewItem>,
}

impl fmt::Display for RepairReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verb = if self.applied {
            "relabelled"
        } else {
            "would relabel"
        };
        writeln!(
            f,
            "{} examined {} rejected submissions: {verb} {} as failed (auth), {} genuine rejections kept, {} need review",
            if self.applied { "repair" } else { "dry run:" },
            self.examined,
            self.relabelled.len(),
            self.genuine_rejections,
            self.needs_review.len()
        )?;
        for item in &self.relabelled {
            writeln!(
                f,
                "  {verb} {} (user {}, {} {}): HMRC answered {} {}; notify: {}",
                item.submission_id,
                item.user_id,
                item.kind,
                item.tax_year.as_deref().unwrap_or("-"),
                item.http_status
                    .map_or_else(|| "-".to_owned(), |s| s.to_string()),
                item.code,
                item.notification
                    .map_or("none (already resubmitted)", |k| k.title()),
            )?;
        }
        for item in &self.needs_review {
            writeln!(
                f,
                "  review {} (user {}): {}",
                item.submission_id, item.user_id, item.why
            )?;
        }
        if !self.applied && !self.relabelled.is_empty() {
            writeln!(f, "nothing was changed; run again with --apply to relabel")?;
        }
        Ok(())
    }
}

const SELECT_REJECTED_PAGE: &str = concat!(
    "SELECT ",
    submission_columns!(),
    " FROM submissions WHERE status = 'rejected' AND id > $1 ORDER BY id LIMIT $2"
);
const HAS_NEWER_ATTEMPT: &str = "SELECT COUNT(*) FROM submissions WHERE previous_attempt_id = $1";

impl Store {
    /// Finds `rejected` submissions that were really authorisation failures and, when
    /// `options.apply` is set, relabels each `failed` (reason `auth`) with a history entry and a
    /// notification to its user, in one transaction per submission. Returns the report either
    /// way. Running it again changes nothing.
    ///
    /// ```
    /// # use mtd_store::*;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// # let store = Store::open(StoreConfig::new(dir.path().join("mtd.db").to_string_lossy())).await?;
    /// # let audit = Audit::new("legacy", "old release");
    /// // An old record: a 401 stored as a rejection.
    /// let s = store.submissions().create(
    ///     &NewSubmission::new(SubmissionKind::Period, "user-1", "AA123456A", serde_json::json!({})), &audit).await?;
    /// store.submissions().mark_rejected(s.id, &[], &HmrcAnswer::new(401, Some("INVALID_CREDENTIALS")), &audit).await?;
    ///
    /// let dry = store.repair_history(&RepairOptions::dry_run()).await?;
    /// assert_eq!(dry.relabelled.len(), 1);
    /// assert_eq!(store.submissions().get(s.id).await?.unwrap().status, SubmissionStatus::Rejected);
    ///
    /// let done = store.repair_history(&RepairOptions::apply()).await?;
    /// assert_eq!(done.relabelled.len(), 1);
    /// assert_eq!(store.submissions().get(s.id).await?.unwrap().status, SubmissionStatus::Failed);
    /// assert!(store.repair_history(&RepairOptions::apply()).await?.relabelled.is_empty());
    /// # Ok(()) }
    /// ```
    pub async fn repair_history(
        &self,
        options: &RepairOptions,
    ) -> Result<RepairReport, StoreError> {
        let mut report = RepairReport {
            applied: options.apply,
            ..RepairReport::default()
        };
        let mut after = Uuid::nil();
        loop {
            let rows = with_db!(self.db(), pool => {
                sqlx::query_as::<_, SubmissionRow>(SELECT_REJECTED_PAGE)
                    .bind(after)
                    .bind(i64::from(options.batch_size.max(1)))
                    .fetch_all(pool)
                    .await?
            });
            let Some(last) = rows.last().map(SubmissionRow::id) else {
                break;
            };
            after = last;
            for row in rows {
                let submission = row.into_submission()?;
                report.examined += 1;
                match classify_rejected(
                    submission.hmrc_answer.as_ref(),
                    &submission.rejection_errors,
                ) {
                    RepairVerdict::GenuineRejection => report.genuine_rejections += 1,
                    RepairVerdict::NeedsReview { why } => report.needs_review.push(ReviewItem {
                        submission_id: submission.id,
                        user_id: submission.user_id.clone(),
                        why,
                    }),
                    RepairVerdict::AuthFailure { code } => {
                        let notification = self.repair_notification(&submission).await?;
                        let item = RepairItem {
                            submission_id: submission.id,
                            user_id: submission.user_id.clone(),
                            nino: submission.nino.clone(),
                            kind: submission.kind,
                            tax_year: submission.tax_year.clone(),
                            http_status: submission.hmrc_answer.as_ref().map(|a| a.http_status),
                            code,
                            notification,
                        };
                        if options.apply && !self.relabel(&submission, &item, options).await? {
                            // Changed concurrently: no longer rejected, nothing to report.
                            continue;
                        }
                        report.relabelled.push(item);
                    }
                }
            }
        }
        Ok(report)
    }

    /// Which notification a relabelled submission deserves: none if it was already
    /// resubmitted; "resubmit" if the user has reconnected since it failed; else "reconnect".
    async fn repair_notification(
        &self,
        submission: &Submission,
    ) -> Result<Option<NotificationKind>, StoreError> {
        let newer: i64 = with_db!(self.db(), pool => {
            sqlx::query_scalar(HAS_NEWER_ATTEMPT).bind(submission.id).fetch_one(pool).await?
        });
        if newer > 0 {
            return Ok(None);
        }
        let failed_at = submission.completed_at.unwrap_or(submission.updated_at);
        let credential = self
            .credentials()
            .find(&submission.user_id, &submission.nino)
            .await?;
        Ok(Some(match credential {
            Some(c) if c.is_active() && c.reconnected_at.unwrap_or(c.connected_at) > failed_at => {
                NotificationKind::ResubmitNeeded
            }
            _ => NotificationKind::ReconnectHmrc,
        }))
    }

    /// Relabels one submission with its history entry and notification, atomically. `false`
    /// when it was no longer `rejected`.
    async fn relabel(
        &self,
        submission: &Submission,
        item: &RepairItem,
        options: &RepairOptions,
    ) -> Result<bool, StoreError> {
        SubmissionStatus::Rejected
            .check_transition(SubmissionStatus::Failed, TransitionOrigin::HistoryRepair)?;
        let now = self.now();
        let status = item
            .http_status
            .map_or_else(String::new, |status| format!("{status} "));
        let detail = format!(
            "HMRC answered {status}{}: an authorisation failure, stored as rejected by an earlier release",
            item.code
        );
        let reason = format!(
            "history repair: HMRC answered {status}{}, an authorisation failure, not a rejection of the figures",
            item.code
        );
        let body = notification_body(submission, item.notification);
        with_tx!(self.db(), tx => {
            let updated = sqlx::query_as::<_, SubmissionRow>(RELABEL_REJECTED_AS_FAILED)
                .bind(FailureReason::Auth.as_str())
                .bind(&detail)
                .bind(now)
                .bind(submission.id)
                .fetch_optional(&mut *tx)
                .await?;
            if updated.is_none() {
                return Ok(false);
            }
            sqlx::query(INSERT_HISTORY)
                .bind(submission.id)
                .bind(Some(SubmissionStatus::Rejected.as_str()))
                .bind(SubmissionStatus::Failed.as_str())
                .bind(&options.actor)
                .bind(&reason)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            if let Some(kind) = item.notification {
                sqlx::query_as::<_, NotificationRow>(crate::notifications::INSERT)
                    .bind(Uuid::new_v4())
                    .bind(&submission.user_id)
                    .bind(kind.as_str())
                    .bind(kind.title())
                    .bind(&body)
                    .bind(Some(submission.id))
                    .bind(None::<Uuid>)
                    .bind(Some(format!("repair-history:{}", submission.id)))
                    .bind(now)
                    .fetch_optional(&mut *tx)
                    .await?;
            }
            Ok(true)
        })
    }
}

fn notification_body(submission: &Submission, kind: Option<NotificationKind>) -> String {
    let what = match &submission.tax_year {
        Some(year) => format!("Your {} for {year}", submission.kind.describe()),
        None => format!("Your {}", submission.kind.describe()),
    };
    let next = match kind {
        Some(NotificationKind::ResubmitNeeded) => "Please resubmit it.",
        _ => {
            "Reconnect your HMRC account (Settings → HMRC Connection → Reconnect HMRC Account), then resubmit it."
        }
    };
    format!(
        "{what} was not sent: HMRC did not accept our access to your HMRC account at the time. \
         It was shown as refused by HMRC by mistake; your figures were not rejected. {next}"
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn answer(status: u16, code: Option<&str>) -> HmrcAnswer {
        HmrcAnswer::new(status, code)
    }

    fn error(code: &str) -> RejectionError {
        RejectionError {
            code: code.into(),
            message: "m".into(),
            paths: vec!["/x".into()],
        }
    }

    #[test]
    fn user_authorisation_failures_are_relabelled() {
        for (status, code) in [
            (401, "INVALID_CREDENTIALS"),
            (401, "UNAUTHORIZED"),
            (401, "CLIENT_OR_AGENT_NOT_AUTHORISED"),
            (403, "CLIENT_OR_AGENT_NOT_AUTHORISED"),
            (403, "FORBIDDEN"),
            (400, "invalid_grant"),
        ] {
            assert_eq!(
                classify_rejected(Some(&answer(status, Some(code))), &[]),
                RepairVerdict::AuthFailure { code: code.into() },
                "{status} {code}"
            );
        }
    }

    #[test]
    fn the_code_is_read_from_the_body_when_no_column_holds_it() {
        let oauth = HmrcAnswer {
            body: Some(
                json!({"error": "invalid_grant", "error_description": "refresh_token is invalid"}),
            ),
            ..answer(400, None)
        };
        assert_eq!(
            classify_rejected(Some(&oauth), &[]),
            RepairVerdict::AuthFailure {
                code: "invalid_grant".into()
            }
        );
        let api = HmrcAnswer {
            body: Some(
                json!({"code": "INVALID_CREDENTIALS", "message": "Invalid Authentication information provided"}),
            ),
            ..answer(401, None)
        };
        assert_eq!(
            classify_rejected(Some(&api), &[]),
            RepairVerdict::AuthFailure {
                code: "INVALID_CREDENTIALS".into()
            }
        );
    }

    #[test]
    fn validation_errors_make_it_a_genuine_rejection_whatever_the_status() {
        assert_eq!(
            classify_rejected(
                Some(&answer(401, Some("INVALID_CREDENTIALS"))),
                &[error("RULE_X")]
            ),
            RepairVerdict::GenuineRejection
        );
        let wrapped = HmrcAnswer {
            body: Some(
                json!({"code": "INVALID_REQUEST", "errors": [{"code": "FORMAT_VALUE", "message": "m"}]}),
            ),
            ..answer(400, Some("INVALID_REQUEST"))
        };
        assert_eq!(
            classify_rejected(Some(&wrapped), &[]),
            RepairVerdict::GenuineRejection
        );
        assert_eq!(
            classify_rejected(Some(&answer(422, Some("RULE_OVERLAPPING_PERIOD"))), &[]),
            RepairVerdict::GenuineRejection
        );
        assert_eq!(
            classify_rejected(Some(&answer(404, Some("MATCHING_RESOURCE_NOT_FOUND"))), &[]),
            RepairVerdict::GenuineRejection
        );
    }

    #[test]
    fn platform_faults_and_unknowns_are_left_for_review() {
        for (status, code) in [
            (401, Some("invalid_client")),
            (403, Some("INVALID_SCOPE")),
            (403, Some("RESOURCE_FORBIDDEN")),
            (401, Some("INCORRECT_ACCESS_TOKEN_TYPE")),
            (400, Some("invalid_request")),
            (401, None),
            (403, Some("SOMETHING_NEW")),
            (503, Some("SERVER_ERROR")),
            (429, Some("MESSAGE_THROTTLED_OUT")),
        ] {
            assert!(
                matches!(
                    classify_rejected(Some(&answer(status, code)), &[]),
                    RepairVerdict::NeedsReview { .. }
                ),
                "{status} {code:?}"
            );
        }
        assert!(matches!(
            classify_rejected(None, &[]),
            RepairVerdict::NeedsReview { .. }
        ));
    }

    #[test]
    fn an_auth_code_at_the_wrong_status_is_not_trusted() {
        assert!(matches!(
            classify_rejected(Some(&answer(403, Some("INVALID_CREDENTIALS"))), &[]),
            RepairVerdict::NeedsReview { .. }
        ));
    }
}
