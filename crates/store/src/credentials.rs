//! HMRC credentials: encrypted tokens, status, and the race-free refresh protocol.
//!
//! # The refresh protocol
//!
//! HMRC refresh tokens are single use, a refresh kills the previous access token at once, and a
//! concurrent refresh is answered `400 invalid_request`. So two runs must never both spend the
//! same refresh token. Every change of a credential's tokens or status increments its `version`;
//! a refresh is a lease plus a compare-and-swap on that version:
//!
//! 1. [`Credentials::begin_refresh`]`(id, observed_version, ttl, holder)` atomically claims the
//!    refresh, only if the version is still `observed_version`, the credential is active and no
//!    live lease exists (an expired lease, left by a crashed run, is taken over). The winner gets
//!    the decrypted refresh token; everyone else learns why not: the version moved on (use the
//!    new token), another run holds the lease (wait), or the credential is expired.
//! 2. The winner calls HMRC, then [`Credentials::complete_refresh`] writes the rotated pair and
//!    increments the version, only if the version is still the one it claimed. HMRC accepts a
//!    refresh token once, so a successful answer proves the token it spent was the live one:
//!    that pair is written even if the winner was so slow that its lease was taken over. On a
//!    transient failure the winner calls [`Credentials::release_refresh`]; on `invalid_grant` it
//!    calls [`Credentials::fail_refresh`], which marks the credential expired only if the winner
//!    still holds the lease and the version is unchanged.
//! 3. A loser never calls HMRC: it polls (bounded) until the version changes and reads the
//!    winner's fresh access token, or takes over if the winner's lease expires.
//!
//! [`Credentials::access_token`] and [`Credentials::refresh_access_token`] run this protocol
//! around an async closure that performs the HMRC call, and return only after the rotated pair
//! is stored, so callers cannot get it wrong.
//!
//! # "Was my 401 someone else's refresh?"
//!
//! An [`Access`] carries the `version` of the token it hands out. After an HMRC 401/403,
//! [`Credentials::expire_unless_replaced`] marks the credential expired only if that version is
//! still current and nobody is refreshing it right now; otherwise it answers
//! [`ExpireOutcome::Replaced`] or [`ExpireOutcome::RefreshInProgress`], and the 401 is transient:
//! retry with the fresh token. [`Credentials::was_replaced`] is the read-only form of that check.
//!
//! Residual case: if a winner's HMRC call outlives its lease (default 60 s, far beyond any HTTP
//! timeout) and the run that took over gets `invalid_grant` first, the credential is marked
//! expired and the user reconnects. Tokens are never double-spent and never lost silently.

use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use uuid::Uuid;

use crate::clock::db_time;
use crate::crypto::{Keyring, TokenField, token_aad};
use crate::db::with_db;
use crate::error::StoreError;
use crate::secret::{AccessToken, RefreshToken, TokenPair};
use crate::store::Store;

macro_rules! credential_columns {
    () => {
        "id, user_id, nino, access_token_enc, refresh_token_enc, token_key_id, access_expires_at, \
         scope, status, expired_reason, expired_at, connected_at, reconnected_at, refreshed_at, \
         updated_at, version, refresh_lease_id, refresh_lease_holder, refresh_lease_expires_at"
    };
}

#[derive(sqlx::FromRow)]
struct CredentialRow {
    id: Uuid,
    user_id: String,
    nino: String,
    access_token_enc: Vec<u8>,
    refresh_token_enc: Vec<u8>,
    token_key_id: String,
    access_expires_at: DateTime<Utc>,
    scope: Option<String>,
    status: String,
    expired_reason: Option<String>,
    expired_at: Option<DateTime<Utc>>,
    connected_at: DateTime<Utc>,
    reconnected_at: Option<DateTime<Utc>>,
    refreshed_at: Option<DateTime<Utc>>,
    updated_at: DateTime<Utc>,
    version: i64,
    refresh_lease_id: Option<Uuid>,
    refresh_lease_holder: Option<String>,
    refresh_lease_expires_at: Option<DateTime<Utc>>,
}

impl CredentialRow {
    fn credential(&self) -> Result<Credential, StoreError> {
        let status = match (self.status.as_str(), &self.expired_reason, self.expired_at) {
            ("active", _, _) => CredentialStatus::Active,
            ("expired", Some(reason), Some(at)) => CredentialStatus::Expired {
                reason: reason.clone(),
                at,
            },
            (other, _, _) => {
                return Err(StoreError::Corrupt {
                    what: "credential status",
                    value: other.to_owned(),
                });
            }
        };
        let refresh_lease = match (
            self.refresh_lease_id,
            &self.refresh_lease_holder,
            self.refresh_lease_expires_at,
        ) {
            (Some(_), holder, Some(expires_at)) => Some(LeaseInfo {
                holder: holder.clone().unwrap_or_default(),
                expires_at,
            }),
            _ => None,
        };
        Ok(Credential {
            id: self.id,
            user_id: self.user_id.clone(),
            nino: self.nino.clone(),
            status,
            access_expires_at: self.access_expires_at,
            scope: self.scope.clone(),
            connected_at: self.connected_at,
            reconnected_at: self.reconnected_at,
            refreshed_at: self.refreshed_at,
            updated_at: self.updated_at,
            version: self.version,
            token_key_id: self.token_key_id.clone(),
            refresh_lease,
        })
    }

    fn open(&self, keyring: &Keyring, field: TokenField) -> Result<String, StoreError> {
        let stored = match field {
            TokenField::Access => &self.access_token_enc,
            TokenField::Refresh => &self.refresh_token_enc,
        };
        let plain = keyring.open(
            &self.token_key_id,
            stored,
            &token_aad(&self.user_id, &self.nino, field),
        )?;
        String::from_utf8(plain.to_vec()).map_err(|_| StoreError::Decrypt {
            key_id: self.token_key_id.clone(),
        })
    }

    fn access_token(&self, keyring: &Keyring) -> Result<AccessToken, StoreError> {
        self.open(keyring, TokenField::Access).map(AccessToken::new)
    }

