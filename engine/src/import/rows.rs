//! One typed, validated row per kind of import. Parsing checks everything that can be checked
//! without the database; references to customers, orders and products are resolved in batches.

use super::fields::{Fields, parse_bool, parse_text};
use crate::model::{
    Channel, ComplaintSeverity, Currency, CustomerKind, EmailAddress, Locale, OrderStatus,
    PhoneNumber, TimeZoneName, parse_timestamp,
};
use serde_json::{Map, Value};

fn epoch(s: &str) -> Result<i64, String> {
    parse_timestamp(s).map(|t| t.timestamp())
}

fn json_object(s: &str) -> Result<Value, String> {
    match serde_json::from_str::<Value>(s) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(_) => Err("must be a JSON object such as {\"segment\":\"A\"}".into()),
        Err(e) => Err(format!("invalid JSON: {e}")),
    }
}

fn reference(s: &str) -> Result<String, String> {
    parse_text(64)(s)
}

/// A customer row (`customers.csv`).
#[derive(Debug, Clone)]
pub(crate) struct CustomerRow {
    pub(crate) external_ref: String,
    pub(crate) kind: CustomerKind,
    pub(crate) name: String,
    pub(crate) email: Option<String>,
    pub(crate) phone: Option<String>,
    pub(crate) locale: Locale,
    pub(crate) time_zone: String,
    pub(crate) region: Option<String>,
    pub(crate) city: Option<String>,
    pub(crate) industry: Option<String>,
    pub(crate) created_at: i64,
    pub(crate) attributes: Value,
}

impl CustomerRow {
    pub(crate) const REQUIRED: &'static [&'static str] = &[
        "external_ref",
        "kind",
        "name",
        "locale",
        "time_zone",
        "created_at",
    ];
    pub(crate) const OPTIONAL: &'static [&'static str] =
        &["email", "phone", "region", "city", "industry", "attributes"];

    pub(crate) fn parse(f: &Fields<'_>) -> Result<Self, String> {
        Ok(CustomerRow {
            external_ref: f.parse("external_ref", reference)?,
            kind: f.parse("kind", |s| s.parse().map_err(|e| format!("{e}")))?,
            name: f.parse("name", parse_text(200))?,
            email: f.parse_opt("email", |s| EmailAddress::parse(s).map(|e| e.to_string()))?,
            phone: f.parse_opt("phone", |s| PhoneNumber::parse(s).map(|p| p.to_string()))?,
            locale: f.parse("locale", |s| s.parse().map_err(|e| format!("{e}")))?,
            time_zone: f.parse("time_zone", |s| {
                s.parse::<TimeZoneName>().map(|t| t.to_string())
            })?,
            region: f.parse_opt("region", parse_text(100))?,
            city: f.parse_opt("city", parse_text(100))?,
            industry: f.parse_opt("industry", parse_text(100))?,
            created_at: f.parse("created_at", epoch)?,
            attributes: f
                .parse_opt("attributes", json_object)?
                .unwrap_or_else(|| Value::Object(Map::new())),
        })
    }
}

/// A product row (`products.csv`).
#[derive(Debug, Clone)]
pub(crate) struct ProductRow {
    pub(crate) sku: String,
    pub(crate) name: String,
    pub(crate) category: String,
    pub(crate) make_to_order: bool,
    pub(crate) unit_cost: i64,
    pub(crate) list_price: i64,
    pub(crate) currency: Currency,
}

impl ProductRow {
    pub(crate) const REQUIRED: &'static [&'static str] = &[
        "sku",
        "name",
        "category",
        "make_to_order",
        "unit_cost",
        "list_price",
    ];
    pub(crate) const OPTIONAL: &'static [&'static str] = &["currency"];

    pub(crate) fn parse(f: &Fields<'_>) -> Result<Self, String> {
        let currency: Currency = f.parse_opt("currency", |s| s.parse())?.unwrap_or_default();
        let amount = |s: &str| -> Result<i64, String> {
            let v = currency.parse_amount(s)?;
            if v < 0 {
                return Err("must not be negative".into());
            }
            Ok(v)
        };
        Ok(ProductRow {
            sku: f.parse("sku", reference)?,
            name: f.parse("name", parse_text(200))?,
            category: f.parse("category", parse_text(64))?,
            make_to_order: f.parse("make_to_order", parse_bool)?,
            unit_cost: f.parse("unit_cost", amount)?,
            list_price: f.parse("list_price", amount)?,
            currency,
        })
    }
}

