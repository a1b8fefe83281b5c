//! A bisection as Markdown (`bisect.md`, a job summary) and terminal text.
//! Commit subjects, author names, ids and paths are untrusted: every one is
//! escaped for where it goes.

use std::fmt::Write;

use super::{format_change, markdown_code, markdown_prose, markdown_text, terminal_text};
use crate::error::short_sha;
use crate::profile::hotspots::format_count;
use crate::record::commit::CommitSummary;
use crate::report::bisect::BenchBisection;
use crate::report::bisect::{BisectOutcome, BisectReport, Culprit, DependencyChange, StepOutcome};

/// Paths a culprit's diff lists before "and N more".
const PATHS_SHOWN: usize = 8;

/// Whether the report's benchmarks were timed (else counted).
fn timed(report: &BisectReport) -> bool {
    report
        .benchmarks
        .first()
        .is_some_and(|b| b.unit == crate::record::SampleUnit::Nanoseconds)
}

/// How a step was measured, for its words.
#[derive(Clone, Copy, PartialEq)]
enum Timed {
    No,
    Yes,
    /// The good end of a timed bisection.
    GoodEnd,
}

fn timed_step(report: &BisectReport, step: &crate::report::bisect::Step) -> Timed {
    match (timed(report), step.commit.sha == report.good.sha) {
        (false, _) => Timed::No,
        (true, true) => Timed::GoodEnd,
        (true, false) => Timed::Yes,
    }
}

/// Two levels in their unit: instruction counts or times per iteration.
fn levels_text(unit: crate::record::SampleUnit, from: f64, to: f64) -> String {
    if unit == crate::record::SampleUnit::Nanoseconds {
        format!(
            "{} → {}",
            super::format_duration(from),
            super::format_duration(to)
        )
    } else {
        format!("{} → {} instructions", format_count(from), format_count(to))
    }
}

/// What a step did, in a few words (`code` escapes a commit id, `text`
/// a reason).
fn step_text(
    outcome: &StepOutcome,
    timed: Timed,
    code: impl Fn(&str) -> String,
    text: impl Fn(&str) -> String,
) -> String {
    match outcome {
        StepOutcome::Measured if timed == Timed::GoodEnd => {
            "the good end: every commit is timed against it".into()
        }
        StepOutcome::Measured if timed == Timed::Yes => "timed against the good end".into(),
        StepOutcome::Measured => "counted".into(),
        StepOutcome::Retested { against } => {
            format!("timed against its parent {}", code(short_sha(against)))
        }
        StepOutcome::SameExecutables { as_commit } => {
            format!("same machine code as {}", code(short_sha(as_commit)))
        }
        StepOutcome::Skipped { reason } => format!("skipped: {}", text(reason)),
    }
}

/// What the steps cost, in one sentence.
fn cost(report: &BisectReport) -> String {
    let count = |f: fn(&StepOutcome) -> bool| report.steps.iter().filter(|s| f(&s.outcome)).count();
    let reused = count(|o| matches!(o, StepOutcome::SameExecutables { .. }));
    let skipped = count(|o| matches!(o, StepOutcome::Skipped { .. }));
    let retested = count(|o| matches!(o, StepOutcome::Retested { .. }));
    let word = if timed(report) { "timed" } else { "counted" };
    let mut text = format!(
        "{} of {} commits looked at: {} {word}, {reused} with the machine code of one {word}, {skipped} skipped",
        report.steps.len() - retested,
        report.commits + 1,
        report.measured(),
    );
    if retested > 0 {
        text.push_str(&format!(
            ", {retested} culprit(s) timed against their parent"
        ));
    }
    text.push_str(&format!("; {:.0} s", report.seconds));
    text
}

fn date(commit: &CommitSummary) -> &str {
    commit.date.get(..10).unwrap_or(&commit.date)
}

fn diff_text(culprit: &Culprit, code: impl Fn(&str) -> String) -> String {
    let diff = &culprit.diff;
    let mut paths: Vec<String> = diff
        .paths
        .iter()
        .take(PATHS_SHOWN)
        .map(|p| code(p))
        .collect();
    if diff.paths.len() > PATHS_SHOWN {
        paths.push(format!("and {} more", diff.paths.len() - PATHS_SHOWN));
    }
    format!(
        "{} file(s), +{} −{}: {}",
        diff.files,
        diff.insertions,
        diff.deletions,
        paths.join(", ")
    )
}

/// A package the culprit's lock file changed, and its part in the change.
fn dependency_text(change: &DependencyChange, code: impl Fn(&str) -> String) -> String {
    let versions = |v: &[String]| {
        if v.is_empty() {
            "none".to_string()
        } else {
            v.join(", ")
        }
    };
    let package = &change.package;
    let executed = match (
        change.instructions_before,
        change.instructions_after,
        change.share,
    ) {
        (Some(before), Some(after), Some(share)) if before > 0.0 || after > 0.0 => format!(
            "its functions' own instructions {} → {} per iteration, {:.0}% of the change",
            format_count(before),
            format_count(after),
            share * 100.0
        ),
        (Some(_), Some(_), _) => "its functions did not run in this benchmark".to_string(),
        _ => "timed, not attributed to crates (count instructions to see its share)".to_string(),
    };
    format!(
        "{} {} → {}: {executed}",
        code(&package.name),
        versions(&package.before),
        versions(&package.after)
    )
}

