//! Every flow against the same failures, over real HTTP on 127.0.0.1: what HMRC answers, how
//! the client classifies it, and that exactly one request was sent (no hidden retries).

use std::time::Duration;

use hmrc_mtd::{CallContext, Error, TransientKind, Warning};
use serde_json::json;
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{method, path},
};

use crate::support::{CORRELATION_ID, Flow, client, hmrc, only_request, token, web_headers};

async fn answer(server: &MockServer, flow: Flow, response: ResponseTemplate) {
    server.reset().await;
    Mock::given(method(flow.method()))
        .and(path(flow.path()))
        .respond_with(response)
        .mount(server)
        .await;
}

async fn run(server: &MockServer, flow: Flow) -> Result<hmrc_mtd::Response<()>, Error> {
    let client = client(server);
    let token = token();
    let headers = web_headers();
    let call = CallContext::new(&token, &headers);
    flow.run(&client, &call).await
}

#[tokio::test]
async fn every_flow_succeeds_against_hmrcs_example_answer_with_its_correlation_id() {
    let server = MockServer::start().await;
    for flow in Flow::ALL {
        answer(&server, flow, flow.success()).await;
        let response = run(&server, flow)
            .await
            .unwrap_or_else(|e| panic!("{flow:?}: {e}"));
        assert_eq!(
            response.correlation_id.as_deref(),
            Some(CORRELATION_ID),
            "{flow:?}"
        );
        assert!(
            response.warnings.is_empty(),
            "{flow:?}: {:?}",
            response.warnings
        );
        only_request(&server).await;
    }
}

#[tokio::test]
async fn every_flow_sends_its_api_version_accept_header_bearer_token_and_fraud_headers() {
    let server = MockServer::start().await;
    for flow in Flow::ALL {
        answer(&server, flow, flow.success()).await;
        run(&server, flow).await.unwrap();
        let request = only_request(&server).await;
        let header = |name: &str| {
            request
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_else(|| panic!("{flow:?}: no {name}"))
                .to_owned()
        };
        assert_eq!(
            header("accept"),
            format!("application/vnd.hmrc.{}+json", flow.api().version()),
            "{flow:?}"
        );
        assert_eq!(
            header("authorization"),
            format!("Bearer {}", token().expose_secret())
        );
        assert_eq!(header("gov-client-connection-method"), "WEB_APP_VIA_SERVER");
        for name in hmrc_mtd::fraud::WebAppViaServer::HEADER_NAMES {
            assert!(
                request.headers.contains_key(*name),
                "{flow:?}: {name} missing"
            );
        }
        assert!(!request.headers.contains_key("gov-test-scenario"));
        if flow.method() == "GET" {
            assert!(request.body.is_empty(), "{flow:?} sent a body on GET");
        } else if !request.body.is_empty() {
            assert_eq!(header("content-type"), "application/json", "{flow:?}");
        }
    }
}

#[tokio::test]
async fn every_flow_reports_all_errors_of_an_invalid_request_with_their_paths() {
    let server = MockServer::start().await;
    let body = json!({
        "code": "INVALID_REQUEST",
        "message": "Invalid request",
        "errors": [
            {"code": "FORMAT_VALUE", "message": "The value must be between 0 and 99999999999.99",
             "paths": ["/periodIncome/turnover", "/periodIncome/other"]},
            {"code": "RULE_BOTH_EXPENSES_SUPPLIED", "message": "Both expenses and consolidatedExpenses can not be present at the same time",
             "paths": ["/periodExpenses"]},
            {"code": "RULE_OVERLAPPING_PERIOD", "message": "Period summary overlaps with any of the existing period summaries"}
        ]
    });
    for flow in Flow::ALL {
        answer(&server, flow, hmrc(400, body.clone())).await;
        let err = run(&server, flow).await.unwrap_err();
        let Error::Rejected {
            status,
            errors,
            correlation_id,
        } = &err
        else {
            panic!("{flow:?}: expected Rejected, got {err:?}")
        };
        assert_eq!(*status, Some(400));
        assert_eq!(correlation_id.as_deref(), Some(CORRELATION_ID));
        let codes: Vec<_> = errors.iter().map(|e| e.code.as_str()).collect();
        assert_eq!(
            codes,
            [
                "FORMAT_VALUE",
                "RULE_BOTH_EXPENSES_SUPPLIED",
                "RULE_OVERLAPPING_PERIOD"
            ]
        );
        assert_eq!(
            errors[0].paths,
            ["/periodIncome/turnover", "/periodIncome/other"]
        );
        assert!(!err.is_retriable());
        only_request(&server).await;
    }
}

