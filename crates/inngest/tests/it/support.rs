//! Helpers shared by the integration tests: clients built purely from code, call bodies,
//! and driving the router in process or over real HTTP on 127.0.0.1.

use std::net::SocketAddr;

use axum::Router;
use axum::body::Body;
use http::{HeaderMap, Method, Request};
use inngest::{Function, Inngest, SigningKey};
use serde_json::{Value, json};
use tower::ServiceExt;

pub(crate) const KEY_A: &str =
    "signkey-test-f00f3005a3666b359a79c2bc3380ce2715e62727ac461ae1a2618f8766029c9f";
pub(crate) const KEY_B: &str =
    "signkey-test-8ee2262a15e8d3c42d6a840db7af3de2aab08ef632b32a37a687f24b34dba3ff";

/// A dev-mode client that ignores the process environment.
pub(crate) fn dev_client() -> Inngest {
    Inngest::builder("test-app")
        .without_env()
        .dev()
        .build()
        .expect("a dev client needs no keys")
}

/// A cloud-mode client with the digest's vector A key (and B as fallback).
pub(crate) fn cloud_client() -> Inngest {
    Inngest::builder("test-app")
        .without_env()
        .signing_key(KEY_A)
        .signing_key_fallback(KEY_B)
        .build()
        .expect("valid keys")
}

pub(crate) fn key(k: &str) -> SigningKey {
    SigningKey::new(k).expect("valid test key")
}

pub(crate) fn hash(id: &str) -> String {
    inngest::hash::step_hash(id)
}

/// A call request body, built step by step.
#[derive(Clone)]
pub(crate) struct Call {
    pub(crate) event: Value,
    pub(crate) events: Option<Vec<Value>>,
    pub(crate) steps: serde_json::Map<String, Value>,
    pub(crate) stack: Vec<String>,
    pub(crate) attempt: u32,
    pub(crate) max_attempts: Option<u32>,
    pub(crate) disable_immediate: bool,
    pub(crate) use_api: bool,
}

impl Call {
    pub(crate) fn new(event_name: &str, data: Value) -> Self {
        Self {
            event: json!({"name": event_name, "data": data, "id": "evt-1", "ts": 1_700_000_000_000_i64, "user": {}}),
            events: None,
            steps: serde_json::Map::new(),
            stack: Vec::new(),
            attempt: 0,
            max_attempts: Some(5),
            disable_immediate: false,
            use_api: false,
        }
    }

    /// Memoises `value` (already wrapped as the server stores it) under the user id's hash
    /// and appends it to the stack.
    pub(crate) fn memo(mut self, user_id: &str, value: Value) -> Self {
        let h = hash(user_id);
        self.steps.insert(h.clone(), value);
        self.stack.push(h);
        self
    }

    /// `{"data": value}`.
    pub(crate) fn done(self, user_id: &str, value: Value) -> Self {
        self.memo(user_id, json!({ "data": value }))
    }

    /// `{"error": {...}}`.
    pub(crate) fn failed(self, user_id: &str, name: &str, message: &str) -> Self {
        self.memo(
            user_id,
            json!({"error": {"name": name, "message": message, "stack": "orig stack"}}),
        )
    }

    /// A memo entry that is not on the stack (e.g. `{"input": ...}`).
    pub(crate) fn unstacked(mut self, user_id: &str, value: Value) -> Self {
        self.steps.insert(hash(user_id), value);
        self
    }

    pub(crate) fn attempt(mut self, attempt: u32, max: u32) -> Self {
        self.attempt = attempt;
        self.max_attempts = Some(max);
        self
    }

    pub(crate) fn disable_immediate(mut self) -> Self {
        self.disable_immediate = true;
        self
    }

    pub(crate) fn use_api(mut self) -> Self {
        self.use_api = true;
        self
    }

    pub(crate) fn body(&self) -> Value {
        let mut ctx = json!({
            "run_id": "01RUNID",
            "attempt": self.attempt,
            "disable_immediate_execution": self.disable_immediate,
            "use_api": self.use_api,
            "stack": {"stack": self.stack, "current": self.stack.len()},
        });
        if let Some(max) = self.max_attempts {
            ctx["max_attempts"] = json!(max);
        }
        json!({
            "event": self.event,
            "events": self.events.clone().unwrap_or_else(|| vec![self.event.clone()]),
            "steps": self.steps,
            "ctx": ctx,
            "version": 2,
            "use_api": self.use_api,
        })
    }
}

