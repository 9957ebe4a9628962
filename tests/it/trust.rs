//! The trust boundary: the bot serves one Discord server. Interactions from any other server or a DM are refused
//! privately before any AWS call, whatever the member's permissions; alert buttons act only on the bot's own
//! alerts in the alert channel; start-up removes leftover global commands and names foreign servers.

use serde_json::{json, Value};

use iam_alarm_testkit::fake_discord::message_json;
use iam_alarm_testkit::helpers::{spawn_app, CHANNEL_ID, GUILD_ID};
use iam_alarm_testkit::interactions::{
    app_with_stub, base, button, command, member, post_alert, replies, ALICE, LIMIT, MANAGE_GUILD,
};

const OTHER_GUILD: u64 = 333_333_333_333_333_333;
const DM_CHANNEL: u64 = 444_444_444_444_444_444;
/// Every permission bit a member can hold: administrators of a foreign server are still foreigners.
const ALL_PERMISSIONS: u64 = (1 << 41) - 1;

/// An interaction from another server that invited the bot.
fn from_other_guild(kind: u8) -> Value {
    let mut i = base(kind, member(ALICE, &[], ALL_PERMISSIONS));
    i["guild_id"] = json!(OTHER_GUILD.to_string());
    i["authorizing_integration_owners"] = json!({"0": OTHER_GUILD.to_string()});
    i
}

/// An interaction from a direct message: a user, no member, no guild.
fn from_dm(kind: u8) -> Value {
    let mut i = base(kind, Value::Null);
    let user = member(ALICE, &[], 0)["user"].clone();
    let o = i.as_object_mut().unwrap();
    o.remove("member");
    o.remove("guild_id");
    o.insert("user".into(), user);
    o.insert("channel_id".into(), json!(DM_CHANNEL.to_string()));
    o.insert("context".into(), json!(1));
    i
}

fn with_command(mut i: Value, id: String, name: &str) -> Value {
    i["data"] = json!({"id": id, "name": name, "type": 1, "options": []});
    i
}

