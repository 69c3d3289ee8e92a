//! The HTTP API: the dev server's routes (`/fn/register`, `/e/{key}`, `/dev`, `/v0/runs/...`)
//! and the engine's own JSON API under `/local` (apps, functions, runs, replay, cancel, events).

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::executor::{Core, RunActionError};
use crate::function::{RegisterError, parse_register};
use crate::protocol::{HEADER_EVENT_ID_SEED, HEADER_EXPECTED_SERVER_KIND, HEADER_SERVER_KIND};
use crate::run::{RunFilter, RunStatus};
use crate::signature::{EventKey, SigningKey};
use crate::sync::Syncer;

/// Largest request body accepted (events are up to 3 MiB each, up to 5000 per request).
const MAX_BODY: usize = 256 * 1024 * 1024;
/// Largest event.
const MAX_EVENT_BYTES: usize = 3 * 1024 * 1024;
/// Most events per request.
const MAX_EVENTS: usize = 5000;

#[derive(Debug, Clone)]
pub(crate) struct ApiState {
    pub core: Arc<Core>,
    pub syncer: Arc<Syncer>,
    pub signing_key: Option<SigningKey>,
    pub event_keys: Vec<EventKey>,
    pub server_kind: &'static str,
    pub start_opts: Value,
}

pub(crate) fn router(state: ApiState) -> Router {
    let kind = state.server_kind;
    Router::new()
        .route("/fn/register", post(register))
        .route("/e/{key}", post(events))
        .route("/dev", get(dev_info))
        .route("/v0/runs/{id}/batch", get(run_batch))
        .route("/v0/runs/{id}/actions", get(run_actions))
        .route("/local/apps", get(list_apps).post(add_app))
        .route("/local/functions", get(list_functions))
        .route("/local/functions/{id}/invoke", post(invoke_function))
        .route("/local/runs", get(list_runs))
        .route("/local/runs/{id}", get(show_run))
        .route("/local/runs/{id}/rerun", post(rerun))
        .route("/local/runs/{id}/cancel", post(cancel))
        .route("/local/events", get(list_events))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(axum::middleware::map_response(
            move |mut resp: Response| async move {
                resp.headers_mut()
                    .insert(HEADER_SERVER_KIND, HeaderValue::from_static(kind));
                resp
            },
        ))
        .with_state(state)
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    ApiError(status, message.into()).into_response()
}

/// An error answer `{"error": ..., "status": ...}`.
#[derive(Debug)]
struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.0,
            Json(json!({"error": self.1, "status": self.0.as_u16()})),
        )
            .into_response()
    }
}

/// Checks `Authorization: Bearer <plain or hashed signing key>` when a key is configured.
fn authorise(state: &ApiState, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(key) = &state.signing_key else {
        return Ok(());
    };
    let token = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, rest) = v.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
        });
    match token {
        Some(t) if key.accepts_bearer(t) => Ok(()),
        Some(_) => Err(ApiError(
            StatusCode::UNAUTHORIZED,
            "the bearer token does not match the engine's signing key".into(),
        )),
        None => Err(ApiError(
            StatusCode::UNAUTHORIZED,
            "missing Authorization: Bearer <signing key>; the engine has a signing key, so the SDK must use the same key".into(),
        )),
    }
}

async fn register(State(state): State<ApiState>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(e) = authorise(&state, &headers) {
        return e.into_response();
    }
    if let Some(expected) = headers
        .get(HEADER_EXPECTED_SERVER_KIND)
        .and_then(|v| v.to_str().ok())
        && !expected.is_empty()
        && expected != state.server_kind
    {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": format!("Expected server kind {}, got {expected}", state.server_kind)})),
        )
            .into_response();
    }
    match parse_register(&body) {
        Ok((app, functions)) => {
            let app_id = app_uuid(&app.id);
            let outcome = state.core.register(app, functions, body);
            tracing::info!(app = %outcome.app.id, functions = outcome.app.functions.len(), modified = outcome.modified, "app synced");
            Json(json!({
                "ok": true,
                "modified": outcome.modified,
                "sync_id": uuid::Uuid::new_v4(),
                "app_id": app_id,
            }))
            .into_response()
        }
        Err(e @ RegisterError::Functions(_)) => (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": e.to_string(), "status": 400, "data": null})),
        )
            .into_response(),
        Err(e) => error(StatusCode::BAD_REQUEST, e.to_string()),
    }
}

