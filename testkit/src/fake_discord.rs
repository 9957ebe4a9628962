//! A fake Discord that speaks the real protocol: REST under `/api/v10` and a gateway websocket (HELLO,
//! IDENTIFY → READY, heartbeats), so the real serenity/poise client connects to it and the bot's real requests
//! come back here. It records what it receives, enforces Discord's limits (embed sizes, `nonce` idempotency),
//! and injects faults (500, 429 with `retry_after`, a request that never gets an answer).

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde_json::{json, Value};
use tokio::sync::{mpsc, Notify};

pub const APPLICATION_ID: u64 = 900_000_000_000_000_001;
pub const BOT_USER_ID: u64 = 900_000_000_000_000_002;
pub const TOKEN: &str = "fake-bot-token-never-logged";
/// Discord's per-channel limit on creating messages, and the global request limit.
pub const CHANNEL_LIMIT: usize = 5;
pub const CHANNEL_WINDOW: Duration = Duration::from_secs(5);
pub const GLOBAL_LIMIT: usize = 50;

/// A fault to answer the next channel-message POST with.
#[derive(Clone, Debug)]
pub enum Fault {
    Status(u16),
    /// 429 with `retry_after` (seconds) in the body and the header.
    RateLimited(f64),
    /// Record the message, then never answer (the client times out or is killed).
    RecordThenHang,
}

#[derive(Clone, Debug)]
pub struct Posted {
    pub id: String,
    pub channel_id: u64,
    pub body: Value,
}

#[derive(Default)]
struct Inner {
    messages: Vec<Posted>,
    /// Every POST to a channel or webhook, including refused ones: (when, status answered).
    attempts: Vec<(Instant, u16)>,
    nonces: HashMap<String, usize>,
    faults: VecDeque<Fault>,
    /// Answer every POST with this status until cleared.
    persistent_fault: Option<u16>,
    command_registrations: Vec<Value>,
    /// The application's global commands (GET/PUT `/applications/{app}/commands`).
    global_commands: Vec<Value>,
    /// The servers READY says the bot is a member of.
    member_of: Vec<u64>,
    next_id: u64,
    gateway: Option<mpsc::UnboundedSender<Value>>,
    sequence: u64,
    /// Accepted message posts in the sliding windows of Discord's limits.
    channel_posts: VecDeque<Instant>,
    global_posts: VecDeque<Instant>,
    /// 429s answered because a limit was reached.
    rate_limited: usize,
    /// Discord's rate limits apply (the default); off only to measure the pipeline's own latency.
    enforce_limits: bool,
    /// Refuse slash-command registration (403), as Discord does for a bot invited without `applications.commands`.
    refuse_registration: bool,
    /// Create the next channel POST whose body contains this text, then never answer it.
    hang_matching: Option<String>,
    /// Hold every accepted POST's answer this long (a slow Discord: the message exists at once).
    reply_delay: Duration,
    /// The token was revoked: every authorised request answers 401.
    revoked: bool,
    /// Interactions dispatched by tests: id → (token, when dispatched, message id for component presses).
    interactions: HashMap<String, (String, Instant, Option<String>)>,
    /// Every interaction callback, follow-up and edit, in order of arrival.
    replies: Vec<Reply>,
    /// Direct-message channels opened by the bot: user id → channel id.
    dm_channels: HashMap<u64, u64>,
    /// Users who accept no direct messages from the bot (DMs closed, or not in a shared server).
    dms_closed: Vec<u64>,
}

/// What the bot answered to an interaction.
#[derive(Clone, Debug)]
pub struct Reply {
    pub interaction: String,
    /// `callback` (the first response), `followup` or `edit` (PATCH @original).
    pub kind: &'static str,
    pub body: Value,
    /// Time from dispatching the interaction to this reply.
    pub after: Duration,
}

impl Reply {
    /// The callback type (4 message, 5 deferred message, 6 deferred update, 7 update message).
    pub fn callback_type(&self) -> Option<u64> {
        self.body["type"].as_u64()
    }
    /// The message part: `data` of a callback, the body of a follow-up or edit.
    pub fn message(&self) -> &Value {
        if self.kind == "callback" {
            &self.body["data"]
        } else {
            &self.body
        }
    }
    pub fn ephemeral(&self) -> bool {
        self.message()["flags"]
            .as_u64()
            .is_some_and(|f| f & 64 != 0)
    }
    pub fn text(&self) -> String {
        self.message().to_string()
    }
}

#[derive(Clone)]
pub struct FakeDiscord {
    pub addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
    changed: Arc<Notify>,
}

