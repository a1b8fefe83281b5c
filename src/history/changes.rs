//! Level shifts in a benchmark's history: the one place that decides them.
//!
//! Method: PELT (Killick, Fearnhead & Eckley 2012) over the log of each
//! record's median, with the Gaussian change-in-mean cost and the MBIC
//! penalty `3 ln n` (Zhang & Siegmund 2007; the default of R's
//! `changepoint`). PELT finds the exact optimum of the penalised cost in
//! about linear time, so 1,000 benchmarks × 500 commits take milliseconds,
//! and it is deterministic: the same history always gives the same commits.
//! E-divisive means (MongoDB's detector, now Apache Otava) also finds
//! changes of shape, but costs O(n²) per split and its permutation test is
//! random; Otava itself replaced the permutations with a Student's t-test
//! for speed and repeatability. Here each split PELT proposes is then tested
//! the same way: a t-test of the two neighbouring segments' log levels
//! against the series' noise, Benjamini-Hochberg adjusted over every
//! proposed split of the suite, and kept only when it is significant and at
//! least the practical threshold in size.
//!
//! The noise `σ` is estimated from the series itself, robustly, as the MAD
//! of its first differences / √2: a level shift is one large difference and
//! barely moves it, a lone outlier neither. A segment is at least two
//! records long, so one disturbed record is never a "level".

use crate::report::history::{ChangePoint, ShiftCause};
use crate::stats::{MAD_TO_SD, benjamini_hochberg, median, t_sf};

/// Adjusted p-value below which a proposed split is a change.
pub const ALPHA: f64 = 0.01;
/// The fewest records a level spans.
const MIN_SEGMENT: usize = 2;
/// The smallest noise assumed (0.01% in log): exact instruction counts
/// would otherwise make every difference infinitely significant; the
/// practical threshold then decides.
const MIN_NOISE: f64 = 1e-4;

/// One benchmark's series, points present only.
#[derive(Default)]
pub struct Series {
    /// Index into the history's commits of each value.
    pub commit_index: Vec<usize>,
    /// The record's median with the machine's common shift removed (what
    /// is tested).
    pub level: Vec<f64>,
    /// The record's median as measured (what is shown).
    pub measured: Vec<f64>,
    /// Declared input per iteration, if any.
    pub input: Vec<Option<u64>>,
    /// A digest of what the benchmark executed (`BenchResult::executed`),
    /// where the record kept one.
    pub executed: Vec<Option<String>>,
}

/// A split PELT proposed, with its p-value before adjustment.
pub struct Candidate {
    /// Position in the series (not the commit index) of the first value of
    /// the new level.
    pub at: usize,
    pub p_value: f64,
}

/// Robust noise of a log series: MAD of the first differences / √2.
pub fn noise(logs: &[f64]) -> f64 {
    if logs.len() < 3 {
        return MIN_NOISE;
    }
    let differences: Vec<f64> = logs.windows(2).map(|w| w[1] - w[0]).collect();
    let center = median(&differences);
    let deviations: Vec<f64> = differences.iter().map(|d| (d - center).abs()).collect();
    (MAD_TO_SD * median(&deviations) / std::f64::consts::SQRT_2).max(MIN_NOISE)
}

/// The splits of the optimal segmentation of `logs` (PELT, change in mean,
/// known `sigma`), as positions of each new segment's first value.
pub fn pelt(logs: &[f64], sigma: f64) -> Vec<usize> {
    let n = logs.len();
    if n < 2 * MIN_SEGMENT {
        return Vec::new();
    }
    let mut sum = vec![0.0; n + 1];
    let mut squares = vec![0.0; n + 1];
    for (i, y) in logs.iter().enumerate() {
        sum[i + 1] = sum[i] + y;
        squares[i + 1] = squares[i] + y * y;
    }
    let variance = sigma * sigma;
    // The Gaussian cost of one segment [s, t): its squared deviations from
    // its own mean, in units of the noise.
    let cost = |s: usize, t: usize| {
        let count = (t - s) as f64;
        let total = sum[t] - sum[s];
        ((squares[t] - squares[s]) - total * total / count).max(0.0) / variance
    };
    let penalty = 3.0 * (n as f64).ln();
    let mut best = vec![f64::INFINITY; n + 1];
    let mut previous = vec![0usize; n + 1];
    best[0] = -penalty;
    let mut starts: Vec<usize> = Vec::new();
    for t in MIN_SEGMENT..=n {
        // A segment may start at 0 or where an admissible one ended.
        let new_start = t - MIN_SEGMENT;
        if new_start == 0 || new_start >= MIN_SEGMENT {
            starts.push(new_start);
        }
        let (argmin, value) = starts
            .iter()
            .map(|&s| (s, best[s] + cost(s, t) + penalty))
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .expect("0 is always a start");
        best[t] = value;
        previous[t] = argmin;
        // PELT's pruning: a start that cannot beat `t` now never will.
        starts.retain(|&s| best[s] + cost(s, t) <= best[t]);
        if starts.is_empty() {
            starts.push(argmin);
        }
    }
    let mut splits = Vec::new();
    let mut t = n;
    while t > 0 {
        let s = previous[t];
        if s > 0 {
            splits.push(s);
        }
        t = s;
    }
    splits.reverse();
    splits
}

