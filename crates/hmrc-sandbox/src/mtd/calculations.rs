//! Individual Calculations API v8.0 (digest §7.1): trigger (202), retrieve (404 until the
//! calculation is ready, then a body built from HMRC's example for the tax year's schema) and
//! final declaration / confirm amendment (204).

use std::sync::LazyLock;

use chrono::{DateTime, NaiveDate, SecondsFormat, TimeDelta, Utc};
use serde_json::{Map, Value, json};

use crate::api_error::Api;
use crate::http::{Ctx, Errs, Outcome, Reply};
use crate::ids::{TaxYear, is_valid_calculation_id};
use crate::mtd::{all_of, amendment_window_end, resolve_tax_year};
use crate::state::{CalcType, Calculation, Declaration, UserData};

const API: Api = Api::Calculations;

fn template(text: &str) -> Value {
    let mut v: Value = serde_json::from_str(text).unwrap_or(Value::Null);
    // The examples carry an error message that would stop a careful client from declaring;
    // a successful calculation has none.
    if let Some(messages) = v.get_mut("messages").and_then(Value::as_object_mut) {
        messages.remove("errors");
    }
    v
}

static DEF1: LazyLock<Value> =
    LazyLock::new(|| template(include_str!("../../data/calculation/def1.json")));
static DEF2: LazyLock<Value> =
    LazyLock::new(|| template(include_str!("../../data/calculation/def2.json")));
static DEF3: LazyLock<Value> =
    LazyLock::new(|| template(include_str!("../../data/calculation/def3.json")));
static DEF4: LazyLock<Value> =
    LazyLock::new(|| template(include_str!("../../data/calculation/def4.json")));

/// Which response schema a tax year uses: def1 up to 2023-24, def2 2024-25, def3 2025-26,
/// def4 from 2026-27 (HMRC's `RetrieveCalculationSchema`).
fn schema_for(ty: TaxYear) -> (u8, &'static Value) {
    match ty.start_year() {
        y if y <= 2023 => (1, &DEF1),
        2024 => (2, &DEF2),
        2025 => (3, &DEF3),
        _ => (4, &DEF4),
    }
}

fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The latest period end submitted for a tax year (for `periodTo` of in-year calculations).
fn latest_end(data: Option<&UserData>, ty: TaxYear) -> Option<NaiveDate> {
    let data = data?;
    let periods = data
        .se_periods
        .iter()
        .chain(&data.uk_periods)
        .map(|p| p.end);
    let cumulative = data
        .se_cumulative
        .iter()
        .chain(&data.uk_cumulative)
        .filter(|((_, y), _)| *y == ty)
        .filter_map(|(_, c)| c.end);
    periods.chain(cumulative).filter(|d| ty.contains(*d)).max()
}

/// A calculation body for `calc`, from the example of the tax year's schema.
fn calculation_body(calc: &Calculation, data: Option<&UserData>) -> Value {
    let ty = calc.tax_year;
    let (def, base) = schema_for(ty);
    let mut body = base.clone();
    let period_to = match calc.kind {
        CalcType::InYear => latest_end(data, ty).unwrap_or(ty.last_day()),
        _ => ty.last_day(),
    };
    let mut meta = Map::new();
    meta.insert("calculationId".into(), json!(calc.id));
    meta.insert("taxYear".into(), json!(ty.to_string()));
    meta.insert("requestedBy".into(), json!("customer"));
    meta.insert(
        "requestedTimestamp".into(),
        json!(timestamp(calc.requested)),
    );
    meta.insert("calculationReason".into(), json!("customer-request"));
    meta.insert(
        "calculationTimestamp".into(),
        json!(timestamp(calc.ready_at)),
    );
    meta.insert("calculationType".into(), json!(calc.kind.as_str()));
    if def <= 2 {
        meta.insert(
            "intentToSubmitFinalDeclaration".into(),
            json!(calc.kind == CalcType::IntentToFinalise),
        );
        meta.insert("finalDeclaration".into(), json!(calc.declared.is_some()));
        if let Some(at) = calc.declared {
            meta.insert("finalDeclarationTimestamp".into(), json!(timestamp(at)));
        }
    } else if let Some(at) = calc.declared {
        let key = if calc.kind == CalcType::IntentToAmend {
            "confirmationTimestamp"
        } else {
            "finalisationTimestamp"
        };
        meta.insert(key.into(), json!(timestamp(at)));
    }
    meta.insert("periodFrom".into(), json!(ty.first_day().to_string()));
    meta.insert("periodTo".into(), json!(period_to.to_string()));
    if let Some(obj) = body.as_object_mut() {
        obj.insert("metadata".into(), Value::Object(meta));
    }
    body
}

