//! Failure classification: a pure function from HMRC's answer (status, headers, body) to one
//! [`Error`] variant. No IO here; the client feeds it what came back.
//!
//! The rules follow the project's failure table (`docs/architecture.md`) and HMRC's error
//! codes (digest §1.6, §9.2 and each flow's error list):
//!
//! | answer | classification |
//! |---|---|
//! | 401 `INVALID_CREDENTIALS`, `UNAUTHORIZED`, `CLIENT_OR_AGENT_NOT_AUTHORISED`, or any other 401 | [`Error::PermanentAuth`] |
//! | 401 `MISSING_CREDENTIALS`, `INCORRECT_ACCESS_TOKEN_TYPE` | [`Error::PlatformMisconfiguration`] (we sent no user token) |
//! | 403 `CLIENT_OR_AGENT_NOT_AUTHORISED`, `FORBIDDEN` | [`Error::PermanentAuth`] |
//! | 403 `INVALID_SCOPE`, `RESOURCE_FORBIDDEN`, `HTTPS_REQUIRED` | [`Error::PlatformMisconfiguration`] |
//! | 404 `NOT_FOUND` (API version unknown or switched off), 405, 406 `ACCEPT_HEADER_INVALID`, 415, 501 | [`Error::PlatformMisconfiguration`] |
//! | any `RULE_INCORRECT_GOV_TEST_SCENARIO` | [`Error::PlatformMisconfiguration`] (sandbox-only header) |
//! | 408, 429 (with `Retry-After`), 500, 502, 503, 504 and other 5xx | [`Error::Transient`] |
//! | `RULE_CALCULATION_IN_PROGRESS`, `RULE_FINAL_DECLARATION_IN_PROGRESS` | [`Error::Transient`] ([`TransientKind::InProgress`]) |
//! | `RULE_DUPLICATE_SUBMISSION`, `RULE_ALREADY_SUBMITTED`, `RULE_FINAL_DECLARATION_RECEIVED` (alone) | [`Error::DuplicateSubmission`] |
//! | other 400/403/404/409/422 with a code (`FORMAT_*`, `RULE_*`, `MISSING_*`, `RANGE_*`, `MATCHING_RESOURCE_NOT_FOUND`, `INVALID_REQUEST` + `errors[]`) | [`Error::Rejected`] with every entry |
//! | anything else | [`Error::Unexpected`] with a redacted body excerpt |
//!
//! Token endpoint (`/oauth/token`, digest §9.2):
//!
//! | answer | classification |
//! |---|---|
//! | `invalid_grant` (refresh token invalid, expired, revoked or reused; PKCE mismatch) | [`Error::PermanentAuth`] |
//! | `invalid_request` saying a refresh is "already in progress" | [`Error::Transient`] ([`TransientKind::RefreshInProgress`]) |
//! | `invalid_request` on a code exchange (code missing, expired or used) | [`Error::PermanentAuth`]: the user must authorise again |
//! | other `invalid_request`, `invalid_client`, `unauthorized_client`, `unsupported_grant_type`, `invalid_scope` | [`Error::PlatformMisconfiguration`] |
//! | `server_error`, `temporarily_unavailable`, 429, 5xx, network failure, timeout | [`Error::Transient`] |

use std::time::Duration;

use chrono::{DateTime, Utc};
use http::HeaderMap;
use serde::Deserialize;

use crate::{
    error::{ApiError, AuthOrigin, Error, TransientKind},
    redact::{excerpt, redact},
};

/// Codes that mean "HMRC already holds this submission".
pub const DUPLICATE_CODES: &[&str] = &[
    "RULE_DUPLICATE_SUBMISSION",
    "RULE_ALREADY_SUBMITTED",
    "RULE_FINAL_DECLARATION_RECEIVED",
];

/// Codes that mean "HMRC is busy with an earlier request; try again shortly".
pub const IN_PROGRESS_CODES: &[&str] = &[
    "RULE_CALCULATION_IN_PROGRESS",
    "RULE_FINAL_DECLARATION_IN_PROGRESS",
];

/// The header HMRC puts its correlation ID in.
pub const CORRELATION_ID_HEADER: &str = "x-correlationid";

/// HMRC's `X-CorrelationId` from response headers.
pub fn correlation_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get(CORRELATION_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(|v| redact(v.trim()))
        .filter(|v| !v.is_empty())
}

