//! End-to-end tests of the functions over real HTTP on 127.0.0.1: the local engine (compressed
//! time), the HMRC simulator, the SDK router serving the functions, a SQLite store; plus
//! in-process `TestEngine` tests of the failure mapping.

// Test code: a failed unwrap is a failed test (clippy.toml allows it inside #[test] fns only).
#![allow(clippy::unwrap_used)]

mod auth;
mod crystallisation;
mod flows;
mod mapping;
mod obligations;
mod secrets;
mod support;
mod transient;
