//! The call protocol's wire forms, as pure functions: building a call request body and reading
//! an SDK's answer (digest §6–§7). No IO here.

use std::collections::BTreeMap;

use http::HeaderMap;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// Header an SDK puts on every response; without it a 2xx is not from an SDK.
pub const HEADER_SDK: &str = "x-inngest-sdk";
/// Header telling the executor whether to retry an error.
pub const HEADER_NO_RETRY: &str = "x-inngest-no-retry";
/// Header carrying the request version the SDK used.
pub const HEADER_REQ_VERSION: &str = "x-inngest-req-version";
/// Header carrying a retry delay.
pub const HEADER_RETRY_AFTER: &str = "retry-after";
/// Header carrying a request signature.
pub const HEADER_SIGNATURE: &str = "x-inngest-signature";
/// Header naming the server kind (`dev` / `cloud`).
pub const HEADER_SERVER_KIND: &str = "x-inngest-server-kind";
/// Header an SDK sends on `/fn/register` echoing the kind it saw on the `PUT`.
pub const HEADER_EXPECTED_SERVER_KIND: &str = "x-inngest-expected-server-kind";
/// Header seeding deterministic event ids.
pub const HEADER_EVENT_ID_SEED: &str = "x-inngest-event-id-seed";

/// Every opcode Inngest's executor parses (case-insensitively). Anything else fails the response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Opcode {
    /// No-op (an empty op array).
    None,
    /// Legacy step result.
    Step,
    /// A run step executed in this request.
    StepRun,
    /// A step threw and may be retried.
    StepError,
    /// A step threw for the last time.
    StepFailed,
    /// A step was found but not executed.
    StepPlanned,
    /// `step.sleep` / `step.sleepUntil`.
    Sleep,
    /// `step.waitForEvent`.
    WaitForEvent,
    /// `step.waitForSignal`.
    WaitForSignal,
    /// `step.invoke`.
    InvokeFunction,
    /// `step.ai.infer`.
    AIGateway,
    /// `step.fetch`.
    Gateway,
    /// The function finished, reported inside a 206.
    RunComplete,
    /// Durable endpoints' completion.
    SyncRunComplete,
    /// Checkpointing yield asking for a discovery call.
    DiscoveryRequest,
    /// Deferred run scheduling.
    DeferAdd,
    /// Deferred run cancellation.
    DeferAbort,
}

impl Opcode {
    const ALL: [Opcode; 17] = [
        Opcode::None,
        Opcode::Step,
        Opcode::StepRun,
        Opcode::StepError,
        Opcode::StepFailed,
        Opcode::StepPlanned,
        Opcode::Sleep,
        Opcode::WaitForEvent,
        Opcode::WaitForSignal,
        Opcode::InvokeFunction,
        Opcode::AIGateway,
        Opcode::Gateway,
        Opcode::RunComplete,
        Opcode::SyncRunComplete,
        Opcode::DiscoveryRequest,
        Opcode::DeferAdd,
        Opcode::DeferAbort,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Opcode::None => "None",
            Opcode::Step => "Step",
            Opcode::StepRun => "StepRun",
            Opcode::StepError => "StepError",
            Opcode::StepFailed => "StepFailed",
            Opcode::StepPlanned => "StepPlanned",
            Opcode::Sleep => "Sleep",
            Opcode::WaitForEvent => "WaitForEvent",
            Opcode::WaitForSignal => "WaitForSignal",
            Opcode::InvokeFunction => "InvokeFunction",
            Opcode::AIGateway => "AIGateway",
            Opcode::Gateway => "Gateway",
            Opcode::RunComplete => "RunComplete",
            Opcode::SyncRunComplete => "SyncRunComplete",
            Opcode::DiscoveryRequest => "DiscoveryRequest",
            Opcode::DeferAdd => "DeferAdd",
            Opcode::DeferAbort => "DeferAbort",
        }
    }

    /// Parses a wire name, case-insensitively, accepting only Inngest's opcodes.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|op| op.as_str().eq_ignore_ascii_case(s))
    }
}

