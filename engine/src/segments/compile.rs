//! Compiling a rule tree to one parameterised SQL query per dialect with sea-query.
//!
//! Shapes chosen so both planners do well on a million customers: every order, event or
//! ledger predicate is an `EXISTS` / `NOT EXISTS` correlated on the customer id (PostgreSQL
//! turns those into hash semi/anti-joins), and a count or sum compared with a threshold is
//! an `EXISTS` over a grouped derived table — or `NOT EXISTS` over the complement when zero
//! satisfies the comparison, so customers with no rows at all are counted correctly.

use super::SegmentSet;
use super::rule::{
    Cmp, Column, EventFilter, Field, FieldOp, OrderFilter, OrderMeasure, Rule, Value, Window,
    created_at_range,
};
use crate::error::{Error, Result};
use crate::store::Backend;
use sea_query::{
    Cond, Condition, Expr, ExprTrait, JoinType, Order, PostgresQueryBuilder, Query,
    SelectStatement, SqliteQueryBuilder, Values,
};

const DAY: i64 = 86_400;
/// Segment references deeper than this are refused (cycles are caught at validate time).
const MAX_DEPTH: usize = 32;

/// What surrounds a rule in the tree, for choosing the SQL shape.
#[derive(Debug, Clone, Copy, Default)]
struct Place {
    /// Somewhere under an `any` (an EXISTS there cannot become a join).
    under_or: bool,
    /// A sibling in an enclosing `all` already requires a purchase.
    has_purchase: bool,
}

/// Every order that counts as a purchase, at any time.
fn purchases() -> OrderFilter {
    OrderFilter {
        statuses: crate::model::OrderStatus::ALL
            .iter()
            .copied()
            .filter(|s| s.is_purchase())
            .collect(),
        window: Window::Ever,
        products: Vec::new(),
        categories: Vec::new(),
    }
}

/// Whether a rule's own SQL always requires a purchase, so a sibling may skip that check.
/// (`days_since_last_order` is not one: it skips its check when vouched for, and two of them
/// must not vouch for each other.)
fn implies_purchase(rule: &Rule) -> bool {
    let purchases_only = |f: &OrderFilter| f.statuses.iter().all(|s| s.is_purchase());
    match rule {
        Rule::Orders(f, OrderMeasure::Count, cmp) => purchases_only(f) && !cmp.holds(0.0),
        Rule::Bought(f) => purchases_only(f),
        Rule::FirstOrderWithinDays(_) => true,
        Rule::All(rules) => rules.iter().any(implies_purchase),
        _ => false,
    }
}

/// SQL with placeholders, and the values to bind to them in order.
#[derive(Debug, Clone)]
pub struct Compiled {
    /// The query text; no value appears in it.
    pub sql: String,
    /// The values for the placeholders.
    pub values: Values,
}

/// Compiles rules for one database at one moment (`now` anchors every "last N days").
#[derive(Debug, Clone, Copy)]
pub struct Compiler<'a> {
    segments: &'a SegmentSet,
    backend: Backend,
    now: i64,
}

fn col(table: &'static str, column: &'static str) -> Expr {
    Expr::col((table, column))
}

fn cmp_conditions(e: &Expr, cmp: &Cmp) -> Condition {
    let mut c = Cond::all();
    if let Some(v) = cmp.eq {
        c = c.add(e.clone().eq(v));
    }
    if let Some(v) = cmp.ne {
        c = c.add(e.clone().ne(v));
    }
    if let Some(v) = cmp.lt {
        c = c.add(e.clone().lt(v));
    }
    if let Some(v) = cmp.lte {
        c = c.add(e.clone().lte(v));
    }
    if let Some(v) = cmp.gt {
        c = c.add(e.clone().gt(v));
    }
    if let Some(v) = cmp.gte {
        c = c.add(e.clone().gte(v));
    }
    c
}

fn sql_value(v: &Value) -> sea_query::Value {
    match v {
        Value::Text(s) => s.clone().into(),
        Value::Number(n) => (*n).into(),
        Value::Bool(b) => i64::from(*b).into(),
    }
}

