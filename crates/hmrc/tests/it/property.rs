//! UK property submissions (Property Business API v6.0): the request the client puts on the
//! wire validates against HMRC's schema for the tax year.

use hmrc_mtd::{
    Building, CallContext, StructuredBuildingAllowance,
    property::{
        FhlAdjustments, FhlAllowances, FhlExpenses, FhlIncome, PropertyExpenses, PropertyIncome,
        RentARoomAnnual, RentARoomIncome, UkFhlAnnual, UkFhlPeriod, UkPropertyAdjustments,
        UkPropertyAllowances, UkPropertyAnnual, UkPropertyAnnualSubmission,
        UkPropertyCumulativeSummary, UkPropertyFigures, UkPropertyPeriodSummary,
    },
};
use serde_json::{Value, json};
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{method, path},
};

use crate::support::{
    Flow, assert_valid, client, hmrc, hmrc_empty, money, nino, only_request, property_business,
    property_cumulative_2025_26, property_period_2024_25, token, ty, web_headers,
};

const SCHEMAS: &str = "property-business-api/6.0/schemas";
const SUBMISSION_ID: &str = "4557ecb5-fd32-48cc-81f5-e6acd1099f3c";

async fn server_answering(at: &str, verb: &str, response: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method(verb))
        .and(path(at))
        .respond_with(response)
        .mount(&server)
        .await;
    server
}

fn fhl_and_non_fhl_2023_24() -> UkPropertyPeriodSummary {
    let q = ty("2023-24").quarters()[2];
    UkPropertyPeriodSummary::new(q.start, q.end)
        .fhl(UkFhlPeriod {
            income: Some(FhlIncome {
                period_amount: Some(money("900.00")),
                tax_deducted: Some(money("0")),
                rent_a_room: Some(RentARoomIncome {
                    rents_received: Some(money("50.50")),
                }),
            }),
            expenses: Some(FhlExpenses {
                premises_running_costs: Some(money("-5.00")),
                travel_costs: Some(money("12.30")),
                ..Default::default()
            }),
        })
        .non_fhl(UkPropertyFigures {
            income: Some(PropertyIncome {
                premiums_of_lease_grant: Some(money("1.00")),
                period_amount: Some(money("2000.00")),
                ..Default::default()
            }),
            expenses: Some(PropertyExpenses {
                residential_financial_cost: Some(money("10.00")),
                residential_financial_costs_carried_forward: Some(money("3.00")),
                other: Some(money("7.77")),
                ..Default::default()
            }),
        })
}

#[tokio::test]
async fn uk_property_period_up_to_2024_25_returns_hmrcs_submission_id_and_validates() {
    for (year, summary, def) in [
        ("2024-25", property_period_2024_25(), "def2"),
        ("2023-24", fhl_and_non_fhl_2023_24(), "def1"),
    ] {
        let server = server_answering(
            &format!("/individuals/business/property/uk/AA123456A/XPIS12345678903/period/{year}"),
            "POST",
            hmrc(201, json!({"submissionId": SUBMISSION_ID})),
        )
        .await;
        let token = token();
        let headers = web_headers();
        let call = CallContext::new(&token, &headers);
        let receipt = client(&server)
            .submit_uk_property_period(&call, &nino(), &property_business(), ty(year), &summary)
            .await
            .unwrap();
        assert_eq!(receipt.status, 201);
        assert_eq!(receipt.body.unwrap().submission_id, SUBMISSION_ID);
        let body: Value = only_request(&server).await.body_json().unwrap();
        assert_valid(
            &format!("{SCHEMAS}/uk_property_period_summary_create/{def}/request.json"),
            &body,
        );
    }
}

#[tokio::test]
async fn uk_property_cumulative_from_2025_26_is_put_and_validates_against_hmrcs_schema() {
    let server = server_answering(Flow::UkPropertyCumulative.path(), "PUT", hmrc_empty(204)).await;
    let token = token();
    let headers = web_headers();
    let call = CallContext::new(&token, &headers);
    client(&server)
        .submit_uk_property_cumulative(
            &call,
            &nino(),
            &property_business(),
            ty("2025-26"),
            &property_cumulative_2025_26(),
        )
        .await
        .unwrap();
    let body: Value = only_request(&server).await.body_json().unwrap();
    assert_eq!(body["fromDate"], "2025-04-06");
    assert_valid(
        &format!("{SCHEMAS}/uk_property_cumulative_summary_create_and_amend/def1/request.json"),
        &body,
    );
}

fn building() -> StructuredBuildingAllowance {
    StructuredBuildingAllowance {
        amount: money("3000.30"),
        first_year: Some(hmrc_mtd::FirstYear {
            qualifying_date: "2020-03-29".parse().unwrap(),
            qualifying_amount_expenditure: money("4000.40"),
        }),
        building: Building {
            name: Some("Green Oak's".into()),
            number: None,
            postcode: "GF49JH".into(),
        },
    }
}

