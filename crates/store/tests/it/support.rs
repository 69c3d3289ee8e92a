//! Runs every test once on SQLite and once on PostgreSQL, each on a fresh database.
//!
//! PostgreSQL comes from `MTD_TEST_DATABASE_URL` (a role with CREATEDB). Each test creates its
//! own uniquely named database there, so tests run in parallel, and drops it at the end (also
//! when the test panics). Without the variable the PostgreSQL half fails with instructions,
//! unless `MTD_TEST_SKIP_POSTGRES=1` says to skip it.

use std::sync::Mutex;

use mtd_store::{Backend, EncryptionKey, Keyring, Store, StoreConfig};
use sqlx::{AssertSqlSafe, Connection, PgConnection, SqliteConnection};
use tempfile::TempDir;

/// The key every test store uses unless a test says otherwise (fixed so two stores agree).
pub(crate) const TEST_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
/// Another valid key.
pub(crate) const OTHER_KEY: &str = "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=";

pub(crate) fn keyring(id: &str, key: &str) -> Keyring {
    Keyring::new(id, EncryptionKey::from_base64(key).expect("valid test key")).expect("valid id")
}

pub(crate) fn test_keyring() -> Keyring {
    keyring("k1", TEST_KEY)
}

/// Runs the body of a test on both backends: `both_backends! { async fn name(db) { ... } }`
/// makes `name::sqlite` and `name::postgres`.
macro_rules! both_backends {
    ($( $(#[$meta:meta])* async fn $name:ident($db:ident) $body:block )*) => {$(
        $(#[$meta])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn body($db: &$crate::support::TestDb) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                let db = $crate::support::TestDb::sqlite().await;
                $crate::support::run(db, body).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                if let Some(db) = $crate::support::TestDb::postgres().await {
                    $crate::support::run(db, body).await;
                }
            }
        }
    )*};
}
pub(crate) use both_backends;

