//! Fraud-prevention headers: the one bridge between the values the store keeps with a
//! submission (a map of header name → value as sent) and `hmrc-mtd`'s typed headers, plus the
//! server's own description ([`VendorInfo`]) for the `Gov-Vendor-*` values and for
//! `BATCH_PROCESS_DIRECT`.
//!
//! * Work a user started (every submission, a user-started obligations fetch) replays the
//!   `WEB_APP_VIA_SERVER` values captured from the user's request: the app calls [`capture`]
//!   when the user asks, stores the map with the submission, and the functions call
//!   [`replay`] on every HMRC call of that submission.
//! * Work nobody started (the scheduled obligations refresh) sends `BATCH_PROCESS_DIRECT`
//!   headers describing this server ([`VendorInfo::batch_headers`]), with
//!   `Gov-Client-Local-IPs-Timestamp` stamped at each call.
//!
//! ```
//! use chrono::{TimeZone, Utc};
//! use hmrc_mtd::fraud::{Screen, WebAppViaServer};
//! use mtd_functions::fraud;
//!
//! let captured = WebAppViaServer::new()
//!     .browser_js_user_agent("Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0")
//!     .device_id("beec798b-b366-47fa-b1f8-92cede14a1ce")
//!     .public_ip("198.51.100.7".parse()?)
//!     .public_ip_timestamp(Utc.with_ymd_and_hms(2025, 7, 1, 9, 30, 0).unwrap())
//!     .public_port(52311)
//!     .screens(vec![Screen { width: 1920, height: 1080, scaling_factor: 1.25, colour_depth: 24 }])
//!     .timezone_offset_minutes(60)
//!     .user_id("my-tax-app", "alice@example.com")
//!     .window_size(1256, 803);
//! let stored = fraud::capture(&captured);
//! assert_eq!(stored["Gov-Client-Connection-Method"], "WEB_APP_VIA_SERVER");
//! assert_eq!(stored["Gov-Client-User-IDs"], "my-tax-app=alice%40example.com");
//! assert_eq!(fraud::replay(&stored)?, captured);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use hmrc_mtd::fraud::{
    BATCH_PROCESS_DIRECT, BatchProcessDirect, DeviceUserAgent, ForwardedHop,
    FraudPreventionHeaders, MfaKind, MultiFactor, Screen, WEB_APP_VIA_SERVER, WebAppViaServer,
    WindowSize,
};
use percent_encoding::percent_decode_str;
use serde::{Deserialize, Serialize};

const CONNECTION_METHOD: &str = "Gov-Client-Connection-Method";

/// Why stored header values cannot be replayed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FraudHeadersError {
    /// The stored values are not `WEB_APP_VIA_SERVER` values.
    #[error(
        "the stored fraud-prevention headers are for connection method {found:?}, not \
         WEB_APP_VIA_SERVER; capture them from the user's request with fraud::capture"
    )]
    ConnectionMethod {
        /// What was stored (`None` when the header is missing).
        found: Option<String>,
    },
    /// A header this bridge does not know.
    #[error(
        "unknown fraud-prevention header {0:?} in the stored values; store only the headers of \
         WEB_APP_VIA_SERVER"
    )]
    UnknownHeader(String),
    /// A stored value does not follow HMRC's encoding for its header.
    #[error("the stored value of {header} cannot be read: {reason}")]
    Malformed {
        /// The header.
        header: String,
        /// What is wrong.
        reason: String,
    },
}

/// The header values to store with a submission, as they are sent to HMRC (header name →
/// encoded value), `Gov-Client-Connection-Method` included.
pub fn capture(headers: &WebAppViaServer) -> BTreeMap<String, String> {
    FraudPreventionHeaders::WebAppViaServer(headers.clone())
        .to_headers(Utc::now())
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value))
        .collect()
}

