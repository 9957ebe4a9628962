//! AWS account names: alerts, digests and replies say "prod (111122223333)", not a bare id. Names come from
//! `ACCOUNT_NAMES` and, when enabled, from Organizations; an account without a name shows its id.

use std::collections::BTreeMap;

/// Account id → name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountNames(BTreeMap<String, String>);

/// Why an `ACCOUNT_NAMES` list was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadAccountNames {
    #[error("{0:?} is not `<12-digit account id>=<name>`")]
    Entry(String),
    #[error("account {0} is named twice")]
    Twice(String),
}

/// Twelve digits: the shape of an AWS account id.
pub fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

impl std::str::FromStr for AccountNames {
    type Err = BadAccountNames;

    fn from_str(list: &str) -> Result<Self, Self::Err> {
        AccountNames::parse(list)
    }
}

impl AccountNames {
    /// `111122223333=prod,444455556666=staging` (blanks around entries are ignored).
    pub fn parse(list: &str) -> Result<AccountNames, BadAccountNames> {
        let mut names = BTreeMap::new();
        for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (id, name) = entry
                .split_once('=')
                .map(|(i, n)| (i.trim(), n.trim()))
                .filter(|(i, n)| is_account_id(i) && !n.is_empty())
                .ok_or_else(|| BadAccountNames::Entry(entry.to_owned()))?;
            if names.insert(id.to_owned(), displayable(name)).is_some() {
                return Err(BadAccountNames::Twice(id.to_owned()));
            }
        }
        Ok(AccountNames(names))
    }

    pub fn from_pairs(pairs: impl IntoIterator<Item = (String, String)>) -> AccountNames {
        AccountNames(
            pairs
                .into_iter()
                .map(|(id, name)| (id, displayable(&name)))
                .collect(),
        )
    }

    pub fn name(&self, id: &str) -> Option<&str> {
        self.0.get(id).map(String::as_str)
    }

    /// "prod (111122223333)", or the id alone when it has no name.
    pub fn label(&self, id: &str) -> String {
        label(self.name(id), id)
    }

    /// These names, with `other`'s for accounts these do not name (explicit names win over looked-up ones).
    pub fn or(&self, other: &AccountNames) -> AccountNames {
        let mut merged = other.0.clone();
        merged.extend(self.0.clone());
        AccountNames(merged)
    }

    /// An account id, or a known account's name (any case) → its id.
    pub fn resolve(&self, input: &str) -> Option<String> {
        let input = input.trim();
        if is_account_id(input) {
            return Some(input.to_owned());
        }
        self.0
            .iter()
            .find(|(_, name)| name.eq_ignore_ascii_case(input))
            .map(|(id, _)| id.clone())
    }

    /// (id, name), by id.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(i, n)| (i.as_str(), n.as_str()))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// An account name as every reply may show it unescaped (`/health` lines, labels in titles): letters, digits and
/// plain punctuation kept, anything Discord reads as a mention, link or formatting replaced, at most 64 characters.
/// Organizations lets an account be named with any printable character.
fn displayable(name: &str) -> String {
    name.chars()
        .take(64)
        .map(|c| {
            if c.is_alphanumeric() || " -_.,+=()/&'".contains(c) {
                c
            } else {
                '·'
            }
        })
        .collect()
}

/// "prod (111122223333)", or the id alone.
pub fn label(name: Option<&str>, id: &str) -> String {
    match name {
        Some(name) => format!("{name} ({id})"),
        None => id.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_label_and_resolve() {
        let names = AccountNames::parse(" 111122223333=prod , 444455556666=staging,").unwrap();
        assert_eq!(names.label("111122223333"), "prod (111122223333)");
        assert_eq!(names.label("999999999999"), "999999999999");
        assert_eq!(names.resolve("Staging").as_deref(), Some("444455556666"));
        assert_eq!(
            names.resolve("999999999999").as_deref(),
            Some("999999999999")
        );
        assert_eq!(names.resolve("qa"), None);
    }

    #[test]
    fn bad_lists_name_the_entry() {
        let e = AccountNames::parse("111122223333=prod,12345=short").unwrap_err();
        assert!(e.to_string().contains("12345=short"), "{e}");
        assert!(AccountNames::parse("111122223333=").is_err());
        let twice = AccountNames::parse("111122223333=a,111122223333=b").unwrap_err();
        assert_eq!(twice, BadAccountNames::Twice("111122223333".into()));
    }

    #[test]
    fn names_cannot_mention_link_or_format() {
        let names = AccountNames::from_pairs([(
            "111122223333".to_owned(),
            "@everyone <@&1> [x](https://e.vil) **prod**".to_owned(),
        )]);
        let label = names.label("111122223333");
        assert!(
            !label.contains('@')
                && !label.contains('<')
                && !label.contains('[')
                && !label.contains('*')
        );
        assert!(label.ends_with("prod·· (111122223333)"), "{label}");
    }

    #[test]
    fn explicit_names_win_over_looked_up_ones() {
        let explicit = AccountNames::parse("111122223333=prod").unwrap();
        let looked_up =
            AccountNames::parse("111122223333=Production,444455556666=staging").unwrap();
        let merged = explicit.or(&looked_up);
        assert_eq!(merged.name("111122223333"), Some("prod"));
        assert_eq!(merged.name("444455556666"), Some("staging"));
    }
}
