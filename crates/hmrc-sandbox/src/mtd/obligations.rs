//! Obligations API v3.0: quarterly (income and expenditure) and final-declaration
//! (crystallisation) obligations, derived from the user's businesses and tax years and fulfilled
//! by what was submitted (digest §3).

use std::sync::LazyLock;

use chrono::{Datelike, NaiveDate, TimeDelta};
use regex::Regex;
use serde_json::{Value, json};

use crate::http::{Ctx, Errs, Outcome, Reply};
use crate::ids::{TaxYear, parse_date, ymd};
use crate::model::{Business, BusinessType, TestUser};
use crate::mtd::{all_of, resolve_tax_year};
use crate::state::UserData;

static OBLIGATION_BUSINESS_ID: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new("^X[a-zA-Z0-9]{1}IS[0-9]{11}$").expect("valid obligations business ID regex")
});

/// One obligation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Obligation {
    pub(crate) start: NaiveDate,
    pub(crate) end: NaiveDate,
    pub(crate) due: NaiveDate,
    pub(crate) received: Option<NaiveDate>,
}

impl Obligation {
    fn status(&self) -> &'static str {
        if self.received.is_some() {
            "fulfilled"
        } else {
            "open"
        }
    }

    fn to_json(&self) -> Value {
        let mut v = json!({
            "periodStartDate": self.start.to_string(),
            "periodEndDate": self.end.to_string(),
            "dueDate": self.due.to_string(),
            "status": self.status(),
        });
        if let (Some(received), Some(map)) = (self.received, v.as_object_mut()) {
            map.insert("receivedDate".into(), Value::String(received.to_string()));
        }
        v
    }

    fn overlaps(&self, from: NaiveDate, to: NaiveDate) -> bool {
        self.start <= to && self.end >= from
    }
}

/// The tax years with obligations for a user.
pub(crate) fn obligation_years(user: &TestUser, today: NaiveDate) -> Vec<TaxYear> {
    match &user.obligation_years {
        Some(years) => years.clone(),
        None => {
            let current = TaxYear::containing(today);
            (2023..=current.start_year())
                .map(TaxYear::starting)
                .collect()
        }
    }
}

/// The quarter ends of a tax year (standard quarters).
fn quarter_ends(ty: TaxYear) -> [NaiveDate; 4] {
    let y = ty.start_year();
    [
        ymd(y, 7, 5),
        ymd(y, 10, 5),
        ymd(y + 1, 1, 5),
        ymd(y + 1, 4, 5),
    ]
}

/// The due date of a quarter: the 5th of the following month up to 2025-26, the 7th from
/// 2026-27.
fn quarter_due(ty: TaxYear, end: NaiveDate) -> NaiveDate {
    let day = if ty.start_year() >= 2026 { 7 } else { 5 };
    let (year, month) = if end.month() == 12 {
        (end.year() + 1, 1)
    } else {
        (end.year(), end.month() + 1)
    };
    ymd(year, month, day)
}

/// Quarterly obligations of one business for one tax year.
pub(crate) fn quarterly(
    business: &Business,
    ty: TaxYear,
    data: Option<&UserData>,
) -> Vec<Obligation> {
    let commencement = business.commencement_date.unwrap_or(NaiveDate::MIN);
    if commencement > ty.last_day() {
        return Vec::new();
    }
    let year_start = ty.first_day().max(commencement);
    let mut out = Vec::new();
    let mut next_start = year_start;
    for end in quarter_ends(ty) {
        if end < commencement {
            continue;
        }
        let start = if ty.is_cumulative() {
            year_start
        } else {
            next_start
        };
        next_start = end + TimeDelta::days(1);
        let received = data.and_then(|d| received_for(business, ty, end, d));
        out.push(Obligation {
            start,
            end,
            due: quarter_due(ty, end),
            received,
        });
    }
    out
}

/// When the submission meeting a quarter ending `end` arrived.
fn received_for(
    business: &Business,
    ty: TaxYear,
    end: NaiveDate,
    data: &UserData,
) -> Option<NaiveDate> {
    let id = &business.business_id;
    let (periods, cumulative) = match business.type_of_business {
        BusinessType::SelfEmployment => (&data.se_periods, &data.se_cumulative),
        BusinessType::UkProperty => (&data.uk_periods, &data.uk_cumulative),
        _ => return None,
    };
    if ty.is_cumulative() {
        cumulative
            .get(&(id.clone(), ty))
            .and_then(|c| c.received.iter().find(|(e, _)| *e >= end))
            .map(|(_, at)| at.date_naive())
    } else {
        periods
            .iter()
            .filter(|p| &p.business_id == id && p.end == end)
            .map(|p| p.received.date_naive())
            .min()
    }
}

