//! The store's errors.

use uuid::Uuid;

use crate::status::TransitionError;

/// Everything that can go wrong in the store. Messages say what happened and what to do; they
/// never contain tokens, key material or database passwords.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database location is neither a `postgres://` URL nor a usable SQLite path.
    #[error("invalid database location {location:?}: {reason}")]
    InvalidLocation {
        /// The location, with any password removed.
        location: String,
        /// Why it was refused.
        reason: String,
    },
    /// The database could not be opened or reached.
    #[error(
        "could not open the database at {location}: {source}; check that it is reachable and the credentials are right"
    )]
    Connect {
        /// The location, with any password removed.
        location: String,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// Applying the embedded migrations failed.
    #[error("could not apply the store's database migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A query failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// A credential operation needs the token keyring, and none was configured.
    #[error(
        "no token encryption key is configured, so HMRC tokens cannot be read or written; configure a keyring (for example `MTD_TOKEN_KEYS=<key-id>:<base64 of 32 random bytes>`)"
    )]
    NoKeyring,
    /// The configured key material is unusable.
    #[error(transparent)]
    Key(#[from] crate::KeyError),
    /// A token was encrypted with a key id that the configured keyring does not hold.
    #[error(
        "stored HMRC tokens were encrypted with key id {key_id:?}, which is not in the configured keyring; add that key (as an old key) to the configuration"
    )]
    UnknownKey {
        /// The key id stored with the ciphertext.
        key_id: String,
    },
    /// A token did not decrypt: the key for its id is wrong, or the stored bytes were altered or
    /// moved from another row.
    #[error(
        "stored HMRC tokens did not decrypt with key id {key_id:?}: the configured key for that id is wrong, or the stored ciphertext was altered or copied from another credential"
    )]
    Decrypt {
        /// The key id stored with the ciphertext.
        key_id: String,
    },
    /// Encryption itself failed (input too long for AES-GCM).
    #[error("could not encrypt an HMRC token")]
    Encrypt,
    /// No credential has this id.
    #[error("no HMRC credential with id {0}")]
    CredentialNotFound(Uuid),
    /// No submission has this id.
    #[error("no submission with id {0}")]
    SubmissionNotFound(Uuid),
    /// The requested status change is not allowed by the state machine.
    #[error(transparent)]
    Transition(#[from] TransitionError),
    /// Only a `failed` or `rejected` submission can be resubmitted.
    #[error(
        "submission {id} is {status} and cannot be resubmitted; only failed or rejected submissions get a new attempt"
    )]
    NotResubmittable {
        /// The submission.
        id: Uuid,
        /// Its status.
        status: crate::SubmissionStatus,
    },
    /// The submission already has a newer attempt; resubmit that one instead.
    #[error(
        "submission {id} was already resubmitted as {newer}; resubmit the newest attempt instead"
    )]
    AlreadyResubmitted {
        /// The submission asked for.
        id: Uuid,
        /// Its newer attempt.
        newer: Uuid,
    },
    /// The submission is already handled by another Inngest run.
    #[error(
        "submission {id} is already handled by Inngest run {run_id:?}; a run id is recorded once"
    )]
    RunAlreadyAttached {
        /// The submission.
        id: Uuid,
        /// The run id already recorded.
        run_id: String,
    },
    /// A stored value is not one this version understands.
    #[error(
        "the database holds {what} {value:?}, which this version does not understand; was it written by a newer release?"
    )]
    Corrupt {
        /// Which column.
        what: &'static str,
        /// The value found.
        value: String,
    },
    /// A row kept changing under concurrent writers; the operation can be retried.
    #[error("{what} kept changing while it was being updated; retry the operation")]
    Contention {
        /// What was being updated.
        what: String,
    },
}

/// A problem with token encryption keys in the configuration.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// Key ids are 1–64 characters from `A-Z a-z 0-9 . _ -`.
    #[error(
        "invalid encryption key id {0:?}: use 1 to 64 characters from A-Z, a-z, 0-9, '.', '_' and '-'"
    )]
    InvalidKeyId(String),
    /// The key is not standard base64.
    #[error(
        "the encryption key is not valid standard base64; generate one with `openssl rand -base64 32`"
    )]
    NotBase64,
    /// The key does not decode to 32 bytes.
    #[error(
        "the encryption key decodes to {0} bytes, but AES-256 needs exactly 32; generate one with `openssl rand -base64 32`"
    )]
    WrongLength(usize),
    /// The same key id appears twice.
    #[error("encryption key id {0:?} appears more than once in the keyring")]
    DuplicateKeyId(String),
    /// The keyring specification holds no key.
    #[error("the keyring specification is empty; expected `key-id:base64[,old-key-id:base64...]`")]
    EmptySpec,
    /// An entry of the keyring specification has no `id:` prefix.
    #[error(
        "malformed keyring specification; expected `key-id:base64[,old-key-id:base64...]` with the current key first"
    )]
    MalformedSpec,
    /// The operating system's random generator failed.
    #[error("the operating system's secure random generator failed")]
    Rng,
}
