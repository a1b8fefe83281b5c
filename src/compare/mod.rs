//! Compare: statistics that turn a baseline and a head run into a `Report`.
//!
//! Takes the head `RunRecord` and the `Baseline` (record plus history); hands
//! on a `Report` with one `Comparison` per benchmark. Implements
//! docs/statistics.md rule (b), stored baseline, and (c), Benjamini-Hochberg over
//! the suite. Classification happens only in `verdict::classify`.

pub mod allocations;
pub mod instructions;
pub mod noise;
pub mod paired;
pub mod peak_memory;
pub mod scaling;
pub mod settings;
pub mod stored;
pub mod verdict;

use std::collections::{BTreeMap, BTreeSet};

use crate::profile::hotspots;
use crate::record::acceptance::AcceptKind;
use crate::record::note::{Detectable, Note, PerUnit, RoundsOf};
use crate::record::{BenchId, BenchResult, InputChange, RunRecord};
use crate::report::checks::PeakMemoryCheck;
use crate::report::{Change, Comparison, Outcome, Summary, Verdict};
use crate::stats::{benjamini_hochberg, median};
use settings::Settings;
use verdict::{Evidence, Presence, Rule, classify_with_acceptance};

/// The suite's tests, adjusted together: what each benchmark's comparison
/// is judged from.
struct SuiteTests<'a> {
    tests: &'a [(BenchId, BenchTest)],
    index: BTreeMap<&'a BenchId, usize>,
    regressed_adjusted: Vec<f64>,
    improved_adjusted: Vec<f64>,
    /// The level at which Benjamini-Hochberg rejects a benchmark whatever
    /// the others show: what `Change::detectable` is stated at.
    detection_level: f64,
}

impl<'a> SuiteTests<'a> {
    fn of(tests: &'a [(BenchId, BenchTest)], settings: &Settings) -> SuiteTests<'a> {
        SuiteTests {
            tests,
            index: tests
                .iter()
                .enumerate()
                .map(|(i, (id, _))| (id, i))
                .collect(),
            regressed_adjusted: benjamini_hochberg(
                &tests.iter().map(|(_, t)| t.p_regressed).collect::<Vec<_>>(),
            ),
            improved_adjusted: benjamini_hochberg(
                &tests.iter().map(|(_, t)| t.p_improved).collect::<Vec<_>>(),
            ),
            detection_level: settings.fdr / tests.len().max(1) as f64,
        }
    }

    fn test_of(&self, id: &BenchId) -> Option<&'a BenchTest> {
        self.index.get(id).map(|&i| &self.tests[i].1)
    }
}

/// Classify every benchmark of either side from its test (benchmarks on
/// both sides) and assemble the comparisons, regressions first.
pub(crate) fn judge(
    base: &RunRecord,
    head: &RunRecord,
    tests: Vec<(BenchId, BenchTest)>,
    untimed: &BTreeMap<BenchId, Presence>,
    settings: &Settings,
    notes: &mut Vec<Note>,
) -> Judged {
    let ids: BTreeSet<&BenchId> = head
        .benches
        .iter()
        .chain(&base.benches)
        .map(|b| &b.id)
        .chain(untimed.keys())
        .collect();
    let suite = SuiteTests::of(&tests, settings);
    // Shown slower beyond the threshold, held back by too few rounds.
    let mut held_back: Vec<RoundsOf> = Vec::new();
    let mut comparisons: Vec<Comparison> = ids
        .iter()
        .map(|id| {
            let (comparison, held) = compare_one(id, base, head, &suite, untimed, settings);
            held_back.extend(held);
            comparison
        })
        .collect();
    sort_for_reading(&mut comparisons);
    input_notes(&comparisons, head, notes);
    if comparisons
        .iter()
        .any(|c| c.verdict == Verdict::Regressed && c.hotspots.is_none() && !c.id.is_command())
    {
        notes.push(Note::NoProfiler);
    }
    if !held_back.is_empty() {
        notes.push(Note::HeldBackByRounds {
            benchmarks: held_back,
            min_rounds: verdict::MIN_ROUNDS_TO_FLAG,
        });
    }
    if let Some(note) = insensitive_note(&comparisons) {
        notes.push(note);
    }
    let scaling = scaling::scaling(base, head, &comparisons, settings);
    let outcome = crate::report::outcome_of(&comparisons, &scaling);
    Judged {
        comparisons,
        scaling,
        outcome,
    }
}

