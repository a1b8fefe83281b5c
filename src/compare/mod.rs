//! Compare: statistics that turn a baseline and a head run into a `Report`.
//!
//! Takes the head `RunRecord` and the `Baseline` (record plus history); hands
//! on a `Report` with one `Comparison` per benchmark. Implements
//! docs/statistics.md rule (b), stored baseline, and (c), Benjamini-Hochberg over
//! the suite. Classification happens only in `verdict::classify`.

pub mod allocations;
pub mod instructions;
pub mod paired;
pub mod peak_memory;
pub mod scaling;
pub use crate::stats;
pub mod verdict;

use std::collections::{BTreeMap, BTreeSet};

use globset::{Glob, GlobMatcher};

use crate::baseline::Baseline;
use crate::error::{Error, Result};
use crate::profile::hotspots;
use crate::record::{AcceptKind, BenchId, BenchResult, InputChange, RunRecord};
use crate::report::{
    Change, Comparison, Mode, Outcome, PeakMemoryCheck, REPORT_SCHEMA, Report, SettingsUsed, Side,
    Summary, Verdict,
};
use stats::{MAD_TO_SD, benjamini_hochberg, mad, median, median_standard_error};
pub use verdict::{Evidence, Presence, Rule, classify, classify_with_acceptance};

/// A per-benchmark threshold chosen by glob over benchmark ids.
#[derive(Debug, Clone)]
pub struct ThresholdOverride {
    pub glob: String,
    matcher: GlobMatcher,
    pub min_change: f64,
}

impl ThresholdOverride {
    pub fn new(glob: &str, min_change: f64) -> Result<ThresholdOverride> {
        let matcher = Glob::new(glob)
            .map_err(|e| Error::Usage(format!("bad benchmark glob `{glob}`: {e}")))?
            .compile_matcher();
        Ok(ThresholdOverride {
            glob: glob.to_string(),
            matcher,
            min_change,
        })
    }
}

/// The statistical settings of a comparison.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Default practical threshold (0.01 = 1%).
    pub min_change: f64,
    /// Later overrides win.
    pub overrides: Vec<ThresholdOverride>,
    /// Benjamini-Hochberg false discovery rate.
    pub fdr: f64,
    /// Confidence level of reported intervals.
    pub confidence: f64,
    /// A paired time change that the instruction counts show to be layout
    /// keeps its timing verdict (and fails the gate if slower) instead of
    /// `layout`.
    pub fail_on_layout: bool,
    /// A group of sized benchmarks whose exponent grew by at least
    /// `scaling::FAIL_GROWTH` with confidence fails the gate.
    pub fail_on_scaling: bool,
    /// Failures the pull request's commits accept (`baseline::accept`),
    /// with the matcher of each glob.
    pub accepted: Vec<(GlobMatcher, crate::report::Accepted)>,
    /// Who may accept a failure (`[accept] policy`).
    pub accept_policy: crate::record::AcceptPolicy,
    /// What more allocations per iteration do to a verdict.
    pub allocations: allocations::AllocationGate,
    /// Commands: peak memory growth beyond this fails the gate
    /// (`[thresholds] peak_memory`); none, reported only.
    pub peak_memory: Option<f64>,
}

impl Settings {
    /// What a report records of the settings it was made with.
    pub fn used(&self) -> SettingsUsed {
        SettingsUsed {
            min_change: self.min_change,
            fdr: self.fdr,
            confidence: self.confidence,
            accept_policy: self.accept_policy,
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            min_change: 0.01,
            overrides: Vec::new(),
            fdr: 0.01,
            confidence: 0.95,
            fail_on_layout: false,
            fail_on_scaling: true,
            allocations: allocations::AllocationGate::Gate,
            peak_memory: None,
            accepted: Vec::new(),
            accept_policy: crate::record::AcceptPolicy::default(),
        }
    }
}

