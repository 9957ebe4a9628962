//! Who wrote a queue message. Only SNS notifications signed by SNS, from one of our topics, are believed: anyone
//! who may `sqs:SendMessage` could otherwise forge alerts, or forge heartbeats while real alerts go nowhere.
//!
//! This module is the pure half: it reads the signed fields, builds the string SNS signed (as AWS documents it
//! for `SignatureVersion` 1 and 2), and says whether the signing certificate's URL and the topic are acceptable.
//! Fetching the certificate and checking the signature is the binary's (`src/verify.rs`).

use serde::Deserialize;

/// Why a message was not believed, for the log, the `iam_alarm_rejected_total{reason}` counter and the
/// watchdog's announcement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Rejected {
    /// Not an SNS notification at all: a bare EventBridge event or CloudTrail record, raw message delivery.
    NotSns,
    /// An SNS message without a usable signature (missing fields, an unknown `SignatureVersion`).
    Unsigned,
    /// Signed, but not from one of the topics in `TOPIC_ARN`.
    ForeignTopic,
    /// The signing certificate is not SNS's (`SigningCertURL` outside `SNS_CERT_URL_PREFIX`).
    ForeignCertificate,
    /// The signature does not match the message.
    BadSignature,
}

impl Rejected {
    pub const ALL: [Rejected; 5] = [
        Rejected::NotSns,
        Rejected::Unsigned,
        Rejected::ForeignTopic,
        Rejected::ForeignCertificate,
        Rejected::BadSignature,
    ];

    /// The `reason` label and the words of the log and the announcement.
    pub fn label(self) -> &'static str {
        match self {
            Rejected::NotSns => "not SNS",
            Rejected::Unsigned => "unsigned",
            Rejected::ForeignTopic => "another topic",
            Rejected::ForeignCertificate => "foreign certificate",
            Rejected::BadSignature => "bad signature",
        }
    }
}

impl std::fmt::Display for Rejected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

/// The hash SNS signed with (RSA PKCS#1 v1.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Digest {
    /// `SignatureVersion` 1.
    Sha1,
    /// `SignatureVersion` 2.
    Sha256,
}

/// The fields of an SNS message that its signature covers, and the signature.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SignedMessage {
    #[serde(rename = "Type")]
    pub kind: String,
    pub message_id: String,
    pub topic_arn: String,
    #[serde(default)]
    pub subject: Option<String>,
    pub message: String,
    pub timestamp: String,
    #[serde(default)]
    pub token: Option<String>,
    #[serde(rename = "SubscribeURL", default)]
    pub subscribe_url: Option<String>,
    pub signature_version: String,
    pub signature: String,
    #[serde(rename = "SigningCertURL")]
    pub signing_cert_url: String,
}

/// What must hold besides the signature itself.
#[derive(Debug, Clone)]
pub struct Policy {
    /// The topics whose notifications are believed (`TOPIC_ARN`).
    pub topics: Vec<String>,
    /// Where signing certificates may come from (`SNS_CERT_URL_PREFIX`); `None`: SNS's own,
    /// `https://sns.<region>.amazonaws.com/…​.pem`.
    pub cert_url_prefix: Option<String>,
}

impl SignedMessage {
    /// The signed fields of an SQS body, or why it cannot be believed before any signature is checked.
    pub fn read(body: &str, policy: &Policy) -> Result<SignedMessage, Rejected> {
        let value: serde_json::Value = serde_json::from_str(body.trim_start_matches('\u{FEFF}'))
            .map_err(|_| Rejected::NotSns)?;
        let looks_like_sns = value.get("Type").is_some_and(serde_json::Value::is_string)
            && value.get("TopicArn").is_some();
        if !looks_like_sns {
            return Err(Rejected::NotSns);
        }
        let message: SignedMessage =
            serde_json::from_value(value).map_err(|_| Rejected::Unsigned)?;
        message.digest().ok_or(Rejected::Unsigned)?;
        if !policy.topics.contains(&message.topic_arn) {
            return Err(Rejected::ForeignTopic);
        }
        if !cert_url_allowed(&message.signing_cert_url, policy.cert_url_prefix.as_deref()) {
            return Err(Rejected::ForeignCertificate);
        }
        Ok(message)
    }

    pub fn digest(&self) -> Option<Digest> {
        match self.signature_version.as_str() {
            "1" => Some(Digest::Sha1),
            "2" => Some(Digest::Sha256),
            _ => None,
        }
    }

    /// The string SNS signed: each signed field's name and value on lines of their own, in this order.
    pub fn string_to_sign(&self) -> String {
        let mut fields: Vec<(&str, &str)> =
            vec![("Message", &self.message), ("MessageId", &self.message_id)];
        if self.kind == "Notification" {
            if let Some(subject) = &self.subject {
                fields.push(("Subject", subject));
            }
        } else {
            // SubscriptionConfirmation and UnsubscribeConfirmation.
            fields.push(("SubscribeURL", self.subscribe_url.as_deref().unwrap_or("")));
        }
        fields.push(("Timestamp", &self.timestamp));
        if self.kind != "Notification" {
            fields.push(("Token", self.token.as_deref().unwrap_or("")));
        }
        fields.push(("TopicArn", &self.topic_arn));
        fields.push(("Type", &self.kind));
        fields
            .into_iter()
            .map(|(name, value)| format!("{name}\n{value}\n"))
            .collect()
    }
}

