//! Table-driven classification: every status/code pair of the digest's common table (§1.6),
//! and every error every flow's HMRC definition lists.

use std::collections::BTreeSet;

use hmrc_mtd::{CallContext, Error, classify::classify_api_response};
use serde_json::json;
use wiremock::{
    Mock, MockServer,
    matchers::{method, path},
};

use crate::support::{Flow, client, error_examples, hmrc, token, web_headers};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    PermanentAuth,
    Transient,
    Rejected,
    Duplicate,
    Misconfiguration,
}

fn kind(err: &Error) -> Option<Kind> {
    Some(match err {
        Error::PermanentAuth { .. } => Kind::PermanentAuth,
        Error::Transient { .. } => Kind::Transient,
        Error::Rejected { .. } => Kind::Rejected,
        Error::DuplicateSubmission { .. } => Kind::Duplicate,
        Error::PlatformMisconfiguration { .. } => Kind::Misconfiguration,
        _ => return None,
    })
}

/// The digest's §1.6 table (API platform layer) plus the MTD-service-level auth errors, each
/// with the row of the project's failure table it belongs to.
const COMMON: &[(u16, Option<&str>, Kind)] = &[
    (401, Some("MISSING_CREDENTIALS"), Kind::Misconfiguration),
    (401, Some("INVALID_CREDENTIALS"), Kind::PermanentAuth),
    (401, Some("UNAUTHORIZED"), Kind::PermanentAuth),
    (
        401,
        Some("INCORRECT_ACCESS_TOKEN_TYPE"),
        Kind::Misconfiguration,
    ),
    (
        401,
        Some("CLIENT_OR_AGENT_NOT_AUTHORISED"),
        Kind::PermanentAuth,
    ),
    (403, Some("HTTPS_REQUIRED"), Kind::Misconfiguration),
    (403, Some("RESOURCE_FORBIDDEN"), Kind::Misconfiguration),
    (403, Some("INVALID_SCOPE"), Kind::Misconfiguration),
    (403, Some("FORBIDDEN"), Kind::PermanentAuth),
    (
        403,
        Some("CLIENT_OR_AGENT_NOT_AUTHORISED"),
        Kind::PermanentAuth,
    ),
    (404, Some("MATCHING_RESOURCE_NOT_FOUND"), Kind::Rejected),
    (404, Some("NOT_FOUND"), Kind::Misconfiguration),
    (405, Some("METHOD_NOT_ALLOWED"), Kind::Misconfiguration),
    (406, Some("ACCEPT_HEADER_INVALID"), Kind::Misconfiguration),
    (415, Some("INVALID_BODY_TYPE"), Kind::Misconfiguration),
    (429, Some("MESSAGE_THROTTLED_OUT"), Kind::Transient),
    (500, Some("INTERNAL_SERVER_ERROR"), Kind::Transient),
    (501, Some("NOT_IMPLEMENTED"), Kind::Misconfiguration),
    (502, None, Kind::Transient),
    (503, Some("SERVER_ERROR"), Kind::Transient),
    (503, Some("SCHEDULED_MAINTENANCE"), Kind::Transient),
    (504, Some("GATEWAY_TIMEOUT"), Kind::Transient),
];

#[tokio::test]
async fn every_common_status_and_code_is_classified_per_the_failure_table_over_http() {
    let server = MockServer::start().await;
    let client = client(&server);
    let token = token();
    let headers = web_headers();
    let call = CallContext::new(&token, &headers);
    let flow = Flow::ListBusinesses;
    for (status, code, expected) in COMMON {
        server.reset().await;
        let body = match code {
            Some(code) => json!({"code": code, "message": "from HMRC"}),
            None => json!({}),
        };
        Mock::given(method(flow.method()))
            .and(path(flow.path()))
            .respond_with(hmrc(*status, body))
            .mount(&server)
            .await;
        let err = flow.run(&client, &call).await.unwrap_err();
        assert_eq!(kind(&err), Some(*expected), "{status} {code:?}: {err:?}");
        assert_eq!(err.status(), Some(*status));
        assert_eq!(
            err.is_retriable(),
            *expected == Kind::Transient,
            "{status} {code:?}"
        );
        if let Some(code) = code {
            assert_eq!(err.code(), Some(*code), "{status}: the code is kept");
        }
    }
}

