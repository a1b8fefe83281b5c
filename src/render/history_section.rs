//! One benchmark's section of the history page: its heading, the SVG plot
//! of its levels over the commits, and its list of level shifts. Every
//! untrusted name goes through `html_text`.

use std::fmt::Write as _;

use crate::record::SampleUnit;
use crate::render::escape::html_text;
use crate::render::{format_change, format_duration};
use crate::report::history::{BenchHistory, ChangePoint, History, Point, ShiftCause};

/// A plot's size in SVG user units.
const WIDTH: f64 = 640.0;

const HEIGHT: f64 = 150.0;

/// Room for the level labels on the left and the dates below.
const LEFT: f64 = 72.0;

const RIGHT: f64 = 14.0;

const TOP: f64 = 8.0;

const BOTTOM: f64 = 20.0;

/// Where plot positions go: commit index to x, level to y.
struct Frame {
    count: usize,
    low: f64,
    high: f64,
}

impl Frame {
    fn x(&self, index: f64) -> f64 {
        if self.count < 2 {
            return LEFT;
        }
        LEFT + (WIDTH - LEFT - RIGHT) * index / (self.count - 1) as f64
    }

    fn y(&self, value: f64) -> f64 {
        let inner = HEIGHT - TOP - BOTTOM;
        TOP + inner * (1.0 - (value - self.low) / (self.high - self.low))
    }
}

pub(super) fn bench_section(out: &mut String, history: &History, bench: &BenchHistory) {
    let count = history.commits.len();
    let has_head = bench.head.is_some() && history.head.is_some();
    let Some(frame) = frame_of(bench, count, has_head) else {
        return;
    };
    section_heading(out, history, bench, &frame, has_head);
    axes(out, history, bench, &frame);
    marks(out, history, bench, &frame, has_head);
    let bottom = HEIGHT - BOTTOM;
    let _ = write!(
        out,
        "<line class=\"cursor\" x1=\"0\" y1=\"{TOP}\" x2=\"0\" y2=\"{bottom}\"/>\n</svg>\n"
    );
    change_list(out, history, bench);
    out.push_str("</section>\n");
}

/// The plot's frame: every point's interval (and the head's level) inside
/// it, padded; none when the benchmark has no point.
fn frame_of(bench: &BenchHistory, count: usize, has_head: bool) -> Option<Frame> {
    // The head sits one step right of the last commit.
    let frame_count = count + usize::from(has_head);
    let mut low = f64::INFINITY;
    let mut high = f64::NEG_INFINITY;
    for point in bench.points.iter().flatten() {
        low = low.min(point.low);
        high = high.max(point.high);
    }
    if let Some(head) = bench.head.filter(|_| has_head) {
        low = low.min(head);
        high = high.max(head);
    }
    if !low.is_finite() {
        return None;
    }
    let pad = ((high - low) * 0.08).max(high.abs() * 0.01).max(1e-9);
    Some(Frame {
        count: frame_count,
        low: (low - pad).max(0.0),
        high: high + pad,
    })
}

/// The section's heading and the plot's opening tag.
fn section_heading(
    out: &mut String,
    history: &History,
    bench: &BenchHistory,
    frame: &Frame,
    has_head: bool,
) {
    let count = history.commits.len();
    let latest = bench.points.iter().rev().flatten().next();
    let medians: Vec<String> = bench
        .points
        .iter()
        .map(|p| {
            p.map(|p| format_level(bench.unit, p.median))
                .unwrap_or_default()
        })
        .collect();
    let _ = write!(
        out,
        "<section class=\"bench\" id=\"{}\" data-id=\"{}\" data-changes=\"{}\" data-m=\"{}\">\n<h2>{}</h2>\n<p>latest {}{}</p>\n",
        anchor(&bench.id),
        html_text(&bench.id.to_lowercase()),
        bench.changes.len(),
        html_text(&medians.join(",")),
        html_text(&bench.id),
        latest
            .map(|p| html_text(&format_level(bench.unit, p.median)))
            .unwrap_or_default(),
        bench
            .head
            .filter(|_| has_head)
            .map(|h| format!(
                "; the pull request's head {}",
                html_text(&format_level(bench.unit, h))
            ))
            .unwrap_or_default(),
    );
    let _ = writeln!(
        out,
        "<svg class=\"plot\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" data-left=\"{LEFT}\" data-right=\"{}\" role=\"img\" aria-label=\"{} over {count} commits\" xmlns=\"http://www.w3.org/2000/svg\">",
        frame.x((count.max(1) - 1) as f64),
        html_text(&bench.id),
    );
}

