//! OAuth 2.0 against the simulator: its authorise page driven over HTTP as a browser would,
//! PKCE, single-use codes, single-use rotating refresh tokens, concurrent refreshes, revoked
//! grants, client credentials, wrong client secrets and token-endpoint faults. The last tests
//! use a wiremock stub for token answers the simulator does not give.

use std::{collections::HashMap, sync::LazyLock, time::Duration};

use base64::Engine;
use hmrc_mtd::{AuthOrigin, AuthorizationCode, Error, PkceVerifier, RefreshToken, TransientKind};
use hmrc_sandbox::{FaultAction, FaultSpec, TOKEN_ENDPOINT_ID};
use regex::Regex;
use serde_json::json;
use sha2::{Digest, Sha256};
use url::Url;
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{method, path},
};

use crate::{
    sim::{CLIENT_ID, CLIENT_SECRET, PASSWORD, REDIRECT, Sim, USER_ID, oauth_client},
    support::Flow,
};

/// A browser without cookies or redirects: each step is looked at.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

static FORM: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"<form method="post" action="([^"]+)">"#).unwrap());
static HIDDEN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"<input type="hidden" name="([^"]*)" value="([^"]*)">"#).unwrap()
});

fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// The sign-in page's form: where it posts and its hidden fields.
struct SignInForm {
    action: Url,
    fields: Vec<(String, String)>,
}

/// GETs HMRC's authorisation page as the user's browser does and reads its form.
async fn open_authorise_page(url: &Url) -> (String, SignInForm) {
    let page = browser().get(url.clone()).send().await.unwrap();
    assert_eq!(page.status(), 200, "the authorise page accepts the request");
    let html = page.text().await.unwrap();
    let action = FORM
        .captures(&html)
        .unwrap_or_else(|| panic!("no sign-in form in {html}"))[1]
        .to_owned();
    let fields = HIDDEN
        .captures_iter(&html)
        .map(|c| (unescape(&c[1]), unescape(&c[2])))
        .collect();
    let action = url.join(&unescape(&action)).unwrap();
    (html, SignInForm { action, fields })
}

/// Signs in and presses one of the page's buttons; returns the answer (not followed).
async fn submit(form: &SignInForm, password: &str, decision: &str) -> reqwest::Response {
    let mut fields = form.fields.clone();
    fields.push(("user_id".into(), USER_ID.into()));
    fields.push(("password".into(), password.into()));
    fields.push(("decision".into(), decision.into()));
    browser()
        .post(form.action.clone())
        .form(&fields)
        .send()
        .await
        .unwrap()
}

/// The query of the redirect back to the application.
fn callback(response: &reqwest::Response) -> HashMap<String, String> {
    assert_eq!(response.status(), 303, "HMRC redirects back to the app");
    let location: Url = response.headers()["location"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        format!(
            "{}{}",
            location.origin().ascii_serialization(),
            location.path()
        ),
        REDIRECT
    );
    location.query_pairs().into_owned().collect()
}

#[tokio::test]
async fn authorization_url_asks_for_both_scopes_with_state_and_pkce_s256() {
    let sim = Sim::start().await;
    let first = sim.oauth.authorization_request();
    let second = sim.oauth.authorization_request();
    let url = &first.url;
    assert_eq!(url.path(), "/oauth/authorize");
    assert_eq!(url.origin(), sim.base().origin());
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
    // HMRC's page accepts every parameter and asks for both scopes.
    let (html, form) = open_authorise_page(url).await;
    assert!(html.contains("<li>read:self-assessment</li>"), "{html}");
    assert!(html.contains("<li>write:self-assessment</li>"), "{html}");
    assert!(form.fields.contains(&("code_challenge".into(), challenge)));
}

#[tokio::test]
async fn the_full_authorisation_code_flow_through_the_sign_in_page_gives_working_tokens() {
    let sim = Sim::start().await;
    let request = sim.oauth.authorization_request();
    let (_, form) = open_authorise_page(&request.url).await;

    // A wrong password shows the page again, with no redirect.
    let refused = submit(&form, "not-the-password", "grant").await;
    assert_eq!(refused.status(), 200);
    assert!(
        refused
            .text()
            .await
            .unwrap()
            .contains("Enter a correct user ID and password")
    );

    let back = callback(&submit(&form, PASSWORD, "grant").await);
    assert!(
        request.state.matches(&back["state"]),
        "the state comes back"
    );
    let code = AuthorizationCode::new(back["code"].clone());
    let tokens = sim
        .oauth
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
            && lifetime <= chrono::Duration::seconds(14_400),
        "{lifetime}"
    );
    assert!(tokens.correlation_id.is_some());
    // The simulator reads client_id and client_secret from the form body only, so this
    // exchange (after the setup's) proves the client sent them there.
    let exchanged = sim
        .admin()
        .token_events()
        .into_iter()
        .filter(|e| e.event == "code_exchanged")
        .count();
    assert_eq!(exchanged, 2, "the setup's sign-in and this one");

    let call = hmrc_mtd::CallContext::new(&tokens.access_token, &sim.headers);
    let businesses = sim.api.list_businesses(&call, &sim.ids.nino).await.unwrap();
    let ids: Vec<_> = businesses
        .body
        .list_of_businesses
        .iter()
        .map(|b| b.business_id.clone())
        .collect();
    assert_eq!(
        ids,
        [
            sim.ids.se_business.clone(),
            sim.ids.property_business.clone()
        ]
    );
}

