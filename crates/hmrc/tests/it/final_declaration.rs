//! Final declaration (Individual Calculations API v8.0) against the simulator: trigger,
//! retrieve until ready, declare, and what HMRC says before, during and after.

use std::time::Duration;

use hmrc_mtd::{Error, ObligationStatus, TransientKind, calculations::CalculationStatus};
use hmrc_sandbox::FaultAction;

use crate::{
    sim::Sim,
    support::{Flow, ty},
};

#[tokio::test]
async fn final_declaration_triggers_waits_for_the_calculation_then_declares() {
    // HMRC's own pace: a calculation takes 5 seconds (on the simulator's clock).
    let sim = Sim::start_with(|b| b.calculation_delay(Duration::from_secs(5))).await;
    let year = ty("2024-25");
    let call = sim.call();
    let nino = &sim.ids.nino;
    sim.run(Flow::SelfEmploymentPeriod).await.unwrap();

    let triggered = sim
        .api
        .trigger_final_declaration_calculation(&call, nino, year)
        .await
        .unwrap();
    assert_eq!(triggered.status, 202);
    let id = triggered.body.calculation_id;

    // Not ready yet: HMRC answers 404, which the client reports as NotReady.
    let status = sim
        .api
        .retrieve_calculation(&call, nino, year, &id)
        .await
        .unwrap();
    assert_eq!(status.body, CalculationStatus::NotReady);
    assert_eq!(status.status, 404);
    assert_eq!(
        status.correlation_id.as_deref(),
        Some(
            sim.last_request_to(Flow::RetrieveCalculation)
                .correlation_id
                .as_str()
        )
    );

    // Declaring or triggering again while it runs is worth retrying later.
    let declaring = sim
        .api
        .submit_final_declaration(&call, nino, year, &id)
        .await
        .unwrap_err();
    let triggering = sim
        .api
        .trigger_final_declaration_calculation(&call, nino, year)
        .await
        .unwrap_err();
    for (err, code) in [
        (declaring, "RULE_FINAL_DECLARATION_IN_PROGRESS"),
        (triggering, "RULE_CALCULATION_IN_PROGRESS"),
    ] {
        assert!(
            matches!(&err, Error::Transient { kind: TransientKind::InProgress, code: Some(c), .. } if c == code),
            "{err:?}"
        );
    }

    sim.admin()
        .advance_clock(chrono::TimeDelta::seconds(5))
        .unwrap();
    let status = sim
        .api
        .retrieve_calculation(&call, nino, year, &id)
        .await
        .unwrap();
    let CalculationStatus::Ready(calculation) = status.body else {
        panic!("the calculation is ready after 5 seconds")
    };
    assert_eq!(calculation.metadata.tax_year, "2024-25");
    assert_eq!(calculation.metadata.calculation_id, id.as_str());
    assert!(calculation.total_income_tax_and_nics_due().is_some());
    assert!(calculation.errors().is_empty());

    let declared = sim
        .api
        .submit_final_declaration(&call, nino, year, &id)
        .await
        .unwrap();
    assert_eq!(declared.status, 204);
    // A second declaration (a retry whose first answer was lost) is recognised.
    let again = sim
        .api
        .submit_final_declaration(&call, nino, year, &id)
        .await
        .unwrap_err();
    assert!(again.is_duplicate_submission(), "{again:?}");
    assert_eq!(again.code(), Some("RULE_FINAL_DECLARATION_RECEIVED"));

    // The final-declaration obligation is now met.
    let obligations = sim
        .api
        .final_declaration_obligations(&call, nino, Some(year), None)
        .await
        .unwrap();
    assert_eq!(
        obligations.body.obligations[0].status,
        ObligationStatus::Fulfilled
    );
    assert_eq!(
        obligations.body.obligations[0]
            .received_date
            .map(|d| d.to_string())
            .as_deref(),
        Some("2025-10-20")
    );

    let calls: Vec<_> = sim
        .admin()
        .requests()
        .iter()
        .map(|r| (r.endpoint.clone(), r.status))
        .collect();
    assert_eq!(
        calls,
        [
            ("se-period-create".to_owned(), 200),
            ("calculation-trigger".to_owned(), 202),
            ("calculation-retrieve".to_owned(), 404),
            ("calculation-final-declaration".to_owned(), 400),
            ("calculation-trigger".to_owned(), 400),
            ("calculation-retrieve".to_owned(), 200),
            ("calculation-final-declaration".to_owned(), 204),
            ("calculation-final-declaration".to_owned(), 400),
            ("obligations-crystallisation".to_owned(), 200),
        ]
    );
}

