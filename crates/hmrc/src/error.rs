//! The one error type every failure maps to, classified for the caller's retry decision.

use std::{fmt, time::Duration};

use serde::{Deserialize, Serialize};

use crate::{secret::TokenFingerprint, tax_year::TaxYear};

/// One error entry as HMRC reports it: `code`, `message` and the JSON pointers (`paths`) of the
/// body fields it concerns.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiError {
    /// HMRC's error code, e.g. `RULE_OVERLAPPING_PERIOD`. Branch on this, never on `message`.
    pub code: String,
    /// HMRC's human-readable message (its wording differs between APIs).
    pub message: String,
    /// JSON pointers into the request body, e.g. `/periodIncome/turnover`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub paths: Vec<String>,
    /// The EOPS API's business-validation error ID, when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_id: Option<String>,
}

impl ApiError {
    /// An error entry with no paths.
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
            paths: Vec::new(),
            error_id: None,
        }
    }

    /// Adds a JSON pointer to the entry.
    pub fn with_path(mut self, path: impl Into<String>) -> Self {
        self.paths.push(path.into());
        self
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)?;
        if !self.paths.is_empty() {
            write!(f, " ({})", self.paths.join(", "))?;
        }
        Ok(())
    }
}

/// Where an authorisation failure came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuthOrigin {
    /// The OAuth token endpoint (code exchange, refresh or client credentials).
    TokenEndpoint,
    /// An MTD API call made with an access token.
    Api,
}

impl fmt::Display for AuthOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AuthOrigin::TokenEndpoint => "OAuth token endpoint",
            AuthOrigin::Api => "MTD API",
        })
    }
}

/// What kind of temporary failure happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TransientKind {
    /// No connection could be made: the request never reached HMRC.
    Connect,
    /// The request timed out; it may or may not have reached HMRC.
    Timeout,
    /// The connection failed while sending or receiving; it may have reached HMRC.
    Network,
    /// HMRC's rate limit (429 `MESSAGE_THROTTLED_OUT`); honour `retry_after` when given.
    RateLimited,
    /// HMRC answered 5xx (500, 502, 503 including `SCHEDULED_MAINTENANCE`, 504).
    ServerError,
    /// A refresh of the same grant is already in progress (token endpoint `invalid_request`).
    RefreshInProgress,
    /// HMRC is still processing an earlier request (`RULE_CALCULATION_IN_PROGRESS`,
    /// `RULE_FINAL_DECLARATION_IN_PROGRESS`).
    InProgress,
}

impl fmt::Display for TransientKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TransientKind::Connect => "could not connect",
            TransientKind::Timeout => "timed out",
            TransientKind::Network => "connection failed",
            TransientKind::RateLimited => "rate limited",
            TransientKind::ServerError => "HMRC server error",
            TransientKind::RefreshInProgress => "a refresh of this grant is already in progress",
            TransientKind::InProgress => "HMRC is still processing an earlier request",
        })
    }
}