fn parse_trigger_type(value: &str) -> Option<CalcType> {
    Some(match value {
        "in-year" => CalcType::InYear,
        "intent-to-finalise" => CalcType::IntentToFinalise,
        "intent-to-amend" => CalcType::IntentToAmend,
        _ => return None,
    })
}

/// `POST .../self-assessment/{taxYear}/trigger/{calculationType}`.
pub(crate) fn trigger(ctx: &mut Ctx<'_>) -> Outcome {
    let ty = resolve_tax_year(API, ctx.param("taxYear"), Some(2017), None);
    let kind = parse_trigger_type(ctx.param("calculationType"));
    all_of(vec![
        ty.clone().map(|_| ()),
        kind.map(|_| ())
            .ok_or_else(|| API.error("FORMAT_CALCULATION_TYPE")),
    ])?;
    let (Ok(ty), Some(kind)) = (ty, kind) else {
        return Err(API.error("FORMAT_CALCULATION_TYPE").into());
    };
    if kind == CalcType::IntentToAmend && ty.start_year() < 2025 {
        return Err(API.error("RULE_CALCULATION_TYPE_NOT_ALLOWED").into());
    }
    ctx.scenario()?;

    let user = ctx.user()?;
    let nino = user.nino.clone();
    let sources_version = user.sources_version;
    let data = ctx.st.data(&nino);
    let declared = data.is_some_and(|d| d.declarations.contains_key(&ty));
    let today = ctx.now.date_naive();
    if kind == CalcType::IntentToFinalise && declared {
        return Err(API.error("RULE_FINAL_DECLARATION_RECEIVED").into());
    }
    if kind == CalcType::IntentToAmend && !declared {
        return Err(API.error("RULE_DECLARATION_NOT_RECEIVED").into());
    }
    if kind == CalcType::IntentToFinalise && today <= ty.last_day() {
        let code = if ty.start_year() >= 2025 {
            "RULE_PREMATURE_FINALISATION"
        } else {
            "RULE_TAX_YEAR_NOT_ENDED"
        };
        return Err(API.error(code).into());
    }
    if kind == CalcType::IntentToAmend && today > amendment_window_end(ty) {
        return Err(API.error("RULE_OUTSIDE_AMENDMENT_WINDOW").into());
    }
    let marker = data.and_then(|d| d.last_write.get(&ty).copied());
    let Some(marker) = marker else {
        return Err(API.error("RULE_NO_INCOME_SUBMISSIONS_EXIST").into());
    };
    let now = ctx.now;
    let busy = data.is_some_and(|d| {
        d.calculations
            .iter()
            .any(|c| c.tax_year == ty && c.ready_at > now)
    });
    if busy {
        return Err(API.error("RULE_CALCULATION_IN_PROGRESS").into());
    }
    let delay = TimeDelta::from_std(ctx.st.settings.calculation_delay).unwrap_or(TimeDelta::zero());
    let id = uuid::Uuid::new_v4().to_string();
    ctx.st.data_mut(&nino).calculations.push(Calculation {
        id: id.clone(),
        tax_year: ty,
        kind,
        requested: now,
        ready_at: now + delay,
        marker,
        sources_version,
        declared: None,
    });
    Ok(Reply::json(
        http::StatusCode::ACCEPTED,
        json!({ "calculationId": id }),
    ))
}

fn id_path(ctx: &Ctx<'_>) -> Result<TaxYear, Errs> {
    let ty = resolve_tax_year(API, ctx.param("taxYear"), Some(2017), None);
    let id_ok = if is_valid_calculation_id(ctx.param("calculationId")) {
        Ok(())
    } else {
        Err(API.error("FORMAT_CALCULATION_ID"))
    };
    all_of(vec![ty.clone().map(|_| ()), id_ok])?;
    ty.map_err(Errs::from)
}

/// `GET .../self-assessment/{taxYear}/{calculationId}`.
pub(crate) fn retrieve(ctx: &mut Ctx<'_>) -> Outcome {
    let ty = id_path(ctx)?;
    let id = ctx.param("calculationId").to_owned();
    let now = ctx.now;
    if let Some(name) = ctx.scenario()? {
        if name == "DYNAMIC" && ty.start_year() < 2023 {
            return Err(API.error("RULE_INCORRECT_GOV_TEST_SCENARIO").into());
        }
        let canned = Calculation {
            id: id.clone(),
            tax_year: ty,
            kind: CalcType::InYear,
            requested: now,
            ready_at: now,
            marker: 0,
            sources_version: 0,
            declared: None,
        };
        let mut body = calculation_body(&canned, None);
        if name == "ERROR_MESSAGES_EXIST"
            && let Some(obj) = body.as_object_mut()
        {
            obj.remove("calculation");
            obj.insert(
                    "messages".into(),
                    json!({"errors": [{"id": "C55317",
                        "text": "Final confirmation of income and expenses for all business sources has not been provided"}]}),
                );
        }
        return Ok(Reply::ok(body));
    }
    let user = ctx.user()?;
    let data = ctx.st.data(&user.nino);
    let calc = data
        .and_then(|d| {
            d.calculations
                .iter()
                .find(|c| c.id == id && c.tax_year == ty)
        })
        .filter(|c| c.ready_at <= now)
        .ok_or_else(|| Errs::from(API.error("MATCHING_RESOURCE_NOT_FOUND")))?;
    Ok(Reply::ok(calculation_body(calc, data)))
}

