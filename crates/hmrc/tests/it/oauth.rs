//! OAuth 2.0 against a small stateful token server on 127.0.0.1 that follows HMRC's rules
//! (credentials in the form body, PKCE S256, single-use codes, single-use rotating refresh
//! tokens), and against fixed failure answers.

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{Form, Router, extract::State, http::HeaderMap, response::IntoResponse, routing::post};
use base64::Engine;
use hmrc_mtd::{
    AuthOrigin, AuthorizationCode, ClientSecret, Endpoints, Error, HttpSettings, OAuthClient,
    OAuthConfig, PkceVerifier, RefreshToken, TransientKind,
};
use serde_json::json;
use sha2::{Digest, Sha256};
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{method, path},
};

const CLIENT_ID: &str = "test-client-id";
const CLIENT_SECRET: &str = "test-client-secret-0123456789";
const REDIRECT: &str = "https://app.example.com/hmrc/callback";

#[derive(Default)]
struct Hmrc {
    /// code → (PKCE challenge, redirect URI)
    codes: HashMap<String, (String, String)>,
    refresh_tokens: HashSet<String>,
    issued: u32,
    refresh_in_progress: bool,
    forms: Vec<HashMap<String, String>>,
    basic_auth_seen: bool,
}

type Shared = Arc<Mutex<Hmrc>>;

