//! The function and call bodies measured by `benches/call.rs` and served by
//! `examples/load_server.rs`, so the in-process bench and the load test over HTTP measure the
//! same work.

use axum::body::Bytes;
use inngest::{Context, Function, Trigger};
use serde_json::{Value, json};

/// Memoised-step counts measured.
pub(crate) const SIZES: [usize; 2] = [20, 1000];

/// A function with `n + 1` serial steps; each returns a small object.
pub(crate) fn function(n: usize) -> Function {
    Function::builder(format!("steps-{n}"))
        .trigger(Trigger::event("bench/run"))
        .build(move |ctx: Context| async move {
            let mut total = 0_u64;
            for i in 0..=n {
                let out: Value = ctx
                    .step
                    .run(&format!("step-{i}"), move || async move {
                        Ok(json!({"i": i, "status": "submitted", "ref": "ABCDEFGHIJKLMNOP"}))
                    })
                    .await?;
                total += out["i"].as_u64().unwrap_or_default();
            }
            Ok(total)
        })
        .expect("valid function")
}

/// A call body with the first `n` steps memoised.
pub(crate) fn body(n: usize) -> Bytes {
    let mut steps = serde_json::Map::new();
    let mut stack = Vec::new();
    for i in 0..n {
        let h = inngest::hash::step_hash(&format!("step-{i}"));
        steps.insert(
            h.clone(),
            json!({"data": {"i": i, "status": "submitted", "ref": "ABCDEFGHIJKLMNOP"}}),
        );
        stack.push(h);
    }
    let event = json!({"name": "bench/run", "data": {"user": 42}, "id": "e", "ts": 1, "user": {}});
    let body = json!({
        "event": event,
        "events": [event],
        "steps": steps,
        "ctx": {"run_id": "01BENCH", "attempt": 0, "max_attempts": 5,
            "stack": {"stack": stack, "current": n}, "disable_immediate_execution": false,
            "use_api": false},
        "version": 2,
        "use_api": false,
    });
    Bytes::from(serde_json::to_vec(&body).expect("serialise"))
}
