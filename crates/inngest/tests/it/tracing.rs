//! Observability: a span per executed step with the function id, run id, step id and attempt;
//! logs written while replaying memoised history are marked `inngest.replay = true` and can be
//! dropped with `inngest::trace::ReplayFilter`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use inngest::{Context, Function, Trigger};
use serde_json::json;
use tracing::Subscriber;
use tracing::field::{Field, Visit};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;

use crate::support::{Call, call, dev_router};

#[derive(Default)]
struct Fields(HashMap<String, String>);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().to_owned(), value.to_string());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().to_owned(), value.to_string());
    }
}

#[derive(Debug, Clone)]
struct SpanRecord {
    name: String,
    fields: HashMap<String, String>,
}

#[derive(Debug, Clone)]
struct EventRecord {
    message: String,
    /// `inngest.replay` of the closest enclosing span that has the field.
    replay: Option<String>,
}

#[derive(Clone, Default)]
struct Capture {
    spans: Arc<Mutex<Vec<SpanRecord>>>,
    events: Arc<Mutex<Vec<EventRecord>>>,
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Capture {
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        id: &tracing::span::Id,
        ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(SpanRecord {
                name: attrs.metadata().name().to_owned(),
                fields: fields.0.clone(),
            });
        }
        self.spans.lock().expect("lock").push(SpanRecord {
            name: attrs.metadata().name().to_owned(),
            fields: fields.0,
        });
    }

    fn on_event(&self, event: &tracing::Event<'_>, ctx: tracing_subscriber::layer::Context<'_, S>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let replay = ctx.event_scope(event).and_then(|scope| {
            scope
                .filter_map(|span| {
                    span.extensions()
                        .get::<SpanRecord>()
                        .and_then(|r| r.fields.get("inngest.replay").cloned())
                })
                .next()
        });
        self.events.lock().expect("lock").push(EventRecord {
            message: fields.0.get("message").cloned().unwrap_or_default(),
            replay,
        });
    }
}

fn logging_function() -> Function {
    Function::builder("logs")
        .trigger(Trigger::event("t/logs"))
        .build(|ctx: Context| async move {
            tracing::info!("before a");
            let a: u32 = ctx.step.run("a", || async { Ok(1) }).await?;
            tracing::info!("between a and b");
            let b: u32 = ctx
                .step
                .run("b", || async {
                    tracing::info!("inside b");
                    Ok(2)
                })
                .await?;
            Ok(a + b)
        })
        .expect("valid")
}

#[tokio::test]
async fn replayed_logs_are_marked_and_executed_steps_get_a_span() {
    let capture = Capture::default();
    let subscriber = tracing_subscriber::registry().with(capture.clone());
    let _guard = tracing::subscriber::set_default(subscriber);
    let router = dev_router([logging_function()]);
    let c = Call::new("t/logs", json!({}))
        .done("a", json!(1))
        .attempt(2, 5);
    let a = call(&router, "test-app-logs", "step", &c).await;
    assert_eq!(a.single_op()["data"], 2);

    let events = capture.events.lock().expect("lock").clone();
    let find = |m: &str| {
        events
            .iter()
            .find(|e| e.message == m)
            .unwrap_or_else(|| panic!("no event {m:?} in {events:?}"))
            .clone()
    };
    assert_eq!(find("before a").replay.as_deref(), Some("true"));
    assert_eq!(find("between a and b").replay.as_deref(), Some("false"));
    assert_eq!(find("inside b").replay.as_deref(), Some("false"));

    let spans = capture.spans.lock().expect("lock").clone();
    let step_span = spans
        .iter()
        .find(|s| {
            s.name == "inngest.step"
                && s.fields.get("inngest.step.id").map(String::as_str) == Some("b")
        })
        .unwrap_or_else(|| panic!("no span for step b in {spans:?}"));
    assert_eq!(step_span.fields["inngest.fn_id"], "test-app-logs");
    assert_eq!(step_span.fields["inngest.run_id"], "01RUNID");
    assert_eq!(step_span.fields["inngest.attempt"], "2");
    assert_eq!(step_span.fields["inngest.replay"], "false");
}

#[cfg(feature = "replay-filter")]
#[tokio::test]
async fn the_replay_filter_drops_replayed_logs_only() {
    let capture = Capture::default();
    let subscriber = tracing_subscriber::registry()
        .with(capture.clone().with_filter(inngest::trace::ReplayFilter));
    let _guard = tracing::subscriber::set_default(subscriber);
    let router = dev_router([logging_function()]);
    let c = Call::new("t/logs", json!({})).done("a", json!(1));
    let a = call(&router, "test-app-logs", "step", &c).await;
    assert_eq!(a.status, 206);
    let messages: Vec<String> = capture
        .events
        .lock()
        .expect("lock")
        .iter()
        .map(|e| e.message.clone())
        .collect();
    assert!(!messages.contains(&"before a".to_owned()), "{messages:?}");
    assert!(
        messages.contains(&"between a and b".to_owned()),
        "{messages:?}"
    );
    assert!(messages.contains(&"inside b".to_owned()), "{messages:?}");
    // Logs outside any Inngest span pass.
    tracing::info!("unrelated");
    assert!(
        capture
            .events
            .lock()
            .expect("lock")
            .iter()
            .any(|e| e.message == "unrelated")
    );
}
