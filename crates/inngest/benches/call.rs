//! Cost of one call request with 20 and with 1000 memoised steps, in process through the
//! axum router (`tower::ServiceExt::oneshot`): parse, verify nothing (dev mode), replay every
//! memoised step, run the next step, answer `206`.
//!
//! `cargo bench -p inngest-sdk --bench call`
//!
//! A baseline measures an axum endpoint that only parses the same body into
//! `serde_json::Value` and answers `200`.

use std::hint::black_box;

use axum::Router;
use axum::body::{Body, Bytes};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use http::Request;
use inngest::{Context, Function, Inngest, Trigger};
use serde_json::{Value, json};
use tower::ServiceExt;

const SIZES: [usize; 2] = [20, 1000];

/// A function with `n + 1` serial steps; each returns a small object.
fn function(n: usize) -> Function {
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
fn body(n: usize) -> Bytes {
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

fn request(n: usize, body: &Bytes) -> Request<Body> {
    Request::builder()
        .method("POST")
        .uri(format!("/?fnId=bench-steps-{n}&stepId=step"))
        .header("host", "bench")
        .header("content-type", "application/json")
        .body(Body::from(body.clone()))
        .expect("request")
}

async fn drive(router: &Router, req: Request<Body>) -> Bytes {
    let res = router.clone().oneshot(req).await.expect("infallible");
    assert_eq!(res.status(), 206);
    axum::body::to_bytes(res.into_body(), usize::MAX)
        .await
        .expect("body")
}

fn bench_calls(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let client = Inngest::builder("bench")
        .without_env()
        .dev()
        .build()
        .expect("dev client");
    let router = inngest::serve::router(client, SIZES.map(function));
    let baseline = Router::new().fallback(|body: Bytes| async move {
        let v: Value = serde_json::from_slice(&body).expect("json");
        black_box(v);
        "ok"
    });

    let mut group = c.benchmark_group("call");
    for n in SIZES {
        let body = body(n);
        group.throughput(Throughput::Elements(1));
        group.bench_with_input(BenchmarkId::new("inngest_router", n), &body, |b, body| {
            b.to_async(&rt)
                .iter(|| async { black_box(drive(&router, request(n, body)).await) });
        });
        group.bench_with_input(
            BenchmarkId::new("parse_only_baseline", n),
            &body,
            |b, body| {
                b.to_async(&rt).iter(|| async {
                    let res = baseline
                        .clone()
                        .oneshot(request(n, body))
                        .await
                        .expect("infallible");
                    black_box(res.status())
                });
            },
        );
    }
    group.finish();
}

criterion_group!(benches, bench_calls);
criterion_main!(benches);