/// One op from a 206 body.
#[derive(Debug, Clone, PartialEq)]
pub struct GeneratorOp {
    /// The opcode.
    pub op: Opcode,
    /// Hashed step id.
    pub id: String,
    /// Legacy name (JS puts sleep durations and event names here).
    pub name: Option<String>,
    /// Display name.
    pub display_name: Option<String>,
    /// Op options.
    pub opts: Option<Value>,
    /// Output data; `Some(Value::Null)` when `data` was present and null.
    pub data: Option<Value>,
    /// Error object for `StepError` / `StepFailed`.
    pub error: Option<Value>,
    /// User-facing id (`userland.id`).
    pub user_id: Option<String>,
}

impl GeneratorOp {
    /// The best name to show: display name, then name, then user id, then hashed id.
    pub fn label(&self) -> String {
        self.display_name
            .clone()
            .or_else(|| self.name.clone())
            .or_else(|| self.user_id.clone())
            .unwrap_or_else(|| self.id.clone())
    }

    /// A string option from `opts`.
    pub fn opt_str(&self, key: &str) -> Option<&str> {
        self.opts.as_ref()?.get(key)?.as_str()
    }

    fn from_json(value: &Value) -> Result<Self, String> {
        let obj = value.as_object().ok_or("an op is not a JSON object")?;
        let op_name = obj
            .get("op")
            .and_then(Value::as_str)
            .ok_or("an op has no \"op\" string")?;
        let op = Opcode::parse(op_name).ok_or_else(|| format!("unknown opcode {op_name:?}"))?;
        let id = obj
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        if id.is_empty()
            && !matches!(
                op,
                Opcode::None | Opcode::RunComplete | Opcode::SyncRunComplete
            )
        {
            return Err(format!("{op_name} op has no id"));
        }
        let error = obj.get("error").filter(|e| !e.is_null()).cloned();
        if matches!(op, Opcode::StepError | Opcode::StepFailed) && error.is_none() {
            return Err(format!("{op_name} op for step {id} carries no error"));
        }
        let text = |k: &str| obj.get(k).and_then(Value::as_str).map(str::to_owned);
        Ok(Self {
            op,
            id,
            name: text("name"),
            display_name: text("displayName"),
            opts: obj.get("opts").filter(|o| !o.is_null()).cloned(),
            data: obj.get("data").cloned(),
            error,
            user_id: obj
                .get("userland")
                .and_then(|u| u.get("id"))
                .and_then(Value::as_str)
                .map(str::to_owned),
        })
    }
}

/// What an SDK's answer to a call means.
#[derive(Debug, Clone, PartialEq)]
pub enum CallOutcome {
    /// `200`: the function returned this value.
    Complete(Value),
    /// `206`: ops to act on (may be empty: the `None` op).
    Ops(Vec<GeneratorOp>),
    /// The call failed at function level (or the answer was unusable).
    Error(Value),
}

/// The parts of an SDK's answer the executor reads.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// Request version from `x-inngest-req-version`.
    pub request_version: Option<i64>,
    /// `x-inngest-no-retry: true`.
    pub no_retry: bool,
    /// Raw `Retry-After` header.
    pub retry_after: Option<String>,
    /// What it means.
    pub outcome: CallOutcome,
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// An error object with a name and message.
pub fn error_object(name: &str, message: impl Into<String>) -> Value {
    json!({"name": name, "message": message.into()})
}

/// Reads an SDK's response to a call the way Inngest's HTTP driver does.
///
/// ```
/// use inngest_local::protocol::{read_answer, CallOutcome};
/// let mut headers = http::HeaderMap::new();
/// headers.insert("x-inngest-sdk", "inngest-js:v4.24.0".parse().unwrap());
/// let answer = read_answer(200, &headers, br#"{"ok":true}"#);
/// assert_eq!(answer.outcome, CallOutcome::Complete(serde_json::json!({"ok": true})));
/// ```
pub fn read_answer(status: u16, headers: &HeaderMap, body: &[u8]) -> Answer {
    let request_version = header(headers, HEADER_REQ_VERSION).and_then(|v| v.trim().parse().ok());
    let is_sdk = headers.contains_key(HEADER_SDK);
    let no_retry = header(headers, HEADER_NO_RETRY).is_some_and(|v| v.trim() == "true");
    let retry_after = header(headers, HEADER_RETRY_AFTER).map(str::to_owned);

    let outcome = match status {
        201 => return read_stream(body, request_version),
        200 | 206 if !is_sdk => {
            return Answer {
                status,
                request_version,
                no_retry: false,
                retry_after: None,
                outcome: CallOutcome::Error(error_object(
                    "Error",
                    format!(
                        "the endpoint answered {status} without an X-Inngest-SDK header, so the answer is not from an Inngest SDK (check the app URL and any proxy in front of it)"
                    ),
                )),
            };
        }
        200 => CallOutcome::Complete(parse_body_value(body)),
        206 => match parse_ops(body) {
            Ok(ops) => CallOutcome::Ops(ops),
            Err(message) => {
                return Answer {
                    status,
                    request_version,
                    no_retry: false,
                    retry_after: None,
                    outcome: CallOutcome::Error(error_object(
                        "Error",
                        format!("invalid 206 body from the SDK: {message}"),
                    )),
                };
            }
        },
        _ => CallOutcome::Error(error_from_body(status, body, is_sdk)),
    };
    Answer {
        status,
        request_version,
        no_retry,
        retry_after,
        outcome,
    }
}

