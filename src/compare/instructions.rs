//! Rule (d) of docs/statistics.md: exact instruction counts. The same binary and
//! input give the same count, so there is nothing to estimate: a benchmark
//! regressed when its count grew by more than `max(min_change, 3 × jitter)`,
//! where jitter is the benchmark's own A/A spread: each side counts it
//! `REPEATS` times; deterministic code has none, code hashing with a
//! randomly seeded `HashMap` has some (up to 0.84% measured in the demo).
//! The verdict still comes from `classify`, fed p-values of 0 or 1.

use crate::baseline::Baseline;
use crate::profile::hotspots::exact_hotspots;
use crate::record::instructions::Simulated;
use crate::record::note::{Disagreement, Note};
use crate::record::{BenchId, InputChange, RunRecord};
use crate::report::{Mode, Report, Verdict};
use crate::stats::median_and_spread;

use super::{BenchTest, Settings, judge};

use crate::record::instructions::{JITTER_MULTIPLE, tolerance};

/// A benchmark's count (the median of its repeats) and its relative spread.
fn count(record: &RunRecord, id: &BenchId) -> Option<(f64, f64)> {
    Some(median_and_spread(&record.bench(id)?.samples))
}

/// The smallest relative change in a benchmark's count that is a change:
/// its `min_change`, or more where its repeated counts jitter; and the
/// jitter's part alone.
fn smallest_change(
    settings: &Settings,
    id: &BenchId,
    base_spread: f64,
    head_spread: f64,
) -> (f64, f64) {
    let allowed = tolerance(base_spread, head_spread);
    (settings.min_change_for(id).max(allowed), allowed)
}

/// How two commits' counts of one benchmark differ: `ln(head / base)`,
/// when that is a change by the rule `against_instructions` gates with.
pub fn count_change(
    settings: &Settings,
    id: &BenchId,
    base: &crate::record::BenchResult,
    head: &crate::record::BenchResult,
) -> Option<f64> {
    let ((base_count, base_spread), (head_count, head_spread)) = (
        median_and_spread(&base.samples),
        median_and_spread(&head.samples),
    );
    let (min_change, _) = smallest_change(settings, id, base_spread, head_spread);
    let log_change = (head_count / base_count).ln();
    (log_change.abs() > min_change.ln_1p()).then_some(log_change)
}

/// The instructions each crate's functions execute themselves, per
/// iteration, by the crate their symbols name.
fn own_by_crate(bench: &crate::record::BenchResult) -> std::collections::BTreeMap<String, f64> {
    let mut by_crate = std::collections::BTreeMap::new();
    for (name, cost) in bench.functions.iter().flatten() {
        if let Some(krate) = crate::profile::hotspots::crate_of(name) {
            *by_crate.entry(krate.to_string()).or_insert(0.0) += cost.own as f64;
        }
    }
    by_crate
}

/// Each package whose locked versions changed, with (where both sides'
/// per-function counts are given) what its crate's functions execute
/// themselves on each side and that growth's share of the benchmark's
/// change; largest share first.
pub fn dependency_shares(
    changes: Vec<crate::record::commit::PackageChange>,
    sides: Option<(&crate::record::BenchResult, &crate::record::BenchResult)>,
) -> Vec<crate::report::bisect::DependencyChange> {
    use crate::report::bisect::DependencyChange;
    let owned = sides.map(|(base, head)| {
        (
            own_by_crate(base),
            own_by_crate(head),
            level(head) - level(base),
        )
    });
    let mut shares: Vec<DependencyChange> = changes
        .into_iter()
        .map(|package| {
            let Some((before, after, whole)) = &owned else {
                return DependencyChange {
                    package,
                    instructions_before: None,
                    instructions_after: None,
                    share: None,
                };
            };
            // Package `foo-bar` is crate `foo_bar` in symbols.
            let krate = package.name.replace('-', "_");
            let own_before = before.get(&krate).copied().unwrap_or(0.0);
            let own_after = after.get(&krate).copied().unwrap_or(0.0);
            DependencyChange {
                package,
                instructions_before: Some(own_before),
                instructions_after: Some(own_after),
                share: Some(if *whole == 0.0 {
                    0.0
                } else {
                    (own_after - own_before) / whole
                }),
            }
        })
        .collect();
    shares.sort_by(|a, b| {
        let share = |c: &DependencyChange| c.share.unwrap_or(0.0).abs();
        share(b).total_cmp(&share(a))
    });
    shares
}

