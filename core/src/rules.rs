//! Alert rules (`ALERT_RULES`, a TOML file): a team's decisions about what is routine. The first rule whose every
//! given field matches decides: suppress the alert, set its severity, and/or drop its mention. Each rule says why
//! (`reason`) and may expire (`expires`, a date after which it is ignored).
//!
//! ```toml
//! [[rule]]
//! name = "ci creates service users"
//! reason = "reviewed in pull requests"
//! expires = "2027-03-31"
//! action = "suppress"                  # or: severity = "low", and/or mention = false
//! [rule.match]
//! event = ["CreateUser", "DeleteUser"]
//! actor_arn = "arn:aws:sts::*:assumed-role/ci-deployer/*"
//! target = "svc-*"
//! source_ip = ["10.0.0.0/8"]
//! account = ["123456789012"]
//! outcome = "success"
//! ```

use chrono::NaiveDate;
use ipnet::IpNet;
use serde::Deserialize;

use crate::event::{Event, Origin};
use crate::severity::Severity;

/// A rules file, validated.
#[derive(Debug, Clone, Default)]
pub struct Rules {
    rules: Vec<Rule>,
}

#[derive(Debug, Clone)]
pub struct Rule {
    pub name: String,
    pub reason: String,
    pub expires: Option<NaiveDate>,
    pub suppress: bool,
    pub severity: Option<Severity>,
    /// `Some(false)`: never mention, whatever the severity.
    pub mention: Option<bool>,
    matcher: Matcher,
}

#[derive(Debug, Clone, Default)]
struct Matcher {
    event: Vec<String>,
    actor_arn: Vec<Glob>,
    target: Vec<Glob>,
    source_ip: Vec<IpNet>,
    account: Vec<String>,
    /// `Some(true)`: only successes; `Some(false)`: only failures.
    success: Option<bool>,
}

/// What the rules decided for one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// No rule matched: alert as the table says.
    Alert,
    /// A rule changed the alert (severity, mention); the event carries the change.
    Changed { rule: String },
    /// A rule suppressed it.
    Suppressed { rule: String },
}

/// Why a rules file can't be used: which rule (by name, or position) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{rule}: {problem}")]
pub struct RuleError {
    pub rule: String,
    pub problem: String,
}

