//! "Was this you?", live through the fake Discord: the actor named in `PEOPLE` gets a direct message with Yes and
//! No; Yes and a reason confirm (and acknowledge) the alert, No makes it critical and calls the responders at
//! once; only that person may answer; no answer in time says so; a closed inbox is noted; a restart loses nothing.

use serde_json::{json, Value};

use iam_alarm_testkit::fake_discord::Posted;
use iam_alarm_testkit::helpers::{spawn_app, TestApp};
use iam_alarm_testkit::interactions::{
    alert_for, button, press_in_dm, replies, submit_in_dm, ALICE, BOB, LIMIT, ROLE,
};
use iam_alarm_testkit::support::own_fixture;

/// The bot with Alice in `PEOPLE` as the session `terraform-run-42` (the fixture's actor).
async fn asking_app(extra: &[(&str, &str)]) -> TestApp {
    let mut app = spawn_app().await;
    let people = app.write_file(
        "people.toml",
        &format!(
            "[[person]]\ndiscord = \"{ALICE}\"\naws = [\"terraform-run-42\", \"arn:aws:iam::123456789012:user/mallory\"]\n"
        ),
    );
    app.extra_env.extend([
        ("PEOPLE".to_owned(), people),
        ("RESPONDER_ROLE_ID".to_owned(), ROLE.to_string()),
    ]);
    app.extra_env.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    app.start_bot_ready().await;
    app
}

/// A CreateUser by Alice's session, with its own eventID.
fn by_alice(event_id: &str) -> String {
    let mut record: Value =
        serde_json::from_str(&own_fixture("records/CreateUser-AssumedRole-session.json")).unwrap();
    record["eventID"] = json!(event_id);
    record.to_string()
}

/// The alert's "Was this you?" field as it is now.
fn question_on(app: &TestApp, alert: &Posted) -> String {
    let now = app.discord.message(&alert.id).unwrap();
    now.body["embeds"][0]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "Was this you?")
        .map(|f| f["value"].as_str().unwrap().to_owned())
        .unwrap_or_default()
}

async fn wait_for_question(app: &TestApp, alert: &Posted, starts: &str) -> String {
    app.discord
        .wait_until_or_log(
            &format!("the alert saying {starts:?}"),
            LIMIT,
            |_| question_on(app, alert).starts_with(starts),
            || app.bot_log(),
        )
        .await;
    question_on(app, alert)
}

/// The direct message asking Alice about `alert`.
fn dm_about(app: &TestApp, alert: &Posted) -> Posted {
    app.discord
        .dms(ALICE)
        .into_iter()
        .find(|m| {
            button(m, 0)["custom_id"]
                .as_str()
                .unwrap()
                .contains(&alert.id)
        })
        .expect("a direct message about the alert")
}

