use super::enums::string_enum;

string_enum! {
    /// Where an order is in its life, from quote to delivery.
    pub enum OrderStatus("order status") {
        /// Priced, not yet accepted by the customer.
        Quoted = "quoted",
        /// Accepted; counts as a purchase from here on.
        Confirmed = "confirmed",
        /// Being made in the factory.
        InProduction = "in_production",
        /// Passing quality control.
        QualityCheck = "quality_check",
        /// Left the warehouse.
        Shipped = "shipped",
        /// Received by the customer.
        Delivered = "delivered",
        /// Called off; does not count as a purchase.
        Cancelled = "cancelled",
    }
}

impl OrderStatus {
    /// Whether an order in this status counts as a purchase (confirmed and not cancelled).
    pub fn is_purchase(self) -> bool {
        !matches!(self, OrderStatus::Quoted | OrderStatus::Cancelled)
    }

    /// The column holding the time the order entered this status.
    pub fn time_column(self) -> &'static str {
        match self {
            OrderStatus::Quoted => "placed_at",
            OrderStatus::Confirmed => "confirmed_at",
            OrderStatus::InProduction => "in_production_at",
            OrderStatus::QualityCheck => "quality_check_at",
            OrderStatus::Shipped => "shipped_at",
            OrderStatus::Delivered => "delivered_at",
            OrderStatus::Cancelled => "cancelled_at",
        }
    }
}

string_enum! {
    /// How serious a complaint is.
    pub enum ComplaintSeverity("complaint severity") {
        /// A question or minor annoyance.
        Low = "low",
        /// A defect or delay the customer wants fixed.
        Medium = "medium",
        /// A broken product or a missed project deadline.
        High = "high",
        /// A safety issue or a threat to the account.
        Critical = "critical",
    }
}

string_enum! {
    /// The kind of a loyalty ledger entry.
    pub enum LedgerKind("ledger entry kind") {
        /// Points earned by a purchase or a response.
        Earn = "earn",
        /// Points spent on a reward.
        Redeem = "redeem",
        /// Points that lapsed unused.
        Expire = "expire",
        /// A manual correction.
        Adjust = "adjust",
    }
}
