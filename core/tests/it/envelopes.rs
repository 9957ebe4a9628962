//! Every queue-body shape (SNS envelope, EventBridge event, bare record, SNS confirmations), and garbage: the same event in every envelope renders the same alert;
//! garbage is a typed error, never a panic.

use iam_alarm_core::envelope::{unwrap_body, MalformedBody, Unwrapped};
use iam_alarm_core::render::{render_message, RenderOptions};
use iam_alarm_core::{classify, NotAlert, Rejection, WatchedEvents};

use iam_alarm_testkit::support::{eventbridge, own_fixture, sns};

const RECORD: &str = "records/CreateUser-AssumedRole-session.json";

fn rendered(body: &str) -> String {
    let event = classify(body, &WatchedEvents::default()).expect("alert");
    serde_json::to_string(&render_message(&event, &RenderOptions::default())).unwrap()
}

#[test]
fn same_event_in_every_envelope_renders_the_same_alert() {
    let record = own_fixture(RECORD);
    let bodies = [
        ("bare record", record.clone()),
        ("EventBridge", eventbridge(&record, true)),
        ("EventBridge without account", eventbridge(&record, false)),
        ("SNS(EventBridge)", sns(&eventbridge(&record, true))),
        ("SNS(record)", sns(&record)),
        (
            "BOM + SNS(EventBridge)",
            format!("\u{FEFF}{}", sns(&eventbridge(&record, false))),
        ),
    ];
    let reference = rendered(&record);
    for (what, body) in bodies {
        match unwrap_body(&body) {
            Ok(Unwrapped::Record(_)) => {}
            other => panic!("{what}: {other:?}"),
        }
        assert_eq!(rendered(&body), reference, "{what}");
    }
}

#[test]
fn sns_confirmations_are_not_alerts_and_say_so() {
    let body = own_fixture("bodies/sns-subscription-confirmation.json");
    match classify(&body, &WatchedEvents::all()) {
        Err(Rejection::NotAlert(NotAlert::Control(reason))) => {
            let text = reason.to_string();
            assert!(
                text.contains("SubscriptionConfirmation") && text.contains("sns-iam-user-alarm"),
                "{text}"
            );
        }
        other => panic!("{other:?}"),
    }
    let unsubscribe = body.replace("SubscriptionConfirmation", "UnsubscribeConfirmation");
    assert!(matches!(
        classify(&unsubscribe, &WatchedEvents::all()),
        Err(Rejection::NotAlert(_))
    ));
}

#[test]
fn other_eventbridge_events_and_unwatched_calls_are_not_alerts() {
    let scheduled = r#"{"version":"0","id":"x","detail-type":"Scheduled Event","source":"aws.events","detail":{}}"#;
    assert!(matches!(
        classify(scheduled, &WatchedEvents::all()),
        Err(Rejection::NotAlert(_))
    ));
    let transfer = own_fixture("records/CreateUser-transfer.json");
    match classify(&sns(&eventbridge(&transfer, false)), &WatchedEvents::all()) {
        Err(Rejection::NotAlert(NotAlert::NotWatched { service, .. })) => {
            assert_eq!(service, "transfer.amazonaws.com");
        }
        other => panic!("{other:?}"),
    }
    let delete = own_fixture("records/DeleteUser-IAMUser.json");
    assert!(classify(&delete, &WatchedEvents::parse("CreateUser").unwrap()).is_err());
    assert!(classify(&delete, &WatchedEvents::default()).is_ok());
}

/// Which error a garbage body must give.
type Expect = fn(&MalformedBody) -> bool;

