//! Reading a rule from a segment file, reporting every problem at its line and field path.

use super::rule::{
    Cmp, Column, EventFilter, Field, FieldOp, OrderFilter, OrderMeasure, Rule, Score, Value, Window,
};
use crate::config::{ConfigError, Node, TableNode};
use crate::model::{Channel, CustomerKind, Locale, OrderStatus, parse_timestamp};

/// The keys that start a rule, with what each means (shown when a rule is not understood).
const RULE_KEYS: &[&str] = &[
    "all",
    "any",
    "not",
    "field",
    "orders",
    "days_since_last_order",
    "first_order_within_days",
    "bought",
    "not_bought",
    "tier",
    "points",
    "open_complaint",
    "consent",
    "event",
    "no_event",
    "score",
    "rfm_cell",
    "segment",
];

const FIELD_OPS: &[&str] = &[
    "eq",
    "ne",
    "in",
    "not_in",
    "lt",
    "lte",
    "gt",
    "gte",
    "between",
    "contains",
    "starts_with",
    "exists",
];

const CMP_OPS: &[&str] = &["eq", "ne", "lt", "lte", "gt", "gte", "between"];

/// Largest window accepted, in days (100 years).
const MAX_DAYS: i64 = 36_500;

/// Parses the rule at `node`; `None` (with errors pushed) when it cannot be understood.
pub(crate) fn parse_rule(node: &Node<'_>, errors: &mut Vec<ConfigError>) -> Option<Rule> {
    let table = node.table(errors)?;
    let starters: Vec<&str> = table
        .keys()
        .into_iter()
        .filter(|k| RULE_KEYS.contains(k))
        .collect();
    let kind = match starters.as_slice() {
        [one] => *one,
        [] => {
            let keys = table.keys();
            let hint = keys
                .first()
                .and_then(|k| crate::config::suggest(k, RULE_KEYS))
                .map(|s| format!(" (did you mean `{s}`?)"))
                .unwrap_or_default();
            errors.push(table.error(format!(
                "not a rule{hint}: a rule is a table starting with one of {}",
                RULE_KEYS.join(", ")
            )));
            return None;
        }
        many => {
            errors.push(table.error(format!(
                "one rule per table: found {}; put several rules in `all = [ … ]` or `any = [ … ]`",
                many.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(" and ")
            )));
            return None;
        }
    };
    if !matches!(kind, "field" | "score") {
        table.check_keys(&[kind], errors);
    }
    let value = table.get(kind)?;
    match kind {
        "all" | "any" => {
            let items = value.array(errors)?;
            if items.is_empty() {
                errors.push(value.error(format!("`{kind}` needs at least one rule")));
                return None;
            }
            let rules: Vec<Option<Rule>> = items.iter().map(|n| parse_rule(n, errors)).collect();
            let rules: Option<Vec<Rule>> = rules.into_iter().collect();
            let rules = rules?;
            Some(if kind == "all" {
                Rule::All(rules)
            } else {
                Rule::Any(rules)
            })
        }
        "not" => parse_rule(&value, errors).map(|r| Rule::Not(Box::new(r))),
        "field" => parse_field(&table, &value, errors),
        "orders" => parse_orders(&value, errors),
        "days_since_last_order" => {
            let cmp = parse_cmp(&value, errors, false)?;
            if cmp.eq.is_some() || cmp.ne.is_some() {
                errors.push(
                    value.error(
                        "days_since_last_order takes lt, lte, gt, gte or between (not eq/ne)",
                    ),
                );
                return None;
            }
            Some(Rule::DaysSinceLastOrder(cmp))
        }
        "first_order_within_days" => days(&value, errors).map(Rule::FirstOrderWithinDays),
        "bought" | "not_bought" => {
            let filter = parse_bought(&value, errors)?;
            let rule = Rule::Bought(filter);
            Some(if kind == "not_bought" {
                Rule::Not(Box::new(rule))
            } else {
                rule
            })
        }
        "tier" => {
            let tiers = value.strings(errors);
            if tiers.is_empty() {
                errors.push(value.error("name at least one tier, e.g. tier = \"gold\""));
                return None;
            }
            Some(Rule::Tier(
                tiers.into_iter().map(|t| t.to_lowercase()).collect(),
            ))
        }
        "points" => parse_cmp(&value, errors, false).map(Rule::Points),
        "open_complaint" => value.bool(errors).map(Rule::OpenComplaint),
        "consent" => {
            let name = value.str(errors)?;
            match name.parse::<Channel>() {
                Ok(c) => Some(Rule::Consent(c)),
                Err(e) => {
                    errors.push(value.error(e.to_string()));
                    None
                }
            }
        }
        "event" | "no_event" => {
            let (filter, cmp) = parse_event(&value, errors)?;
            let rule = Rule::Event(filter, cmp);
            Some(if kind == "no_event" {
                Rule::Not(Box::new(rule))
            } else {
                rule
            })
        }
        "score" => parse_score(&table, &value, errors),
        "rfm_cell" => {
            let cells = value.strings(errors);
            for c in &cells {
                if c.len() != 3 || !c.bytes().all(|b| (b'1'..=b'5').contains(&b)) {
                    errors.push(value.error(format!(
                        "{c:?} is not an RFM cell (three digits 1–5, e.g. \"555\")"
                    )));
                    return None;
                }
            }
            Some(Rule::RfmCell(cells))
        }
        "segment" => value
            .str(errors)
            .map(|s| Rule::Segment(s.to_owned(), value.location())),
        _ => None,
    }
}

