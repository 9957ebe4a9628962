//! No loss, no duplicate, no bounce: bursts outliving their visibility timeout, a crash between Discord
//! creating a digest and the bot learning so, a payload Discord refuses, a Discord that keeps failing, a token
//! that no longer works.

use std::time::Duration;

use iam_alarm_testkit::fake_discord::{FakeDiscord, Fault};
use iam_alarm_testkit::helpers::{spawn_app, TestApp};
use iam_alarm_testkit::support::burst_event;

const LIMIT: Duration = Duration::from_secs(120);

/// How many messages in the channel name `user`.
fn messages_naming(discord: &FakeDiscord, user: &str) -> usize {
    let messages = discord.messages();
    messages
        .iter()
        .filter(|m| m.body.to_string().contains(user))
        .count()
}

async fn every_user_named(app: &TestApp, users: &[String]) {
    app.discord
        .wait_until_or_log(
            "every user named",
            LIMIT,
            |d| users.iter().all(|u| messages_naming(d, u) > 0),
            || app.bot_log(),
        )
        .await;
}

/// Every user named in exactly one message; the queue and the dead-letter queue empty.
async fn every_user_named_once_nothing_left(app: &TestApp, users: &[String]) {
    every_user_named(app, users).await;
    app.wait_for_depth(&app.queue_url, 0, 0, LIMIT).await;
    app.wait_for_depth(&app.dlq_url, 0, 0, LIMIT).await;
    for u in users {
        let n = messages_naming(&app.discord, u);
        assert_eq!(n, 1, "{u} is named in {n} messages\n{}", app.bot_log());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_longer_than_the_visibility_timeout_names_every_user_exactly_once() {
    let mut app = spawn_app().await;
    app.extra_env
        .push(("SQS_VISIBILITY_MS".into(), "5000".into()));
    let (users, bodies): (Vec<String>, Vec<String>) = (0..300).map(burst_event).unzip();
    app.send_all(&bodies).await;
    app.start_bot_ready().await;
    every_user_named_once_nothing_left(&app, &users).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_while_discord_holds_the_reply_to_a_digest_names_no_user_twice() {
    let mut app = spawn_app().await;
    let (users, bodies): (Vec<String>, Vec<String>) = (0..60).map(burst_event).unzip();
    app.discord.hang_on_post_containing("in a burst");
    app.send_all(&bodies).await;
    app.start_bot_ready().await;
    app.discord
        .wait_until_or_log(
            "a digest created (its answer held)",
            LIMIT,
            |d| {
                d.messages()
                    .iter()
                    .any(|m| m.body.to_string().contains("in a burst"))
            },
            || app.bot_log(),
        )
        .await;
    app.kill_bot();
    app.start_bot_ready().await;
    every_user_named_once_nothing_left(&app, &users).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_alert_is_posted_in_short_form_and_only_a_refused_short_form_is_dead_lettered() {
    let mut app = spawn_app().await;
    app.start_bot_ready().await;
    app.discord.inject([Fault::Status(400)]);
    let (user, body) = burst_event(1);
    app.send(&body).await;
    app.wait_for_depth(&app.queue_url, 0, 0, LIMIT).await;
    let messages = app.discord.messages();
    assert_eq!(messages.len(), 1, "{}", app.bot_log());
    let text = messages[0].body.to_string();
    assert!(
        text.contains(&user) && text.contains("short form"),
        "{text}"
    );
    assert_eq!(app.depth(&app.dlq_url).await, (0, 0));

    app.discord.inject([Fault::Status(400), Fault::Status(400)]);
    let (_, body) = burst_event(2);
    app.send(&body).await;
    app.wait_for_depth(&app.dlq_url, 1, 0, LIMIT).await;
    app.wait_for_depth(&app.queue_url, 0, 0, LIMIT).await;
    assert_eq!(app.discord.messages().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_turns_503_when_delivery_keeps_failing_and_recovers() {
    let mut app = spawn_app().await;
    app.extra_env
        .push(("DELIVERY_UNHEALTHY_AFTER_S".into(), "2".into()));
    app.start_bot_ready().await;
    app.discord.set_persistent_fault(Some(500));
    let (_, body) = burst_event(3);
    app.send(&body).await;
    let deadline = std::time::Instant::now() + LIMIT;
    let (status, text) = loop {
        let (status, text) = app.http_get("/healthz").await;
        if status == 503 || std::time::Instant::now() > deadline {
            break (status, text);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(status, 503, "{text}");
    assert!(text.contains("Discord has not accepted an alert"), "{text}");
    app.discord.set_persistent_fault(None);
    app.wait_for_depth(&app.queue_url, 0, 0, LIMIT).await;
    let (status, text) = app.http_get("/healthz").await;
    assert_eq!(status, 200, "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_token_stops_the_bot_before_it_receives_anything() {
    let mut app = spawn_app().await;
    app.discord.revoke_token();
    let (_, bodies): (Vec<String>, Vec<String>) = (0..3).map(burst_event).unzip();
    app.send_all(&bodies).await;
    app.start_bot();
    let code = app.wait_for_exit(LIMIT).await;
    assert_eq!(code, Some(1), "{}", app.bot_log());
    assert!(
        !app.bot_log().contains("poller started"),
        "{}",
        app.bot_log()
    );
    assert_eq!(app.depth(&app.queue_url).await, (3, 0));
    assert_eq!(app.depth(&app.dlq_url).await, (0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dlq_replay_moves_back_everything_not_malformed_whatever_the_shell_watches() {
    let app = spawn_app().await;
    let record = |name: &str, n: usize| {
        let (_, body) = burst_event(n);
        body.replace("\\\"CreateUser\\\"", &format!("\\\"{name}\\\""))
    };
    let bodies = [
        record("CreateUser", 1),
        record("DeleteUser", 2),
        record("CreateAccessKey", 3),
        "{not json".to_owned(),
    ];
    assert!(bodies[1].contains("DeleteUser") && !bodies[1].contains("CreateUser\\\""));
    for body in &bodies {
        app.send_to(&app.dlq_url, body).await;
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_iam-alarm"))
        .args(["dlq", "replay"])
        .env_clear()
        .envs(app.bot_env())
        .env("WATCHED_EVENTS", "CreateUser")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("replayed 3") && stdout.contains("left 1"),
        "{stdout}"
    );
    // The malformed one stays, visible at once (not hidden by the walk); the rest are back on the main queue.
    assert_eq!(app.depth(&app.dlq_url).await, (1, 0));
    assert_eq!(app.depth(&app.queue_url).await, (3, 0));
}

/// The bot's peak resident memory (VmHWM), in MB.
fn peak_rss_mb(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kb / 1024.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_bodies_held_through_a_discord_outage_keep_memory_bounded() {
    let mut app = spawn_app().await;
    // Discord down from the start: a whole burst is received into the backlog and held there.
    app.discord.set_persistent_fault(Some(503));
    // 200 alerts of 200 KB each (a large request, say): 40 MB of bodies.
    let padding = "x".repeat(200_000);
    let mut users = Vec::new();
    for n in 0..200 {
        let (user, body) = burst_event(n);
        let mut outer: serde_json::Value = serde_json::from_str(&body).unwrap();
        let mut event: serde_json::Value =
            serde_json::from_str(outer["Message"].as_str().unwrap()).unwrap();
        event["detail"]["additionalEventData"] = serde_json::json!({ "padding": padding });
        outer["Message"] = serde_json::json!(event.to_string());
        app.send(&outer.to_string()).await;
        users.push(user);
    }
    app.start_bot_ready().await;
    let deadline = tokio::time::Instant::now() + LIMIT;
    loop {
        let (_, metrics) = app.http_get("/metrics").await;
        let received = metrics
            .lines()
            .find_map(|l| l.strip_prefix("iam_alarm_messages_received_total "))
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(0);
        if received >= 200 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{}", app.bot_log());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let peak = peak_rss_mb(app.bot_pid().unwrap());
    assert!(
        peak < 80.0,
        "peak RSS {peak:.1} MB while holding 200 large alerts"
    );
    // And nothing was lost meanwhile.
    app.discord.set_persistent_fault(None);
    every_user_named_once_nothing_left(&app, &users).await;
}
