//! A bisection as Markdown (`bisect.md`, a job summary) and terminal text.
//! Commit subjects, author names, ids and paths are untrusted: every one is
//! escaped for where it goes.

use std::fmt::Write;

use super::{format_change, markdown_code, markdown_prose, markdown_text, terminal_text};
use crate::error::short_sha;
use crate::profile::hotspots::format_count;
use crate::record::commit::CommitSummary;
use crate::report::bisect::{BisectOutcome, BisectReport, Culprit, DependencyChange, StepOutcome};

/// Paths a culprit's diff lists before "and N more".
const PATHS_SHOWN: usize = 8;

/// What the steps cost, in one sentence.
fn cost(report: &BisectReport) -> String {
    let reused = report
        .steps
        .iter()
        .filter(|s| matches!(s.outcome, StepOutcome::SameExecutables { .. }))
        .count();
    let skipped = report
        .steps
        .iter()
        .filter(|s| matches!(s.outcome, StepOutcome::Skipped { .. }))
        .count();
    format!(
        "{} of {} commits looked at: {} counted, {reused} with the machine code of one counted, {skipped} skipped; {:.0} s",
        report.steps.len(),
        report.commits + 1,
        report.measured(),
        report.seconds
    )
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
    let executed = if change.instructions_before == 0.0 && change.instructions_after == 0.0 {
        "its functions did not run in this benchmark".to_string()
    } else {
        format!(
            "its functions' own instructions {} → {} per iteration, {:.0}% of the change",
            format_count(change.instructions_before),
            format_count(change.instructions_after),
            change.share * 100.0
        )
    };
    format!(
        "{} {} → {}: {executed}",
        code(&package.name),
        versions(&package.before),
        versions(&package.after)
    )
}

/// The culprit's own change, in one sentence.
fn alone_text(culprit: &Culprit) -> String {
    format!(
        "{} → {} instructions per iteration ({}), {:.0}% of the change between the ends",
        format_count(culprit.parent_level),
        format_count(culprit.level),
        format_change(culprit.change),
        culprit.share * 100.0
    )
}

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
            "### {}: {} → {} instructions ({})\n",
            markdown_code(&bench.id, false),
            format_count(bench.good_level),
            format_count(bench.bad_level),
            format_change(bench.change)
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
                let _ = writeln!(out, "- alone: {}", markdown_text(&alone_text(culprit)));
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
                    super::markdown::hotspot_details(&mut out, h);
                }
            }
            BisectOutcome::Undecided { candidates } => {
                let _ = writeln!(
                    out,
                    "**Undecided**: the first changed commit is one of these (the ones between could not be measured):\n"
                );
                for c in candidates {
                    let _ = writeln!(out, "- {}", commit(c));
                }
            }
        }
        out.push('\n');
    }
    out.push_str("<details><summary>Steps</summary>\n\n| Commit | Outcome | Build | Count |\n|---|---|---:|---:|\n");
    for step in &report.steps {
        let outcome = match &step.outcome {
            StepOutcome::Measured => "counted".to_string(),
            StepOutcome::SameExecutables { as_commit } => format!(
                "same machine code as {}",
                markdown_code(short_sha(as_commit), true)
            ),
            StepOutcome::Skipped { reason } => format!("skipped: {}", markdown_text(reason)),
        };
        let _ = writeln!(
            out,
            "| {} {} | {outcome} | {:.1} s | {:.1} s |",
            markdown_code(short_sha(&step.commit.sha), true),
            markdown_text(&step.commit.subject),
            step.build_seconds,
            step.measure_seconds
        );
    }
    out.push_str("\n</details>\n");
    for note in &report.notes {
        let _ = writeln!(out, "\n> {}", markdown_prose(note));
    }
    out
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
        let outcome = match &step.outcome {
            StepOutcome::Measured => "counted".to_string(),
            StepOutcome::SameExecutables { as_commit } => {
                format!("same machine code as {}", short_sha(as_commit))
            }
            StepOutcome::Skipped { reason } => format!("skipped: {}", terminal_text(reason)),
        };
        let _ = writeln!(out, "  {}: {outcome}", commit(&step.commit));
    }
    for bench in &report.benchmarks {
        let _ = writeln!(
            out,
            "{}: {} → {} instructions ({})",
            terminal_text(&bench.id),
            format_count(bench.good_level),
            format_count(bench.bad_level),
            format_change(bench.change)
        );
        match &bench.outcome {
            BisectOutcome::Culprit(culprit) => {
                let _ = writeln!(
                    out,
                    "  culprit: {} ({}, {})",
                    commit(&culprit.commit),
                    terminal_text(&culprit.commit.author),
                    date(&culprit.commit)
                );
                let _ = writeln!(out, "  alone: {}", alone_text(culprit));
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
            }
            BisectOutcome::Undecided { candidates } => {
                let _ = writeln!(out, "  undecided: the first changed commit is one of");
                for c in candidates {
                    let _ = writeln!(out, "    {}", commit(c));
                }
            }
        }
    }
    for note in &report.notes {
        let _ = writeln!(out, "note: {}", terminal_text(note));
    }
    out
}
