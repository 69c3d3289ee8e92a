//! Errors of Inngest functions and steps, and how they map onto retries.
//!
//! Every error a function or a step returns is **retriable by default**: Inngest calls the
//! function again later, with backoff. Two types opt out or change the delay, and one type
//! carries the failure of an earlier step:
//!
//! | type | wire `name` | behaviour |
//! |---|---|---|
//! | anything that converts into `Box<dyn std::error::Error + Send + Sync>` (`std::io::Error`, `anyhow::Error`, `String`, `&str`, ...) | `"Error"` | retried with Inngest's backoff |
//! | [`NonRetriableError`] | `"NonRetriableError"` | never retried: the step (or the run) fails at once |
//! | [`RetryAfterError`] | `"RetryAfterError"` | retried after the given delay or at the given time |
//! | [`StepError`] | the failed step's own name | a step that already failed for good; if the function lets it escape, the run fails without retries |
//!
//! All of them convert into [`Error`] with `?`, so a function body is written with plain `?`.
//! The names match the official SDKs, because dashboards and users match on them.
//!
//! ```
//! use std::time::Duration;
//! use inngest::{Error, NonRetriableError, RetryAfterError};
//!
//! fn classify(status: u16) -> Result<(), Error> {
//!     match status {
//!         200 => Ok(()),
//!         401 => Err(NonRetriableError::new("the user revoked our access").into()),
//!         429 => Err(RetryAfterError::new("rate limited", Duration::from_secs(30)).into()),
//!         _ => Err(format!("upstream answered {status}").into()),
//!     }
//! }
//!
//! let err = classify(401).unwrap_err();
//! assert_eq!(err.name(), "NonRetriableError");
//! assert!(!err.is_retriable());
//! assert!(classify(503).unwrap_err().is_retriable());
//! ```
//!
//! None of these types implements [`std::error::Error`]: if they did, `?` would convert them
//! through the blanket conversion and they would lose their meaning (the same design as
//! `anyhow::Error`). Their [`Display`](fmt::Display) prints the message.

use std::error::Error as StdError;
use std::fmt;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::Value;

/// Wire `name` of plain errors (the JS SDK's `Error`).
pub(crate) const NAME_ERROR: &str = "Error";
/// Wire `name` of [`NonRetriableError`].
pub(crate) const NAME_NON_RETRIABLE: &str = "NonRetriableError";
/// Wire `name` of [`RetryAfterError`].
pub(crate) const NAME_RETRY_AFTER: &str = "RetryAfterError";

/// The error of an Inngest function or step: a name, a message, an optional cause chain and
/// the retry decision.
///
/// Build it with `?` from any error type (retriable), or from [`NonRetriableError`],
/// [`RetryAfterError`] or [`StepError`], or directly with [`Error::new`] / [`Error::named`].
pub struct Error {
    inner: Box<Inner>,
}

struct Inner {
    name: String,
    message: String,
    /// A stack string carried over from a memoised step error.
    stack: Option<String>,
    /// A serialised cause carried over from a memoised step error.
    cause: Option<Value>,
    source: Option<Box<dyn StdError + Send + Sync>>,
    /// Whether `source` is the error itself (converted with `?`) rather than its cause.
    source_is_self: bool,
    retry: Retry,
}

#[derive(Debug, Clone, PartialEq)]
enum Retry {
    /// Retried with Inngest's backoff (unless attempts are exhausted).
    Default,
    /// Never retried.
    Never,
    /// Retried after a delay or at a time.
    After(RetryAfter),
    /// A memoised step error that the function let escape: never retried.
    UncaughtStep,
}

impl Error {
    /// A retriable error named `"Error"` with the given message.
    ///
    /// ```
    /// let err = inngest::Error::new("HMRC answered 503");
    /// assert_eq!(err.name(), "Error");
    /// assert!(err.is_retriable());
    /// ```
    pub fn new(message: impl Into<String>) -> Self {
        Self::named(NAME_ERROR, message)
    }

