//! The canary: a schedule makes one harmless IAM call — `TagUser` on a dedicated user, by a dedicated role — so
//! that an event goes all the way from CloudTrail to the bot on a clock. The heartbeat (a scheduled EventBridge
//! event) never passes CloudTrail; the canary does, so its silence tells that CloudTrail → EventBridge broke.

use crate::actor::IdentityKind;
use crate::event::Event;

/// The call the canary makes.
pub const CALL: &str = "TagUser";

/// Who makes the canary call, and on whom (`CANARY_USER_NAME`, `CANARY_ROLE_NAME`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Canary {
    pub user: String,
    pub role: String,
}

impl Default for Canary {
    fn default() -> Self {
        Canary {
            user: "iam-alarm-canary".to_owned(),
            role: "iam-alarm-canary".to_owned(),
        }
    }
}

impl Canary {
    /// The canary's own call: a successful `TagUser` of the canary user by a session of the canary role. The
    /// same call by anyone else, or on anyone else, is an ordinary event.
    pub fn is(&self, event: &Event) -> bool {
        let by_the_role = event.actor.kind == IdentityKind::AssumedRole
            && event.actor.via.as_deref() == Some(self.role.as_str());
        event.event_source == crate::watch::IAM_EVENT_SOURCE
            && event.event_name == CALL
            && !event.outcome.is_failure()
            && event
                .target
                .as_ref()
                .is_some_and(|t| t.user_name == self.user)
            && by_the_role
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn tag_user(role: &str, user: &str, error: Option<&str>) -> Event {
        let mut record = json!({
            "eventSource": "iam.amazonaws.com", "eventName": "TagUser", "eventID": "c-1",
            "eventTime": "2026-11-20T09:00:00Z",
            "userIdentity": {"type": "AssumedRole",
                "arn": format!("arn:aws:sts::123456789012:assumed-role/{role}/a1b2c3"),
                "sessionContext": {"sessionIssuer": {"type": "Role", "userName": role}}},
            "requestParameters": {"userName": user, "tags": [{"key": "iam-alarm-canary", "value": "2026-11-20T09:00:00Z"}]}
        });
        if let Some(code) = error {
            record["errorCode"] = json!(code);
        }
        Event::from_json(&record.to_string()).unwrap()
    }

    #[test]
    fn only_the_canary_roles_tag_of_the_canary_user_is_the_canary() {
        let canary = Canary::default();
        assert!(canary.is(&tag_user("iam-alarm-canary", "iam-alarm-canary", None)));
        assert!(!canary.is(&tag_user("mallory", "iam-alarm-canary", None)));
        assert!(!canary.is(&tag_user("iam-alarm-canary", "admin", None)));
        assert!(!canary.is(&tag_user(
            "iam-alarm-canary",
            "iam-alarm-canary",
            Some("AccessDenied")
        )));
    }
}
