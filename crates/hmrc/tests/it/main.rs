//! Integration tests of the HMRC MTD client over real HTTP on 127.0.0.1, held to HMRC's own
//! definitions in `testdata/hmrc-api`. HMRC is the HMRC sandbox simulator (`hmrc-sandbox`,
//! see `sim.rs`); a wiremock stub stands in only for answers the simulator does not give.

// Test code: a failed unwrap is a failed test (clippy.toml allows it inside #[test] fns only).
#![allow(clippy::unwrap_used)]

mod classification;
mod definitions;
mod eops;
mod failures;
mod final_declaration;
mod fraud_headers;
mod fraud_validation;
mod oauth;
mod obligations;
mod property;
mod self_employment;
mod sim;
mod support;
