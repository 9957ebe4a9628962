//! `deploy/event-pattern.json` is the single source of the EventBridge rule: the code's defaults agree with it.

use iam_alarm_core::watch::IAM_EVENT_SOURCE;
use iam_alarm_core::WatchedEvents;

use iam_alarm_testkit::support::event_pattern;

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
