//! Fraud-prevention headers (HMRC specification v3.3): typed values for the two connection
//! methods a server-side product uses, the spec's encoding rules, and a check that names every
//! missing or malformed header.
//!
//! * [`WebAppViaServer`] (16 headers) for work a user started in a browser, including
//!   submissions queued and sent later by a background job: capture the values when the user
//!   makes the request, store them with the job (they are `Serialize`/`Deserialize`), and
//!   replay them on every HMRC call of that job.
//! * [`BatchProcessDirect`] (11 headers) for work no user started, such as a scheduled
//!   obligations refresh.
//!
//! Encoding (spec "Getting it right"): values are US-ASCII and anything else is
//! percent-encoded; key-value structures are `k1=v1&k2=v2` with keys and values encoded but
//! not the separators; lists are `v1,v2` with each value encoded; timestamps are UTC
//! `yyyy-MM-ddThh:mm:ss.sssZ`.
//!
//! ```
//! use chrono::{TimeZone, Utc};
//! use hmrc_mtd::fraud::{FraudPreventionHeaders, Screen, WebAppViaServer};
//!
//! let captured = WebAppViaServer::new()
//!     .browser_js_user_agent("Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0")
//!     .device_id("beec798b-b366-47fa-b1f8-92cede14a1ce")
//!     .no_multi_factor()
//!     .public_ip("198.51.100.7".parse()?)
//!     .public_ip_timestamp(Utc.with_ymd_and_hms(2025, 7, 1, 9, 30, 0).unwrap())
//!     .public_port(52311)
//!     .screens(vec![Screen { width: 1920, height: 1080, scaling_factor: 1.0, colour_depth: 24 }])
//!     .timezone_offset_minutes(60)
//!     .user_id("my-tax-app", "alice@example.com")
//!     .window_size(1256, 803)
//!     .vendor_forwarded("203.0.113.6".parse()?, "198.51.100.7".parse()?)
//!     .vendor_license_id("my-tax-app", "8D7963490527D33716835EE7C195516D5E562E03B224E9B359836466EE40CDE1")
//!     .vendor_product_name("My Tax App")
//!     .vendor_public_ip("203.0.113.6".parse()?)
//!     .vendor_version("my-tax-app", "2.2.2");
//! let headers = FraudPreventionHeaders::WebAppViaServer(captured);
//! // Only the empty Gov-Client-Multi-Factor is reported: this app has no MFA, which must
//! // be agreed with HMRC before sending it empty.
//! let problems = headers.validate().unwrap_err();
//! assert_eq!(problems.header_names(), vec!["Gov-Client-Multi-Factor"]);
//! let stored = serde_json::to_string(&headers)?;
//! let replayed: FraudPreventionHeaders = serde_json::from_str(&stored)?;
//! assert_eq!(replayed, headers);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::{
    collections::BTreeMap,
    fmt,
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
    sync::LazyLock,
};

use chrono::{DateTime, SecondsFormat, Utc};
use percent_encoding::{AsciiSet, CONTROLS, NON_ALPHANUMERIC, utf8_percent_encode};
use regex::Regex;
use serde::{Deserialize, Serialize};

/// Everything except RFC 3986 unreserved characters is encoded inside key-value and list
/// components (so `&`, `=`, `,`, `:` and spaces in a value cannot break the structure).
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Free-text single values (such as the browser's user agent) keep printable ASCII; control
/// characters, non-ASCII and `%` itself are encoded.
const FREE_TEXT: &AsciiSet = &CONTROLS.add(b'%');

fn component(value: &str) -> String {
    utf8_percent_encode(value, COMPONENT).to_string()
}

fn free_text(value: &str) -> String {
    utf8_percent_encode(value, FREE_TEXT).to_string()
}

/// `k1=v1&k2=v2`, keys and values percent-encoded.
fn key_values<'a>(pairs: impl IntoIterator<Item = (&'a str, String)>) -> String {
    pairs
        .into_iter()
        .map(|(k, v)| format!("{}={}", component(k), component(&v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// `v1,v2`, each value percent-encoded.
fn list<I: IntoIterator<Item = String>>(values: I) -> String {
    values
        .into_iter()
        .map(|v| component(&v))
        .collect::<Vec<_>>()
        .join(",")
}

/// A UTC timestamp with milliseconds: `2020-09-21T14:30:05.123Z`.
pub fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The fixed value of `Gov-Client-Connection-Method` for each method.
pub const WEB_APP_VIA_SERVER: &str = "WEB_APP_VIA_SERVER";
/// See [`WEB_APP_VIA_SERVER`].
pub const BATCH_PROCESS_DIRECT: &str = "BATCH_PROCESS_DIRECT";

/// The fraud-prevention headers of one connection method, ready to store and replay.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "connectionMethod")]
pub enum FraudPreventionHeaders {
    /// A user in a browser started the action (also when it is sent later by a job).
    #[serde(rename = "WEB_APP_VIA_SERVER")]
    WebAppViaServer(WebAppViaServer),
    /// No user started the action (scheduled work).
    #[serde(rename = "BATCH_PROCESS_DIRECT")]
    BatchProcessDirect(BatchProcessDirect),
}

impl FraudPreventionHeaders {
    /// The connection method's fixed name.
    pub fn connection_method(&self) -> &'static str {
        match self {
            FraudPreventionHeaders::WebAppViaServer(_) => WEB_APP_VIA_SERVER,
            FraudPreventionHeaders::BatchProcessDirect(_) => BATCH_PROCESS_DIRECT,
        }
    }

    /// Every header name this connection method requires, in the spec's order.
    pub fn required_header_names(&self) -> &'static [&'static str] {
        match self {
            FraudPreventionHeaders::WebAppViaServer(_) => WebAppViaServer::HEADER_NAMES,
            FraudPreventionHeaders::BatchProcessDirect(_) => BatchProcessDirect::HEADER_NAMES,
        }
    }

    /// The encoded headers to send on a call made at `now` (`now` is only used for
    /// `Gov-Client-Local-IPs-Timestamp`, which the spec wants taken just before each call).
    /// Missing values are left out; [`FraudPreventionHeaders::validate`] reports them.
    pub fn to_headers(&self, now: DateTime<Utc>) -> Vec<(&'static str, String)> {
        match self {
            FraudPreventionHeaders::WebAppViaServer(h) => h.to_headers(),
            FraudPreventionHeaders::BatchProcessDirect(h) => h.to_headers(now),
        }
    }

    /// Checks every required header and reports each missing, empty or malformed one by name.
    pub fn validate(&self) -> Result<(), FraudHeaderErrors> {
        let problems = match self {
            FraudPreventionHeaders::WebAppViaServer(h) => h.problems(),
            FraudPreventionHeaders::BatchProcessDirect(h) => h.problems(),
        };
        if problems.is_empty() {
            Ok(())
        } else {
            Err(FraudHeaderErrors(problems))
        }
    }
}

/// What is wrong with one header.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind", content = "detail")]
pub enum ProblemKind {
    /// No value was captured.
    Missing,
    /// The value is empty; HMRC only accepts that after it has been agreed with them.
    Empty,
    /// The value breaks the spec's format.
    Malformed(String),
}

/// One header problem.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FraudHeaderProblem {
    /// The header's name, e.g. `Gov-Client-Public-IP`.
    pub header: String,
    /// What is wrong.
    pub problem: ProblemKind,
}

impl fmt::Display for FraudHeaderProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.problem {
            ProblemKind::Missing => write!(f, "{} is missing", self.header),
            ProblemKind::Empty => write!(
                f,
                "{} is empty (only allowed after agreeing it with HMRC)",
                self.header
            ),
            ProblemKind::Malformed(why) => write!(f, "{} is malformed: {why}", self.header),
        }
    }
}

