//! The request pipeline every MTD and test-support endpoint goes through, in HMRC's order:
//! fault switches, `Accept` routing, bearer token and scope (the API gateway), rate limit,
//! fraud-header findings, body parsing, NINO format and ownership (the service's
//! authorisation), then the endpoint's own validation and logic. Every answer is recorded.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use axum::extract::{ConnectInfo, FromRequestParts, RawPathParams, Request};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use regex::Regex;
use serde_json::{Value, json};

use crate::api_error::{Api, MtdError, error_body};
use crate::faults::{self, FaultAction};
use crate::fraud;
use crate::ids::is_valid_nino;
use crate::lit::Lit;
use crate::model::TestUser;
use crate::secret;
use crate::server::ConnHandle;
use crate::state::{AccessToken, RecordedRequest, Shared, State};
use crate::sync::lock;

/// The correlation ID of the request being served (put there by the middleware).
#[derive(Debug, Clone)]
pub(crate) struct CorrelationId(pub(crate) String);

/// Largest request body read.
const BODY_LIMIT: usize = 1024 * 1024;

/// What the endpoint needs from the bearer token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Auth {
    /// A user token with `read:self-assessment`.
    Read,
    /// A user token with `write:self-assessment`.
    Write,
    /// Any valid token (application-restricted endpoints).
    Application,
}

/// What a `Gov-Test-Scenario` value does on an endpoint.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Scenario {
    /// Answer with this error code (after validation, as HMRC's stubs do).
    Error(&'static str),
    /// The endpoint handles it itself.
    Custom,
}

/// An endpoint's answer.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) body: Option<Value>,
}

impl Reply {
    pub(crate) fn json(status: StatusCode, body: Value) -> Self {
        Self {
            status,
            body: Some(body),
        }
    }

    pub(crate) fn ok(body: Value) -> Self {
        Self::json(StatusCode::OK, body)
    }

    pub(crate) fn no_content() -> Self {
        Self {
            status: StatusCode::NO_CONTENT,
            body: None,
        }
    }
}

/// The errors an endpoint answers with (one, or several to be wrapped).
#[derive(Debug)]
pub(crate) struct Errs(pub(crate) Vec<MtdError>);

impl From<MtdError> for Errs {
    fn from(err: MtdError) -> Self {
        Errs(vec![err])
    }
}

impl From<Vec<MtdError>> for Errs {
    fn from(errs: Vec<MtdError>) -> Self {
        Errs(errs)
    }
}

/// What an endpoint handler returns.
pub(crate) type Outcome = Result<Reply, Errs>;

/// An endpoint handler: synchronous, under the state lock.
pub(crate) type Handler = fn(&mut Ctx<'_>) -> Outcome;

/// One endpoint of the simulated APIs.
#[derive(Debug)]
pub(crate) struct Endpoint {
    /// Stable ID used by faults and the journal.
    pub(crate) id: &'static str,
    pub(crate) method: Method,
    /// axum path pattern.
    pub(crate) path: &'static str,
    pub(crate) api: Api,
    /// The version the `Accept` header must name, e.g. `5.0`.
    pub(crate) version: &'static str,
    pub(crate) auth: Auth,
    /// Whether a JSON body is expected.
    pub(crate) body: bool,
    /// Supported `Gov-Test-Scenario` values (DEFAULT and STATEFUL are always accepted).
    pub(crate) scenarios: &'static [(&'static str, Scenario)],
    pub(crate) handler: Handler,
}

/// Everything a handler may look at.
pub(crate) struct Ctx<'a> {
    pub(crate) st: &'a mut State,
    pub(crate) now: DateTime<Utc>,
    pub(crate) ep: &'static Endpoint,
    pub(crate) params: &'a HashMap<String, String>,
    pub(crate) query: &'a [(String, String)],
    pub(crate) headers: &'a HeaderMap,
    pub(crate) body: Option<Lit>,
    pub(crate) scenario: Option<String>,
    /// The token's user (for user-restricted endpoints).
    pub(crate) user_id: Option<String>,
}

