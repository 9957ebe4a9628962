//! The facts particular to each call (the policy attached, the key created, the new name, …), in display order.

use crate::record::Record;
use crate::watch::Action;

#[derive(Debug, Clone, PartialEq)]
pub struct Detail {
    pub label: &'static str,
    pub value: String,
    /// Shown as code (identifiers, ARNs) rather than as prose.
    pub code: bool,
}

/// The label of an `UpdateUser`'s new name: the headline reads "old → new" from it.
pub const NEW_NAME: &str = "New name";

pub(crate) fn resolve(record: &Record<'_>, action: Option<Action>) -> Vec<Detail> {
    let mut out = Vec::new();
    let mut add = |label: &'static str, pointer: &str, code: bool| {
        if let Some(v) = record.text(pointer) {
            out.push(Detail {
                label,
                value: v.to_owned(),
                code,
            });
        }
    };
    match action {
        Some(Action::AttachUserPolicy | Action::DetachUserPolicy) => {
            add("Policy", "/requestParameters/policyArn", true);
        }
        Some(Action::PutUserPolicy | Action::DeleteUserPolicy) => {
            add("Inline policy", "/requestParameters/policyName", true);
        }
        Some(Action::AddUserToGroup | Action::RemoveUserFromGroup) => {
            add("Group", "/requestParameters/groupName", true);
        }
        Some(Action::CreateAccessKey) => add(
            "New access key",
            "/responseElements/accessKey/accessKeyId",
            true,
        ),
        Some(Action::DeleteAccessKey | Action::UpdateAccessKey) => {
            add("Access key", "/requestParameters/accessKeyId", true);
            add("New status", "/requestParameters/status", false);
        }
        Some(Action::CreateUser) => {
            add("User ARN", "/responseElements/user/arn", true);
            add("Path", "/requestParameters/path", true);
        }
        Some(Action::UpdateUser) => {
            add(NEW_NAME, "/requestParameters/newUserName", true);
            add("New path", "/requestParameters/newPath", true);
        }
        Some(
            Action::EnableMFADevice | Action::DeactivateMFADevice | Action::DeleteVirtualMFADevice,
        ) => add("MFA device", "/requestParameters/serialNumber", true),
        Some(Action::CreateServiceSpecificCredential) => {
            add("Service", "/requestParameters/serviceName", true);
            add(
                "Credential id",
                "/responseElements/serviceSpecificCredential/serviceSpecificCredentialId",
                true,
            );
        }
        Some(Action::UploadSSHPublicKey) => add(
            "SSH key id",
            "/responseElements/sSHPublicKey/sSHPublicKeyId",
            true,
        ),
        Some(Action::UploadSigningCertificate) => add(
            "Certificate id",
            "/responseElements/certificate/certificateId",
            true,
        ),
        Some(Action::PutUserPermissionsBoundary) => {
            add("Boundary", "/requestParameters/permissionsBoundary", true);
        }
        _ => {}
    }
    if let Some(reset) = record.flag("/requestParameters/passwordResetRequired") {
        out.push(Detail {
            label: "Password reset required",
            value: if reset { "yes" } else { "no" }.to_owned(),
            code: false,
        });
    }
    out
}