/// Runs `body` on `db`, then drops the database even if `body` panicked.
pub(crate) async fn run<F>(db: TestDb, body: F)
where
    F: for<'a> AsyncFnOnce(&'a TestDb),
{
    use futures::FutureExt;
    let outcome = std::panic::AssertUnwindSafe(body(&db)).catch_unwind().await;
    db.cleanup().await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

enum Place {
    Sqlite {
        _dir: TempDir,
        path: std::path::PathBuf,
    },
    Postgres {
        admin_url: String,
        name: String,
        url: String,
    },
}

/// A fresh, empty database of one backend.
pub(crate) struct TestDb {
    place: Place,
    stores: Mutex<Vec<Store>>,
}

impl TestDb {
    pub(crate) async fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let path = dir.path().join("store").join("mtd.db");
        Self {
            place: Place::Sqlite { _dir: dir, path },
            stores: Mutex::new(Vec::new()),
        }
    }

    pub(crate) async fn postgres() -> Option<Self> {
        let admin_url = match std::env::var("MTD_TEST_DATABASE_URL") {
            Ok(url) if !url.trim().is_empty() => url,
            _ if std::env::var("MTD_TEST_SKIP_POSTGRES").as_deref() == Ok("1") => {
                eprintln!("PostgreSQL half skipped: MTD_TEST_SKIP_POSTGRES=1");
                return None;
            }
            _ => panic!(
                "MTD_TEST_DATABASE_URL is not set, so the PostgreSQL half of the store tests cannot run. \
                 Point it at a PostgreSQL server and a role that may create databases, e.g. \
                 MTD_TEST_DATABASE_URL=postgres://mtd:mtd@127.0.0.1:5432/mtd_test \
                 (or set MTD_TEST_SKIP_POSTGRES=1 to skip PostgreSQL explicitly)."
            ),
        };
        let name = format!("mtd_store_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = PgConnection::connect(&admin_url)
            .await
            .unwrap_or_else(|err| {
                panic!("cannot connect to MTD_TEST_DATABASE_URL ({err}); is PostgreSQL running?")
            });
        sqlx::query(AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
            .execute(&mut admin)
            .await
            .unwrap_or_else(|err| {
                panic!("CREATE DATABASE failed ({err}); the role needs CREATEDB")
            });
        admin.close().await.ok();
        let mut url = url::Url::parse(&admin_url).expect("MTD_TEST_DATABASE_URL is a URL");
        url.set_path(&format!("/{name}"));
        Some(Self {
            place: Place::Postgres {
                admin_url,
                name,
                url: url.to_string(),
            },
            stores: Mutex::new(Vec::new()),
        })
    }

    pub(crate) fn backend(&self) -> Backend {
        match self.place {
            Place::Sqlite { .. } => Backend::Sqlite,
            Place::Postgres { .. } => Backend::Postgres,
        }
    }

    /// What to pass to `StoreConfig::new`.
    pub(crate) fn location(&self) -> String {
        match &self.place {
            Place::Sqlite { path, .. } => path.to_string_lossy().into_owned(),
            Place::Postgres { url, .. } => url.clone(),
        }
    }

    /// The SQLite file, on SQLite.
    pub(crate) fn sqlite_path(&self) -> Option<&std::path::Path> {
        match &self.place {
            Place::Sqlite { path, .. } => Some(path),
            Place::Postgres { .. } => None,
        }
    }

    /// A store with the test keyring.
    pub(crate) async fn store(&self) -> Store {
        self.store_with(|config| config.keyring(test_keyring()))
            .await
    }

    /// A store configured by `configure` (which starts from no keyring).
    pub(crate) async fn store_with(
        &self,
        configure: impl FnOnce(StoreConfig) -> StoreConfig,
    ) -> Store {
        let store = Store::open(configure(StoreConfig::new(self.location())))
            .await
            .expect("store opens");
        self.stores
            .lock()
            .expect("not poisoned")
            .push(store.clone());
        store
    }

    /// Runs raw SQL (the same text on both backends) outside the store.
    pub(crate) async fn raw_execute(&self, sql: &str) -> Result<u64, sqlx::Error> {
        let sql = AssertSqlSafe(sql.to_owned());
        match &self.place {
            Place::Sqlite { path, .. } => {
                let mut conn =
                    SqliteConnection::connect(&format!("sqlite://{}", path.display())).await?;
                let done = sqlx::query(sql).execute(&mut conn).await;
                conn.close().await?;
                done.map(|done| done.rows_affected())
            }
            Place::Postgres { url, .. } => {
                let mut conn = PgConnection::connect(url).await?;
                let done = sqlx::query(sql).execute(&mut conn).await;
                conn.close().await?;
                done.map(|done| done.rows_affected())
            }
        }
    }

    /// A raw query returning one integer.
    pub(crate) async fn raw_i64(&self, sql: &str) -> i64 {
        let sql = AssertSqlSafe(sql.to_owned());
        match &self.place {
            Place::Sqlite { path, .. } => {
                let mut conn = SqliteConnection::connect(&format!("sqlite://{}", path.display()))
                    .await
                    .expect("raw connection");
                let value = sqlx::query_scalar(sql)
                    .fetch_one(&mut conn)
                    .await
                    .expect("raw query");
                conn.close().await.expect("close");
                value
            }
            Place::Postgres { url, .. } => {
                let mut conn = PgConnection::connect(url).await.expect("raw connection");
                let value = sqlx::query_scalar(sql)
                    .fetch_one(&mut conn)
                    .await
                    .expect("raw query");
                conn.close().await.expect("close");
                value
            }
        }
    }

    /// Everything the database holds, raw: on SQLite the bytes of the database file and its
    /// WAL and shared-memory files; on PostgreSQL every row of every table as text (`bytea`
    /// shows as hex).
    pub(crate) async fn raw_dump(&self) -> Vec<u8> {
        match &self.place {
            Place::Sqlite { path, .. } => {
                let mut bytes = Vec::new();
                for suffix in ["", "-wal", "-shm"] {
                    let file = format!("{}{suffix}", path.display());
                    if let Ok(content) = std::fs::read(&file) {
                        bytes.extend_from_slice(&content);
                    }
                }
                assert!(!bytes.is_empty(), "the SQLite database file exists");
                bytes
            }
            Place::Postgres { url, .. } => {
                let mut conn = PgConnection::connect(url).await.expect("raw connection");
                let mut text = String::new();
                for table in [
                    "credentials",
                    "submissions",
                    "submission_history",
                    "notifications",
                    "obligations_cache",
                ] {
                    let rows: Option<String> = sqlx::query_scalar(AssertSqlSafe(format!(
                        "SELECT string_agg(t::text, E'\\n') FROM {table} t"
                    )))
                    .fetch_one(&mut conn)
                    .await
                    .expect("dump table");
                    text.push_str(&rows.unwrap_or_default());
                    text.push('\n');
                }
                conn.close().await.expect("close");
                text.into_bytes()
            }
        }
    }

    async fn cleanup(self) {
        let stores = std::mem::take(&mut *self.stores.lock().expect("not poisoned"));
        for store in stores {
            store.close().await;
        }
        if let Place::Postgres {
            admin_url, name, ..
        } = &self.place
        {
            drop_database(admin_url, name).await;
        }
    }
}

/// Drops a test database. A plain `DROP DATABASE` also stops autovacuum workers in it; `WITH
/// (FORCE)` is only the fallback for a connection a failed test left open, because FORCE
/// refuses to terminate autovacuum for a role that is not superuser.
async fn drop_database(admin_url: &str, name: &str) {
    let mut admin = PgConnection::connect(admin_url)
        .await
        .expect("admin connection");
    let mut last_error = None;
    for attempt in 0..5 {
        let sql = if attempt < 4 {
            format!("DROP DATABASE IF EXISTS \"{name}\"")
        } else {
            format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")
        };
        match sqlx::query(AssertSqlSafe(sql)).execute(&mut admin).await {
            Ok(_) => {
                admin.close().await.ok();
                return;
            }
            Err(err) => last_error = Some(err),
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    panic!("could not drop test database {name}: {last_error:?}");
}

/// `true` when `haystack` contains `needle`.
pub(crate) fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}
