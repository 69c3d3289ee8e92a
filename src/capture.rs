//! Capturing HMRC's `WEB_APP_VIA_SERVER` fraud-prevention values at request time.
//!
//! A submission is queued and sent later by an Inngest run, but the user's browser started it,
//! so HMRC wants the values of *that* browser request (digest §10.2). They are captured here,
//! when the user asks for the submission, and stored with the submission row:
//!
//! * from the browser (the pages' inline script fills hidden fields; API clients send a
//!   `client` object): JS user agent, device id, screens, window size, timezone;
//! * from the connection: the client's public IP and source port (from the TCP peer, or from
//!   a header set by a trusted proxy when configured), and the time the request arrived;
//! * from the platform: the user id and the multi-factor authentication the user passed to
//!   sign in (a trusted header set by the platform's authentication);
//! * from configuration: the vendor's product name, version, licence ids and public IP.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

use chrono::{DateTime, NaiveDateTime, Utc};
use hmrc_mtd::fraud::{MfaKind, MultiFactor, Screen, WebAppViaServer};
use http::{HeaderMap, HeaderName};
use mtd_functions::fraud::VendorInfo;
use percent_encoding::percent_decode_str;
use serde::{Deserialize, Serialize};

/// Where the client's public IP and port come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientAddress {
    /// The TCP peer of the request (the app faces the internet directly).
    Peer,
    /// Headers set by trusted proxies in front of the app.
    Header {
        /// A header holding client addresses, such as `X-Forwarded-For` (a comma-separated
        /// list each proxy appends to). Entries may be `ip`, `ip:port` or `[ipv6]:port`.
        ip_header: HeaderName,
        /// A header holding the client's source port, when the proxy sets one.
        port_header: Option<HeaderName>,
        /// How many trusted proxies append to `ip_header`: the client is the entry this many
        /// places from the right (1 = the last entry).
        hops: usize,
    },
}

/// Where the multi-factor authentication of the user comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum MfaSource {
    /// A header set by the platform's authentication, holding `Gov-Client-Multi-Factor` in
    /// HMRC's format: `type=TOTP&timestamp=2025-06-01T09%3A30Z&unique-reference=<hash>`
    /// (several factors separated by commas).
    Header(HeaderName),
    /// Fixed factors (the demo user of `mtd dev` and `mtd demo`, which have no real sign-in).
    Fixed(Vec<MultiFactor>),
}

/// Everything [`capture`] needs besides the request.
#[derive(Debug, Clone, PartialEq)]
pub struct CaptureSettings {
    /// This product and server (the `Gov-Vendor-*` values).
    pub vendor: VendorInfo,
    /// The key of the user's id in `Gov-Client-User-IDs` (e.g. `mtd` → `mtd=alice`).
    pub user_id_key: String,
    /// Client address source.
    pub client_address: ClientAddress,
    /// MFA source.
    pub mfa: MfaSource,
}

/// One screen as the browser reports it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScreenValue {
    /// `screen.width`.
    pub width: u32,
    /// `screen.height`.
    pub height: u32,
    /// `window.devicePixelRatio`.
    pub scaling_factor: f64,
    /// `screen.colorDepth`.
    pub colour_depth: u32,
}

/// The browser window size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WindowValue {
    /// `window.innerWidth`.
    pub width: u32,
    /// `window.innerHeight`.
    pub height: u32,
}

/// What the browser reports about itself: the `client` object of the JSON API, filled by the
/// platform's front end exactly as the pages' script does.
///
/// ```json
/// {"jsUserAgent": "Mozilla/5.0 …", "deviceId": "beec798b-b366-47fa-b1f8-92cede14a1ce",
///  "screens": [{"width": 1920, "height": 1080, "scalingFactor": 1, "colourDepth": 24}],
///  "windowSize": {"width": 1256, "height": 803}, "timezoneOffsetMinutes": 60}
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BrowserValues {
    /// `navigator.userAgent`.
    pub js_user_agent: Option<String>,
    /// The device id kept in the browser (a UUID in a long-lived cookie / `localStorage`).
    pub device_id: Option<String>,
    /// The screens.
    pub screens: Option<Vec<ScreenValue>>,
    /// The window size.
    pub window_size: Option<WindowValue>,
    /// Minutes east of UTC (`-new Date().getTimezoneOffset()`).
    pub timezone_offset_minutes: Option<i32>,
}

