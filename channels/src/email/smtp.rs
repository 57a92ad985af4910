//! Sending over SMTP through a pool of connections (lettre's protocol, our pool: see
//! [`super::pool`] for why).
//!
//! Reusing connections is about three times faster than a connection per message against a
//! local sink. A 4xx reply is transient and a 5xx permanent; the RFC 3463 enhanced status code
//! (`5.1.1`) from the reply is kept so bounces can be classified.

use super::bounce::enhanced_code;
use super::pool::{Pool, PoolError, Security};
use super::{Email, EmailSettings, build};
use crate::{Channel, ChannelError, Outcome};
use futures::future::BoxFuture;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::TlsParameters;
use lettre::transport::smtp::extension::ClientId;
use serde::Deserialize;
use std::sync::Arc;
use std::time::Duration;

/// `[channels.email.smtp]` in `jalin.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    /// The SMTP server.
    pub host: String,
    /// Its port (25, 587 for STARTTLS, 465 for implicit TLS, anything for a local relay).
    pub port: u16,
    /// `none` (local relays only), `starttls`, `opportunistic` (STARTTLS when offered) or `tls`.
    #[serde(default = "default_security")]
    pub security: String,
    /// A user name, when the server wants authentication.
    #[serde(default)]
    pub username: Option<String>,
    /// The environment variable holding the password.
    #[serde(default)]
    pub password_env: Option<String>,
    /// How many connections to keep open and use at once.
    #[serde(default = "default_pool")]
    pub pool_size: u32,
    /// Seconds to wait for the server.
    #[serde(default = "default_timeout")]
    pub timeout_seconds: u64,
    /// The name we greet the server with (EHLO); the machine's host name by default.
    #[serde(default)]
    pub hello_name: Option<String>,
}

fn default_security() -> String {
    "starttls".into()
}
fn default_pool() -> u32 {
    10
}
fn default_timeout() -> u64 {
    30
}

/// Email over pooled SMTP.
#[derive(Debug, Clone)]
pub struct SmtpEmail {
    pool: Arc<Pool>,
    settings: EmailSettings,
    server: String,
}

impl SmtpEmail {
    /// Builds the pool (no connection is opened until the health check or the first send).
    pub fn new(config: &SmtpConfig, settings: EmailSettings) -> Result<Self, ChannelError> {
        crate::install_crypto_provider();
        let fail = |m: String| ChannelError::new("smtp", m);
        let tls_params = || {
            TlsParameters::new(config.host.clone())
                .map_err(|e| fail(format!("TLS for {}: {e}", config.host)))
        };
        let security = match config.security.as_str() {
            "none" => Security::None,
            "starttls" => Security::StartTls {
                params: tls_params()?,
                required: true,
            },
            "opportunistic" => Security::StartTls {
                params: tls_params()?,
                required: false,
            },
            "tls" => Security::Implicit(tls_params()?),
            other => {
                return Err(fail(format!(
                    "security {other:?} is not none, starttls, opportunistic or tls"
                )));
            }
        };
        let hello = match &config.hello_name {
            Some(name) => ClientId::Domain(name.clone()),
            None => ClientId::default(),
        };
        let credentials = match &config.username {
            Some(user) => {
                let var = config
                    .password_env
                    .as_ref()
                    .ok_or_else(|| fail("username given without password_env".into()))?;
                let password = std::env::var(var)
                    .map_err(|_| fail(format!("set {var} to the SMTP password")))?;
                Some(Credentials::new(user.clone(), password))
            }
            None => None,
        };
        let pool = Pool::new(
            config.host.clone(),
            config.port,
            Duration::from_secs(config.timeout_seconds),
            hello,
            security,
            credentials,
            config.pool_size as usize,
        );
        Ok(SmtpEmail {
            pool: Arc::new(pool),
            settings,
            server: format!("{}:{}", config.host, config.port),
        })
    }
}

/// What an SMTP error means for the message.
fn classify(e: &PoolError) -> Outcome {
    match e {
        PoolError::Smtp(e) => {
            let reason = e.to_string();
            let code = enhanced_code(&reason).or_else(|| e.status().map(|c| c.to_string()));
            if e.is_permanent() {
                Outcome::Permanent { reason, code }
            } else {
                // 4xx replies, timeouts, dropped connections, TLS hiccups: try again later.
                Outcome::Transient {
                    reason,
                    retry_after: None,
                }
            }
        }
        PoolError::Connect(reason) => Outcome::transient(reason.clone()),
    }
}

impl Channel<Email> for SmtpEmail {
    fn send<'a>(&'a self, email: &'a Email) -> BoxFuture<'a, Outcome> {
        Box::pin(async move {
            let message = match build(&self.settings, email) {
                Ok(m) => m,
                Err(outcome) => return outcome,
            };
            match self
                .pool
                .send(message.envelope(), &message.formatted())
                .await
            {
                Ok(response) => Outcome::Delivered {
                    provider_id: response.message().last().map(|l| l.trim().to_owned()),
                },
                Err(e) => classify(&e),
            }
        })
    }

    fn health_check(&self) -> BoxFuture<'_, Result<(), ChannelError>> {
        Box::pin(async move {
            match self.pool.connect().await {
                Ok(mut conn) => {
                    let alive = conn.smtp.test_connected().await;
                    let _ = conn.smtp.quit().await;
                    if alive {
                        Ok(())
                    } else {
                        Err(ChannelError::new(
                            "smtp",
                            format!("{} did not answer NOOP", self.server),
                        ))
                    }
                }
                Err(PoolError::Smtp(e)) => {
                    Err(ChannelError::new("smtp", format!("{}: {e}", self.server)))
                }
                Err(PoolError::Connect(e)) => Err(ChannelError::new("smtp", e)),
            }
        })
    }

    fn name(&self) -> &'static str {
        "smtp"
    }
}
