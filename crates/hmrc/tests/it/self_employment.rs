//! Self-employment submissions (Self Employment Business API v5.0) against the simulator: what
//! it accepts, what it refuses and why, and that the body the client put on the wire validates
//! against HMRC's schema for the tax year.

use hmrc_mtd::{
    Building, Error, PeriodDates, StructuredBuildingAllowance, Warning,
    self_employment::{
        SelfEmploymentAdjustments, SelfEmploymentAllowances, SelfEmploymentAnnualSubmission,
        SelfEmploymentCumulativeSummary, SelfEmploymentDisallowableExpenses,
        SelfEmploymentExpenses, SelfEmploymentIncome, SelfEmploymentNonFinancials,
        SelfEmploymentPeriodSummary,
    },
};
use serde_json::{Value, json};
use wiremock::{
    Mock, MockServer,
    matchers::{method, path},
};

use crate::{
    sim::Sim,
    support::{
        Flow, assert_valid, client, hmrc, money, nino, se_business, se_cumulative_2025_26,
        se_period_2024_25, token, ty, web_headers,
    },
};

const SCHEMAS: &str = "self-employment-business-api/5.0/schemas";

/// The JSON body the simulator received on the flow's endpoint last.
fn last_body(sim: &Sim, flow: Flow) -> Value {
    sim.last_request_to(flow)
        .body
        .unwrap_or_else(|| panic!("{flow:?}: no body"))
}

#[tokio::test]
async fn period_summary_up_to_2024_25_is_posted_and_returns_hmrcs_period_id() {
    let sim = Sim::start().await;
    let receipt = sim
        .api
        .submit_self_employment_period(
            &sim.call(),
            &sim.ids.nino,
            &sim.ids.se_business,
            &se_period_2024_25(),
        )
        .await
        .unwrap();
    assert_eq!(receipt.status, 200);
    assert_eq!(receipt.body.unwrap().period_id, "2024-04-06_2024-07-05");
    assert_valid(
        &format!("{SCHEMAS}/createPeriodSummary/def2/request.json"),
        &last_body(&sim, Flow::SelfEmploymentPeriod),
    );
    assert_eq!(sim.admin().submissions().len(), 1);
}

