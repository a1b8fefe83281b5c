//! Rule (a) of STATISTICS.md: base and head measured in alternating rounds
//! of the same job. Per round `theta_j = ln(median head_j / median base_j)`;
//! the estimate is Hodges-Lehmann over rounds with its signed-rank interval;
//! the test is one-sided Student t on the round log ratios against the
//! practical threshold; Benjamini-Hochberg across the suite (in `judge`).

use crate::collect::paired::PairedRun;
use crate::record::BenchId;
use crate::report::{Mode, REPORT_SCHEMA, Report, SettingsUsed, Side};

use super::stats::{self, hodges_lehmann};
use super::{BenchTest, Settings, judge};

/// Compare the two sides of a paired run and classify.
pub fn against_paired(
    suite: &str,
    run: &PairedRun,
    head_side: Side,
    base_side: Side,
    settings: &Settings,
) -> Report {
    let mut notes = Vec::new();
    let mut tests: Vec<(BenchId, BenchTest)> = Vec::new();
    for (id, rounds) in &run.round_medians {
        let thetas: Vec<f64> = rounds.iter().map(|r| (r.head / r.base).ln()).collect();
        let n = thetas.len();
        let threshold = settings.min_change_for(id).ln_1p();
        let (estimate, ci) = hodges_lehmann(&thetas, settings.confidence);
        let mean = stats::mean(&thetas);
        // Guard against a zero spread (identical rounds): a tiny floor keeps
        // the statistic finite and the decision on the threshold's side.
        let spread = if n > 1 {
            let variance = thetas.iter().map(|t| (t - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
            variance.sqrt().max(1e-9)
        } else {
            f64::INFINITY
        };
        let standard_error = spread / (n as f64).sqrt();
        let df = (n.max(2) - 1) as f64;
        let base_level = stats::median(&rounds.iter().map(|r| r.base).collect::<Vec<_>>());
        tests.push((
            id.clone(),
            BenchTest {
                base_level,
                standard_error,
                log_change: estimate,
                log_ci: ci,
                p_regressed: stats::t_sf((mean - threshold) / standard_error, df),
                p_improved: stats::t_cdf((mean + threshold) / standard_error, df),
                history: 0,
                rounds: n,
                low_confidence: n < 2,
            },
        ));
    }
    notes.push(
        "paired runs do not collect profiles yet: for hotspots and flamegraphs, run `flamegate check` against the stored baseline"
            .into(),
    );
    if run.rounds < 2 {
        notes.push(
            "a single round cannot separate change from noise; use --rounds 2 or more".into(),
        );
    }
    let (comparisons, outcome) = judge(&run.base, &run.head, tests, settings, false, &mut notes);
    Report {
        schema: REPORT_SCHEMA,
        suite: suite.to_string(),
        mode: Mode::Paired,
        base: base_side,
        head: head_side,
        settings: SettingsUsed {
            min_change: settings.min_change,
            fdr: settings.fdr,
            noise_limit: settings.noise_limit,
            confidence: settings.confidence,
        },
        machine_shift: None,
        history_used: 0,
        history_other_machine: 0,
        comparisons,
        outcome,
        notes,
    }
}