impl FakeDiscord {
    pub async fn start() -> FakeDiscord {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let fake = FakeDiscord {
            addr,
            inner: Arc::new(Mutex::new(Inner {
                next_id: 1_000_000_000_000_000_000,
                enforce_limits: true,
                ..Inner::default()
            })),
            changed: Arc::new(Notify::new()),
        };
        let app = Router::new()
            .route("/api/v10/gateway", get(gateway_url))
            .route("/api/v10/gateway/bot", get(gateway_url))
            .route("/api/v10/users/@me", get(current_user))
            .route("/api/v10/oauth2/applications/@me", get(application_info))
            .route(
                "/api/v10/channels/{channel}/messages",
                post(create_message).get(list_messages),
            )
            .route("/api/v10/webhooks/{id}/{token}", post(execute_webhook))
            .route(
                "/api/v10/webhooks/{id}/{token}/messages/@original",
                axum::routing::patch(edit_original).get(get_original),
            )
            .route(
                "/api/v10/interactions/{id}/{token}/callback",
                post(interaction_callback),
            )
            .route(
                "/api/v10/channels/{channel}/messages/{message}",
                get(get_message).patch(edit_message),
            )
            .route("/api/v10/users/@me/channels", post(open_dm))
            .route("/api/v10/channels/{channel}/pins", get(list_pins))
            .route(
                "/api/v10/channels/{channel}/pins/{message}",
                put(pin).delete(unpin),
            )
            .route(
                "/api/v10/applications/{app}/guilds/{guild}/commands",
                put(put_commands),
            )
            .route(
                "/api/v10/applications/{app}/commands",
                put(put_commands).get(global_commands),
            )
            .route("/ws", get(websocket))
            .fallback(unknown)
            .with_state(fake.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        fake
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn inject(&self, faults: impl IntoIterator<Item = Fault>) {
        self.inner.lock().unwrap().faults.extend(faults);
    }

    pub fn refuse_registration(&self) {
        self.inner.lock().unwrap().refuse_registration = true;
    }

    /// Turn Discord's rate limits off (the latency benchmark measures the pipeline, not the bucket).
    pub fn enforce_limits(&self, on: bool) {
        self.inner.lock().unwrap().enforce_limits = on;
    }

    /// How many 429s the fake answered because a real Discord limit was reached.
    pub fn rate_limited(&self) -> usize {
        self.inner.lock().unwrap().rate_limited
    }

    /// Create the next message whose body contains `needle`, then never answer that POST.
    pub fn hang_on_post_containing(&self, needle: &str) {
        self.inner.lock().unwrap().hang_matching = Some(needle.to_owned());
    }

    /// Answer every accepted message POST `delay` late.
    pub fn delay_replies(&self, delay: Duration) {
        self.inner.lock().unwrap().reply_delay = delay;
    }

    /// Revoke the bot token: from now on every request with it answers 401.
    pub fn revoke_token(&self) {
        self.inner.lock().unwrap().revoked = true;
    }

    pub fn set_persistent_fault(&self, status: Option<u16>) {
        self.inner.lock().unwrap().persistent_fault = status;
    }

    /// Push an INTERACTION_CREATE through the gateway; returns the interaction id.
    pub fn dispatch_interaction(
        &self,
        mut interaction: Value,
        message_id: Option<String>,
    ) -> String {
        let mut inner = self.inner.lock().unwrap();
        inner.next_id += 1;
        let id = inner.next_id.to_string();
        let token = format!("token-{id}");
        interaction["id"] = json!(id);
        interaction["token"] = json!(token);
        interaction["application_id"] = json!(APPLICATION_ID.to_string());
        inner
            .interactions
            .insert(id.clone(), (token, Instant::now(), message_id));
        let sender = inner.gateway.clone().expect("a gateway session");
        sender
            .send(json!({"t": "INTERACTION_CREATE", "d": interaction}))
            .expect("gateway session alive");
        id
    }

    /// Refuse the bot's direct messages to `user`, as Discord does when their DMs are closed.
    pub fn close_dms(&self, user: u64) {
        self.inner.lock().unwrap().dms_closed.push(user);
    }

    /// The direct-message channel the bot opened with `user`, if it did.
    pub fn dm_channel(&self, user: u64) -> Option<u64> {
        self.inner.lock().unwrap().dm_channels.get(&user).copied()
    }

    /// The messages the bot sent `user` directly.
    pub fn dms(&self, user: u64) -> Vec<Posted> {
        let Some(channel) = self.dm_channel(user) else {
            return Vec::new();
        };
        let inner = self.inner.lock().unwrap();
        inner
            .messages
            .iter()
            .filter(|m| m.channel_id == channel)
            .cloned()
            .collect()
    }

    /// One message as it is now (after edits).
    pub fn message(&self, id: &str) -> Option<Posted> {
        let inner = self.inner.lock().unwrap();
        inner.messages.iter().find(|m| m.id == id).cloned()
    }

    pub fn replies(&self, interaction: &str) -> Vec<Reply> {
        let inner = self.inner.lock().unwrap();
        inner
            .replies
            .iter()
            .filter(|r| r.interaction == interaction)
            .cloned()
            .collect()
    }

    /// Global commands the application already has (leftovers of an older setup).
    pub fn seed_global_commands(&self, names: &[&str]) {
        self.inner.lock().unwrap().global_commands = names
            .iter()
            .enumerate()
            .map(|(i, name)| command_json(json!({"name": name, "description": "old"}), 900 + i))
            .collect();
    }

    pub fn global_command_names(&self) -> Vec<String> {
        let inner = self.inner.lock().unwrap();
        let names = inner.global_commands.iter().map(|c| c["name"].as_str());
        names.map(|n| n.unwrap_or_default().to_owned()).collect()
    }

    /// The servers READY names (the bot's own and any it was invited to).
    pub fn set_member_of(&self, guilds: &[u64]) {
        self.inner.lock().unwrap().member_of = guilds.to_vec();
    }

    /// The id Discord gave a registered command.
    pub fn command_id(&self, name: &str) -> String {
        let inner = self.inner.lock().unwrap();
        let all = inner
            .command_registrations
            .last()
            .cloned()
            .unwrap_or_default();
        all.as_array()
            .and_then(|a| a.iter().find(|c| c["name"] == name))
            .and_then(|c| c["id"].as_str().map(str::to_owned))
            .unwrap_or_else(|| panic!("command {name} not registered"))
    }

    /// Messages that appear in `channel` as if posted there (bypassing the limits): a busy channel.
    pub fn add_messages(&self, channel: u64, bodies: impl IntoIterator<Item = Value>) {
        let mut inner = self.inner.lock().unwrap();
        for body in bodies {
            inner.next_id += 1;
            let id = snowflake(inner.next_id);
            inner.messages.push(Posted {
                id,
                channel_id: channel,
                body,
            });
        }
        drop(inner);
        self.touch();
    }

    pub fn messages(&self) -> Vec<Posted> {
        self.inner.lock().unwrap().messages.clone()
    }

    pub fn attempts(&self) -> Vec<(Instant, u16)> {
        self.inner.lock().unwrap().attempts.clone()
    }

    pub fn command_registrations(&self) -> usize {
        self.inner.lock().unwrap().command_registrations.len()
    }

    /// Wait until `cond` holds, woken by every request this fake handles. Panics after `limit`.
    pub async fn wait_until(
        &self,
        what: &str,
        limit: Duration,
        cond: impl Fn(&FakeDiscord) -> bool,
    ) {
        self.wait_until_or_log(what, limit, cond, String::new).await;
    }

    /// [`Self::wait_until`], showing `log()` (the bot's log) when it times out.
    pub async fn wait_until_or_log(
        &self,
        what: &str,
        limit: Duration,
        cond: impl Fn(&FakeDiscord) -> bool,
        log: impl Fn() -> String,
    ) {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let notified = self.changed.notified();
            if cond(self) {
                return;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                assert!(
                    cond(self),
                    "timed out after {limit:?} waiting for: {what}\n--- bot log ---\n{}",
                    log()
                );
                return;
            }
        }
    }

    fn touch(&self) {
        self.changed.notify_waiters();
    }
}

async fn unknown(uri: axum::http::Uri) -> Response {
    eprintln!("fake discord: unhandled {uri}");
    (
        StatusCode::NOT_FOUND,
        Json(json!({"message": "404: Not Found", "code": 0})),
    )
        .into_response()
}

impl FakeDiscord {
    fn authorised(&self, headers: &HeaderMap) -> bool {
        let token = headers.get("authorization").and_then(|v| v.to_str().ok());
        token == Some(&format!("Bot {TOKEN}")) && !self.inner.lock().unwrap().revoked
    }
}

fn unauthorised() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        Json(json!({"message": "401: Unauthorized", "code": 0})),
    )
        .into_response()
}

