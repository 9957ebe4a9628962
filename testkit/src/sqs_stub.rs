//! An in-memory SQS speaking the service's real wire protocol (AWS JSON 1.0, `X-Amz-Target: AmazonSQS.*`), for
//! bursts moto can't carry: moto walks every message of a queue on every call, so a 10,000-message burst measures
//! moto, not the bot. It keeps SQS's semantics that matter to the bot — long polling, visibility timeouts (a
//! message not deleted in time is handed out again, with its receive count), batch calls with per-entry results —
//! and nothing else (no redrive, no attributes beyond the counters).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde_json::{json, Value};
use tokio::sync::Notify;

#[derive(Clone)]
pub struct SqsStub {
    pub url: String,
    queues: Arc<Mutex<HashMap<String, Queue>>>,
    arrived: Arc<Notify>,
}

#[derive(Default)]
struct Queue {
    messages: HashMap<u64, Message>,
    /// Visible messages, oldest first.
    visible: VecDeque<u64>,
    /// Hidden messages by when they become visible again.
    hidden: BTreeMap<(Instant, u64), ()>,
    next: u64,
}

struct Message {
    body: String,
    receive_count: u32,
    /// The receive that handed it out last (its receipt handle names it), and until when it is hidden.
    receipt: String,
    hidden_until: Option<Instant>,
}

impl Queue {
    /// Messages whose visibility timeout ran out become visible again.
    fn expire(&mut self, now: Instant) {
        while let Some((&(at, id), _)) = self.hidden.first_key_value() {
            if at > now {
                break;
            }
            self.hidden.remove(&(at, id));
            if let Some(m) = self.messages.get_mut(&id) {
                m.hidden_until = None;
                self.visible.push_back(id);
            }
        }
    }

    fn hide(&mut self, id: u64, until: Instant) {
        if let Some(m) = self.messages.get_mut(&id) {
            if let Some(old) = m.hidden_until.replace(until) {
                self.hidden.remove(&(old, id));
            } else {
                self.visible.retain(|v| *v != id);
            }
            self.hidden.insert((until, id), ());
        }
    }

    /// The message a receipt handle names, if that handle is its latest.
    fn by_receipt(&self, receipt: &str) -> Option<u64> {
        let id = receipt.split(':').next()?.parse().ok()?;
        (self.messages.get(&id)?.receipt == receipt).then_some(id)
    }
}

