//! Render: turn a `Report` into bytes — terminal text, Markdown, JSON.
//!
//! Renderers read each comparison's verdict; none recomputes it. They never
//! write files: the caller decides where bytes go.

pub mod bisect;
pub mod escape;
pub mod flamegraph;
pub mod history;
mod history_section;
pub mod json;
pub mod markdown;
pub mod scaling;
pub mod terminal;

use escape::{markdown_code, markdown_prose, markdown_text, terminal_text};
use json::Json;
use markdown::Markdown;
use terminal::Terminal;

use crate::report::Report;

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A table for people at a terminal.
    Terminal,
    /// The pull-request comment.
    Markdown,
    /// The versioned `Report`, for tools and the fork-safe publisher.
    Json,
}

/// A report renderer.
pub trait Renderer {
    fn render(&self, report: &Report) -> Vec<u8>;
}

/// The renderer for a format (`color` applies to the terminal only).
pub fn renderer(format: Format, color: bool) -> Box<dyn Renderer> {
    match format {
        Format::Terminal => Box::new(Terminal { color }),
        Format::Markdown => Box::new(Markdown),
        Format::Json => Box::new(Json),
    }
}

/// A time per iteration in nanoseconds, with a unit people read.
pub fn format_duration(ns: f64) -> String {
    let (value, unit) = if ns < 1e3 {
        (ns, "ns")
    } else if ns < 1e6 {
        (ns / 1e3, "µs")
    } else if ns < 1e9 {
        (ns / 1e6, "ms")
    } else {
        (ns / 1e9, "s")
    };
    let decimals = if value >= 100.0 {
        1
    } else if value >= 10.0 {
        2
    } else {
        3
    };
    format!("{value:.decimals$} {unit}")
}

/// A benchmark's level in the report's unit: a time per iteration, or in
/// instruction mode an instruction count per iteration.
pub fn format_level(mode: crate::report::Mode, value: f64) -> String {
    match mode {
        crate::report::Mode::Instructions => {
            format!("{} instr", crate::profile::hotspots::format_count(value))
        }
        _ => format_duration(value),
    }
}

/// A relative change as a signed percentage: `+5.2%`.
pub fn format_change(relative: f64) -> String {
    let percent = relative * 100.0;
    if percent.abs() >= 100.0 {
        format!("{percent:+.0}%")
    } else {
        format!("{percent:+.1}%")
    }
}