/// The gateway's address. A revoked token still gets it here (Discord answers 401, after which a client falls
/// back to Discord's public gateway address: the tests stay on loopback), and is refused at IDENTIFY instead.
async fn gateway_url(State(fake): State<FakeDiscord>) -> Response {
    Json(json!({
        "url": format!("ws://{}/ws", fake.addr),
        "shards": 1,
        "session_start_limit": {"total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1}
    }))
    .into_response()
}

fn bot_user() -> Value {
    json!({"id": BOT_USER_ID.to_string(), "username": "iam-alarm", "discriminator": "0", "global_name": null,
           "avatar": null, "bot": true, "flags": 0, "public_flags": 0})
}

async fn current_user() -> Json<Value> {
    Json(bot_user())
}

async fn application_info() -> Json<Value> {
    Json(json!({
        "id": APPLICATION_ID.to_string(), "name": "iam-alarm", "icon": null, "description": "",
        "bot_public": false, "bot_require_code_grant": false, "owner": bot_user(), "team": null,
        "verify_key": "0", "flags": 0, "summary": ""
    }))
}

/// `PUT` of the application's commands: in a guild (`/guilds/{guild}/commands`, recorded as a registration) or
/// global (replacing the global list).
async fn put_commands(
    State(fake): State<FakeDiscord>,
    Path(path): Path<HashMap<String, String>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if !fake.authorised(&headers) {
        return unauthorised();
    }
    let in_guild = path.contains_key("guild");
    let mut inner = fake.inner.lock().unwrap();
    if in_guild && inner.refuse_registration {
        let missing = json!({"message": "Missing Access", "code": 50001});
        return (StatusCode::FORBIDDEN, Json(missing)).into_response();
    }
    let answer = commands_from(&body, if in_guild { 100 } else { 900 });
    if in_guild {
        inner.command_registrations.push(answer.clone());
    } else {
        inner.global_commands = answer.as_array().cloned().unwrap_or_default();
    }
    drop(inner);
    fake.touch();
    Json(answer).into_response()
}

/// The commands of a PUT as Discord answers them, with ids from `first_id` on.
fn commands_from(body: &Value, first_id: usize) -> Value {
    let list = body.as_array().cloned().unwrap_or_default().into_iter();
    list.enumerate()
        .map(|(i, c)| command_json(c, first_id + i))
        .collect()
}

/// A command as Discord answers it: the request's fields plus the ids Discord assigns.
fn command_json(mut c: Value, index: usize) -> Value {
    c["id"] = json!((APPLICATION_ID + index as u64).to_string());
    c["application_id"] = json!(APPLICATION_ID.to_string());
    c["version"] = json!("1");
    if c.get("type").is_none() {
        c["type"] = json!(1);
    }
    c
}

async fn global_commands(State(fake): State<FakeDiscord>, headers: HeaderMap) -> Response {
    if !fake.authorised(&headers) {
        return unauthorised();
    }
    Json(Value::Array(
        fake.inner.lock().unwrap().global_commands.clone(),
    ))
    .into_response()
}

/// Discord's own limits, counted independently of the bot's code (code points, as Discord counts).
/// A MODAL response (type 9): a custom id, a title of at most 45 characters, and 1 to 5 action rows each
/// holding one text input.
fn modal_violation(body: &Value) -> Option<String> {
    if body["type"] != 9 {
        return None;
    }
    let data = &body["data"];
    let title = data["title"].as_str().map_or(0, |t| t.chars().count());
    let rows = data["components"].as_array().cloned().unwrap_or_default();
    if data["custom_id"].as_str().is_none_or(str::is_empty) || !(1..=45).contains(&title) {
        return Some("modal custom_id or title".into());
    }
    if !(1..=5).contains(&rows.len()) {
        return Some(format!("modal with {} rows", rows.len()));
    }
    for row in &rows {
        let inputs = row["components"].as_array().cloned().unwrap_or_default();
        let ok = row["type"] == 1
            && inputs.len() == 1
            && inputs[0]["type"] == 4
            && inputs[0]["label"]
                .as_str()
                .is_some_and(|l| (1..=45).contains(&l.chars().count()));
        if !ok {
            return Some(format!("modal row {row}"));
        }
    }
    None
}

fn limit_violation(body: &Value) -> Option<String> {
    let len = |v: &Value| v.as_str().map_or(0, |s| s.chars().count());
    if len(&body["content"]) > 2000 {
        return Some("content".into());
    }
    let embeds = body["embeds"].as_array().cloned().unwrap_or_default();
    if embeds.len() > 10 {
        return Some("too many embeds".into());
    }
    let mut total = 0;
    for e in &embeds {
        let (t, d, f, a) = (
            len(&e["title"]),
            len(&e["description"]),
            len(&e["footer"]["text"]),
            len(&e["author"]["name"]),
        );
        if t > 256 || d > 4096 || f > 2048 || a > 256 {
            return Some("embed title/description/footer/author too long".into());
        }
        total += t + d + f + a;
        let fields = e["fields"].as_array().cloned().unwrap_or_default();
        if fields.len() > 25 {
            return Some("too many fields".into());
        }
        for field in &fields {
            let (n, v) = (len(&field["name"]), len(&field["value"]));
            if n == 0 || n > 256 || v == 0 || v > 1024 {
                return Some(format!("field {n}/{v}"));
            }
            total += n + v;
        }
    }
    if total > 6000 {
        return Some(format!("embeds total {total}"));
    }
    if let Some(n) = body["nonce"].as_str() {
        if n.chars().count() > 25 {
            return Some("nonce".into());
        }
    }
    // An autocomplete answer: at most 25 choices, each named and valued in 1 to 100 characters.
    if let Some(choices) = body["choices"].as_array() {
        if choices.len() > 25 {
            return Some(format!("{} choices", choices.len()));
        }
        for c in choices {
            let (n, v) = (len(&c["name"]), len(&c["value"]));
            if !(1..=100).contains(&n) || !(1..=100).contains(&v) {
                return Some(format!("choice {n}/{v}"));
            }
        }
    }
    None
}

async fn create_message(
    State(fake): State<FakeDiscord>,
    Path(channel): Path<u64>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if !fake.authorised(&headers) {
        return unauthorised();
    }
    let closed = {
        let inner = fake.inner.lock().unwrap();
        inner
            .dms_closed
            .iter()
            .any(|u| inner.dm_channels.get(u) == Some(&channel))
    };
    if closed {
        let body = json!({"message": "Cannot send messages to this user", "code": 50007});
        return (StatusCode::FORBIDDEN, Json(body)).into_response();
    }
    record_post(fake, channel, body).await
}

/// `POST /users/@me/channels`: the bot opens (or reopens) a direct-message channel with a user.
async fn open_dm(
    State(fake): State<FakeDiscord>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if !fake.authorised(&headers) {
        return unauthorised();
    }
    let Some(user) = body["recipient_id"]
        .as_str()
        .and_then(|u| u.parse::<u64>().ok())
        .or_else(|| body["recipient_id"].as_u64())
    else {
        let body = json!({"message": "Invalid Form Body", "code": 50035});
        return (StatusCode::BAD_REQUEST, Json(body)).into_response();
    };
    let channel = {
        let mut inner = fake.inner.lock().unwrap();
        inner.next_id += 1;
        let fresh = inner.next_id;
        *inner.dm_channels.entry(user).or_insert(fresh)
    };
    Json(json!({
        "id": channel.to_string(), "type": 1, "last_message_id": null, "flags": 0,
        "recipients": [{"id": user.to_string(), "username": format!("user{}", user % 1000),
                        "discriminator": "0", "global_name": null, "avatar": null}]
    }))
    .into_response()
}

/// Discord's answer about a message it does not have.
fn unknown_message() -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(json!({"message": "Unknown Message", "code": 10008})),
    )
        .into_response()
}