impl Ctx<'_> {
    /// The API the endpoint belongs to.
    pub(crate) fn api(&self) -> Api {
        self.ep.api
    }

    /// A path parameter.
    pub(crate) fn param(&self, name: &str) -> &str {
        self.params.get(name).map(String::as_str).unwrap_or("")
    }

    /// The first value of a query parameter.
    pub(crate) fn query(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The signed-in user (the owner of the NINO).
    pub(crate) fn user(&self) -> Result<&TestUser, Errs> {
        self.user_id
            .as_deref()
            .and_then(|id| self.st.users.get(id))
            .ok_or_else(|| Errs::from(self.api().error("CLIENT_OR_AGENT_NOT_AUTHORISED")))
    }

    /// The parsed JSON body.
    pub(crate) fn body(&self) -> &Lit {
        static EMPTY: LazyLock<Lit> = LazyLock::new(|| Lit::Object(Vec::new()));
        self.body.as_ref().unwrap_or(&EMPTY)
    }

    /// Applies `Gov-Test-Scenario` after validation: an unknown value is
    /// `RULE_INCORRECT_GOV_TEST_SCENARIO`, an error scenario answers with its error, a custom
    /// one is returned for the handler to act on.
    pub(crate) fn scenario(&self) -> Result<Option<&'static str>, Errs> {
        let Some(value) = self.scenario.as_deref() else {
            return Ok(None);
        };
        if value == "DEFAULT" || value == "STATEFUL" {
            return Ok(None);
        }
        match self.ep.scenarios.iter().find(|(name, _)| *name == value) {
            Some((_, Scenario::Error(code))) => Err(self.api().error(code).into()),
            Some((name, Scenario::Custom)) => Ok(Some(name)),
            None => Err(self.api().error("RULE_INCORRECT_GOV_TEST_SCENARIO").into()),
        }
    }
}

static ACCEPT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^application/vnd\.hmrc\.(\d+\.\d+)\+json$").expect("valid Accept regex")
});

/// Checks `Accept` names this endpoint's version: 406 when missing or malformed, 404 for
/// another version.
fn check_accept(headers: &HeaderMap, version: &str) -> Result<(), MtdError> {
    let value = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let versions: Vec<String> = value
        .split(',')
        .filter_map(|part| {
            let media = part.split(';').next().unwrap_or("").trim();
            ACCEPT.captures(media).map(|c| c[1].to_owned())
        })
        .collect();
    if versions.is_empty() {
        return Err(Api::Platform.error("ACCEPT_HEADER_INVALID"));
    }
    if !versions.iter().any(|v| v == version) {
        return Err(Api::Platform.error("NOT_FOUND"));
    }
    Ok(())
}

/// Looks up and checks the bearer token.
pub(crate) fn authenticate(
    st: &State,
    headers: &HeaderMap,
    now: DateTime<Utc>,
    auth: Auth,
) -> Result<AccessToken, MtdError> {
    let value = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .unwrap_or("");
    if value.is_empty() {
        return Err(Api::Platform.error("MISSING_CREDENTIALS"));
    }
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .map(str::trim)
        .ok_or_else(|| Api::Platform.error("INVALID_CREDENTIALS"))?;
    let found = st
        .access
        .get(&secret::digest(token))
        .filter(|t| t.expires_at > now)
        .filter(|t| {
            t.grant
                .is_none_or(|g| st.grants.get(&g).is_some_and(|grant| !grant.revoked))
        })
        .ok_or_else(|| Api::Platform.error("INVALID_CREDENTIALS"))?;
    let needed = match auth {
        Auth::Application => return Ok(found.clone()),
        Auth::Read => "read:self-assessment",
        Auth::Write => "write:self-assessment",
    };
    if found.user_id.is_none() {
        return Err(Api::Platform.error("INCORRECT_ACCESS_TOKEN_TYPE"));
    }
    if !found.scopes.iter().any(|s| s == needed) {
        return Err(Api::Platform.error("INVALID_SCOPE"));
    }
    Ok(found.clone())
}