/// The typed `WEB_APP_VIA_SERVER` headers of stored values: the inverse of [`capture`].
/// Header names match case-insensitively; unknown headers and values that break HMRC's
/// encoding are errors naming the header.
pub fn replay(stored: &BTreeMap<String, String>) -> Result<WebAppViaServer, FraudHeadersError> {
    let method = stored
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(CONNECTION_METHOD))
        .map(|(_, v)| v.clone());
    if method.as_deref() != Some(WEB_APP_VIA_SERVER) {
        return Err(FraudHeadersError::ConnectionMethod { found: method });
    }
    let mut out = WebAppViaServer::new();
    for (name, value) in stored {
        let header = WebAppViaServer::HEADER_NAMES
            .iter()
            .find(|known| known.eq_ignore_ascii_case(name))
            .ok_or_else(|| FraudHeadersError::UnknownHeader(name.clone()))?;
        let bad = |reason: String| FraudHeadersError::Malformed {
            header: (*header).to_owned(),
            reason,
        };
        match *header {
            "Gov-Client-Connection-Method" => {}
            "Gov-Client-Browser-JS-User-Agent" => {
                out.browser_js_user_agent = Some(decode(value).map_err(bad)?)
            }
            "Gov-Client-Device-ID" => out.device_id = Some(decode(value).map_err(bad)?),
            "Gov-Client-Multi-Factor" => out.multi_factor = Some(multi_factor(value).map_err(bad)?),
            "Gov-Client-Public-IP" => out.public_ip = Some(parse(value).map_err(bad)?),
            "Gov-Client-Public-IP-Timestamp" => {
                out.public_ip_timestamp = Some(timestamp(value).map_err(bad)?)
            }
            "Gov-Client-Public-Port" => out.public_port = Some(parse(value).map_err(bad)?),
            "Gov-Client-Screens" => out.screens = Some(screens(value).map_err(bad)?),
            "Gov-Client-Timezone" => out.timezone = Some(decode(value).map_err(bad)?),
            "Gov-Client-User-IDs" => out.user_ids = Some(key_values(value).map_err(bad)?),
            "Gov-Client-Window-Size" => {
                let kv = key_values(value).map_err(bad)?;
                out.window_size = Some(WindowSize {
                    width: field(&kv, "width").map_err(bad)?,
                    height: field(&kv, "height").map_err(bad)?,
                });
            }
            "Gov-Vendor-Forwarded" => out.vendor_forwarded = Some(forwarded(value).map_err(bad)?),
            "Gov-Vendor-License-IDs" => {
                out.vendor_license_ids = Some(key_values(value).map_err(bad)?)
            }
            "Gov-Vendor-Product-Name" => {
                out.vendor_product_name = Some(decode(value).map_err(bad)?)
            }
            "Gov-Vendor-Public-IP" => out.vendor_public_ip = Some(parse(value).map_err(bad)?),
            "Gov-Vendor-Version" => out.vendor_version = Some(key_values(value).map_err(bad)?),
            other => return Err(FraudHeadersError::UnknownHeader(other.to_owned())),
        }
    }
    Ok(out)
}

/// Whether stored values were captured for a batch process (no user involved).
pub fn is_batch(stored: &BTreeMap<String, String>) -> bool {
    stored
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case(CONNECTION_METHOD) && v == BATCH_PROCESS_DIRECT)
}

fn decode(value: &str) -> Result<String, String> {
    percent_decode_str(value)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|e| format!("invalid percent-encoding: {e}"))
}

fn parse<T: FromStr>(value: &str) -> Result<T, String>
where
    T::Err: std::fmt::Display,
{
    decode(value)?
        .parse()
        .map_err(|e| format!("{value:?}: {e}"))
}

fn timestamp(value: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(&decode(value)?)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("{value:?} is not a UTC timestamp: {e}"))
}

/// `k1=v1&k2=v2`, keys and values percent-encoded.
fn key_values(value: &str) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    if value.is_empty() {
        return Ok(out);
    }
    for pair in value.split('&') {
        let (k, v) = pair
            .split_once('=')
            .ok_or_else(|| format!("{pair:?} is not key=value"))?;
        out.insert(decode(k)?, decode(v)?);
    }
    Ok(out)
}

fn field<T: FromStr>(kv: &BTreeMap<String, String>, key: &str) -> Result<T, String>
where
    T::Err: std::fmt::Display,
{
    let raw = kv.get(key).ok_or_else(|| format!("{key} is missing"))?;
    raw.parse().map_err(|e| format!("{key}={raw:?}: {e}"))
}

