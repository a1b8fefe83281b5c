//! criterion 0.8's own verdict, recomputed on pooled samples: a
//! bootstrapped Welch t (p < 0.05) and the 95% interval of the change in
//! mean above its +1% noise threshold. What `eval score` holds flamegate's
//! rules against.

use crate::stats;

/// criterion's bootstrap resamples (criterion uses 100,000; 2,000 keeps
/// scoring fast and moves p-values by well under 0.01).
const CRITERION_RESAMPLES: usize = 2_000;

const CRITERION_SIGNIFICANCE: f64 = 0.05;

const CRITERION_NOISE_THRESHOLD: f64 = 0.01;

/// criterion 0.8's verdict (analysis/compare.rs): the two-tailed p-value of
/// Welch's t from a bootstrap of both samples joined (the null), and the
/// bootstrapped 95% interval of the relative change in mean; "regressed"
/// when p < 0.05 and the whole interval lies above the noise threshold.
pub fn criterion_regressed(base: &[f64], head: &[f64], seed: u64) -> bool {
    if base.len() < 2 || head.len() < 2 {
        return false;
    }
    let mut rng = fastrand::Rng::with_seed(seed);
    let t = welch_t(head, base);
    let joined: Vec<f64> = base.iter().chain(head).copied().collect();
    let mut below = 0usize;
    let resample = |from: &[f64], n: usize, rng: &mut fastrand::Rng| -> Vec<f64> {
        (0..n).map(|_| from[rng.usize(..from.len())]).collect()
    };
    for _ in 0..CRITERION_RESAMPLES {
        let a = resample(&joined, head.len(), &mut rng);
        let b = resample(&joined, base.len(), &mut rng);
        if welch_t(&a, &b) < t {
            below += 1;
        }
    }
    let share = below as f64 / CRITERION_RESAMPLES as f64;
    let p = 2.0 * share.min(1.0 - share);
    if p >= CRITERION_SIGNIFICANCE {
        return false;
    }
    let mut changes: Vec<f64> = (0..CRITERION_RESAMPLES)
        .map(|_| {
            let a = resample(head, head.len(), &mut rng);
            let b = resample(base, base.len(), &mut rng);
            stats::mean(&a) / stats::mean(&b) - 1.0
        })
        .collect();
    changes.sort_by(f64::total_cmp);
    let low = stats::quantile(&changes, 0.025);
    low > CRITERION_NOISE_THRESHOLD
}

fn welch_t(a: &[f64], b: &[f64]) -> f64 {
    let variance = |v: &[f64]| {
        let m = stats::mean(v);
        v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (v.len() - 1) as f64
    };
    let se = (variance(a) / a.len() as f64 + variance(b) / b.len() as f64).sqrt();
    if se == 0.0 {
        return 0.0;
    }
    (stats::mean(a) - stats::mean(b)) / se
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn criterions_rule_flags_a_clear_slowdown_and_not_identical_samples() {
        let base: Vec<f64> = (0..60).map(|i| 100.0 + (i % 7) as f64 * 0.1).collect();
        let slow: Vec<f64> = base.iter().map(|v| v * 1.05).collect();
        assert!(criterion_regressed(&base, &slow, 1));
        assert!(!criterion_regressed(&base, &base, 1));
        // Slower, but by less than criterion's 1% noise threshold.
        let slight: Vec<f64> = base.iter().map(|v| v * 1.005).collect();
        assert!(!criterion_regressed(&base, &slight, 1));
    }
}
