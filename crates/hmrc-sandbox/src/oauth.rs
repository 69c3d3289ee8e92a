//! HMRC's OAuth 2.0 (digest §9): the authorise page (sign in, then "Grant authority" or "Do not
//! grant authority") and the token endpoint (`authorization_code` with optional PKCE S256,
//! single-use rotating `refresh_token`, `client_credentials`).

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State as AxumState};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Months, TimeDelta, Utc};
use http::{HeaderValue, StatusCode, header};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::faults::{self, FaultAction};
use crate::http::fault_body;
use crate::secret::{self, Secret};
use crate::state::{AccessToken, AuthCode, Grant, Shared, State};
use crate::sync::lock;

/// Fault/journal ID of the token endpoint.
pub const TOKEN_ENDPOINT_ID: &str = "oauth-token";

/// Access tokens live 4 hours.
pub const ACCESS_TOKEN_SECONDS: i64 = 14_400;

/// Authorisation codes live 10 minutes.
const CODE_LIFETIME: TimeDelta = TimeDelta::minutes(10);

const SCOPES: [&str; 2] = ["read:self-assessment", "write:self-assessment"];

/// Checks a redirect URI is one HMRC would accept: HTTPS with a host and no fragment,
/// `http://localhost` (or loopback) for installed apps, or the out-of-band URNs.
pub(crate) fn check_redirect_uri(uri: &str) -> Result<(), String> {
    if uri == "urn:ietf:wg:oauth:2.0:oob" || uri == "urn:ietf:wg:oauth:2.0:oob:auto" {
        return Ok(());
    }
    let parsed =
        url::Url::parse(uri).map_err(|e| format!("redirect URI {uri:?} is not a URL: {e}"))?;
    if parsed.fragment().is_some() {
        return Err(format!("redirect URI {uri:?} must not have a fragment"));
    }
    let host = parsed.host_str().unwrap_or("");
    match parsed.scheme() {
        "https" if !host.is_empty() => Ok(()),
        "http" if host == "localhost" || host == "127.0.0.1" || host == "[::1]" => Ok(()),
        _ => Err(format!(
            "redirect URI {uri:?} must be https, or http://localhost for installed applications"
        )),
    }
}

/// The `/oauth` routes.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route(
            "/oauth/authorize",
            get(authorize_page).post(authorize_decision),
        )
        .route("/oauth/token", post(token))
        .with_state(shared)
}

// ---- authorise ---------------------------------------------------------------------------

/// Validated authorise parameters.
#[derive(Debug, Clone)]
struct AuthParams {
    client_id: String,
    app_name: String,
    redirect_uri: String,
    scopes: Vec<String>,
    state: Option<String>,
    code_challenge: Option<String>,
}

