//! Fraud-prevention headers on the wire: both connection methods, replay of stored values, the
//! warn and reject policies, and the sandbox-only test scenario header.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use hmrc_mtd::{
    ApiConfig, CallContext, Endpoints, FraudHeaderPolicy, MtdClient, Warning,
    fraud::{BatchProcessDirect, FraudPreventionHeaders, WebAppViaServer},
};
use wiremock::{
    Mock, MockServer,
    matchers::{method, path},
};

use crate::support::{
    Flow, batch_headers, client, client_with_policy, only_request, token, web_headers,
};

async fn list_businesses_server() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(Flow::ListBusinesses.path()))
        .respond_with(Flow::ListBusinesses.success())
        .mount(&server)
        .await;
    server
}

fn sent(request: &wiremock::Request) -> BTreeMap<String, String> {
    request
        .headers
        .iter()
        .filter(|(name, _)| name.as_str().starts_with("gov-"))
        .map(|(name, value)| (name.to_string(), value.to_str().unwrap().to_owned()))
        .collect()
}

#[tokio::test]
async fn web_app_via_server_headers_reach_hmrc_encoded_as_the_spec_requires() {
    let server = list_businesses_server().await;
    let token = token();
    let headers = web_headers();
    let call = CallContext::new(&token, &headers);
    client(&server)
        .list_businesses(&call, &crate::support::nino())
        .await
        .unwrap();
    let got = sent(&only_request(&server).await);
    let names: Vec<_> = WebAppViaServer::HEADER_NAMES
        .iter()
        .map(|n| n.to_ascii_lowercase())
        .collect();
    assert_eq!(got.keys().cloned().collect::<Vec<_>>().len(), 16);
    for name in &names {
        assert!(got.contains_key(name), "{name} missing");
    }
    assert_eq!(got["gov-client-connection-method"], "WEB_APP_VIA_SERVER");
    assert_eq!(
        got["gov-client-public-ip-timestamp"],
        "2025-07-01T09:30:00.000Z"
    );
    assert_eq!(
        got["gov-client-multi-factor"],
        "type=TOTP&timestamp=2025-07-01T09%3A30%3A00.000Z&unique-reference=fc4b5fd6816f75a7c81fc8eaa9499d6a299bd803397166e8c4cf9280b801d62c"
    );
    assert_eq!(
        got["gov-client-screens"],
        "width=1920&height=1080&scaling-factor=1.25&colour-depth=24"
    );
    assert_eq!(got["gov-client-timezone"], "UTC+01:00");
    assert_eq!(got["gov-client-user-ids"], "my-tax-app=alice%40example.com");
    assert_eq!(
        got["gov-vendor-forwarded"],
        "by=203.0.113.6&for=198.51.100.7"
    );
    assert_eq!(got["gov-vendor-product-name"], "My%20Tax%20App");
}

#[tokio::test]
async fn batch_process_direct_headers_reach_hmrc_with_a_fresh_local_ips_timestamp() {
    let server = list_businesses_server().await;
    let token = token();
    let headers = batch_headers();
    let call = CallContext::new(&token, &headers);
    let before = Utc::now();
    client(&server)
        .list_businesses(&call, &crate::support::nino())
        .await
        .unwrap();
    let after = Utc::now();
    let got = sent(&only_request(&server).await);
    assert_eq!(got.len(), 11);
    for name in BatchProcessDirect::HEADER_NAMES {
        assert!(
            got.contains_key(&name.to_ascii_lowercase()),
            "{name} missing"
        );
    }
    assert_eq!(got["gov-client-connection-method"], "BATCH_PROCESS_DIRECT");
    assert_eq!(got["gov-client-local-ips"], "10.1.2.3,fd12%3A3456%3A%3A1");
    assert_eq!(
        got["gov-client-mac-addresses"],
        "ea%3A43%3A1a%3A5d%3A21%3A45"
    );
    assert_eq!(
        got["gov-client-user-agent"],
        "os-family=Linux&os-version=6.8.0&device-manufacturer=Dell%20Inc.&device-model=PowerEdge%20R650"
    );
    let stamp = &got["gov-client-local-ips-timestamp"];
    assert_eq!(stamp.len(), "2025-07-01T09:30:00.000Z".len(), "{stamp}");
    let stamped: DateTime<Utc> = stamp.parse().unwrap();
    let millis = chrono::Duration::milliseconds(1);
    assert!(
        stamped >= before - millis && stamped <= after + millis,
        "{stamp}"
    );
}

