//! Only SNS speaks to the bot: a notification signed by SNS from our topic posts; anything else written to the
//! queue is rejected, counted by reason, and announced once, naming who wrote it. The bot checks against the
//! tests' own signing certificate, served on 127.0.0.1.

use std::time::Duration;

use iam_alarm_testkit::fake_discord::{FakeDiscord, Posted};
use iam_alarm_testkit::helpers::{free_port, spawn_app};
use iam_alarm_testkit::sns_signer::SnsSigner;
use iam_alarm_testkit::support::{eventbridge, own_fixture};

const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:sns-iam-user-alarm";
const LIMIT: Duration = Duration::from_secs(30);
/// moto's `SenderId` for every message sent to a queue.
const MOTO_SENDER: &str = "AIDAIT2UOQQY3AUEKVGXU";

fn content(m: &Posted) -> &str {
    m.body["content"].as_str().unwrap_or_default()
}

fn footer(m: &Posted) -> &str {
    m.body["embeds"][0]["footer"]["text"]
        .as_str()
        .unwrap_or_default()
}

const FORGERY: &str = "Someone is writing to the alert queue directly";

fn announced(d: &FakeDiscord) -> usize {
    d.messages()
        .iter()
        .filter(|m| content(m).contains(FORGERY))
        .count()
}

/// A CreateUser event with its own eventID.
fn create_user(id: &str) -> String {
    let mut record: serde_json::Value =
        serde_json::from_str(&own_fixture("records/CreateUser-AssumedRole-session.json")).unwrap();
    record["eventID"] = serde_json::json!(id);
    eventbridge(&record.to_string(), true)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_signed_notifications_from_our_topic_are_believed() {
    let signer = SnsSigner::start().await;
    let mut app = spawn_app().await;
    app.extra_env = signer.bot_env(TOPIC);
    app.start_bot_ready().await;

    // Believed: SignatureVersion 2 (signed here) and 1 (the committed fixture).
    app.send(&signer.notification(TOPIC, &create_user("signed-v2")))
        .await;
    app.send(&signer.v1_notification()).await;
    // Rejected: one byte of Message changed, another topic, a bare EventBridge event.
    let signed = signer.notification(TOPIC, &create_user("tampered"));
    let tampered = signed.replacen("tampered", "tamperes", 1);
    assert_ne!(signed, tampered);
    app.send(&tampered).await;
    let other_topic = "arn:aws:sns:us-east-1:123456789012:someone-elses";
    app.send(&signer.notification(other_topic, &create_user("foreign")))
        .await;
    app.send(&create_user("bare")).await;

    app.discord
        .wait_until_or_log(
            "the forgery announced",
            LIMIT,
            |d| announced(d) == 1,
            || app.bot_log(),
        )
        .await;
    assert_eq!(app.depth(&app.queue_url).await, (0, 0), "all handled");
    let log = app.bot_log();

    let posted = app.discord.messages();
    let alerts: Vec<&str> = posted
        .iter()
        .map(footer)
        .filter(|f| f.starts_with("eventID "))
        .collect();
    assert_eq!(alerts.len(), 2, "{alerts:?}\n{log}");
    assert!(
        alerts.iter().any(|f| f.ends_with("signed-v2")),
        "{alerts:?}"
    );
    assert!(
        alerts.iter().any(|f| f.ends_with("sns-v1-signed-0001")),
        "{alerts:?}"
    );

    let forgery = posted
        .iter()
        .find(|m| content(m).contains(FORGERY))
        .unwrap();
    let text = content(forgery);
    assert!(text.contains("3 messages rejected"), "{text}");
    assert!(text.contains(&format!("sender {MOTO_SENDER}")), "{text}");
    assert!(text.contains("`critical`"), "{text}");

    let (_, metrics) = app.http_get("/metrics").await;
    for line in [
        r#"iam_alarm_rejected_total{reason="bad signature"} 1"#,
        r#"iam_alarm_rejected_total{reason="another topic"} 1"#,
        r#"iam_alarm_rejected_total{reason="not SNS"} 1"#,
    ] {
        assert!(metrics.contains(line), "missing {line:?} in\n{metrics}");
    }
    assert!(
        log.contains("rejected") && log.contains(MOTO_SENDER),
        "{log}"
    );

    // Not one announcement per message: the watchdog looks again and says nothing new.
    let looked = watchdog_last_run(&metrics);
    let deadline = std::time::Instant::now() + LIMIT;
    loop {
        let (_, metrics) = app.http_get("/metrics").await;
        if watchdog_last_run(&metrics) > looked + 1 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the watchdog stopped looking"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(announced(&app.discord), 1);
}

fn watchdog_last_run(metrics: &str) -> i64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix("iam_alarm_watchdog_last_run_timestamp_seconds "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// A signature that cannot be checked is never believed, and never silent: the messages wait, and the watchdog
/// says once that signatures cannot be checked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signatures_that_cannot_be_checked_wait_and_are_announced_once() {
    let signer = SnsSigner::start().await;
    let mut app = spawn_app().await;
    // The certificate's server is gone: nothing listens where the messages say it is.
    let gone = format!("http://127.0.0.1:{}/", free_port());
    app.extra_env = signer.bot_env(TOPIC);
    app.extra_env.retain(|(k, _)| k != "SNS_CERT_URL_PREFIX");
    app.extra_env
        .push(("SNS_CERT_URL_PREFIX".to_owned(), gone.clone()));
    app.start_bot_ready().await;
    for n in 0..3 {
        let signed = signer.notification(TOPIC, &create_user(&format!("waits-{n}")));
        app.send(&signed.replace(&signer.url_prefix, &gone)).await;
    }
    let cannot = "Cannot check SNS signatures";
    let announced = |d: &FakeDiscord| {
        d.messages()
            .iter()
            .filter(|m| content(m).contains(cannot))
            .count()
    };
    app.discord
        .wait_until_or_log(
            "the unverifiable signatures announced",
            LIMIT,
            |d| announced(d) == 1,
            || app.bot_log(),
        )
        .await;
    assert_eq!(
        app.discord.messages().len(),
        1,
        "nothing was believed unverified"
    );
    let (visible, in_flight) = app.depth(&app.queue_url).await;
    assert_eq!(visible + in_flight, 3, "the messages wait on the queue");
}
