//! Markdown: the pull-request comment. Verdict first, regressions first,
//! unchanged benchmarks collapsed.

use std::fmt::Write;

use super::escape::{markdown_code, markdown_prose, markdown_text};
use super::scaling::scaling_text;
use super::{
    DISAGREE_MARK, DISAGREE_NOTE, Renderer, accepted_text, change_disagrees, change_label,
    detectable_text, evidence, format_change, format_level, headline, instruction_text,
    interval_text, rule_text, sensitivity_text, shows_detectable, vouch_text,
};
use crate::error::{is_commit_id, short_sha};
use crate::record::Side;
use crate::report::{Comparison, Mode, Outcome, Report, Verdict};

pub struct Markdown;

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// The hidden marker that identifies flamegate's comment for a suite.
pub fn marker(suite: &str) -> String {
    let plain: String = suite
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("<!-- flamegate:{plain} -->")
}

/// A commit as Markdown: a commit id in code, anything else escaped as text
/// (records and reports are read from files; `Report::load` refuses a
/// non-id, this keeps a hand-made record harmless too).
fn commit_markdown(commit: &str) -> String {
    if is_commit_id(commit) {
        format!("`{}`", short_sha(commit))
    } else {
        markdown_text(short_sha(commit))
    }
}

fn side(side: &Side) -> String {
    let commit = side
        .commit
        .as_deref()
        .map_or("(no commit)".to_string(), commit_markdown);
    let dirty = if side.dirty {
        " + uncommitted changes"
    } else {
        ""
    };
    format!("{commit}{dirty} ({})", markdown_text(&side.chosen_as))
}

impl Renderer for Markdown {
    fn render(&self, report: &Report) -> Vec<u8> {
        let mut out = String::new();
        header(&mut out, report);
        let catches = shows_detectable(report);
        scaling_section(&mut out, report);
        verdict_sections(&mut out, report, catches);
        // Whatever their time did: memory is not in the tables.
        memory_notes(&mut out, &report.comparisons.iter().collect::<Vec<_>>());
        listed_sections(&mut out, report, catches);
        footer(&mut out, report);
        out.into_bytes()
    }
}

/// The title, the verdicts' counts, what was compared and how, and what
/// the run vouches for.
fn header(out: &mut String, report: &Report) {
    let _ = writeln!(out, "{}", marker(&report.suite));
    let icon = match report.outcome {
        Outcome::Pass => "✅",
        Outcome::Fail => "❌",
    };
    let _ = writeln!(
        out,
        "### {icon} flamegate: {} — suite {}\n",
        headline(report),
        markdown_code(&report.suite, false)
    );
    let counts: Vec<String> = [
        Verdict::Regressed,
        Verdict::MoreAllocations,
        Verdict::MoreMemory,
        Verdict::Accepted,
        Verdict::Improved,
        Verdict::LikelySlower,
        Verdict::LikelyFaster,
        Verdict::Layout,
        Verdict::Inconclusive,
        Verdict::New,
        Verdict::Missing,
        Verdict::Unchanged,
        Verdict::Identical,
        Verdict::SameCode,
    ]
    .iter()
    // The rarer words only when they occur.
    .filter(|&&v| {
        !matches!(
            v,
            Verdict::Identical
                | Verdict::SameCode
                | Verdict::MoreAllocations
                | Verdict::MoreMemory
                | Verdict::Accepted
                | Verdict::LikelySlower
                | Verdict::LikelyFaster
                | Verdict::Layout
        ) || report.count(v) > 0
    })
    .map(|&v| {
        let n = report.count(v);
        if v.fails_gate() && n > 0 {
            format!("**{n} {}**", v.label())
        } else {
            format!("{n} {}", v.label())
        }
    })
    .collect();
    let _ = writeln!(out, "{}\n", counts.join(" · "));
    let head = match &report.pull_request_head {
        Some(pr_head) => format!(
            "{} (measured as GitHub's merge commit {})",
            commit_markdown(pr_head),
            side(&report.head)
        ),
        None => side(&report.head),
    };
    let _ = writeln!(
        out,
        "Head {head} vs baseline {}. {}; {}.\n",
        side(&report.base),
        capitalized(&evidence(report)),
        rule_text(report),
    );
    if let Some(vouch) = vouch_text(report) {
        let _ = writeln!(out, "{}\n", markdown_prose(&vouch));
    }
    if let Some(sensitivity) = sensitivity_text(report) {
        let _ = writeln!(out, "{}\n", markdown_prose(&sensitivity));
    }
}

