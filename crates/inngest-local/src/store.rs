//! Optional persistence: runs and synced apps in a SQLite file, so history (and unfinished runs)
//! survive a restart. The executor keeps everything in memory and writes changes through here.

use std::path::Path;

use bytes::Bytes;
use sqlx::Row;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};

use crate::run::RunRecord;

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Opening or writing the database failed.
    #[error("the run database {path} failed: {source}; check the path is writable")]
    Database {
        /// Database file.
        path: String,
        /// Cause.
        #[source]
        source: sqlx::Error,
    },
    /// A stored run could not be read back.
    #[error(
        "run {id} in {path} cannot be read ({message}); it was written by an incompatible version"
    )]
    Corrupt {
        /// Database file.
        path: String,
        /// Run id.
        id: String,
        /// Cause.
        message: String,
    },
}

/// A SQLite run store.
#[derive(Debug, Clone)]
pub(crate) struct SqliteStore {
    pool: SqlitePool,
    path: String,
}

const SCHEMA: [&str; 3] = [
    "CREATE TABLE IF NOT EXISTS runs (
        id TEXT PRIMARY KEY,
        function_id TEXT NOT NULL,
        status TEXT NOT NULL,
        event_name TEXT NOT NULL,
        created_at TEXT NOT NULL,
        record TEXT NOT NULL
    )",
    "CREATE INDEX IF NOT EXISTS runs_function ON runs (function_id, created_at)",
    "CREATE TABLE IF NOT EXISTS apps (url TEXT PRIMARY KEY, payload BLOB NOT NULL)",
];

impl SqliteStore {
    /// Opens (creating if needed) the database at `path`.
    pub(crate) async fn open(path: &Path) -> Result<Self, StoreError> {
        let shown = path.display().to_string();
        let err = |source| StoreError::Database {
            path: shown.clone(),
            source,
        };
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal);
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .map_err(err)?;
        for stmt in SCHEMA {
            sqlx::query(stmt).execute(&pool).await.map_err(err)?;
        }
        Ok(Self { pool, path: shown })
    }

    fn err(&self, source: sqlx::Error) -> StoreError {
        StoreError::Database {
            path: self.path.clone(),
            source,
        }
    }

    /// Writes a run (insert or replace).
    pub(crate) async fn save_run(&self, run: &RunRecord) -> Result<(), StoreError> {
        let record = serde_json::to_string(run).map_err(|e| StoreError::Corrupt {
            path: self.path.clone(),
            id: run.id.clone(),
            message: e.to_string(),
        })?;
        sqlx::query(
            "INSERT INTO runs (id, function_id, status, event_name, created_at, record) VALUES (?, ?, ?, ?, ?, ?)
             ON CONFLICT(id) DO UPDATE SET status = excluded.status, record = excluded.record",
        )
        .bind(&run.id)
        .bind(&run.function_id)
        .bind(format!("{:?}", run.status))
        .bind(&run.event_name)
        .bind(run.created_at.to_rfc3339())
        .bind(record)
        .execute(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Writes an app's register payload.
    pub(crate) async fn save_app(&self, url: &str, payload: &[u8]) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO apps (url, payload) VALUES (?, ?) ON CONFLICT(url) DO UPDATE SET payload = excluded.payload")
            .bind(url)
            .bind(payload)
            .execute(&self.pool)
            .await
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Every stored run.
    pub(crate) async fn load_runs(&self) -> Result<Vec<RunRecord>, StoreError> {
        let rows = sqlx::query("SELECT id, record FROM runs ORDER BY id")
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.err(e))?;
        rows.iter()
            .map(|row| {
                let id: String = row.get("id");
                let record: String = row.get("record");
                serde_json::from_str(&record).map_err(|e| StoreError::Corrupt {
                    path: self.path.clone(),
                    id,
                    message: e.to_string(),
                })
            })
            .collect()
    }

    /// Every stored app payload.
    pub(crate) async fn load_apps(&self) -> Result<Vec<(String, Bytes)>, StoreError> {
        let rows = sqlx::query("SELECT url, payload FROM apps ORDER BY url")
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.err(e))?;
        Ok(rows
            .iter()
            .map(|row| {
                let url: String = row.get("url");
                let payload: Vec<u8> = row.get("payload");
                (url, Bytes::from(payload))
            })
            .collect())
    }

    /// Closes the pool.
    pub(crate) async fn close(&self) {
        self.pool.close().await;
    }
}