/// The culprit's own change, in one sentence.
fn alone_text(culprit: &Culprit, unit: crate::record::SampleUnit) -> String {
    let mut text = format!(
        "{} per iteration ({}",
        levels_text(unit, culprit.parent_level, culprit.level),
        format_change(culprit.change),
    );
    if let Some([low, high]) = culprit.interval {
        text.push_str(&format!(
            ", 95% interval {} to {}",
            format_change(low),
            format_change(high)
        ));
    }
    if let Some(verdict) = culprit.verdict {
        text.push_str(&format!(", {}", verdict.label()));
    }
    text.push_str(&format!(
        "), {:.0}% of the change between the ends",
        culprit.share * 100.0
    ));
    text
}

/// A benchmark's heading line: its id and its levels at the ends.
fn bench_line(bench: &BenchBisection, id: &str) -> String {
    format!(
        "{id}: {} ({})",
        levels_text(bench.unit, bench.good_level, bench.bad_level),
        format_change(bench.change)
    )
}

const UNDECIDED: &str = "the first changed commit is one of these (the ones between were skipped: \
                         they could not be measured, or their level lay between the ends')";

pub fn markdown(report: &BisectReport) -> String {
    let mut out = String::new();
    let commit = |c: &CommitSummary| {
        format!(
            "{} {}",
            markdown_code(short_sha(&c.sha), false),
            markdown_text(&c.subject)
        )
    };
    let _ = writeln!(
        out,
        "## flamegate bisect: {}\n",
        markdown_text(&report.suite)
    );
    let _ = writeln!(
        out,
        "From {} (good) to {} (bad), first-parent: {}.\n",
        commit(&report.good),
        commit(&report.bad),
        markdown_text(&cost(report))
    );
    for bench in &report.benchmarks {
        let _ = writeln!(
            out,
            "### {}\n",
            bench_line(bench, &markdown_code(&bench.id, false))
        );
        match &bench.outcome {
            BisectOutcome::Culprit(culprit) => {
                let _ = writeln!(
                    out,
                    "**Culprit: {}** ({}, {})\n",
                    commit(&culprit.commit),
                    markdown_text(&culprit.commit.author),
                    date(&culprit.commit)
                );
                markdown_culprit(&mut out, culprit, bench.unit);
            }
            BisectOutcome::Undecided { candidates } => {
                let _ = writeln!(out, "**Undecided**: {UNDECIDED}:\n");
                for c in candidates {
                    let _ = writeln!(out, "- {}", commit(c));
                }
            }
        }
        out.push('\n');
    }
    markdown_steps(&mut out, report);
    for note in &report.notes {
        let _ = writeln!(out, "\n> {}", markdown_prose(&note.to_string()));
    }
    out
}

fn markdown_culprit(out: &mut String, culprit: &Culprit, unit: crate::record::SampleUnit) {
    let _ = writeln!(
        out,
        "- alone: {}",
        markdown_text(&alone_text(culprit, unit))
    );
    let _ = writeln!(
        out,
        "- changed: {}",
        diff_text(culprit, |p| markdown_code(p, false))
    );
    for change in &culprit.dependencies {
        let _ = writeln!(
            out,
            "- dependency: {}",
            dependency_text(change, |t| markdown_code(t, false))
        );
    }
    if let Some(h) = &culprit.hotspots {
        let _ = writeln!(out, "- where: {}", markdown_prose(&h.summary));
        super::hotspot_details(out, h);
    }
    if !culprit.flamegraphs.is_empty() {
        let files = super::markdown_code_list(&culprit.flamegraphs);
        let _ = writeln!(out, "- flamegraphs: {files}");
    }
}

fn markdown_steps(out: &mut String, report: &BisectReport) {
    let measure = if timed(report) { "Rounds" } else { "Count" };
    let _ = writeln!(
        out,
        "<details><summary>Steps</summary>\n\n| Commit | Outcome | Build | {measure} |\n|---|---|---:|---:|"
    );
    for step in &report.steps {
        let _ = writeln!(
            out,
            "| {} {} | {} | {:.1} s | {:.1} s |",
            markdown_code(short_sha(&step.commit.sha), true),
            markdown_text(&step.commit.subject),
            step_text(
                &step.outcome,
                timed_step(report, step),
                |c| markdown_code(c, true),
                markdown_text
            ),
            step.build_seconds,
            step.measure_seconds
        );
    }
    out.push_str("\n</details>\n");
}

