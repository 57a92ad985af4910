//! Loading `config/templates/`, compiling every file once, and rendering.

use crate::error::{RenderFailure, TemplateError};
use crate::links::Links;
use crate::{RenderedEmail, helpers, html_to_text};
use handlebars::Handlebars;
use serde::Deserialize;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::Arc;

/// Where a layout puts the message body.
const LAYOUT_BODY: &str = "{{layout_body}}";

const LOCALES: &[&str] = &["id", "en"];

/// A part of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Part {
    /// Email subject (one line).
    Subject,
    /// Email HTML body.
    Html,
    /// Email plain-text body (derived from the HTML when absent).
    Text,
    /// SMS text.
    Sms,
    /// Text of a task sent by webhook to the call center or sales ("call … about …").
    Task,
}

impl Part {
    const ALL: [(&'static str, Part); 5] = [
        ("subject", Part::Subject),
        ("html", Part::Html),
        ("text", Part::Text),
        ("sms", Part::Sms),
        ("task", Part::Task),
    ];

    fn name(self) -> &'static str {
        Part::ALL
            .iter()
            .find(|(_, p)| *p == self)
            .map_or("?", |(n, _)| n)
    }

    fn is_html(self) -> bool {
        self == Part::Html
    }
}

/// `template.toml`: what a template is and how it behaves.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Meta {
    /// What the template is for.
    #[serde(default)]
    description: String,
    /// The locale used when the customer's has no file (`id` by default).
    #[serde(default = "default_locale")]
    fallback_locale: String,
    /// The email layout in `_layout/` to wrap the HTML (and text) in; `"none"` for none.
    #[serde(default = "default_layout")]
    layout: String,
    /// At most this many SMS segments (checked at validate time).
    #[serde(default = "default_sms_segments")]
    sms_max_segments: u32,
}

fn default_locale() -> String {
    "id".into()
}
fn default_layout() -> String {
    "email".into()
}
fn default_sms_segments() -> u32 {
    2
}

impl Default for Meta {
    fn default() -> Self {
        Meta {
            description: String::new(),
            fallback_locale: default_locale(),
            layout: default_layout(),
            sms_max_segments: default_sms_segments(),
        }
    }
}

/// What is known about one template, for validation and planning.
#[derive(Debug, Clone)]
pub struct TemplateInfo {
    /// Its name (the folder's).
    pub name: String,
    /// What it is for.
    pub description: String,
    /// The locale used when the customer's has no file.
    pub fallback_locale: String,
    /// The most SMS segments a rendered SMS may take.
    pub sms_max_segments: u32,
    /// (part, locale, variant) present; variant "" is the base.
    pub files: BTreeSet<(Part, String, String)>,
    /// The A/B variants that override something.
    pub variants: BTreeSet<String>,
    layout: Option<String>,
}

impl TemplateInfo {
    /// Whether the template has a part in some locale.
    pub fn has(&self, part: Part) -> bool {
        self.files.iter().any(|(p, _, _)| *p == part)
    }
}

/// One part rendered by [`Templates::check`], for further checks (SMS length).
#[derive(Debug, Clone)]
pub struct Rendered {
    /// The template.
    pub template: String,
    /// The part.
    pub part: Part,
    /// The locale.
    pub locale: String,
    /// The variant ("" for the base).
    pub variant: String,
    /// The rendered text (for an email: subject, HTML and text, one after the other).
    pub text: String,
}

/// Every template of a config folder, compiled once, shared by all workers.
#[derive(Debug, Clone)]
pub struct Templates {
    html: Arc<Handlebars<'static>>,
    text: Arc<Handlebars<'static>>,
    infos: BTreeMap<String, TemplateInfo>,
    /// Registry name → (file shown in messages, line offset of the piece in the file).
    files: Arc<HashMap<String, (String, usize)>>,
}

fn registry(links: &Arc<dyn Links>, escape: bool) -> Handlebars<'static> {
    let mut hb = Handlebars::new();
    hb.set_strict_mode(true);
    hb.set_prevent_indent(true);
    if !escape {
        hb.register_escape_fn(handlebars::no_escape);
    }
    helpers::register(&mut hb, links);
    hb
}

