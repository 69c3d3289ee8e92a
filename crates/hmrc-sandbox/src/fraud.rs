//! Fraud-prevention header checks (digest §10), shaped like HMRC's Test Fraud Prevention Headers
//! API: `VALID_HEADERS`, `INVALID_HEADERS` with `errors`, or `POTENTIALLY_INVALID_HEADERS` with
//! `warnings`. Pure: a header map in, a report out.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::LazyLock;

use chrono::NaiveDateTime;
use http::HeaderMap;
use percent_encoding::percent_decode_str;
use regex::Regex;
use serde::{Deserialize, Serialize};

/// The specification version the checks follow.
pub const SPEC_VERSION: &str = "3.3";

/// One finding, listing every header it applies to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// `MISSING_HEADER`, `EMPTY_HEADER`, `INVALID_HEADER` or `POTENTIALLY_INVALID_HEADER`.
    pub code: String,
    /// What is wrong.
    pub message: String,
    /// Lower-case header names.
    pub headers: Vec<String>,
}

/// The result of checking one request's headers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FraudReport {
    /// Always [`SPEC_VERSION`].
    pub spec_version: String,
    /// `VALID_HEADERS`, `INVALID_HEADERS` or `POTENTIALLY_INVALID_HEADERS`.
    pub code: String,
    /// A summary sentence.
    pub message: String,
    /// The connection method declared, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connection_method: Option<String>,
    /// Errors: every one must be fixed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<Finding>,
    /// Advisories to review.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<Finding>,
}

const WEB_APP_VIA_SERVER: [&str; 16] = [
    "gov-client-connection-method",
    "gov-client-browser-js-user-agent",
    "gov-client-device-id",
    "gov-client-multi-factor",
    "gov-client-public-ip",
    "gov-client-public-ip-timestamp",
    "gov-client-public-port",
    "gov-client-screens",
    "gov-client-timezone",
    "gov-client-user-ids",
    "gov-client-window-size",
    "gov-vendor-forwarded",
    "gov-vendor-license-ids",
    "gov-vendor-product-name",
    "gov-vendor-public-ip",
    "gov-vendor-version",
];

const BATCH_PROCESS_DIRECT: [&str; 11] = [
    "gov-client-connection-method",
    "gov-client-device-id",
    "gov-client-local-ips",
    "gov-client-local-ips-timestamp",
    "gov-client-mac-addresses",
    "gov-client-timezone",
    "gov-client-user-agent",
    "gov-client-user-ids",
    "gov-vendor-license-ids",
    "gov-vendor-product-name",
    "gov-vendor-version",
];

const OTHER_METHODS: [&str; 6] = [
    "DESKTOP_APP_DIRECT",
    "DESKTOP_APP_VIA_SERVER",
    "MOBILE_APP_DIRECT",
    "MOBILE_APP_VIA_SERVER",
    "OTHER_DIRECT",
    "OTHER_VIA_SERVER",
];

const PLACEHOLDERS: [&str; 6] = ["null", "undefined", "unknown", "none", "n/a", "nil"];

static TIMESTAMP_MS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$").expect("valid timestamp regex")
});
static MFA_TIMESTAMP: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{3})?)?Z$").expect("valid MFA regex")
});
static TIMEZONE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^UTC[+-](0\d|1[0-4]):[0-5]\d$").expect("valid timezone regex"));
static MAC: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$").expect("valid MAC regex"));

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Severity {
    Error,
    Warning,
}

/// Findings accumulated while checking, grouped by (severity, code, message).
#[derive(Default)]
struct Findings(BTreeMap<(Severity, String, String), Vec<String>>);

impl Findings {
    fn add(&mut self, severity: Severity, code: &str, message: &str, header: &str) {
        let headers = self
            .0
            .entry((severity, code.to_owned(), message.to_owned()))
            .or_default();
        if !headers.iter().any(|h| h == header) {
            headers.push(header.to_owned());
        }
    }

