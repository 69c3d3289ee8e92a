//! The app's shared state and its HTTP router.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::{get, post};
use hmrc_mtd::{OAuthClient, OAuthState, PkceVerifier};
use inngest::{Function, Inngest};
use mtd_store::Store;

use crate::capture::CaptureSettings;
use crate::identity::Identity;
use crate::routes;

/// How long a started HMRC connection waits for its callback (HMRC's codes live 10 minutes).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(600);
/// Pending connections kept at most (oldest dropped first), so a flood cannot exhaust memory.
const MAX_PENDING: usize = 10_000;

/// Settings of the HTTP layer.
#[derive(Debug, Clone)]
pub struct AppSettings {
    /// Who the user is.
    pub identity: Identity,
    /// How fraud-prevention values are captured.
    pub capture: CaptureSettings,
    /// Whether cookies carry `Secure` (the app is served over HTTPS).
    pub secure_cookies: bool,
}

/// One HMRC connection in progress: started by `/hmrc/connect`, finished (once) by
/// `/hmrc/callback` from the same browser session within [`CONNECT_TIMEOUT`].
pub(crate) struct PendingConnect {
    pub(crate) user_id: String,
    pub(crate) nino: String,
    pub(crate) state: OAuthState,
    pub(crate) verifier: PkceVerifier,
    pub(crate) started: Instant,
}

/// The app: store, Inngest client, HMRC OAuth client and settings. Cheap to clone.
#[derive(Clone)]
pub struct App {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    inngest: Inngest,
    oauth: OAuthClient,
    settings: AppSettings,
    pending: Mutex<HashMap<String, PendingConnect>>,
}

impl fmt::Debug for App {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("App")
            .field("inngest", &self.inner.inngest)
            .field("settings", &self.inner.settings)
            .finish_non_exhaustive()
    }
}

impl App {
    /// The app over its dependencies.
    pub fn new(store: Store, inngest: Inngest, oauth: OAuthClient, settings: AppSettings) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                inngest,
                oauth,
                settings,
                pending: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// The HTTP routes: the Inngest serve endpoint at `/api/inngest` (serving `functions`),
    /// HMRC connect and callback, the pages and the JSON API under `/api/v1`. Serve it with
    /// `into_make_service_with_connect_info::<SocketAddr>()` so the client's address is known.
    pub fn router(&self, functions: Vec<Function>) -> Router {
        let serve = inngest::serve::router(self.inner.inngest.clone(), functions);
        Router::new()
            .route("/", get(routes::pages::dashboard))
            .route("/healthz", get(|| async { "ok" }))
            .route("/hmrc/connect", get(routes::hmrc::connect))
            .route("/hmrc/callback", get(routes::hmrc::callback))
            .route(
                "/obligations/refresh",
                post(routes::pages::refresh_obligations),
            )
            .route("/submissions/period/new", get(routes::pages::period_form))
            .route("/submissions/period", post(routes::pages::submit_period))
            .route("/submissions/annual/new", get(routes::pages::annual_form))
            .route("/submissions/annual", post(routes::pages::submit_annual))
            .route("/submissions/eops/new", get(routes::pages::eops_form))
            .route("/submissions/eops", post(routes::pages::submit_eops))
            .route(
                "/submissions/final-declaration/new",
                get(routes::pages::final_declaration_form),
            )
            .route(
                "/submissions/final-declaration",
                post(routes::pages::submit_final_declaration),
            )
            .route("/submissions/{id}", get(routes::pages::submission))
            .route("/submissions/{id}/resubmit", post(routes::pages::resubmit))
            .route("/notifications/{id}/read", post(routes::pages::mark_read))
            .route("/api/v1/connection", get(routes::api::connection))
            .route("/api/v1/obligations", get(routes::api::obligations))
            .route(
                "/api/v1/obligations/refresh",
                post(routes::api::refresh_obligations),
            )
            .route(
                "/api/v1/submissions",
                get(routes::api::list_submissions).post(routes::api::create_submission),
            )
            .route("/api/v1/submissions/{id}", get(routes::api::get_submission))
            .route(
                "/api/v1/submissions/{id}/resubmit",
                post(routes::api::resubmit),
            )
            .route("/api/v1/notifications", get(routes::api::notifications))
            .route(
                "/api/v1/notifications/{id}/read",
                post(routes::api::mark_read),
            )
            .with_state(self.clone())
            .nest("/api/inngest", serve)
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The Inngest client (sends the events that start runs).
    pub fn inngest(&self) -> &Inngest {
        &self.inner.inngest
    }

    pub(crate) fn oauth(&self) -> &OAuthClient {
        &self.inner.oauth
    }

    /// The settings.
    pub fn settings(&self) -> &AppSettings {
        &self.inner.settings
    }

    pub(crate) fn capture_settings(&self) -> &CaptureSettings {
        &self.inner.settings.capture
    }

    fn pending(&self) -> MutexGuard<'_, HashMap<String, PendingConnect>> {
        // A poisoned lock only means another request panicked while holding it; the map itself
        // is still consistent (every operation is a single insert or remove).
        self.inner
            .pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Remembers a started connection for a session (replacing an earlier one of the same
    /// session), dropping expired ones.
    pub(crate) fn start_connect(&self, session_id: &str, pending: PendingConnect) {
        let mut map = self.pending();
        map.retain(|_, p| p.started.elapsed() < CONNECT_TIMEOUT);
        if map.len() >= MAX_PENDING
            && let Some(oldest) = map
                .iter()
                .min_by_key(|(_, p)| p.started)
                .map(|(k, _)| k.clone())
        {
            map.remove(&oldest);
        }
        map.insert(session_id.to_owned(), pending);
    }

    /// Takes (single use) the connection a session started, if it has not expired.
    pub(crate) fn take_connect(&self, session_id: &str) -> Option<PendingConnect> {
        self.pending()
            .remove(session_id)
            .filter(|p| p.started.elapsed() < CONNECT_TIMEOUT)
    }
}
