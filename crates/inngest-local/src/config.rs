//! Engine configuration, and the dev server's config file (`inngest.json` / `inngest.yaml` /
//! `inngest.yml`, keys named like the flags: `sdk-url`, `poll-interval`, `port`, `no-poll`,
//! `retry-interval`, `signing-key`, `event-key`, plus this engine's `time-scale` and `db`).

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::executor::DEFAULT_USE_API_THRESHOLD;
use crate::signature::{EventKey, KeyError, SigningKey};

/// Default port (the dev server's).
pub const DEFAULT_PORT: u16 = 8288;
/// Default poll interval (the dev server's).
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(5);
/// File names searched, in order, in the working directory and its parents.
pub const CONFIG_FILE_NAMES: [&str; 3] = ["inngest.json", "inngest.yaml", "inngest.yml"];

/// Everything the engine needs to start.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Address to bind.
    pub host: IpAddr,
    /// Port to bind (0 = any free port).
    pub port: u16,
    /// SDK serve URLs to sync.
    pub sdk_urls: Vec<String>,
    /// Re-sync apps every `poll_interval`.
    pub poll: bool,
    /// Interval between sync `PUT`s.
    pub poll_interval: Duration,
    /// Fixed retry delay instead of Inngest's backoff table (dev server `--retry-interval`).
    pub retry_interval: Option<Duration>,
    /// Signing key: calls and syncs are signed; `/fn/register`, `/v0` and `/local` need the bearer.
    pub signing_key: Option<SigningKey>,
    /// Event keys accepted on `/e/{key}` (empty = any key).
    pub event_keys: Vec<EventKey>,
    /// Engine time runs this many times faster than wall time.
    pub time_scale: f64,
    /// SQLite file keeping runs and apps across restarts.
    pub db: Option<PathBuf>,
    /// Run state size above which calls use `use_api`.
    pub use_api_threshold: usize,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: DEFAULT_PORT,
            sdk_urls: Vec::new(),
            poll: true,
            poll_interval: DEFAULT_POLL_INTERVAL,
            retry_interval: None,
            signing_key: None,
            event_keys: Vec::new(),
            time_scale: 1.0,
            db: None,
            use_api_threshold: DEFAULT_USE_API_THRESHOLD,
        }
    }
}

/// One value or a list (the dev server accepts both for list keys).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum OneOrMany {
    /// A single string.
    One(String),
    /// A list.
    Many(Vec<String>),
}

impl OneOrMany {
    /// The values as a list.
    pub fn into_vec(self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => s
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
            OneOrMany::Many(v) => v,
        }
    }
}

/// The config file's keys (unknown keys, e.g. `queue-workers`, are ignored).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case")]
pub struct FileConfig {
    /// `sdk-url`: app URLs.
    pub sdk_url: Option<OneOrMany>,
    /// `poll-interval`: seconds.
    pub poll_interval: Option<u64>,
    /// `port`.
    pub port: Option<u16>,
    /// `host`.
    pub host: Option<String>,
    /// `no-poll`.
    pub no_poll: Option<bool>,
    /// `retry-interval`: seconds.
    pub retry_interval: Option<u64>,
    /// `signing-key`.
    pub signing_key: Option<String>,
    /// `event-key`: one or many.
    pub event_key: Option<OneOrMany>,
    /// `time-scale` (this engine only).
    pub time_scale: Option<f64>,
    /// `db` (this engine only): SQLite file.
    pub db: Option<PathBuf>,
}

/// Why configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// File.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid JSON / YAML of the expected shape.
    #[error("config file {path} is invalid: {message}")]
    Parse {
        /// File.
        path: PathBuf,
        /// Cause.
        message: String,
    },
    /// A value is out of range.
    #[error("invalid {key}: {message}")]
    Value {
        /// The key or flag.
        key: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The signing key is malformed.
    #[error("invalid signing key: {0}")]
    SigningKey(#[from] KeyError),
}

impl FileConfig {
    /// Parses a config file's text; `.json` files as JSON, others as YAML.
    pub fn parse(path: &Path, text: &str) -> Result<Self, ConfigError> {
        let is_json = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("json"));
        let parsed = if is_json {
            serde_json::from_str(text).map_err(|e| e.to_string())
        } else {
            serde_yaml_ng::from_str(text).map_err(|e| e.to_string())
        };
        parsed.map_err(|message| ConfigError::Parse {
            path: path.to_owned(),
            message,
        })
    }

    /// Reads `path`.
    pub fn read(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(path, &text)
    }

    /// Finds the config file the dev server would use: `INNGEST_CONFIG`-style explicit path
    /// first (passed in), else the first of [`CONFIG_FILE_NAMES`] in `dir` or a parent, else
    /// `~/.config/inngest/`.
    pub fn discover(dir: &Path, home: Option<&Path>) -> Option<PathBuf> {
        for d in dir.ancestors() {
            for name in CONFIG_FILE_NAMES {
                let p = d.join(name);
                if p.is_file() {
                    return Some(p);
                }
            }
        }
        let home_dir = home?.join(".config").join("inngest");
        CONFIG_FILE_NAMES
            .iter()
            .map(|n| home_dir.join(n))
            .find(|p| p.is_file())
    }

    /// Applies the file's values onto `config` (the caller applies flags afterwards).
    pub fn apply(self, config: &mut EngineConfig) -> Result<(), ConfigError> {
        if let Some(urls) = self.sdk_url {
            config.sdk_urls.extend(urls.into_vec());
        }
        if let Some(p) = self.poll_interval {
            config.poll_interval = Duration::from_secs(p);
        }
        if let Some(p) = self.port {
            config.port = p;
        }
        if let Some(h) = self.host {
            config.host = parse_host(&h)?;
        }
        if let Some(n) = self.no_poll {
            config.poll = !n;
        }
        if let Some(r) = self.retry_interval {
            config.retry_interval = (r > 0).then(|| Duration::from_secs(r));
        }
        if let Some(k) = self.signing_key {
            config.signing_key = Some(SigningKey::new(k)?);
        }
        if let Some(keys) = self.event_key {
            config.event_keys = keys.into_vec().into_iter().map(EventKey::new).collect();
        }
        if let Some(s) = self.time_scale {
            config.time_scale = check_scale(s)?;
        }
        if let Some(db) = self.db {
            config.db = Some(db);
        }
        Ok(())
    }
}

