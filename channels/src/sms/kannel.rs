//! Kannel's smsbox `sendsms` HTTP interface.
//!
//! `GET /cgi-bin/sendsms?username=…&password=…&from=…&to=…&text=…&charset=UTF-8&coding=0|2
//! &dlr-mask=31&dlr-url=…` answers `202` with `0: Accepted for delivery` or `3: Queued for
//! later delivery`; `403` for bad credentials, `4xx` for a bad request, `503` when sending is
//! disabled. Kannel calls the `dlr-url` back with its `%d` (status), `%T` (time), `%p`
//! (recipient) and `%A` (SMSC reply) placeholders filled in; jalin adds the message id.

use super::{Sms, encoding::Encoding, precheck};
use crate::http::{classify, client, network_failure};
use crate::{Channel, ChannelError, Outcome};
use futures::future::BoxFuture;
use serde::Deserialize;
use std::time::Duration;

/// `[channels.sms.kannel]` in `jalin.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KannelConfig {
    /// The smsbox sendsms URL, e.g. `http://127.0.0.1:13013/cgi-bin/sendsms`.
    pub url: String,
    /// The `sendsms-user` name in kannel.conf.
    pub username: String,
    /// The environment variable holding that user's password.
    pub password_env: String,
    /// Our delivery-report endpoint (`https://…/hooks/sms/kannel`); none means no reports.
    #[serde(default)]
    pub dlr_url: Option<String>,
    /// Which reports Kannel sends: the dlr-mask bits (31 = delivered, failed, buffered, submitted, rejected).
    #[serde(default = "default_mask")]
    pub dlr_mask: u8,
    /// The most segments one message may take.
    #[serde(default = "default_segments")]
    pub max_segments: usize,
    /// Seconds to wait for Kannel.
    #[serde(default = "default_timeout")]
    pub timeout_seconds: u64,
}

fn default_mask() -> u8 {
    31
}
fn default_segments() -> usize {
    3
}
fn default_timeout() -> u64 {
    10
}

/// Sends through Kannel.
#[derive(Debug, Clone)]
pub struct KannelSms {
    config: KannelConfig,
    password: String,
    http: reqwest::Client,
}

impl KannelSms {
    /// Builds the client, reading the password from the environment.
    pub fn new(config: KannelConfig) -> Result<Self, ChannelError> {
        let password = std::env::var(&config.password_env).map_err(|_| {
            ChannelError::new(
                "kannel",
                format!("set {} to the sendsms password", config.password_env),
            )
        })?;
        KannelSms::with_password(config, password)
    }

    /// Builds the client with the password given.
    pub fn with_password(config: KannelConfig, password: String) -> Result<Self, ChannelError> {
        let http = client(Duration::from_secs(config.timeout_seconds))
            .map_err(|e| ChannelError::new("kannel", e))?;
        Ok(KannelSms {
            config,
            password,
            http,
        })
    }

    /// The delivery-report URL for one message, with Kannel's placeholders.
    fn dlr_url(&self, id: &str, token: Option<&str>) -> Option<String> {
        let base = self.config.dlr_url.as_ref()?;
        let sep = if base.contains('?') { '&' } else { '?' };
        let enc = |v: &str| {
            percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC).to_string()
        };
        // %d status, %T time, %p recipient, %A SMSC reply — Kannel fills these in; the token
        // is what proves to our endpoint that the report is about a message we sent.
        Some(format!(
            "{base}{sep}id={}&sig={}&status=%d&ts=%T&to=%p&reply=%A",
            enc(id),
            enc(token.unwrap_or_default())
        ))
    }
}

impl Channel<Sms> for KannelSms {
    fn send<'a>(&'a self, sms: &'a Sms) -> BoxFuture<'a, Outcome> {
        Box::pin(async move {
            let info = match precheck(sms, self.config.max_segments) {
                Ok(i) => i,
                Err(o) => return o,
            };
            let coding = match info.encoding {
                Encoding::Gsm7 => "0",
                Encoding::Ucs2 => "2",
            };
            let mask = self.config.dlr_mask.to_string();
            let mut query: Vec<(&str, &str)> = vec![
                ("username", &self.config.username),
                ("password", &self.password),
                ("from", &sms.from),
                ("to", &sms.to),
                ("text", &sms.body),
                ("charset", "UTF-8"),
                ("coding", coding),
            ];
            let dlr = self.dlr_url(&sms.id, sms.receipt_token.as_deref());
            if let Some(d) = &dlr {
                query.push(("dlr-mask", &mask));
                query.push(("dlr-url", d));
            }
            match self.http.get(&self.config.url).query(&query).send().await {
                Ok(resp) => {
                    let status = resp.status();
                    let headers = resp.headers().clone();
                    let body = resp.text().await.unwrap_or_default();
                    let accepted = body.starts_with("0:") || body.starts_with("3:");
                    if status.is_success() && !accepted {
                        return Outcome::transient(format!(
                            "unexpected answer from Kannel: {}",
                            body.trim()
                        ));
                    }
                    classify(status, &headers, &body, Some(sms.id.clone()))
                }
                Err(e) => network_failure(&e),
            }
        })
    }

    fn health_check(&self) -> BoxFuture<'_, Result<(), ChannelError>> {
        Box::pin(async move {
            // A request without a recipient: Kannel answers 4xx if it is there, 403 if the
            // credentials are wrong.
            let resp = self
                .http
                .get(&self.config.url)
                .query(&[
                    ("username", self.config.username.as_str()),
                    ("password", self.password.as_str()),
                ])
                .send()
                .await
                .map_err(|e| {
                    ChannelError::new(
                        "kannel",
                        format!("{} is not reachable: {e}", self.config.url),
                    )
                })?;
            if resp.status() == reqwest::StatusCode::FORBIDDEN {
                return Err(ChannelError::new(
                    "kannel",
                    "Kannel refused the sendsms credentials",
                ));
            }
            Ok(())
        })
    }

    fn name(&self) -> &'static str {
        "kannel"
    }
}
