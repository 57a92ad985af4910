//! The jalin engine: the customer database, segments, campaigns' planning and analytics.
//!
//! It owns the domain and storage; it knows nothing of SMTP, SMS gateways or templates (those
//! are the `jalin-channels` and `jalin-templates` crates, wired together by `jalin-workers`).

pub mod analytics;
pub mod campaigns;
pub mod clock;
pub mod config;
pub mod customers;
pub mod error;
pub mod events;
pub mod hits;
pub mod import;
pub mod model;
pub mod responses;
pub mod sample;

pub mod segments;
pub mod sms_responses;
pub mod store;

pub use error::{Error, Result};
