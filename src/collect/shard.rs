//! Splitting a suite across CI jobs: which benchmarks shard K of N runs.
//!
//! The split must come out the same in every job of the matrix, so it is a
//! pure function of what is the same everywhere. Against a stored baseline:
//! the benchmark ids and the baseline's measured durations, longest first,
//! each to the shard with the least work so far (greedy LPT: the largest
//! shard is at most the ideal, total / N, plus one benchmark's duration);
//! without any durations, a stable hash of the id decides. Paired runs need
//! no baseline: criterion's round windows are fixed, so every benchmark's
//! round takes about the same time and equal counts are balanced (the
//! sorted ids dealt out in turn).

use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::progress::Progress;
use crate::record::shard::{ShardInfo, ShardSpec, SplitMethod};
use crate::record::{BenchId, RunRecord};

use super::{Listed, exact_filter, filter_of, restrict};

/// What a sharded run needs: which shard, the suite (recorded so a merge
/// can check it), and how to balance the split.
#[derive(Debug, Clone, PartialEq)]
pub struct ShardPlan {
    pub spec: ShardSpec,
    pub suite: String,
    pub balance: Balance,
}

/// What balances a split.
#[derive(Debug, Clone, PartialEq)]
pub enum Balance {
    /// The stored baseline's measured durations (seconds per benchmark;
    /// empty when the baseline has none: then the id hash).
    Durations(BTreeMap<BenchId, f64>),
    /// Equal counts: paired rounds run every benchmark for criterion's fixed
    /// windows, so each costs about the same time whatever its speed.
    EqualCounts,
}

/// FNV-1a: stable across versions and platforms, unlike std's hasher.
pub(crate) fn stable_hash(text: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// Split `ids` into `count` shards (1-based numbers). Durations (seconds)
/// balance the split; ids without one count as the median known duration.
/// Returns the assignment and whether durations were used.
pub fn assign(
    ids: &[BenchId],
    durations: &BTreeMap<BenchId, f64>,
    count: usize,
) -> (BTreeMap<BenchId, usize>, bool) {
    let count = count.max(1);
    let mut known: Vec<f64> = ids
        .iter()
        .filter_map(|id| durations.get(id).copied())
        .filter(|d| d.is_finite() && *d > 0.0)
        .collect();
    if known.is_empty() {
        let assignment = ids
            .iter()
            .map(|id| {
                (
                    id.clone(),
                    (stable_hash(id.as_str()) % count as u64) as usize + 1,
                )
            })
            .collect();
        return (assignment, false);
    }
    known.sort_by(f64::total_cmp);
    let typical = known[known.len() / 2];
    let mut work: Vec<(f64, &BenchId)> = ids
        .iter()
        .map(|id| {
            let d = durations
                .get(id)
                .copied()
                .filter(|d| d.is_finite() && *d > 0.0)
                .unwrap_or(typical);
            (d, id)
        })
        .collect();
    // Longest first; ties by id so every job sorts alike.
    work.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(b.1)));
    let mut load = vec![0.0_f64; count];
    let mut assignment = BTreeMap::new();
    for (duration, id) in work {
        let lightest = (0..count)
            .min_by(|&a, &b| load[a].total_cmp(&load[b]).then(a.cmp(&b)))
            .expect("at least one shard");
        load[lightest] += duration;
        assignment.insert(id.clone(), lightest + 1);
    }
    (assignment, true)
}

/// Split `ids` into `count` shards of equal size (±1): sorted, dealt out
/// in turn. The same ids give the same split in every job.
pub fn assign_equal_counts(ids: &[BenchId], count: usize) -> BTreeMap<BenchId, usize> {
    let count = count.max(1);
    let mut sorted: Vec<&BenchId> = ids.iter().collect();
    sorted.sort();
    sorted.dedup();
    sorted
        .into_iter()
        .enumerate()
        .map(|(i, id)| (id.clone(), i % count + 1))
        .collect()
}

/// The split of `ids` that `balance` asks for, and how it was made.
pub fn split(
    ids: &[BenchId],
    balance: &Balance,
    count: usize,
) -> (BTreeMap<BenchId, usize>, SplitMethod) {
    match balance {
        Balance::EqualCounts => (assign_equal_counts(ids, count), SplitMethod::EqualCounts),
        Balance::Durations(durations) => match assign(ids, durations, count) {
            (assignment, true) => (assignment, SplitMethod::Durations),
            (assignment, false) => (assignment, SplitMethod::IdHash),
        },
    }
}