fn oauth_error(status: u16, error: &str, description: &str) -> axum::response::Response {
    (
        axum::http::StatusCode::from_u16(status).unwrap(),
        axum::Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

fn issue(hmrc: &mut Hmrc) -> axum::response::Response {
    hmrc.issued += 1;
    let access = format!("{:032x}", 0xacce55_u64 * 1000 + u64::from(hmrc.issued));
    let refresh = format!("{:032x}", 0x5e_u64 * 1000 + u64::from(hmrc.issued));
    hmrc.refresh_tokens.insert(refresh.clone());
    axum::Json(json!({
        "access_token": access,
        "refresh_token": refresh,
        "token_type": "bearer",
        "expires_in": 14400,
        "scope": "read:self-assessment write:self-assessment"
    }))
    .into_response()
}

async fn token(
    State(state): State<Shared>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> axum::response::Response {
    let mut hmrc = state.lock().unwrap();
    hmrc.forms.push(form.clone());
    if headers.contains_key("authorization") {
        hmrc.basic_auth_seen = true;
    }
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or_default();
    if field("client_id") != CLIENT_ID || field("client_secret") != CLIENT_SECRET {
        return oauth_error(401, "invalid_client", "invalid client credentials");
    }
    match field("grant_type") {
        "authorization_code" => {
            let Some((challenge, redirect)) = hmrc.codes.remove(field("code")) else {
                return oauth_error(400, "invalid_request", "code is invalid");
            };
            if redirect != field("redirect_uri") {
                return oauth_error(400, "invalid_request", "redirect_uri is invalid");
            }
            let computed = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(Sha256::digest(field("code_verifier").as_bytes()));
            if computed != challenge {
                return oauth_error(400, "invalid_grant", "code_verifier does not match");
            }
            issue(&mut hmrc)
        }
        "refresh_token" => {
            if hmrc.refresh_in_progress {
                return oauth_error(
                    400,
                    "invalid_request",
                    "Refresh operation is already in progress",
                );
            }
            if hmrc.refresh_tokens.remove(field("refresh_token")) {
                issue(&mut hmrc)
            } else {
                oauth_error(400, "invalid_grant", "refresh_token is invalid")
            }
        }
        "client_credentials" => axum::Json(json!({
            "access_token": "00000000000000000000000000000app",
            "token_type": "bearer",
            "expires_in": 14400
        }))
        .into_response(),
        _ => oauth_error(400, "invalid_request", "grant_type is invalid"),
    }
}

struct Stub {
    state: Shared,
    base: url::Url,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Stub {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn stub() -> Stub {
    let state = Shared::default();
    let app = Router::new()
        .route("/oauth/token", post(token))
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/", listener.local_addr().unwrap())
        .parse()
        .unwrap();
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    Stub { state, base, task }
}

fn oauth_client(base: url::Url, timeout: Duration) -> OAuthClient {
    let mut config = OAuthConfig::new(
        Endpoints::local(base),
        CLIENT_ID,
        ClientSecret::new(CLIENT_SECRET),
        REDIRECT.parse().unwrap(),
    );
    config.http = HttpSettings {
        timeout,
        ..HttpSettings::default()
    };
    OAuthClient::new(config).unwrap()
}

/// Plays HMRC's authorisation page: the user grants access and HMRC issues a code for the
/// request's PKCE challenge and redirect URI.
fn grant(stub: &Stub, url: &url::Url) -> AuthorizationCode {
    let query: HashMap<_, _> = url.query_pairs().into_owned().collect();
    let code = format!("code-{}", query["state"]);
    stub.state.lock().unwrap().codes.insert(
        code.clone(),
        (
            query["code_challenge"].clone(),
            query["redirect_uri"].clone(),
        ),
    );
    AuthorizationCode::new(code)
}

#[tokio::test]
async fn authorization_url_asks_for_both_scopes_with_state_and_pkce_s256() {
    let stub = stub().await;
    let oauth = oauth_client(stub.base.clone(), Duration::from_secs(5));
    let first = oauth.authorization_request();
    let second = oauth.authorization_request();
    let url = &first.url;
    assert_eq!(url.path(), "/oauth/authorize");
    let query: HashMap<_, _> = url.query_pairs().into_owned().collect();
    assert_eq!(query["response_type"], "code");
    assert_eq!(query["client_id"], CLIENT_ID);
    assert_eq!(query["redirect_uri"], REDIRECT);
    assert_eq!(query["scope"], "read:self-assessment write:self-assessment");
    assert_eq!(query["code_challenge_method"], "S256");
    assert!(first.state.matches(&query["state"]));
    assert!(
        !second.state.matches(&query["state"]),
        "state is random per request"
    );
    assert!(
        !query.contains_key("client_secret"),
        "the secret never goes to the browser"
    );
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(
        first.pkce_verifier.expose_secret().as_bytes(),
    ));
    assert_eq!(query["code_challenge"], challenge);
    assert_eq!(
        format!("{:?}", first.pkce_verifier),
        "PkceVerifier([redacted])"
    );
}

#[tokio::test]
async fn code_exchange_sends_credentials_in_the_form_body_and_returns_the_users_tokens() {
    let stub = stub().await;
    let oauth = oauth_client(stub.base.clone(), Duration::from_secs(5));
    let request = oauth.authorization_request();
    let code = grant(&stub, &request.url);
    let tokens = oauth
        .exchange_code(&code, &request.pkce_verifier)
        .await
        .unwrap();
    assert_eq!(
        tokens.scopes,
        ["read:self-assessment", "write:self-assessment"]
    );
    let lifetime = tokens.expires_at - chrono::Utc::now();
    assert!(
        lifetime > chrono::Duration::seconds(14_300)
            && lifetime <= chrono::Duration::seconds(14_400)
    );
    let hmrc = stub.state.lock().unwrap();
    assert!(
        !hmrc.basic_auth_seen,
        "HMRC wants the credentials in the body"
    );
    let form = &hmrc.forms[0];
    assert_eq!(form["grant_type"], "authorization_code");
    assert_eq!(form["client_id"], CLIENT_ID);
    assert_eq!(form["client_secret"], CLIENT_SECRET);
    assert_eq!(form["redirect_uri"], REDIRECT);
    assert_eq!(form["code_verifier"], request.pkce_verifier.expose_secret());
}

#[tokio::test]
async fn a_code_exchanged_twice_or_with_the_wrong_verifier_is_permanent_auth() {
    let stub = stub().await;
    let oauth = oauth_client(stub.base.clone(), Duration::from_secs(5));
    let request = oauth.authorization_request();
    let code = grant(&stub, &request.url);
    oauth
        .exchange_code(&code, &request.pkce_verifier)
        .await
        .unwrap();
    let err = oauth
        .exchange_code(&code, &request.pkce_verifier)
        .await
        .unwrap_err();
    assert!(err.is_permanent_auth(), "{err:?}");
    assert_eq!(err.code(), Some("invalid_request"));

    let request = oauth.authorization_request();
    let code = grant(&stub, &request.url);
    let err = oauth
        .exchange_code(
            &code,
            &PkceVerifier::new("a-different-verifier-that-does-not-match-at-all"),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::PermanentAuth { code, origin: AuthOrigin::TokenEndpoint, status: Some(400), .. } if code == "invalid_grant"),
        "{err:?}"
    );
}

#[tokio::test]
async fn refresh_rotates_tokens_and_the_spent_refresh_token_then_fails_with_invalid_grant() {
    let stub = stub().await;
    let oauth = oauth_client(stub.base.clone(), Duration::from_secs(5));
    let request = oauth.authorization_request();
    let code = grant(&stub, &request.url);
    let first = oauth
        .exchange_code(&code, &request.pkce_verifier)
        .await
        .unwrap();

    let second = oauth.refresh(&first.refresh_token).await.unwrap();
    assert_ne!(
        second.refresh_token, first.refresh_token,
        "a new refresh token replaces the old"
    );
    assert_ne!(second.access_token, first.access_token);
    let third = oauth.refresh(&second.refresh_token).await.unwrap();
    assert_ne!(third.refresh_token, second.refresh_token);

    let err = oauth.refresh(&first.refresh_token).await.unwrap_err();
    assert!(err.is_permanent_auth(), "{err:?}");
    assert_eq!(err.code(), Some("invalid_grant"));
    assert_eq!(err.status(), Some(400));
    assert_eq!(
        err.token_fingerprint(),
        Some(&first.refresh_token.fingerprint()),
        "the caller can tell which refresh token was refused"
    );
    let text = format!("{err} {err:?}");
    assert!(!text.contains(first.refresh_token.expose_secret()));
    assert!(!text.contains(CLIENT_SECRET));
    let form = stub.state.lock().unwrap().forms[1].clone();
    assert_eq!(form["grant_type"], "refresh_token");
    assert_eq!(form["refresh_token"], first.refresh_token.expose_secret());
}

#[tokio::test]
async fn a_refresh_already_in_progress_is_transient() {
    let stub = stub().await;
    stub.state.lock().unwrap().refresh_in_progress = true;
    let oauth = oauth_client(stub.base.clone(), Duration::from_secs(5));
    let err = oauth
        .refresh(&RefreshToken::new("0000000000000000000000000000005e"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Transient {
                kind: TransientKind::RefreshInProgress,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.is_retriable());
}

#[tokio::test]
async fn wrong_client_credentials_are_platform_misconfiguration_not_the_users_fault() {
    let stub = stub().await;
    let mut config = OAuthConfig::new(
        Endpoints::local(stub.base.clone()),
        CLIENT_ID,
        ClientSecret::new("wrong-secret"),
        REDIRECT.parse().unwrap(),
    );
    config.http = HttpSettings::default();
    let oauth = OAuthClient::new(config).unwrap();
    let err = oauth.refresh(&RefreshToken::new("r")).await.unwrap_err();
    assert!(err.is_platform_misconfiguration(), "{err:?}");
    assert_eq!(err.code(), Some("invalid_client"));
    assert_eq!(err.status(), Some(401));
    assert!(!err.is_permanent_auth());
}

#[tokio::test]
async fn client_credentials_return_an_application_token() {
    let stub = stub().await;
    let oauth = oauth_client(stub.base.clone(), Duration::from_secs(5));
    let token = oauth.client_credentials().await.unwrap();
    assert_eq!(
        token.access_token.expose_secret(),
        "00000000000000000000000000000app"
    );
    assert_eq!(
        stub.state.lock().unwrap().forms[0]["grant_type"],
        "client_credentials"
    );
}

async fn token_endpoint_answering(response: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .respond_with(response)
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn token_endpoint_server_errors_and_rate_limits_are_transient() {
    let answers = [
        (
            ResponseTemplate::new(500)
                .set_body_json(json!({"error": "server_error", "error_description": "unexpected"})),
            None,
        ),
        (
            ResponseTemplate::new(503).set_body_string("<html>Service Unavailable</html>"),
            None,
        ),
        (ResponseTemplate::new(502), None),
        (
            ResponseTemplate::new(429).insert_header("Retry-After", "9"),
            Some(Duration::from_secs(9)),
        ),
    ];
    for (answer, retry_after) in answers {
        let server = token_endpoint_answering(answer).await;
        let oauth = oauth_client(server.uri().parse().unwrap(), Duration::from_secs(5));
        let err = oauth.refresh(&RefreshToken::new("r")).await.unwrap_err();
        assert!(err.is_retriable(), "{err:?}");
        assert_eq!(err.retry_after(), retry_after);
        assert_eq!(
            server.received_requests().await.unwrap().len(),
            1,
            "no hidden retry"
        );
    }
}

#[tokio::test]
async fn a_token_endpoint_timeout_is_transient() {
    let server = token_endpoint_answering(
        ResponseTemplate::new(200)
            .set_body_json(
                json!({"access_token": "a", "refresh_token": "b", "token_type": "bearer"}),
            )
            .set_delay(Duration::from_secs(3)),
    )
    .await;
    let oauth = oauth_client(server.uri().parse().unwrap(), Duration::from_millis(200));
    let err = oauth.refresh(&RefreshToken::new("r")).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Transient {
                kind: TransientKind::Timeout,
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_refresh_answer_without_a_new_refresh_token_is_an_error_not_a_silent_reuse() {
    let server = token_endpoint_answering(ResponseTemplate::new(200).set_body_json(json!({
        "access_token": "0123456789abcdef0123456789abcdef", "token_type": "bearer", "expires_in": 14400
    })))
    .await;
    let oauth = oauth_client(server.uri().parse().unwrap(), Duration::from_secs(5));
    let err = oauth.refresh(&RefreshToken::new("r")).await.unwrap_err();
    assert!(err.is_unexpected(), "{err:?}");
    assert!(!format!("{err:?}").contains("0123456789abcdef0123456789abcdef"));
}
