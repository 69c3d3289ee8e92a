//! How a failed step tells the function which row of the failure table it is in.
//!
//! A step that fails returns an [`inngest::Error`] built by [`Failure::into_error`]: the
//! message is the human text, followed by a tag ` [mtd-failure {json}]` holding the row
//! ([`FailureKind`]) and HMRC's answer (status, code, correlation id). The message is the one
//! part of an error that every Inngest server stores and sends back unchanged, so when the
//! step's memoised failure comes back as a [`StepError`], [`Failure::from_step_error`] reads
//! the row from it. One mechanism, unit-tested; no string guessing elsewhere. The tag never
//! holds tokens (it is built from classified `hmrc-mtd` errors, which carry none).
//!
//! | kind | Inngest error | retried? |
//! |---|---|---|
//! | [`FailureKind::Auth`] | `NonRetriableError` | no: 206 `StepFailed`, `x-inngest-no-retry: true` |
//! | [`FailureKind::Transient`] | `Error`, or `RetryAfterError` when HMRC sent `Retry-After` | yes, until the retries run out |
//! | [`FailureKind::Misconfiguration`] | `NonRetriableError` | no |
//! | [`FailureKind::NotRequired`] | `NonRetriableError` | no |
//! | [`FailureKind::Unexpected`] | `NonRetriableError` | no |
//!
//! ```
//! use mtd_functions::failure::{Failure, FailureKind};
//!
//! let failure = Failure::new(FailureKind::Auth, "HMRC refused the user's authorisation")
//!     .hmrc(Some(401), Some("INVALID_CREDENTIALS"), Some("c-1"));
//! let error = failure.clone().into_error();
//! assert_eq!(error.name(), "NonRetriableError");
//! assert!(error.message().starts_with("HMRC refused the user's authorisation [mtd-failure "));
//! assert_eq!(Failure::from_message(error.message()), Some(failure));
//! ```

use std::time::Duration;

use inngest::{NonRetriableError, RetryAfterError, StepError};
use mtd_store::{FailureReason, HmrcAnswer};
use serde::{Deserialize, Serialize};

/// The rows of the failure table that end in an error of the step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// The user's grant is gone (refresh `invalid_grant`, API 401/403 on a token nobody else
    /// replaced, credential already expired): expire the credential, record `failed` (auth),
    /// ask the user to reconnect.
    Auth,
    /// Network, timeout, 5xx, 429, a refresh or calculation in progress, a 401 caused by
    /// another run's refresh: retried; `failed` (transient exhausted) once the retries run out.
    Transient,
    /// Our own setup is wrong (`invalid_client`, `INVALID_SCOPE`, `RESOURCE_FORBIDDEN`,
    /// wrong API version, unreadable stored data): `failed` (misconfiguration), operator
    /// alert, credential untouched.
    Misconfiguration,
    /// The submission does not exist for its tax year (EOPS from 2024-25); nothing was sent.
    NotRequired,
    /// An answer nobody can classify, or a failure the functions did not produce: `failed`
    /// (misconfiguration) and an operator alert.
    Unexpected,
}

impl FailureKind {
    /// Whether Inngest may retry the step.
    pub fn is_retriable(self) -> bool {
        self == Self::Transient
    }

    /// The store's failure reason for a submission that ends in this row.
    pub fn failure_reason(self) -> FailureReason {
        match self {
            Self::Auth => FailureReason::Auth,
            Self::Transient => FailureReason::TransientExhausted,
            Self::Misconfiguration | Self::NotRequired | Self::Unexpected => {
                FailureReason::Misconfiguration
            }
        }
    }
}

/// A classified failure of a step: the row, a human text and HMRC's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    /// The row.
    pub kind: FailureKind,
    /// What happened and what to do (never tokens). Not part of the tag: it is the message.
    #[serde(skip)]
    pub detail: String,
    /// HMRC's HTTP status, when HMRC answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// HMRC's code (`INVALID_CREDENTIALS`, `invalid_grant`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// HMRC's `X-CorrelationId`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
    /// How long HMRC asked us to wait (seconds), for transient failures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_secs: Option<u64>,
    /// For auth failures: the credential version whose token HMRC refused, so the expiry
    /// step can check that nobody replaced it since.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential_version: Option<i64>,
}

const TAG_START: &str = " [mtd-failure ";

