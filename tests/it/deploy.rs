//! The AWS side as deployed: the EventBridge pattern file against moto's real matching, the bot's IAM policy
//! against the calls the code makes, and the Dockerfile (Docker itself is not available here).

use std::collections::BTreeSet;

use serde_json::{json, Value};

use iam_alarm_testkit::helpers::spawn_app;
use iam_alarm_testkit::support::{own_fixture, repo_root, tamper_pattern, PipelineNames};

fn read(path: &str) -> String {
    std::fs::read_to_string(repo_root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// An EventBridge `PutEvents` entry carrying a record, with the event's own source.
fn entry(bus: &str, record: &str, source: &str) -> Value {
    json!({"Source": source, "DetailType": "AWS API Call via CloudTrail", "Detail": record, "EventBusName": bus})
}

fn with(record: &str, key: &str, value: &str) -> String {
    let mut v: Value = serde_json::from_str(record).unwrap();
    v[key] = json!(value);
    v.to_string()
}

/// A pattern case: what it is, the record, the event's `source`, whether the pattern must match it.
type Case = (&'static str, String, &'static str, bool);

/// Put every case on `bus` (each with its own eventID) and check which reached the queue.
async fn assert_matches(app: &iam_alarm_testkit::helpers::TestApp, bus: &str, cases: &[Case]) {
    let entries: Vec<Value> = cases
        .iter()
        .enumerate()
        .map(|(i, (_, record, source, _))| {
            entry(bus, &with(record, "eventID", &format!("case-{i}")), source)
        })
        .collect();
    for chunk in entries.chunks(10) {
        let put = app.events("PutEvents", json!({ "Entries": chunk })).await;
        assert_eq!(put["FailedEntryCount"], 0, "{put}");
    }
    // moto delivers during PutEvents: what matched is on the queue now.
    let mut delivered = BTreeSet::new();
    loop {
        let batch = app
            .sqs
            .receive_message()
            .queue_url(&app.queue_url)
            .max_number_of_messages(10)
            .send()
            .await
            .unwrap();
        let messages = batch.messages.unwrap_or_default();
        if messages.is_empty() {
            break;
        }
        for m in messages {
            let event: Value = serde_json::from_str(m.body().unwrap()).unwrap();
            delivered.insert(event["detail"]["eventID"].as_str().unwrap().to_owned());
            app.sqs
                .delete_message()
                .queue_url(&app.queue_url)
                .receipt_handle(m.receipt_handle().unwrap())
                .send()
                .await
                .unwrap();
        }
    }
    for (i, (what, _, _, should_match)) in cases.iter().enumerate() {
        let matched = delivered.contains(&format!("case-{i}"));
        assert_eq!(matched, *should_match, "{what}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_pattern_file_matches_exactly_the_watched_iam_calls_in_moto() {
    let app = spawn_app().await;
    let bus = app.rule_to_queue(&read("deploy/event-pattern.json")).await;

    let create = own_fixture("records/CreateUser-AssumedRole-session.json");
    let delete = own_fixture("records/DeleteUser-IAMUser.json");
    let failed = own_fixture("records/CreateUser-failed-AccessDenied.json");
    let key = own_fixture("records/CreateAccessKey-self-service.json");
    let transfer = own_fixture("records/CreateUser-transfer.json");
    let cases = [
        ("CreateUser", create.clone(), "aws.iam", true),
        ("DeleteUser", delete, "aws.iam", true),
        ("failed CreateUser", failed, "aws.iam", true),
        ("another IAM call", key, "aws.iam", false),
        (
            "GetUserPolicy",
            with(&create, "eventName", "GetUserPolicy"),
            "aws.iam",
            false,
        ),
        (
            "Transfer Family CreateUser",
            transfer,
            "aws.transfer",
            false,
        ),
        (
            "IAM record under another source",
            create.clone(),
            "aws.sts",
            false,
        ),
        (
            "CreateUser of another eventSource",
            with(&create, "eventSource", "transfer.amazonaws.com"),
            "aws.iam",
            false,
        ),
    ];
    assert_matches(&app, &bus, &cases).await;
}

/// The statements of a policy template in `deploy/`, as (actions lower-cased, resources as written).
fn policy_statements(file: &str) -> Vec<(BTreeSet<String>, Vec<String>)> {
    let policy: Value = serde_json::from_str(&read(file)).unwrap();
    let as_list = |v: &Value| match v {
        Value::Array(items) => items
            .iter()
            .map(|i| i.as_str().unwrap().to_owned())
            .collect(),
        other => vec![other.as_str().unwrap().to_owned()],
    };
    policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            // The SDK's snake_case loses acronyms (ListMFADevices → list_mfa_devices): compare without case.
            let actions = as_list(&s["Action"])
                .iter()
                .map(|a| a.to_ascii_lowercase())
                .collect();
            (actions, as_list(&s["Resource"]))
        })
        .collect()
}

fn policy_actions(file: &str) -> BTreeSet<String> {
    policy_statements(file)
        .into_iter()
        .flat_map(|(a, _)| a)
        .collect()
}

/// Whether any statement of `file` grants `action` on `resource`.
fn grants(file: &str, action: &str, resource: &str) -> bool {
    policy_statements(file).iter().any(|(actions, resources)| {
        actions.contains(action) && resources.iter().any(|r| r == resource)
    })
}

/// Every AWS SDK call in `src/aws/<service>.rs`, as an IAM action: `client.receive_message()` in `sqs.rs` is
/// `sqs:ReceiveMessage`.
fn code_actions() -> BTreeSet<String> {
    let mut actions = BTreeSet::new();
    for entry in std::fs::read_dir(repo_root().join("src/aws")).unwrap() {
        let path = entry.unwrap().path();
        let service = path.file_stem().unwrap().to_string_lossy().into_owned();
        if service == "mod" {
            continue;
        }
        let source = std::fs::read_to_string(&path).unwrap();
        let compact: String = source.split_whitespace().collect();
        // SDK calls start from a client: `self.client.op()`, `client.op()`, `self.home().op()`.
        for part in compact
            .split("client.")
            .chain(compact.split("home()."))
            .skip(1)
        {
            let op: String = part
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                .collect();
            // `client.clone()` is not an AWS call.
            if op.is_empty() || op == "clone" || !part[op.len()..].starts_with("()") {
                continue;
            }
            // IAM authorises SQS's batch calls by their single action (DeleteMessageBatch is sqs:DeleteMessage).
            let op = op.strip_suffix("_batch").unwrap_or(&op);
            let pascal: String = op
                .split('_')
                .map(|w| {
                    let mut c = w.chars();
                    c.next()
                        .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                        .unwrap_or_default()
                })
                .collect();
            actions.insert(format!("{service}:{pascal}").to_ascii_lowercase());
        }
    }
    actions
}

#[test]
fn the_policies_grant_exactly_the_calls_the_code_makes() {
    let code = code_actions();
    assert!(
        code.contains("sqs:receivemessage") && code.contains("sts:assumerole"),
        "the scan found the SDK calls: {code:?}"
    );
    let (bot, operator) = ("deploy/bot-policy.json", "deploy/operator-policy.json");
    // The Organization parts are attached only when their feature is on.
    let (readers, lookup) = (
        "deploy/bot-policy-readers.json",
        "deploy/bot-policy-organization-lookup.json",
    );
    // A member's reader role holds the reads made there (the forward role's policy among them); the containment
    // role, the calls a containment makes; the bot assumes it only with containment on.
    let member = "deploy/reader-policy.json";
    let (containment, assume_containment) = (
        "deploy/containment-policy.json",
        "deploy/bot-policy-containment.json",
    );
    let contain_calls: BTreeSet<String> = [
        "iam:attachuserpolicy",
        "iam:detachuserpolicy",
        "iam:listaccesskeys",
        "iam:listattacheduserpolicies",
        "iam:updateaccesskey",
    ]
    .map(str::to_owned)
    .into();
    assert_eq!(
        policy_actions(containment),
        contain_calls,
        "the containment role: exactly its calls"
    );
    assert!(contain_calls.is_subset(&code), "the code makes them");
    let quarantine: Value = serde_json::from_str(&read(containment)).unwrap();
    assert_eq!(
        quarantine["Statement"][0]["Condition"]["ArnEquals"]["iam:PolicyARN"],
        "arn:${partition}:iam::aws:policy/AWSCompromisedKeyQuarantineV3",
        "attach and detach only the quarantine policy"
    );
    let all: BTreeSet<String> = [
        bot,
        operator,
        readers,
        lookup,
        member,
        containment,
        assume_containment,
    ]
    .iter()
    .flat_map(|f| policy_actions(f))
    .collect();
    // An AssumeRole with a SourceIdentity is authorised as sts:SetSourceIdentity too.
    let mut code = code;
    code.insert("sts:setsourceidentity".to_owned());
    assert_eq!(all, code, "policies (left) and code (right) disagree");
    assert_eq!(
        policy_actions(readers),
        BTreeSet::from([
            "sts:assumerole".to_owned(),
            "sts:setsourceidentity".to_owned()
        ])
    );
    assert!(grants(
        readers,
        "sts:assumerole",
        "arn:${partition}:iam::*:role/${reader_role_name}"
    ));
    let readers_policy: Value = serde_json::from_str(&read(readers)).unwrap();
    assert_eq!(
        readers_policy["Statement"][0]["Condition"]["StringEquals"]["aws:ResourceOrgID"],
        "${organization_id}",
        "only roles of this Organization"
    );
    assert_eq!(
        policy_actions(lookup),
        BTreeSet::from(["organizations:listaccounts".to_owned()])
    );
    // In a member account the reader role may make exactly the reads the bot makes there: IAM for
    // /iam-users and the forward role, LookupEvents for Recent activity and /recent-changes, the forwarding
    // rules for /health.
    let only_containment = [
        "iam:attachuserpolicy",
        "iam:detachuserpolicy",
        "iam:listattacheduserpolicies",
        "iam:updateaccesskey",
    ];
    let member_reads: BTreeSet<String> = code
        .iter()
        .filter(|a| !only_containment.contains(&a.as_str()))
        .filter(|a| {
            a.starts_with("iam:")
                || *a == "cloudtrail:lookupevents"
                || *a == "events:describerule"
                || *a == "events:listtargetsbyrule"
        })
        .cloned()
        .collect();
    assert_eq!(policy_actions("deploy/reader-policy.json"), member_reads);
    // The operator only walks the dead-letter queue and replays; the bot never does either.
    assert!(policy_actions(operator)
        .iter()
        .all(|a| a.starts_with("sqs:")));
    assert!(
        !grants(bot, "sqs:receivemessage", "${dlq_arn}"),
        "the bot does not read the DLQ"
    );
    assert!(
        !grants(bot, "sqs:sendmessage", "${queue_arn}"),
        "the bot does not send to its queue"
    );
    for (action, resource) in [
        ("sqs:receivemessage", "${queue_arn}"),
        ("sqs:deletemessage", "${queue_arn}"),
        ("sqs:sendmessage", "${dlq_arn}"),
    ] {
        assert!(grants(bot, action, resource), "bot: {action} on {resource}");
    }
    for (action, resource) in [
        ("sqs:receivemessage", "${dlq_arn}"),
        ("sqs:deletemessage", "${dlq_arn}"),
        ("sqs:sendmessage", "${queue_arn}"),
    ] {
        assert!(
            grants(operator, action, resource),
            "operator: {action} on {resource}"
        );
    }
    // Terraform reads the same template, so the deployed policy is this one (plus the KMS use SSE implies).
    let module = read("deploy/terraform/modules/iam-alarm/main.tf");
    assert!(module.contains("bot-policy.json") && module.contains("operator-policy.json"));
    assert!(module.contains("event-pattern.json"));
}

#[test]
fn dockerfile_is_pinned_by_digest_minimal_and_non_root() {
    let dockerfile = read("Dockerfile");
    let lines: Vec<&str> = dockerfile
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .collect();
    let froms: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| l.starts_with("FROM "))
        .collect();
    assert_eq!(froms.len(), 2, "a build stage and a final stage");
    for from in &froms {
        let image = from.split_whitespace().nth(1).unwrap();
        let (named, digest) = image.split_once("@sha256:").unwrap_or((image, ""));
        assert!(
            digest.len() == 64 && digest.chars().all(|c| c.is_ascii_hexdigit()),
            "{image} is not pinned by digest"
        );
        let tag = named.rsplit_once(':').map(|t| t.1).unwrap_or("");
        assert!(
            !tag.is_empty() && tag != "latest",
            "{image} names no version tag beside its digest"
        );
    }
    assert!(
        froms[1].contains("distroless"),
        "the final image has no shell"
    );
    let final_stage: Vec<&str> = lines
        .iter()
        .copied()
        .skip_while(|l| *l != froms[1])
        .collect();
    let copies: Vec<&&str> = final_stage
        .iter()
        .filter(|l| l.starts_with("COPY"))
        .collect();
    assert_eq!(copies.len(), 1, "only the binary is copied: {copies:?}");
    assert!(copies[0].contains("--from=build") && copies[0].contains("/target/release/iam-alarm"));
    let user = final_stage
        .iter()
        .find(|l| l.starts_with("USER "))
        .expect("a USER line");
    assert!(!user.contains("root") || user.contains("nonroot"), "{user}");
    assert!(!user.starts_with("USER 0"), "{user}");
    assert!(
        final_stage.iter().all(|l| !l.starts_with("RUN ")),
        "nothing runs in the final image (no shell)"
    );
    assert!(
        dockerfile.contains(r#"CMD ["/usr/local/bin/iam-alarm", "healthcheck"]"#),
        "exec-form HEALTHCHECK"
    );
    assert!(dockerfile.contains(r#"ENTRYPOINT ["/usr/local/bin/iam-alarm"]"#));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tamper_pattern_matches_changes_to_this_pipeline_and_nothing_else_in_moto() {
    let app = spawn_app().await;
    let names = PipelineNames {
        account: "123456789012",
        trail: "ct-trail-monitor",
        user_change_rule: "eventbridge-iam-user-change",
        tamper_rule: "eventbridge-iam-alarm-tamper",
        topic_arn: "arn:aws:sns:us-east-1:123456789012:sns-iam-user-alarm",
        queue: "iam-alarm",
        dlq: "iam-alarm-dlq",
        key_id: "1234abcd-12ab-34cd-56ef-1234567890ab",
        bucket: "iam-alarm-trail-abc",
    };
    let bus = app.rule_to_queue(&tamper_pattern(&names)).await;
    let ours_q = "https://sqs.us-east-1.amazonaws.com/123456789012/iam-alarm";
    let subscription = format!("{}:0f1e2d3c-aaaa-bbbb-cccc-1234567890ab", names.topic_arn);
    let cases = [
        (
            "StopLogging of any trail",
            call("cloudtrail", "StopLogging", json!({"name": "other-trail"})),
            "aws.cloudtrail",
            true,
        ),
        (
            "DeleteTrail of any trail",
            call("cloudtrail", "DeleteTrail", json!({"name": "other-trail"})),
            "aws.cloudtrail",
            true,
        ),
        (
            "UpdateTrail of ours",
            call(
                "cloudtrail",
                "UpdateTrail",
                json!({"name": "ct-trail-monitor"}),
            ),
            "aws.cloudtrail",
            true,
        ),
        (
            "UpdateTrail of another",
            call("cloudtrail", "UpdateTrail", json!({"name": "other-trail"})),
            "aws.cloudtrail",
            false,
        ),
        (
            "a denied UpdateTrail naming nothing",
            call("cloudtrail", "UpdateTrail", Value::Null),
            "aws.cloudtrail",
            true,
        ),
        (
            "the quarantine policy detached",
            call(
                "iam",
                "DetachUserPolicy",
                json!({"userName": "backdoor", "policyArn": "arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV3"}),
            ),
            "aws.iam",
            true,
        ),
        (
            "another policy detached",
            call(
                "iam",
                "DetachUserPolicy",
                json!({"userName": "alice", "policyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}),
            ),
            "aws.iam",
            false,
        ),
        (
            "PutEventSelectors on ours",
            call(
                "cloudtrail",
                "PutEventSelectors",
                json!({"trailName": "ct-trail-monitor"}),
            ),
            "aws.cloudtrail",
            true,
        ),
        (
            "DisableRule of ours",
            call(
                "events",
                "DisableRule",
                json!({"name": "eventbridge-iam-user-change"}),
            ),
            "aws.events",
            true,
        ),
        (
            "DisableRule of another",
            call("events", "DisableRule", json!({"name": "nightly-backup"})),
            "aws.events",
            false,
        ),
        (
            "RemoveTargets of the heartbeat",
            call(
                "events",
                "RemoveTargets",
                json!({"rule": "iam-alarm-heartbeat", "ids": ["sns"]}),
            ),
            "aws.events",
            true,
        ),
        (
            "Unsubscribe from ours",
            call(
                "sns",
                "Unsubscribe",
                json!({"subscriptionArn": subscription}),
            ),
            "aws.sns",
            true,
        ),
        (
            "Unsubscribe from another",
            call(
                "sns",
                "Unsubscribe",
                json!({"subscriptionArn": "arn:aws:sns:us-east-1:123456789012:news:1"}),
            ),
            "aws.sns",
            false,
        ),
        (
            "PurgeQueue of ours",
            call("sqs", "PurgeQueue", json!({"queueUrl": ours_q})),
            "aws.sqs",
            true,
        ),
        (
            "PurgeQueue of another",
            call(
                "sqs",
                "PurgeQueue",
                json!({"queueUrl": format!("{ours_q}-builds")}),
            ),
            "aws.sqs",
            false,
        ),
        (
            "ScheduleKeyDeletion of ours",
            call(
                "kms",
                "ScheduleKeyDeletion",
                json!({"keyId": names.key_id, "pendingWindowInDays": 7}),
            ),
            "aws.kms",
            true,
        ),
        (
            "PutBucketPolicy on the trail bucket",
            call("s3", "PutBucketPolicy", json!({"bucketName": names.bucket})),
            "aws.s3",
            true,
        ),
        (
            "PutBucketPolicy elsewhere",
            call("s3", "PutBucketPolicy", json!({"bucketName": "website"})),
            "aws.s3",
            false,
        ),
        (
            "a user change",
            own_fixture("records/CreateUser-AssumedRole-session.json"),
            "aws.iam",
            false,
        ),
        (
            "a read-only CloudTrail call",
            call("cloudtrail", "DescribeTrails", json!({})),
            "aws.cloudtrail",
            false,
        ),
        (
            "DisableRule of the canary rule",
            call("events", "DisableRule", json!({"name": "iam-alarm-canary"})),
            "aws.events",
            true,
        ),
        (
            "DeleteSchedule of the canary",
            call(
                "scheduler",
                "DeleteSchedule",
                json!({"name": "iam-alarm-canary"}),
            ),
            "aws.scheduler",
            true,
        ),
        (
            "PutRolePolicy on the canary role",
            call(
                "iam",
                "PutRolePolicy",
                json!({"roleName": "iam-alarm-canary"}),
            ),
            "aws.iam",
            true,
        ),
        (
            "PutRolePolicy on another role",
            call("iam", "PutRolePolicy", json!({"roleName": "ci-deployer"})),
            "aws.iam",
            false,
        ),
        (
            "PutRolePolicy on the bot's task role",
            call(
                "iam",
                "PutRolePolicy",
                json!({"roleName": "iam-alarm-task"}),
            ),
            "aws.iam",
            true,
        ),
        (
            "the containment role's trust changed",
            call(
                "iam",
                "UpdateAssumeRolePolicy",
                json!({"roleName": "iam-alarm-contain"}),
            ),
            "aws.iam",
            true,
        ),
        (
            "DisableAlarmActions of the bot-down alarm",
            call(
                "monitoring",
                "DisableAlarmActions",
                json!({"alarmNames": ["iam-alarm-bot-down"]}),
            ),
            "aws.cloudwatch",
            true,
        ),
        (
            "PutMetricAlarm of another alarm",
            call(
                "monitoring",
                "PutMetricAlarm",
                json!({"alarmName": "cpu-high"}),
            ),
            "aws.cloudwatch",
            false,
        ),
        (
            "UpdateService of the bot",
            call(
                "ecs",
                "UpdateService",
                json!({"service": "iam-alarm", "desiredCount": 0}),
            ),
            "aws.ecs",
            true,
        ),
        (
            "RemovePermission on the central bus",
            call(
                "events",
                "RemovePermission",
                json!({"eventBusName": "iam-alarm"}),
            ),
            "aws.events",
            true,
        ),
        (
            "LeaveOrganization",
            call("organizations", "LeaveOrganization", Value::Null),
            "aws.organizations",
            true,
        ),
    ];
    assert_matches(&app, &bus, &cases).await;
}

/// The canary's TagUser by another role, or on another user, is not the canary.
fn tag_user(role: &str, user: &str) -> String {
    let mut v: Value =
        serde_json::from_str(&own_fixture("records/StopLogging-IAMUser.json")).unwrap();
    v["eventSource"] = json!("iam.amazonaws.com");
    v["eventName"] = json!("TagUser");
    v["userIdentity"] = json!({"type": "AssumedRole",
        "arn": format!("arn:aws:sts::123456789012:assumed-role/{role}/9f3c2d1e"),
        "sessionContext": {"sessionIssuer": {"type": "Role", "userName": role}}});
    v["requestParameters"] =
        json!({"userName": user, "tags": [{"key": "iam-alarm-canary", "value": "x"}]});
    v.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_canary_rule_forwards_the_canary_call_and_nothing_else_in_moto() {
    let app = spawn_app().await;
    let pattern = read("deploy/canary-pattern.json")
        .replace("${canary_user}", "iam-alarm-canary")
        .replace("${canary_role}", "iam-alarm-canary");
    let bus = app.rule_to_queue(&pattern).await;
    let cases = [
        (
            "the canary",
            tag_user("iam-alarm-canary", "iam-alarm-canary"),
            "aws.iam",
            true,
        ),
        (
            "the canary user tagged by someone else",
            tag_user("admin", "iam-alarm-canary"),
            "aws.iam",
            false,
        ),
        (
            "another user tagged by the canary role",
            tag_user("iam-alarm-canary", "alice"),
            "aws.iam",
            false,
        ),
    ];
    assert_matches(&app, &bus, &cases).await;
    let canary = read("deploy/terraform/modules/iam-alarm/canary.tf");
    for needed in [
        "canary-pattern.json",
        "arn:aws:scheduler:::aws-sdk:iam:tagUser",
        "<aws.scheduler.scheduled-time>",
        "Action   = \"iam:TagUser\"",
        "Resource = aws_iam_user.canary[0].arn",
        "scheduler.amazonaws.com",
        "CANARY_MAX_AGE_S",
    ] {
        assert!(canary.contains(needed), "canary.tf lacks {needed}");
    }
}

/// Only SNS from our topic sends to the queue, and only our rules publish to the topic: explicit Denies, since an
/// Allow to a service says nothing about everyone else in the account.
#[test]
fn the_queue_and_the_topic_deny_everyone_else() {
    let main = read("deploy/terraform/modules/iam-alarm/main.tf");
    for needed in [
        "Sid       = \"NobodyElsePublishes\"",
        "Condition = { ArnNotEquals = { \"aws:SourceArn\" = local.publishing_rules } }",
        "Sid       = \"NobodyButTheTopicSends\"",
        "{ ArnNotEquals = { \"aws:SourceArn\" = aws_sns_topic.alarm.arn } }",
        "{ ArnNotLike = { \"aws:PrincipalArn\" = var.operator_principal_arns } }",
        "aws_cloudwatch_event_rule.canary[*].arn",
        "TOPIC_ARN",
    ] {
        assert!(main.contains(needed), "main.tf lacks {needed}");
    }
}

#[test]
fn the_tamper_pattern_names_exactly_the_calls_the_bot_treats_as_tampering() {
    let pattern: Value = serde_json::from_str(&read("deploy/tamper-pattern.json")).unwrap();
    let mut in_pattern = BTreeSet::new();
    for clause in pattern["detail"]["$or"].as_array().unwrap() {
        let source = clause["eventSource"][0]
            .as_str()
            .unwrap()
            .trim_end_matches(".amazonaws.com");
        for name in clause["eventName"].as_array().unwrap() {
            in_pattern.insert((source.to_owned(), name.as_str().unwrap().to_owned()));
        }
    }
    let in_bot: BTreeSet<(String, String)> = iam_alarm_core::tamper::calls()
        .map(|(s, n)| (s.to_owned(), n.to_owned()))
        .collect();
    assert_eq!(in_pattern, in_bot);
    // Terraform deploys the same file, rendered with the pipeline's names.
    assert!(read("deploy/terraform/modules/iam-alarm/main.tf").contains("tamper-pattern.json"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e_mail_subscribers_get_alerts_and_never_heartbeats_or_canaries() {
    // A queue stands in for the e-mail address: SNS filters every protocol's deliveries the same way.
    let app = spawn_app().await;
    let sns = aws_sdk_sns::Client::new(
        &iam_alarm_testkit::helpers::sdk_config(&iam_alarm_testkit::helpers::moto().url).await,
    );
    let topic = sns
        .create_topic()
        .name(format!("filtered-{}", app.health_port))
        .send()
        .await
        .unwrap()
        .topic_arn
        .unwrap();
    sns.subscribe()
        .topic_arn(&topic)
        .protocol("sqs")
        .endpoint(&app.queue_arn)
        .attributes("FilterPolicyScope", "MessageBody")
        .attributes("FilterPolicy", read("deploy/email-filter-policy.json"))
        .send()
        .await
        .unwrap();
    let record = own_fixture("records/CreateUser-AssumedRole-session.json");
    let alert = iam_alarm_testkit::support::eventbridge(&record, true);
    let heartbeat = json!({
        "version": "0", "id": "1", "detail-type": "Scheduled Event", "source": "aws.events",
        "account": "123456789012", "time": "2026-11-29T10:00:00Z", "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/iam-alarm-heartbeat"], "detail": {}
    });
    let canary = iam_alarm_testkit::support::eventbridge(
        &tag_user("iam-alarm-canary", "iam-alarm-canary"),
        true,
    );
    for message in [heartbeat.to_string(), canary, alert] {
        sns.publish()
            .topic_arn(&topic)
            .message(message)
            .send()
            .await
            .unwrap();
    }
    let received = app
        .sqs
        .receive_message()
        .queue_url(&app.queue_url)
        .max_number_of_messages(10)
        .send()
        .await
        .unwrap()
        .messages
        .unwrap_or_default();
    assert_eq!(received.len(), 1, "{received:?}");
    assert!(received[0]
        .body()
        .unwrap()
        .contains("AWS API Call via CloudTrail"));
    assert!(read("deploy/terraform/modules/iam-alarm/main.tf").contains("email-filter-policy.json"));
}

/// A published StopLogging record turned into another call of another service, with these parameters.
fn call(source: &str, name: &str, parameters: Value) -> String {
    let mut v: Value =
        serde_json::from_str(&own_fixture("records/StopLogging-IAMUser.json")).unwrap();
    v["eventSource"] = json!(format!("{source}.amazonaws.com"));
    v["eventName"] = json!(name);
    v["requestParameters"] = parameters;
    v.to_string()
}

/// `deploy/cloudformation/member.yaml`, with CloudFormation's `Ref` and `Fn::Sub` of a parameter written as
/// Terraform's `${Name}`, so its patterns compare with the files Terraform renders.
fn member_template() -> Value {
    fn plain(v: Value) -> Value {
        match v {
            Value::Object(o) if o.len() == 1 && o.contains_key("Ref") => {
                json!(format!("${{{}}}", o["Ref"].as_str().unwrap()))
            }
            Value::Object(o)
                if o.len() == 1 && o.contains_key("Fn::Sub") && o["Fn::Sub"].is_string() =>
            {
                o["Fn::Sub"].clone()
            }
            Value::Object(o) => Value::Object(o.into_iter().map(|(k, v)| (k, plain(v))).collect()),
            Value::Array(a) => Value::Array(a.into_iter().map(plain).collect()),
            other => other,
        }
    }
    let yaml: Value = serde_yaml::from_str(&read("deploy/cloudformation/member.yaml")).unwrap();
    plain(yaml)
}

#[test]
fn the_member_stack_set_template_deploys_what_the_member_module_does() {
    let t = member_template();
    let r = &t["Resources"];
    // Every user call the bot knows, in the pattern the bot would print for `all`.
    assert_eq!(
        r["ForwardRule"]["Properties"]["EventPattern"],
        iam_alarm_core::WatchedEvents::all().event_pattern()
    );
    let tamper: Value = serde_json::from_str(&read("deploy/member-tamper-pattern.json")).unwrap();
    let tamper = tamper
        .to_string()
        .replace("${ForwarderTamperRuleName}", "${ForwarderRuleName}-tamper");
    assert_eq!(
        r["ForwardTamperRule"]["Properties"]["EventPattern"],
        serde_json::from_str::<Value>(&tamper).unwrap()
    );
    // The reader role: exactly deploy/reader-policy.json's actions, trusted by the bot's role with the external id.
    let reader = &r["ReaderRole"]["Properties"];
    let actions: BTreeSet<String> = reader["Policies"][0]["PolicyDocument"]["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["Action"].as_array().unwrap().iter())
        .map(|a| a.as_str().unwrap().to_ascii_lowercase())
        .collect();
    assert_eq!(actions, policy_actions("deploy/reader-policy.json"));
    let trust = &reader["AssumeRolePolicyDocument"]["Statement"][0];
    assert_eq!(trust["Principal"]["AWS"], "${BotRoleArn}");
    assert_eq!(
        trust["Condition"]["StringEquals"]["sts:ExternalId"],
        "${ReaderExternalId}"
    );
    // Sessions may carry the responder who asked as their source identity, and only ours.
    let source = &reader["AssumeRolePolicyDocument"]["Statement"][1];
    assert_eq!(
        (&source["Action"], &source["Principal"]["AWS"]),
        (&json!("sts:SetSourceIdentity"), &json!("${BotRoleArn}"))
    );
    assert_eq!(
        source["Condition"]["StringLike"]["sts:SourceIdentity"],
        "iam-alarm-*"
    );
    // The containment role: exactly deploy/containment-policy.json's actions, trusted by the bot's role alone.
    let contain = &r["ContainRole"]["Properties"];
    let actions: BTreeSet<String> = contain["Policies"][0]["PolicyDocument"]["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["Action"].as_array().unwrap().iter())
        .map(|a| a.as_str().unwrap().to_ascii_lowercase())
        .collect();
    assert_eq!(actions, policy_actions("deploy/containment-policy.json"));
    assert_eq!(
        contain["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["AWS"],
        "${BotRoleArn}"
    );
    assert_eq!(r["ContainRole"]["Condition"], "Contains");
    // Terraform's member module and StackSet read the same files.
    let member = read("deploy/terraform/modules/iam-alarm-member/main.tf");
    assert!(member.contains("containment-policy.json"));
    assert!(member.contains("member-tamper-pattern.json") && member.contains("reader-policy.json"));
    let central = read("deploy/terraform/modules/iam-alarm/organization.tf");
    assert!(
        central.contains("cloudformation/member.yaml") && central.contains("aws:PrincipalOrgID")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_forwards_changes_to_its_forwarding_and_trail_and_nothing_else_in_moto() {
    let app = spawn_app().await;
    let pattern = read("deploy/member-tamper-pattern.json")
        .replace("${ForwarderRuleName}", "iam-alarm-forward")
        .replace("${ForwarderTamperRuleName}", "iam-alarm-forward-tamper");
    let bus = app.rule_to_queue(&pattern).await;
    let stop = own_fixture("records/StopLogging-IAMUser.json");
    let cases = [
        (
            "StopLogging of the organization trail",
            stop.clone(),
            "aws.cloudtrail",
            true,
        ),
        (
            "DisableRule of the forwarder",
            call(
                "events",
                "DisableRule",
                json!({"name": "iam-alarm-forward"}),
            ),
            "aws.events",
            true,
        ),
        (
            "RemoveTargets of the tamper forwarder",
            call(
                "events",
                "RemoveTargets",
                json!({"rule": "iam-alarm-forward-tamper"}),
            ),
            "aws.events",
            true,
        ),
        (
            "DisableRule of another rule",
            call("events", "DisableRule", json!({"name": "nightly"})),
            "aws.events",
            false,
        ),
        (
            "a user change (the other forwarder's)",
            own_fixture("records/CreateUser-AssumedRole-session.json"),
            "aws.iam",
            false,
        ),
    ];
    assert_matches(&app, &bus, &cases).await;
}

/// `deploy/scp/protect-iam-alarm.json`: every call the bot treats as tampering is denied to all but the break-glass
/// role (except removing an account, which only the management account can do, and SCPs never limit it).
#[test]
fn the_scp_denies_every_tamper_call_to_all_but_the_break_glass_role() {
    let template = read("deploy/scp/protect-iam-alarm.json");
    let rendered = [
        ("partition", "aws"),
        ("break_glass_role_arn", "arn:aws:iam::*:role/break-glass"),
        (
            "trail_arn",
            "arn:aws:cloudtrail:us-east-1:1:trail/ct-trail-monitor",
        ),
        ("topic_arn", "arn:aws:sns:us-east-1:1:sns-iam-user-alarm"),
        ("ops_topic_arn", "arn:aws:sns:us-east-1:1:sns-iam-alarm-ops"),
        ("queue_arn", "arn:aws:sqs:us-east-1:1:iam-alarm"),
        ("dlq_arn", "arn:aws:sqs:us-east-1:1:iam-alarm-dlq"),
        ("key_arn", "arn:aws:kms:us-east-1:1:key/k"),
        ("bucket", "iam-alarm-trail"),
    ]
    .iter()
    .fold(template, |t, (k, v)| t.replace(&format!("${{{k}}}"), v));
    assert!(!rendered.contains("${"), "every placeholder rendered");
    assert!(
        serde_json::to_string(&serde_json::from_str::<Value>(&rendered).unwrap())
            .unwrap()
            .len()
            < 5120,
        "an SCP holds at most 5,120 characters (Terraform minifies it)"
    );
    let scp: Value = serde_json::from_str(&rendered).unwrap();
    let mut denied = BTreeSet::new();
    for statement in scp["Statement"].as_array().unwrap() {
        assert_eq!(statement["Effect"], "Deny", "{statement}");
        // Everyone but the break-glass role; a quarantine is also lifted by the containment role's Undo.
        let excepted = &statement["Condition"]["ArnNotLike"]["aws:PrincipalArn"];
        let break_glass = json!("arn:aws:iam::*:role/break-glass");
        let undo = json!([
            "arn:aws:iam::*:role/break-glass",
            "arn:aws:iam::*:role/iam-alarm-contain"
        ]);
        assert!(
            *excepted == break_glass
                || (statement["Sid"] == "KeepQuarantines" && *excepted == undo),
            "{statement}"
        );
        for action in statement["Action"].as_array().unwrap() {
            denied.insert(action.as_str().unwrap().to_lowercase());
        }
    }
    for (source, call) in iam_alarm_core::tamper::calls() {
        if call == "RemoveAccountFromOrganization" {
            continue;
        }
        let prefix = if source == "monitoring" {
            "cloudwatch"
        } else {
            source
        };
        let action = format!("{prefix}:{call}").to_lowercase();
        assert!(denied.contains(&action), "the SCP does not deny {action}");
    }
    let scp_tf = read("deploy/terraform/modules/iam-alarm/scp.tf");
    assert!(
        scp_tf.contains("scp/protect-iam-alarm.json") && scp_tf.contains("var.protect_with_scp")
    );
}
