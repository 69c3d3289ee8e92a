//! End of Period Statements (EOPS API v3.0) against the simulator: only the years that had
//! them, inside their submission window, once per accounting period.

use hmrc_mtd::{Error, TypeOfBusiness, Warning, eops::EndOfPeriodStatement};
use serde_json::json;

use crate::{
    sim::{Sim, eops_2022_23_day},
    support::{Flow, assert_valid, ty},
};

#[tokio::test]
async fn eops_for_a_year_that_had_one_is_posted_and_validates_against_hmrcs_schema() {
    let sim = Sim::start().await;
    // 2023-24 (the last year with EOPS) could be sent until 31 January 2025.
    sim.set_day("2024-06-01T09:00:00Z".parse().unwrap());
    let year = ty("2023-24");
    let statement = EndOfPeriodStatement::new(
        TypeOfBusiness::UkProperty,
        sim.ids.property_business.clone(),
        year.start_date(),
        year.end_date(),
    );
    let done = sim
        .api
        .submit_end_of_period_statement(&sim.call(), &sim.ids.nino, &statement)
        .await
        .unwrap();
    assert_eq!(done.status, 204);
    let call = sim.last_request_to(Flow::EndOfPeriodStatement);
    assert_eq!(call.headers["accept"], "application/vnd.hmrc.3.0+json");
    let body = call.body.unwrap();
    assert_eq!(body["finalised"], true);
    assert_eq!(body["businessId"], sim.ids.property_business.as_str());
    assert_valid(
        "individuals-business-eops-api/3.0/schemas/submitBusEOPS_req.json",
        &body,
    );
    // HMRC deprecated every EOPS version; the answer says so and the client passes it on.
    assert!(
        matches!(done.warnings.as_slice(), [Warning::Deprecated { .. }]),
        "{:?}",
        done.warnings
    );
}

#[tokio::test]
async fn eops_from_2024_25_is_not_required_and_nothing_is_sent() {
    let sim = Sim::start().await;
    for year in ["2024-25", "2025-26", "2026-27"] {
        let year = ty(year);
        let statement = EndOfPeriodStatement::new(
            TypeOfBusiness::SelfEmployment,
            sim.ids.se_business.clone(),
            year.start_date(),
            year.end_date(),
        );
        let err = sim
            .api
            .submit_end_of_period_statement(&sim.call(), &sim.ids.nino, &statement)
            .await
            .unwrap_err();
        let Error::NotRequired { tax_year, .. } = &err else {
            panic!("{err:?}")
        };
        assert_eq!(*tax_year, year);
        assert!(!err.is_retriable());
        assert!(!err.is_rejected());
        assert!(err.to_string().contains("not required"));
    }
    assert!(sim.admin().requests().is_empty(), "nothing reached HMRC");
}

#[tokio::test]
async fn a_retried_eops_hmrc_already_holds_is_a_duplicate_submission() {
    let sim = Sim::start().await;
    sim.set_day(eops_2022_23_day());
    sim.run(Flow::EndOfPeriodStatement).await.unwrap();
    let err = sim.run(Flow::EndOfPeriodStatement).await.unwrap_err();
    assert!(err.is_duplicate_submission(), "{err:?}");
    assert_eq!(err.code(), Some("RULE_ALREADY_SUBMITTED"));
}

#[tokio::test]
async fn an_eops_after_its_deadline_or_before_its_period_ends_is_rejected() {
    let sim = Sim::start().await;
    for (day, code) in [
        ("2024-02-01T09:00:00Z", "RULE_LATE_SUBMISSION"),
        ("2023-03-01T09:00:00Z", "RULE_EARLY_SUBMISSION"),
    ] {
        sim.set_day(day.parse().unwrap());
        let err = sim.run(Flow::EndOfPeriodStatement).await.unwrap_err();
        assert!(err.is_rejected(), "{day}: {err:?}");
        assert_eq!(err.code(), Some(code), "{day}");
        assert!(!err.is_retriable());
    }
}

#[tokio::test]
async fn eops_business_validation_failures_keep_every_error_id() {
    let sim = Sim::start().await;
    sim.set_day(eops_2022_23_day());
    let call = sim
        .call()
        .with_test_scenario("BVR_UK_PROPERTY_MULTIPLE_ERRORS");
    let err = Flow::EndOfPeriodStatement
        .run_for(&sim.api, &call, &sim.ids)
        .await
        .unwrap_err();
    assert!(err.is_rejected(), "{err:?}");
    let errors = err.rejection_errors();
    let ids: Vec<_> = errors
        .iter()
        .map(|e| (e.code.as_str(), e.error_id.as_deref().unwrap()))
        .collect();
    assert_eq!(
        ids,
        [
            ("RULE_BUSINESS_VALIDATION_FAILURE", "C55519"),
            ("RULE_BUSINESS_VALIDATION_FAILURE", "C55520")
        ]
    );
    assert!(errors[0].message.contains("Furnished Holiday Lettings"));
}

#[test]
fn an_eops_that_is_not_finalised_cannot_be_read() {
    let body = json!({"typeOfBusiness": "self-employment", "businessId": "XAIS12345678910",
        "accountingPeriod": {"startDate": "2021-04-06", "endDate": "2022-04-05"}, "finalised": false});
    let err = serde_json::from_value::<EndOfPeriodStatement>(body).unwrap_err();
    assert!(err.to_string().contains("FORMAT_FINALISED"));
}
