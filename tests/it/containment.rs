//! Containment from the channel, live on moto through the fake Discord: Quarantine… on a CreateAccessKey alert,
//! a modal with the user's name, a second responder's approval; moto shows the policy attached and the key
//! inactive; Undo reverses exactly that. And every refusal: a wrong name, one's own request, a member without the
//! role, another server, an expired request, containment off.

use serde_json::{json, Value};

use iam_alarm_testkit::aws_stub::AwsStub;
use iam_alarm_testkit::fake_discord::Posted;
use iam_alarm_testkit::helpers::{moto_with_managed_policies, sdk_config, spawn_app, TestApp};
use iam_alarm_testkit::interactions::{
    alert_for, member, press, replies, submit_modal, ALICE, BOB, LIMIT, ROLE,
};
use iam_alarm_testkit::support::own_fixture;

use crate::organization::iam_in_on;

const QUARANTINE: &str = "arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV3";

/// IAM and STS for these tests: the moto that knows AWS managed policies (the queue stays on the shared one).
fn aws() -> &'static iam_alarm_testkit::helpers::Moto {
    moto_with_managed_policies()
}

/// A user in `iam` with two access keys, the second deactivated beforehand by someone else: (first, second).
async fn user_with_keys(iam: &aws_sdk_iam::Client, user: &str) -> (String, String) {
    iam.create_user().user_name(user).send().await.unwrap();
    let mut keys = Vec::new();
    for _ in 0..2 {
        let key = iam
            .create_access_key()
            .user_name(user)
            .send()
            .await
            .unwrap();
        keys.push(key.access_key.unwrap().access_key_id);
    }
    iam.update_access_key()
        .user_name(user)
        .access_key_id(&keys[1])
        .status(aws_sdk_iam::types::StatusType::Inactive)
        .send()
        .await
        .unwrap();
    (keys[0].clone(), keys[1].clone())
}

/// The CreateAccessKey that made `key` for `user`, recorded in `account`.
fn create_access_key(user: &str, key: &str, account: &str) -> (String, String) {
    let mut record: Value =
        serde_json::from_str(&own_fixture("records/CreateAccessKey-self-service.json")).unwrap();
    let event_id = format!("contain-{key}");
    record["eventID"] = json!(event_id);
    record["recipientAccountId"] = json!(account);
    record["requestParameters"] = json!({"userName": user});
    record["responseElements"]["accessKey"]["accessKeyId"] = json!(key);
    record["responseElements"]["accessKey"]["userName"] = json!(user);
    (record.to_string(), event_id)
}

fn containment_button(alert: &Posted, label: &str) -> Option<String> {
    alert.body["components"][1]["components"]
        .as_array()?
        .iter()
        .find(|b| b["label"] == label)
        .map(|b| b["custom_id"].as_str().unwrap().to_owned())
}

/// The message the bot posted as a reply under `alert` whose title starts so.
async fn under(app: &TestApp, alert: &Posted, title: &str) -> Posted {
    let find = || {
        app.discord.messages().into_iter().find(|m| {
            m.body["message_reference"]["message_id"] == alert.id.as_str()
                && m.body["embeds"][0]["title"]
                    .as_str()
                    .is_some_and(|t| t.starts_with(title))
        })
    };
    app.discord
        .wait_until_or_log(
            &format!("{title:?} under the alert"),
            LIMIT,
            |_| find().is_some(),
            || app.bot_log(),
        )
        .await;
    let found = find().unwrap();
    app.discord.message(&found.id).unwrap()
}

