//! Inside an HMRC step: an access token for the credential (refreshed through the store's
//! race-free protocol when needed), then the call, then the reading of a 401 (was the token
//! replaced by someone else's refresh, or is the grant gone?). Tokens stay in this module's
//! locals: nothing here returns, logs or formats one.

use std::future::Future;

use hmrc_mtd::fraud::FraudPreventionHeaders;
use hmrc_mtd::{CallContext, Error as HmrcError};
use mtd_store::{
    Access, AccessToken, RefreshError, RefreshFailure, RefreshOptions, RefreshToken, TokenPair,
};
use uuid::Uuid;

use crate::failure::{Failure, FailureKind, classify, store_failure};
use crate::{BoxFuture, Deps};

/// What a call needs, owned: the MTD client, the access token, the headers to send and the
/// optional test scenario. Its `Debug` never shows the token (the token type redacts itself).
#[derive(Debug)]
pub(crate) struct Caller {
    pub(crate) client: hmrc_mtd::MtdClient,
    token: hmrc_mtd::AccessToken,
    headers: FraudPreventionHeaders,
    scenario: Option<String>,
}

impl Caller {
    /// The call context to pass to the client's methods.
    pub(crate) fn context(&self) -> CallContext<'_> {
        let context = CallContext::new(&self.token, &self.headers);
        match self.scenario.as_deref() {
            Some(scenario) => context.with_test_scenario(scenario),
            None => context,
        }
    }
}

/// Runs `call` with a usable access token for `credential_id` and the given headers.
///
/// The outer `Err` is a failure already classified (token endpoint, expired credential, a
/// 401/403 on a token nobody replaced, a 401 on a replaced token as transient, the store).
/// The inner result is HMRC's answer to `call`, for the flow to read (accepted, rejected,
/// duplicate, or a failure to classify with [`classify`]).
pub(crate) fn with_access<T, F, Fut>(
    deps: Deps,
    credential_id: Uuid,
    holder: String,
    headers: FraudPreventionHeaders,
    call: F,
) -> BoxFuture<Result<Result<T, HmrcError>, Failure>>
where
    F: FnOnce(Caller) -> Fut + Send + 'static,
    Fut: Future<Output = Result<T, HmrcError>> + Send,
    T: Send + 'static,
{
    Box::pin(async move {
        let access = token(deps.clone(), credential_id, holder).await?;
        let caller = Caller {
            client: deps.hmrc.clone(),
            token: hmrc_mtd::AccessToken::new(access.access_token.expose_secret()),
            headers,
            scenario: deps.settings.test_scenario.clone(),
        };
        match call(caller).await {
            Err(error @ HmrcError::PermanentAuth { .. }) => {
                let version = access.version();
                match was_replaced(deps.clone(), credential_id, version).await {
                    Ok(true) => Err(Failure::new(
                        FailureKind::Transient,
                        format!(
                            "HMRC refused an access token that another run replaced meanwhile \
                         ({}); retrying with the fresh token",
                            error.code().unwrap_or("no code")
                        ),
                    )
                    .hmrc(error.status(), error.code(), error.correlation_id())),
                    Ok(false) => Err(classify(&error).credential_version(version)),
                    Err(store) => Err(Failure::new(
                        FailureKind::Transient,
                        format!(
                            "HMRC refused the access token ({}), and the store could not tell \
                         whether another run replaced it: {store}; retrying",
                            error.code().unwrap_or("no code")
                        ),
                    )),
                }
            }
            answer => Ok(answer),
        }
    })
}

/// An access token that stays valid long enough, refreshed through the store's protocol when
/// needed. (Kept out of the generic [`with_access`] so its future is checked `Send` with
/// concrete types.)
fn token(deps: Deps, credential_id: Uuid, holder: String) -> BoxFuture<Result<Access, Failure>> {
    Box::pin(async move {
        let settings = &deps.settings;
        let options = RefreshOptions::new(holder)
            .lease_ttl(settings.refresh_lease_ttl)
            .max_wait(settings.refresh_max_wait)
            .min_validity(settings.refresh_min_validity);
        let oauth = deps.oauth.clone();
        let access = deps
            .store
            .credentials()
            .access_token(credential_id, &options, move |refresh_token| {
                refresh(oauth, refresh_token)
            })
            .await;
        match access {
            Ok(access) => Ok(access),
            Err(error) => Err(refresh_failure(&deps, credential_id, error).await),
        }
    })
}

fn was_replaced(
    deps: Deps,
    credential_id: Uuid,
    version: i64,
) -> BoxFuture<Result<bool, mtd_store::StoreError>> {
    Box::pin(async move {
        deps.store
            .credentials()
            .was_replaced(credential_id, version)
            .await
    })
}

/// The refresh closure: HMRC's refresh, with `invalid_grant` reported as such so the store
/// expires the credential while it still holds the lease.
async fn refresh(
    oauth: hmrc_mtd::OAuthClient,
    refresh_token: RefreshToken,
) -> Result<TokenPair, RefreshFailure<HmrcError>> {
    let sent = hmrc_mtd::RefreshToken::new(refresh_token.expose_secret());
    match oauth.refresh(&sent).await {
        Ok(tokens) => {
            let mut pair = TokenPair::new(
                AccessToken::new(tokens.access_token.expose_secret()),
                RefreshToken::new(tokens.refresh_token.expose_secret()),
                tokens.expires_at,
            );
            if !tokens.scopes.is_empty() {
                pair = pair.with_scope(tokens.scopes.join(" "));
            }
            Ok(pair)
        }
        Err(error @ HmrcError::PermanentAuth { .. }) => {
            let reason = format!(
                "HMRC refused the refresh token ({}{})",
                error.code().unwrap_or("no code"),
                error
                    .status()
                    .map(|s| format!(", HTTP {s}"))
                    .unwrap_or_default()
            );
            Err(RefreshFailure::invalid_grant(reason, error))
        }
        Err(error) => Err(RefreshFailure::other(error)),
    }
}

async fn refresh_failure(
    deps: &Deps,
    credential_id: Uuid,
    error: RefreshError<HmrcError>,
) -> Failure {
    match error {
        RefreshError::Expired { reason, source, .. } => {
            let failure = match source {
                Some(hmrc) => classify(&hmrc),
                None => Failure::new(
                    FailureKind::Auth,
                    format!(
                        "the HMRC credential is expired ({reason}); the user must reconnect \
                         their HMRC account"
                    ),
                ),
            };
            // The version now stored (expired) is the one the expiry step checks.
            match deps.store.credentials().get(credential_id).await {
                Ok(Some(credential)) => failure.credential_version(credential.version),
                _ => failure,
            }
        }
        RefreshError::Refresh { source, .. } => classify(&source),
        RefreshError::Busy { .. } | RefreshError::TakenOver { .. } => {
            Failure::new(FailureKind::Transient, error.to_string())
        }
        RefreshError::Store(store) => store_failure("getting an HMRC access token", &store),
    }
}
