//! Discord's REST API, as the poller needs it: create a message, execute a webhook, read recent messages.
//!
//! Own client (reqwest) rather than serenity's: delivery must see every 429 and its `retry_after`, and with
//! `DISCORD_API_URL` set serenity's rate limiter is off anyway. Errors never carry the token or webhook URL.

use std::time::Duration;

use iam_alarm_core::message::CreateMessage;
use reqwest::header::CONTENT_TYPE;
use reqwest::{Response, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use url::Url;

use super::pacing::Pacer;
use super::DeliveryError;

pub const DEFAULT_API_BASE: &str = "https://discord.com";
const API_PATH: &str = "/api/v10";
const TIMEOUT: Duration = Duration::from_secs(10);

pub struct DiscordRest {
    http: reqwest::Client,
    /// The alert channel's (or webhook's) bucket and the global limit.
    pacer: Pacer,
    /// `https://discord.com/api/v10` (or the configured replacement).
    api: String,
    auth: Auth,
}

enum Auth {
    Bot(SecretString),
    /// The whole webhook URL is the secret.
    Webhook(SecretString),
}

impl DiscordRest {
    pub fn bot(base: Option<&Url>, token: SecretString) -> DiscordRest {
        DiscordRest {
            http: client(),
            pacer: Pacer::default(),
            api: api_root(base),
            auth: Auth::Bot(token),
        }
    }

    pub fn webhook(url: SecretString) -> DiscordRest {
        DiscordRest {
            http: client(),
            pacer: Pacer::default(),
            api: String::new(),
            auth: Auth::Webhook(url),
        }
    }

    /// `POST /channels/{id}/messages`.
    pub async fn create_message(
        &self,
        channel_id: u64,
        message: &CreateMessage,
    ) -> Result<(), DeliveryError> {
        let url = format!("{}/channels/{channel_id}/messages", self.api);
        self.pacer.acquire().await;
        let response = self
            .authorised(self.http.post(url))
            .header(CONTENT_TYPE, "application/json")
            .body(message.to_json())
            .send()
            .await
            .map_err(transport_error)?;
        self.paced(response).await
    }

    /// Whether an alert could be posted now without waiting for the rate limit.
    pub fn has_room(&self) -> bool {
        self.pacer.has_room()
    }

    /// How long until the rate limit lets a message go (zero: now).
    pub fn time_to_room(&self) -> std::time::Duration {
        self.pacer.time_to_room()
    }

    /// Learn the bucket from the answer, and honour a 429's wait for every later request too.
    async fn paced(&self, response: Response) -> Result<(), DeliveryError> {
        self.pacer.update(response.headers());
        match check(response).await {
            Err(DeliveryError::Retry {
                kind: "rate_limited",
                after: Some(after),
                detail,
            }) => {
                self.pacer.block_for(after);
                Err(DeliveryError::Retry {
                    kind: "rate_limited",
                    after: Some(after),
                    detail,
                })
            }
            other => other.map(drop),
        }
    }

    /// `POST {webhook}?wait=true` (wait, so a 2xx means the message exists).
    pub async fn execute_webhook(&self, message: &CreateMessage) -> Result<(), DeliveryError> {
        let Auth::Webhook(url) = &self.auth else {
            unreachable!("execute_webhook on a bot client")
        };
        self.pacer.acquire().await;
        let response = self
            .http
            .post(url.expose_secret())
            .query(&[("wait", "true")])
            .header(CONTENT_TYPE, "application/json")
            .body(message.to_json())
            .send()
            .await
            .map_err(transport_error)?;
        self.paced(response).await
    }

    /// The channel's most recent messages (newest first), as raw JSON.
    pub async fn recent_messages(
        &self,
        channel_id: u64,
        limit: u8,
    ) -> Result<Vec<serde_json::Value>, DeliveryError> {
        let url = format!("{}/channels/{channel_id}/messages", self.api);
        let response = self
            .authorised(self.http.get(url))
            .query(&[("limit", limit.min(100).to_string())])
            .send()
            .await
            .map_err(transport_error)?;
        let response = check(response).await?;
        response.json().await.map_err(|e| DeliveryError::Retry {
            kind: "bad_response",
            after: None,
            detail: e.without_url().to_string(),
        })
    }

    fn authorised(&self, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.auth {
            Auth::Bot(token) => {
                req.header("Authorization", format!("Bot {}", token.expose_secret()))
            }
            Auth::Webhook(_) => req,
        }
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(TIMEOUT)
        .user_agent(concat!(
            "DiscordBot (https://github.com/iam-alarm, ",
            env!("CARGO_PKG_VERSION"),
            ") iam-alarm"
        ))
        .build()
        .expect("a TLS-capable HTTP client")
}

fn api_root(base: Option<&Url>) -> String {
    let base = base.map_or(DEFAULT_API_BASE, Url::as_str);
    format!("{}{API_PATH}", base.trim_end_matches('/'))
}

fn transport_error(e: reqwest::Error) -> DeliveryError {
    let kind = if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connect"
    } else {
        "network"
    };
    DeliveryError::Retry {
        kind,
        after: None,
        // Without the URL: a webhook URL carries its token.
        detail: e.without_url().to_string(),
    }
}

/// Map Discord's answer: 2xx accepted, 429 and 5xx retried (honouring `retry_after`), 400 rejected; 401, 403
/// and 404 are configuration problems that an operator can fix, so they are retried too (nothing is lost).
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
    let body_after = body.get("retry_after").and_then(serde_json::Value::as_f64);
    let detail = iam_alarm_core::text::plain_capped(
        body.get("message").and_then(|m| m.as_str()).unwrap_or(""),
        300,
    );
    let detail = format!(
        "HTTP {}{}{}",
        status.as_u16(),
        if detail.is_empty() { "" } else { ": " },
        detail
    );
    let after = body_after
        .or(header_after)
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(|s| Duration::from_secs_f64(s.min(3600.0)));
    Err(match status {
        StatusCode::TOO_MANY_REQUESTS => DeliveryError::Retry {
            kind: "rate_limited",
            after: Some(after.unwrap_or(Duration::from_secs(1))),
            detail,
        },
        s if s.is_server_error() => DeliveryError::Retry {
            kind: "server_error",
            after: None,
            detail,
        },
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN | StatusCode::NOT_FOUND => {
            DeliveryError::Retry {
                kind: "access",
                after: None,
                detail,
            }
        }
        _ => DeliveryError::Rejected {
            status: status.as_u16(),
            detail,
        },
    })
}