#[tokio::test]
async fn every_flow_treats_401_invalid_credentials_as_permanent_auth_with_the_tokens_fingerprint() {
    let server = MockServer::start().await;
    for flow in Flow::ALL {
        answer(
            &server,
            flow,
            hmrc(401, json!({"code": "INVALID_CREDENTIALS", "message": "Invalid Authentication information provided"})),
        )
        .await;
        let err = run(&server, flow).await.unwrap_err();
        assert!(err.is_permanent_auth(), "{flow:?}: {err:?}");
        assert_eq!(err.code(), Some("INVALID_CREDENTIALS"));
        assert_eq!(err.token_fingerprint(), Some(&token().fingerprint()));
        assert_eq!(err.correlation_id(), Some(CORRELATION_ID));
        assert!(!err.to_string().contains(token().expose_secret()));
        only_request(&server).await;
    }
}

#[tokio::test]
async fn every_flow_treats_403_client_or_agent_not_authorised_as_permanent_auth() {
    let server = MockServer::start().await;
    for flow in Flow::ALL {
        answer(
            &server,
            flow,
            hmrc(403, json!({"code": "CLIENT_OR_AGENT_NOT_AUTHORISED", "message": "The client or agent is not authorised"})),
        )
        .await;
        let err = run(&server, flow).await.unwrap_err();
        assert!(err.is_permanent_auth(), "{flow:?}: {err:?}");
        assert_eq!(err.status(), Some(403));
        only_request(&server).await;
    }
}

#[tokio::test]
async fn every_flow_treats_403_invalid_scope_as_platform_misconfiguration() {
    let server = MockServer::start().await;
    for flow in Flow::ALL {
        answer(
            &server,
            flow,
            hmrc(403, json!({"code": "INVALID_SCOPE", "message": "Cannot access the required resource. Ensure this token has all the required scopes."})),
        )
        .await;
        let err = run(&server, flow).await.unwrap_err();
        assert!(err.is_platform_misconfiguration(), "{flow:?}: {err:?}");
        assert!(!err.is_permanent_auth());
    }
}

#[tokio::test]
async fn every_flow_treats_429_as_transient_with_hmrcs_retry_after() {
    let server = MockServer::start().await;
    for flow in Flow::ALL {
        answer(
            &server,
            flow,
            hmrc(429, json!({"code": "MESSAGE_THROTTLED_OUT", "message": "The request for the API is throttled as you have exceeded your quota."}))
                .insert_header("Retry-After", "3"),
        )
        .await;
        let err = run(&server, flow).await.unwrap_err();
        let Error::Transient {
            kind, retry_after, ..
        } = &err
        else {
            panic!("{flow:?}: expected Transient, got {err:?}")
        };
        assert_eq!(*kind, TransientKind::RateLimited);
        assert_eq!(*retry_after, Some(Duration::from_secs(3)));
        assert_eq!(err.retry_after(), Some(Duration::from_secs(3)));
        only_request(&server).await;
    }
}

#[tokio::test]
async fn every_flow_treats_5xx_as_transient_and_sends_once() {
    let server = MockServer::start().await;
    let answers = [
        (
            500,
            json!({"code": "INTERNAL_SERVER_ERROR", "message": "An internal server error occurred"}),
        ),
        (
            502,
            json!({"code": "BAD_GATEWAY", "message": "Bad gateway"}),
        ),
        (
            503,
            json!({"code": "SCHEDULED_MAINTENANCE", "message": "The API is currently undergoing scheduled maintenance"}),
        ),
        (
            504,
            json!({"code": "GATEWAY_TIMEOUT", "message": "The request has timed out"}),
        ),
    ];
    for flow in Flow::ALL {
        for (status, body) in &answers {
            answer(&server, flow, hmrc(*status, body.clone())).await;
            let err = run(&server, flow).await.unwrap_err();
            assert!(
                matches!(
                    err,
                    Error::Transient {
                        kind: TransientKind::ServerError,
                        ..
                    }
                ),
                "{flow:?} {status}: {err:?}"
            );
            assert_eq!(err.status(), Some(*status));
            assert_eq!(err.correlation_id(), Some(CORRELATION_ID));
            only_request(&server).await;
        }
    }
}

