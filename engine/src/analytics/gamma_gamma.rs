//! The Gamma-Gamma spend model (Fader, Hardie & Lee 2005, "RFM and CLV"; Colombo & Jiang 1999):
//! a customer's order values are Gamma(p, ν) with ν ~ Gamma(q, γ) across customers, independent
//! of how often they buy. Fitted on customers with at least one repeat purchase from their
//! number of purchases and mean order value.

use super::bgnbd::Fit;
use super::optimize::bfgs;
use super::special::{digamma, ln_gamma};
use serde::{Deserialize, Serialize};

/// Fitted Gamma-Gamma parameters (`v` is γ, in the unit of the spend it was fitted on).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GammaGamma {
    /// Shape of each order's value.
    pub p: f64,
    /// Shape of the spend scale across customers.
    pub q: f64,
    /// Rate of the spend scale across customers (γ).
    pub v: f64,
}

/// One customer's spend: the number of purchases averaged and their mean value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spend {
    /// Purchases (≥ 1).
    pub x: u32,
    /// Mean value per purchase (> 0).
    pub m: f64,
}

/// Spends prepared for fitting: logarithms taken once, terms that depend only on x computed
/// once per evaluation.
struct Prepared {
    /// (x, m, ln m, ln x).
    rows: Vec<(u32, f64, f64, f64)>,
    max_x: u32,
}

fn prepare(data: &[Spend]) -> Prepared {
    Prepared {
        rows: data
            .iter()
            .map(|s| (s.x, s.m, s.m.ln(), f64::from(s.x).ln()))
            .collect(),
        max_x: data.iter().map(|s| s.x).max().unwrap_or(0),
    }
}

fn ll_and_gradient(p: &GammaGamma, data: &Prepared) -> (f64, [f64; 3]) {
    let (pp, q, v) = (p.p, p.q, p.v);
    let (lg_q, dg_q, lnv) = (ln_gamma(q), digamma(q), v.ln());
    // ln Γ(px + q) − ln Γ(px) and the digammas, per x.
    let per_x: Vec<(f64, f64, f64)> = (0..=data.max_x)
        .map(|x| {
            let px = pp * f64::from(x);
            if x == 0 {
                return (0.0, 0.0, 0.0);
            }
            (
                ln_gamma(px + q) - ln_gamma(px),
                digamma(px + q),
                digamma(px),
            )
        })
        .collect();
    let mut ll = 0.0;
    let mut g = [0.0; 3];
    for &(x, m, lm, lx) in &data.rows {
        let (lg, d_pq, d_p) = per_x[x as usize];
        let xf = f64::from(x);
        let px = pp * xf;
        let vm = v + m * xf;
        let lvm = vm.ln();
        ll += lg - lg_q + q * lnv + (px - 1.0) * lm + px * lx - (px + q) * lvm;
        g[0] += xf * (d_pq - d_p + lm + lx - lvm);
        g[1] += d_pq - dg_q + lnv - lvm;
        g[2] += q / v - (px + q) / vm;
    }
    (ll, g)
}

impl GammaGamma {
    /// Maximum-likelihood fit on customers with x ≥ 1 and m > 0 (others are left out).
    pub fn fit(data: &[Spend], start: Option<GammaGamma>) -> Fit<GammaGamma> {
        let used: Vec<Spend> = data
            .iter()
            .copied()
            .filter(|s| s.x >= 1 && s.m > 0.0 && s.m.is_finite())
            .collect();
        let n = used.len() as f64;
        let mean = used.iter().map(|s| s.m).sum::<f64>() / n.max(1.0);
        // Start where the spend scale matches the data: p = 1, q = 2, γ = mean.
        let s = start.filter(GammaGamma::is_sane).unwrap_or(GammaGamma {
            p: 1.0,
            q: 2.0,
            v: mean.max(1e-6),
        });
        if used.len() < 2 {
            return Fit {
                params: s,
                log_likelihood: f64::NAN,
                customers: used.len() as u64,
                iterations: 0,
                converged: false,
                problem: Some("fewer than two customers with repeat purchases".into()),
            };
        }
        let from = |t: &[f64]| GammaGamma {
            p: t[0].exp(),
            q: t[1].exp(),
            v: t[2].exp(),
        };
        let prepared = prepare(&used);
        let mut objective = |t: &[f64], grad: &mut [f64]| {
            let p = from(t);
            let (ll, g) = ll_and_gradient(&p, &prepared);
            grad[0] = -g[0] * p.p / n;
            grad[1] = -g[1] * p.q / n;
            grad[2] = -g[2] * p.v / n;
            -ll / n
        };
        let m = bfgs(&mut objective, &[s.p.ln(), s.q.ln(), s.v.ln()], 1e-9, 500);
        let params = from(&m.x);
        let mut fit = Fit {
            params,
            log_likelihood: -m.value * n,
            customers: used.len() as u64,
            iterations: m.iterations,
            converged: m.converged,
            problem: None,
        };
        if !params.is_sane() {
            fit.converged = false;
            fit.problem = Some(format!(
                "the parameters ran away (p {:.3e}, q {:.3e}, γ {:.3e}); q must stay above 1 for \
                 the expected spend to exist",
                params.p, params.q, params.v
            ));
        } else if !m.converged {
            fit.problem = Some(format!("no convergence after {} iterations", m.iterations));
        }
        fit
    }

    fn is_sane(&self) -> bool {
        [self.p, self.q, self.v]
            .iter()
            .all(|v| v.is_finite() && *v > 1e-6 && *v < 1e9)
            && self.q > 1.0
    }

    /// E[mean order value | x purchases averaging m]: a weighted mean of the population mean
    /// p·γ/(q − 1) and the customer's own mean, leaning on the customer's as x grows.
    /// With no purchases (x = 0) it is the population mean.
    pub fn expected_spend(&self, x: u32, m: f64) -> f64 {
        let x = f64::from(x);
        let m = if m.is_finite() && m > 0.0 { m } else { 0.0 };
        self.p * (self.v + x * m) / (self.p * x + self.q - 1.0)
    }

    /// The population's mean order value p·γ/(q − 1).
    pub fn population_mean(&self) -> f64 {
        self.p * self.v / (self.q - 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gradient_matches_finite_differences() {
        let data = [
            Spend { x: 1, m: 10.0 },
            Spend { x: 3, m: 25.5 },
            Spend { x: 7, m: 14.0 },
        ];
        let p = GammaGamma {
            p: 4.0,
            q: 3.0,
            v: 12.0,
        };
        let (_, g) = ll_and_gradient(&p, &prepare(&data));
        let h = 1e-6;
        for i in 0..3 {
            let at = |d: f64| {
                let mut v = [p.p, p.q, p.v];
                v[i] += d;
                ll_and_gradient(
                    &GammaGamma {
                        p: v[0],
                        q: v[1],
                        v: v[2],
                    },
                    &prepare(&data),
                )
                .0
            };
            let numeric = (at(h) - at(-h)) / (2.0 * h);
            assert!((g[i] - numeric).abs() < 1e-5 * (1.0 + numeric.abs()), "{i}");
        }
    }

    #[test]
    fn expected_spend_leans_on_the_customer_as_purchases_grow() {
        let p = GammaGamma {
            p: 6.25,
            q: 3.74,
            v: 15.44,
        };
        let pop = p.population_mean();
        assert!((p.expected_spend(0, 0.0) - pop).abs() < 1e-9);
        let few = p.expected_spend(1, 100.0);
        let many = p.expected_spend(50, 100.0);
        assert!(pop < few && few < many && many < 100.0);
    }
}