    fn refresh_token(&self, keyring: &Keyring) -> Result<RefreshToken, StoreError> {
        self.open(keyring, TokenField::Refresh)
            .map(RefreshToken::new)
    }
}

/// Both tokens sealed for one credential.
struct SealedPair {
    key_id: String,
    access: Vec<u8>,
    refresh: Vec<u8>,
}

fn seal_pair(
    keyring: &Keyring,
    user_id: &str,
    nino: &str,
    pair: &TokenPair,
) -> Result<SealedPair, StoreError> {
    let (key_id, access) = keyring.seal(
        pair.access_token.expose_secret().as_bytes(),
        &token_aad(user_id, nino, TokenField::Access),
    )?;
    let (_, refresh) = keyring.seal(
        pair.refresh_token.expose_secret().as_bytes(),
        &token_aad(user_id, nino, TokenField::Refresh),
    )?;
    Ok(SealedPair {
        key_id: key_id.as_str().to_owned(),
        access,
        refresh,
    })
}

/// A user's connection to HMRC for one NINO, without its tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Credential {
    /// Store id.
    pub id: Uuid,
    /// The platform's user id.
    pub user_id: String,
    /// The HMRC identity (National Insurance number).
    pub nino: String,
    /// Active, or expired with reason and time.
    pub status: CredentialStatus,
    /// When the stored access token stops working.
    pub access_expires_at: DateTime<Utc>,
    /// The granted scope, when HMRC returned one.
    pub scope: Option<String>,
    /// First connection.
    pub connected_at: DateTime<Utc>,
    /// Latest reconnection (a new authorisation that replaced the tokens), if any.
    pub reconnected_at: Option<DateTime<Utc>>,
    /// Latest successful refresh, if any.
    pub refreshed_at: Option<DateTime<Utc>>,
    /// Latest change of any kind.
    pub updated_at: DateTime<Utc>,
    /// Incremented by every change of tokens or status: the compare-and-swap token.
    pub version: i64,
    /// Id of the key that encrypted the stored tokens.
    pub token_key_id: String,
    /// The refresh lease, when one is recorded (it may have expired).
    pub refresh_lease: Option<LeaseInfo>,
}

impl Credential {
    /// Whether the credential may be used.
    pub fn is_active(&self) -> bool {
        matches!(self.status, CredentialStatus::Active)
    }

    /// Whether a run holds a refresh lease that has not expired at `now`.
    pub fn refresh_in_progress(&self, now: DateTime<Utc>) -> bool {
        self.refresh_lease
            .as_ref()
            .is_some_and(|lease| lease.expires_at > now)
    }
}

/// Whether a credential may be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialStatus {
    /// Usable.
    Active,
    /// HMRC no longer accepts the grant; the user must reconnect. No further attempts are made.
    Expired {
        /// Why (for example `refresh answered 400 invalid_grant`).
        reason: String,
        /// When it was marked expired.
        at: DateTime<Utc>,
    },
}

impl CredentialStatus {
    /// The stored text.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Expired { .. } => "expired",
        }
    }
}

/// A recorded refresh lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseInfo {
    /// Who holds it (for example an Inngest run id).
    pub holder: String,
    /// When it may be taken over.
    pub expires_at: DateTime<Utc>,
}

/// The result of [`Credentials::connect`].
#[derive(Debug, Clone)]
pub struct Connected {
    /// The stored credential.
    pub credential: Credential,
    /// `true` when an existing credential was replaced and reactivated.
    pub reconnected: bool,
}

/// An access token ready to use, with the credential version it belongs to.
#[derive(Debug, Clone)]
pub struct Access {
    /// The credential, as stored when the token was read or written.
    pub credential: Credential,
    /// The access token.
    pub access_token: AccessToken,
    /// Where the token came from.
    pub source: TokenSource,
}

impl Access {
    /// The credential version this token belongs to; pass it to
    /// [`Credentials::expire_unless_replaced`] or [`Credentials::refresh_access_token`] after an
    /// HMRC 401.
    pub fn version(&self) -> i64 {
        self.credential.version
    }
}

/// Where an [`Access`] token came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenSource {
    /// The stored token was still valid; nobody refreshed.
    Stored,
    /// This call refreshed and stored the rotated pair.
    RefreshedHere,
    /// Another run (or a reconnection) replaced the token; this call read it.
    RefreshedElsewhere,
}

/// A claimed refresh: the holder may spend `refresh_token` exactly once.
#[derive(Debug)]
pub struct RefreshLease {
    /// The credential.
    pub credential_id: Uuid,
    /// This lease.
    pub lease_id: Uuid,
    /// The version whose refresh token this lease spends.
    pub version: i64,
    /// Who holds it.
    pub holder: String,
    /// When another run may take it over.
    pub expires_at: DateTime<Utc>,
    /// The refresh token to send to HMRC.
    pub refresh_token: RefreshToken,
    user_id: String,
    nino: String,
}

/// The answer of [`Credentials::begin_refresh`].
#[derive(Debug)]
pub enum BeginRefresh {
    /// This caller holds the lease and must spend the refresh token.
    Claimed(RefreshLease),
    /// The version moved on (another run refreshed, or the user reconnected): use the stored
    /// access token instead.
    Superseded(Credential),
    /// Another run holds a live lease; wait for the version to change.
    Busy {
        /// The credential.
        credential: Credential,
        /// The lease holder.
        holder: String,
        /// When the lease may be taken over.
        until: DateTime<Utc>,
    },
    /// The credential is expired; the user must reconnect.
    Expired(Credential),
}

/// The answer of [`Credentials::complete_refresh`].
#[derive(Debug)]
pub enum CompleteRefresh {
    /// The rotated pair is stored.
    Completed(Access),
    /// The version moved on before the pair could be written (the user reconnected); the stored
    /// credential is newer. The new pair was not stored.
    Superseded(Credential),
}

