//! Campaigns: `config/campaigns/*.toml` read and checked, runs planned into the outbox, the
//! outbox claimed and settled by delivery workers, and triggers read from recorded events.
//!
//! The outbox is the source of truth: one row per (run, customer, channel) under a unique key,
//! written before anything is sent. Queue jobs only carry outbox ids; a worker claims a row
//! (`queued` → `sending`, with a lease) before it sends and settles it after, so a crashed
//! worker's rows go back to the queue when the lease runs out and a message is sent twice only if
//! it was in flight at the crash.

mod assign;
mod definition;
mod facts;
mod outbox;
mod plan;
mod runs;
mod schedule;
mod triggers;

pub(crate) use assign::fnv1a;
pub use assign::{bucket, held_out, not_before, offer_code, variant};
pub use definition::{
    Campaign, CampaignDefaults, CampaignKind, Goal, Offer, QuietHours, TaskSpec, Variant,
    parse_campaign,
};
pub use facts::{DeliveryFacts, TriggerFacts, delivery_facts, products_in, trigger_facts};
pub use outbox::{
    Claimed, Settle, claim, due_for_enqueue, event_counts, mark_enqueued, outbox_summary,
    release_expired, sent_messages, settle, suppress, unsettled,
};
pub use plan::{Audience, PlanOptions, PlanStats, PlannedMessage, plan_run};
pub use runs::{RunInfo, RunStart, campaign_funnel, finish_run, list_runs, start_run};
pub use schedule::Schedule;
pub use triggers::{TriggerFire, init_trigger_cursor, read_cursor, scan_triggers, write_cursor};

use crate::config::ConfigError;
use crate::segments::SegmentSet;
use std::collections::BTreeMap;
use std::path::Path;

/// Every campaign of a config folder.
#[derive(Debug, Clone, Default)]
pub struct CampaignSet {
    campaigns: BTreeMap<String, Campaign>,
}

impl CampaignSet {
    /// A set from campaigns already parsed.
    pub fn from_campaigns(list: impl IntoIterator<Item = Campaign>) -> Self {
        CampaignSet {
            campaigns: list.into_iter().map(|c| (c.name.clone(), c)).collect(),
        }
    }

    /// The campaign called `name`.
    pub fn get(&self, name: &str) -> Option<&Campaign> {
        self.campaigns.get(name)
    }

    /// All campaigns, by name.
    pub fn iter(&self) -> impl Iterator<Item = &Campaign> {
        self.campaigns.values()
    }

    /// Each campaign's goal window in days (for attributing orders).
    pub fn goal_days(&self) -> std::collections::HashMap<String, u32> {
        self.iter()
            .map(|c| (c.name.clone(), c.goal.within_days))
            .collect()
    }

    /// How many.
    pub fn len(&self) -> usize {
        self.campaigns.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.campaigns.is_empty()
    }

    /// Checks every campaign's segment against `segments`; template references are checked by
    /// the caller (the templates crate is not the engine's).
    pub fn check_segments(&self, segments: &SegmentSet) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        for c in self.iter() {
            if let Some(s) = &c.segment
                && segments.get(s).is_none()
                && let Some(at) = c.refs.get("segment")
            {
                let known = segments.names().join(", ");
                errors.push(at.error(format!("unknown segment {s:?} (known: {known})")));
            }
        }
        errors
    }
}

/// Loads `DIR/*.toml`, naming files relative to `shown`; returns the valid campaigns and every
/// problem found.
pub fn load_campaigns(
    dir: &Path,
    shown: &str,
    defaults: &CampaignDefaults,
) -> (CampaignSet, Vec<ConfigError>) {
    let (files, mut errors) = crate::config::read_toml_dir(dir, shown, "campaign");
    let mut list = Vec::new();
    for (name, src) in files {
        match parse_campaign(&src, &name, defaults) {
            Ok(c) => list.push(c),
            Err(mut es) => errors.append(&mut es),
        }
    }
    (CampaignSet::from_campaigns(list), errors)
}

#[cfg(test)]
mod tests;
