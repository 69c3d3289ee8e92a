//! The JSON API under `/api/v1`: what the pages do, for the platform's own front end.
//!
//! Errors are `{"error": {"code", "message", "fields": [{"field", "code", "message"}]}}` with a
//! 4xx status naming the field at fault (a JSON path into the body, or an HMRC pointer into the
//! figures). Every request that creates something accepts an `Idempotency-Key` header.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDate, Utc};
use http::{HeaderMap, StatusCode};
use mtd_functions::payload::ObligationsFetch;
use mtd_store::{
    Credential, CredentialStatus, Notification, NotificationFilter, Receipt, RejectionError,
    Submission,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use serde_json::value::RawValue;
use uuid::Uuid;

use super::{CurrentUser, Facts};
use crate::app::App;
use crate::capture::BrowserValues;
use crate::service::{self, AnyPayload, Origin, Queued, ServiceError};

/// How many submissions and notifications a list returns.
pub const LIST_LIMIT: u32 = 100;

/// A submission as the API shows it (tokens and captured headers are never included).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SubmissionView {
    /// Id.
    pub id: Uuid,
    /// 1 for the first attempt, then 2, 3, … for resubmissions.
    pub attempt: i32,
    /// The attempt this one retries.
    pub previous_attempt_id: Option<Uuid>,
    /// `period`, `annual_summary`, `eops`, `crystallisation`, `obligations_fetch`.
    pub kind: String,
    /// `processing`, `submitted`, `rejected`, `failed`.
    pub status: String,
    /// HMRC identity.
    pub nino: String,
    /// Business id.
    pub business_id: Option<String>,
    /// Tax year.
    pub tax_year: Option<String>,
    /// Period start.
    pub period_start: Option<NaiveDate>,
    /// Period end.
    pub period_end: Option<NaiveDate>,
    /// HMRC's receipt, once submitted.
    pub receipt: Option<ReceiptView>,
    /// HMRC's rejection: each code, message and flagged field.
    pub rejection_errors: Vec<RejectionError>,
    /// Why it failed (`auth`, `transient_exhausted`, `misconfiguration`) and the detail.
    pub failure: Option<FailureView>,
    /// The Inngest run, once it started.
    pub inngest_run_id: Option<String>,
    /// What was (or will be) sent.
    pub payload: serde_json::Value,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Finished (not `processing` any more).
    pub completed_at: Option<DateTime<Utc>>,
}

/// HMRC's receipt of an accepted submission.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReceiptView {
    /// HMRC's `X-CorrelationId`.
    pub correlation_id: Option<String>,
    /// The period id of a period summary.
    pub period_id: Option<String>,
    /// HMRC's submission id, where the flow has one.
    pub submission_id: Option<String>,
    /// The calculation id of a final declaration.
    pub calculation_id: Option<String>,
}

impl From<&Receipt> for ReceiptView {
    fn from(r: &Receipt) -> Self {
        Self {
            correlation_id: r.correlation_id.clone(),
            period_id: r.period_id.clone(),
            submission_id: r.submission_id.clone(),
            calculation_id: r.calculation_id.clone(),
        }
    }
}

/// Why a submission failed.
#[derive(Debug, Clone, Serialize)]
pub struct FailureView {
    /// `auth`, `transient_exhausted` or `misconfiguration`.
    pub reason: String,
    /// What happened.
    pub detail: String,
}

impl From<&Submission> for SubmissionView {
    fn from(s: &Submission) -> Self {
        Self {
            id: s.id,
            attempt: s.attempt,
            previous_attempt_id: s.previous_attempt_id,
            kind: s.kind.as_str().to_owned(),
            status: s.status.as_str().to_owned(),
            nino: s.nino.clone(),
            business_id: s.business_id.clone(),
            tax_year: s.tax_year.clone(),
            period_start: s.period_start,
            period_end: s.period_end,
            receipt: s.receipt.as_ref().map(ReceiptView::from),
            rejection_errors: s.rejection_errors.clone(),
            failure: s.failure.as_ref().map(|f| FailureView {
                reason: f.reason.as_str().to_owned(),
                detail: f.detail.clone(),
            }),
            inngest_run_id: s.inngest_run_id.clone(),
            payload: s.payload.clone(),
            created_at: s.created_at,
            completed_at: s.completed_at,
        }
    }
}

/// An HMRC connection.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionView {
    /// Credential id.
    pub id: Uuid,
    /// The NINO.
    pub nino: String,
    /// `active` or `expired`.
    pub status: String,
    /// Why it expired.
    pub expired_reason: Option<String>,
    /// When it expired.
    pub expired_at: Option<DateTime<Utc>>,
    /// First connected.
    pub connected_at: DateTime<Utc>,
    /// Last reconnected.
    pub reconnected_at: Option<DateTime<Utc>>,
    /// Last token refresh.
    pub refreshed_at: Option<DateTime<Utc>>,
}

