//! What the pages and the JSON API both do: create a submission with its captured
//! fraud-prevention headers and queue its run, resubmit, ask for an obligations refresh, and
//! read what the user sees. Errors name what to fix.

use axum::body::Bytes;
use hmrc_mtd::TaxYear;
use inngest::SendError;
use mtd_functions::events;
use mtd_functions::payload::{
    AnnualSubmission, CrystallisationSubmission, EopsSubmission, FieldError, ObligationsFetch,
    PayloadErrors, PeriodSubmission, SubmissionPayload,
};
use mtd_store::{
    Audit, Credential, CredentialStatus, NewSubmission, Resubmission, StoreError, Submission,
    SubmissionKind, SubmissionStatus,
};
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;
use uuid::Uuid;

use crate::app::App;
use crate::capture::{self, BrowserValues, CaptureError, RequestFacts};

/// Why a request could not be carried out. Each variant says what the user (or operator) can
/// do about it.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The user has no HMRC connection.
    #[error("your HMRC account is not connected: connect it from the dashboard first")]
    NotConnected,
    /// The user's HMRC connection expired; nothing can be sent until they reconnect.
    #[error(
        "HMRC no longer accepts this app's access to your account (NINO {nino}): please reconnect \
         your HMRC account (Settings → HMRC Connection → Reconnect HMRC Account), then resubmit"
    )]
    Reconnect {
        /// The NINO of the expired connection.
        nino: String,
    },
    /// The user has several HMRC connections and did not say which.
    #[error("you have more than one HMRC connection: say which NINO to use")]
    WhichNino,
    /// No connection with the NINO asked for.
    #[error("no HMRC connection for NINO {0}: connect it first")]
    UnknownNino(String),
    /// A JSON endpoint was sent something else than `Content-Type: application/json` (which
    /// also keeps other sites' forms from posting to the API).
    #[error("send the body as JSON with Content-Type: application/json")]
    NotJson,
    /// The request body is not what the endpoint expects.
    #[error("{field}: {message}")]
    InvalidInput {
        /// The field at fault (a JSON path such as `payload.figures.income.turnover`).
        field: String,
        /// What is wrong.
        message: String,
    },
    /// The payload breaks HMRC's rules that need no call.
    #[error(transparent)]
    InvalidPayload(#[from] PayloadErrors),
    /// A browser value for the fraud-prevention headers is missing or malformed.
    #[error("{0}")]
    InvalidClient(CaptureError),
    /// No such submission for this user.
    #[error("no submission {0} for this user")]
    NotFound(Uuid),
    /// The submission cannot get a new attempt.
    #[error("{0}")]
    NotResubmittable(String),
    /// The submission is stored but its run could not be queued; retrying the same request
    /// (same idempotency key) queues it without creating another submission.
    #[error(
        "submission {submission_id} was saved but could not be queued: {source}; send the same \
         request again (same idempotency key) to queue it"
    )]
    Queue {
        /// The stored submission.
        submission_id: Uuid,
        /// The event API's error.
        #[source]
        source: SendError,
    },
    /// The store failed.
    #[error("the database failed: {0}")]
    Store(#[from] StoreError),
}

impl ServiceError {
    /// The HTTP status that fits.
    pub fn status(&self) -> http::StatusCode {
        use http::StatusCode as S;
        match self {
            ServiceError::NotConnected | ServiceError::Reconnect { .. } => S::CONFLICT,
            ServiceError::NotResubmittable(_) => S::CONFLICT,
            ServiceError::WhichNino | ServiceError::UnknownNino(_) => S::UNPROCESSABLE_ENTITY,
            ServiceError::InvalidInput { .. } => S::BAD_REQUEST,
            ServiceError::NotJson => S::UNSUPPORTED_MEDIA_TYPE,
            ServiceError::InvalidPayload(_) | ServiceError::InvalidClient(_) => {
                S::UNPROCESSABLE_ENTITY
            }
            ServiceError::NotFound(_) => S::NOT_FOUND,
            ServiceError::Queue { .. } => S::SERVICE_UNAVAILABLE,
            ServiceError::Store(_) => S::INTERNAL_SERVER_ERROR,
        }
    }

