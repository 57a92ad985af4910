//! The domain vocabulary shared by storage, import, segments and campaigns.
//!
//! Every type here parses from the text a marketer or the ERP writes (`"distributor"`,
//! `"+6281234567890"`, `"Asia/Jakarta"`) and refuses anything else, so the rest of the engine
//! only ever sees valid values.
//!
//! ```
//! use jalin_engine::model::{CustomerKind, PhoneNumber};
//! assert_eq!("distributor".parse::<CustomerKind>().unwrap(), CustomerKind::Distributor);
//! assert!(PhoneNumber::parse("0812-3456").is_err());
//! ```

mod channel;
mod contact;
mod customer;
mod enums;
mod money;
mod order;
mod time;

pub use channel::Channel;
pub use contact::{EmailAddress, PhoneNumber};
pub use customer::{CustomerKind, Locale};
pub use enums::ParseEnumError;
pub(crate) use enums::string_enum;
pub use money::{Currency, Money, group_thousands};
pub use order::{ComplaintSeverity, LedgerKind, OrderStatus};
pub use time::{TimeZoneName, parse_timestamp};
