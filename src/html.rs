//! Server-rendered HTML: the layout every page shares, and small building blocks.
//!
//! Pages are `maud` templates, so every interpolated value is HTML-escaped by construction;
//! nothing here builds markup by string concatenation.

use axum::response::{Html, IntoResponse, Response};
use http::StatusCode;
use maud::{DOCTYPE, Markup, PreEscaped, html};

/// The script that collects the browser values HMRC's `WEB_APP_VIA_SERVER` fraud-prevention
/// headers need (user agent, screens, window size, timezone, a device id kept in a long-lived
/// cookie and `localStorage`) into the hidden fields of every form marked `data-fraud`.
///
/// A constant (no interpolation), so including it unescaped is safe.
pub(crate) const FRAUD_SCRIPT: &str = r#"
(function () {
  function deviceId() {
    var key = "mtd_device_id", id = null;
    try { id = window.localStorage.getItem(key); } catch (e) {}
    if (!id) {
      var m = document.cookie.match(/(?:^|;\s*)mtd_device_id=([0-9a-fA-F-]{36})/);
      if (m) { id = m[1]; }
    }
    if (!id) {
      id = (window.crypto && window.crypto.randomUUID) ? window.crypto.randomUUID()
        : "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx".replace(/[xy]/g, function (c) {
            var r = Math.random() * 16 | 0; return (c === "x" ? r : (r & 3 | 8)).toString(16);
          });
    }
    try { window.localStorage.setItem(key, id); } catch (e) {}
    document.cookie = key + "=" + id + "; Max-Age=315360000; Path=/; SameSite=Lax";
    return id;
  }
  function fill(form) {
    var s = window.screen || {};
    var screens = [{
      width: s.width, height: s.height,
      scalingFactor: window.devicePixelRatio || 1, colourDepth: s.colorDepth
    }];
    var values = {
      fp_js_user_agent: navigator.userAgent,
      fp_device_id: deviceId(),
      fp_screens: JSON.stringify(screens),
      fp_window_width: String(window.innerWidth),
      fp_window_height: String(window.innerHeight),
      fp_timezone_offset_minutes: String(-new Date().getTimezoneOffset())
    };
    Object.keys(values).forEach(function (name) {
      var input = form.querySelector('input[name="' + name + '"]');
      if (input) { input.value = values[name]; }
    });
  }
  document.querySelectorAll("form[data-fraud]").forEach(function (form) {
    fill(form);
    form.addEventListener("submit", function () { fill(form); });
  });
})();
"#;

/// The layout: title, a header with navigation, the body, and the fraud-value script.
pub(crate) fn layout(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · MTD" }
                style { (PreEscaped(STYLE)) }
            }
            body {
                header {
                    nav {
                        a href="/" { "Dashboard" }
                        " · "
                        a href="/submissions/period/new" { "Quarterly update" }
                        " · "
                        a href="/submissions/annual/new" { "Annual summary" }
                        " · "
                        a href="/submissions/eops/new" { "End of Period Statement" }
                        " · "
                        a href="/submissions/final-declaration/new" { "Final declaration" }
                    }
                }
                main {
                    h1 { (title) }
                    (body)
                }
                script { (PreEscaped(FRAUD_SCRIPT)) }
            }
        }
    }
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:60rem;margin:1rem auto;padding:0 1rem;color:#0b0c0c}\
nav a{color:#1d70b8}table{border-collapse:collapse;width:100%;margin:.5rem 0}\
td,th{border-bottom:1px solid #b1b4b6;padding:.3rem;text-align:left;vertical-align:top}\
.status-submitted{color:#00703c}.status-failed,.status-rejected{color:#d4351c}.status-processing{color:#505a5f}\
.notice{border-left:5px solid #1d70b8;padding:.5rem 1rem;background:#f3f2f1}\
.error{border-left:5px solid #d4351c;padding:.5rem 1rem;background:#fef7f7}\
form.inline{display:inline}label{display:block;margin-top:.5rem}button{margin-top:.5rem}";

/// The hidden fields the fraud script fills, plus the CSRF token and an idempotency key.
pub(crate) fn form_guard(csrf: &str, idempotency_key: &str) -> Markup {
    html! {
        input type="hidden" name="csrf" value=(csrf);
        input type="hidden" name="idempotency_key" value=(idempotency_key);
        input type="hidden" name="fp_js_user_agent";
        input type="hidden" name="fp_device_id";
        input type="hidden" name="fp_screens";
        input type="hidden" name="fp_window_width";
        input type="hidden" name="fp_window_height";
        input type="hidden" name="fp_timezone_offset_minutes";
    }
}

/// An HTML page with a status code.
pub(crate) fn respond(status: StatusCode, title: &str, body: Markup) -> Response {
    (status, Html(layout(title, body).into_string())).into_response()
}

/// A page that explains what went wrong and what to do.
pub(crate) fn error_page(status: StatusCode, title: &str, message: &str) -> Response {
    respond(
        status,
        title,
        html! {
            div.error { p { (message) } }
            p { a href="/" { "Back to the dashboard" } }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interpolated_values_are_escaped() {
        let hostile = "<script>alert(\"x\")</script>&'";
        let page = layout(hostile, html! { p { (hostile) } }).into_string();
        assert!(!page.contains("<script>alert"));
        assert!(page.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;"));
    }

    #[test]
    fn form_guard_escapes_attribute_values() {
        let markup = form_guard("a\"b", "k<1>").into_string();
        assert!(markup.contains("value=\"a&quot;b\""));
        assert!(markup.contains("value=\"k&lt;1&gt;\""));
    }
}
