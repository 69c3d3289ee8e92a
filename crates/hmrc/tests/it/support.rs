//! Shared test helpers: HMRC's vendored definitions, schema validation, fixtures, a local
//! HTTP server, and the list of flows the failure matrix runs over.

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use chrono::{TimeZone, Utc};
use hmrc_mtd::{
    AccessToken, Api, ApiConfig, BusinessId, CalculationId, CallContext, Endpoints, Error,
    FraudHeaderPolicy, HttpSettings, MtdClient, Nino, PeriodDates, TaxYear, TypeOfBusiness,
    eops::EndOfPeriodStatement,
    fraud::{
        BatchProcessDirect, DeviceUserAgent, FraudPreventionHeaders, MfaKind, MultiFactor, Screen,
        WebAppViaServer,
    },
    obligations::ObligationsQuery,
    property::{
        PropertyExpenses, PropertyIncome, UkPropertyAllowances, UkPropertyAnnual,
        UkPropertyAnnualSubmission, UkPropertyCumulativeSummary, UkPropertyFigures,
        UkPropertyPeriodSummary,
    },
    self_employment::{
        SelfEmploymentAllowances, SelfEmploymentAnnualSubmission, SelfEmploymentCumulativeSummary,
        SelfEmploymentExpenses, SelfEmploymentIncome, SelfEmploymentNonFinancials,
        SelfEmploymentPeriodSummary,
    },
};
use serde_json::Value;
use wiremock::{MockServer, ResponseTemplate};

/// `testdata/hmrc-api`, HMRC's own definitions vendored in the repository.
pub(crate) fn hmrc_api() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/hmrc-api")
}

/// Renders the handlebars blocks HMRC leaves in a few definitions, as HMRC's documentation
/// site does with every feature flag enabled and released: `{{#if …}}A{{else}}B{{/if}}` keeps
/// `A`, `{{#unless (releasedInProduction …)}}X{{/unless}}` drops `X`.
pub(crate) fn render_template(text: &str) -> String {
    #[derive(Clone, Copy, PartialEq)]
    enum Block {
        If { keeping: bool },
        Unless,
    }
    let mut out = String::with_capacity(text.len());
    let mut stack: Vec<Block> = Vec::new();
    let mut rest = text;
    let emitting = |stack: &[Block]| {
        stack.iter().all(|b| match b {
            Block::If { keeping } => *keeping,
            Block::Unless => false,
        })
    };
    while let Some(start) = rest.find("{{") {
        if emitting(&stack) {
            out.push_str(&rest[..start]);
        }
        let end = rest[start..].find("}}").expect("template tag is closed") + start;
        let tag = rest[start + 2..end].trim();
        if tag.starts_with("#if") {
            stack.push(Block::If { keeping: true });
        } else if tag.starts_with("#unless") {
            stack.push(Block::Unless);
        } else if tag == "else" {
            if let Some(Block::If { keeping }) = stack.last_mut() {
                *keeping = !*keeping;
            }
        } else if tag == "/if" || tag == "/unless" {
            stack.pop();
        } else {
            panic!("unknown template tag {tag}");
        }
        rest = &rest[end + 2..];
    }
    out.push_str(rest);
    out
}

/// A JSON file under `testdata/hmrc-api`, templates rendered.
pub(crate) fn read_json(relative: &str) -> Value {
    let path = hmrc_api().join(relative);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&render_template(&text))
        .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// A YAML file under `testdata/hmrc-api`, as JSON.
pub(crate) fn read_yaml(relative: &str) -> Value {
    let path = hmrc_api().join(relative);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_yaml_ng::from_str(&render_template(&text))
        .unwrap_or_else(|e| panic!("{} is not YAML: {e}", path.display()))
}

struct FileRetriever;

impl jsonschema::Retrieve for FileRetriever {
    fn retrieve(
        &self,
        uri: &jsonschema::Uri<String>,
    ) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        let path = uri
            .as_str()
            .strip_prefix("file://")
            .ok_or_else(|| format!("only file URIs are resolved, not {}", uri.as_str()))?;
        let text = std::fs::read_to_string(path)?;
        Ok(serde_json::from_str(&render_template(&text))?)
    }
}

