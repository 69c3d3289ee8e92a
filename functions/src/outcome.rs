//! What happens after HMRC answered: the durable steps that claim a submission, record its
//! outcome, expire a credential and notify the user, shared by every function.

use hmrc_mtd::{Error as HmrcError, Response};
use inngest::{NonRetriableError, Step, StepError};
use mtd_store::{
    Audit, ExpireOutcome, HmrcAnswer, NewNotification, NotificationKind, Receipt, RejectionError,
    SubmissionKind, SubmissionStatus,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::Deps;
use crate::failure::{Failure, FailureKind, classify, store_failure};

/// What an HMRC step returned: accepted, already held by HMRC, or refused. Failures are the
/// step's errors instead ([`crate::failure`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum HmrcOutcome {
    /// HMRC accepted it.
    Accepted {
        /// HMRC's receipt.
        receipt: Receipt,
        /// HMRC's HTTP status.
        http_status: u16,
        /// The attempt of the step that got the answer (1 = first).
        attempt: u32,
        /// Warnings about the call (deprecation notices, incomplete fraud headers).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        warnings: Vec<String>,
    },
    /// HMRC already held it: an earlier attempt reached HMRC.
    Duplicate {
        /// What HMRC's answer identifies.
        receipt: Receipt,
        /// HMRC's HTTP status.
        http_status: u16,
        /// The code that says so.
        code: String,
        /// HMRC's message.
        message: String,
        /// The attempt of the step that got the answer.
        attempt: u32,
    },
    /// HMRC (or the client's pre-checks, `http_status` `None`) refused the figures.
    Rejected {
        /// HMRC's HTTP status; `None` when refused before sending.
        http_status: Option<u16>,
        /// HMRC's top-level code (`INVALID_REQUEST` for several errors).
        code: Option<String>,
        /// HMRC's `X-CorrelationId`.
        correlation_id: Option<String>,
        /// Every error with its code, message and JSON paths.
        errors: Vec<RejectionError>,
    },
}

impl HmrcOutcome {
    /// Reads HMRC's answer to a submission: success (with the receipt `receipt` builds),
    /// duplicate, rejection, or a failure of the step.
    pub(crate) fn from_answer<T>(
        answer: Result<Response<T>, HmrcError>,
        attempt: u32,
        receipt: impl FnOnce(&T) -> Receipt,
    ) -> Result<Self, Failure> {
        match answer {
            Ok(response) => {
                let mut found = receipt(&response.body);
                found.correlation_id = response.correlation_id.clone();
                Ok(Self::Accepted {
                    receipt: found,
                    http_status: response.status,
                    attempt: attempt + 1,
                    warnings: response
                        .warnings
                        .iter()
                        .map(|w| serde_json::to_string(w).unwrap_or_default())
                        .collect(),
                })
            }
            Err(HmrcError::DuplicateSubmission {
                code,
                status,
                message,
                correlation_id,
            }) => Ok(Self::Duplicate {
                receipt: Receipt {
                    correlation_id,
                    ..Receipt::default()
                },
                http_status: status,
                code,
                message,
                attempt: attempt + 1,
            }),
            Err(HmrcError::Rejected {
                status,
                errors,
                correlation_id,
            }) => Ok(Self::Rejected {
                http_status: status,
                code: if errors.len() > 1 {
                    Some("INVALID_REQUEST".to_owned())
                } else {
                    errors.first().map(|e| e.code.clone())
                },
                correlation_id,
                errors: errors
                    .into_iter()
                    .map(|e| RejectionError {
                        code: e.code,
                        message: e.message,
                        paths: e.paths,
                    })
                    .collect(),
            }),
            Err(other) => Err(classify(&other)),
        }
    }
}

/// What a function run returns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunResult {
    /// The submission (or audit row) the run handled.
    pub submission_id: Uuid,
    /// Its status when the run ended.
    pub status: SubmissionStatus,
    /// HMRC's receipt, when submitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receipt: Option<Receipt>,
    /// HMRC's errors, when rejected.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rejection_errors: Vec<RejectionError>,
    /// Anything worth knowing (duplicate, handled by another run, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The submission as claimed by a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Claim {
    pub(crate) user_id: String,
    pub(crate) nino: String,
    pub(crate) kind: SubmissionKind,
    pub(crate) tax_year: Option<String>,
    /// Set when the submission is no longer `processing`: nothing to do.
    pub(crate) finished: Option<SubmissionStatus>,
    /// Set when another run already handles it.
    pub(crate) other_run: Option<String>,
}

