//! Which IAM calls iam-alarm knows (the user lifecycle) and which of them raise alerts (`WATCHED_EVENTS`).

use std::fmt;
use std::str::FromStr;

/// The service whose calls are ours. A `CreateUser` of another service (AWS Transfer Family has one) is not.
pub const IAM_EVENT_SOURCE: &str = "iam.amazonaws.com";

/// An IAM user-lifecycle call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    CreateUser,
    DeleteUser,
    CreateAccessKey,
    DeleteAccessKey,
    UpdateAccessKey,
    CreateLoginProfile,
    UpdateLoginProfile,
    DeleteLoginProfile,
    AttachUserPolicy,
    DetachUserPolicy,
    PutUserPolicy,
    DeleteUserPolicy,
    AddUserToGroup,
    RemoveUserFromGroup,
    UpdateUser,
    EnableMFADevice,
    DeactivateMFADevice,
    DeleteVirtualMFADevice,
    CreateServiceSpecificCredential,
    UploadSSHPublicKey,
    UploadSigningCertificate,
    PutUserPermissionsBoundary,
    DeleteUserPermissionsBoundary,
}

impl Action {
    pub const ALL: [Action; 23] = [
        Action::CreateUser,
        Action::DeleteUser,
        Action::CreateAccessKey,
        Action::DeleteAccessKey,
        Action::UpdateAccessKey,
        Action::CreateLoginProfile,
        Action::UpdateLoginProfile,
        Action::DeleteLoginProfile,
        Action::AttachUserPolicy,
        Action::DetachUserPolicy,
        Action::PutUserPolicy,
        Action::DeleteUserPolicy,
        Action::AddUserToGroup,
        Action::RemoveUserFromGroup,
        Action::UpdateUser,
        Action::EnableMFADevice,
        Action::DeactivateMFADevice,
        Action::DeleteVirtualMFADevice,
        Action::CreateServiceSpecificCredential,
        Action::UploadSSHPublicKey,
        Action::UploadSigningCertificate,
        Action::PutUserPermissionsBoundary,
        Action::DeleteUserPermissionsBoundary,
    ];

