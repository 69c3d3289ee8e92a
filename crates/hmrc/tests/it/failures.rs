//! Every flow against the same answers, over real HTTP on 127.0.0.1: what HMRC answers, how the
//! client classifies it, and that exactly one request was sent (no hidden retries).
//!
//! HMRC is the simulator (`hmrc-sandbox`): successes come from its state, auth failures from
//! real tokens (expired, under-scoped, another user's NINO, an application token), and the
//! rest from its fault switches (including HMRC's multi-error `INVALID_REQUEST`). The last tests
//! use a wiremock stub, for answers the simulator does not give: `Sunset` headers, and a body
//! that is not JSON.

use std::time::Duration;

use hmrc_mtd::{CallContext, Error, TransientKind, Warning};
use hmrc_sandbox::{FaultAction, FaultError};
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{method, path},
};

use crate::{
    sim::{SCOPES, Sim},
    support::{Flow, Ids, client, token, web_headers},
};

#[tokio::test]
async fn every_flow_succeeds_on_the_simulator_with_its_correlation_id_and_valid_fraud_headers() {
    let mut sim = Sim::start().await;
    for flow in Flow::ALL {
        sim.prepare(flow).await;
        let before = sim.requests_to(flow).len();
        let response = sim
            .run(flow)
            .await
            .unwrap_or_else(|e| panic!("{flow:?}: {e}"));
        let calls = sim.requests_to(flow);
        assert_eq!(calls.len(), before + 1, "{flow:?}: exactly one call");
        let call = calls.last().unwrap();
        assert!((200..300).contains(&call.status), "{flow:?}: {call:?}");
        assert_eq!(response.status, call.status, "{flow:?}");
        assert_eq!(
            response.correlation_id.as_deref(),
            Some(call.correlation_id.as_str()),
            "{flow:?}: the simulator's X-CorrelationId comes back"
        );
        assert_eq!(
            call.headers["accept"],
            format!("application/vnd.hmrc.{}+json", flow.api().version()),
            "{flow:?}"
        );
        assert_eq!(call.headers["authorization"], "Bearer [redacted]");
        assert!(!call.headers.contains_key("gov-test-scenario"), "{flow:?}");
        if flow.method() == "GET" {
            assert!(call.body.is_none(), "{flow:?} sent a body on GET");
        } else if call.body.is_some() {
            assert_eq!(call.headers["content-type"], "application/json", "{flow:?}");
        }
        assert_eq!(
            call.fraud.code, "VALID_HEADERS",
            "{flow:?}: the simulator's findings: {:?}",
            call.fraud
        );
        assert_eq!(
            call.client_id.as_deref(),
            Some(crate::sim::CLIENT_ID),
            "{flow:?}"
        );
        if flow == Flow::EndOfPeriodStatement {
            // Every EOPS version is deprecated; HMRC says so on every answer.
            let [
                Warning::Deprecated {
                    deprecation, link, ..
                },
            ] = response.warnings.as_slice()
            else {
                panic!("EOPS: {:?}", response.warnings)
            };
            assert_eq!(deprecation, "Tue, 17 Sep 2024 00:00:00 GMT");
            assert!(
                link.as_deref().is_some_and(|l| l.contains("eops")),
                "{link:?}"
            );
        } else {
            assert!(
                response.warnings.is_empty(),
                "{flow:?}: {:?}",
                response.warnings
            );
        }
    }
}

#[tokio::test]
async fn every_flow_treats_an_expired_access_token_as_permanent_auth_with_the_tokens_fingerprint() {
    let sim = Sim::start().await;
    assert_eq!(
        sim.admin().expire_access_tokens(Some(crate::sim::USER_ID)),
        1
    );
    let secret = sim.tokens.access_token.expose_secret().to_owned();
    for flow in Flow::ALL {
        let err = sim.run(flow).await.unwrap_err();
        assert!(err.is_permanent_auth(), "{flow:?}: {err:?}");
        assert!(!err.is_retriable());
        assert_eq!(err.status(), Some(401));
        assert_eq!(err.code(), Some("INVALID_CREDENTIALS"));
        assert_eq!(
            err.token_fingerprint(),
            Some(&sim.tokens.access_token.fingerprint()),
            "{flow:?}: the caller can tell which token was refused"
        );
        let call = sim.last_request_to(flow);
        assert_eq!(err.correlation_id(), Some(call.correlation_id.as_str()));
        assert_eq!(sim.requests_to(flow).len(), 1, "{flow:?}: sent once");
        assert!(!format!("{err} {err:?}").contains(&secret));
    }
}