/// The answer of [`Credentials::expire_unless_replaced`] and [`Credentials::fail_refresh`].
#[derive(Debug, Clone)]
pub enum ExpireOutcome {
    /// Marked expired now.
    Expired(Credential),
    /// It was already expired (a retried step).
    AlreadyExpired(Credential),
    /// The tokens were replaced since the version used: the failure was caused by (or predates)
    /// a refresh or reconnection. Not permanent: retry with the stored token.
    Replaced(Credential),
    /// Another run is refreshing right now (which kills the old access token): not permanent;
    /// retry once it finishes.
    RefreshInProgress(Credential),
}

impl ExpireOutcome {
    /// `true` when the credential is now expired (the run should stop and the user reconnect).
    pub fn is_expired(&self) -> bool {
        matches!(self, Self::Expired(_) | Self::AlreadyExpired(_))
    }

    /// The credential as stored.
    pub fn credential(&self) -> &Credential {
        match self {
            Self::Expired(c) | Self::AlreadyExpired(c) | Self::Replaced(c) => c,
            Self::RefreshInProgress(c) => c,
        }
    }
}

/// How [`Credentials::access_token`] and [`Credentials::refresh_access_token`] behave.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RefreshOptions {
    /// Recorded as the lease holder (for example the Inngest run id).
    pub holder: String,
    /// How long a claimed refresh stays exclusive. Must exceed the HMRC call's timeout.
    pub lease_ttl: Duration,
    /// How often a waiting caller re-reads the credential.
    pub poll_interval: Duration,
    /// How long a caller waits for another run's refresh before giving up (transiently).
    pub max_wait: Duration,
    /// [`Credentials::access_token`] refreshes when the stored token expires sooner than this.
    pub min_validity: Duration,
}

impl RefreshOptions {
    /// Defaults: 60 s lease, 100 ms polls, 75 s wait (longer than the lease, so a waiter can
    /// take over from a crashed winner), refresh when less than 5 minutes of validity remain.
    pub fn new(holder: impl Into<String>) -> Self {
        Self {
            holder: holder.into(),
            lease_ttl: Duration::from_secs(60),
            poll_interval: Duration::from_millis(100),
            max_wait: Duration::from_secs(75),
            min_validity: Duration::from_secs(300),
        }
    }

    /// Sets the lease time-to-live.
    pub fn lease_ttl(mut self, ttl: Duration) -> Self {
        self.lease_ttl = ttl;
        self
    }

    /// Sets the poll interval.
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval;
        self
    }

    /// Sets the maximum wait for another run's refresh.
    pub fn max_wait(mut self, max_wait: Duration) -> Self {
        self.max_wait = max_wait;
        self
    }

    /// Sets the minimum remaining validity below which a stored token is refreshed.
    pub fn min_validity(mut self, min_validity: Duration) -> Self {
        self.min_validity = min_validity;
        self
    }
}

/// How the refresh closure failed.
#[derive(Debug)]
pub enum RefreshFailure<E> {
    /// HMRC refused the refresh token for good (`400 invalid_grant`: expired, revoked): the
    /// credential is marked expired with `reason` and the user must reconnect.
    InvalidGrant {
        /// Recorded as the expiry reason (no tokens in it).
        reason: String,
        /// The caller's error.
        error: E,
    },
    /// Anything else (network, 5xx, `invalid_request` "already in progress", `invalid_client`):
    /// the credential is left untouched and the lease released.
    Other(E),
}

impl<E> RefreshFailure<E> {
    /// HMRC refused the grant for good.
    pub fn invalid_grant(reason: impl Into<String>, error: E) -> Self {
        Self::InvalidGrant {
            reason: reason.into(),
            error,
        }
    }

    /// Any other failure; the credential stays as it is.
    pub fn other(error: E) -> Self {
        Self::Other(error)
    }
}

/// Why [`Credentials::access_token`] or [`Credentials::refresh_access_token`] gave no token.
#[derive(Debug, thiserror::Error)]
pub enum RefreshError<E> {
    /// The credential is expired (now or before); the user must reconnect. Permanent.
    #[error(
        "HMRC credential {credential_id} is expired ({reason}); the user must reconnect their HMRC account"
    )]
    Expired {
        /// The credential.
        credential_id: Uuid,
        /// The recorded reason.
        reason: String,
        /// The refresh error that expired it, when it was this call.
        #[source]
        source: Option<E>,
    },
    /// The refresh closure failed in a way that leaves the credential untouched.
    #[error(
        "refreshing HMRC credential {credential_id} failed; the stored credential is unchanged"
    )]
    Refresh {
        /// The credential.
        credential_id: Uuid,
        /// The closure's error.
        #[source]
        source: E,
    },
    /// Another run's refresh did not finish within the wait. Transient: retry later.
    #[error(
        "another run has been refreshing HMRC credential {credential_id} for longer than {waited:?}; retry shortly"
    )]
    Busy {
        /// The credential.
        credential_id: Uuid,
        /// How long this call waited.
        waited: Duration,
    },
    /// This call's refresh failed after another run took over its lease; the outcome is
    /// decided by that run. Transient: retry shortly.
    #[error(
        "the refresh of HMRC credential {credential_id} was taken over by another run before it finished; retry shortly"
    )]
    TakenOver {
        /// The credential.
        credential_id: Uuid,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl<E> RefreshError<E> {
    /// `true` when the user must reconnect; every other error is worth retrying later.
    pub fn is_permanent(&self) -> bool {
        matches!(self, Self::Expired { .. })
    }
}

/// Credentials: see the [module documentation](self). Obtained from [`Store::credentials`].
#[derive(Debug, Clone, Copy)]
pub struct Credentials<'a> {
    pub(crate) store: &'a Store,
}

