//! Client configuration: the `INNGEST_*` environment variables, builder overrides, modes,
//! origins and the secret key types.
//!
//! | variable | builder method | meaning |
//! |---|---|---|
//! | `INNGEST_DEV` | [`ClientBuilder::mode`](crate::ClientBuilder::mode), [`ClientBuilder::dev_server`](crate::ClientBuilder::dev_server) | `1`/`true` = dev mode, `0`/`false` = cloud mode, a URL = dev mode against that Dev Server |
//! | `INNGEST_SIGNING_KEY` | [`ClientBuilder::signing_key`](crate::ClientBuilder::signing_key) | verifies requests from Inngest and authenticates calls to it (required in cloud mode) |
//! | `INNGEST_SIGNING_KEY_FALLBACK` | [`ClientBuilder::signing_key_fallback`](crate::ClientBuilder::signing_key_fallback) | the previous key while rotating keys |
//! | `INNGEST_EVENT_KEY` | [`ClientBuilder::event_key`](crate::ClientBuilder::event_key) | sends events (required in cloud mode to send) |
//! | `INNGEST_ENV` | [`ClientBuilder::env`](crate::ClientBuilder::env) | branch environment name, sent as `X-Inngest-Env` |
//! | `INNGEST_BASE_URL` | [`ClientBuilder::base_url`](crate::ClientBuilder::base_url) | origin of both the API and the event API |
//! | `INNGEST_API_BASE_URL` | [`ClientBuilder::api_base_url`](crate::ClientBuilder::api_base_url) | origin of the API (`/fn/register`, `/v0/runs/...`) |
//! | `INNGEST_EVENT_API_BASE_URL` | [`ClientBuilder::event_api_base_url`](crate::ClientBuilder::event_api_base_url) | origin of the event API (`/e/{key}`) |
//! | `INNGEST_SERVE_ORIGIN` | [`ClientBuilder::serve_origin`](crate::ClientBuilder::serve_origin) | origin Inngest uses to reach this app (behind proxies) |
//! | `INNGEST_SERVE_PATH` | [`ClientBuilder::serve_path`](crate::ClientBuilder::serve_path) | path Inngest uses to reach the serve endpoint |
//! | `INNGEST_ALLOW_IN_BAND_SYNC` | [`ClientBuilder::allow_in_band_sync`](crate::ClientBuilder::allow_in_band_sync) | `false` forces out-of-band syncs |
//!
//! Builder values win over the environment. **Cloud mode is the default**; building a client
//! in cloud mode without a signing key fails with [`ConfigError::MissingSigningKey`].

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use subtle::ConstantTimeEq;

/// Default Inngest Cloud API origin.
pub const DEFAULT_API_BASE_URL: &str = "https://api.inngest.com/";
/// Default Inngest Cloud event API origin.
pub const DEFAULT_EVENT_API_BASE_URL: &str = "https://inn.gs/";
/// Default Inngest Dev Server origin (API and events).
pub const DEFAULT_DEV_SERVER_URL: &str = "http://localhost:8288/";

/// Names of the environment variables the client reads.
pub mod env_keys {
    /// Dev mode switch or Dev Server origin.
    pub const DEV: &str = "INNGEST_DEV";
    /// Signing key.
    pub const SIGNING_KEY: &str = "INNGEST_SIGNING_KEY";
    /// Fallback signing key (key rotation).
    pub const SIGNING_KEY_FALLBACK: &str = "INNGEST_SIGNING_KEY_FALLBACK";
    /// Event key.
    pub const EVENT_KEY: &str = "INNGEST_EVENT_KEY";
    /// Branch environment name.
    pub const ENV: &str = "INNGEST_ENV";
    /// Origin of both APIs.
    pub const BASE_URL: &str = "INNGEST_BASE_URL";
    /// Origin of the API.
    pub const API_BASE_URL: &str = "INNGEST_API_BASE_URL";
    /// Origin of the event API.
    pub const EVENT_API_BASE_URL: &str = "INNGEST_EVENT_API_BASE_URL";
    /// Public origin of this app.
    pub const SERVE_ORIGIN: &str = "INNGEST_SERVE_ORIGIN";
    /// Public path of the serve endpoint.
    pub const SERVE_PATH: &str = "INNGEST_SERVE_PATH";
    /// In-band sync switch.
    pub const ALLOW_IN_BAND_SYNC: &str = "INNGEST_ALLOW_IN_BAND_SYNC";
}

