//! Rank-based scores: RFM quintiles and percentiles.
//!
//! Ties share a score. A value's percentile rank is (values strictly below + half of its ties)
//! / n, so the ranks of n distinct values are spread evenly inside (0, 1) and a single customer
//! sits in the middle (quintile 3, percentile 50).

/// The mid-rank percentile (0–1, exclusive) of every value; NaN values rank lowest.
pub fn percentile_ranks(values: &[f64]) -> Vec<f64> {
    let n = values.len();
    let mut order: Vec<usize> = (0..n).collect();
    let key = |i: usize| {
        if values[i].is_nan() {
            f64::NEG_INFINITY
        } else {
            values[i]
        }
    };
    order.sort_unstable_by(|&i, &j| key(i).total_cmp(&key(j)));
    let mut ranks = vec![0.0; n];
    let mut start = 0;
    while start < n {
        let mut end = start + 1;
        while end < n && key(order[end]) == key(order[start]) {
            end += 1;
        }
        let ties = (end - start) as f64;
        let rank = (start as f64 + 0.5 * ties) / n as f64;
        for &i in &order[start..end] {
            ranks[i] = rank;
        }
        start = end;
    }
    ranks
}

/// Quintile scores 1–5 (5 = highest values).
pub fn quintiles(values: &[f64]) -> Vec<i16> {
    percentile_ranks(values)
        .into_iter()
        .map(|p| ((p * 5.0).ceil() as i16).clamp(1, 5))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ten_distinct_values_fill_each_quintile_twice() {
        let v: Vec<f64> = (1..=10).map(f64::from).collect();
        assert_eq!(quintiles(&v), vec![1, 1, 2, 2, 3, 3, 4, 4, 5, 5]);
    }

    #[test]
    fn ties_share_a_score_and_one_value_is_in_the_middle() {
        // Six customers with one order, two with 2, two with 5: (0 + 3)/10, (6 + 1)/10, (8 + 1)/10.
        let v = [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 2.0, 2.0, 5.0, 5.0];
        assert_eq!(quintiles(&v), vec![2, 2, 2, 2, 2, 2, 4, 4, 5, 5]);
        assert_eq!(quintiles(&[42.0]), vec![3]);
        assert!(quintiles(&[]).is_empty());
        assert_eq!(percentile_ranks(&[3.0, f64::NAN]), vec![0.75, 0.25]);
    }
}
