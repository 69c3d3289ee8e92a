//! HMRC's fraud-prevention headers: captured from the user's request when the submission is
//! made, stored with it, and replayed by the run: what HMRC receives is what was captured, and
//! HMRC's checks find it valid.

use std::net::{IpAddr, Ipv4Addr};

use http::HeaderName;
use mtd::browser::{USER_AGENT, form_with_action};
use mtd::capture::ClientAddress;
use uuid::Uuid;

use crate::support::{Stack, due_period};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_headers_captured_from_the_request_are_what_hmrc_receives_and_finds_valid() {
    // Behind a proxy that reports the client's public address, with a public vendor address.
    let stack = Stack::start_with(|o| {
        o.client_address = ClientAddress::Header {
            ip_header: HeaderName::from_static("x-forwarded-for"),
            port_header: Some(HeaderName::from_static("x-forwarded-client-port")),
            hops: 1,
        };
        o.vendor_public_ip = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 6));
    })
    .await;
    let driver = stack.connected().await;
    driver
        .browser
        .set_header("x-forwarded-for", "10.0.0.7, 198.51.100.7");
    driver
        .browser
        .set_header("x-forwarded-client-port", "52311");
    let (start, end) = due_period();
    let body = driver
        .period_body(&stack.business_id(), start, end, "100.00", "10.00")
        .unwrap();
    let created = driver.submit(&body).await.unwrap();
    let done = driver.wait_submission(&created.id).await.unwrap();
    assert_eq!(done["status"], "submitted", "{done}");

    let stored = stack
        .embedded
        .store
        .submissions()
        .get(Uuid::parse_str(&created.id).unwrap())
        .await
        .unwrap()
        .unwrap()
        .fraud_headers;
    assert_eq!(stored.len(), 16, "{stored:?}");
    assert_eq!(stored["Gov-Client-Connection-Method"], "WEB_APP_VIA_SERVER");
    assert_eq!(stored["Gov-Client-Public-IP"], "198.51.100.7");
    assert_eq!(stored["Gov-Client-Public-Port"], "52311");
    assert_eq!(
        stored["Gov-Vendor-Forwarded"],
        "by=203.0.113.6&for=198.51.100.7"
    );
    assert_eq!(stored["Gov-Client-Browser-JS-User-Agent"], USER_AGENT);
    assert_eq!(stored["Gov-Client-Device-ID"], driver.browser.device_id());
    assert_eq!(stored["Gov-Client-User-IDs"], "mtd=demo-user");
    assert_eq!(
        stored["Gov-Client-Screens"],
        "width=1920&height=1080&scaling-factor=1&colour-depth=24"
    );

    let calls: Vec<_> = stack
        .embedded
        .sandbox
        .admin()
        .requests()
        .into_iter()
        .filter(|r| r.endpoint == "se-cumulative")
        .collect();
    assert_eq!(calls.len(), 1);
    for (name, value) in &stored {
        assert_eq!(
            calls[0].headers.get(&name.to_ascii_lowercase()),
            Some(value),
            "{name} as HMRC received it"
        );
    }
    let report = &calls[0].fraud;
    assert_eq!(report.code, "VALID_HEADERS", "{report:?}");
    assert!(
        report.errors.is_empty() && report.warnings.is_empty(),
        "{report:?}"
    );
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_form_submission_captures_the_browser_values_its_script_filled_in() {
    let stack = Stack::start().await;
    let driver = stack.connected().await;
    let (start, end) = due_period();
    let year = hmrc_mtd::TaxYear::containing(end).unwrap();
    let page = driver
        .browser
        .get(&driver.url("/submissions/period/new"))
        .await
        .unwrap();
    assert!(
        page.body.contains("form[data-fraud]"),
        "the inline script is on the page"
    );
    let form = form_with_action(&page, "/submissions/period").unwrap();
    let mut fields: Vec<(String, String)> = form
        .inputs
        .into_iter()
        .filter(|(k, _)| k == "csrf" || k == "idempotency_key")
        .collect();
    fields.extend(driver.browser.form_values());
    for (k, v) in [
        ("business", "self-employment".to_owned()),
        ("business_id", stack.business_id()),
        ("tax_year", year.to_string()),
        ("period_start", start.to_string()),
        ("period_end", end.to_string()),
        ("se_turnover", "10.00".to_owned()),
        ("se_consolidated_expenses", "1.00".to_owned()),
    ] {
        fields.push((k.to_owned(), v));
    }
    let sent = driver
        .browser
        .post_form(form.action.as_str(), &fields)
        .await
        .unwrap();
    let id = sent
        .location
        .unwrap()
        .path()
        .trim_start_matches("/submissions/")
        .to_owned();
    let done = driver.wait_submission(&id).await.unwrap();
    assert_eq!(done["status"], "submitted", "{done}");
    let stored = stack
        .embedded
        .store
        .submissions()
        .get(Uuid::parse_str(&id).unwrap())
        .await
        .unwrap()
        .unwrap()
        .fraud_headers;
    assert_eq!(stored["Gov-Client-Window-Size"], "width=1280&height=800");
    assert_eq!(stored["Gov-Client-Timezone"], "UTC+00:00");
    assert_eq!(stored["Gov-Client-Device-ID"], driver.browser.device_id());
    assert_eq!(stored["Gov-Client-Public-IP"], "127.0.0.1");
    assert!(stored["Gov-Client-Public-Port"].parse::<u16>().unwrap() > 0);
    let findings = stack.embedded.sandbox.admin().fraud_findings();
    assert!(
        findings.iter().all(|f| f.report.errors.is_empty()),
        "{findings:?}"
    );
    stack.stop().await;
}