/// A validator for a JSON schema under `testdata/hmrc-api` (draft-04, relative `$ref`s
/// resolved from disk).
pub(crate) fn schema(relative: &str) -> jsonschema::Validator {
    let path = hmrc_api()
        .join(relative)
        .canonicalize()
        .unwrap_or_else(|e| panic!("{relative}: {e}"));
    let document = read_json(relative);
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft4)
        .with_base_uri(format!("file://{}", path.display()))
        .with_retriever(FileRetriever)
        .should_validate_formats(true)
        .build(&document)
        .unwrap_or_else(|e| panic!("schema {relative} does not compile: {e}"))
}

/// Every schema error of `instance`, as `message at /pointer`.
pub(crate) struct Validation {
    pub(crate) errors: Vec<String>,
}

pub(crate) fn validate(schema_path: &str, instance: &Value) -> Validation {
    let validator = schema(schema_path);
    let errors = validator
        .iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    Validation { errors }
}

/// Panics with every schema error when `instance` does not validate.
pub(crate) fn assert_valid(schema_path: &str, instance: &Value) {
    let Validation { errors } = validate(schema_path, instance);
    assert!(
        errors.is_empty(),
        "{instance} does not validate against {schema_path}:\n{}",
        errors.join("\n")
    );
}

/// One `(status, code, message)` per error example of a flow's OpenAPI definition.
pub(crate) fn error_examples(api_dir: &str, definition: &str) -> Vec<(u16, String, String)> {
    let doc = read_yaml(&format!("{api_dir}/{definition}"));
    let operation = ["get", "post", "put", "delete"]
        .iter()
        .find_map(|m| doc.get(*m))
        // Some files hold the operation itself rather than `method: operation`.
        .unwrap_or(&doc);
    let mut out = Vec::new();
    let responses = operation["responses"]
        .as_object()
        .unwrap_or_else(|| panic!("{definition} has no responses"));
    for (status, response) in responses {
        let status: u16 = status.parse().expect("numeric status");
        if status < 400 {
            continue;
        }
        let Some(examples) = response
            .pointer("/content/application~1json/examples")
            .and_then(Value::as_object)
        else {
            continue;
        };
        for example in examples.values() {
            let value = match example.get("$ref").and_then(Value::as_str) {
                Some(reference) => resolve_example(api_dir, reference),
                None => example["value"].clone(),
            };
            let code = value["code"]
                .as_str()
                .expect("example has a code")
                .to_owned();
            let message = value["message"].as_str().unwrap_or_default().to_owned();
            out.push((status, code, message));
        }
    }
    assert!(!out.is_empty(), "{definition} lists no errors");
    out
}

fn resolve_example(api_dir: &str, reference: &str) -> Value {
    let (file, pointer) = reference.split_once('#').expect("reference has a pointer");
    let doc = read_yaml(&format!("{api_dir}/{}", file.trim_start_matches("./")));
    doc.pointer(pointer)
        .unwrap_or_else(|| panic!("{reference} does not resolve"))["value"]
        .clone()
}

pub(crate) fn at() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 7, 1, 9, 30, 0).unwrap()
}

/// Complete `WEB_APP_VIA_SERVER` headers, as captured from a browser request.
pub(crate) fn web_headers() -> FraudPreventionHeaders {
    FraudPreventionHeaders::WebAppViaServer(
        WebAppViaServer::new()
            .browser_js_user_agent(
                "Mozilla/5.0 (X11; Linux x86_64; rv:130.0) Gecko/20100101 Firefox/130.0",
            )
            .device_id("beec798b-b366-47fa-b1f8-92cede14a1ce")
            .multi_factor(MultiFactor {
                kind: MfaKind::Totp,
                timestamp: at(),
                unique_reference:
                    "fc4b5fd6816f75a7c81fc8eaa9499d6a299bd803397166e8c4cf9280b801d62c".into(),
            })
            .public_ip("198.51.100.7".parse().unwrap())
            .public_ip_timestamp(at())
            .public_port(52311)
            .screens(vec![Screen {
                width: 1920,
                height: 1080,
                scaling_factor: 1.25,
                colour_depth: 24,
            }])
            .timezone_offset_minutes(60)
            .user_id("my-tax-app", "alice@example.com")
            .window_size(1256, 803)
            .vendor_forwarded(
                "203.0.113.6".parse().unwrap(),
                "198.51.100.7".parse().unwrap(),
            )
            .vendor_license_id(
                "my-tax-app",
                "8D7963490527D33716835EE7C195516D5E562E03B224E9B359836466EE40CDE1",
            )
            .vendor_product_name("My Tax App")
            .vendor_public_ip("203.0.113.6".parse().unwrap())
            .vendor_version("my-tax-app", "2.2.2"),
    )
}

