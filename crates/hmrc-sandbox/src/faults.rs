//! Fault injection: make an endpoint answer with an error status, answer late, drop the
//! connection without an HTTP answer, or throttle with `Retry-After`, for the next N calls or a
//! fraction of calls.

use serde::{Deserialize, Serialize};

/// What happens to a call hit by a fault.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase", deny_unknown_fields)]
pub enum FaultAction {
    /// Answer with this status and HMRC's body for it (`code`/`message` default to HMRC's
    /// platform error for the status: 500 `INTERNAL_SERVER_ERROR`, 502 `BAD_GATEWAY`,
    /// 503 `SERVER_ERROR`, 504 `GATEWAY_TIMEOUT`; on the token endpoint, OAuth's
    /// `server_error`/`temporarily_unavailable`).
    #[serde(rename_all = "camelCase")]
    Status {
        /// HTTP status.
        status: u16,
        /// Error code in the body.
        #[serde(default)]
        code: Option<String>,
        /// Error message in the body.
        #[serde(default)]
        message: Option<String>,
    },
    /// Wait this long, then handle the call normally.
    #[serde(rename_all = "camelCase")]
    Delay {
        /// Milliseconds to wait.
        millis: u64,
    },
    /// Close the connection without sending any HTTP response.
    Drop,
    /// Answer `400` (or `status`) with HMRC's multi-error body:
    /// `{"code":"INVALID_REQUEST","message":"Invalid request","errors":[...]}`, the entries
    /// sorted by code as HMRC sorts them.
    #[serde(rename_all = "camelCase")]
    InvalidRequest {
        /// HTTP status (default 400).
        #[serde(default = "default_invalid_request_status")]
        status: u16,
        /// The entries of `errors[]`.
        errors: Vec<FaultError>,
    },
    /// Answer 429 `MESSAGE_THROTTLED_OUT` with a `Retry-After` header.
    #[serde(rename_all = "camelCase")]
    RateLimited {
        /// Seconds in `Retry-After`.
        retry_after_secs: u64,
    },
}

fn default_invalid_request_status() -> u16 {
    400
}

/// One entry of the `errors[]` array of a [`FaultAction::InvalidRequest`] answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FaultError {
    /// HMRC's error code, e.g. `RULE_BOTH_EXPENSES_SUPPLIED`.
    pub code: String,
    /// The message.
    pub message: String,
    /// JSON pointers to the fields in error (omitted from the answer when empty).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub paths: Vec<String>,
}

impl FaultError {
    /// An entry with `code`, `message` and `paths`.
    pub fn new(code: impl Into<String>, message: impl Into<String>, paths: &[&str]) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
            paths: paths.iter().map(|p| (*p).to_owned()).collect(),
        }
    }
}

/// A fault to install.
///
/// ```
/// use hmrc_sandbox::{FaultAction, FaultSpec};
/// let spec = FaultSpec::new("se-cumulative", FaultAction::Status { status: 503, code: None, message: None })
///     .times(2);
/// let json = serde_json::to_value(&spec).unwrap();
/// assert_eq!(json["action"]["kind"], "status");
/// assert_eq!(json["times"], 2);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FaultSpec {
    /// The endpoint ID (see `GET /_admin/endpoints`), or `*` for every endpoint.
    pub endpoint: String,
    /// What to do.
    pub action: FaultAction,
    /// Fire for the next `times` matching calls only (then the fault is spent).
    #[serde(default)]
    pub times: Option<u32>,
    /// Fire for this fraction of matching calls (0.0 to 1.0), spread evenly and
    /// deterministically: 0.5 hits every second call.
    #[serde(default)]
    pub fraction: Option<f64>,
}

impl FaultSpec {
    /// A fault on `endpoint` firing on every call until removed.
    pub fn new(endpoint: impl Into<String>, action: FaultAction) -> Self {
        Self {
            endpoint: endpoint.into(),
            action,
            times: None,
            fraction: None,
        }
    }

    /// Fire for the next `n` calls only.
    pub fn times(mut self, n: u32) -> Self {
        self.times = Some(n);
        self
    }

    /// Fire for a fraction of calls.
    pub fn fraction(mut self, fraction: f64) -> Self {
        self.fraction = Some(fraction);
        self
    }

