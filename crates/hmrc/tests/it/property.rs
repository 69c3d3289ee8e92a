//! UK property submissions (Property Business API v6.0) against the simulator: what it
//! accepts, what it refuses and why, and that the body the client put on the wire validates
//! against HMRC's schema for the tax year.

use hmrc_mtd::{
    Building, Error, StructuredBuildingAllowance,
    property::{
        FhlAdjustments, FhlAllowances, FhlExpenses, FhlIncome, PropertyExpenses, PropertyIncome,
        RentARoomAnnual, RentARoomIncome, UkFhlAnnual, UkFhlPeriod, UkPropertyAdjustments,
        UkPropertyAllowances, UkPropertyAnnual, UkPropertyAnnualSubmission,
        UkPropertyCumulativeSummary, UkPropertyFigures, UkPropertyPeriodSummary,
    },
};
use serde_json::Value;

use crate::{
    sim::Sim,
    support::{
        Flow, assert_valid, money, property_cumulative_2025_26, property_period_2024_25, ty,
    },
};

const SCHEMAS: &str = "property-business-api/6.0/schemas";

fn last_body(sim: &Sim, flow: Flow) -> Value {
    sim.last_request_to(flow)
        .body
        .unwrap_or_else(|| panic!("{flow:?}: no body"))
}

fn fhl_and_non_fhl_2023_24() -> UkPropertyPeriodSummary {
    let q = ty("2023-24").quarters()[0];
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
    let sim = Sim::start().await;
    for (year, summary, def) in [
        ("2024-25", property_period_2024_25(), "def2"),
        ("2023-24", fhl_and_non_fhl_2023_24(), "def1"),
    ] {
        let receipt = sim
            .api
            .submit_uk_property_period(
                &sim.call(),
                &sim.ids.nino,
                &sim.ids.property_business,
                ty(year),
                &summary,
            )
            .await
            .unwrap_or_else(|e| panic!("{year}: {e}"));
        assert_eq!(receipt.status, 201);
        let id = receipt.body.unwrap().submission_id;
        assert!(uuid::Uuid::parse_str(&id).is_ok(), "{id}");
        let call = sim.last_request_to(Flow::UkPropertyPeriod);
        assert_eq!(call.response.as_ref().unwrap()["submissionId"], id.as_str());
        assert_valid(
            &format!("{SCHEMAS}/uk_property_period_summary_create/{def}/request.json"),
            &call.body.unwrap(),
        );
    }
}

#[tokio::test]
async fn a_period_for_a_self_employment_business_id_is_refused_as_the_wrong_type_of_business() {
    let sim = Sim::start().await;
    let err = sim
        .api
        .submit_uk_property_period(
            &sim.call(),
            &sim.ids.nino,
            &sim.ids.se_business,
            ty("2024-25"),
            &property_period_2024_25(),
        )
        .await
        .unwrap_err();
    assert!(err.is_rejected(), "{err:?}");
    assert_eq!(err.code(), Some("RULE_TYPE_OF_BUSINESS_INCORRECT"));
}

#[tokio::test]
async fn uk_property_cumulative_from_2025_26_is_put_and_validates_against_hmrcs_schema() {
    let sim = Sim::start().await;
    let done = sim
        .api
        .submit_uk_property_cumulative(
            &sim.call(),
            &sim.ids.nino,
            &sim.ids.property_business,
            ty("2025-26"),
            &property_cumulative_2025_26(),
        )
        .await
        .unwrap();
    assert_eq!(done.status, 204);
    let body = last_body(&sim, Flow::UkPropertyCumulative);
    assert_eq!(body["fromDate"], "2025-04-06");
    assert_eq!(body["toDate"], "2025-07-05");
    assert_valid(
        &format!("{SCHEMAS}/uk_property_cumulative_summary_create_and_amend/def1/request.json"),
        &body,
    );
}

#[tokio::test]
async fn a_cumulative_summary_may_not_move_its_end_date_backwards() {
    let sim = Sim::start().await;
    let to_october = UkPropertyCumulativeSummary {
        to_date: Some(ty("2025-26").quarters()[1].end),
        ..property_cumulative_2025_26()
    };
    sim.api
        .submit_uk_property_cumulative(
            &sim.call(),
            &sim.ids.nino,
            &sim.ids.property_business,
            ty("2025-26"),
            &to_october,
        )
        .await
        .unwrap();
    let err = sim.run(Flow::UkPropertyCumulative).await.unwrap_err(); // to 5 July
    assert!(err.is_rejected(), "{err:?}");
    assert_eq!(
        err.code(),
        Some("RULE_SUBMISSION_END_DATE_CANNOT_MOVE_BACKWARDS")
    );
}

