//! A small scripted browser for `mtd demo` and the end-to-end tests: real HTTP requests with a
//! cookie jar (cookies are per host, as in browsers), redirects followed one by one, HTML forms
//! read from pages, and the values the pages' script would collect.

use std::collections::BTreeMap;
use std::sync::Mutex;

use http::StatusCode;
use http::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::Url;
use serde_json::Value;

use crate::capture::{BrowserValues, ScreenValue, WindowValue};
use crate::session::DEVICE_COOKIE;

/// The user agent the scripted browser reports (`navigator.userAgent`).
pub const USER_AGENT: &str =
    "Mozilla/5.0 (X11; Linux x86_64; rv:130.0) Gecko/20100101 Firefox/130.0";

/// Why a scripted request failed.
#[derive(Debug, thiserror::Error)]
pub enum BrowserError {
    /// The request could not be sent or its answer read.
    #[error("{method} {url}: {source}")]
    Http {
        /// Method.
        method: &'static str,
        /// URL.
        url: String,
        /// Cause.
        #[source]
        source: reqwest::Error,
    },
    /// A URL is malformed.
    #[error("bad URL {0:?}")]
    Url(String),
    /// Too many redirects.
    #[error("more than 10 redirects from {0}")]
    Redirects(String),
    /// A page did not hold the expected form.
    #[error("{url} has no form {what}")]
    NoForm {
        /// The page.
        url: String,
        /// What was looked for.
        what: String,
    },
}

/// A page (or any answer) the browser received.
#[derive(Debug, Clone)]
pub struct Page {
    /// The URL requested.
    pub url: Url,
    /// Status.
    pub status: StatusCode,
    /// `Location`, resolved against the URL.
    pub location: Option<Url>,
    /// Body text.
    pub body: String,
}

impl Page {
    /// The body as JSON (`Value::Null` when it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

/// One form on a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HtmlForm {
    /// `action`, resolved against the page URL.
    pub action: Url,
    /// `method`, lower case.
    pub method: String,
    /// Every `input` with a name and its value, in order.
    pub inputs: Vec<(String, String)>,
}

/// The scripted browser.
#[derive(Debug)]
pub struct Browser {
    http: reqwest::Client,
    jar: Mutex<BTreeMap<String, BTreeMap<String, String>>>,
    headers: Mutex<Vec<(String, String)>>,
    device_id: String,
}

impl Default for Browser {
    fn default() -> Self {
        Self::new()
    }
}

impl Browser {
    /// A browser with an empty cookie jar and its own device id.
    pub fn new() -> Self {
        Self {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .user_agent(USER_AGENT)
                .build()
                .unwrap_or_default(),
            jar: Mutex::new(BTreeMap::new()),
            headers: Mutex::new(Vec::new()),
            device_id: uuid::Uuid::new_v4().to_string(),
        }
    }

    /// Adds a header to every later request (what a proxy or the platform's authentication in
    /// front of the app would add, such as `X-Forwarded-For` or `X-Mtd-User`).
    pub fn set_header(&self, name: &str, value: &str) {
        let mut headers = self
            .headers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        headers.push((name.to_owned(), value.to_owned()));
    }

    /// What the pages' script would report for this browser (a 1920×1080 screen, a
    /// 1280×800 window, UTC).
    pub fn values(&self) -> BrowserValues {
        BrowserValues {
            js_user_agent: Some(USER_AGENT.to_owned()),
            device_id: Some(self.device_id()),
            screens: Some(vec![ScreenValue {
                width: 1920,
                height: 1080,
                scaling_factor: 1.0,
                colour_depth: 24,
            }]),
            window_size: Some(WindowValue {
                width: 1280,
                height: 800,
            }),
            timezone_offset_minutes: Some(0),
        }
    }

    /// The same values as the hidden form fields the script fills.
    pub fn form_values(&self) -> Vec<(String, String)> {
        vec![
            ("fp_js_user_agent".into(), USER_AGENT.into()),
            ("fp_device_id".into(), self.device_id()),
            (
                "fp_screens".into(),
                r#"[{"width":1920,"height":1080,"scalingFactor":1,"colourDepth":24}]"#.into(),
            ),
            ("fp_window_width".into(), "1280".into()),
            ("fp_window_height".into(), "800".into()),
            ("fp_timezone_offset_minutes".into(), "0".into()),
        ]
    }

    /// The device id: the app's cookie once it set one, else this browser's own.
    pub fn device_id(&self) -> String {
        let jar = self.lock();
        jar.values()
            .find_map(|cookies| cookies.get(DEVICE_COOKIE).cloned())
            .unwrap_or_else(|| self.device_id.clone())
    }