/// `Retry-After` as a duration: delta-seconds or an HTTP date (relative to `now`).
pub fn retry_after(headers: &HeaderMap, now: DateTime<Utc>) -> Option<Duration> {
    let value = headers
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = DateTime::parse_from_rfc2822(value)
        .ok()?
        .with_timezone(&Utc);
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

#[derive(Deserialize)]
struct RawError {
    code: Option<String>,
    message: Option<String>,
    paths: Option<Vec<String>>,
    path: Option<String>,
    #[serde(rename = "errorId")]
    error_id: Option<String>,
    errors: Option<Vec<RawError>>,
}

impl RawError {
    fn into_api_error(self) -> ApiError {
        let mut paths = self.paths.unwrap_or_default();
        paths.extend(self.path);
        ApiError {
            code: self.code.unwrap_or_default(),
            message: self.message.unwrap_or_default(),
            paths,
            error_id: self.error_id,
        }
    }
}

/// An HMRC error body: the top-level code and the entries it stands for (the `errors[]` of
/// `INVALID_REQUEST`, or the top-level error itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorBody {
    /// The top-level `code`.
    pub code: String,
    /// The top-level `message`.
    pub message: String,
    /// Every individual error: `errors[]` when present, otherwise the top-level error.
    pub entries: Vec<ApiError>,
}

/// Parses HMRC's error body shape, `{code, message, paths?, errors?[]}` (and the legacy
/// singular `path`). `None` when the body is not such a JSON object.
pub fn parse_error_body(body: &[u8]) -> Option<ErrorBody> {
    let mut raw: RawError = serde_json::from_slice(body).ok()?;
    let nested = raw.errors.take().unwrap_or_default();
    let top = raw.into_api_error();
    if top.code.is_empty() && nested.is_empty() {
        return None;
    }
    let entries = if nested.is_empty() {
        vec![top.clone()]
    } else {
        nested.into_iter().map(RawError::into_api_error).collect()
    };
    Some(ErrorBody {
        code: top.code,
        message: top.message,
        entries,
    })
}

/// Classifies a non-2xx answer from an MTD API.
///
/// ```
/// use hmrc_mtd::classify::classify_api_response;
/// let body = br#"{"code":"INVALID_CREDENTIALS","message":"Invalid Authentication information provided"}"#;
/// let err = classify_api_response(401, &http::HeaderMap::new(), body);
/// assert!(err.is_permanent_auth());
/// let err = classify_api_response(503, &http::HeaderMap::new(), b"");
/// assert!(err.is_retriable());
/// ```
pub fn classify_api_response(status: u16, headers: &HeaderMap, body: &[u8]) -> Error {
    classify_api_response_at(status, headers, body, Utc::now())
}