fn key(name: &str, part: Part, locale: &str, variant: &str) -> String {
    if variant.is_empty() {
        format!("{name}/{}.{locale}", part.name())
    } else {
        format!("{name}/variants/{variant}/{}.{locale}", part.name())
    }
}

/// Finds `{{{` or `{{&` (raw output that skips escaping), which templates may not use.
fn raw_output(text: &str) -> Option<usize> {
    let triple = text.find("{{{");
    let amp = text.find("{{&").or_else(|| text.find("{{~&"));
    match (triple, amp) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn position(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

struct Loader<'a> {
    html: Handlebars<'static>,
    text: Handlebars<'static>,
    /// Registry name → (file shown, lines before this piece in the file).
    files: HashMap<String, (String, usize)>,
    errors: Vec<TemplateError>,
    shown_root: &'a str,
}

impl Loader<'_> {
    fn error(&mut self, file: &str, line: usize, column: usize, message: impl Into<String>) {
        self.errors.push(TemplateError {
            file: file.to_owned(),
            line,
            column,
            message: message.into(),
        });
    }

    /// Compiles one file into the registry for its part (or both, for partials).
    fn compile(
        &mut self,
        path: &Path,
        shown: &str,
        registry_name: &str,
        html: Option<bool>,
    ) -> bool {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => {
                self.error(shown, 1, 1, format!("cannot read: {e}"));
                return false;
            }
        };
        if let Some(offset) = raw_output(&text) {
            let (line, column) = position(&text, offset);
            self.error(shown, line, column, "raw output ({{{ … }}} or {{& … }}) is not allowed: values are always escaped; use {{trusted_html value}} for HTML from the config folder");
            return false;
        }
        let registries: Vec<&mut Handlebars<'static>> = match html {
            Some(true) => vec![&mut self.html],
            Some(false) => vec![&mut self.text],
            None => vec![&mut self.html, &mut self.text],
        };
        let source = text;
        let mut ok = true;
        let mut failure = None;
        for r in registries {
            let result = if html.is_none() {
                r.register_partial(registry_name, source.as_str())
            } else {
                r.register_template_string(registry_name, source.as_str())
            };
            if let Err(e) = result {
                let (line, column) = e.pos().unwrap_or((1, 1));
                failure = Some((
                    line,
                    column,
                    format!("template syntax error: {}", e.reason()),
                ));
                ok = false;
                break;
            }
        }
        if let Some((line, column, message)) = failure {
            self.error(shown, line, column, message);
        }
        self.files
            .insert(registry_name.to_owned(), (shown.to_owned(), 0));
        ok
    }

    /// Registers a layout as two templates, the part before `{{layout_body}}` and the part
    /// after it: a message renders as head + body + tail against one context, in one pass
    /// each, without copying the context.
    fn layout(&mut self, path: &Path, shown: &str, registry_name: &str, html: bool) {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => return self.error(shown, 1, 1, format!("cannot read: {e}")),
        };
        let Some(at) = text.find(LAYOUT_BODY) else {
            return self.error(
                shown,
                1,
                1,
                format!("a layout must contain {LAYOUT_BODY} where the message goes"),
            );
        };
        if text[at + LAYOUT_BODY.len()..].contains(LAYOUT_BODY) {
            let (line, column) = position(&text, at);
            return self.error(
                shown,
                line,
                column,
                format!("{LAYOUT_BODY} may appear only once"),
            );
        }
        if let Some(offset) = raw_output(&text) {
            let (line, column) = position(&text, offset);
            return self.error(
                shown,
                line,
                column,
                "raw output ({{{ … }}} or {{& … }}) is not allowed in layouts either",
            );
        }
        let (tail_line, tail_column) = position(&text, at + LAYOUT_BODY.len());
        let pieces = [
            (format!("{registry_name}/head"), &text[..at], 0),
            (
                format!("{registry_name}/tail"),
                &text[at + LAYOUT_BODY.len()..],
                tail_line - 1,
            ),
        ];
        for (name, source, line_offset) in pieces {
            let registry = if html { &mut self.html } else { &mut self.text };
            if let Err(e) = registry.register_template_string(&name, source) {
                let (line, column) = e.pos().unwrap_or((1, 1));
                let column = if line == 1 && line_offset > 0 {
                    column + tail_column - 1
                } else {
                    column
                };
                self.error(
                    shown,
                    line + line_offset,
                    column,
                    format!(
                        "template syntax error: {} ({LAYOUT_BODY} must not be inside a block)",
                        e.reason()
                    ),
                );
            }
            self.files.insert(name, (shown.to_owned(), line_offset));
        }
    }

    /// Reads the part files of a template (or of one of its variants) in `dir`.
    fn parts(
        &mut self,
        dir: &Path,
        shown_dir: &str,
        name: &str,
        variant: &str,
        info: &mut TemplateInfo,
    ) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        let mut paths: Vec<_> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
        paths.sort();
        for path in paths {
            let file = path
                .file_name()
                .and_then(|f| f.to_str())
                .unwrap_or_default()
                .to_owned();
            let shown = format!("{shown_dir}/{file}");
            if path.is_dir() || file == "template.toml" {
                continue;
            }
            let parsed = file
                .strip_suffix(".hbs")
                .and_then(|stem| stem.split_once('.'))
                .and_then(|(part, locale)| {
                    let part = Part::ALL.iter().find(|(n, _)| *n == part)?.1;
                    LOCALES.contains(&locale).then(|| (part, locale.to_owned()))
                });
            let Some((part, locale)) = parsed else {
                self.error(&shown, 1, 1, format!("unknown template file {file:?}: expected PART.LOCALE.hbs with PART one of subject, html, text, sms, task and LOCALE id or en"));
                continue;
            };
            let registry_name = key(name, part, &locale, variant);
            if self.compile(&path, &shown, &registry_name, Some(part.is_html())) {
                info.files.insert((part, locale, variant.to_owned()));
            }
        }
    }
}