/// Counts a call against the client's per-second budget (a sliding one-second window on the
/// sandbox clock, so tests with a manual clock see a deterministic limit).
fn rate_limited(st: &mut State, client_id: &str, now: DateTime<Utc>) -> bool {
    let Some(limit) = st.settings.rate_limit else {
        return false;
    };
    let window = st.rate.entry(client_id.to_owned()).or_default();
    while window
        .front()
        .is_some_and(|t| now - *t >= chrono::TimeDelta::seconds(1) || *t > now)
    {
        window.pop_front();
    }
    if window.len() >= usize::try_from(limit).unwrap_or(usize::MAX) {
        return true;
    }
    window.push_back(now);
    false
}

/// A JSON response.
pub(crate) fn json_response(status: StatusCode, body: Option<Value>) -> Response {
    match body {
        Some(body) => (status, axum::Json(body)).into_response(),
        None => status.into_response(),
    }
}

/// The response for a set of errors.
pub(crate) fn errors_response(errors: Vec<MtdError>) -> (StatusCode, Value) {
    error_body(errors)
}

/// The body HMRC's platform sends for an injected status.
pub(crate) fn fault_body(status: u16, code: Option<String>, message: Option<String>) -> Value {
    let default_code = match status {
        500 => "INTERNAL_SERVER_ERROR",
        501 => "NOT_IMPLEMENTED",
        502 => "BAD_GATEWAY",
        503 => "SERVER_ERROR",
        504 => "GATEWAY_TIMEOUT",
        429 => "MESSAGE_THROTTLED_OUT",
        401 => "INVALID_CREDENTIALS",
        403 => "FORBIDDEN",
        404 => "MATCHING_RESOURCE_NOT_FOUND",
        _ => "INVALID_REQUEST",
    };
    let code = code.unwrap_or_else(|| default_code.to_owned());
    let message = message.unwrap_or_else(|| Api::Platform.message(&code).to_owned());
    json!({"code": code, "message": message})
}

/// HMRC's multi-error body for an injected [`FaultAction::InvalidRequest`].
pub(crate) fn invalid_request_body(mut errors: Vec<crate::faults::FaultError>) -> Value {
    errors.sort_by(|a, b| a.code.cmp(&b.code));
    json!({"code": "INVALID_REQUEST", "message": "Invalid request", "errors": errors})
}

/// Redacts secrets from recorded headers.
fn recorded_headers(headers: &HeaderMap) -> BTreeMap<String, String> {
    headers
        .iter()
        .map(|(name, value)| {
            let shown = if name == header::AUTHORIZATION {
                "Bearer [redacted]".to_owned()
            } else {
                value.to_str().unwrap_or("[non-ASCII value]").to_owned()
            };
            (name.as_str().to_owned(), shown)
        })
        .collect()
}

/// Serves one call to an endpoint, adding the deprecation headers of deprecated APIs.
pub(crate) async fn dispatch(
    ep: &'static Endpoint,
    shared: Arc<Shared>,
    request: Request,
) -> Response {
    let mut response = serve(ep, shared, request).await;
    if let Some((deprecated_on, link)) = deprecation(ep.api) {
        let headers = response.headers_mut();
        headers.insert("deprecation", HeaderValue::from_static(deprecated_on));
        headers.insert(header::LINK, HeaderValue::from_static(link));
    }
    response
}

/// `Deprecation` date and documentation `Link` of deprecated APIs: every version of the EOPS
/// API has been deprecated since 17 September 2024 (digest §2).
fn deprecation(api: Api) -> Option<(&'static str, &'static str)> {
    match api {
        Api::Eops => Some((
            "Tue, 17 Sep 2024 00:00:00 GMT",
            "https://developer.service.hmrc.gov.uk/api-documentation/docs/api/service/individuals-business-eops-api",
        )),
        _ => None,
    }
}

