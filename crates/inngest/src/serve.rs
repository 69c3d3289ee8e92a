//! The serve endpoint as an axum 0.8 [`Router`]: `GET` introspection, `PUT` sync, `POST`
//! call, on one URL.
//!
//! Mount it at any path with [`Router::nest`], or use [`method_router`] with
//! [`Router::route`] / `route_service`:
//!
//! ```no_run
//! use axum::Router;
//! use inngest::{Context, Function, Inngest, Trigger};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let client = Inngest::new("my-app")?; // INNGEST_DEV=1 for the Dev Server
//! let hello = Function::builder("hello")
//!     .trigger(Trigger::event("app/hello"))
//!     .build(|ctx: Context| async move { Ok(format!("hello {}", ctx.event.name)) })?;
//!
//! let app = Router::new().nest("/api/inngest", inngest::serve::router(client, [hello]));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! axum::serve(listener, app).await?;
//! # Ok(())
//! # }
//! ```
//!
//! The router is a plain `tower` service, so tests can drive it in process with
//! `tower::ServiceExt::oneshot` and an `http::Request<axum::body::Body>`.
//!
//! Every answer carries `X-Inngest-SDK`, `User-Agent`, `X-Inngest-Req-Version: 2`,
//! `X-Inngest-SDK-Handled: true`, `X-Inngest-Framework: axum` and a JSON content type. In cloud
//! mode, answers to validly signed requests are signed with the key that validated them, and
//! requests with a missing or bad signature get `401 {"message":"Unauthorized"}` with the
//! identifying headers removed.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{OriginalUri, State};
use axum::response::Response;
use axum::routing::{MethodRouter, any};
use http::header::{CONTENT_TYPE, HOST, USER_AGENT};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::client::{FRAMEWORK, Inngest, header_value, sdk_header_value};
use crate::config::{Mode, SigningKey};
use crate::error::WireError;
use crate::exec::{self, CallResponse, RunInfo, Shared};
use crate::function::{FAILURE_SUFFIX, Function, HandlerInput, HandlerKind};
use crate::hash::StepHash;
use crate::request::CallRequest;
use crate::signature::{self, KeyUsed};
use crate::step::Step;
use crate::{api, introspect, sync};

/// Largest request body accepted (Inngest sends at most a few MiB before switching to
/// `use_api`).
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// Two functions share an id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "two functions have the id \"{0}\": function ids must be unique within an app (a failure \
     handler takes the id \"<id>-failure\")"
)]
pub struct DuplicateFunctionId(pub String);

/// The serve endpoint for `client` and `functions`, as an axum [`Router`] that answers on
/// every path it is mounted at.
///
/// # Panics
///
/// If two functions share an id (a programming error, like overlapping axum routes); use
/// [`try_router`] to get an error instead.
pub fn router(client: Inngest, functions: impl IntoIterator<Item = Function>) -> Router {
    match try_router(client, functions) {
        Ok(router) => router,
        Err(err) => panic!("{err}"),
    }
}

/// Like [`router`], but reports duplicate function ids as an error.
pub fn try_router(
    client: Inngest,
    functions: impl IntoIterator<Item = Function>,
) -> Result<Router, DuplicateFunctionId> {
    let handler = Handler::new(client, functions)?;
    Ok(Router::new()
        .fallback(serve_request)
        .with_state(Arc::new(handler)))
}

/// The serve endpoint as an axum [`MethodRouter`] for one path:
/// `Router::new().route("/api/inngest", method_router(client, functions))`, or with
/// `Router::route_service` (which does not accept a [`Router`]).
///
/// # Panics
///
/// If two functions share an id, like [`router`].
pub fn method_router(
    client: Inngest,
    functions: impl IntoIterator<Item = Function>,
) -> MethodRouter {
    match Handler::new(client, functions) {
        Ok(handler) => any(serve_request).with_state(Arc::new(handler)),
        Err(err) => panic!("{err}"),
    }
}

/// The functions of one app, indexed by composite id.
struct Handler {
    client: Inngest,
    functions: Vec<Function>,
    by_id: HashMap<String, (Function, HandlerKind)>,
}

impl fmt::Debug for Handler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handler")
            .field("client", &self.client)
            .field("functions", &self.functions)
            .finish()
    }
}