    /// Checks the spec is usable.
    pub(crate) fn check(&self) -> Result<(), String> {
        if let Some(f) = self.fraction
            && (!(0.0..=1.0).contains(&f) || f.is_nan())
        {
            return Err("fraction must be between 0.0 and 1.0".to_owned());
        }
        match &self.action {
            FaultAction::Status { status, .. } | FaultAction::InvalidRequest { status, .. }
                if !(400..=599).contains(status) =>
            {
                return Err("a fault status must be an error status from 400 to 599".to_owned());
            }
            FaultAction::InvalidRequest { errors, .. } if errors.is_empty() => {
                return Err("an invalidRequest fault needs at least one entry in errors".to_owned());
            }
            _ => {}
        }
        if self.endpoint.is_empty() {
            return Err("endpoint must be an endpoint ID or *".to_owned());
        }
        Ok(())
    }
}

/// An installed fault and its counters.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Fault {
    /// ID for removal.
    pub id: u64,
    /// What was installed.
    #[serde(flatten)]
    pub spec: FaultSpec,
    /// Matching calls seen.
    pub seen: u64,
    /// Calls the fault fired on.
    pub fired: u64,
}

impl Fault {
    /// Whether this fault applies to `endpoint` and is not spent.
    fn live_for(&self, endpoint: &str) -> bool {
        let matches = self.spec.endpoint == "*" || self.spec.endpoint == endpoint;
        let spent = self.spec.times.is_some_and(|n| self.fired >= u64::from(n));
        matches && !spent
    }

    /// Counts one matching call and says whether the fault fires on it.
    fn hit(&mut self) -> bool {
        let n = self.seen;
        self.seen += 1;
        let fires = match self.spec.fraction {
            None => true,
            Some(f) => {
                // Bresenham-style spreading: fire when the running total crosses an integer.
                let before = (n as f64 * f).floor();
                let after = ((n + 1) as f64 * f).floor();
                after > before
            }
        };
        if fires {
            self.fired += 1;
        }
        fires
    }
}

/// Picks the action for a call to `endpoint`, updating the counters.
pub(crate) fn select(faults: &mut [Fault], endpoint: &str) -> Option<FaultAction> {
    let mut chosen = None;
    for fault in faults.iter_mut().filter(|f| f.live_for(endpoint)) {
        if fault.hit() && chosen.is_none() {
            chosen = Some(fault.spec.action.clone());
        }
    }
    chosen
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fault(spec: FaultSpec) -> Fault {
        Fault {
            id: 1,
            spec,
            seen: 0,
            fired: 0,
        }
    }

    #[test]
    fn times_limits_the_number_of_hits() {
        let mut faults = vec![fault(FaultSpec::new("a", FaultAction::Drop).times(2))];
        let hits: Vec<_> = (0..4).map(|_| select(&mut faults, "a").is_some()).collect();
        assert_eq!(hits, vec![true, true, false, false]);
        assert!(select(&mut faults, "b").is_none());
    }

    #[test]
    fn fractions_are_spread_evenly() {
        let mut faults = vec![fault(FaultSpec::new("*", FaultAction::Drop).fraction(0.5))];
        let hits: Vec<_> = (0..6).map(|_| select(&mut faults, "x").is_some()).collect();
        assert_eq!(hits, vec![false, true, false, true, false, true]);
        let mut third = vec![fault(
            FaultSpec::new("*", FaultAction::Drop).fraction(1.0 / 3.0),
        )];
        let count = (0..9).filter(|_| select(&mut third, "x").is_some()).count();
        assert_eq!(count, 3);
    }

    #[test]
    fn bad_specs_are_refused() {
        assert!(
            FaultSpec::new("a", FaultAction::Drop)
                .fraction(1.5)
                .check()
                .is_err()
        );
        let ok_status = FaultSpec::new(
            "a",
            FaultAction::Status {
                status: 200,
                code: None,
                message: None,
            },
        );
        assert!(ok_status.check().is_err());
    }

    #[test]
    fn actions_round_trip_as_json() {
        let spec = FaultSpec::new(
            "se-period-create",
            FaultAction::RateLimited {
                retry_after_secs: 3,
            },
        )
        .times(1);
        let json = serde_json::to_value(&spec).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"endpoint": "se-period-create",
                "action": {"kind": "rateLimited", "retryAfterSecs": 3},
                "times": 1, "fraction": null})
        );
        let back: FaultSpec = serde_json::from_value(json).unwrap();
        assert_eq!(back, spec);
    }
}