    /// A retriable error with a custom `name` (shown in the Inngest dashboard and in
    /// `StepError::name` when a later call reads the memoised failure).
    ///
    /// The name `"NonRetriableError"` is treated the way the official SDKs treat it: never retried.
    ///
    /// ```
    /// let err = inngest::Error::named("HmrcUnavailable", "HMRC answered 503");
    /// assert_eq!(err.name(), "HmrcUnavailable");
    /// ```
    pub fn named(name: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            inner: Box::new(Inner {
                name: name.into(),
                message: message.into(),
                stack: None,
                cause: None,
                source: None,
                source_is_self: false,
                retry: Retry::Default,
            }),
        }
    }

    /// A non-retriable error with a custom name.
    pub(crate) fn non_retriable_named(name: impl Into<String>, message: impl Into<String>) -> Self {
        let mut error = Self::named(name, message);
        error.inner.retry = Retry::Never;
        error
    }

    /// Attaches the underlying cause (serialised as the error's `cause` chain).
    #[must_use]
    pub fn with_source(mut self, source: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        self.inner.source = Some(source.into());
        self.inner.source_is_self = false;
        self
    }

    /// The wire `name` (`"Error"`, `"NonRetriableError"`, `"RetryAfterError"`, or the name of a
    /// failed step's error).
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.inner.message
    }

    /// The underlying error: the error converted with `?`, or the cause attached with
    /// [`Error::with_source`].
    pub fn source(&self) -> Option<&(dyn StdError + Send + Sync + 'static)> {
        self.inner.source.as_deref()
    }

    /// Whether Inngest may retry the step or run that returned this error (attempts permitting).
    pub fn is_retriable(&self) -> bool {
        matches!(self.inner.retry, Retry::Default | Retry::After(_))
            && self.inner.name != NAME_NON_RETRIABLE
    }

    /// The delay requested by a [`RetryAfterError`].
    pub fn retry_after(&self) -> Option<&RetryAfter> {
        match &self.inner.retry {
            Retry::After(after) => Some(after),
            _ => None,
        }
    }

    /// Whether this error is a memoised step failure that the function let escape.
    pub fn is_uncaught_step_error(&self) -> bool {
        self.inner.retry == Retry::UncaughtStep
    }

    /// A retriable error describing a panic.
    pub(crate) fn from_panic(context: &str, payload: &(dyn std::any::Any + Send)) -> Self {
        let what = if let Some(s) = payload.downcast_ref::<&'static str>() {
            (*s).to_owned()
        } else if let Some(s) = payload.downcast_ref::<String>() {
            s.clone()
        } else {
            "a non-string panic payload".to_owned()
        };
        Self::new(format!("{context} panicked: {what}"))
    }

    /// The serialised form sent to Inngest: `{name, message, stack, cause?, __serialized}`.
    pub(crate) fn to_wire(&self) -> WireError {
        let stack = match &self.inner.stack {
            Some(stack) => stack.clone(),
            None => self.stack_text(),
        };
        let cause = match &self.inner.cause {
            Some(cause) => Some(cause.clone()),
            None => self.cause_root().map(cause_chain),
        };
        WireError {
            name: self.inner.name.clone(),
            message: self.inner.message.clone(),
            stack,
            cause,
            serialized: true,
        }
    }

    /// The first error of the cause chain (below this error).
    fn cause_root(&self) -> Option<&(dyn StdError + 'static)> {
        let source = self.inner.source.as_deref()? as &(dyn StdError + 'static);
        if self.inner.source_is_self {
            source.source()
        } else {
            Some(source)
        }
    }

    /// A readable stand-in for a JS stack: the name, the message and the cause chain.
    fn stack_text(&self) -> String {
        let mut out = format!("{}: {}", self.inner.name, self.inner.message);
        let mut next = self.cause_root();
        while let Some(err) = next {
            out.push_str("\n    caused by: ");
            out.push_str(&err.to_string());
            next = err.source();
        }
        out
    }
}