#[tokio::test]
async fn a_user_who_does_not_grant_authority_comes_back_with_access_denied_and_the_state() {
    let sim = Sim::start().await;
    let request = sim.oauth.authorization_request();
    let (_, form) = open_authorise_page(&request.url).await;
    let back = callback(&submit(&form, PASSWORD, "deny").await);
    assert_eq!(back["error"], "access_denied");
    assert!(request.state.matches(&back["state"]));
    assert!(!back.contains_key("code"));
}

#[tokio::test]
async fn a_code_exchanged_twice_or_with_the_wrong_pkce_verifier_is_permanent_auth() {
    let sim = Sim::start().await;
    let request = sim.oauth.authorization_request();
    let (_, form) = open_authorise_page(&request.url).await;
    let code =
        AuthorizationCode::new(callback(&submit(&form, PASSWORD, "grant").await)["code"].clone());

    let err = sim
        .oauth
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

    sim.oauth
        .exchange_code(&code, &request.pkce_verifier)
        .await
        .unwrap();
    let err = sim
        .oauth
        .exchange_code(&code, &request.pkce_verifier)
        .await
        .unwrap_err();
    assert!(err.is_permanent_auth(), "{err:?}");
    assert_eq!(err.code(), Some("invalid_request"));
    assert!(!format!("{err} {err:?}").contains(code.expose_secret()));
}

#[tokio::test]
async fn refresh_rotates_tokens_and_the_spent_refresh_and_access_tokens_are_refused() {
    let sim = Sim::start().await;
    let first = sim.tokens.clone();

    let second = sim.oauth.refresh(&first.refresh_token).await.unwrap();
    assert_ne!(
        second.refresh_token, first.refresh_token,
        "a new refresh token replaces the old"
    );
    assert_ne!(second.access_token, first.access_token);

    // HMRC kills the old access token at once; the new one works.
    let old_call = hmrc_mtd::CallContext::new(&first.access_token, &sim.headers);
    let err = Flow::ListBusinesses
        .run_for(&sim.api, &old_call, &sim.ids)
        .await
        .unwrap_err();
    assert!(err.is_permanent_auth(), "{err:?}");
    assert_eq!(err.status(), Some(401));
    assert_eq!(err.code(), Some("INVALID_CREDENTIALS"));
    assert_eq!(
        err.token_fingerprint(),
        Some(&first.access_token.fingerprint())
    );
    let new_call = hmrc_mtd::CallContext::new(&second.access_token, &sim.headers);
    Flow::ListBusinesses
        .run_for(&sim.api, &new_call, &sim.ids)
        .await
        .unwrap();

    let third = sim.oauth.refresh(&second.refresh_token).await.unwrap();
    assert_ne!(third.refresh_token, second.refresh_token);

    for spent in [&first.refresh_token, &second.refresh_token] {
        let err = sim.oauth.refresh(spent).await.unwrap_err();
        assert!(err.is_permanent_auth(), "{err:?}");
        assert!(!err.is_retriable());
        assert_eq!(err.code(), Some("invalid_grant"));
        assert_eq!(err.status(), Some(400));
        assert_eq!(
            err.token_fingerprint(),
            Some(&spent.fingerprint()),
            "the caller can tell which refresh token was refused"
        );
        let text = format!("{err} {err:?}");
        assert!(!text.contains(spent.expose_secret()));
        assert!(!text.contains(CLIENT_SECRET));
    }
    // The latest pair still works.
    sim.oauth.refresh(&third.refresh_token).await.unwrap();
}

