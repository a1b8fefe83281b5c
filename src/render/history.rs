//! Render a `History`: one self-contained HTML file (SVG plots drawn here,
//! no script or style from elsewhere), CSV, JSON, the terminal's list of
//! level shifts, and the Unicode sparkline the pull-request comment uses.
//!
//! Benchmark ids, commit subjects and author names are untrusted: every
//! one goes through `html_text` (HTML), the csv writer's quoting (CSV) or
//! `terminal_text` (terminal). The page's policy forbids loading anything.

use std::fmt::Write as _;

use crate::render::escape::{html_text, terminal_text};
use crate::report::history::{BenchHistory, ChangePoint, History};

use super::history_section::{
    anchor, bench_section, cause_words, change_words, machine_words, named_commit, plural,
    range_words,
};

/// Eight-level Unicode bars of `values` from their minimum up; `None` is a
/// gap (a space). The bars span at least 10% of the maximum, so run-to-run
/// noise of a percent or two stays on the lowest bars instead of filling
/// the line.
pub fn sparkline(values: &[Option<f64>]) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let present = values.iter().flatten().copied();
    let (low, high) = present.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    let span = (high - low).max(high.abs() * 0.1).max(f64::MIN_POSITIVE);
    values
        .iter()
        .map(|v| match v {
            None => ' ',
            Some(v) => BARS[(((v - low) / span * 7.0).round() as usize).min(7)],
        })
        .collect()
}

/// The level shifts, one a line, for a terminal (and `baseline update`).
pub fn changes_text(history: &History) -> String {
    let mut out = String::new();
    let total: usize = history.benches.iter().map(|b| b.changes.len()).sum();
    let _ = writeln!(
        out,
        "{} on {}: {} version{} of the baseline, {} benchmark{}, {} level shift{} of {} or more",
        terminal_text(&history.suite),
        terminal_text(&history.branch),
        history.commits.len(),
        plural(history.commits.len()),
        history.benches.len(),
        plural(history.benches.len()),
        total,
        plural(total),
        crate::render::format_percent(history.min_change),
    );
    for bench in &history.benches {
        for change in &bench.changes {
            let commit = &history.commits[change.index];
            let (sha, subject, date, author) = named_commit(history, change);
            let _ = writeln!(
                out,
                "  {}  {}  at {} \"{}\" ({}, {}){}: {}",
                terminal_text(&bench.id),
                change_words(bench, change),
                crate::error::short_sha(sha),
                terminal_text(subject),
                date.get(..10).unwrap_or(date),
                terminal_text(author),
                range_words(commit, change),
                cause_words(change),
            );
        }
    }
    let notes = history.notes.iter().map(ToString::to_string);
    for note in machine_words(history).into_iter().chain(notes) {
        let _ = writeln!(out, "  note: {}", terminal_text(&note));
    }
    out
}

/// One row per benchmark and commit it was measured at.
pub fn csv(history: &History) -> Vec<u8> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let header = [
        "commit",
        "date",
        "author",
        "subject",
        "benchmark",
        "unit",
        "median",
        "low",
        "high",
        "input",
        "machine_changed",
        "level_shift",
    ];
    // Writing into a Vec cannot fail.
    let _ = writer.write_record(header);
    for bench in &history.benches {
        for (i, point) in bench.points.iter().enumerate() {
            let Some(point) = point else { continue };
            let commit = &history.commits[i];
            let shift = bench
                .changes
                .iter()
                .find(|c| c.index == i)
                .map(|c| format!("{:.6}", c.change))
                .unwrap_or_default();
            let _ = writer.write_record([
                commit.sha.as_str(),
                &commit.date,
                &commit.author,
                &commit.subject,
                &bench.id,
                bench.unit.as_str(),
                &point.median.to_string(),
                &point.low.to_string(),
                &point.high.to_string(),
                &point.input.map(|i| i.to_string()).unwrap_or_default(),
                if commit.machine_changed {
                    "true"
                } else {
                    "false"
                },
                &shift,
            ]);
        }
    }
    writer.into_inner().unwrap_or_default()
}

/// The versioned `History` as JSON.
pub fn json(history: &History) -> Vec<u8> {
    let mut bytes = serde_json::to_vec_pretty(history).unwrap_or_default();
    bytes.push(b'\n');
    bytes
}

