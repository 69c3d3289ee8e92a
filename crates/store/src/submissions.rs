//! Submissions to HMRC: what was sent, what HMRC answered, and every status change.
//!
//! A submission is created `processing` with its payload and the fraud-prevention header values
//! captured for the call; the run then records exactly one outcome (`submitted` with the
//! receipt, `rejected` with HMRC's validation errors, or `failed` with a reason). The state
//! machine is in [`SubmissionStatus::check_transition`]. Every status change appends an entry
//! to the submission's history (who and why). Resubmitting creates a new attempt linked to the
//! previous one; what was sent and what HMRC answered is never overwritten (database triggers
//! refuse it).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::types::Json;
use uuid::Uuid;

use crate::db::{with_db, with_tx};
use crate::error::StoreError;
use crate::status::{SubmissionStatus, TransitionCheck, TransitionOrigin};
use crate::store::Store;

/// What a submission does at HMRC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubmissionKind {
    /// Fetching obligations (recorded for audit like any HMRC call made for the user).
    ObligationsFetch,
    /// A quarterly period (or cumulative) update.
    Period,
    /// An annual summary (annual submission).
    AnnualSummary,
    /// An End of Period Statement (tax years up to 2023-24).
    Eops,
    /// The final declaration (crystallisation).
    Crystallisation,
}

impl SubmissionKind {
    /// Every kind.
    pub const ALL: [Self; 5] = [
        Self::ObligationsFetch,
        Self::Period,
        Self::AnnualSummary,
        Self::Eops,
        Self::Crystallisation,
    ];

    /// The stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ObligationsFetch => "obligations_fetch",
            Self::Period => "period",
            Self::AnnualSummary => "annual_summary",
            Self::Eops => "eops",
            Self::Crystallisation => "crystallisation",
        }
    }

    /// Words for users ("quarterly update", ...).
    pub fn describe(self) -> &'static str {
        match self {
            Self::ObligationsFetch => "obligations check",
            Self::Period => "quarterly update",
            Self::AnnualSummary => "annual summary",
            Self::Eops => "End of Period Statement",
            Self::Crystallisation => "final declaration",
        }
    }
}

impl fmt::Display for SubmissionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SubmissionKind {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.as_str() == s)
            .ok_or_else(|| StoreError::Corrupt {
                what: "submission kind",
                value: s.to_owned(),
            })
    }
}

/// Why a submission `failed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureReason {
    /// HMRC no longer accepts the user's authorisation; the user must reconnect.
    Auth,
    /// Network errors, timeouts, 5xx or 429 until the retries ran out.
    TransientExhausted,
    /// The platform is misconfigured (`invalid_client`, `INVALID_SCOPE`, `RESOURCE_FORBIDDEN`).
    Misconfiguration,
}

impl FailureReason {
    /// Every reason.
    pub const ALL: [Self; 3] = [Self::Auth, Self::TransientExhausted, Self::Misconfiguration];

    /// The stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Auth => "auth",
            Self::TransientExhausted => "transient_exhausted",
            Self::Misconfiguration => "misconfiguration",
        }
    }
}

impl fmt::Display for FailureReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for FailureReason {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|reason| reason.as_str() == s)
            .ok_or_else(|| StoreError::Corrupt {
                what: "failure reason",
                value: s.to_owned(),
            })
    }
}

/// One error HMRC reported about the figures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RejectionError {
    /// HMRC's code (`RULE_…`, `FORMAT_…`).
    pub code: String,
    /// HMRC's message.
    pub message: String,
    /// JSON pointers into the submitted body (`/periodIncome/turnover`).
    #[serde(default)]
    pub paths: Vec<String>,
}

/// HMRC's answer as recorded for audit and repair. Never holds tokens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HmrcAnswer {
    /// HTTP status.
    pub http_status: u16,
    /// The error code (API `code`, or OAuth `error` such as `invalid_grant`), if any.
    pub code: Option<String>,
    /// HMRC's `X-CorrelationId`.
    pub correlation_id: Option<String>,
    /// The response body, when worth keeping (error bodies).
    pub body: Option<Value>,
}

