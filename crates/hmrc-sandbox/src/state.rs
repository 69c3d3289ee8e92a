//! Everything the sandbox remembers, behind one mutex: users, applications, OAuth codes, grants
//! and tokens, submitted data, the request journal, faults and settings.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use serde_json::Value;

use crate::clock::Clock;
use crate::faults::Fault;
use crate::fraud::FraudReport;
use crate::ids::TaxYear;
use crate::model::{Application, TestUser};
use crate::secret::Digest32;

/// How many journal entries are kept before the oldest are dropped.
const JOURNAL_LIMIT: usize = 10_000;

/// Tunable behaviour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// How long a triggered calculation stays "in progress" (retrieve answers 404), measured on
    /// the sandbox clock.
    pub calculation_delay: Duration,
    /// How long a refresh holds its grant's in-progress flag before rotating the tokens
    /// (real time). A second refresh of the same grant inside this window gets
    /// `invalid_request`.
    pub refresh_delay: Duration,
    /// Requests per second per client ID; `None` turns the limit off.
    pub rate_limit: Option<u32>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            calculation_delay: Duration::from_secs(5),
            refresh_delay: Duration::ZERO,
            rate_limit: Some(3),
        }
    }
}

/// An authorisation code waiting to be exchanged.
#[derive(Debug, Clone)]
pub(crate) struct AuthCode {
    pub(crate) client_id: String,
    pub(crate) user_id: String,
    pub(crate) redirect_uri: String,
    pub(crate) scopes: Vec<String>,
    pub(crate) code_challenge: Option<String>,
    pub(crate) issued_at: DateTime<Utc>,
    pub(crate) used: bool,
}

/// A user's authorisation of an application (what a refresh token stands for).
#[derive(Debug, Clone)]
pub(crate) struct Grant {
    pub(crate) client_id: String,
    pub(crate) user_id: String,
    pub(crate) scopes: Vec<String>,
    pub(crate) expires_at: DateTime<Utc>,
    pub(crate) revoked: bool,
    /// Digest of the one refresh token that is currently valid.
    pub(crate) refresh: Digest32,
    /// Digest of the newest access token.
    pub(crate) access: Option<Digest32>,
    /// Set while a refresh is rotating this grant's tokens.
    pub(crate) refreshing: bool,
}

/// An issued access token.
#[derive(Debug, Clone)]
pub(crate) struct AccessToken {
    pub(crate) client_id: String,
    /// `None` for application-restricted (client credentials) tokens.
    pub(crate) grant: Option<u64>,
    pub(crate) user_id: Option<String>,
    pub(crate) scopes: Vec<String>,
    pub(crate) expires_at: DateTime<Utc>,
}

/// A self-employment or UK property period summary (tax years up to 2024-25).
#[derive(Debug, Clone)]
pub(crate) struct Period {
    pub(crate) id: String,
    pub(crate) business_id: String,
    pub(crate) start: NaiveDate,
    pub(crate) end: NaiveDate,
    pub(crate) body: Value,
    pub(crate) received: DateTime<Utc>,
}

/// A cumulative summary (2025-26 onwards): the latest figures plus every end date received.
#[derive(Debug, Clone)]
pub(crate) struct Cumulative {
    pub(crate) body: Value,
    pub(crate) end: Option<NaiveDate>,
    pub(crate) received: Vec<(NaiveDate, DateTime<Utc>)>,
}

/// An annual submission.
#[derive(Debug, Clone)]
pub(crate) struct Annual {
    pub(crate) body: Value,
}

/// An End of Period Statement.
#[derive(Debug, Clone)]
pub(crate) struct Eops {
    pub(crate) business_id: String,
    pub(crate) start: NaiveDate,
    pub(crate) end: NaiveDate,
}

/// Calculation types that can be triggered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CalcType {
    InYear,
    IntentToFinalise,
    IntentToAmend,
}

impl CalcType {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            CalcType::InYear => "in-year",
            CalcType::IntentToFinalise => "intent-to-finalise",
            CalcType::IntentToAmend => "intent-to-amend",
        }
    }
}

/// A triggered calculation.
#[derive(Debug, Clone)]
pub(crate) struct Calculation {
    pub(crate) id: String,
    pub(crate) tax_year: TaxYear,
    pub(crate) kind: CalcType,
    pub(crate) requested: DateTime<Utc>,
    pub(crate) ready_at: DateTime<Utc>,
    /// Write sequence number when triggered (later writes make it stale).
    pub(crate) marker: u64,
    /// The user's income-source version when triggered.
    pub(crate) sources_version: u64,
    /// When it was declared (final declaration) or confirmed (amendment).
    pub(crate) declared: Option<DateTime<Utc>>,
}

/// A final declaration (or confirmed amendment).
#[derive(Debug, Clone)]
pub(crate) struct Declaration {
    pub(crate) received: DateTime<Utc>,
}

