//! Every account of an Organization, live on moto in several accounts (moto keys resources by the account of
//! the credentials, and an assumed role's credentials belong to the role's account): the bot reads another
//! account through the reader role, names accounts, and answers clearly when the role is refused.

use aws_credential_types::Credentials;
use serde_json::{json, Value};

use iam_alarm_testkit::aws_stub::AwsStub;
use iam_alarm_testkit::helpers::{moto, sdk_config, spawn_app, TestApp};
use iam_alarm_testkit::interactions::{
    autocomplete, button, command, member, post_record, press, replies, ALICE, LIMIT, MANAGE_GUILD,
};
use iam_alarm_testkit::support::own_fixture;

const READER: &str = "iam-alarm-reader";

/// An IAM client acting in `account` (through an assumed role, as moto keys IAM by the caller's account).
async fn iam_in(account: &str) -> aws_sdk_iam::Client {
    iam_in_on(&moto().url, account).await
}

/// An IAM client acting in `account` on the moto at `url`.
pub(crate) async fn iam_in_on(url: &str, account: &str) -> aws_sdk_iam::Client {
    aws_sdk_iam::Client::new(&config_in_on(url, account).await)
}

/// SDK configuration acting in `account` on moto.
async fn config_in(account: &str) -> aws_config::SdkConfig {
    config_in_on(&moto().url, account).await
}

async fn config_in_on(url: &str, account: &str) -> aws_config::SdkConfig {
    let config = sdk_config(url).await;
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

/// The central bus the members forward to, in the bot's own account (moto's default), as Terraform makes it:
/// open to the Organization's principals.
const CENTRAL_BUS: &str = "arn:aws:events:us-east-1:123456789012:event-bus/iam-alarm";
const ORGANIZATION: &str = "o-testorg1234";

/// The central bus with its policy, once for every test (they share moto).
async fn central_bus() {
    static MADE: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
    MADE.get_or_init(|| async {
        let events = aws_sdk_eventbridge::Client::new(&sdk_config(&moto().url).await);
        events
            .create_event_bus()
            .name("iam-alarm")
            .send()
            .await
            .unwrap();
        admit_the_organization(&events).await;
    })
    .await;
}

async fn admit_the_organization(events: &aws_sdk_eventbridge::Client) {
    let condition = aws_sdk_eventbridge::types::Condition::builder()
        .r#type("StringEquals")
        .key("aws:PrincipalOrgID")
        .value(ORGANIZATION)
        .build()
        .unwrap();
    events
        .put_permission()
        .event_bus_name("iam-alarm")
        .action("events:PutEvents")
        .principal("*")
        .statement_id("MembersOfTheOrganizationForward")
        .condition(condition)
        .send()
        .await
        .unwrap();
}

/// The member module's side in `account`: the rules `iam-alarm-forward` and `iam-alarm-forward-tamper` sending
/// to the central bus with the role `iam-alarm-forward-events`, which may put events there. Returns that
/// account's EventBridge client.
async fn forwarding_from(account: &str) -> aws_sdk_eventbridge::Client {
    let iam = iam_in(account).await;
    iam.create_role()
        .role_name("iam-alarm-forward-events")
        .assume_role_policy_document(
            json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    may_put_events(&iam).await;
    let events = aws_sdk_eventbridge::Client::new(&config_in(account).await);
    let pattern = iam_alarm_core::WatchedEvents::all().event_pattern();
    for rule in ["iam-alarm-forward", "iam-alarm-forward-tamper"] {
        events
            .put_rule()
            .name(rule)
            .event_pattern(pattern.to_string())
            .send()
            .await
            .unwrap();
        to_the_central_bus(&events, account, rule).await;
    }
    events
}

/// The forward role's policy: PutEvents on the central bus.
async fn may_put_events(iam: &aws_sdk_iam::Client) {
    iam.put_role_policy()
        .role_name("iam-alarm-forward-events")
        .policy_name("put-events-to-the-central-bus")
        .policy_document(
            json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                "Action": "events:PutEvents", "Resource": CENTRAL_BUS}]})
            .to_string(),
        )
        .send()
        .await
        .unwrap();
}

