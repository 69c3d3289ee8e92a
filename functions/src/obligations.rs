//! `fetch-obligations`: fetch a user's quarterly obligations, cache them per business and
//! record the fetch for audit (a submission row of kind `obligations_fetch`).

use chrono::{DateTime, Utc};
use hmrc_mtd::TaxYear;
use hmrc_mtd::obligations::IncomeAndExpenditureObligations;
use inngest::{Context, Function, FunctionConfigError};
use mtd_store::{Audit, Receipt, SubmissionKind};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::access::with_access;
use crate::events::{self, ObligationsFetchRequested, ids};
use crate::failure::{Failure, FailureKind, store_failure};
use crate::outcome::{self, Claim, HmrcOutcome, Settle};
use crate::payload::{ObligationsFetch, SubmissionPayload};
use crate::submit::{builder, load, read, refused_locally};
use crate::{BoxFuture, Deps};

/// The audit row a scheduled fetch records for itself.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct ScheduledRow {
    submission_id: Uuid,
    claim: Claim,
}

/// What the fetch step found.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "fetch", rename_all = "snake_case")]
enum Fetched {
    /// HMRC's obligations.
    Obligations {
        obligations: IncomeAndExpenditureObligations,
        correlation_id: Option<String>,
        http_status: u16,
        attempt: u32,
        fetched_at: DateTime<Utc>,
    },
    /// HMRC refused the query.
    Settled(HmrcOutcome),
}

/// `fetch-obligations`.
pub(crate) fn function(deps: Deps) -> Result<Function, FunctionConfigError> {
    builder(
        &deps,
        ids::FETCH_OBLIGATIONS,
        "Fetch HMRC obligations",
        events::OBLIGATIONS_FETCH,
    )
    .build(move |ctx: Context<ObligationsFetchRequested>| run(deps.clone(), ctx))
}

async fn run(deps: Deps, ctx: Context<ObligationsFetchRequested>) -> Result<Value, inngest::Error> {
    let request = ctx.event.data;
    let credential_id = request.credential_id;
    let (submission_id, claim) = match request.submission_id {
        Some(submission_id) => {
            match outcome::claim(
                &ctx.step,
                &deps,
                &ctx.run_id,
                SubmissionKind::ObligationsFetch,
                submission_id,
                credential_id,
            )
            .await
            {
                Ok(claim) => (submission_id, claim),
                Err(error) => {
                    return Err(
                        outcome::fail_unclaimed(&ctx.step, Some(submission_id), &error).await,
                    );
                }
            }
        }
        None => {
            let (d, run_id) = (deps.clone(), ctx.run_id.clone());
            let recorded = ctx
                .step
                .run("record-scheduled-fetch", move || {
                    record_scheduled(d, credential_id, run_id)
                })
                .await;
            match recorded {
                Ok(Some(row)) => (row.submission_id, row.claim),
                Ok(None) => {
                    return Ok(json!({
                        "credential_id": credential_id,
                        "skipped": "the credential is expired; the user must reconnect first",
                    }));
                }
                Err(error) => return Err(outcome::fail_unclaimed(&ctx.step, None, &error).await),
            }
        }
    };
    if let Some(done) = claim.skipped(submission_id) {
        return Ok(serde_json::to_value(done).unwrap_or(Value::Null));
    }
    let settle = Settle {
        step: &ctx.step,
        deps: &deps,
        run_id: &ctx.run_id,
        submission_id,
        credential_id,
        claim: &claim,
        user_facing: false,
    };
    let (d, run_id, attempt) = (deps.clone(), ctx.run_id.clone(), ctx.attempt);
    let fetched = ctx
        .step
        .run("fetch-obligations", move || {
            fetch(d, submission_id, credential_id, run_id, attempt)
        })
        .await;
    let (obligations, correlation_id, http_status, attempt, fetched_at) = match fetched {
        Ok(Fetched::Obligations {
            obligations,
            correlation_id,
            http_status,
            attempt,
            fetched_at,
        }) => (
            obligations,
            correlation_id,
            http_status,
            attempt,
            fetched_at,
        ),
        Ok(Fetched::Settled(outcome)) => return settle.record(outcome).await.map(to_json),
        Err(error) => return Err(settle.fail(Failure::from_step_error(&error)).await),
    };
    let (d, user_id, nino) = (deps.clone(), claim.user_id.clone(), claim.nino.clone());
    let businesses = obligations.obligations.clone();
    let cached: usize = ctx
        .step
        .run("cache-obligations", move || async move {
            let mut count = 0;
            for business in &businesses {
                let value = serde_json::to_value(business).map_err(|e| {
                    Failure::new(
                        FailureKind::Unexpected,
                        format!("the obligations cannot be stored as JSON: {e}"),
                    )
                    .into_error()
                })?;
                d.store
                    .obligations()
                    .put(
                        &user_id,
                        business.business_id.as_str(),
                        &nino,
                        &value,
                        fetched_at,
                    )
                    .await
                    .map_err(|e| store_failure("caching the obligations", &e).into_error())?;
                count += 1;
            }
            Ok(count)
        })
        .await?;
    let result = settle
        .record(HmrcOutcome::Accepted {
            receipt: Receipt {
                correlation_id,
                ..Receipt::default()
            },
            http_status,
            attempt,
            warnings: Vec::new(),
        })
        .await?;
    let mut value = to_json(result);
    value["businesses_cached"] = json!(cached);
    value["obligations"] = serde_json::to_value(&obligations).unwrap_or(Value::Null);
    Ok(value)
}

