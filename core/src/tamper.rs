//! Calls that can switch the alarm off quietly: stopping or changing the trail, disabling or retargeting the
//! EventBridge rule, deleting or unsubscribing the topic, purging or deleting the queue, disabling its KMS key,
//! changing the trail bucket's policy, changing the canary's schedule or the pipeline's roles, the central bus,
//! the bot-down alarms, the bot's ECS service, an account leaving the Organization. The deployed rule narrows them to
//! this pipeline's own resources (`deploy/tamper-pattern.json`): whatever reaches the bot is ours. They always
//! alert (whatever `WATCHED_EVENTS` says), as `critical`, saying what stopped working and for what; a rule may
//! lower them but never suppress them.

use crate::record::Record;

/// What a tamper call did to the pipeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tamper {
    /// "CloudTrail logging stopped".
    pub what: &'static str,
    /// "stop CloudTrail logging" (for a failed attempt).
    pub attempt: &'static str,
    /// The resource the record names (trail, rule, topic, queue, key, bucket), if it names one.
    pub resource: Option<String>,
}

/// (event source, event name, what, attempt, the request parameters naming the resource, in order of preference)
const CALLS: [(&str, &str, &str, &str, &[&str]); 47] = [
    (
        "cloudtrail",
        "StopLogging",
        "CloudTrail logging stopped",
        "stop CloudTrail logging",
        &["name"],
    ),
    (
        "cloudtrail",
        "DeleteTrail",
        "CloudTrail trail deleted",
        "delete a CloudTrail trail",
        &["name"],
    ),
    (
        "cloudtrail",
        "UpdateTrail",
        "CloudTrail trail changed",
        "change a CloudTrail trail",
        &["name"],
    ),
    (
        "cloudtrail",
        "PutEventSelectors",
        "CloudTrail event selectors changed",
        "change CloudTrail event selectors",
        &["trailName"],
    ),
    (
        "events",
        "DisableRule",
        "EventBridge rule disabled",
        "disable an EventBridge rule",
        &["name"],
    ),
    (
        "events",
        "DeleteRule",
        "EventBridge rule deleted",
        "delete an EventBridge rule",
        &["name"],
    ),
    (
        "events",
        "RemoveTargets",
        "EventBridge rule targets removed",
        "remove EventBridge rule targets",
        &["rule"],
    ),
    (
        "events",
        "PutRule",
        "EventBridge rule changed",
        "change an EventBridge rule",
        &["name"],
    ),
    (
        "events",
        "PutTargets",
        "EventBridge rule targets changed",
        "change EventBridge rule targets",
        &["rule"],
    ),
    (
        "sns",
        "DeleteTopic",
        "SNS topic deleted",
        "delete an SNS topic",
        &["topicArn"],
    ),
    (
        "sns",
        "Unsubscribe",
        "SNS subscription removed",
        "remove an SNS subscription",
        &["subscriptionArn"],
    ),
    (
        "sns",
        "SetTopicAttributes",
        "SNS topic changed",
        "change an SNS topic",
        &["topicArn"],
    ),
    (
        "sns",
        "SetSubscriptionAttributes",
        "SNS subscription changed",
        "change an SNS subscription",
        &["subscriptionArn"],
    ),
    (
        "sns",
        "RemovePermission",
        "SNS topic permission removed",
        "remove an SNS topic permission",
        &["topicArn"],
    ),
    (
        "sqs",
        "DeleteQueue",
        "Queue deleted",
        "delete a queue",
        &["queueUrl"],
    ),
    (
        "sqs",
        "PurgeQueue",
        "Queue purged",
        "purge a queue",
        &["queueUrl"],
    ),
    (
        "sqs",
        "SetQueueAttributes",
        "Queue changed",
        "change a queue",
        &["queueUrl"],
    ),
    (
        "sqs",
        "RemovePermission",
        "Queue permission removed",
        "remove a queue permission",
        &["queueUrl"],
    ),
    (
        "kms",
        "DisableKey",
        "KMS key disabled",
        "disable a KMS key",
        &["keyId"],
    ),
    (
        "kms",
        "ScheduleKeyDeletion",
        "KMS key scheduled for deletion",
        "schedule a KMS key's deletion",
        &["keyId"],
    ),
    (
        "kms",
        "PutKeyPolicy",
        "KMS key policy changed",
        "change a KMS key policy",
        &["keyId"],
    ),
    (
        "scheduler",
        "UpdateSchedule",
        "Canary schedule changed",
        "change the canary schedule",
        &["name"],
    ),
    (
        "scheduler",
        "DeleteSchedule",
        "Canary schedule deleted",
        "delete the canary schedule",
        &["name"],
    ),
    (
        "iam",
        "DeleteRole",
        "Pipeline role deleted",
        "delete a pipeline role",
        &["roleName"],
    ),
    (
        "iam",
        "PutRolePolicy",
        "Pipeline role policy changed",
        "change a pipeline role's policy",
        &["roleName"],
    ),
    (
        "iam",
        "DeleteRolePolicy",
        "Pipeline role policy deleted",
        "delete a pipeline role's policy",
        &["roleName"],
    ),
    (
        "iam",
        "AttachRolePolicy",
        "Policy attached to a pipeline role",
        "attach a policy to a pipeline role",
        &["roleName"],
    ),
    (
        "iam",
        "DetachRolePolicy",
        "Policy detached from a pipeline role",
        "detach a policy from a pipeline role",
        &["roleName"],
    ),
    (
        "iam",
        "UpdateAssumeRolePolicy",
        "Pipeline role trust changed",
        "change a pipeline role's trust",
        &["roleName"],
    ),
    (
        "iam",
        "PutRolePermissionsBoundary",
        "Pipeline role permissions boundary set",
        "set a pipeline role's permissions boundary",
        &["roleName"],
    ),
    (
        "events",
        "PutPermission",
        "Central event bus permission changed",
        "change the central event bus's permission",
        &["eventBusName"],
    ),
    (
        "events",
        "RemovePermission",
        "Central event bus permission removed",
        "remove the central event bus's permission",
        &["eventBusName"],
    ),
    (
        "events",
        "UpdateEventBus",
        "Central event bus changed",
        "change the central event bus",
        &["name"],
    ),
    (
        "events",
        "DeleteEventBus",
        "Central event bus deleted",
        "delete the central event bus",
        &["name"],
    ),
    (
        "sns",
        "PutDataProtectionPolicy",
        "SNS topic data protection policy changed",
        "change an SNS topic's data protection policy",
        &["resourceArn"],
    ),
    (
        "monitoring",
        "DisableAlarmActions",
        "Bot-down alarm actions disabled",
        "disable the bot-down alarms' actions",
        &["alarmNames"],
    ),
    (
        "monitoring",
        "DeleteAlarms",
        "Bot-down alarms deleted",
        "delete the bot-down alarms",
        &["alarmNames"],
    ),
    (
        "monitoring",
        "PutMetricAlarm",
        "Bot-down alarm changed",
        "change a bot-down alarm",
        &["alarmName"],
    ),
    (
        "ecs",
        "UpdateService",
        "The bot's ECS service changed",
        "change the bot's ECS service",
        &["service"],
    ),
    (
        "ecs",
        "DeleteService",
        "The bot's ECS service deleted",
        "delete the bot's ECS service",
        &["service"],
    ),
    (
        "organizations",
        "LeaveOrganization",
        "An account left the Organization",
        "leave the Organization",
        &["accountId"],
    ),
    (
        "organizations",
        "RemoveAccountFromOrganization",
        "An account removed from the Organization",
        "remove an account from the Organization",
        &["accountId"],
    ),
    (
        "account",
        "PutAccountName",
        "Account name changed",
        "change the account's name",
        &["accountName"],
    ),
    (
        "s3",
        "PutBucketLifecycle",
        "Bucket lifecycle changed",
        "change a bucket lifecycle",
        &["bucketName"],
    ),
    (
        "s3",
        "PutBucketPolicy",
        "Bucket policy changed",
        "change a bucket policy",
        &["bucketName"],
    ),
    (
        "s3",
        "DeleteBucketPolicy",
        "Bucket policy deleted",
        "delete a bucket policy",
        &["bucketName"],
    ),
    // Only the quarantine policy (see `of`): lifting a quarantine is switching off a containment.
    (
        "iam",
        "DetachUserPolicy",
        "Quarantine lifted: AWSCompromisedKeyQuarantineV3 detached",
        "lift a quarantine",
        &["userName"],
    ),
];

