//! The call request (`POST`) body and its memoised step state.
//!
//! Parsing is lenient where the official SDKs are lenient (missing `ctx`, `null` stacks,
//! absent `events`) and keeps memoised values as raw JSON until a step asks for them.
//!
//! ```
//! use inngest::request::{CallRequest, Memo};
//!
//! let (h1, h2) = (inngest::hash::StepHash::of("a"), inngest::hash::StepHash::of("b"));
//! let body = format!(r#"{{"event":{{"name":"a","data":{{}}}},"steps":{{"{h1}":{{"data":5}},"{h2}":null}},
//!   "ctx":{{"run_id":"r","attempt":0,"stack":{{"stack":["{h1}","{h2}"],"current":1}}}}}}"#);
//! let req = CallRequest::parse(body.as_bytes()).unwrap();
//! assert_eq!(req.ctx.stack.stack, [h1, h2]);
//! assert!(matches!(Memo::classify(&req.steps[0].1), Memo::Data(d) if d.get() == "5"));
//! assert!(matches!(Memo::classify(&req.steps[1].1), Memo::Data(d) if d.get() == "null"));
//! ```

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

use crate::hash::{StepHash, deserialize_lenient};

/// A parsed call request.
#[derive(Debug, Deserialize)]
pub struct CallRequest {
    /// The triggering event (the first of `events`).
    pub event: Box<RawValue>,
    /// All events of the run (a batch has several).
    #[serde(default, deserialize_with = "null_as_default")]
    pub events: Vec<Box<RawValue>>,
    /// Memoised step state: hashed step id and raw value, in the order the server sent them
    /// (keys that are not 40 hex digits can match no step and are skipped).
    #[serde(default)]
    pub steps: OrderedSteps,
    /// Execution context.
    #[serde(default, deserialize_with = "null_as_default")]
    pub ctx: CallContext,
    /// The run's request version; `-1` lets the SDK choose.
    #[serde(default = "minus_one")]
    pub version: i64,
    /// Deprecated top-level copy of `ctx.use_api`.
    #[serde(default)]
    pub use_api: bool,
}

fn minus_one() -> i64 {
    -1
}

fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// The `ctx` object of a call request.
#[derive(Debug, Default, Deserialize)]
pub struct CallContext {
    /// The run id (a ULID).
    #[serde(default)]
    pub run_id: String,
    /// Inngest's internal function UUID.
    #[serde(default)]
    pub fn_id: Option<String>,
    /// The environment name.
    #[serde(default)]
    pub env: Option<String>,
    /// The targeted step (`"step"` for discovery).
    #[serde(default)]
    pub step_id: Option<String>,
    /// 0-based attempt of this queue item.
    #[serde(default)]
    pub attempt: u32,
    /// Maximum attempts (retries + 1).
    #[serde(default)]
    pub max_attempts: Option<u32>,
    /// Completion order of memoised steps.
    #[serde(default, deserialize_with = "null_as_default")]
    pub stack: Stack,
    /// Set while a parallel group runs: every step must be planned, none executed inline.
    #[serde(default)]
    pub disable_immediate_execution: bool,
    /// The state is too large for the body: fetch it from the API.
    #[serde(default)]
    pub use_api: bool,
}

/// `ctx.stack`.
#[derive(Debug, Default, Deserialize)]
pub struct Stack {
    /// Hashed ids of memoised steps in completion order.
    #[serde(default, deserialize_with = "hash_list")]
    pub stack: Vec<StepHash>,
    /// Index of the current position.
    #[serde(default)]
    pub current: i64,
}

/// A JSON string that may be a hashed step id.
struct MaybeHash(Option<StepHash>);

impl<'de> Deserialize<'de> for MaybeHash {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserialize_lenient(deserializer).map(MaybeHash)
    }
}

fn hash_list<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<StepHash>, D::Error> {
    let list: Option<Vec<MaybeHash>> = Option::deserialize(deserializer)?;
    Ok(list
        .unwrap_or_default()
        .into_iter()
        .filter_map(|h| h.0)
        .collect())
}

/// Memoised steps in the order of the JSON object.
#[derive(Debug, Default)]
pub struct OrderedSteps(pub Vec<(StepHash, Box<RawValue>)>);

