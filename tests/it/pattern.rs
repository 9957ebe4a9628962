//! `deploy/event-pattern.json` is the single source of the EventBridge rule: the code's defaults agree with it.

use iam_alarm_core::watch::IAM_EVENT_SOURCE;
use iam_alarm_core::WatchedEvents;

use crate::support::repo_root;

pub fn event_pattern() -> serde_json::Value {
    let text = std::fs::read_to_string(repo_root().join("deploy/event-pattern.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn pattern_matches_the_default_watch_list() {
    let pattern = event_pattern();
    assert_eq!(pattern["source"], serde_json::json!(["aws.iam"]));
    assert_eq!(
        pattern["detail-type"],
        serde_json::json!(["AWS API Call via CloudTrail"])
    );
    assert_eq!(
        pattern["detail"]["eventSource"],
        serde_json::json!([IAM_EVENT_SOURCE])
    );
    let names: Vec<&str> = pattern["detail"]["eventName"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(names.join(","), WatchedEvents::default().to_string());
}

fn pattern_command(args: &[&str]) -> serde_json::Value {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_iam-alarm"))
        .arg("pattern")
        .args(args)
        .env_remove("WATCHED_EVENTS")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn the_generator_prints_the_deployed_pattern_and_all_knows_every_call() {
    assert_eq!(pattern_command(&[]), event_pattern());
    let all: Vec<String> = serde_json::from_str(
        &std::fs::read_to_string(repo_root().join("deploy/all-user-events.json")).unwrap(),
    )
    .unwrap();
    let known: Vec<&str> = iam_alarm_core::Action::ALL.map(|a| a.event_name()).to_vec();
    assert_eq!(all, known, "Terraform's `all` is the bot's `all`");
    assert_eq!(
        pattern_command(&["--events", "all"])["detail"]["eventName"],
        serde_json::json!(known)
    );
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    for name in known {
        assert!(readme.contains(&format!("`{name}`")), "README lists {name}");
    }
}