/// Whether the SDK talks to Inngest Cloud (or self-hosted Inngest) or to a Dev Server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Inngest Cloud or self-hosted `inngest start`: requests must be signed.
    Cloud,
    /// The Inngest Dev Server (`inngest dev`): no signatures.
    Dev,
}

impl Mode {
    /// `"cloud"` or `"dev"`, as on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Cloud => "cloud",
            Mode::Dev => "dev",
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An Inngest signing key (`signkey-<env>-<hex>`, or the bare hex of a self-hosted server).
///
/// `Debug` and `Display` print `[redacted]`; equality is constant-time.
///
/// ```
/// use inngest::SigningKey;
///
/// let key = SigningKey::new("signkey-prod-12345678").unwrap();
/// assert_eq!(format!("{key:?}"), "SigningKey([redacted])");
/// assert!(SigningKey::new("signkey-prod-xyz").is_err());
/// ```
#[derive(Clone)]
pub struct SigningKey(Arc<str>);

impl SigningKey {
    /// Validates a signing key: after the optional `signkey-<env>-` prefix it must be a
    /// non-empty, even-length hex string.
    pub fn new(key: impl Into<String>) -> Result<Self, InvalidKey> {
        let key: String = key.into();
        let key = key.trim().to_owned();
        let (_, body) = split_signing_key(&key);
        if body.is_empty() || body.len() % 2 != 0 || !body.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(InvalidKey);
        }
        Ok(Self(key.into()))
    }

    /// The key text. **Security warning:** never log it or put it into errors or outputs.
    pub fn secret(&self) -> &str {
        &self.0
    }

    /// The `signkey-<env>-` prefix (possibly empty).
    pub(crate) fn prefix(&self) -> &str {
        split_signing_key(&self.0).0
    }

    /// The key without its prefix: the HMAC key (as text) and the input of the bearer hash
    /// (hex-decoded).
    pub(crate) fn body(&self) -> &str {
        split_signing_key(&self.0).1
    }
}

/// Splits `signkey-<word>-<rest>` into (`signkey-<word>-`, `<rest>`), like the official SDKs'
/// `^signkey-\w+-` regex.
fn split_signing_key(key: &str) -> (&str, &str) {
    if let Some(rest) = key.strip_prefix("signkey-") {
        let word_len = rest
            .bytes()
            .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
            .count();
        // `\w+` is greedy but may backtrack: the prefix ends at the last '-' reachable
        // through word characters; word characters never include '-', so the first '-'
        // after a non-empty word ends it.
        if word_len > 0 && rest.as_bytes().get(word_len) == Some(&b'-') {
            let end = "signkey-".len() + word_len + 1;
            return (&key[..end], &key[end..]);
        }
    }
    ("", key)
}

impl PartialEq for SigningKey {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_bytes().ct_eq(other.0.as_bytes()).into()
    }
}

impl Eq for SigningKey {}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKey([redacted])")
    }
}

impl fmt::Display for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// An Inngest event key. `Debug` and `Display` print `[redacted]`; equality is constant-time.
///
/// ```
/// let key = inngest::EventKey::new("abc123");
/// assert_eq!(key.to_string(), "[redacted]");
/// ```
#[derive(Clone)]
pub struct EventKey(Arc<str>);