/// Check that shard records belong together and cover the suite: same
/// suite, same split, distinct shards. Returns the missing shard numbers.
pub fn check_shards(shards: &[&ShardInfo]) -> Result<Vec<usize>> {
    let Some(first) = shards.first() else {
        return Err(Error::Usage("no shard records to merge".into()));
    };
    let mut seen = BTreeMap::new();
    for shard in shards {
        if shard.suite != first.suite {
            return Err(Error::ShardMismatch(format!(
                "suite `{}` and suite `{}` are different suites",
                first.suite, shard.suite
            )));
        }
        if shard.spec.count != first.spec.count || shard.assignment != first.assignment {
            return Err(Error::ShardMismatch(format!(
                "shard {} and shard {} were split differently (different benchmarks, counts or baselines); \
                 run every shard of one matrix from the same commit and baseline",
                first.spec, shard.spec
            )));
        }
        if seen.insert(shard.spec.index, ()).is_some() {
            return Err(Error::ShardMismatch(format!(
                "shard {} is given twice",
                shard.spec
            )));
        }
    }
    Ok((1..=first.spec.count)
        .filter(|k| !seen.contains_key(k))
        .collect())
}

/// Shard records merged into one record of the whole suite.
#[derive(Debug)]
pub struct Merged {
    pub record: RunRecord,
    pub suite: String,
    pub count: usize,
    pub given: usize,
    /// Shard numbers not given, and how many benchmarks they had.
    pub missing: Vec<usize>,
    pub missing_ids: usize,
    pub machines_differ: bool,
}

