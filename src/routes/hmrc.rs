//! Connecting the user's HMRC account (OAuth 2.0 authorisation code with PKCE, digest §9).
//!
//! `GET /hmrc/connect?nino=…&csrf=…` (the dashboard's forms) starts: the session's CSRF token
//! is checked, then a fresh `state` and PKCE verifier are kept server-side,
//! bound to the browser's session cookie, single use, for 10 minutes; the browser is sent to
//! HMRC's sign-in page. `GET /hmrc/callback` finishes: the session's pending connection is
//! taken (whatever happens next, it cannot be used again), `state` is compared in constant
//! time, the code is exchanged, and the tokens are stored with the store's `connect` (which
//! reactivates an expired credential: the reconnect flow).

use std::time::Instant;

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use hmrc_mtd::{AuthorizationCode, Error as HmrcError, Nino};
use http::StatusCode;
use mtd_store::{AccessToken, RefreshToken, TokenPair};
use serde::Deserialize;

use super::CurrentUser;
use crate::app::{App, PendingConnect};
use crate::html::error_page;
use crate::session::Session;

/// Query of `/hmrc/connect`.
#[derive(Debug, Deserialize)]
pub struct ConnectQuery {
    /// The National Insurance number of the HMRC account to connect.
    #[serde(default)]
    pub nino: Option<String>,
    /// The session's CSRF token (the dashboard's connect forms carry it), so another site
    /// cannot start a connection in the user's browser.
    #[serde(default)]
    pub csrf: Option<String>,
}

/// `GET /hmrc/connect?nino=AA123456A&csrf=…`: redirects to HMRC's authorisation page.
pub async fn connect(
    State(app): State<App>,
    CurrentUser(user): CurrentUser,
    session: Session,
    Query(query): Query<ConnectQuery>,
) -> Response {
    let secure = app.settings().secure_cookies;
    if !query
        .csrf
        .as_deref()
        .is_some_and(|token| session.check_csrf(token))
    {
        return session.apply(
            secure,
            error_page(
                StatusCode::FORBIDDEN,
                "Start from the dashboard",
                "Connecting your HMRC account has to be started from the dashboard of this app (Settings → HMRC Connection). Nothing was connected.",
            ),
        );
    }
    let raw = query.nino.unwrap_or_default();
    let nino = match Nino::new(raw.trim().to_ascii_uppercase().replace(' ', "").as_str()) {
        Ok(nino) => nino,
        Err(_) => {
            return session.apply(
                secure,
                error_page(
                    StatusCode::BAD_REQUEST,
                    "Check your National Insurance number",
                    "nino: enter your National Insurance number as two letters, six digits and a letter (A, B, C or D), for example QQ123456C.",
                ),
            );
        }
    };
    let request = app.oauth().authorization_request();
    app.start_connect(
        session.id(),
        PendingConnect {
            user_id: user,
            nino: nino.as_str().to_owned(),
            state: request.state,
            verifier: request.pkce_verifier,
            started: Instant::now(),
        },
    );
    session.apply(secure, Redirect::to(request.url.as_str()).into_response())
}

/// Query of `/hmrc/callback`, as HMRC sends it.
#[derive(Debug, Deserialize)]
pub struct CallbackQuery {
    /// The authorisation code (success).
    #[serde(default)]
    pub code: Option<String>,
    /// The `state` sent with the authorisation request.
    #[serde(default)]
    pub state: Option<String>,
    /// `access_denied` when the user did not grant authority.
    #[serde(default)]
    pub error: Option<String>,
    /// HMRC's description of the error.
    #[serde(default)]
    pub error_description: Option<String>,
    /// HMRC's error code (`USER_DENIED_AUTHORIZATION`).
    #[serde(default)]
    pub error_code: Option<String>,
}

