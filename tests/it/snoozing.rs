//! Snoozes from the channel, live through the fake Discord: Snooze… on an alert opens a prefilled modal; the
//! snooze is a pinned message; matching events are suppressed and counted; `/snoozes` lists it and End now ends
//! it; one ends by itself at its time, also across a restart; a change to the pipeline is never snoozed.

use serde_json::{json, Value};

use iam_alarm_testkit::fake_discord::Posted;
use iam_alarm_testkit::helpers::{spawn_app, TestApp, CHANNEL_ID};
use iam_alarm_testkit::interactions::{
    alert_for, alert_with, command, member, press, replies, submit_modal, ALICE, LIMIT, ROLE,
};
use iam_alarm_testkit::support::{eventbridge, own_fixture, sns};

const ACTOR: &str = "arn:aws:sts::123456789012:assumed-role/ci-deployer/terraform-run-42";

async fn snoozing_app(before_start: impl FnOnce(&TestApp)) -> TestApp {
    let mut app = spawn_app().await;
    app.extra_env
        .push(("RESPONDER_ROLE_ID".to_owned(), ROLE.to_string()));
    before_start(&app);
    app.start_bot_ready().await;
    app
}

/// A CreateUser by the ci-deployer session, with its own eventID.
fn create_user(event_id: &str) -> String {
    let mut record: Value =
        serde_json::from_str(&own_fixture("records/CreateUser-AssumedRole-session.json")).unwrap();
    record["eventID"] = json!(event_id);
    record.to_string()
}

