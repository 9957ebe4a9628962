//! Who made the call, by `userIdentity.type`: an IAM user, an assumed role's session (an IAM Identity Center
//! session as "person via permission set"), the root user, a federated, SAML or web-identity user, a service.

use crate::record::Record;
use crate::text::concat;

/// Who made the call.
#[derive(Debug, Clone, PartialEq)]
pub struct Actor {
    pub kind: IdentityKind,
    /// The person or tool, as a responder would name it. Never empty.
    pub name: String,
    /// Through what: the role, the IAM Identity Center permission set, the federating user, the identity provider.
    pub via: Option<String>,
    pub arn: Option<String>,
    pub account_id: Option<String>,
    pub access_key_id: Option<String>,
    /// The AWS service that made the call on the actor's behalf (`userIdentity.invokedBy`).
    pub invoked_by: Option<String>,
    /// The name CloudTrail's `Username` lookup attribute finds this actor by.
    pub lookup_name: Option<String>,
}

impl Actor {
    /// "alice@example.com via AdministratorAccess", "deploy (role ci-runner)", "root".
    pub fn display(&self) -> String {
        match (&self.kind, &self.via) {
            (IdentityKind::IdentityCenter, Some(set)) => concat(&[&self.name, " via ", set]),
            (_, Some(via)) if *via != self.name => concat(&[&self.name, " via ", via]),
            _ => self.name.clone(),
        }
    }

    pub fn is_root(&self) -> bool {
        self.kind == IdentityKind::Root
    }
}

/// `userIdentity.type`, with IAM Identity Center sessions told apart from other assumed roles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentityKind {
    IamUser,
    AssumedRole,
    /// An `AssumedRole` session of an `AWSReservedSSO_*` role.
    IdentityCenter,
    Root,
    FederatedUser,
    AwsService,
    AwsAccount,
    SamlUser,
    WebIdentityUser,
    IdentityCenterUser,
    Other(String),
    Missing,
}

impl IdentityKind {
    fn parse(s: Option<&str>) -> IdentityKind {
        match s {
            Some("IAMUser") => IdentityKind::IamUser,
            Some("AssumedRole") => IdentityKind::AssumedRole,
            Some("Root") => IdentityKind::Root,
            Some("FederatedUser") => IdentityKind::FederatedUser,
            Some("AWSService") => IdentityKind::AwsService,
            Some("AWSAccount") => IdentityKind::AwsAccount,
            Some("SAMLUser") => IdentityKind::SamlUser,
            Some("WebIdentityUser") => IdentityKind::WebIdentityUser,
            Some("IdentityCenterUser") => IdentityKind::IdentityCenterUser,
            Some(other) if !other.trim().is_empty() => IdentityKind::Other(other.to_owned()),
            _ => IdentityKind::Missing,
        }
    }

    pub fn label(&self) -> &str {
        match self {
            IdentityKind::IamUser => "IAM user",
            IdentityKind::AssumedRole => "Assumed role",
            IdentityKind::IdentityCenter => "IAM Identity Center",
            IdentityKind::Root => "Root user",
            IdentityKind::FederatedUser => "Federated user",
            IdentityKind::AwsService => "AWS service",
            IdentityKind::AwsAccount => "Another AWS account",
            IdentityKind::SamlUser => "SAML user",
            IdentityKind::WebIdentityUser => "Web identity user",
            IdentityKind::IdentityCenterUser => "Identity Center user",
            IdentityKind::Other(s) => s,
            IdentityKind::Missing => "Unknown",
        }
    }
}

