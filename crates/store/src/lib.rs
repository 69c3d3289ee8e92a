//! The store of the MTD platform: HMRC credentials, submissions, notifications and the
//! obligations cache, on SQLite by default and PostgreSQL for scale.
//!
//! # A tour
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::convert::Infallible;
//! use mtd_store::*;
//!
//! // Open (and on first run create) a SQLite store. Tokens are encrypted with the keyring's
//! // current key; in production the keyring comes from configuration (`Keyring::from_spec`).
//! let dir = tempfile::tempdir()?;
//! let keyring = Keyring::new("2025-06", EncryptionKey::generate()?)?;
//! let store = Store::open(StoreConfig::new(dir.path().join("mtd.db").to_string_lossy()).keyring(keyring)).await?;
//!
//! // The OAuth callback stores the user's tokens.
//! let now = chrono::Utc::now();
//! let tokens = TokenPair::from_expires_in(AccessToken::new("at-1"), RefreshToken::new("rt-1"), 60, now);
//! let credential = store.credentials().connect("user-1", "AA123456A", &tokens).await?.credential;
//!
//! // A run records the submission, then gets a usable access token. This one expires within
//! // the five-minute margin, so it is refreshed (race-free; the rotated pair is stored first).
//! let audit = Audit::new("inngest:run-1", "submit-period");
//! let submission = store.submissions().create(
//!     &NewSubmission::new(SubmissionKind::Period, "user-1", "AA123456A", serde_json::json!({"periodIncome": {"turnover": 100}}))
//!         .business_id("XAIS12345678901").tax_year("2024-25"),
//!     &audit,
//! ).await?;
//! let access = store.credentials().access_token(credential.id, &RefreshOptions::new("run-1"), |refresh_token| async move {
//!     // POST grant_type=refresh_token&refresh_token=… to HMRC here.
//!     let _ = refresh_token;
//!     Ok::<_, RefreshFailure<Infallible>>(TokenPair::from_expires_in(AccessToken::new("at-2"), RefreshToken::new("rt-2"), 14_400, now))
//! }).await?;
//! assert_eq!(access.access_token.expose_secret(), "at-2");
//!
//! // HMRC answers 401 with that token. Was it someone else's refresh? No: nobody replaced it,
//! // so the credential is expired, the submission failed, and the user is told.
//! let outcome = store.credentials().expire_unless_replaced(credential.id, access.version(), "HMRC 401 INVALID_CREDENTIALS").await?;
//! assert!(outcome.is_expired());
//! let answer = HmrcAnswer::new(401, Some("INVALID_CREDENTIALS"));
//! store.submissions().mark_failed(submission.id, FailureReason::Auth, "HMRC 401 INVALID_CREDENTIALS", Some(&answer), &audit).await?;
//! store.notifications().notify(
//!     &NewNotification::new("user-1", NotificationKind::ReconnectHmrc, "Reconnect, then resubmit.").submission(submission.id),
//! ).await?;
//!
//! // The user reconnects: new tokens, credential active again; then resubmits as a new attempt.
//! store.credentials().connect("user-1", "AA123456A", &TokenPair::from_expires_in(
//!     AccessToken::new("at-3"), RefreshToken::new("rt-3"), 14_400, now)).await?;
//! let retry = store.submissions().resubmit(submission.id, &Resubmission::default(), &Audit::new("user:user-1", "resubmit")).await?;
//! assert_eq!((retry.attempt, retry.previous_attempt_id), (2, Some(submission.id)));
//! # Ok(()) }
//! ```
//!
//! # Two backends, one API
//!
//! [`Store::open`] takes a SQLite file path (the default; created on first run, WAL mode,
//! `synchronous=FULL`, foreign keys on) or a `postgres://` URL. Internally the store holds an
//! enum over a `SqlitePool` and a `PgPool`; each query is one SQL string that both dialects
//! accept (`$1` placeholders, `RETURNING`, `ON CONFLICT`), and a small macro expands the code
//! that runs it once per pool type. This was chosen over `sqlx::Any`, which would have erased
//! the column types the store relies on (UUIDs, timestamps, JSON, bytes) and forced text
//! conversions everywhere, while the enum keeps sqlx's native type mapping on each backend and
//! duplicates no SQL. Only the schema differs, so each backend has its own embedded migrations
//! (`migrations/sqlite`, `migrations/postgres`), applied on open. Queries are checked at run time
//! (`sqlx::query_as` with `FromRow`), not at compile time: no database is needed to build.
//!
//! SQLite write transactions start with `BEGIN IMMEDIATE`, so a read-then-write transaction
//! never fails on a stale snapshot; PostgreSQL runs at `READ COMMITTED`, where the store's
//! compare-and-swap updates (`UPDATE … WHERE version = $n`) are atomic.
//!
//! # What lives where
//!
//! * [`credentials`]: tokens encrypted at rest ([`crypto`]), expiry and status, and the
//!   race-free refresh protocol (a lease plus a compare-and-swap on `version`).
//! * [`submissions`] and [`status`]: submissions, the status state machine, history, attempts.
//! * [`notifications`]: what users see.
//! * [`repair`]: relabelling old `rejected` records that were authorisation failures.
//! * [`obligations`]: the obligations last fetched per business.
//!
//! The crate's `README.md` documents the schema.

pub mod clock;
pub mod credentials;
pub mod crypto;
mod db;
pub mod error;
pub mod notifications;
pub mod obligations;
pub mod repair;
pub mod secret;
pub mod status;
mod store;
pub mod submissions;

pub use clock::{Clock, ManualClock, SystemClock};
pub use credentials::{
    Access, BeginRefresh, CompleteRefresh, Connected, Credential, CredentialStatus, Credentials,
    ExpireOutcome, KeyRotation, LeaseInfo, RefreshError, RefreshFailure, RefreshLease,
    RefreshOptions, TokenSource,
};
pub use crypto::{EncryptionKey, KeyId, Keyring};
pub use db::Backend;
pub use error::{KeyError, StoreError};
pub use notifications::{
    NewNotification, Notification, NotificationFilter, NotificationKind, Notifications,
};
pub use obligations::{CachedObligations, Obligations};
pub use repair::{
    RepairItem, RepairOptions, RepairReport, RepairVerdict, ReviewItem, classify_rejected,
};
pub use secret::{AccessToken, RefreshToken, TokenPair};
pub use status::{SubmissionStatus, TransitionCheck, TransitionError, TransitionOrigin};
pub use store::{Store, StoreConfig};
pub use submissions::{
    Audit, Failure, FailureReason, HmrcAnswer, NewSubmission, Receipt, RejectionError,
    Resubmission, StatusChange, Submission, SubmissionKind, Submissions,
};
