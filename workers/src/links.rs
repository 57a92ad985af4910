//! The links templates insert, made by the tracking server's signer.

use jalin_channels::tracking::{TrackingKeys, TrackingUrls};
use jalin_templates::Links;

/// Tracked links signed for the tracking server.
#[derive(Debug, Clone)]
pub struct TrackingLinks(pub TrackingUrls);

impl Links for TrackingLinks {
    fn click(&self, message_id: i64, url: &str) -> String {
        self.0.click(message_id, url)
    }
    fn unsubscribe(&self, message_id: i64) -> String {
        self.0.unsubscribe(message_id)
    }
}

impl TrackingLinks {
    /// Links as long as real ones, signed with a throwaway key: what validation renders with,
    /// so SMS lengths are counted with real-length links.
    pub fn for_validation(base: &str) -> TrackingLinks {
        TrackingLinks(TrackingUrls::new(base, TrackingKeys::from_key([0x5a; 32])))
    }
}
