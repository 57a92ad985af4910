//! A slow, obviously-correct evaluator of rules over data loaded into memory. It shares no
//! code with the SQL compiler beyond the rule types, so the property test that runs both on
//! random rules and random data checks the compiler's SQL on each database.

use super::SegmentSet;
use super::rule::{
    Column, EventFilter, Field, FieldOp, OrderFilter, OrderMeasure, Rule, Score, Value, Window,
    created_at_range,
};
use crate::error::{Error, Result};
use crate::store::Store;
use crate::with_pool;
use sqlx::types::Json;
use std::collections::{BTreeSet, HashMap, HashSet};

const DAY: i64 = 86_400;

#[derive(Debug, sqlx::FromRow)]
struct CustomerRec {
    id: i64,
    external_ref: String,
    kind: String,
    name: String,
    email: Option<String>,
    phone: Option<String>,
    locale: String,
    time_zone: String,
    region: Option<String>,
    city: Option<String>,
    industry: Option<String>,
    created_at: i64,
    attributes: Json<serde_json::Value>,
    erased_at: Option<i64>,
}

#[derive(Debug, sqlx::FromRow)]
struct OrderRec {
    id: i64,
    customer_id: i64,
    status: String,
    placed_at: i64,
    value: i64,
    discount: i64,
}

#[derive(Debug, sqlx::FromRow)]
struct EventRec {
    customer_id: i64,
    event_type: String,
    occurred_at: i64,
    campaign: Option<String>,
    link: Option<String>,
}

#[derive(Debug, Default, sqlx::FromRow)]
struct ScoreRec {
    customer_id: i64,
    rfm_recency: Option<i64>,
    rfm_frequency: Option<i64>,
    rfm_monetary: Option<i64>,
    rfm_cell: Option<String>,
    p_alive: Option<f64>,
    churn_probability: Option<f64>,
    expected_purchases: Option<f64>,
    clv: Option<f64>,
    profit: Option<f64>,
    clv_percentile: Option<f64>,
    profit_percentile: Option<f64>,
    tier: Option<String>,
}

/// Everything a rule can look at, in memory.
#[derive(Debug, Default)]
pub struct Dataset {
    customers: Vec<CustomerRec>,
    orders: HashMap<i64, Vec<OrderRec>>,
    /// (sku, category) of each order's lines.
    lines: HashMap<i64, Vec<(String, String)>>,
    events: HashMap<i64, Vec<EventRec>>,
    consents: HashMap<(i64, String), bool>,
    open_complaints: HashSet<i64>,
    points: HashMap<i64, i64>,
    scores: HashMap<i64, ScoreRec>,
}