/// A comma-separated list of key-value structures.
fn items(value: &str) -> Result<Vec<BTreeMap<String, String>>, String> {
    if value.is_empty() {
        return Ok(Vec::new());
    }
    value.split(',').map(key_values).collect()
}

fn multi_factor(value: &str) -> Result<Vec<MultiFactor>, String> {
    items(value)?
        .into_iter()
        .map(|kv| {
            let kind = match kv.get("type").map(String::as_str) {
                Some("TOTP") => MfaKind::Totp,
                Some("AUTH_CODE") => MfaKind::AuthCode,
                Some("OTHER") => MfaKind::Other,
                other => return Err(format!("unknown factor type {other:?}")),
            };
            let at = kv
                .get("timestamp")
                .ok_or_else(|| "timestamp is missing".to_owned())?;
            Ok(MultiFactor {
                kind,
                timestamp: timestamp(at)?,
                unique_reference: kv.get("unique-reference").cloned().unwrap_or_default(),
            })
        })
        .collect()
}

fn screens(value: &str) -> Result<Vec<Screen>, String> {
    items(value)?
        .into_iter()
        .map(|kv| {
            Ok(Screen {
                width: field(&kv, "width")?,
                height: field(&kv, "height")?,
                scaling_factor: field(&kv, "scaling-factor")?,
                colour_depth: field(&kv, "colour-depth")?,
            })
        })
        .collect()
}

fn forwarded(value: &str) -> Result<Vec<ForwardedHop>, String> {
    items(value)?
        .into_iter()
        .map(|kv| {
            Ok(ForwardedHop {
                by: field(&kv, "by")?,
                for_: field(&kv, "for")?,
            })
        })
        .collect()
}

/// This product and the server it runs on: the `Gov-Vendor-*` values of every call, and the
/// device description of `BATCH_PROCESS_DIRECT` calls (digest §10: the batch server's own
/// device id, local IPs, MAC addresses, time zone, OS and OS user).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct VendorInfo {
    /// `Gov-Vendor-Product-Name`.
    pub product_name: String,
    /// `Gov-Vendor-Version`: software name → version.
    pub versions: BTreeMap<String, String>,
    /// `Gov-Vendor-License-IDs`: software name → hashed licence key.
    pub license_ids: BTreeMap<String, String>,
    /// `Gov-Vendor-Public-IP`: the public IP users' browsers connect to.
    pub public_ip: Option<IpAddr>,
    /// `Gov-Client-Device-ID` of the batch server: a UUID kept on the server.
    pub device_id: String,
    /// `Gov-Client-Local-IPs` of the batch server.
    pub local_ips: Vec<IpAddr>,
    /// `Gov-Client-MAC-Addresses` of the batch server.
    pub mac_addresses: Vec<String>,
    /// `Gov-Client-Timezone` of the batch server (`UTC+00:00`).
    pub timezone: String,
    /// `Gov-Client-User-Agent` of the batch server.
    pub user_agent: DeviceUserAgent,
    /// The OS user the batch runs as (`Gov-Client-User-IDs: os=<user>`).
    pub os_user: String,
}

impl VendorInfo {
    /// A product with one software version (`product_name` → `version`) and a batch server
    /// described by the rest of the fields, which start empty; fill them from configuration.
    pub fn new(product_name: impl Into<String>, version: impl Into<String>) -> Self {
        let product_name = product_name.into();
        Self {
            versions: BTreeMap::from([(product_name.clone(), version.into())]),
            product_name,
            license_ids: BTreeMap::new(),
            public_ip: None,
            device_id: String::new(),
            local_ips: Vec::new(),
            mac_addresses: Vec::new(),
            timezone: "UTC+00:00".to_owned(),
            user_agent: DeviceUserAgent::default(),
            os_user: String::new(),
        }
    }

