-- mtd-store schema, PostgreSQL dialect. Keep in step with migrations/sqlite/0001_init.sql:
-- the same tables, columns, constraints and rules; only types and trigger syntax differ.

CREATE TABLE credentials (
    id                       UUID        PRIMARY KEY,
    user_id                  TEXT        NOT NULL,
    nino                     TEXT        NOT NULL,
    access_token_enc         BYTEA       NOT NULL,
    refresh_token_enc        BYTEA       NOT NULL,
    token_key_id             TEXT        NOT NULL,
    access_expires_at        TIMESTAMPTZ NOT NULL,
    scope                    TEXT,
    status                   TEXT        NOT NULL CHECK (status IN ('active', 'expired')),
    expired_reason           TEXT,
    expired_at               TIMESTAMPTZ,
    connected_at             TIMESTAMPTZ NOT NULL,
    reconnected_at           TIMESTAMPTZ,
    refreshed_at             TIMESTAMPTZ,
    updated_at               TIMESTAMPTZ NOT NULL,
    version                  BIGINT      NOT NULL CHECK (version >= 1),
    refresh_lease_id         UUID,
    refresh_lease_holder     TEXT,
    refresh_lease_expires_at TIMESTAMPTZ,
    UNIQUE (user_id, nino),
    CHECK ((status = 'expired') = (expired_at IS NOT NULL AND expired_reason IS NOT NULL)),
    CHECK ((refresh_lease_id IS NULL) = (refresh_lease_expires_at IS NULL))
);

CREATE TABLE submissions (
    id                     UUID        PRIMARY KEY,
    previous_attempt_id    UUID        UNIQUE REFERENCES submissions (id),
    attempt                INTEGER     NOT NULL CHECK (attempt >= 1),
    kind                   TEXT        NOT NULL CHECK (kind IN ('obligations_fetch', 'period', 'annual_summary', 'eops', 'crystallisation')),
    user_id                TEXT        NOT NULL,
    nino                   TEXT        NOT NULL,
    business_id            TEXT,
    tax_year               TEXT,
    period_start           DATE,
    period_end             DATE,
    payload                JSONB       NOT NULL,
    fraud_headers          JSONB       NOT NULL,
    status                 TEXT        NOT NULL CHECK (status IN ('processing', 'submitted', 'failed', 'rejected')),
    receipt_correlation_id TEXT,
    receipt_period_id      TEXT,
    receipt_submission_id  TEXT,
    receipt_calculation_id TEXT,
    rejection_errors       JSONB,
    failure_reason         TEXT        CHECK (failure_reason IN ('auth', 'transient_exhausted', 'misconfiguration')),
    failure_detail         TEXT,
    hmrc_http_status       INTEGER,
    hmrc_code              TEXT,
    hmrc_correlation_id    TEXT,
    hmrc_body              JSONB,
    inngest_run_id         TEXT,
    idempotency_key        TEXT        UNIQUE,
    created_at             TIMESTAMPTZ NOT NULL,
    updated_at             TIMESTAMPTZ NOT NULL,
    completed_at           TIMESTAMPTZ,
    CHECK ((status = 'failed') = (failure_reason IS NOT NULL)),
    CHECK ((status = 'processing') = (completed_at IS NULL))
);

CREATE INDEX submissions_by_user ON submissions (user_id, created_at);
CREATE INDEX submissions_by_status ON submissions (status);