impl Dataset {
    /// Reads every table a rule can use (meant for test-sized databases).
    pub async fn load(store: &Store) -> Result<Dataset> {
        let ctx = "loading the reference dataset";
        let customers: Vec<CustomerRec> = with_pool!(store, pool => sqlx::query_as(
            "SELECT id, external_ref, kind, name, email, phone, locale, time_zone, region, city, industry, \
             created_at, attributes, erased_at FROM customers").fetch_all(pool).await).map_err(Error::db(ctx))?;
        let orders: Vec<OrderRec> = with_pool!(store, pool => sqlx::query_as(
            "SELECT id, customer_id, status, placed_at, value, discount FROM orders").fetch_all(pool).await).map_err(Error::db(ctx))?;
        let lines: Vec<(i64, String, String)> = with_pool!(store, pool => sqlx::query_as(
            "SELECT l.order_id, p.sku, p.category FROM order_lines l JOIN products p ON p.id = l.product_id").fetch_all(pool).await).map_err(Error::db(ctx))?;
        let events: Vec<EventRec> = with_pool!(store, pool => sqlx::query_as(
            "SELECT customer_id, event_type, occurred_at, campaign, link FROM events WHERE customer_id IS NOT NULL").fetch_all(pool).await).map_err(Error::db(ctx))?;
        let consents: Vec<(i64, String, bool)> = with_pool!(store, pool => sqlx::query_as(
            "SELECT customer_id, channel, opted_in FROM consents").fetch_all(pool).await)
        .map_err(Error::db(ctx))?;
        let open: Vec<(i64,)> = with_pool!(store, pool => sqlx::query_as(
            "SELECT customer_id FROM complaints WHERE resolved_at IS NULL").fetch_all(pool).await)
        .map_err(Error::db(ctx))?;
        let points: Vec<(i64, i64)> = with_pool!(store, pool => sqlx::query_as(
            "SELECT customer_id, points FROM loyalty_ledger").fetch_all(pool).await)
        .map_err(Error::db(ctx))?;
        let scores: Vec<ScoreRec> = with_pool!(store, pool => sqlx::query_as(
            "SELECT customer_id, CAST(rfm_recency AS BIGINT) AS rfm_recency, CAST(rfm_frequency AS BIGINT) AS rfm_frequency, \
             CAST(rfm_monetary AS BIGINT) AS rfm_monetary, rfm_cell, p_alive, churn_probability, expected_purchases, \
             clv, profit, clv_percentile, profit_percentile, tier FROM customer_scores").fetch_all(pool).await).map_err(Error::db(ctx))?;
        let mut d = Dataset {
            customers,
            ..Dataset::default()
        };
        for o in orders {
            d.orders.entry(o.customer_id).or_default().push(o);
        }
        for (order, sku, category) in lines {
            d.lines.entry(order).or_default().push((sku, category));
        }
        for e in events {
            d.events.entry(e.customer_id).or_default().push(e);
        }
        for (c, ch, ok) in consents {
            d.consents.insert((c, ch), ok);
        }
        d.open_complaints = open.into_iter().map(|r| r.0).collect();
        for (c, p) in points {
            *d.points.entry(c).or_default() += p;
        }
        d.scores = scores.into_iter().map(|s| (s.customer_id, s)).collect();
        Ok(d)
    }

    /// The ids of the customers `rule` selects at `now`.
    pub fn members(&self, segments: &SegmentSet, rule: &Rule, now: i64) -> BTreeSet<i64> {
        self.customers
            .iter()
            .filter(|c| c.erased_at.is_none() && self.eval(segments, c, rule, now, 0))
            .map(|c| c.id)
            .collect()
    }

    fn eval(
        &self,
        segments: &SegmentSet,
        c: &CustomerRec,
        rule: &Rule,
        now: i64,
        depth: usize,
    ) -> bool {
        match rule {
            Rule::All(rs) => rs.iter().all(|r| self.eval(segments, c, r, now, depth)),
            Rule::Any(rs) => rs.iter().any(|r| self.eval(segments, c, r, now, depth)),
            Rule::Not(r) => !self.eval(segments, c, r, now, depth),
            Rule::Field(field, op) => field_matches(c, field, op),
            Rule::Orders(f, measure, cmp) => {
                let rows = self.orders_matching(c.id, f, now);
                match measure {
                    OrderMeasure::Count => cmp.holds(rows.len() as f64),
                    OrderMeasure::Sum => {
                        let sum: i64 = rows.iter().map(|o| o.value - o.discount).sum();
                        cmp.scaled(100.0).holds(sum as f64)
                    }
                }
            }
            Rule::DaysSinceLastOrder(cmp) => {
                let Some(last) = self.purchases(c.id).map(|o| o.placed_at).max() else {
                    return false;
                };
                let at = |d: f64| now - (d * DAY as f64).round() as i64;
                cmp.gte.is_none_or(|d| last <= at(d))
                    && cmp.gt.is_none_or(|d| last < at(d))
                    && cmp.lte.is_none_or(|d| last >= at(d))
                    && cmp.lt.is_none_or(|d| last > at(d))
            }
            Rule::FirstOrderWithinDays(days) => self
                .purchases(c.id)
                .map(|o| o.placed_at)
                .min()
                .is_some_and(|first| first >= now - days * DAY),
            Rule::Bought(f) => self.orders_of(c.id).any(|o| {
                status_ok(f, o)
                    && in_window(o.placed_at, f.window, now)
                    && self.has_product(o.id, f)
            }),
            Rule::Tier(tiers) => self
                .score(c.id)
                .and_then(|s| s.tier.as_ref())
                .is_some_and(|t| tiers.contains(t)),
            Rule::RfmCell(cells) => self
                .score(c.id)
                .and_then(|s| s.rfm_cell.as_ref())
                .is_some_and(|t| cells.contains(t)),
            Rule::Score(score, cmp) => self
                .score(c.id)
                .and_then(|s| score_value(s, *score))
                .is_some_and(|v| cmp.holds(v)),
            Rule::Points(cmp) => cmp.holds(self.points.get(&c.id).copied().unwrap_or(0) as f64),
            Rule::OpenComplaint(open) => self.open_complaints.contains(&c.id) == *open,
            Rule::Consent(ch) => self
                .consents
                .get(&(c.id, ch.as_str().to_owned()))
                .copied()
                .unwrap_or(false),
            Rule::Event(f, cmp) => cmp.holds(self.events_matching(c.id, f, now) as f64),
            Rule::Segment(name, _) => match segments.get(name) {
                Some(s) if depth < 32 => self.eval(segments, c, &s.rule, now, depth + 1),
                _ => false,
            },
        }
    }