/// The hidden form fields the pages' script fills (see `html::FRAUD_SCRIPT`).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct FormBrowserValues {
    /// `navigator.userAgent`.
    #[serde(default)]
    pub fp_js_user_agent: String,
    /// Device id.
    #[serde(default)]
    pub fp_device_id: String,
    /// JSON list of screens.
    #[serde(default)]
    pub fp_screens: String,
    /// Window width.
    #[serde(default)]
    pub fp_window_width: String,
    /// Window height.
    #[serde(default)]
    pub fp_window_height: String,
    /// Minutes east of UTC.
    #[serde(default)]
    pub fp_timezone_offset_minutes: String,
}

impl FormBrowserValues {
    /// The values as the JSON API would carry them; a field that does not parse is an error
    /// naming it. `device_cookie` is used when the script could not report a device id.
    pub fn into_browser_values(
        self,
        device_cookie: Option<&str>,
    ) -> Result<BrowserValues, CaptureError> {
        let non_empty = |s: String| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
        let number = |field: &'static str, s: &str| -> Result<Option<i64>, CaptureError> {
            let s = s.trim();
            if s.is_empty() {
                return Ok(None);
            }
            s.parse::<i64>()
                .map(Some)
                .map_err(|_| CaptureError::new(field, "must be a whole number"))
        };
        let screens = match non_empty(self.fp_screens) {
            None => None,
            Some(json) => Some(
                serde_json::from_str::<Vec<ScreenValue>>(&json).map_err(|_| {
                    CaptureError::new(
                        "fp_screens",
                        "must be a JSON list of {width, height, scalingFactor, colourDepth}",
                    )
                })?,
            ),
        };
        let width = number("fp_window_width", &self.fp_window_width)?;
        let height = number("fp_window_height", &self.fp_window_height)?;
        let window_size = match (width, height) {
            (Some(w), Some(h)) => Some(WindowValue {
                width: u32::try_from(w)
                    .map_err(|_| CaptureError::new("fp_window_width", "must be positive"))?,
                height: u32::try_from(h)
                    .map_err(|_| CaptureError::new("fp_window_height", "must be positive"))?,
            }),
            _ => None,
        };
        let offset = number(
            "fp_timezone_offset_minutes",
            &self.fp_timezone_offset_minutes,
        )?
        .map(|m| {
            i32::try_from(m)
                .map_err(|_| CaptureError::new("fp_timezone_offset_minutes", "is out of range"))
        })
        .transpose()?;
        Ok(BrowserValues {
            js_user_agent: non_empty(self.fp_js_user_agent),
            device_id: non_empty(self.fp_device_id).or_else(|| device_cookie.map(str::to_owned)),
            screens,
            window_size,
            timezone_offset_minutes: offset,
        })
    }
}

/// A browser value that is missing or malformed; `field` names it as the caller sent it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} {message}")]
pub struct CaptureError {
    /// The field, e.g. `client.deviceId`.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl CaptureError {
    fn new(field: &str, message: &str) -> Self {
        Self {
            field: field.to_owned(),
            message: message.to_owned(),
        }
    }

    /// The same error with the field name prefixed (`client.` for the JSON API).
    pub fn prefixed(mut self, prefix: &str) -> Self {
        self.field = format!("{prefix}{}", self.field);
        self
    }
}

/// The facts of the HTTP request the user sent.
#[derive(Debug, Clone, Copy)]
pub struct RequestFacts<'a> {
    /// The TCP peer.
    pub peer: SocketAddr,
    /// The request headers.
    pub headers: &'a HeaderMap,
    /// When the request arrived.
    pub received_at: DateTime<Utc>,
}

/// The captured headers, and what could not be captured on the server side (configuration
/// or platform gaps, logged for the operator; the user cannot fix them).
#[derive(Debug, Clone, PartialEq)]
pub struct Captured {
    /// The values; [`Captured::stored`] is what the submission row keeps.
    pub headers: WebAppViaServer,
    /// Server-side gaps, such as a missing MFA header.
    pub warnings: Vec<String>,
}

