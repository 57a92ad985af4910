//! A config folder as a whole: every segment (and, as they are added, campaigns and templates),
//! loaded and cross-checked, with every problem located.
//!
//! ```no_run
//! let (project, errors) = jalin_workers::project::Project::load("config".as_ref());
//! for e in &errors { eprintln!("{e}"); }
//! println!("{} segments", project.segments.len());
//! ```

use crate::context::{Company, sample};
use crate::links::TrackingLinks;
use crate::settings::Settings;
use jalin_channels::sms::encoding::analyze;
use jalin_engine::campaigns::{CampaignSet, load_campaigns};
use jalin_engine::config::ConfigError;
use jalin_engine::model::Channel;
use jalin_engine::segments::{SegmentSet, load_segments};
use jalin_templates::{Links, Part, TemplateError, Templates};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Everything in a config folder that loaded cleanly.
#[derive(Debug)]
pub struct Project {
    /// The folder.
    pub dir: PathBuf,
    /// `segments/*.toml`.
    pub segments: SegmentSet,
    /// `templates/`, compiled.
    pub templates: Templates,
    /// `campaigns/*.toml`.
    pub campaigns: CampaignSet,
    /// The company, for every message's footer.
    pub company: Company,
    /// `jalin.toml`.
    pub settings: Settings,
}

fn template_error(e: TemplateError) -> ConfigError {
    ConfigError {
        file: e.file,
        line: e.line,
        column: e.column,
        path: String::new(),
        message: e.message,
    }
}

impl Project {
    /// Loads `dir` for checking, with links as long as the tracking server's.
    pub fn load(dir: &Path) -> (Project, Vec<ConfigError>) {
        let links = TrackingLinks::for_validation("https://t.kayujaya.example");
        Project::load_with(dir, &(Arc::new(links) as Arc<dyn Links>))
    }

    /// Loads `dir`, returning what is valid and every error (an empty list means all is
    /// valid). `links` makes the tracked and unsubscribe links templates insert.
    pub fn load_with(dir: &Path, links: &Arc<dyn Links>) -> (Project, Vec<ConfigError>) {
        let shown = dir.display().to_string();
        let mut errors = Vec::new();
        if !dir.is_dir() {
            errors.push(ConfigError {
                file: shown,
                line: 1,
                column: 1,
                path: String::new(),
                message: "the config folder does not exist (use --config DIR)".into(),
            });
            let (templates, _) = Templates::load(dir, links);
            let project = Project {
                dir: dir.to_owned(),
                segments: SegmentSet::default(),
                templates,
                campaigns: CampaignSet::default(),
                company: Company::default(),
                settings: Settings::default(),
            };
            return (project, errors);
        }
        let settings = Settings::load(dir).unwrap_or_else(|e| {
            errors.push(e);
            Settings::default()
        });
        let (segments, mut segment_errors) =
            load_segments(&dir.join("segments"), &format!("{shown}/segments"));
        errors.append(&mut segment_errors);
        let (campaigns, mut campaign_errors) = load_campaigns(
            &dir.join("campaigns"),
            &format!("{shown}/campaigns"),
            &settings.campaign_defaults(),
        );
        errors.append(&mut campaign_errors);
        errors.extend(campaigns.check_segments(&segments));
        let company = settings.company.clone();
        let (templates, template_errors) = Templates::load(&dir.join("templates"), links);
        errors.extend(template_errors.into_iter().map(template_error));
        let (render_errors, rendered) = templates.check(&sample(&company));
        errors.extend(render_errors.into_iter().map(template_error));
        // An SMS over its template's limit is an error now, not a surprise on the bill.
        for r in rendered.iter().filter(|r| r.part == Part::Sms) {
            let max = templates
                .info(&r.template)
                .map_or(2, |i| i.sms_max_segments) as usize;
            let info = analyze(&r.text);
            if info.segments > max {
                errors.push(ConfigError {
                    file: templates.file(&r.template, Part::Sms, &r.locale, &r.variant).unwrap_or_else(|| r.template.clone()),
                    line: 1,
                    column: 1,
                    path: String::new(),
                    message: format!(
                        "the SMS takes {} segments ({} characters, {:?}) with the sample customer; sms_max_segments is {max} (shorten it, or raise the limit in template.toml)",
                        info.segments, info.characters, info.encoding
                    ),
                });
            }
        }
        errors.extend(check_campaign_templates(&campaigns, &templates));
        errors.sort_by(|a, b| (&a.file, a.line, a.column).cmp(&(&b.file, b.line, b.column)));
        (
            Project {
                dir: dir.to_owned(),
                segments,
                templates,
                campaigns,
                company,
                settings,
            },
            errors,
        )
    }
}

/// Every campaign's template exists, has a part for each of the campaign's channels (email:
/// subject and HTML; SMS; webhook: task), and knows the campaign's A/B variants.
fn check_campaign_templates(campaigns: &CampaignSet, templates: &Templates) -> Vec<ConfigError> {
    let mut errors = Vec::new();
    for c in campaigns.iter() {
        let Some(at) = c.refs.get("template") else {
            continue;
        };
        let Some(info) = templates.info(&c.template) else {
            let known: Vec<&str> = templates.infos().map(|i| i.name.as_str()).collect();
            errors.push(at.error(format!(
                "unknown template {:?} (known: {})",
                c.template,
                known.join(", ")
            )));
            continue;
        };
        for ch in &c.channels {
            let needed: &[Part] = match ch {
                Channel::Email => &[Part::Subject, Part::Html],
                Channel::Sms => &[Part::Sms],
                Channel::Webhook => &[Part::Task],
            };
            for part in needed {
                if !info.has(*part) {
                    errors.push(at.error(format!(
                        "template {:?} has no {part:?} part, which the {ch} channel needs",
                        c.template
                    )));
                }
            }
        }
        for v in &c.variants {
            if v.name != "a" && !info.variants.contains(&v.name) {
                errors.push(at.error(format!(
                    "variant {:?} has no folder in templates/{}/variants/ (variant \"a\" is the base template)",
                    v.name, c.template
                )));
            }
        }
    }
    errors
}
