//! # hmrc-mtd: HMRC Making Tax Digital (Income Tax) client
//!
//! Everything a UK tax platform needs to submit a user's figures to HMRC's MTD Income Tax
//! APIs, with every failure classified so the caller knows whether to retry, to ask the user
//! to reconnect, to show HMRC's rejection, or to alert an operator. The crate knows nothing of
//! job runners: it makes exactly one HTTP call per method (no hidden retries) and returns a
//! typed result or one [`Error`].
//!
//! ## A tour
//!
//! **Where HMRC is.** [`Environment::Sandbox`] and [`Environment::Production`] carry HMRC's
//! hosts; [`Endpoints::local`] points everything (APIs, `/oauth/token`, `/oauth/authorize`) at
//! a stand-in such as the HMRC simulator.
//!
//! **OAuth 2.0** ([`oauth`]): [`OAuthClient::authorization_request`] gives the URL to send the
//! user to (scopes `read:self-assessment write:self-assessment`, a `state` to check, PKCE
//! S256); [`OAuthClient::exchange_code`] turns the callback's code into [`UserTokens`];
//! [`OAuthClient::refresh`] rotates them (the refresh token is single-use: persist the new pair
//! at once); [`OAuthClient::client_credentials`] gives an application token. Tokens, the
//! client secret and codes are redacted newtypes ([`AccessToken`], [`RefreshToken`], ...).
//!
//! **Fraud-prevention headers** ([`fraud`]): [`fraud::WebAppViaServer`] (captured from the
//! user's browser, stored with a queued job and replayed) or [`fraud::BatchProcessDirect`]
//! (scheduled work nobody started), encoded as HMRC's specification requires and checked by
//! [`fraud::FraudPreventionHeaders::validate`]. They go on every call through a
//! [`CallContext`].
//!
//! **The flows** ([`MtdClient`]), each pinned to one API version with its `Accept` header:
//!
//! | flow | call | API |
//! |---|---|---|
//! | fetch obligations | [`MtdClient::income_and_expenditure_obligations`], [`MtdClient::final_declaration_obligations`] | Obligations v3.0 |
//! | quarterly update, self-employment | [`MtdClient::submit_self_employment_period`] (≤ 2024-25), [`MtdClient::submit_self_employment_cumulative`] (≥ 2025-26) | Self Employment Business v5.0 |
//! | quarterly update, UK property | [`MtdClient::submit_uk_property_period`] (≤ 2024-25), [`MtdClient::submit_uk_property_cumulative`] (≥ 2025-26) | Property Business v6.0 |
//! | annual submission | [`MtdClient::submit_self_employment_annual`], [`MtdClient::submit_uk_property_annual`] | SEB v5.0, PBA v6.0 |
//! | End of Period Statement (≤ 2023-24) | [`MtdClient::submit_end_of_period_statement`] | EOPS v3.0 |
//! | final declaration | [`MtdClient::trigger_final_declaration_calculation`], [`MtdClient::retrieve_calculation`], [`MtdClient::submit_final_declaration`] | Individual Calculations v8.0 |
//! | find business IDs | [`MtdClient::list_businesses`] | Business Details v2.0 |
//!
//! Every success is a [`Response`] with HMRC's `X-CorrelationId` and any [`Warning`]s
//! (deprecation and sunset notices, incomplete fraud headers). Amounts are [`Money`] /
//! [`UnsignedMoney`] (decimals with at most two places, written as JSON numbers with exactly
//! their digits), dates are [`chrono::NaiveDate`], and [`TaxYear`] knows `2024-25`, its
//! [`Regime`], its quarters and due dates, and whether it had an EOPS.
//!
//! **Failures** ([`Error`], rules in [`classify`]): `PermanentAuth`, `Transient` (with
//! `retry_after`), `Rejected` (every code, message and path), `DuplicateSubmission`,
//! `PlatformMisconfiguration`, `NotRequired`, `Unexpected`, with predicates such as
//! [`Error::is_retriable`].
//!
//! ## Example: refresh, then submit a quarterly update
//!
//! ```no_run
//! use hmrc_mtd::{
//!     ApiConfig, CallContext, ClientSecret, Environment, Error, MtdClient, Nino, OAuthClient,
//!     OAuthConfig, PeriodDates, RefreshToken, TaxYear, BusinessId,
//!     fraud::FraudPreventionHeaders,
//!     self_employment::{SelfEmploymentCumulativeSummary, SelfEmploymentExpenses, SelfEmploymentIncome},
//! };
//!
//! # async fn load_refresh_token() -> RefreshToken { RefreshToken::new("…") }
//! # async fn save_tokens(_: &hmrc_mtd::UserTokens) {}
//! # async fn load_captured_headers() -> FraudPreventionHeaders {
//! #     FraudPreventionHeaders::WebAppViaServer(Default::default())
//! # }
//! async fn submit_quarter() -> Result<(), Box<dyn std::error::Error>> {
//!     let endpoints = Environment::Sandbox.endpoints();
//!     let oauth = OAuthClient::new(OAuthConfig::new(
//!         endpoints.clone(),
//!         "client-id",
//!         ClientSecret::new("client-secret"),
//!         "https://app.example.com/hmrc/callback".parse()?,
//!     ))?;
//!     let api = MtdClient::new(ApiConfig::new(endpoints))?;
//!
//!     // Refresh: the old refresh token is spent, so store the new pair before going on.
//!     let tokens = oauth.refresh(&load_refresh_token().await).await?;
//!     save_tokens(&tokens).await;
//!
//!     // Fraud-prevention headers captured when the user asked for the submission.
//!     let headers = load_captured_headers().await;
//!     let call = CallContext::new(&tokens.access_token, &headers);
//!
//!     let year: TaxYear = "2025-26".parse()?;
//!     let q1 = year.quarters()[0];
//!     let summary = SelfEmploymentCumulativeSummary::new()
//!         .period_dates(PeriodDates::new(q1.start, q1.end))
//!         .income(SelfEmploymentIncome { turnover: Some("12500.00".parse()?), ..Default::default() })
//!         .expenses(SelfEmploymentExpenses::consolidated("3100.45".parse()?));
//!     let nino = Nino::new("AA123456A")?;
//!     let business = BusinessId::new("XAIS12345678910")?;
//!     match api.submit_self_employment_cumulative(&call, &nino, &business, year, &summary).await {
//!         Ok(done) => println!("submitted, HMRC correlation id {:?}", done.correlation_id),
//!         Err(e) if e.is_retriable() => println!("try again later (after {:?})", e.retry_after()),
//!         Err(e) if e.is_permanent_auth() => println!("ask the user to reconnect HMRC"),
//!         Err(Error::Rejected { errors, .. }) => {
//!             for error in errors {
//!                 println!("HMRC refused {}: {} {:?}", error.code, error.message, error.paths);
//!             }
//!         }
//!         Err(e) => return Err(e.into()),
//!     }
//!     Ok(())
//! }
//! ```
//!
//! Each flow's method has its own example.