#[test]
fn garbage_is_a_typed_error() {
    let deep_array = "[".repeat(100_000) + &"]".repeat(100_000);
    let deep_object = "{\"a\":".repeat(100_000) + "1" + &"}".repeat(100_000);
    let huge = format!("{{\"x\":\"{}\"}}", "a".repeat(1024 * 1024));
    let too_huge = "a".repeat(3 * 1024 * 1024);
    let record = own_fixture(RECORD);
    let truncated = &record[..record.len() / 2];
    let cases: Vec<(&str, String, Expect)> = vec![
        ("empty", String::new(), |e| {
            matches!(e, MalformedBody::Empty)
        }),
        ("blank", " \n\t".into(), |e| {
            matches!(e, MalformedBody::Empty)
        }),
        ("BOM only", "\u{FEFF}".into(), |e| {
            matches!(e, MalformedBody::Empty)
        }),
        ("BOM + garbage", "\u{FEFF}hello".into(), |e| {
            matches!(e, MalformedBody::NotJson(_))
        }),
        ("truncated", truncated.into(), |e| {
            matches!(e, MalformedBody::NotJson(_))
        }),
        ("plain text", "IAM user created!".into(), |e| {
            matches!(e, MalformedBody::NotJson(_))
        }),
        ("array", "[1,2,3]".into(), |e| {
            matches!(e, MalformedBody::NotAnObject("array"))
        }),
        ("number", "42".into(), |e| {
            matches!(e, MalformedBody::NotAnObject("number"))
        }),
        ("null", "null".into(), |e| {
            matches!(e, MalformedBody::NotAnObject("null"))
        }),
        ("string", "\"hi\"".into(), |e| {
            matches!(e, MalformedBody::NotAnObject("string"))
        }),
        ("unrelated object", r#"{"hello":"world"}"#.into(), |e| {
            matches!(e, MalformedBody::UnknownShape(_))
        }),
        ("1 MiB object", huge, |e| {
            matches!(e, MalformedBody::UnknownShape(_))
        }),
        ("3 MiB", too_huge, |e| {
            matches!(e, MalformedBody::TooLarge(_))
        }),
        ("100,000 nested arrays", deep_array, |e| {
            matches!(e, MalformedBody::NotJson(_))
        }),
        ("100,000 nested objects", deep_object, |e| {
            matches!(e, MalformedBody::NotJson(_))
        }),
        (
            "SNS without Message",
            r#"{"Type":"Notification","MessageId":"1","TopicArn":"t"}"#.into(),
            |e| matches!(e, MalformedBody::SnsWithoutMessage),
        ),
        ("SNS with garbage Message", sns("not json"), |e| {
            matches!(e, MalformedBody::SnsMessageNotJson(_))
        }),
        ("SNS with array Message", sns("[]"), |e| {
            matches!(e, MalformedBody::NotAnObject("array"))
        }),
        (
            "EventBridge without detail",
            r#"{"detail-type":"AWS API Call via CloudTrail","source":"aws.iam"}"#.into(),
            |e| matches!(e, MalformedBody::EventBridgeWithoutDetail),
        ),
        (
            "SNS wrapping deep nesting",
            sns(&("[".repeat(100_000) + &"]".repeat(100_000))),
            |e| matches!(e, MalformedBody::SnsMessageNotJson(_)),
        ),
    ];
    for (what, body, expected) in cases {
        match classify(&body, &WatchedEvents::all()) {
            Err(Rejection::Malformed(e)) => {
                assert!(expected(&e), "{what}: unexpected error {e}");
                assert!(e.to_string().len() < 400, "{what}: error message too long");
            }
            other => panic!("{what}: expected malformed, got {other:?}"),
        }
    }
}

#[test]
fn record_without_event_id_is_keyed_by_a_stable_hash() {
    let record = own_fixture("records/CreateUser-Root-no-eventID.json");
    let a = classify(&record, &WatchedEvents::default()).unwrap();
    let b = classify(&sns(&eventbridge(&record, true)), &WatchedEvents::default()).unwrap();
    assert!(a.key.as_str().starts_with("h-"));
    assert_eq!(a.key, b.key);
}

#[test]
fn repeated_keys_read_like_a_full_parse_the_last_value_wins() {
    let record = own_fixture(RECORD);
    let reference = classify(&record, &WatchedEvents::default()).unwrap();
    // A repeated key in the record, in its userIdentity, and in the SNS envelope around it.
    let repeated = record
        .replacen('{', r#"{"eventName":"DeleteUser","#, 1)
        .replacen(
            r#""userIdentity": {"#,
            r#""userIdentity": {"type":"Root","#,
            1,
        );
    assert_ne!(repeated, record, "the fixture's layout changed");
    let bodies = [
        repeated.clone(),
        sns(&eventbridge(&record, true)).replacen('{', r#"{"Type":"SubscriptionConfirmation","#, 1),
    ];
    for body in bodies {
        let event = classify(&body, &WatchedEvents::default()).expect("alert");
        assert_eq!(event.key, reference.key);
        assert_eq!(event.event_name, "CreateUser");
        assert_eq!(event.actor, reference.actor);
    }
}

#[test]
fn only_the_heartbeat_rule_s_scheduled_events_are_heartbeats() {
    use iam_alarm_core::envelope::NotAlertReason;
    let scheduled = |rule: &str, time: &str| {
        serde_json::json!({
            "version": "0", "id": "1", "detail-type": "Scheduled Event", "source": "aws.events",
            "account": "123456789012", "time": time, "region": "us-east-1",
            "resources": [format!("arn:aws:events:us-east-1:123456789012:rule/{rule}")], "detail": {}
        })
        .to_string()
    };
    let body = sns(&scheduled("iam-alarm-heartbeat", "2026-11-29T10:00:00Z"));
    assert_eq!(
        unwrap_body(&body),
        Ok(Unwrapped::NotAlert(NotAlertReason::Heartbeat {
            at: 1_795_946_400
        }))
    );
    assert_eq!(
        unwrap_body(&scheduled("iam-alarm-heartbeat", "not a time")),
        Ok(Unwrapped::NotAlert(NotAlertReason::Heartbeat { at: 0 }))
    );
    // Another schedule is no heartbeat (and no alert): it proves nothing about this pipeline.
    assert!(matches!(
        unwrap_body(&scheduled("nightly-backup", "2026-11-29T10:00:00Z")),
        Ok(Unwrapped::NotAlert(NotAlertReason::OtherEventBridge(_)))
    ));
}
