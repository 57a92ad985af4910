//! Access to one CSV record by column name, with the header checked up front.

use csv::StringRecord;
use std::collections::HashMap;

/// The columns of a file, resolved against what a kind of import accepts.
#[derive(Debug, Clone)]
pub(crate) struct Header {
    index: HashMap<&'static str, usize>,
    pub(crate) names: StringRecord,
}

impl Header {
    /// Checks that every required column is present and nothing unknown or repeated is.
    pub(crate) fn check(
        names: &StringRecord,
        required: &'static [&'static str],
        optional: &'static [&'static str],
    ) -> Result<Header, String> {
        let mut index = HashMap::new();
        for (i, raw) in names.iter().enumerate() {
            let name = raw.trim().trim_start_matches('\u{feff}');
            let Some(known) = required.iter().chain(optional).find(|c| **c == name) else {
                return Err(format!(
                    "unknown column {name:?} in the header (accepted: {})",
                    required
                        .iter()
                        .chain(optional)
                        .copied()
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            };
            if index.insert(*known, i).is_some() {
                return Err(format!("column {name:?} appears twice in the header"));
            }
        }
        let missing: Vec<&str> = required
            .iter()
            .filter(|c| !index.contains_key(*c))
            .copied()
            .collect();
        if !missing.is_empty() {
            return Err(format!(
                "missing required column(s) {} in the header",
                missing.join(", ")
            ));
        }
        Ok(Header {
            index,
            names: names.clone(),
        })
    }

    /// A view of one record through this header.
    pub(crate) fn fields<'a>(&'a self, record: &'a StringRecord) -> Fields<'a> {
        Fields {
            header: self,
            record,
        }
    }
}

/// One record, addressed by column name.
#[derive(Debug)]
pub(crate) struct Fields<'a> {
    header: &'a Header,
    record: &'a StringRecord,
}

impl<'a> Fields<'a> {
    /// The trimmed value of a column, `None` when absent or empty.
    pub(crate) fn opt(&self, column: &str) -> Option<&'a str> {
        let i = *self.header.index.get(column)?;
        let v = self.record.get(i)?.trim();
        (!v.is_empty()).then_some(v)
    }

    /// The trimmed value of a required column.
    pub(crate) fn req(&self, column: &str) -> Result<&'a str, String> {
        self.opt(column)
            .ok_or_else(|| format!("{column}: a value is required"))
    }

    /// A required column parsed with `parse`, the error prefixed with the column name.
    pub(crate) fn parse<T>(
        &self,
        column: &str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<T, String> {
        parse(self.req(column)?).map_err(|e| format!("{column}: {e}"))
    }

    /// An optional column parsed with `parse` when present.
    pub(crate) fn parse_opt<T>(
        &self,
        column: &str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<Option<T>, String> {
        self.opt(column)
            .map(|v| parse(v).map_err(|e| format!("{column}: {e}")))
            .transpose()
    }
}

/// Parses `true/false`, `yes/no`, `1/0`, `y/n`.
pub(crate) fn parse_bool(s: &str) -> Result<bool, String> {
    match s.to_ascii_lowercase().as_str() {
        "true" | "yes" | "y" | "1" => Ok(true),
        "false" | "no" | "n" | "0" => Ok(false),
        _ => Err(format!("{s:?} is not true or false")),
    }
}

/// Parses a free-text field with a length limit and no control characters.
pub(crate) fn parse_text(max: usize) -> impl Fn(&str) -> Result<String, String> {
    move |s: &str| {
        if s.chars().count() > max {
            return Err(format!("longer than {max} characters"));
        }
        if s.chars().any(|c| c.is_control() && c != '\t') {
            return Err("contains a control character (line break?)".into());
        }
        Ok(s.to_owned())
    }
}