/// Every failure of this crate, classified.
///
/// | variant | retry? | what the caller does |
/// |---|---|---|
/// | [`Error::PermanentAuth`] | no | the grant is gone: ask the user to reconnect (after checking, with [`Error::token_fingerprint`], that nobody replaced the token meanwhile) |
/// | [`Error::Transient`] | yes | retry later, after `retry_after` when given |
/// | [`Error::Rejected`] | no | show the user HMRC's codes, messages and paths; they fix the figures |
/// | [`Error::DuplicateSubmission`] | no | an earlier attempt already reached HMRC: record the submission as done |
/// | [`Error::PlatformMisconfiguration`] | no | alert an operator; the user did nothing wrong |
/// | [`Error::NotRequired`] | no | nothing to submit for this tax year |
/// | [`Error::Unexpected`] | no | alert an operator with the status and the redacted body excerpt |
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The user's grant is no longer usable: refresh answered `invalid_grant`, or an API call
    /// answered 401 `INVALID_CREDENTIALS`/`UNAUTHORIZED` or 403
    /// `CLIENT_OR_AGENT_NOT_AUTHORISED`/`FORBIDDEN`. Never retried.
    #[error(
        "HMRC refused the user's authorisation ({code}{}, from the {origin}); unless the stored token was replaced meanwhile, the user must reconnect their HMRC account",
        fmt_status(*.status)
    )]
    PermanentAuth {
        /// HMRC's code (`invalid_grant`, `INVALID_CREDENTIALS`, `FORBIDDEN`, ...).
        code: String,
        /// The HTTP status, when there was a response.
        status: Option<u16>,
        /// Token endpoint or API.
        origin: AuthOrigin,
        /// The fingerprint of the token that was refused: the refresh token for the token
        /// endpoint, the access token for an API call.
        token_fingerprint: Option<TokenFingerprint>,
        /// HMRC's `X-CorrelationId`, when given.
        correlation_id: Option<String>,
    },

    /// A temporary failure: network, timeout, 429, 5xx, a refresh already in progress. Retry.
    #[error(
        "temporary failure talking to HMRC ({kind}{}{}): {detail}; retry later{}",
        fmt_status(*.status),
        fmt_code(.code.as_deref()),
        fmt_retry_after(*.retry_after)
    )]
    Transient {
        /// What kind of failure.
        kind: TransientKind,
        /// The HTTP status, when there was a response.
        status: Option<u16>,
        /// HMRC's error code, when given.
        code: Option<String>,
        /// How long HMRC asked us to wait (`Retry-After`), when it said.
        retry_after: Option<Duration>,
        /// HMRC's `X-CorrelationId`, when given.
        correlation_id: Option<String>,
        /// What happened, without URLs or tokens.
        detail: String,
    },

    /// HMRC refused the request's content (400/404/422 `FORMAT_*`, `RULE_*`, `INVALID_REQUEST`
    /// with every entry of `errors[]`). `status` is `None` when this crate found the problem
    /// before sending anything.
    #[error(
        "HMRC rejected the request{}: {}; correct the flagged fields and submit again",
        fmt_status(*.status),
        fmt_errors(.errors)
    )]
    Rejected {
        /// The HTTP status, or `None` if the request was refused locally and never sent.
        status: Option<u16>,
        /// Every error entry (never empty).
        errors: Vec<ApiError>,
        /// HMRC's `X-CorrelationId`, when given.
        correlation_id: Option<String>,
    },

    /// HMRC already holds this submission (`RULE_DUPLICATE_SUBMISSION`, EOPS
    /// `RULE_ALREADY_SUBMITTED`, `RULE_FINAL_DECLARATION_RECEIVED`): a retried request whose
    /// earlier attempt reached HMRC. Record it as submitted.
    #[error(
        "HMRC already holds this submission ({code}{}): an earlier attempt reached HMRC; record it as submitted",
        fmt_status(Some(*.status))
    )]
    DuplicateSubmission {
        /// The code that says so.
        code: String,
        /// The HTTP status.
        status: u16,
        /// HMRC's message.
        message: String,
        /// HMRC's `X-CorrelationId`, when given.
        correlation_id: Option<String>,
    },

    /// Our side is set up wrongly: token endpoint `invalid_client`, API 403
    /// `INVALID_SCOPE`/`RESOURCE_FORBIDDEN`, a wrong `Accept` header or API version, a
    /// sandbox-only test scenario, a bad base URL. The user did nothing wrong.
    #[error(
        "the HMRC integration is misconfigured ({}{}): {detail}; an operator must fix the application settings",
        .code.as_deref().unwrap_or("no code"),
        fmt_status(*.status)
    )]
    PlatformMisconfiguration {
        /// HMRC's code, when given.
        code: Option<String>,
        /// The HTTP status, when there was a response.
        status: Option<u16>,
        /// What is wrong.
        detail: String,
        /// HMRC's `X-CorrelationId`, when given.
        correlation_id: Option<String>,
    },

    /// The submission does not exist for this tax year (EOPS from 2024-25 onwards). No HTTP
    /// call was made.
    #[error("{what} is not required for tax year {tax_year}; nothing was sent to HMRC")]
    NotRequired {
        /// What is not required, e.g. "an End of Period Statement".
        what: String,
        /// The tax year asked about.
        tax_year: TaxYear,
    },

    /// A response this crate cannot classify. The excerpt is redacted of anything that looks
    /// like a token.
    #[error(
        "unexpected response from HMRC{}: {detail}; body starts: {body_excerpt}",
        fmt_status(*.status)
    )]
    Unexpected {
        /// The HTTP status, when there was a response.
        status: Option<u16>,
        /// What was unexpected.
        detail: String,
        /// The start of the body, with bearer-looking strings replaced by `[redacted]`.
        body_excerpt: String,
        /// HMRC's `X-CorrelationId`, when given.
        correlation_id: Option<String>,
    },
}