/// The rule one benchmark is classified by: its threshold, and what the
/// settings and acceptances say of it.
fn rule_for(id: &BenchId, min_change: f64, settings: &Settings) -> Rule {
    Rule {
        min_change,
        fdr: settings.fdr,
        layout_fails: settings.fail_on_layout,
        accepts_time: settings.acceptance_for(id, AcceptKind::Time).is_some(),
        accepts_allocations: settings
            .acceptance_for(id, AcceptKind::Allocations)
            .is_some(),
        allocations_fail: settings.allocations.fails(),
    }
}

/// One benchmark's comparison, and its id with its rounds when it read
/// slower beyond the threshold but from too few rounds to be called.
fn compare_one(
    id: &BenchId,
    base: &RunRecord,
    head: &RunRecord,
    suite: &SuiteTests,
    untimed: &BTreeMap<BenchId, Presence>,
    settings: &Settings,
) -> (Comparison, Option<RoundsOf>) {
    let head_bench = head.bench(id);
    let base_bench = base.bench(id);
    let min_change = suite
        .test_of(id)
        .and_then(|t| t.min_change)
        .unwrap_or_else(|| settings.min_change_for(id));
    let rule = rule_for(id, min_change, settings);
    let allocation_check = base_bench.zip(head_bench).and_then(|(base, head)| {
        allocations::check(&base.allocations, &head.allocations, settings.allocations)
    });
    let memory_check = base_bench.zip(head_bench).and_then(|(base, head)| {
        peak_memory::check(&base.peak_memory, &head.peak_memory, settings.peak_memory)
    });
    let (presence, change) = match suite.index.get(id).copied() {
        Some(i) => {
            let t = &suite.tests[i].1;
            let evidence = Evidence {
                log_change: t.log_change,
                log_ci: t.log_ci,
                p_regressed_adjusted: suite.regressed_adjusted[i],
                p_improved_adjusted: suite.improved_adjusted[i],
                code: t.instructions.as_ref().map(verdict::CodeEvidence::from),
                rounds: t.rounds,
                allocations_grew: allocation_check
                    .as_ref()
                    .is_some_and(|check| !check.grew.is_empty()),
                memory_grew: memory_check.as_ref().is_some_and(PeakMemoryCheck::fails),
            };
            let change = Change {
                detectable: t.detectable(min_change.ln_1p(), suite.detection_level),
                disturbed_rounds: t.disturbed,
                base_level: t.base_level,
                estimate: t.log_change.exp_m1(),
                ci_low: t.log_ci.0.exp_m1(),
                ci_high: t.log_ci.1.exp_m1(),
                p_regressed: t.p_regressed,
                p_regressed_adjusted: suite.regressed_adjusted[i],
                p_improved: t.p_improved,
                p_improved_adjusted: suite.improved_adjusted[i],
                standard_error: t.standard_error,
                history: t.history,
                rounds: t.rounds,
                low_confidence: t.low_confidence,
            };
            (Presence::Both(evidence), Some(change))
        }
        None if untimed.contains_key(id) => (untimed[id], None),
        None if head_bench.is_some() => (Presence::OnlyHead, None),
        None => (Presence::OnlyBase, None),
    };
    let (verdict, accepted_kind) = classify_with_acceptance(presence, &rule);
    let held_back = match presence {
        Presence::Both(evidence)
            if verdict == Verdict::LikelySlower
                && verdict::held_back_by_rounds(&evidence, &rule) =>
        {
            Some(RoundsOf {
                id: id.to_string(),
                rounds: evidence.rounds,
            })
        }
        _ => None,
    };
    let head_profile = head_bench.and_then(|b| b.profile.as_ref());
    let instructions = suite.test_of(id).and_then(|t| t.instructions);
    let hotspots = match (verdict, head_profile) {
        (Verdict::Regressed, Some(profile)) => Some(hotspots::hotspots(
            base_bench.and_then(|b| b.profile.as_ref()),
            profile,
        )),
        _ => None,
    };
    let comparison = Comparison {
        id: (*id).clone(),
        base: base_bench.map(summarize),
        head: head_bench.map(summarize),
        input: base_bench
            .zip(head_bench)
            .and_then(|(base, head)| InputChange::between(base, head)),
        change,
        min_change,
        verdict,
        accepted: accepted_kind.and_then(|kind| settings.acceptance_for(id, kind).cloned()),
        instructions,
        allocations: allocation_check,
        peak_memory: memory_check,
        hotspots,
        flamegraphs: Vec::new(),
        dependencies: Vec::new(),
        trend: Vec::new(),
    };
    (comparison, held_back)
}