impl EventKey {
    /// Wraps an event key.
    pub fn new(key: impl Into<String>) -> Self {
        let key: String = key.into();
        Self(key.trim().into())
    }

    /// The key text. **Security warning:** never log it; it appears in event URLs.
    pub fn secret(&self) -> &str {
        &self.0
    }
}

impl PartialEq for EventKey {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_bytes().ct_eq(other.0.as_bytes()).into()
    }
}

impl Eq for EventKey {}

impl fmt::Debug for EventKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EventKey([redacted])")
    }
}

impl fmt::Display for EventKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// A signing key that is not `signkey-<env>-<hex>` or bare even-length hex.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid signing key: expected `signkey-<env>-<hex>` (or the bare hex of a self-hosted \
     server's key); copy it again from the Inngest dashboard"
)]
pub struct InvalidKey;

/// Why a client could not be configured.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The app id is empty.
    #[error("the app id is empty: pass a stable, non-empty id such as \"my-app\"")]
    EmptyAppId,
    /// Cloud mode needs a signing key to verify requests from Inngest.
    #[error(
        "cloud mode needs a signing key: set INNGEST_SIGNING_KEY (or call \
         `signing_key`), or use the Dev Server with INNGEST_DEV=1"
    )]
    MissingSigningKey,
    /// A signing key is malformed.
    #[error("{source_name}: {error}")]
    InvalidSigningKey {
        /// The variable or builder method that held it.
        source_name: &'static str,
        /// What is wrong.
        error: InvalidKey,
    },
    /// An environment variable or builder value could not be understood.
    #[error("{name}={value:?} is invalid: {reason}")]
    InvalidValue {
        /// The variable or builder method.
        name: &'static str,
        /// The value (never a secret).
        value: String,
        /// What is expected.
        reason: &'static str,
    },
    /// The HTTP client could not be built.
    #[error("could not build the HTTP client: {0}")]
    HttpClient(String),
}

/// Where configuration values come from when the builder does not set them.
#[derive(Clone)]
pub(crate) enum EnvSource {
    /// The process environment.
    Process,
    /// A fixed map (tests, or configuration from elsewhere).
    Map(HashMap<String, String>),
}

impl EnvSource {
    fn get(&self, key: &str) -> Option<String> {
        let value = match self {
            EnvSource::Process => std::env::var(key).ok(),
            EnvSource::Map(map) => map.get(key).cloned(),
        };
        value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
    }
}

impl fmt::Debug for EnvSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EnvSource::Process => f.write_str("Process"),
            EnvSource::Map(map) => {
                let mut keys: Vec<_> = map.keys().collect();
                keys.sort();
                f.debug_tuple("Map").field(&keys).finish()
            }
        }
    }
}

/// Parses booleans the way the official SDKs do: `true`/`1` and `false`/`0`, case-insensitive.
pub(crate) fn parse_bool(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" => Some(true),
        "false" | "0" => Some(false),
        _ => None,
    }
}

/// Builder values; `None` means "read the environment".
#[derive(Debug, Clone, Default)]
pub(crate) struct Overrides {
    pub(crate) mode: Option<Mode>,
    pub(crate) dev_server: Option<String>,
    pub(crate) signing_key: Option<String>,
    pub(crate) signing_key_fallback: Option<String>,
    pub(crate) event_key: Option<String>,
    pub(crate) env: Option<String>,
    pub(crate) base_url: Option<String>,
    pub(crate) api_base_url: Option<String>,
    pub(crate) event_api_base_url: Option<String>,
    pub(crate) serve_origin: Option<String>,
    pub(crate) serve_path: Option<String>,
    pub(crate) allow_in_band_sync: Option<bool>,
}

