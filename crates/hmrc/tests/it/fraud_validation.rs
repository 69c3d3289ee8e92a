//! The client's fraud-prevention headers as HMRC checks them: the simulator's Test Fraud
//! Prevention Headers API (`GET /test/fraud-prevention-headers/validate`, called with an
//! application token) and the findings it records for every MTD call.

use chrono::Utc;
use hmrc_mtd::{AccessToken, FraudHeaderPolicy, Warning, fraud::FraudPreventionHeaders};
use serde_json::Value;
use url::Url;

use crate::{
    sim::{Sim, api_client},
    support::{Flow, batch_headers, web_headers},
};

/// Asks HMRC's Test Fraud Prevention Headers API about the headers the client would send.
async fn validate(base: &Url, token: &AccessToken, headers: &FraudPreventionHeaders) -> Value {
    let mut request = reqwest::Client::new()
        .get(base.join("test/fraud-prevention-headers/validate").unwrap())
        .header("Accept", "application/vnd.hmrc.1.0+json")
        .bearer_auth(token.expose_secret());
    for (name, value) in headers.to_headers(Utc::now()) {
        request = request.header(name, value);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

fn broken_device_id() -> FraudPreventionHeaders {
    let FraudPreventionHeaders::WebAppViaServer(headers) = web_headers() else {
        panic!("web_headers are WEB_APP_VIA_SERVER")
    };
    FraudPreventionHeaders::WebAppViaServer(headers.device_id("not-a-uuid"))
}

#[tokio::test]
async fn both_connection_methods_are_valid_headers_for_hmrcs_test_api() {
    let sim = Sim::start().await;
    let application = sim.oauth.client_credentials().await.unwrap();
    for (method, headers) in [
        ("WEB_APP_VIA_SERVER", web_headers()),
        ("BATCH_PROCESS_DIRECT", batch_headers()),
    ] {
        assert!(
            headers.validate().is_ok(),
            "{method}: the client finds nothing"
        );
        let report = validate(&sim.base(), &application.access_token, &headers).await;
        assert_eq!(report["code"], "VALID_HEADERS", "{method}: {report:#}");
        assert!(report.get("errors").is_none(), "{method}: {report:#}");
        assert!(report.get("warnings").is_none(), "{method}: {report:#}");
    }
}

#[tokio::test]
async fn a_broken_value_is_reported_by_name_by_hmrc_and_by_the_client() {
    let sim = Sim::start().await;
    let application = sim.oauth.client_credentials().await.unwrap();
    let headers = broken_device_id();
    let report = validate(&sim.base(), &application.access_token, &headers).await;
    assert_eq!(report["code"], "INVALID_HEADERS", "{report:#}");
    let named: Vec<_> = report["errors"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|e| e["headers"].as_array().unwrap().iter())
        .map(|h| h.as_str().unwrap())
        .collect();
    assert_eq!(named, ["gov-client-device-id"], "{report:#}");
    let client = headers.validate().unwrap_err();
    assert_eq!(client.header_names(), ["Gov-Client-Device-ID"]);
}

#[tokio::test]
async fn the_findings_hmrc_records_for_the_clients_mtd_calls_show_no_errors() {
    let sim = Sim::start().await;
    for headers in [web_headers(), batch_headers()] {
        let call = hmrc_mtd::CallContext::new(&sim.tokens.access_token, &headers);
        Flow::ListBusinesses
            .run_for(&sim.api, &call, &sim.ids)
            .await
            .unwrap();
    }
    let findings = sim.admin().fraud_findings();
    assert_eq!(findings.len(), 2);
    let methods: Vec<_> = findings
        .iter()
        .map(|f| f.report.connection_method.clone().unwrap())
        .collect();
    assert_eq!(methods, ["WEB_APP_VIA_SERVER", "BATCH_PROCESS_DIRECT"]);
    for finding in &findings {
        assert_eq!(finding.endpoint, Flow::ListBusinesses.endpoint());
        assert_eq!(finding.report.code, "VALID_HEADERS", "{:?}", finding.report);
        assert!(finding.report.errors.is_empty());
    }
}

#[tokio::test]
async fn a_call_sent_with_a_broken_header_under_the_warn_policy_is_recorded_by_hmrc_by_name() {
    let sim = Sim::start().await;
    let headers = broken_device_id();
    let call = hmrc_mtd::CallContext::new(&sim.tokens.access_token, &headers);
    let api = api_client(&sim.base(), FraudHeaderPolicy::Warn);
    // HMRC does not refuse the call; it records the finding.
    let response = api.list_businesses(&call, &sim.ids.nino).await.unwrap();
    let [Warning::FraudPreventionHeaders { problems }] = response.warnings.as_slice() else {
        panic!("{:?}", response.warnings)
    };
    assert_eq!(problems[0].header, "Gov-Client-Device-ID");
    let recorded = sim.last_request_to(Flow::ListBusinesses).fraud;
    assert_eq!(recorded.code, "INVALID_HEADERS");
    assert_eq!(recorded.errors.len(), 1, "{recorded:?}");
    assert_eq!(recorded.errors[0].headers, ["gov-client-device-id"]);
}
