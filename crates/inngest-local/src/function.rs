//! Apps and functions as synced through `POST /fn/register` (digest §4.3), validated and
//! compiled (CEL expressions, cron schedules) once at sync time.

use std::str::FromStr;

use chrono::{DateTime, Duration, Utc};
use croner::Cron;
use serde::Serialize;
use serde_json::Value;
use url::Url;

use crate::backoff::parse_duration;
use crate::expr::Expr;

/// Inngest's default number of retries (5 attempts).
pub const DEFAULT_RETRIES: u32 = 4;
/// Inngest's maximum number of retries.
pub const MAX_RETRIES: u32 = 20;

/// A trigger.
#[derive(Debug, Clone)]
pub enum Trigger {
    /// An event name with an optional CEL filter over `event`.
    Event {
        /// Event name.
        name: String,
        /// Filter.
        expression: Option<Expr>,
    },
    /// A cron schedule.
    Cron {
        /// The schedule text as registered.
        schedule: String,
        /// Parsed schedule.
        cron: Box<Cron>,
        /// The time zone of a `TZ=<zone> ...` (or `CRON_TZ=`) prefix; UTC without one.
        zone: chrono_tz::Tz,
    },
}

/// Scope of a concurrency limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ConcurrencyScope {
    /// Per function.
    Fn,
    /// Shared by every function of the environment using the same key.
    Env,
    /// Shared across environments (same as `env` locally).
    Account,
}

/// A concurrency limit: at most `limit` steps of matching runs execute at once.
#[derive(Debug, Clone)]
pub struct Concurrency {
    /// Maximum concurrent steps.
    pub limit: u32,
    /// Grouping key over `event`.
    pub key: Option<Expr>,
    /// Scope.
    pub scope: ConcurrencyScope,
}

/// A cancel-on rule.
#[derive(Debug, Clone)]
pub struct CancelOn {
    /// Cancelling event name.
    pub event: String,
    /// Filter with `event` (trigger) and `async` (cancelling event).
    pub expression: Option<Expr>,
    /// How long after the run starts the rule applies.
    pub timeout: Option<Duration>,
}

/// A synced function.
#[derive(Debug, Clone)]
pub struct FunctionDef {
    /// Composite id `<app>-<fn>`.
    pub id: String,
    /// Display name.
    pub name: String,
    /// App it belongs to.
    pub app: String,
    /// Call URL (`...?fnId=<id>&stepId=step`).
    pub url: Url,
    /// Retries per queue item (attempts = retries + 1).
    pub retries: u32,
    /// Triggers.
    pub triggers: Vec<Trigger>,
    /// Concurrency limits.
    pub concurrency: Vec<Concurrency>,
    /// Cancel-on rules.
    pub cancel: Vec<CancelOn>,
    /// Idempotency key expression (one run per key per 24 h).
    pub idempotency: Option<Expr>,
    /// The configuration as registered.
    pub config: Value,
}

/// Settings of the register payload that Inngest enforces and this engine does not (yet).
/// A function that uses them still runs, but not with Inngest's semantics for them, so the
/// engine says so at sync and in `/local/functions`.
pub const IGNORED_SETTINGS: &[&str] = &[
    "batchEvents",
    "debounce",
    "throttle",
    "rateLimit",
    "priority",
    "singleton",
    "timeouts",
];

impl FunctionDef {
    /// Attempts per queue item.
    pub fn max_attempts(&self) -> u32 {
        self.retries + 1
    }

