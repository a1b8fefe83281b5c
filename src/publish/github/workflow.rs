//! Talking to the Actions runner itself: `::error`/`::warning` annotations,
//! `::stop-commands::`, and the job summary file.

use std::io::Write;
use std::path::Path;

use crate::error::{Error, Result};
use crate::render::format_change;
use crate::report::{Comparison, Report, Verdict, WARNING_VERDICTS};

/// The runner shows this many annotations of each level per step.
pub const ANNOTATIONS_SHOWN: usize = 10;
/// The job summary of one step may hold this many bytes.
pub const STEP_SUMMARY_LIMIT: usize = 1024 * 1024;

/// Escape a workflow command's message: no line breaks, so untrusted text
/// can never start a command line of its own.
pub fn escape_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escape a workflow command's property value (`title=...`).
pub fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

/// Which stream a `StopCommands` guards: the runner reads workflow commands
/// on both, and the pause must be on the stream the text goes to, or the
/// two pipes' interleaving decides whether it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// While a `StopCommands` is alive, the runner ignores workflow commands on
/// its stream: benchmark output and names printed meanwhile cannot issue any.
pub struct StopCommands {
    token: String,
    stream: Stream,
}

impl StopCommands {
    /// Print `::stop-commands::<random token>` on stdout.
    pub fn begin() -> StopCommands {
        StopCommands::begin_on(Stream::Stdout)
    }

    /// Print `::stop-commands::<random token>` on `stream`.
    pub fn begin_on(stream: Stream) -> StopCommands {
        let mut bytes = [0u8; 16];
        // Without randomness a fixed token would be guessable; fall back to
        // time and pid, still unknown to a benchmark name written in advance.
        if getrandom::fill(&mut bytes).is_err() {
            let seed = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
                ^ u128::from(std::process::id());
            bytes = seed.to_le_bytes();
        }
        let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let guard = StopCommands { token, stream };
        guard.line(&format!("::stop-commands::{}", guard.token));
        guard
    }

    fn line(&self, text: &str) {
        match self.stream {
            Stream::Stdout => println!("{text}"),
            Stream::Stderr => eprintln!("{text}"),
        }
    }
}

impl Drop for StopCommands {
    fn drop(&mut self) {
        self.line(&format!("::{}::", self.token));
    }
}

/// Print `text` (which may hold untrusted words: names from a report, a
/// parser's quote of a forged artifact) on stderr. Inside GitHub Actions it
/// is wrapped in `::stop-commands::`, so no line of it is a workflow command
/// (`::add-mask::`, `::error`, the legacy `##[…]`) in the job that reads it.
pub fn eprint_inert(in_actions: bool, text: &str) {
    let _guard = in_actions.then(|| StopCommands::begin_on(Stream::Stderr));
    eprintln!("{text}");
}

fn annotation(level: &str, c: &Comparison) -> String {
    let change = c
        .change
        .as_ref()
        .map(|ch| {
            format!(
                "{} (interval {} … {})",
                format_change(ch.estimate),
                format_change(ch.ci_low),
                format_change(ch.ci_high)
            )
        })
        .unwrap_or_default();
    let mut message = format!("{} {} {change}", c.id, c.verdict.label());
    if let Some(accepted) = &c.accepted {
        message.push_str(&format!("\n{}", crate::render::accepted_text(accepted)));
    }
    if let Some(h) = &c.hotspots {
        message.push_str(&format!("\n{}", h.summary));
    }
    if let Some(check) = c.allocations.as_ref().filter(|check| check.changed()) {
        message.push_str(&format!("\n{}", check.text()));
    }
    format!(
        "::{level} title={}::{}",
        escape_property(&format!("flamegate: {} {}", c.id, c.verdict.label())),
        escape_data(&message)
    )
}

/// Annotation lines: regressions as errors, worst first; the warning
/// verdicts (likely slower) as warnings; each level capped at what the runner shows, with a last
/// line saying how many more there are.
pub fn annotations(report: &Report) -> Vec<String> {
    let mut lines = Vec::new();
    for (verdict, level) in [
        (Verdict::Regressed, "error"),
        (Verdict::MoreAllocations, "error"),
        (Verdict::MoreMemory, "error"),
    ]
    .into_iter()
    .chain(WARNING_VERDICTS.map(|v| (v, "warning")))
    {
        let mut rows: Vec<&Comparison> = report.with(verdict).collect();
        rows.sort_by(|a, b| {
            let size = |c: &Comparison| c.change.as_ref().map_or(0.0, |ch| ch.estimate.abs());
            size(b).total_cmp(&size(a))
        });
        let shown = if rows.len() > ANNOTATIONS_SHOWN {
            ANNOTATIONS_SHOWN - 1
        } else {
            rows.len()
        };
        lines.extend(rows[..shown].iter().map(|c| annotation(level, c)));
        if rows.len() > shown {
            lines.push(format!(
                "::{level} title=flamegate::{} more {} benchmarks; see the job summary",
                rows.len() - shown,
                verdict.label()
            ));
        }
    }
    lines
}

/// Append the report to the job summary file, within what is left of its
/// 1 MiB budget: `render(room)` gives the text in at most `room` bytes.
/// Returns the bytes written (0 when there was no room).
pub fn append_step_summary(path: &Path, render: impl FnOnce(usize) -> String) -> Result<usize> {
    let used = std::fs::metadata(path).map_or(0, |m| m.len() as usize);
    let room = STEP_SUMMARY_LIMIT.saturating_sub(used);
    // Below a few hundred bytes not even the verdict fits with its note.
    if room < 512 {
        return Ok(0);
    }
    let text = render(room);
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| Error::io(path, e))?;
    file.write_all(text.as_bytes())
        .map_err(|e| Error::io(path, e))?;
    Ok(text.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn untrusted_text_cannot_start_a_command() {
        let line = escape_data("x\n::add-mask::secret\r\n%0A");
        assert!(!line.contains('\n') && !line.contains('\r'));
        assert_eq!(line, "x%0A::add-mask::secret%0D%0A%250A");
        assert_eq!(escape_property("a:b,c"), "a%3Ab%2Cc");
    }

    #[test]
    fn the_summary_respects_what_is_already_there() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("summary.md");
        std::fs::write(&path, vec![b'x'; STEP_SUMMARY_LIMIT - 2000]).unwrap();
        let written = append_step_summary(&path, |room| {
            super::super::body::fit("# head\n", &"row\n".repeat(10_000), "\n", room)
        })
        .unwrap();
        assert!(written > 0);
        assert!(std::fs::metadata(&path).unwrap().len() as usize <= STEP_SUMMARY_LIMIT);
        std::fs::write(&path, vec![b'x'; STEP_SUMMARY_LIMIT - 10]).unwrap();
        assert_eq!(
            append_step_summary(&path, |_| unreachable!("no room")).unwrap(),
            0
        );
    }
}