/// The pipeline proper.
async fn serve(ep: &'static Endpoint, shared: Arc<Shared>, request: Request) -> Response {
    let conn = request
        .extensions()
        .get::<ConnectInfo<ConnHandle>>()
        .cloned();
    let (mut parts, body) = request.into_parts();
    let correlation_id = parts
        .extensions
        .get::<CorrelationId>()
        .map(|c| c.0.clone())
        .unwrap_or_default();
    let params: HashMap<String, String> =
        match RawPathParams::from_request_parts(&mut parts, &()).await {
            Ok(raw) => raw
                .iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
            Err(_) => HashMap::new(),
        };
    let query: Vec<(String, String)> = parts
        .uri
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default();
    let bytes = axum::body::to_bytes(body, BODY_LIMIT)
        .await
        .unwrap_or_default();
    let headers = parts.headers;
    let fraud_report = fraud::validate(&headers);

    let mut record =
        RecordedRequest {
            correlation_id,
            endpoint: ep.id.to_owned(),
            method: parts.method.to_string(),
            uri: parts.uri.to_string(),
            headers: recorded_headers(&headers),
            body_text: if bytes.is_empty() {
                None
            } else {
                Some(String::from_utf8_lossy(&bytes).into_owned())
            },
            body: if bytes.is_empty() {
                None
            } else {
                Some(serde_json::from_slice(&bytes).unwrap_or_else(|_| {
                    Value::String(String::from_utf8_lossy(&bytes).into_owned())
                }))
            },
            status: 0,
            response: None,
            received_at: shared.clock.now(),
            nino: params.get("nino").cloned(),
            client_id: None,
            fraud: fraud_report,
        };

    // 1. Fault switches.
    let action = faults::select(&mut lock(&shared.state).faults, ep.id);
    match action {
        Some(FaultAction::Delay { millis }) => {
            tokio::time::sleep(Duration::from_millis(millis)).await;
        }
        Some(FaultAction::Drop) => {
            if let Some(ConnectInfo(conn)) = &conn {
                conn.kill();
            }
            lock(&shared.state).record_request(record);
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
        Some(FaultAction::Status {
            status,
            code,
            message,
        }) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let body = fault_body(status.as_u16(), code, message);
            return finish(&shared, record, status, Some(body), None);
        }
        Some(FaultAction::InvalidRequest { status, errors }) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
            return finish(
                &shared,
                record,
                status,
                Some(invalid_request_body(errors)),
                None,
            );
        }
        Some(FaultAction::RateLimited { retry_after_secs }) => {
            let body = fault_body(429, None, None);
            return finish(
                &shared,
                record,
                StatusCode::TOO_MANY_REQUESTS,
                Some(body),
                Some(retry_after_secs),
            );
        }
        None => {}
    }

    let now = shared.clock.now();
    let mut guard = lock(&shared.state);
    let st = &mut *guard;

    let outcome = (|| -> Result<Reply, (Errs, Option<u64>)> {
        // 2. Accept routing.
        check_accept(&headers, ep.version).map_err(|e| (e.into(), None))?;
        // 3. Bearer token and scope.
        let token = authenticate(st, &headers, now, ep.auth).map_err(|e| (e.into(), None))?;
        record.client_id = Some(token.client_id.clone());
        // 4. Rate limit per client.
        if rate_limited(st, &token.client_id, now) {
            return Err((Api::Platform.error("MESSAGE_THROTTLED_OUT").into(), Some(1)));
        }
        // 5. Body parsing.
        let body = if ep.body {
            let content_type = headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            if content_type != "application/json" && content_type != "text/json" {
                return Err((Api::Platform.error("INVALID_BODY_TYPE").into(), None));
            }
            match Lit::parse(&bytes) {
                Ok(lit) => Some(lit),
                Err(_) => return Err((Api::Platform.error("INVALID_REQUEST").into(), None)),
            }
        } else {
            None
        };
        // 6. NINO format and ownership.
        if let Some(nino) = params.get("nino") {
            if !is_valid_nino(nino) {
                return Err((ep.api.error("FORMAT_NINO").into(), None));
            }
            let owns = token
                .user_id
                .as_deref()
                .and_then(|id| st.users.get(id))
                .is_some_and(|u| &u.nino == nino);
            if !owns {
                return Err((ep.api.error("CLIENT_OR_AGENT_NOT_AUTHORISED").into(), None));
            }
        }
        let scenario = headers
            .get("gov-test-scenario")
            .and_then(|v| v.to_str().ok())
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty());
        let mut ctx = Ctx {
            st,
            now,
            ep,
            params: &params,
            query: &query,
            headers: &headers,
            body,
            scenario,
            user_id: token.user_id.clone(),
        };
        (ep.handler)(&mut ctx).map_err(|e| (e, None))
    })();
    drop(guard);

    match outcome {
        Ok(reply) => finish(&shared, record, reply.status, reply.body, None),
        Err((Errs(errors), retry_after)) => {
            let (status, body) = errors_response(errors);
            finish(&shared, record, status, Some(body), retry_after)
        }
    }
}