/// How each group of sized benchmarks scales, when there are any.
fn scaling_section(out: &mut String, report: &Report) {
    if !report.scaling.is_empty() {
        let _ = writeln!(
            out,
            "#### Scaling (how each group of sized benchmarks grows with its size: a power law's exponent on each side)\n"
        );
        for scaling in &report.scaling {
            let _ = writeln!(
                out,
                "- {}{} {}",
                if scaling.fails { "❌ " } else { "" },
                markdown_code(&scaling.group, false),
                markdown_prose(&scaling_text(report.mode, scaling))
            );
        }
        out.push('\n');
    }
}

/// A table per verdict that changed something, with its notes.
fn verdict_sections(out: &mut String, report: &Report, catches: bool) {
    for (verdict, title) in [
        (Verdict::Regressed, "Regressions"),
        (
            Verdict::MoreAllocations,
            "More allocations (the time did not regress, but each iteration of the routine asks more of the heap: exact counts, fails the gate)",
        ),
        (
            Verdict::MoreMemory,
            "More memory (a command's peak resident memory grew beyond the gate's limit: fails the gate)",
        ),
        (
            Verdict::Accepted,
            "Accepted (a failure accepted by a commit of this pull request; not failing)",
        ),
        (Verdict::Improved, "Improvements"),
        (
            Verdict::LikelySlower,
            "Likely slower (the interval excludes zero; not shown beyond the threshold across the suite)",
        ),
        (
            Verdict::LikelyFaster,
            "Likely faster (the interval excludes zero; not shown beyond the threshold across the suite)",
        ),
        (
            Verdict::Layout,
            "Layout (the time moved, but both sides executed the same instructions with the same simulated cache and branch behaviour: where the code sits changed, not what it does; does not fail)",
        ),
        (
            Verdict::Inconclusive,
            "Inconclusive (the interval holds zero and reaches past the threshold)",
        ),
    ] {
        let rows: Vec<&Comparison> = report.with(verdict).collect();
        if !rows.is_empty() {
            let _ = writeln!(out, "#### {title}\n");
            change_table(out, &rows, report.mode, catches);
            out.push('\n');
            instruction_notes(out, &rows);
            allocation_notes(out, &rows);
            if let Some(bisect) = report.bisect.as_deref() {
                let ids: Vec<&str> = rows.iter().map(|c| c.id.as_str()).collect();
                super::bisect::check_markdown(out, bisect, &ids);
            }
            if rows.iter().any(|c| !c.dependencies.is_empty()) {
                super::bisect::dependencies_markdown(out, &rows);
                out.push('\n');
            }
            for c in &rows {
                if let Some(accepted) = &c.accepted {
                    let _ = writeln!(
                        out,
                        "- {}: {}",
                        markdown_code(c.id.as_str(), false),
                        markdown_prose(&accepted_text(accepted))
                    );
                }
            }
            if verdict == Verdict::Accepted {
                out.push('\n');
            }
            if verdict == Verdict::Regressed {
                hotspot_notes(out, &rows, report.mode);
            }
        }
    }
}

/// New and missing benchmarks, the unchanged ones folded away, and the
/// ones not timed.
fn listed_sections(out: &mut String, report: &Report, catches: bool) {
    let format_duration = |value: f64| format_level(report.mode, value);
    for (verdict, title) in [
        (Verdict::New, "New benchmarks"),
        (
            Verdict::Missing,
            "Missing benchmarks (in the baseline, not in this run)",
        ),
    ] {
        let rows: Vec<&Comparison> = report.with(verdict).collect();
        if !rows.is_empty() {
            let _ = writeln!(out, "#### {title}\n");
            let _ = writeln!(out, "| Benchmark | Median | p95 |\n|---|---:|---:|");
            for c in rows {
                if let Some(s) = c.head.as_ref().or(c.base.as_ref()) {
                    let _ = writeln!(
                        out,
                        "| {} | {} | {} |",
                        markdown_code(c.id.as_str(), true),
                        format_duration(s.median),
                        format_duration(s.p95)
                    );
                }
            }
            out.push('\n');
        }
    }
    let unchanged: Vec<&Comparison> = report.with(Verdict::Unchanged).collect();
    if !unchanged.is_empty() {
        let _ = writeln!(
            out,
            "<details><summary>{} unchanged benchmark{}</summary>\n",
            unchanged.len(),
            if unchanged.len() == 1 { "" } else { "s" }
        );
        change_table(out, &unchanged, report.mode, catches);
        out.push_str("\n</details>\n\n");
    }
    for (verdict, what) in [
        (Verdict::Identical, "with identical machine code"),
        (
            Verdict::SameCode,
            "that executed the same code on both sides",
        ),
    ] {
        untimed_list(out, report, verdict, what);
    }
}