/// [`classify_api_response`] with an explicit clock, for `Retry-After` dates.
pub fn classify_api_response_at(
    status: u16,
    headers: &HeaderMap,
    body: &[u8],
    now: DateTime<Utc>,
) -> Error {
    let correlation_id = correlation_id(headers);
    let parsed = parse_error_body(body);
    let code = parsed
        .as_ref()
        .map(|p| p.code.clone())
        .filter(|c| !c.is_empty());
    let message = parsed
        .as_ref()
        .map(|p| p.message.clone())
        .unwrap_or_default();

    let transient = |kind: TransientKind, detail: String| Error::Transient {
        kind,
        status: Some(status),
        code: code.clone(),
        retry_after: retry_after(headers, now),
        correlation_id: correlation_id.clone(),
        detail,
    };
    let misconfigured = |detail: &str| Error::PlatformMisconfiguration {
        code: code.clone(),
        status: Some(status),
        detail: if message.is_empty() {
            detail.to_owned()
        } else {
            format!("{detail} (HMRC: {})", redact(&message))
        },
        correlation_id: correlation_id.clone(),
    };
    let permanent_auth = || Error::PermanentAuth {
        code: code.clone().unwrap_or_else(|| "UNKNOWN".to_owned()),
        status: Some(status),
        origin: AuthOrigin::Api,
        token_fingerprint: None,
        correlation_id: correlation_id.clone(),
    };
    let unexpected = |detail: &str| Error::Unexpected {
        status: Some(status),
        detail: detail.to_owned(),
        body_excerpt: excerpt(body),
        correlation_id: correlation_id.clone(),
    };

    match status {
        429 => transient(
            TransientKind::RateLimited,
            "HMRC's rate limit was reached".into(),
        ),
        408 => transient(
            TransientKind::Timeout,
            "HMRC timed out waiting for the request".into(),
        ),
        501 => misconfigured("HMRC says this API is not implemented or deployed here"),
        500..=599 => transient(
            TransientKind::ServerError,
            format!("HMRC answered {status}"),
        ),
        401 => match code.as_deref() {
            Some("MISSING_CREDENTIALS") => {
                misconfigured("no bearer token was sent with the request")
            }
            Some("INCORRECT_ACCESS_TOKEN_TYPE") => misconfigured(
                "an application-restricted token was used on a user-restricted endpoint",
            ),
            _ => permanent_auth(),
        },
        403 => match code.as_deref() {
            Some("CLIENT_OR_AGENT_NOT_AUTHORISED" | "FORBIDDEN") => permanent_auth(),
            Some("INVALID_SCOPE") => misconfigured(
                "the token's scope does not cover this endpoint; request read:self-assessment and write:self-assessment",
            ),
            Some("RESOURCE_FORBIDDEN") => misconfigured(
                "the application is not subscribed to this API version on the Developer Hub",
            ),
            Some("HTTPS_REQUIRED") => misconfigured("the API base URL must use https"),
            Some(_) => classify_content(status, parsed, &correlation_id, headers, now),
            None => unexpected("HMRC refused the request without an error code"),
        },
        404 => match code.as_deref() {
            Some("NOT_FOUND") => misconfigured(
                "HMRC does not serve this API version (retired or not enabled); check the Accept header version",
            ),
            Some(_) => classify_content(status, parsed, &correlation_id, headers, now),
            None => unexpected("HMRC answered 404 without an error code"),
        },
        405 => misconfigured("HMRC does not allow this HTTP method on this path"),
        406 => misconfigured("HMRC refused the Accept header (ACCEPT_HEADER_INVALID)"),
        415 => misconfigured("HMRC refused the request body type; send application/json"),
        400 | 409 | 422 => match parsed {
            Some(_) => classify_content(status, parsed, &correlation_id, headers, now),
            None => unexpected("HMRC refused the request with a body that is not an error object"),
        },
        _ => unexpected("HMRC answered with a status this client does not expect"),
    }
}

/// Classifies an error body about the request's content (400/403/404/409/422 with a code).
fn classify_content(
    status: u16,
    parsed: Option<ErrorBody>,
    correlation_id: &Option<String>,
    headers: &HeaderMap,
    now: DateTime<Utc>,
) -> Error {
    let Some(parsed) = parsed else {
        return Error::Unexpected {
            status: Some(status),
            detail: "HMRC refused the request without an error body".into(),
            body_excerpt: String::new(),
            correlation_id: correlation_id.clone(),
        };
    };
    let codes: Vec<&str> = parsed.entries.iter().map(|e| e.code.as_str()).collect();
    if codes.contains(&"RULE_INCORRECT_GOV_TEST_SCENARIO") {
        return Error::PlatformMisconfiguration {
            code: Some("RULE_INCORRECT_GOV_TEST_SCENARIO".into()),
            status: Some(status),
            detail: "HMRC did not recognise the Gov-Test-Scenario header; send it only to the sandbox, with a value the endpoint knows".into(),
            correlation_id: correlation_id.clone(),
        };
    }
    if !codes.is_empty() && codes.iter().all(|c| IN_PROGRESS_CODES.contains(c)) {
        return Error::Transient {
            kind: TransientKind::InProgress,
            status: Some(status),
            code: Some(codes[0].to_owned()),
            retry_after: retry_after(headers, now),
            correlation_id: correlation_id.clone(),
            detail: redact(&parsed.entries[0].message),
        };
    }
    if !codes.is_empty() && codes.iter().all(|c| DUPLICATE_CODES.contains(c)) {
        let first = &parsed.entries[0];
        return Error::DuplicateSubmission {
            code: first.code.clone(),
            status,
            message: first.message.clone(),
            correlation_id: correlation_id.clone(),
        };
    }
    Error::Rejected {
        status: Some(status),
        errors: parsed.entries,
        correlation_id: correlation_id.clone(),
    }
}

/// Which grant a token-endpoint call used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Grant {
    /// `authorization_code`: exchanging the callback's code.
    AuthorizationCode,
    /// `refresh_token`.
    RefreshToken,
    /// `client_credentials`: an application-restricted token.
    ClientCredentials,
}

