//! Notifications shown to users ("Please reconnect your HMRC account", ...).

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::db::with_db;
use crate::error::StoreError;
use crate::store::Store;

/// What a notification is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotificationKind {
    /// HMRC no longer accepts the user's authorisation.
    ReconnectHmrc,
    /// HMRC refused the figures; the body names the flagged fields.
    FiguresRejected,
    /// The submission could not be sent (retries ran out).
    SubmissionFailed,
    /// HMRC accepted the submission.
    SubmissionAccepted,
    /// An earlier submission was not sent and should be resubmitted (the account is connected).
    ResubmitNeeded,
}

impl NotificationKind {
    /// Every kind.
    pub const ALL: [Self; 5] = [
        Self::ReconnectHmrc,
        Self::FiguresRejected,
        Self::SubmissionFailed,
        Self::SubmissionAccepted,
        Self::ResubmitNeeded,
    ];

    /// The stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ReconnectHmrc => "reconnect_hmrc",
            Self::FiguresRejected => "figures_rejected",
            Self::SubmissionFailed => "submission_failed",
            Self::SubmissionAccepted => "submission_accepted",
            Self::ResubmitNeeded => "resubmit_needed",
        }
    }

    /// The title users see.
    pub fn title(self) -> &'static str {
        match self {
            Self::ReconnectHmrc => "Please reconnect your HMRC account",
            Self::FiguresRejected => "HMRC refused these figures",
            Self::SubmissionFailed => "We could not send your submission to HMRC",
            Self::SubmissionAccepted => "HMRC accepted your submission",
            Self::ResubmitNeeded => "Please resubmit to HMRC",
        }
    }
}

impl fmt::Display for NotificationKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for NotificationKind {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.as_str() == s)
            .ok_or_else(|| StoreError::Corrupt {
                what: "notification kind",
                value: s.to_owned(),
            })
    }
}

/// A notification to create.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct NewNotification {
    /// Who sees it.
    pub user_id: String,
    /// What it is about; gives the title.
    pub kind: NotificationKind,
    /// The text under the title.
    pub body: String,
    /// The submission it links to.
    pub submission_id: Option<Uuid>,
    /// The credential it concerns.
    pub credential_id: Option<Uuid>,
    /// Makes creation idempotent: notifying again with the same key returns the first one
    /// (for durable steps that may run twice).
    pub dedupe_key: Option<String>,
}

impl NewNotification {
    /// A notification of `kind` for `user_id`.
    pub fn new(
        user_id: impl Into<String>,
        kind: NotificationKind,
        body: impl Into<String>,
    ) -> Self {
        Self {
            user_id: user_id.into(),
            kind,
            body: body.into(),
            submission_id: None,
            credential_id: None,
            dedupe_key: None,
        }
    }

    /// Links the submission.
    pub fn submission(mut self, id: Uuid) -> Self {
        self.submission_id = Some(id);
        self
    }

    /// Links the credential.
    pub fn credential(mut self, id: Uuid) -> Self {
        self.credential_id = Some(id);
        self
    }

    /// Sets the deduplication key.
    pub fn dedupe_key(mut self, key: impl Into<String>) -> Self {
        self.dedupe_key = Some(key.into());
        self
    }
}

/// A stored notification.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Notification {
    /// Store id.
    pub id: Uuid,
    /// Who sees it.
    pub user_id: String,
    /// What it is about.
    pub kind: NotificationKind,
    /// The title.
    pub title: String,
    /// The text.
    pub body: String,
    /// The linked submission.
    pub submission_id: Option<Uuid>,
    /// The linked credential.
    pub credential_id: Option<Uuid>,
    /// The deduplication key.
    pub dedupe_key: Option<String>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When the user read it; `None` while unread.
    pub read_at: Option<DateTime<Utc>>,
}