/// Every problem [`FraudPreventionHeaders::validate`] found.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(transparent)]
pub struct FraudHeaderErrors(pub Vec<FraudHeaderProblem>);

impl FraudHeaderErrors {
    /// The names of the headers with problems, in order.
    pub fn header_names(&self) -> Vec<&str> {
        self.0.iter().map(|p| p.header.as_str()).collect()
    }
}

impl fmt::Display for FraudHeaderErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "fraud-prevention headers are incomplete: ")?;
        for (i, problem) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{problem}")?;
        }
        write!(f, "; capture the missing values from the user's device")
    }
}

/// The kind of a multi-factor authentication factor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum MfaKind {
    /// A time-based one-time password.
    #[serde(rename = "TOTP")]
    Totp,
    /// A code sent by SMS, email, etc.
    #[serde(rename = "AUTH_CODE")]
    AuthCode,
    /// Anything else.
    #[serde(rename = "OTHER")]
    Other,
}

impl MfaKind {
    fn as_str(self) -> &'static str {
        match self {
            MfaKind::Totp => "TOTP",
            MfaKind::AuthCode => "AUTH_CODE",
            MfaKind::Other => "OTHER",
        }
    }
}

/// One factor the user passed to sign in to *your* product.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MultiFactor {
    /// Which kind of factor.
    pub kind: MfaKind,
    /// When it was passed.
    pub timestamp: DateTime<Utc>,
    /// A hashed identifier of the factor (the same factor always gives the same value).
    pub unique_reference: String,
}

/// One of the user's screens.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Screen {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// `window.devicePixelRatio`.
    pub scaling_factor: f64,
    /// Colour depth in bits.
    pub colour_depth: u32,
}

/// The browser window's inner size in pixels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowSize {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

/// One internet hop that terminated TLS between the user and your servers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForwardedHop {
    /// The public IP of the server that received the connection.
    pub by: IpAddr,
    /// The public IP it received the connection from.
    #[serde(rename = "for")]
    pub for_: IpAddr,
}

/// The device of a batch process, described by `Gov-Client-User-Agent`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceUserAgent {
    /// e.g. `Linux`.
    pub os_family: String,
    /// e.g. `6.8.0`.
    pub os_version: String,
    /// e.g. `Dell Inc.`.
    pub device_manufacturer: String,
    /// e.g. `PowerEdge R650`.
    pub device_model: String,
}

/// The `WEB_APP_VIA_SERVER` values, captured from the user's browser request.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct WebAppViaServer {
    /// `Gov-Client-Browser-JS-User-Agent`: `navigator.userAgent` as the browser reports it.
    pub browser_js_user_agent: Option<String>,
    /// `Gov-Client-Device-ID`: a UUID kept in a long-lived cookie on the device.
    pub device_id: Option<String>,
    /// `Gov-Client-Multi-Factor`: the factors used to sign in to your product.
    pub multi_factor: Option<Vec<MultiFactor>>,
    /// `Gov-Client-Public-IP`: the device's public IP as your edge saw it.
    pub public_ip: Option<IpAddr>,
    /// `Gov-Client-Public-IP-Timestamp`: when your edge received the request.
    pub public_ip_timestamp: Option<DateTime<Utc>>,
    /// `Gov-Client-Public-Port`: the device's public TCP source port.
    pub public_port: Option<u16>,
    /// `Gov-Client-Screens`.
    pub screens: Option<Vec<Screen>>,
    /// `Gov-Client-Timezone`: `UTC±hh:mm`.
    pub timezone: Option<String>,
    /// `Gov-Client-User-IDs`: the user's account IDs in your product.
    pub user_ids: Option<BTreeMap<String, String>>,
    /// `Gov-Client-Window-Size`.
    pub window_size: Option<WindowSize>,
    /// `Gov-Vendor-Forwarded`: each TLS-terminating hop, the first one being
    /// `by=<Gov-Vendor-Public-IP>&for=<Gov-Client-Public-IP>`.
    pub vendor_forwarded: Option<Vec<ForwardedHop>>,
    /// `Gov-Vendor-License-IDs`: software name → hashed licence key.
    pub vendor_license_ids: Option<BTreeMap<String, String>>,
    /// `Gov-Vendor-Product-Name`.
    pub vendor_product_name: Option<String>,
    /// `Gov-Vendor-Public-IP`: the public IP of the server the device connected to.
    pub vendor_public_ip: Option<IpAddr>,
    /// `Gov-Vendor-Version`: software name → version.
    pub vendor_version: Option<BTreeMap<String, String>>,
}

