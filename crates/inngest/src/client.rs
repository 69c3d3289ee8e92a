//! The Inngest client: an app id, its configuration and an HTTP client.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http::{HeaderMap, HeaderName, HeaderValue};
use serde::Serialize;

use crate::config::{Config, ConfigError, EnvSource, Mode, Overrides};
use crate::event::{self, Event, SendError, SendEventResponse};
use crate::signature;

/// The SDK name sent in `X-Inngest-SDK` and `User-Agent` (`inngest-rs:v<version>`).
pub const SDK_NAME: &str = "inngest-rs";
/// The SDK version (this crate's version).
pub const SDK_VERSION: &str = env!("CARGO_PKG_VERSION");
/// The language reported in sync payloads and introspection.
pub const SDK_LANGUAGE: &str = "rust";
/// The framework reported in `X-Inngest-Framework` and sync payloads.
pub const FRAMEWORK: &str = "axum";

/// `inngest-rs:v<version>`.
pub(crate) fn sdk_header_value() -> String {
    format!("{SDK_NAME}:v{SDK_VERSION}")
}

/// `rust:v<version>`: the `sdk` field of the sync payload.
pub(crate) fn sdk_register_value() -> String {
    format!("{SDK_LANGUAGE}:v{SDK_VERSION}")
}

/// A client for one Inngest app: it serves functions (see [`crate::serve`]) and sends events.
///
/// Cheap to clone. Build it from the environment with [`Inngest::new`], or with
/// [`Inngest::builder`] to override values (or to ignore the environment entirely).
///
/// ```
/// use inngest::{Inngest, Mode};
///
/// // Purely from code: the process environment is not read.
/// let client = Inngest::builder("my-app").without_env().dev().build().unwrap();
/// assert_eq!(client.app_id(), "my-app");
/// assert_eq!(client.config().mode(), Mode::Dev);
/// ```
#[derive(Clone)]
pub struct Inngest {
    inner: Arc<Inner>,
}

struct Inner {
    app_id: String,
    app_version: Option<String>,
    config: Config,
    http: reqwest::Client,
}

impl Inngest {
    /// A client configured from the `INNGEST_*` environment variables.
    ///
    /// Fails in cloud mode (the default) without `INNGEST_SIGNING_KEY`.
    pub fn new(app_id: impl Into<String>) -> Result<Self, ConfigError> {
        Self::builder(app_id).build()
    }

    /// A builder; values set on it override the environment.
    pub fn builder(app_id: impl Into<String>) -> ClientBuilder {
        ClientBuilder {
            app_id: app_id.into(),
            app_version: None,
            overrides: Overrides::default(),
            env: EnvSource::Process,
            http: None,
        }
    }

    /// The app id (the prefix of every function's id).
    pub fn app_id(&self) -> &str {
        &self.inner.app_id
    }

    /// The app version, if set.
    pub fn app_version(&self) -> Option<&str> {
        self.inner.app_version.as_deref()
    }