fn with_press(mut i: Value, custom_id: &str, message: Value) -> Value {
    i["data"] = json!({"custom_id": custom_id, "component_type": 2});
    i["message"] = message;
    i
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_and_buttons_from_another_server_or_a_dm_are_refused_before_any_aws_call() {
    let (mut app, stub) = app_with_stub().await;
    app.start_bot_ready().await;
    let alert = post_alert(&app).await;
    let activity = button(&alert, 1)["custom_id"].as_str().unwrap().to_owned();
    let ack = button(&alert, 0)["custom_id"].as_str().unwrap().to_owned();
    let before = stub.requests();

    let mut interactions = Vec::new();
    for name in ["iam-users", "recent-changes", "health"] {
        let id = app.discord.command_id(name);
        interactions.push(with_command(from_other_guild(2), id.clone(), name));
        interactions.push(with_command(from_dm(2), id, name));
    }
    for custom_id in [&activity, &ack, &"iu:1:0:-:".to_owned()] {
        let message = message_json(&alert);
        interactions.push(with_press(from_other_guild(3), custom_id, message.clone()));
        interactions.push(with_press(from_dm(3), custom_id, message));
    }
    for interaction in interactions {
        let what = interaction["data"].to_string();
        let id = app
            .discord
            .dispatch_interaction(interaction, Some(alert.id.clone()));
        let r = replies(&app, &id, 1).await;
        assert_eq!(r[0].callback_type(), Some(4), "{what}: {}", r[0].text());
        assert!(r[0].ephemeral(), "{what}: the refusal is private");
        assert!(
            r[0].text().contains("serves one Discord server only"),
            "{what}: {}",
            r[0].text()
        );
    }
    assert_eq!(
        stub.requests(),
        before,
        "no AWS call for a refused interaction"
    );
    let stored = &app.discord.messages()[0];
    assert_eq!(
        stored.body, alert.body,
        "the alert was not acknowledged from outside"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alert_buttons_act_only_on_the_bots_own_alerts_in_the_alert_channel() {
    let mut app = spawn_app().await;
    app.start_bot_ready().await;
    let alert = post_alert(&app).await;
    let ack = button(&alert, 0)["custom_id"].as_str().unwrap().to_owned();

    // The same buttons on a copy in another channel of our server, and on a message someone else wrote.
    let mut elsewhere = message_json(&alert);
    elsewhere["channel_id"] = json!((CHANNEL_ID + 1).to_string());
    let mut forged = message_json(&alert);
    forged["author"] = member(ALICE, &[], 0)["user"].clone();
    for message in [elsewhere, forged] {
        let mut i = with_press(
            base(3, member(ALICE, &[], MANAGE_GUILD)),
            &ack,
            message.clone(),
        );
        i["channel_id"] = message["channel_id"].clone();
        let id = app.discord.dispatch_interaction(i, Some(alert.id.clone()));
        let r = replies(&app, &id, 1).await;
        assert!(r[0].ephemeral(), "{}", r[0].text());
        assert!(
            r[0].text().contains("only on iam-alarm's own alerts"),
            "{}",
            r[0].text()
        );
    }
    // The real alert still takes the press.
    let i = with_press(
        base(3, member(ALICE, &[], MANAGE_GUILD)),
        &ack,
        message_json(&alert),
    );
    let id = app.discord.dispatch_interaction(i, Some(alert.id.clone()));
    let r = replies(&app, &id, 1).await;
    assert_eq!(r[0].callback_type(), Some(7), "{}", r[0].text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_up_removes_leftover_global_commands_and_names_foreign_servers() {
    let mut app = spawn_app().await;
    app.discord
        .seed_global_commands(&["iam-users", "recent-changes"]);
    app.discord.set_member_of(&[GUILD_ID, OTHER_GUILD]);
    app.start_bot_ready().await;
    app.discord
        .wait_until_or_log(
            "global commands removed",
            LIMIT,
            |d| d.global_command_names().is_empty(),
            || app.bot_log(),
        )
        .await;
    let log = app.bot_log();
    let warning = log
        .lines()
        .find(|l| l.contains("does not serve"))
        .unwrap_or_else(|| panic!("no warning about the foreign server:\n{log}"));
    assert!(warning.contains(&OTHER_GUILD.to_string()), "{warning}");
    assert!(
        !log.lines()
            .any(|l| l.contains("does not serve") && l.contains(&GUILD_ID.to_string())),
        "our own server is not foreign:\n{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bot_mode_without_a_guild_exits_2_naming_it() {
    let mut app = spawn_app().await;
    app.extra_env
        .push(("DISCORD_GUILD_ID".into(), String::new()));
    app.start_bot();
    let code = app.wait_for_exit(LIMIT).await;
    assert_eq!(code, Some(2), "{}", app.bot_log());
    assert!(
        app.bot_log().contains("DISCORD_GUILD_ID"),
        "{}",
        app.bot_log()
    );
    assert_eq!(app.discord.command_registrations(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_that_echoes_input_pings_nobody() {
    let mut app = spawn_app().await;
    app.start_bot_ready().await;
    let option = json!([{"name": "event", "type": 3, "value": "@everyone <@&1> <@2>"}]);
    let i = command(
        &app,
        "recent-changes",
        option,
        member(ALICE, &[], MANAGE_GUILD),
    );
    let r = replies(&app, &i, 2).await;
    let echo = &r[1];
    assert!(echo.text().contains("@everyone"), "{}", echo.text());
    let mentions = &echo.message()["allowed_mentions"];
    for list in ["parse", "roles", "users"] {
        let empty = mentions[list]
            .as_array()
            .is_some_and(std::vec::Vec::is_empty);
        assert!(empty || mentions[list].is_null(), "{}", echo.text());
    }
    assert!(mentions.is_object(), "{}", echo.text());
    assert!(
        !app.bot_log().contains("command failed"),
        "{}",
        app.bot_log()
    );
}
