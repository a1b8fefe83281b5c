//! The stored comparison's noise model: each benchmark's level and
//! run-to-run spread, from the baseline's history of records.

use crate::record::{BenchId, BenchResult, RunRecord};
use crate::stats::{MAD_TO_SD, common_shift, median};

/// Prior degrees of freedom when pooling the noise of benchmarks with short
/// histories (moderated variance, Smyth 2004).
const PRIOR_DF: f64 = 4.0;

/// How many standard deviations of a two-run difference an earlier record
/// may sit from the baseline record and still describe the same level.
const LEVEL_BREAK: f64 = 3.0;

/// Pooling needs this many benchmarks with a history to estimate the prior.
const MIN_BENCHES_FOR_POOLING: usize = 4;

/// Each benchmark's level and run-to-run noise, from the baseline's history.
///
/// The spread comes from differences between consecutive records (newest
/// first), not from deviations around a center: main's history holds real
/// changes too, and a level shift spoils one difference but every deviation
/// after it. Each pair's common shift (machine speed) is removed first.
///
/// The level is the median of the baseline record and the earlier records
/// that agree with it, walking back until the first that does not (more than
/// `LEVEL_BREAK` standard deviations of a difference away): after a change
/// was accepted on main, older records no longer describe the base.
pub(super) struct NoiseModel {
    /// Log-space level of each benchmark at the base.
    pub centers: Vec<f64>,
    /// Records averaged into each level.
    pub center_len: Vec<usize>,
    /// Robust standard deviation of one run's log median, per benchmark
    /// (None without at least one pair of records).
    spreads: Vec<Option<f64>>,
    /// Consecutive differences behind each spread.
    differences: Vec<usize>,
    /// Records holding each benchmark.
    pub history_len: Vec<usize>,
    /// Pooled prior variance, when enough benchmarks have a history.
    prior_variance: Option<f64>,
}

impl NoiseModel {
    pub fn fit(records: &[&RunRecord], shared: &[&BenchId]) -> NoiseModel {
        // values[r][b]: log median of benchmark b in record r.
        let values: Vec<Vec<Option<f64>>> = records
            .iter()
            .map(|r| {
                shared
                    .iter()
                    .map(|id| r.bench(id).map(log_median))
                    .collect()
            })
            .collect();
        let mut differences: Vec<Vec<f64>> = vec![Vec::new(); shared.len()];
        for pair in values.windows(2) {
            let diffs: Vec<Option<f64>> = pair[0]
                .iter()
                .zip(&pair[1])
                .map(|(newer, older)| Some(newer.as_ref()? - older.as_ref()?))
                .collect();
            let present: Vec<f64> = diffs.iter().flatten().copied().collect();
            let shift = common_shift(&present).unwrap_or(0.0);
            for (b, d) in diffs.iter().enumerate() {
                if let Some(d) = d {
                    differences[b].push(d - shift);
                }
            }
        }
        // A difference of two runs has sqrt(2) times a run's spread; its
        // center is zero for a stable benchmark.
        let spreads: Vec<Option<f64>> = differences
            .iter()
            .map(|d| {
                let absolute: Vec<f64> = d.iter().map(|x| x.abs()).collect();
                (!d.is_empty()).then(|| MAD_TO_SD * median(&absolute) / std::f64::consts::SQRT_2)
            })
            .collect();
        let variances: Vec<f64> = spreads.iter().flatten().map(|s| s * s).collect();
        let prior_variance =
            (variances.len() >= MIN_BENCHES_FOR_POOLING).then(|| median(&variances));
        let mut model = NoiseModel {
            centers: Vec::new(),
            center_len: Vec::new(),
            spreads,
            differences: differences.iter().map(Vec::len).collect(),
            history_len: (0..shared.len())
                .map(|b| values.iter().filter(|row| row[b].is_some()).count())
                .collect(),
            prior_variance,
        };
        // Align each record with the baseline record (machine speed), then
        // take each benchmark's level from the records that agree with it.
        let aligned: Vec<Vec<Option<f64>>> = values
            .iter()
            .map(|row| {
                let offsets: Vec<f64> = row
                    .iter()
                    .zip(&values[0])
                    .filter_map(|(v, base)| Some(v.as_ref()? - base.as_ref()?))
                    .collect();
                let shift = common_shift(&offsets).unwrap_or(0.0);
                row.iter().map(|v| v.map(|v| v - shift)).collect()
            })
            .collect();
        for b in 0..shared.len() {
            let base = values[0][b].expect("shared benchmarks are in the baseline record");
            let limit = model
                .scale(b)
                .map(|(sigma, _)| LEVEL_BREAK * sigma * std::f64::consts::SQRT_2);
            let mut level = vec![base];
            for row in aligned.iter().skip(1) {
                let Some(value) = row[b] else { continue };
                match limit {
                    Some(limit) if (value - base).abs() <= limit => level.push(value),
                    _ => break,
                }
            }
            model.centers.push(median(&level));
            model.center_len.push(level.len());
        }
        model
    }

    /// (sigma, degrees of freedom) for benchmark `b`, moderated toward the
    /// suite's pooled variance; None without history.
    pub fn scale(&self, b: usize) -> Option<(f64, f64)> {
        let sigma = self.spreads[b]?;
        let df = self.differences[b] as f64;
        Some(match self.prior_variance {
            Some(prior) => {
                let variance = (PRIOR_DF * prior + df * sigma * sigma) / (PRIOR_DF + df);
                (variance.sqrt(), PRIOR_DF + df)
            }
            None => (sigma, df),
        })
    }
}

pub(super) fn logs(bench: &BenchResult) -> Vec<f64> {
    bench.samples.iter().map(|s| s.ln()).collect()
}

pub(super) fn log_median(bench: &BenchResult) -> f64 {
    median(&bench.samples).ln()
}
