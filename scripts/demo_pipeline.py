"""The demo's AWS side, against moto_server: build the pipeline, then make IAM changes and deliver their events.

Usage: demo_pipeline.py setup ENDPOINT          -> prints the queue URL
       demo_pipeline.py trigger ENDPOINT QUEUE  -> CreateUser + DeleteUser of IAM-test-user

moto cannot deliver EventBridge -> SNS, and it records no CloudTrail events, so `trigger` writes the CloudTrail
record of each real IAM call it made and publishes the EventBridge event to the SNS topic itself: exactly what
SNS puts on the queue in production.
"""

import datetime
import json
import pathlib
import string
import sys
import uuid

import boto3

REGION = "us-east-1"
ACCOUNT = "123456789012"
ROOT = pathlib.Path(__file__).resolve().parent.parent


def client(service, endpoint):
    return boto3.client(service, region_name=REGION, endpoint_url=endpoint,
                        aws_access_key_id="demo", aws_secret_access_key="demo")


def setup(endpoint):
    s3, trail = client("s3", endpoint), client("cloudtrail", endpoint)
    s3.create_bucket(Bucket="iam-alarm-demo-trail")
    trail.create_trail(Name="ct-trail-monitor", S3BucketName="iam-alarm-demo-trail", IsMultiRegionTrail=True)
    trail.start_logging(Name="ct-trail-monitor")

    sqs = client("sqs", endpoint)
    dlq = sqs.create_queue(QueueName="iam-alarm-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    queue = sqs.create_queue(QueueName="iam-alarm", Attributes={
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "5"})})["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]

    sns = client("sns", endpoint)
    topic = sns.create_topic(Name="sns-iam-user-alarm")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="security-team@example.com")

    events = client("events", endpoint)
    pattern = (ROOT / "deploy" / "event-pattern.json").read_text()
    events.put_rule(Name="eventbridge-iam-user-change", EventPattern=pattern, State="ENABLED")
    events.put_targets(Rule="eventbridge-iam-user-change", Targets=[{"Id": "sns", "Arn": topic}])
    # The tamper rule, narrowed to this pipeline's resources as Terraform's templatefile does.
    tamper = string.Template((ROOT / "deploy" / "tamper-pattern.json").read_text()).safe_substitute(
        trail_name="ct-trail-monitor", trail_arn=f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/ct-trail-monitor",
        user_change_rule="eventbridge-iam-user-change", tamper_rule="eventbridge-iam-alarm-tamper",
        heartbeat_rule="iam-alarm-heartbeat", topic_arn=topic, ops_topic_arn=f"{topic}-ops",
        queue_path=f"/{ACCOUNT}/iam-alarm", dlq_path=f"/{ACCOUNT}/iam-alarm-dlq", key_id="none", key_arn="none",
        bucket="iam-alarm-demo-trail", canary_rule="iam-alarm-canary", canary_schedule="iam-alarm-canary",
        canary_role="iam-alarm-canary", task_role="iam-alarm-none", execution_role="iam-alarm-none",
        forward_role="iam-alarm-none", contain_role="iam-alarm-none", central_bus="iam-alarm-none", bot_down_alarm="iam-alarm-bot-down",
        dead_letters_alarm="iam-alarm-dead-letters", ecs_service="iam-alarm-none")
    assert "${" not in tamper, "every placeholder of tamper-pattern.json rendered"  # ("$or" is EventBridge's)
    events.put_rule(Name="eventbridge-iam-alarm-tamper", EventPattern=tamper, State="ENABLED")
    events.put_targets(Rule="eventbridge-iam-alarm-tamper", Targets=[{"Id": "sns", "Arn": topic}])
    print(queue)


def record(event_name, user, response):
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    session = "you@example.com"
    role = "AWSReservedSSO_AdministratorAccess_0f1e2d3c4b5a6978"
    return {
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "AssumedRole",
            "principalId": f"AROAEXAMPLEDEMO00001:{session}",
            "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{session}",
            "accountId": ACCOUNT,
            "accessKeyId": "ASIAEXAMPLEDEMO00001",
            "sessionContext": {
                "sessionIssuer": {"type": "Role", "principalId": "AROAEXAMPLEDEMO00001",
                                  "arn": f"arn:aws:iam::{ACCOUNT}:role/aws-reserved/sso.amazonaws.com/{role}",
                                  "accountId": ACCOUNT, "userName": role},
                "attributes": {"creationDate": now, "mfaAuthenticated": "true"},
            },
        },
        "eventTime": now,
        "eventSource": "iam.amazonaws.com",
        "eventName": event_name,
        "awsRegion": REGION,
        "sourceIPAddress": "203.0.113.10",
        "userAgent": "aws-cli/2.22.4 md/awscrt#0.22.0 ua/2.0 os/linux",
        "requestParameters": {"userName": user},
        "responseElements": response,
        "requestID": str(uuid.uuid4()),
        "eventID": str(uuid.uuid4()),
        "readOnly": False,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": ACCOUNT,
    }


def deliver(endpoint, detail):
    event = {"version": "0", "id": str(uuid.uuid4()), "detail-type": "AWS API Call via CloudTrail",
             "source": "aws.iam", "account": ACCOUNT, "time": detail["eventTime"], "region": REGION,
             "resources": [], "detail": detail}
    sns = client("sns", endpoint)
    topic = next(t["TopicArn"] for t in sns.list_topics()["Topics"] if t["TopicArn"].endswith(":sns-iam-user-alarm"))
    sns.publish(TopicArn=topic, Message=json.dumps(event))


def trigger(endpoint):
    iam = client("iam", endpoint)
    created = iam.create_user(UserName="IAM-test-user")["User"]
    deliver(endpoint, record("CreateUser", "IAM-test-user", {"user": {
        "path": created["Path"], "userName": created["UserName"], "userId": created["UserId"],
        "arn": created["Arn"], "createDate": created["CreateDate"].strftime("%b %d, %Y, %I:%M:%S %p")}}))
    print("CreateUser IAM-test-user: done", flush=True)
    iam.delete_user(UserName="IAM-test-user")
    deliver(endpoint, record("DeleteUser", "IAM-test-user", None))
    print("DeleteUser IAM-test-user: done", flush=True)


if __name__ == "__main__":
    {"setup": setup, "trigger": trigger}[sys.argv[1]](sys.argv[2])
