//! A local HTTP stub for the two AWS calls moto can't serve: CloudTrail `LookupEvents` (not implemented) and IAM
//! `ListUsers` pagination (moto ignores `MaxItems`/`Marker`). It answers with the services' real wire shapes —
//! JSON 1.1 for CloudTrail, query/XML for IAM — including pagination tokens and `ThrottlingException`, and
//! forwards every other request to moto, so the bot talks to one endpoint per service as in production.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::{json, Value};

/// One scripted answer to `LookupEvents`.
#[derive(Clone, Debug)]
pub enum Lookup {
    Throttle,
    /// Events (CloudTrail records) and the `NextToken` to hand out.
    Page(Vec<Value>, Option<&'static str>),
}

#[derive(Default)]
struct Script {
    lookups: VecDeque<Lookup>,
    lookup_delay: Duration,
    /// Every LookupEvents request body, in order.
    lookup_requests: Vec<Value>,
    /// IAM users served by ListUsers, `page_size` per page; `None`: forward IAM to moto.
    users: Option<(Vec<String>, usize)>,
    list_users_markers: Vec<Option<String>>,
    /// Every request the stub received, answered or forwarded.
    requests: usize,
    /// The access key that signed each LookupEvents request, in order.
    lookup_keys: Vec<String>,
    /// Accounts where AssumeRole is refused (AccessDenied), as a trust policy would.
    deny_assume_in: Vec<String>,
    /// (role ARN, access key id) of every session moto issued through the stub.
    issued: Vec<(String, String)>,
    /// The `RoleSessionName` of every AssumeRole, in order.
    session_names: Vec<String>,
    /// The `SourceIdentity` of every AssumeRole that was answered, in order.
    source_identities: Vec<Option<String>>,
    /// Accounts whose reader role's trust policy does not allow `sts:SetSourceIdentity`.
    no_source_identity_in: Vec<String>,
}

#[derive(Clone)]
pub struct AwsStub {
    pub url: String,
    moto: String,
    script: Arc<Mutex<Script>>,
}

impl AwsStub {
    pub async fn start(moto: &str) -> AwsStub {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        let stub = AwsStub {
            url: format!("http://{addr}"),
            moto: moto.to_owned(),
            script: Arc::default(),
        };
        let app = Router::new().fallback(handle).with_state(stub.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        stub
    }

    pub fn script_lookups(&self, answers: impl IntoIterator<Item = Lookup>, delay: Duration) {
        let mut s = self.script.lock().unwrap();
        s.lookups.extend(answers);
        s.lookup_delay = delay;
    }

    pub fn serve_users(&self, names: Vec<String>, page_size: usize) {
        self.script.lock().unwrap().users = Some((names, page_size));
    }

    pub fn lookup_requests(&self) -> Vec<Value> {
        self.script.lock().unwrap().lookup_requests.clone()
    }

    /// How many requests reached the stub (every IAM/CloudTrail call routed to it).
    pub fn requests(&self) -> usize {
        self.script.lock().unwrap().requests
    }

    /// The access key that signed each LookupEvents request.
    pub fn lookup_keys(&self) -> Vec<String> {
        self.script.lock().unwrap().lookup_keys.clone()
    }

    pub fn deny_assume_in(&self, account: &str) {
        self.script
            .lock()
            .unwrap()
            .deny_assume_in
            .push(account.to_owned());
    }

    /// Every role a session was issued for through the stub.
    pub fn issued_roles(&self) -> Vec<String> {
        let s = self.script.lock().unwrap();
        s.issued.iter().map(|(r, _)| r.clone()).collect()
    }

    /// The session names AssumeRole was asked for, in order.
    /// The `SourceIdentity` of every AssumeRole that was answered, in order.
    pub fn source_identities(&self) -> Vec<Option<String>> {
        self.script.lock().unwrap().source_identities.clone()
    }

    /// Refuse AssumeRole with a `SourceIdentity` in `account`, as a trust policy without
    /// `sts:SetSourceIdentity` does.
    pub fn refuse_source_identity_in(&self, account: &str) {
        self.script
            .lock()
            .unwrap()
            .no_source_identity_in
            .push(account.to_owned());
    }

    pub fn session_names(&self) -> Vec<String> {
        self.script.lock().unwrap().session_names.clone()
    }

    /// The role ARN whose session signed with `key`.
    pub fn role_of_key(&self, key: &str) -> Option<String> {
        let s = self.script.lock().unwrap();
        s.issued
            .iter()
            .find(|(_, k)| k == key)
            .map(|(r, _)| r.clone())
    }

    pub fn list_users_markers(&self) -> Vec<Option<String>> {
        self.script.lock().unwrap().list_users_markers.clone()
    }
}

/// A CloudTrail `LookupEvents` entry for a record, as the API returns it.
pub fn lookup_entry(record: &Value) -> Value {
    let time = chrono::DateTime::parse_from_rfc3339(record["eventTime"].as_str().unwrap()).unwrap();
    json!({
        "EventId": record["eventID"],
        "EventName": record["eventName"],
        "ReadOnly": "false",
        "AccessKeyId": record["userIdentity"]["accessKeyId"],
        "EventTime": time.timestamp() as f64,
        "EventSource": record["eventSource"],
        "Username": record["userIdentity"]["userName"],
        "Resources": [],
        "CloudTrailEvent": record.to_string(),
    })
}

async fn handle(
    State(stub): State<AwsStub>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    stub.script.lock().unwrap().requests += 1;
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    if target.ends_with(".LookupEvents") {
        stub.script
            .lock()
            .unwrap()
            .lookup_keys
            .push(signing_key(&headers));
        return lookup_events(&stub, &body).await;
    }
    if target == "AWSEvents.TestEventPattern" {
        return test_event_pattern(&body);
    }
    let form = String::from_utf8_lossy(&body).into_owned();
    let action = form
        .split('&')
        .find_map(|kv| kv.strip_prefix("Action="))
        .unwrap_or("")
        .to_owned();
    if action == "AssumeRole" {
        return assume_role(&stub, method, uri, headers, body, &form).await;
    }
    let serve_iam = stub.script.lock().unwrap().users.is_some();
    if serve_iam && ["ListUsers", "ListAccessKeys", "ListMFADevices"].contains(&action.as_str()) {
        return iam(&stub, &action, &form);
    }
    forward(&stub, method, uri, headers, body).await
}

/// The access key id in a SigV4 `Authorization` header (`Credential=<key>/<date>/…`).
fn signing_key(headers: &HeaderMap) -> String {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    auth.split("Credential=")
        .nth(1)
        .and_then(|c| c.split('/').next())
        .unwrap_or("")
        .to_owned()
}

/// STS AssumeRole: refused (AccessDenied, STS's XML) in the accounts set so; else moto's answer, whose access
/// key is remembered with the role.
async fn assume_role(
    stub: &AwsStub,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
    form: &str,
) -> Response {
    let role = form_value(form, "RoleArn")
        .unwrap_or_default()
        .replace("%3A", ":");
    if let Some(name) = form_value(form, "RoleSessionName") {
        stub.script.lock().unwrap().session_names.push(name);
    }
    let source_identity = form_value(form, "SourceIdentity");
    let denied = {
        let s = stub.script.lock().unwrap();
        let in_ = |accounts: &[String]| accounts.iter().any(|a| role.contains(&format!(":{a}:")));
        in_(&s.deny_assume_in) || (source_identity.is_some() && in_(&s.no_source_identity_in))
    };
    if !denied {
        stub.script
            .lock()
            .unwrap()
            .source_identities
            .push(source_identity);
    }
    if denied {
        let xml = format!(
            "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>User: arn:aws:sts::123456789012:assumed-role/bot/x is not authorized to perform: sts:AssumeRole on resource: {role}</Message></Error><RequestId>1</RequestId></ErrorResponse>"
        );
        return (StatusCode::FORBIDDEN, [("content-type", "text/xml")], xml).into_response();
    }
    let response = forward(stub, method, uri, headers, body).await;
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap();
    let text = String::from_utf8_lossy(&bytes);
    if let Some(key) = text
        .split("<AccessKeyId>")
        .nth(1)
        .and_then(|k| k.split('<').next())
    {
        stub.script
            .lock()
            .unwrap()
            .issued
            .push((role, key.to_owned()));
    }
    Response::from_parts(parts, axum::body::Body::from(bytes))
}

async fn lookup_events(stub: &AwsStub, body: &[u8]) -> Response {
    let request: Value = serde_json::from_slice(body).unwrap_or_default();
    let (answer, delay) = {
        let mut s = stub.script.lock().unwrap();
        s.lookup_requests.push(request);
        (
            s.lookups
                .pop_front()
                .unwrap_or(Lookup::Page(Vec::new(), None)),
            s.lookup_delay,
        )
    };
    tokio::time::sleep(delay).await;
    let json = |status: StatusCode, v: Value| {
        (
            status,
            [("content-type", "application/x-amz-json-1.1")],
            v.to_string(),
        )
            .into_response()
    };
    match answer {
        Lookup::Throttle => json(
            StatusCode::BAD_REQUEST,
            json!({"__type": "ThrottlingException", "message": "Rate exceeded"}),
        ),
        Lookup::Page(records, next) => {
            let mut out = json!({"Events": records.iter().map(lookup_entry).collect::<Vec<_>>()});
            if let Some(token) = next {
                out["NextToken"] = json!(token);
            }
            json(StatusCode::OK, out)
        }
    }
}

/// moto answers TestEventPattern with nothing; this matches like EventBridge does for exact-value patterns
/// (arrays of allowed values, nested objects), which is all `deploy/event-pattern.json` uses.
fn test_event_pattern(body: &[u8]) -> Response {
    fn matches(pattern: &Value, event: &Value) -> bool {
        pattern.as_object().is_some_and(|p| {
            p.iter().all(|(k, allowed)| match allowed {
                Value::Array(values) => values.contains(&event[k]),
                Value::Object(_) => matches(allowed, &event[k]),
                _ => false,
            })
        })
    }
    let request: Value = serde_json::from_slice(body).unwrap_or_default();
    let parse = |k: &str| {
        serde_json::from_str::<Value>(request[k].as_str().unwrap_or("null")).unwrap_or_default()
    };
    let result = matches(&parse("EventPattern"), &parse("Event"));
    (
        StatusCode::OK,
        [("content-type", "application/x-amz-json-1.1")],
        json!({"Result": result}).to_string(),
    )
        .into_response()
}

fn form_value(form: &str, key: &str) -> Option<String> {
    form.split('&')
        .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
        .map(|v| v.replace("%3D", "=").replace("%2F", "/"))
}

fn iam(stub: &AwsStub, action: &str, form: &str) -> Response {
    let xml = |body: String| {
        let text = format!(
            "<{action}Response xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><{action}Result>{body}</{action}Result><ResponseMetadata><RequestId>stub</RequestId></ResponseMetadata></{action}Response>"
        );
        (StatusCode::OK, [("content-type", "text/xml")], text).into_response()
    };
    match action {
        "ListUsers" => {
            let marker = form_value(form, "Marker");
            let mut s = stub.script.lock().unwrap();
            s.list_users_markers.push(marker.clone());
            let (names, size) = s.users.clone().unwrap();
            let start: usize = marker
                .as_deref()
                .and_then(|m| m.strip_prefix("page-"))
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            let page: Vec<&String> = names.iter().skip(start).take(size).collect();
            let more = start + size < names.len();
            let members: String = page
                .iter()
                .enumerate()
                .map(|(i, n)| {
                    format!(
                        "<member><Path>/</Path><UserName>{n}</UserName><UserId>AIDASTUB{:012}</UserId><Arn>arn:aws:iam::123456789012:user/{n}</Arn><CreateDate>2026-11-{:02}T10:00:00Z</CreateDate></member>",
                        start + i,
                        1 + (start + i) % 27
                    )
                })
                .collect();
            let marker = if more {
                format!("<Marker>page-{}</Marker>", start + size)
            } else {
                String::new()
            };
            xml(format!(
                "<IsTruncated>{more}</IsTruncated>{marker}<Users>{members}</Users>"
            ))
        }
        "ListAccessKeys" => xml("<IsTruncated>false</IsTruncated><AccessKeyMetadata/>".into()),
        _ => xml("<IsTruncated>false</IsTruncated><MFADevices/>".into()),
    }
}

async fn forward(
    stub: &AwsStub,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let url = format!(
        "{}{}",
        stub.moto,
        uri.path_and_query().map_or("/", |p| p.as_str())
    );
    let mut req = reqwest::Client::new().request(method, url).body(body);
    for (k, v) in &headers {
        if k != "host" && k != "content-length" {
            req = req.header(k, v);
        }
    }
    let r = req.send().await.unwrap();
    let status = StatusCode::from_u16(r.status().as_u16()).unwrap();
    let content_type = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("text/xml")
        .to_owned();
    let bytes = r.bytes().await.unwrap();
    (status, [("content-type", content_type)], bytes).into_response()
}