impl Handler {
    fn new(
        client: Inngest,
        functions: impl IntoIterator<Item = Function>,
    ) -> Result<Self, DuplicateFunctionId> {
        let functions: Vec<Function> = functions.into_iter().collect();
        let mut by_id = HashMap::new();
        for f in &functions {
            let id = f.composite_id(client.app_id());
            let mut entries = vec![(id.clone(), HandlerKind::Main)];
            if f.has_failure_handler() {
                entries.push((format!("{id}{FAILURE_SUFFIX}"), HandlerKind::Failure));
            }
            for (id, kind) in entries {
                if by_id.insert(id.clone(), (f.clone(), kind)).is_some() {
                    return Err(DuplicateFunctionId(id));
                }
            }
        }
        Ok(Self {
            client,
            functions,
            by_id,
        })
    }

    fn function_count(&self) -> usize {
        self.by_id.len()
    }
}

/// An answer before the common headers are added.
struct Answer {
    status: u16,
    body: Vec<u8>,
    headers: Vec<(HeaderName, HeaderValue)>,
}

impl Answer {
    fn json(status: u16, body: &Value) -> Self {
        Self {
            status,
            body: serde_json::to_vec(body).unwrap_or_default(),
            headers: Vec::new(),
        }
    }

    fn header(mut self, name: &'static str, value: &str) -> Self {
        self.headers
            .push((HeaderName::from_static(name), header_value(value)));
        self
    }

    fn unauthorized() -> Self {
        Self::json(401, &json!({ "message": "Unauthorized" }))
    }

    /// The JS SDK's answer to an exception in the handler: `500 {"type":"internal", ...}`.
    ///
    /// The JS SDK sends no `x-inngest-no-retry` here; the server would retry either way, but
    /// the protocol digest (§13.7) asks for the header on every error answer, so it is explicit.
    fn internal(message: &str) -> Self {
        let wire = WireError::internal(message);
        let mut body = json!({ "type": "internal" });
        if let (Value::Object(map), Ok(Value::Object(err))) =
            (&mut body, serde_json::to_value(&wire))
        {
            map.extend(err);
        }
        Self::json(500, &body).header("x-inngest-no-retry", "false")
    }

    fn from_call(res: CallResponse) -> Self {
        let mut answer = Self {
            status: res.status,
            body: res.body,
            headers: Vec::new(),
        };
        if let Some(no_retry) = res.no_retry {
            answer = answer.header(
                "x-inngest-no-retry",
                if no_retry { "true" } else { "false" },
            );
        }
        if let Some(after) = res.retry_after {
            answer = answer.header("retry-after", &after);
        }
        answer
    }
}

/// Whether the request's signature was checked, and with what result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Auth {
    /// Dev mode: signatures are not required.
    Dev,
    /// Cloud mode, validated with this key.
    Valid(KeyUsed),
    /// Cloud mode, missing or invalid.
    Invalid,
}

impl Auth {
    fn ok(self) -> bool {
        !matches!(self, Auth::Invalid)
    }
}

fn query_pairs(uri: &http::Uri) -> Vec<(String, String)> {
    uri.query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        })
        .unwrap_or_default()
}

fn query_get<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// The absolute URL a request arrived on (scheme from `X-Forwarded-Proto`, host from `Host`,
/// path from the original, un-nested URI).
fn request_url(headers: &HeaderMap, uri: &http::Uri) -> Option<url::Url> {
    let scheme = header_str(headers, "x-forwarded-proto")
        .and_then(|p| p.split(',').next())
        .map(str::trim)
        .filter(|p| *p == "http" || *p == "https")
        .or_else(|| uri.scheme_str())
        .unwrap_or("http");
    let host = header_str(headers, HOST.as_str())
        .map(str::to_owned)
        .or_else(|| uri.authority().map(|a| a.to_string()))?;
    let path_and_query = uri.path_and_query().map_or("/", |p| p.as_str());
    url::Url::parse(&format!("{scheme}://{host}{path_and_query}")).ok()
}

fn unix_now() -> i64 {
    chrono::Utc::now().timestamp()
}