fn days(node: &Node<'_>, errors: &mut Vec<ConfigError>) -> Option<i64> {
    let d = node.int(errors)?;
    if !(1..=MAX_DAYS).contains(&d) {
        errors.push(node.error(format!("days must be between 1 and {MAX_DAYS}")));
        return None;
    }
    Some(d)
}

/// A date written as a TOML date (2025-01-31) or a string ("2025-01-31").
fn date(node: &Node<'_>, errors: &mut Vec<ConfigError>) -> Option<i64> {
    let text = match node.as_datetime() {
        Some(t) => t,
        None => node.str(errors)?.to_owned(),
    };
    match parse_timestamp(&text) {
        Ok(t) => Some(t.timestamp()),
        Err(e) => {
            errors.push(node.error(e));
            None
        }
    }
}

/// `{ gte = 3 }`, `{ between = [1, 5] }`, several bounds together.
fn parse_cmp(node: &Node<'_>, errors: &mut Vec<ConfigError>, allow_dates: bool) -> Option<Cmp> {
    let table = node.table(errors)?;
    parse_cmp_in(&table, errors, allow_dates, &[])
}

/// Reads comparison keys from a table that may also hold `extra` keys.
fn parse_cmp_in(
    table: &TableNode<'_>,
    errors: &mut Vec<ConfigError>,
    allow_dates: bool,
    extra: &[&str],
) -> Option<Cmp> {
    let allowed: Vec<&str> = CMP_OPS.iter().chain(extra).copied().collect();
    table.check_keys(&allowed, errors);
    let before = errors.len();
    let num = |n: &Node<'_>, errors: &mut Vec<ConfigError>| -> Option<f64> {
        if allow_dates && !n.is_number() {
            date(n, errors).map(|t| t as f64)
        } else {
            n.number(errors)
        }
    };
    let mut cmp = Cmp::default();
    let mut any = false;
    for (key, slot) in [
        ("eq", &mut cmp.eq),
        ("ne", &mut cmp.ne),
        ("lt", &mut cmp.lt),
        ("lte", &mut cmp.lte),
        ("gt", &mut cmp.gt),
        ("gte", &mut cmp.gte),
    ] {
        if let Some(n) = table.get(key) {
            *slot = num(&n, errors);
            any = true;
        }
    }
    if let Some(n) = table.get("between") {
        any = true;
        let items = n.array(errors).unwrap_or_default();
        if items.len() != 2 {
            errors.push(n.error("between takes two values: between = [low, high]"));
        } else if let (Some(lo), Some(hi)) = (num(&items[0], errors), num(&items[1], errors)) {
            if lo > hi {
                errors.push(n.error("between: the first value must not be larger than the second"));
            }
            cmp.gte = Some(cmp.gte.map_or(lo, |g| g.max(lo)));
            cmp.lte = Some(cmp.lte.map_or(hi, |l| l.min(hi)));
        }
    }
    if !any {
        errors.push(table.error(format!("give a comparison: one of {}", CMP_OPS.join(", "))));
        return None;
    }
    (errors.len() == before).then_some(cmp)
}