pub fn terminal(report: &BisectReport) -> String {
    let mut out = String::new();
    let commit = |c: &CommitSummary| format!("{} {}", short_sha(&c.sha), terminal_text(&c.subject));
    let _ = writeln!(
        out,
        "bisect {}..{}: {}",
        short_sha(&report.good.sha),
        short_sha(&report.bad.sha),
        cost(report)
    );
    for step in &report.steps {
        let outcome = step_text(
            &step.outcome,
            timed_step(report, step),
            str::to_string,
            terminal_text,
        );
        let _ = writeln!(out, "  {}: {outcome}", commit(&step.commit));
    }
    for bench in &report.benchmarks {
        let _ = writeln!(out, "{}", bench_line(bench, &terminal_text(&bench.id)));
        match &bench.outcome {
            BisectOutcome::Culprit(culprit) => {
                let _ = writeln!(
                    out,
                    "  culprit: {} ({}, {})",
                    commit(&culprit.commit),
                    terminal_text(&culprit.commit.author),
                    date(&culprit.commit)
                );
                let _ = writeln!(out, "  alone: {}", alone_text(culprit, bench.unit));
                let _ = writeln!(out, "  changed: {}", diff_text(culprit, terminal_text));
                for change in &culprit.dependencies {
                    let _ = writeln!(
                        out,
                        "  dependency: {}",
                        dependency_text(change, terminal_text)
                    );
                }
                if let Some(h) = &culprit.hotspots {
                    let _ = writeln!(out, "  where: {}", terminal_text(&h.summary));
                }
                if !culprit.flamegraphs.is_empty() {
                    let files: Vec<String> = culprit
                        .flamegraphs
                        .iter()
                        .map(|f| terminal_text(f))
                        .collect();
                    let _ = writeln!(out, "  flamegraphs: {}", files.join(" · "));
                }
            }
            BisectOutcome::Undecided { candidates } => {
                let _ = writeln!(out, "  undecided: {UNDECIDED}:");
                for c in candidates {
                    let _ = writeln!(out, "    {}", commit(c));
                }
            }
        }
    }
    for note in &report.notes {
        let _ = writeln!(out, "note: {}", terminal_text(&note.to_string()));
    }
    out
}

/// What `check --bisect` found for one benchmark, in one line after its
/// id: the commit that introduced its change, or the commits it is one of.
fn check_line(
    bench: &BenchBisection,
    code: impl Fn(&str) -> String,
    text: impl Fn(&str) -> String,
) -> String {
    match &bench.outcome {
        BisectOutcome::Culprit(culprit) => format!(
            "introduced by {} {} ({}, {}): alone {}",
            code(short_sha(&culprit.commit.sha)),
            text(&culprit.commit.subject),
            text(&culprit.commit.author),
            date(&culprit.commit),
            text(&alone_text(culprit, bench.unit))
        ),
        BisectOutcome::Undecided { candidates } => format!(
            "introduced by one of {} (the commits between could not be placed)",
            candidates
                .iter()
                .map(|c| code(short_sha(&c.sha)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// The pull request's commits named for its regressions, as Markdown
/// lines for the comment.
pub(super) fn check_markdown(out: &mut String, bisect: &BisectReport, ids: &[&str]) {
    let found: Vec<&BenchBisection> = bisect
        .benchmarks
        .iter()
        .filter(|b| ids.contains(&b.id.as_str()))
        .collect();
    if found.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "**Which commit** ({} commits of the pull request, bisected: {}):\n",
        bisect.commits,
        markdown_text(&cost(bisect))
    );
    for bench in found {
        let _ = writeln!(
            out,
            "- {}: {}",
            markdown_code(&bench.id, false),
            check_line(bench, |c| markdown_code(c, false), markdown_text)
        );
    }
    out.push('\n');
}

/// The same for the terminal.
pub(super) fn check_terminal(bisect: &BisectReport) -> String {
    bisect
        .benchmarks
        .iter()
        .map(|bench| {
            format!(
                "commit: {}: {}\n",
                terminal_text(&bench.id),
                check_line(bench, str::to_string, terminal_text)
            )
        })
        .collect()
}

/// A regression's changed dependencies, as Markdown lines for the comment.
pub(super) fn dependencies_markdown(out: &mut String, rows: &[&crate::report::Comparison]) {
    for c in rows {
        for change in &c.dependencies {
            let _ = writeln!(
                out,
                "- {}: dependency {}",
                markdown_code(c.id.as_str(), false),
                dependency_text(change, |t| markdown_code(t, false))
            );
        }
    }
}

/// The same for the terminal.
pub(super) fn dependencies_terminal(comparisons: &[crate::report::Comparison]) -> String {
    comparisons
        .iter()
        .flat_map(|c| {
            c.dependencies.iter().map(move |change| {
                format!(
                    "dependency {}: {}\n",
                    terminal_text(c.id.as_str()),
                    dependency_text(change, terminal_text)
                )
            })
        })
        .collect()
}