/// Where HMRC's definitions list an error, what the project does with it.
fn expected(status: u16, code: &str) -> Kind {
    match (status, code) {
        (_, "RULE_INCORRECT_GOV_TEST_SCENARIO") => Kind::Misconfiguration,
        (401 | 403, "CLIENT_OR_AGENT_NOT_AUTHORISED") => Kind::PermanentAuth,
        (_, "RULE_CALCULATION_IN_PROGRESS" | "RULE_FINAL_DECLARATION_IN_PROGRESS") => {
            Kind::Transient
        }
        (
            _,
            "RULE_DUPLICATE_SUBMISSION"
            | "RULE_ALREADY_SUBMITTED"
            | "RULE_FINAL_DECLARATION_RECEIVED",
        ) => Kind::Duplicate,
        (400 | 404 | 422, c)
            if c.starts_with("FORMAT_")
                || c.starts_with("RULE_")
                || c.starts_with("MISSING_")
                || c.starts_with("RANGE_")
                || c == "MATCHING_RESOURCE_NOT_FOUND"
                || c == "NO_OBLIGATIONS_FOUND" =>
        {
            Kind::Rejected
        }
        other => panic!("HMRC lists {other:?}, which the failure table does not place"),
    }
}

#[test]
fn every_error_in_every_flows_hmrc_definition_is_classified() {
    let mut checked = 0;
    let mut duplicates = BTreeSet::new();
    for flow in Flow::ALL {
        let (api, definition) = flow.definition();
        for (status, code, message) in error_examples(api, definition) {
            let body = json!({"code": code, "message": message}).to_string();
            let err = classify_api_response(status, &http::HeaderMap::new(), body.as_bytes());
            let want = expected(status, &code);
            assert_eq!(kind(&err), Some(want), "{flow:?} {status} {code}: {err:?}");
            if want == Kind::Rejected {
                assert_eq!(err.rejection_errors()[0].message, message);
            }
            if want == Kind::Duplicate {
                duplicates.insert((format!("{flow:?}"), code.clone()));
            }
            checked += 1;
        }
    }
    assert!(
        checked > 150,
        "only {checked} pairs found in HMRC's definitions"
    );
    // The codes a retried submission meets when its first attempt reached HMRC.
    let want: BTreeSet<_> = [
        ("SelfEmploymentPeriod", "RULE_DUPLICATE_SUBMISSION"),
        ("UkPropertyPeriod", "RULE_DUPLICATE_SUBMISSION"),
        ("EndOfPeriodStatement", "RULE_ALREADY_SUBMITTED"),
        ("TriggerCalculation", "RULE_FINAL_DECLARATION_RECEIVED"),
        ("FinalDeclaration", "RULE_FINAL_DECLARATION_RECEIVED"),
    ]
    .into_iter()
    .map(|(f, c)| (f.to_owned(), c.to_owned()))
    .collect();
    assert_eq!(duplicates, want);
}

#[test]
fn a_duplicate_wrapped_with_other_errors_is_a_rejection_not_a_duplicate() {
    let body = json!({"code": "INVALID_REQUEST", "message": "Invalid request", "errors": [
        {"code": "RULE_DUPLICATE_SUBMISSION", "message": "A summary has already been submitted"},
        {"code": "FORMAT_VALUE", "message": "bad", "paths": ["/periodIncome/turnover"]}
    ]});
    let err = classify_api_response(400, &http::HeaderMap::new(), body.to_string().as_bytes());
    assert!(err.is_rejected(), "{err:?}");
    assert_eq!(err.rejection_errors().len(), 2);
}
