//! Self-employment submissions (Self Employment Business API v5.0): the request the client puts
//! on the wire validates against HMRC's schema for the tax year.

use hmrc_mtd::{
    CallContext, Error, PeriodDates, Warning,
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

use crate::support::{
    Flow, assert_valid, client, hmrc, hmrc_empty, money, nino, only_request, se_business,
    se_cumulative_2025_26, se_period_2024_25, token, ty, web_headers,
};

const SCHEMAS: &str = "self-employment-business-api/5.0/schemas";

async fn server_answering(
    flow_path: &str,
    verb: &str,
    response: wiremock::ResponseTemplate,
) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method(verb))
        .and(path(flow_path))
        .respond_with(response)
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn period_summary_up_to_2024_25_is_posted_and_returns_hmrcs_period_id() {
    let server = server_answering(
        Flow::SelfEmploymentPeriod.path(),
        "POST",
        hmrc(200, json!({"periodId": "2024-04-06_2024-07-05"})),
    )
    .await;
    let token = token();
    let headers = web_headers();
    let call = CallContext::new(&token, &headers);
    let receipt = client(&server)
        .submit_self_employment_period(&call, &nino(), &se_business(), &se_period_2024_25())
        .await
        .unwrap();
    assert_eq!(receipt.body.unwrap().period_id, "2024-04-06_2024-07-05");
    let request = only_request(&server).await;
    let body: Value = request.body_json().unwrap();
    assert_valid(
        &format!("{SCHEMAS}/createPeriodSummary/def2/request.json"),
        &body,
    );
    // Money reaches HMRC with exactly its digits, never through a float.
    let raw = String::from_utf8(request.body).unwrap();
    assert!(raw.contains(r#""turnover":2500.50"#), "{raw}");
    assert!(raw.contains(r#""consolidatedExpenses":-310.55"#), "{raw}");
}

#[tokio::test]
async fn period_summary_for_2022_23_validates_against_the_older_schema() {
    let server = server_answering(
        Flow::SelfEmploymentPeriod.path(),
        "POST",
        hmrc(200, json!({"periodId": "2022-07-06_2022-10-05"})),
    )
    .await;
    let q = ty("2022-23").quarters()[1];
    let summary = SelfEmploymentPeriodSummary::new(PeriodDates::new(q.start, q.end))
        .income(SelfEmploymentIncome {
            turnover: Some(money("1000.00")),
            other: Some(money("0.01")),
            tax_taken_off_trading_income: None,
        })
        .expenses(SelfEmploymentExpenses {
            cost_of_goods: Some(money("-10.00")),
            admin_costs: Some(money("99.99")),
            ..Default::default()
        })
        .disallowable_expenses(SelfEmploymentDisallowableExpenses {
            admin_costs_disallowable: Some(money("5.00")),
            ..Default::default()
        });
    let token = token();
    let headers = web_headers();
    let call = CallContext::new(&token, &headers);
    client(&server)
        .submit_self_employment_period(&call, &nino(), &se_business(), &summary)
        .await
        .unwrap();
    let body: Value = only_request(&server).await.body_json().unwrap();
    assert_valid(
        &format!("{SCHEMAS}/createPeriodSummary/def1/request.json"),
        &body,
    );
}

#[tokio::test]
async fn period_summaries_hmrc_would_refuse_are_refused_locally_without_calling_hmrc() {
    let server = MockServer::start().await;
    let token = token();
    let headers = web_headers();
    let call = CallContext::new(&token, &headers);
    let client = client(&server);
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
        let err = client
            .submit_self_employment_period(&call, &nino(), &se_business(), &summary)
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
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_retried_period_summary_hmrc_already_holds_is_a_duplicate_submission() {
    let server = server_answering(
        Flow::SelfEmploymentPeriod.path(),
        "POST",
        hmrc(400, json!({"code": "RULE_DUPLICATE_SUBMISSION", "message": "A summary has already been submitted for the period specified"})),
    )
    .await;
    let token = token();
    let headers = web_headers();
    let call = CallContext::new(&token, &headers);
    let err = client(&server)
        .submit_self_employment_period(&call, &nino(), &se_business(), &se_period_2024_25())
        .await
        .unwrap_err();
    assert!(err.is_duplicate_submission(), "{err:?}");
    assert!(!err.is_retriable());
    assert!(!err.is_rejected());
}

#[tokio::test]
async fn hmrc_accepting_a_period_with_an_unreadable_body_is_success_with_a_warning() {
    let server = server_answering(
        Flow::SelfEmploymentPeriod.path(),
        "POST",
        hmrc(200, json!("not the documented body")),
    )
    .await;
    let token = token();
    let headers = web_headers();
    let call = CallContext::new(&token, &headers);
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
    let server = server_answering(
        Flow::SelfEmploymentCumulative.path(),
        "PUT",
        hmrc_empty(204),
    )
    .await;
    let token = token();
    let headers = web_headers();
    let call = CallContext::new(&token, &headers);
    let done = client(&server)
        .submit_self_employment_cumulative(
            &call,
            &nino(),
            &se_business(),
            ty("2025-26"),
            &se_cumulative_2025_26(),
        )
        .await
        .unwrap();
    assert_eq!(done.status, 204);
    let body: Value = only_request(&server).await.body_json().unwrap();
    assert_eq!(body["periodDates"]["periodStartDate"], "2025-04-06");
    assert_eq!(body["periodDates"]["periodEndDate"], "2025-10-05");
    assert_valid(
        &format!("{SCHEMAS}/createAmendCumulativePeriodSummary/request.json"),
        &body,
    );
}

#[tokio::test]
async fn cumulative_summaries_hmrc_would_refuse_are_refused_locally_without_calling_hmrc() {
    let server = MockServer::start().await;
    let token = token();
    let headers = web_headers();
    let call = CallContext::new(&token, &headers);
    let client = client(&server);
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
        let err = client
            .submit_self_employment_cumulative(&call, &nino(), &se_business(), ty(year), &summary)
            .await
            .unwrap_err();
        assert!(err.is_rejected(), "{err:?}");
        assert_eq!(err.code(), Some(code));
        assert_eq!(err.status(), None);
    }
    assert!(server.received_requests().await.unwrap().is_empty());
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
    for (year, def) in [
        ("2022-23", "def1"),
        ("2024-25", "def2"),
        ("2025-26", "def3"),
        ("2026-27", "def4"),
    ] {
        let server = server_answering(
            &format!(
                "/individuals/business/self-employment/AA123456A/XAIS12345678910/annual/{year}"
            ),
            "PUT",
            hmrc_empty(204),
        )
        .await;
        let token = token();
        let headers = web_headers();
        let call = CallContext::new(&token, &headers);
        client(&server)
            .submit_self_employment_annual(
                &call,
                &nino(),
                &se_business(),
                ty(year),
                &annual_for(year),
            )
            .await
            .unwrap_or_else(|e| panic!("{year}: {e}"));
        let body: Value = only_request(&server).await.body_json().unwrap();
        assert_valid(
            &format!("{SCHEMAS}/createAmendAnnualSubmission/{def}/request.json"),
            &body,
        );
    }
}

#[tokio::test]
async fn annual_submissions_hmrc_would_refuse_are_refused_locally() {
    let server = MockServer::start().await;
    let token = token();
    let headers = web_headers();
    let call = CallContext::new(&token, &headers);
    let client = client(&server);
    let too_much = SelfEmploymentAnnualSubmission {
        allowances: Some(SelfEmploymentAllowances {
            trading_income_allowance: Some(money("1000.01")),
            annual_investment_allowance: Some(money("1.00")),
            ..Default::default()
        }),
        ..Default::default()
    };
    let err = client
        .submit_self_employment_annual(&call, &nino(), &se_business(), ty("2024-25"), &too_much)
        .await
        .unwrap_err();
    let codes: Vec<_> = err
        .rejection_errors()
        .iter()
        .map(|e| e.code.as_str())
        .collect();
    assert_eq!(codes, ["FORMAT_VALUE", "RULE_BOTH_ALLOWANCES_SUPPLIED"]);
    let err = client
        .submit_self_employment_annual(
            &call,
            &nino(),
            &se_business(),
            ty("2024-25"),
            &SelfEmploymentAnnualSubmission::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("RULE_INCORRECT_OR_EMPTY_BODY_SUBMITTED"));
    assert!(server.received_requests().await.unwrap().is_empty());
}
