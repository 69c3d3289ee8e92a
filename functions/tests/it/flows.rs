//! The flows that end well (accepted, duplicate) or with HMRC's refusal of the figures.

use chrono::{TimeZone, Utc};
use hmrc_mtd::property::{PropertyExpenses, PropertyIncome, UkPropertyFigures};
use hmrc_mtd::self_employment::{
    SelfEmploymentAllowances, SelfEmploymentAnnualSubmission, SelfEmploymentExpenses,
    SelfEmploymentIncome,
};
use hmrc_mtd::{CallContext, TaxYear, TypeOfBusiness, fraud::FraudPreventionHeaders};
use hmrc_sandbox::{BusinessType, FaultAction, FaultError};
use inngest_local::RunStatus;
use mtd_functions::payload::{
    AnnualFigures, AnnualSubmission, EopsSubmission, PeriodFigures, PeriodSubmission,
    SelfEmploymentFigures, UkPropertyPeriodFigures,
};
use mtd_store::{FailureReason, NotificationKind, SubmissionKind, SubmissionStatus};

use crate::support::{Options, Stack, attempts, captured};

pub(crate) fn se_period(stack: &Stack, year: &str, quarter: usize) -> PeriodSubmission {
    let tax_year: TaxYear = year.parse().unwrap();
    let q = tax_year.quarters()[quarter];
    PeriodSubmission {
        business_id: stack.business(BusinessType::SelfEmployment),
        tax_year,
        period_start: q.start,
        period_end: q.end,
        figures: PeriodFigures::SelfEmployment(SelfEmploymentFigures {
            income: Some(SelfEmploymentIncome {
                turnover: Some("12500.00".parse().unwrap()),
                ..Default::default()
            }),
            expenses: Some(SelfEmploymentExpenses::consolidated(
                "3100.45".parse().unwrap(),
            )),
            disallowable_expenses: None,
        }),
    }
}

pub(crate) fn se_annual(stack: &Stack) -> AnnualSubmission {
    AnnualSubmission {
        business_id: stack.business(BusinessType::SelfEmployment),
        tax_year: "2024-25".parse().unwrap(),
        figures: AnnualFigures::SelfEmployment(SelfEmploymentAnnualSubmission {
            allowances: Some(SelfEmploymentAllowances {
                annual_investment_allowance: Some("1500.00".parse().unwrap()),
                ..Default::default()
            }),
            ..Default::default()
        }),
    }
}

#[tokio::test]
async fn a_2024_25_period_summary_is_accepted_and_recorded_with_hmrcs_period_id() {
    let stack = Stack::start().await;
    let (id, run) = stack.submit(&se_period(&stack, "2024-25", 0)).await;
    assert_eq!(run.status, RunStatus::Completed, "{:?}", run.error);
    let submission = stack.submission(id).await;
    assert_eq!(submission.status, SubmissionStatus::Submitted);
    let receipt = submission.receipt.unwrap();
    assert_eq!(receipt.period_id.as_deref(), Some("2024-04-06_2024-07-05"));
    let sent = stack.requests_to("se-period-create");
    assert_eq!(sent.len(), 1);
    assert_eq!(
        receipt.correlation_id.as_deref(),
        Some(sent[0].correlation_id.as_str())
    );
    assert_eq!(submission.inngest_run_id.as_deref(), Some(run.id.as_str()));
    // The captured WEB_APP_VIA_SERVER headers were replayed as they were captured.
    assert_eq!(
        sent[0].headers["gov-client-connection-method"],
        "WEB_APP_VIA_SERVER"
    );
    assert_eq!(sent[0].headers["gov-client-public-ip"], "198.51.100.7");
    let output = run.output.unwrap();
    assert_eq!(output["status"], "submitted");
    assert_eq!(output["receipt"]["period_id"], "2024-04-06_2024-07-05");
    let kinds: Vec<_> = stack.notifications().await.iter().map(|n| n.kind).collect();
    assert_eq!(kinds, vec![NotificationKind::SubmissionAccepted]);
    stack.stop().await;
}

#[tokio::test]
async fn a_2025_26_uk_property_update_is_sent_as_a_cumulative_summary_and_accepted() {
    let stack = Stack::start().await;
    let year: TaxYear = "2025-26".parse().unwrap();
    let payload = PeriodSubmission {
        business_id: stack.business(BusinessType::UkProperty),
        tax_year: year,
        period_start: year.start_date(),
        period_end: year.quarters()[1].end,
        figures: PeriodFigures::UkProperty(UkPropertyPeriodFigures {
            uk_property: Some(UkPropertyFigures {
                income: Some(PropertyIncome {
                    period_amount: Some("3000.00".parse().unwrap()),
                    ..Default::default()
                }),
                expenses: Some(PropertyExpenses {
                    premises_running_costs: Some("500.00".parse().unwrap()),
                    ..Default::default()
                }),
            }),
            fhl: None,
        }),
    };
    let (id, run) = stack.submit(&payload).await;
    assert_eq!(run.status, RunStatus::Completed, "{:?}", run.error);
    assert_eq!(
        stack.submission(id).await.status,
        SubmissionStatus::Submitted
    );
    let sent = stack.requests_to("uk-property-cumulative");
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].method, "PUT");
    assert!(sent[0].uri.ends_with("/cumulative/2025-26"));
    stack.stop().await;
}

