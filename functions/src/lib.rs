//! # mtd-functions: durable HMRC Making Tax Digital submissions on Inngest
//!
//! Five Inngest functions fetch a user's obligations and send their quarterly updates, annual
//! summaries, End of Period Statements and final declarations to HMRC, plus a scheduled
//! obligations refresh. Each runs every side effect in a durable step, so a transient fault is
//! retried with backoff while a permanent one stops at once with the right record, exactly as
//! the project's failure table says (`docs/architecture.md`).
//!
//! ## The functions
//!
//! | id | event ([`events`]) | steps |
//! |---|---|---|
//! | `fetch-obligations` | [`events::OBLIGATIONS_FETCH`] | `claim-submission` (or `record-scheduled-fetch`), `fetch-obligations`, `cache-obligations`, `record-submitted` |
//! | `submit-period` | [`events::PERIOD_SUBMIT`] | `claim-submission`, `submit-to-hmrc`, then the outcome steps below |
//! | `submit-annual-summary` | [`events::ANNUAL_SUMMARY_SUBMIT`] | the same |
//! | `submit-eops` | [`events::EOPS_SUBMIT`] | the same (`submit-to-hmrc` refuses tax years from 2024-25 without a call) |
//! | `submit-crystallisation` | [`events::CRYSTALLISATION_SUBMIT`] | `claim-submission`, `intent-to-finalise`, then `wait-for-calculation` (durable sleep) + `retrieve-calculation` up to [`Settings::calculation_max_polls`] times, `final-declaration`, the outcome steps |
//! | `scheduled-obligations-refresh` | cron [`ScheduledRefresh::cron`] | `list-credentials`, `fan-out` (one [`events::OBLIGATIONS_FETCH`] per active credential) |
//!
//! Every submit and fetch function is limited to one run step at a time per credential
//! (`event.data.credential_id`, environment scope), so refreshes of one grant are serialised;
//! the store's refresh lease and compare-and-swap are the second guard. Each has
//! [`Settings::retries`] **retries** (4 by default: 5 attempts per step) and an `on_failure`
//! handler that records `failed` for a run that died before recording any outcome.
//!
//! The step that calls HMRC loads the credential, gets an access token
//! (`store.credentials().access_token(...)`, refreshing through the store's race-free
//! protocol with the rotated pair persisted first) and calls HMRC, all in one step: tokens
//! never appear in step outputs, events, logs or errors. User-started work replays the
//! `WEB_APP_VIA_SERVER` headers captured with the submission ([`fraud::replay`]); the
//! scheduled refresh sends this server's `BATCH_PROCESS_DIRECT` headers ([`VendorInfo`]).
//!
//! ## The failure table, as implemented
//!
//! The HMRC step returns accepted, duplicate and rejected answers as its output; every other
//! failure is an error carrying its row ([`failure`]), which the function reads back from the
//! memoised step error.
//!
//! | HMRC / token endpoint said | step | then, each in its own step | submission | run |
//! |---|---|---|---|---|
//! | refresh `invalid_grant`; API 401 / 403 `CLIENT_OR_AGENT_NOT_AUTHORISED` / `FORBIDDEN` on a token nobody replaced; credential already expired | `NonRetriableError` (206 `StepFailed`, no retry) | `expire-credential` (`expire_unless_replaced`), `record-failed`, `notify-reconnect` ("Please reconnect your HMRC account"; "Please resubmit" if the credential was replaced in between) | `failed` (`auth`, HMRC's answer) | fails, no retry |
//! | API 401 on a token another run replaced meanwhile | retriable `Error` | retried with the fresh token | stays `processing` | goes on |
//! | network, timeout, 5xx, 429, refresh "already in progress", `*_IN_PROGRESS` | `Error`, or `RetryAfterError` with HMRC's `Retry-After` | retried; when the last attempt fails: `record-failed`, `notify-failed` | `processing`, then `failed` (`transient_exhausted`) | fails |
//! | 400/422 `FORMAT_*` / `RULE_*` about the figures | returns the rejection | `record-rejected` (each code, message, path), `notify-rejected` ("HMRC refused these figures") | `rejected` | completes |
//! | accepted | returns the receipt | `record-submitted`, `notify-accepted` | `submitted` | completes with the receipt |
//! | `RULE_DUPLICATE_SUBMISSION`, EOPS `RULE_ALREADY_SUBMITTED`, `RULE_FINAL_DECLARATION_RECEIVED` | returns the duplicate | `record-submitted` (history: "HMRC already held it") | `submitted` | completes |
//! | token 401 `invalid_client`, API 403 `INVALID_SCOPE` / `RESOURCE_FORBIDDEN`, wrong version, unreadable stored data, unclassifiable answers | `NonRetriableError` | `record-failed` (with an `error!` operator alert), `notify-failed` ("a problem on our side") | `failed` (`misconfiguration`); credential untouched | fails |
//! | EOPS for a tax year from 2024-25 | `NonRetriableError`, no HTTP call | as misconfiguration: the app should have refused it ([`payload::EopsSubmission`] validates) | `failed` (`misconfiguration`, "not required for tax year …") | fails |
//!
//! Records are idempotent under retries: the store ignores recording a status a submission
//! already has, and notifications carry dedupe keys made of the run id and the step.
//!
//! ## Serving them
//!
//! ```no_run
//! # async fn demo(store: mtd_store::Store) -> Result<(), Box<dyn std::error::Error>> {
//! use hmrc_mtd::{ApiConfig, ClientSecret, Environment, MtdClient, OAuthClient, OAuthConfig};
//! use mtd_functions::{Deps, VendorInfo};
//!
//! let endpoints = Environment::Sandbox.endpoints();
//! let hmrc = MtdClient::new(ApiConfig::new(endpoints.clone()))?;
//! let oauth = OAuthClient::new(OAuthConfig::new(
//!     endpoints,
//!     "client-id",
//!     ClientSecret::new("client-secret"),
//!     "https://app.example.com/hmrc/callback".parse()?,
//! ))?;
//! let deps = Deps::new(store, hmrc, oauth, VendorInfo::new("My Tax App", "1.0.0"));
//! let client = inngest::Inngest::new("mtd")?;
//! let app = axum::Router::new()
//!     .nest("/api/inngest", inngest::serve::router(client, mtd_functions::functions(deps)?));
//! axum::serve(tokio::net::TcpListener::bind("127.0.0.1:3000").await?, app).await?;
//! # Ok(()) }
//! ```

