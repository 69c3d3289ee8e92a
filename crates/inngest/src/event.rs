//! Events: the typed event payload functions receive, and sending events to Inngest.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use inngest::{Event, Inngest};
//! use serde_json::json;
//!
//! let client = Inngest::builder("my-app").dev().build()?;
//! let sent = client
//!     .send(&Event::new("app/user.signed_up", json!({"user_id": 42})))
//!     .await?;
//! println!("event ids: {:?}", sent.ids);
//! # Ok(())
//! # }
//! ```

use std::time::Duration;

use base64::Engine as _;
use rand::RngCore as _;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::client::Inngest;
use crate::config::Mode;

/// Internal event that triggers `on_failure` handlers.
pub const FUNCTION_FAILED: &str = "inngest/function.failed";
/// Internal event sent when a run finishes.
pub const FUNCTION_FINISHED: &str = "inngest/function.finished";
/// Internal event that starts an invoked run.
pub const FUNCTION_INVOKED: &str = "inngest/function.invoked";
/// Internal event of cron triggers.
pub const SCHEDULED_TIMER: &str = "inngest/scheduled.timer";

/// An event. `T` is the type of `data`; use [`serde_json::Value`] for untyped data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event<T = Value> {
    /// The event name, e.g. `app/user.signed_up`.
    pub name: String,
    /// The payload.
    pub data: T,
    /// An idempotency key (Inngest ignores a second event with the same id for 24 hours).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Milliseconds since the Unix epoch (set when sending if absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ts: Option<i64>,
    /// A schema version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub v: Option<String>,
}

impl<T> Event<T> {
    /// An event with a name and a payload.
    pub fn new(name: impl Into<String>, data: T) -> Self {
        Self {
            name: name.into(),
            data,
            id: None,
            ts: None,
            v: None,
        }
    }

    /// Sets the idempotency key.
    #[must_use]
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    /// Sets the timestamp (milliseconds since the Unix epoch).
    #[must_use]
    pub fn ts(mut self, ts: i64) -> Self {
        self.ts = Some(ts);
        self
    }

    /// Sets the schema version.
    #[must_use]
    pub fn v(mut self, v: impl Into<String>) -> Self {
        self.v = Some(v.into());
        self
    }
}

/// The answer of the event API: the server's ids of the stored events, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendEventResponse {
    /// Internal event ids (ULIDs), one per event sent.
    pub ids: Vec<String>,
}

/// Why events could not be sent.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// Cloud mode needs an event key.
    #[error(
        "no event key: set INNGEST_EVENT_KEY (or call `event_key`) to send events to Inngest \
         Cloud; the events were not sent"
    )]
    MissingEventKey,
    /// An event could not be serialised.
    #[error("an event could not be serialised as JSON: {0}")]
    Serialize(#[source] serde_json::Error),
    /// The event API could not be reached (after retries).
    #[error("the Inngest event API could not be reached after {attempts} attempts: {source}")]
    Request {
        /// Attempts made.
        attempts: u32,
        /// The transport error (URL removed: it contains the event key).
        #[source]
        source: reqwest::Error,
    },
    /// The event API refused the events.
    #[error("the Inngest event API answered {status}: {message}")]
    Rejected {
        /// HTTP status.
        status: u16,
        /// The server's error text.
        message: String,
    },
}

/// Attempts made for one send (the first one plus retries on network errors, 5xx and 429).
pub(crate) const SEND_ATTEMPTS: u32 = 5;
const SEND_BASE_DELAY: Duration = Duration::from_millis(100);
/// Placeholder key the official SDKs use against a Dev Server.
const NO_EVENT_KEY_SET: &str = "NO_EVENT_KEY_SET";

#[derive(Deserialize)]
struct ApiAnswer {
    #[serde(default)]
    ids: Vec<String>,
    #[serde(default)]
    status: Option<u16>,
    #[serde(default)]
    error: Option<String>,
}

/// Completes events the way the official SDKs do before sending: `data` defaults to `{}`,
/// `ts` to now.
pub(crate) fn prepare(events: Vec<Value>, now_ms: i64) -> Vec<Value> {
    events
        .into_iter()
        .map(|mut event| {
            if let Value::Object(obj) = &mut event {
                if obj.get("data").is_none_or(Value::is_null) {
                    obj.insert("data".into(), Value::Object(Default::default()));
                }
                if obj.get("ts").is_none_or(|ts| ts.is_null() || ts == 0) {
                    obj.insert("ts".into(), Value::from(now_ms));
                }
            }
            event
        })
        .collect()
}

/// `X-Inngest-Event-Id-Seed`: `<millis>,<base64 of 10 random bytes>`; the server derives
/// the event ids from it, so retries of the same send do not duplicate events.
pub(crate) fn id_seed(now_ms: i64) -> String {
    let mut entropy = [0u8; 10];
    rand::rng().fill_bytes(&mut entropy);
    format!(
        "{now_ms},{}",
        base64::engine::general_purpose::STANDARD.encode(entropy)
    )
}

