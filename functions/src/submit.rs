//! `submit-period`, `submit-annual-summary` and `submit-eops`: claim the submission, send it to
//! HMRC in one step, record the outcome.

use hmrc_mtd::{Error as HmrcError, Nino, Response};
use inngest::function::{Concurrency, ConcurrencyScope};
use inngest::{Context, Function, FunctionBuilder, FunctionConfigError, FunctionFailed, Trigger};
use mtd_store::{
    Audit, NewNotification, NotificationKind, Receipt, RejectionError, Submission, SubmissionKind,
    SubmissionStatus,
};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::access::with_access;
use crate::events::{self, SubmissionRequested, ids};
use crate::failure::{Failure, FailureKind, store_failure};
use crate::outcome::{self, HmrcOutcome, RunResult, Settle};
use crate::payload::{
    AnnualFigures, AnnualSubmission, EopsSubmission, PayloadErrors, PeriodBody, PeriodSubmission,
    SubmissionPayload, eops_not_required_message,
};
use crate::{BoxFuture, Deps, fraud};

/// The shared configuration of the functions that act for one credential: trigger, retries,
/// one run step at a time per credential (environment scope), and the failure handler.
pub(crate) fn builder(deps: &Deps, id: &str, name: &str, event: &str) -> FunctionBuilder {
    let on_failure_deps = deps.clone();
    Function::builder(id)
        .name(name)
        .trigger(Trigger::event(event))
        .retries(deps.settings.retries)
        .concurrency(
            Concurrency::new(1)
                .key("event.data.credential_id")
                .scope(ConcurrencyScope::Env),
        )
        .on_failure(move |ctx: Context<FunctionFailed>| {
            let deps = on_failure_deps.clone();
            async move { on_failure(deps, ctx).await }
        })
}

/// The failure handler: a run that failed before recording any outcome (its record step ran
/// out of retries, its event did not decode, ...) must not leave the submission `processing`.
async fn on_failure(deps: Deps, ctx: Context<FunctionFailed>) -> Result<Value, inngest::Error> {
    let failed = ctx.event.data;
    let submission_id = failed
        .event
        .data
        .get("submission_id")
        .and_then(Value::as_str)
        .and_then(|s| Uuid::parse_str(s).ok());
    let Some(submission_id) = submission_id else {
        return Ok(json!({"recorded": false, "why": "the failed run's event names no submission"}));
    };
    let run_id = failed.run_id.clone();
    let message = failed.error.message.clone();
    let recorded: bool = ctx
        .step
        .run("record-failed-run", move || async move {
            let submissions = deps.store.submissions();
            let Some(submission) = submissions
                .get(submission_id)
                .await
                .map_err(|e| store_failure("loading the submission", &e).into_error())?
            else {
                return Ok(false);
            };
            if submission.status != SubmissionStatus::Processing {
                return Ok(false);
            }
            let failure = Failure::from_message(&message)
                .unwrap_or_else(|| Failure::new(FailureKind::Unexpected, message.clone()));
            let detail = format!(
                "run {run_id} failed before recording an outcome: {}",
                failure.detail
            );
            tracing::error!(
                submission_id = %submission_id,
                run_id = %run_id,
                "operator alert: {detail}"
            );
            submissions
                .mark_failed(
                    submission_id,
                    failure.kind.failure_reason(),
                    &detail,
                    failure.hmrc_answer().as_ref(),
                    &Audit::new(
                        format!("inngest:{run_id}"),
                        "the run failed before recording an outcome",
                    ),
                )
                .await
                .map_err(|e| store_failure("recording the failure", &e).into_error())?;
            deps.store
                .notifications()
                .notify(
                    &NewNotification::new(
                        submission.user_id.clone(),
                        NotificationKind::SubmissionFailed,
                        format!(
                            "We could not send your {}. Our team has been alerted; please try \
                             again later.",
                            submission.kind.describe()
                        ),
                    )
                    .submission(submission_id)
                    .dedupe_key(format!("{run_id}:on-failure")),
                )
                .await
                .map_err(|e| store_failure("notifying the user", &e).into_error())?;
            Ok(true)
        })
        .await?;
    Ok(json!({"recorded": recorded, "submission_id": submission_id}))
}

/// Sends one loaded submission to HMRC (inside the HMRC step).
type Sender =
    fn(Deps, Submission, Uuid, String, u32) -> BoxFuture<Result<HmrcOutcome, inngest::Error>>;