/// `PUT /channels/{c}/pins/{m}`: pinned — and, as Discord does, a system message (type 6) in the channel.
async fn pin(
    State(fake): State<FakeDiscord>,
    Path((channel, message)): Path<(u64, String)>,
    headers: HeaderMap,
) -> Response {
    if !fake.authorised(&headers) {
        return unauthorised();
    }
    let found = {
        let mut inner = fake.inner.lock().unwrap();
        let found = inner
            .messages
            .iter_mut()
            .find(|m| m.id == message)
            .map(|m| {
                m.body["pinned"] = json!(true);
            });
        if found.is_some() {
            inner.next_id += 1;
            let id = snowflake(inner.next_id);
            let body = json!({"type": 6, "content": "",
                              "message_reference": {"message_id": message, "channel_id": channel.to_string()}});
            inner.messages.push(Posted {
                id,
                channel_id: channel,
                body,
            });
        }
        found
    };
    fake.touch();
    match found {
        Some(()) => StatusCode::NO_CONTENT.into_response(),
        None => unknown_message(),
    }
}

/// `DELETE /channels/{c}/pins/{m}`.
async fn unpin(
    State(fake): State<FakeDiscord>,
    Path((_channel, message)): Path<(u64, String)>,
    headers: HeaderMap,
) -> Response {
    if !fake.authorised(&headers) {
        return unauthorised();
    }
    {
        let mut inner = fake.inner.lock().unwrap();
        if let Some(m) = inner.messages.iter_mut().find(|m| m.id == message) {
            m.body["pinned"] = json!(false);
        }
    }
    fake.touch();
    StatusCode::NO_CONTENT.into_response()
}