impl WebAppViaServer {
    /// The 16 headers of `WEB_APP_VIA_SERVER`, in the spec's order.
    pub const HEADER_NAMES: &'static [&'static str] = &[
        "Gov-Client-Connection-Method",
        "Gov-Client-Browser-JS-User-Agent",
        "Gov-Client-Device-ID",
        "Gov-Client-Multi-Factor",
        "Gov-Client-Public-IP",
        "Gov-Client-Public-IP-Timestamp",
        "Gov-Client-Public-Port",
        "Gov-Client-Screens",
        "Gov-Client-Timezone",
        "Gov-Client-User-IDs",
        "Gov-Client-Window-Size",
        "Gov-Vendor-Forwarded",
        "Gov-Vendor-License-IDs",
        "Gov-Vendor-Product-Name",
        "Gov-Vendor-Public-IP",
        "Gov-Vendor-Version",
    ];

    /// Nothing captured yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `Gov-Client-Browser-JS-User-Agent`.
    pub fn browser_js_user_agent(mut self, value: impl Into<String>) -> Self {
        self.browser_js_user_agent = Some(value.into());
        self
    }

    /// Sets `Gov-Client-Device-ID`.
    pub fn device_id(mut self, value: impl Into<String>) -> Self {
        self.device_id = Some(value.into());
        self
    }

    /// Adds a factor to `Gov-Client-Multi-Factor`.
    pub fn multi_factor(mut self, factor: MultiFactor) -> Self {
        self.multi_factor.get_or_insert_with(Vec::new).push(factor);
        self
    }

    /// Declares that the user signed in without multi-factor authentication: the header is
    /// sent empty, which HMRC only accepts after agreeing it with you (reported by `validate`).
    pub fn no_multi_factor(mut self) -> Self {
        self.multi_factor = Some(Vec::new());
        self
    }

    /// Sets `Gov-Client-Public-IP`.
    pub fn public_ip(mut self, value: IpAddr) -> Self {
        self.public_ip = Some(value);
        self
    }

    /// Sets `Gov-Client-Public-IP-Timestamp`.
    pub fn public_ip_timestamp(mut self, value: DateTime<Utc>) -> Self {
        self.public_ip_timestamp = Some(value);
        self
    }

    /// Sets `Gov-Client-Public-Port`.
    pub fn public_port(mut self, value: u16) -> Self {
        self.public_port = Some(value);
        self
    }

    /// Sets `Gov-Client-Screens`.
    pub fn screens(mut self, value: Vec<Screen>) -> Self {
        self.screens = Some(value);
        self
    }

    /// Sets `Gov-Client-Timezone` verbatim (`UTC+01:00`).
    pub fn timezone(mut self, value: impl Into<String>) -> Self {
        self.timezone = Some(value.into());
        self
    }

    /// Sets `Gov-Client-Timezone` from the offset east of UTC in minutes (the browser's
    /// `-new Date().getTimezoneOffset()`).
    pub fn timezone_offset_minutes(self, minutes_east: i32) -> Self {
        self.timezone(utc_offset(minutes_east))
    }

    /// Adds an entry to `Gov-Client-User-IDs`.
    pub fn user_id(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.user_ids
            .get_or_insert_with(BTreeMap::new)
            .insert(key.into(), value.into());
        self
    }

    /// Sets `Gov-Client-Window-Size`.
    pub fn window_size(mut self, width: u32, height: u32) -> Self {
        self.window_size = Some(WindowSize { width, height });
        self
    }

    /// Adds a hop to `Gov-Vendor-Forwarded` (add the hop nearest the user first).
    pub fn vendor_forwarded(mut self, by: IpAddr, for_: IpAddr) -> Self {
        self.vendor_forwarded
            .get_or_insert_with(Vec::new)
            .push(ForwardedHop { by, for_ });
        self
    }

    /// Adds an entry to `Gov-Vendor-License-IDs`.
    pub fn vendor_license_id(
        mut self,
        software: impl Into<String>,
        hashed_key: impl Into<String>,
    ) -> Self {
        self.vendor_license_ids
            .get_or_insert_with(BTreeMap::new)
            .insert(software.into(), hashed_key.into());
        self
    }

    /// Sets `Gov-Vendor-Product-Name`.
    pub fn vendor_product_name(mut self, value: impl Into<String>) -> Self {
        self.vendor_product_name = Some(value.into());
        self
    }

    /// Sets `Gov-Vendor-Public-IP`.
    pub fn vendor_public_ip(mut self, value: IpAddr) -> Self {
        self.vendor_public_ip = Some(value);
        self
    }

    /// Adds an entry to `Gov-Vendor-Version`.
    pub fn vendor_version(
        mut self,
        software: impl Into<String>,
        version: impl Into<String>,
    ) -> Self {
        self.vendor_version
            .get_or_insert_with(BTreeMap::new)
            .insert(software.into(), version.into());
        self
    }

    fn to_headers(&self) -> Vec<(&'static str, String)> {
        let mut out = vec![(
            "Gov-Client-Connection-Method",
            WEB_APP_VIA_SERVER.to_owned(),
        )];
        let mut push = |name: &'static str, value: Option<String>| {
            if let Some(value) = value {
                out.push((name, value));
            }
        };
        push(
            "Gov-Client-Browser-JS-User-Agent",
            self.browser_js_user_agent.as_deref().map(free_text),
        );
        push(
            "Gov-Client-Device-ID",
            self.device_id.as_deref().map(free_text),
        );
        push(
            "Gov-Client-Multi-Factor",
            self.multi_factor.as_ref().map(|factors| {
                factors
                    .iter()
                    .map(|f| {
                        key_values([
                            ("type", f.kind.as_str().to_owned()),
                            ("timestamp", timestamp(f.timestamp)),
                            ("unique-reference", f.unique_reference.clone()),
                        ])
                    })
                    .collect::<Vec<_>>()
                    .join(",")
            }),
        );
        push(
            "Gov-Client-Public-IP",
            self.public_ip.map(|ip| ip.to_string()),
        );
        push(
            "Gov-Client-Public-IP-Timestamp",
            self.public_ip_timestamp.map(timestamp),
        );
        push(
            "Gov-Client-Public-Port",
            self.public_port.map(|p| p.to_string()),
        );
        push(
            "Gov-Client-Screens",
            self.screens.as_ref().map(|screens| {
                screens
                    .iter()
                    .map(|s| {
                        key_values([
                            ("width", s.width.to_string()),
                            ("height", s.height.to_string()),
                            ("scaling-factor", s.scaling_factor.to_string()),
                            ("colour-depth", s.colour_depth.to_string()),
                        ])
                    })
                    .collect::<Vec<_>>()
                    .join(",")
            }),
        );
        push(
            "Gov-Client-Timezone",
            self.timezone.as_deref().map(free_text),
        );
        push(
            "Gov-Client-User-IDs",
            self.user_ids.as_ref().map(map_header),
        );
        push(
            "Gov-Client-Window-Size",
            self.window_size.map(|w| {
                key_values([
                    ("width", w.width.to_string()),
                    ("height", w.height.to_string()),
                ])
            }),
        );
        push(
            "Gov-Vendor-Forwarded",
            self.vendor_forwarded.as_ref().map(|hops| {
                hops.iter()
                    .map(|h| key_values([("by", h.by.to_string()), ("for", h.for_.to_string())]))
                    .collect::<Vec<_>>()
                    .join(",")
            }),
        );
        push(
            "Gov-Vendor-License-IDs",
            self.vendor_license_ids.as_ref().map(map_header),
        );
        push(
            "Gov-Vendor-Product-Name",
            self.vendor_product_name.as_deref().map(component),
        );
        push(
            "Gov-Vendor-Public-IP",
            self.vendor_public_ip.map(|ip| ip.to_string()),
        );
        push(
            "Gov-Vendor-Version",
            self.vendor_version.as_ref().map(map_header),
        );
        out
    }

    fn problems(&self) -> Vec<FraudHeaderProblem> {
        let mut p = Problems::default();
        p.text(
            "Gov-Client-Browser-JS-User-Agent",
            &self.browser_js_user_agent,
        );
        p.device_id(&self.device_id);
        match &self.multi_factor {
            None => p.missing("Gov-Client-Multi-Factor"),
            Some(factors) if factors.is_empty() => p.empty("Gov-Client-Multi-Factor"),
            Some(factors) => {
                if factors.iter().any(|f| f.unique_reference.trim().is_empty()) {
                    p.malformed(
                        "Gov-Client-Multi-Factor",
                        "a factor has no unique-reference",
                    );
                }
            }
        }
        p.public_ip("Gov-Client-Public-IP", self.public_ip);
        if self.public_ip_timestamp.is_none() {
            p.missing("Gov-Client-Public-IP-Timestamp");
        }
        match self.public_port {
            None => p.missing("Gov-Client-Public-Port"),
            Some(0) => p.malformed("Gov-Client-Public-Port", "port 0 is not a TCP source port"),
            Some(80 | 443) => p.malformed(
                "Gov-Client-Public-Port",
                "80/443 are server ports; send the client's source port",
            ),
            Some(_) => {}
        }
        match &self.screens {
            None => p.missing("Gov-Client-Screens"),
            Some(screens) if screens.is_empty() => p.empty("Gov-Client-Screens"),
            Some(screens) => {
                let bad = screens.iter().any(|s| {
                    s.width == 0
                        || s.height == 0
                        || s.colour_depth == 0
                        || !(s.scaling_factor.is_finite() && s.scaling_factor > 0.0)
                });
                if bad {
                    p.malformed(
                        "Gov-Client-Screens",
                        "width, height, scaling-factor and colour-depth must be positive",
                    );
                }
            }
        }
        p.timezone(&self.timezone);
        p.map("Gov-Client-User-IDs", &self.user_ids, None);
        match self.window_size {
            None => p.missing("Gov-Client-Window-Size"),
            Some(w) if w.width == 0 || w.height == 0 => p.malformed(
                "Gov-Client-Window-Size",
                "width and height must be positive",
            ),
            Some(_) => {}
        }
        match &self.vendor_forwarded {
            None => p.missing("Gov-Vendor-Forwarded"),
            Some(hops) if hops.is_empty() => p.empty("Gov-Vendor-Forwarded"),
            Some(hops) => {
                if hops.iter().any(|h| !is_public(h.by) || !is_public(h.for_)) {
                    p.malformed(
                        "Gov-Vendor-Forwarded",
                        "hops must use public IPs (leave private-network hops out)",
                    );
                } else if let (Some(first), Some(vendor), Some(client)) =
                    (hops.first(), self.vendor_public_ip, self.public_ip)
                    && (first.by != vendor || first.for_ != client)
                {
                    p.malformed(
                        "Gov-Vendor-Forwarded",
                        "the first hop must be by=Gov-Vendor-Public-IP&for=Gov-Client-Public-IP",
                    );
                }
            }
        }
        p.map("Gov-Vendor-License-IDs", &self.vendor_license_ids, None);
        p.text("Gov-Vendor-Product-Name", &self.vendor_product_name);
        p.public_ip("Gov-Vendor-Public-IP", self.vendor_public_ip);
        p.map("Gov-Vendor-Version", &self.vendor_version, None);
        p.0
    }
}