/// A series' log levels.
fn logs_of(series: &Series) -> Vec<f64> {
    series
        .level
        .iter()
        .map(|v| v.max(f64::MIN_POSITIVE).ln())
        .collect()
}

/// Prior degrees of freedom given to the suite's typical noise when it
/// moderates a series' own (few records estimate noise poorly).
const PRIOR_DF: f64 = 4.0;
/// Series needed before the suite's typical noise is used as a prior.
const MIN_SERIES_FOR_PRIOR: usize = 4;

/// Each series' noise and its degrees of freedom: its own estimate,
/// moderated by the suite's typical noise (Smyth 2004's moderated
/// variance, as the stored comparison pools noise): five records alone
/// give a t-test three degrees of freedom.
fn moderated_noise(all: &[Series]) -> Vec<(f64, f64)> {
    let own: Vec<(f64, f64)> = all
        .iter()
        .map(|series| {
            let logs = logs_of(series);
            (noise(&logs), logs.len().saturating_sub(2).max(1) as f64)
        })
        .collect();
    let usable: Vec<f64> = all
        .iter()
        .zip(&own)
        .filter(|(series, _)| series.level.len() >= 3)
        .map(|(_, (sigma, _))| sigma * sigma)
        .collect();
    if usable.len() < MIN_SERIES_FOR_PRIOR {
        return own;
    }
    let prior = median(&usable);
    own.into_iter()
        .map(|(sigma, df)| {
            let variance = (PRIOR_DF * prior + df * sigma * sigma) / (PRIOR_DF + df);
            (variance.sqrt().max(MIN_NOISE), df + PRIOR_DF)
        })
        .collect()
}

/// PELT's splits of one series with each one's two-sided p-value: a t-test
/// of the mean log level of the segments on either side against the
/// noise `sigma` (with `df` degrees of freedom).
pub fn candidates(series: &Series, sigma: f64, df: f64) -> Vec<Candidate> {
    let logs = logs_of(series);
    let splits = pelt(&logs, sigma);
    let mut bounds = vec![0];
    bounds.extend(&splits);
    bounds.push(logs.len());
    let mean = |s: usize, t: usize| logs[s..t].iter().sum::<f64>() / (t - s) as f64;
    bounds
        .windows(3)
        .map(|w| {
            let (a, k, b) = (w[0], w[1], w[2]);
            let spread = sigma * (1.0 / (k - a) as f64 + 1.0 / (b - k) as f64).sqrt();
            let t = (mean(k, b) - mean(a, k)).abs() / spread;
            // PELT picked this split as the best of n − 1 positions: the
            // p-value of the best of many is multiplied by their number
            // (Bonferroni), else flat noise yields "changes" (a unit test).
            let positions = (logs.len() - 1) as f64;
            Candidate {
                at: k,
                p_value: (2.0 * t_sf(t, df) * positions).min(1.0),
            }
        })
        .collect()
}

/// The level shifts of every series of a suite: PELT's candidates,
/// adjusted together, kept when significant and at least `min_change`;
/// levels are the medians of the kept segments. `machine_changed[i]` says
/// commit `i`'s record came from another machine than the one before.
pub fn level_shifts(
    all: &[Series],
    commits: &[String],
    machine_changed: &[bool],
    min_change: f64,
) -> Vec<Vec<ChangePoint>> {
    let proposed: Vec<Vec<Candidate>> = all
        .iter()
        .zip(moderated_noise(all))
        .map(|(series, (sigma, df))| candidates(series, sigma, df))
        .collect();
    let p_values: Vec<f64> = proposed.iter().flatten().map(|c| c.p_value).collect();
    let mut adjusted = benjamini_hochberg(&p_values).into_iter();
    all.iter()
        .zip(proposed)
        .map(|(series, candidates)| {
            let kept: Vec<(usize, f64)> = candidates
                .iter()
                .map(|c| (c.at, adjusted.next().unwrap_or(1.0)))
                .filter(|(_, p)| *p < ALPHA)
                .collect();
            shifts_of(series, &kept, commits, machine_changed, min_change)
        })
        .collect()
}

