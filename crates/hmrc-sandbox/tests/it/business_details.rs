//! Business Details v2.0: the user's businesses, and the scenario variants.

use reqwest::{Method, StatusCode};

use crate::common::*;

const PATH: &str = "/individuals/business/details/AA123456A/list";
const SCHEMA: &str = "business-details-api/2.0/schemas/listAllbusinesses/response.json";

#[tokio::test]
async fn lists_the_users_businesses() {
    let env = env().await;
    let t = env.tokens().await;
    let r = env.get(PATH, "2.0", &t.access).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_schema(SCHEMA, &r.json);
    let ids: Vec<&str> = r.json["listOfBusinesses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["businessId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [SE_ID, UK_ID]);
    let added = env
        .http
        .post(env.url("/_admin/users/alice/businesses"))
        .json(&serde_json::json!({"typeOfBusiness": "foreign-property", "tradingName": "Villa"}))
        .send()
        .await
        .unwrap();
    assert_eq!(added.status(), StatusCode::CREATED);
    let r = env.get(PATH, "2.0", &t.access).await;
    assert_schema(SCHEMA, &r.json);
    assert_eq!(
        r.json["listOfBusinesses"][2]["typeOfBusiness"],
        "foreign-property"
    );
    assert_eq!(r.json["listOfBusinesses"][2]["tradingName"], "Villa");
}

#[tokio::test]
async fn scenario_variants_validate() {
    let env = env().await;
    let t = env.tokens().await;
    for (scenario, count) in [
        ("PROPERTY", 1),
        ("FOREIGN_PROPERTY", 1),
        ("BUSINESS_AND_PROPERTY", 3),
        ("UNSPECIFIED", 1),
        ("STATEFUL", 2),
    ] {
        let r = env
            .call(
                Call::new(Method::GET, PATH, "2.0")
                    .token(&t.access)
                    .scenario(scenario),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{scenario}");
        assert_schema(SCHEMA, &r.json);
        assert_eq!(
            r.json["listOfBusinesses"].as_array().unwrap().len(),
            count,
            "{scenario}"
        );
    }
}

#[tokio::test]
async fn a_user_without_businesses_gets_404() {
    let env = env().await;
    let user = env
        .sandbox
        .admin()
        .create_user(
            hmrc_sandbox::NewTestUser::default()
                .credentials("bob", "bob-pw")
                .businesses(vec![]),
        )
        .unwrap();
    let t = env.tokens_for("bob", "bob-pw").await;
    let r = env
        .get(
            &format!("/individuals/business/details/{}/list", user.nino),
            "2.0",
            &t.access,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_hmrc_error(
        "business-details-api/2.0",
        &r.json,
        "MATCHING_RESOURCE_NOT_FOUND",
    );
}