/// The resolved configuration of a client.
#[derive(Debug, Clone)]
pub struct Config {
    pub(crate) mode: Mode,
    pub(crate) signing_key: Option<SigningKey>,
    pub(crate) signing_key_fallback: Option<SigningKey>,
    pub(crate) event_key: Option<EventKey>,
    pub(crate) env: Option<String>,
    pub(crate) api_base_url: String,
    pub(crate) event_api_base_url: String,
    pub(crate) serve_origin: Option<String>,
    pub(crate) serve_path: Option<String>,
    pub(crate) allow_in_band_sync: bool,
}

impl Config {
    /// Cloud or dev.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The signing key, if any.
    pub fn signing_key(&self) -> Option<&SigningKey> {
        self.signing_key.as_ref()
    }

    /// The fallback signing key, if any.
    pub fn signing_key_fallback(&self) -> Option<&SigningKey> {
        self.signing_key_fallback.as_ref()
    }

    /// The event key, if any.
    pub fn event_key(&self) -> Option<&EventKey> {
        self.event_key.as_ref()
    }

    /// The branch environment name, if any.
    pub fn env(&self) -> Option<&str> {
        self.env.as_deref()
    }

    /// The API origin.
    pub fn api_base_url(&self) -> &str {
        &self.api_base_url
    }

    /// The event API origin.
    pub fn event_api_base_url(&self) -> &str {
        &self.event_api_base_url
    }

    /// The public origin of this app, if overridden.
    pub fn serve_origin(&self) -> Option<&str> {
        self.serve_origin.as_deref()
    }

    /// The public path of the serve endpoint, if overridden.
    pub fn serve_path(&self) -> Option<&str> {
        self.serve_path.as_deref()
    }

    /// Whether in-band syncs are allowed.
    pub fn allow_in_band_sync(&self) -> bool {
        self.allow_in_band_sync
    }