/// The run's notes: machine shift, notes, time, history page, runner, how
/// to reproduce.
fn footer(out: &mut String, report: &Report) {
    if let Some(shift) = report.machine_shift {
        let _ = writeln!(
            out,
            "The run as a whole was {} against the baseline (machine speed); that shift was removed before testing.\n",
            format_change(shift)
        );
    }
    for note in &report.notes {
        let _ = writeln!(out, "> {}\n", markdown_prose(&note.to_string()));
    }
    if let Some(spent) = super::time_spent(report) {
        let _ = writeln!(out, "Time: {spent}.\n");
    }
    if let Some(page) = &report.history_page {
        let _ = writeln!(
            out,
            "Every committed baseline of the target branch, with this head as the last point, is plotted in {} beside this report.\n",
            markdown_code(page, false)
        );
    }
    if let Some(runner) = &report.runner {
        let base = if runner.same_machine {
            match report.mode {
                Mode::StoredBaseline => {
                    "the baseline was recorded on the same kind of machine".to_string()
                }
                _ => "base and head ran on it in this job".to_string(),
            }
        } else {
            format!(
                "the baseline was recorded on another kind of machine ({})",
                markdown_text(runner.base_machine.as_deref().unwrap_or("unknown"))
            )
        };
        let _ = writeln!(out, "Runner: {}; {base}.\n", markdown_text(&runner.machine));
    }
    if let (Some(reproduce), Some(base)) = (&report.reproduce, &report.base.commit)
        && is_commit_id(base)
    {
        let _ = writeln!(
            out,
            "Reproduce locally: `flamegate check{}{} --base {}`\n",
            if reproduce.paired { " --paired" } else { "" },
            if reproduce.instructions {
                " --measure instructions"
            } else {
                ""
            },
            short_sha(base)
        );
    }
}

/// A trend as one sparkline, the head's bar set apart: `▁▂▁▂▁ █`.
fn trend_text(trend: &[Option<f64>]) -> String {
    let line = crate::render::history::sparkline(trend);
    match line.char_indices().last() {
        Some((cut, _)) if trend.len() >= 2 => format!("`{} {}`", &line[..cut], &line[cut..]),
        _ => String::new(),
    }
}

/// The instruction check under a table of time changes (paired mode).
fn instruction_notes(out: &mut String, rows: &[&Comparison]) {
    let counted: Vec<(&Comparison, &crate::report::checks::InstructionCheck)> = rows
        .iter()
        .filter_map(|c| c.instructions.as_ref().map(|check| (*c, check)))
        .collect();
    if counted.is_empty() {
        return;
    }
    out.push_str("**Instructions** (exact counts under callgrind, base → head)\n\n");
    for (c, check) in counted {
        let _ = writeln!(
            out,
            "- {}: {}",
            markdown_code(c.id.as_str(), false),
            markdown_prose(&instruction_text(check))
        );
    }
    out.push('\n');
}

/// The allocation counts under a table, for the benchmarks whose counts
/// moved.
fn allocation_notes(out: &mut String, rows: &[&Comparison]) {
    let moved = rows
        .iter()
        .filter_map(|c| c.allocations.as_ref().map(|check| (*c, check)))
        .filter(|(_, check)| check.changed())
        .map(|(c, check)| (c, check.text()))
        .collect();
    noted_list(
        out,
        "**Allocations** (exact counts per iteration of the routine, base → head)",
        moved,
    );
}

/// Commands' peak memory under a table, where it moved.
fn memory_notes(out: &mut String, rows: &[&Comparison]) {
    let moved = rows
        .iter()
        .filter_map(|c| c.peak_memory.as_ref().map(|check| (*c, check)))
        .filter(|(_, check)| check.moved())
        .map(|(c, check)| (c, check.text()))
        .collect();
    noted_list(
        out,
        "**Peak memory** (each command's largest resident set, median of its runs, base → head)",
        moved,
    );
}

