//! The pages: the dashboard (HMRC connection, obligations, submissions, notifications), one
//! form per kind of submission, and a page per submission. Plain server-rendered HTML; every
//! form that starts HMRC work carries the fraud-value fields the inline script fills, a CSRF
//! token bound to the session, and an idempotency key (so sending a form twice creates one
//! submission). A form with errors is shown again with what was typed and every problem named.

use std::collections::HashMap;
use std::str::FromStr;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::NaiveDate;
use hmrc_mtd::property::{
    PropertyExpenses, PropertyIncome, UkPropertyAllowances, UkPropertyAnnual,
    UkPropertyAnnualSubmission, UkPropertyFigures,
};
use hmrc_mtd::self_employment::{
    SelfEmploymentAdjustments, SelfEmploymentAllowances, SelfEmploymentAnnualSubmission,
    SelfEmploymentExpenses, SelfEmploymentIncome,
};
use hmrc_mtd::{
    Building, BusinessId, Money, StructuredBuildingAllowance, TaxYear, TypeOfBusiness,
    UnsignedMoney,
};
use http::StatusCode;
use maud::{Markup, html};
use mtd_functions::payload::{
    AnnualFigures, AnnualSubmission, CrystallisationSubmission, EopsSubmission, FieldError,
    PeriodFigures, PeriodSubmission, SelfEmploymentFigures, UkPropertyPeriodFigures,
};
use mtd_store::{Credential, CredentialStatus, NotificationFilter, Submission, SubmissionStatus};
use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;

use super::{CurrentUser, Facts};
use crate::app::App;
use crate::capture::FormBrowserValues;
use crate::html::{error_page, form_guard, respond};
use crate::service::{self, AnyPayload, Origin, ServiceError};
use crate::session::{DEVICE_COOKIE, Session, cookie, csrf_refused};

/// Query of the dashboard.
#[derive(Debug, Deserialize)]
pub struct DashboardQuery {
    /// A fixed notice to show (`connected`, `reconnected`, `refreshing`, `read`).
    #[serde(default)]
    pub notice: Option<String>,
}

fn notice_text(key: &str) -> Option<&'static str> {
    Some(match key {
        "connected" => "Your HMRC account is connected.",
        "reconnected" => {
            "Your HMRC account is reconnected with fresh authority. You can now resubmit anything that failed."
        }
        "refreshing" => "Fetching your obligations from HMRC: reload this page in a moment.",
        _ => return None,
    })
}

