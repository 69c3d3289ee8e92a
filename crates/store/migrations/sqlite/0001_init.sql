-- mtd-store schema, SQLite dialect. Keep in step with migrations/postgres/0001_init.sql:
-- the same tables, columns, constraints and rules; only types and trigger syntax differ.
-- Timestamps are RFC 3339 UTC text written by the store (microsecond precision), so they sort
-- and compare correctly as text. UUIDs are 16-byte blobs. JSON is text.

CREATE TABLE credentials (
    id                       BLOB    PRIMARY KEY NOT NULL,
    user_id                  TEXT    NOT NULL,
    nino                     TEXT    NOT NULL,
    access_token_enc         BLOB    NOT NULL,
    refresh_token_enc        BLOB    NOT NULL,
    token_key_id             TEXT    NOT NULL,
    access_expires_at        TEXT    NOT NULL,
    scope                    TEXT,
    status                   TEXT    NOT NULL CHECK (status IN ('active', 'expired')),
    expired_reason           TEXT,
    expired_at               TEXT,
    connected_at             TEXT    NOT NULL,
    reconnected_at           TEXT,
    refreshed_at             TEXT,
    updated_at               TEXT    NOT NULL,
    version                  INTEGER NOT NULL CHECK (version >= 1),
    refresh_lease_id         BLOB,
    refresh_lease_holder     TEXT,
    refresh_lease_expires_at TEXT,
    UNIQUE (user_id, nino),
    CHECK ((status = 'expired') = (expired_at IS NOT NULL AND expired_reason IS NOT NULL)),
    CHECK ((refresh_lease_id IS NULL) = (refresh_lease_expires_at IS NULL))
);

CREATE TABLE submissions (
    id                     BLOB    PRIMARY KEY NOT NULL,
    previous_attempt_id    BLOB    UNIQUE REFERENCES submissions (id),
    attempt                INTEGER NOT NULL CHECK (attempt >= 1),
    kind                   TEXT    NOT NULL CHECK (kind IN ('obligations_fetch', 'period', 'annual_summary', 'eops', 'crystallisation')),
    user_id                TEXT    NOT NULL,
    nino                   TEXT    NOT NULL,
    business_id            TEXT,
    tax_year               TEXT,
    period_start           TEXT,
    period_end             TEXT,
    payload                TEXT    NOT NULL,
    fraud_headers          TEXT    NOT NULL,
    status                 TEXT    NOT NULL CHECK (status IN ('processing', 'submitted', 'failed', 'rejected')),
    receipt_correlation_id TEXT,
    receipt_period_id      TEXT,
    receipt_submission_id  TEXT,
    receipt_calculation_id TEXT,
    rejection_errors       TEXT,
    failure_reason         TEXT    CHECK (failure_reason IN ('auth', 'transient_exhausted', 'misconfiguration')),
    failure_detail         TEXT,
    hmrc_http_status       INTEGER,
    hmrc_code              TEXT,
    hmrc_correlation_id    TEXT,
    hmrc_body              TEXT,
    inngest_run_id         TEXT,
    idempotency_key        TEXT    UNIQUE,
    created_at             TEXT    NOT NULL,
    updated_at             TEXT    NOT NULL,
    completed_at           TEXT,
    CHECK ((status = 'failed') = (failure_reason IS NOT NULL)),
    CHECK ((status = 'processing') = (completed_at IS NULL))
);

CREATE INDEX submissions_by_user ON submissions (user_id, created_at);
CREATE INDEX submissions_by_status ON submissions (status);

-- What a submission is (who, what, which figures) never changes after it is created.
CREATE TRIGGER submissions_identity_is_immutable
BEFORE UPDATE ON submissions
WHEN NEW.id IS NOT OLD.id
  OR NEW.previous_attempt_id IS NOT OLD.previous_attempt_id
  OR NEW.attempt IS NOT OLD.attempt
  OR NEW.kind IS NOT OLD.kind
  OR NEW.user_id IS NOT OLD.user_id
  OR NEW.nino IS NOT OLD.nino
  OR NEW.business_id IS NOT OLD.business_id
  OR NEW.tax_year IS NOT OLD.tax_year
  OR NEW.period_start IS NOT OLD.period_start
  OR NEW.period_end IS NOT OLD.period_end
  OR NEW.payload IS NOT OLD.payload
  OR NEW.fraud_headers IS NOT OLD.fraud_headers
  OR NEW.idempotency_key IS NOT OLD.idempotency_key
  OR NEW.created_at IS NOT OLD.created_at
  OR (OLD.inngest_run_id IS NOT NULL AND NEW.inngest_run_id IS NOT OLD.inngest_run_id)
