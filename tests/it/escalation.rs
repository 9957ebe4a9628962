//! Escalation, live: a critical alert nobody acknowledges gets a follow-up under it that mentions the responder
//! role; acknowledging stops them and is noted there; a restart still escalates an alert that waits.

use std::time::Duration;

use serde_json::{json, Value};

use iam_alarm_testkit::fake_discord::{message_json, Posted};
use iam_alarm_testkit::helpers::{spawn_app, TestApp, CHANNEL_ID};
use iam_alarm_testkit::interactions::{base, member, replies, ALICE, LIMIT, ROLE};
use iam_alarm_testkit::support::{eventbridge, own_fixture, sns};

const MARK: &str = iam_alarm_core::escalation::MARK;

/// A root CreateUser (critical) of `user`, as the pipeline delivers it.
fn root_create_user(user: &str) -> String {
    let mut record: Value =
        serde_json::from_str(&own_fixture("records/CreateUser-Root-no-eventID.json")).unwrap();
    record["requestParameters"]["userName"] = json!(user);
    sns(&eventbridge(&record.to_string(), true))
}

fn followups_of(app: &TestApp, alert: &Posted) -> Vec<Posted> {
    app.discord
        .messages()
        .into_iter()
        .filter(|m| m.body["message_reference"]["message_id"] == alert.id.as_str())
        .filter(|m| m.body["content"].as_str().is_some_and(|c| c.contains(MARK)))
        .collect()
}

async fn alert_naming(app: &TestApp, user: &str) -> Posted {
    app.discord
        .wait_until_or_log(
            "the alert",
            LIMIT,
            |d| {
                d.messages()
                    .iter()
                    .any(|m| m.body.to_string().contains(user))
            },
            || app.bot_log(),
        )
        .await;
    let messages = app.discord.messages();
    messages
        .into_iter()
        .find(|m| m.body.to_string().contains(user))
        .unwrap()
}

async fn first_followup(app: &TestApp, alert: &Posted) -> Posted {
    app.discord
        .wait_until_or_log(
            "a follow-up under the alert",
            LIMIT,
            |_| !followups_of(app, alert).is_empty(),
            || app.bot_log(),
        )
        .await;
    followups_of(app, alert).remove(0)
}

fn created_ms(m: &Posted) -> u64 {
    iam_alarm_core::escalation::created_ms(&m.id).unwrap()
}

async fn escalating_app() -> TestApp {
    let mut app = spawn_app().await;
    app.extra_env.extend([
        ("RESPONDER_ROLE_ID".to_owned(), ROLE.to_string()),
        ("ESCALATE_AFTER_S".to_owned(), "3".to_owned()),
    ]);
    app.start_bot_ready().await;
    app
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unacknowledged_critical_alert_is_followed_up_until_acknowledged() {
    let app = escalating_app().await;
    app.send(&root_create_user("backdoor-1")).await;
    let alert = alert_naming(&app, "backdoor-1").await;
    let followup = first_followup(&app, &alert).await;
    let waited = created_ms(&followup) - created_ms(&alert);
    assert!(waited >= 3000, "followed up after {waited} ms");
    let content = followup.body["content"].as_str().unwrap();
    assert!(content.starts_with(&format!("<@&{ROLE}> ")), "{content}");
    assert_eq!(
        followup.body["allowed_mentions"],
        json!({"parse": [], "roles": [ROLE.to_string()]})
    );

    // Alice takes it: the follow-ups stop, and the acknowledgement is noted under them.
    let ack = alert.body["components"][0]["components"][0]["custom_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut press = base(3, member(ALICE, &[ROLE], 0));
    press["data"] = json!({"custom_id": ack, "component_type": 2});
    press["message"] = message_json(&alert);
    let id = app
        .discord
        .dispatch_interaction(press, Some(alert.id.clone()));
    assert_eq!(replies(&app, &id, 1).await[0].callback_type(), Some(7));
    app.discord
        .wait_until_or_log(
            "the acknowledgement noted under the escalation",
            LIMIT,
            |d| {
                d.messages().iter().any(|m| {
                    m.body["message_reference"]["message_id"] == alert.id.as_str()
                        && m.body.to_string().contains("Acknowledged by")
                })
            },
            || app.bot_log(),
        )
        .await;
    let before = followups_of(&app, &alert).len();
    // Two more intervals without a follow-up (a wait is the only way to see that nothing comes).
    tokio::time::sleep(Duration::from_secs(7)).await;
    assert_eq!(
        followups_of(&app, &alert).len(),
        before,
        "{}",
        app.bot_log()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_alert_is_still_escalated_after_a_restart() {
    let mut app = escalating_app().await;
    app.send(&root_create_user("backdoor-2")).await;
    let alert = alert_naming(&app, "backdoor-2").await;
    app.wait_for_depth(&app.queue_url, 0, 0, LIMIT).await;
    app.kill_bot();
    assert!(
        followups_of(&app, &alert).is_empty(),
        "killed before the first follow-up"
    );
    app.start_bot_ready().await;
    let followup = first_followup(&app, &alert).await;
    assert!(followup.body["content"]
        .as_str()
        .unwrap()
        .contains("follow-up 1 of 2"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_buried_under_150_messages_is_still_followed_up() {
    let app = escalating_app().await;
    app.send(&root_create_user("buried-backdoor")).await;
    let alert = alert_naming(&app, "buried-backdoor").await;
    // 150 routine alerts after it: more than one page of the channel (Discord gives at most 100 at a time).
    let routine = (0..150).map(|i| {
        json!({"content": format!("🔔 `medium` **IAM user created: user-{i}**"),
               "embeds": [{"footer": {"text": format!("eventID routine-{i}")}}]})
    });
    app.discord.add_messages(CHANNEL_ID, routine);
    let followup = first_followup(&app, &alert).await;
    assert!(followup.body["content"]
        .as_str()
        .unwrap()
        .starts_with(&format!("<@&{ROLE}>")));
}
