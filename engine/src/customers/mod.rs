//! Customers as a whole: the single customer view and privacy erasure.

mod view;

pub use view::{
    ComplaintLine, ConsentLine, CustomerView, EventLine, LoyaltySummary, OrderLine, Profile,
    customer_view, find_customer_id,
};

use crate::error::Result;
use crate::store::Store;

/// The stored scores of a customer as JSON, once analytics has run (`None` before).
pub(crate) async fn scores_of(
    _store: &Store,
    _customer_id: i64,
) -> Result<Option<serde_json::Value>> {
    Ok(None)
}
