//! Scaling: how a group of sized benchmarks (`skus/find_duplicates/250`,
//! `…/1000`, `…/4000`) grows with its size on each side, and whether the
//! pull request changed that. The one place a scaling verdict is decided.
//!
//! Each side: a weighted least-squares line through (ln size, ln cost); its
//! slope is the exponent of a power law. The change of the exponent is the
//! slope of the members' log changes against ln size: the same measure the
//! per-benchmark verdicts use (rounds when paired, history when stored,
//! exact counts), weighted by their standard errors. Where the points
//! scatter about the line more than those errors allow (a constant cost
//! bends the line at small sizes), the interval widens by the misfit (the
//! Birge ratio) instead of claiming a precision the points do not have.

use std::collections::BTreeMap;

use super::Settings;
use crate::record::{BenchId, BenchResult, RunRecord};
use crate::report::scaling::{
    Complexity, ExponentChange, PowerLaw, Projection, Scaling, ScalingVerdict, SizedBench,
};
use crate::report::{Comparison, Summary};
use crate::stats;

/// A scaling law needs at least this many sizes…
pub const MIN_SIZES: usize = 3;
/// …spanning at least this factor, largest over smallest.
pub const MIN_SPAN: f64 = 10.0;
/// A smaller change of the exponent is not called a change of scaling: it
/// is a factor of 1.8 over a 10× span, the size of a constant cost moving.
pub const NOTABLE: f64 = 0.25;
/// `fail_on_scaling` fails the gate when the exponent grew by at least this
/// much with confidence (the lower end of its interval).
pub const FAIL_GROWTH: f64 = 0.5;
/// How far an exponent's interval may miss a class's exponent and still
/// name it: real code has constant costs besides its leading term.
pub const CLASS_TOLERANCE: f64 = 0.1;
/// Sizes are projected this factor beyond the largest measured one.
pub const PROJECTION_FACTOR: f64 = 10.0;
/// A class is named only when every point lies within this distance (ln
/// cost, about 10%) of the fitted line: a curve bent by a constant cost at
/// small sizes has an exponent no class has. base64's encoder counted 849
/// instructions at 3 bytes and 29.0k at 3,072 (linear plus a fixed cost):
/// exponent 0.51, whose wide interval held O(log n)'s 0.29.
pub const MAX_CLASS_MISFIT: f64 = 0.1;
/// Exact counts have no spread; this floor keeps their weights finite.
const STANDARD_ERROR_FLOOR: f64 = 0.002;

/// A fitted line: slope and its standard error.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Line {
    pub slope: f64,
    pub standard_error: f64,
    /// The largest distance of a point from the line.
    pub max_residual: f64,
}

/// Weighted least squares of `y` on `x`. `sigma` gives the standard errors
/// of the `y`s; without it the scatter about the line estimates them. At
/// least three points, two distinct `x`s.
pub fn fit_line(x: &[f64], y: &[f64], sigma: Option<&[f64]>) -> Option<Line> {
    let k = x.len();
    if k < 3 || y.len() != k || x.iter().chain(y).any(|v| !v.is_finite()) {
        return None;
    }
    let weights: Vec<f64> = match sigma {
        Some(sigma) => sigma
            .iter()
            .map(|s| 1.0 / s.max(STANDARD_ERROR_FLOOR).powi(2))
            .collect(),
        None => vec![1.0; k],
    };
    let total: f64 = weights.iter().sum();
    let weighted_mean = |v: &[f64]| weights.iter().zip(v).map(|(w, v)| w * v).sum::<f64>() / total;
    let (mx, my) = (weighted_mean(x), weighted_mean(y));
    let sxx: f64 = weights
        .iter()
        .zip(x)
        .map(|(w, x)| w * (x - mx).powi(2))
        .sum();
    if sxx <= 0.0 {
        return None;
    }
    let sxy: f64 = weights
        .iter()
        .zip(x.iter().zip(y))
        .map(|(w, (x, y))| w * (x - mx) * (y - my))
        .sum();
    let slope = sxy / sxx;
    let chi2: f64 = weights
        .iter()
        .zip(x.iter().zip(y))
        .map(|(w, (x, y))| w * (y - my - slope * (x - mx)).powi(2))
        .sum();
    let reduced = chi2 / (k - 2) as f64;
    let variance = match sigma {
        Some(_) => reduced.max(1.0) / sxx,
        None => reduced / sxx,
    };
    let max_residual = x
        .iter()
        .zip(y)
        .map(|(x, y)| (y - my - slope * (x - mx)).abs())
        .fold(0.0, f64::max);
    Some(Line {
        slope,
        standard_error: variance.sqrt(),
        max_residual,
    })
}

