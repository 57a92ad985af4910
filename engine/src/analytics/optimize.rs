//! A small BFGS minimiser for the models' maximum-likelihood fits (four parameters at most,
//! an analytic gradient, every parameter on a log scale so it stays positive).

/// Where the minimiser stopped.
#[derive(Debug, Clone)]
pub(crate) struct Minimum {
    /// The point.
    pub x: Vec<f64>,
    /// The objective there.
    pub value: f64,
    /// BFGS iterations taken.
    pub iterations: u32,
    /// Whether the gradient became small enough (false: iteration limit or no finite step).
    pub converged: bool,
}

/// Minimises `f`, which returns the objective at `x` and writes its gradient into the slice.
/// Converges when the largest gradient component falls below `tolerance`.
pub(crate) fn bfgs(
    f: &mut dyn FnMut(&[f64], &mut [f64]) -> f64,
    start: &[f64],
    tolerance: f64,
    max_iterations: u32,
) -> Minimum {
    let n = start.len();
    let mut x = start.to_vec();
    let mut g = vec![0.0; n];
    let mut fx = f(&x, &mut g);
    if !fx.is_finite() || g.iter().any(|v| !v.is_finite()) {
        return Minimum {
            x,
            value: fx,
            iterations: 0,
            converged: false,
        };
    }
    // The inverse Hessian approximation, row-major, starting as the identity.
    let mut h = identity(n);
    let mut next = vec![0.0; n];
    let mut g_next = vec![0.0; n];
    for iteration in 1..=max_iterations {
        if g.iter().all(|v| v.abs() < tolerance) {
            return Minimum {
                x,
                value: fx,
                iterations: iteration - 1,
                converged: true,
            };
        }
        let mut dir: Vec<f64> = (0..n)
            .map(|i| -(0..n).map(|j| h[i * n + j] * g[j]).sum::<f64>())
            .collect();
        let mut slope: f64 = dir.iter().zip(&g).map(|(d, gi)| d * gi).sum();
        if slope >= 0.0 {
            // Not a descent direction any more: restart from steepest descent.
            h = identity(n);
            dir = g.iter().map(|v| -v).collect();
            slope = -g.iter().map(|v| v * v).sum::<f64>();
        }
        // Backtracking line search with the Armijo condition; a step is also capped so that no
        // log-parameter moves by more than 5 at once.
        let longest = dir.iter().fold(0.0f64, |m, d| m.max(d.abs()));
        let mut step = if longest > 5.0 { 5.0 / longest } else { 1.0 };
        let mut f_next = f64::NAN;
        let mut found = false;
        for _ in 0..60 {
            for i in 0..n {
                next[i] = x[i] + step * dir[i];
            }
            f_next = f(&next, &mut g_next);
            if f_next.is_finite()
                && g_next.iter().all(|v| v.is_finite())
                && f_next <= fx + 1e-4 * step * slope
            {
                found = true;
                break;
            }
            step *= 0.5;
        }
        if !found {
            // No step lowers the objective: at the minimum to machine precision, or stuck.
            let small = g.iter().all(|v| v.abs() < tolerance * 1e3);
            return Minimum {
                x,
                value: fx,
                iterations: iteration,
                converged: small,
            };
        }
        let s: Vec<f64> = (0..n).map(|i| next[i] - x[i]).collect();
        let y: Vec<f64> = (0..n).map(|i| g_next[i] - g[i]).collect();
        let sy: f64 = s.iter().zip(&y).map(|(a, b)| a * b).sum();
        // Progress below rounding noise with a small gradient: as good as it gets.
        let stalled = (fx - f_next).abs() <= 1e-15 * (1.0 + fx.abs())
            && g_next.iter().all(|v| v.abs() < tolerance * 1e4);
        if sy > 1e-12 {
            update_inverse_hessian(&mut h, &s, &y, sy);
        }
        x.copy_from_slice(&next);
        g.copy_from_slice(&g_next);
        fx = f_next;
        if stalled {
            return Minimum {
                x,
                value: fx,
                iterations: iteration,
                converged: true,
            };
        }
    }
    let converged = g.iter().all(|v| v.abs() < tolerance);
    Minimum {
        x,
        value: fx,
        iterations: max_iterations,
        converged,
    }
}

fn identity(n: usize) -> Vec<f64> {
    let mut h = vec![0.0; n * n];
    for i in 0..n {
        h[i * n + i] = 1.0;
    }
    h
}

/// H ← (I − ρ s yᵀ) H (I − ρ y sᵀ) + ρ s sᵀ with ρ = 1 / yᵀs.
fn update_inverse_hessian(h: &mut [f64], s: &[f64], y: &[f64], sy: f64) {
    let n = s.len();
    let rho = 1.0 / sy;
    let hy: Vec<f64> = (0..n)
        .map(|i| (0..n).map(|j| h[i * n + j] * y[j]).sum())
        .collect();
    let yhy: f64 = y.iter().zip(&hy).map(|(a, b)| a * b).sum();
    for i in 0..n {
        for j in 0..n {
            h[i * n + j] +=
                (1.0 + rho * yhy) * rho * s[i] * s[j] - rho * (hy[i] * s[j] + s[i] * hy[j]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_rosenbrock_minimum() {
        let mut f = |x: &[f64], g: &mut [f64]| {
            let (a, b) = (x[0], x[1]);
            g[0] = -2.0 * (1.0 - a) - 400.0 * a * (b - a * a);
            g[1] = 200.0 * (b - a * a);
            (1.0 - a).powi(2) + 100.0 * (b - a * a).powi(2)
        };
        let m = bfgs(&mut f, &[-1.2, 1.0], 1e-8, 500);
        assert!(m.converged, "{m:?}");
        assert!(
            (m.x[0] - 1.0).abs() < 1e-5 && (m.x[1] - 1.0).abs() < 1e-5,
            "{m:?}"
        );
    }

    #[test]
    fn reports_no_convergence_when_the_minimum_runs_away() {
        // e^x has no minimum: the minimiser must say so rather than claim success.
        let mut f = |x: &[f64], g: &mut [f64]| {
            g[0] = x[0].exp();
            x[0].exp()
        };
        let m = bfgs(&mut f, &[0.0], 1e-12, 4);
        assert!(!m.converged, "{m:?}");
    }
}
