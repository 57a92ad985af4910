//! Walking a spanned TOML tree with field paths, collecting errors instead of stopping.

use super::{ConfigError, SourceFile};
use serde_spanned::Spanned;
use toml::de::{DeTable, DeValue};

/// A value in a config file, with where it is and how it was reached (`rule.all[1].orders`).
#[derive(Debug, Clone)]
pub struct Node<'a> {
    src: &'a SourceFile,
    value: &'a DeValue<'a>,
    start: usize,
    path: String,
}

/// A table in a config file.
#[derive(Debug, Clone)]
pub struct TableNode<'a> {
    src: &'a SourceFile,
    table: &'a DeTable<'a>,
    start: usize,
    path: String,
}

fn kind_name(v: &DeValue<'_>) -> &'static str {
    match v {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "a whole number",
        DeValue::Float(_) => "a decimal number",
        DeValue::Boolean(_) => "true/false",
        DeValue::Datetime(_) => "a date",
        DeValue::Array(_) => "a list",
        DeValue::Table(_) => "a table",
    }
}

/// The closest of `candidates` to `word`, when it is close enough to be a likely typo.
pub(crate) fn suggest<'c>(word: &str, candidates: &[&'c str]) -> Option<&'c str> {
    fn distance(a: &str, b: &str) -> usize {
        let b: Vec<char> = b.chars().collect();
        let mut prev: Vec<usize> = (0..=b.len()).collect();
        for (i, ca) in a.chars().enumerate() {
            let mut cur = vec![i + 1];
            for (j, cb) in b.iter().enumerate() {
                let cost = usize::from(ca != *cb);
                cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
            }
            prev = cur;
        }
        prev[b.len()]
    }
    candidates
        .iter()
        .map(|c| (distance(word, c), *c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// "did you mean `x`?" or the list of what is accepted.
pub(crate) fn hint(word: &str, allowed: &[&str]) -> String {
    match suggest(word, allowed) {
        Some(s) => format!("did you mean `{s}`?"),
        None => format!("expected one of: {}", allowed.join(", ")),
    }
}

impl<'a> Node<'a> {
    /// The document's root table.
    pub fn root(src: &'a SourceFile, doc: &'a Spanned<DeTable<'a>>) -> TableNode<'a> {
        TableNode {
            src,
            table: doc.get_ref(),
            start: 0,
            path: String::new(),
        }
    }

    fn child(src: &'a SourceFile, value: &'a Spanned<DeValue<'a>>, path: String) -> Self {
        Node {
            src,
            value: value.get_ref(),
            start: value.span().start,
            path,
        }
    }

    /// The field path of this value.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The file this value is in.
    pub fn source(&self) -> &'a SourceFile {
        self.src
    }

    /// An error located at this value.
    pub fn error(&self, message: impl Into<String>) -> ConfigError {
        self.src.error_at(self.start, &self.path, message)
    }

    /// Where this value is, for checks made later.
    pub fn location(&self) -> super::Location {
        let e = self.error("");
        super::Location {
            file: e.file,
            line: e.line,
            column: e.column,
            path: e.path,
        }
    }

    /// "expected X, found Y" at this value.
    pub fn wrong_type(&self, expected: &str) -> ConfigError {
        self.error(format!(
            "expected {expected}, found {}",
            kind_name(self.value)
        ))
    }

    /// This value as a table.
    pub fn table(&self, errors: &mut Vec<ConfigError>) -> Option<TableNode<'a>> {
        match self.value {
            DeValue::Table(t) => Some(TableNode {
                src: self.src,
                table: t,
                start: self.start,
                path: self.path.clone(),
            }),
            _ => {
                errors.push(self.wrong_type("a table such as { key = value }"));
                None
            }
        }
    }

    /// Whether this value is a table.
    pub fn is_table(&self) -> bool {
        matches!(self.value, DeValue::Table(_))
    }

    /// Whether this value is a list.
    pub fn is_array(&self) -> bool {
        matches!(self.value, DeValue::Array(_))
    }

    /// This value as a string.
    pub fn str(&self, errors: &mut Vec<ConfigError>) -> Option<&'a str> {
        match self.value {
            DeValue::String(s) => Some(s.as_ref()),
            _ => {
                errors.push(self.wrong_type("a string in quotes"));
                None
            }
        }
    }

    /// This value as a string if it is one.
    pub fn as_str(&self) -> Option<&'a str> {
        match self.value {
            DeValue::String(s) => Some(s.as_ref()),
            _ => None,
        }
    }

    /// This value as an integer.
    pub fn int(&self, errors: &mut Vec<ConfigError>) -> Option<i64> {
        match self.value {
            DeValue::Integer(i) => {
                let digits = i.as_str().replace('_', "");
                let digits = digits.trim_start_matches('+');
                let parsed = match digits.get(..2) {
                    Some("0x" | "0o" | "0b") => i64::from_str_radix(&digits[2..], i.radix()),
                    _ => digits.parse::<i64>(),
                };
                match parsed {
                    Ok(v) => Some(v),
                    Err(_) => {
                        errors.push(self.error("whole number out of range"));
                        None
                    }
                }
            }
            _ => {
                errors.push(self.wrong_type("a whole number"));
                None
            }
        }
    }

    /// This value as a number (whole or decimal).
    pub fn number(&self, errors: &mut Vec<ConfigError>) -> Option<f64> {
        match self.value {
            DeValue::Integer(_) => self.int(errors).map(|v| v as f64),
            DeValue::Float(f) => match f.as_str().replace('_', "").parse::<f64>() {
                Ok(v) if v.is_finite() => Some(v),
                _ => {
                    errors.push(self.error("expected a finite number"));
                    None
                }
            },
            _ => {
                errors.push(self.wrong_type("a number"));
                None
            }
        }
    }

    /// Whether this value is a number.
    pub fn is_number(&self) -> bool {
        matches!(self.value, DeValue::Integer(_) | DeValue::Float(_))
    }

    /// This value as a boolean.
    pub fn bool(&self, errors: &mut Vec<ConfigError>) -> Option<bool> {
        match self.value {
            DeValue::Boolean(b) => Some(*b),
            _ => {
                errors.push(self.wrong_type("true or false"));
                None
            }
        }
    }

    /// This value as a boolean if it is one.
    pub fn as_bool(&self) -> Option<bool> {
        match self.value {
            DeValue::Boolean(b) => Some(*b),
            _ => None,
        }
    }

    /// A TOML date or date-time written without quotes, as its text.
    pub fn as_datetime(&self) -> Option<String> {
        match self.value {
            DeValue::Datetime(d) => Some(d.to_string()),
            _ => None,
        }
    }

    /// The items of a list, each with its path (`rule.all[2]`).
    pub fn array(&self, errors: &mut Vec<ConfigError>) -> Option<Vec<Node<'a>>> {
        match self.value {
            DeValue::Array(items) => Some(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| Node::child(self.src, v, format!("{}[{i}]", self.path)))
                    .collect(),
            ),
            _ => {
                errors.push(self.wrong_type("a list such as [ … ]"));
                None
            }
        }
    }

    /// A single value or a list of them, as a list.
    pub fn one_or_many(&self, errors: &mut Vec<ConfigError>) -> Vec<Node<'a>> {
        if self.is_array() {
            self.array(errors).unwrap_or_default()
        } else {
            vec![self.clone()]
        }
    }

    /// One string or a list of strings.
    pub fn strings(&self, errors: &mut Vec<ConfigError>) -> Vec<String> {
        self.one_or_many(errors)
            .iter()
            .filter_map(|n| n.str(errors).map(str::to_owned))
            .collect()
    }
}