/// Serialises a `std::error::Error` source chain as nested JS-style error objects.
fn cause_chain(err: &(dyn StdError + 'static)) -> Value {
    let mut obj = serde_json::Map::new();
    obj.insert("name".into(), Value::from(NAME_ERROR));
    obj.insert("message".into(), Value::from(err.to_string()));
    obj.insert("stack".into(), Value::from(""));
    if let Some(next) = err.source() {
        obj.insert("cause".into(), cause_chain(next));
    }
    obj.insert("__serialized".into(), Value::Bool(true));
    Value::Object(obj)
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("name", &self.inner.name)
            .field("message", &self.inner.message)
            .field("retry", &self.inner.retry)
            .field("source", &self.inner.source)
            .finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.inner.name == NAME_ERROR {
            f.write_str(&self.inner.message)
        } else {
            write!(f, "{}: {}", self.inner.name, self.inner.message)
        }
    }
}

impl<E> From<E> for Error
where
    E: Into<Box<dyn StdError + Send + Sync>>,
{
    fn from(err: E) -> Self {
        let boxed: Box<dyn StdError + Send + Sync> = err.into();
        let mut error = Error::new(boxed.to_string());
        // The converted error is this error (its message); its own source chain is the cause.
        error.inner.source = Some(boxed);
        error.inner.source_is_self = true;
        error
    }
}

/// An error that must not be retried: the step fails at once (206 `StepFailed`,
/// `x-inngest-no-retry: true`), or the run fails at once when returned by the function body.
///
/// ```
/// use inngest::NonRetriableError;
///
/// let err = NonRetriableError::new("the grant was revoked")
///     .with_source(std::io::Error::other("401 invalid_grant"));
/// assert_eq!(err.message(), "the grant was revoked");
/// ```
pub struct NonRetriableError {
    message: String,
    source: Option<Box<dyn StdError + Send + Sync>>,
}

impl NonRetriableError {
    /// A non-retriable error with a message.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            source: None,
        }
    }

    /// Attaches the underlying cause.
    #[must_use]
    pub fn with_source(mut self, source: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Debug for NonRetriableError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NonRetriableError")
            .field("message", &self.message)
            .field("source", &self.source)
            .finish()
    }
}

impl fmt::Display for NonRetriableError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<NonRetriableError> for Error {
    fn from(err: NonRetriableError) -> Self {
        let mut error = Error::named(NAME_NON_RETRIABLE, err.message);
        error.inner.source = err.source;
        error.inner.retry = Retry::Never;
        error
    }
}

/// When a retry may happen, as requested by a [`RetryAfterError`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RetryAfter {
    /// Retry after this delay (sent as whole seconds, rounded up).
    Delay(Duration),
    /// Retry at this time (sent as an RFC 3339 timestamp).
    At(DateTime<Utc>),
}

impl RetryAfter {
    /// The `Retry-After` header value, formatted like the JS SDK: whole seconds rounded up,
    /// or an ISO 8601 / RFC 3339 time with milliseconds (`2030-01-01T00:00:00.000Z`).
    ///
    /// ```
    /// use std::time::Duration;
    /// use inngest::RetryAfter;
    ///
    /// assert_eq!(RetryAfter::Delay(Duration::from_millis(1500)).header_value(), "2");
    /// ```
    pub fn header_value(&self) -> String {
        match self {
            RetryAfter::Delay(delay) => {
                let millis = delay.as_millis();
                millis.div_ceil(1000).to_string()
            }
            RetryAfter::At(at) => at.to_rfc3339_opts(SecondsFormat::Millis, true),
        }
    }
}

/// A retriable error that asks Inngest to wait before the next attempt (header `Retry-After`,
/// which replaces Inngest's backoff). Inngest clamps the delay to between 1 second and 24 hours.
///
/// ```
/// use std::time::Duration;
/// use inngest::RetryAfterError;
///
/// let err = RetryAfterError::new("HMRC rate limit", Duration::from_secs(30));
/// assert_eq!(err.retry_after().header_value(), "30");
/// ```
pub struct RetryAfterError {
    message: String,
    after: RetryAfter,
    source: Option<Box<dyn StdError + Send + Sync>>,
}