#[tokio::test]
async fn figures_hmrc_refuses_are_recorded_rejected_with_every_code_message_and_path() {
    let stack = Stack::start().await;
    stack.fault(
        "se-period-create",
        FaultAction::InvalidRequest {
            status: 400,
            errors: vec![
                FaultError::new(
                    "FORMAT_VALUE",
                    "The value must be between 0 and 99999999999.99",
                    &["/periodIncome/turnover"],
                ),
                FaultError::new(
                    "RULE_BOTH_EXPENSES_SUPPLIED",
                    "Both expenses and consolidatedExpenses must not be present at the same time",
                    &[
                        "/periodExpenses/consolidatedExpenses",
                        "/periodExpenses/costOfGoods",
                    ],
                ),
            ],
        },
        Some(1),
    );
    let (id, run) = stack.submit(&se_period(&stack, "2024-25", 0)).await;
    assert_eq!(
        run.status,
        RunStatus::Completed,
        "a refusal is not an error of the run"
    );
    assert_eq!(attempts(&run, "submit-to-hmrc").len(), 1);
    let submission = stack.submission(id).await;
    assert_eq!(submission.status, SubmissionStatus::Rejected);
    let errors: Vec<_> = submission
        .rejection_errors
        .iter()
        .map(|e| (e.code.as_str(), e.paths.clone()))
        .collect();
    assert_eq!(
        errors,
        vec![
            ("FORMAT_VALUE", vec!["/periodIncome/turnover".to_owned()]),
            (
                "RULE_BOTH_EXPENSES_SUPPLIED",
                vec![
                    "/periodExpenses/consolidatedExpenses".to_owned(),
                    "/periodExpenses/costOfGoods".to_owned()
                ]
            ),
        ]
    );
    assert!(
        submission.rejection_errors[0]
            .message
            .contains("between 0 and")
    );
    assert_eq!(submission.hmrc_answer.unwrap().http_status, 400);
    let notes = stack.notifications().await;
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0].kind, NotificationKind::FiguresRejected);
    assert_eq!(notes[0].title, "HMRC refused these figures");
    assert!(notes[0].body.contains("/periodIncome/turnover"));
    assert!(notes[0].body.contains("/periodExpenses/costOfGoods"));
    stack.stop().await;
}

#[tokio::test]
async fn figures_refused_before_sending_are_rejected_with_no_hmrc_answer_and_no_call() {
    let stack = Stack::start().await;
    // A row that skipped the app's validation (an older release stored it): consolidated and
    // itemised expenses together, which HMRC's rules refuse and the client checks locally.
    let payload = se_period(&stack, "2024-25", 0);
    let mut json = serde_json::to_value(&payload).unwrap();
    json["figures"]["self-employment"]["expenses"]["costOfGoods"] = serde_json::json!(10.5);
    let new = mtd_store::NewSubmission::new(
        SubmissionKind::Period,
        crate::support::APP_USER,
        stack.nino(),
        json,
    )
    .business_id(payload.business_id.as_str())
    .tax_year("2024-25")
    .period(payload.period_start, payload.period_end)
    .fraud_headers(mtd_functions::fraud::capture(&captured()));
    let id = stack
        .store
        .submissions()
        .create(
            &new,
            &mtd_store::Audit::new("user:alice", "asked to submit"),
        )
        .await
        .unwrap()
        .id;
    let run = stack.run(SubmissionKind::Period, id).await;
    assert_eq!(run.status, RunStatus::Completed, "{:?}", run.error);
    let submission = stack.submission(id).await;
    assert_eq!(submission.status, SubmissionStatus::Rejected);
    assert_eq!(
        submission.rejection_errors[0].code,
        "RULE_BOTH_EXPENSES_SUPPLIED"
    );
    assert_eq!(submission.hmrc_answer, None, "HMRC never answered");
    assert!(stack.requests_to("se-period-create").is_empty());
    stack.stop().await;
}