/// Sends already serialised events to the event API.
pub(crate) async fn send_values(
    client: &Inngest,
    events: Vec<Value>,
) -> Result<SendEventResponse, SendError> {
    if events.is_empty() {
        return Ok(SendEventResponse { ids: Vec::new() });
    }
    let config = client.config();
    let key = match (config.event_key(), config.mode()) {
        (Some(key), _) => key.secret().to_owned(),
        (None, Mode::Dev) => NO_EVENT_KEY_SET.to_owned(),
        (None, Mode::Cloud) => return Err(SendError::MissingEventKey),
    };
    let now_ms = chrono::Utc::now().timestamp_millis();
    let body = serde_json::to_vec(&prepare(events, now_ms)).map_err(SendError::Serialize)?;
    let url = client.event_url(&key);
    let seed = id_seed(now_ms);
    let mut attempt = 0;
    loop {
        attempt += 1;
        let request = client
            .http()
            .post(url.clone())
            .headers(client.outbound_headers())
            .header("X-Inngest-Event-Id-Seed", &seed)
            .body(body.clone());
        let retry = match request.send().await {
            Err(err) => {
                let err = err.without_url();
                if attempt >= SEND_ATTEMPTS {
                    return Err(SendError::Request {
                        attempts: attempt,
                        source: err,
                    });
                }
                tracing::debug!(attempt, error = %err, "sending events failed; retrying");
                true
            }
            Ok(response) => {
                let status = response.status();
                let text = response.text().await.unwrap_or_default();
                let answer = serde_json::from_str::<ApiAnswer>(&text).ok();
                let ok = status.is_success()
                    && answer.as_ref().is_some_and(|a| {
                        a.status.is_none_or(|s| s == 200)
                            && a.error.as_deref().is_none_or(str::is_empty)
                    });
                if ok {
                    let ids = answer.map(|a| a.ids).unwrap_or_default();
                    return Ok(SendEventResponse { ids });
                }
                let retriable = status.is_server_error() || status.as_u16() == 429;
                let message = answer
                    .and_then(|a| a.error)
                    .filter(|e| !e.is_empty())
                    .unwrap_or_else(|| default_message(status.as_u16(), &text));
                if !retriable || attempt >= SEND_ATTEMPTS {
                    return Err(SendError::Rejected {
                        status: status.as_u16(),
                        message,
                    });
                }
                tracing::debug!(
                    attempt,
                    status = status.as_u16(),
                    "event API error; retrying"
                );
                true
            }
        };
        if retry {
            let jitter = rand::random_range(0..SEND_BASE_DELAY.as_millis() as u64);
            let delay = SEND_BASE_DELAY * 2u32.pow(attempt - 1) + Duration::from_millis(jitter);
            tokio::time::sleep(delay).await;
        }
    }
}

fn default_message(status: u16, text: &str) -> String {
    match status {
        400 => "Cannot process event payload".to_owned(),
        401 => "Event key not found".to_owned(),
        403 => "Forbidden".to_owned(),
        404 => "Event key not found".to_owned(),
        413 => "Event payload too large".to_owned(),
        500 => "Internal server error".to_owned(),
        _ => text.chars().take(200).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn events_serialise_without_empty_optional_fields() {
        let e = Event::new("a/b", json!({"x": 1}));
        assert_eq!(
            serde_json::to_value(&e).expect("serialise"),
            json!({"name": "a/b", "data": {"x": 1}})
        );
        let e = e.id("k").ts(5).v("2");
        assert_eq!(
            serde_json::to_value(&e).expect("serialise"),
            json!({"name": "a/b", "data": {"x": 1}, "id": "k", "ts": 5, "v": "2"})
        );
    }

    #[test]
    fn incoming_events_with_extra_fields_decode() {
        let e: Event<Value> = serde_json::from_value(
            json!({"name": "a", "data": {}, "id": "", "ts": 1, "user": {}, "v": "1"}),
        )
        .expect("decode");
        assert_eq!(e.name, "a");
    }

    #[test]
    fn prepare_fills_data_and_ts_like_the_js_sdk() {
        let out = prepare(
            vec![
                json!({"name": "a"}),
                json!({"name": "b", "data": {"k": 1}, "ts": 7}),
            ],
            99,
        );
        assert_eq!(out[0], json!({"name": "a", "data": {}, "ts": 99}));
        assert_eq!(out[1], json!({"name": "b", "data": {"k": 1}, "ts": 7}));
    }

    #[test]
    fn the_id_seed_has_millis_and_ten_random_bytes() {
        let seed = id_seed(1234);
        let (ms, entropy) = seed.split_once(',').expect("comma");
        assert_eq!(ms, "1234");
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(entropy)
            .expect("base64");
        assert_eq!(bytes.len(), 10);
    }
}
