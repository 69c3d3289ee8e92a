//! Integration tests of the store. Every test in a `both_backends!` block runs on a fresh
//! SQLite file (`<test>::sqlite`) and a fresh PostgreSQL database (`<test>::postgres`).

mod support;

mod credentials;
mod migrations;
mod notifications;
mod obligations;
mod refresh;
mod repair;
mod submissions;
