//! Interactions as Discord sends them (slash commands and button presses from a member), pushed through the fake
//! Discord's gateway, and the waits on the bot's replies: shared by the responders' and the trust-boundary tests.

use std::time::Duration;

use serde_json::{json, Value};

use crate::aws_stub::AwsStub;
use crate::fake_discord::{Posted, Reply};
use crate::helpers::{moto, spawn_app, TestApp, CHANNEL_ID, GUILD_ID};
use crate::support::{eventbridge, own_fixture, sns};

pub const LIMIT: Duration = Duration::from_secs(30);
pub const DEADLINE: Duration = Duration::from_secs(3);
pub const ALICE: u64 = 500_000_000_000_000_001;
pub const BOB: u64 = 500_000_000_000_000_002;
pub const ROLE: u64 = 600_000_000_000_000_001;
/// The Manage Server permission bit.
pub const MANAGE_GUILD: u64 = 1 << 5;

pub fn member(user: u64, roles: &[u64], permissions: u64) -> Value {
    json!({
        "user": {"id": user.to_string(), "username": format!("user{}", user % 1000), "discriminator": "0",
                 "global_name": null, "avatar": null},
        "roles": roles.iter().map(std::string::ToString::to_string).collect::<Vec<_>>(),
        "permissions": permissions.to_string(),
        "joined_at": "2024-01-01T00:00:00.000000+00:00",
        "deaf": false, "mute": false, "flags": 0, "pending": false,
        "nick": null, "avatar": null, "premium_since": null, "communication_disabled_until": null
    })
}

pub fn base(kind: u8, member: Value) -> Value {
    json!({
        "type": kind, "version": 1, "guild_id": GUILD_ID.to_string(), "channel_id": CHANNEL_ID.to_string(),
        "member": member, "app_permissions": "2248473465835073", "locale": "en-US", "guild_locale": "en-US",
        "entitlements": [], "attachment_size_limit": 10485760, "authorizing_integration_owners": {"0": GUILD_ID.to_string()}, "context": 0
    })
}

/// A slash command invocation.
pub fn command(app: &TestApp, name: &str, options: Value, who: Value) -> String {
    let mut i = base(2, who);
    i["data"] = json!({"id": app.discord.command_id(name), "name": name, "type": 1, "options": options,
                       "guild_id": GUILD_ID.to_string()});
    app.discord.dispatch_interaction(i, None)
}

/// What Discord sends while a member types into a command's option: that option, focused.
pub fn autocomplete(app: &TestApp, name: &str, option: &str, partial: &str, who: Value) -> String {
    let mut i = base(4, who);
    i["data"] = json!({"id": app.discord.command_id(name), "name": name, "type": 1,
                       "options": [{"name": option, "type": 3, "value": partial, "focused": true}],
                       "guild_id": GUILD_ID.to_string()});
    app.discord.dispatch_interaction(i, None)
}

/// A user as a direct message's interaction names them (no server, no member).
pub fn user(id: u64) -> Value {
    json!({"id": id.to_string(), "username": format!("user{}", id % 1000), "discriminator": "0",
           "global_name": null, "avatar": null})
}

/// A button press on a direct message the bot sent, by `who` (a user id).
pub fn press_in_dm(app: &TestApp, custom_id: &str, message: &Posted, who: u64) -> String {
    let mut i = dm_base(3, message.channel_id, who);
    i["data"] = json!({"custom_id": custom_id, "component_type": 2});
    i["message"] = crate::fake_discord::message_json(message);
    app.discord
        .dispatch_interaction(i, Some(message.id.clone()))
}

/// A modal submitted from a direct message's button: `values` by text input custom id, in rows as Discord
/// sends them.
pub fn submit_in_dm(
    app: &TestApp,
    custom_id: &str,
    values: &[(&str, &str)],
    message: &Posted,
    who: u64,
) -> String {
    let mut i = dm_base(5, message.channel_id, who);
    i["data"] = modal_data(custom_id, values);
    i["message"] = crate::fake_discord::message_json(message);
    app.discord
        .dispatch_interaction(i, Some(message.id.clone()))
}