    /// A cookie of a host.
    pub fn cookie(&self, host: &str, name: &str) -> Option<String> {
        self.lock().get(host).and_then(|c| c.get(name).cloned())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, BTreeMap<String, String>>> {
        self.jar
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn cookie_header(&self, url: &Url) -> Option<String> {
        let host = url.host_str()?;
        let jar = self.lock();
        let cookies = jar.get(host)?;
        (!cookies.is_empty()).then(|| {
            cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ")
        })
    }

    fn store_cookies(&self, url: &Url, headers: &http::HeaderMap) {
        let Some(host) = url.host_str() else { return };
        let mut jar = self.lock();
        let cookies = jar.entry(host.to_owned()).or_default();
        for value in headers
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
        {
            if let Some((name, rest)) = value.split_once('=') {
                let value = rest.split(';').next().unwrap_or("").trim();
                let expired = rest.to_ascii_lowercase().contains("max-age=0");
                if expired || value.is_empty() {
                    cookies.remove(name.trim());
                } else {
                    cookies.insert(name.trim().to_owned(), value.to_owned());
                }
            }
        }
    }

    async fn send(
        &self,
        method: &'static str,
        url: &str,
        build: impl FnOnce(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
    ) -> Result<Page, BrowserError> {
        let url = Url::parse(url).map_err(|_| BrowserError::Url(url.to_owned()))?;
        let mut request = match method {
            "POST" => self.http.post(url.clone()),
            _ => self.http.get(url.clone()),
        };
        if let Some(cookie) = self.cookie_header(&url) {
            request = request.header(COOKIE, cookie);
        }
        let extra = self
            .headers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        for (name, value) in extra {
            request = request.header(name, value);
        }
        let http_error = |source| BrowserError::Http {
            method,
            url: url.to_string(),
            source,
        };
        let response = build(request).send().await.map_err(http_error)?;
        self.store_cookies(&url, response.headers());
        let status = response.status();
        let location = response
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|l| url.join(l).ok());
        let body = response.text().await.map_err(http_error)?;
        Ok(Page {
            url,
            status,
            location,
            body,
        })
    }

    /// `GET url`, without following a redirect.
    pub async fn get(&self, url: &str) -> Result<Page, BrowserError> {
        self.send("GET", url, |r| r).await
    }

    /// `GET url`, following redirects; every page on the way is returned, last one last.
    pub async fn visit(&self, url: &str) -> Result<Vec<Page>, BrowserError> {
        let first = self.get(url).await?;
        self.follow(first).await
    }

    /// Follows the redirects of `page` (up to 10).
    pub async fn follow(&self, page: Page) -> Result<Vec<Page>, BrowserError> {
        let mut pages = vec![page];
        for _ in 0..10 {
            let last = pages
                .last()
                .map(|p| (p.status.is_redirection(), p.location.clone()));
            match last {
                Some((true, Some(next))) => pages.push(self.get(next.as_str()).await?),
                _ => return Ok(pages),
            }
        }
        Err(BrowserError::Redirects(url_of(&pages)))
    }

    /// Posts an HTML form (`application/x-www-form-urlencoded`), without following redirects.
    pub async fn post_form(
        &self,
        url: &str,
        fields: &[(String, String)],
    ) -> Result<Page, BrowserError> {
        let fields = fields.to_vec();
        self.send("POST", url, move |r| r.form(&fields)).await
    }

    /// Sends a JSON request.
    pub async fn json(
        &self,
        method: &'static str,
        url: &str,
        body: Option<&Value>,
        idempotency_key: Option<&str>,
    ) -> Result<Page, BrowserError> {
        let body = body.cloned();
        let key = idempotency_key.map(str::to_owned);
        self.send(method, url, move |mut r| {
            match body {
                Some(body) => r = r.json(&body),
                None if method == "POST" => {
                    r = r.header(http::header::CONTENT_TYPE, "application/json");
                }
                None => {}
            }
            if let Some(key) = key {
                r = r.header("idempotency-key", key);
            }
            r.header(http::header::ACCEPT, "application/json")
        })
        .await
    }
}

fn url_of(pages: &[Page]) -> String {
    pages.first().map(|p| p.url.to_string()).unwrap_or_default()
}

/// Every form of a page, with its named inputs (as a browser would submit them, minus buttons).
pub fn forms(page: &Page) -> Vec<HtmlForm> {
    let html = &page.body;
    let mut out = Vec::new();
    let mut rest = html.as_str();
    while let Some(start) = find_tag(rest, "form") {
        let after = &rest[start..];
        let tag_end = after.find('>').unwrap_or(after.len());
        let attrs = attributes(&after[..tag_end]);
        let body_end = after.find("</form>").unwrap_or(after.len());
        let body = &after[tag_end.min(body_end)..body_end];
        let action = attrs
            .get("action")
            .and_then(|a| page.url.join(a).ok())
            .unwrap_or_else(|| page.url.clone());
        let method = attrs
            .get("method")
            .map(|m| m.to_ascii_lowercase())
            .unwrap_or_else(|| "get".to_owned());
        let mut inputs = Vec::new();
        let mut inner = body;
        while let Some(i) = find_tag(inner, "input") {
            let tag = &inner[i..];
            let end = tag.find('>').unwrap_or(tag.len());
            let a = attributes(&tag[..end]);
            if let Some(name) = a.get("name") {
                inputs.push((name.clone(), a.get("value").cloned().unwrap_or_default()));
            }
            inner = &tag[end..];
        }
        out.push(HtmlForm {
            action,
            method,
            inputs,
        });
        rest = &after[body_end..];
        if rest.len() == after.len() {
            break;
        }
    }
    out
}

/// The first form whose action path ends with `suffix`.
pub fn form_with_action(page: &Page, suffix: &str) -> Result<HtmlForm, BrowserError> {
    forms(page)
        .into_iter()
        .find(|f| f.action.path().ends_with(suffix))
        .ok_or_else(|| BrowserError::NoForm {
            url: page.url.to_string(),
            what: format!("posting to …{suffix}"),
        })
}

fn find_tag(text: &str, name: &str) -> Option<usize> {
    let lower = text.to_ascii_lowercase();
    let needle = format!("<{name}");
    let mut from = 0;
    while let Some(i) = lower[from..].find(&needle) {
        let at = from + i;
        let next = lower.as_bytes().get(at + needle.len()).copied();
        if matches!(next, Some(b' ' | b'>' | b'\n' | b'\t' | b'/')) {
            return Some(at);
        }
        from = at + needle.len();
    }
    None
}

/// The attributes of a start tag (`<input type="hidden" name="a" value="b"`).
fn attributes(tag: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let bytes = tag.as_bytes();
    let mut i = tag.find(char::is_whitespace).unwrap_or(tag.len());
    while i < bytes.len() {
        while i < bytes.len() && (bytes[i].is_ascii_whitespace() || bytes[i] == b'/') {
            i += 1;
        }
        let name_start = i;
        while i < bytes.len()
            && !bytes[i].is_ascii_whitespace()
            && bytes[i] != b'='
            && bytes[i] != b'>'
        {
            i += 1;
        }
        let name = tag[name_start..i].to_ascii_lowercase();
        if name.is_empty() {
            break;
        }
        let mut value = String::new();
        if i < bytes.len() && bytes[i] == b'=' {
            i += 1;
            let quote = bytes.get(i).copied();
            if matches!(quote, Some(b'"' | b'\'')) {
                i += 1;
                let start = i;
                while i < bytes.len() && Some(bytes[i]) != quote {
                    i += 1;
                }
                value = unescape(&tag[start..i.min(bytes.len())]);
                i += 1;
            } else {
                let start = i;
                while i < bytes.len() && !bytes[i].is_ascii_whitespace() {
                    i += 1;
                }
                value = unescape(&tag[start..i]);
            }
        }
        out.insert(name, value);
    }
    out
}

fn unescape(text: &str) -> String {
    text.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(body: &str) -> Page {
        Page {
            url: Url::parse("http://127.0.0.1:9000/oauth/authorize?x=1").unwrap(),
            status: StatusCode::OK,
            location: None,
            body: body.to_owned(),
        }
    }

    #[test]
    fn forms_are_read_with_their_hidden_inputs_unescaped() {
        let p = page(
            r#"<p>x</p><form method="post" action="/oauth/authorize"><input type="hidden" name="state" value="a&amp;b&quot;c">
            <input id="user_id" name="user_id"><button name="decision" value="grant">Grant</button></form>
            <form action="/other"><input name='q' value='1'/></form>"#,
        );
        let all = forms(&p);
        assert_eq!(all.len(), 2);
        assert_eq!(
            all[0].action.as_str(),
            "http://127.0.0.1:9000/oauth/authorize"
        );
        assert_eq!(all[0].method, "post");
        assert_eq!(
            all[0].inputs,
            vec![
                ("state".to_owned(), "a&b\"c".to_owned()),
                ("user_id".to_owned(), String::new())
            ]
        );
        assert_eq!(all[1].inputs, vec![("q".to_owned(), "1".to_owned())]);
        assert!(form_with_action(&p, "/missing").is_err());
    }

    #[test]
    fn cookies_are_kept_per_host_and_removed_when_expired() {
        let b = Browser::new();
        let url = Url::parse("http://127.0.0.1:3000/").unwrap();
        let mut headers = http::HeaderMap::new();
        headers.append(SET_COOKIE, "a=1; Path=/; HttpOnly".parse().unwrap());
        headers.append(SET_COOKIE, "b=2; Path=/".parse().unwrap());
        b.store_cookies(&url, &headers);
        let other_port = Url::parse("http://127.0.0.1:9000/").unwrap();
        assert_eq!(b.cookie_header(&other_port).unwrap(), "a=1; b=2");
        let mut expire = http::HeaderMap::new();
        expire.append(SET_COOKIE, "a=; Max-Age=0".parse().unwrap());
        b.store_cookies(&url, &expire);
        assert_eq!(b.cookie_header(&url).unwrap(), "b=2");
    }
}