impl HmrcAnswer {
    /// An answer with just a status and code.
    pub fn new(http_status: u16, code: Option<&str>) -> Self {
        Self {
            http_status,
            code: code.map(str::to_owned),
            correlation_id: None,
            body: None,
        }
    }
}

/// HMRC's receipt for an accepted submission.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    /// HMRC's `X-CorrelationId`.
    pub correlation_id: Option<String>,
    /// The period id of a period summary.
    pub period_id: Option<String>,
    /// The submission id HMRC returned, where the flow has one.
    pub submission_id: Option<String>,
    /// The calculation id of a final declaration.
    pub calculation_id: Option<String>,
}

/// Why a `failed` submission failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The category.
    pub reason: FailureReason,
    /// Details for operators (never tokens).
    pub detail: String,
}

/// Who changes a submission, and why: recorded in its history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Audit {
    /// For example `inngest:<run id>`, `user:<id>`, `repair-history`.
    pub actor: String,
    /// For example `HMRC accepted the period`.
    pub reason: String,
}

impl Audit {
    /// An audit note.
    pub fn new(actor: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            actor: actor.into(),
            reason: reason.into(),
        }
    }
}

/// A submission to create.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct NewSubmission {
    /// What it does.
    pub kind: SubmissionKind,
    /// The platform's user id.
    pub user_id: String,
    /// The HMRC identity.
    pub nino: String,
    /// HMRC business id (`XAIS…`), when the flow has one.
    pub business_id: Option<String>,
    /// Tax year (`2024-25`), when the flow has one.
    pub tax_year: Option<String>,
    /// Start of the period, when the flow has one.
    pub period_start: Option<NaiveDate>,
    /// End of the period, when the flow has one.
    pub period_end: Option<NaiveDate>,
    /// The body sent (or to be sent) to HMRC.
    pub payload: Value,
    /// The fraud-prevention header values captured for the call.
    pub fraud_headers: BTreeMap<String, String>,
    /// The Inngest run that handles it, when known.
    pub inngest_run_id: Option<String>,
    /// Makes creation idempotent: creating again with the same key returns the first record.
    pub idempotency_key: Option<String>,
}

impl NewSubmission {
    /// A submission of `kind` for `user_id`/`nino` with `payload`; fill the other fields with
    /// the builder methods.
    pub fn new(
        kind: SubmissionKind,
        user_id: impl Into<String>,
        nino: impl Into<String>,
        payload: Value,
    ) -> Self {
        Self {
            kind,
            user_id: user_id.into(),
            nino: nino.into(),
            business_id: None,
            tax_year: None,
            period_start: None,
            period_end: None,
            payload,
            fraud_headers: BTreeMap::new(),
            inngest_run_id: None,
            idempotency_key: None,
        }
    }

    /// Sets the business id.
    pub fn business_id(mut self, business_id: impl Into<String>) -> Self {
        self.business_id = Some(business_id.into());
        self
    }

    /// Sets the tax year.
    pub fn tax_year(mut self, tax_year: impl Into<String>) -> Self {
        self.tax_year = Some(tax_year.into());
        self
    }

    /// Sets the period.
    pub fn period(mut self, start: NaiveDate, end: NaiveDate) -> Self {
        self.period_start = Some(start);
        self.period_end = Some(end);
        self
    }

    /// Sets the captured fraud-prevention header values.
    pub fn fraud_headers(mut self, headers: BTreeMap<String, String>) -> Self {
        self.fraud_headers = headers;
        self
    }

    /// Sets the Inngest run id.
    pub fn inngest_run_id(mut self, run_id: impl Into<String>) -> Self {
        self.inngest_run_id = Some(run_id.into());
        self
    }

    /// Sets the idempotency key.
    pub fn idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.idempotency_key = Some(key.into());
        self
    }
}

/// A new attempt of a failed or rejected submission.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Resubmission {
    /// Corrected figures; `None` sends the previous attempt's payload again.
    pub payload: Option<Value>,
    /// Fraud-prevention header values captured for this attempt.
    pub fraud_headers: BTreeMap<String, String>,
    /// The Inngest run that handles it, when known.
    pub inngest_run_id: Option<String>,
    /// Makes resubmission idempotent, as for [`NewSubmission::idempotency_key`].
    pub idempotency_key: Option<String>,
}