/// `POST .../self-assessment/{taxYear}/{calculationId}/{calculationType}`.
pub(crate) fn final_declaration(ctx: &mut Ctx<'_>) -> Outcome {
    let ty = resolve_tax_year(API, ctx.param("taxYear"), Some(2017), None);
    let id_ok = if is_valid_calculation_id(ctx.param("calculationId")) {
        Ok(())
    } else {
        Err(API.error("FORMAT_CALCULATION_ID"))
    };
    let wanted = match (ctx.param("calculationType"), &ty) {
        ("final-declaration", _) => Some(CalcType::IntentToFinalise),
        ("confirm-amendment", Ok(t)) if t.start_year() >= 2025 => Some(CalcType::IntentToAmend),
        ("confirm-amendment", Err(_)) => Some(CalcType::IntentToAmend),
        _ => None,
    };
    all_of(vec![
        ty.clone().map(|_| ()),
        id_ok,
        wanted
            .map(|_| ())
            .ok_or_else(|| API.error("FORMAT_CALCULATION_TYPE")),
    ])?;
    let (Ok(ty), Some(wanted)) = (ty, wanted) else {
        return Err(API.error("FORMAT_CALCULATION_TYPE").into());
    };
    ctx.scenario()?;

    let id = ctx.param("calculationId").to_owned();
    let now = ctx.now;
    let user = ctx.user()?;
    let nino = user.nino.clone();
    let sources_version = user.sources_version;
    let data = ctx.st.data(&nino);
    let calc = data
        .and_then(|d| {
            d.calculations
                .iter()
                .find(|c| c.id == id && c.tax_year == ty && c.kind == wanted)
        })
        .ok_or_else(|| Errs::from(API.error("MATCHING_RESOURCE_NOT_FOUND")))?;
    if now.date_naive() <= ty.last_day() {
        return Err(API.error("RULE_FINAL_DECLARATION_TAX_YEAR").into());
    }
    let declared = data.is_some_and(|d| d.declarations.contains_key(&ty));
    if wanted == CalcType::IntentToFinalise && declared {
        return Err(API.error("RULE_FINAL_DECLARATION_RECEIVED").into());
    }
    if wanted == CalcType::IntentToAmend && now.date_naive() > amendment_window_end(ty) {
        return Err(API.error("RULE_OUTSIDE_AMENDMENT_WINDOW").into());
    }
    if calc.ready_at > now {
        return Err(API.error("RULE_FINAL_DECLARATION_IN_PROGRESS").into());
    }
    let last_write = data
        .and_then(|d| d.last_write.get(&ty).copied())
        .unwrap_or(0);
    if last_write > calc.marker {
        return Err(API.error("RULE_RECENT_SUBMISSIONS_EXIST").into());
    }
    if sources_version != calc.sources_version {
        return Err(API.error("RULE_INCOME_SOURCES_CHANGED").into());
    }
    let data = ctx.st.data_mut(&nino);
    if let Some(calc) = data.calculations.iter_mut().find(|c| c.id == id) {
        calc.declared = Some(now);
    }
    if wanted == CalcType::IntentToFinalise {
        data.declarations.insert(ty, Declaration { received: now });
    }
    Ok(Reply::no_content())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_parse_and_lose_their_error_messages() {
        for ty in [2021, 2024, 2025, 2026] {
            let (_, body) = schema_for(TaxYear::starting(ty));
            assert!(body.get("calculation").is_some(), "template for {ty}");
            assert!(body.pointer("/messages/errors").is_none());
        }
    }

    #[test]
    fn metadata_follows_the_calculation() {
        let now = Utc::now();
        let calc = Calculation {
            id: "f2fb30e5-4ab6-4a29-b3c1-c7264259ff1c".into(),
            tax_year: TaxYear::starting(2025),
            kind: CalcType::IntentToFinalise,
            requested: now,
            ready_at: now,
            marker: 1,
            sources_version: 0,
            declared: Some(now),
        };
        let body = calculation_body(&calc, None);
        assert_eq!(body["metadata"]["taxYear"], "2025-26");
        assert_eq!(body["metadata"]["calculationType"], "intent-to-finalise");
        assert_eq!(body["metadata"]["periodTo"], "2026-04-05");
        assert!(body["metadata"]["finalisationTimestamp"].is_string());
    }
}
