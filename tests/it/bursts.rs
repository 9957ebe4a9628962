//! Bursts: what Discord's rate limit can't take at once is grouped into digests that still name every user; a
//! lone event is not held back; a digest can be acknowledged like any alert.

use std::time::Duration;

use serde_json::{json, Value};

use iam_alarm_testkit::helpers::{spawn_app, TestApp};
use iam_alarm_testkit::support::burst_event;

const LIMIT: Duration = Duration::from_secs(60);

fn channel_text(app: &TestApp) -> String {
    app.discord
        .messages()
        .iter()
        .map(|m| m.body.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_is_grouped_and_names_every_user_once() {
    let mut app = spawn_app().await;
    let (users, bodies): (Vec<String>, Vec<String>) = (0..120).map(burst_event).unzip();
    app.send_all(&bodies).await;
    app.start_bot_ready().await;
    app.discord
        .wait_until_or_log(
            "every user named",
            LIMIT,
            |d| {
                let text = d
                    .messages()
                    .iter()
                    .map(|m| m.body.to_string())
                    .collect::<String>();
                users.iter().all(|u| text.contains(u.as_str()))
            },
            || app.bot_log(),
        )
        .await;
    app.wait_for_depth(&app.queue_url, 0, 0, LIMIT).await;
    let text = channel_text(&app);
    for u in &users {
        assert_eq!(
            text.matches(&format!("{u}`")).count()
                + text.matches(&format!("**{u}**")).count().min(1),
            1,
            "{u} named once"
        );
    }
    let messages = app.discord.messages();
    assert!(
        messages.len() <= 10,
        "{} messages for 120 events",
        messages.len()
    );
    let digests = messages
        .iter()
        .filter(|m| {
            m.body["embeds"][0]["footer"]["text"]
                .as_str()
                .is_none_or(|f| !f.starts_with("eventID"))
        })
        .count();
    assert!(digests >= 1, "the burst beyond the bucket was grouped");
    assert_eq!(
        app.discord.rate_limited(),
        0,
        "paced by the headers, not by 429s"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lone_event_gets_its_own_full_alert() {
    let mut app = spawn_app().await;
    app.start_bot_ready().await;
    let (user, body) = burst_event(7);
    app.send(&body).await;
    app.discord
        .wait_until_or_log(
            "the alert",
            LIMIT,
            |d| d.messages().len() == 1,
            || app.bot_log(),
        )
        .await;
    let m = &app.discord.messages()[0].body;
    assert_eq!(m["embeds"][0]["title"], format!("IAM user created: {user}"));
    assert_eq!(
        m["embeds"][0]["footer"]["text"],
        "eventID 00000000-0000-4000-8000-000000000007"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_digest_can_be_acknowledged() {
    let mut app = spawn_app().await;
    let (_, bodies): (Vec<String>, Vec<String>) = (0..20).map(burst_event).unzip();
    app.send_all(&bodies).await;
    app.start_bot_ready().await;
    app.wait_for_depth(&app.queue_url, 0, 0, LIMIT).await;
    let digest = digests(&app).remove(0);
    let ack = digest.body["components"][0]["components"][0]["custom_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(ack.starts_with("ack:digest-"), "{ack}");
    let r = acknowledge(&app, &digest).await;
    assert_eq!(r.callback_type(), Some(7), "{}", r.text());
    assert!(r.text().contains("Acknowledged"), "{}", r.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_digest_of_the_longest_user_names_can_be_acknowledged() {
    let mut app = spawn_app().await;
    // IAM user names run to 64 characters: digests as large as a description holds (the sweep in
    // `core/src/digest.rs` takes messages to within a few characters of 6,000).
    let long = |n: usize| {
        let (user, body) = burst_event(n);
        let longer = format!("{user}-{}", "x".repeat(64 - user.len() - 1));
        (longer.clone(), body.replace(&user, &longer))
    };
    let (_, bodies): (Vec<String>, Vec<String>) = (0..150).map(long).unzip();
    app.send_all(&bodies).await;
    app.start_bot_ready().await;
    app.wait_for_depth(&app.queue_url, 0, 0, LIMIT).await;
    let fullest = digests(&app)
        .into_iter()
        .max_by_key(|d| d.body["embeds"].to_string().len())
        .unwrap();
    let size: usize = fullest.body["embeds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let len = |v: &Value| v.as_str().map_or(0, |s| s.chars().count());
            let fields: usize = e["fields"].as_array().map_or(0, |f| {
                f.iter().map(|f| len(&f["name"]) + len(&f["value"])).sum()
            });
            len(&e["title"]) + len(&e["description"]) + len(&e["footer"]["text"]) + fields
        })
        .sum();
    assert!(size > 4_000, "a large digest: {size}");
    let r = acknowledge(&app, &fullest).await;
    assert_eq!(r.callback_type(), Some(7), "{}", r.text());
}

/// The digest messages in the channel.
fn digests(app: &TestApp) -> Vec<iam_alarm_testkit::fake_discord::Posted> {
    app.discord
        .messages()
        .into_iter()
        .filter(|m| {
            m.body["content"]
                .as_str()
                .unwrap_or("")
                .contains("in a burst")
        })
        .collect()
}

/// Press a message's Acknowledge button as a member with Manage Server; the first reply.
async fn acknowledge(
    app: &TestApp,
    message: &iam_alarm_testkit::fake_discord::Posted,
) -> iam_alarm_testkit::fake_discord::Reply {
    let ack = message.body["components"][0]["components"][0]["custom_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let member = iam_alarm_testkit::interactions::member(
        iam_alarm_testkit::interactions::ALICE,
        &[],
        iam_alarm_testkit::interactions::MANAGE_GUILD,
    );
    let mut i = iam_alarm_testkit::interactions::base(3, member);
    i["data"] = json!({"custom_id": ack, "component_type": 2});
    i["message"] = iam_alarm_testkit::fake_discord::message_json(message);
    let id = app
        .discord
        .dispatch_interaction(i, Some(message.id.clone()));
    iam_alarm_testkit::interactions::replies(app, &id, 1)
        .await
        .remove(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_through_the_in_memory_sqs_names_every_user_once() {
    // The stub the benchmark's 10,000-event burst runs on, checked against the real bot here.
    let sqs = iam_alarm_testkit::sqs_stub::SqsStub::start().await;
    let mut app = iam_alarm_testkit::helpers::spawn_app_with_sqs(&sqs.url).await;
    let (users, bodies): (Vec<String>, Vec<String>) = (0..150).map(burst_event).unzip();
    app.send_all(&bodies).await;
    app.start_bot_ready().await;
    app.wait_for_depth(&app.queue_url, 0, 0, LIMIT).await;
    let text = channel_text(&app);
    for u in &users {
        assert!(text.contains(u.as_str()), "{u} named\n{}", app.bot_log());
    }
    let messages = app.discord.messages();
    for u in &users {
        let naming = messages
            .iter()
            .filter(|m| m.body.to_string().contains(u.as_str()));
        assert_eq!(naming.count(), 1, "{u} named once");
    }
}
