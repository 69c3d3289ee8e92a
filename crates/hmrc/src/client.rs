//! The MTD API client: one HTTP call per method, no hidden retries, the right `Accept` header
//! per API, fraud-prevention headers on every call, `X-CorrelationId` and deprecation
//! warnings on every result.

use std::time::Duration;

use chrono::Utc;
use http::{HeaderMap, Method, header};
use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::{
    classify::{classify_api_response, classify_transport, correlation_id},
    config::{Endpoints, FraudHeaderPolicy, HttpSettings},
    error::Error,
    fraud::{FraudHeaderProblem, FraudPreventionHeaders},
    redact::excerpt,
    secret::{AccessToken, TokenFingerprint},
};

/// The HMRC APIs this client calls, each pinned to one version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Api {
    /// Obligations API v3.0.
    Obligations,
    /// Self Employment Business API v5.0.
    SelfEmploymentBusiness,
    /// Property Business API v6.0.
    PropertyBusiness,
    /// Individual Calculations API v8.0.
    IndividualCalculations,
    /// Individuals Business End of Period Statement API v3.0.
    EndOfPeriodStatement,
    /// Business Details API v2.0.
    BusinessDetails,
}

impl Api {
    /// The version this client speaks.
    pub const fn version(self) -> &'static str {
        match self {
            Api::Obligations => "3.0",
            Api::SelfEmploymentBusiness => "5.0",
            Api::PropertyBusiness => "6.0",
            Api::IndividualCalculations => "8.0",
            Api::EndOfPeriodStatement => "3.0",
            Api::BusinessDetails => "2.0",
        }
    }

    /// The `Accept` header that selects the version.
    ///
    /// ```
    /// assert_eq!(hmrc_mtd::Api::PropertyBusiness.accept(), "application/vnd.hmrc.6.0+json");
    /// ```
    pub const fn accept(self) -> &'static str {
        match self {
            Api::Obligations => "application/vnd.hmrc.3.0+json",
            Api::SelfEmploymentBusiness => "application/vnd.hmrc.5.0+json",
            Api::PropertyBusiness => "application/vnd.hmrc.6.0+json",
            Api::IndividualCalculations => "application/vnd.hmrc.8.0+json",
            Api::EndOfPeriodStatement => "application/vnd.hmrc.3.0+json",
            Api::BusinessDetails => "application/vnd.hmrc.2.0+json",
        }
    }

    /// HMRC's name for the API.
    pub const fn name(self) -> &'static str {
        match self {
            Api::Obligations => "Obligations",
            Api::SelfEmploymentBusiness => "Self Employment Business",
            Api::PropertyBusiness => "Property Business",
            Api::IndividualCalculations => "Individual Calculations",
            Api::EndOfPeriodStatement => "Individuals Business End of Period Statement",
            Api::BusinessDetails => "Business Details",
        }
    }
}

/// Something worth knowing about a call that still succeeded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Warning {
    /// HMRC marked the API version deprecated (`Deprecation`, `Sunset`, `Link` headers).
    Deprecated {
        /// The `Deprecation` header (an HTTP date).
        deprecation: String,
        /// The `Sunset` header, when given: when the version will be switched off.
        sunset: Option<String>,
        /// The `Link` header, when given: where the docs are.
        link: Option<String>,
    },
    /// The call's fraud-prevention headers are incomplete (sent anyway under
    /// [`FraudHeaderPolicy::Warn`]).
    FraudPreventionHeaders {
        /// Every problem, by header name.
        problems: Vec<FraudHeaderProblem>,
    },
    /// HMRC accepted the submission, but its response body could not be read.
    UnreadableBody {
        /// Why, with a redacted excerpt.
        detail: String,
    },
}

/// A successful call: the typed body plus what HMRC said about the call.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Response<T> {
    /// The typed result.
    pub body: T,
    /// The HTTP status.
    pub status: u16,
    /// HMRC's `X-CorrelationId`: quote it to HMRC support.
    pub correlation_id: Option<String>,
    /// Deprecation notices and other warnings.
    pub warnings: Vec<Warning>,
}

impl<T> Response<T> {
    /// Replaces the body, keeping the metadata.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Response<U> {
        Response {
            body: f(self.body),
            status: self.status,
            correlation_id: self.correlation_id,
            warnings: self.warnings,
        }
    }
}

/// What every call needs: the user's access token and the fraud-prevention headers to send,
/// plus, for the sandbox only, a `Gov-Test-Scenario`.
#[derive(Clone, Copy, Debug)]
pub struct CallContext<'a> {
    access_token: &'a AccessToken,
    fraud_headers: &'a FraudPreventionHeaders,
    test_scenario: Option<&'a str>,
    timeout: Option<Duration>,
}

impl<'a> CallContext<'a> {
    /// A call made with this token and these fraud-prevention headers.
    pub fn new(access_token: &'a AccessToken, fraud_headers: &'a FraudPreventionHeaders) -> Self {
        Self {
            access_token,
            fraud_headers,
            test_scenario: None,
            timeout: None,
        }
    }

