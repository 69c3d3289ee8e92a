//! The two backends behind one API.
//!
//! [`Db`] is an enum over a SQLite pool and a PostgreSQL pool. Every query is written once as
//! SQL text that both dialects accept (`$1` placeholders, `RETURNING`, `ON CONFLICT`), and the
//! [`with_db!`] / [`with_tx!`] macros expand the code that runs it once per pool type, so each
//! backend gets its own statically typed sqlx code without a line of SQL duplicated. Only the
//! schema (column types, triggers) differs, so each backend has its own migrations directory.

use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, SqlitePool};

use crate::error::StoreError;

pub(crate) static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("migrations/sqlite");
pub(crate) static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("migrations/postgres");

/// Which database a [`Store`](crate::Store) runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file in WAL mode.
    Sqlite,
    /// A PostgreSQL database.
    Postgres,
}

/// A connection pool of either backend.
#[derive(Debug, Clone)]
pub(crate) enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs `$body` with `$pool` bound to the backend's pool (`&SqlitePool` or `&PgPool`).
macro_rules! with_db {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            $crate::db::Db::Sqlite($pool) => $body,
            $crate::db::Db::Postgres($pool) => $body,
        }
    };
}

/// Runs `$body` (an expression evaluating to `Result<T, StoreError>`, which may use `?` and
/// `.await`) inside a write transaction bound to `$tx`, committing on `Ok` and rolling back on
/// `Err`. On SQLite the transaction starts with `BEGIN IMMEDIATE`, taking the write lock up front
/// so that a read-then-write transaction never fails with a stale snapshot.
macro_rules! with_tx {
    ($db:expr, $tx:ident => $body:expr) => {
        match $db {
            $crate::db::Db::Sqlite(pool) => {
                let mut $tx = pool.begin_with("BEGIN IMMEDIATE").await?;
                let result: Result<_, $crate::StoreError> = async { $body }.await;
                match result {
                    Ok(value) => {
                        $tx.commit().await?;
                        Ok(value)
                    }
                    Err(err) => {
                        // Report the error that stopped the transaction; a failed rollback only
                        // means the connection is discarded, which rolls back as well.
                        if let Err(rollback) = $tx.rollback().await {
                            tracing::warn!(
                                error = %rollback,
                                "rolling back a store transaction failed"
                            );
                        }
                        Err(err)
                    }
                }
            }
            $crate::db::Db::Postgres(pool) => {
                let mut $tx = pool.begin().await?;
                let result: Result<_, $crate::StoreError> = async { $body }.await;
                match result {
                    Ok(value) => {
                        $tx.commit().await?;
                        Ok(value)
                    }
                    Err(err) => {
                        // Report the error that stopped the transaction; a failed rollback only
                        // means the connection is discarded, which rolls back as well.
                        if let Err(rollback) = $tx.rollback().await {
                            tracing::warn!(
                                error = %rollback,
                                "rolling back a store transaction failed"
                            );
                        }
                        Err(err)
                    }
                }
            }
        }
    };
}

pub(crate) use {with_db, with_tx};

/// Where the database lives, parsed from configuration.
#[derive(Debug, Clone)]
pub(crate) enum Location {
    Sqlite(SqliteConnectOptions, String),
    Postgres(PgConnectOptions, String),
}

impl Location {
    /// `postgres://…` / `postgresql://…` is PostgreSQL; `sqlite:…` is a sqlx SQLite URL;
    /// anything else is a SQLite file path.
    pub(crate) fn parse(location: &str) -> Result<Self, StoreError> {
        let trimmed = location.trim();
        let shown = redact(trimmed);
        let invalid = |reason: String| StoreError::InvalidLocation {
            location: shown.clone(),
            reason,
        };
        if trimmed.is_empty() {
            return Err(invalid(
                "it is empty; give a SQLite file path or a postgres:// URL".into(),
            ));
        }
        if trimmed.starts_with("postgres://") || trimmed.starts_with("postgresql://") {
            let options = PgConnectOptions::from_str(trimmed)
                .map_err(|_| invalid("not a valid PostgreSQL connection URL".into()))?;
            return Ok(Self::Postgres(options, shown));
        }
        let options = if let Some(rest) = trimmed.strip_prefix("sqlite:") {
            if rest.contains(":memory:") || rest.contains("mode=memory") {
                return Err(invalid(
                    "in-memory SQLite is not supported: each pooled connection would see its own empty database; use a file".into(),
                ));
            }
            SqliteConnectOptions::from_str(trimmed)
                .map_err(|err| invalid(format!("not a valid SQLite URL ({err})")))?
        } else {
            let path = std::path::Path::new(trimmed);
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent).map_err(|err| {
                    invalid(format!(
                        "could not create its directory {}: {err}",
                        parent.display()
                    ))
                })?;
            }
            SqliteConnectOptions::new().filename(path)
        };
        let options = options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: a committed submission record or rotated refresh token survives power loss.
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(30));
        Ok(Self::Sqlite(options, shown))
    }
}

/// Opens the pool and, when asked, applies the embedded migrations.
pub(crate) async fn connect(
    location: Location,
    max_connections: u32,
    acquire_timeout: Duration,
    migrate: bool,
) -> Result<Db, StoreError> {
    match location {
        Location::Sqlite(options, shown) => {
            let pool = SqlitePoolOptions::new()
                .max_connections(max_connections)
                .acquire_timeout(acquire_timeout)
                .connect_with(options)
                .await
                .map_err(|source| StoreError::Connect {
                    location: shown,
                    source,
                })?;
            if migrate {
                SQLITE_MIGRATIONS.run(&pool).await?;
            }
            Ok(Db::Sqlite(pool))
        }
        Location::Postgres(options, shown) => {
            let pool = PgPoolOptions::new()
                .max_connections(max_connections)
                .acquire_timeout(acquire_timeout)
                .connect_with(options)
                .await
                .map_err(|source| StoreError::Connect {
                    location: shown,
                    source,
                })?;
            if migrate {
                POSTGRES_MIGRATIONS.run(&pool).await?;
            }
            Ok(Db::Postgres(pool))
        }
    }
}

/// Removes a password from a URL so the location can appear in errors and logs.
pub(crate) fn redact(location: &str) -> String {
    match url::Url::parse(location) {
        Ok(mut url) if url.password().is_some() => {
            // Setting a password only fails for URLs that cannot have one, and this one has one.
            let _ = url.set_password(Some("redacted"));
            url.to_string()
        }
        _ => location.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_removed_from_locations() {
        assert_eq!(
            redact("postgres://mtd:hunter2@db.internal:5432/mtd"),
            "postgres://mtd:redacted@db.internal:5432/mtd"
        );
        assert_eq!(redact("/var/lib/mtd/store.db"), "/var/lib/mtd/store.db");
    }

    #[test]
    fn locations_pick_the_backend() {
        assert!(matches!(
            Location::parse("postgres://u:p@localhost/db"),
            Ok(Location::Postgres(..))
        ));
        assert!(matches!(
            Location::parse("postgresql://localhost/db"),
            Ok(Location::Postgres(..))
        ));
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("nested/store.db");
        assert!(matches!(
            Location::parse(&path.to_string_lossy()),
            Ok(Location::Sqlite(..))
        ));
        assert!(path.parent().expect("parent").is_dir());
        assert!(matches!(
            Location::parse(""),
            Err(StoreError::InvalidLocation { .. })
        ));
        assert!(matches!(
            Location::parse("sqlite::memory:"),
            Err(StoreError::InvalidLocation { .. })
        ));
    }
}
