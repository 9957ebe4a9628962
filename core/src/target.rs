//! The IAM user a call was about: named in the request or the response, the caller itself for self-service
//! calls, or named in a denied call's error message.

use crate::actor::{Actor, IdentityKind};
use crate::record::Record;
use crate::watch::Action;

/// The IAM user the call was about.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub user_name: String,
    pub arn: Option<String>,
    pub user_id: Option<String>,
    /// The call named no user, so it acted on the caller itself.
    pub is_caller: bool,
}

/// How CloudTrail names the root user in a request the root user makes about itself (e.g. `EnableMFADevice`).
const ROOT_USER_NAME: &str = "AWS ROOT USER";

pub(crate) fn resolve(
    record: &Record<'_>,
    actor: &Actor,
    action: Option<Action>,
) -> Option<Target> {
    let requested = record.text("/requestParameters/userName");
    if actor.is_root() && requested == Some(ROOT_USER_NAME) {
        return Some(Target {
            user_name: actor.name.clone(),
            arn: actor.arn.clone(),
            user_id: None,
            is_caller: true,
        });
    }
    let named = requested
        .or_else(|| record.text("/responseElements/user/userName"))
        .or_else(|| record.text("/responseElements/accessKey/userName"))
        .or_else(|| record.text("/responseElements/loginProfile/userName"));
    let arn = record.text("/responseElements/user/arn").map(str::to_owned);
    let user_id = record
        .text("/responseElements/user/userId")
        .map(str::to_owned);
    if let Some(name) = named {
        // Named only in the response, and that is the caller: a self-service call.
        let is_caller =
            requested.is_none() && actor.kind == IdentityKind::IamUser && actor.name == name;
        return Some(Target {
            user_name: name.to_owned(),
            arn,
            user_id,
            is_caller,
        });
    }
    // Self-service calls (a user managing their own keys or password) name no user: the target is the caller.
    let self_service = matches!(
        action,
        Some(
            Action::CreateAccessKey
                | Action::DeleteAccessKey
                | Action::UpdateAccessKey
                | Action::CreateLoginProfile
                | Action::UpdateLoginProfile
                | Action::DeleteLoginProfile
                | Action::EnableMFADevice
                | Action::DeactivateMFADevice
                | Action::UploadSSHPublicKey
                | Action::UploadSigningCertificate
        )
    );
    let caller_is_a_user = actor.kind == IdentityKind::IamUser || actor.is_root();
    if self_service && caller_is_a_user {
        // The root user's own access key is the most dangerous credential an account can get: named as such.
        return Some(Target {
            user_name: actor.name.clone(),
            arn: actor.arn.clone(),
            user_id: None,
            is_caller: true,
        });
    }
    // A denied call without request parameters still says whom it aimed at in its error message.
    record
        .text("/errorMessage")
        .and_then(user_in_error_message)
        .map(|name| Target {
            user_name: name,
            arn: None,
            user_id: None,
            is_caller: false,
        })
}

/// The user an `AccessDenied` message names: "… on resource: user ceo …" or "… on resource: arn:…:user/path/ceo …".
fn user_in_error_message(message: &str) -> Option<String> {
    let resource = message.split("on resource: ").nth(1)?;
    let resource = resource.split(" because").next()?.split_whitespace();
    let words: Vec<&str> = resource.collect();
    let name = match words.as_slice() {
        ["user", name, ..] => *name,
        [arn, ..] => arn.rsplit_once(":user/")?.1.rsplit('/').next()?,
        [] => return None,
    };
    let name = name.trim_end_matches(['.', ',']);
    (!name.is_empty()).then(|| name.to_owned())
}