fn to_json(result: crate::RunResult) -> Value {
    serde_json::to_value(result).unwrap_or(Value::Null)
}

/// The `record-scheduled-fetch` step: the audit row of a fetch nobody started, with this
/// server's `BATCH_PROCESS_DIRECT` header values. `None` when the credential is expired.
fn record_scheduled(
    deps: Deps,
    credential_id: Uuid,
    run_id: String,
) -> BoxFuture<Result<Option<ScheduledRow>, inngest::Error>> {
    Box::pin(async move {
        let credential = deps
            .store
            .credentials()
            .get(credential_id)
            .await
            .map_err(|e| store_failure("loading the credential", &e).into_error())?
            .ok_or_else(|| {
                Failure::new(
                    FailureKind::Misconfiguration,
                    format!("there is no HMRC credential {credential_id}"),
                )
                .into_error()
            })?;
        if !credential.is_active() {
            return Ok(None);
        }
        let now = Utc::now();
        let tax_year = TaxYear::containing(now.date_naive()).map_err(|e| {
            Failure::new(
                FailureKind::Unexpected,
                format!("no tax year contains today: {e}"),
            )
            .into_error()
        })?;
        let payload = ObligationsFetch {
            tax_year: Some(tax_year),
            ..ObligationsFetch::default()
        };
        let new = payload
            .new_submission(&credential.user_id, &credential.nino)
            .map_err(|e| Failure::new(FailureKind::Unexpected, e.to_string()).into_error())?
            .fraud_headers(deps.vendor.batch_header_values(now))
            .inngest_run_id(run_id.clone())
            .idempotency_key(format!("scheduled-obligations:{run_id}"));
        let submission = deps
            .store
            .submissions()
            .create(
                &new,
                &Audit::new(format!("inngest:{run_id}"), "scheduled obligations refresh"),
            )
            .await
            .map_err(|e| store_failure("recording the scheduled fetch", &e).into_error())?;
        Ok(Some(ScheduledRow {
            submission_id: submission.id,
            claim: Claim {
                user_id: submission.user_id,
                nino: submission.nino,
                kind: SubmissionKind::ObligationsFetch,
                tax_year: submission.tax_year,
                finished: None,
                other_run: None,
            },
        }))
    })
}

fn fetch(
    deps: Deps,
    submission_id: Uuid,
    credential_id: Uuid,
    run_id: String,
    attempt: u32,
) -> BoxFuture<Result<Fetched, inngest::Error>> {
    Box::pin(async move {
        let submission = load(&deps, submission_id).await?;
        let (payload, nino, headers) = read::<ObligationsFetch>(&deps, &submission)?;
        if let Err(errors) = payload.validate() {
            return Ok(Fetched::Settled(refused_locally(errors)));
        }
        let query = payload.query();
        let answer = with_access(
            deps.clone(),
            credential_id,
            run_id.clone(),
            headers,
            move |caller| async move {
                let call = caller.context();
                caller
                    .client
                    .income_and_expenditure_obligations(&call, &nino, &query)
                    .await
            },
        )
        .await
        .map_err(Failure::into_error)?;
        match answer {
            Ok(response) => Ok(Fetched::Obligations {
                obligations: response.body,
                correlation_id: response.correlation_id,
                http_status: response.status,
                attempt: attempt + 1,
                fetched_at: Utc::now(),
            }),
            Err(error) => {
                HmrcOutcome::from_answer::<()>(Err(error), attempt, |_| Receipt::default())
                    .map(Fetched::Settled)
                    .map_err(Failure::into_error)
            }
        }
    })
}
