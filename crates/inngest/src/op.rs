//! Outgoing opcodes: the objects of a `206` answer.
//!
//! Only opcode strings the server parses are representable (`StepNotFound` is not: a
//! missing targeted step is answered with a `500`).
//!
//! ```
//! use inngest::op::{Op, Opcode};
//!
//! let op = Op::planned(Opcode::Sleep, "nap", None, Some("1h".into()), serde_json::json!({}));
//! let json = serde_json::to_value(&op).unwrap();
//! assert_eq!(json["op"], "Sleep");
//! assert_eq!(json["name"], "1h");
//! assert_eq!(json["data"], serde_json::Value::Null);
//! ```

use serde::Serialize;
use serde_json::Value;
use serde_json::value::RawValue;

use crate::error::WireError;
use crate::hash::step_hash;

/// Opcode strings sent by this SDK.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Opcode {
    /// A run step executed in this request; `data` is its output.
    StepRun,
    /// A step failed and will be retried.
    StepError,
    /// A step failed for good (last attempt or non-retriable).
    StepFailed,
    /// A run step found but not executed (parallelism or immediate execution disabled).
    StepPlanned,
    /// `step.sleep` / `step.sleep_until`.
    Sleep,
    /// `step.wait_for_event`.
    WaitForEvent,
    /// `step.invoke`.
    InvokeFunction,
}

/// `userland`: the step id as written in the code and its repeat index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Userland {
    /// The id as written in the code.
    pub id: String,
    /// The repeat index (absent for the first occurrence).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<u32>,
}

/// `timing`: start (ns since the Unix epoch) and duration (ns) of an executed step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Timing {
    /// Start, ns since the Unix epoch.
    pub a: u128,
    /// Duration, ns.
    pub b: u128,
}

/// One op of a `206` answer.
#[derive(Debug, Clone, Serialize)]
pub struct Op {
    /// Hashed step id.
    pub id: String,
    /// Opcode.
    pub op: Opcode,
    /// Legacy name: the step id for run steps, the duration or time of a sleep, the event of
    /// a wait; absent for invokes (as in the JS SDK).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Options (always an object).
    pub opts: Value,
    /// Name shown in the Inngest UI.
    #[serde(rename = "displayName")]
    pub display_name: String,
    /// Unhashed id and repeat index.
    pub userland: Userland,
    /// Error of a `StepError`/`StepFailed`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) error: Option<WireError>,
    /// Timing of an executed step.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timing: Option<Timing>,
    /// Output of a `StepRun` (JSON `null` when absent; never wrapped in `{"data": ...}`).
    pub data: Option<Box<RawValue>>,
}

impl Op {
    /// A reported (not executed) op for the step `id` (unhashed) with the given name and opts.
    pub fn planned(
        op: Opcode,
        id: &str,
        index: Option<u32>,
        name: Option<String>,
        opts: Value,
    ) -> Self {
        let hashed_input = match index {
            Some(n) => format!("{id}:{n}"),
            None => id.to_owned(),
        };
        Op {
            id: step_hash(&hashed_input),
            op,
            name,
            opts,
            display_name: id.to_owned(),
            userland: Userland {
                id: id.to_owned(),
                index,
            },
            error: None,
            timing: None,
            data: None,
        }
    }

    /// The error object of a `StepError`/`StepFailed`, as JSON.
    pub fn error_json(&self) -> Option<Value> {
        self.error
            .as_ref()
            .and_then(|e| serde_json::to_value(e).ok())
    }
}

/// Serialises ops as the JSON array of a `206` answer.
pub fn to_body(ops: &[Op]) -> Vec<u8> {
    serde_json::to_vec(ops).unwrap_or_else(|_| b"[]".to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn planned_run_ops_look_like_the_js_sdk() {
        let op = Op::planned(
            Opcode::StepPlanned,
            "a",
            None,
            Some("a".into()),
            serde_json::json!({}),
        );
        let json = serde_json::to_value(&op).expect("serialise");
        assert_eq!(
            json,
            serde_json::json!({"id":"86f7e437faa5a7fce15d1ddcb9eaeaea377667b8","op":"StepPlanned",
                "name":"a","opts":{},"displayName":"a","userland":{"id":"a"},"data":null})
        );
    }

    #[test]
    fn repeats_carry_the_index_and_hash_the_suffixed_id() {
        let op = Op::planned(
            Opcode::StepPlanned,
            "a",
            Some(1),
            Some("a".into()),
            Value::Null,
        );
        assert_eq!(op.id, "de89bfaf06245091a7873290a793604612302247");
        assert_eq!(op.userland.index, Some(1));
    }

    #[test]
    fn invoke_ops_have_no_name() {
        let op = Op::planned(
            Opcode::InvokeFunction,
            "inv",
            None,
            None,
            serde_json::json!({}),
        );
        let json = serde_json::to_value(&op).expect("serialise");
        assert!(json.get("name").is_none());
        assert_eq!(json["op"], "InvokeFunction");
    }
}