/// The `BATCH_PROCESS_DIRECT` values, describing the server that runs the batch.
/// `Gov-Client-Local-IPs-Timestamp` is not stored: it is stamped at the moment of each call.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BatchProcessDirect {
    /// `Gov-Client-Device-ID`: a UUID kept persistently on the batch server.
    pub device_id: Option<String>,
    /// `Gov-Client-Local-IPs`: the server's local addresses.
    pub local_ips: Option<Vec<IpAddr>>,
    /// `Gov-Client-MAC-Addresses`: the server's MAC addresses (`ea:43:1a:5d:21:45`).
    pub mac_addresses: Option<Vec<String>>,
    /// `Gov-Client-Timezone`: `UTC±hh:mm`.
    pub timezone: Option<String>,
    /// `Gov-Client-User-Agent`: the server's OS and hardware.
    pub user_agent: Option<DeviceUserAgent>,
    /// `Gov-Client-User-IDs`: must include `os` (the OS user running the batch).
    pub user_ids: Option<BTreeMap<String, String>>,
    /// `Gov-Vendor-License-IDs`.
    pub vendor_license_ids: Option<BTreeMap<String, String>>,
    /// `Gov-Vendor-Product-Name`.
    pub vendor_product_name: Option<String>,
    /// `Gov-Vendor-Version`.
    pub vendor_version: Option<BTreeMap<String, String>>,
}

