//! The live pipeline end to end: moto (SQS, EventBridge) → the real `iam-alarm` binary → the fake Discord.
//! Every fault test asserts exactly-once delivery: one channel message, and an empty queue.

use std::time::Duration;

use serde_json::json;

use iam_alarm_testkit::fake_discord::Fault;
use iam_alarm_testkit::helpers::{spawn_app, TestApp, CHANNEL_ID};
use iam_alarm_testkit::support::{eventbridge, own_fixture, sns};

const LIMIT: Duration = Duration::from_secs(30);

fn create_user() -> String {
    own_fixture("records/CreateUser-AssumedRole-session.json")
}

/// An SNS-enveloped EventBridge event, as the real pipeline delivers it.
fn queued(record: &str) -> String {
    sns(&eventbridge(record, true))
}

async fn one_message_and_empty_queue(app: &TestApp) {
    app.discord
        .wait_until_or_log(
            "one alert in the channel",
            LIMIT,
            |d| !d.messages().is_empty(),
            || app.bot_log(),
        )
        .await;
    app.wait_for_depth(&app.queue_url, 0, 0, LIMIT).await;
    let messages = app.discord.messages();
    assert_eq!(messages.len(), 1, "exactly one alert\n{}", app.bot_log());
    assert_eq!(messages[0].channel_id, CHANNEL_ID);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_user_flows_from_the_eventbridge_rule_to_the_channel() {
    let mut app = spawn_app().await;
    // The rule uses the very pattern file Terraform deploys, with the queue as target (moto cannot
    // deliver EventBridge → SNS).
    let pattern = std::fs::read_to_string(
        iam_alarm_testkit::support::repo_root().join("deploy/event-pattern.json"),
    )
    .unwrap();
    let bus = app.rule_to_queue(&pattern).await;
    app.start_bot_ready().await;

    let record = create_user();
    let put = app
        .events(
            "PutEvents",
            json!({"Entries": [{
                "Source": "aws.iam",
                "DetailType": "AWS API Call via CloudTrail",
                "Detail": record,
                "EventBusName": bus
            }]}),
        )
        .await;
    assert_eq!(put["FailedEntryCount"], 0, "{put}");

    one_message_and_empty_queue(&app).await;
    let body = &app.discord.messages()[0].body;
    let embed = &body["embeds"][0];
    let description = embed["description"].as_str().unwrap();
    assert!(
        description.contains("terraform-run-42 via ci-deployer"),
        "{description}"
    );
    assert!(description.contains("IAM-test-user"), "{description}");
    assert_eq!(body["allowed_mentions"], json!({"parse": []}));
    assert_eq!(body["enforce_nonce"], true);
    assert_eq!(
        body["components"][0]["components"][0]["custom_id"],
        "ack:6f1d2c3b-4a5e-4f60-8a7b-9c0d1e2f3a4b"
    );
    assert!(
        !app.bot_log()
            .contains(iam_alarm_testkit::fake_discord::TOKEN),
        "the token reached the log"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discord_500_three_times_then_accepted() {
    let mut app = spawn_app().await;
    app.start_bot_ready().await;
    app.discord
        .inject([Fault::Status(500), Fault::Status(500), Fault::Status(500)]);
    app.send(&queued(&create_user())).await;
    one_message_and_empty_queue(&app).await;
    let statuses: Vec<u16> = app.discord.attempts().iter().map(|a| a.1).collect();
    assert_eq!(statuses, [500, 500, 500, 200]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discord_429_retry_after_is_honoured() {
    let mut app = spawn_app().await;
    app.start_bot_ready().await;
    app.discord.inject([Fault::RateLimited(0.3)]);
    app.send(&queued(&create_user())).await;
    one_message_and_empty_queue(&app).await;
    let attempts = app.discord.attempts();
    assert_eq!(attempts.iter().map(|a| a.1).collect::<Vec<_>>(), [429, 200]);
    let waited = attempts[1].0 - attempts[0].0;
    assert!(
        waited >= Duration::from_millis(300),
        "retried after {waited:?}, before retry_after"
    );
    let (_, metrics) = app.http_get("/metrics").await;
    assert!(
        metrics.contains("iam_alarm_discord_errors_total{kind=\"rate_limited\"} 1"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_event_id_in_two_envelopes_is_posted_once() {
    let mut app = spawn_app().await;
    app.start_bot_ready().await;
    let record = create_user();
    app.send(&queued(&record)).await;
    app.send(&eventbridge(&record, false)).await;
    app.wait_for_depth(&app.queue_url, 0, 0, LIMIT).await;
    one_message_and_empty_queue(&app).await;
    let (_, metrics) = app.http_get("/metrics").await;
    assert!(
        metrics.contains("iam_alarm_duplicates_skipped_total 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("iam_alarm_alerts_posted_total 1"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_after_posting_before_deleting_does_not_post_twice() {
    let mut app = spawn_app().await;
    app.start_bot_ready().await;
    // Discord creates the message but the answer never arrives: the bot cannot delete.
    app.discord.inject([Fault::RecordThenHang]);
    app.send(&queued(&create_user())).await;
    app.discord
        .wait_until("the alert reached Discord", LIMIT, |d| {
            d.messages().len() == 1
        })
        .await;
    app.kill_bot();
    // The SQS message is still there (in flight until its visibility timeout ends).
    let (visible, in_flight) = app.depth(&app.queue_url).await;
    assert_eq!(visible + in_flight, 1);

    app.start_bot_ready().await;
    app.wait_for_depth(&app.queue_url, 0, 0, LIMIT).await;
    one_message_and_empty_queue(&app).await;
    let (_, metrics) = app.http_get("/metrics").await;
    assert!(
        metrics.contains("iam_alarm_duplicates_skipped_total 1"),
        "{metrics}\n{}",
        app.bot_log()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_body_goes_to_the_dlq_while_later_alerts_flow() {
    let mut app = spawn_app().await;
    app.start_bot_ready().await;
    app.send("{this is not json").await;
    app.send(&queued(&create_user())).await;
    one_message_and_empty_queue(&app).await;
    app.wait_for_depth(&app.dlq_url, 1, 0, LIMIT).await;
    let dead = app
        .sqs
        .receive_message()
        .queue_url(&app.dlq_url)
        .message_attribute_names("All")
        .send()
        .await
        .unwrap()
        .messages
        .unwrap();
    assert_eq!(dead[0].body(), Some("{this is not json"));
    let reason = dead[0].message_attributes().unwrap()["iam-alarm-reason"]
        .string_value()
        .unwrap();
    assert!(reason.starts_with("malformed: not valid JSON"), "{reason}");
    let log = app.bot_log();
    assert!(
        log.contains("moved to the dead-letter queue") && log.contains("not valid JSON"),
        "{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_a_retry_loop_exits_0_and_loses_nothing() {
    let mut app = spawn_app().await;
    app.start_bot_ready().await;
    app.discord.set_persistent_fault(Some(503));
    app.send(&queued(&create_user())).await;
    app.discord
        .wait_until("the bot is retrying", LIMIT, |d| d.attempts().len() >= 2)
        .await;
    let code = app.terminate_bot(Duration::from_secs(10)).await;
    assert_eq!(code, Some(0), "exit within 10 s with 0\n{}", app.bot_log());
    // Released, not lost: the message is visible again at once.
    assert_eq!(app.depth(&app.queue_url).await, (1, 0));
    assert!(app.discord.messages().is_empty());

    app.discord.set_persistent_fault(None);
    app.start_bot_ready().await;
    one_message_and_empty_queue(&app).await;
}

/// One shutdown path for every background task: each is asked to stop, and the process waits for all of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_every_task_and_waits_for_each() {
    let mut app = spawn_app().await;
    app.extra_env = [
        ("HEARTBEAT_MAX_AGE_S", "3600"),
        ("ORGANIZATION_LOOKUP", "true"),
    ]
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .to_vec();
    app.start_bot_ready().await;
    // An alert posted: the gateway was ready, so every task has started.
    app.send(&queued(&create_user())).await;
    one_message_and_empty_queue(&app).await;
    let code = app.terminate_bot(Duration::from_secs(10)).await;
    let log = app.bot_log();
    assert_eq!(code, Some(0), "{log}");
    let stopped: Vec<&str> = log.lines().filter(|l| l.contains("task stopped")).collect();
    for task in [
        "health",
        "gateway",
        "poller",
        "escalation",
        "watchdog",
        "organization-lookup",
    ] {
        assert!(
            stopped.iter().any(|l| l.contains(&format!("\"{task}\""))),
            "{task} did not report stopping:\n{log}"
        );
    }
    assert!(log.contains("every task stopped"), "{log}");
    assert!(!log.contains("stopped unexpectedly"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_and_metrics_answer() {
    let mut app = spawn_app().await;
    app.start_bot_ready().await;
    app.send(&queued(&create_user())).await;
    app.send(&own_fixture("bodies/sns-subscription-confirmation.json"))
        .await;
    one_message_and_empty_queue(&app).await;
    let (status, body) = app.http_get("/healthz").await;
    assert_eq!(status, 200, "{body}");
    let health: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(health["gateway_connected"], true);
    assert!(health["last_alert"].as_i64().unwrap() > 0);
    let (status, metrics) = app.http_get("/metrics").await;
    assert_eq!(status, 200);
    for line in [
        "iam_alarm_messages_received_total 2",
        "iam_alarm_alerts_posted_total 1",
        "iam_alarm_not_alerts_total 1",
        "iam_alarm_dead_lettered_total 0",
        "iam_alarm_gateway_connected 1",
    ] {
        assert!(metrics.contains(line), "missing {line:?} in\n{metrics}");
    }
    assert!(metrics.contains("# TYPE iam_alarm_last_alert_timestamp_seconds gauge"));

    // The container HEALTHCHECK's command: 0 while healthy, 1 once the bot is gone.
    let addr = format!("127.0.0.1:{}", app.health_port);
    let healthcheck = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_iam-alarm"))
            .arg("healthcheck")
            .env("HEALTH_ADDR", &addr)
            .output()
            .unwrap()
    };
    assert_eq!(healthcheck().status.code(), Some(0));
    assert_eq!(app.terminate_bot(Duration::from_secs(10)).await, Some(0));
    let out = healthcheck();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unhealthy"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_mode_posts_without_buttons() {
    let mut app = spawn_app().await;
    let url = format!(
        "{}/api/v10/webhooks/123/secret-webhook-token",
        app.discord.url()
    );
    app.extra_env = vec![
        ("DISCORD_TOKEN".into(), String::new()),
        ("DISCORD_WEBHOOK_URL".into(), url),
    ];
    app.start_bot();
    app.send(&queued(&create_user())).await;
    app.discord
        .wait_until("webhook alert", LIMIT, |d| d.messages().len() == 1)
        .await;
    app.wait_for_depth(&app.queue_url, 0, 0, LIMIT).await;
    let body = &app.discord.messages()[0].body;
    let styles: Vec<_> = body["components"][0]["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["style"].clone())
        .collect();
    assert_eq!(styles, [json!(5)], "only the link button");
    assert!(body.get("nonce").is_none());
    assert!(
        !app.bot_log().contains("secret-webhook-token"),
        "the webhook URL reached the log"
    );
}

/// Run `iam-alarm dlq …` against the app's queues.
fn dlq_command(app: &TestApp, args: &[&str]) -> (i32, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_iam-alarm"))
        .arg("dlq")
        .args(args)
        .env_clear()
        .envs(app.bot_env())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_alert_is_dead_lettered_listed_and_replayed() {
    let mut app = spawn_app().await;
    app.start_bot_ready().await;
    // Discord refuses the payload itself: retrying the same bytes cannot help, so it goes to the DLQ.
    app.discord.set_persistent_fault(Some(400));
    app.send(&queued(&create_user())).await;
    app.wait_for_depth(&app.dlq_url, 1, 0, LIMIT).await;
    app.wait_for_depth(&app.queue_url, 0, 0, LIMIT).await;

    let (code, listing) = dlq_command(&app, &["list"]);
    assert_eq!(code, 0, "{listing}");
    assert!(
        listing.contains("alert: IAM user created: IAM-test-user"),
        "{listing}"
    );
    assert!(
        listing.contains("Discord rejected the message (400)"),
        "{listing}"
    );

    app.discord.set_persistent_fault(None);
    let (code, out) = dlq_command(&app, &["replay"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("replayed 1 message"), "{out}");
    one_message_and_empty_queue(&app).await;
    app.wait_for_depth(&app.dlq_url, 0, 0, LIMIT).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_outage_keeps_the_whole_batch_hidden_and_posts_each_once() {
    let mut app = spawn_app().await;
    // Both alerts wait in the queue, so the bot receives them in one batch.
    app.send(&queued(&create_user())).await;
    app.send(&queued(&own_fixture("records/DeleteUser-IAMUser.json")))
        .await;
    app.discord.set_persistent_fault(Some(502));
    app.start_bot_ready().await;
    // Fail for longer than the 2 s visibility timeout the bot receives with.
    app.discord
        .wait_until("Discord failing for 3 s", LIMIT, |d| {
            d.attempts()
                .first()
                .is_some_and(|a| a.0.elapsed() > Duration::from_secs(3))
        })
        .await;
    // Another consumer (this test) finds nothing to take: the waiting message is still hidden.
    let peek = app
        .sqs
        .receive_message()
        .queue_url(&app.queue_url)
        .max_number_of_messages(10)
        .visibility_timeout(0)
        .send()
        .await
        .unwrap();
    assert!(
        peek.messages.unwrap_or_default().is_empty(),
        "a batched message became visible during the outage"
    );
    app.discord.set_persistent_fault(None);
    app.discord
        .wait_until_or_log(
            "both alerts",
            LIMIT,
            |d| d.messages().len() == 2,
            || app.bot_log(),
        )
        .await;
    app.wait_for_depth(&app.queue_url, 0, 0, LIMIT).await;
    assert_eq!(app.discord.messages().len(), 2);
    let (_, metrics) = app.http_get("/metrics").await;
    assert!(
        metrics.contains("iam_alarm_messages_received_total 2"),
        "a message of the batch came back while Discord was down:\n{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_suppress_rule_deletes_its_events_and_counts_them_while_others_alert() {
    let mut app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.toml");
    std::fs::write(
        &rules,
        "[[rule]]\nname = \"ci creates users\"\nreason = \"reviewed in pull requests\"\naction = \"suppress\"\n\
         [rule.match]\nevent = \"CreateUser\"\nactor_arn = \"arn:aws:sts::*:assumed-role/ci-deployer/*\"\n",
    )
    .unwrap();
    app.extra_env
        .push(("ALERT_RULES".into(), rules.to_string_lossy().into_owned()));
    app.start_bot_ready().await;
    app.send(&queued(&create_user())).await;
    app.send(&queued(&own_fixture("records/DeleteUser-IAMUser.json")))
        .await;
    one_message_and_empty_queue(&app).await;
    let posted = app.discord.messages()[0].body.to_string();
    assert!(posted.contains("deleted"), "the DeleteUser alert: {posted}");
    let (_, metrics) = app.http_get("/metrics").await;
    assert!(
        metrics.contains("iam_alarm_suppressed_total{rule=\"ci creates users\"} 1"),
        "{metrics}"
    );
    assert!(app.bot_log().contains("suppressed by a rule"));
}
