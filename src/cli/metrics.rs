//! `jalin metrics recompute`: every customer's scores now (the scheduler also does it nightly).

use super::Global;
use super::output::{count, open_store, outln, print_json, progress};
use clap::Subcommand;
use jalin_engine::analytics::bgnbd::Fit;
use jalin_engine::analytics::recompute;
use jalin_workers::settings::Settings;
use std::process::ExitCode;

#[derive(Debug, Subcommand)]
pub(crate) enum MetricsCommand {
    /// Score every customer now: RFM, churn risk (BG/NBD), CLV, profit, loyalty tier.
    ///
    /// Segments and reports read the scores; the scheduler recomputes them every night.
    Recompute,
}

pub(crate) async fn run(g: &Global, cmd: MetricsCommand) -> anyhow::Result<ExitCode> {
    let MetricsCommand::Recompute = cmd;
    let settings = Settings::load(&g.config).map_err(|e| anyhow::anyhow!("{e}"))?;
    let store = open_store(g).await?;
    let bar = progress(g, None, "scoring");
    let result = recompute(&store, &settings.analytics, chrono::Utc::now().timestamp()).await;
    bar.finish_and_clear();
    store.close().await;
    let r = result?;
    for (name, fit) in [
        ("BG/NBD", &r.bgnbd.problem),
        ("Gamma-Gamma", &r.gamma_gamma.problem),
    ] {
        if let Some(p) = fit {
            eprintln!("warning: the {name} fit did not converge: {p}");
        }
    }
    if r.kept_previous_model_scores {
        eprintln!("warning: churn risk, expected purchases and CLV keep their previous values");
    }
    if g.json {
        print_json(&r);
        return Ok(ExitCode::SUCCESS);
    }
    let took: f64 = r.timings.iter().map(|t| t.1).sum();
    outln!(
        "Scored {} customers ({} have bought) in {took:.1} s",
        count(r.customers),
        count(r.buyers)
    );
    let b = r.bgnbd.params;
    outln!(
        "  BG/NBD       r {:.3}  α {:.3}  a {:.3}  b {:.3}   {}",
        b.r,
        b.alpha,
        b.a,
        b.b,
        fit_note(&r.bgnbd)
    );
    let s = r.gamma_gamma.params;
    outln!(
        "  Gamma-Gamma  p {:.3}  q {:.3}  γ {:.3}            {}",
        s.p,
        s.q,
        s.v,
        fit_note(&r.gamma_gamma)
    );
    outln!(
        "  Loyalty      {} purchase entries, {} campaign bonuses, {} expiries; {} tier upgrades, {} downgrades",
        count(r.loyalty.purchases),
        count(r.loyalty.bonuses),
        count(r.loyalty.expired),
        count(r.tier_upgrades),
        count(r.tier_downgrades)
    );
    Ok(ExitCode::SUCCESS)
}

fn fit_note<P>(f: &Fit<P>) -> String {
    if f.converged {
        format!(
            "{} customers, {} iterations",
            count(f.customers),
            f.iterations
        )
    } else {
        "did not converge".into()
    }
}
