//! HMRC OAuth 2.0 with the `oauth2` crate: the authorisation URL (scopes, `state`, PKCE S256),
//! code exchange, rotating refresh, and application (client-credentials) tokens.
//!
//! HTTP goes through this crate's own `reqwest` client (`oauth2`'s async HTTP client trait,
//! implemented by a closure), so timeouts are the same as for API calls and no second HTTP
//! stack is pulled in. Token-endpoint failures are classified as described in
//! [`crate::classify`].
//!
//! ```no_run
//! use hmrc_mtd::{
//!     AuthorizationCode, ClientSecret, Environment, OAuthClient, OAuthConfig,
//! };
//!
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! let oauth = OAuthClient::new(OAuthConfig::new(
//!     Environment::Sandbox.endpoints(),
//!     "my-client-id",
//!     ClientSecret::new("my-client-secret"),
//!     "https://app.example.com/hmrc/callback".parse()?,
//! ))?;
//!
//! // 1. Send the user to HMRC; keep `state` and `pkce_verifier` in the session.
//! let request = oauth.authorization_request();
//! println!("redirect to {}", request.url);
//!
//! // 2. On the callback, check `state`, then exchange the code.
//! let (returned_state, code) = ("…", AuthorizationCode::new("…"));
//! if !request.state.matches(returned_state) {
//!     return Err("state mismatch: possible CSRF".into());
//! }
//! let tokens = oauth.exchange_code(&code, &request.pkce_verifier).await?;
//!
//! // 3. Later: refresh. The old refresh token is now spent; persist the new pair at once.
//! let rotated = oauth.refresh(&tokens.refresh_token).await?;
//! assert_ne!(rotated.refresh_token, tokens.refresh_token);
//! # Ok(())
//! # }
//! ```

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use chrono::{DateTime, Utc};
use http::HeaderMap;
use oauth2::{
    AuthType, AuthUrl, ClientId, CsrfToken, EndpointNotSet, EndpointSet, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, RequestTokenError, Scope, TokenResponse, TokenUrl,
    basic::{BasicClient, BasicErrorResponse, BasicTokenResponse},
};
use url::Url;

use crate::{
    classify::{Grant, classify_token_response, classify_transport, correlation_id},
    config::{Endpoints, HttpSettings},
    error::Error,
    redact::excerpt,
    secret::{
        AccessToken, AuthorizationCode, ClientSecret, OAuthState, PkceVerifier, RefreshToken,
        TokenFingerprint,
    },
};

/// The scopes every MTD Income Tax flow needs.
pub const SCOPES: [&str; 2] = ["read:self-assessment", "write:self-assessment"];

/// HMRC's access-token lifetime when the response does not say (4 hours).
pub const DEFAULT_ACCESS_TOKEN_LIFETIME: Duration = Duration::from_secs(14_400);

type Oauth2Client =
    BasicClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

/// What the OAuth client needs: the application's credentials from the Developer Hub, its
/// registered redirect URI, and where HMRC is.
#[derive(Clone, Debug)]
pub struct OAuthConfig {
    /// HMRC's URLs ([`crate::Environment::endpoints`] or [`Endpoints::local`]).
    pub endpoints: Endpoints,
    /// The application's client ID.
    pub client_id: String,
    /// The application's client secret.
    pub client_secret: ClientSecret,
    /// The redirect URI registered for the application.
    pub redirect_uri: Url,
    /// Timeouts and user agent.
    pub http: HttpSettings,
}

impl OAuthConfig {
    /// A configuration with default HTTP settings.
    pub fn new(
        endpoints: Endpoints,
        client_id: impl Into<String>,
        client_secret: ClientSecret,
        redirect_uri: Url,
    ) -> Self {
        Self {
            endpoints,
            client_id: client_id.into(),
            client_secret,
            redirect_uri,
            http: HttpSettings::default(),
        }
    }
}

/// One authorisation request: send the user's browser to `url`; keep `state` and
/// `pkce_verifier` server-side until the callback.
#[derive(Debug)]
pub struct AuthorizationRequest {
    /// HMRC's authorisation page with `response_type=code`, `client_id`, `redirect_uri`,
    /// `scope`, `state`, `code_challenge` and `code_challenge_method=S256`.
    pub url: Url,
    /// The `state` value; check it against the callback's with [`OAuthState::matches`].
    pub state: OAuthState,
    /// The PKCE verifier to pass to [`OAuthClient::exchange_code`].
    pub pkce_verifier: PkceVerifier,
}

/// A user's tokens, from a code exchange or a refresh.
///
/// The refresh token is single-use: after a refresh, the one you sent is spent and this new
/// one replaces it. Persist the pair before using the access token (HMRC has already killed
/// the previous access token).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserTokens {
    /// The access token (4 hours).
    pub access_token: AccessToken,
    /// The new refresh token, which replaces the one used.
    pub refresh_token: RefreshToken,
    /// When the access token expires.
    pub expires_at: DateTime<Utc>,
    /// The scopes granted, when HMRC listed them.
    pub scopes: Vec<String>,
    /// HMRC's `X-CorrelationId`, when given.
    pub correlation_id: Option<String>,
}

/// An application-restricted token (client credentials), for the Create Test User API and
/// the Test Fraud Prevention Headers API. It has no refresh token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApplicationToken {
    /// The access token.
    pub access_token: AccessToken,
    /// When it expires.
    pub expires_at: DateTime<Utc>,
    /// HMRC's `X-CorrelationId`, when given.
    pub correlation_id: Option<String>,
}