impl BatchProcessDirect {
    /// The 11 headers of `BATCH_PROCESS_DIRECT`, in the spec's order.
    pub const HEADER_NAMES: &'static [&'static str] = &[
        "Gov-Client-Connection-Method",
        "Gov-Client-Device-ID",
        "Gov-Client-Local-IPs",
        "Gov-Client-Local-IPs-Timestamp",
        "Gov-Client-MAC-Addresses",
        "Gov-Client-Timezone",
        "Gov-Client-User-Agent",
        "Gov-Client-User-IDs",
        "Gov-Vendor-License-IDs",
        "Gov-Vendor-Product-Name",
        "Gov-Vendor-Version",
    ];

    /// Nothing captured yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `Gov-Client-Device-ID`.
    pub fn device_id(mut self, value: impl Into<String>) -> Self {
        self.device_id = Some(value.into());
        self
    }

    /// Sets `Gov-Client-Local-IPs`.
    pub fn local_ips(mut self, value: Vec<IpAddr>) -> Self {
        self.local_ips = Some(value);
        self
    }

    /// Sets `Gov-Client-MAC-Addresses`.
    pub fn mac_addresses(mut self, value: Vec<String>) -> Self {
        self.mac_addresses = Some(value);
        self
    }

    /// Sets `Gov-Client-Timezone` verbatim (`UTC+00:00`).
    pub fn timezone(mut self, value: impl Into<String>) -> Self {
        self.timezone = Some(value.into());
        self
    }

    /// Sets `Gov-Client-Timezone` from the offset east of UTC in minutes.
    pub fn timezone_offset_minutes(self, minutes_east: i32) -> Self {
        self.timezone(utc_offset(minutes_east))
    }

    /// Sets `Gov-Client-User-Agent`.
    pub fn user_agent(mut self, value: DeviceUserAgent) -> Self {
        self.user_agent = Some(value);
        self
    }

    /// Adds an entry to `Gov-Client-User-IDs` (include `os`).
    pub fn user_id(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.user_ids
            .get_or_insert_with(BTreeMap::new)
            .insert(key.into(), value.into());
        self
    }

    /// Adds an entry to `Gov-Vendor-License-IDs`.
    pub fn vendor_license_id(
        mut self,
        software: impl Into<String>,
        hashed_key: impl Into<String>,
    ) -> Self {
        self.vendor_license_ids
            .get_or_insert_with(BTreeMap::new)
            .insert(software.into(), hashed_key.into());
        self
    }

    /// Sets `Gov-Vendor-Product-Name`.
    pub fn vendor_product_name(mut self, value: impl Into<String>) -> Self {
        self.vendor_product_name = Some(value.into());
        self
    }

    /// Adds an entry to `Gov-Vendor-Version`.
    pub fn vendor_version(
        mut self,
        software: impl Into<String>,
        version: impl Into<String>,
    ) -> Self {
        self.vendor_version
            .get_or_insert_with(BTreeMap::new)
            .insert(software.into(), version.into());
        self
    }

    fn to_headers(&self, now: DateTime<Utc>) -> Vec<(&'static str, String)> {
        let mut out = vec![(
            "Gov-Client-Connection-Method",
            BATCH_PROCESS_DIRECT.to_owned(),
        )];
        let mut push = |name: &'static str, value: Option<String>| {
            if let Some(value) = value {
                out.push((name, value));
            }
        };
        push(
            "Gov-Client-Device-ID",
            self.device_id.as_deref().map(free_text),
        );
        push(
            "Gov-Client-Local-IPs",
            self.local_ips
                .as_ref()
                .map(|ips| list(ips.iter().map(ToString::to_string))),
        );
        push("Gov-Client-Local-IPs-Timestamp", Some(timestamp(now)));
        push(
            "Gov-Client-MAC-Addresses",
            self.mac_addresses
                .as_ref()
                .map(|macs| list(macs.iter().cloned())),
        );
        push(
            "Gov-Client-Timezone",
            self.timezone.as_deref().map(free_text),
        );
        push(
            "Gov-Client-User-Agent",
            self.user_agent.as_ref().map(|ua| {
                key_values(
                    [
                        ("os-family", ua.os_family.clone()),
                        ("os-version", ua.os_version.clone()),
                        ("device-manufacturer", ua.device_manufacturer.clone()),
                        ("device-model", ua.device_model.clone()),
                    ]
                    .into_iter()
                    .filter(|(_, v)| !v.is_empty()),
                )
            }),
        );
        push(
            "Gov-Client-User-IDs",
            self.user_ids.as_ref().map(map_header),
        );
        push(
            "Gov-Vendor-License-IDs",
            self.vendor_license_ids.as_ref().map(map_header),
        );
        push(
            "Gov-Vendor-Product-Name",
            self.vendor_product_name.as_deref().map(component),
        );
        push(
            "Gov-Vendor-Version",
            self.vendor_version.as_ref().map(map_header),
        );
        out
    }

    fn problems(&self) -> Vec<FraudHeaderProblem> {
        static MAC: LazyLock<Regex> = LazyLock::new(|| {
            Regex::new(r"^[0-9A-Fa-f]{2}([:-][0-9A-Fa-f]{2}){5}$")
                .expect("MAC pattern is a valid regex")
        });
        let mut p = Problems::default();
        p.device_id(&self.device_id);
        match &self.local_ips {
            None => p.missing("Gov-Client-Local-IPs"),
            Some(ips) if ips.is_empty() => p.empty("Gov-Client-Local-IPs"),
            Some(ips) => {
                if ips.iter().any(|ip| ip.is_unspecified()) {
                    p.malformed(
                        "Gov-Client-Local-IPs",
                        "0.0.0.0/:: is not an interface address",
                    );
                }
            }
        }
        match &self.mac_addresses {
            None => p.missing("Gov-Client-MAC-Addresses"),
            Some(macs) if macs.is_empty() => p.empty("Gov-Client-MAC-Addresses"),
            Some(macs) => {
                if let Some(bad) = macs.iter().find(|m| !MAC.is_match(m)) {
                    p.malformed(
                        "Gov-Client-MAC-Addresses",
                        &format!("`{bad}` is not a MAC address such as ea:43:1a:5d:21:45"),
                    );
                } else if macs
                    .iter()
                    .any(|m| m.replace([':', '-'], "").chars().all(|c| c == '0'))
                {
                    p.malformed(
                        "Gov-Client-MAC-Addresses",
                        "00:00:00:00:00:00 is not a real MAC address",
                    );
                }
            }
        }
        p.timezone(&self.timezone);
        match &self.user_agent {
            None => p.missing("Gov-Client-User-Agent"),
            Some(ua) if ua.os_family.trim().is_empty() => {
                p.malformed("Gov-Client-User-Agent", "os-family is required")
            }
            Some(_) => {}
        }
        p.map("Gov-Client-User-IDs", &self.user_ids, Some("os"));
        p.map("Gov-Vendor-License-IDs", &self.vendor_license_ids, None);
        p.text("Gov-Vendor-Product-Name", &self.vendor_product_name);
        p.map("Gov-Vendor-Version", &self.vendor_version, None);
        p.0
    }
}