fn parse_window(table: &TableNode<'_>, errors: &mut Vec<ConfigError>) -> Option<Window> {
    match (table.get("within_days"), table.get("between")) {
        (Some(_), Some(b)) => {
            errors.push(b.error("use either within_days or between, not both"));
            None
        }
        (Some(d), None) => days(&d, errors).map(Window::LastDays),
        (None, Some(b)) => {
            let items = b.array(errors)?;
            if items.len() != 2 {
                errors.push(b.error("between takes two dates: between = [2025-01-01, 2025-03-31]"));
                return None;
            }
            let (from, to) = (date(&items[0], errors)?, date(&items[1], errors)?);
            if from > to {
                errors.push(b.error("between: the first date must not be after the second"));
                return None;
            }
            // The end date is included: up to midnight after it.
            Some(Window::Between(from, to + 86_400))
        }
        (None, None) => Some(Window::Ever),
    }
}

fn parse_statuses(table: &TableNode<'_>, errors: &mut Vec<ConfigError>) -> Vec<OrderStatus> {
    match table.get("status") {
        Some(n) => n
            .one_or_many(errors)
            .iter()
            .filter_map(|s| {
                let text = s.str(errors)?;
                text.parse::<OrderStatus>()
                    .map_err(|e| errors.push(s.error(e.to_string())))
                    .ok()
            })
            .collect(),
        None => OrderStatus::ALL
            .iter()
            .copied()
            .filter(|s| s.is_purchase())
            .collect(),
    }
}

fn parse_order_filter(table: &TableNode<'_>, errors: &mut Vec<ConfigError>) -> Option<OrderFilter> {
    let before = errors.len();
    let window = parse_window(table, errors);
    let statuses = parse_statuses(table, errors);
    let products = table
        .get("product")
        .map(|n| n.strings(errors))
        .unwrap_or_default();
    let categories = table
        .get("category")
        .map(|n| n.strings(errors))
        .unwrap_or_default();
    (errors.len() == before).then_some(OrderFilter {
        statuses,
        window: window?,
        products,
        categories,
    })
}

fn parse_orders(node: &Node<'_>, errors: &mut Vec<ConfigError>) -> Option<Rule> {
    let table = node.table(errors)?;
    table.check_keys(
        &[
            "count",
            "sum",
            "within_days",
            "between",
            "status",
            "product",
            "category",
        ],
        errors,
    );
    let filter = parse_order_filter(&table, errors);
    let (measure, cmp) = match (table.get("count"), table.get("sum")) {
        (Some(c), None) => (OrderMeasure::Count, parse_cmp(&c, errors, false)?),
        (None, Some(s)) => (OrderMeasure::Sum, parse_cmp(&s, errors, false)?),
        (Some(_), Some(s)) => {
            errors.push(s.error("use either count or sum in one orders rule"));
            return None;
        }
        (None, None) => {
            errors.push(
                table.error("say what to measure: count = { gte = 3 } or sum = { gte = 10000000 }"),
            );
            return None;
        }
    };
    Some(Rule::Orders(filter?, measure, cmp))
}

fn parse_bought(node: &Node<'_>, errors: &mut Vec<ConfigError>) -> Option<OrderFilter> {
    let table = node.table(errors)?;
    table.check_keys(
        &["product", "category", "within_days", "between", "status"],
        errors,
    );
    if table.get("product").is_none() && table.get("category").is_none() {
        errors.push(table.error("name a product (SKU) or a category, e.g. category = \"sofa\""));
        return None;
    }
    parse_order_filter(&table, errors)
}

fn parse_event(node: &Node<'_>, errors: &mut Vec<ConfigError>) -> Option<(EventFilter, Cmp)> {
    let table = node.table(errors)?;
    table.check_keys(
        &[
            "type",
            "within_days",
            "between",
            "campaign",
            "link",
            "count",
        ],
        errors,
    );
    let before = errors.len();
    let types: Vec<String> = match table.require(
        "type",
        "the event type, e.g. type = \"email.clicked\"",
        errors,
    ) {
        Some(n) => {
            let items = n.one_or_many(errors);
            items
                .iter()
                .filter_map(|i| {
                    let t = i.str(errors)?;
                    crate::events::check_event_type(t)
                        .map(str::to_owned)
                        .map_err(|e| errors.push(i.error(e)))
                        .ok()
                })
                .collect()
        }
        None => Vec::new(),
    };
    let window = parse_window(&table, errors);
    let campaign = table
        .get("campaign")
        .and_then(|n| n.str(errors).map(str::to_owned));
    let link = table
        .get("link")
        .and_then(|n| n.str(errors).map(str::to_owned));
    let cmp = match table.get("count") {
        Some(c) => parse_cmp(&c, errors, false),
        None => Some(Cmp {
            gte: Some(1.0),
            ..Cmp::default()
        }),
    };
    if errors.len() != before {
        return None;
    }
    Some((
        EventFilter {
            types,
            window: window?,
            campaign,
            link,
        },
        cmp?,
    ))
}