const SELECT_BY_ID: &str = concat!(
    "SELECT ",
    credential_columns!(),
    " FROM credentials WHERE id = $1"
);
const SELECT_BY_USER_NINO: &str = concat!(
    "SELECT ",
    credential_columns!(),
    " FROM credentials WHERE user_id = $1 AND nino = $2"
);
const SELECT_BY_USER: &str = concat!(
    "SELECT ",
    credential_columns!(),
    " FROM credentials WHERE user_id = $1 ORDER BY connected_at, nino"
);
const SELECT_ACTIVE_FIRST: &str = concat!(
    "SELECT ",
    credential_columns!(),
    " FROM credentials WHERE status = 'active' ORDER BY id LIMIT $1"
);
const SELECT_ACTIVE_AFTER: &str = concat!(
    "SELECT ",
    credential_columns!(),
    " FROM credentials WHERE status = 'active' AND id > $1 ORDER BY id LIMIT $2"
);
const UPSERT: &str = concat!(
    "INSERT INTO credentials (id, user_id, nino, access_token_enc, refresh_token_enc, token_key_id, \
     access_expires_at, scope, status, connected_at, updated_at, version) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'active', $9, $9, 1) \
     ON CONFLICT (user_id, nino) DO UPDATE SET \
     access_token_enc = excluded.access_token_enc, refresh_token_enc = excluded.refresh_token_enc, \
     token_key_id = excluded.token_key_id, access_expires_at = excluded.access_expires_at, \
     scope = excluded.scope, status = 'active', expired_reason = NULL, expired_at = NULL, \
     reconnected_at = excluded.connected_at, updated_at = excluded.updated_at, \
     version = credentials.version + 1, refresh_lease_id = NULL, refresh_lease_holder = NULL, \
     refresh_lease_expires_at = NULL \
     RETURNING ",
    credential_columns!()
);
const CLAIM_LEASE: &str = concat!(
    "UPDATE credentials SET refresh_lease_id = $1, refresh_lease_holder = $2, \
     refresh_lease_expires_at = $3 \
     WHERE id = $4 AND version = $5 AND status = 'active' \
     AND (refresh_lease_id IS NULL OR refresh_lease_expires_at <= $6) \
     RETURNING ",
    credential_columns!()
);
const COMPLETE_REFRESH: &str = concat!(
    "UPDATE credentials SET access_token_enc = $1, refresh_token_enc = $2, token_key_id = $3, \
     access_expires_at = $4, scope = COALESCE($5, scope), refreshed_at = $6, updated_at = $6, \
     version = version + 1, refresh_lease_id = NULL, refresh_lease_holder = NULL, \
     refresh_lease_expires_at = NULL \
     WHERE id = $7 AND version = $8 AND status = 'active' \
     RETURNING ",
    credential_columns!()
);
const RELEASE_LEASE: &str = "UPDATE credentials SET refresh_lease_id = NULL, \
     refresh_lease_holder = NULL, refresh_lease_expires_at = NULL \
     WHERE id = $1 AND refresh_lease_id = $2";
const EXPIRE_HOLDING_LEASE: &str = concat!(
    "UPDATE credentials SET status = 'expired', expired_reason = $1, expired_at = $2, \
     updated_at = $2, version = version + 1, refresh_lease_id = NULL, \
     refresh_lease_holder = NULL, refresh_lease_expires_at = NULL \
     WHERE id = $3 AND version = $4 AND status = 'active' AND refresh_lease_id = $5 \
     RETURNING ",
    credential_columns!()
);
const EXPIRE_UNLESS_REPLACED: &str = concat!(
    "UPDATE credentials SET status = 'expired', expired_reason = $1, expired_at = $2, \
     updated_at = $2, version = version + 1, refresh_lease_id = NULL, \
     refresh_lease_holder = NULL, refresh_lease_expires_at = NULL \
     WHERE id = $3 AND version = $4 AND status = 'active' \
     AND (refresh_lease_id IS NULL OR refresh_lease_expires_at <= $2) \
     RETURNING ",
    credential_columns!()
);
const SELECT_OLD_KEYS: &str = concat!(
    "SELECT ",
    credential_columns!(),
    " FROM credentials WHERE token_key_id <> $1 ORDER BY id LIMIT $2"
);
const REWRITE_KEY: &str = "UPDATE credentials SET access_token_enc = $1, refresh_token_enc = $2, \
     token_key_id = $3 WHERE id = $4 AND version = $5 AND token_key_id = $6";
const KEY_USAGE: &str =
    "SELECT token_key_id, COUNT(*) FROM credentials GROUP BY token_key_id ORDER BY token_key_id";

/// What [`Credentials::rotate_keys`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct KeyRotation {
    /// Credentials re-encrypted with the current key.
    pub reencrypted: u64,
    /// Credentials that changed concurrently (and were therefore written with the current key
    /// by that change).
    pub changed_concurrently: u64,
}

