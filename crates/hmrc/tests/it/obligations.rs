//! Fetch obligations (Obligations API v3.0) and list businesses (Business Details API v2.0).

use hmrc_mtd::{
    BusinessId, CallContext, ObligationStatus, TypeOfBusiness, obligations::ObligationsQuery,
};
use serde_json::json;
use wiremock::{
    Mock, MockServer,
    matchers::{method, path, query_param},
};

use crate::support::{
    CORRELATION_ID, Flow, client, hmrc, nino, only_request, read_json, token, ty, web_headers,
};

#[tokio::test]
async fn income_and_expenditure_obligations_send_hmrcs_filters_and_parse_the_cumulative_answer() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(Flow::IncomeAndExpenditureObligations.path()))
        .and(query_param("typeOfBusiness", "self-employment"))
        .and(query_param("businessId", "XAIS12345678910"))
        .and(query_param("fromDate", "2025-04-06"))
        .and(query_param("toDate", "2026-04-05"))
        .and(query_param("status", "open"))
        .respond_with(hmrc(
            200,
            read_json("obligations-api/3.0/examples/retrieve_cumulative_periodic_obligations_ty_25_26.json"),
        ))
        .mount(&server)
        .await;
    let token = token();
    let headers = web_headers();
    let call = CallContext::new(&token, &headers);
    let query = ObligationsQuery::all()
        .business(
            TypeOfBusiness::SelfEmployment,
            BusinessId::new("XAIS12345678910").unwrap(),
        )
        .tax_year(ty("2025-26"))
        .status(ObligationStatus::Open);
    let found = client(&server)
        .income_and_expenditure_obligations(&call, &nino(), &query)
        .await
        .unwrap();
    assert_eq!(found.correlation_id.as_deref(), Some(CORRELATION_ID));
    let details = &found.body.obligations[0].obligation_details;
    assert!(
        details
            .iter()
            .all(|d| d.period_start_date.to_string() == "2025-04-06")
    );
    assert_eq!(details[0].due_date.to_string(), "2025-08-05");
    only_request(&server).await;
}

#[tokio::test]
async fn no_obligations_found_is_an_empty_list_with_the_correlation_id() {
    let server = MockServer::start().await;
    let body = json!({"code": "NO_OBLIGATIONS_FOUND", "message": "No obligations found using this filter"});
    for flow in [
        Flow::IncomeAndExpenditureObligations,
        Flow::FinalDeclarationObligations,
    ] {
        server.reset().await;
        Mock::given(method("GET"))
            .and(path(flow.path()))
            .respond_with(hmrc(404, body.clone()))
            .mount(&server)
            .await;
        let token = token();
        let headers = web_headers();
        let call = CallContext::new(&token, &headers);
        let client = client(&server);
        if flow == Flow::IncomeAndExpenditureObligations {
            let found = client
                .income_and_expenditure_obligations(&call, &nino(), &ObligationsQuery::all())
                .await
                .unwrap();
            assert!(found.body.obligations.is_empty());
            assert_eq!(found.correlation_id.as_deref(), Some(CORRELATION_ID));
        } else {
            let found = client
                .final_declaration_obligations(&call, &nino(), None, None)
                .await
                .unwrap();
            assert!(found.body.obligations.is_empty());
            assert_eq!(found.status, 404);
        }
    }
}

#[tokio::test]
async fn an_invalid_obligations_query_is_rejected_without_calling_hmrc() {
    let server = MockServer::start().await;
    let token = token();
    let headers = web_headers();
    let call = CallContext::new(&token, &headers);
    let client = client(&server);
    let cases = [
        (
            ObligationsQuery::all()
                .between("2025-04-06".parse().unwrap(), "2026-05-06".parse().unwrap()),
            "RULE_DATE_RANGE_INVALID",
        ),
        (
            ObligationsQuery::all()
                .between("2025-04-06".parse().unwrap(), "2025-01-01".parse().unwrap()),
            "RANGE_TO_DATE_BEFORE_FROM_DATE",
        ),
        (
            ObligationsQuery::all()
                .between("2017-04-06".parse().unwrap(), "2018-01-01".parse().unwrap()),
            "RULE_FROM_DATE_NOT_SUPPORTED",
        ),
        (
            ObligationsQuery {
                business_id: Some(BusinessId::new("XAIS12345678910").unwrap()),
                ..ObligationsQuery::all()
            },
            "MISSING_TYPE_OF_BUSINESS",
        ),
    ];
    for (query, code) in cases {
        let err = client
            .income_and_expenditure_obligations(&call, &nino(), &query)
            .await
            .unwrap_err();
        assert!(err.is_rejected(), "{err:?}");
        assert_eq!(err.status(), None, "refused locally");
        assert_eq!(err.code(), Some(code));
    }
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn final_declaration_obligations_send_the_tax_year_and_status() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(Flow::FinalDeclarationObligations.path()))
        .and(query_param("taxYear", "2018-19"))
        .and(query_param("status", "fulfilled"))
        .respond_with(hmrc(
            200,
            read_json("obligations-api/3.0/examples/retrieve_crystallisation_obligations.json"),
        ))
        .mount(&server)
        .await;
    let token = token();
    let headers = web_headers();
    let call = CallContext::new(&token, &headers);
    let found = client(&server)
        .final_declaration_obligations(
            &call,
            &nino(),
            Some(ty("2018-19")),
            Some(ObligationStatus::Fulfilled),
        )
        .await
        .unwrap();
    let obligation = &found.body.obligations[0];
    assert_eq!(obligation.status, ObligationStatus::Fulfilled);
    assert_eq!(obligation.received_date.unwrap().to_string(), "2020-01-25");
}

#[tokio::test]
async fn list_businesses_parses_hmrcs_example_and_filters_by_type() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(Flow::ListBusinesses.path()))
        .respond_with(Flow::ListBusinesses.success())
        .mount(&server)
        .await;
    let token = token();
    let headers = web_headers();
    let call = CallContext::new(&token, &headers);
    let list = client(&server)
        .list_businesses(&call, &nino())
        .await
        .unwrap();
    let se: Vec<_> = list.body.of_type(&TypeOfBusiness::SelfEmployment).collect();
    assert_eq!(se.len(), 1);
    assert_eq!(se[0].business_id.as_str(), "XAIS12345678910");
    assert_eq!(se[0].trading_type.as_deref(), Some("Plastering"));
    assert_eq!(
        list.body.of_type(&TypeOfBusiness::ForeignProperty).count(),
        1
    );
    assert_eq!(list.correlation_id.as_deref(), Some(CORRELATION_ID));
}