#[tokio::test]
async fn declaring_or_triggering_after_hmrc_received_the_declaration_is_a_duplicate_submission() {
    let mut sim = Sim::start().await;
    sim.prepare(Flow::FinalDeclaration).await;
    sim.run(Flow::FinalDeclaration).await.unwrap();
    // The retry of a declaration whose answer was lost, and a new attempt from the start.
    for flow in [Flow::FinalDeclaration, Flow::TriggerCalculation] {
        let err = sim.run(flow).await.unwrap_err();
        assert!(err.is_duplicate_submission(), "{flow:?}: {err:?}");
        assert_eq!(err.code(), Some("RULE_FINAL_DECLARATION_RECEIVED"));
        assert_eq!(
            err.correlation_id(),
            Some(sim.last_request_to(flow).correlation_id.as_str())
        );
    }
}

#[tokio::test]
async fn declaring_a_calculation_older_than_the_latest_submission_is_rejected() {
    let mut sim = Sim::start().await;
    sim.prepare(Flow::FinalDeclaration).await;
    // Figures sent after the calculation make it stale.
    sim.run(Flow::UkPropertyPeriod).await.unwrap();
    let err = sim.run(Flow::FinalDeclaration).await.unwrap_err();
    assert!(err.is_rejected(), "{err:?}");
    assert_eq!(err.code(), Some("RULE_RECENT_SUBMISSIONS_EXIST"));
    // A new calculation covers them and can be declared.
    sim.ids.calculation_id = sim.trigger_2024_25().await;
    sim.run(Flow::FinalDeclaration).await.unwrap();
}

#[tokio::test]
async fn a_calculation_cannot_be_triggered_before_the_year_ends_or_without_income() {
    let sim = Sim::start().await;
    let (call, nino) = (sim.call(), &sim.ids.nino);
    let before_income = sim
        .api
        .trigger_final_declaration_calculation(&call, nino, ty("2024-25"))
        .await
        .unwrap_err();
    assert_eq!(
        before_income.code(),
        Some("RULE_NO_INCOME_SUBMISSIONS_EXIST")
    );
    let unfinished_year = sim
        .api
        .trigger_final_declaration_calculation(&call, nino, ty("2025-26"))
        .await
        .unwrap_err();
    assert_eq!(unfinished_year.code(), Some("RULE_PREMATURE_FINALISATION"));
    for err in [before_income, unfinished_year] {
        assert!(err.is_rejected(), "{err:?}");
        assert!(!err.is_retriable());
    }
}

#[tokio::test]
async fn only_matching_resource_not_found_means_not_ready() {
    let sim = Sim::start().await;
    // 404 NOT_FOUND is the platform's "no such API version", not "still calculating".
    sim.fault(
        Flow::RetrieveCalculation,
        FaultAction::Status {
            status: 404,
            code: Some("NOT_FOUND".into()),
            message: None,
        },
    );
    let err = sim.run(Flow::RetrieveCalculation).await.unwrap_err();
    assert!(err.is_platform_misconfiguration(), "{err:?}");
    sim.admin().clear_faults();
    // The simulator's own 404 for an unknown calculation is MATCHING_RESOURCE_NOT_FOUND.
    let status = sim.run(Flow::RetrieveCalculation).await.unwrap();
    assert_eq!(status.status, 404);
    assert_eq!(
        sim.last_request_to(Flow::RetrieveCalculation)
            .response
            .unwrap()["code"],
        "MATCHING_RESOURCE_NOT_FOUND"
    );
}

#[tokio::test]
async fn a_calculation_with_error_messages_exposes_them() {
    let sim = Sim::start().await;
    let call = sim.call().with_test_scenario("ERROR_MESSAGES_EXIST");
    let status = sim
        .api
        .retrieve_calculation(&call, &sim.ids.nino, ty("2024-25"), &sim.ids.calculation_id)
        .await
        .unwrap();
    let CalculationStatus::Ready(calculation) = status.body else {
        panic!("expected a calculation")
    };
    let errors = calculation.errors();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].id, "C55317");
}
