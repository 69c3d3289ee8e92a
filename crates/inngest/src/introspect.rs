//! Introspection (`GET`) bodies, schema version `2024-05-24`.
//!
//! Dev mode answers the unauthenticated body; cloud mode answers the authenticated body to a
//! correctly signed request and `401` otherwise (the JS SDK's behaviour).

use serde_json::{Value, json};

use crate::client::{FRAMEWORK, Inngest, SDK_LANGUAGE, SDK_VERSION};
use crate::config::SigningKey;
use crate::signature::{hashed_event_key, hashed_signing_key};

/// The introspection schema version.
pub(crate) const SCHEMA_VERSION: &str = "2024-05-24";

/// Capabilities this SDK declares at sync and in introspection.
pub(crate) fn capabilities() -> Value {
    json!({ "in_band_sync": "v1", "trust_probe": "v1" })
}

/// The unauthenticated body (schema 2024-05-24). Only dev mode answers it, where requests are
/// not verified, so `authentication_succeeded` is `null` ("not checked"). The JS SDK leaves out
/// `authentication_succeeded` and `has_signing_key_fallback`; the schema has both, so they are
/// sent.
pub(crate) fn unauthenticated(client: &Inngest, function_count: usize) -> Value {
    let config = client.config();
    json!({
        "authentication_succeeded": null,
        "function_count": function_count,
        "has_event_key": config.event_key().is_some(),
        "has_signing_key": config.signing_key().is_some(),
        "has_signing_key_fallback": config.signing_key_fallback().is_some(),
        "mode": config.mode().as_str(),
        "schema_version": SCHEMA_VERSION,
    })
}

/// The first 12 hex characters of the hashed key without its prefix (the JS SDK's format).
fn short_hash(key: &SigningKey) -> String {
    let hashed = hashed_signing_key(key);
    let body = hashed.strip_prefix(key.prefix()).unwrap_or(hashed.as_str());
    body.chars().take(12).collect()
}

/// The authenticated body (only for requests signed with a configured key).
pub(crate) fn authenticated(client: &Inngest, function_count: usize) -> Value {
    let config = client.config();
    let mut body = unauthenticated(client, function_count);
    if let Value::Object(map) = &mut body {
        let extra = json!({
            "authentication_succeeded": true,
            "api_origin": config.api_base_url(),
            "app_id": client.app_id(),
            "capabilities": capabilities(),
            "env": config.env(),
            "event_api_origin": config.event_api_base_url(),
            "event_key_hash": config.event_key().map(hashed_event_key),
            "framework": FRAMEWORK,
            "sdk_language": SDK_LANGUAGE,
            "sdk_version": SDK_VERSION,
            "serve_origin": config.serve_origin(),
            "serve_path": config.serve_path(),
            "signing_key_fallback_hash": config.signing_key_fallback().map(short_hash),
            "signing_key_hash": config.signing_key().map(short_hash),
        });
        if let Value::Object(extra) = extra {
            map.extend(extra);
        }
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_body_has_exactly_the_unauthenticated_keys() {
        let client = Inngest::builder("app")
            .without_env()
            .dev()
            .build()
            .expect("valid");
        assert_eq!(
            unauthenticated(&client, 3),
            json!({"authentication_succeeded": null, "function_count": 3,
                "has_event_key": false, "has_signing_key": false,
                "has_signing_key_fallback": false, "mode": "dev",
                "schema_version": "2024-05-24"})
        );
    }

    #[test]
    fn authenticated_body_hashes_keys_and_never_shows_them() {
        let client = Inngest::builder("app")
            .without_env()
            .signing_key(
                "signkey-test-f00f3005a3666b359a79c2bc3380ce2715e62727ac461ae1a2618f8766029c9f",
            )
            .event_key("evkey")
            .build()
            .expect("valid");
        let body = authenticated(&client, 1);
        assert_eq!(body["authentication_succeeded"], true);
        assert_eq!(body["signing_key_hash"], "1492131fd843");
        assert_eq!(body["signing_key_fallback_hash"], Value::Null);
        assert_eq!(body["has_signing_key_fallback"], false);
        assert_eq!(body["app_id"], "app");
        assert_eq!(body["mode"], "cloud");
        assert_eq!(body["capabilities"]["trust_probe"], "v1");
        let text = body.to_string();
        assert!(!text.contains("f00f3005"));
        assert!(!text.contains("\"evkey\""));
    }
}