    fn invalid(&mut self, header: &str, message: &str) {
        self.add(Severity::Error, "INVALID_HEADER", message, header);
    }

    fn warn(&mut self, header: &str, message: &str) {
        self.add(
            Severity::Warning,
            "POTENTIALLY_INVALID_HEADER",
            message,
            header,
        );
    }

    fn into_report(self, connection_method: Option<String>) -> FraudReport {
        let mut errors = Vec::new();
        let mut warnings = Vec::new();
        for ((severity, code, message), headers) in self.0 {
            let finding = Finding {
                code,
                message,
                headers,
            };
            match severity {
                Severity::Error => errors.push(finding),
                Severity::Warning => warnings.push(finding),
            }
        }
        let (code, message) = if !errors.is_empty() {
            ("INVALID_HEADERS", "At least 1 header is invalid")
        } else if !warnings.is_empty() {
            (
                "POTENTIALLY_INVALID_HEADERS",
                "At least 1 header is potentially invalid",
            )
        } else {
            ("VALID_HEADERS", "All headers appear to be valid")
        };
        FraudReport {
            spec_version: SPEC_VERSION.to_owned(),
            code: code.to_owned(),
            message: message.to_owned(),
            connection_method,
            errors,
            warnings,
        }
    }
}

/// Checks the fraud-prevention headers of one request.
///
/// ```
/// use http::HeaderMap;
/// let report = hmrc_sandbox::fraud::validate(&HeaderMap::new());
/// assert_eq!(report.code, "INVALID_HEADERS");
/// assert_eq!(report.errors[0].headers, vec!["gov-client-connection-method"]);
/// ```
pub fn validate(headers: &HeaderMap) -> FraudReport {
    let mut findings = Findings::default();
    let method = match single_value(headers, "gov-client-connection-method", &mut findings) {
        Some(m) => m,
        None => return findings.into_report(None),
    };
    let required: &[&str] = match method.as_str() {
        "WEB_APP_VIA_SERVER" => &WEB_APP_VIA_SERVER,
        "BATCH_PROCESS_DIRECT" => &BATCH_PROCESS_DIRECT,
        other if OTHER_METHODS.contains(&other) => {
            findings.warn(
                "gov-client-connection-method",
                "This sandbox checks the headers of WEB_APP_VIA_SERVER and BATCH_PROCESS_DIRECT only",
            );
            return findings.into_report(Some(method));
        }
        _ => {
            findings.invalid(
                "gov-client-connection-method",
                "Value must be a connection method from the specification, for example WEB_APP_VIA_SERVER or BATCH_PROCESS_DIRECT",
            );
            return findings.into_report(Some(method));
        }
    };
    let mut values = BTreeMap::new();
    for name in required.iter().skip(1) {
        if let Some(v) = single_value(headers, name, &mut findings) {
            values.insert(*name, v);
        }
    }
    for (name, value) in &values {
        check_header(name, value, &method, &values, &mut findings);
    }
    findings.into_report(Some(method))
}

/// The one value of a required header, recording why it is unusable otherwise.
fn single_value(headers: &HeaderMap, name: &str, findings: &mut Findings) -> Option<String> {
    let all: Vec<_> = headers.get_all(name).iter().collect();
    let Some(first) = all.first() else {
        findings.add(Severity::Error, "MISSING_HEADER", "Header required", name);
        return None;
    };
    if all.len() > 1 {
        findings.invalid(name, "Header must be sent once");
        return None;
    }
    let Ok(value) = first.to_str() else {
        findings.invalid(
            name,
            "Value must be US-ASCII; percent-encode any other character",
        );
        return None;
    };
    let value = value.trim();
    if value.is_empty() {
        findings.add(
            Severity::Error,
            "EMPTY_HEADER",
            "Value must not be empty unless agreed with HMRC",
            name,
        );
        return None;
    }
    if PLACEHOLDERS.contains(&value.to_ascii_lowercase().as_str()) {
        findings.invalid(
            name,
            "Value must be real data, not a placeholder such as null or unknown",
        );
        return None;
    }
    Some(value.to_owned())
}

