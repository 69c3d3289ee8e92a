//! The store handle and its configuration.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::clock::{Clock, SystemClock, db_time};
use crate::credentials::Credentials;
use crate::crypto::Keyring;
use crate::db::{self, Backend, Db, Location};
use crate::error::StoreError;
use crate::notifications::Notifications;
use crate::obligations::Obligations;
use crate::submissions::Submissions;

/// How to open a [`Store`].
///
/// ```
/// use mtd_store::{EncryptionKey, Keyring, StoreConfig};
/// let config = StoreConfig::new("postgres://mtd:secret@db.internal/mtd")
///     .keyring(Keyring::new("2025-06", EncryptionKey::generate()?)?)
///     .max_connections(20);
/// assert!(!format!("{config:?}").contains("secret"));
/// # Ok::<(), mtd_store::KeyError>(())
/// ```
#[derive(Clone)]
pub struct StoreConfig {
    location: String,
    keyring: Option<Keyring>,
    clock: Arc<dyn Clock>,
    max_connections: u32,
    acquire_timeout: Duration,
    migrate: bool,
}

impl StoreConfig {
    /// `location` is a `postgres://…` URL, a `sqlite:…` URL, or a SQLite file path (the file and
    /// its directory are created on first run). Defaults: no keyring, the system clock, 10
    /// connections, a 30 s acquire timeout, migrations applied on open.
    pub fn new(location: impl Into<String>) -> Self {
        Self {
            location: location.into(),
            keyring: None,
            clock: Arc::new(SystemClock),
            max_connections: 10,
            acquire_timeout: Duration::from_secs(30),
            migrate: true,
        }
    }

    /// The keys that encrypt tokens. Without a keyring, credential operations fail with
    /// [`StoreError::NoKeyring`]; everything else works.
    pub fn keyring(mut self, keyring: Keyring) -> Self {
        self.keyring = Some(keyring);
        self
    }

    /// The clock used for timestamps and lease expiry.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The connection pool size.
    pub fn max_connections(mut self, max: u32) -> Self {
        self.max_connections = max.max(1);
        self
    }

    /// How long to wait for a connection, including the first one when opening (a database
    /// that is still starting is retried until then).
    pub fn acquire_timeout(mut self, timeout: Duration) -> Self {
        self.acquire_timeout = timeout;
        self
    }

    /// Whether [`Store::open`] applies pending migrations (default `true`). When `false`, run
    /// [`Store::migrate`] yourself.
    pub fn run_migrations(mut self, migrate: bool) -> Self {
        self.migrate = migrate;
        self
    }
}

impl fmt::Debug for StoreConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoreConfig")
            .field("location", &db::redact(&self.location))
            .field("keyring", &self.keyring)
            .field("clock", &self.clock)
            .field("max_connections", &self.max_connections)
            .field("acquire_timeout", &self.acquire_timeout)
            .field("migrate", &self.migrate)
            .finish()
    }
}

/// The store: a cheap-to-clone handle over a connection pool.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    db: Db,
    keyring: Option<Keyring>,
    clock: Arc<dyn Clock>,
}

impl Store {
    /// Opens (and on first run creates) the database and applies pending migrations.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use mtd_store::{Backend, Store, StoreConfig};
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("data/mtd.db");
    /// let store = Store::open(StoreConfig::new(path.to_string_lossy())).await?;
    /// assert_eq!(store.backend(), Backend::Sqlite);
    /// assert!(path.exists());
    /// store.close().await;
    /// # Ok(()) }
    /// ```
    pub async fn open(config: StoreConfig) -> Result<Self, StoreError> {
        let location = Location::parse(&config.location)?;
        let db = db::connect(
            location,
            config.max_connections,
            config.acquire_timeout,
            config.migrate,
        )
        .await?;
        Ok(Self {
            inner: Arc::new(Inner {
                db,
                keyring: config.keyring,
                clock: config.clock,
            }),
        })
    }

    /// Applies pending migrations (already done by [`Store::open`] unless disabled).
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match &self.inner.db {
            Db::Sqlite(pool) => db::SQLITE_MIGRATIONS.run(pool).await?,
            Db::Postgres(pool) => db::POSTGRES_MIGRATIONS.run(pool).await?,
        }
        Ok(())
    }

    /// Which backend this store runs on.
    pub fn backend(&self) -> Backend {
        match &self.inner.db {
            Db::Sqlite(_) => Backend::Sqlite,
            Db::Postgres(_) => Backend::Postgres,
        }
    }

    /// Closes the pool, waiting for connections in use to be returned.
    pub async fn close(&self) {
        match &self.inner.db {
            Db::Sqlite(pool) => pool.close().await,
            Db::Postgres(pool) => pool.close().await,
        }
    }

    /// HMRC credentials and the refresh protocol.
    pub fn credentials(&self) -> Credentials<'_> {
        Credentials { store: self }
    }

    /// Submissions, their status history and resubmissions.
    pub fn submissions(&self) -> Submissions<'_> {
        Submissions { store: self }
    }

    /// Notifications shown to users.
    pub fn notifications(&self) -> Notifications<'_> {
        Notifications { store: self }
    }

    /// The obligations cache.
    pub fn obligations(&self) -> Obligations<'_> {
        Obligations { store: self }
    }

    pub(crate) fn db(&self) -> &Db {
        &self.inner.db
    }

    pub(crate) fn keyring(&self) -> Result<&Keyring, StoreError> {
        self.inner.keyring.as_ref().ok_or(StoreError::NoKeyring)
    }

    /// The current time at the precision the database keeps.
    pub(crate) fn now(&self) -> DateTime<Utc> {
        db_time(self.inner.clock.now())
    }
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend())
            .field("keyring", &self.inner.keyring)
            .finish_non_exhaustive()
    }
}