/// Builds the `WEB_APP_VIA_SERVER` values of one request. Browser values that are missing or
/// malformed are errors naming the field (`jsUserAgent`, `deviceId`, `screens`, `windowSize`,
/// `timezoneOffsetMinutes`).
///
/// ```
/// use mtd::capture::*;
/// use mtd_functions::fraud::VendorInfo;
/// let settings = CaptureSettings {
///     vendor: VendorInfo::new("my-tax-app", "1.0.0").public_ip("203.0.113.6".parse().unwrap()),
///     user_id_key: "my-tax-app".into(),
///     client_address: ClientAddress::Peer,
///     mfa: MfaSource::Fixed(vec![]),
/// };
/// let browser = BrowserValues {
///     js_user_agent: Some("Mozilla/5.0 (X11; Linux x86_64)".into()),
///     device_id: Some("beec798b-b366-47fa-b1f8-92cede14a1ce".into()),
///     screens: Some(vec![ScreenValue { width: 1920, height: 1080, scaling_factor: 1.0, colour_depth: 24 }]),
///     window_size: Some(WindowValue { width: 1256, height: 803 }),
///     timezone_offset_minutes: Some(60),
/// };
/// let headers = http::HeaderMap::new();
/// let facts = RequestFacts { peer: "198.51.100.7:52311".parse().unwrap(), headers: &headers, received_at: chrono::Utc::now() };
/// let captured = capture(&settings, "alice", &browser, &facts).unwrap();
/// let stored = captured.stored();
/// assert_eq!(stored["Gov-Client-Public-Port"], "52311");
/// assert_eq!(stored["Gov-Client-Timezone"], "UTC+01:00");
/// assert_eq!(stored["Gov-Vendor-Forwarded"], "by=203.0.113.6&for=198.51.100.7");
/// ```
pub fn capture(
    settings: &CaptureSettings,
    user_id: &str,
    browser: &BrowserValues,
    request: &RequestFacts<'_>,
) -> Result<Captured, CaptureError> {
    let user_agent = browser
        .js_user_agent
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            CaptureError::new(
                "jsUserAgent",
                "is required (the browser's navigator.userAgent)",
            )
        })?;
    if user_agent.len() > 1024 {
        return Err(CaptureError::new(
            "jsUserAgent",
            "is longer than 1024 characters",
        ));
    }
    let device_id = browser
        .device_id
        .as_deref()
        .ok_or_else(|| CaptureError::new("deviceId", "is required (a UUID kept on the device)"))?;
    let device_id = uuid::Uuid::try_parse(device_id)
        .map_err(|_| CaptureError::new("deviceId", "must be a UUID"))?
        .hyphenated()
        .to_string();
    let screens = browser
        .screens
        .as_ref()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| CaptureError::new("screens", "is required (at least one screen)"))?;
    if screens.len() > 16 {
        return Err(CaptureError::new("screens", "lists more than 16 screens"));
    }
    let mut hmrc_screens = Vec::with_capacity(screens.len());
    for screen in screens {
        let positive = screen.width > 0
            && screen.height > 0
            && screen.colour_depth > 0
            && screen.scaling_factor.is_finite()
            && screen.scaling_factor > 0.0;
        if !positive {
            return Err(CaptureError::new(
                "screens",
                "must have a positive width, height, scalingFactor and colourDepth",
            ));
        }
        hmrc_screens.push(Screen {
            width: screen.width,
            height: screen.height,
            scaling_factor: screen.scaling_factor,
            colour_depth: screen.colour_depth,
        });
    }
    let window = browser
        .window_size
        .ok_or_else(|| CaptureError::new("windowSize", "is required"))?;
    if window.width == 0 || window.height == 0 {
        return Err(CaptureError::new(
            "windowSize",
            "must have a positive width and height",
        ));
    }
    let offset = browser
        .timezone_offset_minutes
        .ok_or_else(|| CaptureError::new("timezoneOffsetMinutes", "is required"))?;
    if !(-14 * 60..=14 * 60).contains(&offset) {
        return Err(CaptureError::new(
            "timezoneOffsetMinutes",
            "must be between -840 and 840 (minutes east of UTC)",
        ));
    }

    let mut warnings = Vec::new();
    let vendor = &settings.vendor;
    let mut values = WebAppViaServer::new()
        .browser_js_user_agent(user_agent)
        .device_id(device_id)
        .public_ip_timestamp(request.received_at)
        .screens(hmrc_screens)
        .timezone_offset_minutes(offset)
        .user_id(settings.user_id_key.clone(), user_id)
        .window_size(window.width, window.height);
    match client_address(&settings.client_address, request) {
        Some((ip, port)) => {
            values = values.public_ip(ip);
            match port {
                Some(port) => values = values.public_port(port),
                None => warnings.push("the client's source port is unknown: configure the proxy's port header (--client-port-header)".to_owned()),
            }
            if let Some(vendor_ip) = vendor.public_ip {
                values = values.vendor_forwarded(vendor_ip, ip);
            }
        }
        None => warnings.push(
            "the client's public IP could not be read from the trusted proxy header".to_owned(),
        ),
    }
    if vendor.public_ip.is_none() {
        warnings.push("the vendor public IP is not configured (--vendor-public-ip)".to_owned());
    }
    if vendor.license_ids.is_empty() {
        warnings.push("no vendor licence ids are configured (--vendor-license-ids)".to_owned());
    }
    match &settings.mfa {
        MfaSource::Fixed(factors) => {
            for factor in factors {
                values = values.multi_factor(factor.clone());
            }
        }
        MfaSource::Header(name) => match request.headers.get(name).and_then(|v| v.to_str().ok()) {
            Some(text) => match parse_multi_factor(text) {
                Ok(factors) => {
                    for factor in factors {
                        values = values.multi_factor(factor);
                    }
                }
                Err(why) => warnings.push(format!("the {name} header is malformed: {why}")),
            },
            None => warnings.push(format!(
                "the {name} header (the user's multi-factor sign-in, set by the platform) is missing"
            )),
        },
    }
    Ok(Captured {
        headers: vendor.apply_to(values),
        warnings,
    })
}

