//! Fixtures and envelopes shared by the tests.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

/// The repository (the workspace root, where `deploy/` and `tests/fixtures/` are).
pub fn repo_root() -> PathBuf {
    let testkit = Path::new(env!("CARGO_MANIFEST_DIR"));
    testkit
        .parent()
        .expect("testkit/ is in the workspace")
        .to_owned()
}

/// `deploy/event-pattern.json`, the EventBridge rule's pattern.
pub fn event_pattern() -> Value {
    let text = std::fs::read_to_string(repo_root().join("deploy/event-pattern.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// One of our own fixtures under `tests/fixtures/`.
pub fn own_fixture(relative: &str) -> String {
    let path = repo_root().join("tests/fixtures").join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The published corpus (`IAM_ALARM_CORPUS`, default `../shared/fixtures/cloudtrail/real`). Its tests are
/// marked ignored when it was absent at build time (see `build.rs`), so reaching here without it is a failure.
pub fn corpus_dir() -> PathBuf {
    let dir = corpus_path();
    assert!(
        dir.is_dir(),
        "the published CloudTrail corpus is not at {} (set IAM_ALARM_CORPUS)",
        dir.display()
    );
    dir
}

/// Where the published corpus is expected.
pub fn corpus_path() -> PathBuf {
    std::env::var_os("IAM_ALARM_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("../shared/fixtures/cloudtrail/real"))
}

/// Every `*.json` record of the corpus, sorted by name.
pub fn corpus_records(dir: &Path) -> Vec<(String, String)> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read_to_string(&p).unwrap(),
            )
        })
        .collect()
}

/// The EventBridge event that carries a record (`account` omitted, as moto delivers it).
pub fn eventbridge(record: &str, with_account: bool) -> String {
    let detail: Value = serde_json::from_str(record).unwrap();
    let mut event = json!({
        "version": "0",
        "id": "7bf73129-1428-4cd3-a780-95db273d1602",
        "detail-type": "AWS API Call via CloudTrail",
        "source": "aws.iam",
        "time": "2026-11-20T09:00:01Z",
        "region": "us-east-1",
        "resources": [],
        "detail": detail,
    });
    if with_account {
        event["account"] = json!("123456789012");
    }
    event.to_string()
}

/// An SNS `Notification` envelope around a message string (raw message delivery off).
pub fn sns(message: &str) -> String {
    json!({
        "Type": "Notification",
        "MessageId": "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
        "TopicArn": "arn:aws:sns:us-east-1:123456789012:sns-iam-user-alarm",
        "Message": message,
        "Timestamp": "2026-11-20T09:00:02.000Z",
        "SignatureVersion": "1",
        "Signature": "EXAMPLE",
        "SigningCertURL": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-example.pem",
        "UnsubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=example"
    })
    .to_string()
}

/// The n-th CreateUser of a burst (user `burst-user-NNNN`), SNS-enveloped as the pipeline delivers it.
pub fn burst_event(n: usize) -> (String, String) {
    let mut record: Value =
        serde_json::from_str(&own_fixture("records/CreateUser-AssumedRole-session.json")).unwrap();
    let user = format!("burst-user-{n:04}");
    record["eventID"] = json!(format!("00000000-0000-4000-8000-{n:012}"));
    record["requestParameters"]["userName"] = json!(user);
    record["responseElements"]["user"]["userName"] = json!(user);
    (user, sns(&eventbridge(&record.to_string(), true)))
}

/// The names `deploy/tamper-pattern.json` is rendered with (Terraform's `templatefile` does the same).
pub struct PipelineNames<'a> {
    pub account: &'a str,
    pub trail: &'a str,
    pub user_change_rule: &'a str,
    pub tamper_rule: &'a str,
    pub topic_arn: &'a str,
    pub queue: &'a str,
    pub dlq: &'a str,
    pub key_id: &'a str,
    pub bucket: &'a str,
}

/// `deploy/tamper-pattern.json` narrowed to one pipeline's resources.
pub fn tamper_pattern(n: &PipelineNames) -> String {
    let template = std::fs::read_to_string(repo_root().join("deploy/tamper-pattern.json")).unwrap();
    let trail_arn = format!(
        "arn:aws:cloudtrail:us-east-1:{}:trail/{}",
        n.account, n.trail
    );
    let key_arn = format!("arn:aws:kms:us-east-1:{}:key/{}", n.account, n.key_id);
    let values = [
        ("trail_name", n.trail.to_owned()),
        ("trail_arn", trail_arn),
        ("user_change_rule", n.user_change_rule.to_owned()),
        ("tamper_rule", n.tamper_rule.to_owned()),
        ("heartbeat_rule", "iam-alarm-heartbeat".to_owned()),
        ("topic_arn", n.topic_arn.to_owned()),
        ("ops_topic_arn", format!("{}-ops", n.topic_arn)),
        ("queue_path", format!("/{}/{}", n.account, n.queue)),
        ("dlq_path", format!("/{}/{}", n.account, n.dlq)),
        ("key_id", n.key_id.to_owned()),
        ("key_arn", key_arn),
        ("bucket", n.bucket.to_owned()),
        ("canary_rule", "iam-alarm-canary".to_owned()),
        ("canary_schedule", "iam-alarm-canary".to_owned()),
        ("canary_role", "iam-alarm-canary".to_owned()),
        ("task_role", "iam-alarm-task".to_owned()),
        ("contain_role", "iam-alarm-contain".to_owned()),
        ("execution_role", "iam-alarm-execution".to_owned()),
        ("forward_role", "iam-alarm-forward-trail-region".to_owned()),
        ("central_bus", "iam-alarm".to_owned()),
        ("bot_down_alarm", "iam-alarm-bot-down".to_owned()),
        ("dead_letters_alarm", "iam-alarm-dead-letters".to_owned()),
        ("ecs_service", "iam-alarm".to_owned()),
    ];
    let rendered = values
        .iter()
        .fold(template, |t, (k, v)| t.replace(&format!("${{{k}}}"), v));
    assert!(
        !rendered.contains("${"),
        "every placeholder rendered: {rendered}"
    );
    rendered
}
