//! Serves the benchmark's functions over real HTTP, for load tests with a tool such as `wrk`:
//! `POST /api/inngest?fnId=bench-steps-<n>&stepId=step` with a call body whose first `n` steps
//! are memoised (n = 20 or 1000) runs step `n + 1` and answers `206`, exactly the work
//! `benches/call.rs` measures in process. `POST /baseline` only parses the body into a
//! `serde_json::Value` and answers `200`, for comparison.
//!
//! ```sh
//! cargo run --release -p inngest-sdk --example load_server -- --port 3900 --write-bodies /tmp/bodies
//! ```
//!
//! `--write-bodies DIR` writes `DIR/body-20.json` and `DIR/body-1000.json` first.
//! `docs/benchmarks.md` (workspace root) has the `wrk` commands and figures.

#[path = "../benches/support/mod.rs"]
mod support;

use anyhow::Context as _;
use axum::Router;
use axum::body::Bytes;
use inngest::Inngest;
use serde_json::Value;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut port: u16 = 3900;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--port" => {
                let value = args.next().context("--port needs a value")?;
                port = value
                    .parse()
                    .with_context(|| format!("--port {value:?} is not a port"))?;
            }
            "--write-bodies" => {
                let dir = std::path::PathBuf::from(
                    args.next().context("--write-bodies needs a directory")?,
                );
                std::fs::create_dir_all(&dir)
                    .with_context(|| format!("creating {}", dir.display()))?;
                for n in support::SIZES {
                    let path = dir.join(format!("body-{n}.json"));
                    std::fs::write(&path, support::body(n))
                        .with_context(|| format!("writing {}", path.display()))?;
                }
            }
            other => anyhow::bail!("unknown argument {other:?}; see the file's doc comment"),
        }
    }
    let client = Inngest::builder("bench").without_env().dev().build()?;
    let app = Router::new()
        .nest(
            "/api/inngest",
            inngest::serve::router(client, support::SIZES.map(support::function)),
        )
        .route(
            "/baseline",
            axum::routing::post(|body: Bytes| async move {
                match serde_json::from_slice::<Value>(&body) {
                    Ok(v) => {
                        std::hint::black_box(v);
                        "ok"
                    }
                    Err(_) => "not json",
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .with_context(|| format!("binding 127.0.0.1:{port}"))?;
    eprintln!("load server on http://127.0.0.1:{port}");
    axum::serve(listener, app).await?;
    Ok(())
}