impl Notification {
    /// Whether the user has read it.
    pub fn is_read(&self) -> bool {
        self.read_at.is_some()
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct NotificationRow {
    id: Uuid,
    user_id: String,
    kind: String,
    title: String,
    body: String,
    submission_id: Option<Uuid>,
    credential_id: Option<Uuid>,
    dedupe_key: Option<String>,
    created_at: DateTime<Utc>,
    read_at: Option<DateTime<Utc>>,
}

impl NotificationRow {
    pub(crate) fn into_notification(self) -> Result<Notification, StoreError> {
        Ok(Notification {
            id: self.id,
            user_id: self.user_id,
            kind: self.kind.parse()?,
            title: self.title,
            body: self.body,
            submission_id: self.submission_id,
            credential_id: self.credential_id,
            dedupe_key: self.dedupe_key,
            created_at: self.created_at,
            read_at: self.read_at,
        })
    }
}

macro_rules! notification_columns {
    () => {
        "id, user_id, kind, title, body, submission_id, credential_id, dedupe_key, created_at, read_at"
    };
}

/// Inserts a notification; `ON CONFLICT (dedupe_key) DO NOTHING` makes a repeated key a no-op.
pub(crate) const INSERT: &str = concat!(
    "INSERT INTO notifications (id, user_id, kind, title, body, submission_id, credential_id, \
     dedupe_key, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
     ON CONFLICT (dedupe_key) DO NOTHING RETURNING ",
    notification_columns!()
);
const SELECT_BY_KEY: &str = concat!(
    "SELECT ",
    notification_columns!(),
    " FROM notifications WHERE dedupe_key = $1"
);
const SELECT_FOR_USER: &str = concat!(
    "SELECT ",
    notification_columns!(),
    " FROM notifications WHERE user_id = $1 AND ($2 = 0 OR read_at IS NULL) \
     ORDER BY created_at DESC, id LIMIT $3"
);
const COUNT_UNREAD: &str =
    "SELECT COUNT(*) FROM notifications WHERE user_id = $1 AND read_at IS NULL";
const MARK_READ: &str =
    "UPDATE notifications SET read_at = $1 WHERE id = $2 AND user_id = $3 AND read_at IS NULL";
const MARK_ALL_READ: &str =
    "UPDATE notifications SET read_at = $1 WHERE user_id = $2 AND read_at IS NULL";

/// Which notifications to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotificationFilter {
    /// Read and unread.
    All,
    /// Unread only.
    Unread,
}

/// Notifications: obtained from [`Store::notifications`].
#[derive(Debug, Clone, Copy)]
pub struct Notifications<'a> {
    pub(crate) store: &'a Store,
}

impl Notifications<'_> {
    /// Creates a notification (or returns the one created earlier with the same dedupe key).
    ///
    /// ```
    /// # use mtd_store::*;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// # let store = Store::open(StoreConfig::new(dir.path().join("mtd.db").to_string_lossy())).await?;
    /// let note = NewNotification::new("user-1", NotificationKind::ReconnectHmrc,
    ///     "HMRC no longer accepts our access to your account. Reconnect, then resubmit.")
    ///     .dedupe_key("run-7:reconnect");
    /// let first = store.notifications().notify(&note).await?;
    /// let again = store.notifications().notify(&note).await?;
    /// assert_eq!(first.id, again.id);
    /// assert_eq!(first.title, "Please reconnect your HMRC account");
    /// assert_eq!(store.notifications().unread_count("user-1").await?, 1);
    /// assert!(store.notifications().mark_read("user-1", first.id).await?);
    /// assert_eq!(store.notifications().unread_count("user-1").await?, 0);
    /// # Ok(()) }
    /// ```
    pub async fn notify(&self, new: &NewNotification) -> Result<Notification, StoreError> {
        let now = self.store.now();
        let row = with_db!(self.store.db(), pool => {
            let inserted = sqlx::query_as::<_, NotificationRow>(INSERT)
                .bind(Uuid::new_v4())
                .bind(&new.user_id)
                .bind(new.kind.as_str())
                .bind(new.kind.title())
                .bind(&new.body)
                .bind(new.submission_id)
                .bind(new.credential_id)
                .bind(new.dedupe_key.as_deref())
                .bind(now)
                .fetch_optional(pool)
                .await?;
            match inserted {
                Some(row) => row,
                None => sqlx::query_as::<_, NotificationRow>(SELECT_BY_KEY)
                    .bind(new.dedupe_key.as_deref())
                    .fetch_one(pool)
                    .await?,
            }
        });
        row.into_notification()
    }

    /// A user's notifications, newest first.
    pub async fn list(
        &self,
        user_id: &str,
        filter: NotificationFilter,
        limit: u32,
    ) -> Result<Vec<Notification>, StoreError> {
        let unread_only = i64::from(filter == NotificationFilter::Unread);
        let rows = with_db!(self.store.db(), pool => {
            sqlx::query_as::<_, NotificationRow>(SELECT_FOR_USER)
                .bind(user_id)
                .bind(unread_only)
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?
        });
        rows.into_iter()
            .map(NotificationRow::into_notification)
            .collect()
    }

    /// How many unread notifications a user has.
    pub async fn unread_count(&self, user_id: &str) -> Result<u64, StoreError> {
        let count: i64 = with_db!(self.store.db(), pool => {
            sqlx::query_scalar(COUNT_UNREAD).bind(user_id).fetch_one(pool).await?
        });
        Ok(u64::try_from(count).unwrap_or_default())
    }

    /// Marks one of the user's notifications read. `false` if it does not exist, belongs to
    /// someone else, or was already read.
    pub async fn mark_read(&self, user_id: &str, id: Uuid) -> Result<bool, StoreError> {
        let now = self.store.now();
        let done = with_db!(self.store.db(), pool => {
            sqlx::query(MARK_READ)
                .bind(now)
                .bind(id)
                .bind(user_id)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(done == 1)
    }

    /// Marks all of the user's notifications read; returns how many changed.
    pub async fn mark_all_read(&self, user_id: &str) -> Result<u64, StoreError> {
        let now = self.store.now();
        Ok(with_db!(self.store.db(), pool => {
            sqlx::query(MARK_ALL_READ)
                .bind(now)
                .bind(user_id)
                .execute(pool)
                .await?
                .rows_affected()
        }))
    }
}
