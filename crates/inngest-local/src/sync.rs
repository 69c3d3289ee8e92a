//! App syncing the way the dev server does it: `PUT` the app URL with `{"url": ...}`
//! (signed when the engine has a signing key, `X-Inngest-Server-Kind` set); the SDK answers by
//! calling `POST /fn/register` on the engine. A poll loop repeats it every poll interval.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use http::{Method, Request};
use serde::Serialize;
use serde_json::Value;

use crate::protocol::{HEADER_SERVER_KIND, HEADER_SIGNATURE};
use crate::signature::SigningKey;
use crate::transport::Transport;

/// Timeout of a sync `PUT` (the dev server's).
pub(crate) const SYNC_TIMEOUT: Duration = Duration::from_secs(10);

/// Result of the last sync of an app URL.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AppStatus {
    /// App URL as configured.
    pub url: String,
    /// Engine time of the last attempt.
    pub last_attempt: Option<DateTime<Utc>>,
    /// Engine time of the last success.
    pub last_synced: Option<DateTime<Utc>>,
    /// Error of the last attempt.
    pub error: Option<String>,
    /// `modified` from the SDK's answer.
    pub modified: Option<bool>,
}

/// Why a sync failed.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum SyncError {
    /// The URL is not usable.
    #[error("app URL {0:?} is not a valid absolute URL")]
    BadUrl(String),
    /// The app could not be reached.
    #[error("could not sync {url}: {message}")]
    Unreachable {
        /// App URL.
        url: String,
        /// Cause.
        message: String,
    },
    /// The app answered with an error.
    #[error("the app at {url} refused to sync (HTTP {status}): {message}")]
    Refused {
        /// App URL.
        url: String,
        /// Status.
        status: u16,
        /// Message from the SDK.
        message: String,
    },
}

/// Sends sync `PUT`s and remembers their results.
#[derive(Debug)]
pub(crate) struct Syncer {
    transport: Arc<dyn Transport>,
    signing_key: Option<SigningKey>,
    server_kind: &'static str,
    user_agent: String,
    statuses: Mutex<BTreeMap<String, AppStatus>>,
}

impl Syncer {
    pub(crate) fn new(
        transport: Arc<dyn Transport>,
        signing_key: Option<SigningKey>,
        server_kind: &'static str,
        user_agent: String,
    ) -> Self {
        Self {
            transport,
            signing_key,
            server_kind,
            user_agent,
            statuses: Mutex::new(BTreeMap::new()),
        }
    }

    /// Remembers a URL without syncing it yet.
    pub(crate) fn add(&self, url: &str) {
        let mut st = self.statuses.lock().unwrap_or_else(|p| p.into_inner());
        st.entry(url.to_owned()).or_insert_with(|| AppStatus {
            url: url.to_owned(),
            last_attempt: None,
            last_synced: None,
            error: None,
            modified: None,
        });
    }

    /// Known URLs and their last results.
    pub(crate) fn statuses(&self) -> Vec<AppStatus> {
        self.statuses
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect()
    }

    /// Syncs one URL now. `now` is engine time for the record.
    pub(crate) async fn sync(&self, url: &str, now: DateTime<Utc>) -> Result<bool, SyncError> {
        self.add(url);
        let result = self.put(url).await;
        let mut st = self.statuses.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(s) = st.get_mut(url) {
            s.last_attempt = Some(now);
            match &result {
                Ok(modified) => {
                    s.last_synced = Some(now);
                    s.error = None;
                    s.modified = Some(*modified);
                }
                Err(e) => s.error = Some(e.to_string()),
            }
        }
        result
    }

    async fn put(&self, url: &str) -> Result<bool, SyncError> {
        let parsed = url::Url::parse(url).map_err(|_| SyncError::BadUrl(url.to_owned()))?;
        let body = serde_jcs::to_vec(&serde_json::json!({ "url": url }))
            .expect("a JSON object with one string serialises");
        let mut builder = Request::builder()
            .method(Method::PUT)
            .uri(parsed.as_str())
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(http::header::USER_AGENT, self.user_agent.as_str())
            .header(HEADER_SERVER_KIND, self.server_kind);
        if let Some(key) = &self.signing_key {
            builder = builder.header(HEADER_SIGNATURE, key.sign(&body, Utc::now().timestamp()));
        }
        let request = builder
            .body(Bytes::from(body))
            .map_err(|e| SyncError::Unreachable {
                url: url.to_owned(),
                message: e.to_string(),
            })?;
        let resp = self
            .transport
            .send(request, SYNC_TIMEOUT)
            .await
            .map_err(|e| SyncError::Unreachable {
                url: url.to_owned(),
                message: e.to_string(),
            })?;
        let status = resp.status().as_u16();
        let json: Option<Value> = serde_json::from_slice(resp.body()).ok();
        let message = json
            .as_ref()
            .and_then(|j| j.get("message").or_else(|| j.get("error")))
            .and_then(Value::as_str)
            .map(str::to_owned)
            .unwrap_or_else(|| {
                String::from_utf8_lossy(resp.body())
                    .chars()
                    .take(300)
                    .collect()
            });
        if (200..300).contains(&status) {
            Ok(json
                .as_ref()
                .and_then(|j| j.get("modified"))
                .and_then(Value::as_bool)
                .unwrap_or(false))
        } else {
            Err(SyncError::Refused {
                url: url.to_owned(),
                status,
                message,
            })
        }
    }
}