    /// The resolved configuration.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// Sends one event; returns the server's id for it.
    ///
    /// Retries network errors, 5xx and 429 answers up to five attempts in all, with the same
    /// `X-Inngest-Event-Id-Seed`, so a retry never stores the event twice.
    ///
    /// ```no_run
    /// # async fn demo(client: inngest::Inngest) -> Result<(), inngest::SendError> {
    /// use inngest::Event;
    /// client.send(&Event::new("app/ping", serde_json::json!({}))).await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn send<T: Serialize>(
        &self,
        event: &Event<T>,
    ) -> Result<SendEventResponse, SendError> {
        self.send_many(std::slice::from_ref(event)).await
    }

    /// Sends several events in one request; the ids come back in the same order.
    pub async fn send_many<T: Serialize>(
        &self,
        events: &[Event<T>],
    ) -> Result<SendEventResponse, SendError> {
        let values = events
            .iter()
            .map(serde_json::to_value)
            .collect::<Result<Vec<_>, _>>()
            .map_err(SendError::Serialize)?;
        event::send_values(self, values).await
    }

    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.inner.http
    }

    /// Headers of every outbound request: content type, SDK identity, framework, env.
    pub(crate) fn outbound_headers(&self) -> HeaderMap {
        let mut h = HeaderMap::new();
        let sdk = header_value(&sdk_header_value());
        h.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        h.insert(http::header::USER_AGENT, sdk.clone());
        h.insert(HeaderName::from_static("x-inngest-sdk"), sdk);
        h.insert(
            HeaderName::from_static("x-inngest-framework"),
            HeaderValue::from_static(FRAMEWORK),
        );
        if let Some(env) = self.config().env() {
            h.insert(HeaderName::from_static("x-inngest-env"), header_value(env));
        }
        h
    }

    /// `{event origin}/e/{key}`, resolved like a browser resolves a relative URL.
    pub(crate) fn event_url(&self, key: &str) -> reqwest::Url {
        join(self.config().event_api_base_url(), &format!("e/{key}"))
    }

    /// `{api origin}{path}` for an absolute `path`.
    pub(crate) fn api_url(&self, path: &str) -> reqwest::Url {
        join(self.config().api_base_url(), path)
    }

    /// Sends a request to Inngest's API with the hashed signing key as bearer token, and
    /// once more with the fallback key if the first answer is 401 or 403.
    pub(crate) async fn api_send(
        &self,
        build: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, reqwest::Error> {
        let config = self.config();
        let with_key = |key: Option<&crate::SigningKey>| {
            let mut request = build(self.http()).headers(self.outbound_headers());
            if let Some(key) = key {
                request = request.bearer_auth(signature::hashed_signing_key(key));
            }
            request
        };
        let response = with_key(config.signing_key()).send().await?;
        if matches!(response.status().as_u16(), 401 | 403)
            && let Some(fallback) = config.signing_key_fallback()
        {
            return with_key(Some(fallback)).send().await;
        }
        Ok(response)
    }
}

/// Joins `path` onto `base` (WHATWG URL rules). `base` was validated when the config was
/// built, so parsing cannot fail; the fallback only keeps the function total.
fn join(base: &str, path: &str) -> reqwest::Url {
    let fallback =
        || reqwest::Url::parse("http://invalid.invalid/").expect("a constant URL always parses");
    reqwest::Url::parse(base)
        .and_then(|b| b.join(path))
        .unwrap_or_else(|_| fallback())
}

pub(crate) fn header_value(text: &str) -> HeaderValue {
    HeaderValue::from_str(text).unwrap_or_else(|_| HeaderValue::from_static("invalid"))
}

impl fmt::Debug for Inngest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Inngest")
            .field("app_id", &self.inner.app_id)
            .field("app_version", &self.inner.app_version)
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

/// Builds an [`Inngest`] client. Values set here override the environment.
#[derive(Debug)]
pub struct ClientBuilder {
    app_id: String,
    app_version: Option<String>,
    overrides: Overrides,
    env: EnvSource,
    http: Option<reqwest::Client>,
}

impl ClientBuilder {
    /// Sets the mode (cloud or dev).
    #[must_use]
    pub fn mode(mut self, mode: Mode) -> Self {
        self.overrides.mode = Some(mode);
        self
    }

    /// Dev mode against the default Dev Server (`http://localhost:8288`).
    #[must_use]
    pub fn dev(self) -> Self {
        self.mode(Mode::Dev)
    }

    /// Dev mode against the Dev Server at `url` (like `INNGEST_DEV=<url>`).
    #[must_use]
    pub fn dev_server(mut self, url: impl Into<String>) -> Self {
        self.overrides.dev_server = Some(url.into());
        self
    }

    /// Sets the signing key.
    #[must_use]
    pub fn signing_key(mut self, key: impl Into<String>) -> Self {
        self.overrides.signing_key = Some(key.into());
        self
    }

    /// Sets the fallback signing key (used while rotating keys).
    #[must_use]
    pub fn signing_key_fallback(mut self, key: impl Into<String>) -> Self {
        self.overrides.signing_key_fallback = Some(key.into());
        self
    }

    /// Sets the event key.
    #[must_use]
    pub fn event_key(mut self, key: impl Into<String>) -> Self {
        self.overrides.event_key = Some(key.into());
        self
    }

    /// Sets the branch environment name (`X-Inngest-Env`).
    #[must_use]
    pub fn env(mut self, env: impl Into<String>) -> Self {
        self.overrides.env = Some(env.into());
        self
    }