impl Claim {
    /// What the user calls it: "quarterly update for 2024-25".
    fn what(&self) -> String {
        match &self.tax_year {
            Some(year) => format!("{} for {year}", self.kind.describe()),
            None => self.kind.describe().to_owned(),
        }
    }

    /// The run's result when nothing was left to do.
    pub(crate) fn skipped(&self, submission_id: Uuid) -> Option<RunResult> {
        if let Some(status) = self.finished {
            return Some(RunResult {
                submission_id,
                status,
                receipt: None,
                rejection_errors: Vec::new(),
                note: Some(format!(
                    "the submission was already {status:?}; nothing sent"
                )),
            });
        }
        self.other_run.as_ref().map(|run| RunResult {
            submission_id,
            status: SubmissionStatus::Processing,
            receipt: None,
            rejection_errors: Vec::new(),
            note: Some(format!("run {run} handles this submission; nothing sent")),
        })
    }
}

/// The `claim-submission` step: checks that the submission exists, is of the function's kind
/// and belongs to the credential's user, and records the run on it.
pub(crate) async fn claim(
    step: &Step,
    deps: &Deps,
    run_id: &str,
    kind: SubmissionKind,
    submission_id: Uuid,
    credential_id: Uuid,
) -> Result<Claim, StepError> {
    let deps = deps.clone();
    let run_id = run_id.to_owned();
    step.run("claim-submission", move || async move {
        let fail = |f: Failure| f.into_error();
        let submissions = deps.store.submissions();
        let submission = submissions
            .get(submission_id)
            .await
            .map_err(|e| fail(store_failure("loading the submission", &e)))?
            .ok_or_else(|| {
                fail(Failure::new(
                    FailureKind::Misconfiguration,
                    format!("there is no submission {submission_id}; create it before sending the event"),
                ))
            })?;
        if submission.kind != kind {
            return Err(fail(Failure::new(
                FailureKind::Misconfiguration,
                format!(
                    "submission {submission_id} is a {} submission; this function handles {} submissions",
                    submission.kind, kind
                ),
            )));
        }
        let credential = deps
            .store
            .credentials()
            .get(credential_id)
            .await
            .map_err(|e| fail(store_failure("loading the credential", &e)))?
            .ok_or_else(|| {
                fail(Failure::new(
                    FailureKind::Misconfiguration,
                    format!("there is no HMRC credential {credential_id}"),
                ))
            })?;
        if credential.user_id != submission.user_id || credential.nino != submission.nino {
            return Err(fail(Failure::new(
                FailureKind::Misconfiguration,
                format!(
                    "credential {credential_id} belongs to another user or NINO than submission \
                     {submission_id}; nothing was sent"
                ),
            )));
        }
        let mut claim = Claim {
            user_id: submission.user_id.clone(),
            nino: submission.nino.clone(),
            kind,
            tax_year: submission.tax_year.clone(),
            finished: None,
            other_run: None,
        };
        if submission.status != SubmissionStatus::Processing {
            claim.finished = Some(submission.status);
            return Ok(claim);
        }
        match submissions.attach_run_id(submission_id, &run_id).await {
            Ok(_) => {}
            Err(mtd_store::StoreError::RunAlreadyAttached { run_id: other, .. }) => {
                claim.other_run = Some(other);
            }
            Err(e) => return Err(fail(store_failure("recording the run on the submission", &e))),
        }
        Ok(claim)
    })
    .await
}

/// The steps that follow an HMRC step, for one claimed submission.
pub(crate) struct Settle<'a> {
    pub(crate) step: &'a Step,
    pub(crate) deps: &'a Deps,
    pub(crate) run_id: &'a str,
    pub(crate) submission_id: Uuid,
    pub(crate) credential_id: Uuid,
    pub(crate) claim: &'a Claim,
    /// Whether the user hears about accepted submissions and exhausted retries (not for
    /// obligations fetches, which would only be noise).
    pub(crate) user_facing: bool,
}