impl Resubmission {
    /// A resubmission with freshly captured fraud-prevention headers.
    pub fn new(fraud_headers: BTreeMap<String, String>) -> Self {
        Self {
            fraud_headers,
            ..Self::default()
        }
    }

    /// Sends corrected figures.
    pub fn payload(mut self, payload: Value) -> Self {
        self.payload = Some(payload);
        self
    }

    /// Sets the Inngest run id.
    pub fn inngest_run_id(mut self, run_id: impl Into<String>) -> Self {
        self.inngest_run_id = Some(run_id.into());
        self
    }

    /// Sets the idempotency key.
    pub fn idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.idempotency_key = Some(key.into());
        self
    }
}

/// A stored submission.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Submission {
    /// Store id.
    pub id: Uuid,
    /// The attempt this one retries, if any.
    pub previous_attempt_id: Option<Uuid>,
    /// 1 for the first attempt, then 2, 3, ...
    pub attempt: i32,
    /// What it does.
    pub kind: SubmissionKind,
    /// The platform's user id.
    pub user_id: String,
    /// The HMRC identity.
    pub nino: String,
    /// HMRC business id.
    pub business_id: Option<String>,
    /// Tax year.
    pub tax_year: Option<String>,
    /// Start of the period.
    pub period_start: Option<NaiveDate>,
    /// End of the period.
    pub period_end: Option<NaiveDate>,
    /// The body sent to HMRC.
    pub payload: Value,
    /// The fraud-prevention header values captured for the call.
    pub fraud_headers: BTreeMap<String, String>,
    /// Where it stands.
    pub status: SubmissionStatus,
    /// HMRC's receipt, once `submitted`.
    pub receipt: Option<Receipt>,
    /// HMRC's validation errors, once `rejected` (kept if later relabelled).
    pub rejection_errors: Vec<RejectionError>,
    /// Why it failed, once `failed`.
    pub failure: Option<Failure>,
    /// HMRC's answer, as recorded with the outcome.
    pub hmrc_answer: Option<HmrcAnswer>,
    /// The Inngest run that handled it.
    pub inngest_run_id: Option<String>,
    /// The idempotency key it was created with.
    pub idempotency_key: Option<String>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Latest change.
    pub updated_at: DateTime<Utc>,
    /// When it left `processing`.
    pub completed_at: Option<DateTime<Utc>>,
}

/// One entry of a submission's append-only history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusChange {
    /// Position in the global history (increasing).
    pub seq: i64,
    /// The submission.
    pub submission_id: Uuid,
    /// The status before (`None` at creation).
    pub from: Option<SubmissionStatus>,
    /// The status after.
    pub to: SubmissionStatus,
    /// Who changed it.
    pub actor: String,
    /// Why.
    pub reason: String,
    /// When.
    pub at: DateTime<Utc>,
}

macro_rules! submission_columns {
    () => {
        "id, previous_attempt_id, attempt, kind, user_id, nino, business_id, tax_year, \
         period_start, period_end, payload, fraud_headers, status, receipt_correlation_id, \
         receipt_period_id, receipt_submission_id, receipt_calculation_id, rejection_errors, \
         failure_reason, failure_detail, hmrc_http_status, hmrc_code, hmrc_correlation_id, \
         hmrc_body, inngest_run_id, idempotency_key, created_at, updated_at, completed_at"
    };
}
pub(crate) use submission_columns;

#[derive(sqlx::FromRow)]
pub(crate) struct SubmissionRow {
    id: Uuid,
    previous_attempt_id: Option<Uuid>,
    attempt: i32,
    kind: String,
    user_id: String,
    nino: String,
    business_id: Option<String>,
    tax_year: Option<String>,
    period_start: Option<NaiveDate>,
    period_end: Option<NaiveDate>,
    payload: Json<Value>,
    fraud_headers: Json<BTreeMap<String, String>>,
    status: String,
    receipt_correlation_id: Option<String>,
    receipt_period_id: Option<String>,
    receipt_submission_id: Option<String>,
    receipt_calculation_id: Option<String>,
    rejection_errors: Option<Json<Vec<RejectionError>>>,
    failure_reason: Option<String>,
    failure_detail: Option<String>,
    hmrc_http_status: Option<i32>,
    hmrc_code: Option<String>,
    hmrc_correlation_id: Option<String>,
    hmrc_body: Option<Json<Value>>,
    inngest_run_id: Option<String>,
    idempotency_key: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    completed_at: Option<DateTime<Utc>>,
}

