use super::ConfigError;
use serde_spanned::Spanned;
use toml::de::DeTable;

/// A config file's text, with the means to turn byte offsets into line and column.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// The name shown in messages.
    pub name: String,
    /// The file's text.
    pub text: String,
    line_starts: Vec<usize>,
}

impl SourceFile {
    /// Wraps text read from `name`.
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Self {
        let text = text.into();
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        SourceFile {
            name: name.into(),
            text,
            line_starts,
        }
    }

    /// Reads a file, naming it `shown` in messages.
    pub fn read(path: &std::path::Path, shown: impl Into<String>) -> Result<Self, ConfigError> {
        let shown = shown.into();
        match std::fs::read_to_string(path) {
            Ok(text) => Ok(SourceFile::new(shown, text)),
            Err(e) => Err(ConfigError {
                file: shown,
                line: 1,
                column: 1,
                path: String::new(),
                message: format!("cannot read the file: {e}"),
            }),
        }
    }

    /// 1-based line and column of a byte offset.
    pub fn position(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = match self.line_starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i - 1,
        };
        let start = self.line_starts[line];
        let column = self.text[start..offset].chars().count() + 1;
        (line + 1, column)
    }

    /// An error at a byte offset.
    pub fn error_at(&self, offset: usize, path: &str, message: impl Into<String>) -> ConfigError {
        let (line, column) = self.position(offset);
        ConfigError {
            file: self.name.clone(),
            line,
            column,
            path: path.to_owned(),
            message: message.into(),
        }
    }

    /// Parses the text as a TOML document with spans, or the syntax error located.
    pub fn parse(&self) -> Result<Spanned<DeTable<'_>>, ConfigError> {
        DeTable::parse(&self.text).map_err(|e| {
            let offset = e.span().map_or(0, |s| s.start);
            self.error_at(
                offset,
                "",
                format!("TOML syntax error: {}", e.message().trim()),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions() {
        let s = SourceFile::new("f", "ab\ncdé\n\nx");
        assert_eq!(s.position(0), (1, 1));
        assert_eq!(s.position(3), (2, 1));
        assert_eq!(s.position(7), (2, 4));
        assert_eq!(s.position(9), (4, 1));
    }

    #[test]
    fn syntax_errors_are_located() {
        let s = SourceFile::new("seg.toml", "description = \"x\"\nrule = { all = [ }\n");
        let e = s.parse().unwrap_err();
        assert_eq!((e.file.as_str(), e.line), ("seg.toml", 2));
        assert!(e.message.contains("TOML"));
    }
}