    fn orders_of(&self, customer: i64) -> impl Iterator<Item = &OrderRec> {
        self.orders.get(&customer).into_iter().flatten()
    }

    fn purchases(&self, customer: i64) -> impl Iterator<Item = &OrderRec> {
        self.orders_of(customer)
            .filter(|o| !matches!(o.status.as_str(), "quoted" | "cancelled"))
    }

    fn has_product(&self, order: i64, f: &OrderFilter) -> bool {
        self.lines
            .get(&order)
            .into_iter()
            .flatten()
            .any(|(sku, cat)| f.products.contains(sku) || f.categories.contains(cat))
    }

    fn orders_matching(&self, customer: i64, f: &OrderFilter, now: i64) -> Vec<&OrderRec> {
        self.orders_of(customer)
            .filter(|o| status_ok(f, o) && in_window(o.placed_at, f.window, now))
            .filter(|o| {
                (f.products.is_empty() && f.categories.is_empty()) || self.has_product(o.id, f)
            })
            .collect()
    }

    fn events_matching(&self, customer: i64, f: &EventFilter, now: i64) -> usize {
        self.events
            .get(&customer)
            .into_iter()
            .flatten()
            .filter(|e| {
                f.types.contains(&e.event_type)
                    && in_window(e.occurred_at, f.window, now)
                    && f.campaign
                        .as_ref()
                        .is_none_or(|c| e.campaign.as_ref() == Some(c))
                    && f.link.as_ref().is_none_or(|l| e.link.as_ref() == Some(l))
            })
            .count()
    }

    fn score(&self, customer: i64) -> Option<&ScoreRec> {
        self.scores.get(&customer)
    }
}

fn status_ok(f: &OrderFilter, o: &OrderRec) -> bool {
    f.statuses.iter().any(|s| s.as_str() == o.status)
}

fn in_window(t: i64, w: Window, now: i64) -> bool {
    match w {
        Window::Ever => true,
        Window::LastDays(d) => t >= now - d * DAY,
        Window::Between(a, b) => t >= a && t < b,
    }
}

fn score_value(s: &ScoreRec, score: Score) -> Option<f64> {
    match score {
        Score::RfmRecency => s.rfm_recency.map(|v| v as f64),
        Score::RfmFrequency => s.rfm_frequency.map(|v| v as f64),
        Score::RfmMonetary => s.rfm_monetary.map(|v| v as f64),
        Score::PAlive => s.p_alive,
        Score::ChurnProbability => s.churn_probability,
        Score::ExpectedPurchases => s.expected_purchases,
        Score::Clv => s.clv,
        Score::Profit => s.profit,
        Score::ClvPercentile => s.clv_percentile,
        Score::ProfitPercentile => s.profit_percentile,
    }
}

/// A typed view of a field's value, as the comparison's values are typed.
#[derive(Debug, Clone, PartialEq)]
enum Typed {
    Text(String),
    Number(f64),
}