/// The kept splits of one series as change points, levels from the
/// segments between them; splits below the practical threshold merge away.
fn shifts_of(
    series: &Series,
    kept: &[(usize, f64)],
    commits: &[String],
    machine_changed: &[bool],
    min_change: f64,
) -> Vec<ChangePoint> {
    let mut splits = at_code_changes(series, kept, machine_changed);
    // Dropping a split merges two levels, which can shrink a neighbour's
    // shift below the threshold: repeat until every split is large enough
    // and every short level is one.
    loop {
        let levels = segment_levels(&series.level, &splits);
        let size = |i: usize| (levels[i + 1] / levels[i]).ln().abs();
        let small = splits
            .iter()
            .enumerate()
            .filter(|(i, _)| (levels[i + 1] / levels[*i] - 1.0).abs() < min_change)
            .min_by(|a, b| size(a.0).total_cmp(&size(b.0)))
            .map(|(i, _)| i);
        let drop = small.or_else(|| not_a_level(&series.level, &splits, &levels));
        match drop {
            Some(i) => {
                splits.remove(i);
            }
            None => break,
        }
    }
    let levels = segment_levels(&series.level, &splits);
    let measured = segment_levels(&series.measured, &splits);
    let latest = levels.last().copied().unwrap_or(f64::NAN);
    splits
        .iter()
        .enumerate()
        .map(|(i, &(at, p_adjusted))| {
            let index = series.commit_index[at];
            let (before, after) = (measured[i], measured[i + 1]);
            let change = levels[i + 1] / levels[i] - 1.0;
            let cause = cause_at(series, at, machine_changed);
            ChangePoint {
                index,
                commit: commits[index].clone(),
                before,
                after,
                change,
                machine_shift: (after / before) / (1.0 + change) - 1.0,
                p_adjusted,
                cause,
                unresolved: cause == ShiftCause::Code
                    && change > 0.0
                    && latest / levels[i] - 1.0 >= min_change,
                culprit: None,
            }
        })
        .collect()
}

/// Why the level may have moved between records `at - 1` and `at`.
fn cause_at(series: &Series, at: usize, machine_changed: &[bool]) -> ShiftCause {
    let machine = (series.commit_index[at - 1] + 1..=series.commit_index[at])
        .any(|c| machine_changed.get(c).copied().unwrap_or(false));
    if machine {
        ShiftCause::Machine
    } else if series.input[at] != series.input[at - 1] {
        ShiftCause::Input
    } else {
        ShiftCause::Code
    }
}

/// Whether records `at - 1` and `at` are known to have executed the same
/// code (both kept a digest of what ran, and it is the same).
fn same_code_at(series: &Series, at: usize) -> bool {
    match (series.executed.get(at - 1), series.executed.get(at)) {
        (Some(Some(before)), Some(Some(after))) => before == after,
        _ => false,
    }
}

/// The splits, each placed where the code could have changed: a split the
/// noise put between two records that executed the same code (nothing
/// changed there but the machine's mood) moves to the nearest record
/// between its neighbouring splits where what ran changed or is unknown,
/// or is dropped when there is none. The machine or the input changing
/// there explains a shift on its own, and such splits stay.
fn at_code_changes(
    series: &Series,
    kept: &[(usize, f64)],
    machine_changed: &[bool],
) -> Vec<(usize, f64)> {
    let mut placed: Vec<(usize, f64)> = Vec::new();
    for (n, &(at, p)) in kept.iter().enumerate() {
        if cause_at(series, at, machine_changed) != ShiftCause::Code || !same_code_at(series, at) {
            placed.push((at, p));
            continue;
        }
        let low = placed.last().map_or(1, |(previous, _)| previous + 1);
        let high = kept
            .get(n + 1)
            .map_or(series.level.len(), |(next, _)| *next);
        let nearest = (low..high)
            .filter(|&j| !same_code_at(series, j))
            .min_by_key(|&j| j.abs_diff(at));
        if let Some(j) = nearest {
            placed.push((j, p));
        }
    }
    placed
}

