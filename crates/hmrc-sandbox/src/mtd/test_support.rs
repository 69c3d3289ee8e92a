//! Sandbox-only test APIs: the Test Fraud Prevention Headers API, the Create Test User API and
//! the Self Assessment Test Support API's "create a test business" (digest §10.5, §11).

use http::StatusCode;
use serde_json::{Value, json};

use crate::admin;
use crate::api_error::{Api, MtdError};
use crate::body::{check_fields, check_shape};
use crate::fraud;
use crate::http::{Ctx, Errs, Outcome, Reply};
use crate::lit::Lit;
use crate::model::{BusinessType, NewBusiness, NewTestUser};
use crate::specs;

/// `GET /test/fraud-prevention-headers/validate`.
pub(crate) fn validate_fraud_headers(ctx: &mut Ctx<'_>) -> Outcome {
    let report = fraud::validate(ctx.headers);
    Ok(Reply::ok(
        serde_json::to_value(report).unwrap_or(Value::Null),
    ))
}

/// Services the Create Test User API knows.
const SERVICES: [&str; 9] = [
    "national-insurance",
    "self-assessment",
    "mtd-income-tax",
    "mtd-vat",
    "customs-services",
    "goods-vehicle-movements",
    "import-control-system",
    "common-transit-convention-traders",
    "secure-electronic-transfer",
];

/// `POST /create-test-user/individuals`.
pub(crate) fn create_individual(ctx: &mut Ctx<'_>) -> Outcome {
    let body = ctx.body().clone();
    let invalid = || {
        Errs::from(
            MtdError::new(
                "INVALID_REQUEST",
                "Invalid payload: serviceNames must be a list of known service names",
            )
            .with_status(StatusCode::BAD_REQUEST),
        )
    };
    let services: Vec<String> = match body.get("serviceNames") {
        None | Some(Lit::Null) => Vec::new(),
        Some(Lit::Array(items)) => items
            .iter()
            .map(|i| i.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(invalid)?,
        Some(_) => return Err(invalid()),
    };
    if services.iter().any(|s| !SERVICES.contains(&s.as_str())) {
        return Err(invalid());
    }
    let mtd = services.iter().any(|s| s == "mtd-income-tax");
    let new = NewTestUser {
        businesses: Some(if mtd {
            vec![NewBusiness::self_employment()]
        } else {
            Vec::new()
        }),
        ..NewTestUser::default()
    };
    let user = admin::create_user(ctx.st, new, ctx.now)
        .map_err(|e| Errs::from(MtdError::new("INVALID_REQUEST", &e.to_string())))?;
    let mut out = json!({
        "userId": user.user_id,
        "password": user.password.expose(),
        "userFullName": format!("{} {}", user.first_name, user.last_name),
        "emailAddress": format!("{}.{}@example.com", user.first_name.to_lowercase(), user.last_name.to_lowercase()),
        "individualDetails": {
            "firstName": user.first_name,
            "lastName": user.last_name,
            "dateOfBirth": "1985-07-31",
            "address": {"line1": "1 Test Street", "line2": "Testville", "postcode": "TS1 1PA"}
        },
        "saUtr": user.sa_utr,
        "nino": user.nino,
    });
    if let (true, Some(map)) = (mtd, out.as_object_mut()) {
        map.insert("mtdItId".into(), json!(user.mtd_it_id));
    }
    Ok(Reply::json(StatusCode::CREATED, out))
}

/// `POST /individuals/self-assessment-test-support/business/{nino}`.
pub(crate) fn create_business(ctx: &mut Ctx<'_>) -> Outcome {
    let api = Api::Platform;
    let body = ctx.body().clone();
    check_shape(api, specs::TEST_BUSINESS, &body, None, false)?;
    let errors = check_fields(api, specs::TEST_BUSINESS, &body, None);
    if !errors.is_empty() {
        return Err(Errs(errors));
    }
    let kind = body
        .get("typeOfBusiness")
        .and_then(Lit::as_str)
        .and_then(BusinessType::parse);
    let new = NewBusiness {
        business_id: None,
        type_of_business: kind,
        trading_name: body
            .get("tradingName")
            .and_then(Lit::as_str)
            .map(str::to_owned),
        commencement_date: body
            .get("commencementDate")
            .and_then(Lit::as_str)
            .and_then(crate::ids::parse_date),
    };
    let user_id = ctx.user()?.user_id.clone();
    let business = admin::add_business(ctx.st, &user_id, new)
        .map_err(|e| Errs::from(MtdError::new("INVALID_REQUEST", &e.to_string())))?;
    Ok(Reply::json(
        StatusCode::CREATED,
        json!({ "businessId": business.business_id }),
    ))
}
