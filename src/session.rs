//! The browser session: a random id in an `HttpOnly` cookie that binds an OAuth connect to
//! the browser that started it, and the CSRF token derived from it for the pages' forms.
//!
//! The app keeps no session data of its own apart from pending HMRC connections; who the user
//! is comes from the platform (see [`crate::identity`]).

use axum::extract::FromRequestParts;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::HeaderMap;
use http::header::{COOKIE, SET_COOKIE};
use http::request::Parts;
use rand::RngCore as _;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq as _;

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "mtd_session";
/// Name of the device-id cookie (`Gov-Client-Device-ID`), shared with the pages' script.
pub const DEVICE_COOKIE: &str = "mtd_device_id";
/// Ten years: the device id "never expires" (HMRC's fraud-prevention specification).
const DEVICE_COOKIE_MAX_AGE: u64 = 315_360_000;

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
}

/// The browser session of a request, created when the request had none. Responses must carry
/// [`Session::set_cookies`] (see [`Session::apply`]).
#[derive(Clone)]
pub struct Session {
    id: String,
    new: bool,
    new_device: Option<String>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("id", &"[redacted]")
            .field("new", &self.new)
            .finish()
    }
}

impl Session {
    /// Reads the session (and device) cookies; makes new ones when absent or malformed.
    pub fn from_headers(headers: &HeaderMap) -> Self {
        let existing = cookie(headers, SESSION_COOKIE).filter(|v| valid_session_id(v));
        let new_device = cookie(headers, DEVICE_COOKIE)
            .filter(|v| uuid::Uuid::try_parse(v).is_ok())
            .is_none()
            .then(|| uuid::Uuid::new_v4().to_string());
        match existing {
            Some(id) => Self {
                id: id.to_owned(),
                new: false,
                new_device,
            },
            None => Self {
                id: random_id(),
                new: true,
                new_device,
            },
        }
    }

    /// The session id (a secret: never log it).
    pub(crate) fn id(&self) -> &str {
        &self.id
    }

    /// Whether the cookie has to be set on the response.
    pub fn is_new(&self) -> bool {
        self.new
    }

    /// The CSRF token of this session's forms: a hash of the session id, which only a page
    /// rendered for this browser can know.
    pub fn csrf_token(&self) -> String {
        csrf_for(&self.id)
    }

    /// Checks a form's CSRF token in constant time.
    pub fn check_csrf(&self, token: &str) -> bool {
        let expected = self.csrf_token();
        expected.len() == token.len() && bool::from(expected.as_bytes().ct_eq(token.as_bytes()))
    }

    /// The `Set-Cookie` values the response needs (a new session, a new device id).
    pub fn set_cookies(&self, secure: bool) -> Vec<String> {
        let secure = if secure { "; Secure" } else { "" };
        let mut out = Vec::new();
        if self.new {
            out.push(format!(
                "{SESSION_COOKIE}={}; Path=/; HttpOnly; SameSite=Lax{secure}",
                self.id
            ));
        }
        if let Some(device) = &self.new_device {
            // Not HttpOnly: the pages' script reads it into Gov-Client-Device-ID.
            out.push(format!(
                "{DEVICE_COOKIE}={device}; Path=/; Max-Age={DEVICE_COOKIE_MAX_AGE}; SameSite=Lax{secure}"
            ));
        }
        out
    }

    /// Adds [`Session::set_cookies`] to a response.
    pub fn apply(&self, secure: bool, mut response: Response) -> Response {
        for value in self.set_cookies(secure) {
            if let Ok(value) = http::HeaderValue::from_str(&value) {
                response.headers_mut().append(SET_COOKIE, value);
            }
        }
        response
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Session {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Session::from_headers(&parts.headers))
    }
}

fn random_id() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

fn valid_session_id(value: &str) -> bool {
    value.len() == 43
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn csrf_for(session_id: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"mtd csrf v1\0");
    hasher.update(session_id.as_bytes());
    URL_SAFE_NO_PAD.encode(hasher.finalize())
}

/// A response that refuses a form whose CSRF token does not match the session.
pub(crate) fn csrf_refused() -> Response {
    crate::html::error_page(
        http::StatusCode::FORBIDDEN,
        "The form has expired",
        "This form was not issued to this browser session (or the session cookie was cleared). \
         Go back, reload the page and send it again.",
    )
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_session_sets_an_http_only_lax_cookie_and_reuses_it_after() {
        let session = Session::from_headers(&HeaderMap::new());
        assert!(session.is_new());
        let cookies = session.set_cookies(true);
        assert!(cookies[0].starts_with("mtd_session="));
        assert!(cookies[0].contains("HttpOnly; SameSite=Lax; Secure"));
        assert!(cookies[1].starts_with("mtd_device_id="));

        let mut headers = HeaderMap::new();
        let value = format!(
            "other=1; mtd_session={}; mtd_device_id={}",
            session.id(),
            uuid::Uuid::new_v4()
        );
        headers.insert(COOKIE, value.parse().unwrap());
        let again = Session::from_headers(&headers);
        assert!(!again.is_new());
        assert_eq!(again.id(), session.id());
        assert!(again.set_cookies(false).is_empty());
    }

    #[test]
    fn csrf_tokens_bind_forms_to_their_session() {
        let a = Session::from_headers(&HeaderMap::new());
        let b = Session::from_headers(&HeaderMap::new());
        assert!(a.check_csrf(&a.csrf_token()));
        assert!(!a.check_csrf(&b.csrf_token()));
        assert!(!a.check_csrf(""));
    }

    #[test]
    fn a_malformed_session_cookie_is_replaced() {
        let mut headers = HeaderMap::new();
        headers.insert(COOKIE, "mtd_session=<script>".parse().unwrap());
        assert!(Session::from_headers(&headers).is_new());
    }
}
