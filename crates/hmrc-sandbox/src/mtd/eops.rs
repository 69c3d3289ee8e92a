//! Individuals Business End of Period Statement API v3.0 (digest §6.1): only the tax years that
//! had EOPS (up to 2023-24); one statement per business accounting period.

use crate::api_error::{Api, MtdError};
use crate::body::check_shape;
use crate::http::{Ctx, Errs, Outcome, Reply};
use crate::ids::{TaxYear, is_valid_business_id, parse_date, ymd};
use crate::lit::Lit;
use crate::model::BusinessType;
use crate::mtd::{business_of, none_or};
use crate::specs;
use crate::state::Eops;

const API: Api = Api::Eops;

/// The last tax year that had End of Period Statements.
const LAST_EOPS_YEAR: i32 = 2023;

/// A business-validation failure as the EOPS API reports it (with an `errorId`).
fn bvr(error_id: &str, message: &str) -> MtdError {
    API.error("RULE_BUSINESS_VALIDATION_FAILURE")
        .with_message(message)
        .with_error_id(error_id)
}

/// The answers of the `BVR_*` scenarios (error IDs and texts are the sandbox's own).
fn bvr_scenario(name: &str) -> Vec<MtdError> {
    match name {
        "BVR_MISMATCHED_START_DATE" => vec![bvr(
            "C55008",
            "The period submission start date does not match the accounting period start date",
        )],
        "BVR_CLASS4_OVER_16" => vec![bvr(
            "C55501",
            "Class 4 exemption is not allowed because the individual's age is greater than or equal to 16 years old on the 6th April of the current tax year",
        )],
        "BVR_CLASS4_PENSION_AGE" => vec![bvr(
            "C55502",
            "Class 4 exemption is not allowed because the individual's age is less than their State Pension age on the 6th April of the current tax year",
        )],
        "BVR_CONSOLIDATED_EXPENSES" => vec![bvr(
            "C55503",
            "Consolidated expenses are not allowed if the cumulative turnover amount exceeds the threshold",
        )],
        "BVR_END_DATE_SHORT" | "BVR_END_DATE_EXCEEDS" => vec![bvr(
            "C55009",
            "The period submission end date does not match the accounting period end date",
        )],
        "BVR_FHL_PRIVATE_USE_ADJUSTMENT" => vec![bvr(
            "C55519",
            "UK Furnished Holiday Lettings - the private use adjustment exceeds the total allowable expenses",
        )],
        "BVR_NON_FHL_PRIVATE_USE_ADJUSTMENT" => vec![bvr(
            "C55520",
            "UK non-Furnished Holiday Lettings - the private use adjustment exceeds the total allowable expenses",
        )],
        "BVR_UK_PROPERTY_MULTIPLE_ERRORS" => vec![
            bvr(
                "C55519",
                "UK Furnished Holiday Lettings - the private use adjustment exceeds the total allowable expenses",
            ),
            bvr(
                "C55520",
                "UK non-Furnished Holiday Lettings - the private use adjustment exceeds the total allowable expenses",
            ),
        ],
        _ => vec![bvr(
            "C55317",
            API.message("RULE_BUSINESS_VALIDATION_FAILURE"),
        )],
    }
}

/// `POST /individuals/business/end-of-period-statement/{nino}`.
pub(crate) fn submit(ctx: &mut Ctx<'_>) -> Outcome {
    let body = ctx.body().clone();
    if let Some(Lit::String(t)) = body.get("typeOfBusiness") {
        let known = matches!(
            BusinessType::parse(t),
            Some(
                BusinessType::SelfEmployment
                    | BusinessType::UkProperty
                    | BusinessType::ForeignProperty
            )
        );
        if !known {
            return Err(API.error("FORMAT_TYPE_OF_BUSINESS").into());
        }
    }
    check_shape(API, specs::EOPS, &body, None, false)?;
    let business_id = body.get("businessId").and_then(Lit::as_str).unwrap_or("");
    let start_text = body
        .at(&["accountingPeriod", "startDate"])
        .and_then(Lit::as_str)
        .unwrap_or("");
    let end_text = body
        .at(&["accountingPeriod", "endDate"])
        .and_then(Lit::as_str)
        .unwrap_or("");
    let start = parse_date(start_text).filter(|d| *d >= ymd(1900, 1, 1));
    let end = parse_date(end_text).filter(|d| *d <= ymd(2100, 12, 31));
    let mut errors = Vec::new();
    if !is_valid_business_id(business_id) {
        errors.push(API.error("FORMAT_BUSINESS_ID"));
    }
    if start.is_none() {
        errors.push(API.error("FORMAT_START_DATE"));
    }
    if end.is_none() {
        errors.push(API.error("FORMAT_END_DATE"));
    }
    if let (Some(s), Some(e)) = (start, end)
        && e <= s
    {
        errors.push(API.error("RULE_END_DATE_BEFORE_START_DATE"));
    }
    if body.get("finalised") == Some(&Lit::Bool(false)) {
        errors.push(API.error("FORMAT_FINALISED"));
    }
    none_or(errors)?;
    let (Some(start), Some(end)) = (start, end) else {
        return Err(API.error("FORMAT_START_DATE").into());
    };
    if let Some(name) = ctx.scenario()? {
        return Err(Errs(bvr_scenario(name)));
    }

    let kind = body
        .get("typeOfBusiness")
        .and_then(Lit::as_str)
        .and_then(BusinessType::parse)
        .unwrap_or(BusinessType::SelfEmployment);
    let ty = TaxYear::containing(end);
    if ty.start_year() > LAST_EOPS_YEAR {
        return Err(API.error("RULE_TAX_YEAR_NOT_SUPPORTED").into());
    }
    let user = ctx.user()?;
    let business = business_of(API, user, business_id, kind, "MATCHING_RESOURCE_NOT_FOUND")?;
    let expected_start = ty
        .first_day()
        .max(business.commencement_date.unwrap_or(ty.first_day()));
    if start != expected_start || end != ty.last_day() {
        return Err(API.error("RULE_NON_MATCHING_PERIOD").into());
    }
    let today = ctx.now.date_naive();
    if today <= end {
        return Err(API.error("RULE_EARLY_SUBMISSION").into());
    }
    if today > ymd(ty.start_year() + 2, 1, 31) {
        return Err(API.error("RULE_LATE_SUBMISSION").into());
    }
    let nino = user.nino.clone();
    let business_id = business_id.to_owned();
    let already = ctx.st.data(&nino).is_some_and(|d| {
        d.eops
            .iter()
            .any(|e| e.business_id == business_id && e.start == start && e.end == end)
    });
    if already {
        return Err(API.error("RULE_ALREADY_SUBMITTED").into());
    }
    ctx.st.data_mut(&nino).eops.push(Eops {
        business_id,
        start,
        end,
    });
    ctx.st.note_write(&nino, ty);
    Ok(Reply::no_content())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api_error::error_body;
    use serde_json::json;

    #[test]
    fn several_bvr_failures_are_wrapped() {
        let (status, body) = error_body(bvr_scenario("BVR_UK_PROPERTY_MULTIPLE_ERRORS"));
        assert_eq!(status, http::StatusCode::BAD_REQUEST);
        assert_eq!(body["code"], "INVALID_REQUEST");
        assert_eq!(body["errors"][0]["errorId"], "C55519");
        let (_, single) = error_body(bvr_scenario("BUSINESS_VALIDATION_FAILURE"));
        assert_eq!(single["code"], json!("RULE_BUSINESS_VALIDATION_FAILURE"));
        assert!(single.get("errorId").is_some());
    }
}
