//! Discord's REST API, as the poller needs it: the bot creates messages in the alert channel and reads its
//! history; a webhook executes. Two types, one shared HTTP core that paces requests and maps answers.
//!
//! Own client (reqwest) rather than serenity's: delivery must see every 429 and its `retry_after`, and with
//! `DISCORD_API_URL` set serenity's rate limiter is off anyway. Errors never carry the token or webhook URL.

use std::time::Duration;

use iam_alarm_core::message::CreateMessage;
use iam_alarm_core::posted::PostedMessage;
use reqwest::header::CONTENT_TYPE;
use reqwest::{RequestBuilder, Response, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use url::Url;

use super::pacing::Pacer;
use super::{DeliveryError, Transport};

pub const DEFAULT_API_BASE: &str = "https://discord.com";
const API_PATH: &str = "/api/v10";
/// How long one request may take; the shutdown drain waits longer than this (see `app`).
pub const HTTP_TIMEOUT: Duration = Duration::from_secs(10);
/// The most channel messages one read-back takes (50 pages).
const READ_BACK_MAX: usize = 5_000;

/// What both clients share: the HTTP client and the pacing of the one route they post to.
struct Api {
    http: reqwest::Client,
    /// The alert channel's (or webhook's) bucket and the global limit.
    pacer: Pacer,
}

impl Api {
    fn new() -> Api {
        let http = reqwest::Client::builder()
            .timeout(HTTP_TIMEOUT)
            .user_agent(concat!(
                "DiscordBot (https://github.com/iam-alarm, ",
                env!("CARGO_PKG_VERSION"),
                ") iam-alarm"
            ))
            .build()
            .expect("a TLS-capable HTTP client");
        Api {
            http,
            pacer: Pacer::default(),
        }
    }

    /// Post a message body, learn the bucket from the answer, and honour a 429's wait for later requests.
    /// The created message's id, when the answer carries it (a webhook answers with none).
    async fn post_message(
        &self,
        request: RequestBuilder,
        message: &CreateMessage,
    ) -> Result<Option<u64>, DeliveryError> {
        let body = serde_json::to_vec(message).expect("a message serialises");
        let response = request
            .header(CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await
            .map_err(transport_error)?;
        self.pacer.update(response.headers());
        let result = check(response).await;
        if let Err(DeliveryError::RateLimited { after, .. }) = &result {
            self.pacer.block_for(*after);
        }
        #[derive(serde::Deserialize)]
        struct Created {
            id: String,
        }
        let created = result?.json::<Created>().await.ok();
        Ok(created.and_then(|c| c.id.parse().ok()))
    }
}

/// The bot's REST client: messages in the alert channel.
pub struct BotRest {
    api: Api,
    /// `https://discord.com/api/v10` (or the configured replacement).
    root: String,
    token: SecretString,
}

impl BotRest {
    pub fn new(base: Option<&Url>, token: SecretString) -> BotRest {
        let base = base.map_or(DEFAULT_API_BASE, Url::as_str);
        BotRest {
            api: Api::new(),
            root: format!("{}{API_PATH}", base.trim_end_matches('/')),
            token,
        }
    }

    fn authorised(&self, request: RequestBuilder) -> RequestBuilder {
        let token = format!("Bot {}", self.token.expose_secret());
        request.header("Authorization", token)
    }

    /// `POST /channels/{id}/messages`, answering the new message's id. Call [`BotRest::wait_for_room`] first.
    pub async fn create_message(
        &self,
        channel_id: u64,
        message: &CreateMessage,
    ) -> Result<Option<u64>, DeliveryError> {
        let url = format!("{}/channels/{channel_id}/messages", self.root);
        let request = self.authorised(self.api.http.post(url));
        self.api.post_message(request, message).await
    }

    /// The bot's own user id (`GET /users/@me`).
    pub async fn current_user_id(&self) -> Result<String, DeliveryError> {
        let request = self.authorised(self.api.http.get(format!("{}/users/@me", self.root)));
        let response = request.send().await.map_err(transport_error)?;
        #[derive(serde::Deserialize)]
        struct User {
            id: String,
        }
        let user: User = json(response).await?;
        Ok(user.id)
    }

    /// The channel's most recent messages (newest first).
    pub async fn recent_messages(
        &self,
        channel_id: u64,
        limit: u8,
    ) -> Result<Vec<PostedMessage>, DeliveryError> {
        self.messages_before(channel_id, limit, None).await
    }

    /// The channel's messages of the last `back` (newest first), page by page however many there are, up to
    /// `READ_BACK_MAX` of them: the loops that read the channel as their memory (escalation, unanswered questions)
    /// see everything still relevant, however much the channel moved since.
    pub async fn messages_within(
        &self,
        channel_id: u64,
        back: Duration,
    ) -> Result<Vec<PostedMessage>, DeliveryError> {
        let now_ms = u64::try_from(iam_alarm_core::metrics::now_unix()).unwrap_or(0) * 1000;
        let since_ms = now_ms.saturating_sub(u64::try_from(back.as_millis()).unwrap_or(u64::MAX));
        let mut all: Vec<PostedMessage> = Vec::new();
        loop {
            let before = all.last().map(|m| m.id.clone());
            let page = self
                .messages_before(channel_id, 100, before.as_deref())
                .await?;
            let full = page.len() == 100;
            let reached = page.last().is_some_and(|m| {
                iam_alarm_core::escalation::created_ms(&m.id).is_some_and(|at| at < since_ms)
            });
            all.extend(page);
            if !full || reached || all.len() >= READ_BACK_MAX {
                return Ok(all);
            }
        }
    }

    /// The channel's pinned messages (`GET /channels/{id}/pins`): where snoozes live.
    pub async fn pins(&self, channel_id: u64) -> Result<Vec<PostedMessage>, DeliveryError> {
        let url = format!("{}/channels/{channel_id}/pins", self.root);
        let request = self.authorised(self.api.http.get(url));
        let response = request.send().await.map_err(transport_error)?;
        Ok(PostedMessage::from_listing(json(response).await?))
    }

    /// Unpin a message (`DELETE /channels/{id}/pins/{message}`): an expired snooze.
    pub async fn unpin(&self, channel_id: u64, message_id: &str) -> Result<(), DeliveryError> {
        let url = format!("{}/channels/{channel_id}/pins/{message_id}", self.root);
        let request = self.authorised(self.api.http.delete(url));
        let response = request.send().await.map_err(transport_error)?;
        check(response).await.map(drop)
    }

    async fn messages_before(
        &self,
        channel_id: u64,
        limit: u8,
        before: Option<&str>,
    ) -> Result<Vec<PostedMessage>, DeliveryError> {
        let url = format!("{}/channels/{channel_id}/messages", self.root);
        let request = self.authorised(self.api.http.get(url));
        let mut query = vec![("limit", limit.min(100).to_string())];
        if let Some(before) = before {
            query.push(("before", before.to_owned()));
        }
        let response = request
            .query(&query)
            .send()
            .await
            .map_err(transport_error)?;
        Ok(PostedMessage::from_listing(json(response).await?))
    }
}

/// A webhook: the whole URL is the secret.
pub struct Webhook {
    api: Api,
    url: SecretString,
}

impl Webhook {
    pub fn new(url: SecretString) -> Webhook {
        Webhook {
            api: Api::new(),
            url,
        }
    }

    /// `POST {webhook}?wait=true` (wait, so a 2xx means the message exists).
    pub async fn execute(&self, message: &CreateMessage) -> Result<(), DeliveryError> {
        let request = self.api.http.post(self.url.expose_secret());
        let request = request.query(&[("wait", "true")]);
        self.api.post_message(request, message).await.map(drop)
    }
}

impl BotRest {
    /// The pacing of the alert channel's route.
    pub fn pacer(&self) -> &Pacer {
        &self.api.pacer
    }
}

impl Webhook {
    /// The pacing of the webhook's route.
    pub fn pacer(&self) -> &Pacer {
        &self.api.pacer
    }
}

fn transport_error(e: reqwest::Error) -> DeliveryError {
    let kind = if e.is_timeout() {
        Transport::Timeout
    } else if e.is_connect() {
        Transport::Connect
    } else {
        Transport::Network
    };
    // Without the URL: a webhook URL carries its token.
    let detail = e.without_url().to_string();
    DeliveryError::Transport { kind, detail }
}

/// Map Discord's answer: 2xx accepted; 429 (with its wait), 5xx and 401/403/404 (configuration an operator can
/// fix: nothing is lost meanwhile) are retried; any other 4xx rejects this very payload.
/// A successful response's JSON body.
async fn json<T: serde::de::DeserializeOwned>(response: Response) -> Result<T, DeliveryError> {
    check(response)
        .await?
        .json()
        .await
        .map_err(|e| DeliveryError::BadResponse {
            detail: e.without_url().to_string(),
        })
}

async fn check(response: Response) -> Result<Response, DeliveryError> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let header_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<f64>().ok());
    let body: serde_json::Value = response.json().await.unwrap_or_default();
    let message = body.get("message").and_then(|m| m.as_str()).unwrap_or("");
    let detail = format!(
        "HTTP {}: {}",
        status.as_u16(),
        iam_alarm_core::text::plain_capped(message, 300)
    );
    let after = body
        .get("retry_after")
        .and_then(serde_json::Value::as_f64)
        .or(header_after)
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map_or(Duration::from_secs(1), |s| {
            Duration::from_secs_f64(s.min(3600.0))
        });
    Err(match status {
        StatusCode::TOO_MANY_REQUESTS => DeliveryError::RateLimited { after, detail },
        s if s.is_server_error() => DeliveryError::ServerError { detail },
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN | StatusCode::NOT_FOUND => {
            DeliveryError::Access { detail }
        }
        _ => DeliveryError::Rejected {
            status: status.as_u16(),
            detail,
        },
    })
}
