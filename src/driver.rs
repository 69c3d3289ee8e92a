//! Drives the embedded stack the way a user does, over real HTTP: connect the HMRC account
//! through the app's pages and HMRC's sign-in page, call the JSON API, wait for outcomes. Used
//! by `mtd demo` and the end-to-end tests.

use std::time::Duration;

use chrono::NaiveDate;
use hmrc_mtd::TaxYear;
use inngest_local::{RunFilter, RunRecord};
use serde_json::{Value, json};

use crate::browser::{Browser, BrowserError, Page, form_with_action};
use crate::embedded::Embedded;

/// What went wrong while driving the app.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    /// An HTTP request failed.
    #[error(transparent)]
    Http(#[from] BrowserError),
    /// The app (or HMRC's page) answered something else than a user would expect.
    #[error("{what}: {detail}")]
    Unexpected {
        /// What was being done.
        what: String,
        /// What happened.
        detail: String,
    },
}

fn unexpected(what: &str, detail: impl Into<String>) -> DriverError {
    DriverError::Unexpected {
        what: what.to_owned(),
        detail: detail.into(),
    }
}

/// The user's answer on HMRC's page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// "Grant authority".
    Grant,
    /// "Do not grant authority".
    Deny,
}

/// A created submission: its id and the ids of the events that queued its run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Created {
    /// Submission id.
    pub id: String,
    /// Inngest event ids.
    pub event_ids: Vec<String>,
}

/// A user (one browser) in front of the embedded stack.
#[derive(Debug)]
pub struct Driver<'a> {
    /// The stack.
    pub stack: &'a Embedded,
    /// The browser.
    pub browser: Browser,
    /// How long to wait for a run.
    pub timeout: Duration,
}

impl<'a> Driver<'a> {
    /// A new browser in front of `stack`.
    pub fn new(stack: &'a Embedded, timeout: Duration) -> Self {
        Self {
            stack,
            browser: Browser::new(),
            timeout,
        }
    }