fn app_uuid(app: &str) -> uuid::Uuid {
    let digest = <sha2::Sha256 as sha2::Digest>::digest(app.as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}

fn event_error(status: StatusCode, message: impl Into<String>) -> Response {
    (
        status,
        Json(json!({"ids": [], "status": status.as_u16(), "error": message.into()})),
    )
        .into_response()
}

async fn events(
    State(state): State<ApiState>,
    Path(key): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !state.event_keys.is_empty() && !state.event_keys.iter().any(|k| k.matches(&key)) {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"status": 401, "message": "", "error": "Event key not found"})),
        )
            .into_response();
    }
    let parsed: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            return event_error(
                StatusCode::BAD_REQUEST,
                format!("the body is not JSON: {e}"),
            );
        }
    };
    let list = match parsed {
        Value::Array(items) => items,
        obj @ Value::Object(_) => vec![obj],
        _ => {
            return event_error(
                StatusCode::BAD_REQUEST,
                "send one event object or an array of events",
            );
        }
    };
    if list.len() > MAX_EVENTS {
        return event_error(
            StatusCode::BAD_REQUEST,
            format!("at most {MAX_EVENTS} events per request"),
        );
    }
    for (i, ev) in list.iter().enumerate() {
        let name = ev.get("name").and_then(Value::as_str).unwrap_or_default();
        if name.trim().is_empty() {
            return event_error(StatusCode::BAD_REQUEST, format!("event {i} has no name"));
        }
        if name.len() > 512 {
            return event_error(
                StatusCode::BAD_REQUEST,
                format!("event {i}: name longer than 512 characters"),
            );
        }
        if ev
            .get("data")
            .is_some_and(|d| !d.is_null() && !d.is_object())
        {
            return event_error(
                StatusCode::BAD_REQUEST,
                format!("event {i}: data must be an object"),
            );
        }
        if serde_json::to_vec(ev).map(|b| b.len()).unwrap_or(0) > MAX_EVENT_BYTES {
            return event_error(
                StatusCode::BAD_REQUEST,
                format!("event {i} is larger than 3 MiB"),
            );
        }
    }
    let seed = headers
        .get(HEADER_EVENT_ID_SEED)
        .and_then(|v| v.to_str().ok());
    let ids = state.core.send_events(list, seed);
    Json(json!({"ids": ids, "status": 200})).into_response()
}

async fn dev_info(State(state): State<ApiState>) -> Response {
    Json(json!({
        "version": concat!("inngest-local ", env!("CARGO_PKG_VERSION")),
        "startOpts": state.start_opts,
        "functions": state.core.functions().into_iter().map(|f| f["config"].clone()).collect::<Vec<_>>(),
        "handlers": state.syncer.statuses(),
        "isSingleNodeService": true,
        "isMissingSigningKey": false,
        "isMissingEventKeys": false,
        "features": {},
    }))
    .into_response()
}

fn check_run_id(id: &str) -> Result<(), ApiError> {
    ulid::Ulid::from_string(id).map(|_| ()).map_err(|_| {
        ApiError(
            StatusCode::BAD_REQUEST,
            format!("{id:?} is not a run id (ULID)"),
        )
    })
}

fn gone(id: &str) -> Response {
    error(
        StatusCode::GONE,
        format!("runtime state is no longer available for runID {id}"),
    )
}

async fn run_batch(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Err(e) = authorise(&state, &headers).and_then(|_| check_run_id(&id)) {
        return e.into_response();
    }
    match state.core.run_events(&id) {
        Some(events) => Json(events).into_response(),
        None => gone(&id),
    }
}

async fn run_actions(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Err(e) = authorise(&state, &headers).and_then(|_| check_run_id(&id)) {
        return e.into_response();
    }
    match state.core.run_actions(&id) {
        Some(actions) => Json(actions).into_response(),
        None => gone(&id),
    }
}

async fn list_apps(State(state): State<ApiState>, headers: HeaderMap) -> Response {
    if let Err(e) = authorise(&state, &headers) {
        return e.into_response();
    }
    Json(json!({"apps": state.core.apps(), "sync": state.syncer.statuses()})).into_response()
}

#[derive(Debug, Deserialize)]
struct AddApp {
    url: String,
}

async fn add_app(State(state): State<ApiState>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(e) = authorise(&state, &headers) {
        return e.into_response();
    }
    let req: AddApp = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("expected {{\"url\": \"...\"}}: {e}"),
            );
        }
    };
    let url = crate::config::normalise_sdk_url(&req.url);
    match state.syncer.sync(&url, state.core.clock.now()).await {
        Ok(modified) => {
            Json(json!({"url": url, "synced": true, "modified": modified})).into_response()
        }
        Err(e) => error(StatusCode::BAD_GATEWAY, e.to_string()),
    }
}

async fn list_functions(State(state): State<ApiState>, headers: HeaderMap) -> Response {
    if let Err(e) = authorise(&state, &headers) {
        return e.into_response();
    }
    Json(json!({"functions": state.core.functions()})).into_response()
}