/// Complete `BATCH_PROCESS_DIRECT` headers, describing a batch server.
pub(crate) fn batch_headers() -> FraudPreventionHeaders {
    FraudPreventionHeaders::BatchProcessDirect(
        BatchProcessDirect::new()
            .device_id("3fa85f64-5717-4562-b3fc-2c963f66afa6")
            .local_ips(vec![
                "10.1.2.3".parse().unwrap(),
                "fd12:3456::1".parse().unwrap(),
            ])
            .mac_addresses(vec!["ea:43:1a:5d:21:45".into()])
            .timezone("UTC+00:00")
            .user_agent(DeviceUserAgent {
                os_family: "Linux".into(),
                os_version: "6.8.0".into(),
                device_manufacturer: "Dell Inc.".into(),
                device_model: "PowerEdge R650".into(),
            })
            .user_id("os", "mtd-worker")
            .vendor_license_id(
                "my-tax-app",
                "8D7963490527D33716835EE7C195516D5E562E03B224E9B359836466EE40CDE1",
            )
            .vendor_product_name("My Tax App")
            .vendor_version("my-tax-app", "2.2.2"),
    )
}

pub(crate) fn token() -> AccessToken {
    AccessToken::new("2a1e4b6d8f0c3e5a7b9d1f3a5c7e9b0d")
}

pub(crate) fn nino() -> Nino {
    Nino::new("AA123456A").unwrap()
}

pub(crate) fn se_business() -> BusinessId {
    BusinessId::new("XAIS12345678910").unwrap()
}

pub(crate) fn property_business() -> BusinessId {
    BusinessId::new("XPIS12345678903").unwrap()
}

pub(crate) fn calculation_id() -> CalculationId {
    CalculationId::new("f2fb30e5-4ab6-4a29-b3c1-c7264259ff1c").unwrap()
}

/// The identifiers a flow's fixed inputs are filed under: HMRC's example values for the
/// wiremock stub ([`Ids::fixed`]), or the ones the simulator issued to its test user.
#[derive(Clone, Debug)]
pub(crate) struct Ids {
    pub(crate) nino: Nino,
    pub(crate) se_business: BusinessId,
    pub(crate) property_business: BusinessId,
    pub(crate) calculation_id: CalculationId,
}

impl Ids {
    /// HMRC's example identifiers (the paths of [`Flow::path`]).
    pub(crate) fn fixed() -> Self {
        Ids {
            nino: nino(),
            se_business: se_business(),
            property_business: property_business(),
            calculation_id: calculation_id(),
        }
    }
}

pub(crate) fn ty(text: &str) -> TaxYear {
    text.parse().unwrap()
}

pub(crate) fn money<T: std::str::FromStr>(text: &str) -> T
where
    T::Err: std::fmt::Debug,
{
    text.parse().unwrap()
}

/// The API client, pointed at a local server, with a 5 s timeout.
pub(crate) fn client(server: &MockServer) -> MtdClient {
    client_with_policy(server, FraudHeaderPolicy::Warn)
}

pub(crate) fn client_with_policy(server: &MockServer, policy: FraudHeaderPolicy) -> MtdClient {
    let mut config = ApiConfig::new(Endpoints::local(server.uri().parse().unwrap()));
    config.http = HttpSettings {
        timeout: Duration::from_secs(5),
        ..HttpSettings::default()
    };
    config.fraud_header_policy = policy;
    MtdClient::new(config).unwrap()
}

pub(crate) const CORRELATION_ID: &str = "a1e8057e-fbbc-47a8-a8b4-78d9f015c253";

/// An HMRC-style JSON answer with an `X-CorrelationId`.
pub(crate) fn hmrc(status: u16, body: Value) -> ResponseTemplate {
    ResponseTemplate::new(status)
        .insert_header("X-CorrelationId", CORRELATION_ID)
        .insert_header("Content-Type", "application/json")
        .set_body_string(body.to_string())
}