    /// The registered settings from [`IGNORED_SETTINGS`] that this function uses: runs here may
    /// differ from Inngest's for them.
    pub fn ignored_settings(&self) -> Vec<&'static str> {
        IGNORED_SETTINGS
            .iter()
            .copied()
            .filter(|key| self.config.get(*key).is_some_and(|v| !v.is_null()))
            .collect()
    }

    /// A function defined directly (no sync), as the in-process test engine does.
    pub fn direct(id: &str, url: Url, retries: u32) -> Self {
        Self {
            id: id.to_owned(),
            name: id.to_owned(),
            app: String::new(),
            url,
            retries: retries.min(MAX_RETRIES),
            triggers: Vec::new(),
            concurrency: Vec::new(),
            cancel: Vec::new(),
            idempotency: None,
            config: serde_json::json!({"id": id}),
        }
    }

    /// Whether an event triggers this function.
    pub fn triggered_by(&self, event: &Value) -> bool {
        let name = event
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        self.triggers.iter().any(|t| match t {
            Trigger::Event { name: n, expression } => {
                n == name
                    && expression.as_ref().is_none_or(|e| match e.matches(&[("event", event)]) {
                        Ok(m) => m,
                        Err(err) => {
                            tracing::warn!(function = %self.id, error = %err, "trigger expression failed");
                            false
                        }
                    })
            }
            Trigger::Cron { .. } => false,
        })
    }

    /// Next time each cron trigger fires after `after`: `(trigger index, time)`.
    pub fn next_cron_ticks(&self, after: DateTime<Utc>) -> Vec<(usize, DateTime<Utc>)> {
        self.triggers
            .iter()
            .enumerate()
            .filter_map(|(i, t)| match t {
                Trigger::Cron { cron, zone, .. } => cron
                    .find_next_occurrence(&after.with_timezone(zone), false)
                    .ok()
                    .map(|at| (i, at.with_timezone(&Utc))),
                Trigger::Event { .. } => None,
            })
            .collect()
    }
}

/// Splits Inngest's optional time-zone prefix (`TZ=Europe/London 0 6 * * *`, also `CRON_TZ=`)
/// from the schedule. Without a prefix the schedule is in UTC, as on Inngest.
fn split_cron_zone(cron: &str) -> Result<(chrono_tz::Tz, &str), String> {
    let cron = cron.trim();
    let Some(rest) = cron
        .strip_prefix("TZ=")
        .or_else(|| cron.strip_prefix("CRON_TZ="))
    else {
        return Ok((chrono_tz::Tz::UTC, cron));
    };
    let (zone, schedule) = rest.split_once(char::is_whitespace).ok_or_else(|| {
        format!("cron {cron:?}: a time zone prefix must be followed by a schedule")
    })?;
    let zone = zone.parse::<chrono_tz::Tz>().map_err(|_| {
        format!("cron {cron:?}: {zone:?} is not an IANA time zone such as Europe/London")
    })?;
    Ok((zone, schedule.trim_start()))
}

/// A synced app.
#[derive(Debug, Clone, Serialize)]
pub struct AppInfo {
    /// App id (`appName`).
    pub id: String,
    /// Serve URL.
    pub url: String,
    /// SDK (`js:v4.24.0`).
    pub sdk: String,
    /// Framework, if given.
    pub framework: Option<String>,
    /// Composite ids of its functions.
    pub functions: Vec<String>,
    /// Checksum of the function configs (a resync with the same checksum is not `modified`).
    pub checksum: String,
}

/// Why a register payload was refused.
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    /// Not JSON or wrong shape.
    #[error("invalid request: {0}")]
    Invalid(String),
    /// Some functions are invalid.
    #[error("At least one function is invalid: {}", .0.join("; "))]
    Functions(Vec<String>),
}

fn text<'a>(v: &'a Value, keys: &[&str]) -> Option<&'a str> {
    let obj = v.as_object()?;
    keys.iter().find_map(|k| {
        obj.iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(k))
            .and_then(|(_, v)| v.as_str())
    })
}

fn field<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    v.as_object()?
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(key))
        .map(|(_, v)| v)
        .filter(|v| !v.is_null())
}