impl RetryAfterError {
    /// Retry after `delay`.
    pub fn new(message: impl Into<String>, delay: Duration) -> Self {
        Self {
            message: message.into(),
            after: RetryAfter::Delay(delay),
            source: None,
        }
    }

    /// Retry at the time `at`.
    pub fn at(message: impl Into<String>, at: DateTime<Utc>) -> Self {
        Self {
            message: message.into(),
            after: RetryAfter::At(at),
            source: None,
        }
    }

    /// Attaches the underlying cause.
    #[must_use]
    pub fn with_source(mut self, source: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// When the retry may happen.
    pub fn retry_after(&self) -> &RetryAfter {
        &self.after
    }
}

impl fmt::Debug for RetryAfterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryAfterError")
            .field("message", &self.message)
            .field("after", &self.after)
            .field("source", &self.source)
            .finish()
    }
}

impl fmt::Display for RetryAfterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<RetryAfterError> for Error {
    fn from(err: RetryAfterError) -> Self {
        let mut error = Error::named(NAME_RETRY_AFTER, err.message);
        error.inner.source = err.source;
        error.inner.retry = Retry::After(err.after);
        error
    }
}

/// A step that failed for good in an earlier call (its memoised result is an error).
///
/// Step tools return it when they replay such a step. Catch it to recover, or let it escape
/// with `?`: the run then fails at once without retries (status 400, `x-inngest-no-retry: true`),
/// reporting the step's original `name` and `message`, exactly like the official SDKs.
///
/// ```
/// use inngest::StepError;
///
/// fn describe(err: &StepError) -> String {
///     format!("{} failed with {}: {}", err.step_id(), err.name(), err.message())
/// }
/// ```
#[derive(Clone)]
pub struct StepError {
    inner: Box<StepErrorInner>,
}

#[derive(Clone)]
struct StepErrorInner {
    step_id: String,
    name: String,
    message: String,
    stack: Option<String>,
    cause: Option<Value>,
    decode: bool,
}

impl StepError {
    /// Builds a step error from a memoised wire error object (the lenient rules of the JS SDK:
    /// a missing name is `"Error"`, a missing message falls back to an `error` field).
    pub(crate) fn from_wire(step_id: &str, value: &Value) -> Self {
        let obj = value.as_object();
        let text = |key: &str| {
            obj.and_then(|o| o.get(key))
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        Self::from_inner(StepErrorInner {
            step_id: step_id.to_owned(),
            name: text("name").unwrap_or_else(|| NAME_ERROR.to_owned()),
            message: text("message")
                .or_else(|| text("error"))
                .unwrap_or_else(|| "Unknown error".to_owned()),
            stack: obj
                .and_then(|o| o.get("stack"))
                .and_then(Value::as_str)
                .map(str::to_owned),
            cause: obj.and_then(|o| o.get("cause")).cloned(),
            decode: false,
        })
    }

    fn from_inner(inner: StepErrorInner) -> Self {
        Self {
            inner: Box::new(inner),
        }
    }

    /// A step whose memoised output does not decode into the type the code asks for (the code
    /// changed in a way that breaks the run's history).
    pub(crate) fn decode(step_id: &str, type_name: &str, err: &serde_json::Error) -> Self {
        Self::from_inner(StepErrorInner {
            step_id: step_id.to_owned(),
            name: NAME_ERROR.to_owned(),
            message: format!(
                "the memoised result of step \"{step_id}\" does not decode as {type_name}: {err}"
            ),
            stack: None,
            cause: None,
            decode: true,
        })
    }

    /// A step tool called inside another step's closure (not supported by Inngest).
    pub(crate) fn nested(step_id: &str) -> Self {
        Self::from_inner(StepErrorInner {
            step_id: step_id.to_owned(),
            name: NAME_NON_RETRIABLE.to_owned(),
            message: format!(
                "step \"{step_id}\" was called inside another step; nesting step tools is not \
                 supported: call it from the function body instead"
            ),
            stack: None,
            cause: None,
            decode: false,
        })
    }

    /// The step's id as written in the code (not hashed).
    pub fn step_id(&self) -> &str {
        &self.inner.step_id
    }

    /// The original error's name (`"Error"`, `"NonRetriableError"`, ...).
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The original error's message.
    pub fn message(&self) -> &str {
        &self.inner.message
    }

    /// The original error's stack text, if it had one.
    pub fn stack(&self) -> Option<&str> {
        self.inner.stack.as_deref()
    }

    /// The original error's serialised cause, if it had one.
    pub fn cause(&self) -> Option<&Value> {
        self.inner.cause.as_ref()
    }

    /// Whether this error means the memoised output could not be decoded into the requested
    /// type (rather than the step itself having failed).
    pub fn is_decode_error(&self) -> bool {
        self.inner.decode
    }
}

impl fmt::Debug for StepError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StepError")
            .field("step_id", &self.inner.step_id)
            .field("name", &self.inner.name)
            .field("message", &self.inner.message)
            .finish()
    }
}