/// A relative amount as a plain percentage: `1%`, `0.5%`.
pub fn format_percent(relative: f64) -> String {
    let percent = relative * 100.0;
    let text = format!("{percent:.2}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    format!("{text}%")
}

/// What the verdicts rest on, for both human formats.
pub fn evidence(report: &Report) -> String {
    use crate::report::Mode;
    match report.mode {
        Mode::StoredBaseline => format!(
            "noise model: {} baseline record{}",
            report.history_used,
            if report.history_used == 1 { "" } else { "s" }
        ),
        Mode::Instructions => "instruction counts (callgrind), exact: a change within 3 times a benchmark's own A/A spread counts as none".to_string(),
        Mode::Paired => {
            let rounds: Vec<usize> = report
                .comparisons
                .iter()
                .filter_map(|c| c.change.as_ref().map(|ch| ch.rounds))
                .collect();
            let least = rounds.iter().min().copied().unwrap_or(0);
            let most = rounds.iter().max().copied().unwrap_or(0);
            if rounds.is_empty() && report.count(crate::report::Verdict::SameCode) > 0 {
                "paired: the same code executed on both sides, nothing timed".to_string()
            } else if rounds.is_empty() {
                "paired: identical machine code on both sides, nothing timed".to_string()
            } else if least == most {
                format!("paired: {most} rounds in this job, base and head alternating")
            } else {
                format!(
                    "paired: {least} to {most} rounds per benchmark in this job (more where the verdict was open), base and head alternating"
                )
            }
        }
    }
}

/// A comparison's interval as both human formats print it. Instruction
/// counts are exact: no interval, no statistics words.
pub fn interval_text(mode: crate::report::Mode, change: &crate::report::Change) -> String {
    match mode {
        crate::report::Mode::Instructions => "exact".to_string(),
        _ => format!(
            "{} … {}",
            format_change(change.ci_low),
            format_change(change.ci_high)
        ),
    }
}

/// A time change's instruction check as both human formats print it:
/// `1.20 M → 1.68 M instructions (+40.0%); simulated cycles +38.5%`.
pub fn instruction_text(check: &crate::report::checks::InstructionCheck) -> String {
    use crate::profile::hotspots::format_count;
    let change = if check.same_instructions() && check.code_changed {
        "the same count, different instructions".to_string()
    } else if check.same_instructions() {
        "the same".to_string()
    } else {
        format_change(check.change)
    };
    let mut text = format!(
        "{} → {} instructions per iteration ({change}{})",
        format_count(check.base),
        format_count(check.head),
        if check.per_unit {
            " per unit of input"
        } else {
            ""
        }
    );
    if let Some(cycles) = check.simulated_cycles_change {
        text.push_str(&format!("; simulated cycles {}", format_change(cycles)));
    }
    text
}

/// Who accepted a failure and why, as both human formats print it. The
/// name in a commit is whatever its author typed: only a login GitHub
/// vouched for reads "accepted by".
pub fn accepted_text(accepted: &crate::record::acceptance::Accepted) -> String {
    use crate::record::acceptance::Standing;
    let line = format!(
        "in {} (`{}: {}: …`): {}",
        crate::error::short_sha(&accepted.commit),
        accepted.kind.trailer(),
        accepted.glob,
        accepted.reason
    );
    match &accepted.standing {
        Standing::Verified { login } => {
            format!("accepted by @{login} (approved the pull request at this commit) {line}")
        }
        Standing::Merged => format!(
            "accepted on the target branch in {} (merged after the baseline was measured; `{}: {}: …`): {}",
            crate::error::short_sha(&accepted.commit),
            accepted.kind.trailer(),
            accepted.glob,
            accepted.reason
        ),
        Standing::Unverified => format!(
            "unverified acceptance (commit says: {}) {line}",
            accepted.by
        ),
        Standing::Refused { why } => format!(
            "unverified acceptance (commit says: {}), not honoured: {why}; {line}",
            accepted.by
        ),
    }
}

/// The decision rule's settings as both human formats state them.
pub fn rule_text(report: &Report) -> String {
    match report.mode {
        crate::report::Mode::Instructions => format!(
            "threshold {} (or a benchmark's own count jitter, when larger)",
            format_percent(report.settings.min_change)
        ),
        _ => format!(
            "threshold {}; false discovery rate {}; {} intervals",
            format_percent(report.settings.min_change),
            format_percent(report.settings.fdr),
            format_percent(report.settings.confidence)
        ),
    }
}

/// A benchmark's detectable slowdown for a table cell: `≥ 3.1%`; "too few
/// rounds" when paired rounds cannot say; empty for exact counts.
pub fn detectable_text(change: &crate::report::Change) -> String {
    match change.detectable {
        Some(d) => format!("≥ {:.1}%", 100.0 * d),
        None if change.too_few_rounds() => "too few rounds".into(),
        None => String::new(),
    }
}

/// Whether any comparison of `report` states a detectable slowdown (the
/// column is left out otherwise: instruction counts).
pub fn shows_detectable(report: &Report) -> bool {
    report.comparisons.iter().any(|c| {
        c.change
            .as_ref()
            .is_some_and(|ch| ch.detectable.is_some() || ch.too_few_rounds())
    })
}

/// What the run could have missed, one sentence for both human formats:
/// the least sensitive detectable slowdown (80% probability) among the
/// benchmarks not shown to have changed (a regression or improvement was
/// caught; its own spread, often widened by the change, says nothing about
/// what else could hide).
pub fn sensitivity_text(report: &Report) -> Option<String> {
    use crate::report::Verdict;
    let not_shown = || {
        report.comparisons.iter().filter(|c| {
            !matches!(
                c.verdict,
                Verdict::Regressed | Verdict::Accepted | Verdict::Improved
            )
        })
    };
    let unshown = || not_shown().filter_map(|c| Some((c, c.change.as_ref()?.detectable?)));
    let too_few: Vec<&str> = not_shown()
        .filter(|c| c.change.as_ref().is_some_and(|ch| ch.too_few_rounds()))
        .map(|c| c.id.as_str())
        .collect();
    let too_few = match too_few.len() {
        0 => String::new(),
        n => format!(
            " {n} benchmark(s) had too few undisturbed rounds to say ({}).",
            too_few.join(", ")
        ),
    };
    let Some((c, least)) = unshown().max_by(|a, b| a.1.total_cmp(&b.1)) else {
        return (!too_few.is_empty()).then(|| too_few.trim_start().to_string());
    };
    let all = unshown().count();
    Some(if all == 1 {
        format!(
            "This run would have caught a slowdown of {:.1}% or more with 80% probability.{too_few}",
            100.0 * least
        )
    } else {
        format!(
            "This run would have caught a slowdown of {:.1}% or more with 80% probability in each benchmark it did not find changed \
             (the least sensitive: {}; each benchmark's own figure is in the \"catches\" column).{too_few}",
            100.0 * least,
            c.id
        )
    })
}

/// What the run vouches for, one sentence for both human formats: the
/// largest slowdown its numbers still allow among the benchmarks not
/// called regressed (the highest upper end of their intervals; in
/// instruction mode the largest exact increase). None when nothing was
/// measured on both sides.
pub fn vouch_text(report: &Report) -> Option<String> {
    use crate::report::{Mode, Verdict};
    let worst = report
        .comparisons
        .iter()
        .filter(|c| !matches!(c.verdict, Verdict::Regressed | Verdict::Accepted))
        .filter_map(|c| Some((c, c.change.as_ref()?.ci_high)))
        .max_by(|a, b| a.1.total_cmp(&b.1))?;
    let (c, high) = worst;
    let others = match (
        report.count(Verdict::Regressed) > 0,
        report.count(Verdict::Accepted) > 0,
    ) {
        (false, false) => "No",
        (true, false) => "Besides the regressions, no",
        (false, true) => "Besides the accepted slowdowns, no",
        (true, true) => "Besides the regressions and accepted slowdowns, no",
    };
    Some(match report.mode {
        Mode::Instructions if high <= 0.0 => {
            format!("{others} benchmark executes more instructions than before.")
        }
        Mode::Instructions => format!(
            "{others} benchmark executes more than {} more instructions (the most: {}).",
            format_percent(high),
            c.id
        ),
        _ if high <= 0.0 => {
            format!("{others} benchmark can be slower: every interval lies below zero.")
        }
        _ => format!(
            "{others} benchmark is shown slower than {} (the highest upper end of a {} interval: {}).",
            format_change(high),
            format_percent(report.settings.confidence),
            c.id
        ),
    })
}

/// A row whose Change and medians point different ways (the change is an
/// estimate over rounds or against a level, the medians are pooled): marked
/// with `DISAGREE_MARK` and explained once by `DISAGREE_NOTE`. Where the
/// declared input changed (`input`), the change is per unit, and so is the
/// head's median before it is compared.
pub fn change_disagrees(
    change: &crate::report::Change,
    head_median: f64,
    input: Option<&crate::record::InputChange>,
) -> bool {
    let per_unit = input.map_or(1.0, |i| i.base as f64 / i.head as f64);
    let medians = head_median * per_unit - change.base_level;
    change.estimate * medians < 0.0 && change.estimate.abs() >= 0.001
}

pub const DISAGREE_MARK: &str = "†";
pub const DISAGREE_NOTE: &str = "† Change and medians point different ways: the change is estimated \
     round by round (paired) or against the baseline's level with the machine shift removed \
     (stored), while the medians pool every sample; the change is what the verdict uses.";

/// What the Change column estimates, per mode: the median of the per-round
/// ratios (paired), the head against the baseline's level (stored), exact
/// counts (instructions).
pub fn change_label(mode: crate::report::Mode) -> &'static str {
    match mode {
        crate::report::Mode::Paired => "(per round)",
        crate::report::Mode::StoredBaseline => "(vs baseline)",
        crate::report::Mode::Instructions => "(exact)",
    }
}

