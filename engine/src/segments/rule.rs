//! The segment rule tree, as parsed from `config/segments/*.toml`.

use crate::config::Location;
use crate::model::{Channel, OrderStatus};

/// A comparison of a number: every bound present must hold (`{ gte = 3, lt = 10 }`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Cmp {
    /// Equal to.
    pub eq: Option<f64>,
    /// Not equal to.
    pub ne: Option<f64>,
    /// Less than.
    pub lt: Option<f64>,
    /// Less than or equal to.
    pub lte: Option<f64>,
    /// Greater than.
    pub gt: Option<f64>,
    /// Greater than or equal to.
    pub gte: Option<f64>,
}

impl Cmp {
    /// Whether `x` satisfies every bound.
    pub fn holds(&self, x: f64) -> bool {
        self.eq.is_none_or(|v| x == v)
            && self.ne.is_none_or(|v| x != v)
            && self.lt.is_none_or(|v| x < v)
            && self.lte.is_none_or(|v| x <= v)
            && self.gt.is_none_or(|v| x > v)
            && self.gte.is_none_or(|v| x >= v)
    }

    /// The same comparison with every bound multiplied (major → minor currency units).
    pub fn scaled(&self, factor: f64) -> Cmp {
        let s = |v: Option<f64>| v.map(|x| x * factor);
        Cmp {
            eq: s(self.eq),
            ne: s(self.ne),
            lt: s(self.lt),
            lte: s(self.lte),
            gt: s(self.gt),
            gte: s(self.gte),
        }
    }

    /// Whether this is exactly "at least one" on a whole-number count.
    pub(crate) fn is_at_least_one(&self) -> bool {
        let only = |c: &Cmp| c.eq.is_none() && c.ne.is_none() && c.lt.is_none() && c.lte.is_none();
        only(self)
            && match (self.gte, self.gt) {
                (Some(g), None) => g > 0.0 && g <= 1.0,
                (None, Some(g)) => (0.0..1.0).contains(&g),
                _ => false,
            }
    }

    /// Whether this is exactly "none" on a whole-number count.
    pub(crate) fn is_zero(&self) -> bool {
        let bounds = [self.eq, self.ne, self.lt, self.lte, self.gt, self.gte];
        let set = bounds.iter().filter(|b| b.is_some()).count();
        set == 1
            && (self.eq == Some(0.0)
                || self.lte.is_some_and(|v| (0.0..1.0).contains(&v))
                || self.lt.is_some_and(|v| v > 0.0 && v <= 1.0))
    }
}

/// The half-open range of epoch seconds a date comparison on `created_at` selects, at day
/// granularity: `eq 2025-01-31` is that whole day, `lte` includes the day, `gt` starts the next.
pub fn created_at_range(op: &FieldOp) -> (Option<i64>, Option<i64>) {
    const DAY: i64 = 86_400;
    let t = |v: &Value| match v {
        Value::Number(n) => *n as i64,
        _ => 0,
    };
    match op {
        FieldOp::Eq(v) => (Some(t(v)), Some(t(v) + DAY)),
        FieldOp::Lt(v) => (None, Some(t(v))),
        FieldOp::Lte(v) => (None, Some(t(v) + DAY)),
        FieldOp::Gt(v) => (Some(t(v) + DAY), None),
        FieldOp::Gte(v) => (Some(t(v)), None),
        FieldOp::Between(a, b) => (Some(t(a)), Some(t(b) + DAY)),
        _ => (None, None),
    }
}

/// A value in a field comparison.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Text.
    Text(String),
    /// A number (a date is compared as epoch seconds).
    Number(f64),
    /// true or false.
    Bool(bool),
}

/// A customer column a rule may look at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    /// The ERP's id.
    ExternalRef,
    /// consumer, retailer, distributor, project_buyer.
    Kind,
    /// Name.
    Name,
    /// Email address.
    Email,
    /// E.164 phone.
    Phone,
    /// id or en.
    Locale,
    /// IANA time zone.
    TimeZone,
    /// Province.
    Region,
    /// City.
    City,
    /// Industry.
    Industry,
    /// When the customer was created (compared as a date).
    CreatedAt,
}

impl Column {
    /// Every column with its name in rules and in SQL.
    pub const ALL: &'static [(&'static str, Column)] = &[
        ("external_ref", Column::ExternalRef),
        ("kind", Column::Kind),
        ("name", Column::Name),
        ("email", Column::Email),
        ("phone", Column::Phone),
        ("locale", Column::Locale),
        ("time_zone", Column::TimeZone),
        ("region", Column::Region),
        ("city", Column::City),
        ("industry", Column::Industry),
        ("created_at", Column::CreatedAt),
    ];

    /// The SQL column name.
    pub fn name(self) -> &'static str {
        Column::ALL
            .iter()
            .find(|(_, c)| *c == self)
            .map_or("id", |(n, _)| n)
    }
}

/// What a field rule looks at.
#[derive(Debug, Clone, PartialEq)]
pub enum Field {
    /// A customer column.
    Column(Column),
    /// A key of the free `attributes` JSON object.
    Attribute(String),
}