impl<'a> Compiler<'a> {
    /// A compiler for `backend` with the segments rules may refer to.
    pub fn new(segments: &'a SegmentSet, backend: Backend, now: i64) -> Self {
        Compiler {
            segments,
            backend,
            now,
        }
    }

    /// A fragment around other expressions, written with `?` placeholders.
    fn with_exprs<const N: usize>(&self, template: &str, exprs: [Expr; N]) -> Expr {
        Expr::cust_with_exprs(self.placeholders(template), exprs)
    }

    /// `?` placeholders as the dialect wants them (numbered `$n` for PostgreSQL).
    fn placeholders(&self, template: &str) -> String {
        match self.backend {
            Backend::Sqlite => template.to_owned(),
            Backend::Postgres => {
                let mut out = String::with_capacity(template.len() + 8);
                let mut n = 0;
                for ch in template.chars() {
                    if ch == '?' {
                        n += 1;
                        out.push_str(&format!("${n}"));
                    } else {
                        out.push(ch);
                    }
                }
                out
            }
        }
    }

    /// A dialect-specific fragment written with `?` placeholders (numbered `$n` for PostgreSQL).
    fn fragment(&self, template: &str, values: Vec<sea_query::Value>) -> Expr {
        let text = match self.backend {
            Backend::Sqlite => template.to_owned(),
            Backend::Postgres => {
                let mut out = String::with_capacity(template.len() + 8);
                let mut n = 0;
                for ch in template.chars() {
                    if ch == '?' {
                        n += 1;
                        out.push_str(&format!("${n}"));
                    } else {
                        out.push(ch);
                    }
                }
                out
            }
        };
        Expr::cust_with_values(text, values)
    }

    fn since(&self, days: i64) -> i64 {
        self.now - days * DAY
    }

    fn window(&self, column: Expr, w: Window) -> Condition {
        match w {
            Window::Ever => Cond::all(),
            Window::LastDays(d) => Cond::all().add(column.gte(self.since(d))),
            Window::Between(from, to) => {
                Cond::all().add(column.clone().gte(from)).add(column.lt(to))
            }
        }
    }

    /// The condition for `rule` on the customer row aliased `c`.
    pub fn condition(&self, rule: &Rule) -> Result<Condition> {
        self.condition_at(rule, 0, Place::default())
    }

