//! Where tracked links and unsubscribe links come from: the tracking server's signer is
//! plugged in by whoever builds the [`crate::Templates`] (this crate holds no keys).

use std::fmt::Debug;

/// Makes the links a message carries.
pub trait Links: Send + Sync + Debug {
    /// The URL that records a click of `url` in message `message_id` and redirects to it.
    fn click(&self, message_id: i64, url: &str) -> String;
    /// The URL of the unsubscribe page for message `message_id`.
    fn unsubscribe(&self, message_id: i64) -> String;
}

/// Links that are not tracked: for validation and previews.
#[derive(Debug, Clone, Copy, Default)]
pub struct UntrackedLinks;

impl Links for UntrackedLinks {
    fn click(&self, _message_id: i64, url: &str) -> String {
        url.to_owned()
    }
    fn unsubscribe(&self, message_id: i64) -> String {
        format!("https://unsubscribe.invalid/preview/{message_id}")
    }
}