impl fmt::Display for StepError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "step \"{}\" failed: {}: {}",
            self.inner.step_id, self.inner.name, self.inner.message
        )
    }
}

impl From<StepError> for Error {
    fn from(err: StepError) -> Self {
        let step = *err.inner;
        let mut error = Error::named(step.name, step.message);
        error.inner.stack = Some(step.stack.unwrap_or_default());
        error.inner.cause = step.cause;
        error.inner.retry = Retry::UncaughtStep;
        error
    }
}

/// Adapters on `Result` that tag an error with a retry decision.
///
/// ```
/// use inngest::{Error, ResultExt};
///
/// fn parse(input: &str) -> Result<u32, Error> {
///     // Bad input will not get better on retry.
///     Ok(input.parse::<u32>().non_retriable()?)
/// }
/// assert!(!parse("x").unwrap_err().is_retriable());
/// ```
pub trait ResultExt<T> {
    /// Turns the error into a [`NonRetriableError`] (keeping it as the source).
    fn non_retriable(self) -> Result<T, NonRetriableError>;

    /// Turns the error into a [`RetryAfterError`] with the given delay.
    fn retry_after(self, delay: Duration) -> Result<T, RetryAfterError>;
}

impl<T, E> ResultExt<T> for Result<T, E>
where
    E: Into<Box<dyn StdError + Send + Sync>>,
{
    fn non_retriable(self) -> Result<T, NonRetriableError> {
        self.map_err(|e| {
            let boxed = e.into();
            NonRetriableError::new(boxed.to_string()).with_source(boxed)
        })
    }

    fn retry_after(self, delay: Duration) -> Result<T, RetryAfterError> {
        self.map_err(|e| {
            let boxed = e.into();
            RetryAfterError::new(boxed.to_string(), delay).with_source(boxed)
        })
    }
}

/// A serialised error as the official SDKs send it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct WireError {
    pub(crate) name: String,
    pub(crate) message: String,
    pub(crate) stack: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) cause: Option<Value>,
    #[serde(rename = "__serialized")]
    pub(crate) serialized: bool,
}