impl std::ops::Deref for OrderedSteps {
    type Target = Vec<(StepHash, Box<RawValue>)>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl<'de> Deserialize<'de> for OrderedSteps {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct StepsVisitor;
        impl<'de> Visitor<'de> for StepsVisitor {
            type Value = OrderedSteps;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of memoised steps")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(OrderedSteps::default())
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(OrderedSteps::default())
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::with_capacity(map.size_hint().unwrap_or(0));
                while let Some(MaybeHash(key)) = map.next_key::<MaybeHash>()? {
                    match key {
                        Some(k) => out.push((k, map.next_value::<Box<RawValue>>()?)),
                        None => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(OrderedSteps(out))
            }
        }
        deserializer.deserialize_any(StepsVisitor)
    }
}

/// Why a call request could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// The body is not a valid call request.
    #[error(
        "Failed to parse data from executor. Function execution can't continue. {0}. Make \
         sure the request body reaches the handler unchanged."
    )]
    Parse(#[from] serde_json::Error),
    /// Request version 0 is no longer supported.
    #[error("V0 execution version is no longer supported")]
    VersionZero,
}

impl CallRequest {
    /// Parses a call request body.
    pub fn parse(body: &[u8]) -> Result<Self, RequestError> {
        let req: CallRequest = serde_json::from_slice(body)?;
        if req.version == 0 {
            return Err(RequestError::VersionZero);
        }
        Ok(req)
    }

    /// Whether the state must be fetched from the API (`ctx.use_api` or the top-level flag).
    pub fn use_api(&self) -> bool {
        self.ctx.use_api || self.use_api
    }

    /// The completion order to replay in: `ctx.stack.stack`, or, when it is empty but steps
    /// are present (state fetched from the API), the order of the `steps` object.
    pub fn completion_order(&self) -> Vec<StepHash> {
        if self.ctx.stack.stack.is_empty() && !self.steps.is_empty() {
            self.steps.iter().map(|(k, _)| *k).collect()
        } else {
            self.ctx.stack.stack.clone()
        }
    }
}

/// What a memoised value means (the JS SDK's classification).
#[derive(Debug)]
pub enum Memo {
    /// A completed step's output: `{"data": x}` gives `x`; any value that is not a wrapper
    /// (raw `null` of a sleep, a raw event of a wait) is itself the data.
    Data(Box<RawValue>),
    /// A failed step's error: `{"error": {...}}`.
    Error(serde_json::Value),
    /// A step that has **not** completed but whose input was overridden: `{"input": [...]}`.
    Input(Box<RawValue>),
}

impl Memo {
    /// Classifies a memoised value: an object whose only key is `data`, `error` or `input`
    /// (optionally with a matching `"type"`) is that kind; anything else is data.
    pub fn classify(raw: &RawValue) -> Memo {
        let text = raw.get();
        if !text.trim_start().starts_with('{') {
            return Memo::Data(raw.to_owned());
        }
        let Ok(probe) = serde_json::from_str::<Probe<'_>>(text) else {
            return Memo::Data(raw.to_owned());
        };
        if probe.other {
            return Memo::Data(raw.to_owned());
        }
        let type_ok = |kind: &str| probe.ty.as_deref().is_none_or(|t| t == kind);
        match (probe.data, probe.error, probe.input) {
            (Some(data), None, None) if type_ok("data") => Memo::Data(data.to_owned()),
            (None, Some(error), None) if type_ok("error") => {
                Memo::Error(serde_json::from_str(error.get()).unwrap_or(serde_json::Value::Null))
            }
            (None, None, Some(input)) if type_ok("input") => Memo::Input(input.to_owned()),
            _ => Memo::Data(raw.to_owned()),
        }
    }
}

/// The keys of a memoised object, borrowed.
struct Probe<'a> {
    data: Option<&'a RawValue>,
    error: Option<&'a RawValue>,
    input: Option<&'a RawValue>,
    ty: Option<Cow<'a, str>>,
    other: bool,
}

