//! The admin side: a Rust handle ([`Admin`]) and the JSON API under `/_admin` that tests and
//! demos use to create test users, register applications, revoke grants, move time, inject
//! faults and read back what the sandbox received. Both call the same functions.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, Query, State as AxumState};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use bytes::Bytes;
use chrono::{DateTime, TimeDelta, Utc};
use http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::clock::ClockError;
use crate::faults::{Fault, FaultSpec};
use crate::fraud::FraudReport;
use crate::ids::{
    generate_business_id, generate_mtd_it_id, generate_nino, generate_password, generate_sa_utr,
    generate_user_id, is_valid_business_id, is_valid_mtd_it_id, is_valid_nino,
};
use crate::model::{Application, Business, NewApplication, NewBusiness, NewTestUser, TestUser};
use crate::mtd::ENDPOINTS;
use crate::oauth;
use crate::secret::Secret;
use crate::state::{AuthCode, RecordedRequest, Settings, Shared, State, TokenEvent};
use crate::sync::lock;

/// Why an admin operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// The input is not acceptable; the message says which field and why.
    #[error("invalid input: {0}")]
    Invalid(String),
    /// Something named in the request does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// The clock cannot be moved.
    #[error(transparent)]
    Clock(#[from] ClockError),
}

const FIRST_NAMES: [&str; 6] = ["Alice", "Bilal", "Chloe", "Dev", "Ewan", "Farah"];
const LAST_NAMES: [&str; 6] = ["Smith", "Khan", "Jones", "Patel", "Evans", "Walker"];

fn business_ids(st: &State) -> BTreeSet<String> {
    st.users
        .values()
        .flat_map(|u| u.businesses.iter().map(|b| b.business_id.clone()))
        .collect()
}

fn make_business(taken: &BTreeSet<String>, new: NewBusiness) -> Result<Business, AdminError> {
    let kind = new.type_of_business.ok_or_else(|| {
        AdminError::Invalid("typeOfBusiness is required for every business".to_owned())
    })?;
    let business_id = match new.business_id {
        Some(id) => {
            if !is_valid_business_id(&id) {
                return Err(AdminError::Invalid(format!(
                    "businessId {id} does not match ^X[A-Z0-9]IS[0-9]{{11}}$"
                )));
            }
            if taken.contains(&id) {
                return Err(AdminError::Invalid(format!(
                    "businessId {id} is already used"
                )));
            }
            id
        }
        None => loop {
            let id = generate_business_id(kind.id_letter());
            if !taken.contains(&id) {
                break id;
            }
        },
    };
    Ok(Business {
        business_id,
        type_of_business: kind,
        trading_name: new.trading_name,
        commencement_date: new.commencement_date,
    })
}

/// Creates a test user, generating whatever was left out.
pub(crate) fn create_user(
    st: &mut State,
    new: NewTestUser,
    now: DateTime<Utc>,
) -> Result<TestUser, AdminError> {
    let user_id = new.user_id.unwrap_or_else(generate_user_id);
    if user_id.is_empty() || st.users.contains_key(&user_id) {
        return Err(AdminError::Invalid(format!(
            "userId {user_id:?} is empty or already used"
        )));
    }
    let nino = match new.nino {
        Some(n) if !is_valid_nino(&n) => {
            return Err(AdminError::Invalid(format!(
                "nino {n} does not pass HMRC's NINO check"
            )));
        }
        Some(n) => n,
        None => loop {
            let n = generate_nino();
            if st.user_by_nino(&n).is_none() {
                break n;
            }
        },
    };
    if st.user_by_nino(&nino).is_some() {
        return Err(AdminError::Invalid(format!("nino {nino} is already used")));
    }
    let mtd_it_id = match new.mtd_it_id {
        Some(m) if !is_valid_mtd_it_id(&m) => {
            return Err(AdminError::Invalid(format!(
                "mtdItId {m} does not match ^X[A-Z]IT[0-9]{{11}}$"
            )));
        }
        Some(m) => m,
        None => generate_mtd_it_id(),
    };
    let mut taken = business_ids(st);
    let mut businesses = Vec::new();
    for b in new
        .businesses
        .unwrap_or_else(|| vec![NewBusiness::self_employment()])
    {
        let business = make_business(&taken, b)?;
        taken.insert(business.business_id.clone());
        businesses.push(business);
    }
    let pick = now.timestamp_subsec_nanos() as usize;
    let user = TestUser {
        user_id: user_id.clone(),
        password: Secret::new(new.password.unwrap_or_else(generate_password)),
        nino,
        mtd_it_id,
        sa_utr: generate_sa_utr(),
        first_name: new
            .first_name
            .unwrap_or_else(|| FIRST_NAMES[pick % FIRST_NAMES.len()].to_owned()),
        last_name: new
            .last_name
            .unwrap_or_else(|| LAST_NAMES[(pick / 7) % LAST_NAMES.len()].to_owned()),
        businesses,
        obligation_years: new.obligation_years,
        sources_version: 0,
    };
    st.users.insert(user_id, user.clone());
    Ok(user)
}