fn parse_score(
    table: &TableNode<'_>,
    value: &Node<'_>,
    errors: &mut Vec<ConfigError>,
) -> Option<Rule> {
    let name = value.str(errors)?;
    let names: Vec<&str> = Score::ALL.iter().map(|(n, _)| *n).collect();
    let Some((_, score)) = Score::ALL.iter().find(|(n, _)| *n == name) else {
        errors.push(value.error(format!(
            "unknown score {name:?} ({})",
            crate::config::hint(name, &names)
        )));
        return None;
    };
    let cmp = parse_cmp_in(table, errors, false, &["score"])?;
    Some(Rule::Score(*score, cmp))
}

fn parse_value(node: &Node<'_>, errors: &mut Vec<ConfigError>) -> Option<Value> {
    if let Some(s) = node.as_str() {
        return Some(Value::Text(s.to_owned()));
    }
    if let Some(b) = node.as_bool() {
        return Some(Value::Bool(b));
    }
    if node.is_number() {
        return node.number(errors).map(Value::Number);
    }
    if node.as_datetime().is_some() {
        return date(node, errors).map(|t| Value::Number(t as f64));
    }
    errors.push(node.wrong_type("a string, number, true/false or date"));
    None
}

fn parse_field(
    table: &TableNode<'_>,
    value: &Node<'_>,
    errors: &mut Vec<ConfigError>,
) -> Option<Rule> {
    let allowed: Vec<&str> = std::iter::once("field")
        .chain(FIELD_OPS.iter().copied())
        .collect();
    table.check_keys(&allowed, errors);
    let name = value.str(errors)?;
    let field = if let Some(key) = name.strip_prefix("attributes.") {
        if key.is_empty()
            || key.len() > 64
            || !key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            errors.push(value.error(format!(
                "{key:?} is not an attribute key (letters, digits and _ only)"
            )));
            return None;
        }
        Field::Attribute(key.to_owned())
    } else {
        match Column::ALL.iter().find(|(n, _)| *n == name) {
            Some((_, c)) => Field::Column(*c),
            None => {
                let mut names: Vec<&str> = Column::ALL.iter().map(|(n, _)| *n).collect();
                names.push("attributes.KEY");
                errors.push(value.error(format!(
                    "unknown field {name:?} ({})",
                    crate::config::hint(name, &names)
                )));
                return None;
            }
        }
    };
    let ops: Vec<&str> = table
        .keys()
        .into_iter()
        .filter(|k| FIELD_OPS.contains(k))
        .collect();
    let op = match ops.as_slice() {
        [one] => *one,
        [] => {
            errors.push(table.error(format!(
                "say how to compare {name}: one of {}",
                FIELD_OPS.join(", ")
            )));
            return None;
        }
        many => {
            errors.push(table.error(format!(
                "one comparison per field rule, found {}; combine rules with all = [ … ]",
                many.join(" and ")
            )));
            return None;
        }
    };
    let node = table.get(op)?;
    let before = errors.len();
    let is_date = field == Field::Column(Column::CreatedAt);
    let one = |errors: &mut Vec<ConfigError>| -> Option<Value> {
        if is_date {
            date(&node, errors).map(|t| Value::Number(t as f64))
        } else {
            parse_value(&node, errors)
        }
    };
    let list = |errors: &mut Vec<ConfigError>| -> Vec<Value> {
        node.array(errors)
            .unwrap_or_default()
            .iter()
            .filter_map(|n| {
                if is_date {
                    date(n, errors).map(|t| Value::Number(t as f64))
                } else {
                    parse_value(n, errors)
                }
            })
            .collect()
    };
    let op = match op {
        "eq" => FieldOp::Eq(one(errors)?),
        "ne" => FieldOp::Ne(one(errors)?),
        "in" | "not_in" => {
            let values = list(errors);
            if values.is_empty() && errors.len() == before {
                errors.push(node.error(format!("`{op}` needs at least one value")));
            }
            if op == "in" {
                FieldOp::In(values)
            } else {
                FieldOp::NotIn(values)
            }
        }
        "lt" => FieldOp::Lt(one(errors)?),
        "lte" => FieldOp::Lte(one(errors)?),
        "gt" => FieldOp::Gt(one(errors)?),
        "gte" => FieldOp::Gte(one(errors)?),
        "between" => {
            let values = list(errors);
            match values.as_slice() {
                [lo, hi] => FieldOp::Between(lo.clone(), hi.clone()),
                _ => {
                    errors.push(node.error("between takes two values: between = [low, high]"));
                    return None;
                }
            }
        }
        "contains" => FieldOp::Contains(node.str(errors)?.to_owned()),
        "starts_with" => FieldOp::StartsWith(node.str(errors)?.to_owned()),
        "exists" => FieldOp::Exists(node.bool(errors)?),
        _ => return None,
    };
    if errors.len() != before {
        return None;
    }
    check_field_types(&field, &op, &node, errors)?;
    Some(Rule::Field(field, op))
}