impl<'de: 'a, 'a> Deserialize<'de> for Probe<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ProbeVisitor;
        impl<'de> Visitor<'de> for ProbeVisitor {
            type Value = Probe<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut probe = Probe {
                    data: None,
                    error: None,
                    input: None,
                    ty: None,
                    other: false,
                };
                while let Some(key) = map.next_key::<Cow<'de, str>>()? {
                    match key.as_ref() {
                        "data" => probe.data = Some(map.next_value()?),
                        "error" => probe.error = Some(map.next_value()?),
                        "input" => probe.input = Some(map.next_value()?),
                        "type" => match map.next_value::<Option<Cow<'de, str>>>() {
                            Ok(Some(t)) => probe.ty = Some(t),
                            _ => probe.other = true,
                        },
                        _ => {
                            probe.other = true;
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(probe)
            }
        }
        deserializer.deserialize_map(ProbeVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(s: &str) -> Box<RawValue> {
        RawValue::from_string(s.to_owned()).expect("valid json")
    }

    #[test]
    fn every_memo_kind_is_classified() {
        assert!(
            matches!(Memo::classify(&raw(r#"{"data":{"a":1}}"#)), Memo::Data(d) if d.get() == r#"{"a":1}"#)
        );
        assert!(
            matches!(Memo::classify(&raw(r#"{"data":null}"#)), Memo::Data(d) if d.get() == "null")
        );
        assert!(matches!(Memo::classify(&raw("null")), Memo::Data(d) if d.get() == "null"));
        assert!(
            matches!(Memo::classify(&raw(r#"{"error":{"name":"Error","message":"x"}}"#)), Memo::Error(e) if e["message"] == "x")
        );
        assert!(
            matches!(Memo::classify(&raw(r#"{"input":[1,2]}"#)), Memo::Input(i) if i.get() == "[1,2]")
        );
        let event = r#"{"name":"approved","data":{"by":"me"},"id":"x","ts":1}"#;
        assert!(matches!(Memo::classify(&raw(event)), Memo::Data(d) if d.get() == event));
    }

    #[test]
    fn wrappers_with_extra_keys_or_wrong_types_are_plain_data() {
        let v = r#"{"data":1,"other":2}"#;
        assert!(matches!(Memo::classify(&raw(v)), Memo::Data(d) if d.get() == v));
        let v = r#"{"type":"error","data":1}"#;
        assert!(matches!(Memo::classify(&raw(v)), Memo::Data(d) if d.get() == v));
        assert!(
            matches!(Memo::classify(&raw(r#"{"type":"data","data":1}"#)), Memo::Data(d) if d.get() == "1")
        );
        assert!(matches!(Memo::classify(&raw("{}")), Memo::Data(d) if d.get() == "{}"));
        assert!(matches!(
            Memo::classify(&raw(r#"{"data":1,"error":{}}"#)),
            Memo::Data(_)
        ));
        assert!(
            matches!(Memo::classify(&raw(r#""text""#)), Memo::Data(d) if d.get() == r#""text""#)
        );
    }

    #[test]
    fn a_minimal_body_parses_with_defaults() {
        let req = CallRequest::parse(br#"{"event":{"name":"x","data":{}}}"#).expect("valid");
        assert!(req.events.is_empty());
        assert!(req.steps.is_empty());
        assert_eq!(req.ctx.attempt, 0);
        assert_eq!(req.version, -1);
        assert!(!req.use_api());
    }

    #[test]
    fn nulls_are_tolerated_where_the_server_may_send_them() {
        let req = CallRequest::parse(
            br#"{"event":{"name":"x","data":{}},"events":null,"steps":null,"ctx":{"run_id":"r","stack":{"stack":null,"current":0}}}"#,
        )
        .expect("valid");
        assert!(req.ctx.stack.stack.is_empty());
    }

    #[test]
    fn version_zero_and_garbage_are_rejected_with_clear_errors() {
        let err = CallRequest::parse(br#"{"event":{},"version":0}"#).unwrap_err();
        assert!(err.to_string().contains("V0"));
        let err = CallRequest::parse(b"not json").unwrap_err();
        assert!(
            err.to_string()
                .contains("Failed to parse data from executor")
        );
        assert!(
            CallRequest::parse(br#"{"steps":{}}"#).is_err(),
            "event is required"
        );
    }

    #[test]
    fn an_empty_stack_is_synthesised_from_the_step_keys_in_order() {
        let (a, b) = (StepHash::of("a"), StepHash::of("b"));
        let body = format!(
            r#"{{"event":{{}},"steps":{{"{b}":null,"not-a-hash":1,"{a}":{{"data":1}}}},"ctx":{{"use_api":true,"stack":{{"stack":[],"current":0}}}}}}"#
        );
        let req = CallRequest::parse(body.as_bytes()).expect("valid");
        assert!(req.use_api());
        assert_eq!(req.steps.len(), 2, "keys that are not hashes are skipped");
        assert_eq!(req.completion_order(), [b, a]);
    }
}