impl Failure {
    /// A failure of `kind` with a human text.
    pub fn new(kind: FailureKind, detail: impl Into<String>) -> Self {
        Self {
            kind,
            detail: detail.into(),
            status: None,
            code: None,
            correlation_id: None,
            retry_after_secs: None,
            credential_version: None,
        }
    }

    /// Adds HMRC's answer.
    #[must_use]
    pub fn hmrc(
        mut self,
        status: Option<u16>,
        code: Option<&str>,
        correlation_id: Option<&str>,
    ) -> Self {
        self.status = status;
        self.code = code.map(str::to_owned);
        self.correlation_id = correlation_id.map(str::to_owned);
        self
    }

    /// Adds HMRC's `Retry-After`.
    #[must_use]
    pub fn retry_after(mut self, delay: Option<Duration>) -> Self {
        self.retry_after_secs = delay.map(|d| d.as_secs().max(1));
        self
    }

    /// Adds the credential version whose token was refused.
    #[must_use]
    pub fn credential_version(mut self, version: i64) -> Self {
        self.credential_version = Some(version);
        self
    }

    /// HMRC's answer as the store records it (when HMRC answered).
    pub fn hmrc_answer(&self) -> Option<HmrcAnswer> {
        self.status.map(|status| HmrcAnswer {
            http_status: status,
            code: self.code.clone(),
            correlation_id: self.correlation_id.clone(),
            body: None,
        })
    }

    /// The step error: non-retriable except for transient failures, which carry HMRC's
    /// `Retry-After` when it gave one.
    pub fn into_error(self) -> inngest::Error {
        let message = self.message();
        match (self.kind, self.retry_after_secs) {
            (FailureKind::Transient, Some(secs)) => {
                RetryAfterError::new(message, Duration::from_secs(secs)).into()
            }
            (FailureKind::Transient, None) => inngest::Error::new(message),
            _ => NonRetriableError::new(message).into(),
        }
    }

    /// The message with its tag.
    pub fn message(&self) -> String {
        let tag = serde_json::to_string(self).unwrap_or_else(|_| {
            // Serialising plain strings and numbers cannot fail; keep the row regardless.
            format!("{{\"kind\":\"{}\"}}", kind_text(self.kind))
        });
        format!("{}{TAG_START}{tag}]", self.detail)
    }

    /// Reads a failure back from an error message built by [`Failure::message`].
    pub fn from_message(message: &str) -> Option<Self> {
        let at = message.rfind(TAG_START)?;
        let json = message[at + TAG_START.len()..].strip_suffix(']')?;
        let mut failure: Failure = serde_json::from_str(json).ok()?;
        failure.detail = message[..at].to_owned();
        Some(failure)
    }

    /// The failure a memoised step error stands for. Errors that carry no tag (a panic, a
    /// step whose stored output no longer decodes) are [`FailureKind::Unexpected`], with the
    /// step's own message.
    pub fn from_step_error(error: &StepError) -> Self {
        if error.is_decode_error() {
            return Self::new(FailureKind::Unexpected, error.message());
        }
        Self::from_message(error.message()).unwrap_or_else(|| {
            Self::new(
                FailureKind::Unexpected,
                format!(
                    "step {:?} failed with {}: {}",
                    error.step_id(),
                    error.name(),
                    error.message()
                ),
            )
        })
    }
}

fn kind_text(kind: FailureKind) -> &'static str {
    match kind {
        FailureKind::Auth => "auth",
        FailureKind::Transient => "transient",
        FailureKind::Misconfiguration => "misconfiguration",
        FailureKind::NotRequired => "not_required",
        FailureKind::Unexpected => "unexpected",
    }
}

/// Classifies an `hmrc-mtd` error that is a failure of the call (rejections and duplicates
/// are outcomes, not failures, and are handled by the caller before this).
pub fn classify(error: &hmrc_mtd::Error) -> Failure {
    use hmrc_mtd::Error as E;
    let kind = match error {
        E::PermanentAuth { .. } => FailureKind::Auth,
        E::Transient { .. } => FailureKind::Transient,
        E::PlatformMisconfiguration { .. } => FailureKind::Misconfiguration,
        E::NotRequired { .. } => FailureKind::NotRequired,
        // Rejections and duplicates reaching this point were not expected by the flow.
        _ => FailureKind::Unexpected,
    };
    Failure::new(kind, error.to_string())
        .hmrc(error.status(), error.code(), error.correlation_id())
        .retry_after(error.retry_after())
}