fn custom_id(message: &Posted, index: usize) -> String {
    button(message, index)["custom_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn yes_and_a_reason_confirm_the_alert_and_stop_its_escalation() {
    let app = asking_app(&[("ESCALATE_SEVERITY", "medium"), ("ESCALATE_AFTER_S", "6")]).await;
    let alert = alert_for(&app, &by_alice("ask-yes-1"), "ask-yes-1").await;
    let asked = wait_for_question(&app, &alert, "❓ Asked").await;
    assert!(asked.contains(&format!("<@{ALICE}>")), "{asked}");

    let dm = dm_about(&app, &alert);
    assert_eq!(dm.channel_id, app.discord.dm_channel(ALICE).unwrap());
    let text = dm.body.to_string();
    assert!(
        text.contains("IAM user created: IAM-test-user") && text.contains("Open the alert"),
        "{text}"
    );
    assert_eq!(button(&dm, 0)["label"], "Yes, it was me");
    assert_eq!(button(&dm, 1)["label"], "No, it wasn't me");

    // Bob cannot answer for Alice.
    let i = press_in_dm(&app, &custom_id(&dm, 0), &dm, BOB);
    let r = replies(&app, &i, 1).await;
    assert!(
        r[0].ephemeral() && r[0].text().contains("only the person asked"),
        "{:?}",
        r[0].body
    );

    // Alice: Yes opens the reason modal, the first response to the click.
    let i = press_in_dm(&app, &custom_id(&dm, 0), &dm, ALICE);
    let r = replies(&app, &i, 1).await;
    assert_eq!(r[0].callback_type(), Some(9), "{:?}", r[0].body);
    let modal = r[0].body["data"].clone();
    let reason_id = modal["custom_id"].as_str().unwrap().to_owned();
    assert_eq!(
        modal["components"][0]["components"][0]["max_length"],
        json!(200)
    );
    let i = submit_in_dm(
        &app,
        &reason_id,
        &[("reason", "new hire *bob*, ticket OPS-1")],
        &dm,
        ALICE,
    );
    let r = replies(&app, &i, 1).await;
    assert_eq!(r[0].callback_type(), Some(7), "{:?}", r[0].body);

    let confirmed = question_on(&app, &alert);
    assert!(
        confirmed.starts_with(&format!(
            "✅ Confirmed by <@{ALICE}>: new hire \\*bob\\*, ticket OPS-1"
        )),
        "{confirmed}"
    );
    let now = app.discord.message(&alert.id).unwrap();
    let fields = now.body["embeds"][0]["fields"].to_string();
    assert!(
        fields.contains("Acknowledged") && fields.contains("it was them"),
        "{fields}"
    );
    // The buttons in the direct message are gone: each answer once.
    let dm_now = app.discord.message(&dm.id).unwrap();
    assert_eq!(dm_now.body["components"], json!([]));

    // No follow-up comes for the confirmed alert, while one comes for an unanswered alert posted after it.
    let other = alert_for(
        &app,
        &own_fixture("records/DeleteUser-IAMUser.json"),
        "a0b1c2d3-e4f5-4a6b-8c7d-9e0f1a2b3c4d",
    )
    .await;
    let followed_up = |of: &Posted| {
        app.discord.messages().iter().any(|m| {
            m.body["message_reference"]["message_id"] == of.id.as_str()
                && m.body["content"]
                    .as_str()
                    .unwrap_or("")
                    .contains("Still unacknowledged")
        })
    };
    app.discord
        .wait_until_or_log(
            "the unanswered alert followed up",
            LIMIT,
            |_| followed_up(&other),
            || app.bot_log(),
        )
        .await;
    assert!(
        !followed_up(&alert),
        "the confirmed alert is not followed up"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_makes_the_alert_critical_and_calls_the_responders_at_once() {
    let app = asking_app(&[]).await;
    let alert = alert_for(&app, &by_alice("ask-no-1"), "ask-no-1").await;
    wait_for_question(&app, &alert, "❓ Asked").await;
    let dm = dm_about(&app, &alert);

    let i = press_in_dm(&app, &custom_id(&dm, 1), &dm, ALICE);
    let r = replies(&app, &i, 1).await;
    assert_eq!(r[0].callback_type(), Some(7), "{:?}", r[0].body);
    let denied = question_on(&app, &alert);
    assert!(
        denied.starts_with(&format!("🚨 <@{ALICE}> says this was NOT them")),
        "{denied}"
    );
    let now = app.discord.message(&alert.id).unwrap();
    assert!(
        now.body["content"].as_str().unwrap().contains("`critical`"),
        "{}",
        now.body["content"]
    );
    let call = app
        .discord
        .messages()
        .into_iter()
        .find(|m| m.body["message_reference"]["message_id"] == alert.id.as_str())
        .expect("a reply under the alert");
    let content = call.body["content"].as_str().unwrap();
    assert!(
        content.starts_with(&format!(
            "<@&{ROLE}> 🚨 <@{ALICE}> says they did **not** do this"
        )),
        "{content}"
    );
    assert_eq!(
        call.body["allowed_mentions"]["roles"],
        json!([ROLE.to_string()])
    );

    // Answered once: a second press is told so.
    let i = press_in_dm(&app, &custom_id(&dm, 0), &dm, ALICE);
    let r = replies(&app, &i, 1).await;
    assert_eq!(r[0].callback_type(), Some(9), "the modal opens first");
    let reason_id = r[0].body["data"]["custom_id"].as_str().unwrap().to_owned();
    let i = submit_in_dm(
        &app,
        &reason_id,
        &[("reason", "changed my mind")],
        &dm,
        ALICE,
    );
    let r = replies(&app, &i, 1).await;
    assert!(r[0].text().contains("already answered"), "{:?}", r[0].body);
    assert!(question_on(&app, &alert).starts_with("🚨"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_answer_in_time_a_closed_inbox_and_a_restart_are_each_said_on_the_alert() {
    let mut app = asking_app(&[("ASK_TIMEOUT_S", "4")]).await;
    let waiting = alert_for(&app, &by_alice("ask-wait-1"), "ask-wait-1").await;
    wait_for_question(&app, &waiting, "❓ Asked").await;
    let answered_later = alert_for(&app, &by_alice("ask-wait-2"), "ask-wait-2").await;
    wait_for_question(&app, &answered_later, "❓ Asked").await;

    // A restart while both wait: the first times out after it, the second is answered after it.
    app.kill_bot();
    app.start_bot_ready().await;
    let dm = dm_about(&app, &answered_later);
    let i = press_in_dm(&app, &custom_id(&dm, 1), &dm, ALICE);
    assert_eq!(replies(&app, &i, 1).await[0].callback_type(), Some(7));
    assert!(question_on(&app, &answered_later).starts_with("🚨"));
    let silent = wait_for_question(&app, &waiting, "⏳ No answer").await;
    assert_eq!(silent, format!("⏳ No answer from <@{ALICE}> within 1 min"));
    assert!(
        question_on(&app, &answered_later).starts_with("🚨"),
        "an answer is not overwritten by the timeout"
    );

    // Alice's direct messages closed: said on the alert, not retried.
    app.discord.close_dms(ALICE);
    let closed = alert_for(&app, &by_alice("ask-closed-1"), "ask-closed-1").await;
    let noted = wait_for_question(&app, &closed, "✉️ Could not ask").await;
    assert_eq!(
        noted,
        format!("✉️ Could not ask <@{ALICE}>: Cannot send messages to this user")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_to_the_pipeline_asks_too_and_stays_critical_whatever_the_answer() {
    let app = asking_app(&[]).await;
    let alert = alert_for(
        &app,
        &own_fixture("records/StopLogging-IAMUser.json"),
        "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d",
    )
    .await;
    wait_for_question(&app, &alert, "❓ Asked").await;
    let dm = dm_about(&app, &alert);
    let i = press_in_dm(&app, &custom_id(&dm, 0), &dm, ALICE);
    let reason_id = replies(&app, &i, 1).await[0].body["data"]["custom_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let i = submit_in_dm(
        &app,
        &reason_id,
        &[("reason", "maintenance window")],
        &dm,
        ALICE,
    );
    assert_eq!(replies(&app, &i, 1).await[0].callback_type(), Some(7));
    assert!(question_on(&app, &alert).starts_with("✅ Confirmed"));
    let now = app.discord.message(&alert.id).unwrap();
    assert!(
        now.body["content"].as_str().unwrap().contains("`critical`")
            && !now.body["embeds"][0]["fields"]
                .to_string()
                .contains("Acknowledged"),
        "a confirmation does not take a tamper alert: {}",
        now.body
    );
}
