//! Business Details API v2.0: list a user's business income sources (digest §11.2).

use serde_json::{Value, json};

use crate::api_error::Api;
use crate::http::{Ctx, Outcome, Reply};

const API: Api = Api::BusinessDetails;

fn item(kind: &str, id: &str, name: Option<&str>) -> Value {
    let mut v = json!({"typeOfBusiness": kind, "businessId": id});
    if let (Some(name), Some(map)) = (name, v.as_object_mut()) {
        map.insert("tradingName".into(), json!(name));
    }
    v
}

/// `GET /individuals/business/details/{nino}/list`.
pub(crate) fn list(ctx: &mut Ctx<'_>) -> Outcome {
    let canned = match ctx.scenario()? {
        Some("PROPERTY") => Some(vec![item("uk-property", "XPIS12345678901", None)]),
        Some("FOREIGN_PROPERTY") => Some(vec![item("foreign-property", "XFIS12345678901", None)]),
        Some("BUSINESS_AND_PROPERTY") => Some(vec![
            item("self-employment", "XAIS12345678910", Some("RCDTS")),
            item("uk-property", "XPIS12345678901", None),
            item("foreign-property", "XFIS12345678901", None),
        ]),
        Some("UNSPECIFIED") => Some(vec![item("property-unspecified", "XUIS12345678901", None)]),
        _ => None,
    };
    if let Some(list) = canned {
        return Ok(Reply::ok(json!({ "listOfBusinesses": list })));
    }
    let user = ctx.user()?;
    if user.businesses.is_empty() {
        return Err(API.error("MATCHING_RESOURCE_NOT_FOUND").into());
    }
    let list: Vec<Value> = user
        .businesses
        .iter()
        .map(|b| {
            item(
                b.type_of_business.as_str(),
                &b.business_id,
                b.trading_name.as_deref(),
            )
        })
        .collect();
    Ok(Reply::ok(json!({ "listOfBusinesses": list })))
}
