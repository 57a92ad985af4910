//! Marketers' files in `config/`: loading with every error located at file:line:column and
//! named by its field path, so a marketer can fix the file from the message alone.
//!
//! ```
//! use jalin_engine::config::{SourceFile, Node};
//! let src = SourceFile::new("segments/x.toml", "rule = { all = [ { field = \"kind\", eq = 3 } ] }\n");
//! let doc = src.parse().unwrap();
//! let mut errors = Vec::new();
//! let root = Node::root(&src, &doc);
//! let rule = root.get("rule").unwrap();
//! assert_eq!(rule.path(), "rule");
//! assert!(rule.table(&mut errors).is_some());
//! assert!(errors.is_empty());
//! ```

mod error;
mod source;
mod tree;

pub use error::{ConfigError, ConfigErrors, Location};
pub use source::SourceFile;
pub use tree::{Node, TableNode};
pub(crate) use tree::{hint, suggest};