impl From<&Credential> for ConnectionView {
    fn from(c: &Credential) -> Self {
        let (expired_reason, expired_at) = match &c.status {
            CredentialStatus::Active => (None, None),
            CredentialStatus::Expired { reason, at } => (Some(reason.clone()), Some(*at)),
        };
        Self {
            id: c.id,
            nino: c.nino.clone(),
            status: c.status.as_str().to_owned(),
            expired_reason,
            expired_at,
            connected_at: c.connected_at,
            reconnected_at: c.reconnected_at,
            refreshed_at: c.refreshed_at,
        }
    }
}

/// A notification.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NotificationView {
    /// Id.
    pub id: Uuid,
    /// `reconnect_hmrc`, `figures_rejected`, `submission_failed`, `submission_accepted`,
    /// `resubmit_needed`.
    pub kind: String,
    /// Title ("Please reconnect your HMRC account", …).
    pub title: String,
    /// Body.
    pub body: String,
    /// The submission it is about.
    pub submission_id: Option<Uuid>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Read.
    pub read_at: Option<DateTime<Utc>>,
}

impl From<&Notification> for NotificationView {
    fn from(n: &Notification) -> Self {
        Self {
            id: n.id,
            kind: n.kind.as_str().to_owned(),
            title: n.title.clone(),
            body: n.body.clone(),
            submission_id: n.submission_id,
            created_at: n.created_at,
            read_at: n.read_at,
        }
    }
}

fn queued(q: &Queued) -> Response {
    let status = if q.event_ids.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    (
        status,
        Json(json!({"submission": SubmissionView::from(&q.submission), "eventIds": q.event_ids})),
    )
        .into_response()
}

fn header_key(headers: &HeaderMap) -> Result<Option<String>, ServiceError> {
    let raw = match headers.get("idempotency-key") {
        None => None,
        Some(v) => Some(v.to_str().map_err(|_| ServiceError::InvalidInput {
            field: "Idempotency-Key".into(),
            message: "must be printable ASCII".into(),
        })?),
    };
    service::idempotency_key(raw, "Idempotency-Key")
}

/// API requests that change something must say they are JSON: a browser only sends that
/// content type cross-site after a CORS preflight this app never answers, so another site's
/// page cannot post to the API in the user's name.
fn require_json(headers: &HeaderMap) -> Result<(), ServiceError> {
    let json = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if json {
        Ok(())
    } else {
        Err(ServiceError::NotJson)
    }
}

fn parse_id(raw: &str) -> Result<Uuid, ServiceError> {
    Uuid::try_parse(raw).map_err(|_| ServiceError::InvalidInput {
        field: "id".into(),
        message: format!("{raw:?} is not a submission id (a UUID)"),
    })
}

/// Body of `POST /api/v1/submissions`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateSubmission {
    /// `period`, `annual_summary`, `eops` or `crystallisation`.
    pub kind: String,
    /// Which HMRC connection, when the user has several.
    #[serde(default)]
    pub nino: Option<String>,
    /// The figures, as `mtd_functions::payload` defines them for the kind.
    pub payload: Box<RawValue>,
    /// The browser's values for HMRC's fraud-prevention headers.
    pub client: BrowserValues,
}

/// `POST /api/v1/submissions`: 202 with the submission (`processing`) and the event ids.
pub async fn create_submission(
    State(app): State<App>,
    CurrentUser(user): CurrentUser,
    facts: Facts,
    body: Bytes,
) -> Result<Response, ServiceError> {
    require_json(&facts.headers)?;
    let body: CreateSubmission = service::parse_body(&body)?;
    let payload = AnyPayload::parse(&body.kind, &body.payload)?;
    let origin = Origin {
        user_id: &user,
        nino: body.nino.as_deref(),
        browser: &body.client,
        browser_field_prefix: "client.",
        request: facts.request(),
        idempotency_key: header_key(&facts.headers)?,
    };
    let queued_submission = service::submit(&app, &origin, &payload).await?;
    Ok(queued(&queued_submission))
}

/// `GET /api/v1/submissions`: the user's submissions, newest first.
pub async fn list_submissions(
    State(app): State<App>,
    CurrentUser(user): CurrentUser,
) -> Result<Response, ServiceError> {
    let list = app
        .store()
        .submissions()
        .list_for_user(&user, LIST_LIMIT)
        .await?;
    let views: Vec<SubmissionView> = list.iter().map(SubmissionView::from).collect();
    Ok(Json(json!({ "submissions": views })).into_response())
}

