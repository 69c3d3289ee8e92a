//! The HMRC sandbox simulator (`hmrc-sandbox`) as the tests' HMRC: one simulator per test on
//! 127.0.0.1 with a frozen clock, an application, a test user it created (its own NINO and
//! business IDs), the user's tokens from a real code exchange, and clients pointed at it.

use std::{sync::Arc, time::Duration};

use chrono::{DateTime, TimeZone, Utc};
use hmrc_mtd::{
    AuthorizationCode, BusinessId, CalculationId, CallContext, ClientSecret, Endpoints, Error,
    FraudHeaderPolicy, Nino, OAuthClient, OAuthConfig, UserTokens, fraud::FraudPreventionHeaders,
};
use hmrc_sandbox::{
    Admin, AuthorizeRequest, BusinessType, Clock, FaultAction, FaultSpec, ManualClock,
    NewApplication, NewBusiness, NewTestUser, RecordedRequest, RunningSandbox, Sandbox,
    SandboxBuilder, TaxYear, TestUser,
};
use url::Url;

use crate::support::{Flow, Ids, web_headers};

pub(crate) const CLIENT_ID: &str = "mtd-client-tests";
pub(crate) const CLIENT_SECRET: &str = "mtd-client-tests-secret-0123456789";
pub(crate) const REDIRECT: &str = "http://localhost:3000/hmrc/callback";
pub(crate) const USER_ID: &str = "alice";
pub(crate) const PASSWORD: &str = "alice-password-1";
pub(crate) const SCOPES: [&str; 2] = ["read:self-assessment", "write:self-assessment"];

/// 20 October 2025, 09:00 UTC: 2024-25 has ended (its final declaration can be made) and
/// 2025-26's second cumulative quarter (to 5 October) is open for updates.
pub(crate) fn today() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 10, 20, 9, 0, 0).unwrap()
}

/// 1 June 2023: the 2022-23 End of Period Statement could be sent (the accounting period has
/// ended, the 31 January 2024 deadline has not passed).
pub(crate) fn eops_2022_23_day() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2023, 6, 1, 9, 0, 0).unwrap()
}

/// The day on which a flow's fixed inputs are acceptable to HMRC.
pub(crate) fn day_for(flow: Flow) -> DateTime<Utc> {
    match flow {
        Flow::EndOfPeriodStatement => eops_2022_23_day(),
        _ => today(),
    }
}

/// A simulator builder with one application, no rate limit and no calculation delay (tests
/// that exercise those turn them back on).
fn builder(clock: Arc<ManualClock>) -> SandboxBuilder {
    Sandbox::builder()
        .clock(clock)
        .rate_limit(None)
        .calculation_delay(Duration::ZERO)
        .application(NewApplication::new(CLIENT_ID, CLIENT_SECRET, REDIRECT))
}

/// A running simulator, its test user and clients signed in as that user.
pub(crate) struct Sim {
    pub(crate) sandbox: RunningSandbox,
    pub(crate) clock: Arc<ManualClock>,
    pub(crate) ids: Ids,
    pub(crate) api: hmrc_mtd::MtdClient,
    pub(crate) oauth: OAuthClient,
    pub(crate) tokens: UserTokens,
    pub(crate) headers: FraudPreventionHeaders,
}

impl Sim {
    /// The simulator with HMRC's behaviour except the rate limit and the calculation delay.
    pub(crate) async fn start() -> Self {
        Self::start_with(|b| b).await
    }

    /// As [`Sim::start`], with the builder adjusted first.
    pub(crate) async fn start_with(
        configure: impl FnOnce(SandboxBuilder) -> SandboxBuilder,
    ) -> Self {
        let clock = Arc::new(ManualClock::new(today()));
        let sandbox = configure(builder(clock.clone()))
            .start()
            .await
            .expect("the simulator starts on 127.0.0.1");
        let user = sandbox
            .admin()
            .create_user(
                NewTestUser::default()
                    .credentials(USER_ID, PASSWORD)
                    .businesses(vec![
                        NewBusiness::self_employment(),
                        NewBusiness::uk_property(),
                    ])
                    .obligation_years(vec![TaxYear::starting(2024), TaxYear::starting(2025)]),
            )
            .expect("the simulator creates the test user");
        let ids = ids_of(&user);
        let base = base_url(&sandbox);
        let api = api_client(&base, FraudHeaderPolicy::Warn);
        let oauth = oauth_client(&base, CLIENT_SECRET, Duration::from_secs(5));
        let tokens = grant(sandbox.admin(), &oauth, USER_ID, &SCOPES).await;
        Sim {
            sandbox,
            clock,
            ids,
            api,
            oauth,
            tokens,
            headers: web_headers(),
        }
    }

    pub(crate) fn admin(&self) -> &Admin {
        self.sandbox.admin()
    }

    pub(crate) fn base(&self) -> Url {
        base_url(&self.sandbox)
    }