/// `GET /channels/{c}/pins`: the channel's pinned messages, newest first.
async fn list_pins(
    State(fake): State<FakeDiscord>,
    Path(channel): Path<u64>,
    headers: HeaderMap,
) -> Response {
    if !fake.authorised(&headers) {
        return unauthorised();
    }
    let inner = fake.inner.lock().unwrap();
    let pinned: Vec<Value> = inner
        .messages
        .iter()
        .rev()
        .filter(|m| m.channel_id == channel && m.body["pinned"] == true)
        .map(message_json)
        .collect();
    Json(pinned).into_response()
}

/// `PATCH /channels/{c}/messages/{m}`: the bot edits its message; what the body gives replaces what was.
async fn edit_message(
    State(fake): State<FakeDiscord>,
    Path((_channel, message)): Path<(u64, String)>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if !fake.authorised(&headers) {
        return unauthorised();
    }
    if let Some(violation) = limit_violation(&body) {
        let body = json!({"message": format!("Invalid Form Body: {violation}"), "code": 50035});
        return (StatusCode::BAD_REQUEST, Json(body)).into_response();
    }
    let edited = {
        let mut inner = fake.inner.lock().unwrap();
        inner
            .messages
            .iter_mut()
            .find(|m| m.id == message)
            .map(|m| {
                for key in ["embeds", "components", "content"] {
                    if let Some(v) = body.get(key) {
                        m.body[key] = v.clone();
                    }
                }
                m.clone()
            })
    };
    fake.touch();
    match edited {
        Some(m) => Json(message_json(&m)).into_response(),
        None => unknown_message(),
    }
}

async fn execute_webhook(
    State(fake): State<FakeDiscord>,
    Path((id, token)): Path<(u64, String)>,
    Json(body): Json<Value>,
) -> Response {
    if id == APPLICATION_ID {
        // An interaction follow-up.
        return record_reply(&fake, &token, "followup", body);
    }
    record_post(fake, 0, body).await
}