/// The body shared by the three simple flows.
async fn flow(
    deps: Deps,
    ctx: Context<SubmissionRequested>,
    kind: SubmissionKind,
    send: Sender,
) -> Result<RunResult, inngest::Error> {
    let request = ctx.event.data;
    let claim = match outcome::claim(
        &ctx.step,
        &deps,
        &ctx.run_id,
        kind,
        request.submission_id,
        request.credential_id,
    )
    .await
    {
        Ok(claim) => claim,
        Err(error) => {
            return Err(
                outcome::fail_unclaimed(&ctx.step, Some(request.submission_id), &error).await,
            );
        }
    };
    if let Some(done) = claim.skipped(request.submission_id) {
        return Ok(done);
    }
    let (step_deps, run_id, attempt) = (deps.clone(), ctx.run_id.clone(), ctx.attempt);
    let answer = ctx
        .step
        .run("submit-to-hmrc", move || async move {
            let submission = load(&step_deps, request.submission_id).await?;
            send(
                step_deps,
                submission,
                request.credential_id,
                run_id,
                attempt,
            )
            .await
        })
        .await;
    Settle {
        step: &ctx.step,
        deps: &deps,
        run_id: &ctx.run_id,
        submission_id: request.submission_id,
        credential_id: request.credential_id,
        claim: &claim,
        user_facing: true,
    }
    .outcome(answer)
    .await
}

/// Loads the submission inside a step.
pub(crate) async fn load(deps: &Deps, id: Uuid) -> Result<Submission, inngest::Error> {
    deps.store
        .submissions()
        .get(id)
        .await
        .map_err(|e| store_failure("loading the submission", &e).into_error())?
        .ok_or_else(|| {
            Failure::new(
                FailureKind::Misconfiguration,
                format!("submission {id} disappeared"),
            )
            .into_error()
        })
}

/// The payload, NINO and fraud-prevention headers of a loaded submission; anything unreadable
/// is the platform's fault.
pub(crate) fn read<P: SubmissionPayload>(
    deps: &Deps,
    submission: &Submission,
) -> Result<(P, Nino, hmrc_mtd::fraud::FraudPreventionHeaders), inngest::Error> {
    let misconfigured =
        |detail: String| Failure::new(FailureKind::Misconfiguration, detail).into_error();
    let payload = P::from_submission(submission).map_err(|e| misconfigured(e.to_string()))?;
    let nino = Nino::new(&submission.nino).map_err(|e| {
        misconfigured(format!(
            "submission {} has an invalid NINO: {e}",
            submission.id
        ))
    })?;
    let headers = fraud::headers_for(&submission.fraud_headers, &deps.vendor)
        .map_err(|e| misconfigured(e.to_string()))?;
    Ok((payload, nino, headers))
}

/// A refusal found before sending anything.
pub(crate) fn refused_locally(errors: PayloadErrors) -> HmrcOutcome {
    let code = errors.0.first().map(|e| e.code.clone());
    HmrcOutcome::Rejected {
        http_status: None,
        code,
        correlation_id: None,
        errors: errors
            .0
            .into_iter()
            .map(|e| RejectionError {
                code: e.code,
                message: e.message,
                paths: if e.field.is_empty() {
                    Vec::new()
                } else {
                    vec![e.field]
                },
            })
            .collect(),
    }
}

/// Sends with an access token and reads HMRC's answer into an outcome.
pub(crate) async fn send_with<T, F, Fut>(
    deps: &Deps,
    credential_id: Uuid,
    run_id: &str,
    attempt: u32,
    headers: hmrc_mtd::fraud::FraudPreventionHeaders,
    call: F,
) -> Result<HmrcOutcome, inngest::Error>
where
    F: FnOnce(crate::access::Caller) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<Response<T>, HmrcError>> + Send,
    T: ReceiptOf + Send + 'static,
{
    let answer = with_access(
        deps.clone(),
        credential_id,
        run_id.to_owned(),
        headers,
        call,
    )
    .await
    .map_err(Failure::into_error)?;
    HmrcOutcome::from_answer(answer, attempt, ReceiptOf::receipt).map_err(Failure::into_error)
}

/// The receipt fields a success body carries.
pub(crate) trait ReceiptOf {
    fn receipt(&self) -> Receipt;
}

impl ReceiptOf for () {
    fn receipt(&self) -> Receipt {
        Receipt::default()
    }
}

impl ReceiptOf for Receipt {
    fn receipt(&self) -> Receipt {
        self.clone()
    }
}

