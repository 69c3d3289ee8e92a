//! HTTP handlers: HMRC connect/callback ([`hmrc`]), the pages ([`pages`]) and the JSON API
//! ([`api`]), plus the extractors they share.

pub mod api;
pub mod hmrc;
pub mod pages;

use std::net::SocketAddr;

use axum::Json;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use http::request::Parts;
use serde_json::json;

use crate::app::App;
use crate::capture::RequestFacts;
use crate::service::ServiceError;

/// The authenticated user of a request (see [`crate::identity`]). Without one, API requests
/// get a JSON 401 and page requests an HTML 401.
#[derive(Debug, Clone)]
pub struct CurrentUser(pub String);

impl FromRequestParts<App> for CurrentUser {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        app.settings()
            .identity
            .user(&parts.headers)
            .map(CurrentUser)
            .map_err(|e| {
                if parts.uri.path().starts_with("/api/") {
                    api_error(StatusCode::UNAUTHORIZED, "unauthenticated", &e.to_string(), &[])
                } else {
                    crate::html::error_page(
                        StatusCode::UNAUTHORIZED,
                        "Sign in first",
                        "You are not signed in to the platform, so your HMRC submissions cannot be shown. Sign in and come back.",
                    )
                }
            })
    }
}

/// What the request itself tells about the client: its address and headers, and when it
/// arrived (for `Gov-Client-Public-IP-Timestamp`).
#[derive(Debug, Clone)]
pub struct Facts {
    /// The TCP peer.
    pub peer: SocketAddr,
    /// The request headers.
    pub headers: http::HeaderMap,
    /// Arrival time.
    pub received_at: chrono::DateTime<chrono::Utc>,
}

impl Facts {
    /// As [`RequestFacts`].
    pub fn request(&self) -> RequestFacts<'_> {
        RequestFacts {
            peer: self.peer,
            headers: &self.headers,
            received_at: self.received_at,
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Facts {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let received_at = chrono::Utc::now();
        let ConnectInfo(peer) = ConnectInfo::<SocketAddr>::from_request_parts(parts, state)
            .await
            .map_err(|_| {
                tracing::error!("the server was started without connection info; serve the router with into_make_service_with_connect_info::<SocketAddr>()");
                StatusCode::INTERNAL_SERVER_ERROR.into_response()
            })?;
        Ok(Facts {
            peer,
            headers: parts.headers.clone(),
            received_at,
        })
    }
}

/// A JSON error: `{"error": {"code", "message", "fields": [{"field", "code", "message"}]}}`.
pub(crate) fn api_error(
    status: StatusCode,
    code: &str,
    message: &str,
    fields: &[mtd_functions::payload::FieldError],
) -> Response {
    (
        status,
        Json(json!({"error": {"code": code, "message": message, "fields": fields}})),
    )
        .into_response()
}

impl IntoResponse for ServiceError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!("request failed: {self}");
        }
        let mut response = api_error(status, self.code(), &self.to_string(), &self.fields());
        if let ServiceError::Queue { submission_id, .. } = &self
            && let Ok(value) = http::HeaderValue::from_str(&submission_id.to_string())
        {
            response.headers_mut().insert("x-mtd-submission-id", value);
        }
        response
    }
}