const STYLE: &str = "
body{font:14px/1.4 system-ui,sans-serif;margin:0 auto;max-width:980px;padding:16px;color:#1f2328}
h1{font-size:20px;margin:0 0 4px}
header p{margin:2px 0;color:#59636e}
.controls{position:sticky;top:0;background:#fff;padding:8px 0;display:flex;gap:16px;align-items:center;border-bottom:1px solid #d1d9e0}
.controls input[type=search]{flex:1;padding:6px;font-size:14px}
table{border-collapse:collapse;margin:8px 0}
td,th{padding:2px 8px;text-align:left;border-bottom:1px solid #eee;vertical-align:top}
section.bench{content-visibility:auto;contain-intrinsic-size:auto 230px;border-bottom:1px solid #eee;padding:6px 0}
section.bench h2{font-size:15px;margin:4px 0;font-family:ui-monospace,monospace;word-break:break-all}
section.bench p{margin:0;color:#59636e}
svg.plot{width:100%;height:auto;max-width:640px;display:block}
.band{fill:#0969da;fill-opacity:.15;stroke:none}
.median{fill:none;stroke:#0969da;stroke-width:1.5}
.axis{stroke:#8c959f;stroke-width:1}
.label{font-size:10px;fill:#59636e}
.machine{stroke:#8250df;stroke-dasharray:2 3}
.slower{stroke:#cf222e;stroke-width:1.5;stroke-dasharray:5 3}
.faster{stroke:#1a7f37;stroke-width:1.5;stroke-dasharray:5 3}
.head{fill:#bc4c00}
.cursor{stroke:#59636e;stroke-width:1;display:none}
#tip{position:fixed;pointer-events:none;background:#fff;border:1px solid #d1d9e0;padding:6px 8px;font-size:12px;max-width:420px;display:none;box-shadow:0 2px 6px #0002}
.hidden{display:none}
";

/// The page's script: the search box, the "changes only" switch and the
/// hover text. It reads the commits from one JSON block and each plot's
/// medians from its `data-m`; it sets `data-plots` on <body> when wired
/// (and `data-errors` on any error), which the browser test reads.
const SCRIPT: &str = r#"
(function(){
  window.addEventListener('error', function(e){
    document.body.dataset.errors = (document.body.dataset.errors || '') + e.message + '\n';
  });
  var commits = JSON.parse(document.getElementById('commits').textContent);
  var sections = Array.prototype.slice.call(document.querySelectorAll('section.bench'));
  var search = document.getElementById('search');
  var onlyChanges = document.getElementById('only-changes');
  var shown = document.getElementById('shown');
  function apply(){
    var words = search.value.toLowerCase().split(/\s+/).filter(Boolean);
    var count = 0;
    sections.forEach(function(s){
      var id = s.dataset.id;
      var visible = words.every(function(w){ return id.indexOf(w) >= 0; })
        && (!onlyChanges.checked || s.dataset.changes !== '0');
      s.classList.toggle('hidden', !visible);
      if (visible) count++;
    });
    shown.textContent = count + ' of ' + sections.length + ' shown';
  }
  search.addEventListener('input', apply);
  onlyChanges.addEventListener('change', apply);
  var tip = document.getElementById('tip');
  sections.forEach(function(s){
    var svg = s.querySelector('svg.plot');
    var medians = s.dataset.m.split(',');
    var cursor = svg.querySelector('.cursor');
    var n = commits.length;
    var left = +svg.dataset.left, right = +svg.dataset.right;
    svg.addEventListener('mousemove', function(e){
      var box = svg.getBoundingClientRect();
      var x = (e.clientX - box.left) / box.width * svg.viewBox.baseVal.width;
      var i = n < 2 ? 0 : Math.round((x - left) / (right - left) * (n - 1));
      i = Math.max(0, Math.min(n - 1, i));
      var c = commits[i];
      var px = n < 2 ? left : left + (right - left) * i / (n - 1);
      cursor.setAttribute('x1', px); cursor.setAttribute('x2', px);
      cursor.style.display = 'inline';
      tip.textContent = '';
      [c.sha.slice(0, 10) + '  ' + c.date.slice(0, 10) + '  ' + c.author,
       c.subject,
       medians[i] ? 'median ' + medians[i] : 'not measured at this commit',
       c.machine_changed ? 'machine changed: ' + c.machine : ''
      ].forEach(function(line){
        if (!line) return;
        var div = document.createElement('div'); div.textContent = line; tip.appendChild(div);
      });
      tip.style.display = 'block';
      tip.style.left = Math.min(e.clientX + 12, window.innerWidth - 430) + 'px';
      tip.style.top = (e.clientY + 12) + 'px';
    });
    svg.addEventListener('mouseleave', function(){ tip.style.display = 'none'; cursor.style.display = 'none'; });
  });
  apply();
  document.body.dataset.plots = String(sections.length);
})();
"#;

/// The self-contained HTML report.
pub fn html(history: &History) -> Vec<u8> {
    let mut out = String::with_capacity(4096 + history.benches.len() * 6144);
    let suite = html_text(&history.suite);
    let branch = html_text(&history.branch);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"{}\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>flamegate history: {suite} on {branch}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        content_security_policy()
    );
    let total: usize = history.benches.iter().map(|b| b.changes.len()).sum();
    let first = history.commits.first();
    let last = history.commits.last();
    let span = match (first, last) {
        (Some(a), Some(b)) => format!(
            "{} ({}) to {} ({})",
            html_text(crate::error::short_sha(&a.sha)),
            html_text(a.date.get(..10).unwrap_or(&a.date)),
            html_text(crate::error::short_sha(&b.sha)),
            html_text(b.date.get(..10).unwrap_or(&b.date)),
        ),
        _ => String::new(),
    };
    let _ = write!(
        out,
        "<header>\n<h1>flamegate history: {suite} on {branch}</h1>\n\
         <p>{} versions of the baseline, {span}; {} benchmarks; {} level shift{} of {} or more.</p>\n\
         <p>Each plot: the median of each committed baseline (line) and its 95% interval (band); \
         dashed red lines mark slowdowns, green speed-ups, purple a change of machine.</p>\n",
        history.commits.len(),
        history.benches.len(),
        total,
        plural(total),
        html_text(&crate::render::format_percent(history.min_change)),
    );
    if let Some(head) = &history.head {
        let _ = writeln!(
            out,
            "<p>The orange point is the pull request's {}.</p>",
            html_text(&head.label)
        );
    }
    let notes = history.notes.iter().map(ToString::to_string);
    for note in machine_words(history).into_iter().chain(notes) {
        let _ = writeln!(out, "<p class=\"note\">Note: {}</p>", html_text(&note));
    }
    out.push_str("</header>\n");
    changes_table(&mut out, history);
    let _ = writeln!(
        out,
        "<div class=\"controls\"><input id=\"search\" type=\"search\" placeholder=\"Filter benchmarks (words in the id)\" aria-label=\"Filter benchmarks\">\
         <label><input id=\"only-changes\" type=\"checkbox\"> only with level shifts</label><span id=\"shown\"></span></div>"
    );
    for bench in &history.benches {
        bench_section(&mut out, history, bench);
    }
    out.push_str("<div id=\"tip\" role=\"tooltip\"></div>\n");
    out.push_str("<script type=\"application/json\" id=\"commits\">");
    out.push_str(&commits_json(history));
    out.push_str("</script>\n<script>");
    out.push_str(SCRIPT);
    out.push_str("</script>\n</body>\n</html>\n");
    out.into_bytes()
}

/// Nothing but the page's own style and script may apply or run (by their
/// SHA-256), nothing is loaded, and no `<base>` can redirect links: a name
/// that escaped its escaping still could not execute.
fn content_security_policy() -> String {
    use base64::Engine;
    use sha2::Digest;
    let hash = |code: &str| {
        base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(code.as_bytes()))
    };
    format!(
        "default-src 'none'; style-src 'sha256-{}'; script-src 'sha256-{}'; base-uri 'none'; form-action 'none'",
        hash(STYLE),
        hash(SCRIPT)
    )
}

/// The commits as JSON safe inside a <script> element: `<`, `>` and `&`
/// as JSON escapes, so no text can close the element.
fn commits_json(history: &History) -> String {
    let text = serde_json::to_string(&history.commits).unwrap_or_else(|_| "[]".into());
    text.replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

fn changes_table(out: &mut String, history: &History) {
    let rows: Vec<(&BenchHistory, &ChangePoint)> = history
        .benches
        .iter()
        .flat_map(|b| b.changes.iter().map(move |c| (b, c)))
        .collect();
    if rows.is_empty() {
        out.push_str("<p>No level shifts.</p>\n");
        return;
    }
    out.push_str(
        "<table class=\"changes\">\n<tr><th>Benchmark</th><th>Change</th><th>Commit</th><th>Subject</th><th></th></tr>\n",
    );
    for (bench, change) in rows {
        let (sha, subject, date, _) = named_commit(history, change);
        let _ = writeln!(
            out,
            "<tr><td><a href=\"#{}\">{}</a></td><td>{}</td><td><code>{}</code> {}</td><td>{}</td><td>{}</td></tr>",
            anchor(&bench.id),
            html_text(&bench.id),
            html_text(&change_words(bench, change)),
            html_text(crate::error::short_sha(sha)),
            html_text(date.get(..10).unwrap_or(date)),
            html_text(subject),
            cause_words(change),
        );
    }
    out.push_str("</table>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparklines_scale_between_the_extremes() {
        assert_eq!(sparkline(&[Some(1.0), Some(2.0), None, Some(8.0)]), "▁▂ █");
        assert_eq!(sparkline(&[Some(5.0), Some(5.0)]), "▁▁");
        // ±1% noise stays low; a 30% step reaches the top.
        assert_eq!(sparkline(&[Some(100.0), Some(101.0), Some(99.0)]), "▂▂▁");
        assert_eq!(sparkline(&[Some(100.0), Some(101.0), Some(130.0)]), "▁▁█");
        assert_eq!(sparkline(&[]), "");
    }
}