/// Parses and validates a register payload into the app and its functions.
pub fn parse_register(body: &[u8]) -> Result<(AppInfo, Vec<FunctionDef>), RegisterError> {
    let payload: Value = serde_json::from_slice(body)
        .map_err(|e| RegisterError::Invalid(format!("body is not JSON: {e}")))?;
    if !payload.is_object() {
        return Err(RegisterError::Invalid("body is not a JSON object".into()));
    }
    let app = text(&payload, &["appName", "appname"])
        .unwrap_or_default()
        .trim()
        .to_owned();
    if app.is_empty() {
        return Err(RegisterError::Invalid("app name (appName) is empty".into()));
    }
    let url = text(&payload, &["url"]).unwrap_or_default().to_owned();
    Url::parse(&url)
        .map_err(|e| RegisterError::Invalid(format!("url {url:?} is not an absolute URL: {e}")))?;
    let functions = field(&payload, "functions")
        .and_then(Value::as_array)
        .ok_or_else(|| RegisterError::Invalid("functions must be an array".into()))?;
    if functions.is_empty() {
        return Err(RegisterError::Invalid("No functions registered".into()));
    }
    let mut defs = Vec::new();
    let mut problems = Vec::new();
    for f in functions {
        match parse_function(&app, f) {
            Ok(def) => defs.push(def),
            Err(p) => problems.push(p),
        }
    }
    if !problems.is_empty() {
        return Err(RegisterError::Functions(problems));
    }
    let mut ids: Vec<String> = defs.iter().map(|d| d.id.clone()).collect();
    ids.sort();
    let mut sorted: Vec<&Value> = functions.iter().collect();
    sorted.sort_by_key(|f| text(f, &["id"]).unwrap_or_default().to_owned());
    let canonical = serde_jcs::to_vec(&sorted).unwrap_or_default();
    let checksum = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&canonical));
    Ok((
        AppInfo {
            id: app,
            url,
            sdk: text(&payload, &["sdk"]).unwrap_or_default().to_owned(),
            framework: text(&payload, &["framework"]).map(str::to_owned),
            functions: ids,
            checksum,
        },
        defs,
    ))
}

fn parse_function(app: &str, f: &Value) -> Result<FunctionDef, String> {
    let id = text(f, &["id"]).unwrap_or_default().to_owned();
    if id.is_empty() {
        return Err("a function has no id".into());
    }
    let fail = |msg: String| format!("function {id}: {msg}");
    let name = text(f, &["name"]).unwrap_or(&id).to_owned();

    let triggers_json = field(f, "triggers")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if triggers_json.is_empty() {
        return Err(fail("has no triggers".into()));
    }
    if triggers_json.len() > 10 {
        return Err(fail("has more than 10 triggers".into()));
    }
    let mut triggers = Vec::new();
    for t in &triggers_json {
        match (text(t, &["event"]), text(t, &["cron"])) {
            (Some(event), None) if !event.is_empty() && event.len() <= 255 => {
                let expression = match text(t, &["expression"]).filter(|e| !e.trim().is_empty()) {
                    Some(src) => Some(Expr::compile(src).map_err(|e| fail(e.to_string()))?),
                    None => None,
                };
                triggers.push(Trigger::Event {
                    name: event.to_owned(),
                    expression,
                });
            }
            (None, Some(cron)) if !cron.is_empty() && cron.len() <= 255 => {
                let (zone, schedule) = split_cron_zone(cron).map_err(fail)?;
                let parsed = Cron::from_str(schedule)
                    .map_err(|e| fail(format!("cron {cron:?} is invalid: {e}")))?;
                triggers.push(Trigger::Cron {
                    schedule: cron.to_owned(),
                    cron: Box::new(parsed),
                    zone,
                });
            }
            _ => {
                return Err(fail(format!(
                    "trigger {t} must have exactly one of event or cron"
                )));
            }
        }
    }

    let steps = field(f, "steps")
        .and_then(Value::as_object)
        .ok_or_else(|| fail("has no steps".into()))?;
    let step = steps
        .values()
        .next()
        .ok_or_else(|| fail("has no steps".into()))?;
    let runtime = field(step, "runtime").ok_or_else(|| fail("step has no runtime".into()))?;
    let url_text =
        text(runtime, &["url"]).ok_or_else(|| fail("runtime.url must be a string".into()))?;
    let url = Url::parse(url_text)
        .map_err(|e| fail(format!("runtime.url {url_text:?} is invalid: {e}")))?;
    let retries = field(step, "retries")
        .and_then(|r| field(r, "attempts"))
        .and_then(Value::as_u64)
        .or_else(|| field(f, "retries").and_then(Value::as_u64))
        .map(|n| n.min(MAX_RETRIES as u64) as u32)
        .unwrap_or(DEFAULT_RETRIES);

    let concurrency = parse_concurrency(field(f, "concurrency")).map_err(fail)?;
    let mut cancel = Vec::new();
    for c in field(f, "cancel")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
    {
        let event = text(&c, &["event"])
            .filter(|e| !e.is_empty())
            .ok_or_else(|| fail("cancel rule has no event".into()))?;
        let expression = match text(&c, &["if"]).filter(|e| !e.trim().is_empty()) {
            Some(src) => Some(Expr::compile(src).map_err(|e| fail(e.to_string()))?),
            None => None,
        };
        let timeout = match text(&c, &["timeout"]) {
            Some(t) => Some(parse_duration(t).map_err(|e| fail(e.to_string()))?),
            None => None,
        };
        cancel.push(CancelOn {
            event: event.to_owned(),
            expression,
            timeout,
        });
    }
    let idempotency = match text(f, &["idempotency"]).filter(|e| !e.trim().is_empty()) {
        Some(src) => Some(Expr::compile(src).map_err(|e| fail(e.to_string()))?),
        None => None,
    };
    Ok(FunctionDef {
        id,
        name,
        app: app.to_owned(),
        url,
        retries,
        triggers,
        concurrency,
        cancel,
        idempotency,
        config: f.clone(),
    })
}