/// The tamper call this record is, if it is one.
/// Every tamper call, as (event source without `.amazonaws.com`, event name): what the deployed rule must match.
pub fn calls() -> impl Iterator<Item = (&'static str, &'static str)> {
    CALLS.iter().map(|(source, name, ..)| (*source, *name))
}

pub fn of(record: &Record<'_>) -> Option<Tamper> {
    let source = record
        .text("/eventSource")?
        .strip_suffix(".amazonaws.com")?;
    let name = record.text("/eventName")?;
    let (_, _, what, attempt, params) =
        CALLS.iter().find(|(s, n, ..)| *s == source && *n == name)?;
    // DetachUserPolicy is a change to the pipeline only when it lifts a quarantine.
    if name == "DetachUserPolicy" {
        let policy = record.text("/requestParameters/policyArn")?;
        if !policy.ends_with(&format!("/{}", crate::contain::QUARANTINE_POLICY)) {
            return None;
        }
    }
    let resource = params.iter().find_map(|p| {
        let pointer = format!("/requestParameters/{p}");
        record.text(&pointer).map(str::to_owned).or_else(|| {
            // A list of names (DeleteAlarms' alarmNames): all of them.
            let names: Vec<&str> = record
                .value()
                .pointer(&pointer)?
                .as_array()?
                .iter()
                .filter_map(serde_json::Value::as_str)
                .collect();
            (!names.is_empty()).then(|| names.join(", "))
        })
    });
    Some(Tamper {
        what,
        attempt,
        resource,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_what_stopped_and_for_what() {
        let v = json!({"eventSource": "cloudtrail.amazonaws.com", "eventName": "StopLogging",
                       "requestParameters": {"name": "ct-trail-monitor"}});
        let t = of(&Record::new(&v).unwrap()).unwrap();
        assert_eq!(t.what, "CloudTrail logging stopped");
        assert_eq!(t.resource.as_deref(), Some("ct-trail-monitor"));
        let v = json!({"eventSource": "sqs.amazonaws.com", "eventName": "PurgeQueue", "requestParameters": {}});
        let t = of(&Record::new(&v).unwrap()).unwrap();
        assert_eq!((t.what, t.resource), ("Queue purged", None));
        let v = json!({"eventSource": "iam.amazonaws.com", "eventName": "CreateUser"});
        assert!(of(&Record::new(&v).unwrap()).is_none());
        // Detaching a policy is a change to the pipeline only when it lifts a quarantine.
        let detach = |policy: &str| {
            json!({"eventSource": "iam.amazonaws.com", "eventName": "DetachUserPolicy",
                   "requestParameters": {"userName": "backdoor", "policyArn": policy}})
        };
        let lifted = detach("arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV3");
        let t = of(&Record::new(&lifted).unwrap()).unwrap();
        assert_eq!(t.resource.as_deref(), Some("backdoor"));
        let other = detach("arn:aws:iam::aws:policy/ReadOnlyAccess");
        assert!(of(&Record::new(&other).unwrap()).is_none());
        let v = json!({"eventSource": "monitoring.amazonaws.com", "eventName": "DeleteAlarms",
                       "requestParameters": {"alarmNames": ["iam-alarm-bot-down", "iam-alarm-dead-letters"]}});
        let t = of(&Record::new(&v).unwrap()).unwrap();
        assert_eq!(
            t.resource.as_deref(),
            Some("iam-alarm-bot-down, iam-alarm-dead-letters")
        );
    }
}