/// How many events snoozes suppressed, by `/metrics`.
async fn snoozed_count(app: &TestApp) -> u64 {
    let (_, metrics) = app.http_get("/metrics").await;
    metrics
        .lines()
        .filter(|l| l.starts_with("iam_alarm_suppressed_total{rule=\"snooze "))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

async fn wait_snoozed(app: &TestApp, n: u64) {
    let deadline = tokio::time::Instant::now() + LIMIT;
    while snoozed_count(app).await < n {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} snoozed: {}",
            n,
            app.bot_log()
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

fn snooze_button(alert: &Posted) -> Option<String> {
    alert.body["components"][0]["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["label"] == "Snooze…")
        .map(|b| b["custom_id"].as_str().unwrap().to_owned())
}

fn responder() -> Value {
    member(ALICE, &[ROLE], 0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snooze_from_an_alert_suppresses_what_it_matches_until_ended() {
    let app = snoozing_app(|_| {}).await;
    let alert = alert_for(&app, &create_user("snz-1"), "snz-1").await;

    // Snooze… opens the modal, prefilled from the alert.
    let i = press(&app, &snooze_button(&alert).unwrap(), &alert, responder());
    let r = replies(&app, &i, 1).await;
    assert_eq!(r[0].callback_type(), Some(9), "{:?}", r[0].body);
    let modal = &r[0].body["data"];
    let prefilled: Vec<&str> = modal["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["components"][0]["value"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(prefilled, ["CreateUser", ACTOR, "123456789012", "1d", ""]);

    // Refused: a pipeline call, and too long.
    let values = vec![
        ("events", "CreateUser"),
        ("actor", ACTOR),
        ("account", "123456789012"),
        ("duration", "1d"),
        ("reason", "migration week"),
    ];
    let modal_id = modal["custom_id"].as_str().unwrap().to_owned();
    for (field, bad, said) in [
        ("events", "StopLogging", "never snoozed"),
        ("duration", "30d", "at most 7 days"),
    ] {
        let mut v = values.clone();
        v.iter_mut().find(|(k, _)| *k == field).unwrap().1 = bad;
        let i = submit_modal(&app, &modal_id, &v, &alert, responder());
        let r = replies(&app, &i, 1).await;
        assert!(
            r[0].ephemeral() && r[0].text().contains(said),
            "{:?}",
            r[0].body
        );
    }
    // Someone without the responder role cannot snooze.
    let i = submit_modal(&app, &modal_id, &values, &alert, member(ALICE, &[], 0));
    assert!(replies(&app, &i, 1).await[0]
        .text()
        .contains("Only members with"));

    let i = submit_modal(&app, &modal_id, &values, &alert, responder());
    let r = replies(&app, &i, 1).await;
    assert!(r[0].text().contains("Snoozed until"), "{:?}", r[0].body);
    let pinned: Vec<Posted> = app
        .discord
        .messages()
        .into_iter()
        .filter(|m| m.body["pinned"] == true)
        .collect();
    assert_eq!(pinned.len(), 1);
    let text = pinned[0].body.to_string();
    assert!(
        text.contains("action = \\\"suppress\\\"") && text.contains(&format!("<@{ALICE}>")),
        "{text}"
    );
    assert!(
        app.discord.messages().iter().any(|m| m.body["type"] == 6),
        "Discord's notice of the pin"
    );

    // The next matching event is suppressed and counted; another kind still alerts.
    app.send(&sns(&eventbridge(&create_user("snz-2"), true)))
        .await;
    wait_snoozed(&app, 1).await;
    assert!(alert_with(&app, "snz-2").is_none());

    // /snoozes lists it, with End now.
    let i = command(&app, "snoozes", json!([]), responder());
    let r = replies(&app, &i, 1).await;
    let listing = r[0].text();
    assert!(
        listing.contains("CreateUser by arn:aws:sts::123456789012")
            && listing.contains("migration week"),
        "{listing}"
    );
    let end = r[0].message()["components"][0]["components"][0]["custom_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let snooze = app.discord.message(&pinned[0].id).unwrap();
    let i = press(&app, &end, &snooze, responder());
    let r = replies(&app, &i, 1).await;
    assert!(r[0].text().contains("Ended"), "{:?}", r[0].body);
    assert_eq!(
        app.discord.message(&pinned[0].id).unwrap().body["pinned"],
        false
    );

    // Ended: the next one alerts.
    alert_for(&app, &create_user("snz-3"), "snz-3").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rules_export_prints_the_snoozes_in_force_as_alert_rules() {
    let app = snoozing_app(|_| {}).await;
    let alert = alert_for(&app, &create_user("snz-x-1"), "snz-x-1").await;
    let i = press(&app, &snooze_button(&alert).unwrap(), &alert, responder());
    let modal_id = replies(&app, &i, 1).await[0].body["data"]["custom_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let values = [
        ("events", "CreateUser, DeleteUser"),
        ("actor", ACTOR),
        ("account", ""),
        ("duration", "2d"),
        ("reason", "rebuild of the CI users"),
    ];
    let i = submit_modal(&app, &modal_id, &values, &alert, responder());
    assert!(replies(&app, &i, 1).await[0]
        .text()
        .contains("Snoozed until"));

    let env = app.bot_env();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_iam-alarm"))
            .args(["rules", "export"])
            .env_clear()
            .envs(env)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.starts_with("# 1 snooze(s) in force"), "{stdout}");
    assert!(
        stdout.contains(&format!("snoozed by Discord user {ALICE}")),
        "{stdout}"
    );
    // What it prints is an ALERT_RULES file as it is.
    let rules = iam_alarm_core::rules::Rules::parse(&stdout).unwrap();
    assert_eq!(rules.len(), 1);
    assert_eq!(
        rules.iter().next().unwrap().reason,
        "rebuild of the CI users"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pinned_snooze_applies_after_a_restart_and_ends_by_itself() {
    let until = chrono::Utc::now() + chrono::Duration::seconds(6);
    let app = snoozing_app(|app| {
        let request = iam_alarm_core::snooze::Request {
            events: vec!["CreateUser".to_owned()],
            actor_arn: ACTOR.to_owned(),
            account: String::new(),
            reason: "made before the restart".to_owned(),
            duration: "1h".to_owned(),
        };
        let (toml, _) = request.check(ALICE, chrono::Utc::now(), 7).unwrap();
        let mut body = serde_json::to_value(iam_alarm_core::snooze::message(
            &toml,
            until,
            ALICE,
            "made before the restart",
        ))
        .unwrap();
        body["pinned"] = json!(true);
        app.discord.add_messages(CHANNEL_ID, [body]);
    })
    .await;
    app.send(&sns(&eventbridge(&create_user("snz-old-1"), true)))
        .await;
    wait_snoozed(&app, 1).await;
    // Its time passes: matching events alert again, with no one ending it.
    tokio::time::sleep_until(
        tokio::time::Instant::now() + (until - chrono::Utc::now()).to_std().unwrap_or_default(),
    )
    .await;
    alert_for(&app, &create_user("snz-old-2"), "snz-old-2").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_to_the_pipeline_offers_no_snooze() {
    let app = snoozing_app(|_| {}).await;
    let tamper = alert_for(
        &app,
        &own_fixture("records/StopLogging-IAMUser.json"),
        "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d",
    )
    .await;
    assert_eq!(snooze_button(&tamper), None);
}
