//! What each rule says of one trial: the paired rules on its rounds, the
//! stored rule on its pooled samples against the trials before it, and
//! criterion's own verdict.

use super::corpus::{Corpus, Side as CorpusSide, Trial};
use super::criterion_rule::criterion_regressed;
use super::replay::bench_result;
use crate::baseline::Baseline;
use crate::collect::rounds;
use crate::compare::paired::RoundTest;
use crate::compare::{self, settings::Settings};
use crate::error::RecordSource;
use crate::record::Side;
use crate::record::paired::{PairedRun, RoundMedians};
use crate::record::paired::{Standing, round_log_ratios};
use crate::record::{BenchId, BenchResult, RECORD_SCHEMA, RunRecord};
use crate::report::Verdict;
use std::collections::BTreeMap;

/// Stored-baseline history: the baseline record and this many before it
/// (the demo's `baseline update` history is as long).
pub const STORED_HISTORY: usize = 5;

/// Verdicts of one rule on one trial: flagged benchmarks, and the rounds
/// each benchmark got (paired rules).
pub(super) struct Outcome {
    pub flagged: Vec<String>,
    pub rounds: Vec<usize>,
    /// Paired rules: each benchmark's detectable slowdown.
    pub detectable: BTreeMap<String, f64>,
}

/// A trial as the paired mode would have collected it, each benchmark
/// keeping the first `rounds_for(id, its rounds)` rounds.
pub(super) fn paired_run(
    corpus: &Corpus,
    trial: &Trial,
    rounds_for: impl Fn(&BenchId, &[RoundMedians]) -> usize,
) -> PairedRun {
    let mut round_medians = BTreeMap::new();
    let mut base = Vec::new();
    let mut head = Vec::new();
    for id in &corpus.header.benchmarks {
        let bench_id = BenchId(id.clone());
        let medians = trial.medians(id);
        let kept = rounds_for(&bench_id, &medians).min(medians.len());
        let declared = trial.throughput.get(id);
        let mut base_result = bench_result(&bench_id, trial.pooled(CorpusSide::Base, id, kept));
        let mut head_result = bench_result(&bench_id, trial.pooled(CorpusSide::Head, id, kept));
        if let Some([b, h]) = declared {
            base_result.throughput = Some(b.clone());
            head_result.throughput = Some(h.clone());
        }
        base.push(base_result);
        head.push(head_result);
        round_medians.insert(bench_id, medians[..kept].to_vec());
    }
    PairedRun::timed(
        trial.rounds.len(),
        (record(corpus, base), record(corpus, head)),
        round_medians,
    )
}

/// Rounds the adaptive paired mode gives a benchmark: the minimum, then one
/// more at a time until its verdict is decided (or the trial's rounds end).
pub(super) fn adaptive_rounds(
    id: &BenchId,
    rounds: &[RoundMedians],
    benchmarks: usize,
    settings: &Settings,
) -> usize {
    let standing = compare::paired::stop_rule(settings, rounds::MAX_ROUNDS);
    (rounds::MIN_ROUNDS..rounds.len())
        .find(|&n| {
            standing(id, &round_log_ratios(&rounds[..n], None), benchmarks) == Standing::Decided
        })
        .unwrap_or(rounds.len())
}

pub(super) fn paired_outcome(run: &PairedRun, settings: &Settings) -> Outcome {
    paired_outcome_with(run, settings, compare::paired::CHECK_TEST)
}

pub(super) fn paired_outcome_with(
    run: &PairedRun,
    settings: &Settings,
    test: RoundTest,
) -> Outcome {
    let side = || Side {
        commit: None,
        dirty: false,
        chosen_as: "eval".into(),
    };
    let report = compare::paired::against_paired_with("eval", run, side(), side(), settings, test);
    Outcome {
        flagged: flagged(&report.comparisons),
        rounds: run.round_medians.values().map(Vec::len).collect(),
        detectable: report
            .comparisons
            .iter()
            .filter_map(|c| Some((c.id.as_str().to_string(), c.change.as_ref()?.detectable?)))
            .collect(),
    }
}

pub(super) fn stored_outcome(corpus: &Corpus, trial: &Trial, settings: &Settings) -> Outcome {
    let pooled = |t: &Trial, side: CorpusSide| -> RunRecord {
        let benches = corpus
            .header
            .benchmarks
            .iter()
            .map(|id| bench_result(&BenchId(id.clone()), t.pooled(side, id, t.rounds.len())))
            .collect();
        record(corpus, benches)
    };
    let earlier = &corpus.trials[trial.trial - STORED_HISTORY..trial.trial];
    let baseline = Baseline {
        record: pooled(&earlier[STORED_HISTORY - 1], CorpusSide::Base),
        source: RecordSource::File("eval".into()),
        commit: None,
        chosen_as: "previous trial's base".into(),
        history: earlier[..STORED_HISTORY - 1]
            .iter()
            .rev()
            .map(|t| pooled(t, CorpusSide::Base))
            .collect(),
        notes: Vec::new(),
    };
    let report = compare::stored::against_stored(
        "eval",
        &pooled(trial, CorpusSide::Head),
        "head",
        &baseline,
        settings,
    );
    Outcome {
        flagged: flagged(&report.comparisons),
        rounds: Vec::new(),
        detectable: BTreeMap::new(),
    }
}

pub(super) fn flagged(comparisons: &[crate::report::Comparison]) -> Vec<String> {
    comparisons
        .iter()
        .filter(|c| c.verdict == Verdict::Regressed)
        .map(|c| c.id.as_str().to_string())
        .collect()
}

pub(super) fn criterion_outcome(corpus: &Corpus, trial: &Trial) -> Outcome {
    let mut flagged = Vec::new();
    for (index, id) in corpus.header.benchmarks.iter().enumerate() {
        let all = trial.rounds.len();
        let seed = (trial.trial as u64) << 16 | index as u64;
        if criterion_regressed(
            &trial.pooled(CorpusSide::Base, id, all),
            &trial.pooled(CorpusSide::Head, id, all),
            seed,
        ) {
            flagged.push(id.clone());
        }
    }
    Outcome {
        flagged,
        rounds: Vec::new(),
        detectable: BTreeMap::new(),
    }
}

pub(super) fn record(corpus: &Corpus, benches: Vec<BenchResult>) -> RunRecord {
    RunRecord {
        same_code: Default::default(),
        schema: RECORD_SCHEMA,
        commit: None,
        dirty: false,
        machine: corpus.header.machine.clone(),
        created: time::OffsetDateTime::UNIX_EPOCH,
        shard: None,
        benches,
    }
}