/// Adds a business to a user.
pub(crate) fn add_business(
    st: &mut State,
    user_id: &str,
    new: NewBusiness,
) -> Result<Business, AdminError> {
    let taken = business_ids(st);
    let business = make_business(&taken, new)?;
    let user = st
        .users
        .get_mut(user_id)
        .ok_or_else(|| AdminError::NotFound(format!("no test user with userId {user_id}")))?;
    user.businesses.push(business.clone());
    user.sources_version += 1;
    Ok(business)
}

/// Registers an application, generating credentials that were left out.
pub(crate) fn register_app(st: &mut State, new: NewApplication) -> Result<Application, AdminError> {
    let client_id = new
        .client_id
        .unwrap_or_else(|| Secret::random_hex(14).expose().to_owned());
    if client_id.is_empty() || st.apps.contains_key(&client_id) {
        return Err(AdminError::Invalid(format!(
            "clientId {client_id:?} is empty or already registered"
        )));
    }
    if new.redirect_uris.len() > 5 {
        return Err(AdminError::Invalid(
            "an application may have at most 5 redirect URIs".to_owned(),
        ));
    }
    for uri in &new.redirect_uris {
        oauth::check_redirect_uri(uri).map_err(AdminError::Invalid)?;
    }
    let app = Application {
        client_id: client_id.clone(),
        client_secret: Secret::new(
            new.client_secret
                .unwrap_or_else(|| Secret::random_hex(18).expose().to_owned()),
        ),
        redirect_uris: new.redirect_uris,
        name: new.name.unwrap_or_else(|| "Sandbox application".to_owned()),
    };
    st.apps.insert(client_id, app.clone());
    Ok(app)
}

/// A fraud-header finding from the journal.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FraudFinding {
    /// The request's correlation ID.
    pub correlation_id: String,
    /// The endpoint ID.
    pub endpoint: String,
    /// When it arrived.
    pub received_at: DateTime<Utc>,
    /// The findings.
    pub report: FraudReport,
}

/// What the authorise shortcut needs.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuthorizeRequest {
    /// The user granting access.
    pub user_id: String,
    /// The application.
    pub client_id: String,
    /// One of the application's redirect URIs.
    pub redirect_uri: String,
    /// Scopes granted.
    #[serde(default = "default_scopes")]
    pub scopes: Vec<String>,
    /// PKCE S256 challenge, if the client uses PKCE.
    #[serde(default)]
    pub code_challenge: Option<String>,
}

fn default_scopes() -> Vec<String> {
    vec![
        "read:self-assessment".to_owned(),
        "write:self-assessment".to_owned(),
    ]
}