/// The simulator records each body exactly as it arrived, so the literal digits HMRC receives
/// are checked there.
#[tokio::test]
async fn money_reaches_hmrc_with_exactly_its_digits_never_through_a_float() {
    let sim = Sim::start().await;
    sim.api
        .submit_self_employment_period(
            &sim.call(),
            &sim.ids.nino,
            &sim.ids.se_business,
            &se_period_2024_25(),
        )
        .await
        .unwrap();
    let sent = sim.requests_to(Flow::SelfEmploymentPeriod);
    assert_eq!(sent.len(), 1);
    let raw = sent[0]
        .body_text
        .as_deref()
        .expect("the simulator keeps the body text");
    assert!(raw.contains(r#""turnover":2500.50"#), "{raw}");
    assert!(raw.contains(r#""consolidatedExpenses":-310.55"#), "{raw}");
}

fn period_2022_23(quarter: usize) -> SelfEmploymentPeriodSummary {
    let q = ty("2022-23").quarters()[quarter];
    SelfEmploymentPeriodSummary::new(PeriodDates::new(q.start, q.end))
        .income(SelfEmploymentIncome {
            turnover: Some(money("1000.00")),
            other: Some(money("0.01")),
            tax_taken_off_trading_income: None,
        })
        .expenses(SelfEmploymentExpenses {
            cost_of_goods: Some(money("10.00")),
            admin_costs: Some(money("99.99")),
            ..Default::default()
        })
        .disallowable_expenses(SelfEmploymentDisallowableExpenses {
            admin_costs_disallowable: Some(money("5.00")),
            ..Default::default()
        })
}

#[tokio::test]
async fn period_summaries_follow_each_other_and_2022_23_validates_against_the_older_schema() {
    let sim = Sim::start().await;
    let submit = |summary: SelfEmploymentPeriodSummary| {
        let sim = &sim;
        async move {
            sim.api
                .submit_self_employment_period(
                    &sim.call(),
                    &sim.ids.nino,
                    &sim.ids.se_business,
                    &summary,
                )
                .await
        }
    };
    // The second quarter before the first: HMRC wants periods without gaps.
    let err = submit(period_2022_23(1)).await.unwrap_err();
    assert!(err.is_rejected(), "{err:?}");
    assert_eq!(err.code(), Some("RULE_NOT_CONTIGUOUS_PERIOD"));
    assert_eq!(err.status(), Some(400));
    assert_eq!(
        err.rejection_errors()[0].message,
        sim.last_request_to(Flow::SelfEmploymentPeriod)
            .response
            .unwrap()["message"]
    );

    submit(period_2022_23(0)).await.unwrap();
    let second = submit(period_2022_23(1)).await.unwrap();
    assert_eq!(second.body.unwrap().period_id, "2022-07-06_2022-10-05");
    assert_valid(
        &format!("{SCHEMAS}/createPeriodSummary/def1/request.json"),
        &last_body(&sim, Flow::SelfEmploymentPeriod),
    );
}

#[tokio::test]
async fn period_summaries_hmrc_would_refuse_are_refused_locally_without_calling_hmrc() {
    let sim = Sim::start().await;
    let cumulative_year = {
        let q = ty("2025-26").quarters()[0];
        SelfEmploymentPeriodSummary::new(PeriodDates::new(q.start, q.end))
    };
    let both_expenses = se_period_2024_25().expenses(SelfEmploymentExpenses {
        consolidated_expenses: Some(money("1.00")),
        cost_of_goods: Some(money("2.00")),
        ..Default::default()
    });
    let negative_in_2021 = {
        let q = ty("2021-22").quarters()[0];
        SelfEmploymentPeriodSummary::new(PeriodDates::new(q.start, q.end)).expenses(
            SelfEmploymentExpenses {
                admin_costs: Some(money("-1.00")),
                ..Default::default()
            },
        )
    };
    for (summary, code, path) in [
        (
            cumulative_year,
            "RULE_TAX_YEAR_NOT_SUPPORTED",
            "/periodDates/periodEndDate",
        ),
        (
            both_expenses,
            "RULE_BOTH_EXPENSES_SUPPLIED",
            "/periodExpenses",
        ),
        (
            negative_in_2021,
            "FORMAT_VALUE",
            "/periodExpenses/adminCosts",
        ),
    ] {
        let err = sim
            .api
            .submit_self_employment_period(
                &sim.call(),
                &sim.ids.nino,
                &sim.ids.se_business,
                &summary,
            )
            .await
            .unwrap_err();
        let Error::Rejected {
            status: None,
            errors,
            ..
        } = &err
        else {
            panic!("{err:?}")
        };
        assert_eq!(errors[0].code, code);
        assert_eq!(errors[0].paths, [path]);
    }
    assert!(sim.admin().requests().is_empty(), "nothing reached HMRC");
}

#[tokio::test]
async fn a_retried_period_summary_hmrc_already_holds_is_a_duplicate_submission() {
    let sim = Sim::start().await;
    sim.run(Flow::SelfEmploymentPeriod).await.unwrap();
    // The retry of a call whose answer was lost.
    let err = sim.run(Flow::SelfEmploymentPeriod).await.unwrap_err();
    assert!(err.is_duplicate_submission(), "{err:?}");
    assert_eq!(err.code(), Some("RULE_DUPLICATE_SUBMISSION"));
    assert!(!err.is_retriable());
    assert!(!err.is_rejected());
    assert_eq!(sim.admin().submissions().len(), 1, "HMRC holds it once");
}

/// The simulator always answers the documented body; a success with another body is stubbed.
#[tokio::test]
async fn hmrc_accepting_a_period_with_an_unreadable_body_is_success_with_a_warning() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(Flow::SelfEmploymentPeriod.path()))
        .respond_with(hmrc(200, json!("not the documented body")))
        .mount(&server)
        .await;
    let token = token();
    let headers = web_headers();
    let call = hmrc_mtd::CallContext::new(&token, &headers);
    let receipt = client(&server)
        .submit_self_employment_period(&call, &nino(), &se_business(), &se_period_2024_25())
        .await
        .unwrap();
    assert_eq!(receipt.body, None);
    assert!(matches!(
        receipt.warnings.as_slice(),
        [Warning::UnreadableBody { .. }]
    ));
}

#[tokio::test]
async fn cumulative_summary_from_2025_26_is_put_and_validates_against_hmrcs_schema() {
    let sim = Sim::start().await;
    let done = sim
        .api
        .submit_self_employment_cumulative(
            &sim.call(),
            &sim.ids.nino,
            &sim.ids.se_business,
            ty("2025-26"),
            &se_cumulative_2025_26(),
        )
        .await
        .unwrap();
    assert_eq!(done.status, 204);
    let body = last_body(&sim, Flow::SelfEmploymentCumulative);
    assert_eq!(body["periodDates"]["periodStartDate"], "2025-04-06");
    assert_eq!(body["periodDates"]["periodEndDate"], "2025-10-05");
    assert_valid(
        &format!("{SCHEMAS}/createAmendCumulativePeriodSummary/request.json"),
        &body,
    );
    // A cumulative summary replaces the year's figures: sending it again is an update.
    sim.run(Flow::SelfEmploymentCumulative).await.unwrap();
}

#[tokio::test]
async fn a_cumulative_summary_sent_before_its_quarter_ends_is_rejected_with_hmrcs_rule() {
    let sim = Sim::start().await;
    // 5 October 2025 ends the summary; HMRC takes it from 10 days before.
    sim.set_day("2025-09-01T09:00:00Z".parse().unwrap());
    let err = sim.run(Flow::SelfEmploymentCumulative).await.unwrap_err();
    assert!(err.is_rejected(), "{err:?}");
    assert_eq!(err.code(), Some("RULE_EARLY_DATA_SUBMISSION_NOT_ACCEPTED"));
    assert!(!err.is_retriable());
}

#[tokio::test]
async fn cumulative_summaries_hmrc_would_refuse_are_refused_locally_without_calling_hmrc() {
    let sim = Sim::start().await;
    let only_income =
        SelfEmploymentCumulativeSummary::new().income(SelfEmploymentIncome::default());
    for (year, summary, code) in [
        (
            "2024-25",
            se_cumulative_2025_26(),
            "RULE_TAX_YEAR_NOT_SUPPORTED",
        ),
        (
            "2025-26",
            only_income,
            "RULE_INCORRECT_OR_EMPTY_BODY_SUBMITTED",
        ),
    ] {
        let err = sim
            .api
            .submit_self_employment_cumulative(
                &sim.call(),
                &sim.ids.nino,
                &sim.ids.se_business,
                ty(year),
                &summary,
            )
            .await
            .unwrap_err();
        assert!(err.is_rejected(), "{err:?}");
        assert_eq!(err.code(), Some(code));
        assert_eq!(err.status(), None);
    }
    assert!(sim.admin().requests().is_empty(), "nothing reached HMRC");
}

fn annual_for(year: &str) -> SelfEmploymentAnnualSubmission {
    let start: i32 = year[..4].parse().unwrap();
    let mut adjustments = SelfEmploymentAdjustments {
        included_non_taxable_profits: Some(money("10.00")),
        basis_adjustment: Some(money("-250.50")),
        averaging_adjustment: Some(money("-1.00")),
        ..Default::default()
    };
    let mut allowances = SelfEmploymentAllowances {
        annual_investment_allowance: Some(money("800.00")),
        capital_allowance_main_pool: Some(money("120.12")),
        ..Default::default()
    };
    if start <= 2023 {
        adjustments.overlap_relief_used = Some(money("100.00"));
    }
    if start <= 2024 {
        allowances.electric_charge_point_allowance = Some(money("300.00"));
        allowances.zero_emissions_goods_vehicle_allowance = Some(money("1.00"));
    }
    if start >= 2024 {
        adjustments.transition_profit_amount = Some(money("1000.00"));
    }
    if start >= 2026 {
        adjustments.adjustment_to_profits_for_class4 = Some(money("12.00"));
        allowances.first_year_allowance_on_plant_and_machinery = Some(money("5.00"));
    }
    SelfEmploymentAnnualSubmission {
        adjustments: Some(adjustments),
        allowances: Some(allowances),
        non_financials: Some(SelfEmploymentNonFinancials {
            business_details_changed_recently: false,
            class4_nics_exemption_reason: Some(
                hmrc_mtd::self_employment::Class4NicsExemptionReason::OverStatePensionAge,
            ),
        }),
    }
}

#[tokio::test]
async fn annual_submission_validates_against_the_schema_of_each_tax_year() {
    let sim = Sim::start().await;
    for (year, def) in [
        ("2022-23", "def1"),
        ("2024-25", "def2"),
        ("2025-26", "def3"),
        ("2026-27", "def4"),
    ] {
        let done = sim
            .api
            .submit_self_employment_annual(
                &sim.call(),
                &sim.ids.nino,
                &sim.ids.se_business,
                ty(year),
                &annual_for(year),
            )
            .await
            .unwrap_or_else(|e| panic!("{year}: {e}"));
        assert_eq!(done.status, 204);
        let call = sim.last_request_to(Flow::SelfEmploymentAnnual);
        assert!(
            call.uri.ends_with(&format!("/annual/{year}")),
            "{}",
            call.uri
        );
        assert_valid(
            &format!("{SCHEMAS}/createAmendAnnualSubmission/{def}/request.json"),
            &call.body.unwrap(),
        );
    }
}

fn building(name: Option<&str>, postcode: &str) -> StructuredBuildingAllowance {
    StructuredBuildingAllowance {
        amount: money("3000.30"),
        first_year: None,
        building: Building {
            name: name.map(str::to_owned),
            number: None,
            postcode: postcode.into(),
        },
    }
}

#[tokio::test]
async fn annual_submission_refusals_come_back_with_every_error_code_and_path() {
    let sim = Sim::start().await;
    let refused = SelfEmploymentAnnualSubmission {
        adjustments: Some(SelfEmploymentAdjustments {
            // Overlap relief ends with 2023-24.
            overlap_relief_used: Some(money("100.00")),
            // An acceleration amount needs the transition profit it accelerates.
            transition_profit_acceleration_amount: Some(money("50.00")),
            ..Default::default()
        }),
        allowances: Some(SelfEmploymentAllowances {
            structured_building_allowance: Some(vec![
                // A building needs a name or a number.
                building(None, "GF49JH"),
                // HMRC's character set for postcodes has no '#'.
                building(Some("Green Oak's"), "GF4#9JH"),
            ]),
            ..Default::default()
        }),
        non_financials: None,
    };
    let err = sim
        .api
        .submit_self_employment_annual(
            &sim.call(),
            &sim.ids.nino,
            &sim.ids.se_business,
            ty("2024-25"),
            &refused,
        )
        .await
        .unwrap_err();
    let Error::Rejected {
        status: Some(400),
        errors,
        correlation_id,
    } = &err
    else {
        panic!("{err:?}")
    };
    let call = sim.last_request_to(Flow::SelfEmploymentAnnual);
    assert_eq!(
        correlation_id.as_deref(),
        Some(call.correlation_id.as_str())
    );
    let got: Vec<_> = errors
        .iter()
        .map(|e| (e.code.as_str(), e.paths.clone()))
        .collect();
    assert_eq!(
        got,
        [
            (
                "FORMAT_STRING",
                vec!["/allowances/structuredBuildingAllowance/1/building/postcode".to_owned()]
            ),
            (
                "RULE_BUILDING_NAME_NUMBER",
                vec!["/allowances/structuredBuildingAllowance/0/building".to_owned()]
            ),
            (
                "RULE_OVERLAP_RELIEF_USED_NOT_ALLOWED",
                vec!["/adjustments/overlapReliefUsed".to_owned()]
            ),
            ("RULE_WRONG_TPA_AMOUNT_SUBMITTED", vec![]),
        ]
    );
    // Every message is HMRC's, as the simulator sent it.
    let sent = call.response.unwrap();
    for (error, sent) in errors.iter().zip(sent["errors"].as_array().unwrap()) {
        assert_eq!(error.message, sent["message"]);
    }
    assert!(!err.is_retriable());
    assert!(sim.admin().submissions().is_empty());
}

#[tokio::test]
async fn annual_submissions_hmrc_would_refuse_are_refused_locally() {
    let sim = Sim::start().await;
    let too_much = SelfEmploymentAnnualSubmission {
        allowances: Some(SelfEmploymentAllowances {
            trading_income_allowance: Some(money("1000.01")),
            annual_investment_allowance: Some(money("1.00")),
            ..Default::default()
        }),
        ..Default::default()
    };
    let err = sim
        .api
        .submit_self_employment_annual(
            &sim.call(),
            &sim.ids.nino,
            &sim.ids.se_business,
            ty("2024-25"),
            &too_much,
        )
        .await
        .unwrap_err();
    let codes: Vec<_> = err
        .rejection_errors()
        .iter()
        .map(|e| e.code.as_str())
        .collect();
    assert_eq!(codes, ["FORMAT_VALUE", "RULE_BOTH_ALLOWANCES_SUPPLIED"]);
    let err = sim
        .api
        .submit_self_employment_annual(
            &sim.call(),
            &sim.ids.nino,
            &sim.ids.se_business,
            ty("2024-25"),
            &SelfEmploymentAnnualSubmission::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("RULE_INCORRECT_OR_EMPTY_BODY_SUBMITTED"));
    assert!(sim.admin().requests().is_empty(), "nothing reached HMRC");
}
