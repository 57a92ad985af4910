//! Delivering a batch of outbox rows: claim them, build each recipient's context, render the
//! campaign's template for the chosen channel, send, and record the outcome.

use crate::context::{Company, status_label};
use crate::wiring::Channels;
use jalin_channels::Outcome;
use jalin_channels::email::{Email, Unsubscribe};
use jalin_channels::sms::Sms;
use jalin_channels::tracking::TrackingUrls;
use jalin_channels::webhook::{Webhook, task_payload};
use jalin_engine::campaigns::{
    CampaignSet, Claimed, DeliveryFacts, Settle, TriggerFacts, claim, delivery_facts, settle,
    suppress, trigger_facts,
};
use jalin_engine::clock::SharedClock;
use jalin_engine::store::Store;
use jalin_templates::Templates;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;

/// How delivery behaves (from `[delivery]` in `jalin.toml`).
#[derive(Debug, Clone)]
pub struct DeliveryRules {
    /// Messages of one job sent at the same time.
    pub parallel_sends: usize,
    /// Tries before a transient failure is final.
    pub max_attempts: u32,
    /// The first retry's delay in seconds; doubled each time, ±25% jitter.
    pub retry_base_seconds: u64,
    /// The claim lease in seconds.
    pub lease_seconds: i64,
    /// The SMS sender id.
    pub sms_from: String,
    /// A mailto: for `List-Unsubscribe`.
    pub unsubscribe_mailto: Option<String>,
}

/// Everything a delivery worker needs, shared by all its jobs.
#[derive(Debug)]
pub struct Delivery {
    /// The customer database.
    pub store: Store,
    /// Compiled templates.
    pub templates: Arc<Templates>,
    /// The campaigns (for template, task and offer details).
    pub campaigns: CampaignSet,
    /// Where messages go.
    pub channels: Channels,
    /// The company block.
    pub company: Company,
    /// Tracked links and the open pixel.
    pub urls: TrackingUrls,
    /// Rules.
    pub rules: DeliveryRules,
    /// Recommendation candidates.
    pub catalogue: Vec<Value>,
    /// The time.
    pub clock: SharedClock,
}

/// What one job did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct BatchReport {
    /// Rows claimed.
    pub claimed: usize,
    /// Sent.
    pub sent: usize,
    /// To be retried.
    pub retried: usize,
    /// Failed for good.
    pub failed: usize,
}

/// Errors that fail a whole job.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct DeliveryError(#[from] jalin_engine::Error);

impl Delivery {
    /// Claims `ids`, sends what is due and records every outcome.
    pub async fn process(&self, ids: &[i64]) -> Result<BatchReport, DeliveryError> {
        use futures::StreamExt;
        let now = self.clock.now().timestamp();
        let claimed = claim(&self.store, ids, now, self.rules.lease_seconds).await?;
        let mut report = BatchReport {
            claimed: claimed.len(),
            ..BatchReport::default()
        };
        if claimed.is_empty() {
            return Ok(report);
        }
        let customers: Vec<i64> = claimed.iter().map(|c| c.customer_id).collect();
        let facts = delivery_facts(&self.store, &customers, now).await?;
        let mut triggers: HashMap<i64, Option<TriggerFacts>> = HashMap::new();
        for c in &claimed {
            if let std::collections::hash_map::Entry::Vacant(e) = triggers.entry(c.run_id) {
                e.insert(trigger_facts(&self.store, c.run_id).await?);
            }
        }
        let facts = Arc::new(facts);
        let triggers = Arc::new(triggers);
        let results: Vec<Result<Settle, DeliveryError>> = futures::stream::iter(claimed)
            .map(|row| self.deliver_one(row, facts.clone(), triggers.clone()))
            .buffer_unordered(self.rules.parallel_sends.max(1))
            .collect()
            .await;
        for r in results {
            match r? {
                Settle::Sent { .. } => report.sent += 1,
                Settle::Retry { .. } => report.retried += 1,
                Settle::Failed { .. } => report.failed += 1,
            }
        }
        Ok(report)
    }

    /// Sends one claimed row and records what happened.
    async fn deliver_one(
        &self,
        row: Claimed,
        facts: Arc<HashMap<i64, DeliveryFacts>>,
        triggers: Arc<HashMap<i64, Option<TriggerFacts>>>,
    ) -> Result<Settle, DeliveryError> {
        let f = facts.get(&row.customer_id);
        let t = triggers.get(&row.run_id).and_then(Option::as_ref);
        let outcome = self.send_one(&row, f, t).await;
        let now = self.clock.now().timestamp();
        let s = self.settlement(&row, outcome, now);
        if let Settle::Failed {
            code: Some(code), ..
        } = &s
            && row.channel == "email"
            && code.starts_with("5.1.")
            && let Some(address) = &row.address
        {
            suppress(
                &self.store,
                "email",
                address,
                &format!("hard bounce {code}"),
                now,
            )
            .await?;
        }
        settle(&self.store, &row, &s, now).await?;
        Ok(s)
    }