impl Captured {
    /// The header values as the submission row keeps them (header name → value as sent).
    pub fn stored(&self) -> BTreeMap<String, String> {
        mtd_functions::fraud::capture(&self.headers)
    }
}

/// The client's public IP and source port.
fn client_address(
    source: &ClientAddress,
    request: &RequestFacts<'_>,
) -> Option<(IpAddr, Option<u16>)> {
    match source {
        ClientAddress::Peer => Some((
            canonical(request.peer.ip()),
            Some(request.peer.port()).filter(|p| *p != 0),
        )),
        ClientAddress::Header {
            ip_header,
            port_header,
            hops,
        } => {
            let entries: Vec<&str> = request
                .headers
                .get_all(ip_header)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect();
            let index = entries.len().checked_sub((*hops).max(1))?;
            let (ip, port) = parse_address(entries[index])?;
            let header_port = port_header
                .as_ref()
                .and_then(|name| request.headers.get(name))
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u16>().ok())
                .filter(|p| *p != 0);
            Some((canonical(ip), header_port.or(port)))
        }
    }
}

/// An IPv4 address mapped into IPv6 is reported as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

/// `ip`, `ip:port`, `[ipv6]` or `[ipv6]:port`.
fn parse_address(entry: &str) -> Option<(IpAddr, Option<u16>)> {
    if let Ok(ip) = entry.parse::<IpAddr>() {
        return Some((ip, None));
    }
    if let Ok(addr) = entry.parse::<SocketAddr>() {
        return Some((addr.ip(), Some(addr.port())));
    }
    let inner = entry.strip_prefix('[')?.strip_suffix(']')?;
    inner.parse::<IpAddr>().ok().map(|ip| (ip, None))
}

