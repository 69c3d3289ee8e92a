//! The whole stack on 127.0.0.1 for one test: the HMRC simulator, a SQLite store in a temp
//! dir, the functions served by the SDK router, and the local engine (compressed time).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Datelike, TimeZone, Utc};
use hmrc_mtd::fraud::{DeviceUserAgent, MfaKind, MultiFactor, Screen, WebAppViaServer};
use hmrc_mtd::{
    ApiConfig, AuthorizationCode, ClientSecret, Endpoints, MtdClient, OAuthClient, OAuthConfig,
    UserTokens,
};
use hmrc_sandbox::{
    Admin, AuthorizeRequest, BusinessType, Clock, FaultAction, FaultSpec, ManualClock,
    NewApplication, NewBusiness, NewTestUser, OffsetClock, RunningSandbox, Sandbox, TaxYear,
    TestUser,
};
use inngest_local::{Engine, RunFilter, RunRecord, RunningEngine};
use mtd_functions::payload::SubmissionPayload;
use mtd_functions::{Deps, Settings, VendorInfo, events, fraud};
use mtd_store::{
    Audit, EncryptionKey, Keyring, Notification, NotificationFilter, Store, StoreConfig,
    Submission, SubmissionKind, TokenPair,
};
use uuid::Uuid;

pub(crate) const CLIENT_ID: &str = "mtd-functions-tests";
pub(crate) const CLIENT_SECRET: &str = "mtd-functions-tests-secret-0123456789";
pub(crate) const REDIRECT: &str = "http://localhost:3000/hmrc/callback";
pub(crate) const USER: &str = "alice";
pub(crate) const APP_USER: &str = "user-alice";
pub(crate) const APP_ID: &str = "mtd";

/// 20 October 2025: 2024-25 has ended (declarable), 2025-26 Q2 (to 5 October) can be sent.
pub(crate) fn today() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 10, 20, 9, 0, 0).unwrap()
}

/// How a test wants its stack.
pub(crate) struct Options {
    /// The simulator's clock: frozen at this day, or running from it (for calculation delays).
    pub(crate) day: DateTime<Utc>,
    pub(crate) running_clock: bool,
    pub(crate) time_scale: f64,
    pub(crate) retries: u32,
    pub(crate) calculation_delay: Duration,
    pub(crate) refresh_delay: Duration,
    pub(crate) client_secret: &'static str,
    /// Store the access token as already expired, so the first step refreshes.
    pub(crate) stored_token_expired: bool,
    pub(crate) settings: fn(&mut Settings),
    pub(crate) scheduled: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            day: today(),
            running_clock: false,
            time_scale: 1000.0,
            retries: 4,
            calculation_delay: Duration::ZERO,
            refresh_delay: Duration::ZERO,
            client_secret: CLIENT_SECRET,
            stored_token_expired: false,
            settings: |_| {},
            scheduled: None,
        }
    }
}

pub(crate) struct Stack {
    pub(crate) sandbox: RunningSandbox,
    pub(crate) user: TestUser,
    pub(crate) tokens: UserTokens,
    pub(crate) store: Store,
    pub(crate) credential_id: Uuid,
    pub(crate) engine: RunningEngine,
    pub(crate) client: inngest::Inngest,
    pub(crate) api: MtdClient,
    pub(crate) oauth: OAuthClient,
    _dir: tempfile::TempDir,
    server: tokio::task::JoinHandle<()>,
}

pub(crate) fn vendor() -> VendorInfo {
    VendorInfo::new("My Tax App", "2.2.2")
        .license_id(
            "my-tax-app",
            "8D7963490527D33716835EE7C195516D5E562E03B224E9B359836466EE40CDE1",
        )
        .public_ip("203.0.113.6".parse().unwrap())
        .batch_server(
            "a9d5c2f8-9b5e-4c5f-8a65-0d1e4f3c2b1a",
            vec!["10.1.2.3".parse().unwrap()],
            vec!["ea:43:1a:5d:21:45".into()],
            DeviceUserAgent {
                os_family: "Linux".into(),
                os_version: "6.8.0".into(),
                device_manufacturer: "Dell Inc.".into(),
                device_model: "PowerEdge R650".into(),
            },
            "mtd-batch",
        )
}