fn send_period(
    deps: Deps,
    submission: Submission,
    credential_id: Uuid,
    run_id: String,
    attempt: u32,
) -> BoxFuture<Result<HmrcOutcome, inngest::Error>> {
    Box::pin(async move {
        let (payload, nino, headers) = read::<PeriodSubmission>(&deps, &submission)?;
        let body = match payload.body() {
            Ok(body) => body,
            Err(errors) => return Ok(refused_locally(errors)),
        };
        let business = payload.business_id.clone();
        let year = payload.tax_year;
        send_with(
            &deps,
            credential_id,
            &run_id,
            attempt,
            headers,
            move |caller| async move {
                let call = caller.context();
                let client = &caller.client;
                match &body {
                    PeriodBody::SelfEmploymentPeriod(summary) => client
                        .submit_self_employment_period(&call, &nino, &business, summary)
                        .await
                        .map(|r| {
                            r.map(|created| Receipt {
                                period_id: created.map(|c| c.period_id),
                                ..Receipt::default()
                            })
                        }),
                    PeriodBody::SelfEmploymentCumulative(summary) => client
                        .submit_self_employment_cumulative(&call, &nino, &business, year, summary)
                        .await
                        .map(|r| r.map(|()| Receipt::default())),
                    PeriodBody::UkPropertyPeriod(summary) => client
                        .submit_uk_property_period(&call, &nino, &business, year, summary)
                        .await
                        .map(|r| {
                            r.map(|created| Receipt {
                                submission_id: created.map(|c| c.submission_id),
                                ..Receipt::default()
                            })
                        }),
                    PeriodBody::UkPropertyCumulative(summary) => client
                        .submit_uk_property_cumulative(&call, &nino, &business, year, summary)
                        .await
                        .map(|r| r.map(|()| Receipt::default())),
                }
            },
        )
        .await
    })
}

fn send_annual(
    deps: Deps,
    submission: Submission,
    credential_id: Uuid,
    run_id: String,
    attempt: u32,
) -> BoxFuture<Result<HmrcOutcome, inngest::Error>> {
    Box::pin(async move {
        let (payload, nino, headers) = read::<AnnualSubmission>(&deps, &submission)?;
        if let Err(errors) = payload.validate() {
            return Ok(refused_locally(errors));
        }
        send_with(
            &deps,
            credential_id,
            &run_id,
            attempt,
            headers,
            move |caller| async move {
                let call = caller.context();
                let (business, year) = (&payload.business_id, payload.tax_year);
                match &payload.figures {
                    AnnualFigures::SelfEmployment(s) => {
                        caller
                            .client
                            .submit_self_employment_annual(&call, &nino, business, year, s)
                            .await
                    }
                    AnnualFigures::UkProperty(s) => {
                        caller
                            .client
                            .submit_uk_property_annual(&call, &nino, business, year, s)
                            .await
                    }
                }
            },
        )
        .await
    })
}

fn send_eops(
    deps: Deps,
    submission: Submission,
    credential_id: Uuid,
    run_id: String,
    attempt: u32,
) -> BoxFuture<Result<HmrcOutcome, inngest::Error>> {
    Box::pin(async move {
        let (payload, nino, headers) = read::<EopsSubmission>(&deps, &submission)?;
        let tax_year = match payload.tax_year() {
            Ok(year) => year,
            Err(errors) => return Ok(refused_locally(errors)),
        };
        if !tax_year.had_eops() {
            // No HTTP call: HMRC dropped EOPS from 2024-25.
            return Err(Failure::new(
                FailureKind::NotRequired,
                eops_not_required_message(tax_year),
            )
            .into_error());
        }
        let statement = payload.statement();
        if let Err(error) = statement.validate() {
            return Ok(refused_locally(PayloadErrors::from_hmrc(error)));
        }
        send_with(
            &deps,
            credential_id,
            &run_id,
            attempt,
            headers,
            move |caller| async move {
                let call = caller.context();
                caller
                    .client
                    .submit_end_of_period_statement(&call, &nino, &statement)
                    .await
            },
        )
        .await
    })
}

/// `submit-period`.
pub(crate) fn period(deps: Deps) -> Result<Function, FunctionConfigError> {
    builder(
        &deps,
        ids::SUBMIT_PERIOD,
        "Submit a quarterly update to HMRC",
        events::PERIOD_SUBMIT,
    )
    .build(move |ctx: Context<SubmissionRequested>| {
        flow(deps.clone(), ctx, SubmissionKind::Period, send_period)
    })
}

/// `submit-annual-summary`.
pub(crate) fn annual_summary(deps: Deps) -> Result<Function, FunctionConfigError> {
    builder(
        &deps,
        ids::SUBMIT_ANNUAL_SUMMARY,
        "Submit an annual summary to HMRC",
        events::ANNUAL_SUMMARY_SUBMIT,
    )
    .build(move |ctx: Context<SubmissionRequested>| {
        flow(
            deps.clone(),
            ctx,
            SubmissionKind::AnnualSummary,
            send_annual,
        )
    })
}

/// `submit-eops`.
pub(crate) fn eops(deps: Deps) -> Result<Function, FunctionConfigError> {
    builder(
        &deps,
        ids::SUBMIT_EOPS,
        "Submit an End of Period Statement to HMRC",
        events::EOPS_SUBMIT,
    )
    .build(move |ctx: Context<SubmissionRequested>| {
        flow(deps.clone(), ctx, SubmissionKind::Eops, send_eops)
    })
}