    /// Sends `Gov-Test-Scenario` (refused unless the endpoints allow test scenarios).
    pub fn with_test_scenario(mut self, scenario: &'a str) -> Self {
        self.test_scenario = Some(scenario);
        self
    }

    /// Overrides the client's request timeout for this call.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }
}

/// How the API client is set up.
#[derive(Clone, Debug)]
pub struct ApiConfig {
    /// HMRC's URLs.
    pub endpoints: Endpoints,
    /// Timeouts and user agent.
    pub http: HttpSettings,
    /// What to do about incomplete fraud-prevention headers.
    pub fraud_header_policy: FraudHeaderPolicy,
}

impl ApiConfig {
    /// Default HTTP settings and [`FraudHeaderPolicy::Warn`].
    pub fn new(endpoints: Endpoints) -> Self {
        Self {
            endpoints,
            http: HttpSettings::default(),
            fraud_header_policy: FraudHeaderPolicy::default(),
        }
    }
}

/// The MTD Income Tax API client. Cheap to clone; share one per process.
#[derive(Clone, Debug)]
pub struct MtdClient {
    http: reqwest::Client,
    endpoints: Endpoints,
    fraud_header_policy: FraudHeaderPolicy,
}

/// One request, before it is sent.
pub(crate) struct ApiRequest<'p> {
    pub(crate) api: Api,
    pub(crate) method: Method,
    /// What the call does, for logs (`"create self-employment period summary"`).
    pub(crate) operation: &'static str,
    pub(crate) path: Vec<&'p str>,
    pub(crate) query: Vec<(&'static str, String)>,
    pub(crate) body: Option<Vec<u8>>,
}

impl<'p> ApiRequest<'p> {
    pub(crate) fn new(
        api: Api,
        method: Method,
        operation: &'static str,
        path: Vec<&'p str>,
    ) -> Self {
        Self {
            api,
            method,
            operation,
            path,
            query: Vec::new(),
            body: None,
        }
    }

    pub(crate) fn query(mut self, key: &'static str, value: impl ToString) -> Self {
        self.query.push((key, value.to_string()));
        self
    }

    pub(crate) fn json<B: Serialize>(mut self, body: &B) -> Result<Self, Error> {
        let bytes = serde_json::to_vec(body).map_err(|e| Error::Unexpected {
            status: None,
            detail: format!("the request body could not be written as JSON: {e}"),
            body_excerpt: String::new(),
            correlation_id: None,
        })?;
        self.body = Some(bytes);
        Ok(self)
    }
}

/// HMRC's raw answer.
pub(crate) struct RawResponse {
    pub(crate) status: u16,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Vec<u8>,
    pub(crate) correlation_id: Option<String>,
    pub(crate) warnings: Vec<Warning>,
    token_fingerprint: TokenFingerprint,
}

impl RawResponse {
    pub(crate) fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The classified error for a non-2xx answer.
    pub(crate) fn into_error(self) -> Error {
        classify_api_response(self.status, &self.headers, &self.body)
            .with_token_fingerprint(self.token_fingerprint)
    }

    pub(crate) fn respond<T>(self, body: T) -> Response<T> {
        Response {
            body,
            status: self.status,
            correlation_id: self.correlation_id,
            warnings: self.warnings,
        }
    }

    /// A 2xx answer with a JSON body of type `T`; anything else is classified.
    pub(crate) fn json<T: DeserializeOwned>(self) -> Result<Response<T>, Error> {
        if !self.is_success() {
            return Err(self.into_error());
        }
        match serde_json::from_slice::<T>(&self.body) {
            Ok(body) => Ok(self.respond(body)),
            Err(e) => Err(Error::Unexpected {
                status: Some(self.status),
                detail: format!("HMRC's response body is not the JSON this client expects: {e}"),
                body_excerpt: excerpt(&self.body),
                correlation_id: self.correlation_id,
            }),
        }
    }

    /// A 2xx answer to a submission whose body carries an ID. HMRC has accepted the
    /// submission whatever the body says, so an unreadable body is a warning, not an error.
    pub(crate) fn accepted<T: DeserializeOwned>(self) -> Result<Response<Option<T>>, Error> {
        if !self.is_success() {
            return Err(self.into_error());
        }
        match serde_json::from_slice::<T>(&self.body) {
            Ok(body) => Ok(self.respond(Some(body))),
            Err(e) => {
                let detail = format!(
                    "HMRC accepted the submission (HTTP {}) but its body could not be read: {e}; body starts: {}",
                    self.status,
                    excerpt(&self.body)
                );
                let mut response = self.respond(None);
                response.warnings.push(Warning::UnreadableBody { detail });
                Ok(response)
            }
        }
    }

    /// A 2xx answer whose body does not matter (204 No Content).
    pub(crate) fn no_content(self) -> Result<Response<()>, Error> {
        if !self.is_success() {
            return Err(self.into_error());
        }
        Ok(self.respond(()))
    }
}

