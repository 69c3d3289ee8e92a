//! The submission status state machine (pure, no IO).
//!
//! ```text
//!                 ┌──────────► submitted        (HMRC accepted; final)
//!   create ──► processing ───► rejected ──┐     (HMRC refused the figures)
//!                 └──────────► failed ◄───┘     (auth, transient exhausted, misconfiguration; final)
//!                                   ▲
//!                     only the history repair relabels rejected → failed
//! ```
//!
//! * A submission enters `processing` only when it is created; nothing moves back into it.
//! * `processing` → `submitted` | `failed` | `rejected`, recorded by the run that talked to HMRC.
//! * `rejected` → `failed` only by the history repair, for old records whose HMRC answer was
//!   really an authorisation failure.
//! * Nothing leaves `submitted` or `failed`. To try again, resubmit: that creates a new attempt
//!   linked to the old one, and the old record is never overwritten.
//! * Recording the status a submission already has is a no-op (no history entry), so a durable
//!   step that is retried after its write committed succeeds instead of failing the run.
//!
//! The database enforces the same transitions with triggers, as a second line of defence.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Where a submission stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubmissionStatus {
    /// Created; the run is talking to HMRC (and retrying transient faults).
    Processing,
    /// HMRC accepted it; the receipt is recorded. Final.
    Submitted,
    /// It could not be sent: authorisation lost, retries exhausted, or platform
    /// misconfiguration. Final; resubmit to try again.
    Failed,
    /// HMRC refused the figures (`FORMAT_*`/`RULE_*` codes, recorded with their JSON paths).
    Rejected,
}

impl SubmissionStatus {
    /// Every status.
    pub const ALL: [Self; 4] = [
        Self::Processing,
        Self::Submitted,
        Self::Failed,
        Self::Rejected,
    ];

    /// The stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Processing => "processing",
            Self::Submitted => "submitted",
            Self::Failed => "failed",
            Self::Rejected => "rejected",
        }
    }

    /// Whether a change from `self` to `to`, asked for by `origin`, is allowed.
    ///
    /// ```
    /// use mtd_store::{SubmissionStatus::*, TransitionCheck, TransitionOrigin::*};
    /// assert_eq!(Processing.check_transition(Submitted, Run), Ok(TransitionCheck::Apply));
    /// assert_eq!(Submitted.check_transition(Submitted, Run), Ok(TransitionCheck::AlreadyThere));
    /// assert!(Submitted.check_transition(Failed, Run).is_err());
    /// assert!(Rejected.check_transition(Failed, Run).is_err());
    /// assert_eq!(Rejected.check_transition(Failed, HistoryRepair), Ok(TransitionCheck::Apply));
    /// ```
    pub fn check_transition(
        self,
        to: Self,
        origin: TransitionOrigin,
    ) -> Result<TransitionCheck, TransitionError> {
        use SubmissionStatus::*;
        use TransitionOrigin::*;
        let refuse = |rule: &'static str| TransitionError {
            from: self,
            to,
            origin,
            rule,
        };
        match (self, to, origin) {
            (Processing, Processing, _) => Err(refuse(
                "a submission enters processing only when it is created",
            )),
            (from, to, _) if from == to => Ok(TransitionCheck::AlreadyThere),
            (Processing, Submitted | Failed | Rejected, Run) => Ok(TransitionCheck::Apply),
            (Processing, _, HistoryRepair) => Err(refuse(
                "the history repair only relabels rejected submissions",
            )),
            (Rejected, Failed, HistoryRepair) => Ok(TransitionCheck::Apply),
            (Rejected, Failed, Run) => Err(refuse(
                "only the history repair may relabel a rejected submission as failed",
            )),
            (Submitted, _, _) => Err(refuse("nothing leaves submitted")),
            (Failed, _, _) => Err(refuse(
                "a failed submission is final; resubmit to create a new attempt",
            )),
            (_, Processing, _) => Err(refuse(
                "a submission enters processing only when it is created",
            )),
            (Rejected, _, _) => Err(refuse(
                "a rejected submission is final; resubmit corrected figures as a new attempt",
            )),
        }
    }
}

impl fmt::Display for SubmissionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SubmissionStatus {
    type Err = crate::StoreError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| crate::StoreError::Corrupt {
                what: "submission status",
                value: s.to_owned(),
            })
    }
}

/// Who asks for a status change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransitionOrigin {
    /// The run that submitted to HMRC, recording HMRC's answer.
    Run,
    /// The history repair, relabelling old mislabelled records.
    HistoryRepair,
}

/// What an allowed transition amounts to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransitionCheck {
    /// Change the status and append a history entry.
    Apply,
    /// The submission already has that status: nothing to do (a retried step).
    AlreadyThere,
}

/// A refused status change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a submission cannot move from {from} to {to} ({origin:?}): {rule}")]
pub struct TransitionError {
    /// The current status.
    pub from: SubmissionStatus,
    /// The status asked for.
    pub to: SubmissionStatus,
    /// Who asked.
    pub origin: TransitionOrigin,
    /// The rule that refuses it.
    pub rule: &'static str,
}

#[cfg(test)]
mod tests {
    use super::SubmissionStatus::*;
    use super::TransitionOrigin::*;
    use super::*;

    #[test]
    fn the_full_transition_table() {
        use TransitionCheck::*;
        let table = [
            (Processing, Processing, Run, None),
            (Processing, Submitted, Run, Some(Apply)),
            (Processing, Failed, Run, Some(Apply)),
            (Processing, Rejected, Run, Some(Apply)),
            (Submitted, Processing, Run, None),
            (Submitted, Submitted, Run, Some(AlreadyThere)),
            (Submitted, Failed, Run, None),
            (Submitted, Rejected, Run, None),
            (Failed, Processing, Run, None),
            (Failed, Submitted, Run, None),
            (Failed, Failed, Run, Some(AlreadyThere)),
            (Failed, Rejected, Run, None),
            (Rejected, Processing, Run, None),
            (Rejected, Submitted, Run, None),
            (Rejected, Failed, Run, None),
            (Rejected, Rejected, Run, Some(AlreadyThere)),
            (Processing, Processing, HistoryRepair, None),
            (Processing, Submitted, HistoryRepair, None),
            (Processing, Failed, HistoryRepair, None),
            (Processing, Rejected, HistoryRepair, None),
            (Submitted, Failed, HistoryRepair, None),
            (Failed, Failed, HistoryRepair, Some(AlreadyThere)),
            (Failed, Rejected, HistoryRepair, None),
            (Rejected, Failed, HistoryRepair, Some(Apply)),
            (Rejected, Submitted, HistoryRepair, None),
            (Rejected, Processing, HistoryRepair, None),
        ];
        for (from, to, origin, expected) in table {
            assert_eq!(
                from.check_transition(to, origin).ok(),
                expected,
                "{from} -> {to} by {origin:?}"
            );
        }
    }

    #[test]
    fn refusals_name_the_rule() {
        let err = Submitted
            .check_transition(Failed, Run)
            .expect_err("nothing leaves submitted");
        assert_eq!(
            err.to_string(),
            "a submission cannot move from submitted to failed (Run): nothing leaves submitted"
        );
    }

    #[test]
    fn statuses_round_trip_through_text() {
        for status in SubmissionStatus::ALL {
            assert_eq!(
                status.as_str().parse::<SubmissionStatus>().ok(),
                Some(status)
            );
        }
        assert!("accepted".parse::<SubmissionStatus>().is_err());
    }
}
