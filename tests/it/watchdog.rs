//! The watchdog, live on moto: a whole pipeline (trail, both rules, topic, the queue's subscription) of each
//! test's own; switching a part off posts one "degraded" alert naming it, switching it on one "recovered"; a
//! restart does not repeat what is open. Heartbeats: deleted silently and counted; silence announced once.

use std::time::Duration;

use serde_json::json;

use iam_alarm_testkit::fake_discord::Posted;
use iam_alarm_testkit::helpers::{free_port, moto, sdk_config, spawn_app, TestApp};
use iam_alarm_testkit::interactions::LIMIT;
use iam_alarm_testkit::support::{eventbridge, repo_root, sns};

/// Seconds between the watchdog's looks in these tests.
const INTERVAL_S: u64 = 2;

fn watchdog_messages(app: &TestApp) -> Vec<Posted> {
    let is_watchdog = |m: &Posted| {
        m.body["embeds"][0]["footer"]["text"]
            .as_str()
            .is_some_and(|f| f.starts_with(iam_alarm_core::watchdog::FOOTER_PREFIX))
    };
    app.discord
        .messages()
        .into_iter()
        .filter(is_watchdog)
        .collect()
}

/// Watchdog messages whose content holds every one of `words`.
fn saying(app: &TestApp, words: &[&str]) -> Vec<Posted> {
    watchdog_messages(app)
        .into_iter()
        .filter(|m| {
            let content = m.body["content"].as_str().unwrap_or_default();
            words.iter().all(|w| content.contains(w))
        })
        .collect()
}

async fn wait_for(app: &TestApp, what: &str, words: &[&str]) {
    app.discord
        .wait_until_or_log(
            what,
            LIMIT,
            |_| !saying(app, words).is_empty(),
            || {
                let posted: Vec<_> = app
                    .discord
                    .messages()
                    .iter()
                    .map(|m| m.body.to_string())
                    .collect();
                format!("posted: {posted:#?}\n{}", app.bot_log())
            },
        )
        .await;
}

