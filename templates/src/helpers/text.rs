//! Text helpers: `plural`, `default`, `upper`, `lower`, `title`, `first_name`.

use super::fail;
use handlebars::{Context, Handlebars, Helper, HelperDef, RenderContext, RenderError, ScopedJson};
use serde_json::Value;

fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn required<'a>(h: &'a Helper<'_>, idx: usize, name: &str) -> Result<&'a Value, RenderError> {
    let p = h
        .param(idx)
        .ok_or_else(|| fail(format!("{name} is missing a value")))?;
    if p.is_value_missing() {
        return Err(RenderError::strict_error(p.relative_path()));
    }
    Ok(p.value())
}

/// `{{plural count "item" "items"}}`: the first word when count is 1, else the second.
#[derive(Clone, Copy)]
pub(crate) struct Plural;

impl HelperDef for Plural {
    fn call_inner<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        _: &'reg Handlebars<'reg>,
        _: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
    ) -> Result<ScopedJson<'rc>, RenderError> {
        let n = required(h, 0, "plural")?
            .as_f64()
            .ok_or_else(|| fail("plural: the first value must be a number"))?;
        let one = required(h, 1, "plural")?;
        let many = required(h, 2, "plural")?;
        Ok(ScopedJson::Derived(Value::String(text_of(if n == 1.0 {
            one
        } else {
            many
        }))))
    }
}

/// `{{default value "fallback"}}`: the value, or the fallback when it is missing, null or empty.
#[derive(Clone, Copy)]
pub(crate) struct Default;

impl HelperDef for Default {
    fn call_inner<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        _: &'reg Handlebars<'reg>,
        _: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
    ) -> Result<ScopedJson<'rc>, RenderError> {
        let fallback = required(h, 1, "default")?;
        let value = h
            .param(0)
            .ok_or_else(|| fail("default needs a value and a fallback"))?;
        let empty = value.is_value_missing()
            || matches!(value.value(), Value::Null)
            || value.value().as_str() == Some("");
        Ok(ScopedJson::Derived(if empty {
            fallback.clone()
        } else {
            value.value().clone()
        }))
    }
}

/// `{{upper x}}`, `{{lower x}}`, `{{title x}}`.
#[derive(Clone, Copy)]
pub(crate) enum Case {
    Upper,
    Lower,
    Title,
}

impl HelperDef for Case {
    fn call_inner<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        _: &'reg Handlebars<'reg>,
        _: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
    ) -> Result<ScopedJson<'rc>, RenderError> {
        let s = text_of(required(h, 0, "upper/lower/title")?);
        let out = match self {
            Case::Upper => s.to_uppercase(),
            Case::Lower => s.to_lowercase(),
            Case::Title => s
                .split(' ')
                .map(|w| {
                    let mut c = w.chars();
                    match c.next() {
                        Some(f) => f
                            .to_uppercase()
                            .chain(c.flat_map(char::to_lowercase))
                            .collect(),
                        None => String::new(),
                    }
                })
                .collect::<Vec<String>>()
                .join(" "),
        };
        Ok(ScopedJson::Derived(Value::String(out)))
    }
}

/// Words that start the name of an organisation rather than a person.
const ORGANISATION_PREFIXES: &[&str] = &[
    "pt",
    "cv",
    "ud",
    "toko",
    "hotel",
    "resort",
    "villa",
    "wisma",
    "kantor",
    "apartemen",
    "rumah",
    "universitas",
    "kafe",
    "koperasi",
];

/// The name to greet someone by: a person's first name; an organisation's whole name.
pub(crate) fn first_name(name: &str) -> String {
    let name = name.trim();
    let first = name.split_whitespace().next().unwrap_or("");
    if ORGANISATION_PREFIXES.contains(&first.trim_end_matches('.').to_lowercase().as_str()) {
        name.to_owned()
    } else {
        first.to_owned()
    }
}

/// `{{first_name customer.name}}`.
#[derive(Clone, Copy)]
pub(crate) struct FirstName;

impl HelperDef for FirstName {
    fn call_inner<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        _: &'reg Handlebars<'reg>,
        _: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
    ) -> Result<ScopedJson<'rc>, RenderError> {
        let name = text_of(required(h, 0, "first_name")?);
        Ok(ScopedJson::Derived(Value::String(first_name(&name))))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn first_names() {
        assert_eq!(super::first_name("Budi Santoso"), "Budi");
        assert_eq!(super::first_name("  Siti "), "Siti");
        assert_eq!(super::first_name("PT Maju Jaya"), "PT Maju Jaya");
        assert_eq!(super::first_name("Toko Mebel Indah"), "Toko Mebel Indah");
        assert_eq!(super::first_name(""), "");
    }
}