/// The OAuth client.
#[derive(Clone, Debug)]
pub struct OAuthClient {
    oauth: Oauth2Client,
    http: reqwest::Client,
}

/// What the token endpoint answered, seen by the HTTP closure (the `oauth2` crate keeps only
/// the body of an error response).
#[derive(Default)]
struct Observed {
    status: Option<u16>,
    headers: HeaderMap,
}

impl OAuthClient {
    /// Builds the client and its own HTTP client.
    pub fn new(config: OAuthConfig) -> Result<Self, Error> {
        let http = config.http.build_client()?;
        Self::with_http_client(config, http)
    }

    /// Builds the client on an existing `reqwest` client (for sharing connection pools).
    pub fn with_http_client(config: OAuthConfig, http: reqwest::Client) -> Result<Self, Error> {
        let auth_url = AuthUrl::from_url(config.endpoints.authorize_url.clone());
        let token_url = TokenUrl::from_url(config.endpoints.token_url.clone());
        let redirect = RedirectUrl::from_url(config.redirect_uri.clone());
        if config.client_id.trim().is_empty() {
            return Err(Error::misconfigured("the OAuth client ID is empty"));
        }
        let oauth = BasicClient::new(ClientId::new(config.client_id.clone()))
            .set_client_secret(oauth2::ClientSecret::new(
                config.client_secret.expose_secret().to_owned(),
            ))
            // HMRC wants client_id and client_secret in the form body, not in Basic auth.
            .set_auth_type(AuthType::RequestBody)
            .set_auth_uri(auth_url)
            .set_token_uri(token_url)
            .set_redirect_uri(redirect);
        Ok(Self { oauth, http })
    }

    /// A new authorisation request with scopes `read:self-assessment write:self-assessment`,
    /// a random `state` and a PKCE S256 challenge.
    pub fn authorization_request(&self) -> AuthorizationRequest {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state) = self
            .oauth
            .authorize_url(CsrfToken::new_random)
            .add_scopes(SCOPES.iter().map(|s| Scope::new((*s).to_owned())))
            .set_pkce_challenge(challenge)
            .url();
        AuthorizationRequest {
            url,
            state: OAuthState::new(state.secret().clone()),
            pkce_verifier: PkceVerifier::new(verifier.secret().clone()),
        }
    }

    /// Exchanges the callback's `code` (valid 10 minutes, single use) for the user's tokens.
    pub async fn exchange_code(
        &self,
        code: &AuthorizationCode,
        pkce_verifier: &PkceVerifier,
    ) -> Result<UserTokens, Error> {
        let observed = Arc::new(Mutex::new(Observed::default()));
        let http = self.http_client(&observed);
        let result = self
            .oauth
            .exchange_code(oauth2::AuthorizationCode::new(
                code.expose_secret().to_owned(),
            ))
            .set_pkce_verifier(PkceCodeVerifier::new(
                pkce_verifier.expose_secret().to_owned(),
            ))
            .request_async(&http)
            .await;
        let observed = into_observed(observed);
        let token = result.map_err(|e| token_error(Grant::AuthorizationCode, e, &observed))?;
        user_tokens(token, &observed, Grant::AuthorizationCode)
    }

    /// Refreshes the user's tokens. On success the refresh token sent is spent: persist the
    /// returned pair before anything else. A failed refresh carries the fingerprint of the
    /// refresh token that was refused ([`Error::token_fingerprint`]).
    pub async fn refresh(&self, refresh_token: &RefreshToken) -> Result<UserTokens, Error> {
        let observed = Arc::new(Mutex::new(Observed::default()));
        let http = self.http_client(&observed);
        let sent = oauth2::RefreshToken::new(refresh_token.expose_secret().to_owned());
        let result = self
            .oauth
            .exchange_refresh_token(&sent)
            .request_async(&http)
            .await;
        let observed = into_observed(observed);
        let token = result.map_err(|e| {
            token_error(Grant::RefreshToken, e, &observed)
                .with_token_fingerprint(refresh_token.fingerprint())
        })?;
        user_tokens(token, &observed, Grant::RefreshToken)
    }

    /// An application-restricted token (`grant_type=client_credentials`).
    pub async fn client_credentials(&self) -> Result<ApplicationToken, Error> {
        let observed = Arc::new(Mutex::new(Observed::default()));
        let http = self.http_client(&observed);
        let result = self
            .oauth
            .exchange_client_credentials()
            .request_async(&http)
            .await;
        let observed = into_observed(observed);
        let token = result.map_err(|e| token_error(Grant::ClientCredentials, e, &observed))?;
        Ok(ApplicationToken {
            access_token: AccessToken::new(token.access_token().secret().clone()),
            expires_at: expires_at(&token),
            correlation_id: correlation_id(&observed.headers),
        })
    }

    /// The `oauth2` crate's HTTP client: one request over our `reqwest` client, recording the
    /// status and headers for classification. The closure and its futures own what they use
    /// (no borrows of `self` or of a local), so every public future of this client is `Send`
    /// and can run on a multi-threaded runtime or inside an axum handler.
    fn http_client(
        &self,
        observed: &Arc<Mutex<Observed>>,
    ) -> impl Fn(
        oauth2::HttpRequest,
    ) -> std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<oauth2::HttpResponse, reqwest::Error>> + Send>,
    > + use<> {
        let client = self.http.clone();
        let observed = Arc::clone(observed);
        move |request| Box::pin(execute(client.clone(), request, Arc::clone(&observed)))
    }
}

