//! The BG/NBD model (Fader, Hardie & Lee 2005, "Counting your customers the easy way"):
//! while alive a customer buys as a Poisson process with rate λ ~ Gamma(r, α); after each
//! purchase they drop out with probability p ~ Beta(a, b). Fitted by maximum likelihood on each
//! customer's repeat purchases `x`, the time of the last one `t_x` and their age `T`.

use super::optimize::bfgs;
use super::special::{digamma, hyp2f1, ln_gamma};
use serde::{Deserialize, Serialize};

/// One customer's purchase history in the model's terms (times in weeks since the first
/// purchase).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct History {
    /// Repeat purchases (purchases after the first).
    pub x: u32,
    /// When the last purchase happened (0 without repeats).
    pub t_x: f64,
    /// How long the customer has been observed.
    pub t: f64,
}

/// Fitted BG/NBD parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BgNbd {
    /// Shape of the purchase-rate distribution.
    pub r: f64,
    /// Scale of the purchase-rate distribution (weeks).
    pub alpha: f64,
    /// Dropout Beta(a, b).
    pub a: f64,
    /// Dropout Beta(a, b).
    pub b: f64,
}

/// The result of a fit.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Fit<P> {
    /// The parameters (the last iterate when not converged).
    pub params: P,
    /// Total log-likelihood at `params`.
    pub log_likelihood: f64,
    /// Customers the fit used.
    pub customers: u64,
    /// BFGS iterations.
    pub iterations: u32,
    /// Whether the fit converged to finite parameters.
    pub converged: bool,
    /// Why not, when it did not.
    pub problem: Option<String>,
}

/// Histories prepared for fitting: identical ones collapsed into one row with a weight, and
/// times replaced by indices into a table of their distinct values (so each evaluation takes
/// one logarithm per distinct time rather than two per customer).
struct Rows {
    /// (x, index of T, index of t_x, weight).
    rows: Vec<(u32, u32, u32, f64)>,
    /// The distinct times.
    times: Vec<f64>,
    max_x: u32,
    total: f64,
}

fn compress(data: &[History]) -> Rows {
    let mut times: Vec<u64> = data
        .iter()
        .flat_map(|h| [h.t.to_bits(), h.t_x.to_bits()])
        .collect();
    // Non-negative floats sort like their bit patterns.
    times.sort_unstable();
    times.dedup();
    let index = |v: f64| times.binary_search(&v.to_bits()).unwrap_or(0) as u32;
    let mut keyed: Vec<(u32, u32, u32)> = data
        .iter()
        .map(|h| (h.x, index(h.t), index(h.t_x)))
        .collect();
    keyed.sort_unstable();
    let mut rows: Vec<(u32, u32, u32, f64)> = Vec::new();
    for (x, t, tx) in keyed {
        match rows.last_mut() {
            Some(last) if (last.0, last.1, last.2) == (x, t, tx) => last.3 += 1.0,
            _ => rows.push((x, t, tx, 1.0)),
        }
    }
    Rows {
        max_x: rows.iter().map(|r| r.0).max().unwrap_or(0),
        total: rows.iter().map(|r| r.3).sum(),
        times: times.into_iter().map(f64::from_bits).collect(),
        rows,
    }
}

/// Terms that depend only on the parameters and x, computed once per evaluation.
struct PerX {
    ln_a1: Vec<f64>,
    ln_a2: Vec<f64>,
    ln_a4: Vec<f64>,
    d_r: Vec<f64>,
    d_a: Vec<f64>,
    d_b: Vec<f64>,
    inv_bx1: Vec<f64>,
}

impl PerX {
    fn new(p: &BgNbd, max_x: u32) -> PerX {
        let (r, al, a, b) = (p.r, p.alpha, p.a, p.b);
        let n = max_x as usize + 1;
        let mut s = PerX {
            ln_a1: Vec::with_capacity(n),
            ln_a2: Vec::with_capacity(n),
            ln_a4: Vec::with_capacity(n),
            d_r: Vec::with_capacity(n),
            d_a: Vec::with_capacity(n),
            d_b: Vec::with_capacity(n),
            inv_bx1: Vec::with_capacity(n),
        };
        let (lg_r, lg_ab, lg_b) = (ln_gamma(r), ln_gamma(a + b), ln_gamma(b));
        let (dg_r, dg_ab, dg_b) = (digamma(r), digamma(a + b), digamma(b));
        for x in 0..=max_x {
            let x = f64::from(x);
            s.ln_a1.push(ln_gamma(r + x) - lg_r + r * al.ln());
            s.ln_a2
                .push(lg_ab + ln_gamma(b + x) - lg_b - ln_gamma(a + b + x));
            let bx1 = b + x - 1.0;
            s.ln_a4.push(if x > 0.0 { a.ln() - bx1.ln() } else { 0.0 });
            s.inv_bx1.push(if x > 0.0 { 1.0 / bx1 } else { 0.0 });
            s.d_r.push(digamma(r + x) - dg_r + al.ln());
            s.d_a.push(dg_ab - digamma(a + b + x));
            s.d_b
                .push(dg_ab + digamma(b + x) - dg_b - digamma(a + b + x));
        }
        s
    }
}