impl SubmissionRow {
    pub(crate) fn id(&self) -> Uuid {
        self.id
    }

    pub(crate) fn into_submission(self) -> Result<Submission, StoreError> {
        let status: SubmissionStatus = self.status.parse()?;
        let receipt = (status == SubmissionStatus::Submitted).then_some(Receipt {
            correlation_id: self.receipt_correlation_id,
            period_id: self.receipt_period_id,
            submission_id: self.receipt_submission_id,
            calculation_id: self.receipt_calculation_id,
        });
        let failure = match self.failure_reason {
            Some(reason) => Some(Failure {
                reason: reason.parse()?,
                detail: self.failure_detail.unwrap_or_default(),
            }),
            None => None,
        };
        let hmrc_answer = match self.hmrc_http_status {
            Some(status) => Some(HmrcAnswer {
                http_status: u16::try_from(status).map_err(|_| StoreError::Corrupt {
                    what: "HMRC HTTP status",
                    value: status.to_string(),
                })?,
                code: self.hmrc_code,
                correlation_id: self.hmrc_correlation_id,
                body: self.hmrc_body.map(|Json(body)| body),
            }),
            None => None,
        };
        Ok(Submission {
            id: self.id,
            previous_attempt_id: self.previous_attempt_id,
            attempt: self.attempt,
            kind: self.kind.parse()?,
            user_id: self.user_id,
            nino: self.nino,
            business_id: self.business_id,
            tax_year: self.tax_year,
            period_start: self.period_start,
            period_end: self.period_end,
            payload: self.payload.0,
            fraud_headers: self.fraud_headers.0,
            status,
            receipt,
            rejection_errors: self.rejection_errors.map(|Json(e)| e).unwrap_or_default(),
            failure,
            hmrc_answer,
            inngest_run_id: self.inngest_run_id,
            idempotency_key: self.idempotency_key,
            created_at: self.created_at,
            updated_at: self.updated_at,
            completed_at: self.completed_at,
        })
    }
}

#[derive(sqlx::FromRow)]
struct HistoryRow {
    seq: i64,
    submission_id: Uuid,
    from_status: Option<String>,
    to_status: String,
    actor: String,
    reason: String,
    at: DateTime<Utc>,
}

pub(crate) const SELECT_BY_ID: &str = concat!(
    "SELECT ",
    submission_columns!(),
    " FROM submissions WHERE id = $1"
);
const SELECT_BY_KEY: &str = concat!(
    "SELECT ",
    submission_columns!(),
    " FROM submissions WHERE idempotency_key = $1"
);
const SELECT_NEXT_ATTEMPT: &str = concat!(
    "SELECT ",
    submission_columns!(),
    " FROM submissions WHERE previous_attempt_id = $1"
);
const SELECT_FOR_USER: &str = concat!(
    "SELECT ",
    submission_columns!(),
    " FROM submissions WHERE user_id = $1 ORDER BY created_at DESC, id LIMIT $2"
);
const INSERT: &str = concat!(
    "INSERT INTO submissions (id, previous_attempt_id, attempt, kind, user_id, nino, business_id, \
     tax_year, period_start, period_end, payload, fraud_headers, status, inngest_run_id, \
     idempotency_key, created_at, updated_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 'processing', $13, $14, $15, $15) \
     ON CONFLICT (idempotency_key) DO NOTHING \
     RETURNING ",
    submission_columns!()
);
const RECORD_OUTCOME: &str = concat!(
    "UPDATE submissions SET status = $1, receipt_correlation_id = $2, receipt_period_id = $3, \
     receipt_submission_id = $4, receipt_calculation_id = $5, rejection_errors = $6, \
     failure_reason = $7, failure_detail = $8, hmrc_http_status = $9, hmrc_code = $10, \
     hmrc_correlation_id = $11, hmrc_body = $12, updated_at = $13, completed_at = $13 \
     WHERE id = $14 AND status = 'processing' \
     RETURNING ",
    submission_columns!()
);
pub(crate) const RELABEL_REJECTED_AS_FAILED: &str = concat!(
    "UPDATE submissions SET status = 'failed', failure_reason = $1, failure_detail = $2, \
     updated_at = $3 \
     WHERE id = $4 AND status = 'rejected' \
     RETURNING ",
    submission_columns!()
);
const ATTACH_RUN: &str = concat!(
    "UPDATE submissions SET inngest_run_id = $1, updated_at = $2 \
     WHERE id = $3 AND (inngest_run_id IS NULL OR inngest_run_id = $1) \
     RETURNING ",
    submission_columns!()
);
pub(crate) const INSERT_HISTORY: &str = "INSERT INTO submission_history \
     (submission_id, from_status, to_status, actor, reason, at) VALUES ($1, $2, $3, $4, $5, $6)";
