//! Pure statistics helpers: order statistics, robust scale, Student's t,
//! Benjamini-Hochberg. No I/O, no flamegate types.

use statrs::distribution::{ContinuousCDF, StudentsT};

/// Scale factor that makes the MAD estimate a normal standard deviation.
pub const MAD_TO_SD: f64 = 1.4826;

/// Median of `values` (NaN-free, non-empty; NaN for empty input).
pub fn median(values: &[f64]) -> f64 {
    quantile(values, 0.5)
}

/// The median of repeated measurements of one thing (counts: instructions,
/// allocations, peak memory) and their relative spread, max − min over min:
/// its own A/A jitter, which deterministic code does not have. The spread
/// is 0 where every value is 0, infinite where only the smallest is; both
/// are 0 for no values.
pub fn median_and_spread(values: &[f64]) -> (f64, f64) {
    if values.is_empty() {
        return (0.0, 0.0);
    }
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let spread = if min == 0.0 {
        if max == 0.0 { 0.0 } else { f64::INFINITY }
    } else {
        (max - min) / min
    };
    (median(values), spread)
}

/// Quantile `q` in [0, 1], linear interpolation between order statistics
/// (Hyndman-Fan type 7, as R and numpy default to).
pub fn quantile(values: &[f64], q: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let position = q.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let lower = position.floor() as usize;
    let upper = position.ceil() as usize;
    let fraction = position - lower as f64;
    sorted[lower] + (sorted[upper] - sorted[lower]) * fraction
}

pub fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}

/// Median absolute deviation from the median (unscaled).
pub fn mad(values: &[f64]) -> f64 {
    let center = median(values);
    let deviations: Vec<f64> = values.iter().map(|v| (v - center).abs()).collect();
    median(&deviations)
}

/// Robust standard error of the median of `values`: the normal-theory
/// `1.2533 * sd / sqrt(n)` with the sd estimated from the MAD.
pub fn median_standard_error(values: &[f64]) -> f64 {
    1.2533 * MAD_TO_SD * mad(values) / (values.len() as f64).sqrt()
}

fn students_t(df: f64) -> StudentsT {
    StudentsT::new(0.0, 1.0, df.max(1.0)).expect("location 0, scale 1 and df >= 1 are valid")
}

/// P(T > x) for Student's t with `df` degrees of freedom.
pub fn t_sf(x: f64, df: f64) -> f64 {
    students_t(df).sf(x)
}

/// P(T <= x) for Student's t with `df` degrees of freedom.
pub fn t_cdf(x: f64, df: f64) -> f64 {
    students_t(df).cdf(x)
}

/// The `p` quantile of the standard normal distribution.
pub fn normal_quantile(p: f64) -> f64 {
    statrs::distribution::Normal::standard().inverse_cdf(p)
}

/// The `p` quantile of Student's t with `df` degrees of freedom.
pub fn t_quantile(p: f64, df: f64) -> f64 {
    students_t(df).inverse_cdf(p)
}

/// Walsh averages `(x_i + x_j) / 2` for `i <= j`, sorted.
fn walsh_averages(values: &[f64]) -> Vec<f64> {
    let mut averages = Vec::with_capacity(values.len() * (values.len() + 1) / 2);
    for (i, a) in values.iter().enumerate() {
        for b in &values[i..] {
            averages.push((a + b) / 2.0);
        }
    }
    averages.sort_by(f64::total_cmp);
    averages
}

/// Hodges-Lehmann estimate of the center of `values` (the median of the
/// Walsh averages) and its confidence interval at `confidence`, from the
/// signed-rank distribution (normal approximation): the k-th smallest and
/// largest Walsh averages.
pub fn hodges_lehmann(values: &[f64], confidence: f64) -> (f64, (f64, f64)) {
    let averages = walsh_averages(values);
    let estimate = median(&averages);
    let n = values.len() as f64;
    let total = averages.len();
    let z = statrs::distribution::Normal::standard().inverse_cdf(1.0 - (1.0 - confidence) / 2.0);
    let k = (n * (n + 1.0) / 4.0 - z * (n * (n + 1.0) * (2.0 * n + 1.0) / 24.0).sqrt()).floor();
    let k = if k < 0.0 { 0 } else { k as usize };
    let k = k.min(total.saturating_sub(1) / 2);
    (estimate, (averages[k], averages[total - 1 - k]))
}