#[tokio::test]
async fn a_concurrent_refresh_of_the_same_grant_is_transient() {
    // The simulator holds a refresh for 300 ms, so the second one arrives while it runs.
    let sim = Sim::start_with(|b| b.refresh_delay(Duration::from_millis(300))).await;
    let refresh = &sim.tokens.refresh_token;
    let (a, b) = tokio::join!(sim.oauth.refresh(refresh), sim.oauth.refresh(refresh));
    let (won, lost) = match (a, b) {
        (Ok(tokens), Err(err)) | (Err(err), Ok(tokens)) => (tokens, err),
        other => panic!("exactly one refresh wins: {other:?}"),
    };
    assert!(
        matches!(
            lost,
            Error::Transient {
                kind: TransientKind::RefreshInProgress,
                status: Some(400),
                ..
            }
        ),
        "{lost:?}"
    );
    assert!(lost.is_retriable());
    assert_eq!(lost.code(), Some("invalid_request"));
    // Retrying with the spent token is then a permanent failure: the caller must reload the
    // pair the winner stored.
    let err = sim.oauth.refresh(refresh).await.unwrap_err();
    assert_eq!(err.code(), Some("invalid_grant"));
    sim.oauth.refresh(&won.refresh_token).await.unwrap();
}

#[tokio::test]
async fn a_revoked_grant_is_permanent_auth_for_refresh_and_api_calls() {
    let sim = Sim::start().await;
    assert_eq!(sim.admin().revoke_grants(USER_ID, None).unwrap(), 1);
    let err = sim
        .oauth
        .refresh(&sim.tokens.refresh_token)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::PermanentAuth { code, origin: AuthOrigin::TokenEndpoint, .. } if code == "invalid_grant"),
        "{err:?}"
    );
    let err = sim.run(Flow::ListBusinesses).await.unwrap_err();
    assert!(err.is_permanent_auth(), "{err:?}");
    assert_eq!(err.code(), Some("INVALID_CREDENTIALS"));
}

#[tokio::test]
async fn an_access_token_past_its_four_hours_is_refused_and_a_refresh_recovers() {
    let mut sim = Sim::start().await;
    sim.admin()
        .advance_clock(chrono::TimeDelta::seconds(14_400))
        .unwrap();
    let err = sim.run(Flow::ListBusinesses).await.unwrap_err();
    assert!(err.is_permanent_auth(), "{err:?}");
    assert_eq!(err.code(), Some("INVALID_CREDENTIALS"));
    sim.tokens = sim.oauth.refresh(&sim.tokens.refresh_token).await.unwrap();
    sim.run(Flow::ListBusinesses).await.unwrap();
}

#[tokio::test]
async fn client_credentials_return_an_application_token_without_a_refresh_token() {
    let sim = Sim::start().await;
    let token = sim.oauth.client_credentials().await.unwrap();
    assert!(token.expires_at > chrono::Utc::now() + chrono::Duration::seconds(14_000));
    assert!(token.correlation_id.is_some());
    let events = sim.admin().token_events();
    assert!(events.iter().any(|e| e.event == "client_credentials"));
    // It opens HMRC's application-restricted test APIs (see fraud_validation.rs), not a user's
    // data (see failures.rs).
    assert_ne!(token.access_token, sim.tokens.access_token);
}

#[tokio::test]
async fn a_wrong_client_secret_is_platform_misconfiguration_not_the_users_fault() {
    let sim = Sim::start().await;
    let wrong = oauth_client(&sim.base(), "wrong-secret", Duration::from_secs(5));
    let refresh = wrong.refresh(&sim.tokens.refresh_token).await.unwrap_err();
    let request = wrong.authorization_request();
    let exchange = wrong
        .exchange_code(
            &AuthorizationCode::new("0123456789abcdef"),
            &request.pkce_verifier,
        )
        .await
        .unwrap_err();
    let application = wrong.client_credentials().await.unwrap_err();
    for err in [refresh, exchange, application] {
        assert!(err.is_platform_misconfiguration(), "{err:?}");
        assert!(!err.is_permanent_auth());
        assert_eq!(err.code(), Some("invalid_client"));
        assert_eq!(err.status(), Some(401));
        assert!(!format!("{err} {err:?}").contains("wrong-secret"));
    }
    // The user's grant is untouched.
    sim.oauth.refresh(&sim.tokens.refresh_token).await.unwrap();
}