    fn condition_at(&self, rule: &Rule, depth: usize, place: Place) -> Result<Condition> {
        Ok(match rule {
            Rule::All(rules) => {
                // A purchase implied by one rule need not be checked again by another (but a
                // rule never vouches for itself).
                let mut c = Cond::all();
                for (i, r) in rules.iter().enumerate() {
                    let sibling = rules
                        .iter()
                        .enumerate()
                        .any(|(j, other)| j != i && implies_purchase(other));
                    let has_purchase = place.has_purchase || sibling;
                    c = c.add(self.condition_at(
                        r,
                        depth,
                        Place {
                            has_purchase,
                            ..place
                        },
                    )?);
                }
                c
            }
            Rule::Any(rules) => {
                let mut c = Cond::any();
                for r in rules {
                    c = c.add(self.condition_at(
                        r,
                        depth,
                        Place {
                            under_or: true,
                            has_purchase: place.has_purchase,
                        },
                    )?);
                }
                c
            }
            Rule::Not(r) => self
                .condition_at(
                    r,
                    depth,
                    Place {
                        has_purchase: false,
                        ..place
                    },
                )?
                .not(),
            Rule::Field(field, op) => self.field(field, op),
            Rule::Orders(filter, measure, cmp) => {
                let agg = match measure {
                    OrderMeasure::Count => Expr::cust("COUNT(*)"),
                    OrderMeasure::Sum => Expr::cust("SUM(\"o\".\"value\" - \"o\".\"discount\")"),
                };
                // Sums are written in major units (rupiah); stored in minor units.
                let cmp = match measure {
                    OrderMeasure::Count => cmp.clone(),
                    OrderMeasure::Sum => cmp.scaled(100.0),
                };
                self.membership(
                    self.orders(filter),
                    ("o", "customer_id"),
                    &agg,
                    &cmp,
                    *measure == OrderMeasure::Count,
                )
            }
            Rule::DaysSinceLastOrder(cmp) => self.days_since_last_order(cmp, place.has_purchase),
            Rule::FirstOrderWithinDays(days) => {
                let t = self.since(*days);
                let purchases = purchases();
                if place.under_or {
                    // Under OR an EXISTS cannot become a join and is probed per customer; the
                    // set of recent first-time buyers is small, so PostgreSQL hashes it once.
                    let first = self
                        .orders(&purchases)
                        .clear_selects()
                        .column(("o", "customer_id"))
                        .group_by_col(("o", "customer_id"))
                        .and_having(Expr::cust("MIN(\"o\".\"placed_at\")").gte(t))
                        .to_owned();
                    return Ok(Cond::all().add(col("c", "id").in_subquery(first)));
                }
                let recent = self
                    .orders(&purchases)
                    .and_where(col("o", "placed_at").gte(t))
                    .to_owned();
                let older = self
                    .orders(&purchases)
                    .and_where(col("o", "placed_at").lt(t))
                    .to_owned();
                Cond::all()
                    .add(Expr::exists(self.correlate(recent, ("o", "customer_id"))))
                    .add(Expr::exists(self.correlate(older, ("o", "customer_id"))).not())
            }
            Rule::Bought(filter) => {
                let q = self.orders_with_lines(filter);
                Cond::all().add(Expr::exists(self.correlate(q, ("o", "customer_id"))))
            }
            Rule::Tier(tiers) => self.score_exists(col("s", "tier").is_in(tiers.iter().cloned())),
            Rule::RfmCell(cells) => {
                self.score_exists(col("s", "rfm_cell").is_in(cells.iter().cloned()))
            }
            Rule::Score(score, cmp) => {
                let e = Expr::col(("s", score.column()));
                self.score_exists(Expr::from(cmp_conditions(&e, cmp).add(e.is_not_null())))
            }
            Rule::Points(cmp) => {
                let base = Query::select().from_as("loyalty_ledger", "g").to_owned();
                self.membership(
                    base,
                    ("g", "customer_id"),
                    &Expr::cust("SUM(\"g\".\"points\")"),
                    cmp,
                    false,
                )
            }
            Rule::OpenComplaint(open) => {
                let q = Query::select()
                    .expr(Expr::val(1))
                    .from_as("complaints", "k")
                    .and_where(col("k", "resolved_at").is_null())
                    .to_owned();
                let e = Expr::exists(self.correlate(q, ("k", "customer_id")));
                Cond::all().add(if *open { e } else { e.not() })
            }
            Rule::Consent(channel) => {
                let q = Query::select()
                    .expr(Expr::val(1))
                    .from_as("consents", "k")
                    .and_where(col("k", "channel").eq(channel.as_str()))
                    .and_where(col("k", "opted_in").eq(true))
                    .to_owned();
                Cond::all().add(Expr::exists(self.correlate(q, ("k", "customer_id"))))
            }
            Rule::Event(filter, cmp) => self.membership(
                self.events(filter),
                ("e", "customer_id"),
                &Expr::cust("COUNT(*)"),
                cmp,
                true,
            ),
            Rule::Segment(name, _) => {
                if depth >= MAX_DEPTH {
                    return Err(Error::Invalid(format!(
                        "segment {name:?} nests other segments too deeply"
                    )));
                }
                let seg = self
                    .segments
                    .get(name)
                    .ok_or_else(|| Error::Invalid(format!("unknown segment {name:?}")))?;
                self.condition_at(&seg.rule, depth + 1, place)?
            }
        })
    }

    /// `q` restricted to the current customer, selecting 1.
    fn correlate(
        &self,
        mut q: SelectStatement,
        key: (&'static str, &'static str),
    ) -> SelectStatement {
        q.clear_selects();
        q.expr(Expr::val(1))
            .and_where(Expr::col(key).equals(("c", "id")));
        q
    }