/// The exponent a class shows over these sizes: `n log n` is steeper than
/// 1 by an amount that depends on where the sizes lie.
pub fn class_exponent(class: Complexity, sizes: &[f64]) -> Option<f64> {
    let x: Vec<f64> = sizes.iter().map(|n| n.ln()).collect();
    let y: Vec<f64> = sizes.iter().map(|&n| class.cost(n).ln()).collect();
    fit_line(&x, &y, None).map(|line| line.slope)
}

/// The class the data support, if one: the only class whose exponent over
/// `sizes` lies within the interval; or, when none does, the only one
/// within the interval widened by `CLASS_TOLERANCE` (lower-order costs bend
/// a measured exponent away from its class).
pub fn class_of(ci: (f64, f64), sizes: &[f64]) -> Option<Complexity> {
    let within = |widen: f64| -> Vec<Complexity> {
        Complexity::ALL
            .into_iter()
            .filter(|&class| {
                class_exponent(class, sizes).is_some_and(|e| e >= ci.0 - widen && e <= ci.1 + widen)
            })
            .collect()
    };
    let only = |classes: Vec<Complexity>| match classes[..] {
        [class] => Some(class),
        _ => None,
    };
    let inside = within(0.0);
    if inside.is_empty() {
        only(within(CLASS_TOLERANCE))
    } else {
        only(inside)
    }
}

/// The power law through (size, cost) points; `sigma` the relative standard
/// errors of the costs, if known; `z` the interval's normal quantile.
pub fn power_law(sizes: &[f64], costs: &[f64], sigma: Option<&[f64]>, z: f64) -> Option<PowerLaw> {
    if costs.iter().any(|&c| c <= 0.0) {
        return None;
    }
    let x: Vec<f64> = sizes.iter().map(|n| n.ln()).collect();
    let y: Vec<f64> = costs.iter().map(|c| c.ln()).collect();
    let line = fit_line(&x, &y, sigma)?;
    let ci = (
        line.slope - z * line.standard_error,
        line.slope + z * line.standard_error,
    );
    Some(PowerLaw {
        exponent: line.slope,
        ci_low: ci.0,
        ci_high: ci.1,
        class: (line.max_residual <= MAX_CLASS_MISFIT)
            .then(|| class_of(ci, sizes))
            .flatten(),
    })
}

/// A size in a benchmark id's last part (`1000`, `1_000`, `1e3`).
fn parse_size(text: &str) -> Option<f64> {
    let digits: String = text.chars().filter(|&c| c != '_' && c != ',').collect();
    let n: f64 = digits.parse().ok()?;
    (n.is_finite() && n > 0.0 && digits.starts_with(|c: char| c.is_ascii_digit())).then_some(n)
}

/// A benchmark's group, what its size counts and the size: the id's
/// numeric last part (criterion's `BenchmarkId::new(name, n)`), else the
/// declared throughput of a parameterised benchmark.
fn sized(bench: &BenchResult) -> Option<(String, String, f64)> {
    if let Some((group, last)) = bench.id.as_str().rsplit_once('/')
        && let Some(n) = parse_size(last)
    {
        return Some((group.to_string(), "n".into(), n));
    }
    bench.parameter.as_ref()?;
    let throughput = bench.throughput.as_ref().filter(|t| t.per_iteration > 0)?;
    let group = match &bench.function {
        Some(function) => format!("{}/{function}", bench.group),
        None => bench.group.clone(),
    };
    Some((
        group,
        throughput.unit.clone(),
        throughput.per_iteration as f64,
    ))
}

