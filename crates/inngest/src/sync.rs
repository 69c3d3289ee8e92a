//! Syncing (`PUT`): telling Inngest which functions this app serves.
//!
//! * **Out-of-band** (the default, and what the Dev Server and self-hosted Inngest use): the
//!   SDK posts the configuration to `{api}/fn/register` and answers the `PUT` with
//!   `{message, modified}`.
//! * **In-band** (Inngest Cloud asks with `x-inngest-sync-kind: in_band`): the SDK answers the
//!   signed `PUT` directly with the configuration.

use serde::Deserialize;
use serde_json::{Value, json};

use crate::client::{FRAMEWORK, Inngest, SDK_LANGUAGE, SDK_VERSION, sdk_register_value};
use crate::function::Function;
use crate::introspect::capabilities;

/// Query parameters of the serve URL that never go into a registered URL.
const DROPPED_PARAMS: [&str; 4] = ["deployId", "fnId", "stepId", "probe"];

/// The URL Inngest must call, from the URL a request arrived on, with `serve_origin` /
/// `serve_path` overrides applied and Inngest's own query parameters removed.
pub(crate) fn serve_url(client: &Inngest, request_url: &url::Url) -> url::Url {
    let config = client.config();
    let mut url = request_url.clone();
    if let Some(path) = config.serve_path() {
        url.set_path(path);
    }
    if let Some(origin) = config.serve_origin() {
        let relative = match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_owned(),
        };
        if let Ok(joined) = url::Url::parse(origin).and_then(|o| o.join(&relative)) {
            url = joined;
        }
    }
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| !DROPPED_PARAMS.contains(&k.as_ref()))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    if kept.is_empty() {
        url.set_query(None);
    } else {
        url.query_pairs_mut().clear().extend_pairs(kept);
    }
    url
}

/// The configurations of all functions for the serve URL `url`.
pub(crate) fn function_configs(
    client: &Inngest,
    functions: &[Function],
    url: &url::Url,
) -> Vec<Value> {
    functions
        .iter()
        .flat_map(|f| f.sync_configs(client.app_id(), url))
        .collect()
}

/// The body of `POST /fn/register`.
pub(crate) fn register_body(
    client: &Inngest,
    functions: &[Function],
    url: &url::Url,
    deploy_id: Option<&str>,
) -> Value {
    let mut body = json!({
        "url": url.as_str(),
        "deployType": "ping",
        "framework": FRAMEWORK,
        "appName": client.app_id(),
        "functions": function_configs(client, functions, url),
        "sdk": sdk_register_value(),
        "v": "0.1",
        "capabilities": capabilities(),
    });
    if let Value::Object(map) = &mut body {
        if let Some(id) = deploy_id {
            map.insert("deployId".into(), json!(id));
        }
        if let Some(v) = client.app_version() {
            map.insert("appVersion".into(), json!(v));
        }
    }
    body
}

/// The answer to an in-band sync.
pub(crate) fn in_band_body(
    client: &Inngest,
    functions: &[Function],
    url: &url::Url,
    inspection: Value,
) -> Value {
    let mut body = json!({
        "app_id": client.app_id(),
        "capabilities": capabilities(),
        "env": client.config().env(),
        "framework": FRAMEWORK,
        "functions": function_configs(client, functions, url),
        "inspection": inspection,
        "sdk_author": "inngest",
        "sdk_language": SDK_LANGUAGE,
        "sdk_version": SDK_VERSION,
        "sdk": sdk_register_value(),
        "url": url.as_str(),
    });
    if let (Value::Object(map), Some(v)) = (&mut body, client.app_version()) {
        map.insert("appVersion".into(), json!(v));
    }
    body
}

/// The outcome of an out-of-band sync: the status and body of the `PUT` answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyncOutcome {
    pub(crate) status: u16,
    pub(crate) message: String,
    pub(crate) modified: bool,
}

