//! The obligations last fetched from HMRC, per user and business, so pages and functions can
//! show them without calling HMRC.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::types::Json;

use crate::clock::db_time;
use crate::db::with_db;
use crate::error::StoreError;
use crate::store::Store;

/// Obligations as last fetched.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct CachedObligations {
    /// The platform's user id.
    pub user_id: String,
    /// The HMRC business id (or any key the caller uses for non-business obligations, such as
    /// the final declaration's).
    pub business_id: String,
    /// The HMRC identity.
    pub nino: String,
    /// HMRC's obligations response, as fetched.
    pub obligations: Value,
    /// When it was fetched.
    pub fetched_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct ObligationsRow {
    user_id: String,
    business_id: String,
    nino: String,
    obligations: Json<Value>,
    fetched_at: DateTime<Utc>,
}

impl From<ObligationsRow> for CachedObligations {
    fn from(row: ObligationsRow) -> Self {
        Self {
            user_id: row.user_id,
            business_id: row.business_id,
            nino: row.nino,
            obligations: row.obligations.0,
            fetched_at: row.fetched_at,
        }
    }
}

// An older fetch never replaces a newer one (a slow run finishing late).
const UPSERT: &str = "INSERT INTO obligations_cache (user_id, business_id, nino, obligations, fetched_at) \
     VALUES ($1, $2, $3, $4, $5) \
     ON CONFLICT (user_id, business_id) DO UPDATE SET nino = excluded.nino, \
     obligations = excluded.obligations, fetched_at = excluded.fetched_at \
     WHERE obligations_cache.fetched_at <= excluded.fetched_at";
const SELECT_ONE: &str = "SELECT user_id, business_id, nino, obligations, fetched_at \
     FROM obligations_cache WHERE user_id = $1 AND business_id = $2";
const SELECT_FOR_USER: &str = "SELECT user_id, business_id, nino, obligations, fetched_at \
     FROM obligations_cache WHERE user_id = $1 ORDER BY business_id";

/// The obligations cache: obtained from [`Store::obligations`].
#[derive(Debug, Clone, Copy)]
pub struct Obligations<'a> {
    pub(crate) store: &'a Store,
}

impl Obligations<'_> {
    /// Stores obligations fetched at `fetched_at`. Returns `false` (and changes nothing) when
    /// the cache already holds a newer fetch.
    ///
    /// ```
    /// # use mtd_store::*;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// # let store = Store::open(StoreConfig::new(dir.path().join("mtd.db").to_string_lossy())).await?;
    /// let fetched = serde_json::json!({"obligations": [{"businessId": "XAIS12345678901", "obligationDetails": []}]});
    /// let now = chrono::Utc::now();
    /// assert!(store.obligations().put("user-1", "XAIS12345678901", "AA123456A", &fetched, now).await?);
    /// let cached = store.obligations().get("user-1", "XAIS12345678901").await?.unwrap();
    /// assert_eq!(cached.obligations, fetched);
    /// # Ok(()) }
    /// ```
    pub async fn put(
        &self,
        user_id: &str,
        business_id: &str,
        nino: &str,
        obligations: &Value,
        fetched_at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let done = with_db!(self.store.db(), pool => {
            sqlx::query(UPSERT)
                .bind(user_id)
                .bind(business_id)
                .bind(nino)
                .bind(Json(obligations))
                .bind(db_time(fetched_at))
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(done == 1)
    }

    /// The obligations last fetched for a user's business.
    pub async fn get(
        &self,
        user_id: &str,
        business_id: &str,
    ) -> Result<Option<CachedObligations>, StoreError> {
        let row = with_db!(self.store.db(), pool => {
            sqlx::query_as::<_, ObligationsRow>(SELECT_ONE)
                .bind(user_id)
                .bind(business_id)
                .fetch_optional(pool)
                .await?
        });
        Ok(row.map(Into::into))
    }

    /// Every cached business of a user.
    pub async fn list_for_user(&self, user_id: &str) -> Result<Vec<CachedObligations>, StoreError> {
        let rows = with_db!(self.store.db(), pool => {
            sqlx::query_as::<_, ObligationsRow>(SELECT_FOR_USER)
                .bind(user_id)
                .fetch_all(pool)
                .await?
        });
        Ok(rows.into_iter().map(Into::into).collect())
    }
}
