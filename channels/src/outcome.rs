use std::time::Duration;

/// How a send ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Accepted by the server or provider.
    Delivered {
        /// The provider's id for the message (SMTP queue id, Twilio SID, …), when it gives one.
        provider_id: Option<String>,
    },
    /// Failed for now; worth retrying.
    Transient {
        /// What went wrong.
        reason: String,
        /// How long the provider asked us to wait (`Retry-After`), if it did.
        retry_after: Option<Duration>,
    },
    /// Failed for good; never retry.
    Permanent {
        /// What went wrong.
        reason: String,
        /// A machine-readable code: the RFC 3463 enhanced status (`5.1.1`) for email, the
        /// provider's error code for SMS.
        code: Option<String>,
    },
}

impl Outcome {
    /// A transient failure without a retry hint.
    pub fn transient(reason: impl Into<String>) -> Self {
        Outcome::Transient {
            reason: reason.into(),
            retry_after: None,
        }
    }

    /// A permanent failure without a code.
    pub fn permanent(reason: impl Into<String>) -> Self {
        Outcome::Permanent {
            reason: reason.into(),
            code: None,
        }
    }

    /// Whether the message was delivered.
    pub fn is_delivered(&self) -> bool {
        matches!(self, Outcome::Delivered { .. })
    }

    /// Whether a retry may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, Outcome::Transient { .. })
    }

    /// Whether the failure is final.
    pub fn is_permanent(&self) -> bool {
        matches!(self, Outcome::Permanent { .. })
    }
}
