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
use inngest::Inngest;
use serde_json::Value;
use tower::ServiceExt;

mod support;

use support::{SIZES, body, function};

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
