//! Reports as one self-contained HTML page: inline CSS, inline SVG charts, no scripts, nothing
//! fetched. Every text from the database is escaped.

use super::{pct, rp};
use jalin_engine::analytics::aggregates::{CampaignReport, CustomersReport, LoyaltyReport};
use std::fmt::Write as _;

use crate::html::escape as esc;

fn page(company: &str, title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>{t} — {c}</title><style>\
body{{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:60rem;padding:0 1rem;color:#1d2430}}\
h1{{font-size:1.5rem}}h2{{font-size:1.1rem;margin-top:2rem;border-bottom:1px solid #dde}}\
table{{border-collapse:collapse;margin:.5rem 0}}td,th{{padding:.2rem .6rem;text-align:right;border-bottom:1px solid #eef}}\
td:first-child,th:first-child{{text-align:left}}svg{{display:block;margin:.5rem 0}}\
.note{{color:#667}}</style></head><body><h1>{t}</h1><p class=\"note\">{c} · generated {g}</p>{body}</body></html>\n",
        t = esc(title),
        c = esc(company),
        g = chrono::Utc::now().format("%Y-%m-%d %H:%M UTC"),
    )
}

fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut s = String::from("<table><tr>");
    for h in header {
        let _ = write!(s, "<th>{}</th>", esc(h));
    }
    s.push_str("</tr>");
    for r in rows {
        s.push_str("<tr>");
        for c in r {
            let _ = write!(s, "<td>{}</td>", esc(c));
        }
        s.push_str("</tr>");
    }
    s.push_str("</table>");
    s
}

/// Horizontal bars: one label and value per row.
fn bars(title: &str, rows: &[(String, f64, String)]) -> String {
    let max = rows.iter().map(|r| r.1).fold(0.0f64, f64::max).max(1e-9);
    let (w, row_h, label_w) = (640.0, 24.0, 170.0);
    let h = row_h * rows.len() as f64 + 10.0;
    let mut s = format!(
        "<svg role=\"img\" aria-label=\"{}\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\">",
        esc(title)
    );
    for (i, (label, v, shown)) in rows.iter().enumerate() {
        let y = i as f64 * row_h + 4.0;
        let bw = ((w - label_w - 120.0) * v.max(0.0) / max).max(0.0);
        let _ = write!(
            s,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\" font-size=\"12\">{}</text>\
<rect x=\"{label_w}\" y=\"{y}\" width=\"{bw:.1}\" height=\"{}\" fill=\"#3b6fb6\"/>\
<text x=\"{:.1}\" y=\"{}\" font-size=\"12\">{}</text>",
            label_w - 6.0,
            y + 15.0,
            esc(label),
            row_h - 6.0,
            label_w + bw + 6.0,
            y + 15.0,
            esc(shown)
        );
    }
    s.push_str("</svg>");
    s
}

/// A heatmap of shares or counts; `cells[row][col]` of None is left blank.
fn heatmap(
    title: &str,
    rows: &[String],
    cols: &[String],
    cells: &[Vec<Option<(f64, String)>>],
) -> String {
    let max = cells
        .iter()
        .flatten()
        .flatten()
        .map(|c| c.0)
        .fold(0.0f64, f64::max)
        .max(1e-9);
    let (cw, ch, lw, top) = (56.0, 24.0, 80.0, 22.0);
    let w = lw + cw * cols.len() as f64 + 4.0;
    let h = top + ch * rows.len() as f64 + 4.0;
    let mut s = format!(
        "<svg role=\"img\" aria-label=\"{}\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\">",
        esc(title)
    );
    for (j, c) in cols.iter().enumerate() {
        let _ = write!(
            s,
            "<text x=\"{:.1}\" y=\"15\" text-anchor=\"middle\" font-size=\"11\">{}</text>",
            lw + cw * (j as f64 + 0.5),
            esc(c)
        );
    }
    for (i, r) in rows.iter().enumerate() {
        let y = top + ch * i as f64;
        let _ = write!(
            s,
            "<text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\" font-size=\"11\">{}</text>",
            lw - 6.0,
            y + 16.0,
            esc(r)
        );
        for (j, cell) in cells.get(i).into_iter().flatten().enumerate() {
            let Some((v, shown)) = cell else { continue };
            let t = (v / max).clamp(0.0, 1.0);
            let light = 95.0 - 55.0 * t;
            let _ = write!(
                s,
                "<rect x=\"{:.1}\" y=\"{y:.1}\" width=\"{}\" height=\"{}\" fill=\"hsl(214,60%,{light:.0}%)\"/>\
<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-size=\"10\" fill=\"{}\">{}</text>",
                lw + cw * j as f64,
                cw - 2.0,
                ch - 2.0,
                lw + cw * (j as f64 + 0.5),
                y + 15.0,
                if t > 0.55 { "#fff" } else { "#123" },
                esc(shown)
            );
        }
    }
    s.push_str("</svg>");
    s
}

/// A line from (0,0) to (1,1)-scaled points, with the diagonal for reference.
fn curve(title: &str, points: &[(f64, f64)], x_label: &str, y_label: &str) -> String {
    let (w, h, m) = (420.0, 300.0, 40.0);
    let px = |x: f64| m + x.clamp(0.0, 1.0) * (w - 2.0 * m);
    let py = |y: f64| h - m - y.clamp(0.0, 1.0) * (h - 2.0 * m);
    let line: Vec<String> = points
        .iter()
        .map(|(x, y)| format!("{:.1},{:.1}", px(*x), py(*y)))
        .collect();
    format!(
        "<svg role=\"img\" aria-label=\"{t}\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\">\
<rect x=\"{m}\" y=\"{m}\" width=\"{iw}\" height=\"{iw2}\" fill=\"none\" stroke=\"#ccd\"/>\
<line x1=\"{x0}\" y1=\"{y0}\" x2=\"{x1}\" y2=\"{y1}\" stroke=\"#bbb\" stroke-dasharray=\"4\"/>\
<polyline fill=\"none\" stroke=\"#3b6fb6\" stroke-width=\"2\" points=\"{pts}\"/>\
<text x=\"{cx}\" y=\"{bot}\" text-anchor=\"middle\" font-size=\"11\">{xl}</text>\
<text x=\"12\" y=\"{cy}\" font-size=\"11\" transform=\"rotate(-90 12 {cy})\" text-anchor=\"middle\">{yl}</text></svg>",
        t = esc(title),
        iw = w - 2.0 * m,
        iw2 = h - 2.0 * m,
        x0 = px(0.0),
        y0 = py(0.0),
        x1 = px(1.0),
        y1 = py(1.0),
        pts = line.join(" "),
        cx = w / 2.0,
        bot = h - 10.0,
        cy = h / 2.0,
        xl = esc(x_label),
        yl = esc(y_label),
    )
}

pub(crate) fn customers(company: &str, r: &CustomersReport) -> String {
    let mut b = String::new();
    let _ = write!(
        b,
        "<p>{} customers, {} have bought. Mean P(alive) {}; {} buyers below 50%. Expected CLV {}.</p>",
        r.customers,
        r.buyers,
        r.mean_p_alive.map_or("-".into(), pct),
        r.at_risk,
        esc(&rp(r.total_clv))
    );
    b.push_str("<h2>Models</h2>");
    let rows: Vec<Vec<String>> = r
        .fits
        .iter()
        .map(|f| {
            vec![
                f.model.clone(),
                f.params_json.clone(),
                f.customers.to_string(),
                f.log_likelihood.map_or("-".into(), |l| format!("{l:.1}")),
                if f.converged {
                    "converged".into()
                } else {
                    f.problem.clone().unwrap_or_default()
                },
            ]
        })
        .collect();
    b.push_str(&table(
        &[
            "model",
            "parameters",
            "customers",
            "log-likelihood",
            "status",
        ],
        &rows,
    ));
    b.push_str("<h2>RFM grid</h2><p class=\"note\">Buyers per recency × frequency quintile (5 = most recent, most frequent).</p>");
    let rfm_rows: Vec<String> = (1..=5).rev().map(|i| format!("R{i}")).collect();
    let rfm_cols: Vec<String> = (1..=5).map(|i| format!("F{i}")).collect();
    let cells: Vec<Vec<Option<(f64, String)>>> = (0..5)
        .rev()
        .map(|ri| {
            r.rfm_grid[ri]
                .iter()
                .map(|n| Some((*n as f64, n.to_string())))
                .collect()
        })
        .collect();
    b.push_str(&heatmap("RFM grid", &rfm_rows, &rfm_cols, &cells));
    b.push_str("<h2>CLV distribution</h2>");
    let rows: Vec<(String, f64, String)> = r
        .clv_histogram
        .iter()
        .map(|x| {
            (
                format!("{} – {}", rp(x.from), rp(x.to)),
                x.count as f64,
                x.count.to_string(),
            )
        })
        .collect();
    b.push_str(&bars("CLV distribution", &rows));
    b.push_str("<h2>Pareto</h2>");
    let _ = write!(
        b,
        "<p>Total profit {}; the most profitable 20% of customers bring {}.</p>",
        esc(&rp(r.pareto.total_profit)),
        r.pareto.top20_share.map_or("- (no profit yet)".into(), pct)
    );
    if !r.pareto.curve.is_empty() {
        b.push_str(&curve(
            "Pareto curve",
            &r.pareto.curve,
            "share of customers, most profitable first",
            "share of profit",
        ));
    }
    let rows: Vec<Vec<String>> = r
        .pareto
        .blue_chip
        .iter()
        .map(|c| {
            vec![
                c.external_ref.clone(),
                c.name.clone(),
                rp(c.profit),
                c.clv.map_or("-".into(), rp),
                c.p_alive.map_or("-".into(), pct),
                c.tier.clone().unwrap_or_default(),
            ]
        })
        .collect();
    b.push_str(&table(
        &["customer", "name", "profit", "CLV", "P(alive)", "tier"],
        &rows,
    ));
    b.push_str("<h2>Cohort retention</h2><p class=\"note\">Share of each acquisition month buying again k months later.</p>");
    let span = r
        .cohorts
        .iter()
        .map(|c| c.retention.len())
        .max()
        .unwrap_or(1);
    let cols: Vec<String> = (0..span).map(|k| format!("+{k}")).collect();
    let rows: Vec<String> = r
        .cohorts
        .iter()
        .map(|c| format!("{} ({})", c.month, c.size))
        .collect();
    let cells: Vec<Vec<Option<(f64, String)>>> = r
        .cohorts
        .iter()
        .map(|c| {
            (0..span)
                .map(|k| c.retention.get(k).map(|v| (*v, pct(*v))))
                .collect()
        })
        .collect();
    b.push_str(&heatmap("Cohort retention", &rows, &cols, &cells));
    page(company, "Customers", &b)
}

pub(crate) fn campaign(company: &str, r: &CampaignReport) -> String {
    let mut b = String::new();
    let _ = write!(
        b,
        "<p>{} run(s); orders count as conversions within {} days.</p><h2>Funnel</h2>",
        r.runs, r.goal_days
    );
    let t = &r.total;
    let stages = [
        ("planned", t.planned),
        ("sent", t.sent),
        ("delivered", t.delivered),
        ("opened", t.opened),
        ("clicked", t.clicked),
        ("converted", t.converted),
    ];
    let rows: Vec<(String, f64, String)> = stages
        .iter()
        .map(|(s, n)| {
            let share = if t.planned > 0 {
                format!("{n} ({})", pct(*n as f64 / t.planned as f64))
            } else {
                n.to_string()
            };
            ((*s).to_owned(), *n as f64, share)
        })
        .collect();
    b.push_str(&bars("Campaign funnel", &rows));
    let rows: Vec<Vec<String>> = r
        .variants
        .iter()
        .chain(std::iter::once(&r.total))
        .map(|f| {
            vec![
                f.variant.clone(),
                f.planned.to_string(),
                f.sent.to_string(),
                f.delivered.to_string(),
                f.opened.to_string(),
                f.clicked.to_string(),
                f.converted.to_string(),
                rp(f.revenue),
                rp(f.cost),
            ]
        })
        .collect();
    b.push_str(&table(
        &[
            "variant",
            "planned",
            "sent",
            "delivered",
            "opened",
            "clicked",
            "converted",
            "revenue",
            "cost",
        ],
        &rows,
    ));
    b.push_str("<h2>Lift against the holdout</h2>");
    match &r.lift {
        Some(l) => {
            let _ = write!(
                b,
                "<p>Ordered within the window: {} of those sent to, {} of those held out \
                 ({:+.1} points). z = {:.2}, two-sided p = {:.4}.</p>",
                pct(l.treated_rate),
                pct(l.holdout_rate),
                l.uplift * 100.0,
                l.z,
                l.p_value
            );
        }
        None => b.push_str(
            "<p>No test: the campaign has no holdout, or nobody (or everybody) ordered.</p>",
        ),
    }
    let _ = write!(
        b,
        "<p>Cost {}, attributed revenue {}, ROI {}.</p>",
        esc(&rp(t.cost)),
        esc(&rp(t.revenue)),
        r.roi.map_or("-".into(), |x| format!("{x:.1}×"))
    );
    page(company, &format!("Campaign {}", r.campaign), &b)
}

pub(crate) fn loyalty(company: &str, r: &LoyaltyReport) -> String {
    let mut b = String::from("<h2>Tiers</h2>");
    let rows: Vec<(String, f64, String)> = r
        .tiers
        .iter()
        .map(|t| {
            (
                format!("{} (≥ {})", t.name, t.points),
                t.customers as f64,
                t.customers.to_string(),
            )
        })
        .collect();
    b.push_str(&bars("Customers per tier", &rows));
    let _ = write!(
        b,
        "<p>Points outstanding {}. Last 12 months: earned {}, redeemed {}, expired {}. \
         Last 30 days: {} upgrades, {} downgrades.</p>",
        r.outstanding,
        r.earned_12m,
        r.redeemed_12m,
        r.expired_12m,
        r.upgrades_30d,
        r.downgrades_30d
    );
    let rows: Vec<Vec<String>> = r
        .top
        .iter()
        .map(|(id, name, tier, p)| {
            vec![
                id.clone(),
                name.clone(),
                tier.clone().unwrap_or_default(),
                p.to_string(),
            ]
        })
        .collect();
    b.push_str("<h2>Largest balances</h2>");
    b.push_str(&table(&["customer", "name", "tier", "points"], &rows));
    page(company, "Loyalty", &b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_from_the_database_is_escaped() {
        let t = table(&["name"], &[vec!["<script>alert('x')</script>".into()]]);
        assert!(
            t.contains("&lt;script&gt;") && !t.contains("<script>"),
            "{t}"
        );
        let b = bars("a \"title\"", &[("<b>".into(), 1.0, "1".into())]);
        assert!(
            b.contains("aria-label=\"a &quot;title&quot;\"") && !b.contains("<b>"),
            "{b}"
        );
    }
}
