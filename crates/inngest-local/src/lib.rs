//! A local Inngest-compatible engine: runs apps written with any Inngest SDK offline, with
//! Inngest's execution and retry semantics, plus an in-process test engine.
//!
//! - [`Engine`]: the server (`POST /fn/register`, `POST /e/{key}`, `GET /dev`,
//!   `/v0/runs/{id}/batch|actions`, and a JSON run-history API under `/local`), started on any
//!   port from a test or from `mtd dev`, or as the `inngest-local` binary.
//! - [`testing::TestEngine`]: drives one function through an SDK's serve handler in process
//!   (any `tower::Service`, such as an `axum::Router`), with mocked steps and instant time.
//! - Both use one executor, one [`clock::Clock`] and one [`transport::Transport`] trait.
//!
//! See the crate README for the routes, flags and the differences from Inngest's dev server.

pub mod backoff;
pub mod clock;
pub mod config;
pub mod expr;
pub mod function;
pub mod protocol;
pub mod run;
pub mod signature;
pub mod testing;
pub mod transport;

mod engine;
mod executor;
mod server;
mod store;
mod sync;

pub use config::EngineConfig;
pub use engine::{Engine, EngineBuilder, EngineError, RunningEngine, WaitError};
pub use executor::{EventRecord, RegisterOutcome, RunActionError};
pub use run::{CallRecord, RunFilter, RunRecord, RunStatus, StepAttempt, StepRecord, Waiting};
pub use signature::{EventKey, SigningKey};
pub use store::StoreError;
pub use sync::{AppStatus, SyncError};