pub mod events;
pub mod failure;
pub mod fraud;
pub mod payload;

mod access;
mod crystallisation;
mod obligations;
mod outcome;
mod scheduled;
mod submit;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use inngest::{Function, FunctionConfigError};
use uuid::Uuid;

pub use fraud::VendorInfo;
pub use outcome::{HmrcOutcome, RunResult};

/// Everything the functions need at run time. Cheap to clone.
#[derive(Clone)]
#[non_exhaustive]
pub struct Deps {
    /// Credentials, submissions, notifications, obligations cache.
    pub store: mtd_store::Store,
    /// The MTD API client.
    pub hmrc: hmrc_mtd::MtdClient,
    /// Token refresh.
    pub oauth: hmrc_mtd::OAuthClient,
    /// This product and server: `Gov-Vendor-*` values and `BATCH_PROCESS_DIRECT` headers.
    pub vendor: VendorInfo,
    /// Retries, refresh, calculation polling, test scenario.
    pub settings: Settings,
    /// The scheduled obligations refresh, when wanted.
    pub scheduled_refresh: Option<ScheduledRefresh>,
}

impl fmt::Debug for Deps {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Deps")
            .field("store", &self.store)
            .field("hmrc", &self.hmrc)
            .field("vendor", &self.vendor)
            .field("settings", &self.settings)
            .field("scheduled_refresh", &self.scheduled_refresh)
            .finish_non_exhaustive()
    }
}

impl Deps {
    /// Default [`Settings`] and no scheduled refresh.
    pub fn new(
        store: mtd_store::Store,
        hmrc: hmrc_mtd::MtdClient,
        oauth: hmrc_mtd::OAuthClient,
        vendor: VendorInfo,
    ) -> Self {
        Self {
            store,
            hmrc,
            oauth,
            vendor,
            settings: Settings::default(),
            scheduled_refresh: None,
        }
    }

    /// Replaces the settings.
    #[must_use]
    pub fn settings(mut self, settings: Settings) -> Self {
        self.settings = settings;
        self
    }

    /// Adds the scheduled obligations refresh.
    #[must_use]
    pub fn scheduled_refresh(mut self, refresh: ScheduledRefresh) -> Self {
        self.scheduled_refresh = Some(refresh);
        self
    }
}

/// Tunables of the functions.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Settings {
    /// Retries per step and for the function body (`4` = up to 5 attempts). Inngest's
    /// backoff applies between attempts; HMRC's `Retry-After` replaces it when given.
    pub retries: u32,
    /// How long a claimed refresh stays exclusive; longer than the token call's timeout.
    pub refresh_lease_ttl: Duration,
    /// How long a step waits for another run's refresh before retrying later.
    pub refresh_max_wait: Duration,
    /// Refresh when the stored access token has less validity left than this.
    pub refresh_min_validity: Duration,
    /// First wait after triggering the final calculation (HMRC advises at least 5 s).
    pub calculation_first_wait: Duration,
    /// Wait between two checks of the calculation.
    pub calculation_poll_interval: Duration,
    /// How many times the calculation is checked before the declaration fails clearly.
    pub calculation_max_polls: u32,
    /// `Gov-Test-Scenario` sent on every call (sandbox only; refused for production hosts).
    pub test_scenario: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            retries: 4,
            refresh_lease_ttl: Duration::from_secs(60),
            refresh_max_wait: Duration::from_secs(75),
            refresh_min_validity: Duration::from_secs(300),
            calculation_first_wait: Duration::from_secs(5),
            calculation_poll_interval: Duration::from_secs(5),
            calculation_max_polls: 12,
            test_scenario: None,
        }
    }
}

