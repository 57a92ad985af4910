//! Campaign lift against the holdout: the two-proportion z-test.

use super::special::normal_cdf;
use serde::Serialize;

/// Conversion of the treated group against the holdout.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Lift {
    /// Treated conversion rate.
    pub treated_rate: f64,
    /// Holdout conversion rate.
    pub holdout_rate: f64,
    /// Absolute difference in rate (treated − holdout).
    pub uplift: f64,
    /// Relative lift (treated / holdout − 1); None when the holdout never converted.
    pub relative: Option<f64>,
    /// The z statistic with the pooled standard error.
    pub z: f64,
    /// Two-sided p-value.
    pub p_value: f64,
}

/// The two-proportion z-test of `x1` conversions out of `n1` against `x2` out of `n2`.
/// None when a group is empty or the pooled rate is 0 or 1 (no variance to test against).
pub fn two_proportion(x1: u64, n1: u64, x2: u64, n2: u64) -> Option<Lift> {
    if n1 == 0 || n2 == 0 || x1 > n1 || x2 > n2 {
        return None;
    }
    let (x1f, n1f, x2f, n2f) = (x1 as f64, n1 as f64, x2 as f64, n2 as f64);
    let (p1, p2) = (x1f / n1f, x2f / n2f);
    let pooled = (x1f + x2f) / (n1f + n2f);
    let se = (pooled * (1.0 - pooled) * (1.0 / n1f + 1.0 / n2f)).sqrt();
    if se <= 0.0 || !se.is_finite() {
        return None;
    }
    let z = (p1 - p2) / se;
    Some(Lift {
        treated_rate: p1,
        holdout_rate: p2,
        uplift: p1 - p2,
        relative: (p2 > 0.0).then(|| p1 / p2 - 1.0),
        z,
        p_value: (2.0 * (1.0 - normal_cdf(z.abs()))).clamp(0.0, 1.0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worked_example() {
        // 250 of 1,000 treated converted against 200 of 1,000 held out. Pooled rate 450/2000 =
        // 0.225; SE = √(0.225 · 0.775 · (1/1000 + 1/1000)) = 0.0186748; z = 0.05 / SE = 2.67739;
        // two-sided p = erfc(z/√2) = 0.007419 (tables: Φ(2.68) = 0.99632 → p ≈ 0.0074).
        let l = two_proportion(250, 1000, 200, 1000).expect("a test");
        assert!((l.z - 2.677_39).abs() < 1e-4, "{l:?}");
        assert!((l.p_value - 0.007_419).abs() < 2e-5, "{l:?}");
        assert!((l.relative.unwrap_or(0.0) - 0.25).abs() < 1e-12);
        // A textbook case with no effect: equal rates give z = 0 and p = 1.
        let same = two_proportion(30, 300, 10, 100).expect("a test");
        assert!(same.z.abs() < 1e-12 && (same.p_value - 1.0).abs() < 1e-6);
    }

    #[test]
    fn degenerate_groups_have_no_test() {
        assert_eq!(two_proportion(0, 0, 5, 10), None);
        assert_eq!(two_proportion(0, 10, 0, 10), None);
        assert_eq!(two_proportion(10, 10, 10, 10), None);
        assert_eq!(two_proportion(11, 10, 1, 10), None);
    }
}