    /// "The aggregate over the customer's rows satisfies `cmp`", customers without rows
    /// counting as an aggregate of zero.
    fn membership(
        &self,
        base: SelectStatement,
        key: (&'static str, &'static str),
        agg: &Expr,
        cmp: &Cmp,
        is_count: bool,
    ) -> Condition {
        if is_count && cmp.is_at_least_one() {
            return Cond::all().add(Expr::exists(self.correlate(base, key)));
        }
        if is_count && cmp.is_zero() {
            return Cond::all().add(Expr::exists(self.correlate(base, key)).not());
        }
        let zero_matches = cmp.holds(0.0);
        let having = cmp_conditions(agg, cmp);
        let having = if zero_matches { having.not() } else { having };
        let mut base = base;
        let grouped = base
            .clear_selects()
            .expr_as(Expr::col(key), "customer_id")
            .group_by_col(key)
            .cond_having(having)
            .to_owned();
        let exists = Expr::exists(
            Query::select()
                .expr(Expr::val(1))
                .from_subquery(grouped, "agg")
                .and_where(col("agg", "customer_id").equals(("c", "id")))
                .to_owned(),
        );
        Cond::all().add(if zero_matches { exists.not() } else { exists })
    }

    fn orders(&self, f: &OrderFilter) -> SelectStatement {
        let mut q = Query::select();
        q.expr(Expr::val(1)).from_as("orders", "o");
        q.cond_where(self.order_conditions(f));
        if !f.products.is_empty() || !f.categories.is_empty() {
            let lines = Query::select()
                .expr(Expr::val(1))
                .from_as("order_lines", "l")
                .join_as(
                    JoinType::InnerJoin,
                    "products",
                    "p",
                    col("p", "id").equals(("l", "product_id")),
                )
                .and_where(col("l", "order_id").equals(("o", "id")))
                .cond_where(self.product_conditions(f))
                .to_owned();
            q.and_where(Expr::exists(lines));
        }
        q
    }

    fn orders_with_lines(&self, f: &OrderFilter) -> SelectStatement {
        Query::select()
            .expr(Expr::val(1))
            .from_as("orders", "o")
            .join_as(
                JoinType::InnerJoin,
                "order_lines",
                "l",
                col("l", "order_id").equals(("o", "id")),
            )
            .join_as(
                JoinType::InnerJoin,
                "products",
                "p",
                col("p", "id").equals(("l", "product_id")),
            )
            .cond_where(self.order_conditions(f))
            .cond_where(self.product_conditions(f))
            .to_owned()
    }

    fn order_conditions(&self, f: &OrderFilter) -> Condition {
        // Whichever list is shorter: "not quoted or cancelled" reads (and runs) better than
        // five statuses.
        let excluded: Vec<&str> = crate::model::OrderStatus::ALL
            .iter()
            .filter(|s| !f.statuses.contains(s))
            .map(|s| s.as_str())
            .collect();
        let status = if excluded.len() < f.statuses.len() {
            col("o", "status").is_not_in(excluded)
        } else {
            col("o", "status").is_in(f.statuses.iter().map(|s| s.as_str()))
        };
        Cond::all()
            .add(status)
            .add(self.window(col("o", "placed_at"), f.window))
    }

    fn product_conditions(&self, f: &OrderFilter) -> Condition {
        let mut any = Cond::any();
        if !f.products.is_empty() {
            any = any.add(col("p", "sku").is_in(f.products.iter().cloned()));
        }
        if !f.categories.is_empty() {
            any = any.add(col("p", "category").is_in(f.categories.iter().cloned()));
        }
        any
    }

    fn events(&self, f: &EventFilter) -> SelectStatement {
        let mut q = Query::select();
        q.expr(Expr::val(1))
            .from_as("events", "e")
            .and_where(col("e", "event_type").is_in(f.types.iter().cloned()))
            .cond_where(self.window(col("e", "occurred_at"), f.window));
        if let Some(c) = &f.campaign {
            q.and_where(col("e", "campaign").eq(c.clone()));
        }
        if let Some(l) = &f.link {
            q.and_where(col("e", "link").eq(l.clone()));
        }
        q
    }

    fn score_exists(&self, condition: Expr) -> Condition {
        let q = Query::select()
            .expr(Expr::val(1))
            .from_as("customer_scores", "s")
            .and_where(condition)
            .to_owned();
        Cond::all().add(Expr::exists(self.correlate(q, ("s", "customer_id"))))
    }

