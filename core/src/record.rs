//! The fields of a CloudTrail record that iam-alarm reads, borrowed from the JSON text in one pass.
//!
//! Everything else is skipped without being built. CloudTrail records vary by event version, identity type and
//! source, so every field is lenient: a value of an unexpected type reads as absent instead of failing the
//! record, and an alert never disappears because one field was odd.

use std::borrow::Cow;
use std::marker::PhantomData;
use std::ops::Deref;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

/// The record: the object EventBridge carries in `detail`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Record<'a> {
    #[serde(rename = "eventID", borrow)]
    pub event_id: Text<'a>,
    #[serde(borrow)]
    pub event_name: Text<'a>,
    #[serde(borrow)]
    pub event_source: Text<'a>,
    #[serde(borrow)]
    pub event_time: Text<'a>,
    #[serde(rename = "sourceIPAddress", borrow)]
    pub source_ip_address: Text<'a>,
    #[serde(borrow)]
    pub user_agent: Text<'a>,
    #[serde(borrow)]
    pub recipient_account_id: Text<'a>,
    #[serde(borrow)]
    pub aws_region: Text<'a>,
    #[serde(borrow)]
    pub error_code: Text<'a>,
    #[serde(borrow)]
    pub error_message: Text<'a>,
    #[serde(borrow)]
    pub user_identity: Obj<UserIdentity<'a>>,
    #[serde(borrow)]
    pub request_parameters: Obj<RequestParameters<'a>>,
    #[serde(borrow)]
    pub response_elements: Obj<ResponseElements<'a>>,
    #[serde(borrow)]
    pub additional_event_data: Obj<AdditionalEventData<'a>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct UserIdentity<'a> {
    #[serde(rename = "type", borrow)]
    pub kind: Text<'a>,
    #[serde(borrow)]
    pub arn: Text<'a>,
    #[serde(borrow)]
    pub principal_id: Text<'a>,
    #[serde(borrow)]
    pub account_id: Text<'a>,
    #[serde(borrow)]
    pub access_key_id: Text<'a>,
    #[serde(borrow)]
    pub invoked_by: Text<'a>,
    #[serde(borrow)]
    pub user_name: Text<'a>,
    #[serde(borrow)]
    pub identity_provider: Text<'a>,
    #[serde(borrow)]
    pub on_behalf_of: Obj<OnBehalfOf<'a>>,
    #[serde(borrow)]
    pub session_context: Obj<SessionContext<'a>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct OnBehalfOf<'a> {
    #[serde(borrow)]
    pub user_id: Text<'a>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct SessionContext<'a> {
    #[serde(borrow)]
    pub session_issuer: Obj<SessionIssuer<'a>>,
    #[serde(borrow)]
    pub attributes: Obj<SessionAttributes<'a>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct SessionIssuer<'a> {
    #[serde(borrow)]
    pub user_name: Text<'a>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct SessionAttributes<'a> {
    #[serde(borrow)]
    pub mfa_authenticated: Text<'a>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct RequestParameters<'a> {
    #[serde(borrow)]
    pub user_name: Text<'a>,
    #[serde(borrow)]
    pub policy_arn: Text<'a>,
    #[serde(borrow)]
    pub policy_name: Text<'a>,
    #[serde(borrow)]
    pub group_name: Text<'a>,
    #[serde(borrow)]
    pub access_key_id: Text<'a>,
    #[serde(borrow)]
    pub status: Text<'a>,
    #[serde(borrow)]
    pub path: Text<'a>,
    pub password_reset_required: Flag,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ResponseElements<'a> {
    #[serde(borrow)]
    pub user: Obj<ResponseUser<'a>>,
    #[serde(borrow)]
    pub access_key: Obj<ResponseUser<'a>>,
    #[serde(borrow)]
    pub login_profile: Obj<ResponseUser<'a>>,
    /// Console sign-in reports "Success" or "Failure" here instead of an `errorCode`.
    #[serde(rename = "ConsoleLogin", borrow)]
    pub console_login: Text<'a>,
}

/// `responseElements.user`, `.accessKey` and `.loginProfile` all name the user; each adds its own id.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ResponseUser<'a> {
    #[serde(borrow)]
    pub user_name: Text<'a>,
    #[serde(borrow)]
    pub arn: Text<'a>,
    #[serde(borrow)]
    pub user_id: Text<'a>,
    #[serde(borrow)]
    pub access_key_id: Text<'a>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct AdditionalEventData<'a> {
    #[serde(rename = "MFAUsed", borrow)]
    pub mfa_used: Text<'a>,
}

/// A string field, borrowed when it holds no escapes.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Text<'a>(Option<Cow<'a, str>>);

impl<'a> Text<'a> {
    /// The value, trimmed, when it is a non-empty string.
    pub fn get(&self) -> Option<&str> {
        self.0.as_deref().map(str::trim).filter(|s| !s.is_empty())
    }

    /// The value exactly as written, when it is a string (even an empty one).
    pub fn raw(&self) -> Option<&str> {
        self.0.as_deref()
    }
}

/// A boolean field.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Flag(pub Option<bool>);

/// A nested object; anything else reads as an empty one.
#[derive(Debug, Default)]
pub struct Obj<T>(T);

/// A nested object, or `None` for a value of any other type.
#[derive(Debug)]
pub struct IfObject<T>(pub Option<T>);

impl<T> Default for IfObject<T> {
    fn default() -> Self {
        IfObject(None)
    }
}

impl<T> Deref for Obj<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

/// The visitor methods for JSON types a field does not take: they read as the field's default (absent).
macro_rules! absent_otherwise {
    ($($method:ident),* $(,)?) => { $(absent_otherwise!(@ $method);)* };
    (@ visit_bool) => { fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> { Ok(Default::default()) } };
    (@ visit_i64) => { fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> { Ok(Default::default()) } };
    (@ visit_u64) => { fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> { Ok(Default::default()) } };
    (@ visit_f64) => { fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> { Ok(Default::default()) } };
    (@ visit_str) => { fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> { Ok(Default::default()) } };
    (@ visit_unit) => { fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> { Ok(Default::default()) } };
    (@ visit_seq) => {
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok(Default::default())
        }
    };
    (@ visit_map) => {
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            Ok(Default::default())
        }
    };
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for TextVisitor<'a> {
            type Value = Text<'a>;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("any JSON value")
            }

            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Text<'a>, E> {
                Ok(Text(Some(Cow::Borrowed(v))))
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Text<'a>, E> {
                Ok(Text(Some(Cow::Owned(v.to_owned()))))
            }

            fn visit_string<E: de::Error>(self, v: String) -> Result<Text<'a>, E> {
                Ok(Text(Some(Cow::Owned(v))))
            }

            absent_otherwise!(
                visit_bool, visit_i64, visit_u64, visit_f64, visit_unit, visit_seq, visit_map
            );
        }
        deserializer.deserialize_any(TextVisitor(PhantomData))
    }
}