CREATE FUNCTION mtd_submissions_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- What a submission is (who, what, which figures) never changes after it is created.
    IF NEW.id IS DISTINCT FROM OLD.id
       OR NEW.previous_attempt_id IS DISTINCT FROM OLD.previous_attempt_id
       OR NEW.attempt IS DISTINCT FROM OLD.attempt
       OR NEW.kind IS DISTINCT FROM OLD.kind
       OR NEW.user_id IS DISTINCT FROM OLD.user_id
       OR NEW.nino IS DISTINCT FROM OLD.nino
       OR NEW.business_id IS DISTINCT FROM OLD.business_id
       OR NEW.tax_year IS DISTINCT FROM OLD.tax_year
       OR NEW.period_start IS DISTINCT FROM OLD.period_start
       OR NEW.period_end IS DISTINCT FROM OLD.period_end
       OR NEW.payload IS DISTINCT FROM OLD.payload
       OR NEW.fraud_headers IS DISTINCT FROM OLD.fraud_headers
       OR NEW.idempotency_key IS DISTINCT FROM OLD.idempotency_key
       OR NEW.created_at IS DISTINCT FROM OLD.created_at
       OR (OLD.inngest_run_id IS NOT NULL AND NEW.inngest_run_id IS DISTINCT FROM OLD.inngest_run_id) THEN
        RAISE EXCEPTION 'submission identity, figures and run id are immutable; resubmit to create a new attempt';
    END IF;
    -- The status state machine: processing -> submitted | failed | rejected; rejected -> failed
    -- (the history repair). Nothing leaves submitted or failed.
    IF NEW.status IS DISTINCT FROM OLD.status
       AND NOT ((OLD.status = 'processing' AND NEW.status IN ('submitted', 'failed', 'rejected'))
             OR (OLD.status = 'rejected' AND NEW.status = 'failed')) THEN
        RAISE EXCEPTION 'submission status transition not allowed by the state machine';
    END IF;
    -- HMRC's answer is recorded once, when the submission leaves processing.
    IF OLD.status <> 'processing'
       AND (NEW.receipt_correlation_id IS DISTINCT FROM OLD.receipt_correlation_id
         OR NEW.receipt_period_id IS DISTINCT FROM OLD.receipt_period_id
         OR NEW.receipt_submission_id IS DISTINCT FROM OLD.receipt_submission_id
         OR NEW.receipt_calculation_id IS DISTINCT FROM OLD.receipt_calculation_id
         OR NEW.rejection_errors IS DISTINCT FROM OLD.rejection_errors
         OR NEW.hmrc_http_status IS DISTINCT FROM OLD.hmrc_http_status
         OR NEW.hmrc_code IS DISTINCT FROM OLD.hmrc_code
         OR NEW.hmrc_correlation_id IS DISTINCT FROM OLD.hmrc_correlation_id
         OR NEW.hmrc_body IS DISTINCT FROM OLD.hmrc_body
         OR NEW.completed_at IS DISTINCT FROM OLD.completed_at
         OR (OLD.status = 'failed' AND (NEW.failure_reason IS DISTINCT FROM OLD.failure_reason
                                     OR NEW.failure_detail IS DISTINCT FROM OLD.failure_detail))) THEN
        RAISE EXCEPTION 'the HMRC outcome of a finished submission cannot be changed';
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER submissions_guard
BEFORE UPDATE ON submissions
FOR EACH ROW EXECUTE FUNCTION mtd_submissions_guard();

CREATE TABLE submission_history (
    seq           BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    submission_id UUID        NOT NULL REFERENCES submissions (id),
    from_status   TEXT        CHECK (from_status IN ('processing', 'submitted', 'failed', 'rejected')),
    to_status     TEXT        NOT NULL CHECK (to_status IN ('processing', 'submitted', 'failed', 'rejected')),
    actor         TEXT        NOT NULL,
    reason        TEXT        NOT NULL,
    at            TIMESTAMPTZ NOT NULL
);

CREATE INDEX submission_history_by_submission ON submission_history (submission_id, seq);

CREATE FUNCTION mtd_history_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'submission history is append-only';
END;
$$;

CREATE TRIGGER submission_history_append_only
BEFORE UPDATE OR DELETE ON submission_history
FOR EACH ROW EXECUTE FUNCTION mtd_history_append_only();

CREATE TABLE notifications (
    id            UUID        PRIMARY KEY,
    user_id       TEXT        NOT NULL,
    kind          TEXT        NOT NULL CHECK (kind IN ('reconnect_hmrc', 'figures_rejected', 'submission_failed', 'submission_accepted', 'resubmit_needed')),
    title         TEXT        NOT NULL,
    body          TEXT        NOT NULL,
    submission_id UUID        REFERENCES submissions (id),
    credential_id UUID        REFERENCES credentials (id) ON DELETE SET NULL,
    dedupe_key    TEXT        UNIQUE,
    created_at    TIMESTAMPTZ NOT NULL,
    read_at       TIMESTAMPTZ
);

CREATE INDEX notifications_by_user ON notifications (user_id, created_at);

CREATE TABLE obligations_cache (
    user_id     TEXT        NOT NULL,
    business_id TEXT        NOT NULL,
    nino        TEXT        NOT NULL,
    obligations JSONB       NOT NULL,
    fetched_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (user_id, business_id)
);
