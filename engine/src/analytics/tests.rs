//! The models against the published CDNOW results and the `lifetimes` reference implementation
//! (PyPI; `scripts/test` installs it). These tests fail, never skip, when it is missing.

use super::bgnbd::{BgNbd, History};
use super::gamma_gamma::{GammaGamma, Spend};
use std::path::PathBuf;
use std::process::Command;

fn python(script: &str) -> String {
    let out = Command::new("python3")
        .args(["-c", script])
        .output()
        .expect("python3 runs (scripts/test installs the reference libraries)");
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn lifetimes_datasets() -> PathBuf {
    let dir = python("import lifetimes, os; print(os.path.dirname(lifetimes.__file__))");
    PathBuf::from(dir.trim()).join("datasets")
}

/// (x, t_x, T, mean spend) of the 2,357 CDNOW sample customers, as `lifetimes` ships them.
fn cdnow() -> Vec<(u32, f64, f64, f64)> {
    let path = lifetimes_datasets().join("cdnow_customers_summary_with_transactions.csv");
    let text = std::fs::read_to_string(&path).expect("CDNOW summary from lifetimes");
    text.lines()
        .skip(1)
        .map(|line| {
            let f: Vec<&str> = line.split(',').collect();
            let n = |i: usize| f[i].trim().parse::<f64>().expect("a number");
            (n(1) as u32, n(2), n(3), n(4))
        })
        .collect()
}

fn within(actual: f64, expected: f64, rel: f64) -> bool {
    ((actual - expected) / expected).abs() <= rel
}

#[test]
fn bgnbd_reproduces_the_published_cdnow_fit() {
    let data: Vec<History> = cdnow()
        .iter()
        .map(|&(x, t_x, t, _)| History { x, t_x, t })
        .collect();
    assert_eq!(data.len(), 2357);
    let fit = BgNbd::fit(&data, None);
    assert!(fit.converged, "{fit:?}");
    let p = fit.params;
    // Fader, Hardie & Lee (2005), Table 1 / section 5: r 0.243, α 4.414, a 0.793, b 2.426.
    for (name, got, paper) in [
        ("r", p.r, 0.243),
        ("alpha", p.alpha, 4.414),
        ("a", p.a, 0.793),
        ("b", p.b, 2.426),
    ] {
        assert!(within(got, paper, 0.01), "{name}: {got} vs {paper}");
    }
    // The paper's log-likelihood is −9582.4.
    assert!(
        (fit.log_likelihood + 9582.4).abs() < 0.5,
        "{}",
        fit.log_likelihood
    );
}

#[test]
fn gamma_gamma_reproduces_the_published_cdnow_fit() {
    let data: Vec<Spend> = cdnow()
        .iter()
        .filter(|c| c.0 > 0)
        .map(|&(x, _, _, m)| Spend { x, m })
        .collect();
    let fit = GammaGamma::fit(&data, None);
    assert!(fit.converged, "{fit:?}");
    let p = fit.params;
    // Fader & Hardie, "The Gamma-Gamma model of monetary value" (2013): p 6.25, q 3.74, γ 15.44.
    for (name, got, paper) in [("p", p.p, 6.25), ("q", p.q, 3.74), ("v", p.v, 15.44)] {
        assert!(within(got, paper, 0.01), "{name}: {got} vs {paper}");
    }
}

#[test]
fn predictions_match_lifetimes() {
    let data: Vec<(u32, f64, f64, f64)> = cdnow();
    let histories: Vec<History> = data
        .iter()
        .map(|&(x, t_x, t, _)| History { x, t_x, t })
        .collect();
    let bg = BgNbd::fit(&histories, None).params;
    let spends: Vec<Spend> = data
        .iter()
        .filter(|c| c.0 > 0)
        .map(|&(x, _, _, m)| Spend { x, m })
        .collect();
    let gg = GammaGamma::fit(&spends, None).params;
    // Ask lifetimes for the same quantities with our parameters, for a spread of customers.
    let picks = [0usize, 1, 2, 10, 57, 300, 1000, 2356];
    let rows: Vec<String> = picks
        .iter()
        .map(|&i| {
            format!(
                "({}, {}, {}, {})",
                data[i].0, data[i].1, data[i].2, data[i].3
            )
        })
        .collect();
    let script = format!(
        "import warnings; warnings.filterwarnings('ignore')
import pandas as pd, numpy as np
from lifetimes import BetaGeoFitter, GammaGammaFitter
b = BetaGeoFitter(); b.params_ = pd.Series(dict(r={}, alpha={}, a={}, b={}))
g = GammaGammaFitter(); g.params_ = pd.Series(dict(p={}, q={}, v={}))
for x, tx, T, m in [{}]:
    pa = float(np.ravel(b.conditional_probability_alive(x, tx, T))[0])
    e = float(np.ravel(b.conditional_expected_number_of_purchases_up_to_time(39, x, tx, T))[0])
    s = float(np.ravel(g.conditional_expected_average_profit(x, m))[0]) if x > 0 else float('nan')
    print(pa, e, s)",
        bg.r,
        bg.alpha,
        bg.a,
        bg.b,
        gg.p,
        gg.q,
        gg.v,
        rows.join(", ")
    );
    let out = python(&script);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), picks.len(), "{out}");
    for (line, &i) in lines.iter().zip(&picks) {
        let v: Vec<f64> = line
            .split_whitespace()
            .map(|s| s.parse().unwrap_or(f64::NAN))
            .collect();
        let h = &histories[i];
        let (pa, e) = (bg.p_alive(h), bg.expected_purchases(39.0, h));
        assert!(
            (pa - v[0]).abs() < 1e-6,
            "P(alive) of #{i}: {pa} vs {}",
            v[0]
        );
        assert!(
            (e - v[1]).abs() < 1e-6 * (1.0 + v[1]),
            "E[purchases] of #{i}: {e} vs {}",
            v[1]
        );
        if data[i].0 > 0 {
            let s = gg.expected_spend(data[i].0, data[i].3);
            assert!(
                (s - v[2]).abs() < 1e-6 * v[2],
                "spend of #{i}: {s} vs {}",
                v[2]
            );
        }
    }
}

#[test]
fn a_warm_start_refits_in_fewer_iterations() {
    let data: Vec<History> = cdnow()
        .iter()
        .map(|&(x, t_x, t, _)| History { x, t_x, t })
        .collect();
    let cold = BgNbd::fit(&data, None);
    let warm = BgNbd::fit(&data, Some(cold.params));
    assert!(warm.converged);
    assert!(
        warm.iterations < cold.iterations / 2,
        "{} vs {}",
        warm.iterations,
        cold.iterations
    );
    assert!((warm.log_likelihood - cold.log_likelihood).abs() < 1e-6);
}