/// A split next to a short segment (fewer than three records) that is not
/// a level: one of its records lies nearer a neighbouring level than its
/// own. A disturbed record paired with a normal one looks like a short
/// level to PELT; a real new level has every record near it.
fn not_a_level(values: &[f64], splits: &[(usize, f64)], levels: &[f64]) -> Option<usize> {
    let mut bounds = vec![0];
    bounds.extend(splits.iter().map(|(at, _)| *at));
    bounds.push(values.len());
    for segment in 0..levels.len() {
        let (start, end) = (bounds[segment], bounds[segment + 1]);
        if end - start >= 3 {
            continue;
        }
        let distance = |v: f64, level: f64| (v / level).ln().abs();
        let neighbours: Vec<f64> = [segment.checked_sub(1), Some(segment + 1)]
            .into_iter()
            .flatten()
            .filter_map(|i| levels.get(i).copied())
            .collect();
        let stray = values[start..end].iter().any(|&v| {
            neighbours
                .iter()
                .any(|&n| distance(v, n) < distance(v, levels[segment]))
        });
        if stray {
            // Drop the split on the side of the nearer neighbour level.
            return Some(if segment == 0 { 0 } else { segment - 1 });
        }
    }
    None
}

/// The median level of each segment between `splits`.
fn segment_levels(levels: &[f64], splits: &[(usize, f64)]) -> Vec<f64> {
    let mut bounds = vec![0];
    bounds.extend(splits.iter().map(|(at, _)| *at));
    bounds.push(levels.len());
    bounds
        .windows(2)
        .map(|w| median(&levels[w[0]..w[1]]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A series with log-normal noise of `noise` around `levels`, seeded.
    fn noisy(levels: &[f64], noise: f64, seed: u64) -> Series {
        let mut rng = fastrand::Rng::with_seed(seed);
        let level: Vec<f64> = levels
            .iter()
            .map(|l| {
                // Box-Muller: a standard normal from two uniforms.
                let (u, v) = (rng.f64().max(1e-12), rng.f64());
                let z = (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos();
                l * (noise * z).exp()
            })
            .collect();
        Series {
            commit_index: (0..levels.len()).collect(),
            measured: level.clone(),
            level,
            input: vec![None; levels.len()],
            executed: Vec::new(),
        }
    }

    fn steps(parts: &[(usize, f64)]) -> Vec<f64> {
        parts
            .iter()
            .flat_map(|&(count, level)| std::iter::repeat_n(level, count))
            .collect()
    }

    fn shifts(series: Vec<Series>, min_change: f64) -> Vec<Vec<ChangePoint>> {
        let n = series.iter().map(|s| s.level.len()).max().unwrap_or(0);
        let commits: Vec<String> = (0..n).map(|i| format!("c{i}")).collect();
        level_shifts(&series, &commits, &vec![false; n], min_change)
    }

    #[test]
    fn a_step_is_named_at_its_commit_with_its_size() {
        // 2% noise, a 10% slowdown at commit 120 of 200.
        let found = shifts(
            vec![noisy(&steps(&[(120, 1000.0), (80, 1100.0)]), 0.02, 7)],
            0.02,
        );
        assert_eq!(found[0].len(), 1, "{:?}", found[0]);
        let change = &found[0][0];
        assert_eq!(change.commit, "c120");
        assert!((change.change - 0.10).abs() < 0.02, "{}", change.change);
        assert_eq!(change.cause, ShiftCause::Code);
        assert!(change.unresolved);
    }

    #[test]
    fn two_steps_and_a_fix_are_three_changes_and_nothing_unresolved() {
        let levels = steps(&[(50, 1000.0), (50, 1300.0), (50, 1150.0), (50, 1000.0)]);
        let found = shifts(vec![noisy(&levels, 0.02, 11)], 0.02);
        let at: Vec<usize> = found[0].iter().map(|c| c.index).collect();
        assert_eq!(at, [50, 100, 150], "{:?}", found[0]);
        assert!(found[0].iter().all(|c| !c.unresolved), "{:?}", found[0]);
    }

    #[test]
    fn flat_noisy_histories_have_no_changes() {
        // 300 benchmarks × 200 commits of pure noise: the suite-wide
        // adjustment keeps false changes away.
        let flat = vec![1000.0; 200];
        let series = (0..300).map(|seed| noisy(&flat, 0.03, seed)).collect();
        let found = shifts(series, 0.02);
        let total: usize = found.iter().map(Vec::len).sum();
        assert_eq!(total, 0);
    }

    #[test]
    fn one_disturbed_record_is_not_a_level() {
        let mut series = noisy(&[1000.0; 60], 0.01, 3);
        series.level[30] *= 1.5;
        assert!(shifts(vec![series], 0.02)[0].is_empty());
    }

    #[test]
    fn a_shift_below_the_threshold_is_not_reported() {
        // 1% step in 0.2% noise: real, but below a 2% threshold.
        let levels = steps(&[(100, 1000.0), (100, 1010.0)]);
        assert!(shifts(vec![noisy(&levels, 0.002, 5)], 0.02)[0].is_empty());
        assert_eq!(shifts(vec![noisy(&levels, 0.002, 5)], 0.005)[0].len(), 1);
    }

    #[test]
    fn exact_counts_step_at_the_right_commit() {
        let levels = steps(&[(3, 5000.0), (2, 6000.0)]);
        let series = Series {
            commit_index: vec![0, 1, 2, 3, 4],
            measured: levels.clone(),
            level: levels,
            input: vec![None; 5],
            executed: Vec::new(),
        };
        let found = shifts(vec![series], 0.01);
        assert_eq!(found[0].len(), 1);
        assert_eq!(found[0][0].index, 3);
        assert!((found[0][0].change - 0.2).abs() < 1e-9);
    }

    #[test]
    fn machine_and_input_changes_are_named_and_not_unresolved() {
        let levels = steps(&[(20, 1000.0), (20, 1500.0)]);
        let n = levels.len();
        let commits: Vec<String> = (0..n).map(|i| format!("c{i}")).collect();
        let mut machine = vec![false; n];
        machine[20] = true;
        let found = level_shifts(&[noisy(&levels, 0.01, 1)], &commits, &machine, 0.02);
        assert_eq!(found[0][0].cause, ShiftCause::Machine);
        assert!(!found[0][0].unresolved);

        let mut grown = noisy(&levels, 0.01, 1);
        grown.input = (0..n)
            .map(|i| Some(if i < 20 { 100 } else { 150 }))
            .collect();
        let found = level_shifts(&[grown], &commits, &vec![false; n], 0.02);
        assert_eq!(found[0][0].cause, ShiftCause::Input);
        assert!(!found[0][0].unresolved);
    }

    #[test]
    fn gaps_keep_commit_indices() {
        // The benchmark is missing from commits 2 and 3.
        let level = vec![100.0, 100.0, 100.0, 200.0, 200.0, 200.0];
        let series = Series {
            commit_index: vec![0, 1, 4, 5, 6, 7],
            measured: level.clone(),
            level,
            input: vec![None; 6],
            executed: Vec::new(),
        };
        let commits: Vec<String> = (0..8).map(|i| format!("c{i}")).collect();
        let found = level_shifts(&[series], &commits, &[false; 8], 0.02);
        assert_eq!(found[0][0].index, 5);
        assert_eq!(found[0][0].commit, "c5");
    }

    /// What ran at each record: "a" up to `changed_at`, then "b".
    fn executed(n: usize, changed_at: usize) -> Vec<Option<String>> {
        (0..n)
            .map(|i| Some(if i < changed_at { "a" } else { "b" }.to_string()))
            .collect()
    }

    #[test]
    fn a_shift_is_placed_only_where_what_ran_changed() {
        // Machine drift: a 10% step at record 30 of code that never changed.
        let levels = steps(&[(30, 1000.0), (30, 1100.0)]);
        let mut drift = noisy(&levels, 0.01, 2);
        drift.executed = vec![Some("a".to_string()); 60];
        assert!(shifts(vec![drift], 0.02)[0].is_empty());
        // The same step where the code changed is kept; and one record off
        // (the noise's choice) moves to the commit that changed it.
        for changed_at in [30, 31] {
            let mut real = noisy(&levels, 0.01, 2);
            real.executed = executed(60, changed_at);
            let found = shifts(vec![real], 0.02);
            assert_eq!(found[0].len(), 1, "{:?}", found[0]);
            assert_eq!(found[0][0].index, changed_at);
        }
        // Records that kept no digest leave the split where it was.
        let mut unknown = noisy(&levels, 0.01, 2);
        unknown.executed = executed(60, 45);
        unknown.executed[30] = None;
        assert_eq!(shifts(vec![unknown], 0.02)[0][0].index, 30);
    }
}