/// Axes, the two level labels and the first and last dates.
fn axes(out: &mut String, history: &History, bench: &BenchHistory, frame: &Frame) {
    let count = history.commits.len();
    let bottom = HEIGHT - BOTTOM;
    let _ = writeln!(
        out,
        "<line class=\"axis\" x1=\"{LEFT}\" y1=\"{TOP}\" x2=\"{LEFT}\" y2=\"{bottom}\"/>\
         <line class=\"axis\" x1=\"{LEFT}\" y1=\"{bottom}\" x2=\"{}\" y2=\"{bottom}\"/>\
         <text class=\"label\" x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>\
         <text class=\"label\" x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>",
        WIDTH - RIGHT,
        LEFT - 4.0,
        TOP + 8.0,
        html_text(&format_level(bench.unit, frame.high)),
        LEFT - 4.0,
        bottom,
        html_text(&format_level(bench.unit, frame.low)),
    );
    if let (Some(a), Some(b)) = (history.commits.first(), history.commits.last()) {
        let _ = writeln!(
            out,
            "<text class=\"label\" x=\"{LEFT}\" y=\"{}\">{}</text><text class=\"label\" x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>",
            HEIGHT - 5.0,
            html_text(a.date.get(..10).unwrap_or(&a.date)),
            frame.x((count.max(1) - 1) as f64),
            HEIGHT - 5.0,
            html_text(b.date.get(..10).unwrap_or(&b.date)),
        );
    }
}

/// Machine changes, the median line in its band, the changes found and the
/// pull request's head.
fn marks(out: &mut String, history: &History, bench: &BenchHistory, frame: &Frame, has_head: bool) {
    let count = history.commits.len();
    let bottom = HEIGHT - BOTTOM;
    for (i, commit) in history.commits.iter().enumerate() {
        if commit.machine_changed {
            let x = round(frame.x(i as f64));
            let _ = writeln!(
                out,
                "<line class=\"machine\" x1=\"{x}\" y1=\"{TOP}\" x2=\"{x}\" y2=\"{bottom}\"><title>machine changed: {}</title></line>",
                html_text(&commit.machine)
            );
        }
    }
    for run in runs(&bench.points) {
        let band: Vec<String> = run
            .iter()
            .map(|(i, p)| coordinate(frame, *i, p.high))
            .chain(run.iter().rev().map(|(i, p)| coordinate(frame, *i, p.low)))
            .collect();
        let line: Vec<String> = run
            .iter()
            .map(|(i, p)| coordinate(frame, *i, p.median))
            .collect();
        if run.len() == 1 {
            let (i, p) = run[0];
            let _ = writeln!(
                out,
                "<circle class=\"median\" cx=\"{}\" cy=\"{}\" r=\"2\"/>",
                round(frame.x(i as f64)),
                round(frame.y(p.median))
            );
        } else {
            let _ = writeln!(
                out,
                "<polygon class=\"band\" points=\"{}\"/><polyline class=\"median\" points=\"{}\"/>",
                band.join(" "),
                line.join(" ")
            );
        }
    }
    for change in &bench.changes {
        let x = round(frame.x(change.index as f64));
        let class = if change.slower() { "slower" } else { "faster" };
        let commit = &history.commits[change.index];
        let _ = writeln!(
            out,
            "<line class=\"{class}\" x1=\"{x}\" y1=\"{TOP}\" x2=\"{x}\" y2=\"{bottom}\"><title>{} at {} {}</title></line>",
            html_text(&change_words(bench, change)),
            html_text(crate::error::short_sha(&commit.sha)),
            html_text(&commit.subject),
        );
    }
    if let (Some(head), Some(label)) = (bench.head.filter(|_| has_head), &history.head) {
        let x = round(frame.x(count as f64));
        let _ = writeln!(
            out,
            "<circle class=\"head\" cx=\"{x}\" cy=\"{}\" r=\"3.5\"><title>{}: {}</title></circle>",
            round(frame.y(head)),
            html_text(&label.label),
            html_text(&format_level(bench.unit, head)),
        );
    }
}

/// The changes found, each with its commit and cause, under the plot.
fn change_list(out: &mut String, history: &History, bench: &BenchHistory) {
    if !bench.changes.is_empty() {
        out.push_str("<ul>\n");
        for change in &bench.changes {
            let commit = &history.commits[change.index];
            let (sha, subject, _, author) = named_commit(history, change);
            let _ = writeln!(
                out,
                "<li>{} at <code>{}</code> “{}” ({}){}: {}</li>",
                html_text(&change_words(bench, change)),
                html_text(crate::error::short_sha(sha)),
                html_text(subject),
                html_text(author),
                html_text(&range_words(commit, change)),
                cause_words(change),
            );
        }
        out.push_str("</ul>\n");
    }
}

