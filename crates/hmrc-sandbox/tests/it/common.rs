//! Shared helpers: a started sandbox with one application and one user, real OAuth over HTTP,
//! request helpers, and checks against HMRC's schemas and error examples in testdata/hmrc-api.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use hmrc_sandbox::{
    Clock, ManualClock, NewApplication, NewBusiness, NewTestUser, RunningSandbox, Sandbox,
    SandboxBuilder, TaxYear,
};
use reqwest::{Method, StatusCode, header::HeaderMap};
use serde_json::Value;

pub(crate) const CLIENT_ID: &str = "test-client";
pub(crate) const CLIENT_SECRET: &str = "test-secret-123";
pub(crate) const REDIRECT_URI: &str = "http://localhost:9999/callback";
pub(crate) const SE_ID: &str = "XAIS12345678910";
pub(crate) const UK_ID: &str = "XPIS12345678901";
pub(crate) const NINO: &str = "AA123456A";

/// The fixed "now" of most tests: 28 November 2026, in tax year 2026-27.
pub(crate) fn today() -> chrono::DateTime<chrono::Utc> {
    use chrono::TimeZone;
    chrono::Utc
        .with_ymd_and_hms(2026, 11, 28, 12, 0, 0)
        .unwrap()
}

/// A running sandbox with helpers.
pub(crate) struct Env {
    pub(crate) sandbox: RunningSandbox,
    pub(crate) http: reqwest::Client,
}

/// The builder every test starts from: no rate limit, no calculation delay, one app, one user
/// with a self-employment and a UK property business.
pub(crate) fn builder() -> SandboxBuilder {
    Sandbox::builder()
        .clock(Arc::new(ManualClock::new(today())))
        .rate_limit(None)
        .calculation_delay(Duration::ZERO)
        .application(NewApplication::new(CLIENT_ID, CLIENT_SECRET, REDIRECT_URI))
        .user(
            NewTestUser::default()
                .credentials("alice", "alice-password")
                .nino(NINO)
                .businesses(vec![
                    NewBusiness::self_employment().with_id(SE_ID),
                    NewBusiness::uk_property().with_id(UK_ID),
                ])
                .obligation_years(vec![
                    TaxYear::starting(2023),
                    TaxYear::starting(2024),
                    TaxYear::starting(2025),
                    TaxYear::starting(2026),
                ]),
        )
}

pub(crate) async fn env() -> Env {
    env_with(builder()).await
}

pub(crate) async fn env_with_clock(clock: Arc<dyn Clock>) -> Env {
    env_with(builder().clock(clock)).await
}

pub(crate) async fn env_with(builder: SandboxBuilder) -> Env {
    let sandbox = builder.start().await.expect("the sandbox starts");
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a reqwest client");
    Env { sandbox, http }
}

/// A response, body parsed as JSON when there is one.
#[derive(Debug)]
pub(crate) struct Resp {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) json: Value,
    pub(crate) text: String,
}

impl Resp {
    async fn from(response: reqwest::Response) -> Self {
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.expect("a readable body");
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Self {
            status,
            headers,
            json,
            text,
        }
    }

    pub(crate) fn code(&self) -> &str {
        self.json["code"].as_str().unwrap_or("")
    }

    pub(crate) fn correlation_id(&self) -> String {
        self.headers
            .get("x-correlationid")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    }
}

/// Tokens from the token endpoint.
#[derive(Debug, Clone)]
pub(crate) struct Tokens {
    pub(crate) access: String,
    pub(crate) refresh: String,
}

