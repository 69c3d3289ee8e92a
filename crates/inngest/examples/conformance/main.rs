//! The Rust side of the golden conformance check: serves the catalogue of
//! `crates/inngest/conformance/README.md` like the JS reference app does.
//!
//! ```sh
//! CONFORMANCE_MODE=dev   CONFORMANCE_PORT=39491 cargo run -p inngest-sdk --example conformance &
//! CONFORMANCE_MODE=cloud CONFORMANCE_PORT=39492 cargo run -p inngest-sdk --example conformance &
//! cd crates/inngest/conformance
//! node record.mjs --compare --dev-url http://127.0.0.1:39491/api/inngest \
//!                           --cloud-url http://127.0.0.1:39492/api/inngest
//! ```

mod catalogue;

use anyhow::Context as _;
use axum::Router;
use inngest::Mode;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let port: u16 = std::env::var("CONFORMANCE_PORT")
        .unwrap_or_else(|_| "3939".into())
        .parse()
        .context("CONFORMANCE_PORT must be a TCP port")?;
    let mode = match std::env::var("CONFORMANCE_MODE").as_deref() {
        Ok("cloud") => Mode::Cloud,
        Ok("dev") | Err(_) => Mode::Dev,
        Ok(other) => anyhow::bail!("CONFORMANCE_MODE must be \"dev\" or \"cloud\", got {other:?}"),
    };
    let base_url =
        std::env::var("CONFORMANCE_BASE_URL").unwrap_or_else(|_| "http://127.0.0.1:9".into());
    let app = Router::new().nest(
        "/api/inngest",
        inngest::serve::router(catalogue::client(mode, &base_url)?, catalogue::functions()?),
    );
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("conformance Rust app ({mode} mode) on http://127.0.0.1:{port}/api/inngest");
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