    /// The CloudTrail `eventName`.
    pub fn event_name(self) -> &'static str {
        match self {
            Action::CreateUser => "CreateUser",
            Action::DeleteUser => "DeleteUser",
            Action::CreateAccessKey => "CreateAccessKey",
            Action::DeleteAccessKey => "DeleteAccessKey",
            Action::UpdateAccessKey => "UpdateAccessKey",
            Action::CreateLoginProfile => "CreateLoginProfile",
            Action::UpdateLoginProfile => "UpdateLoginProfile",
            Action::DeleteLoginProfile => "DeleteLoginProfile",
            Action::AttachUserPolicy => "AttachUserPolicy",
            Action::DetachUserPolicy => "DetachUserPolicy",
            Action::PutUserPolicy => "PutUserPolicy",
            Action::DeleteUserPolicy => "DeleteUserPolicy",
            Action::AddUserToGroup => "AddUserToGroup",
            Action::RemoveUserFromGroup => "RemoveUserFromGroup",
            Action::UpdateUser => "UpdateUser",
            Action::EnableMFADevice => "EnableMFADevice",
            Action::DeactivateMFADevice => "DeactivateMFADevice",
            Action::DeleteVirtualMFADevice => "DeleteVirtualMFADevice",
            Action::CreateServiceSpecificCredential => "CreateServiceSpecificCredential",
            Action::UploadSSHPublicKey => "UploadSSHPublicKey",
            Action::UploadSigningCertificate => "UploadSigningCertificate",
            Action::PutUserPermissionsBoundary => "PutUserPermissionsBoundary",
            Action::DeleteUserPermissionsBoundary => "DeleteUserPermissionsBoundary",
        }
    }

    /// What happened, as a title fragment: "IAM user created".
    pub fn headline(self) -> &'static str {
        match self {
            Action::CreateUser => "IAM user created",
            Action::DeleteUser => "IAM user deleted",
            Action::CreateAccessKey => "Access key created",
            Action::DeleteAccessKey => "Access key deleted",
            Action::UpdateAccessKey => "Access key status changed",
            Action::CreateLoginProfile => "Console password set",
            Action::UpdateLoginProfile => "Console password changed",
            Action::DeleteLoginProfile => "Console password removed",
            Action::AttachUserPolicy => "Policy attached to user",
            Action::DetachUserPolicy => "Policy detached from user",
            Action::PutUserPolicy => "Inline policy written on user",
            Action::DeleteUserPolicy => "Inline policy deleted from user",
            Action::AddUserToGroup => "User added to group",
            Action::RemoveUserFromGroup => "User removed from group",
            Action::UpdateUser => "IAM user renamed or moved",
            Action::EnableMFADevice => "MFA device enabled",
            Action::DeactivateMFADevice => "MFA device deactivated",
            Action::DeleteVirtualMFADevice => "Virtual MFA device deleted",
            Action::CreateServiceSpecificCredential => "Service-specific credential created",
            Action::UploadSSHPublicKey => "SSH public key uploaded",
            Action::UploadSigningCertificate => "Signing certificate uploaded",
            Action::PutUserPermissionsBoundary => "Permissions boundary set on user",
            Action::DeleteUserPermissionsBoundary => "Permissions boundary removed from user",
        }
    }

    /// What was attempted, for failed calls: "create IAM user".
    pub fn attempt(self) -> &'static str {
        match self {
            Action::CreateUser => "create IAM user",
            Action::DeleteUser => "delete IAM user",
            Action::CreateAccessKey => "create access key",
            Action::DeleteAccessKey => "delete access key",
            Action::UpdateAccessKey => "change access key status",
            Action::CreateLoginProfile => "set console password",
            Action::UpdateLoginProfile => "change console password",
            Action::DeleteLoginProfile => "remove console password",
            Action::AttachUserPolicy => "attach policy to user",
            Action::DetachUserPolicy => "detach policy from user",
            Action::PutUserPolicy => "write inline policy on user",
            Action::DeleteUserPolicy => "delete inline policy from user",
            Action::AddUserToGroup => "add user to group",
            Action::RemoveUserFromGroup => "remove user from group",
            Action::UpdateUser => "rename or move IAM user",
            Action::EnableMFADevice => "enable MFA device",
            Action::DeactivateMFADevice => "deactivate MFA device",
            Action::DeleteVirtualMFADevice => "delete virtual MFA device",
            Action::CreateServiceSpecificCredential => "create service-specific credential",
            Action::UploadSSHPublicKey => "upload SSH public key",
            Action::UploadSigningCertificate => "upload signing certificate",
            Action::PutUserPermissionsBoundary => "set permissions boundary on user",
            Action::DeleteUserPermissionsBoundary => "remove permissions boundary from user",
        }
    }

    /// A one-line summary of the change after the actor's name, as the words before and after the target:
    /// ("created IAM user ", "") reads "created IAM user bob".
    pub fn sentence(self) -> (&'static str, &'static str) {
        match self {
            Action::CreateUser => ("created IAM user ", ""),
            Action::DeleteUser => ("deleted IAM user ", ""),
            Action::CreateAccessKey => ("created an access key for ", ""),
            Action::DeleteAccessKey => ("deleted an access key of ", ""),
            Action::UpdateAccessKey => ("changed the status of an access key of ", ""),
            Action::CreateLoginProfile => ("set a console password for ", ""),
            Action::UpdateLoginProfile => ("changed the console password of ", ""),
            Action::DeleteLoginProfile => ("removed the console password of ", ""),
            Action::AttachUserPolicy => ("attached a policy to ", ""),
            Action::DetachUserPolicy => ("detached a policy from ", ""),
            Action::PutUserPolicy => ("wrote an inline policy on ", ""),
            Action::DeleteUserPolicy => ("deleted an inline policy from ", ""),
            Action::AddUserToGroup => ("added ", " to a group"),
            Action::RemoveUserFromGroup => ("removed ", " from a group"),
            Action::UpdateUser => ("renamed or moved IAM user ", ""),
            Action::EnableMFADevice => ("enabled an MFA device for ", ""),
            Action::DeactivateMFADevice => ("deactivated an MFA device of ", ""),
            Action::DeleteVirtualMFADevice => ("deleted a virtual MFA device of ", ""),
            Action::CreateServiceSpecificCredential => {
                ("created a service-specific credential for ", "")
            }
            Action::UploadSSHPublicKey => ("uploaded an SSH public key for ", ""),
            Action::UploadSigningCertificate => ("uploaded a signing certificate for ", ""),
            Action::PutUserPermissionsBoundary => ("set a permissions boundary on ", ""),
            Action::DeleteUserPermissionsBoundary => ("removed the permissions boundary of ", ""),
        }
    }

    /// Deletions and removed safeguards (MFA, a permissions boundary): what an attacker uses to hide or escalate.
    pub fn is_destructive(self) -> bool {
        matches!(
            self,
            Action::DeleteUser
                | Action::DeleteAccessKey
                | Action::DeleteLoginProfile
                | Action::DeactivateMFADevice
                | Action::DeleteVirtualMFADevice
                | Action::DeleteUserPermissionsBoundary
        )
    }

    /// Look up the action of a record: IAM's own calls only.
    pub fn of_record(event_source: &str, event_name: &str) -> Option<Action> {
        if event_source != IAM_EVENT_SOURCE {
            return None;
        }
        event_name.parse().ok()
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.event_name())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an IAM user-lifecycle event (known: {known})", known = known_names())]
pub struct UnknownAction(pub String);