/// A handle on a running sandbox's state, for tests in the same process.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use hmrc_sandbox::{NewTestUser, Sandbox};
/// let sandbox = Sandbox::builder().start().await?;
/// let user = sandbox.admin().create_user(NewTestUser::default())?;
/// println!("sign in as {} / {}", user.user_id, user.password.expose());
/// sandbox.admin().advance_clock(chrono::TimeDelta::hours(5))?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Admin {
    pub(crate) shared: Arc<Shared>,
}

impl Admin {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        lock(&self.shared.state)
    }

    /// Creates a test user (anything left out is generated).
    pub fn create_user(&self, new: NewTestUser) -> Result<TestUser, AdminError> {
        let now = self.now();
        create_user(&mut self.state(), new, now)
    }

    /// Adds a business to a user.
    pub fn add_business(&self, user_id: &str, new: NewBusiness) -> Result<Business, AdminError> {
        add_business(&mut self.state(), user_id, new)
    }

    /// The user with this user ID.
    pub fn user(&self, user_id: &str) -> Option<TestUser> {
        self.state().users.get(user_id).cloned()
    }

    /// Every test user.
    pub fn users(&self) -> Vec<TestUser> {
        self.state().users.values().cloned().collect()
    }

    /// Registers an application.
    pub fn register_application(&self, new: NewApplication) -> Result<Application, AdminError> {
        register_app(&mut self.state(), new)
    }

    /// Every registered application.
    pub fn applications(&self) -> Vec<Application> {
        self.state().apps.values().cloned().collect()
    }

    /// Revokes a user's grants (of one application, or all): refreshes fail with
    /// `invalid_grant` and the grant's access tokens stop working at once.
    pub fn revoke_grants(
        &self,
        user_id: &str,
        client_id: Option<&str>,
    ) -> Result<usize, AdminError> {
        let now = self.now();
        let mut st = self.state();
        if !st.users.contains_key(user_id) {
            return Err(AdminError::NotFound(format!(
                "no test user with userId {user_id}"
            )));
        }
        let mut count = 0;
        for grant in st.grants.values_mut() {
            if grant.user_id == user_id
                && !grant.revoked
                && client_id.is_none_or(|c| grant.client_id == c)
            {
                grant.revoked = true;
                count += 1;
            }
        }
        st.record_token_event(
            now,
            "grant_revoked",
            client_id,
            Some(user_id),
            Some(&format!("{count} grant(s)")),
        );
        Ok(count)
    }

    /// Expires the access tokens of a user (or of everyone): API calls get 401
    /// `INVALID_CREDENTIALS` until the client refreshes.
    pub fn expire_access_tokens(&self, user_id: Option<&str>) -> usize {
        let now = self.now();
        let mut st = self.state();
        let mut count = 0;
        for token in st.access.values_mut() {
            if token.expires_at > now && user_id.is_none_or(|u| token.user_id.as_deref() == Some(u))
            {
                token.expires_at = now - TimeDelta::seconds(1);
                count += 1;
            }
        }
        st.record_token_event(
            now,
            "tokens_expired",
            None,
            user_id,
            Some(&format!("{count} token(s)")),
        );
        count
    }

    /// Issues an authorisation code as if the user had clicked "Grant authority".
    pub fn authorize(&self, request: AuthorizeRequest) -> Result<String, AdminError> {
        let now = self.now();
        let mut st = self.state();
        let app = st
            .apps
            .get(&request.client_id)
            .ok_or_else(|| AdminError::NotFound(format!("no application {}", request.client_id)))?;
        if !app.redirect_uris.contains(&request.redirect_uri) {
            return Err(AdminError::Invalid(format!(
                "{} is not a redirect URI of {}",
                request.redirect_uri, request.client_id
            )));
        }
        if !st.users.contains_key(&request.user_id) {
            return Err(AdminError::NotFound(format!(
                "no test user with userId {}",
                request.user_id
            )));
        }
        let code = Secret::random_hex(16);
        st.codes.insert(
            code.digest(),
            AuthCode {
                client_id: request.client_id.clone(),
                user_id: request.user_id.clone(),
                redirect_uri: request.redirect_uri,
                scopes: request.scopes,
                code_challenge: request.code_challenge,
                issued_at: now,
                used: false,
            },
        );
        st.record_token_event(
            now,
            "code_issued",
            Some(&request.client_id),
            Some(&request.user_id),
            None,
        );
        Ok(code.expose().to_owned())
    }

    /// The sandbox's current time.
    pub fn now(&self) -> DateTime<Utc> {
        self.shared.clock.now()
    }

    /// Moves the sandbox clock; returns the new time.
    pub fn advance_clock(&self, by: TimeDelta) -> Result<DateTime<Utc>, AdminError> {
        self.shared.clock.advance(by)?;
        Ok(self.now())
    }

    /// Sets the sandbox clock.
    pub fn set_clock(&self, to: DateTime<Utc>) -> Result<(), AdminError> {
        Ok(self.shared.clock.set(to)?)
    }

    /// Current settings.
    pub fn settings(&self) -> Settings {
        self.state().settings.clone()
    }

    /// How long triggered calculations stay in progress.
    pub fn set_calculation_delay(&self, delay: Duration) {
        self.state().settings.calculation_delay = delay;
    }

    /// How long a refresh holds its grant (the window in which a concurrent refresh gets
    /// `invalid_request`).
    pub fn set_refresh_delay(&self, delay: Duration) {
        self.state().settings.refresh_delay = delay;
    }

    /// Requests per second per client ID; `None` disables the limit.
    pub fn set_rate_limit(&self, limit: Option<u32>) {
        let mut st = self.state();
        st.settings.rate_limit = limit;
        st.rate.clear();
    }

    /// Installs a fault; returns its ID.
    pub fn add_fault(&self, spec: FaultSpec) -> Result<u64, AdminError> {
        spec.check().map_err(AdminError::Invalid)?;
        if spec.endpoint != "*"
            && !ENDPOINTS.iter().any(|e| e.id == spec.endpoint)
            && spec.endpoint != oauth::TOKEN_ENDPOINT_ID
        {
            return Err(AdminError::Invalid(format!(
                "unknown endpoint {:?}; see GET /_admin/endpoints",
                spec.endpoint
            )));
        }
        let mut st = self.state();
        st.next_fault += 1;
        let id = st.next_fault;
        st.faults.push(Fault {
            id,
            spec,
            seen: 0,
            fired: 0,
        });
        Ok(id)
    }

    /// Removes a fault; `false` when there was none with this ID.
    pub fn remove_fault(&self, id: u64) -> bool {
        let mut st = self.state();
        let before = st.faults.len();
        st.faults.retain(|f| f.id != id);
        st.faults.len() != before
    }

    /// Removes every fault.
    pub fn clear_faults(&self) {
        self.state().faults.clear();
    }

    /// Installed faults with their counters.
    pub fn faults(&self) -> Vec<Fault> {
        self.state().faults.clone()
    }

    /// Every request received on an MTD or test endpoint, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.state().requests.iter().cloned().collect()
    }

    /// Accepted writes (POST/PUT/DELETE answered 2xx), oldest first.
    pub fn submissions(&self) -> Vec<RecordedRequest> {
        self.state()
            .requests
            .iter()
            .filter(|r| {
                r.method != "GET"
                    && (200..300).contains(&r.status)
                    && !r.endpoint.starts_with("test-")
            })
            .cloned()
            .collect()
    }

    /// Fraud-prevention findings of every recorded request.
    pub fn fraud_findings(&self) -> Vec<FraudFinding> {
        self.state()
            .requests
            .iter()
            .map(|r| FraudFinding {
                correlation_id: r.correlation_id.clone(),
                endpoint: r.endpoint.clone(),
                received_at: r.received_at,
                report: r.fraud.clone(),
            })
            .collect()
    }

    /// Token events, oldest first.
    pub fn token_events(&self) -> Vec<TokenEvent> {
        self.state().token_events.iter().cloned().collect()
    }

    /// Forgets everything except what the builder or seed file configured.
    pub fn reset(&self) {
        let seed = &self.shared.seed;
        let mut st = self.state();
        *st = State {
            settings: seed.settings.clone(),
            ..State::default()
        };
        for user in &seed.users {
            st.users.insert(user.user_id.clone(), user.clone());
        }
        for app in &seed.apps {
            st.apps.insert(app.client_id.clone(), app.clone());
        }
    }

    /// The IDs of every endpoint (for faults and journal filters).
    pub fn endpoints() -> Vec<&'static str> {
        ENDPOINTS
            .iter()
            .map(|e| e.id)
            .chain(std::iter::once(oauth::TOKEN_ENDPOINT_ID))
            .collect()
    }
}