    /// A call as the test user with complete `WEB_APP_VIA_SERVER` headers.
    pub(crate) fn call(&self) -> CallContext<'_> {
        CallContext::new(&self.tokens.access_token, &self.headers)
    }

    /// Runs a flow's fixed inputs as the test user.
    pub(crate) async fn run(&self, flow: Flow) -> Result<hmrc_mtd::Response<()>, Error> {
        flow.run_for(&self.api, &self.call(), &self.ids).await
    }

    /// Moves the simulator's clock.
    pub(crate) fn set_day(&self, at: DateTime<Utc>) {
        self.clock.set(at).expect("a manual clock can be set");
    }

    /// Every call the simulator received on the flow's endpoint, oldest first.
    pub(crate) fn requests_to(&self, flow: Flow) -> Vec<RecordedRequest> {
        self.admin()
            .requests()
            .into_iter()
            .filter(|r| r.endpoint == flow.endpoint())
            .collect()
    }

    /// The newest call the simulator received on the flow's endpoint.
    pub(crate) fn last_request_to(&self, flow: Flow) -> RecordedRequest {
        self.requests_to(flow)
            .pop()
            .unwrap_or_else(|| panic!("{flow:?}: the simulator received no call"))
    }

    /// Installs a fault on the flow's endpoint that fires on every call until cleared, so
    /// that its counter shows every attempt the client made.
    pub(crate) fn fault(&self, flow: Flow, action: FaultAction) {
        self.admin()
            .add_fault(FaultSpec::new(flow.endpoint(), action))
            .expect("the fault is accepted");
    }

    /// How many calls the installed faults saw; then removes them.
    pub(crate) fn attempts_seen_by_faults(&self) -> u64 {
        let seen = self.admin().faults().iter().map(|f| f.seen).sum();
        self.admin().clear_faults();
        seen
    }

    /// Puts the simulator in a state where the flow's fixed inputs succeed: its day, and for
    /// the final-declaration steps income for 2024-25 and, to retrieve or declare, a
    /// calculation triggered for it.
    pub(crate) async fn prepare(&mut self, flow: Flow) {
        self.set_day(day_for(flow));
        let has_income = self
            .admin()
            .submissions()
            .iter()
            .any(|r| r.endpoint == Flow::SelfEmploymentPeriod.endpoint());
        if matches!(
            flow,
            Flow::TriggerCalculation | Flow::RetrieveCalculation | Flow::FinalDeclaration
        ) && !has_income
        {
            self.run(Flow::SelfEmploymentPeriod)
                .await
                .expect("the 2024-25 period summary is accepted");
        }
        if matches!(flow, Flow::RetrieveCalculation | Flow::FinalDeclaration) {
            self.ids.calculation_id = self.trigger_2024_25().await;
        }
    }

    /// Triggers the 2024-25 final-declaration calculation; returns its ID.
    pub(crate) async fn trigger_2024_25(&self) -> CalculationId {
        self.api
            .trigger_final_declaration_calculation(
                &self.call(),
                &self.ids.nino,
                "2024-25".parse().expect("valid tax year"),
            )
            .await
            .expect("the calculation is triggered")
            .body
            .calculation_id
    }

    /// A second test user (to call with a NINO the signed-in user does not own).
    pub(crate) fn another_user(&self) -> TestUser {
        self.admin()
            .create_user(NewTestUser::default().credentials("bob", "bob-password-1"))
            .expect("the simulator creates a second user")
    }

    /// Tokens of the test user for these scopes, from a real code exchange.
    pub(crate) async fn sign_in(&self, scopes: &[&str]) -> UserTokens {
        grant(self.admin(), &self.oauth, USER_ID, scopes).await
    }
}

/// The identifiers the simulator issued to a test user.
pub(crate) fn ids_of(user: &TestUser) -> Ids {
    let business = |kind: BusinessType| {
        let id = user
            .businesses
            .iter()
            .find(|b| b.type_of_business == kind)
            .unwrap_or_else(|| panic!("the test user has a {kind:?} business"));
        BusinessId::new(&id.business_id).expect("the simulator issues valid business IDs")
    };
    Ids {
        nino: Nino::new(&user.nino).expect("the simulator issues valid NINOs"),
        se_business: business(BusinessType::SelfEmployment),
        property_business: business(BusinessType::UkProperty),
        // Replaced by a triggered calculation's ID where the flow needs a real one.
        calculation_id: CalculationId::new("f2fb30e5-4ab6-4a29-b3c1-c7264259ff1c")
            .expect("valid calculation ID"),
    }
}

pub(crate) fn base_url(sandbox: &RunningSandbox) -> Url {
    sandbox.url().parse().expect("the simulator's URL parses")
}

/// The MTD client on the simulator, 5-second timeout.
pub(crate) fn api_client(base: &Url, policy: FraudHeaderPolicy) -> hmrc_mtd::MtdClient {
    let mut config = hmrc_mtd::ApiConfig::new(Endpoints::local(base.clone()));
    config.http.timeout = Duration::from_secs(5);
    config.fraud_header_policy = policy;
    hmrc_mtd::MtdClient::new(config).expect("the client builds")
}

/// The OAuth client on the simulator with the given secret and timeout.
pub(crate) fn oauth_client(base: &Url, secret: &str, timeout: Duration) -> OAuthClient {
    let mut config = OAuthConfig::new(
        Endpoints::local(base.clone()),
        CLIENT_ID,
        ClientSecret::new(secret),
        REDIRECT.parse().expect("valid redirect URI"),
    );
    config.http.timeout = timeout;
    OAuthClient::new(config).expect("the OAuth client builds")
}

/// The user grants the application these scopes (the simulator's shortcut for the authorise
/// page, with the client's own PKCE challenge), and the client exchanges the code.
pub(crate) async fn grant(
    admin: &Admin,
    oauth: &OAuthClient,
    user_id: &str,
    scopes: &[&str],
) -> UserTokens {
    let request = oauth.authorization_request();
    let challenge = request
        .url
        .query_pairs()
        .find(|(k, _)| k == "code_challenge")
        .map(|(_, v)| v.into_owned());
    let code = admin
        .authorize(AuthorizeRequest {
            user_id: user_id.to_owned(),
            client_id: CLIENT_ID.to_owned(),
            redirect_uri: REDIRECT.to_owned(),
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            code_challenge: challenge,
        })
        .expect("the simulator issues a code");
    oauth
        .exchange_code(&AuthorizationCode::new(code), &request.pkce_verifier)
        .await
        .expect("the code exchange succeeds")
}
