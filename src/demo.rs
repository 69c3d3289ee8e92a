//! `mtd demo`: the main job on embedded defaults, end to end over HTTP, with a short report.
//!
//! It starts the embedded stack ([`crate::embedded`]), connects the demo user's HMRC account
//! through the app's pages and the simulator's sign-in page, fetches obligations, submits a
//! quarterly update through the JSON API, then walks the failure table: a transient fault
//! retried to `submitted`; a revoked grant (`failed`, credential expired, "Please reconnect
//! your HMRC account", run failed without retries); reconnect and resubmit (`submitted`);
//! figures HMRC refuses (`rejected` with the flagged fields). Every outcome is checked; the
//! demo fails (exit code 1) when one is not as expected. No token is ever printed.

use std::fmt::Write as _;
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use hmrc_mtd::TaxYear;
use hmrc_sandbox::{FaultAction, FaultSpec};
use inngest_local::RunStatus;
use serde_json::{Value, json};

use crate::driver::{Decision, Driver, DriverError, submit_attempts};
use crate::embedded::{Embedded, EmbeddedError, EmbeddedOptions};

/// How to run the demo.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Data directory (SQLite database and dev keys).
    pub data_dir: PathBuf,
    /// Engine time compression.
    pub time_scale: f64,
    /// How long to wait for each run.
    pub run_timeout: Duration,
}

/// Why the demo stopped.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// The stack did not start.
    #[error(transparent)]
    Start(#[from] EmbeddedError),
    /// Driving the app failed.
    #[error(transparent)]
    Drive(#[from] DriverError),
    /// A step did not go as expected.
    #[error("{step}: {message}")]
    Step {
        /// The step.
        step: String,
        /// What happened instead.
        message: String,
    },
    /// Writing the report failed.
    #[error("cannot write the report: {0}")]
    Output(#[from] std::io::Error),
}

fn step_error(step: &str, message: impl Into<String>) -> DemoError {
    DemoError::Step {
        step: step.to_owned(),
        message: message.into(),
    }
}

/// One checked outcome of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// What was tried.
    pub scenario: String,
    /// What the failure table says should happen.
    pub expected: String,
    /// What happened.
    pub actual: String,
    /// Whether they agree.
    pub ok: bool,
}

/// The demo's findings.
#[derive(Debug, Clone, Default)]
pub struct DemoReport {
    /// Every checked outcome.
    pub checks: Vec<Check>,
}

impl DemoReport {
    /// Whether every outcome was as expected.
    pub fn all_ok(&self) -> bool {
        !self.checks.is_empty() && self.checks.iter().all(|c| c.ok)
    }

    fn check(&mut self, scenario: &str, expected: &str, actual: String, ok: bool) {
        self.checks.push(Check {
            scenario: scenario.to_owned(),
            expected: expected.to_owned(),
            actual,
            ok,
        });
    }
}

struct Demo<'a, W: Write> {
    stack: &'a Embedded,
    driver: Driver<'a>,
    out: &'a mut W,
    report: DemoReport,
}

/// Runs the demo, writing the report to `out`. `Ok` carries the report (check
/// [`DemoReport::all_ok`]); `Err` means the demo could not run to the end.
pub async fn run(options: &DemoOptions, out: &mut impl Write) -> Result<DemoReport, DemoError> {
    let mut embedded = EmbeddedOptions::demo(&options.data_dir);
    embedded.time_scale = options.time_scale;
    let stack = Embedded::start(embedded).await?;
    let result = {
        let mut demo = Demo {
            stack: &stack,
            driver: Driver::new(&stack, options.run_timeout),
            out,
            report: DemoReport::default(),
        };
        match demo.run(options).await {
            Ok(()) => Ok(demo.report),
            Err(e) => Err(e),
        }
    };
    stack.shutdown().await;
    result
}