/// What the browser and the edge captured when the user asked for the submission.
pub(crate) fn captured() -> WebAppViaServer {
    let at = Utc.with_ymd_and_hms(2025, 10, 20, 8, 59, 0).unwrap();
    vendor().apply_to(
        WebAppViaServer::new()
            .browser_js_user_agent(
                "Mozilla/5.0 (X11; Linux x86_64; rv:130.0) Gecko/20100101 Firefox/130.0",
            )
            .device_id("beec798b-b366-47fa-b1f8-92cede14a1ce")
            .multi_factor(MultiFactor {
                kind: MfaKind::Totp,
                timestamp: at,
                unique_reference:
                    "fc4b5fd6816f75a7c81fc8eaa9499d6a299bd803397166e8c4cf9280b801d62c".into(),
            })
            .public_ip("198.51.100.7".parse().unwrap())
            .public_ip_timestamp(at)
            .public_port(52311)
            .screens(vec![Screen {
                width: 1920,
                height: 1080,
                scaling_factor: 1.25,
                colour_depth: 24,
            }])
            .timezone_offset_minutes(60)
            .user_id("my-tax-app", "alice@example.com")
            .window_size(1256, 803)
            .vendor_forwarded(
                "203.0.113.6".parse().unwrap(),
                "198.51.100.7".parse().unwrap(),
            ),
    )
}

fn oauth_client(base: &url::Url, secret: &str) -> OAuthClient {
    let mut config = OAuthConfig::new(
        Endpoints::local(base.clone()),
        CLIENT_ID,
        ClientSecret::new(secret),
        REDIRECT.parse().unwrap(),
    );
    config.http.timeout = Duration::from_secs(5);
    OAuthClient::new(config).unwrap()
}

async fn grant(admin: &Admin, oauth: &OAuthClient) -> UserTokens {
    let request = oauth.authorization_request();
    let challenge = request
        .url
        .query_pairs()
        .find(|(k, _)| k == "code_challenge")
        .map(|(_, v)| v.into_owned());
    let code = admin
        .authorize(AuthorizeRequest {
            user_id: USER.to_owned(),
            client_id: CLIENT_ID.to_owned(),
            redirect_uri: REDIRECT.to_owned(),
            scopes: vec![
                "read:self-assessment".into(),
                "write:self-assessment".into(),
            ],
            code_challenge: challenge,
        })
        .unwrap();
    oauth
        .exchange_code(&AuthorizationCode::new(code), &request.pkce_verifier)
        .await
        .unwrap()
}

impl Stack {
    pub(crate) async fn start() -> Self {
        Self::with(Options::default()).await
    }

