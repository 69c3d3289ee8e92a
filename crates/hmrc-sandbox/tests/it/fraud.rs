//! Fraud-prevention headers: the Test API's three answers, and findings recorded for MTD calls
//! that are never rejected for them.

use reqwest::{Method, StatusCode};

use crate::common::*;

const VALIDATE: &str = "/test/fraud-prevention-headers/validate";

const WEB: &[(&str, &str)] = &[
    ("Gov-Client-Connection-Method", "WEB_APP_VIA_SERVER"),
    (
        "Gov-Client-Browser-JS-User-Agent",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7)",
    ),
    (
        "Gov-Client-Device-ID",
        "beec798b-b366-47fa-b1f8-92cede14a1ce",
    ),
    (
        "Gov-Client-Multi-Factor",
        "type=TOTP&timestamp=2026-11-28T10%3A00Z&unique-reference=c4a5f2d9",
    ),
    ("Gov-Client-Public-IP", "198.51.100.0"),
    ("Gov-Client-Public-IP-Timestamp", "2026-11-28T10:00:05.123Z"),
    ("Gov-Client-Public-Port", "12345"),
    (
        "Gov-Client-Screens",
        "width=1920&height=1080&scaling-factor=1&colour-depth=16",
    ),
    ("Gov-Client-Timezone", "UTC+00:00"),
    ("Gov-Client-User-IDs", "my-application=alice123"),
    ("Gov-Client-Window-Size", "width=1256&height=803"),
    ("Gov-Vendor-Forwarded", "by=203.0.113.6&for=198.51.100.0"),
    (
        "Gov-Vendor-License-IDs",
        "my-licensed-software=8D7963490527D33716835EE7C195516D",
    ),
    ("Gov-Vendor-Product-Name", "My%20Product"),
    ("Gov-Vendor-Public-IP", "203.0.113.6"),
    ("Gov-Vendor-Version", "my-web-app=2.2.2"),
];

const BATCH: &[(&str, &str)] = &[
    ("Gov-Client-Connection-Method", "BATCH_PROCESS_DIRECT"),
    (
        "Gov-Client-Device-ID",
        "beec798b-b366-47fa-b1f8-92cede14a1ce",
    ),
    ("Gov-Client-Local-IPs", "10.1.2.3,fe80%3A%3A1"),
    ("Gov-Client-Local-IPs-Timestamp", "2026-11-28T10:00:05.123Z"),
    ("Gov-Client-MAC-Addresses", "ea%3A43%3A1a%3A5d%3A21%3A45"),
    ("Gov-Client-Timezone", "UTC+01:00"),
    (
        "Gov-Client-User-Agent",
        "os-family=Linux&os-version=6.1&device-manufacturer=Dell%20Inc.&device-model=R740",
    ),
    ("Gov-Client-User-IDs", "os=worker&my-application=batch"),
    (
        "Gov-Vendor-License-IDs",
        "my-licensed-software=8D7963490527D33716835EE7C195516D",
    ),
    ("Gov-Vendor-Product-Name", "My%20Product"),
    ("Gov-Vendor-Version", "my-application=1.6.0"),
];

#[tokio::test]
async fn complete_headers_are_valid_for_both_connection_methods() {
    let env = env().await;
    let token = env.app_token().await;
    for headers in [WEB, BATCH] {
        let r = env
            .call(
                Call::new(Method::GET, VALIDATE, "1.0")
                    .token(&token)
                    .headers(headers),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.json["code"], "VALID_HEADERS", "{}", r.text);
        assert_eq!(r.json["specVersion"], "3.3");
        assert!(r.json["message"].is_string());
        assert!(r.json.get("errors").is_none());
    }
}

#[tokio::test]
async fn missing_and_malformed_headers_are_errors() {
    let env = env().await;
    let token = env.app_token().await;
    let mut headers: Vec<(&str, &str)> = WEB
        .iter()
        .copied()
        .filter(|(k, _)| *k != "Gov-Client-Device-ID")
        .collect();
    headers.retain(|(k, _)| *k != "Gov-Client-Timezone");
    headers.push(("Gov-Client-Timezone", "GMT"));
    let r = env
        .call(
            Call::new(Method::GET, VALIDATE, "1.0")
                .token(&token)
                .headers(&headers),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json["code"], "INVALID_HEADERS");
    let errors = r.json["errors"].as_array().unwrap();
    let missing = errors
        .iter()
        .find(|e| e["code"] == "MISSING_HEADER")
        .unwrap();
    assert_eq!(
        missing["headers"],
        serde_json::json!(["gov-client-device-id"])
    );
    let invalid = errors
        .iter()
        .find(|e| e["code"] == "INVALID_HEADER")
        .unwrap();
    assert_eq!(
        invalid["headers"],
        serde_json::json!(["gov-client-timezone"])
    );

    let none = env
        .call(Call::new(Method::GET, VALIDATE, "1.0").token(&token))
        .await;
    assert_eq!(none.json["code"], "INVALID_HEADERS");
    assert_eq!(
        none.json["errors"][0]["headers"],
        serde_json::json!(["gov-client-connection-method"])
    );
}

#[tokio::test]
async fn doubtful_values_are_warnings() {
    let env = env().await;
    let token = env.app_token().await;
    let headers: Vec<(&str, &str)> = WEB
        .iter()
        .map(|(k, v)| match *k {
            "Gov-Client-Public-Port" => (*k, "443"),
            _ => (*k, *v),
        })
        .collect();
    let r = env
        .call(
            Call::new(Method::GET, VALIDATE, "1.0")
                .token(&token)
                .headers(&headers),
        )
        .await;
    assert_eq!(r.json["code"], "POTENTIALLY_INVALID_HEADERS", "{}", r.text);
    assert_eq!(
        r.json["warnings"][0]["headers"],
        serde_json::json!(["gov-client-public-port"])
    );
}

#[tokio::test]
async fn mtd_calls_are_never_rejected_for_headers_but_findings_are_recorded() {
    let env = env().await;
    let t = env.tokens().await;
    let bare = env
        .get(
            "/obligations/details/AA123456A/crystallisation",
            "3.0",
            &t.access,
        )
        .await;
    assert_eq!(bare.status, StatusCode::OK);
    let good = env
        .call(
            Call::new(
                Method::GET,
                "/obligations/details/AA123456A/crystallisation",
                "3.0",
            )
            .token(&t.access)
            .headers(BATCH),
        )
        .await;
    assert_eq!(good.status, StatusCode::OK);
    let findings: serde_json::Value = env
        .http
        .get(env.url("/_admin/fraud-findings"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let findings = findings.as_array().unwrap();
    assert_eq!(findings.len(), 2);
    assert_eq!(findings[0]["correlationId"], bare.correlation_id());
    assert_eq!(findings[0]["report"]["code"], "INVALID_HEADERS");
    assert_eq!(findings[1]["report"]["code"], "VALID_HEADERS");
    assert_eq!(
        findings[1]["report"]["connectionMethod"],
        "BATCH_PROCESS_DIRECT"
    );
}