/// Huber's M-estimate of the center of `values` (tuning constant 1.345,
/// scale fixed at the normalised MAD) and its asymptotic standard error;
/// None when the MAD is zero (more than half the values equal).
pub fn huber(values: &[f64]) -> Option<(f64, f64)> {
    const K: f64 = 1.345;
    let n = values.len() as f64;
    let scale = MAD_TO_SD * mad(values);
    if scale <= 0.0 || !scale.is_finite() {
        return None;
    }
    let psi = |u: f64| u.clamp(-K, K);
    let mut center = median(values);
    for _ in 0..50 {
        let step = values
            .iter()
            .map(|v| psi((v - center) / scale))
            .sum::<f64>()
            / n;
        let inside = values
            .iter()
            .filter(|v| ((*v - center) / scale).abs() <= K)
            .count() as f64
            / n;
        if inside == 0.0 {
            break;
        }
        let moved = scale * step / inside;
        center += moved;
        if moved.abs() < 1e-12 * scale.max(center.abs()) {
            break;
        }
    }
    let u: Vec<f64> = values.iter().map(|v| (v - center) / scale).collect();
    let psi_squared = u.iter().map(|u| psi(*u).powi(2)).sum::<f64>() / n;
    let inside = u.iter().filter(|u| u.abs() <= K).count() as f64 / n;
    if inside == 0.0 {
        return None;
    }
    Some((
        center,
        scale * (psi_squared / inside.powi(2)).sqrt() / n.sqrt(),
    ))
}

/// Wilcoxon's signed-rank test, one-sided: P(W+ >= observed) when the
/// values are symmetric about zero, exact (ties get average ranks, zeros
/// are dropped); 1 for no non-zero values.
pub fn signed_rank_p_greater(values: &[f64]) -> f64 {
    let mut nonzero: Vec<f64> = values.iter().copied().filter(|v| *v != 0.0).collect();
    let n = nonzero.len();
    if n == 0 {
        return 1.0;
    }
    nonzero.sort_by(|a, b| a.abs().total_cmp(&b.abs()));
    // Doubled average ranks: integers even with ties.
    let mut doubled = vec![0usize; n];
    let mut i = 0;
    while i < n {
        let mut j = i;
        while j + 1 < n && nonzero[j + 1].abs() == nonzero[i].abs() {
            j += 1;
        }
        for rank in &mut doubled[i..=j] {
            *rank = i + j + 2;
        }
        i = j + 1;
    }
    let observed: usize = nonzero
        .iter()
        .zip(&doubled)
        .filter(|(v, _)| **v > 0.0)
        .map(|(_, r)| r)
        .sum();
    // ways[s]: sign patterns whose positive doubled ranks sum to s.
    let total: usize = doubled.iter().sum();
    let mut ways = vec![0f64; total + 1];
    ways[0] = 1.0;
    for &rank in &doubled {
        for s in (rank..=total).rev() {
            ways[s] += ways[s - rank];
        }
    }
    let at_least: f64 = ways[observed..].iter().sum();
    at_least / 2f64.powi(n as i32)
}

/// Benjamini-Hochberg adjusted p-values (step-up): a test is rejected at
/// false discovery rate `q` exactly when its adjusted value is `<= q`.
pub fn benjamini_hochberg(p_values: &[f64]) -> Vec<f64> {
    let m = p_values.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| p_values[a].total_cmp(&p_values[b]));
    let mut adjusted = vec![1.0; m];
    let mut running_min: f64 = 1.0;
    for (rank, &index) in order.iter().enumerate().rev() {
        // m / rank first: exactly 1.0 at the largest rank, so no rounding below p.
        let scaled = p_values[index] * (m as f64 / (rank + 1) as f64);
        running_min = running_min.min(scaled);
        adjusted[index] = running_min.clamp(0.0, 1.0);
    }
    adjusted
}