impl<W: Write> Demo<'_, W> {
    fn line(&mut self, text: impl AsRef<str>) -> Result<(), DemoError> {
        writeln!(self.out, "{}", text.as_ref())?;
        self.out.flush()?;
        Ok(())
    }

    async fn run(&mut self, options: &DemoOptions) -> Result<(), DemoError> {
        let user = self.stack.hmrc_user.clone();
        self.line(
            "mtd demo: HMRC Making Tax Digital submissions on Inngest, on embedded defaults",
        )?;
        self.line(format!("  app             {}", self.stack.app_url))?;
        self.line(format!(
            "  HMRC simulator  {} (test user {}, NINO {}, self-employment {})",
            self.stack.sandbox.url(),
            user.gateway_user_id,
            user.nino,
            user.self_employment_id
        ))?;
        self.line(format!(
            "  Inngest engine  {} (local engine, time x{})",
            self.stack.engine.url(),
            options.time_scale
        ))?;
        self.line(format!(
            "  database        {}",
            options.data_dir.join("mtd.db").display()
        ))?;
        self.line("")?;

        // 1. Connect.
        self.line("1. Connect the HMRC account (app /hmrc/connect → HMRC sign-in → Grant authority → app /hmrc/callback)")?;
        let connected = self.connect(false).await?;
        self.line(format!("   {connected}"))?;

        // 2. Obligations. HMRC refuses a cumulative update more than 10 days before its quarter
        // ends, so the demo needs a quarter that has ended: the current tax year's, or early in
        // a tax year (before 26 June) the previous year's.
        let today = chrono::Utc::now().date_naive();
        let this_year =
            TaxYear::containing(today).map_err(|e| step_error("obligations", e.to_string()))?;
        let mut due_now = Vec::new();
        for year in [Some(this_year), this_year.previous().ok()]
            .into_iter()
            .flatten()
        {
            self.line(format!(
                "2. Fetch {year} obligations from HMRC (POST /api/v1/obligations/refresh)"
            ))?;
            let fetch = self.driver.refresh_obligations(Some(year)).await?;
            let fetched = self.driver.wait_submission(&fetch.id).await?;
            let open = self.driver.open_quarters(&user.self_employment_id).await?;
            let open: Vec<_> = open
                .into_iter()
                .filter(|(_, end, _)| year.contains(*end))
                .collect();
            self.line(format!(
                "   {} ({} open quarterly obligations for {})",
                status(&fetched),
                open.len(),
                user.self_employment_id
            ))?;
            for (start, end, due) in &open {
                self.line(format!("     {start} to {end}, due {due}"))?;
            }
            self.report.check(
                &format!("fetch {year} obligations"),
                "submitted, obligations cached",
                format!("{}, {} open", status(&fetched), open.len()),
                fetched["status"] == "submitted" && !open.is_empty(),
            );
            due_now = open
                .into_iter()
                .filter(|(_, end, _)| *end <= today + chrono::TimeDelta::days(10))
                .collect();
            if !due_now.is_empty() {
                break;
            }
        }
        let Some(first) = due_now.first().copied() else {
            return Err(step_error(
                "fetch obligations",
                "no open quarter has ended, so there is nothing HMRC accepts today",
            ));
        };
        let second = due_now.get(1).copied().unwrap_or(first);

        // 3. Quarterly update.
        self.line(format!(
            "3. Submit a quarterly update for {} to {} (POST /api/v1/submissions)",
            first.0, first.1
        ))?;
        let body = self.driver.period_body(
            &user.self_employment_id,
            first.0,
            first.1,
            "12500.00",
            "3100.45",
        )?;
        let q1 = self.driver.submit(&body).await?;
        let q1 = self.driver.wait_submission(&q1.id).await?;
        let held = self.stack.sandbox.admin().submissions().iter().any(|r| {
            r.endpoint == "se-cumulative"
                && r.body.as_ref().is_some_and(|b| {
                    b.pointer("/periodIncome/turnover") == Some(&json!(12500.0))
                        && b.pointer("/periodExpenses/consolidatedExpenses")
                            == Some(&json!(3100.45))
                })
        });
        self.line(format!("   {}", describe(&q1)))?;
        self.report.check(
            "quarterly update",
            "submitted, HMRC holds the figures",
            format!(
                "{}{}",
                status(&q1),
                if held {
                    ", HMRC holds the figures"
                } else {
                    ", HMRC does not hold them"
                }
            ),
            q1["status"] == "submitted" && held,
        );

        // 4. Transient fault.
        self.line(format!(
            "4. HMRC answers 503 twice, then a quarterly update for {} to {} is submitted",
            second.0, second.1
        ))?;
        self.stack
            .sandbox
            .admin()
            .add_fault(
                FaultSpec::new(
                    "se-cumulative",
                    FaultAction::Status {
                        status: 503,
                        code: None,
                        message: None,
                    },
                )
                .times(2),
            )
            .map_err(|e| step_error("transient fault", e.to_string()))?;
        let body = self.driver.period_body(
            &user.self_employment_id,
            second.0,
            second.1,
            "25100.00",
            "6200.90",
        )?;
        let q2 = self.driver.submit(&body).await?;
        let q2_run = q2.event_ids.clone();
        let q2 = self.driver.wait_submission(&q2.id).await?;
        let run = self.driver.run_of(&q2_run).await?;
        let attempts = submit_attempts(&run);
        self.line(format!(
            "   {}; the HMRC step ran {attempts} times (Inngest retried it with backoff); run {:?}",
            describe(&q2),
            run.status
        ))?;
        self.report.check(
            "HMRC 503 twice",
            "retried, then submitted",
            format!("{} after {attempts} attempts", status(&q2)),
            q2["status"] == "submitted" && attempts == 3,
        );

        // 5. Revoked grant.
        self.line("5. The user revokes the grant at HMRC; then a quarterly update is submitted")?;
        self.stack
            .sandbox
            .admin()
            .revoke_grants(&user.gateway_user_id, None)
            .map_err(|e| step_error("revoked grant", e.to_string()))?;
        let body = self.driver.period_body(
            &user.self_employment_id,
            second.0,
            second.1,
            "25150.00",
            "6200.90",
        )?;
        let revoked = self.driver.submit(&body).await?;
        let revoked_run = revoked.event_ids.clone();
        let failed = self.driver.wait_submission(&revoked.id).await?;
        let run = self.driver.run_of(&revoked_run).await?;
        let attempts = submit_attempts(&run);
        let connection = self.driver.get_json("/api/v1/connection").await?;
        let credential = connection["connections"][0]["status"]
            .as_str()
            .unwrap_or("?")
            .to_owned();
        let notifications = self.driver.get_json("/api/v1/notifications").await?;
        let reconnect_note = notifications["notifications"].as_array().is_some_and(|n| {
            n.iter()
                .any(|n| n["title"] == "Please reconnect your HMRC account")
        });
        self.line(format!("   {}", describe(&failed)))?;
        self.line(format!(
            "   credential {credential}; notification \"Please reconnect your HMRC account\": {}; run {:?} after {attempts} attempt(s)",
            if reconnect_note { "yes" } else { "no" },
            run.status
        ))?;
        self.report.check(
            "grant revoked",
            "failed (auth), credential expired, reconnect notice, run failed without retries",
            format!(
                "{} ({}), credential {credential}, notice {}, run {:?} after {attempts} attempt(s)",
                status(&failed),
                failed["failure"]["reason"].as_str().unwrap_or("-"),
                if reconnect_note { "shown" } else { "missing" },
                run.status
            ),
            failed["status"] == "failed"
                && failed["failure"]["reason"] == "auth"
                && credential == "expired"
                && reconnect_note
                && run.status == RunStatus::Failed
                && attempts == 1,
        );

        // 6. Reconnect and resubmit.
        self.line("6. Settings → HMRC Connection → Reconnect HMRC Account → HMRC sign-in → back with fresh tokens → Resubmit")?;
        let reconnected = self.connect(true).await?;
        self.line(format!("   {reconnected}"))?;
        let failed_id = failed["id"].as_str().unwrap_or_default().to_owned();
        let retry = self.driver.resubmit(&failed_id).await?;
        let retry = self.driver.wait_submission(&retry.id).await?;
        self.line(format!(
            "   attempt {}: {}",
            retry["attempt"],
            describe(&retry)
        ))?;
        self.report.check(
            "reconnect, then resubmit",
            "submitted (attempt 2)",
            format!("{} (attempt {})", status(&retry), retry["attempt"]),
            retry["status"] == "submitted" && retry["attempt"] == 2,
        );

        // 7. Rejection.
        let year =
            TaxYear::containing(first.1).map_err(|e| step_error("rejection", e.to_string()))?;
        self.line(format!(
            "7. Submit an annual summary for {year} with figures HMRC refuses (a building with neither name nor number; a postcode with '#')"
        ))?;
        let annual = json!({
            "kind": "annual_summary",
            "payload": {
                "business_id": user.self_employment_id,
                "tax_year": year.to_string(),
                "figures": {
                    "self-employment": {
                        "allowances": {
                            "structuredBuildingAllowance": [
                                {"amount": 3000.30, "building": {"postcode": "GF49JH"}},
                                {"amount": 1200.00, "building": {"name": "Green Oak's", "postcode": "GF4#9JH"}}
                            ]
                        }
                    }
                }
            },
            "client": self.driver.browser.values(),
        });
        let created = self.driver.submit(&annual).await?;
        let rejected = self.driver.wait_submission(&created.id).await?;
        let fields = flagged_fields(&rejected);
        self.line(format!("   {}; HMRC flagged:", status(&rejected)))?;
        for f in &fields {
            self.line(format!("     {f}"))?;
        }
        let page = self
            .driver
            .browser
            .get(&self.driver.url(&format!("/submissions/{}", created.id)))
            .await
            .map_err(DriverError::from)?;
        let dashboard = self
            .driver
            .browser
            .get(&self.driver.url("/"))
            .await
            .map_err(DriverError::from)?;
        let shown = dashboard
            .body
            .contains(&format!("/submissions/{}", created.id))
            && page.body.contains("HMRC refused these figures")
            && page
                .body
                .contains("/allowances/structuredBuildingAllowance/0/building");
        self.report.check(
            "figures HMRC refuses",
            "rejected with the flagged fields, shown on the dashboard",
            format!(
                "{} with {} flagged field(s){}",
                status(&rejected),
                fields.len(),
                if shown {
                    ", shown on the dashboard"
                } else {
                    ", not on the dashboard"
                }
            ),
            rejected["status"] == "rejected" && !fields.is_empty() && shown,
        );

        // Fraud-prevention headers, as HMRC's checks saw them.
        let findings = self.stack.sandbox.admin().fraud_findings();
        let errors: usize = findings.iter().map(|f| f.report.errors.len()).sum();
        let mut warned: Vec<String> = findings
            .iter()
            .flat_map(|f| f.report.warnings.iter().flat_map(|w| w.headers.clone()))
            .collect();
        warned.sort();
        warned.dedup();
        self.line(format!(
            "8. Fraud-prevention headers (captured from each browser request, replayed by the runs): {} HMRC calls checked, {errors} errors{}",
            findings.len(),
            if warned.is_empty() {
                String::new()
            } else {
                format!(
                    "; warnings only for {} (loopback addresses of a local demo)",
                    warned.join(", ")
                )
            }
        ))?;
        self.report.check(
            "fraud-prevention headers",
            "no errors in HMRC's checks",
            format!("{errors} errors in {} calls", findings.len()),
            errors == 0 && !findings.is_empty(),
        );

        self.line("")?;
        self.line("Outcomes")?;
        let mut summary = String::new();
        for c in &self.report.checks {
            let _ = writeln!(
                summary,
                "  [{}] {}\n       expected: {}\n       got:      {}",
                if c.ok { "ok" } else { "!!" },
                c.scenario,
                c.expected,
                c.actual
            );
        }
        self.line(summary.trim_end())?;
        Ok(())
    }

    /// Connects through the pages and HMRC's sign-in page; returns a description.
    async fn connect(&mut self, again: bool) -> Result<String, DemoError> {
        let last = self.driver.connect(Decision::Grant).await?;
        // A data directory kept from an earlier run already holds the credential (expired: the
        // simulator of that run is gone), so a first connect there is a reconnection too.
        let confirmed = last.body.contains("Your HMRC account is reconnected")
            || (!again && last.body.contains("Your HMRC account is connected"));
        if last.status != http::StatusCode::OK || !confirmed {
            return Err(step_error(
                "connect",
                format!(
                    "the dashboard did not confirm the connection ({} at {})",
                    last.status, last.url
                ),
            ));
        }
        let connection = self.driver.get_json("/api/v1/connection").await?;
        let credential = connection["connections"][0]["status"]
            .as_str()
            .unwrap_or("?")
            .to_owned();
        self.report.check(
            if again {
                "reconnect HMRC account"
            } else {
                "connect HMRC account"
            },
            "credential active with fresh tokens",
            format!("credential {credential}"),
            credential == "active",
        );
        Ok(format!(
            "{}: credential {credential} for NINO {}",
            if again { "reconnected" } else { "connected" },
            self.stack.hmrc_user.nino
        ))
    }
}

fn status(submission: &Value) -> &str {
    submission["status"].as_str().unwrap_or("?")
}

/// `CODE path, path` for each error HMRC flagged.
fn flagged_fields(submission: &Value) -> Vec<String> {
    submission["rejectionErrors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|e| {
                    let paths: Vec<&str> = e["paths"]
                        .as_array()
                        .map(|p| p.iter().filter_map(Value::as_str).collect())
                        .unwrap_or_default();
                    format!(
                        "{} {} ({})",
                        e["code"].as_str().unwrap_or("?"),
                        paths.join(", "),
                        e["message"].as_str().unwrap_or("")
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn describe(submission: &Value) -> String {
    match status(submission) {
        "submitted" => format!(
            "submitted; HMRC receipt: correlation id {}",
            submission["receipt"]["correlationId"]
                .as_str()
                .unwrap_or("-")
        ),
        "failed" => format!(
            "failed ({}): {}",
            submission["failure"]["reason"].as_str().unwrap_or("-"),
            submission["failure"]["detail"].as_str().unwrap_or("-")
        ),
        other => other.to_owned(),
    }
}