/// The final-declaration obligation of a tax year.
pub(crate) fn crystallisation_obligation(ty: TaxYear, data: Option<&UserData>) -> Obligation {
    Obligation {
        start: ty.first_day(),
        end: ty.last_day(),
        due: ymd(ty.start_year() + 2, 1, 31),
        received: data
            .and_then(|d| d.declarations.get(&ty))
            .map(|d| d.received.date_naive()),
    }
}

/// `GET /obligations/details/{nino}/income-and-expenditure`.
pub(crate) fn income_and_expenditure(ctx: &mut Ctx<'_>) -> Outcome {
    let api = ctx.api();
    let type_q = ctx.query("typeOfBusiness").map(str::to_owned);
    let business_q = ctx.query("businessId").map(str::to_owned);
    let from_q = ctx.query("fromDate").map(str::to_owned);
    let to_q = ctx.query("toDate").map(str::to_owned);
    let status_q = ctx.query("status").map(str::to_owned);

    let mut parse_errors = Vec::new();
    let kind = match type_q.as_deref() {
        None => None,
        Some(t) => match BusinessType::parse(t).filter(|k| *k != BusinessType::PropertyUnspecified)
        {
            Some(k) => Some(k),
            None => {
                parse_errors.push(api.error("FORMAT_TYPE_OF_BUSINESS"));
                None
            }
        },
    };
    if let Some(b) = business_q.as_deref()
        && !OBLIGATION_BUSINESS_ID.is_match(b)
    {
        parse_errors.push(api.error("FORMAT_BUSINESS_ID"));
    }
    let mut range = None;
    match (from_q.as_deref(), to_q.as_deref()) {
        (Some(f), Some(t)) => {
            let from = parse_date(f);
            let to = parse_date(t);
            if from.is_none() {
                parse_errors.push(api.error("FORMAT_FROM_DATE"));
            }
            if to.is_none() {
                parse_errors.push(api.error("FORMAT_TO_DATE"));
            }
            if let (Some(from), Some(to)) = (from, to) {
                range = Some((from, to));
            }
        }
        (None, Some(_)) => parse_errors.push(api.error("MISSING_FROM_DATE")),
        (Some(_), None) => parse_errors.push(api.error("MISSING_TO_DATE")),
        (None, None) => {}
    }
    match status_q.as_deref() {
        None | Some("open") | Some("fulfilled") => {}
        Some(_) => parse_errors.push(api.error("FORMAT_STATUS")),
    }
    all_of(parse_errors.into_iter().map(Err).collect())?;
    if business_q.is_some() && kind.is_none() {
        return Err(api.error("MISSING_TYPE_OF_BUSINESS").into());
    }
    if let Some((from, to)) = range {
        let mut rules = Vec::new();
        if to < from {
            rules.push(Err(api.error("RANGE_TO_DATE_BEFORE_FROM_DATE")));
        }
        if from < ymd(2018, 4, 6) {
            rules.push(Err(api.error("RULE_FROM_DATE_NOT_SUPPORTED")));
        }
        if to > ymd(2099, 12, 31) {
            rules.push(Err(api.error("FORMAT_TO_DATE")));
        }
        if to >= from + TimeDelta::days(366) || to == from {
            rules.push(Err(api.error("RULE_DATE_RANGE_INVALID")));
        }
        all_of(rules)?;
    }

    let today = ctx.now.date_naive();
    let window = match (range, status_q.as_deref()) {
        (Some(r), _) => Some(r),
        (None, Some("open")) => None,
        (None, _) => Some((today, today + TimeDelta::days(366))),
    };

    match ctx.scenario()? {
        Some("CUMULATIVE") => return Ok(Reply::ok(cumulative_example())),
        Some(name @ ("OPEN" | "FULFILLED" | "DYNAMIC")) => {
            let kind = kind.unwrap_or(BusinessType::SelfEmployment);
            let suffix = match name {
                "OPEN" => "3",
                "FULFILLED" => "2",
                _ => "1",
            };
            let business_id = business_q
                .clone()
                .unwrap_or_else(|| format!("X{}IS1234567890{suffix}", canned_letter(kind)));
            let ty = TaxYear::containing(today);
            let (start, end) = if name == "DYNAMIC" {
                window.unwrap_or((ty.first_day(), quarter_ends(ty)[0]))
            } else {
                (ty.first_day(), quarter_ends(ty)[0])
            };
            let fulfilled = name == "FULFILLED"
                || (name == "DYNAMIC" && status_q.as_deref() == Some("fulfilled"));
            let due = quarter_due(ty, end);
            let ob = Obligation {
                start,
                end,
                due,
                received: fulfilled.then(|| due - TimeDelta::days(4)),
            };
            return Ok(Reply::ok(json!({"obligations": [{
                "typeOfBusiness": kind.as_str(),
                "businessId": business_id,
                "obligationDetails": [ob.to_json()],
            }]})));
        }
        _ => {}
    }

    let user = ctx.user()?;
    if user.businesses.is_empty() {
        return Err(api.error("MATCHING_RESOURCE_NOT_FOUND").into());
    }
    let data = ctx.st.data(&user.nino);
    let years = obligation_years(user, today);
    let mut out = Vec::new();
    for business in &user.businesses {
        if business.type_of_business == BusinessType::PropertyUnspecified {
            continue;
        }
        if kind.is_some_and(|k| k != business.type_of_business) {
            continue;
        }
        if business_q
            .as_deref()
            .is_some_and(|b| b != business.business_id)
        {
            continue;
        }
        let details: Vec<Value> = years
            .iter()
            .flat_map(|ty| quarterly(business, *ty, data))
            .filter(|o| window.is_none_or(|(from, to)| o.overlaps(from, to)))
            .filter(|o| status_q.as_deref().is_none_or(|s| s == o.status()))
            .map(|o| o.to_json())
            .collect();
        if !details.is_empty() {
            out.push(json!({
                "typeOfBusiness": business.type_of_business.as_str(),
                "businessId": business.business_id,
                "obligationDetails": details,
            }));
        }
    }
    if out.is_empty() {
        return Err(api.error("NO_OBLIGATIONS_FOUND").into());
    }
    Ok(Reply::ok(json!({ "obligations": out })))
}

