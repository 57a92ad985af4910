//! jalin's delivery channels: email over pooled SMTP, SMS through Kannel or a Twilio-compatible
//! API, Standard-Webhooks-signed HTTP posts, a file outbox and a recording stub. This crate knows
//! nothing of the database: it delivers one rendered message and says what happened.
//!
//! Every channel implements [`Channel<M>`] for its message type and ends each send as an
//! [`Outcome`]: delivered (with the provider's id), transient (retry later, perhaps after a
//! given delay) or permanent (never retry).
//!
//! ```no_run
//! # async fn f() {
//! use jalin_channels::{Channel, Outcome, sms::Sms, stub::Stub};
//! let stub = Stub::<Sms>::default();
//! let sms = Sms { id: "m1".into(), to: "+6281234567890".into(), from: "KayuJaya".into(),
//!                 body: "Halo".into(), status_callback: None, receipt_token: None };
//! assert!(matches!(stub.send(&sms).await, Outcome::Delivered { .. }));
//! assert_eq!(stub.sent().len(), 1);
//! # }
//! ```

pub mod email;
mod http;
pub mod limits;
pub mod outbox;
mod outcome;
pub mod sms;
pub mod stub;
pub mod tracking;
pub mod webhook;

pub use outcome::Outcome;

use futures::future::BoxFuture;
use std::fmt::Debug;

/// A problem that stops a channel from working at all (found by the start-up health check).
#[derive(Debug, thiserror::Error)]
#[error("{channel}: {reason}")]
pub struct ChannelError {
    /// Which channel.
    pub channel: String,
    /// Why it cannot be used.
    pub reason: String,
}

impl ChannelError {
    /// A channel error.
    pub fn new(channel: impl Into<String>, reason: impl Into<String>) -> Self {
        ChannelError {
            channel: channel.into(),
            reason: reason.into(),
        }
    }
}

/// One way of delivering messages of type `M`.
pub trait Channel<M>: Send + Sync + Debug {
    /// Delivers one message. Never panics; every failure is an [`Outcome`].
    fn send<'a>(&'a self, message: &'a M) -> BoxFuture<'a, Outcome>;

    /// Checks the channel can work (reachable server, valid credentials) before the first send.
    fn health_check(&self) -> BoxFuture<'_, Result<(), ChannelError>>;

    /// A short name for logs and metrics: `smtp`, `kannel`, `outbox`, …
    fn name(&self) -> &'static str;
}

/// Makes the HTTP clients use rustls with the ring provider (installed once per process).
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
