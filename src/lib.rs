//! # mtd: the app
//!
//! The web app of the workspace: it connects users' HMRC accounts (OAuth 2.0 with PKCE),
//! captures HMRC's fraud-prevention values from their browser requests, stores submissions and
//! queues them as durable Inngest runs (the functions of `mtd-functions`), and shows the
//! outcome: `submitted` with HMRC's receipt, `rejected` with the flagged fields, `failed` with
//! what to do ("Please reconnect your HMRC account").
//!
//! * [`app`]: the shared state and the router (`/api/inngest`, `/hmrc/connect`,
//!   `/hmrc/callback`, the pages, `/api/v1/...`).
//! * [`service`]: what pages and API both do; [`capture`]: the fraud-prevention values;
//!   [`identity`]: who the user is (a trusted header in `serve`, a demo user otherwise);
//!   [`session`]: the browser session and CSRF tokens.
//! * [`serve`], [`embedded`], [`demo`], [`repair`]: the commands; [`cli`]: their flags.
//! * [`browser`]: a scripted browser for the demo and the end-to-end tests.
//!
//! `docs/app.md` documents the commands, settings, routes and pages.

pub mod app;
pub mod browser;
pub mod capture;
pub mod cli;
pub mod demo;
pub mod driver;
pub mod embedded;
pub mod host;
mod html;
pub mod identity;
pub mod repair;
pub mod routes;
pub mod serve;
pub mod service;
pub mod session;