/// `GET /api/v1/submissions/{id}`.
pub async fn get_submission(
    State(app): State<App>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<String>,
) -> Result<Response, ServiceError> {
    let id = parse_id(&id)?;
    let submission = service::owned_submission(&app, &user, id).await?;
    Ok(Json(json!({ "submission": SubmissionView::from(&submission) })).into_response())
}

/// Body of `POST /api/v1/submissions/{id}/resubmit`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResubmitBody {
    /// Corrected figures (same business and tax year); absent sends the same figures again.
    #[serde(default)]
    pub payload: Option<Box<RawValue>>,
    /// The browser's values, captured again for this attempt.
    pub client: BrowserValues,
}

/// `POST /api/v1/submissions/{id}/resubmit`: 202 with the new attempt.
pub async fn resubmit(
    State(app): State<App>,
    CurrentUser(user): CurrentUser,
    facts: Facts,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ServiceError> {
    require_json(&facts.headers)?;
    let id = parse_id(&id)?;
    let body: ResubmitBody = service::parse_body(&body)?;
    let origin = Origin {
        user_id: &user,
        nino: None,
        browser: &body.client,
        browser_field_prefix: "client.",
        request: facts.request(),
        idempotency_key: header_key(&facts.headers)?,
    };
    let next = service::resubmit(&app, &origin, id, body.payload.as_deref()).await?;
    Ok(queued(&next))
}

/// `GET /api/v1/connection`: the user's HMRC connections.
pub async fn connection(
    State(app): State<App>,
    CurrentUser(user): CurrentUser,
) -> Result<Response, ServiceError> {
    let credentials = app.store().credentials().list_for_user(&user).await?;
    let views: Vec<ConnectionView> = credentials.iter().map(ConnectionView::from).collect();
    Ok(Json(json!({ "connections": views })).into_response())
}

/// `GET /api/v1/obligations`: the obligations last fetched, per business.
pub async fn obligations(
    State(app): State<App>,
    CurrentUser(user): CurrentUser,
) -> Result<Response, ServiceError> {
    let cached = app.store().obligations().list_for_user(&user).await?;
    let items: Vec<serde_json::Value> = cached
        .iter()
        .map(|c| {
            json!({
                "businessId": c.business_id,
                "nino": c.nino,
                "fetchedAt": c.fetched_at,
                "obligations": c.obligations,
            })
        })
        .collect();
    Ok(Json(json!({ "businesses": items })).into_response())
}

/// Body of `POST /api/v1/obligations/refresh`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefreshBody {
    /// Which HMRC connection, when the user has several.
    #[serde(default)]
    pub nino: Option<String>,
    /// What to fetch (default: every business, the current tax year).
    #[serde(default)]
    pub query: Option<ObligationsFetch>,
    /// The browser's values.
    pub client: BrowserValues,
}

/// `POST /api/v1/obligations/refresh`: 202 with the fetch's audit row.
pub async fn refresh_obligations(
    State(app): State<App>,
    CurrentUser(user): CurrentUser,
    facts: Facts,
    body: Bytes,
) -> Result<Response, ServiceError> {
    require_json(&facts.headers)?;
    let body: RefreshBody = service::parse_body(&body)?;
    let fetch = body.query.unwrap_or_else(service::current_year_fetch);
    let origin = Origin {
        user_id: &user,
        nino: body.nino.as_deref(),
        browser: &body.client,
        browser_field_prefix: "client.",
        request: facts.request(),
        idempotency_key: header_key(&facts.headers)?,
    };
    let queued_fetch = service::refresh_obligations(&app, &origin, &fetch).await?;
    Ok(queued(&queued_fetch))
}

/// `GET /api/v1/notifications`: newest first.
pub async fn notifications(
    State(app): State<App>,
    CurrentUser(user): CurrentUser,
) -> Result<Response, ServiceError> {
    let list = app
        .store()
        .notifications()
        .list(&user, NotificationFilter::All, LIST_LIMIT)
        .await?;
    let views: Vec<NotificationView> = list.iter().map(NotificationView::from).collect();
    Ok(Json(json!({ "notifications": views })).into_response())
}

/// `POST /api/v1/notifications/{id}/read` (`Content-Type: application/json`, any body):
/// `{"marked": true}` when it was unread.
pub async fn mark_read(
    State(app): State<App>,
    CurrentUser(user): CurrentUser,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ServiceError> {
    require_json(&headers)?;
    let id = Uuid::try_parse(&id).map_err(|_| ServiceError::InvalidInput {
        field: "id".into(),
        message: format!("{id:?} is not a notification id (a UUID)"),
    })?;
    let marked = app.store().notifications().mark_read(&user, id).await?;
    Ok(Json(json!({ "marked": marked })).into_response())
}
