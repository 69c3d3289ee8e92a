//! Removes anything that looks like a credential from text that may reach logs or errors.

use std::sync::LazyLock;

use regex::Regex;

/// How much of a body an error keeps.
pub(crate) const EXCERPT_CHARS: usize = 300;

/// How much of a body is scanned at all.
const SCAN_BYTES: usize = 16 * 1024;

static BEARER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9\-._~+/]+=*")
        .expect("bearer pattern is a valid regex")
});

static JSON_SECRET: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"(?i)("[a-z_\-]*(token|secret|password|verifier|authori[sz]ation|assertion)[a-z_\-]*"\s*:\s*)"(?:[^"\\]|\\.)*""#,
    )
    .expect("json secret pattern is a valid regex")
});

static FORM_SECRET: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b([a-z_]*(token|secret|password|verifier|code))=[^&\s]+")
        .expect("form secret pattern is a valid regex")
});

static JWT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{10,}")
        .expect("jwt pattern is a valid regex")
});

static LONG_RUN: LazyLock<Regex> = LazyLock::new(|| {
    // HMRC tokens are 32 hex digits; HMRC's error text has no such runs (UUIDs are split by
    // hyphens into runs of at most 12).
    Regex::new(r"[A-Za-z0-9]{24,}").expect("long run pattern is a valid regex")
});

/// Replaces bearer tokens, token-like JSON and form values, JWTs and long opaque runs with
/// `[redacted]`.
pub(crate) fn redact(text: &str) -> String {
    let text = BEARER.replace_all(text, "$1 [redacted]");
    let text = JSON_SECRET.replace_all(&text, r#"$1"[redacted]""#);
    let text = FORM_SECRET.replace_all(&text, "$1=[redacted]");
    let text = JWT.replace_all(&text, "[redacted]");
    let text = LONG_RUN.replace_all(&text, "[redacted]");
    text.into_owned()
}

/// The redacted start of a response body, for error messages.
pub(crate) fn excerpt(body: &[u8]) -> String {
    let scanned = &body[..body.len().min(SCAN_BYTES)];
    let text = String::from_utf8_lossy(scanned);
    let redacted = redact(&text);
    let mut out: String = redacted
        .chars()
        .filter(|c| !c.is_control() || *c == ' ')
        .take(EXCERPT_CHARS)
        .collect();
    if redacted.chars().count() > EXCERPT_CHARS || body.len() > SCAN_BYTES {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_bearer_tokens_and_token_fields() {
        let text = r#"Authorization: Bearer 9f86d081884c7d659a2feaa0c55ad015 {"access_token":"abc","refresh_token":"def","code":"INVALID_CREDENTIALS"} refresh_token=xyz&client_secret=s3"#;
        let out = redact(text);
        assert!(!out.contains("9f86d081884c7d659a2feaa0c55ad015"));
        assert!(!out.contains("\"abc\""));
        assert!(!out.contains("\"def\""));
        assert!(!out.contains("xyz"));
        assert!(!out.contains("s3"));
        assert!(
            out.contains("INVALID_CREDENTIALS"),
            "error codes stay: {out}"
        );
    }

    #[test]
    fn keeps_uuids_and_messages() {
        let text = r#"{"code":"FORMAT_NINO","message":"The NINO format is invalid","correlationId":"f2fb30e5-4ab6-4a29-b3c1-c7264259ff1c"}"#;
        assert_eq!(redact(text), text);
    }

    #[test]
    fn redacts_jwts_and_opaque_runs() {
        let out = redact(
            "token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U end",
        );
        assert!(!out.contains("eyJ"));
        let out = redact("<html>abcdefABCDEF0123456789abcdef</html>");
        assert_eq!(out, "<html>[redacted]</html>");
    }

    #[test]
    fn excerpt_is_short_and_single_line() {
        let body = "x\n".repeat(1000);
        let out = excerpt(body.as_bytes());
        assert!(out.chars().count() <= EXCERPT_CHARS + 1);
        assert!(!out.contains('\n'));
        assert!(out.ends_with('…'));
    }
}