    /// A stable code for API clients.
    pub fn code(&self) -> &'static str {
        match self {
            ServiceError::NotConnected => "hmrc_not_connected",
            ServiceError::Reconnect { .. } => "hmrc_reconnect_required",
            ServiceError::WhichNino => "nino_required",
            ServiceError::UnknownNino(_) => "unknown_nino",
            ServiceError::InvalidInput { .. } => "invalid_body",
            ServiceError::NotJson => "unsupported_media_type",
            ServiceError::InvalidPayload(_) => "invalid_payload",
            ServiceError::InvalidClient(_) => "invalid_client_values",
            ServiceError::NotFound(_) => "not_found",
            ServiceError::NotResubmittable(_) => "not_resubmittable",
            ServiceError::Queue { .. } => "queue_unavailable",
            ServiceError::Store(_) => "internal_error",
        }
    }

    /// The fields at fault, each with its message (empty when the error is not about a field).
    pub fn fields(&self) -> Vec<FieldError> {
        match self {
            ServiceError::InvalidInput { field, message } => vec![FieldError {
                field: field.clone(),
                code: "INVALID_BODY".into(),
                message: message.clone(),
            }],
            ServiceError::InvalidPayload(errors) => errors.0.clone(),
            ServiceError::InvalidClient(e) => vec![FieldError {
                field: e.field.clone(),
                code: "INVALID_CLIENT_VALUE".into(),
                message: e.message.clone(),
            }],
            ServiceError::WhichNino => vec![FieldError {
                field: "nino".into(),
                code: "NINO_REQUIRED".into(),
                message: "say which HMRC connection (NINO) to use".into(),
            }],
            ServiceError::UnknownNino(nino) => vec![FieldError {
                field: "nino".into(),
                code: "UNKNOWN_NINO".into(),
                message: format!("no HMRC connection for NINO {nino}"),
            }],
            _ => Vec::new(),
        }
    }
}

/// The request a submission comes from: the user, the browser values, the request facts and
/// an idempotency key.
#[derive(Debug, Clone)]
pub struct Origin<'a> {
    /// The platform's user id.
    pub user_id: &'a str,
    /// Which HMRC connection (NINO), when the user has several.
    pub nino: Option<&'a str>,
    /// The browser's values for the fraud-prevention headers.
    pub browser: &'a BrowserValues,
    /// The field prefix used when a browser value is at fault (`client.` or `fp_`).
    pub browser_field_prefix: &'a str,
    /// The HTTP request.
    pub request: RequestFacts<'a>,
    /// Makes the request safe to repeat.
    pub idempotency_key: Option<String>,
}

/// A submission stored and queued.
#[derive(Debug, Clone)]
pub struct Queued {
    /// The stored submission (as created, status `processing`).
    pub submission: Submission,
    /// The Inngest event ids returned by the event API.
    pub event_ids: Vec<String>,
}

/// Parses JSON text as `T`, naming the field at fault (`prefix` + JSON path). Parsing the
/// text (not a `serde_json::Value`) keeps amounts exactly as written.
pub fn parse_json<T: DeserializeOwned>(text: &str, prefix: &str) -> Result<T, ServiceError> {
    let mut de = serde_json::Deserializer::from_str(text);
    let parsed: Result<T, _> = serde_path_to_error::deserialize(&mut de);
    match parsed {
        Ok(value) => de
            .end()
            .map(|()| value)
            .map_err(|e| ServiceError::InvalidInput {
                field: prefix.trim_end_matches('.').to_owned(),
                message: format!("not one JSON document: {e}"),
            }),
        Err(e) => {
            let path = e.path().to_string();
            let inner = e.into_inner();
            let field = match path.as_str() {
                "." => prefix.trim_end_matches('.').to_owned(),
                p => format!("{prefix}{p}"),
            };
            let message = if inner.is_syntax() || inner.is_eof() {
                format!("not valid JSON: {inner}")
            } else {
                inner.to_string()
            };
            Err(ServiceError::InvalidInput { field, message })
        }
    }
}

/// Parses a request body as `T`, naming the field at fault.
pub fn parse_body<T: DeserializeOwned>(body: &Bytes) -> Result<T, ServiceError> {
    let text = std::str::from_utf8(body).map_err(|_| ServiceError::InvalidInput {
        field: String::new(),
        message: "the body is not UTF-8 JSON".into(),
    })?;
    parse_json(text, "")
}

/// A submission payload of any kind, as the API and the forms build it.
#[derive(Debug, Clone)]
pub enum AnyPayload {
    /// A quarterly update.
    Period(PeriodSubmission),
    /// An annual summary.
    Annual(AnnualSubmission),
    /// An End of Period Statement.
    Eops(EopsSubmission),
    /// A final declaration.
    Crystallisation(CrystallisationSubmission),
}

