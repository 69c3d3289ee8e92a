//! The comparison half of `conformance/record.mjs` (`normaliseResponse` and `diff`), ported
//! rule for rule. Each rule names its number in `conformance/README.md` "Normalisation"; the
//! same function is applied to the JS fixture and to the Rust answer before comparing.

use serde_json::{Map, Value, json};

use super::wire::{BodyKind, Compare, Recorded};

/// N1: keys dropped wherever they occur in a response body.
const VOLATILE_KEYS: [&str; 3] = ["timing", "stack", "__serialized"];
/// N6: keys naming the implementation, dropped from introspection / in-band sync bodies.
const IDENTITY_KEYS: [&str; 8] = [
    "extra",
    "featureObservations",
    "framework",
    "has_signing_key_fallback",
    "sdk",
    "sdk_author",
    "sdk_language",
    "sdk_version",
];
/// N7: keys whose value is a hash in an implementation-chosen format: compared by presence.
const HASH_KEYS: [&str; 3] = [
    "event_key_hash",
    "signing_key_fallback_hash",
    "signing_key_hash",
];
/// N4: opcodes whose `data` the server never reads.
const ERROR_OPS: [&str; 2] = ["StepError", "StepFailed"];

/// The comparable view of one response: `{status, headers, body_kind, body?, body_text?}`.
pub(crate) fn normalise_response(res: &Recorded, compare: Compare) -> Value {
    let mut headers = res.headers.clone();
    // N2: media type only, lower-cased.
    if let Some(ct) = headers.get_mut("content-type") {
        *ct = ct
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_lowercase();
    }
    // N5: on a 5xx an absent x-inngest-no-retry means "retry", exactly like "false".
    if res.status >= 500 {
        headers
            .entry("x-inngest-no-retry".to_owned())
            .or_insert_with(|| "false".to_owned());
    }
    let mut out = json!({
        "status": res.status,
        "headers": headers,
        "body_kind": res.body_kind.as_str(),
    });
    // N8: SDK diagnostics compare status, headers and body_kind only.
    if compare == Compare::StatusHeaders {
        return out;
    }
    match (res.body_kind, &res.body, &res.body_text) {
        (BodyKind::Json, Some(body), _) => out["body"] = normalise_body(body, res.status),
        (BodyKind::Text, _, Some(text)) => out["body_text"] = json!(text),
        _ => {}
    }
    out
}

fn normalise_body(body: &Value, status: u16) -> Value {
    let b = drop_volatile(body);
    if status == 206 && is_op_array(&b) {
        let ops = b
            .as_array()
            .map(|ops| ops.iter().map(normalise_op).collect());
        return Value::Array(ops.unwrap_or_default());
    }
    if is_introspection(&b) {
        return normalise_introspection(&b);
    }
    if is_in_band_sync(&b) {
        let mut out = normalise_introspection(&b);
        out["inspection"] = normalise_introspection(&b["inspection"]);
        // N6: in-band functions compared sorted by id (a total order on both sides; the
        // recorder's `localeCompare` and this byte order give the same verdict).
        if let Some(functions) = out["functions"].as_array_mut() {
            functions.sort_by_cached_key(|f| match f.get("id") {
                Some(Value::String(id)) => id.clone(),
                Some(other) => other.to_string(),
                None => "undefined".to_owned(),
            });
        }
        return out;
    }
    // N3: a `status >= 400` body that is an error object.
    if status >= 400 && b["name"].is_string() && b["message"].is_string() {
        return error_core(&b);
    }
    b
}