impl Env {
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{}", self.sandbox.url(), path)
    }

    /// POSTs the authorise form (sign in + decision) and returns the raw response.
    pub(crate) async fn authorize_form(&self, fields: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .post(self.url("/oauth/authorize"))
            .form(fields)
            .send()
            .await
            .expect("the authorise form posts")
    }

    /// Signs in as `user_id` and grants authority; returns the code from the redirect.
    pub(crate) async fn code_for(
        &self,
        user_id: &str,
        password: &str,
        extra: &[(&str, &str)],
    ) -> String {
        let mut fields = vec![
            ("response_type", "code"),
            ("client_id", CLIENT_ID),
            ("scope", "read:self-assessment write:self-assessment"),
            ("redirect_uri", REDIRECT_URI),
            ("state", "xyz"),
            ("user_id", user_id),
            ("password", password),
            ("decision", "grant"),
        ];
        fields.retain(|(k, _)| !extra.iter().any(|(e, _)| e == k));
        fields.extend_from_slice(extra);
        let response = self.authorize_form(&fields).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let location = response.headers()["location"].to_str().unwrap().to_owned();
        let url = url::Url::parse(&location).unwrap();
        url.query_pairs()
            .find(|(k, _)| k == "code")
            .map(|(_, v)| v.into_owned())
            .expect("the redirect carries a code")
    }

    /// Exchanges a code.
    pub(crate) async fn exchange(&self, code: &str, extra: &[(&str, &str)]) -> Resp {
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
            ("redirect_uri", REDIRECT_URI),
            ("code", code),
        ];
        form.extend_from_slice(extra);
        self.token(&form).await
    }

    /// POSTs a form to the token endpoint.
    pub(crate) async fn token(&self, form: &[(&str, &str)]) -> Resp {
        Resp::from(
            self.http
                .post(self.url("/oauth/token"))
                .form(form)
                .send()
                .await
                .expect("the token endpoint answers"),
        )
        .await
    }

    pub(crate) async fn refresh(&self, refresh_token: &str) -> Resp {
        self.token(&[
            ("grant_type", "refresh_token"),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
            ("refresh_token", refresh_token),
        ])
        .await
    }

    /// Refreshes and returns the new pair (after moving the clock past the access token's life).
    pub(crate) async fn renew(&self, tokens: &Tokens) -> Tokens {
        let r = self.refresh(&tokens.refresh).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        Tokens {
            access: r.json["access_token"].as_str().unwrap().to_owned(),
            refresh: r.json["refresh_token"].as_str().unwrap().to_owned(),
        }
    }

    /// Full authorisation-code flow for alice.
    pub(crate) async fn tokens(&self) -> Tokens {
        self.tokens_for("alice", "alice-password").await
    }

    pub(crate) async fn tokens_for(&self, user_id: &str, password: &str) -> Tokens {
        let code = self.code_for(user_id, password, &[]).await;
        let r = self.exchange(&code, &[]).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        Tokens {
            access: r.json["access_token"].as_str().unwrap().to_owned(),
            refresh: r.json["refresh_token"].as_str().unwrap().to_owned(),
        }
    }

    /// An application-restricted token.
    pub(crate) async fn app_token(&self) -> String {
        let r = self
            .token(&[
                ("grant_type", "client_credentials"),
                ("client_id", CLIENT_ID),
                ("client_secret", CLIENT_SECRET),
            ])
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        r.json["access_token"].as_str().unwrap().to_owned()
    }

    /// Sends an API request.
    pub(crate) async fn call(&self, req: Call<'_>) -> Resp {
        let mut builder = self
            .http
            .request(req.method.clone(), self.url(req.path))
            .header(
                "Accept",
                format!("application/vnd.hmrc.{}+json", req.version),
            );
        if let Some(token) = req.token {
            builder = builder.bearer_auth(token);
        }
        if let Some(s) = req.scenario {
            builder = builder.header("Gov-Test-Scenario", s);
        }
        for (k, v) in req.headers {
            builder = builder.header(*k, *v);
        }
        if let Some(body) = req.body {
            builder = builder
                .header("Content-Type", "application/json")
                .body(body.to_owned());
        }
        Resp::from(builder.send().await.expect("the API answers")).await
    }

    pub(crate) async fn get(&self, path: &str, version: &str, token: &str) -> Resp {
        self.call(Call::new(Method::GET, path, version).token(token))
            .await
    }

    pub(crate) async fn send_json(
        &self,
        method: Method,
        path: &str,
        version: &str,
        token: &str,
        body: &str,
    ) -> Resp {
        self.call(Call::new(method, path, version).token(token).body(body))
            .await
    }
}

/// One API request.
pub(crate) struct Call<'a> {
    pub(crate) method: Method,
    pub(crate) path: &'a str,
    pub(crate) version: &'a str,
    pub(crate) token: Option<&'a str>,
    pub(crate) body: Option<&'a str>,
    pub(crate) scenario: Option<&'a str>,
    pub(crate) headers: &'a [(&'a str, &'a str)],
}