/// An order row (`orders.csv`): one order with the time of each status change.
#[derive(Debug, Clone)]
pub(crate) struct OrderRow {
    pub(crate) external_ref: String,
    pub(crate) customer_ref: String,
    pub(crate) status: OrderStatus,
    pub(crate) placed_at: i64,
    /// Times of confirmed, in_production, quality_check, shipped, delivered, cancelled.
    pub(crate) status_times: [Option<i64>; 6],
    pub(crate) expected_at: Option<i64>,
    pub(crate) value: i64,
    pub(crate) cost: i64,
    pub(crate) discount: i64,
    pub(crate) currency: Currency,
    pub(crate) offer_code: Option<String>,
    pub(crate) tracking_url: Option<String>,
}

/// The status-time columns of an order, in lifecycle order.
pub(crate) const STATUS_TIME_COLUMNS: [&str; 6] = [
    "confirmed_at",
    "in_production_at",
    "quality_check_at",
    "shipped_at",
    "delivered_at",
    "cancelled_at",
];

impl OrderRow {
    pub(crate) const REQUIRED: &'static [&'static str] = &[
        "external_ref",
        "customer_ref",
        "status",
        "placed_at",
        "value",
        "cost",
    ];
    pub(crate) const OPTIONAL: &'static [&'static str] = &[
        "discount",
        "currency",
        "confirmed_at",
        "in_production_at",
        "quality_check_at",
        "shipped_at",
        "delivered_at",
        "cancelled_at",
        "expected_at",
        "offer_code",
        "tracking_url",
    ];

    pub(crate) fn parse(f: &Fields<'_>) -> Result<Self, String> {
        let currency: Currency = f.parse_opt("currency", |s| s.parse())?.unwrap_or_default();
        let amount = |s: &str| -> Result<i64, String> {
            let v = currency.parse_amount(s)?;
            if v < 0 {
                return Err("must not be negative".into());
            }
            Ok(v)
        };
        let placed_at = f.parse("placed_at", epoch)?;
        let status: OrderStatus = f.parse("status", |s| s.parse().map_err(|e| format!("{e}")))?;
        let mut status_times = [None; 6];
        for (slot, column) in status_times.iter_mut().zip(STATUS_TIME_COLUMNS) {
            *slot = f.parse_opt(column, epoch)?;
            if let Some(t) = *slot
                && t < placed_at
            {
                return Err(format!("{column}: is before placed_at"));
            }
        }
        let value = f.parse("value", amount)?;
        let discount = f.parse_opt("discount", amount)?.unwrap_or(0);
        if discount > value {
            return Err("discount: is larger than the order value".into());
        }
        let tracking_url = f.parse_opt("tracking_url", |s| {
            let u = url::Url::parse(s).map_err(|e| format!("invalid URL: {e}"))?;
            if !matches!(u.scheme(), "http" | "https") {
                return Err("must be an http(s) URL".into());
            }
            Ok(u.to_string())
        })?;
        Ok(OrderRow {
            external_ref: f.parse("external_ref", reference)?,
            customer_ref: f.parse("customer_ref", reference)?,
            status,
            placed_at,
            status_times,
            expected_at: f.parse_opt("expected_at", epoch)?,
            value,
            cost: f.parse("cost", amount)?,
            discount,
            currency,
            offer_code: f.parse_opt("offer_code", parse_text(64))?,
            tracking_url,
        })
    }
}

/// An order line (`order-lines.csv`).
#[derive(Debug, Clone)]
pub(crate) struct OrderLineRow {
    pub(crate) order_ref: String,
    pub(crate) line_no: i32,
    pub(crate) sku: String,
    pub(crate) quantity: i32,
    pub(crate) unit_price: i64,
}

impl OrderLineRow {
    pub(crate) const REQUIRED: &'static [&'static str] =
        &["order_ref", "line_no", "sku", "quantity", "unit_price"];
    pub(crate) const OPTIONAL: &'static [&'static str] = &["currency"];

    pub(crate) fn parse(f: &Fields<'_>) -> Result<Self, String> {
        let currency: Currency = f.parse_opt("currency", |s| s.parse())?.unwrap_or_default();
        let positive = |s: &str| -> Result<i32, String> {
            match s.parse::<i32>() {
                Ok(n) if n > 0 => Ok(n),
                _ => Err(format!("{s:?} is not a positive whole number")),
            }
        };
        Ok(OrderLineRow {
            order_ref: f.parse("order_ref", reference)?,
            line_no: f.parse("line_no", positive)?,
            sku: f.parse("sku", reference)?,
            quantity: f.parse("quantity", positive)?,
            unit_price: f.parse("unit_price", |s| {
                let v = currency.parse_amount(s)?;
                if v < 0 {
                    return Err("must not be negative".into());
                }
                Ok(v)
            })?,
        })
    }

    /// The in-file identity of a line.
    pub(crate) fn key(&self) -> String {
        format!("{}#{}", self.order_ref, self.line_no)
    }
}