/// Where a paired check's time went and what it timed, as both human
/// formats print it: `build head 3.2 s, …; 3 timed, 1 same code`.
pub fn time_spent(report: &Report) -> Option<String> {
    use crate::report::Verdict;
    let phases = report.phases?;
    let spent: Vec<String> = phases
        .named()
        .into_iter()
        .map(|(phase, seconds)| format!("{phase} {seconds:.1} s"))
        .collect();
    let timed = report
        .comparisons
        .iter()
        .filter(|c| c.change.is_some())
        .count();
    let mut counts = vec![format!("{timed} timed")];
    for verdict in [Verdict::SameCode, Verdict::Identical] {
        match report.count(verdict) {
            0 => {}
            n => counts.push(format!("{n} {}", verdict.label())),
        }
    }
    Some(format!("{}; {}", spent.join(", "), counts.join(", ")))
}

/// The headline both human formats open with.
pub fn headline(report: &Report) -> String {
    use crate::report::{Outcome, Verdict};
    let total = report.comparisons.len();
    let same_code = match report.count(Verdict::SameCode) {
        0 => None,
        n => Some(format!("{n} not timed: same code executed")),
    };
    let aside = |text: String, asides: Vec<String>| match asides.is_empty() {
        true => text,
        false => format!("{text} ({})", asides.join("; ")),
    };
    match report.outcome {
        Outcome::Fail => {
            let n = report.count(Verdict::Regressed);
            let worse = report.scaling.iter().filter(|s| s.fails).count();
            let of_total = |n: usize| {
                format!(
                    "{n} of {total} benchmark{}",
                    if total == 1 { "" } else { "s" }
                )
            };
            // Each kind of failure that occurs, the first counted "of" the
            // total: "1 of 4 benchmarks regressed, 1 allocates more".
            let kinds = [
                (n, "regressed", "regressed"),
                (
                    report.count(Verdict::MoreAllocations),
                    "allocates more",
                    "allocate more",
                ),
                (
                    report.count(Verdict::MoreMemory),
                    "uses more memory",
                    "use more memory",
                ),
            ];
            let said: Vec<String> = kinds
                .iter()
                .filter(|(count, _, _)| *count > 0)
                .enumerate()
                .map(|(i, &(count, one, many))| {
                    let word = if count == 1 { one } else { many };
                    match i {
                        0 => format!("{} {word}", of_total(count)),
                        _ => format!("{count} {word}"),
                    }
                })
                .collect();
            let regressed = match said.is_empty() {
                true => format!("{} regressed", of_total(0)),
                false => said.join(", "),
            };
            let text = match worse {
                0 => regressed,
                1 => format!("{regressed}, 1 group scales worse"),
                _ => format!("{regressed}, {worse} groups scale worse"),
            };
            aside(text, same_code.into_iter().collect())
        }
        Outcome::Pass => {
            let accepted = match report.count(Verdict::Accepted) {
                0 => None,
                1 => Some("1 slowdown accepted".to_string()),
                n => Some(format!("{n} slowdowns accepted")),
            };
            let text = format!(
                "no regressions in {total} benchmark{}",
                if total == 1 { "" } else { "s" }
            );
            aside(text, accepted.into_iter().chain(same_code).collect())
        }
    }
}

