use super::enums::string_enum;

string_enum! {
    /// Who the customer is to the business.
    pub enum CustomerKind("customer kind") {
        /// An end consumer buying for a household.
        Consumer = "consumer",
        /// A shop reselling to consumers.
        Retailer = "retailer",
        /// A distributor reselling to retailers in a region.
        Distributor = "distributor",
        /// A hotel, office or other project buying in bulk.
        ProjectBuyer = "project_buyer",
    }
}

string_enum! {
    /// The language a customer is written to in.
    pub enum Locale("locale") {
        /// Bahasa Indonesia.
        Id = "id",
        /// English.
        En = "en",
    }
}