/// Values must suit the field: words from the closed sets for kind and locale, numbers or dates
/// for ordering comparisons, text for the text columns.
fn check_field_types(
    field: &Field,
    op: &FieldOp,
    node: &Node<'_>,
    errors: &mut Vec<ConfigError>,
) -> Option<()> {
    let values: Vec<&Value> = match op {
        FieldOp::Eq(v)
        | FieldOp::Ne(v)
        | FieldOp::Lt(v)
        | FieldOp::Lte(v)
        | FieldOp::Gt(v)
        | FieldOp::Gte(v) => vec![v],
        FieldOp::In(vs) | FieldOp::NotIn(vs) => vs.iter().collect(),
        FieldOp::Between(a, b) => vec![a, b],
        FieldOp::Contains(_) | FieldOp::StartsWith(_) | FieldOp::Exists(_) => Vec::new(),
    };
    let ordering = matches!(
        op,
        FieldOp::Lt(_) | FieldOp::Lte(_) | FieldOp::Gt(_) | FieldOp::Gte(_) | FieldOp::Between(..)
    );
    let fail = |errors: &mut Vec<ConfigError>, msg: String| {
        errors.push(node.error(msg));
        None
    };
    match field {
        Field::Column(Column::CreatedAt) => {
            if !matches!(
                op,
                FieldOp::Eq(_)
                    | FieldOp::Lt(_)
                    | FieldOp::Lte(_)
                    | FieldOp::Gt(_)
                    | FieldOp::Gte(_)
                    | FieldOp::Between(..)
            ) {
                return fail(
                    errors,
                    "created_at is a date: compare it with eq, lt, lte, gt, gte or between".into(),
                );
            }
        }
        Field::Column(column) => {
            if ordering {
                return fail(
                    errors,
                    format!(
                        "{} is text: use eq, ne, in, not_in, contains or starts_with",
                        column.name()
                    ),
                );
            }
            for v in &values {
                let Value::Text(text) = v else {
                    return fail(
                        errors,
                        format!("{} is text: write the value in quotes", column.name()),
                    );
                };
                let check = match column {
                    Column::Kind => text
                        .parse::<CustomerKind>()
                        .map(|_| ())
                        .map_err(|e| e.to_string()),
                    Column::Locale => text
                        .parse::<Locale>()
                        .map(|_| ())
                        .map_err(|e| e.to_string()),
                    _ => Ok(()),
                };
                if let Err(e) = check {
                    return fail(errors, e);
                }
            }
        }
        Field::Attribute(_) => {
            if ordering && values.iter().any(|v| !matches!(v, Value::Number(_))) {
                return fail(
                    errors,
                    "lt, lte, gt, gte and between compare numbers: write the value without quotes"
                        .into(),
                );
            }
            let kinds: Vec<std::mem::Discriminant<Value>> =
                values.iter().map(|v| std::mem::discriminant(*v)).collect();
            if kinds.windows(2).any(|w| w[0] != w[1]) {
                return fail(
                    errors,
                    "all values in one comparison must be of the same type".into(),
                );
            }
        }
    }
    Some(())
}