/// One note per input change: a file several benchmarks read grew once.
fn input_notes(comparisons: &[Comparison], head: &RunRecord, notes: &mut Vec<Note>) {
    let mut by_input: std::collections::BTreeMap<(&str, u64, u64), Vec<&Comparison>> =
        Default::default();
    for c in comparisons {
        if let (Some(input), Some(_)) = (&c.input, &c.change) {
            by_input
                .entry((input.unit.as_str(), input.base, input.head))
                .or_default()
                .push(c);
        }
    }
    let counted = head
        .benches
        .iter()
        .any(|b| b.unit == crate::record::SampleUnit::Instructions);
    for ((unit, base, head), rows) in by_input {
        notes.push(Note::InputChanged {
            unit: unit.to_string(),
            base,
            head,
            counted,
            benchmarks: rows
                .iter()
                .map(|c| PerUnit {
                    id: c.id.to_string(),
                    change: c.change.as_ref().map_or(0.0, |ch| ch.estimate),
                })
                .collect(),
        });
    }
}

/// The benchmarks that could not have shown the slowdown the gate aims to
/// catch, and what would narrow them; none when all could.
fn insensitive_note(comparisons: &[Comparison]) -> Option<Note> {
    // Benchmarks shown to have changed are not what a run could miss.
    let insensitive: Vec<(Detectable, usize)> = comparisons
        .iter()
        .filter(|c| {
            !matches!(
                c.verdict,
                Verdict::Regressed | Verdict::Accepted | Verdict::Improved
            )
        })
        .filter_map(|c| {
            let change = c.change.as_ref()?;
            let detectable = change.detectable?;
            (detectable > SENSITIVE_ENOUGH).then(|| {
                let id = c.id.to_string();
                (Detectable { id, detectable }, change.rounds)
            })
        })
        .collect();
    if insensitive.is_empty() {
        return None;
    }
    Some(Note::Insensitive {
        aim: SENSITIVE_ENOUGH,
        paired: insensitive.iter().any(|(_, rounds)| *rounds > 0),
        benchmarks: insensitive.into_iter().map(|(d, _)| d).collect(),
    })
}

/// The suite judged: per benchmark, per sized group, and the outcome.
pub(crate) struct Judged {
    pub comparisons: Vec<Comparison>,
    pub scaling: Vec<crate::report::scaling::Scaling>,
    pub outcome: Outcome,
}

impl Judged {
    /// The report of this judgement in `mode`, between `base` and `head`:
    /// what every mode has. The fields one mode fills (the machine shift,
    /// the history used, paired phases) are empty for the caller to set;
    /// what later steps add (runner, history page, bisection) is empty too.
    pub(crate) fn into_report(
        self,
        suite: &str,
        mode: crate::report::Mode,
        (base, head): (crate::record::Side, crate::record::Side),
        settings: &Settings,
        notes: Vec<Note>,
    ) -> crate::report::Report {
        crate::report::Report {
            schema: crate::report::REPORT_SCHEMA,
            suite: suite.to_string(),
            mode,
            base,
            head,
            settings: settings.used(),
            machine_shift: None,
            history_used: 0,
            history_other_machine: 0,
            comparisons: self.comparisons,
            outcome: self.outcome,
            notes,
            pull_request_head: None,
            runner: None,
            reproduce: None,
            scaling: self.scaling,
            history_page: None,
            phases: None,
            bisect: None,
        }
    }
}