    /// Adds a `Gov-Vendor-License-IDs` entry.
    #[must_use]
    pub fn license_id(
        mut self,
        software: impl Into<String>,
        hashed_key: impl Into<String>,
    ) -> Self {
        self.license_ids.insert(software.into(), hashed_key.into());
        self
    }

    /// Sets `Gov-Vendor-Public-IP`.
    #[must_use]
    pub fn public_ip(mut self, ip: IpAddr) -> Self {
        self.public_ip = Some(ip);
        self
    }

    /// Describes the batch server: device id, local IPs, MAC addresses, OS and OS user.
    #[must_use]
    pub fn batch_server(
        mut self,
        device_id: impl Into<String>,
        local_ips: Vec<IpAddr>,
        mac_addresses: Vec<String>,
        user_agent: DeviceUserAgent,
        os_user: impl Into<String>,
    ) -> Self {
        self.device_id = device_id.into();
        self.local_ips = local_ips;
        self.mac_addresses = mac_addresses;
        self.user_agent = user_agent;
        self.os_user = os_user.into();
        self
    }

    /// Fills the `Gov-Vendor-*` values (product name, versions, licence ids, public IP) of
    /// headers captured from a user's request; the app calls it before [`capture`].
    pub fn apply_to(&self, mut headers: WebAppViaServer) -> WebAppViaServer {
        headers.vendor_product_name = Some(self.product_name.clone());
        headers.vendor_version = Some(self.versions.clone());
        if !self.license_ids.is_empty() {
            headers.vendor_license_ids = Some(self.license_ids.clone());
        }
        if let Some(ip) = self.public_ip {
            headers.vendor_public_ip = Some(ip);
        }
        headers
    }

    /// The `BATCH_PROCESS_DIRECT` headers of this server (the local-IPs timestamp is added by
    /// the client at each call).
    pub fn batch_headers(&self) -> BatchProcessDirect {
        let mut headers = BatchProcessDirect::new()
            .device_id(self.device_id.clone())
            .local_ips(self.local_ips.clone())
            .mac_addresses(self.mac_addresses.clone())
            .timezone(self.timezone.clone())
            .user_agent(self.user_agent.clone())
            .user_id("os", self.os_user.clone())
            .vendor_product_name(self.product_name.clone());
        headers.vendor_version = Some(self.versions.clone());
        if !self.license_ids.is_empty() {
            headers.vendor_license_ids = Some(self.license_ids.clone());
        }
        headers
    }

    /// The batch headers as the store keeps them, for the audit row of a scheduled fetch.
    pub fn batch_header_values(&self, at: DateTime<Utc>) -> BTreeMap<String, String> {
        FraudPreventionHeaders::BatchProcessDirect(self.batch_headers())
            .to_headers(at)
            .into_iter()
            .map(|(name, value)| (name.to_owned(), value))
            .collect()
    }
}