fn check_header(
    name: &str,
    value: &str,
    method: &str,
    all: &BTreeMap<&str, String>,
    f: &mut Findings,
) {
    match name {
        "gov-client-device-id" if (uuid::Uuid::try_parse(value).is_err() || value.len() != 36) => {
            f.invalid(name, "Value must be a UUID");
        }
        "gov-client-public-ip" | "gov-vendor-public-ip" => match decode(value) {
            Some(ip) => match ip.parse::<IpAddr>() {
                Ok(addr) if !is_public(addr) => {
                    f.warn(
                        name,
                        "Value is a private or local IP address, not a public one",
                    );
                }
                Ok(_) => {}
                Err(_) => f.invalid(name, "Value must be an IPv4 or IPv6 address"),
            },
            None => f.invalid(name, "Value must be percent-encoded"),
        },
        "gov-client-public-ip-timestamp" | "gov-client-local-ips-timestamp"
            if !valid_timestamp(value) =>
        {
            f.invalid(
                name,
                "Value must be a UTC timestamp in the format yyyy-MM-ddThh:mm:ss.sssZ",
            );
        }
        "gov-client-public-port" => match value.parse::<u32>() {
            Ok(port) if (1..=65535).contains(&port) && !value.starts_with('+') => {
                if port == 80 || port == 443 {
                    f.warn(
                        name,
                        "Value looks like a server port; send the client's source port",
                    );
                }
            }
            _ => f.invalid(name, "Value must be a port number from 1 to 65535"),
        },
        "gov-client-timezone" if !TIMEZONE.is_match(value) => {
            f.invalid(name, "Value must be in the format UTC±hh:mm");
        }
        "gov-client-screens" => match list_of_kv(value) {
            Some(items) if !items.is_empty() => {
                for item in items {
                    let ok = positive_int(get(&item, "width"))
                        && positive_int(get(&item, "height"))
                        && positive_number(get(&item, "scaling-factor"))
                        && positive_int(get(&item, "colour-depth"));
                    if !ok {
                        f.invalid(
                            name,
                            "Each screen must be width=..&height=..&scaling-factor=..&colour-depth=.. with positive numbers",
                        );
                    }
                }
            }
            _ => f.invalid(
                name,
                "Value must be a list of percent-encoded key-value structures",
            ),
        },
        "gov-client-window-size" => match kv(value) {
            Some(item)
                if positive_int(get(&item, "width")) && positive_int(get(&item, "height")) => {}
            _ => f.invalid(
                name,
                "Value must be width=..&height=.. with positive integers",
            ),
        },
        "gov-client-multi-factor" => match list_of_kv(value) {
            Some(items) if !items.is_empty() => {
                for item in items {
                    let type_ok =
                        matches!(get(&item, "type"), Some("TOTP" | "AUTH_CODE" | "OTHER"));
                    let ts_ok = get(&item, "timestamp").is_some_and(|t| MFA_TIMESTAMP.is_match(t));
                    let ref_ok = get(&item, "unique-reference").is_some_and(|r| !r.is_empty());
                    if !(type_ok && ts_ok && ref_ok) {
                        f.invalid(
                            name,
                            "Each factor must have type (TOTP, AUTH_CODE or OTHER), a UTC timestamp and a unique-reference",
                        );
                    }
                }
            }
            _ => f.invalid(
                name,
                "Value must be a list of percent-encoded key-value structures",
            ),
        },
        "gov-client-user-ids" => match kv(value) {
            Some(items) if !items.is_empty() && items.iter().all(|(_, v)| !v.is_empty()) => {
                if method == "BATCH_PROCESS_DIRECT" && get(&items, "os").is_none() {
                    f.invalid(
                        name,
                        "Value must include the operating system user as os=...",
                    );
                }
            }
            _ => f.invalid(
                name,
                "Value must be percent-encoded key-value pairs with non-empty values",
            ),
        },
        "gov-client-browser-js-user-agent" if !value.starts_with("Mozilla/") => {
            f.warn(
                name,
                "Value does not look like a browser's navigator.userAgent",
            );
        }
        "gov-client-user-agent" => match kv(value) {
            Some(items)
                if [
                    "os-family",
                    "os-version",
                    "device-manufacturer",
                    "device-model",
                ]
                .iter()
                .all(|k| get(&items, k).is_some_and(|v| !v.is_empty())) => {}
            _ => f.invalid(
                name,
                "Value must be os-family=..&os-version=..&device-manufacturer=..&device-model=..",
            ),
        },
        "gov-client-local-ips" => match list(value) {
            Some(items) => {
                for item in items {
                    if item.contains(':') {
                        f.invalid(name, "IPv6 addresses must be percent-encoded");
                    } else if decode(&item)
                        .and_then(|d| d.parse::<IpAddr>().ok())
                        .is_none()
                    {
                        f.invalid(name, "Each value must be an IP address");
                    }
                }
            }
            None => f.invalid(name, "Value must be a list of percent-encoded values"),
        },
        "gov-client-mac-addresses" => match list(value) {
            Some(items) => {
                for item in items {
                    if item.contains(':') {
                        f.invalid(name, "MAC addresses must be percent-encoded");
                    } else {
                        match decode(&item) {
                            Some(mac) if MAC.is_match(&mac) => {
                                if mac == "00:00:00:00:00:00" {
                                    f.warn(name, "Value contains an all-zero MAC address");
                                }
                            }
                            _ => f.invalid(name, "Each value must be a MAC address"),
                        }
                    }
                }
            }
            None => f.invalid(name, "Value must be a list of percent-encoded values"),
        },
        "gov-vendor-forwarded" => match list_of_kv(value) {
            Some(hops) if !hops.is_empty() => {
                let ips_ok = hops.iter().all(|hop| {
                    ["by", "for"]
                        .iter()
                        .all(|k| get(hop, k).is_some_and(|ip| ip.parse::<IpAddr>().is_ok()))
                });
                if !ips_ok {
                    f.invalid(name, "Each hop must be by=<IP>&for=<IP>");
                } else {
                    let first = &hops[0];
                    let vendor = all.get("gov-vendor-public-ip").and_then(|v| decode(v));
                    let client = all.get("gov-client-public-ip").and_then(|v| decode(v));
                    if vendor.is_some_and(|v| get(first, "by") != Some(v.as_str()))
                        || client.is_some_and(|c| get(first, "for") != Some(c.as_str()))
                    {
                        f.invalid(
                            name,
                            "The first hop's by must equal Gov-Vendor-Public-IP and its for must equal Gov-Client-Public-IP",
                        );
                    }
                }
            }
            _ => f.invalid(name, "Value must be a list of by=..&for=.. structures"),
        },
        "gov-vendor-license-ids" | "gov-vendor-version" => match kv(value) {
            Some(items)
                if !items.is_empty()
                    && items.iter().all(|(k, v)| !k.is_empty() && !v.is_empty()) => {}
            _ => f.invalid(
                name,
                "Value must be percent-encoded key-value pairs with non-empty values",
            ),
        },
        "gov-vendor-product-name" if decode(value).is_none() => {
            f.invalid(name, "Value must be percent-encoded");
        }
        _ => {}
    }
}