/// An HMRC-style answer without a body.
pub(crate) fn hmrc_empty(status: u16) -> ResponseTemplate {
    ResponseTemplate::new(status).insert_header("X-CorrelationId", CORRELATION_ID)
}

/// The single request the server received.
pub(crate) async fn only_request(server: &MockServer) -> wiremock::Request {
    let mut requests = server.received_requests().await.expect("recording is on");
    assert_eq!(requests.len(), 1, "expected exactly one request to HMRC");
    requests.remove(0)
}

/// Every flow of the client, with fixed valid inputs, for tests that run over all of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Flow {
    IncomeAndExpenditureObligations,
    FinalDeclarationObligations,
    SelfEmploymentPeriod,
    SelfEmploymentCumulative,
    SelfEmploymentAnnual,
    UkPropertyPeriod,
    UkPropertyCumulative,
    UkPropertyAnnual,
    EndOfPeriodStatement,
    TriggerCalculation,
    RetrieveCalculation,
    FinalDeclaration,
    ListBusinesses,
}

impl Flow {
    pub(crate) const ALL: [Flow; 13] = [
        Flow::IncomeAndExpenditureObligations,
        Flow::FinalDeclarationObligations,
        Flow::SelfEmploymentPeriod,
        Flow::SelfEmploymentCumulative,
        Flow::SelfEmploymentAnnual,
        Flow::UkPropertyPeriod,
        Flow::UkPropertyCumulative,
        Flow::UkPropertyAnnual,
        Flow::EndOfPeriodStatement,
        Flow::TriggerCalculation,
        Flow::RetrieveCalculation,
        Flow::FinalDeclaration,
        Flow::ListBusinesses,
    ];

    pub(crate) fn api(self) -> Api {
        match self {
            Flow::IncomeAndExpenditureObligations | Flow::FinalDeclarationObligations => {
                Api::Obligations
            }
            Flow::SelfEmploymentPeriod
            | Flow::SelfEmploymentCumulative
            | Flow::SelfEmploymentAnnual => Api::SelfEmploymentBusiness,
            Flow::UkPropertyPeriod | Flow::UkPropertyCumulative | Flow::UkPropertyAnnual => {
                Api::PropertyBusiness
            }
            Flow::EndOfPeriodStatement => Api::EndOfPeriodStatement,
            Flow::TriggerCalculation | Flow::RetrieveCalculation | Flow::FinalDeclaration => {
                Api::IndividualCalculations
            }
            Flow::ListBusinesses => Api::BusinessDetails,
        }
    }

    /// HMRC's definition of the endpoint: API folder and operation file.
    pub(crate) fn definition(self) -> (&'static str, &'static str) {
        match self {
            Flow::IncomeAndExpenditureObligations => (
                "obligations-api/3.0",
                "retrieve_income_tax_income_expenditure.yaml",
            ),
            Flow::FinalDeclarationObligations => (
                "obligations-api/3.0",
                "retrieve_income_tax_crystallisation.yaml",
            ),
            Flow::SelfEmploymentPeriod => (
                "self-employment-business-api/5.0",
                "create_period_summary.yaml",
            ),
            Flow::SelfEmploymentCumulative => (
                "self-employment-business-api/5.0",
                "create_amend_cumulative_period_summary.yaml",
            ),
            Flow::SelfEmploymentAnnual => (
                "self-employment-business-api/5.0",
                "create_and_amend_annual_submission.yaml",
            ),
            Flow::UkPropertyPeriod => (
                "property-business-api/6.0",
                "uk_property_period_summary_create.yaml",
            ),
            Flow::UkPropertyCumulative => (
                "property-business-api/6.0",
                "uk_property_cumulative_summary_create_or_amend.yaml",
            ),
            Flow::UkPropertyAnnual => (
                "property-business-api/6.0",
                "uk_property_annual_submission_create_and_amend.yaml",
            ),
            Flow::EndOfPeriodStatement => (
                "individuals-business-eops-api/3.0",
                "submit_end_of_period_statement.yaml",
            ),
            Flow::TriggerCalculation => ("individual-calculations-api/8.0", "trigger.yaml"),
            Flow::RetrieveCalculation => ("individual-calculations-api/8.0", "retrieve.yaml"),
            Flow::FinalDeclaration => (
                "individual-calculations-api/8.0",
                "submit_final_declaration.yaml",
            ),
            Flow::ListBusinesses => ("business-details-api/2.0", "list.yaml"),
        }
    }