impl Settings {
    /// Add the acceptances found in the pull request's commits; a glob that
    /// is not one is reported in `notes` and accepts nothing, and so does
    /// every acceptance under `[accept] policy = "off"`.
    pub fn accept(&mut self, accepted: Vec<crate::report::Accepted>, notes: &mut Vec<String>) {
        if self.accept_policy == crate::record::AcceptPolicy::Off && !accepted.is_empty() {
            notes.push(format!(
                "{} acceptance line(s) in the pull request's commits accept nothing: \
                 flamegate.toml sets `[accept] policy = \"off\"`",
                accepted.len()
            ));
            return;
        }
        for a in accepted {
            match Glob::new(&a.glob) {
                Ok(glob) => self.accepted.push((glob.compile_matcher(), a)),
                Err(e) => notes.push(format!(
                    "commit {}: `{}` is not a benchmark glob ({e}); it accepts nothing",
                    crate::error::short_sha(&a.commit),
                    a.glob
                )),
            }
        }
    }

    /// The newest acceptance of `kind` naming benchmark (or group) `id`.
    pub fn acceptance_for(
        &self,
        id: &BenchId,
        kind: crate::record::AcceptKind,
    ) -> Option<&crate::report::Accepted> {
        self.accepted
            .iter()
            .find(|(m, a)| a.kind == kind && m.is_match(id.as_str()))
            .map(|(_, a)| a)
    }

    /// The practical threshold for one benchmark.
    pub fn min_change_for(&self, id: &BenchId) -> f64 {
        self.overrides
            .iter()
            .rev()
            .find(|o| o.matcher.is_match(id.as_str()))
            .map_or(self.min_change, |o| o.min_change)
    }
}

/// Below this many shared benchmarks the common shift is not removed: a median
/// over so few would swallow real changes. In the demo's five benchmarks,
/// three got 25-40% faster from code layout alone and "agreed" on a -31%
/// machine shift that never happened.
pub use crate::stats::{MIN_BENCHES_FOR_SHIFT, common_shift};

/// Prior degrees of freedom when pooling the noise of benchmarks with short
/// histories (moderated variance, Smyth 2004).
const PRIOR_DF: f64 = 4.0;
/// How many standard deviations of a two-run difference an earlier record
/// may sit from the baseline record and still describe the same level.
const LEVEL_BREAK: f64 = 3.0;
/// Pooling needs this many benchmarks with a history to estimate the prior.
const MIN_BENCHES_FOR_POOLING: usize = 4;

