//! Terminal: a table for people, coloured unless told not to.

use comfy_table::{Cell, CellAlignment, Color, Table};

/// comfy-table's UTF8_HORIZONTAL_ONLY without the lines between rows.
const TABLE_STYLE: &str = "  ── ══             ";

use super::escape::terminal_text;
use super::scaling::scaling_text;
use super::{
    DISAGREE_MARK, DISAGREE_NOTE, Renderer, accepted_text, change_disagrees, change_label,
    detectable_text, evidence, format_change, format_level, headline, instruction_text,
    interval_text, rule_text, sensitivity_text, shows_detectable, vouch_text,
};
use crate::error::short_sha;
use crate::report::{Outcome, Report, Verdict};

pub struct Terminal {
    pub color: bool,
}

impl Terminal {
    fn verdict_cell(&self, verdict: Verdict) -> Cell {
        let cell = Cell::new(verdict.label());
        if !self.color {
            return cell;
        }
        match verdict {
            Verdict::Regressed | Verdict::MoreAllocations | Verdict::MoreMemory => {
                cell.fg(Color::Red)
            }
            Verdict::Accepted => cell.fg(Color::Yellow),
            Verdict::Improved => cell.fg(Color::Green),
            Verdict::LikelySlower | Verdict::Inconclusive | Verdict::Missing => {
                cell.fg(Color::Yellow)
            }
            Verdict::LikelyFaster => cell.fg(Color::Green),
            Verdict::New
            | Verdict::Unchanged
            | Verdict::Identical
            | Verdict::SameCode
            | Verdict::Layout => cell,
        }
    }
}

impl Renderer for Terminal {
    fn render(&self, report: &Report) -> Vec<u8> {
        let catches = shows_detectable(report);
        let (table, disagree) = self.table(report, catches);
        let mut out = self.status_lines(report);
        for scaling in &report.scaling {
            out.push_str(&format!(
                "scaling {} {}\n",
                terminal_text(&scaling.group),
                scaling_text(report.mode, scaling)
            ));
        }
        out.push_str(&table.to_string());
        out.push('\n');
        if let Some(vouch) = vouch_text(report) {
            out.push_str(&format!("{}\n", terminal_text(&vouch)));
        }
        if let Some(sensitivity) = sensitivity_text(report) {
            out.push_str(&format!("{}\n", terminal_text(&sensitivity)));
        }
        if disagree {
            out.push_str(&format!("{DISAGREE_NOTE}\n"));
        }
        benchmark_notes(&mut out, report);
        footer(&mut out, report);
        out.into_bytes()
    }
}

impl Terminal {
    /// The comparisons' table, and whether a change disagrees with its
    /// medians (marked, and explained under the table).
    fn table(&self, report: &Report, catches: bool) -> (Table, bool) {
        let mut table = Table::new();
        table.load_preset(TABLE_STYLE);
        if self.color {
            table.enforce_styling();
        } else {
            table.force_no_tty();
        }
        let mut disagree = false;
        let mut header = vec![
            "benchmark".to_string(),
            format!("change\n{}", change_label(report.mode)),
            "interval".to_string(),
        ];
        if catches {
            header.push("catches\n(80%)".to_string());
        }
        header.extend(["median base → head", "p95 head", "verdict"].map(String::from));
        table.set_header(header);
        for c in &report.comparisons {
            table.add_row(self.row(report, c, catches, &mut disagree));
        }
        (table, disagree)
    }

    /// One comparison's row.
    fn row(
        &self,
        report: &Report,
        c: &crate::report::Comparison,
        catches: bool,
        disagree: &mut bool,
    ) -> Vec<Cell> {
        let format_duration = |value: f64| format_level(report.mode, value);
        let (change, interval) = match &c.change {
            Some(ch) => (
                format!(
                    "{}{}{}",
                    format_change(ch.estimate),
                    if ch.low_confidence { "?" } else { "" },
                    match &c.head {
                        Some(h) if change_disagrees(ch, h.median, c.input.as_ref()) => {
                            *disagree = true;
                            DISAGREE_MARK
                        }
                        _ => "",
                    }
                ),
                interval_text(report.mode, ch),
            ),
            None => (String::new(), String::new()),
        };
        let medians = match (&c.base, &c.head) {
            (Some(_), Some(h)) if c.change.is_some() => {
                let base = c.change.as_ref().map_or(0.0, |ch| ch.base_level);
                format!("{} → {}", format_duration(base), format_duration(h.median))
            }
            (Some(b), Some(h)) => format!(
                "{} → {}",
                format_duration(b.median),
                format_duration(h.median)
            ),
            (Some(b), None) => format!("{} → –", format_duration(b.median)),
            (None, Some(h)) => format!("– → {}", format_duration(h.median)),
            (None, None) => String::new(),
        };
        let p95 = c
            .head
            .as_ref()
            .map(|h| format_duration(h.p95))
            .unwrap_or_default();
        let mut row = vec![
            Cell::new(terminal_text(c.id.as_str())),
            Cell::new(change).set_alignment(CellAlignment::Right),
            Cell::new(interval).set_alignment(CellAlignment::Right),
        ];
        if catches {
            let text = c.change.as_ref().map(detectable_text).unwrap_or_default();
            row.push(Cell::new(text).set_alignment(CellAlignment::Right));
        }
        row.extend([
            Cell::new(medians).set_alignment(CellAlignment::Right),
            Cell::new(p95).set_alignment(CellAlignment::Right),
            self.verdict_cell(c.verdict),
        ]);
        row
    }