async fn edit_original(
    State(fake): State<FakeDiscord>,
    Path((_id, token)): Path<(u64, String)>,
    Json(body): Json<Value>,
) -> Response {
    record_reply(&fake, &token, "edit", body)
}

async fn get_original(Path((_id, _token)): Path<(u64, String)>) -> Response {
    let p = Posted {
        id: "1".into(),
        channel_id: 1,
        body: json!({"content": ""}),
    };
    Json(message_json(&p)).into_response()
}

async fn interaction_callback(
    State(fake): State<FakeDiscord>,
    Path((id, token)): Path<(String, String)>,
    Json(body): Json<Value>,
) -> Response {
    let message_id = fake
        .inner
        .lock()
        .unwrap()
        .interactions
        .get(&id)
        .and_then(|i| i.2.clone());
    // Discord takes one response per interaction, within its limits.
    let answered = fake.replies(&id).iter().any(|r| r.kind == "callback");
    if answered {
        let body = json!({"message": "Interaction has already been acknowledged.", "code": 40060});
        return (StatusCode::BAD_REQUEST, Json(body)).into_response();
    }
    if let Some(violation) = limit_violation(&body["data"]).or_else(|| modal_violation(&body)) {
        let body = json!({"message": format!("Invalid Form Body: {violation}"), "code": 50035});
        return (StatusCode::BAD_REQUEST, Json(body)).into_response();
    }
    // UPDATE_MESSAGE edits the message the button sits on, as Discord would.
    if body["type"] == 7 {
        if let Some(mid) = message_id {
            let mut inner = fake.inner.lock().unwrap();
            if let Some(m) = inner.messages.iter_mut().find(|m| m.id == mid) {
                for key in ["embeds", "components", "content"] {
                    if let Some(v) = body["data"].get(key) {
                        m.body[key] = v.clone();
                    }
                }
            }
        }
    }
    record_reply(&fake, &token, "callback", body);
    StatusCode::NO_CONTENT.into_response()
}

fn record_reply(fake: &FakeDiscord, token: &str, kind: &'static str, body: Value) -> Response {
    {
        let mut inner = fake.inner.lock().unwrap();
        let Some((id, (_, at, _))) = inner
            .interactions
            .iter()
            .find(|(_, i)| i.0 == token)
            .map(|(k, v)| (k.clone(), v.clone()))
        else {
            return (
                StatusCode::NOT_FOUND,
                Json(json!({"message": "Unknown Webhook", "code": 10015})),
            )
                .into_response();
        };
        let after = at.elapsed();
        inner.replies.push(Reply {
            interaction: id,
            kind,
            body: body.clone(),
            after,
        });
    }
    fake.touch();
    // Discord answers with the message; its ids are never zero (serenity refuses a zero id).
    let p = Posted {
        id: "1".into(),
        channel_id: 1,
        body,
    };
    Json(message_json(&p)).into_response()
}

async fn get_message(
    State(fake): State<FakeDiscord>,
    Path((_channel, message)): Path<(u64, String)>,
    headers: HeaderMap,
) -> Response {
    if !fake.authorised(&headers) {
        return unauthorised();
    }
    let inner = fake.inner.lock().unwrap();
    match inner.messages.iter().find(|m| m.id == message) {
        Some(m) => Json(message_json(m)).into_response(),
        None => unknown_message(),
    }
}

/// A channel or webhook POST: an injected fault, Discord's rate limits and size limits, then the message is
/// created (or, with a nonce seen before, the earlier one returned).
async fn record_post(fake: FakeDiscord, channel: u64, body: Value) -> Response {
    let now = Instant::now();
    let (status, answer, headers, hang) = {
        let mut inner = fake.inner.lock().unwrap();
        let decided = injected_fault(&mut inner, &body)
            .or_else(|| rate_limited(&mut inner, now))
            .or_else(|| limit_violation(&body).map(invalid_form));
        match decided {
            Some(Decision::Refuse(status, answer, headers)) => (status, answer, headers, None),
            Some(Decision::AcceptThenHang) => {
                let (answer, headers) = create(&mut inner, channel, &body, now);
                (200, answer, headers, Some(Duration::from_secs(3600)))
            }
            None => {
                let (answer, headers) = create(&mut inner, channel, &body, now);
                let delay = (!inner.reply_delay.is_zero()).then_some(inner.reply_delay);
                (200, answer, headers, delay)
            }
        }
    };
    fake.inner.lock().unwrap().attempts.push((now, status));
    fake.touch();
    if let Some(hold) = hang {
        // The message exists; the answer is held (a slow Discord, or one the client never hears back from).
        tokio::time::sleep(hold).await;
    }
    let mut response = (StatusCode::from_u16(status).unwrap(), Json(answer)).into_response();
    for (k, v) in headers {
        response.headers_mut().insert(k, v.parse().unwrap());
    }
    response
}