const SELECT_HISTORY: &str = "SELECT seq, submission_id, from_status, to_status, actor, reason, at \
     FROM submission_history WHERE submission_id = $1 ORDER BY seq";

/// The outcome a run records.
enum Outcome<'x> {
    Submitted(&'x Receipt, &'x HmrcAnswer),
    Rejected(&'x [RejectionError], Option<&'x HmrcAnswer>),
    Failed(FailureReason, &'x str, Option<&'x HmrcAnswer>),
}

impl Outcome<'_> {
    fn status(&self) -> SubmissionStatus {
        match self {
            Self::Submitted(..) => SubmissionStatus::Submitted,
            Self::Rejected(..) => SubmissionStatus::Rejected,
            Self::Failed(..) => SubmissionStatus::Failed,
        }
    }
}

/// Submissions: see the [module documentation](self). Obtained from [`Store::submissions`].
#[derive(Debug, Clone, Copy)]
pub struct Submissions<'a> {
    pub(crate) store: &'a Store,
}

impl Submissions<'_> {
    /// Creates a submission in `processing` and its first history entry. With an idempotency
    /// key that was used before, returns the existing submission unchanged.
    ///
    /// ```
    /// # use mtd_store::*;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// # let store = Store::open(StoreConfig::new(dir.path().join("mtd.db").to_string_lossy())).await?;
    /// let new = NewSubmission::new(
    ///     SubmissionKind::Period, "user-1", "AA123456A",
    ///     serde_json::json!({"periodIncome": {"turnover": 1200.5}}))
    ///     .business_id("XAIS12345678901")
    ///     .tax_year("2024-25");
    /// let created = store.submissions().create(&new, &Audit::new("inngest:run-1", "submit-period started")).await?;
    /// assert_eq!(created.status, SubmissionStatus::Processing);
    ///
    /// let receipt = Receipt { period_id: Some("2024-04-06_2024-07-05".into()), ..Receipt::default() };
    /// let done = store.submissions()
    ///     .mark_submitted(created.id, &receipt, &HmrcAnswer::new(200, None),
    ///                     &Audit::new("inngest:run-1", "HMRC accepted the period"))
    ///     .await?;
    /// assert_eq!(done.status, SubmissionStatus::Submitted);
    ///
    /// // Nothing leaves submitted.
    /// let refused = store.submissions()
    ///     .mark_failed(created.id, FailureReason::Auth, "401", None, &Audit::new("inngest:run-1", "late"))
    ///     .await;
    /// assert!(matches!(refused, Err(StoreError::Transition(_))));
    /// assert_eq!(store.submissions().history(created.id).await?.len(), 2);
    /// # Ok(()) }
    /// ```
    pub async fn create(
        &self,
        new: &NewSubmission,
        audit: &Audit,
    ) -> Result<Submission, StoreError> {
        self.insert(new, None, 1, audit).await
    }

    async fn insert(
        &self,
        new: &NewSubmission,
        previous: Option<Uuid>,
        attempt: i32,
        audit: &Audit,
    ) -> Result<Submission, StoreError> {
        let id = Uuid::new_v4();
        let now = self.store.now();
        let row = with_tx!(self.store.db(), tx => {
            let inserted = sqlx::query_as::<_, SubmissionRow>(INSERT)
                .bind(id)
                .bind(previous)
                .bind(attempt)
                .bind(new.kind.as_str())
                .bind(&new.user_id)
                .bind(&new.nino)
                .bind(new.business_id.as_deref())
                .bind(new.tax_year.as_deref())
                .bind(new.period_start)
                .bind(new.period_end)
                .bind(Json(&new.payload))
                .bind(Json(&new.fraud_headers))
                .bind(new.inngest_run_id.as_deref())
                .bind(new.idempotency_key.as_deref())
                .bind(now)
                .fetch_optional(&mut *tx)
                .await?;
            match inserted {
                Some(row) => {
                    sqlx::query(INSERT_HISTORY)
                        .bind(id)
                        .bind(None::<&str>)
                        .bind(SubmissionStatus::Processing.as_str())
                        .bind(&audit.actor)
                        .bind(&audit.reason)
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                    Ok(row)
                }
                // The idempotency key was used before: return that submission.
                None => Ok(sqlx::query_as::<_, SubmissionRow>(SELECT_BY_KEY)
                    .bind(new.idempotency_key.as_deref())
                    .fetch_one(&mut *tx)
                    .await?),
            }
        })?;
        row.into_submission()
    }

    /// The submission with this id.
    pub async fn get(&self, id: Uuid) -> Result<Option<Submission>, StoreError> {
        let row = with_db!(self.store.db(), pool => {
            sqlx::query_as::<_, SubmissionRow>(SELECT_BY_ID).bind(id).fetch_optional(pool).await?
        });
        row.map(SubmissionRow::into_submission).transpose()
    }

    /// The submission created with this idempotency key.
    pub async fn by_idempotency_key(&self, key: &str) -> Result<Option<Submission>, StoreError> {
        let row = with_db!(self.store.db(), pool => {
            sqlx::query_as::<_, SubmissionRow>(SELECT_BY_KEY).bind(key).fetch_optional(pool).await?
        });
        row.map(SubmissionRow::into_submission).transpose()
    }

    /// A user's most recent submissions, newest first.
    pub async fn list_for_user(
        &self,
        user_id: &str,
        limit: u32,
    ) -> Result<Vec<Submission>, StoreError> {
        let rows = with_db!(self.store.db(), pool => {
            sqlx::query_as::<_, SubmissionRow>(SELECT_FOR_USER)
                .bind(user_id)
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?
        });
        rows.into_iter()
            .map(SubmissionRow::into_submission)
            .collect()
    }

    /// The submission's status history, oldest first.
    pub async fn history(&self, id: Uuid) -> Result<Vec<StatusChange>, StoreError> {
        let rows = with_db!(self.store.db(), pool => {
            sqlx::query_as::<_, HistoryRow>(SELECT_HISTORY).bind(id).fetch_all(pool).await?
        });
        rows.into_iter()
            .map(|row| {
                Ok(StatusChange {
                    seq: row.seq,
                    submission_id: row.submission_id,
                    from: row.from_status.as_deref().map(str::parse).transpose()?,
                    to: row.to_status.parse()?,
                    actor: row.actor,
                    reason: row.reason,
                    at: row.at,
                })
            })
            .collect()
    }

    /// Every attempt of the submission `id` belongs to, first attempt first.
    pub async fn attempts(&self, id: Uuid) -> Result<Vec<Submission>, StoreError> {
        let mut current = self
            .get(id)
            .await?
            .ok_or(StoreError::SubmissionNotFound(id))?;
        let mut earlier = Vec::new();
        while let Some(previous) = current.previous_attempt_id {
            let previous = self
                .get(previous)
                .await?
                .ok_or(StoreError::SubmissionNotFound(previous))?;
            earlier.push(std::mem::replace(&mut current, previous));
        }
        let mut chain = vec![current];
        chain.extend(earlier.into_iter().rev());
        loop {
            let last = chain.last().map(|s| s.id).unwrap_or(id);
            let next = with_db!(self.store.db(), pool => {
                sqlx::query_as::<_, SubmissionRow>(SELECT_NEXT_ATTEMPT)
                    .bind(last)
                    .fetch_optional(pool)
                    .await?
            });
            let Some(next) = next else { break };
            if chain.len() > 10_000 {
                return Err(StoreError::Corrupt {
                    what: "attempt chain",
                    value: format!("more than 10000 attempts after {id}"),
                });
            }
            let next = next.into_submission()?;
            if chain.iter().any(|s| s.id == next.id) {
                break;
            }
            chain.push(next);
        }
        Ok(chain)
    }

    /// Records that HMRC accepted the submission (`processing` → `submitted`).
    pub async fn mark_submitted(
        &self,
        id: Uuid,
        receipt: &Receipt,
        answer: &HmrcAnswer,
        audit: &Audit,
    ) -> Result<Submission, StoreError> {
        self.record(id, Outcome::Submitted(receipt, answer), audit)
            .await
    }

    /// Records that HMRC refused the figures (`processing` → `rejected`) with each error.
    pub async fn mark_rejected(
        &self,
        id: Uuid,
        errors: &[RejectionError],
        answer: &HmrcAnswer,
        audit: &Audit,
    ) -> Result<Submission, StoreError> {
        self.record(id, Outcome::Rejected(errors, Some(answer)), audit)
            .await
    }

    /// Records a refusal found before anything was sent to HMRC (`processing` → `rejected`),
    /// e.g. figures that fail HMRC's published rules locally. Nothing is recorded as HMRC's
    /// answer, so the history repair never mistakes it for an auth failure.
    pub async fn mark_rejected_locally(
        &self,
        id: Uuid,
        errors: &[RejectionError],
        audit: &Audit,
    ) -> Result<Submission, StoreError> {
        self.record(id, Outcome::Rejected(errors, None), audit)
            .await
    }

    /// Records that the submission could not be sent (`processing` → `failed`).
    pub async fn mark_failed(
        &self,
        id: Uuid,
        reason: FailureReason,
        detail: &str,
        answer: Option<&HmrcAnswer>,
        audit: &Audit,
    ) -> Result<Submission, StoreError> {
        self.record(id, Outcome::Failed(reason, detail, answer), audit)
            .await
    }

    async fn record(
        &self,
        id: Uuid,
        outcome: Outcome<'_>,
        audit: &Audit,
    ) -> Result<Submission, StoreError> {
        let to = outcome.status();
        let (receipt, errors, failure, answer) = match &outcome {
            Outcome::Submitted(receipt, answer) => (Some(*receipt), None, None, Some(*answer)),
            Outcome::Rejected(errors, answer) => (None, Some(*errors), None, *answer),
            Outcome::Failed(reason, detail, answer) => {
                (None, None, Some((*reason, *detail)), *answer)
            }
        };
        let receipt = receipt.cloned().unwrap_or_default();
        for _ in 0..3 {
            let now = self.store.now();
            let written = with_tx!(self.store.db(), tx => {
                let current = sqlx::query_as::<_, SubmissionRow>(SELECT_BY_ID)
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?
                    .ok_or(StoreError::SubmissionNotFound(id))?;
                let from: SubmissionStatus = current.status.parse()?;
                if from.check_transition(to, TransitionOrigin::Run)? == TransitionCheck::AlreadyThere {
                    return Ok(Some(current));
                }
                let updated = sqlx::query_as::<_, SubmissionRow>(RECORD_OUTCOME)
                    .bind(to.as_str())
                    .bind(receipt.correlation_id.as_deref())
                    .bind(receipt.period_id.as_deref())
                    .bind(receipt.submission_id.as_deref())
                    .bind(receipt.calculation_id.as_deref())
                    .bind(errors.map(Json))
                    .bind(failure.map(|(reason, _)| reason.as_str()))
                    .bind(failure.map(|(_, detail)| detail))
                    .bind(answer.map(|a| i32::from(a.http_status)))
                    .bind(answer.and_then(|a| a.code.as_deref()))
                    .bind(answer.and_then(|a| a.correlation_id.as_deref()))
                    .bind(answer.and_then(|a| a.body.as_ref()).map(Json))
                    .bind(now)
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?;
                if updated.is_some() {
                    sqlx::query(INSERT_HISTORY)
                        .bind(id)
                        .bind(Some(from.as_str()))
                        .bind(to.as_str())
                        .bind(&audit.actor)
                        .bind(&audit.reason)
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                }
                Ok(updated)
            })?;
            if let Some(row) = written {
                return row.into_submission();
            }
            // Changed concurrently between the read and the update (PostgreSQL): re-check.
        }
        Err(StoreError::Contention {
            what: format!("submission {id}"),
        })
    }

    /// Records the Inngest run handling the submission, if none is recorded yet.
    pub async fn attach_run_id(&self, id: Uuid, run_id: &str) -> Result<Submission, StoreError> {
        let now = self.store.now();
        let row = with_db!(self.store.db(), pool => {
            sqlx::query_as::<_, SubmissionRow>(ATTACH_RUN)
                .bind(run_id)
                .bind(now)
                .bind(id)
                .fetch_optional(pool)
                .await?
        });
        match row {
            Some(row) => row.into_submission(),
            None => match self.get(id).await? {
                None => Err(StoreError::SubmissionNotFound(id)),
                Some(existing) => Err(StoreError::RunAlreadyAttached {
                    id,
                    run_id: existing.inngest_run_id.unwrap_or_default(),
                }),
            },
        }
    }

    /// Creates a new attempt of a `failed` or `rejected` submission, linked to it. The previous
    /// attempt is left as it is. Only the newest attempt can be resubmitted.
    pub async fn resubmit(
        &self,
        previous_id: Uuid,
        resubmission: &Resubmission,
        audit: &Audit,
    ) -> Result<Submission, StoreError> {
        if let Some(key) = &resubmission.idempotency_key
            && let Some(existing) = self.by_idempotency_key(key).await?
        {
            return Ok(existing);
        }
        let previous = self
            .get(previous_id)
            .await?
            .ok_or(StoreError::SubmissionNotFound(previous_id))?;
        if !matches!(
            previous.status,
            SubmissionStatus::Failed | SubmissionStatus::Rejected
        ) {
            return Err(StoreError::NotResubmittable {
                id: previous_id,
                status: previous.status,
            });
        }
        let newer = with_db!(self.store.db(), pool => {
            sqlx::query_as::<_, SubmissionRow>(SELECT_NEXT_ATTEMPT)
                .bind(previous_id)
                .fetch_optional(pool)
                .await?
        });
        if let Some(newer) = newer {
            return Err(StoreError::AlreadyResubmitted {
                id: previous_id,
                newer: newer.id,
            });
        }
        let new = NewSubmission {
            kind: previous.kind,
            user_id: previous.user_id,
            nino: previous.nino,
            business_id: previous.business_id,
            tax_year: previous.tax_year,
            period_start: previous.period_start,
            period_end: previous.period_end,
            payload: resubmission.payload.clone().unwrap_or(previous.payload),
            fraud_headers: resubmission.fraud_headers.clone(),
            inngest_run_id: resubmission.inngest_run_id.clone(),
            idempotency_key: resubmission.idempotency_key.clone(),
        };
        match self
            .insert(
                &new,
                Some(previous_id),
                previous.attempt.saturating_add(1),
                audit,
            )
            .await
        {
            // A concurrent resubmission won the unique `previous_attempt_id`.
            Err(StoreError::Database(err)) if is_unique_violation(&err) => {
                let newer = with_db!(self.store.db(), pool => {
                    sqlx::query_as::<_, SubmissionRow>(SELECT_NEXT_ATTEMPT)
                        .bind(previous_id)
                        .fetch_optional(pool)
                        .await?
                });
                match newer {
                    Some(newer) => Err(StoreError::AlreadyResubmitted {
                        id: previous_id,
                        newer: newer.id,
                    }),
                    None => Err(StoreError::Database(err)),
                }
            }
            other => other,
        }
    }
}

fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.is_unique_violation())
}