/// A streamed (201) answer: whitespace keep-alives then `{status, headers, body}`.
fn read_stream(body: &[u8], request_version: Option<i64>) -> Answer {
    let text = String::from_utf8_lossy(body);
    let envelope: Option<Value> = serde_json::from_str(text.trim()).ok();
    let Some(env) = envelope.filter(Value::is_object) else {
        return Answer {
            status: 201,
            request_version,
            no_retry: false,
            retry_after: None,
            outcome: CallOutcome::Error(error_object(
                "Error",
                "the SDK streamed an answer that is not a {status, headers, body} envelope",
            )),
        };
    };
    let status = env.get("status").and_then(Value::as_u64).unwrap_or(500) as u16;
    let mut headers = HeaderMap::new();
    if let Some(h) = env.get("headers").and_then(Value::as_object) {
        for (k, v) in h {
            if let (Ok(name), Some(Ok(value))) = (
                http::HeaderName::from_bytes(k.as_bytes()),
                v.as_str().map(http::HeaderValue::from_str),
            ) {
                headers.insert(name, value);
            }
        }
    }
    // The envelope itself comes from the SDK.
    headers
        .entry(HEADER_SDK)
        .or_insert(http::HeaderValue::from_static("streamed"));
    let inner = match env.get("body") {
        Some(Value::String(s)) => s.clone().into_bytes(),
        Some(other) => other.to_string().into_bytes(),
        None => Vec::new(),
    };
    let mut answer = read_answer(status, &headers, &inner);
    answer.request_version = answer.request_version.or(request_version);
    answer
}

fn parse_body_value(body: &[u8]) -> Value {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Value::Null;
    }
    serde_json::from_slice(body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
}

/// Parses a 206 body: an array of ops, or (legacy) one op object.
pub fn parse_ops(body: &[u8]) -> Result<Vec<GeneratorOp>, String> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| format!("the body is not JSON ({e})"))?;
    match value {
        Value::Array(items) => items.iter().map(GeneratorOp::from_json).collect(),
        obj @ Value::Object(_) => Ok(vec![GeneratorOp::from_json(&obj)?]),
        _ => Err("the body is neither an op array nor an op object".into()),
    }
}

fn error_from_body(status: u16, body: &[u8], is_sdk: bool) -> Value {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    match parsed {
        Some(Value::Object(obj)) if obj.contains_key("name") || obj.contains_key("message") => {
            let mut obj = obj;
            obj.entry("name")
                .or_insert_with(|| Value::String("Error".into()));
            Value::Object(obj)
        }
        Some(Value::Object(obj)) if obj.contains_key("error") => {
            error_object("Error", value_text(&obj["error"]))
        }
        Some(Value::String(s)) => error_object("Error", s),
        _ => {
            let text = String::from_utf8_lossy(body);
            let text = text.trim();
            let origin = if is_sdk {
                "the SDK"
            } else {
                "the endpoint (no X-Inngest-SDK header)"
            };
            let message = if text.is_empty() {
                format!("{origin} answered HTTP {status}")
            } else {
                format!("{origin} answered HTTP {status}: {}", truncate(text, 500))
            };
            error_object("Error", message)
        }
    }
}

fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// `ctx.stack` of a call request.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CallStack {
    /// Hashed ids of memoised steps in completion order.
    pub stack: Vec<String>,
    /// Position in the stack (its length).
    pub current: usize,
}