/// The runs of consecutive present points, with their commit indices.
fn runs(points: &[Option<Point>]) -> Vec<Vec<(usize, Point)>> {
    let mut runs: Vec<Vec<(usize, Point)>> = Vec::new();
    let mut current = Vec::new();
    for (i, point) in points.iter().enumerate() {
        match point {
            Some(p) => current.push((i, *p)),
            None if !current.is_empty() => runs.push(std::mem::take(&mut current)),
            None => {}
        }
    }
    if !current.is_empty() {
        runs.push(current);
    }
    runs
}

/// A coordinate pair in whole units (a plot is 640 wide): 1,000 plots of
/// 200 commits stay near 6 MB.
fn coordinate(frame: &Frame, index: usize, value: f64) -> String {
    format!("{},{}", round(frame.x(index as f64)), round(frame.y(value)))
}

fn round(value: f64) -> f64 {
    value.round()
}

/// A level in its unit: a time per iteration, else a count.
pub fn format_level(unit: SampleUnit, value: f64) -> String {
    match unit {
        SampleUnit::Nanoseconds => format_duration(value),
        SampleUnit::Instructions => {
            format!("{} {unit}", crate::profile::hotspots::format_count(value))
        }
    }
}

/// What the change was, in words: "+12.0% (1.000 µs → 1.120 µs)", and
/// the machine's common shift when one was removed from it.
pub(super) fn change_words(bench: &BenchHistory, change: &ChangePoint) -> String {
    let machine = if change.machine_shift.abs() >= 0.005 {
        format!(
            "; every benchmark moved {} with it, removed",
            format_change(change.machine_shift)
        )
    } else {
        String::new()
    };
    format!(
        "{} ({} → {}{machine})",
        format_change(change.change),
        format_level(bench.unit, change.before),
        format_level(bench.unit, change.after)
    )
}

/// The largest common speed change of the machine, as a sentence, when
/// there was one worth saying.
pub(super) fn machine_words(history: &History) -> Option<String> {
    let (index, speed) = history
        .machine_speed
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.abs().total_cmp(&b.1.abs()))?;
    (speed.abs() >= 0.005).then(|| {
        format!(
            "every benchmark's level moved together between records (the machine's speed: at most {} against the first, at {}); that common shift is removed before level shifts are looked for",
            format_change(*speed),
            crate::error::short_sha(&history.commits[index].sha)
        )
    })
}

/// Where in the history the shift lies, when more than one commit could
/// hold it: " (one of 4 commits since the previous baseline)", or the
/// commit `history --bisect` found among them.
pub(super) fn range_words(
    commit: &crate::report::history::HistoryCommit,
    change: &ChangePoint,
) -> String {
    match &change.culprit {
        Some(_) => format!(
            " (bisected among the {} commits since the previous baseline)",
            commit.commits_since_previous
        ),
        None if commit.commits_since_previous > 1 => format!(
            " (one of {} commits since the previous baseline)",
            commit.commits_since_previous
        ),
        None => String::new(),
    }
}

/// The commit a shift is named at: the bisected culprit where there is
/// one, else the commit its baseline measured. (sha, subject, date, author.)
pub(super) fn named_commit<'a>(
    history: &'a History,
    change: &'a ChangePoint,
) -> (&'a str, &'a str, &'a str, &'a str) {
    match &change.culprit {
        Some(c) => (&c.sha, &c.subject, &c.date, &c.author),
        None => {
            let c = &history.commits[change.index];
            (&c.sha, &c.subject, &c.date, &c.author)
        }
    }
}

pub(super) fn cause_words(change: &ChangePoint) -> &'static str {
    match (change.cause, change.slower()) {
        (ShiftCause::Machine, _) => "the machine changed here",
        (ShiftCause::Input, _) => "the declared input changed here",
        (ShiftCause::Code, true) if change.unresolved => "slower, still in effect",
        (ShiftCause::Code, true) => "slower, since recovered",
        (ShiftCause::Code, false) => "faster",
    }
}

pub(super) fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// A fragment id for a benchmark: its id's bytes in hex (ids hold any text).
pub(super) fn anchor(id: &str) -> String {
    let mut text = String::from("b-");
    for byte in id.bytes() {
        let _ = write!(text, "{byte:02x}");
    }
    text
}