impl WireError {
    /// A plain `Error` with a message and no stack (used for internal failures).
    pub(crate) fn internal(message: impl Into<String>) -> Self {
        let message = message.into();
        Self {
            name: NAME_ERROR.to_owned(),
            stack: format!("{NAME_ERROR}: {message}"),
            message,
            cause: None,
            serialized: true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn plain_errors_are_retriable_and_named_error() {
        let err: Error = std::io::Error::other("disk on fire").into();
        assert_eq!(err.name(), "Error");
        assert_eq!(err.message(), "disk on fire");
        assert!(err.is_retriable());
        let err: Error = "text".into();
        assert_eq!(err.message(), "text");
    }

    #[test]
    fn non_retriable_error_is_named_and_final() {
        let err: Error = NonRetriableError::new("nope").into();
        assert_eq!(err.name(), "NonRetriableError");
        assert!(!err.is_retriable());
        let wire = err.to_wire();
        assert_eq!(wire.name, "NonRetriableError");
        assert_eq!(wire.message, "nope");
        assert!(wire.serialized);
    }

    #[test]
    fn a_custom_error_named_non_retriable_is_final_like_in_js() {
        assert!(!Error::named("NonRetriableError", "x").is_retriable());
    }

    #[test]
    fn retry_after_header_values_match_the_js_sdk() {
        assert_eq!(
            RetryAfter::Delay(Duration::from_secs(30)).header_value(),
            "30"
        );
        assert_eq!(
            RetryAfter::Delay(Duration::from_millis(1)).header_value(),
            "1"
        );
        assert_eq!(RetryAfter::Delay(Duration::ZERO).header_value(), "0");
        let at = Utc
            .with_ymd_and_hms(2030, 1, 1, 0, 0, 0)
            .single()
            .expect("valid date");
        assert_eq!(
            RetryAfter::At(at).header_value(),
            "2030-01-01T00:00:00.000Z"
        );
        let err: Error = RetryAfterError::at("later", at).into();
        assert!(err.is_retriable());
        assert_eq!(err.name(), "RetryAfterError");
        assert_eq!(err.retry_after(), Some(&RetryAfter::At(at)));
    }

    #[test]
    fn source_chain_becomes_nested_causes() {
        let inner = std::io::Error::other("root cause");
        let err = Error::new("outer").with_source(inner);
        let wire = err.to_wire();
        let cause = wire.cause.expect("cause is serialised");
        assert_eq!(cause["message"], "root cause");
        assert_eq!(cause["name"], "Error");
        assert!(wire.stack.contains("caused by: root cause"));
    }

    #[test]
    fn memoised_step_errors_keep_their_original_name_and_are_final_when_uncaught() {
        let memo = serde_json::json!({"name": "TypeError", "message": "boom", "stack": "s1",
            "cause": {"name": "X", "message": "y"}});
        let step = StepError::from_wire("fetch", &memo);
        assert_eq!(step.name(), "TypeError");
        assert_eq!(step.stack(), Some("s1"));
        let err: Error = step.into();
        assert!(!err.is_retriable());
        assert!(err.is_uncaught_step_error());
        let wire = err.to_wire();
        assert_eq!(wire.name, "TypeError");
        assert_eq!(wire.stack, "s1");
        assert_eq!(
            wire.cause,
            Some(serde_json::json!({"name": "X", "message": "y"}))
        );
    }

    #[test]
    fn lenient_memoised_errors_fall_back_like_the_js_schema() {
        let step = StepError::from_wire("a", &serde_json::json!({"error": "bad"}));
        assert_eq!(step.name(), "Error");
        assert_eq!(step.message(), "bad");
        let step = StepError::from_wire("a", &serde_json::json!("weird"));
        assert_eq!(step.message(), "Unknown error");
    }

    #[test]
    fn result_ext_tags_errors() {
        let r: Result<(), std::io::Error> = Err(std::io::Error::other("x"));
        let err: Error = r.non_retriable().unwrap_err().into();
        assert!(!err.is_retriable());
        let r: Result<(), &str> = Err("slow down");
        let err: Error = r.retry_after(Duration::from_secs(5)).unwrap_err().into();
        assert_eq!(
            err.retry_after(),
            Some(&RetryAfter::Delay(Duration::from_secs(5)))
        );
    }

    #[test]
    fn panics_become_retriable_errors() {
        let payload: Box<dyn std::any::Any + Send> = Box::new("oops");
        let err = Error::from_panic("step \"a\"", payload.as_ref());
        assert!(err.is_retriable());
        assert_eq!(err.message(), "step \"a\" panicked: oops");
    }
}