impl AnyPayload {
    /// Reads the payload of `kind` (`period`, `annual_summary`, `eops`, `crystallisation`, or
    /// the event-style names `annual-summary` / `final-declaration`), naming fields under
    /// `payload.`.
    pub fn parse(kind: &str, payload: &RawValue) -> Result<Self, ServiceError> {
        let payload = payload.get();
        Ok(match kind {
            "period" | "quarterly-update" => Self::Period(parse_json(payload, "payload.")?),
            "annual_summary" | "annual-summary" => Self::Annual(parse_json(payload, "payload.")?),
            "eops" => Self::Eops(parse_json(payload, "payload.")?),
            "crystallisation" | "final-declaration" | "final_declaration" => {
                Self::Crystallisation(parse_json(payload, "payload.")?)
            }
            other => {
                return Err(ServiceError::InvalidInput {
                    field: "kind".into(),
                    message: format!(
                        "unknown kind {other:?}: use period, annual_summary, eops or crystallisation"
                    ),
                });
            }
        })
    }

    /// Reads the stored payload of a submission kind again (for corrected figures on a
    /// resubmission).
    pub fn parse_kind(kind: SubmissionKind, payload: &RawValue) -> Result<Self, ServiceError> {
        match kind {
            SubmissionKind::ObligationsFetch => Err(ServiceError::NotResubmittable(
                "an obligations check is not resubmitted: refresh the obligations instead".into(),
            )),
            other => Self::parse(other.as_str(), payload),
        }
    }

    /// Validates and builds the row to create.
    pub fn new_submission(
        &self,
        user_id: &str,
        nino: &str,
    ) -> Result<NewSubmission, PayloadErrors> {
        match self {
            Self::Period(p) => p.new_submission(user_id, nino),
            Self::Annual(p) => p.new_submission(user_id, nino),
            Self::Eops(p) => p.new_submission(user_id, nino),
            Self::Crystallisation(p) => {
                p.validate_on(chrono::Utc::now().date_naive())?;
                p.new_submission(user_id, nino)
            }
        }
    }
}

/// The credential a request uses: the one for `nino`, or the user's only one.
pub async fn credential_for(
    app: &App,
    user_id: &str,
    nino: Option<&str>,
) -> Result<Credential, ServiceError> {
    let credentials = app.store().credentials().list_for_user(user_id).await?;
    let credential = match nino {
        Some(nino) => {
            let wanted = nino.trim().to_ascii_uppercase();
            credentials
                .into_iter()
                .find(|c| c.nino == wanted)
                .ok_or(ServiceError::UnknownNino(wanted))?
        }
        None => {
            let mut credentials = credentials;
            match credentials.len() {
                0 => return Err(ServiceError::NotConnected),
                1 => credentials.remove(0),
                _ => return Err(ServiceError::WhichNino),
            }
        }
    };
    match credential.status {
        CredentialStatus::Active => Ok(credential),
        CredentialStatus::Expired { .. } => Err(ServiceError::Reconnect {
            nino: credential.nino,
        }),
    }
}

fn captured_headers(
    app: &App,
    origin: &Origin<'_>,
) -> Result<std::collections::BTreeMap<String, String>, ServiceError> {
    let captured = capture::capture(
        app.capture_settings(),
        origin.user_id,
        origin.browser,
        &origin.request,
    )
    .map_err(|e| ServiceError::InvalidClient(e.prefixed(origin.browser_field_prefix)))?;
    for warning in &captured.warnings {
        tracing::warn!(
            user = origin.user_id,
            "fraud-prevention headers incomplete: {warning}"
        );
    }
    Ok(captured.stored())
}

/// Stores a submission (validated, with the headers captured from the request) and queues
/// its run. Repeating the request with the same idempotency key returns the same submission
/// and queues it again only while it is still `processing` (the event id makes the second
/// send start nothing new).
pub async fn submit(
    app: &App,
    origin: &Origin<'_>,
    payload: &AnyPayload,
) -> Result<Queued, ServiceError> {
    let credential = credential_for(app, origin.user_id, origin.nino).await?;
    let mut new = payload.new_submission(origin.user_id, &credential.nino)?;
    new = new.fraud_headers(captured_headers(app, origin)?);
    if let Some(key) = &origin.idempotency_key {
        new = new.idempotency_key(scoped_key(origin.user_id, key));
    }
    let audit = Audit::new(format!("user:{}", origin.user_id), "asked to submit");
    let submission = app.store().submissions().create(&new, &audit).await?;
    if submission.user_id != origin.user_id {
        // A key is scoped to the user, so this cannot happen unless keys collide.
        return Err(ServiceError::NotFound(submission.id));
    }
    queue(app, submission, credential.id).await
}

