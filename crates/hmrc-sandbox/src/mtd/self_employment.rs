//! Self Employment Business API v5.0: period summaries (tax years up to 2024-25), cumulative
//! summaries (2025-26 onwards) and annual submissions (digest §4.1, §4.2, §5.1).

use std::sync::LazyLock;

use chrono::{NaiveDate, TimeDelta};
use regex::Regex;
use serde_json::{Value, json};

use crate::api_error::{Api, MtdError};
use crate::body::{check_fields, check_shape};
use crate::http::{Ctx, Errs, Outcome, Reply};
use crate::ids::{TaxYear, parse_date, ymd};
use crate::lit::{Lit, pence};
use crate::model::BusinessType;
use crate::mtd::{
    all_of, amendment_window_end, business_of, none_or, resolve_business_id, resolve_tax_year,
};
use crate::specs;
use crate::state::{Annual, Cumulative, Period};

const API: Api = Api::SelfEmployment;

static PERIOD_ID: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\d{4}-\d{2}-\d{2}_\d{4}-\d{2}-\d{2}$").expect("valid period ID regex")
});

/// `RULE_BOTH_EXPENSES_SUPPLIED`: consolidated expenses with any itemised or disallowable ones.
fn both_expenses(body: &Lit) -> Option<MtdError> {
    let expenses = body.get("periodExpenses")?;
    expenses.get("consolidatedExpenses")?;
    let itemised = specs::SE_EXPENSE_ITEMS
        .iter()
        .any(|name| expenses.get(name).is_some());
    let disallowable = body.get("periodDisallowableExpenses").is_some();
    (itemised || disallowable).then(|| API.error("RULE_BOTH_EXPENSES_SUPPLIED"))
}

/// The consolidated-expenses turnover threshold for a tax year (in pence).
fn consolidated_threshold(ty: TaxYear) -> i128 {
    if ty.start_year() >= 2024 {
        9_000_000
    } else {
        8_500_000
    }
}

/// Turnover of a stored body, in pence.
fn stored_turnover(body: &Value) -> i128 {
    body.pointer("/periodIncome/turnover")
        .map(|v| v.to_string())
        .and_then(|s| pence(&s))
        .unwrap_or(0)
}

fn date_at(body: &Lit, path: &[&str]) -> Option<NaiveDate> {
    body.at(path).and_then(Lit::as_str).and_then(parse_date)
}