/// A list of any of, or one.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn into_vec(self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s],
            OneOrMany::Many(v) => v,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleSpec {
    name: String,
    reason: String,
    expires: Option<toml::Value>,
    action: Option<String>,
    severity: Option<String>,
    mention: Option<bool>,
    #[serde(rename = "match", default)]
    matcher: MatchSpec,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct MatchSpec {
    event: Option<OneOrMany>,
    actor_arn: Option<OneOrMany>,
    target: Option<OneOrMany>,
    source_ip: Option<OneOrMany>,
    account: Option<OneOrMany>,
    outcome: Option<String>,
}

impl Rules {
    /// Parse and validate a rules file's text. Errors name the rule and the field.
    pub fn parse(text: &str) -> Result<Rules, RuleError> {
        let as_rule_error = |p: crate::toml_list::Problem| RuleError {
            rule: p.entry,
            problem: p.problem,
        };
        let rules = crate::toml_list::entries(text, "rule")
            .map_err(as_rule_error)?
            .into_iter()
            .map(|(label, value)| {
                let problem = |problem: String| RuleError {
                    rule: label.clone(),
                    problem,
                };
                let spec =
                    RuleSpec::deserialize(value).map_err(|e| problem(e.message().to_owned()))?;
                Rule::from_spec(spec).map_err(problem)
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Rules { rules })
    }

    /// What `rules check` warns about: `actor_arn` globs with a `*`, which stops at `/` and `:` (`**` crosses
    /// them) — worth a look wherever a rule was written when `*` crossed them.
    pub fn warnings(&self) -> Vec<String> {
        self.rules
            .iter()
            .filter(|r| r.matcher.actor_arn.iter().any(Glob::has_single_star))
            .map(|r| {
                format!(
                    "rule {:?}: `*` in `match.actor_arn` stops at `/` and `:` (an ARN's parts); use `**` to match across them",
                    r.name
                )
            })
            .collect()
    }

    /// Rules whose `expires` date is before `today`: ignored (and worth a warning).
    pub fn expired(&self, today: NaiveDate) -> Vec<&Rule> {
        self.rules.iter().filter(|r| r.is_expired(today)).collect()
    }

    /// Apply the first matching rule that has not expired to `event`. Suppression is the caller's to carry out.
    pub fn apply(&self, event: &mut Event, today: NaiveDate) -> Verdict {
        // A change to the pipeline itself may be lowered, never suppressed.
        let tamper = event.tamper.is_some();
        let suppress_forbidden = |r: &Rule| tamper && r.suppress;
        let applies = |r: &&Rule| !r.is_expired(today) && !suppress_forbidden(r);
        let Some(rule) = self
            .rules
            .iter()
            .filter(applies)
            .find(|r| r.matcher.matches(event))
        else {
            return Verdict::Alert;
        };
        if rule.suppress {
            return Verdict::Suppressed {
                rule: rule.name.clone(),
            };
        }
        if let Some(severity) = rule.severity {
            event.severity = severity;
            event.severity_reason = "set by a rule";
        }
        if rule.mention == Some(false) {
            event.mention = false;
        }
        Verdict::Changed {
            rule: rule.name.clone(),
        }
    }

    pub fn len(&self) -> usize {
        self.rules.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Rule> {
        self.rules.iter()
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }
}

impl Rule {
    fn is_expired(&self, today: NaiveDate) -> bool {
        self.expires.is_some_and(|d| d < today)
    }

    fn from_spec(spec: RuleSpec) -> Result<Rule, String> {
        if spec.name.trim().is_empty() {
            return Err("`name` is empty".to_owned());
        }
        if spec.reason.trim().is_empty() {
            return Err("`reason` is empty: say why this is safe".to_owned());
        }
        let suppress = match spec.action.as_deref() {
            None => false,
            Some("suppress") => true,
            Some(other) => return Err(format!("`action` {other:?} is not `suppress`")),
        };
        let severity = spec
            .severity
            .map(|s| {
                s.parse::<Severity>()
                    .map_err(|e| format!("`severity`: {e}"))
            })
            .transpose()?;
        if !suppress && severity.is_none() && spec.mention.is_none() {
            return Err(
                "does nothing: give `action = \"suppress\"`, `severity` or `mention`".to_owned(),
            );
        }
        Ok(Rule {
            expires: spec.expires.map(|v| date(&v)).transpose()?,
            matcher: Matcher::from_spec(spec.matcher)?,
            name: spec.name,
            reason: spec.reason,
            suppress,
            severity,
            mention: spec.mention,
        })
    }
}

/// `expires`: a TOML date (`2027-03-31`) or a string holding one.
fn date(value: &toml::Value) -> Result<NaiveDate, String> {
    let text = match value {
        toml::Value::String(s) => s.clone(),
        toml::Value::Datetime(d) => d.to_string(),
        other => return Err(format!("`expires` {other} is not a date")),
    };
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .map_err(|_| format!("`expires` {text:?} is not a date like 2027-03-31"))
}

impl Matcher {
    fn from_spec(spec: MatchSpec) -> Result<Matcher, String> {
        let list = |v: Option<OneOrMany>| v.map(OneOrMany::into_vec).unwrap_or_default();
        let globs = |field: &str, v: Option<OneOrMany>| {
            list(v)
                .iter()
                .map(|p| Glob::new(p).map_err(|e| format!("`match.{field}` {p:?}: {e}")))
                .collect::<Result<Vec<_>, _>>()
        };
        let source_ip = list(spec.source_ip)
            .iter()
            .map(|c| {
                c.parse::<IpNet>()
                    .or_else(|_| c.parse::<std::net::IpAddr>().map(IpNet::from))
                    .map_err(|_| format!("`match.source_ip` {c:?} is not a CIDR like 10.0.0.0/8"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let success = match spec.outcome.as_deref() {
            None => None,
            Some("success") => Some(true),
            Some("failure") => Some(false),
            Some(other) => {
                return Err(format!(
                    "`match.outcome` {other:?} is neither `success` nor `failure`"
                ))
            }
        };
        Ok(Matcher {
            event: list(spec.event),
            actor_arn: globs("actor_arn", spec.actor_arn)?,
            target: globs("target", spec.target)?,
            source_ip,
            account: list(spec.account),
            success,
        })
    }

    /// Every given field matches (a list: any of it).
    fn matches(&self, e: &Event) -> bool {
        let any_glob = |patterns: &[Glob], value: Option<&str>| {
            patterns.is_empty() || value.is_some_and(|v| patterns.iter().any(|p| p.matches(v)))
        };
        let ip = match &e.origin {
            Some(Origin::Address(a)) => a.parse::<std::net::IpAddr>().ok(),
            _ => None,
        };
        (self.event.is_empty() || self.event.contains(&e.event_name))
            && any_glob(&self.actor_arn, e.actor.arn.as_deref())
            && any_glob(
                &self.target,
                e.target.as_ref().map(|t| t.user_name.as_str()),
            )
            && (self.source_ip.is_empty()
                || ip.is_some_and(|ip| self.source_ip.iter().any(|n| n.contains(&ip))))
            && (self.account.is_empty()
                || e.account.as_ref().is_some_and(|a| self.account.contains(a)))
            && self.success.is_none_or(|s| s != e.outcome.is_failure())
    }
}

/// A pattern over ARNs and names: `*` matches within one part — never across `/` or `:`, so
/// `user/ci-*` cannot match `user/ci-x/backdoor` — `**` matches across parts, `?` one character of a part.
/// (Glob crates treat only `/` as a separator; an ARN's parts are split by `:` too.)
#[derive(Debug, Clone)]
struct Glob(Vec<char>);

impl Glob {
    fn new(pattern: &str) -> Result<Glob, String> {
        if pattern.contains("***") {
            return Err(
                "`***` means nothing: use `*` (within a part) or `**` (across parts)".to_owned(),
            );
        }
        Ok(Glob(pattern.chars().collect()))
    }

    /// Whether `*` (not `**`) occurs: it stops at `/` and `:`.
    fn has_single_star(&self) -> bool {
        let s: String = self.0.iter().collect();
        s.replace("**", "").contains('*')
    }

    fn matches(&self, value: &str) -> bool {
        let value: Vec<char> = value.chars().collect();
        glob_match(&self.0, &value)
    }
}

fn is_separator(c: char) -> bool {
    c == '/' || c == ':'
}

/// Matching by dynamic programming over (pattern position, value position): linear in their product, no
/// backtracking blow-up whatever the pattern.
fn glob_match(pattern: &[char], value: &[char]) -> bool {
    // reach[j]: the pattern so far can match value[..j].
    let mut reach = vec![false; value.len() + 1];
    reach[0] = true;
    let mut i = 0;
    while i < pattern.len() {
        let mut next = vec![false; value.len() + 1];
        match pattern[i] {
            '*' if pattern.get(i + 1) == Some(&'*') => {
                // `**`: any run of characters.
                let mut on = false;
                for j in 0..=value.len() {
                    on |= reach[j];
                    next[j] = on;
                }
                i += 2;
            }
            '*' => {
                // Any run without a separator.
                let mut on = false;
                for j in 0..=value.len() {
                    on = reach[j] || (on && j > 0 && !is_separator(value[j - 1]));
                    next[j] = on;
                }
                i += 1;
            }
            '?' => {
                for j in 1..=value.len() {
                    next[j] = reach[j - 1] && !is_separator(value[j - 1]);
                }
                i += 1;
            }
            literal => {
                for j in 1..=value.len() {
                    next[j] = reach[j - 1] && value[j - 1] == literal;
                }
                i += 1;
            }
        }
        reach = next;
    }
    reach[value.len()]
}

#[cfg(test)]
mod glob_tests {
    use super::*;

    fn m(pattern: &str, value: &str) -> bool {
        Glob::new(pattern).unwrap().matches(value)
    }

    #[test]
    fn a_star_stays_within_a_part_and_two_cross_them() {
        assert!(m("user/ci-*", "user/ci-runner"));
        assert!(!m("user/ci-*", "user/ci-x/backdoor"), "`*` stops at /");
        assert!(m("user/ci-**", "user/ci-x/backdoor"));
        assert!(m(
            "arn:aws:sts::*:assumed-role/ci-deployer/*",
            "arn:aws:sts::123456789012:assumed-role/ci-deployer/run-7"
        ));
        assert!(
            !m(
                "arn:aws:sts::*:assumed-role/ci-deployer/*",
                "arn:aws:sts::1:2:assumed-role/ci-deployer/x"
            ),
            "`*` stops at :"
        );
        assert!(m("svc-?", "svc-a") && !m("svc-?", "svc-ab") && !m("a?b", "a/b"));
        assert!(m("**", "anything/at:all") && m("*", "") && !m("*", "a/b"));
        assert!(!m("exact", "exact-not") && m("exact", "exact"));
        assert!(Glob::new("a***").is_err());
        assert!(Glob::new("user/*").unwrap().has_single_star());
        assert!(!Glob::new("user/**").unwrap().has_single_star());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{classify, WatchedEvents};

    const FILE: &str = r#"
[[rule]]
name = "ci creates service users"
reason = "reviewed in pull requests"
expires = 2027-03-31
action = "suppress"
[rule.match]
event = ["CreateUser", "DeleteUser"]
actor_arn = "arn:aws:sts::*:assumed-role/ci-deployer/*"
target = "svc-*"
source_ip = ["10.0.0.0/8"]
account = "123456789012"
outcome = "success"

[[rule]]
name = "key rotation is routine"
reason = "weekly rotation job"
severity = "low"
mention = false
[rule.match]
event = "CreateAccessKey"
"#;

    fn event(name: &str, arn: &str, target: &str, ip: &str) -> Event {
        let record = serde_json::json!({
            "eventSource": "iam.amazonaws.com", "eventName": name, "eventID": "e", "sourceIPAddress": ip,
            "recipientAccountId": "123456789012",
            "userIdentity": {"type": "AssumedRole", "arn": arn, "accountId": "123456789012"},
            "requestParameters": {"userName": target}
        });
        classify(&record.to_string(), &WatchedEvents::all()).unwrap()
    }

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn first_match_decides_and_every_field_must_match() {
        let rules = Rules::parse(FILE).unwrap();
        let ci = "arn:aws:sts::123456789012:assumed-role/ci-deployer/run-1";
        let today = day("2026-12-01");
        let mut e = event("CreateUser", ci, "svc-build", "10.1.2.3");
        assert_eq!(
            rules.apply(&mut e, today),
            Verdict::Suppressed {
                rule: "ci creates service users".into()
            }
        );
        for mut other in [
            event("CreateUser", ci, "alice", "10.1.2.3"),
            event("CreateUser", ci, "svc-build", "192.0.2.1"),
            event(
                "CreateUser",
                "arn:aws:sts::123456789012:assumed-role/admin/x",
                "svc-a",
                "10.0.0.1",
            ),
        ] {
            assert_eq!(rules.apply(&mut other, today), Verdict::Alert);
        }
        let mut key = event("CreateAccessKey", ci, "bob", "10.1.2.3");
        assert_eq!(key.severity, Severity::High);
        assert!(matches!(
            rules.apply(&mut key, today),
            Verdict::Changed { .. }
        ));
        assert_eq!(key.severity, Severity::Low);
        assert!(!key.mention);
    }

    #[test]
    fn an_expired_rule_is_ignored() {
        let rules = Rules::parse(FILE).unwrap();
        let ci = "arn:aws:sts::123456789012:assumed-role/ci-deployer/run-1";
        let mut e = event("CreateUser", ci, "svc-build", "10.1.2.3");
        let later = day("2027-04-01");
        assert_eq!(rules.apply(&mut e, later), Verdict::Alert);
        let expired: Vec<&str> = rules
            .expired(later)
            .iter()
            .map(|r| r.name.as_str())
            .collect();
        assert_eq!(expired, ["ci creates service users"]);
    }

    #[test]
    fn errors_name_the_rule_and_the_field() {
        let unknown = "[[rule]]\nname = \"x\"\nreason = \"y\"\naction = \"suppress\"\n[rule.match]\nactor = \"a\"\n";
        let e = Rules::parse(unknown).unwrap_err();
        assert!(e.rule.contains("rule 1") && e.rule.contains("\"x\""), "{e}");
        assert!(e.problem.contains("actor"), "{e}");
        let e = Rules::parse("[[rule]]\nname = \"x\"\naction = \"suppress\"\n").unwrap_err();
        assert!(e.problem.contains("reason"), "{e}");
        let e = Rules::parse("[[rule]]\nname = \"x\"\nreason = \"y\"\nseverity = \"urgent\"\n")
            .unwrap_err();
        assert!(e.problem.contains("severity"), "{e}");
        let e = Rules::parse("[[rule]]\nname = \"x\"\nreason = \"y\"\naction = \"suppress\"\n[rule.match]\nsource_ip = \"ten\"\n").unwrap_err();
        assert!(e.problem.contains("source_ip"), "{e}");
        assert!(Rules::parse("rules = 1").is_err());
    }
}
