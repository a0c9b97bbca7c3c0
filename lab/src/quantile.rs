//! Quantiles of a sample with how sure one can be of them: nearest-rank
//! estimates and distribution-free one-sided upper confidence bounds from
//! order statistics.
//!
//! For `n` independent runs, the number of runs below the true p-quantile
//! is Binomial(n, p). The k-th smallest value lies at or above the
//! quantile with probability P(Binomial(n, p) ≤ k − 1), so the smallest k
//! with that probability ≥ 95 % gives an upper bound the true quantile
//! stays under with 95 % confidence, whatever the distribution. With too
//! few runs no k qualifies: p99 needs at least 299 runs (0.99^299 < 0.05),
//! p95 59, p50 5.

/// The confidence of the upper bounds.
pub const CONFIDENCE: f64 = 0.95;

/// Nearest-rank p-quantile of `sorted` (ascending, `None` = +∞ last).
pub fn nearest_rank(sorted: &[Option<f64>], p: f64) -> Option<f64> {
    assert!(!sorted.is_empty() && (0.0..=1.0).contains(&p));
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// The 1-based rank of the order statistic that bounds the p-quantile from
/// above with [`CONFIDENCE`], or `None` when `n` runs are too few.
pub fn upper_rank(n: usize, p: f64) -> Option<usize> {
    assert!(p > 0.0 && p < 1.0, "quantile {p} outside (0, 1)");
    // P(Binomial(n, p) <= k - 1), summed in log space: n may be 10^6.
    let (ln_p, ln_q) = (p.ln(), (1.0 - p).ln());
    let mut ln_pmf = n as f64 * ln_q; // P(B = 0)
    let mut cdf = 0.0;
    for k in 1..=n {
        cdf += ln_pmf.exp();
        if cdf >= CONFIDENCE {
            return Some(k);
        }
        // P(B = k) from P(B = k - 1).
        let j = (k - 1) as f64;
        ln_pmf += ((n as f64 - j) / (j + 1.0)).ln() + ln_p - ln_q;
    }
    None
}

/// The upper confidence bound of the p-quantile of `sorted` (`None`: no
/// finite bound, either too few runs or the bounding run never recovered).
pub fn upper_bound(sorted: &[Option<f64>], p: f64) -> Option<f64> {
    upper_rank(sorted.len(), p).and_then(|k| sorted[k - 1])
}

/// The 1-based rank of the order statistic that bounds the p-quantile from
/// below with [`CONFIDENCE`], or `None` when `n` runs are too few. By
/// symmetry it is the upper bound of the (1 − p)-quantile counted from the
/// largest value down: P(Binomial(n, p) ≥ k) ≥ 95 %.
pub fn lower_rank(n: usize, p: f64) -> Option<usize> {
    upper_rank(n, 1.0 - p).map(|k| n - k + 1)
}

/// The lower confidence bound of the p-quantile of `sorted` (`None`: too
/// few runs, or the bounding run never recovered).
pub fn lower_bound(sorted: &[Option<f64>], p: f64) -> Option<f64> {
    lower_rank(sorted.len(), p).and_then(|k| sorted[k - 1])
}

/// The fewest runs whose largest value bounds the p-quantile from above.
pub fn runs_needed(p: f64) -> u64 {
    ((1.0 - CONFIDENCE).ln() / p.ln()).ceil() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_known_minimum_run_counts() {
        assert_eq!(runs_needed(0.99), 299);
        assert_eq!(runs_needed(0.95), 59);
        assert_eq!(runs_needed(0.50), 5);
        assert_eq!(upper_rank(298, 0.99), None);
        assert_eq!(upper_rank(299, 0.99), Some(299));
        assert_eq!(upper_rank(4, 0.5), None);
        assert_eq!(upper_rank(5, 0.5), Some(5));
    }

    #[test]
    fn the_bound_rank_matches_the_binomial_tail() {
        // n = 100, p = 0.5: P(B <= 58) = 0.9557 and P(B <= 57) = 0.9334.
        assert_eq!(upper_rank(100, 0.5), Some(59));
        // And from below: P(B >= 42) = 0.9557, P(B >= 43) = 0.9334.
        assert_eq!(lower_rank(100, 0.5), Some(42));
        // A lower bound of p99 needs few runs, an upper bound 299.
        assert_eq!(lower_rank(20, 0.99), Some(19));
        assert_eq!(upper_rank(20, 0.99), None);
        // Large samples: the bound approaches the quantile's own rank.
        let k = upper_rank(1_000_000, 0.99).unwrap();
        assert!((990_000..990_200).contains(&k), "{k}");
    }

    #[test]
    fn bounds_come_from_the_sample() {
        let xs: Vec<Option<f64>> = (1..=100).map(|x| Some(x as f64)).collect();
        assert_eq!(nearest_rank(&xs, 0.5), Some(50.0));
        assert_eq!(upper_bound(&xs, 0.5), Some(59.0));
        assert_eq!(upper_bound(&xs, 0.99), None, "100 runs cannot bound p99");
    }
}