fn get_param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn valid_pkce_value(v: &str) -> bool {
    (43..=128).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// Checks the authorise parameters (400 `invalid_request`, `unsupported_response_type` or
/// `invalid_scope` on failure, shown in the browser).
fn check_params(
    st: &State,
    pairs: &[(String, String)],
) -> Result<AuthParams, (&'static str, String)> {
    let invalid = |msg: &str| ("invalid_request", msg.to_owned());
    let client_id = get_param(pairs, "client_id").ok_or_else(|| invalid("client_id is missing"))?;
    let app = st
        .apps
        .get(client_id)
        .ok_or_else(|| invalid("client_id is invalid"))?;
    let redirect_uri =
        get_param(pairs, "redirect_uri").ok_or_else(|| invalid("redirect_uri is missing"))?;
    if !app.redirect_uris.iter().any(|u| u == redirect_uri) {
        return Err(invalid("redirect_uri is invalid for this application"));
    }
    if get_param(pairs, "client_secret").is_some() {
        return Err(invalid(
            "client_secret must not be sent to the authorise endpoint",
        ));
    }
    match get_param(pairs, "response_type") {
        None => return Err(invalid("response_type is missing")),
        Some("code") => {}
        Some(_) => {
            return Err((
                "unsupported_response_type",
                "response_type must be code".to_owned(),
            ));
        }
    }
    let scope = get_param(pairs, "scope").ok_or_else(|| invalid("scope is missing"))?;
    let scopes: Vec<String> = scope
        .split([' ', '+'])
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    if scopes.is_empty() {
        return Err(invalid("scope is missing"));
    }
    if let Some(bad) = scopes.iter().find(|s| !SCOPES.contains(&s.as_str())) {
        return Err(("invalid_scope", format!("scope {bad} is not known")));
    }
    let challenge = get_param(pairs, "code_challenge");
    let method = get_param(pairs, "code_challenge_method");
    match (challenge, method) {
        (None, None) => {}
        (Some(c), Some("S256")) if valid_pkce_value(c) => {}
        _ => {
            return Err(invalid(
                "code_challenge must be 43 to 128 characters with code_challenge_method=S256",
            ));
        }
    }
    Ok(AuthParams {
        client_id: client_id.to_owned(),
        app_name: app.name.clone(),
        redirect_uri: redirect_uri.to_owned(),
        scopes,
        state: get_param(pairs, "state").map(str::to_owned),
        code_challenge: challenge.map(str::to_owned),
    })
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

fn error_page(error: &str, description: &str) -> Response {
    let body = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Sorry, there is a problem</title></head>\
         <body><h1>Sorry, there is a problem</h1><p id=\"error\">{}</p><p id=\"error_description\">{}</p></body></html>",
        escape(error),
        escape(description)
    );
    (StatusCode::BAD_REQUEST, Html(body)).into_response()
}

fn sign_in_page(
    pairs: &[(String, String)],
    params: &AuthParams,
    problem: Option<&str>,
) -> Response {
    let hidden: String = pairs
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "user_id" | "password" | "decision"))
        .map(|(k, v)| {
            format!(
                "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
                escape(k),
                escape(v)
            )
        })
        .collect();
    let scopes: String = params
        .scopes
        .iter()
        .map(|s| format!("<li>{}</li>", escape(s)))
        .collect();
    let problem = problem
        .map(|p| format!("<p class=\"error\" id=\"problem\">{}</p>", escape(p)))
        .unwrap_or_default();
    let body = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Sign in - HMRC sandbox</title></head><body>\
         <h1>Sign in to give {app} authority</h1>{problem}\
         <p>{app} wants authority to:</p><ul>{scopes}</ul>\
         <form method=\"post\" action=\"/oauth/authorize\">{hidden}\
         <label for=\"user_id\">User ID</label> <input id=\"user_id\" name=\"user_id\" autocomplete=\"username\">\
         <label for=\"password\">Password</label> <input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\">\
         <button type=\"submit\" name=\"decision\" value=\"grant\">Grant authority</button>\
         <button type=\"submit\" name=\"decision\" value=\"deny\">Do not grant authority</button>\
         </form></body></html>",
        app = escape(&params.app_name),
    );
    Html(body).into_response()
}

fn redirect_to(base: &str, pairs: &[(&str, &str)]) -> Response {
    let location = match url::Url::parse(base) {
        Ok(mut url) => {
            {
                let mut q = url.query_pairs_mut();
                for (k, v) in pairs {
                    q.append_pair(k, v);
                }
            }
            url.to_string()
        }
        Err(_) => base.to_owned(),
    };
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    response
}

async fn authorize_page(AxumState(shared): AxumState<Arc<Shared>>, request: Request) -> Response {
    let pairs: Vec<(String, String)> = request
        .uri()
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default();
    let st = lock(&shared.state);
    match check_params(&st, &pairs) {
        Ok(params) => sign_in_page(&pairs, &params, None),
        Err((error, description)) => error_page(error, &description),
    }
}

async fn authorize_decision(
    AxumState(shared): AxumState<Arc<Shared>>,
    body: bytes::Bytes,
) -> Response {
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
    let now = shared.clock.now();
    let mut st = lock(&shared.state);
    let params = match check_params(&st, &pairs) {
        Ok(p) => p,
        Err((error, description)) => return error_page(error, &description),
    };
    let state_param = params.state.clone().unwrap_or_default();
    match get_param(&pairs, "decision") {
        Some("deny") => {
            st.record_token_event(now, "access_denied", Some(&params.client_id), None, None);
            let mut out = vec![
                ("error", "access_denied"),
                ("error_description", "user denied the authorization"),
                ("error_code", "USER_DENIED_AUTHORIZATION"),
            ];
            if params.state.is_some() {
                out.push(("state", &state_param));
            }
            redirect_to(&params.redirect_uri, &out)
        }
        Some("grant") => {
            let user_id = get_param(&pairs, "user_id").unwrap_or("");
            let password = get_param(&pairs, "password").unwrap_or("");
            let signed_in = st
                .users
                .get(user_id)
                .is_some_and(|u| u.password.matches(password));
            if !signed_in {
                return sign_in_page(
                    &pairs,
                    &params,
                    Some("Enter a correct user ID and password"),
                );
            }
            let code = Secret::random_hex(16);
            st.codes.insert(
                code.digest(),
                AuthCode {
                    client_id: params.client_id.clone(),
                    user_id: user_id.to_owned(),
                    redirect_uri: params.redirect_uri.clone(),
                    scopes: params.scopes.clone(),
                    code_challenge: params.code_challenge.clone(),
                    issued_at: now,
                    used: false,
                },
            );
            st.record_token_event(
                now,
                "code_issued",
                Some(&params.client_id),
                Some(user_id),
                None,
            );
            let mut out = vec![("code", code.expose())];
            if params.state.is_some() {
                out.push(("state", &state_param));
            }
            redirect_to(&params.redirect_uri, &out)
        }
        _ => error_page(
            "invalid_request",
            "choose Grant authority or Do not grant authority",
        ),
    }
}

