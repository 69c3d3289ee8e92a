//! Fetch obligations (Obligations API v3.0) and list businesses (Business Details API v2.0),
//! against the simulator's obligations, derived from the test user's businesses and fulfilled
//! by what the client submits.

use hmrc_mtd::{BusinessId, ObligationStatus, TypeOfBusiness, obligations::ObligationsQuery};

use crate::{
    sim::Sim,
    support::{Flow, ty},
};

#[tokio::test]
async fn income_and_expenditure_obligations_send_hmrcs_filters_and_parse_the_cumulative_answer() {
    let sim = Sim::start().await;
    let query = ObligationsQuery::all()
        .business(TypeOfBusiness::SelfEmployment, sim.ids.se_business.clone())
        .tax_year(ty("2025-26"))
        .status(ObligationStatus::Open);
    let found = sim
        .api
        .income_and_expenditure_obligations(&sim.call(), &sim.ids.nino, &query)
        .await
        .unwrap();
    let call = sim.last_request_to(Flow::IncomeAndExpenditureObligations);
    let sent: url::Url = format!("http://sim{}", call.uri).parse().unwrap();
    let params: std::collections::BTreeMap<_, _> = sent.query_pairs().into_owned().collect();
    assert_eq!(params["typeOfBusiness"], "self-employment");
    assert_eq!(params["businessId"], sim.ids.se_business.as_str());
    assert_eq!(params["fromDate"], "2025-04-06");
    assert_eq!(params["toDate"], "2026-04-05");
    assert_eq!(params["status"], "open");
    assert_eq!(
        found.correlation_id.as_deref(),
        Some(call.correlation_id.as_str())
    );

    let [business] = found.body.obligations.as_slice() else {
        panic!("{:?}", found.body)
    };
    assert_eq!(business.business_id, sim.ids.se_business);
    let details = &business.obligation_details;
    assert_eq!(details.len(), 4, "four cumulative quarters");
    assert!(
        details
            .iter()
            .all(|d| d.period_start_date.to_string() == "2025-04-06"),
        "every cumulative quarter starts on 6 April"
    );
    let ends: Vec<_> = details
        .iter()
        .map(|d| d.period_end_date.to_string())
        .collect();
    assert_eq!(
        ends,
        ["2025-07-05", "2025-10-05", "2026-01-05", "2026-04-05"]
    );
    let dues: Vec<_> = details.iter().map(|d| d.due_date.to_string()).collect();
    assert_eq!(
        dues,
        ["2025-08-05", "2025-11-05", "2026-02-05", "2026-05-05"]
    );
    // Each quarter's dates match the client's own idea of the tax year.
    for (detail, quarter) in details.iter().zip(ty("2025-26").quarters()) {
        assert_eq!(detail.period_end_date, quarter.end);
        assert_eq!(detail.due_date, quarter.due);
    }
}

#[tokio::test]
async fn a_cumulative_update_fulfils_every_quarter_it_covers() {
    let sim = Sim::start().await;
    sim.run(Flow::SelfEmploymentCumulative).await.unwrap(); // to 5 October 2025
    let query = ObligationsQuery::all()
        .business(TypeOfBusiness::SelfEmployment, sim.ids.se_business.clone())
        .tax_year(ty("2025-26"));
    let found = sim
        .api
        .income_and_expenditure_obligations(&sim.call(), &sim.ids.nino, &query)
        .await
        .unwrap();
    let statuses: Vec<_> = found.body.obligations[0]
        .obligation_details
        .iter()
        .map(|d| (d.status.clone(), d.received_date.map(|r| r.to_string())))
        .collect();
    let received = Some("2025-10-20".to_owned());
    assert_eq!(
        statuses,
        [
            (ObligationStatus::Fulfilled, received.clone()),
            (ObligationStatus::Fulfilled, received),
            (ObligationStatus::Open, None),
            (ObligationStatus::Open, None),
        ]
    );
}

#[tokio::test]
async fn no_obligations_found_is_an_empty_list_with_the_correlation_id() {
    let sim = Sim::start().await;
    // The test user has obligations for 2024-25 and 2025-26 only.
    let found = sim
        .api
        .income_and_expenditure_obligations(
            &sim.call(),
            &sim.ids.nino,
            &ObligationsQuery::all().tax_year(ty("2019-20")),
        )
        .await
        .unwrap();
    assert!(found.body.obligations.is_empty());
    assert_eq!(found.status, 404);
    let call = sim.last_request_to(Flow::IncomeAndExpenditureObligations);
    assert_eq!(
        call.response.as_ref().unwrap()["code"],
        "NO_OBLIGATIONS_FOUND"
    );
    assert_eq!(
        found.correlation_id.as_deref(),
        Some(call.correlation_id.as_str())
    );

    let found = sim
        .api
        .final_declaration_obligations(&sim.call(), &sim.ids.nino, Some(ty("2019-20")), None)
        .await
        .unwrap();
    assert!(found.body.obligations.is_empty());
    assert_eq!(found.status, 404);
}

