use std::fmt;

/// A problem in a template file, located.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TemplateError {
    /// The file, as shown to the marketer (`templates/win-back/html.id.hbs`).
    pub file: String,
    /// 1-based line (1 when unknown).
    pub line: usize,
    /// 1-based column (1 when unknown).
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.column, self.message
        )
    }
}

impl std::error::Error for TemplateError {}

/// Why one message could not be rendered (it fails that message, not the campaign).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderFailure {
    /// No template of that name, or it has no such part.
    #[error("{0}")]
    Missing(String),
    /// The template failed for this context (a missing variable, a helper's complaint).
    #[error("{0}")]
    Render(TemplateError),
}
