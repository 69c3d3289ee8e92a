//! Submissions through the JSON API and the forms: queued, run by the engine, and their
//! outcome shown; bad input refused naming the field, with nothing stored.

use http::StatusCode;
use mtd::browser::form_with_action;
use serde_json::{Value, json};

use crate::support::{Stack, due_period};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quarterly_update_through_the_api_is_submitted_and_hmrc_holds_the_figures() {
    let stack = Stack::start().await;
    let driver = stack.connected().await;
    let business = stack.business_id();

    // The obligations come from HMRC through the fetch-obligations run, into the cache.
    let (start, end) = due_period();
    let year = hmrc_mtd::TaxYear::containing(end).unwrap();
    let fetch = driver.refresh_obligations(Some(year)).await.unwrap();
    assert_eq!(
        driver.wait_submission(&fetch.id).await.unwrap()["status"],
        "submitted"
    );
    let open = driver.open_quarters(&business).await.unwrap();
    assert!(
        open.iter().any(|(s, e, _)| (*s, *e) == (start, end)),
        "{open:?}"
    );

    let body = driver
        .period_body(&business, start, end, "12500.10", "3100.45")
        .unwrap();
    let page = driver
        .send_json("POST", "/api/v1/submissions", Some(&body))
        .await
        .unwrap();
    assert_eq!(page.status, StatusCode::ACCEPTED, "{}", page.body);
    let created = page.json();
    assert_eq!(created["submission"]["status"], "processing");
    assert_eq!(created["submission"]["kind"], "period");
    let id = created["submission"]["id"].as_str().unwrap().to_owned();
    let events: Vec<String> = created["eventIds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap().to_owned())
        .collect();

    let done = driver.wait_submission(&id).await.unwrap();
    assert_eq!(done["status"], "submitted", "{done}");
    let run = driver.run_of(&events).await.unwrap();
    assert_eq!(run.status, inngest_local::RunStatus::Completed);
    assert_eq!(done["inngestRunId"], run.id.as_str());

    let held: Vec<_> = stack
        .embedded
        .sandbox
        .admin()
        .submissions()
        .into_iter()
        .filter(|r| r.endpoint == "se-cumulative")
        .collect();
    assert_eq!(held.len(), 1);
    let sent = held[0].body.clone().unwrap();
    assert_eq!(sent["periodIncome"]["turnover"], json!(12500.1));
    assert_eq!(
        sent["periodExpenses"]["consolidatedExpenses"],
        json!(3100.45)
    );
    assert_eq!(sent["periodDates"]["periodStartDate"], start.to_string());
    assert_eq!(sent["periodDates"]["periodEndDate"], end.to_string());
    assert_eq!(
        done["receipt"]["correlationId"],
        held[0].correlation_id.as_str()
    );

    // The dashboard and the submission page show the receipt.
    let page = driver
        .browser
        .get(&driver.url(&format!("/submissions/{id}")))
        .await
        .unwrap();
    assert!(page.body.contains("HMRC receipt"));
    assert!(page.body.contains(&held[0].correlation_id));
    stack.stop().await;
}

async fn refused(driver: &mtd::driver::Driver<'_>, body: &Value) -> (StatusCode, Value) {
    let page = driver
        .send_json("POST", "/api/v1/submissions", Some(body))
        .await
        .expect("the app answers");
    (page.status, page.json())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_refused_with_a_4xx_naming_the_field_and_nothing_is_stored() {
    let stack = Stack::start().await;
    let driver = stack.connected().await;
    let business = stack.business_id();
    let (start, end) = due_period();
    let good = driver
        .period_body(&business, start, end, "100.00", "10.00")
        .unwrap();

    let mut bad_amount = good.clone();
    bad_amount["payload"]["figures"]["self-employment"]["income"]["turnover"] = json!("lots");
    let (status, body) = refused(&driver, &bad_amount).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body["error"]["fields"][0]["field"],
        "payload.figures.self-employment.income.turnover"
    );

    let mut three_places = good.clone();
    three_places["payload"]["figures"]["self-employment"]["income"]["turnover"] = json!(10.125);
    let (status, body) = refused(&driver, &three_places).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body["error"]["fields"][0]["field"],
        "payload.figures.self-employment.income.turnover"
    );

    let mut no_device = good.clone();
    no_device["client"]
        .as_object_mut()
        .unwrap()
        .remove("deviceId");
    let (status, body) = refused(&driver, &no_device).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"]["fields"][0]["field"], "client.deviceId");

    let mut outside = good.clone();
    outside["payload"]["period_end"] = json!((end + chrono::TimeDelta::days(400)).to_string());
    let (status, body) = refused(&driver, &outside).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"]["code"], "invalid_payload");
    assert_eq!(body["error"]["fields"][0]["field"], "period_end");

    let mut kind = good.clone();
    kind["kind"] = json!("vat-return");
    let (status, body) = refused(&driver, &kind).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["fields"][0]["field"], "kind");

    let mut typo = good.clone();
    typo["clinet"] = json!({});
    let (status, body) = refused(&driver, &typo).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("clinet")
    );

    let not_json = driver
        .browser
        .post_form(
            &driver.url("/api/v1/submissions"),
            &[("a".into(), "b".into())],
        )
        .await
        .unwrap();
    assert_eq!(not_json.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(not_json.json()["error"]["code"], "unsupported_media_type");
    let broken = driver
        .browser
        .json("POST", &driver.url("/api/v1/submissions"), None, None)
        .await
        .unwrap();
    assert_eq!(broken.status, StatusCode::BAD_REQUEST);
    assert!(
        broken.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not valid JSON")
    );

    let list = driver.get_json("/api/v1/submissions").await.unwrap();
    assert_eq!(list["submissions"].as_array().unwrap().len(), 0);
    assert!(stack.embedded.sandbox.admin().submissions().is_empty());
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_repeated_with_its_idempotency_key_creates_one_submission() {
    let stack = Stack::start().await;
    let driver = stack.connected().await;
    let (start, end) = due_period();
    let body = driver
        .period_body(&stack.business_id(), start, end, "100.00", "10.00")
        .unwrap();
    let url = driver.url("/api/v1/submissions");
    let first = driver
        .browser
        .json("POST", &url, Some(&body), Some("key-1"))
        .await
        .unwrap();
    let second = driver
        .browser
        .json("POST", &url, Some(&body), Some("key-1"))
        .await
        .unwrap();
    let id = first.json()["submission"]["id"].clone();
    assert_eq!(second.json()["submission"]["id"], id);
    driver.wait_submission(id.as_str().unwrap()).await.unwrap();
    let list = driver.get_json("/api/v1/submissions").await.unwrap();
    assert_eq!(list["submissions"].as_array().unwrap().len(), 1);
    assert_eq!(stack.embedded.sandbox.admin().submissions().len(), 1);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quarterly_update_from_the_form_is_queued_and_its_page_shows_the_outcome() {
    let stack = Stack::start().await;
    let driver = stack.connected().await;
    let (start, end) = due_period();
    let year = hmrc_mtd::TaxYear::containing(end).unwrap();
    let form_page = driver
        .browser
        .get(&driver.url(&format!(
            "/submissions/period/new?business=self-employment&business_id={}&tax_year={year}&period_start={start}&period_end={end}",
            stack.business_id()
        )))
        .await
        .unwrap();
    let form = form_with_action(&form_page, "/submissions/period").unwrap();
    let mut fields: Vec<(String, String)> = form
        .inputs
        .into_iter()
        .filter(|(k, _)| {
            !k.starts_with("fp_") && k != "se_turnover" && k != "se_consolidated_expenses"
        })
        .collect();
    fields.extend(driver.browser.form_values());
    fields.push(("business".into(), "self-employment".into()));
    fields.push(("se_turnover".into(), "9000.00".into()));
    fields.push(("se_consolidated_expenses".into(), "1000.50".into()));
    let sent = driver
        .browser
        .post_form(form.action.as_str(), &fields)
        .await
        .unwrap();
    assert_eq!(sent.status, StatusCode::SEE_OTHER, "{}", sent.body);
    let target = sent.location.clone().unwrap();
    let id = target.path().trim_start_matches("/submissions/").to_owned();
    let done = driver.wait_submission(&id).await.unwrap();
    assert_eq!(done["status"], "submitted", "{done}");
    let page = driver.browser.get(target.as_str()).await.unwrap();
    assert!(page.body.contains("Submitted"));
    assert!(page.body.contains("HMRC receipt"));
    // Sending the same form again (same idempotency key) does not create a second one.
    let again = driver
        .browser
        .post_form(form.action.as_str(), &fields)
        .await
        .unwrap();
    assert_eq!(again.location, Some(target));
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_form_with_errors_is_shown_again_with_what_was_typed_and_every_problem_named() {
    let stack = Stack::start().await;
    let driver = stack.connected().await;
    let form_page = driver
        .browser
        .get(&driver.url("/submissions/period/new"))
        .await
        .unwrap();
    let form = form_with_action(&form_page, "/submissions/period").unwrap();
    let mut fields: Vec<(String, String)> = form
        .inputs
        .into_iter()
        .filter(|(k, _)| k == "csrf" || k == "idempotency_key")
        .collect();
    fields.extend(driver.browser.form_values());
    fields.push(("business".into(), "self-employment".into()));
    fields.push(("business_id".into(), "XAIS-typo".into()));
    fields.push(("tax_year".into(), "2025-26".into()));
    fields.push(("period_start".into(), "2025-04-06".into()));
    fields.push(("period_end".into(), "2025-07-05".into()));
    fields.push(("se_turnover".into(), "12.345".into()));
    let page = driver
        .browser
        .post_form(form.action.as_str(), &fields)
        .await
        .unwrap();
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.body.contains("Nothing was sent"));
    assert!(page.body.contains("business_id"));
    assert!(page.body.contains("se_turnover"));
    assert!(
        page.body.contains("value=\"XAIS-typo\""),
        "what was typed is kept"
    );
    let list = driver.get_json("/api/v1/submissions").await.unwrap();
    assert_eq!(list["submissions"].as_array().unwrap().len(), 0);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_eops_for_2024_25_or_later_is_refused_with_a_clear_message() {
    let stack = Stack::start().await;
    let driver = stack.connected().await;
    let form_page = driver
        .browser
        .get(&driver.url("/submissions/eops/new"))
        .await
        .unwrap();
    let form = form_with_action(&form_page, "/submissions/eops").unwrap();
    let mut fields: Vec<(String, String)> = form
        .inputs
        .into_iter()
        .filter(|(k, _)| k == "csrf" || k == "idempotency_key")
        .collect();
    fields.extend(driver.browser.form_values());
    fields.push(("type_of_business".into(), "self-employment".into()));
    fields.push(("business_id".into(), stack.business_id()));
    fields.push(("period_start".into(), "2024-04-06".into()));
    fields.push(("period_end".into(), "2025-04-05".into()));
    let page = driver
        .browser
        .post_form(form.action.as_str(), &fields)
        .await
        .unwrap();
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        page.body.contains("not required for tax year 2024-25"),
        "{}",
        page.body
    );
    let list = driver.get_json("/api/v1/submissions").await.unwrap();
    assert_eq!(list["submissions"].as_array().unwrap().len(), 0);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_form_posted_without_its_sessions_csrf_token_is_refused() {
    let stack = Stack::start().await;
    let driver = stack.connected().await;
    let mut fields = driver.browser.form_values();
    fields.push(("csrf".into(), "forged".into()));
    fields.push(("tax_year".into(), "2024-25".into()));
    let page = driver
        .browser
        .post_form(&driver.url("/submissions/final-declaration"), &fields)
        .await
        .unwrap();
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    let list = driver.get_json("/api/v1/submissions").await.unwrap();
    assert_eq!(list["submissions"].as_array().unwrap().len(), 0);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notifications_are_listed_and_marked_read_once() {
    let stack = Stack::start().await;
    let driver = stack.connected().await;
    let (start, end) = due_period();
    let body = driver
        .period_body(&stack.business_id(), start, end, "100.00", "10.00")
        .unwrap();
    let created = driver.submit(&body).await.unwrap();
    driver.wait_submission(&created.id).await.unwrap();
    let list = driver.get_json("/api/v1/notifications").await.unwrap();
    let note = list["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["submissionId"] == created.id.as_str())
        .cloned()
        .expect("a notification about the submission");
    assert_eq!(note["title"], "HMRC accepted your submission");
    assert!(note["readAt"].is_null());
    let path = format!(
        "/api/v1/notifications/{}/read",
        note["id"].as_str().unwrap()
    );
    let first = driver.send_json("POST", &path, None).await.unwrap();
    assert_eq!(first.json()["marked"], true);
    let second = driver.send_json("POST", &path, None).await.unwrap();
    assert_eq!(second.json()["marked"], false);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboards_refresh_button_fetches_obligations_and_links_each_open_quarter_to_its_form()
{
    let stack = Stack::start().await;
    let driver = stack.connected().await;
    let dashboard = driver.browser.get(&driver.url("/")).await.unwrap();
    assert!(dashboard.body.contains("No obligations fetched yet."));
    let refresh = form_with_action(&dashboard, "/obligations/refresh").unwrap();
    let mut fields: Vec<(String, String)> = refresh
        .inputs
        .into_iter()
        .filter(|(k, _)| !k.starts_with("fp_"))
        .collect();
    fields.extend(driver.browser.form_values());
    let sent = driver
        .browser
        .post_form(refresh.action.as_str(), &fields)
        .await
        .unwrap();
    assert_eq!(sent.status, StatusCode::SEE_OTHER);
    assert_eq!(
        sent.location.as_ref().unwrap().query(),
        Some("notice=refreshing")
    );

    let deadline = tokio::time::Instant::now() + crate::support::RUN_TIMEOUT;
    let page = loop {
        let page = driver.browser.get(&driver.url("/")).await.unwrap();
        if page.body.contains("Submit quarterly update") {
            break page;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no obligations shown: {}",
            page.body
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert!(page.body.contains(&stack.business_id()));
    let link = format!(
        "/submissions/period/new?business=self-employment&amp;business_id={}",
        stack.business_id()
    );
    assert!(page.body.contains(&link), "{}", page.body);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_final_declaration_from_its_form_waits_for_hmrcs_calculation_then_declares() {
    let stack = Stack::start().await;
    let driver = stack.connected().await;
    // The year before this one has ended; HMRC needs its income before calculating.
    let today = chrono::Utc::now().date_naive();
    let year = hmrc_mtd::TaxYear::containing(today)
        .unwrap()
        .previous()
        .unwrap();
    let body = driver
        .period_body(
            &stack.business_id(),
            year.start_date(),
            year.end_date(),
            "41000.00",
            "9000.00",
        )
        .unwrap();
    let income = driver.submit(&body).await.unwrap();
    assert_eq!(
        driver.wait_submission(&income.id).await.unwrap()["status"],
        "submitted"
    );

    let form_page = driver
        .browser
        .get(&driver.url("/submissions/final-declaration/new"))
        .await
        .unwrap();
    let form = form_with_action(&form_page, "/submissions/final-declaration").unwrap();
    let mut fields: Vec<(String, String)> = form
        .inputs
        .into_iter()
        .filter(|(k, _)| k == "csrf" || k == "idempotency_key")
        .collect();
    fields.extend(driver.browser.form_values());
    fields.push(("tax_year".into(), year.to_string()));
    let sent = driver
        .browser
        .post_form(form.action.as_str(), &fields)
        .await
        .unwrap();
    assert_eq!(sent.status, StatusCode::SEE_OTHER, "{}", sent.body);
    let id = sent
        .location
        .unwrap()
        .path()
        .trim_start_matches("/submissions/")
        .to_owned();
    let done = driver.wait_submission(&id).await.unwrap();
    assert_eq!(done["status"], "submitted", "{done}");
    assert_eq!(done["kind"], "crystallisation");
    assert!(done["receipt"]["calculationId"].is_string(), "{done}");
    let declared = stack
        .embedded
        .sandbox
        .admin()
        .submissions()
        .into_iter()
        .filter(|r| r.endpoint == "calculation-final-declaration")
        .count();
    assert_eq!(declared, 1);

    // This year has not ended: the form refuses it, saying when it can be declared.
    let this_year = year.next().unwrap();
    let mut early = fields.clone();
    early.retain(|(k, _)| k != "tax_year" && k != "idempotency_key");
    early.push(("tax_year".into(), this_year.to_string()));
    let refused = driver
        .browser
        .post_form(form.action.as_str(), &early)
        .await
        .unwrap();
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused.body.contains("RULE_TAX_YEAR_NOT_ENDED"),
        "{}",
        refused.body
    );
    stack.stop().await;
}