/// Compare a head run with a stored baseline (rule b) and classify.
pub fn against_stored(
    suite: &str,
    head: &RunRecord,
    head_chosen_as: &str,
    baseline: &Baseline,
    settings: &Settings,
) -> Report {
    let mut notes = baseline.notes.clone();
    let same_machine = baseline.record.machine.same_fingerprint(&head.machine);
    if !same_machine {
        notes.push(format!(
            "the baseline was recorded on another machine ({}, {} cores, {}) than this run ({}, {} cores, {}); \
             verdicts are low-confidence. Same-machine baselines (or paired runs) give trustworthy verdicts",
            baseline.record.machine.cpu_model,
            baseline.record.machine.logical_cores,
            baseline.record.machine.rustc,
            head.machine.cpu_model,
            head.machine.logical_cores,
            head.machine.rustc
        ));
    }
    // The noise model uses only records from the baseline's machine kind.
    let (history, other_machine): (Vec<&RunRecord>, Vec<&RunRecord>) = baseline
        .history
        .iter()
        .partition(|r| r.machine.same_fingerprint(&baseline.record.machine));
    let records: Vec<&RunRecord> = std::iter::once(&baseline.record).chain(history).collect();
    let ids: BTreeSet<&BenchId> = head
        .benches
        .iter()
        .chain(&baseline.record.benches)
        .map(|b| &b.id)
        .collect();
    let shared: Vec<&BenchId> = ids
        .iter()
        .copied()
        .filter(|id| head.bench(id).is_some() && baseline.record.bench(id).is_some())
        .collect();

    let noise = NoiseModel::fit(&records, &shared);
    // Per unit of input where the head's declared input differs from the
    // baseline's (`InputChange`).
    let head_logs: Vec<f64> = shared
        .iter()
        .map(|id| {
            let head_bench = head.bench(id).expect("shared");
            let input =
                InputChange::between(baseline.record.bench(id).expect("shared"), head_bench);
            log_median(head_bench) - input.as_ref().map_or(0.0, InputChange::log_ratio)
        })
        .collect();
    let offsets: Vec<f64> = head_logs
        .iter()
        .zip(&noise.centers)
        .map(|(y, c)| y - c)
        .collect();
    let head_shift = common_shift(&offsets);
    if shared.len() < MIN_BENCHES_FOR_SHIFT {
        notes.push(format!(
            "fewer than {MIN_BENCHES_FOR_SHIFT} shared benchmarks: the machine's overall speed difference is not removed"
        ));
    }
    let head_shift_removed = head_shift.unwrap_or(0.0);

    let two_sided = 1.0 - (1.0 - settings.confidence) / 2.0;
    let mut tests = Vec::with_capacity(shared.len());
    for (index, id) in shared.iter().enumerate() {
        let head_bench = head.bench(id).expect("shared");
        let base_bench = baseline.record.bench(id).expect("shared");
        let threshold = settings.min_change_for(id).ln_1p();
        let log_change = offsets[index] - head_shift_removed;
        let (scale, df, low_confidence) = match noise.scale(index) {
            Some((sigma, df)) => {
                // One head run against a level averaged over n baseline runs.
                let within = median_standard_error(&logs(head_bench));
                let sigma = sigma.max(within).max(1e-9);
                let n = noise.center_len[index] as f64;
                (sigma * (1.0 + 1.0 / n).sqrt(), df, !same_machine)
            }
            None => {
                let se = median_standard_error(&logs(head_bench))
                    .hypot(median_standard_error(&logs(base_bench)))
                    .max(1e-9);
                let df = head_bench.samples.len().min(base_bench.samples.len()) as f64 - 1.0;
                (se, df, true)
            }
        };
        let margin = stats::t_quantile(two_sided, df) * scale;
        tests.push(BenchTest {
            min_change: None,
            base_level: noise.centers[index].exp(),
            standard_error: scale,
            log_change,
            log_ci: (log_change - margin, log_change + margin),
            p_regressed: stats::t_sf((log_change - threshold) / scale, df),
            p_improved: stats::t_cdf((log_change + threshold) / scale, df),
            history: noise.history_len[index],
            rounds: 0,
            disturbed: 0,
            df: Some(df),
            low_confidence,
            instructions: None,
        });
    }
    if tests.iter().any(|t| t.low_confidence) && records.len() < 2 {
        notes.push(
            "the baseline has no history yet, so run-to-run noise is estimated from each run's own spread and \
             verdicts are low-confidence; each `flamegate baseline update` commit adds history"
                .into(),
        );
    }
    let tests: Vec<(BenchId, BenchTest)> =
        shared.iter().map(|id| (*id).clone()).zip(tests).collect();
    let Judged {
        mut comparisons,
        scaling,
        outcome,
    } = judge(
        &baseline.record,
        head,
        tests,
        &head
            .same_code
            .iter()
            .map(|id| (id.clone(), Presence::SameCode))
            .collect(),
        settings,
        &mut notes,
    );
    if !head.same_code.is_empty() {
        notes.push(format!(
            "{} benchmark(s) not timed: same code executed. Each ran once under callgrind and executed \
             what the baseline's record says it executed (the same functions, with the same machine \
             code, the same number of instructions each), so timing it again would measure only the \
             machine. `--time-all` times them anyway",
            head.same_code.len()
        ));
    }
    let recorded = |r: &RunRecord| r.benches.iter().any(|b| b.executed.is_some());
    if recorded(&baseline.record) && !recorded(head) && head.same_code.is_empty() {
        notes.push(
            "every benchmark timed: the baseline's record says what each benchmark executed, but this \
             run did not look (`--time-all`, or valgrind is not installed: `apt-get install valgrind` \
             to time only what executes differently)"
                .into(),
        );
    }
    add_trends(&mut comparisons, baseline, head);
    Report {
        schema: REPORT_SCHEMA,
        suite: suite.to_string(),
        mode: Mode::StoredBaseline,
        base: Side {
            commit: baseline.commit.clone(),
            dirty: baseline.record.dirty,
            chosen_as: baseline.chosen_as.clone(),
        },
        head: Side {
            commit: head.commit.clone(),
            dirty: head.dirty,
            chosen_as: head_chosen_as.to_string(),
        },
        settings: settings.used(),
        machine_shift: head_shift.map(f64::exp_m1),
        history_used: records.len(),
        history_other_machine: other_machine.len(),
        comparisons,
        outcome,
        notes,
        pull_request_head: None,
        phases: None,
        bisect: None,
        runner: None,
        reproduce: None,
        scaling,
        history_page: None,
    }
}