fn valid_timestamp(value: &str) -> bool {
    TIMESTAMP_MS.is_match(value)
        && NaiveDateTime::parse_from_str(value, "%Y-%m-%dT%H:%M:%S%.3fZ").is_ok()
}

/// Percent-decodes a value that must be fully encoded: only unreserved characters and `%HH`
/// escapes may appear raw.
fn decode(value: &str) -> Option<String> {
    let bytes = value.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            if !hex.iter().all(u8::is_ascii_hexdigit) {
                return None;
            }
            i += 3;
            continue;
        }
        if !(b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')) {
            return None;
        }
        i += 1;
    }
    percent_decode_str(value)
        .decode_utf8()
        .ok()
        .map(|c| c.into_owned())
}

/// `k1=v1&k2=v2`, keys and values percent-decoded. A key without a value is allowed.
fn kv(value: &str) -> Option<Vec<(String, String)>> {
    value
        .split('&')
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            Some((decode(k)?, decode(v)?))
        })
        .filter(|r| r.as_ref().is_none_or(|(k, _)| !k.is_empty()))
        .collect()
}

/// `v1,v2`: non-empty items, each still encoded.
fn list(value: &str) -> Option<Vec<String>> {
    let items: Vec<String> = value.split(',').map(str::to_owned).collect();
    if items.iter().any(String::is_empty) {
        return None;
    }
    Some(items)
}

