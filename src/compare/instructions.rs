//! Rule (d) of STATISTICS.md: exact instruction counts. The same binary and
//! input give the same count, so there is nothing to estimate: a benchmark
//! regressed when its count grew by more than `max(min_change, TOLERANCE)`,
//! where TOLERANCE is three times the largest A/A jitter measured here.
//! The verdict still comes from `classify`, fed p-values of 0 or 1.

use crate::baseline::Baseline;
use crate::profile::hotspots::exact_hotspots;
use crate::record::{BenchId, RunRecord};
use crate::report::{Mode, REPORT_SCHEMA, Report, SettingsUsed, Side, Verdict};

use super::{BenchTest, Settings, judge};

/// The largest relative difference between two counts of the same code seen
/// in A/A runs on this machine (std's randomly seeded `HashMap`: the
/// fixture's and the demo's benchmarks moved by at most ~0.15%).
pub const AA_JITTER: f64 = 0.0015;
/// Changes within this are not changes: three times the A/A jitter.
pub const TOLERANCE: f64 = 3.0 * AA_JITTER;

fn count(record: &RunRecord, id: &BenchId) -> Option<f64> {
    record.bench(id).and_then(|b| b.samples.first().copied())
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
        notes.push(format!(
            "the baseline was counted with {} and {}, this run with {} and {}: counts can differ for that reason alone",
            baseline.record.machine.rustc,
            baseline.record.machine.valgrind.as_deref().unwrap_or("no valgrind"),
            head.machine.rustc,
            head.machine.valgrind.as_deref().unwrap_or("no valgrind"),
        ));
    }
    let tolerance = TOLERANCE.ln_1p();
    let mut tests = Vec::new();
    for bench in &head.benches {
        let (Some(base_count), Some(head_count)) =
            (count(&baseline.record, &bench.id), count(head, &bench.id))
        else {
            continue;
        };
        let log_change = (head_count / base_count).ln();
        let threshold = settings.min_change_for(&bench.id).max(TOLERANCE).ln_1p();
        tests.push((
            bench.id.clone(),
            BenchTest {
                base_level: base_count,
                standard_error: tolerance / 3.0,
                log_change,
                log_ci: (log_change - tolerance, log_change + tolerance),
                p_regressed: if log_change > threshold { 0.0 } else { 1.0 },
                p_improved: if log_change < -threshold { 0.0 } else { 1.0 },
                history: 1,
                rounds: 0,
                low_confidence: false,
            },
        ));
    }
    let (mut comparisons, outcome) = judge(&baseline.record, head, tests, settings, &mut notes);
    // Exact notes from the per-function counts replace sampled profiles.
    for c in comparisons
        .iter_mut()
        .filter(|c| c.verdict == Verdict::Regressed)
    {
        let base_bench = baseline.record.bench(&c.id);
        if let Some(head_bench) = head.bench(&c.id)
            && let Some(functions) = &head_bench.functions
        {
            c.hotspots = Some(exact_hotspots(
                base_bench.and_then(|b| b.functions.as_ref()),
                functions,
                base_bench
                    .and_then(|b| b.samples.first())
                    .map_or(0, |v| *v as u64),
                head_bench.samples.first().map_or(0, |v| *v as u64),
            ));
        }
    }
    if comparisons
        .iter()
        .all(|c| c.verdict != Verdict::Regressed || c.hotspots.is_some())
    {
        notes.retain(|n| !n.starts_with("to see where the time went"));
    }
    Report {
        schema: REPORT_SCHEMA,
        suite: suite.to_string(),
        mode: Mode::Instructions,
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
        settings: SettingsUsed {
            min_change: settings.min_change,
            fdr: settings.fdr,
            noise_limit: settings.noise_limit,
            confidence: settings.confidence,
        },
        machine_shift: None,
        history_used: 1,
        history_other_machine: 0,
        comparisons,
        outcome,
        notes,
        pull_request_head: None,
    }
}
