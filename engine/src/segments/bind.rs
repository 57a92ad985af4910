//! Binding sea-query's values to an sqlx query, for either database.

use crate::error::{Error, Result};
use sea_query::{Value, Values};

/// Refuses value kinds the segment compiler never produces, so binding cannot go wrong
/// silently.
pub(crate) fn check(values: &Values) -> Result<()> {
    for v in &values.0 {
        match v {
            Value::Bool(_)
            | Value::TinyInt(_)
            | Value::SmallInt(_)
            | Value::Int(_)
            | Value::BigInt(_)
            | Value::TinyUnsigned(_)
            | Value::SmallUnsigned(_)
            | Value::Unsigned(_)
            | Value::Float(_)
            | Value::Double(_)
            | Value::String(_) => {}
            Value::BigUnsigned(u) if u.is_none_or(|u| i64::try_from(u).is_ok()) => {}
            other => {
                return Err(Error::Invalid(format!(
                    "internal: cannot bind a segment value of kind {other:?}"
                )));
            }
        }
    }
    Ok(())
}

/// Binds every value in order; call [`check`] first.
macro_rules! bind_values {
    ($query:expr, $values:expr) => {{
        let mut q = $query;
        for v in &$values.0 {
            q = match v {
                sea_query::Value::Bool(b) => q.bind(*b),
                sea_query::Value::TinyInt(i) => q.bind(i.map(i64::from)),
                sea_query::Value::SmallInt(i) => q.bind(i.map(i64::from)),
                sea_query::Value::Int(i) => q.bind(i.map(i64::from)),
                sea_query::Value::BigInt(i) => q.bind(*i),
                sea_query::Value::TinyUnsigned(i) => q.bind(i.map(i64::from)),
                sea_query::Value::SmallUnsigned(i) => q.bind(i.map(i64::from)),
                sea_query::Value::Unsigned(i) => q.bind(i.map(i64::from)),
                sea_query::Value::BigUnsigned(i) => q.bind(i.and_then(|u| i64::try_from(u).ok())),
                sea_query::Value::Float(f) => q.bind(f.map(f64::from)),
                sea_query::Value::Double(d) => q.bind(*d),
                sea_query::Value::String(s) => q.bind(s.clone()),
                _ => q.bind(None::<String>),
            };
        }
        q
    }};
}
pub(crate) use bind_values;