/// ln(α + t) and 1/(α + t) for every distinct time.
struct PerTime {
    ln: Vec<f64>,
    inv: Vec<f64>,
}

/// Log-likelihood and its gradient (∂/∂r, ∂/∂α, ∂/∂a, ∂/∂b) over a slice of weighted rows.
fn ll_chunk(p: &BgNbd, px: &PerX, pt: &PerTime, rows: &[(u32, u32, u32, f64)]) -> (f64, [f64; 4]) {
    let (r, al, a) = (p.r, p.alpha, p.a);
    let mut ll = 0.0;
    let mut g = [0.0; 4];
    for &(x, ti, txi, w) in rows {
        let xi = x as usize;
        let rx = r + f64::from(x);
        let lat = pt.ln[ti as usize];
        let a3 = -rx * lat;
        let (lse, w4, ltx, inv_tx) = if x > 0 {
            let ltx = pt.ln[txi as usize];
            let a4 = px.ln_a4[xi] - rx * ltx;
            // log(e^a3 + e^a4) with one exponential; w4 = e^a4 / (e^a3 + e^a4).
            let d = a4 - a3;
            let e = (-d.abs()).exp();
            let lse = a3.max(a4) + e.ln_1p();
            let w4 = if d > 0.0 {
                1.0 / (1.0 + e)
            } else {
                e / (1.0 + e)
            };
            (lse, w4, ltx, pt.inv[txi as usize])
        } else {
            (a3, 0.0, 0.0, 0.0)
        };
        let w3 = 1.0 - w4;
        ll += w * (px.ln_a1[xi] + px.ln_a2[xi] + lse);
        g[0] += w * (px.d_r[xi] - w3 * lat - w4 * ltx);
        g[1] += w * (r / al - rx * (w3 * pt.inv[ti as usize] + w4 * inv_tx));
        g[2] += w * (px.d_a[xi] + w4 / a);
        g[3] += w * (px.d_b[xi] - w4 * px.inv_bx1[xi]);
    }
    (ll, g)
}

/// Log-likelihood and gradient over all rows, on two threads when there are many.
fn ll_all(p: &BgNbd, data: &Rows) -> (f64, [f64; 4]) {
    let px = PerX::new(p, data.max_x);
    let pt = PerTime {
        ln: data.times.iter().map(|t| (p.alpha + t).ln()).collect(),
        inv: data.times.iter().map(|t| 1.0 / (p.alpha + t)).collect(),
    };
    let rows = &data.rows;
    if rows.len() < 50_000 {
        return ll_chunk(p, &px, &pt, rows);
    }
    let (left, right) = rows.split_at(rows.len() / 2);
    let (l, r) = std::thread::scope(|s| {
        let h = s.spawn(|| ll_chunk(p, &px, &pt, right));
        let l = ll_chunk(p, &px, &pt, left);
        (l, h.join().unwrap_or((f64::NAN, [f64::NAN; 4])))
    });
    (
        l.0 + r.0,
        [
            l.1[0] + r.1[0],
            l.1[1] + r.1[1],
            l.1[2] + r.1[2],
            l.1[3] + r.1[3],
        ],
    )
}

impl BgNbd {
    /// A neutral starting point for a first fit.
    pub const START: BgNbd = BgNbd {
        r: 1.0,
        alpha: 1.0,
        a: 1.0,
        b: 1.0,
    };

    /// Maximum-likelihood fit, starting from `start` (the previous fit, when there is one:
    /// a nightly refit on slightly more data then needs only a few iterations).
    pub fn fit(data: &[History], start: Option<BgNbd>) -> Fit<BgNbd> {
        let rows = compress(data);
        let total = rows.total;
        let from = |t: &[f64]| BgNbd {
            r: t[0].exp(),
            alpha: t[1].exp(),
            a: t[2].exp(),
            b: t[3].exp(),
        };
        let s = start.filter(BgNbd::is_sane).unwrap_or(BgNbd::START);
        let theta0 = [s.r.ln(), s.alpha.ln(), s.a.ln(), s.b.ln()];
        if rows.rows.is_empty() {
            return not_converged(s, 0, "no customers with purchases to fit".into());
        }
        // The objective is the mean negative log-likelihood, on log parameters.
        let mut objective = |t: &[f64], grad: &mut [f64]| {
            let p = from(t);
            let (ll, g) = ll_all(&p, &rows);
            grad[0] = -g[0] * p.r / total;
            grad[1] = -g[1] * p.alpha / total;
            grad[2] = -g[2] * p.a / total;
            grad[3] = -g[3] * p.b / total;
            -ll / total
        };
        let m = bfgs(&mut objective, &theta0, 1e-9, 500);
        let params = from(&m.x);
        let mut fit = Fit {
            params,
            log_likelihood: -m.value * total,
            customers: total as u64,
            iterations: m.iterations,
            converged: m.converged,
            problem: None,
        };
        if !params.is_sane() {
            fit.converged = false;
            fit.problem = Some(format!(
                "the parameters ran away (r {:.3e}, α {:.3e}, a {:.3e}, b {:.3e}): the data do not \
                 pin the model down (too few repeat purchases?)",
                params.r, params.alpha, params.a, params.b
            ));
        } else if !m.converged {
            fit.problem = Some(format!("no convergence after {} iterations", m.iterations));
        }
        fit
    }

