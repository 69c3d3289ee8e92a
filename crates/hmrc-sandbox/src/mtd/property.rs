//! Property Business API v6.0, UK property: period summaries (up to 2024-25), cumulative
//! summaries (2025-26 onwards) and annual submissions (digest §4.3, §5.1).

use chrono::NaiveDate;
use serde_json::{Value, json};

use crate::api_error::{Api, MtdError};
use crate::body::{check_fields, check_shape};
use crate::http::{Ctx, Errs, Outcome, Reply};
use crate::ids::{TaxYear, parse_date};
use crate::lit::Lit;
use crate::model::BusinessType;
use crate::mtd::self_employment::{building_rules, check_cumulative_rules, check_period_rules};
use crate::mtd::{
    all_of, amendment_window_end, business_of, none_or, resolve_business_id, resolve_tax_year,
};
use crate::specs;
use crate::state::{Annual, Cumulative, Period};

const API: Api = Api::Property;

/// `RULE_BOTH_EXPENSES_SUPPLIED` for one property's expenses: consolidated expenses may only be
/// accompanied by the fields in `allowed`.
fn both_expenses(expenses: Option<&Lit>, allowed: &[&str], path: &str) -> Option<MtdError> {
    let Some(Lit::Object(members)) = expenses else {
        return None;
    };
    members.iter().find(|(k, _)| k == "consolidatedExpenses")?;
    let others = members
        .iter()
        .any(|(k, _)| k != "consolidatedExpenses" && !allowed.contains(&k.as_str()));
    others.then(|| API.error("RULE_BOTH_EXPENSES_SUPPLIED").with_path(path))
}

fn dates(body: &Lit) -> (Option<NaiveDate>, Option<NaiveDate>) {
    let get = |k: &str| body.get(k).and_then(Lit::as_str).and_then(parse_date);
    (get("fromDate"), get("toDate"))
}

