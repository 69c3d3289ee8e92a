//! `submit-crystallisation`: trigger the final calculation, wait for it with durable sleeps,
//! make the final declaration, record the outcome.

use hmrc_mtd::CalculationId;
use hmrc_mtd::calculations::CalculationStatus;
use inngest::{Context, Function, FunctionConfigError};
use mtd_store::{Receipt, RejectionError, SubmissionKind};
use serde::{Deserialize, Serialize};

use crate::events::{self, SubmissionRequested, ids};
use crate::failure::{Failure, FailureKind};
use crate::outcome::{self, HmrcOutcome, RunResult, Settle};
use crate::payload::CrystallisationSubmission;
use crate::submit::{builder, load, read, send_with};
use crate::{BoxFuture, Deps};
use uuid::Uuid;

/// What one check of the calculation found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "calculation", rename_all = "snake_case")]
enum CalculationCheck {
    /// Still running (HMRC answered 404).
    NotReady,
    /// Done.
    Ready {
        /// `totalIncomeTaxAndNicsDue`, as text, when HMRC gave it.
        total_income_tax_and_nics_due: Option<String>,
        /// The calculation's error messages (a declaration needs none).
        errors: Vec<RejectionError>,
        /// HMRC's `X-CorrelationId`.
        correlation_id: Option<String>,
    },
    /// HMRC refused the retrieval (recorded as the submission's outcome).
    Settled(HmrcOutcome),
}

/// `submit-crystallisation`.
pub(crate) fn function(deps: Deps) -> Result<Function, FunctionConfigError> {
    builder(
        &deps,
        ids::SUBMIT_CRYSTALLISATION,
        "Make the final declaration to HMRC",
        events::CRYSTALLISATION_SUBMIT,
    )
    .build(move |ctx: Context<SubmissionRequested>| run(deps.clone(), ctx))
}

async fn run(deps: Deps, ctx: Context<SubmissionRequested>) -> Result<RunResult, inngest::Error> {
    let request = ctx.event.data;
    let (submission_id, credential_id) = (request.submission_id, request.credential_id);
    let claim = match outcome::claim(
        &ctx.step,
        &deps,
        &ctx.run_id,
        SubmissionKind::Crystallisation,
        submission_id,
        credential_id,
    )
    .await
    {
        Ok(claim) => claim,
        Err(error) => {
            return Err(outcome::fail_unclaimed(&ctx.step, Some(submission_id), &error).await);
        }
    };
    if let Some(done) = claim.skipped(submission_id) {
        return Ok(done);
    }
    let settle = Settle {
        step: &ctx.step,
        deps: &deps,
        run_id: &ctx.run_id,
        submission_id,
        credential_id,
        claim: &claim,
        user_facing: true,
    };

    // 1. Intent to finalise: HMRC starts the calculation the declaration is made against.
    let (d, run_id, attempt) = (deps.clone(), ctx.run_id.clone(), ctx.attempt);
    let triggered = ctx
        .step
        .run("intent-to-finalise", move || {
            trigger(d, submission_id, credential_id, run_id, attempt)
        })
        .await;
    let calculation_id = match triggered {
        Ok(HmrcOutcome::Accepted { receipt, .. }) => match receipt.calculation_id {
            Some(id) => id,
            None => {
                return Err(settle
                    .fail(Failure::new(
                        FailureKind::Unexpected,
                        "HMRC accepted the intent to finalise without a calculation id",
                    ))
                    .await);
            }
        },
        // Already declared (a duplicate), or refused: that is the outcome.
        Ok(other) => return settle.record(other).await,
        Err(error) => return Err(settle.fail(Failure::from_step_error(&error)).await),
    };

    // 2. Wait for the calculation: durable sleeps between bounded checks.
    let settings = &deps.settings;
    let polls = settings.calculation_max_polls.max(1);
    ctx.step
        .sleep("wait-for-calculation", settings.calculation_first_wait)
        .await?;
    let mut ready = None;
    for poll in 0..polls {
        if poll > 0 {
            ctx.step
                .sleep("wait-for-calculation", settings.calculation_poll_interval)
                .await?;
        }
        let (d, run_id, attempt, id) = (
            deps.clone(),
            ctx.run_id.clone(),
            ctx.attempt,
            calculation_id.clone(),
        );
        let check = ctx
            .step
            .run("retrieve-calculation", move || {
                retrieve(d, submission_id, credential_id, run_id, attempt, id)
            })
            .await;
        match check {
            Ok(CalculationCheck::NotReady) => {}
            Ok(CalculationCheck::Ready {
                errors,
                correlation_id,
                ..
            }) => {
                ready = Some((errors, correlation_id));
                break;
            }
            Ok(CalculationCheck::Settled(outcome)) => return settle.record(outcome).await,
            Err(error) => return Err(settle.fail(Failure::from_step_error(&error)).await),
        }
    }
    let Some((errors, correlation_id)) = ready else {
        let waited = settings.calculation_first_wait
            + settings.calculation_poll_interval * polls.saturating_sub(1);
        return Err(settle
            .fail(Failure::new(
                FailureKind::Transient,
                format!(
                    "HMRC's calculation {calculation_id} was still not ready after {polls} checks \
                     over {}s; the final declaration was not made",
                    waited.as_secs()
                ),
            ))
            .await);
    };
    if !errors.is_empty() {
        // The calculation has errors: HMRC would refuse the declaration; the user must fix them.
        return settle
            .rejected(
                Some(200),
                Some("CALCULATION_ERRORS".to_owned()),
                correlation_id,
                errors,
            )
            .await;
    }

    // 3. The declaration.
    let (d, run_id, attempt, id) = (
        deps.clone(),
        ctx.run_id.clone(),
        ctx.attempt,
        calculation_id.clone(),
    );
    let declared = ctx
        .step
        .run("final-declaration", move || {
            declare(d, submission_id, credential_id, run_id, attempt, id)
        })
        .await;
    settle.outcome(declared).await
}