/// Every group of two or more sized benchmarks, judged.
pub fn scaling(
    base: &RunRecord,
    head: &RunRecord,
    comparisons: &[Comparison],
    settings: &Settings,
) -> Vec<Scaling> {
    let mut groups: BTreeMap<(String, String), Vec<(f64, &Comparison)>> = BTreeMap::new();
    for c in comparisons {
        if let Some((group, unit, size)) = head.bench(&c.id).or(base.bench(&c.id)).and_then(sized) {
            groups.entry((group, unit)).or_default().push((size, c));
        }
    }
    groups
        .into_iter()
        .filter(|(_, members)| members.len() >= 2)
        .map(|((group, unit), members)| judge_group(group, unit, members, settings))
        .collect()
}

fn judge_group(
    group: String,
    size_unit: String,
    mut members: Vec<(f64, &Comparison)>,
    settings: &Settings,
) -> Scaling {
    members.sort_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.id.cmp(&b.1.id)));
    let sizes: Vec<f64> = members.iter().map(|(n, _)| *n).collect();
    let mut scaling = Scaling {
        group,
        size_unit,
        members: members
            .iter()
            .map(|(size, c)| SizedBench {
                id: c.id.clone(),
                size: *size,
            })
            .collect(),
        base: None,
        head: None,
        change: None,
        verdict: ScalingVerdict::NoClaim,
        fails: false,
        accepted: None,
        projection: None,
        why: None,
    };
    if let Some(why) = too_little(&members, &sizes) {
        scaling.why = Some(why);
        return scaling;
    }
    let z = stats::normal_quantile(1.0 - (1.0 - settings.confidence) / 2.0);
    let changes: Option<Vec<&crate::report::Change>> =
        members.iter().map(|(_, c)| c.change.as_ref()).collect();
    // One side's share of a change's spread.
    let side_sigma: Option<Vec<f64>> = changes.as_ref().map(|changes| {
        changes
            .iter()
            .map(|ch| ch.standard_error / std::f64::consts::SQRT_2)
            .collect()
    });
    let side = |summary: fn(&Comparison) -> Option<&Summary>| -> Option<PowerLaw> {
        let costs: Option<Vec<f64>> = members
            .iter()
            .map(|(_, c)| summary(c).map(|s| s.median))
            .collect();
        power_law(&sizes, &costs?, side_sigma.as_deref(), z)
    };
    scaling.base = side(|c| c.base.as_ref());
    scaling.head = side(|c| c.head.as_ref());

    let Some(changes) = changes else {
        scaling.why = Some("not measured on both sides".into());
        return scaling;
    };
    let Some(change) = exponent_change(&sizes, &changes, z) else {
        scaling.why = Some("the changes could not be fitted".into());
        return scaling;
    };
    scaling.change = Some(change);
    classify(&mut scaling, change, changes[changes.len() - 1]);
    gate(&mut scaling, change, settings);
    let (_, top) = members[members.len() - 1];
    if let (Some(base), Some(head), Some(base_top), Some(head_top)) =
        (scaling.base, scaling.head, &top.base, &top.head)
    {
        let size = sizes[sizes.len() - 1] * PROJECTION_FACTOR;
        scaling.projection = Some(Projection {
            size,
            base: base_top.median * PROJECTION_FACTOR.powf(base.exponent),
            head: head_top.median * PROJECTION_FACTOR.powf(head.exponent),
        });
    }
    scaling
}

/// Why the group's sizes cannot show a scaling law, if they cannot.
fn too_little(members: &[(f64, &Comparison)], sizes: &[f64]) -> Option<String> {
    let mut distinct = sizes.to_vec();
    distinct.dedup();
    let span = sizes[sizes.len() - 1] / sizes[0];
    if distinct.len() < MIN_SIZES {
        Some(format!(
            "a scaling law needs at least {MIN_SIZES} sizes spanning {MIN_SPAN}×"
        ))
    } else if span < MIN_SPAN {
        Some(format!(
            "the sizes span {span:.1}×; a scaling law needs at least {MIN_SIZES} sizes spanning {MIN_SPAN}×"
        ))
    } else if members.iter().any(|(_, c)| c.input.is_some()) {
        Some("the declared sizes differ between base and head".to_string())
    } else {
        None
    }
}