    /// An absolute URL of the app.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.stack.app_url)
    }

    /// Settings → HMRC Connection on the dashboard: its Connect (or Reconnect) form, sent with
    /// the test user's NINO, and the redirect to HMRC's sign-in page.
    pub async fn start_connect(&self) -> Result<Page, DriverError> {
        let dashboard = self.browser.get(&self.url("/")).await?;
        let form = form_with_action(&dashboard, "/hmrc/connect")?;
        let mut url = form.action.clone();
        {
            let mut query = url.query_pairs_mut();
            for (name, value) in &form.inputs {
                if name != "nino" {
                    query.append_pair(name, value);
                }
            }
            query.append_pair("nino", &self.stack.hmrc_user.nino);
        }
        let pages = self.browser.visit(url.as_str()).await?;
        let page = pages
            .last()
            .cloned()
            .ok_or_else(|| unexpected("connect", "no page"))?;
        if page.status != http::StatusCode::OK || !page.body.contains("Grant authority") {
            return Err(unexpected(
                "connect",
                format!(
                    "expected HMRC's sign-in page, got {} at {}",
                    page.status, page.url
                ),
            ));
        }
        Ok(page)
    }

    /// Fills HMRC's sign-in form with the test user and answers; returns the redirect to the
    /// app's callback (not followed).
    pub async fn sign_in(&self, sign_in: &Page, decision: Decision) -> Result<Page, DriverError> {
        let user = &self.stack.hmrc_user;
        let form = form_with_action(sign_in, "/oauth/authorize")?;
        let mut fields: Vec<(String, String)> = form
            .inputs
            .into_iter()
            .filter(|(k, _)| k != "user_id" && k != "password")
            .collect();
        fields.push(("user_id".into(), user.gateway_user_id.clone()));
        fields.push(("password".into(), user.password.clone()));
        let decision = match decision {
            Decision::Grant => "grant",
            Decision::Deny => "deny",
        };
        fields.push(("decision".into(), decision.into()));
        let answer = self
            .browser
            .post_form(form.action.as_str(), &fields)
            .await?;
        if !answer.status.is_redirection() {
            return Err(unexpected(
                "sign in at HMRC",
                format!("HMRC's page answered {}: {}", answer.status, answer.body),
            ));
        }
        Ok(answer)
    }

    /// The whole connection: the app's connect, HMRC's sign-in and decision, the app's
    /// callback and the page it ends on.
    pub async fn connect(&self, decision: Decision) -> Result<Page, DriverError> {
        let sign_in = self.start_connect().await?;
        let back = self.sign_in(&sign_in, decision).await?;
        let pages = self.browser.follow(back).await?;
        pages
            .last()
            .cloned()
            .ok_or_else(|| unexpected("connect", "no page"))
    }

    /// A JSON request with a fresh idempotency key; the page whatever its status.
    pub async fn send_json(
        &self,
        method: &'static str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Page, DriverError> {
        let key = uuid::Uuid::new_v4().to_string();
        Ok(self
            .browser
            .json(method, &self.url(path), body, Some(&key))
            .await?)
    }

    /// `POST` a JSON body; a non-2xx answer is an error.
    pub async fn post(&self, path: &str, body: &Value) -> Result<Page, DriverError> {
        let page = self.send_json("POST", path, Some(body)).await?;
        if !page.status.is_success() {
            return Err(unexpected(path, format!("{}: {}", page.status, page.body)));
        }
        Ok(page)
    }

    /// `GET` JSON; a non-2xx answer is an error.
    pub async fn get_json(&self, path: &str) -> Result<Value, DriverError> {
        let page = self
            .browser
            .json("GET", &self.url(path), None, None)
            .await?;
        if !page.status.is_success() {
            return Err(unexpected(path, format!("{}: {}", page.status, page.body)));
        }
        Ok(page.json())
    }

    /// The body of a self-employment quarterly update (amounts as JSON number text, exactly).
    pub fn period_body(
        &self,
        business_id: &str,
        start: NaiveDate,
        end: NaiveDate,
        turnover: &str,
        expenses: &str,
    ) -> Result<Value, DriverError> {
        let year =
            TaxYear::containing(end).map_err(|e| unexpected("quarterly update", e.to_string()))?;
        let client = serde_json::to_string(&self.browser.values())
            .map_err(|e| unexpected("quarterly update", e.to_string()))?;
        let text = format!(
            r#"{{"kind":"period","payload":{{"business_id":"{business_id}","tax_year":"{year}","period_start":"{start}","period_end":"{end}","figures":{{"self-employment":{{"income":{{"turnover":{turnover}}},"expenses":{{"consolidatedExpenses":{expenses}}}}}}}}},"client":{client}}}"#
        );
        serde_json::from_str(&text).map_err(|e| unexpected("quarterly update", e.to_string()))
    }

    /// `POST /api/v1/submissions`.
    pub async fn submit(&self, body: &Value) -> Result<Created, DriverError> {
        let page = self.post("/api/v1/submissions", body).await?;
        created(&page)
    }

    /// `POST /api/v1/obligations/refresh` for a tax year (the current one by default).
    pub async fn refresh_obligations(
        &self,
        tax_year: Option<TaxYear>,
    ) -> Result<Created, DriverError> {
        let mut body = json!({"client": self.browser.values()});
        if let Some(year) = tax_year {
            body["query"] = json!({"tax_year": year.to_string()});
        }
        let page = self.post("/api/v1/obligations/refresh", &body).await?;
        created(&page)
    }

    /// `POST /api/v1/submissions/{id}/resubmit` with the same figures.
    pub async fn resubmit(&self, id: &str) -> Result<Created, DriverError> {
        let page = self
            .post(
                &format!("/api/v1/submissions/{id}/resubmit"),
                &json!({"client": self.browser.values()}),
            )
            .await?;
        created(&page)
    }

    /// Polls the API until the submission leaves `processing`; returns it.
    pub async fn wait_submission(&self, id: &str) -> Result<Value, DriverError> {
        let deadline = tokio::time::Instant::now() + self.timeout;
        loop {
            let got = self.get_json(&format!("/api/v1/submissions/{id}")).await?;
            let submission = got["submission"].clone();
            if submission["status"] != "processing" {
                return Ok(submission);
            }
            if tokio::time::Instant::now() > deadline {
                return Err(unexpected(
                    "wait for the run",
                    format!("submission {id} still processing after {:?}", self.timeout),
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The finished run started by the first of `event_ids`.
    pub async fn run_of(&self, event_ids: &[String]) -> Result<RunRecord, DriverError> {
        let event = event_ids
            .first()
            .ok_or_else(|| unexpected("find the run", "the app returned no event id"))?;
        self.stack
            .engine
            .wait_for(&RunFilter::event(event.clone()), self.timeout)
            .await
            .map_err(|e| unexpected("find the run", e.to_string()))
    }

    /// The open quarterly obligations of a business from `GET /api/v1/obligations`, oldest
    /// first: (start, end, due).
    pub async fn open_quarters(
        &self,
        business_id: &str,
    ) -> Result<Vec<(NaiveDate, NaiveDate, NaiveDate)>, DriverError> {
        let obligations = self.get_json("/api/v1/obligations").await?;
        let mut out = Vec::new();
        for business in obligations["businesses"].as_array().into_iter().flatten() {
            let rows = crate::routes::pages::obligation_rows(
                &business["obligations"],
                business["businessId"].as_str().unwrap_or_default(),
            );
            for r in rows {
                if r.business_id == business_id
                    && r.status == "open"
                    && let (Some(s), Some(e), Some(d)) = (r.start, r.end, r.due)
                {
                    out.push((s, e, d));
                }
            }
        }
        out.sort();
        out.dedup();
        Ok(out)
    }
}

fn created(page: &Page) -> Result<Created, DriverError> {
    let json = page.json();
    let id = json["submission"]["id"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| unexpected("create", format!("no submission in {}", page.body)))?;
    let event_ids = json["eventIds"]
        .as_array()
        .map(|ids| {
            ids.iter()
                .filter_map(|i| i.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    Ok(Created { id, event_ids })
}

/// How many times the HMRC step of a run was attempted.
pub fn submit_attempts(run: &RunRecord) -> usize {
    run.step("submit-to-hmrc").map_or(0, |s| s.attempts.len())
}
