//! Golden conformance with the official JS SDK (issue 2): the fixtures in
//! `tests/fixtures/conformance/` were recorded from `inngest` 4.24.0 by
//! `conformance/record.mjs`; each test here starts the Rust catalogue app
//! (`examples/conformance/catalogue.rs`) over real HTTP on 127.0.0.1, replays one fixture's
//! requests in order, signed at send time like the recorder signs them, and compares every
//! answer with the recorded one after the README's normalisation rules N1–N8
//! (`conformance/normalise.rs`).
//!
//! A new fixture needs a line in `conformance_tests!` below, or
//! `every_fixture_and_scenario_has_a_conformance_test` fails.

#[path = "../../examples/conformance/catalogue.rs"]
mod catalogue;
mod normalise;
mod wire;

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use axum::Router;
use serde_json::{Map, Value};

use self::normalise::{Difference, diff, normalise_response};
use self::wire::{Fixture, Mode, Request, Sender};

/// README "App configuration": API and event API origin, where nothing listens.
const BASE_URL: &str = "http://127.0.0.1:9";
/// README "App configuration": the serve path.
const SERVE_PATH: &str = "/api/inngest";

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/conformance")
}

fn scenarios_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("conformance/scenarios")
}

/// The conformance app of one mode, served on 127.0.0.1:0 until dropped.
struct App {
    serve_url: String,
    task: tokio::task::JoinHandle<()>,
}

impl App {
    /// Serves the catalogue configured as the README's table says, from code only
    /// (`catalogue::client` ignores the process environment).
    async fn start(mode: Mode) -> Self {
        assert_eq!(
            (
                catalogue::PRIMARY_SIGNING_KEY,
                catalogue::FALLBACK_SIGNING_KEY
            ),
            (wire::PRIMARY_SIGNING_KEY, wire::FALLBACK_SIGNING_KEY),
            "the catalogue must use the README's signing keys, which the recorder signs with"
        );
        let mode = match mode {
            Mode::Dev => inngest::Mode::Dev,
            Mode::Cloud => inngest::Mode::Cloud,
        };
        let client = catalogue::client(mode, BASE_URL).expect("the catalogue client is valid");
        let functions = catalogue::functions().expect("the catalogue functions are valid");
        let app = Router::new().nest(SERVE_PATH, inngest::serve::router(client, functions));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port");
        let addr = listener
            .local_addr()
            .expect("a bound listener has an address");
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .await
                .expect("serve the conformance app");
        });
        Self {
            serve_url: format!("http://{addr}{SERVE_PATH}"),
            task,
        }
    }
}