/// `ctx` of a call request. The engine does not send `fn_id` (see the crate README).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CallCtx {
    /// Run id.
    pub run_id: String,
    /// Environment name (empty locally).
    pub env: String,
    /// `step` for discovery, or the hashed id of a planned step.
    pub step_id: String,
    /// 0-based attempt of this queue item.
    pub attempt: u32,
    /// Retries + 1.
    pub max_attempts: u32,
    /// Memo order.
    pub stack: CallStack,
    /// Queue item id.
    pub qi_id: String,
    /// Per-request id.
    pub request_id: String,
    /// Set after parallelism: the SDK must plan, not run, new steps.
    pub disable_immediate_execution: bool,
    /// The SDK must fetch events and steps from the API.
    pub use_api: bool,
}

/// A call request body.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CallBody {
    /// First event.
    pub event: Value,
    /// All events.
    pub events: Vec<Value>,
    /// Memoised step results.
    pub steps: BTreeMap<String, Value>,
    /// Context.
    pub ctx: CallCtx,
    /// Request version (-1 on a run's first call).
    pub version: i64,
    /// Deprecated duplicate of `ctx.use_api`.
    pub use_api: bool,
}

impl CallBody {
    /// RFC 8785 canonical bytes, as Inngest sends (and signs) them.
    pub fn to_canonical_bytes(&self) -> Vec<u8> {
        // Serialising plain JSON values cannot fail.
        serde_jcs::to_vec(self).expect("a call body is plain JSON")
    }

    /// Applies the `use_api` rule: when the state is larger than `threshold` bytes the steps are
    /// left out, and if the body is still larger the events too; the SDK then fetches both from
    /// `/v0/runs/{id}/actions` and `/batch`.
    pub fn apply_size_limit(&mut self, threshold: usize) {
        let state_size = serde_json::to_vec(&self.steps)
            .map(|v| v.len())
            .unwrap_or(0)
            + serde_json::to_vec(&self.events)
                .map(|v| v.len())
                .unwrap_or(0);
        if state_size <= threshold {
            return;
        }
        self.steps.clear();
        self.ctx.use_api = true;
        self.use_api = true;
        if self.to_canonical_bytes().len() > threshold {
            self.events.clear();
        }
    }
}

