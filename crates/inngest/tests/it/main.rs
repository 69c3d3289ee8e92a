//! Integration tests of the Inngest SDK: one binary, one module per topic.

mod auth;
mod call;
mod conformance;
mod events;
mod golden;
mod http;
mod support;
mod sync;
mod tracing;
