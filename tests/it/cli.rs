//! `iam-alarm render` as a user runs it: exit codes, stdout, stderr.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use crate::support::{own_fixture, repo_root};

fn render(args: &[&str], stdin: &str, env: &[(&str, &str)]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_iam-alarm"))
        .arg("render")
        .args(args)
        .env_remove("WATCHED_EVENTS")
        .env_remove("ALERT_TIMEZONE")
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn fixture_path(name: &str) -> String {
    repo_root()
        .join("tests/fixtures/records")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

#[test]
fn assumed_role_create_user_names_session_role_and_created_user() {
    let out = render(
        &[&fixture_path("CreateUser-AssumedRole-session.json")],
        "",
        &[],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let embed = &json["embeds"][0];
    assert_eq!(embed["title"], "IAM user created: IAM-test-user");
    let description = embed["description"].as_str().unwrap();
    assert!(
        description.contains("terraform\\-run\\-42 via ci\\-deployer")
            || description.contains("terraform-run-42 via ci-deployer"),
        "{description}"
    );
    assert!(description.contains("IAM-test-user"), "{description}");
    assert_eq!(json["allowed_mentions"]["parse"], serde_json::json!([]));
    assert_eq!(json["enforce_nonce"], true);
    assert_eq!(
        embed["footer"]["text"],
        "eventID 6f1d2c3b-4a5e-4f60-8a7b-9c0d1e2f3a4b"
    );
}

#[test]
fn stdin_and_exit_codes() {
    let record = own_fixture("records/DeleteUser-IAMUser.json");
    assert_eq!(render(&["-"], &record, &[]).status.code(), Some(0));
    // Valid but not watched: 1, with the reason on stderr.
    let out = render(&[], &record, &[("WATCHED_EVENTS", "CreateUser")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a watched event"));
    assert!(out.stdout.is_empty());
    // --events overrides WATCHED_EVENTS.
    let out = render(
        &["--events", "all"],
        &record,
        &[("WATCHED_EVENTS", "CreateUser")],
    );
    assert_eq!(out.status.code(), Some(0));
    // Malformed: 2.
    let out = render(&[], "{not json", &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("malformed"));
    // Unreadable: 2.
    assert_eq!(
        render(&["/nonexistent/file.json"], "", &[]).status.code(),
        Some(2)
    );
    assert_eq!(render(&[], "\u{FF}", &[]).status.code(), Some(2));
}

#[test]
fn bad_configuration_exits_2_naming_the_variable() {
    let out = render(&[], "{}", &[("ALERT_TIMEZONE", "Nowhere/Land")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("ALERT_TIMEZONE"));
}

#[test]
fn configured_time_zone_shows_beside_the_discord_timestamp() {
    let record = own_fixture("records/CreateUser-AssumedRole-session.json");
    let out = render(&[], &record, &[("ALERT_TIMEZONE", "Asia/Seoul")]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("<t:1795165201:f>"), "{text}");
    assert!(text.contains("2026-11-20 18:00:01 KST"), "{text}");
}

#[test]
fn text_mode_for_the_console() {
    let record = own_fixture("records/CreateUser-failed-AccessDenied.json");
    let out = render(&["--text"], &record, &[]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Failed attempt to create IAM user"), "{text}");
    assert!(text.contains("FAILED AccessDenied"), "{text}");
    assert!(
        text.contains("i-0abc123def4567890 via web-app-instance"),
        "{text}"
    );
}