/// Point a member's `rule` at the central bus, with the forward role.
async fn to_the_central_bus(events: &aws_sdk_eventbridge::Client, account: &str, rule: &str) {
    let target = aws_sdk_eventbridge::types::Target::builder()
        .id("central")
        .arn(CENTRAL_BUS)
        .role_arn(format!(
            "arn:aws:iam::{account}:role/iam-alarm-forward-events"
        ))
        .build()
        .unwrap();
    events
        .put_targets()
        .rule(rule)
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
    // The member's CloudTrail shows which responder looked, as session name and source identity.
    assert_eq!(stub.session_names(), [format!("iam-alarm-{ALICE}")]);
    assert_eq!(
        stub.source_identities(),
        [Some(format!("iam-alarm-{ALICE}"))]
    );
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
async fn a_reader_role_that_refuses_a_source_identity_is_read_all_the_same() {
    // Deployed before its trust policy allowed sts:SetSourceIdentity.
    let (mut app, stub) = app_reading_members("444455556666=old").await;
    stub.refuse_source_identity_in("444455556666");
    app.start_bot_ready().await;
    let alert = post_record(&app, &record_from("444455556666")).await;
    let activity = button(&alert, 1)["custom_id"].as_str().unwrap().to_owned();
    let i = press(&app, &activity, &alert, member(ALICE, &[], MANAGE_GUILD));
    let r = replies(&app, &i, 2).await;
    let title = text_of(&r[1].message()["embeds"][0]["title"]);
    assert!(
        title.contains("Recent activity in old (444455556666)"),
        "{title}"
    );
    assert_eq!(stub.source_identities(), [None]);
    assert_eq!(
        stub.session_names(),
        [format!("iam-alarm-{ALICE}"), format!("iam-alarm-{ALICE}")]
    );
    assert!(app
        .bot_log()
        .contains("the role does not allow sts:SetSourceIdentity"));
}

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
    central_bus().await;
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
    to_the_central_bus(&events, "666677778888", "iam-alarm-forward").await;
    wait_for_news(&app, "the forwarder's target back", &back).await;

    // The forward role may no longer put events: the rules look whole, and nothing arrives.
    let iam = iam_in("666677778888").await;
    iam.delete_role_policy()
        .role_name("iam-alarm-forward-events")
        .policy_name("put-events-to-the-central-bus")
        .send()
        .await
        .unwrap();
    let muted = [
        "Alert pipeline degraded",
        "qa (666677778888): the role iam-alarm-forward-events the forwarding rules send with may no longer put events on the central bus",
    ];
    wait_for_news(&app, "the forward role's policy gone", &muted).await;
    may_put_events(&iam).await;
    wait_for_news(&app, "the forward role's policy back", &back).await;

    // The member's tamper rule disabled: changes to its forwarding would go unseen.
    events
        .disable_rule()
        .name("iam-alarm-forward-tamper")
        .send()
        .await
        .unwrap();
    let blindfolded = [
        "Alert pipeline degraded",
        "qa (666677778888): forwarding rule iam-alarm-forward-tamper is disabled",
    ];
    wait_for_news(&app, "the member's tamper rule off", &blindfolded).await;

    // The central bus's permission removed: every member's events would be refused (put back at once: the bus
    // is shared with the other tests).
    let central = aws_sdk_eventbridge::Client::new(&sdk_config(&moto().url).await);
    central
        .remove_permission()
        .event_bus_name("iam-alarm")
        .statement_id("MembersOfTheOrganizationForward")
        .send()
        .await
        .unwrap();
    let closed = [
        "Alert pipeline degraded",
        "the central event bus iam-alarm no longer admits the Organization",
    ];
    wait_for_news(&app, "the central bus closed", &closed).await;
    admit_the_organization(&central).await;
    let open = [
        "Alert pipeline recovered",
        "the central event bus iam-alarm admits the Organization",
    ];
    wait_for_news(&app, "the central bus open again", &open).await;
}

