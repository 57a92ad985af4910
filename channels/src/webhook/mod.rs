//! Webhooks: JSON posted to another system (the call center, the sales force, the ERP), signed
//! per the Standard Webhooks specification.

pub mod standard;

use crate::http::{classify, client, network_failure};
use crate::{Channel, ChannelError, Outcome};
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use standard::Secret;
use std::time::Duration;

/// One webhook to post.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Webhook {
    /// The `webhook-id` (`msg_…`); the receiver de-duplicates on it, so a retry reuses it.
    pub id: String,
    /// What happened, e.g. `campaign.message` or `task.created`.
    pub event_type: String,
    /// When it happened (Unix seconds).
    pub timestamp: i64,
    /// The event's data.
    pub data: serde_json::Value,
}

impl Webhook {
    /// The body posted: `{"type": …, "timestamp": RFC 3339, "data": …}`.
    pub fn body(&self) -> Vec<u8> {
        let at = chrono::DateTime::from_timestamp(self.timestamp, 0).unwrap_or_default();
        let body = serde_json::json!({ "type": self.event_type, "timestamp": at.to_rfc3339(), "data": self.data });
        serde_json::to_vec(&body).unwrap_or_default()
    }

    /// The three Standard Webhooks headers for this body.
    pub fn headers(&self, secrets: &[Secret], body: &[u8]) -> [(&'static str, String); 3] {
        [
            ("webhook-id", self.id.clone()),
            ("webhook-timestamp", self.timestamp.to_string()),
            (
                "webhook-signature",
                standard::sign(secrets, &self.id, self.timestamp, body),
            ),
        ]
    }
}

/// A task for people: "call this customer about …".
pub fn task_payload(
    kind: &str,
    due_hours: u32,
    text: &str,
    customer: serde_json::Value,
    context: serde_json::Value,
) -> serde_json::Value {
    let mut task = serde_json::Map::new();
    task.insert("task".into(), kind.into());
    task.insert("due_within_hours".into(), due_hours.into());
    task.insert("text".into(), text.into());
    task.insert("customer".into(), customer);
    task.insert("context".into(), context);
    serde_json::Value::Object(task)
}

/// `[channels.webhook]` in `jalin.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// Where to post.
    pub url: String,
    /// The environment variable holding the signing secret(s): `whsec_…`, several separated by
    /// spaces during a key rotation (the first signs, all are sent).
    pub secret_env: String,
    /// Seconds to wait for the receiver.
    #[serde(default = "default_timeout")]
    pub timeout_seconds: u64,
}

fn default_timeout() -> u64 {
    10
}

/// Posts signed JSON over HTTP.
#[derive(Debug, Clone)]
pub struct HttpWebhook {
    url: String,
    secrets: Vec<Secret>,
    http: reqwest::Client,
}

impl HttpWebhook {
    /// Builds the channel, reading the secret(s) from the environment.
    pub fn new(config: &WebhookConfig) -> Result<Self, ChannelError> {
        let text = std::env::var(&config.secret_env).map_err(|_| {
            ChannelError::new(
                "webhook",
                format!("set {} to the signing secret (whsec_…)", config.secret_env),
            )
        })?;
        let secrets = Secret::parse_list(&text)
            .map_err(|e| ChannelError::new("webhook", format!("{}: {e}", config.secret_env)))?;
        HttpWebhook::with_secrets(
            &config.url,
            secrets,
            Duration::from_secs(config.timeout_seconds),
        )
    }

    /// Builds the channel with secrets already parsed.
    pub fn with_secrets(
        url: &str,
        secrets: Vec<Secret>,
        timeout: Duration,
    ) -> Result<Self, ChannelError> {
        let parsed = url::Url::parse(url)
            .map_err(|e| ChannelError::new("webhook", format!("{url:?}: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(ChannelError::new(
                "webhook",
                format!("{url:?} is not an http(s) URL"),
            ));
        }
        let http = client(timeout).map_err(|e| ChannelError::new("webhook", e))?;
        Ok(HttpWebhook {
            url: url.to_owned(),
            secrets,
            http,
        })
    }

    /// The secrets (for the file outbox, which shows the headers it would send).
    pub fn secrets(&self) -> &[Secret] {
        &self.secrets
    }
}

impl Channel<Webhook> for HttpWebhook {
    fn send<'a>(&'a self, hook: &'a Webhook) -> BoxFuture<'a, Outcome> {
        Box::pin(async move {
            let body = hook.body();
            let mut req = self
                .http
                .post(&self.url)
                .header("content-type", "application/json");
            for (name, value) in hook.headers(&self.secrets, &body) {
                req = req.header(name, value);
            }
            match req.body(body).send().await {
                Ok(resp) => {
                    let status = resp.status();
                    let headers = resp.headers().clone();
                    let text = resp.text().await.unwrap_or_default();
                    classify(status, &headers, &text, Some(hook.id.clone()))
                }
                Err(e) => network_failure(&e),
            }
        })
    }

    fn health_check(&self) -> BoxFuture<'_, Result<(), ChannelError>> {
        Box::pin(async move {
            // Any HTTP answer means the receiver is there; only no answer is a problem.
            self.http
                .head(&self.url)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| {
                    ChannelError::new("webhook", format!("{} is not reachable: {e}", self.url))
                })
        })
    }

    fn name(&self) -> &'static str {
        "webhook"
    }
}
