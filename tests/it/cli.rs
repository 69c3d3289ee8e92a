//! The real `mtd` binary: help, `serve` configuration errors and wiring, `dev`, `demo`, and
//! `repair-history` on a seeded database.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use http::StatusCode;
use mtd_store::{
    Audit, EncryptionKey, HmrcAnswer, NewSubmission, RejectionError, Store, StoreConfig,
    SubmissionKind, SubmissionStatus,
};

fn mtd() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mtd"));
    // Nothing from the environment of the test run leaks into the command under test.
    command.env_clear();
    if let Ok(path) = std::env::var("PATH") {
        command.env("PATH", path);
    }
    command.env("RUST_LOG", "warn");
    command
}

/// A child process that is killed (and reaped) when the test ends, however it ends.
struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Running {
    fn spawn(mut command: Command) -> Self {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the mtd binary starts");
        let stdout = child.stdout.take().expect("stdout is piped");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Self { child, lines }
    }

    /// Lines until one contains `marker`.
    fn until(&self, marker: &str) -> Vec<String> {
        let mut seen = Vec::new();
        loop {
            match self.lines.recv_timeout(Duration::from_secs(60)) {
                Ok(line) => {
                    let done = line.contains(marker);
                    seen.push(line);
                    if done {
                        return seen;
                    }
                }
                Err(e) => panic!("no line with {marker:?} ({e}); got {seen:#?}"),
            }
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn url_in(line: &str) -> String {
    let start = line.find("http://").expect("a URL in the line");
    line[start..]
        .split(|c: char| c.is_whitespace() || c == ')')
        .next()
        .unwrap_or_default()
        .trim_end_matches('/')
        .to_owned()
}

#[test]
fn help_lists_every_command_and_every_serve_setting_without_secret_values() {
    let out = mtd().arg("--help").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for command in ["demo", "dev", "serve", "repair-history"] {
        assert!(text.contains(command), "{command} in {text}");
    }
    let out = mtd()
        .args(["serve", "--help"])
        .env("HMRC_CLIENT_SECRET", "secret-value-1")
        .env("MTD_TOKEN_KEYS", "secret-value-2")
        .env("INNGEST_SIGNING_KEY", "secret-value-3")
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for env in [
        "DATABASE_URL",
        "MTD_TOKEN_KEYS",
        "MTD_LISTEN",
        "MTD_USER_HEADER",
        "MTD_MFA_HEADER",
        "HMRC_ENV",
        "HMRC_CLIENT_ID",
        "HMRC_CLIENT_SECRET",
        "HMRC_REDIRECT_URI",
        "HMRC_API_BASE_URL",
        "INNGEST_DEV",
        "INNGEST_SIGNING_KEY",
        "INNGEST_EVENT_KEY",
        "MTD_CLIENT_IP_HEADER",
        "MTD_VENDOR_PUBLIC_IP",
        "MTD_VENDOR_LICENSE_IDS",
    ] {
        assert!(text.contains(env), "{env} documented in serve --help");
    }
    assert!(!text.contains("secret-value"), "{text}");
    for sub in ["demo", "dev", "repair-history"] {
        assert!(
            mtd()
                .args([sub, "--help"])
                .output()
                .unwrap()
                .status
                .success()
        );
    }
}

#[test]
fn serve_without_a_signing_key_stops_with_a_clear_message() {
    let out = mtd()
        .arg("serve")
        .env("HMRC_ENV", "sandbox")
        .env("HMRC_CLIENT_ID", "id")
        .env("HMRC_CLIENT_SECRET", "client-secret-value")
        .env("HMRC_REDIRECT_URI", "https://app.example.com/hmrc/callback")
        .env("DATABASE_URL", "/nonexistent/mtd.db")
        .env("MTD_VENDOR_PUBLIC_IP", "203.0.113.6")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("cloud mode needs a signing key"), "{err}");
    assert!(err.contains("INNGEST_SIGNING_KEY"), "{err}");
    assert!(!err.contains("client-secret-value"), "{err}");
    assert!(String::from_utf8(out.stdout).unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_wires_the_functions_to_an_inngest_dev_server_and_trusts_only_the_user_header() {
    let dir = tempfile::tempdir().unwrap();
    let engine = inngest_local::Engine::builder()
        .port(0)
        .no_poll()
        .start()
        .await
        .unwrap();
    let sandbox = hmrc_sandbox::Sandbox::builder()
        .application(hmrc_sandbox::NewApplication::new(
            "mtd-serve-test",
            "serve-test-secret",
            "http://localhost/hmrc/callback",
        ))
        .start()
        .await
        .unwrap();
    let key = EncryptionKey::generate().unwrap();
    let mut command = mtd();
    command
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("INNGEST_DEV", engine.url())
        .env("HMRC_ENV", "sandbox")
        .env("HMRC_CLIENT_ID", "mtd-serve-test")
        .env("HMRC_CLIENT_SECRET", "serve-test-secret")
        .env("HMRC_REDIRECT_URI", "http://localhost/hmrc/callback")
        .env("HMRC_API_BASE_URL", sandbox.url())
        .env(
            "HMRC_AUTHORIZE_URL",
            format!("{}/oauth/authorize", sandbox.url()),
        )
        .env("HMRC_TOKEN_URL", format!("{}/oauth/token", sandbox.url()))
        .env("DATABASE_URL", dir.path().join("serve.db"))
        .env(
            "MTD_TOKEN_KEYS",
            format!("k1:{}", key.expose_base64().as_str()),
        )
        .env("MTD_VENDOR_PUBLIC_IP", "203.0.113.6")
        .env("MTD_VENDOR_LICENSE_IDS", "mtd=0123456789abcdef");
    let server = Running::spawn(command);
    let lines = server.until("listening on");
    let app = url_in(lines.last().unwrap());
    assert!(lines.last().unwrap().contains("dev mode"));

    assert!(
        engine
            .sync_app(&format!("{app}/api/inngest"))
            .await
            .unwrap()
    );
    let mut ids: Vec<String> = engine
        .functions()
        .iter()
        .filter_map(|f| f["id"].as_str().map(str::to_owned))
        .collect();
    ids.sort();
    for id in [
        "mtd-fetch-obligations",
        "mtd-submit-period",
        "mtd-submit-annual-summary",
        "mtd-submit-eops",
        "mtd-submit-crystallisation",
        "mtd-scheduled-obligations-refresh",
    ] {
        assert!(ids.iter().any(|i| i == id), "{id} registered: {ids:?}");
    }

    let http = reqwest::Client::new();
    let anonymous = http
        .get(format!("{app}/api/v1/submissions"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let user = http
        .get(format!("{app}/api/v1/submissions"))
        .header("x-mtd-user", "platform-user-7")
        .send()
        .await
        .unwrap();
    assert_eq!(user.status(), StatusCode::OK);
    let browser = mtd::browser::Browser::new();
    browser.set_header("x-mtd-user", "platform-user-7");
    let dashboard = browser.get(&format!("{app}/")).await.unwrap();
    assert_eq!(dashboard.status, StatusCode::OK);
    let form = mtd::browser::form_with_action(&dashboard, "/hmrc/connect").unwrap();
    let mut url = form.action.clone();
    url.query_pairs_mut()
        .extend_pairs(form.inputs.iter().filter(|(k, _)| k != "nino"))
        .append_pair("nino", "AA123456A");
    let pages = browser.visit(url.as_str()).await.unwrap();
    let sign_in = pages.last().unwrap();
    assert_eq!(sign_in.url.path(), "/oauth/authorize");
    assert!(sign_in.url.as_str().starts_with(sandbox.url()));
    let query = sign_in.url.query().unwrap_or("").to_owned();
    assert!(query.contains("client_id=mtd-serve-test"), "{query}");
    assert_eq!(sign_in.status, StatusCode::OK, "{}", sign_in.body);
    assert!(sign_in.body.contains("Grant authority"));
    drop(server);
    engine.shutdown().await;
    sandbox.shutdown().await.unwrap();
}

#[test]
fn dev_serves_the_dashboard_and_prints_the_demo_sign_in_until_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let mut command = mtd();
    command.args([
        "dev",
        "--port",
        "0",
        "--engine-port",
        "0",
        "--hmrc-port",
        "0",
        "--data-dir",
    ]);
    command.arg(dir.path().join(".mtd"));
    let dev = Running::spawn(command);
    let lines = dev.until("HMRC sign-in");
    let app = url_in(
        lines
            .iter()
            .find(|l| l.contains("app (open this)"))
            .unwrap(),
    );
    assert!(lines.last().unwrap().contains("mtd-demo"));
    let body = blocking_get(&format!("{app}/"));
    assert!(body.contains("Connect HMRC account"), "{body}");
    drop(dev);
}

/// A GET from a synchronous test.
fn blocking_get(url: &str) -> String {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        reqwest::get(url)
            .await
            .expect("the app answers")
            .text()
            .await
            .expect("a body")
    })
}

async fn seeded_store(path: &std::path::Path) -> (uuid::Uuid, uuid::Uuid) {
    let store = Store::open(StoreConfig::new(path.to_string_lossy()))
        .await
        .expect("seeding the store");
    let audit = Audit::new("old-release", "seed");
    let auth = store
        .submissions()
        .create(
            &NewSubmission::new(
                SubmissionKind::Period,
                "user-1",
                "AA123456A",
                serde_json::json!({}),
            ),
            &audit,
        )
        .await
        .expect("seeding the store");
    store
        .submissions()
        .mark_rejected(
            auth.id,
            &[],
            &HmrcAnswer::new(401, Some("INVALID_CREDENTIALS")),
            &audit,
        )
        .await
        .expect("seeding the store");
    let genuine = store
        .submissions()
        .create(
            &NewSubmission::new(
                SubmissionKind::Period,
                "user-2",
                "AA123456A",
                serde_json::json!({}),
            ),
            &audit,
        )
        .await
        .expect("seeding the store");
    let errors = [RejectionError {
        code: "RULE_NOT_CONTIGUOUS_PERIOD".into(),
        message: "The period is not contiguous".into(),
        paths: vec!["/periodDates".into()],
    }];
    store
        .submissions()
        .mark_rejected(
            genuine.id,
            &errors,
            &HmrcAnswer::new(400, Some("RULE_NOT_CONTIGUOUS_PERIOD")),
            &audit,
        )
        .await
        .expect("seeding the store");
    store.close().await;
    (auth.id, genuine.id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repair_history_reports_on_a_dry_run_and_relabels_only_auth_failures_on_apply() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("history.db");
    let (auth, genuine) = seeded_store(&db).await;

    let dry = mtd()
        .args(["repair-history", "--database-url"])
        .arg(&db)
        .output()
        .unwrap();
    assert!(
        dry.status.success(),
        "{}",
        String::from_utf8_lossy(&dry.stderr)
    );
    let text = String::from_utf8(dry.stdout).unwrap();
    assert!(
        text.contains("dry run: examined 2 rejected submissions: would relabel 1"),
        "{text}"
    );
    assert!(text.contains(&auth.to_string()));
    assert!(text.contains("run again with --apply"));
    let store = Store::open(StoreConfig::new(db.to_string_lossy()))
        .await
        .unwrap();
    assert_eq!(
        store.submissions().get(auth).await.unwrap().unwrap().status,
        SubmissionStatus::Rejected
    );

    let apply = mtd()
        .args(["repair-history", "--apply", "--json", "--database-url"])
        .arg(&db)
        .output()
        .unwrap();
    assert!(
        apply.status.success(),
        "{}",
        String::from_utf8_lossy(&apply.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&apply.stdout).unwrap();
    assert_eq!(report["applied"], true);
    assert_eq!(report["examined"], 2);
    assert_eq!(report["relabelled"][0]["submission_id"], auth.to_string());
    assert_eq!(report["genuine_rejections"], 1);
    let fixed = store.submissions().get(auth).await.unwrap().unwrap();
    assert_eq!(fixed.status, SubmissionStatus::Failed);
    assert_eq!(
        store
            .submissions()
            .get(genuine)
            .await
            .unwrap()
            .unwrap()
            .status,
        SubmissionStatus::Rejected
    );
    let notes = store
        .notifications()
        .list("user-1", mtd_store::NotificationFilter::All, 10)
        .await
        .unwrap();
    assert_eq!(notes[0].title, "Please reconnect your HMRC account");

    let again = mtd()
        .args(["repair-history", "--apply", "--json", "--database-url"])
        .arg(&db)
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(report["relabelled"].as_array().unwrap().len(), 0);
    store.close().await;

    let missing = mtd()
        .args(["repair-history", "--database-url"])
        .arg(dir.path().join("absent.db"))
        .output()
        .unwrap();
    assert!(!missing.status.success());
    assert!(
        String::from_utf8(missing.stderr)
            .unwrap()
            .contains("there is no database")
    );
}

#[test]
fn mtd_demo_runs_every_scenario_to_the_expected_outcome_without_printing_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join(".mtd");
    let out = mtd()
        .arg("demo")
        .arg("--data-dir")
        .arg(&data)
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("Every outcome was as expected."),
        "{stdout}"
    );
    assert!(!stdout.contains("[!!]"));
    for scenario in [
        "connect HMRC account",
        "quarterly update",
        "HMRC 503 twice",
        "grant revoked",
        "reconnect, then resubmit",
        "figures HMRC refuses",
    ] {
        assert!(
            stdout.contains(&format!("[ok] {scenario}")),
            "{scenario} in {stdout}"
        );
    }
    let key = std::fs::read_to_string(data.join("token-keys")).unwrap();
    let secret = key.trim().split_once(':').unwrap().1;
    assert!(!stdout.contains(secret));
    assert!(!stdout.to_ascii_lowercase().contains("bearer"));
}