/// The change of the exponent: the slope of the log changes over the log
/// sizes, each weighted by its spread, with its interval.
fn exponent_change(
    sizes: &[f64],
    changes: &[&crate::report::Change],
    z: f64,
) -> Option<ExponentChange> {
    let x: Vec<f64> = sizes.iter().map(|n| n.ln()).collect();
    let logs: Vec<f64> = changes.iter().map(|ch| ch.estimate.ln_1p()).collect();
    let sigma: Vec<f64> = changes.iter().map(|ch| ch.standard_error).collect();
    let line = fit_line(&x, &logs, Some(&sigma))?;
    Some(ExponentChange {
        estimate: line.slope,
        ci_low: line.slope - z * line.standard_error,
        ci_high: line.slope + z * line.standard_error,
    })
}

/// Scales worse or better only when the exponent moved notably and the
/// largest size's own change agrees.
fn classify(scaling: &mut Scaling, change: ExponentChange, largest: &crate::report::Change) {
    let rose = change.ci_low > 0.0 && change.estimate >= NOTABLE;
    let fell = change.ci_high < 0.0 && change.estimate <= -NOTABLE;
    scaling.verdict = if rose && largest.ci_low > 0.0 {
        ScalingVerdict::ScalesWorse
    } else if fell && largest.ci_high < 0.0 {
        ScalingVerdict::ScalesBetter
    } else {
        ScalingVerdict::Same
    };
    // A cost that does not grow with the size, removed, steepens the line
    // without making the large sizes slower: not "scales worse".
    if rose && scaling.verdict == ScalingVerdict::Same {
        scaling.why = Some(format!(
            "the exponent rose by {:+.2}, but the largest size is not shown slower: the smaller sizes \
             got faster (a cost that does not grow with the size)",
            change.estimate
        ));
    } else if fell && scaling.verdict == ScalingVerdict::Same {
        scaling.why = Some(format!(
            "the exponent fell by {:.2}, but the largest size is not shown faster: the smaller sizes \
             got slower (a cost that does not grow with the size)",
            -change.estimate
        ));
    }
}