/// A gauge of the running bot, from `/metrics`.
async fn gauge(app: &TestApp, name: &str) -> i64 {
    let (_, text) = app.http_get("/metrics").await;
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// Wait until the watchdog has looked twice more: whatever it was going to post about the present state, it
/// has posted.
async fn two_more_looks(app: &TestApp) {
    let name = "iam_alarm_watchdog_last_run_timestamp_seconds";
    let start = gauge(app, name).await;
    let deadline = tokio::time::Instant::now() + LIMIT;
    while gauge(app, name).await < start.max(1) + 2 * INTERVAL_S as i64 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the watchdog stopped looking\n{}",
            app.bot_log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rule_switched_off_and_a_trail_stopped_are_announced_once_and_their_recovery_once() {
    let mut app = spawn_app().await;
    let p = app.healthy_pipeline().await;
    app.extra_env
        .push(("WATCHDOG_INTERVAL_S".to_owned(), INTERVAL_S.to_string()));
    app.start_bot_ready().await;
    two_more_looks(&app).await;
    assert!(
        watchdog_messages(&app).is_empty(),
        "a healthy pipeline is quiet: {:?}\n{}",
        watchdog_messages(&app)
            .iter()
            .map(|m| &m.body["content"])
            .collect::<Vec<_>>(),
        app.bot_log()
    );

    app.events("DisableRule", json!({"Name": p.rule})).await;
    let degraded = [
        "Alert pipeline degraded",
        "EventBridge rule disabled",
        &p.rule,
    ];
    wait_for(&app, "the rule announced as disabled", &degraded).await;
    two_more_looks(&app).await;
    assert_eq!(saying(&app, &degraded).len(), 1, "once, not every interval");
    let alert = &saying(&app, &degraded)[0].body;
    assert!(alert["content"].as_str().unwrap().contains("`critical`"));
    assert!(alert["content"]
        .as_str()
        .unwrap()
        .contains("aws events enable-rule"));

    app.events("EnableRule", json!({"Name": p.rule})).await;
    let recovered = ["Alert pipeline recovered", &p.rule];
    wait_for(&app, "the rule announced as recovered", &recovered).await;
    two_more_looks(&app).await;
    assert_eq!(saying(&app, &recovered).len(), 1);

    let config = sdk_config(&moto().url).await;
    let cloudtrail = aws_sdk_cloudtrail::Client::new(&config);
    cloudtrail
        .stop_logging()
        .name(&p.trail)
        .send()
        .await
        .unwrap();
    let stopped = [
        "Alert pipeline degraded",
        "CloudTrail logging stopped",
        &p.trail,
    ];
    wait_for(&app, "the trail announced as stopped", &stopped).await;

    // A restart while degraded: the new process reads the channel back and does not post it again…
    app.kill_bot();
    app.start_bot_ready().await;
    two_more_looks(&app).await;
    assert_eq!(saying(&app, &stopped).len(), 1, "{}", app.bot_log());
    // …but a new problem is new.
    app.events("DisableRule", json!({"Name": p.rule})).await;
    wait_for(&app, "a new problem after the restart", &degraded).await;
    two_more_looks(&app).await;
    assert_eq!(saying(&app, &degraded).len(), 2);
    assert_eq!(saying(&app, &stopped).len(), 1);

    // Alerts waiting in the dead-letter queue: a warning that says how many and how to replay them.
    app.send_to(&app.dlq_url, "{}").await;
    let waiting = [
        "Alert pipeline warning",
        "1 alert waits in the dead-letter queue",
        "iam-alarm dlq replay",
    ];
    wait_for(&app, "the dead-letter queue announced", &waiting).await;
    assert!(saying(&app, &waiting)[0].body["content"]
        .as_str()
        .unwrap()
        .contains("`medium`"));
    let only_ours = |m: &Posted| m.body["allowed_mentions"]["parse"] == json!([]);
    assert!(watchdog_messages(&app).iter().all(only_ours));
}

/// Wait until the watchdog has gone on looking for five more seconds (it announces nothing new meanwhile).
async fn let_five_seconds_of_looks_pass(app: &TestApp) {
    let name = "iam_alarm_watchdog_last_run_timestamp_seconds";
    let seen = gauge(app, name).await;
    let deadline = tokio::time::Instant::now() + LIMIT;
    while gauge(app, name).await < seen + 5 {
        assert!(tokio::time::Instant::now() < deadline, "{}", app.bot_log());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// An EventBridge scheduled event from the heartbeat rule, through SNS.
fn heartbeat() -> String {
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    sns(&json!({
        "version": "0", "id": "5b0c3bcd-0d1d-4a34-9f1e-3a5a1c9a8d34",
        "detail-type": "Scheduled Event", "source": "aws.events",
        "account": "123456789012", "time": now, "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/iam-alarm-heartbeat"],
        "detail": {}
    })
    .to_string())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_heartbeat_posts_nothing_and_sets_the_metric() {
    let mut app = spawn_app().await;
    app.start_bot_ready().await;
    app.send(&heartbeat()).await;
    let deadline = tokio::time::Instant::now() + LIMIT;
    while gauge(&app, "iam_alarm_last_heartbeat_timestamp_seconds").await == 0 {
        assert!(tokio::time::Instant::now() < deadline, "{}", app.bot_log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    app.wait_for_depth(&app.queue_url, 0, 0, LIMIT).await;
    assert_eq!(app.depth(&app.dlq_url).await, (0, 0));
    assert!(
        app.discord.messages().is_empty(),
        "a heartbeat is not an alert"
    );
    let stamp = gauge(&app, "iam_alarm_last_heartbeat_timestamp_seconds").await;
    assert!((chrono::Utc::now().timestamp() - stamp).abs() < 60);
}

#[tokio::test(flavor = "multi_thread")]
async fn silence_is_announced_once_and_the_next_heartbeat_ends_it() {
    let mut app = spawn_app().await;
    app.extra_env
        .push(("HEARTBEAT_MAX_AGE_S".to_owned(), "8".to_owned()));
    app.start_bot_ready().await;
    let silent = [
        "Alert pipeline silent",
        "nothing has come through EventBridge → SNS → SQS",
    ];
    wait_for(&app, "silence announced", &silent).await;
    // The heartbeat is looked at every 2 s (a quarter of 8): wait for more looks.
    let_five_seconds_of_looks_pass(&app).await;
    assert_eq!(saying(&app, &silent).len(), 1, "once, not every look");
    assert!(saying(&app, &silent)[0].body["content"]
        .as_str()
        .unwrap()
        .contains("`critical`"));

    app.send(&heartbeat()).await;
    let recovered = ["Alert pipeline recovered", "heartbeats arrive again"];
    wait_for(&app, "recovery announced", &recovered).await;
    assert_eq!(saying(&app, &silent).len(), 1);
    assert_eq!(saying(&app, &recovered).len(), 1);
    assert_eq!(app.discord.messages().len(), 2, "nothing else was posted");
}

/// The canary's own call, made now: `TagUser` of the canary user by a session of the canary role.
fn canary() -> String {
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let record = json!({
        "eventVersion": "1.09", "eventSource": "iam.amazonaws.com", "eventName": "TagUser",
        "eventID": format!("canary-{now}"), "eventTime": now, "awsRegion": "us-east-1",
        "recipientAccountId": "123456789012", "sourceIPAddress": "scheduler.amazonaws.com",
        "userIdentity": {"type": "AssumedRole", "accountId": "123456789012",
            "arn": "arn:aws:sts::123456789012:assumed-role/iam-alarm-canary/9f3c2d1e",
            "sessionContext": {"sessionIssuer": {"type": "Role", "userName": "iam-alarm-canary"}}},
        "requestParameters": {"userName": "iam-alarm-canary",
            "tags": [{"key": "iam-alarm-canary", "value": now}]}
    });
    sns(&eventbridge(&record.to_string(), true))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_canary_posts_nothing_and_measures_detection() {
    let mut app = spawn_app().await;
    app.start_bot_ready().await;
    app.send(&canary()).await;
    let deadline = tokio::time::Instant::now() + LIMIT;
    while gauge(&app, "iam_alarm_last_canary_timestamp_seconds").await == 0 {
        assert!(tokio::time::Instant::now() < deadline, "{}", app.bot_log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    app.wait_for_depth(&app.queue_url, 0, 0, LIMIT).await;
    assert!(
        app.discord.messages().is_empty(),
        "the canary is not an alert"
    );
    let stamp = gauge(&app, "iam_alarm_last_canary_timestamp_seconds").await;
    assert!((chrono::Utc::now().timestamp() - stamp).abs() < 60);
    let (_, metrics) = app.http_get("/metrics").await;
    assert!(
        metrics.contains("iam_alarm_detection_latency_seconds_count 1"),
        "{metrics}"
    );
    assert!(metrics.contains("# TYPE iam_alarm_detection_latency_seconds histogram"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn canary_silence_names_the_cloudtrail_hop_while_heartbeats_arrive() {
    let mut app = spawn_app().await;
    app.extra_env = [("CANARY_MAX_AGE_S", "8"), ("HEARTBEAT_MAX_AGE_S", "3600")]
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .to_vec();
    app.start_bot_ready().await;
    app.send(&heartbeat()).await;
    let silent = [
        "Alert pipeline silent",
        "no CloudTrail event has reached the bot",
        "CloudTrail → EventBridge is broken",
        "heartbeats still arrive",
    ];
    wait_for(&app, "the canary's silence announced", &silent).await;
    let_five_seconds_of_looks_pass(&app).await;
    assert_eq!(saying(&app, &silent).len(), 1, "once, not every look");

    app.send(&canary()).await;
    let recovered = [
        "Alert pipeline recovered",
        "the canary reaches the bot again",
    ];
    wait_for(&app, "the canary's return announced", &recovered).await;
    assert_eq!(saying(&app, &silent).len(), 1);
    assert_eq!(saying(&app, &recovered).len(), 1);
    assert_eq!(app.discord.messages().len(), 2, "nothing else was posted");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_watchdog_that_cannot_look_says_so_and_announces_what_changed_once_it_can() {
    let mut app = spawn_app().await;
    let p = app.healthy_pipeline().await;
    // EventBridge unreachable: what a role stripped of events:DescribeRule looks like to the watchdog.
    let closed = format!("http://127.0.0.1:{}", free_port());
    app.extra_env.extend(
        [
            ("WATCHDOG_INTERVAL_S", INTERVAL_S.to_string()),
            ("WATCHDOG_BLIND_AFTER", "3".to_owned()),
            ("AWS_ENDPOINT_URL_EVENTBRIDGE", closed),
        ]
        .map(|(k, v)| (k.to_owned(), v)),
    );
    app.start_bot_ready().await;
    let blind = [
        "Watchdog blind",
        "cannot check the EventBridge rule",
        &p.rule,
    ];
    wait_for(&app, "the watchdog's blindness announced", &blind).await;
    two_more_looks(&app).await;
    assert_eq!(saying(&app, &blind).len(), 1, "once, not every look");
    assert!(saying(&app, &blind)[0].body["content"]
        .as_str()
        .unwrap()
        .contains("`critical`"));
    assert!(
        saying(&app, &["Alert pipeline degraded"]).is_empty(),
        "could not look is not a finding"
    );

    // Meanwhile someone disables the rule; then the bot's access comes back (the bot restarts with it).
    app.events("DisableRule", json!({"Name": p.rule})).await;
    app.kill_bot();
    app.extra_env
        .retain(|(k, _)| k != "AWS_ENDPOINT_URL_EVENTBRIDGE");
    app.start_bot_ready().await;
    let sees = [
        "Alert pipeline recovered",
        "can look at the whole pipeline again",
    ];
    wait_for(&app, "the blindness over", &sees).await;
    let degraded = [
        "Alert pipeline degraded",
        "EventBridge rule disabled",
        &p.rule,
    ];
    wait_for(&app, "what changed while blind", &degraded).await;
    two_more_looks(&app).await;
    assert_eq!(saying(&app, &blind).len(), 1);
    assert_eq!(saying(&app, &sees).len(), 1);
    assert_eq!(saying(&app, &degraded).len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_narrowed_rule_or_a_foreign_target_is_degraded_and_each_recovers_when_put_back() {
    let mut app = spawn_app().await;
    let p = app.healthy_pipeline().await;
    app.extra_env.extend(
        [
            ("WATCHDOG_INTERVAL_S", INTERVAL_S.to_string()),
            ("TOPIC_ARN", p.topic.clone()),
        ]
        .map(|(k, v)| (k.to_owned(), v)),
    );
    app.start_bot_ready().await;
    two_more_looks(&app).await;
    assert!(watchdog_messages(&app).is_empty(), "{}", app.bot_log());

    // PutRule keeps the rule enabled and matching a sample CreateUser, but drops DeleteUser.
    let full = std::fs::read_to_string(repo_root().join("deploy/event-pattern.json")).unwrap();
    let narrowed = full
        .replace(r#", "DeleteUser""#, "")
        .replace(r#","DeleteUser""#, "");
    assert_ne!(full, narrowed);
    let put_rule =
        |pattern: &str| json!({"Name": p.rule, "EventPattern": pattern, "State": "ENABLED"});
    app.events("PutRule", put_rule(&narrowed)).await;
    let narrowed_words = [
        "Alert pipeline degraded",
        "was narrowed",
        "DeleteUser no longer delivered",
    ];
    wait_for(&app, "the narrowed rule announced", &narrowed_words).await;
    app.events("PutRule", put_rule(&full)).await;
    let restored = ["Alert pipeline recovered", "delivers every call it is for"];
    wait_for(&app, "the rule restored", &restored).await;

    // Another topic beside ours.
    let other = format!("{}-exfiltrate", p.topic);
    let targets = json!({"Rule": p.rule, "Targets": [{"Id": "other", "Arn": other}]});
    app.events("PutTargets", targets).await;
    let foreign = ["Alert pipeline degraded", "also sends to", "exfiltrate"];
    wait_for(&app, "the foreign target announced", &foreign).await;
    app.events("RemoveTargets", json!({"Rule": p.rule, "Ids": ["other"]}))
        .await;
    let back = ["Alert pipeline recovered", "targets topic"];
    wait_for(&app, "the foreign target removed", &back).await;
    two_more_looks(&app).await;
    for words in [&narrowed_words[..], &restored, &foreign, &back] {
        assert_eq!(saying(&app, words).len(), 1, "{words:?}");
    }
}