    /// Resolves overrides and environment into a configuration.
    pub(crate) fn resolve(o: &Overrides, env: &EnvSource) -> Result<Self, ConfigError> {
        // Mode: builder > INNGEST_DEV as boolean > INNGEST_DEV as URL > cloud.
        let dev_var = env.get(env_keys::DEV);
        // Origin taken from `INNGEST_DEV=<url>`.
        let mut dev_url: Option<String> = None;
        let mode = match (o.mode, &o.dev_server) {
            (Some(mode), _) => mode,
            (None, Some(_)) => Mode::Dev,
            (None, None) => match dev_var.as_deref() {
                None => Mode::Cloud,
                Some(v) => match parse_bool(v) {
                    Some(true) => Mode::Dev,
                    Some(false) => Mode::Cloud,
                    None => {
                        let url = if v.contains("://") {
                            v.to_owned()
                        } else {
                            format!("http://{v}")
                        };
                        check_url(env_keys::DEV, &url)?;
                        dev_url = Some(url);
                        Mode::Dev
                    }
                },
            },
        };
        if let Some(url) = &o.dev_server {
            check_url("dev_server", url)?;
        }
        let default_origin = |cloud: &str| match (&dev_url, mode) {
            (Some(url), _) => url.clone(),
            (None, Mode::Cloud) => cloud.to_owned(),
            (None, Mode::Dev) => DEFAULT_DEV_SERVER_URL.to_owned(),
        };
        let pick = |builder_specific: &Option<String>,
                    name_specific: &'static str,
                    cloud_default: &str|
         -> Result<String, ConfigError> {
            let candidates = [
                (builder_specific.clone(), name_specific),
                (o.base_url.clone(), "base_url"),
                (o.dev_server.clone(), "dev_server"),
                (env.get(name_specific), name_specific),
                (env.get(env_keys::BASE_URL), env_keys::BASE_URL),
            ];
            for (value, name) in candidates {
                if let Some(value) = value {
                    check_url(name, &value)?;
                    return Ok(value);
                }
            }
            Ok(default_origin(cloud_default))
        };
        let api_base_url = pick(
            &o.api_base_url,
            env_keys::API_BASE_URL,
            DEFAULT_API_BASE_URL,
        )?;
        let event_api_base_url = pick(
            &o.event_api_base_url,
            env_keys::EVENT_API_BASE_URL,
            DEFAULT_EVENT_API_BASE_URL,
        )?;

        let key = |builder: &Option<String>,
                   builder_name: &'static str,
                   name: &'static str|
         -> Result<_, ConfigError> {
            let (value, source_name) = match builder {
                Some(v) => (Some(v.clone()), builder_name),
                None => (env.get(name), name),
            };
            value
                .map(SigningKey::new)
                .transpose()
                .map_err(|error| ConfigError::InvalidSigningKey { source_name, error })
        };
        let signing_key = key(&o.signing_key, "signing_key", env_keys::SIGNING_KEY)?;
        let signing_key_fallback = key(
            &o.signing_key_fallback,
            "signing_key_fallback",
            env_keys::SIGNING_KEY_FALLBACK,
        )?;
        if mode == Mode::Cloud && signing_key.is_none() {
            return Err(ConfigError::MissingSigningKey);
        }
        let event_key = o
            .event_key
            .clone()
            .or_else(|| env.get(env_keys::EVENT_KEY))
            .filter(|k| !k.trim().is_empty())
            .map(EventKey::new);
        let env_name = o
            .env
            .clone()
            .or_else(|| env.get(env_keys::ENV))
            .filter(|e| !e.is_empty());

        let serve_origin = o
            .serve_origin
            .clone()
            .or_else(|| env.get(env_keys::SERVE_ORIGIN));
        if let Some(origin) = &serve_origin {
            check_url(env_keys::SERVE_ORIGIN, origin)?;
        }
        let serve_path = o
            .serve_path
            .clone()
            .or_else(|| env.get(env_keys::SERVE_PATH));
        if let Some(path) = &serve_path
            && !path.starts_with('/')
        {
            return Err(ConfigError::InvalidValue {
                name: env_keys::SERVE_PATH,
                value: path.clone(),
                reason: "expected an absolute path such as /api/inngest",
            });
        }
        let allow_in_band_sync = match o.allow_in_band_sync {
            Some(v) => v,
            None => match env.get(env_keys::ALLOW_IN_BAND_SYNC) {
                None => true,
                Some(v) => parse_bool(&v).ok_or(ConfigError::InvalidValue {
                    name: env_keys::ALLOW_IN_BAND_SYNC,
                    value: v.clone(),
                    reason: "expected true, false, 1 or 0",
                })?,
            },
        };
        Ok(Self {
            mode,
            signing_key,
            signing_key_fallback,
            event_key,
            env: env_name,
            api_base_url,
            event_api_base_url,
            serve_origin,
            serve_path,
            allow_in_band_sync,
        })
    }

    /// The keys that may verify a request, primary first.
    pub(crate) fn signing_keys(&self) -> Vec<&SigningKey> {
        self.signing_key
            .iter()
            .chain(self.signing_key_fallback.iter())
            .collect()
    }
}

