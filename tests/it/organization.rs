//! Every account of an Organization, live on moto in several accounts (moto keys resources by the account of
//! the credentials, and an assumed role's credentials belong to the role's account): the bot reads another
//! account through the reader role, names accounts, and answers clearly when the role is refused.

use aws_credential_types::Credentials;
use serde_json::{json, Value};

use iam_alarm_testkit::aws_stub::AwsStub;
use iam_alarm_testkit::helpers::{moto, sdk_config, spawn_app, TestApp};
use iam_alarm_testkit::interactions::{
    button, command, member, post_record, press, replies, ALICE, LIMIT, MANAGE_GUILD,
};
use iam_alarm_testkit::support::own_fixture;

const READER: &str = "iam-alarm-reader";

/// An IAM client acting in `account` (through an assumed role, as moto keys IAM by the caller's account).
async fn iam_in(account: &str) -> aws_sdk_iam::Client {
    aws_sdk_iam::Client::new(&config_in(account).await)
}

/// SDK configuration acting in `account` on moto.
async fn config_in(account: &str) -> aws_config::SdkConfig {
    let config = sdk_config(&moto().url).await;
    let sts = aws_sdk_sts::Client::new(&config);
    let c = sts
        .assume_role()
        .role_arn(format!("arn:aws:iam::{account}:role/test-setup"))
        .role_session_name("setup")
        .send()
        .await
        .unwrap()
        .credentials
        .unwrap();
    let creds = Credentials::new(
        c.access_key_id(),
        c.secret_access_key(),
        Some(c.session_token().to_owned()),
        None,
        "test",
    );
    config
        .to_builder()
        .credentials_provider(aws_credential_types::provider::SharedCredentialsProvider::new(creds))
        .build()
}

/// The bot with a reader role, STS and CloudTrail through the stub (which forwards the rest to moto).
async fn app_reading_members(names: &str) -> (TestApp, AwsStub) {
    let mut app = spawn_app().await;
    let stub = AwsStub::start(&moto().url).await;
    for (k, v) in [
        ("AWS_ENDPOINT_URL_STS", stub.url.as_str()),
        ("AWS_ENDPOINT_URL_CLOUDTRAIL", stub.url.as_str()),
        ("READER_ROLE_NAME", READER),
        ("READER_EXTERNAL_ID", "iam-alarm-test-external-id"),
        ("ACCOUNT_NAMES", names),
    ] {
        app.extra_env.push((k.to_owned(), v.to_owned()));
    }
    (app, stub)
}

/// A CreateUser recorded in `account`.
fn record_from(account: &str) -> String {
    let mut record: Value =
        serde_json::from_str(&own_fixture("records/CreateUser-AssumedRole-session.json")).unwrap();
    record["recipientAccountId"] = json!(account);
    record.to_string()
}

/// The member module's forwarder in `account`: the rule `iam-alarm-forward` to the central bus. Returns that
/// account's EventBridge client.
async fn forwarding_from(account: &str) -> aws_sdk_eventbridge::Client {
    let events = aws_sdk_eventbridge::Client::new(&config_in(account).await);
    let pattern = iam_alarm_core::WatchedEvents::all().event_pattern();
    events
        .put_rule()
        .name("iam-alarm-forward")
        .event_pattern(pattern.to_string())
        .send()
        .await
        .unwrap();
    to_the_central_bus(&events).await;
    events
}

/// Point a member's `iam-alarm-forward` rule at the central bus (in the bot's own account, moto's default).
async fn to_the_central_bus(events: &aws_sdk_eventbridge::Client) {
    let target = aws_sdk_eventbridge::types::Target::builder()
        .id("central")
        .arn("arn:aws:events:us-east-1:123456789012:event-bus/iam-alarm")
        .build()
        .unwrap();
    events
        .put_targets()
        .rule("iam-alarm-forward")
        .targets(target)
        .send()
        .await
        .unwrap();
}