    fn days_since_last_order(&self, cmp: &Cmp, has_purchase: bool) -> Condition {
        let purchases = purchases();
        let at = |days: f64| self.now - (days * DAY as f64).round() as i64;
        let placed = || col("o", "placed_at");
        let exists = |extra: Option<Expr>| {
            let mut q = self.orders(&purchases);
            if let Some(e) = extra {
                q.and_where(e);
            }
            Expr::exists(self.correlate(q, ("o", "customer_id")))
        };
        // With L the last purchase: days ≥ d ⇔ L ≤ now − d, so "nothing after now − d". A
        // customer who never bought has no "days since": they need a purchase, unless another
        // rule in the same `all` already requires one.
        let mut c = Cond::all();
        if !has_purchase {
            c = c.add(exists(None));
        }
        if let Some(d) = cmp.gte {
            c = c.add(exists(Some(placed().gt(at(d)))).not());
        }
        if let Some(d) = cmp.gt {
            c = c.add(exists(Some(placed().gte(at(d)))).not());
        }
        if let Some(d) = cmp.lte {
            c = c.add(exists(Some(placed().gte(at(d)))));
        }
        if let Some(d) = cmp.lt {
            c = c.add(exists(Some(placed().gt(at(d)))));
        }
        c
    }

    fn text_attribute(&self, key: &str) -> Expr {
        match self.backend {
            Backend::Sqlite => self.fragment(
                "(CASE WHEN json_type(\"c\".\"attributes\", ?) = 'text' THEN json_extract(\"c\".\"attributes\", ?) END)",
                vec![json_path(key).into(), json_path(key).into()],
            ),
            Backend::Postgres => self.fragment(
                "(CASE WHEN jsonb_typeof(\"c\".\"attributes\" -> ?) = 'string' THEN \"c\".\"attributes\" ->> ? END)",
                vec![key.into(), key.into()],
            ),
        }
    }

    /// PostgreSQL's `attributes ->> key`, for comparisons that only a JSON string can satisfy.
    fn raw_text_attribute(&self, key: &str) -> Expr {
        self.fragment("(\"c\".\"attributes\" ->> ?)", vec![key.into()])
    }

    fn number_attribute(&self, key: &str) -> Expr {
        match self.backend {
            Backend::Sqlite => self.fragment(
                "(CASE WHEN json_type(\"c\".\"attributes\", ?) IN ('integer', 'real') THEN json_extract(\"c\".\"attributes\", ?) END)",
                vec![json_path(key).into(), json_path(key).into()],
            ),
            Backend::Postgres => self.fragment(
                "(CASE WHEN jsonb_typeof(\"c\".\"attributes\" -> ?) = 'number' THEN (\"c\".\"attributes\" ->> ?)::double precision END)",
                vec![key.into(), key.into()],
            ),
        }
    }

    /// A JSON boolean as 1 or 0 (so both databases compare it the same way).
    fn bool_attribute(&self, key: &str) -> Expr {
        match self.backend {
            Backend::Sqlite => self.fragment(
                "(CASE json_type(\"c\".\"attributes\", ?) WHEN 'true' THEN 1 WHEN 'false' THEN 0 END)",
                vec![json_path(key).into()],
            ),
            Backend::Postgres => self.fragment(
                "(CASE WHEN jsonb_typeof(\"c\".\"attributes\" -> ?) = 'boolean' THEN CASE WHEN \"c\".\"attributes\" ->> ? = 'true' THEN 1 ELSE 0 END END)",
                vec![key.into(), key.into()],
            ),
        }
    }

    fn attribute_present(&self, key: &str) -> Expr {
        match self.backend {
            Backend::Sqlite => self.fragment(
                "(COALESCE(json_type(\"c\".\"attributes\", ?), 'null') <> 'null')",
                vec![json_path(key).into()],
            ),
            Backend::Postgres => self.fragment(
                "(COALESCE(jsonb_typeof(\"c\".\"attributes\" -> ?), 'null') <> 'null')",
                vec![key.into()],
            ),
        }
    }