/// A benchmark that could not have shown a slowdown of this size (with 80%
/// probability) is named in a note: the gate's target is to catch 5%.
pub const SENSITIVE_ENOUGH: f64 = 0.05;

/// In `Verdict` order (regressions first), largest change first within a
/// verdict; ties by id so output is stable.
pub fn sort_for_reading(comparisons: &mut [Comparison]) {
    comparisons.sort_by(|a, b| {
        let size = |c: &Comparison| c.change.as_ref().map_or(0.0, |ch| ch.estimate.abs());
        a.verdict
            .cmp(&b.verdict)
            .then(size(b).total_cmp(&size(a)))
            .then(a.id.cmp(&b.id))
    });
}

pub(crate) struct BenchTest {
    /// A threshold of its own, above the settings' (instruction counts that
    /// jitter: their allowed spread); None takes the settings'.
    min_change: Option<f64>,
    base_level: f64,
    standard_error: f64,
    log_change: f64,
    log_ci: (f64, f64),
    p_regressed: f64,
    p_improved: f64,
    history: usize,
    rounds: usize,
    /// Paired: rounds set aside as disturbed (`record::paired::counted_rounds`).
    disturbed: usize,
    /// Degrees of freedom of the test's t distribution; None for exact
    /// counts (nothing to detect statistically).
    df: Option<f64>,
    low_confidence: bool,
    /// Paired: both sides' instruction counts, when the time changed.
    instructions: Option<crate::report::checks::InstructionCheck>,
}

/// The power at which a report states the smallest slowdown it would have
/// caught (`Change::detectable`).
pub const DETECTION_POWER: f64 = 0.8;

impl BenchTest {
    /// The smallest slowdown this test would call regressed with
    /// `DETECTION_POWER`, from its own standard error and degrees of
    /// freedom, at level `alpha` (the suite's FDR over the benchmarks
    /// compared: the level at which Benjamini-Hochberg rejects whatever the
    /// other benchmarks show) against the practical threshold `threshold`
    /// (log). The usual normal-theory approximation with t quantiles.
    fn detectable(&self, threshold: f64, alpha: f64) -> Option<f64> {
        let df = self.df?;
        let too_few = self.rounds > 0 && self.rounds < crate::record::paired::MIN_COUNTED_ROUNDS;
        if !self.standard_error.is_finite() || too_few {
            return None;
        }
        let reach = crate::stats::t_quantile(1.0 - alpha, df)
            + crate::stats::t_quantile(DETECTION_POWER, df);
        Some((threshold + reach * self.standard_error).exp_m1())
    }
}

/// Summary of one side's samples.
pub fn summarize(bench: &BenchResult) -> Summary {
    Summary {
        median: median(&bench.samples),
        mean: crate::stats::mean(&bench.samples),
        p95: crate::stats::quantile(&bench.samples, 0.95),
        mad: crate::stats::mad(&bench.samples),
        n: bench.samples.len(),
    }
}

/// The two sides of a comparison against a stored baseline: the baseline's
/// commit as it was chosen, and the head's.
pub(crate) fn stored_sides(
    baseline: &crate::baseline::Baseline,
    head: &RunRecord,
    head_chosen_as: &str,
) -> (crate::record::Side, crate::record::Side) {
    (
        crate::record::Side {
            commit: baseline.commit.clone(),
            dirty: baseline.record.dirty,
            chosen_as: baseline.chosen_as.clone(),
        },
        crate::record::Side {
            commit: head.commit.clone(),
            dirty: head.dirty,
            chosen_as: head_chosen_as.to_string(),
        },
    )
}