/// Records the call and builds the response.
fn finish(
    shared: &Shared,
    mut record: RecordedRequest,
    status: StatusCode,
    body: Option<Value>,
    retry_after: Option<u64>,
) -> Response {
    record.status = status.as_u16();
    record.response = body.clone();
    lock(&shared.state).record_request(record);
    let mut response = json_response(status, body);
    if let Some(secs) = retry_after
        && let Ok(v) = HeaderValue::from_str(&secs.to_string())
    {
        response.headers_mut().insert(header::RETRY_AFTER, v);
    }
    response
}

/// Middleware: a fresh UUID `X-CorrelationId` on every response.
pub(crate) async fn correlation(mut request: Request, next: axum::middleware::Next) -> Response {
    let id = uuid::Uuid::new_v4().to_string();
    request.extensions_mut().insert(CorrelationId(id.clone()));
    let mut response = next.run(request).await;
    if let Ok(v) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-correlationid", v);
    }
    response
}

/// 404 for paths no endpoint matches.
pub(crate) async fn not_found() -> Response {
    json_response(
        StatusCode::NOT_FOUND,
        Some(json!({
            "code": "MATCHING_RESOURCE_NOT_FOUND",
            "message": "A resource with the name in the request can not be found in the API"
        })),
    )
}

/// 405 for a known path with another method.
pub(crate) async fn method_not_allowed() -> Response {
    let err = Api::Platform.error("METHOD_NOT_ALLOWED");
    json_response(
        StatusCode::METHOD_NOT_ALLOWED,
        Some(json!({"code": err.code, "message": err.message})),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT, HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn accept_routing() {
        assert!(check_accept(&accept("application/vnd.hmrc.5.0+json"), "5.0").is_ok());
        assert_eq!(
            check_accept(&accept("application/vnd.hmrc.4.0+json"), "5.0")
                .unwrap_err()
                .code,
            "NOT_FOUND"
        );
        assert_eq!(
            check_accept(&accept("application/json"), "5.0")
                .unwrap_err()
                .code,
            "ACCEPT_HEADER_INVALID"
        );
        assert_eq!(
            check_accept(&HeaderMap::new(), "5.0").unwrap_err().status,
            StatusCode::NOT_ACCEPTABLE
        );
    }

    #[test]
    fn fault_bodies_use_platform_codes() {
        assert_eq!(
            fault_body(503, None, None),
            json!({"code": "SERVER_ERROR", "message": "Service unavailable"})
        );
        assert_eq!(
            fault_body(503, Some("SCHEDULED_MAINTENANCE".into()), None)["code"],
            "SCHEDULED_MAINTENANCE"
        );
    }
}