#[derive(Deserialize)]
struct RegisterAnswer {
    #[serde(default)]
    modified: bool,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

/// Posts the configuration to `{api}/fn/register` (bearer token with fallback on 401/403).
pub(crate) async fn register(
    client: &Inngest,
    functions: &[Function],
    url: &url::Url,
    deploy_id: Option<&str>,
    expected_server_kind: Option<&str>,
) -> SyncOutcome {
    let body = register_body(client, functions, url, deploy_id);
    let mut target = client.api_url("/fn/register");
    if let Some(id) = deploy_id {
        target.query_pairs_mut().append_pair("deployId", id);
    }
    let response = client
        .api_send(|http| {
            let mut req = http
                .post(target.clone())
                .header("x-inngest-sync-kind", "out_of_band")
                .json(&body);
            if let Some(kind) = expected_server_kind {
                req = req.header("x-inngest-expected-server-kind", kind);
            }
            req
        })
        .await;
    let response = match response {
        Ok(r) => r,
        Err(err) => {
            let err = err.without_url();
            tracing::error!(error = %err, "sync failed: Inngest could not be reached");
            return SyncOutcome {
                status: 500,
                message: format!("Failed to register; {err}"),
                modified: false,
            };
        }
    };
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    let answer = match serde_json::from_str::<RegisterAnswer>(&text) {
        Ok(a) => a,
        Err(err) => {
            return SyncOutcome {
                status: 500,
                message: format!(
                    "Failed to register; {err}; status code: {}",
                    status.as_u16()
                ),
                modified: false,
            };
        }
    };
    if status.is_success() {
        tracing::debug!(modified = answer.modified, "functions synced");
        SyncOutcome {
            status: 200,
            message: "Successfully registered".to_owned(),
            modified: answer.modified,
        }
    } else {
        let message = answer
            .error
            .or(answer.message)
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| format!("Failed to register; status code: {}", status.as_u16()));
        tracing::error!(status = status.as_u16(), %message, "Inngest refused the sync");
        SyncOutcome {
            status: 500,
            message,
            modified: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(b: crate::ClientBuilder) -> Inngest {
        b.without_env().dev().build().expect("valid")
    }

    #[test]
    fn serve_url_drops_inngest_params_and_applies_overrides() {
        let c = client(Inngest::builder("app"));
        let u = url::Url::parse("http://h:1/api/inngest?deployId=d&x=1&fnId=f").expect("url");
        assert_eq!(serve_url(&c, &u).as_str(), "http://h:1/api/inngest?x=1");
        let u = url::Url::parse("http://h:1/api/inngest?deployId=d").expect("url");
        assert_eq!(serve_url(&c, &u).as_str(), "http://h:1/api/inngest");

        let c = client(
            Inngest::builder("app")
                .serve_origin("https://public.example.com")
                .serve_path("/inngest"),
        );
        let u = url::Url::parse("http://10.0.0.1:8080/api/inngest?x=1").expect("url");
        assert_eq!(
            serve_url(&c, &u).as_str(),
            "https://public.example.com/inngest?x=1"
        );
    }

    #[test]
    fn register_body_has_the_official_top_level_fields() {
        let c = client(Inngest::builder("app").app_version("1.2.3"));
        let u = url::Url::parse("http://h/api/inngest").expect("url");
        let body = register_body(&c, &[], &u, Some("d1"));
        assert_eq!(body["url"], "http://h/api/inngest");
        assert_eq!(body["deployType"], "ping");
        assert_eq!(body["framework"], "axum");
        assert_eq!(body["appName"], "app");
        assert_eq!(body["sdk"], format!("rust:v{SDK_VERSION}"));
        assert_eq!(body["v"], "0.1");
        assert_eq!(body["deployId"], "d1");
        assert_eq!(body["appVersion"], "1.2.3");
        assert_eq!(
            body["capabilities"],
            json!({"in_band_sync": "v1", "trust_probe": "v1"})
        );
    }
}