fn building(name: Option<&str>, postcode: &str) -> StructuredBuildingAllowance {
    StructuredBuildingAllowance {
        amount: money("3000.30"),
        first_year: Some(hmrc_mtd::FirstYear {
            qualifying_date: "2020-03-29".parse().unwrap(),
            qualifying_amount_expenditure: money("4000.40"),
        }),
        building: Building {
            name: name.map(str::to_owned),
            number: None,
            postcode: postcode.into(),
        },
    }
}

#[tokio::test]
async fn uk_property_annual_validates_against_the_schema_of_each_tax_year() {
    let sim = Sim::start().await;
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
                structured_building_allowance: Some(vec![building(Some("Green Oak's"), "GF49JH")]),
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
                enhanced_structured_building_allowance: Some(vec![building(
                    Some("Green Oak's"),
                    "GF49JH",
                )]),
                ..Default::default()
            }),
        }),
    };
    for (year, submission, def) in [
        ("2024-25", with_fhl, "def1"),
        ("2025-26", without_fhl, "def2"),
    ] {
        let done = sim
            .api
            .submit_uk_property_annual(
                &sim.call(),
                &sim.ids.nino,
                &sim.ids.property_business,
                ty(year),
                &submission,
            )
            .await
            .unwrap_or_else(|e| panic!("{year}: {e}"));
        assert_eq!(done.status, 204);
        assert_valid(
            &format!("{SCHEMAS}/uk_property_annual_submission_create_and_amend/{def}/request.json"),
            &last_body(&sim, Flow::UkPropertyAnnual),
        );
    }
}

#[tokio::test]
async fn uk_property_annual_refusals_come_back_with_every_error_code_and_path() {
    let sim = Sim::start().await;
    let refused = UkPropertyAnnualSubmission {
        uk_fhl_property: None,
        uk_property: Some(UkPropertyAnnual {
            adjustments: None,
            allowances: Some(UkPropertyAllowances {
                structured_building_allowance: Some(vec![building(None, "GF49JH")]),
                enhanced_structured_building_allowance: Some(vec![building(
                    Some("Green Oak's"),
                    "GF4#9JH",
                )]),
                ..Default::default()
            }),
        }),
    };
    let err = sim
        .api
        .submit_uk_property_annual(
            &sim.call(),
            &sim.ids.nino,
            &sim.ids.property_business,
            ty("2025-26"),
            &refused,
        )
        .await
        .unwrap_err();
    let Error::Rejected {
        status: Some(400),
        errors,
        ..
    } = &err
    else {
        panic!("{err:?}")
    };
    let got: Vec<_> = errors
        .iter()
        .map(|e| (e.code.as_str(), e.paths.clone()))
        .collect();
    assert_eq!(
        got,
        [
            (
                "FORMAT_STRING",
                vec![
                    "/ukProperty/allowances/enhancedStructuredBuildingAllowance/0/building/postcode"
                        .to_owned()
                ]
            ),
            (
                "RULE_BUILDING_NAME_NUMBER",
                vec!["/ukProperty/allowances/structuredBuildingAllowance/0/building".to_owned()]
            ),
        ]
    );
    assert!(errors.iter().all(|e| !e.message.is_empty()));
    assert!(sim.admin().submissions().is_empty());
}

#[tokio::test]
async fn uk_property_submissions_hmrc_would_refuse_are_refused_locally() {
    let sim = Sim::start().await;
    let (call, nino, property) = (sim.call(), &sim.ids.nino, &sim.ids.property_business);

    let err = sim
        .api
        .submit_uk_property_period(
            &call,
            nino,
            property,
            ty("2025-26"),
            &property_period_2024_25(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("RULE_TAX_YEAR_NOT_SUPPORTED"));

    let err = sim
        .api
        .submit_uk_property_cumulative(
            &call,
            nino,
            property,
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
    let err = sim
        .api
        .submit_uk_property_annual(&call, nino, property, ty("2025-26"), &fhl_after_2024_25)
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
    let err = sim
        .api
        .submit_uk_property_cumulative(&call, nino, property, ty("2025-26"), &both)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("RULE_BOTH_EXPENSES_SUPPLIED"));
    assert!(sim.admin().requests().is_empty(), "nothing reached HMRC");
}

#[tokio::test]
async fn a_retried_uk_property_period_hmrc_already_holds_is_a_duplicate_submission() {
    let sim = Sim::start().await;
    sim.run(Flow::UkPropertyPeriod).await.unwrap();
    let err = sim.run(Flow::UkPropertyPeriod).await.unwrap_err();
    assert!(err.is_duplicate_submission(), "{err:?}");
    assert_eq!(err.code(), Some("RULE_DUPLICATE_SUBMISSION"));
    assert_eq!(sim.admin().submissions().len(), 1, "HMRC holds it once");
}