impl Templates {
    /// Loads and compiles every template under `dir` (`config/templates`), with `links` making
    /// tracked and unsubscribe links. Returns what compiled and every problem found.
    pub fn load(dir: &Path, links: &Arc<dyn Links>) -> (Templates, Vec<TemplateError>) {
        let shown_root = dir.display().to_string();
        let mut loader = Loader {
            html: registry(links, true),
            text: registry(links, false),
            files: HashMap::new(),
            errors: Vec::new(),
            shown_root: &shown_root,
        };
        let mut infos = BTreeMap::new();
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .map(|rd| rd.filter_map(Result::ok).map(|e| e.path()).collect())
            .unwrap_or_default();
        entries.sort();
        // Partials first, then layouts, then templates.
        let partials = dir.join("_partials");
        if let Ok(rd) = std::fs::read_dir(&partials) {
            let mut paths: Vec<_> = rd.filter_map(Result::ok).map(|e| e.path()).collect();
            paths.sort();
            for p in paths {
                let Some(stem) = p
                    .file_name()
                    .and_then(|f| f.to_str())
                    .and_then(|f| f.strip_suffix(".hbs"))
                else {
                    continue;
                };
                let shown = format!("{}/_partials/{stem}.hbs", loader.shown_root);
                loader.compile(&p, &shown, stem, None);
            }
        }
        let layouts = dir.join("_layout");
        if let Ok(rd) = std::fs::read_dir(&layouts) {
            let mut paths: Vec<_> = rd.filter_map(Result::ok).map(|e| e.path()).collect();
            paths.sort();
            for p in paths {
                let file = p
                    .file_name()
                    .and_then(|f| f.to_str())
                    .unwrap_or_default()
                    .to_owned();
                let shown = format!("{}/_layout/{file}", loader.shown_root);
                match file
                    .strip_suffix(".html.hbs")
                    .map(|n| (n, true))
                    .or_else(|| file.strip_suffix(".text.hbs").map(|n| (n, false)))
                {
                    Some((name, html)) => {
                        let registry_name =
                            format!("_layout/{name}.{}", if html { "html" } else { "text" });
                        loader.layout(&p, &shown, &registry_name, html);
                    }
                    None => {
                        loader.error(&shown, 1, 1, "layouts are NAME.html.hbs or NAME.text.hbs");
                    }
                }
            }
        }
        for path in entries {
            let Some(name) = path.file_name().and_then(|f| f.to_str()).map(str::to_owned) else {
                continue;
            };
            if !path.is_dir() || name.starts_with('_') {
                continue;
            }
            let shown_dir = format!("{}/{name}", loader.shown_root);
            let meta = match std::fs::read_to_string(path.join("template.toml")) {
                Ok(text) => match toml::from_str::<Meta>(&text) {
                    Ok(m) => m,
                    Err(e) => {
                        let (line, column) = e.span().map_or((1, 1), |s| position(&text, s.start));
                        loader.error(
                            &format!("{shown_dir}/template.toml"),
                            line,
                            column,
                            e.message().trim().to_owned(),
                        );
                        Meta::default()
                    }
                },
                Err(_) => Meta::default(),
            };
            if !LOCALES.contains(&meta.fallback_locale.as_str()) {
                loader.error(
                    &format!("{shown_dir}/template.toml"),
                    1,
                    1,
                    format!("fallback_locale {:?} is not id or en", meta.fallback_locale),
                );
            }
            let layout = (meta.layout != "none").then(|| meta.layout.clone());
            let mut info = TemplateInfo {
                name: name.clone(),
                description: meta.description.clone(),
                fallback_locale: meta.fallback_locale.clone(),
                sms_max_segments: meta.sms_max_segments,
                files: BTreeSet::new(),
                variants: BTreeSet::new(),
                layout,
            };
            loader.parts(&path, &shown_dir, &name, "", &mut info);
            if let Ok(rd) = std::fs::read_dir(path.join("variants")) {
                let mut variants: Vec<_> = rd
                    .filter_map(Result::ok)
                    .map(|e| e.path())
                    .filter(|p| p.is_dir())
                    .collect();
                variants.sort();
                for v in variants {
                    let Some(variant) = v.file_name().and_then(|f| f.to_str()).map(str::to_owned)
                    else {
                        continue;
                    };
                    loader.parts(
                        &v,
                        &format!("{shown_dir}/variants/{variant}"),
                        &name,
                        &variant,
                        &mut info,
                    );
                    info.variants.insert(variant);
                }
            }
            if let Some(l) = &info.layout
                && info.has(Part::Html)
                && !loader.files.contains_key(&format!("_layout/{l}.html/head"))
            {
                loader.error(
                    &format!("{shown_dir}/template.toml"),
                    1,
                    1,
                    format!("layout {l:?} not found in _layout/ (or set layout = \"none\")"),
                );
            }
            if info.files.is_empty() {
                loader.error(
                    &shown_dir,
                    1,
                    1,
                    "the template has no parts (subject.id.hbs, html.id.hbs, sms.id.hbs, …)",
                );
            }
            for (part, _, _) in info.files.iter().filter(|(_, _, v)| v.is_empty()) {
                if *part == Part::Subject && !info.has(Part::Html) {
                    loader.error(
                        &shown_dir,
                        1,
                        1,
                        "an email needs html.LOCALE.hbs as well as a subject",
                    );
                }
                if *part == Part::Html && !info.has(Part::Subject) {
                    loader.error(
                        &shown_dir,
                        1,
                        1,
                        "an email needs subject.LOCALE.hbs as well as html",
                    );
                }
            }
            infos.insert(name, info);
        }
        let templates = Templates {
            html: Arc::new(loader.html),
            text: Arc::new(loader.text),
            infos,
            files: Arc::new(loader.files),
        };
        (templates, loader.errors)
    }