fn known_names() -> String {
    Action::ALL.map(Action::event_name).join(", ")
}

impl FromStr for Action {
    type Err = UnknownAction;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Action::ALL
            .into_iter()
            .find(|a| a.event_name() == s)
            .ok_or_else(|| UnknownAction(s.to_owned()))
    }
}

/// The set of actions that raise alerts. Default: `CreateUser`, `DeleteUser`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchedEvents(Vec<Action>);

impl Default for WatchedEvents {
    fn default() -> Self {
        WatchedEvents(vec![Action::CreateUser, Action::DeleteUser])
    }
}

impl WatchedEvents {
    pub fn all() -> Self {
        WatchedEvents(Action::ALL.to_vec())
    }

    pub fn contains(&self, action: Action) -> bool {
        self.0.contains(&action)
    }

    pub fn actions(&self) -> &[Action] {
        &self.0
    }

    /// `CreateUser,DeleteUser` or `all`; names are case-sensitive as in CloudTrail, blanks are ignored.
    pub fn parse(list: &str) -> Result<Self, UnknownAction> {
        if list.trim().eq_ignore_ascii_case("all") {
            return Ok(Self::all());
        }
        let mut actions = Vec::new();
        for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let action: Action = name.parse()?;
            if !actions.contains(&action) {
                actions.push(action);
            }
        }
        if actions.is_empty() {
            return Err(UnknownAction(list.to_owned()));
        }
        actions.sort();
        Ok(WatchedEvents(actions))
    }
}

impl WatchedEvents {
    /// The EventBridge pattern that delivers exactly these calls (the shape of `deploy/event-pattern.json`).
    pub fn event_pattern(&self) -> serde_json::Value {
        let names: Vec<&str> = self.0.iter().map(|a| a.event_name()).collect();
        serde_json::json!({
            "source": ["aws.iam"],
            "detail-type": ["AWS API Call via CloudTrail"],
            "detail": {"eventSource": [IAM_EVENT_SOURCE], "eventName": names}
        })
    }
}

impl WatchedEvents {
    /// How a deployed rule's pattern falls short of [`Self::event_pattern`]: watched calls it no longer delivers,
    /// or filters that narrow it (on user names, identities, addresses, accounts …). Empty: it delivers every
    /// watched call, unfiltered. Judged from the pattern itself, so it holds against an emulator too.
    pub fn narrowing(&self, deployed: &serde_json::Value) -> Vec<String> {
        let mut problems = Vec::new();
        let Some(top) = deployed.as_object() else {
            return vec!["the pattern is not a JSON object".to_owned()];
        };
        for key in top.keys() {
            if !["source", "detail-type", "detail"].contains(&key.as_str()) {
                problems.push(format!("a filter on {key}"));
            }
        }
        let has = |key: &str, value: &str| {
            top.get(key)
                .and_then(string_list)
                .is_some_and(|list| list.iter().any(|s| s == value))
        };
        if !has("source", "aws.iam") {
            problems.push("source is not aws.iam".to_owned());
        }
        if !has("detail-type", "AWS API Call via CloudTrail") {
            problems.push("detail-type is not CloudTrail's API calls".to_owned());
        }
        let detail = top.get("detail").and_then(serde_json::Value::as_object);
        let Some(detail) = detail else {
            problems.push(
                "no detail filter: it would deliver far more than IAM calls, or nothing".to_owned(),
            );
            return problems;
        };
        for key in detail.keys() {
            if !["eventSource", "eventName"].contains(&key.as_str()) {
                problems.push(format!("a filter on {key}"));
            }
        }
        let source_ok = detail
            .get("eventSource")
            .and_then(string_list)
            .is_some_and(|list| list.iter().any(|s| s == IAM_EVENT_SOURCE));
        if !source_ok {
            problems.push(format!("eventSource is not {IAM_EVENT_SOURCE}"));
        }
        match detail.get("eventName").and_then(string_list) {
            None => problems.push("eventName is not a plain list of calls".to_owned()),
            Some(names) => {
                let missing: Vec<&str> = self
                    .0
                    .iter()
                    .map(|a| a.event_name())
                    .filter(|n| !names.iter().any(|d| d == n))
                    .collect();
                if !missing.is_empty() {
                    problems.push(format!("{} no longer delivered", missing.join(", ")));
                }
            }
        }
        problems
    }
}