fn canned_letter(kind: BusinessType) -> char {
    match kind {
        BusinessType::UkProperty => 'P',
        BusinessType::ForeignProperty => 'F',
        _ => 'B',
    }
}

/// HMRC's cumulative example (`retrieve_cumulative_periodic_obligations_ty_25_26.json`).
fn cumulative_example() -> Value {
    json!({"obligations": [{
        "typeOfBusiness": "self-employment",
        "businessId": "XAIS12345678910",
        "obligationDetails": [
            {"periodStartDate": "2025-04-06", "periodEndDate": "2025-07-05", "dueDate": "2025-08-05",
             "receivedDate": "2025-08-01", "status": "fulfilled"},
            {"periodStartDate": "2025-04-06", "periodEndDate": "2025-10-05", "dueDate": "2025-11-05",
             "receivedDate": "2025-11-01", "status": "fulfilled"},
            {"periodStartDate": "2025-04-06", "periodEndDate": "2026-01-05", "dueDate": "2026-02-05",
             "receivedDate": "2026-02-01", "status": "fulfilled"},
            {"periodStartDate": "2025-04-06", "periodEndDate": "2026-04-05", "dueDate": "2026-05-05",
             "status": "open"}
        ]
    }]})
}

/// `GET /obligations/details/{nino}/crystallisation`.
pub(crate) fn crystallisation(ctx: &mut Ctx<'_>) -> Outcome {
    let api = ctx.api();
    let tax_year_q = ctx.query("taxYear").map(str::to_owned);
    let status_q = ctx.query("status").map(str::to_owned);
    let ty = tax_year_q
        .as_deref()
        .map(|t| resolve_tax_year(api, t, Some(2017), None));
    let status_ok = matches!(status_q.as_deref(), None | Some("open") | Some("fulfilled"));
    all_of(vec![
        ty.clone().map(|r| r.map(|_| ())).unwrap_or(Ok(())),
        if status_ok {
            Ok(())
        } else {
            Err(api.error("FORMAT_STATUS"))
        },
    ])?;
    let ty = ty.transpose().map_err(Errs::from)?;
    let today = ctx.now.date_naive();
    let current = TaxYear::containing(today);

    match ctx.scenario()? {
        Some("MULTIPLE") => {
            let older = TaxYear::starting(current.start_year() - 2);
            let newer = TaxYear::starting(current.start_year() - 1);
            let mut done = crystallisation_obligation(older, None);
            done.received = Some(done.due - TimeDelta::days(6));
            let open = crystallisation_obligation(newer, None);
            return Ok(Reply::ok(
                json!({"obligations": [done.to_json(), open.to_json()]}),
            ));
        }
        Some("DYNAMIC") => {
            let year = ty.unwrap_or(TaxYear::starting(current.start_year() - 1));
            let mut ob = crystallisation_obligation(year, None);
            if status_q.as_deref() != Some("open") {
                ob.received = Some(ob.due - TimeDelta::days(6));
            }
            return Ok(Reply::ok(json!({"obligations": [ob.to_json()]})));
        }
        _ => {}
    }

    let user = ctx.user()?;
    let data = ctx.st.data(&user.nino);
    let known = obligation_years(user, today);
    let wanted: Vec<TaxYear> = match ty {
        Some(y) => vec![y],
        None => (current.start_year() - 4..=current.start_year())
            .map(TaxYear::starting)
            .collect(),
    };
    let obligations: Vec<Value> = wanted
        .into_iter()
        .filter(|y| known.contains(y))
        .map(|y| crystallisation_obligation(y, data))
        .filter(|o| status_q.as_deref().is_none_or(|s| s == o.status()))
        .map(|o| o.to_json())
        .collect();
    if obligations.is_empty() {
        return Err(api.error("NO_OBLIGATIONS_FOUND").into());
    }
    Ok(Reply::ok(json!({ "obligations": obligations })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn business(commencement: Option<NaiveDate>) -> Business {
        Business {
            business_id: "XAIS12345678910".into(),
            type_of_business: BusinessType::SelfEmployment,
            trading_name: None,
            commencement_date: commencement,
        }
    }

    #[test]
    fn non_cumulative_quarters_follow_each_other() {
        let obs = quarterly(&business(None), TaxYear::starting(2024), None);
        let spans: Vec<_> = obs
            .iter()
            .map(|o| (o.start.to_string(), o.end.to_string(), o.due.to_string()))
            .collect();
        assert_eq!(
            spans,
            vec![
                (
                    "2024-04-06".into(),
                    "2024-07-05".into(),
                    "2024-08-05".into()
                ),
                (
                    "2024-07-06".into(),
                    "2024-10-05".into(),
                    "2024-11-05".into()
                ),
                (
                    "2024-10-06".into(),
                    "2025-01-05".into(),
                    "2025-02-05".into()
                ),
                (
                    "2025-01-06".into(),
                    "2025-04-05".into(),
                    "2025-05-05".into()
                ),
            ]
        );
    }

    #[test]
    fn cumulative_quarters_start_at_the_year_start_and_due_dates_move_to_the_7th() {
        let y25 = quarterly(&business(None), TaxYear::starting(2025), None);
        assert!(y25.iter().all(|o| o.start == ymd(2025, 4, 6)));
        assert_eq!(y25[3].due, ymd(2026, 5, 5));
        let y26 = quarterly(&business(None), TaxYear::starting(2026), None);
        let dues: Vec<_> = y26.iter().map(|o| o.due.to_string()).collect();
        assert_eq!(
            dues,
            ["2026-08-07", "2026-11-07", "2027-02-07", "2027-05-07"]
        );
    }

    #[test]
    fn a_business_starting_mid_year_has_fewer_quarters() {
        let obs = quarterly(
            &business(Some(ymd(2024, 8, 1))),
            TaxYear::starting(2024),
            None,
        );
        assert_eq!(obs.len(), 3);
        assert_eq!(obs[0].start, ymd(2024, 8, 1));
    }

    #[test]
    fn crystallisation_is_due_on_31_january() {
        let ob = crystallisation_obligation(TaxYear::starting(2018), None);
        assert_eq!(ob.due, ymd(2020, 1, 31));
        assert_eq!(ob.status(), "open");
    }
}