fn column_text(c: &CustomerRec, column: Column) -> Option<String> {
    match column {
        Column::ExternalRef => Some(c.external_ref.clone()),
        Column::Kind => Some(c.kind.clone()),
        Column::Name => Some(c.name.clone()),
        Column::Email => c.email.clone(),
        Column::Phone => c.phone.clone(),
        Column::Locale => Some(c.locale.clone()),
        Column::TimeZone => Some(c.time_zone.clone()),
        Column::Region => c.region.clone(),
        Column::City => c.city.clone(),
        Column::Industry => c.industry.clone(),
        Column::CreatedAt => Some(c.created_at.to_string()),
    }
}

/// The attribute's value if it has the type the comparison expects (a JSON boolean reads as 1/0).
fn attribute(c: &CustomerRec, key: &str, like: Option<&Value>) -> Option<Typed> {
    let v = c.attributes.0.get(key)?;
    match like {
        Some(Value::Number(_)) => v.as_f64().map(Typed::Number),
        Some(Value::Bool(_)) => v
            .as_bool()
            .map(|b| Typed::Number(if b { 1.0 } else { 0.0 })),
        _ => v.as_str().map(|s| Typed::Text(s.to_owned())),
    }
}

fn typed(v: &Value) -> Typed {
    match v {
        Value::Text(s) => Typed::Text(s.clone()),
        Value::Number(n) => Typed::Number(*n),
        Value::Bool(b) => Typed::Number(if *b { 1.0 } else { 0.0 }),
    }
}

fn order(a: &Typed, b: &Typed) -> Option<std::cmp::Ordering> {
    match (a, b) {
        (Typed::Number(x), Typed::Number(y)) => x.partial_cmp(y),
        (Typed::Text(x), Typed::Text(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

fn field_matches(c: &CustomerRec, field: &Field, op: &FieldOp) -> bool {
    use std::cmp::Ordering::*;
    if let Field::Column(Column::CreatedAt) = field {
        let (from, to) = created_at_range(op);
        return from.is_none_or(|f| c.created_at >= f) && to.is_none_or(|t| c.created_at < t);
    }
    let sample = match op {
        FieldOp::Eq(v)
        | FieldOp::Ne(v)
        | FieldOp::Lt(v)
        | FieldOp::Lte(v)
        | FieldOp::Gt(v)
        | FieldOp::Gte(v)
        | FieldOp::Between(v, _) => Some(v),
        FieldOp::In(vs) | FieldOp::NotIn(vs) => vs.first(),
        _ => None,
    };
    let value: Option<Typed> = match field {
        Field::Column(col) => column_text(c, *col).map(Typed::Text),
        Field::Attribute(key) => attribute(c, key, sample),
    };
    let text = || match field {
        Field::Column(col) => column_text(c, *col),
        Field::Attribute(key) => c
            .attributes
            .0
            .get(key)
            .and_then(|v| v.as_str())
            .map(str::to_owned),
    };
    let cmp = |v: &Value| value.as_ref().and_then(|x| order(x, &typed(v)));
    match op {
        FieldOp::Eq(v) => cmp(v) == Some(Equal),
        FieldOp::Ne(v) => value.is_none() || cmp(v) != Some(Equal),
        FieldOp::In(vs) => vs.iter().any(|v| cmp(v) == Some(Equal)),
        FieldOp::NotIn(vs) => value.is_none() || vs.iter().all(|v| cmp(v) != Some(Equal)),
        FieldOp::Lt(v) => cmp(v) == Some(Less),
        FieldOp::Lte(v) => matches!(cmp(v), Some(Less | Equal)),
        FieldOp::Gt(v) => cmp(v) == Some(Greater),
        FieldOp::Gte(v) => matches!(cmp(v), Some(Greater | Equal)),
        FieldOp::Between(a, b) => {
            matches!(cmp(a), Some(Greater | Equal)) && matches!(cmp(b), Some(Less | Equal))
        }
        FieldOp::Contains(s) => text().is_some_and(|t| t.contains(s.as_str())),
        FieldOp::StartsWith(s) => text().is_some_and(|t| t.starts_with(s.as_str())),
        FieldOp::Exists(want) => {
            let present = match field {
                Field::Column(col) => column_text(c, *col).is_some(),
                Field::Attribute(key) => c.attributes.0.get(key).is_some_and(|v| !v.is_null()),
            };
            present == *want
        }
    }
}