/// `POST /individuals/business/self-employment/{nino}/{businessId}/period`.
pub(crate) fn create_period(ctx: &mut Ctx<'_>) -> Outcome {
    let body = ctx.body().clone();
    if body.is_empty_object() || !matches!(body, Lit::Object(_)) {
        return Err(API.error("RULE_INCORRECT_OR_EMPTY_BODY_SUBMITTED").into());
    }
    let Some(ty) = date_at(&body, &["periodDates", "periodEndDate"]).map(TaxYear::containing)
    else {
        return Err(API
            .error("FORMAT_END_DATE")
            .with_path("periodDates/periodEndDate")
            .into());
    };
    check_shape(API, specs::SE_CREATE_PERIOD, &body, Some(ty), true)?;
    let start = date_at(&body, &["periodDates", "periodStartDate"]);
    let end = date_at(&body, &["periodDates", "periodEndDate"]);
    let (Some(start), Some(end)) = (start, end) else {
        return Err(API.error("FORMAT_START_DATE").into());
    };
    resolve_business_id(API, ctx.param("businessId"))?;

    let mut rules = Vec::new();
    let (min, max) = if ty.start_year() >= 2023 {
        (ymd(1900, 4, 6), ymd(2025, 4, 5))
    } else {
        (ymd(2017, 4, 6), ymd(2023, 4, 5))
    };
    if start < min || end > max {
        rules.push(API.error("RULE_TAX_YEAR_NOT_SUPPORTED"));
    }
    if end <= start {
        rules.push(API.error("RULE_END_DATE_BEFORE_START_DATE"));
    }
    rules.extend(both_expenses(&body));
    rules.extend(check_fields(API, specs::SE_CREATE_PERIOD, &body, Some(ty)));
    none_or(rules)?;
    ctx.scenario()?;

    let business_id = ctx.param("businessId").to_owned();
    let user = ctx.user()?;
    let business = business_of(
        API,
        user,
        &business_id,
        BusinessType::SelfEmployment,
        "MATCHING_RESOURCE_NOT_FOUND",
    )?;
    let commencement = business.commencement_date;
    let nino = user.nino.clone();
    let existing: Vec<Period> = ctx
        .st
        .data(&nino)
        .map(|d| {
            d.se_periods
                .iter()
                .filter(|p| p.business_id == business_id)
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    check_period_rules(API, &existing, start, end, ty, commencement)?;
    if body
        .at(&["periodExpenses", "consolidatedExpenses"])
        .is_some()
    {
        let year_turnover: i128 = existing
            .iter()
            .filter(|p| ty.contains(p.end))
            .map(|p| stored_turnover(&p.body))
            .sum();
        let this = body
            .at(&["periodIncome", "turnover"])
            .and_then(|l| match l {
                Lit::Number(n) => pence(n),
                _ => None,
            })
            .unwrap_or(0);
        if year_turnover + this > consolidated_threshold(ty) {
            return Err(API.error("RULE_NOT_ALLOWED_CONSOLIDATED_EXPENSES").into());
        }
    }
    let period_id = format!("{start}_{end}");
    let now = ctx.now;
    ctx.st.data_mut(&nino).se_periods.push(Period {
        id: period_id.clone(),
        business_id,
        start,
        end,
        body: body.to_value(),
        received: now,
    });
    ctx.st.note_write(&nino, ty);
    Ok(Reply::ok(json!({ "periodId": period_id })))
}

/// Duplicate, overlap, alignment and contiguity rules for a new period (self-employment and
/// UK property share them).
pub(crate) fn check_period_rules(
    api: Api,
    existing: &[Period],
    start: NaiveDate,
    end: NaiveDate,
    ty: TaxYear,
    commencement: Option<NaiveDate>,
) -> Result<(), Errs> {
    if existing.iter().any(|p| p.start == start && p.end == end) {
        return Err(api.error("RULE_DUPLICATE_SUBMISSION").into());
    }
    if existing.iter().any(|p| p.start <= end && p.end >= start) {
        return Err(api.error("RULE_OVERLAPPING_PERIOD").into());
    }
    let accounting_start = ty.first_day().max(commencement.unwrap_or(NaiveDate::MIN));
    if start < accounting_start || !ty.contains(start) || !ty.contains(end) {
        return Err(api.error("RULE_MISALIGNED_PERIOD").into());
    }
    let expected_start = existing
        .iter()
        .filter(|p| ty.contains(p.end) && p.end < start)
        .map(|p| p.end + TimeDelta::days(1))
        .max()
        .unwrap_or(accounting_start);
    if start != expected_start {
        return Err(api.error("RULE_NOT_CONTIGUOUS_PERIOD").into());
    }
    Ok(())
}

/// `GET .../period/{taxYear}`.
pub(crate) fn list_periods(ctx: &mut Ctx<'_>) -> Outcome {
    let ty = resolve_tax_year(API, ctx.param("taxYear"), Some(2017), None);
    all_of(vec![
        resolve_business_id(API, ctx.param("businessId")),
        ty.clone().map(|_| ()),
    ])?;
    let ty = ty.map_err(Errs::from)?;
    ctx.scenario()?;
    let business_id = ctx.param("businessId").to_owned();
    let user = ctx.user()?;
    business_of(
        API,
        user,
        &business_id,
        BusinessType::SelfEmployment,
        "MATCHING_RESOURCE_NOT_FOUND",
    )?;
    let periods: Vec<Value> = ctx
        .st
        .data(&user.nino)
        .map(|d| {
            d.se_periods
                .iter()
                .filter(|p| p.business_id == business_id && ty.contains(p.end))
                .map(|p| {
                    json!({"periodId": p.id, "periodStartDate": p.start.to_string(),
                           "periodEndDate": p.end.to_string()})
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(Reply::ok(json!({ "periods": periods })))
}

fn period_path(ctx: &Ctx<'_>) -> Result<TaxYear, Errs> {
    let ty = resolve_tax_year(API, ctx.param("taxYear"), Some(2017), Some(2024));
    let period_ok = if PERIOD_ID.is_match(ctx.param("periodId")) {
        Ok(())
    } else {
        Err(API.error("FORMAT_PERIOD_ID"))
    };
    all_of(vec![
        resolve_business_id(API, ctx.param("businessId")),
        ty.clone().map(|_| ()),
        period_ok,
    ])?;
    ty.map_err(Errs::from)
}

/// `GET .../period/{taxYear}/{periodId}`.
pub(crate) fn retrieve_period(ctx: &mut Ctx<'_>) -> Outcome {
    period_path(ctx)?;
    ctx.scenario()?;
    let (business_id, period_id) = (ctx.param("businessId"), ctx.param("periodId"));
    let user = ctx.user()?;
    let period = ctx
        .st
        .data(&user.nino)
        .and_then(|d| {
            d.se_periods
                .iter()
                .find(|p| p.business_id == business_id && p.id == period_id)
        })
        .ok_or_else(|| Errs::from(API.error("MATCHING_RESOURCE_NOT_FOUND")))?;
    Ok(Reply::ok(period.body.clone()))
}

/// `PUT .../period/{taxYear}/{periodId}`.
pub(crate) fn amend_period(ctx: &mut Ctx<'_>) -> Outcome {
    let body = ctx.body().clone();
    let ty = match period_path(ctx) {
        Ok(ty) => {
            check_shape(API, specs::SE_AMEND_PERIOD, &body, Some(ty), true)?;
            ty
        }
        Err(Errs(mut errs)) => {
            if let Err(shape) = check_shape(API, specs::SE_AMEND_PERIOD, &body, None, true) {
                errs.push(shape);
            }
            return Err(Errs(errs));
        }
    };
    let mut rules = Vec::new();
    rules.extend(both_expenses(&body));
    rules.extend(check_fields(API, specs::SE_AMEND_PERIOD, &body, Some(ty)));
    none_or(rules)?;
    ctx.scenario()?;
    let business_id = ctx.param("businessId").to_owned();
    let period_id = ctx.param("periodId").to_owned();
    let nino = ctx.user()?.nino.clone();
    let data = ctx.st.data_mut(&nino);
    let period = data
        .se_periods
        .iter_mut()
        .find(|p| p.business_id == business_id && p.id == period_id)
        .ok_or_else(|| Errs::from(API.error("MATCHING_RESOURCE_NOT_FOUND")))?;
    let mut stored = body.to_value();
    if let (Some(map), Some(dates)) = (stored.as_object_mut(), period.body.get("periodDates")) {
        map.insert("periodDates".into(), dates.clone());
    }
    period.body = stored;
    ctx.st.note_write(&nino, ty);
    Ok(Reply::no_content())
}

/// Checks a cumulative submission against the business's reporting periods (shared with UK
/// property). `dates` is `None` when the body carried none.
pub(crate) fn check_cumulative_rules(
    api: Api,
    ty: TaxYear,
    dates: Option<(NaiveDate, NaiveDate)>,
    commencement: Option<NaiveDate>,
    existing_end: Option<NaiveDate>,
    today: NaiveDate,
) -> Result<(), Errs> {
    if today > amendment_window_end(ty) {
        return Err(api.error("RULE_OUTSIDE_AMENDMENT_WINDOW").into());
    }
    let Some((start, end)) = dates else {
        return Err(api.error("RULE_MISSING_SUBMISSION_DATES").into());
    };
    let commenced_in_year = commencement.filter(|c| ty.contains(*c) && *c > ty.first_day());
    let expected_start = commenced_in_year.unwrap_or(ty.first_day());
    if start != expected_start {
        let code = if commenced_in_year.is_some() {
            "RULE_START_DATE_NOT_ALIGNED_TO_COMMENCEMENT_DATE"
        } else {
            "RULE_START_DATE_NOT_ALIGNED_WITH_REPORTING_TYPE"
        };
        return Err(api.error(code).into());
    }
    let y = ty.start_year();
    let quarter_ends = [
        ymd(y, 7, 5),
        ymd(y, 10, 5),
        ymd(y + 1, 1, 5),
        ymd(y + 1, 4, 5),
    ];
    if !quarter_ends.contains(&end) {
        return Err(api
            .error("RULE_END_DATE_NOT_ALIGNED_WITH_REPORTING_TYPE")
            .into());
    }
    if today < end - TimeDelta::days(10) {
        return Err(api.error("RULE_EARLY_DATA_SUBMISSION_NOT_ACCEPTED").into());
    }
    if existing_end.is_some_and(|e| end < e) {
        return Err(api
            .error("RULE_SUBMISSION_END_DATE_CANNOT_MOVE_BACKWARDS")
            .into());
    }
    Ok(())
}

/// `RULE_INCORRECT_OR_EMPTY_BODY_SUBMITTED` with HMRC's custom message when fewer than two of
/// dates, income and expenses are present.
fn minimum_fields(body: &Lit) -> Result<(), Errs> {
    let count = [
        body.get("periodDates").is_some(),
        body.get("periodIncome").is_some(),
        body.get("periodExpenses").is_some() || body.get("periodDisallowableExpenses").is_some(),
    ]
    .iter()
    .filter(|b| **b)
    .count();
    if count >= 2 {
        return Ok(());
    }
    Err(API
        .error("RULE_INCORRECT_OR_EMPTY_BODY_SUBMITTED")
        .with_message(
            "You must provide information for at least 2 of periodDates, periodIncome, and expenses (periodExpenses and/or periodDisallowableExpenses). Zero values can be submitted when there is no income or expenses",
        )
        .into())
}

/// `PUT .../cumulative/{taxYear}`.
pub(crate) fn cumulative(ctx: &mut Ctx<'_>) -> Outcome {
    let body = ctx.body().clone();
    let ty = resolve_tax_year(API, ctx.param("taxYear"), Some(2025), None);
    all_of(vec![
        resolve_business_id(API, ctx.param("businessId")),
        ty.clone().map(|_| ()),
        check_shape(API, specs::SE_CUMULATIVE, &body, ty.clone().ok(), true),
    ])?;
    let ty = ty.map_err(Errs::from)?;
    minimum_fields(&body)?;
    let mut rules = check_fields(API, specs::SE_CUMULATIVE, &body, Some(ty));
    let dates = match (
        date_at(&body, &["periodDates", "periodStartDate"]),
        date_at(&body, &["periodDates", "periodEndDate"]),
    ) {
        (Some(s), Some(e)) => {
            if e <= s {
                rules.push(API.error("RULE_END_DATE_BEFORE_START_DATE"));
            }
            Some((s, e))
        }
        _ => None,
    };
    rules.extend(both_expenses(&body));
    none_or(rules)?;
    ctx.scenario()?;

    let business_id = ctx.param("businessId").to_owned();
    let user = ctx.user()?;
    let business = business_of(
        API,
        user,
        &business_id,
        BusinessType::SelfEmployment,
        "MATCHING_RESOURCE_NOT_FOUND",
    )?;
    let commencement = business.commencement_date;
    let nino = user.nino.clone();
    let key = (business_id, ty);
    let existing_end = ctx
        .st
        .data(&nino)
        .and_then(|d| d.se_cumulative.get(&key))
        .and_then(|c| c.end);
    check_cumulative_rules(
        API,
        ty,
        dates,
        commencement,
        existing_end,
        ctx.now.date_naive(),
    )?;
    let now = ctx.now;
    let entry = ctx
        .st
        .data_mut(&nino)
        .se_cumulative
        .entry(key)
        .or_insert_with(|| Cumulative {
            body: Value::Null,
            end: None,
            received: Vec::new(),
        });
    entry.body = body.to_value();
    if let Some((_, end)) = dates {
        entry.end = Some(end);
        entry.received.push((end, now));
    }
    ctx.st.note_write(&nino, ty);
    Ok(Reply::no_content())
}

/// `GET .../cumulative/{taxYear}`.
pub(crate) fn retrieve_cumulative(ctx: &mut Ctx<'_>) -> Outcome {
    let ty = resolve_tax_year(API, ctx.param("taxYear"), Some(2025), None);
    all_of(vec![
        resolve_business_id(API, ctx.param("businessId")),
        ty.clone().map(|_| ()),
    ])?;
    let ty = ty.map_err(Errs::from)?;
    ctx.scenario()?;
    let business_id = ctx.param("businessId").to_owned();
    let user = ctx.user()?;
    let stored = ctx
        .st
        .data(&user.nino)
        .and_then(|d| d.se_cumulative.get(&(business_id, ty)))
        .ok_or_else(|| Errs::from(API.error("MATCHING_RESOURCE_NOT_FOUND")))?;
    let mut body = stored.body.clone();
    if let Some(map) = body.as_object_mut() {
        map.entry("periodDates").or_insert_with(|| {
            json!({"periodStartDate": ty.first_day().to_string(),
                   "periodEndDate": ty.last_day().to_string()})
        });
    }
    Ok(Reply::ok(body))
}

/// Building-allowance rule: each building needs a name or a number.
pub(crate) fn building_rules(api: Api, allowances: Option<&Lit>, base: &str) -> Vec<MtdError> {
    let mut out = Vec::new();
    let Some(allowances) = allowances else {
        return out;
    };
    for list in [
        "structuredBuildingAllowance",
        "enhancedStructuredBuildingAllowance",
    ] {
        if let Some(Lit::Array(items)) = allowances.get(list) {
            for (i, item) in items.iter().enumerate() {
                let building = item.get("building");
                let named =
                    building.is_some_and(|b| b.get("name").is_some() || b.get("number").is_some());
                if !named {
                    out.push(
                        api.error("RULE_BUILDING_NAME_NUMBER")
                            .with_path(format!("{base}/{list}/{i}/building")),
                    );
                }
            }
        }
    }
    out
}

/// `PUT .../annual/{taxYear}`.
pub(crate) fn annual(ctx: &mut Ctx<'_>) -> Outcome {
    let body = ctx.body().clone();
    let ty = resolve_tax_year(API, ctx.param("taxYear"), Some(2017), None);
    all_of(vec![
        resolve_business_id(API, ctx.param("businessId")),
        ty.clone().map(|_| ()),
        check_shape(API, specs::SE_ANNUAL, &body, ty.clone().ok(), true),
    ])?;
    let ty = ty.map_err(Errs::from)?;
    let mut rules = check_fields(API, specs::SE_ANNUAL, &body, Some(ty));
    let allowances = body.get("allowances");
    if let Some(a) = allowances
        && a.get("tradingIncomeAllowance").is_some()
        && specs::SE_OTHER_ALLOWANCES
            .iter()
            .any(|n| a.get(n).is_some())
    {
        rules.push(API.error("RULE_BOTH_ALLOWANCES_SUPPLIED"));
    }
    rules.extend(building_rules(API, allowances, "/allowances"));
    if ty.start_year() >= 2024 && body.at(&["adjustments", "overlapReliefUsed"]).is_some() {
        rules.push(
            API.error("RULE_OVERLAP_RELIEF_USED_NOT_ALLOWED")
                .with_path("/adjustments/overlapReliefUsed"),
        );
    }
    if body
        .at(&["adjustments", "transitionProfitAccelerationAmount"])
        .is_some()
        && body
            .at(&["adjustments", "transitionProfitAmount"])
            .is_none()
    {
        rules.push(API.error("RULE_WRONG_TPA_AMOUNT_SUBMITTED"));
    }
    none_or(rules)?;
    ctx.scenario()?;
    let business_id = ctx.param("businessId").to_owned();
    let user = ctx.user()?;
    business_of(
        API,
        user,
        &business_id,
        BusinessType::SelfEmployment,
        "MATCHING_RESOURCE_NOT_FOUND",
    )?;
    if ty.start_year() >= 2025 && ctx.now.date_naive() > amendment_window_end(ty) {
        return Err(API.error("RULE_OUTSIDE_AMENDMENT_WINDOW").into());
    }
    let nino = user.nino.clone();
    ctx.st.data_mut(&nino).se_annual.insert(
        (business_id, ty),
        Annual {
            body: body.to_value(),
        },
    );
    ctx.st.note_write(&nino, ty);
    Ok(Reply::no_content())
}

/// `GET .../annual/{taxYear}`.
pub(crate) fn retrieve_annual(ctx: &mut Ctx<'_>) -> Outcome {
    let ty = resolve_tax_year(API, ctx.param("taxYear"), Some(2017), None);
    all_of(vec![
        resolve_business_id(API, ctx.param("businessId")),
        ty.clone().map(|_| ()),
    ])?;
    let ty = ty.map_err(Errs::from)?;
    ctx.scenario()?;
    let business_id = ctx.param("businessId").to_owned();
    let user = ctx.user()?;
    let stored = ctx
        .st
        .data(&user.nino)
        .and_then(|d| d.se_annual.get(&(business_id, ty)))
        .ok_or_else(|| Errs::from(API.error("MATCHING_RESOURCE_NOT_FOUND")))?;
    Ok(Reply::ok(stored.body.clone()))
}