#[tokio::test]
async fn every_flow_treats_another_users_nino_as_permanent_auth_client_or_agent_not_authorised() {
    let sim = Sim::start().await;
    let bob = sim.another_user();
    let ids = Ids {
        nino: hmrc_mtd::Nino::new(&bob.nino).unwrap(),
        ..sim.ids.clone()
    };
    for flow in Flow::ALL {
        let err = flow.run_for(&sim.api, &sim.call(), &ids).await.unwrap_err();
        assert!(err.is_permanent_auth(), "{flow:?}: {err:?}");
        assert_eq!(err.status(), Some(403), "{flow:?}");
        assert_eq!(err.code(), Some("CLIENT_OR_AGENT_NOT_AUTHORISED"));
        assert_eq!(sim.requests_to(flow).len(), 1, "{flow:?}: sent once");
    }
}

#[tokio::test]
async fn every_flow_treats_a_token_without_the_scope_it_needs_as_platform_misconfiguration() {
    let sim = Sim::start().await;
    let read_only = sim.sign_in(&[SCOPES[0]]).await;
    let write_only = sim.sign_in(&[SCOPES[1]]).await;
    for flow in Flow::ALL {
        // A read needs read:self-assessment, a write write:self-assessment.
        let token = if flow.method() == "GET" {
            &write_only.access_token
        } else {
            &read_only.access_token
        };
        let call = CallContext::new(token, &sim.headers);
        let err = flow.run_for(&sim.api, &call, &sim.ids).await.unwrap_err();
        assert!(err.is_platform_misconfiguration(), "{flow:?}: {err:?}");
        assert!(!err.is_permanent_auth());
        assert_eq!(err.status(), Some(403));
        assert_eq!(err.code(), Some("INVALID_SCOPE"));
    }
}

#[tokio::test]
async fn every_flow_treats_an_application_token_as_platform_misconfiguration() {
    let sim = Sim::start().await;
    let application = sim.oauth.client_credentials().await.unwrap();
    let call = CallContext::new(&application.access_token, &sim.headers);
    for flow in Flow::ALL {
        let err = flow.run_for(&sim.api, &call, &sim.ids).await.unwrap_err();
        assert!(err.is_platform_misconfiguration(), "{flow:?}: {err:?}");
        assert_eq!(err.status(), Some(401));
        assert_eq!(err.code(), Some("INCORRECT_ACCESS_TOKEN_TYPE"));
    }
}

#[tokio::test]
async fn every_flow_treats_429_as_transient_with_hmrcs_retry_after() {
    let sim = Sim::start().await;
    for flow in Flow::ALL {
        sim.fault(
            flow,
            FaultAction::RateLimited {
                retry_after_secs: 3,
            },
        );
        let err = sim.run(flow).await.unwrap_err();
        assert_eq!(sim.attempts_seen_by_faults(), 1, "{flow:?}: sent once");
        let Error::Transient {
            kind,
            retry_after,
            code,
            ..
        } = &err
        else {
            panic!("{flow:?}: expected Transient, got {err:?}")
        };
        assert_eq!(*kind, TransientKind::RateLimited);
        assert_eq!(code.as_deref(), Some("MESSAGE_THROTTLED_OUT"));
        assert_eq!(*retry_after, Some(Duration::from_secs(3)));
        assert_eq!(err.retry_after(), Some(Duration::from_secs(3)));
        assert_eq!(
            err.correlation_id(),
            Some(sim.last_request_to(flow).correlation_id.as_str())
        );
    }
}

#[tokio::test]
async fn the_simulators_own_three_per_second_rate_limit_is_transient_with_retry_after() {
    let sim = Sim::start_with(|b| b.rate_limit(Some(3))).await;
    // The simulator's clock is frozen, so its one-second window only moves when told.
    for _ in 0..3 {
        sim.run(Flow::ListBusinesses).await.unwrap();
    }
    let err = sim.run(Flow::ListBusinesses).await.unwrap_err();
    assert!(
        matches!(
            &err,
            Error::Transient {
                kind: TransientKind::RateLimited,
                retry_after: Some(after),
                ..
            } if *after == Duration::from_secs(1)
        ),
        "{err:?}"
    );
    sim.admin()
        .advance_clock(chrono::TimeDelta::seconds(1))
        .unwrap();
    sim.run(Flow::ListBusinesses).await.unwrap();
}

#[tokio::test]
async fn every_flow_treats_5xx_as_transient_and_sends_once() {
    let sim = Sim::start().await;
    let answers = [
        (500, None, "INTERNAL_SERVER_ERROR"),
        (502, None, "BAD_GATEWAY"),
        (503, None, "SERVER_ERROR"),
        (503, Some("SCHEDULED_MAINTENANCE"), "SCHEDULED_MAINTENANCE"),
        (504, None, "GATEWAY_TIMEOUT"),
    ];
    for flow in Flow::ALL {
        for (status, code, expected_code) in answers {
            sim.fault(
                flow,
                FaultAction::Status {
                    status,
                    code: code.map(str::to_owned),
                    message: None,
                },
            );
            let err = sim.run(flow).await.unwrap_err();
            assert_eq!(sim.attempts_seen_by_faults(), 1, "{flow:?} {status}: once");
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
            assert_eq!(err.status(), Some(status));
            assert_eq!(err.code(), Some(expected_code), "{flow:?} {status}");
            assert_eq!(
                err.correlation_id(),
                Some(sim.last_request_to(flow).correlation_id.as_str())
            );
        }
    }
}