/// Baselines in a comparison's trend (then the head).
pub const TREND_BASELINES: usize = 11;

/// Each comparison's trend: the medians of the newest `TREND_BASELINES`
/// baseline versions (oldest first), then the head's; left empty with
/// fewer than two baselines, where there is no trend to show.
fn add_trends(comparisons: &mut [Comparison], baseline: &Baseline, head: &RunRecord) {
    let versions: Vec<&RunRecord> = baseline
        .history
        .iter()
        .take(TREND_BASELINES - 1)
        .rev()
        .chain(std::iter::once(&baseline.record))
        .collect();
    if versions.len() < 2 {
        return;
    }
    for comparison in comparisons {
        let level = |record: &RunRecord| record.bench(&comparison.id).map(|b| median(&b.samples));
        comparison.trend = versions
            .iter()
            .map(|r| level(r))
            .chain(std::iter::once(level(head)))
            .collect();
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
    notes: &mut Vec<String>,
) -> Judged {
    let ids: BTreeSet<&BenchId> = head
        .benches
        .iter()
        .chain(&base.benches)
        .map(|b| &b.id)
        .chain(untimed.keys())
        .collect();
    let regressed_adjusted =
        benjamini_hochberg(&tests.iter().map(|(_, t)| t.p_regressed).collect::<Vec<_>>());
    let improved_adjusted =
        benjamini_hochberg(&tests.iter().map(|(_, t)| t.p_improved).collect::<Vec<_>>());

    // The level at which Benjamini-Hochberg rejects a benchmark whatever
    // the others show: what `Change::detectable` is stated at.
    let detection_level = settings.fdr / tests.len().max(1) as f64;
    let test_index: std::collections::BTreeMap<&BenchId, usize> = tests
        .iter()
        .enumerate()
        .map(|(i, (id, _))| (id, i))
        .collect();
    // Shown slower beyond the threshold, held back by too few rounds.
    let mut held_back: Vec<String> = Vec::new();
    let mut comparisons: Vec<Comparison> = ids
        .iter()
        .map(|id| {
            let head_bench = head.bench(id);
            let base_bench = base.bench(id);
            let min_change = test_index
                .get(id)
                .and_then(|&i| tests[i].1.min_change)
                .unwrap_or_else(|| settings.min_change_for(id));
            let rule = Rule {
                min_change,
                fdr: settings.fdr,
                layout_fails: settings.fail_on_layout,
                accepts_time: settings.acceptance_for(id, AcceptKind::Time).is_some(),
                accepts_allocations: settings
                    .acceptance_for(id, AcceptKind::Allocations)
                    .is_some(),
                allocations_fail: settings.allocations.fails(),
            };
            let allocation_check = base_bench.zip(head_bench).and_then(|(base, head)| {
                allocations::check(&base.allocations, &head.allocations, settings.allocations)
            });
            let memory_check = base_bench.zip(head_bench).and_then(|(base, head)| {
                peak_memory::check(&base.peak_memory, &head.peak_memory, settings.peak_memory)
            });
            let (presence, change) = match test_index.get(id).copied() {
                Some(i) => {
                    let t = &tests[i].1;
                    let evidence = Evidence {
                        log_change: t.log_change,
                        log_ci: t.log_ci,
                        p_regressed_adjusted: regressed_adjusted[i],
                        p_improved_adjusted: improved_adjusted[i],
                        code: t.instructions.as_ref().map(verdict::CodeEvidence::from),
                        rounds: t.rounds,
                        allocations_grew: allocation_check
                            .as_ref()
                            .is_some_and(|check| !check.grew.is_empty()),
                        memory_grew: memory_check.as_ref().is_some_and(PeakMemoryCheck::fails),
                    };
                    let change = Change {
                        detectable: t.detectable(min_change.ln_1p(), detection_level),
                        disturbed_rounds: t.disturbed,
                        base_level: t.base_level,
                        estimate: t.log_change.exp_m1(),
                        ci_low: t.log_ci.0.exp_m1(),
                        ci_high: t.log_ci.1.exp_m1(),
                        p_regressed: t.p_regressed,
                        p_regressed_adjusted: regressed_adjusted[i],
                        p_improved: t.p_improved,
                        p_improved_adjusted: improved_adjusted[i],
                        standard_error: t.standard_error,
                        history: t.history,
                        rounds: t.rounds,
                        low_confidence: t.low_confidence,
                    };
                    (Presence::Both(evidence), Some(change))
                }
                None if untimed.contains_key(*id) => (untimed[*id], None),
                None if head_bench.is_some() => (Presence::OnlyHead, None),
                None => (Presence::OnlyBase, None),
            };
            let (verdict, accepted_kind) = classify_with_acceptance(presence, &rule);
            if let Presence::Both(evidence) = presence
                && verdict == Verdict::LikelySlower
                && verdict::held_back_by_rounds(&evidence, &rule)
            {
                held_back.push(format!("{id} ({} rounds)", evidence.rounds));
            }
            let head_profile = head_bench.and_then(|b| b.profile.as_ref());
            let instructions = test_index.get(id).and_then(|&i| tests[i].1.instructions);
            let hotspots = match (verdict, head_profile) {
                (Verdict::Regressed, Some(profile)) => Some(hotspots::hotspots(
                    base_bench.and_then(|b| b.profile.as_ref()),
                    profile,
                )),
                _ => None,
            };
            Comparison {
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
            }
        })
        .collect();
    sort_for_reading(&mut comparisons);
    // One note per input change: a file several benchmarks read grew once.
    let mut by_input: std::collections::BTreeMap<(&str, u64, u64), Vec<&Comparison>> =
        Default::default();
    for c in &comparisons {
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
        .any(|b| b.unit == crate::record::UNIT_INSTRUCTIONS);
    let measure = if counted { "instructions" } else { "time" };
    for rows in by_input.values() {
        notes.push(input_note(rows, measure));
    }
    if comparisons
        .iter()
        .any(|c| c.verdict == Verdict::Regressed && c.hotspots.is_none() && !c.id.is_command())
    {
        notes.push(
            "to see where the time went (hotspots and flamegraphs), install flamegate's profiler in your benches: \
             on criterion 0.8 `criterion_group! { name = benches; config = flamegate_hook::criterion(); targets = ... }` \
             (dev-dependency flamegate-hook), on criterion 0.5 `config = flamegate_hook_criterion05::criterion()` \
             (dev-dependency flamegate-hook-criterion05); other criterion versions and divan have no hook yet"
                .into(),
        );
    }

    if !held_back.is_empty() {
        notes.push(format!(
            "{} benchmark(s) read slower beyond the threshold, but from fewer than the {} rounds a \
             regression is called from (round ratios can be bimodal): {}; they read `likely slower` and \
             do not fail the gate. Run `--rounds {}` or more, or give the adaptive plan a larger `--budget`",
            held_back.len(),
            verdict::MIN_ROUNDS_TO_FLAG,
            held_back.join(", "),
            verdict::MIN_ROUNDS_TO_FLAG,
        ));
    }

    // Benchmarks shown to have changed are not what a run could miss.
    let insensitive: Vec<(String, usize)> = comparisons
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
                let text = format!("{} (≥ {:.1}%)", c.id, 100.0 * detectable);
                (text, change.rounds)
            })
        })
        .collect();
    if !insensitive.is_empty() {
        let paired = insensitive.iter().any(|(_, rounds)| *rounds > 0);
        let remedy = if paired {
            "their rounds spread too widely for the rounds they had: more rounds (`--rounds N`, a \
             larger `--budget`) or a quieter runner narrow it"
        } else {
            "their baseline history spreads too widely: `check --paired` measures both sides in this \
             job and usually narrows it"
        };
        let list: Vec<&str> = insensitive.iter().map(|(text, _)| text.as_str()).collect();
        notes.push(format!(
            "{} benchmark(s) could not have shown a {:.0}% slowdown with 80% probability in this run: {}; {remedy}",
            insensitive.len(),
            100.0 * SENSITIVE_ENOUGH,
            list.join(", ")
        ));
    }

    let scaling = scaling::scaling(base, head, &comparisons, settings);
    let outcome = crate::report::outcome_of(&comparisons, &scaling);
    Judged {
        comparisons,
        scaling,
        outcome,
    }
}