/// `GET /`: the dashboard.
pub async fn dashboard(
    State(app): State<App>,
    CurrentUser(user): CurrentUser,
    session: Session,
    Query(query): Query<DashboardQuery>,
) -> Response {
    let secure = app.settings().secure_cookies;
    let page = async {
        let store = app.store();
        let credentials = store.credentials().list_for_user(&user).await?;
        let obligations = store.obligations().list_for_user(&user).await?;
        let submissions = store.submissions().list_for_user(&user, 50).await?;
        let notifications = store
            .notifications()
            .list(&user, NotificationFilter::All, 50)
            .await?;
        Ok::<_, mtd_store::StoreError>((credentials, obligations, submissions, notifications))
    }
    .await;
    let (credentials, obligations, submissions, notifications) = match page {
        Ok(parts) => parts,
        Err(e) => {
            tracing::error!("dashboard failed: {e}");
            return error_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong",
                "The dashboard could not be loaded. Please try again in a moment.",
            );
        }
    };
    let csrf = session.csrf_token();
    let notice = query.notice.as_deref().and_then(notice_text);
    let unread = notifications.iter().filter(|n| !n.is_read()).count();
    let body = html! {
        @if let Some(text) = notice { div.notice { p { (text) } } }
        section id="connection" {
            h2 { "HMRC connection" }
            (connection_section(&credentials, &csrf))
        }
        section id="notifications" {
            h2 { "Notifications" @if unread > 0 { " (" (unread) " unread)" } }
            @if notifications.is_empty() { p { "No notifications." } }
            @else {
                table {
                    tr { th { "When" } th { "" } th { "" } }
                    @for n in &notifications {
                        tr class=(if n.is_read() { "read" } else { "unread" }) {
                            td { (n.created_at.format("%Y-%m-%d %H:%M")) }
                            td {
                                strong { (n.title) } br;
                                (n.body)
                                @if let Some(id) = n.submission_id {
                                    " " a href={"/submissions/" (id)} { "View submission" }
                                }
                            }
                            td {
                                @if !n.is_read() {
                                    form.inline method="post" action={"/notifications/" (n.id) "/read"} {
                                        input type="hidden" name="csrf" value=(csrf);
                                        button type="submit" { "Mark as read" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        section id="obligations" {
            h2 { "Obligations" }
            (obligations_section(&obligations))
            @if credentials.iter().any(|c| c.status == CredentialStatus::Active) {
                form method="post" action="/obligations/refresh" data-fraud {
                    (form_guard(&csrf, &Uuid::new_v4().to_string()))
                    button type="submit" { "Refresh obligations from HMRC" }
                }
            }
        }
        section id="submissions" {
            h2 { "Submissions" }
            (submissions_table(&submissions, &csrf))
        }
    };
    session.apply(secure, respond(StatusCode::OK, "Making Tax Digital", body))
}

fn connection_section(credentials: &[Credential], csrf: &str) -> Markup {
    html! {
        @if credentials.is_empty() {
            p { "Your HMRC account is not connected, so nothing can be sent to HMRC yet." }
            form method="get" action="/hmrc/connect" {
                input type="hidden" name="csrf" value=(csrf);
                label for="nino" { "National Insurance number" }
                input id="nino" name="nino" autocomplete="off" placeholder="QQ123456C";
                br;
                button type="submit" { "Connect HMRC account" }
            }
        } @else {
            table {
                tr { th { "NINO" } th { "Status" } th { "Since" } th { "" } }
                @for c in credentials {
                    tr {
                        td { (c.nino) }
                        @match &c.status {
                            CredentialStatus::Active => {
                                td.status-submitted { "Connected" }
                                td { (c.reconnected_at.unwrap_or(c.connected_at).format("%Y-%m-%d %H:%M")) }
                                td {}
                            }
                            CredentialStatus::Expired { reason, at } => {
                                td.status-failed { "Expired: HMRC no longer accepts this app's access (" (reason) ")" }
                                td { (at.format("%Y-%m-%d %H:%M")) }
                                td {
                                    form.inline method="get" action="/hmrc/connect" {
                                        input type="hidden" name="csrf" value=(csrf);
                                        input type="hidden" name="nino" value=(c.nino);
                                        button type="submit" { "Reconnect HMRC Account" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// One obligation, read from the cached HMRC answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ObligationRow {
    pub(crate) type_of_business: String,
    pub(crate) business_id: String,
    pub(crate) start: Option<NaiveDate>,
    pub(crate) end: Option<NaiveDate>,
    pub(crate) due: Option<NaiveDate>,
    pub(crate) status: String,
    pub(crate) received: Option<NaiveDate>,
}

/// Reads obligations from a cached answer: HMRC's `{"obligations": [{typeOfBusiness,
/// businessId, obligationDetails: [...]}]}`, a list of those, or one of them.
pub(crate) fn obligation_rows(value: &Value, fallback_business: &str) -> Vec<ObligationRow> {
    let groups: Vec<&Value> = match value {
        Value::Array(items) => items.iter().collect(),
        Value::Object(map) => match map.get("obligations") {
            Some(Value::Array(items)) => items.iter().collect(),
            _ => vec![value],
        },
        _ => Vec::new(),
    };
    let text = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).map(str::to_owned);
    let date = |v: &Value, key: &str| {
        v.get(key)
            .and_then(Value::as_str)
            .and_then(|s| NaiveDate::from_str(s).ok())
    };
    let mut rows = Vec::new();
    for group in groups {
        let details = group
            .get("obligationDetails")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for d in &details {
            rows.push(ObligationRow {
                type_of_business: text(group, "typeOfBusiness").unwrap_or_default(),
                business_id: text(group, "businessId")
                    .unwrap_or_else(|| fallback_business.to_owned()),
                start: date(d, "periodStartDate"),
                end: date(d, "periodEndDate"),
                due: date(d, "dueDate"),
                status: text(d, "status").unwrap_or_default().to_ascii_lowercase(),
                received: date(d, "receivedDate"),
            });
        }
    }
    rows.sort_by_key(|r| (r.business_id.clone(), r.start, r.end));
    rows
}

fn obligations_section(cached: &[mtd_store::CachedObligations]) -> Markup {
    let rows: Vec<(ObligationRow, chrono::DateTime<chrono::Utc>)> = cached
        .iter()
        .flat_map(|c| {
            obligation_rows(&c.obligations, &c.business_id)
                .into_iter()
                .map(move |r| (r, c.fetched_at))
        })
        .collect();
    html! {
        @if rows.is_empty() {
            p { "No obligations fetched yet." }
        } @else {
            @if let Some(fetched) = cached.iter().map(|c| c.fetched_at).max() {
                p { "Last fetched from HMRC " (fetched.format("%Y-%m-%d %H:%M UTC")) "." }
            }
            table {
                tr { th { "Business" } th { "Period" } th { "Due" } th { "Status" } th { "" } }
                @for (r, _) in &rows {
                    tr {
                        td { (r.type_of_business) br; small { (r.business_id) } }
                        td { (opt_date(r.start)) " to " (opt_date(r.end)) }
                        td { (opt_date(r.due)) }
                        td {
                            @if r.status == "fulfilled" {
                                "Fulfilled" @if let Some(d) = r.received { " (received " (d) ")" }
                            } @else { "Open" }
                        }
                        td {
                            @if r.status == "open" {
                                @if let Some(link) = period_link(r) { a href=(link) { "Submit quarterly update" } }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn period_link(r: &ObligationRow) -> Option<String> {
    let (start, end) = (r.start?, r.end?);
    let year = TaxYear::containing(end).ok()?;
    let business = match r.type_of_business.as_str() {
        "uk-property" => "uk-property",
        "self-employment" => "self-employment",
        _ => return None,
    };
    Some(format!(
        "/submissions/period/new?business={business}&business_id={}&tax_year={year}&period_start={start}&period_end={end}",
        urlencode(&r.business_id)
    ))
}

fn urlencode(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}

fn opt_date(d: Option<NaiveDate>) -> String {
    d.map_or_else(|| "-".to_owned(), |d| d.to_string())
}

fn status_label(status: SubmissionStatus) -> &'static str {
    match status {
        SubmissionStatus::Processing => "Processing",
        SubmissionStatus::Submitted => "Submitted",
        SubmissionStatus::Rejected => "Rejected",
        SubmissionStatus::Failed => "Failed",
    }
}

fn outcome(s: &Submission) -> Markup {
    html! {
        @if let Some(r) = &s.receipt {
            "HMRC receipt: "
            @if let Some(id) = &r.correlation_id { "correlation id " code { (id) } }
            @if let Some(id) = &r.period_id { ", period " code { (id) } }
            @if let Some(id) = &r.submission_id { ", submission " code { (id) } }
            @if let Some(id) = &r.calculation_id { ", calculation " code { (id) } }
        }
        @if !s.rejection_errors.is_empty() {
            "HMRC refused these figures:"
            ul {
                @for e in &s.rejection_errors {
                    li {
                        code { (e.code) } ": " (e.message)
                        @if !e.paths.is_empty() {
                            " (field" @if e.paths.len() > 1 { "s" } " "
                            @for (i, p) in e.paths.iter().enumerate() {
                                @if i > 0 { ", " }
                                code { (p) }
                            }
                            ")"
                        }
                    }
                }
            }
        }
        @if let Some(f) = &s.failure {
            @if f.reason == mtd_store::FailureReason::Auth {
                "Not sent: HMRC no longer accepts this app's access to your account. Please reconnect your HMRC account, then resubmit."
            } @else if f.reason == mtd_store::FailureReason::TransientExhausted {
                "Not sent: HMRC could not be reached after several attempts. Resubmit to try again."
            } @else {
                "Not sent because of a problem on our side; our operators have been alerted."
            }
            br; small { (f.detail) }
        }
    }
}

fn submissions_table(submissions: &[Submission], csrf: &str) -> Markup {
    let superseded: std::collections::HashSet<Uuid> = submissions
        .iter()
        .filter_map(|s| s.previous_attempt_id)
        .collect();
    html! {
        @if submissions.is_empty() {
            p { "Nothing submitted yet." }
        } @else {
            table {
                tr { th { "Created" } th { "What" } th { "Status" } th { "Outcome" } th { "" } }
                @for s in submissions {
                    tr {
                        td { (s.created_at.format("%Y-%m-%d %H:%M")) }
                        td {
                            a href={"/submissions/" (s.id)} { (s.kind.describe()) }
                            @if let Some(y) = &s.tax_year { " " (y) }
                            @if let (Some(a), Some(b)) = (s.period_start, s.period_end) { br; small { (a) " to " (b) } }
                            @if s.attempt > 1 { br; small { "attempt " (s.attempt) } }
                        }
                        td class={"status-" (s.status.as_str())} { (status_label(s.status)) }
                        td { (outcome(s)) }
                        td {
                            @if resubmittable(s) && !superseded.contains(&s.id) {
                                (resubmit_form(s.id, csrf))
                            }
                        }
                    }
                }
            }
        }
    }
}

fn resubmittable(s: &Submission) -> bool {
    matches!(
        s.status,
        SubmissionStatus::Failed | SubmissionStatus::Rejected
    ) && s.kind != mtd_store::SubmissionKind::ObligationsFetch
}

fn resubmit_form(id: Uuid, csrf: &str) -> Markup {
    html! {
        form.inline method="post" action={"/submissions/" (id) "/resubmit"} data-fraud {
            (form_guard(csrf, &Uuid::new_v4().to_string()))
            button type="submit" { "Resubmit" }
        }
    }
}

/// `GET /submissions/{id}`: one submission, its outcome and its history. Refreshes itself
/// while the run is in progress.
pub async fn submission(
    State(app): State<App>,
    CurrentUser(user): CurrentUser,
    session: Session,
    Path(id): Path<String>,
) -> Response {
    let Ok(id) = Uuid::try_parse(&id) else {
        return error_page(
            StatusCode::NOT_FOUND,
            "Not found",
            "There is no such submission.",
        );
    };
    let s = match service::owned_submission(&app, &user, id).await {
        Ok(s) => s,
        Err(ServiceError::NotFound(_)) => {
            return error_page(
                StatusCode::NOT_FOUND,
                "Not found",
                "There is no such submission.",
            );
        }
        Err(e) => return page_error(&e),
    };
    let history = app
        .store()
        .submissions()
        .history(id)
        .await
        .unwrap_or_default();
    let attempts = app
        .store()
        .submissions()
        .attempts(id)
        .await
        .unwrap_or_default();
    let newest = attempts
        .iter()
        .map(|a| a.attempt)
        .max()
        .unwrap_or(s.attempt)
        == s.attempt;
    let csrf = session.csrf_token();
    let body = html! {
        @if s.status == SubmissionStatus::Processing {
            meta http-equiv="refresh" content="2";
            div.notice { p { "Sending to HMRC… this page refreshes by itself." } }
        }
        table {
            tr { th { "What" } td { (s.kind.describe()) } }
            tr { th { "NINO" } td { (s.nino) } }
            @if let Some(b) = &s.business_id { tr { th { "Business" } td { (b) } } }
            @if let Some(y) = &s.tax_year { tr { th { "Tax year" } td { (y) } } }
            @if let (Some(a), Some(b)) = (s.period_start, s.period_end) { tr { th { "Period" } td { (a) " to " (b) } } }
            tr { th { "Attempt" } td { (s.attempt) } }
            tr { th { "Status" } td class={"status-" (s.status.as_str())} { (status_label(s.status)) } }
            tr { th { "Outcome" } td { (outcome(&s)) } }
        }
        @if resubmittable(&s) && newest { (resubmit_form(s.id, &csrf)) }
        @if attempts.len() > 1 {
            h2 { "Attempts" }
            ul {
                @for a in &attempts {
                    li { a href={"/submissions/" (a.id)} { "Attempt " (a.attempt) } ": " (status_label(a.status)) }
                }
            }
        }
        h2 { "History" }
        table {
            tr { th { "When" } th { "Status" } th { "By" } th { "Why" } }
            @for h in &history {
                tr {
                    td { (h.at.format("%Y-%m-%d %H:%M:%S")) }
                    td { @if let Some(f) = h.from { (f.as_str()) " → " } (h.to.as_str()) }
                    td { (h.actor) }
                    td { (h.reason) }
                }
            }
        }
        p { a href="/" { "Back to the dashboard" } }
    };
    session.apply(
        app.settings().secure_cookies,
        respond(StatusCode::OK, "Submission", body),
    )
}

/// A service error as a page: what happened and what to do.
fn page_error(error: &ServiceError) -> Response {
    let status = error.status();
    if status.is_server_error() {
        tracing::error!("page request failed: {error}");
    }
    let body = match error {
        ServiceError::Reconnect { .. } => html! {
            div.error { p { (error.to_string()) } }
            p { a href="/#connection" { "Reconnect HMRC Account" } }
        },
        ServiceError::Store(_) => html! {
            div.error { p { "Something went wrong on our side; please try again in a moment." } }
        },
        other => html! { div.error { p { (other.to_string()) } } },
    };
    respond(
        status,
        "Not sent",
        html! { (body) p { a href="/" { "Back to the dashboard" } } },
    )
}

// ---------------------------------------------------------------------------------------------
// Forms

/// Form fields, by name.
type Fields = HashMap<String, String>;

#[derive(Clone, Copy)]
enum Input {
    Text,
    Date,
    Money,
    Select(&'static [(&'static str, &'static str)]),
}

struct Field {
    name: &'static str,
    label: &'static str,
    input: Input,
}

const fn field(name: &'static str, label: &'static str, input: Input) -> Field {
    Field { name, label, input }
}

const BUSINESS_TYPES: &[(&str, &str)] = &[
    ("self-employment", "Self-employment"),
    ("uk-property", "UK property"),
];
const EOPS_BUSINESS_TYPES: &[(&str, &str)] = &[
    ("self-employment", "Self-employment"),
    ("uk-property", "UK property"),
    ("foreign-property", "Foreign property"),
];

const PERIOD_FIELDS: &[Field] = &[
    field(
        "business",
        "Type of business",
        Input::Select(BUSINESS_TYPES),
    ),
    field("business_id", "HMRC business id (XAIS…)", Input::Text),
    field("tax_year", "Tax year (e.g. 2025-26)", Input::Text),
    field("period_start", "Period start", Input::Date),
    field("period_end", "Period end", Input::Date),
    field("se_turnover", "Self-employment: turnover", Input::Money),
    field(
        "se_other_income",
        "Self-employment: other income",
        Input::Money,
    ),
    field(
        "se_consolidated_expenses",
        "Self-employment: all expenses as one figure",
        Input::Money,
    ),
    field(
        "se_cost_of_goods",
        "Self-employment: cost of goods",
        Input::Money,
    ),
    field(
        "se_wages_and_staff_costs",
        "Self-employment: wages and staff costs",
        Input::Money,
    ),
    field(
        "se_premises_running_costs",
        "Self-employment: premises running costs",
        Input::Money,
    ),
    field(
        "se_admin_costs",
        "Self-employment: admin costs",
        Input::Money,
    ),
    field(
        "se_other_expenses",
        "Self-employment: other expenses",
        Input::Money,
    ),
    field("property_rent", "UK property: rent received", Input::Money),
    field(
        "property_other_income",
        "UK property: other income",
        Input::Money,
    ),
    field(
        "property_consolidated_expenses",
        "UK property: all expenses as one figure",
        Input::Money,
    ),
    field(
        "property_premises_running_costs",
        "UK property: premises running costs",
        Input::Money,
    ),
    field(
        "property_repairs_and_maintenance",
        "UK property: repairs and maintenance",
        Input::Money,
    ),
];

const ANNUAL_FIELDS: &[Field] = &[
    field(
        "business",
        "Type of business",
        Input::Select(BUSINESS_TYPES),
    ),
    field("business_id", "HMRC business id (XAIS…)", Input::Text),
    field("tax_year", "Tax year (e.g. 2025-26)", Input::Text),
    field(
        "annual_investment_allowance",
        "Annual investment allowance",
        Input::Money,
    ),
    field(
        "se_capital_allowance_main_pool",
        "Self-employment: capital allowance, main pool",
        Input::Money,
    ),
    field(
        "se_goods_and_services_own_use",
        "Self-employment: goods and services for own use",
        Input::Money,
    ),
    field(
        "property_income_allowance",
        "UK property: property income allowance",
        Input::Money,
    ),
    field(
        "property_cost_of_replacing_domestic_items",
        "UK property: replacing domestic items",
        Input::Money,
    ),
    field(
        "sba_amount",
        "Structures and buildings allowance: amount",
        Input::Money,
    ),
    field(
        "sba_building_name",
        "Structures and buildings allowance: building name",
        Input::Text,
    ),
    field(
        "sba_building_number",
        "Structures and buildings allowance: building number",
        Input::Text,
    ),
    field(
        "sba_postcode",
        "Structures and buildings allowance: postcode",
        Input::Text,
    ),
];

const EOPS_FIELDS: &[Field] = &[
    field(
        "type_of_business",
        "Type of business",
        Input::Select(EOPS_BUSINESS_TYPES),
    ),
    field("business_id", "HMRC business id (XAIS…)", Input::Text),
    field("period_start", "Accounting period start", Input::Date),
    field("period_end", "Accounting period end", Input::Date),
];

const FINAL_FIELDS: &[Field] = &[field("tax_year", "Tax year (e.g. 2025-26)", Input::Text)];

struct FormPage {
    title: &'static str,
    intro: &'static str,
    action: &'static str,
    submit: &'static str,
    fields: &'static [Field],
}

const PERIOD_FORM: FormPage = FormPage {
    title: "Quarterly update",
    intro: "Up to 2024-25 a quarterly update covers one quarter; from 2025-26 it is cumulative: the figures from 6 April to the end of the quarter. Fill in the figures of your type of business only; give expenses either as one figure or itemised.",
    action: "/submissions/period",
    submit: "Send to HMRC",
    fields: PERIOD_FIELDS,
};
const ANNUAL_FORM: FormPage = FormPage {
    title: "Annual summary",
    intro: "Allowances and adjustments for one business and tax year.",
    action: "/submissions/annual",
    submit: "Send to HMRC",
    fields: ANNUAL_FIELDS,
};
const EOPS_FORM: FormPage = FormPage {
    title: "End of Period Statement",
    intro: "Only for accounting periods ending in the 2023-24 tax year or earlier: HMRC dropped End of Period Statements from 2024-25.",
    action: "/submissions/eops",
    submit: "Send to HMRC",
    fields: EOPS_FIELDS,
};
const FINAL_FORM: FormPage = FormPage {
    title: "Final declaration",
    intro: "Declares a tax year after it has ended: HMRC calculates the tax due, then the declaration is made.",
    action: "/submissions/final-declaration",
    submit: "Calculate and declare",
    fields: FINAL_FIELDS,
};

fn render_form(
    form: &FormPage,
    values: &Fields,
    errors: &[FieldError],
    csrf: &str,
    idempotency_key: &str,
    nino_choices: &[String],
) -> Markup {
    let value = |name: &str| values.get(name).map(String::as_str).unwrap_or("");
    html! {
        p { (form.intro) }
        @if !errors.is_empty() {
            div.error {
                p { strong { "Nothing was sent. Correct these and send again:" } }
                ul {
                    @for e in errors {
                        li {
                            @if !e.field.is_empty() { code { (e.field) } ": " }
                            (e.message)
                            @if !e.code.is_empty() { " (" (e.code) ")" }
                        }
                    }
                }
            }
        }
        form method="post" action=(form.action) data-fraud {
            (form_guard(csrf, idempotency_key))
            @if nino_choices.len() > 1 {
                label for="nino" { "HMRC account (NINO)" }
                select id="nino" name="nino" {
                    @for n in nino_choices {
                        option value=(n) selected[value("nino") == n] { (n) }
                    }
                }
            }
            @for f in form.fields {
                label for=(f.name) { (f.label) }
                @match f.input {
                    Input::Text => input id=(f.name) name=(f.name) value=(value(f.name));
                    Input::Date => input id=(f.name) name=(f.name) type="date" value=(value(f.name));
                    Input::Money => input id=(f.name) name=(f.name) inputmode="decimal" placeholder="0.00" value=(value(f.name));
                    Input::Select(options) => select id=(f.name) name=(f.name) {
                        @for (v, text) in options {
                            option value=(v) selected[value(f.name) == *v] { (text) }
                        }
                    }
                }
            }
            br;
            button type="submit" { (form.submit) }
        }
    }
}

async fn show_form(
    app: &App,
    user: &str,
    session: &Session,
    form: &FormPage,
    status: StatusCode,
    values: &Fields,
    errors: &[FieldError],
) -> Response {
    let ninos = app
        .store()
        .credentials()
        .list_for_user(user)
        .await
        .map(|cs| cs.into_iter().map(|c| c.nino).collect::<Vec<_>>())
        .unwrap_or_default();
    // A form shown again keeps its idempotency key: sending it twice creates one submission.
    let key = values
        .get("idempotency_key")
        .filter(|k| !k.is_empty())
        .cloned()
        .unwrap_or_else(|| Uuid::new_v4().to_string());
    let body = render_form(form, values, errors, &session.csrf_token(), &key, &ninos);
    session.apply(
        app.settings().secure_cookies,
        respond(status, form.title, body),
    )
}

/// `GET /submissions/period/new` (prefilled from the query, e.g. from an obligation).
pub async fn period_form(
    State(app): State<App>,
    CurrentUser(user): CurrentUser,
    session: Session,
    Query(values): Query<Fields>,
) -> Response {
    show_form(
        &app,
        &user,
        &session,
        &PERIOD_FORM,
        StatusCode::OK,
        &values,
        &[],
    )
    .await
}

/// `GET /submissions/annual/new`.
pub async fn annual_form(
    State(app): State<App>,
    CurrentUser(user): CurrentUser,
    session: Session,
    Query(values): Query<Fields>,
) -> Response {
    show_form(
        &app,
        &user,
        &session,
        &ANNUAL_FORM,
        StatusCode::OK,
        &values,
        &[],
    )
    .await
}

/// `GET /submissions/eops/new`.
pub async fn eops_form(
    State(app): State<App>,
    CurrentUser(user): CurrentUser,
    session: Session,
    Query(values): Query<Fields>,
) -> Response {
    show_form(
        &app,
        &user,
        &session,
        &EOPS_FORM,
        StatusCode::OK,
        &values,
        &[],
    )
    .await
}

/// `GET /submissions/final-declaration/new`.
pub async fn final_declaration_form(
    State(app): State<App>,
    CurrentUser(user): CurrentUser,
    session: Session,
    Query(values): Query<Fields>,
) -> Response {
    show_form(
        &app,
        &user,
        &session,
        &FINAL_FORM,
        StatusCode::OK,
        &values,
        &[],
    )
    .await
}

/// Collects field errors while a form is read.
#[derive(Default)]
struct Reader<'a> {
    values: Option<&'a Fields>,
    errors: Vec<FieldError>,
}

impl<'a> Reader<'a> {
    fn new(values: &'a Fields) -> Self {
        Self {
            values: Some(values),
            errors: Vec::new(),
        }
    }

    fn raw(&self, name: &str) -> Option<&'a str> {
        self.values
            .and_then(|v| v.get(name))
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
    }

    fn fail(&mut self, name: &str, message: impl Into<String>) {
        self.errors.push(FieldError {
            field: name.to_owned(),
            code: "INVALID_FIELD".into(),
            message: message.into(),
        });
    }

    fn required(&mut self, name: &str) -> Option<&'a str> {
        let value = self.raw(name);
        if value.is_none() {
            self.fail(name, "is required");
        }
        value
    }

    fn parse<T: FromStr>(&mut self, name: &str, required: bool, what: &str) -> Option<T> {
        let raw = if required {
            self.required(name)?
        } else {
            self.raw(name)?
        };
        match raw.parse::<T>() {
            Ok(v) => Some(v),
            Err(_) => {
                self.fail(name, format!("{raw:?} is not {what}"));
                None
            }
        }
    }

    fn money(&mut self, name: &str) -> Option<Money> {
        self.parse(name, false, "an amount with at most two decimal places")
    }

    fn unsigned(&mut self, name: &str) -> Option<UnsignedMoney> {
        self.parse(
            name,
            false,
            "a positive amount with at most two decimal places",
        )
    }

    fn date(&mut self, name: &str) -> Option<NaiveDate> {
        self.parse(name, true, "a date (yyyy-mm-dd)")
    }

    fn tax_year(&mut self, name: &str) -> Option<TaxYear> {
        self.parse(name, true, "a tax year such as 2025-26")
    }

    fn business_id(&mut self, name: &str) -> Option<BusinessId> {
        let raw = self.required(name)?;
        match BusinessId::new(&raw.to_ascii_uppercase()) {
            Ok(id) => Some(id),
            Err(_) => {
                self.fail(
                    name,
                    format!("{raw:?} is not an HMRC business id (X?IS and 11 digits)"),
                );
                None
            }
        }
    }

    fn finish<T>(self, value: Option<T>) -> Result<T, Vec<FieldError>> {
        match value {
            Some(v) if self.errors.is_empty() => Ok(v),
            _ => Err(self.errors),
        }
    }
}

fn any_some<T>(items: &[&Option<T>]) -> bool {
    items.iter().any(|i| i.is_some())
}

fn read_period(values: &Fields) -> Result<PeriodSubmission, Vec<FieldError>> {
    let mut r = Reader::new(values);
    let business = r.required("business");
    let business_id = r.business_id("business_id");
    let tax_year = r.tax_year("tax_year");
    let period_start = r.date("period_start");
    let period_end = r.date("period_end");
    let figures = match business {
        Some("self-employment") => {
            let income = SelfEmploymentIncome {
                turnover: r.unsigned("se_turnover"),
                other: r.unsigned("se_other_income"),
                ..Default::default()
            };
            let expenses = SelfEmploymentExpenses {
                consolidated_expenses: r.money("se_consolidated_expenses"),
                cost_of_goods: r.money("se_cost_of_goods"),
                wages_and_staff_costs: r.money("se_wages_and_staff_costs"),
                premises_running_costs: r.money("se_premises_running_costs"),
                admin_costs: r.money("se_admin_costs"),
                other_expenses: r.money("se_other_expenses"),
                ..Default::default()
            };
            let has_income = any_some(&[&income.turnover, &income.other]);
            let has_expenses = any_some(&[
                &expenses.consolidated_expenses,
                &expenses.cost_of_goods,
                &expenses.wages_and_staff_costs,
                &expenses.premises_running_costs,
                &expenses.admin_costs,
                &expenses.other_expenses,
            ]);
            Some(PeriodFigures::SelfEmployment(SelfEmploymentFigures {
                income: has_income.then_some(income),
                expenses: has_expenses.then_some(expenses),
                disallowable_expenses: None,
            }))
        }
        Some("uk-property") => {
            let income = PropertyIncome {
                period_amount: r.unsigned("property_rent"),
                other_income: r.unsigned("property_other_income"),
                ..Default::default()
            };
            let expenses = PropertyExpenses {
                consolidated_expenses: r.money("property_consolidated_expenses"),
                premises_running_costs: r.money("property_premises_running_costs"),
                repairs_and_maintenance: r.money("property_repairs_and_maintenance"),
                ..Default::default()
            };
            let has_income = any_some(&[&income.period_amount, &income.other_income]);
            let has_expenses = any_some(&[
                &expenses.consolidated_expenses,
                &expenses.premises_running_costs,
                &expenses.repairs_and_maintenance,
            ]);
            Some(PeriodFigures::UkProperty(UkPropertyPeriodFigures {
                uk_property: Some(UkPropertyFigures {
                    income: has_income.then_some(income),
                    expenses: has_expenses.then_some(expenses),
                }),
                fhl: None,
            }))
        }
        Some(other) => {
            r.fail(
                "business",
                format!("{other:?} is not self-employment or uk-property"),
            );
            None
        }
        None => None,
    };
    let payload = match (business_id, tax_year, period_start, period_end, figures) {
        (
            Some(business_id),
            Some(tax_year),
            Some(period_start),
            Some(period_end),
            Some(figures),
        ) => Some(PeriodSubmission {
            business_id,
            tax_year,
            period_start,
            period_end,
            figures,
        }),
        _ => None,
    };
    r.finish(payload)
}

fn read_building(r: &mut Reader<'_>) -> Option<Vec<StructuredBuildingAllowance>> {
    let amount = r.unsigned("sba_amount");
    let name = r.raw("sba_building_name").map(str::to_owned);
    let number = r.raw("sba_building_number").map(str::to_owned);
    let postcode = r.raw("sba_postcode").map(str::to_owned);
    if amount.is_none() && name.is_none() && number.is_none() && postcode.is_none() {
        return None;
    }
    let Some(amount) = amount else {
        r.fail(
            "sba_amount",
            "is required for a structures and buildings allowance",
        );
        return None;
    };
    Some(vec![StructuredBuildingAllowance {
        amount,
        first_year: None,
        building: Building {
            name,
            number,
            postcode: postcode.unwrap_or_default(),
        },
    }])
}

fn read_annual(values: &Fields) -> Result<AnnualSubmission, Vec<FieldError>> {
    let mut r = Reader::new(values);
    let business = r.required("business");
    let business_id = r.business_id("business_id");
    let tax_year = r.tax_year("tax_year");
    let aia = r.unsigned("annual_investment_allowance");
    let buildings = read_building(&mut r);
    let figures = match business {
        Some("self-employment") => {
            let allowances = SelfEmploymentAllowances {
                annual_investment_allowance: aia,
                capital_allowance_main_pool: r.unsigned("se_capital_allowance_main_pool"),
                structured_building_allowance: buildings,
                ..Default::default()
            };
            let own_use = r.unsigned("se_goods_and_services_own_use");
            let has_allowances = allowances != SelfEmploymentAllowances::default();
            Some(AnnualFigures::SelfEmployment(
                SelfEmploymentAnnualSubmission {
                    adjustments: own_use.map(|v| SelfEmploymentAdjustments {
                        goods_and_services_own_use: Some(v),
                        ..Default::default()
                    }),
                    allowances: has_allowances.then_some(allowances),
                    non_financials: None,
                },
            ))
        }
        Some("uk-property") => {
            let allowances = UkPropertyAllowances {
                annual_investment_allowance: aia,
                property_income_allowance: r.unsigned("property_income_allowance"),
                cost_of_replacing_domestic_items: r
                    .unsigned("property_cost_of_replacing_domestic_items"),
                structured_building_allowance: buildings,
                ..Default::default()
            };
            Some(AnnualFigures::UkProperty(UkPropertyAnnualSubmission {
                uk_fhl_property: None,
                uk_property: Some(UkPropertyAnnual {
                    adjustments: None,
                    allowances: Some(allowances),
                }),
            }))
        }
        Some(other) => {
            r.fail(
                "business",
                format!("{other:?} is not self-employment or uk-property"),
            );
            None
        }
        None => None,
    };
    let payload = match (business_id, tax_year, figures) {
        (Some(business_id), Some(tax_year), Some(figures)) => Some(AnnualSubmission {
            business_id,
            tax_year,
            figures,
        }),
        _ => None,
    };
    r.finish(payload)
}

fn read_eops(values: &Fields) -> Result<EopsSubmission, Vec<FieldError>> {
    let mut r = Reader::new(values);
    let type_of_business = match r.required("type_of_business") {
        Some("self-employment") => Some(TypeOfBusiness::SelfEmployment),
        Some("uk-property") => Some(TypeOfBusiness::UkProperty),
        Some("foreign-property") => Some(TypeOfBusiness::ForeignProperty),
        Some(other) => {
            r.fail(
                "type_of_business",
                format!("{other:?} is not a type of business"),
            );
            None
        }
        None => None,
    };
    let business_id = r.business_id("business_id");
    let period_start = r.date("period_start");
    let period_end = r.date("period_end");
    let payload = match (type_of_business, business_id, period_start, period_end) {
        (Some(type_of_business), Some(business_id), Some(period_start), Some(period_end)) => {
            Some(EopsSubmission {
                type_of_business,
                business_id,
                period_start,
                period_end,
            })
        }
        _ => None,
    };
    r.finish(payload)
}

fn read_final(values: &Fields) -> Result<CrystallisationSubmission, Vec<FieldError>> {
    let mut r = Reader::new(values);
    let tax_year = r.tax_year("tax_year");
    r.finish(tax_year.map(|tax_year| CrystallisationSubmission { tax_year }))
}

/// Reads the CSRF token, the idempotency key and the browser values every HMRC form carries.
struct Guard {
    browser: crate::capture::BrowserValues,
    idempotency_key: Option<String>,
}

fn guard(session: &Session, facts: &Facts, values: &Fields) -> Result<Guard, Box<Response>> {
    if !values
        .get("csrf")
        .is_some_and(|token| session.check_csrf(token))
    {
        return Err(Box::new(csrf_refused()));
    }
    let key = service::idempotency_key(
        values.get("idempotency_key").map(String::as_str),
        "idempotency_key",
    )
    .map_err(|e| Box::new(page_error(&e)))?;
    let form = FormBrowserValues {
        fp_js_user_agent: values.get("fp_js_user_agent").cloned().unwrap_or_default(),
        fp_device_id: values.get("fp_device_id").cloned().unwrap_or_default(),
        fp_screens: values.get("fp_screens").cloned().unwrap_or_default(),
        fp_window_width: values.get("fp_window_width").cloned().unwrap_or_default(),
        fp_window_height: values.get("fp_window_height").cloned().unwrap_or_default(),
        fp_timezone_offset_minutes: values
            .get("fp_timezone_offset_minutes")
            .cloned()
            .unwrap_or_default(),
    };
    let browser = form
        .into_browser_values(cookie(&facts.headers, DEVICE_COOKIE))
        .map_err(|e| Box::new(page_error(&ServiceError::InvalidClient(e))))?;
    Ok(Guard {
        browser,
        idempotency_key: key,
    })
}

/// Sends a form's payload; on success shows the submission, otherwise the form again.
async fn send_form(
    app: &App,
    user: &str,
    session: &Session,
    facts: &Facts,
    form: &FormPage,
    values: &Fields,
    payload: Result<AnyPayload, Vec<FieldError>>,
) -> Response {
    let guard = match guard(session, facts, values) {
        Ok(g) => g,
        Err(response) => return *response,
    };
    let payload = match payload {
        Ok(p) => p,
        Err(errors) => {
            return show_form(
                app,
                user,
                session,
                form,
                StatusCode::UNPROCESSABLE_ENTITY,
                values,
                &errors,
            )
            .await;
        }
    };
    let origin = Origin {
        user_id: user,
        nino: values
            .get("nino")
            .map(String::as_str)
            .filter(|n| !n.is_empty()),
        browser: &guard.browser,
        browser_field_prefix: "fp_",
        request: facts.request(),
        idempotency_key: guard.idempotency_key,
    };
    match service::submit(app, &origin, &payload).await {
        Ok(queued) => {
            Redirect::to(&format!("/submissions/{}", queued.submission.id)).into_response()
        }
        Err(
            e @ (ServiceError::InvalidPayload(_)
            | ServiceError::InvalidInput { .. }
            | ServiceError::WhichNino
            | ServiceError::UnknownNino(_)),
        ) => show_form(app, user, session, form, e.status(), values, &e.fields()).await,
        Err(e) => page_error(&e),
    }
}

/// `POST /submissions/period`.
pub async fn submit_period(
    State(app): State<App>,
    CurrentUser(user): CurrentUser,
    session: Session,
    facts: Facts,
    Form(values): Form<Fields>,
) -> Response {
    let payload = read_period(&values).map(AnyPayload::Period);
    send_form(
        &app,
        &user,
        &session,
        &facts,
        &PERIOD_FORM,
        &values,
        payload,
    )
    .await
}

/// `POST /submissions/annual`.
pub async fn submit_annual(
    State(app): State<App>,
    CurrentUser(user): CurrentUser,
    session: Session,
    facts: Facts,
    Form(values): Form<Fields>,
) -> Response {
    let payload = read_annual(&values).map(AnyPayload::Annual);
    send_form(
        &app,
        &user,
        &session,
        &facts,
        &ANNUAL_FORM,
        &values,
        payload,
    )
    .await
}

/// `POST /submissions/eops`: refused up front for tax years from 2024-25, saying why.
pub async fn submit_eops(
    State(app): State<App>,
    CurrentUser(user): CurrentUser,
    session: Session,
    facts: Facts,
    Form(values): Form<Fields>,
) -> Response {
    let payload = read_eops(&values).map(AnyPayload::Eops);
    send_form(&app, &user, &session, &facts, &EOPS_FORM, &values, payload).await
}

/// `POST /submissions/final-declaration`.
pub async fn submit_final_declaration(
    State(app): State<App>,
    CurrentUser(user): CurrentUser,
    session: Session,
    facts: Facts,
    Form(values): Form<Fields>,
) -> Response {
    let payload = read_final(&values).map(AnyPayload::Crystallisation);
    send_form(&app, &user, &session, &facts, &FINAL_FORM, &values, payload).await
}

/// `POST /submissions/{id}/resubmit`: the next attempt, with the same figures.
pub async fn resubmit(
    State(app): State<App>,
    CurrentUser(user): CurrentUser,
    session: Session,
    facts: Facts,
    Path(id): Path<String>,
    Form(values): Form<Fields>,
) -> Response {
    let guard = match guard(&session, &facts, &values) {
        Ok(g) => g,
        Err(response) => return *response,
    };
    let Ok(id) = Uuid::try_parse(&id) else {
        return error_page(
            StatusCode::NOT_FOUND,
            "Not found",
            "There is no such submission.",
        );
    };
    let origin = Origin {
        user_id: &user,
        nino: None,
        browser: &guard.browser,
        browser_field_prefix: "fp_",
        request: facts.request(),
        idempotency_key: guard.idempotency_key,
    };
    match service::resubmit(&app, &origin, id, None).await {
        Ok(next) => Redirect::to(&format!("/submissions/{}", next.submission.id)).into_response(),
        Err(e) => page_error(&e),
    }
}

/// `POST /obligations/refresh`: fetches the current tax year's obligations again.
pub async fn refresh_obligations(
    State(app): State<App>,
    CurrentUser(user): CurrentUser,
    session: Session,
    facts: Facts,
    Form(values): Form<Fields>,
) -> Response {
    let guard = match guard(&session, &facts, &values) {
        Ok(g) => g,
        Err(response) => return *response,
    };
    let origin = Origin {
        user_id: &user,
        nino: values
            .get("nino")
            .map(String::as_str)
            .filter(|n| !n.is_empty()),
        browser: &guard.browser,
        browser_field_prefix: "fp_",
        request: facts.request(),
        idempotency_key: guard.idempotency_key,
    };
    match service::refresh_obligations(&app, &origin, &service::current_year_fetch()).await {
        Ok(_) => Redirect::to("/?notice=refreshing").into_response(),
        Err(e) => page_error(&e),
    }
}

/// `POST /notifications/{id}/read`.
pub async fn mark_read(
    State(app): State<App>,
    CurrentUser(user): CurrentUser,
    session: Session,
    Path(id): Path<String>,
    Form(values): Form<Fields>,
) -> Response {
    if !values.get("csrf").is_some_and(|t| session.check_csrf(t)) {
        return csrf_refused();
    }
    let Ok(id) = Uuid::try_parse(&id) else {
        return error_page(
            StatusCode::NOT_FOUND,
            "Not found",
            "There is no such notification.",
        );
    };
    match app.store().notifications().mark_read(&user, id).await {
        Ok(_) => Redirect::to("/#notifications").into_response(),
        Err(e) => page_error(&ServiceError::Store(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields(pairs: &[(&str, &str)]) -> Fields {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn obligations_read_from_hmrcs_answer_in_period_order() {
        let cached = json!({"obligations": [{
            "typeOfBusiness": "self-employment", "businessId": "XAIS12345678901",
            "obligationDetails": [
                {"periodStartDate": "2026-04-06", "periodEndDate": "2026-10-05", "dueDate": "2026-11-07", "status": "open"},
                {"periodStartDate": "2026-04-06", "periodEndDate": "2026-07-05", "dueDate": "2026-08-07", "status": "fulfilled", "receivedDate": "2026-08-01"}
            ]
        }]});
        let rows = obligation_rows(&cached, "x");
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].end, NaiveDate::from_ymd_opt(2026, 7, 5));
        assert_eq!(rows[0].status, "fulfilled");
        assert_eq!(
            period_link(&rows[1]).unwrap(),
            "/submissions/period/new?business=self-employment&business_id=XAIS12345678901&tax_year=2026-27&period_start=2026-04-06&period_end=2026-10-05"
        );
    }

    #[test]
    fn a_period_form_becomes_the_payload_with_exact_amounts() {
        let period = read_period(&fields(&[
            ("business", "self-employment"),
            ("business_id", "xais12345678901"),
            ("tax_year", "2026-27"),
            ("period_start", "2026-04-06"),
            ("period_end", "2026-07-05"),
            ("se_turnover", "12500.10"),
            ("se_consolidated_expenses", "3100.45"),
        ]))
        .unwrap();
        let json = serde_json::to_string(&period).unwrap();
        assert!(json.contains("12500.10"), "{json}");
        assert!(
            json.contains("\"business_id\":\"XAIS12345678901\""),
            "{json}"
        );
    }

    #[test]
    fn a_bad_period_form_names_every_field_at_fault() {
        let errors = read_period(&fields(&[
            ("business", "self-employment"),
            ("business_id", "nope"),
            ("tax_year", "2026"),
            ("period_start", "2026-04-06"),
            ("se_turnover", "12.345"),
        ]))
        .unwrap_err();
        let names: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            names,
            ["business_id", "tax_year", "period_end", "se_turnover"]
        );
    }

    #[test]
    fn an_annual_form_with_a_building_carries_its_allowance() {
        let annual = read_annual(&fields(&[
            ("business", "self-employment"),
            ("business_id", "XAIS12345678901"),
            ("tax_year", "2025-26"),
            ("sba_amount", "3000.30"),
            ("sba_postcode", "GF49JH"),
        ]))
        .unwrap();
        let json = serde_json::to_value(&annual).unwrap();
        assert_eq!(
            json["figures"]["self-employment"]["allowances"]["structuredBuildingAllowance"][0]["building"]
                ["postcode"],
            "GF49JH"
        );
        let missing = read_annual(&fields(&[
            ("business", "self-employment"),
            ("business_id", "XAIS12345678901"),
            ("tax_year", "2025-26"),
            ("sba_postcode", "GF49JH"),
        ]))
        .unwrap_err();
        assert_eq!(missing[0].field, "sba_amount");
    }

    #[test]
    fn form_values_are_shown_again_escaped() {
        let values = fields(&[("business_id", "\"><script>x</script>")]);
        let markup = render_form(&PERIOD_FORM, &values, &[], "t", "k", &[]).into_string();
        assert!(!markup.contains("<script>x"));
        assert!(markup.contains("&quot;&gt;&lt;script&gt;"));
    }
}