// ---- HTTP --------------------------------------------------------------------------------

fn reply(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

fn failure(err: AdminError) -> Response {
    let status = match err {
        AdminError::NotFound(_) => StatusCode::NOT_FOUND,
        _ => StatusCode::BAD_REQUEST,
    };
    reply(status, json!({"error": err.to_string()}))
}

fn parse<T: serde::de::DeserializeOwned + Default>(bytes: &Bytes) -> Result<T, AdminError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    parse_required(bytes)
}

fn parse_required<T: serde::de::DeserializeOwned>(bytes: &Bytes) -> Result<T, AdminError> {
    serde_json::from_slice(bytes)
        .map_err(|e| AdminError::Invalid(format!("the JSON body is not acceptable: {e}")))
}

fn settings_json(s: &Settings) -> Value {
    json!({
        "calculationDelayMillis": u64::try_from(s.calculation_delay.as_millis()).unwrap_or(u64::MAX),
        "refreshDelayMillis": u64::try_from(s.refresh_delay.as_millis()).unwrap_or(u64::MAX),
        "rateLimitPerSecond": s.rate_limit,
    })
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ClientFilter {
    #[serde(default)]
    client_id: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct UserFilter {
    #[serde(default)]
    user_id: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Advance {
    #[serde(default)]
    seconds: i64,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SetClock {
    now: DateTime<Utc>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct JournalQuery {
    #[serde(default)]
    endpoint: Option<String>,
    #[serde(default)]
    nino: Option<String>,
}

/// The `/_admin` routes.
pub(crate) fn router(admin: Admin) -> Router {
    Router::new()
        .route(
            "/_admin/endpoints",
            get(|| async { axum::Json(Admin::endpoints()) }),
        )
        .route(
            "/_admin/users",
            post(|AxumState(a): AxumState<Admin>, body: Bytes| async move {
                let new: NewTestUser = match parse(&body) {
                    Ok(n) => n,
                    Err(e) => return failure(e),
                };
                match a.create_user(new) {
                    Ok(u) => reply(StatusCode::CREATED, u.to_json()),
                    Err(e) => failure(e),
                }
            })
            .get(|AxumState(a): AxumState<Admin>| async move {
                let users: Vec<Value> = a.users().iter().map(TestUser::to_json).collect();
                reply(StatusCode::OK, Value::Array(users))
            }),
        )
        .route(
            "/_admin/users/{user_id}",
            get(
                |AxumState(a): AxumState<Admin>, Path(id): Path<String>| async move {
                    match a.user(&id) {
                        Some(u) => reply(StatusCode::OK, u.to_json()),
                        None => failure(AdminError::NotFound(format!(
                            "no test user with userId {id}"
                        ))),
                    }
                },
            ),
        )
        .route(
            "/_admin/users/{user_id}/businesses",
            post(
                |AxumState(a): AxumState<Admin>, Path(id): Path<String>, body: Bytes| async move {
                    let new: NewBusiness = match parse_required(&body) {
                        Ok(n) => n,
                        Err(e) => return failure(e),
                    };
                    match a.add_business(&id, new) {
                        Ok(b) => reply(StatusCode::CREATED, json!(b)),
                        Err(e) => failure(e),
                    }
                },
            ),
        )
        .route(
            "/_admin/users/{user_id}/revoke",
            post(
                |AxumState(a): AxumState<Admin>, Path(id): Path<String>, body: Bytes| async move {
                    let filter: ClientFilter = match parse(&body) {
                        Ok(f) => f,
                        Err(e) => return failure(e),
                    };
                    match a.revoke_grants(&id, filter.client_id.as_deref()) {
                        Ok(n) => reply(StatusCode::OK, json!({"revoked": n})),
                        Err(e) => failure(e),
                    }
                },
            ),
        )
        .route(
            "/_admin/applications",
            post(|AxumState(a): AxumState<Admin>, body: Bytes| async move {
                let new: NewApplication = match parse(&body) {
                    Ok(n) => n,
                    Err(e) => return failure(e),
                };
                match a.register_application(new) {
                    Ok(app) => reply(StatusCode::CREATED, app.to_json()),
                    Err(e) => failure(e),
                }
            })
            .get(|AxumState(a): AxumState<Admin>| async move {
                let apps: Vec<Value> = a.applications().iter().map(Application::to_json).collect();
                reply(StatusCode::OK, Value::Array(apps))
            }),
        )
        .route(
            "/_admin/tokens/expire",
            post(|AxumState(a): AxumState<Admin>, body: Bytes| async move {
                let filter: UserFilter = match parse(&body) {
                    Ok(f) => f,
                    Err(e) => return failure(e),
                };
                let n = a.expire_access_tokens(filter.user_id.as_deref());
                reply(StatusCode::OK, json!({"expired": n}))
            }),
        )
        .route(
            "/_admin/authorize",
            post(|AxumState(a): AxumState<Admin>, body: Bytes| async move {
                let request: AuthorizeRequest = match parse_required(&body) {
                    Ok(r) => r,
                    Err(e) => return failure(e),
                };
                match a.authorize(request) {
                    Ok(code) => reply(StatusCode::CREATED, json!({"code": code})),
                    Err(e) => failure(e),
                }
            }),
        )
        .route(
            "/_admin/clock",
            get(|AxumState(a): AxumState<Admin>| async move {
                reply(StatusCode::OK, json!({"now": a.now()}))
            })
            .put(|AxumState(a): AxumState<Admin>, body: Bytes| async move {
                let set: SetClock = match parse_required(&body) {
                    Ok(s) => s,
                    Err(e) => return failure(e),
                };
                match a.set_clock(set.now) {
                    Ok(()) => reply(StatusCode::OK, json!({"now": a.now()})),
                    Err(e) => failure(e),
                }
            }),
        )
        .route(
            "/_admin/clock/advance",
            post(|AxumState(a): AxumState<Admin>, body: Bytes| async move {
                let adv: Advance = match parse(&body) {
                    Ok(x) => x,
                    Err(e) => return failure(e),
                };
                match a.advance_clock(TimeDelta::seconds(adv.seconds)) {
                    Ok(now) => reply(StatusCode::OK, json!({"now": now})),
                    Err(e) => failure(e),
                }
            }),
        )
        .route(
            "/_admin/settings",
            get(|AxumState(a): AxumState<Admin>| async move {
                reply(StatusCode::OK, settings_json(&a.settings()))
            })
            .put(|AxumState(a): AxumState<Admin>, body: Bytes| async move {
                match apply_settings(&a, &body) {
                    Ok(()) => reply(StatusCode::OK, settings_json(&a.settings())),
                    Err(e) => failure(e),
                }
            }),
        )
        .route(
            "/_admin/faults",
            get(|AxumState(a): AxumState<Admin>| async move {
                reply(StatusCode::OK, json!(a.faults()))
            })
            .post(|AxumState(a): AxumState<Admin>, body: Bytes| async move {
                let spec: FaultSpec = match parse_required(&body) {
                    Ok(s) => s,
                    Err(e) => return failure(e),
                };
                match a.add_fault(spec) {
                    Ok(id) => reply(StatusCode::CREATED, json!({"id": id})),
                    Err(e) => failure(e),
                }
            })
            .delete(|AxumState(a): AxumState<Admin>| async move {
                a.clear_faults();
                StatusCode::NO_CONTENT.into_response()
            }),
        )
        .route(
            "/_admin/faults/{id}",
            delete(
                |AxumState(a): AxumState<Admin>, Path(id): Path<u64>| async move {
                    if a.remove_fault(id) {
                        StatusCode::NO_CONTENT.into_response()
                    } else {
                        failure(AdminError::NotFound(format!("no fault with id {id}")))
                    }
                },
            ),
        )
        .route(
            "/_admin/requests",
            get(
                |AxumState(a): AxumState<Admin>, Query(q): Query<JournalQuery>| async move {
                    reply(StatusCode::OK, json!(filter_journal(a.requests(), &q)))
                },
            ),
        )
        .route(
            "/_admin/submissions",
            get(
                |AxumState(a): AxumState<Admin>, Query(q): Query<JournalQuery>| async move {
                    reply(StatusCode::OK, json!(filter_journal(a.submissions(), &q)))
                },
            ),
        )
        .route(
            "/_admin/fraud-findings",
            get(|AxumState(a): AxumState<Admin>| async move {
                reply(StatusCode::OK, json!(a.fraud_findings()))
            }),
        )
        .route(
            "/_admin/token-events",
            get(|AxumState(a): AxumState<Admin>| async move {
                reply(StatusCode::OK, json!(a.token_events()))
            }),
        )
        .route(
            "/_admin/reset",
            post(|AxumState(a): AxumState<Admin>| async move {
                a.reset();
                StatusCode::NO_CONTENT.into_response()
            }),
        )
        .with_state(admin)
}

fn filter_journal(requests: Vec<RecordedRequest>, q: &JournalQuery) -> Vec<RecordedRequest> {
    requests
        .into_iter()
        .filter(|r| q.endpoint.as_ref().is_none_or(|e| &r.endpoint == e))
        .filter(|r| q.nino.as_ref().is_none_or(|n| r.nino.as_ref() == Some(n)))
        .collect()
}

/// Applies `PUT /_admin/settings`: absent fields are unchanged, `rateLimitPerSecond: null`
/// turns the limit off.
fn apply_settings(admin: &Admin, body: &Bytes) -> Result<(), AdminError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| AdminError::Invalid(format!("the JSON body is not acceptable: {e}")))?;
    let obj = value
        .as_object()
        .ok_or_else(|| AdminError::Invalid("settings must be a JSON object".to_owned()))?;
    for key in obj.keys() {
        if ![
            "calculationDelayMillis",
            "refreshDelayMillis",
            "rateLimitPerSecond",
        ]
        .contains(&key.as_str())
        {
            return Err(AdminError::Invalid(format!("unknown setting {key}")));
        }
    }
    let millis = |key: &str| -> Result<Option<Duration>, AdminError> {
        match obj.get(key) {
            None => Ok(None),
            Some(v) => v
                .as_u64()
                .map(|ms| Some(Duration::from_millis(ms)))
                .ok_or_else(|| {
                    AdminError::Invalid(format!("{key} must be a whole number of milliseconds"))
                }),
        }
    };
    let calculation = millis("calculationDelayMillis")?;
    let refresh = millis("refreshDelayMillis")?;
    let rate = match obj.get("rateLimitPerSecond") {
        None => None,
        Some(Value::Null) => Some(None),
        Some(v) => Some(Some(
            v.as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .filter(|n| *n > 0)
                .ok_or_else(|| {
                    AdminError::Invalid(
                        "rateLimitPerSecond must be a positive whole number or null".to_owned(),
                    )
                })?,
        )),
    };
    if let Some(d) = calculation {
        admin.set_calculation_delay(d);
    }
    if let Some(d) = refresh {
        admin.set_refresh_delay(d);
    }
    if let Some(r) = rate {
        admin.set_rate_limit(r);
    }
    Ok(())
}