    fn contains(&self, e: Expr, needle: &str) -> Expr {
        // Exact, case-sensitive substring in both databases (LIKE and ILIKE differ between them).
        match self.backend {
            Backend::Sqlite => Expr::cust_with_exprs("instr(?, ?) > 0", [e, Expr::val(needle)]),
            Backend::Postgres => {
                Expr::cust_with_exprs("strpos($1, $2) > 0", [e, Expr::val(needle)])
            }
        }
    }

    fn starts_with(&self, e: Expr, prefix: &str) -> Expr {
        match self.backend {
            Backend::Sqlite => Expr::cust_with_exprs(
                "substr(?, 1, length(?)) = ?",
                [e, Expr::val(prefix), Expr::val(prefix)],
            ),
            Backend::Postgres => {
                Expr::cust_with_exprs("starts_with($1, $2)", [e, Expr::val(prefix)])
            }
        }
    }

    fn field(&self, field: &Field, op: &FieldOp) -> Condition {
        if let Field::Column(Column::CreatedAt) = field {
            let (from, to) = created_at_range(op);
            let mut c = Cond::all();
            if let Some(f) = from {
                c = c.add(col("c", "created_at").gte(f));
            }
            if let Some(t) = to {
                c = c.add(col("c", "created_at").lt(t));
            }
            return c;
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
            FieldOp::Contains(_) | FieldOp::StartsWith(_) => None,
            FieldOp::Exists(_) => None,
        };
        let value_expr = match field {
            Field::Column(c) => Expr::col(("c", c.name())),
            Field::Attribute(key) => match sample {
                Some(Value::Number(_)) => self.number_attribute(key),
                Some(Value::Bool(_)) => self.bool_attribute(key),
                _ => self.text_attribute(key),
            },
        };
        let present = || match field {
            Field::Column(_) => value_expr.clone().is_not_null(),
            Field::Attribute(_) => value_expr.clone().is_not_null(),
        };
        let e = || value_expr.clone();
        // For attributes, evaluate the JSON extraction once: NULL (missing, or another type)
        // compares as false.
        let once = |x: Expr| self.with_exprs("COALESCE(?, FALSE)", [x]);
        if let Field::Attribute(key) = field {
            // Text that cannot be the text of a JSON number, boolean or null only ever equals a
            // JSON string, so PostgreSQL's plain ->> is exact and skips the type check.
            let plain = |v: &Value| matches!(v, Value::Text(t) if t.parse::<f64>().is_err() && !matches!(t.as_str(), "true" | "false" | "null"));
            let fast = self.backend == Backend::Postgres;
            match op {
                FieldOp::Eq(v) if fast && plain(v) => {
                    return Cond::all().add(once(self.raw_text_attribute(key).eq(sql_value(v))));
                }
                FieldOp::In(vs) if fast && vs.iter().all(plain) => {
                    return Cond::all().add(once(
                        self.raw_text_attribute(key).is_in(vs.iter().map(sql_value)),
                    ));
                }
                FieldOp::Eq(v) => return Cond::all().add(once(e().eq(sql_value(v)))),
                FieldOp::In(vs) => {
                    return Cond::all().add(once(e().is_in(vs.iter().map(sql_value))));
                }
                _ => {}
            }
        }
        match op {
            FieldOp::Eq(v) => Cond::all().add(present()).add(e().eq(sql_value(v))),
            FieldOp::Ne(v) => Cond::any().add(present().not()).add(e().ne(sql_value(v))),
            FieldOp::In(vs) => Cond::all()
                .add(present())
                .add(e().is_in(vs.iter().map(sql_value))),
            FieldOp::NotIn(vs) => Cond::any()
                .add(present().not())
                .add(e().is_not_in(vs.iter().map(sql_value))),
            FieldOp::Lt(v) => Cond::all().add(present()).add(e().lt(sql_value(v))),
            FieldOp::Lte(v) => Cond::all().add(present()).add(e().lte(sql_value(v))),
            FieldOp::Gt(v) => Cond::all().add(present()).add(e().gt(sql_value(v))),
            FieldOp::Gte(v) => Cond::all().add(present()).add(e().gte(sql_value(v))),
            FieldOp::Between(a, b) => Cond::all()
                .add(present())
                .add(e().gte(sql_value(a)))
                .add(e().lte(sql_value(b))),
            FieldOp::Contains(s) => {
                let text = match field {
                    Field::Attribute(key) => self.text_attribute(key),
                    Field::Column(_) => e(),
                };
                Cond::all()
                    .add(text.clone().is_not_null())
                    .add(self.contains(text, s))
            }
            FieldOp::StartsWith(s) => {
                let text = match field {
                    Field::Attribute(key) => self.text_attribute(key),
                    Field::Column(_) => e(),
                };
                Cond::all()
                    .add(text.clone().is_not_null())
                    .add(self.starts_with(text, s))
            }
            FieldOp::Exists(want) => {
                let present = match field {
                    Field::Attribute(key) => self.attribute_present(key),
                    Field::Column(_) => present(),
                };
                Cond::all().add(if *want { present } else { present.not() })
            }
        }
    }

