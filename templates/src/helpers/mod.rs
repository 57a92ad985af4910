//! The helpers templates may use. Value helpers return JSON, so handlebars escapes their output
//! in HTML parts and leaves it alone in text, subject and SMS parts; only `trusted_html` writes
//! raw HTML. (A layout's `{{layout_body}}` is not a helper: it marks where the body goes.)

mod dates;
mod links;
mod logic;
mod money;
mod text;

use crate::links::Links;
use handlebars::{Context, Handlebars, RenderError, RenderErrorReason};
use serde_json::Value;
use std::sync::Arc;

/// Every helper name, for messages and documentation.
pub(crate) const NAMES: &[&str] = &[
    "money",
    "date",
    "datetime",
    "plural",
    "default",
    "upper",
    "lower",
    "title",
    "first_name",
    "link",
    "unsubscribe_url",
    "offer_code",
    "trusted_html",
    "if",
    "unless",
    "each",
    "with",
];

pub(crate) fn register(hb: &mut Handlebars<'static>, links: &Arc<dyn Links>) {
    hb.register_helper("money", Box::new(money::Money));
    hb.register_helper("date", Box::new(dates::DateHelper { with_time: false }));
    hb.register_helper("datetime", Box::new(dates::DateHelper { with_time: true }));
    hb.register_helper("plural", Box::new(text::Plural));
    hb.register_helper("default", Box::new(text::Default));
    hb.register_helper("upper", Box::new(text::Case::Upper));
    hb.register_helper("lower", Box::new(text::Case::Lower));
    hb.register_helper("title", Box::new(text::Case::Title));
    hb.register_helper("first_name", Box::new(text::FirstName));
    hb.register_helper("link", Box::new(links::Link(links.clone())));
    hb.register_helper(
        "unsubscribe_url",
        Box::new(links::Unsubscribe(links.clone())),
    );
    hb.register_helper("offer_code", Box::new(links::OfferCode));
    hb.register_helper("trusted_html", Box::new(links::TrustedHtml));
    hb.register_helper("if", Box::new(logic::StrictIf { positive: true }));
    hb.register_helper("unless", Box::new(logic::StrictIf { positive: false }));
}

/// A helper's complaint, shown with the template's file and line.
pub(crate) fn fail(message: impl Into<String>) -> RenderError {
    RenderErrorReason::Other(message.into()).into()
}

/// A value of the root context (`locale`, `time_zone`, `message.id`, …).
pub(crate) fn root<'a>(ctx: &'a Context, path: &[&str]) -> Option<&'a Value> {
    let mut v = ctx.data();
    for key in path {
        v = v.get(key)?;
    }
    Some(v)
}

/// The reader's locale, `id` unless the context says `en`.
pub(crate) fn is_english(ctx: &Context) -> bool {
    root(ctx, &["locale"]).and_then(Value::as_str) == Some("en")
}