/// An answer of the serve endpoint.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) headers: HeaderMap,
    pub(crate) raw: Vec<u8>,
    pub(crate) body: Value,
}

impl Answer {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The ops of a 206 answer.
    pub(crate) fn ops(&self) -> &Vec<Value> {
        assert_eq!(self.status, 206, "expected a 206, got {self:?}");
        self.body.as_array().expect("206 bodies are arrays")
    }

    pub(crate) fn single_op(&self) -> &Value {
        let ops = self.ops();
        assert_eq!(ops.len(), 1, "expected exactly one op: {ops:?}");
        &ops[0]
    }
}

/// Sends a request through the router in process (`tower::ServiceExt::oneshot`).
pub(crate) async fn send(router: &Router, request: Request<Body>) -> Answer {
    let response = router
        .clone()
        .oneshot(request)
        .await
        .expect("the router is infallible");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let raw = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body")
        .to_vec();
    let body = if raw.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&raw).expect("answers are JSON")
    };
    Answer {
        status,
        headers,
        raw,
        body,
    }
}

/// POSTs a call for `fn_id` (composite) and `step_id` in dev mode.
pub(crate) async fn call(router: &Router, fn_id: &str, step_id: &str, call: &Call) -> Answer {
    let body = serde_json::to_vec(&call.body()).expect("serialise");
    let req = Request::builder()
        .method(Method::POST)
        .uri(format!("/?fnId={fn_id}&stepId={step_id}"))
        .header("host", "app.test")
        .header("content-type", "application/json")
        .body(Body::from(body))
        .expect("request");
    send(router, req).await
}

/// A dev-mode router serving `functions` for the app `test-app`.
pub(crate) fn dev_router(functions: impl IntoIterator<Item = Function>) -> Router {
    inngest::serve::router(dev_client(), functions)
}

/// Binds `router` on 127.0.0.1:0 and serves it in the background.
pub(crate) async fn spawn(router: Router) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("addr");
    let task = tokio::spawn(async move {
        axum::serve(listener, router).await.expect("serve");
    });
    (addr, task)
}

pub(crate) fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs() as i64
}

/// A request received by [`FakeInngest`].
#[derive(Debug, Clone)]
pub(crate) struct Recorded {
    pub(crate) method: String,
    pub(crate) path_and_query: String,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Value,
}

impl Recorded {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

type Responder = dyn Fn(&Recorded, usize) -> (u16, Value) + Send + Sync;

/// A stand-in for Inngest's API on 127.0.0.1: records every request and answers with
/// `respond(request, index)`.
pub(crate) struct FakeInngest {
    pub(crate) url: String,
    pub(crate) recorded: std::sync::Arc<std::sync::Mutex<Vec<Recorded>>>,
    task: tokio::task::JoinHandle<()>,
}

impl FakeInngest {
    pub(crate) async fn start(
        respond: impl Fn(&Recorded, usize) -> (u16, Value) + Send + Sync + 'static,
    ) -> Self {
        let recorded = std::sync::Arc::new(std::sync::Mutex::new(Vec::<Recorded>::new()));
        let respond: std::sync::Arc<Responder> = std::sync::Arc::new(respond);
        let rec = recorded.clone();
        let router = Router::new().fallback(move |req: Request<Body>| {
            let rec = rec.clone();
            let respond = respond.clone();
            async move {
                let (parts, body) = req.into_parts();
                let bytes = axum::body::to_bytes(body, usize::MAX)
                    .await
                    .unwrap_or_default();
                let r = Recorded {
                    method: parts.method.to_string(),
                    path_and_query: parts
                        .uri
                        .path_and_query()
                        .map(|p| p.to_string())
                        .unwrap_or_default(),
                    headers: parts.headers,
                    body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
                };
                let index = {
                    let mut all = rec.lock().expect("not poisoned");
                    all.push(r.clone());
                    all.len() - 1
                };
                let (status, body) = respond(&r, index);
                let mut response = axum::response::Response::new(Body::from(body.to_string()));
                *response.status_mut() = http::StatusCode::from_u16(status).expect("valid status");
                response.headers_mut().insert(
                    "content-type",
                    http::HeaderValue::from_static("application/json"),
                );
                response
            }
        });
        let (addr, task) = spawn(router).await;
        Self {
            url: format!("http://{addr}"),
            recorded,
            task,
        }
    }

    pub(crate) fn requests(&self) -> Vec<Recorded> {
        self.recorded.lock().expect("not poisoned").clone()
    }
}

impl Drop for FakeInngest {
    fn drop(&mut self) {
        self.task.abort();
    }
}