    fn settlement(&self, row: &Claimed, outcome: Result<Outcome, String>, now: i64) -> Settle {
        match outcome {
            Err(reason) => Settle::Failed {
                reason,
                code: Some("render".into()),
            },
            Ok(Outcome::Delivered { provider_id }) => Settle::Sent { provider_id },
            Ok(Outcome::Permanent { reason, code }) => Settle::Failed { reason, code },
            Ok(Outcome::Transient {
                reason,
                retry_after,
            }) => {
                let attempts = u32::try_from(row.attempts.max(1)).unwrap_or(1);
                if attempts >= self.rules.max_attempts {
                    return Settle::Failed {
                        reason: format!("gave up after {attempts} attempts: {reason}"),
                        code: Some("attempts".into()),
                    };
                }
                Settle::Retry {
                    reason,
                    retry_at: now
                        + backoff_seconds(self.rules.retry_base_seconds, attempts, retry_after),
                }
            }
        }
    }

    /// Renders and sends one message; `Err` is a render failure (recorded, never retried).
    async fn send_one(
        &self,
        row: &Claimed,
        facts: Option<&DeliveryFacts>,
        trigger: Option<&TriggerFacts>,
    ) -> Result<Outcome, String> {
        let Some(facts) = facts else {
            return Ok(Outcome::permanent(
                "the customer no longer exists or was erased",
            ));
        };
        let Some(campaign) = self.campaigns.get(&row.campaign) else {
            return Ok(Outcome::permanent(format!(
                "campaign {} is no longer in the config",
                row.campaign
            )));
        };
        let Some(address) = row.address.clone() else {
            return Ok(Outcome::permanent("no address"));
        };
        let ctx = self.context(row, facts, trigger);
        let variant = (row.variant != "a").then_some(row.variant.as_str());
        let locale = facts.locale.as_str();
        let template = campaign.template.as_str();
        let render_err = |e: jalin_templates::RenderFailure| format!("template {template}: {e}");
        match row.channel.as_str() {
            "email" => {
                let r = self
                    .templates
                    .render_email(template, locale, variant, &ctx)
                    .map_err(render_err)?;
                let email = Email {
                    id: format!("{}.{}", row.id, row.run_id),
                    to: address,
                    to_name: facts
                        .customer
                        .get("name")
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                    subject: r.subject,
                    html: r.html,
                    text: r.text,
                    unsubscribe: Some(Unsubscribe {
                        url: self.urls.unsubscribe(row.id),
                        mailto: self.rules.unsubscribe_mailto.clone(),
                    }),
                    open_pixel: Some(self.urls.open(row.id)),
                    headers: vec![
                        ("X-Jalin-Campaign".into(), row.campaign.clone()),
                        ("X-Jalin-Message".into(), row.id.to_string()),
                    ],
                };
                Ok(self.channels.email.send(&email).await)
            }
            "sms" => {
                let body = self
                    .templates
                    .render_sms(template, locale, variant, &ctx)
                    .map_err(render_err)?;
                let sms = Sms {
                    id: row.id.to_string(),
                    to: address,
                    from: self.rules.sms_from.clone(),
                    body,
                    status_callback: None,
                    receipt_token: Some(self.urls.keys().sign(
                        jalin_channels::tracking::Purpose::Receipt,
                        row.id,
                        None,
                    )),
                };
                Ok(self.channels.sms.send(&sms).await)
            }
            _ => {
                let text = self
                    .templates
                    .render_task(template, locale, variant, &ctx)
                    .map_err(render_err)?;
                let (event_type, data) = match &campaign.task {
                    Some(task) => (
                        "task.created",
                        task_payload(
                            &task.kind,
                            task.due_hours,
                            &text,
                            facts.customer.clone(),
                            json!({
                                "campaign": row.campaign, "message_id": row.id,
                                "last_order": facts.last_order, "complaint": facts.complaint,
                            }),
                        ),
                    ),
                    None => (
                        "campaign.message",
                        json!({ "campaign": row.campaign, "message_id": row.id, "text": text, "customer": facts.customer }),
                    ),
                };
                let hook = Webhook {
                    id: format!("msg_{}_{}", row.run_id, row.id),
                    event_type: event_type.into(),
                    timestamp: self.clock.now().timestamp(),
                    data,
                };
                Ok(self.channels.webhook.send(&hook).await)
            }
        }
    }

