//! Reading IAM policy documents for what the watchdog must know of a member's forwarding: may the forward role
//! still put events on the central bus, and does the central bus still admit the Organization. Only as much of
//! IAM's grammar as those two questions need: Allow and Deny statements, actions and resources with `*` and `?`
//! wildcards, and the `aws:PrincipalOrgID` condition. A document this cannot read grants nothing — the check
//! fails loudly rather than passing on a guess.

use serde_json::Value;

/// Whether `document` allows `action` on `resource` (an Allow matches and no Deny does).
pub fn allows(document: &Value, action: &str, resource: &str) -> bool {
    let matching = |effect: &str| {
        statements(document).any(|s| {
            s["Effect"] == effect
                && any_matches(&s["Action"], action)
                && (s.get("Resource").is_none() || any_matches(&s["Resource"], resource))
        })
    };
    matching("Allow") && !matching("Deny")
}

/// Whether a resource policy (the central bus's) lets the Organization's principals make `action`: an Allow
/// for any principal under `aws:PrincipalOrgID` — equal to `organization` when it is known — and no Deny of it.
pub fn admits_organization(document: &Value, action: &str, organization: Option<&str>) -> bool {
    let for_the_organization = |s: &Value| {
        let org = &s["Condition"]["StringEquals"]["aws:PrincipalOrgID"];
        let named = strings(org);
        !named.is_empty() && organization.is_none_or(|o| named.contains(&o))
    };
    let allowed = statements(document).any(|s| {
        s["Effect"] == "Allow" && any_matches(&s["Action"], action) && for_the_organization(s)
    });
    let denied =
        statements(document).any(|s| s["Effect"] == "Deny" && any_matches(&s["Action"], action));
    allowed && !denied
}

/// A document as IAM may return it: JSON, or JSON percent-encoded (`GetRolePolicy`).
pub fn parse_document(text: &str) -> Option<Value> {
    serde_json::from_str(text).ok().or_else(|| {
        let decoded = percent_encoding::percent_decode_str(text)
            .decode_utf8()
            .ok()?;
        serde_json::from_str(&decoded).ok()
    })
}

fn statements(document: &Value) -> impl Iterator<Item = &Value> {
    match &document["Statement"] {
        Value::Array(all) => all.iter().collect::<Vec<_>>().into_iter(),
        one @ Value::Object(_) => vec![one].into_iter(),
        _ => Vec::new().into_iter(),
    }
}

fn strings(v: &Value) -> Vec<&str> {
    match v {
        Value::String(s) => vec![s.as_str()],
        Value::Array(all) => all.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// Whether any pattern in `patterns` (a string or a list) matches `value`; actions ignore case, as IAM does.
fn any_matches(patterns: &Value, value: &str) -> bool {
    strings(patterns).iter().any(|p| {
        let (p, v) = (p.to_ascii_lowercase(), value.to_ascii_lowercase());
        wildcard(p.as_bytes(), v.as_bytes())
    })
}

/// IAM's wildcards: `*` any run of characters, `?` any one.
fn wildcard(pattern: &[u8], value: &[u8]) -> bool {
    match pattern.split_first() {
        None => value.is_empty(),
        Some((b'*', rest)) => (0..=value.len()).any(|skip| wildcard(rest, &value[skip..])),
        Some((b'?', rest)) => !value.is_empty() && wildcard(rest, &value[1..]),
        Some((c, rest)) => value.first() == Some(c) && wildcard(rest, &value[1..]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const BUS: &str = "arn:aws:events:us-east-1:111122223333:event-bus/iam-alarm";

    #[test]
    fn the_forward_role_s_policy_allows_putting_events_on_the_bus() {
        let module = json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "events:PutEvents", "Resource": BUS}]});
        assert!(allows(&module, "events:PutEvents", BUS));
        let wide =
            json!({"Statement": {"Effect": "Allow", "Action": ["events:*"], "Resource": "*"}});
        assert!(allows(&wide, "events:PutEvents", BUS));
        let elsewhere = json!({"Statement": [{"Effect": "Allow", "Action": "events:PutEvents",
            "Resource": "arn:aws:events:us-east-1:999999999999:event-bus/other"}]});
        assert!(!allows(&elsewhere, "events:PutEvents", BUS));
        let other_call = json!({"Statement": [{"Effect": "Allow", "Action": "events:Put?ule", "Resource": BUS}]});
        assert!(!allows(&other_call, "events:PutEvents", BUS));
        let denied = json!({"Statement": [
            {"Effect": "Allow", "Action": "events:PutEvents", "Resource": BUS},
            {"Effect": "Deny", "Action": "events:*", "Resource": "*"}]});
        assert!(!allows(&denied, "events:PutEvents", BUS));
        assert!(!allows(&json!("not a policy"), "events:PutEvents", BUS));
    }

    #[test]
    fn the_central_bus_admits_the_organization_and_only_it() {
        let module = json!({"Statement": [{"Sid": "MembersOfTheOrganizationForward", "Effect": "Allow",
            "Principal": "*", "Action": "events:PutEvents", "Resource": BUS,
            "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}}}]});
        assert!(admits_organization(
            &module,
            "events:PutEvents",
            Some("o-abc123")
        ));
        assert!(admits_organization(&module, "events:PutEvents", None));
        assert!(!admits_organization(
            &module,
            "events:PutEvents",
            Some("o-attacker")
        ));
        let one_account = json!({"Statement": [{"Effect": "Allow", "Principal": {"AWS": "444455556666"},
            "Action": "events:PutEvents", "Resource": BUS}]});
        assert!(!admits_organization(&one_account, "events:PutEvents", None));
        assert!(!admits_organization(&json!({}), "events:PutEvents", None));
    }

    #[test]
    fn a_percent_encoded_document_is_read() {
        let encoded = "%7B%22Statement%22%3A%5B%5D%7D";
        assert_eq!(parse_document(encoded), Some(json!({"Statement": []})));
        assert_eq!(parse_document("{\"a\":1}"), Some(json!({"a": 1})));
        assert_eq!(parse_document("%7Bbroken"), None);
    }
}