/// `POST /individuals/business/property/uk/{nino}/{businessId}/period/{taxYear}`.
pub(crate) fn create_period(ctx: &mut Ctx<'_>) -> Outcome {
    let body = ctx.body().clone();
    let ty = resolve_tax_year(API, ctx.param("taxYear"), Some(2022), Some(2024));
    all_of(vec![
        resolve_business_id(API, ctx.param("businessId")),
        ty.clone().map(|_| ()),
        check_shape(API, specs::UK_CREATE_PERIOD, &body, ty.clone().ok(), true),
    ])?;
    let ty = ty.map_err(Errs::from)?;
    let mut rules = check_fields(API, specs::UK_CREATE_PERIOD, &body, Some(ty));
    let (from, to) = dates(&body);
    if let (Some(from), Some(to)) = (from, to)
        && to < from
    {
        rules.push(API.error("RULE_TO_DATE_BEFORE_FROM_DATE"));
    }
    rules.extend(both_expenses(
        body.at(&["ukFhlProperty", "expenses"]),
        &["rentARoom"],
        "/ukFhlProperty/expenses",
    ));
    rules.extend(both_expenses(
        body.at(&["ukNonFhlProperty", "expenses"]),
        &[
            "residentialFinancialCost",
            "residentialFinancialCostsCarriedForward",
            "rentARoom",
        ],
        "/ukNonFhlProperty/expenses",
    ));
    none_or(rules)?;
    let (Some(from), Some(to)) = (from, to) else {
        return Err(API.error("FORMAT_FROM_DATE").into());
    };
    ctx.scenario()?;

    let business_id = ctx.param("businessId").to_owned();
    let user = ctx.user()?;
    let business = business_of(
        API,
        user,
        &business_id,
        BusinessType::UkProperty,
        "RULE_TYPE_OF_BUSINESS_INCORRECT",
    )?;
    let commencement = business.commencement_date;
    let nino = user.nino.clone();
    let existing: Vec<Period> = ctx
        .st
        .data(&nino)
        .map(|d| {
            d.uk_periods
                .iter()
                .filter(|p| p.business_id == business_id)
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    check_period_rules(API, &existing, from, to, ty, commencement)?;
    let submission_id = uuid::Uuid::new_v4().to_string();
    let now = ctx.now;
    ctx.st.data_mut(&nino).uk_periods.push(Period {
        id: submission_id.clone(),
        business_id,
        start: from,
        end: to,
        body: body.to_value(),
        received: now,
    });
    ctx.st.note_write(&nino, ty);
    Ok(Reply::json(
        http::StatusCode::CREATED,
        json!({ "submissionId": submission_id }),
    ))
}

/// `PUT /individuals/business/property/uk/{nino}/{businessId}/cumulative/{taxYear}`.
pub(crate) fn cumulative(ctx: &mut Ctx<'_>) -> Outcome {
    let body = ctx.body().clone();
    let ty = resolve_tax_year(API, ctx.param("taxYear"), Some(2025), None);
    all_of(vec![
        resolve_business_id(API, ctx.param("businessId")),
        ty.clone().map(|_| ()),
        check_shape(API, specs::UK_CUMULATIVE, &body, ty.clone().ok(), true),
    ])?;
    let ty = ty.map_err(Errs::from)?;
    let mut rules = check_fields(API, specs::UK_CUMULATIVE, &body, Some(ty));
    let (from, to) = dates(&body);
    if let (Some(from), Some(to)) = (from, to)
        && to < from
    {
        rules.push(API.error("RULE_TO_DATE_BEFORE_FROM_DATE"));
    }
    rules.extend(both_expenses(
        body.at(&["ukProperty", "expenses"]),
        &[
            "residentialFinancialCost",
            "residentialFinancialCostsCarriedForward",
            "rentARoom",
        ],
        "/ukProperty/expenses",
    ));
    none_or(rules)?;
    ctx.scenario()?;

    let business_id = ctx.param("businessId").to_owned();
    let user = ctx.user()?;
    let business = business_of(
        API,
        user,
        &business_id,
        BusinessType::UkProperty,
        "RULE_TYPE_OF_BUSINESS_INCORRECT",
    )?;
    let commencement = business.commencement_date;
    let nino = user.nino.clone();
    let key = (business_id, ty);
    let existing_end = ctx
        .st
        .data(&nino)
        .and_then(|d| d.uk_cumulative.get(&key))
        .and_then(|c| c.end);
    let span = match (from, to) {
        (Some(f), Some(t)) => Some((f, t)),
        _ => None,
    };
    check_cumulative_rules(
        API,
        ty,
        span,
        commencement,
        existing_end,
        ctx.now.date_naive(),
    )?;
    let now = ctx.now;
    let entry = ctx
        .st
        .data_mut(&nino)
        .uk_cumulative
        .entry(key)
        .or_insert_with(|| Cumulative {
            body: Value::Null,
            end: None,
            received: Vec::new(),
        });
    entry.body = body.to_value();
    if let Some((_, end)) = span {
        entry.end = Some(end);
        entry.received.push((end, now));
    }
    ctx.st.note_write(&nino, ty);
    Ok(Reply::no_content())
}

/// Property allowance rules for one property object (`base` is its JSON path).
fn allowance_rules(property: Option<&Lit>, base: &str) -> Vec<MtdError> {
    let mut out = Vec::new();
    let Some(property) = property else {
        return out;
    };
    let allowances = property.get("allowances");
    if let Some(Lit::Object(members)) = allowances {
        let has_pia = members.iter().any(|(k, _)| k == "propertyIncomeAllowance");
        let others = members.iter().any(|(k, _)| k != "propertyIncomeAllowance");
        if has_pia && others {
            out.push(
                API.error("RULE_BOTH_ALLOWANCES_SUPPLIED")
                    .with_path(format!("{base}/allowances")),
            );
        }
        if has_pia
            && property
                .at(&["adjustments", "privateUseAdjustment"])
                .is_some()
        {
            out.push(
                API.error("RULE_PROPERTY_INCOME_ALLOWANCE")
                    .with_path(format!("{base}/adjustments/privateUseAdjustment")),
            );
        }
    }
    out.extend(building_rules(
        API,
        allowances,
        &format!("{base}/allowances"),
    ));
    out
}

/// `PUT /individuals/business/property/uk/{nino}/{businessId}/annual/{taxYear}`.
pub(crate) fn annual(ctx: &mut Ctx<'_>) -> Outcome {
    let body = ctx.body().clone();
    let ty = resolve_tax_year(API, ctx.param("taxYear"), Some(2022), None);
    let spec = match &ty {
        Ok(t) if t.start_year() >= 2025 => specs::UK_ANNUAL_DEF2,
        _ => specs::UK_ANNUAL_DEF1,
    };
    all_of(vec![
        resolve_business_id(API, ctx.param("businessId")),
        ty.clone().map(|_| ()),
        check_shape(API, spec, &body, ty.clone().ok(), true),
    ])?;
    let ty: TaxYear = ty.map_err(Errs::from)?;
    let mut rules = check_fields(API, spec, &body, Some(ty));
    rules.extend(allowance_rules(body.get("ukFhlProperty"), "/ukFhlProperty"));
    rules.extend(allowance_rules(body.get("ukProperty"), "/ukProperty"));
    none_or(rules)?;
    ctx.scenario()?;
    let business_id = ctx.param("businessId").to_owned();
    let user = ctx.user()?;
    business_of(
        API,
        user,
        &business_id,
        BusinessType::UkProperty,
        "RULE_TYPE_OF_BUSINESS_INCORRECT",
    )?;
    if ty.start_year() >= 2025 && ctx.now.date_naive() > amendment_window_end(ty) {
        return Err(API.error("RULE_OUTSIDE_AMENDMENT_WINDOW").into());
    }
    let nino = user.nino.clone();
    ctx.st.data_mut(&nino).uk_annual.insert(
        (business_id, ty),
        Annual {
            body: body.to_value(),
        },
    );
    ctx.st.note_write(&nino, ty);
    Ok(Reply::no_content())
}