/// One token-endpoint request (see [`OAuthClient::http_client`]).
async fn execute(
    client: reqwest::Client,
    request: oauth2::HttpRequest,
    observed: Arc<Mutex<Observed>>,
) -> Result<oauth2::HttpResponse, reqwest::Error> {
    let request = reqwest::Request::try_from(request)?;
    let response = client.execute(request).await?;
    let status = response.status();
    let headers = response.headers().clone();
    if let Ok(mut slot) = observed.lock() {
        slot.status = Some(status.as_u16());
        slot.headers = headers.clone();
    }
    let body = response.bytes().await?;
    let mut out = http::Response::new(body.to_vec());
    *out.status_mut() = status;
    *out.headers_mut() = headers;
    Ok(out)
}

fn into_observed(observed: Arc<Mutex<Observed>>) -> Observed {
    let guard = observed
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    Observed {
        status: guard.status,
        headers: guard.headers.clone(),
    }
}

fn expires_at(token: &BasicTokenResponse) -> DateTime<Utc> {
    let lifetime = token.expires_in().unwrap_or(DEFAULT_ACCESS_TOKEN_LIFETIME);
    let lifetime =
        chrono::Duration::from_std(lifetime).unwrap_or_else(|_| chrono::Duration::seconds(14_400));
    Utc::now() + lifetime
}

fn user_tokens(
    token: BasicTokenResponse,
    observed: &Observed,
    grant: Grant,
) -> Result<UserTokens, Error> {
    let Some(refresh_token) = token.refresh_token() else {
        return Err(Error::Unexpected {
            status: observed.status,
            detail: format!(
                "HMRC's {} response has no refresh token; the user must authorise again",
                match grant {
                    Grant::AuthorizationCode => "code exchange",
                    Grant::RefreshToken => "refresh",
                    Grant::ClientCredentials => "client credentials",
                }
            ),
            body_excerpt: String::new(),
            correlation_id: correlation_id(&observed.headers),
        });
    };
    Ok(UserTokens {
        access_token: AccessToken::new(token.access_token().secret().clone()),
        refresh_token: RefreshToken::new(refresh_token.secret().clone()),
        expires_at: expires_at(&token),
        scopes: token
            .scopes()
            .map(|scopes| scopes.iter().map(|s| s.to_string()).collect())
            .unwrap_or_default(),
        correlation_id: correlation_id(&observed.headers),
    })
}

fn token_error(
    grant: Grant,
    error: RequestTokenError<reqwest::Error, BasicErrorResponse>,
    observed: &Observed,
) -> Error {
    match error {
        RequestTokenError::Request(e) => classify_transport(e),
        RequestTokenError::ServerResponse(response) => classify_token_response(
            grant,
            observed.status,
            &observed.headers,
            Some(response.error().as_ref()),
            response.error_description().map(String::as_str),
            b"",
        ),
        RequestTokenError::Parse(_, body) => match observed.status {
            Some(status) if (200..300).contains(&status) => Error::Unexpected {
                status: Some(status),
                detail: "HMRC's token response is not the JSON this client expects".into(),
                body_excerpt: excerpt(&body),
                correlation_id: correlation_id(&observed.headers),
            },
            status => classify_token_response(grant, status, &observed.headers, None, None, &body),
        },
        RequestTokenError::Other(detail) => match observed.status {
            Some(status) if (200..300).contains(&status) => Error::Unexpected {
                status: Some(status),
                detail: format!("HMRC's token response was unusable: {detail}"),
                body_excerpt: String::new(),
                correlation_id: correlation_id(&observed.headers),
            },
            None => Error::misconfigured(format!("the token request could not be made: {detail}")),
            status => classify_token_response(grant, status, &observed.headers, None, None, b""),
        },
    }
}

impl UserTokens {
    /// The fingerprint of the access token (see [`TokenFingerprint`]).
    pub fn access_token_fingerprint(&self) -> TokenFingerprint {
        self.access_token.fingerprint()
    }
}