    /// `FROM customers c WHERE c.erased_at IS NULL AND <rule>`, selecting nothing yet.
    fn members_select(&self, rule: &Rule) -> Result<SelectStatement> {
        Ok(Query::select()
            .from_as("customers", "c")
            .and_where(col("c", "erased_at").is_null())
            .cond_where(self.condition(rule)?)
            .to_owned())
    }

    fn build(&self, q: &SelectStatement) -> Compiled {
        let (sql, values) = match self.backend {
            Backend::Sqlite => q.build(SqliteQueryBuilder),
            Backend::Postgres => q.build(PostgresQueryBuilder),
        };
        Compiled { sql, values }
    }

    /// `SELECT COUNT(*)` of the members.
    pub fn count(&self, rule: &Rule) -> Result<Compiled> {
        let q = self
            .members_select(rule)?
            .expr(Expr::cust("COUNT(*)"))
            .to_owned();
        Ok(self.build(&q))
    }

    /// Every member id, in id order.
    pub fn ids(&self, rule: &Rule) -> Result<Compiled> {
        let q = self
            .members_select(rule)?
            .column(("c", "id"))
            .order_by(("c", "id"), Order::Asc)
            .to_owned();
        Ok(self.build(&q))
    }

    /// Member ids with the values the rule looked at, as text, for `segment preview`.
    pub fn preview(&self, rule: &Rule, limit: u64) -> Result<(Compiled, Vec<String>)> {
        let mut q = self.members_select(rule)?;
        q.column(("c", "id"));
        let mut labels = Vec::new();
        for (label, expr) in self.looked_at(rule, 0) {
            if labels.contains(&label) {
                continue;
            }
            q.expr(expr.cast_as("TEXT"));
            labels.push(label);
        }
        q.order_by(("c", "id"), Order::Asc).limit(limit);
        Ok((self.build(&q), labels))
    }