fn parse_concurrency(v: Option<&Value>) -> Result<Vec<Concurrency>, String> {
    let Some(v) = v else { return Ok(Vec::new()) };
    let items: Vec<Value> = match v {
        Value::Number(n) => vec![serde_json::json!({"limit": n})],
        Value::Object(o) if o.contains_key("fn") => o
            .get("fn")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default(),
        Value::Object(_) => vec![v.clone()],
        Value::Array(a) => a.clone(),
        _ => return Err("concurrency must be a number, an object or an array".into()),
    };
    if items.len() > 2 {
        return Err("at most 2 concurrency limits are allowed".into());
    }
    let mut out = Vec::new();
    for item in items {
        let limit = field(&item, "limit").and_then(Value::as_u64).unwrap_or(0) as u32;
        if limit == 0 {
            continue; // 0 = no limit
        }
        let key = match text(&item, &["key"]).filter(|k| !k.trim().is_empty()) {
            Some(src) => Some(Expr::compile(src).map_err(|e| e.to_string())?),
            None => None,
        };
        let scope = match text(&item, &["scope"]).unwrap_or("fn") {
            "fn" => ConcurrencyScope::Fn,
            "env" => ConcurrencyScope::Env,
            "account" => ConcurrencyScope::Account,
            other => {
                return Err(format!(
                    "unknown concurrency scope {other:?} (fn, env or account)"
                ));
            }
        };
        out.push(Concurrency { limit, key, scope });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    fn payload(functions: Value) -> Vec<u8> {
        serde_json::to_vec(&json!({
            "url": "http://127.0.0.1:3000/api/inngest",
            "deployType": "ping",
            "appName": "shop",
            "sdk": "js:v4.24.0",
            "v": "0.1",
            "framework": "node",
            "functions": functions,
        }))
        .unwrap()
    }

    fn step(id: &str, retries: Option<u64>) -> Value {
        let mut s = json!({"id": "step", "name": "step", "runtime": {"type": "http", "url": format!("http://127.0.0.1:3000/api/inngest?fnId={id}&stepId=step")}});
        if let Some(r) = retries {
            s["retries"] = json!({"attempts": r});
        }
        json!({"step": s})
    }

    #[test]
    fn parses_js_style_function_configs() {
        let body = payload(json!([
            {"id": "shop-charge", "name": "Charge", "triggers": [{"event": "shop/order", "expression": "event.data.total > 0"}],
             "steps": step("shop-charge", None),
             "concurrency": [{"limit": 1, "key": "event.data.customer", "scope": "env"}],
             "cancel": [{"event": "shop/cancelled", "if": "async.data.id == event.data.id", "timeout": "1h"}]},
            {"id": "shop-charge-failure", "triggers": [{"event": "inngest/function.failed", "expression": "event.data.function_id == 'shop-charge'"}],
             "steps": step("shop-charge-failure", Some(1))},
            {"id": "shop-nightly", "triggers": [{"cron": "0 3 * * *"}], "steps": step("shop-nightly", Some(0))},
        ]));
        let (app, defs) = parse_register(&body).unwrap();
        assert_eq!(app.id, "shop");
        assert_eq!(app.functions.len(), 3);
        let charge = &defs[0];
        assert_eq!(charge.retries, DEFAULT_RETRIES);
        assert_eq!(charge.max_attempts(), 5);
        assert_eq!(charge.concurrency[0].scope, ConcurrencyScope::Env);
        assert_eq!(charge.cancel[0].timeout, Some(Duration::hours(1)));
        assert!(charge.triggered_by(&json!({"name": "shop/order", "data": {"total": 3}})));
        assert!(!charge.triggered_by(&json!({"name": "shop/order", "data": {"total": 0}})));
        assert_eq!(defs[1].retries, 1);
        let ticks = defs[2].next_cron_ticks(Utc::now());
        assert_eq!(ticks.len(), 1);
    }

    #[test]
    fn a_cron_time_zone_prefix_schedules_in_that_zone() {
        let body = payload(json!([
            {"id": "shop-london", "triggers": [{"cron": "TZ=Europe/London 0 6 * * *"}], "steps": step("shop-london", None)},
            {"id": "shop-utc", "triggers": [{"cron": "CRON_TZ=UTC 0 6 * * *"}], "steps": step("shop-utc", None)},
        ]));
        let (_, defs) = parse_register(&body).unwrap();
        // 1 July 2026 is British Summer Time (UTC+1): 06:00 in London is 05:00 UTC.
        let after = Utc.with_ymd_and_hms(2026, 7, 1, 0, 0, 0).unwrap();
        let london = defs[0].next_cron_ticks(after);
        assert_eq!(
            london,
            vec![(0, Utc.with_ymd_and_hms(2026, 7, 1, 5, 0, 0).unwrap())]
        );
        let utc = defs[1].next_cron_ticks(after);
        assert_eq!(
            utc,
            vec![(0, Utc.with_ymd_and_hms(2026, 7, 1, 6, 0, 0).unwrap())]
        );
        // In winter London is UTC.
        let winter = Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap();
        assert_eq!(
            defs[0].next_cron_ticks(winter)[0].1,
            Utc.with_ymd_and_hms(2026, 12, 1, 6, 0, 0).unwrap()
        );
    }

    #[test]
    fn an_unknown_cron_time_zone_is_refused_by_name() {
        let body = payload(json!([
            {"id": "shop-x", "triggers": [{"cron": "TZ=Mars/Olympus 0 6 * * *"}], "steps": step("shop-x", None)},
        ]));
        let err = parse_register(&body).unwrap_err().to_string();
        assert!(err.contains("Mars/Olympus"), "{err}");
    }

    #[test]
    fn resync_with_same_functions_has_same_checksum() {
        let f =
            json!([{"id": "shop-a", "triggers": [{"event": "a"}], "steps": step("shop-a", None)}]);
        let (a, _) = parse_register(&payload(f.clone())).unwrap();
        let (b, _) = parse_register(&payload(f)).unwrap();
        assert_eq!(a.checksum, b.checksum);
        let (c, _) = parse_register(&payload(
            json!([{"id": "shop-a", "triggers": [{"event": "b"}], "steps": step("shop-a", None)}]),
        ))
        .unwrap();
        assert_ne!(a.checksum, c.checksum);
    }

    #[test]
    fn refuses_invalid_payloads_with_reasons() {
        assert!(matches!(
            parse_register(b"nope"),
            Err(RegisterError::Invalid(_))
        ));
        let no_app =
            serde_json::to_vec(&json!({"url": "http://x/", "appName": "", "functions": []}))
                .unwrap();
        assert!(
            parse_register(&no_app)
                .unwrap_err()
                .to_string()
                .contains("app name")
        );
        let err = parse_register(&payload(json!([
            {"id": "shop-a", "triggers": [{"event": "a", "cron": "* * * * *"}], "steps": step("shop-a", None)},
            {"id": "shop-b", "triggers": [{"cron": "every tuesday"}], "steps": step("shop-b", None)},
            {"id": "shop-c", "triggers": [{"event": "c", "expression": "event.data =="}], "steps": step("shop-c", None)},
        ])))
        .unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("shop-a") && text.contains("shop-b") && text.contains("shop-c"),
            "{text}"
        );
    }
}