#[tokio::test]
async fn an_invalid_obligations_query_is_rejected_without_calling_hmrc() {
    let sim = Sim::start().await;
    let cases = [
        (
            ObligationsQuery::all()
                .between("2025-04-06".parse().unwrap(), "2026-05-06".parse().unwrap()),
            "RULE_DATE_RANGE_INVALID",
        ),
        (
            ObligationsQuery::all()
                .between("2025-04-06".parse().unwrap(), "2025-01-01".parse().unwrap()),
            "RANGE_TO_DATE_BEFORE_FROM_DATE",
        ),
        (
            ObligationsQuery::all()
                .between("2017-04-06".parse().unwrap(), "2018-01-01".parse().unwrap()),
            "RULE_FROM_DATE_NOT_SUPPORTED",
        ),
        (
            ObligationsQuery {
                business_id: Some(BusinessId::new("XAIS12345678910").unwrap()),
                ..ObligationsQuery::all()
            },
            "MISSING_TYPE_OF_BUSINESS",
        ),
    ];
    for (query, code) in cases {
        let err = sim
            .api
            .income_and_expenditure_obligations(&sim.call(), &sim.ids.nino, &query)
            .await
            .unwrap_err();
        assert!(err.is_rejected(), "{err:?}");
        assert_eq!(err.status(), None, "refused locally");
        assert_eq!(err.code(), Some(code));
    }
    assert!(sim.admin().requests().is_empty(), "nothing reached HMRC");
}

#[tokio::test]
async fn the_longest_date_range_hmrc_allows_is_sent_and_one_day_more_is_refused_locally() {
    let sim = Sim::start().await;
    // 366 days counting both ends (2024 is a leap year): HMRC answers.
    let longest = ObligationsQuery::all()
        .between("2024-01-01".parse().unwrap(), "2024-12-31".parse().unwrap());
    let found = sim
        .api
        .income_and_expenditure_obligations(&sim.call(), &sim.ids.nino, &longest)
        .await
        .unwrap();
    assert_eq!(found.status, 200);
    assert!(!found.body.obligations.is_empty());
    // One day more is HMRC's RULE_DATE_RANGE_INVALID, known without a call.
    let too_long = ObligationsQuery::all()
        .between("2024-01-01".parse().unwrap(), "2025-01-01".parse().unwrap());
    let err = sim
        .api
        .income_and_expenditure_obligations(&sim.call(), &sim.ids.nino, &too_long)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("RULE_DATE_RANGE_INVALID"));
    assert_eq!(err.status(), None);
    assert_eq!(
        sim.requests_to(Flow::IncomeAndExpenditureObligations).len(),
        1
    );
}

#[tokio::test]
async fn final_declaration_obligations_send_the_tax_year_and_status() {
    let sim = Sim::start().await;
    let found = sim
        .api
        .final_declaration_obligations(
            &sim.call(),
            &sim.ids.nino,
            Some(ty("2024-25")),
            Some(ObligationStatus::Open),
        )
        .await
        .unwrap();
    let call = sim.last_request_to(Flow::FinalDeclarationObligations);
    assert!(
        call.uri
            .ends_with("/crystallisation?taxYear=2024-25&status=open"),
        "{}",
        call.uri
    );
    let [obligation] = found.body.obligations.as_slice() else {
        panic!("{:?}", found.body)
    };
    assert_eq!(obligation.status, ObligationStatus::Open);
    assert_eq!(obligation.period_start_date.to_string(), "2024-04-06");
    assert_eq!(obligation.period_end_date.to_string(), "2025-04-05");
    assert_eq!(obligation.due_date.to_string(), "2026-01-31");
    assert_eq!(obligation.received_date, None);
    // Fulfilled once the declaration is made: final_declaration.rs.
}

#[tokio::test]
async fn list_businesses_returns_the_users_business_ids_and_filters_by_type() {
    let sim = Sim::start().await;
    let list = sim
        .api
        .list_businesses(&sim.call(), &sim.ids.nino)
        .await
        .unwrap();
    let se: Vec<_> = list.body.of_type(&TypeOfBusiness::SelfEmployment).collect();
    assert_eq!(se.len(), 1);
    assert_eq!(se[0].business_id, sim.ids.se_business);
    let property: Vec<_> = list.body.of_type(&TypeOfBusiness::UkProperty).collect();
    assert_eq!(property.len(), 1);
    assert_eq!(property[0].business_id, sim.ids.property_business);
    assert_eq!(
        list.body.of_type(&TypeOfBusiness::ForeignProperty).count(),
        0
    );
    assert_eq!(
        list.correlation_id.as_deref(),
        Some(
            sim.last_request_to(Flow::ListBusinesses)
                .correlation_id
                .as_str()
        )
    );
}

#[tokio::test]
async fn list_businesses_parses_hmrcs_business_and_property_scenario() {
    let sim = Sim::start().await;
    let call = sim.call().with_test_scenario("BUSINESS_AND_PROPERTY");
    let list = sim.api.list_businesses(&call, &sim.ids.nino).await.unwrap();
    let se: Vec<_> = list.body.of_type(&TypeOfBusiness::SelfEmployment).collect();
    assert_eq!(se[0].business_id.as_str(), "XAIS12345678910");
    assert_eq!(se[0].trading_name.as_deref(), Some("RCDTS"));
    assert_eq!(
        list.body.of_type(&TypeOfBusiness::ForeignProperty).count(),
        1
    );
    assert_eq!(
        sim.last_request_to(Flow::ListBusinesses).headers["gov-test-scenario"],
        "BUSINESS_AND_PROPERTY"
    );
}