/// Waits for a message, after those posted so far, with all of `words`.
async fn wait_for_news(app: &TestApp, what: &str, words: &[&str]) {
    let before = app.discord.messages().len();
    app.discord
        .wait_until_or_log(
            what,
            LIMIT,
            |_| {
                app.discord.messages().iter().skip(before).any(|m| {
                    let text = text_of(&m.body["content"]);
                    words.iter().all(|w| text.contains(w))
                })
            },
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
    let mut others = Vec::new();
    for name in ["sandbox", "legacy"] {
        let created = org
            .create_account()
            .account_name(name)
            .email(format!("{name}@example.com"))
            .send()
            .await
            .unwrap();
        others.push(created.create_account_status.unwrap().account_id.unwrap());
    }

    let mut app = spawn_app().await;
    app.extra_env.extend([
        ("ORGANIZATION_LOOKUP".into(), "true".into()),
        ("ORGANIZATION_LOOKUP_INTERVAL_S".into(), "10".into()),
        ("WATCHDOG_INTERVAL_S".into(), "2".into()),
    ]);
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

    // One account suspended, one taken out of the Organization: each said once, not silently dropped.
    org.close_account()
        .account_id(&others[0])
        .send()
        .await
        .unwrap();
    org.remove_account_from_organization()
        .account_id(&others[1])
        .send()
        .await
        .unwrap();
    let suspended = format!("sandbox ({}) was suspended: no longer watched", others[0]);
    let left = format!(
        "legacy ({}) left the Organization: no longer watched",
        others[1]
    );
    app.discord
        .wait_until_or_log(
            "the departures announced",
            std::time::Duration::from_secs(60),
            |_| {
                let all: String = app
                    .discord
                    .messages()
                    .iter()
                    .map(|m| text_of(&m.body["content"]))
                    .collect();
                all.contains(&suspended) && all.contains(&left)
            },
            || app.bot_log(),
        )
        .await;
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
    central_bus().await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_account_option_completes_among_a_thousand_names() {
    let mut names: Vec<String> = (0..1000u64)
        .map(|n| format!("{:012}=member-{n}", 800_000_000_000 + n))
        .collect();
    // Organizations allows names of 50 characters; ACCOUNT_NAMES any length.
    names.push(format!("899999999999={}", "long".repeat(40)));
    let mut app = spawn_app().await;
    app.extra_env
        .push(("ACCOUNT_NAMES".to_owned(), names.join(",")));
    app.start_bot_ready().await;
    let choices = |partial: &str| {
        let i = autocomplete(
            &app,
            "iam-users",
            "account",
            partial,
            member(ALICE, &[], MANAGE_GUILD),
        );
        let app = &app;
        async move {
            // Answered within Discord's deadline and limits (the fake refuses more than 25 choices or long names).
            let r = replies(app, &i, 1).await;
            assert_eq!(r[0].callback_type(), Some(8), "{:?}", r[0].body);
            r[0].body["data"]["choices"].as_array().unwrap().clone()
        }
    };
    let all = choices("").await;
    assert_eq!(all.len(), 25);
    let some = choices("member-99").await;
    let named: Vec<&str> = some.iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(
        named.len(),
        11,
        "member-99 and member-990 … member-999: {named:?}"
    );
    assert!(named.iter().all(|n| n.contains("member-99")), "{named:?}");
    let by_id = choices("800000000500").await;
    assert_eq!(by_id[0]["value"], "800000000500");
    let long = choices("longlong").await;
    assert!(long[0]["name"].as_str().unwrap().chars().count() <= 100);
    assert_eq!(long[0]["value"], "899999999999");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_organization_that_cannot_be_listed_is_said_once() {
    // Departures cannot be seen while ListAccounts fails: the watchdog says it cannot look.
    let mut app = spawn_app().await;
    app.healthy_pipeline().await;
    let closed = format!(
        "http://127.0.0.1:{}",
        iam_alarm_testkit::helpers::free_port()
    );
    app.extra_env.extend([
        ("ORGANIZATION_LOOKUP".to_owned(), "true".to_owned()),
        ("AWS_ENDPOINT_URL_ORGANIZATIONS".to_owned(), closed),
        ("WATCHDOG_INTERVAL_S".to_owned(), "1".to_owned()),
        ("WATCHDOG_BLIND_AFTER".to_owned(), "2".to_owned()),
    ]);
    app.start_bot_ready().await;
    let blind = |app: &TestApp| {
        app.discord
            .messages()
            .iter()
            .filter(|m| {
                let text = text_of(&m.body["content"]);
                text.contains("Watchdog blind")
                    && text.contains("cannot list the Organization's accounts")
            })
            .count()
    };
    app.discord
        .wait_until_or_log(
            "the blind watchdog",
            LIMIT,
            |_| blind(&app) > 0,
            || app.bot_log(),
        )
        .await;
    assert_eq!(blind(&app), 1, "said once");
}