async fn serve_request(State(handler): State<Arc<Handler>>, request: Request<Body>) -> Response {
    let (parts, body) = request.into_parts();
    let uri = parts
        .extensions
        .get::<OriginalUri>()
        .map_or_else(|| parts.uri.clone(), |o| o.0.clone());
    let body = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(bytes) => bytes,
        Err(_) => {
            let answer = Answer::json(
                413,
                &json!({ "message": format!("The request body is larger than {MAX_BODY_BYTES} bytes or could not be read") }),
            );
            let auth = match handler.client.config().mode() {
                Mode::Dev => Auth::Dev,
                Mode::Cloud => Auth::Invalid,
            };
            return finish(&handler.client, &parts.headers, answer, auth);
        }
    };
    let config = handler.client.config();
    let auth = match config.mode() {
        Mode::Dev => Auth::Dev,
        Mode::Cloud => {
            let signed: &[u8] = if parts.method == Method::GET {
                b""
            } else {
                &body
            };
            let keys: Vec<&SigningKey> = config.signing_keys();
            match signature::verify(
                header_str(&parts.headers, "x-inngest-signature"),
                signed,
                &keys,
                unix_now(),
            ) {
                Ok(used) => Auth::Valid(used),
                Err(err) => {
                    tracing::warn!(method = %parts.method, error = %err, "rejected an unsigned or badly signed request");
                    Auth::Invalid
                }
            }
        }
    };
    let pairs = query_pairs(&uri);
    let answer = match parts.method {
        Method::POST => call(&handler, &parts.headers, &pairs, &body, auth).await,
        Method::GET => introspection(&handler, auth),
        Method::PUT => put(&handler, &parts.headers, &uri, &pairs, &body, auth).await,
        _ => Answer::json(405, &json!({ "message": "Method not allowed" })),
    };
    finish(&handler.client, &parts.headers, answer, auth)
}

/// Adds the common headers, signs the answer, or strips identifying headers.
fn finish(client: &Inngest, request_headers: &HeaderMap, answer: Answer, auth: Auth) -> Response {
    let mut headers = HeaderMap::new();
    let sdk = header_value(&sdk_header_value());
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(USER_AGENT, sdk.clone());
    headers.insert(HeaderName::from_static("x-inngest-sdk"), sdk);
    headers.insert(
        HeaderName::from_static("x-inngest-sdk-handled"),
        HeaderValue::from_static("true"),
    );
    headers.insert(
        HeaderName::from_static("x-inngest-framework"),
        HeaderValue::from_static(FRAMEWORK),
    );
    if let Some(kind) = header_str(request_headers, "x-inngest-server-kind") {
        headers.insert(
            HeaderName::from_static("x-inngest-expected-server-kind"),
            header_value(kind),
        );
    }
    if let Some(env) = client.config().env() {
        headers.insert(HeaderName::from_static("x-inngest-env"), header_value(env));
    }
    headers.insert(
        HeaderName::from_static("x-inngest-req-version"),
        HeaderValue::from_static("2"),
    );
    for (name, value) in answer.headers {
        headers.insert(name, value);
    }
    match auth {
        Auth::Valid(used) => {
            let config = client.config();
            let key = match used {
                KeyUsed::Primary => config.signing_key(),
                KeyUsed::Fallback => config.signing_key_fallback(),
            };
            if let Some(key) = key {
                let sig = signature::sign_header(&answer.body, key, unix_now());
                headers.insert(
                    HeaderName::from_static("x-inngest-signature"),
                    header_value(&sig),
                );
            }
        }
        Auth::Invalid => {
            let strip: Vec<HeaderName> = headers
                .keys()
                .filter(|k| {
                    let k = k.as_str();
                    k == "user-agent"
                        || (k.starts_with("x-inngest-") && k != "x-inngest-sdk-handled")
                })
                .cloned()
                .collect();
            for k in strip {
                headers.remove(k);
            }
        }
        Auth::Dev => {}
    }
    let mut response = Response::new(Body::from(Bytes::from(answer.body)));
    *response.status_mut() =
        StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    *response.headers_mut() = headers;
    response
}

