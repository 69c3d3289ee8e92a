//! The events that start the functions, and the function ids.
//!
//! The app creates a submission row (payload + captured fraud-prevention headers) and then
//! sends the event built by [`submission_requested`]. The event carries ids only: the
//! functions never trust an event for figures, they read the row.
//!
//! ```
//! use mtd_functions::events::{self, SubmissionRequested};
//! use mtd_store::SubmissionKind;
//! use uuid::Uuid;
//!
//! let (submission, credential) = (Uuid::new_v4(), Uuid::new_v4());
//! let event = events::submission_requested(SubmissionKind::Period, submission, credential);
//! assert_eq!(event.name, events::PERIOD_SUBMIT);
//! assert_eq!(event.data, SubmissionRequested { submission_id: submission, credential_id: credential });
//! // Sending the same submission twice starts one run: the event id is its idempotency key.
//! assert_eq!(event.id, Some(format!("mtd-period-{submission}")));
//! ```

use inngest::Event;
use mtd_store::SubmissionKind;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Starts `fetch-obligations` (data: [`ObligationsFetchRequested`]).
pub const OBLIGATIONS_FETCH: &str = "mtd/obligations.fetch.requested";
/// Starts `submit-period` (data: [`SubmissionRequested`]).
pub const PERIOD_SUBMIT: &str = "mtd/period.submit.requested";
/// Starts `submit-annual-summary` (data: [`SubmissionRequested`]).
pub const ANNUAL_SUMMARY_SUBMIT: &str = "mtd/annual-summary.submit.requested";
/// Starts `submit-eops` (data: [`SubmissionRequested`]).
pub const EOPS_SUBMIT: &str = "mtd/eops.submit.requested";
/// Starts `submit-crystallisation` (data: [`SubmissionRequested`]).
pub const CRYSTALLISATION_SUBMIT: &str = "mtd/crystallisation.submit.requested";

/// Function ids (the app id is chosen by the app: Inngest knows them as `<app id>-<id>`).
pub mod ids {
    /// Fetches obligations and caches them.
    pub const FETCH_OBLIGATIONS: &str = "fetch-obligations";
    /// Submits a quarterly update (period summary up to 2024-25, cumulative from 2025-26).
    pub const SUBMIT_PERIOD: &str = "submit-period";
    /// Submits an annual summary.
    pub const SUBMIT_ANNUAL_SUMMARY: &str = "submit-annual-summary";
    /// Submits an End of Period Statement (tax years up to 2023-24).
    pub const SUBMIT_EOPS: &str = "submit-eops";
    /// Triggers the final calculation, waits for it and makes the final declaration.
    pub const SUBMIT_CRYSTALLISATION: &str = "submit-crystallisation";
    /// The cron function that fans out one `fetch-obligations` per active credential.
    pub const SCHEDULED_OBLIGATIONS_REFRESH: &str = "scheduled-obligations-refresh";
}

/// Data of every submit event, and of a user-started obligations fetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubmissionRequested {
    /// The submission row the app created (kind, payload, captured fraud-prevention headers).
    pub submission_id: Uuid,
    /// The credential to use. Runs are serialised per credential (the functions' concurrency
    /// key, environment scope), so two runs never refresh the same grant at once.
    pub credential_id: Uuid,
}

/// Data of [`OBLIGATIONS_FETCH`]: a user-started fetch names the submission row the app
/// created (with the user's captured headers); a scheduled fetch has none, and the function
/// records one itself (with `BATCH_PROCESS_DIRECT` headers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObligationsFetchRequested {
    /// The credential whose obligations to fetch.
    pub credential_id: Uuid,
    /// The audit row of a user-started fetch; `None` for the scheduled refresh.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub submission_id: Option<Uuid>,
}

/// The event name that starts the function handling `kind`.
pub fn event_name(kind: SubmissionKind) -> &'static str {
    match kind {
        SubmissionKind::ObligationsFetch => OBLIGATIONS_FETCH,
        SubmissionKind::Period => PERIOD_SUBMIT,
        SubmissionKind::AnnualSummary => ANNUAL_SUMMARY_SUBMIT,
        SubmissionKind::Eops => EOPS_SUBMIT,
        SubmissionKind::Crystallisation => CRYSTALLISATION_SUBMIT,
    }
}

/// The event for a stored submission: the right name for its kind, ids only, and an event id
/// (`mtd-<kind>-<submission id>`) that makes sending it twice start one run.
pub fn submission_requested(
    kind: SubmissionKind,
    submission_id: Uuid,
    credential_id: Uuid,
) -> Event<SubmissionRequested> {
    Event::new(
        event_name(kind),
        SubmissionRequested {
            submission_id,
            credential_id,
        },
    )
    .id(format!(
        "mtd-{}-{submission_id}",
        kind.as_str().replace('_', "-")
    ))
}

/// The event of one scheduled obligations fetch (sent by the scheduled refresh).
pub fn scheduled_obligations_fetch(
    credential_id: Uuid,
    fan_out_run_id: &str,
) -> Event<ObligationsFetchRequested> {
    Event::new(
        OBLIGATIONS_FETCH,
        ObligationsFetchRequested {
            credential_id,
            submission_id: None,
        },
    )
    .id(format!(
        "mtd-scheduled-obligations-{fan_out_run_id}-{credential_id}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_its_own_event_and_a_user_fetch_decodes_as_a_fetch_request() {
        let names: std::collections::BTreeSet<_> =
            SubmissionKind::ALL.iter().map(|k| event_name(*k)).collect();
        assert_eq!(names.len(), SubmissionKind::ALL.len());
        let (s, c) = (Uuid::new_v4(), Uuid::new_v4());
        let event = submission_requested(SubmissionKind::ObligationsFetch, s, c);
        let value = serde_json::to_value(event.data).unwrap();
        let fetch: ObligationsFetchRequested = serde_json::from_value(value).unwrap();
        assert_eq!(fetch.submission_id, Some(s));
        assert_eq!(fetch.credential_id, c);
        assert_eq!(event.id.unwrap(), format!("mtd-obligations-fetch-{s}"));
    }
}