/// Classifies a failed token-endpoint call from its status (when there was a response), the
/// OAuth `error` and `error_description`, and the raw body.
pub fn classify_token_response(
    grant: Grant,
    status: Option<u16>,
    headers: &HeaderMap,
    error: Option<&str>,
    description: Option<&str>,
    body: &[u8],
) -> Error {
    classify_token_response_at(grant, status, headers, error, description, body, Utc::now())
}

/// [`classify_token_response`] with an explicit clock, for `Retry-After` dates.
pub fn classify_token_response_at(
    grant: Grant,
    status: Option<u16>,
    headers: &HeaderMap,
    error: Option<&str>,
    description: Option<&str>,
    body: &[u8],
    now: DateTime<Utc>,
) -> Error {
    let correlation_id = correlation_id(headers);
    let description = description.map(redact).unwrap_or_default();
    let detail = |what: &str| {
        if description.is_empty() {
            what.to_owned()
        } else {
            format!("{what} (HMRC: {description})")
        }
    };
    let transient = |kind: TransientKind, what: &str| Error::Transient {
        kind,
        status,
        code: error.map(str::to_owned),
        retry_after: retry_after(headers, now),
        correlation_id: correlation_id.clone(),
        detail: detail(what),
    };
    let misconfigured = |what: &str| Error::PlatformMisconfiguration {
        code: error.map(str::to_owned),
        status,
        detail: detail(what),
        correlation_id: correlation_id.clone(),
    };
    let permanent = |code: &str| Error::PermanentAuth {
        code: code.to_owned(),
        status,
        origin: AuthOrigin::TokenEndpoint,
        token_fingerprint: None,
        correlation_id: correlation_id.clone(),
    };
    match error {
        Some("invalid_grant") => permanent("invalid_grant"),
        Some("invalid_request") if description.to_ascii_lowercase().contains("in progress") => {
            transient(
                TransientKind::RefreshInProgress,
                "another refresh of this grant is in progress",
            )
        }
        Some("invalid_request") if grant == Grant::AuthorizationCode => {
            permanent("invalid_request")
        }
        Some("invalid_request") => misconfigured("HMRC refused the token request as malformed"),
        Some("invalid_client") => misconfigured(
            "HMRC did not accept the client ID or client secret; check the application's credentials",
        ),
        Some("unauthorized_client" | "unsupported_grant_type" | "invalid_scope") => {
            misconfigured("HMRC does not allow this grant or scope for the application")
        }
        Some("server_error" | "temporarily_unavailable") => {
            transient(TransientKind::ServerError, "HMRC's token service failed")
        }
        _ => match status {
            Some(429) => transient(TransientKind::RateLimited, "HMRC's rate limit was reached"),
            Some(s) if (500..=599).contains(&s) && s != 501 => {
                transient(TransientKind::ServerError, "HMRC's token service failed")
            }
            _ => Error::Unexpected {
                status,
                detail: detail("the token endpoint answered in a way this client does not expect"),
                body_excerpt: excerpt(body),
                correlation_id,
            },
        },
    }
}

/// Classifies a failure to get any HTTP answer at all. The text never contains the URL (it
/// may hold personal identifiers) or any header.
pub fn classify_transport(err: reqwest::Error) -> Error {
    let err = err.without_url();
    let (kind, what) = if err.is_timeout() {
        (TransientKind::Timeout, "the request to HMRC timed out")
    } else if err.is_connect() {
        (TransientKind::Connect, "could not connect to HMRC")
    } else if err.is_builder() {
        return Error::misconfigured(format!(
            "the HTTP request could not be built: {}",
            redact(&error_chain(&err))
        ));
    } else {
        (TransientKind::Network, "the connection to HMRC failed")
    };
    Error::Transient {
        kind,
        status: None,
        code: None,
        retry_after: None,
        correlation_id: None,
        detail: format!("{what}: {}", redact(&error_chain(&err))),
    }
}