/// Checks that a value is an absolute http(s) URL.
fn check_url(name: &'static str, value: &str) -> Result<(), ConfigError> {
    match url::Url::parse(value) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.has_host() => Ok(()),
        _ => Err(ConfigError::InvalidValue {
            name,
            value: value.to_owned(),
            reason: "expected an absolute http:// or https:// URL",
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str =
        "signkey-test-f00f3005a3666b359a79c2bc3380ce2715e62727ac461ae1a2618f8766029c9f";

    fn env(pairs: &[(&str, &str)]) -> EnvSource {
        EnvSource::Map(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }

    #[test]
    fn cloud_is_the_default_and_needs_a_signing_key() {
        let err = Config::resolve(&Overrides::default(), &env(&[])).unwrap_err();
        assert_eq!(err, ConfigError::MissingSigningKey);
        let cfg = Config::resolve(&Overrides::default(), &env(&[("INNGEST_SIGNING_KEY", KEY)]))
            .expect("valid");
        assert_eq!(cfg.mode, Mode::Cloud);
        assert_eq!(cfg.api_base_url, DEFAULT_API_BASE_URL);
        assert_eq!(cfg.event_api_base_url, DEFAULT_EVENT_API_BASE_URL);
        assert!(cfg.allow_in_band_sync);
    }

    #[test]
    fn inngest_dev_accepts_booleans_and_origins() {
        for v in ["1", "true", "TRUE"] {
            let cfg = Config::resolve(&Overrides::default(), &env(&[("INNGEST_DEV", v)]))
                .expect("dev needs no key");
            assert_eq!(cfg.mode, Mode::Dev);
            assert_eq!(cfg.api_base_url, DEFAULT_DEV_SERVER_URL);
        }
        for v in ["0", "false"] {
            let err = Config::resolve(&Overrides::default(), &env(&[("INNGEST_DEV", v)]));
            assert_eq!(err.unwrap_err(), ConfigError::MissingSigningKey);
        }
        let cfg = Config::resolve(
            &Overrides::default(),
            &env(&[("INNGEST_DEV", "http://127.0.0.1:9999")]),
        )
        .expect("dev url");
        assert_eq!(cfg.mode, Mode::Dev);
        assert_eq!(cfg.api_base_url, "http://127.0.0.1:9999");
        assert_eq!(cfg.event_api_base_url, "http://127.0.0.1:9999");
        let cfg = Config::resolve(
            &Overrides::default(),
            &env(&[("INNGEST_DEV", "devbox:8288")]),
        )
        .expect("scheme added");
        assert_eq!(cfg.api_base_url, "http://devbox:8288");
    }

    #[test]
    fn base_url_precedence_is_specific_then_shared() {
        let e = env(&[
            ("INNGEST_DEV", "1"),
            ("INNGEST_BASE_URL", "http://shared:1"),
            ("INNGEST_EVENT_API_BASE_URL", "http://events:2"),
        ]);
        let cfg = Config::resolve(&Overrides::default(), &e).expect("valid");
        assert_eq!(cfg.api_base_url, "http://shared:1");
        assert_eq!(cfg.event_api_base_url, "http://events:2");
        let o = Overrides {
            api_base_url: Some("http://builder:3".into()),
            ..Overrides::default()
        };
        let cfg = Config::resolve(&o, &e).expect("valid");
        assert_eq!(cfg.api_base_url, "http://builder:3");
        let o = Overrides {
            base_url: Some("http://builder-base:4".into()),
            ..Overrides::default()
        };
        let cfg = Config::resolve(&o, &e).expect("valid");
        assert_eq!(cfg.api_base_url, "http://builder-base:4");
        assert_eq!(cfg.event_api_base_url, "http://builder-base:4");
    }

    #[test]
    fn builder_values_override_the_environment() {
        let e = env(&[("INNGEST_DEV", "1"), ("INNGEST_ENV", "from-env")]);
        let o = Overrides {
            mode: Some(Mode::Cloud),
            signing_key: Some(KEY.into()),
            env: Some("from-builder".into()),
            allow_in_band_sync: Some(false),
            ..Overrides::default()
        };
        let cfg = Config::resolve(&o, &e).expect("valid");
        assert_eq!(cfg.mode, Mode::Cloud);
        assert_eq!(cfg.env.as_deref(), Some("from-builder"));
        assert!(!cfg.allow_in_band_sync);
    }

    #[test]
    fn every_variable_is_read() {
        let e = env(&[
            ("INNGEST_SIGNING_KEY", KEY),
            ("INNGEST_SIGNING_KEY_FALLBACK", "signkey-test-abcd"),
            ("INNGEST_EVENT_KEY", "evkey"),
            ("INNGEST_ENV", "branch-1"),
            ("INNGEST_API_BASE_URL", "http://api:1"),
            ("INNGEST_EVENT_API_BASE_URL", "http://ev:2"),
            ("INNGEST_SERVE_ORIGIN", "https://app.example.com"),
            ("INNGEST_SERVE_PATH", "/api/inngest"),
            ("INNGEST_ALLOW_IN_BAND_SYNC", "0"),
        ]);
        let cfg = Config::resolve(&Overrides::default(), &e).expect("valid");
        assert_eq!(cfg.signing_key.as_ref().map(SigningKey::secret), Some(KEY));
        assert_eq!(
            cfg.signing_key_fallback.as_ref().map(SigningKey::secret),
            Some("signkey-test-abcd")
        );
        assert_eq!(cfg.event_key.as_ref().map(EventKey::secret), Some("evkey"));
        assert_eq!(cfg.env.as_deref(), Some("branch-1"));
        assert_eq!(cfg.api_base_url, "http://api:1");
        assert_eq!(cfg.event_api_base_url, "http://ev:2");
        assert_eq!(cfg.serve_origin.as_deref(), Some("https://app.example.com"));
        assert_eq!(cfg.serve_path.as_deref(), Some("/api/inngest"));
        assert!(!cfg.allow_in_band_sync);
        assert_eq!(cfg.signing_keys().len(), 2);
    }

    #[test]
    fn invalid_values_name_the_variable() {
        let err = Config::resolve(
            &Overrides::default(),
            &env(&[("INNGEST_SIGNING_KEY", "signkey-prod-zz")]),
        )
        .unwrap_err();
        assert!(err.to_string().starts_with("INNGEST_SIGNING_KEY:"), "{err}");
        assert!(
            !err.to_string().contains("zz"),
            "the key must not leak: {err}"
        );
        let err = Config::resolve(
            &Overrides::default(),
            &env(&[
                ("INNGEST_DEV", "1"),
                ("INNGEST_ALLOW_IN_BAND_SYNC", "maybe"),
            ]),
        )
        .unwrap_err();
        assert!(err.to_string().contains("INNGEST_ALLOW_IN_BAND_SYNC"));
        let err = Config::resolve(
            &Overrides::default(),
            &env(&[("INNGEST_DEV", "1"), ("INNGEST_SERVE_PATH", "api")]),
        )
        .unwrap_err();
        assert!(err.to_string().contains("INNGEST_SERVE_PATH"));
        let err = Config::resolve(
            &Overrides::default(),
            &env(&[("INNGEST_DEV", "1"), ("INNGEST_BASE_URL", "ftp://x")]),
        )
        .unwrap_err();
        assert!(err.to_string().contains("INNGEST_BASE_URL"));
    }

    #[test]
    fn signing_key_prefixes_are_split_like_the_official_regex() {
        let key = SigningKey::new(KEY).expect("valid");
        assert_eq!(key.prefix(), "signkey-test-");
        assert!(key.body().starts_with("f00f"));
        let key = SigningKey::new("signkey-branch_1-abcd").expect("valid");
        assert_eq!(key.prefix(), "signkey-branch_1-");
        let bare = SigningKey::new("abcd").expect("bare hex is valid");
        assert_eq!(bare.prefix(), "");
        assert_eq!(bare.body(), "abcd");
        assert!(SigningKey::new("signkey-test-").is_err());
        assert!(SigningKey::new("signkey-test-abc").is_err(), "odd length");
    }

    #[test]
    fn secrets_are_redacted_and_compared_in_constant_time() {
        let a = SigningKey::new(KEY).expect("valid");
        let b = SigningKey::new(KEY).expect("valid");
        assert_eq!(a, b);
        assert_eq!(format!("{a:?} {a}"), "SigningKey([redacted]) [redacted]");
        let e = EventKey::new("secret-event-key");
        assert_eq!(format!("{e:?} {e}"), "EventKey([redacted]) [redacted]");
        assert_ne!(e, EventKey::new("other"));
    }
}