impl<'a> TableNode<'a> {
    /// The field path of this table.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// An error located at the start of this table.
    pub fn error(&self, message: impl Into<String>) -> ConfigError {
        self.src.error_at(self.start, &self.path, message)
    }

    /// The keys present.
    pub fn keys(&self) -> Vec<&'a str> {
        self.table.keys().map(|k| k.get_ref().as_ref()).collect()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    /// A child value with its path (`rule.all`), or `None` when absent.
    pub fn get(&self, key: &str) -> Option<Node<'a>> {
        self.table.get(key).map(|v| {
            let path = if self.path.is_empty() {
                key.to_owned()
            } else {
                format!("{}.{key}", self.path)
            };
            Node::child(self.src, v, path)
        })
    }

    /// A required child value; an error naming it when absent.
    pub fn require(
        &self,
        key: &str,
        what: &str,
        errors: &mut Vec<ConfigError>,
    ) -> Option<Node<'a>> {
        let found = self.get(key);
        if found.is_none() {
            errors.push(self.error(format!("missing `{key}` ({what})")));
        }
        found
    }

    /// Reports every key not in `allowed`, suggesting the closest allowed one.
    pub fn check_keys(&self, allowed: &[&str], errors: &mut Vec<ConfigError>) {
        for (k, _) in self.table.iter() {
            let key: &str = k.get_ref().as_ref();
            if !allowed.contains(&key) {
                errors.push(self.src.error_at(
                    k.span().start,
                    &self.path,
                    format!("unknown key `{key}` ({})", hint(key, allowed)),
                ));
            }
        }
    }
}