/// Whether scaling worse fails the gate, unless a commit accepted it (for
/// the group, or for every member).
fn gate(scaling: &mut Scaling, change: ExponentChange, settings: &Settings) {
    let kind = crate::record::acceptance::AcceptKind::Scaling;
    let accepted = settings
        .acceptance_for(&BenchId(scaling.group.clone()), kind)
        .or_else(|| {
            let each: Option<Vec<_>> = scaling
                .members
                .iter()
                .map(|m| settings.acceptance_for(&m.id, kind))
                .collect();
            each.and_then(|each| each.first().copied())
        });
    let would_fail = scaling.verdict == ScalingVerdict::ScalesWorse
        && settings.fail_on_scaling
        && change.ci_low >= FAIL_GROWTH;
    scaling.accepted = accepted.filter(|_| would_fail).cloned();
    scaling.fails = would_fail && scaling.accepted.is_none();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{Change, Verdict};

    const Z: f64 = 1.959_963_984_540_054;
    const SIZES: [f64; 4] = [100.0, 1_000.0, 10_000.0, 100_000.0];

    fn exact(class: Complexity, sizes: &[f64]) -> Option<PowerLaw> {
        let costs: Vec<f64> = sizes.iter().map(|&n| 3.0 * class.cost(n)).collect();
        power_law(sizes, &costs, Some(&vec![0.0; sizes.len()]), Z)
    }

    #[test]
    fn exact_series_name_their_class() {
        for class in Complexity::ALL {
            let fit = exact(class, &SIZES).unwrap();
            assert_eq!(fit.class, Some(class), "{class:?}: {fit:?}");
        }
        let linear = exact(Complexity::Linear, &SIZES).unwrap();
        assert!((linear.exponent - 1.0).abs() < 1e-9);
        let quadratic = exact(Complexity::Quadratic, &SIZES).unwrap();
        assert!((quadratic.exponent - 2.0).abs() < 1e-9);
    }

    #[test]
    fn a_linear_cost_with_a_constant_part_still_reads_linear() {
        // 2 µs fixed plus 1 ns per element: the line bends at small sizes.
        let costs: Vec<f64> = SIZES.iter().map(|n| 2_000.0 + n).collect();
        let fit = power_law(&SIZES, &costs, Some(&[0.02; 4]), Z).unwrap();
        assert!(fit.exponent < 0.9, "{fit:?}");
        // The misfit widens the interval rather than naming a wrong class.
        assert!(fit.ci_high - fit.ci_low > 0.2, "{fit:?}");
        assert_eq!(fit.class, None, "{fit:?}");
        // base64's encoder under callgrind: linear plus a fixed cost.
        let sizes = [3.0, 50.0, 100.0, 500.0, 3_072.0];
        let counts = [849.0, 1_201.0, 1_634.0, 5_098.0, 29_000.0];
        let fit = power_law(&sizes, &counts, Some(&[0.0; 5]), Z).unwrap();
        assert!((fit.exponent - 0.51).abs() < 0.02, "{fit:?}");
        assert_eq!(fit.class, None, "not O(log n): {fit:?}");
    }

    #[test]
    fn noise_keeps_the_class_when_it_is_small_and_names_none_when_it_is_not() {
        // Deterministic ±3% "noise" on an n² series.
        let wobble = [1.03, 0.97, 1.02, 0.98];
        let costs: Vec<f64> = SIZES.iter().zip(wobble).map(|(&n, w)| n * n * w).collect();
        let fit = power_law(&SIZES, &costs, Some(&[0.03; 4]), Z).unwrap();
        assert_eq!(fit.class, Some(Complexity::Quadratic), "{fit:?}");
        // ±60%: n and n log n both fit, so neither is named.
        let wobble = [1.6, 0.4, 1.5, 0.5];
        let costs: Vec<f64> = SIZES.iter().zip(wobble).map(|(&n, w)| n * w).collect();
        let fit = power_law(&SIZES, &costs, Some(&[0.5; 4]), Z).unwrap();
        assert_eq!(fit.class, None, "{fit:?}");
    }

    #[test]
    fn n_log_n_is_named_only_where_the_data_tell_it_from_n() {
        // Over 100× the two classes' exponents differ by 0.11: exact
        // counts tell them apart…
        let sizes = [1_000.0, 10_000.0, 100_000.0];
        let fit = exact(Complexity::Linearithmic, &sizes).unwrap();
        assert_eq!(fit.class, Some(Complexity::Linearithmic), "{fit:?}");
        assert!((fit.exponent - 1.11).abs() < 0.01, "{fit:?}");
        assert_eq!(
            exact(Complexity::Linear, &sizes).unwrap().class,
            Some(Complexity::Linear)
        );
        // …timings with a 10% error over 16× do not: both classes (1.0 and
        // 1.15 over these sizes) lie within the interval.
        let sizes: [f64; 3] = [250.0, 1_000.0, 4_000.0];
        let wobble = [1.08, 1.0, 0.92];
        let costs: Vec<f64> = sizes
            .iter()
            .zip(wobble)
            .map(|(&n, w)| n * n.ln() * w)
            .collect();
        let fit = power_law(&sizes, &costs, Some(&[0.1; 3]), Z).unwrap();
        assert!(fit.ci_low < 1.0 && fit.ci_high > 1.15, "{fit:?}");
        assert_eq!(fit.class, None, "{fit:?}");
    }

    #[test]
    fn two_points_make_no_line() {
        assert!(fit_line(&[1.0, 2.0], &[1.0, 2.0], None).is_none());
        assert!(power_law(&[10.0, 100.0], &[1.0, 10.0], None, Z).is_none());
        assert!(fit_line(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0], None).is_none());
    }

    #[test]
    fn sizes_come_from_the_ids_last_part() {
        assert_eq!(parse_size("1000"), Some(1000.0));
        assert_eq!(parse_size("1_000"), Some(1000.0));
        assert_eq!(parse_size("1e3"), Some(1000.0));
        for not_a_size in ["v2", "inf", "NaN", "-5", "0", "", "hex"] {
            assert_eq!(parse_size(not_a_size), None, "{not_a_size}");
        }
    }

    fn comparison(id: &str, base: f64, head: f64, standard_error: f64) -> Comparison {
        let summary = |median: f64| Summary {
            median,
            mean: median,
            p95: median,
            mad: 0.0,
            n: 10,
        };
        let log = (head / base).ln();
        let margin = Z * standard_error;
        Comparison {
            id: BenchId(id.into()),
            base: Some(summary(base)),
            head: Some(summary(head)),
            input: None,
            change: Some(Change {
                base_level: base,
                estimate: log.exp_m1(),
                ci_low: (log - margin).exp_m1(),
                ci_high: (log + margin).exp_m1(),
                p_regressed: 0.5,
                p_regressed_adjusted: 0.5,
                p_improved: 0.5,
                p_improved_adjusted: 0.5,
                standard_error,
                history: 1,
                rounds: 6,
                disturbed_rounds: 0,
                detectable: None,
                low_confidence: false,
            }),
            min_change: 0.01,
            verdict: Verdict::Unchanged,
            accepted: None,
            instructions: None,
            allocations: None,
            peak_memory: None,
            hotspots: None,
            flamegraphs: Vec::new(),
            dependencies: Vec::new(),
            trend: Vec::new(),
        }
    }

    fn group(base: impl Fn(f64) -> f64, head: impl Fn(f64) -> f64, sizes: &[f64]) -> Scaling {
        let rows: Vec<Comparison> = sizes
            .iter()
            .map(|&n| comparison(&format!("skus/find/{n}"), base(n), head(n), 0.03))
            .collect();
        judge_group(
            "skus/find".into(),
            "n".into(),
            sizes.iter().copied().zip(rows.iter()).collect(),
            &Settings::default(),
        )
    }

    #[test]
    fn linear_to_quadratic_scales_worse_and_fails() {
        let sizes = [250.0, 1_000.0, 4_000.0];
        let s = group(|n| 30.0 * n, |n| 0.5 * n * n + 30.0 * n, &sizes);
        assert_eq!(s.verdict, ScalingVerdict::ScalesWorse, "{s:?}");
        assert!(s.fails, "{s:?}");
        assert_eq!(s.base.unwrap().class, Some(Complexity::Linear));
        assert_eq!(s.head.unwrap().class, Some(Complexity::Quadratic), "{s:?}");
        let projection = s.projection.unwrap();
        assert_eq!(projection.size, 40_000.0);
        assert!((projection.base / (30.0 * 40_000.0) - 1.0).abs() < 0.01);
        // The reverse is a fix.
        let s = group(|n| 0.5 * n * n + 30.0 * n, |n| 30.0 * n, &sizes);
        assert_eq!(s.verdict, ScalingVerdict::ScalesBetter);
        assert!(!s.fails);
    }

    #[test]
    fn a_uniform_slowdown_keeps_the_scaling() {
        let s = group(|n| 10.0 * n, |n| 13.0 * n, &[100.0, 1_000.0, 10_000.0]);
        assert_eq!(s.verdict, ScalingVerdict::Same, "{s:?}");
        assert!(s.change.unwrap().estimate.abs() < 1e-9);
    }

    #[test]
    fn a_removed_constant_cost_is_not_called_worse() {
        // 50 µs of set-up removed; the per-element cost unchanged.
        let s = group(
            |n| 50_000.0 + 10.0 * n,
            |n| 10.0 * n,
            &[100.0, 1_000.0, 10_000.0],
        );
        assert!(s.change.unwrap().ci_low > 0.0, "{s:?}");
        assert_eq!(s.verdict, ScalingVerdict::Same, "{s:?}");
        assert!(s.why.unwrap().contains("largest size is not shown slower"));
    }

    #[test]
    fn too_few_sizes_or_too_narrow_a_span_make_no_claim() {
        let s = group(|n| n, |n| n * n, &[100.0, 1_000.0]);
        assert_eq!(s.verdict, ScalingVerdict::NoClaim);
        assert!(s.why.unwrap().contains("at least 3 sizes"));
        let s = group(|n| n, |n| n * n, &[100.0, 200.0, 400.0]);
        assert_eq!(s.verdict, ScalingVerdict::NoClaim);
        assert!(s.why.unwrap().contains("span 4.0×"));
        assert!(!s.fails);
    }
}
