//! OAuth 2.0: the authorise page, code exchange rules, PKCE, refresh rotation, concurrent
//! refresh, revocation, grant expiry and client errors (digest §9).

use std::time::Duration;

use base64::Engine;
use chrono::TimeDelta;
use reqwest::StatusCode;
use sha2::{Digest, Sha256};

use crate::common::*;

const OBLIGATIONS: &str = "/obligations/details/AA123456A/crystallisation";

fn location(response: &reqwest::Response) -> url::Url {
    url::Url::parse(response.headers()["location"].to_str().unwrap()).unwrap()
}

fn query(url: &url::Url, key: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

#[tokio::test]
async fn the_authorise_page_offers_sign_in_and_both_choices() {
    let env = env().await;
    let page = env
        .http
        .get(env.url(&format!(
            "/oauth/authorize?response_type=code&client_id={CLIENT_ID}&scope=read:self-assessment+write:self-assessment&state=s1&redirect_uri={}",
            urlencode(REDIRECT_URI)
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = page.text().await.unwrap();
    for needle in [
        "name=\"user_id\"",
        "name=\"password\"",
        "Grant authority",
        "Do not grant authority",
        "read:self-assessment",
        "value=\"s1\"",
    ] {
        assert!(html.contains(needle), "page lacks {needle}");
    }
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn bad_authorise_requests_are_shown_as_errors() {
    let env = env().await;
    let redirect = urlencode(REDIRECT_URI);
    let cases = [
        (
            format!(
                "/oauth/authorize?response_type=code&scope=read:self-assessment&redirect_uri={redirect}"
            ),
            "invalid_request",
        ),
        (
            format!(
                "/oauth/authorize?response_type=code&client_id=nope&scope=read:self-assessment&redirect_uri={redirect}"
            ),
            "invalid_request",
        ),
        (
            format!(
                "/oauth/authorize?response_type=code&client_id={CLIENT_ID}&scope=read:self-assessment&redirect_uri=https%3A%2F%2Fevil.example%2Fcb"
            ),
            "invalid_request",
        ),
        (
            format!(
                "/oauth/authorize?response_type=token&client_id={CLIENT_ID}&scope=read:self-assessment&redirect_uri={redirect}"
            ),
            "unsupported_response_type",
        ),
        (
            format!(
                "/oauth/authorize?response_type=code&client_id={CLIENT_ID}&scope=read:vat&redirect_uri={redirect}"
            ),
            "invalid_scope",
        ),
        (
            format!(
                "/oauth/authorize?response_type=code&client_id={CLIENT_ID}&scope=read:self-assessment&redirect_uri={redirect}&client_secret=x"
            ),
            "invalid_request",
        ),
        (
            format!(
                "/oauth/authorize?response_type=code&client_id={CLIENT_ID}&scope=read:self-assessment&redirect_uri={redirect}&code_challenge={}&code_challenge_method=plain",
                "a".repeat(43)
            ),
            "invalid_request",
        ),
    ];
    for (path, error) in cases {
        let r = env.http.get(env.url(&path)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{path}");
        let html = r.text().await.unwrap();
        assert!(
            html.contains(&format!("<p id=\"error\">{error}</p>")),
            "{path}: {html}"
        );
    }
}

#[tokio::test]
async fn granting_redirects_with_code_and_state() {
    let env = env().await;
    let response = env
        .authorize_form(&[
            ("response_type", "code"),
            ("client_id", CLIENT_ID),
            ("scope", "read:self-assessment write:self-assessment"),
            ("redirect_uri", REDIRECT_URI),
            ("state", "state-123"),
            ("user_id", "alice"),
            ("password", "alice-password"),
            ("decision", "grant"),
        ])
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let url = location(&response);
    assert!(url.as_str().starts_with(REDIRECT_URI));
    assert_eq!(query(&url, "state").as_deref(), Some("state-123"));
    let code = query(&url, "code").unwrap();
    assert_eq!(code.len(), 32);
}

#[tokio::test]
async fn declining_redirects_with_access_denied() {
    let env = env().await;
    let response = env
        .authorize_form(&[
            ("response_type", "code"),
            ("client_id", CLIENT_ID),
            ("scope", "read:self-assessment"),
            ("redirect_uri", REDIRECT_URI),
            ("state", "abc"),
            ("decision", "deny"),
        ])
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let url = location(&response);
    assert_eq!(query(&url, "error").as_deref(), Some("access_denied"));
    assert_eq!(
        query(&url, "error_code").as_deref(),
        Some("USER_DENIED_AUTHORIZATION")
    );
    assert!(query(&url, "error_description").is_some());
    assert_eq!(query(&url, "state").as_deref(), Some("abc"));
    assert!(query(&url, "code").is_none());
}

#[tokio::test]
async fn a_wrong_password_shows_the_page_again_without_a_code() {
    let env = env().await;
    let response = env
        .authorize_form(&[
            ("response_type", "code"),
            ("client_id", CLIENT_ID),
            ("scope", "read:self-assessment"),
            ("redirect_uri", REDIRECT_URI),
            ("user_id", "alice"),
            ("password", "wrong"),
            ("decision", "grant"),
        ])
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers().get("location").is_none());
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("Enter a correct user ID and password")
    );
}

#[tokio::test]
async fn code_exchange_gives_hmrc_token_response_and_a_working_token() {
    let env = env().await;
    let code = env.code_for("alice", "alice-password", &[]).await;
    let r = env.exchange(&code, &[]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json["token_type"], "bearer");
    assert_eq!(r.json["expires_in"], 14400);
    assert_eq!(
        r.json["scope"],
        "read:self-assessment write:self-assessment"
    );
    assert_eq!(r.json["access_token"].as_str().unwrap().len(), 32);
    assert_eq!(r.json["refresh_token"].as_str().unwrap().len(), 32);
    assert_eq!(r.headers["cache-control"], "no-store");
    let token = r.json["access_token"].as_str().unwrap();
    assert_eq!(
        env.get(OBLIGATIONS, "3.0", token).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_code_works_once() {
    let env = env().await;
    let code = env.code_for("alice", "alice-password", &[]).await;
    assert_eq!(env.exchange(&code, &[]).await.status, StatusCode::OK);
    let again = env.exchange(&code, &[]).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
    assert_eq!(again.json["error"], "invalid_request");
}

#[tokio::test]
async fn a_code_expires_after_ten_minutes() {
    let env = env().await;
    let code = env.code_for("alice", "alice-password", &[]).await;
    env.sandbox
        .admin()
        .advance_clock(TimeDelta::seconds(601))
        .unwrap();
    let r = env.exchange(&code, &[]).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.json["error"], "invalid_request");
    assert_eq!(r.json["error_description"], "code has expired");
}

#[tokio::test]
async fn the_redirect_uri_must_match() {
    let env = env().await;
    let code = env.code_for("alice", "alice-password", &[]).await;
    let r = env
        .token(&[
            ("grant_type", "authorization_code"),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
            ("redirect_uri", "http://localhost:9999/other"),
            ("code", &code),
        ])
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.json["error"], "invalid_request");
    let missing = env
        .token(&[
            ("grant_type", "authorization_code"),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
            ("code", &code),
        ])
        .await;
    assert_eq!(missing.json["error"], "invalid_request");
    // The code was not burnt by the failed attempts.
    assert_eq!(env.exchange(&code, &[]).await.status, StatusCode::OK);
}

fn challenge(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

#[tokio::test]
async fn pkce_s256_is_enforced_when_a_challenge_was_sent() {
    let env = env().await;
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    let ch = challenge(verifier);
    let pkce = [
        ("code_challenge", ch.as_str()),
        ("code_challenge_method", "S256"),
    ];

    let code = env.code_for("alice", "alice-password", &pkce).await;
    let missing = env.exchange(&code, &[]).await;
    assert_eq!(
        (missing.status, missing.json["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request"))
    );
    let malformed = env.exchange(&code, &[("code_verifier", "short")]).await;
    assert_eq!(malformed.json["error"], "invalid_request");
    let wrong = env
        .exchange(
            &code,
            &[(
                "code_verifier",
                "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            )],
        )
        .await;
    assert_eq!(
        (wrong.status, wrong.json["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    let right = env.exchange(&code, &[("code_verifier", verifier)]).await;
    assert_eq!(right.status, StatusCode::OK);

    let plain = env.code_for("alice", "alice-password", &[]).await;
    let unexpected = env.exchange(&plain, &[("code_verifier", verifier)]).await;
    assert_eq!(unexpected.json["error"], "invalid_request");
}

#[tokio::test]
async fn client_and_grant_type_errors_follow_hmrc_table() {
    let env = env().await;
    let code = env.code_for("alice", "alice-password", &[]).await;
    type Form<'a> = Vec<(&'a str, &'a str)>;
    let cases: Vec<(Form<'_>, u16, &str)> = vec![
        (
            vec![
                ("client_id", CLIENT_ID),
                ("client_secret", CLIENT_SECRET),
                ("code", &code),
            ],
            400,
            "invalid_request",
        ),
        (
            vec![
                ("grant_type", "password"),
                ("client_id", CLIENT_ID),
                ("client_secret", CLIENT_SECRET),
            ],
            400,
            "invalid_request",
        ),
        (
            vec![
                ("grant_type", "authorization_code"),
                ("client_secret", CLIENT_SECRET),
                ("code", &code),
            ],
            400,
            "invalid_request",
        ),
        (
            vec![
                ("grant_type", "authorization_code"),
                ("client_id", CLIENT_ID),
                ("code", &code),
            ],
            400,
            "invalid_request",
        ),
        (
            vec![
                ("grant_type", "authorization_code"),
                ("client_id", "unknown"),
                ("client_secret", CLIENT_SECRET),
                ("code", &code),
                ("redirect_uri", REDIRECT_URI),
            ],
            401,
            "invalid_client",
        ),
        (
            vec![
                ("grant_type", "authorization_code"),
                ("client_id", CLIENT_ID),
                ("client_secret", "wrong"),
                ("code", &code),
                ("redirect_uri", REDIRECT_URI),
            ],
            401,
            "invalid_client",
        ),
        (
            vec![
                ("grant_type", "authorization_code"),
                ("client_id", CLIENT_ID),
                ("client_secret", CLIENT_SECRET),
                ("redirect_uri", REDIRECT_URI),
            ],
            400,
            "invalid_request",
        ),
        (
            vec![
                ("grant_type", "authorization_code"),
                ("client_id", CLIENT_ID),
                ("client_secret", CLIENT_SECRET),
                ("redirect_uri", REDIRECT_URI),
                ("code", "0000"),
            ],
            400,
            "invalid_request",
        ),
        (
            vec![
                ("grant_type", "refresh_token"),
                ("client_id", CLIENT_ID),
                ("client_secret", CLIENT_SECRET),
            ],
            400,
            "invalid_request",
        ),
        (
            vec![
                ("grant_type", "refresh_token"),
                ("client_id", CLIENT_ID),
                ("client_secret", CLIENT_SECRET),
                ("refresh_token", "nope"),
            ],
            400,
            "invalid_grant",
        ),
    ];
    for (form, status, error) in cases {
        let r = env.token(&form).await;
        assert_eq!(r.status.as_u16(), status, "{form:?}: {}", r.text);
        assert_eq!(r.json["error"], error, "{form:?}");
        assert!(r.json["error_description"].is_string());
    }
}

#[tokio::test]
async fn refresh_rotates_and_kills_the_old_access_token_at_once() {
    let env = env().await;
    let first = env.tokens().await;
    let r = env.refresh(&first.refresh).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json["expires_in"], 14400);
    assert_eq!(r.json["token_type"], "bearer");
    let second = Tokens {
        access: r.json["access_token"].as_str().unwrap().to_owned(),
        refresh: r.json["refresh_token"].as_str().unwrap().to_owned(),
    };
    assert_ne!(second.refresh, first.refresh);
    let old = env.get(OBLIGATIONS, "3.0", &first.access).await;
    assert_eq!(old.status, StatusCode::UNAUTHORIZED);
    assert_eq!(old.code(), "INVALID_CREDENTIALS");
    assert_eq!(
        env.get(OBLIGATIONS, "3.0", &second.access).await.status,
        StatusCode::OK
    );
    let reused = env.refresh(&first.refresh).await;
    assert_eq!(reused.status, StatusCode::BAD_REQUEST);
    assert_eq!(reused.json["error"], "invalid_grant");
    // A second, independent authorisation keeps its own tokens.
    let other = env.tokens().await;
    assert_eq!(
        env.get(OBLIGATIONS, "3.0", &other.access).await.status,
        StatusCode::OK
    );
    assert_eq!(
        env.get(OBLIGATIONS, "3.0", &second.access).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn concurrent_refreshes_of_one_grant_give_invalid_request_to_the_loser() {
    // The first refresh holds the grant for 1.5 s; the second arrives while it does.
    let env = env_with(builder().refresh_delay(Duration::from_millis(1500))).await;
    let tokens = env.tokens().await;
    let (a, b) = tokio::join!(env.refresh(&tokens.refresh), async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        env.refresh(&tokens.refresh).await
    });
    let (winner, loser) = if a.status == StatusCode::OK {
        (a, b)
    } else {
        (b, a)
    };
    assert_eq!(winner.status, StatusCode::OK, "{}", winner.text);
    assert_eq!(loser.status, StatusCode::BAD_REQUEST);
    assert_eq!(loser.json["error"], "invalid_request");
    assert_eq!(
        loser.json["error_description"],
        "Refresh operation is already in progress"
    );
    // The winner's refresh token is the only valid one now.
    env.sandbox.admin().set_refresh_delay(Duration::ZERO);
    let next = env
        .refresh(winner.json["refresh_token"].as_str().unwrap())
        .await;
    assert_eq!(next.status, StatusCode::OK);
    assert_eq!(
        env.refresh(&tokens.refresh).await.json["error"],
        "invalid_grant"
    );
}

#[tokio::test]
async fn revoking_a_grant_kills_refresh_and_access() {
    let env = env().await;
    let tokens = env.tokens().await;
    let r = env
        .http
        .post(env.url("/_admin/users/alice/revoke"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let refresh = env.refresh(&tokens.refresh).await;
    assert_eq!(refresh.status, StatusCode::BAD_REQUEST);
    assert_eq!(refresh.json["error"], "invalid_grant");
    assert_eq!(
        refresh.json["error_description"],
        "refresh_token is invalid"
    );
    let api = env.get(OBLIGATIONS, "3.0", &tokens.access).await;
    assert_eq!(api.status, StatusCode::UNAUTHORIZED);
    assert_eq!(api.code(), "INVALID_CREDENTIALS");
    // Authorising again works.
    let fresh = env.tokens().await;
    assert_eq!(
        env.get(OBLIGATIONS, "3.0", &fresh.access).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_grant_lasts_eighteen_months() {
    let env = env().await;
    let tokens = env.tokens().await;
    env.sandbox
        .admin()
        .advance_clock(TimeDelta::days(30 * 17))
        .unwrap();
    let still = env.refresh(&tokens.refresh).await;
    assert_eq!(still.status, StatusCode::OK);
    env.sandbox
        .admin()
        .advance_clock(TimeDelta::days(60))
        .unwrap();
    let expired = env
        .refresh(still.json["refresh_token"].as_str().unwrap())
        .await;
    assert_eq!(expired.status, StatusCode::BAD_REQUEST);
    assert_eq!(expired.json["error"], "invalid_grant");
}

#[tokio::test]
async fn client_credentials_gives_an_application_token_without_refresh() {
    let env = env().await;
    let r = env
        .token(&[
            ("grant_type", "client_credentials"),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
        ])
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json["expires_in"], 14400);
    assert!(r.json.get("refresh_token").is_none());
    let token = r.json["access_token"].as_str().unwrap();
    let fraud = env
        .get("/test/fraud-prevention-headers/validate", "1.0", token)
        .await;
    assert_eq!(fraud.status, StatusCode::OK);
}

#[tokio::test]
async fn token_events_are_recorded_without_secrets() {
    let env = env().await;
    let tokens = env.tokens().await;
    env.refresh(&tokens.refresh).await;
    env.refresh(&tokens.refresh).await;
    let events: serde_json::Value = env
        .http
        .get(env.url("/_admin/token-events"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let kinds: Vec<&str> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "code_issued",
            "code_exchanged",
            "refreshed",
            "request_rejected"
        ]
    );
    let text = events.to_string();
    assert!(!text.contains(&tokens.refresh) && !text.contains(&tokens.access));
}