/// `GET /hmrc/callback`: finishes the connection and returns to the dashboard.
pub async fn callback(
    State(app): State<App>,
    CurrentUser(user): CurrentUser,
    session: Session,
    Query(query): Query<CallbackQuery>,
) -> Response {
    let Some(pending) = app.take_connect(session.id()) else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "HMRC connection not recognised",
            "This HMRC sign-in was not started from this browser, or it took longer than 10 minutes. Nothing was connected. Start again from the dashboard.",
        );
    };
    let state_ok = query
        .state
        .as_deref()
        .is_some_and(|returned| pending.state.matches(returned));
    if !state_ok || pending.user_id != user {
        tracing::warn!(user = %user, "HMRC callback refused: state mismatch");
        return error_page(
            StatusCode::BAD_REQUEST,
            "HMRC connection refused",
            "The answer from HMRC does not match the sign-in this browser started (state mismatch), so it was refused and nothing was connected. Start again from the dashboard.",
        );
    }
    if let Some(error) = query.error.as_deref() {
        return match error {
            "access_denied" => error_page(
                StatusCode::OK,
                "HMRC account not connected",
                "You chose not to grant this app authority to use your HMRC account, so nothing was connected and nothing can be sent to HMRC for you. You can connect at any time from the dashboard.",
            ),
            other => {
                tracing::warn!(
                    error = other,
                    code = query.error_code.as_deref().unwrap_or(""),
                    description = query.error_description.as_deref().unwrap_or(""),
                    "HMRC authorisation failed"
                );
                error_page(
                    StatusCode::BAD_GATEWAY,
                    "HMRC could not connect your account",
                    &format!(
                        "HMRC answered {other}: {}. Nothing was connected; try again from the dashboard.",
                        query
                            .error_description
                            .as_deref()
                            .unwrap_or("no description")
                    ),
                )
            }
        };
    }
    let Some(code) = query.code.filter(|c| !c.is_empty()) else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "HMRC connection incomplete",
            "HMRC's answer carried no authorisation code. Nothing was connected; start again from the dashboard.",
        );
    };
    let tokens = match app
        .oauth()
        .exchange_code(&AuthorizationCode::new(code), &pending.verifier)
        .await
    {
        Ok(tokens) => tokens,
        Err(e) => return exchange_failed(&e),
    };
    let mut pair = TokenPair::new(
        AccessToken::new(tokens.access_token.expose_secret()),
        RefreshToken::new(tokens.refresh_token.expose_secret()),
        tokens.expires_at,
    );
    if !tokens.scopes.is_empty() {
        pair = pair.with_scope(tokens.scopes.join(" "));
    }
    let stored = app
        .store()
        .credentials()
        .connect(&pending.user_id, &pending.nino, &pair)
        .await;
    match stored {
        Ok(connected) => {
            tracing::info!(user = %user, credential = %connected.credential.id, reconnected = connected.reconnected, "HMRC account connected");
            let notice = if connected.reconnected {
                "reconnected"
            } else {
                "connected"
            };
            Redirect::to(&format!("/?notice={notice}")).into_response()
        }
        Err(e) => {
            tracing::error!("storing HMRC tokens failed: {e}");
            error_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "HMRC account not connected",
                "HMRC accepted the connection but it could not be saved. Nothing was connected; please try again later.",
            )
        }
    }
}

fn exchange_failed(error: &HmrcError) -> Response {
    if error.is_retriable() {
        tracing::warn!("HMRC code exchange failed, transient: {error}");
        error_page(
            StatusCode::SERVICE_UNAVAILABLE,
            "HMRC is not answering",
            "HMRC did not complete the connection (a temporary problem). Nothing was connected; please try again in a few minutes.",
        )
    } else if error.is_permanent_auth() {
        tracing::warn!("HMRC refused the authorisation code: {error}");
        error_page(
            StatusCode::BAD_REQUEST,
            "HMRC sign-in expired",
            "HMRC no longer accepts this sign-in (it was used already or took longer than 10 minutes). Nothing was connected; start again from the dashboard.",
        )
    } else {
        tracing::error!(
            "HMRC code exchange failed (check HMRC_CLIENT_ID, HMRC_CLIENT_SECRET and HMRC_REDIRECT_URI): {error}"
        );
        error_page(
            StatusCode::BAD_GATEWAY,
            "HMRC account not connected",
            "The connection failed because of a problem on our side; our operators have been alerted. Nothing was connected.",
        )
    }
}