/// Parses a bind host (`localhost` is 127.0.0.1).
pub fn parse_host(h: &str) -> Result<IpAddr, ConfigError> {
    if h.eq_ignore_ascii_case("localhost") {
        return Ok(IpAddr::V4(Ipv4Addr::LOCALHOST));
    }
    h.parse().map_err(|_| ConfigError::Value {
        key: "host",
        message: format!("{h:?} is not an IP address (use e.g. 127.0.0.1 or 0.0.0.0)"),
    })
}

/// Checks a time scale is a positive finite number.
pub fn check_scale(s: f64) -> Result<f64, ConfigError> {
    if s.is_finite() && s > 0.0 {
        Ok(s)
    } else {
        Err(ConfigError::Value {
            key: "time-scale",
            message: format!("{s} must be a positive number"),
        })
    }
}

/// Adds `http://` to a URL without a scheme, as the dev server does for `-u`.
pub fn normalise_sdk_url(url: &str) -> String {
    let url = url.trim();
    if url.contains("://") {
        url.to_owned()
    } else {
        format!("http://{url}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_dev_server_json_keys() {
        let f = FileConfig::parse(
            Path::new("inngest.json"),
            r#"{"sdk-url": ["http://localhost:3000/api/inngest"], "poll-interval": 2, "port": 9999,
                "no-poll": true, "retry-interval": 3, "event-key": "k1", "queue-workers": 10}"#,
        )
        .unwrap();
        let mut c = EngineConfig::default();
        f.apply(&mut c).unwrap();
        assert_eq!(c.sdk_urls, vec!["http://localhost:3000/api/inngest"]);
        assert_eq!(c.poll_interval, Duration::from_secs(2));
        assert_eq!(c.port, 9999);
        assert!(!c.poll);
        assert_eq!(c.retry_interval, Some(Duration::from_secs(3)));
        assert_eq!(c.event_keys.len(), 1);
    }

    #[test]
    fn reads_yaml_with_signing_key_and_scale() {
        let f = FileConfig::parse(
            Path::new("inngest.yaml"),
            "sdk-url: http://127.0.0.1:4000/api/inngest\nsigning-key: signkey-test-abcd\ntime-scale: 60\ndb: runs.sqlite\n",
        )
        .unwrap();
        let mut c = EngineConfig::default();
        f.apply(&mut c).unwrap();
        assert_eq!(c.sdk_urls, vec!["http://127.0.0.1:4000/api/inngest"]);
        assert!(c.signing_key.is_some());
        assert_eq!(c.time_scale, 60.0);
        assert_eq!(c.db, Some(PathBuf::from("runs.sqlite")));
    }

    #[test]
    fn rejects_bad_values_with_the_key_named() {
        let f = FileConfig::parse(Path::new("inngest.yml"), "time-scale: -1\n").unwrap();
        let err = f.apply(&mut EngineConfig::default()).unwrap_err();
        assert!(err.to_string().contains("time-scale"));
        let err = FileConfig::parse(Path::new("inngest.json"), "{\"port\": \"x\"}").unwrap_err();
        assert!(err.to_string().contains("inngest.json"));
        assert!(parse_host("not-an-ip").is_err());
    }

    #[test]
    fn discovers_file_in_parent_directory() {
        let dir = tempfile::tempdir().unwrap();
        let nested = dir.path().join("a/b");
        std::fs::create_dir_all(&nested).unwrap();
        std::fs::write(dir.path().join("inngest.yaml"), "port: 1\n").unwrap();
        assert_eq!(
            FileConfig::discover(&nested, None),
            Some(dir.path().join("inngest.yaml"))
        );
    }

    #[test]
    fn adds_scheme_to_bare_sdk_urls() {
        assert_eq!(
            normalise_sdk_url("localhost:3000/api/inngest"),
            "http://localhost:3000/api/inngest"
        );
        assert_eq!(normalise_sdk_url("https://x/api"), "https://x/api");
    }
}