/// A boxed future, as returned by a [`CredentialLister`].
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// Lists the credentials the scheduled refresh fans out to: usually
/// [`CredentialLister::active`], every active credential in the store; tests and special
/// deployments can supply their own list with [`CredentialLister::new`].
#[derive(Clone)]
pub struct CredentialLister(Arc<dyn Fn() -> BoxFuture<Result<Vec<Uuid>, String>> + Send + Sync>);

impl CredentialLister {
    /// A lister from an async function returning credential ids, or a message on failure.
    pub fn new<F, Fut>(list: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Vec<Uuid>, String>> + Send + 'static,
    {
        Self(Arc::new(move || Box::pin(list())))
    }

    /// Every active credential in `store`, read a page at a time
    /// ([`mtd_store::Credentials::list_active`]).
    pub fn active(store: mtd_store::Store) -> Self {
        const PAGE: u32 = 500;
        Self::new(move || {
            let store = store.clone();
            async move {
                let mut ids = Vec::new();
                let mut after = None;
                loop {
                    let page = store
                        .credentials()
                        .list_active(after, PAGE)
                        .await
                        .map_err(|e| e.to_string())?;
                    ids.extend(page.iter().map(|c| c.id));
                    match page.last() {
                        Some(last) if page.len() == PAGE as usize => after = Some(last.id),
                        _ => return Ok(ids),
                    }
                }
            }
        })
    }

    pub(crate) async fn list(&self) -> Result<Vec<Uuid>, String> {
        (self.0)().await
    }
}

impl fmt::Debug for CredentialLister {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CredentialLister")
    }
}

/// The scheduled obligations refresh: a cron function that sends one
/// [`events::OBLIGATIONS_FETCH`] per credential, fetched with `BATCH_PROCESS_DIRECT` headers.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ScheduledRefresh {
    /// The cron schedule, e.g. `TZ=Europe/London 0 6 * * *`.
    pub cron: String,
    /// Which credentials to refresh (inactive ones are skipped by the fetch).
    pub credentials: CredentialLister,
}

impl ScheduledRefresh {
    /// A refresh on `cron` of the credentials `credentials` lists.
    pub fn new(cron: impl Into<String>, credentials: CredentialLister) -> Self {
        Self {
            cron: cron.into(),
            credentials,
        }
    }
}

/// The functions, ready for `inngest::serve::router`: the five flows, plus the scheduled
/// refresh when [`Deps::scheduled_refresh`] is set (each flow's `on_failure` handler is
/// registered with it).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = tempfile::tempdir()?;
/// # let store = mtd_store::Store::open(mtd_store::StoreConfig::new(dir.path().join("mtd.db").to_string_lossy())).await?;
/// # let endpoints = hmrc_mtd::Endpoints::local("http://127.0.0.1:9".parse()?);
/// # let hmrc = hmrc_mtd::MtdClient::new(hmrc_mtd::ApiConfig::new(endpoints.clone()))?;
/// # let oauth = hmrc_mtd::OAuthClient::new(hmrc_mtd::OAuthConfig::new(endpoints, "id", hmrc_mtd::ClientSecret::new("s"), "http://localhost/cb".parse()?))?;
/// use mtd_functions::{Deps, VendorInfo};
/// let deps = Deps::new(store, hmrc, oauth, VendorInfo::new("My Tax App", "1.0.0"));
/// let functions = mtd_functions::functions(deps)?;
/// let ids: Vec<&str> = functions.iter().map(|f| f.id()).collect();
/// assert_eq!(ids, ["fetch-obligations", "submit-period", "submit-annual-summary", "submit-eops", "submit-crystallisation"]);
/// assert!(functions.iter().all(|f| f.has_failure_handler()));
/// # Ok(()) }
/// ```
pub fn functions(deps: Deps) -> Result<Vec<Function>, FunctionConfigError> {
    let mut out = vec![
        obligations::function(deps.clone())?,
        submit::period(deps.clone())?,
        submit::annual_summary(deps.clone())?,
        submit::eops(deps.clone())?,
        crystallisation::function(deps.clone())?,
    ];
    if let Some(refresh) = deps.scheduled_refresh.clone() {
        out.push(scheduled::function(deps, refresh)?);
    }
    Ok(out)
}
