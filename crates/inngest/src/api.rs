//! Fetching a run's state from Inngest's API when it is too large for the call body
//! (`ctx.use_api`): `GET /v0/runs/{run_id}/batch` and `GET /v0/runs/{run_id}/actions`.

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::client::Inngest;
use crate::hash::StepHash;
use crate::request::OrderedSteps;

/// A run's events and memoised steps, as fetched from the API.
#[derive(Debug)]
pub(crate) struct RunData {
    pub(crate) events: Vec<Box<RawValue>>,
    pub(crate) steps: Vec<(StepHash, Box<RawValue>)>,
}

#[derive(Deserialize)]
struct ApiError {
    #[serde(default)]
    error: Option<String>,
}

async fn get(client: &Inngest, path: &str) -> Result<String, String> {
    let url = client.api_url(path);
    let response = client
        .api_send(|http| http.get(url.clone()))
        .await
        .map_err(|e| e.without_url().to_string())?;
    let status = response.status();
    let text = response
        .text()
        .await
        .map_err(|e| e.without_url().to_string())?;
    if status.is_success() {
        Ok(text)
    } else {
        let detail = serde_json::from_str::<ApiError>(&text)
            .ok()
            .and_then(|e| e.error)
            .unwrap_or_else(|| format!("status {}", status.as_u16()));
        Err(detail)
    }
}

/// Fetches the events and the steps of a run in parallel (bearer token, fallback key on
/// 401/403). The error text is the one the official SDKs answer the call with (status 500).
pub(crate) async fn fetch_run_data(client: &Inngest, run_id: &str) -> Result<RunData, String> {
    let id: String = url::form_urlencoded::byte_serialize(run_id.as_bytes()).collect();
    let batch_path = format!("/v0/runs/{id}/batch");
    let actions_path = format!("/v0/runs/{id}/actions");
    let (batch, actions) = futures::join!(get(client, &batch_path), get(client, &actions_path));
    let events = batch
        .and_then(|text| {
            serde_json::from_str::<Vec<Box<RawValue>>>(&text).map_err(|e| e.to_string())
        })
        .map_err(|e| {
            format!("Failed to retrieve list of events Function execution can't continue. {e}")
        })?;
    let steps = actions
        .and_then(|text| serde_json::from_str::<OrderedSteps>(&text).map_err(|e| e.to_string()))
        .map_err(|e| {
            format!(
                "Failed to retrieve steps for function run Function execution can't continue. {e}"
            )
        })?;
    Ok(RunData {
        events,
        steps: steps.0,
    })
}