/// N1: drops `timing`, `stack` and `__serialized` at any depth.
fn drop_volatile(value: &Value) -> Value {
    match value {
        Value::Array(items) => Value::Array(items.iter().map(drop_volatile).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(k, _)| !VOLATILE_KEYS.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), drop_volatile(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// N3: an error object reduced to `{name, message}` (each only if present); anything that
/// is not an object is left alone.
fn error_core(err: &Value) -> Value {
    let Some(map) = err.as_object() else {
        return err.clone();
    };
    let core: Map<String, Value> = ["message", "name"]
        .into_iter()
        .filter_map(|k| map.get(k).map(|v| (k.to_owned(), v.clone())))
        .collect();
    Value::Object(core)
}

/// N4: one op of a 206 array.
fn normalise_op(op: &Value) -> Value {
    let mut o = op.as_object().cloned().unwrap_or_default();
    // `opts` absent ≡ `{}`.
    o.entry("opts").or_insert_with(|| json!({}));
    let kind = o
        .get("op")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let kind = kind.as_str();
    if ERROR_OPS.contains(&kind) {
        // StepError/StepFailed `data` is never read by the server; `error` as N3.
        o.remove("data");
        if let Some(err) = o.get("error").map(error_core) {
            o.insert("error".to_owned(), err);
        }
    } else if kind != "StepRun" && o.get("data") == Some(&Value::Null) {
        // `data: null` ≡ absent, except on StepRun where `data` must be present.
        o.remove("data");
    }
    let name = o.get("name").cloned();
    let dup_key = match kind {
        "Sleep" => Some("duration"),
        "WaitForEvent" => Some("event"),
        _ => None,
    };
    if let (Some(key), Some(Value::Object(opts))) = (dup_key, o.get_mut("opts")) {
        // Sleep `opts.duration` / WaitForEvent `opts.event` dropped when they repeat `name`.
        if opts.get(key) == name.as_ref() {
            opts.remove(key);
        }
    }
    Value::Object(o)
}

/// N6/N7: introspection bodies (also an in-band sync body and its `inspection`).
fn normalise_introspection(body: &Value) -> Value {
    let mut out = body.as_object().cloned().unwrap_or_default();
    // N6: implementation identity.
    for k in IDENTITY_KEYS {
        out.remove(k);
    }
    for k in ["authentication_succeeded", "platform"] {
        if out.get(k) == Some(&Value::Null) {
            out.remove(k);
        }
    }
    // N7: hashes compared by presence (`null` stays `null`).
    for k in HASH_KEYS {
        if let Some(v) = out.get_mut(k)
            && v.is_string()
        {
            *v = json!("<hash>");
        }
    }
    // N6: only `trust_probe` of `capabilities`.
    if let Some(Value::Object(caps)) = out.get_mut("capabilities") {
        caps.retain(|k, _| k == "trust_probe");
    }
    Value::Object(out)
}

fn is_introspection(body: &Value) -> bool {
    body["schema_version"].is_string()
        && body
            .as_object()
            .is_some_and(|m| m.contains_key("function_count"))
}

fn is_in_band_sync(body: &Value) -> bool {
    body["functions"].is_array() && body["inspection"].is_object()
}

fn is_op_array(body: &Value) -> bool {
    body.as_array().is_some_and(|ops| {
        !ops.is_empty() && ops.iter().all(|op| op.is_object() && op["op"].is_string())
    })
}

/// One difference between the normalised JS answer and the normalised Rust answer.
#[derive(Debug)]
pub(crate) struct Difference {
    /// RFC 6901 pointer into the normalised response (`/headers/x-inngest-no-retry`).
    pub(crate) pointer: String,
    pub(crate) expected: String,
    pub(crate) actual: String,
}

/// Structural comparison (`diff` in record.mjs): objects key by key, arrays element by
/// element (and by length), leaves by their JSON value, numbers by their numeric value
/// (as JavaScript compares `1` and `1.0`).
pub(crate) fn diff(expected: &Value, actual: &Value, pointer: &str, out: &mut Vec<Difference>) {
    fn push(out: &mut Vec<Difference>, pointer: String, expected: String, actual: String) {
        out.push(Difference {
            pointer,
            expected,
            actual,
        });
    }
    match (expected, actual) {
        (Value::Array(e), Value::Array(a)) => {
            if e.len() != a.len() {
                push(
                    out,
                    pointer.to_owned(),
                    format!("array of {} items", e.len()),
                    format!("array of {} items", a.len()),
                );
            }
            for (i, (e, a)) in e.iter().zip(a).enumerate() {
                diff(e, a, &format!("{pointer}/{i}"), out);
            }
        }
        (Value::Object(e), Value::Object(a)) => {
            let mut keys: Vec<&String> = e.keys().chain(a.keys()).collect();
            keys.sort();
            keys.dedup();
            for k in keys {
                let here = format!("{pointer}/{}", k.replace('~', "~0").replace('/', "~1"));
                match (e.get(k), a.get(k)) {
                    (Some(ev), Some(av)) => diff(ev, av, &here, out),
                    (Some(ev), None) => push(out, here, ev.to_string(), "(absent)".to_owned()),
                    (None, Some(av)) => push(out, here, "(absent)".to_owned(), av.to_string()),
                    (None, None) => {}
                }
            }
        }
        (Value::Number(e), Value::Number(a)) if e.as_f64() == a.as_f64() => {}
        (e, a) if e == a => {}
        (e, a) => push(out, pointer.to_owned(), e.to_string(), a.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn json_response(status: u16, headers: &[(&str, &str)], body: Value) -> Recorded {
        Recorded {
            status,
            headers: headers
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect::<BTreeMap<_, _>>(),
            body_kind: BodyKind::Json,
            body: Some(body),
            body_text: None,
        }
    }

    #[test]
    fn js_padding_on_error_ops_is_normalised_away_but_names_and_messages_are_not() {
        let js = json_response(
            206,
            &[("content-type", "application/json; charset=utf-8")],
            json!([{"op": "StepFailed", "id": "h", "name": "s", "displayName": "s",
                    "userland": {"id": "s"}, "timing": "<timing>",
                    "data": {"__serialized": true, "name": "Error", "message": "m", "stack": ""},
                    "error": {"__serialized": true, "name": "Error", "message": "m",
                              "stack": "<stack>", "cause": null}}]),
        );
        let rust = json_response(
            206,
            &[("content-type", "application/json")],
            json!([{"op": "StepFailed", "id": "h", "name": "s", "displayName": "s",
                    "userland": {"id": "s"}, "opts": {},
                    "error": {"name": "Error", "message": "m"}}]),
        );
        let mut out = Vec::new();
        diff(
            &normalise_response(&js, Compare::Full),
            &normalise_response(&rust, Compare::Full),
            "",
            &mut out,
        );
        assert!(out.is_empty(), "{out:?}");

        let renamed = json_response(
            206,
            &[("content-type", "application/json")],
            json!([{"op": "StepFailed", "id": "h", "name": "s", "displayName": "s",
                    "userland": {"id": "s"}, "error": {"name": "StepError", "message": "m"}}]),
        );
        let mut out = Vec::new();
        diff(
            &normalise_response(&js, Compare::Full),
            &normalise_response(&renamed, Compare::Full),
            "",
            &mut out,
        );
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(out[0].pointer, "/body/0/error/name");
        assert_eq!(out[0].expected, r#""Error""#);
        assert_eq!(out[0].actual, r#""StepError""#);
    }

    #[test]
    fn step_run_data_null_is_kept_and_missing_no_retry_on_5xx_reads_as_false() {
        let run = normalise_op(&json!({"op": "StepRun", "data": null}));
        assert_eq!(run, json!({"op": "StepRun", "data": null, "opts": {}}));
        let planned = normalise_op(&json!({"op": "StepPlanned", "data": null}));
        assert_eq!(planned, json!({"op": "StepPlanned", "opts": {}}));
        let sleep = normalise_op(&json!({"op": "Sleep", "name": "1h", "opts": {"duration": "1h"}}));
        assert_eq!(sleep, json!({"op": "Sleep", "name": "1h", "opts": {}}));

        let five = normalise_response(&json_response(500, &[], json!({})), Compare::Full);
        assert_eq!(five["headers"]["x-inngest-no-retry"], "false");
        let four = normalise_response(&json_response(400, &[], json!({})), Compare::Full);
        assert!(four["headers"].get("x-inngest-no-retry").is_none());
    }

    #[test]
    fn introspection_keeps_protocol_fields_and_drops_identity_and_hash_formats() {
        let body = json!({"schema_version": "2024-05-24", "function_count": 15, "mode": "cloud",
            "sdk_version": "4.24.0", "sdk_language": "js", "framework": "nodejs",
            "authentication_succeeded": null, "signing_key_hash": "abc", "event_key_hash": null,
            "capabilities": {"trust_probe": "v1", "connect": "v1"}});
        let out = normalise_body(&body, 200);
        assert_eq!(
            out,
            json!({"schema_version": "2024-05-24", "function_count": 15, "mode": "cloud",
                   "signing_key_hash": "<hash>", "event_key_hash": null,
                   "capabilities": {"trust_probe": "v1"}})
        );
    }

    #[test]
    fn status_headers_mode_ignores_the_body_but_not_the_body_kind() {
        let a = json_response(500, &[], json!({"error": "js text"}));
        let mut b = json_response(500, &[], json!({"error": "rust text"}));
        assert_eq!(
            normalise_response(&a, Compare::StatusHeaders),
            normalise_response(&b, Compare::StatusHeaders)
        );
        b.body_kind = BodyKind::Text;
        assert_ne!(
            normalise_response(&a, Compare::StatusHeaders),
            normalise_response(&b, Compare::StatusHeaders)
        );
    }
}