impl Drop for App {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// The request object record.mjs stores for a scenario request (`runScenario`).
fn stored_request(scenario_request: &Value) -> Value {
    let fields = [
        "label", "method", "sign", "note", "compare", "query", "headers", "body",
    ];
    let mut out = Map::new();
    for k in fields {
        if let Some(v) = scenario_request.get(k) {
            out.insert(k.to_owned(), v.clone());
        }
    }
    Value::Object(out)
}

/// Fails when the scenario file no longer matches the fixture's recorded requests
/// (record.mjs `--compare`: "stale fixture: re-record").
fn assert_fixture_is_fresh(name: &str, fixture: &Fixture) {
    let scenario = read_json(&scenarios_dir().join(format!("{name}.json")));
    let requests = scenario["requests"].as_array().cloned().unwrap_or_default();
    assert_eq!(
        requests.len(),
        fixture.exchanges.len(),
        "{name}: the scenario has {} requests, the fixture {} exchanges (stale fixture: re-record \
         with conformance/record-js.sh)",
        requests.len(),
        fixture.exchanges.len()
    );
    for (i, (req, ex)) in requests.iter().zip(&fixture.exchanges).enumerate() {
        let mut out = Vec::new();
        diff(&ex.request, &stored_request(req), "", &mut out);
        assert!(
            out.is_empty() && ex.label == ex.request["label"],
            "{name}: request {i} `{}` differs from the scenario file (stale fixture: re-record \
             with conformance/record-js.sh): {out:?}",
            ex.label
        );
    }
}

/// One replayed request whose normalised answer differs from the fixture's.
#[derive(Debug)]
struct Mismatch {
    index: usize,
    label: String,
    summary: String,
    differences: Vec<Difference>,
    /// The normalised Rust answer, printed to help whoever fixes the difference.
    actual: Value,
}

fn load_fixture(name: &str) -> Fixture {
    let path = fixtures_dir().join(format!("{name}.json"));
    let fixture: Fixture = serde_json::from_value(read_json(&path))
        .unwrap_or_else(|e| panic!("{} is not a conformance fixture: {e}", path.display()));
    assert_eq!(
        fixture.scenario,
        name,
        "{}: `scenario` must equal the file stem",
        path.display()
    );
    fixture
}

/// Starts the app of the fixture's mode, replays its requests in order and returns every
/// exchange whose normalised answer differs from the recorded one.
async fn replay(fixture: &Fixture) -> Vec<Mismatch> {
    let name = &fixture.scenario;
    let app = App::start(fixture.mode).await;
    let sender = Sender::new(&app.serve_url);
    let mut mismatches = Vec::new();
    for (index, ex) in fixture.exchanges.iter().enumerate() {
        let req: Request = serde_json::from_value(ex.request.clone())
            .unwrap_or_else(|e| panic!("{name}: request {index} is malformed: {e}"));
        if let Err(e) = ex.response.check() {
            panic!("{name}: the recorded response of request {index} is malformed: {e}");
        }
        let actual = match sender.send(&req).await {
            Ok(actual) => actual,
            Err(e) => panic!("{name}: request {index} `{}`: {e}", req.label),
        };
        let expected = normalise_response(&ex.response, req.compare);
        let actual = normalise_response(&actual, req.compare);
        let mut differences = Vec::new();
        diff(&expected, &actual, "", &mut differences);
        if !differences.is_empty() {
            mismatches.push(Mismatch {
                index,
                label: req.label.clone(),
                summary: req.summary(),
                differences,
                actual,
            });
        }
    }
    mismatches
}

/// The failure text: per request its index, label and summary, then one line per difference
/// (JSON pointer, expected, actual) and the normalised Rust answer.
fn format_report(mismatches: &[Mismatch]) -> String {
    let mut report = String::new();
    for m in mismatches {
        let _ = writeln!(report, "  request {} `{}`: {}", m.index, m.label, m.summary);
        for d in &m.differences {
            let _ = writeln!(
                report,
                "    {}: expected (JS) {}, actual (Rust) {}",
                d.pointer, d.expected, d.actual
            );
        }
        let _ = writeln!(report, "    normalised Rust answer: {}", m.actual);
    }
    report
}

/// Replays `tests/fixtures/conformance/<name>.json` against the Rust app and panics with
/// every difference (request index, label, JSON pointer, expected, actual).
async fn assert_conforms(name: &str) {
    let fixture = load_fixture(name);
    assert_fixture_is_fresh(name, &fixture);
    let mismatches = replay(&fixture).await;
    if mismatches.is_empty() {
        return;
    }
    let count: usize = mismatches.iter().map(|m| m.differences.len()).sum();
    let report = format_report(&mismatches);
    panic!(
        "conformance scenario `{name}` ({:?} mode): {count} difference(s) from the JS SDK \
         4.24.0 fixture tests/fixtures/conformance/{name}.json:\n{report}",
        fixture.mode
    );
}

/// Expands to one `#[tokio::test]` per fixture, named after the scenario, and to the list
/// of covered scenarios checked by `every_fixture_and_scenario_has_a_conformance_test`.
macro_rules! conformance_tests {
    ($($test:ident => $scenario:literal,)+) => {
        const COVERED: &[&str] = &[$($scenario),+];
        $(
            #[doc = concat!("Replays `tests/fixtures/conformance/", $scenario,
                ".json` against the Rust app: it answers like JS SDK 4.24.0.")]
            #[tokio::test]
            async fn $test() {
                assert_conforms($scenario).await;
            }
        )+
    };
}

conformance_tests! {
    serial_steps_matches_js => "serial-steps",
    step_non_retriable_matches_js => "step-non-retriable",
    step_transient_matches_js => "step-transient",
    step_retry_after_matches_js => "step-retry-after",
    parallel_steps_matches_js => "parallel-steps",
    targeted_step_not_found_matches_js => "targeted-step-not-found",
    sleep_matches_js => "sleep",
    wait_for_event_matches_js => "wait-for-event",
    invoke_matches_js => "invoke",
    catch_step_error_matches_js => "catch-step-error",
    uncaught_step_error_matches_js => "uncaught-step-error",
    repeated_ids_matches_js => "repeated-ids",
    fn_non_retriable_matches_js => "fn-non-retriable",
    fn_error_matches_js => "fn-error",
    disable_immediate_execution_matches_js => "disable-immediate-execution",
    input_memo_matches_js => "input-memo",
    returns_nothing_matches_js => "returns-nothing",
    unknown_function_matches_js => "unknown-function",
    request_version_matches_js => "request-version",
    use_api_unreachable_matches_js => "use-api-unreachable",
    wrong_event_name_matches_js => "wrong-event-name",
    introspection_dev_matches_js => "introspection-dev",
    introspection_cloud_matches_js => "introspection-cloud",
    trust_probe_cloud_matches_js => "trust-probe-cloud",
    trust_probe_dev_matches_js => "trust-probe-dev",
    in_band_sync_cloud_matches_js => "in-band-sync-cloud",
    call_signatures_cloud_matches_js => "call-signatures-cloud",
}