#[derive(Debug, Deserialize, Default)]
struct InvokeBody {
    #[serde(default)]
    data: Option<Value>,
}

async fn invoke_function(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(e) = authorise(&state, &headers) {
        return e.into_response();
    }
    let req: InvokeBody = if body.is_empty() {
        InvokeBody::default()
    } else {
        match serde_json::from_slice(&body) {
            Ok(r) => r,
            Err(e) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    format!("expected {{\"data\": {{...}}}}: {e}"),
                );
            }
        }
    };
    if !state.core.has_function(&id) {
        return error(
            StatusCode::NOT_FOUND,
            format!("function {id} is not registered"),
        );
    }
    let mut data = req
        .data
        .filter(Value::is_object)
        .unwrap_or_else(|| json!({}));
    data["_inngest"] = json!({"fn_id": id});
    let ids = state.core.send_events(
        vec![json!({"name": "inngest/function.invoked", "data": data})],
        None,
    );
    let runs: Vec<String> = ids
        .first()
        .map(|e| {
            state
                .core
                .runs(&RunFilter::event(e.clone()))
                .into_iter()
                .map(|r| r.id)
                .collect()
        })
        .unwrap_or_default();
    Json(json!({"event_ids": ids, "run_ids": runs})).into_response()
}

#[derive(Debug, Deserialize)]
struct RunQuery {
    function_id: Option<String>,
    status: Option<String>,
    event_name: Option<String>,
    event_id: Option<String>,
    limit: Option<usize>,
}

async fn list_runs(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Query(q): Query<RunQuery>,
) -> Response {
    if let Err(e) = authorise(&state, &headers) {
        return e.into_response();
    }
    let status = match q.status.as_deref().map(|s| (s, RunStatus::parse(s))) {
        Some((s, None)) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("unknown status {s:?}: use Running, Completed, Failed or Cancelled"),
            );
        }
        Some((_, st)) => st,
        None => None,
    };
    let filter = RunFilter {
        function_id: q.function_id,
        status,
        event_name: q.event_name,
        event_id: q.event_id,
        limit: Some(q.limit.unwrap_or(100)),
    };
    let runs: Vec<Value> = state
        .core
        .runs(&filter)
        .into_iter()
        .map(|r| {
            json!({
                "id": r.id, "function_id": r.function_id, "status": r.status, "event_name": r.event_name,
                "event_ids": r.event_ids, "created_at": r.created_at, "ended_at": r.ended_at,
                "output": r.output, "error": r.error, "steps": r.steps.len(), "calls": r.calls.len(),
                "replay_of": r.replay_of,
            })
        })
        .collect();
    Json(json!({"runs": runs})).into_response()
}

async fn show_run(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Err(e) = authorise(&state, &headers) {
        return e.into_response();
    }
    match state.core.run(&id) {
        Some(run) => Json(run).into_response(),
        None => error(StatusCode::NOT_FOUND, format!("run {id} not found")),
    }
}

#[derive(Debug, Deserialize, Default)]
struct RerunBody {
    #[serde(default)]
    from_step: Option<String>,
}

fn action_error(e: RunActionError) -> Response {
    let status = match e {
        RunActionError::NotFound(_) => StatusCode::NOT_FOUND,
        RunActionError::Finished(_) => StatusCode::CONFLICT,
        RunActionError::FunctionGone(_) | RunActionError::UnknownStep { .. } => {
            StatusCode::UNPROCESSABLE_ENTITY
        }
    };
    error(status, e.to_string())
}

async fn rerun(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(e) = authorise(&state, &headers) {
        return e.into_response();
    }
    let req: RerunBody = if body.is_empty() {
        RerunBody::default()
    } else {
        match serde_json::from_slice(&body) {
            Ok(r) => r,
            Err(e) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    format!("expected {{\"from_step\": \"<step id>\"}}: {e}"),
                );
            }
        }
    };
    match state.core.rerun(&id, req.from_step.as_deref()) {
        Ok(run_id) => Json(json!({"run_id": run_id})).into_response(),
        Err(e) => action_error(e),
    }
}

async fn cancel(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Err(e) = authorise(&state, &headers) {
        return e.into_response();
    }
    match state.core.cancel(&id) {
        Ok(()) => Json(json!({"run_id": id, "status": RunStatus::Cancelled})).into_response(),
        Err(e) => action_error(e),
    }
}

#[derive(Debug, Deserialize)]
struct EventQuery {
    name: Option<String>,
    limit: Option<usize>,
}

async fn list_events(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Query(q): Query<EventQuery>,
) -> Response {
    if let Err(e) = authorise(&state, &headers) {
        return e.into_response();
    }
    Json(json!({"events": state.core.events(q.name.as_deref(), q.limit.unwrap_or(100))}))
        .into_response()
}