/// The text as Discord shows it: Markdown escapes dropped.
fn text_of(reply: &Value) -> String {
    reply.to_string().replace('\\', "")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn iam_users_of_a_member_account_lists_that_account_s_users_only() {
    let member_account = "444455556666";
    iam_in(member_account)
        .await
        .create_user()
        .user_name("staging-only")
        .send()
        .await
        .unwrap();
    let central = aws_sdk_iam::Client::new(&sdk_config(&moto().url).await);
    central
        .create_user()
        .user_name("central-only")
        .send()
        .await
        .unwrap();

    let (mut app, stub) = app_reading_members("444455556666=staging").await;
    app.start_bot_ready().await;
    let options = json!([{"name": "account", "type": 3, "value": "staging"}]);
    let i = command(&app, "iam-users", options, member(ALICE, &[], MANAGE_GUILD));
    let r = replies(&app, &i, 2).await;
    let reply = r[1].message();
    assert!(r[1].ephemeral());
    let title = text_of(&reply["embeds"][0]["title"]);
    assert_eq!(title, "\"IAM users in staging (444455556666): 1 of 1\"");
    let shown = text_of(&reply["embeds"][0]["fields"]);
    assert!(shown.contains("staging-only"), "{shown}");
    assert!(!shown.contains("central-only"), "{shown}");
    // The bot assumed the reader role in that account, with the external id.
    assert!(stub
        .issued_roles()
        .iter()
        .any(|r| r == &format!("arn:aws:iam::{member_account}:role/{READER}")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recent_activity_on_an_alert_from_a_member_account_queries_that_account() {
    let (mut app, stub) = app_reading_members("555566667777=prod-eu").await;
    app.start_bot_ready().await;
    let alert = post_record(&app, &record_from("555566667777")).await;
    let fields = text_of(&alert.body["embeds"][0]["fields"]);
    assert!(fields.contains("prod-eu (`555566667777`)"), "{fields}");

    let activity = button(&alert, 1)["custom_id"].as_str().unwrap().to_owned();
    let i = press(&app, &activity, &alert, member(ALICE, &[], MANAGE_GUILD));
    let r = replies(&app, &i, 2).await;
    let title = text_of(&r[1].message()["embeds"][0]["title"]);
    assert!(
        title.contains("Recent activity in prod-eu (555566667777)"),
        "{title}"
    );
    // The member's CloudTrail shows which responder looked.
    assert_eq!(stub.session_names(), [format!("iam-alarm-{ALICE}")]);
    let keys = stub.lookup_keys();
    assert!(!keys.is_empty(), "CloudTrail was asked");
    for key in keys {
        assert_eq!(
            stub.role_of_key(&key).as_deref(),
            Some(format!("arn:aws:iam::555566667777:role/{READER}").as_str()),
            "LookupEvents signed by the member account's reader session, not the bot's own ({key})"
        );
    }
}

/// An account name that reads like another account's id cannot steer Recent activity, and a button naming an
/// account the bot does not know reads nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recent_activity_reads_the_account_the_button_carries_and_only_a_known_one() {
    let (mut app, stub) =
        app_reading_members("555566667777=prod (111122223333),111122223333=decoy").await;
    app.start_bot_ready().await;
    let alert = post_record(&app, &record_from("555566667777")).await;
    let activity = button(&alert, 1)["custom_id"].as_str().unwrap().to_owned();
    assert!(activity.contains(":555566667777:"), "{activity}");
    let i = press(&app, &activity, &alert, member(ALICE, &[], MANAGE_GUILD));
    replies(&app, &i, 2).await;
    let keys = stub.lookup_keys();
    assert!(!keys.is_empty(), "CloudTrail was asked");
    for key in &keys {
        assert_eq!(
            stub.role_of_key(key).as_deref(),
            Some(format!("arn:aws:iam::555566667777:role/{READER}").as_str()),
            "read in the event's account, whatever its name says"
        );
    }

    let unknown = activity.replace("555566667777", "999988887777");
    let i = press(&app, &unknown, &alert, member(ALICE, &[], MANAGE_GUILD));
    let r = replies(&app, &i, 2).await;
    let text = text_of(r[1].message());
    assert!(text.contains("not one this bot watches"), "{text}");
    assert_eq!(
        stub.lookup_keys().len(),
        keys.len(),
        "nothing more was read"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_reader_role_gets_a_clear_private_answer() {
    let (mut app, stub) = app_reading_members("777788889999=sandbox").await;
    stub.deny_assume_in("777788889999");
    app.start_bot_ready().await;
    for name in ["iam-users", "recent-changes"] {
        let options = json!([{"name": "account", "type": 3, "value": "777788889999"}]);
        let i = command(&app, name, options, member(ALICE, &[], MANAGE_GUILD));
        let r = replies(&app, &i, 2).await;
        assert!(r[1].ephemeral());
        let embed = &r[1].message()["embeds"][0];
        assert_eq!(embed["title"], "Cannot read that account", "{name}");
        let why = text_of(&embed["description"]);
        assert!(
            why.contains("sandbox (777788889999)") && why.contains("refused (AccessDenied)"),
            "{name}: {why}"
        );
        assert!(why.contains("member module"), "says what to do: {why}");
    }
    // An unknown name is answered too, naming the known accounts.
    let options = json!([{"name": "account", "type": 3, "value": "nope"}]);
    let i = command(&app, "iam-users", options, member(ALICE, &[], MANAGE_GUILD));
    let r = replies(&app, &i, 2).await;
    let text = r[1].message()["content"].as_str().unwrap().to_owned();
    assert!(
        text.contains("Unknown account") && text.contains("sandbox"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_without_its_forwarding_rule_is_degraded_until_it_has_one() {
    let (mut app, _stub) = app_reading_members("666677778888=qa").await;
    app.healthy_pipeline().await;
    app.extra_env
        .push(("WATCHDOG_INTERVAL_S".to_owned(), "2".to_owned()));
    app.start_bot_ready().await;
    let said = |app: &TestApp, words: &[&str]| {
        app.discord.messages().iter().any(|m| {
            let text = text_of(&m.body["content"]);
            words.iter().all(|w| text.contains(w))
        })
    };
    let missing = [
        "Alert pipeline degraded",
        "qa (666677778888): forwarding rule iam-alarm-forward not found",
    ];
    app.discord
        .wait_until_or_log(
            "the missing forwarder announced",
            LIMIT,
            |_| said(&app, &missing),
            || app.bot_log(),
        )
        .await;

    // /health lists the member and its forwarder.
    let i = command(&app, "health", json!([]), member(ALICE, &[], MANAGE_GUILD));
    let r = replies(&app, &i, 2).await;
    let health = text_of(&r[1].message()["embeds"][0]["description"]);
    assert!(
        health.contains("❌ qa (666677778888): forwarding rule iam-alarm-forward not found"),
        "{health}"
    );

    let events = forwarding_from("666677778888").await;
    let back = [
        "Alert pipeline recovered",
        "qa (666677778888): forwarding rule iam-alarm-forward is enabled and forwards to the central bus",
    ];
    app.discord
        .wait_until_or_log(
            "the forwarder recovered",
            LIMIT,
            |_| said(&app, &back),
            || app.bot_log(),
        )
        .await;

    // Its target removed: the rule is enabled, and forwards nothing.
    events
        .remove_targets()
        .rule("iam-alarm-forward")
        .ids("central")
        .send()
        .await
        .unwrap();
    let cut = [
        "Alert pipeline degraded",
        "qa (666677778888): forwarding rule iam-alarm-forward no longer forwards to the central bus",
    ];
    app.discord
        .wait_until_or_log(
            "the cut-off forwarder announced",
            LIMIT,
            |_| said(&app, &cut),
            || app.bot_log(),
        )
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn organization_lookup_names_the_accounts_of_alerts() {
    // The bot's own account (moto's default) is the Organization's management account; no other test uses one.
    let org = aws_sdk_organizations::Client::new(&sdk_config(&moto().url).await);
    org.create_organization().send().await.unwrap();
    let created = org
        .create_account()
        .account_name("finance")
        .email("finance@example.com")
        .send()
        .await
        .unwrap();
    let id = created.create_account_status.unwrap().account_id.unwrap();

    let mut app = spawn_app().await;
    app.extra_env
        .push(("ORGANIZATION_LOOKUP".into(), "true".into()));
    app.start_bot_ready().await;
    app.discord
        .wait_until_or_log(
            "names looked up",
            LIMIT,
            |_| app.bot_log().contains("account names from Organizations"),
            || app.bot_log(),
        )
        .await;
    let alert = post_record(&app, &record_from(&id)).await;
    let fields = text_of(&alert.body["embeds"][0]["fields"]);
    assert!(fields.contains(&format!("finance (`{id}`)")), "{fields}");
    // Without a reader role, /health names the members it knows and says their forwarding is not checked.
    let i = command(&app, "health", json!([]), member(ALICE, &[], MANAGE_GUILD));
    let r = replies(&app, &i, 2).await;
    let health = text_of(&r[1].message()["embeds"][0]["description"]);
    assert!(
        health.contains(&format!("finance ({id})")) && health.contains("not checked"),
        "{health}"
    );
}

/// An Organization of hundreds of accounts: one watchdog look reads them all in seconds, and `/health` says how
/// many forward, naming only the ones that don't, within Discord's limits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_hundred_members_are_looked_at_in_seconds_and_health_names_only_the_broken() {
    use futures_util::StreamExt;
    let ids: Vec<String> = (0..300u64)
        .map(|n| format!("{:012}", 700_000_000_000 + n))
        .collect();
    let names: Vec<String> = ids
        .iter()
        .enumerate()
        .map(|(n, id)| format!("{id}=member-{n}"))
        .collect();
    let (mut app, _stub) = app_reading_members(&names.join(",")).await;
    app.healthy_pipeline().await;
    // Every member forwards to the central bus, but the first two.
    futures_util::stream::iter(&ids[2..])
        .map(|id| forwarding_from(id))
        .buffer_unordered(8)
        .collect::<Vec<_>>()
        .await;
    app.extra_env
        .push(("WATCHDOG_INTERVAL_S".to_owned(), "600".to_owned()));
    app.start_bot_ready().await;

    let deadline = tokio::time::Instant::now() + LIMIT;
    let took = loop {
        let (_, metrics) = app.http_get("/metrics").await;
        let took: f64 = metrics
            .lines()
            .find_map(|l| l.strip_prefix("iam_alarm_watchdog_look_seconds "))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0.0);
        if took > 0.0 {
            break took;
        }
        assert!(tokio::time::Instant::now() < deadline, "{}", app.bot_log());
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    assert!(took < 15.0, "one look at 300 members took {took:.1} s");

    let i = command(&app, "health", json!([]), member(ALICE, &[], MANAGE_GUILD));
    let r = replies(&app, &i, 2).await;
    let health = text_of(&r[1].message()["embeds"][0]["description"]);
    assert!(
        health.contains("298 of 300 member accounts forwarding; 2 with problems:"),
        "{health}"
    );
    for broken in &ids[..2] {
        assert!(health.contains(broken.as_str()), "{broken} named: {health}");
    }
    assert!(
        !health.contains(ids[150].as_str()),
        "only the broken are named"
    );
    eprintln!("one watchdog look at 300 members: {took:.2} s");
}