fn introspection(handler: &Handler, auth: Auth) -> Answer {
    let client = &handler.client;
    match auth {
        Auth::Invalid => Answer::unauthorized(),
        Auth::Dev => Answer::json(
            200,
            &introspect::unauthenticated(client, handler.function_count()),
        ),
        Auth::Valid(_) => Answer::json(
            200,
            &introspect::authenticated(client, handler.function_count()),
        ),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InBandRequest {
    url: String,
}

async fn put(
    handler: &Handler,
    headers: &HeaderMap,
    uri: &http::Uri,
    pairs: &[(String, String)],
    body: &[u8],
    auth: Auth,
) -> Answer {
    let client = &handler.client;
    let deploy_id = query_get(pairs, "deployId").filter(|d| *d != "undefined");
    let in_band = client.config().allow_in_band_sync()
        && header_str(headers, "x-inngest-sync-kind") == Some("in_band");
    if in_band {
        if body.is_empty() {
            return Answer::internal(
                "Missing request body when syncing, possibly due to missing request body middleware",
            );
        }
        if !auth.ok() {
            return Answer::unauthorized();
        }
        let request: InBandRequest = match serde_json::from_slice(body) {
            Ok(r) => r,
            Err(e) => {
                return Answer::json(
                    400,
                    &json!({ "code": "invalid_request", "message": format!("the in-band sync body must be exactly {{\"url\": string}}: {e}") }),
                );
            }
        };
        let Ok(url) = url::Url::parse(&request.url) else {
            return Answer::json(
                400,
                &json!({ "code": "invalid_request", "message": format!("{:?} is not an absolute URL", request.url) }),
            );
        };
        let url = sync::serve_url(client, &url);
        let inspection = match auth {
            Auth::Valid(_) => introspect::authenticated(client, handler.function_count()),
            _ => introspect::unauthenticated(client, handler.function_count()),
        };
        let body = sync::in_band_body(client, &handler.functions, &url, inspection);
        return Answer::json(200, &body).header("x-inngest-sync-kind", "in_band");
    }
    let Some(url) = request_url(headers, uri) else {
        return Answer::json(
            500,
            &json!({ "message": "Failed to register; the request has no Host header to build the app URL from; set INNGEST_SERVE_ORIGIN", "modified": false }),
        );
    };
    let url = sync::serve_url(client, &url);
    let outcome = sync::register(
        client,
        &handler.functions,
        &url,
        deploy_id,
        header_str(headers, "x-inngest-server-kind"),
    )
    .await;
    Answer::json(
        outcome.status,
        &json!({ "message": outcome.message, "modified": outcome.modified }),
    )
    .header("x-inngest-sync-kind", "out_of_band")
}

async fn call(
    handler: &Handler,
    headers: &HeaderMap,
    pairs: &[(String, String)],
    body: &[u8],
    auth: Auth,
) -> Answer {
    if body.is_empty() || !auth.ok() {
        return Answer::unauthorized();
    }
    if let Some(probe) = query_get(pairs, "probe") {
        return if probe == "trust" {
            Answer {
                status: 200,
                body: Vec::new(),
                headers: Vec::new(),
            }
        } else {
            let wire = WireError::internal(format!("Unknown probe \"{probe}\""));
            Answer::json(400, &serde_json::to_value(&wire).unwrap_or_default())
        };
    }
    let Some(fn_id) = query_get(pairs, "fnId") else {
        return Answer::internal("No function ID found in async request");
    };
    let Some((function, kind)) = handler.by_id.get(fn_id) else {
        return Answer::internal(&format!(
            "Function \"{fn_id}\" was not found in this app; is the app synced correctly?"
        ));
    };
    let step_id = query_get(pairs, "stepId").or_else(|| header_str(headers, "x-inngest-step-id"));
    let target = step_id.filter(|s| *s != "step").map(|s| exec::Target {
        text: s.to_owned(),
        hash: StepHash::parse(s),
    });
    let mut request = match CallRequest::parse(body) {
        Ok(r) => r,
        Err(e) => return Answer::internal(&e.to_string()),
    };
    let client = &handler.client;
    if request.use_api() {
        match api::fetch_run_data(client, &request.ctx.run_id).await {
            Ok(data) => {
                if !data.events.is_empty() {
                    if is_empty_object(request.event.get())
                        && let Some(first) = data.events.first()
                    {
                        request.event = first.clone();
                    }
                    request.events = data.events;
                }
                request.steps.0 = data.steps;
            }
            Err(message) => return Answer::internal(&message),
        }
    }
    let order = request.completion_order();
    let info = RunInfo {
        client: client.clone(),
        function_id: fn_id.to_owned(),
        run_id: request.ctx.run_id.clone(),
        attempt: request.ctx.attempt,
        max_attempts: request.ctx.max_attempts,
    };
    let shared = Shared::new(
        info.clone(),
        std::mem::take(&mut request.steps.0),
        &order,
        target,
        request.ctx.disable_immediate_execution,
    );
    let input = HandlerInput {
        event: request.event,
        events: request.events,
        step: Step::new(shared.clone()),
        run_id: info.run_id.clone(),
        attempt: info.attempt,
        max_attempts: info.max_attempts,
        function_id: info.function_id.clone(),
    };
    let Some(future) = function.start(*kind, input) else {
        return Answer::internal(&format!(
            "Function \"{fn_id}\" was not found in this app; is the app synced correctly?"
        ));
    };
    let outcome = exec::drive(shared, future).await;
    Answer::from_call(exec::respond(outcome, &info))
}

fn is_empty_object(text: &str) -> bool {
    matches!(serde_json::from_str::<Value>(text), Ok(Value::Object(m)) if m.is_empty())
}