/// A benchmark's count: the median of its repeats.
pub fn level(bench: &crate::record::BenchResult) -> f64 {
    crate::stats::median(&bench.samples)
}

/// callgrind's cycle estimate for one iteration from its simulation.
fn estimated_cycles(instructions: f64, simulated: &Simulated) -> f64 {
    use crate::record::instructions::{L1_MISS_CYCLES, LL_MISS_CYCLES, MISPREDICT_CYCLES};
    instructions
        + MISPREDICT_CYCLES * simulated.mispredicts as f64
        + L1_MISS_CYCLES * simulated.l1_misses as f64
        + LL_MISS_CYCLES * simulated.ll_misses as f64
}

/// The dual-measure check of one timed benchmark: its instruction counts
/// on both sides (paired mode), with their jitter and simulated cycles.
/// When the declared input differs (`input`), the changes are per unit of
/// input, like the time's they are checked against.
pub fn check(
    base: &crate::record::BenchResult,
    head: &crate::record::BenchResult,
    input: Option<&crate::record::InputChange>,
) -> crate::report::checks::InstructionCheck {
    let ((base_count, base_jitter), (head_count, head_jitter)) = (
        median_and_spread(&base.samples),
        median_and_spread(&head.samples),
    );
    let per_unit = input.map_or(0.0, crate::record::InputChange::log_ratio);
    let change = |head: f64, base: f64| ((head / base).ln() - per_unit).exp_m1();
    crate::report::checks::InstructionCheck {
        base: base_count,
        head: head_count,
        change: change(head_count, base_count),
        jitter: base_jitter.max(head_jitter),
        simulated_cycles_change: base.simulated.zip(head.simulated).map(|(b, h)| {
            change(
                estimated_cycles(head_count, &h),
                estimated_cycles(base_count, &b),
            )
        }),
        per_unit: input.is_some(),
        code_changed: false,
    }
}

/// callgrind's simulated cache and branch behaviour of both sides, per
/// iteration, marked as the estimate it is.
pub fn simulated_note(base: &Simulated, head: &Simulated) -> String {
    format!(
        "simulated (advisory): L1 misses {} → {}, last-level misses {} → {}, mispredicted branches {} → {} of {} → {}",
        base.l1_misses,
        head.l1_misses,
        base.ll_misses,
        head.ll_misses,
        base.mispredicts,
        head.mispredicts,
        base.branches,
        head.branches
    )
}

/// Where the instructions went from `base` to `head`, by function (their
/// per-function counts, when callgrind gave them), with the simulated cache
/// and branch events of both.
pub fn hotspots_between(
    base: Option<&crate::record::BenchResult>,
    head: &crate::record::BenchResult,
) -> Option<crate::profile::hotspots::Hotspots> {
    let functions = head.functions.as_ref()?;
    let mut hotspots = exact_hotspots(
        base.and_then(|b| b.functions.as_ref()),
        functions,
        base.map_or(0, |b| level(b) as u64),
        level(head) as u64,
    );
    if let (Some(base), Some(head)) = (base.and_then(|b| b.simulated), head.simulated) {
        hotspots.summary = format!("{}; {}", hotspots.summary, simulated_note(&base, &head));
    }
    Some(hotspots)
}

/// Regressed benchmarks without hotspots (no profile: instruction mode, or
/// a paired benchmark that was counted) get them from the exact
/// per-function counts of both sides (`sides`: a benchmark's base and head
/// instruction records); the hint to install the profiler goes once every
/// regression has its notes.
pub(super) fn exact_hotspot_notes<'a>(
    comparisons: &mut [crate::report::Comparison],
    sides: impl Fn(
        &BenchId,
    ) -> (
        Option<&'a crate::record::BenchResult>,
        Option<&'a crate::record::BenchResult>,
    ),
    notes: &mut Vec<Note>,
) {
    for c in comparisons
        .iter_mut()
        .filter(|c| c.verdict == Verdict::Regressed && c.hotspots.is_none())
    {
        let (base_bench, head_bench) = sides(&c.id);
        c.hotspots = head_bench.and_then(|head| hotspots_between(base_bench, head));
    }
    if comparisons
        .iter()
        .all(|c| c.verdict != Verdict::Regressed || c.hotspots.is_some())
    {
        notes.retain(|n| *n != Note::NoProfiler);
    }
}

