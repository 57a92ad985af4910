//! `{{link url}}`, `{{unsubscribe_url}}`, `{{offer_code}}` and `{{trusted_html x}}`.

use super::{fail, root};
use crate::links::Links;
use handlebars::{
    Context, Handlebars, Helper, HelperDef, HelperResult, Output, RenderContext, RenderError,
    ScopedJson,
};
use serde_json::Value;
use std::sync::Arc;

fn message_id(ctx: &Context) -> Result<i64, RenderError> {
    root(ctx, &["message", "id"])
        .and_then(Value::as_i64)
        .ok_or_else(|| RenderError::strict_error(Some(&"message.id".to_owned())))
}

/// `{{link "https://…"}}`: the tracked URL (a click is recorded, then the reader is sent on).
pub(crate) struct Link(pub(crate) Arc<dyn Links>);

impl HelperDef for Link {
    fn call_inner<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        _: &'reg Handlebars<'reg>,
        ctx: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
    ) -> Result<ScopedJson<'rc>, RenderError> {
        let p = h
            .param(0)
            .ok_or_else(|| fail("link needs a URL: {{link \"https://…\"}}"))?;
        if p.is_value_missing() {
            return Err(RenderError::strict_error(p.relative_path()));
        }
        let url = p
            .value()
            .as_str()
            .ok_or_else(|| fail("link: the URL must be text"))?;
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return Err(fail(format!("link: {url:?} is not an http(s) URL")));
        }
        Ok(ScopedJson::Derived(Value::String(
            self.0.click(message_id(ctx)?, url),
        )))
    }
}

/// `{{unsubscribe_url}}`: the page where the reader withdraws consent for this channel.
pub(crate) struct Unsubscribe(pub(crate) Arc<dyn Links>);

impl HelperDef for Unsubscribe {
    fn call_inner<'reg: 'rc, 'rc>(
        &self,
        _: &Helper<'rc>,
        _: &'reg Handlebars<'reg>,
        ctx: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
    ) -> Result<ScopedJson<'rc>, RenderError> {
        Ok(ScopedJson::Derived(Value::String(
            self.0.unsubscribe(message_id(ctx)?),
        )))
    }
}

/// `{{offer_code}}`: the recipient's unique offer code; an error if the campaign gives none.
#[derive(Clone, Copy)]
pub(crate) struct OfferCode;

impl HelperDef for OfferCode {
    fn call_inner<'reg: 'rc, 'rc>(
        &self,
        _: &Helper<'rc>,
        _: &'reg Handlebars<'reg>,
        ctx: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
    ) -> Result<ScopedJson<'rc>, RenderError> {
        match root(ctx, &["offer", "code"]).and_then(Value::as_str) {
            Some(code) => Ok(ScopedJson::Derived(Value::String(code.to_owned()))),
            None => Err(fail(
                "offer_code: this campaign gives no offer code (set offer in the campaign)",
            )),
        }
    }
}

/// `{{trusted_html value}}`: inserts HTML without escaping. Only for HTML that comes from the
/// config folder (a footer, a legal notice) — never for anything a customer wrote.
#[derive(Clone, Copy)]
pub(crate) struct TrustedHtml;

impl HelperDef for TrustedHtml {
    fn call<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        _: &'reg Handlebars<'reg>,
        _: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
        out: &mut dyn Output,
    ) -> HelperResult {
        let p = h
            .param(0)
            .ok_or_else(|| fail("trusted_html needs a value"))?;
        if p.is_value_missing() {
            return Err(RenderError::strict_error(p.relative_path()));
        }
        if let Some(s) = p.value().as_str() {
            out.write(s)?;
        }
        Ok(())
    }
}