    pub(crate) async fn with(options: Options) -> Self {
        // The simulator.
        let mut builder = Sandbox::builder()
            .rate_limit(None)
            .calculation_delay(options.calculation_delay)
            .refresh_delay(options.refresh_delay)
            .application(NewApplication::new(CLIENT_ID, CLIENT_SECRET, REDIRECT));
        if options.running_clock {
            let clock = Arc::new(OffsetClock::default());
            clock.set(options.day).unwrap();
            builder = builder.clock(clock);
        } else {
            let clock = Arc::new(ManualClock::new(options.day));
            builder = builder.clock(clock);
        }
        let sandbox = builder.start().await.unwrap();
        let user = sandbox
            .admin()
            .create_user(
                NewTestUser::default()
                    .credentials(USER, "alice-password-1")
                    .businesses(vec![
                        NewBusiness::self_employment(),
                        NewBusiness::uk_property(),
                    ])
                    // Up to the year after the real date: the scheduled refresh asks for the tax
                    // year of the real date, whatever the simulator's clock says.
                    .obligation_years(
                        (2022..=Utc::now().year() + 1)
                            .map(TaxYear::starting)
                            .collect(),
                    ),
            )
            .unwrap();
        let base: url::Url = sandbox.url().parse().unwrap();
        let mut api_config = ApiConfig::new(Endpoints::local(base.clone()));
        api_config.http.timeout = Duration::from_secs(5);
        let api = MtdClient::new(api_config).unwrap();
        let oauth = oauth_client(&base, CLIENT_SECRET);
        let tokens = grant(sandbox.admin(), &oauth).await;

        // The store, holding the user's tokens.
        let dir = tempfile::tempdir().unwrap();
        let keyring = Keyring::new("test-key", EncryptionKey::generate().unwrap()).unwrap();
        let store = Store::open(
            StoreConfig::new(dir.path().join("mtd.db").to_string_lossy()).keyring(keyring),
        )
        .await
        .unwrap();
        let expires_at = if options.stored_token_expired {
            Utc::now() - chrono::TimeDelta::minutes(1)
        } else {
            tokens.expires_at
        };
        let pair = TokenPair::new(
            mtd_store::AccessToken::new(tokens.access_token.expose_secret()),
            mtd_store::RefreshToken::new(tokens.refresh_token.expose_secret()),
            expires_at,
        );
        let credential_id = store
            .credentials()
            .connect(APP_USER, &user.nino, &pair)
            .await
            .unwrap()
            .credential
            .id;

        // The engine and the functions, served over HTTP.
        let mut engine = Engine::builder()
            .port(0)
            .time_scale(options.time_scale)
            .no_poll();
        let _ = &mut engine;
        let engine = engine.start().await.unwrap();
        let client = inngest::Inngest::builder(APP_ID)
            .without_env()
            .dev_server(engine.url())
            .build()
            .unwrap();
        let mut settings = Settings::default();
        settings.retries = options.retries;
        (options.settings)(&mut settings);
        let vendor = vendor();
        let mut deps = Deps::new(
            store.clone(),
            api.clone(),
            oauth_client(&base, options.client_secret),
            vendor.clone(),
        )
        .settings(settings);
        if let Some(cron) = options.scheduled {
            deps = deps.scheduled_refresh(mtd_functions::ScheduledRefresh::new(
                cron,
                mtd_functions::CredentialLister::active(store.clone()),
            ));
        }
        let functions = mtd_functions::functions(deps).unwrap();
        let app = axum::Router::new().nest(
            "/api/inngest",
            inngest::serve::router(client.clone(), functions),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        engine
            .sync_app(&format!("http://{addr}/api/inngest"))
            .await
            .unwrap();
        Stack {
            sandbox,
            user,
            tokens,
            store,
            credential_id,
            engine,
            client,
            api,
            oauth,
            _dir: dir,
            server,
        }
    }

    pub(crate) fn admin(&self) -> &Admin {
        self.sandbox.admin()
    }

    pub(crate) fn nino(&self) -> String {
        self.user.nino.clone()
    }

    pub(crate) fn business(&self, kind: BusinessType) -> hmrc_mtd::BusinessId {
        let id = self
            .user
            .businesses
            .iter()
            .find(|b| b.type_of_business == kind)
            .unwrap();
        hmrc_mtd::BusinessId::new(&id.business_id).unwrap()
    }

    pub(crate) fn fault(&self, endpoint: &str, action: FaultAction, times: Option<u32>) {
        let mut spec = FaultSpec::new(endpoint, action);
        if let Some(n) = times {
            spec = spec.times(n);
        }
        self.admin().add_fault(spec).unwrap();
    }

    /// Creates the submission as the app does (payload, captured headers) and returns its id.
    pub(crate) async fn create<P: SubmissionPayload>(&self, payload: &P) -> Uuid {
        let new = payload
            .new_submission(APP_USER, &self.nino())
            .unwrap()
            .fraud_headers(fraud::capture(&captured()))
            .idempotency_key(Uuid::new_v4().to_string());
        self.store
            .submissions()
            .create(&new, &Audit::new("user:alice", "asked to submit"))
            .await
            .unwrap()
            .id
    }

    /// Sends the event for a stored submission with the SDK's events client, and waits for
    /// its run.
    pub(crate) async fn run(&self, kind: SubmissionKind, submission_id: Uuid) -> RunRecord {
        let event = events::submission_requested(kind, submission_id, self.credential_id);
        let sent = self.client.send(&event).await.unwrap();
        self.wait(&sent.ids[0]).await
    }

    pub(crate) async fn wait(&self, event_id: &str) -> RunRecord {
        self.engine
            .wait_for(
                &RunFilter::event(event_id.to_owned()),
                Duration::from_secs(60),
            )
            .await
            .unwrap()
    }

    /// Creates, sends and waits.
    pub(crate) async fn submit<P: SubmissionPayload>(&self, payload: &P) -> (Uuid, RunRecord) {
        let id = self.create(payload).await;
        let run = self.run(P::KIND, id).await;
        (id, run)
    }

    pub(crate) async fn submission(&self, id: Uuid) -> Submission {
        self.store.submissions().get(id).await.unwrap().unwrap()
    }

    pub(crate) async fn notifications(&self) -> Vec<Notification> {
        self.store
            .notifications()
            .list(APP_USER, NotificationFilter::All, 100)
            .await
            .unwrap()
    }

    pub(crate) async fn credential(&self) -> mtd_store::Credential {
        self.store
            .credentials()
            .get(self.credential_id)
            .await
            .unwrap()
            .unwrap()
    }

    /// The calls the simulator received on an endpoint.
    pub(crate) fn requests_to(&self, endpoint: &str) -> Vec<hmrc_sandbox::RecordedRequest> {
        self.admin()
            .requests()
            .into_iter()
            .filter(|r| r.endpoint == endpoint)
            .collect()
    }

    pub(crate) fn refreshes(&self) -> usize {
        self.admin()
            .token_events()
            .iter()
            .filter(|e| e.event == "refreshed")
            .count()
    }

    pub(crate) async fn stop(self) {
        self.engine.shutdown().await;
        self.server.abort();
        let _ = self.sandbox.shutdown().await;
    }
}

/// The attempts of a step of a run, by step id.
pub(crate) fn attempts<'a>(run: &'a RunRecord, step: &str) -> Vec<&'a inngest_local::StepAttempt> {
    run.step(step)
        .unwrap_or_else(|| {
            panic!(
                "run has no step {step}: {:?}",
                run.steps.iter().map(|s| &s.name).collect::<Vec<_>>()
            )
        })
        .attempts
        .iter()
        .collect()
}