BEGIN
    SELECT RAISE(ABORT, 'submission identity, figures and run id are immutable; resubmit to create a new attempt');
END;

-- The status state machine: processing -> submitted | failed | rejected; rejected -> failed
-- (the history repair). Nothing leaves submitted or failed.
CREATE TRIGGER submissions_status_transition
BEFORE UPDATE OF status ON submissions
WHEN NEW.status IS NOT OLD.status
 AND NOT ((OLD.status = 'processing' AND NEW.status IN ('submitted', 'failed', 'rejected'))
       OR (OLD.status = 'rejected' AND NEW.status = 'failed'))
BEGIN
    SELECT RAISE(ABORT, 'submission status transition not allowed by the state machine');
END;

-- HMRC's answer is recorded once, when the submission leaves processing.
CREATE TRIGGER submissions_outcome_is_recorded_once
BEFORE UPDATE ON submissions
WHEN OLD.status <> 'processing'
 AND (NEW.receipt_correlation_id IS NOT OLD.receipt_correlation_id
   OR NEW.receipt_period_id IS NOT OLD.receipt_period_id
   OR NEW.receipt_submission_id IS NOT OLD.receipt_submission_id
   OR NEW.receipt_calculation_id IS NOT OLD.receipt_calculation_id
   OR NEW.rejection_errors IS NOT OLD.rejection_errors
   OR NEW.hmrc_http_status IS NOT OLD.hmrc_http_status
   OR NEW.hmrc_code IS NOT OLD.hmrc_code
   OR NEW.hmrc_correlation_id IS NOT OLD.hmrc_correlation_id
   OR NEW.hmrc_body IS NOT OLD.hmrc_body
   OR NEW.completed_at IS NOT OLD.completed_at
   OR (OLD.status = 'failed' AND (NEW.failure_reason IS NOT OLD.failure_reason
                               OR NEW.failure_detail IS NOT OLD.failure_detail)))
BEGIN
    SELECT RAISE(ABORT, 'the HMRC outcome of a finished submission cannot be changed');
END;

CREATE TABLE submission_history (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    submission_id BLOB    NOT NULL REFERENCES submissions (id),
    from_status   TEXT    CHECK (from_status IN ('processing', 'submitted', 'failed', 'rejected')),
    to_status     TEXT    NOT NULL CHECK (to_status IN ('processing', 'submitted', 'failed', 'rejected')),
    actor         TEXT    NOT NULL,
    reason        TEXT    NOT NULL,
    at            TEXT    NOT NULL
);

CREATE INDEX submission_history_by_submission ON submission_history (submission_id, seq);

CREATE TRIGGER submission_history_no_update
BEFORE UPDATE ON submission_history
BEGIN
    SELECT RAISE(ABORT, 'submission history is append-only');
END;

CREATE TRIGGER submission_history_no_delete
BEFORE DELETE ON submission_history
BEGIN
    SELECT RAISE(ABORT, 'submission history is append-only');
END;

CREATE TABLE notifications (
    id            BLOB PRIMARY KEY NOT NULL,
    user_id       TEXT NOT NULL,
    kind          TEXT NOT NULL CHECK (kind IN ('reconnect_hmrc', 'figures_rejected', 'submission_failed', 'submission_accepted', 'resubmit_needed')),
    title         TEXT NOT NULL,
    body          TEXT NOT NULL,
    submission_id BLOB REFERENCES submissions (id),
    credential_id BLOB REFERENCES credentials (id) ON DELETE SET NULL,
    dedupe_key    TEXT UNIQUE,
    created_at    TEXT NOT NULL,
    read_at       TEXT
);

CREATE INDEX notifications_by_user ON notifications (user_id, created_at);

CREATE TABLE obligations_cache (
    user_id     TEXT NOT NULL,
    business_id TEXT NOT NULL,
    nino        TEXT NOT NULL,
    obligations TEXT NOT NULL,
    fetched_at  TEXT NOT NULL,
    PRIMARY KEY (user_id, business_id)
);