#[tokio::test]
async fn every_flow_times_out_as_transient_after_one_attempt() {
    let sim = Sim::start().await;
    let nino = sim.ids.nino.as_str().to_owned();
    for flow in Flow::ALL {
        sim.fault(flow, FaultAction::Delay { millis: 2_000 });
        let call = sim.call().with_timeout(Duration::from_millis(200));
        let err = flow.run_for(&sim.api, &call, &sim.ids).await.unwrap_err();
        assert_eq!(sim.attempts_seen_by_faults(), 1, "{flow:?}: one attempt");
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
            !err.to_string().contains(&nino),
            "no NINO in error text: {err}"
        );
    }
}

#[tokio::test]
async fn every_flow_treats_a_dropped_connection_as_transient_and_sends_once() {
    let sim = Sim::start().await;
    for flow in Flow::ALL {
        sim.fault(flow, FaultAction::Drop);
        let err = sim.run(flow).await.unwrap_err();
        assert_eq!(sim.attempts_seen_by_faults(), 1, "{flow:?}: sent once");
        assert!(
            matches!(
                err,
                Error::Transient {
                    kind: TransientKind::Network,
                    status: None,
                    ..
                }
            ),
            "{flow:?}: the request may have reached HMRC: {err:?}"
        );
        assert!(err.is_retriable());
    }
}

#[tokio::test]
async fn every_flow_treats_unknown_versions_and_bad_accept_headers_as_platform_misconfiguration() {
    let sim = Sim::start().await;
    for flow in Flow::ALL {
        for (status, code) in [(404, "NOT_FOUND"), (406, "ACCEPT_HEADER_INVALID")] {
            sim.fault(
                flow,
                FaultAction::Status {
                    status,
                    code: Some(code.to_owned()),
                    message: None,
                },
            );
            let err = sim.run(flow).await.unwrap_err();
            sim.attempts_seen_by_faults();
            assert!(
                err.is_platform_misconfiguration(),
                "{flow:?} {status}: {err:?}"
            );
            assert_eq!(err.code(), Some(code));
        }
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

// ---- answers the simulator does not give: a wiremock stub --------------------------------

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

/// HMRC's multi-error answer (`INVALID_REQUEST` with `errors[]`), injected at the simulator for
/// every flow (the typed inputs and local checks leave little for HMRC to refuse several times
/// over; the annual submissions and EOPS also get real multi-error answers, see those modules).
#[tokio::test]
async fn every_flow_reports_all_errors_of_an_invalid_request_with_their_paths() {
    let sim = Sim::start().await;
    let errors = vec![
        FaultError::new(
            "RULE_OVERLAPPING_PERIOD",
            "Period summary overlaps with any of the existing period summaries",
            &[],
        ),
        FaultError::new(
            "FORMAT_VALUE",
            "The value must be between 0 and 99999999999.99",
            &["/periodIncome/turnover", "/periodIncome/other"],
        ),
        FaultError::new(
            "RULE_BOTH_EXPENSES_SUPPLIED",
            "Both expenses and consolidatedExpenses can not be present at the same time",
            &["/periodExpenses"],
        ),
    ];
    for flow in Flow::ALL {
        sim.fault(
            flow,
            FaultAction::InvalidRequest {
                status: 400,
                errors: errors.clone(),
            },
        );
        let err = sim.run(flow).await.unwrap_err();
        assert_eq!(sim.attempts_seen_by_faults(), 1, "{flow:?}: sent once");
        let Error::Rejected {
            status,
            errors,
            correlation_id,
        } = &err
        else {
            panic!("{flow:?}: expected Rejected, got {err:?}")
        };
        assert_eq!(*status, Some(400));
        assert_eq!(
            correlation_id.as_deref(),
            Some(sim.last_request_to(flow).correlation_id.as_str())
        );
        let codes: Vec<_> = errors.iter().map(|e| e.code.as_str()).collect();
        assert_eq!(
            codes,
            [
                "FORMAT_VALUE",
                "RULE_BOTH_EXPENSES_SUPPLIED",
                "RULE_OVERLAPPING_PERIOD"
            ],
            "{flow:?}: every entry, in HMRC's order"
        );
        assert_eq!(
            errors[0].paths,
            ["/periodIncome/turnover", "/periodIncome/other"]
        );
        assert!(!err.is_retriable());
    }
}

/// The simulator marks only EOPS deprecated, without `Sunset` (as HMRC does today).
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

/// The simulator always answers JSON; a gateway in front of HMRC may not.
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
