//! Analytics: per-customer scores (RFM, BG/NBD churn and expected purchases, Gamma-Gamma spend,
//! CLV, profit, loyalty tier) written to `customer_scores` for segments to use, and the
//! aggregates the reports show (cohort retention, Pareto, campaign funnel, lift and ROI).
//!
//! Money is in rupiah (major units) in every score and report; the database keeps sen.
//! Conventions for awkward data (documented here once, tested in `tests.rs`):
//! - purchases are orders that are neither quotes nor cancelled, placed no later than the
//!   moment of the recompute (orders in the future are left out until their time comes);
//! - a customer who never bought has no RFM cell, no P(alive) and no expected purchases (NULL:
//!   rules on them never match), CLV 0 and a profit of minus their cost to serve;
//! - a customer with one purchase has P(alive) = 1 (the BG/NBD model only lets customers drop out
//!   after a repeat purchase) and an expected spend shrunk toward the population's;
//! - zero-value orders count as purchases but not in the spend model's fit;
//! - when a model fit does not converge the report says so and the model's scores keep their
//!   previous values (RFM, profit and loyalty are still recomputed).

pub mod aggregates;
pub mod bgnbd;
pub mod gamma_gamma;
pub mod loyalty;
pub mod nightly;
mod optimize;
pub mod recompute;
pub mod rfm;
pub mod special;
pub mod stats;
pub mod summaries;

#[cfg(test)]
mod tests;

pub use recompute::{Recompute, purchase_histories, recompute};

use serde::{Deserialize, Serialize};

/// `[analytics]` in `jalin.toml`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnalyticsSettings {
    /// How far ahead CLV looks, in months.
    #[serde(default = "default_horizon")]
    pub clv_months: u32,
    /// Yearly discount rate for CLV (0.10 = 10 %), applied monthly.
    #[serde(default = "default_discount")]
    pub discount_rate: f64,
    /// When the scheduler recomputes every night (`HH:MM` in `time_zone`).
    #[serde(default = "default_nightly")]
    pub nightly_at: String,
    /// The zone of `nightly_at`.
    #[serde(default = "default_zone")]
    pub time_zone: String,
    /// What one message costs to send, per channel, in rupiah.
    #[serde(default)]
    pub unit_cost: UnitCosts,
    /// What handling one complaint costs, in rupiah.
    #[serde(default = "default_complaint_cost")]
    pub complaint_cost: f64,
    /// Loyalty programme rules.
    #[serde(default)]
    pub loyalty: LoyaltySettings,
}

impl Default for AnalyticsSettings {
    fn default() -> Self {
        AnalyticsSettings {
            clv_months: default_horizon(),
            discount_rate: default_discount(),
            nightly_at: default_nightly(),
            time_zone: default_zone(),
            unit_cost: UnitCosts::default(),
            complaint_cost: default_complaint_cost(),
            loyalty: LoyaltySettings::default(),
        }
    }
}

/// `[analytics.unit_cost]`: rupiah per message sent.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnitCosts {
    /// One email.
    #[serde(default = "default_email_cost")]
    pub email: f64,
    /// One SMS segment.
    #[serde(default = "default_sms_cost")]
    pub sms: f64,
    /// One webhook (a call-center or sales task).
    #[serde(default = "default_webhook_cost")]
    pub webhook: f64,
}

impl Default for UnitCosts {
    fn default() -> Self {
        UnitCosts {
            email: default_email_cost(),
            sms: default_sms_cost(),
            webhook: default_webhook_cost(),
        }
    }
}

/// `[analytics.loyalty]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoyaltySettings {
    /// Bonus points for an order attributed to a campaign (on top of 1 point per Rp 10,000).
    #[serde(default = "default_bonus")]
    pub campaign_bonus: i64,
    /// Points expire this many months after they were earned (oldest spent first).
    #[serde(default = "default_expiry")]
    pub expiry_months: u32,
    /// Tiers by points earned in the last 12 months, lowest first; the first must start at 0.
    #[serde(default = "default_tiers")]
    pub tiers: Vec<Tier>,
}

impl Default for LoyaltySettings {
    fn default() -> Self {
        LoyaltySettings {
            campaign_bonus: default_bonus(),
            expiry_months: default_expiry(),
            tiers: default_tiers(),
        }
    }
}

/// A loyalty tier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tier {
    /// Its name (lower case), as segments and campaigns refer to it.
    pub name: String,
    /// Points earned in the last 12 months needed to be in it.
    pub points: i64,
}

impl LoyaltySettings {
    /// The tier of `points_12m` points and its rank (0 = lowest).
    pub fn tier_of(&self, points_12m: i64) -> (usize, &str) {
        let mut found = (0, self.tiers.first().map_or("", |t| t.name.as_str()));
        for (i, t) in self.tiers.iter().enumerate() {
            if points_12m >= t.points {
                found = (i, t.name.as_str());
            }
        }
        found
    }

    /// The rank of a tier name (None when it is not one of ours any more).
    pub fn rank(&self, name: &str) -> Option<usize> {
        self.tiers.iter().position(|t| t.name == name)
    }

    /// What is wrong with the tiers, if anything.
    pub fn problem(&self) -> Option<String> {
        if self.tiers.first().is_none_or(|t| t.points != 0) {
            return Some("the first tier must start at 0 points".into());
        }
        if self.tiers.windows(2).any(|w| w[1].points <= w[0].points) {
            return Some("tiers must be listed with increasing points".into());
        }
        let word = |n: &str| {
            !n.is_empty()
                && n.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
        };
        if !self.tiers.iter().all(|t| word(&t.name)) {
            return Some("tier names are lower-case words (a-z, 0-9, _ and -)".into());
        }
        None
    }
}

fn default_horizon() -> u32 {
    12
}
fn default_discount() -> f64 {
    0.10
}
fn default_nightly() -> String {
    "02:00".into()
}
fn default_zone() -> String {
    "Asia/Jakarta".into()
}
fn default_complaint_cost() -> f64 {
    150_000.0
}
fn default_email_cost() -> f64 {
    25.0
}
fn default_sms_cost() -> f64 {
    350.0
}
fn default_webhook_cost() -> f64 {
    5_000.0
}
fn default_bonus() -> i64 {
    50
}
fn default_expiry() -> u32 {
    24
}
fn default_tiers() -> Vec<Tier> {
    [
        ("bronze", 0),
        ("silver", 1_000),
        ("gold", 3_000),
        ("platinum", 8_000),
    ]
    .into_iter()
    .map(|(name, points)| Tier {
        name: name.into(),
        points,
    })
    .collect()
}
