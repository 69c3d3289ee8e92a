//! The `hmrc-sandbox` binary: `--help`, and serving on the port it is given.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// Kills the server even when an assertion fails first.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn help_lists_the_flags() {
    let out = Command::new(env!("CARGO_BIN_EXE_hmrc-sandbox"))
        .arg("--help")
        .output()
        .expect("the binary runs");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--port",
        "--host",
        "--seed",
        "--calculation-delay-ms",
        "--refresh-delay-ms",
        "--rate-limit",
    ] {
        assert!(text.contains(flag), "--help lacks {flag}:\n{text}");
    }
}

#[tokio::test]
async fn the_binary_serves_a_seeded_sandbox() {
    let dir = std::env::temp_dir().join(format!("hmrc-sandbox-seed-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let seed = dir.join("seed.json");
    std::fs::write(
        &seed,
        r#"{"applications": [{"clientId": "bin-app", "clientSecret": "bin-secret", "redirectUris": ["http://localhost:1/cb"]}],
            "users": [{"userId": "carol", "password": "pw", "nino": "AB123456C"}]}"#,
    )
    .unwrap();
    let mut child = Running(
        Command::new(env!("CARGO_BIN_EXE_hmrc-sandbox"))
            .args(["--port", "0", "--seed"])
            .arg(&seed)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the binary starts"),
    );
    let stdout = child.0.stdout.take().unwrap();
    let mut first = String::new();
    BufReader::new(stdout).read_line(&mut first).unwrap();
    let url = first
        .trim()
        .strip_prefix("HMRC sandbox listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
        .to_owned();
    let users: serde_json::Value = reqwest::get(format!("{url}/_admin/users"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = reqwest::Client::new()
        .post(format!("{url}/oauth/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "bin-app"),
            ("client_secret", "bin-secret"),
        ])
        .send()
        .await
        .unwrap()
        .status();
    drop(child);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(users[0]["userId"], "carol");
    assert_eq!(users[0]["nino"], "AB123456C");
    assert_eq!(token, reqwest::StatusCode::OK);
}