/// A modal submitted in the server (from a button on `message`), by a member.
pub fn submit_modal(
    app: &TestApp,
    custom_id: &str,
    values: &[(&str, &str)],
    message: &Posted,
    who: Value,
) -> String {
    let mut i = base(5, who);
    i["data"] = modal_data(custom_id, values);
    i["message"] = crate::fake_discord::message_json(message);
    app.discord
        .dispatch_interaction(i, Some(message.id.clone()))
}

/// A submitted modal's data: one text input per action row, as Discord sends them.
fn modal_data(custom_id: &str, values: &[(&str, &str)]) -> Value {
    let rows: Vec<Value> = values
        .iter()
        .map(|(id, v)| json!({"type": 1, "components": [{"type": 4, "custom_id": id, "value": v}]}))
        .collect();
    json!({"custom_id": custom_id, "components": rows})
}

fn dm_base(kind: u8, channel: u64, who: u64) -> Value {
    json!({
        "type": kind, "version": 1, "channel_id": channel.to_string(),
        "channel": {"id": channel.to_string(), "type": 1},
        "user": user(who), "app_permissions": "2248473465835073", "locale": "en-US",
        "entitlements": [], "attachment_size_limit": 10485760,
        "authorizing_integration_owners": {"0": GUILD_ID.to_string()}, "context": 1
    })
}

/// A button press on a message.
pub fn press(app: &TestApp, custom_id: &str, message: &Posted, who: Value) -> String {
    let mut i = base(3, who);
    i["data"] = json!({"custom_id": custom_id, "component_type": 2});
    i["message"] = crate::fake_discord::message_json(message);
    app.discord
        .dispatch_interaction(i, Some(message.id.clone()))
}

/// Wait for `n` replies to an interaction; the first must be the callback, within Discord's deadline.
pub async fn replies(app: &TestApp, interaction: &str, n: usize) -> Vec<Reply> {
    app.discord
        .wait_until_or_log(
            &format!("{n} replies to interaction {interaction}"),
            LIMIT,
            |d| d.replies(interaction).len() >= n,
            || app.bot_log(),
        )
        .await;
    let r = app.discord.replies(interaction);
    assert_eq!(
        r[0].kind, "callback",
        "the first response is the interaction callback"
    );
    assert!(
        r[0].after < DEADLINE,
        "first response after {:?}",
        r[0].after
    );
    r
}

pub async fn post_alert(app: &TestApp) -> Posted {
    post_record(
        app,
        &own_fixture("records/CreateUser-AssumedRole-session.json"),
    )
    .await
}

/// Send a record as the pipeline delivers it and wait for the bot's first message.
pub async fn post_record(app: &TestApp, record: &str) -> Posted {
    app.send(&sns(&eventbridge(record, true))).await;
    app.discord
        .wait_until_or_log(
            "the alert",
            LIMIT,
            |d| !d.messages().is_empty(),
            || app.bot_log(),
        )
        .await;
    app.discord.messages().remove(0)
}

/// The alert the bot posted for `event_id` (its footer names it), if it did.
pub fn alert_with(app: &TestApp, event_id: &str) -> Option<Posted> {
    let footer = format!("eventID {event_id}");
    app.discord
        .messages()
        .into_iter()
        .find(|m| m.body["embeds"][0]["footer"]["text"] == footer.as_str())
}

/// Send a record as the pipeline delivers it and wait for its alert, among any other messages.
pub async fn alert_for(app: &TestApp, record: &str, event_id: &str) -> Posted {
    app.send(&sns(&eventbridge(record, true))).await;
    app.discord
        .wait_until_or_log(
            "the alert",
            LIMIT,
            |_| alert_with(app, event_id).is_some(),
            || app.bot_log(),
        )
        .await;
    alert_with(app, event_id).unwrap()
}

pub fn button(message: &Posted, index: usize) -> Value {
    message.body["components"][0]["components"][index].clone()
}

pub async fn app_with_stub() -> (TestApp, AwsStub) {
    let mut app = spawn_app().await;
    let stub = AwsStub::start(&moto().url).await;
    app.extra_env
        .push(("AWS_ENDPOINT_URL_CLOUDTRAIL".into(), stub.url.clone()));
    app.extra_env
        .push(("AWS_ENDPOINT_URL_IAM".into(), stub.url.clone()));
    (app, stub)
}