/// The headers to send for a stored submission: its captured `WEB_APP_VIA_SERVER` values, or
/// this server's `BATCH_PROCESS_DIRECT` headers when the row was recorded by a batch.
pub fn headers_for(
    stored: &BTreeMap<String, String>,
    vendor: &VendorInfo,
) -> Result<FraudPreventionHeaders, FraudHeadersError> {
    if is_batch(stored) {
        Ok(FraudPreventionHeaders::BatchProcessDirect(
            vendor.batch_headers(),
        ))
    } else {
        replay(stored).map(FraudPreventionHeaders::WebAppViaServer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn full() -> WebAppViaServer {
        WebAppViaServer::new()
            .browser_js_user_agent(
                "Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/130.0 %odd",
            )
            .device_id("beec798b-b366-47fa-b1f8-92cede14a1ce")
            .multi_factor(MultiFactor {
                kind: MfaKind::Totp,
                timestamp: Utc.with_ymd_and_hms(2025, 7, 1, 9, 29, 0).unwrap(),
                unique_reference:
                    "fc4b5fd6816f75a7c81fc8eaa9499d6a299bd803397166e8c4cf9280b801d62c".into(),
            })
            .multi_factor(MultiFactor {
                kind: MfaKind::AuthCode,
                timestamp: Utc.with_ymd_and_hms(2025, 7, 1, 9, 29, 30).unwrap(),
                unique_reference: "a&b=c,d".into(),
            })
            .public_ip("2001:db8::7".parse().unwrap())
            .public_ip_timestamp(Utc.with_ymd_and_hms(2025, 7, 1, 9, 30, 0).unwrap())
            .public_port(52311)
            .screens(vec![
                Screen {
                    width: 1920,
                    height: 1080,
                    scaling_factor: 1.0,
                    colour_depth: 24,
                },
                Screen {
                    width: 3000,
                    height: 2000,
                    scaling_factor: 1.25,
                    colour_depth: 16,
                },
            ])
            .timezone_offset_minutes(-330)
            .user_id("my-tax-app", "alice@example.com")
            .user_id("email", "a b&c")
            .window_size(1256, 803)
            .vendor_forwarded(
                "203.0.113.6".parse().unwrap(),
                "198.51.100.7".parse().unwrap(),
            )
            .vendor_forwarded(
                "203.0.113.9".parse().unwrap(),
                "203.0.113.6".parse().unwrap(),
            )
            .vendor_license_id(
                "my-tax-app",
                "8D7963490527D33716835EE7C195516D5E562E03B224E9B359836466EE40CDE1",
            )
            .vendor_product_name("My Tax App, & Co")
            .vendor_public_ip("203.0.113.6".parse().unwrap())
            .vendor_version("my-tax-app", "2.2.2")
            .vendor_version("server", "1.0 beta")
    }

    #[test]
    fn every_header_survives_capture_and_replay_including_reserved_characters() {
        let headers = full();
        let stored = capture(&headers);
        assert_eq!(stored.len(), WebAppViaServer::HEADER_NAMES.len());
        assert_eq!(replay(&stored).unwrap(), headers);
    }

    #[test]
    fn an_empty_multi_factor_header_replays_as_no_multi_factor() {
        let headers = WebAppViaServer::new().no_multi_factor();
        assert_eq!(replay(&capture(&headers)).unwrap(), headers);
    }

    #[test]
    fn replay_refuses_other_methods_unknown_headers_and_bad_values_by_name() {
        let mut stored = capture(&full());
        stored.insert("Gov-Client-Public-Port".into(), "port".into());
        let err = replay(&stored).unwrap_err();
        assert!(
            matches!(&err, FraudHeadersError::Malformed { header, .. } if header == "Gov-Client-Public-Port")
        );
        let mut stored = capture(&full());
        stored.insert("X-Other".into(), "1".into());
        assert_eq!(
            replay(&stored).unwrap_err(),
            FraudHeadersError::UnknownHeader("X-Other".into())
        );
        let batch = VendorInfo::new("p", "1").batch_header_values(Utc::now());
        assert!(is_batch(&batch));
        assert!(matches!(
            replay(&batch).unwrap_err(),
            FraudHeadersError::ConnectionMethod { .. }
        ));
        assert!(matches!(
            replay(&BTreeMap::new()).unwrap_err(),
            FraudHeadersError::ConnectionMethod { found: None }
        ));
    }

    #[test]
    fn batch_rows_are_sent_with_the_servers_batch_headers() {
        let vendor = VendorInfo::new("My Tax App", "2.2.2")
            .license_id(
                "my-tax-app",
                "8D7963490527D33716835EE7C195516D5E562E03B224E9B359836466EE40CDE1",
            )
            .batch_server(
                "a9d5c2f8-9b5e-4c5f-8a65-0d1e4f3c2b1a",
                vec!["10.1.2.3".parse().unwrap()],
                vec!["ea:43:1a:5d:21:45".into()],
                DeviceUserAgent {
                    os_family: "Linux".into(),
                    os_version: "6.8.0".into(),
                    device_manufacturer: "Dell Inc.".into(),
                    device_model: "PowerEdge R650".into(),
                },
                "mtd",
            );
        let stored = vendor.batch_header_values(Utc::now());
        let headers = headers_for(&stored, &vendor).unwrap();
        assert_eq!(headers.connection_method(), BATCH_PROCESS_DIRECT);
        assert!(headers.validate().is_ok(), "{:?}", headers.validate());
    }
}