/// Submitted data of one NINO.
#[derive(Debug, Clone, Default)]
pub(crate) struct UserData {
    pub(crate) se_periods: Vec<Period>,
    pub(crate) se_cumulative: BTreeMap<(String, TaxYear), Cumulative>,
    pub(crate) se_annual: BTreeMap<(String, TaxYear), Annual>,
    pub(crate) uk_periods: Vec<Period>,
    pub(crate) uk_cumulative: BTreeMap<(String, TaxYear), Cumulative>,
    pub(crate) uk_annual: BTreeMap<(String, TaxYear), Annual>,
    pub(crate) eops: Vec<Eops>,
    pub(crate) calculations: Vec<Calculation>,
    pub(crate) declarations: BTreeMap<TaxYear, Declaration>,
    /// Last write sequence number per tax year.
    pub(crate) last_write: BTreeMap<TaxYear, u64>,
}

/// One request the sandbox received on an MTD or test endpoint, with its answer.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordedRequest {
    /// The `X-CorrelationId` sent back.
    pub correlation_id: String,
    /// Endpoint ID.
    pub endpoint: String,
    /// HTTP method.
    pub method: String,
    /// Path and query.
    pub uri: String,
    /// Request headers (the `Authorization` value is redacted).
    pub headers: BTreeMap<String, String>,
    /// Request body: JSON when it parsed, else the text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
    /// The request body exactly as received (so number literals such as `2500.50` keep their
    /// digits).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body_text: Option<String>,
    /// Response status.
    pub status: u16,
    /// Response body.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response: Option<Value>,
    /// When it arrived (sandbox clock).
    pub received_at: DateTime<Utc>,
    /// The NINO in the path, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nino: Option<String>,
    /// The client ID of the bearer token, if it was valid.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// Fraud-prevention header findings.
    pub fraud: FraudReport,
}

/// Something that happened to a code, grant or token.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenEvent {
    /// When (sandbox clock).
    pub at: DateTime<Utc>,
    /// `code_issued`, `access_denied`, `code_exchanged`, `code_rejected`, `refreshed`,
    /// `refresh_rejected`, `client_credentials`, `client_rejected`, `grant_revoked`,
    /// `tokens_expired`.
    pub event: String,
    /// Client ID involved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// User involved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// Why (for rejections), or extra detail.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// The mutable state.
#[derive(Debug, Default)]
pub(crate) struct State {
    pub(crate) users: BTreeMap<String, TestUser>,
    pub(crate) apps: BTreeMap<String, Application>,
    pub(crate) codes: HashMap<Digest32, AuthCode>,
    pub(crate) grants: BTreeMap<u64, Grant>,
    pub(crate) next_grant: u64,
    pub(crate) access: HashMap<Digest32, AccessToken>,
    pub(crate) data: HashMap<String, UserData>,
    pub(crate) write_seq: u64,
    pub(crate) requests: VecDeque<RecordedRequest>,
    pub(crate) token_events: VecDeque<TokenEvent>,
    pub(crate) faults: Vec<Fault>,
    pub(crate) next_fault: u64,
    pub(crate) settings: Settings,
    pub(crate) rate: HashMap<String, VecDeque<DateTime<Utc>>>,
}

impl State {
    /// The user with this NINO.
    pub(crate) fn user_by_nino(&self, nino: &str) -> Option<&TestUser> {
        self.users.values().find(|u| u.nino == nino)
    }

    /// Submitted data of a NINO (created on first use).
    pub(crate) fn data_mut(&mut self, nino: &str) -> &mut UserData {
        self.data.entry(nino.to_owned()).or_default()
    }

    /// Submitted data of a NINO, if any.
    pub(crate) fn data(&self, nino: &str) -> Option<&UserData> {
        self.data.get(nino)
    }

    /// Records an accepted write for a tax year; returns its sequence number.
    pub(crate) fn note_write(&mut self, nino: &str, tax_year: TaxYear) -> u64 {
        self.write_seq += 1;
        let seq = self.write_seq;
        self.data_mut(nino).last_write.insert(tax_year, seq);
        seq
    }

    /// Appends to the request journal.
    pub(crate) fn record_request(&mut self, request: RecordedRequest) {
        if self.requests.len() >= JOURNAL_LIMIT {
            self.requests.pop_front();
        }
        self.requests.push_back(request);
    }

    /// Appends to the token journal.
    pub(crate) fn record_token_event(
        &mut self,
        at: DateTime<Utc>,
        event: &str,
        client_id: Option<&str>,
        user_id: Option<&str>,
        detail: Option<&str>,
    ) {
        if self.token_events.len() >= JOURNAL_LIMIT {
            self.token_events.pop_front();
        }
        self.token_events.push_back(TokenEvent {
            at,
            event: event.to_owned(),
            client_id: client_id.map(str::to_owned),
            user_id: user_id.map(str::to_owned),
            detail: detail.map(str::to_owned),
        });
    }
}

/// State plus the things that never change after start.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) state: Mutex<State>,
    pub(crate) clock: Arc<dyn Clock>,
    /// What `reset` restores.
    pub(crate) seed: crate::server::Seed,
}