/// Classifies a store failure met while running a step: missing rows, keys or undecryptable
/// data are our setup's fault (no retry helps); anything else (database unreachable, busy)
/// is transient.
pub(crate) fn store_failure(doing: &str, error: &mtd_store::StoreError) -> Failure {
    use mtd_store::StoreError as S;
    let kind = match error {
        S::CredentialNotFound(_)
        | S::SubmissionNotFound(_)
        | S::NoKeyring
        | S::Key(_)
        | S::UnknownKey { .. }
        | S::Decrypt { .. }
        | S::Encrypt
        | S::Corrupt { .. }
        | S::Transition(_)
        | S::InvalidLocation { .. } => FailureKind::Misconfiguration,
        _ => FailureKind::Transient,
    };
    Failure::new(kind, format!("the store failed while {doing}: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the server stores for a failed step and the SDK hands back: name and message.
    fn round_trip(error: &inngest::Error) -> Option<Failure> {
        let stored = serde_json::json!({"name": error.name(), "message": error.message()});
        Failure::from_message(stored["message"].as_str().unwrap_or_default())
    }

    #[test]
    fn every_kind_round_trips_through_the_step_error_message() {
        for kind in [
            FailureKind::Auth,
            FailureKind::Transient,
            FailureKind::Misconfiguration,
            FailureKind::NotRequired,
            FailureKind::Unexpected,
        ] {
            let failure = Failure::new(kind, "HMRC said no [really]")
                .hmrc(Some(401), Some("INVALID_CREDENTIALS"), Some("abc"))
                .credential_version(7);
            let error = failure.clone().into_error();
            assert_eq!(error.is_retriable(), kind.is_retriable(), "{kind:?}");
            assert_eq!(round_trip(&error), Some(failure));
        }
    }

    #[test]
    fn transient_failures_carry_hmrcs_retry_after() {
        let error = Failure::new(FailureKind::Transient, "429")
            .retry_after(Some(Duration::from_secs(7)))
            .into_error();
        assert_eq!(error.name(), "RetryAfterError");
        assert_eq!(
            error.retry_after(),
            Some(&inngest::RetryAfter::Delay(Duration::from_secs(7)))
        );
        let parsed = round_trip(&error).unwrap();
        assert_eq!(parsed.kind, FailureKind::Transient);
        assert_eq!(parsed.retry_after_secs, Some(7));
    }

    #[test]
    fn untagged_or_broken_messages_carry_no_row() {
        assert_eq!(
            round_trip(&inngest::Error::new("step panicked: boom")),
            None
        );
        assert_eq!(Failure::from_message("no tag here"), None);
        assert_eq!(Failure::from_message("x [mtd-failure {not json}]"), None);
    }

    #[test]
    fn classification_follows_the_failure_table() {
        let auth = hmrc_mtd::Error::PermanentAuth {
            code: "invalid_grant".into(),
            status: Some(400),
            origin: hmrc_mtd::AuthOrigin::TokenEndpoint,
            token_fingerprint: None,
            correlation_id: None,
        };
        let f = classify(&auth);
        assert_eq!(
            (f.kind, f.status, f.code.as_deref()),
            (FailureKind::Auth, Some(400), Some("invalid_grant"))
        );
        assert_eq!(f.kind.failure_reason(), FailureReason::Auth);
        let busy = hmrc_mtd::Error::Transient {
            kind: hmrc_mtd::TransientKind::RefreshInProgress,
            status: Some(400),
            code: Some("invalid_request".into()),
            retry_after: None,
            correlation_id: None,
            detail: "already in progress".into(),
        };
        assert_eq!(classify(&busy).kind, FailureKind::Transient);
        let client = hmrc_mtd::Error::PlatformMisconfiguration {
            code: Some("invalid_client".into()),
            status: Some(401),
            detail: "bad secret".into(),
            correlation_id: None,
        };
        assert_eq!(classify(&client).kind, FailureKind::Misconfiguration);
        assert_eq!(
            classify(&hmrc_mtd::Error::NotRequired {
                what: "an End of Period Statement".into(),
                tax_year: "2025-26".parse().unwrap()
            })
            .kind,
            FailureKind::NotRequired
        );
    }
}