/// Parses `Gov-Client-Multi-Factor` as HMRC's specification writes it.
///
/// ```
/// let factors = mtd::capture::parse_multi_factor(
///     "type=TOTP&timestamp=2025-06-01T09%3A30Z&unique-reference=fc4b5fd6816f75a7c81fc8eaa9499d6a299bd803397166e8c4cf9280b801d62c",
/// ).unwrap();
/// assert_eq!(factors.len(), 1);
/// assert_eq!(factors[0].kind, hmrc_mtd::fraud::MfaKind::Totp);
/// ```
pub fn parse_multi_factor(text: &str) -> Result<Vec<MultiFactor>, String> {
    let mut factors = Vec::new();
    for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let mut kind = None;
        let mut timestamp = None;
        let mut reference = None;
        for pair in item.split('&') {
            let (key, value) = pair
                .split_once('=')
                .ok_or_else(|| format!("`{pair}` is not key=value"))?;
            let value = percent_decode_str(value)
                .decode_utf8()
                .map_err(|_| format!("the value of {key} is not UTF-8"))?
                .into_owned();
            match key {
                "type" => {
                    kind = Some(match value.as_str() {
                        "TOTP" => MfaKind::Totp,
                        "AUTH_CODE" => MfaKind::AuthCode,
                        "OTHER" => MfaKind::Other,
                        other => return Err(format!("unknown type {other:?}")),
                    });
                }
                "timestamp" => timestamp = Some(parse_mfa_time(&value)?),
                "unique-reference" if !value.is_empty() => reference = Some(value),
                _ => {}
            }
        }
        match (kind, timestamp, reference) {
            (Some(kind), Some(timestamp), Some(unique_reference)) => factors.push(MultiFactor {
                kind,
                timestamp,
                unique_reference,
            }),
            _ => return Err("each factor needs type, timestamp and unique-reference".to_owned()),
        }
    }
    if factors.is_empty() {
        return Err("no factor".to_owned());
    }
    Ok(factors)
}