/// Names (functions, files) as Markdown code spans, `a` · `b`.
pub(crate) fn markdown_code_list(names: &[String]) -> String {
    names
        .iter()
        .map(|n| markdown_code(n, false))
        .collect::<Vec<_>>()
        .join(" · ")
}

/// A hotspot note's lines below its summary: the functions whose shares
/// grew, own and with callees, and those new in the profile.
pub(crate) fn hotspot_details(out: &mut String, h: &crate::profile::hotspots::Hotspots) {
    use std::fmt::Write;
    let list = |functions: &[crate::profile::hotspots::FunctionShare], own: bool| -> String {
        functions
            .iter()
            .map(|f| {
                let (base, head) = if own {
                    (f.self_base, f.self_head)
                } else {
                    (f.inclusive_base, f.inclusive_head)
                };
                format!(
                    "{} {} → {}",
                    markdown_code(&f.name, false),
                    crate::profile::hotspots::percent(base),
                    crate::profile::hotspots::percent(head)
                )
            })
            .collect::<Vec<_>>()
            .join(" · ")
    };
    if !h.by_self.is_empty() {
        let _ = writeln!(out, "  - self time: {}", list(&h.by_self, true));
    }
    if !h.by_inclusive.is_empty() {
        let _ = writeln!(
            out,
            "  - including callees: {}",
            list(&h.by_inclusive, false)
        );
    }
    if !h.new_functions.is_empty() {
        let _ = writeln!(
            out,
            "  - new in the profile: {}",
            markdown_code_list(&h.new_functions)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instruction_counts_print_no_interval_and_no_statistics_words() {
        use crate::report::{Change, Mode};
        let change = Change {
            base_level: 1000.0,
            estimate: 0.05,
            ci_low: 0.05,
            ci_high: 0.05,
            p_regressed: 0.0,
            p_regressed_adjusted: 0.0,
            p_improved: 1.0,
            p_improved_adjusted: 1.0,
            standard_error: 0.0,
            history: 1,
            rounds: 0,
            disturbed_rounds: 0,
            detectable: None,
            low_confidence: false,
        };
        assert_eq!(interval_text(Mode::Instructions, &change), "exact");
        assert_eq!(interval_text(Mode::Paired, &change), "+5.0% … +5.0%");
        // Issue 22: `encode/hex +0.8%, 7.948 µs → 7.917 µs` is marked.
        let paired = Change {
            base_level: 7948.0,
            estimate: 0.008,
            ..change
        };
        assert!(change_disagrees(&paired, 7917.0, None));
        assert!(!change_disagrees(&paired, 8000.0, None));
        // Below 0.1% a sign says nothing.
        assert!(!change_disagrees(
            &Change {
                estimate: 0.0005,
                ..paired
            },
            7917.0,
            None
        ));
        // rust-hex: an untouched decoder's input grew 12.2%, its count by
        // 11.9% (1.07M -> 1.19M): per byte -0.2%, which the medians agree
        // with once they are per byte too.
        let per_byte = Change {
            base_level: 1_066_000.0,
            estimate: -0.002,
            ..change
        };
        let input = crate::record::InputChange {
            unit: "Bytes".into(),
            base: 14_504,
            head: 16_274,
        };
        assert!(change_disagrees(&per_byte, 1_193_000.0, None));
        assert!(!change_disagrees(&per_byte, 1_193_000.0, Some(&input)));
    }

    #[test]
    fn durations_and_changes_read_well() {
        assert_eq!(format_duration(12.345), "12.35 ns");
        assert_eq!(format_duration(1_234.0), "1.234 µs");
        assert_eq!(format_duration(123_456_789.0), "123.5 ms");
        assert_eq!(format_change(0.0523), "+5.2%");
        assert_eq!(format_change(-0.01), "-1.0%");
        assert_eq!(format_change(12.3), "+1230%");
        assert_eq!(format_percent(0.01), "1%");
        assert_eq!(format_percent(0.005), "0.5%");
    }
}