impl MtdClient {
    /// Builds the client and its own HTTP client.
    pub fn new(config: ApiConfig) -> Result<Self, Error> {
        let http = config.http.build_client()?;
        Ok(Self::with_http_client(config, http))
    }

    /// Builds the client on an existing `reqwest` client. The client's timeout applies; set
    /// one (see [`HttpSettings::build_client`]).
    pub fn with_http_client(config: ApiConfig, http: reqwest::Client) -> Self {
        Self {
            http,
            endpoints: config.endpoints,
            fraud_header_policy: config.fraud_header_policy,
        }
    }

    /// The endpoints in use.
    pub fn endpoints(&self) -> &Endpoints {
        &self.endpoints
    }

    fn url(&self, request: &ApiRequest<'_>) -> Result<url::Url, Error> {
        let mut url = self.endpoints.api_base.clone();
        {
            let mut segments = url.path_segments_mut().map_err(|()| {
                Error::misconfigured("the API base URL cannot take a path (use http(s)://host/)")
            })?;
            segments.pop_if_empty();
            segments.extend(request.path.iter().copied());
        }
        if !request.query.is_empty() {
            url.query_pairs_mut()
                .extend_pairs(request.query.iter().map(|(k, v)| (*k, v.as_str())));
        }
        Ok(url)
    }

    /// Sends one request: exactly one HTTP call, never retried.
    pub(crate) async fn send(
        &self,
        call: &CallContext<'_>,
        request: ApiRequest<'_>,
    ) -> Result<RawResponse, Error> {
        let mut warnings = Vec::new();
        if let Err(problems) = call.fraud_headers.validate() {
            match self.fraud_header_policy {
                FraudHeaderPolicy::Reject => {
                    return Err(Error::PlatformMisconfiguration {
                        code: None,
                        status: None,
                        detail: format!("{problems}; nothing was sent to HMRC"),
                        correlation_id: None,
                    });
                }
                FraudHeaderPolicy::Warn => {
                    tracing::warn!(
                        api = request.api.name(),
                        operation = request.operation,
                        headers = ?problems.header_names(),
                        "fraud-prevention headers are incomplete; sending anyway"
                    );
                    warnings.push(Warning::FraudPreventionHeaders {
                        problems: problems.0,
                    });
                }
            }
        }
        if call.test_scenario.is_some() && !self.endpoints.allows_test_scenarios {
            return Err(Error::misconfigured(
                "Gov-Test-Scenario is sandbox-only and must not be sent to production",
            ));
        }

        let url = self.url(&request)?;
        let mut builder = self
            .http
            .request(request.method.clone(), url)
            .header(header::ACCEPT, request.api.accept())
            .bearer_auth(call.access_token.expose_secret());
        for (name, value) in call.fraud_headers.to_headers(Utc::now()) {
            builder = builder.header(name, value);
        }
        if let Some(scenario) = call.test_scenario {
            builder = builder.header("Gov-Test-Scenario", scenario);
        }
        if let Some(timeout) = call.timeout {
            builder = builder.timeout(timeout);
        }
        if let Some(body) = request.body {
            builder = builder
                .header(header::CONTENT_TYPE, "application/json")
                .body(body);
        }

        let response = builder.send().await.map_err(|e| {
            let err = classify_transport(e);
            tracing::warn!(
                api = request.api.name(),
                operation = request.operation,
                error = %err,
                "HMRC call failed without a response"
            );
            err
        })?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.bytes().await.map_err(classify_transport)?.to_vec();
        let correlation_id = correlation_id(&headers);
        if let Some(deprecated) = deprecation(&headers) {
            tracing::warn!(
                api = request.api.name(),
                version = request.api.version(),
                ?deprecated,
                "HMRC marked this API version deprecated"
            );
            warnings.push(deprecated);
        }
        tracing::debug!(
            api = request.api.name(),
            operation = request.operation,
            status,
            correlation_id = correlation_id.as_deref().unwrap_or(""),
            "HMRC answered"
        );
        Ok(RawResponse {
            status,
            headers,
            body,
            correlation_id,
            warnings,
            token_fingerprint: call.access_token.fingerprint(),
        })
    }
}

fn header_text(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// `Deprecation`, `Sunset` and `Link` as a warning, when the version is deprecated.
fn deprecation(headers: &HeaderMap) -> Option<Warning> {
    let deprecation = header_text(headers, "deprecation")?;
    Some(Warning::Deprecated {
        deprecation,
        sunset: header_text(headers, "sunset"),
        link: header_text(headers, "link"),
    })
}

/// A body serialised to JSON, for building requests in the flow modules.
pub(crate) fn json_value<B: Serialize>(body: &B) -> Result<serde_json::Value, Error> {
    serde_json::to_value(body).map_err(|e| Error::Unexpected {
        status: None,
        detail: format!("the request body could not be written as JSON: {e}"),
        body_excerpt: String::new(),
        correlation_id: None,
    })
}