/// Benchmarks needed before a common (machine) shift is estimated: a median
/// over fewer would swallow real changes. In the demo's five benchmarks,
/// three got 25-40% faster from code layout alone and "agreed" on a -31%
/// machine shift that never happened.
pub const MIN_BENCHES_FOR_SHIFT: usize = 8;
/// The shift common to all benchmarks of a run (log space), when it is
/// clearly there: the median offset, kept only when larger than twice its
/// standard error. With few or scattered benchmarks a median would add noise
/// rather than remove it (seen in the demo: two huge regressions and layout
/// effects made a same-machine run look 22% "faster").
pub fn common_shift(offsets: &[f64]) -> Option<f64> {
    if offsets.len() < MIN_BENCHES_FOR_SHIFT {
        return None;
    }
    let shift = median(offsets);
    (shift.abs() > 2.0 * median_standard_error(offsets)).then_some(shift)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn quantiles_match_reference_values() {
        let v = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(median(&v), 2.5);
        assert_eq!(quantile(&v, 0.0), 1.0);
        assert_eq!(quantile(&v, 1.0), 4.0);
        assert!((quantile(&v, 0.95) - 3.85).abs() < 1e-12);
        assert_eq!(mad(&[1.0, 1.0, 2.0, 2.0, 4.0, 6.0, 9.0]), 1.0);
    }

    #[test]
    fn t_distribution_matches_tables() {
        // Two-sided 95% critical values from standard t tables.
        assert!((t_quantile(0.975, 4.0) - 2.776).abs() < 1e-3);
        assert!((t_quantile(0.975, 30.0) - 2.042).abs() < 1e-3);
        assert!((t_sf(0.0, 7.0) - 0.5).abs() < 1e-12);
    }

    #[test]
    fn hodges_lehmann_matches_a_worked_example() {
        // Walsh averages of [1, 2, 4]: 1, 1.5, 2, 2.5, 3, 4 -> median 2.25.
        let (estimate, (low, high)) = hodges_lehmann(&[1.0, 2.0, 4.0], 0.95);
        assert_eq!(estimate, 2.25);
        assert_eq!((low, high), (1.0, 4.0), "too few values: the full range");
    }

    #[test]
    fn signed_rank_matches_exact_tables() {
        // All of n positive: 2^-n.
        assert_eq!(
            signed_rank_p_greater(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]),
            1.0 / 64.0
        );
        // n = 5, W+ = 13 of 15: P(W+ >= 13) = 3/32 (R: wilcox.test(c(-2, 1, 3, 4, 5),
        // alternative = "greater")$p.value = 0.09375).
        assert_eq!(signed_rank_p_greater(&[-2.0, 1.0, 3.0, 4.0, 5.0]), 0.09375);
        assert_eq!(signed_rank_p_greater(&[-1.0, -2.0]), 1.0);
    }

    #[test]
    fn huber_ignores_one_wild_value_where_the_mean_does_not() {
        let mut values = vec![0.10, 0.12, 0.09, 0.11, 0.10, 0.08, 0.11, 0.10];
        values.push(-0.9);
        let (center, se) = huber(&values).unwrap();
        assert!((center - 0.10).abs() < 0.02, "{center}");
        assert!(mean(&values) < 0.0, "the mean is dragged below zero");
        assert!(se > 0.0 && se < 0.02, "{se}");
        assert_eq!(huber(&[1.0, 1.0, 1.0, 2.0]), None, "no spread to scale by");
    }

    #[test]
    fn bh_matches_a_worked_example() {
        // Benjamini & Hochberg (1995) style: m = 4.
        let adjusted = benjamini_hochberg(&[0.01, 0.04, 0.03, 0.5]);
        let expected = [0.04, 0.0533333, 0.0533333, 0.5];
        for (a, e) in adjusted.iter().zip(expected) {
            assert!((a - e).abs() < 1e-6, "{adjusted:?}");
        }
    }

    proptest! {
        #[test]
        fn bh_never_rejects_more_than_per_test(p in prop::collection::vec(0.0f64..=1.0, 1..60), q in 0.001f64..0.2) {
            let adjusted = benjamini_hochberg(&p);
            for (raw, adj) in p.iter().zip(&adjusted) {
                prop_assert!(adj >= raw);
                if *adj <= q { prop_assert!(*raw <= q); }
            }
        }

        #[test]
        fn bh_preserves_order(p in prop::collection::vec(0.0f64..=1.0, 1..60)) {
            let adjusted = benjamini_hochberg(&p);
            for i in 0..p.len() { for j in 0..p.len() {
                if p[i] < p[j] { prop_assert!(adjusted[i] <= adjusted[j]); }
            }}
        }

        #[test]
        fn hodges_lehmann_interval_contains_its_estimate(v in prop::collection::vec(-1.0f64..1.0, 1..40), shift in -1.0f64..1.0) {
            let (estimate, (low, high)) = hodges_lehmann(&v, 0.95);
            prop_assert!(low <= estimate && estimate <= high);
            // Equivariant under shifts.
            let shifted: Vec<f64> = v.iter().map(|x| x + shift).collect();
            let (moved, _) = hodges_lehmann(&shifted, 0.95);
            prop_assert!((moved - estimate - shift).abs() < 1e-9);
        }

        #[test]
        fn median_lies_between_min_and_max(v in prop::collection::vec(-1e9f64..1e9, 1..100)) {
            let m = median(&v);
            let lo = v.iter().cloned().fold(f64::INFINITY, f64::min);
            let hi = v.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            prop_assert!(lo <= m && m <= hi);
            prop_assert!(mad(&v) >= 0.0);
        }
    }
}