impl Settle<'_> {
    fn actor(&self) -> String {
        format!("inngest:{}", self.run_id)
    }

    /// Records the outcome of an HMRC step (or its failure) and gives the run's result.
    pub(crate) async fn outcome(
        &self,
        outcome: Result<HmrcOutcome, StepError>,
    ) -> Result<RunResult, inngest::Error> {
        match outcome {
            Ok(outcome) => self.record(outcome).await,
            Err(error) => Err(self.fail(Failure::from_step_error(&error)).await),
        }
    }

    /// Records an answer HMRC gave.
    pub(crate) async fn record(&self, outcome: HmrcOutcome) -> Result<RunResult, inngest::Error> {
        let what = self.claim.what();
        match outcome {
            HmrcOutcome::Accepted {
                receipt,
                http_status,
                attempt,
                ..
            } => {
                let answer = HmrcAnswer {
                    http_status,
                    code: None,
                    correlation_id: receipt.correlation_id.clone(),
                    body: None,
                };
                let reason = format!("HMRC accepted the {what} (attempt {attempt})");
                self.submitted(receipt, answer, reason, None).await
            }
            HmrcOutcome::Duplicate {
                receipt,
                http_status,
                code,
                message,
                attempt,
            } => {
                let answer = HmrcAnswer {
                    http_status,
                    code: Some(code.clone()),
                    correlation_id: receipt.correlation_id.clone(),
                    body: Some(serde_json::json!({"code": code, "message": message})),
                };
                let reason = format!(
                    "HMRC already held this {what} ({code}, attempt {attempt}): an earlier \
                     attempt reached HMRC, so it is recorded as submitted, not rejected"
                );
                let note = Some(format!("duplicate: {code}"));
                self.submitted(receipt, answer, reason, note).await
            }
            HmrcOutcome::Rejected {
                http_status,
                code,
                correlation_id,
                errors,
            } => {
                self.rejected(http_status, code, correlation_id, errors)
                    .await
            }
        }
    }

    async fn submitted(
        &self,
        receipt: Receipt,
        answer: HmrcAnswer,
        reason: String,
        note: Option<String>,
    ) -> Result<RunResult, inngest::Error> {
        let deps = self.deps.clone();
        let (id, actor) = (self.submission_id, self.actor());
        let stored = receipt.clone();
        self.step
            .run("record-submitted", move || async move {
                deps.store
                    .submissions()
                    .mark_submitted(id, &stored, &answer, &Audit::new(actor, reason))
                    .await
                    .map_err(|e| store_failure("recording the submission", &e).into_error())?;
                Ok(())
            })
            .await?;
        if self.user_facing {
            let reference = receipt
                .correlation_id
                .as_deref()
                .map(|c| format!(" HMRC's reference: {c}."))
                .unwrap_or_default();
            let body = format!("HMRC accepted your {}.{reference}", self.claim.what());
            self.notify(
                "notify-accepted",
                NotificationKind::SubmissionAccepted,
                body,
            )
            .await?;
        }
        Ok(RunResult {
            submission_id: self.submission_id,
            status: SubmissionStatus::Submitted,
            receipt: Some(receipt),
            rejection_errors: Vec::new(),
            note,
        })
    }

    /// Records a refusal of the figures (HMRC's, or the client's pre-checks').
    pub(crate) async fn rejected(
        &self,
        http_status: Option<u16>,
        code: Option<String>,
        correlation_id: Option<String>,
        errors: Vec<RejectionError>,
    ) -> Result<RunResult, inngest::Error> {
        let deps = self.deps.clone();
        let (id, actor) = (self.submission_id, self.actor());
        let codes = errors
            .iter()
            .map(|e| e.code.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        let reason = match http_status {
            Some(status) => format!("HMRC refused the figures (HTTP {status}: {codes})"),
            None => format!("refused before sending, nothing reached HMRC ({codes})"),
        };
        // HMRC's answer is recorded only when HMRC gave one; a refusal found before sending has
        // none, so the history repair can never mistake it for an auth failure.
        let answer = http_status.map(|status| HmrcAnswer {
            http_status: status,
            code,
            correlation_id,
            body: Some(serde_json::json!({ "errors": errors })),
        });
        let stored = errors.clone();
        self.step
            .run("record-rejected", move || async move {
                let audit = Audit::new(actor, reason);
                let submissions = deps.store.submissions();
                match &answer {
                    Some(answer) => submissions.mark_rejected(id, &stored, answer, &audit).await,
                    None => submissions.mark_rejected_locally(id, &stored, &audit).await,
                }
                .map_err(|e| store_failure("recording the rejection", &e).into_error())?;
                Ok(())
            })
            .await?;
        let fields = errors
            .iter()
            .map(|e| {
                if e.paths.is_empty() {
                    format!("{}: {}", e.code, e.message)
                } else {
                    format!("{} ({}): {}", e.paths.join(", "), e.code, e.message)
                }
            })
            .collect::<Vec<_>>()
            .join("; ");
        let body = format!(
            "HMRC refused the figures of your {}: {fields}. Correct them and submit again.",
            self.claim.what()
        );
        self.notify("notify-rejected", NotificationKind::FiguresRejected, body)
            .await?;
        Ok(RunResult {
            submission_id: self.submission_id,
            status: SubmissionStatus::Rejected,
            receipt: None,
            rejection_errors: errors,
            note: None,
        })
    }

    /// Handles a failure row: the record and notification steps it needs, then the error
    /// that fails the run without retries.
    pub(crate) async fn fail(&self, failure: Failure) -> inngest::Error {
        match self.fail_steps(&failure).await {
            Ok(()) => NonRetriableError::new(failure.detail).into(),
            Err(step) => step.into(),
        }
    }

    async fn fail_steps(&self, failure: &Failure) -> Result<(), StepError> {
        let what = self.claim.what();
        let mut notification = None;
        let mut detail = failure.detail.clone();
        match failure.kind {
            FailureKind::Auth => {
                let expired = self.expire(failure).await?;
                notification = Some(if expired {
                    (
                        "notify-reconnect",
                        NotificationKind::ReconnectHmrc,
                        format!(
                            "We could not send your {what}: HMRC no longer accepts this app's \
                             access to your tax account. Go to Settings → HMRC Connection → \
                             Reconnect HMRC Account, sign in with your Government Gateway \
                             details, then resubmit."
                        ),
                    )
                } else {
                    detail.push_str(
                        "; the credential was replaced (reconnected or refreshed) meanwhile, \
                         so it was not marked expired",
                    );
                    (
                        "notify-resubmit",
                        NotificationKind::ResubmitNeeded,
                        format!(
                            "We could not send your {what} because your HMRC connection changed \
                             while we were sending it. Your account is connected: please \
                             submit again."
                        ),
                    )
                });
            }
            FailureKind::Transient => {
                if self.user_facing {
                    notification = Some((
                        "notify-failed",
                        NotificationKind::SubmissionFailed,
                        format!(
                            "We could not reach HMRC to send your {what} after several \
                             attempts. Nothing was lost: please try again later."
                        ),
                    ));
                }
            }
            FailureKind::NotRequired => {
                notification = Some((
                    "notify-failed",
                    NotificationKind::SubmissionFailed,
                    format!(
                        "Your {what} was not sent: {}. There is nothing to submit.",
                        failure.detail
                    ),
                ));
            }
            FailureKind::Misconfiguration | FailureKind::Unexpected => {
                notification = Some((
                    "notify-failed",
                    NotificationKind::SubmissionFailed,
                    format!(
                        "We could not send your {what} because of a problem on our side. Our \
                         team has been alerted; you do not need to do anything yet."
                    ),
                ));
            }
        }
        self.record_failed(failure, detail).await?;
        if let Some((step_id, kind, body)) = notification {
            self.notify(step_id, kind, body).await?;
        }
        Ok(())
    }

    /// The `expire-credential` step; `true` when the credential is (now or already) expired,
    /// `false` when it was replaced since the refused token was used.
    async fn expire(&self, failure: &Failure) -> Result<bool, StepError> {
        let deps = self.deps.clone();
        let credential_id = self.credential_id;
        let version = failure.credential_version;
        let reason = format!(
            "HMRC refused the authorisation ({}{})",
            failure.code.as_deref().unwrap_or("credential expired"),
            failure
                .status
                .map(|s| format!(", HTTP {s}"))
                .unwrap_or_default()
        );
        self.step
            .run("expire-credential", move || async move {
                let credentials = deps.store.credentials();
                let expired = match version {
                    Some(version) => {
                        match credentials
                            .expire_unless_replaced(credential_id, version, &reason)
                            .await
                            .map_err(|e| {
                                store_failure("expiring the credential", &e).into_error()
                            })? {
                            ExpireOutcome::Expired(_) | ExpireOutcome::AlreadyExpired(_) => true,
                            ExpireOutcome::Replaced(_) | ExpireOutcome::RefreshInProgress(_) => {
                                false
                            }
                        }
                    }
                    None => credentials
                        .get(credential_id)
                        .await
                        .map_err(|e| store_failure("loading the credential", &e).into_error())?
                        .is_some_and(|c| !c.is_active()),
                };
                Ok(expired)
            })
            .await
    }

    async fn record_failed(&self, failure: &Failure, detail: String) -> Result<(), StepError> {
        let deps = self.deps.clone();
        let (id, actor, run_id) = (self.submission_id, self.actor(), self.run_id.to_owned());
        let reason_code = failure.kind.failure_reason();
        let kind = failure.kind;
        let answer = failure.hmrc_answer();
        let audit_reason = match kind {
            FailureKind::Auth => "HMRC no longer accepts the user's authorisation".to_owned(),
            FailureKind::Transient => {
                "HMRC could not be reached before the retries ran out".to_owned()
            }
            FailureKind::NotRequired => "not required for this tax year; nothing sent".to_owned(),
            FailureKind::Misconfiguration | FailureKind::Unexpected => {
                "the platform could not send it (operator alerted)".to_owned()
            }
        };
        self.step
            .run("record-failed", move || async move {
                if matches!(
                    kind,
                    FailureKind::Misconfiguration | FailureKind::Unexpected | FailureKind::NotRequired
                ) {
                    // The operator alert: no tokens in `detail` (classified errors carry none).
                    tracing::error!(
                        submission_id = %id,
                        run_id = %run_id,
                        row = ?kind,
                        hmrc_status = ?answer.as_ref().map(|a| a.http_status),
                        hmrc_code = ?answer.as_ref().and_then(|a| a.code.clone()),
                        "operator alert: an HMRC submission failed because of the platform: {detail}"
                    );
                }
                deps.store
                    .submissions()
                    .mark_failed(
                        id,
                        reason_code,
                        &detail,
                        answer.as_ref(),
                        &Audit::new(actor, audit_reason),
                    )
                    .await
                    .map_err(|e| store_failure("recording the failure", &e).into_error())?;
                Ok(())
            })
            .await
    }

    async fn notify(
        &self,
        step_id: &str,
        kind: NotificationKind,
        body: String,
    ) -> Result<(), StepError> {
        let deps = self.deps.clone();
        let new = NewNotification::new(self.claim.user_id.clone(), kind, body)
            .submission(self.submission_id)
            .credential(self.credential_id)
            .dedupe_key(format!("{}:{step_id}", self.run_id));
        self.step
            .run(step_id, move || async move {
                deps.store
                    .notifications()
                    .notify(&new)
                    .await
                    .map_err(|e| store_failure("notifying the user", &e).into_error())?;
                Ok(())
            })
            .await
    }
}

/// Fails a run whose submission could not be claimed (so there is nothing to record on):
/// an operator alert in its own step, then the error.
pub(crate) async fn fail_unclaimed(
    step: &Step,
    submission_id: Option<Uuid>,
    error: &StepError,
) -> inngest::Error {
    let failure = Failure::from_step_error(error);
    let detail = failure.detail.clone();
    let logged = step
        .run("alert-operator", move || async move {
            tracing::error!(
                submission_id = ?submission_id,
                row = ?failure.kind,
                "operator alert: the run could not take on its submission: {}",
                failure.detail
            );
            Ok(())
        })
        .await;
    match logged {
        Ok(()) => NonRetriableError::new(detail).into(),
        Err(step) => step.into(),
    }
}