/// The suite judged: per benchmark, per sized group, and the outcome.
pub(crate) struct Judged {
    pub comparisons: Vec<Comparison>,
    pub scaling: Vec<crate::report::Scaling>,
    pub outcome: Outcome,
}

/// A benchmark that could not have shown a slowdown of this size (with 80%
/// probability) is named in a note: the gate's target is to catch 5%.
pub const SENSITIVE_ENOUGH: f64 = 0.05;

/// What benchmarks compared per unit of input say beside the numbers: one
/// note for all whose input changed alike (`rows` share one `InputChange`).
/// `measure` is what the changes are of: "time" or "instructions".
fn input_note(rows: &[&Comparison], measure: &str) -> String {
    let input = rows[0].input.as_ref().expect("grouped by input");
    let unit = crate::record::unit_word(&input.unit);
    let growth = input.head as f64 / input.base as f64 - 1.0;
    let how = format!(
        "{} {:.1}% ({} → {} {unit}s per iteration)",
        if growth > 0.0 { "grew" } else { "shrank" },
        growth.abs() * 100.0,
        input.base,
        input.head,
    );
    match rows {
        [c] => format!(
            "`{}`: its declared input {how}, so its change is {measure} per {unit}: {:+.1}% (the medians are as measured)",
            c.id,
            c.change.as_ref().map_or(0.0, |ch| ch.estimate) * 100.0
        ),
        _ => format!(
            "{} benchmarks' declared input {how} ({}), so their changes are {measure} per {unit} (the medians are as measured)",
            rows.len(),
            rows.iter()
                .map(|c| format!("`{}`", c.id))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

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
    instructions: Option<crate::report::InstructionCheck>,
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
        let reach = stats::t_quantile(1.0 - alpha, df) + stats::t_quantile(DETECTION_POWER, df);
        Some((threshold + reach * self.standard_error).exp_m1())
    }
}

fn logs(bench: &BenchResult) -> Vec<f64> {
    bench.samples.iter().map(|s| s.ln()).collect()
}

fn log_median(bench: &BenchResult) -> f64 {
    median(&bench.samples).ln()
}

/// Summary of one side's samples.
pub fn summarize(bench: &BenchResult) -> Summary {
    Summary {
        median: median(&bench.samples),
        mean: stats::mean(&bench.samples),
        p95: stats::quantile(&bench.samples, 0.95),
        mad: mad(&bench.samples),
        n: bench.samples.len(),
    }
}

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
struct NoiseModel {
    /// Log-space level of each benchmark at the base.
    centers: Vec<f64>,
    /// Records averaged into each level.
    center_len: Vec<usize>,
    /// Robust standard deviation of one run's log median, per benchmark
    /// (None without at least one pair of records).
    spreads: Vec<Option<f64>>,
    /// Consecutive differences behind each spread.
    differences: Vec<usize>,
    /// Records holding each benchmark.
    history_len: Vec<usize>,
    /// Pooled prior variance, when enough benchmarks have a history.
    prior_variance: Option<f64>,
}

impl NoiseModel {
    fn fit(records: &[&RunRecord], shared: &[&BenchId]) -> NoiseModel {
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
    fn scale(&self, b: usize) -> Option<(f64, f64)> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::RecordSource;
    use crate::record::{Machine, RECORD_SCHEMA};
    use proptest::prelude::*;

    fn record(medians: &[f64], spread: f64, seed: u64) -> RunRecord {
        let mut state = seed;
        let mut next = move || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
        };
        RunRecord {
            same_code: Default::default(),
            schema: RECORD_SCHEMA,
            commit: None,
            dirty: false,
            machine: Machine {
                cpu_model: "cpu".into(),
                logical_cores: 2,
                os: "os".into(),
                rustc: "rustc".into(),
                governor: None,
                valgrind: None,
            },
            created: time::OffsetDateTime::UNIX_EPOCH,
            shard: None,
            benches: medians
                .iter()
                .enumerate()
                .map(|(i, m)| {
                    BenchResult::new(
                        BenchId(format!("bench/{i}")),
                        "bench".into(),
                        "ns",
                        (0..20).map(|_| m * (1.0 + spread * next())).collect(),
                    )
                })
                .collect(),
        }
    }

    fn baseline(history: Vec<RunRecord>) -> Baseline {
        let mut history = history.into_iter();
        Baseline {
            record: history.next().expect("at least one record"),
            source: RecordSource::File("base.json".into()),
            commit: None,
            chosen_as: "test".into(),
            history: history.collect(),
            notes: Vec::new(),
        }
    }

    /// Per-record wobble of each benchmark's median, as between runs.
    fn wobbled(medians: &[f64], wobble: &[f64]) -> Vec<f64> {
        medians
            .iter()
            .zip(wobble.iter().cycle())
            .map(|(m, w)| m * (1.0 + w))
            .collect()
    }

    #[test]
    fn a_common_shift_is_removed_only_when_clear() {
        let slower_machine = [0.18, 0.19, 0.20, 0.21, 0.22, 0.185, 0.205, 0.195];
        let shift = common_shift(&slower_machine).expect("a clear shift");
        assert!((shift - 0.1975).abs() < 0.01, "{shift}");
        // Two large regressions among scattered layout effects.
        assert_eq!(
            common_shift(&[4.4, 2.5, -0.52, -0.30, -0.25, 0.1, 0.3, -0.1]),
            None
        );
        // The demo's case: too few benchmarks to tell a machine from layout.
        assert_eq!(common_shift(&[4.6, 2.6, -0.30, -0.31, -0.32]), None);
    }

    /// Against a stored baseline too: a benchmark whose declared input grew
    /// 25% and whose time grew 25% is unchanged per element; one that grew
    /// its time without declaring more input still regresses.
    #[test]
    fn a_grown_input_is_compared_per_unit_against_a_stored_baseline() {
        let medians = [1000.0, 2000.0, 3000.0, 4000.0, 5000.0, 6000.0];
        let elements = |n| {
            Some(crate::record::Throughput {
                unit: "Elements".into(),
                per_iteration: n,
            })
        };
        let declare = |mut record: RunRecord, amount: u64| {
            record.benches[0].throughput = elements(amount);
            record
        };
        let history: Vec<RunRecord> = (0..5)
            .map(|i| declare(record(&medians, 0.002, i), 1000))
            .collect();
        let mut slower = medians;
        slower[0] *= 1.25;
        slower[1] *= 1.25;
        let head = declare(record(&slower, 0.002, 99), 1250);
        let report = against_stored("s", &head, "head", &baseline(history), &Settings::default());
        let of = |id: &str| report.comparison(id).unwrap();
        assert_eq!(
            of("bench/0").verdict,
            Verdict::Unchanged,
            "{:?}",
            of("bench/0")
        );
        assert_eq!(of("bench/0").input.as_ref().map(|i| i.head), Some(1250));
        assert_eq!(of("bench/1").verdict, Verdict::Regressed);
        assert_eq!(of("bench/1").input, None);
    }

    /// Random ±2% run-to-run movement: a 20% slowdown is caught in (nearly)
    /// every trial; deterministic seeds, so this guards the rule's power.
    #[test]
    fn a_twenty_percent_slowdown_is_caught_at_two_percent_noise() {
        let mut state = 12345u64;
        let mut uniform = move || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        let (mut caught, trials) = (0, 2000);
        for trial in 0..trials {
            let medians: Vec<f64> = (0..10).map(|_| 10.0 + uniform() * 1e6).collect();
            let wobble: Vec<f64> = (0..72).map(|_| (uniform() * 2.0 - 1.0) * 0.02).collect();
            let history: Vec<RunRecord> = (0..6)
                .map(|i| {
                    record(
                        &wobbled(&medians, &wobble[i * 12..(i + 1) * 12]),
                        0.02,
                        trial * 7 + i as u64,
                    )
                })
                .collect();
            let victim = trial as usize % 10;
            let mut slower = medians.clone();
            slower[victim] *= 1.2;
            let report = against_stored(
                "s",
                &record(&slower, 0.02, trial * 7 + 99),
                "head",
                &baseline(history),
                &Settings::default(),
            );
            let id = format!("bench/{victim}");
            if report
                .comparisons
                .iter()
                .any(|c| c.id.as_str() == id && c.verdict == Verdict::Regressed)
            {
                caught += 1;
            }
        }
        // Measured when written: 2000 of 2000.
        assert!(caught >= 1990, "caught {caught} of {trials}");
    }

    proptest! {
        #[test]
        fn identical_inputs_never_regress(
            medians in prop::collection::vec(10.0f64..1e7, 1..12),
            history_len in 1usize..8,
            spread in 0.0f64..0.3,
            seed in any::<u64>(),
        ) {
            let history: Vec<RunRecord> = (0..history_len).map(|i| record(&medians, spread, seed ^ i as u64)).collect();
            let head = history[0].clone();
            let report = against_stored("s", &head, "head", &baseline(history), &Settings::default());
            prop_assert_eq!(report.count(Verdict::Regressed), 0);
            prop_assert_eq!(report.outcome, Outcome::Pass);
        }

        #[test]
        fn a_uniform_twenty_percent_slowdown_is_always_flagged(
            medians in prop::collection::vec(10.0f64..1e7, 5..12),
            wobble in prop::collection::vec(-0.01f64..0.01, 6 * 12),
            victim in any::<prop::sample::Index>(),
            seed in any::<u64>(),
        ) {
            // Six baseline versions; each benchmark's median wobbles by up
            // to ±1% between runs, in any arrangement proptest can find. At
            // ±2%, alternating extremes (+1.9%, -1.8%, …) on the slowed
            // benchmark give a 3.7% noise estimate and p_adj 0.0104: caught
            // in random arrangements (see the next test), not always.
            let history: Vec<RunRecord> = (0..6)
                .map(|i| record(&wobbled(&medians, &wobble[i * 12..(i + 1) * 12]), 0.02, seed ^ i as u64))
                .collect();
            let victim = victim.index(medians.len());
            let mut slower = medians.clone();
            slower[victim] *= 1.2;
            let head = record(&slower, 0.02, seed ^ 99);
            let report = against_stored("s", &head, "head", &baseline(history), &Settings::default());
            let id = format!("bench/{victim}");
            let verdict = report.comparisons.iter().find(|c| c.id.as_str() == id).map(|c| c.verdict);
            prop_assert_eq!(verdict, Some(Verdict::Regressed));
            prop_assert_eq!(report.outcome, Outcome::Fail);
        }

        #[test]
        fn verdicts_come_only_from_classify(
            medians in prop::collection::vec(10.0f64..1e7, 1..10),
            factor in 0.5f64..2.0,
            seed in any::<u64>(),
        ) {
            let history: Vec<RunRecord> = (0..3).map(|i| record(&medians, 0.05, seed ^ i)).collect();
            let head = record(&medians.iter().map(|m| m * factor).collect::<Vec<_>>(), 0.05, seed ^ 7);
            let settings = Settings::default();
            let report = against_stored("s", &head, "head", &baseline(history), &settings);
            for c in &report.comparisons {
                let ch = c.change.as_ref().expect("both sides present");
                let evidence = Evidence {
                    log_change: ch.estimate.ln_1p(),
                    log_ci: (ch.ci_low.ln_1p(), ch.ci_high.ln_1p()),
                    p_regressed_adjusted: ch.p_regressed_adjusted,
                    p_improved_adjusted: ch.p_improved_adjusted,
                    code: None,
                    rounds: ch.rounds,
                    allocations_grew: false,
                    memory_grew: false,
                };
                let rule = Rule { min_change: c.min_change, fdr: settings.fdr, layout_fails: false, accepts_time: false, accepts_allocations: false, allocations_fail: true };
                prop_assert_eq!(classify(Presence::Both(evidence), &rule), c.verdict);
                prop_assert!(ch.ci_low <= ch.estimate && ch.estimate <= ch.ci_high);
            }
        }
    }
}
