//! `jalin validate`, `jalin plan` and `jalin segment preview`.

use super::Global;
use super::output::{count, open_store, outln, print_json, table};
use clap::Subcommand;
use jalin_engine::config::ConfigError;
use jalin_engine::segments::{count_members, preview};
use jalin_workers::project::Project;
use serde::Serialize;
use std::process::ExitCode;

/// Loads the config folder; prints the problems and fails when there are any.
pub(crate) fn load_valid(g: &Global) -> anyhow::Result<Project> {
    let (project, errors) = Project::load(&g.config);
    if errors.is_empty() {
        return Ok(project);
    }
    for e in &errors {
        eprintln!("{e}");
    }
    anyhow::bail!(
        "{} has {} problem{}; fix them (jalin validate lists them) and run again",
        g.config.display(),
        errors.len(),
        if errors.len() == 1 { "" } else { "s" }
    )
}

#[derive(Debug, Serialize)]
struct ValidateReport<'a> {
    valid: bool,
    config: String,
    segments: usize,
    templates: usize,
    campaigns: usize,
    errors: &'a [ConfigError],
}

/// `jalin validate`: every file in the config folder, every error with file:line:column.
pub(crate) fn validate(g: &Global) -> ExitCode {
    let (project, errors) = Project::load(&g.config);
    if g.json {
        print_json(&ValidateReport {
            valid: errors.is_empty(),
            config: g.config.display().to_string(),
            segments: project.segments.len(),
            templates: project.templates.infos().count(),
            campaigns: project.campaigns.len(),
            errors: &errors,
        });
    } else if errors.is_empty() {
        outln!(
            "{} is valid: {} segments, {} templates, {} campaigns",
            g.config.display(),
            project.segments.len(),
            project.templates.infos().count(),
            project.campaigns.len()
        );
    } else {
        for e in &errors {
            outln!("{e}");
        }
        outln!(
            "{} problem{} found",
            errors.len(),
            if errors.len() == 1 { "" } else { "s" }
        );
    }
    if errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

#[derive(Debug, Serialize)]
struct SegmentPlan {
    name: String,
    description: String,
    members: i64,
}

/// `jalin plan`: the audience of every segment now.
pub(crate) async fn plan(g: &Global) -> anyhow::Result<ExitCode> {
    let project = load_valid(g)?;
    let store = open_store(g).await?;
    let now = chrono::Utc::now().timestamp();
    let mut plans = Vec::new();
    for s in project.segments.iter() {
        let members = count_members(&store, &project.segments, &s.rule, now).await?;
        plans.push(SegmentPlan {
            name: s.name.clone(),
            description: s.description.clone(),
            members,
        });
    }
    let campaigns = campaign_plans(&project, &store, now).await?;
    store.close().await;
    if g.json {
        print_json(&serde_json::json!({ "segments": plans, "campaigns": campaigns }));
    } else {
        let mut t = table(&["segment", "members", "description"]);
        for p in &plans {
            t.add_row(vec![
                p.name.clone(),
                count(p.members.max(0) as u64),
                p.description.clone(),
            ]);
        }
        outln!("Segments\n{t}");
        let mut t = table(&["campaign", "sends", "held", "skipped", "next run (UTC)"]);
        for c in &campaigns {
            t.add_row(vec![
                c.name.clone(),
                c.stats.as_ref().map_or("-".into(), |s| count(s.queued)),
                c.stats.as_ref().map_or("-".into(), |s| count(s.held_out)),
                c.stats.as_ref().map_or("-".into(), |s| {
                    count(s.unreachable + s.erased + s.paused_complaint + s.capped)
                }),
                c.next.clone(),
            ]);
        }
        outln!(
            "Campaigns: who a run now reaches after consent, suppression, complaints and caps\n{t}"
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Serialize)]
struct CampaignPlan {
    name: String,
    stats: Option<jalin_engine::campaigns::PlanStats>,
    next: String,
    next_runs: Vec<String>,
}

/// Every campaign's audience now (a dry run: nothing written) and when it runs next.
async fn campaign_plans(
    project: &Project,
    store: &jalin_engine::store::Store,
    now: i64,
) -> anyhow::Result<Vec<CampaignPlan>> {
    use jalin_engine::campaigns::{Audience, PlanOptions, Schedule, plan_run};
    let at = chrono::DateTime::from_timestamp(now, 0).unwrap_or_default();
    let options = PlanOptions {
        dry_run: true,
        frequency_cap: Some((
            project.settings.marketing.cap_messages,
            project.settings.marketing.cap_days,
        )),
        ..PlanOptions::default()
    };
    let mut out = Vec::new();
    for c in project.campaigns.iter() {
        let stats = if c.segment.is_some() {
            let nothing = async |_: Vec<i64>| -> jalin_engine::Result<()> { Ok(()) };
            Some(
                plan_run(
                    store,
                    &project.segments,
                    c,
                    0,
                    Audience::Segment,
                    at,
                    at,
                    &options,
                    nothing,
                    &|_| {},
                )
                .await?,
            )
        } else {
            None
        };
        let next_runs: Vec<String> = c
            .schedule
            .next_runs(at, 3)
            .iter()
            .map(|t| t.to_rfc3339())
            .collect();
        let next = match &c.schedule {
            Schedule::Trigger { event, .. } => event.clone(),
            Schedule::Manual => "jalin send".into(),
            _ => next_runs
                .first()
                .map_or("never again".into(), |t| super::output::short_time(t)),
        };
        out.push(CampaignPlan {
            name: c.name.clone(),
            stats,
            next,
            next_runs,
        });
    }
    Ok(out)
}

#[derive(Debug, Subcommand)]
pub(crate) enum SegmentCommand {
    /// Show sample members of a segment with the values its rule looked at.
    Preview {
        /// The segment's name (its file name in config/segments without .toml).
        name: String,
        /// How many members to show.
        #[arg(long, default_value_t = 20)]
        limit: u64,
    },
}

pub(crate) async fn run(g: &Global, cmd: SegmentCommand) -> anyhow::Result<ExitCode> {
    let SegmentCommand::Preview { name, limit } = cmd;
    let project = load_valid(g)?;
    let Some(segment) = project.segments.get(&name) else {
        anyhow::bail!(
            "no segment {name:?} in {}/segments (there are: {})",
            g.config.display(),
            project.segments.names().join(", ")
        );
    };
    let store = open_store(g).await?;
    let now = chrono::Utc::now().timestamp();
    let total = count_members(&store, &project.segments, &segment.rule, now).await?;
    let (labels, rows) = preview(&store, &project.segments, &segment.rule, now, limit).await?;
    store.close().await;
    if g.json {
        print_json(
            &serde_json::json!({ "segment": name, "members": total, "columns": labels, "rows": rows }),
        );
    } else {
        outln!(
            "{name}: {} members — {}",
            count(total.max(0) as u64),
            segment.description
        );
        let mut header = vec!["customer", "name"];
        header.extend(labels.iter().map(String::as_str));
        let mut t = table(&header);
        for r in &rows {
            let mut cells = vec![r.external_ref.clone(), r.name.clone()];
            cells.extend(
                r.values
                    .iter()
                    .map(|v| v.clone().unwrap_or_else(|| "—".into())),
            );
            t.add_row(cells);
        }
        outln!("{t}");
    }
    Ok(ExitCode::SUCCESS)
}