impl<'a> Credentials<'a> {
    fn keyring(&self) -> Result<&'a Keyring, StoreError> {
        self.store.keyring()
    }

    async fn row(&self, id: Uuid) -> Result<Option<CredentialRow>, StoreError> {
        Ok(with_db!(self.store.db(), pool => {
            sqlx::query_as::<_, CredentialRow>(SELECT_BY_ID).bind(id).fetch_optional(pool).await?
        }))
    }

    async fn existing_row(&self, id: Uuid) -> Result<CredentialRow, StoreError> {
        self.row(id)
            .await?
            .ok_or(StoreError::CredentialNotFound(id))
    }

    /// Stores the tokens of a new authorisation: creates the credential for `(user_id, nino)`,
    /// or, when one exists, replaces its tokens, reactivates it, clears any refresh lease and
    /// increments its version (a reconnection).
    ///
    /// ```
    /// # use mtd_store::*;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// # let keyring = Keyring::new("k1", EncryptionKey::generate()?)?;
    /// # let store = Store::open(StoreConfig::new(dir.path().join("mtd.db").to_string_lossy()).keyring(keyring)).await?;
    /// let pair = TokenPair::from_expires_in(
    ///     AccessToken::new("access-1"), RefreshToken::new("refresh-1"), 14_400, chrono::Utc::now());
    /// let first = store.credentials().connect("user-1", "AA123456A", &pair).await?;
    /// assert!(!first.reconnected);
    /// let again = store.credentials().connect("user-1", "AA123456A", &pair).await?;
    /// assert!(again.reconnected);
    /// assert_eq!(again.credential.version, first.credential.version + 1);
    /// # Ok(()) }
    /// ```
    pub async fn connect(
        &self,
        user_id: &str,
        nino: &str,
        pair: &TokenPair,
    ) -> Result<Connected, StoreError> {
        let sealed = seal_pair(self.keyring()?, user_id, nino, pair)?;
        let now = self.store.now();
        let new_id = Uuid::new_v4();
        let row = with_db!(self.store.db(), pool => {
            sqlx::query_as::<_, CredentialRow>(UPSERT)
                .bind(new_id)
                .bind(user_id)
                .bind(nino)
                .bind(&sealed.access)
                .bind(&sealed.refresh)
                .bind(&sealed.key_id)
                .bind(db_time(pair.expires_at))
                .bind(pair.scope.as_deref())
                .bind(now)
                .fetch_one(pool)
                .await?
        });
        Ok(Connected {
            reconnected: row.id != new_id,
            credential: row.credential()?,
        })
    }

    /// The credential with this id.
    pub async fn get(&self, id: Uuid) -> Result<Option<Credential>, StoreError> {
        self.row(id).await?.map(|row| row.credential()).transpose()
    }

    /// The credential of `user_id` for `nino`.
    pub async fn find(&self, user_id: &str, nino: &str) -> Result<Option<Credential>, StoreError> {
        let row = with_db!(self.store.db(), pool => {
            sqlx::query_as::<_, CredentialRow>(SELECT_BY_USER_NINO)
                .bind(user_id)
                .bind(nino)
                .fetch_optional(pool)
                .await?
        });
        row.map(|row| row.credential()).transpose()
    }

    /// Every credential of a user.
    pub async fn list_for_user(&self, user_id: &str) -> Result<Vec<Credential>, StoreError> {
        let rows = with_db!(self.store.db(), pool => {
            sqlx::query_as::<_, CredentialRow>(SELECT_BY_USER).bind(user_id).fetch_all(pool).await?
        });
        rows.iter().map(CredentialRow::credential).collect()
    }

    /// Active credentials, a page at a time in a stable order: pass the last id of the previous
    /// page as `after` (`None` for the first page) until a page comes back shorter than
    /// `limit`. Work no user started, such as a scheduled obligations refresh, walks them this
    /// way without loading every credential at once.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # use mtd_store::*;
    /// # let dir = tempfile::tempdir()?;
    /// # let keyring = Keyring::new("k1", EncryptionKey::generate()?)?;
    /// # let store = Store::open(StoreConfig::new(dir.path().join("s.db").to_string_lossy()).keyring(keyring)).await?;
    /// # let now = chrono::Utc::now();
    /// for nino in ["AA123456A", "AB123456B", "AC123456C"] {
    ///     let pair = TokenPair::from_expires_in(AccessToken::new("at"), RefreshToken::new("rt"), 14_400, now);
    ///     store.credentials().connect("user-1", nino, &pair).await?;
    /// }
    /// let mut seen = 0;
    /// let mut after = None;
    /// loop {
    ///     let page = store.credentials().list_active(after, 2).await?;
    ///     seen += page.len();
    ///     match page.last() {
    ///         Some(last) if page.len() == 2 => after = Some(last.id),
    ///         _ => break,
    ///     }
    /// }
    /// assert_eq!(seen, 3);
    /// # Ok(()) }
    /// ```
    pub async fn list_active(
        &self,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<Credential>, StoreError> {
        let limit = i64::from(limit);
        let rows = match after {
            None => with_db!(self.store.db(), pool => {
                sqlx::query_as::<_, CredentialRow>(SELECT_ACTIVE_FIRST).bind(limit).fetch_all(pool).await?
            }),
            Some(after) => with_db!(self.store.db(), pool => {
                sqlx::query_as::<_, CredentialRow>(SELECT_ACTIVE_AFTER).bind(after).bind(limit).fetch_all(pool).await?
            }),
        };
        rows.iter().map(CredentialRow::credential).collect()
    }

    /// The stored access token as it is, whatever its expiry and status; prefer
    /// [`Credentials::access_token`], which refreshes when needed.
    pub async fn stored_access(&self, id: Uuid) -> Result<Access, StoreError> {
        let keyring = self.keyring()?;
        let row = self.existing_row(id).await?;
        Ok(Access {
            access_token: row.access_token(keyring)?,
            credential: row.credential()?,
            source: TokenSource::Stored,
        })
    }

    /// Claims the right to spend the refresh token of version `observed_version` (step 1 of the
    /// protocol). See [`BeginRefresh`] for the answers.
    pub async fn begin_refresh(
        &self,
        id: Uuid,
        observed_version: i64,
        lease_ttl: Duration,
        holder: &str,
    ) -> Result<BeginRefresh, StoreError> {
        let keyring = self.keyring()?;
        let ttl = TimeDelta::from_std(lease_ttl).unwrap_or(TimeDelta::MAX);
        for _ in 0..8 {
            let now = self.store.now();
            let lease_id = Uuid::new_v4();
            let expires_at = now
                .checked_add_signed(ttl)
                .unwrap_or(DateTime::<Utc>::MAX_UTC);
            let expires_at = db_time(expires_at);
            let claimed = with_db!(self.store.db(), pool => {
                sqlx::query_as::<_, CredentialRow>(CLAIM_LEASE)
                    .bind(lease_id)
                    .bind(holder)
                    .bind(expires_at)
                    .bind(id)
                    .bind(observed_version)
                    .bind(now)
                    .fetch_optional(pool)
                    .await?
            });
            if let Some(row) = claimed {
                tracing::debug!(
                    credential_id = %id,
                    version = observed_version,
                    holder,
                    "refresh lease claimed"
                );
                return match row.refresh_token(keyring) {
                    Ok(refresh_token) => Ok(BeginRefresh::Claimed(RefreshLease {
                        credential_id: id,
                        lease_id,
                        version: observed_version,
                        holder: holder.to_owned(),
                        expires_at,
                        refresh_token,
                        user_id: row.user_id,
                        nino: row.nino,
                    })),
                    Err(err) => {
                        self.release_lease(id, lease_id).await?;
                        Err(err)
                    }
                };
            }
            let credential = self.existing_row(id).await?.credential()?;
            if !credential.is_active() {
                return Ok(BeginRefresh::Expired(credential));
            }
            if credential.version != observed_version {
                return Ok(BeginRefresh::Superseded(credential));
            }
            if let Some(lease) = credential
                .refresh_lease
                .clone()
                .filter(|lease| lease.expires_at > now)
            {
                return Ok(BeginRefresh::Busy {
                    credential,
                    holder: lease.holder,
                    until: lease.expires_at,
                });
            }
            // The lease was released or expired between the claim and the read: claim again.
        }
        Err(StoreError::Contention {
            what: format!("the refresh lease of credential {id}"),
        })
    }

    /// Stores the rotated pair HMRC returned for `lease` (step 2). Written only if the version is
    /// still the one the lease spent; HMRC's single-use refresh tokens guarantee at most one
    /// successful refresh per version, so the write is correct even if the lease was taken over
    /// meanwhile.
    pub async fn complete_refresh(
        &self,
        lease: &RefreshLease,
        pair: &TokenPair,
    ) -> Result<CompleteRefresh, StoreError> {
        let sealed = seal_pair(self.keyring()?, &lease.user_id, &lease.nino, pair)?;
        let now = self.store.now();
        let written = with_db!(self.store.db(), pool => {
            sqlx::query_as::<_, CredentialRow>(COMPLETE_REFRESH)
                .bind(&sealed.access)
                .bind(&sealed.refresh)
                .bind(&sealed.key_id)
                .bind(db_time(pair.expires_at))
                .bind(pair.scope.as_deref())
                .bind(now)
                .bind(lease.credential_id)
                .bind(lease.version)
                .fetch_optional(pool)
                .await?
        });
        match written {
            Some(row) => {
                tracing::debug!(
                    credential_id = %lease.credential_id,
                    version = row.version,
                    holder = %lease.holder,
                    "rotated HMRC tokens stored"
                );
                Ok(CompleteRefresh::Completed(Access {
                    credential: row.credential()?,
                    access_token: pair.access_token.clone(),
                    source: TokenSource::RefreshedHere,
                }))
            }
            None => Ok(CompleteRefresh::Superseded(
                self.existing_row(lease.credential_id).await?.credential()?,
            )),
        }
    }

    /// Gives the lease up without changing the credential (the HMRC call failed transiently), so
    /// a waiting run can claim it at once. Returns `false` if the lease was no longer held.
    pub async fn release_refresh(&self, lease: &RefreshLease) -> Result<bool, StoreError> {
        self.release_lease(lease.credential_id, lease.lease_id)
            .await
    }

    async fn release_lease(&self, id: Uuid, lease_id: Uuid) -> Result<bool, StoreError> {
        let done = with_db!(self.store.db(), pool => {
            sqlx::query(RELEASE_LEASE)
                .bind(id)
                .bind(lease_id)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(done == 1)
    }

    /// Marks the credential expired because HMRC refused the refresh token of `lease` for good
    /// (`invalid_grant`). Done only while the caller still holds the lease and the version is
    /// unchanged; otherwise the answer says who replaced it.
    pub async fn fail_refresh(
        &self,
        lease: &RefreshLease,
        reason: &str,
    ) -> Result<ExpireOutcome, StoreError> {
        let now = self.store.now();
        let expired = with_db!(self.store.db(), pool => {
            sqlx::query_as::<_, CredentialRow>(EXPIRE_HOLDING_LEASE)
                .bind(reason)
                .bind(now)
                .bind(lease.credential_id)
                .bind(lease.version)
                .bind(lease.lease_id)
                .fetch_optional(pool)
                .await?
        });
        self.expire_outcome(lease.credential_id, lease.version, expired)
            .await
    }

    /// After HMRC answered 401/403 to a call made with the token of `used_version`: marks the
    /// credential expired with `reason`, unless the token was replaced since (someone refreshed
    /// or reconnected: [`ExpireOutcome::Replaced`]) or a refresh is in progress right now
    /// ([`ExpireOutcome::RefreshInProgress`]); in both cases the 401 is not the user's doing and
    /// the call should be retried with the fresh token. Idempotent.
    ///
    /// ```
    /// # use mtd_store::*;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// # let keyring = Keyring::new("k1", EncryptionKey::generate()?)?;
    /// # let store = Store::open(StoreConfig::new(dir.path().join("mtd.db").to_string_lossy()).keyring(keyring)).await?;
    /// # let pair = |a: &str| TokenPair::from_expires_in(AccessToken::new(a), RefreshToken::new(a), 14_400, chrono::Utc::now());
    /// let id = store.credentials().connect("user-1", "AA123456A", &pair("one")).await?.credential.id;
    /// let used = store.credentials().stored_access(id).await?;
    /// // Meanwhile the user reconnects, replacing the token our call used...
    /// store.credentials().connect("user-1", "AA123456A", &pair("two")).await?;
    /// // ...so our 401 is not a reason to expire the credential.
    /// let outcome = store.credentials().expire_unless_replaced(id, used.version(), "HMRC 401 INVALID_CREDENTIALS").await?;
    /// assert!(matches!(outcome, ExpireOutcome::Replaced(_)));
    /// assert!(store.credentials().get(id).await?.unwrap().is_active());
    /// # Ok(()) }
    /// ```
    pub async fn expire_unless_replaced(
        &self,
        id: Uuid,
        used_version: i64,
        reason: &str,
    ) -> Result<ExpireOutcome, StoreError> {
        let now = self.store.now();
        let expired = with_db!(self.store.db(), pool => {
            sqlx::query_as::<_, CredentialRow>(EXPIRE_UNLESS_REPLACED)
                .bind(reason)
                .bind(now)
                .bind(id)
                .bind(used_version)
                .fetch_optional(pool)
                .await?
        });
        self.expire_outcome(id, used_version, expired).await
    }

    async fn expire_outcome(
        &self,
        id: Uuid,
        used_version: i64,
        expired: Option<CredentialRow>,
    ) -> Result<ExpireOutcome, StoreError> {
        if let Some(row) = expired {
            let credential = row.credential()?;
            tracing::warn!(
                credential_id = %id,
                user_id = %credential.user_id,
                "HMRC credential marked expired"
            );
            return Ok(ExpireOutcome::Expired(credential));
        }
        let credential = self.existing_row(id).await?.credential()?;
        Ok(if !credential.is_active() {
            ExpireOutcome::AlreadyExpired(credential)
        } else if credential.version != used_version {
            ExpireOutcome::Replaced(credential)
        } else {
            // Same version and active, yet not expired: a lease held by another run (a refresh
            // in progress, or ours taken over) stopped the update.
            ExpireOutcome::RefreshInProgress(credential)
        })
    }

    /// `true` when the token of `used_version` is no longer the stored one, or a refresh that
    /// will replace it is in progress: a 401 on it says nothing about the user's grant.
    pub async fn was_replaced(&self, id: Uuid, used_version: i64) -> Result<bool, StoreError> {
        let credential = self.existing_row(id).await?.credential()?;
        Ok(credential.version != used_version || credential.refresh_in_progress(self.store.now()))
    }

    /// An access token that stays valid for at least `options.min_validity`: the stored one if
    /// it qualifies and nobody is refreshing, otherwise refreshed through the race-free protocol
    /// with `refresh`, which receives the refresh token and performs the HMRC call. The rotated
    /// pair is stored before this returns. At most one of any number of concurrent callers runs
    /// its closure; the others return the winner's token.
    ///
    /// ```
    /// # use mtd_store::*;
    /// # use std::convert::Infallible;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// # let keyring = Keyring::new("k1", EncryptionKey::generate()?)?;
    /// # let store = Store::open(StoreConfig::new(dir.path().join("mtd.db").to_string_lossy()).keyring(keyring)).await?;
    /// let now = chrono::Utc::now();
    /// // A token with one minute left: below the default five-minute minimum.
    /// let pair = TokenPair::from_expires_in(AccessToken::new("old"), RefreshToken::new("r1"), 60, now);
    /// let id = store.credentials().connect("user-1", "AA123456A", &pair).await?.credential.id;
    ///
    /// let access = store
    ///     .credentials()
    ///     .access_token(id, &RefreshOptions::new("run-42"), |refresh_token| async move {
    ///         // Here the caller POSTs `grant_type=refresh_token` to HMRC's /oauth/token.
    ///         assert_eq!(refresh_token.expose_secret(), "r1");
    ///         Ok::<_, RefreshFailure<Infallible>>(TokenPair::from_expires_in(
    ///             AccessToken::new("new"), RefreshToken::new("r2"), 14_400, now))
    ///     })
    ///     .await?;
    /// assert_eq!(access.access_token.expose_secret(), "new");
    /// assert_eq!(access.source, TokenSource::RefreshedHere);
    /// # Ok(()) }
    /// ```
    pub async fn access_token<F, Fut, E>(
        &self,
        id: Uuid,
        options: &RefreshOptions,
        refresh: F,
    ) -> Result<Access, RefreshError<E>>
    where
        F: FnOnce(RefreshToken) -> Fut,
        Fut: Future<Output = Result<TokenPair, RefreshFailure<E>>>,
    {
        let keyring = self.keyring()?;
        let row = self.existing_row(id).await?;
        let credential = row.credential()?;
        if let CredentialStatus::Expired { reason, .. } = &credential.status {
            return Err(RefreshError::Expired {
                credential_id: id,
                reason: reason.clone(),
                source: None,
            });
        }
        let now = self.store.now();
        let min_validity = TimeDelta::from_std(options.min_validity).unwrap_or(TimeDelta::MAX);
        let valid_long_enough = now
            .checked_add_signed(min_validity)
            .is_some_and(|needed| credential.access_expires_at > needed);
        if valid_long_enough && !credential.refresh_in_progress(now) {
            return Ok(Access {
                access_token: row.access_token(keyring)?,
                credential,
                source: TokenSource::Stored,
            });
        }
        self.run_refresh(id, credential.version, options, refresh)
            .await
    }

    /// Refreshes after HMRC refused the access token of `used_version` (for example a 401
    /// before its expiry time). If the version already moved on, someone else refreshed: their
    /// token is returned and `refresh` is not called. Otherwise as [`Credentials::access_token`].
    pub async fn refresh_access_token<F, Fut, E>(
        &self,
        id: Uuid,
        used_version: i64,
        options: &RefreshOptions,
        refresh: F,
    ) -> Result<Access, RefreshError<E>>
    where
        F: FnOnce(RefreshToken) -> Fut,
        Fut: Future<Output = Result<TokenPair, RefreshFailure<E>>>,
    {
        self.run_refresh(id, used_version, options, refresh).await
    }

    async fn run_refresh<F, Fut, E>(
        &self,
        id: Uuid,
        observed_version: i64,
        options: &RefreshOptions,
        refresh: F,
    ) -> Result<Access, RefreshError<E>>
    where
        F: FnOnce(RefreshToken) -> Fut,
        Fut: Future<Output = Result<TokenPair, RefreshFailure<E>>>,
    {
        let deadline = tokio::time::Instant::now() + options.max_wait;
        let mut refresh = Some(refresh);
        loop {
            let answer = self
                .begin_refresh(id, observed_version, options.lease_ttl, &options.holder)
                .await?;
            let lease = match answer {
                BeginRefresh::Claimed(lease) => lease,
                BeginRefresh::Superseded(credential) | BeginRefresh::Expired(credential) => {
                    return self.replaced_access(credential).await;
                }
                BeginRefresh::Busy { .. } => {
                    match self
                        .wait_for_refresh(id, observed_version, options, deadline)
                        .await?
                    {
                        Some(credential) => return self.replaced_access(credential).await,
                        None => continue,
                    }
                }
            };
            let Some(refresh) = refresh.take() else {
                // This call already spent its one HMRC refresh, lost the lease to a run that
                // took it over, and that run's lease lapsed too: the outcome is unknown.
                self.release_refresh(&lease).await?;
                return Err(RefreshError::TakenOver { credential_id: id });
            };
            match refresh(lease.refresh_token.clone()).await {
                Ok(pair) => {
                    return match self.complete_refresh(&lease, &pair).await? {
                        CompleteRefresh::Completed(access) => Ok(access),
                        CompleteRefresh::Superseded(credential) => {
                            self.replaced_access(credential).await
                        }
                    };
                }
                Err(RefreshFailure::Other(error)) => {
                    self.release_refresh(&lease).await?;
                    return Err(RefreshError::Refresh {
                        credential_id: id,
                        source: error,
                    });
                }
                Err(RefreshFailure::InvalidGrant { reason, error }) => {
                    match self.fail_refresh(&lease, &reason).await? {
                        ExpireOutcome::Expired(_) => {
                            return Err(RefreshError::Expired {
                                credential_id: id,
                                reason,
                                source: Some(error),
                            });
                        }
                        ExpireOutcome::AlreadyExpired(credential)
                        | ExpireOutcome::Replaced(credential) => {
                            return self.replaced_access(credential).await;
                        }
                        ExpireOutcome::RefreshInProgress(_) => {
                            // Our lease was taken over: the taker's result decides. Wait for it.
                            match self
                                .wait_for_refresh(id, observed_version, options, deadline)
                                .await?
                            {
                                Some(credential) => return self.replaced_access(credential).await,
                                None => continue,
                            }
                        }
                    }
                }
            }
        }
    }

    /// Polls (reads only) while another run holds a live lease on `observed_version`. Returns
    /// the credential once its version changed or it expired, or `None` once the lease is gone
    /// with the version unchanged (released after a transient failure, or expired after a
    /// crash), so the caller may claim it.
    async fn wait_for_refresh<E>(
        &self,
        id: Uuid,
        observed_version: i64,
        options: &RefreshOptions,
        deadline: tokio::time::Instant,
    ) -> Result<Option<Credential>, RefreshError<E>> {
        loop {
            if tokio::time::Instant::now() >= deadline {
                return Err(RefreshError::Busy {
                    credential_id: id,
                    waited: options.max_wait,
                });
            }
            tokio::time::sleep(options.poll_interval).await;
            let credential = self.existing_row(id).await?.credential()?;
            if !credential.is_active() || credential.version != observed_version {
                return Ok(Some(credential));
            }
            if !credential.refresh_in_progress(self.store.now()) {
                return Ok(None);
            }
        }
    }

    /// The stored token of a credential whose version moved on, or why there is none.
    async fn replaced_access<E>(&self, credential: Credential) -> Result<Access, RefreshError<E>> {
        if let CredentialStatus::Expired { reason, .. } = &credential.status {
            return Err(RefreshError::Expired {
                credential_id: credential.id,
                reason: reason.clone(),
                source: None,
            });
        }
        let keyring = self.keyring()?;
        let row = self.existing_row(credential.id).await?;
        let credential = row.credential()?;
        if let CredentialStatus::Expired { reason, .. } = &credential.status {
            return Err(RefreshError::Expired {
                credential_id: credential.id,
                reason: reason.clone(),
                source: None,
            });
        }
        Ok(Access {
            access_token: row.access_token(keyring)?,
            credential,
            source: TokenSource::RefreshedElsewhere,
        })
    }

    /// Re-encrypts every credential still sealed with an older key using the current key, in
    /// batches of `batch_size`. Afterwards [`Credentials::key_usage`] shows the old ids unused
    /// and they can be removed from the configuration. Safe to run beside live traffic: each row
    /// is rewritten only if it did not change meanwhile.
    pub async fn rotate_keys(&self, batch_size: u32) -> Result<KeyRotation, StoreError> {
        let keyring = self.keyring()?;
        let current = keyring.current_key_id().as_str().to_owned();
        let mut report = KeyRotation::default();
        loop {
            let rows = with_db!(self.store.db(), pool => {
                sqlx::query_as::<_, CredentialRow>(SELECT_OLD_KEYS)
                    .bind(&current)
                    .bind(i64::from(batch_size.max(1)))
                    .fetch_all(pool)
                    .await?
            });
            if rows.is_empty() {
                return Ok(report);
            }
            let mut progressed = false;
            for row in rows {
                let pair = TokenPair::new(
                    row.access_token(keyring)?,
                    row.refresh_token(keyring)?,
                    row.access_expires_at,
                );
                let sealed = seal_pair(keyring, &row.user_id, &row.nino, &pair)?;
                let done = with_db!(self.store.db(), pool => {
                    sqlx::query(REWRITE_KEY)
                        .bind(&sealed.access)
                        .bind(&sealed.refresh)
                        .bind(&sealed.key_id)
                        .bind(row.id)
                        .bind(row.version)
                        .bind(&row.token_key_id)
                        .execute(pool)
                        .await?
                        .rows_affected()
                });
                if done == 1 {
                    report.reencrypted += 1;
                    progressed = true;
                } else {
                    report.changed_concurrently += 1;
                }
            }
            if !progressed {
                return Ok(report);
            }
        }
    }

    /// How many credentials each key id encrypts.
    pub async fn key_usage(&self) -> Result<Vec<(String, u64)>, StoreError> {
        let rows: Vec<(String, i64)> = with_db!(self.store.db(), pool => {
            sqlx::query_as(KEY_USAGE).fetch_all(pool).await?
        });
        Ok(rows
            .into_iter()
            .map(|(id, count)| (id, u64::try_from(count).unwrap_or_default()))
            .collect())
    }
}