fn map_header(map: &BTreeMap<String, String>) -> String {
    key_values(map.iter().map(|(k, v)| (k.as_str(), v.clone())))
}

fn utc_offset(minutes_east: i32) -> String {
    let sign = if minutes_east < 0 { '-' } else { '+' };
    let abs = minutes_east.unsigned_abs();
    format!("UTC{sign}{:02}:{:02}", abs / 60, abs % 60)
}

/// Public (globally routable) address: not private, loopback, link-local, unspecified,
/// multicast, broadcast, shared (CGNAT) or unique-local.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    let shared = a == 100 && (64..=127).contains(&b);
    !(ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_multicast()
        || ip.is_broadcast()
        || shared
        || a == 0)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    let unique_local = (first & 0xfe00) == 0xfc00;
    let link_local = (first & 0xffc0) == 0xfe80;
    !(ip.is_loopback() || ip.is_unspecified() || ip.is_multicast() || unique_local || link_local)
}

#[derive(Default)]
struct Problems(Vec<FraudHeaderProblem>);

impl Problems {
    fn add(&mut self, header: &str, problem: ProblemKind) {
        self.0.push(FraudHeaderProblem {
            header: header.to_owned(),
            problem,
        });
    }

    fn missing(&mut self, header: &str) {
        self.add(header, ProblemKind::Missing);
    }

    fn empty(&mut self, header: &str) {
        self.add(header, ProblemKind::Empty);
    }

    fn malformed(&mut self, header: &str, why: &str) {
        self.add(header, ProblemKind::Malformed(why.to_owned()));
    }

    fn text(&mut self, header: &str, value: &Option<String>) {
        match value {
            None => self.missing(header),
            Some(v) if v.trim().is_empty() => self.empty(header),
            Some(v) if is_placeholder(v) => {
                self.malformed(header, "placeholders such as `null` must never be sent")
            }
            Some(_) => {}
        }
    }

    fn device_id(&mut self, value: &Option<String>) {
        const HEADER: &str = "Gov-Client-Device-ID";
        match value {
            None => self.missing(HEADER),
            Some(v) if v.trim().is_empty() => self.empty(HEADER),
            Some(v) if uuid::Uuid::parse_str(v).is_err() => {
                self.malformed(HEADER, "must be a UUID generated and kept on the device")
            }
            Some(_) => {}
        }
    }

    fn public_ip(&mut self, header: &str, value: Option<IpAddr>) {
        match value {
            None => self.missing(header),
            Some(ip) if !is_public(ip) => self.malformed(
                header,
                &format!("{ip} is a private or local address; send the public IP"),
            ),
            Some(_) => {}
        }
    }