    /// Sets the origin of both the API and the event API.
    #[must_use]
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.overrides.base_url = Some(url.into());
        self
    }

    /// Sets the API origin.
    #[must_use]
    pub fn api_base_url(mut self, url: impl Into<String>) -> Self {
        self.overrides.api_base_url = Some(url.into());
        self
    }

    /// Sets the event API origin.
    #[must_use]
    pub fn event_api_base_url(mut self, url: impl Into<String>) -> Self {
        self.overrides.event_api_base_url = Some(url.into());
        self
    }

    /// Sets the public origin of this app (e.g. `https://app.example.com`).
    #[must_use]
    pub fn serve_origin(mut self, origin: impl Into<String>) -> Self {
        self.overrides.serve_origin = Some(origin.into());
        self
    }

    /// Sets the public path of the serve endpoint (e.g. `/api/inngest`).
    #[must_use]
    pub fn serve_path(mut self, path: impl Into<String>) -> Self {
        self.overrides.serve_path = Some(path.into());
        self
    }

    /// Allows or forbids in-band syncs.
    #[must_use]
    pub fn allow_in_band_sync(mut self, allow: bool) -> Self {
        self.overrides.allow_in_band_sync = Some(allow);
        self
    }

    /// Sets the app version reported at sync.
    #[must_use]
    pub fn app_version(mut self, version: impl Into<String>) -> Self {
        self.app_version = Some(version.into());
        self
    }

    /// Uses this HTTP client for outbound requests (sync, events, API).
    #[must_use]
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http = Some(client);
        self
    }

    /// Ignores the process environment: only builder values count.
    #[must_use]
    pub fn without_env(mut self) -> Self {
        self.env = EnvSource::Map(HashMap::new());
        self
    }

    /// Reads `INNGEST_*` values from these pairs instead of the process environment.
    ///
    /// ```
    /// let client = inngest::Inngest::builder("app")
    ///     .env_vars([("INNGEST_DEV", "1"), ("INNGEST_ENV", "branch-7")])
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(client.config().env(), Some("branch-7"));
    /// ```
    #[must_use]
    pub fn env_vars<K, V>(mut self, vars: impl IntoIterator<Item = (K, V)>) -> Self
    where
        K: Into<String>,
        V: Into<String>,
    {
        self.env = EnvSource::Map(
            vars.into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        );
        self
    }

    /// Builds the client.
    pub fn build(self) -> Result<Inngest, ConfigError> {
        if self.app_id.trim().is_empty() {
            return Err(ConfigError::EmptyAppId);
        }
        let config = Config::resolve(&self.overrides, &self.env)?;
        let http = match self.http {
            Some(http) => http,
            None => reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .map_err(|e| ConfigError::HttpClient(e.to_string()))?,
        };
        Ok(Inngest {
            inner: Arc::new(Inner {
                app_id: self.app_id,
                app_version: self.app_version,
                config,
                http,
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sdk_identity_strings() {
        assert_eq!(sdk_header_value(), format!("inngest-rs:v{SDK_VERSION}"));
        assert_eq!(sdk_header_value().matches(':').count(), 1);
        assert_eq!(sdk_register_value(), format!("rust:v{SDK_VERSION}"));
    }

    #[test]
    fn urls_are_joined_like_the_js_sdk() {
        let c = Inngest::builder("a")
            .without_env()
            .dev()
            .base_url("http://127.0.0.1:9")
            .build()
            .expect("valid");
        assert_eq!(c.event_url("KEY").as_str(), "http://127.0.0.1:9/e/KEY");
        assert_eq!(
            c.api_url("/fn/register").as_str(),
            "http://127.0.0.1:9/fn/register"
        );
    }

    #[test]
    fn an_empty_app_id_is_rejected() {
        let err = Inngest::builder(" ")
            .without_env()
            .dev()
            .build()
            .unwrap_err();
        assert_eq!(err, ConfigError::EmptyAppId);
    }

    #[test]
    fn debug_output_never_shows_keys() {
        let c = Inngest::builder("a")
            .without_env()
            .signing_key("signkey-prod-12345678")
            .event_key("super-secret-event-key")
            .build()
            .expect("valid");
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("12345678"), "{dbg}");
        assert!(!dbg.contains("super-secret"), "{dbg}");
    }
}