impl<'a> Call<'a> {
    pub(crate) fn new(method: Method, path: &'a str, version: &'a str) -> Self {
        Self {
            method,
            path,
            version,
            token: None,
            body: None,
            scenario: None,
            headers: &[],
        }
    }
    pub(crate) fn token(mut self, token: &'a str) -> Self {
        self.token = Some(token);
        self
    }
    pub(crate) fn body(mut self, body: &'a str) -> Self {
        self.body = Some(body);
        self
    }
    pub(crate) fn scenario(mut self, scenario: &'a str) -> Self {
        self.scenario = Some(scenario);
        self
    }
    pub(crate) fn headers(mut self, headers: &'a [(&'a str, &'a str)]) -> Self {
        self.headers = headers;
        self
    }
}

// ---- HMRC's definitions --------------------------------------------------------------------

pub(crate) fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/hmrc-api")
}

/// Resolves HMRC's documentation templating (`{{#if (enabled ...)}}`), taking the enabled
/// branch, and drops trailing commas the templating leaves behind.
fn render(text: &str) -> String {
    let mut out = String::new();
    let mut keep: Vec<bool> = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        if keep.iter().all(|k| *k) {
            out.push_str(&rest[..start]);
        }
        let end = rest[start..].find("}}").expect("templating tags close") + start + 2;
        let tag = &rest[start + 2..end - 2];
        if tag.starts_with("#if") {
            keep.push(true);
        } else if tag.starts_with("#unless") {
            keep.push(false);
        } else if tag == "else" {
            let last = keep.pop().expect("else inside a block");
            keep.push(!last);
        } else if tag.starts_with('/') {
            keep.pop();
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    let re = regex::Regex::new(r",(\s*[}\]])").unwrap();
    re.replace_all(&out, "$1").into_owned()
}

/// Loads a JSON or YAML file of HMRC's definitions.
pub(crate) fn load(path: &Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let text = render(&text);
    if path.extension().is_some_and(|e| e == "yaml") {
        serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    } else {
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }
}

struct FileRetriever;

impl jsonschema::Retrieve for FileRetriever {
    fn retrieve(
        &self,
        uri: &jsonschema::Uri<String>,
    ) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        Ok(load(Path::new(uri.path().as_str())))
    }
}

/// Asserts `instance` validates against the schema at `rel` (under testdata/hmrc-api).
pub(crate) fn assert_schema(rel: &str, instance: &Value) {
    let path = testdata()
        .join(rel)
        .canonicalize()
        .expect("the schema exists");
    let schema = load(&path);
    let validator = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft4)
        .with_base_uri(format!("file://{}", path.display()))
        .with_retriever(FileRetriever)
        .should_validate_formats(true)
        .build(&schema)
        .unwrap_or_else(|e| panic!("schema {rel} compiles: {e}"));
    let errors: Vec<String> = validator
        .iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{rel} rejects the answer:\n{}\n{}",
        errors.join("\n"),
        serde_json::to_string_pretty(instance).unwrap()
    );
}

/// HMRC's example messages for `code` in an API's `common/errors.yaml`.
pub(crate) fn example_messages(api_dir: &str, code: &str) -> Vec<String> {
    let doc = load(&testdata().join(api_dir).join("common/errors.yaml"));
    doc["components"]["examples"]
        .as_object()
        .expect("examples")
        .values()
        .filter(|ex| ex["value"]["code"] == code)
        .filter_map(|ex| ex["value"]["message"].as_str().map(str::to_owned))
        .collect()
}

/// Asserts an error body is HMRC's: schema-valid, and code + message as in the API's examples.
pub(crate) fn assert_hmrc_error(api_dir: &str, body: &Value, code: &str) {
    assert_eq!(body["code"], code, "{body}");
    assert_schema(&format!("{api_dir}/schemas/error-response.yaml"), body);
    let messages = example_messages(api_dir, code);
    assert!(!messages.is_empty(), "{api_dir} has no example for {code}");
    let message = body["message"].as_str().unwrap_or("");
    assert!(
        messages.iter().any(|m| m == message),
        "{code}: {message:?} is not one of HMRC's messages {messages:?}"
    );
}

/// Loads one of HMRC's example files as text.
pub(crate) fn example_text(rel: &str) -> String {
    std::fs::read_to_string(testdata().join(rel)).expect("the example exists")
}

/// `true` for a 36-character UUID.
pub(crate) fn is_uuid(s: &str) -> bool {
    s.len() == 36 && uuid::Uuid::parse_str(s).is_ok()
}