/// What a time change says when the instruction counts moved the other
/// way: one note for each direction, naming the benchmarks with both
/// changes. Neither number is wrong: instructions count the work, time is
/// how fast this machine did it, and the verdict stays with the time.
pub(super) fn disagreement_notes(comparisons: &[crate::report::Comparison]) -> Vec<Note> {
    let disagreeing = |direction: f64| -> Vec<Disagreement> {
        comparisons
            .iter()
            .filter_map(|c| {
                let time = c.change.as_ref()?.estimate;
                let check = c.instructions.as_ref()?;
                (c.verdict.time_direction() == Some(direction)
                    && !check.same_instructions()
                    && check.change * direction < 0.0)
                    .then(|| Disagreement {
                        id: c.id.to_string(),
                        time,
                        instructions: check.change,
                    })
            })
            .collect()
    };
    let mut notes = Vec::new();
    let faster = disagreeing(-1.0);
    if !faster.is_empty() {
        notes.push(Note::FasterWithMoreInstructions { benchmarks: faster });
    }
    let slower = disagreeing(1.0);
    if !slower.is_empty() {
        notes.push(Note::SlowerWithFewerInstructions { benchmarks: slower });
    }
    notes
}

/// Compare instruction counts of the head with the stored baseline's.
pub fn against_instructions(
    suite: &str,
    head: &RunRecord,
    head_chosen_as: &str,
    baseline: &Baseline,
    settings: &Settings,
) -> Report {
    let mut notes = baseline.notes.clone();
    if baseline.record.machine.valgrind != head.machine.valgrind
        || baseline.record.machine.rustc != head.machine.rustc
    {
        notes.push(Note::CountedWithOtherTools {
            base_rustc: baseline.record.machine.rustc.clone(),
            base_valgrind: baseline.record.machine.valgrind.clone(),
            head_rustc: head.machine.rustc.clone(),
            head_valgrind: head.machine.valgrind.clone(),
        });
    }
    let mut tests = Vec::new();
    for bench in &head.benches {
        let (Some((base_count, base_spread)), Some((head_count, head_spread))) =
            (count(&baseline.record, &bench.id), count(head, &bench.id))
        else {
            continue;
        };
        let (min_change, allowed) = smallest_change(settings, &bench.id, base_spread, head_spread);
        let tolerance = allowed.ln_1p();
        // Per unit of declared input where it differs, as time is compared.
        let input = baseline
            .record
            .bench(&bench.id)
            .and_then(|base| InputChange::between(base, bench));
        let log_change =
            (head_count / base_count).ln() - input.as_ref().map_or(0.0, InputChange::log_ratio);
        let threshold = min_change.ln_1p();
        tests.push((
            bench.id.clone(),
            BenchTest {
                min_change: Some(min_change),
                base_level: base_count,
                standard_error: tolerance / JITTER_MULTIPLE,
                log_change,
                // Counts are exact: no interval around the change (its
                // jitter is in the threshold instead).
                log_ci: (log_change, log_change),
                p_regressed: if log_change > threshold { 0.0 } else { 1.0 },
                p_improved: if log_change < -threshold { 0.0 } else { 1.0 },
                history: 1,
                rounds: 0,
                disturbed: 0,
                df: None,
                low_confidence: false,
                instructions: None,
            },
        ));
    }
    let mut judged = judge(
        &baseline.record,
        head,
        tests,
        &Default::default(),
        settings,
        &mut notes,
    );
    exact_hotspot_notes(
        &mut judged.comparisons,
        |id| (baseline.record.bench(id), head.bench(id)),
        &mut notes,
    );
    let sides = super::stored_sides(baseline, head, head_chosen_as);
    Report {
        history_used: 1,
        ..judged.into_report(suite, Mode::Instructions, sides, settings, notes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::RecordSource;
    use crate::record::{BenchResult, SampleUnit};

    fn counts(benches: &[(&str, &[f64])]) -> RunRecord {
        RunRecord::for_tests(
            benches
                .iter()
                .map(|(id, samples)| {
                    BenchResult::new(
                        BenchId(id.to_string()),
                        "g".into(),
                        SampleUnit::Instructions,
                        samples.to_vec(),
                    )
                })
                .collect(),
        )
    }

    /// Found on rust-hex: a pull request grew the benchmarks' declared
    /// input 8.6% (16,274 → 17,671 bytes) and `encode/rustc_hex` executed
    /// 8.5% more instructions: per byte the same work, which the time (per
    /// byte) is checked against.
    #[test]
    fn instruction_changes_are_per_unit_when_the_input_grew() {
        let bench = |count: f64| {
            counts(&[("encode/rustc_hex", &[count, count, count])])
                .benches
                .remove(0)
        };
        let input = crate::record::InputChange {
            unit: "Bytes".into(),
            base: 16_274,
            head: 17_671,
        };
        let raw = check(&bench(909_000.0), &bench(985_800.0), None);
        assert!((raw.change - 0.0845).abs() < 0.001, "{raw:?}");
        let per_byte = check(&bench(909_000.0), &bench(985_800.0), Some(&input));
        assert!(per_byte.change.abs() < 0.002, "{per_byte:?}");
        assert!(per_byte.per_unit);
    }

    /// Found on unicode-segmentation's PR #112: words 37-50% faster while
    /// two of them executed 5-6% more instructions. Both directions get a
    /// note; agreeing changes and the same instructions get none.
    #[test]
    fn time_and_instructions_that_disagree_are_explained() {
        use crate::report::Comparison;
        use crate::report::checks::InstructionCheck;
        let row = |id: &str, verdict: Verdict, time: f64, instructions: f64| {
            let json = serde_json::json!({
                "id": id, "base": null, "head": null, "change": {
                    "estimate": time, "ci_low": time, "ci_high": time, "p_regressed": 1.0,
                    "p_regressed_adjusted": 1.0, "p_improved": 1.0, "p_improved_adjusted": 1.0,
                    "standard_error": 0.01, "history": 0, "rounds": 8, "base_level": 1.0,
                    "low_confidence": false
                },
                "min_change": 0.01, "verdict": verdict,
            });
            let mut c: Comparison = serde_json::from_value(json).unwrap();
            c.instructions = Some(InstructionCheck {
                base: 1000.0,
                head: 1000.0 * (1.0 + instructions),
                change: instructions,
                jitter: 0.0,
                simulated_cycles_change: None,
                per_unit: false,
                code_changed: false,
            });
            c
        };
        let rows = [
            row("words/unicode", Verdict::Improved, -0.37, 0.052),
            row("words/ascii", Verdict::LikelyFaster, -0.40, -0.30),
            row("graphemes/long", Verdict::Regressed, 0.20, -0.08),
            row("graphemes/short", Verdict::Regressed, 0.20, 0.0),
        ];
        let notes = disagreement_notes(&rows);
        let named = |benchmarks: &[Disagreement]| -> Vec<String> {
            benchmarks.iter().map(|b| b.id.clone()).collect()
        };
        match notes.as_slice() {
            [
                Note::FasterWithMoreInstructions { benchmarks: faster },
                Note::SlowerWithFewerInstructions { benchmarks: slower },
            ] => {
                assert_eq!(named(faster), ["words/unicode"]);
                assert_eq!(named(slower), ["graphemes/long"]);
                assert_eq!((faster[0].time, faster[0].instructions), (-0.37, 0.052));
            }
            _ => panic!("one note each way: {notes:?}"),
        }
        assert!(disagreement_notes(&rows[1..2]).is_empty());
    }

    #[test]
    fn exact_counts_flag_one_percent_and_jittery_ones_get_their_spread() {
        let base = counts(&[
            ("exact", &[10_000.0, 10_000.0, 10_000.0]),
            ("hashing", &[10_000.0, 10_080.0, 10_040.0]),
        ]);
        let baseline = Baseline {
            record: base,
            source: RecordSource::File("b.json".into()),
            commit: None,
            chosen_as: "test".into(),
            history: Vec::new(),
            notes: Vec::new(),
        };
        let verdict = |exact: f64, hashing: f64| {
            let head = counts(&[
                ("exact", &[exact, exact, exact]),
                ("hashing", &[hashing, hashing + 40.0, hashing + 80.0]),
            ]);
            let report = against_instructions("s", &head, "head", &baseline, &Settings::default());
            let of = |id: &str| report.comparison(id).unwrap().verdict;
            (of("exact"), of("hashing"))
        };
        // Identical counts: nothing; 1.5% more: flagged where counts are exact,
        // within the allowed 3 x 0.8% where they jitter.
        assert_eq!(
            verdict(10_000.0, 10_000.0),
            (Verdict::Unchanged, Verdict::Unchanged)
        );
        assert_eq!(
            verdict(10_150.0, 10_150.0),
            (Verdict::Regressed, Verdict::Unchanged)
        );
        assert_eq!(
            verdict(10_150.0, 10_400.0),
            (Verdict::Regressed, Verdict::Regressed)
        );
        assert_eq!(
            verdict(10_050.0, 10_000.0),
            (Verdict::Unchanged, Verdict::Unchanged)
        );
    }
}
