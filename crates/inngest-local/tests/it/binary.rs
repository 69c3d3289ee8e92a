//! The `inngest-local` binary: help text, config file, flags overriding the file.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_inngest-local");

#[test]
fn help_lists_the_dev_server_flags() {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for flag in [
        "--sdk-url",
        "--port",
        "--host",
        "--config",
        "--no-poll",
        "--poll-interval",
        "--retry-interval",
        "--signing-key",
        "--event-key",
        "--time-scale",
        "--db",
    ] {
        assert!(text.contains(flag), "--help lacks {flag}:\n{text}");
    }
}

#[test]
fn rejects_a_malformed_signing_key_with_a_clear_error() {
    let out = Command::new(BIN)
        .args(["--port", "0", "--signing-key", "signkey-test-nothex"])
        .env_remove("INNGEST_CONFIG")
        .current_dir(std::env::temp_dir())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("signing key") && err.contains("hex"), "{err}");
}

struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn reads_the_config_file_and_flags_override_it() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("inngest.yaml"),
        "sdk-url:\n  - 127.0.0.1:9/api/inngest\npoll-interval: 7\nretry-interval: 3\ntime-scale: 60\nno-poll: true\n",
    )
    .unwrap();
    let mut child = Command::new(BIN)
        .args(["--port", "0", "--poll-interval", "9"])
        .current_dir(dir.path())
        .env_remove("INNGEST_CONFIG")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let _guard = Killed(child);
    let mut line = String::new();
    let mut reader = BufReader::new(stdout);
    reader.read_line(&mut line).unwrap();
    let url = line.trim().rsplit(' ').next().unwrap().to_owned();
    assert!(url.starts_with("http://127.0.0.1:"), "{line}");
    let info: Value = reqwest::get(format!("{url}/dev"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let opts = &info["startOpts"];
    assert_eq!(opts["poll-interval"], 9, "the flag wins over the file");
    assert_eq!(opts["retry-interval"], 3);
    assert_eq!(opts["time-scale"], 60.0);
    assert_eq!(opts["no-poll"], true);
    assert_eq!(
        opts["sdk-url"][0], "http://127.0.0.1:9/api/inngest",
        "scheme added like the dev server"
    );
    drop(reader);
}