/// Press a button that opens a modal: the modal's `custom_id`.
async fn open_modal(app: &TestApp, button: &str, message: &Posted, who: Value) -> String {
    let i = press(app, button, message, who);
    replies(app, &i, 1).await[0].body["data"]["custom_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn responder(user: u64) -> Value {
    member(user, &[ROLE], 0)
}

async fn containing_app(extra: &[(&str, &str)]) -> (TestApp, AwsStub) {
    let mut app = spawn_app().await;
    let stub = AwsStub::start(&aws().url).await;
    app.extra_env.extend([
        ("AWS_ENDPOINT_URL_STS".to_owned(), stub.url.clone()),
        ("AWS_ENDPOINT_URL_IAM".to_owned(), aws().url.clone()),
        ("RESPONDER_ROLE_ID".to_owned(), ROLE.to_string()),
        ("WATCHED_EVENTS".to_owned(), "all".to_owned()),
        ("CONTAIN".to_owned(), "on".to_owned()),
        (
            "CONTAIN_ROLE_ARN".to_owned(),
            "arn:aws:iam::123456789012:role/iam-alarm-contain".to_owned(),
        ),
    ]);
    app.extra_env.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    app.start_bot_ready().await;
    (app, stub)
}

async fn attached(iam: &aws_sdk_iam::Client, user: &str) -> Vec<String> {
    let out = iam
        .list_attached_user_policies()
        .user_name(user)
        .send()
        .await
        .unwrap();
    out.attached_policies()
        .iter()
        .filter_map(|p| p.policy_arn().map(str::to_owned))
        .collect()
}

async fn active(iam: &aws_sdk_iam::Client, user: &str, key: &str) -> bool {
    let out = iam.list_access_keys().user_name(user).send().await.unwrap();
    out.access_key_metadata().iter().any(|k| {
        k.access_key_id() == Some(key) && k.status().is_some_and(|s| s.as_str() == "Active")
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quarantine_approved_by_a_second_responder_and_undone_exactly() {
    let (app, stub) = containing_app(&[("CONTAIN_APPROVALS", "2")]).await;
    let iam = aws_sdk_iam::Client::new(&sdk_config(&aws().url).await);
    let user = format!("backdoor-{}", app.health_port);
    let (key, other) = user_with_keys(&iam, &user).await;
    let (record, event_id) = create_access_key(&user, &key, "123456789012");
    let alert = alert_for(&app, &record, &event_id).await;
    assert!(containment_button(&alert, "Deactivate key…").is_some());
    let quarantine = containment_button(&alert, "Quarantine…").expect("Quarantine… on the alert");

    // The modal first; a wrong name is refused and nothing happens.
    let i = press(&app, &quarantine, &alert, responder(ALICE));
    let r = replies(&app, &i, 1).await;
    assert_eq!(r[0].callback_type(), Some(9), "{:?}", r[0].body);
    let modal_id = r[0].body["data"]["custom_id"].as_str().unwrap().to_owned();
    let i = submit_modal(
        &app,
        &modal_id,
        &[("name", "someone-else"), ("reason", "x")],
        &alert,
        responder(ALICE),
    );
    assert!(replies(&app, &i, 1).await[0]
        .text()
        .contains("does not match"));
    let reason = "fresh key on a user nobody knows (*backdoor*)";
    let i = submit_modal(
        &app,
        &modal_id,
        &[("name", &user), ("reason", reason)],
        &alert,
        responder(ALICE),
    );
    assert!(replies(&app, &i, 1).await[0].text().contains("Requested"));
    assert!(
        attached(&iam, &user).await.is_empty(),
        "nothing before the approval"
    );

    // The request, under the alert: Alice cannot approve her own; Bob can.
    let request = under(&app, &alert, "🔒 Quarantine of").await;
    let text = request.body.to_string();
    assert!(
        text.contains(&format!("Requested by <@{ALICE}>")) && text.contains("a user nobody knows"),
        "{text}"
    );
    let approve = request.body["components"][0]["components"][0]["custom_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let i = press(&app, &approve, &request, responder(ALICE));
    assert!(replies(&app, &i, 1).await[0]
        .text()
        .contains("another responder must approve"));
    let i = press(&app, &approve, &request, responder(BOB));
    let r = replies(&app, &i, 2).await;
    assert!(r[1].text().contains("Done"), "{:?}", r[1].body);
    assert_eq!(attached(&iam, &user).await, [QUARANTINE]);
    assert!(
        !active(&iam, &user, &key).await,
        "the active key deactivated"
    );
    assert!(
        stub.source_identities()
            .contains(&Some(format!("iam-alarm-{BOB}"))),
        "the session names the approver: {:?}",
        stub.source_identities()
    );
    assert!(stub
        .issued_roles()
        .contains(&"arn:aws:iam::123456789012:role/iam-alarm-contain".to_owned()));

    // The result, step by step, under the alert; the request says who approved it.
    let result = under(&app, &alert, "🔒 Quarantine of").await;
    let result = if result.id == request.id {
        app.discord
            .messages()
            .into_iter()
            .rev()
            .find(|m| {
                m.body["message_reference"]["message_id"] == alert.id.as_str() && m.id != request.id
            })
            .unwrap()
    } else {
        result
    };
    let steps = result.body["embeds"][0]["description"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(steps.contains(&format!("approved by <@{BOB}>")), "{steps}");
    // The reason as the request showed it: escaped once, not twice.
    assert!(
        steps.contains("nobody knows \\(\\*backdoor\\*\\)"),
        "{steps}"
    );
    assert!(
        steps.contains("✅ AWSCompromisedKeyQuarantineV3 attached"),
        "{steps}"
    );
    assert!(
        steps.contains(&format!(
            "✅ key `{}…{}` deactivated",
            &key[..4],
            &key[key.len() - 4..]
        )),
        "{steps}"
    );
    assert!(
        steps.contains("was already inactive: left as it was"),
        "{steps}"
    );
    let request_now = app.discord.message(&request.id).unwrap();
    assert!(request_now.body["content"]
        .as_str()
        .unwrap()
        .contains(&format!("Approved by <@{BOB}>")));
    assert_eq!(request_now.body["components"], json!([]));

    // Undo: the policy detached, the key it deactivated active again, the other left as it was.
    let undo = result.body["components"][0]["components"][0]["custom_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let modal_id = open_modal(&app, &undo, &result, responder(BOB)).await;
    let i = submit_modal(&app, &modal_id, &[("name", &user)], &result, responder(BOB));
    let r = replies(&app, &i, 2).await;
    assert!(r[1].text().contains("Undone"), "{:?}", r[1].body);
    assert!(attached(&iam, &user).await.is_empty());
    assert!(active(&iam, &user, &key).await);
    assert!(
        !active(&iam, &user, &other).await,
        "a key deactivated by someone else stays so"
    );
    let result_now = app.discord.message(&result.id).unwrap();
    let text = result_now.body["embeds"][0]["description"]
        .as_str()
        .unwrap();
    assert!(
        text.contains(&format!("Undone by <@{BOB}>")) && text.contains("detached"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn containment_is_refused_to_the_wrong_people_places_and_times() {
    let (app, _stub) =
        containing_app(&[("CONTAIN_APPROVALS", "2"), ("CONTAIN_REQUEST_TTL_S", "2")]).await;
    let iam = aws_sdk_iam::Client::new(&sdk_config(&aws().url).await);
    let user = format!("refused-{}", app.health_port);
    let (key, _) = user_with_keys(&iam, &user).await;
    let (record, event_id) = create_access_key(&user, &key, "123456789012");
    let alert = alert_for(&app, &record, &event_id).await;
    let quarantine = containment_button(&alert, "Quarantine…").unwrap();

    // A member without the responder role; another server.
    let i = press(&app, &quarantine, &alert, member(ALICE, &[], 0));
    assert!(replies(&app, &i, 1).await[0]
        .text()
        .contains("Only members with"));
    let mut elsewhere = iam_alarm_testkit::interactions::base(3, responder(ALICE));
    elsewhere["guild_id"] = json!("777777777777777777");
    elsewhere["data"] = json!({"custom_id": quarantine, "component_type": 2});
    elsewhere["message"] = iam_alarm_testkit::fake_discord::message_json(&alert);
    let i = app
        .discord
        .dispatch_interaction(elsewhere, Some(alert.id.clone()));
    assert!(replies(&app, &i, 1).await[0]
        .text()
        .contains("serves one Discord server"));

    // An expired request does nothing.
    let modal_id = open_modal(&app, &quarantine, &alert, responder(ALICE)).await;
    let i = submit_modal(
        &app,
        &modal_id,
        &[("name", &user), ("reason", "check")],
        &alert,
        responder(ALICE),
    );
    replies(&app, &i, 1).await;
    let request = under(&app, &alert, "🔒 Quarantine of").await;
    tokio::time::sleep(std::time::Duration::from_secs(3)).await; // the request's time to live
    let approve = request.body["components"][0]["components"][0]["custom_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let i = press(&app, &approve, &request, responder(BOB));
    assert!(replies(&app, &i, 1).await[0].text().contains("expired"));
    assert!(attached(&iam, &user).await.is_empty());
    assert!(active(&iam, &user, &key).await);

    // Containment off: no button at all.
    let mut off = spawn_app().await;
    off.extra_env.extend([
        ("RESPONDER_ROLE_ID".to_owned(), ROLE.to_string()),
        ("WATCHED_EVENTS".to_owned(), "all".to_owned()),
    ]);
    off.start_bot_ready().await;
    let plain = alert_for(&off, &record, &event_id).await;
    assert!(
        plain.body["components"].as_array().unwrap().len() == 1,
        "{}",
        plain.body["components"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_account_s_quarantine_goes_through_its_own_role() {
    let member_account = "555544443333";
    let mut app = spawn_app().await;
    let stub = AwsStub::start(&aws().url).await;
    app.extra_env.extend([
        ("AWS_ENDPOINT_URL_STS".to_owned(), stub.url.clone()),
        ("AWS_ENDPOINT_URL_IAM".to_owned(), aws().url.clone()),
        (
            "ACCOUNT_NAMES".to_owned(),
            format!("{member_account}=sandbox"),
        ),
        ("RESPONDER_ROLE_ID".to_owned(), ROLE.to_string()),
        ("WATCHED_EVENTS".to_owned(), "all".to_owned()),
        ("CONTAIN".to_owned(), "on".to_owned()),
        (
            "CONTAIN_ROLE_ARN".to_owned(),
            "arn:aws:iam::123456789012:role/iam-alarm-contain".to_owned(),
        ),
        (
            "CONTAIN_ROLE_NAME".to_owned(),
            "iam-alarm-contain".to_owned(),
        ),
    ]);
    app.start_bot_ready().await;
    let iam = iam_in_on(&aws().url, member_account).await;
    let user = format!("intruder-{}", app.health_port);
    let (key, _) = user_with_keys(&iam, &user).await;
    let (record, event_id) = create_access_key(&user, &key, member_account);
    let alert = alert_for(&app, &record, &event_id).await;
    let quarantine = containment_button(&alert, "Quarantine…").unwrap();
    let modal_id = open_modal(&app, &quarantine, &alert, responder(ALICE)).await;
    let i = submit_modal(
        &app,
        &modal_id,
        &[("name", &user), ("reason", "intruder")],
        &alert,
        responder(ALICE),
    );
    let r = replies(&app, &i, 2).await;
    assert!(r[1].text().contains("Done"), "{:?}", r[1].body);
    assert_eq!(
        attached(&iam, &user).await,
        [QUARANTINE],
        "in the member account"
    );
    assert!(stub.issued_roles().contains(&format!(
        "arn:aws:iam::{member_account}:role/iam-alarm-contain"
    )));
    let result = under(&app, &alert, "🔒 Quarantine of").await;
    assert!(result.body["embeds"][0]["title"]
        .as_str()
        .unwrap()
        .contains("sandbox"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deactivate_key_does_that_one_key_and_a_quarantine_in_place_is_not_repeated() {
    let (app, _stub) = containing_app(&[]).await;
    let iam = aws_sdk_iam::Client::new(&sdk_config(&aws().url).await);
    let user = format!("keyed-{}", app.health_port);
    iam.create_user().user_name(&user).send().await.unwrap();
    let mut keys = Vec::new();
    for _ in 0..2 {
        let key = iam
            .create_access_key()
            .user_name(&user)
            .send()
            .await
            .unwrap();
        keys.push(key.access_key.unwrap().access_key_id);
    }
    let (record, event_id) = create_access_key(&user, &keys[1], "123456789012");
    let alert = alert_for(&app, &record, &event_id).await;
    let confirm = |button: &str| {
        let id = containment_button(&alert, button).unwrap();
        let i = press(&app, &id, &alert, responder(ALICE));
        let app = &app;
        let alert = &alert;
        let user = user.clone();
        async move {
            let modal = replies(app, &i, 1).await[0].body["data"]["custom_id"]
                .as_str()
                .unwrap()
                .to_owned();
            let i = submit_modal(
                app,
                &modal,
                &[("name", &user), ("reason", "new key nobody asked for")],
                alert,
                responder(ALICE),
            );
            let r = replies(app, &i, 2).await;
            assert!(r[1].text().contains("Done"), "{:?}", r[1].body);
        }
    };

    // One approval (the default): the key the alert is about, and only it.
    confirm("Deactivate key…").await;
    assert!(!active(&iam, &user, &keys[1]).await);
    assert!(
        active(&iam, &user, &keys[0]).await,
        "the other key untouched"
    );
    assert!(
        attached(&iam, &user).await.is_empty(),
        "no policy for one key"
    );
    let result = under(&app, &alert, "🔒 Deactivation of key").await;
    let undo = result.body["components"][0]["components"][0]["custom_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let modal = open_modal(&app, &undo, &result, responder(BOB)).await;
    let i = submit_modal(&app, &modal, &[("name", &user)], &result, responder(BOB));
    assert!(replies(&app, &i, 2).await[1].text().contains("Undone"));
    assert!(active(&iam, &user, &keys[1]).await, "active again");

    // A quarantine, then the same again: the second finds it in place and repeats nothing.
    confirm("Quarantine…").await;
    assert_eq!(attached(&iam, &user).await, [QUARANTINE]);
    confirm("Quarantine…").await;
    let again = app
        .discord
        .messages()
        .into_iter()
        .rev()
        .find(|m| {
            m.body["embeds"][0]["title"]
                .as_str()
                .is_some_and(|t| t.starts_with("🔒 Quarantine of"))
        })
        .unwrap();
    let text = again.body["embeds"][0]["description"].as_str().unwrap();
    assert!(
        text.contains("Already in place: nothing repeated."),
        "{text}"
    );
    assert!(
        again.body["components"]
            .as_array()
            .is_none_or(Vec::is_empty),
        "nothing to undo"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_made_before_a_restart_is_approved_after_it() {
    let (mut app, _stub) = containing_app(&[("CONTAIN_APPROVALS", "2")]).await;
    let iam = aws_sdk_iam::Client::new(&sdk_config(&aws().url).await);
    let user = format!("restarted-{}", app.health_port);
    let (key, _) = user_with_keys(&iam, &user).await;
    let (record, event_id) = create_access_key(&user, &key, "123456789012");
    let alert = alert_for(&app, &record, &event_id).await;
    let quarantine = containment_button(&alert, "Quarantine…").unwrap();
    let modal = open_modal(&app, &quarantine, &alert, responder(ALICE)).await;
    let i = submit_modal(
        &app,
        &modal,
        &[("name", &user), ("reason", "before the restart")],
        &alert,
        responder(ALICE),
    );
    replies(&app, &i, 1).await;
    let request = under(&app, &alert, "🔒 Quarantine of").await;

    // Nothing in memory: the request's footer says what, and who asked.
    app.kill_bot();
    app.start_bot_ready().await;
    let approve = request.body["components"][0]["components"][0]["custom_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let i = press(&app, &approve, &request, responder(BOB));
    assert!(replies(&app, &i, 2).await[1].text().contains("Done"));
    assert_eq!(attached(&iam, &user).await, [QUARANTINE]);
    assert!(!active(&iam, &user, &key).await);
}