/// How a field is compared.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldOp {
    /// Equal (a missing value never is).
    Eq(Value),
    /// Not equal (a missing value is).
    Ne(Value),
    /// One of (a missing value never is).
    In(Vec<Value>),
    /// None of (a missing value is).
    NotIn(Vec<Value>),
    /// Less than.
    Lt(Value),
    /// Less than or equal.
    Lte(Value),
    /// Greater than.
    Gt(Value),
    /// Greater than or equal.
    Gte(Value),
    /// Between, both ends included.
    Between(Value, Value),
    /// Contains the text (case-sensitive).
    Contains(String),
    /// Starts with the text (case-sensitive).
    StartsWith(String),
    /// Present (true) or missing (false).
    Exists(bool),
}

/// A time window for orders and events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    /// Any time.
    Ever,
    /// The last N days before now.
    LastDays(i64),
    /// From and to (epoch seconds, inclusive start, exclusive end).
    Between(i64, i64),
}

/// Which orders an order rule counts.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderFilter {
    /// Statuses counted (default: every purchase, i.e. not quoted or cancelled).
    pub statuses: Vec<OrderStatus>,
    /// When they were placed.
    pub window: Window,
    /// Only orders with a line of one of these SKUs.
    pub products: Vec<String>,
    /// Only orders with a line in one of these categories.
    pub categories: Vec<String>,
}

/// What an order rule measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderMeasure {
    /// Number of orders.
    Count,
    /// Sum of net value (value − discount), compared in major currency units.
    Sum,
}

/// Which events an event rule counts.
#[derive(Debug, Clone, PartialEq)]
pub struct EventFilter {
    /// Event types (any of).
    pub types: Vec<String>,
    /// When they happened.
    pub window: Window,
    /// Only events of this campaign.
    pub campaign: Option<String>,
    /// Only events with this link.
    pub link: Option<String>,
}

/// A stored score the analytics computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Score {
    /// Recency quintile 1–5 (5 = most recent).
    RfmRecency,
    /// Frequency quintile 1–5.
    RfmFrequency,
    /// Monetary quintile 1–5.
    RfmMonetary,
    /// Probability the customer is still active (BG/NBD).
    PAlive,
    /// 1 − P(alive).
    ChurnProbability,
    /// Expected purchases over the model's horizon.
    ExpectedPurchases,
    /// Customer lifetime value (major currency units).
    Clv,
    /// Profit so far (major currency units).
    Profit,
    /// Rank by CLV as a percentile, 0–100 (100 = highest).
    ClvPercentile,
    /// Rank by profit as a percentile, 0–100 (100 = most profitable; ≥ 80 is the top 20%).
    ProfitPercentile,
}

impl Score {
    /// Every score with its name in rules (also its column).
    pub const ALL: &'static [(&'static str, Score)] = &[
        ("rfm_recency", Score::RfmRecency),
        ("rfm_frequency", Score::RfmFrequency),
        ("rfm_monetary", Score::RfmMonetary),
        ("p_alive", Score::PAlive),
        ("churn_probability", Score::ChurnProbability),
        ("expected_purchases", Score::ExpectedPurchases),
        ("clv", Score::Clv),
        ("profit", Score::Profit),
        ("clv_percentile", Score::ClvPercentile),
        ("profit_percentile", Score::ProfitPercentile),
    ];

    /// The column in `customer_scores`.
    pub fn column(self) -> &'static str {
        Score::ALL
            .iter()
            .find(|(_, s)| *s == self)
            .map_or("clv", |(n, _)| n)
    }
}

/// A rule: who is in a segment.
#[derive(Debug, Clone, PartialEq)]
pub enum Rule {
    /// Every rule holds.
    All(Vec<Rule>),
    /// At least one rule holds.
    Any(Vec<Rule>),
    /// The rule does not hold.
    Not(Box<Rule>),
    /// A customer field or attribute.
    Field(Field, FieldOp),
    /// Orders counted or summed.
    Orders(OrderFilter, OrderMeasure, Cmp),
    /// Days since the last purchase (customers who never bought do not match).
    DaysSinceLastOrder(Cmp),
    /// The first purchase was within the last N days.
    FirstOrderWithinDays(i64),
    /// Bought a product or category (in the window).
    Bought(OrderFilter),
    /// The loyalty tier is one of these.
    Tier(Vec<String>),
    /// The loyalty points balance.
    Points(Cmp),
    /// Has (true) or has no (false) unresolved complaint.
    OpenComplaint(bool),
    /// Opted in on the channel.
    Consent(Channel),
    /// Events counted.
    Event(EventFilter, Cmp),
    /// A stored score.
    Score(Score, Cmp),
    /// The RFM cell (e.g. "555") is one of these.
    RfmCell(Vec<String>),
    /// Member of another segment (with where the reference is written).
    Segment(String, Location),
}

impl Rule {
    /// The segments this rule refers to, with where.
    pub fn segment_refs(&self) -> Vec<(&str, &Location)> {
        let mut out = Vec::new();
        self.walk(&mut |r| {
            if let Rule::Segment(name, at) = r {
                out.push((name.as_str(), at));
            }
        });
        out
    }

    /// Calls `f` on this rule and every rule inside it.
    pub fn walk<'a>(&'a self, f: &mut impl FnMut(&'a Rule)) {
        f(self);
        match self {
            Rule::All(rs) | Rule::Any(rs) => rs.iter().for_each(|r| r.walk(f)),
            Rule::Not(r) => r.walk(f),
            _ => {}
        }
    }
}