#[tokio::test]
async fn token_endpoint_server_errors_rate_limits_and_dropped_connections_are_transient() {
    let sim = Sim::start().await;
    let faults = [
        (
            FaultAction::Status {
                status: 500,
                code: None,
                message: None,
            },
            TransientKind::ServerError,
            None,
        ),
        (
            FaultAction::Status {
                status: 503,
                code: None,
                message: None,
            },
            TransientKind::ServerError,
            None,
        ),
        (
            FaultAction::RateLimited {
                retry_after_secs: 9,
            },
            TransientKind::RateLimited,
            Some(Duration::from_secs(9)),
        ),
        (FaultAction::Drop, TransientKind::Network, None),
    ];
    for (action, kind, retry_after) in faults {
        let what = format!("{action:?}");
        sim.admin()
            .add_fault(FaultSpec::new(TOKEN_ENDPOINT_ID, action))
            .unwrap();
        let err = sim
            .oauth
            .refresh(&sim.tokens.refresh_token)
            .await
            .unwrap_err();
        let seen: u64 = sim.admin().faults().iter().map(|f| f.seen).sum();
        sim.admin().clear_faults();
        assert_eq!(seen, 1, "{what}: no hidden retry");
        assert!(
            matches!(&err, Error::Transient { kind: k, .. } if *k == kind),
            "{what}: {err:?}"
        );
        assert_eq!(err.retry_after(), retry_after, "{what}");
    }
    // None of those touched the grant.
    sim.oauth.refresh(&sim.tokens.refresh_token).await.unwrap();
}

#[tokio::test]
async fn a_token_endpoint_timeout_is_transient() {
    let sim = Sim::start().await;
    sim.admin()
        .add_fault(FaultSpec::new(
            TOKEN_ENDPOINT_ID,
            FaultAction::Delay { millis: 2_000 },
        ))
        .unwrap();
    let impatient = oauth_client(&sim.base(), CLIENT_SECRET, Duration::from_millis(200));
    let err = impatient
        .refresh(&sim.tokens.refresh_token)
        .await
        .unwrap_err();
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

// ---- token answers the simulator does not give: a wiremock stub ---------------------------

async fn token_endpoint_answering(response: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .respond_with(response)
        .mount(&server)
        .await;
    server
}

/// The simulator's token faults answer OAuth JSON; a gateway in front of HMRC may answer an
/// HTML page or nothing.
#[tokio::test]
async fn token_endpoint_failures_without_an_oauth_body_are_classified_by_status() {
    let answers = [
        ResponseTemplate::new(503).set_body_string("<html>Service Unavailable</html>"),
        ResponseTemplate::new(502),
    ];
    for answer in answers {
        let server = token_endpoint_answering(answer).await;
        let oauth = oauth_client(
            &server.uri().parse().unwrap(),
            CLIENT_SECRET,
            Duration::from_secs(5),
        );
        let err = oauth.refresh(&RefreshToken::new("r")).await.unwrap_err();
        assert!(
            matches!(
                err,
                Error::Transient {
                    kind: TransientKind::ServerError,
                    ..
                }
            ),
            "{err:?}"
        );
        assert_eq!(
            server.received_requests().await.unwrap().len(),
            1,
            "no hidden retry"
        );
    }
}

/// HMRC always rotates the refresh token (and so does the simulator).
#[tokio::test]
async fn a_refresh_answer_without_a_new_refresh_token_is_an_error_not_a_silent_reuse() {
    let server = token_endpoint_answering(ResponseTemplate::new(200).set_body_json(json!({
        "access_token": "0123456789abcdef0123456789abcdef", "token_type": "bearer", "expires_in": 14400
    })))
    .await;
    let oauth = oauth_client(
        &server.uri().parse().unwrap(),
        CLIENT_SECRET,
        Duration::from_secs(5),
    );
    let err = oauth.refresh(&RefreshToken::new("r")).await.unwrap_err();
    assert!(err.is_unexpected(), "{err:?}");
    assert!(!format!("{err:?}").contains("0123456789abcdef0123456789abcdef"));
}

/// The OAuth futures must be `Send + 'static`-able: an axum handler awaits `exchange_code`, and
/// an Inngest step awaits `refresh` on a multi-threaded runtime. `tokio::spawn` only compiles
/// for `Send` futures, so this test fails to build if that regresses.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_calls_run_on_spawned_tasks_of_a_multi_threaded_runtime() {
    let sim = Sim::start().await;
    let oauth = sim.oauth.clone();
    let refresh_token = sim.tokens.refresh_token.clone();
    let refreshed = tokio::spawn(async move { oauth.refresh(&refresh_token).await })
        .await
        .expect("the task completes")
        .expect("the refresh succeeds");
    assert_ne!(
        refreshed.refresh_token.expose_secret(),
        sim.tokens.refresh_token.expose_secret()
    );
    let oauth = sim.oauth.clone();
    let app = tokio::spawn(async move { oauth.client_credentials().await })
        .await
        .expect("the task completes")
        .expect("client credentials are issued");
    assert!(!app.access_token.expose_secret().is_empty());
    let oauth = sim.oauth.clone();
    let code = AuthorizationCode::new("not-a-code");
    let verifier = sim.oauth.authorization_request().pkce_verifier;
    let refused = tokio::spawn(async move { oauth.exchange_code(&code, &verifier).await })
        .await
        .expect("the task completes");
    assert!(refused.is_err(), "an unknown code is refused");
}