    /// The templates that loaded.
    pub fn infos(&self) -> impl Iterator<Item = &TemplateInfo> {
        self.infos.values()
    }

    /// One template's description.
    pub fn info(&self, name: &str) -> Option<&TemplateInfo> {
        self.infos.get(name)
    }

    /// The registry name to render for a part: the variant's file in the customer's locale,
    /// else the base file in that locale, else the variant's, then the base file in the
    /// template's fallback locale.
    fn resolve(
        &self,
        name: &str,
        part: Part,
        locale: &str,
        variant: Option<&str>,
    ) -> Result<(String, &TemplateInfo), RenderFailure> {
        let info = self
            .infos
            .get(name)
            .ok_or_else(|| RenderFailure::Missing(format!("no template {name:?}")))?;
        let variant = variant.unwrap_or("");
        let has =
            |loc: &str, var: &str| info.files.contains(&(part, loc.to_owned(), var.to_owned()));
        for loc in [locale, info.fallback_locale.as_str()] {
            if !variant.is_empty() && has(loc, variant) {
                return Ok((key(name, part, loc, variant), info));
            }
            if has(loc, "") {
                return Ok((key(name, part, loc, ""), info));
            }
        }
        Err(RenderFailure::Missing(format!(
            "template {name:?} has no {} part",
            part.name()
        )))
    }