/// The `*.json` file stems of `dir`.
fn json_stems(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|entry| entry.expect("a readable directory entry").path())
        .filter(|p| p.extension().is_some_and(|ext| ext == "json"))
        .filter_map(|p| p.file_stem().and_then(|s| s.to_str()).map(str::to_owned))
        .collect()
}

#[test]
fn every_fixture_and_scenario_has_a_conformance_test() {
    let covered: BTreeSet<String> = COVERED.iter().map(|s| (*s).to_owned()).collect();
    assert_eq!(covered.len(), COVERED.len(), "a scenario is listed twice");
    let fixtures = json_stems(&fixtures_dir());
    let untested: Vec<&String> = fixtures.difference(&covered).collect();
    assert!(
        untested.is_empty(),
        "fixtures without a test: {untested:?}; add them to `conformance_tests!` in \
         tests/it/conformance.rs"
    );
    let scenarios = json_stems(&scenarios_dir());
    let unrecorded: Vec<&String> = scenarios.difference(&fixtures).collect();
    assert!(
        unrecorded.is_empty(),
        "scenarios without a fixture: {unrecorded:?}; record them with conformance/record-js.sh"
    );
    let missing: Vec<&String> = covered.difference(&fixtures).collect();
    assert!(missing.is_empty(), "tests without a fixture: {missing:?}");
}

#[tokio::test]
async fn replay_reports_a_changed_hashed_id_and_header_by_request_and_pointer() {
    let mut fixture = load_fixture("serial-steps");
    let response = &mut fixture.exchanges[1].response;
    response.body.as_mut().expect("a 206 has a body")[0]["id"] = "0000".into();
    response
        .headers
        .insert("x-inngest-no-retry".to_owned(), "true".to_owned());

    let mismatches = replay(&fixture).await;

    assert_eq!(mismatches.len(), 1, "{mismatches:#?}");
    assert_eq!(
        (mismatches[0].index, mismatches[0].label.as_str()),
        (1, "first-memoised")
    );
    let found: Vec<(&str, &str, &str)> = mismatches[0]
        .differences
        .iter()
        .map(|d| (d.pointer.as_str(), d.expected.as_str(), d.actual.as_str()))
        .collect();
    assert_eq!(
        found,
        [
            (
                "/body/0/id",
                r#""0000""#,
                r#""b84c4a1656207bc4c25076438eb7ab7d696322c7""#
            ),
            ("/headers/x-inngest-no-retry", r#""true""#, "(absent)"),
        ]
    );
    let report = format_report(&mismatches);
    eprintln!("{report}");
    assert!(
        report.contains(
            "request 1 `first-memoised`: POST ?fnId=conformance-serial-steps&stepId=step \
             (sign none)\n    /body/0/id: expected (JS) \"0000\", actual (Rust) \
             \"b84c4a1656207bc4c25076438eb7ab7d696322c7\"\n"
        ),
        "{report}"
    );
}

#[tokio::test]
async fn replay_judges_the_rust_response_signature_with_the_fallback_key() {
    let mut fixture = load_fixture("call-signatures-cloud");
    let fallback = fixture
        .exchanges
        .iter()
        .position(|ex| ex.request["sign"] == "fallback")
        .expect("the scenario signs one call with the fallback key");
    fixture.exchanges[fallback]
        .response
        .headers
        .insert("x-inngest-signature".to_owned(), "invalid".to_owned());

    let mismatches = replay(&fixture).await;

    assert_eq!(mismatches.len(), 1, "{mismatches:#?}");
    assert_eq!(mismatches[0].index, fallback);
    let d = &mismatches[0].differences;
    assert_eq!(d.len(), 1, "{d:#?}");
    assert_eq!(
        (d[0].pointer.as_str(), d[0].actual.as_str()),
        ("/headers/x-inngest-signature", r#""valid""#)
    );
}
