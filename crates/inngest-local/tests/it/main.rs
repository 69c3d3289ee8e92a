//! Integration tests of the local engine (one binary, one module per topic).

// Test code: helpers outside `#[test]` functions panic on failure by design.
#![allow(clippy::unwrap_used)]

/// Runs each end-to-end case against every SDK: for `async fn case(sdk: Sdk)` in the calling
/// module, a module `case` with the tests `case::js` (official JS SDK) and `case::rust` (this
/// workspace's Rust SDK).
macro_rules! sdk_cases {
    ($($case:ident),+ $(,)?) => {$(
        mod $case {
            use crate::harness::Sdk;

            #[tokio::test]
            async fn js() {
                super::$case(Sdk::Js).await;
            }

            #[tokio::test]
            async fn rust() {
                super::$case(Sdk::Rust).await;
            }
        }
    )+};
}

mod api;
mod binary;
mod e2e;
mod harness;
mod in_process;
mod in_process_sdk;
mod persistence;
mod rust_app;
