//! What both scorers build on (`score` for the corpus's rules, `synthetic`
//! for injected changes): a rate with its exact interval, the rounds a
//! fixed plan counts, and records replayed from round medians.

use std::collections::BTreeMap;

use serde::Serialize;
use statrs::distribution::{Beta, ContinuousCDF};

use crate::record::paired::RoundMedians;
use crate::record::paired::counted_rounds;
use crate::record::{BenchId, BenchResult, RECORD_SCHEMA, RunRecord};

/// A proportion with its Clopper-Pearson 95% interval.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Rate {
    pub hits: usize,
    pub n: usize,
    pub rate: f64,
    pub low: f64,
    pub high: f64,
}

impl Rate {
    pub fn new(hits: usize, n: usize) -> Rate {
        let (low, high) = clopper_pearson(hits, n, 0.95);
        Rate {
            hits,
            n,
            rate: if n == 0 {
                f64::NAN
            } else {
                hits as f64 / n as f64
            },
            low,
            high,
        }
    }
}

/// Exact binomial interval: Beta quantiles of the hits.
pub fn clopper_pearson(hits: usize, n: usize, confidence: f64) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let alpha = 1.0 - confidence;
    let (k, n) = (hits as f64, n as f64);
    let low = if hits == 0 {
        0.0
    } else {
        Beta::new(k, n - k + 1.0)
            .expect("positive shapes")
            .inverse_cdf(alpha / 2.0)
    };
    let high = if hits as f64 == n {
        1.0
    } else {
        Beta::new(k + 1.0, n - k)
            .expect("positive shapes")
            .inverse_cdf(1.0 - alpha / 2.0)
    };
    (low, high)
}

/// Rounds a fixed plan of `wanted` rounds gives a benchmark: `wanted`, and
/// more in place of disturbed ones (`collect::paired`'s re-runs, up to half
/// as many again), as far as the trial's rounds go.
pub fn fixed_rounds(rounds: &[RoundMedians], wanted: usize) -> usize {
    let most = (wanted + wanted.div_ceil(2)).min(rounds.len());
    (wanted.min(most)..=most)
        .find(|&n| counted_rounds(&rounds[..n]).count() >= wanted)
        .unwrap_or(most)
}

pub fn bench_result(id: &BenchId, samples: Vec<f64>) -> BenchResult {
    BenchResult::new(
        id.clone(),
        id.as_str()
            .split('/')
            .next()
            .unwrap_or_default()
            .to_string(),
        crate::record::SampleUnit::Nanoseconds,
        samples,
    )
}

/// Both sides' records of a replayed paired run whose rounds are only
/// medians: each side's round medians as its samples.
pub fn paired_records(
    round_medians: &BTreeMap<BenchId, Vec<RoundMedians>>,
    machine: &crate::record::Machine,
) -> (RunRecord, RunRecord) {
    let side = |of: fn(&RoundMedians) -> f64| RunRecord {
        same_code: Default::default(),
        schema: RECORD_SCHEMA,
        commit: None,
        dirty: false,
        machine: machine.clone(),
        created: time::OffsetDateTime::UNIX_EPOCH,
        shard: None,
        benches: round_medians
            .iter()
            .map(|(id, rounds)| bench_result(id, rounds.iter().map(of).collect()))
            .collect(),
    };
    (side(|r| r.base), side(|r| r.head))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clopper_pearson_matches_reference_values() {
        // R: binom.test(0, 299)$conf.int, binom.test(5, 20)$conf.int
        let (low, high) = clopper_pearson(0, 299, 0.95);
        assert_eq!(low, 0.0);
        assert!((high - 0.012_261).abs() < 1e-5, "{high}");
        let (low, high) = clopper_pearson(5, 20, 0.95);
        assert!((low - 0.086_57).abs() < 1e-4, "{low}");
        assert!((high - 0.491_04).abs() < 1e-4, "{high}");
    }
}
