//! Who is who (`PEOPLE`, a TOML file): the AWS principals each Discord user acts as, so an alert can ask the
//! person who acted "was this you?".
//!
//! ```toml
//! [[person]]
//! discord = "500000000000000001"
//! aws = [
//!   "arn:aws:iam::111122223333:user/alice",   # an IAM user, by ARN
//!   "alice@example.com",                       # an IAM Identity Center user, by name or e-mail
//!   "alice-admin",                             # a role session name
//! ]
//! ```
//!
//! An entry names the actor as the alert resolves it: its ARN, its name ("alice@example.com" of "alice@example.com
//! via AWSAdministratorAccess"), or the session name of an assumed role. Names compare without regard to case (an
//! e-mail address or an Identity Center user name is not case-sensitive there); ARNs exactly.

use serde::Deserialize;

use crate::actor::Actor;

/// A people file, validated.
#[derive(Debug, Clone, Default)]
pub struct People {
    people: Vec<Person>,
}

#[derive(Debug, Clone)]
struct Person {
    discord: u64,
    aws: Vec<String>,
}

/// Why a people file can't be used: which entry and which field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{entry}: {problem}")]
pub struct PeopleError {
    pub entry: String,
    pub problem: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PersonSpec {
    discord: String,
    aws: Vec<String>,
}

impl People {
    /// Parse and validate a people file's text. Errors name the entry and the field.
    pub fn parse(text: &str) -> Result<People, PeopleError> {
        let entries = crate::toml_list::entries(text, "person").map_err(|p| PeopleError {
            entry: p.entry,
            problem: p.problem,
        })?;
        let mut people: Vec<Person> = Vec::new();
        for (entry, value) in entries {
            let problem = |problem: String| PeopleError {
                entry: entry.clone(),
                problem,
            };
            let spec =
                PersonSpec::deserialize(value).map_err(|e| problem(e.message().to_owned()))?;
            let discord = spec
                .discord
                .trim()
                .parse::<u64>()
                .ok()
                .filter(|id| *id > 0)
                .ok_or_else(|| {
                    problem(format!(
                        "`discord` {:?} is not a Discord user id (Developer Mode → right-click the user → Copy User ID)",
                        spec.discord
                    ))
                })?;
            let aws: Vec<String> = spec.aws.iter().map(|a| a.trim().to_owned()).collect();
            if aws.is_empty() || aws.iter().any(String::is_empty) {
                return Err(problem(
                    "`aws` must list at least one ARN or name, none empty".to_owned(),
                ));
            }
            if let Some(wild) = aws.iter().find(|a| a.contains('*')) {
                return Err(problem(format!(
                    "`aws` {wild:?}: no wildcards — a person is asked about what they did, not what anyone matching did"
                )));
            }
            for name in &aws {
                if let Some(other) = people.iter().find(|p| p.aws.iter().any(|a| same(a, name))) {
                    return Err(problem(format!(
                        "`aws` {name:?} is already <@{}>'s: one principal, one person to ask",
                        other.discord
                    )));
                }
            }
            people.push(Person { discord, aws });
        }
        Ok(People { people })
    }

    /// The Discord user to ask about what `actor` did, if the file names them.
    pub fn who(&self, actor: &Actor) -> Option<u64> {
        let session = actor
            .arn
            .as_deref()
            .filter(|arn| arn.contains(":assumed-role/"))
            .and_then(|arn| arn.rsplit('/').next());
        let names = [actor.arn.as_deref(), Some(actor.name.as_str()), session];
        self.people
            .iter()
            .find(|p| {
                p.aws
                    .iter()
                    .any(|a| names.iter().flatten().any(|n| same(a, n)))
            })
            .map(|p| p.discord)
    }

    pub fn len(&self) -> usize {
        self.people.len()
    }

    pub fn is_empty(&self) -> bool {
        self.people.is_empty()
    }
}

/// ARNs compare exactly; names (e-mails, Identity Center users, sessions) without regard to case.
fn same(entry: &str, name: &str) -> bool {
    if entry.starts_with("arn:") {
        entry == name
    } else {
        entry.eq_ignore_ascii_case(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actor::IdentityKind;

    fn actor(kind: IdentityKind, name: &str, arn: &str) -> Actor {
        Actor {
            kind,
            name: name.to_owned(),
            via: None,
            arn: Some(arn.to_owned()),
            account_id: None,
            access_key_id: None,
            invoked_by: None,
            lookup_name: None,
        }
    }

    const FILE: &str = r#"
[[person]]
discord = "500000000000000001"
aws = ["arn:aws:iam::111122223333:user/alice", "Alice@Example.com"]

[[person]]
discord = "500000000000000002"
aws = ["terraform-run-bob"]
"#;

    #[test]
    fn an_actor_is_found_by_arn_name_or_session() {
        let people = People::parse(FILE).unwrap();
        assert_eq!(people.len(), 2);
        let user = actor(
            IdentityKind::IamUser,
            "alice",
            "arn:aws:iam::111122223333:user/alice",
        );
        assert_eq!(people.who(&user), Some(500_000_000_000_000_001));
        let sso = actor(
            IdentityKind::IdentityCenter,
            "alice@example.com",
            "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Admin_0123/alice@example.com",
        );
        assert_eq!(people.who(&sso), Some(500_000_000_000_000_001));
        let session = actor(
            IdentityKind::AssumedRole,
            "terraform-run-bob",
            "arn:aws:sts::111122223333:assumed-role/ci-deployer/terraform-run-bob",
        );
        assert_eq!(people.who(&session), Some(500_000_000_000_000_002));
        let stranger = actor(
            IdentityKind::IamUser,
            "mallory",
            "arn:aws:iam::111122223333:user/mallory",
        );
        assert_eq!(people.who(&stranger), None);
        // An ARN is not a name: another account's alice is not this one.
        let elsewhere = actor(
            IdentityKind::IamUser,
            "alice",
            "arn:aws:iam::999999999999:user/alice",
        );
        assert_eq!(people.who(&elsewhere), None);
    }

    #[test]
    fn a_broken_file_is_refused_naming_the_entry_and_field() {
        let cases = [
            ("[[person]]\ndiscord = \"alice\"\naws = [\"x\"]", "person 1: `discord` \"alice\""),
            ("[[person]]\ndiscord = \"1\"\naws = []", "person 1: `aws` must list"),
            ("[[person]]\ndiscord = \"1\"\naws = [\"x\"]\nslack = \"y\"", "person 1: unknown field `slack`"),
            ("[[person]]\naws = [\"x\"]", "person 1: missing field `discord`"),
            ("[[person]]\ndiscord = \"1\"\naws = [\"arn:aws:iam::1:user/*\"]", "person 1: `aws` \"arn:aws:iam::1:user/*\": no wildcards"),
            ("[[person]]\ndiscord = \"1\"\naws = [\"a\"]\n[[person]]\ndiscord = \"2\"\naws = [\"A\"]", "person 2: `aws` \"A\" is already <@1>'s"),
            ("[[people]]", "the file: unknown field `people`"),
        ];
        for (text, expected) in cases {
            let e = People::parse(text).unwrap_err().to_string();
            assert!(e.starts_with(expected), "{text:?}: {e}");
        }
    }
}
