//! Final declaration (Individual Calculations API v8.0): trigger, retrieve until ready, declare.

use hmrc_mtd::{CallContext, Error, TransientKind, calculations::CalculationStatus};
use serde_json::json;
use wiremock::{
    Mock, MockServer,
    matchers::{method, path},
};

use crate::support::{
    CORRELATION_ID, Flow, calculation_id, client, hmrc, hmrc_empty, nino, read_json, token, ty,
    web_headers,
};

fn not_found() -> serde_json::Value {
    json!({"code": "MATCHING_RESOURCE_NOT_FOUND", "message": "Matching resource not found"})
}

#[tokio::test]
async fn final_declaration_triggers_waits_for_the_calculation_then_declares() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(Flow::TriggerCalculation.path()))
        .respond_with(Flow::TriggerCalculation.success())
        .expect(1)
        .mount(&server)
        .await;
    // Not ready twice, then ready.
    Mock::given(method("GET"))
        .and(path(Flow::RetrieveCalculation.path()))
        .respond_with(hmrc(404, not_found()))
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(Flow::RetrieveCalculation.path()))
        .respond_with(Flow::RetrieveCalculation.success())
        .with_priority(2)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(Flow::FinalDeclaration.path()))
        .respond_with(hmrc_empty(204))
        .expect(1)
        .mount(&server)
        .await;

    let token = token();
    let headers = web_headers();
    let call = CallContext::new(&token, &headers);
    let client = client(&server);
    let year = ty("2024-25");
    let triggered = client
        .trigger_final_declaration_calculation(&call, &nino(), year)
        .await
        .unwrap();
    assert_eq!(triggered.status, 202);
    let id = triggered.body.calculation_id;
    assert_eq!(id, calculation_id());

    let mut polls = 0;
    let calculation = loop {
        polls += 1;
        let status = client
            .retrieve_calculation(&call, &nino(), year, &id)
            .await
            .unwrap();
        assert_eq!(status.correlation_id.as_deref(), Some(CORRELATION_ID));
        match status.body {
            CalculationStatus::NotReady => continue,
            CalculationStatus::Ready(calculation) => break calculation,
        }
    };
    assert_eq!(polls, 3);
    assert_eq!(calculation.metadata.tax_year, "2024-25");
    assert!(calculation.total_income_tax_and_nics_due().is_some());

    let declared = client
        .submit_final_declaration(&call, &nino(), year, &id)
        .await
        .unwrap();
    assert_eq!(declared.status, 204);
    let paths: Vec<_> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| (r.method.to_string(), r.url.path().to_owned()))
        .collect();
    assert_eq!(
        paths,
        [
            (
                "POST".to_owned(),
                Flow::TriggerCalculation.path().to_owned()
            ),
            (
                "GET".to_owned(),
                Flow::RetrieveCalculation.path().to_owned()
            ),
            (
                "GET".to_owned(),
                Flow::RetrieveCalculation.path().to_owned()
            ),
            (
                "GET".to_owned(),
                Flow::RetrieveCalculation.path().to_owned()
            ),
            ("POST".to_owned(), Flow::FinalDeclaration.path().to_owned()),
        ]
    );
}

#[tokio::test]
async fn declaring_or_triggering_after_hmrc_received_the_declaration_is_a_duplicate_submission() {
    let server = MockServer::start().await;
    let body = json!({"code": "RULE_FINAL_DECLARATION_RECEIVED", "message": "Final declaration has already been received"});
    for flow in [Flow::FinalDeclaration, Flow::TriggerCalculation] {
        server.reset().await;
        Mock::given(method("POST"))
            .and(path(flow.path()))
            .respond_with(hmrc(400, body.clone()))
            .mount(&server)
            .await;
        let token = token();
        let headers = web_headers();
        let call = CallContext::new(&token, &headers);
        let err = flow.run(&client(&server), &call).await.unwrap_err();
        assert!(err.is_duplicate_submission(), "{flow:?}: {err:?}");
        assert_eq!(err.correlation_id(), Some(CORRELATION_ID));
    }
}

#[tokio::test]
async fn a_calculation_or_declaration_still_in_progress_is_transient() {
    let server = MockServer::start().await;
    for (flow, code) in [
        (Flow::TriggerCalculation, "RULE_CALCULATION_IN_PROGRESS"),
        (Flow::FinalDeclaration, "RULE_FINAL_DECLARATION_IN_PROGRESS"),
    ] {
        server.reset().await;
        Mock::given(method("POST"))
            .and(path(flow.path()))
            .respond_with(hmrc(400, json!({"code": code, "message": "in progress"})))
            .mount(&server)
            .await;
        let token = token();
        let headers = web_headers();
        let call = CallContext::new(&token, &headers);
        let err = flow.run(&client(&server), &call).await.unwrap_err();
        assert!(
            matches!(&err, Error::Transient { kind: TransientKind::InProgress, code: Some(c), .. } if c == code),
            "{err:?}"
        );
    }
}

#[tokio::test]
async fn only_matching_resource_not_found_means_not_ready() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(Flow::RetrieveCalculation.path()))
        .respond_with(hmrc(
            404,
            json!({"code": "NOT_FOUND", "message": "The requested resource could not be found"}),
        ))
        .mount(&server)
        .await;
    let token = token();
    let headers = web_headers();
    let call = CallContext::new(&token, &headers);
    let err = client(&server)
        .retrieve_calculation(&call, &nino(), ty("2024-25"), &calculation_id())
        .await
        .unwrap_err();
    assert!(err.is_platform_misconfiguration(), "{err:?}");
}

#[tokio::test]
async fn a_calculation_with_error_messages_exposes_them() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(Flow::RetrieveCalculation.path()))
        .respond_with(hmrc(
            200,
            read_json(
                "individual-calculations-api/8.0/examples/retrieve/def3/retrieve_response.json",
            ),
        ))
        .mount(&server)
        .await;
    let token = token();
    let headers = web_headers();
    let call = CallContext::new(&token, &headers);
    let status = client(&server)
        .retrieve_calculation(&call, &nino(), ty("2024-25"), &calculation_id())
        .await
        .unwrap();
    let CalculationStatus::Ready(calculation) = status.body else {
        panic!("expected a calculation")
    };
    assert_eq!(calculation.errors().len(), 1);
}
