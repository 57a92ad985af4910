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

/// Whether a segment, campaign or template name is acceptable: lower-case words joined by `-`
/// or `_`.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// Reads every `DIR/*.toml` in name order, naming files `shown/FILE` in messages. Returns each
/// file with its name (the file stem) and the problems met: an unreadable file, or a name that
/// is not lower-case words (`what` says what the file holds, for the message). A missing folder
/// is no files.
pub fn read_toml_dir(
    dir: &std::path::Path,
    shown: &str,
    what: &str,
) -> (Vec<(String, SourceFile)>, Vec<ConfigError>) {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    let mut entries: Vec<_> = match std::fs::read_dir(dir) {
        Ok(rd) => rd.filter_map(Result::ok).map(|e| e.path()).collect(),
        Err(_) => return (files, errors),
    };
    entries.sort();
    for path in entries {
        if path.extension().and_then(|e| e.to_str()) != Some("toml") {
            continue;
        }
        let file_name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let shown_file = format!("{shown}/{file_name}");
        let name = path
            .file_stem()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        if !valid_name(&name) {
            errors.push(ConfigError {
                file: shown_file,
                line: 1,
                column: 1,
                path: String::new(),
                message: format!("{what} file names must be lower-case letters, digits, - or _ (the name is how others refer to it)"),
            });
            continue;
        }
        match SourceFile::read(&path, shown_file) {
            Ok(src) => files.push((name, src)),
            Err(e) => errors.push(e),
        }
    }
    (files, errors)
}