/// Normalises an event for a function: `data` object, `user` object, `id` and `ts` set.
pub fn event_for_function(event: &Value) -> Value {
    let mut obj = event.as_object().cloned().unwrap_or_else(Map::new);
    if !obj.get("data").is_some_and(Value::is_object) {
        obj.insert("data".into(), json!({}));
    }
    if !obj.get("user").is_some_and(Value::is_object) {
        obj.insert("user".into(), json!({}));
    }
    Value::Object(obj)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sdk_headers(extra: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(HEADER_SDK, "inngest-js:v4.24.0".parse().unwrap());
        for (k, v) in extra {
            h.insert(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    #[test]
    fn reads_js_step_run_answer() {
        let body = br#"[{"id":"efec2b2037910199abcc3c58998255afa3066709","op":"StepRun","name":"first-step","opts":{},"displayName":"first-step","userland":{"id":"first-step"},"data":"A"}]"#;
        let a = read_answer(206, &sdk_headers(&[("x-inngest-req-version", "2")]), body);
        assert_eq!(a.request_version, Some(2));
        let CallOutcome::Ops(ops) = a.outcome else {
            panic!("expected ops")
        };
        assert_eq!(ops[0].op, Opcode::StepRun);
        assert_eq!(ops[0].data, Some(json!("A")));
        assert_eq!(ops[0].user_id.as_deref(), Some("first-step"));
    }

    #[test]
    fn distinguishes_absent_and_null_data() {
        let ops =
            parse_ops(br#"[{"op":"StepRun","id":"a","data":null},{"op":"StepPlanned","id":"b"}]"#)
                .unwrap();
        assert_eq!(ops[0].data, Some(Value::Null));
        assert_eq!(ops[1].data, None);
    }

    #[test]
    fn rejects_unknown_opcodes_and_errorless_step_errors() {
        assert!(parse_ops(br#"[{"op":"StepNotFound","id":"a"}]"#).is_err());
        assert!(parse_ops(br#"[{"op":"StepError","id":"a"}]"#).is_err());
        assert_eq!(
            parse_ops(br#"[{"op":"steprun","id":"a","data":1}]"#).unwrap()[0].op,
            Opcode::StepRun
        );
        let a = read_answer(206, &sdk_headers(&[]), br#"[{"op":"Bogus","id":"a"}]"#);
        assert!(matches!(a.outcome, CallOutcome::Error(_)));
        assert!(!a.no_retry);
    }

    #[test]
    fn success_without_sdk_header_is_a_retriable_error() {
        let a = read_answer(200, &HeaderMap::new(), b"{}");
        assert!(matches!(a.outcome, CallOutcome::Error(_)));
        assert!(!a.no_retry);
    }

    #[test]
    fn function_errors_carry_no_retry_and_retry_after() {
        let body =
            br#"{"name":"NonRetriableError","message":"stop","stack":"...","__serialized":true}"#;
        let a = read_answer(400, &sdk_headers(&[("x-inngest-no-retry", "true")]), body);
        assert!(a.no_retry);
        let CallOutcome::Error(error) = a.outcome else {
            panic!()
        };
        assert_eq!(error["name"], "NonRetriableError");
        let a = read_answer(
            500,
            &sdk_headers(&[("x-inngest-no-retry", "false"), ("retry-after", "30")]),
            b"oops",
        );
        assert!(!a.no_retry);
        assert_eq!(a.retry_after.as_deref(), Some("30"));
        let CallOutcome::Error(error) = a.outcome else {
            panic!()
        };
        assert!(error["message"].as_str().unwrap().contains("oops"));
    }

    #[test]
    fn empty_200_body_is_null_and_streams_are_unwrapped() {
        let a = read_answer(200, &sdk_headers(&[]), b"");
        assert_eq!(a.outcome, CallOutcome::Complete(Value::Null));
        let a = read_answer(
            201,
            &HeaderMap::new(),
            b"   \n {\"status\":200,\"headers\":{},\"body\":\"\\\"done\\\"\"}",
        );
        assert_eq!(a.outcome, CallOutcome::Complete(json!("done")));
    }

    #[test]
    fn call_body_is_canonical_json_golden() {
        let body = CallBody {
            event: json!({"name": "demo/event.sent", "data": {"b": 1, "a": 2}, "id": "e1", "ts": 1, "user": {}}),
            events: vec![
                json!({"name": "demo/event.sent", "data": {}, "id": "e1", "ts": 1, "user": {}}),
            ],
            steps: BTreeMap::from([(
                "aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d".into(),
                json!({"data": 1.5}),
            )]),
            ctx: CallCtx {
                run_id: "01J0000000000000000000000".into(),
                env: String::new(),
                step_id: "step".into(),
                attempt: 0,
                max_attempts: 5,
                stack: CallStack {
                    stack: vec!["aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d".into()],
                    current: 1,
                },
                qi_id: "q1".into(),
                request_id: "r1".into(),
                disable_immediate_execution: false,
                use_api: false,
            },
            version: -1,
            use_api: false,
        };
        let text = String::from_utf8(body.to_canonical_bytes()).unwrap();
        assert_eq!(
            text,
            include_str!("../tests/fixtures/call_request.json").trim_end()
        );
    }

    #[test]
    fn large_state_switches_to_use_api() {
        let mut body = CallBody {
            event: json!({"name": "x", "data": {}}),
            events: vec![json!({"name": "x", "data": {"big": "y".repeat(100)}})],
            steps: BTreeMap::from([("a".into(), json!({"data": "z".repeat(100)}))]),
            ctx: CallCtx {
                run_id: "r".into(),
                env: String::new(),
                step_id: "step".into(),
                attempt: 0,
                max_attempts: 1,
                stack: CallStack {
                    stack: vec!["a".into()],
                    current: 1,
                },
                qi_id: String::new(),
                request_id: String::new(),
                disable_immediate_execution: false,
                use_api: false,
            },
            version: 2,
            use_api: false,
        };
        let mut small = body.clone();
        small.apply_size_limit(1 << 20);
        assert!(!small.ctx.use_api);
        body.apply_size_limit(150);
        assert!(body.ctx.use_api && body.use_api);
        assert!(body.steps.is_empty());
        assert!(body.events.is_empty());
    }
}