// One match arm per CloudTrail identity type, read top to bottom like the documentation's table; split up, the
// per-type rules would scatter. (Longer than 60 lines for that reason.)
pub(crate) fn resolve(record: &Record<'_>) -> Actor {
    let owned = |field: &str| {
        let pointer = format!("/userIdentity/{field}");
        record.text(&pointer).map(str::to_owned)
    };
    let kind = IdentityKind::parse(record.text("/userIdentity/type"));
    let arn = owned("arn");
    let principal = owned("principalId");
    let issuer = owned("sessionContext/sessionIssuer/userName");
    let user_name = owned("userName");
    let mut actor = Actor {
        kind: kind.clone(),
        name: String::new(),
        via: None,
        arn: arn.clone(),
        account_id: owned("accountId"),
        access_key_id: owned("accessKeyId"),
        invoked_by: owned("invokedBy"),
        lookup_name: None,
    };
    let arn_resource = arn.as_deref().and_then(arn_resource);

    match kind {
        IdentityKind::IamUser => {
            actor.name = user_name
                .clone()
                .or_else(|| {
                    arn_resource
                        .and_then(|r| r.strip_prefix("user/"))
                        .map(last_segment)
                })
                .unwrap_or_default();
            actor.lookup_name = Some(actor.name.clone()).filter(|n| !n.is_empty());
        }
        IdentityKind::AssumedRole => {
            // arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION
            let mut parts = arn_resource
                .and_then(|r| r.strip_prefix("assumed-role/"))
                .map(|r| r.splitn(2, '/'))
                .into_iter()
                .flatten();
            let arn_role = parts.next().map(str::to_owned);
            let session = parts
                .next()
                .map(str::to_owned)
                .or_else(|| {
                    principal
                        .as_deref()
                        .and_then(|p| p.split_once(':'))
                        .map(|(_, s)| s.to_owned())
                })
                .filter(|s| !s.is_empty());
            let role = issuer.or(arn_role);
            if let Some(set) = role.as_deref().and_then(permission_set) {
                actor.kind = IdentityKind::IdentityCenter;
                actor.via = Some(set);
            } else {
                actor.via = role.clone();
            }
            actor.lookup_name = session.clone();
            actor.name = session.or(role).unwrap_or_default();
        }
        IdentityKind::Root => {
            actor.name = "root".to_owned();
            actor.lookup_name = Some("root".to_owned());
        }
        IdentityKind::FederatedUser => {
            actor.name = arn_resource
                .and_then(|r| r.strip_prefix("federated-user/"))
                .map(str::to_owned)
                .or_else(|| {
                    principal
                        .as_deref()
                        .and_then(|p| p.split_once(':'))
                        .map(|(_, n)| n.to_owned())
                })
                .unwrap_or_default();
            actor.via = issuer;
            actor.lookup_name = Some(actor.name.clone()).filter(|n| !n.is_empty());
        }
        IdentityKind::AwsService => {
            actor.name = actor.invoked_by.clone().unwrap_or_default();
        }
        IdentityKind::AwsAccount => {
            actor.name = actor
                .account_id
                .as_ref()
                .map(|a| format!("account {a}"))
                .unwrap_or_default();
        }
        IdentityKind::SamlUser => {
            // The SAML identityProvider is an opaque hash: not worth showing.
            actor.name = user_name.clone().unwrap_or_default();
        }
        IdentityKind::WebIdentityUser => {
            actor.name = user_name.clone().unwrap_or_default();
            actor.via = owned("identityProvider");
        }
        IdentityKind::IdentityCenterUser => {
            actor.name = user_name
                .clone()
                .or_else(|| owned("onBehalfOf/userId"))
                .unwrap_or_default();
        }
        IdentityKind::IdentityCenter | IdentityKind::Other(_) | IdentityKind::Missing => {}
    }
    if actor.name.is_empty() {
        // Best available identifier, for unknown types and sparse records alike.
        actor.name = user_name
            .or_else(|| arn_resource.map(last_segment))
            .or(principal)
            .or_else(|| actor.invoked_by.clone())
            .or_else(|| actor.access_key_id.clone())
            .or_else(|| actor.account_id.clone().map(|a| format!("account {a}")))
            .unwrap_or_else(|| "unknown identity".to_owned());
    }
    actor
}

/// The resource part of an ARN: `arn:aws:iam::123:user/path/alice` → `user/path/alice`.
fn arn_resource(arn: &str) -> Option<&str> {
    let mut parts = arn.splitn(6, ':');
    (parts.next()? == "arn").then_some(())?;
    parts.nth(4).filter(|r| !r.is_empty())
}

fn last_segment(s: &str) -> String {
    s.rsplit('/').next().unwrap_or(s).to_owned()
}

/// `AWSReservedSSO_<PermissionSet>_<hash>` → `<PermissionSet>` (permission-set names may contain `_`).
pub fn permission_set(role: &str) -> Option<String> {
    let rest = role.strip_prefix("AWSReservedSSO_")?;
    let set = match rest.rsplit_once('_') {
        Some((set, hash)) if !set.is_empty() && !hash.is_empty() => set,
        _ => rest,
    };
    (!set.is_empty()).then(|| set.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permission_sets_keep_underscores() {
        assert_eq!(
            permission_set("AWSReservedSSO_developer_admin_asdf").as_deref(),
            Some("developer_admin")
        );
        assert_eq!(
            permission_set("AWSReservedSSO_Admin").as_deref(),
            Some("Admin")
        );
        assert_eq!(permission_set("ci-runner"), None);
    }
}