pub mod business_details;
pub mod calculations;
mod checks;
pub mod classify;
mod client;
mod config;
pub mod eops;
mod error;
pub mod fraud;
mod ids;
mod money;
pub mod oauth;
pub mod obligations;
pub mod property;
mod redact;
mod secret;
pub mod self_employment;
mod tax_year;
mod types;

pub use client::{Api, ApiConfig, CallContext, MtdClient, Response, Warning};
pub use config::{
    DEFAULT_CONNECT_TIMEOUT, DEFAULT_TIMEOUT, Endpoints, Environment, FraudHeaderPolicy,
    HttpSettings,
};
pub use error::{ApiError, AuthOrigin, Error, TransientKind};
pub use ids::{BusinessId, CalculationId, InvalidId, Nino};
pub use money::{MAX_AMOUNT, Money, MoneyError, UnsignedMoney};
pub use oauth::{ApplicationToken, AuthorizationRequest, OAuthClient, OAuthConfig, UserTokens};
pub use secret::{
    AccessToken, AuthorizationCode, ClientSecret, OAuthState, PkceVerifier, RefreshToken,
    TokenFingerprint,
};
pub use tax_year::{Quarter, Regime, TaxYear, TaxYearError};
pub use types::{
    Building, FirstYear, ObligationStatus, PeriodDates, StructuredBuildingAllowance, TypeOfBusiness,
};