    fn failure(&self, e: &handlebars::RenderError, registry_name: &str) -> RenderFailure {
        let name = e
            .template_name
            .clone()
            .unwrap_or_else(|| registry_name.to_owned());
        let (file, offset) = self.files.get(&name).cloned().unwrap_or((name, 0));
        let message = match e.reason() {
            handlebars::RenderErrorReason::MissingVariable(Some(path)) => {
                format!("no variable `{path}` in the message context")
            }
            handlebars::RenderErrorReason::MissingVariable(None) => {
                "a variable is missing from the message context".to_owned()
            }
            handlebars::RenderErrorReason::HelperNotFound(h) => format!(
                "unknown helper `{h}` (helpers: {})",
                helpers::NAMES.join(", ")
            ),
            handlebars::RenderErrorReason::PartialNotFound(p) => {
                format!("unknown partial `{p}` (partials live in templates/_partials/NAME.hbs)")
            }
            other => other.to_string(),
        };
        RenderFailure::Render(TemplateError {
            file,
            line: e.line_no.unwrap_or(1) + offset,
            column: e.column_no.unwrap_or(1),
            message,
        })
    }

    fn render_part(
        &self,
        registry_name: &str,
        part: Part,
        ctx: &Value,
    ) -> Result<String, RenderFailure> {
        let hb = if part.is_html() {
            &self.html
        } else {
            &self.text
        };
        hb.render(registry_name, ctx)
            .map_err(|e| self.failure(&e, registry_name))
    }

    /// The file a part comes from, as shown in messages.
    pub fn file(&self, name: &str, part: Part, locale: &str, variant: &str) -> Option<String> {
        self.files
            .get(&key(name, part, locale, variant))
            .map(|(f, _)| f.clone())
    }

    /// Whether a part exists (in any locale) for `name`.
    pub fn has_part(&self, name: &str, part: Part) -> bool {
        self.infos.get(name).is_some_and(|i| i.has(part))
    }

    /// Renders the email of template `name` for a customer context.
    pub fn render_email(
        &self,
        name: &str,
        locale: &str,
        variant: Option<&str>,
        ctx: &Value,
    ) -> Result<RenderedEmail, RenderFailure> {
        let (subject_name, _) = self.resolve(name, Part::Subject, locale, variant)?;
        let subject = one_line(&self.render_part(&subject_name, Part::Subject, ctx)?);
        let (html_name, info) = self.resolve(name, Part::Html, locale, variant)?;
        let body = self.render_part(&html_name, Part::Html, ctx)?;
        let html = self.wrap(info, "html", body, ctx)?;
        let text = match self.resolve(name, Part::Text, locale, variant) {
            Ok((text_name, _)) => {
                let body = self.render_part(&text_name, Part::Text, ctx)?;
                self.wrap(info, "text", body, ctx)?
            }
            Err(_) => html_to_text(&html),
        };
        Ok(RenderedEmail {
            subject,
            html,
            text,
        })
    }