fn fmt_status(status: Option<u16>) -> String {
    status.map(|s| format!(", HTTP {s}")).unwrap_or_default()
}

fn fmt_code(code: Option<&str>) -> String {
    code.map(|c| format!(", {c}")).unwrap_or_default()
}

fn fmt_retry_after(retry_after: Option<Duration>) -> String {
    retry_after
        .map(|d| format!(" (HMRC asked to wait {}s)", d.as_secs()))
        .unwrap_or_default()
}

fn fmt_errors(errors: &[ApiError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

impl Error {
    /// Whether retrying later may succeed (only [`Error::Transient`]).
    pub fn is_retriable(&self) -> bool {
        matches!(self, Error::Transient { .. })
    }

    /// Whether the user's grant is gone ([`Error::PermanentAuth`]).
    pub fn is_permanent_auth(&self) -> bool {
        matches!(self, Error::PermanentAuth { .. })
    }

    /// Whether HMRC (or the local pre-check) refused the content ([`Error::Rejected`]).
    pub fn is_rejected(&self) -> bool {
        matches!(self, Error::Rejected { .. })
    }

    /// Whether HMRC already holds the submission ([`Error::DuplicateSubmission`]).
    pub fn is_duplicate_submission(&self) -> bool {
        matches!(self, Error::DuplicateSubmission { .. })
    }

    /// Whether our own setup is wrong ([`Error::PlatformMisconfiguration`]).
    pub fn is_platform_misconfiguration(&self) -> bool {
        matches!(self, Error::PlatformMisconfiguration { .. })
    }

    /// Whether the submission does not apply to the tax year ([`Error::NotRequired`]).
    pub fn is_not_required(&self) -> bool {
        matches!(self, Error::NotRequired { .. })
    }

    /// Whether the response could not be classified ([`Error::Unexpected`]).
    pub fn is_unexpected(&self) -> bool {
        matches!(self, Error::Unexpected { .. })
    }

    /// HMRC's `X-CorrelationId` for the failed call, when HMRC answered with one.
    pub fn correlation_id(&self) -> Option<&str> {
        match self {
            Error::PermanentAuth { correlation_id, .. }
            | Error::Transient { correlation_id, .. }
            | Error::Rejected { correlation_id, .. }
            | Error::DuplicateSubmission { correlation_id, .. }
            | Error::PlatformMisconfiguration { correlation_id, .. }
            | Error::Unexpected { correlation_id, .. } => correlation_id.as_deref(),
            Error::NotRequired { .. } => None,
        }
    }

    /// The HTTP status of HMRC's answer, when there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::PermanentAuth { status, .. }
            | Error::Transient { status, .. }
            | Error::Rejected { status, .. }
            | Error::PlatformMisconfiguration { status, .. }
            | Error::Unexpected { status, .. } => *status,
            Error::DuplicateSubmission { status, .. } => Some(*status),
            Error::NotRequired { .. } => None,
        }
    }

    /// How long HMRC asked the caller to wait before retrying (`Retry-After`).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::Transient { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// The error entries HMRC flagged (empty unless [`Error::Rejected`]).
    pub fn rejection_errors(&self) -> &[ApiError] {
        match self {
            Error::Rejected { errors, .. } => errors,
            _ => &[],
        }
    }

    /// The fingerprint of the token a [`Error::PermanentAuth`] failure was about. Compare it
    /// with the fingerprint of the token now in the store: if they differ, another run
    /// refreshed the credential meanwhile and the failure is a lost race, not a revoked grant.
    pub fn token_fingerprint(&self) -> Option<&TokenFingerprint> {
        match self {
            Error::PermanentAuth {
                token_fingerprint, ..
            } => token_fingerprint.as_ref(),
            _ => None,
        }
    }

    /// HMRC's error code, when the failure has exactly one (the first entry for rejections).
    pub fn code(&self) -> Option<&str> {
        match self {
            Error::PermanentAuth { code, .. } | Error::DuplicateSubmission { code, .. } => {
                Some(code)
            }
            Error::Transient { code, .. } | Error::PlatformMisconfiguration { code, .. } => {
                code.as_deref()
            }
            Error::Rejected { errors, .. } => errors.first().map(|e| e.code.as_str()),
            Error::NotRequired { .. } | Error::Unexpected { .. } => None,
        }
    }

    pub(crate) fn with_token_fingerprint(mut self, fingerprint: TokenFingerprint) -> Self {
        if let Error::PermanentAuth {
            token_fingerprint, ..
        } = &mut self
        {
            *token_fingerprint = Some(fingerprint);
        }
        self
    }

    /// A rejection found before sending: nothing reached HMRC.
    pub(crate) fn rejected_locally(errors: Vec<ApiError>) -> Self {
        Error::Rejected {
            status: None,
            errors,
            correlation_id: None,
        }
    }

    pub(crate) fn misconfigured(detail: impl Into<String>) -> Self {
        Error::PlatformMisconfiguration {
            code: None,
            status: None,
            detail: detail.into(),
            correlation_id: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_say_what_happened_and_what_to_do() {
        let err = Error::Rejected {
            status: Some(400),
            errors: vec![
                ApiError::new("FORMAT_VALUE", "bad value").with_path("/periodIncome/turnover"),
                ApiError::new("RULE_BOTH_EXPENSES_SUPPLIED", "both"),
            ],
            correlation_id: Some("c".into()),
        };
        let text = err.to_string();
        assert!(text.contains("HTTP 400"));
        assert!(text.contains("FORMAT_VALUE: bad value (/periodIncome/turnover)"));
        assert!(text.contains("RULE_BOTH_EXPENSES_SUPPLIED"));
        assert!(!err.is_retriable());
        assert_eq!(err.code(), Some("FORMAT_VALUE"));

        let err = Error::Transient {
            kind: TransientKind::RateLimited,
            status: Some(429),
            code: Some("MESSAGE_THROTTLED_OUT".into()),
            retry_after: Some(Duration::from_secs(7)),
            correlation_id: None,
            detail: "rate limit reached".into(),
        };
        assert!(err.is_retriable());
        assert_eq!(err.retry_after(), Some(Duration::from_secs(7)));
        assert!(err.to_string().contains("wait 7s"));
    }

    #[test]
    fn fingerprint_only_attaches_to_auth_failures() {
        let fp = TokenFingerprint::of("t");
        let auth = Error::PermanentAuth {
            code: "INVALID_CREDENTIALS".into(),
            status: Some(401),
            origin: AuthOrigin::Api,
            token_fingerprint: None,
            correlation_id: None,
        }
        .with_token_fingerprint(fp.clone());
        assert_eq!(auth.token_fingerprint(), Some(&fp));
        let other = Error::misconfigured("x").with_token_fingerprint(fp);
        assert_eq!(other.token_fingerprint(), None);
    }
}
