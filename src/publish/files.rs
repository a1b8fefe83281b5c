//! Report files: `report.md` (the PR comment) and `report.json` (the `Report`).

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::record::RunRecord;
use crate::record::write_atomic;
use crate::render::Renderer;
use crate::render::flamegraph::{differential_svg, flamegraph_svg};
use crate::render::json::Json;
use crate::render::markdown::Markdown;
use crate::report::Report;

/// Write `report.md` and `report.json` into `out_dir`; returns their paths.
/// These are build artefacts of the latest check and are replaced each run.
pub fn write_reports(report: &Report, out_dir: &Path) -> Result<Vec<PathBuf>> {
    let markdown = out_dir.join("report.md");
    let json = out_dir.join("report.json");
    write_atomic(&markdown, &Markdown.render(report))?;
    write_atomic(&json, &Json.render(report))?;
    Ok(vec![markdown, json])
}

/// The folder of flamegraphs inside the output directory.
pub const FLAMEGRAPH_DIR: &str = "flamegraphs";

/// Write a flamegraph of each profiled head benchmark and, where the base
/// has a profile too, a differential flamegraph; record their paths
/// (relative to `out_dir`) in the report. Replaces the previous run's folder.
pub fn write_flamegraphs(
    report: &mut Report,
    head: &RunRecord,
    base: &RunRecord,
    out_dir: &Path,
) -> Result<usize> {
    let dir = out_dir.join(FLAMEGRAPH_DIR);
    if dir.exists() {
        std::fs::remove_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    }
    let mut written = 0;
    for comparison in &mut report.comparisons {
        let Some(head_profile) = head.bench(&comparison.id).and_then(|b| b.profile.as_ref()) else {
            continue;
        };
        let stem = comparison.id.file_stem();
        let title = comparison.id.as_str();
        let svg = flamegraph_svg(title, head_profile).map_err(|e| Error::io(&dir, e))?;
        let name = format!("{FLAMEGRAPH_DIR}/{stem}.svg");
        write_atomic(&out_dir.join(&name), &svg)?;
        comparison.flamegraphs.push(name);
        written += 1;
        if let Some(base_profile) = base.bench(&comparison.id).and_then(|b| b.profile.as_ref()) {
            let svg = differential_svg(
                &format!("{title} (base → head)"),
                base_profile,
                head_profile,
            )
            .map_err(|e| Error::io(&dir, e))?;
            let name = format!("{FLAMEGRAPH_DIR}/{stem}.diff.svg");
            write_atomic(&out_dir.join(&name), &svg)?;
            comparison.flamegraphs.push(name);
            written += 1;
        }
    }
    Ok(written)
}