    /// Puts a rendered body inside the template's layout (head + body + tail), if it has one.
    fn wrap(
        &self,
        info: &TemplateInfo,
        kind: &str,
        body: String,
        ctx: &Value,
    ) -> Result<String, RenderFailure> {
        let Some(layout) = &info.layout else {
            return Ok(body);
        };
        let head = format!("_layout/{layout}.{kind}/head");
        if !self.files.contains_key(&head) {
            return Ok(body);
        }
        let tail = format!("_layout/{layout}.{kind}/tail");
        let part = if kind == "html" {
            Part::Html
        } else {
            Part::Text
        };
        let head = self.render_part(&head, part, ctx)?;
        let tail = self.render_part(&tail, part, ctx)?;
        let mut out = String::with_capacity(head.len() + body.len() + tail.len());
        out.push_str(&head);
        out.push_str(&body);
        out.push_str(&tail);
        Ok(out)
    }

    /// Renders the SMS text of template `name`.
    pub fn render_sms(
        &self,
        name: &str,
        locale: &str,
        variant: Option<&str>,
        ctx: &Value,
    ) -> Result<String, RenderFailure> {
        let (n, _) = self.resolve(name, Part::Sms, locale, variant)?;
        Ok(self.render_part(&n, Part::Sms, ctx)?.trim().to_owned())
    }

    /// Renders the task text (for a webhook to the call center or sales) of template `name`.
    pub fn render_task(
        &self,
        name: &str,
        locale: &str,
        variant: Option<&str>,
        ctx: &Value,
    ) -> Result<String, RenderFailure> {
        let (n, _) = self.resolve(name, Part::Task, locale, variant)?;
        Ok(self.render_part(&n, Part::Task, ctx)?.trim().to_owned())
    }

    /// Renders every part of every template in every locale and variant against `sample` and
    /// returns each failure at its file and line, plus what rendered (for further checks such
    /// as SMS length).
    pub fn check(&self, sample: &Value) -> (Vec<TemplateError>, Vec<Rendered>) {
        let mut errors = Vec::new();
        let mut rendered = Vec::new();
        for info in self.infos.values() {
            let mut seen = BTreeSet::new();
            for (part, locale, variant) in &info.files {
                let mut ctx = sample.clone();
                if let Value::Object(m) = &mut ctx {
                    m.insert("locale".into(), Value::String(locale.clone()));
                }
                let var = (!variant.is_empty()).then_some(variant.as_str());
                let result = match part {
                    Part::Subject | Part::Html | Part::Text => {
                        if !seen.insert((locale.clone(), variant.clone())) {
                            continue;
                        }
                        self.render_email(&info.name, locale, var, &ctx)
                            .map(|e| format!("{}\n{}\n{}", e.subject, e.html, e.text))
                    }
                    Part::Sms => self.render_sms(&info.name, locale, var, &ctx),
                    Part::Task => self.render_task(&info.name, locale, var, &ctx),
                };
                match result {
                    Ok(text) => rendered.push(Rendered {
                        template: info.name.clone(),
                        part: *part,
                        locale: locale.clone(),
                        variant: variant.clone(),
                        text,
                    }),
                    Err(RenderFailure::Render(e)) => errors.push(e),
                    Err(RenderFailure::Missing(m)) => errors.push(TemplateError {
                        file: info.name.clone(),
                        line: 1,
                        column: 1,
                        message: m,
                    }),
                }
            }
        }
        errors.sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
        errors.dedup();
        (errors, rendered)
    }
}

/// A subject on one line: control characters (CR, LF, tabs) become spaces, runs of spaces one.
fn one_line(s: &str) -> String {
    s.split(|c: char| c.is_control() || c.is_whitespace())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}