/// A bold heading and one item per benchmark with its note; nothing when
/// there are no notes.
fn noted_list(out: &mut String, heading: &str, notes: Vec<(&Comparison, String)>) {
    if notes.is_empty() {
        return;
    }
    let _ = writeln!(out, "{heading}\n");
    for (c, note) in notes {
        let _ = writeln!(
            out,
            "- {}: {}",
            markdown_code(c.id.as_str(), false),
            markdown_prose(&note)
        );
    }
    out.push('\n');
}

/// "Where the time went" under the regressions: one list item a benchmark.
fn hotspot_notes(out: &mut String, rows: &[&Comparison], mode: Mode) {
    let noted: Vec<&Comparison> = rows
        .iter()
        .copied()
        .filter(|c| c.hotspots.is_some() || !c.flamegraphs.is_empty())
        .collect();
    if noted.is_empty() {
        return;
    }
    // Paired regressions without a profile get exact per-function counts.
    let counted = noted.iter().any(|c| c.hotspots.is_some())
        && noted
            .iter()
            .all(|c| c.hotspots.as_ref().is_none_or(|h| h.instructions));
    out.push_str(if mode == Mode::Instructions || counted {
        "**Where the instructions went** (shares of all instructions, base → head)\n\n"
    } else {
        "**Where the time went** (shares of profile samples, base → head)\n\n"
    });
    for c in noted {
        let _ = write!(out, "- **{}**", markdown_code(c.id.as_str(), false));
        if let Some(h) = &c.hotspots {
            let _ = writeln!(out, ": {}", markdown_prose(&h.summary));
            super::hotspot_details(out, h);
        } else {
            out.push('\n');
        }
        if !c.flamegraphs.is_empty() {
            let files = super::markdown_code_list(&c.flamegraphs);
            let _ = writeln!(out, "  - flamegraphs: {files}");
        }
    }
    out.push('\n');
}

fn change_table(out: &mut String, rows: &[&Comparison], mode: Mode, catches: bool) {
    let format_duration = |value: f64| format_level(mode, value);
    let (catches_header, catches_rule) = if catches {
        (" Catches (80%) |", "---:|")
    } else {
        ("", "")
    };
    let trends = rows.iter().any(|c| !c.trend.is_empty());
    let (trend_header, trend_rule) = if trends {
        (" Trend: baselines, head |", "---|")
    } else {
        ("", "")
    };
    let _ = writeln!(
        out,
        "| Benchmark | Change {} | CI |{catches_header} Median base → head | p95 base → head |{trend_header}\n|---|---:|---:|{catches_rule}---:|---:|{trend_rule}",
        change_label(mode)
    );
    let mut disagree = false;
    for c in rows {
        let (Some(change), Some(base), Some(head)) = (&c.change, &c.base, &c.head) else {
            continue;
        };
        let mut flag = if change.low_confidence {
            " (low confidence)".to_string()
        } else {
            String::new()
        };
        if change_disagrees(change, head.median, c.input.as_ref()) {
            flag.push_str(&format!(" {DISAGREE_MARK}"));
            disagree = true;
        }
        let catches_cell = if catches {
            format!(" {} |", detectable_text(change))
        } else {
            String::new()
        };
        let trend_cell = if trends {
            format!(" {} |", trend_text(&c.trend))
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "| {} | {}{flag} | {} |{catches_cell} {} → {} | {} → {} |{trend_cell}",
            markdown_code(c.id.as_str(), true),
            format_change(change.estimate),
            interval_text(mode, change),
            format_duration(change.base_level),
            format_duration(head.median),
            format_duration(base.p95),
            format_duration(head.p95),
        );
    }
    if disagree {
        let _ = writeln!(out, "\n{DISAGREE_NOTE}");
    }
}

/// A folded list of the benchmarks a paired run did not time, for one reason.
fn untimed_list(out: &mut String, report: &Report, verdict: Verdict, what: &str) {
    let ids: Vec<&Comparison> = report.with(verdict).collect();
    if ids.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "<details><summary>{} benchmark{} {what} (not timed)</summary>\n",
        ids.len(),
        if ids.len() == 1 { "" } else { "s" }
    );
    for c in ids {
        let _ = writeln!(out, "- {}", markdown_code(c.id.as_str(), false));
    }
    out.push_str("\n</details>\n\n");
}