#[tokio::test]
async fn every_flow_times_out_as_transient_after_one_attempt() {
    let server = MockServer::start().await;
    let token = token();
    let headers = web_headers();
    let client = client(&server);
    for flow in Flow::ALL {
        answer(
            &server,
            flow,
            flow.success().set_delay(Duration::from_secs(3)),
        )
        .await;
        let call = CallContext::new(&token, &headers).with_timeout(Duration::from_millis(200));
        let err = flow.run(&client, &call).await.unwrap_err();
        assert!(
            matches!(
                err,
                Error::Transient {
                    kind: TransientKind::Timeout,
                    status: None,
                    ..
                }
            ),
            "{flow:?}: {err:?}"
        );
        assert!(
            !err.to_string().contains("AA123456A"),
            "no NINO in error text: {err}"
        );
        only_request(&server).await;
    }
}

#[tokio::test]
async fn every_flow_surfaces_deprecation_and_sunset_as_warnings() {
    let server = MockServer::start().await;
    for flow in Flow::ALL {
        answer(
            &server,
            flow,
            flow.success()
                .insert_header("Deprecation", "Sat, 01 Nov 2025 00:00:00 GMT")
                .insert_header("Sunset", "Mon, 01 Jun 2026 00:00:00 GMT")
                .insert_header("Link", "<https://developer.service.hmrc.gov.uk/api-documentation>; rel=\"deprecation\""),
        )
        .await;
        let response = run(&server, flow).await.unwrap();
        assert_eq!(
            response.warnings,
            vec![Warning::Deprecated {
                deprecation: "Sat, 01 Nov 2025 00:00:00 GMT".into(),
                sunset: Some("Mon, 01 Jun 2026 00:00:00 GMT".into()),
                link: Some("<https://developer.service.hmrc.gov.uk/api-documentation>; rel=\"deprecation\"".into()),
            }],
            "{flow:?}"
        );
    }
}

#[tokio::test]
async fn every_flow_treats_unknown_versions_and_bad_accept_headers_as_platform_misconfiguration() {
    let server = MockServer::start().await;
    for flow in Flow::ALL {
        for (status, body) in [
            (
                404,
                json!({"code": "NOT_FOUND", "message": "The requested resource could not be found"}),
            ),
            (
                406,
                json!({"code": "ACCEPT_HEADER_INVALID", "message": "The accept header is missing or invalid"}),
            ),
        ] {
            answer(&server, flow, hmrc(status, body)).await;
            let err = run(&server, flow).await.unwrap_err();
            assert!(
                err.is_platform_misconfiguration(),
                "{flow:?} {status}: {err:?}"
            );
        }
    }
}

#[tokio::test]
async fn every_flow_reports_an_unparseable_error_as_unexpected_without_tokens() {
    let server = MockServer::start().await;
    for flow in Flow::ALL {
        answer(
            &server,
            flow,
            ResponseTemplate::new(418).set_body_string(format!(
                "<html>teapot Authorization: Bearer {}</html>",
                token().expose_secret()
            )),
        )
        .await;
        let err = run(&server, flow).await.unwrap_err();
        let Error::Unexpected {
            status,
            body_excerpt,
            ..
        } = &err
        else {
            panic!("{flow:?}: {err:?}")
        };
        assert_eq!(*status, Some(418));
        assert!(body_excerpt.contains("teapot"));
        assert!(
            !body_excerpt.contains(token().expose_secret()),
            "{body_excerpt}"
        );
        assert!(!format!("{err:?}").contains(token().expose_secret()));
    }
}

#[tokio::test]
async fn a_refused_connection_is_transient_connect() {
    // Bind a port, then close it: nothing listens there any more.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    let config = hmrc_mtd::ApiConfig::new(hmrc_mtd::Endpoints::local(
        format!("http://{address}").parse().unwrap(),
    ));
    let client = hmrc_mtd::MtdClient::new(config).unwrap();
    let token = token();
    let headers = web_headers();
    let call = CallContext::new(&token, &headers);
    let err = Flow::ListBusinesses.run(&client, &call).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Transient {
                kind: TransientKind::Connect,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.is_retriable());
}
