use mtd_store::{Backend, Store, StoreConfig, StoreError};

use crate::support::{TestDb, both_backends};

const TABLES: [&str; 5] = [
    "credentials",
    "submissions",
    "submission_history",
    "notifications",
    "obligations_cache",
];

both_backends! {
    async fn migrations_create_every_table_on_an_empty_database(db) {
        let store = db.store().await;
        assert_eq!(store.backend(), db.backend());
        for table in TABLES {
            assert_eq!(db.raw_i64(&format!("SELECT COUNT(*) FROM {table}")).await, 0, "{table}");
        }
        let applied = db
            .raw_i64("SELECT COUNT(*) FROM _sqlx_migrations WHERE success = TRUE")
            .await;
        let shipped = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite"))
            .expect("migrations directory")
            .count();
        assert_eq!(applied, i64::try_from(shipped).expect("small"));
    }

    async fn reopening_a_migrated_database_applies_nothing_twice(db) {
        let first = db.store().await;
        let id = first
            .notifications()
            .notify(&mtd_store::NewNotification::new("u", mtd_store::NotificationKind::SubmissionAccepted, "ok"))
            .await
            .expect("write")
            .id;
        let second = db.store().await;
        second.migrate().await.expect("migrating again is a no-op");
        let listed = second
            .notifications()
            .list("u", mtd_store::NotificationFilter::All, 10)
            .await
            .expect("read");
        assert_eq!(listed.iter().map(|n| n.id).collect::<Vec<_>>(), vec![id]);
        assert_eq!(db.raw_i64("SELECT COUNT(*) FROM _sqlx_migrations").await, 1);
    }

    async fn opening_without_migrations_leaves_the_schema_to_an_explicit_migrate(db) {
        let store = db.store_with(|config| config.run_migrations(false)).await;
        let missing = store.notifications().unread_count("u").await;
        assert!(matches!(missing, Err(StoreError::Database(_))), "{missing:?}");
        store.migrate().await.expect("migrate");
        assert_eq!(store.notifications().unread_count("u").await.expect("table exists"), 0);
    }
}

#[tokio::test]
async fn a_sqlite_store_is_created_on_first_run_in_wal_mode() {
    let db = TestDb::sqlite().await;
    let path = db.sqlite_path().expect("sqlite").to_owned();
    assert!(!path.exists() && !path.parent().expect("parent").exists());
    let store = Store::open(StoreConfig::new(path.to_string_lossy()))
        .await
        .expect("open");
    assert_eq!(store.backend(), Backend::Sqlite);
    assert!(path.exists(), "the database file is created");
    let mut conn = <sqlx::SqliteConnection as sqlx::Connection>::connect(&format!(
        "sqlite://{}",
        path.display()
    ))
    .await
    .expect("raw connection");
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&mut conn)
        .await
        .expect("pragma");
    assert_eq!(mode, "wal");
    store.close().await;
}

#[tokio::test]
async fn unusable_locations_are_refused_with_a_clear_error() {
    for location in ["", "sqlite::memory:"] {
        let err = Store::open(StoreConfig::new(location))
            .await
            .expect_err("refused");
        assert!(matches!(err, StoreError::InvalidLocation { .. }), "{err}");
    }
    let unreachable = StoreConfig::new("postgres://mtd:hunter2@127.0.0.1:1/nowhere")
        .acquire_timeout(std::time::Duration::from_millis(300));
    let err = Store::open(unreachable)
        .await
        .expect_err("nothing listens on port 1");
    let message = err.to_string();
    assert!(matches!(err, StoreError::Connect { .. }), "{message}");
    assert!(
        !message.contains("hunter2"),
        "the password is redacted: {message}"
    );
}