impl<'de> Deserialize<'de> for Flag {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FlagVisitor;
        impl<'de> Visitor<'de> for FlagVisitor {
            type Value = Flag;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("any JSON value")
            }

            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Flag, E> {
                Ok(Flag(Some(v)))
            }

            absent_otherwise!(
                visit_i64, visit_u64, visit_f64, visit_str, visit_unit, visit_seq, visit_map
            );
        }
        deserializer.deserialize_any(FlagVisitor)
    }
}

impl<'de, T: Deserialize<'de> + Default> Deserialize<'de> for Obj<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        IfObject::deserialize(deserializer).map(|o| Obj(o.0.unwrap_or_default()))
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for IfObject<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectVisitor<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjectVisitor<T> {
            type Value = IfObject<T>;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("any JSON value")
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<IfObject<T>, A::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(|t| IfObject(Some(t)))
            }

            absent_otherwise!(
                visit_bool, visit_i64, visit_u64, visit_f64, visit_str, visit_unit, visit_seq
            );
        }
        deserializer.deserialize_any(ObjectVisitor(PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_nested_fields_and_borrows_plain_strings() {
        let text = r#"{"eventName":"CreateUser","userIdentity":{"type":"IAMUser","sessionContext":
            {"attributes":{"mfaAuthenticated":"true"}}},"requestParameters":{"userName":"bob",
            "passwordResetRequired":true},"responseElements":{"user":{"userName":"b\u006fb"}}}"#;
        let r: Record = serde_json::from_str(text).unwrap();
        assert_eq!(r.event_name.get(), Some("CreateUser"));
        assert!(matches!(r.event_name.0, Some(Cow::Borrowed(_))));
        assert_eq!(r.user_identity.kind.get(), Some("IAMUser"));
        assert_eq!(
            r.user_identity
                .session_context
                .attributes
                .mfa_authenticated
                .get(),
            Some("true")
        );
        assert_eq!(r.request_parameters.user_name.get(), Some("bob"));
        assert_eq!(
            r.request_parameters.password_reset_required,
            Flag(Some(true))
        );
        assert_eq!(r.response_elements.user.user_name.get(), Some("bob"));
    }

    #[test]
    fn values_of_unexpected_types_read_as_absent() {
        let text = r#"{"eventName":5,"eventSource":["a",{"b":1}],"userIdentity":"root",
            "requestParameters":{"userName":{"x":[1,2]},"passwordResetRequired":"yes"},
            "responseElements":null,"eventTime":"  ","unknown":{"deep":[[[{}]]]}}"#;
        let r: Record = serde_json::from_str(text).unwrap();
        assert_eq!(r.event_name.get(), None);
        assert_eq!(r.event_source.get(), None);
        assert_eq!(r.user_identity.kind.get(), None);
        assert_eq!(r.request_parameters.user_name.get(), None);
        assert_eq!(r.request_parameters.password_reset_required, Flag(None));
        assert_eq!(r.response_elements.user.user_name.get(), None);
        assert_eq!(r.event_time.get(), None);
        assert_eq!(r.event_time.raw(), Some("  "));
    }
}