impl Merged {
    /// `2/3, 3/3`.
    pub fn missing_list(&self) -> String {
        self.missing
            .iter()
            .map(|k| format!("{k}/{}", self.count))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Merge shard records (`labels` name them in errors): they must be shards
/// of one split of one commit, each at most once, no benchmark twice.
pub fn merge_records(shards: Vec<RunRecord>, labels: &[String]) -> Result<Merged> {
    let infos: Vec<&ShardInfo> = shards
        .iter()
        .zip(labels)
        .map(|(record, label)| {
            record.shard.as_ref().ok_or_else(|| {
                Error::ShardMismatch(format!(
                    "{label} is not a shard record (written by `flamegate run --shard K/N` or `check --shard K/N`)"
                ))
            })
        })
        .collect::<Result<_>>()?;
    let missing = check_shards(&infos)?;
    let first_info = infos[0];
    let missing_ids = first_info
        .assignment
        .values()
        .filter(|k| missing.contains(k))
        .count();
    let (suite, count, given) = (first_info.suite.clone(), first_info.spec.count, infos.len());
    let first = &shards[0];
    for (record, label) in shards.iter().zip(labels).skip(1) {
        if record.commit != first.commit || record.dirty != first.dirty {
            let describe = |r: &RunRecord| {
                format!(
                    "{}{}",
                    r.commit
                        .as_deref()
                        .map_or("(none)", crate::error::short_sha),
                    if r.dirty { " (dirty)" } else { "" }
                )
            };
            return Err(Error::ShardMismatch(format!(
                "{label} measured commit {} but the first shard measured {}",
                describe(record),
                describe(first)
            )));
        }
    }
    let machines_differ = shards
        .iter()
        .any(|r| !r.machine.same_fingerprint(&first.machine));
    let mut seen = std::collections::BTreeSet::new();
    let mut benches = Vec::new();
    for record in &shards {
        for bench in &record.benches {
            if !seen.insert(bench.id.clone()) {
                return Err(Error::ShardMismatch(format!(
                    "benchmark `{}` is in two shards",
                    bench.id
                )));
            }
            benches.push(bench.clone());
        }
    }
    benches.sort_by(|a, b| a.id.cmp(&b.id));
    let record = RunRecord {
        shard: None,
        benches,
        ..first.clone()
    };
    Ok(Merged {
        record,
        suite,
        count,
        given,
        missing,
        missing_ids,
        machines_differ,
    })
}

/// Paired shards merged: the rounds of every benchmark, one paired run.
pub fn merge_paired(
    shards: Vec<crate::record::paired::PairedShard>,
    labels: &[String],
) -> Result<(crate::record::paired::PairedShard, Merged)> {
    let first = shards
        .first()
        .cloned()
        .ok_or_else(|| Error::Usage("no shard records to merge".into()))?;
    // Shards may run different numbers of rounds (the adaptive plan stops
    // each benchmark when it is decided, and a shard when all of its are):
    // every benchmark's rounds travel with it in `round_medians`, and its
    // test uses exactly those. What must agree is what was compared.
    for (shard, label) in shards.iter().zip(labels).skip(1) {
        if shard.run.base.commit != first.run.base.commit {
            return Err(Error::ShardMismatch(format!(
                "{label} compared against base {} but the first shard against {}",
                shard
                    .run
                    .base
                    .commit
                    .as_deref()
                    .map_or("(none)", crate::error::short_sha),
                first
                    .run
                    .base
                    .commit
                    .as_deref()
                    .map_or("(none)", crate::error::short_sha),
            )));
        }
        if shard.run.head.machine.rustc != first.run.head.machine.rustc {
            return Err(Error::ShardMismatch(format!(
                "{label} was built with {} but the first shard with {}; build every shard with one toolchain",
                shard.run.head.machine.rustc, first.run.head.machine.rustc
            )));
        }
        if shard.round_windows != first.round_windows {
            return Err(Error::ShardMismatch(format!(
                "{label} timed its rounds with criterion arguments `{}`, the first shard with `{}`",
                shard.round_windows.join(" "),
                first.round_windows.join(" ")
            )));
        }
    }
    let rounds = shards.iter().map(|s| s.run.rounds).max().unwrap_or(0);
    let mut round_medians = BTreeMap::new();
    let mut identical = std::collections::BTreeSet::new();
    let mut same_code = std::collections::BTreeSet::new();
    let mut code_changed = std::collections::BTreeSet::new();
    let mut same_code_unchecked = None;
    let mut phases = crate::record::paired::PhaseTimes::default();
    let mut instructions = crate::record::paired::CountedInstructions::default();
    let mut base_benches = Vec::new();
    let mut heads = Vec::new();
    for shard in shards {
        round_medians.extend(shard.run.round_medians);
        identical.extend(shard.run.identical);
        same_code.extend(shard.run.same_code);
        code_changed.extend(shard.run.code_changed);
        same_code_unchecked = same_code_unchecked.or(shard.run.same_code_unchecked);
        phases.add(&shard.run.phases);
        instructions.extend(shard.run.instructions);
        base_benches.extend(shard.run.base.benches);
        heads.push(shard.run.head);
    }
    // The head records carry the shard info and are checked like records.
    let merged = merge_records(heads, labels)?;
    base_benches.sort_by(|a, b| a.id.cmp(&b.id));
    let run = crate::record::paired::PairedRun {
        rounds,
        base: RunRecord {
            benches: base_benches,
            ..first.run.base.clone()
        },
        head: merged.record.clone(),
        round_medians,
        identical,
        same_code,
        code_changed,
        same_code_unchecked,
        phases,
        instructions,
    };
    Ok((crate::record::paired::PairedShard { run, ..first }, merged))
}

/// How many ids a note names before it says "and N more".
const NAMED_IN_A_NOTE: usize = 10;

/// Restrict the listed benchmarks to `timed`, naming the others, with the
/// criterion filter that selects exactly the ones kept.
pub(super) fn keep_timed(
    listed: Listed,
    timed: &std::collections::BTreeSet<BenchId>,
    progress: &Progress,
) -> Result<(Listed, Option<String>)> {
    let (listed, left_out) = restrict(listed, |id| timed.contains(id));
    let Some(filter) = filter_of(&listed) else {
        return Err(Error::Usage(format!(
            "none of the {} benchmark(s) of the stored baseline is defined by the bench targets any more (renamed?); record a new baseline with `flamegate baseline update`",
            timed.len()
        )));
    };
    if !left_out.is_empty() {
        let mut named = left_out
            .iter()
            .take(NAMED_IN_A_NOTE)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ");
        if left_out.len() > NAMED_IN_A_NOTE {
            named.push_str(&format!(" and {} more", left_out.len() - NAMED_IN_A_NOTE));
        }
        progress.note(&format!(
            "not timed, without a stored baseline: {} benchmark(s): {named}",
            left_out.len()
        ));
    }
    Ok((listed, Some(filter)))
}

/// Restrict the listed benchmarks to one shard (see `shard`): the split is
/// made over every listed id, printed, and returned with the criterion
/// filter that selects exactly this shard's ids.
pub(crate) fn apply_shard(
    listed: Listed,
    plan: &ShardPlan,
    progress: &Progress,
) -> Result<(Listed, Option<String>, crate::record::shard::ShardInfo)> {
    let (mut lists, filter, info) = shard_lists(vec![listed], plan, progress)?;
    Ok((lists.pop().expect("one list"), filter, info))
}

/// `apply_shard` over several listings at once (both sides of a paired
/// run): one split over the union of their ids.
pub(crate) fn shard_lists(
    lists: Vec<Listed>,
    plan: &ShardPlan,
    progress: &Progress,
) -> Result<(Vec<Listed>, Option<String>, crate::record::shard::ShardInfo)> {
    let all: Vec<BenchId> = lists
        .iter()
        .flatten()
        .flat_map(|(_, ids)| ids.iter().map(|id| BenchId(id.clone())))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let (assignment, split) = split(&all, &plan.balance, plan.spec.count);
    let info = crate::record::shard::ShardInfo {
        spec: plan.spec,
        suite: plan.suite.clone(),
        assignment,
        split,
    };
    let mine: Vec<&BenchId> = info.ids().collect();
    let estimate = match (&plan.balance, split) {
        (Balance::Durations(durations), crate::record::shard::SplitMethod::Durations) => {
            let seconds: f64 = mine.iter().filter_map(|id| durations.get(*id)).sum();
            format!(", about {seconds:.0}s of timing")
        }
        _ => String::new(),
    };
    progress.note(&format!(
        "shard {}: {} of {} benchmarks ({}){estimate}",
        plan.spec,
        mine.len(),
        all.len(),
        split.describe(),
    ));
    for id in &mine {
        progress.note(&format!("  shard {}: {id}", plan.spec));
    }
    let filter = exact_filter(mine.iter().copied());
    let lists = lists
        .into_iter()
        .map(|listed| {
            restrict(listed, |id| {
                info.assignment.get(id) == Some(&plan.spec.index)
            })
            .0
        })
        .collect();
    Ok((lists, filter, info))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: usize, prefix: &str) -> Vec<BenchId> {
        (0..n).map(|i| BenchId(format!("{prefix}/{i}"))).collect()
    }

    #[test]
    fn every_benchmark_lands_in_exactly_one_shard() {
        for (n_ids, prefix) in [(1, "a"), (7, "group/fn"), (100, "x"), (333, "deep/er/id")] {
            let ids = ids(n_ids, prefix);
            let half: BTreeMap<BenchId, f64> = ids
                .iter()
                .step_by(2)
                .enumerate()
                .map(|(i, id)| (id.clone(), 0.5 + i as f64 % 7.0))
                .collect();
            for durations in [BTreeMap::new(), half] {
                for count in 1..=16 {
                    let (assignment, _) = assign(&ids, &durations, count);
                    assert_eq!(assignment.len(), ids.len());
                    for id in &ids {
                        let shard = assignment[id];
                        assert!((1..=count).contains(&shard), "{id} → {shard} of {count}");
                    }
                    // The same inputs give the same split (every job agrees).
                    assert_eq!(assign(&ids, &durations, count).0, assignment);
                }
            }
        }
    }

    #[test]
    fn balancing_keeps_the_largest_shard_near_the_ideal() {
        // 500 benchmarks, 0.1 s to 10 s, log-uniform (deterministic).
        let ids = ids(500, "bench");
        let durations: BTreeMap<BenchId, f64> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| {
                let u = ((i as u64 * 2_654_435_761) % 1000) as f64 / 1000.0;
                (id.clone(), 0.1 * 100f64.powf(u))
            })
            .collect();
        let total: f64 = durations.values().sum();
        let largest = durations.values().copied().fold(0.0, f64::max);
        for count in [2, 3, 8, 16] {
            let (assignment, balanced) = assign(&ids, &durations, count);
            assert!(balanced);
            let mut load = vec![0.0; count];
            for (id, shard) in &assignment {
                load[shard - 1] += durations[id];
            }
            let max = load.iter().copied().fold(0.0, f64::max);
            let ideal = total / count as f64;
            assert!(max <= ideal + largest, "{count}: {max} vs {ideal}");
            assert!(
                max <= ideal * 1.02,
                "{count} shards: largest {max:.1}s, ideal {ideal:.1}s"
            );
        }
    }

    #[test]
    fn shard_specs_are_checked() {
        assert_eq!(
            ShardSpec::parse("2/4"),
            Ok(ShardSpec { index: 2, count: 4 })
        );
        for bad in ["0/4", "5/4", "4", "a/b", "1/0", "1/1000"] {
            assert!(ShardSpec::parse(bad).is_err(), "{bad}");
        }
    }
}