    pub(crate) fn method(self) -> &'static str {
        match self {
            Flow::IncomeAndExpenditureObligations
            | Flow::FinalDeclarationObligations
            | Flow::RetrieveCalculation
            | Flow::ListBusinesses => "GET",
            Flow::SelfEmploymentPeriod
            | Flow::UkPropertyPeriod
            | Flow::EndOfPeriodStatement
            | Flow::TriggerCalculation
            | Flow::FinalDeclaration => "POST",
            Flow::SelfEmploymentCumulative
            | Flow::SelfEmploymentAnnual
            | Flow::UkPropertyCumulative
            | Flow::UkPropertyAnnual => "PUT",
        }
    }

    /// The simulator's ID for the flow's endpoint (fault switches and its request journal).
    pub(crate) fn endpoint(self) -> &'static str {
        match self {
            Flow::IncomeAndExpenditureObligations => "obligations-income-and-expenditure",
            Flow::FinalDeclarationObligations => "obligations-crystallisation",
            Flow::SelfEmploymentPeriod => "se-period-create",
            Flow::SelfEmploymentCumulative => "se-cumulative",
            Flow::SelfEmploymentAnnual => "se-annual",
            Flow::UkPropertyPeriod => "uk-property-period-create",
            Flow::UkPropertyCumulative => "uk-property-cumulative",
            Flow::UkPropertyAnnual => "uk-property-annual",
            Flow::EndOfPeriodStatement => "eops-submit",
            Flow::TriggerCalculation => "calculation-trigger",
            Flow::RetrieveCalculation => "calculation-retrieve",
            Flow::FinalDeclaration => "calculation-final-declaration",
            Flow::ListBusinesses => "business-details-list",
        }
    }

    /// The path HMRC documents for the fixed inputs.
    pub(crate) fn path(self) -> &'static str {
        match self {
            Flow::IncomeAndExpenditureObligations => {
                "/obligations/details/AA123456A/income-and-expenditure"
            }
            Flow::FinalDeclarationObligations => "/obligations/details/AA123456A/crystallisation",
            Flow::SelfEmploymentPeriod => {
                "/individuals/business/self-employment/AA123456A/XAIS12345678910/period"
            }
            Flow::SelfEmploymentCumulative => {
                "/individuals/business/self-employment/AA123456A/XAIS12345678910/cumulative/2025-26"
            }
            Flow::SelfEmploymentAnnual => {
                "/individuals/business/self-employment/AA123456A/XAIS12345678910/annual/2024-25"
            }
            Flow::UkPropertyPeriod => {
                "/individuals/business/property/uk/AA123456A/XPIS12345678903/period/2024-25"
            }
            Flow::UkPropertyCumulative => {
                "/individuals/business/property/uk/AA123456A/XPIS12345678903/cumulative/2025-26"
            }
            Flow::UkPropertyAnnual => {
                "/individuals/business/property/uk/AA123456A/XPIS12345678903/annual/2025-26"
            }
            Flow::EndOfPeriodStatement => "/individuals/business/end-of-period-statement/AA123456A",
            Flow::TriggerCalculation => {
                "/individuals/calculations/AA123456A/self-assessment/2024-25/trigger/intent-to-finalise"
            }
            Flow::RetrieveCalculation => {
                "/individuals/calculations/AA123456A/self-assessment/2024-25/f2fb30e5-4ab6-4a29-b3c1-c7264259ff1c"
            }
            Flow::FinalDeclaration => {
                "/individuals/calculations/AA123456A/self-assessment/2024-25/f2fb30e5-4ab6-4a29-b3c1-c7264259ff1c/final-declaration"
            }
            Flow::ListBusinesses => "/individuals/business/details/AA123456A/list",
        }
    }

    /// HMRC's success answer for the flow, from its examples.
    pub(crate) fn success(self) -> ResponseTemplate {
        match self {
            Flow::IncomeAndExpenditureObligations => hmrc(
                200,
                read_json(
                    "obligations-api/3.0/examples/retrieve_non-cumulative_periodic_obligations.json",
                ),
            ),
            Flow::FinalDeclarationObligations => hmrc(
                200,
                read_json("obligations-api/3.0/examples/retrieve_crystallisation_obligations.json"),
            ),
            Flow::SelfEmploymentPeriod => hmrc(
                200,
                read_json(
                    "self-employment-business-api/5.0/examples/createPeriodSummary/response.json",
                ),
            ),
            Flow::UkPropertyPeriod => hmrc(
                201,
                read_json(
                    "property-business-api/6.0/examples/uk_property_period_summary_create/response.json",
                ),
            ),
            Flow::TriggerCalculation => hmrc(
                202,
                read_json("individual-calculations-api/8.0/examples/trigger/trigger_response.json"),
            ),
            Flow::RetrieveCalculation => hmrc(
                200,
                read_json(
                    "individual-calculations-api/8.0/examples/retrieve/def2/retrieve_response.json",
                ),
            ),
            Flow::ListBusinesses => hmrc(
                200,
                read_json("business-details-api/2.0/examples/listAllBusinesses/response.json"),
            ),
            Flow::SelfEmploymentCumulative
            | Flow::SelfEmploymentAnnual
            | Flow::UkPropertyCumulative
            | Flow::UkPropertyAnnual
            | Flow::EndOfPeriodStatement
            | Flow::FinalDeclaration => hmrc_empty(204),
        }
    }

    /// Runs the flow once with fixed, valid inputs under HMRC's example identifiers, dropping
    /// the typed body.
    pub(crate) async fn run(
        self,
        client: &MtdClient,
        call: &CallContext<'_>,
    ) -> Result<hmrc_mtd::Response<()>, Error> {
        self.run_for(client, call, &Ids::fixed()).await
    }

    /// Runs the flow once with fixed, valid inputs under `ids`, dropping the typed body.
    pub(crate) async fn run_for(
        self,
        client: &MtdClient,
        call: &CallContext<'_>,
        ids: &Ids,
    ) -> Result<hmrc_mtd::Response<()>, Error> {
        let nino = &ids.nino;
        match self {
            Flow::IncomeAndExpenditureObligations => client
                .income_and_expenditure_obligations(call, nino, &ObligationsQuery::all())
                .await
                .map(discard),
            Flow::FinalDeclarationObligations => client
                .final_declaration_obligations(call, nino, Some(ty("2024-25")), None)
                .await
                .map(discard),
            Flow::SelfEmploymentPeriod => client
                .submit_self_employment_period(call, nino, &ids.se_business, &se_period_2024_25())
                .await
                .map(discard),
            Flow::SelfEmploymentCumulative => {
                client
                    .submit_self_employment_cumulative(
                        call,
                        nino,
                        &ids.se_business,
                        ty("2025-26"),
                        &se_cumulative_2025_26(),
                    )
                    .await
            }
            Flow::SelfEmploymentAnnual => {
                client
                    .submit_self_employment_annual(
                        call,
                        nino,
                        &ids.se_business,
                        ty("2024-25"),
                        &se_annual_trading_allowance(),
                    )
                    .await
            }
            Flow::UkPropertyPeriod => client
                .submit_uk_property_period(
                    call,
                    nino,
                    &ids.property_business,
                    ty("2024-25"),
                    &property_period_2024_25(),
                )
                .await
                .map(discard),
            Flow::UkPropertyCumulative => {
                client
                    .submit_uk_property_cumulative(
                        call,
                        nino,
                        &ids.property_business,
                        ty("2025-26"),
                        &property_cumulative_2025_26(),
                    )
                    .await
            }
            Flow::UkPropertyAnnual => {
                client
                    .submit_uk_property_annual(
                        call,
                        nino,
                        &ids.property_business,
                        ty("2025-26"),
                        &property_annual_2025_26(),
                    )
                    .await
            }
            Flow::EndOfPeriodStatement => {
                client
                    .submit_end_of_period_statement(call, nino, &eops_2022_23_for(&ids.se_business))
                    .await
            }
            Flow::TriggerCalculation => client
                .trigger_final_declaration_calculation(call, nino, ty("2024-25"))
                .await
                .map(discard),
            Flow::RetrieveCalculation => client
                .retrieve_calculation(call, nino, ty("2024-25"), &ids.calculation_id)
                .await
                .map(discard),
            Flow::FinalDeclaration => {
                client
                    .submit_final_declaration(call, nino, ty("2024-25"), &ids.calculation_id)
                    .await
            }
            Flow::ListBusinesses => client.list_businesses(call, nino).await.map(discard),
        }
    }
}

