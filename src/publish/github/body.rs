//! The comment body: the Markdown report, the head it describes, a link to
//! the run, all fitted into GitHub's size limits.

use crate::render::Renderer;
use crate::render::escape::markdown_text;
use crate::render::markdown::Markdown;
use crate::report::Report;

/// GitHub's limit on a comment body (422 "body is too long" beyond it).
pub const COMMENT_LIMIT: usize = 65_536;
/// GitHub's limit on a check run's summary and text.
pub const CHECK_RUN_TEXT_LIMIT: usize = 65_535;

/// The hidden line that says which head commit a comment describes (for
/// people and tools reading the comment; publishing decides on the pull
/// request's current head instead).
pub fn head_line(head_sha: &str) -> String {
    format!("<!-- flamegate-head: {head_sha} -->")
}

/// Where the results were measured, for the footer.
#[derive(Debug, Clone)]
pub struct RunLink {
    pub url: String,
    pub run_id: u64,
    /// Published by a separate `workflow_run` job (fork-safe mode).
    pub from_pull_request_run: bool,
}

/// The sticky comment's body (also the step summary and check-run summary),
/// at most `limit` bytes. The marker stays the first line.
pub fn comment_body(
    report: &Report,
    head_sha: &str,
    run: Option<&RunLink>,
    limit: usize,
) -> String {
    let markdown = String::from_utf8(Markdown.render(report)).expect("Markdown renders UTF-8");
    let (marker, rest) = markdown.split_once('\n').unwrap_or((&markdown, ""));
    let head = format!("{marker}\n{}\n", head_line(head_sha));
    let mut footer = String::from("\n---\n<sub>");
    if let Some(run) = run {
        let whose = if run.from_pull_request_run {
            "the pull request's own workflow run"
        } else {
            "workflow run"
        };
        let files = if report.history_page.is_some() {
            "the full report, flamegraphs and the plots of every baseline (history.html)"
        } else {
            "the full report and flamegraphs"
        };
        footer.push_str(&format!(
            "Measured in {whose} [{}]({}); {files} are in its artifacts. ",
            run.run_id, run.url
        ));
        if run.from_pull_request_run {
            // The artifact is the pull request's own output: its job ran the
            // pull request's code, which could have written anything there.
            footer.push_str(
                "Those files were written by the pull request's own job, which ran its code: \
                 treat them as the pull request's, not as flamegate's. ",
            );
        }
    }
    footer.push_str(&format!(
        "Head `{}`. flamegate {}.</sub>\n",
        crate::error::short_sha(head_sha),
        env!("CARGO_PKG_VERSION")
    ));
    fit(&head, rest, &footer, limit)
}

/// `head + body + tail` in at most `limit` bytes: when too long, the body is
/// cut at a line (or at least a character) boundary and a note says how much
/// is missing and where the rest is. `head` and `tail` are always kept.
pub fn fit(head: &str, body: &str, tail: &str, limit: usize) -> String {
    if head.len() + body.len() + tail.len() <= limit {
        return format!("{head}{body}{tail}");
    }
    let note = |cut: usize, closes: bool| {
        format!(
            "{}\n\n> **Cut here:** {cut} of {} bytes of this report did not fit GitHub's limit of {limit}; \
             the full report is report.md in the run's artifacts.\n",
            if closes { "\n</details>" } else { "" },
            body.len()
        )
    };
    // The longest note: every count at its widest, with a closing tag.
    let reserve = note(body.len(), true).len();
    let budget = limit.saturating_sub(head.len() + tail.len() + reserve);
    let mut cut = budget.min(body.len());
    while !body.is_char_boundary(cut) {
        cut -= 1;
    }
    // A whole line reads better and never splits a code span or a table
    // row; only a pathological line longer than half the budget is split,
    // and its start is kept as plain text: a code span cut open would let
    // the name inside it (`<!--`, say) become markup.
    let line_start = body[..cut].rfind('\n').map_or(0, |newline| newline + 1);
    let kept = if line_start >= cut / 2 {
        cut = line_start;
        body[..cut].to_string()
    } else {
        let line = &body[line_start..cut];
        let room = cut - line_start;
        let boundaries: Vec<usize> = line
            .char_indices()
            .map(|(i, _)| i)
            .chain([line.len()])
            .collect();
        let fits = boundaries.partition_point(|&end| markdown_text(&line[..end]).len() <= room);
        let end = boundaries[fits.saturating_sub(1)];
        cut = line_start + end;
        format!("{}{}", &body[..line_start], markdown_text(&line[..end]))
    };
    let open_details = kept.matches("<details>").count() > kept.matches("</details>").count();
    format!("{head}{kept}{}{tail}", note(body.len() - cut, open_details))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fitting_keeps_the_marker_and_cuts_on_a_character_boundary() {
        let head = "<!-- flamegate:s -->\n";
        let body = "é".repeat(40_000); // 80,000 bytes, no newlines
        let out = fit(head, &body, "\nfooter\n", COMMENT_LIMIT);
        assert!(out.len() <= COMMENT_LIMIT, "{}", out.len());
        assert!(out.starts_with(head));
        assert!(out.ends_with("\nfooter\n"));
        assert!(out.contains("did not fit"));
        // A line cut open is kept as text: no code span left open.
        let line = format!("| `{}<!-- x -->` |", "a".repeat(2000));
        let out = fit(head, &line, "", 1000);
        assert!(out.len() <= 1000, "{}", out.len());
        assert!(out.contains("\\|") && !out.contains("| `"), "{out}");
        let short = fit(head, "x\n", "", COMMENT_LIMIT);
        assert_eq!(short, format!("{head}x\n"));
    }

    #[test]
    fn a_cut_inside_details_closes_it() {
        let body = format!("<details>\n{}", "row\n".repeat(1000));
        let out = fit("", &body, "", 1000);
        assert!(out.len() <= 1000);
        assert!(out.contains("</details>"));
    }
}