/// A complaint (`complaints.csv`).
#[derive(Debug, Clone)]
pub(crate) struct ComplaintRow {
    pub(crate) external_ref: String,
    pub(crate) customer_ref: String,
    pub(crate) order_ref: Option<String>,
    pub(crate) category: String,
    pub(crate) severity: ComplaintSeverity,
    pub(crate) channel: String,
    pub(crate) opened_at: i64,
    pub(crate) resolved_at: Option<i64>,
    pub(crate) summary: String,
}

impl ComplaintRow {
    pub(crate) const REQUIRED: &'static [&'static str] = &[
        "external_ref",
        "customer_ref",
        "category",
        "severity",
        "channel",
        "opened_at",
    ];
    pub(crate) const OPTIONAL: &'static [&'static str] = &["order_ref", "resolved_at", "summary"];

    pub(crate) fn parse(f: &Fields<'_>) -> Result<Self, String> {
        let opened_at = f.parse("opened_at", epoch)?;
        let resolved_at = f.parse_opt("resolved_at", epoch)?;
        if resolved_at.is_some_and(|r| r < opened_at) {
            return Err("resolved_at: is before opened_at".into());
        }
        Ok(ComplaintRow {
            external_ref: f.parse("external_ref", reference)?,
            customer_ref: f.parse("customer_ref", reference)?,
            order_ref: f.parse_opt("order_ref", reference)?,
            category: f.parse("category", parse_text(64))?,
            severity: f.parse("severity", |s| s.parse().map_err(|e| format!("{e}")))?,
            channel: f.parse("channel", parse_text(32))?,
            opened_at,
            resolved_at,
            summary: f
                .parse_opt("summary", parse_text(2000))?
                .unwrap_or_default(),
        })
    }
}

/// A consent change (`consent.csv`).
#[derive(Debug, Clone)]
pub(crate) struct ConsentRow {
    pub(crate) customer_ref: String,
    pub(crate) channel: Channel,
    pub(crate) opted_in: bool,
    pub(crate) source: String,
    pub(crate) changed_at: i64,
}

impl ConsentRow {
    pub(crate) const REQUIRED: &'static [&'static str] =
        &["customer_ref", "channel", "status", "source", "changed_at"];
    pub(crate) const OPTIONAL: &'static [&'static str] = &[];

    pub(crate) fn parse(f: &Fields<'_>) -> Result<Self, String> {
        Ok(ConsentRow {
            customer_ref: f.parse("customer_ref", reference)?,
            channel: f.parse("channel", |s| s.parse().map_err(|e| format!("{e}")))?,
            opted_in: f.parse("status", |s| match s {
                "opted_in" | "in" | "granted" => Ok(true),
                "opted_out" | "out" | "withdrawn" => Ok(false),
                other => Err(format!(
                    "{other:?} is not a consent status (expected opted_in or opted_out)"
                )),
            })?,
            source: f.parse("source", parse_text(64))?,
            changed_at: f.parse("changed_at", epoch)?,
        })
    }
}

/// A historical event (`events.csv`), e.g. opens and clicks from a previous system.
#[derive(Debug, Clone)]
pub(crate) struct EventRow {
    pub(crate) idempotency_key: String,
    pub(crate) event_type: String,
    pub(crate) occurred_at: i64,
    pub(crate) customer_ref: Option<String>,
    pub(crate) campaign: Option<String>,
    pub(crate) link: Option<String>,
    pub(crate) payload: Value,
}

impl EventRow {
    pub(crate) const REQUIRED: &'static [&'static str] =
        &["idempotency_key", "event_type", "occurred_at"];
    pub(crate) const OPTIONAL: &'static [&'static str] =
        &["customer_ref", "campaign", "link", "payload"];

    pub(crate) fn parse(f: &Fields<'_>) -> Result<Self, String> {
        Ok(EventRow {
            idempotency_key: f.parse("idempotency_key", parse_text(200))?,
            event_type: f.parse("event_type", |s| {
                crate::events::check_event_type(s).map(str::to_owned)
            })?,
            occurred_at: f.parse("occurred_at", epoch)?,
            customer_ref: f.parse_opt("customer_ref", reference)?,
            campaign: f.parse_opt("campaign", parse_text(100))?,
            link: f.parse_opt("link", parse_text(2000))?,
            payload: f
                .parse_opt("payload", json_object)?
                .unwrap_or_else(|| Value::Object(Map::new())),
        })
    }
}
