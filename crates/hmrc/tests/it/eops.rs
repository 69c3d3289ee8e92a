//! End of Period Statements (EOPS API v3.0): only the years that had them.

use hmrc_mtd::{CallContext, Error, TypeOfBusiness, eops::EndOfPeriodStatement};
use serde_json::{Value, json};
use wiremock::{
    Mock, MockServer,
    matchers::{method, path},
};

use crate::support::{
    Flow, assert_valid, client, eops_2022_23, hmrc, hmrc_empty, nino, only_request, se_business,
    token, ty, web_headers,
};

async fn server_answering(response: wiremock::ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(Flow::EndOfPeriodStatement.path()))
        .respond_with(response)
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn eops_for_a_year_that_had_one_is_posted_and_validates_against_hmrcs_schema() {
    let server = server_answering(hmrc_empty(204)).await;
    let token = token();
    let headers = web_headers();
    let call = CallContext::new(&token, &headers);
    let year = ty("2023-24");
    let statement = EndOfPeriodStatement::new(
        TypeOfBusiness::UkProperty,
        se_business(),
        year.start_date(),
        year.end_date(),
    );
    let done = client(&server)
        .submit_end_of_period_statement(&call, &nino(), &statement)
        .await
        .unwrap();
    assert_eq!(done.status, 204);
    let request = only_request(&server).await;
    assert_eq!(request.headers["accept"], "application/vnd.hmrc.3.0+json");
    let body: Value = request.body_json().unwrap();
    assert_eq!(body["finalised"], true);
    assert_valid(
        "individuals-business-eops-api/3.0/schemas/submitBusEOPS_req.json",
        &body,
    );
}

#[tokio::test]
async fn eops_from_2024_25_is_not_required_and_nothing_is_sent() {
    let server = server_answering(hmrc_empty(204)).await;
    let token = token();
    let headers = web_headers();
    let call = CallContext::new(&token, &headers);
    let client = client(&server);
    for year in ["2024-25", "2025-26", "2026-27"] {
        let year = ty(year);
        let statement = EndOfPeriodStatement::new(
            TypeOfBusiness::SelfEmployment,
            se_business(),
            year.start_date(),
            year.end_date(),
        );
        let err = client
            .submit_end_of_period_statement(&call, &nino(), &statement)
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
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_retried_eops_hmrc_already_holds_is_a_duplicate_submission() {
    let server = server_answering(hmrc(
        400,
        json!({"code": "RULE_ALREADY_SUBMITTED", "message": "An End of Period Statement already exists for this business' accounting period"}),
    ))
    .await;
    let token = token();
    let headers = web_headers();
    let call = CallContext::new(&token, &headers);
    let err = client(&server)
        .submit_end_of_period_statement(&call, &nino(), &eops_2022_23())
        .await
        .unwrap_err();
    assert!(err.is_duplicate_submission(), "{err:?}");
    assert_eq!(err.code(), Some("RULE_ALREADY_SUBMITTED"));
}

#[tokio::test]
async fn eops_business_validation_failures_keep_every_error_id() {
    let server = server_answering(hmrc(
        400,
        json!({"code": "INVALID_REQUEST", "message": "Invalid request", "errors": [
            {"code": "RULE_BUSINESS_VALIDATION_FAILURE", "errorId": "C55317", "message": "Class 4 exemption: age"},
            {"code": "RULE_BUSINESS_VALIDATION_FAILURE", "errorId": "C55318", "message": "Consolidated expenses limit"}
        ]}),
    ))
    .await;
    let token = token();
    let headers = web_headers();
    let call = CallContext::new(&token, &headers);
    let err = client(&server)
        .submit_end_of_period_statement(&call, &nino(), &eops_2022_23())
        .await
        .unwrap_err();
    let ids: Vec<_> = err
        .rejection_errors()
        .iter()
        .map(|e| e.error_id.as_deref().unwrap())
        .collect();
    assert_eq!(ids, ["C55317", "C55318"]);
}

#[test]
fn an_eops_that_is_not_finalised_cannot_be_read() {
    let body = json!({"typeOfBusiness": "self-employment", "businessId": "XAIS12345678910",
        "accountingPeriod": {"startDate": "2021-04-06", "endDate": "2022-04-05"}, "finalised": false});
    let err = serde_json::from_value::<EndOfPeriodStatement>(body).unwrap_err();
    assert!(err.to_string().contains("FORMAT_FINALISED"));
}