#[tokio::test]
async fn uk_property_annual_validates_against_the_schema_of_each_tax_year() {
    let with_fhl = UkPropertyAnnualSubmission {
        uk_fhl_property: Some(UkFhlAnnual {
            adjustments: Some(FhlAdjustments {
                private_use_adjustment: Some(money("10.00")),
                balancing_charge: None,
                period_of_grace_adjustment: false,
                business_premises_renovation_allowance_balancing_charges: None,
                non_resident_landlord: false,
                rent_a_room: Some(RentARoomAnnual { jointly_let: true }),
            }),
            allowances: Some(FhlAllowances {
                annual_investment_allowance: Some(money("100.00")),
                electric_charge_point_allowance: Some(money("1.00")),
                ..Default::default()
            }),
        }),
        uk_property: Some(UkPropertyAnnual {
            adjustments: Some(UkPropertyAdjustments {
                balancing_charge: Some(money("5.00")),
                private_use_adjustment: None,
                business_premises_renovation_allowance_balancing_charges: None,
                non_resident_landlord: true,
                rent_a_room: None,
            }),
            allowances: Some(UkPropertyAllowances {
                zero_emissions_goods_vehicle_allowance: Some(money("2.00")),
                cost_of_replacing_domestic_items: Some(money("20.00")),
                structured_building_allowance: Some(vec![building()]),
                ..Default::default()
            }),
        }),
    };
    let without_fhl = UkPropertyAnnualSubmission {
        uk_fhl_property: None,
        uk_property: Some(UkPropertyAnnual {
            adjustments: Some(UkPropertyAdjustments {
                balancing_charge: None,
                private_use_adjustment: Some(money("1.00")),
                business_premises_renovation_allowance_balancing_charges: None,
                non_resident_landlord: false,
                rent_a_room: Some(RentARoomAnnual { jointly_let: false }),
            }),
            allowances: Some(UkPropertyAllowances {
                annual_investment_allowance: Some(money("100.00")),
                enhanced_structured_building_allowance: Some(vec![building()]),
                ..Default::default()
            }),
        }),
    };
    for (year, submission, def) in [
        ("2024-25", with_fhl, "def1"),
        ("2025-26", without_fhl, "def2"),
    ] {
        let server = server_answering(
            &format!("/individuals/business/property/uk/AA123456A/XPIS12345678903/annual/{year}"),
            "PUT",
            hmrc_empty(204),
        )
        .await;
        let token = token();
        let headers = web_headers();
        let call = CallContext::new(&token, &headers);
        client(&server)
            .submit_uk_property_annual(&call, &nino(), &property_business(), ty(year), &submission)
            .await
            .unwrap_or_else(|e| panic!("{year}: {e}"));
        let body: Value = only_request(&server).await.body_json().unwrap();
        assert_valid(
            &format!("{SCHEMAS}/uk_property_annual_submission_create_and_amend/{def}/request.json"),
            &body,
        );
    }
}

#[tokio::test]
async fn uk_property_submissions_hmrc_would_refuse_are_refused_locally() {
    let server = MockServer::start().await;
    let token = token();
    let headers = web_headers();
    let call = CallContext::new(&token, &headers);
    let client = client(&server);
    let property = property_business();

    let err = client
        .submit_uk_property_period(
            &call,
            &nino(),
            &property,
            ty("2025-26"),
            &property_period_2024_25(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("RULE_TAX_YEAR_NOT_SUPPORTED"));

    let err = client
        .submit_uk_property_cumulative(
            &call,
            &nino(),
            &property,
            ty("2024-25"),
            &property_cumulative_2025_26(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("RULE_TAX_YEAR_NOT_SUPPORTED"));

    let fhl_after_2024_25 = UkPropertyAnnualSubmission {
        uk_fhl_property: Some(UkFhlAnnual::default()),
        uk_property: None,
    };
    let err = client
        .submit_uk_property_annual(&call, &nino(), &property, ty("2025-26"), &fhl_after_2024_25)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("RULE_INCORRECT_OR_EMPTY_BODY_SUBMITTED"));
    assert_eq!(err.rejection_errors()[0].paths, ["/ukFhlProperty"]);

    let both = UkPropertyCumulativeSummary {
        uk_property: UkPropertyFigures {
            income: None,
            expenses: Some(PropertyExpenses {
                consolidated_expenses: Some(money("1.00")),
                travel_costs: Some(money("1.00")),
                ..Default::default()
            }),
        },
        ..property_cumulative_2025_26()
    };
    let err = client
        .submit_uk_property_cumulative(&call, &nino(), &property, ty("2025-26"), &both)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("RULE_BOTH_EXPENSES_SUPPLIED"));
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_retried_uk_property_period_hmrc_already_holds_is_a_duplicate_submission() {
    let server = server_answering(
        Flow::UkPropertyPeriod.path(),
        "POST",
        hmrc(400, json!({"code": "RULE_DUPLICATE_SUBMISSION", "message": "A summary has already been submitted for the period specified"})),
    )
    .await;
    let token = token();
    let headers = web_headers();
    let call = CallContext::new(&token, &headers);
    let err = client(&server)
        .submit_uk_property_period(
            &call,
            &nino(),
            &property_business(),
            ty("2024-25"),
            &property_period_2024_25(),
        )
        .await
        .unwrap_err();
    assert!(err.is_duplicate_submission(), "{err:?}");
}