/// SNS's own certificates: `https://sns.<region>.amazonaws.com[.cn]/<name>.pem`; with a prefix, under it.
fn cert_url_allowed(url: &str, prefix: Option<&str>) -> bool {
    if let Some(prefix) = prefix {
        return url.starts_with(prefix) && url.ends_with(".pem") && !url.contains("..");
    }
    let Some(rest) = url.strip_prefix("https://sns.") else {
        return false;
    };
    let Some((host_rest, path)) = rest.split_once('/') else {
        return false;
    };
    let region = host_rest
        .strip_suffix(".amazonaws.com")
        .or_else(|| host_rest.strip_suffix(".amazonaws.com.cn"));
    let region_ok = region.is_some_and(|r| {
        !r.is_empty()
            && r.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    });
    region_ok && path.ends_with(".pem") && !path.contains(['/', '?', '#', '@'])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:sns-iam-user-alarm";

    fn policy() -> Policy {
        Policy {
            topics: vec![TOPIC.to_owned()],
            cert_url_prefix: None,
        }
    }

    fn notification() -> serde_json::Value {
        json!({
            "Type": "Notification", "MessageId": "m-1", "TopicArn": TOPIC,
            "Message": "{\"detail\":{}}", "Timestamp": "2026-11-20T09:00:01.000Z",
            "SignatureVersion": "2", "Signature": "c2ln",
            "SigningCertURL": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem",
            "UnsubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe"
        })
    }

    #[test]
    fn the_string_to_sign_is_the_documented_one() {
        let m = SignedMessage::read(&notification().to_string(), &policy()).unwrap();
        assert_eq!(m.digest(), Some(Digest::Sha256));
        assert_eq!(
            m.string_to_sign(),
            format!("Message\n{{\"detail\":{{}}}}\nMessageId\nm-1\nTimestamp\n2026-11-20T09:00:01.000Z\nTopicArn\n{TOPIC}\nType\nNotification\n")
        );
        let mut with_subject = notification();
        with_subject["Subject"] = json!("hi");
        let m = SignedMessage::read(&with_subject.to_string(), &policy()).unwrap();
        assert!(m
            .string_to_sign()
            .contains("MessageId\nm-1\nSubject\nhi\nTimestamp\n"));
        let mut confirmation = notification();
        confirmation["Type"] = json!("SubscriptionConfirmation");
        confirmation["Token"] = json!("t");
        confirmation["SubscribeURL"] = json!("https://x");
        let m = SignedMessage::read(&confirmation.to_string(), &policy()).unwrap();
        assert!(m
            .string_to_sign()
            .ends_with(&format!("SubscribeURL\nhttps://x\nTimestamp\n2026-11-20T09:00:01.000Z\nToken\nt\nTopicArn\n{TOPIC}\nType\nSubscriptionConfirmation\n")));
    }

    #[test]
    fn what_cannot_be_believed_is_named() {
        let read = |v: serde_json::Value| SignedMessage::read(&v.to_string(), &policy());
        assert_eq!(
            read(json!({"detail-type": "x", "detail": {}})),
            Err(Rejected::NotSns)
        );
        assert_eq!(
            read(json!({"eventName": "CreateUser"})),
            Err(Rejected::NotSns)
        );
        let mut other = notification();
        other["TopicArn"] = json!("arn:aws:sns:us-east-1:123456789012:other");
        assert_eq!(read(other), Err(Rejected::ForeignTopic));
        let mut unsigned = notification();
        unsigned.as_object_mut().unwrap().remove("Signature");
        assert_eq!(read(unsigned), Err(Rejected::Unsigned));
        let mut v3 = notification();
        v3["SignatureVersion"] = json!("3");
        assert_eq!(read(v3), Err(Rejected::Unsigned));
        for url in [
            "http://sns.us-east-1.amazonaws.com/a.pem",
            "https://sns.us-east-1.amazonaws.com.evil.example/a.pem",
            "https://evil.example/sns.us-east-1.amazonaws.com/a.pem",
            "https://sns.us-east-1.amazonaws.com@evil.example/a.pem",
            "https://sns.us-east-1.amazonaws.com/a.txt",
            "https://sns.us-east-1.amazonaws.com/x/../a.pem",
        ] {
            let mut foreign = notification();
            foreign["SigningCertURL"] = json!(url);
            assert_eq!(read(foreign), Err(Rejected::ForeignCertificate), "{url}");
        }
        let local = Policy {
            cert_url_prefix: Some("http://127.0.0.1:9/".to_owned()),
            ..policy()
        };
        let mut test_cert = notification();
        test_cert["SigningCertURL"] = json!("http://127.0.0.1:9/cert.pem");
        assert!(SignedMessage::read(&test_cert.to_string(), &local).is_ok());
    }
}
