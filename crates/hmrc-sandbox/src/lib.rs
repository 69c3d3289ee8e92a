//! A stateful simulator of HMRC's Making Tax Digital sandbox, for tests, demos and offline
//! development: OAuth 2.0 (authorise page, single-use rotating refresh tokens), the MTD Income
//! Tax endpoints of both tax-year regimes with HMRC's validation and error bodies,
//! `Gov-Test-Scenario`, fraud-prevention header checks, the 3 requests/second rate limit, and
//! switches for every failure a client must survive (error statuses, delays, dropped
//! connections, throttling, revoked grants, expired tokens).
//!
//! It is written from HMRC's published definitions (`testdata/hmrc-api`) and the project's
//! digest of HMRC's APIs; it shares no code with the client it is used to test.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use hmrc_sandbox::{NewApplication, NewTestUser, Sandbox};
//!
//! let sandbox = Sandbox::builder()
//!     .application(NewApplication::new("client", "secret", "http://localhost:3000/callback"))
//!     .start()
//!     .await?;
//! let user = sandbox.admin().create_user(NewTestUser::default())?;
//! println!("{} serves HMRC for {}", sandbox.url(), user.nino);
//! # Ok(()) }
//! ```

mod admin;
mod api_error;
mod body;
mod clock;
mod faults;
pub mod fraud;
mod http;
mod ids;
mod lit;
mod model;
mod mtd;
mod oauth;
mod secret;
mod server;
mod specs;
mod state;
mod sync;

pub use crate::admin::{Admin, AdminError, AuthorizeRequest, FraudFinding};
pub use crate::clock::{Clock, ClockError, ManualClock, OffsetClock, SystemClock};
pub use crate::faults::{Fault, FaultAction, FaultError, FaultSpec};
pub use crate::ids::{
    TaxYear, TaxYearError, is_valid_business_id, is_valid_mtd_it_id, is_valid_nino,
};
pub use crate::model::{
    Application, Business, BusinessType, NewApplication, NewBusiness, NewTestUser, TestUser,
};
pub use crate::oauth::{ACCESS_TOKEN_SECONDS, TOKEN_ENDPOINT_ID};
pub use crate::secret::Secret;
pub use crate::server::{RunningSandbox, Sandbox, SandboxBuilder, SandboxError, SeedFile};
pub use crate::state::{RecordedRequest, Settings, TokenEvent};