/// A JSON array of plain strings (an EventBridge exact-match list); `None` for anything else.
fn string_list(v: &serde_json::Value) -> Option<Vec<String>> {
    v.as_array()?
        .iter()
        .map(|e| e.as_str().map(str::to_owned))
        .collect()
}

impl FromStr for WatchedEvents {
    type Err = UnknownAction;

    fn from_str(list: &str) -> Result<Self, Self::Err> {
        WatchedEvents::parse(list)
    }
}

impl fmt::Display for WatchedEvents {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.0.iter().map(|a| a.event_name()).collect();
        f.write_str(&names.join(","))
    }
}

#[cfg(test)]
mod narrowing_tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_pattern_is_judged_by_what_it_still_delivers() {
        let watched = WatchedEvents::default();
        assert!(watched.narrowing(&watched.event_pattern()).is_empty());
        let mut dropped = watched.event_pattern();
        dropped["detail"]["eventName"] = json!(["CreateUser"]);
        assert_eq!(
            watched.narrowing(&dropped),
            ["DeleteUser no longer delivered"]
        );
        let mut filtered = watched.event_pattern();
        filtered["detail"]["requestParameters"] =
            json!({"userName": [{"anything-but": {"prefix": "backdoor-"}}]});
        assert_eq!(
            watched.narrowing(&filtered),
            ["a filter on requestParameters"]
        );
        let mut account = watched.event_pattern();
        account["account"] = json!(["999999999999"]);
        assert_eq!(watched.narrowing(&account), ["a filter on account"]);
        let mut prefixed = watched.event_pattern();
        prefixed["detail"]["eventName"] = json!([{"prefix": "Create"}]);
        assert_eq!(
            watched.narrowing(&prefixed),
            ["eventName is not a plain list of calls"]
        );
        let mut more = watched.event_pattern();
        more["detail"]["eventName"] = json!(["CreateUser", "DeleteUser", "CreateAccessKey"]);
        assert!(
            watched.narrowing(&more).is_empty(),
            "delivering more narrows nothing"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_create_and_delete_user() {
        let w = WatchedEvents::default();
        assert!(w.contains(Action::CreateUser) && w.contains(Action::DeleteUser));
        assert!(!w.contains(Action::CreateAccessKey));
    }

    #[test]
    fn parse_accepts_lists_and_all_and_names_typos() {
        assert_eq!(WatchedEvents::parse("all").unwrap().actions().len(), 23);
        let w = WatchedEvents::parse(" CreateAccessKey , CreateUser,").unwrap();
        assert_eq!(w.to_string(), "CreateUser,CreateAccessKey");
        let err = WatchedEvents::parse("CreateUser,CreatUser").unwrap_err();
        assert!(err.to_string().contains("CreatUser"));
        assert!(WatchedEvents::parse(" , ").is_err());
    }

    #[test]
    fn only_iam_is_ours() {
        assert_eq!(
            Action::of_record("iam.amazonaws.com", "CreateUser"),
            Some(Action::CreateUser)
        );
        assert_eq!(
            Action::of_record("transfer.amazonaws.com", "CreateUser"),
            None
        );
        assert_eq!(
            Action::of_record("iam.amazonaws.com", "GetUserPolicy"),
            None
        );
    }
}