/// The error and its sources, joined with `: `.
pub(crate) fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut current = err.source();
    while let Some(source) = current {
        text.push_str(": ");
        text.push_str(&source.to_string());
        current = source.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn body(code: &str) -> Vec<u8> {
        format!(r#"{{"code":"{code}","message":"m"}}"#).into_bytes()
    }

    #[test]
    fn invalid_request_lists_every_entry() {
        let b = br#"{"code":"INVALID_REQUEST","message":"Invalid request","errors":[
            {"code":"FORMAT_VALUE","message":"v","paths":["/a","/b"]},
            {"code":"RULE_BOTH_EXPENSES_SUPPLIED","message":"both","paths":["/periodExpenses"]}]}"#;
        let err = classify_api_response(400, &HeaderMap::new(), b);
        let Error::Rejected { errors, status, .. } = err else {
            panic!("expected Rejected, got {err:?}")
        };
        assert_eq!(status, Some(400));
        assert_eq!(errors.len(), 2);
        assert_eq!(errors[0].paths, vec!["/a", "/b"]);
        assert_eq!(errors[1].code, "RULE_BOTH_EXPENSES_SUPPLIED");
    }

    #[test]
    fn duplicate_only_when_every_entry_is_a_duplicate() {
        let err = classify_api_response(400, &HeaderMap::new(), &body("RULE_DUPLICATE_SUBMISSION"));
        assert!(err.is_duplicate_submission());
        let b = br#"{"code":"INVALID_REQUEST","message":"x","errors":[
            {"code":"RULE_DUPLICATE_SUBMISSION","message":"d"},{"code":"FORMAT_VALUE","message":"v"}]}"#;
        assert!(classify_api_response(400, &HeaderMap::new(), b).is_rejected());
    }

    #[test]
    fn retry_after_seconds_and_http_date() {
        let now = DateTime::parse_from_rfc3339("2025-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", HeaderValue::from_static("12"));
        assert_eq!(retry_after(&headers, now), Some(Duration::from_secs(12)));
        headers.insert(
            "retry-after",
            HeaderValue::from_static("Wed, 01 Jan 2025 00:00:30 GMT"),
        );
        assert_eq!(retry_after(&headers, now), Some(Duration::from_secs(30)));
        headers.insert("retry-after", HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&headers, now), None);
    }

    #[test]
    fn legacy_singular_path_and_business_error_wrapper() {
        let b = br#"{"code":"BUSINESS_ERROR","message":"Business validation error","errors":[{"code":"OVERLAPPING_PERIOD","message":"o","path":"/from"}]}"#;
        let err = classify_api_response(403, &HeaderMap::new(), b);
        assert_eq!(err.rejection_errors()[0].paths, vec!["/from"]);
    }

    #[test]
    fn non_json_4xx_is_unexpected_and_redacted() {
        let err = classify_api_response(
            400,
            &HeaderMap::new(),
            b"<html>Bearer 0123456789abcdef0123456789abcdef</html>",
        );
        let Error::Unexpected { body_excerpt, .. } = &err else {
            panic!("{err:?}")
        };
        assert!(!body_excerpt.contains("0123456789abcdef0123456789abcdef"));
    }

    #[test]
    fn token_errors() {
        let h = HeaderMap::new();
        let c = |grant, status, error: Option<&str>, desc: Option<&str>| {
            classify_token_response(grant, status, &h, error, desc, b"")
        };
        assert!(c(Grant::RefreshToken, Some(400), Some("invalid_grant"), None).is_permanent_auth());
        let err = c(
            Grant::RefreshToken,
            Some(400),
            Some("invalid_request"),
            Some("Refresh operation is already in progress"),
        );
        assert!(matches!(
            err,
            Error::Transient {
                kind: TransientKind::RefreshInProgress,
                ..
            }
        ));
        assert!(
            c(
                Grant::RefreshToken,
                Some(400),
                Some("invalid_request"),
                Some("refresh_token is missing")
            )
            .is_platform_misconfiguration()
        );
        assert!(
            c(
                Grant::AuthorizationCode,
                Some(400),
                Some("invalid_request"),
                Some("code is invalid")
            )
            .is_permanent_auth()
        );
        assert!(
            c(Grant::RefreshToken, Some(401), Some("invalid_client"), None)
                .is_platform_misconfiguration()
        );
        assert!(c(Grant::RefreshToken, Some(500), Some("server_error"), None).is_retriable());
        assert!(c(Grant::RefreshToken, Some(503), None, None).is_retriable());
        assert!(c(Grant::RefreshToken, Some(429), None, None).is_retriable());
        assert!(c(Grant::RefreshToken, Some(418), None, None).is_unexpected());
    }
}