fn parse_mfa_time(text: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%MZ")
        .map(|t| t.and_utc())
        .map_err(|_| format!("timestamp {text:?} is not yyyy-MM-ddThh:mmZ"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(client_address: ClientAddress) -> CaptureSettings {
        CaptureSettings {
            vendor: VendorInfo::new("mtd", "0.1.0")
                .license_id("mtd", "ab".repeat(32))
                .public_ip("203.0.113.6".parse().unwrap()),
            user_id_key: "mtd".into(),
            client_address,
            mfa: MfaSource::Header(HeaderName::from_static("x-mtd-mfa")),
        }
    }

    fn browser() -> BrowserValues {
        BrowserValues {
            js_user_agent: Some("Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0".into()),
            device_id: Some("beec798b-b366-47fa-b1f8-92cede14a1ce".into()),
            screens: Some(vec![ScreenValue {
                width: 1920,
                height: 1080,
                scaling_factor: 1.25,
                colour_depth: 24,
            }]),
            window_size: Some(WindowValue {
                width: 1256,
                height: 803,
            }),
            timezone_offset_minutes: Some(-300),
        }
    }

    fn headers_of(captured: &Captured) -> BTreeMap<String, String> {
        captured.stored()
    }

    #[test]
    fn a_complete_request_behind_a_trusted_proxy_gives_all_sixteen_valid_headers() {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", "10.0.0.1, 198.51.100.7".parse().unwrap());
        headers.insert("x-client-port", "52311".parse().unwrap());
        headers.insert(
            "x-mtd-mfa",
            "type=TOTP&timestamp=2025-06-01T09%3A30Z&unique-reference=abc123"
                .parse()
                .unwrap(),
        );
        let facts = RequestFacts {
            peer: "10.1.1.1:40000".parse().unwrap(),
            headers: &headers,
            received_at: "2025-06-01T10:00:00.123Z".parse().unwrap(),
        };
        let source = ClientAddress::Header {
            ip_header: HeaderName::from_static("x-forwarded-for"),
            port_header: Some(HeaderName::from_static("x-client-port")),
            hops: 1,
        };
        let captured = capture(&settings(source), "alice", &browser(), &facts).unwrap();
        assert!(captured.warnings.is_empty(), "{:?}", captured.warnings);
        hmrc_mtd::fraud::FraudPreventionHeaders::WebAppViaServer(captured.headers.clone())
            .validate()
            .unwrap();
        let sent = headers_of(&captured);
        assert_eq!(sent.len(), 16);
        assert_eq!(sent["Gov-Client-Public-IP"], "198.51.100.7");
        assert_eq!(sent["Gov-Client-Public-Port"], "52311");
        assert_eq!(
            sent["Gov-Client-Public-IP-Timestamp"],
            "2025-06-01T10:00:00.123Z"
        );
        assert_eq!(
            sent["Gov-Vendor-Forwarded"],
            "by=203.0.113.6&for=198.51.100.7"
        );
        assert_eq!(sent["Gov-Client-Timezone"], "UTC-05:00");
        assert_eq!(sent["Gov-Client-User-IDs"], "mtd=alice");
    }

    #[test]
    fn the_peer_address_is_used_without_a_proxy_and_missing_mfa_is_a_warning() {
        let headers = HeaderMap::new();
        let facts = RequestFacts {
            peer: "[::ffff:198.51.100.9]:61000".parse().unwrap(),
            headers: &headers,
            received_at: Utc::now(),
        };
        let captured = capture(&settings(ClientAddress::Peer), "bob", &browser(), &facts).unwrap();
        let sent = headers_of(&captured);
        assert_eq!(sent["Gov-Client-Public-IP"], "198.51.100.9");
        assert_eq!(sent["Gov-Client-Public-Port"], "61000");
        assert_eq!(captured.warnings.len(), 1);
        assert!(captured.warnings[0].contains("x-mtd-mfa"));
    }

    #[test]
    fn missing_or_malformed_browser_values_name_the_field() {
        let headers = HeaderMap::new();
        let facts = RequestFacts {
            peer: "198.51.100.9:61000".parse().unwrap(),
            headers: &headers,
            received_at: Utc::now(),
        };
        let s = settings(ClientAddress::Peer);
        type Case = (fn(&mut BrowserValues), &'static str);
        let cases: [Case; 5] = [
            (|b| b.js_user_agent = None, "jsUserAgent"),
            (|b| b.device_id = Some("not-a-uuid".into()), "deviceId"),
            (|b| b.screens = Some(vec![]), "screens"),
            (
                |b| {
                    b.window_size = Some(WindowValue {
                        width: 0,
                        height: 1,
                    })
                },
                "windowSize",
            ),
            (
                |b| b.timezone_offset_minutes = Some(100_000),
                "timezoneOffsetMinutes",
            ),
        ];
        for (break_it, field) in cases {
            let mut b = browser();
            break_it(&mut b);
            assert_eq!(capture(&s, "u", &b, &facts).unwrap_err().field, field);
        }
    }

    #[test]
    fn form_fields_convert_and_bad_numbers_are_named() {
        let form = FormBrowserValues {
            fp_js_user_agent: "Mozilla/5.0".into(),
            fp_device_id: String::new(),
            fp_screens: r#"[{"width":800,"height":600,"scalingFactor":2,"colourDepth":24}]"#.into(),
            fp_window_width: "640".into(),
            fp_window_height: "480".into(),
            fp_timezone_offset_minutes: "60".into(),
        };
        let values = form
            .clone()
            .into_browser_values(Some("beec798b-b366-47fa-b1f8-92cede14a1ce"))
            .unwrap();
        assert_eq!(
            values.device_id.as_deref(),
            Some("beec798b-b366-47fa-b1f8-92cede14a1ce")
        );
        assert_eq!(
            values.window_size,
            Some(WindowValue {
                width: 640,
                height: 480
            })
        );
        let bad = FormBrowserValues {
            fp_window_width: "wide".into(),
            ..form
        };
        assert_eq!(
            bad.into_browser_values(None).unwrap_err().field,
            "fp_window_width"
        );
    }

    #[test]
    fn proxy_entries_with_ports_and_too_few_hops_are_handled() {
        assert_eq!(
            parse_address("[2001:db8::1]:443"),
            Some(("2001:db8::1".parse().unwrap(), Some(443)))
        );
        assert_eq!(
            parse_address("198.51.100.7:5000"),
            Some(("198.51.100.7".parse().unwrap(), Some(5000)))
        );
        assert_eq!(parse_address("nonsense"), None);
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", "198.51.100.7".parse().unwrap());
        let facts = RequestFacts {
            peer: "10.1.1.1:40000".parse().unwrap(),
            headers: &headers,
            received_at: Utc::now(),
        };
        let two_hops = ClientAddress::Header {
            ip_header: HeaderName::from_static("x-forwarded-for"),
            port_header: None,
            hops: 2,
        };
        assert_eq!(client_address(&two_hops, &facts), None);
    }

    #[test]
    fn multi_factor_headers_parse_or_say_why_not() {
        let two = parse_multi_factor(
            "type=TOTP&timestamp=2025-06-01T09%3A30Z&unique-reference=a,type=AUTH_CODE&timestamp=2025-06-01T09%3A31%3A00.000Z&unique-reference=b",
        )
        .unwrap();
        assert_eq!(two.len(), 2);
        assert!(parse_multi_factor("type=SMS&timestamp=x&unique-reference=a").is_err());
        assert!(parse_multi_factor("").is_err());
    }
}