fn parse_id(id: &str) -> Result<CalculationId, inngest::Error> {
    CalculationId::new(id).map_err(|e| {
        Failure::new(
            FailureKind::Unexpected,
            format!("HMRC's calculation id {id:?} is not valid: {e}"),
        )
        .into_error()
    })
}

/// Puts the calculation id on the receipt of a declaration.
fn with_calculation(outcome: HmrcOutcome, id: &str) -> HmrcOutcome {
    match outcome {
        HmrcOutcome::Accepted {
            mut receipt,
            http_status,
            attempt,
            warnings,
        } => {
            receipt.calculation_id = Some(id.to_owned());
            HmrcOutcome::Accepted {
                receipt,
                http_status,
                attempt,
                warnings,
            }
        }
        HmrcOutcome::Duplicate {
            mut receipt,
            http_status,
            code,
            message,
            attempt,
        } => {
            receipt.calculation_id = Some(id.to_owned());
            HmrcOutcome::Duplicate {
                receipt,
                http_status,
                code,
                message,
                attempt,
            }
        }
        rejected => rejected,
    }
}

fn trigger(
    d: Deps,
    submission_id: Uuid,
    credential_id: Uuid,
    run_id: String,
    attempt: u32,
) -> BoxFuture<Result<HmrcOutcome, inngest::Error>> {
    Box::pin(async move {
        let submission = load(&d, submission_id).await?;
        let (payload, nino, headers) = read::<CrystallisationSubmission>(&d, &submission)?;
        send_with(
            &d,
            credential_id,
            &run_id,
            attempt,
            headers,
            move |caller| async move {
                let call = caller.context();
                caller
                    .client
                    .trigger_final_declaration_calculation(&call, &nino, payload.tax_year)
                    .await
                    .map(|r| {
                        r.map(|t| Receipt {
                            calculation_id: Some(t.calculation_id.as_str().to_owned()),
                            ..Receipt::default()
                        })
                    })
            },
        )
        .await
    })
}

fn declare(
    d: Deps,
    submission_id: Uuid,
    credential_id: Uuid,
    run_id: String,
    attempt: u32,
    id: String,
) -> BoxFuture<Result<HmrcOutcome, inngest::Error>> {
    Box::pin(async move {
        let submission = load(&d, submission_id).await?;
        let (payload, nino, headers) = read::<CrystallisationSubmission>(&d, &submission)?;
        let calculation = parse_id(&id)?;
        let outcome = send_with(
            &d,
            credential_id,
            &run_id,
            attempt,
            headers,
            move |caller| async move {
                let call = caller.context();
                caller
                    .client
                    .submit_final_declaration(&call, &nino, payload.tax_year, &calculation)
                    .await
            },
        )
        .await?;
        Ok(with_calculation(outcome, &id))
    })
}

fn retrieve(
    deps: Deps,
    submission_id: Uuid,
    credential_id: Uuid,
    run_id: String,
    attempt: u32,
    id: String,
) -> BoxFuture<Result<CalculationCheck, inngest::Error>> {
    Box::pin(async move {
        let submission = load(&deps, submission_id).await?;
        let (payload, nino, headers) = read::<CrystallisationSubmission>(&deps, &submission)?;
        let calculation = parse_id(&id)?;
        let answer = crate::access::with_access(
            deps.clone(),
            credential_id,
            run_id.clone(),
            headers,
            move |caller| async move {
                let call = caller.context();
                caller
                    .client
                    .retrieve_calculation(&call, &nino, payload.tax_year, &calculation)
                    .await
            },
        )
        .await
        .map_err(Failure::into_error)?;
        match answer {
            Ok(response) => Ok(match response.body {
                CalculationStatus::NotReady => CalculationCheck::NotReady,
                CalculationStatus::Ready(calculation) => CalculationCheck::Ready {
                    total_income_tax_and_nics_due: calculation
                        .total_income_tax_and_nics_due()
                        .map(|m| m.amount().to_string()),
                    errors: calculation
                        .errors()
                        .iter()
                        .map(|m| RejectionError {
                            code: m.id.clone(),
                            message: m.text.clone(),
                            paths: Vec::new(),
                        })
                        .collect(),
                    correlation_id: response.correlation_id,
                },
            }),
            Err(error) => {
                HmrcOutcome::from_answer::<()>(Err(error), attempt, |_| Receipt::default())
                    .map(CalculationCheck::Settled)
                    .map_err(Failure::into_error)
            }
        }
    })
}