    fn timezone(&mut self, value: &Option<String>) {
        static TZ: LazyLock<Regex> = LazyLock::new(|| {
            Regex::new(r"^UTC[+-](0\d|1[0-4]):[0-5]\d$").expect("timezone pattern is a valid regex")
        });
        const HEADER: &str = "Gov-Client-Timezone";
        match value {
            None => self.missing(HEADER),
            Some(v) if v.is_empty() => self.empty(HEADER),
            Some(v) if !TZ.is_match(v) => {
                self.malformed(HEADER, &format!("`{v}` is not of the form UTC+00:00"))
            }
            Some(_) => {}
        }
    }

    fn map(
        &mut self,
        header: &str,
        value: &Option<BTreeMap<String, String>>,
        required_key: Option<&str>,
    ) {
        match value {
            None => self.missing(header),
            Some(map) if map.values().all(|v| v.trim().is_empty()) => self.empty(header),
            Some(map) => {
                if map.keys().any(|k| k.trim().is_empty()) {
                    self.malformed(header, "every entry needs a key");
                } else if map.values().any(|v| is_placeholder(v)) {
                    self.malformed(header, "placeholders such as `null` must never be sent");
                } else if let Some(key) = required_key
                    && map.get(key).is_none_or(|v| v.trim().is_empty())
                {
                    self.malformed(header, &format!("must include `{key}`"));
                }
            }
        }
    }
}

