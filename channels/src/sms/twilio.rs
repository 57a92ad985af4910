//! A Twilio-compatible Messages API.
//!
//! `POST {base}/2010-04-01/Accounts/{AccountSid}/Messages.json` with HTTP Basic auth
//! (AccountSid:AuthToken) and a form of `To`, `From`, `Body` and `StatusCallback` answers
//! `201` with a JSON message resource whose `sid` starts with `SM`; errors are JSON with Twilio's
//! `code` (e.g. 21211 invalid number, 21610 the recipient replied STOP).

use super::{Sms, precheck};
use crate::http::{classify, client, network_failure};
use crate::{Channel, ChannelError, Outcome};
use futures::future::BoxFuture;
use serde::Deserialize;
use std::time::Duration;

/// `[channels.sms.twilio]` in `jalin.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TwilioConfig {
    /// The API's base URL (`https://api.twilio.com`, or a compatible provider's).
    #[serde(default = "default_base")]
    pub base_url: String,
    /// The account SID (`AC…`).
    pub account_sid: String,
    /// The environment variable holding the auth token.
    pub auth_token_env: String,
    /// Our status-callback endpoint (`https://…/hooks/sms/twilio`); none means no receipts.
    #[serde(default)]
    pub status_callback: Option<String>,
    /// The most segments one message may take.
    #[serde(default = "default_segments")]
    pub max_segments: usize,
    /// Seconds to wait for the API.
    #[serde(default = "default_timeout")]
    pub timeout_seconds: u64,
}

fn default_base() -> String {
    "https://api.twilio.com".into()
}
fn default_segments() -> usize {
    3
}
fn default_timeout() -> u64 {
    10
}

/// Twilio error codes that no retry can fix.
const PERMANENT_CODES: &[i64] = &[
    21211, 21214, 21408, 21610, 21612, 21614, 30003, 30005, 30006,
];

/// Sends through a Twilio-compatible API.
#[derive(Debug, Clone)]
pub struct TwilioSms {
    config: TwilioConfig,
    token: String,
    http: reqwest::Client,
}

#[derive(Deserialize)]
struct Created {
    sid: String,
}

#[derive(Deserialize)]
struct ApiError {
    code: Option<i64>,
    message: Option<String>,
}

impl TwilioSms {
    /// Builds the client, reading the auth token from the environment.
    pub fn new(config: TwilioConfig) -> Result<Self, ChannelError> {
        let token = std::env::var(&config.auth_token_env).map_err(|_| {
            ChannelError::new(
                "twilio",
                format!("set {} to the auth token", config.auth_token_env),
            )
        })?;
        TwilioSms::with_token(config, token)
    }

    /// Builds the client with the auth token given.
    pub fn with_token(config: TwilioConfig, token: String) -> Result<Self, ChannelError> {
        let http = client(Duration::from_secs(config.timeout_seconds))
            .map_err(|e| ChannelError::new("twilio", e))?;
        Ok(TwilioSms {
            config,
            token,
            http,
        })
    }

    fn url(&self, tail: &str) -> String {
        format!(
            "{}/2010-04-01/Accounts/{}{tail}",
            self.config.base_url.trim_end_matches('/'),
            self.config.account_sid
        )
    }
}

impl Channel<Sms> for TwilioSms {
    fn send<'a>(&'a self, sms: &'a Sms) -> BoxFuture<'a, Outcome> {
        Box::pin(async move {
            if let Err(o) = precheck(sms, self.config.max_segments) {
                return o;
            }
            let mut form = vec![
                ("To", sms.to.as_str()),
                ("From", sms.from.as_str()),
                ("Body", sms.body.as_str()),
            ];
            let callback = sms
                .status_callback
                .as_ref()
                .or(self.config.status_callback.as_ref());
            if let Some(cb) = callback {
                form.push(("StatusCallback", cb));
            }
            let resp = self
                .http
                .post(self.url("/Messages.json"))
                .basic_auth(&self.config.account_sid, Some(&self.token))
                .form(&form)
                .send()
                .await;
            let resp = match resp {
                Ok(r) => r,
                Err(e) => return network_failure(&e),
            };
            let status = resp.status();
            let headers = resp.headers().clone();
            let body = resp.text().await.unwrap_or_default();
            if status.is_success() {
                return match serde_json::from_str::<Created>(&body) {
                    Ok(c) => Outcome::Delivered {
                        provider_id: Some(c.sid),
                    },
                    Err(_) => Outcome::transient(format!(
                        "unexpected answer: {}",
                        body.chars().take(200).collect::<String>()
                    )),
                };
            }
            if let Ok(ApiError {
                code: Some(code),
                message,
            }) = serde_json::from_str::<ApiError>(&body)
                && PERMANENT_CODES.contains(&code)
            {
                return Outcome::Permanent {
                    reason: format!("Twilio error {code}: {}", message.unwrap_or_default()),
                    code: Some(code.to_string()),
                };
            }
            classify(status, &headers, &body, None)
        })
    }

    fn health_check(&self) -> BoxFuture<'_, Result<(), ChannelError>> {
        Box::pin(async move {
            let resp = self
                .http
                .get(self.url(".json"))
                .basic_auth(&self.config.account_sid, Some(&self.token))
                .send()
                .await
                .map_err(|e| {
                    ChannelError::new(
                        "twilio",
                        format!("{} is not reachable: {e}", self.config.base_url),
                    )
                })?;
            match resp.status().as_u16() {
                200 => Ok(()),
                401 | 403 => Err(ChannelError::new(
                    "twilio",
                    "the account SID or auth token was refused",
                )),
                s => Err(ChannelError::new(
                    "twilio",
                    format!("account check answered HTTP {s}"),
                )),
            }
        })
    }

    fn name(&self) -> &'static str {
        "twilio"
    }
}