fn discard<T>(response: hmrc_mtd::Response<T>) -> hmrc_mtd::Response<()> {
    response.map(|_| ())
}

pub(crate) fn se_period_2024_25() -> SelfEmploymentPeriodSummary {
    let q = ty("2024-25").quarters()[0];
    SelfEmploymentPeriodSummary::new(PeriodDates::new(q.start, q.end))
        .income(SelfEmploymentIncome {
            turnover: Some(money("2500.50")),
            other: Some(money("0")),
            tax_taken_off_trading_income: Some(money("12.34")),
        })
        .expenses(SelfEmploymentExpenses::consolidated(money("-310.55")))
}

pub(crate) fn se_cumulative_2025_26() -> SelfEmploymentCumulativeSummary {
    let q = ty("2025-26").quarters()[1];
    SelfEmploymentCumulativeSummary::new()
        .period_dates(PeriodDates::new(q.start, q.end))
        .income(SelfEmploymentIncome {
            turnover: Some(money("10500.00")),
            other: Some(money("99.99")),
            tax_taken_off_trading_income: None,
        })
        .expenses(SelfEmploymentExpenses {
            cost_of_goods: Some(money("1200.10")),
            wages_and_staff_costs: Some(money("-20.00")),
            ..Default::default()
        })
}

pub(crate) fn se_annual_trading_allowance() -> SelfEmploymentAnnualSubmission {
    SelfEmploymentAnnualSubmission {
        allowances: Some(SelfEmploymentAllowances {
            trading_income_allowance: Some(money("1000.00")),
            ..Default::default()
        }),
        non_financials: Some(SelfEmploymentNonFinancials {
            business_details_changed_recently: true,
            class4_nics_exemption_reason: None,
        }),
        adjustments: None,
    }
}

