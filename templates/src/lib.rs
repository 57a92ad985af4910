//! jalin's message templates: handlebars in strict mode, compiled once and rendered many times.
//!
//! A template is a folder in `config/templates/` with a part per locale (`subject.id.hbs`,
//! `html.en.hbs`, `text.id.hbs`, `sms.en.hbs`, `task.id.hbs`) and optional A/B overrides in
//! `variants/NAME/`. Shared partials live in `_partials/`, the email layout with the company
//! footer and the unsubscribe links in `_layout/`. This crate knows nothing of storage or
//! delivery: it turns a template and a JSON context into text.
//!
//! ```
//! use jalin_templates::{Templates, UntrackedLinks};
//! use std::sync::Arc;
//! let dir = std::env::temp_dir().join("jalin-doc-templates");
//! std::fs::create_dir_all(dir.join("hello")).unwrap();
//! std::fs::write(dir.join("hello/sms.id.hbs"), "Halo {{first_name customer.name}}, total {{money total}}").unwrap();
//! let (templates, errors) = Templates::load(&dir, &(Arc::new(UntrackedLinks) as Arc<dyn jalin_templates::Links>));
//! assert!(errors.is_empty(), "{errors:?}");
//! let ctx = serde_json::json!({
//!     "locale": "id", "time_zone": "Asia/Jakarta", "message": {"id": 1},
//!     "customer": {"name": "Budi Santoso"},
//!     "total": {"minor": 125000000, "currency": "IDR", "amount": "1250000.00"},
//! });
//! let sms = templates.render_sms("hello", "id", None, &ctx).unwrap();
//! assert_eq!(sms, "Halo Budi, total Rp 1.250.000");
//! ```

mod catalog;
mod error;
mod helpers;
mod html_text;
mod links;

pub use catalog::{Part, Rendered, TemplateInfo, Templates};
pub use error::{RenderFailure, TemplateError};
pub use html_text::html_to_text;
pub use links::{Links, UntrackedLinks};

/// A rendered email: one-line subject, HTML and plain-text parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedEmail {
    /// The subject, on one line (line breaks and control characters removed).
    pub subject: String,
    /// The HTML part, with the layout applied.
    pub html: String,
    /// The text part: written, or derived from the HTML.
    pub text: String,
}