#[tokio::test]
async fn headers_stored_with_a_queued_submission_replay_identically_later() {
    let server = list_businesses_server().await;
    let token = token();
    let original = web_headers();
    // The web request stores the captured values with the job...
    let stored = serde_json::to_string(&original).unwrap();
    // ...and the job, later and elsewhere, replays them.
    let replayed: FraudPreventionHeaders = serde_json::from_str(&stored).unwrap();
    for headers in [&original, &replayed] {
        let call = CallContext::new(&token, headers);
        client(&server)
            .list_businesses(&call, &crate::support::nino())
            .await
            .unwrap();
    }
    let requests = server.received_requests().await.unwrap();
    assert_eq!(sent(&requests[0]), sent(&requests[1]));
}

#[tokio::test]
async fn incomplete_headers_are_sent_with_a_warning_under_the_warn_policy() {
    let server = list_businesses_server().await;
    let token = token();
    let headers = FraudPreventionHeaders::WebAppViaServer(
        WebAppViaServer::new().device_id("beec798b-b366-47fa-b1f8-92cede14a1ce"),
    );
    let call = CallContext::new(&token, &headers);
    let response = client(&server)
        .list_businesses(&call, &crate::support::nino())
        .await
        .unwrap();
    let [Warning::FraudPreventionHeaders { problems }] = response.warnings.as_slice() else {
        panic!("{:?}", response.warnings)
    };
    assert_eq!(problems.len(), 14, "every missing header is named");
    assert!(problems.iter().any(|p| p.header == "Gov-Client-Public-IP"));
    let got = sent(&only_request(&server).await);
    assert_eq!(
        got["gov-client-device-id"],
        "beec798b-b366-47fa-b1f8-92cede14a1ce"
    );
}

#[tokio::test]
async fn incomplete_headers_are_refused_before_sending_under_the_reject_policy() {
    let server = list_businesses_server().await;
    let token = token();
    let headers = FraudPreventionHeaders::BatchProcessDirect(BatchProcessDirect::new());
    let call = CallContext::new(&token, &headers);
    let err = client_with_policy(&server, FraudHeaderPolicy::Reject)
        .list_businesses(&call, &crate::support::nino())
        .await
        .unwrap_err();
    assert!(err.is_platform_misconfiguration(), "{err:?}");
    assert!(
        err.to_string()
            .contains("Gov-Client-MAC-Addresses is missing"),
        "{err}"
    );
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn the_test_scenario_header_goes_to_stand_ins_and_never_to_production_hosts() {
    let server = list_businesses_server().await;
    let token = token();
    let headers = web_headers();
    let call = CallContext::new(&token, &headers).with_test_scenario("BUSINESS_AND_PROPERTY");
    client(&server)
        .list_businesses(&call, &crate::support::nino())
        .await
        .unwrap();
    assert_eq!(
        only_request(&server).await.headers["gov-test-scenario"],
        "BUSINESS_AND_PROPERTY"
    );

    // A stand-in that declares itself production-like refuses the header before any call.
    server.reset().await;
    let mut endpoints = Endpoints::local(server.uri().parse().unwrap());
    endpoints.allows_test_scenarios = false;
    let strict = MtdClient::new(ApiConfig::new(endpoints)).unwrap();
    let err = strict
        .list_businesses(&call, &crate::support::nino())
        .await
        .unwrap_err();
    assert!(err.is_platform_misconfiguration(), "{err:?}");
    assert!(server.received_requests().await.unwrap().is_empty());
    assert!(
        !hmrc_mtd::Environment::Production
            .endpoints()
            .allows_test_scenarios
    );
}
