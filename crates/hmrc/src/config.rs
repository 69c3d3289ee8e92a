//! Where HMRC lives and how the client talks to it.

use std::time::Duration;

use url::Url;

use crate::error::Error;

/// HMRC's two real environments. Tests and the simulator use [`Endpoints::local`] instead.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Environment {
    /// `test-api.service.hmrc.gov.uk` and `test-www.tax.service.gov.uk`.
    Sandbox,
    /// `api.service.hmrc.gov.uk` and `www.tax.service.gov.uk`.
    Production,
}

impl Environment {
    /// The environment's endpoints.
    pub fn endpoints(self) -> Endpoints {
        let (api, www) = match self {
            Environment::Sandbox => (
                "https://test-api.service.hmrc.gov.uk/",
                "https://test-www.tax.service.gov.uk/",
            ),
            Environment::Production => (
                "https://api.service.hmrc.gov.uk/",
                "https://www.tax.service.gov.uk/",
            ),
        };
        let api = Url::parse(api).expect("HMRC's API host is a valid URL");
        let www = Url::parse(www).expect("HMRC's www host is a valid URL");
        Endpoints {
            token_url: api.join("oauth/token").expect("path joins onto a host URL"),
            authorize_url: www
                .join("oauth/authorize")
                .expect("path joins onto a host URL"),
            api_base: api,
            allows_test_scenarios: self == Environment::Sandbox,
        }
    }
}

/// The three URLs the client uses. Every one can be overridden, so tests and the HMRC
/// simulator can stand in for HMRC.
///
/// ```
/// use hmrc_mtd::{Endpoints, Environment};
/// let sandbox = Environment::Sandbox.endpoints();
/// assert_eq!(sandbox.token_url.as_str(), "https://test-api.service.hmrc.gov.uk/oauth/token");
/// assert_eq!(sandbox.authorize_url.as_str(), "https://test-www.tax.service.gov.uk/oauth/authorize");
/// let local = Endpoints::local("http://127.0.0.1:8080".parse()?);
/// assert_eq!(local.token_url.as_str(), "http://127.0.0.1:8080/oauth/token");
/// # Ok::<(), url::ParseError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoints {
    /// Base of the MTD APIs (`https://api.service.hmrc.gov.uk/`).
    pub api_base: Url,
    /// The OAuth token endpoint (`/oauth/token` on the API host).
    pub token_url: Url,
    /// The browser authorisation page (`/oauth/authorize` on the www host).
    pub authorize_url: Url,
    /// Whether `Gov-Test-Scenario` may be sent (sandbox and local stand-ins only; never
    /// production).
    pub allows_test_scenarios: bool,
}

impl Endpoints {
    /// Everything on one local base URL, as the HMRC simulator serves it: the APIs at the
    /// root, `/oauth/token` and `/oauth/authorize`.
    pub fn local(base: Url) -> Self {
        let mut base = base;
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        Endpoints {
            token_url: base
                .join("oauth/token")
                .expect("path joins onto a base URL"),
            authorize_url: base
                .join("oauth/authorize")
                .expect("path joins onto a base URL"),
            api_base: base,
            allows_test_scenarios: true,
        }
    }
}

/// Defaults: 30 s per request, 10 s to connect.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// See [`DEFAULT_TIMEOUT`].
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// What the client does when the fraud-prevention headers of a call fail
/// [`crate::fraud::FraudPreventionHeaders::validate`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum FraudHeaderPolicy {
    /// Send the call anyway, log the header names at `warn` and add a
    /// [`crate::Warning::FraudPreventionHeaders`] to the result (HMRC does not reject calls
    /// over headers; it reports them to you later).
    #[default]
    Warn,
    /// Refuse to send: [`Error::PlatformMisconfiguration`], nothing reaches HMRC.
    Reject,
}

/// How the HTTP client behaves. There are no retries: the caller owns them.
#[derive(Clone, Debug)]
pub struct HttpSettings {
    /// Whole-request timeout (default 30 s).
    pub timeout: Duration,
    /// Connection timeout (default 10 s).
    pub connect_timeout: Duration,
    /// `User-Agent` sent on every call.
    pub user_agent: String,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            timeout: DEFAULT_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            user_agent: concat!("hmrc-mtd/", env!("CARGO_PKG_VERSION")).to_owned(),
        }
    }
}

impl HttpSettings {
    /// A `reqwest` client with these settings, no redirects followed (a redirect from HMRC
    /// would be a misconfiguration, and following one could resend a body or a token).
    pub fn build_client(&self) -> Result<reqwest::Client, Error> {
        reqwest::Client::builder()
            .timeout(self.timeout)
            .connect_timeout(self.connect_timeout)
            .user_agent(self.user_agent.clone())
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| {
                Error::misconfigured(format!(
                    "the HTTP client could not be created: {}",
                    crate::classify::error_chain(&e)
                ))
            })
    }
}