impl SqsStub {
    pub async fn start() -> SqsStub {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let stub = SqsStub {
            url: format!("http://{}", listener.local_addr().unwrap()),
            queues: Arc::default(),
            arrived: Arc::new(Notify::new()),
        };
        let app = Router::new().fallback(handle).with_state(stub.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        stub
    }
}

async fn handle(State(stub): State<SqsStub>, headers: HeaderMap, body: Bytes) -> Response {
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let action = target
        .strip_prefix("AmazonSQS.")
        .unwrap_or(target)
        .to_owned();
    let input: Value = serde_json::from_slice(&body).unwrap_or_default();
    let queue_url = input["QueueUrl"].as_str().unwrap_or("").to_owned();
    if action == "ReceiveMessage" {
        return receive(&stub, &queue_url, &input).await;
    }
    let mut queues = stub.queues.lock().unwrap();
    if action == "CreateQueue" {
        let url = format!(
            "{}/123456789012/{}",
            stub.url,
            input["QueueName"].as_str().unwrap_or("q")
        );
        queues.entry(url.clone()).or_default();
        return Json(json!({"QueueUrl": url})).into_response();
    }
    let Some(queue) = queues.get_mut(&queue_url) else {
        let error =
            json!({"__type": "com.amazonaws.sqs#QueueDoesNotExist", "message": "no such queue"});
        return (StatusCode::BAD_REQUEST, Json(error)).into_response();
    };
    let now = Instant::now();
    queue.expire(now);
    let answer = match action.as_str() {
        "SendMessage" => {
            let id = send(queue, input["MessageBody"].as_str().unwrap_or(""));
            json!({"MessageId": id.to_string(), "MD5OfMessageBody": ""})
        }
        "SendMessageBatch" => each(&input, |e| {
            send(queue, e["MessageBody"].as_str().unwrap_or(""));
            true
        }),
        "DeleteMessage" => {
            if let Some(id) = queue.by_receipt(input["ReceiptHandle"].as_str().unwrap_or("")) {
                delete(queue, id);
            }
            json!({})
        }
        "DeleteMessageBatch" => each(&input, |e| {
            let id = queue.by_receipt(e["ReceiptHandle"].as_str().unwrap_or(""));
            id.map(|id| delete(queue, id)).is_some()
        }),
        "ChangeMessageVisibility" => {
            change_visibility(queue, &input, now);
            json!({})
        }
        "ChangeMessageVisibilityBatch" => each(&input, |e| change_visibility(queue, e, now)),
        "GetQueueAttributes" => json!({"Attributes": {
            "QueueArn": format!("arn:aws:sqs:us-east-1:123456789012:{}", queue_url.rsplit('/').next().unwrap_or("")),
            "ApproximateNumberOfMessages": queue.visible.len().to_string(),
            "ApproximateNumberOfMessagesNotVisible": queue.hidden.len().to_string(),
        }}),
        other => {
            let error =
                json!({"__type": "com.amazonaws.sqs#UnsupportedOperation", "message": other});
            return (StatusCode::BAD_REQUEST, Json(error)).into_response();
        }
    };
    drop(queues);
    if action.starts_with("SendMessage") || action.starts_with("ChangeMessageVisibility") {
        stub.arrived.notify_waiters();
    }
    Json(answer).into_response()
}

fn send(queue: &mut Queue, body: &str) -> u64 {
    queue.next += 1;
    let id = queue.next;
    let message = Message {
        body: body.to_owned(),
        receive_count: 0,
        receipt: String::new(),
        hidden_until: None,
    };
    queue.messages.insert(id, message);
    queue.visible.push_back(id);
    id
}

fn delete(queue: &mut Queue, id: u64) {
    if let Some(m) = queue.messages.remove(&id) {
        match m.hidden_until {
            Some(at) => {
                queue.hidden.remove(&(at, id));
            }
            None => queue.visible.retain(|v| *v != id),
        }
    }
}

/// `false` when the receipt handle is not the message's latest (SQS's `ReceiptHandleIsInvalid`).
fn change_visibility(queue: &mut Queue, entry: &Value, now: Instant) -> bool {
    let Some(id) = queue.by_receipt(entry["ReceiptHandle"].as_str().unwrap_or("")) else {
        return false;
    };
    let secs = entry["VisibilityTimeout"].as_u64().unwrap_or(0);
    if secs == 0 {
        if let Some(at) = queue
            .messages
            .get_mut(&id)
            .and_then(|m| m.hidden_until.take())
        {
            queue.hidden.remove(&(at, id));
            queue.visible.push_front(id);
        }
    } else {
        queue.hide(id, now + Duration::from_secs(secs));
    }
    true
}

/// A batch call's answer: each entry's `Id` in `Successful` or `Failed`.
fn each(input: &Value, mut apply: impl FnMut(&Value) -> bool) -> Value {
    let (mut ok, mut failed) = (Vec::new(), Vec::new());
    for entry in input["Entries"].as_array().into_iter().flatten() {
        let id = entry["Id"].clone();
        if apply(entry) {
            ok.push(json!({"Id": id, "MessageId": "0", "MD5OfMessageBody": ""}));
        } else {
            failed.push(json!({"Id": id, "Code": "ReceiptHandleIsInvalid", "SenderFault": true}));
        }
    }
    json!({"Successful": ok, "Failed": failed})
}

/// Long polling: answer as soon as messages are visible, or after `WaitTimeSeconds` with none.
async fn receive(stub: &SqsStub, queue_url: &str, input: &Value) -> Response {
    let max = input["MaxNumberOfMessages"]
        .as_u64()
        .unwrap_or(1)
        .clamp(1, 10) as usize;
    let wait = Duration::from_secs(input["WaitTimeSeconds"].as_u64().unwrap_or(0));
    let visibility = Duration::from_secs(input["VisibilityTimeout"].as_u64().unwrap_or(30));
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let arrived = stub.arrived.notified();
        let messages = take_visible(stub, queue_url, max, visibility);
        if !messages.is_empty() || tokio::time::Instant::now() >= deadline {
            return Json(json!({ "Messages": messages })).into_response();
        }
        // Also wake for a visibility timeout running out.
        let _ = tokio::time::timeout_at(
            deadline.min(tokio::time::Instant::now() + Duration::from_millis(200)),
            arrived,
        )
        .await;
    }
}

fn take_visible(stub: &SqsStub, queue_url: &str, max: usize, visibility: Duration) -> Vec<Value> {
    let mut queues = stub.queues.lock().unwrap();
    let Some(queue) = queues.get_mut(queue_url) else {
        return Vec::new();
    };
    let now = Instant::now();
    queue.expire(now);
    let mut out = Vec::new();
    while out.len() < max {
        let Some(id) = queue.visible.pop_front() else {
            break;
        };
        let until = now + visibility;
        let m = queue
            .messages
            .get_mut(&id)
            .expect("a visible message exists");
        m.receive_count += 1;
        m.receipt = format!("{id}:{}", m.receive_count);
        m.hidden_until = Some(until);
        out.push(json!({
            "MessageId": id.to_string(), "ReceiptHandle": m.receipt, "MD5OfBody": "", "Body": m.body,
            "Attributes": {"ApproximateReceiveCount": m.receive_count.to_string()}
        }));
        queue.hidden.insert((until, id), ());
    }
    out
}