    /// Finite and inside the range a real customer base produces.
    fn is_sane(&self) -> bool {
        [self.r, self.alpha, self.a, self.b]
            .iter()
            .all(|v| v.is_finite() && (1e-5..=1e5).contains(v))
    }

    /// Total log-likelihood of `data` under these parameters.
    pub fn log_likelihood(&self, data: &[History]) -> f64 {
        ll_all(self, &compress(data)).0
    }

    /// P(alive | x, t_x, T): the chance the customer has not dropped out.
    pub fn p_alive(&self, h: &History) -> f64 {
        if h.x == 0 {
            return 1.0;
        }
        1.0 / (1.0 + self.odds_dead(h))
    }

    /// a / (b + x − 1) · ((α + T) / (α + t_x))^(r + x): the odds of having dropped out.
    fn odds_dead(&self, h: &History) -> f64 {
        let x = f64::from(h.x);
        let ln = (self.a / (self.b + x - 1.0)).ln()
            + (self.r + x) * ((self.alpha + h.t).ln() - (self.alpha + h.t_x).ln());
        ln.exp()
    }

    /// Expected purchases in the next `t` weeks given the history (FHL 2005, eq. 10).
    pub fn expected_purchases(&self, t: f64, h: &History) -> f64 {
        if t <= 0.0 {
            return 0.0;
        }
        let x = f64::from(h.x);
        let (r, al, b) = (self.r, self.alpha, self.b);
        // a = 1 is a removable singularity of the closed form; step just beside it.
        let a = if (self.a - 1.0).abs() < 1e-9 {
            1.0 + 1e-9
        } else {
            self.a
        };
        let z = t / (al + h.t + t);
        let ratio = ((al + h.t) / (al + h.t + t)).powf(r + x);
        let f = hyp2f1(r + x, b + x, a + b + x - 1.0, z);
        let head = (a + b + x - 1.0) / (a - 1.0) * (1.0 - ratio * f);
        let alive = if h.x > 0 {
            1.0 + self.odds_dead(h)
        } else {
            1.0
        };
        let e = head / alive;
        if e.is_finite() { e.max(0.0) } else { 0.0 }
    }
}

fn not_converged(params: BgNbd, customers: u64, problem: String) -> Fit<BgNbd> {
    Fit {
        params,
        log_likelihood: f64::NAN,
        customers,
        iterations: 0,
        converged: false,
        problem: Some(problem),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gradient_matches_finite_differences() {
        let data = [
            History {
                x: 0,
                t_x: 0.0,
                t: 30.0,
            },
            History {
                x: 2,
                t_x: 20.0,
                t: 38.0,
            },
            History {
                x: 5,
                t_x: 36.5,
                t: 39.0,
            },
            History {
                x: 1,
                t_x: 1.7,
                t: 12.0,
            },
        ];
        let rows = compress(&data);
        let p = BgNbd {
            r: 0.7,
            alpha: 3.0,
            a: 0.8,
            b: 2.5,
        };
        let (_, g) = ll_all(&p, &rows);
        let h = 1e-6;
        let shifted = |i: usize, d: f64| {
            let mut q = [p.r, p.alpha, p.a, p.b];
            q[i] += d;
            let q = BgNbd {
                r: q[0],
                alpha: q[1],
                a: q[2],
                b: q[3],
            };
            ll_all(&q, &rows).0
        };
        for (i, gi) in g.iter().enumerate() {
            let numeric = (shifted(i, h) - shifted(i, -h)) / (2.0 * h);
            assert!(
                (gi - numeric).abs() < 1e-5 * (1.0 + numeric.abs()),
                "{i}: {gi} vs {numeric}"
            );
        }
    }

    #[test]
    fn identical_histories_are_weighted_once() {
        let h = History {
            x: 1,
            t_x: 2.0,
            t: 9.0,
        };
        let rows = compress(&[
            h,
            h,
            History {
                x: 0,
                t_x: 0.0,
                t: 9.0,
            },
            h,
        ]);
        assert_eq!(rows.rows.len(), 2);
        assert_eq!(rows.times, vec![0.0, 2.0, 9.0]);
        assert_eq!(rows.total, 4.0);
    }

    #[test]
    fn no_repeat_purchases_does_not_converge() {
        // Nobody ever came back: the likelihood grows without bound as r → 0.
        let data: Vec<History> = (1..200)
            .map(|i| History {
                x: 0,
                t_x: 0.0,
                t: f64::from(i % 50 + 1),
            })
            .collect();
        let fit = BgNbd::fit(&data, None);
        assert!(!fit.converged, "{fit:?}");
        assert!(fit.problem.is_some());
    }
}
