//! Integration tests of the HMRC MTD client over real HTTP on 127.0.0.1 (wiremock and small
//! axum stubs standing in for HMRC), held to HMRC's own definitions in `testdata/hmrc-api`.

// Test code: a failed unwrap is a failed test (clippy.toml allows it inside #[test] fns only).
#![allow(clippy::unwrap_used)]

mod classification;
mod definitions;
mod eops;
mod failures;
mod final_declaration;
mod fraud_headers;
mod oauth;
mod obligations;
mod property;
mod self_employment;
mod support;
