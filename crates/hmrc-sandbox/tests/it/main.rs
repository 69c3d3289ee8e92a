//! End-to-end tests of the HMRC sandbox over real HTTP on 127.0.0.1.

// Test helpers outside `#[test]` functions are test code too (clippy.toml allows unwrap in tests).
#![allow(clippy::unwrap_used)]

mod common;

mod admin;
mod binary;
mod business_details;
mod calculations;
mod eops;
mod faults;
mod fraud;
mod oauth;
mod obligations;
mod platform;
mod property;
mod scenarios;
mod self_employment;