pub(crate) fn property_period_2024_25() -> UkPropertyPeriodSummary {
    let q = ty("2024-25").quarters()[0];
    UkPropertyPeriodSummary::new(q.start, q.end).non_fhl(UkPropertyFigures {
        income: Some(PropertyIncome {
            period_amount: Some(money("3000.00")),
            other_income: Some(money("25.01")),
            ..Default::default()
        }),
        expenses: Some(PropertyExpenses {
            consolidated_expenses: Some(money("450.45")),
            residential_financial_cost: Some(money("100.00")),
            ..Default::default()
        }),
    })
}

pub(crate) fn property_cumulative_2025_26() -> UkPropertyCumulativeSummary {
    let q = ty("2025-26").quarters()[0];
    UkPropertyCumulativeSummary {
        from_date: Some(q.start),
        to_date: Some(q.end),
        uk_property: UkPropertyFigures {
            income: Some(PropertyIncome {
                period_amount: Some(money("3000.00")),
                ..Default::default()
            }),
            expenses: Some(PropertyExpenses {
                premises_running_costs: Some(money("-12.00")),
                repairs_and_maintenance: Some(money("300.00")),
                ..Default::default()
            }),
        },
    }
}

pub(crate) fn property_annual_2025_26() -> UkPropertyAnnualSubmission {
    UkPropertyAnnualSubmission {
        uk_fhl_property: None,
        uk_property: Some(UkPropertyAnnual {
            adjustments: None,
            allowances: Some(UkPropertyAllowances {
                property_income_allowance: Some(money("1000.00")),
                ..Default::default()
            }),
        }),
    }
}

/// The 2022-23 End of Period Statement of a self-employment.
pub(crate) fn eops_2022_23_for(business: &BusinessId) -> EndOfPeriodStatement {
    let year = ty("2022-23");
    EndOfPeriodStatement::new(
        TypeOfBusiness::SelfEmployment,
        business.clone(),
        year.start_date(),
        year.end_date(),
    )
}
