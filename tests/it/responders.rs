//! The responders' workflow, driven through the fake Discord as real INTERACTION_CREATE events: both buttons and
//! every slash command, with their callbacks and follow-ups asserted — and the first response always within
//! Discord's 3 seconds, even when the AWS call behind it takes 10.

use std::time::Duration;

use serde_json::{json, Value};

use iam_alarm_testkit::aws_stub::{AwsStub, Lookup};
use iam_alarm_testkit::fake_discord::Posted;
use iam_alarm_testkit::helpers::{moto, spawn_app, CHANNEL_ID};
use iam_alarm_testkit::interactions::*;
use iam_alarm_testkit::support::own_fixture;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledge_edits_the_alert_and_a_second_press_is_told_privately() {
    let mut app = spawn_app().await;
    app.start_bot_ready().await;
    let alert = post_alert(&app).await;
    let ack = button(&alert, 0)["custom_id"].as_str().unwrap().to_owned();
    assert_eq!(ack, "ack:6f1d2c3b-4a5e-4f60-8a7b-9c0d1e2f3a4b");

    let first = press(&app, &ack, &alert, member(ALICE, &[], MANAGE_GUILD));
    let r = replies(&app, &first, 1).await;
    assert_eq!(
        r[0].callback_type(),
        Some(7),
        "the alert is updated in place: {}",
        r[0].text()
    );
    let embed = &r[0].message()["embeds"][0];
    let field = embed["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "Acknowledged")
        .unwrap();
    let value = field["value"].as_str().unwrap();
    assert!(
        value.starts_with(&format!("by <@{ALICE}> <t:")) && value.ends_with(":R>"),
        "{value}"
    );
    assert_eq!(embed["color"], iam_alarm_core::render::colour::ACKNOWLEDGED);
    assert_eq!(
        embed["title"], alert.body["embeds"][0]["title"],
        "the alert itself is kept"
    );
    let buttons = &r[0].message()["components"][0]["components"];
    assert_eq!(buttons[0]["label"], "Acknowledged");
    assert_eq!(buttons[0]["disabled"], true);
    assert_eq!(buttons[1]["label"], "Recent activity");
    assert_eq!(r[0].message()["allowed_mentions"]["parse"], json!([]));
    assert!(!r[0].ephemeral(), "everyone sees who took it");

    // Bob presses on his (stale) copy of the message: told privately who has it.
    let second = press(&app, &ack, &alert, member(BOB, &[], MANAGE_GUILD));
    let r = replies(&app, &second, 1).await;
    assert_eq!(r[0].callback_type(), Some(4));
    assert!(r[0].ephemeral());
    let text = r[0].message()["content"].as_str().unwrap();
    assert!(
        text.contains("already acknowledged") && text.contains(&format!("<@{ALICE}>")),
        "{text}"
    );
    // The channel's message still names Alice only.
    let stored = app.discord.messages().remove(0);
    assert_eq!(
        stored.body["embeds"][0]["fields"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["name"] == "Acknowledged")
            .count(),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledge_works_on_an_alert_posted_before_a_restart() {
    let mut app = spawn_app().await;
    app.start_bot_ready().await;
    let alert = post_alert(&app).await;
    app.wait_for_depth(&app.queue_url, 0, 0, LIMIT).await;
    app.kill_bot();
    app.start_bot_ready().await;
    let ack = button(&alert, 0)["custom_id"].as_str().unwrap().to_owned();
    let i = press(&app, &ack, &alert, member(ALICE, &[], MANAGE_GUILD));
    let r = replies(&app, &i, 1).await;
    assert_eq!(r[0].callback_type(), Some(7), "{}", r[0].text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_without_the_responder_role_are_refused_privately() {
    let mut app = spawn_app().await;
    app.extra_env
        .push(("RESPONDER_ROLE_ID".into(), ROLE.to_string()));
    app.start_bot_ready().await;
    let alert = post_alert(&app).await;
    let ack = button(&alert, 0)["custom_id"].as_str().unwrap().to_owned();

    // Manage Server is not enough once a responder role is configured.
    let i = press(&app, &ack, &alert, member(BOB, &[], MANAGE_GUILD));
    let r = replies(&app, &i, 1).await;
    assert_eq!(r[0].callback_type(), Some(4));
    assert!(r[0].ephemeral());
    assert!(
        r[0].text().contains(&format!("<@&{ROLE}>")),
        "{}",
        r[0].text()
    );
    let i = command(&app, "health", json!([]), member(BOB, &[], MANAGE_GUILD));
    let r = replies(&app, &i, 1).await;
    assert!(
        r[0].ephemeral() && r[0].text().contains("Only members with"),
        "{}",
        r[0].text()
    );
    assert_eq!(
        app.discord.messages()[0].body,
        alert.body,
        "the alert is untouched"
    );

    // A member with the role may.
    let i = press(&app, &ack, &alert, member(ALICE, &[ROLE], 0));
    assert_eq!(replies(&app, &i, 1).await[0].callback_type(), Some(7));
}

fn record(name: &str, user: &str, time: &str, error: Option<&str>) -> Value {
    let mut r: Value =
        serde_json::from_str(&own_fixture("records/CreateUser-AssumedRole-session.json")).unwrap();
    r["eventName"] = json!(name);
    r["eventTime"] = json!(time);
    r["eventID"] = json!(format!("{name}-{time}"));
    r["requestParameters"]["userName"] = json!(user);
    if let Some(code) = error {
        r["errorCode"] = json!(code);
    }
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recent_activity_defers_then_lists_the_session_through_throttling_and_pages() {
    let (mut app, stub) = app_with_stub().await;
    let now = chrono::Utc::now();
    let at = |mins: i64| {
        (now - chrono::Duration::minutes(mins)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    };
    stub.script_lookups(
        [
            Lookup::Throttle,
            Lookup::Page(
                vec![
                    record("CreateUser", "IAM-test-user", &at(1), None),
                    record("GetUser", "x", &at(5), None),
                ],
                Some("token-2"),
            ),
            Lookup::Page(
                vec![record(
                    "CreateUser",
                    "backup-admin",
                    &at(30),
                    Some("AccessDenied"),
                )],
                None,
            ),
        ],
        Duration::ZERO,
    );
    app.start_bot_ready().await;
    let alert = post_alert(&app).await;
    let activity = button(&alert, 1)["custom_id"].as_str().unwrap().to_owned();
    assert_eq!(activity, "act:k:123456789012:ASIAEXAMPLESESSION42");

    let i = press(&app, &activity, &alert, member(ALICE, &[], MANAGE_GUILD));
    let r = replies(&app, &i, 2).await;
    assert_eq!(r[0].callback_type(), Some(5), "deferred at once");
    assert_eq!(r[0].body["data"]["flags"], 64, "privately");
    assert_eq!(r[1].kind, "edit");
    let description = r[1].message()["embeds"][0]["description"]
        .as_str()
        .unwrap()
        .to_owned();
    let lines: Vec<&str> = description.lines().filter(|l| l.contains("<t:")).collect();
    assert_eq!(lines.len(), 3, "{description}");
    assert!(
        lines[0].contains("🔴 **CreateUser**"),
        "IAM changes highlighted, newest first: {description}"
    );
    assert!(
        lines[1].contains("GetUser") && !lines[1].contains("🔴"),
        "{description}"
    );
    assert!(lines[2].contains("AccessDenied"), "{description}");

    let requests = stub.lookup_requests();
    assert_eq!(requests.len(), 3, "throttled once, then two pages");
    assert_eq!(
        requests[0]["LookupAttributes"][0],
        json!({"AttributeKey": "AccessKeyId", "AttributeValue": "ASIAEXAMPLESESSION42"})
    );
    assert_eq!(requests[2]["NextToken"], "token-2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_response_within_3_seconds_when_aws_takes_10() {
    let (mut app, stub) = app_with_stub().await;
    stub.script_lookups(
        [
            Lookup::Page(Vec::new(), None),
            Lookup::Page(Vec::new(), None),
        ],
        Duration::from_secs(10),
    );
    app.start_bot_ready().await;
    let alert = post_alert(&app).await;
    let activity = button(&alert, 1)["custom_id"].as_str().unwrap().to_owned();
    let pressed = press(&app, &activity, &alert, member(ALICE, &[], MANAGE_GUILD));
    let changes = command(
        &app,
        "recent-changes",
        json!([]),
        member(ALICE, &[], MANAGE_GUILD),
    );
    for i in [pressed, changes] {
        let r = replies(&app, &i, 2).await;
        assert_eq!(r[0].callback_type(), Some(5));
        assert!(
            r[1].after >= Duration::from_secs(10),
            "the answer came after the slow call"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn iam_users_follows_list_users_markers_and_pages_with_buttons() {
    let (mut app, stub) = app_with_stub().await;
    let names: Vec<String> = (0..20).map(|i| format!("user-{i:02}")).collect();
    stub.serve_users(names, 7);
    app.start_bot_ready().await;

    let i = command(
        &app,
        "iam-users",
        json!([]),
        member(ALICE, &[], MANAGE_GUILD),
    );
    let r = replies(&app, &i, 2).await;
    assert_eq!(r[0].callback_type(), Some(5));
    assert_eq!(
        stub.list_users_markers(),
        [None, Some("page-7".into()), Some("page-14".into())]
    );
    let page1 = r[1].message();
    assert!(r[1].ephemeral());
    assert_eq!(
        page1["embeds"][0]["title"],
        "IAM users in 123456789012: 20 of 20"
    );
    assert_eq!(page1["embeds"][0]["fields"].as_array().unwrap().len(), 8);
    let next = page1["components"][0]["components"][2]["custom_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(next, "iu:1:0:-:");
    assert!(page1["embeds"][0]["fields"][0]["value"]
        .as_str()
        .unwrap()
        .contains("MFA ❌ off"));

    // The next page, from a button on the ephemeral reply.
    let shown = Posted {
        id: "900".into(),
        channel_id: CHANNEL_ID,
        body: page1.clone(),
    };
    let turn = press(&app, &next, &shown, member(ALICE, &[], MANAGE_GUILD));
    let r = replies(&app, &turn, 2).await;
    assert_eq!(r[0].callback_type(), Some(6), "deferred update");
    assert_eq!(r[1].kind, "edit");
    let label = r[1].message()["components"][0]["components"][1]["label"]
        .as_str()
        .unwrap();
    assert_eq!(label, "2/3");

    // Filters: name prefix.
    let i = command(
        &app,
        "iam-users",
        json!([{"name": "prefix", "type": 3, "value": "user-1"}]),
        member(ALICE, &[], MANAGE_GUILD),
    );
    let r = replies(&app, &i, 2).await;
    assert_eq!(
        r[1].message()["embeds"][0]["title"],
        "IAM users in 123456789012: 10 of 20"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn iam_users_reads_keys_and_mfa_from_iam() {
    let mut app = spawn_app().await;
    let iam = aws_sdk_iam::Client::new(&iam_alarm_testkit::helpers::sdk_config(&moto().url).await);
    let name = format!("IAM-test-user-{}", app.health_port);
    iam.create_user().user_name(&name).send().await.unwrap();
    let key = iam
        .create_access_key()
        .user_name(&name)
        .send()
        .await
        .unwrap()
        .access_key
        .unwrap()
        .access_key_id;
    app.start_bot_ready().await;
    let prefix = json!([{"name": "prefix", "type": 3, "value": name}]);
    let i = command(&app, "iam-users", prefix, member(ALICE, &[], MANAGE_GUILD));
    let r = replies(&app, &i, 2).await;
    let fields = r[1].message()["embeds"][0]["fields"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(fields.len(), 1, "{}", r[1].text());
    let value = fields[0]["value"].as_str().unwrap();
    assert!(
        value.contains(&format!("key `{key}` used never")),
        "{value}"
    );
    assert!(
        value.contains("MFA ❌ off") && value.contains("password used never"),
        "{value}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recent_changes_lists_watched_events_actor_to_target() {
    let (mut app, stub) = app_with_stub().await;
    let now = chrono::Utc::now();
    let at = |mins: i64| {
        (now - chrono::Duration::minutes(mins)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    };
    stub.script_lookups(
        [Lookup::Page(
            vec![
                record("DeleteUser", "old-contractor", &at(2), None),
                record("CreateAccessKey", "IAM-test-user", &at(3), None),
                record("CreateUser", "backup-admin", &at(4), Some("AccessDenied")),
            ],
            None,
        )],
        Duration::ZERO,
    );
    app.start_bot_ready().await;
    let i = command(
        &app,
        "recent-changes",
        json!([{"name": "hours", "type": 4, "value": 48}]),
        member(ALICE, &[], MANAGE_GUILD),
    );
    let r = replies(&app, &i, 2).await;
    let embed = &r[1].message()["embeds"][0];
    assert_eq!(
        embed["title"],
        "IAM user changes in 123456789012, last 48 h: 2"
    );
    let description = embed["description"].as_str().unwrap();
    let lines: Vec<&str> = description.lines().collect();
    assert!(
        lines[0]
            .contains("**terraform-run-42 via ci-deployer** DeleteUser → **old-contractor** ✅"),
        "{description}"
    );
    assert!(
        lines[1].contains("CreateUser → **backup-admin** ❌ `AccessDenied`"),
        "{description}"
    );
    assert_eq!(
        stub.lookup_requests()[0]["LookupAttributes"][0]["AttributeValue"],
        "iam.amazonaws.com"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_checks_the_pipeline_in_moto() {
    let mut app = spawn_app().await;
    let p = app.healthy_pipeline().await;
    let (trail_name, rule, tamper) = (&p.trail, &p.rule, &p.tamper_rule);
    // moto lacks TestEventPattern: the stub answers it (and forwards the rest to moto).
    let stub = AwsStub::start(&moto().url).await;
    app.extra_env
        .push(("AWS_ENDPOINT_URL_EVENTBRIDGE".into(), stub.url.clone()));
    app.start_bot_ready().await;

    let i = command(&app, "health", json!([]), member(ALICE, &[], MANAGE_GUILD));
    let r = replies(&app, &i, 2).await;
    assert_eq!(r[0].callback_type(), Some(5));
    assert!(r[1].ephemeral());
    let text = r[1].message()["embeds"][0]["description"]
        .as_str()
        .unwrap()
        .to_owned();
    for line in [
        format!("✅ trail {trail_name} is logging"),
        format!("✅ trail {trail_name} covers every region"),
        format!("✅ trail {trail_name} records management events"),
        format!("✅ rule {rule} is enabled in us-east-1"),
        format!("✅ rule {rule} targets topic"),
        format!("✅ rule {rule} matches a sample CreateUser"),
        format!("✅ rule {tamper} is enabled in us-east-1"),
        "delivers to the bot's queue".to_owned(),
        "e-mail subscription".to_owned(),
        "✅ queue: 0 waiting, 0 in flight".to_owned(),
        "✅ dead-letter queue is empty".to_owned(),
        "✅ bot: up".to_owned(),
        // moto signs nothing real, so the tests run with SNS_SIGNATURES=off: /health says so.
        "⚠️ SNS signatures are not verified".to_owned(),
    ] {
        assert!(text.contains(&line), "missing {line:?} in\n{text}");
    }

    // A broken pipeline says so, with hints.
    app.events("DisableRule", json!({"Name": rule})).await;
    let i = command(&app, "health", json!([]), member(ALICE, &[], MANAGE_GUILD));
    let r = replies(&app, &i, 2).await;
    let text = r[1].message()["embeds"][0]["description"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        text.contains(&format!("❌ EventBridge rule disabled: {rule}"))
            && text.contains("aws events enable-rule"),
        "{text}"
    );
    assert_eq!(r[1].message()["embeds"][0]["title"], "Pipeline broken");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_command_registration_stops_the_bot_with_exit_1() {
    let mut app = spawn_app().await;
    app.discord.refuse_registration();
    app.start_bot();
    let code = app.wait_for_exit(LIMIT).await;
    assert_eq!(code, Some(1), "{}", app.bot_log());
    let log = app.bot_log();
    assert!(
        log.contains("slash command registration failed") && log.contains("Missing Access"),
        "{log}"
    );
}
