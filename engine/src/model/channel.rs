use super::enums::string_enum;

string_enum! {
    /// A way of reaching a customer. Consent, suppression and delivery are all per channel.
    pub enum Channel("channel") {
        /// Email over SMTP.
        Email = "email",
        /// SMS through an HTTP gateway.
        Sms = "sms",
        /// A task posted to another system (call center, sales force); consent means the
        /// customer agreed to be phoned or visited.
        Webhook = "webhook",
    }
}