type Headers = Vec<(&'static str, String)>;

/// What the fake does with a POST before creating anything.
enum Decision {
    Refuse(u16, Value, Headers),
    /// Create the message, then never answer.
    AcceptThenHang,
}

fn injected_fault(inner: &mut Inner, body: &Value) -> Option<Decision> {
    if let Some(needle) = &inner.hang_matching {
        if body.to_string().contains(needle.as_str()) {
            inner.hang_matching = None;
            return Some(Decision::AcceptThenHang);
        }
    }
    let failure = |status: u16| {
        let answer = json!({"message": "fake failure", "code": 0});
        Decision::Refuse(status, answer, vec![])
    };
    match (inner.faults.pop_front(), inner.persistent_fault) {
        (Some(Fault::Status(s)), _) | (None | Some(Fault::RecordThenHang), Some(s)) => {
            Some(failure(s))
        }
        (Some(Fault::RateLimited(after)), _) => {
            let answer = json!({"message": "You are being rate limited.", "retry_after": after, "global": false});
            Some(Decision::Refuse(
                429,
                answer,
                vec![("retry-after", format!("{after}"))],
            ))
        }
        (Some(Fault::RecordThenHang), None) => Some(Decision::AcceptThenHang),
        (None, None) => None,
    }
}

/// Discord's limits: 5 messages per 5 s in a channel, 50 requests per second in all.
fn rate_limited(inner: &mut Inner, now: Instant) -> Option<Decision> {
    let window = |times: &mut VecDeque<Instant>, span: Duration| {
        while times
            .front()
            .is_some_and(|t| now.duration_since(*t) >= span)
        {
            times.pop_front();
        }
    };
    if !inner.enforce_limits {
        inner.channel_posts.clear();
        inner.global_posts.clear();
    }
    window(&mut inner.channel_posts, CHANNEL_WINDOW);
    window(&mut inner.global_posts, Duration::from_secs(1));
    let channel_full = inner.channel_posts.len() >= CHANNEL_LIMIT;
    let global_full = inner.global_posts.len() >= GLOBAL_LIMIT;
    if !channel_full && !global_full {
        return None;
    }
    let (oldest, span) = if channel_full {
        (inner.channel_posts[0], CHANNEL_WINDOW)
    } else {
        (inner.global_posts[0], Duration::from_secs(1))
    };
    let after = (span - now.duration_since(oldest)).as_secs_f64();
    inner.rate_limited += 1;
    let answer = json!({"message": "You are being rate limited.", "retry_after": after, "global": global_full});
    let headers = vec![
        ("retry-after", format!("{after:.3}")),
        ("x-ratelimit-remaining", "0".into()),
        ("x-ratelimit-reset-after", format!("{after:.3}")),
    ];
    Some(Decision::Refuse(429, answer, headers))
}

fn invalid_form(violation: String) -> Decision {
    let answer = json!({"message": format!("Invalid Form Body: {violation}"), "code": 50035});
    Decision::Refuse(400, answer, vec![])
}

/// A Discord id: the creation time in its top bits (milliseconds since 2015), as real message ids are.
fn snowflake(counter: u64) -> String {
    let since_2015 = chrono::Utc::now().timestamp_millis() as u64 - 1_420_070_400_000;
    ((since_2015 << 22) | (counter & 0x3F_FFFF)).to_string()
}

/// Create the message (or return the one an earlier POST with the same enforced nonce created), counting it
/// against the limits; the answer and the rate-limit headers Discord sends with it.
fn create(inner: &mut Inner, channel: u64, body: &Value, now: Instant) -> (Value, Headers) {
    let nonce = body["enforce_nonce"]
        .as_bool()
        .unwrap_or(false)
        .then(|| body["nonce"].as_str().map(str::to_owned))
        .flatten();
    let existing = nonce.as_ref().and_then(|n| inner.nonces.get(n).copied());
    let index = existing.unwrap_or_else(|| {
        inner.next_id += 1;
        let id = snowflake(inner.next_id);
        inner.messages.push(Posted {
            id,
            channel_id: channel,
            body: body.clone(),
        });
        let i = inner.messages.len() - 1;
        if let Some(n) = nonce {
            inner.nonces.insert(n, i);
        }
        i
    });
    inner.channel_posts.push_back(now);
    inner.global_posts.push_back(now);
    let remaining = CHANNEL_LIMIT.saturating_sub(inner.channel_posts.len());
    let reset = (CHANNEL_WINDOW - now.duration_since(inner.channel_posts[0])).as_secs_f64();
    let headers = vec![
        ("x-ratelimit-limit", CHANNEL_LIMIT.to_string()),
        ("x-ratelimit-remaining", remaining.to_string()),
        ("x-ratelimit-reset-after", format!("{reset:.3}")),
        ("x-ratelimit-bucket", "channel-messages".to_owned()),
    ];
    (message_json(&inner.messages[index]), headers)
}

pub fn message_json(p: &Posted) -> Value {
    let mut m = p.body.clone();
    m["id"] = json!(p.id);
    m["channel_id"] = json!(p.channel_id.to_string());
    m["author"] = bot_user();
    // A system message (a pin's notice, type 6) keeps its type.
    if m["type"].as_u64() != Some(6) {
        m["type"] = json!(0);
    }
    // Discord answers a reply's reference with the channel filled in (type 19: a reply).
    if m["message_reference"].is_object() {
        m["message_reference"]["channel_id"] = json!(p.channel_id.to_string());
        if m["type"] == 0 {
            m["type"] = json!(19);
        }
    }
    for (k, v) in [
        ("content", json!("")),
        ("timestamp", json!("2026-11-20T09:00:02.000000+00:00")),
        ("edited_timestamp", Value::Null),
        ("tts", json!(false)),
        ("mention_everyone", json!(false)),
        ("mentions", json!([])),
        ("mention_roles", json!([])),
        ("attachments", json!([])),
        ("embeds", json!([])),
        ("pinned", json!(false)),
    ] {
        if m.get(k).is_none() {
            m[k] = v;
        }
    }
    m
}

async fn list_messages(
    State(fake): State<FakeDiscord>,
    Path(channel): Path<u64>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if !fake.authorised(&headers) {
        return unauthorised();
    }
    // Discord's paging: newest first, at most 100, older than `before` when given.
    let limit: usize = q
        .get("limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(50)
        .min(100);
    let before: Option<u64> = q.get("before").and_then(|b| b.parse().ok());
    let inner = fake.inner.lock().unwrap();
    let list: Vec<Value> = inner
        .messages
        .iter()
        .rev()
        .filter(|m| m.channel_id == channel)
        .filter(|m| before.is_none_or(|b| m.id.parse::<u64>().is_ok_and(|id| id < b)))
        .take(limit)
        .map(message_json)
        .collect();
    Json(Value::Array(list)).into_response()
}

async fn websocket(State(fake): State<FakeDiscord>, ws: WebSocketUpgrade) -> Response {
    ws.on_upgrade(move |socket| gateway_session(fake, socket))
}

/// One gateway session: HELLO, then IDENTIFY → READY, heartbeats acknowledged, dispatches pushed by tests.
async fn gateway_session(fake: FakeDiscord, mut socket: WebSocket) {
    let hello = json!({"op": 10, "d": {"heartbeat_interval": 41250}, "s": null, "t": null});
    if socket
        .send(Message::Text(hello.to_string().into()))
        .await
        .is_err()
    {
        return;
    }
    let (tx, mut rx) = mpsc::unbounded_channel::<Value>();
    fake.inner.lock().unwrap().gateway = Some(tx);
    loop {
        tokio::select! {
            incoming = socket.recv() => {
                let Some(Ok(msg)) = incoming else { break };
                let Message::Text(text) = msg else { continue };
                let Ok(payload) = serde_json::from_str::<Value>(text.as_str()) else { continue };
                match payload["op"].as_u64() {
                    Some(1) => {
                        let ack = json!({"op": 11, "d": null, "s": null, "t": null});
                        if socket.send(Message::Text(ack.to_string().into())).await.is_err() { break }
                    }
                    Some(2) if fake.inner.lock().unwrap().revoked => {
                        // Discord's answer to a bad token at IDENTIFY: close code 4004, authentication failed.
                        let close = axum::extract::ws::CloseFrame { code: 4004, reason: "Authentication failed.".into() };
                        let _ = socket.send(Message::Close(Some(close))).await;
                        break;
                    }
                    Some(2) => {
                        let guilds: Vec<Value> = fake.inner.lock().unwrap().member_of.iter()
                            .map(|g| json!({"id": g.to_string(), "unavailable": true})).collect();
                        let ready = json!({
                            "v": 10, "user": bot_user(), "guilds": guilds, "session_id": "fake-session",
                            "resume_gateway_url": format!("ws://{}/ws", fake.addr), "shard": [0, 1],
                            "application": {"id": APPLICATION_ID.to_string(), "flags": 0}
                        });
                        if send_dispatch(&fake, &mut socket, "READY", ready).await.is_err() { break }
                        fake.touch();
                    }
                    _ => {}
                }
            }
            Some(dispatch) = rx.recv() => {
                let t = dispatch["t"].as_str().unwrap_or_default().to_owned();
                if send_dispatch(&fake, &mut socket, &t, dispatch["d"].clone()).await.is_err() { break }
            }
        }
    }
}

async fn send_dispatch(
    fake: &FakeDiscord,
    socket: &mut WebSocket,
    t: &str,
    d: Value,
) -> Result<(), axum::Error> {
    let s = {
        let mut inner = fake.inner.lock().unwrap();
        inner.sequence += 1;
        inner.sequence
    };
    let payload = json!({"op": 0, "t": t, "s": s, "d": d});
    socket.send(Message::Text(payload.to_string().into())).await
}