    /// One scalar expression per leaf: what the rule compared, for a person to check.
    fn looked_at(&self, rule: &Rule, depth: usize) -> Vec<(String, Expr)> {
        let scalar = |q: SelectStatement, key: (&'static str, &'static str), agg: &str| {
            let mut q = self.correlate(q, key);
            q.clear_selects();
            q.expr(Expr::cust(agg.to_owned()));
            Expr::SubQuery(None, Box::new(q.into()))
        };
        match rule {
            Rule::All(rs) | Rule::Any(rs) => {
                rs.iter().flat_map(|r| self.looked_at(r, depth)).collect()
            }
            Rule::Not(r) => self.looked_at(r, depth),
            Rule::Field(Field::Column(c), _) => {
                vec![(c.name().to_owned(), Expr::col(("c", c.name())))]
            }
            Rule::Field(Field::Attribute(key), _) => {
                let raw = match self.backend {
                    Backend::Sqlite => self.fragment(
                        "json_extract(\"c\".\"attributes\", ?)",
                        vec![json_path(key).into()],
                    ),
                    Backend::Postgres => {
                        self.fragment("(\"c\".\"attributes\" ->> ?)", vec![key.clone().into()])
                    }
                };
                vec![(format!("attributes.{key}"), raw)]
            }
            Rule::Orders(f, m, _) => {
                let (label, agg) = match m {
                    OrderMeasure::Count => ("orders", "COUNT(*)"),
                    OrderMeasure::Sum => (
                        "order value",
                        "COALESCE(SUM(\"o\".\"value\" - \"o\".\"discount\"), 0) / 100",
                    ),
                };
                vec![(
                    format!("{label} {}", window_label(f.window)),
                    scalar(self.orders(f), ("o", "customer_id"), agg),
                )]
            }
            Rule::DaysSinceLastOrder(_) => {
                let purchases = purchases();
                let last = scalar(
                    self.orders(&purchases),
                    ("o", "customer_id"),
                    "MAX(\"o\".\"placed_at\")",
                );
                let days = self.with_exprs("(? - ?) / 86400", [Expr::val(self.now), last]);
                vec![("days since last order".into(), days)]
            }
            Rule::FirstOrderWithinDays(_) => {
                let purchases = purchases();
                let first = scalar(
                    self.orders(&purchases),
                    ("o", "customer_id"),
                    "MIN(\"o\".\"placed_at\")",
                );
                let days = self.with_exprs("(? - ?) / 86400", [Expr::val(self.now), first]);
                vec![("days since first order".into(), days)]
            }
            Rule::Bought(f) => {
                let mut what: Vec<String> = f.categories.clone();
                what.extend(f.products.iter().cloned());
                vec![(
                    format!("bought {}", what.join("/")),
                    scalar(self.orders_with_lines(f), ("o", "customer_id"), "COUNT(*)"),
                )]
            }
            Rule::Tier(_) => vec![("tier".into(), self.score_column("tier"))],
            Rule::RfmCell(_) => vec![("rfm_cell".into(), self.score_column("rfm_cell"))],
            Rule::Score(s, _) => vec![(s.column().to_owned(), self.score_column(s.column()))],
            Rule::Points(_) => {
                let base = Query::select().from_as("loyalty_ledger", "g").to_owned();
                vec![(
                    "points".into(),
                    scalar(
                        base,
                        ("g", "customer_id"),
                        "COALESCE(SUM(\"g\".\"points\"), 0)",
                    ),
                )]
            }
            Rule::OpenComplaint(_) => {
                let q = Query::select()
                    .from_as("complaints", "k")
                    .and_where(col("k", "resolved_at").is_null())
                    .to_owned();
                vec![(
                    "open complaints".into(),
                    scalar(q, ("k", "customer_id"), "COUNT(*)"),
                )]
            }
            Rule::Consent(ch) => {
                let q = Query::select()
                    .from_as("consents", "k")
                    .and_where(col("k", "channel").eq(ch.as_str()))
                    .to_owned();
                let agg = "MAX(CASE WHEN \"k\".\"opted_in\" THEN 'opted in' ELSE 'opted out' END)";
                vec![(
                    format!("{ch} consent"),
                    scalar(q, ("k", "customer_id"), agg),
                )]
            }
            Rule::Event(f, _) => vec![(
                format!("{} {}", f.types.join("/"), window_label(f.window)),
                scalar(self.events(f), ("e", "customer_id"), "COUNT(*)"),
            )],
            Rule::Segment(name, _) => match self.segments.get(name) {
                Some(seg) if depth < MAX_DEPTH => self.looked_at(&seg.rule, depth + 1),
                _ => Vec::new(),
            },
        }
    }

    fn score_column(&self, column: &'static str) -> Expr {
        let q = Query::select()
            .expr(Expr::col(("s", column)))
            .from_as("customer_scores", "s")
            .and_where(col("s", "customer_id").equals(("c", "id")))
            .to_owned();
        Expr::SubQuery(None, Box::new(q.into()))
    }
}

fn window_label(w: Window) -> String {
    match w {
        Window::Ever => "(ever)".into(),
        Window::LastDays(d) => format!("({d} d)"),
        Window::Between(a, b) => {
            let day = |t: i64| {
                chrono::DateTime::from_timestamp(t, 0)
                    .map(|d| d.format("%Y-%m-%d").to_string())
                    .unwrap_or_default()
            };
            format!("({}–{})", day(a), day(b - DAY))
        }
    }
}

/// SQLite's JSON path for a top-level key (keys are letters, digits and `_` only).
fn json_path(key: &str) -> String {
    format!("$.{key}")
}