fn list_of_kv(value: &str) -> Option<Vec<Vec<(String, String)>>> {
    list(value)?.iter().map(|item| kv(item)).collect()
}

fn get<'a>(items: &'a [(String, String)], key: &str) -> Option<&'a str> {
    items
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

fn positive_int(value: Option<&str>) -> bool {
    value
        .and_then(|v| v.parse::<u64>().ok())
        .is_some_and(|n| n > 0)
}

fn positive_number(value: Option<&str>) -> bool {
    value
        .and_then(|v| v.parse::<f64>().ok())
        .is_some_and(|n| n > 0.0 && n.is_finite())
}

fn is_public(addr: IpAddr) -> bool {
    match addr {
        IpAddr::V4(v4) => {
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast())
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    pub(crate) fn web_headers() -> HeaderMap {
        let mut h = HeaderMap::new();
        let pairs = [
            ("gov-client-connection-method", "WEB_APP_VIA_SERVER"),
            (
                "gov-client-browser-js-user-agent",
                "Mozilla/5.0 (X11; Linux x86_64)",
            ),
            (
                "gov-client-device-id",
                "beec798b-b366-47fa-b1f8-92cede14a1ce",
            ),
            (
                "gov-client-multi-factor",
                "type=AUTH_CODE&timestamp=2021-11-21T13%3A23Z&unique-reference=fc4b5fd6816f75a7c",
            ),
            ("gov-client-public-ip", "198.51.100.0"),
            ("gov-client-public-ip-timestamp", "2020-09-21T14:30:05.123Z"),
            ("gov-client-public-port", "12345"),
            (
                "gov-client-screens",
                "width=1920&height=1080&scaling-factor=1&colour-depth=16",
            ),
            ("gov-client-timezone", "UTC+00:00"),
            ("gov-client-user-ids", "my-application=alice123"),
            ("gov-client-window-size", "width=1256&height=803"),
            ("gov-vendor-forwarded", "by=203.0.113.6&for=198.51.100.0"),
            (
                "gov-vendor-license-ids",
                "my-licensed-software=8D7963490527D33716835EE7C195516D",
            ),
            ("gov-vendor-product-name", "Product%20Name"),
            ("gov-vendor-public-ip", "203.0.113.6"),
            ("gov-vendor-version", "my-web-app=2.2.2"),
        ];
        for (k, v) in pairs {
            h.insert(k, HeaderValue::from_static(v));
        }
        h
    }

    fn batch_headers() -> HeaderMap {
        let mut h = HeaderMap::new();
        let pairs = [
            ("gov-client-connection-method", "BATCH_PROCESS_DIRECT"),
            (
                "gov-client-device-id",
                "beec798b-b366-47fa-b1f8-92cede14a1ce",
            ),
            ("gov-client-local-ips", "fc00%3A%3A,10.1.2.3"),
            ("gov-client-local-ips-timestamp", "2020-09-21T14:30:05.123Z"),
            ("gov-client-mac-addresses", "ea%3A43%3A1a%3A5d%3A21%3A45"),
            ("gov-client-timezone", "UTC+00:00"),
            (
                "gov-client-user-agent",
                "os-family=Windows&os-version=Server%202012&device-manufacturer=Dell%20Inc.&device-model=OptiPlex%20980",
            ),
            (
                "gov-client-user-ids",
                "os=domain%5Calice&my-application=alice123",
            ),
            (
                "gov-vendor-license-ids",
                "my-licensed-software=8D7963490527D33716835EE7C195516D",
            ),
            ("gov-vendor-product-name", "Product%20Name"),
            ("gov-vendor-version", "my-application=1.6.0"),
        ];
        for (k, v) in pairs {
            h.insert(k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn the_specification_examples_are_valid() {
        let web = validate(&web_headers());
        assert_eq!(web.code, "VALID_HEADERS", "{web:?}");
        let batch = validate(&batch_headers());
        assert_eq!(batch.code, "VALID_HEADERS", "{batch:?}");
    }

    #[test]
    fn a_missing_header_is_an_error_naming_it() {
        let mut h = web_headers();
        h.remove("gov-client-public-port");
        let report = validate(&h);
        assert_eq!(report.code, "INVALID_HEADERS");
        assert_eq!(report.errors[0].code, "MISSING_HEADER");
        assert_eq!(report.errors[0].headers, vec!["gov-client-public-port"]);
    }

    #[test]
    fn encoding_rules_are_enforced() {
        let mut h = batch_headers();
        h.insert(
            "gov-client-local-ips",
            HeaderValue::from_static("fc00::,10.1.2.3"),
        );
        h.insert(
            "gov-vendor-product-name",
            HeaderValue::from_static("Product Name"),
        );
        h.insert(
            "gov-client-user-ids",
            HeaderValue::from_static("my-application=alice123"),
        );
        let report = validate(&h);
        let flagged: Vec<_> = report
            .errors
            .iter()
            .flat_map(|e| e.headers.clone())
            .collect();
        assert!(flagged.contains(&"gov-client-local-ips".to_owned()));
        assert!(flagged.contains(&"gov-vendor-product-name".to_owned()));
        assert!(flagged.contains(&"gov-client-user-ids".to_owned()));
    }

    #[test]
    fn private_addresses_are_only_warnings() {
        let mut h = web_headers();
        h.insert("gov-client-public-ip", HeaderValue::from_static("10.0.0.1"));
        h.insert(
            "gov-vendor-forwarded",
            HeaderValue::from_static("by=203.0.113.6&for=10.0.0.1"),
        );
        let report = validate(&h);
        assert_eq!(report.code, "POTENTIALLY_INVALID_HEADERS", "{report:?}");
        assert_eq!(report.warnings[0].headers, vec!["gov-client-public-ip"]);
    }

    #[test]
    fn placeholders_and_empty_values_are_errors() {
        let mut h = web_headers();
        h.insert("gov-client-timezone", HeaderValue::from_static("null"));
        h.insert("gov-client-screens", HeaderValue::from_static(""));
        let report = validate(&h);
        let codes: Vec<_> = report.errors.iter().map(|e| e.code.as_str()).collect();
        assert!(codes.contains(&"EMPTY_HEADER"));
        assert!(codes.contains(&"INVALID_HEADER"));
    }

    #[test]
    fn forwarded_must_match_the_public_ips() {
        let mut h = web_headers();
        h.insert(
            "gov-vendor-forwarded",
            HeaderValue::from_static("by=203.0.113.7&for=198.51.100.0"),
        );
        let report = validate(&h);
        assert_eq!(report.errors[0].headers, vec!["gov-vendor-forwarded"]);
    }
}