fn is_placeholder(value: &str) -> bool {
    matches!(
        value.trim().to_ascii_lowercase().as_str(),
        "null" | "undefined" | "none" | "n/a" | "unknown"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2020, 9, 21, 14, 30, 5).unwrap() + chrono::Duration::milliseconds(123)
    }

    fn complete_web() -> WebAppViaServer {
        WebAppViaServer::new()
            .browser_js_user_agent("Mozilla/5.0 (iPad; U; CPU OS 3_2_1 like Mac OS X; en-us)")
            .device_id("beec798b-b366-47fa-b1f8-92cede14a1ce")
            .multi_factor(MultiFactor {
                kind: MfaKind::AuthCode,
                timestamp: Utc.with_ymd_and_hms(2021, 11, 21, 13, 23, 0).unwrap(),
                unique_reference:
                    "fc4b5fd6816f75a7c81fc8eaa9499d6a299bd803397166e8c4cf9280b801d62c".into(),
            })
            .public_ip("198.51.100.0".parse().unwrap())
            .public_ip_timestamp(at())
            .public_port(12345)
            .screens(vec![Screen {
                width: 1920,
                height: 1080,
                scaling_factor: 1.0,
                colour_depth: 16,
            }])
            .timezone("UTC+00:00")
            .user_id("my-application", "alice123")
            .window_size(1256, 803)
            .vendor_forwarded(
                "203.0.113.6".parse().unwrap(),
                "198.51.100.0".parse().unwrap(),
            )
            .vendor_license_id(
                "my-licensed-software",
                "8D7963490527D33716835EE7C195516D5E562E03B224E9B359836466EE40CDE1",
            )
            .vendor_product_name("Product Name")
            .vendor_public_ip("203.0.113.6".parse().unwrap())
            .vendor_version("my-web-app", "2.2.2")
    }

    fn complete_batch() -> BatchProcessDirect {
        BatchProcessDirect::new()
            .device_id("beec798b-b366-47fa-b1f8-92cede14a1ce")
            .local_ips(vec!["fc00::".parse().unwrap(), "10.1.2.3".parse().unwrap()])
            .mac_addresses(vec!["ea:43:1a:5d:21:45".into()])
            .timezone_offset_minutes(0)
            .user_agent(DeviceUserAgent {
                os_family: "Windows".into(),
                os_version: "Server 2012".into(),
                device_manufacturer: "Dell Inc.".into(),
                device_model: "OptiPlex 980".into(),
            })
            .user_id("os", "domain\\alice")
            .user_id("my-application", "alice123")
            .vendor_license_id("my-application", "8D79")
            .vendor_product_name("Product Name")
            .vendor_version("my-application", "1.6.0")
    }

    fn header<'a>(headers: &'a [(&'static str, String)], name: &str) -> &'a str {
        headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("{name} not sent"))
    }

    #[test]
    fn web_app_sends_all_16_headers_encoded_like_the_spec() {
        let headers = FraudPreventionHeaders::WebAppViaServer(complete_web());
        assert!(headers.validate().is_ok(), "{:?}", headers.validate());
        let sent = headers.to_headers(at());
        let names: Vec<_> = sent.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, WebAppViaServer::HEADER_NAMES);
        assert_eq!(names.len(), 16);
        assert_eq!(
            header(&sent, "Gov-Client-Connection-Method"),
            "WEB_APP_VIA_SERVER"
        );
        assert_eq!(
            header(&sent, "Gov-Client-Multi-Factor"),
            "type=AUTH_CODE&timestamp=2021-11-21T13%3A23%3A00.000Z&unique-reference=fc4b5fd6816f75a7c81fc8eaa9499d6a299bd803397166e8c4cf9280b801d62c"
        );
        assert_eq!(
            header(&sent, "Gov-Client-Public-IP-Timestamp"),
            "2020-09-21T14:30:05.123Z"
        );
        assert_eq!(
            header(&sent, "Gov-Client-Screens"),
            "width=1920&height=1080&scaling-factor=1&colour-depth=16"
        );
        assert_eq!(
            header(&sent, "Gov-Client-Window-Size"),
            "width=1256&height=803"
        );
        assert_eq!(
            header(&sent, "Gov-Vendor-Forwarded"),
            "by=203.0.113.6&for=198.51.100.0"
        );
        assert_eq!(header(&sent, "Gov-Vendor-Product-Name"), "Product%20Name");
        assert_eq!(
            header(&sent, "Gov-Client-User-IDs"),
            "my-application=alice123"
        );
        assert_eq!(header(&sent, "Gov-Vendor-Version"), "my-web-app=2.2.2");
        assert_eq!(
            header(&sent, "Gov-Client-Browser-JS-User-Agent"),
            "Mozilla/5.0 (iPad; U; CPU OS 3_2_1 like Mac OS X; en-us)"
        );
    }

    #[test]
    fn batch_sends_all_11_headers_encoded_like_the_spec() {
        let headers = FraudPreventionHeaders::BatchProcessDirect(complete_batch());
        assert!(headers.validate().is_ok(), "{:?}", headers.validate());
        let sent = headers.to_headers(at());
        let names: Vec<_> = sent.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, BatchProcessDirect::HEADER_NAMES);
        assert_eq!(header(&sent, "Gov-Client-Local-IPs"), "fc00%3A%3A,10.1.2.3");
        assert_eq!(
            header(&sent, "Gov-Client-Local-IPs-Timestamp"),
            "2020-09-21T14:30:05.123Z"
        );
        assert_eq!(
            header(&sent, "Gov-Client-MAC-Addresses"),
            "ea%3A43%3A1a%3A5d%3A21%3A45"
        );
        assert_eq!(
            header(&sent, "Gov-Client-User-Agent"),
            "os-family=Windows&os-version=Server%202012&device-manufacturer=Dell%20Inc.&device-model=OptiPlex%20980"
        );
        assert_eq!(
            header(&sent, "Gov-Client-User-IDs"),
            "my-application=alice123&os=domain%5Calice"
        );
        assert_eq!(header(&sent, "Gov-Client-Timezone"), "UTC+00:00");
    }

    #[test]
    fn separators_inside_values_are_encoded() {
        let web = complete_web().user_id("weird&key", "a=b,c d");
        let sent = FraudPreventionHeaders::WebAppViaServer(web).to_headers(at());
        assert_eq!(
            header(&sent, "Gov-Client-User-IDs"),
            "my-application=alice123&weird%26key=a%3Db%2Cc%20d"
        );
        let web = complete_web().browser_js_user_agent("Agent\u{e9} 100%\n");
        let sent = FraudPreventionHeaders::WebAppViaServer(web).to_headers(at());
        assert_eq!(
            header(&sent, "Gov-Client-Browser-JS-User-Agent"),
            "Agent%C3%A9 100%25%0A"
        );
        for (_, value) in &sent {
            assert!(http::HeaderValue::from_str(value).is_ok(), "{value}");
        }
    }

    #[test]
    fn validate_reports_every_missing_header_by_name() {
        let problems = FraudPreventionHeaders::WebAppViaServer(WebAppViaServer::new())
            .validate()
            .unwrap_err();
        assert_eq!(problems.header_names(), &WebAppViaServer::HEADER_NAMES[1..]);
        assert!(problems.0.iter().all(|p| p.problem == ProblemKind::Missing));
        let problems = FraudPreventionHeaders::BatchProcessDirect(BatchProcessDirect::new())
            .validate()
            .unwrap_err();
        let expected: Vec<_> = BatchProcessDirect::HEADER_NAMES
            .iter()
            .copied()
            .filter(|n| {
                *n != "Gov-Client-Connection-Method" && *n != "Gov-Client-Local-IPs-Timestamp"
            })
            .collect();
        assert_eq!(problems.header_names(), expected);
        assert!(
            problems
                .to_string()
                .contains("Gov-Client-Device-ID is missing")
        );
    }

    #[test]
    fn validate_reports_malformed_values() {
        let web = complete_web()
            .device_id("not-a-uuid")
            .public_ip("192.168.1.10".parse().unwrap())
            .public_port(443)
            .timezone("GMT")
            .window_size(0, 10)
            .vendor_product_name("null");
        let problems = FraudPreventionHeaders::WebAppViaServer(web)
            .validate()
            .unwrap_err();
        assert_eq!(
            problems.header_names(),
            vec![
                "Gov-Client-Device-ID",
                "Gov-Client-Public-IP",
                "Gov-Client-Public-Port",
                "Gov-Client-Timezone",
                "Gov-Client-Window-Size",
                "Gov-Vendor-Forwarded",
                "Gov-Vendor-Product-Name",
            ]
        );
        assert!(
            problems
                .0
                .iter()
                .all(|p| matches!(p.problem, ProblemKind::Malformed(_)))
        );

        let batch = complete_batch()
            .mac_addresses(vec!["zz:43:1a:5d:21:45".into()])
            .user_ids_without_os();
        let problems = FraudPreventionHeaders::BatchProcessDirect(batch)
            .validate()
            .unwrap_err();
        assert_eq!(
            problems.header_names(),
            vec!["Gov-Client-MAC-Addresses", "Gov-Client-User-IDs"]
        );
    }

    impl BatchProcessDirect {
        fn user_ids_without_os(mut self) -> Self {
            if let Some(ids) = self.user_ids.as_mut() {
                ids.remove("os");
            }
            self
        }
    }

    #[test]
    fn stored_values_replay_identically() {
        for headers in [
            FraudPreventionHeaders::WebAppViaServer(complete_web()),
            FraudPreventionHeaders::BatchProcessDirect(complete_batch()),
        ] {
            let json = serde_json::to_value(&headers).unwrap();
            assert_eq!(json["connectionMethod"], headers.connection_method());
            let back: FraudPreventionHeaders = serde_json::from_value(json).unwrap();
            assert_eq!(back.to_headers(at()), headers.to_headers(at()));
        }
    }

    #[test]
    fn timezone_offsets_format_like_the_spec() {
        assert_eq!(utc_offset(0), "UTC+00:00");
        assert_eq!(utc_offset(60), "UTC+01:00");
        assert_eq!(utc_offset(-330), "UTC-05:30");
    }

    #[test]
    fn public_ip_rules() {
        for private in [
            "10.0.0.1",
            "172.16.0.1",
            "192.168.0.1",
            "127.0.0.1",
            "169.254.1.1",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:10.0.0.1",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in [
            "198.51.100.0",
            "203.0.113.6",
            "81.2.69.142",
            "2a00:1450:4009:80b::200e",
        ] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }
}