    /// The template context of one message: the same keys as the validation sample
    /// (`crate::context::sample`).
    pub fn context(
        &self,
        row: &Claimed,
        f: &DeliveryFacts,
        trigger: Option<&TriggerFacts>,
    ) -> Value {
        let english = f.locale == "en";
        let with_label = |o: &Value| {
            let mut o = o.clone();
            if let Some(status) = o.get("status").and_then(Value::as_str) {
                let label = status_label(status, english);
                o["status_label"] = label.into();
            }
            o
        };
        let mut ctx = json!({
            "locale": f.locale,
            "time_zone": f.time_zone,
            "company": self.company,
            "customer": f.customer,
            "campaign": { "name": row.campaign, "variant": row.variant },
            "message": { "id": row.id, "channel": row.channel },
            "points": f.points,
            // Optional blocks are always present, null when they do not apply, so a template
            // can test them with {{#if}}; using a field of a null block still fails the message.
            "last_order": null, "order": null, "complaint": null, "tier": null, "offer": null,
            "event": null,
        });
        if let Some(o) = &f.last_order {
            ctx["last_order"] = with_label(o);
        }
        if let Some(c) = &f.complaint {
            ctx["complaint"] = c.clone();
        }
        if let Some(tier) = f.points.get("tier").and_then(Value::as_str) {
            ctx["tier"] = json!({ "name": tier, "benefits": tier_benefits(tier, english) });
        }
        if let (Some(code), Some(offer)) = (
            &row.offer_code,
            self.campaigns
                .get(&row.campaign)
                .and_then(|c| c.offer.as_ref()),
        ) {
            let until = self.clock.now().timestamp() + i64::from(offer.valid_days) * 86_400;
            ctx["offer"] = json!({ "code": code, "percent": offer.percent, "valid_until": until });
        }
        let website = self.company.website.trim_end_matches('/');
        let recommendations: Vec<Value> = self
            .catalogue
            .iter()
            .filter(|p| {
                let sku = p.get("sku").and_then(Value::as_str).unwrap_or_default();
                !f.bought.iter().any(|b| b == sku)
            })
            .take(3)
            .map(|p| {
                let mut p = p.clone();
                let sku = p
                    .get("sku")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned();
                p["url"] = format!("{website}/p/{sku}").into();
                p
            })
            .collect();
        ctx["recommendations"] = recommendations.into();
        if let Some(t) = trigger {
            ctx["event"] = t.event.clone();
            // A tier event names the new tier before the nightly scores do.
            if let Some(tier) = t.event.pointer("/payload/tier").and_then(Value::as_str) {
                ctx["tier"] = json!({ "name": tier, "benefits": tier_benefits(tier, english) });
            }
            if let Some(o) = &t.order {
                ctx["order"] = with_label(o);
            }
        }
        ctx
    }
}

/// Benefits shown for a tier.
fn tier_benefits(tier: &str, english: bool) -> Vec<&'static str> {
    match (tier, english) {
        ("gold", true) => vec![
            "Free delivery in Java",
            "Priority production slot",
            "5% on accessories",
        ],
        ("gold", false) => vec![
            "Gratis ongkir se-Jawa",
            "Prioritas jadwal produksi",
            "Diskon 5% aksesori",
        ],
        ("silver", true) => vec!["Free delivery in your city", "3% on accessories"],
        ("silver", false) => vec!["Gratis ongkir dalam kota", "Diskon 3% aksesori"],
        (_, true) => vec!["Points on every purchase"],
        (_, false) => vec!["Poin untuk setiap pembelian"],
    }
}

/// Exponential backoff with ±25% jitter, never shorter than what the provider asked for.
pub fn backoff_seconds(base: u64, attempts: u32, retry_after: Option<std::time::Duration>) -> i64 {
    let exp = base
        .saturating_mul(1u64 << attempts.saturating_sub(1).min(16))
        .min(6 * 3600);
    // Jitter needs spread, not secrecy: the clock's nanoseconds are enough.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let factor = 0.75 + f64::from(nanos % 1000) / 2000.0;
    let jitter = (factor * exp as f64) as i64;
    let asked = retry_after.map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    jitter.max(asked).max(1)
}

#[cfg(test)]
mod tests {
    #[test]
    fn backoff_grows_with_jitter_and_honours_retry_after() {
        for attempt in 1..6 {
            let expected = 60.0 * f64::from(1u32 << (attempt - 1));
            let got = super::backoff_seconds(60, attempt, None) as f64;
            assert!(
                (0.74 * expected..=1.26 * expected).contains(&got),
                "{attempt}: {got}"
            );
        }
        let got = super::backoff_seconds(1, 1, Some(std::time::Duration::from_secs(120)));
        assert_eq!(got, 120);
    }
}