#[tokio::test]
async fn a_duplicate_on_a_retried_submission_is_recorded_as_submitted_not_rejected() {
    let stack = Stack::start().await;
    let payload = se_period(&stack, "2024-25", 0);
    // An earlier attempt reached HMRC (its answer was lost)...
    let headers = FraudPreventionHeaders::WebAppViaServer(captured());
    let call = CallContext::new(&stack.tokens.access_token, &headers);
    let mtd_functions::payload::PeriodBody::SelfEmploymentPeriod(body) = payload.body().unwrap()
    else {
        panic!("2024-25 is a period summary")
    };
    let nino = hmrc_mtd::Nino::new(&stack.nino()).unwrap();
    stack
        .api
        .submit_self_employment_period(&call, &nino, &payload.business_id, &body)
        .await
        .unwrap();
    // ...and the run's first attempt fails transiently, so its retry meets the duplicate.
    stack.fault(
        "se-period-create",
        FaultAction::Status {
            status: 503,
            code: None,
            message: None,
        },
        Some(1),
    );
    let (id, run) = stack.submit(&payload).await;
    assert_eq!(run.status, RunStatus::Completed, "{:?}", run.error);
    let tries = attempts(&run, "submit-to-hmrc");
    assert_eq!(tries.len(), 2);
    let submission = stack.submission(id).await;
    assert_eq!(submission.status, SubmissionStatus::Submitted);
    assert!(submission.rejection_errors.is_empty());
    assert_eq!(
        submission.hmrc_answer.unwrap().code.as_deref(),
        Some("RULE_DUPLICATE_SUBMISSION")
    );
    let history = stack.store.submissions().history(id).await.unwrap();
    let last = history.last().unwrap();
    assert_eq!(last.to, SubmissionStatus::Submitted);
    assert!(last.reason.contains("already held"), "{}", last.reason);
    assert!(last.reason.contains("not rejected"), "{}", last.reason);
    stack.stop().await;
}

#[tokio::test]
async fn an_annual_summary_is_accepted() {
    let stack = Stack::start().await;
    let (id, run) = stack.submit(&se_annual(&stack)).await;
    assert_eq!(run.status, RunStatus::Completed, "{:?}", run.error);
    assert_eq!(
        stack.submission(id).await.status,
        SubmissionStatus::Submitted
    );
    let sent = stack.requests_to("se-annual");
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0].body.as_ref().unwrap()["allowances"]["annualInvestmentAllowance"],
        1500.0
    );
    stack.stop().await;
}

#[tokio::test]
async fn an_eops_for_2023_24_is_accepted_with_the_simulator_clock_in_2024() {
    let stack = Stack::with(Options {
        day: Utc.with_ymd_and_hms(2024, 6, 1, 9, 0, 0).unwrap(),
        ..Options::default()
    })
    .await;
    let year: TaxYear = "2023-24".parse().unwrap();
    let payload = EopsSubmission {
        type_of_business: TypeOfBusiness::SelfEmployment,
        business_id: stack.business(BusinessType::SelfEmployment),
        period_start: year.start_date(),
        period_end: year.end_date(),
    };
    let (id, run) = stack.submit(&payload).await;
    assert_eq!(run.status, RunStatus::Completed, "{:?}", run.error);
    assert_eq!(
        stack.submission(id).await.status,
        SubmissionStatus::Submitted
    );
    assert_eq!(stack.requests_to("eops-submit").len(), 1);
    stack.stop().await;
}

#[tokio::test]
async fn an_eops_for_2025_26_is_not_required_fails_without_retry_and_sends_nothing() {
    let stack = Stack::start().await;
    let year: TaxYear = "2025-26".parse().unwrap();
    let payload = EopsSubmission {
        type_of_business: TypeOfBusiness::SelfEmployment,
        business_id: stack.business(BusinessType::SelfEmployment),
        period_start: year.start_date(),
        period_end: year.end_date(),
    };
    // The app is offered the check up front...
    let refused = mtd_functions::payload::SubmissionPayload::validate(&payload).unwrap_err();
    assert_eq!(refused.fields(), vec!["period_end"]);
    // ...and a row created without it is refused by the function, with no HTTP call.
    let new = mtd_store::NewSubmission::new(
        SubmissionKind::Eops,
        crate::support::APP_USER,
        stack.nino(),
        serde_json::to_value(&payload).unwrap(),
    )
    .fraud_headers(mtd_functions::fraud::capture(&captured()));
    let id = stack
        .store
        .submissions()
        .create(&new, &mtd_store::Audit::new("user:alice", "asked"))
        .await
        .unwrap()
        .id;
    let run = stack.run(SubmissionKind::Eops, id).await;
    assert_eq!(run.status, RunStatus::Failed);
    let tries = attempts(&run, "submit-to-hmrc");
    assert_eq!(tries.len(), 1);
    assert_eq!(tries[0].outcome, "failed");
    assert!(stack.requests_to("eops-submit").is_empty());
    let submission = stack.submission(id).await;
    assert_eq!(submission.status, SubmissionStatus::Failed);
    let failure = submission.failure.unwrap();
    assert_eq!(failure.reason, FailureReason::Misconfiguration);
    assert!(failure.detail.contains("not required for tax year 2025-26"));
    assert!(stack.credential().await.is_active());
    let notes = stack.notifications().await;
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0].kind, NotificationKind::SubmissionFailed);
    assert!(notes[0].body.contains("not required"));
    stack.stop().await;
}