/// Asks for the user's obligations to be fetched again (a user-started fetch: recorded as an
/// `obligations_fetch` row with the user's captured headers).
pub async fn refresh_obligations(
    app: &App,
    origin: &Origin<'_>,
    fetch: &ObligationsFetch,
) -> Result<Queued, ServiceError> {
    let credential = credential_for(app, origin.user_id, origin.nino).await?;
    let mut new = fetch.new_submission(origin.user_id, &credential.nino)?;
    new = new.fraud_headers(captured_headers(app, origin)?);
    if let Some(key) = &origin.idempotency_key {
        new = new.idempotency_key(scoped_key(origin.user_id, key));
    }
    let audit = Audit::new(format!("user:{}", origin.user_id), "asked for obligations");
    let submission = app.store().submissions().create(&new, &audit).await?;
    queue(app, submission, credential.id).await
}

/// The default obligations fetch: every business, the current tax year.
pub fn current_year_fetch() -> ObligationsFetch {
    ObligationsFetch {
        tax_year: TaxYear::containing(chrono::Utc::now().date_naive()).ok(),
        ..ObligationsFetch::default()
    }
}

/// Creates the next attempt of a `failed` or `rejected` submission (optionally with corrected
/// figures) with freshly captured headers, and queues it.
pub async fn resubmit(
    app: &App,
    origin: &Origin<'_>,
    previous_id: Uuid,
    corrected: Option<&RawValue>,
) -> Result<Queued, ServiceError> {
    let previous = owned_submission(app, origin.user_id, previous_id).await?;
    let credential = credential_for(app, origin.user_id, Some(&previous.nino)).await?;
    let mut resubmission = Resubmission::new(captured_headers(app, origin)?);
    if let Some(payload) = corrected {
        let parsed = AnyPayload::parse_kind(previous.kind, payload)?;
        let new = parsed.new_submission(origin.user_id, &previous.nino)?;
        if new.business_id != previous.business_id || new.tax_year != previous.tax_year {
            return Err(ServiceError::InvalidInput {
                field: "payload".into(),
                message: "corrected figures must be for the same business and tax year; create a \
                          new submission for another one"
                    .into(),
            });
        }
        resubmission = resubmission.payload(new.payload);
    }
    if let Some(key) = &origin.idempotency_key {
        resubmission = resubmission.idempotency_key(scoped_key(origin.user_id, key));
    }
    let audit = Audit::new(format!("user:{}", origin.user_id), "asked to resubmit");
    let next = app
        .store()
        .submissions()
        .resubmit(previous.id, &resubmission, &audit)
        .await
        .map_err(|e| match e {
            StoreError::NotResubmittable { .. } | StoreError::AlreadyResubmitted { .. } => {
                ServiceError::NotResubmittable(e.to_string())
            }
            other => ServiceError::Store(other),
        })?;
    queue(app, next, credential.id).await
}

/// Sends the run's event unless the submission already left `processing`.
async fn queue(
    app: &App,
    submission: Submission,
    credential_id: Uuid,
) -> Result<Queued, ServiceError> {
    if submission.status != SubmissionStatus::Processing {
        return Ok(Queued {
            submission,
            event_ids: Vec::new(),
        });
    }
    let event = events::submission_requested(submission.kind, submission.id, credential_id);
    match app.inngest().send(&event).await {
        Ok(sent) => Ok(Queued {
            submission,
            event_ids: sent.ids,
        }),
        Err(source) => {
            tracing::error!(submission = %submission.id, "could not queue the submission's run: {source}");
            Err(ServiceError::Queue {
                submission_id: submission.id,
                source,
            })
        }
    }
}

/// The submission, if it belongs to the user.
pub async fn owned_submission(
    app: &App,
    user_id: &str,
    id: Uuid,
) -> Result<Submission, ServiceError> {
    match app.store().submissions().get(id).await? {
        Some(s) if s.user_id == user_id => Ok(s),
        _ => Err(ServiceError::NotFound(id)),
    }
}

/// Idempotency keys are scoped to the user, so two users cannot collide.
fn scoped_key(user_id: &str, key: &str) -> String {
    format!("{user_id}\u{1f}{key}")
}

/// Validates an idempotency key from a header or form.
pub fn idempotency_key(raw: Option<&str>, field: &str) -> Result<Option<String>, ServiceError> {
    match raw.map(str::trim) {
        None | Some("") => Ok(None),
        Some(key) if key.len() <= 200 && key.bytes().all(|b| b.is_ascii_graphic()) => {
            Ok(Some(key.to_owned()))
        }
        Some(_) => Err(ServiceError::InvalidInput {
            field: field.to_owned(),
            message: "must be 1 to 200 printable ASCII characters".into(),
        }),
    }
}