// ---- token -------------------------------------------------------------------------------

/// An OAuth error answer.
#[derive(Debug)]
struct OAuthError {
    status: StatusCode,
    error: &'static str,
    description: String,
}

fn bad(error: &'static str, description: &str) -> OAuthError {
    OAuthError {
        status: if error == "invalid_client" {
            StatusCode::UNAUTHORIZED
        } else {
            StatusCode::BAD_REQUEST
        },
        error,
        description: description.to_owned(),
    }
}

fn oauth_json(status: StatusCode, body: Value) -> Response {
    let mut response = (status, axum::Json(body)).into_response();
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

fn error_response(err: OAuthError) -> Response {
    oauth_json(
        err.status,
        json!({"error": err.error, "error_description": err.description}),
    )
}

/// Issues an access token (and optionally a refresh token) and stores it.
fn issue_access(
    st: &mut State,
    now: DateTime<Utc>,
    client_id: &str,
    grant: Option<u64>,
    user_id: Option<&str>,
    scopes: &[String],
) -> Secret {
    let token = Secret::random_hex(16);
    st.access.insert(
        token.digest(),
        AccessToken {
            client_id: client_id.to_owned(),
            grant,
            user_id: user_id.map(str::to_owned),
            scopes: scopes.to_vec(),
            expires_at: now + TimeDelta::seconds(ACCESS_TOKEN_SECONDS),
        },
    );
    token
}

fn token_body(access: &Secret, refresh: Option<&Secret>, scopes: &[String]) -> Value {
    let mut body = json!({
        "access_token": access.expose(),
        "expires_in": ACCESS_TOKEN_SECONDS,
        "scope": scopes.join(" "),
        "token_type": "bearer",
    });
    if let (Some(refresh), Some(map)) = (refresh, body.as_object_mut()) {
        map.insert("refresh_token".into(), json!(refresh.expose()));
    }
    body
}

/// What the synchronous part of a token request decided.
enum Step {
    Done(Response),
    /// A refresh holding grant `id`'s in-progress flag; finish after the configured delay.
    Refresh {
        grant: u64,
        delay: Duration,
    },
}

async fn token(AxumState(shared): AxumState<Arc<Shared>>, request: Request) -> Response {
    let action = faults::select(&mut lock(&shared.state).faults, TOKEN_ENDPOINT_ID);
    match action {
        Some(FaultAction::Delay { millis }) => {
            tokio::time::sleep(Duration::from_millis(millis)).await;
        }
        Some(FaultAction::Drop) => {
            if let Some(conn) = request
                .extensions()
                .get::<axum::extract::ConnectInfo<crate::server::ConnHandle>>()
            {
                conn.0.kill();
            }
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
        Some(FaultAction::Status {
            status,
            code,
            message,
        }) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let body = match code {
                Some(_) => fault_body(status.as_u16(), code, message),
                None => json!({
                    "error": if status == StatusCode::SERVICE_UNAVAILABLE { "temporarily_unavailable" } else { "server_error" },
                    "error_description": message.unwrap_or_else(|| "the authorisation server failed".to_owned()),
                }),
            };
            return oauth_json(status, body);
        }
        Some(FaultAction::InvalidRequest { status, errors }) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
            return oauth_json(status, crate::http::invalid_request_body(errors));
        }
        Some(FaultAction::RateLimited { retry_after_secs }) => {
            let mut response =
                oauth_json(StatusCode::TOO_MANY_REQUESTS, fault_body(429, None, None));
            if let Ok(v) = HeaderValue::from_str(&retry_after_secs.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, v);
            }
            return response;
        }
        None => {}
    }

    let is_form = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let body = match axum::body::to_bytes(request.into_body(), 64 * 1024).await {
        Ok(b) => b,
        Err(_) => {
            return error_response(bad("invalid_request", "the request body could not be read"));
        }
    };
    if !is_form {
        return error_response(bad(
            "invalid_request",
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
    let now = shared.clock.now();
    let step = {
        let mut st = lock(&shared.state);
        match token_step(&mut st, &form, now) {
            Ok(step) => step,
            Err(err) => {
                let client = get_param(&form, "client_id").map(str::to_owned);
                st.record_token_event(
                    now,
                    "request_rejected",
                    client.as_deref(),
                    None,
                    Some(&format!("{}: {}", err.error, err.description)),
                );
                return error_response(err);
            }
        }
    };
    match step {
        Step::Done(response) => response,
        Step::Refresh { grant, delay } => {
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            let now = shared.clock.now();
            let mut st = lock(&shared.state);
            match finish_refresh(&mut st, grant, now) {
                Ok(response) => response,
                Err(err) => error_response(err),
            }
        }
    }
}

fn token_step(
    st: &mut State,
    form: &[(String, String)],
    now: DateTime<Utc>,
) -> Result<Step, OAuthError> {
    let grant_type = get_param(form, "grant_type").unwrap_or("");
    if !matches!(
        grant_type,
        "authorization_code" | "refresh_token" | "client_credentials"
    ) {
        return Err(bad(
            "invalid_request",
            "grant_type is missing or not supported",
        ));
    }
    let client_id = get_param(form, "client_id")
        .filter(|c| !c.is_empty())
        .ok_or_else(|| bad("invalid_request", "client_id is missing"))?;
    let client_secret = get_param(form, "client_secret")
        .filter(|c| !c.is_empty())
        .ok_or_else(|| bad("invalid_request", "client_secret is missing"))?;
    let app = st
        .apps
        .get(client_id)
        .ok_or_else(|| bad("invalid_client", "invalid client id or secret"))?;
    if !app.client_secret.matches(client_secret) {
        return Err(bad("invalid_client", "invalid client id or secret"));
    }
    let client_id = client_id.to_owned();
    match grant_type {
        "authorization_code" => exchange_code(st, form, &client_id, now).map(Step::Done),
        "refresh_token" => start_refresh(st, form, &client_id, now),
        _ => {
            let scopes: Vec<String> = get_param(form, "scope")
                .map(|s| {
                    s.split(' ')
                        .filter(|x| !x.is_empty())
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default();
            let access = issue_access(st, now, &client_id, None, None, &scopes);
            st.record_token_event(now, "client_credentials", Some(&client_id), None, None);
            Ok(Step::Done(oauth_json(
                StatusCode::OK,
                token_body(&access, None, &scopes),
            )))
        }
    }
}

fn exchange_code(
    st: &mut State,
    form: &[(String, String)],
    client_id: &str,
    now: DateTime<Utc>,
) -> Result<Response, OAuthError> {
    let redirect_uri = get_param(form, "redirect_uri")
        .ok_or_else(|| bad("invalid_request", "redirect_uri is missing"))?;
    let code = get_param(form, "code").ok_or_else(|| bad("invalid_request", "code is missing"))?;
    let digest = secret::digest(code);
    let stored = st
        .codes
        .get(&digest)
        .filter(|c| c.client_id == client_id)
        .cloned()
        .ok_or_else(|| bad("invalid_request", "code is invalid"))?;
    if stored.used {
        return Err(bad("invalid_request", "code has already been used"));
    }
    if now - stored.issued_at > CODE_LIFETIME {
        return Err(bad("invalid_request", "code has expired"));
    }
    if stored.redirect_uri != redirect_uri {
        return Err(bad(
            "invalid_request",
            "redirect_uri does not match the authorisation request",
        ));
    }
    let verifier = get_param(form, "code_verifier");
    match (&stored.code_challenge, verifier) {
        (None, None) => {}
        (None, Some(_)) => return Err(bad("invalid_request", "code_verifier was not expected")),
        (Some(_), None) => return Err(bad("invalid_request", "code_verifier is missing")),
        (Some(challenge), Some(v)) => {
            if !valid_pkce_value(v) {
                return Err(bad("invalid_request", "code_verifier is malformed"));
            }
            let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(v.as_bytes()));
            if !Secret::new(challenge.clone()).matches(&computed) {
                return Err(bad(
                    "invalid_grant",
                    "code_verifier does not match the code_challenge",
                ));
            }
        }
    }
    if let Some(c) = st.codes.get_mut(&digest) {
        c.used = true;
    }
    let refresh = Secret::random_hex(16);
    st.next_grant += 1;
    let grant_id = st.next_grant;
    let access = issue_access(
        st,
        now,
        client_id,
        Some(grant_id),
        Some(&stored.user_id),
        &stored.scopes,
    );
    st.grants.insert(
        grant_id,
        Grant {
            client_id: client_id.to_owned(),
            user_id: stored.user_id.clone(),
            scopes: stored.scopes.clone(),
            expires_at: now + Months::new(18),
            revoked: false,
            refresh: refresh.digest(),
            access: Some(access.digest()),
            refreshing: false,
        },
    );
    st.record_token_event(
        now,
        "code_exchanged",
        Some(client_id),
        Some(&stored.user_id),
        None,
    );
    Ok(oauth_json(
        StatusCode::OK,
        token_body(&access, Some(&refresh), &stored.scopes),
    ))
}

fn start_refresh(
    st: &mut State,
    form: &[(String, String)],
    client_id: &str,
    now: DateTime<Utc>,
) -> Result<Step, OAuthError> {
    let token = get_param(form, "refresh_token")
        .filter(|t| !t.is_empty())
        .ok_or_else(|| bad("invalid_request", "refresh_token is missing"))?;
    let digest = secret::digest(token);
    let (id, grant) = st
        .grants
        .iter_mut()
        .find(|(_, g)| g.refresh == digest)
        .ok_or_else(|| bad("invalid_grant", "refresh_token is invalid"))?;
    if grant.client_id != client_id || grant.revoked || grant.expires_at <= now {
        return Err(bad("invalid_grant", "refresh_token is invalid"));
    }
    if grant.refreshing {
        return Err(bad(
            "invalid_request",
            "Refresh operation is already in progress",
        ));
    }
    grant.refreshing = true;
    Ok(Step::Refresh {
        grant: *id,
        delay: st.settings.refresh_delay,
    })
}

fn finish_refresh(
    st: &mut State,
    grant_id: u64,
    now: DateTime<Utc>,
) -> Result<Response, OAuthError> {
    let grant = st
        .grants
        .get_mut(&grant_id)
        .ok_or_else(|| bad("invalid_grant", "refresh_token is invalid"))?;
    grant.refreshing = false;
    if grant.revoked || grant.expires_at <= now {
        return Err(bad("invalid_grant", "refresh_token is invalid"));
    }
    let (client_id, user_id, scopes, old_access) = (
        grant.client_id.clone(),
        grant.user_id.clone(),
        grant.scopes.clone(),
        grant.access.take(),
    );
    let refresh = Secret::random_hex(16);
    grant.refresh = refresh.digest();
    if let Some(old) = old_access {
        st.access.remove(&old);
    }
    let access = issue_access(st, now, &client_id, Some(grant_id), Some(&user_id), &scopes);
    if let Some(grant) = st.grants.get_mut(&grant_id) {
        grant.access = Some(access.digest());
    }
    st.record_token_event(now, "refreshed", Some(&client_id), Some(&user_id), None);
    Ok(oauth_json(
        StatusCode::OK,
        token_body(&access, Some(&refresh), &scopes),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_uris_follow_hmrc_rules() {
        assert!(check_redirect_uri("https://example.com/callback?x=1").is_ok());
        assert!(check_redirect_uri("http://localhost:8080/cb").is_ok());
        assert!(check_redirect_uri("urn:ietf:wg:oauth:2.0:oob").is_ok());
        assert!(check_redirect_uri("http://example.com/cb").is_err());
        assert!(check_redirect_uri("https://example.com/cb#frag").is_err());
        assert!(check_redirect_uri("not a url").is_err());
    }

    #[test]
    fn html_is_escaped() {
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }

    #[test]
    fn pkce_values_are_bounded() {
        assert!(valid_pkce_value(&"a".repeat(43)));
        assert!(!valid_pkce_value(&"a".repeat(42)));
        assert!(!valid_pkce_value(&format!("{}!", "a".repeat(43))));
    }
}