    /// PASS or FAIL with the headline, and what was compared and how.
    fn status_lines(&self, report: &Report) -> String {
        let status = match report.outcome {
            Outcome::Pass => "PASS",
            Outcome::Fail => "FAIL",
        };
        let status = if self.color {
            let code = if report.outcome == Outcome::Pass {
                32
            } else {
                31
            };
            format!("\u{1b}[1;{code}m{status}\u{1b}[0m")
        } else {
            status.to_string()
        };
        let commit = |s: &crate::record::Side| {
            s.commit
                .as_deref()
                .map_or("(no commit)".to_string(), |c| short_sha(c).to_string())
                + if s.dirty { "+dirty" } else { "" }
        };
        format!(
            "flamegate {status}: {} (suite {})\nhead {} vs baseline {} ({}), {}, {}\n",
            headline(report),
            terminal_text(&report.suite),
            commit(&report.head),
            commit(&report.base),
            terminal_text(&report.base.chosen_as),
            evidence(report),
            rule_text(report).replace(';', ","),
        )
    }
}

/// One line per benchmark for each thing the table cannot show: hotspots,
/// acceptances, allocations, memory, instruction counts.
fn benchmark_notes(out: &mut String, report: &Report) {
    for c in &report.comparisons {
        if let Some(h) = &c.hotspots {
            out.push_str(&format!(
                "hotspot {}: {}\n",
                terminal_text(c.id.as_str()),
                terminal_text(&h.summary)
            ));
        }
    }
    for c in &report.comparisons {
        if let Some(accepted) = &c.accepted {
            out.push_str(&format!(
                "{} {}: {}\n",
                if accepted.honoured() {
                    "accepted"
                } else {
                    "not accepted"
                },
                terminal_text(c.id.as_str()),
                terminal_text(&accepted_text(accepted))
            ));
        }
    }
    for c in &report.comparisons {
        if let Some(check) = c.allocations.as_ref().filter(|check| check.changed()) {
            out.push_str(&format!(
                "allocations {}: {}\n",
                terminal_text(c.id.as_str()),
                check.text()
            ));
        }
    }
    for c in &report.comparisons {
        if let Some(check) = c.peak_memory.as_ref().filter(|check| check.moved()) {
            out.push_str(&format!(
                "memory {}: {}\n",
                terminal_text(c.id.as_str()),
                check.text()
            ));
        }
    }
    for c in &report.comparisons {
        if let Some(check) = &c.instructions {
            out.push_str(&format!(
                "instructions {}: {}\n",
                terminal_text(c.id.as_str()),
                instruction_text(check)
            ));
        }
    }
}

/// The run's notes: machine shift, low confidence, dependencies, the
/// bisection, notes and time.
fn footer(out: &mut String, report: &Report) {
    if let Some(shift) = report.machine_shift {
        out.push_str(&format!(
            "machine shift removed: {}\n",
            format_change(shift)
        ));
    }
    if report
        .comparisons
        .iter()
        .any(|c| c.change.as_ref().is_some_and(|ch| ch.low_confidence))
    {
        out.push_str("? low confidence: see the notes\n");
    }
    out.push_str(&super::bisect::dependencies_terminal(&report.comparisons));
    if let Some(bisect) = report.bisect.as_deref() {
        out.push_str(&super::bisect::check_terminal(bisect));
    }
    for note in &report.notes {
        out.push_str(&format!("note: {}\n", terminal_text(&note.to_string())));
    }
    if let Some(spent) = super::time_spent(report) {
        out.push_str(&format!("time: {spent}\n"));
    }
}
