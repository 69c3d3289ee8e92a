//! End-to-end tests of the app: real HTTP on 127.0.0.1 between the app, the HMRC simulator
//! and the local Inngest engine, with SQLite in a temporary directory; the CLI tests run the
//! real `mtd` binary.

mod cli;
mod failures;
mod fraud;
mod identity;
mod oauth;
mod submissions;
mod support;
