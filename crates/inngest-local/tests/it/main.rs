//! Integration tests of the local engine (one binary, one module per topic).

// Test code: helpers outside `#[test]` functions panic on failure by design.
#![allow(clippy::unwrap_used)]

mod api;
mod binary;
mod harness;
mod in_process;
mod js_e2e;
mod persistence;
